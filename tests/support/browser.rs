//! A real browser for the tests of what copili shows a person (the HTML report, the live
//! dashboard): Debian's Chromium, headless, driven over the DevTools protocol by the
//! `headless_chrome` crate (a synchronous client; its default features are off, so it never
//! downloads a browser of its own).
//!
//! A missing Chromium is a failure, never a skip: `cargo xtask setup` installs it.
//!
//! [`Browser::launch_offline`] refuses every network request three ways (host names resolve to
//! nothing, every request goes to a proxy on a closed port, and the page's network is emulated
//! offline), and every page records the requests it attempted ([`Page::network_requests`]) so a
//! test can assert that a page asked for nothing beyond its own file.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::types::Event;
use headless_chrome::protocol::cdp::{Network, Page as Cdp, Runtime};
use headless_chrome::{LaunchOptions, Tab};

use crate::binary::repo_root;

/// Where `cargo xtask setup` puts Debian's Chromium.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// The window's size, in CSS pixels: a laptop screen.
const WINDOW: (u32, u32) = (1280, 900);

/// A headless Chromium, closed when dropped.
pub struct Browser {
    inner: headless_chrome::Browser,
    offline: bool,
}

/// One tab showing one page.
pub struct Page {
    tab: Arc<Tab>,
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Browser {
    /// Starts Chromium with the network as the machine has it (loopback for the dashboard).
    ///
    /// Panics if Chromium is missing or does not start.
    pub fn launch() -> Browser {
        Self::start(false)
    }

    /// Starts Chromium with every network request refused: what a person on an air-gapped
    /// server has. Pages opened in it also record what they tried ([`Page::network_requests`]).
    pub fn launch_offline() -> Browser {
        Self::start(true)
    }

    fn start(offline: bool) -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "Chromium is missing at {CHROMIUM}: `cargo xtask setup` installs Debian's chromium package"
        );
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("--disable-gpu"),
            OsStr::new("--disable-dev-shm-usage"),
            OsStr::new("--no-first-run"),
            OsStr::new("--no-default-browser-check"),
            OsStr::new("--disable-background-networking"),
            OsStr::new("--disable-component-update"),
            OsStr::new("--disable-sync"),
            OsStr::new("--hide-scrollbars"),
            OsStr::new("--force-color-profile=srgb"),
        ];
        if offline {
            args.push(OsStr::new("--host-resolver-rules=MAP * ~NOTFOUND"));
            args.push(OsStr::new("--proxy-server=127.0.0.1:9"));
            args.push(OsStr::new("--proxy-bypass-list=<-loopback>"));
        }
        let options = LaunchOptions {
            headless: true,
            // The tests run as root, where Chromium's sandbox refuses to start.
            sandbox: false,
            path: Some(PathBuf::from(CHROMIUM)),
            window_size: Some(WINDOW),
            idle_browser_timeout: Duration::from_secs(600),
            args,
            ..LaunchOptions::default()
        };
        let inner = headless_chrome::Browser::new(options)
            .unwrap_or_else(|error| panic!("Chromium ({CHROMIUM}) did not start: {error:#}"));
        Browser { inner, offline }
    }

    /// Opens `url` (`file://…`, `http://127.0.0.1:…`) in a new tab and waits for it to load.
    pub fn open(&self, url: &str) -> Page {
        let tab = self.inner.new_tab().unwrap_or_else(|error| panic!("open a tab for {url}: {error:#}"));
        tab.set_default_timeout(Duration::from_secs(30));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        tab.call_method(Network::Enable {
            max_total_buffer_size: None,
            max_resource_buffer_size: None,
            max_post_data_size: None,
            report_direct_socket_traffic: None,
            enable_durable_messages: None,
        })
        .unwrap_or_else(|error| panic!("enable the network events for {url}: {error:#}"));
        tab.add_event_listener(Arc::new(move |event: &Event| {
            if let Event::NetworkRequestWillBeSent(sent) = event {
                if let Ok(mut seen) = seen.lock() {
                    seen.push(sent.params.request.url.clone());
                }
            }
        }))
        .unwrap_or_else(|error| panic!("listen to the network events for {url}: {error:#}"));
        if self.offline {
            tab.call_method(Network::EmulateNetworkConditions {
                offline: true,
                latency: 0.0,
                download_throughput: -1.0,
                upload_throughput: -1.0,
                connection_Type: None,
                packet_loss: None,
                packet_queue_length: None,
                packet_reordering: None,
            })
            .unwrap_or_else(|error| panic!("take {url}'s tab offline: {error:#}"));
        }
        tab.navigate_to(url)
            .and_then(|tab| tab.wait_until_navigated())
            .unwrap_or_else(|error| panic!("load {url}: {error:#}"));
        Page { tab, url: url.to_string(), requests }
    }
}

