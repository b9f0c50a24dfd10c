//! The Prometheus text exposition format (version 0.0.4) of [`PipelineMetrics`]: each metric
//! family once, with its `# HELP` and `# TYPE`, then one sample per pipeline (and container),
//! so that several pipelines (the dashboard's `/metrics`) make one valid exposition.
//!
//! Names follow Prometheus' conventions: the `copili_` prefix, base units (seconds),
//! `_total` for counters, `_timestamp_seconds` for times since the Unix epoch, a summary's
//! `_sum` and `_count`.

use std::fmt::Write as _;

use super::store::{ContainerMetrics, PipelineMetrics};

/// The `Content-Type` of the format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

enum Kind {
    Counter,
    Gauge,
    Summary,
}

impl Kind {
    fn as_str(&self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Summary => "summary",
        }
    }
}

type PipelineValue = fn(&PipelineMetrics) -> Option<f64>;
type ContainerValue = fn(&ContainerMetrics) -> Option<f64>;

/// The pipeline-wide families: name, kind, help, value.
const PIPELINE: [(&str, Kind, &str, PipelineValue); 4] = [
    (
        "copili_runs_total",
        Kind::Counter,
        "Runs of the pipeline (a service's initial run and each due group's run).",
        |m| Some(m.runs as f64),
    ),
    ("copili_run_failures_total", Kind::Counter, "Runs that ended with a non-zero exit code.", |m| {
        Some(m.failed_runs as f64)
    }),
    ("copili_run_last_end_timestamp_seconds", Kind::Gauge, "When the last run ended.", |m| m.last_run_end),
    ("copili_run_last_success_timestamp_seconds", Kind::Gauge, "When the last successful run ended.", |m| {
        m.last_run_success
    }),
];

/// The per-container families.
const CONTAINER: [(&str, Kind, &str, ContainerValue); 8] = [
    ("copili_container_runs_total", Kind::Counter, "Times the container ran to an end (succeeded or failed).", |c| {
        Some(c.runs as f64)
    }),
    ("copili_container_failures_total", Kind::Counter, "Times the container failed, allowed failures included.", |c| {
        Some(c.failures as f64)
    }),
    (
        "copili_container_allowed_failures_total",
        Kind::Counter,
        "Times the container failed with a failure its allow_failure allows.",
        |c| Some(c.allowed_failures as f64),
    ),
    (
        "copili_container_cancelled_total",
        Kind::Counter,
        "Times the container was cancelled (a failure upstream, --fail-fast, an interrupt).",
        |c| Some(c.cancelled as f64),
    ),
    ("copili_container_attempts_total", Kind::Counter, "Attempts of the container, retries included.", |c| {
        Some(c.attempts as f64)
    }),
    ("copili_container_last_duration_seconds", Kind::Gauge, "How long the container's last run took.", |c| {
        c.last_duration
    }),
    ("copili_container_last_exit_code", Kind::Gauge, "The exit code of the container's last run.", |c| {
        c.last_exit_code.map(f64::from)
    }),
    ("copili_container_last_success_timestamp_seconds", Kind::Gauge, "When the container last succeeded.", |c| {
        c.last_success
    }),
];

const DURATION: &str = "copili_container_duration_seconds";
const NEXT_DUE: &str = "copili_container_next_due_timestamp_seconds";

/// The exposition of `pipelines`, in the order given.
pub fn render(pipelines: &[&PipelineMetrics]) -> String {
    let mut out = String::new();
    for (name, kind, help, value) in &PIPELINE {
        header(&mut out, name, kind, help);
        for m in pipelines {
            if let Some(v) = value(m) {
                sample(&mut out, name, &[("pipeline", &m.pipeline)], v);
            }
        }
    }
    for (name, kind, help, value) in &CONTAINER {
        header(&mut out, name, kind, help);
        for m in pipelines {
            for (container, c) in &m.containers {
                if let Some(v) = value(c) {
                    sample(&mut out, name, &[("pipeline", &m.pipeline), ("container", container)], v);
                }
            }
        }
    }
    header(&mut out, DURATION, &Kind::Summary, "How long the container's runs took.");
    for m in pipelines {
        for (container, c) in &m.containers {
            let labels = [("pipeline", m.pipeline.as_str()), ("container", container.as_str())];
            sample(&mut out, &format!("{DURATION}_sum"), &labels, c.duration_sum);
            sample(&mut out, &format!("{DURATION}_count"), &labels, c.runs as f64);
        }
    }
    header(&mut out, NEXT_DUE, &Kind::Gauge, "When the service container is next due.");
    for m in pipelines {
        for (container, at) in &m.next_due {
            sample(&mut out, NEXT_DUE, &[("pipeline", &m.pipeline), ("container", container)], *at);
        }
    }
    out
}

fn header(out: &mut String, name: &str, kind: &Kind, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {}", kind.as_str());
}

fn sample(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    out.push('{');
    for (i, (key, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{key}=\"{}\"", escape_label(value));
    }
    out.push('}');
    let _ = writeln!(out, " {}", number(value));
}

/// A sample value: integers without a fraction, `NaN`/`+Inf`/`-Inf` spelled as the format says.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// A label value: `\`, `"` and line feeds escaped.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// A help text: `\` and line feeds escaped.
fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(pipeline: &str) -> PipelineMetrics {
        let mut m = PipelineMetrics::new(pipeline);
        m.runs = 3;
        m.failed_runs = 1;
        m.last_run_end = Some(1_700_000_000.5);
        let c = ContainerMetrics { runs: 2, failures: 1, attempts: 3, duration_sum: 1.25, ..Default::default() };
        m.containers.insert("load\"x".into(), c);
        m.next_due.insert("load\"x".into(), 1_700_000_600.0);
        m
    }

    #[test]
    fn families_once_samples_per_pipeline() {
        let (a, b) = (metrics("a"), metrics("b\\n"));
        let text = render(&[&a, &b]);
        assert_eq!(text.matches("# TYPE copili_runs_total counter\n").count(), 1, "{text}");
        assert!(text.contains("copili_runs_total{pipeline=\"a\"} 3\n"), "{text}");
        assert!(text.contains("copili_runs_total{pipeline=\"b\\\\n\"} 3\n"), "{text}");
        assert!(text.contains("copili_container_runs_total{pipeline=\"a\",container=\"load\\\"x\"} 2\n"), "{text}");
        assert!(text.contains("copili_container_duration_seconds_sum{pipeline=\"a\",container=\"load\\\"x\"} 1.25\n"));
        assert!(text.contains("copili_container_duration_seconds_count{pipeline=\"a\",container=\"load\\\"x\"} 2\n"));
        assert!(text.contains("copili_run_last_end_timestamp_seconds{pipeline=\"a\"} 1700000000.5\n"));
        assert!(text.contains(
            "copili_container_next_due_timestamp_seconds{pipeline=\"a\",container=\"load\\\"x\"} 1700000600\n"
        ));
        // A value never known is no sample, but its family is still declared.
        assert!(text.contains("# TYPE copili_container_last_success_timestamp_seconds gauge\n"));
        assert!(!text.contains("copili_container_last_success_timestamp_seconds{"), "{text}");
    }

    #[test]
    fn numbers() {
        assert_eq!(number(5.0), "5");
        assert_eq!(number(0.125), "0.125");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "+Inf");
    }
}
