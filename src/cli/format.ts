/**
 * Plain-text formatting shared by the CLI commands: aligned tables and compact values.
 */
import type { ParamValue } from '../space/types.js';

/**
 * Left-aligned columns separated by two spaces, with a header and a dashed rule. Every cell goes
 * through `formatText`, so a name with a line break (a define-by-run parameter in the header, a
 * study in `kestrel studies`) cannot split the header or a row.
 */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  header = header.map(formatText);
  rows = rows.map((row) => row.map(formatText));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n') + '\n';
}

/** A number in at most 6 significant digits (full precision lives in csv/json output). */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  return String(Number(value.toPrecision(6)));
}

export function formatValues(values: readonly number[] | null): string {
  return values === null ? '-' : values.map(formatNumber).join(', ');
}

/**
 * A parameter value for a table cell or a report line. A string holding a control character (a
 * line break, a tab) is written JSON-quoted and escaped, so it cannot split a table row or a line.
 */
export function formatParam(value: ParamValue): string {
  if (typeof value === 'number') return formatNumber(value);
  if (typeof value === 'string') return formatText(value);
  return String(value);
}

/**
 * A name or string value for one line of text: JSON-quoted and escaped when it holds a control
 * character (a line break, a tab), as is otherwise. Idempotent: its quoted form holds none.
 */
export function formatText(text: string): string {
  return /[\u0000-\u001f\u007f]/.test(text) ? JSON.stringify(text) : text;
}

/** `lr=0.01 layers=2 optimizer=adam` */
export function formatParams(params: Readonly<Record<string, ParamValue>>): string {
  const entries = Object.entries(params);
  return entries.length === 0 ? '(none)' : entries.map(([k, v]) => `${formatText(k)}=${formatParam(v)}`).join(' ');
}

/** `1.2s`, `350ms`, `-` */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}
