// Retire-Cluster dashboard. Plain browser JS, no build step, no CDN: polls the JSON API every
// POLL_MS and listens to /v1/events (SSE) for live progress and quicker refreshes.
// The page carries the API token in <meta name="rc-token"> (the node fills it in on loopback).

const POLL_MS = 2000
const CHART_POINTS = 90           // 3 minutes of 2 s samples
const SMOOTH = 10                 // rates over the last ~20 s
const MIN_SPAN_MS = 60_000        // the chart's time axis is never narrower than this
const PRIORITIES = ['URGENT', 'HIGH', 'NORMAL', 'LOW', 'BACKGROUND']
const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'timeout'])

const $ = (id) => document.getElementById(id)
const state = {
  token: document.querySelector('meta[name="rc-token"]').content || sessionStorage.getItem('rc-token') || '',
  samples: [],                    // { t, finished, completed }
  lastMetrics: undefined,
  progress: new Map(),            // taskId -> percent, from SSE
  watching: undefined,            // task id submitted through the form
  timer: undefined,
  refreshSoon: undefined
}

// ---- API ---------------------------------------------------------------------------------------

class HttpError extends Error {
  constructor (status, body) {
    super(body?.error?.message ?? `HTTP ${status}`)
    this.status = status
    this.field = body?.error?.field
  }
}

