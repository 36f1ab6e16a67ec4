// stream.js — the browser's copy of the server's heatmap and GEX, kept current from
// the WebSocket stream.
//
// Three layers, each usable without the one above it:
//
// 1. Pure document functions. `decodeHeatmap` turns a `chainboard/heatmap/v1`
//    document into columns of typed arrays (null → NaN, letter strings → byte
//    arrays), so a diff patches ~25k-contract columns in place instead of copying
//    them or rebuilding 25k-character strings every second. `patchHeatmap` /
//    `patchGex` apply a diff in place and say what changed; `applyHeatmapDiff` /
//    `applyGexDiff` are the pure, JSON-in JSON-out forms the self-tests use to check
//    that snapshot + diff == next snapshot, the same property the Rust test
//    `a_published_diff_applied_to_published_json_gives_the_next_json` checks.
// 2. `ChainState`: a synchronous state machine that takes parsed documents in
//    arrival order, applies a diff only when its `base_seq` and epoch name the seq it
//    holds, and otherwise asks for a resync. No socket, no clock: node tests drive it.
// 3. `StreamConnection`: the only code that touches a WebSocket. It reconnects with
//    backoff (the server drops slow clients) and starts over from full documents.
//    Where the browser can decompress (`DecompressionStream`), it asks for
//    `?encoding=deflate`: the model documents then arrive as binary messages of
//    zlib-compressed JSON (about 2.3× fewer bytes), inflated here in arrival order.

export const SCHEMA = Object.freeze({
  heatmap: 'chainboard/heatmap/v1',
  heatmapDiff: 'chainboard/heatmap-diff/v1',
  heatmapResync: 'chainboard/heatmap-resync/v1',
  gex: 'chainboard/gex/v1',
  gexDiff: 'chainboard/gex-diff/v1',
  status: 'chainboard/status/v1',
});

/** The text the server answers with full documents. */
export const RESYNC_REQUEST = '{"type":"resync"}';

/** `contracts` columns that index the layout rather than carry values: integers. */
const INDEX_COLUMNS = new Set(['expiry', 'strike']);

/** Top-level keys of a diff that identify it rather than replace snapshot fields. */
const DIFF_ENVELOPE = new Set(['schema', 'symbol', 'epoch', 'base_seq']);

// ---------------------------------------------------------------------------
// 1. Pure document functions
// ---------------------------------------------------------------------------

/**
 * A heatmap snapshot with its `contracts` columns as typed arrays:
 * `expiry`/`strike` → Int32Array; `right`/`source` (one letter per contract) →
 * Uint8Array of char codes; every value column → Float64Array with NaN for null.
 * Every other key is the document's own value. `count` is the number of contracts.
 */
export function decodeHeatmap(doc) {
  const count = doc.contracts.expiry.length;
  const contracts = {};
  for (const [name, column] of Object.entries(doc.contracts)) {
    contracts[name] = decodeColumn(name, column, count);
  }
  return { ...doc, contracts, count };
}

function decodeColumn(name, column, count) {
  if (typeof column === 'string') {
    if (column.length !== count) throw new Error(`contracts.${name}: ${column.length} letters for ${count} contracts`);
    const letters = new Uint8Array(count);
    for (let i = 0; i < count; i++) letters[i] = column.charCodeAt(i);
    return letters;
  }
  if (!Array.isArray(column) || column.length !== count) {
    throw new Error(`contracts.${name}: expected ${count} values`);
  }
  if (INDEX_COLUMNS.has(name)) return Int32Array.from(column);
  const values = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const v = column[i];
    values[i] = v === null ? NaN : v;
  }
  return values;
}

/** The inverse of `decodeHeatmap`: the published JSON shape again. */
export function encodeHeatmap(heatmap) {
  const { count, contracts, ...rest } = heatmap;
  const out = {};
  for (const [name, column] of Object.entries(contracts)) {
    if (column instanceof Uint8Array) {
      out[name] = lettersToString(column);
    } else if (column instanceof Int32Array) {
      out[name] = Array.from(column);
    } else {
      out[name] = Array.from(column, (v) => (Number.isNaN(v) ? null : v));
    }
  }
  return { ...rest, contracts: out };
}

function lettersToString(letters) {
  // In chunks: spreading 30k arguments into one call can exceed an engine's limit.
  let text = '';
  for (let i = 0; i < letters.length; i += 8192) {
    text += String.fromCharCode(...letters.subarray(i, i + 8192));
  }
  return text;
}

