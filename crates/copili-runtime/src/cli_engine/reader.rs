//! Reading one pipe of a client: its bytes cut into batches of lines ([`LineSplitter`]) and
//! handed on as they come, read in full buffers when the client writes fast.

use std::io::PipeReader;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::engine::{LogLines, LogStream};

use super::split::{LineSplitter, READ_CHUNK};

/// The read buffer a stream starts with, before its output shows it needs [`READ_CHUNK`].
const FIRST_CHUNK: usize = 8 * 1024;

/// How long a reader waits after a read that did not fill its buffer before it reads again.
/// A client writing fast then has its output read in full buffers: docker's client writes
/// 8 KiB at a time, and a reader that wakes for each write (and wakes the thread it hands the
/// batch to) costs more context switches than the copying — 50 MB in one line through docker:
/// 18,000 context switches of copili and its client without the wait, 11,000 with it, and by
/// hand, alternating, 6 runs: podman 100 MB of 1000-byte lines at 0.868 × the raw engine's
/// throughput without, 0.934 with. A quiet container's line arrives at most this much later.
const SETTLE: Duration = Duration::from_millis(1);

/// Sends the lines read from `source` as batches of `stream` ([`LineSplitter`]), as soon as
/// they are read, until the source ends or nobody listens. Bytes that are not UTF-8 are
/// replaced, never the end of the stream. After a read that did not fill the buffer, the
/// next waits [`SETTLE`]. When a read first fills the starting buffer (the stream is busy), `busy`
/// is called, once, and what it returns is kept to the end of the stream.
pub(super) fn send_lines<T>(
    mut source: impl std::io::Read,
    stream: LogStream,
    tx: &std::sync::mpsc::SyncSender<LogLines>,
    busy: impl FnOnce() -> T,
) {
    let mut busy = Some(busy);
    let mut _kept: Option<T> = None;
    let mut splitter = LineSplitter::new(stream);
    // A quiet stream keeps a small buffer (a sleeping loader's pipes cost 2 × 8 KiB, not
    // 2 × 64 KiB, of copili's memory); one whose read fills it gets the full read size.
    let mut chunk = vec![0; FIRST_CHUNK];
    let listening = std::cell::Cell::new(true);
    let mut send = |batch: LogLines| {
        if listening.get() && tx.send(batch).is_err() {
            listening.set(false);
        }
    };
    loop {
        match splitter.read_from(&mut source, &mut chunk, &mut send) {
            Ok(0) => break,
            Ok(n) if n == chunk.len() && n < READ_CHUNK => {
                chunk.resize(READ_CHUNK, 0);
                if let Some(busy) = busy.take() {
                    _kept = Some(busy());
                }
            }
            Ok(n) if n < chunk.len() => std::thread::sleep(SETTLE),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // A pipe that fails ends like one that ended; the client's status is read from its
            // handle afterwards.
            Err(_) => break,
        }
        if !listening.get() {
            return;
        }
    }
    splitter.finish(&mut send);
}

/// How much a busy stream's pipe holds (Linux gives 64 KiB; an unprivileged process may ask
/// for up to `/proc/sys/fs/pipe-max-size`, 1 MiB by default). While its reader waits
/// [`SETTLE`], a client writing at 200 MB/s (podman does, in pieces of 64 KiB and more) writes
/// 200 KB: a pipe of 64 KiB would stop it; this one lets it go on.
const BUSY_PIPE_BYTES: usize = 256 * 1024;

/// How many pipes copili keeps widened at once. The kernel gives each user a budget of pipe
/// memory (`/proc/sys/fs/pipe-user-pages-soft`, 64 MiB by default) past which an unprivileged
/// user's new pipes get 8 KiB: a rootless run of hundreds of chatty containers must not use it
/// up, for its own clients' pipes nor for anyone else's. 64 × 256 KiB is a quarter of it.
const WIDENED_PIPES: usize = 64;

/// The pipes widened now, all streams of all clients together.
static WIDENED: AtomicUsize = AtomicUsize::new(0);

/// A widened pipe's place in [`WIDENED_PIPES`], given back when dropped (the pipe is done).
pub(super) struct Widened<'a>(&'a AtomicUsize);

