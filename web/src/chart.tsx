// Time-series charts with uPlot (made for this: ~50 KB, canvas, 100k points without effort), a
// latency heatmap and a line chart of (x, y) pairs drawn on a canvas. Colours come from the theme's
// CSS variables, so a theme switch redraws them.
import uPlot from 'uplot';
import { useEffect, useRef } from 'preact/hooks';
import { unit as fmtUnit } from './format';

export const PALETTE = ['#2f6fde', '#d4562b', '#1a8f5a', '#8a4fd1', '#b8860b', '#c2185b', '#00838f', '#6d4c41'];

export interface Line {
  label: string;
  points: [number, number][];
}

const css = (name: string) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

function observeTheme(redraw: () => void): () => void {
  const mo = new MutationObserver(redraw);
  mo.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
  return () => mo.disconnect();
}

/**
 * uPlot's aligned data: one x array (seconds) and one y array per line, null where a line has no
 * point. With the step known, a stretch without data gets a null, so the line breaks there instead
 * of bridging it.
 */
function aligned(lines: Line[], step?: number): uPlot.AlignedData {
  const xs = [...new Set(lines.flatMap((l) => l.points.map((p) => p[0])))].sort((a, b) => a - b);
  if (step) for (let i = xs.length - 1; i > 0; i--) if (xs[i] - xs[i - 1] > 1.5 * step) xs.splice(i, 0, xs[i - 1] + step);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = lines.map((l) => {
    const y: (number | null)[] = new Array(xs.length).fill(null);
    for (const [t, v] of l.points) y[index.get(t)!] = v;
    return y;
  });
  return [xs.map((x) => x / 1000), ...ys] as uPlot.AlignedData;
}

export function TimeChart(props: { lines: Line[]; unit?: string; height?: number; label: string; span?: [number, number]; step?: number }) {
  const ref = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  const latest = useRef(props);
  latest.current = props;
  const height = props.height ?? 200;
  // a new chart when its series, unit or size change; new data goes into the chart drawn
  const shape = JSON.stringify([props.lines.map((l) => l.label), props.unit, height]);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const draw = () => {
      plot.current?.destroy();
      const p = latest.current;
      const axis = { stroke: css('--muted'), grid: { stroke: css('--grid'), width: 1 }, ticks: { stroke: css('--grid') } };
      plot.current = new uPlot(
        {
          width: Math.max(200, el.clientWidth),
          height,
          legend: { show: p.lines.length > 0 },
          cursor: { drag: { x: false, y: false } },
          // ratios: 0 to at least 1% (a flat zero line would otherwise span 0 to 100 = 10,000%)
          scales: { x: { time: true, ...(p.span ? { range: (): uPlot.Range.MinMax => [latest.current.span![0] / 1000, latest.current.span![1] / 1000] } : {}) }, ...(p.unit === '1' ? { y: { range: (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(0.01, max * 1.1)] } } : {}) },
          axes: [axis, { ...axis, size: 70, values: (_u, vals) => vals.map((v) => fmtUnit(v, p.unit)) }],
          series: [{}, ...p.lines.map((l, i) => ({ label: l.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, spanGaps: false, value: (_u: uPlot, v: number | null) => fmtUnit(v, p.unit) }))],
        },
        aligned(p.lines, p.step),
        el,
      );
    };
    // each chart is drawn in its own task: several charts never block the page in one long task
    const first = setTimeout(draw, 0);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(200, el.clientWidth), height }));
    ro.observe(el);
    const off = observeTheme(draw);
    return () => {
      clearTimeout(first);
      ro.disconnect();
      off();
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [shape]);
  useEffect(() => {
    plot.current?.setData(aligned(props.lines, props.step));
  }, [props.lines, props.span?.[0], props.span?.[1]]);
  // the same height loading, empty or drawn (with its legend), so nothing below moves
  if (props.lines.length === 0) return <ChartBox height={height}>No data in this range.</ChartBox>;
  return <div ref={ref} class="chart" role="img" aria-label={props.label} style={{ minHeight: `${height + LEGEND}px` }} />;
}

const LEGEND = 48;

export function ChartBox(props: { height?: number; children: string }) {
  return (
    <div class="empty" style={{ height: `${(props.height ?? 200) + LEGEND}px` }}>
      {props.children}
    </div>
  );
}

/**
 * A 220 px canvas at the screen's pixel density, cleared and drawn by `draw` when `deps` change and
 * again when the theme does (its colours come from CSS variables).
 */
