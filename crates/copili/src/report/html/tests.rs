use super::super::json::{AttemptTimes, ContainerReport, ImageReport, ReasonFields, ReportStatus, RunReport};
use super::*;

fn container(name: &str, status: ReportStatus, deps: &[&str], times: Option<(&str, &str)>) -> ContainerReport {
    ContainerReport {
        name: name.into(),
        status,
        exit_code: match status {
            ReportStatus::Succeeded => Some(0),
            ReportStatus::Failed => Some(3),
            _ => None,
        },
        attempts: u32::from(times.is_some()),
        started_at: times.map(|t| t.0.to_string()),
        finished_at: times.map(|t| t.1.to_string()),
        duration_s: times.map(|_| 1.0),
        reason: (status == ReportStatus::Failed).then(|| "exit code 3".to_string()),
        reason_fields: ReasonFields::default(),
        image: format!("localhost/{name}:latest"),
        depends_on: deps.iter().map(|d| d.to_string()).collect(),
        service: false,
        run_on: None,
        matrix: None,
        sidecars: Vec::new(),
        log_file: None,
        outputs: Default::default(),
        allowed: status == ReportStatus::FailedAllowed,
        completed_dependencies: Vec::new(),
        attempt_times: times
            .map(|(from, to)| {
                vec![AttemptTimes {
                    attempt: 1,
                    started_at: from.into(),
                    finished_at: Some(to.into()),
                    reason: None,
                    sidecars: Vec::new(),
                }]
            })
            .unwrap_or_default(),
    }
}

fn report() -> RunReport {
    RunReport {
        pipeline: "night<ly>".into(),
        run_id: "r1".into(),
        engine: "podman".into(),
        started_at: "2026-11-25T12:00:00.000Z".into(),
        finished_at: Some("2026-11-25T12:00:05.000Z".into()),
        exit_code: Some(1),
        containers: vec![
            container(
                "load",
                ReportStatus::Succeeded,
                &[],
                Some(("2026-11-25T12:00:01.000Z", "2026-11-25T12:00:02.000Z")),
            ),
            container(
                "break",
                ReportStatus::Failed,
                &["load"],
                Some(("2026-11-25T12:00:02.100Z", "2026-11-25T12:00:03.000Z")),
            ),
            container("after", ReportStatus::Cancelled, &["break"], None),
        ],
        images: vec![ImageReport {
            image: "localhost/load:latest".into(),
            status: "present".into(),
            attempts: 0,
            duration_s: None,
            reason: None,
            reason_fields: ReasonFields::default(),
            started_at: Some("2026-11-25T12:00:00.100Z".into()),
            finished_at: Some("2026-11-25T12:00:00.500Z".into()),
        }],
    }
}

#[test]
fn the_page_is_self_contained_and_escaped() {
    let page = render(&report(), &HtmlInputs::default());
    assert!(page.contains("Content-Security-Policy"));
    assert!(page.contains("default-src 'none'"));
    assert!(page.contains("night&lt;ly&gt;"));
    assert!(!page.contains("night<ly>"));
    // The SVG namespace is a name, not a fetch: no other address is in the page.
    let page = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for external in ["http://", "https://", "src=\"", "<link", "url(http", "@import"] {
        assert!(!page.contains(external), "{external} in the page");
    }
}

#[test]
fn every_container_is_a_node_a_row_a_log_and_the_failure_is_typed() {
    let page = render(&report(), &HtmlInputs::default());
    for (name, status) in [("load", "succeeded"), ("break", "failed"), ("after", "cancelled")] {
        assert!(
            page.contains(&format!("<g class=\"node {status}\" data-name=\"{name}\" data-status=\"{status}\"")),
            "{name}"
        );
        assert!(page.contains(&format!("<details class=\"log {status}\" id=\"log-{name}\"")), "{name}");
    }
    assert!(page.contains("data-from=\"load\" data-to=\"break\""));
    assert!(page.contains("<li class=\"failure\" data-name=\"break\""));
}

#[test]
fn the_timeline_places_bars_in_time() {
    let page = render(&report(), &HtmlInputs::default());
    assert!(page.contains("data-container=\"load\" data-start-ms=\"1000\" data-end-ms=\"2000\""), "{page}");
    assert!(page.contains("data-container=\"break\" data-start-ms=\"2100\" data-end-ms=\"3000\""));
    assert!(page.contains("class=\"bar image\""));
}

#[test]
fn a_log_is_shown_from_its_file_without_ansi() {
    let temp = tempfile::tempdir().expect("temporary directory");
    std::fs::write(
        temp.path().join("break.log"),
        "======================================== run x (run id r1)\n\u{1b}[31mboom <tag>\u{1b}[0m\n========================================\n",
    )
    .expect("written");
    let mut report = report();
    report.containers[1].log_file = Some("break.log".into());
    let inputs = HtmlInputs::default().read_logs(&report, temp.path());
    let page = render(&report, &inputs);
    assert!(page.contains("boom &lt;tag&gt;"), "{page}");
    assert!(!page.contains('\u{1b}'));
}

#[test]
fn an_allowed_failure_has_a_badge_of_its_own_and_is_listed_as_allowed() {
    let mut report = report();
    report.exit_code = Some(0);
    report.containers[1] = container(
        "break",
        ReportStatus::FailedAllowed,
        &["load"],
        Some(("2026-11-25T12:00:02.100Z", "2026-11-25T12:00:03.000Z")),
    );
    report.containers[2] = container("after", ReportStatus::Succeeded, &["break"], None);
    let page = render(&report, &HtmlInputs::default());
    assert!(page.contains("<span class=\"badge failed_allowed\">failed (allowed)</span>"), "{page}");
    assert!(page.contains("<g class=\"node failed_allowed\" data-name=\"break\" data-status=\"failed_allowed\""));
    assert!(page.contains("<li class=\"failure allowed\" data-name=\"break\""), "{page}");
    assert!(page.contains("1 failed (allowed)"), "{page}");
}
