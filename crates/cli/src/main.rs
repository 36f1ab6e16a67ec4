//! The `chainboard` binary: commands, configuration and wiring.
//!
//! This is the only crate that knows every other one, and the only one that uses
//! `anyhow`: library crates return typed errors, and this layer turns them into
//! messages for a person and an exit code.

mod commands;
mod config;
mod input;
mod logging;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

/// A live, exact picture of an index option chain (SPX, NDX) from Massive's market data.
#[derive(Debug, Parser)]
#[command(name = "chainboard", version, about, long_about = None)]
struct Cli {
    /// A TOML file of defaults for any command's flags, one table per command
    /// (`[run]`, `[demo]`, …) keyed by long flag names; also `CHAINBOARD_CONFIG`.
    /// Flags and their environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// What to do; with none, `demo`.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The whole service on a simulated SPX and NDX market, with the web UI (the
    /// default).
    Demo(commands::demo::Args),
    /// A step-by-step walk through epochs and models on a simulated SPX market.
    Tour(commands::tour::Args),
    /// Normalize Massive chain snapshot responses into one contract record per line.
    Normalize(commands::normalize::Args),
    /// Write a deterministic simulated chain and quote traffic in Massive's wire format.
    Generate(commands::generate::Args),
    /// The service against Massive: ingestion, models, store and the web UI.
    Run(Box<commands::run::Args>),
    /// The web UI, API, stream and metrics only, over what a `run` publishes to
    /// Redis; run as many as needed.
    Serve(commands::serve::Args),
    /// Show the active epoch in Redis: meta, counts, TTLs, a few records.
    Inspect(commands::inspect::Args),
    /// Replay a recording (`run --record`, `demo --record`) through the service with
    /// its own clock: the same documents, served and stored as live.
    Replay(Box<commands::replay::Args>),
    /// Serve a fake Massive (REST + WebSocket) over a simulated SPX/NDX market.
    FakeMassive(commands::fake_massive::Args),
    /// Measure a hot path.
    #[command(subcommand)]
    Bench(commands::bench::Bench),
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut command = Cli::command();
    if let Some(path) = config::path_from(&args) {
        match config::apply(command, &path) {
            Ok(with_file) => command = with_file,
            Err(err) => {
                eprintln!("chainboard: error: {err:#}");
                return ExitCode::FAILURE;
            }
        }
    }
    let matches = command.get_matches_from(args);
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    warn_secrets_on_command_line(&matches);
    let result = match cli.command.unwrap_or(Command::Demo(Default::default())) {
        Command::Demo(args) => commands::demo::run(&args),
        Command::Tour(args) => commands::tour::run(&args),
        Command::Normalize(args) => commands::normalize::run(&args),
        Command::Generate(args) => commands::generate::run(&args),
        Command::Run(args) => commands::run::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Inspect(args) => commands::inspect::run(&args),
        Command::Replay(args) => commands::replay::run(&args),
        Command::FakeMassive(args) => commands::fake_massive::run(&args),
        Command::Bench(bench) => commands::bench::run(&bench),
    };
    match result {
        Ok(code) => code,
        // A reader that stops early (`chainboard | head`) is not an error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("chainboard: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The environment variables and the config file are not in `ps` or the shell's
/// history; a flag is: say so when a secret comes from one.
fn warn_secrets_on_command_line(matches: &clap::ArgMatches) {
    let Some((command, args)) = matches.subcommand() else {
        return;
    };
    let secrets: &[(&str, &str, &str)] = &[
        ("api_key", "--api-key", "MASSIVE_API_KEY or `api-key`"),
        (
            "auth_token",
            "--auth-token",
            "CHAINBOARD_AUTH_TOKEN, --auth-token-file or `auth-token`",
        ),
    ];
    for (id, flag, instead) in secrets {
        let given = args.try_contains_id(id).is_ok_and(|present| present)
            && args.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
        if given {
            eprintln!(
                "chainboard: warning: {flag} on the command line is visible to other users (ps) \
                 and in shell history; prefer {instead} in the [{command}] table of --config"
            );
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
