import type { Codec } from '../codec.js';

/** Header names lower case; several values of one name as an array. */
export type ResponseHeaders = Record<string, string | string[]>;

/** What a hit sends, ready to send: status, the header pairs to replay, and the body bytes. */
export interface StoredResponse {
  status: number;
  headers: ResponseHeaders;
  body: Buffer;
  /** The body in other content-codings (`gzip`, `br`), built once per fill; absent for identity only. */
  variants?: Partial<Record<string, Buffer>>;
}

const FORMAT = 1;
/** FORMAT plus, before the body, `count u8 | (codingLen u8, coding, length u32, bytes)*`. */
const FORMAT_VARIANTS = 2;
const MAX_NAME = 255;

/**
 * A binary layout, so that a hit decodes headers with a few slices and hands the body over without
 * copying or parsing: `format u8 | status u16 | count u16 | (nameLen u8, name, valueLen u32, value)* | body`.
 * Strings are latin1, which is how Node writes header values, so they round-trip unchanged.
 */
export const storedResponseCodec: Codec<StoredResponse> = {
  encode(response) {
    const pairs: [Buffer, Buffer][] = [];
    for (const [name, value] of Object.entries(response.headers)) {
      if (name.length > MAX_NAME) continue;
      for (const one of Array.isArray(value) ? value : [value])
        pairs.push([Buffer.from(name, 'latin1'), Buffer.from(one, 'latin1')]);
    }
    const variants = Object.entries(response.variants ?? {}).filter(
      (entry): entry is [string, Buffer] => entry[1] !== undefined && entry[0].length <= MAX_NAME,
    );
    let size = 5 + response.body.byteLength;
    for (const [name, value] of pairs) size += 5 + name.byteLength + value.byteLength;
    if (variants.length > 0) size += 1;
    for (const [coding, bytes] of variants) size += 5 + coding.length + bytes.byteLength;
    const out = Buffer.allocUnsafe(size);
    out[0] = variants.length > 0 ? FORMAT_VARIANTS : FORMAT;
    out.writeUInt16LE(response.status, 1);
    out.writeUInt16LE(pairs.length, 3);
    let offset = 5;
    for (const [name, value] of pairs) {
      out[offset] = name.byteLength;
      name.copy(out, offset + 1);
      offset += 1 + name.byteLength;
      out.writeUInt32LE(value.byteLength, offset);
      value.copy(out, offset + 4);
      offset += 4 + value.byteLength;
    }
    if (variants.length > 0) out[offset++] = variants.length;
    for (const [coding, bytes] of variants) {
      out[offset] = out.write(coding, offset + 1, 'latin1');
      offset += 1 + coding.length;
      out.writeUInt32LE(bytes.byteLength, offset);
      bytes.copy(out, offset + 4);
      offset += 4 + bytes.byteLength;
    }
    response.body.copy(out, offset);
    return out;
  },
  decode(bytes) {
    if (bytes.byteLength < 5 || (bytes[0] !== FORMAT && bytes[0] !== FORMAT_VARIANTS))
      throw new Error('not a stored HTTP response');
    const status = bytes.readUInt16LE(1);
    const count = bytes.readUInt16LE(3);
    const headers: ResponseHeaders = {};
    let offset = 5;
    for (let i = 0; i < count; i++) {
      const nameLength = bytes[offset]!;
      const name = bytes.toString('latin1', offset + 1, offset + 1 + nameLength);
      offset += 1 + nameLength;
      const valueLength = bytes.readUInt32LE(offset);
      if (offset + 4 + valueLength > bytes.byteLength) throw new Error('truncated stored HTTP response');
      const value = bytes.toString('latin1', offset + 4, offset + 4 + valueLength);
      offset += 4 + valueLength;
      const existing = headers[name];
      if (existing === undefined) headers[name] = value;
      else if (Array.isArray(existing)) existing.push(value);
      else headers[name] = [existing, value];
    }
    if (bytes[0] === FORMAT) return { status, headers, body: bytes.subarray(offset) };
    const variants: Partial<Record<string, Buffer>> = {};
    const variantCount = bytes[offset++]!;
    for (let i = 0; i < variantCount; i++) {
      const codingLength = bytes[offset]!;
      const coding = bytes.toString('latin1', offset + 1, offset + 1 + codingLength);
      offset += 1 + codingLength;
      const length = bytes.readUInt32LE(offset);
      if (offset + 4 + length > bytes.byteLength) throw new Error('truncated stored HTTP response');
      variants[coding] = bytes.subarray(offset + 4, offset + 4 + length);
      offset += 4 + length;
    }
    return { status, headers, body: bytes.subarray(offset), variants };
  },
};
