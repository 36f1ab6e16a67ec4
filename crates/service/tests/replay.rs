//! The recorded session in `tests/data/recording-spx` replayed in-process: what the
//! history endpoint answers for each moment is what was published at that moment,
//! and two replays publish the same documents.

#[allow(dead_code)] // the whole-service tests' helpers; a replay needs few of them
mod common;

use std::path::Path;
use std::sync::Arc;

use chainboard_recording::Recording;
use chainboard_server::{Doc, ServerConfig};
use chainboard_service::publisher::Published;
use chainboard_service::{
    Inputs, ModelSettings, ReplayConfig, Service, ServiceConfig, Speed, replay,
};
use chainboard_store::writer::WriterConfig;
use chainboard_store::{Fences, Store};
use serde_json::Value;
use tokio::sync::mpsc;

use common::{PATIENCE, get, listen};

fn fixture() -> Recording {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/recording-spx");
    let (recording, problems) = Recording::open(&dir).expect("the recorded session opens");
    assert!(problems.is_empty(), "{problems:?}");
    recording
}

/// Replays the fixture at full speed into `store`; the service (still serving) and
/// every tick it published, in order.
async fn replayed(store: Store) -> (Service, Vec<Arc<Published>>) {
    let recording = fixture();
    let (_, settings) = replay::recorded(&recording).expect("its settings");
    let (tx, mut rx) = mpsc::unbounded_channel();
    let config = ServiceConfig {
        inputs: Inputs::Replay(ReplayConfig {
            recording,
            from_ms: None,
            to_ms: None,
            speed: Speed::Max,
        }),
        record: None,
        store,
        writer: WriterConfig::default(),
        models: settings.models(ModelSettings::default()),
        listen: Some(listen()),
        http: ServerConfig::for_listen(listen()),
        fences: Fences::none(),
        tap: Some(tx),
    };
    let mut service = Service::start(config).await.expect("the replay starts");
    tokio::time::timeout(PATIENCE, service.ingestion_ended())
        .await
        .expect("the recording ends")
        .expect("cleanly");
    let progress = service.replay().expect("a replay").clone();
    assert_eq!(
        progress.problems.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_eq!(
        progress.diverged.load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    let mut ticks = Vec::new();
    while let Ok(p) = rx.try_recv() {
        ticks.push(p);
    }
    (service, ticks)
}

fn gex(p: &Published) -> Value {
    serde_json::from_slice(p.docs.json(Doc::Gex).expect("a GEX document")).expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_of_a_replayed_session_is_what_was_published_at_each_moment() {
    let (service, ticks) = replayed(Store::Embedded(chainboard_store::EmbeddedStore::new())).await;
    assert!(ticks.len() >= 15, "{} ticks", ticks.len());
    let address = service.address().expect("serving");
    let mut epochs = std::collections::BTreeSet::new();
    for p in &ticks {
        let published = gex(p);
        let ms = p.gex.ts_ms;
        let at = format!("{}.{:03}", ms / 1_000, ms % 1_000);
        let (status, body) = get(
            address,
            &format!("/api/v1/gex/SPX/history?from={at}&to={at}"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let doc: Value = serde_json::from_str(&body).expect("JSON");
        let column = &doc["columns"][0];
        assert_eq!(
            column["seq"].as_u64(),
            Some(p.heatmap.seq()),
            "at {at}: {column}"
        );
        assert_eq!(
            column["epoch"].as_str(),
            Some(p.heatmap.epoch.id.to_string().as_str())
        );
        assert_eq!(column["spot"], published["spot"], "spot at {at}");
        let levels = &published["filters"]["all"]["levels"];
        for field in ["zero_gamma", "zero_gamma_status", "call_wall", "put_wall"] {
            assert_eq!(column[field], levels[field], "{field} at {at}");
        }
        let total = &published["filters"]["all"]["total"];
        for field in ["net_gex", "net_gex_volume"] {
            assert_eq!(column[field], total[field], "{field} at {at}");
        }
        epochs.insert(p.heatmap.epoch.id.to_string());
    }
    assert_eq!(
        epochs.len(),
        3,
        "startup, geometry_change and stale_feed: {epochs:?}"
    );
    service.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replays_publish_the_same_bytes() {
    let (first, a) = replayed(Store::Embedded(chainboard_store::EmbeddedStore::new())).await;
    first.stop().await;
    let (second, b) = replayed(Store::Embedded(chainboard_store::EmbeddedStore::new())).await;
    second.stop().await;
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.heatmap.symbol, y.heatmap.symbol);
        assert_eq!(x.heatmap.seq(), y.heatmap.seq());
        for doc in [Doc::Heatmap, Doc::Gex, Doc::HeatmapDiff, Doc::GexDiff] {
            assert_eq!(
                x.docs.json(doc),
                y.docs.json(doc),
                "seq {} {doc:?}",
                x.heatmap.seq()
            );
        }
    }
}
