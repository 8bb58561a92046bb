/**
 * The entry key of a request: host, path and sorted query (or the route's own key), the values of the
 * headers the route varies on, and the user scope. Built as a JSON array so that no part can forge
 * another's boundary; the core hashes keys that are long.
 */

/** Query pairs ordered by name, so `?b=1&a=2` and `?a=2&b=1` share an entry; repeated names keep their order. */
export function sortedQuery(query: string): string {
  if (query.length === 0) return '';
  const pairs = query.split('&').filter((pair) => pair.length > 0);
  if (pairs.length < 2) return pairs.join('&');
  const named = pairs.map((pair) => {
    const eq = pair.indexOf('=');
    return { name: eq === -1 ? pair : pair.slice(0, eq), pair };
  });
  named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return named.map((entry) => entry.pair).join('&');
}

/** `path?sortedQuery`, from a request target; the path is kept raw (not decoded), so odd bytes cannot collide. */
export function normalisedTarget(url: string): string {
  const q = url.indexOf('?');
  if (q === -1) return url;
  const query = sortedQuery(url.slice(q + 1).split('#', 1)[0]!);
  return query.length > 0 ? `${url.slice(0, q)}?${query}` : url.slice(0, q);
}

/** The key part of a request without a route `key` function: host (port included) and `normalisedTarget`. */
export function targetKey(
  headers: Readonly<Record<string, string | readonly string[] | undefined>>,
  url: string,
): string {
  return `u:${headerValue(headers.host) ?? ''} ${normalisedTarget(url)}`;
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
