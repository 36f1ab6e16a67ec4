//! `chainboard normalize PAGE_FILE...`: chain snapshot responses → one normalized
//! contract record per line on stdout, with a summary on stderr.
//!
//! Useful for looking at what chainboard makes of a vendor payload, and for feeding
//! recorded chains to other tools. A page that cannot be read is reported with its
//! file and line; the other pages are still printed, and the exit code is non-zero.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chainboard_massive::Normalizer;
use chainboard_model::{
    ContractKey, ContractRecord, RejectReason, RejectTally, RootMap, Underlying,
};
use rustc_hash::FxHashSet;

use crate::input;

/// Arguments of `chainboard normalize`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Files of `GET /v3/snapshot/options/{underlyingAsset}` responses: each one JSON
    /// response, or JSON lines with one response per line.
    #[arg(required = true, value_name = "PAGE_FILE")]
    files: Vec<PathBuf>,
    /// Keep only contracts of this underlying (e.g. SPX); others are rejected as
    /// `foreign_underlying`. By default every mapped root is kept.
    #[arg(long)]
    underlying: Option<String>,
    /// Print every rejected contract with its reason to stderr.
    #[arg(short, long)]
    verbose: bool,
}

pub(crate) fn run(args: &Args) -> Result<ExitCode> {
    let expected = args
        .underlying
        .as_deref()
        .map(Underlying::new)
        .transpose()
        .context("--underlying")?;
    let roots = RootMap::default();
    let normalizer = Normalizer::new(&roots, expected);
    let mut out = BufWriter::new(std::io::stdout().lock());
    let mut seen: FxHashSet<ContractKey> = FxHashSet::default();
    let mut rejected = RejectTally::default();
    let (mut pages, mut contracts, mut failed) = (0usize, 0usize, 0usize);

    for file in &args.files {
        for response in input::responses(file)? {
            let page = match normalizer.page(&response.body) {
                Ok(page) => page,
                Err(e) => {
                    eprintln!("{}: {e}", response.origin);
                    failed += 1;
                    continue;
                }
            };
            pages += 1;
            for r in &page.rejections {
                rejected.add(r.reason);
                if args.verbose {
                    let ticker = r.ticker.as_deref().unwrap_or("-");
                    eprintln!(
                        "{}: rejected {ticker} ({}): {}",
                        response.origin,
                        r.reason.as_str(),
                        r.detail
                    );
                }
            }
            for c in &page.contracts {
                if !seen.insert(c.geometry.key) {
                    rejected.add(RejectReason::Duplicate);
                    continue;
                }
                contracts += 1;
                serde_json::to_writer(&mut out, &ContractRecord::new(&c.geometry, &c.state))
                    .map_err(std::io::Error::from)?;
                out.write_all(b"\n")?;
            }
        }
    }
    out.flush()?;

    let reasons: Vec<String> = rejected
        .iter()
        .map(|(r, n)| format!("{}={n}", r.as_str()))
        .collect();
    eprintln!(
        "pages={pages} contracts={contracts} rejected={}{} failed_pages={failed}",
        rejected.total(),
        if reasons.is_empty() {
            String::new()
        } else {
            format!(" ({})", reasons.join(", "))
        },
    );
    if failed > 0 {
        bail!("{failed} page(s) could not be read");
    }
    Ok(ExitCode::SUCCESS)
}
