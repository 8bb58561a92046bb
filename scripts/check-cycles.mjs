// Fails when modules import each other in a cycle, type-only imports included: a cycle means two
// files that cannot change, load or be understood apart. Usage: node scripts/check-cycles.mjs [dir...]
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const SOURCE = /\.(ts|tsx|mts|cts|js|mjs|cjs)$/;
const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['packages'];

const files = (dir) =>
  readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) return [];
    const path = join(dir, name);
    return statSync(path).isDirectory()
      ? files(path)
      : SOURCE.test(name) && !name.endsWith('.d.ts')
        ? [path]
        : [];
  });

/** A relative specifier to the file it names: `./x.js` is `./x.ts` in source. */
function resolveImport(from, specifier) {
  if (!specifier.startsWith('.')) return null;
  const base = resolve(dirname(from), specifier);
  const stem = base.replace(/\.(js|mjs|cjs|ts|mts|cts|tsx)$/, '');
  const candidates = [base, ...['.ts', '.tsx', '.mts', '.cts', '.js', '.mjs'].map((ext) => stem + ext)];
  candidates.push(join(base, 'index.ts'), join(base, 'index.js'));
  return candidates.find((path) => existsSync(path) && statSync(path).isFile()) ?? null;
}

const graph = new Map();
for (const file of roots.flatMap((root) => files(resolve(root)))) {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  graph.set(file, [...new Set(importedFiles.map((i) => resolveImport(file, i.fileName)).filter(Boolean))]);
}

// Tarjan's strongly connected components: every component of more than one file (or a file that
// imports itself) is a cycle.
const index = new Map();
const low = new Map();
const stack = [];
const components = [];
function connect(file) {
  index.set(file, index.size);
  low.set(file, index.get(file));
  stack.push(file);
  for (const next of graph.get(file) ?? []) {
    if (!index.has(next)) {
      connect(next);
      low.set(file, Math.min(low.get(file), low.get(next)));
    } else if (stack.includes(next)) low.set(file, Math.min(low.get(file), index.get(next)));
  }
  if (low.get(file) !== index.get(file)) return;
  const component = [];
  let member;
  do {
    member = stack.pop();
    component.push(member);
  } while (member !== file);
  if (component.length > 1 || graph.get(file)?.includes(file)) components.push(component);
}
for (const file of graph.keys()) if (!index.has(file)) connect(file);

const name = (file) => relative(REPO, file);

for (const component of components) {
  console.error(`import cycle among ${component.length} module(s):`);
  for (const file of component.sort()) {
    const inCycle = graph.get(file).filter((next) => component.includes(next));
    console.error(`  ${name(file)} -> ${inCycle.map(name).join(', ')}`);
  }
}
if (components.length > 0) process.exit(1);
console.log(`no import cycles in ${graph.size} modules`);
