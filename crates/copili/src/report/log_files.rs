//! The log-file reporter (`--log-dir`, `./logs` by default): one `<name>.log` per container,
//! written live and appended to across runs, like copili 1.4's.
//!
//! A file is opened (and the directory created) on the container's first event of the run,
//! and output is written as it arrives, a batch of lines (one read of the engine's pipe) at a
//! time, into a buffer flushed every [`super::FLUSH_PERIOD`] ([`Reporter::flush`]), so `tail
//! -f` follows a running container. A line longer than 1 MiB ([`copili_runtime::MAX_LINE_BYTES`]) is written in
//! pieces, each followed by `---------------------------------------- line longer than 1 MiB:
//! split, continued on the next line`. Each run
//! appends one section; its layout is stable:
//!
//! ```text
//! ======================================== run 2026-11-25T12:00:00Z (run id 20261125T120000-42)
//! pipeline:  nightly
//! engine:    podman
//! image:     localhost/transform:latest
//! ---------------------------------------- attempt 1
//! a line of the container's output (stdout and stderr alike)
//! [db] a line of its sidecar `db`
//! ---------------------------------------- attempt 1 failed (exit code 3), retrying in 10s
//! ---------------------------------------- attempt 2
//! ---------------------------------------- run cancelling: interrupted
//! ---------------------------------------- result
//! status:    failed
//! exit code: 3
//! attempts:  2
//! started:   2026-11-25T12:00:01Z
//! finished:  2026-11-25T12:00:12Z
//! duration:  11.1s
//! reason:    exit code 3
//! ========================================
//! ```
//!
//! `status` is `succeeded`, `failed`, `cancelled` or `skipped` (copili 1.4 wrote EXITED,
//! FAILED, CANCELED, SKIPPED); a field without a value (no exit code, never started) is `-`;
//! a reason of several lines continues on lines indented by 11 spaces. Containers that never
//! ran (skipped, cancelled) get the header and the result block only.
//!
//! An IO error never stops the run nor panics: it is collected (see [`Reporter::errors`]) and
//! that file is not written to again in this run.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use copili_runtime::runner::{Outcome, RunEvent};

use super::{elapsed, human_duration, rfc3339_seconds, Reporter, RunInfo, RunSummary};

/// Opens a log file for appending; the default creates the directory and opens the file.
pub type OpenLog = Box<dyn FnMut(&Path) -> io::Result<Box<dyn Write + Send>> + Send>;

const RUN_RULE: &str = "========================================";
const SECTION_RULE: &str = "----------------------------------------";

/// The log file of the container `name` in `dir`: `<dir>/<name>.log`.
pub fn log_path(dir: &Path, name: &str) -> PathBuf {
    // Names are validated (`[a-zA-Z0-9][a-zA-Z0-9_.-]*`); this keeps a file in the
    // directory even if that ever changes.
    let file: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "_.-".contains(c) { c } else { '-' }).collect();
    dir.join(format!("{file}.log"))
}

/// Writes each container's output and result to `<dir>/<name>.log`.
pub struct LogFiles {
    dir: PathBuf,
    info: RunInfo,
    open: OpenLog,
    files: BTreeMap<usize, LogFile>,
    errors: Vec<String>,
}

/// The state of one container's file in this run.
enum LogFile {
    /// Open, the run's header written.
    Open { writer: Box<dyn Write + Send>, path: PathBuf },
    /// Its result block is written (or the file failed): nothing more is written.
    Closed,
}

impl LogFiles {
    /// Log files in `dir`, created when the first file is opened.
    pub fn new(dir: impl Into<PathBuf>, info: &RunInfo) -> LogFiles {
        LogFiles::with_opener(dir, info, Box::new(open_for_append))
    }

    /// Log files opened by `open` (tests keep them in memory).
    pub fn with_opener(dir: impl Into<PathBuf>, info: &RunInfo, open: OpenLog) -> LogFiles {
        LogFiles { dir: dir.into(), info: info.clone(), open, files: BTreeMap::new(), errors: Vec::new() }
    }

