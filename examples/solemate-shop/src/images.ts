// Product images: PNGs drawn here (a shoe-ish silhouette on a gradient, with grain so they compress
// like photos do), cached per variant and size. With the oversizedImages fault they are 1200 px
// wide where the page shows 300 px.
import zlib from 'node:zlib';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** An RGB PNG of `size`×`size`, different per variant. */
export function drawProduct(variant: number, size: number): Buffer {
  const hue = (variant * 47) % 360;
  const [r0, g0, b0] = hsl(hue, 0.45, 0.85);
  const [r1, g1, b1] = hsl((hue + 200) % 360, 0.6, 0.35);
  const raw = Buffer.alloc((size * 3 + 1) * size);
  let seed = variant * 2654435761;
  for (let y = 0; y < size; y++) {
    const row = y * (size * 3 + 1);
    raw[row] = 0; // filter: none
    for (let x = 0; x < size; x++) {
      seed = (seed * 1664525 + 1013904223) >>> 0;
      const grain = ((seed >>> 24) & 15) - 8;
      const u = x / size;
      const v = y / size;
      // a sole (lower band) and an upper (ellipse)
      const inShoe = (v > 0.62 && v < 0.7 && u > 0.12 && u < 0.9) || ((u - 0.5) ** 2 / 0.14 + (v - 0.5) ** 2 / 0.03 < 1 && v < 0.64);
      const t = v;
      const o = row + 1 + x * 3;
      raw[o] = clamp((inShoe ? r1 : r0 * (1 - t * 0.2)) + grain);
      raw[o + 1] = clamp((inShoe ? g1 : g0 * (1 - t * 0.2)) + grain);
      raw[o + 2] = clamp((inShoe ? b1 : b0 * (1 - t * 0.2)) + grain);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw, { level: 6 })), chunk('IEND', Buffer.alloc(0))]);
}

const clamp = (x: number) => Math.max(0, Math.min(255, Math.round(x)));

function hsl(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)));
  return [255 * f(0), 255 * f(8), 255 * f(4)];
}

export const IMAGE_VARIANTS = 24;
const cache = new Map<string, Buffer>();

export function productImage(productId: number, size: number): Buffer {
  const variant = productId % IMAGE_VARIANTS;
  const key = `${variant}:${size}`;
  let png = cache.get(key);
  if (!png) cache.set(key, (png = drawProduct(variant, size)));
  return png;
}
