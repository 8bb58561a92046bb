// Express 5 server for one scenario (env BENCH_SCENARIO); prints `listening <port>` when ready.
import { versionedCache } from '@versioned-cache/express';
import apicache from 'apicache';
import cacheableResponse from 'cacheable-response';
import express from 'express';
import {
  createNaiveCache,
  createScenarioCache,
  JSON_TYPE,
  listenNode,
  NAMESPACE,
  produce,
  readScenario,
  unsupported,
} from './common.mjs';

const { scenario, redisUrl } = readScenario();
const app = express();
const route = (_req, res) => res.json(produce());

switch (scenario.kind) {
  case 'ceiling':
    app.get('/data', route);
    break;
  case 'naive': {
    const bytesFor = createNaiveCache(redisUrl);
    app.get('/data', async (req, res) => {
      const bytes = await bytesFor(req.originalUrl);
      // Straight to node:http: res.send would hash an ETag per request.
      res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': bytes.length }).end(bytes);
    });
    break;
  }
  case 'versioned':
    app.use(versionedCache(NAMESPACE, { cache: createScenarioCache(scenario, redisUrl) }));
    app.get('/data', route);
    break;
  case 'apicache':
    app.use(apicache.middleware('1 hour'));
    app.get('/data', route);
    break;
  case 'cacheable-response': {
    // As its README shows it: get() computes, send() renders.
    const ssr = cacheableResponse({
      get: () => ({ data: produce() }),
      send: ({ data, res }) => res.send(data),
    });
    app.get('/data', (req, res) => ssr({ req, res }));
    break;
  }
  default:
    unsupported('express', scenario);
}

await listenNode(app);
