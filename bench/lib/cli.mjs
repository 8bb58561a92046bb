// Command-line flags of `pnpm bench`.
import { parseArgs } from 'node:util';
import { FRAMEWORKS, SCENARIOS } from './scenarios.mjs';

export const USAGE = `Usage: pnpm bench [options]

  --rounds N            interleaved rounds (each runs every scenario once)   default 3
  --duration 5s         measured wrk run per scenario and round               default 5s
  --warmup 2s           unmeasured wrk run before it                          default 2s
  --connections 50      wrk connections                                       default 50
  --threads 1           wrk threads (all on the load core)                    default 1
  --frameworks LIST     comma-separated: ${FRAMEWORKS.map((f) => f.id).join(',')}
  --scenarios LIST      comma-separated: ${SCENARIOS.map((s) => s.id).join(',')}
                        (ceiling and naive are always added: ratios need them)
  --quick               smoke run: 1 round, 2s, 1s warm-up
  --out DIR             where latest.md and latest.json go                   default bench/results
  --help`;

const DURATION = /^\d+(\.\d+)?[smh]?$/;

function list(value, known, flag) {
  if (value === undefined) return known;
  const ids = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = ids.filter((id) => !known.some((k) => k.id === id));
  if (unknown.length)
    throw new Error(`${flag}: unknown ${unknown.join(', ')} (known: ${known.map((k) => k.id).join(', ')})`);
  return known.filter((k) => ids.includes(k.id));
}

function positive(value, flag) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a positive integer, got ${value}`);
  return n;
}

function duration(value, flag) {
  if (!DURATION.test(value)) throw new Error(`${flag} must be a wrk duration such as 5s or 1m, got ${value}`);
  return value;
}

export function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      frameworks: { type: 'string' },
      scenarios: { type: 'string' },
      quick: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const quick = values.quick;
  const picked = list(values.scenarios, SCENARIOS, '--scenarios');
  const options = {
    help: values.help,
    rounds: positive(values.rounds ?? (quick ? 1 : 3), '--rounds'),
    duration: duration(values.duration ?? (quick ? '2s' : '5s'), '--duration'),
    warmup: duration(values.warmup ?? (quick ? '1s' : '2s'), '--warmup'),
    connections: positive(values.connections ?? 50, '--connections'),
    threads: positive(values.threads ?? 1, '--threads'),
    frameworks: list(values.frameworks, FRAMEWORKS, '--frameworks'),
    scenarios: SCENARIOS.filter((s) => s.id === 'ceiling' || s.id === 'naive' || picked.includes(s)),
    out: values.out,
  };
  if (options.connections < options.threads) throw new Error('--connections must be at least --threads');
  return options;
}
