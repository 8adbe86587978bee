// The device policy: whether a retired phone or laptop takes new work, from what it can sense about
// itself (power, heat, memory, disk, its owner). Pure: samples come in with their time, nothing here
// reads a clock or a file (src/node/system/signals.ts reads them; src/node/system/monitor.ts drives this).
//
//   ACTIVE ──(a rule trips for enterSamples samples)──> CORDONED: the bid refuses new work
//   CORDONED ──(a drain rule trips, or cordoned on battery for drainAfterMs)──> DRAINING: running
//            work is handed off before a deadline
//   back to ACTIVE once every tripped rule has been clear for its resume dwell
//
// Hysteresis has three parts, after BOINC (cs_prefs.cpp) and the kubelet
// (evictionPressureTransitionPeriod): a rule trips only after `enterSamples` consecutive samples over
// its threshold (hard memory/heat limits trip at once); it clears at a lower threshold than it trips
// at; and it must stay clear for a dwell time (minutes) before the device resumes. A signal flapping
// every second therefore causes at most one transition per dwell. Defaults and why: docs/devices.md.

export type DeviceState = 'active' | 'cordoned' | 'draining'

/** What the node could read about itself; `'unknown'` when it could not (never read as "no battery"). */
export interface DeviceSignals {
  /** ms, from the caller's clock */
  at: number
  /** 'none': readable, and the machine has no battery; 'unknown': could not tell (Android hides sysfs) */
  battery: BatterySignal | 'none' | 'unknown'
  /** hottest thermal zone, °C, and the passive trip point of that zone if it has one */
  thermal: { hottestC: number, zone: string, passiveTripC?: number } | 'unknown'
  /** current / max CPU frequency (lowest core), and Raspberry Pi firmware throttled bits */
  throttle: { freqRatio?: number, piBits?: number } | 'unknown'
  memory: { availableBytes: number, totalBytes: number, psiSomeAvg10?: number } | 'unknown'
  disk: { freeBytes: number, totalBytes: number } | 'unknown'
  /** CPU percent of the whole device used by processes outside the node and its tasks */
  otherCpuPercent: number | 'unknown'
  /** time since the owner last typed (tty atime), ms */
  ownerIdleMs: number | 'unknown'
}

export interface BatterySignal {
  percent: number
  /** normalized from sysfs (Charging, Discharging, Not charging, Full) or Termux (CHARGING, ...) */
  status: 'charging' | 'discharging' | 'not_charging' | 'full' | 'unknown'
  /** mains / USB supply online; 'unknown' when the device shows no such supply */
  onMains: boolean | 'unknown'
  temperatureC?: number
  /** Termux health OVERHEAT */
  overheat?: boolean
}

/** On mains, or a battery that is not discharging. A charge-limited laptop ("Not charging") is powered. */
export function isPowered (b: BatterySignal): boolean | 'unknown' {
  if (b.onMains === true) return true
  if (b.status === 'discharging') return false
  if (b.status === 'charging' || b.status === 'full') return true
  if (b.onMains === false) return false
  return 'unknown' // 'not_charging' with no mains supply to ask: cannot tell
}

