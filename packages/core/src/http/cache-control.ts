/** Cache-Control (RFC 9111 §5.2): parsing the directives that decide storage, and formatting ours. */

/** Directive names, lower case, with their argument when they have one (`max-age` -> `'0'`). */
export type CacheDirectives = ReadonlyMap<string, string | true>;

const EMPTY: CacheDirectives = new Map();

/** Parses a Cache-Control value leniently: unknown or malformed directives are kept or skipped, never thrown. */
export function parseCacheControl(value: string | readonly string[] | undefined): CacheDirectives {
  if (value === undefined) return EMPTY;
  const text = typeof value === 'string' ? value : value.join(',');
  if (text.length === 0) return EMPTY;
  const directives = new Map<string, string | true>();
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    if (name.length === 0) continue;
    const argument =
      eq === -1
        ? true
        : part
            .slice(eq + 1)
            .trim()
            .replace(/^"|"$/g, '');
    directives.set(name, argument);
  }
  return directives;
}

export interface CacheControlParts {
  visibility: 'public' | 'private';
  maxAgeS: number;
  sMaxAgeS: number | undefined;
  staleWhileRevalidateS: number | undefined;
  mustRevalidate: boolean;
}

export function formatCacheControl(parts: CacheControlParts): string {
  let out = `${parts.visibility}, max-age=${parts.maxAgeS}`;
  if (parts.sMaxAgeS !== undefined && parts.visibility === 'public') out += `, s-maxage=${parts.sMaxAgeS}`;
  if (parts.staleWhileRevalidateS !== undefined)
    out += `, stale-while-revalidate=${parts.staleWhileRevalidateS}`;
  if (parts.mustRevalidate) out += ', must-revalidate';
  return out;
}

/** A configured value made safe for one user's entry: `public` becomes `private`, `s-maxage` goes. */
export function privatise(value: string): string {
  const kept = value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0 && !/^(public|private|s-maxage\b)/i.test(part));
  return ['private', ...kept].join(', ');
}
