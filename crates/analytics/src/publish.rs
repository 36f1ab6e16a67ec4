//! The last pure step of a tick before it is published: the levels settled against
//! the last published tick, the diffs from it, and the JSON documents.
//!
//! The models' [`Tick`] carries the heatmap and the GEX figures of one second; what a
//! reader sees also depends on what was published before it: the zero-gamma flip is
//! tracked from the last published one ([`levels::settle`]), and the diffs are taken
//! from the last published snapshots. [`finish`] does both and renders the four
//! documents (`chainboard/heatmap/v1`, `chainboard/gex/v1` and their diffs). It is
//! CPU work (the flip search dominates) with no I/O and no clock: the service runs it
//! off the async threads and measures it; replaying the same ticks gives the same
//! bytes.

use std::sync::Arc;

use crate::{GexSnapshot, HeatmapSnapshot, Tick, json, levels};

/// One tick, finished: its snapshots with settled levels, and their documents.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The heatmap snapshot.
    pub heatmap: Arc<HeatmapSnapshot>,
    /// The GEX snapshot with its zero-gamma flips settled.
    pub gex: Arc<GexSnapshot>,
    /// `chainboard/heatmap/v1`, UTF-8 JSON.
    pub heatmap_json: String,
    /// `chainboard/gex/v1`.
    pub gex_json: String,
    /// `chainboard/heatmap-diff/v1` from the previous tick, when it was of the same
    /// epoch.
    pub heatmap_diff_json: Option<String>,
    /// `chainboard/gex-diff/v1`, likewise.
    pub gex_diff_json: Option<String>,
    /// The seq both diffs start from (the previous tick's), when there are diffs.
    pub diff_base_seq: Option<u64>,
}

/// Settles `tick`'s levels against `previous` (the last published tick's snapshots,
/// heatmap then GEX), diffs both snapshots from it and renders the documents.
pub fn finish(tick: Tick, previous: Option<(&HeatmapSnapshot, &GexSnapshot)>) -> Finished {
    let gex = Arc::new(levels::settle(
        &tick.heatmap,
        &tick.gex,
        &tick.config,
        previous.map(|(_, gex)| gex),
    ));
    let heatmap_diff = previous.and_then(|(heatmap, _)| heatmap.diff(&tick.heatmap));
    let gex_diff = previous.and_then(|(_, before)| before.diff(&gex));
    Finished {
        heatmap_json: json::heatmap(&tick.heatmap),
        gex_json: json::gex(&gex),
        diff_base_seq: heatmap_diff.as_ref().map(|d| d.base_seq),
        heatmap_diff_json: heatmap_diff.map(|d| json::heatmap_diff(&d)),
        gex_diff_json: gex_diff.map(|d| json::gex_diff(&d)),
        heatmap: tick.heatmap,
        gex,
    }
}