export interface DevicePolicyConfig {
  /** consecutive samples over a threshold before a rule trips (1 s samples). @default 3 */
  enterSamples: number
  /** cordon on battery at all; false = run on battery like a desktop. @default true */
  cordonOnBattery: boolean
  /** cordoned on battery this long → drain. BOINC suspends at once; we give short work a minute. @default 60000 */
  drainOnBatteryAfterMs: number
  /** back on mains this long before resuming. @default 60000 */
  powerResumeMs: number
  /** charging below this → cordon (let it charge first, BOINC's battery_charge_min_pct idea). @default 80 */
  chargeCordonPercent: number
  /** below this → drain. @default 50 */
  chargeDrainPercent: number
  /** charged to this (or charge-limited on mains) → clear. @default 90 */
  chargeResumePercent: number
  /** BOINC's ANDROID_BATTERY_BACKOFF. @default 300000 */
  batteryResumeMs: number
  /** battery temperature, °C (BOINC battery_max_temperature is 40). @default 40 */
  batteryTempCordonC: number
  /** @default 45 */
  batteryTempDrainC: number
  /** @default 37 */
  batteryTempResumeC: number
  /** cordon this far below the hottest zone's passive trip point. @default 5 */
  thermalMarginC: number
  /** passive trip point assumed when the zone has none. @default 85 */
  thermalDefaultTripC: number
  /** clear this far below the cordon temperature. @default 5 */
  thermalHystC: number
  /** @default 300000 */
  heatResumeMs: number
  /** cpu below this fraction of its max frequency, or Pi bits 1–3 → halve the advertised slots. @default 0.6 */
  throttleFreqRatio: number
  /** @default 300000 */
  throttleResumeMs: number
  /** processes outside the cluster above this CPU % → cordon (BOINC suspend_cpu_usage). @default 25 */
  otherCpuCordonPercent: number
  /** BOINC holds 2 × its 10 s window. @default 20000 */
  otherCpuResumeMs: number
  /** MemAvailable below max(this, memLowPercent of total) → cordon at once (kubelet memory.available). @default 104857600 */
  memLowBytes: number
  /** @default 5 */
  memLowPercent: number
  /** PSI memory "some avg10" above this → cordon. @default 10 */
  memPsiCordon: number
  /** kubelet evictionPressureTransitionPeriod. @default 300000 */
  memResumeMs: number
  /** free disk below max(this, diskLowPercent of total) → cordon (kubelet nodefs 10 %). @default 1073741824 */
  diskLowBytes: number
  /** @default 10 */
  diskLowPercent: number
  /** @default 600000 */
  diskResumeMs: number
  /**
   * The owner rules (CPU of other programs, typing): 'auto' applies them on devices with a battery
   * (a laptop or phone someone still uses), not on a desktop, server or Pi kept for the cluster,
   * where other programs are not an owner at the keyboard. @default 'auto'
   */
  ownerRules: 'auto' | 'on' | 'off'
  /** owner typed within this → advertise half the slots (BOINC idle_time_to_run 3 min). @default 180000 */
  ownerIdleMs: number
  /** drain deadline for an automatic or manual drain (Nomad's is 1 h: too long for a phone). @default 120000 */
  drainDeadlineMs: number
  /** on battery the energy is the owner's: hurry. @default 30000 */
  drainDeadlineOnBatteryMs: number
}

export const DEFAULT_DEVICE_POLICY: Readonly<DevicePolicyConfig> = Object.freeze({
  enterSamples: 3,
  cordonOnBattery: true,
  drainOnBatteryAfterMs: 60_000,
  powerResumeMs: 60_000,
  chargeCordonPercent: 80,
  chargeDrainPercent: 50,
  chargeResumePercent: 90,
  batteryResumeMs: 300_000,
  batteryTempCordonC: 40,
  batteryTempDrainC: 45,
  batteryTempResumeC: 37,
  thermalMarginC: 5,
  thermalDefaultTripC: 85,
  thermalHystC: 5,
  heatResumeMs: 300_000,
  throttleFreqRatio: 0.6,
  throttleResumeMs: 300_000,
  otherCpuCordonPercent: 25,
  otherCpuResumeMs: 20_000,
  memLowBytes: 100 * 1024 * 1024,
  memLowPercent: 5,
  memPsiCordon: 10,
  memResumeMs: 300_000,
  diskLowBytes: 1024 ** 3,
  diskLowPercent: 10,
  diskResumeMs: 600_000,
  ownerRules: 'auto',
  ownerIdleMs: 180_000,
  drainDeadlineMs: 120_000,
  drainDeadlineOnBatteryMs: 30_000
})

/** Why a partial config is unusable (first problem), or undefined. Unknown keys are refused (typos). */
export function devicePolicyProblem (x: unknown): string | undefined {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return 'device policy must be an object'
  for (const [k, v] of Object.entries(x)) {
    if (!(k in DEFAULT_DEVICE_POLICY)) return `unknown device policy setting '${k}'`
    const want = typeof (DEFAULT_DEVICE_POLICY as Record<string, unknown>)[k]
    if (typeof v !== want) return `device policy setting '${k}' must be a ${want}`
    if (want === 'number' && (!Number.isFinite(v) || (v as number) < 0)) return `device policy setting '${k}' must be a number ≥ 0`
    if (k === 'ownerRules' && !['auto', 'on', 'off'].includes(v as string)) return "device policy setting 'ownerRules' must be 'auto', 'on' or 'off'"
  }
  return undefined
}