impl Drop for Widened<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Widens the pipe read by `reader` to [`BUSY_PIPE_BYTES`] if fewer than [`WIDENED_PIPES`] are;
/// a pipe that is not widened (too many are, or the kernel refused) keeps its size.
pub(super) fn widen(reader: &PipeReader) -> Option<Widened<'static>> {
    widen_within(reader, &WIDENED, WIDENED_PIPES)
}

fn widen_within<'a>(reader: &PipeReader, widened: &'a AtomicUsize, most: usize) -> Option<Widened<'a>> {
    widened.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < most).then_some(n + 1)).ok()?;
    let place = Widened(widened);
    #[cfg(target_os = "linux")]
    let done = rustix::pipe::fcntl_setpipe_size(reader, BUSY_PIPE_BYTES).is_ok();
    #[cfg(not(target_os = "linux"))]
    let done = {
        let _ = reader;
        false
    };
    done.then_some(place)
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::time::Instant;

    use super::*;

    /// A source that gives its bytes in the pieces listed, noting when each read was asked for.
    struct Pieces {
        pieces: VecDeque<Vec<u8>>,
        asked: Vec<Instant>,
    }

    impl std::io::Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.asked.push(Instant::now());
            let Some(mut piece) = self.pieces.pop_front() else { return Ok(0) };
            let n = piece.len().min(buf.len());
            buf[..n].copy_from_slice(&piece[..n]);
            if n < piece.len() {
                self.pieces.push_front(piece.split_off(n));
            }
            Ok(n)
        }
    }

    /// Every line arrives, in order; a read that did not fill the buffer is followed by a wait
    /// of [`SETTLE`] before the next, a full one by none (the buffer grows instead).
    #[test]
    fn a_short_read_lets_the_pipe_fill_before_the_next() {
        let full: Vec<u8> = b"0123456\n".repeat(FIRST_CHUNK / 8);
        let pieces = [full.clone(), b"one\n".to_vec(), b"two\nthr".to_vec(), b"ee\n".to_vec()];
        let mut source = Pieces { pieces: pieces.into_iter().collect(), asked: Vec::new() };
        let (tx, rx) = std::sync::mpsc::sync_channel(16);
        let mut busy_calls = 0;
        send_lines(&mut source, LogStream::Stdout, &tx, || busy_calls += 1);
        assert_eq!(busy_calls, 1, "the first piece filled the buffer");
        drop(tx);
        let text: String = rx.iter().map(|batch| batch.text).collect();
        assert_eq!(text, format!("{}one\ntwo\nthree\n", String::from_utf8(full).expect("text")));
        let asked = &source.asked;
        assert_eq!(asked.len(), 5, "four pieces and the end");
        for (i, gap) in asked.windows(2).map(|w| w[1] - w[0]).enumerate().skip(1) {
            assert!(gap >= SETTLE, "read {i} was short and the next came after {gap:?}");
        }
    }

    /// A busy pipe is widened while fewer than the most are, and its place is given back when
    /// it is done.
    #[cfg(target_os = "linux")]
    #[test]
    fn busy_pipes_are_widened_up_to_the_most_at_once() {
        let pipes: Vec<_> = (0..3).map(|_| std::io::pipe().expect("a pipe")).collect();
        let made = rustix::pipe::fcntl_getpipe_size(&pipes[2].0).expect("its size");
        let widened = AtomicUsize::new(0);
        let first = widen_within(&pipes[0].0, &widened, 2).expect("widened");
        let second = widen_within(&pipes[1].0, &widened, 2).expect("widened");
        assert!(widen_within(&pipes[2].0, &widened, 2).is_none(), "two are the most");
        let size = |i: usize| rustix::pipe::fcntl_getpipe_size(&pipes[i].0).expect("its size");
        assert_eq!((size(0), size(1)), (BUSY_PIPE_BYTES, BUSY_PIPE_BYTES));
        assert_eq!(size(2), made, "left as the kernel made it");
        drop(first);
        assert_eq!(widened.load(Ordering::SeqCst), 1);
        let third = widen_within(&pipes[2].0, &widened, 2);
        assert!(third.is_some(), "a place was given back");
        drop((second, third));
        assert_eq!(widened.load(Ordering::SeqCst), 0);
    }
}
