import { LRUCache } from 'lru-cache';
import type { Entry } from '../envelope.js';
import { VersionedCacheError } from '../errors.js';
import type { KeySchema } from '../keys.js';
import type { CacheStore } from '../stores/store.js';
import { previousFromRecord, randomVersion } from '../versions.js';
import { type CallGuard, type Deadline, FAILED, type Guarded } from './call-guard.js';
import type { ResolvedCall } from './call-policy.js';
import { type EntryDecoder, isFresh, withinGrace } from './entries.js';
import { ReadCoalescer } from './read-coalescer.js';

const VERSION_MEMO_SIZE = 10_000;

/** Where one call's entry lives and what was found there. */
export interface Located {
  versions: readonly string[];
  entryKey: string;
  entry: Entry | null;
  /** An entry that may be served stale: this key's expired one, or the previous version's. */
  stale: Entry | null;
}

/**
 * Reads namespace versions and entries. Remembers the version of each namespace this process saw
 * last, so that a hit reads version and entry in one round trip, and the one before it, which is
 * where grace finds the previous generation.
 */
export class Reader {
  private readonly knownVersions = new LRUCache<string, string>({ max: VERSION_MEMO_SIZE });
  private readonly previousVersions = new LRUCache<string, string>({ max: VERSION_MEMO_SIZE });
  private readonly versionKeyLists = new WeakMap<readonly string[], readonly string[]>();
  /** The one-round-trip read of hits: coalesced per turn of the event loop (see `after-io.ts` for why in memory too). */
  private readonly hitReads: ReadCoalescer;
  private lastVersionRaw: Buffer | null = null;
  private lastVersion = '';

  constructor(
    private readonly store: CacheStore,
    private readonly keys: KeySchema,
    private readonly guard: CallGuard,
    private readonly entries: EntryDecoder,
  ) {
    this.hitReads = new ReadCoalescer(store, 'read');
  }

  /** The current version of a namespace, created with a random start if it does not exist. */
  async version(ns: string, deadline: Deadline): Promise<string> {
    const versionKey = this.keys.versionKey(ns);
    const [current] = await this.guard.mustRun(
      'read version',
      deadline,
      () => this.store.getMany([versionKey]),
      versionKey,
    );
    const version = current ? current.toString() : await this.createVersion(versionKey);
    this.remember(ns, version);
    return version;
  }

  /** A version this process moved itself (a bump or a warm publish), and the one it replaced. */
  moved(ns: string, previous: string | null, next: string): void {
    if (previous !== null) this.previousVersions.set(ns, previous);
    this.knownVersions.set(ns, next);
  }

  /**
   * Reads the versions and the entry. When this process has seen every version before, one MGET
   * reads versions and the entry at those versions together; only when a version moved is a second
   * read needed.
   */
  async locate<T>(call: ResolvedCall<T>, deadline: Deadline): Promise<Guarded<Located>> {
    const { namespaces } = call;
    const versionKeys = this.versionKeysOf(namespaces);
    const known = this.knownVersionsOf(namespaces);
    const guessedKey =
      known.length === namespaces.length ? this.keys.entryKey(namespaces, known, call.key) : null;
    // A grace call also reads the namespace's previous-version record, in the same MGET.
    const recordKey =
      call.graceMs > 0 && namespaces.length === 1 ? this.keys.previousKey(namespaces[0]!) : null;
    const base = guessedKey ? [...versionKeys, guessedKey] : versionKeys;
    const keys = recordKey ? [...base, recordKey] : base;
    // With every breaker clean the read hands the guard only a fault: no wrapping promise per hit.
    const first = await (this.guard.clean
      ? this.hitReads.read(keys, deadline, this.guard, versionKeys)
      : this.guard.runSelfBounded(
          'read',
          deadline,
          () => this.hitReads.getMany(keys, deadline),
          versionKeys,
        ));
    if (first === FAILED) return FAILED;
    const record = recordKey ? first[base.length] : null;

    // The usual hit reads the versions it knew: they are its versions, not a copy.
    let versions = known.length === namespaces.length ? known : known.slice();
    let moved = false;
    for (let i = 0; i < namespaces.length; i++) {
      const raw = first[i];
      const version = raw
        ? this.versionText(raw)
        : await this.guard.run(
            'create version',
            deadline,
            () => this.createVersion(versionKeys[i]!),
            versionKeys[i],
          );
      if (version === FAILED) return FAILED;
      if (version === known[i]) continue;
      if (versions === known) versions = known.slice();
      versions[i] = version;
      moved = true;
      this.remember(namespaces[i]!, version);
    }
    // The usual hit: the versions are the ones guessed, and so is the key (built once per hit).
    const entryKey =
      guessedKey !== null && !moved ? guessedKey : this.keys.entryKey(namespaces, versions, call.key);
    if (entryKey === guessedKey) {
      const raw = first[namespaces.length];
      const entry = raw ? this.entries.read(raw) : null;
      if (entry && isFresh(entry)) return { versions, entryKey, entry, stale: null };
      if (entry && withinGrace(entry, call.graceMs)) return { versions, entryKey, entry: null, stale: entry };
      // A miss at versions this process already knew (it bumped them itself, or an earlier request
      // learnt them): with grace, the previous generation may still answer while one refresh runs.
      const previousKey = call.graceMs > 0 ? this.previousEntryKey(call, known, versions, record) : null;
      if (!previousKey) return { versions, entryKey, entry: null, stale: null };
      const read = await this.guard.run('read', deadline, () => this.store.getMany([previousKey]), entryKey);
      if (read === FAILED) return FAILED;
      const previous = read[0] ? this.entries.read(read[0]) : null;
      const stale = previous && withinGrace(previous, call.graceMs) ? previous : null;
      return { versions, entryKey, entry: null, stale };
    }

    const previousKey = call.graceMs > 0 ? this.previousEntryKey(call, known, versions, record) : null;
    const second = await this.guard.run(
      'read',
      deadline,
      () => this.store.getMany(previousKey ? [entryKey, previousKey] : [entryKey]),
      entryKey,
    );
    if (second === FAILED) return FAILED;
    const entry = second[0] ? this.entries.read(second[0]) : null;
    const previous = second[1] ? this.entries.read(second[1]) : null;
    if (entry && isFresh(entry)) return { versions, entryKey, entry, stale: null };
    const stale = [entry, previous].find((e) => e && withinGrace(e, call.graceMs)) ?? null;
    return { versions, entryKey, entry: null, stale };
  }