/** A rule's verdict on one sample: trip at a level, clear, or in the hysteresis band (keep as is). */
type Verdict = { level: 'cordon' | 'drain', reason: string } | 'clear' | 'band'

interface RuleTracker {
  level: 'ok' | 'cordon' | 'drain'
  reason: string
  /** consecutive samples at or over a level, while not tripped that high */
  streak: number
  streakLevel: 'cordon' | 'drain'
  /** when the current level was entered */
  since: number
  /** when the rule started being clear (undefined while not clear) */
  clearSince?: number
}

export interface PolicyDecision {
  state: DeviceState
  /** e.g. "on battery 43 %", "hot 71 °C"; undefined when active with nothing to say */
  reason?: string
  /** fraction of the execution slots to advertise (owner active, CPU throttled, battery unknown) */
  slotsFactor: number
  /** at most this many slots (battery unknown on a mobile device: 1) */
  maxSlots?: number
  /** the drain deadline this state asks for, ms (when draining) */
  drainDeadlineMs?: number
}

type RuleName = 'power' | 'charge' | 'batteryTemp' | 'thermal' | 'memory' | 'disk' | 'otherCpu' | 'throttle'

interface RuleDef {
  name: RuleName
  resumeMs: (c: DevicePolicyConfig) => number
  /** hard limits trip on the first sample */
  hard?: (s: DeviceSignals, c: DevicePolicyConfig) => boolean
  /** a tripped cordon becomes a drain after this long */
  escalateAfterMs?: (c: DevicePolicyConfig) => number | undefined
  judge: (s: DeviceSignals, c: DevicePolicyConfig) => Verdict
}

function ownerRulesApply (s: DeviceSignals, c: DevicePolicyConfig): boolean {
  return c.ownerRules === 'on' || (c.ownerRules === 'auto' && typeof s.battery === 'object')
}

const pct = (n: number): string => `${Math.round(n)} %`
const deg = (n: number): string => `${Math.round(n)} °C`

