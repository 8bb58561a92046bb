/** Turns values into the bytes an entry stores and back. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Buffer): T;
  /**
   * The decoded values are never mutated by anyone, so repeated hits of one entry may share one
   * decoded value instead of decoding the same bytes again.
   * @default false
   */
  readonly shareDecoded?: boolean;
}

export const jsonCodec: Codec<unknown> = {
  encode: (value) => Buffer.from(JSON.stringify(value) ?? 'null'),
  decode: (bytes) => JSON.parse(bytes.toString('utf8')),
};

/** For values that already are bytes: stored and returned as they are. */
export const bufferCodec: Codec<Buffer> = {
  encode: (value) => value,
  decode: (bytes) => bytes,
};