async function api (method, path, body) {
  const res = await fetch(path, {
    method,
    headers: { authorization: `Bearer ${state.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const json = await res.json().catch(() => undefined)
  if (!res.ok) throw new HttpError(res.status, json)
  return json
}

// ---- small DOM helpers -------------------------------------------------------------------------

function el (tag, cls, text) {
  const e = document.createElement(tag)
  if (cls) e.className = cls
  if (text !== undefined) e.textContent = text
  return e
}

function bar (pct, cls = '') {
  const b = el('div', `bar ${cls}`)
  const i = el('i')
  i.style.width = `${Math.max(0, Math.min(100, pct))}%`
  b.append(i)
  return b
}

function level (pct) { return pct >= 85 ? 'bad' : pct >= 60 ? 'warn' : 'ok' }
function fmt (n, digits = 0) { return Number.isFinite(n) ? n.toFixed(digits) : '–' }
function shortId (id) { return id.length > 14 ? `${id.slice(0, 6)}…${id.slice(-6)}` : id }
function ago (ms) {
  const s = Math.max(0, ms) / 1000
  return s < 1 ? 'now' : s < 60 ? `${Math.round(s)}s ago` : s < 3600 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`
}
function replace (node, children) { node.replaceChildren(...children) }

// ---- rendering ---------------------------------------------------------------------------------

function renderStatus (s) {
  $('node-line').textContent = `${s.name} · ${s.raft.role}${s.raft.leaderId ? '' : ' · no leader yet'}`
  $('stat-term').textContent = String(s.raft.term)
}

function renderDevices (nodes) {
  const alive = nodes.filter(n => n.alive).length
  $('stat-devices').textContent = `${alive}/${nodes.length}`
  const leader = nodes.find(n => n.isLeader)
  $('devices-hint').textContent = leader ? `leader: ${leader.name}` : 'electing a leader…'
  if (nodes.length === 0) return replace($('devices'), [el('p', 'empty', 'No devices yet.')])
  const sorted = [...nodes].sort((a, b) => Number(b.isLeader) - Number(a.isLeader) || a.name.localeCompare(b.name))
  replace($('devices'), sorted.map(deviceCard))
}

function deviceCard (n) {
  const card = el('article', `device${n.isLeader ? ' leader' : ''}${n.alive ? '' : ' down'}`)
  card.dataset.id = n.id
  const head = el('div', 'device-head')
  const names = el('div')
  names.style.minWidth = '0'
  names.append(el('div', 'device-name', n.name || shortId(n.id)), el('div', 'device-id mono', n.id))
  head.append(names, el('span', 'spacer'))
  if (n.isLeader) head.append(el('span', 'badge leader-badge', '★ leader'))
  else if (n.isVoter) head.append(el('span', 'badge voter-badge', 'voter'))
  if (!n.alive) head.append(el('span', 'badge down-badge', 'down'))
  // device policy (docs/devices.md): cordoned / draining, with the reason ("on battery 43 %")
  if (n.device && n.device.state !== 'active') {
    const b = el('span', 'badge down-badge', n.device.state)
    b.title = n.device.reason || ''
    head.append(b)
  }
  const tags = el('div', 'tags')
  for (const t of [n.role, `${n.platform}/${n.arch}`, `${n.cpuCores} cores`, `${fmt(n.memoryGb, 1)} GB`]) tags.append(el('span', '', t))
  const meters = [meter('CPU', n.cpuUsage), meter('Memory', n.memoryUsage)]
  if (n.battery) meters.push(meter(n.battery.charging ? 'Battery ⚡' : 'Battery', n.battery.percent, true))
  const foot = el('div', 'device-foot')
  const tasks = el('span')
  tasks.append('tasks ', el('b', '', `${n.activeTasks}/${n.maxConcurrentTasks}`))
  foot.append(tasks, el('span', '', n.alive ? `seen ${ago(n.lastSeenMs)}` : `lost ${ago(n.lastSeenMs)}`))
  const parts = [head, tags, ...meters]
  if (n.device && n.device.reason) parts.push(el('div', 'device-id', `${n.device.state}: ${n.device.reason}`))
  card.append(...parts, foot)
  return card
}

function meter (label, pct, inverse = false) {
  const m = el('div', 'meter')
  const lv = inverse ? (pct <= 15 ? 'bad' : pct <= 35 ? 'warn' : 'ok') : level(pct)
  m.append(el('span', '', label), bar(pct, lv), el('span', 'num', `${fmt(pct)}%`))
  return m
}

function renderQueue (q) {
  $('stat-queued').textContent = String(q.pending)
  $('stat-running').textContent = String(q.running)
  $('queue-wait').textContent = q.size > 0 ? `avg wait ${fmt(q.avgWaitTimeSeconds, 1)} s` : 'empty'
  const max = Math.max(1, ...PRIORITIES.map(p => q.byPriority[p] ?? 0))
  replace($('queue'), PRIORITIES.map((p, i) => {
    const n = q.byPriority[p] ?? q.byPriority[String(i + 1)] ?? 0
    const row = el('div', 'qrow')
    row.append(el('span', 'name', p), bar(100 * n / max, `p${i + 1}`), el('span', 'num', String(n)))
    return row
  }))
}

function renderRunning (tasks) {
  $('running-hint').textContent = tasks.length ? `${tasks.length} running` : ''
  if (tasks.length === 0) return replace($('running'), [el('p', 'empty', 'Nothing running.')])
  replace($('running'), tasks.slice(0, 12).map(t => {
    const pct = state.progress.get(t.id) ?? t.progress ?? 0
    const row = el('div', 'task')
    row.dataset.id = t.id
    const line = el('div', 'task-line')
    line.append(el('span', 'mono', shortId(t.id)), el('span', 'pill running', t.taskType), el('span', 'spacer'),
      el('span', 'muted', `${fmt(pct)}% · ${t.deviceId ? shortId(t.deviceId) : '…'}`))
    row.append(line, bar(pct))
    return row
  }))
}

function renderRecent (tasks) {
  if (tasks.length === 0) return replace($('recent'), [el('p', 'empty', 'No tasks yet.')])
  const table = el('table', 'recent-table')
  for (const t of tasks.slice(0, 10)) {
    const tr = el('tr')
    tr.dataset.id = t.id
    const st = el('td')
    st.append(el('span', `pill ${t.status}`, t.status))
    const took = t.finishedAt && t.startedAt ? `${t.finishedAt - t.startedAt} ms` : t.pendingReason ?? ''
    tr.append(el('td', 'id mono', shortId(t.id)), el('td', '', t.taskType), st, el('td', 'right hide-sm', took))
    table.append(tr)
  }
  replace($('recent'), [table])
}

async function renderBatches (recent) {
  const ids = [...new Set(recent.map(t => t.batchId).filter(Boolean))].slice(0, 4)
  if (ids.length === 0) return
  const batches = await Promise.all(ids.map(id => api('GET', `/v1/batches/${encodeURIComponent(id)}`).catch(() => undefined)))
  replace($('batches'), batches.filter(Boolean).map(b => {
    const done = b.completed + b.failed + (b.cancelled ?? 0)
    const row = el('div', 'task')
    const line = el('div', 'task-line')
    line.append(el('span', '', b.name || shortId(b.id)), el('span', 'spacer'),
      el('span', 'muted', `${b.completed}/${b.total} done${b.failed ? ` · ${b.failed} failed` : ''}`))
    row.append(line, bar(100 * done / Math.max(1, b.total), b.failed ? 'warn' : 'ok'))
    return row
  }))
}

function renderMetrics (m) {
  const now = Date.now()
  const finished = m.completed + m.failed
  const prev = state.samples[state.samples.length - 1]
  let rate, tput
  if (prev) {
    // Rates over a sliding window of up to SMOOTH samples, so one busy poll does not spike the chart.
    const base = state.samples[Math.max(0, state.samples.length - SMOOTH)]
    const dFinished = Math.max(0, finished - base.finished)
    const dCompleted = Math.max(0, m.completed - base.completed)
    tput = 60_000 * dFinished / Math.max(1, now - base.t)
    rate = dFinished > 0 ? 100 * dCompleted / dFinished : prev.rate
  }
  state.samples.push({ t: now, finished, completed: m.completed, rate: rate ?? m.successRate, tput: tput ?? 0 })
  if (state.samples.length > CHART_POINTS) state.samples.shift()
  $('stat-success').textContent = m.completed + m.failed > 0 ? `${fmt(m.successRate, 1)}%` : '–'
  $('stat-throughput').textContent = fmt(state.samples.length > 1 ? state.samples[state.samples.length - 1].tput : m.throughputPerMinute, 0)
  renderChart()
}

function renderChart () {
  const box = $('chart')
  const W = Math.max(240, box.clientWidth), H = Math.max(120, box.clientHeight), L = 34, R = 40, T = 10, B = 20
  const pts = state.samples
  const now = pts.length > 0 ? pts[pts.length - 1].t : Date.now()
  // A time axis: at least one minute wide, growing to the whole kept history.
  const spanMs = Math.max(MIN_SPAN_MS, pts.length > 0 ? now - pts[0].t : 0)
  const maxT = Math.max(1, ...pts.map(p => p.tput))
  const xt = (t) => L + (W - L - R) * (1 - (now - t) / spanMs)
  const yR = (v) => T + (H - T - B) * (1 - v / 100)
  const yT = (v) => T + (H - T - B) * (1 - v / maxT)
  const ns = 'http://www.w3.org/2000/svg'
  const svg = document.createElementNS(ns, 'svg')
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`)
  const add = (tag, attrs, parent = svg) => {
    const e = document.createElementNS(ns, tag)
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
    parent.append(e)
    return e
  }
  const grid = add('g', { class: 'grid' })
  const axis = add('g', { class: 'axis' })
  for (const v of [0, 50, 100]) {
    add('line', { x1: L, x2: W - R, y1: yR(v), y2: yR(v) }, grid)
    add('text', { x: L - 6, y: yR(v) + 3, 'text-anchor': 'end' }, axis).textContent = `${v}%`
    add('text', { x: W - R + 6, y: yR(v) + 3 }, axis).textContent = fmt(maxT * v / 100, maxT < 10 ? 1 : 0)
  }
  const mins = spanMs / 60_000
  add('text', { x: L, y: H - 4 }, axis).textContent = mins < 1.5 ? `${Math.round(spanMs / 1000)} s ago` : `${mins.toFixed(0)} min ago`
  add('text', { x: W - R, y: H - 4, 'text-anchor': 'end' }, axis).textContent = 'now'
  if (pts.length > 1) {
    const rate = pts.map(p => `${xt(p.t).toFixed(1)},${yR(p.rate).toFixed(1)}`)
    add('path', { class: 'rate-fill', d: `M${xt(pts[0].t).toFixed(1)},${yR(0)} L${rate.join(' L')} L${xt(now).toFixed(1)},${yR(0)} Z` })
    add('path', { class: 'rate', d: `M${rate.join(' L')}` })
    add('path', { class: 'tput', d: `M${pts.map(p => `${xt(p.t).toFixed(1)},${yT(p.tput).toFixed(1)}`).join(' L')}` })
  }
  const last = pts[pts.length - 1]
  if (last) {
    add('circle', { class: 'dot-rate', cx: xt(last.t), cy: yR(last.rate), r: 3 })
    add('circle', { class: 'dot-tput', cx: xt(last.t), cy: yT(last.tput), r: 3 })
  }
  replace(box, [svg])
}

function renderWatched (t) {
  const box = $('submit-result')
  box.hidden = false
  box.dataset.id = t.id
  box.dataset.status = t.status
  const line = el('div', 'task-line')
  line.append(el('span', '', 'Task'), el('span', 'mono', t.id), el('span', `pill ${t.status}`, t.status))
  const parts = [line]
  if (t.status === 'running' || t.status === 'queued' || t.status === 'pending') parts.push(bar(state.progress.get(t.id) ?? t.progress ?? 0))
  if (t.pendingReason && !TERMINAL.has(t.status)) parts.push(el('pre', '', t.pendingReason))
  if (t.status === 'completed') parts.push(el('pre', '', JSON.stringify(t.result)))
  if (t.error) parts.push(el('pre', '', `${t.error.type}: ${t.error.message}`))
  replace(box, parts)
}

// ---- data flow ---------------------------------------------------------------------------------

async function refresh () {
  try {
    const [status, nodes, queue, metrics, running, recent] = await Promise.all([
      api('GET', '/v1/status'), api('GET', '/v1/nodes'), api('GET', '/v1/queue'), api('GET', '/v1/metrics?period=24h'),
      api('GET', '/v1/tasks?status=running&limit=50'), api('GET', '/v1/tasks?limit=30')
    ])
    renderStatus(status)
    renderDevices(nodes)
    renderQueue(queue)
    renderMetrics(metrics)
    renderRunning(running)
    renderRecent(recent)
    await renderBatches(recent)
    setLive(true)
  } catch (err) {
    if (err instanceof HttpError && err.status === 401) return askToken()
    setLive(false, err instanceof HttpError && err.status === 503 ? 'no leader' : 'offline')
  }
}

function scheduleRefresh () {
  if (state.refreshSoon) return
  state.refreshSoon = setTimeout(() => { state.refreshSoon = undefined; void refresh() }, 300)
}

function setLive (on, text) {
  $('live').classList.toggle('on', on)
  $('live-text').textContent = on ? 'live' : text
}

function connectEvents () {
  // EventSource cannot send headers, so the stream is read with fetch.
  const ctrl = new AbortController()
  fetch('/v1/events', { headers: { authorization: `Bearer ${state.token}` }, signal: ctrl.signal }).then(async res => {
    if (!res.ok || !res.body) throw new Error(`events: HTTP ${res.status}`)
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
    let buf = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      buf += value
      let cut
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        onFrame(buf.slice(0, cut))
        buf = buf.slice(cut + 2)
      }
    }
  }).catch(() => {}).finally(() => setTimeout(connectEvents, 3000))
}

function onFrame (frame) {
  let event = ''
  let data = ''
  for (const line of frame.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7)
    else if (line.startsWith('data: ')) data += line.slice(6)
  }
  if (!event || !data) return
  const ev = JSON.parse(data)
  if (event === 'progress') {
    state.progress.set(ev.taskId, ev.progress)
    const row = document.querySelector(`#running [data-id="${CSS.escape(ev.taskId)}"] .bar > i`)
    if (row) row.style.width = `${ev.progress}%`
  } else {
    if (event === 'complete' || event === 'error') state.progress.delete(ev.taskId)
    scheduleRefresh()
  }
  if (ev.taskId === state.watching) void watch(state.watching)
}

async function watch (id) {
  try {
    const t = await api('GET', `/v1/tasks/${encodeURIComponent(id)}`)
    if (state.watching === id) renderWatched(t)
  } catch { /* the next event or poll tries again */ }
}

async function longPoll (id) {
  // Belt and braces next to SSE: a long-poll that returns when the task is final.
  for (let i = 0; i < 20 && state.watching === id; i++) {
    try {
      const t = await api('GET', `/v1/tasks/${encodeURIComponent(id)}/wait?timeoutMs=20000`)
      if (state.watching === id) renderWatched(t)
      if (TERMINAL.has(t.status) && !t.replacedBy) return
    } catch { await new Promise(r => setTimeout(r, 1000)) }
  }
}

async function onSubmit (e) {
  e.preventDefault()
  const error = $('submit-error')
  error.textContent = ''
  let payload
  try {
    payload = JSON.parse($('f-payload').value || '{}')
  } catch (err) {
    error.textContent = `payload is not valid JSON: ${err.message}`
    return
  }
  const button = $('f-submit')
  button.disabled = true
  try {
    const { id } = await api('POST', '/v1/tasks', { task_type: $('f-type').value, priority: $('f-priority').value, payload })
    state.watching = id
    renderWatched({ id, status: 'queued', progress: 0 })
    void longPoll(id)
    scheduleRefresh()
  } catch (err) {
    error.textContent = err.field ? `${err.field}: ${err.message}` : err.message
  } finally {
    button.disabled = false
  }
}

const EXAMPLES = {
  echo: '{"message": "hello from the dashboard"}',
  sleep: '{"duration": 5}',
  system_info: '{}',
  python_eval: '{"expression": "sum(range(1000000))"}'
}

function askToken () {
  setLive(false, 'token needed')
  $('token-panel').hidden = false
}

function start () {
  $('submit-form').addEventListener('submit', onSubmit)
  // The chart is drawn in real pixels (crisp text at any width), so redraw when the width changes.
  let resizeTimer
  window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(renderChart, 100) })
  $('f-type').addEventListener('change', () => { $('f-payload').value = EXAMPLES[$('f-type').value] ?? '{}' })
  $('token-form').addEventListener('submit', e => {
    e.preventDefault()
    state.token = $('token-input').value.trim()
    sessionStorage.setItem('rc-token', state.token)
    $('token-panel').hidden = true
    void refresh()
  })
  // A token given as ?token= is now in the page: keep it out of the address bar and history.
  if (location.search.includes('token=')) history.replaceState(null, '', location.pathname)
  if (!state.token) return askToken()
  void refresh()
  state.timer = setInterval(refresh, POLL_MS)
  connectEvents()
}

start()
