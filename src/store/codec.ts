// Compact binary form of a histogram for the store: version, scale, zero count, offset, counts —
// all varints (zigzag for signed). A typical latency histogram (200–900 buckets) packs to < 1 KB.
import type { HistogramData } from '../model/histogram.js';

const VERSION = 1;

export function encodeHistogram(h: HistogramData): Buffer {
  const out: number[] = [VERSION];
  writeVarint(out, zigzag(h.scale));
  writeVarint(out, h.zeroCount);
  writeVarint(out, zigzag(h.offset));
  writeVarint(out, h.counts.length);
  for (const c of h.counts) writeVarint(out, c);
  return Buffer.from(out);
}

export function decodeHistogram(buf: Uint8Array): HistogramData {
  if (buf[0] !== VERSION) throw new Error(`unknown histogram encoding version ${buf[0]}`);
  const pos = { i: 1 };
  const scale = unzigzag(readVarint(buf, pos));
  const zeroCount = readVarint(buf, pos);
  const offset = unzigzag(readVarint(buf, pos));
  const n = readVarint(buf, pos);
  const counts = new Array<number>(n);
  for (let k = 0; k < n; k++) counts[k] = readVarint(buf, pos);
  return { scale, zeroCount, offset, counts };
}

// Counts are integers below 2^53; arithmetic instead of bit operations keeps them exact past 2^31.
function writeVarint(out: number[], v: number): void {
  let n = Math.round(v);
  while (n >= 128) {
    out.push((n % 128) + 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
}

function readVarint(buf: Uint8Array, pos: { i: number }): number {
  let result = 0;
  let mul = 1;
  while (true) {
    if (pos.i >= buf.length) throw new Error('truncated histogram');
    const b = buf[pos.i++];
    result += (b & 127) * mul;
    if (b < 128) return result;
    mul *= 128;
  }
}

const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);
const unzigzag = (n: number): number => (n % 2 === 0 ? n / 2 : -(n + 1) / 2);
