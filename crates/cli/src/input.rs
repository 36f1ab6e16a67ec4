//! Reading recorded Massive data from files: REST responses and WebSocket frames.

use std::path::Path;

use anyhow::{Context, Result};

/// One REST response body and where it came from, for error messages.
#[derive(Debug)]
pub(crate) struct Response {
    /// `file` or `file:line`.
    pub(crate) origin: String,
    /// The JSON body.
    pub(crate) body: String,
}

/// Reads a file holding either one JSON response (possibly pretty-printed across
/// lines) or JSON lines, one response per line. Blank lines are skipped.
pub(crate) fn responses(path: &Path) -> Result<Vec<Response>> {
    let text = read(path)?;
    let whole_is_one = serde_json::from_str::<serde::de::IgnoredAny>(&text).is_ok();
    if whole_is_one || text.lines().filter(|l| !l.trim().is_empty()).count() <= 1 {
        return Ok(vec![Response {
            origin: path.display().to_string(),
            body: text,
        }]);
    }
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Response {
            origin: format!("{}:{}", path.display(), i + 1),
            body: l.to_owned(),
        })
        .collect())
}

/// Reads a file of WebSocket text frames, one per line; blank lines are skipped.
pub(crate) fn frames(path: &Path) -> Result<Vec<String>> {
    Ok(read(path)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect())
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}
