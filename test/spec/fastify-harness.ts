import { Readable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import {
  type FastifyCacheOptions,
  type FastifyRouteCacheOptions,
  versionedCache,
} from '@versioned-cache/fastify';
import Fastify, { type FastifyReply, type RouteHandlerMethod, type RouteShorthandOptions } from 'fastify';
import type { AdapterHarness, SpecResponse } from './harness.js';

async function* paced(chunks: readonly string[]): AsyncGenerator<string> {
  for (const chunk of chunks) {
    yield chunk;
    await tick();
  }
}

function write(reply: FastifyReply, answer: SpecResponse): FastifyReply {
  reply.code(answer.status ?? 200).headers(answer.headers ?? {});
  const body = answer.body ?? { kind: 'empty' };
  switch (body.kind) {
    case 'json':
      // Fastify serialises objects; a bare string would go out as text.
      if (typeof body.value === 'object' && body.value !== null) return reply.send(body.value);
      return reply.type('application/json; charset=utf-8').send(JSON.stringify(body.value));
    case 'string':
    case 'buffer':
      return reply.send(body.value);
    case 'chunks':
      if (!reply.hasHeader('content-type')) reply.type('text/plain; charset=utf-8');
      return reply.send(Readable.from(paced(body.value)));
    case 'empty':
      return reply.send();
  }
}

export const fastifyHarness: AdapterHarness = {
  name: 'fastify',
  async build({ namespaces, options, routes }) {
    const app = Fastify();
    await app.register(versionedCache, {
      ...(options as Omit<FastifyCacheOptions, 'namespace'>),
      namespace: namespaces,
    });
    for (const route of routes) {
      const shorthand: RouteShorthandOptions =
        route.options === undefined
          ? {}
          : { config: { cache: route.options as FastifyRouteCacheOptions | false } };
      const handler: RouteHandlerMethod = async (request, reply) => write(reply, await route.handle(request));
      if (route.method === 'GET') app.get(route.path, shorthand, handler);
      else app.post(route.path, shorthand, handler);
    }
    await app.ready();
    return app.server;
  },
};
