//! A container's log as server-sent events: the tail of its log file (at most
//! [`limits::TAIL_BYTES`]), then each line appended to it, one `data:` event per line, looked
//! for every [`limits::POLL`]. One task per client, all bounded: a client holds a stream
//! permit (at most [`limits::MAX_STREAMS`]), at most [`limits::STREAM_FRAMES`] frames wait for
//! it (then its task waits, reading nothing more), a read takes at most [`limits::MAX_READ`]
//! bytes, and a client more than [`limits::MAX_BEHIND`] behind skips to the tail. The task
//! ends when the client goes.

use std::convert::Infallible;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::Frame;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

use crate::ui::limits;

/// The body of an event stream: frames from the following task.
pub struct EventBody {
    frames: mpsc::Receiver<Bytes>,
}

impl hyper::body::Body for EventBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.frames.poll_recv(cx).map(|frame| frame.map(|bytes| Ok(Frame::data(bytes))))
    }
}

/// Follows `path` on the current tokio runtime for as long as the client reads the body.
pub fn log_events(path: PathBuf, permit: OwnedSemaphorePermit) -> EventBody {
    let (sender, frames) = mpsc::channel(limits::STREAM_FRAMES);
    tokio::spawn(follow(path, sender, permit));
    EventBody { frames }
}

async fn follow(path: PathBuf, sender: mpsc::Sender<Bytes>, _permit: OwnedSemaphorePermit) {
    if sender.send(Bytes::from_static(b"retry: 2000\n\n")).await.is_err() {
        return;
    }
    let mut tail = Tail::default();
    let mut quiet = std::time::Duration::ZERO;
    loop {
        let lines = tail.read_new(&path);
        if lines.is_empty() {
            quiet += limits::POLL;
            if quiet >= limits::KEEP_ALIVE {
                quiet = std::time::Duration::ZERO;
                if sender.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                    return;
                }
            }
        } else {
            quiet = std::time::Duration::ZERO;
            if sender.send(Bytes::from(events(&lines))).await.is_err() {
                return;
            }
        }
        if sender.is_closed() {
            return;
        }
        tokio::time::sleep(limits::POLL).await;
    }
}

/// One `data:` event per line.
pub fn events(lines: &[String]) -> String {
    let mut out = String::new();
    for line in lines {
        out.push_str("data: ");
        out.push_str(line);
        out.push_str("\n\n");
    }
    out
}

/// Where a client is in a log file.
#[derive(Debug, Default)]
pub struct Tail {
    /// The next byte to read; `None` before the first read.
    offset: Option<u64>,
    /// An incomplete last line.
    partial: Vec<u8>,
    /// Drop everything up to the first line end (the first read started inside a line).
    skip_to_line: bool,
}

impl Tail {
    /// The complete lines appended to `path` since the last call (the tail on the first),
    /// without line ends; a note when lines were skipped or the file started over.
    pub fn read_new(&mut self, path: &Path) -> Vec<String> {
        let mut lines = Vec::new();
        let Ok(mut file) = std::fs::File::open(path) else { return lines };
        let Ok(len) = file.metadata().map(|m| m.len()) else { return lines };
        let offset = match self.offset {
            None => {
                let start = len.saturating_sub(limits::TAIL_BYTES);
                self.skip_to_line = start > 0;
                start
            }
            Some(offset) if offset > len => {
                lines.push("---- the log file started over".to_string());
                self.partial.clear();
                0
            }
            Some(offset) if len - offset > limits::MAX_BEHIND => {
                let start = len - limits::TAIL_BYTES;
                lines.push(format!("---- {} bytes of output skipped (this page fell behind)", start - offset));
                self.partial.clear();
                self.skip_to_line = true;
                start
            }
            Some(offset) => offset,
        };
        let mut chunk = Vec::new();
        if file.seek(SeekFrom::Start(offset)).is_err() || file.take(limits::MAX_READ).read_to_end(&mut chunk).is_err() {
            return lines;
        }
        self.offset = Some(offset + chunk.len() as u64);
        let mut rest: &[u8] = &chunk;
        if self.skip_to_line {
            match rest.iter().position(|&b| b == b'\n') {
                Some(end) => {
                    rest = &rest[end + 1..];
                    self.skip_to_line = false;
                }
                None => return lines,
            }
        }
        self.partial.extend_from_slice(rest);
        let mut start = 0;
        while let Some(end) = self.partial[start..].iter().position(|&b| b == b'\n') {
            lines.push(line_text(&self.partial[start..start + end]));
            start += end + 1;
        }
        self.partial.drain(..start);
        if self.partial.len() > limits::MAX_LINE {
            lines.push(line_text(&self.partial));
            self.partial.clear();
        }
        lines
    }
}

/// A line for an event: lossy UTF-8, without carriage returns (an event's data ends at one).
fn line_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\r', "")
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn the_tail_then_what_is_appended() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.log");
        let mut tail = Tail::default();
        assert!(tail.read_new(&path).is_empty(), "no file yet");
        std::fs::write(&path, "one\ntwo\nthr").expect("written");
        assert_eq!(tail.read_new(&path), ["one", "two"]);
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).expect("opened");
        file.write_all(b"ee\r\nfour\n").expect("written");
        assert_eq!(tail.read_new(&path), ["three", "four"]);
        assert!(tail.read_new(&path).is_empty());
        std::fs::write(&path, "new\n").expect("written");
        assert_eq!(tail.read_new(&path), ["---- the log file started over", "new"]);
        assert_eq!(events(&["a".into(), "b".into()]), "data: a\n\ndata: b\n\n");
    }

    #[test]
    fn a_long_file_starts_at_its_tail_and_a_late_reader_skips() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.log");
        let line = "x".repeat(99);
        let lines = (limits::TAIL_BYTES / 100) as usize * 3;
        std::fs::write(&path, format!("{line}\n").repeat(lines)).expect("written");
        let mut tail = Tail::default();
        let first = tail.read_new(&path);
        assert!(first.len() as u64 <= limits::TAIL_BYTES / 100 && first.len() > 10, "{}", first.len());
        assert!(first.iter().all(|l| *l == line), "whole lines only");
        let behind = (limits::MAX_BEHIND / 100) as usize + 10;
        let mut file = std::fs::OpenOptions::new().append(true).open(&path).expect("opened");
        file.write_all(format!("{line}\n").repeat(behind).as_bytes()).expect("written");
        let next = tail.read_new(&path);
        assert!(next[0].starts_with("---- ") && next[0].ends_with("skipped (this page fell behind)"), "{}", next[0]);
        assert!(next[1..].iter().all(|l| *l == line));
    }
}
