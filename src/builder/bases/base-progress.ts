/**
 * How far a managed base's preparation is, read from what the bootstrap prints: mmdebstrap's `I: …` lines and
 * Kiln's own notes (debian-base.ts). mmdebstrap gives no byte counts, so the percent is the share of a typical
 * bootstrap's time spent before each phase (measured on the Debian 12 bases: download and dpkg dominate).
 */

/** Where a managed base is: not bootstrapped, being bootstrapped, stored, or the last attempt failed. */
export type BaseState = 'absent' | 'preparing' | 'ready' | 'failed';

/** One managed base as `kiln bases ls` and the console show it. */
export interface BaseStatus {
  name: string;
  arn: string;
  region: string;
  kind: 'container' | 'machine';
  state: BaseState;
  /** While preparing: what is being done, e.g. "installing packages". */
  phase?: string;
  /** While preparing: 0–99, from the phase. */
  percent?: number;
  /** While preparing: seconds left, from the previous preparation's duration or else from the percent. */
  secondsLeft?: number;
  /** While preparing: when it started (ISO time). */
  startedAt?: string;
  /** How long the last finished preparation took, in seconds. */
  lastDurationSeconds?: number;
  /** When failed: why. */
  reason?: string;
}

/** Output markers, in the order a bootstrap prints them, with the phase they start and its percent. */
const MARKERS: readonly (readonly [RegExp, string, number])[] = [
  [/^SOURCE_DATE_EPOCH=/m, 'reading the mirror', 2],
  [/^I: running apt-get update/m, 'updating package lists', 5],
  [/^I: downloading packages/m, 'downloading packages', 10],
  [/^I: extracting archives/m, 'extracting packages', 35],
  [/^I: installing essential packages/m, 'installing essential packages', 45],
  [/^I: installing remaining packages/m, 'installing packages', 60],
  [/^I: cleaning package lists/m, 'cleaning up', 75],
  [/^unpacked the cached bootstrap/m, 'storing the layer', 80],
  [/^mmdebstrap took/m, 'storing the layer', 80],
  [/^layer sha256:/m, 'writing the image', 97],
];

/** Follows one preparation's output; `snapshot` says where it is and how long it may take still. */
export class BaseProgress {
  phase = 'starting';
  percent = 0;
  private carry = '';

  constructor(
    readonly startedAt: Date,
    private readonly previousSeconds: number | undefined,
  ) {}

  /** Feeds output text (any chunking); returns true when the phase changed. */
  feed(text: string): boolean {
    // Markers are matched on whole lines; a chunk may end mid-line.
    const lines = (this.carry + text).split('\n');
    this.carry = lines.pop() ?? '';
    let changed = false;
    for (const line of lines) {
      for (const [re, phase, percent] of MARKERS) {
        if (percent >= this.percent && re.test(line) && phase !== this.phase) {
          this.phase = phase;
          this.percent = percent;
          changed = true;
        }
      }
    }
    return changed;
  }

  /** Seconds left: the previous run's duration less the time spent, or extrapolated from the percent. */
  secondsLeft(now: Date = new Date()): number | undefined {
    const elapsed = (now.getTime() - this.startedAt.getTime()) / 1000;
    if (this.previousSeconds !== undefined && elapsed < this.previousSeconds) return Math.round(this.previousSeconds - elapsed);
    if (this.percent < 5) return undefined;
    return Math.max(1, Math.round((elapsed * (100 - this.percent)) / this.percent));
  }
}

/** One line for logs and the CLI: `debian-12-x86: installing packages (60%, about 25 s left)`. */
export function describeStatus(s: BaseStatus): string {
  if (s.state === 'preparing') {
    const left = s.secondsLeft === undefined ? '' : `, about ${s.secondsLeft} s left`;
    return `${s.name}: ${s.phase ?? 'preparing'} (${s.percent ?? 0}%${left})`;
  }
  if (s.state === 'failed') return `${s.name}: failed: ${s.reason ?? 'unknown reason'}`;
  return `${s.name}: ${s.state}`;
}