/**
 * Why `diff` cannot be applied to what is held (`held` has `seq` and an epoch id),
 * or null when it can. The diff schemas say: apply only to the snapshot whose seq is
 * `base_seq`, of the same epoch.
 */
export function diffMismatch(held, diff) {
  if (!held) return 'no full document held';
  if (held.symbol !== diff.symbol) return `symbol ${diff.symbol}, holding ${held.symbol}`;
  const heldEpoch = held.epoch && held.epoch.id;
  if (heldEpoch !== diff.epoch) return `epoch ${diff.epoch}, holding ${heldEpoch}`;
  if (held.seq !== diff.base_seq) return `base_seq ${diff.base_seq}, holding seq ${held.seq}`;
  return null;
}

/**
 * Applies a heatmap diff to a decoded heatmap in place and returns
 * `{ slots, columnsChanged }`: the board slots whose values changed (the diff's own
 * `contracts.slot` array, not copied) and whether the per-expiration values (`dte`,
 * `t_years`, `filters`) were replaced, which can change which columns a filter shows.
 *
 * The diff is checked whole before anything is written, so a malformed diff leaves
 * the heatmap untouched (the caller resyncs); it throws in that case. It does not
 * check `base_seq` — that is `diffMismatch`'s job.
 */
export function patchHeatmap(heatmap, diff) {
  const changes = diff.contracts;
  const slots = changes.slot;
  const n = slots.length;
  for (let i = 0; i < n; i++) {
    const slot = slots[i];
    if (!Number.isInteger(slot) || slot < 0 || slot >= heatmap.count) {
      throw new Error(`diff slot ${slot} outside the board of ${heatmap.count}`);
    }
  }
  for (const [name, values] of Object.entries(changes)) {
    if (name === 'slot') continue;
    if (!(name in heatmap.contracts)) throw new Error(`diff column ${name} not in the snapshot`);
    if (values.length !== n) throw new Error(`diff column ${name}: ${values.length} values for ${n} slots`);
  }

  for (const [name, values] of Object.entries(changes)) {
    if (name === 'slot') continue;
    const column = heatmap.contracts[name];
    if (typeof values === 'string') {
      for (let i = 0; i < n; i++) column[slots[i]] = values.charCodeAt(i);
    } else {
      for (let i = 0; i < n; i++) {
        const v = values[i];
        column[slots[i]] = v === null ? NaN : v;
      }
    }
  }

  let columnsChanged = false;
  for (const [key, value] of Object.entries(diff)) {
    if (DIFF_ENVELOPE.has(key) || key === 'contracts') continue;
    if (key === 'expirations') {
      // Only the values that move with the anchor come; dates and roots stay.
      heatmap.expirations = { ...heatmap.expirations, ...value };
      columnsChanged = true;
    } else {
      heatmap[key] = value;
    }
  }
  return { slots, columnsChanged };
}

/** Pure: the published snapshot JSON `doc` patched with the diff JSON `diff`. */
export function applyHeatmapDiff(doc, diff) {
  const heatmap = decodeHeatmap(doc);
  patchHeatmap(heatmap, diff);
  return encodeHeatmap(heatmap);
}

/**
 * Applies a GEX diff to a GEX snapshot (the JSON shape: it is small, a few hundred
 * strikes) in place. Per filter, `index[i]` is the strike row whose value in every
 * metric column is replaced; `total` and `levels` replace the filter's.
 * `expirations.index` does the same for the per-expiration columns. Returns
 * `{ rows }`: the changed strike rows per filter name. Checked whole first; throws
 * on a malformed diff without writing.
 */
