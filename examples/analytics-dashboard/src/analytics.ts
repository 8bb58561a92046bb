import { type Dataset, generateDataset } from './dataset.js';
import type { EpochSource } from './epochs.js';
import {
  CHARTS,
  type ChartName,
  details,
  metadata,
  SECTIONS,
  type SectionName,
  summary,
  type UserDetails,
} from './pieces.js';

/** One computed piece of the page, with what it cost, as the API sends it. */
export interface Piece<T> {
  piece: string;
  epoch: number;
  /** When the piece was computed (a cache hit replays this, so it shows the age of the entry). */
  computedAt: string;
  /** Aggregation time, ms. */
  computeMs: number;
  /** Time spent (re)processing the log for a new epoch before aggregating, ms (0 when it was ready). */
  processMs: number;
  data: T;
}

/**
 * The dashboard's backend, free of any web framework: reads the current epoch, holds the dataset of
 * that epoch (regenerated once per epoch per process), and computes pieces from it.
 */
export class Analytics {
  private loaded: { epoch: number; dataset: Promise<Dataset> } | null = null;
  /** Reports computed so far by this process, by piece: what the cache exists to keep low. */
  readonly computations = new Map<string, number>();

  constructor(
    readonly epochs: EpochSource,
    readonly rows: number,
  ) {}

  /** The dataset of the current epoch, and how long this call waited for it to be generated. */
  async dataset(): Promise<{ dataset: Dataset; processMs: number }> {
    const epoch = await this.epochs.current();
    const started = performance.now();
    const dataset = await this.datasetOf(epoch);
    return { dataset, processMs: performance.now() - started };
  }

  /** Generates the dataset of an epoch now (the reprocessing job's work), unless already done. */
  prepare(epoch: number): Promise<Dataset> {
    return this.datasetOf(epoch);
  }

  summary(): Promise<Piece<ReturnType<typeof summary>>> {
    return this.compute('summary', summary);
  }

  /** `null` data when the user has no line in the log. */
  details(user: string): Promise<Piece<UserDetails | null>> {
    return this.compute(`details:${user}`, (dataset) => details(dataset, user));
  }

  section<N extends SectionName>(name: N): Promise<Piece<ReturnType<(typeof SECTIONS)[N]>>> {
    return this.compute(
      `sections/${name}`,
      (dataset) => SECTIONS[name](dataset) as ReturnType<(typeof SECTIONS)[N]>,
    );
  }

  chart<N extends ChartName>(name: N): Promise<Piece<ReturnType<(typeof CHARTS)[N]>>> {
    return this.compute(
      `charts/${name}`,
      (dataset) => CHARTS[name](dataset) as ReturnType<(typeof CHARTS)[N]>,
    );
  }

  metadata(): Promise<Piece<ReturnType<typeof metadata>>> {
    return this.compute('metadata', metadata);
  }

  private datasetOf(epoch: number): Promise<Dataset> {
    if (this.loaded?.epoch !== epoch) {
      // Only the newest epoch is kept: an old log is never read again once the epoch moved.
      const dataset = Promise.resolve().then(() => generateDataset(epoch, this.rows));
      this.loaded = { epoch, dataset };
    }
    return this.loaded.dataset;
  }

  private async compute<T>(piece: string, report: (dataset: Dataset) => T): Promise<Piece<T>> {
    this.computations.set(piece, (this.computations.get(piece) ?? 0) + 1);
    const { dataset, processMs } = await this.dataset();
    const started = performance.now();
    const data = report(dataset);
    return {
      piece,
      epoch: dataset.epoch,
      computedAt: new Date().toISOString(),
      computeMs: round(performance.now() - started),
      processMs: round(processMs),
      data,
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
