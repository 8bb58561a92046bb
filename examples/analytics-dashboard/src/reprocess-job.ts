import type { Analytics } from './analytics.js';

export interface ReprocessResult {
  epoch: number;
  rows: number;
  /** Time to process the new epoch's log in this process, ms. */
  processMs: number;
}

/**
 * The reprocessing job: rewrites the dataset (moves the epoch every process derives its data from),
 * then invalidates the namespace, then processes the new log here so this process's next misses only
 * aggregate. Publishing the data before the bump means that a reader that misses after the
 * invalidation can only find the new data; doing the bump right after keeps the window in which
 * old and new pieces mix to one round trip.
 */
export async function reprocess(
  analytics: Analytics,
  invalidate: () => Promise<void>,
): Promise<ReprocessResult> {
  const epoch = await analytics.epochs.advance();
  await invalidate();
  const dataset = await analytics.prepare(epoch);
  return { epoch, rows: dataset.rows, processMs: Math.round(dataset.processMs) };
}
