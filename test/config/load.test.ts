import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadConfig, readIngestToken } from '../../src/config/load.js';
import { PerfError } from '../../src/errors.js';
import { tmpDir } from '../helpers.js';

test('defaults work with no file and no environment', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.server.port, 4318);
  assert.equal(c.store.kind, 'sqlite');
  assert.equal(c.monitoring.thresholds.responseTime, 200);
  assert.equal(c.monitoring.thresholds.errorRate, 0.1);
  assert.equal(c.reporting.format, 'json');
});

test('file, then environment, then overrides', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'perf.yml');
  fs.writeFileSync(file, 'monitoring:\n  interval: 5000\nserver:\n  port: 9000\n');
  const c = loadConfig({ file, env: { SOLEMATE_PERF_PORT: '9100', SOLEMATE_PERF_DATABASE_URL: 'postgres://x@localhost/db' }, overrides: { store: { minuteRetentionHours: 12 } } });
  assert.equal(c.monitoring.interval, 5000);
  assert.equal(c.server.port, 9100);
  assert.equal(c.store.kind, 'postgres');
  assert.equal(c.store.minuteRetentionHours, 12);
});

test('bad config names the file, the field and the reason', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'bad.yml');
  fs.writeFileSync(file, 'monitoring:\n  interval: "fast"\n');
  assert.throws(() => loadConfig({ file, env: {} }), (e: PerfError) => e.code === 'PERF_ERR_CONFIG' && e.message.includes('bad.yml') && e.message.includes('monitoring.interval'));
  fs.writeFileSync(file, 'reporting:\n  format: xml\n');
  assert.throws(() => loadConfig({ file, env: {} }), /reporting\.format/);
  fs.writeFileSync(file, 'monitoring:\n  typo: 1\n');
  assert.throws(() => loadConfig({ file, env: {} }), /typo/);
  fs.writeFileSync(file, 'monitoring: [1\n');
  assert.throws(() => loadConfig({ file, env: {} }), /bad\.yml/);
  assert.throws(() => loadConfig({ env: { SOLEMATE_PERF_PORT: 'abc' } }), /SOLEMATE_PERF_PORT/);
  assert.throws(() => loadConfig({ file: path.join(dir, 'missing.yml'), env: {} }), /ENOENT/);
  assert.throws(() => loadConfig({ env: {}, overrides: { store: { kind: 'postgres' } } }), /store\.url/);
});

test('the ingest token comes from the environment or a file, never the config', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'token');
  fs.writeFileSync(file, 's3cret\n');
  const c = loadConfig({ env: {}, overrides: { server: { ingestTokenFile: file } } });
  assert.equal(readIngestToken(c, {}), 's3cret');
  assert.equal(readIngestToken(c, { SOLEMATE_PERF_INGEST_TOKEN: 'env' }), 'env');
  assert.equal(readIngestToken(loadConfig({ env: {} }), {}), undefined);
});
