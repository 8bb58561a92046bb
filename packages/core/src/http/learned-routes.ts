const MAX_LEARNED_PATHS = 10_000;
const MAX_LEARNED_PATH = 2048;

/**
 * The request paths whose route looks up itself (its own lookup options, or an opt-out), as the
 * middleware before routing learned them. Bounded: the oldest paths are forgotten first.
 */
export class LearnedRoutes {
  private readonly paths = new Set<string>();

  /** Whether requests for `path` were last handled by a route that looks up itself. */
  has(path: string): boolean {
    return this.paths.has(path);
  }

  /** Records what `has(path)` answers next time. */
  learn(path: string, ownLookup: boolean): void {
    this.paths.delete(path);
    if (!ownLookup || path.length > MAX_LEARNED_PATH) return;
    if (this.paths.size >= MAX_LEARNED_PATHS) this.paths.delete(this.paths.values().next().value!);
    this.paths.add(path);
  }
}
