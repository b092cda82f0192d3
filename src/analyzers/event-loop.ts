// Event-loop blocking: a p99 event-loop delay that users feel as lag on every request in flight.
import type { Analyzer } from './types.js';

export const eventLoop: Analyzer<{ p99Ms: number }> = {
  meta: { id: 'event-loop', title: 'Event-loop blocking', description: 'Synchronous work holds the event loop: every request waiting behind it is delayed.', requires: ['runtime'] },
  defaults: { p99Ms: { value: 100, source: 'the RAIL model: 100 ms is where a delay is felt; a blocked loop adds it to every request in flight' } },
  async analyze(inputs, o) {
    const s = inputs.runtime!.services.filter((x) => x.eventLoopP99Ms !== undefined);
    if (s.length === 0) return { notApplicable: 'no event-loop delay recorded (the SDK runtime sampler reports it)' };
    return s
      .filter((x) => x.eventLoopP99Ms! >= o.p99Ms)
      .map((x) => ({
        severity: x.eventLoopP99Ms! >= 5 * o.p99Ms ? ('critical' as const) : ('warning' as const),
        title: `${x.service}: event-loop delay p99 ${Math.round(x.eventLoopP99Ms!)} ms`,
        target: { service: x.service },
        evidence: { headings: [{ key: 'p99', label: 'event-loop delay p99 (ms)' }, { key: 'cpu', label: 'CPU (avg, cores)' }, { key: 'rps', label: 'requests/s' }], rows: [{ p99: Math.round(x.eventLoopP99Ms!), cpu: x.cpuAvg === undefined ? '—' : Number(x.cpuAvg.toFixed(2)), rps: Number(x.requestsPerSecond.toFixed(1)) }] },
        impact: { metric: 'added latency', estimate: Math.round(x.eventLoopP99Ms!), unit: 'ms', derivedFrom: `the highest p99 of nodejs.eventloop.delay any ${x.service} instance reported in the window: a request arriving during a block waits that long` },
      }));
  },
};
