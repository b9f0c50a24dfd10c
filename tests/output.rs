//! End-to-end tests of a container's output under `copili run` on real engines: a large
//! output arrives complete in the console and the log file, and a line longer than 1 MiB
//! (`copili_runtime::MAX_LINE_BYTES`) comes in pieces, each followed by a note saying so.
//!
//! The engines must have been set up (`cargo xtask setup`): a missing engine fails these
//! tests, it never skips them.

use copili_e2e::{assert_finished, engine_tests, run, Engine, Output, Scene};

engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker,
    swarm => copili_e2e::Engine::Swarm;
    [ten_megabytes_with_a_five_megabyte_line]
);

const PIECE: usize = 1 << 20;
const LONG_LINE: usize = 5_000_000;
const SHORT_LINE: &str = "0123456789abcdefghi";
const SHORT_LINES: usize = 250_000;
const NOTE: &str = "line longer than 1 MiB: split, continued on the next line";

/// 10 MB: a 5 MB line of `a`, then 250,000 lines of 19 characters, the last without a line end.
fn pipeline(scene: &Scene) -> std::path::PathBuf {
    let script = format!(
        "head -c {LONG_LINE} /dev/zero | tr '\\0' a; echo; yes {SHORT_LINE} | head -c {}",
        SHORT_LINES * (SHORT_LINE.len() + 1) - 1
    );
    scene.write(
        "output.yaml",
        // A single-quoted YAML scalar: no escapes, quotes doubled.
        &format!(
            "out:\n  - {{name: big, image_repo: localhost/copili-test, command: [sh, -c, '{}']}}\n",
            script.replace('\'', "''")
        ),
    )
}

/// What a container's output lines (`lines`, without copili's own) must be: the long line in
/// pieces of 1 MiB, a note after each piece but the last, then every short line.
fn assert_output(what: &str, lines: &[&str], is_note: impl Fn(&str) -> bool, output: &Output) {
    let pieces = LONG_LINE / PIECE;
    let mut at = 0;
    for piece in 0..=pieces {
        let expected = if piece < pieces { PIECE } else { LONG_LINE % PIECE };
        let line = lines.get(at).copied().unwrap_or_default();
        assert!(
            line.len() == expected && line.bytes().all(|b| b == b'a'),
            "{what}: piece {piece} of the long line: {} bytes, expected {expected} of `a`\n{}",
            line.len(),
            output.describe().chars().take(2000).collect::<String>()
        );
        at += 1;
        if piece < pieces {
            let note = lines.get(at).copied().unwrap_or_default();
            assert!(is_note(note), "{what}: after piece {piece}, the note; found `{note}`");
            at += 1;
        }
    }
    let rest = &lines[at..];
    assert_eq!(rest.len(), SHORT_LINES, "{what}: every short line, the last one without its line end too");
    assert!(rest.iter().all(|line| *line == SHORT_LINE), "{what}: the short lines are whole");
}

fn ten_megabytes_with_a_five_megabyte_line(engine: Engine) {
    let scene = Scene::new(engine, "bigout");
    let file = pipeline(&scene);
    let logs = scene.path("logs");
    let output = run(scene.run_command(&file).arg("--log-dir").arg(&logs));
    assert_eq!(output.code(), Some(0), "{}", output.describe().chars().take(2000).collect::<String>());
    assert_finished(&output, "big", "succeeded", "");
    scene.assert_no_leftovers();

    // The console: the container's lines prefixed `big | `, the notes copili's own lines.
    let stdout = output.stdout();
    let console: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("big | ").or_else(|| line.starts_with("--- big: ").then_some(line)))
        .collect();
    assert_output("console", &console, |line| line == format!("--- big: {NOTE}"), &output);

    // The log file: the output between the `attempt 1` rule and the result block.
    let path = logs.join("big.log");
    let log = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let body: Vec<&str> = log
        .lines()
        .skip_while(|line| !(line.starts_with("----") && line.ends_with(" attempt 1")))
        .skip(1)
        .take_while(|line| !(line.starts_with("----") && line.ends_with(" result")))
        .collect();
    assert_output("log file", &body, |line| line.starts_with("----") && line.ends_with(NOTE), &output);
}
