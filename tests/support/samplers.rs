//! Every process's command line, read again and again while a test runs, looking for a secret.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Reads every process's command line (`/proc/<pid>/cmdline`, which every local user can read)
/// again and again in a thread, looking for a secret, until stopped.
#[derive(Debug)]
pub struct CmdlineSampler {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<CmdlineSamples>,
}

/// What a [`CmdlineSampler`] saw.
#[derive(Debug, Default)]
pub struct CmdlineSamples {
    /// Complete passes over `/proc`.
    pub sweeps: usize,
    /// Command lines read, all passes together.
    pub cmdlines_read: usize,
    /// Distinct command lines (arguments joined by spaces) that contained the secret.
    pub with_secret: BTreeSet<String>,
    /// Distinct command lines that contained the marker (e.g. a pipeline's name): proof that
    /// the sampler saw the processes it was meant to watch.
    pub with_marker: BTreeSet<String>,
}

impl CmdlineSampler {
    /// Starts sampling every `interval`.
    pub fn start(secret: &str, marker: &str, interval: Duration) -> CmdlineSampler {
        assert!(!secret.is_empty() && !marker.is_empty());
        let stop = Arc::new(AtomicBool::new(false));
        let (secret, marker) = (secret.as_bytes().to_vec(), marker.as_bytes().to_vec());
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let contains = |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
            let mut samples = CmdlineSamples::default();
            while !stopped.load(Ordering::SeqCst) {
                let Ok(entries) = std::fs::read_dir("/proc") else { break };
                for entry in entries.flatten() {
                    let name = entry.file_name();
                    if !name.to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
                        continue;
                    }
                    // A process may end between listing and reading: not an error.
                    let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
                    samples.cmdlines_read += 1;
                    let has_secret = contains(&cmdline, &secret);
                    let has_marker = contains(&cmdline, &marker);
                    if has_secret || has_marker {
                        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ").trim_end().to_string();
                        if has_secret {
                            samples.with_secret.insert(text.clone());
                        }
                        if has_marker {
                            samples.with_marker.insert(text);
                        }
                    }
                }
                samples.sweeps += 1;
                std::thread::sleep(interval);
            }
            samples
        });
        CmdlineSampler { stop, thread }
    }

    /// Stops sampling; what was seen.
    pub fn stop(self) -> CmdlineSamples {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("the sampler does not panic")
    }
}
