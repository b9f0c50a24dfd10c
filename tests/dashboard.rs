//! End-to-end tests of the dashboard (issue 15, item 3): `copili ui` and `copili service --ui`
//! with the real binary, on state directories made by real runs on rootful podman.
//!
//! - the page, in headless Chromium, lists the pipeline and the running container's log grows
//!   in it while the service runs (a screenshot in `target/test-artifacts/`);
//! - a non-loopback address without a token is refused (exit 2); with a token, 401 without it;
//! - bad requests (a huge header, traversal, encoded traversal, unknown paths) get a 4xx and
//!   never a file;
//! - 50 clients on one live log for 60 s all get its lines, and copili's memory stays flat;
//! - `copili service --ui` serves its own current run.
//!
//! The HTTP client here is a few lines over `std::net` on purpose: the requests it sends are
//! the malformed ones a browser would never send. Traffic goes to loopback only.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use copili_e2e::{artifact_path, run, Browser, Engine, Running, Scene, RUN_TIMEOUT};
use serde_json::Value;

/// How long a dashboard may take to start and answer.
const START: Duration = Duration::from_secs(20);

/// A pipeline whose service container `ticker` prints `tick N` every 200 ms, `ticks` times.
fn ticker_pipeline(scene: &Scene, ticks: u32) -> PathBuf {
    scene.write(
        "dash.yaml",
        &format!(
            "dash:\n  - name: prepare\n    image_repo: localhost/copili-test\n    command: sh -c 'echo prepared'\n  - name: ticker\n    image_repo: localhost/copili-test\n    is_service_container: true\n    dependencies: [prepare]\n    command: sh -c 'i=0; while [ $$i -lt {ticks} ]; do echo \"tick $$i\"; i=$$((i+1)); sleep 0.2; done'\n"
        ),
    )
}

/// `copili service` of the ticker pipeline, once an hour after its initial run.
fn service(scene: &Scene, file: &Path, extra: &[&str]) -> Running {
    let mut command = scene.command_as("service", file, &scene.identity);
    command.args(["--every", "1h", "--stop-timeout", "1s"]).args(extra);
    Running::spawn(&mut command)
}

/// Stops service mode (SIGTERM) and checks it ended well and left nothing.
fn stop_service(scene: &Scene, service: Running) {
    service.signal("TERM");
    let output = service.wait(RUN_TIMEOUT);
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    scene.assert_no_leftovers();
}

/// Waits for the `=== dashboard … on http://ADDR/` line; the address.
fn dashboard_address(process: &mut Running) -> SocketAddr {
    let index = process.wait_for_line(START, "the dashboard's address", |l| l.starts_with("=== dashboard of "));
    let line = &process.lines()[index];
    let url = line.split(" on http://").nth(1).expect("an address");
    url.split('/').next().expect("host:port").parse().expect("a socket address")
}

/// `copili ui` of `state_dir` on loopback, any free port, with `extra` options.
fn ui(state_dir: &Path, extra: &[&str]) -> (Running, SocketAddr) {
    let mut command = copili_e2e::copili();
    command.arg("ui").arg("--state-dir").arg(state_dir).args(["--listen", "127.0.0.1:0"]).args(extra);
    let mut process = Running::spawn(&mut command);
    let addr = dashboard_address(&mut process);
    (process, addr)
}

/// A response as read off the socket: status, head, body.
#[derive(Debug)]
struct Answer {
    status: u16,
    head: String,
    body: String,
}

/// Sends `request` as it is, reads the whole answer (the request asks to close).
fn raw(addr: SocketAddr, request: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a timeout");
    // A server may answer and close before it read all of a huge request.
    let _ = stream.write_all(request);
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Answer { status, head: head.to_string(), body: body.to_string() }
}

/// `GET path` with `headers`.
fn get(addr: SocketAddr, path: &str, headers: &[&str]) -> Answer {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    raw(addr, request.as_bytes())
}

/// The overview document.
fn overview(addr: SocketAddr) -> Value {
    let answer = get(addr, "/api/overview", &[]);
    assert_eq!(answer.status, 200, "{answer:?}");
    serde_json::from_str(&answer.body).expect("JSON")
}

/// The pipeline `identity` of the overview.
fn pipeline<'a>(overview: &'a Value, identity: &str) -> Option<&'a Value> {
    overview["pipelines"].as_array()?.iter().find(|p| p["identity"] == identity)
}

