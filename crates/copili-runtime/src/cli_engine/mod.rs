//! [`Engine`] for the `docker` and `podman` command line clients, run through `duct`.
//!
//! Every call is one client invocation with its output captured, its exit status read with
//! `unchecked()` and turned into an [`EngineError`] carrying the command (secrets never on it)
//! and the end of its error output. The two clients differ in a few places only, kept here.

mod argv;
mod attached;
mod auth;
mod classify;
mod engine_impl;
mod labels;
mod loaded;
mod outlived;
mod process;
mod reader;
mod render;
mod split;

pub(crate) use auth::AuthDir;
pub(crate) use process::tail;
pub use render::shell_quote;

use std::path::PathBuf;
use std::time::Duration;

use crate::engine::EngineError;

/// Which client a binary is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    /// The docker client, talking to a daemon (`DOCKER_HOST`).
    Docker,
    /// The podman client, daemonless (rootful or rootless).
    Podman,
}

/// A container engine driven through its command line client.
#[derive(Debug, Clone)]
pub struct CliEngine {
    binary: PathBuf,
    display: String,
    kind: EngineKind,
    /// `--dry-run`: commands are shown, not run.
    dry_run: Option<DryRunSink>,
    /// How long a call that should return quickly may take ([`CliEngine::timeout`]).
    timeout: Duration,
    /// The calls killed at their bound, until [`Engine::killed_calls`](crate::Engine::killed_calls) takes them.
    killed: std::sync::Arc<std::sync::Mutex<Vec<EngineError>>>,
    /// Image ids learnt from presence checks (`image inspect --format {{.Id}}` answers both
    /// questions), so that [`Engine::image_id`](crate::Engine::image_id) after the check asks
    /// the engine nothing; forgotten when the image is pulled or built.
    image_ids: ImageIds,
}

/// The image ids a [`CliEngine`] has seen, by image reference.
#[derive(Debug, Clone, Default)]
pub(crate) struct ImageIds(std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, String>>>);

impl ImageIds {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, String>> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn get(&self, image: &str) -> Option<String> {
        self.map().get(image).cloned()
    }

    pub(crate) fn insert(&self, image: &str, id: String) {
        self.map().insert(image.to_string(), id);
    }

    pub(crate) fn forget(&self, image: &str) {
        self.map().remove(image);
    }
}

/// Where a dry run's commands go, one shell-quoted line each.
#[derive(Clone)]
pub struct DryRunSink(std::sync::Arc<dyn Fn(String) + Send + Sync>);

impl std::fmt::Debug for DryRunSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DryRunSink")
    }
}

/// The default bound of an engine call that should return quickly: generous, because a
/// loaded host (a podman removing many containers at once holds its storage lock; a docker
/// daemon pruning) can take tens of seconds to answer a call that usually takes a tenth of a
/// second, and a run failed for a slow engine is worse than one that waits. An engine that
/// answers nothing in a minute is not going to.
pub const DEFAULT_ENGINE_TIMEOUT: Duration = Duration::from_secs(60);

/// How many lines of a failing command's error output an error keeps.
const STDERR_TAIL_LINES: usize = 8;

