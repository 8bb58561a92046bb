import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The lint step's cycle check (scripts/check-cycles.mjs), run on small module graphs it must judge.

const run = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../scripts/check-cycles.mjs', import.meta.url));

async function check(files: Record<string, string>): Promise<{ code: number; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'vc-cycles-'));
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    try {
      const { stdout, stderr } = await run(process.execPath, [SCRIPT, dir]);
      return { code: 0, output: stdout + stderr };
    } catch (error) {
      const failed = error as { code: number; stdout: string; stderr: string };
      return { code: failed.code, output: failed.stdout + failed.stderr };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('import cycle check', () => {
  it('fails on a cycle made only of type imports, naming both modules', async () => {
    const result = await check({
      'reader.ts': "import type { Filler } from './filler.js';\nexport type Reader = { f?: Filler };\n",
      'filler.ts': "export type { Reader as R } from './reader.js';\nexport type Filler = number;\n",
    });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/import cycle among 2 module\(s\)/);
    expect(result.output).toMatch(/filler\.ts -> .*reader\.ts/);
    expect(result.output).toMatch(/reader\.ts -> .*filler\.ts/);
  });

  it('fails on a longer cycle through a dynamic import', async () => {
    const result = await check({
      'a.ts': "import { b } from './b.js';\nexport const a = b;\n",
      'b.ts': "import { c } from './c.js';\nexport const b = c;\n",
      'c.ts': "export const c = 1;\nexport const load = () => import('./a.js');\n",
    });
    expect(result.code).toBe(1);
    expect(result.output).toMatch(/import cycle among 3 module\(s\)/);
  });

  // Reads every source file of the repository: slow on a loaded machine, and bounded all the same.
  it('passes a graph without cycles, and the repository itself', { timeout: 120_000 }, async () => {
    const result = await check({
      'a.ts': "import type { B } from './b.js';\nexport type A = B;\n",
      'b.ts': 'export type B = string;\n',
    });
    expect(result).toMatchObject({ code: 0, output: expect.stringMatching(/no import cycles in 2 modules/) });
    const repo = await run(process.execPath, [SCRIPT], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
    });
    expect(repo.stdout).toMatch(/no import cycles/);
  });
});
