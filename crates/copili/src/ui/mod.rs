//! The dashboard (`copili ui`, `copili service --ui`): a read-only web page of every pipeline
//! found in some state directories — its process, its runs in flight with their containers'
//! live log (server-sent events), its next due times and its history, with each run's report.
//!
//! It reads only what runs leave on disk ([`crate::run_files`], the log files), so it works
//! the same from another process as from the service itself.
//!
//! - [`routes`]: the URLs, each path segment checked before anything is looked up;
//! - [`auth`]: the token;
//! - [`catalog`]: what is read from the state directories, and how files are found;
//! - [`sse`]: the log streams;
//! - [`pages`]: the page (HTML, CSS and script inline: it works with no network);
//! - [`reports`]: a run's report as the history links show it;
//! - `server`: hyper's HTTP/1 server on a small tokio runtime, and the [`limits`].
//!
//! Security: loopback addresses only, unless a token is given ([`check_listen`]); with a token,
//! every request without it gets 401. Only GET and HEAD. A request's head is at most
//! [`limits::MAX_HEAD_BYTES`] (hyper answers 431 past it), at most
//! [`limits::MAX_CONNECTIONS`] connections are served at once (more are closed at once) and
//! [`limits::MAX_STREAMS`] event streams (more get 503).

pub mod auth;
pub mod catalog;
pub mod pages;
pub mod reports;
pub mod routes;
mod server;
pub mod sse;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// The bounds of the server.
pub mod limits {
    use std::time::Duration;

    /// Connections served at once; more are closed as soon as accepted.
    pub const MAX_CONNECTIONS: usize = 256;
    /// Event streams (live logs) served at once; more get 503.
    pub const MAX_STREAMS: usize = 128;
    /// The most a request's head (request line and headers) may take: hyper's read buffer,
    /// past which it answers 431 (its minimum is 8 KiB).
    pub const MAX_HEAD_BYTES: usize = 16 * 1024;
    /// The most headers a request may have (hyper answers 431 past it).
    pub const MAX_HEADERS: usize = 64;
    /// How long a client has to send a request's head.
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// The tail of a log file a new stream starts with.
    pub const TAIL_BYTES: u64 = 16 * 1024;
    /// The most one read of a log file takes.
    pub const MAX_READ: u64 = 64 * 1024;
    /// How far a stream may fall behind before it skips to the tail.
    pub const MAX_BEHIND: u64 = 1024 * 1024;
    /// A line longer than this is sent in pieces.
    pub const MAX_LINE: usize = 16 * 1024;
    /// Frames waiting for one client.
    pub const STREAM_FRAMES: usize = 8;
    /// How often a log file is looked at.
    pub const POLL: Duration = Duration::from_millis(100);
    /// How long a quiet stream waits before a comment keeps it open.
    pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
    /// Pipelines listed per state directory.
    pub const MAX_PIPELINES_PER_DIR: usize = 500;
    /// Directory entries looked at per listing.
    pub const MAX_LISTED: usize = 10_000;
    /// The largest state file read.
    pub const MAX_STATE_BYTES: u64 = 16 * 1024 * 1024;
    /// The largest run report read.
    pub const MAX_REPORT_BYTES: u64 = 16 * 1024 * 1024;
}

/// What the dashboard serves, and to whom.
#[derive(Debug, Clone)]
pub struct DashboardConfig {
    /// The state directories whose pipelines it shows.
    pub state_dirs: Vec<PathBuf>,
    /// The token every request must carry; `None` on loopback only.
    pub token: Option<String>,
}

/// Why the dashboard cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// A non-loopback address without a token.
    #[error("refusing to listen on {addr} without a token: only loopback addresses (127.0.0.1, ::1) may go without; give --token-file FILE or --token TOKEN")]
    NeedsToken {
        /// The address.
        addr: SocketAddr,
    },
    /// The token is empty.
    #[error("the dashboard's token is empty")]
    EmptyToken,
    /// The address cannot be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The server's runtime could not start.
    #[error("cannot start the dashboard's server")]
    Runtime(#[source] std::io::Error),
}

/// Refuses a non-loopback address without a token, and an empty token.
pub fn check_listen(addr: SocketAddr, token: Option<&str>) -> Result<(), UiError> {
    match token {
        Some("") => Err(UiError::EmptyToken),
        Some(_) => Ok(()),
        None if addr.ip().is_loopback() => Ok(()),
        None => Err(UiError::NeedsToken { addr }),
    }
}

/// A dashboard bound to its address, not serving yet.
pub struct Dashboard {
    listener: std::net::TcpListener,
    config: DashboardConfig,
}

impl Dashboard {
    /// Checks the address and token ([`check_listen`]) and binds.
    pub fn bind(addr: SocketAddr, config: DashboardConfig) -> Result<Dashboard, UiError> {
        check_listen(addr, config.token.as_deref())?;
        let listener = std::net::TcpListener::bind(addr).map_err(|source| UiError::Bind { addr, source })?;
        listener.set_nonblocking(true).map_err(|source| UiError::Bind { addr, source })?;
        Ok(Dashboard { listener, config })
    }

    /// The address bound (the port, when 0 was asked for).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves on this thread until `stop` is set.
    pub fn serve(self, stop: Arc<AtomicBool>) -> Result<(), UiError> {
        server::serve(self.listener, self.config, stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_no_token_other_addresses_do() {
        let addr = |text: &str| text.parse::<SocketAddr>().expect("an address");
        assert!(check_listen(addr("127.0.0.1:8090"), None).is_ok());
        assert!(check_listen(addr("127.3.4.5:8090"), None).is_ok());
        assert!(check_listen(addr("[::1]:8090"), None).is_ok());
        for other in ["0.0.0.0:8090", "[::]:8090", "192.0.2.1:80"] {
            let error = check_listen(addr(other), None).expect_err("refused");
            assert!(error.to_string().starts_with(&format!("refusing to listen on {other} without a token")));
            assert!(check_listen(addr(other), Some("t")).is_ok());
        }
        assert!(matches!(check_listen(addr("0.0.0.0:1"), Some("")), Err(UiError::EmptyToken)));
    }
}
