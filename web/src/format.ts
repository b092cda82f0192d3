// Numbers as people read them. Missing values show as an en dash, never as 0.

/** a finding's severity as a badge tone */
export const SEVERITY_TONE: Record<string, string> = { critical: 'bad', warning: 'warn', info: '' };
const nf = (digits: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: digits });

export function num(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : nf(digits).format(v);
}

export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  if (v >= 1000) return `${num(v / 1000, 2)} s`;
  return `${num(v, v < 10 ? 2 : 1)} ms`;
}

export function pct(ratio: number | null | undefined, digits = 2): string {
  return ratio === null || ratio === undefined || !Number.isFinite(ratio) ? '–' : `${num(ratio * 100, digits)}%`;
}

export function bytes(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${num(v, i ? 1 : 0)} ${units[i]}`;
}

export function time(v: number | string | null | undefined): string {
  if (v === null || v === undefined) return '–';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '–' : d.toLocaleString('en-GB', { dateStyle: 'short', timeStyle: 'medium' });
}

export function ago(v: number | string): string {
  const s = Math.round((Date.now() - new Date(v).getTime()) / 1000);
  if (s < 60) return `${Math.max(0, s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

/** A value in a panel's unit. */
export function unit(v: number | null | undefined, u: string | undefined): string {
  switch (u) {
    case 'ms':
      return ms(v);
    case '1':
      return pct(v, 1);
    case '%':
      return v === null || v === undefined ? '–' : `${num(v, 2)}%`;
    case 'By':
      return bytes(v);
    case 'req/s':
      return `${num(v, 1)}/s`;
    default:
      return num(v, 2);
  }
}

/** A p-value: three significant digits, or "< 0.0001". */
export function pv(p: number | null | undefined): string {
  if (p === null || p === undefined || !Number.isFinite(p)) return '–';
  return p < 1e-4 ? '< 0.0001' : `= ${num(p, 4)}`;
}
