import { createRequire } from 'node:module';

/** One metric family as parse-prometheus-text-format (prom2json's shape) gives it; values stay strings. */
export interface MetricFamily {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string; sum?: string }[];
}

const require = createRequire(import.meta.url);
const parse = require('parse-prometheus-text-format') as (text: string) => MetricFamily[];

/** A scrape parsed by a Prometheus text-format parser, with lookups that read an absent series as 0. */
export class Scrape {
  readonly families: Map<string, MetricFamily>;

  /** Every series by its own name, histograms' `_bucket`, `_sum` and `_count` included, with their labels. */
  private readonly flat: Map<string, MetricFamily>;

  constructor(text: string) {
    this.families = new Map(parse(text).map((f) => [f.name, f]));
    // The parser merges a histogram's labelled series into one, losing their labels; declared untyped (which a
    // Prometheus server accepts too), each `_bucket`, `_sum` and `_count` line is a series of its own.
    // A name met again (the next series' `_bucket` lines end a run of `_count`) adds to the family of that name.
    this.flat = new Map();
    for (const f of parse(text.replace(/^# TYPE (\S+) histogram$/gm, '# TYPE $1 untyped'))) {
      const seen = this.flat.get(f.name);
      if (seen) seen.metrics.push(...f.metrics);
      else this.flat.set(f.name, f);
    }
  }

  private series(name: string, labels: Record<string, string>) {
    const family = this.flat.get(name);
    return family?.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)) ?? [];
  }

  /** The sum of a counter's or gauge's samples whose labels include `labels` (0 when there is none). */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.series(name, labels).reduce((sum, m) => sum + Number(m.value ?? 0), 0);
  }

  /** The summed observation count of a histogram's series whose labels include `labels`. */
  count(name: string, labels: Record<string, string> = {}): number {
    return this.value(`${name}_count`, labels);
  }

  /** Whether the scrape has a sample of `name` at all. */
  has(name: string): boolean {
    return (this.flat.get(name)?.metrics.length ?? 0) > 0;
  }
}

/** GETs `/metrics` and parses it; fails on anything but 200 with Prometheus's text content type. */
export async function scrape(baseUrl: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const res = await fetch(`${baseUrl}/metrics`, { headers });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${await res.text()}`);
  const type = res.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain; version=0.0.4')) throw new Error(`/metrics content type is ${type}`);
  return new Scrape(await res.text());
}
