// A Nest 11 application for one scenario (env BENCH_SCENARIO) on the platform a server file names;
// prints `listening <port>` when ready. Decorators are applied as functions: these files run as
// plain JavaScript, without a compiler.
import 'reflect-metadata';
import { createKeyv } from '@keyv/redis';
import { CacheInterceptor, CacheModule } from '@nestjs/cache-manager';
import { Controller, Get, Module, Req, Res, UseInterceptors } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { VersionedCacheModule } from '@versioned-cache/nestjs';
import * as common from './common.mjs';

function controller(handle, parameters = []) {
  class DataController {}
  const { prototype } = DataController;
  prototype.data = handle;
  parameters.forEach((decorate, index) => {
    decorate(prototype, 'data', index);
  });
  Get('data')(prototype, 'data', Object.getOwnPropertyDescriptor(prototype, 'data'));
  Controller()(DataController);
  return DataController;
}

function appModule(imports, controllers) {
  class BenchModule {}
  Module({ imports, controllers })(BenchModule);
  return BenchModule;
}

function scenarioModule(platform, scenario, redisUrl) {
  switch (scenario.kind) {
    case 'ceiling':
      return appModule([], [controller(() => common.produce())]);
    case 'naive': {
      const bytesFor = common.createNaiveCache(redisUrl);
      // The platform's own response, bytes as they are: the floor, as on the other frameworks.
      const send = async (req, res) => {
        const bytes = await bytesFor(req.url);
        if (platform === 'fastify') res.type(common.JSON_TYPE).send(bytes);
        else
          res.writeHead(200, { 'content-type': common.JSON_TYPE, 'content-length': bytes.length }).end(bytes);
      };
      return appModule([], [controller(send, [Req(), Res()])]);
    }
    case 'versioned':
      return appModule(
        [
          VersionedCacheModule.forRoot({
            namespace: common.NAMESPACE,
            cache: common.createScenarioCache(scenario, redisUrl),
          }),
        ],
        [controller(() => common.produce())],
      );
    case 'nest-cache-manager': {
      // As Nest's caching guide sets it up on Redis: cache-manager over Keyv's Redis store, and
      // CacheInterceptor on the controller; TTL in milliseconds.
      const DataController = controller(() => common.produce());
      UseInterceptors(CacheInterceptor)(DataController);
      const cache = CacheModule.registerAsync({
        useFactory: () => ({ stores: [createKeyv(redisUrl)], ttl: 3_600_000 }),
      });
      return appModule([cache], [DataController]);
    }
    default:
      return common.unsupported(`nest-${platform}`, scenario);
  }
}

export async function serveNest(platform) {
  const { scenario, redisUrl } = common.readScenario();
  const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = await NestFactory.create(scenarioModule(platform, scenario, redisUrl), adapter, {
    logger: false,
  });
  await app.listen(0, '127.0.0.1');
  common.ready(app.getHttpServer().address().port);
}