/// Whether the overview shows `container` running in a current run of `identity`.
fn shows_running(overview: &Value, identity: &str, container: &str) -> bool {
    pipeline(overview, identity).is_some_and(|p| {
        p["running"] == true
            && p["current_runs"].as_array().is_some_and(|runs| {
                runs.iter().any(|run| {
                    run["containers"]
                        .as_array()
                        .is_some_and(|cs| cs.iter().any(|c| c["name"] == container && c["status"] == "running"))
                })
            })
    })
}

/// Opens the event stream of a log; a reader past the response's head.
fn open_stream(addr: SocketAddr, path: &str) -> BufReader<TcpStream> {
    let stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(20))).expect("a timeout");
    let mut writer = stream.try_clone().expect("a clone");
    write!(writer, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n").expect("sent");
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).expect("a status line");
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a header");
        if line == "\r\n" {
            break;
        }
        assert!(!line.is_empty(), "the head ended early");
    }
    reader
}

/// The next `data:` line of a (chunked) event stream whose text satisfies `matches`.
fn next_event(reader: &mut BufReader<TcpStream>, matches: impl Fn(&str) -> bool) -> Option<String> {
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        if let Some(data) = line.trim_end().strip_prefix("data: ") {
            if matches(data) {
                return Some(data.to_string());
            }
        }
    }
}

/// The number in `tick N`.
fn tick(text: &str) -> Option<u32> {
    text.strip_prefix("tick ")?.parse().ok()
}

/// The resident memory of a process, in KiB (`VmRSS` of /proc/PID/status).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the process's status");
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("a VmRSS line");
    line.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("a number")
}

#[test]
fn a_non_loopback_address_needs_a_token_and_requests_without_it_get_401() {
    let dir = tempfile::tempdir().expect("a directory");
    let output = run(copili_e2e::copili().arg("ui").arg("--state-dir").arg(dir.path()).args(["--listen", "0.0.0.0:0"]));
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert_eq!(
        output.stderr(),
        "error: refusing to listen on 0.0.0.0:0 without a token: only loopback addresses (127.0.0.1, ::1) may go without; give --token-file FILE or --token TOKEN\n"
    );
    assert_eq!(output.stdout(), "");

    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "Zm9v-s3cret\n").expect("written");
    let mut command = copili_e2e::copili();
    command
        .arg("ui")
        .arg("--state-dir")
        .arg(dir.path())
        .args(["--listen", "0.0.0.0:0", "--token-file"])
        .arg(&token_file);
    let mut process = Running::spawn(&mut command);
    // Bound to every address; the test talks to loopback only.
    let port = dashboard_address(&mut process).port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
    for path in ["/", "/api/overview", "/logs/0/x/y", "/nope"] {
        let answer = get(addr, path, &[]);
        assert_eq!(answer.status, 401, "{path}: {answer:?}");
        assert!(!answer.body.contains("copili dashboard"), "{path}: nothing but the refusal");
    }
    assert_eq!(get(addr, "/", &["Authorization: Bearer wrong"]).status, 401);
    let answer = get(addr, "/", &["Authorization: Bearer Zm9v-s3cret"]);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.body.contains("<title>copili dashboard</title>"));
    assert_eq!(get(addr, "/api/overview", &["Authorization: Bearer Zm9v-s3cret"]).status, 200);
    // Opened once with the token in the address, the page sets a cookie its requests carry.
    let answer = get(addr, "/?token=Zm9v-s3cret", &[]);
    assert_eq!(answer.status, 200, "{answer:?}");
    let cookie = answer
        .head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("a cookie")
        .split(';')
        .next()
        .expect("name=value")
        .to_string();
    assert_eq!(cookie, "copili_token=Zm9v%2Ds3cret");
    assert_eq!(get(addr, "/api/overview", &[&format!("Cookie: {cookie}")]).status, 200);
    assert_eq!(get(addr, "/api/overview", &["Cookie: copili_token=nope"]).status, 401);
    assert!(process.is_running());
    process.signal("TERM");
    let output = process.wait(START);
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert!(
        !output.stdout().contains("Zm9v-s3cret") && !output.stderr().contains("Zm9v-s3cret"),
        "the token is never shown"
    );
}

