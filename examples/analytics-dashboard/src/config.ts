import { DEFAULT_ROWS } from './dataset.js';

/** The namespace every piece of the dashboard is cached under: one dataset, one version. */
export const NAMESPACE = 'analytics';
/** Prefix of this app's Redis keys: the cache's entries and versions, and the dataset epoch. */
export const PREFIX = 'analytics-dashboard';

export interface Config {
  port: number;
  redisUrl: string | undefined;
  rows: number;
}

function positiveInteger(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    throw new TypeError(`${name} must be an integer of at least ${min}, got '${raw}'`);
  }
  return value;
}

/** Reads `PORT`, `REDIS_URL` and `DASHBOARD_ROWS` (log lines per dataset). */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return {
    port: positiveInteger('PORT', env.PORT, 3000, 0),
    redisUrl: env.REDIS_URL || undefined,
    rows: positiveInteger('DASHBOARD_ROWS', env.DASHBOARD_ROWS, DEFAULT_ROWS),
  };
}