impl Page {
    /// The address the page was opened at.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Waits until an element matches `css_selector`; panics after `timeout`.
    pub fn wait_for(&self, css_selector: &str, timeout: Duration) -> &Page {
        let script = format!("document.querySelector({}) !== null", js_string(css_selector));
        let start = Instant::now();
        loop {
            if self.eval(&script) == serde_json::Value::Bool(true) {
                return self;
            }
            assert!(start.elapsed() < timeout, "no element matches {css_selector:?} on {} after {timeout:?}", self.url);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The text a person sees in each element matching `css_selector`, in document order: its
    /// `innerText` (rendered text: nothing of a closed `<details>` beyond its summary, nothing
    /// hidden by CSS), or its `textContent` for elements without one (SVG).
    pub fn texts(&self, css_selector: &str) -> Vec<String> {
        let script = format!(
            "Array.from(document.querySelectorAll({})).map(e => e.innerText ?? e.textContent ?? '')",
            js_string(css_selector)
        );
        match self.eval(&script) {
            serde_json::Value::Array(values) => {
                values.into_iter().map(|value| value.as_str().unwrap_or_default().to_string()).collect()
            }
            other => panic!("texts({css_selector:?}) on {}: not a list: {other}", self.url),
        }
    }

    /// Evaluates `js` in the page (promises awaited) and returns its value as JSON (`null` for
    /// `undefined`). Panics, with the message, if the script throws.
    pub fn eval(&self, js: &str) -> serde_json::Value {
        let evaluated = self
            .tab
            .call_method(Runtime::Evaluate {
                expression: js.to_string(),
                object_group: None,
                include_command_line_api: None,
                silent: Some(false),
                context_id: None,
                return_by_value: Some(true),
                generate_preview: None,
                user_gesture: None,
                await_promise: Some(true),
                throw_on_side_effect: None,
                timeout: None,
                disable_breaks: None,
                repl_mode: None,
                allow_unsafe_eval_blocked_by_csp: Some(true),
                unique_context_id: None,
                serialization_options: None,
            })
            .unwrap_or_else(|error| panic!("evaluate {js:?} on {}: {error:#}", self.url));
        if let Some(details) = evaluated.exception_details {
            let message = details.exception.and_then(|exception| exception.description).unwrap_or(details.text);
            panic!("{js:?} threw on {}: {message}", self.url);
        }
        evaluated.result.value.unwrap_or(serde_json::Value::Null)
    }

    /// Saves a PNG of the whole page (beyond the window, to its full scroll size) at `path`.
    pub fn screenshot(&self, path: &Path) {
        let size = self.eval(
            "[Math.max(document.documentElement.scrollWidth, document.body ? document.body.scrollWidth : 0), \
              Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)]",
        );
        let dimension = |index: usize| size.get(index).and_then(serde_json::Value::as_f64).unwrap_or(0.0).max(1.0);
        let clip = Cdp::Viewport { x: 0.0, y: 0.0, width: dimension(0), height: dimension(1), scale: 1.0 };
        let data = self
            .tab
            .call_method(Cdp::CaptureScreenshot {
                format: Some(Cdp::CaptureScreenshotFormatOption::Png),
                quality: None,
                clip: Some(clip),
                from_surface: Some(true),
                capture_beyond_viewport: Some(true),
                optimize_for_speed: None,
            })
            .unwrap_or_else(|error| panic!("screenshot of {}: {error:#}", self.url))
            .data;
        use base64::Engine as _;
        let png = base64::prelude::BASE64_STANDARD
            .decode(data)
            .unwrap_or_else(|error| panic!("screenshot of {}: not base64: {error}", self.url));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|error| panic!("create {}: {error}", parent.display()));
        }
        std::fs::write(path, png).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    }

    /// Every URL the page requested since it was opened (its own address first).
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().map(|requests| requests.clone()).unwrap_or_default()
    }

    /// The requests that would have left the machine's files: everything but `file:`, `data:`,
    /// `blob:` and `about:` URLs. Empty for a self-contained page.
    pub fn network_requests(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .filter(|url| !["file:", "data:", "blob:", "about:"].iter().any(|scheme| url.starts_with(scheme)))
            .collect()
    }
}

/// A path under `target/test-artifacts/` (the directory created) for what a test keeps for a
/// person to look at: screenshots, pages.
pub fn artifact_path(name: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo_root().join("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap_or_else(|error| panic!("create {}: {error}", dir.display()));
    dir.join(name)
}

/// `file://` URL of a local file.
pub fn file_url(path: &Path) -> String {
    let absolute = if path.is_absolute() { path.to_path_buf() } else { repo_root().join(path) };
    format!("file://{}", absolute.display())
}

/// `text` as a JavaScript string literal.
fn js_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}
