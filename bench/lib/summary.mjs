// Turns the runs of every round into one summary per framework and scenario. Ratios are taken per
// round (against the same framework's ceiling, naive run or peer in that round) and then their
// median, so that a drift of the machine between rounds cancels out.

export function median(values) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function ratiosTo(runs, referenceRuns) {
  const byRound = new Map(referenceRuns.filter((r) => r.ok).map((r) => [r.round, r.rps]));
  return runs.filter((r) => r.ok && byRound.has(r.round)).map((r) => r.rps / byRound.get(r.round));
}

/**
 * references: scenario ids to compare with on every framework (`ceiling`, `naive`), plus per
 * framework the ids of scenarios with `compareTo` naming it.
 */
export function summarise(runs, { frameworks, scenarios }) {
  const runsOf = (framework, scenario) =>
    runs.filter((r) => r.framework === framework && r.scenario === scenario);
  const summaries = [];
  for (const framework of frameworks) {
    const references = [
      'ceiling',
      'naive',
      ...scenarios.filter((s) => s.compareTo?.includes(framework)).map((s) => s.id),
    ];
    for (const scenario of scenarios) {
      const mine = runsOf(framework, scenario.id);
      if (mine.length === 0) continue;
      const ok = mine.filter((r) => r.ok);
      const rps = ok.map((r) => r.rps);
      const ratios = {};
      for (const reference of references) {
        if (reference === scenario.id) continue;
        const values = ratiosTo(mine, runsOf(framework, reference));
        if (values.length) ratios[reference] = median(values);
      }
      summaries.push({
        framework,
        scenario: scenario.id,
        rounds: mine.length,
        okRounds: ok.length,
        failures: mine.filter((r) => !r.ok).map((r) => `round ${r.round}: ${r.error}`),
        rps: ok.length ? { median: median(rps), min: Math.min(...rps), max: Math.max(...rps) } : null,
        p50Ms: median(ok.map((r) => r.p50Ms)),
        p99Ms: median(ok.map((r) => r.p99Ms)),
        maxMs: ok.length ? Math.max(...ok.map((r) => r.maxMs)) : null,
        ratios,
        revalidation: ok[0]?.revalidation ?? null,
      });
    }
  }
  return summaries;
}
