//! Massive's WebSocket protocol as a state machine with no socket in it: text in,
//! status frames and a verdict out, and the data frame a tick becomes for this
//! client's subscriptions. The socket task ([`crate::ws`]) only moves bytes and timers;
//! everything a client can get wrong is decided here, and answered with a status
//! event rather than a crash.
//!
//! Status events chosen where Massive's documentation is silent (all `"status":"error"`):
//! an action before `auth_success`, bad JSON, an unknown action, an unparsable
//! subscription, a `Q.*` wildcard, a quote subscription beyond the per-connection
//! limit ([`quote_limit_message`]) and a message over 1 MiB.

use chainboard_model::{ContractKey, Underlying};
use rustc_hash::FxHashSet;
use serde::{Deserialize, Serialize};

use crate::state::{Cluster, Tick};

/// Massive: "a message is limited to 1 MB".
pub(crate) const MAX_CLIENT_MESSAGE: usize = 1 << 20;

/// Sent on connect.
pub(crate) const CONNECTED: (&str, &str) = ("connected", "Connected Successfully");
/// Sent for the right key.
pub(crate) const AUTH_SUCCESS: (&str, &str) = ("auth_success", "authenticated");
/// Sent for a wrong key (or while `reject_auth` is on), then the socket closes.
pub(crate) const AUTH_FAILED: (&str, &str) = ("auth_failed", "authentication failed");
/// Sent when no auth arrives within `auth_timeout`, then the socket closes.
pub(crate) const AUTH_TIMEOUT: (&str, &str) = ("auth_timeout", "authentication timed out");
/// Sent to the older socket when a newer one exceeds the connection limit.
pub(crate) const MAX_CONNECTIONS: (&str, &str) =
    ("max_connections", "Maximum number of connections exceeded.");
/// Sent to a socket whose client does not keep up, then the socket closes.
pub(crate) const SLOW_CONSUMER: (&str, &str) = (
    "slow_consumer",
    "slow consumer: the client is not reading data as fast as it is sent",
);

/// The answer to a quote subscription beyond the limit. Massive allows 1,000 option
/// contracts with quotes per connection and no quote wildcard; the message names the
/// limit and the refused parameter.
pub(crate) fn quote_limit_message(max: usize, param: &str) -> String {
    format!(
        "quote subscription limit reached: at most {max} option contracts per connection \
         may be subscribed to Q; not subscribed to: {param}"
    )
}

/// What the socket should do after a client message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Carry on.
    Continue,
    /// The client just authenticated: register it against the connection limit.
    Authenticated,
    /// Send the status and close.
    Close((&'static str, &'static str)),
}

/// The answer to one client message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// Status events to send, as one frame (acks of one message are batched).
    pub(crate) frame: Option<String>,
    /// What to do next.
    pub(crate) verdict: Verdict,
    /// Whether it was an authenticated `subscribe`.
    pub(crate) subscribe: bool,
    /// Quote subscriptions refused for the limit.
    pub(crate) quote_rejections: u64,
}

/// How to judge an `auth` action.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AuthCheck<'a> {
    /// The key the server accepts.
    pub(crate) key: &'a str,
    /// Refuse every key (`reject_auth`).
    pub(crate) reject: bool,
}

/// A client message as sent: `{"action":"subscribe","params":"Q.O:...,T.O:..."}`.
#[derive(Debug, Deserialize)]
struct ClientMessage {
    action: Option<String>,
    params: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct StatusEvent<'a> {
    ev: &'static str,
    status: &'a str,
    message: &'a str,
}

/// A frame of status events: `[{"ev":"status","status":..,"message":..},..]`.
pub(crate) fn status_frame<'a>(events: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let events: Vec<StatusEvent<'_>> = events
        .into_iter()
        .map(|(status, message)| StatusEvent {
            ev: "status",
            status,
            message,
        })
        .collect();
    // Serializing strings cannot fail.
    serde_json::to_string(&events).unwrap_or_else(|_| "[]".to_owned())
}

/// One socket's protocol state.
#[derive(Debug)]
pub(crate) struct Session {
    cluster: Cluster,
    authenticated: bool,
    /// Massive: "Quotes (`Q`): at most 1,000 option contracts per connection".
    max_quoted: usize,
    quotes: FxHashSet<ContractKey>,
    trades: FxHashSet<ContractKey>,
    /// `T.*`.
    trades_all: bool,
    values: FxHashSet<Underlying>,
    /// `V.*`.
    values_all: bool,
    /// `A`/`AM` subscriptions: acknowledged, kept for unsubscribe, never fed (the fake
    /// sends no aggregates).
    aggregates: FxHashSet<String>,
}

