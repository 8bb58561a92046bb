import type { Redis } from 'ioredis';
import { createCache } from '../cache.js';
import { KeySchema } from '../keys.js';

export interface CommandContext {
  redis: Redis;
  prefix: string;
  /** inspect: the most keys a sample holds. */
  sample: number;
  json: boolean;
}

/**
 * inspect walks at most this many SCAN pages of `SCAN_PAGE` keys each, whatever the size of the
 * keyspace: it is a look at a live production Redis, so its cost must not grow with the data.
 */
export const MAX_SCAN_ITERATIONS = 50;
export const SCAN_PAGE = 1000;

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

async function readVersions(context: CommandContext, namespaces: readonly string[]) {
  const keys = new KeySchema(context.prefix);
  const pipeline = context.redis.pipeline();
  for (const ns of namespaces) pipeline.get(keys.versionKey(ns));
  const replies = (await pipeline.exec()) ?? [];
  return namespaces.map((namespace, i) => {
    const [error, value] = replies[i] ?? [new Error('no reply'), null];
    if (error) throw error;
    return { namespace, version: typeof value === 'string' ? value : null };
  });
}

/** Read-only: a missing version is reported as null, not created (the library creates it on first use). */
export async function versions(context: CommandContext, namespaces: readonly string[]): Promise<string> {
  const found = await readVersions(context, namespaces);
  if (context.json) return json({ prefix: context.prefix, versions: found });
  return found
    .map(
      ({ namespace, version }) =>
        `${namespace}\t${version ?? '(none: created at a random value on first use)'}`,
    )
    .join('\n')
    .concat('\n');
}

/**
 * The library's own invalidation (one atomic bump per namespace), through a cache on the same
 * connection, so that the CLI can never disagree with the application about what a bump is.
 */
export async function invalidate(context: CommandContext, namespaces: readonly string[]): Promise<string> {
  const before = await readVersions(context, namespaces);
  const cache = createCache({
    redis: context.redis,
    prefix: context.prefix,
    timeout: '5s',
    onError: () => {},
  });
  try {
    await cache.invalidate(namespaces);
  } finally {
    await cache.close();
  }
  const after = await readVersions(context, namespaces);
  const result = namespaces.map((namespace, i) => ({
    namespace,
    before: before[i]!.version,
    after: after[i]!.version,
  }));
  if (context.json) return json({ prefix: context.prefix, invalidated: result });
  return result
    .map(({ namespace, before: from, after: to }) => `${namespace}\t${from ?? '(none)'} -> ${to}`)
    .join('\n')
    .concat('\n');
}

/** Escapes Redis glob metacharacters, so that a namespace or prefix matches only itself. */
function globEscape(text: string): string {
  return text.replace(/[*?[\]\\^-]/g, '\\$&');
}

interface SampledKey {
  key: string;
  /** The key after `<prefix>:{<ns>}:<version>`: `:<entry key>`, or `,<ns>=<v>…:<entry key>` for an entry of several namespaces. */
  entry: string;
  lease: boolean;
  ttlMs: number;
  bytes: number;
}

export async function inspect(context: CommandContext, [namespace]: readonly string[]): Promise<string> {
  const started = performance.now();
  const version = (await readVersions(context, [namespace!]))[0]!.version;
  const generation =
    version === null
      ? null
      : `${new KeySchema(context.prefix).versionKey(namespace!).slice(0, -'version'.length)}${version}`;
  let sample: SampledKey[] = [];
  let iterations = 0;
  let exhausted = version === null;
  if (generation !== null) {
    // `:` for an entry of this namespace alone, `,` for one of several namespaces led by this one.
    const match = `${globEscape(generation)}[:,]*`;
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await context.redis.scan(cursor, 'MATCH', match, 'COUNT', SCAN_PAGE);
      iterations++;
      cursor = next;
      for (const key of keys) if (found.length < context.sample) found.push(key);
    } while (cursor !== '0' && found.length < context.sample && iterations < MAX_SCAN_ITERATIONS);
    exhausted = cursor === '0';
    sample = await describe(context.redis, found, generation.length);
  }
  const scan = { iterations, maxIterations: MAX_SCAN_ITERATIONS, pageSize: SCAN_PAGE, exhausted };
  // The Redis work alone, without the process start-up: what the bounds above keep small.
  const elapsedMs = Math.round((performance.now() - started) * 10) / 10;
  if (context.json) {
    return json({
      prefix: context.prefix,
      namespace,
      version,
      elapsedMs,
      sample: { isSample: true, limit: context.sample, scan, keys: sample },
    });
  }
  const lines = [
    `namespace\t${namespace}`,
    `version\t${version ?? '(none: no entry of this namespace is readable)'}`,
  ];
  lines.push(
    `sample\t${sample.length} key(s) of the current version, at most ${context.sample}: a sample, not a count ` +
      `(SCAN ${exhausted ? 'covered the keyspace' : 'stopped'} after ${iterations} of at most ${MAX_SCAN_ITERATIONS} pages)`,
  );
  if (sample.length > 0) lines.push('ttl_ms\tbytes\tkind\tkey');
  for (const s of sample) lines.push(`${s.ttlMs}\t${s.bytes}\t${s.lease ? 'lease' : 'entry'}\t${s.key}`);
  return `${lines.join('\n')}\n`;
}

async function describe(
  redis: Redis,
  keys: readonly string[],
  generationLength: number,
): Promise<SampledKey[]> {
  if (keys.length === 0) return [];
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.pttl(key).strlen(key);
  const replies = (await pipeline.exec()) ?? [];
  return keys.map((key, i) => {
    const [ttlError, ttl] = replies[2 * i] ?? [null, -2];
    const [lenError, bytes] = replies[2 * i + 1] ?? [null, 0];
    if (ttlError) throw ttlError;
    if (lenError) throw lenError;
    return {
      key,
      entry: key.slice(generationLength),
      lease: key.endsWith(':lock'),
      ttlMs: Number(ttl),
      bytes: Number(bytes),
    };
  });
}
