// Fastify 5 server for one scenario (env BENCH_SCENARIO); prints `listening <port>` when ready.
import { versionedCache } from '@versioned-cache/fastify';
import Fastify from 'fastify';
import * as common from './common.mjs';

const { scenario, redisUrl } = common.readScenario();
const app = Fastify();
const route = async () => common.produce();

switch (scenario.kind) {
  case 'ceiling':
    app.get('/data', route);
    break;
  case 'naive': {
    const bytesFor = common.createNaiveCache(redisUrl);
    app.get('/data', async (req, reply) => reply.type(common.JSON_TYPE).send(await bytesFor(req.url)));
    break;
  }
  case 'floor': {
    const bytes = Buffer.from(common.BODY_TEXT);
    app.addHook('onRequest', async (_req, reply) => {
      await common.afterTurn();
      reply.hijack();
      reply.raw.writeHead(200, common.fixedHeaders(bytes)).end(bytes);
    });
    app.get('/data', route);
    break;
  }
  case 'versioned':
    await app.register(versionedCache, {
      namespace: common.NAMESPACE,
      ...common.middlewareOptions(scenario, redisUrl),
    });
    app.get('/data', route);
    break;
  default:
    common.unsupported('fastify', scenario);
}

await app.listen({ port: 0, host: '127.0.0.1' });
common.ready(app.server.address().port);
