//! Reading the JSON report copili writes with `--report FILE`.

use std::path::Path;

use serde_json::Value;

use crate::Output;

/// The JSON report copili wrote with `--report FILE` (issue 4, item 6).
pub fn read_report(path: &Path, output: &Output) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("copili wrote no report to {} (--report, issue 4 item 6): {e}\n{}", path.display(), output.describe())
    });
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the report is not JSON: {e}\n{text}"))
}

/// The entry of the report's list `list` (`containers`, `images`) whose `key` is `value`.
pub fn report_item<'a>(report: &'a Value, list: &str, key: &str, value: &str) -> &'a Value {
    report[list]
        .as_array()
        .unwrap_or_else(|| panic!("the report has no `{list}` list: {report:#}"))
        .iter()
        .find(|item| item[key] == value)
        .unwrap_or_else(|| panic!("no `{value}` ({key}) in the report's `{list}`: {report:#}"))
}

/// The report's entry of `container` in its `containers` list.
pub fn report_entry<'a>(report: &'a Value, container: &str) -> &'a Value {
    report_item(report, "containers", "name", container)
}

/// Asserts that the `reason` of a report's entry (of a container or an image, named `what`)
/// contains `reason`, or is null for `None`.
pub fn assert_reason(entry: &Value, what: &str, reason: Option<&str>) {
    match reason {
        Some(reason) => assert!(
            entry["reason"].as_str().is_some_and(|r| r.contains(reason)),
            "{what}: the reason should contain `{reason}`: {entry:#}"
        ),
        None => assert!(entry["reason"].is_null(), "{what}: no reason expected: {entry:#}"),
    }
}

/// Asserts the status of `container`'s entry in the report and its reason (see
/// [`assert_reason`]).
pub fn assert_report_status(report: &Value, container: &str, status: &str, reason: Option<&str>) {
    let entry = report_entry(report, container);
    assert_eq!(entry["status"], status, "{container}: {entry:#}");
    assert_reason(entry, container, reason);
}
