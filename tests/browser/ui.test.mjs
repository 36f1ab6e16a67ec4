// The web UI in headless Chromium against a running `chainboard demo`.
//
// Usage: node ui.test.mjs <chainboard URL> <fake Massive URL> <screenshot path>
//
// It loads the page, waits for live data, checks that heatmap cells repaint from
// diffs without a reload, lists new strikes through the fake Massive's control
// endpoint and waits for the geometry_change epoch to show on the page, then saves a
// screenshot. It prints one JSON line of what it saw and exits non-zero with a
// message on the first failed check. crates/cli/tests/browser.rs starts the demo and
// runs this script.

import { chromium } from 'playwright-core';

const [base, fake, screenshot] = process.argv.slice(2);
if (!base || !fake || !screenshot) {
  console.error('usage: node ui.test.mjs <chainboard URL> <fake Massive URL> <screenshot path>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';

function check(condition, message) {
  if (!condition) {
    throw new Error(message);
  }
}

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
const errors = [];
let outcome = 0;
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  // The UI must not reach for any other host.
  const foreign = [];
  page.on('request', (r) => {
    if (!r.url().startsWith(base)) foreign.push(r.url());
  });
  await page.goto(base);
  await page.waitForFunction(() => window.chainboard?.connection === 'live', null, { timeout: 30_000 });
  const state = () => page.evaluate(() => ({ ...window.chainboard }));
  const first = await state();
  const text = (id) => page.locator(`[data-testid="${id}"]`).first().textContent();

  // Live updates: diffs applied and cells repainted, without a reload.
  await page.evaluate(() => { window.__loadMarker = 'still the same page'; });
  await page.waitForFunction(
    (seq) => window.chainboard.heatmapSeq > seq && window.chainboard.repaintedCells > 0,
    first.heatmapSeq,
    { timeout: 30_000 },
  );
  await page.waitForFunction(() => window.chainboard.diffsApplied >= 4, null, { timeout: 30_000 });
  const live = await state();
  check(await page.evaluate(() => window.__loadMarker) === 'still the same page', 'the page reloaded');
  check((await text('seq')).trim().length > 0, 'seq shown');
  check(Number(await text('repainted-cells')) > 0, 'repainted-cells counter on the page');
  const startupEpoch = await text('epoch-id');
  check(startupEpoch.includes('SPX-'), `epoch id shown: ${startupEpoch}`);
  check((await text('feed-state')).trim().length > 0, 'feed state shown');
  check((await text('call-wall')).trim().length > 0, 'call wall shown');

  // An epoch change through the fake Massive: new strikes appear with the next photo.
  const listed = await fetch(`${fake}/_fake/list-strikes?symbol=SPX`, { method: 'POST' });
  check(listed.ok, `list-strikes answered ${listed.status}`);
  // Wait for the geometry_change epoch itself: on a loaded machine a stale_feed
  // epoch may come first.
  await page.waitForFunction(
    (before) =>
      window.chainboard.epochId &&
      window.chainboard.epochId !== before &&
      document.querySelector('[data-testid="epoch-reason"]')?.textContent.trim() === 'geometry_change',
    first.epochId,
    { timeout: 60_000 },
  );
  const reason = (await text('epoch-reason')).trim();
  check(reason === 'geometry_change', `epoch reason on the page: ${reason}`);
  const banner = page.locator('[data-testid="epoch-banner"]');
  check(await banner.isVisible(), 'a visible mark when the epoch changes');
  await page.screenshot({ path: screenshot });
  const after = await state();
  check(after.epochChanges >= 1, 'epoch change counted');
  check(foreign.length === 0, `requests to other hosts: ${foreign.join(', ')}`);
  check(errors.length === 0, errors.join('\n'));
  console.log(JSON.stringify({ ok: true, first, live, after, reason, screenshot }));
} catch (e) {
  console.error(`browser test failed: ${e.message}`);
  if (errors.length) console.error(errors.join('\n'));
  outcome = 1;
} finally {
  await browser.close();
}
process.exit(outcome);
