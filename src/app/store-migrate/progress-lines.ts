/**
 * The lines `kiln store migrate` prints as it goes (`blobs: 120/340, 1.2 GiB`), at most one a second per step
 * but always the last, and the final summary as text.
 */
import type { StepProgress } from './migration-step.js';
import type { MigrationSummary } from './migrate-store.js';

/** `1.2 GiB`, `340 KiB`, `12 B`: binary units, one decimal from KiB up. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** One progress line, without its newline. */
export function progressLine(step: string, p: StepProgress): string {
  return `${step}: ${p.done}/${p.total}${p.bytes === undefined ? '' : `, ${formatBytes(p.bytes)}`}`;
}

/** A progress callback that writes a step's line when a second has passed since its last one, or when it is done. */
export function throttledProgress(write: (line: string) => void, intervalMs = 1000, now: () => number = Date.now): (step: string, p: StepProgress) => void {
  const last = new Map<string, number>();
  return (step, p) => {
    const t = now();
    if (p.done < p.total && t - (last.get(step) ?? -Infinity) < intervalMs) return;
    last.set(step, t);
    write(progressLine(step, p));
  };
}

/** The summary as lines of text. */
export function summaryLines(summary: MigrationSummary): string[] {
  const lines = [`Migrated into ${summary.target.store} and bucket ${summary.target.bucket}${summary.target.prefix ? ` (prefix ${summary.target.prefix})` : ''} in ${summary.seconds} s`];
  for (const step of summary.steps) {
    const parts = [`${step.items}`];
    if (step.skipped) parts.push(`${step.skipped} already there`);
    if (step.bytes !== undefined) parts.push(formatBytes(step.bytes));
    lines.push(`  ${step.name}: ${parts.join(', ')}`);
    for (const [name, n] of Object.entries(step.detail ?? {})) if (n > 0) lines.push(`    ${name}: ${n}`);
  }
  lines.push(`  access-key secrets: ${summary.secrets}`);
  return lines;
}
