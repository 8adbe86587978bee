// src/node/api/prom-text.ts writes what prom-client wrote for the metrics we use (checked
// byte-for-byte against prom-client 15 when it replaced it): HELP/TYPE per family, a blank line
// between families, label values escaped, a histogram's le label first, cumulative buckets.
import assert from 'node:assert/strict'
import { Counter, Gauge, Histogram, Registry } from '../../src/node/api/prom-text.js'

describe('prom-text: Prometheus text format 0.0.4', () => {
  it('writes counters, gauges and histograms as prom-client did', async () => {
    const r = new Registry()
    const c = new Counter({ name: 'x_total', help: 'h\\elp', labelNames: ['kind'], registers: [r] })
    const c2 = new Counter({ name: 'y_total', help: 'h', registers: [r] })
    const g = new Gauge({ name: 'g', help: 'h', labelNames: ['a', 'b'], registers: [r] })
    const g2 = new Gauge({ name: 'g2', help: 'h', registers: [r] })
    const h = new Histogram({ name: 'hh', help: 'h', buckets: [0.1, 1], registers: [r] })
    const h2 = new Histogram({ name: 'hl', help: 'h', labelNames: ['outcome'], buckets: [0.1, 1], registers: [r] })
    c.inc({ kind: 'a"b' }); c2.inc(); g.set({ a: 'x', b: 2 }, 3.5); g2.set(7); h.observe(0.5); h2.observe({ outcome: 'ok' }, 0.05)
    assert.equal(r.contentType, 'text/plain; version=0.0.4; charset=utf-8')
    assert.equal(await r.metrics(), [
      '# HELP x_total h\\\\elp', '# TYPE x_total counter', 'x_total{kind="a\\"b"} 1', '',
      '# HELP y_total h', '# TYPE y_total counter', 'y_total 1', '',
      '# HELP g h', '# TYPE g gauge', 'g{a="x",b="2"} 3.5', '',
      '# HELP g2 h', '# TYPE g2 gauge', 'g2 7', '',
      '# HELP hh h', '# TYPE hh histogram', 'hh_bucket{le="0.1"} 0', 'hh_bucket{le="1"} 1', 'hh_bucket{le="+Inf"} 1', 'hh_sum 0.5', 'hh_count 1', '',
      '# HELP hl h', '# TYPE hl histogram', 'hl_bucket{le="0.1",outcome="ok"} 1', 'hl_bucket{le="1",outcome="ok"} 1', 'hl_bucket{le="+Inf",outcome="ok"} 1',
      'hl_sum{outcome="ok"} 0.05', 'hl_count{outcome="ok"} 1', ''
    ].join('\n'))
  })

  it('reset drops labelled series and zeroes an unlabelled one; unknown labels and negative increments throw', async () => {
    const r = new Registry()
    const g = new Gauge({ name: 'g', help: 'h', labelNames: ['d'], registers: [r] })
    const u = new Gauge({ name: 'u', help: 'h', registers: [r] })
    g.set({ d: '1' }, 5); u.set(3)
    g.reset(); u.reset()
    assert.equal(await r.metrics(), '# HELP g h\n# TYPE g gauge\n\n# HELP u h\n# TYPE u gauge\nu 0\n')
    assert.throws(() => { g.set({ nope: 'x' }, 1) }, /unknown label nope/)
    const c = new Counter({ name: 'c_total', help: 'h' })
    assert.throws(() => { c.inc(-1) }, /only goes up/)
  })
})
