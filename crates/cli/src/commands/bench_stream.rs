//! `chainboard bench stream`: what browser stream clients cost the server.
//!
//! The service runs as a child process (`chainboard demo` on a free loopback port),
//! so its CPU time and resident memory are read from `/proc/<pid>` apart from the
//! clients', which run here. Three windows of `--seconds`:
//!
//! 1. **without clients**: the service's own CPU per second (ingestion, models,
//!    publisher) and RSS;
//! 2. **with `--clients` streams** of one symbol, opened after the first window and
//!    given a few seconds to receive their full documents: readers read everything
//!    (what a browser does); with `--hostile`, clients never read and ask for a
//!    resync every 50 ms (the attack the stream's bounds exist for). The extra CPU
//!    per second over the windows without clients is the fan-out of one tick (a
//!    symbol ticks once a second), and the extra RSS per client is what a client
//!    costs beyond the shared documents;
//! 3. **after the clients left** (10 s later): CPU again and RSS, to see the memory
//!    returned.
//!
//! The service's own work varies with the simulated market (the flip search costs
//! more on some boards than others), so the baseline is the mean of windows 1 and
//! 3, on either side of the clients' window.
//!
//! Clients ask for `--encoding` (`deflate` by default, as the web UI does; `json` for
//! text messages).
//!
//! With `--redis URL` the process measured is a `chainboard serve --redis URL`, fed
//! by a `chainboard demo --redis URL` (an ingestion worker) in another process: the
//! fan-out of the web side over Redis, as deployed.
//!
//! Every tenth reading client also times delivery: for each heatmap document or diff
//! it receives in the window with clients, the wall clock on arrival minus the tick's
//! own time (`ts`, when the models ticked), so the figure spans the publisher, the
//! store (with `--redis`), the server and the socket. Only a tenth decode, so the
//! clients' own work (inflating) takes as little of the machine as it can.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

/// Arguments of `chainboard bench stream`.
#[derive(Debug, clap::Args)]
pub(crate) struct StreamArgs {
    /// Stream clients to open.
    #[arg(long, default_value_t = 1_000)]
    clients: usize,
    /// Length of each measuring window, seconds.
    #[arg(long, default_value_t = 20.0)]
    seconds: f64,
    /// Clients that never read and ask for a resync every 50 ms, instead of readers.
    #[arg(long)]
    hostile: bool,
    /// The symbol the clients stream.
    #[arg(long, default_value = "SPX")]
    symbol: String,
    /// How the clients ask for documents: `deflate` (compressed binary messages, as
    /// the web UI) or `json` (text).
    #[arg(long, default_value = "deflate", value_parser = ["deflate", "json"])]
    encoding: String,
    /// Measure a `chainboard serve` over this Redis (fed by `chainboard demo --redis`
    /// in another process) instead of the single process. Its keys are overwritten.
    #[arg(long)]
    redis: Option<String>,
}

/// The service under measurement (and, with `--redis`, the ingestion that feeds
/// it); killed on drop.
struct Service {
    child: Child,
    address: String,
    feeder: Option<Child>,
}

