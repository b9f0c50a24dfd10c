//! End-to-end tests of the real `copili` binary on valid input: validate, plan, graph, schema,
//! completions, selection, variables and secrets, standard input, usage errors; every command
//! with a standard output that fails; help, man pages and paths on the command line.

use std::path::{Path, PathBuf};

use copili_e2e::{copili, redact, repo_root, run, run_with_stdin, Output};
use serde_json::{json, Value};

const QUICKSTART: &str = "examples/quickstart.yaml";
const SEED_QUICK_EXAMPLE: &str = "tests/fixtures/valid/seed-quick-example.yaml";
const ENVIRONMENTS: &str = "tests/fixtures/valid/environments.yaml";
const SECRETS: &str = "tests/fixtures/valid/secrets.yaml";

/// Never to be printed: the value of `DB_PASSWORD` in the variable tests.
const SECRET: &str = "hunter2-db-password";

/// Runs `copili ARGS` and asserts it succeeded.
fn success(args: &[&str]) -> Output {
    let output = run(copili().args(args));
    assert_eq!(output.code(), Some(0), "copili {}\n{}", args.join(" "), output.describe());
    output
}

/// Runs `copili plan ARGS --format json` and parses the plan.
fn plan_json(args: &[&str]) -> Value {
    let mut all = vec!["plan"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--format", "json"]);
    parse(&success(&all))
}

fn parse(output: &Output) -> Value {
    serde_json::from_str(&output.stdout()).unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", output.describe()))
}

/// The container named `name` of a JSON plan.
fn container<'a>(plan: &'a Value, name: &str) -> &'a Value {
    plan["containers"]
        .as_array()
        .expect("`containers` is a list")
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no container `{name}` in the plan: {plan:#}"))
}

/// `examples/json-01-*.json` … `json-03-*.json`.
fn json_examples() -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir(repo_root().join("examples"))
        .expect("examples/ is readable")
        .map(|e| e.expect("a directory entry").file_name().to_string_lossy().into_owned())
        .filter(|n| ["json-01-", "json-02-", "json-03-"].iter().any(|p| n.starts_with(p)) && n.ends_with(".json"))
        .map(|n| format!("examples/{n}"))
        .collect();
    found.sort();
    found
}

// --- validate -------------------------------------------------------------------------------

#[test]
fn validate_accepts_the_examples() {
    let mut files = vec![QUICKSTART.to_string()];
    let json = json_examples();
    assert_eq!(json.len(), 3, "expected examples/json-0{{1,2,3}}-*.json, found {json:?}");
    files.extend(json);
    for file in &files {
        let output = success(&["validate", file]);
        assert!(output.stdout().contains("is valid"), "{file}: {}", output.describe());
        assert_eq!(output.stderr(), "", "{file}: no warnings expected");
    }
}

/// A sidecar is scoped to its container: it may be named like another container of the
/// pipeline (it is reached by name only on its own job's network).
#[test]
fn validate_accepts_a_sidecar_named_like_another_container() {
    let file = "tests/fixtures/valid/sidecar-named-like-another-container.yaml";
    let output = success(&["validate", file]);
    assert!(output.stdout().contains("is valid"), "{}", output.describe());
    let plan = plan_json(&[file]);
    assert_eq!(plan["levels"], json!([["cache", "fetch_genes"]]));
    assert_eq!(container(&plan, "fetch_genes")["sidecars"][0]["name"], "cache");
}

#[test]
fn validate_accepts_the_seed_examples_verbatim() {
    for file in [
        SEED_QUICK_EXAMPLE,
        "tests/fixtures/valid/seed-json-01-hello.json",
        "tests/fixtures/valid/seed-json-02-dependency.json",
        "tests/fixtures/valid/seed-json-03-sidecar.json",
    ] {
        let output = success(&["validate", file]);
        assert!(output.stdout().contains("is valid"), "{file}: {}", output.describe());
    }
    // The seed's JSON spells `repo` and `dependency`: both are read.
    let plan = plan_json(&["tests/fixtures/valid/seed-json-03-sidecar.json"]);
    assert_eq!(plan["levels"], json!([["my-first-container"], ["my-second-container"]]));
    let second = container(&plan, "my-second-container");
    assert_eq!(second["image"], "chentex/random-logger:latest");
    assert_eq!(second["sidecars"][0]["name"], "redis01");
}

#[test]
fn validate_summarises_the_pipeline_on_stdout() {
    let output = success(&["validate", QUICKSTART]);
    assert_eq!(
        output.stdout(),
        "examples/quickstart.yaml: pipeline `ExmaplePipeline` is valid: 4 containers, 4 selected in 3 levels\n"
    );
}

// --- plan and graph -------------------------------------------------------------------------

#[test]
fn plan_levels_of_the_quick_example() {
    let expected = json!([["dataloader_01"], ["dataloader_02"], ["dataloader_03", "servicecontainer01"]]);
    for file in [QUICKSTART, SEED_QUICK_EXAMPLE] {
        let plan = plan_json(&[file]);
        assert_eq!(plan["levels"], expected, "{file}");
        assert_eq!(plan["pipeline"], "ExmaplePipeline", "{file}");
        assert_eq!(plan["source"], file);
    }
}

#[test]
fn plan_text_snapshot() {
    let output = success(&["plan", QUICKSTART, "--engine", "none"]);
    insta::assert_snapshot!("plan_text_quickstart", redact(&output.stdout()));
}

