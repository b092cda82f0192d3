// Memory growth: heap used rising steadily over the window (Theil–Sen slope, significant by
// Mann–Kendall), with the hours left until the heap limit at that rate.
import type { Analyzer } from './types.js';

export const memoryGrowth: Analyzer<{ minChangePct: number; horizonHours: number }> = {
  meta: { id: 'memory-growth', title: 'Memory growth', description: 'The heap grows steadily: a leak or an unbounded cache, heading for the heap limit.', requires: ['runtime'] },
  defaults: {
    minChangePct: { value: 10, source: 'less growth over the window is within what GC cycles and warm caches move' },
    horizonHours: { value: 24, source: 'a process that reaches its heap limit within a day will crash before the next working day' },
  },
  async analyze(inputs, o) {
    const s = inputs.runtime!.services.filter((x) => x.heap);
    if (s.length === 0) return { notApplicable: 'no heap measurements (the SDK runtime sampler reports v8js.memory.heap.used)' };
    const findings = [];
    for (const x of s) {
      const t = x.heap!;
      if (t.trend !== 'degrading' || t.change < o.minChangePct || t.slopePerHour <= 0) continue;
      const last = t.dataPoints.at(-1)?.value ?? 0;
      const hoursLeft = x.heapLimitBytes ? Math.max(0, (x.heapLimitBytes - last) / t.slopePerHour) : undefined;
      findings.push({
        severity: hoursLeft !== undefined && hoursLeft < o.horizonHours ? ('critical' as const) : ('warning' as const),
        title: `${x.service}: heap grows ${(t.slopePerHour / 1048576).toFixed(1)} MiB/hour (+${t.change}% over the window)`,
        target: { service: x.service },
        evidence: { headings: [{ key: 'now', label: 'heap used (MiB)' }, { key: 'slope', label: 'MiB/hour' }, { key: 'p', label: 'Mann–Kendall p' }, { key: 'left', label: 'hours to the limit' }], rows: [{ now: Number((last / 1048576).toFixed(1)), slope: Number((t.slopePerHour / 1048576).toFixed(2)), p: t.pValue ?? '—', left: hoursLeft === undefined ? '—' : Number(hoursLeft.toFixed(1)) }] },
        impact: { metric: 'time to out-of-memory', estimate: hoursLeft === undefined ? -1 : Number(hoursLeft.toFixed(1)), unit: 'hours', derivedFrom: `(heap limit − heap used now) / the ${t.method}${hoursLeft === undefined ? '; no heap limit reported (-1: unknown)' : ''}` },
      });
    }
    return findings;
  },
};