    /// The file of a container: `<dir>/<name>.log`.
    pub fn path_of(&self, container: usize) -> Option<PathBuf> {
        let info = self.info.containers.get(container)?;
        Some(log_path(&self.dir, &info.name))
    }

    /// Writes `lines` to the container's file and flushes it, opening it (with the run's
    /// header) first if this is the container's first event. Containers the pipeline does not
    /// have are ignored.
    fn write(&mut self, container: usize, lines: &str) {
        self.write_flushing(container, lines, true);
    }

    /// [`LogFiles::write`], flushed only if `flush`.
    fn write_flushing(&mut self, container: usize, lines: &str, flush: bool) {
        if !self.files.contains_key(&container) {
            let Some(path) = self.path_of(container) else { return };
            let header = self.header(container);
            let file = match (self.open)(&path) {
                Ok(writer) => LogFile::Open { writer, path },
                Err(error) => {
                    self.errors.push(format!("cannot open {}: {error}", path.display()));
                    LogFile::Closed
                }
            };
            self.files.insert(container, file);
            self.write_open(container, &header, false);
        }
        self.write_open(container, lines, flush);
    }

    fn write_open(&mut self, container: usize, lines: &str, flush: bool) {
        let Some(LogFile::Open { writer, path }) = self.files.get_mut(&container) else { return };
        // One write per event; output is flushed periodically, so that the file follows the
        // run live.
        let written = writer.write_all(lines.as_bytes()).and_then(|()| if flush { writer.flush() } else { Ok(()) });
        if let Err(error) = written {
            self.errors.push(format!("cannot write {}: {error}", path.display()));
            self.files.insert(container, LogFile::Closed);
        }
    }

    fn header(&self, container: usize) -> String {
        let image = self.info.containers.get(container).map_or("-", |c| c.image.as_str());
        format!(
            "{RUN_RULE} run {} (run id {})\npipeline:  {}\nengine:    {}\nimage:     {image}\n",
            rfc3339_seconds(self.info.started_at),
            self.info.run_id,
            self.info.pipeline,
            self.info.engine,
        )
    }

    /// Writes the result block and closes the file.
    fn finish_container(&mut self, container: usize, outcome: &Outcome) {
        if matches!(self.files.get(&container), Some(LogFile::Closed)) {
            return;
        }
        self.write(container, &result_block(outcome));
        if self.files.contains_key(&container) {
            self.files.insert(container, LogFile::Closed);
        }
    }
}

