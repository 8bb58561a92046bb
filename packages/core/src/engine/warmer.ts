import { VersionedCacheError, VersionedCacheTypeError } from '../errors.js';
import type { KeySchema } from '../keys.js';
import type { CacheStore, DurabilityRequest } from '../stores/store.js';
import { randomVersion } from '../versions.js';
import type { CallGuard, Deadline } from './call-guard.js';
import type { CallPolicies } from './call-policy.js';
import { invalidated } from './events.js';
import type { Filler } from './filler.js';
import type { Reader } from './reader.js';
import type { Warmer } from './types.js';

const PUBLISH_ATTEMPTS = 3;

/**
 * Warm invalidation: compute the registered warmers' entries under a fresh, unpublished version,
 * then publish it with a compare-and-set, so that no reader sees the miss. With durability, the
 * publish is acknowledged by replicas as a plain bump is (`VC_NOT_DURABLE` otherwise).
 */
export class WarmPublisher {
  private readonly warmers = new Map<string, Set<Warmer>>();

  constructor(
    private readonly store: CacheStore,
    private readonly keys: KeySchema,
    private readonly guard: CallGuard,
    private readonly policies: CallPolicies,
    private readonly reader: Reader,
    private readonly filler: Filler,
    private readonly durability: DurabilityRequest | false,
  ) {}

  add(warmer: Warmer): () => void {
    if (typeof warmer !== 'object' || warmer === null)
      throw new VersionedCacheTypeError('warmer', `must be an object, got ${String(warmer)}`);
    // Everything checked now, options included: a bad warmer found during a warm invalidation
    // would fail that invalidation instead.
    const { namespaces } = this.policies.resolve(
      warmer.namespaces,
      warmer.key,
      warmer.compute,
      warmer.options ?? {},
    );
    for (const ns of namespaces) {
      const set = this.warmers.get(ns) ?? new Set<Warmer>();
      set.add(warmer);
      this.warmers.set(ns, set);
    }
    return () => {
      for (const ns of namespaces) this.warmers.get(ns)?.delete(warmer);
    };
  }

  /**
   * If another invalidation moved the version meanwhile, it came after this call began and so
   * already covers it; we warm again against it, a few times at most.
   */
  async publish(ns: string, deadline: Deadline): Promise<void> {
    const versionKey = this.keys.versionKey(ns);
    for (let attempt = 0; attempt < PUBLISH_ATTEMPTS; attempt++) {
      const current = await this.reader.version(ns, deadline);
      const next = randomVersion();
      await this.computeWarmers(ns, next, deadline);
      const published = await this.guard.mustRun(
        'invalidate',
        deadline,
        () =>
          this.store.compareAndSet(
            versionKey,
            current,
            next,
            this.keys.previousKey(ns),
            this.durability || undefined,
          ),
        versionKey,
      );
      if (published) {
        this.reader.moved(ns, current, next);
        invalidated(ns, next, true, deadline);
        return;
      }
    }
  }

  private async computeWarmers(ns: string, nextVersion: string, deadline: Deadline): Promise<void> {
    const warmers = [...(this.warmers.get(ns) ?? [])];
    await Promise.all(
      warmers.map(async (warmer) => {
        const call = this.policies.resolve(
          warmer.namespaces,
          warmer.key,
          warmer.compute,
          warmer.options ?? {},
        );
        const versions: string[] = [];
        for (const other of call.namespaces)
          versions.push(other === ns ? nextVersion : await this.reader.version(other, deadline));
        const entryKey = this.keys.entryKey(call.namespaces, versions, call.key);
        try {
          await this.filler.computeAndStore(call, { versions, entryKey, entry: null, stale: null }, deadline);
        } catch (error) {
          this.guard.report(
            new VersionedCacheError('VC_REFRESH_FAILED', `versioned-cache: warmer '${warmer.key}' failed`, {
              cause: error,
            }),
          );
        }
      }),
    );
  }
}
