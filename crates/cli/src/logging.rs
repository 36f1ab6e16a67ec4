//! Log output for the long-running commands: human-readable lines on stderr, level
//! from `RUST_LOG` (default `info`), so stdout stays free for command output.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

const TUNGSTENITE_CAP: &str = "tungstenite=info";
const TOKIO_TUNGSTENITE_CAP: &str = "tokio_tungstenite=info";

/// Installs the subscriber once; later calls are no-ops.
pub(crate) fn init() {
    let mut filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // tungstenite traces every frame it sends, the `auth` message with the API key
    // included; no log level a user picks may show it.
    for cap in [TUNGSTENITE_CAP, TOKIO_TUNGSTENITE_CAP] {
        if let Ok(directive) = cap.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