impl CliEngine {
    /// `call`, tried again (up to 3 times, 300 ms apart) while it fails on rootless podman's
    /// network namespace being torn down ([`classify::is_rootless_netns_race`]): a transient
    /// the engine itself recovers from, which would otherwise fail a job between two others.
    pub(crate) fn retrying_netns_race<T>(
        &self,
        mut call: impl FnMut() -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let mut tries = 1;
        loop {
            match call() {
                Err(error) if tries < 3 && classify::is_rootless_netns_race(&error) => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(300));
                }
                result => return result,
            }
        }
    }

    /// An engine for `binary` (a name looked up on `PATH`, or a path), of the given kind.
    pub fn new(binary: impl Into<PathBuf>, kind: EngineKind) -> CliEngine {
        let binary = binary.into();
        let display = binary.display().to_string();
        CliEngine {
            binary,
            display,
            kind,
            dry_run: None,
            timeout: DEFAULT_ENGINE_TIMEOUT,
            killed: Default::default(),
            image_ids: ImageIds::default(),
        }
    }

    /// This engine with every call that should return quickly bounded by `timeout` instead of
    /// [`DEFAULT_ENGINE_TIMEOUT`]: the availability check (`version`), `inspect`, `create`, `start`,
    /// `rm`, the `network` and `image` queries, `ps`, a ready check's `exec`, a registry
    /// login; `stop` gets its grace period on top. A client still running then is killed
    /// with its whole process group and the call fails with [`EngineError::TimedOut`]. Calls
    /// that last as long as a container or a transfer (`run`/`start --attach`,
    /// `logs --follow`, `wait`, `pull`, `build`) are not bounded by it; they are cancelled
    /// their own way.
    pub fn timeout(mut self, timeout: Duration) -> CliEngine {
        self.timeout = timeout;
        self
    }

    /// This engine, named `name` in messages.
    fn named(mut self, name: &str) -> CliEngine {
        self.display = name.to_string();
        self
    }

    /// The bound of calls that should return quickly (see [`CliEngine::timeout`]).
    pub fn call_timeout(&self) -> Duration {
        self.timeout
    }

    /// The bound of a `stop` with this grace period: the grace period, then the timeout.
    pub(crate) fn stop_bound(&self, grace: Duration) -> Duration {
        // The client is given the grace period in whole seconds, rounded up.
        Duration::from_secs(crate::shared_argv::whole_seconds(grace)).saturating_add(self.timeout)
    }

    /// This engine in dry-run mode: every command is handed to `sink` as one shell-quoted line
    /// instead of being run, and answers as if it had succeeded (containers exit 0). Needs no
    /// reachable engine.
    pub fn dry_run(mut self, sink: impl Fn(String) + Send + Sync + 'static) -> CliEngine {
        self.dry_run = Some(DryRunSink(std::sync::Arc::new(sink)));
        self
    }

    /// Finds `docker` or `podman` on `PATH`.
    pub fn find(kind: EngineKind) -> Result<CliEngine, EngineError> {
        let name = match kind {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        };
        let path = which::which(name)
            .map_err(|e| EngineError::NotFound { binary: name.into(), reason: format!("not found on PATH ({e})") })?;
        Ok(CliEngine::new(path, kind).named(name))
    }

    /// The engine named by `--engine` / `COPILI_ENGINE`: `auto` (podman when `PATH` has it,
    /// else docker), `docker`, `podman`, or the path of a client binary (its kind read from
    /// its name, else from its `--version`).
    pub fn select(choice: &str) -> Result<CliEngine, EngineError> {
        CliEngine::select_with_timeout(choice, DEFAULT_ENGINE_TIMEOUT)
    }

    /// [`CliEngine::select`], the engine's calls bounded by `timeout` (see
    /// [`CliEngine::timeout`]), the `--version` asked of a client of unknown kind included.
    pub fn select_with_timeout(choice: &str, timeout: Duration) -> Result<CliEngine, EngineError> {
        let engine = match choice {
            "" | "auto" => CliEngine::find(EngineKind::Podman)
                .or_else(|_| CliEngine::find(EngineKind::Docker))
                .map_err(|_| EngineError::NoClientOnPath),
            "docker" => CliEngine::find(EngineKind::Docker),
            "podman" => CliEngine::find(EngineKind::Podman),
            path => {
                let binary = PathBuf::from(path);
                if !binary.is_file() {
                    return Err(EngineError::NotFound { binary: path.into(), reason: "no such file".into() });
                }
                let name = binary.file_name().map(|n| n.to_string_lossy().to_lowercase()).unwrap_or_default();
                let kind = if name.contains("podman") {
                    EngineKind::Podman
                } else if name.contains("docker") {
                    EngineKind::Docker
                } else {
                    let probe = CliEngine::new(&binary, EngineKind::Docker).timeout(timeout);
                    let version = probe.run(&args(["--version"]))?;
                    if version.to_lowercase().contains("podman") {
                        EngineKind::Podman
                    } else {
                        EngineKind::Docker
                    }
                };
                Ok(CliEngine::new(binary, kind))
            }
        };
        engine.map(|engine| engine.timeout(timeout))
    }

    /// The kind of client.
    pub fn kind(&self) -> EngineKind {
        self.kind
    }
}