export function patchGex(gex, diff) {
  const strikeCount = gex.strikes.length;
  const expirationCount = gex.expirations.date.length;
  const checkRows = (part, bound, where) => {
    const index = part.index;
    if (!Array.isArray(index)) throw new Error(`${where}: no index`);
    for (const i of index) {
      if (!Number.isInteger(i) || i < 0 || i >= bound) throw new Error(`${where}: row ${i} outside ${bound}`);
    }
    for (const [name, values] of Object.entries(part)) {
      if (name === 'index' || !Array.isArray(values)) continue;
      if (values.length !== index.length) throw new Error(`${where}.${name}: ${values.length} values for ${index.length} rows`);
    }
  };
  checkRows(diff.expirations, expirationCount, 'expirations');
  for (const [name, part] of Object.entries(diff.filters)) {
    if (!gex.filters[name]) throw new Error(`filter ${name} not in the snapshot`);
    checkRows(part, strikeCount, `filters.${name}`);
  }

  const patchRows = (target, part) => {
    const index = part.index;
    for (const [name, values] of Object.entries(part)) {
      if (name === 'index') continue;
      if (Array.isArray(values)) {
        const column = target[name];
        for (let i = 0; i < index.length; i++) column[index[i]] = values[i];
      } else {
        target[name] = values; // total, levels
      }
    }
  };
  patchRows(gex.expirations, diff.expirations);
  const rows = {};
  for (const [name, part] of Object.entries(diff.filters)) {
    patchRows(gex.filters[name], part);
    rows[name] = part.index;
  }
  for (const [key, value] of Object.entries(diff)) {
    if (DIFF_ENVELOPE.has(key) || key === 'filters' || key === 'expirations') continue;
    gex[key] = value;
  }
  return { rows };
}

/** Pure: the published GEX snapshot `doc` patched with the diff `diff`. */
export function applyGexDiff(doc, diff) {
  const gex = structuredClone(doc);
  patchGex(gex, diff);
  return gex;
}

// ---------------------------------------------------------------------------
// 2. ChainState
// ---------------------------------------------------------------------------

/**
 * What one symbol's stream has delivered so far. `receive(doc)` returns an outcome
 * the UI acts on:
 *
 * - `{ kind: 'heatmap', full: true, epochChanged, previousEpoch }`
 * - `{ kind: 'heatmap', full: false, slots, columnsChanged }`
 * - `{ kind: 'gex', full, rows }`
 * - `{ kind: 'status' }`
 * - `{ kind: 'resync', reason }` — the caller must send `RESYNC_REQUEST`
 * - `{ kind: 'ignored', reason }`
 */
export class ChainState {
  constructor(symbol) {
    /** Documents for another symbol are dropped: a late frame from the socket of
     * the previous symbol must not paint over the new one. */
    this.symbol = symbol;
    /** Decoded heatmap (see decodeHeatmap), or null before the first full one. */
    this.heatmap = null;
    /** GEX snapshot in its JSON shape, or null. */
    this.gex = null;
    /** The latest `chainboard/status/v1`, or null. */
    this.status = null;
    /** Our clock minus the service's, ms (from its status; 0 until one came). */
    this.clockOffsetMs = 0;
    /** A resync was asked for and both full documents have not come back yet: one
     * request per gap, not one per diff that cannot apply. */
    this.resyncPending = false;
    /** Full documents still expected since connecting or resyncing. */
    this.awaitingHeatmap = true;
    this.awaitingGex = true;
    this.heatmapDiffsApplied = 0;
    this.gexDiffsApplied = 0;
    this.resyncs = 0;
  }

  /** Forget what the connection owed us; keep the documents (still shown, and the
   * epoch they name is what a reconnect compares against to flag a change). */
  startOver() {
    this.resyncPending = false;
    this.awaitingHeatmap = true;
    this.awaitingGex = true;
  }

  /** Both full documents are in and no resync is outstanding. */
  get synced() {
    return !this.awaitingHeatmap && !this.awaitingGex && !this.resyncPending;
  }

  receive(doc) {
    if (!doc || typeof doc !== 'object') return { kind: 'ignored', reason: 'not a JSON object' };
    if (doc.symbol !== undefined && doc.symbol !== this.symbol) {
      return { kind: 'ignored', reason: `symbol ${doc.symbol}` };
    }
    switch (doc.schema) {
      case SCHEMA.heatmap:
        return this.fullHeatmap(doc);
      case SCHEMA.heatmapDiff:
        return this.heatmapDiff(doc);
      case SCHEMA.gex:
        return this.fullGex(doc);
      case SCHEMA.gexDiff:
        return this.gexDiff(doc);
      case SCHEMA.status:
        // The service's clock against ours: a replay runs on the recording's.
        if (Number.isFinite(doc.clock)) this.clockOffsetMs = Date.now() - doc.clock * 1000;
        this.status = doc;
        return { kind: 'status' };
      case SCHEMA.heatmapResync:
        // The store's notice that the next snapshot is not reachable by a diff.
        if (this.heatmap && this.heatmap.seq === doc.seq && this.heatmap.epoch.id === doc.epoch) {
          return { kind: 'ignored', reason: 'resync notice for the seq held' };
        }
        return this.requestResync(`resync notice for seq ${doc.seq}`);
      default:
        return { kind: 'ignored', reason: `unknown schema ${doc.schema}` };
    }
  }

