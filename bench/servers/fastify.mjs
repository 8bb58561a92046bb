// Fastify 5 server for one scenario (env BENCH_SCENARIO); prints `listening <port>` when ready.
import { versionedCache } from '@versioned-cache/fastify';
import Fastify from 'fastify';
import {
  createNaiveCache,
  createScenarioCache,
  JSON_TYPE,
  NAMESPACE,
  produce,
  readScenario,
  ready,
  unsupported,
} from './common.mjs';

const { scenario, redisUrl } = readScenario();
const app = Fastify();
const route = async () => produce();

switch (scenario.kind) {
  case 'ceiling':
    app.get('/data', route);
    break;
  case 'naive': {
    const bytesFor = createNaiveCache(redisUrl);
    app.get('/data', async (req, reply) => reply.type(JSON_TYPE).send(await bytesFor(req.url)));
    break;
  }
  case 'versioned':
    await app.register(versionedCache, {
      namespace: NAMESPACE,
      cache: createScenarioCache(scenario, redisUrl),
    });
    app.get('/data', route);
    break;
  default:
    unsupported('fastify', scenario);
}

await app.listen({ port: 0, host: '127.0.0.1' });
ready(app.server.address().port);