#[test]
fn plan_json_snapshot() {
    let output = success(&["plan", QUICKSTART, "--format", "json", "--engine", "none"]);
    insta::assert_snapshot!("plan_json_quickstart", redact(&output.stdout()));
}

#[test]
fn graph_dot_snapshot() {
    let output = success(&["graph", QUICKSTART, "--format", "dot"]);
    assert_eq!(output.stdout(), success(&["graph", QUICKSTART]).stdout(), "dot is the default format");
    insta::assert_snapshot!("graph_dot_quickstart", redact(&output.stdout()));
}

#[test]
fn graph_mermaid_snapshot() {
    let output = success(&["graph", QUICKSTART, "--format", "mermaid"]);
    insta::assert_snapshot!("graph_mermaid_quickstart", redact(&output.stdout()));
}

#[test]
fn help_snapshots() {
    let output = success(&["--help"]);
    assert!(output.stdout().contains("Examples:"), "{}", output.describe());
    insta::assert_snapshot!("help", output.stdout());
    let output = success(&["plan", "--help"]);
    assert!(output.stdout().contains("--only"), "{}", output.describe());
    insta::assert_snapshot!("help_plan", output.stdout());
}

#[test]
fn name_replaces_the_pipeline_identity() {
    let plan = plan_json(&[QUICKSTART, "--name", "other"]);
    assert_eq!(plan["pipeline"], "other");
    let output = success(&["validate", QUICKSTART, "--name", "other"]);
    assert!(output.stdout().contains("pipeline `other`"), "{}", output.describe());
}

// --- selection ------------------------------------------------------------------------------

/// Asserts the PROD selection of `environments.yaml` (or its copy with a `.env`).
fn assert_prod_selection(plan: &Value, stderr: &str) {
    assert_eq!(plan["environment"], "PROD");
    assert_eq!(
        plan["excluded"],
        json!([{"name": "load_test_data", "reason": "excluded in environment `PROD`", "kind": "environment"}])
    );
    let levels = plan["levels"].to_string();
    assert!(!levels.contains("load_test_data"), "an excluded container is in a level: {levels}");
    assert_eq!(container(plan, "check_test_data")["blocked_by"], "load_test_data");
    assert_eq!(container(plan, "link_genes")["blocked_by"], Value::Null);
    assert!(
        stderr.contains("warning:") && stderr.contains("`check_test_data` depends on `load_test_data`"),
        "no warning about the blocked container:\n{stderr}"
    );
}

#[test]
fn no_environment_excludes_nothing() {
    let output = success(&["plan", ENVIRONMENTS, "--format", "json"]);
    let plan = parse(&output);
    assert_eq!(plan["environment"], Value::Null);
    assert_eq!(plan["excluded"], json!([]));
    assert_eq!(output.stderr(), "");
}

