//! The console reporter: output lines interleaved compose-style, a line when a container
//! starts, is retried and ends, and a summary table at the end.
//!
//! ```text
//! --> load started
//! load/db   | database system is ready
//! load      | loading 3 files
//! <-- load succeeded in 1.2s
//! <-- transform: attempt 1 failed (exit code 3), retrying in 10s
//! --> transform started (attempt 2)
//! --- run cancelling: interrupted
//! <-- publish cancelled: dependency transform failed
//!
//! container  status     exit code  attempts  duration  reason
//! load       succeeded  0          1         1.2s      -
//! publish    cancelled  -          0         -         dependency transform failed
//! 1 succeeded, 0 failed, 1 cancelled, 0 skipped in 12.6s
//! ```
//!
//! Every output line is prefixed by its container's name (`main/sidecar` for a sidecar's),
//! padded to the longest such prefix of the pipeline. With `color`, each container's prefix
//! gets one of six ANSI colors by its index and the status words are green, red or yellow;
//! the summary table stays plain so that it aligns. Only ASCII is used around the text.
//!
//! Images get a line when a pull or build starts and ends (`--> image … pulling`, `<-- image
//! … pulled in 2.1s`); with `progress` (a terminal), a pull is one line that updates with the
//! engine's progress meanwhile (indicatif).
//!
//! Output comes in batches (all the lines one read of the engine's pipe brought), written with
//! one write each. A line longer than 1 MiB ([`copili_runtime::MAX_LINE_BYTES`]) comes in
//! pieces, each followed by `--- NAME: line longer than 1 MiB: split, continued on the next
//! line`.
//!
//! Write errors (a closed pipe) are ignored: the console is where they would be reported.

use std::collections::HashMap;
use std::io::Write;

use copili_runtime::images::ImageEvent;
use copili_runtime::runner::{Outcome, RunEvent, Status};
use copili_runtime::{LogLines, MAX_LINE_BYTES};

use super::{elapsed, human_duration, one_line, words, Reporter, RunInfo, RunSummary};

/// Prefix colors, by container index: cyan, yellow, green, magenta, blue, bright cyan (red is
/// kept for failures).
const PREFIX_COLORS: [&str; 6] = ["36", "33", "32", "35", "34", "96"];
const RESET: &str = "\x1b[0m";

/// The human-readable reporter for a terminal or a CI log.
pub struct Console {
    out: Box<dyn Write + Send>,
    info: RunInfo,
    color: bool,
    prefix_width: usize,
    /// Updating lines of pulls in progress, when on a terminal.
    progress: Option<indicatif::MultiProgress>,
    bars: HashMap<String, indicatif::ProgressBar>,
    /// Print the summary table at the end.
    summary: bool,
    /// The text of the last output batch, its allocation reused for the next.
    scratch: String,
}

/// The largest output buffer kept between batches (a batch of a 64 KiB read, prefixed).
const SCRATCH_KEPT: usize = 256 * 1024;

/// The note after a piece of an over-long output line, in the console and the log file.
pub(super) fn split_note() -> String {
    format!("line longer than {} MiB: split, continued on the next line", MAX_LINE_BYTES >> 20)
}

impl Console {
    /// A reporter writing to `out`; `color` adds ANSI colors (the binary decides, from
    /// `IsTerminal` and `NO_COLOR`).
    ///
    /// `out` may buffer (the binary buffers a piped standard output, not a terminal): the
    /// console flushes after each line of its own, and containers' output when
    /// [`Reporter::flush`] is called (every [`super::FLUSH_PERIOD`] during a run).
    pub fn new(out: Box<dyn Write + Send>, info: &RunInfo, color: bool) -> Console {
        let prefix_width = info
            .containers
            .iter()
            .flat_map(|c| {
                let sidecars = c.sidecars.iter().map(|s| c.name.chars().count() + 1 + s.chars().count());
                std::iter::once(c.name.chars().count()).chain(sidecars)
            })
            .max()
            .unwrap_or(0);
        Console {
            out,
            info: info.clone(),
            color,
            prefix_width,
            progress: None,
            bars: HashMap::new(),
            summary: true,
            scratch: String::new(),
        }
    }

    /// No summary table at the end (service mode's runs end with one line of their own).
    pub fn without_summary(mut self) -> Console {
        self.summary = false;
        self
    }