pub(crate) fn args<const N: usize>(items: [&str; N]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{CreateRequest, Engine, LogStream};
    use copili_model::Secret;

    /// The presence check is one `image inspect --format {{.Id}}` on both engines, and the id
    /// it printed answers the run's next question (the id for the state) without a call;
    /// an absent image (podman's exit 125, "image not known") is absent, not an error.
    #[test]
    fn the_presence_check_gives_the_image_id_in_the_same_call() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let client = dir.path().join("podman");
        let calls = dir.path().join("calls");
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$*\" in\n  *' there:1') echo sha256:abc ;;\n  \
             *) echo 'Error: inspecting object: gone:1: image not known' >&2; exit 125 ;;\nesac\n",
            calls.display()
        );
        std::fs::write(&client, script).expect("write the client");
        std::fs::set_permissions(&client, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        for kind in [EngineKind::Podman, EngineKind::Docker] {
            let _ = std::fs::remove_file(&calls);
            let engine = CliEngine::new(&client, kind);
            assert!(engine.image_present("there:1").expect("answers"));
            assert_eq!(engine.image_id("there:1").expect("answers").as_deref(), Some("sha256:abc"));
            assert!(!engine.image_present("gone:1").expect("answers"));
            assert_eq!(engine.image_id("gone:1").expect("answers"), None);
            let seen = std::fs::read_to_string(&calls).expect("calls");
            assert_eq!(
                seen.lines().collect::<Vec<_>>(),
                [
                    "image inspect --format {{.Id}} there:1",
                    "image inspect --format {{.Id}} gone:1",
                    "image inspect --format {{.Id}} gone:1"
                ],
                "{kind:?}"
            );
        }
    }

    /// Created ahead, a podman container is also initialised (`init`), which takes its storage,
    /// network and runtime set-up off its start; one that cannot be initialised is removed, so
    /// that nothing is left and its start creates it again (and reports why). docker has no
    /// `init`: `create` only.
    #[test]
    fn a_container_created_ahead_is_initialised_on_podman_and_removed_if_that_fails() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let client = dir.path().join("client");
        let calls = dir.path().join("calls");
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\ncase \"$*\" in\n  create*good*) echo id-good ;;\n  \
             create*bad*) echo id-bad ;;\n  'init id-bad') echo 'Error: netavark: no route' >&2; exit 125 ;;\nesac\n",
            calls.display()
        );
        std::fs::write(&client, script).expect("write the client");
        std::fs::set_permissions(&client, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        let request = |name: &str| CreateRequest {
            name: name.into(),
            hostname: name.into(),
            image: "img:1".into(),
            ..CreateRequest::default()
        };
        let seen = || {
            let text = std::fs::read_to_string(&calls).unwrap_or_default();
            let _ = std::fs::remove_file(&calls);
            text.lines()
                .map(|l| l.split(' ').next().unwrap_or("").to_string() + " " + l.rsplit(' ').next().unwrap_or(""))
                .collect::<Vec<_>>()
        };
        let podman = CliEngine::new(&client, EngineKind::Podman);
        assert_eq!(podman.create_ahead(&request("good")).expect("created"), "id-good");
        assert_eq!(seen(), ["create img:1", "init id-good"]);
        match podman.create_ahead(&request("bad")) {
            Err(EngineError::Failed { stderr, .. }) => assert!(stderr.contains("no route"), "{stderr}"),
            other => panic!("the init's failure: {other:?}"),
        }
        assert_eq!(seen(), ["create img:1", "init id-bad", "rm id-bad"]);
        let docker = CliEngine::new(&client, EngineKind::Docker);
        assert_eq!(docker.create_ahead(&request("good")).expect("created"), "id-good");
        assert_eq!(seen(), ["create img:1"]);
    }

    /// A quoted argument pastes back as itself (bash reads it), on one line and with nothing
    /// that acts on a terminal.
    #[test]
    fn shell_quote_round_trips_through_bash() {
        let args = [
            "plain",
            "with space",
            "it's",
            "",
            "a\nb",
            "\u{1b}[31mred\u{7}",
            "tab\there",
            "back\\slash'\n",
            "\u{202e}x",
        ];
        for arg in args {
            let quoted = shell_quote(arg);
            assert!(!quoted.chars().any(|c| c != '\t' && copili_model::escape::acts_on_terminal(c)), "{quoted:?}");
            let output = std::process::Command::new("bash")
                .args(["-c", &format!("printf %s {quoted}")])
                .output()
                .expect("bash runs");
            assert_eq!(String::from_utf8_lossy(&output.stdout), arg, "{quoted}");
        }
    }

    /// A script that waits, after each line, until the test's `on_line` has seen it (a marker
    /// file it creates), then writes the next line to the other stream: each line must be
    /// handed on as soon as it is written, whichever stream it is on. Before, stderr lines
    /// waited for the next stdout line (a sidecar that logs to stderr only showed its start-up
    /// lines when it was removed), and this script gave up waiting.
    #[test]
    fn lines_of_both_streams_are_handed_on_as_soon_as_they_are_read() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let marker = |n: u32| dir.path().join(format!("seen-{n}"));
        let script = r#"
            wait_for() { i=0; while [ ! -e "$DIR/seen-$1" ]; do
                i=$((i + 1)); if [ $i -gt 1200 ]; then echo "line $1 was not handed on"; exit 3; fi
                sleep 0.05; done; }
            echo err-1 >&2; wait_for 1
            echo out-2; wait_for 2
            echo err-3 >&2; wait_for 3
            printf 'err-4-\377\n' >&2; wait_for 4
            echo out-5"#;
        let engine = CliEngine::new("/bin/sh", EngineKind::Docker);
        let dir_value = dir.path().display().to_string();
        let mut lines = Vec::new();
        let (status, stderr_tail) = engine
            .stream(&args(["-c", script]), &[("DIR", &dir_value)], &mut |batch| {
                for text in batch.lines() {
                    if let Some(n) = text.split('-').nth(1).and_then(|n| n.parse::<u32>().ok()) {
                        std::fs::write(marker(n), "").expect("write a marker");
                    }
                    lines.push((batch.stream, text.to_string()));
                }
            })
            .expect("sh runs");
        let expected = [
            (LogStream::Stderr, "err-1"),
            (LogStream::Stdout, "out-2"),
            (LogStream::Stderr, "err-3"),
            (LogStream::Stderr, "err-4-\u{fffd}"),
            (LogStream::Stdout, "out-5"),
        ];
        let expected: Vec<(LogStream, String)> = expected.iter().map(|(s, t)| (*s, t.to_string())).collect();
        assert_eq!(lines, expected);
        assert_eq!(status, Some(0));
        assert_eq!(stderr_tail, "err-1\nerr-3\nerr-4-\u{fffd}");
    }

    fn request() -> CreateRequest {
        CreateRequest {
            name: "p-a".into(),
            image: "localhost/x:latest".into(),
            hostname: "a".into(),
            labels: vec![("io.copili.pipeline".into(), "p".into())],
            env: vec![("PW".into(), Secret::new("hunter2")), ("CERT".into(), Secret::new("line1\nline2"))],
            command: vec!["sh".into(), "-c".into(), "echo hi".into()],
            ..CreateRequest::default()
        }
    }

    #[test]
    fn environment_values_never_reach_the_command_line() {
        let engine = CliEngine::new("podman", EngineKind::Podman);
        let prepared = engine.prepare("run", &request()).expect("prepared");
        let line = prepared.args.join(" ");
        assert!(!line.contains("hunter2") && !line.contains("line1"), "{line}");
        // The one-line value is in a private 0600 file, the multi-line one in the client's
        // environment with only its name on the command line.
        let at = prepared.args.iter().position(|argv| argv == "--env-file").expect("an env file");
        let path = PathBuf::from(&prepared.args[at + 1]);
        assert_eq!(std::fs::read_to_string(&path).expect("readable"), "PW=hunter2\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("exists").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let dir_mode = std::fs::metadata(path.parent().expect("a dir")).expect("exists").permissions().mode();
            assert_eq!(dir_mode & 0o077, 0, "the directory is private");
        }
        assert!(prepared.args.windows(2).any(|w| w[0] == "--env" && w[1] == "CERT"));
        assert_eq!(prepared.client_env(), vec![("CERT", "line1\nline2")]);
        assert!(prepared.args.contains(&"--sig-proxy=false".to_string()));
        drop(prepared);
        assert!(!path.exists(), "the file is removed with its directory");
    }

    #[test]
    fn dry_run_shows_names_only_and_quotes_arguments() {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&lines);
        let engine = CliEngine::new("docker", EngineKind::Docker)
            .dry_run(move |line| sink.lock().expect("not poisoned").push(line));
        let status = engine.run_attached(&request(), &mut |_| {}).expect("a dry run succeeds");
        assert_eq!(status.code, 0);
        let lines = lines.lock().expect("not poisoned").clone();
        assert!(lines[0].starts_with("docker run --name p-a --sig-proxy=false --pull=never --hostname a"), "{lines:?}");
        assert!(lines[0].contains("--env PW --env CERT"), "{lines:?}");
        assert!(lines[0].ends_with("localhost/x:latest sh -c 'echo hi'"), "{lines:?}");
        assert!(lines.iter().all(|l| !l.contains("hunter2")));
    }

    #[test]
    fn label_filters_match_any_value_when_empty() {
        let filters = CliEngine::label_filters(&[("io.copili.pipeline".into(), String::new())]);
        assert_eq!(filters, vec!["--filter", "label=io.copili.pipeline"]);
    }
}
