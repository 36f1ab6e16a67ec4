//! `GET /metrics`: the service in Prometheus's text exposition format.
//!
//! Every value is read at scrape time from counters the pipeline keeps anyway: the
//! service's status through the [`Source`](crate::source::Source) (engine stats, the
//! store's and the publisher's health, the tick timer) and the stream counters. So
//! metrics cost nothing on the hot path and need no registry. The format is small
//! enough to write by hand: `# HELP`, `# TYPE`, then `name{labels} value` lines.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::access::Denied;
use crate::source::{BoardStatus, LeaseRole, SocketCounters};
use crate::state::AppState;

struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                // Label values here are symbols and reason names: no escaping needed.
                let _ = write!(self.0, "{k}=\"{v}\"");
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {value}");
    }

    fn one(&mut self, name: &str, kind: &str, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let mut response = render(&state).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn render(state: &AppState) -> String {
    let inner = &state.inner;
    let mut out = Exposition(String::with_capacity(4096));
    let status = inner.source.status();
    {
        type Stat = fn(&BoardStatus) -> f64;
        let per_board: [(&str, &str, &str, Stat); 6] = [
            (
                "chainboard_quotes_total",
                "counter",
                "Quotes applied to the board.",
                |b| b.quotes as f64,
            ),
            (
                "chainboard_trades_total",
                "counter",
                "Trades applied to the board.",
                |b| b.trades as f64,
            ),
            (
                "chainboard_geometry_miss_total",
                "counter",
                "Live events for contracts not on the board (ignored).",
                |b| b.geometry_miss as f64,
            ),
            (
                "chainboard_feed_silence_seconds",
                "gauge",
                "Seconds since the last live event.",
                |b| b.silence_ms as f64 / 1000.0,
            ),
            (
                "chainboard_board_contracts",
                "gauge",
                "Contracts on the active epoch's board.",
                |b| b.contracts as f64,
            ),
            (
                "chainboard_spot",
                "gauge",
                "The underlying's latest value.",
                |b| b.spot.unwrap_or(f64::NAN),
            ),
        ];
        for (name, kind, help, get) in per_board {
            out.family(name, kind, help);
            for b in &status.boards {
                out.sample(name, &[("symbol", &b.underlying)], get(b));
            }
        }
        out.family(
            "chainboard_epochs_total",
            "counter",
            "Epochs started, by reason.",
        );
        for b in &status.boards {
            for (reason, count) in &b.epochs {
                out.sample(
                    "chainboard_epochs_total",
                    &[("symbol", &b.underlying), ("reason", reason)],
                    *count as f64,
                );
            }
        }
        type Counts = fn(&BoardStatus) -> &[(String, u64)];
        let flow: [(&str, &str, &str, Counts); 3] = [
            (
                "chainboard_flow_volume",
                "side",
                "Contracts of regular trades this session, by customer side as signed (an estimate).",
                |b| &b.flow.volume,
            ),
            (
                "chainboard_flow_excluded",
                "reason",
                "Trades this session excluded from signing by their condition codes.",
                |b| &b.flow.excluded,
            ),
            (
                "chainboard_flow_refused",
                "reason",
                "Trades this session on the board but not signed: bad price or size, outside the session.",
                |b| &b.flow.refused,
            ),
        ];
        for (name, label, help, get) in flow {
            // Per session: they start at zero each session, so gauges.
            out.family(name, "gauge", help);
            for b in &status.boards {
                for (value, count) in get(b) {
                    out.sample(
                        name,
                        &[("symbol", &b.underlying), (label, value)],
                        *count as f64,
                    );
                }
            }
        }
        out.one(
            "chainboard_photos_loaded_total",
            "counter",
            "Complete chain photos applied.",
            status.loads_ok as f64,
        );
        out.one(
            "chainboard_photo_failures_total",
            "counter",
            "Chain loads that failed after their retries.",
            status.loads_failed as f64,
        );
        out.one(
            "chainboard_feed_gaps_total",
            "counter",
            "Disconnects and overflows of the options feed.",
            status.gaps as f64,
        );
        out.one(
            "chainboard_quoted_contracts",
            "gauge",
            "Contracts with a quote subscription.",
            status.quoted as f64,
        );
        let feed = &status.feed;
        out.one(
            "chainboard_feed_frames_total",
            "counter",
            "WebSocket data frames read from the options and indices feeds.",
            feed.frames as f64,
        );
        out.family(
            "chainboard_feed_errors_total",
            "counter",
            "Feed input that was not applied, by kind: frames that were not valid JSON of the expected shape, events of an unknown type or missing fields, symbols that are not option tickers, roots no board here owns, impossible prices or times.",
        );
        for (kind, count) in [
            ("malformed_frame", feed.malformed_frames),
            ("unknown_event", feed.unknown_events),
            ("invalid_event", feed.invalid_events),
            ("bad_symbol", feed.bad_symbols),
            ("unrouted", feed.unrouted),
            ("rejected_update", feed.rejected_updates),
        ] {
            out.sample(
                "chainboard_feed_errors_total",
                &[("kind", kind)],
                count as f64,
            );
        }
        out.one(
            "chainboard_feed_status_messages_total",
            "counter",
            "Status messages on the feeds (connected, auth, acks, errors).",
            feed.statuses as f64,
        );
        type Socket = fn(&SocketCounters) -> u64;
        let per_socket: [(&str, &str, Socket); 5] = [
            (
                "chainboard_socket_connects_total",
                "Connections authenticated.",
                |s| s.connects,
            ),
            (
                "chainboard_socket_disconnects_total",
                "Connections lost or replaced.",
                |s| s.disconnects,
            ),
            (
                "chainboard_socket_dropped_frames_total",
                "Frames dropped because the queue to the core was full (each a gap).",
                |s| s.dropped_frames,
            ),
            (
                "chainboard_socket_slow_consumer_total",
                "slow_consumer notices from Massive.",
                |s| s.slow_consumer,
            ),
            (
                "chainboard_socket_status_errors_total",
                "Error status messages from Massive.",
                |s| s.status_errors,
            ),
        ];
        for (name, help, get) in per_socket {
            out.family(name, "counter", help);
            for socket in &status.sockets {
                out.sample(name, &[("cluster", &socket.cluster)], get(socket) as f64);
            }
        }
    }
    let ticks = &status.ticks;
    out.family(
        "chainboard_model_tick_seconds",
        "summary",
        "Time the models take on the ingestion task per tick, epoch starts (full rebuilds) included.",
    );
    out.sample(
        "chainboard_model_tick_seconds_sum",
        &[],
        ticks.total_us as f64 / 1e6,
    );
    out.sample(
        "chainboard_model_tick_seconds_count",
        &[],
        ticks.count as f64,
    );
    out.one(
        "chainboard_model_tick_last_seconds",
        "gauge",
        "The last model tick's duration.",
        ticks.last_us as f64 / 1e6,
    );
    let publisher = &status.publisher;
    out.one(
        "chainboard_snapshot_build_seconds",
        "gauge",
        "The last snapshot's finishing time in the publisher (flip search, diffs, JSON).",
        publisher.last_finish_ms as f64 / 1000.0,
    );
    out.one(
        "chainboard_snapshots_published_total",
        "counter",
        "Model ticks written to the store.",
        publisher.published as f64,
    );
    out.one(
        "chainboard_snapshots_skipped_total",
        "counter",
        "Model ticks superseded before the publisher got to them.",
        publisher.skipped as f64,
    );
    out.one(
        "chainboard_snapshot_errors_total",
        "counter",
        "Failed snapshot writes.",
        publisher.errors as f64,
    );
    out.one(
        "chainboard_history_buffered",
        "gauge",
        "GEX history entries held while the store does not answer, written on its return.",
        publisher.history_buffered as f64,
    );
    out.one(
        "chainboard_history_dropped_total",
        "counter",
        "GEX history entries dropped because the outage buffer was full.",
        publisher.history_dropped as f64,
    );
    if let Some(r) = &status.recorder {
        for (name, kind, help, value) in [
            (
                "chainboard_record_records_total",
                "counter",
                "Inputs written to the recording.",
                r.records,
            ),
            (
                "chainboard_record_written_bytes_total",
                "counter",
                "Bytes written to the recording's segments (compressed).",
                r.written_bytes,
            ),
            (
                "chainboard_record_raw_bytes_total",
                "counter",
                "The recorded inputs' size before compression.",
                r.raw_bytes,
            ),
            (
                "chainboard_record_dropped_total",
                "counter",
                "Inputs not recorded: the recorder's queue was full (a slow disk) or a write error stopped it. Ingestion never waits for the recorder.",
                r.dropped,
            ),
            (
                "chainboard_record_queued_bytes",
                "gauge",
                "Bytes waiting for the recorder's disk.",
                r.queued_bytes,
            ),
            (
                "chainboard_record_segments_deleted_total",
                "counter",
                "Old segments deleted to keep the recording within --record-max-bytes.",
                r.segments_deleted,
            ),
            (
                "chainboard_record_errors_total",
                "counter",
                "Recording write errors (the first stops the recording).",
                r.errors,
            ),
        ] {
            out.one(name, kind, help, value as f64);
        }
    }
    if let Some(leases) = &status.leases {
        out.family(
            "chainboard_lease_held",
            "gauge",
            "1 for each underlying whose ingestion lease this worker holds.",
        );
        for symbol in &leases.held {
            out.sample("chainboard_lease_held", &[("symbol", symbol)], 1.0);
        }
        out.one(
            "chainboard_lease_leader",
            "gauge",
            "1 while this worker leads (holds its leases and runs ingestion), 0 on standby.",
            f64::from(u8::from(leases.role == LeaseRole::Leader)),
        );
        out.one(
            "chainboard_lease_terms_total",
            "counter",
            "Times this worker became leader.",
            leases.terms as f64,
        );
        out.one(
            "chainboard_lease_takeovers_total",
            "counter",
            "Times this worker took over a lease that lapsed (its first epochs say failover).",
            leases.takeovers as f64,
        );
        out.one(
            "chainboard_lease_lost_total",
            "counter",
            "Times this worker lost its leases while leading and stepped down.",
            leases.lost as f64,
        );
        out.one(
            "chainboard_fenced_writes_total",
            "counter",
            "Writes the store refused because this worker no longer held their lease.",
            leases.fenced_writes as f64,
        );
    }
    let store = &status.store;
    out.one(
        "chainboard_store_flush_lag_seconds",
        "gauge",
        "Age of the oldest change in the last store flush.",
        store.flush_lag_ms as f64 / 1000.0,
    );
    out.one(
        "chainboard_store_errors_total",
        "counter",
        "Failed store pipelines.",
        store.errors as f64,
    );
    out.one(
        "chainboard_store_degraded",
        "gauge",
        "1 while the store is failing.",
        f64::from(u8::from(store.degraded)),
    );
    out.one(
        "chainboard_store_fields_written_total",
        "counter",
        "Contract fields written to the store.",
        store.fields_written as f64,
    );
    out.one(
        "chainboard_stream_clients",
        "gauge",
        "Browser streams open.",
        inner.stream_clients.load(Ordering::Relaxed) as f64,
    );
    out.one(
        "chainboard_stream_clients_dropped_total",
        "counter",
        "Browser streams closed for falling behind.",
        inner.stream_dropped.load(Ordering::Relaxed) as f64,
    );
    out.one(
        "chainboard_stream_clients_refused_total",
        "counter",
        "Browser streams closed at once because --max-stream-clients were open.",
        inner.stream_refused.load(Ordering::Relaxed) as f64,
    );
    out.one(
        "chainboard_stream_resyncs_deferred_total",
        "counter",
        "Resync requests held back to the client's next window (one full set per client per window).",
        inner.stream_resyncs_deferred.load(Ordering::Relaxed) as f64,
    );
    out.family(
        "chainboard_http_denied_total",
        "counter",
        "Requests refused by the Host, Origin or token check.",
    );
    for reason in Denied::ALL {
        out.sample(
            "chainboard_http_denied_total",
            &[("reason", reason.as_str())],
            inner.denied[reason as usize].load(Ordering::Relaxed) as f64,
        );
    }
    out.0
}
