import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { VersionedCache } from '@versioned-cache/core';
import { VersionedCacheInterceptor } from './interceptor.js';
import {
  MODULE_OPTIONS,
  RESOLVED,
  type ResolvedModule,
  resolveModuleOptions,
  VERSIONED_CACHE,
  type VersionedCacheModuleAsyncOptions,
  type VersionedCacheModuleOptions,
} from './options.js';

/** Closes the cache on application shutdown, only when the module created it. */
@Injectable()
class CacheLifecycle implements OnApplicationShutdown {
  constructor(@Inject(RESOLVED) private readonly module: ResolvedModule) {}

  async onApplicationShutdown(): Promise<void> {
    if (this.module.owned) await this.module.cache.close();
  }
}

/**
 * `VersionedCacheModule.forRoot({ namespace, cache | redis, ...routeOptions })`: the cache, injectable
 * (`@InjectVersionedCache()` or by the `VersionedCache` class), and `VersionedCacheInterceptor`,
 * which caches GET and HEAD routes (every route unless `global: false`).
 */
@Module({})
// biome-ignore lint/complexity/noStaticOnlyClass: a Nest dynamic module is a class with static factories.
export class VersionedCacheModule {
  static forRoot(options: VersionedCacheModuleOptions): DynamicModule {
    return build(
      [
        { provide: MODULE_OPTIONS, useValue: options },
        { provide: RESOLVED, useFactory: () => resolveModuleOptions(options) },
      ],
      options?.global,
      [],
    );
  }

  static forRootAsync(options: VersionedCacheModuleAsyncOptions): DynamicModule {
    return build(
      [
        {
          provide: MODULE_OPTIONS,
          useFactory: options.useFactory as (...args: unknown[]) => unknown,
          inject: options.inject ?? [],
        },
        {
          provide: RESOLVED,
          useFactory: (resolved: VersionedCacheModuleOptions) => resolveModuleOptions(resolved),
          inject: [MODULE_OPTIONS],
        },
      ],
      options.global,
      options.imports ?? [],
    );
  }
}

function build(
  providers: Provider[],
  global: boolean | undefined,
  imports: NonNullable<DynamicModule['imports']>,
): DynamicModule {
  const isGlobal = global ?? true;
  const shared: Provider[] = [
    { provide: VERSIONED_CACHE, useFactory: (m: ResolvedModule) => m.cache, inject: [RESOLVED] },
    { provide: VersionedCache, useExisting: VERSIONED_CACHE },
    VersionedCacheInterceptor,
    CacheLifecycle,
  ];
  return {
    module: VersionedCacheModule,
    global: isGlobal,
    imports,
    providers: [
      ...providers,
      ...shared,
      ...(isGlobal ? [{ provide: APP_INTERCEPTOR, useExisting: VersionedCacheInterceptor }] : []),
    ],
    exports: [VERSIONED_CACHE, VersionedCache, VersionedCacheInterceptor, RESOLVED],
  };
}
