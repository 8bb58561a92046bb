import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// Every code block of the README and docs/ is checked against the repository: TypeScript blocks
// compile against the workspace packages, JavaScript blocks parse, shell blocks name only real
// scripts and tools, and every relative link (and #anchor) resolves.

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');

/**
 * The application's own code that TypeScript examples import from './data.js' (the data layer a
 * reader already has). Only these names exist: an example using anything else fails to compile.
 */
const DATA_MODULE = `
export interface Summary { total: number; errors: number }
export async function heavySummary(): Promise<Summary> { return { total: 0, errors: 0 }; }
export async function reprocess(): Promise<void> {}
export async function rewriteDailyTotals(): Promise<void> {}
export async function report(id: string): Promise<{ id: string; rows: number[] }> { return { id, rows: [] }; }
export async function chart(days: number): Promise<number[]> { return new Array<number>(days).fill(0); }
export function liveStatus(): { ok: boolean } { return { ok: true }; }
`;

const LANGUAGES = new Set(['ts', 'typescript', 'js', 'javascript', 'sh', 'bash', 'text']);
const STANDARD_TOOLS = new Set([
  'npm',
  'node',
  'curl',
  'redis-cli',
  'redis-server',
  'apt-get',
  'git',
  'cd',
  'ls',
]);
// Shell grammar, not commands: a loop's words are checked like any other command after them.
const SHELL_KEYWORDS = new Set(['for', 'do', 'done', 'then', 'fi']);
// pnpm's own commands; anything else after `pnpm` is a script name.
const PNPM_COMMANDS = new Set(['install', 'i', 'add', 'exec', 'list', 'why', 'pack']);

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
}

function markdownFiles(): string[] {
  const files = ['README.md'];
  const walk = (dir: string) => {
    for (const name of readdirSync(join(ROOT, dir)).sort()) {
      const path = `${dir}/${name}`;
      if (statSync(join(ROOT, path)).isDirectory()) walk(path);
      else if (name.endsWith('.md')) files.push(path);
    }
  };
  walk('docs');
  for (const pkg of readdirSync(join(ROOT, 'packages')).sort()) {
    if (existsSync(join(ROOT, 'packages', pkg, 'README.md'))) files.push(`packages/${pkg}/README.md`);
  }
  return files;
}

/** Splits a markdown file into its fenced code blocks and its prose (code blocks blanked out). */
function parseMarkdown(file: string, text: string): { blocks: Block[]; prose: string[] } {
  const blocks: Block[] = [];
  const prose: string[] = [];
  let open: { lang: string; line: number; indent: number; lines: string[] } | undefined;
  text.split('\n').forEach((raw, index) => {
    const fence = /^(\s*)```(.*)$/.exec(raw);
    if (open) {
      if (fence && fence[2]!.trim() === '') {
        blocks.push({ file, line: open.line, lang: open.lang, code: open.lines.join('\n') });
        open = undefined;
      } else open.lines.push(raw.slice(open.indent));
      prose.push('');
    } else if (fence) {
      open = { lang: fence[2]!.trim(), line: index + 2, indent: fence[1]!.length, lines: [] };
      prose.push('');
    } else prose.push(raw);
  });
  if (open) throw new Error(`${file}:${open.line - 1}: unclosed code fence`);
  return { blocks, prose };
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(prose: readonly string[]): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    anchors.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return anchors;
}

function linkProblems(file: string, prose: readonly string[]): string[] {
  const problems: string[] = [];
  prose.forEach((raw, index) => {
    const line = raw.replace(/`[^`]*`/g, '');
    for (const match of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
      const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
      const absolute = pathPart === '' ? join(ROOT, file) : resolve(ROOT, dirname(file), pathPart);
      const repoPath = relative(ROOT, absolute);
      const where = `${file}:${index + 1}: ${target}`;
      if (!existsSync(absolute)) {
        problems.push(`${where}: no such file`);
        continue;
      }
      if (anchor === undefined || !absolute.endsWith('.md')) continue;
      const { prose: targetProse } = parseMarkdown(repoPath, readFileSync(absolute, 'utf8'));
      if (!anchorsOf(targetProse).has(anchor)) problems.push(`${where}: no heading with that anchor`);
    }
  });
  return problems;
}

