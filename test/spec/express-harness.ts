import { createServer } from 'node:http';
import { setImmediate as tick } from 'node:timers/promises';
import {
  cacheRoute,
  type ExpressCacheOptions,
  type ExpressRouteOptions,
  versionedCache,
} from '@versioned-cache/express';
import type express from 'express';
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import type { AdapterHarness, SpecResponse } from './harness.js';

async function write(res: Response, answer: SpecResponse): Promise<void> {
  res.status(answer.status ?? 200);
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  const body = answer.body ?? { kind: 'empty' };
  switch (body.kind) {
    case 'json':
      res.json(body.value);
      return;
    case 'string':
    case 'buffer':
      res.send(body.value);
      return;
    case 'chunks':
      if (!res.getHeader('content-type')) res.setHeader('content-type', 'text/plain; charset=utf-8');
      for (const chunk of body.value) {
        res.write(chunk);
        await tick();
      }
      res.end();
      return;
    case 'empty':
      res.end();
  }
}

/**
 * The harness over one Express module (`express` is 5, `express4` the 4 line): the adapter must
 * work with whichever major the application installed. Both are typed with Express 5's types.
 */
export const expressHarness = (name: string, framework: typeof express): AdapterHarness => ({
  name,
  build({ namespaces, options, routes }) {
    const app = framework();
    app.use(versionedCache(namespaces, options as ExpressCacheOptions));
    for (const route of routes) {
      const handler: RequestHandler = async (req, res, next) => {
        try {
          await write(res, await route.handle(req));
        } catch (error) {
          next(error);
        }
      };
      const stack =
        route.options === undefined
          ? [handler]
          : [cacheRoute(route.options as ExpressRouteOptions | false), handler];
      if (route.method === 'GET') app.get(route.path, ...stack);
      else app.post(route.path, ...stack);
    }
    const onError: ErrorRequestHandler = (_error, _req, res, _next) => {
      res.status(500).json({ error: 'handler failed' });
    };
    app.use(onError);
    return createServer(app);
  },
});
