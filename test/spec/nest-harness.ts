import 'reflect-metadata';
import { Readable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import type * as NestCommon from '@nestjs/common';
import type { HttpServer } from '@nestjs/common';
import type * as NestCore from '@nestjs/core';
import type * as NestExpress from '@nestjs/platform-express';
import type * as NestFastify from '@nestjs/platform-fastify';
import type * as VersionedCacheNest from '@versioned-cache/nestjs';
import type { AdapterHarness, SpecBody, SpecRequest, SpecResponse, SpecRoute } from './harness.js';

/**
 * One Nest major's modules, and `@versioned-cache/nestjs` loaded where its own `@nestjs/*` imports
 * resolve to them. Every major is typed with the installed Nest 11's types.
 */
export interface NestModules {
  common: typeof NestCommon;
  core: typeof NestCore;
  platformExpress: typeof NestExpress;
  platformFastify: typeof NestFastify;
  nestjs: typeof VersionedCacheNest;
}

/**
 * The spec's app as a Nest application: one controller whose handlers are declared from the spec's
 * routes (decorators applied as functions, so that no decorator syntax is needed here). Handlers
 * return their body for Nest to send, as a Nest handler usually does, setting status and headers
 * through `@Res({ passthrough: true })`; bytes and streams go out as a `StreamableFile`.
 */

async function* paced(chunks: readonly string[]): AsyncGenerator<string> {
  for (const chunk of chunks) {
    yield chunk;
    await tick();
  }
}

function bodyOf(
  { StreamableFile }: typeof NestCommon,
  body: SpecBody,
  setType: (type: string) => void,
): unknown {
  switch (body.kind) {
    case 'json':
      // Nest sends objects as JSON; a bare value would go out as text.
      if (typeof body.value === 'object' && body.value !== null) return body.value;
      setType('application/json; charset=utf-8');
      return JSON.stringify(body.value);
    case 'string':
      return body.value;
    case 'buffer':
      return new StreamableFile(body.value);
    case 'chunks':
      setType('text/plain; charset=utf-8');
      return new StreamableFile(Readable.from(paced(body.value)));
    case 'empty':
      return undefined;
  }
}

function controllerOf(nest: NestModules, routes: readonly SpecRoute[], adapter: () => HttpServer): object {
  const { Controller, Get, Post, Req, Res } = nest.common;
  const { CacheRoute, NoCache } = nest.nestjs;
  class SpecController {}
  const prototype = SpecController.prototype as unknown as Record<string, unknown>;
  routes.forEach((route, i) => {
    const name = `route${i}`;
    prototype[name] = async (req: SpecRequest, res: object): Promise<unknown> => {
      const answer: SpecResponse = await route.handle(req);
      const http = adapter();
      http.status(res, answer.status ?? 200);
      const headers = answer.headers ?? {};
      for (const [header, value] of Object.entries(headers)) http.setHeader(res, header, value as string);
      const typed = Object.keys(headers).some((header) => header.toLowerCase() === 'content-type');
      return bodyOf(nest.common, answer.body ?? { kind: 'empty' }, (type) => {
        if (!typed) http.setHeader(res, 'content-type', type);
      });
    };
    const descriptor = Object.getOwnPropertyDescriptor(prototype, name)!;
    Req()(prototype, name, 0);
    Res({ passthrough: true })(prototype, name, 1);
    (route.method === 'GET' ? Get : Post)(route.path)(prototype, name, descriptor);
    if (route.options === false) NoCache()(prototype, name, descriptor);
    else if (route.options !== undefined) CacheRoute(route.options)(prototype, name, descriptor);
  });
  Controller()(SpecController);
  return SpecController;
}

/** The harness over one Nest major's modules, on one platform, as the Express harness takes its module. */
export function nestHarness(
  name: string,
  platform: 'express' | 'fastify',
  nest: NestModules,
): AdapterHarness {
  const { Module } = nest.common;
  const { NestFactory } = nest.core;
  const { VersionedCacheModule } = nest.nestjs;
  return {
    name,
    async build({ namespaces, options, routes }) {
      let http: HttpServer | undefined;
      const controller = controllerOf(nest, routes, () => http!);
      class SpecModule {}
      Module({
        imports: [VersionedCacheModule.forRoot({ namespace: namespaces, ...options })],
        controllers: [controller as new () => object],
      })(SpecModule);
      const adapter =
        platform === 'fastify'
          ? new nest.platformFastify.FastifyAdapter()
          : new nest.platformExpress.ExpressAdapter();
      // abortOnError: false, so that a bad option rejects here instead of ending the process.
      const app = await NestFactory.create(SpecModule, adapter, { logger: false, abortOnError: false });
      const server = app.getHttpAdapter();
      http = server;
      await app.init();
      if (platform === 'fastify') await (server.getInstance() as { ready(): Promise<unknown> }).ready();
      return app.getHttpServer();
    },
  };
}
