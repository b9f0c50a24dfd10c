//! The benchmark's Markdown table: medians, peak RSS, the 20k/10k ratios net of the floor, and
//! whether the goal was met.

use std::fmt::Write as _;

use super::measure::Measurement;
use super::{Format, SIZES};

/// Goal for the smaller size: median wall time.
const GOAL_MILLISECONDS: f64 = 100.0;
/// Goal for the smaller size: peak RSS.
const GOAL_MIB: f64 = 50.0;
/// Largest net 20k/10k ratio still called linear: O(n log n) gives about 2.1, O(n²) 4.
const LINEAR_RATIO_LIMIT: f64 = 2.5;
/// Below these net values (above the floor) a ratio is noise, and is not computed.
const NOISE_MILLISECONDS: f64 = 1.0;
const NOISE_MIB: f64 = 1.0;

/// One line of the table.
pub(super) struct Row {
    pub(super) n_containers: usize,
    pub(super) n_edges: usize,
    pub(super) format: Format,
    /// The copili arguments, with `FILE` for the pipeline.
    pub(super) command: String,
    pub(super) measurement: Measurement,
}

pub(super) struct Report {
    pub(super) version: String,
    pub(super) n_runs: usize,
    pub(super) floor: Measurement,
    pub(super) rows: Vec<Row>,
    pub(super) machine: String,
    pub(super) measurer_peak_mib: Option<f64>,
}