#[test]
fn env_variable_selects_the_environment() {
    let output = run(copili().env("ENV", "PROD").args(["plan", ENVIRONMENTS, "--format", "json"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_prod_selection(&parse(&output), &output.stderr());
}

#[test]
fn environment_flag_selects_the_environment() {
    let output = success(&["plan", ENVIRONMENTS, "--environment", "PROD", "--format", "json"]);
    assert_prod_selection(&parse(&output), &output.stderr());
}

#[test]
fn environment_flag_wins_over_env_variable() {
    let output =
        run(copili().env("ENV", "PROD").args(["plan", ENVIRONMENTS, "--environment", "QA", "--format", "json"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let plan = parse(&output);
    assert_eq!(plan["environment"], "QA");
    assert_eq!(plan["excluded"], json!([]));
}

#[test]
fn env_in_dotenv_beside_the_file_selects_the_environment() {
    let output = success(&["plan", "tests/fixtures/valid/dotenv-prod/pipeline.yaml", "--format", "json"]);
    assert_prod_selection(&parse(&output), &output.stderr());
    let text = success(&["plan", "tests/fixtures/valid/dotenv-prod/pipeline.yaml"]).stdout();
    assert!(text.contains("environment: PROD"), "{text}");
    assert!(text.contains("load_test_data  excluded in environment `PROD`"), "{text}");
}

#[test]
fn only_adds_the_dependencies() {
    let plan = plan_json(&[ENVIRONMENTS, "--only", "refresh_index"]);
    assert_eq!(plan["levels"], json!([["fetch_genes"], ["link_genes"], ["refresh_index"]]));
    assert_eq!(plan["added_by_only"], json!(["fetch_genes", "link_genes"]));
    assert_eq!(
        plan["excluded"],
        json!([
            {"name": "load_test_data", "reason": "not selected by --only", "kind": "only"},
            {"name": "check_test_data", "reason": "not selected by --only", "kind": "only"}
        ])
    );
}

#[test]
fn only_comma_form_and_repeated_form_agree() {
    let comma = plan_json(&[ENVIRONMENTS, "--only", "link_genes,check_test_data"]);
    let repeated = plan_json(&[ENVIRONMENTS, "--only", "link_genes", "--only", "check_test_data"]);
    assert_eq!(comma, repeated);
    assert_eq!(comma["levels"], json!([["fetch_genes", "load_test_data"], ["check_test_data", "link_genes"]]));
    assert_eq!(comma["added_by_only"], json!(["fetch_genes", "load_test_data"]));
}

#[test]
fn skip_leaves_out_and_blocks_dependents() {
    let output = success(&["plan", ENVIRONMENTS, "--skip", "link_genes", "--format", "json"]);
    let plan = parse(&output);
    assert_eq!(plan["excluded"], json!([{"name": "link_genes", "reason": "skipped by --skip", "kind": "skip"}]));
    assert_eq!(container(&plan, "refresh_index")["blocked_by"], "link_genes");
    assert!(output.stderr().contains("`refresh_index` depends on `link_genes`"), "{}", output.describe());
    let both = plan_json(&[ENVIRONMENTS, "--skip", "link_genes,check_test_data"]);
    let excluded: Vec<&str> =
        both["excluded"].as_array().expect("a list").iter().filter_map(|e| e["name"].as_str()).collect();
    assert_eq!(excluded, ["check_test_data", "link_genes"]);
}

#[test]
fn service_only_plans_service_containers() {
    let plan = plan_json(&[ENVIRONMENTS, "--service-only"]);
    assert_eq!(plan["levels"], json!([["refresh_index"]]));
    assert_eq!(plan["external_dependencies"], json!([{"container": "refresh_index", "dependency": "link_genes"}]));
    let reasons: Vec<&str> =
        plan["excluded"].as_array().expect("a list").iter().filter_map(|e| e["reason"].as_str()).collect();
    assert_eq!(reasons, ["not a service container"; 4]);
}

// --- variables and secrets ------------------------------------------------------------------

/// A temporary directory holding a copy of `secrets.yaml` (and whatever the test adds).
fn secrets_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("secrets.yaml");
    std::fs::copy(repo_root().join(SECRETS), &file).expect("the fixture can be copied");
    (dir, file)
}

/// Every command that reads a pipeline, in every format.
const ALL_COMMANDS: &[&[&str]] = &[
    &["validate"],
    &["plan", "--format", "text"],
    &["plan", "--format", "json"],
    &["graph", "--format", "dot"],
    &["graph", "--format", "mermaid"],
];

/// Runs every command on `file` with `extra` arguments and `env`; asserts exit 0 and that
/// the secret is printed nowhere. Returns the JSON plan.
fn assert_secret_never_printed(file: &Path, extra: &[&str], env: &[(&str, &str)]) -> Value {
    let mut plan = Value::Null;
    for command in ALL_COMMANDS {
        let mut cmd = copili();
        cmd.args(&command[..1]).arg(file).args(&command[1..]).args(extra);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let output = run(&mut cmd);
        assert_eq!(output.code(), Some(0), "{command:?}: {}", output.describe());
        assert!(
            !output.stdout().contains(SECRET) && !output.stderr().contains(SECRET),
            "{command:?} printed the secret:\n{}",
            output.describe()
        );
        if command.contains(&"json") {
            plan = parse(&output);
        }
    }
    plan
}

/// Asserts that the plan masks the password everywhere and names where it came from.
fn assert_masked(plan: &Value, source: &str) {
    let fetch = container(plan, "fetch_genes");
    assert_eq!(fetch["image_reg_password"], "****");
    assert_eq!(fetch["image_reg_username"], "loader");
    assert_eq!(fetch["env_vars"]["GC_NEO4J_PASSWORD"], "****");
    assert_eq!(container(plan, "link_genes")["env_vars"]["GC_NEO4J_PASSWORD"], "****");
    let variables = &plan["variables"];
    assert!(
        variables.as_array().expect("a list").contains(&json!({"name": "DB_PASSWORD", "source": source})),
        "DB_PASSWORD should come from {source}: {variables:#}"
    );
    assert!(variables.as_array().expect("a list").contains(&json!({"name": "REGISTRY_USER", "source": "default"})));
}

#[test]
fn secret_from_the_process_environment() {
    let plan =
        assert_secret_never_printed(&repo_root().join(SECRETS), &[], &[("DB_PASSWORD", SECRET), ("LOADER_TAG", "2.1")]);
    assert_masked(&plan, "env");
    assert_eq!(container(&plan, "fetch_genes")["image"], "registry.example.com/loaders/genes:2.1");
}

#[test]
fn secret_from_dotenv_beside_the_file() {
    let (dir, file) = secrets_copy();
    std::fs::write(dir.path().join(".env"), format!("DB_PASSWORD={SECRET}\nLOADER_TAG=1.0\n")).expect("writable");
    let plan = assert_secret_never_printed(&file, &[], &[]);
    assert_masked(&plan, ".env");
    assert_eq!(container(&plan, "fetch_genes")["image"], "registry.example.com/loaders/genes:1.0");
}

#[test]
fn secret_from_env_file_option() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let env_file = dir.path().join("secrets.env");
    std::fs::write(&env_file, format!("DB_PASSWORD='{SECRET}'\nLOADER_TAG=1.1\n")).expect("writable");
    let env_file = env_file.display().to_string();
    let plan = assert_secret_never_printed(&repo_root().join(SECRETS), &["--env-file", &env_file], &[]);
    assert_masked(&plan, ".env");
    assert_eq!(container(&plan, "fetch_genes")["image"], "registry.example.com/loaders/genes:1.1");
}

#[test]
fn process_environment_wins_over_dotenv() {
    let (dir, file) = secrets_copy();
    std::fs::write(dir.path().join(".env"), "DB_PASSWORD=from-dotenv\nLOADER_TAG=1.0\n").expect("writable");
    let plan = assert_secret_never_printed(&file, &[], &[("DB_PASSWORD", SECRET), ("LOADER_TAG", "2.1")]);
    assert_masked(&plan, "env");
    assert_eq!(container(&plan, "fetch_genes")["image"], "registry.example.com/loaders/genes:2.1");
}

#[test]
fn undefined_variable_is_a_warning_unless_strict() {
    let file = "tests/fixtures/valid/undefined-variable.yaml";
    let output = success(&["validate", file]);
    let stderr = output.stderr();
    assert!(stderr.contains("warning:"), "{stderr}");
    assert!(stderr.contains("`NEO4J_URL`"), "the variable is not named:\n{stderr}");
    assert!(stderr.contains("container `fetch_genes`"), "the container is not named:\n{stderr}");
    assert!(stderr.contains("property `env_vars.GC_NEO4J_URL`"), "the property is not named:\n{stderr}");
    assert!(output.stdout().contains("1 warning"), "{}", output.describe());

    let plan = plan_json(&[file]);
    assert_eq!(plan["variables"], json!([{"name": "NEO4J_URL", "source": "undefined"}]));

    let strict = run(copili().args(["validate", file, "--strict-env"]));
    assert_eq!(strict.code(), Some(2), "{}", strict.describe());
    assert_eq!(strict.stdout(), "");
    assert!(strict.stderr().contains("error: variable `NEO4J_URL` is not set"), "{}", strict.describe());
}

// --- standard input -------------------------------------------------------------------------

fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_root().join(relative)).expect("the file is readable")
}

#[test]
fn yaml_on_stdin() {
    let output = run_with_stdin(copili().args(["validate", "-"]), &read(QUICKSTART));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert!(output.stdout().starts_with("<stdin>: pipeline `ExmaplePipeline` is valid"), "{}", output.describe());
    let plan = parse(&run_with_stdin(copili().args(["plan", "-", "--format", "json"]), &read(QUICKSTART)));
    assert_eq!(plan["levels"], json!([["dataloader_01"], ["dataloader_02"], ["dataloader_03", "servicecontainer01"]]));
}

#[test]
fn json_on_stdin() {
    for file in [json_examples(), vec!["tests/fixtures/valid/seed-json-02-dependency.json".to_string()]].concat() {
        let output = run_with_stdin(copili().args(["plan", "-", "--format", "json"]), &read(&file));
        assert_eq!(output.code(), Some(0), "{file}: {}", output.describe());
        assert_eq!(parse(&output)["pipeline"], "my-pipeline-name", "{file}");
    }
}

#[test]
fn invalid_input_on_stdin_is_located_in_stdin() {
    let output = run_with_stdin(copili().args(["validate", "-"]), "p:\n  - name: a\n    image_rep: busybox\n");
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert!(output.stderr().contains("--> <stdin>:3:5"), "{}", output.describe());
}

#[test]
fn stdin_reads_dotenv_of_the_working_directory() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(dir.path().join(".env"), format!("LOADER_TAG=3.0\nDB_PASSWORD={SECRET}\n")).expect("writable");
    let output =
        run_with_stdin(copili().current_dir(dir.path()).args(["plan", "-", "--format", "json"]), &read(SECRETS));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert!(!output.stdout().contains(SECRET) && !output.stderr().contains(SECRET), "{}", output.describe());
    let plan = parse(&output);
    assert_eq!(container(&plan, "fetch_genes")["image"], "registry.example.com/loaders/genes:3.0");
    assert_masked(&plan, ".env");
}

// --- other commands and usage errors ----------------------------------------------------------

#[test]
fn schema_is_json_with_a_schema_key() {
    let schema = parse(&success(&["schema"]));
    assert!(schema["$schema"].as_str().is_some_and(|s| s.contains("json-schema.org")), "{schema:#}");
}

#[test]
fn completions_for_bash() {
    let output = success(&["completions", "bash"]);
    assert!(output.stdout().contains("copili"), "{}", output.describe());
}

#[test]
fn unknown_subcommand_or_flag_is_a_usage_error() {
    for args in
        [&["frobnicate"][..], &["validate", "--frobnicate", QUICKSTART], &["plan", QUICKSTART, "--format", "yaml"]]
    {
        let output = run(copili().args(args));
        assert_eq!(output.code(), Some(2), "{args:?}: {}", output.describe());
        assert_eq!(output.stdout(), "", "{args:?}");
        assert!(output.stderr().contains("error:"), "{args:?}: {}", output.describe());
    }
}

#[test]
fn missing_file_is_invalid_input() {
    let output = run(copili().args(["validate", "tests/fixtures/valid/no-such-pipeline.yaml"]));
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert!(output.stderr().contains("no such file"), "{}", output.describe());
}

/// `plan --engine swarm`: the exact `docker service` commands a run makes, in its order (the
/// overlay network, the sidecars, the job), with no engine asked; a warning for each bind mount
/// without a placement constraint.
#[test]
fn plan_for_swarm_shows_the_service_commands() {
    let sidecars = "tests/fixtures/run/sidecars.yaml";
    let output = success(&["plan", sidecars, "--engine", "swarm", "--format", "json"]);
    let plan: Value = serde_json::from_str(&output.stdout()).expect("JSON");
    let commands = plan["swarm_commands"].as_object().expect("swarm_commands");
    let (name, lines) =
        commands.iter().find(|(_, l)| l.as_array().is_some_and(|l| l.len() > 1)).expect("one with a sidecar");
    let lines: Vec<&str> = lines.as_array().expect("lines").iter().filter_map(Value::as_str).collect();
    assert!(lines[0].starts_with("docker network create --driver overlay --attachable "), "{lines:#?}");
    assert!(lines[1].contains("--replicas 1 --endpoint-mode dnsrr"), "{lines:#?}");
    let job = lines.last().expect("the job");
    assert!(job.contains("--mode replicated-job --restart-condition none"), "{job}");
    assert!(job.contains(&format!("--container-label io.copili.container={name}")), "{job}");
    assert!(!output.stderr().contains("bind-mounts"), "{}", output.describe());

    let output = success(&["plan", "tests/fixtures/run/mounts.yaml", "--engine", "swarm"]);
    assert!(output.stdout().contains("swarm (docker service commands"), "{}", output.describe());
    assert!(output.stdout().contains("--mount type=bind,source="), "{}", output.describe());
    assert!(output.stderr().contains("bind-mounts a host path but has no `placement`"), "{}", output.describe());
}

/// `--engine swarm` on a docker engine that is not in swarm mode: exit code 3, one line that
/// says how to enable it. The docker client is a stand-in answering as such an engine does.
#[test]
fn swarm_mode_not_active_is_engine_unavailable() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let docker = dir.path().join("docker");
    std::fs::write(
        &docker,
        "#!/bin/sh\ncase \"$*\" in\n  version*) echo 20.10.24 ;;\n  info*) echo 'inactive false' ;;\n  *) echo \"unexpected: $*\" >&2; exit 1 ;;\nesac\n",
    )
    .expect("write the stand-in");
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let output = run(copili().args(["run", QUICKSTART, "--engine", "swarm"]).env("PATH", dir.path()));
    assert_eq!(output.code(), Some(3), "{}", output.describe());
    let stderr = output.stderr();
    assert_eq!(stderr.lines().count(), 1, "one line\n{}", output.describe());
    assert!(stderr.contains("Docker Swarm mode is not active") && stderr.contains("docker swarm init"), "{stderr}");
}

