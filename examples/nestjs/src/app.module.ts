import { type DynamicModule, Module } from '@nestjs/common';
import { VersionedCacheModule, type VersionedCacheModuleOptions } from '@versioned-cache/nestjs';
import { ReportsController } from './reports.controller.js';
import { ReportsService } from './reports.service.js';

@Module({ controllers: [ReportsController], providers: [ReportsService] })
export class ReportsModule {}

/** The app, with the cache given (`cache`) or created by the module from `redis`. */
export function appModule(cache: Pick<VersionedCacheModuleOptions, 'cache' | 'redis'>): DynamicModule {
  return {
    module: ReportsModule,
    imports: [VersionedCacheModule.forRoot({ namespace: 'reports', ttl: '10m', ...cache })],
  };
}
