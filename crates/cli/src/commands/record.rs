//! Flags shared by `run`, `demo` and `replay` for keeping what a run did: the
//! recording of its inputs (`--record`) and the digests of what it published
//! (`--digests`), the two halves of the replay's regression check.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use chainboard_recording::RecorderConfig;
use chainboard_server::Doc;
use chainboard_service::publisher::Published;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

/// `--record`, `--record-max-bytes`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct RecordArgs {
    /// Record every input (chain photo pages, WebSocket frames with their receive
    /// times, control events, the model ticks' moments) into this directory, for
    /// `chainboard replay`. It must not hold a recording already.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// The recording's budget on disk (K, M, G, T suffixes, powers of 1024): past it
    /// the oldest segments are deleted.
    #[arg(long, value_name = "SIZE", default_value = "8G", value_parser = parse_size, requires = "record")]
    record_max_bytes: u64,
}

impl RecordArgs {
    /// The recorder's settings, when recording.
    pub(crate) fn recorder(&self) -> Option<RecorderConfig> {
        let dir = self.record.clone()?;
        Some(RecorderConfig::new(dir, self.record_max_bytes))
    }
}

/// `--digests FILE`.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct DigestArgs {
    /// When the service stops, write here one line per published tick: the symbol,
    /// seq, epoch and the SHA-256 of each document (heatmap, GEX, their diffs).
    /// A replay of a recording writes the same lines as the run that recorded it.
    #[arg(long, value_name = "FILE")]
    digests: Option<PathBuf>,
}

impl DigestArgs {
    /// Starts collecting, when asked: the sender goes to the service's tap.
    pub(crate) fn start(&self) -> Option<(Digests, mpsc::UnboundedSender<Arc<Published>>)> {
        let path = self.digests.clone()?;
        let (tx, rx) = mpsc::unbounded_channel();
        Some((Digests { path, rx }, tx))
    }
}

/// The digests being collected.
#[derive(Debug)]
pub(crate) struct Digests {
    path: PathBuf,
    rx: mpsc::UnboundedReceiver<Arc<Published>>,
}

impl Digests {
    /// Writes every tick received so far, by symbol then seq (the order two runs
    /// agree on, whatever order their symbols' ticks finished in); the line count.
    pub(crate) fn write(mut self) -> Result<usize> {
        let mut lines = BTreeMap::new();
        while let Ok(p) = self.rx.try_recv() {
            lines.insert((p.heatmap.symbol.to_string(), p.heatmap.seq()), line(&p));
        }
        let mut out = String::new();
        for line in lines.values() {
            out.push_str(line);
            out.push('\n');
        }
        write_file(&self.path, &out)?;
        Ok(lines.len())
    }
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing the digests to {}", path.display()))
}

/// `SYMBOL seq epoch heatmap=… gex=… heatmap_diff=… gex_diff=…` (`-` for a diff
/// not published).
fn line(p: &Published) -> String {
    let mut line = format!(
        "{} {} {}",
        p.heatmap.symbol,
        p.heatmap.seq(),
        p.heatmap.epoch.id
    );
    for (name, doc) in [
        ("heatmap", Doc::Heatmap),
        ("gex", Doc::Gex),
        ("heatmap_diff", Doc::HeatmapDiff),
        ("gex_diff", Doc::GexDiff),
    ] {
        let _ = write!(line, " {name}=");
        match p.docs.json(doc) {
            Some(bytes) => {
                for b in Sha256::digest(bytes) {
                    let _ = write!(line, "{b:02x}");
                }
            }
            None => line.push('-'),
        }
    }
    line
}

/// `8G`, `500M`, `1048576`: bytes, with binary suffixes.
fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (digits, shift) = match s.char_indices().last() {
        Some((i, 'K' | 'k')) => (&s[..i], 10),
        Some((i, 'M' | 'm')) => (&s[..i], 20),
        Some((i, 'G' | 'g')) => (&s[..i], 30),
        Some((i, 'T' | 't')) => (&s[..i], 40),
        _ => (s, 0),
    };
    let n: u64 = digits
        .parse()
        .with_context(|| format!("`{s}` is not a size such as 8G, 500M or 1048576"))?;
    let bytes = n
        .checked_mul(1 << shift)
        .with_context(|| format!("`{s}` is too large"))?;
    if bytes < 1 << 20 {
        bail!("`{s}` is below the smallest budget, 1M");
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_suffixes_and_refuse_nonsense() {
        assert_eq!(parse_size("8G").ok(), Some(8 << 30));
        assert_eq!(parse_size("500m").ok(), Some(500 << 20));
        assert_eq!(parse_size("1048576").ok(), Some(1 << 20));
        assert!(parse_size("1K").is_err(), "below 1M");
        assert!(parse_size("lots").is_err());
        assert!(parse_size("99999999999T").is_err());
        assert!(parse_size("").is_err());
    }
}