// --- output that cannot be written -------------------------------------------------------------

/// A client that answers as an engine without any container or network of copili's: enough
/// for `copili clean` to print its one line.
fn empty_engine(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;

    let docker = dir.join("docker");
    std::fs::write(&docker, "#!/bin/sh\ncase \"$1\" in\n  version) echo 24.0.7 ;;\n  *) ;;\nesac\n")
        .expect("write the stand-in");
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    docker
}

/// A command of [`commands_that_print`].
struct Printing {
    args: Vec<String>,
    /// Runs until stopped (`service`): SIGTERM once it wrote its state, which it does after
    /// its first lines.
    until_stopped: Option<PathBuf>,
}

/// Every command, with arguments that make it write to standard output, and no engine needed:
/// `clean` and `service` get a stand-in, `service` goes straight to its (empty) schedule and is
/// stopped. One list for every way stdout can fail.
fn commands_that_print(dir: &Path) -> Vec<Printing> {
    let engine = empty_engine(dir).display().to_string();
    let state = dir.join("state").display().to_string();
    let lines = [
        format!("validate {QUICKSTART}"),
        format!("plan {QUICKSTART} --engine none"),
        format!("plan {QUICKSTART} --engine none --format json"),
        format!("graph {QUICKSTART}"),
        format!("graph {QUICKSTART} --format mermaid"),
        format!("run {QUICKSTART} --dry-run --engine docker"),
        format!("status {QUICKSTART} --state-dir {state}"),
        format!("status {QUICKSTART} --state-dir {state} --format json"),
        format!("clean --engine {engine}"),
        format!("export argo {QUICKSTART} --timezone UTC"),
        "schema".to_string(),
        "completions bash".to_string(),
        "completions fish".to_string(),
        "--help".to_string(),
        "-h".to_string(),
        "--version".to_string(),
        "plan --help".to_string(),
        "help run".to_string(),
        "help --help".to_string(),
        format!("man {}", dir.join("man").display()),
    ];
    let mut commands: Vec<Printing> = lines
        .iter()
        .map(|line| Printing { args: line.split(' ').map(String::from).collect(), until_stopped: None })
        .collect();
    // Without service containers, service mode says so on stdout and waits to be stopped.
    let service_state = dir.join("service-state");
    let args = ["service", "tests/fixtures/valid/seed-json-01-hello.json", "--no-initial-run", "--engine", &engine];
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    args.extend(["--state-dir".to_string(), service_state.display().to_string()]);
    commands.push(Printing { args, until_stopped: Some(service_state) });
    commands
}

