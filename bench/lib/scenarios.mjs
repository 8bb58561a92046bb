// What `pnpm bench` measures. One entry per column of the results: adding a variant of the cache is
// one line here (its `cacheOptions` go to createCache as they are; a core that rejects them gets a
// "not available in this build" row instead of a number).

export const FRAMEWORKS = [
  { id: 'express', name: 'Express 5' },
  { id: 'koa', name: 'Koa 3' },
  { id: 'fastify', name: 'Fastify 5' },
  { id: 'nest-express', name: 'Nest 11 (Express)' },
  { id: 'nest-fastify', name: 'Nest 11 (Fastify)' },
];

/** The project itself: `cacheOptions` go to createCache as they are, next to `redis` (or none for memory). */
const versioned = (id, name, cacheOptions, store = 'redis', extra = {}) => ({
  id,
  name,
  kind: 'versioned',
  store,
  cacheOptions,
  cached: true,
  ...extra,
});

/**
 * kind: which server code runs (see servers/*.mjs). cached: whether every measured request must be a
 * hit. frameworks: where it exists (every framework when absent). compareTo: the frameworks on which the
 * other scenarios also get a ratio against this one.
 */
export const SCENARIOS = [
  { id: 'ceiling', name: 'ceiling (no cache)', kind: 'ceiling', cached: false },
  { id: 'naive', name: 'naive cache-aside, Redis GET', kind: 'naive', cached: true },
  // What no response cache can beat in this framework: its first middleware (Fastify: onRequest hook)
  // answers with bytes held in a variable, no lookup, no headers beyond type and length, once the
  // turn's reads are done (answers written together cost less CPU than each one inside its read).
  {
    id: 'floor',
    name: 'floor: fixed bytes from the first middleware',
    kind: 'floor',
    cached: true,
    frameworks: ['express', 'koa', 'fastify'],
    compareTo: ['express', 'koa', 'fastify'],
  },
  versioned('vc-redis', 'versioned-cache, Redis', {}),
  versioned('vc-memory', 'versioned-cache, memory store', {}, 'memory'),
  versioned('vc-l1', 'versioned-cache, Redis + L1', { l1: true }),
  // A gzip client served from the variant stored at fill time (`compress`): no compression per hit.
  versioned('vc-memory-gzip', 'versioned-cache, memory store, gzip variant', {}, 'memory', {
    httpOptions: { compress: true },
    requestHeaders: { 'accept-encoding': 'gzip' },
    frameworks: ['express', 'koa', 'fastify'],
  }),
  {
    id: 'apicache',
    name: 'apicache (memory)',
    kind: 'apicache',
    frameworks: ['express'],
    cached: true,
    compareTo: ['express'],
  },
  {
    // apicache's Redis store, the one comparable to versioned-cache on Redis.
    id: 'apicache-redis',
    name: 'apicache (Redis)',
    kind: 'apicache-redis',
    frameworks: ['express'],
    cached: true,
    compareTo: ['express'],
  },
  {
    id: 'cacheable-response',
    name: 'cacheable-response (memory)',
    kind: 'cacheable-response',
    frameworks: ['express'],
    cached: true,
    compareTo: ['express'],
  },
  { id: 'koa-cash', name: 'koa-cash (memory)', kind: 'koa-cash', frameworks: ['koa'], cached: true },
  {
    // Nest's own response cache as its guide sets it up on Redis: it sets no X-Cache, so the runner
    // tells its hits by the handler count alone.
    id: 'nest-cache-manager',
    name: 'Nest CacheInterceptor (cache-manager + @keyv/redis)',
    kind: 'nest-cache-manager',
    frameworks: ['nest-express', 'nest-fastify'],
    cached: true,
    compareTo: ['nest-express', 'nest-fastify'],
  },
];

/** Fastify has no server-side response cache among its plugins (@fastify/caching sets headers only). */
export const NO_PEER = {
  fastify: 'none: @fastify/caching manages Cache-Control/ETag headers, it stores no responses',
};

export function scenarioRuns(scenario, framework) {
  return !scenario.frameworks || scenario.frameworks.includes(framework);
}
