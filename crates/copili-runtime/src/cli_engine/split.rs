//! Cutting what a pipe brings into batches of whole lines ([`LogLines`]): a read of up to
//! [`READ_CHUNK`] bytes becomes one batch of all the lines it completes, one allocation,
//! however many lines it holds. The part of a line not yet ended waits for the next read; a
//! line longer than [`MAX_LINE_BYTES`] is handed on in pieces, so that memory stays bounded
//! whatever a container writes.

use crate::engine::{LogLines, LogStream, MAX_LINE_BYTES};

/// The most one read of a pipe takes (a pipe's buffer holds 64 KiB on Linux).
pub(super) const READ_CHUNK: usize = 64 * 1024;

/// The lines of one stream, as its reads come.
pub(super) struct LineSplitter {
    stream: LogStream,
    max_line: usize,
    /// Bytes read and not yet handed on: the start of a line without its end (at most
    /// `max_line` + one read). A batch takes it over as its text (valid UTF-8 is not copied
    /// again), what follows the batch's last line end moving to a new buffer.
    pending: Vec<u8>,
}

impl LineSplitter {
    pub(super) fn new(stream: LogStream) -> LineSplitter {
        LineSplitter::with_max_line(stream, MAX_LINE_BYTES)
    }

    pub(super) fn with_max_line(stream: LogStream, max_line: usize) -> LineSplitter {
        LineSplitter { stream, max_line: max_line.max(4), pending: Vec::new() }
    }

    /// Reads once from `source` into `chunk` (up to its length) and hands on the batches the
    /// read completes; the number of bytes read (0 at the end of the stream).
    ///
    /// The read goes to a buffer of the caller's, zeroed once, then only what was read is
    /// copied: docker's client writes in pieces of about 8 KiB, and zeroing 64 KiB for each
    /// would cost more than the copy.
    pub(super) fn read_from(
        &mut self,
        source: &mut impl std::io::Read,
        chunk: &mut [u8],
        emit: &mut dyn FnMut(LogLines),
    ) -> std::io::Result<usize> {
        let n = source.read(chunk)?;
        self.push(&chunk[..n], emit);
        Ok(n)
    }

    /// Takes the bytes of one read; `emit` gets the batches they complete, in order.
    pub(super) fn push(&mut self, chunk: &[u8], emit: &mut dyn FnMut(LogLines)) {
        let carried = self.pending.len();
        self.pending.extend_from_slice(chunk);
        self.split(carried, emit);
    }

    /// Hands on what the bytes after `carried` complete.
    fn split(&mut self, carried: usize, emit: &mut dyn FnMut(LogLines)) {
        // Only the line carried over from before can be a new line end away from the start:
        // the search for the first line end starts at the new bytes.
        let mut first_end = memchr::memchr(b'\n', &self.pending[carried..]).map(|at| carried + at);
        // A line over the limit goes in pieces. Only the carried line can be over it: a line
        // that starts in this read is at most one read long.
        while first_end.unwrap_or(self.pending.len()) > self.max_line {
            let cut = char_boundary_at_most(&self.pending, self.max_line);
            emit(self.batch(cut, true));
            first_end = first_end.map(|end| end - cut);
        }
        if first_end.is_some() {
            if let Some(last_end) = memchr::memrchr(b'\n', &self.pending) {
                emit(self.batch(last_end + 1, false));
            }
        }
    }

    /// The stream ended: a last line without a line end is handed on.
    pub(super) fn finish(&mut self, emit: &mut dyn FnMut(LogLines)) {
        if !self.pending.is_empty() {
            let len = self.pending.len();
            emit(self.batch(len, false));
        }
    }

    /// The first `len` bytes of `pending` as a batch (a line end added when missing), taken
    /// out of `pending`: the batch keeps the buffer, the rest moves to a new one.
    fn batch(&mut self, len: usize, split: bool) -> LogLines {
        let rest = &self.pending[len..];
        // A line being cut in pieces will need room for the next piece.
        let room = if split { self.max_line + READ_CHUNK } else { READ_CHUNK };
        let mut next = Vec::with_capacity(room.max(rest.len() + READ_CHUNK));
        next.extend_from_slice(rest);
        let mut bytes = std::mem::replace(&mut self.pending, next);
        bytes.truncate(len);
        let mut text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(invalid) => String::from_utf8_lossy(invalid.as_bytes()).into_owned(),
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        if memchr::memchr(b'\r', text.as_bytes()).is_some() {
            text = without_carriage_returns_at_line_ends(&text);
        }
        LogLines { stream: self.stream, text, split }
    }
}

/// The largest index ≤ `at` (and > 0) where a UTF-8 character starts in `bytes`: a cut there
/// leaves no character in halves (bytes that are not UTF-8 at all are cut anywhere).
fn char_boundary_at_most(bytes: &[u8], at: usize) -> usize {
    let is_continuation = |b: u8| b & 0b1100_0000 == 0b1000_0000;
    let mut cut = at;
    // A character is at most 4 bytes: at most 3 continuation bytes to step back over.
    while cut > at.saturating_sub(3) && cut > 1 && is_continuation(bytes[cut]) {
        cut -= 1;
    }
    if is_continuation(bytes[cut]) {
        at
    } else {
        cut
    }
}

