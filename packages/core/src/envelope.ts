/**
 * A stored entry: a fixed binary header (when it was made, how long it is fresh, how long it may be
 * served stale, how long it took to compute) and the payload bytes, unchanged. Binary rather than
 * JSON so that a hit never re-parses or copies a large body.
 */
export interface EntryMeta {
  /** Epoch milliseconds when the value was computed. */
  createdAt: number;
  /** How long the entry is fresh, in milliseconds. */
  ttlMs: number;
  /** How long past freshness it may still be served stale, in milliseconds. */
  graceMs: number;
  /** How long the computation took, in milliseconds (for early refresh). */
  computeMs: number;
}

export interface Entry extends EntryMeta {
  payload: Buffer;
}

const MAGIC = 0x76; // 'v'
const FORMAT = 1;
const HEADER_BYTES = 2 + 8 * 4;

export function encodeEntry(meta: EntryMeta, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.byteLength);
  out[0] = MAGIC;
  out[1] = FORMAT;
  out.writeDoubleLE(meta.createdAt, 2);
  out.writeDoubleLE(meta.ttlMs, 10);
  out.writeDoubleLE(meta.graceMs, 18);
  out.writeDoubleLE(meta.computeMs, 26);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** Null for bytes that are not an entry of this format: a foreign or corrupt value is a miss, never a crash. */
export function decodeEntry(bytes: Buffer): Entry | null {
  if (bytes.byteLength < HEADER_BYTES || bytes[0] !== MAGIC || bytes[1] !== FORMAT) return null;
  return {
    createdAt: bytes.readDoubleLE(2),
    ttlMs: bytes.readDoubleLE(10),
    graceMs: bytes.readDoubleLE(18),
    computeMs: bytes.readDoubleLE(26),
    payload: bytes.subarray(HEADER_BYTES),
  };
}