impl Drop for Service {
    fn drop(&mut self) {
        for child in std::iter::once(&mut self.child).chain(self.feeder.as_mut()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// CPU seconds (user + system) and resident bytes of a process.
#[derive(Debug, Clone, Copy)]
struct Usage {
    cpu_s: f64,
    rss: u64,
}

pub(crate) fn run(args: &StreamArgs) -> Result<ExitCode> {
    if args.clients == 0 || !args.seconds.is_finite() || args.seconds <= 0.0 {
        bail!("--clients and --seconds must be positive");
    }
    let service = start(args.clients, args.redis.as_deref())?;
    let pid = service.child.id();
    let hz = clock_ticks()?;
    let window = Duration::from_secs_f64(args.seconds);
    let runtime = super::runtime()?;
    println!(
        "{} pid {pid} at http://{}/ ({} clients, {}, encoding {}, {:.0} s windows)",
        if args.redis.is_some() {
            "serve over Redis"
        } else {
            "service"
        },
        service.address,
        args.clients,
        if args.hostile {
            "hostile: never read, resync every 50 ms"
        } else {
            "reading"
        },
        args.encoding,
        args.seconds
    );
    // Settle: the first documents, the allocator's first growth.
    std::thread::sleep(Duration::from_secs(5));
    let (base_cpu, base_rss) = measure(pid, hz, window)?;
    println!(
        "without clients:  cpu {:>7.1} ms/s  rss {:>7.1} MiB",
        base_cpu * 1e3,
        mib(base_rss)
    );

    let received = Arc::new(AtomicU64::new(0));
    let delays = Arc::new(Mutex::new(Vec::new()));
    let url = format!(
        "ws://{}/api/v1/stream/{}?encoding={}",
        service.address, args.symbol, args.encoding
    );
    let clients = runtime.block_on(connect_all(
        &url,
        args.clients,
        args.hostile,
        &received,
        &delays,
    ))?;
    std::thread::sleep(Duration::from_secs(5));
    let before = received.load(Ordering::Relaxed);
    lock(&delays).clear();
    let (with_cpu, with_rss) = measure(pid, hz, window)?;
    let window_delays = std::mem::take(&mut *lock(&delays));
    let per_client_bytes =
        (received.load(Ordering::Relaxed) - before) as f64 / args.seconds / args.clients as f64;
    let per_client = with_rss.saturating_sub(base_rss) as f64 / args.clients as f64;
    println!(
        "with clients:     cpu {:>7.1} ms/s  rss {:>7.1} MiB  (+{:.1} KiB per client; {:.0} B/s received per client)",
        with_cpu * 1e3,
        mib(with_rss),
        per_client / 1024.0,
        per_client_bytes,
    );

    if !args.hostile {
        report_delays(&window_delays, args.clients.div_ceil(TIMED_EVERY));
    }
    runtime.block_on(async {
        for client in clients {
            client.abort();
        }
    });
    drop(runtime);
    std::thread::sleep(Duration::from_secs(10));
    let after = usage(pid, hz)?;
    println!(
        "10 s after they left: rss {:>7.1} MiB ({:+.1} MiB over the start)",
        mib(after.rss),
        (after.rss as f64 - base_rss as f64) / f64::from(1 << 20)
    );
    let (after_cpu, _) = measure(pid, hz, window)?;
    let baseline = (base_cpu + after_cpu) / 2.0;
    println!(
        "without clients again: cpu {:>7.1} ms/s (baseline, the mean of both windows without clients: {:.1} ms/s)",
        after_cpu * 1e3,
        baseline * 1e3
    );
    println!(
        "fan-out of one tick to {} clients: {:.1} ms of server CPU",
        args.clients,
        (with_cpu - baseline).max(0.0) * 1e3
    );
    let metrics = http_get(&service.address, "/metrics").unwrap_or_default();
    for name in [
        "chainboard_stream_clients_dropped_total",
        "chainboard_stream_clients_refused_total",
        "chainboard_stream_resyncs_deferred_total",
    ] {
        if let Some(line) = metrics.lines().find(|l| l.starts_with(name)) {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One reading client in this many times delivery.
const TIMED_EVERY: usize = 10;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Prints, from `(tick ts, arrival)` pairs, the delivery delay from the tick and the
/// spread of one tick's arrivals over the clients (arrival minus the tick's first
/// arrival: the fan-out alone, without the models' and the store's part), each as
/// median, 99th percentile and maximum.
fn report_delays(timed: &[(f64, f64)], timed_clients: usize) {
    if timed.is_empty() {
        println!("tick-to-client delivery: no heatmap messages timed in the window");
        return;
    }
    let mut first: std::collections::HashMap<u64, f64> = std::collections::HashMap::new();
    for &(ts, arrived) in timed {
        let at = first.entry(ts.to_bits()).or_insert(arrived);
        *at = at.min(arrived);
    }
    let mut delays: Vec<f64> = timed.iter().map(|(ts, a)| (a - ts) * 1e3).collect();
    let mut spread: Vec<f64> = timed
        .iter()
        .map(|(ts, a)| (a - first[&ts.to_bits()]) * 1e3)
        .collect();
    let quantiles = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
        format!(
            "p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            at(0.5),
            at(0.99),
            at(1.0)
        )
    };
    println!(
        "tick-to-client delivery ({} heatmap messages of {} ticks to {timed_clients} timed clients): {}",
        timed.len(),
        first.len(),
        quantiles(&mut delays)
    );
    println!(
        "  of which the fan-out (arrival after the tick's first arrival): {}",
        quantiles(&mut spread)
    );
}

/// The tick time (`"ts":<Unix s>`) of a heatmap document or diff, if this message
/// is one; binary messages are zlib-compressed documents.
fn heatmap_ts(message: &Message) -> Option<f64> {
    let text = match message {
        Message::Text(text) => text.as_str().to_owned(),
        Message::Binary(bytes) => {
            let mut text = String::new();
            flate2::read::ZlibDecoder::new(&bytes[..])
                .read_to_string(&mut text)
                .ok()?;
            text
        }
        _ => return None,
    };
    if !text.starts_with(r#"{"schema":"chainboard/heatmap"#) {
        return None;
    }
    let rest = &text[text.find(r#""ts":"#)? + 5..];
    rest[..rest.find([',', '}'])?].parse().ok()
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// CPU per second over `window`, and the highest RSS seen in it (sampled every
/// 250 ms).
fn measure(pid: u32, hz: f64, window: Duration) -> Result<(f64, u64)> {
    let start = usage(pid, hz)?;
    let began = Instant::now();
    let mut peak = start.rss;
    while began.elapsed() < window {
        std::thread::sleep(Duration::from_millis(250));
        peak = peak.max(usage(pid, hz)?.rss);
    }
    let end = usage(pid, hz)?;
    Ok((
        (end.cpu_s - start.cpu_s) / began.elapsed().as_secs_f64(),
        peak,
    ))
}

fn usage(pid: u32, hz: f64) -> Result<Usage> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("the service (pid {pid}) is gone"))?;
    // Fields after the command name (which may hold spaces) start at ") ".
    let rest = stat.rsplit_once(") ").map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat; `rest` starts at field 3.
    let cpu_s = (ticks(11) + ticks(12)) / hz;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS in /proc/<pid>/status")?;
    Ok(Usage {
        cpu_s,
        rss: rss_kib * 1024,
    })
}

fn clock_ticks() -> Result<f64> {
    let out = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .context("getconf CLK_TCK")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("getconf CLK_TCK printed no number")
}

/// `chainboard demo` on a free port, ready; with `redis`, a `chainboard serve` over
/// it, fed by `chainboard demo --redis`.
fn start(clients: usize, redis: Option<&str>) -> Result<Service> {
    let max_clients = (clients + 16).to_string();
    let (child, address, feeder) = match redis {
        None => {
            let (child, address) = spawn(&["demo", "--max-stream-clients", &max_clients])?;
            (child, address, None)
        }
        Some(url) => {
            let (feeder, _) = spawn(&["demo", "--redis", url])?;
            let (child, address) = spawn(&[
                "serve",
                "--redis",
                url,
                "--symbols",
                "SPX,NDX",
                "--max-stream-clients",
                &max_clients,
            ])?;
            (child, address, Some(feeder))
        }
    };
    let service = Service {
        child,
        address,
        feeder,
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !http_get(&service.address, "/readyz").is_some_and(|b| b.contains("\"ready\":true")) {
        if Instant::now() > deadline {
            bail!("the service never became ready");
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(service)
}

/// `chainboard args… --listen 127.0.0.1:0`, once it says where it serves.
fn spawn(args: &[&str]) -> Result<(Child, String)> {
    let exe = std::env::current_exe().context("locating the chainboard binary")?;
    let mut child = Command::new(exe)
        .args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting chainboard {}", args[0]))?;
    let stdout = child.stdout.take().context("its stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let Some(line) = lines.next() else {
            bail!("chainboard {} exited before serving", args[0]);
        };
        let line = line?;
        if let Some(rest) = line.strip_prefix("chainboard is serving http://") {
            let address = rest.split_whitespace().next().unwrap_or_default();
            break address.trim_end_matches('/').to_owned();
        }
    };
    // Keep reading its stdout so that it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok((child, address))
}

/// A plain HTTP/1.0 GET; the body, when the server answers.
fn http_get(address: &str, path: &str) -> Option<String> {
    let mut stream = std::net::TcpStream::connect(address).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
}

/// Opens every client (50 handshakes at a time) and leaves each running on its task.
/// A hostile client that the server drops connects again, as an attacker would.
async fn connect_all(
    url: &str,
    n: usize,
    hostile: bool,
    received: &Arc<AtomicU64>,
    delays: &Arc<Mutex<Vec<(f64, f64)>>>,
) -> Result<Vec<tokio::task::JoinHandle<()>>> {
    let mut tasks = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        let connects = chunk
            .iter()
            .map(|&i| async move { (i, tokio_tungstenite::connect_async(url).await) });
        for (i, connected) in futures_util::future::join_all(connects).await {
            let (socket, _) = connected.context("opening a stream")?;
            let (received, url) = (received.clone(), url.to_owned());
            let timed = (i % TIMED_EVERY == 0).then(|| delays.clone());
            tasks.push(tokio::spawn(async move {
                if !hostile {
                    let (_sink, mut incoming) = socket.split();
                    while let Some(Ok(message)) = incoming.next().await {
                        let arrived = unix_now();
                        received.fetch_add(message.len() as u64, Ordering::Relaxed);
                        if let Some(delays) = &timed
                            && let Some(ts) = heatmap_ts(&message)
                        {
                            lock(delays).push((ts, arrived));
                        }
                    }
                    return;
                }
                let mut socket = socket;
                loop {
                    let resync = || Message::Text(r#"{"type":"resync"}"#.into());
                    while socket.send(resync()).await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    match tokio_tungstenite::connect_async(&url).await {
                        Ok((again, _)) => socket = again,
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
            }));
        }
    }
    Ok(tasks)
}
