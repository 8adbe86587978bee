// e2e helper: a strict reader of the Prometheus text exposition format (0.0.4), enough to prove a
// scrape is valid: HELP/TYPE lines, sample lines with labels, values as floats, samples under a TYPE.

export interface Sample { name: string, labels: Record<string, string>, value: number }
export interface Family { name: string, type: string, help: string, samples: Sample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)/y
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])
const SUFFIXES = ['_bucket', '_sum', '_count', '_total', '_created']

export function parsePrometheus (text: string): Map<string, Family> {
  const families = new Map<string, Family>()
  const family = (name: string): Family => {
    let f = families.get(name)
    if (f === undefined) { f = { name, type: 'untyped', help: '', samples: [] }; families.set(name, f) }
    return f
  }
  text.split('\n').forEach((line, i) => {
    const where = `line ${i + 1}: ${line}`
    if (line.trim() === '') return
    if (line.startsWith('# HELP ')) {
      const [name, ...help] = line.slice(7).split(' ')
      if (!NAME.test(name)) throw new Error(`bad metric name, ${where}`)
      family(name).help = help.join(' ')
      return
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type] = line.slice(7).split(' ')
      if (!NAME.test(name) || !TYPES.has(type)) throw new Error(`bad TYPE, ${where}`)
      if (family(name).samples.length > 0) throw new Error(`TYPE after samples, ${where}`)
      family(name).type = type
      return
    }
    if (line.startsWith('#')) return
    const m = SAMPLE.exec(line)
    if (m === null) throw new Error(`bad sample, ${where}`)
    const value = m[4] === '+Inf' ? Infinity : m[4] === '-Inf' ? -Infinity : m[4] === 'NaN' ? NaN : Number(m[4])
    if (Number.isNaN(value) && m[4] !== 'NaN') throw new Error(`bad value, ${where}`)
    const labels: Record<string, string> = {}
    if (m[3] !== undefined && m[3] !== '') {
      LABEL.lastIndex = 0
      while (LABEL.lastIndex < m[3].length) {
        const l = LABEL.exec(m[3])
        if (l === null) throw new Error(`bad labels, ${where}`)
        labels[l[1]] = l[2]
      }
    }
    const base = families.has(m[1]) ? m[1] : SUFFIXES.map(s => m[1].endsWith(s) ? m[1].slice(0, -s.length) : '').find(b => b !== '' && families.has(b))
    if (base === undefined) throw new Error(`sample without a TYPE/HELP family, ${where}`)
    families.get(base)!.samples.push({ name: m[1], labels, value })
  })
  return families
}

/** sum of the samples named `name` whose labels include `labels` */
export function value (families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value
    }
  }
  return sum
}