#[test]
fn bad_requests_get_a_4xx_and_never_a_file() {
    let scene = Scene::new(Engine::RootfulPodman, "dashboard_bad_requests");
    let file =
        scene.write("p.yaml", "p:\n  - name: c\n    image_repo: localhost/copili-test\n    command: echo hello\n");
    let output = run(scene.run_command(&file).args(["--log-dir", "logs"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    // A file beside the logs and the state, which no request may read.
    std::fs::write(scene.path("logs/secret.log"), "TOP-SECRET-FILE\n").expect("written");
    std::fs::write(scene.path(".copili/secret.json"), "\"TOP-SECRET-FILE\"").expect("written");
    let (process, addr) = ui(&scene.path(".copili"), &[]);
    let name = &scene.identity;
    // The good requests, for comparison.
    assert!(pipeline(&overview(addr), name).is_some(), "{:?}", overview(addr));
    let log = get(addr, &format!("/logs/0/{name}/c"), &[]);
    assert_eq!(log.status, 200, "the log of a container of the pipeline: {log:?}");

    let huge = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Huge: {}\r\nConnection: close\r\n\r\n", "a".repeat(64 * 1024));
    let many: String = (0..200).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(String, Vec<u8>, u16)> = vec![
        ("a huge header".into(), huge.into_bytes(), 431),
        (
            "200 headers".into(),
            format!("GET / HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n").into_bytes(),
            431,
        ),
        (
            "a long request line".into(),
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000)).into_bytes(),
            431,
        ),
        (
            "POST".into(),
            b"POST /api/overview HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
            405,
        ),
        ("garbage".into(), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n".to_vec(), 400),
    ];
    let paths: Vec<(String, u16)> = vec![
        ("/../../etc/passwd".into(), 400),
        ("/logs/0/../../etc/passwd".into(), 400),
        ("/%2e%2e/%2e%2e/etc/passwd".into(), 400),
        (format!("/logs/0/{name}/%2e%2e%2f%2e%2e%2fetc%2fpasswd"), 400),
        (format!("/logs/0/{name}/..%2Fsecret"), 400),
        (format!("/logs/0/{name}/%2Fetc%2Fpasswd"), 400),
        (format!("/logs/0/{name}//etc/passwd"), 400),
        (format!("/logs/0/{name}/secret"), 404),
        ("/logs/0/secret/c".into(), 404),
        (format!("/runs/0/{name}/secret"), 404),
        (format!("/runs/0/{name}/live"), 404),
        (format!("/logs/7/{name}/c"), 404),
        ("/etc/passwd".into(), 404),
        ("/nope".into(), 404),
        ("/favicon.ico".into(), 404),
        ("/api/overview/../../etc/passwd".into(), 400),
        ("http://evil.example/etc/passwd".into(), 404),
    ];
    let mut answers = Vec::new();
    for (what, request, expected) in cases {
        answers.push((what, raw(addr, &request), expected));
    }
    for (path, expected) in paths {
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        answers.push((path, raw(addr, request.as_bytes()), expected));
    }
    for (what, answer, expected) in &answers {
        assert_eq!(answer.status, *expected, "{what}: {answer:?}");
        for secret in ["root:x:0:0", "TOP-SECRET-FILE", "hello"] {
            assert!(!answer.body.contains(secret), "{what}: the body shows {secret}: {answer:?}");
        }
    }
    // And the dashboard still serves.
    assert_eq!(get(addr, "/", &[]).status, 200);
    drop(process);
    scene.assert_no_leftovers();
}

#[test]
fn service_ui_serves_the_dashboard_of_its_current_run() {
    let scene = Scene::new(Engine::RootfulPodman, "dashboard_service_ui");
    let file = ticker_pipeline(&scene, 150);
    let mut service = service(&scene, &file, &["--ui", "127.0.0.1:0"]);
    let addr = dashboard_address(&mut service);
    let deadline = Instant::now() + RUN_TIMEOUT;
    while !shows_running(&overview(addr), &scene.identity, "ticker") {
        assert!(Instant::now() < deadline, "ticker never shown running: {}", overview(addr));
        std::thread::sleep(Duration::from_millis(200));
    }
    let view = overview(addr);
    let view = pipeline(&view, &scene.identity).expect("the pipeline");
    assert_eq!(view["process"]["command"], "service");
    assert_eq!(view["process"]["pid"], service.pid());
    assert_eq!(view["process"]["ui"], format!("http://{addr}/"));
    let key = view["key"].as_str().expect("a key").to_string();
    let mut stream = open_stream(addr, &format!("/logs/{key}/ticker"));
    let first = next_event(&mut stream, |d| tick(d).is_some()).expect("a tick");
    let later = next_event(&mut stream, |d| tick(d) > tick(&first).map(|n| n + 3)).expect("later ticks");
    assert!(tick(&later) > tick(&first), "{first} then {later}");
    let page = get(addr, "/", &[]);
    assert_eq!(page.status, 200);
    assert!(page.head.contains("content-security-policy: default-src 'none'"), "{}", page.head);
    drop(stream);
    stop_service(&scene, service);
}

/// Waits until the overview of `addr` shows `ticker` of the scene's pipeline running; the
/// pipeline's key.
fn wait_for_ticker(addr: SocketAddr, scene: &Scene) -> String {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        let view = overview(addr);
        if shows_running(&view, &scene.identity, "ticker") {
            return pipeline(&view, &scene.identity).expect("listed")["key"].as_str().expect("a key").to_string();
        }
        assert!(Instant::now() < deadline, "ticker never shown running: {view}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The highest `tick N` among the log lines the page shows.
fn last_tick_shown(page: &copili_e2e::Page) -> Option<u32> {
    page.texts(".log pre .line").iter().filter_map(|line| tick(line)).max()
}

#[test]
fn the_page_lists_the_pipeline_and_the_running_log_grows_in_chromium() {
    let scene = Scene::new(Engine::RootfulPodman, "dashboard_browser");
    let file = ticker_pipeline(&scene, 200);
    let service = service(&scene, &file, &[]);
    let (ui, addr) = ui(&scene.path(".copili"), &[]);
    wait_for_ticker(addr, &scene);

    let browser = Browser::launch();
    let page = browser.open(&format!("http://{addr}/"));
    let card = format!("section[data-pipeline='{}']", scene.identity);
    page.wait_for(&card, START);
    page.wait_for(&format!("{card} .container[data-container='ticker'][data-status='running']"), START);
    page.wait_for(&format!("{card} .log pre .line"), START);
    let headings = page.texts(&format!("{card} h2"));
    assert_eq!(headings.len(), 1, "{headings:?}");
    assert!(headings[0].starts_with(&scene.identity) && headings[0].ends_with("running"), "{headings:?}");
    // The log grows while the service runs: ticks come every 200 ms.
    let deadline = Instant::now() + START;
    let first = loop {
        if let Some(first) = last_tick_shown(&page) {
            break first;
        }
        assert!(Instant::now() < deadline, "no tick shown: {:?}", page.texts(".log pre .line"));
        std::thread::sleep(Duration::from_millis(100));
    };
    std::thread::sleep(Duration::from_secs(3));
    let later = last_tick_shown(&page).expect("ticks");
    assert!(later >= first + 5, "the log did not grow in the page: tick {first}, 3 s later tick {later}");
    // The log follows its end.
    let at_end = page.eval(&format!(
        "(() => {{ const pre = document.querySelector(\"{card} .log pre\"); return pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4; }})()"
    ));
    assert_eq!(at_end, Value::Bool(true), "the log is not scrolled to its end");
    // The card's sections (their headings are shown in capitals).
    let texts = page.texts(&card);
    let text = texts[0].to_lowercase();
    assert!(text.contains("current run") && text.contains("next due") && text.contains("history"), "{texts:?}");
    page.screenshot(&artifact_path("dashboard.png"));
    // Nothing but this server was asked for.
    let foreign: Vec<String> =
        page.requests().into_iter().filter(|url| !url.starts_with(&format!("http://{addr}/"))).collect();
    assert!(foreign.is_empty(), "{foreign:?}");
    drop(page);
    drop(browser);
    drop(ui);
    stop_service(&scene, service);
}

/// How many clients the load test opens, and for how long.
const CLIENTS: usize = 50;
const LOAD: Duration = Duration::from_secs(60);

/// The growth of the dashboard's resident memory the load test allows, from the first sample
/// with every client connected to the highest one after it.
const RSS_GROWTH_KIB: u64 = 4 * 1024;

#[test]
fn fifty_clients_on_a_live_log_for_a_minute_all_get_its_lines_and_memory_stays_flat() {
    let scene = Scene::new(Engine::RootfulPodman, "dashboard_load");
    // About two minutes of ticks: the whole load runs while the container does.
    let file = ticker_pipeline(&scene, 600);
    let service = service(&scene, &file, &[]);
    let (ui, addr) = ui(&scene.path(".copili"), &[]);
    let key = wait_for_ticker(addr, &scene);
    let path = format!("/logs/{key}/ticker");
    let end = Instant::now() + LOAD;
    let clients: Vec<std::thread::JoinHandle<Vec<u32>>> = (0..CLIENTS)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut stream = open_stream(addr, &path);
                let mut ticks = Vec::new();
                while Instant::now() < end {
                    match next_event(&mut stream, |d| tick(d).is_some()) {
                        Some(data) => ticks.extend(tick(&data)),
                        None => break,
                    }
                }
                ticks
            })
        })
        .collect();
    let mut samples = Vec::new();
    while Instant::now() < end {
        samples.push(rss_kib(ui.pid()));
        std::thread::sleep(Duration::from_secs(1));
    }
    let results: Vec<Vec<u32>> = clients.into_iter().map(|c| c.join().expect("a client")).collect();
    // Every client saw the ticks of the whole minute (5 a second), in order.
    for (i, ticks) in results.iter().enumerate() {
        let first = *ticks.first().expect("ticks");
        let last = *ticks.last().expect("ticks");
        assert!(ticks.windows(2).all(|w| w[1] == w[0] + 1), "client {i}: ticks out of order or missing");
        assert!(last - first >= 200, "client {i}: ticks {first} to {last} in {LOAD:?}");
    }
    // From the first sample with every client streaming (a few seconds in) on, flat.
    let baseline = samples[5];
    let highest = samples[5..].iter().copied().max().expect("samples");
    let figures = format!(
        "{CLIENTS} clients for {LOAD:?} on {path}: ticks per client {:?}; VmRSS of copili ui (KiB), one sample a second: {samples:?}; baseline {baseline}, highest after it {highest}, growth {} (bound {RSS_GROWTH_KIB})\n",
        results.iter().map(Vec::len).collect::<Vec<_>>(),
        highest - baseline,
    );
    std::fs::write(artifact_path("dashboard-load.txt"), &figures).expect("figures written");
    assert!(highest - baseline <= RSS_GROWTH_KIB, "memory grew: {figures}");
    drop(ui);
    stop_service(&scene, service);
}