const RULES: readonly RuleDef[] = [
  {
    name: 'power',
    resumeMs: c => c.powerResumeMs,
    escalateAfterMs: c => c.drainOnBatteryAfterMs,
    judge: (s, c) => {
      if (!c.cordonOnBattery || typeof s.battery !== 'object') return s.battery === 'none' || !c.cordonOnBattery ? 'clear' : 'band'
      const p = isPowered(s.battery)
      if (p === 'unknown') return 'band'
      return p ? 'clear' : { level: 'cordon', reason: `on battery ${pct(s.battery.percent)}` }
    }
  },
  {
    name: 'charge',
    resumeMs: c => c.batteryResumeMs,
    judge: (s, c) => {
      const b = s.battery
      if (typeof b !== 'object') return b === 'none' ? 'clear' : 'band'
      const powered = isPowered(b)
      // charge-limited on mains: the owner chose that level, so it is not a reason to wait
      if (powered === true && b.status !== 'charging') return 'clear'
      if (b.percent < c.chargeDrainPercent && powered !== true) return { level: 'drain', reason: `battery low ${pct(b.percent)}` }
      if (b.percent < c.chargeCordonPercent) return { level: 'cordon', reason: powered === true ? `battery ${pct(b.percent)}, charging first` : `battery ${pct(b.percent)}` }
      return b.percent >= c.chargeResumePercent ? 'clear' : 'band'
    }
  },
  {
    name: 'batteryTemp',
    resumeMs: c => c.heatResumeMs,
    hard: (s, c) => typeof s.battery === 'object' && (s.battery.overheat === true || (s.battery.temperatureC ?? 0) >= c.batteryTempDrainC),
    judge: (s, c) => {
      const b = s.battery
      if (typeof b !== 'object') return b === 'none' ? 'clear' : 'band'
      const t = b.temperatureC
      if (b.overheat === true) return { level: 'drain', reason: `battery overheating${t === undefined ? '' : ' ' + deg(t)}` }
      if (t === undefined) return 'clear'
      if (t >= c.batteryTempDrainC) return { level: 'drain', reason: `battery hot ${deg(t)}` }
      if (t >= c.batteryTempCordonC) return { level: 'cordon', reason: `battery warm ${deg(t)}` }
      return t <= c.batteryTempResumeC ? 'clear' : 'band'
    }
  },
  {
    name: 'thermal',
    resumeMs: c => c.heatResumeMs,
    hard: (s, c) => typeof s.thermal === 'object' && s.thermal.hottestC >= (s.thermal.passiveTripC ?? c.thermalDefaultTripC),
    judge: (s, c) => {
      if (s.thermal === 'unknown') return 'band'
      const trip = s.thermal.passiveTripC ?? c.thermalDefaultTripC
      const cordonAt = trip - c.thermalMarginC
      const t = s.thermal.hottestC
      if (t >= trip) return { level: 'drain', reason: `hot ${deg(t)} (${s.thermal.zone}, trip ${deg(trip)})` }
      if (t >= cordonAt) return { level: 'cordon', reason: `hot ${deg(t)} (${s.thermal.zone})` }
      return t <= cordonAt - c.thermalHystC ? 'clear' : 'band'
    }
  },
  {
    name: 'memory',
    resumeMs: c => c.memResumeMs,
    hard: () => true,
    judge: (s, c) => {
      if (s.memory === 'unknown') return 'band'
      const m = s.memory
      const low = Math.max(c.memLowBytes, m.totalBytes * c.memLowPercent / 100)
      if (m.availableBytes < low) return { level: 'cordon', reason: `memory low ${Math.round(m.availableBytes / 1048576)} MiB free` }
      if (m.psiSomeAvg10 !== undefined && m.psiSomeAvg10 > c.memPsiCordon) return { level: 'cordon', reason: `memory pressure ${m.psiSomeAvg10.toFixed(0)} %` }
      return 'clear'
    }
  },
  {
    name: 'disk',
    resumeMs: c => c.diskResumeMs,
    judge: (s, c) => {
      if (s.disk === 'unknown') return 'band'
      const low = Math.max(c.diskLowBytes, s.disk.totalBytes * c.diskLowPercent / 100)
      return s.disk.freeBytes < low ? { level: 'cordon', reason: `disk low ${(s.disk.freeBytes / 1024 ** 3).toFixed(1)} GB free` } : 'clear'
    }
  },
  {
    name: 'otherCpu',
    resumeMs: c => c.otherCpuResumeMs,
    judge: (s, c) => {
      if (!ownerRulesApply(s, c)) return 'clear'
      if (s.otherCpuPercent === 'unknown') return 'band'
      return s.otherCpuPercent > c.otherCpuCordonPercent ? { level: 'cordon', reason: `owner's programs use ${pct(s.otherCpuPercent)} CPU` } : 'clear'
    }
  },
  {
    // under-voltage cordons; frequency capping only halves the slots (see slotsFactor)
    name: 'throttle',
    resumeMs: c => c.throttleResumeMs,
    judge: s => {
      if (s.throttle === 'unknown' || s.throttle.piBits === undefined) return s.throttle === 'unknown' ? 'band' : 'clear'
      return (s.throttle.piBits & 1) !== 0 ? { level: 'cordon', reason: 'under-voltage (Pi power supply too weak)' } : 'clear'
    }
  }
]

const RANK = { ok: 0, cordon: 1, drain: 2 } as const

/**
 * One device's policy state. Feed it samples in time order with `observe`; it returns the decision.
 * Plain data inside, so a test can script any signal series with any clock.
 */
export class DevicePolicy {
  readonly config: DevicePolicyConfig
  private readonly rules = new Map<RuleName, RuleTracker>()
  private throttledSince?: number
  private throttleClearSince?: number
  private lastDecision: PolicyDecision = { state: 'active', slotsFactor: 1 }

  constructor (config: Partial<DevicePolicyConfig> = {}, private readonly mobile = false) {
    this.config = { ...DEFAULT_DEVICE_POLICY, ...config }
    for (const r of RULES) this.rules.set(r.name, { level: 'ok', reason: '', streak: 0, streakLevel: 'cordon', since: 0 })
  }

