import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { checkJsonDepth, decompress } from '../../src/ingest/body.js';

test('JSON nesting is measured before parsing, without recursion; strings do not count', () => {
  checkJsonDepth(Buffer.from('{"a":[{"b":[1,2,{"c":"[[[[[[[[[[[[{{{{{{\\"["}]}]}'), 5);
  assert.throws(() => checkJsonDepth(Buffer.from('{"a":[{"b":[1,2,{"c":[]}]}]}'), 5), /deeper than 5 levels \(limits.jsonDepth\)/);
  const deep = Buffer.from('['.repeat(100_000) + ']'.repeat(100_000));
  assert.throws(() => checkJsonDepth(deep, 64), (e: Error & { statusCode?: number }) => e.statusCode === 400);
});

test('decompression is capped, with the setting named', async () => {
  const bomb = zlib.gzipSync(Buffer.alloc(2_000_000));
  assert.equal((await decompress(bomb, 'gzip', 3_000_000)).length, 2_000_000);
  await assert.rejects(decompress(bomb, 'gzip', 1_000_000), (e: Error & { statusCode?: number }) => e.statusCode === 413 && /server.maxDecompressed/.test(e.message));
  await assert.rejects(decompress(Buffer.from('x'), 'br', 10), (e: Error & { statusCode?: number }) => e.statusCode === 415);
});
