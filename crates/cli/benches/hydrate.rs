//! The ingest hot path on a generated SPX-sized chain (~25k contracts) with quote
//! traffic skewed to near-the-money, near-expiry contracts, as Massive sends it.
//!
//! - `hydrate/frames`: raw text frames → parse → route → apply (the full path);
//! - `hydrate/parse_only`: the frame parser into a sink that does nothing;
//! - `hydrate/symbol_and_slot`: OCC symbol → key → board slot, per quote.
//!
//! Run with `cargo bench -p chainboard --bench hydrate`.

use std::hint::black_box;

use chainboard_engine::{Engine, EngineConfig, PhotoOutcome};
use chainboard_massive::frame::{FrameSink, MassiveQuote};
use chainboard_massive::{FrameParser, assemble};
use chainboard_model::{ContractKey, RootMap, Underlying};
use chainboard_service::Feed;
use chainboard_sim::{ChainConfig, QuoteTraffic, SimChain, chain_pages};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const NOW_MS: i64 = 1_795_532_400_000;
const FRAMES: usize = 2_000;
const EVENTS_PER_FRAME: usize = 50;

struct Setup {
    engine: Engine,
    frames: Vec<String>,
    quotes: u64,
    symbols: Vec<String>,
}

fn setup() -> Setup {
    let today = jiff::civil::date(2026, 11, 24);
    let chain = SimChain::generate(ChainConfig::spx_like(today, 7));
    let roots = RootMap::default();
    let spx = Underlying::new("SPX").expect("valid");
    let pages = chain_pages(&chain, 250, NOW_MS);
    let (photo, _) = assemble(pages.iter().map(String::as_str), &roots, spx, NOW_MS)
        .expect("generated pages are valid");
    let mut engine = Engine::new(spx, EngineConfig::default());
    // Trades are signed into flow, as in a live session.
    let tz = chainboard_quant::expiry::exchange_time_zone();
    engine.set_session(chainboard_quant::expiry::flow_session(NOW_MS, &tz));
    let PhotoOutcome::Started(s) = engine.on_photo(photo, NOW_MS) else {
        panic!("the generated chain starts an epoch")
    };
    eprintln!("board: {} contracts", s.contracts);

    let mut traffic = QuoteTraffic::new(&chain, 11);
    let frames: Vec<String> = (0..FRAMES)
        .map(|i| {
            let mut out = String::new();
            traffic.next_frame(EVENTS_PER_FRAME, NOW_MS + i as i64, &mut out);
            out
        })
        .collect();
    let mut counter = QuoteCollector::default();
    let mut parser = FrameParser::new();
    for f in &frames {
        parser
            .parse(f, &mut counter)
            .expect("generated frames are valid");
    }
    Setup {
        engine,
        frames,
        quotes: counter.symbols.len() as u64,
        symbols: counter.symbols,
    }
}

#[derive(Default)]
struct QuoteCollector {
    symbols: Vec<String>,
}

impl FrameSink for QuoteCollector {
    fn quote(&mut self, q: &MassiveQuote<'_>) {
        self.symbols.push(q.sym.to_owned());
    }
}

/// A sink that only touches what it is given, so the parser's work is not optimized out.
struct Discard(u64);

impl FrameSink for Discard {
    fn quote(&mut self, q: &MassiveQuote<'_>) {
        self.0 = self.0.wrapping_add(q.bid_size ^ q.sym.len() as u64);
    }
}

fn hydrate(c: &mut Criterion) {
    let Setup {
        engine,
        frames,
        quotes,
        symbols,
    } = setup();
    let mut group = c.benchmark_group("hydrate");
    group.throughput(Throughput::Elements(quotes));

    let mut feed = Feed::new(vec![engine], RootMap::default());
    group.bench_function("frames", |b| {
        b.iter(|| {
            for (i, f) in frames.iter().enumerate() {
                let _ = black_box(feed.apply_frame(f, NOW_MS + i as i64));
            }
        })
    });

    let mut parser = FrameParser::new();
    group.bench_function("parse_only", |b| {
        b.iter(|| {
            let mut sink = Discard(0);
            for f in &frames {
                let _ = parser.parse(f, &mut sink);
            }
            black_box(sink.0)
        })
    });

    let board = feed.engines()[0].epoch().expect("epoch").board().clone();
    group.bench_function("symbol_and_slot", |b| {
        b.iter(|| {
            let mut found = 0usize;
            for s in &symbols {
                if let Ok(key) = ContractKey::parse(s) {
                    found += usize::from(board.slot(&key).is_some());
                }
            }
            black_box(found)
        })
    });
    group.finish();
}

criterion_group!(benches, hydrate);
criterion_main!(benches);
