import { Readable } from 'node:stream';

/**
 * Response bodies for adapters that capture a body value rather than `res.write` calls (Koa's
 * `ctx.body`, Fastify's `onSend` payload): bytes of a chunk, and a stream read up to a limit.
 */

const EMPTY = Buffer.alloc(0);
const ABORTED = Symbol('aborted');

/** A body read whole, or, past the limit, a stream that still sends all of it. */
export type BufferedBody = { complete: true; body: Buffer } | { complete: false; stream: Readable };

/** The bytes of a string (UTF-8), Buffer, typed array or ArrayBuffer; anything else is empty. */
function toBytes(chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk);
  if (Buffer.isBuffer(chunk)) return chunk;
  if (ArrayBuffer.isView(chunk)) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (chunk instanceof ArrayBuffer) return Buffer.from(chunk);
  return EMPTY;
}

/**
 * Reads a response body value to store it: a string, Buffer or typed array as is; a stream (Node
 * Readable, web ReadableStream, or a Blob's) up to `limit` bytes, as `bufferBody` does, the stream
 * coming back past the limit. Undefined for any other value (an object: the adapter serialises it).
 */
export async function readBody(
  value: unknown,
  limit: number,
  signal?: AbortSignal,
): Promise<Buffer | Readable | undefined> {
  if (typeof value === 'string' || ArrayBuffer.isView(value)) return toBytes(value);
  const source = value instanceof Blob ? value.stream() : value;
  if (typeof (source as Partial<AsyncIterable<unknown>> | null)?.[Symbol.asyncIterator] !== 'function')
    return undefined;
  const read = await bufferBody(source as AsyncIterable<unknown>, limit, signal);
  return read.complete ? read.body : read.stream;
}

/**
 * Reads a body stream (a Node Readable or a web ReadableStream) to store it, up to `limit` bytes.
 * Past the limit, or once `signal` aborts (the core stopped waiting), it stops reading and returns a
 * stream that re-emits what was read and then the rest of the source, so the response still goes
 * out whole, uncached; destroying that stream destroys the source. Rejects with the source's error.
 */
export async function bufferBody(
  source: AsyncIterable<unknown>,
  limit: number,
  signal?: AbortSignal,
): Promise<BufferedBody> {
  const it = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let size = 0;
  let abort: (() => void) | undefined;
  const aborted = new Promise<typeof ABORTED>((resolve) => {
    abort = () => resolve(ABORTED);
  });
  if (signal?.aborted) abort!();
  else signal?.addEventListener('abort', abort!, { once: true });
  try {
    for (;;) {
      const pending = it.next();
      const step = await Promise.race([pending, aborted]);
      if (step === ABORTED) return { complete: false, stream: rest(chunks, it, pending) };
      if (step.done) return { complete: true, body: Buffer.concat(chunks, size) };
      const chunk = toBytes(step.value);
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size > limit) return { complete: false, stream: rest(chunks, it) };
    }
  } finally {
    signal?.removeEventListener('abort', abort!);
  }
}

function rest(
  read: Buffer[],
  it: AsyncIterator<unknown>,
  pending?: Promise<IteratorResult<unknown>>,
): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    let finished = false;
    try {
      yield* read;
      read = [];
      for (let step = await (pending ?? it.next()); !step.done; step = await it.next())
        yield toBytes(step.value);
      finished = true;
    } finally {
      // Destroyed early (the client went away): release the source too.
      if (!finished) await it.return?.();
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
