// Empties the build output before a build, so a module that was moved or deleted in src/ is not
// packed from an old dist/ (npm pack takes every file under dist/).
import fs from 'node:fs';
for (const dir of process.argv.slice(2)) fs.rmSync(dir, { recursive: true, force: true });
