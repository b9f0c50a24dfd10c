//! Messages that fit a terminal and cannot act on it: long lines are cut around the place, and
//! characters from the file that a terminal would obey (ESC, BEL, CR, other controls, bidi
//! overrides) are escaped in everything copili itself writes — messages, plans, graphs,
//! dry-run lines, summaries.

use copili_e2e::{copili, run, Output};

/// What must never reach a terminal from copili's own writing: C0 controls but tab and line
/// feed, DEL, C1 controls, bidirectional overrides.
fn acting_characters(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\t' && c != '\n')
                || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

fn assert_inert(what: &str, output: &Output) {
    for (stream, text) in [("stdout", output.stdout()), ("stderr", output.stderr())] {
        let found = acting_characters(&text);
        assert!(found.is_empty(), "{what}: {stream} holds {found:?}\n{}", output.describe());
    }
}

/// Control characters in every kind of place a pipeline file has text.
const HOSTILE: &str = "nightly\u{1b}]0;owned\u{7}:
  - name: first
    image_repo: busybox
    desc: \"in \\e[31mred\\e[0m \\a\\r over\"
    info_link: \"https://example.com/\\e[2J\"
    command: [sh, -c, \"echo \\e[2J \\u202e done\"]
    env_vars: {\"NAME\\e[1m\": \"\\e[5mblink\"}
    labels: {\"team\\a\": \"data\\e[0m\"}
    volumes: [\"./in\\e[1mput:/in:ro\"]
  - name: second
    image_repo: busybox
    dependencies: [first]
    exlude_in_env: [\"PROD\\e[0m\"]
";

/// The same, with mistakes, so that messages quote the file.
const HOSTILE_INVALID: &str = "nightly:
  - name: \"bad\\e[31mname\"
    image_repo: busybox
    \"unknown\\e[2Jkey\": 1
    tag: \"\\a\"
    dependencies: [\"ghost\\e[0m\", \"\\u202emirror\"]
    env_vars: {X: \"${VAR\\e[1m}\"}
  - name: second
    image_repo: \"UPPER\\e[31m\"
    retries: \"\\e[5m\"
";

#[test]
fn nothing_from_the_file_acts_on_the_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(dir.path().join("in\u{1b}[1mput")).expect("the volume's directory");
    let valid = dir.path().join("hostile.yaml");
    std::fs::write(&valid, HOSTILE).expect("write");
    let invalid = dir.path().join("hostile-invalid.yaml");
    std::fs::write(&invalid, HOSTILE_INVALID).expect("write");
    let commands: &[&[&str]] = &[
        &["validate"],
        &["plan", "--engine", "none"],
        &["graph"],
        &["graph", "--format", "mermaid"],
        &["run", "--dry-run", "--engine", "docker"],
    ];
    for file in [&valid, &invalid] {
        for args in commands {
            let output = run(copili().arg(args[0]).arg(file).args(&args[1..]).current_dir(dir.path()));
            let what = format!("copili {} {}", args.join(" "), file.display());
            assert_inert(&what, &output);
            if file == &valid {
                assert_eq!(output.code(), Some(0), "{what}\n{}", output.describe());
            } else {
                assert_eq!(output.code(), Some(2), "{what}\n{}", output.describe());
                // The escapes are shown, so that people see what is in the file.
                assert!(output.stderr().contains("\\x1b"), "{what}\n{}", output.describe());
            }
        }
    }
    // The file's name is shown too.
    let named = dir.path().join("named\u{1b}[31m.yaml");
    std::fs::write(&named, HOSTILE_INVALID).expect("write");
    assert_inert("a file name with ESC", &run(copili().arg("validate").arg(&named)));
}

/// A one-line JSON file of 50 KB with two errors: each snippet shows a window around the place.
#[test]
fn a_long_line_is_cut_around_the_place() {
    let containers: Vec<serde_json::Value> = (0..400)
        .map(|i| {
            let mut c = serde_json::json!({
                "name": format!("c{i}"),
                "image_repo": "busybox",
                "command": ["sh", "-c", format!("echo {}", "x".repeat(30))],
                "env_vars": {"K": "hunter2"}
            });
            if i == 100 {
                c["tag"] = ".bad".into();
            }
            if i == 300 {
                c["dependencies"] = "nope".into();
            }
            c
        })
        .collect();
    let text = serde_json::json!({ "p": containers }).to_string();
    assert!(text.len() > 42_000 && !text.contains('\n'));
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("big-one-line.json");
    std::fs::write(&file, &text).expect("write");
    let output = run(copili().arg("validate").arg(&file));
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    let stderr = output.stderr();
    assert!(stderr.len() < 8 * 1024, "{} bytes:\n{stderr}", stderr.len());
    assert!(!stderr.contains("hunter2"), "{stderr}");
    // Both errors, each with its place shown and underlined.
    for (key, value) in [("\"tag\":", "\".bad\""), ("\"dependencies\":", "\"nope\"")] {
        let shown = format!("{key}{value}");
        let column = text.find(&shown).map_or(0, |at| at + key.len() + 1);
        assert!(stderr.contains(&format!("big-one-line.json:1:{column} ")), "{shown} at {column}\n{stderr}");
        let snippet = stderr.lines().find(|l| l.starts_with("1 | ") && l.contains(&shown)).unwrap_or_default();
        let underline = stderr.lines().skip_while(|l| *l != snippet).nth(1).unwrap_or_default();
        let at = snippet.find(&shown).map_or(usize::MAX, |at| at + key.len());
        assert_eq!(underline.find('^'), Some(at), "{snippet}\n{underline}");
        assert_eq!(underline.matches('^').count(), value.len(), "{underline}");
        assert!(snippet.starts_with("1 | ...") && snippet.ends_with("..."), "{snippet}");
        assert!(snippet.chars().count() < 120, "{snippet}");
    }
}