/// Each line's trailing `\r`s dropped (`\r\n` line ends, as the engine's output had before).
fn without_carriage_returns_at_line_ends(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_terminator('\n') {
        out.push_str(line.trim_end_matches('\r'));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The batches of the reads `chunks`, as (text, split).
    fn batches(max_line: usize, chunks: &[&[u8]]) -> Vec<(String, bool)> {
        let mut splitter = LineSplitter::with_max_line(LogStream::Stdout, max_line);
        let mut out = Vec::new();
        let mut emit = |batch: LogLines| out.push((batch.text, batch.split));
        for chunk in chunks {
            splitter.push(chunk, &mut emit);
        }
        splitter.finish(&mut emit);
        out
    }

    fn text(batches: &[(String, bool)]) -> String {
        batches.iter().map(|(text, _)| text.as_str()).collect()
    }

    #[test]
    fn one_batch_per_read_of_all_the_lines_it_completes() {
        let got = batches(100, &[b"a\nb\nc", b"d\ne\n", b"f\n"]);
        assert_eq!(got, [("a\nb\n".into(), false), ("cd\ne\n".into(), false), ("f\n".into(), false)]);
    }

    #[test]
    fn a_line_across_several_reads_comes_whole() {
        let got = batches(100, &[b"hel", b"lo", b" world", b"\nnext\n"]);
        assert_eq!(got, [("hello world\nnext\n".into(), false)]);
    }

    #[test]
    fn a_last_line_without_a_line_end_is_delivered() {
        assert_eq!(batches(100, &[b"one\ntwo"]), [("one\n".into(), false), ("two\n".into(), false)]);
        assert_eq!(batches(100, &[]), Vec::<(String, bool)>::new());
        assert_eq!(batches(100, &[b"\n\n"]), [("\n\n".into(), false)]);
    }

    #[test]
    fn carriage_returns_before_line_ends_are_dropped() {
        assert_eq!(text(&batches(100, &[b"a\r\nb\r", b"\nc\r\r\nd\re\n"])), "a\nb\nc\nd\re\n");
        // A `\r\n` cut between two reads.
        assert_eq!(text(&batches(100, &[b"x\r", b"\ny"])), "x\ny\n");
    }

    #[test]
    fn bytes_that_are_not_utf8_are_replaced_and_the_stream_goes_on() {
        let got = batches(100, &[b"ok\n\xff\xfebad\n", b"after\n"]);
        assert_eq!(text(&got), "ok\n\u{fffd}\u{fffd}bad\nafter\n");
        // A character cut between two reads is whole again.
        let euro = "€".as_bytes();
        assert_eq!(text(&batches(100, &[&euro[..1], &euro[1..], b"\n"])), "€\n");
    }

    #[test]
    fn a_line_over_the_limit_comes_in_pieces_cut_at_character_boundaries() {
        // 10-byte limit; `é` is 2 bytes: a cut never halves one.
        let line = "abcdefghé€xyzé".repeat(3);
        let got = batches(10, &[line.as_bytes(), b"\nshort\n"]);
        let all = text(&got);
        assert!(all.lines().all(|piece| piece.len() <= 10), "{got:?}");
        assert_eq!(all.replace('\n', ""), format!("{line}short"));
        // Every piece but the last is marked; the last ends the line, with the next line.
        assert!(got[..got.len() - 1].iter().all(|(_, split)| *split), "{got:?}");
        assert_eq!(got.last(), Some(&("€xyzé\nshort\n".to_string(), false)));
    }

    #[test]
    fn a_long_line_without_an_end_is_never_held_whole() {
        let mut splitter = LineSplitter::with_max_line(LogStream::Stderr, 1000);
        let mut pieces = 0;
        for _ in 0..500 {
            splitter.push(&[b'x'; 300], &mut |batch| {
                assert!(batch.split && batch.text.len() == 1001 && batch.stream == LogStream::Stderr);
                pieces += 1;
            });
            assert!(splitter.pending.len() <= 1000 + 300);
        }
        // 150 000 bytes: 149 pieces cut, the last 1000 bytes wait for more (not over the limit).
        assert_eq!(pieces, 149);
        let mut last = Vec::new();
        splitter.finish(&mut |batch| last.push(batch));
        assert_eq!(last.len(), 1);
        assert!(!last[0].split && last[0].text.len() == 1001);
    }

    #[test]
    fn a_cut_in_bytes_that_are_not_utf8_still_cuts() {
        let got = batches(4, &[&[0x80; 10]]);
        assert!(got.iter().all(|(text, _)| text.chars().all(|c| c == '\u{fffd}' || c == '\n')), "{got:?}");
        assert_eq!(got.iter().map(|(text, _)| text.matches('\u{fffd}').count()).sum::<usize>(), 10);
    }

    #[test]
    fn reads_from_a_source_a_chunk_at_a_time() {
        let input = "a line\n".repeat(20_000);
        let mut source = input.as_bytes();
        let mut splitter = LineSplitter::new(LogStream::Stdout);
        let mut batches = Vec::new();
        let mut chunk = vec![0; READ_CHUNK];
        while splitter.read_from(&mut source, &mut chunk, &mut |batch| batches.push(batch)).expect("a slice reads") > 0
        {
        }
        splitter.finish(&mut |batch| batches.push(batch));
        assert_eq!(batches.iter().map(|b| b.text.as_str()).collect::<String>(), input);
        // 140,000 bytes: three reads, each batch at most one read.
        assert!(batches.len() >= 3 && batches.iter().all(|b| b.text.len() <= READ_CHUNK), "{}", batches.len());
    }

    #[test]
    fn the_lines_of_a_batch() {
        let batch = LogLines::line(LogStream::Stdout, "one");
        assert_eq!(batch.lines().collect::<Vec<_>>(), ["one"]);
        let batch = LogLines { text: "a\n\nb\n".into(), ..batch };
        assert_eq!(batch.lines().collect::<Vec<_>>(), ["a", "", "b"]);
    }
}