  get decision (): PolicyDecision { return this.lastDecision }

  observe (s: DeviceSignals): PolicyDecision {
    const c = this.config
    for (const r of RULES) step(this.rules.get(r.name)!, r, r.judge(s, c), s, c)
    this.lastDecision = this.decide(s)
    return this.lastDecision
  }

  private decide (s: DeviceSignals): PolicyDecision {
    const c = this.config
    let top: RuleTracker | undefined
    let topName: RuleName | undefined
    for (const r of RULES) {
      const t = this.rules.get(r.name)!
      if (t.level !== 'ok' && (top === undefined || RANK[t.level] > RANK[top.level])) { top = t; topName = r.name }
    }
    const d: PolicyDecision = { state: 'active', slotsFactor: this.slotsFactor(s) }
    if (typeof s.battery === 'object' || s.battery === 'none') { /* known */ } else if (this.mobile) d.maxSlots = 1
    if (top !== undefined) {
      d.state = top.level === 'drain' ? 'draining' : 'cordoned'
      d.reason = top.reason
      if (d.state === 'draining') d.drainDeadlineMs = topName === 'power' || topName === 'charge' ? c.drainDeadlineOnBatteryMs : c.drainDeadlineMs
    } else if (d.slotsFactor < 1) {
      d.reason = this.throttledSince !== undefined ? 'cpu throttled: half the slots' : 'owner active: half the slots'
    }
    return d
  }

  /** frequency capping (30 s) or an owner at the keyboard halve the advertised slots */
  private slotsFactor (s: DeviceSignals): number {
    const c = this.config
    const capped = typeof s.throttle === 'object' &&
      ((s.throttle.freqRatio !== undefined && s.throttle.freqRatio < c.throttleFreqRatio) || ((s.throttle.piBits ?? 0) & 0b1110) !== 0)
    if (capped) {
      this.throttleClearSince = undefined
      this.throttledSince ??= s.at
    } else if (this.throttledSince !== undefined && s.throttle !== 'unknown') {
      this.throttleClearSince ??= s.at
      if (s.at - this.throttleClearSince >= c.throttleResumeMs) { this.throttledSince = undefined; this.throttleClearSince = undefined }
    }
    // throttled for 30 s (so a momentary frequency dip does not count), and until clear for the dwell
    const throttled = this.throttledSince !== undefined && (this.throttleClearSince !== undefined || s.at - this.throttledSince >= 30_000)
    const ownerActive = ownerRulesApply(s, c) && typeof s.ownerIdleMs === 'number' && s.ownerIdleMs < c.ownerIdleMs
    return throttled || ownerActive ? 0.5 : 1
  }
}

/** Advance one rule's tracker by one sample's verdict. */
function step (t: RuleTracker, r: RuleDef, v: Verdict, s: DeviceSignals, c: DevicePolicyConfig): void {
  if (v === 'band') { t.streak = 0; t.clearSince = undefined; return }
  if (v === 'clear') {
    t.streak = 0
    if (t.level === 'ok') return
    t.clearSince ??= s.at
    if (s.at - t.clearSince >= r.resumeMs(c)) { t.level = 'ok'; t.reason = ''; t.clearSince = undefined }
    return
  }
  t.clearSince = undefined
  if (RANK[v.level] <= RANK[t.level]) {
    t.streak = 0
    if (v.level === t.level) t.reason = v.reason // keep the figures current ("on battery 43 %" → "42 %")
    const esc = r.escalateAfterMs?.(c)
    if (t.level === 'cordon' && esc !== undefined && s.at - t.since >= esc) { t.level = 'drain'; t.since = s.at }
    return
  }
  // over the current level: trip after enterSamples consecutive such samples, at the lowest level
  // they all reached (a hard limit trips at once, at this sample's level)
  t.streakLevel = t.streak === 0 || RANK[v.level] < RANK[t.streakLevel] ? v.level : t.streakLevel
  t.streak++
  const hard = r.hard?.(s, c) === true
  if (!hard && t.streak < Math.max(1, c.enterSamples)) return
  t.level = hard ? v.level : t.streakLevel
  t.reason = v.reason
  t.since = s.at
  t.streak = 0
}
