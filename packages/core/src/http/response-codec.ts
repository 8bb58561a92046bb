import type { Codec } from '../codec.js';

/** Header names lower case; several values of one name as an array. */
export type ResponseHeaders = Record<string, string | string[]>;

/** What a hit sends, ready to send: status, the header pairs to replay, and the body bytes. */
export interface StoredResponse {
  status: number;
  headers: ResponseHeaders;
  body: Buffer;
}

const FORMAT = 1;
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
    let size = 5 + response.body.byteLength;
    for (const [name, value] of pairs) size += 5 + name.byteLength + value.byteLength;
    const out = Buffer.allocUnsafe(size);
    out[0] = FORMAT;
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
    response.body.copy(out, offset);
    return out;
  },
  decode(bytes) {
    if (bytes.byteLength < 5 || bytes[0] !== FORMAT) throw new Error('not a stored HTTP response');
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
    return { status, headers, body: bytes.subarray(offset) };
  },
};