function packageScripts(): Map<string, Set<string>> {
  const scripts = new Map<string, Set<string>>();
  const read = (dir: string) => {
    const manifest = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as {
      name: string;
      scripts?: Record<string, string>;
    };
    scripts.set(dir === '.' ? '' : manifest.name, new Set(Object.keys(manifest.scripts ?? {})));
  };
  read('.');
  for (const group of ['packages', 'examples']) {
    for (const name of readdirSync(join(ROOT, group))) {
      if (existsSync(join(ROOT, group, name, 'package.json'))) read(`${group}/${name}`);
    }
  }
  read('test');
  read('bench');
  return scripts;
}

function binNames(): Set<string> {
  const bins = new Set<string>();
  for (const name of readdirSync(join(ROOT, 'packages'))) {
    const path = join(ROOT, 'packages', name, 'package.json');
    if (!existsSync(path)) continue;
    const { bin } = JSON.parse(readFileSync(path, 'utf8')) as { bin?: string | Record<string, string> };
    if (bin && typeof bin === 'object') for (const key of Object.keys(bin)) bins.add(key);
  }
  return bins;
}

/** What is wrong with one shell command (words after any VAR=value assignments), or undefined. */
function commandProblem(
  words: string[],
  scripts: Map<string, Set<string>>,
  bins: Set<string>,
): string | undefined {
  const [command, ...args] = words;
  if (command === undefined) return undefined;
  if (command === 'pnpm' || command === 'turbo') return `bare \`${command}\`: use \`npx --yes pnpm@10 …\``;
  if (command === 'node') {
    const script = args.find((arg) => !arg.startsWith('-'));
    return script && !existsSync(resolve(ROOT, script)) ? `node: no such file ${script}` : undefined;
  }
  if (command === 'npx') {
    if (args[0] !== '--yes') return 'npx without --yes';
    if (args[1] !== 'pnpm@10') return `npx --yes ${args[1]}: only pnpm@10 is fetched this way`;
    return pnpmProblem(args.slice(2), scripts);
  }
  if (STANDARD_TOOLS.has(command) || bins.has(command)) return undefined;
  if (command.startsWith('.') && existsSync(resolve(ROOT, command))) return undefined;
  return `unknown command \`${command}\``;
}

function pnpmProblem(args: string[], scripts: Map<string, Set<string>>): string | undefined {
  let filter: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--filter' || arg === '-F') filter = args[++i];
    else if (arg.startsWith('--filter=')) filter = arg.slice('--filter='.length);
    else if (!arg.startsWith('-')) rest.push(arg);
  }
  let [name] = rest;
  if (name === undefined) return 'pnpm without a command';
  if (PNPM_COMMANDS.has(name)) return undefined;
  if (name === 'run') name = rest[1];
  const pkg = filter?.replace(/^\^?\.{0,3}/, '').replace(/\.\.\.$/, '') ?? '';
  const available = scripts.get(pkg);
  if (!available) return `pnpm --filter ${filter}: no such workspace package`;
  return name && available.has(name) ? undefined : `pnpm ${name}: no such script in ${pkg || 'the root'}`;
}