/// A parsed subscription parameter.
enum Channel {
    Quote(ContractKey),
    QuoteAll,
    Trade(ContractKey),
    TradeAll,
    Value(Underlying),
    ValueAll,
    Aggregate,
}

impl Session {
    /// A new, unauthenticated session on `cluster`.
    pub(crate) fn new(cluster: Cluster, max_quoted: usize) -> Self {
        Self {
            cluster,
            authenticated: false,
            max_quoted,
            quotes: FxHashSet::default(),
            trades: FxHashSet::default(),
            trades_all: false,
            values: FxHashSet::default(),
            values_all: false,
            aggregates: FxHashSet::default(),
        }
    }

    /// Whether `auth_success` was sent.
    pub(crate) fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// Contracts with quote subscriptions.
    pub(crate) fn quoted(&self) -> usize {
        self.quotes.len()
    }

    /// Handles one text message from the client.
    pub(crate) fn on_text(&mut self, text: &str, auth: AuthCheck<'_>) -> Reply {
        let mut reply = Reply {
            frame: None,
            verdict: Verdict::Continue,
            subscribe: false,
            quote_rejections: 0,
        };
        let error = |message: &str| Some(status_frame([("error", message)]));
        if text.len() > MAX_CLIENT_MESSAGE {
            reply.frame = error(&format!(
                "message too large: the limit is {MAX_CLIENT_MESSAGE} bytes"
            ));
            return reply;
        }
        let Ok(message) = serde_json::from_str::<ClientMessage>(text) else {
            reply.frame = error("invalid message: expected JSON {\"action\":..,\"params\":..}");
            return reply;
        };
        let params = match &message.params {
            Some(serde_json::Value::String(p)) => p.as_str(),
            None => "",
            Some(_) => {
                reply.frame = error("invalid message: params must be a string");
                return reply;
            }
        };
        match message.action.as_deref() {
            Some("auth") => {
                if self.authenticated {
                    reply.frame = error("already authenticated");
                } else if auth.reject || params != auth.key {
                    reply.verdict = Verdict::Close(AUTH_FAILED);
                } else {
                    self.authenticated = true;
                    reply.frame = Some(status_frame([AUTH_SUCCESS]));
                    reply.verdict = Verdict::Authenticated;
                }
            }
            Some(action @ ("subscribe" | "unsubscribe")) if self.authenticated => {
                let subscribe = action == "subscribe";
                reply.subscribe = subscribe;
                let mut statuses: Vec<(&str, String)> = Vec::new();
                for param in params.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    statuses.push(self.apply(param, subscribe, &mut reply.quote_rejections));
                }
                if statuses.is_empty() {
                    statuses.push(("error", format!("{action}: no params given")));
                }
                reply.frame = Some(status_frame(statuses.iter().map(|(s, m)| (*s, m.as_str()))));
            }
            Some("subscribe" | "unsubscribe") => {
                reply.frame = error("not authenticated: send {\"action\":\"auth\"} first");
            }
            Some(other) => {
                reply.frame = error(&format!("unknown action: {other}"));
            }
            None => reply.frame = error("invalid message: no action"),
        }
        reply
    }

    /// Applies one subscribe or unsubscribe parameter; returns its status event.
    fn apply(
        &mut self,
        param: &str,
        subscribe: bool,
        rejections: &mut u64,
    ) -> (&'static str, String) {
        let Some(channel) = self.parse(param) else {
            return ("error", format!("invalid subscription: {param}"));
        };
        let verb = if subscribe {
            "subscribed to"
        } else {
            "unsubscribed to"
        };
        match (channel, subscribe) {
            (Channel::QuoteAll, true) => {
                return (
                    "error",
                    format!(
                        "wildcard quote subscriptions are not allowed (at most {} contracts \
                         per connection): {param}",
                        self.max_quoted
                    ),
                );
            }
            (Channel::Quote(key), true) => {
                if !self.quotes.contains(&key) && self.quotes.len() >= self.max_quoted {
                    *rejections += 1;
                    return ("error", quote_limit_message(self.max_quoted, param));
                }
                self.quotes.insert(key);
            }
            (Channel::Quote(key), false) => {
                self.quotes.remove(&key);
            }
            (Channel::QuoteAll, false) => {}
            (Channel::Trade(key), true) => {
                self.trades.insert(key);
            }
            (Channel::Trade(key), false) => {
                self.trades.remove(&key);
            }
            (Channel::TradeAll, on) => self.trades_all = on,
            (Channel::Value(u), true) => {
                self.values.insert(u);
            }
            (Channel::Value(u), false) => {
                self.values.remove(&u);
            }
            (Channel::ValueAll, on) => self.values_all = on,
            (Channel::Aggregate, true) => {
                self.aggregates.insert(param.to_owned());
            }
            (Channel::Aggregate, false) => {
                self.aggregates.remove(param);
            }
        }
        ("success", format!("{verb}: {param}"))
    }

    /// `<prefix>.<symbol>` for this cluster.
    fn parse(&self, param: &str) -> Option<Channel> {
        let (prefix, symbol) = param.split_once('.')?;
        let all = symbol == "*";
        match (self.cluster, prefix) {
            (Cluster::Options, "Q") if all => Some(Channel::QuoteAll),
            (Cluster::Options, "Q") => ContractKey::parse(symbol).ok().map(Channel::Quote),
            (Cluster::Options, "T") if all => Some(Channel::TradeAll),
            (Cluster::Options, "T") => ContractKey::parse(symbol).ok().map(Channel::Trade),
            (Cluster::Options, "A" | "AM") => {
                (all || ContractKey::parse(symbol).is_ok()).then_some(Channel::Aggregate)
            }
            (Cluster::Indices, "V") if all => Some(Channel::ValueAll),
            (Cluster::Indices, "V") => index(symbol).map(Channel::Value),
            (Cluster::Indices, "A" | "AM") => {
                (all || index(symbol).is_some()).then_some(Channel::Aggregate)
            }
            _ => None,
        }
    }

    /// The data frame `tick` becomes for this client, with its event count; `None` if
    /// nothing in it was subscribed to.
    pub(crate) fn data_frame(&self, tick: &Tick) -> Option<(String, usize)> {
        if !self.authenticated {
            return None;
        }
        let mut frame = String::new();
        let mut count = 0;
        let mut push = |json: &str| {
            frame.push(if count == 0 { '[' } else { ',' });
            frame.push_str(json);
            count += 1;
        };
        match self.cluster {
            Cluster::Options => {
                if self.quotes.is_empty() && self.trades.is_empty() && !self.trades_all {
                    return None;
                }
                for e in &tick.options {
                    let wanted = if e.trade {
                        self.trades_all || self.trades.contains(&e.key)
                    } else {
                        self.quotes.contains(&e.key)
                    };
                    if wanted {
                        push(tick.json(&e.range));
                    }
                }
            }
            Cluster::Indices => {
                for v in &tick.values {
                    if self.values_all || self.values.contains(&v.underlying) {
                        push(tick.json(&v.range));
                    }
                }
            }
        }
        if count == 0 {
            return None;
        }
        frame.push(']');
        Some((frame, count))
    }
}