function useCanvas(draw: (ctx: CanvasRenderingContext2D, width: number, height: number, dpr: number) => void, deps: unknown[]) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current;
    if (!c) return;
    const paint = () => {
      const ctx = c.getContext('2d')!;
      const dpr = devicePixelRatio;
      const w = (c.width = c.clientWidth * dpr);
      const h = (c.height = 220 * dpr);
      ctx.clearRect(0, 0, w, h);
      draw(ctx, w, h, dpr);
    };
    paint();
    return observeTheme(paint);
  }, deps);
  return ref;
}

/** counts[t][bin]: darker = more requests; bins are latency upper bounds in ms. */
export function Heatmap(props: { times: number[]; bins: number[]; counts: number[][]; label: string }) {
  const ref = useCanvas(
    (ctx, w, h, dpr) => {
      const used = props.bins.map((_, b) => props.counts.some((row) => row[b] > 0));
      const lo = Math.max(0, used.indexOf(true) - 1);
      const hi = Math.min(props.bins.length - 1, used.lastIndexOf(true) + 1);
      const rows = hi - lo + 1;
      const max = Math.max(1, ...props.counts.flat());
      const left = 64 * dpr;
      const cw = (w - left) / Math.max(1, props.times.length);
      const ch = h / rows;
      const accent = css('--accent');
      props.counts.forEach((row, t) => {
        for (let b = lo; b <= hi; b++) {
          if (!row[b]) continue;
          ctx.globalAlpha = 0.15 + 0.85 * Math.sqrt(row[b] / max);
          ctx.fillStyle = accent;
          ctx.fillRect(left + t * cw, h - (b - lo + 1) * ch, Math.ceil(cw), Math.ceil(ch));
        }
      });
      ctx.globalAlpha = 1;
      ctx.fillStyle = css('--muted');
      ctx.font = `${11 * dpr}px system-ui, sans-serif`;
      for (let b = lo; b <= hi; b += Math.max(1, Math.floor(rows / 6))) ctx.fillText(fmtUnit(props.bins[b], 'ms'), 2, h - (b - lo) * ch - 2);
    },
    [props.times, props.bins, props.counts],
  );
  if (!props.counts.some((r) => r.some((n) => n > 0))) return <div class="empty" style={{ height: '220px' }}>No requests in this range.</div>;
  return <canvas ref={ref} class="heatmap" role="img" aria-label={props.label} />;
}

/** A small line chart of (x, y) points, e.g. throughput by concurrency; `fit` draws a second, dashed line. */
export function XYChart(props: { points: [number, number][]; fit?: [number, number][]; xLabel: string; yLabel: string; label: string }) {
  const ref = useCanvas(
    (ctx, w, h, dpr) => {
      const all = [...props.points, ...(props.fit ?? [])];
      const maxX = Math.max(1, ...all.map((p) => p[0]));
      const maxY = Math.max(1e-9, ...all.map((p) => p[1]));
      const px = (x: number) => 50 * dpr + (x / maxX) * (w - 60 * dpr);
      const py = (y: number) => h - 24 * dpr - (y / maxY) * (h - 40 * dpr);
      ctx.strokeStyle = css('--grid');
      ctx.strokeRect(px(0), py(maxY), px(maxX) - px(0), py(0) - py(maxY));
      const line = (pts: [number, number][], color: string, dash: number[]) => {
        ctx.setLineDash(dash);
        ctx.strokeStyle = color;
        ctx.lineWidth = 2 * dpr;
        ctx.beginPath();
        pts.forEach(([x, y], i) => (i ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
        ctx.stroke();
        ctx.setLineDash([]);
      };
      if (props.fit) line(props.fit, css('--muted'), [6 * dpr, 4 * dpr]);
      line(props.points, PALETTE[0], []);
      ctx.fillStyle = PALETTE[0];
      for (const [x, y] of props.points) ctx.fillRect(px(x) - 3 * dpr, py(y) - 3 * dpr, 6 * dpr, 6 * dpr);
      ctx.fillStyle = css('--muted');
      ctx.font = `${11 * dpr}px system-ui, sans-serif`;
      ctx.fillText(`${props.yLabel} (max ${Math.round(maxY)})`, 52 * dpr, 12 * dpr);
      ctx.fillText(`${props.xLabel} (max ${maxX})`, w - 160 * dpr, h - 6 * dpr);
    },
    [props.points, props.fit],
  );
  return <canvas ref={ref} class="heatmap" role="img" aria-label={props.label} />;
}