impl Reporter for LogFiles {
    fn event(&mut self, event: &RunEvent) {
        match event {
            RunEvent::ContainerStarted { container, attempt } => {
                self.write(*container, &format!("{SECTION_RULE} attempt {attempt}\n"));
            }
            RunEvent::Output { container, sidecar, lines } => {
                // Not flushed: `Reporter::flush` is called periodically.
                let note = || format!("{SECTION_RULE} {}\n", super::console::split_note());
                match sidecar {
                    // The main container's lines as they came: no copy.
                    None => {
                        self.write_flushing(*container, &lines.text, false);
                        if lines.split {
                            self.write_flushing(*container, &note(), false);
                        }
                    }
                    Some(sidecar) => {
                        let mut text = String::with_capacity(lines.text.len() + 64);
                        for line in lines.lines() {
                            text.push('[');
                            text.push_str(sidecar);
                            text.push_str("] ");
                            text.push_str(line);
                            text.push('\n');
                        }
                        if lines.split {
                            text.push_str(&note());
                        }
                        self.write_flushing(*container, &text, false);
                    }
                }
            }
            RunEvent::Retrying { container, attempt, delay, reason } => {
                let reason = super::one_line(&super::words::reason(reason));
                let delay = humantime::format_duration(*delay);
                self.write(
                    *container,
                    &format!("{SECTION_RULE} attempt {attempt} failed ({reason}), retrying in {delay}\n"),
                );
            }
            RunEvent::ContainerFinished { container, outcome } => self.finish_container(*container, outcome),
            RunEvent::BuildOutput { container, line } => self.write(*container, &format!("[build] {}\n", line.text)),
            RunEvent::SidecarStarted { .. } | RunEvent::SidecarReady { .. } => {}
            RunEvent::Image { image, users, event } => {
                use copili_runtime::images::ImageEvent;
                let text = match event {
                    ImageEvent::Pulled { elapsed } => {
                        format!("image {image} pulled in {}", super::human_duration(*elapsed))
                    }
                    ImageEvent::Built { elapsed } => {
                        format!("image {image} built in {}", super::human_duration(*elapsed))
                    }
                    ImageEvent::Building => format!("image {image} building"),
                    ImageEvent::UpToDate => format!("image {image} up to date (build inputs unchanged): not rebuilt"),
                    ImageEvent::Retrying { attempt, delay, reason } => format!(
                        "image {image}: pull attempt {attempt} failed ({}), retrying in {}",
                        super::one_line(&super::words::registry_failure(reason)),
                        humantime::format_duration(*delay)
                    ),
                    ImageEvent::Failed { reason } => {
                        format!("image {image} failed: {}", super::one_line(&super::words::image_failure(reason)))
                    }
                    ImageEvent::Present
                    | ImageEvent::Pulling { .. }
                    | ImageEvent::Progress(_)
                    | ImageEvent::Identified { .. } => return,
                };
                for &container in users {
                    self.write(container, &format!("{SECTION_RULE} {text}\n"));
                }
            }
            RunEvent::RunCancelling { reason } => {
                let open: Vec<usize> =
                    self.files.iter().filter(|(_, f)| matches!(f, LogFile::Open { .. })).map(|(c, _)| *c).collect();
                for container in open {
                    self.write(
                        container,
                        &format!(
                            "{SECTION_RULE} run cancelling: {}\n",
                            super::one_line(&super::words::cancelling(reason))
                        ),
                    );
                }
            }
        }
    }

    /// Writes the result block of every container that has none yet (the runner reports all,
    /// but an interrupted binary may not have seen every event), then closes the files.
    fn finish(&mut self, summary: &RunSummary) {
        for (container, outcome) in summary.outcomes.iter().enumerate() {
            self.finish_container(container, outcome);
        }
        for file in self.files.values_mut() {
            *file = LogFile::Closed;
        }
    }

    fn flush(&mut self) {
        let open: Vec<usize> =
            self.files.iter().filter(|(_, f)| matches!(f, LogFile::Open { .. })).map(|(c, _)| *c).collect();
        for container in open {
            self.write_open(container, "", true);
        }
    }

    /// The IO errors met so far, one message per failed file, e.g.
    /// `cannot write logs/load.log: No space left on device (os error 28)`.
    fn errors(&self) -> Vec<String> {
        self.errors.clone()
    }
}

/// The result block, from `---- result` to the closing rule.
fn result_block(outcome: &Outcome) -> String {
    let time = |t: Option<std::time::SystemTime>| t.map_or_else(|| "-".to_string(), rfc3339_seconds);
    let reason = match &outcome.reason {
        Some(reason) => {
            super::words::reason(reason).trim_end().lines().collect::<Vec<_>>().join(&format!("\n{:11}", ""))
        }
        None => "-".to_string(),
    };
    format!(
        "{SECTION_RULE} result\n\
         status:    {}\n\
         exit code: {}\n\
         attempts:  {}\n\
         started:   {}\n\
         finished:  {}\n\
         duration:  {}\n\
         reason:    {reason}\n\
         {RUN_RULE}\n",
        outcome.status.label(),
        outcome.exit_code.map_or_else(|| "-".to_string(), |code| code.to_string()),
        outcome.attempts,
        time(outcome.started_at),
        time(outcome.finished_at),
        elapsed(outcome.started_at, outcome.finished_at).map_or_else(|| "-".to_string(), human_duration),
    )
}

