/** The q-quantile (0..1) of a list of numbers, nearest rank; NaN for an empty list. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** "p50 3.1 ms, p99 8.7 ms, max 12.0 ms (n=1234)", for the measurements a drill prints. */
export function describeLatencies(values: readonly number[]): string {
  const ms = (q: number) => quantile(values, q).toFixed(1);
  return `p50 ${ms(0.5)} ms, p99 ${ms(0.99)} ms, max ${ms(1)} ms (n=${values.length})`;
}
