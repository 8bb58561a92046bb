import { createServer, get, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { revalidatedEtag, watchDownstreamEncoding } from '../src/http/downstream-encoding.js';
import { writeResponse } from '../src/http/node-http.js';

/** Serves one response through `handle` and returns the headers the client received. */
async function headersOf(handle: (res: ServerResponse) => void): Promise<IncomingHttpHeaders> {
  const server = createServer((_req, res) => handle(res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) =>
      get({ host: '127.0.0.1', port, path: '/' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers));
      }).on('error', reject),
    );
  } finally {
    server.close();
  }
}

/** What `compression` does through on-headers: decides inside writeHead, with setHeader. */
function onHeadersCompressor(res: ServerResponse, coding: string): void {
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, status: number, headers?: Record<string, string>) {
    for (const [name, value] of Object.entries(headers ?? {})) this.setHeader(name, value);
    this.setHeader('Content-Encoding', coding);
    this.setHeader('Vary', 'Accept-Encoding');
    return writeHead.call(this, status);
  } as ServerResponse['writeHead'];
}

const response = (headers: Record<string, string>) => ({ status: 200, headers, body: Buffer.from('x') });

describe('watchDownstreamEncoding', () => {
  it('weakens the strong ETag the cache sent when a compressor in front encodes it in writeHead', async () => {
    const headers = await headersOf((res) => {
      onHeadersCompressor(res, 'gzip');
      writeResponse(res, response({ etag: '"abc"', 'content-type': 'text/plain' }));
    });
    expect([headers.etag, headers['content-encoding'], headers.vary]).toEqual([
      'W/"abc"',
      'gzip',
      'Accept-Encoding',
    ]);
  });

  it('sees the headers Fastify hands to writeHead, and a Content-Encoding set after the ETag', async () => {
    const viaWriteHead = await headersOf((res) => {
      watchDownstreamEncoding(res, { etag: '"abc"' });
      res.writeHead(200, { etag: '"abc"', 'content-encoding': 'br' });
      res.end('x');
    });
    expect([viaWriteHead.etag, viaWriteHead.vary]).toEqual(['W/"abc"', 'accept-encoding']);
    const viaSetHeader = await headersOf((res) => {
      watchDownstreamEncoding(res, { etag: '"abc"' });
      res.setHeader('content-encoding', 'deflate');
      res.setHeader('etag', '"abc"');
      res.end('x');
    });
    expect(viaSetHeader.etag).toBe('W/"abc"');
  });

  it("leaves the cache's own coding, identity, another ETag and an uncompressed response alone", async () => {
    const cases: [Record<string, string>, string | undefined, string][] = [
      [{ etag: '"abc-gzip"', 'content-encoding': 'gzip' }, 'gzip', '"abc-gzip"'],
      [{ etag: '"abc"' }, 'identity', '"abc"'],
      [{ etag: '"abc"' }, undefined, '"abc"'],
    ];
    for (const [sent, coding, expected] of cases) {
      const headers = await headersOf((res) => {
        if (coding) onHeadersCompressor(res, coding);
        writeResponse(res, response(sent));
      });
      expect(headers.etag, JSON.stringify(sent)).toBe(expected);
    }
    const replaced = await headersOf((res) => {
      watchDownstreamEncoding(res, { etag: '"abc"' });
      res.setHeader('etag', '"handler"');
      res.setHeader('content-encoding', 'gzip');
      res.end('x');
    });
    expect(replaced.etag).toBe('"handler"');
  });
});

describe('revalidatedEtag', () => {
  it('answers with the weak form only when the client offered the weak form alone', () => {
    expect(revalidatedEtag('W/"abc"', '"abc"')).toBe('W/"abc"');
    expect(revalidatedEtag('"x", W/"abc"', '"abc"')).toBe('W/"abc"');
    expect(revalidatedEtag('"abc", W/"abc"', '"abc"')).toBe('"abc"');
    expect(revalidatedEtag('"abc"', '"abc"')).toBe('"abc"');
    expect(revalidatedEtag('*', '"abc"')).toBe('"abc"');
    expect(revalidatedEtag(undefined, '"abc"')).toBe('"abc"');
    expect(revalidatedEtag('W/"abc"', 'W/"abc"')).toBe('W/"abc"');
  });
});
