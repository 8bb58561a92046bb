// Nest 11 on @nestjs/platform-fastify for one scenario (env BENCH_SCENARIO).
import { serveNest } from './nest.mjs';

await serveNest('fastify');
