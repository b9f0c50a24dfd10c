//! `cargo xtask`: copili's development automation, one binary with one subcommand per module
//! (the [cargo-xtask](https://github.com/matklad/cargo-xtask) convention; the alias lives in
//! `.cargo/config.toml`).
//!
//! - `cargo xtask test`: everything CI checks (`.ci/run` runs exactly this), see [`test`](mod@test).
//! - `cargo xtask demo`: a newcomer's first look at copili, see [`demo`].
//! - `cargo xtask bench`: time and memory of `validate` and `plan` on generated pipelines,
//!   see [`bench`](mod@bench).
//! - `cargo xtask setup`: install, start and check the container engines and the test image
//!   the engine tests need, see [`setup`].
//! - `cargo xtask fuzz [--minutes N]`: run the `cargo fuzz` targets of `fuzz/` and print
//!   libFuzzer's figures, see [`fuzz`].
//!
//! xtask depends on std and, on Linux, libc only: it is the first thing CI compiles.

mod argo_schema;
mod bench;
mod cluster;
mod debian_image;
mod demo;
mod fuzz;
mod setup;
mod test;

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <SUBCOMMAND> [OPTIONS]

subcommands:
  test [--no-fmt] [--no-clippy] [--no-doc]
                                  fmt check, clippy and rustdoc -D warnings, all workspace tests (what CI runs)
  demo                            build copili and show validate, plan and graph on the examples
  bench [--runs N] [--only PART,…] [--soak-minutes M] [--sizes N,…]
                                  time and peak memory of validate/plan (plan), copili run against the
                                  raw engine (runtime, wide, output), its footprint (scale, soak)
  setup                           install, start and check podman (rootful, rootless) and docker (root)
  setup debian-image              only build (cached) and import the Debian test image (PostgreSQL, Redis)
  fuzz [--minutes N] [--target T] run the cargo fuzz targets N minutes each (default 10), print the figures
";

/// Exit status for a bad command line, as for copili's own usage errors.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((subcommand, options)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(EXIT_USAGE);
    };
    let result = match subcommand.as_str() {
        "test" => test::run(options),
        "demo" => demo::run(options),
        "bench" => bench::run(options),
        "setup" => setup::run(options),
        "fuzz" => fuzz::run(options),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(Error::Usage(format!("unknown subcommand `{other}`"))),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Usage(message)) => {
            eprintln!("error: {message}\n\n{USAGE}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Error::Failed(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Why a subcommand stopped; decides the exit status.
#[derive(Debug, PartialEq)]
enum Error {
    /// The command line was wrong (exit status 2, usage printed).
    Usage(String),
    /// A step failed (exit status 1).
    Failed(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(message) | Error::Failed(message) => f.write_str(message),
        }
    }
}

/// The result of a subcommand or one of its steps.
type Result<T = ()> = std::result::Result<T, Error>;

/// Rejects any option a subcommand does not take.
fn reject_unknown_option(option: &str) -> Result {
    Err(Error::Usage(format!("unexpected argument `{option}`")))
}

/// The workspace root, where xtask runs every command: xtask lives in `<root>/xtask`.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is a direct child of the workspace root").to_path_buf()
}

/// A `cargo` command run from the workspace root, with the cargo that started xtask.
fn cargo_command() -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(project_root());
    command
}

/// The command line as a user would type it: the program's file name, arguments quoted when
/// needed. Environment variables are never shown.
fn display_command(command: &Command) -> String {
    let program = Path::new(command.get_program());
    let mut line = program.file_name().unwrap_or(program.as_os_str()).to_string_lossy().into_owned();
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&quote_arg(arg));
    }
    line
}

fn quote_arg(arg: &OsStr) -> String {
    let arg = arg.to_string_lossy();
    if !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=,+@%".contains(c)) {
        arg.into_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Runs `command` with the terminal's stdin, stdout and stderr; fails unless it exits 0.
fn run_command(command: &mut Command) -> Result {
    let line = display_command(command);
    let status = command.status().map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(Error::Failed(format!("`{line}` failed ({status})")))
    }
}

