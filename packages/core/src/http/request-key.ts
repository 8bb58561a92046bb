import { DEFAULT_QUERY, normaliseQuery, normaliseTarget, type ResolvedQuery } from './query-normalise.js';

/**
 * The entry key of a request: host, path and sorted query (or the route's own key), the values of the
 * headers the route varies on, and the user scope. Built as a JSON array so that no part can forge
 * another's boundary; the core hashes keys that are long.
 */

/** Query pairs ordered by name, so `?b=1&a=2` and `?a=2&b=1` share an entry; repeated names keep their order. */
export function sortedQuery(query: string): string {
  return normaliseQuery(query);
}

/** `path?sortedQuery`, from a request target; the path is kept raw (not decoded), so odd bytes cannot collide. */
export function normalisedTarget(url: string): string {
  return normaliseTarget(url);
}

/** The key part of a request without a route `key` function: host (port included) and `normalisedTarget`. */
export function targetKey(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  url: string,
  query: ResolvedQuery = DEFAULT_QUERY,
): string {
  return `u:${headerValue(headers.host) ?? ''} ${normaliseTarget(url, query)}`;
}

/** The path of a request target without its query. */
export function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function headerValue(value: string | readonly string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  return value.join(', ');
}

export function buildEntryKey(
  base: string,
  vary: readonly string[],
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  user: string | undefined,
): string {
  const parts: (string | null)[] = [base];
  for (const name of vary) parts.push(headerValue(headers[name]) ?? null);
  if (user !== undefined) parts.push(`user:${user}`);
  return JSON.stringify(parts);
}
