//! Reading copili's console: the containers' own output lines, the line saying how a container
//! ended, and the final summary table.

use crate::Output;

/// Both streams, for lines that may go to either (status lines, the summary).
pub fn all_output(output: &Output) -> String {
    format!("{}{}", output.stdout(), output.stderr())
}

/// The text of `line` if it is a line of the container's own output, prefixed by `prefix`
/// (the container's name, `main/sidecar` for a sidecar's) compose-style: `prefix   | text`;
/// the text is trimmed.
pub fn output_line_text<'a>(line: &'a str, prefix: &str) -> Option<&'a str> {
    let (who, rest) = line.split_once('|')?;
    (who.trim_end() == prefix).then(|| rest.trim())
}

/// Whether `line` is the container's own output `prefix | text` with a text starting with
/// `text_start`.
pub fn is_output_line(line: &str, prefix: &str, text_start: &str) -> bool {
    output_line_text(line, prefix).is_some_and(|text| text.starts_with(text_start))
}

/// Asserts that the container's standard output has the line `text` (exactly), prefixed by
/// `prefix` (see [`output_line_text`]).
pub fn assert_output_line(output: &Output, prefix: &str, text: &str) {
    let found = output.stdout().lines().any(|line| output_line_text(line, prefix) == Some(text));
    assert!(found, "no output line `{prefix} | {text}`\n{}", output.describe());
}

/// Asserts that no line of output (either stream) is a line of the container's own output.
pub fn assert_no_output_from(output: &Output, prefix: &str) {
    let text = all_output(output);
    let found = text.lines().find(|line| output_line_text(line, prefix).is_some());
    assert!(found.is_none(), "`{prefix}` printed output but should not have run\n{}", output.describe());
}

/// Asserts the line saying how `container` ended (`<-- NAME STATUS…`): exactly one, saying
/// `status` and containing `detail`.
pub fn assert_finished(output: &Output, container: &str, status: &str, detail: &str) {
    let text = all_output(output);
    let prefix = format!("<-- {container} ");
    let lines: Vec<&str> = text.lines().filter(|l| l.starts_with(&prefix)).collect();
    assert_eq!(lines.len(), 1, "expected one line `<-- {container} {status}…`\n{}", output.describe());
    let line = lines[0];
    assert!(
        line[prefix.len()..].starts_with(status) && line.contains(detail),
        "expected `<-- {container} {status}…{detail}…`, found `{line}`\n{}",
        output.describe()
    );
}

/// The row of `container` in the final summary table (`NAME STATUS EXIT-CODE ATTEMPTS …`),
/// split into columns.
pub fn summary_row(output: &Output, container: &str) -> Vec<String> {
    let text = all_output(output);
    let statuses = ["succeeded", "failed", "cancelled", "skipped"];
    text.lines()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|cols| cols.len() >= 4 && cols[0] == container && statuses.contains(&cols[1].as_str()))
        .unwrap_or_else(|| {
            panic!("no row for `{container}` in a summary table (issue 4, item 6)\n{}", output.describe())
        })
}

/// Asserts the summary row of `container`: status, exit code (`-` for none), attempts.
pub fn assert_summary(output: &Output, container: &str, status: &str, exit_code: &str, attempts: &str) {
    let row = summary_row(output, container);
    assert_eq!(
        &row[1..4],
        &[status.to_string(), exit_code.to_string(), attempts.to_string()],
        "summary row of `{container}`: {row:?}\n{}",
        output.describe()
    );
}
