import { describe, expect, it } from 'vitest';
import { appendVary } from '../src/http/headers.js';
import { privacyHeaders, sharedCacheable } from '../src/http/privacy.js';

describe('privacy of per-user responses', () => {
  const perUser = { perUserEntry: true, perUserRoute: true, vary: undefined };

  it('rewrites public and s-maxage of a per-user entry to private, keeping other directives', () => {
    expect(privacyHeaders({ ...perUser, cacheControl: 'public, max-age=60' })).toEqual({
      cacheControl: 'private, max-age=60',
      vary: 'authorization, cookie',
      rewritten: true,
    });
    expect(
      privacyHeaders({ ...perUser, cacheControl: 'max-age=60, s-maxage=600, must-revalidate' }).cacheControl,
    ).toBe('private, max-age=60, must-revalidate');
    expect(privacyHeaders({ ...perUser, cacheControl: 'PUBLIC, Max-Age=5' }).cacheControl).toBe(
      'private, Max-Age=5',
    );
  });

  it('makes a per-user entry without Cache-Control private, and leaves private or no-store alone', () => {
    expect(privacyHeaders({ ...perUser, cacheControl: undefined })).toMatchObject({
      cacheControl: 'private',
      rewritten: true,
    });
    for (const value of ['private, max-age=0, must-revalidate', 'no-store', 'private'])
      expect(privacyHeaders({ ...perUser, cacheControl: value }), value).toMatchObject({
        cacheControl: value,
        rewritten: false,
      });
  });

  it('keeps the anonymous response of a per-user route public but adds the credential headers to Vary', () => {
    expect(
      privacyHeaders({
        perUserEntry: false,
        perUserRoute: true,
        cacheControl: 'public, max-age=60',
        vary: 'Accept-Language',
      }),
    ).toEqual({
      cacheControl: 'public, max-age=60',
      vary: 'accept-language, authorization, cookie',
      rewritten: false,
    });
  });

  it('changes nothing for a route that does not vary by user', () => {
    const input = {
      perUserEntry: false,
      perUserRoute: false,
      cacheControl: 'public, max-age=60',
      vary: 'accept',
    };
    expect(privacyHeaders(input)).toEqual({
      cacheControl: 'public, max-age=60',
      vary: 'accept',
      rewritten: false,
    });
  });

  it('knows which Cache-Control a shared cache may store', () => {
    expect(sharedCacheable(undefined)).toBe(true);
    expect(sharedCacheable('max-age=5')).toBe(true);
    expect(sharedCacheable('private, s-maxage=5')).toBe(true);
    expect(sharedCacheable('private')).toBe(false);
    expect(sharedCacheable('public, no-store')).toBe(false);
  });
});

describe('appendVary', () => {
  it('adds names once, case-insensitively, and leaves * alone', () => {
    expect(appendVary(undefined, ['Cookie'])).toBe('cookie');
    expect(appendVary('Accept-Encoding, cookie', ['cookie', 'authorization'])).toBe(
      'accept-encoding, cookie, authorization',
    );
    expect(appendVary(['accept', 'origin'], ['accept'])).toBe('accept, origin');
    expect(appendVary('*', ['cookie'])).toBe('*');
  });
});
