import { createParamDecorator, type ExecutionContext, Inject, SetMetadata } from '@nestjs/common';
import { assertRouteOptions, type Namespaces, type RequestCache } from '@versioned-cache/core';
import type { NestCacheRequest, NestRouteCacheOptions } from './options.js';
import { VERSIONED_CACHE } from './options.js';

/** Metadata key of `@CacheRoute()` / `@NoCache()`: the route's options, or `false`. */
export const ROUTE_OPTIONS = 'versioned-cache:route';
/** Metadata key of `@Invalidates()`. */
export const INVALIDATES = 'versioned-cache:invalidates';

/** What `@Invalidates()` bumps: namespaces, or a function of the request that returns them. */
export type InvalidatesTarget<Req = NestCacheRequest> = Namespaces | ((request: Req) => Namespaces);

function named(error: unknown): never {
  if (error instanceof Error) error.message = `@versioned-cache/nestjs: ${error.message}`;
  throw error;
}

/**
 * Caches a route (on a handler) or every route of a controller (on the class) with these options
 * over the module's: `ttl`, `grace`, `vary`, `perUser`, `namespaces`, `cacheControl`... A handler's
 * decorator wins over its controller's. Options are validated when the class is declared.
 */
export function CacheRoute<Req = NestCacheRequest>(
  options: NestRouteCacheOptions<Req> = {},
): ClassDecorator & MethodDecorator {
  try {
    assertRouteOptions(options);
  } catch (error) {
    named(error);
  }
  return SetMetadata(ROUTE_OPTIONS, options);
}

/** Never caches this route (on a handler) or this controller's routes (on the class): `X-Cache: BYPASS`. */
export function NoCache(): ClassDecorator & MethodDecorator {
  return SetMetadata(ROUTE_OPTIONS, false);
}

/**
 * After a successful (2xx or 3xx) response of a POST, PUT, PATCH or DELETE, bumps these namespaces
 * (or those the function returns for the request): one INCR each, written before the response
 * completes, so that the client's next GET sees the new data. No namespace: the route's own.
 */
export function Invalidates<Req = NestCacheRequest>(
  ...targets: InvalidatesTarget<Req>[]
): ClassDecorator & MethodDecorator {
  for (const [i, target] of targets.entries()) {
    const ok =
      typeof target === 'function' ||
      typeof target === 'string' ||
      (Array.isArray(target) && target.every((name) => typeof name === 'string'));
    if (!ok)
      named(
        new TypeError(
          `versioned-cache: invalid Invalidates[${i}]: must be a namespace, namespaces or a function`,
        ),
      );
  }
  return SetMetadata(INVALIDATES, targets);
}

/** Injects the module's `VersionedCache` (the same instance as injecting the `VersionedCache` class). */
export function InjectVersionedCache(): PropertyDecorator & ParameterDecorator {
  return Inject(VERSIONED_CACHE);
}

/**
 * The request's cache as a handler parameter, on either platform: `@ReqCache() cache: RequestCache`
 * (status, namespaces, `invalidate()`, `bypass()`). The same object as `req.cache`.
 */
export const ReqCache = createParamDecorator(
  (_data: unknown, context: ExecutionContext): RequestCache =>
    context.switchToHttp().getRequest<{ cache: RequestCache }>().cache,
);
