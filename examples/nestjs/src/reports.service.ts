import { Injectable } from '@nestjs/common';

/** A report that costs real work: a deterministic pass over ten million pseudo-random numbers. */
export function crunch(id: string, epoch: number): number {
  let x = epoch + 1;
  for (const c of id) x = (Math.imul(x, 31) + c.charCodeAt(0)) >>> 0;
  let total = 0;
  for (let i = 0; i < 10_000_000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    total = (total + (x >>> 16)) % 1_000_000_007;
  }
  return total;
}

/** Stands in for the database and the reports computed from it: a reprocess moves the epoch. */
@Injectable()
export class ReportsService {
  epoch = 0;
  computations = 0;

  report(id: string) {
    return { id, epoch: this.epoch, total: crunch(id, this.epoch), computation: ++this.computations };
  }

  me(user: string) {
    return { user, epoch: this.epoch, computation: ++this.computations };
  }

  reprocess(): { epoch: number } {
    return { epoch: ++this.epoch };
  }
}
