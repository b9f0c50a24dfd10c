//! The log of one container for the HTML report: this run's section of its log file
//! (`--log-dir`, appended to across runs), ANSI escapes stripped, cut to its last
//! [`MAX_LOG_BYTES`] with a note when longer.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

/// The most of one log the page holds: its end (where a failure says why).
pub const MAX_LOG_BYTES: u64 = 256 * 1024;

/// What the page shows of a container's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogExcerpt {
    /// The log file, as the report names it.
    pub path: PathBuf,
    /// The text shown (this run's section when found), without ANSI escapes.
    pub text: String,
    /// Bytes of the file left out before `text`, when it was cut.
    pub truncated_bytes: u64,
    /// Why nothing could be read, if so (a missing file, a permission).
    pub error: Option<String>,
}

/// Reads `path` (relative paths from `base`), keeping the section of `run_id`.
pub fn read_log(base: &Path, path: &Path, run_id: &str) -> LogExcerpt {
    let full = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
    let mut excerpt = LogExcerpt { path: path.to_path_buf(), text: String::new(), truncated_bytes: 0, error: None };
    let read = || -> std::io::Result<(Vec<u8>, u64)> {
        let mut file = std::fs::File::open(&full)?;
        let length = file.metadata()?.len();
        // The section of this run is at the end of the file (runs append); a section longer
        // than the limit is cut at its start.
        let skip = length.saturating_sub(4 * MAX_LOG_BYTES);
        file.seek(SeekFrom::Start(skip))?;
        let mut bytes = Vec::new();
        file.take(4 * MAX_LOG_BYTES).read_to_end(&mut bytes)?;
        Ok((bytes, skip))
    };
    match read() {
        Ok((bytes, skipped)) => {
            let text = String::from_utf8_lossy(&bytes);
            let section = section_of(&text, run_id).unwrap_or(&text);
            let (kept, cut) = tail(section, MAX_LOG_BYTES as usize);
            excerpt.truncated_bytes = cut as u64 + if section.len() == text.len() { skipped } else { 0 };
            excerpt.text = strip_ansi(kept);
        }
        Err(error) => excerpt.error = Some(format!("cannot read {}: {error}", full.display())),
    }
    excerpt
}

/// The section of the run `run_id` in a log file's text (see `log_files`), if there.
fn section_of<'a>(text: &'a str, run_id: &str) -> Option<&'a str> {
    let marker = format!("(run id {run_id})");
    let start = text
        .match_indices("======================================== run ")
        .map(|(at, _)| at)
        .filter(|&at| text[at..].lines().next().is_some_and(|line| line.ends_with(&marker)))
        .last()?;
    let rest = &text[start..];
    // The section ends at the bare rule after its result block.
    let end = rest.find("\n========================================\n").map(|at| at + 42).unwrap_or(rest.len());
    Some(&rest[..end.min(rest.len())])
}

/// The last `max` bytes of `text` (at a line start when one is near), and how many were cut.
fn tail(text: &str, max: usize) -> (&str, usize) {
    if text.len() <= max {
        return (text, 0);
    }
    let mut at = text.len() - max;
    while !text.is_char_boundary(at) {
        at += 1;
    }
    if let Some(newline) = text[at..].find('\n') {
        at += newline + 1;
    }
    (&text[at..], at)
}

/// `text` without ANSI escape sequences (colours, cursor moves, titles).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            // CSI: parameters and intermediates, then one final byte in @..~.
            Some('[') => {
                chars.next();
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ESC \.
            Some(']') => {
                chars.next();
                while let Some(c) = chars.next() {
                    if c == '\u{7}' {
                        break;
                    }
                    if c == '\u{1b}' {
                        chars.next();
                        break;
                    }
                }
            }
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ansi_colours_and_titles_are_stripped() {
        assert_eq!(strip_ansi("\u{1b}[1;31merror\u{1b}[0m: \u{1b}]0;title\u{7}done"), "error: done");
    }

    #[test]
    fn the_section_of_the_run_is_kept() {
        let text = "======================================== run 2026 (run id a)\nold\n========================================\n\
                    ======================================== run 2026 (run id b)\nnew\n========================================\n";
        let section = section_of(text, "b").expect("found");
        assert!(section.contains("new") && !section.contains("old"), "{section}");
        assert_eq!(section_of(text, "c"), None);
    }

    #[test]
    fn a_large_log_file_is_cut_to_its_end_and_says_so() {
        let temp = tempfile::tempdir().expect("temporary directory");
        let line = "x".repeat(99) + "\n";
        let body = line.repeat(5000) + "the last line\n";
        let text = format!("======================================== run t (run id r)\n{body}========================================\n");
        std::fs::write(temp.path().join("big.log"), &text).expect("written");
        let excerpt = read_log(temp.path(), Path::new("big.log"), "r");
        assert_eq!(excerpt.error, None);
        assert!(excerpt.text.len() as u64 <= MAX_LOG_BYTES, "{}", excerpt.text.len());
        assert!(excerpt.text.contains("the last line"));
        assert_eq!(excerpt.truncated_bytes as usize + excerpt.text.len(), text.len());
        let missing = read_log(temp.path(), Path::new("gone.log"), "r");
        assert!(missing.error.is_some_and(|e| e.contains("gone.log")));
    }

    #[test]
    fn a_long_log_keeps_its_end() {
        let text = "line\n".repeat(10);
        let (kept, cut) = tail(&text, 12);
        assert_eq!(kept, "line\nline\n");
        assert_eq!(cut, 40);
    }
}
