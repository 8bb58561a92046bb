import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import {
  type ArgumentsHost,
  Catch,
  Controller,
  type ExceptionFilter,
  Get,
  Header,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Post,
  Req,
  Res,
  ServiceUnavailableException,
  UseFilters,
  UseInterceptors,
} from '@nestjs/common';
import { HttpAdapterHost, NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { createCache, type RequestCache, VersionedCache } from '@versioned-cache/core';
import {
  CacheRoute,
  InjectVersionedCache,
  Invalidates,
  NoCache,
  ReqCache,
  VersionedCacheInterceptor,
  VersionedCacheModule,
} from '@versioned-cache/nestjs';
import { afterEach, describe, expect, it } from 'vitest';
import { startRedis } from './support/redis-server.js';

// What the shared HTTP spec cannot say in every framework's idiom: Nest's decorators, exception
// filters, @Res(), dependency injection, module options and shutdown, on both platforms.

type Platform = 'express' | 'fastify';
const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (closers.length > 0) await closers.pop()!();
});

let computed = 0;
let dataset = 1;

@Catch(ServiceUnavailableException)
class MaintenanceFilter implements ExceptionFilter {
  constructor(@Inject(HttpAdapterHost) private readonly host: HttpAdapterHost) {}
  catch(_error: unknown, args: ArgumentsHost): void {
    const http = this.host.httpAdapter;
    const res = args.switchToHttp().getResponse<object>();
    http.setHeader(res, 'retry-after', '5');
    http.reply(res, { maintenance: true, at: ++computed }, 503);
  }
}

@Injectable()
class Reprocessor {
  constructor(@InjectVersionedCache() readonly cache: VersionedCache) {}
  async run(): Promise<void> {
    dataset++;
    await this.cache.invalidate('reports');
  }
}

@Controller('reports')
@CacheRoute({ namespaces: ['reports'] })
class ReportsController {
  constructor(
    @Inject(Reprocessor) private readonly reprocessor: Reprocessor,
    @Inject(VersionedCache) readonly byClass: VersionedCache,
  ) {}

  @Get('summary')
  summary(@ReqCache() cache: RequestCache) {
    return { dataset, computed: ++computed, status: cache.status, namespaces: cache.namespaces };
  }

  @Get('tagged')
  @HttpCode(203)
  @Header('x-dataset', 'tagged')
  @CacheRoute({ storeHeaders: ['x-dataset'] })
  tagged() {
    return { computed: ++computed };
  }

  @Get('raw')
  raw(@Res() res: { send?: unknown; json?(body: unknown): void; raw?: unknown }) {
    const body = { raw: ++computed };
    // @Res() without passthrough: the handler writes itself, on either platform.
    if (typeof res.json === 'function') res.json(body);
    else (res as unknown as { send(body: unknown): void }).send(body);
  }

  @Get('maintenance')
  @UseFilters(MaintenanceFilter)
  maintenance(): never {
    throw new ServiceUnavailableException();
  }

  @Post('reprocess')
  @HttpCode(200)
  async reprocess() {
    await this.reprocessor.run();
    return { dataset };
  }

  @Post('touch')
  @Invalidates('reports')
  touch(@Req() req: { headers: Record<string, string | undefined> }) {
    if (req.headers['x-fail']) throw new ServiceUnavailableException();
    return { touched: true };
  }

  @Post('touch-named')
  @Invalidates((req: { headers: Record<string, string | string[] | undefined> }) =>
    String(req.headers['x-ns']),
  )
  touchNamed() {
    return { touched: true };
  }
}

@Controller('live')
@NoCache()
class LiveController {
  @Get('now')
  now() {
    return { now: ++computed };
  }

  @Get('cached')
  @CacheRoute({ ttl: '1m' })
  cached() {
    return { cached: ++computed };
  }
}

@Controller('opt-in')
@UseInterceptors(VersionedCacheInterceptor)
class OptInController {
  @Get()
  get() {
    return { optIn: ++computed };
  }
}

@Controller('plain')
class PlainController {
  @Get()
  get() {
    return { plain: ++computed };
  }
}