/// Runs a command of [`commands_that_print`] with `stdout` as its standard output; its lock
/// (`service`) in `dir`, not where other tests' are.
fn run_with_stdout(command: &Printing, dir: &Path, stdout: std::process::Stdio) -> Output {
    let mut child = copili()
        .args(&command.args)
        .env("XDG_RUNTIME_DIR", dir)
        .stdin(std::process::Stdio::null())
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the command can be started");
    if let Some(state) = &command.until_stopped {
        let started = std::time::Instant::now();
        let saved = || {
            std::fs::read_dir(state)
                .map(|entries| entries.flatten().any(|e| e.file_name().to_string_lossy().ends_with(".json")))
                .unwrap_or(false)
        };
        while !saved() {
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?} wrote no state", command.args);
            assert!(child.try_wait().expect("the child can be polled").is_none(), "{:?} ended early", command.args);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let status = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill can be run");
        assert!(status.success(), "kill -TERM failed");
    }
    Output { raw: child.wait_with_output().expect("the command can be waited for") }
}

/// Before the fix, `copili validate F > /dev/full` panicked (exit 101).
#[test]
fn a_full_disk_is_one_line_and_exit_1_for_every_command() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for command in commands_that_print(dir.path()) {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full can be opened");
        let output = run_with_stdout(&command, dir.path(), full.into());
        let what = format!("copili {}: {}", command.args.join(" "), output.describe());
        assert_eq!(output.code(), Some(1), "{what}");
        let stderr = output.stderr();
        assert!(!stderr.contains("panicked"), "{what}");
        let about_stdout: Vec<&str> = stderr.lines().filter(|l| l.contains("standard output")).collect();
        assert_eq!(about_stdout, ["error: cannot write to standard output: No space left on device"], "{what}");
    }
}

