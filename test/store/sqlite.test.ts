import fs from 'node:fs';
import path from 'node:path';
import { SqliteStore } from '../../src/store/sqlite.js';
import { tmpDir } from '../helpers.js';
import { storeContract } from './contract.js';

storeContract('sqlite', async () => {
  const dir = tmpDir();
  const file = path.join(dir, 'nested', 'perf.db');
  const open = async () => {
    const s = new SqliteStore(file);
    await s.migrate();
    return s;
  };
  return { store: await open(), reopen: open, cleanup: async () => fs.rmSync(dir, { recursive: true, force: true }) };
});