/// The default [`OpenLog`]: creates the directory if missing, opens the file for appending.
fn open_for_append(path: &Path) -> io::Result<Box<dyn Write + Send>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    // Batches of output are joined in the buffer, flushed periodically (`Reporter::flush`).
    Ok(Box::new(io::BufWriter::with_capacity(64 * 1024, file)))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use copili_runtime::runner::{Cancelling, Reason, Status};

    use super::super::test_support::{events, info, outcomes, summary, SharedBuffer};
    use super::*;

    type Files = Arc<Mutex<BTreeMap<PathBuf, SharedBuffer>>>;

    /// Log files kept in memory, by path.
    fn in_memory() -> (LogFiles, Files) {
        let files: Files = Arc::default();
        let opened = Arc::clone(&files);
        let open: OpenLog = Box::new(move |path| {
            let buffer = opened.lock().expect("not poisoned").entry(path.to_path_buf()).or_default().clone();
            Ok(Box::new(buffer) as Box<dyn Write + Send>)
        });
        (LogFiles::with_opener("logs", &info(), open), files)
    }

    fn text(files: &Files, name: &str) -> String {
        let files = files.lock().expect("not poisoned");
        files.get(Path::new("logs").join(name).as_path()).map(SharedBuffer::text).unwrap_or_default()
    }

    #[test]
    fn a_scripted_run() {
        let (mut logs, files) = in_memory();
        for event in events() {
            logs.event(&event);
        }
        logs.finish(&summary());
        assert!(logs.errors().is_empty());
        let names: Vec<PathBuf> = files.lock().expect("not poisoned").keys().cloned().collect();
        assert_eq!(names.len(), 4, "{names:?}");

        insta::assert_snapshot!(text(&files, "load.log"), @r"
        ======================================== run 2026-11-25T12:00:00Z (run id 20261125T120000-42)
        pipeline:  nightly
        engine:    podman
        image:     localhost/load:latest
        ---------------------------------------- attempt 1
        [db] database system is ready
        loading 3 files
        warning: file 2 is empty
        ---------------------------------------- result
        status:    succeeded
        exit code: 0
        attempts:  1
        started:   2026-11-25T12:00:00Z
        finished:  2026-11-25T12:00:01Z
        duration:  1.2s
        reason:    -
        ========================================
        ");
        insta::assert_snapshot!(text(&files, "transform.log"), @r"
        ======================================== run 2026-11-25T12:00:00Z (run id 20261125T120000-42)
        pipeline:  nightly
        engine:    podman
        image:     localhost/transform:latest
        ---------------------------------------- attempt 1
        transforming
        ---------------------------------------- attempt 1 failed (exit code 3), retrying in 10s
        ---------------------------------------- attempt 2
        transforming again
        ---------------------------------------- result
        status:    failed
        exit code: 3
        attempts:  2
        started:   2026-11-25T12:00:01Z
        finished:  2026-11-25T12:00:12Z
        duration:  11.1s
        reason:    exit code 3
        ========================================
        ");
        insta::assert_snapshot!(text(&files, "publish.log"), @r"
        ======================================== run 2026-11-25T12:00:00Z (run id 20261125T120000-42)
        pipeline:  nightly
        engine:    podman
        image:     localhost/publish:latest
        ---------------------------------------- result
        status:    cancelled
        exit code: -
        attempts:  0
        started:   -
        finished:  -
        duration:  -
        reason:    dependency transform failed
        ========================================
        ");
        assert!(text(&files, "cleanup.log").contains("status:    skipped\n"));
        assert!(text(&files, "cleanup.log").contains("reason:    excluded in environment prod\n"));
    }

    #[test]
    fn an_interrupt_reaches_running_containers_and_finish_writes_missing_results() {
        let (mut logs, files) = in_memory();
        logs.event(&RunEvent::ContainerStarted { container: 1, attempt: 1 });
        logs.event(&RunEvent::RunCancelling { reason: Cancelling::Interrupted });
        // The binary gave up waiting: no ContainerFinished for anyone.
        let mut summary = summary();
        summary.outcomes[1] = Outcome {
            status: Status::Cancelled,
            exit_code: Some(143),
            attempts: 1,
            started_at: summary.outcomes[1].started_at,
            finished_at: summary.outcomes[1].finished_at,
            reason: Some(Reason::NotStarted { why: "interrupted\nby SIGTERM".into() }),
            outputs: Vec::new(),
        };
        logs.finish(&summary);
        insta::assert_snapshot!(text(&files, "transform.log"), @r"
        ======================================== run 2026-11-25T12:00:00Z (run id 20261125T120000-42)
        pipeline:  nightly
        engine:    podman
        image:     localhost/transform:latest
        ---------------------------------------- attempt 1
        ---------------------------------------- run cancelling: interrupted
        ---------------------------------------- result
        status:    cancelled
        exit code: 143
        attempts:  1
        started:   2026-11-25T12:00:01Z
        finished:  2026-11-25T12:00:12Z
        duration:  11.1s
        reason:    interrupted
                   by SIGTERM
        ========================================
        ");
        assert!(text(&files, "load.log").contains("status:    succeeded\n"));
        assert!(!text(&files, "publish.log").contains("run cancelling"));
    }

    #[test]
    fn files_are_created_in_a_new_directory_and_appended_across_runs() {
        let temp = tempfile::tempdir().expect("temporary directory");
        let dir = temp.path().join("logs").join("nightly");
        for _run in 0..2 {
            let mut logs = LogFiles::new(&dir, &info());
            logs.event(&RunEvent::ContainerFinished { container: 3, outcome: outcomes()[3].clone() });
            logs.finish(&summary());
            assert_eq!(logs.errors(), Vec::<String>::new());
        }
        let text = std::fs::read_to_string(dir.join("cleanup.log")).expect("written");
        assert_eq!(text.matches("======================================== run ").count(), 2, "{text}");
        assert_eq!(text.matches("status:    skipped").count(), 2, "{text}");
        assert!(dir.join("load.log").exists());
    }

    #[test]
    fn output_is_buffered_until_flushed_and_a_split_piece_is_noted() {
        let temp = tempfile::tempdir().expect("temporary directory");
        let mut logs = LogFiles::new(temp.path(), &info());
        let read = || std::fs::read_to_string(temp.path().join("load.log")).unwrap_or_default();
        logs.event(&RunEvent::ContainerStarted { container: 0, attempt: 1 });
        assert!(read().ends_with(" attempt 1\n"), "copili's own lines are flushed: {}", read());
        let batch = |text: &str, split| copili_runtime::LogLines {
            stream: copili_runtime::LogStream::Stdout,
            text: text.into(),
            split,
        };
        logs.event(&RunEvent::Output { container: 0, sidecar: None, lines: batch("a\nb\npiece\n", true) });
        logs.event(&RunEvent::Output { container: 0, sidecar: Some("db".into()), lines: batch("c\n", false) });
        assert!(!read().contains("piece"), "output waits for a flush: {}", read());
        logs.flush();
        assert!(
            read().ends_with(
                " attempt 1\na\nb\npiece\n---------------------------------------- line longer than 1 MiB: split, \
                 continued on the next line\n[db] c\n"
            ),
            "{}",
            read()
        );
    }

    #[test]
    fn io_errors_are_collected_once_per_file_not_panicked() {
        let temp = tempfile::tempdir().expect("temporary directory");
        // A file where the directory should be.
        let dir = temp.path().join("logs");
        std::fs::write(&dir, "").expect("written");
        let mut logs = LogFiles::new(&dir, &info());
        for event in events() {
            logs.event(&event);
        }
        logs.finish(&summary());
        let errors = logs.errors();
        assert_eq!(errors.len(), 4, "{errors:?}");
        let first = &errors[0];
        assert!(first.starts_with(&format!("cannot open {}", dir.join("cleanup.log").display())), "{first}");

        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("no space left on device"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let open: OpenLog = Box::new(|_| Ok(Box::new(Full) as Box<dyn Write + Send>));
        let mut logs = LogFiles::with_opener("logs", &info(), open);
        for event in events() {
            logs.event(&event);
        }
        logs.finish(&summary());
        assert_eq!(
            logs.errors(),
            &[
                "cannot write logs/cleanup.log: no space left on device",
                "cannot write logs/load.log: no space left on device",
                "cannot write logs/transform.log: no space left on device",
                "cannot write logs/publish.log: no space left on device",
            ]
        );
    }
}
