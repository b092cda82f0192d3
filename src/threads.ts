// Starting a worker thread from a module beside the caller: the compiled `.js` in the package, or,
// when the caller runs from its TypeScript source (tests, tsx), the `.ts` through tsx's loader.
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** `name` without extension, next to `callerUrl` (the caller's import.meta.url). */
export function moduleWorker(callerUrl: string, name: string, options: WorkerOptions = {}): Worker {
  if (!callerUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, callerUrl), options);
  const url = new URL(`./${name}.ts`, callerUrl).href;
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(url)}); })`, { ...options, eval: true });
}
