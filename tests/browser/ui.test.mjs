// The web UI in headless Chromium against a running `chainboard demo`.
//
// Usage: node ui.test.mjs <chainboard URL> <fake Massive URL> <screenshot path>
//
// It loads the page, waits for live data, checks that heatmap cells repaint from
// diffs without a reload, that the levels panel gives the flip's distance from spot,
// that the gamma-curve switch shows and hides the curve on the GEX profile, that the
// GEX (volume) metric shows the volume basis's walls labelled as such, and that the
// profile draws null levels and a null curve without an error; then it lists new
// strikes through the fake Massive's control endpoint and waits for the
// geometry_change epoch to show on the page, and saves a screenshot. The session
// view is checked too: it loads the history, grows a column per tick, reads a
// moment on hover, and a pinned moment's levels are the ones the API gives for it. It prints one JSON line of what it saw and exits non-zero with a
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

  // The flip and its distance from spot (the demo's book has one in range).
  const flipShown = () =>
    page.waitForFunction(
      () => {
        const cell = (id) => document.querySelector(`[data-testid="${id}"]`)?.textContent.trim() ?? '';
        return /^\d+(\.\d+)?$/.test(cell('zero-gamma')) &&
          /^[+−]?\d+(\.\d)?$/.test(cell('zero-gamma-points')) &&
          /^[+−]?\d+\.\d\d%$/.test(cell('zero-gamma-pct'));
      },
      null,
      { timeout: 30_000 },
    );
  await flipShown();
  const flip = {
    level: (await text('zero-gamma')).trim(),
    points: (await text('zero-gamma-points')).trim(),
    pct: (await text('zero-gamma-pct')).trim(),
  };

  // The gamma curve: on by default, and the switch hides and shows it.
  const toggle = page.locator('[data-testid="curve-toggle"]');
  check(await toggle.isVisible(), 'a visible gamma-curve switch');
  check(await toggle.isChecked(), 'the gamma curve is on by default');
  const curveIs = (want) =>
    page.waitForFunction(
      (w) => document.querySelector('[data-testid="profile"]').dataset.curve === w,
      want,
      { timeout: 10_000 },
    );
  await curveIs('shown');
  await toggle.uncheck();
  await curveIs('hidden');
  await toggle.check();
  await curveIs('shown');

  // GEX (volume): the walls are the volume basis's and say so; the flip is OI's.
  const label = async (id) => (await text(id)).replace(/\s+/g, ' ').trim();
  await page.selectOption('[data-testid="metric"]', 'gex_volume');
  await page.waitForFunction(
    () => document.querySelector('[data-testid="profile"]').dataset.wallBasis === 'volume',
    null,
    { timeout: 10_000 },
  );
  const volumeLabels = {
    call: await label('call-wall-label'),
    put: await label('put-wall-label'),
    flip: await label('zero-gamma-label'),
  };
  check(volumeLabels.call.includes('Call wall') && volumeLabels.call.includes('(volume)'), `call wall label: ${volumeLabels.call}`);
  check(volumeLabels.put.includes('Put wall') && volumeLabels.put.includes('(volume)'), `put wall label: ${volumeLabels.put}`);
  check(volumeLabels.flip.includes('(OI)'), `flip label under the volume metric: ${volumeLabels.flip}`);
  const basis = await page.locator('[data-testid="call-wall"]').getAttribute('data-basis');
  check(basis === 'volume', `call wall basis ${basis}`);
  // The value shown is the published volume wall (walls hold between ticks; retry
  // across a tick or two in case one moved between the two reads).
  let wallMatch = null;
  for (let attempt = 0; attempt < 10 && !wallMatch; attempt++) {
    const doc = await (await fetch(`${base}/api/v1/gex/SPX`)).json();
    // The default expiries are the front ones (0DTE, this week, the next monthly).
    const want = doc.filters.front.levels.call_wall_volume;
    const shown = await page.locator('[data-testid="call-wall"]').getAttribute('data-value');
    if (shown === (want === null ? '' : String(want))) wallMatch = { shown, want, oi: doc.filters.front.levels.call_wall };
    else await page.waitForTimeout(500);
  }
  check(wallMatch, 'the call wall shown under GEX (volume) is the published call_wall_volume');
  await page.selectOption('[data-testid="metric"]', 'gex');
  await page.waitForFunction(
    () => document.querySelector('[data-testid="profile"]').dataset.wallBasis === 'oi',
    null,
    { timeout: 10_000 },
  );
  const oiCall = await label('call-wall-label');
  check(!oiCall.includes('(volume)') && !(await label('zero-gamma-label')).includes('(OI)'), `labels back on OI: ${oiCall}`);

  // GEX (flow-adjusted): walls and flip on the flow basis, labelled, as published;
  // the customer-flow panel says it is an estimate, with the share signed, and its
  // hedge-pressure chart and top flow follow the simulated tape.
  await page.selectOption('[data-testid="metric"]', 'gex_flow');
  await page.waitForFunction(
    () => document.querySelector('[data-testid="profile"]').dataset.wallBasis === 'flow',
    null,
    { timeout: 10_000 },
  );
  const flowLabels = { call: await label('call-wall-label'), flip: await label('zero-gamma-label') };
  check(flowLabels.call.includes('(flow)') && flowLabels.flip.includes('(flow)'), `flow labels: ${JSON.stringify(flowLabels)}`);
  let flowMatch = null;
  for (let attempt = 0; attempt < 10 && !flowMatch; attempt++) {
    const doc = await (await fetch(`${base}/api/v1/gex/SPX`)).json();
    const want = doc.filters.front.levels.call_wall_flow;
    const shown = await page.locator('[data-testid="call-wall"]').getAttribute('data-value');
    if (shown === (want === null ? '' : String(want))) flowMatch = { shown, want, flow: doc.flow };
    else await page.waitForTimeout(500);
  }
  check(flowMatch, 'the call wall shown under GEX (flow-adjusted) is the published call_wall_flow');
  check(flowMatch && flowMatch.flow.volume.buy + flowMatch.flow.volume.sell > 0, 'the demo tape is signed');
  const flowPanel = await page.evaluate(() => ({
    title: document.getElementById('flow-title').textContent,
    signed: document.querySelector('[data-testid="flow-signed"]').textContent,
    top: document.querySelectorAll('[data-testid="top-flow"] li:not(.muted)').length,
    points: Number(document.querySelector('[data-testid="hedge"]').dataset.points || 0),
  }));
  check(flowPanel.title.includes('estimate'), `the flow panel says it is an estimate: ${flowPanel.title}`);
  check(/\d+% of [\d,]+ contracts signed/.test(flowPanel.signed), `the share signed: ${flowPanel.signed}`);
  check(flowPanel.top > 0, `top flow listed: ${flowPanel.top}`);
  await page.waitForFunction(
    (before) => Number(document.querySelector('[data-testid="hedge"]').dataset.points || 0) > before,
    flowPanel.points,
    { timeout: 10_000 },
  );
  await page.selectOption('[data-testid="metric"]', 'gex');

  // Null levels and a null curve draw without an error (the page's own module, on a
  // canvas of its own, so the live chart is untouched).
  const nullPaint = await page.evaluate(async () => {
    const { ProfileView } = await import('/profile.js');
    const canvas = document.createElement('canvas');
    const view = new ProfileView(canvas);
    const levels = {
      zero_gamma: null,
      zero_gamma_status: 'one_sided',
      zero_gamma_rising: null,
      zero_gamma_transition: null,
      zero_gamma_roots: [],
      call_wall: null,
      put_wall: null,
      call_wall_volume: null,
      put_wall_volume: null,
      distance: { zero_gamma: null, call_wall: null, put_wall: null, call_wall_volume: null, put_wall_volume: null },
    };
    const part = { call_gex: [1e6, -2e6], put_gex: [0, 0], call_gex_volume: [0, 0], put_gex_volume: [0, 0], total: { net_gex: -1e6, net_gex_volume: 0 }, levels, curve: null };
    const gex = { spot: null, strikes: [6800, 6900], filters: { all: part } };
    const geometry = { top: 84, rowH: 10, height: 120, rowStrikes: Float64Array.from([6900, 6800]) };
    const seen = [];
    for (const metric of ['gex', 'gex_volume']) {
      view.paint({ geometry, gex, filter: 'all', metric, width: 260, showCurve: true });
      seen.push(canvas.dataset.curve);
    }
    part.levels = null;
    view.paint({ geometry, gex, filter: 'all', metric: 'gex', width: 260, showCurve: true });
    seen.push(canvas.dataset.curve);
    return seen;
  });
  check(nullPaint.every((c) => c === 'none'), `null levels and curve: ${nullPaint}`);

  // The session view: the history from the API, then a live column per tick; hover
  // reads a moment, and a pinned moment's levels are the ones published then.
  await page.selectOption('[data-testid="view"]', 'session');
  await page.waitForFunction(() => window.chainboard.timelineColumns > 0, null, { timeout: 20_000 });
  const timeline = page.locator('[data-testid="timeline"]');
  check(await timeline.isVisible(), 'the session view is shown');
  check(!(await page.locator('[data-testid="heatmap"]').isVisible()), 'the heatmap is hidden behind it');
  const loaded = await state();
  await page.waitForFunction(
    (n) => window.chainboard.timelineAppends >= n + 3,
    loaded.timelineAppends,
    { timeout: 20_000 },
  );
  const grown = await state();
  check(grown.timelineColumns >= loaded.timelineColumns + 3, `a column per tick: ${loaded.timelineColumns} → ${grown.timelineColumns}`);
  const box = await timeline.boundingBox();
  // The plot starts 52 px in (the price axis); its first pixels show the first tick.
  const at = { x: box.x + 54, y: box.y + box.height / 2 };
  await page.mouse.move(at.x, at.y);
  check(await page.locator('#tooltip').isVisible(), 'hovering the session view shows a tooltip');
  const tip = await page.locator('#tooltip').textContent();
  check(/seq \d+/.test(tip) && tip.includes('flip'), `the tooltip reads the moment: ${tip}`);
  await page.mouse.click(at.x, at.y);
  await page.waitForFunction(() => window.chainboard.timelinePinned !== null, null, { timeout: 5_000 });
  const pinned = (await state()).timelinePinned;
  // The same moment from the API: the tick published at that millisecond.
  const moment = await (await fetch(`${base}/api/v1/gex/SPX/history?from=${pinned.t}&to=${pinned.t}`)).json();
  const then = moment.columns[0];
  check(then && then.seq === pinned.seq, `the pinned tick is the published one: ${JSON.stringify(then)} vs ${JSON.stringify(pinned)}`);
  check(
    then.zero_gamma === pinned.flip && then.call_wall === pinned.callWall && then.put_wall === pinned.putWall,
    `pinned levels as published: ${JSON.stringify(pinned)}`,
  );
  const shownFlip = await page.locator('[data-testid="zero-gamma"]').getAttribute('data-value');
  check(shownFlip === (pinned.flip === null ? '' : String(pinned.flip)), `the levels panel shows the pinned flip: ${shownFlip}`);
  const levelsTitle = await page.locator('#levels-filter').textContent();
  check(levelsTitle.includes('at '), `the levels panel says when: ${levelsTitle}`);
  await page.keyboard.press('ArrowRight');
  const stepped = (await state()).timelinePinned;
  check(stepped && stepped.t > pinned.t, 'the arrow key moves the pinned moment on');
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => window.chainboard.timelinePinned === null, null, { timeout: 5_000 });
  const sessionView = await state();
  console.log(`session view: ${sessionView.timelineColumns} columns; a new tick's column painted in ${sessionView.timelineAppendMs.toFixed(2)} ms (performance.now())`);
  // A full session at 1 Hz (23,400 ticks of 131 strikes), on a canvas of its own:
  // what a full paint and a new tick cost in this Chromium (printed, not asserted:
  // timings belong to benchmarks).
  const fullSession = await page.evaluate(async () => {
    const { TimelineView } = await import('/timeline.js');
    const view = new TimelineView(document.createElement('canvas'));
    const strikes = Array.from({ length: 131 }, (_, i) => 6510 + 5 * i);
    const column = (i) => ({
      t: 1_796_000_000 + i,
      seq: i + 1,
      spot: 6850 + 20 * Math.sin(i / 500),
      flip: 6840,
      callWall: 6900,
      putWall: 6800,
      netGex: 0,
      netGexVolume: 0,
      strikes,
      values: strikes.map((k) => (k - 6850) * (1 + (i % 7))),
    });
    view.resize(1100, 640);
    view.load(Array.from({ length: 23_400 }, (_, i) => column(i)));
    const full = view.lastPaintMs;
    const appends = [];
    for (let i = 0; i < 21; i++) {
      view.append(column(23_400 + i));
      appends.push(view.lastPaintMs);
    }
    appends.sort((a, b) => a - b);
    return { columns: view.columns.length, full, append: appends[10] };
  });
  check(fullSession.columns === 23_421, `a full session held: ${fullSession.columns}`);
  console.log(`a full session (23,400 ticks × 131 strikes, 1100×640): full paint ${fullSession.full.toFixed(1)} ms; a new tick's column ${fullSession.append.toFixed(2)} ms (median of 21)`);
  await page.screenshot({ path: screenshot.replace(/\.png$/, '-session.png') });
  await page.selectOption('[data-testid="view"]', 'board');
  await page.waitForFunction(() => window.chainboard.view === 'board', null, { timeout: 5_000 });

  // The layout on a laptop and on a narrow window: the default (front) expirations
  // are all in view, nothing sits under another panel, and with every expiration
  // the heatmap scrolls beside the profile and the keyboard cursor brings the last
  // column into view. Element boxes, not pixels.
  const heatmapDoc = await (await fetch(`${base}/api/v1/heatmap/SPX`)).json();
  const frontColumns = heatmapDoc.expirations.filters.filter((f) => f.includes('front')).length;
  check(frontColumns >= 2, `front expirations in the document: ${frontColumns}`);
  const layouts = [];
  for (const [width, height] of [[1280, 720], [800, 600]]) {
    await page.setViewportSize({ width, height });
    await page.waitForTimeout(400);
    const boxes = await page.evaluate(() => {
      const box = (sel) => document.querySelector(sel).getBoundingClientRect().toJSON();
      const wrap = document.querySelector('.heatmap-wrap');
      return {
        board: box('#board'),
        heatmap: box('.heatmap-wrap'),
        profile: box('.profile-wrap'),
        panels: box('.panels'),
        topbar: box('.topbar'),
        scroll: { width: wrap.scrollWidth, client: wrap.clientWidth },
        columns: window.chainboard.heatmapColumns,
        filter: document.querySelector('[data-testid="filter"]').value,
      };
    });
    const { board, heatmap, profile, panels, topbar, scroll } = boxes;
    const at = `${width}×${height}`;
    check(boxes.filter === 'front', `${at}: the default expiries are the front ones, not ${boxes.filter}`);
    check(boxes.columns === frontColumns, `${at}: ${boxes.columns} columns drawn of ${frontColumns} front expirations`);
    check(scroll.width <= scroll.client + 1, `${at}: the front expirations fit without scrolling (${scroll.width} > ${scroll.client})`);
    check(heatmap.right <= profile.left + 0.5, `${at}: the heatmap runs under the profile (${heatmap.right} > ${profile.left})`);
    check(board.right <= width + 0.5 && board.left >= 0, `${at}: the board leaves the window`);
    check(board.top >= topbar.bottom - 0.5, `${at}: the board sits under the top bar`);
    const beside = panels.left >= board.right - 0.5;
    const below = panels.top >= board.bottom - 0.5;
    check(beside || below, `${at}: the side panels overlap the board`);
    if (width >= 1200) check(beside && board.bottom <= height + 0.5, `${at}: the board and the panels side by side within the window`);
    check(board.height >= 300, `${at}: a board of ${board.height} px is not usable`);
    layouts.push({ at, columns: boxes.columns, board: [board.width, board.height], panels: beside ? 'beside' : 'below' });
  }
  // Every expiration at 800 px: the heatmap scrolls in its own box, and End brings
  // the last column into view beside the profile.
  await page.selectOption('[data-testid="filter"]', 'all');
  await page.waitForFunction(
    (n) => window.chainboard.heatmapColumns > n,
    frontColumns,
    { timeout: 10_000 },
  );
  await page.locator('#heatmap').focus();
  await page.keyboard.press('ArrowDown');
  await page.keyboard.press('End');
  const scrolled = await page.evaluate(() => {
    const wrap = document.querySelector('.heatmap-wrap');
    return { left: wrap.scrollLeft, width: wrap.scrollWidth, client: wrap.clientWidth };
  });
  check(scrolled.width > scrolled.client, `every expiration overflows at 800 px: ${JSON.stringify(scrolled)}`);
  check(scrolled.left + scrolled.client >= scrolled.width - 2, `End scrolls the last column into view: ${JSON.stringify(scrolled)}`);
  layouts.push({ at: '800×600 all', columns: (await state()).heatmapColumns, scrolled });
  console.log(`layout: ${JSON.stringify(layouts)}`);
  await page.selectOption('[data-testid="filter"]', 'front');
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.waitForTimeout(400);

  // The profile reads back: the strike under the pointer with its calls', puts' and
  // net GEX, the values the GEX document holds for it.
  const profileBox = await page.locator('[data-testid="profile"]').boundingBox();
  let profileMatch = null;
  for (let attempt = 0; attempt < 10 && !profileMatch; attempt++) {
    await page.mouse.move(profileBox.x + profileBox.width / 2, profileBox.y + profileBox.height * (0.45 + attempt / 100));
    const hover = (await state()).profileHover;
    const doc = await (await fetch(`${base}/api/v1/gex/SPX`)).json();
    const i = hover ? doc.strikes.indexOf(hover.strike) : -1;
    const part = doc.filters.front;
    if (hover && i >= 0 && hover.call === part.call_gex[i] && hover.put === part.put_gex[i]) {
      profileMatch = { ...hover, tooltip: await page.locator('#tooltip').textContent() };
    } else await page.waitForTimeout(300);
  }
  check(profileMatch, 'hovering the profile reads the published calls and puts of the strike under the pointer');
  check(profileMatch.net === profileMatch.call + profileMatch.put, `net is calls + puts: ${JSON.stringify(profileMatch)}`);
  check(/calls .* puts .*net/s.test(profileMatch.tooltip), `the profile's tooltip: ${profileMatch.tooltip}`);
  // DEX as a profile view: one bar per strike, the published per-strike DEX.
  await page.selectOption('[data-testid="metric"]', 'dex');
  let dexMatch = null;
  for (let attempt = 0; attempt < 10 && !dexMatch; attempt++) {
    await page.mouse.move(profileBox.x + profileBox.width / 2, profileBox.y + profileBox.height * (0.5 + attempt / 100));
    const hover = (await state()).profileHover;
    const doc = await (await fetch(`${base}/api/v1/gex/SPX`)).json();
    const i = hover ? doc.strikes.indexOf(hover.strike) : -1;
    if (hover && i >= 0 && hover.put === null && hover.net === doc.filters.front.dex[i]) {
      dexMatch = { ...hover, tooltip: await page.locator('#tooltip').textContent() };
    } else await page.waitForTimeout(300);
  }
  check(dexMatch && dexMatch.tooltip.includes('DEX') && dexMatch.tooltip.includes('$ of index'), `the DEX profile reads the published DEX: ${JSON.stringify(dexMatch)}`);
  const legend = await page.locator('#legend-note').textContent();
  check(legend.includes('dealers assumed long calls, short puts'), `the legend states the sign convention: ${legend}`);
  await page.selectOption('[data-testid="metric"]', 'gex');
  // The cell tooltip splits GEX between the call and the put.
  const heatmapBox = await page.locator('#heatmap').boundingBox();
  await page.mouse.move(heatmapBox.x + 90, heatmapBox.y + heatmapBox.height / 2);
  const cellTip = await page.locator('#tooltip').textContent();
  check(/C .*GEX [+−-]?\$.*P .*GEX [+−-]?\$/s.test(cellTip) || cellTip.includes('no contract'), `the cell tooltip gives the call's and the put's GEX: ${cellTip}`);
  await page.mouse.move(0, 0);
  // Zoom: + narrows the strike window by one of the Strikes choices, - widens it back.
  await page.locator('#heatmap').focus();
  const before = await page.locator('#window').inputValue();
  await page.keyboard.press('+');
  const zoomed = await page.locator('#window').inputValue();
  check(Number(zoomed) < Number(before), `+ narrows the strike window: ${before} → ${zoomed}`);
  await page.keyboard.press('-');
  check((await page.locator('#window').inputValue()) === before, 'and - widens it back');

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
  console.log(JSON.stringify({ ok: true, first, live, after, reason, flip, volumeLabels, wallMatch, pinned, profileMatch, screenshot }));
} catch (e) {
  console.error(`browser test failed: ${e.message}`);
  if (errors.length) console.error(errors.join('\n'));
  outcome = 1;
} finally {
  await browser.close();
}
process.exit(outcome);
