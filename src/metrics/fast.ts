/**
 * Per-request counters and histograms registered in a prom-client Registry.
 * prom-client re-hashes the label object on every inc/observe (even through
 * bound children); on the admission hot path that cost is paid per rule. These
 * keep one mutable series per label combination, found by a caller-built key,
 * and hand prom-client plain values at scrape time (the Registry formats them).
 */
import type { Registry } from 'prom-client';

type Labels = Record<string, string>;

interface MetricValue {
  labels: Labels;
  value: number;
  metricName?: string;
}

export interface CounterSeries {
  labels: Labels;
  value: number;
}

export interface HistogramSeries {
  labels: Labels;
  count: number;
  sum: number;
  /** Non-cumulative count per bucket (index = first upper bound >= value; last = +Inf). */
  buckets: Float64Array;
}

abstract class FastMetric<S> {
  readonly name: string;
  readonly help: string;
  readonly aggregator = 'sum';
  protected readonly series = new Map<string, S>();
  constructor(registry: Registry, name: string, help: string) {
    this.name = name;
    this.help = help;
    // The Registry only needs name/help/type/get(): see prom-client's Metric interface.
    registry.registerMetric(this as never);
  }
  /** The series for `key`, created from `labels()` on first use. */
  abstract child(key: string, labels: () => Labels): S;
  reset(): void {
    this.series.clear();
  }
}

export class FastCounter extends FastMetric<CounterSeries> {
  readonly type = 'counter';
  child(key: string, labels: () => Labels): CounterSeries {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: labels(), value: 0 }));
    return s;
  }
  get(): { name: string; help: string; type: 'counter'; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    for (const s of this.series.values()) values.push({ labels: s.labels, value: s.value });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}

export class FastHistogram extends FastMetric<HistogramSeries> {
  readonly type = 'histogram';
  readonly upperBounds: readonly number[];
  constructor(registry: Registry, name: string, help: string, buckets: readonly number[]) {
    super(registry, name, help);
    this.upperBounds = [...buckets].sort((a, b) => a - b);
  }
  child(key: string, labels: () => Labels): HistogramSeries {
    let s = this.series.get(key);
    if (!s) this.series.set(key, (s = { labels: labels(), count: 0, sum: 0, buckets: new Float64Array(this.upperBounds.length + 1) }));
    return s;
  }
  observe(s: HistogramSeries, value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.upperBounds;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    s.buckets[i]!++;
    s.count++;
    s.sum += value;
  }
  get(): { name: string; help: string; type: 'histogram'; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.upperBounds.length; i++) {
        cumulative += s.buckets[i]!;
        values.push({ labels: { le: String(this.upperBounds[i]), ...s.labels }, value: cumulative, metricName: bucketName });
      }
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucketName });
      values.push({ labels: s.labels, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: s.labels, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }
}