/// A run's history link opens its self-contained HTML report (the page `copili report`
/// writes), with the failed container's log read from the run's log directory.
#[test]
fn a_history_link_opens_the_runs_html_report_with_the_failed_log() {
    let scene = Scene::new(Engine::RootfulPodman, "dashboard_report");
    let file = scene.write(
        "broken.yaml",
        "broken:\n  - name: fetch\n    image_repo: localhost/copili-test\n    command: sh -c 'echo fetched'\n  - name: load\n    image_repo: localhost/copili-test\n    dependencies: [fetch]\n    command: sh -c 'echo load-went-wrong-7f3; exit 4'\n",
    );
    let output = run(&mut scene.run_command(&file));
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    let (ui, addr) = ui(&scene.path(".copili"), &[]);
    let overview = overview(addr);
    let entry = pipeline(&overview, &scene.identity).unwrap_or_else(|| panic!("not listed: {overview}"));
    let run = entry["history"]
        .as_array()
        .and_then(|runs| runs.iter().find(|run| run["report"] == true))
        .unwrap_or_else(|| panic!("no run with a report: {entry}"));
    let key = entry["key"].as_str().expect("a key");
    let run_id = run["run_id"].as_str().expect("a run id");
    let answer = get(addr, &format!("/runs/{key}/{run_id}"), &[]);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.head.to_lowercase().contains("content-type: text/html"), "{}", answer.head);
    assert!(answer.body.starts_with("<!DOCTYPE html>"), "{}", &answer.body[..answer.body.len().min(300)]);
    for wanted in ["fetch", "load", "load-went-wrong-7f3"] {
        assert!(answer.body.contains(wanted), "the page lacks {wanted:?}");
    }
    drop(ui);
    scene.assert_no_leftovers();
}
