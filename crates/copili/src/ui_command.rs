//! `copili ui`, and the dashboard of `copili service --ui`: the token from the options, the
//! address checked and bound, then [`copili::ui::Dashboard`] serves until SIGTERM or Ctrl-C
//! (`ui`) or until service mode stops.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use copili::exit_code;
use copili::ui::{Dashboard, DashboardConfig};

use crate::cli::TokenArgs;
use crate::error::CliError;
use crate::output::{errln, outln};

/// The token `--token`, `COPILI_UI_TOKEN` or `--token-file` gives (the file's first line).
pub(crate) fn token(args: &TokenArgs) -> Result<Option<String>, CliError> {
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CliError::Usage(format!("--token-file {}: {e}", path.display())))?;
        let token = text.lines().next().unwrap_or("").trim().to_string();
        if token.is_empty() {
            return Err(CliError::Usage(format!("--token-file {}: the file holds no token", path.display())));
        }
        return Ok(Some(token));
    }
    Ok(args.token.clone())
}

/// Binds the dashboard of `state_dirs` on `listen` (refusing a non-loopback address without a
/// token), saying where it is.
pub(crate) fn bind(listen: SocketAddr, state_dirs: Vec<PathBuf>, token: Option<String>) -> Result<Dashboard, CliError> {
    let with_token = token.is_some();
    let dirs: Vec<String> = state_dirs.iter().map(|d| d.display().to_string()).collect();
    let dashboard = Dashboard::bind(listen, DashboardConfig { state_dirs, token }).map_err(CliError::Ui)?;
    let addr = dashboard.local_addr().unwrap_or(listen);
    let how = if with_token { " (open /?token=TOKEN once, or send Authorization: Bearer TOKEN)" } else { "" };
    outln!("=== dashboard of {} on http://{addr}/{how}", dirs.join(", "));
    Ok(dashboard)
}

/// `copili ui`.
pub fn ui(state_dirs: &[PathBuf], listen: SocketAddr, token_args: &TokenArgs) -> Result<i32, CliError> {
    let token = token(token_args)?;
    let dirs = if state_dirs.is_empty() { vec![PathBuf::from(".copili")] } else { state_dirs.to_vec() };
    for dir in &dirs {
        if !dir.is_dir() {
            errln!("warning: {}: no such directory (yet): its pipelines appear once it is there", dir.display());
        }
    }
    let dashboard = bind(listen, dirs, token)?;
    let stop = Arc::new(AtomicBool::new(false));
    let signals = watch_stop_signals(&stop)?;
    let served = dashboard.serve(Arc::clone(&stop));
    signals.close();
    served.map_err(CliError::Ui)?;
    Ok(exit_code::SUCCESS)
}

/// The dashboard of a running service, served on a thread of its own until [`Background::stop`].
pub(crate) struct Background {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Background {
    /// Serves `dashboard` on a thread.
    pub(crate) fn start(dashboard: Dashboard) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            if let Err(e) = dashboard.serve(flag) {
                errln!("warning: the dashboard stopped: {}", crate::error::chain(&e));
            }
        });
        Background { stop, thread }
    }

    /// Stops serving and waits for the thread.
    pub(crate) fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

/// SIGTERM and SIGINT stop the dashboard.
fn watch_stop_signals(stop: &Arc<AtomicBool>) -> Result<signal_hook::iterator::Handle, CliError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map_err(CliError::Signals)?;
    let handle = signals.handle();
    let stop = Arc::clone(stop);
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            stop.store(true, Ordering::SeqCst);
        }
    });
    Ok(handle)
}
