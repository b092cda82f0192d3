// Runtime metrics, read at collection time (never per request): event-loop delay (libuv-timer
// sampling by perf_hooks, no JS timer of ours), event-loop utilisation, CPU, memory, GC pauses,
// active handles, and the data filesystem's fill level. Names follow OpenTelemetry semconv.
import fs from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';
import { monitorEventLoopDelay, performance, PerformanceObserver, type EventLoopUtilization } from 'node:perf_hooks';
import type { Recorder } from './recorder.js';
import {
  ACTIVE_RESOURCES, EVENT_LOOP_DELAY, EVENT_LOOP_UTILIZATION, FILESYSTEM_UTILIZATION, GC_DURATION, HEAP_LIMIT, HEAP_USED,
  PROCESS_CPU_UTILIZATION, PROCESS_MEMORY_USAGE, PROCESS_MEMORY_UTILIZATION,
} from '../semconv.js';

const GC_KINDS: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };

export interface RuntimeSampler {
  /** Records one sample of every runtime gauge; call right before Recorder.collect(). */
  sample(): void;
  stop(): void;
}

export function startRuntimeSampler(recorder: Recorder, options: { filesystemPath?: string } = {}): RuntimeSampler {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const loopDelay = recorder.gauge(EVENT_LOOP_DELAY, { unit: 's', description: 'Event-loop delay over the interval, by percentile' });
  const p50 = loopDelay.bind({ quantile: 'p50' });
  const p99 = loopDelay.bind({ quantile: 'p99' });
  const pmax = loopDelay.bind({ quantile: 'max' });
  const elu = recorder.gauge(EVENT_LOOP_UTILIZATION, { unit: '1' }).bind();
  const cpu = recorder.gauge(PROCESS_CPU_UTILIZATION, { unit: '1', description: 'CPU time / wall time; 1 = one core busy' }).bind();
  const rss = recorder.gauge(PROCESS_MEMORY_USAGE, { unit: 'By' }).bind();
  const memUtil = recorder.gauge(PROCESS_MEMORY_UTILIZATION, { unit: '1', description: 'RSS / memory available to the process' }).bind();
  const heapUsed = recorder.gauge(HEAP_USED, { unit: 'By' }).bind();
  const heapLimit = recorder.gauge(HEAP_LIMIT, { unit: 'By' }).bind();
  const resources = recorder.gauge(ACTIVE_RESOURCES, { unit: '{resource}' }).bind();
  const disk = recorder.gauge(FILESYSTEM_UTILIZATION, { unit: '1' }).bind();
  const gc = recorder.histogram(GC_DURATION, { unit: 's', description: 'Garbage-collection pauses' });
  const gcHandles = new Map<string, { record(v: number): void }>();
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = GC_KINDS[(e as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
      let h = gcHandles.get(kind);
      if (!h) gcHandles.set(kind, (h = gc.bind({ 'v8js.gc.type': kind })));
      h.record(e.duration / 1000);
    }
  });
  observer.observe({ entryTypes: ['gc'] });

  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.() ?? 0;
  const memoryLimit = constrained > 0 ? Math.min(constrained, os.totalmem()) : os.totalmem();
  const fsPath = options.filesystemPath ?? process.cwd();
  let lastElu: EventLoopUtilization = performance.eventLoopUtilization();
  let lastCpu = process.cpuUsage();
  let lastTime = performance.now();

  return {
    sample() {
      const now = performance.now();
      const cpuNow = process.cpuUsage();
      const elapsedUs = (now - lastTime) * 1000;
      if (elapsedUs > 0) cpu.record((cpuNow.user - lastCpu.user + cpuNow.system - lastCpu.system) / elapsedUs);
      lastCpu = cpuNow;
      lastTime = now;
      const eluNow = performance.eventLoopUtilization();
      elu.record(performance.eventLoopUtilization(eluNow, lastElu).utilization);
      lastElu = eluNow;
      if (delay.count > 0) {
        p50.record(delay.percentile(50) / 1e9);
        p99.record(delay.percentile(99) / 1e9);
        pmax.record(delay.max / 1e9);
      }
      delay.reset();
      const mem = process.memoryUsage();
      rss.record(mem.rss);
      memUtil.record(mem.rss / memoryLimit);
      heapUsed.record(mem.heapUsed);
      heapLimit.record(v8.getHeapStatistics().heap_size_limit);
      resources.record(process.getActiveResourcesInfo().length);
      try {
        const s = fs.statfsSync(fsPath);
        const used = s.blocks - s.bfree;
        if (used + s.bavail > 0) disk.record(used / (used + s.bavail)); // as df computes Use%
      } catch {
        // no filesystem reading on this platform: the gauge stays empty
      }
    },
    stop() {
      delay.disable();
      observer.disconnect();
    },
  };
}
