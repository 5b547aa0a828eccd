/**
 * Prometheus text exposition for Cairn's own metrics: labelled counters, gauges and histograms,
 * kept in memory and rendered on /metrics.
 */

import { Histogram } from './histogram.js';

type Labels = Record<string, string>;

const labelKey = (l: Labels) =>
  Object.keys(l)
    .sort()
    .map((k) => `${k}="${String(l[k]).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

interface Family {
  render(): string;
}

export class CounterVec implements Family {
  private values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1) {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string {
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n`;
    for (const [k, v] of this.values) s += `${this.name}${k ? `{${k}}` : ''} ${v}\n`;
    return s;
  }
}

export class GaugeFunc implements Family {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => { labels?: Labels; value: number }[],
  ) {}
  render(): string {
    let s = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n`;
    for (const { labels, value } of this.read()) {
      const k = labelKey(labels ?? {});
      s += `${this.name}${k ? `{${k}}` : ''} ${value}\n`;
    }
    return s;
  }
}

export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** One histogram's series lines (`labels` already rendered, e.g. `verb="GET"`, or empty). */
export function histogramText(name: string, labels: string, h: Histogram): string {
  const pre = labels ? `${labels},` : '';
  const sel = labels ? `{${labels}}` : '';
  let out = '';
  h.buckets.forEach((b, i) => (out += `${name}_bucket{${pre}le="${b}"} ${h.cumulativeCounts[i]}\n`));
  out += `${name}_bucket{${pre}le="+Inf"} ${h.count}\n`;
  out += `${name}_sum${sel} ${h.sum}\n${name}_count${sel} ${h.count}\n`;
  return out;
}

export class HistogramVec implements Family {
  private series = new Map<string, Histogram>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[] = DEFAULT_BUCKETS,
  ) {}
  observe(labels: Labels, v: number) {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = new Histogram(this.buckets)));
    s.observe(v);
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    for (const [k, s] of this.series) out += histogramText(this.name, k, s);
    return out;
  }
}

export class MetricsRegistry {
  private families: Family[] = [];
  private extra: (() => string)[] = [];
  register<T extends Family>(f: T): T {
    this.families.push(f);
    return f;
  }
  /** Adds text rendered by another component (e.g. controller metrics). */
  addSource(render: () => string) {
    this.extra.push(render);
  }
  render(): string {
    return this.families.map((f) => f.render()).join('') + this.extra.map((r) => r()).join('');
  }
}
