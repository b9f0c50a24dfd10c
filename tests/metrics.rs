//! End-to-end tests of the metrics (issue 17, item 5): `copili run --metrics FILE` and
//! `copili service --metrics FILE --ui` write Prometheus' text exposition format. Each file is
//! checked by `promtool check metrics` (Prometheus' own parser and linter of the format and of
//! its naming conventions, installed by `cargo xtask setup`) and read with a parser of the
//! format (prometheus-parse); its counters must match the run's JSON report, and grow across
//! runs.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use copili_e2e::{engine_tests, read_report, run, unix_now, Engine, Running, Scene, RUN_TIMEOUT};
use serde_json::Value;

engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker,
    swarm => copili_e2e::Engine::Swarm;
    [run_metrics_match_the_report]
);

/// `promtool check metrics` of `text`: it must find nothing wrong.
fn promtool_check(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (package prometheus, installed by `cargo xtask setup`)");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
    let output = child.wait_with_output().expect("promtool ends");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n---\n{text}");
}

/// The samples of an exposition, by metric name and then by their labels (sorted
/// `key=value` pairs joined with `,`).
type Samples = BTreeMap<String, BTreeMap<String, f64>>;

fn parse(text: &str) -> Samples {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("the text format parses");
    let mut samples = Samples::new();
    for sample in scrape.samples {
        let value = match sample.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            other => panic!("unexpected sample {}: {other:?}", sample.metric),
        };
        let mut labels: Vec<String> = sample.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        labels.sort();
        samples.entry(sample.metric).or_default().insert(labels.join(","), value);
    }
    samples
}

/// The value of `metric` for `pipeline` (and `container`), failing the test if absent.
fn value(samples: &Samples, metric: &str, pipeline: &str, container: Option<&str>) -> f64 {
    let key = match container {
        Some(c) => format!("container={c},pipeline={pipeline}"),
        None => format!("pipeline={pipeline}"),
    };
    *samples.get(metric).and_then(|m| m.get(&key)).unwrap_or_else(|| panic!("no {metric}{{{key}}} in {samples:?}"))
}

const PIPELINE: &str = "metered:\n  - name: ok\n    image_repo: localhost/copili-test\n    command: sh -c 'echo fine'\n  - name: bad\n    image_repo: localhost/copili-test\n    command: sh -c 'echo broken; exit 3'\n  - name: after_bad\n    image_repo: localhost/copili-test\n    dependencies: [bad]\n    command: sh -c 'echo never'\n";

fn run_metrics_match_the_report(engine: Engine) {
    let scene = Scene::new(engine, "metrics_run");
    let file = scene.write("metered.yaml", PIPELINE);
    let metrics = scene.path("out/copili.prom");
    let identity = scene.identity.clone();
    let mut reports = Vec::new();
    for round in 1..=2u32 {
        let report_path = scene.path(&format!("report-{round}.json"));
        let output = run(scene.run_command(&file).arg("--metrics").arg(&metrics).arg("--report").arg(&report_path));
        assert_eq!(output.code(), Some(1), "{}", output.describe());
        reports.push(read_report(&report_path, &output));
        let text = std::fs::read_to_string(&metrics).expect("the metrics file is written");
        promtool_check(&text);
        let samples = parse(&text);
        let round = f64::from(round);
        assert_eq!(value(&samples, "copili_runs_total", &identity, None), round, "{text}");
        assert_eq!(value(&samples, "copili_run_failures_total", &identity, None), round);
        assert!(value(&samples, "copili_run_last_end_timestamp_seconds", &identity, None) <= unix_now() + 1.0);
        // Every container's counters are what the reports say, summed over the runs so far.
        for container in ["ok", "bad", "after_bad"] {
            let count = |status: &str| {
                reports.iter().filter(|r| copili_e2e::report_entry(r, container)["status"] == status).count() as f64
            };
            let ran = count("succeeded") + count("failed");
            let c = Some(container);
            assert_eq!(value(&samples, "copili_container_runs_total", &identity, c), ran, "{container}: {text}");
            assert_eq!(value(&samples, "copili_container_failures_total", &identity, c), count("failed"));
            assert_eq!(value(&samples, "copili_container_cancelled_total", &identity, c), count("cancelled"));
            assert_eq!(value(&samples, "copili_container_duration_seconds_count", &identity, c), ran);
            let exit = copili_e2e::report_entry(&reports[reports.len() - 1], container)["exit_code"].as_f64();
            if let Some(exit) = exit {
                assert_eq!(value(&samples, "copili_container_last_exit_code", &identity, c), exit);
            }
        }
        assert_eq!(count_of(&reports, "bad", "failed"), round);
        let ok_success = value(&samples, "copili_container_last_success_timestamp_seconds", &identity, Some("ok"));
        assert!(ok_success > unix_now() - 600.0, "{ok_success}");
        assert!(value(&samples, "copili_container_duration_seconds_sum", &identity, Some("ok")) > 0.0);
    }
    scene.assert_no_leftovers();
}

