// The dashboard in headless Chromium (Debian's, driven by playwright-core) against a real 3-node
// cluster: it shows 3 devices and a leader mark, and a task submitted through its form completes.
// Saves test-output/dashboard.png (desktop) and test-output/dashboard-phone.png (390 px wide).

import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { startCluster, type TestCluster } from './cluster.js'

const CHROMIUM = '/usr/bin/chromium'
const OUT = 'test-output'

describe('e2e: dashboard in Chromium', function () {
  this.timeout(120_000)
  let cluster: TestCluster
  let browser: BrowserContext
  let profile: string

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      // CI installs it (.ci/run); say so loudly rather than pass silently.
      throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`)
    }
    cluster = await startCluster(3)
    profile = mkdtempSync(join(tmpdir(), 'rc-chromium-'))
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', '--no-first-run', '--disable-quic'],
      viewport: { width: 1280, height: 900 }
    })
    mkdirSync(OUT, { recursive: true })
  })

  after(async () => {
    await browser?.close()
    await cluster?.stop()
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true })
  })

  async function open (url: string, errors: string[], width = 1280): Promise<Page> {
    const page = await browser.newPage()
    await page.setViewportSize({ width, height: width < 500 ? 844 : 900 })
    page.on('pageerror', e => errors.push(e.message))
    page.on('console', m => { if (m.type() === 'error') errors.push(m.text()) })
    await page.goto(url)
    return page
  }

  it('shows 3 devices and a leader, and runs a task submitted through the form', async () => {
    const errors: string[] = []
    // open the dashboard of a follower: any node serves the whole cluster's view
    const follower = cluster.nodes.findIndex(n => n.raftStatus().leaderId !== n.id)
    const page = await open(cluster.nodes[follower === -1 ? 0 : follower].apiUrl()!, errors)
    await page.locator('#devices .device').nth(2).waitFor({ timeout: 20_000 })
    assert.equal(await page.locator('#devices .device').count(), 3)
    await page.locator('#devices .device.leader .leader-badge').waitFor({ timeout: 20_000 })
    assert.equal(await page.locator('#devices .leader-badge').count(), 1)
    const leaderName = await page.locator('#devices .device.leader .device-name').textContent()
    const leader = (await cluster.nodes[0].nodes()).find(n => n.isLeader)!
    assert.equal(leaderName, leader.name)
    assert.equal(await page.locator('#stat-devices').textContent(), '3/3')
    await page.locator('#live.on').waitFor({ timeout: 10_000 })

    await page.selectOption('#f-type', 'echo')
    await page.fill('#f-payload', '{"message": "hello from chromium"}')
    await page.click('#f-submit')
    await page.locator('#submit-result[data-status="completed"]').waitFor({ timeout: 30_000 })
    const id = await page.locator('#submit-result').getAttribute('data-id')
    const record = await cluster.clients[0].getTask(id!)
    assert.equal(record.status, 'completed')
    assert.deepEqual(record.result, { message: 'hello from chromium' })
    assert.match((await page.locator('#submit-result').textContent())!, /hello from chromium/)
    // the recent-tasks table picks it up too
    await page.locator(`#recent tr[data-id="${id!}"] .pill.completed`).waitFor({ timeout: 10_000 })

    await page.waitForTimeout(2500)   // one more poll so the chart has two points
    await page.evaluate(() => window.scrollTo(0, 0))
    await page.screenshot({ path: join(OUT, 'dashboard.png'), fullPage: true })

    // a bad payload is refused in the page, nothing submitted
    const before = (await cluster.clients[0].listTasks({ limit: 10000 })).length
    await page.fill('#f-payload', '{not json')
    await page.click('#f-submit')
    await page.locator('#submit-error').filter({ hasText: 'not valid JSON' }).waitFor({ timeout: 5000 })
    assert.equal((await cluster.clients[0].listTasks({ limit: 10000 })).length, before)
    assert.deepEqual(errors, [])
  })

  it('fits a 390 px phone screen without horizontal scrolling', async () => {
    const errors: string[] = []
    const page = await open(cluster.nodes[0].apiUrl()!, errors, 390)
    await page.locator('#devices .device').nth(2).waitFor({ timeout: 20_000 })
    await page.waitForTimeout(2500)   // a second poll, so the chart has a line
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
    assert.ok(overflow <= 0, `page is ${overflow}px wider than the phone`)
    await page.screenshot({ path: join(OUT, 'dashboard-phone.png'), fullPage: true })
    assert.deepEqual(errors, [])
  })
})
