// A load worker thread: runs one share of a phase and posts progress and its result back.
import { parentPort, workerData } from 'node:worker_threads';
import { runPhaseHere, type PhaseOptions } from './runner.js';

const options = workerData as PhaseOptions;
const result = await runPhaseHere({ ...options, onProgress: (progress) => parentPort!.postMessage({ progress }) });
parentPort!.postMessage({ result });
