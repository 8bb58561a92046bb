/** Small numeric helpers for the reports. */

/** A growable list of non-negative integers (latencies), sorted on demand without boxing. */
export class IntList {
  private data = new Uint32Array(1024);
  length = 0;

  push(value: number): void {
    if (this.length === this.data.length) {
      const grown = new Uint32Array(this.data.length * 2);
      grown.set(this.data);
      this.data = grown;
    }
    this.data[this.length++] = value;
  }

  sorted(): Uint32Array {
    return this.data.slice(0, this.length).sort();
  }
}

/** Nearest-rank percentile of a sorted list; 0 for an empty one. */
export function percentile(sorted: Uint32Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function ratio(part: number, whole: number): number {
  return whole === 0 ? 0 : Math.round((part / whole) * 100_000) / 100_000;
}

export const DAY_MS = 86_400_000;
