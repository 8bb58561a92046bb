import {
  Controller,
  Get,
  Headers,
  HttpCode,
  Inject,
  Param,
  Post,
  UnauthorizedException,
} from '@nestjs/common';
import { CacheRoute, Invalidates, type NestCacheRequest, NoCache } from '@versioned-cache/nestjs';
import { ReportsService } from './reports.service.js';

/** The user an auth proxy in front of the API names in `X-User`. */
const userOf = (request: NestCacheRequest) => request.headers['x-user']?.toString();

// Every GET and HEAD route is cached in the module's `reports` namespace (the interceptor is global).
@Controller('api')
export class ReportsController {
  // Named explicitly: injection then works with or without emitted decorator metadata.
  constructor(@Inject(ReportsService) private readonly reports: ReportsService) {}

  @Get('reports/:id')
  report(@Param('id') id: string) {
    return this.reports.report(id);
  }

  // One entry per user, sent `private`.
  @Get('me')
  @CacheRoute({ perUser: userOf })
  me(@Headers('x-user') user?: string) {
    if (!user) throw new UnauthorizedException('X-User header required');
    return this.reports.me(user);
  }

  @Get('health')
  @NoCache()
  health() {
    return { ok: true, epoch: this.reports.epoch, computations: this.reports.computations };
  }

  // One INCR, written before the response completes: every entry of `reports` is stale at once.
  @Post('reports/reprocess')
  @HttpCode(200)
  @Invalidates()
  reprocess() {
    return this.reports.reprocess();
  }
}
