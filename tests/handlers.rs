//! End-to-end tests of handlers (`run_on: failure|success|always`, issue 17 item 1) on real
//! engines: after the run's other containers ended, a handler on the host network POSTs the
//! run's outcome to an HTTP server of the test on 127.0.0.1, which records every request.
//! Only the handlers the outcome selects run, once each; a failing handler does not change the
//! exit code; nothing is left behind.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use copili_e2e::{engine_tests, read_report, report_entry, run, Engine, Running, Scene};

engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker;
    [
        failure_handler_notifies,
        success_runs_the_success_handler_only,
        sigint_during_a_handler,
    ]
);

/// One request the server received: its path and its body.
type Request = (String, String);

/// An HTTP server on 127.0.0.1 that answers 200 to every request and records it; its port and
/// what it received so far. The thread ends with the test process.
fn webhook() -> (u16, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().expect("an address").port();
    let received = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&received);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(10)));
            let mut reader = BufReader::new(stream.try_clone().expect("a second handle"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0usize;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':') {
                    if name.eq_ignore_ascii_case("content-length") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_string();
            record.lock().expect("the record").push((path, String::from_utf8_lossy(&body).into_owned()));
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
        }
    });
    (port, received)
}

/// The pipeline: `main` (the main containers, indented as list items) and three handlers: one
/// on failure and one on success that POST to `/failure` and `/success`, and one that always
/// runs and fails.
fn pipeline(main: &str, port: u16) -> String {
    let post = |path: &str| {
        format!(
            "[sh, -c, 'wget -q -O- --post-data \"failed=$$COPILI_FAILED status=$$COPILI_RUN_STATUS run=$$COPILI_RUN_ID report=$$(grep -o loads $$COPILI_REPORT | head -n 1)\" http://127.0.0.1:{port}/{path}']"
        )
    };
    format!(
        "handlers:
{main}  - name: notify
    image_repo: localhost/copili-test
    run_on: failure
    network_mode: host
    command: {}
  - name: celebrate
    image_repo: localhost/copili-test
    run_on: success
    network_mode: host
    command: {}
  - name: broken
    image_repo: localhost/copili-test
    run_on: always
    command: [sh, -c, 'echo broken-ran; exit 5']
",
        post("failure"),
        post("success")
    )
}

fn failure_handler_notifies(engine: Engine) {
    let scene = Scene::new(engine, "handler-failure");
    let (port, received) = webhook();
    let main = "  - name: loads
    image_repo: localhost/copili-test
    command: [sh, -c, 'echo loads-ran; exit 3']
  - name: links
    image_repo: localhost/copili-test
    dependencies: [loads]
    command: [sh, -c, 'echo links-ran']
  - name: also_fails
    image_repo: localhost/copili-test
    command: [sh, -c, 'exit 4']
";
    let file = scene.write("handlers.yaml", &pipeline(main, port));
    let report = scene.path("report.json");
    let output = run(scene.run_command(&file).arg("--report").arg(&report));
    assert_eq!(output.code(), Some(1), "the main containers decide the exit code\n{}", output.describe());
    scene.assert_no_leftovers();
    let received = received.lock().expect("the record").clone();
    assert_eq!(received.len(), 1, "one request, from `notify`: {received:?}\n{}", output.describe());
    let (path, body) = &received[0];
    assert_eq!(path, "/failure", "{}", output.describe());
    assert!(body.starts_with("failed=loads,also_fails status=failed run="), "{body}\n{}", output.describe());
    assert!(body.ends_with(" report=loads"), "the main run's report is mounted: {body}");
    let report = read_report(&report, &output);
    assert_eq!(report["exit_code"], 1);
    assert_eq!(report_entry(&report, "notify")["status"], "succeeded", "{report:#}");
    assert_eq!(report_entry(&report, "notify")["run_on"], "failure");
    assert_eq!(report_entry(&report, "broken")["status"], "failed", "{report:#}");
    assert_eq!(report_entry(&report, "broken")["exit_code"], 5);
    assert_eq!(report_entry(&report, "celebrate")["status"], "skipped", "{report:#}");
    assert_eq!(report_entry(&report, "links")["status"], "cancelled");
    assert!(output.stdout().contains("broken-ran"), "{}", output.describe());
}

fn success_runs_the_success_handler_only(engine: Engine) {
    let scene = Scene::new(engine, "handler-success");
    let (port, received) = webhook();
    let main = "  - name: loads
    image_repo: localhost/copili-test
    command: [sh, -c, 'echo loads-ran']
";
    let file = scene.write("handlers.yaml", &pipeline(main, port));
    let report = scene.path("report.json");
    let output = run(scene.run_command(&file).arg("--report").arg(&report));
    assert_eq!(output.code(), Some(0), "a failing handler does not fail the run\n{}", output.describe());
    scene.assert_no_leftovers();
    let received = received.lock().expect("the record").clone();
    assert_eq!(received.len(), 1, "one request, from `celebrate`: {received:?}\n{}", output.describe());
    assert_eq!(received[0].0, "/success");
    assert!(received[0].1.starts_with("failed= status=succeeded run="), "{:?}", received[0]);
    assert!(received[0].1.ends_with(" report=loads"), "{:?}", received[0]);
    let report = read_report(&report, &output);
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report_entry(&report, "notify")["status"], "skipped", "{report:#}");
    assert_eq!(report_entry(&report, "celebrate")["status"], "succeeded", "{report:#}");
    assert_eq!(report_entry(&report, "broken")["status"], "failed", "{report:#}");
}

/// SIGINT while a handler runs: it is stopped, copili exits 130, nothing is left behind.
fn sigint_during_a_handler(engine: Engine) {
    let scene = Scene::new(engine, "handler-sigint");
    let file = scene.write(
        "handlers.yaml",
        "handlers:
  - name: loads
    image_repo: localhost/copili-test
    command: [sh, -c, 'exit 3']
  - name: notify
    image_repo: localhost/copili-test
    run_on: failure
    command: [sh, -c, 'echo handler-started; sleep 60']
",
    );
    let report = scene.path("report.json");
    let mut command = scene.run_command(&file);
    command.args(["--stop-timeout", "1s", "--report"]).arg(&report);
    let mut copili = Running::spawn(&mut command);
    copili.wait_for_line(std::time::Duration::from_secs(60), "the handler's first line", |line| {
        line.contains("handler-started")
    });
    copili.signal("INT");
    let output = copili.wait(std::time::Duration::from_secs(20));
    assert_eq!(output.shell_status(), 130, "{}", output.describe());
    scene.assert_no_leftovers();
    let report = read_report(&report, &output);
    assert_eq!(report_entry(&report, "loads")["status"], "failed", "{report:#}");
    assert_ne!(report_entry(&report, "notify")["status"], "succeeded", "{report:#}");
}