/// A reader that went away (`copili plan F | head -1`) is not an error: the command ends
/// quietly, with the exit code it would have had (0 here, as ripgrep's). The pipe's read end
/// is closed before the command starts, so every write fails with EPIPE.
#[test]
fn a_closed_pipe_ends_quietly_for_every_command() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for command in commands_that_print(dir.path()) {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let output = run_with_stdout(&command, dir.path(), writer.into());
        let what = format!("copili {}: {}", command.args.join(" "), output.describe());
        assert_eq!(output.code(), Some(0), "{what}");
        let stderr = output.stderr();
        assert!(!stderr.contains("panicked") && !stderr.contains("standard output"), "{what}");
    }
}

/// The commands of the list do print when stdout works (else the two tests above prove
/// nothing).
#[test]
fn every_command_of_the_list_prints() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for command in commands_that_print(dir.path()) {
        let output = run_with_stdout(&command, dir.path(), std::process::Stdio::piped());
        let what = format!("copili {}: {}", command.args.join(" "), output.describe());
        assert_eq!(output.code(), Some(0), "{what}");
        assert!(!output.stdout().is_empty(), "{what}");
    }
}

// --- help, completions and man pages as documented ----------------------------------------------

/// `copili help --help` is the help of `help` (clap's own `help` refused it), and `copili help
/// COMMAND` is `copili COMMAND --help`, subcommands included.
#[test]
fn help_is_a_command_with_a_help_of_its_own() {
    let output = success(&["help", "--help"]);
    assert!(output.stdout().contains("Usage: copili help [COMMAND]..."), "{}", output.describe());
    assert_eq!(success(&["help"]).stdout(), success(&["--help"]).stdout());
    for command in [&["plan"][..], &["run"], &["service"], &["export", "argo"], &["help"]] {
        let mut help = vec!["help"];
        help.extend_from_slice(command);
        let mut flag = command.to_vec();
        flag.push("--help");
        assert_eq!(success(&help).stdout(), success(&flag).stdout(), "{command:?}");
    }
    let output = run(copili().args(["help", "frobnicate"]));
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert!(output.stderr().contains("unrecognized subcommand 'frobnicate'"), "{}", output.describe());
}

/// `service --help` offers only what `service` takes; `run --help` still has `--dry-run` and
/// `--resume`, which `service` refuses as unknown (exit 2).
#[test]
fn service_offers_only_the_options_it_takes() {
    let service = success(&["service", "--help"]).stdout();
    let run_help = success(&["run", "--help"]).stdout();
    for option in ["--dry-run", "--resume", "--report-html"] {
        assert!(!service.contains(option), "service --help offers {option}:\n{service}");
        assert!(run_help.contains(option), "run --help lacks {option}:\n{run_help}");
        let output = run(copili().args(["service", QUICKSTART, option]));
        assert_eq!(output.code(), Some(2), "{option}: {}", output.describe());
        assert!(output.stderr().contains(&format!("unexpected argument '{option}'")), "{}", output.describe());
    }
    for option in
        ["--engine", "--jobs", "--fail-fast", "--stop-timeout", "--set-env", "--log-dir", "--force", "--every"]
    {
        assert!(service.contains(option), "service --help lacks {option}:\n{service}");
    }
    insta::assert_snapshot!("help_run", run_help);
    insta::assert_snapshot!("help_service", service);
}

/// Every command with `--engine` names `swarm` in its help.
#[test]
fn engine_help_names_swarm_wherever_it_is_taken() {
    for command in ["plan", "run", "service", "clean"] {
        let help = success(&[command, "--help"]).stdout();
        let engine = help.split("--engine <ENGINE>").nth(1).unwrap_or_else(|| panic!("{command}: no --engine\n{help}"));
        let text: String =
            engine.split("\n  -").next().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains("`swarm`"), "{command}: {text}");
    }
}