  fullHeatmap(doc) {
    let heatmap;
    try {
      heatmap = decodeHeatmap(doc);
    } catch (err) {
      return this.requestResync(`malformed heatmap: ${err.message}`);
    }
    const previousEpoch = this.heatmap ? this.heatmap.epoch.id : null;
    this.heatmap = heatmap;
    this.awaitingHeatmap = false;
    this.settleResync();
    return {
      kind: 'heatmap',
      full: true,
      epochChanged: previousEpoch !== null && previousEpoch !== heatmap.epoch.id,
      previousEpoch,
    };
  }

  heatmapDiff(diff) {
    const why = diffMismatch(this.heatmap, diff);
    if (why) return this.requestResync(`heatmap diff: ${why}`);
    let change;
    try {
      change = patchHeatmap(this.heatmap, diff);
    } catch (err) {
      return this.requestResync(`heatmap diff: ${err.message}`);
    }
    this.heatmapDiffsApplied++;
    return { kind: 'heatmap', full: false, slots: change.slots, columnsChanged: change.columnsChanged };
  }

  fullGex(doc) {
    this.gex = doc;
    this.awaitingGex = false;
    this.settleResync();
    return { kind: 'gex', full: true, rows: null };
  }

  gexDiff(diff) {
    const why = diffMismatch(this.gex, diff);
    if (why) return this.requestResync(`gex diff: ${why}`);
    let change;
    try {
      change = patchGex(this.gex, diff);
    } catch (err) {
      return this.requestResync(`gex diff: ${err.message}`);
    }
    this.gexDiffsApplied++;
    return { kind: 'gex', full: false, rows: change.rows };
  }

  requestResync(reason) {
    if (this.resyncPending) return { kind: 'ignored', reason: `${reason} (resync already asked)` };
    this.resyncPending = true;
    this.awaitingHeatmap = true;
    this.awaitingGex = true;
    this.resyncs++;
    return { kind: 'resync', reason };
  }

  settleResync() {
    if (!this.awaitingHeatmap && !this.awaitingGex) this.resyncPending = false;
  }
}

// ---------------------------------------------------------------------------
// 3. StreamConnection
// ---------------------------------------------------------------------------

/** Reconnect delays: quick first retry (a dropped slow client should come back
 * fast), doubling to a cap so a down server is not hammered. Jittered so many tabs
 * do not reconnect in lockstep. */
const BACKOFF_MS = { first: 500, max: 15_000 };
/** A connection this long without a frame is dead even if the socket says open:
 * the server sends status every second. */
const SILENCE_LIMIT_MS = 10_000;
/** A resync unanswered this long: give up on the socket and reconnect. */
const RESYNC_LIMIT_MS = 5_000;

/**
 * One WebSocket to `/api/v1/stream/{symbol}` feeding a `ChainState`.
 * `onOutcome(outcome)` runs for every document; `onConnection(state)` runs when the
 * connection state (`connecting` / `resyncing` / `live`) changes.
 */
/** Whether this browser can inflate the stream's compressed messages. */
export const CAN_INFLATE = typeof globalThis.DecompressionStream === 'function';

