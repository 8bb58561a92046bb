// The markdown of one run: how it was run, the side-by-side table, one detailed table per framework.
import { NO_PEER, scenarioRuns } from './scenarios.mjs';

const int = (n) => Math.round(n).toLocaleString('en-US');
const ms = (n) => (n == null ? '' : n < 10 ? n.toFixed(2) : n < 100 ? n.toFixed(1) : n.toFixed(0));
const pct = (ratio) => (ratio == null ? '' : `${Math.round(ratio * 100)} %`);
const times = (ratio) => (ratio == null ? '' : `${ratio.toFixed(2)}×`);
const row = (cells) => `| ${cells.join(' | ')} |`;
const UNAVAILABLE = 'not available in this build';

function cell(summary, scenario, unavailable) {
  if (unavailable) return UNAVAILABLE;
  if (!summary) return '—';
  if (!summary.rps) return 'failed (see notes)';
  const p99 = `p99 ${ms(summary.p99Ms)} ms`;
  if (scenario.id === 'ceiling') return `100 % (${int(summary.rps.median)} req/s, ${p99})`;
  const ratio = summary.ratios.ceiling;
  return ratio == null ? `${int(summary.rps.median)} req/s (${p99})` : `${pct(ratio)} (${p99})`;
}

export function renderMarkdown({ meta, frameworks, scenarios, unavailable, summaries }) {
  const find = (framework, scenario) =>
    summaries.find((s) => s.framework === framework && s.scenario === scenario);
  const lines = [
    '# HTTP hit benchmark',
    '',
    `- Command: \`${meta.command}\``,
    `- Date: ${meta.date}`,
    `- Machine: ${meta.machine}`,
    `- Load (uptime) before: ${meta.loadBefore}`,
    `- Load (uptime) after: ${meta.loadAfter}`,
    `- Setup: ${meta.setup}`,
    '',
    '## Side by side',
    '',
    "Each figure is the median over rounds of the scenario's req/s divided by the same framework's",
    'ceiling in the same round; p99 latency in brackets (median over rounds).',
    '',
    row(['scenario', ...frameworks.map((f) => f.name)]),
    row(['---', ...frameworks.map(() => '---')]),
  ];
  for (const scenario of scenarios) {
    if (!frameworks.some((f) => scenarioRuns(scenario, f.id))) continue;
    lines.push(
      row([
        scenario.name,
        ...frameworks.map((f) =>
          scenarioRuns(scenario, f.id)
            ? cell(find(f.id, scenario.id), scenario, unavailable[scenario.id])
            : '—',
        ),
      ]),
    );
  }
  for (const f of frameworks) {
    if (NO_PEER[f.id]) lines.push('', `Peers on ${f.name}: ${NO_PEER[f.id]}.`);
  }

  const notes = [];
  for (const framework of frameworks) {
    const peers = scenarios.filter((s) => s.compareTo?.includes(framework.id));
    lines.push(
      '',
      `## ${framework.name}`,
      '',
      row([
        'scenario',
        'req/s median (min–max)',
        'p50 ms',
        'p99 ms',
        'max ms',
        '% of ceiling',
        '× naive',
        ...peers.map((p) => `× ${p.id}`),
        'rounds ok',
        'If-None-Match',
      ]),
      row(Array.from({ length: 9 + peers.length }, () => '---')),
    );
    for (const scenario of scenarios) {
      if (!scenarioRuns(scenario, framework.id)) continue;
      if (unavailable[scenario.id]) {
        lines.push(row([scenario.name, UNAVAILABLE, ...Array.from({ length: 7 + peers.length }, () => '')]));
        continue;
      }
      const s = find(framework.id, scenario.id);
      if (!s) continue;
      for (const failure of s.failures) notes.push(`${framework.name}, ${scenario.name}: ${failure}`);
      const rps = s.rps ? `${int(s.rps.median)} (${int(s.rps.min)}–${int(s.rps.max)})` : 'failed';
      lines.push(
        row([
          scenario.name,
          rps,
          ms(s.p50Ms),
          ms(s.p99Ms),
          ms(s.maxMs),
          scenario.id === 'ceiling' ? '100 %' : pct(s.ratios.ceiling),
          times(s.ratios.naive),
          ...peers.map((p) => times(s.ratios[p.id])),
          `${s.okRounds}/${s.rounds}`,
          s.revalidation ?? '',
        ]),
      );
    }
  }

  const unavailableNotes = Object.entries(unavailable).map(([id, reason]) => {
    const scenario = scenarios.find((s) => s.id === id);
    return `${scenario.name}: ${UNAVAILABLE} (${reason})`;
  });
  if (notes.length || unavailableNotes.length) {
    lines.push('', '## Notes', '', ...[...unavailableNotes, ...notes].map((n) => `- ${n}`));
  }
  lines.push(
    '',
    'If-None-Match: what a client revalidating a response gets (a GET with its ETag, if it has one,',
    'and no Cache-Control), and whether the handler ran for it.',
    '',
    'How to read this: docs/benchmarks-method.md. Absolute req/s depend on the machine and its load;',
    'compare ratios, and only between runs on a quiet machine.',
    '',
  );
  return lines.join('\n');
}