function shellProblems(block: Block, scripts: Map<string, Set<string>>, bins: Set<string>): string[] {
  const problems: string[] = [];
  const source = block.code.replace(/\\\n/g, ' ');
  source.split('\n').forEach((line, offset) => {
    const code = line.replace(/(^|\s)#.*$/, '');
    for (const segment of code.split(/&&|\|\||;|\|/)) {
      const words = segment
        .trim()
        .replace(/^\(|\)$/g, '')
        .split(/\s+/)
        .filter(Boolean);
      while (words[0] && /^[A-Z_][A-Z0-9_]*=/.test(words[0])) words.shift();
      if (words[0] && SHELL_KEYWORDS.has(words[0])) {
        // `for x in …` names no command; `do cmd` and `then cmd` run the words after them.
        if (words[0] === 'for') continue;
        words.shift();
      }
      const problem = commandProblem(words, scripts, bins);
      if (problem) problems.push(`${block.file}:${block.line + offset}: ${problem}`);
    }
  });
  return problems;
}

const files = markdownFiles();
const parsed = files.map((file) => ({
  file,
  ...parseMarkdown(file, readFileSync(join(ROOT, file), 'utf8')),
}));
const blocks = parsed.flatMap((doc) => doc.blocks);

describe('documentation', () => {
  it('tags every code block with a known language', () => {
    const untagged = blocks.filter((b) => !LANGUAGES.has(b.lang)).map((b) => `${b.file}:${b.line} ${b.lang}`);
    expect(untagged).toEqual([]);
    expect(files).toContain('docs/README.md');
  });

  it('links only to files and headings that exist', () => {
    expect(parsed.flatMap((doc) => linkProblems(doc.file, doc.prose))).toEqual([]);
  });

  it('names only real scripts and tools in shell blocks', () => {
    const scripts = packageScripts();
    const bins = binNames();
    const shell = blocks.filter((b) => b.lang === 'sh' || b.lang === 'bash');
    expect(shell.length).toBeGreaterThan(0);
    expect(shell.flatMap((b) => shellProblems(b, scripts, bins))).toEqual([]);
  });

  it('has JavaScript blocks that parse', async () => {
    const js = blocks.filter((b) => b.lang === 'js' || b.lang === 'javascript');
    const dir = await mkdtemp(join(import.meta.dirname, '.docs-js-'));
    try {
      const problems: string[] = [];
      for (const [i, block] of js.entries()) {
        const path = join(dir, `block-${i}.mjs`);
        await writeFile(path, block.code);
        await run(process.execPath, ['--check', path]).catch((error: { stderr?: string }) => {
          problems.push(`${block.file}:${block.line}: ${error.stderr ?? String(error)}`);
        });
      }
      expect(problems).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('has TypeScript blocks that compile against the workspace packages', { timeout: 120_000 }, async () => {
    const ts = blocks.filter((b) => b.lang === 'ts' || b.lang === 'typescript');
    expect(ts.length).toBeGreaterThan(10);
    // Inside the test package, so that the blocks resolve @versioned-cache/*, express, koa, fastify.
    const dir = await mkdtemp(join(import.meta.dirname, '.docs-ts-'));
    try {
      const origin = new Map<string, Block>();
      await writeFile(join(dir, 'data.ts'), DATA_MODULE);
      for (const [i, block] of ts.entries()) {
        const name = `block-${i}.ts`;
        origin.set(name, block);
        // `export {}` makes every block a module of its own (top-level await, no shared globals).
        await writeFile(join(dir, name), `${block.code}\nexport {};\n`);
      }
      const tsconfig = {
        extends: '../../tsconfig.base.json',
        // Decorators as NestJS projects compile them (docs/nestjs.md).
        compilerOptions: {
          noEmit: true,
          rootDir: '.',
          noUnusedLocals: false,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
        },
        include: ['*.ts'],
      };
      await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
      const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
      const output = await run(process.execPath, [tsc, '--noEmit', '-p', join(dir, 'tsconfig.json')], {
        cwd: dir,
        maxBuffer: 16 * 1024 * 1024,
      }).then(
        () => '',
        (error: { stdout?: string }) => error.stdout ?? String(error),
      );
      // Point each error at the markdown line it comes from.
      const located = output
        .split('\n')
        .filter(Boolean)
        .map((line) =>
          line.replace(/^(block-\d+\.ts)\((\d+),(\d+)\)/, (whole, name: string, row: string, col: string) => {
            const block = origin.get(name);
            return block ? `${block.file}:${block.line + Number(row) - 1}:${col}` : whole;
          }),
        );
      expect(located).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
