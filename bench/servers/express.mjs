// Express 5 server for one scenario (env BENCH_SCENARIO); prints `listening <port>` when ready.
import { versionedCache } from '@versioned-cache/express';
import apicache from 'apicache';
import cacheableResponse from 'cacheable-response';
import express from 'express';
import { Redis } from 'ioredis';
import * as common from './common.mjs';

const { scenario, redisUrl } = common.readScenario();
const app = express();
const route = (_req, res) => res.json(common.produce());

switch (scenario.kind) {
  case 'ceiling':
    app.get('/data', route);
    break;
  case 'naive': {
    const bytesFor = common.createNaiveCache(redisUrl);
    app.get('/data', async (req, res) => {
      const bytes = await bytesFor(req.originalUrl);
      // Straight to node:http: res.send would hash an ETag per request.
      res.writeHead(200, { 'content-type': common.JSON_TYPE, 'content-length': bytes.length }).end(bytes);
    });
    break;
  }
  case 'floor': {
    const bytes = Buffer.from(common.BODY_TEXT);
    app.use(async (_req, res) => {
      await common.afterTurn();
      res.writeHead(200, common.fixedHeaders(bytes)).end(bytes);
    });
    break;
  }
  case 'versioned':
    app.use(versionedCache(common.NAMESPACE, common.middlewareOptions(scenario, redisUrl)));
    app.get('/data', route);
    break;
  case 'apicache':
    app.use(apicache.middleware('1 hour'));
    app.get('/data', route);
    break;
  case 'apicache-redis': {
    // As its README sets it up (`redisClient`), over ioredis: apicache reads node-redis's
    // `connected` flag, which ioredis spells `status === 'ready'`.
    const redisClient = new Redis(redisUrl);
    Object.defineProperty(redisClient, 'connected', { get: () => redisClient.status === 'ready' });
    await new Promise((resolve) => redisClient.once('ready', resolve)); // before it bypasses Redis
    app.use(apicache.newInstance({ redisClient }).middleware('1 hour'));
    app.get('/data', route);
    break;
  }
  case 'cacheable-response': {
    // As its README shows it: get() computes, send() renders.
    const ssr = cacheableResponse({
      get: () => ({ data: common.produce() }),
      send: ({ data, res }) => res.send(data),
    });
    app.get('/data', (req, res) => ssr({ req, res }));
    break;
  }
  default:
    common.unsupported('express', scenario);
}

await common.listenNode(app);