/// `I:SPX` → `SPX`.
fn index(symbol: &str) -> Option<Underlying> {
    Underlying::new(symbol.strip_prefix("I:")?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::EncodedEvent;
    use serde_json::Value;

    const KEY: AuthCheck<'static> = AuthCheck {
        key: "k",
        reject: false,
    };

    fn statuses(reply: &Reply) -> Vec<(String, String)> {
        let v: Value = serde_json::from_str(reply.frame.as_deref().unwrap_or("[]")).expect("json");
        v.as_array()
            .expect("array")
            .iter()
            .map(|e| {
                assert_eq!(e["ev"], "status");
                (
                    e["status"].as_str().unwrap_or_default().to_owned(),
                    e["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    fn authed(cluster: Cluster, max: usize) -> Session {
        let mut s = Session::new(cluster, max);
        let r = s.on_text(r#"{"action":"auth","params":"k"}"#, KEY);
        assert_eq!(r.verdict, Verdict::Authenticated);
        s
    }

    #[test]
    fn bad_input_gets_an_error_status_never_a_crash() {
        let mut s = Session::new(Cluster::Options, 2);
        for text in [
            "",
            "not json",
            "[1,2]",
            r#"{"action":5}"#,
            r#"{"action":"subscribe","params":"Q.O:SPXW261124C06850000"}"#,
            r#"{"action":"dance","params":""}"#,
            r#"{"params":"x"}"#,
            r#"{"action":"auth","params":7}"#,
        ] {
            let r = s.on_text(text, KEY);
            assert_eq!(r.verdict, Verdict::Continue, "{text}");
            assert_eq!(statuses(&r)[0].0, "error", "{text}");
        }
        let huge = format!(
            r#"{{"action":"subscribe","params":"{}"}}"#,
            "x".repeat(MAX_CLIENT_MESSAGE)
        );
        assert!(statuses(&s.on_text(&huge, KEY))[0].1.contains("too large"));
        let r = s.on_text(r#"{"action":"auth","params":"wrong"}"#, KEY);
        assert_eq!(r.verdict, Verdict::Close(AUTH_FAILED));
    }

    #[test]
    fn subscriptions_are_acked_per_param_and_the_quote_limit_holds() {
        let mut s = authed(Cluster::Options, 2);
        let r = s.on_text(
            r#"{"action":"subscribe","params":"Q.O:SPXW261124C06850000, Q.O:SPXW261124P06850000,Q.O:SPXW261124C06855000,T.*,Q.*,X.Y,Q.SPY"}"#,
            KEY,
        );
        let got = statuses(&r);
        assert_eq!(
            got[0],
            (
                "success".into(),
                "subscribed to: Q.O:SPXW261124C06850000".into()
            )
        );
        assert_eq!(got[1].0, "success");
        assert_eq!(
            got[2],
            (
                "error".into(),
                quote_limit_message(2, "Q.O:SPXW261124C06855000")
            )
        );
        assert!(got[2].1.contains("at most 2 option contracts"));
        assert_eq!(got[3], ("success".into(), "subscribed to: T.*".into()));
        assert!(got[4].1.contains("wildcard"));
        assert_eq!(got[5].0, "error");
        assert_eq!(got[6].0, "error");
        assert_eq!((r.quote_rejections, s.quoted()), (1, 2));
        // Re-subscribing a held contract is not a new one; unsubscribing frees a slot.
        let r = s.on_text(
            r#"{"action":"unsubscribe","params":"Q.O:SPXW261124C06850000"}"#,
            KEY,
        );
        assert_eq!(
            statuses(&r)[0].1,
            "unsubscribed to: Q.O:SPXW261124C06850000"
        );
        let r = s.on_text(
            r#"{"action":"subscribe","params":"Q.O:SPXW261124P06850000,Q.O:SPXW261124C06855000"}"#,
            KEY,
        );
        assert!(statuses(&r).iter().all(|(st, _)| st == "success"));
    }

    #[test]
    fn data_frames_carry_only_subscribed_events() {
        let key = |s: &str| ContractKey::parse(s).expect("key");
        let mut tick = Tick::default();
        for (sym, trade) in [
            ("O:SPXW261124C06850000", false),
            ("O:SPXW261124C06850000", true),
            ("O:SPXW261124P06850000", false),
            ("O:SPXW261124P06850000", true),
        ] {
            let start = tick.text.len();
            tick.text
                .push_str(&format!(r#"{{"sym":"{sym}","trade":{trade}}}"#));
            tick.options.push(EncodedEvent {
                key: key(sym),
                trade,
                range: start..tick.text.len(),
            });
        }
        let mut s = authed(Cluster::Options, 10);
        assert_eq!(s.data_frame(&tick), None);
        s.on_text(
            r#"{"action":"subscribe","params":"Q.O:SPXW261124C06850000,T.O:SPXW261124P06850000"}"#,
            KEY,
        );
        let (frame, n) = s.data_frame(&tick).expect("frame");
        assert_eq!(n, 2);
        let v: Value = serde_json::from_str(&frame).expect("json");
        assert_eq!(v[0]["sym"], "O:SPXW261124C06850000");
        assert_eq!(v[0]["trade"], false);
        assert_eq!(v[1]["sym"], "O:SPXW261124P06850000");
        assert_eq!(v[1]["trade"], true);
        s.on_text(r#"{"action":"subscribe","params":"T.*"}"#, KEY);
        assert_eq!(s.data_frame(&tick).map(|f| f.1), Some(3));
    }
}
