import { describe, expect, it } from 'vitest';
import { KeySchema, MAX_RAW_ENTRY_KEY_LENGTH, normaliseNamespaces } from '../src/keys.js';

describe('key schema', () => {
  const keys = new KeySchema('vc');

  it('lays out version and entry keys under the namespace hash tag', () => {
    expect(keys.versionKey('reports')).toBe('vc:{reports}:version');
    expect(keys.entryKey(['reports'], ['4294967296'], 'GET /api/summary')).toBe(
      'vc:{reports}:4294967296:GET /api/summary',
    );
    expect(keys.leaseKey('vc:{reports}:7:k')).toBe('vc:{reports}:7:k:lock');
  });

  it('puts a multi-namespace entry in its first namespace’s slot and embeds every version', () => {
    expect(keys.entryKey(['a', 'b', 'c'], ['1', '2', '3'], 'k')).toBe('vc:{a}:1,b=2,c=3:k');
  });

  it('hashes long entry keys to a bounded length, distinctly', () => {
    const long = 'x'.repeat(MAX_RAW_ENTRY_KEY_LENGTH + 1);
    const a = keys.entryKey(['ns'], ['1'], long);
    const b = keys.entryKey(['ns'], ['1'], `${long}y`);
    expect(a).toMatch(/^vc:\{ns\}:1:#[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(keys.entryKey(['ns'], ['1'], 'x'.repeat(MAX_RAW_ENTRY_KEY_LENGTH))).toContain('x'.repeat(256));
  });

  it('normalises namespace lists: sorted and de-duplicated, so order never splits an entry', () => {
    expect(normaliseNamespaces(['b', 'a', 'b'])).toEqual(['a', 'b']);
    expect(normaliseNamespaces('only')).toEqual(['only']);
  });
});