/// `--engine none` is `plan`'s; `run`, `service` and `clean` refuse it with one line and exit 2,
/// from the flag or from `COPILI_ENGINE`, and never run a program called `none` (one is in the
/// working directory and on `PATH` here, and would leave a mark). A dry run takes it as `auto`.
#[test]
fn engine_none_is_refused_by_the_commands_that_need_an_engine() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let mark = dir.path().join("ran");
    let none = dir.path().join("none");
    std::fs::write(&none, format!("#!/bin/sh\ntouch {}\n", mark.display())).expect("write the trap");
    std::fs::set_permissions(&none, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let file = repo_root().join(QUICKSTART).display().to_string();
    let path = format!("{}:{}", dir.path().display(), std::env::var("PATH").unwrap_or_default());
    for command in [vec!["run", &file], vec!["service", &file], vec!["clean", &file], vec!["clean"]] {
        for from_env in [false, true] {
            let mut copili = copili();
            copili.current_dir(dir.path()).env("PATH", &path).args(&command);
            if from_env {
                copili.env("COPILI_ENGINE", "none");
            } else {
                copili.args(["--engine", "none"]);
            }
            let output = run(&mut copili);
            let what = format!("{command:?} (from the environment: {from_env}): {}", output.describe());
            assert_eq!(output.code(), Some(2), "{what}");
            let stderr = output.stderr();
            assert_eq!(stderr.lines().count(), 1, "{what}");
            assert!(
                stderr.starts_with(&format!("error: --engine none: `copili {}` needs a container engine", command[0])),
                "{what}"
            );
            assert!(!mark.exists(), "{what}: a program called `none` ran");
        }
    }
    let output =
        run(copili().current_dir(dir.path()).env("PATH", &path).args(["run", &file, "--dry-run", "--engine", "none"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert!(output.stdout().contains(" run --name ExmaplePipeline-dataloader_01"), "{}", output.describe());
    assert!(!mark.exists(), "a program called `none` ran");
    // And `plan` takes it, as before.
    success(&["plan", QUICKSTART, "--engine", "none"]);
}

/// Standard input that is not UTF-8 is invalid input (2), located at its first bad byte.
#[test]
fn stdin_that_is_not_utf8_is_located_invalid_input() {
    use std::io::Write as _;

    for (bytes, expected) in [
        (&b"\xff"[..], ["error: not UTF-8 text: byte 0xff at line 1, column 1", " --> <stdin>:1:1", "1 | \u{fffd}"]),
        (
            &b"p:\n  - name: caf\xc3\xa9\xfe\n"[..],
            [
                "error: not UTF-8 text: byte 0xfe at line 2, column 15",
                " --> <stdin>:2:15",
                "2 |   - name: caf\u{e9}\u{fffd}",
            ],
        ),
    ] {
        for command in ["validate", "plan", "graph"] {
            let mut child = copili()
                .args([command, "-"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("the command can be started");
            child.stdin.take().expect("stdin is piped").write_all(bytes).expect("stdin can be written");
            let output = Output { raw: child.wait_with_output().expect("the command can be waited for") };
            assert_eq!(output.code(), Some(2), "{command}: {}", output.describe());
            let stderr = output.stderr();
            for line in expected {
                assert!(stderr.lines().any(|l| l == line), "{command}: no line {line:?}\n{}", output.describe());
            }
            assert_eq!(output.stdout(), "", "{command}");
        }
    }
}

/// The shells, as clap's fish script leaves them out (it completes options only).
const SHELLS: [&str; 5] = ["bash", "elvish", "fish", "powershell", "zsh"];

/// `copili completions <TAB>` offers the shells in fish as in bash: the script has the line,
/// and fish itself (installed by `cargo xtask setup`), given the script, completes them.
#[test]
fn fish_completes_the_shells_of_completions() {
    let script = success(&["completions", "fish"]).stdout();
    let line = script
        .lines()
        .find(|l| l.contains("__fish_copili_using_subcommand completions") && l.contains(" -a "))
        .unwrap_or_else(|| panic!("no candidates for `copili completions`:\n{script}"));
    for shell in SHELLS {
        assert!(line.contains(shell), "{shell}: {line}");
    }
    let bash = success(&["completions", "bash"]).stdout();
    assert!(bash.contains(&SHELLS.join(" ")), "bash offers the shells");

    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("copili.fish");
    std::fs::write(&file, &script).expect("write the script");
    let ask = |line: &str| -> Vec<String> {
        let output = std::process::Command::new("fish")
            .args(["--no-config", "-c", &format!("source {}; complete -C '{line}'", file.display())])
            .current_dir(dir.path())
            .output()
            .unwrap_or_else(|e| panic!("fish, installed by `cargo xtask setup`, cannot be started: {e}"));
        assert!(output.status.success(), "fish: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(ask("copili completions "), SHELLS);
    assert_eq!(ask("copili completions p"), ["powershell"]);
    assert!(ask("copili ").contains(&"completions".to_string()));
}

/// The commands `copili --help` (and `copili export --help`) lists, with their man page names.
fn man_page_names() -> Vec<String> {
    let commands = |args: &[&str]| -> Vec<String> {
        let help = success(args).stdout();
        let list = help.split("Commands:\n").nth(1).expect("a list of commands");
        list.lines()
            .take_while(|l| l.starts_with("  "))
            // Not the wrapped lines of a description, which are indented further.
            .filter(|l| !l.starts_with("   "))
            .filter_map(|l| l.split_whitespace().next().map(String::from))
            .collect()
    };
    let mut names = vec!["copili".to_string()];
    for command in commands(&["--help"]) {
        names.push(format!("copili-{command}"));
        if command == "export" || command == "bundle" {
            names.extend(commands(&[&command, "--help"]).iter().map(|sub| format!("copili-{command}-{sub}")));
        }
    }
    names
}

/// `copili man DIR` writes a page per command, each valid roff that groff renders without a
/// warning, with its title and NAME, and says which files it wrote.
#[test]
fn man_writes_a_valid_page_per_command() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let man = dir.path().join("share/man/man1");
    let output = success(&["man", &man.display().to_string()]);
    let names = man_page_names();
    assert!(names.len() > 12 && names.contains(&"copili-export-argo".to_string()), "{names:?}");
    let mut written: Vec<String> = std::fs::read_dir(&man)
        .expect("the directory was created")
        .map(|e| e.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut expected: Vec<String> = names.iter().map(|n| format!("{n}.1")).collect();
    expected.sort();
    assert_eq!(written, expected);
    for name in &names {
        let path = man.join(format!("{name}.1"));
        assert!(output.stdout().contains(&format!("wrote {}\n", path.display())), "{}", output.describe());
        let page = std::fs::read_to_string(&path).expect("the page is readable");
        assert!(page.lines().any(|l| l.starts_with(&format!(".TH {name} 1 "))), "{name}: no .TH\n{page}");
        let name_section = page.split(".SH NAME\n").nth(1).unwrap_or_else(|| panic!("{name}: no NAME\n{page}"));
        assert!(name_section.starts_with(&format!("{} \\- ", name.replace('-', "\\-"))), "{name}: {name_section}");
        let rendered = std::process::Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-P-cbu"])
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("groff, installed by `cargo xtask setup`, cannot be started: {e}"));
        let warnings = String::from_utf8_lossy(&rendered.stderr);
        assert!(rendered.status.success() && warnings.is_empty(), "{name}: {warnings}");
        let text = String::from_utf8_lossy(&rendered.stdout);
        assert!(text.contains("NAME") && text.contains("SYNOPSIS"), "{name}:\n{text}");
    }
    let run_page = std::fs::read_to_string(man.join("copili-run.1")).expect("copili-run.1");
    assert!(run_page.contains("dry\\-run") && run_page.contains("swarm"), "{run_page}");
}

// --- paths the engine would read differently ----------------------------------------------------

/// A line break in any path given on the command line is refused before anything is read or
/// run, naming the option; one list of every path option.
#[test]
fn a_line_break_in_any_path_is_refused_naming_the_option() {
    let bad = "logs\nx";
    let cases: [(&[&str], &str); 12] = [
        (&["validate", bad], "<FILE>"),
        (&["plan", QUICKSTART, "--env-file", bad], "--env-file <PATH>"),
        (&["run", QUICKSTART, "--dry-run", "--log-dir", bad], "--log-dir <DIR>"),
        (&["run", QUICKSTART, "--dry-run", "--state-dir", bad], "--state-dir <DIR>"),
        (&["run", QUICKSTART, "--dry-run", "--report", bad], "--report <FILE>"),
        (&["service", QUICKSTART, "--log-dir", bad], "--log-dir <DIR>"),
        (&["status", bad], "<FILE>"),
        (&["status", QUICKSTART, "--state-dir", bad], "--state-dir <DIR>"),
        (&["clean", bad], "[FILE]"),
        (&["export", "argo", QUICKSTART, "-o", bad], "--output <FILE>"),
        (&["export", "argo", QUICKSTART, "--secrets-manifest", bad], "--secrets-manifest <FILE>"),
        (&["man", bad], "<DIR>"),
    ];
    for (args, option) in cases {
        let output = run(copili().args(args));
        let what = format!("{args:?}: {}", output.describe());
        assert_eq!(output.code(), Some(2), "{what}");
        assert_eq!(output.stdout(), "", "{what}");
        let first = output.stderr().lines().next().unwrap_or_default().to_string();
        assert_eq!(first, format!("error: {option}: \"logs\\nx\": a path must not contain a line break"), "{what}");
    }
}

/// Standard error that cannot be written is no panic either: the exit code stays the one the
/// command has (2 for an invalid pipeline, for a usage error).
#[test]
fn a_full_stderr_changes_nothing_but_what_is_seen() {
    for (args, code) in [(&["validate", "tests/fixtures/invalid/json-missing-quote.json"][..], 2), (&["frobnicate"], 2)]
    {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full can be opened");
        let raw = copili().args(args).stdin(std::process::Stdio::null()).stderr(full).output().expect("started");
        let output = Output { raw };
        assert_eq!(output.code(), Some(code), "{args:?}: {}", output.describe());
        assert_eq!(output.stdout(), "", "{args:?}");
    }
}

/// `--engine swarm` refuses, located and before any command, the options a service cannot
/// have; `plan --engine swarm` too.
#[test]
fn swarm_refuses_what_a_service_cannot_have_before_anything_runs() {
    let file = "tests/fixtures/run/swarm-refused-options.yaml";
    for args in [vec!["run", file, "--engine", "swarm", "--dry-run"], vec!["plan", file, "--engine", "swarm"]] {
        let output = run(copili().args(&args));
        assert_eq!(output.code(), Some(2), "{args:?}\n{}", output.describe());
        let stderr = output.stderr();
        for expected in [
            "error: `devices` cannot be used on Docker Swarm",
            "swarm-refused-options.yaml:5:5 (container `a`, property `devices`)",
            "error: `ulimits` cannot be used on Docker Swarm",
            "error: `h:host-gateway` cannot be used on Docker Swarm",
            "cannot run on Docker Swarm: 3 errors",
        ] {
            assert!(stderr.contains(expected), "{args:?}: no {expected:?} in\n{stderr}");
        }
        assert!(!output.stdout().contains("service create"), "{args:?}: a command was shown\n{}", output.stdout());
    }
}

/// `validate --for argo` refuses what `export argo` would, and passes what it can carry.
#[test]
fn validate_for_a_backend_names_it() {
    let output = run(copili().args(["validate", "--for", "argo", "tests/fixtures/run/swarm-refused-options.yaml"]));
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert!(output.stderr().contains("cannot be exported to Argo Workflows: 3 errors"), "{}", output.describe());
    let output = run(copili().args(["validate", "--for", "argo", SEED_QUICK_EXAMPLE]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
}
