import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

// Every process and temporary directory a test helper starts is registered here, so that whatever
// a test does (fails, times out, forgets its `finally`), nothing outlives the test worker: each
// helper stops its own in try/finally, and this exit hook is the last resort.

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooked = false;

function cleanUp(): void {
  for (const child of children) {
    // SIGKILL also ends a SIGSTOPped server, which would ignore SIGTERM until resumed.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // A server killed a moment ago may still hold a file open: nothing more can be done here.
    }
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', cleanUp);
  // The test runner ends its worker processes with SIGTERM, which skips 'exit' handlers: clean up,
  // then let the signal take its default course.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanUp();
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    });
  }
}

/** Registers a child process until it exits. */
export function trackProcess(child: ChildProcess): ChildProcess {
  hook();
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Registers a temporary directory; `forgetDir` once it has been removed. */
export function trackDir(dir: string): string {
  hook();
  dirs.add(dir);
  return dir;
}

export function forgetDir(dir: string): void {
  dirs.delete(dir);
}

/** SIGKILLs a child and resolves once it has exited (at once if it already has). */
export async function killProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** Processes still registered: a test can assert that it left none behind. */
export function liveProcesses(): number {
  let live = 0;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) live++;
  return live;
}
