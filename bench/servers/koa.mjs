// Koa 3 server for one scenario (env BENCH_SCENARIO); prints `listening <port>` when ready.
import { versionedCache } from '@versioned-cache/koa';
import Koa from 'koa';
import koaCash from 'koa-cash';
import * as common from './common.mjs';

const { scenario, redisUrl } = common.readScenario();
const app = new Koa();
const route = (ctx) => {
  ctx.body = common.produce();
};

switch (scenario.kind) {
  case 'ceiling':
    app.use(route);
    break;
  case 'naive': {
    const bytesFor = common.createNaiveCache(redisUrl);
    app.use(async (ctx) => {
      ctx.type = common.JSON_TYPE;
      ctx.body = await bytesFor(ctx.url);
    });
    break;
  }
  case 'floor': {
    const bytes = Buffer.from(common.BODY_TEXT);
    app.use(async (ctx) => {
      await common.afterTurn();
      ctx.type = common.JSON_TYPE;
      ctx.body = bytes;
    });
    break;
  }
  case 'versioned':
    app.use(versionedCache(common.NAMESPACE, common.middlewareOptions(scenario, redisUrl)));
    app.use(route);
    break;
  case 'koa-cash': {
    // Its README's in-process store; koa-cash leaves expiry to the store, and entries outlive a run.
    const entries = new Map();
    app.use(
      koaCash({
        get: async (key) => entries.get(key),
        set: async (key, value) => void entries.set(key, value),
      }),
    );
    app.use(async (ctx) => {
      if (await ctx.cashed()) return;
      route(ctx);
    });
    break;
  }
  default:
    common.unsupported('koa', scenario);
}

await common.listenNode(app.callback());