fn count_of(reports: &[Value], container: &str, status: &str) -> f64 {
    reports.iter().filter(|r| copili_e2e::report_entry(r, container)["status"] == status).count() as f64
}

/// `GET path` of the dashboard at `addr`: status line and body.
fn get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("a timeout");
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").expect("send");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_string(), body.to_string())
}

const SERVICE: &str = "served:\n  - name: prepare\n    image_repo: localhost/copili-test\n    command: sh -c 'echo prepared'\n  - name: tick\n    image_repo: localhost/copili-test\n    is_service_container: true\n    dependencies: [prepare]\n    schedule: every 2s\n    command: sh -c 'echo tick'\n  - name: flaky\n    image_repo: localhost/copili-test\n    is_service_container: true\n    schedule: every 2s\n    command: sh -c 'exit 5'\n";

/// The metrics file once `done` holds of its samples (or the test fails after the run bound).
fn wait_for_metrics(path: &Path, what: &str, done: impl Fn(&Samples) -> bool) -> (String, Samples) {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            let samples = parse(&text);
            if done(&samples) {
                return (text, samples);
            }
        }
        assert!(Instant::now() < deadline, "{what}: not reached in {RUN_TIMEOUT:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn service_metrics_count_each_due_run_and_say_when_next() {
    let scene = Scene::new(Engine::RootfulPodman, "metrics_service");
    let file = scene.write("served.yaml", SERVICE);
    let metrics = scene.path("copili.prom");
    let identity = scene.identity.clone();
    let mut command = scene.command_as("service", &file, &identity);
    command.args(["--stop-timeout", "1s", "--ui", "127.0.0.1:0", "--metrics"]).arg(&metrics);
    let mut service = Running::spawn(&mut command);
    let index = service
        .wait_for_line(Duration::from_secs(30), "the dashboard's address", |l| l.starts_with("=== dashboard of "));
    let line = service.lines()[index].clone();
    let addr: SocketAddr = line
        .split(" on http://")
        .nth(1)
        .and_then(|url| url.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line}"));

    // The initial run and at least two due runs of each service container.
    let (text, samples) = wait_for_metrics(&metrics, "three runs of tick", |s| {
        s.get("copili_container_runs_total")
            .and_then(|m| m.get(&format!("container=tick,pipeline={identity}")))
            .is_some_and(|&v| v >= 3.0)
    });
    promtool_check(&text);
    let now = unix_now();
    for container in ["tick", "flaky"] {
        let due = value(&samples, "copili_container_next_due_timestamp_seconds", &identity, Some(container));
        assert!(due > now - 5.0 && due < now + 10.0, "{container} next due at {due}, now {now}: {text}");
    }
    assert!(value(&samples, "copili_container_failures_total", &identity, Some("flaky")) >= 1.0);
    assert_eq!(value(&samples, "copili_container_failures_total", &identity, Some("tick")), 0.0);
    assert_eq!(value(&samples, "copili_container_runs_total", &identity, Some("prepare")), 1.0);
    assert!(value(&samples, "copili_runs_total", &identity, None) >= 3.0);

    // The dashboard serves the same counters on /metrics, in the format's content type.
    let (head, body) = get(addr, "/metrics");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("content-type: text/plain; version=0.0.4"), "{head}");
    promtool_check(&body);
    let served = parse(&body);
    assert!(value(&served, "copili_container_runs_total", &identity, Some("tick")) >= 3.0, "{body}");

    service.signal("TERM");
    let output = service.wait(RUN_TIMEOUT);
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    // Once stopped nothing is due, and what ran stays counted.
    let text = std::fs::read_to_string(&metrics).expect("the metrics file");
    promtool_check(&text);
    let after = parse(&text);
    assert!(!after.contains_key("copili_container_next_due_timestamp_seconds"), "{text}");
    assert!(value(&after, "copili_container_runs_total", &identity, Some("tick")) >= 3.0);
    scene.assert_no_leftovers();
}
