// The device monitor: samples this device's signals once a second, runs the device policy over them
// (src/sched/device-policy.ts) and holds an operator's drain (`retire-cluster drain`). Its status
// goes into every bid; the leader keeps cordoned and draining devices out of placement and hands a
// draining device's work off (src/node/leader/handoff.ts).

import { DevicePolicy, isPowered, type DevicePolicyConfig, type DeviceSignals, type PolicyDecision } from '../../sched/device-policy.js'
import type { DeviceStatusData } from '../../sched/types.js'
import { SignalSampler, type SignalSourceOptions } from './signals.js'
import { realScheduler, type CancelTimer } from '../scheduler.js'

/** signals are sampled this often (the policy's 3-sample rule makes that 3 s to cordon) */
const DEVICE_SAMPLE_INTERVAL_MS = 1000

export interface DeviceMonitorInit extends SignalSourceOptions {
  /** settings over the defaults; false turns the automatic policy off (manual drain still works) */
  policy?: Partial<DevicePolicyConfig> | false
  /** a mobile device with an unknown battery gets one slot */
  mobile?: boolean
  /** called when the state or reason changes */
  onChange?: (status: DeviceStatusData) => void
}

interface ManualDrain { reason: string, deadlineAt: number }

export class DeviceMonitor {
  private readonly sampler: SignalSampler
  private readonly policy?: DevicePolicy
  private manual?: ManualDrain
  /** deadline of the policy's current automatic drain */
  private autoDeadlineAt?: number
  private last?: DeviceSignals
  private lastKey = ''
  private cancelSampling?: CancelTimer

  constructor (private readonly init: DeviceMonitorInit = {}) {
    this.sampler = new SignalSampler(init)
    if (init.policy !== false) this.policy = new DevicePolicy(init.policy ?? {}, init.mobile === true)
  }

  get signals (): DeviceSignals | undefined { return this.last }
  get decision (): PolicyDecision { return this.policy?.decision ?? { state: 'active', slotsFactor: 1 } }

  /** one sample; call about once a second */
  tick (now: number): void {
    this.last = this.sampler.sample(now)
    const d = this.policy?.observe(this.last)
    if (d?.state === 'draining') this.autoDeadlineAt ??= now + (d.drainDeadlineMs ?? 120_000)
    else this.autoDeadlineAt = undefined
    this.notify(now)
  }

  /** sample now, then once a DEVICE_SAMPLE_INTERVAL_MS until stop() */
  start (): void {
    if (this.cancelSampling !== undefined) return
    this.tick(Date.now())
    this.cancelSampling = realScheduler.interval(() => { this.tick(Date.now()) }, DEVICE_SAMPLE_INTERVAL_MS, { unref: true })
  }

  stop (): void {
    this.cancelSampling?.()
    this.cancelSampling = undefined
  }

  drain (now: number, deadlineMs: number, reason = 'drained by operator'): void {
    this.manual = { reason, deadlineAt: now + Math.max(0, deadlineMs) }
    this.notify(now)
  }

  undrain (now: number): void {
    this.manual = undefined
    this.notify(now)
  }

  get manuallyDrained (): boolean { return this.manual !== undefined }

  status (now: number): DeviceStatusData {
    if (this.manual !== undefined) return { state: 'draining', reason: this.manual.reason, drainLeftMs: Math.max(0, this.manual.deadlineAt - now) }
    const d = this.decision
    const s: DeviceStatusData = { state: d.state }
    if (d.reason !== undefined) s.reason = d.reason
    if (d.state === 'draining' && this.autoDeadlineAt !== undefined) s.drainLeftMs = Math.max(0, this.autoDeadlineAt - now)
    return s
  }

  /** the slots to advertise out of `slots` (owner active or CPU throttled: half; unknown battery on a phone: 1) */
  slots (slots: number): number {
    const d = this.decision
    let n = Math.max(1, Math.floor(slots * d.slotsFactor))
    if (d.maxSlots !== undefined) n = Math.min(n, d.maxSlots)
    return n
  }

  /** the battery as the bid shows it: powered (mains, charging, full, or charge-limited) counts as charging */
  bidBattery (): { percent: number, charging: boolean } | undefined {
    const b = this.last?.battery
    if (typeof b !== 'object') return undefined
    return { percent: Math.max(0, Math.min(100, b.percent)), charging: isPowered(b) === true }
  }

  async settle (): Promise<void> { await this.sampler.settle() }

  private notify (now: number): void {
    const s = this.status(now)
    const key = `${s.state}|${s.reason ?? ''}`
    if (key === this.lastKey) return
    this.lastKey = key
    this.init.onChange?.(s)
  }
}
