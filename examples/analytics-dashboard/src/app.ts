import { fileURLToPath } from 'node:url';
import type { VersionedCache } from '@versioned-cache/core';
import { cacheRoute, versionedCache } from '@versioned-cache/express';
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import type { Analytics, Piece } from './analytics.js';
import { NAMESPACE } from './config.js';
import { USERS } from './dataset.js';
import type { CacheMetrics } from './metrics.js';
import { isChart, isSection } from './pieces.js';
import { reprocess } from './reprocess-job.js';
import { serverTiming } from './server-timing.js';

export interface AppOptions {
  cache: VersionedCache;
  analytics: Analytics;
  /** Serves the cache's metrics at `/metrics` (Prometheus text format). */
  metrics?: CacheMetrics;
}

const PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

/**
 * Sends a piece with its cost in `Server-Timing`. The cache does not store that header, so a hit
 * carries only the `total` of its own request; the body keeps the cost of the computation.
 */
function send<T>(res: Response, piece: Piece<T>): void {
  res.set('Server-Timing', `process;dur=${piece.processMs}, compute;dur=${piece.computeMs}`);
  res.json(piece);
}

function notFound(res: Response, error: string): void {
  res.status(404).json({ error });
}

/**
 * The dashboard's HTTP API and page. Every GET under /api is cached in the `analytics` namespace,
 * so one invalidation makes all of them stale at once.
 */
export function createApp({ cache, analytics, metrics }: AppOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(serverTiming());
  app.use(express.static(PUBLIC_DIR));
  if (metrics) app.get('/metrics', (req, res) => metrics.scrape(req, res));

  const api = express.Router();
  // The default Cache-Control (`public, max-age=0, must-revalidate`) makes browsers revalidate every
  // time with If-None-Match, which the cache answers with a 304 from the entry: a reprocess reaches
  // every device on its next request, and an unchanged widget costs no transfer.
  // The key leaves out the Host header (part of the default key): this app serves one site, and its
  // processes on :3001 and :3002 stand for servers behind one load balancer, sharing every entry.
  api.use(versionedCache(NAMESPACE, { cache, key: (req) => req.originalUrl }));

  // Live state for the page header: never cached, it is what tells a stale page from a fresh one.
  api.get('/status', cacheRoute(false), async (req, res) => {
    res.set('Cache-Control', 'no-store');
    res.json({
      epoch: await analytics.epochs.current(),
      version: await cache.version(NAMESPACE),
      store: analytics.epochs.kind,
      server: `:${req.socket.localPort} (pid ${process.pid})`,
      computed: [...analytics.computations.values()].reduce((a, b) => a + b, 0),
      users: USERS,
    });
  });

  api.get('/summary', async (_req, res) => send(res, await analytics.summary()));

  // Per user: the user comes from a header, as an auth proxy in front of an internal tool sets it.
  // `perUser` scopes the entry to that user (and sends it `private`); `vary` tells browsers that the
  // response depends on the header. One user's details are never served to another.
  const perUser = { perUser: (req: Request) => req.get('x-user'), vary: ['x-user'] };
  api.get('/details', cacheRoute(perUser), async (req, res) => {
    const user = req.get('x-user');
    if (!user) {
      res.status(400).json({ error: 'the X-User header names the user whose details to show' });
      return;
    }
    const piece = await analytics.details(user);
    if (piece.data === null) notFound(res, `no activity for user '${user}'`);
    else send(res, piece);
  });

  api.get('/sections/:name', async (req, res) => {
    const { name } = req.params;
    if (!isSection(name)) notFound(res, `no section '${name}'`);
    else send(res, await analytics.section(name));
  });

  api.get('/charts/:name', async (req, res) => {
    const { name } = req.params;
    if (!isChart(name)) notFound(res, `no chart '${name}'`);
    else send(res, await analytics.chart(name));
  });

  api.get('/metadata', async (_req, res) => send(res, await analytics.metadata()));

  // The reprocessing job, run in this process: rewrites the dataset, then one version bump.
  api.post('/reprocess', async (req, res) => {
    const result = await reprocess(analytics, () => req.cache.invalidate());
    res.set('Cache-Control', 'no-store');
    res.json({ ...result, namespace: NAMESPACE, version: await cache.version(NAMESPACE) });
  });

  app.use('/api', api);
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    console.error(error);
    if (!res.headersSent) res.status(500).json({ error: 'internal error' });
  });
  return app;
}
