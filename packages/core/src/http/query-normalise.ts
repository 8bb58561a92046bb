/**
 * The query part of an entry key: parameters sorted by name (so `?b=1&a=2` and `?a=2&b=1` share an
 * entry) and, with an allowlist, only the parameters the response depends on, so that tracking
 * parameters or random ones cannot each create an entry.
 */

export interface QueryOptions {
  /**
   * Order the parameters by name in the key; repeated names keep their order.
   * @default true
   */
  sort?: boolean;
  /**
   * Only these parameter names (compared after percent-decoding, case-sensitive) are part of the
   * key; the others are left out of it, so their values share one entry. The handler still sees
   * the full URL.
   * @default undefined (every parameter is part of the key)
   */
  allow?: readonly string[];
}

export interface ResolvedQuery {
  sort: boolean;
  allow: ReadonlySet<string> | undefined;
}

export const DEFAULT_QUERY: ResolvedQuery = Object.freeze({ sort: true, allow: undefined });

/** The decoded name of a `name=value` pair; the raw name when it is not valid percent-encoding. */
function decodedName(pair: string): string {
  const eq = pair.indexOf('=');
  const raw = (eq === -1 ? pair : pair.slice(0, eq)).replace(/\+/g, ' ');
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** A query string (without `?`) normalised for the key: empty pairs dropped, filtered, sorted. */
export function normaliseQuery(query: string, options: ResolvedQuery = DEFAULT_QUERY): string {
  if (query.length === 0) return '';
  const pairs = query.split('&').filter((pair) => pair.length > 0);
  if (!options.sort && options.allow === undefined) return pairs.join('&');
  let named = pairs.map((pair) => ({ name: decodedName(pair), pair }));
  if (options.allow !== undefined) named = named.filter((entry) => options.allow!.has(entry.name));
  // A stable sort on the raw pair's name keeps `?a=1&a=2` and `?a=2&a=1` apart.
  if (options.sort) named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return named.map((entry) => entry.pair).join('&');
}

/** `path?query` of a request target, the query normalised and any fragment dropped; the path is kept raw. */
export function normaliseTarget(url: string, options: ResolvedQuery = DEFAULT_QUERY): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const query = normaliseQuery(url.slice(q + 1).split('#', 1)[0]!, options);
  return query.length > 0 ? `${url.slice(0, q)}?${query}` : url.slice(0, q);
}
