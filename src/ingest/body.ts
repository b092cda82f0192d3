// An OTLP request body before it is decoded: decompressed within a cap, and a JSON body's nesting
// measured before JSON.parse, whose recursion a 100k-deep body would overflow.
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import { PerfError } from '../errors.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

export async function decompress(body: Buffer, encoding: string, max: number): Promise<Buffer> {
  try {
    if (encoding === 'gzip') return await gunzip(body, { maxOutputLength: max });
    if (encoding === 'deflate') return await inflate(body, { maxOutputLength: max });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new PerfError('PERF_ERR_PAYLOAD_TOO_LARGE', `body is larger than ${max} bytes once decompressed (server.maxDecompressed): export in smaller batches`);
    throw new PerfError('PERF_ERR_BAD_REQUEST', `body is not valid ${encoding}: ${(e as Error).message}`);
  }
  if (encoding !== 'identity') throw new PerfError('PERF_ERR_UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${encoding} is not supported (use gzip, deflate or none)`);
  if (body.length > max) throw new PerfError('PERF_ERR_PAYLOAD_TOO_LARGE', `body is larger than ${max} bytes (server.maxDecompressed): export in smaller batches`);
  return body;
}

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Throws a 400 when arrays and objects nest deeper than `max` (strings are skipped). One pass, no recursion. */
export function checkJsonDepth(body: Buffer, max: number): void {
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === QUOTE) {
      for (i++; i < body.length && body[i] !== QUOTE; i++) if (body[i] === BACKSLASH) i++;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) throw new PerfError('PERF_ERR_BAD_REQUEST', `JSON nests deeper than ${max} levels (limits.jsonDepth); OTLP needs about 10`);
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
}