    /// Shows each pull as one updating line on standard output (a terminal).
    pub fn with_progress(mut self) -> Console {
        self.progress = Some(indicatif::MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::stdout()));
        self
    }

    /// The line for an image event, and the updating line's changes.
    fn image_line(&mut self, image: &str, users: &[usize], event: &ImageEvent) -> Option<String> {
        let what = format!("image {image}");
        let line = match event {
            ImageEvent::Present | ImageEvent::Identified { .. } => return None,
            ImageEvent::Progress(text) => {
                if let Some(bar) = self.bars.get(image) {
                    bar.set_message(format!("{what} pulling: {}", one_line(text)));
                }
                return None;
            }
            ImageEvent::Pulling { attempt } => {
                if let Some(progress) = &self.progress {
                    let bar = progress.add(indicatif::ProgressBar::new_spinner());
                    bar.enable_steady_tick(std::time::Duration::from_millis(120));
                    bar.set_message(format!("{what} pulling"));
                    self.bars.insert(image.to_string(), bar);
                }
                if *attempt > 1 {
                    format!("--> {what} pulling (attempt {attempt})")
                } else {
                    format!("--> {what} pulling")
                }
            }
            ImageEvent::Retrying { attempt, delay, reason } => format!(
                "<-- {what}: pull attempt {attempt} {} ({}), retrying in {}",
                self.paint_status(Status::Failed),
                one_line(&words::registry_failure(reason)),
                humantime::format_duration(*delay)
            ),
            ImageEvent::Pulled { elapsed } => format!("<-- {what} pulled in {}", human_duration(*elapsed)),
            ImageEvent::Building => {
                let names: Vec<String> = users.iter().map(|&c| self.info.container_name(c)).collect();
                format!("--> {what} building for {}", names.join(", "))
            }
            ImageEvent::Built { elapsed } => format!("<-- {what} built in {}", human_duration(*elapsed)),
            ImageEvent::UpToDate => format!("=== {what} up to date (build inputs unchanged): not rebuilt"),
            ImageEvent::Failed { reason } => {
                format!("<-- {what} {}: {}", self.paint_status(Status::Failed), one_line(&words::image_failure(reason)))
            }
        };
        if !matches!(event, ImageEvent::Pulling { .. }) {
            if let Some(bar) = self.bars.remove(image) {
                bar.finish_and_clear();
            }
        }
        Some(line)
    }

    /// `text` in the container's color, when colors are on.
    fn paint_container(&self, container: usize, text: &str) -> String {
        self.paint(PREFIX_COLORS[container % PREFIX_COLORS.len()], text)
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn paint_status(&self, status: Status) -> String {
        let code = match status {
            Status::Succeeded => "32",
            Status::Failed => "31",
            // Yellow: a failure, not one of the run's.
            Status::FailedAllowed => "33",
            Status::Cancelled => "33",
            // Dim.
            Status::Skipped => "2",
        };
        self.paint(code, status.label())
    }

    /// One line of copili's own, flushed.
    fn line(&mut self, line: &str) {
        // One write per line, newline included: `writeln!` writes the text and the newline
        // separately, and another writer of the same stream (a dry run's commands) could come
        // between them.
        let whole = format!("{line}\n");
        self.write(&whole, true);
    }

    /// Writes whole lines with one write; flushes them if `flush` (the writer may buffer: see
    /// [`Console::new`]). A closed stdout must not stop the run; there is nowhere to report it.
    fn write(&mut self, text: &str, flush: bool) {
        self.write_parts(&[text], flush);
    }

    /// [`Console::write`] of `parts`, one after the other, as one text.
    fn write_parts(&mut self, parts: &[&str], flush: bool) {
        let write_all = |out: &mut Box<dyn Write + Send>| {
            for part in parts {
                let _ = out.write_all(part.as_bytes());
            }
        };
        match &self.progress {
            Some(progress) if !self.bars.is_empty() => {
                let out = &mut self.out;
                progress.suspend(|| {
                    write_all(out);
                    let _ = out.flush();
                });
            }
            _ => {
                write_all(&mut self.out);
                if flush {
                    let _ = self.out.flush();
                }
            }
        }
    }

    /// A batch of a container's output lines, each prefixed, with one write, not flushed
    /// ([`Reporter::flush`] is called periodically). A piece of an over-long line is followed
    /// by a line saying so.
    fn output(&mut self, container: usize, sidecar: Option<&str>, lines: &LogLines) {
        let who = match sidecar {
            Some(sidecar) => format!("{}/{sidecar}", self.info.container_name(container)),
            None => self.info.container_name(container),
        };
        let mut prefix = self.paint_container(container, &format!("{who:<width$} |", width = self.prefix_width));
        prefix.push(' ');
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let mut all = lines.lines().peekable();
        while let Some(line) = all.next() {
            if lines.split && all.peek().is_none() {
                // A piece of an over-long line (up to 1 MiB, the batch's last line) is written
                // from the batch itself, not copied into a buffer that would grow to hold it.
                let note = format!("\n--- {who}: {}\n", split_note());
                self.write_parts(&[&text, &prefix, line, &note], false);
                text.clear();
                break;
            }
            text.push_str(&prefix);
            text.push_str(line);
            text.push('\n');
        }
        if !text.is_empty() {
            self.write(&text, false);
        }
        // The buffer is kept for the next batch, unless a batch of many lines made it large.
        if text.capacity() <= SCRATCH_KEPT {
            self.scratch = text;
        }
    }

    /// `<-- name failed in 0.4s after 2 attempts: exit code 3`.
    fn finished_line(&self, container: usize, outcome: &Outcome) -> String {
        let name = self.paint_container(container, &self.info.container_name(container));
        let mut line = format!("<-- {name} {}", self.paint_status(outcome.status));
        if let Some(duration) = elapsed(outcome.started_at, outcome.finished_at) {
            line.push_str(&format!(" in {}", human_duration(duration)));
        }
        if outcome.attempts > 1 {
            line.push_str(&format!(" after {} attempts", outcome.attempts));
        }
        if let Some(reason) = &outcome.reason {
            line.push_str(&format!(": {}", one_line(&words::reason(reason))));
        }
        line
    }
}

