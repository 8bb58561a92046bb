#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { isVersionedCacheError } from '../errors.js';
import { assertNamespace, assertPrefix } from '../keys.js';
import { type CommandContext, inspect, invalidate, versions } from './commands.js';

const USAGE = `Usage: versioned-cache [options] <command> <namespace...>

Commands:
  versions <ns...>     print the current version of each namespace (read-only; none if missing)
  invalidate <ns...>   bump each namespace's version: the library's own atomic bump, O(1)
  inspect <ns>         the version and a bounded sample of the entries of that version

Options:
  --redis <url>        Redis to use (redis:// or rediss://); default: $REDIS_URL, else required
  --prefix <prefix>    key prefix the application's cache uses (default: vc)
  --sample <n>         inspect: at most n keys in the sample, 1-100 (default: 10)
  --json               print one JSON document instead of text
  -h, --help           print this help

Exit codes: 0 ok, 1 Redis error, 2 usage error.
`;

/** Exit codes are part of the interface: scripts branch on them. */
const EXIT_OK = 0;
const EXIT_REDIS = 1;
const EXIT_USAGE = 2;

class UsageError extends Error {}

interface Invocation {
  command: 'versions' | 'invalidate' | 'inspect';
  namespaces: string[];
  context: Omit<CommandContext, 'redis'>;
  url: string;
}

function parse(argv: readonly string[], env: NodeJS.ProcessEnv): Invocation | 'help' {
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(argv);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const [command, ...namespaces] = positionals;
  if (command === undefined) throw new UsageError('a command is required');
  if (command !== 'versions' && command !== 'invalidate' && command !== 'inspect') {
    throw new UsageError(`unknown command '${command}'`);
  }
  if (namespaces.length === 0) throw new UsageError(`${command} needs at least one namespace`);
  if (command === 'inspect' && namespaces.length > 1) throw new UsageError('inspect takes one namespace');
  const url = values.redis ?? env.REDIS_URL;
  if (!url) throw new UsageError('no Redis given: pass --redis <url> or set REDIS_URL');
  if (!/^rediss?:\/\//.test(url))
    throw new UsageError(`--redis must be a redis:// or rediss:// URL, got '${url}'`);
  const sample = Number(values.sample ?? '10');
  if (!Number.isInteger(sample) || sample < 1 || sample > 100) {
    throw new UsageError(`--sample must be an integer from 1 to 100, got '${values.sample}'`);
  }
  const prefix = values.prefix ?? 'vc';
  try {
    assertPrefix(prefix);
    for (const ns of namespaces) assertNamespace(ns);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return { command, namespaces, url, context: { prefix, sample, json: values.json ?? false } };
}

function parseOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    strict: true,
    options: {
      redis: { type: 'string' },
      prefix: { type: 'string' },
      sample: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

/** Runs one invocation and resolves to its exit code; never throws. */
async function main(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  out: (text: string) => void = (text) => process.stdout.write(text),
  err: (text: string) => void = (text) => process.stderr.write(text),
): Promise<number> {
  let invocation: Invocation | 'help';
  try {
    invocation = parse(argv, env);
  } catch (error) {
    err(`versioned-cache: ${(error as Error).message}\nRun 'versioned-cache --help' for usage.\n`);
    return EXIT_USAGE;
  }
  if (invocation === 'help') {
    out(USAGE);
    return EXIT_OK;
  }
  // One attempt, bounded: an ops tool must report a dead Redis, not retry it forever.
  const redis = new Redis(invocation.url, {
    lazyConnect: true,
    connectTimeout: 5_000,
    commandTimeout: 5_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let connectionError: Error | undefined;
  redis.on('error', (error: Error) => {
    connectionError ??= error;
  });
  try {
    await redis.connect();
    const context: CommandContext = { ...invocation.context, redis };
    const run = { versions, invalidate, inspect }[invocation.command];
    out(await run(context, invocation.namespaces));
    return EXIT_OK;
  } catch (error) {
    const code = isVersionedCacheError(error) ? ` (${error.code})` : '';
    const cause =
      isVersionedCacheError(error) && error.cause instanceof Error ? `: ${error.cause.message}` : '';
    // ioredis rejects a refused connection with "Connection is closed."; the error event says why.
    const why = connectionError ? ` (${connectionError.message})` : '';
    err(`versioned-cache: Redis error${code}: ${(error as Error).message}${cause}${why}\n`);
    return EXIT_REDIS;
  } finally {
    redis.disconnect();
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // ioredis can leave a timer behind after a refused connection: once the output is flushed,
  // exit rather than wait for it.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
});
