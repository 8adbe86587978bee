// The subset of prom-client that /metrics uses (Registry, Counter, Gauge, Histogram; inc, set,
// observe, reset), written out in the Prometheus text format 0.0.4. prom-client and its
// dependencies cost 4.6 MB of every install (tdigest, bintrees, @opentelemetry/api) for features
// a node does not use (summaries, default process metrics, push gateway, OpenMetrics).
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format

type Labels = Record<string, string | number>

interface Metric { text(): string }

export class Registry {
  readonly contentType = 'text/plain; version=0.0.4; charset=utf-8'
  private readonly list: Metric[] = []
  register (m: Metric): void { this.list.push(m) }
  async metrics (): Promise<string> { return this.list.map(m => m.text() + '\n').join('\n') } // prom-client's layout
}

interface MetricInit { name: string, help: string, labelNames?: string[], registers?: Registry[] }

const escapeHelp = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
const escapeValue = (s: string): string => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')

function formatNumber (v: number): string {
  if (Number.isNaN(v)) return 'NaN'
  if (v === Infinity) return '+Inf'
  if (v === -Infinity) return '-Inf'
  return String(v)
}

/** `extra` (a histogram's le) goes first, as prom-client writes it. */
function formatLabels (labels: Labels, extra?: [string, string]): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeValue(String(v))}"`)
  if (extra !== undefined) parts.unshift(`${extra[0]}="${escapeValue(extra[1])}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

/** Series keyed by their label set; a metric without label names starts with its one series at 0. */
abstract class Base<V> implements Metric {
  protected readonly series = new Map<string, { labels: Labels, value: V }>()
  constructor (protected readonly init: MetricInit, private readonly type: string) {
    for (const r of init.registers ?? []) r.register(this)
    if ((init.labelNames ?? []).length === 0) this.entry({})
  }

  protected abstract zero (): V
  protected abstract lines (labels: Labels, value: V): string[]

  protected entry (labels: Labels): { labels: Labels, value: V } {
    // Called for every task event on every node (issue 12: 2.5-5 % of a node's CPU in batches when
    // the key was JSON of sorted pairs): the key is the values in labelNames order, and names are
    // checked only when a new series is made.
    let key = ''
    let known = 0
    for (const k of this.init.labelNames ?? []) {
      const has = Object.hasOwn(labels, k)
      if (has) known++
      key += has ? String(labels[k]) : '\u0001'
      key += '\u0000'
    }
    if (Object.keys(labels).length !== known) {
      const unknown = Object.keys(labels).filter(k => !(this.init.labelNames ?? []).includes(k))
      throw new Error(`${this.init.name}: unknown label ${unknown.join(', ')}`)
    }
    let e = this.series.get(key)
    if (e === undefined) {
      e = { labels: { ...labels }, value: this.zero() }
      this.series.set(key, e)
    }
    return e
  }

  reset (): void {
    this.series.clear()
    if ((this.init.labelNames ?? []).length === 0) this.entry({})
  }

  text (): string {
    const out = [`# HELP ${this.init.name} ${escapeHelp(this.init.help)}`, `# TYPE ${this.init.name} ${this.type}`]
    for (const e of this.series.values()) out.push(...this.lines(e.labels, e.value))
    return out.join('\n')
  }
}

export class Counter extends Base<number> {
  constructor (init: MetricInit) { super(init, 'counter') }
  protected zero (): number { return 0 }
  protected lines (labels: Labels, v: number): string[] { return [`${this.init.name}${formatLabels(labels)} ${formatNumber(v)}`] }
  inc (labelsOrBy?: Labels | number, by = 1): void {
    const [labels, n] = typeof labelsOrBy === 'number' ? [{}, labelsOrBy] : [labelsOrBy ?? {}, by]
    if (!(n >= 0)) throw new Error(`${this.init.name}: a counter only goes up`)
    this.entry(labels).value += n
  }
}

export class Gauge extends Base<number> {
  constructor (init: MetricInit) { super(init, 'gauge') }
  protected zero (): number { return 0 }
  protected lines (labels: Labels, v: number): string[] { return [`${this.init.name}${formatLabels(labels)} ${formatNumber(v)}`] }
  set (labelsOrValue: Labels | number, value?: number): void {
    if (typeof labelsOrValue === 'number') this.entry({}).value = labelsOrValue
    else this.entry(labelsOrValue).value = value ?? 0
  }
}

interface HistogramValue { counts: number[], sum: number, count: number }

export class Histogram extends Base<HistogramValue> {
  private readonly buckets: number[]
  constructor (init: MetricInit & { buckets: number[] }) {
    const buckets = [...init.buckets].sort((a, b) => a - b)
    super(init, 'histogram')
    this.buckets = buckets
    this.reset() // the base made the unlabelled series before the buckets were known
  }

  protected zero (): HistogramValue { return { counts: (this.buckets ?? []).map(() => 0), sum: 0, count: 0 } }
  protected lines (labels: Labels, v: HistogramValue): string[] {
    const n = this.init.name
    const out = this.buckets.map((b, i) => `${n}_bucket${formatLabels(labels, ['le', formatNumber(b)])} ${v.counts[i]}`)
    out.push(`${n}_bucket${formatLabels(labels, ['le', '+Inf'])} ${v.count}`)
    out.push(`${n}_sum${formatLabels(labels)} ${formatNumber(v.sum)}`, `${n}_count${formatLabels(labels)} ${v.count}`)
    return out
  }

  observe (labelsOrValue: Labels | number, value?: number): void {
    const [labels, x] = typeof labelsOrValue === 'number' ? [{}, labelsOrValue] : [labelsOrValue, value ?? 0]
    const e = this.entry(labels)
    // cumulative buckets: every bound at or above x counts it
    for (let i = 0; i < this.buckets.length; i++) if (x <= this.buckets[i]!) e.value.counts[i]!++
    e.value.sum += x
    e.value.count++
  }
}
