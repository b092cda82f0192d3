// CPU saturation → scale out (auto-scaling recommendation, FR-3.3). A Node process runs JavaScript
// on one core: near one core busy it queues requests. The instance count comes from the last
// stress test's capacity fit (USL peak throughput per instance) when there is one, else from the
// CPU itself (the load spread so each instance runs at the target utilization).
import type { Analyzer } from './types.js';

export const cpuSaturation: Analyzer<{ cpu: number; target: number; headroom: number }> = {
  meta: { id: 'cpu-saturation', title: 'CPU saturation', description: 'The service spends most of a core: more instances (or less work per request) are needed.', requires: ['runtime'] },
  defaults: {
    cpu: { value: 0.8, source: 'a Node process runs JavaScript on one core; above 80% of it queueing delay grows steeply (M/M/1: wait ∝ ρ/(1−ρ))' },
    target: { value: 0.6, source: 'the usual horizontal autoscaler CPU target (Kubernetes HPA examples use 50–70%)' },
    headroom: { value: 1.5, source: 'capacity for 50% more than the current peak: a traffic spike or one instance lost' },
  },
  async analyze(inputs, o) {
    const rt = inputs.runtime!;
    const s = rt.services.filter((x) => x.cpuAvg !== undefined);
    if (s.length === 0) return { notApplicable: 'no CPU measurements (the SDK runtime sampler reports process.cpu.utilization)' };
    return s
      .filter((x) => x.cpuAvg! >= o.cpu)
      .map((x) => {
        const byCpu = Math.ceil((x.instances * x.cpuAvg!) / o.target);
        const cap = rt.capacity;
        const byCapacity = cap && cap.peakThroughput > 0 ? Math.ceil((x.requestsPerSecond * o.headroom) / cap.peakThroughput) : undefined;
        const count = Math.max(x.instances + 1, byCapacity ?? byCpu);
        return {
          severity: x.cpuAvg! >= 0.95 ? ('critical' as const) : ('warning' as const),
          title: `${x.service}: CPU ${Math.round(x.cpuAvg! * 100)}% of a core on average — run ${count} instances`,
          target: { service: x.service, instances: String(count) },
          evidence: { headings: [{ key: 'cpu', label: 'CPU avg / max' }, { key: 'instances', label: 'instances now' }, { key: 'rps', label: 'requests/s' }, { key: 'cap', label: 'capacity per instance (req/s)' }], rows: [{ cpu: `${Math.round(x.cpuAvg! * 100)}% / ${Math.round((x.cpuMax ?? x.cpuAvg!) * 100)}%`, instances: x.instances, rps: Number(x.requestsPerSecond.toFixed(1)), cap: cap ? Math.round(cap.peakThroughput) : '—' }] },
          impact: {
            metric: 'instances needed',
            estimate: count,
            unit: 'instances',
            derivedFrom: byCapacity !== undefined ? `${x.requestsPerSecond.toFixed(1)} requests/s × ${o.headroom} headroom / ${Math.round(cap!.peakThroughput)} requests/s per instance, the peak of stress run ${cap!.runId} (${cap!.derivedFrom})` : `${x.instances} instance(s) × ${Math.round(x.cpuAvg! * 100)}% CPU / the ${Math.round(o.target * 100)}% target (no stress run with a capacity fit: run "solemate-perf loadtest --profile stress")`,
          },
        };
      });
  },
};