impl Report {
    pub(super) fn to_markdown(&self) -> String {
        let mut out = String::new();
        let [small, large] = SIZES;
        let floor = &self.floor;
        // `write!` to a String cannot fail.
        let _ = writeln!(out, "## copili bench\n");
        let _ = writeln!(out, "- copili: {} (release build)", self.version);
        let _ = writeln!(out, "- machine: {}", self.machine);
        let _ = writeln!(
            out,
            "- method: wall time from spawn to exit, {} runs after 1 warm-up, median and min; \
             peak RSS is the largest `ru_maxrss` over the runs",
            self.n_runs
        );
        if let Some(mib) = self.measurer_peak_mib {
            let _ = writeln!(
                out,
                "- the measuring process peaked at {mib:.1} MiB; no child's peak RSS can read below that"
            );
        }
        let _ = writeln!(
            out,
            "- ratios are {}/{} containers, net of the floor (`copili --version`); raw in brackets\n",
            thousands(large),
            thousands(small)
        );
        let _ = writeln!(
            out,
            "| containers | edges | format | command | median ms | min ms | peak RSS MiB | time ratio | RSS ratio \
             | goal |"
        );
        let _ = writeln!(out, "|---:|---:|---|---|---:|---:|---:|---:|---:|---|");
        let _ = writeln!(
            out,
            "| | | | `--version` (floor) | {:.1} | {:.1} | {} | | | |",
            floor.median_ms,
            floor.min_ms,
            mib_cell(floor.peak_rss_mib)
        );
        let mut missed = Vec::new();
        for row in &self.rows {
            let m = &row.measurement;
            let (time_ratio, rss_ratio, goal) = if row.n_containers == small {
                let verdict = small_size_goal(m);
                if verdict != "met" {
                    missed.push(format!(
                        "{} `{}` at {}: {verdict}",
                        row.format.extension(),
                        row.command,
                        thousands(small)
                    ));
                }
                (String::new(), String::new(), verdict)
            } else {
                let smaller = self
                    .rows
                    .iter()
                    .find(|other| {
                        other.n_containers == small && other.format == row.format && other.command == row.command
                    })
                    .map(|other| &other.measurement);
                match smaller {
                    Some(smaller) => {
                        let time = Ratio::new(smaller.median_ms, m.median_ms, floor.median_ms, NOISE_MILLISECONDS);
                        let rss = match (smaller.peak_rss_mib, m.peak_rss_mib, floor.peak_rss_mib) {
                            (Some(small_mib), Some(large_mib), Some(floor_mib)) => {
                                Some(Ratio::new(small_mib, large_mib, floor_mib, NOISE_MIB))
                            }
                            _ => None,
                        };
                        let verdict = linearity_verdict(&time, rss.as_ref());
                        if verdict.starts_with("NOT") {
                            missed.push(format!(
                                "{} `{}` from {} to {}: {verdict}",
                                row.format.extension(),
                                row.command,
                                thousands(small),
                                thousands(large)
                            ));
                        }
                        (time.to_string(), rss.map_or_else(|| "n/a".to_string(), |rss| rss.to_string()), verdict)
                    }
                    None => (String::new(), String::new(), String::new()),
                }
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` | {:.1} | {:.1} | {} | {time_ratio} | {rss_ratio} | {goal} |",
                thousands(row.n_containers),
                thousands(row.n_edges),
                row.format.extension(),
                row.command,
                m.median_ms,
                m.min_ms,
                mib_cell(m.peak_rss_mib),
            );
        }
        let _ = writeln!(out);
        if missed.is_empty() {
            let _ = writeln!(
                out,
                "Goal met: {} containers validate and plan in ≤ {GOAL_MILLISECONDS:.0} ms and ≤ {GOAL_MIB:.0} MiB, \
                 and {} take at most {LINEAR_RATIO_LIMIT}× as long and as much.",
                thousands(small),
                thousands(large)
            );
        } else {
            let _ = writeln!(out, "Goal NOT met:");
            for miss in missed {
                let _ = writeln!(out, "- {miss}");
            }
        }
        out
    }
}

/// `met`, or `NOT met` with what was missed, for a measurement at the smaller size.
fn small_size_goal(measurement: &Measurement) -> String {
    let mut misses = Vec::new();
    if measurement.median_ms.is_nan() || measurement.median_ms > GOAL_MILLISECONDS {
        misses.push(format!("> {GOAL_MILLISECONDS:.0} ms"));
    }
    match measurement.peak_rss_mib {
        Some(mib) if mib > GOAL_MIB => misses.push(format!("> {GOAL_MIB:.0} MiB")),
        Some(_) => {}
        None => misses.push("memory not measured".to_string()),
    }
    if misses.is_empty() {
        "met".to_string()
    } else {
        format!("NOT met ({})", misses.join(", "))
    }
}

/// `linear`, `NOT linear (…)`, or `n/a` when both figures are within noise of the floor.
fn linearity_verdict(time: &Ratio, rss: Option<&Ratio>) -> String {
    let mut nonlinear = Vec::new();
    let mut measured = false;
    for (what, ratio) in [("time", Some(time)), ("RSS", rss)] {
        if let Some(net) = ratio.and_then(|ratio| ratio.net) {
            measured = true;
            if net > LINEAR_RATIO_LIMIT {
                nonlinear.push(format!("{what} ×{net:.2}"));
            }
        }
    }
    match (measured, nonlinear.is_empty()) {
        (false, _) => "n/a (at the floor)".to_string(),
        (true, true) => "linear".to_string(),
        (true, false) => format!("NOT linear ({})", nonlinear.join(", ")),
    }
}

/// The growth from the smaller to the larger pipeline.
#[derive(Debug, PartialEq)]
struct Ratio {
    raw: f64,
    /// Net of the floor; `None` when the smaller value is within noise of the floor.
    net: Option<f64>,
}

impl Ratio {
    fn new(smaller: f64, larger: f64, floor: f64, noise: f64) -> Ratio {
        let net = (smaller - floor >= noise).then(|| (larger - floor) / (smaller - floor));
        Ratio { raw: larger / smaller, net }
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.net {
            Some(net) => write!(f, "{net:.2} ({:.2})", self.raw),
            None => write!(f, "n/a ({:.2})", self.raw),
        }
    }
}

fn mib_cell(mib: Option<f64>) -> String {
    mib.map_or_else(|| "n/a".to_string(), |mib| format!("{mib:.1}"))
}

/// `29994` → `29,994`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (idx, digit) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits_by_three() {
        assert_eq!(
            [thousands(0), thousands(999), thousands(29_994), thousands(1_234_567)],
            ["0", "999", "29,994", "1,234,567"]
        );
    }

    #[test]
    fn ratios_are_net_of_the_floor_and_skip_noise() {
        assert_eq!(Ratio::new(11.0, 21.0, 1.0, 1.0).to_string(), "2.00 (1.91)");
        assert_eq!(Ratio::new(1.5, 1.6, 1.0, 1.0).to_string(), "n/a (1.07)");
        let linear = Ratio::new(11.0, 21.0, 1.0, 1.0);
        let quadratic = Ratio::new(11.0, 41.0, 1.0, 1.0);
        assert_eq!(linearity_verdict(&linear, Some(&linear)), "linear");
        assert_eq!(linearity_verdict(&linear, Some(&quadratic)), "NOT linear (RSS ×4.00)");
        assert_eq!(linearity_verdict(&Ratio::new(1.5, 1.6, 1.0, 1.0), None), "n/a (at the floor)");
    }

    #[test]
    fn small_size_goal_names_what_was_missed() {
        let check = |median_ms: f64, peak_rss_mib: Option<f64>, expected: &str| {
            let measurement = Measurement { median_ms, min_ms: median_ms, peak_rss_mib };
            assert_eq!(small_size_goal(&measurement), expected);
        };
        check(99.0, Some(49.0), "met");
        check(101.0, Some(49.0), "NOT met (> 100 ms)");
        check(101.0, Some(51.0), "NOT met (> 100 ms, > 50 MiB)");
        check(10.0, None, "NOT met (memory not measured)");
    }
}
