//! The dashboard's URLs, parsed from a request's path (hyper has parsed the request itself):
//! each segment is percent-decoded, then must be a safe name (`[A-Za-z0-9_.-]`, not `.` or
//! `..`, at most [`MAX_SEGMENT`] bytes); anything else is refused before any file is looked at.
//!
//! | path | what |
//! |---|---|
//! | `/` | the page |
//! | `/api/overview` | every pipeline, as JSON ([`crate::ui::catalog::Overview`]) |
//! | `/metrics` | every pipeline's metrics, Prometheus text format ([`crate::report::metrics`]) |
//! | `/runs/<dir>/<name>/<run-id>` | a run's report |
//! | `/logs/<dir>/<name>/<container>` | a container's log, as server-sent events |

use percent_encoding::percent_decode_str;

/// The longest path segment accepted.
pub const MAX_SEGMENT: usize = 200;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The page.
    Index,
    /// The overview document.
    Overview,
    /// The metrics of every pipeline, in Prometheus' text format.
    Metrics,
    /// A run's report: pipeline `name` of state directory `dir`, run `run_id`.
    Report {
        /// The state directory's index.
        dir: usize,
        /// The state file's name without `.json`.
        name: String,
        /// The run.
        run_id: String,
    },
    /// A container's live log.
    Log {
        /// The state directory's index.
        dir: usize,
        /// The state file's name without `.json`.
        name: String,
        /// The container.
        container: String,
    },
}

/// Why a path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such page (404).
    NotFound,
    /// A segment that is not a safe name: traversal, a slash or NUL encoded, not UTF-8 (400).
    BadPath,
}

/// Whether `segment` is a safe name: `[A-Za-z0-9_.-]+`, not starting with `.`, at most
/// [`MAX_SEGMENT`] bytes. So it is one path component, never `.` or `..`, never absolute.
pub fn is_safe_segment(segment: &str) -> bool {
    !segment.is_empty()
        && segment.len() <= MAX_SEGMENT
        && !segment.starts_with('.')
        && segment.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// The route of a request's path (without the query).
pub fn route(path: &str) -> Result<Route, Refused> {
    if path == "/" {
        return Ok(Route::Index);
    }
    let Some(rest) = path.strip_prefix('/') else { return Err(Refused::BadPath) };
    let mut segments = Vec::new();
    for raw in rest.split('/') {
        let decoded = percent_decode_str(raw).decode_utf8().map_err(|_| Refused::BadPath)?;
        if !is_safe_segment(&decoded) {
            return Err(Refused::BadPath);
        }
        segments.push(decoded.into_owned());
    }
    let index = |text: &str| text.parse::<usize>().map_err(|_| Refused::NotFound);
    match segments.as_slice() {
        [api, overview] if api == "api" && overview == "overview" => Ok(Route::Overview),
        [metrics] if metrics == "metrics" => Ok(Route::Metrics),
        [runs, dir, name, run_id] if runs == "runs" => {
            Ok(Route::Report { dir: index(dir)?, name: name.clone(), run_id: run_id.clone() })
        }
        [logs, dir, name, container] if logs == "logs" => {
            Ok(Route::Log { dir: index(dir)?, name: name.clone(), container: container.clone() })
        }
        _ => Err(Refused::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        assert_eq!(route("/"), Ok(Route::Index));
        assert_eq!(route("/api/overview"), Ok(Route::Overview));
        assert_eq!(route("/metrics"), Ok(Route::Metrics));
        assert_eq!(
            route("/runs/0/nightly/20261125T120000-42-2"),
            Ok(Route::Report { dir: 0, name: "nightly".into(), run_id: "20261125T120000-42-2".into() })
        );
        assert_eq!(
            route("/logs/1/nightly/load_genes.v2"),
            Ok(Route::Log { dir: 1, name: "nightly".into(), container: "load_genes.v2".into() })
        );
        // Percent-encoded safe names are decoded.
        assert_eq!(route("/api/%6Fverview"), Ok(Route::Overview));
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in
            ["/api", "/api/overview/x", "/favicon.ico", "/logs/0/p", "/logs/x/p/c", "/runs/0/p/r/x", "/index.html"]
        {
            assert_eq!(route(path), Err(Refused::NotFound), "{path}");
        }
    }

    #[test]
    fn traversal_and_odd_segments_are_refused() {
        for path in [
            "/../../etc/passwd",
            "/logs/0/p/..",
            "/logs/0/p/%2e%2e",
            "/logs/0/p/%2E%2E%2Fetc%2Fpasswd",
            "/logs/0/p/..%2fsecret",
            "/logs/0/p/%2fetc%2fpasswd",
            "/logs/0/p/.hidden",
            "/logs/0/p/a%00b",
            "/logs/0/p/%ff",
            "/logs/0/p/a b",
            "/logs/0//c",
            "//etc/passwd",
            "/api/",
            "etc/passwd",
            "",
        ] {
            assert_eq!(route(path), Err(Refused::BadPath), "{path}");
        }
        let long = format!("/logs/0/p/{}", "a".repeat(MAX_SEGMENT + 1));
        assert_eq!(route(&long), Err(Refused::BadPath));
    }

    #[test]
    fn safe_segments() {
        assert!(is_safe_segment("load_genes-2.v1"));
        for bad in ["", ".", "..", ".x", "a/b", "/abs", "a\\b", "ä", "a\0"] {
            assert!(!is_safe_segment(bad), "{bad:?}");
        }
    }
}