/** The text of a binary stream message: zlib-compressed (RFC 1950) JSON. */
export async function inflateText(data) {
  const inflated = new Blob([data]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Response(inflated).text();
}

export class StreamConnection {
  constructor({ symbol, state, onOutcome, onConnection, token = '', compressed = CAN_INFLATE, WebSocketImpl = globalThis.WebSocket, baseUrl = defaultBaseUrl() }) {
    const query = new URLSearchParams();
    if (token) query.set('token', token);
    if (compressed) query.set('encoding', 'deflate');
    const search = query.toString();
    this.url = `${baseUrl}/api/v1/stream/${encodeURIComponent(symbol)}${search ? `?${search}` : ''}`;
    // Messages still being inflated, in arrival order; null when none is.
    this.inflating = null;
    this.state = state;
    this.onOutcome = onOutcome;
    this.onConnection = onConnection;
    this.WebSocketImpl = WebSocketImpl;
    this.socket = null;
    this.attempt = 0;
    this.stopped = false;
    this.reconnectTimer = null;
    this.watchdog = null;
    this.lastFrameAt = 0;
    this.resyncAskedAt = 0;
    this.connection = null;
  }

  start() {
    this.stopped = false;
    this.connect();
    this.watchdog = setInterval(() => this.checkHealth(), 1000);
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.watchdog);
    if (this.socket) {
      this.socket.onclose = null;
      this.socket.close();
      this.socket = null;
    }
  }

  connect() {
    this.state.startOver();
    this.setConnection('connecting');
    let socket;
    try {
      socket = new this.WebSocketImpl(this.url);
    } catch (err) {
      console.warn('chainboard: cannot open the stream', err);
      this.scheduleReconnect();
      return;
    }
    this.socket = socket;
    this.inflating = null;
    this.lastFrameAt = Date.now();
    socket.binaryType = 'arraybuffer';
    socket.onmessage = (event) => this.onMessage(socket, event.data);
    socket.onopen = () => {
      this.lastFrameAt = Date.now();
    };
    socket.onclose = () => {
      if (this.socket === socket) this.socket = null;
      this.scheduleReconnect();
    };
    socket.onerror = () => {
      // A close event follows; reconnection happens there.
    };
  }

  /**
   * A message as it arrives: text is handled at once unless compressed messages
   * before it are still being inflated, in which case it waits its turn behind them.
   * A message inflated after its socket was replaced is dropped.
   */
  onMessage(socket, data) {
    this.lastFrameAt = Date.now();
    if (typeof data === 'string' && !this.inflating) {
      this.onFrame(data);
      return;
    }
    const text = (this.inflating || Promise.resolve()).then(() =>
      typeof data === 'string' ? data : inflateText(data),
    );
    const done = text.then(
      (t) => {
        if (this.socket === socket) this.onFrame(t);
      },
      (err) => console.warn('chainboard: a compressed message that does not inflate', err),
    );
    this.inflating = done;
    done.then(() => {
      if (this.inflating === done) this.inflating = null;
    });
  }

  onFrame(text) {
    this.lastFrameAt = Date.now();
    let doc;
    try {
      doc = JSON.parse(text);
    } catch {
      console.warn('chainboard: a frame that is not JSON');
      return;
    }
    const outcome = this.state.receive(doc);
    if (outcome.kind === 'resync') {
      console.info(`chainboard: resync (${outcome.reason})`);
      this.resyncAskedAt = Date.now();
      this.send(RESYNC_REQUEST);
    }
    if (outcome.full && this.state.synced) {
      // Both full documents are in after a connect or resync (the server sends the
      // heatmap first, so this is usually the GEX document): the next drop starts
      // the backoff from its first step again.
      this.attempt = 0;
    }
    this.onOutcome(outcome);
    this.setConnection(this.currentConnection());
  }

  send(text) {
    if (this.socket && this.socket.readyState === 1) this.socket.send(text);
  }

  currentConnection() {
    if (!this.socket || this.socket.readyState !== 1) return 'connecting';
    if (this.state.resyncPending) return 'resyncing';
    if (this.state.awaitingHeatmap || this.state.awaitingGex) return 'connecting';
    return 'live';
  }

  setConnection(value) {
    if (value === this.connection) return;
    this.connection = value;
    this.onConnection(value);
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.setConnection('connecting');
    clearTimeout(this.reconnectTimer);
    const ceiling = Math.min(BACKOFF_MS.max, BACKOFF_MS.first * 2 ** this.attempt);
    const delay = ceiling / 2 + Math.random() * (ceiling / 2);
    this.attempt++;
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  checkHealth() {
    const socket = this.socket;
    if (!socket || socket.readyState > 1) return;
    const now = Date.now();
    const silent = now - this.lastFrameAt > SILENCE_LIMIT_MS;
    const resyncStuck = this.state.resyncPending && now - this.resyncAskedAt > RESYNC_LIMIT_MS;
    if (silent || resyncStuck) {
      console.info(`chainboard: reconnecting (${silent ? 'no frames' : 'resync unanswered'})`);
      // Detach first: on a dead network the close handshake can take a minute to
      // report, and the user should not wait for it.
      socket.onclose = null;
      socket.onmessage = null;
      socket.close();
      this.socket = null;
      this.scheduleReconnect();
    }
  }
}

function defaultBaseUrl() {
  if (typeof location === 'undefined') return 'ws://localhost';
  return `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}`;
}
