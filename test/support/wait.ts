import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `check` until it holds, treating a throw as "not yet" (a server still starting), and fails
 * naming `what` after `timeoutMs`. For states with no event to wait on.
 */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // Not up yet.
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}
