import type { L1Tier } from '../tier/l1-tier.js';
import { afterIo } from './after-io.js';
import type { Deadline, Guarded } from './call-guard.js';
import { FAILED } from './call-guard.js';
import type { ResolvedCall } from './call-policy.js';
import type { Located, Reader } from './reader.js';

/**
 * Lookups through the in-process tier (`tier/l1-tier.ts`): a fresh entry at versions Redis tracking
 * vouches for is a hit with no round trip; any other lookup goes to Redis as without the tier, and
 * what Redis returns feeds the tier.
 */
export class TieredReader {
  constructor(
    private readonly reader: Reader,
    private readonly l1: L1Tier,
  ) {}

  async locate<T>(call: ResolvedCall<T>, deadline: Deadline): Promise<Guarded<Located>> {
    const versionKeys = this.reader.versionKeysOf(call.namespaces);
    const local = this.l1.locate(call.namespaces, versionKeys, call.key);
    if (local) return afterIo(local);
    const located = await this.reader.locate(call, deadline);
    if (located !== FAILED) this.l1.remember(versionKeys, located);
    return located;
  }
}