impl Reporter for Console {
    fn event(&mut self, event: &RunEvent) {
        let line = match event {
            RunEvent::ContainerStarted { container, attempt } => {
                let name = self.paint_container(*container, &self.info.container_name(*container));
                if *attempt > 1 {
                    format!("--> {name} started (attempt {attempt})")
                } else {
                    format!("--> {name} started")
                }
            }
            RunEvent::Output { container, sidecar, lines } => {
                self.output(*container, sidecar.as_deref(), lines);
                return;
            }
            RunEvent::Retrying { container, attempt, delay, reason } => {
                let name = self.paint_container(*container, &self.info.container_name(*container));
                format!(
                    "<-- {name}: attempt {attempt} {} ({}), retrying in {}",
                    self.paint_status(Status::Failed),
                    one_line(&words::reason(reason)),
                    humantime::format_duration(*delay)
                )
            }
            RunEvent::ContainerFinished { container, outcome } => self.finished_line(*container, outcome),
            RunEvent::Image { image, users, event } => match self.image_line(image, users, event) {
                Some(line) => line,
                None => return,
            },
            RunEvent::BuildOutput { container, line } => {
                let who = format!("{} (build)", self.info.container_name(*container));
                let prefix = format!("{who:<width$} |", width = self.prefix_width);
                format!("{} {}", self.paint_container(*container, &prefix), line.text)
            }
            RunEvent::RunCancelling { reason } => {
                format!("--- run {}: {}", self.paint("33", "cancelling"), one_line(&words::cancelling(reason)))
            }
            // Their times are for the reports' timelines; the sidecars' own lines say the rest.
            RunEvent::SidecarStarted { .. } | RunEvent::SidecarReady { .. } => return,
        };
        self.line(&line);
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }

    fn finish(&mut self, summary: &RunSummary) {
        for (_, bar) in self.bars.drain() {
            bar.finish_and_clear();
        }
        if !self.summary {
            let _ = self.out.flush();
            return;
        }
        let table = summary_table(&self.info, &summary.outcomes);
        let count = |status: Status| summary.outcomes.iter().filter(|o| o.status == status).count();
        let total = match summary.finished_at.duration_since(self.info.started_at) {
            Ok(duration) => format!(" in {}", human_duration(duration)),
            Err(_) => String::new(),
        };
        self.line("");
        for row in table.lines() {
            self.line(row);
        }
        let allowed = match count(Status::FailedAllowed) {
            0 => String::new(),
            allowed => format!(", {allowed} failed (allowed)"),
        };
        self.line(&format!(
            "{} succeeded, {} failed{allowed}, {} cancelled, {} skipped{total}",
            count(Status::Succeeded),
            count(Status::Failed),
            count(Status::Cancelled),
            count(Status::Skipped),
        ));
        let _ = self.out.flush();
    }
}

/// The summary table, plain text, columns aligned, one row per outcome in pipeline order.
fn summary_table(info: &RunInfo, outcomes: &[Outcome]) -> String {
    let mut rows: Vec<[String; 6]> =
        vec![["container", "status", "exit code", "attempts", "duration", "reason"].map(String::from)];
    for (container, outcome) in outcomes.iter().enumerate() {
        rows.push([
            info.container_name(container),
            outcome.status.label().to_string(),
            outcome.exit_code.map_or_else(|| "-".to_string(), |code| code.to_string()),
            outcome.attempts.to_string(),
            elapsed(outcome.started_at, outcome.finished_at).map_or_else(|| "-".to_string(), human_duration),
            outcome.reason.as_ref().map_or_else(|| "-".to_string(), |reason| one_line(&words::reason(reason))),
        ]);
    }
    let mut widths = [0; 6];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut table = String::new();
    for row in &rows {
        let mut line = String::new();
        for (column, (cell, width)) in row.iter().zip(widths).enumerate() {
            if column > 0 {
                line.push_str("  ");
            }
            line.push_str(&format!("{cell:<width$}"));
        }
        table.push_str(line.trim_end());
        table.push('\n');
    }
    table
}

