//! The configuration file: a TOML table per command whose keys are that command's
//! long flags.
//!
//! ```toml
//! [run]
//! symbols = ["SPX", "NDX"]
//! feed = "delayed"
//! rate = 0.045
//! listen = "0.0.0.0:8080"
//! redis = "redis://127.0.0.1:6379"
//!
//! [demo]
//! listen = "127.0.0.1:9090"
//! ```
//!
//! The file is named by `--config FILE` (anywhere on the command line) or
//! `CHAINBOARD_CONFIG`. Its values become the flags' defaults before the command line
//! is parsed, so the precedence is the usual one with no special cases: a flag on the
//! command line, then its environment variable (`MASSIVE_API_KEY`, `REDIS_URL`), then
//! the file, then the built-in default. A key that is not a flag of its command, or a
//! table that is not a command, is an error that names it: a typo never passes
//! silently.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Command;

/// The environment variable that names the file when `--config` does not.
pub(crate) const CONFIG_ENV: &str = "CHAINBOARD_CONFIG";

/// The file named by `--config FILE`/`--config=FILE` in `args`, else by
/// [`CONFIG_ENV`].
pub(crate) fn path_from(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(arg) = arg.to_str() else { continue };
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os(CONFIG_ENV).map(PathBuf::from)
}

/// `command` with the file's values as its subcommands' defaults.
pub(crate) fn apply(command: Command, path: &std::path::Path) -> Result<Command> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    apply_text(command, &text).with_context(|| format!("in {}", path.display()))
}

fn apply_text(mut command: Command, text: &str) -> Result<Command> {
    let table: toml::Table = text.parse().context("not valid TOML")?;
    for (section, values) in table {
        let Some(sub) = command.find_subcommand(&section) else {
            let names: Vec<String> = command
                .get_subcommands()
                .map(|s| s.get_name().to_owned())
                .collect();
            bail!(
                "[{section}] is not a command; expected one of {}",
                names.join(", ")
            );
        };
        let toml::Value::Table(values) = values else {
            bail!("[{section}] must be a table of flags");
        };
        let mut defaults = Vec::new();
        for (key, value) in values {
            let long = key.replace('_', "-");
            let Some(arg) = sub
                .get_arguments()
                .find(|a| a.get_long() == Some(long.as_str()))
            else {
                let flags: Vec<&str> = sub.get_arguments().filter_map(|a| a.get_long()).collect();
                bail!(
                    "[{section}] {key}: not a flag of `chainboard {section}` (flags: {})",
                    flags.join(", ")
                );
            };
            let text = flag_text(&value).with_context(|| {
                format!("[{section}] {key}: expected a string, number, boolean or list")
            })?;
            defaults.push((arg.get_id().clone(), text));
        }
        command = command.mut_subcommand(section, |mut sub| {
            for (id, text) in defaults {
                // A configuration file is read once per process: leaking its few
                // values gives clap the 'static defaults it takes.
                let text: &'static str = Box::leak(text.into_boxed_str());
                sub = sub.mut_arg(id, |a| a.default_value(text));
            }
            sub
        });
    }
    Ok(command)
}

/// A TOML value as the flag's text (lists comma-separated, as the flags take them).
fn flag_text(value: &toml::Value) -> Option<String> {
    match value {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Array(items) => {
            let parts: Option<Vec<String>> = items.iter().map(flag_text).collect();
            Some(parts?.join(","))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_file_on_the_command_line() {
        let args: Vec<OsString> = ["chainboard", "run", "--config", "a.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(path_from(&args), Some(PathBuf::from("a.toml")));
        let args: Vec<OsString> = ["chainboard", "--config=b.toml"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(path_from(&args), Some(PathBuf::from("b.toml")));
    }

    #[test]
    fn flag_text_of_each_toml_kind() {
        let table: toml::Table = "a = 'x'\nb = 3\nc = 0.5\nd = true\ne = ['SPX', 'NDX']"
            .parse()
            .unwrap_or_default();
        let text: Vec<Option<String>> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|k| table.get(*k).and_then(flag_text))
            .collect();
        assert_eq!(
            text,
            ["x", "3", "0.5", "true", "SPX,NDX"].map(|s| Some(s.to_owned()))
        );
    }

    mod fuzz {
        //! Fuzz suites on stable Rust (property tests): any configuration file gets
        //! defaults or a clear error, never a panic. `PROPTEST_CASES` sets their
        //! length (see the README).

        use clap::CommandFactory;
        use proptest::prelude::*;

        use super::apply_text;

        /// A value of any TOML kind, as its text.
        fn arb_value() -> impl Strategy<Value = String> {
            prop_oneof![
                "\\PC{0,12}".prop_map(|s| format!("{s:?}")),
                any::<i64>().prop_map(|i| i.to_string()),
                any::<f64>().prop_map(|f| format!("{f:?}")),
                any::<bool>().prop_map(|b| b.to_string()),
                Just("[]".to_owned()),
                Just("['SPX', 1, true]".to_owned()),
                Just("{ a = 1 }".to_owned()),
                Just("1979-05-27T07:32:00Z".to_owned()),
                Just("inf".to_owned()),
                Just("nan".to_owned()),
            ]
        }

        /// Then the command line is read as it would be, with the file's defaults.
        fn check(text: &str) {
            if let Ok(command) = apply_text(crate::Cli::command(), text) {
                for args in [
                    &["chainboard", "run"][..],
                    &["chainboard", "demo"],
                    &["chainboard"],
                ] {
                    let _ = command.clone().try_get_matches_from(args);
                }
            }
        }

        proptest! {
            /// Any text at all.
            #[test]
            fn fuzz_config_text(text in "\\PC{0,200}") {
                check(&text);
            }

            /// Real sections and flags (and a few unknown ones) with values of any
            /// kind.
            #[test]
            fn fuzz_config_tables(entries in proptest::collection::vec((
                prop::sample::select(vec!["run", "demo", "fake-massive", "normalize", "bench", "nope"]),
                prop::sample::select(vec![
                    "listen", "symbols", "refresh_secs", "refresh-secs", "api-key", "redis", "rate",
                    "max-stream-clients", "allowed-origin", "allowed-host", "auth-token", "tick-secs",
                    "stale-after-secs", "seed", "for-secs", "quote-budget", "unknown-flag",
                ]),
                arb_value(),
            ), 0..6)) {
                let mut text = String::new();
                for (section, key, value) in entries {
                    text.push_str(&format!("[{section}]\n{key} = {value}\n"));
                }
                check(&text);
            }
        }
    }
}
