/**
 * The access-log format, written and read as bytes: the dataset is one log file in memory, and every
 * report is a real pass over it, as a log processor would make.
 *
 *     2025-06-01T00:00:11.207Z user=carol endpoint=/api/search status=200 latency_ms=102 bytes=6972
 */
export interface LogRecord {
  /** Epoch milliseconds. */
  time: number;
  user: string;
  endpoint: string;
  status: number;
  latencyMs: number;
  bytes: number;
}

const NEWLINE = 0x0a;
const SPACE = 0x20;
const EQUALS = 0x3d;
const ZERO = 0x30;

const encode = (text: string): Uint8Array => Buffer.from(text, 'latin1');
const USER_KEY = encode(' user=');
const ENDPOINT_KEY = encode(' endpoint=');
const STATUS_KEY = encode(' status=');
const LATENCY_KEY = encode(' latency_ms=');
const BYTES_KEY = encode(' bytes=');
const DAY_MS = 86_400_000;

function copy(target: Buffer, at: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) target[at + i] = bytes[i]!;
  return at + bytes.length;
}

function digits(target: Buffer, at: number, value: number, width: number): number {
  for (let i = width - 1; i >= 0; i--) {
    target[at + i] = ZERO + (value % 10);
    value = (value - (value % 10)) / 10;
  }
  return at + width;
}

function integer(target: Buffer, at: number, value: number): number {
  let width = 1;
  for (let rest = value; rest >= 10; rest = (rest - (rest % 10)) / 10) width++;
  return digits(target, at, value, width);
}

/** Appends log lines to a growing buffer, formatting numbers digit by digit (no string per line). */
export class LogWriter {
  private buffer: Buffer;
  private length = 0;
  private readonly tokens = new Map<string, Uint8Array>();
  /** `YYYY-MM-DDT` of the last line's day: lines come in time order, so days rarely change. */
  private day = Number.NaN;
  private dayBytes: Uint8Array = new Uint8Array(0);

  constructor(expectedLines: number) {
    this.buffer = Buffer.allocUnsafe(Math.max(1024, expectedLines * 112));
  }

  write(record: LogRecord): void {
    if (this.length + 512 > this.buffer.length) {
      const grown = Buffer.allocUnsafe(this.buffer.length * 2);
      this.buffer.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    const buffer = this.buffer;
    let at = this.timestamp(buffer, this.length, record.time);
    at = copy(buffer, at, USER_KEY);
    at = copy(buffer, at, this.token(record.user));
    at = copy(buffer, at, ENDPOINT_KEY);
    at = copy(buffer, at, this.token(record.endpoint));
    at = copy(buffer, at, STATUS_KEY);
    at = integer(buffer, at, record.status);
    at = copy(buffer, at, LATENCY_KEY);
    at = integer(buffer, at, record.latencyMs);
    at = copy(buffer, at, BYTES_KEY);
    at = integer(buffer, at, record.bytes);
    buffer[at++] = NEWLINE;
    this.length = at;
  }

  /** The log written so far (a copy, so the scratch space can be released). */
  finish(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.length));
  }

  private token(text: string): Uint8Array {
    let bytes = this.tokens.get(text);
    if (!bytes) {
      bytes = encode(text);
      this.tokens.set(text, bytes);
    }
    return bytes;
  }

  private timestamp(buffer: Buffer, at: number, time: number): number {
    const day = Math.floor(time / DAY_MS);
    if (day !== this.day) {
      this.day = day;
      this.dayBytes = encode(new Date(day * DAY_MS).toISOString().slice(0, 11));
    }
    let rest = time - day * DAY_MS;
    const ms = rest % 1000;
    rest = (rest - ms) / 1000;
    const seconds = rest % 60;
    rest = (rest - seconds) / 60;
    const minutes = rest % 60;
    at = copy(buffer, at, this.dayBytes);
    at = digits(buffer, at, (rest - minutes) / 60, 2);
    buffer[at++] = 0x3a;
    at = digits(buffer, at, minutes, 2);
    buffer[at++] = 0x3a;
    at = digits(buffer, at, seconds, 2);
    buffer[at++] = 0x2e;
    at = digits(buffer, at, ms, 3);
    buffer[at++] = 0x5a;
    return at;
  }
}

/** Strings seen before come back as the same instance, so a pass allocates one string per distinct value. */
class Interner {
  private readonly seen = new Map<number, { text: string; bytes: Buffer }[]>();

  get(log: Buffer, start: number, end: number, hash: number): string {
    const candidates = this.seen.get(hash);
    if (candidates) {
      for (const candidate of candidates)
        if (sameBytes(candidate.bytes, log, start, end)) return candidate.text;
    }
    const bytes = Buffer.from(log.subarray(start, end));
    const text = bytes.toString('latin1');
    if (candidates) candidates.push({ text, bytes });
    else this.seen.set(hash, [{ text, bytes }]);
    return text;
  }
}

function sameBytes(bytes: Buffer, log: Buffer, start: number, end: number): boolean {
  if (bytes.length !== end - start) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== log[start + i]) return false;
  return true;
}

function readDigits(log: Buffer, at: number, width: number): number {
  let value = 0;
  for (let i = 0; i < width; i++) value = value * 10 + (log[at + i]! - ZERO);
  return value;
}

/**
 * Calls `visit` once per line with a record that is reused between calls (copy what you keep).
 * Unknown keys are skipped, so the format can grow without breaking old reports.
 */
export function scanLog(log: Buffer, visit: (record: LogRecord) => void): number {
  const users = new Interner();
  const endpoints = new Interner();
  const record: LogRecord = { time: 0, user: '', endpoint: '', status: 0, latencyMs: 0, bytes: 0 };
  let lines = 0;
  let at = 0;
  while (at < log.length) {
    record.time = Date.UTC(
      readDigits(log, at, 4),
      readDigits(log, at + 5, 2) - 1,
      readDigits(log, at + 8, 2),
      readDigits(log, at + 11, 2),
      readDigits(log, at + 14, 2),
      readDigits(log, at + 17, 2),
      readDigits(log, at + 20, 3),
    );
    at += 24;
    while (at < log.length && log[at] === SPACE) {
      const keyStart = at + 1;
      let equals = keyStart;
      while (log[equals] !== EQUALS) equals++;
      const key = log[keyStart];
      let end = equals + 1;
      let hash = 0x811c9dc5;
      let number = 0;
      for (let byte = log[end]!; byte !== SPACE && byte !== NEWLINE; byte = log[++end]!) {
        hash = Math.imul(hash ^ byte, 0x01000193);
        number = number * 10 + (byte - ZERO);
      }
      if (key === 0x75 /* user */) record.user = users.get(log, equals + 1, end, hash);
      else if (key === 0x65 /* endpoint */) record.endpoint = endpoints.get(log, equals + 1, end, hash);
      else if (key === 0x73 /* status */) record.status = number;
      else if (key === 0x6c /* latency_ms */) record.latencyMs = number;
      else if (key === 0x62 /* bytes */) record.bytes = number;
      at = end;
    }
    at++;
    lines++;
    visit(record);
  }
  return lines;
}