#[cfg(test)]
mod tests {
    use copili_runtime::runner::Reason;

    use super::super::test_support::{events, info, summary, SharedBuffer};
    use super::*;

    fn render(color: bool) -> String {
        let buffer = SharedBuffer::default();
        let mut console = Console::new(Box::new(buffer.clone()), &info(), color);
        for event in events() {
            console.event(&event);
        }
        console.finish(&summary());
        buffer.text()
    }

    #[test]
    fn a_scripted_run() {
        insta::assert_snapshot!(render(false), @r"
        <-- cleanup skipped: excluded in environment prod
        --> load started
        load/db   | database system is ready
        load      | loading 3 files
        load      | warning: file 2 is empty
        <-- load succeeded in 1.2s
        --> transform started
        transform | transforming
        <-- transform: attempt 1 failed (exit code 3), retrying in 10s
        --> transform started (attempt 2)
        transform | transforming again
        <-- transform failed in 11.1s after 2 attempts: exit code 3
        --- run cancelling: --fail-fast: a container failed
        <-- publish cancelled: dependency transform failed

        container  status     exit code  attempts  duration  reason
        load       succeeded  0          1         1.2s      -
        transform  failed     3          2         11.1s     exit code 3
        publish    cancelled  -          0         -         dependency transform failed
        cleanup    skipped    -          0         -         excluded in environment prod
        1 succeeded, 1 failed, 1 cancelled, 1 skipped in 12.6s
        ");
    }

    #[test]
    fn colors_only_when_asked() {
        let colored = render(true);
        assert!(colored.contains("\x1b[36mload/db   |\x1b[0m database system is ready"), "{colored}");
        assert!(colored.contains("<-- \x1b[33mtransform\x1b[0m \x1b[31mfailed\x1b[0m in 11.1s"), "{colored}");
        // The table is plain, so that it aligns.
        assert!(colored.contains("\ntransform  failed     3 "), "{colored}");
        assert!(!render(false).contains('\x1b'));
    }

    #[test]
    fn a_batch_is_one_write_of_prefixed_lines_and_a_split_piece_is_noted() {
        let buffer = SharedBuffer::default();
        let mut console = Console::new(Box::new(buffer.clone()), &info(), false);
        let lines = copili_runtime::LogLines {
            stream: copili_runtime::LogStream::Stdout,
            text: "one\ntwo\nstart of a long line\n".into(),
            split: true,
        };
        console.event(&RunEvent::Output { container: 0, sidecar: Some("db".into()), lines });
        insta::assert_snapshot!(buffer.text(), @r"
        load/db   | one
        load/db   | two
        load/db   | start of a long line
        --- load/db: line longer than 1 MiB: split, continued on the next line
        ");
    }

    #[test]
    fn a_piece_alone_is_prefixed_and_noted_and_the_next_batch_is_as_before() {
        let buffer = SharedBuffer::default();
        let mut console = Console::new(Box::new(buffer.clone()), &info(), false);
        let batch = |text: &str, split| copili_runtime::LogLines {
            stream: copili_runtime::LogStream::Stdout,
            text: text.into(),
            split,
        };
        console.event(&RunEvent::Output { container: 0, sidecar: None, lines: batch("xxxx\n", true) });
        console.event(&RunEvent::Output { container: 0, sidecar: None, lines: batch("xx end\nnext\n", false) });
        insta::assert_snapshot!(buffer.text(), @r"
        load      | xxxx
        --- load: line longer than 1 MiB: split, continued on the next line
        load      | xx end
        load      | next
        ");
    }

    #[test]
    fn multi_line_reasons_and_unknown_indexes_stay_on_one_line() {
        let buffer = SharedBuffer::default();
        let mut console = Console::new(Box::new(buffer.clone()), &info(), false);
        let outcome = Outcome {
            status: Status::Failed,
            exit_code: None,
            attempts: 1,
            started_at: None,
            finished_at: None,
            reason: Some(Reason::NotStarted { why: "`podman start` failed:\nError: no such image\n".into() }),
            outputs: Vec::new(),
        };
        console.event(&RunEvent::ContainerFinished { container: 7, outcome });
        insta::assert_snapshot!(buffer.text(), @"<-- #7 failed: `podman start` failed: Error: no such image");
    }
}