/// Builds one of copili's binaries with `cargo build [--release] -p copili --bin NAME` and
/// returns its path in the target directory.
fn build_copili_binary(release: bool) -> Result<PathBuf> {
    let mut build = cargo_command();
    build.arg("build");
    if release {
        build.arg("--release");
    }
    build.args(["-p", "copili", "--bin", "copili"]);
    run_command(&mut build)?;
    let profile_dir = if release { "release" } else { "debug" };
    Ok(target_dir()?.join(profile_dir).join(format!("copili{}", std::env::consts::EXE_SUFFIX)))
}

/// The workspace's target directory, as cargo resolves it (`CARGO_TARGET_DIR`,
/// `build.target-dir`, or `<root>/target`): `target_directory` of `cargo metadata`.
fn target_dir() -> Result<PathBuf> {
    let mut metadata = cargo_command();
    metadata.args(["metadata", "--format-version", "1", "--no-deps"]);
    let line = display_command(&metadata);
    let output = metadata.output().map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
    if !output.status.success() {
        return Err(Error::Failed(format!(
            "`{line}` failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let json = String::from_utf8_lossy(&output.stdout);
    json_string_field(&json, "target_directory")
        .map(PathBuf::from)
        .ok_or_else(|| Error::Failed(format!("no `target_directory` in the output of `{line}`")))
}

/// The value of the first `"key": "string"` pair in `json`, unescaped. Enough for the one field
/// xtask reads from `cargo metadata`, without a JSON dependency.
fn json_string_field(json: &str, key: &str) -> Option<String> {
    let quoted_key = format!("\"{key}\"");
    let after_key = &json[json.find(&quoted_key)? + quoted_key.len()..];
    let mut chars = after_key.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?.chars();
    let mut value = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(value),
            '\\' => match chars.next()? {
                'n' => value.push('\n'),
                't' => value.push('\t'),
                'r' => value.push('\r'),
                'b' => value.push('\u{8}'),
                'f' => value.push('\u{c}'),
                'u' => {
                    let high = hex4(&mut chars)?;
                    let code = if (0xD800..0xDC00).contains(&high) {
                        if chars.next()? != '\\' || chars.next()? != 'u' {
                            return None;
                        }
                        let low = hex4(&mut chars)?;
                        0x10000 + ((high - 0xD800) << 10) + low.checked_sub(0xDC00)?
                    } else {
                        high
                    };
                    value.push(char::from_u32(code)?);
                }
                escaped => value.push(escaped),
            },
            c => value.push(c),
        }
    }
}

fn hex4(chars: &mut std::str::Chars<'_>) -> Option<u32> {
    (0..4).try_fold(0, |code, _| Some(code * 16 + chars.next()?.to_digit(16)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_string_field_reads_cargo_metadata_paths() {
        let check = |json: &str, expected: Option<&str>| {
            assert_eq!(json_string_field(json, "target_directory").as_deref(), expected, "{json}");
        };
        check(r#"{"packages":[],"target_directory":"/work/main/target","version":1}"#, Some("/work/main/target"));
        check(r#"{"target_directory" : "C:\\src\\copili\\target"}"#, Some(r"C:\src\copili\target"));
        check(r#"{"target_directory":"/tmp/caf\u00e9 \"x\"/\ud83d\ude00"}"#, Some("/tmp/café \"x\"/😀"));
        check(r#"{"target_directory":"/unterminated"#, None);
        check(r#"{"workspace_root":"/work/main"}"#, None);
    }

    #[test]
    fn display_command_quotes_only_what_needs_it() {
        let mut command = Command::new("/usr/local/bin/copili");
        command.args(["plan", "examples/json-03-sidecar.json", "--format", "json", "exit 0", "", "it's"]);
        assert_eq!(
            display_command(&command),
            r"copili plan examples/json-03-sidecar.json --format json 'exit 0' '' 'it'\''s'"
        );
    }

    #[test]
    fn project_root_is_the_workspace() {
        assert!(project_root().join("xtask").join("Cargo.toml").is_file());
    }
}