async function serve(platform: Platform, imports: unknown[], controllers: unknown[]) {
  @Module({ imports: imports as never[], controllers: controllers as never[], providers: [Reprocessor] })
  class AppModule {}
  const adapter = platform === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  const app = await NestFactory.create(AppModule, adapter, { logger: false, abortOnError: false });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  const base = `http://127.0.0.1:${port}`;
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
  };
  closers.push(close);
  const call = async (path: string, init: RequestInit = {}) => {
    const response = await fetch(base + path, init);
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      cache: response.headers.get('x-cache'),
      text,
    };
  };
  return { app, call, close };
}

describe.each<Platform>(['express', 'fastify'])('NestJS module on %s', (platform) => {
  const fresh = () => {
    const cache = createCache({ jitter: 0 });
    closers.push(() => cache.close());
    return cache;
  };
  const standard = async () => {
    const cache = fresh();
    const module = VersionedCacheModule.forRoot({ namespace: 'app', cache });
    return { cache, ...(await serve(platform, [module], [ReportsController, LiveController])) };
  };

  it('caches through a controller decorator, exposes req.cache, and invalidates from a service', async () => {
    const { call, cache, app } = await standard();
    const miss = await call('/reports/summary');
    expect(miss.cache).toBe('MISS');
    expect(JSON.parse(miss.text)).toMatchObject({ status: 'MISS', namespaces: ['app', 'reports'] });
    const hit = await call('/reports/summary');
    expect([hit.cache, hit.text]).toEqual(['HIT', miss.text]);
    const notModified = await call('/reports/summary', {
      headers: { 'if-none-match': miss.headers.get('etag')! },
    });
    expect([notModified.status, notModified.cache]).toEqual([304, 'HIT']);

    expect(app.get(VersionedCache)).toBe(cache);
    expect(app.get(ReportsController).byClass).toBe(cache);
    const reprocess = await call('/reports/reprocess', { method: 'POST' });
    expect(reprocess.status).toBe(200);
    const after = await call('/reports/summary');
    expect(after.cache).toBe('MISS');
    expect(JSON.parse(after.text).dataset).toBe(JSON.parse(miss.text).dataset + 1);
  });

  it('keeps @HttpCode() and @Header() on the miss and the hit', async () => {
    const { call } = await standard();
    const miss = await call('/reports/tagged');
    const hit = await call('/reports/tagged');
    expect([miss.status, miss.cache, miss.headers.get('x-dataset')]).toEqual([203, 'MISS', 'tagged']);
    expect([hit.status, hit.cache, hit.headers.get('x-dataset'), hit.text]).toEqual([
      203,
      'HIT',
      'tagged',
      miss.text,
    ]);
  });

  it('caches what a @Res() handler writes itself', async () => {
    const { call } = await standard();
    const miss = await call('/reports/raw');
    const hit = await call('/reports/raw');
    expect([miss.cache, hit.cache, hit.text]).toEqual(['MISS', 'HIT', miss.text]);
  });

  it("sends an exception filter's response as it wrote it, never stored", async () => {
    const { call } = await standard();
    const first = await call('/reports/maintenance');
    const second = await call('/reports/maintenance');
    expect([first.status, first.headers.get('retry-after'), JSON.parse(first.text).maintenance]).toEqual([
      503,
      '5',
      true,
    ]);
    expect([second.status, second.cache]).toEqual([503, 'BYPASS']);
    expect(second.text).not.toBe(first.text);
  });

  it('lets a handler decorator win over its controller’s', async () => {
    const { call } = await standard();
    await call('/live/now');
    expect((await call('/live/now')).cache).toBe('BYPASS');
    await call('/live/cached');
    expect((await call('/live/cached')).cache).toBe('HIT');
  });

  it('@Invalidates bumps after a successful mutation only, with namespaces or a function', async () => {
    const { call } = await standard();
    await call('/reports/summary');
    expect((await call('/reports/touch', { method: 'POST', headers: { 'x-fail': '1' } })).status).toBe(503);
    expect((await call('/reports/summary')).cache).toBe('HIT');
    expect((await call('/reports/touch', { method: 'POST' })).status).toBe(201);
    expect((await call('/reports/summary')).cache).toBe('MISS');
    await call('/reports/touch-named', { method: 'POST', headers: { 'x-ns': 'other' } });
    expect((await call('/reports/summary')).cache).toBe('HIT');
    await call('/reports/touch-named', { method: 'POST', headers: { 'x-ns': 'app' } });
    expect((await call('/reports/summary')).cache).toBe('MISS');
  });

  it('@Invalidates in one app makes the next GET a MISS with new content in another app on the same Redis', async () => {
    const redis = await startRedis();
    closers.push(() => redis.stop());
    // Two apps with caches of their own (their own connections and version memos), as two
    // processes of one service would have: only Redis joins them.
    const apps = [];
    for (let i = 0; i < 2; i++) {
      const cache = createCache({ redis: redis.url, jitter: 0, timeout: '5s' });
      closers.push(() => cache.close());
      const module = VersionedCacheModule.forRoot({ namespace: 'app', cache });
      apps.push(await serve(platform, [module], [ReportsController, LiveController]));
    }
    const [a, b] = apps as [Awaited<ReturnType<typeof serve>>, Awaited<ReturnType<typeof serve>>];
    // Each app answers its own Host (the key includes it): both hold an entry of the namespace.
    const before = await b.call('/reports/summary');
    expect((await b.call('/reports/summary')).cache).toBe('HIT');
    await a.call('/reports/summary');
    expect((await a.call('/reports/summary')).cache).toBe('HIT');
    expect((await a.call('/reports/touch', { method: 'POST' })).status).toBe(201);
    const after = await b.call('/reports/summary');
    expect(after.cache).toBe('MISS');
    expect(JSON.parse(after.text).computed).toBeGreaterThan(JSON.parse(before.text).computed);
    expect((await a.call('/reports/summary')).cache).toBe('MISS');
  });

  it('with global: false, caches only the controllers that use the interceptor', async () => {
    const cache = fresh();
    const module = VersionedCacheModule.forRoot({ namespace: 'app', cache, global: false });
    const { call } = await serve(platform, [module], [OptInController, PlainController]);
    await call('/opt-in');
    expect((await call('/opt-in')).cache).toBe('HIT');
    await call('/plain');
    const plain = await call('/plain');
    expect([plain.cache, JSON.parse(plain.text).plain]).toEqual([null, expect.any(Number)]);
  });

  it('closes the cache on shutdown only when it created it', async () => {
    const given = fresh();
    const withGiven = await serve(
      platform,
      [VersionedCacheModule.forRoot({ namespace: 'a', cache: given })],
      [],
    );
    await withGiven.close();
    await given.invalidate('still-open'); // rejects once closed
    await expect(given.close()).resolves.toBeUndefined();

    const created = await serve(platform, [VersionedCacheModule.forRoot({ namespace: 'b', cache: {} })], []);
    const owned = created.app.get(VersionedCache);
    await created.close();
    await expect(owned.invalidate('closed')).rejects.toThrow();
  });

  it('forRootAsync builds the options from injected providers', async () => {
    const cache = fresh();
    const CONFIG = Symbol('config');
    @Module({ providers: [{ provide: CONFIG, useValue: { ns: 'async', cache } }], exports: [CONFIG] })
    class ConfigModule {}
    const module = VersionedCacheModule.forRootAsync({
      imports: [ConfigModule],
      inject: [CONFIG],
      useFactory: (config: { ns: string; cache: VersionedCache }) => ({
        namespace: config.ns,
        cache: config.cache,
      }),
    });
    const { call } = await serve(platform, [module], [ReportsController]);
    const miss = await call('/reports/summary');
    expect(JSON.parse(miss.text).namespaces).toEqual(['async', 'reports']);
    expect((await call('/reports/summary')).cache).toBe('HIT');
  });

  it('rejects bad module options at startup, naming the option', async () => {
    const cache = fresh();
    await expect(
      serve(platform, [VersionedCacheModule.forRoot({ namespace: 'a', cache, ttl: 'soon' as never })], []),
    ).rejects.toThrow(/ttl/);
    await expect(
      serve(platform, [VersionedCacheModule.forRoot({ namespace: 'a', cache, redis: 'redis://x' })], []),
    ).rejects.toThrow(/redis/);
    expect(() => CacheRoute({ grace: -1 })).toThrow(/grace/);
  });
});