  /** The versions last seen of the leading namespaces of the list: all of them, or up to the first not seen. */
  private knownVersionsOf(namespaces: readonly string[]): string[] {
    const known = new Array<string>(namespaces.length);
    for (let i = 0; i < namespaces.length; i++) {
      const version = this.knownVersions.get(namespaces[i]!);
      if (version === undefined) {
        known.length = i;
        break;
      }
      known[i] = version;
    }
    return known;
  }

  /** The version keys of a namespace list, memoised per (frozen, resolved) list. */
  versionKeysOf(namespaces: readonly string[]): readonly string[] {
    let keys = this.versionKeyLists.get(namespaces);
    if (!keys) {
      keys = namespaces.map((ns) => this.keys.versionKey(ns));
      this.versionKeyLists.set(namespaces, keys);
    }
    return keys;
  }

  /**
   * Where the previous generation of this entry lives: at the versions this call expected, when
   * they moved under it; else at the versions before the last change this process saw; else, for a
   * process that saw none, the one the bump recorded (a single namespace only: with several we
   * cannot tell which one moved).
   */
  private previousEntryKey<T>(
    call: ResolvedCall<T>,
    known: readonly string[],
    current: readonly string[],
    record: Buffer | null | undefined,
  ): string | null {
    const moved = (versions: readonly string[]) => versions.some((version, i) => version !== current[i]);
    if (known.length === current.length && moved(known)) {
      return this.keys.entryKey(call.namespaces, known, call.key);
    }
    const before = current.map((version, i) => this.previousVersions.get(call.namespaces[i]!) ?? version);
    if (moved(before)) return this.keys.entryKey(call.namespaces, before, call.key);
    const previous = current.length === 1 ? previousFromRecord(record, current[0]!) : null;
    return previous === null ? null : this.keys.entryKey(call.namespaces, [previous], call.key);
  }

  /** The hits of one coalesced read share its reply: the version is decoded once, not per hit. */
  private versionText(raw: Buffer): string {
    if (raw !== this.lastVersionRaw) {
      this.lastVersionRaw = raw;
      this.lastVersion = raw.toString();
    }
    return this.lastVersion;
  }

  private remember(ns: string, version: string): void {
    const known = this.knownVersions.get(ns);
    if (known === version) return;
    if (known !== undefined) this.previousVersions.set(ns, known);
    this.knownVersions.set(ns, version);
  }

  private async createVersion(versionKey: string): Promise<string> {
    const start = randomVersion();
    if (await this.store.setIfAbsent(versionKey, start)) return start;
    // Lost the race to another process: use the version it created.
    const [current] = await this.store.getMany([versionKey]);
    if (current) return current.toString();
    throw new VersionedCacheError(
      'VC_STORE_ERROR',
      `versioned-cache: version ${versionKey} vanished while being created`,
    );
  }
}
