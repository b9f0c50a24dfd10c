//! End-to-end tests of `copili export argo`: the real binary on every example pipeline, the
//! seed's examples and a rich fixture (`tests/fixtures/export/rich.yaml`, with its `.env`).
//! Every document written must satisfy Argo Workflows' published schema, checked offline by the
//! validator `cargo xtask setup` installs (`COPILI_TEST_ARGO_VALIDATOR`); the YAML of the
//! quickstart and of the rich fixture is pinned by snapshots; secret values never reach the
//! documents, only the `--secrets-manifest` file, which only its owner can read.

use std::path::Path;
use std::process::Command;

use copili_e2e::{copili, engine_setup, redact, repo_root, run, run_with_stdin, Output};
use serde_json::Value;

const QUICKSTART: &str = "examples/quickstart.yaml";
const RICH: &str = "tests/fixtures/export/rich.yaml";

/// The values of `tests/fixtures/export/.env` that must never appear in the documents: two
/// env values from variables (one inside a longer value) and the registry password.
const RICH_SECRETS: [&str; 3] = ["neo4j-s3cret-8d1f", "tok-s3cret-42", "reg-s3cret-77aa"];

/// Runs `copili export argo ARGS` and asserts it succeeded.
fn export(args: &[&str]) -> Output {
    let output = run(copili().args(["export", "argo"]).args(args));
    assert_eq!(output.code(), Some(0), "copili export argo {}\n{}", args.join(" "), output.describe());
    output
}

/// The documents of a YAML stream, as JSON values.
fn documents(yaml: &str) -> Vec<Value> {
    let mut texts = vec![String::new()];
    for line in yaml.lines() {
        if line == "---" {
            texts.push(String::new());
        } else if let Some(current) = texts.last_mut() {
            current.push_str(line);
            current.push('\n');
        }
    }
    texts
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| serde_yaml::from_str(t).unwrap_or_else(|e| panic!("not YAML: {e}\n{t}")))
        .collect()
}

/// Validates documents against Argo's schema; fails the test with the validator's report.
fn assert_valid_for_argo(what: &str, documents: &[Value]) {
    let validator = engine_setup().get("COPILI_TEST_ARGO_VALIDATOR");
    assert!(Path::new(validator).is_file(), "{validator} is missing: run `cargo xtask setup`");
    let input = serde_json::to_string(documents).expect("JSON");
    let output = run_with_stdin(Command::new("node").arg(validator), &input);
    assert_eq!(output.code(), Some(0), "{what}: Argo's schema refuses a document\n{}", output.describe());
    assert_eq!(output.stdout().lines().filter(|l| l.ends_with(": valid")).count(), documents.len(), "{what}");
}

fn kinds(documents: &[Value]) -> Vec<&str> {
    documents.iter().map(|d| d["kind"].as_str().expect("a kind")).collect()
}

/// Every pipeline of `examples/` (YAML and JSON) and the seed's examples.
fn example_pipelines() -> Vec<String> {
    let mut files = Vec::new();
    for (dir, prefix) in [("examples", ""), ("tests/fixtures/valid", "seed-")] {
        for entry in std::fs::read_dir(repo_root().join(dir)).expect("readable") {
            let name = entry.expect("an entry").file_name().to_string_lossy().into_owned();
            if name.starts_with(prefix) && (name.ends_with(".yaml") || name.ends_with(".json")) {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_example_exports_documents_argo_accepts() {
    let files = example_pipelines();
    assert!(files.len() >= 8, "expected the examples and the seed's examples, found {files:?}");
    for file in &files {
        let output = export(&[file]);
        let documents = documents(&output.stdout());
        assert_eq!(documents.first().map(|d| &d["kind"]), Some(&Value::from("Workflow")), "{file}");
        assert_valid_for_argo(file, &documents);
    }
}

#[test]
fn the_rich_fixture_exports_documents_argo_accepts_with_every_option() {
    let variants: [&[&str]; 4] = [
        &[RICH],
        &[RICH, "--environment", "PROD", "--timezone", "Europe/Berlin", "--namespace", "kg"],
        &[RICH, "--volume-map", "tests/fixtures/export=kg-data", "--volume-map", "/srv/kg=kg-srv", "--every", "15m"],
        &[RICH, "--only", "report_summary", "--cron", "0 6 * * SUN"],
    ];
    for args in variants {
        let output = export(args);
        let documents = documents(&output.stdout());
        assert_valid_for_argo(&args.join(" "), &documents);
    }
    let output = export(&[RICH]);
    assert_eq!(
        kinds(&documents(&output.stdout())),
        ["Workflow", "CronWorkflow", "CronWorkflow", "CronWorkflow", "CronWorkflow"]
    );
}

#[test]
fn quickstart_yaml() {
    let output = export(&[QUICKSTART]);
    insta::assert_snapshot!("export_argo_quickstart", redact(&output.stdout()));
    assert_eq!(
        output.stderr(),
        "warning: CronWorkflow `exmaplepipeline-servicecontainer01` has no time zone: Argo reads its schedule in the \
         workflow controller's time zone, where copili would use local time; pass --timezone or set `timezone`\n"
    );
}

#[test]
fn rich_yaml_and_messages() {
    let output = export(&[RICH]);
    insta::assert_snapshot!("export_argo_rich", redact(&output.stdout()));
    insta::assert_snapshot!("export_argo_rich_stderr", redact(&output.stderr()));
}

#[test]
fn secrets_stay_out_of_the_documents_and_go_to_the_private_manifest() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let workflow = dir.path().join("workflow.yaml");
    let manifest = dir.path().join("secrets.yaml");
    // An existing, readable file is tightened, not only a new one created private.
    std::fs::write(&manifest, "old").expect("writable");
    set_mode(&manifest, 0o644);
    let args = [RICH, "-o", path(&workflow), "--secrets-manifest", path(&manifest)];
    let output = export(&args);
    assert_eq!(output.stdout(), "", "-o: nothing on stdout");
    let documents_text = std::fs::read_to_string(&workflow).expect("the documents were written");
    for secret in RICH_SECRETS {
        assert!(!documents_text.contains(secret), "`{secret}` in the documents:\n{documents_text}");
        assert!(!output.stderr().contains(secret), "`{secret}` on stderr:\n{}", output.stderr());
    }
    assert!(documents_text.contains("secretKeyRef"), "{documents_text}");

    assert_eq!(mode(&manifest), 0o600, "the manifest is private");
    let manifest_text = std::fs::read_to_string(&manifest).expect("the manifest was written");
    for secret in RICH_SECRETS {
        assert!(manifest_text.contains(secret), "`{secret}` missing from the manifest:\n{manifest_text}");
    }
    let secrets = documents(&manifest_text);
    assert_eq!(kinds(&secrets), ["Secret", "Secret"]);
    assert_eq!(secrets[0]["metadata"]["name"], "kg-nightly-env");
    assert_eq!(secrets[0]["type"], "Opaque");
    assert_eq!(
        secrets[0]["stringData"],
        serde_json::json!({
            "NEO4J_PASSWORD": "neo4j-s3cret-8d1f",
            "API_TOKEN": "token-tok-s3cret-42",
            "TOKEN": "tok-s3cret-42",
        })
    );
    assert_eq!(secrets[1]["metadata"]["name"], "kg-nightly-registry");
    assert_eq!(secrets[1]["type"], "kubernetes.io/dockerconfigjson");
    let config: Value = serde_json::from_str(secrets[1]["stringData"][".dockerconfigjson"].as_str().expect("a string"))
        .expect("a docker config");
    assert_eq!(
        config,
        serde_json::json!({"auths": {"registry.example.com:5000": {
            "username": "loader",
            "password": "reg-s3cret-77aa",
            // base64("loader:reg-s3cret-77aa")
            "auth": "bG9hZGVyOnJlZy1zM2NyZXQtNzdhYQ==",
        }}})
    );
    assert!(
        output.stderr().contains(&format!(
            "note: wrote the Secrets `kg-nightly-env` and `kg-nightly-registry` with their values to {} (mode 0600)",
            manifest.display()
        )),
        "{}",
        output.stderr()
    );

    // Without --secrets-manifest: which Secrets to create, names and keys only.
    let output = export(&[RICH]);
    for secret in RICH_SECRETS {
        assert!(!output.stdout().contains(secret) && !output.stderr().contains(secret), "{}", output.describe());
    }
    assert!(output.stderr().contains(
        "note: the documents read the Secret `kg-nightly-env` (Opaque, keys NEO4J_PASSWORD, API_TOKEN, TOKEN): create \
         it in the cluster"
    ));
}

#[test]
fn volume_map_turns_host_paths_into_claims() {
    let output =
        export(&[RICH, "--volume-map", "tests/fixtures/export=kg-data", "--volume-map", "/srv/kg/genes=genes"]);
    let workflow = &documents(&output.stdout())[0];
    assert_eq!(
        workflow["spec"]["volumes"],
        serde_json::json!([
            {"name": "kg-data", "persistentVolumeClaim": {"claimName": "kg-data"}},
            {"name": "genes", "persistentVolumeClaim": {"claimName": "genes"}},
            {"name": "pgdata", "persistentVolumeClaim": {"claimName": "pgdata"}},
            {"name": "host-links", "hostPath": {"path": "/srv/kg/links"}},
        ])
    );
    let fetch = workflow["spec"]["templates"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "fetch-genes"))
        .expect("the template of fetch_genes");
    assert_eq!(
        fetch["container"]["volumeMounts"],
        serde_json::json!([
            {"name": "kg-data", "mountPath": "/exports", "subPath": "exports"},
            {"name": "genes", "mountPath": "/data", "readOnly": true},
            {"name": "pgdata", "mountPath": "/var/lib/postgresql/data"},
        ])
    );
    assert!(!output.stderr().contains("tests/fixtures/export/exports: a hostPath"), "{}", output.stderr());
    assert!(output.stderr().contains("`01-link` mounts the host path /srv/kg/links"), "{}", output.stderr());
}

#[test]
fn what_argo_cannot_express_is_invalid_input() {
    let output = run(copili().args(["export", "argo", RICH, "--every", "7m"]));
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert_eq!(output.stdout(), "");
    assert!(
        output.stderr().contains(
            "error: container `notify` has no `schedule` and follows the default `every 7m` (--every/--cron), which \
             cannot be an Argo schedule"
        ),
        "{}",
        output.stderr()
    );

    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("p.yaml");
    std::fs::write(&file, "p:\n  - {name: refresh, image_repo: x, is_service_container: true, schedule: every 45m}\n")
        .expect("writable");
    let output = run(copili().args(["export", "argo", path(&file)]));
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert_eq!(
        output.stderr(),
        "error: container `refresh`, property `schedule`: `every 45m` cannot be an Argo schedule: Argo runs on a cron \
         schedule, and only intervals that divide an hour (1m, 2m, …, 30m) or a day (1h, 2h, …, 12h, 24h) are one, not \
         45m; write a cron expression in `schedule`\n"
    );

    for (args, message) in [
        (&["--namespace", "Kg"][..], "error: invalid namespace `Kg`"),
        (&["--volume-map", "/srv"][..], "error: --volume-map /srv: expected HOST=PVC"),
        (&["--timezone", "Mars/Olympus"][..], "error: invalid --timezone `Mars/Olympus`: unknown time zone"),
        (&["--cron", "every 5m"][..], "error: --cron every 5m: not a cron expression"),
    ] {
        let output = run(copili().args(["export", "argo", QUICKSTART]).args(args));
        assert_eq!(output.code(), Some(2), "{args:?}: {}", output.describe());
        assert!(output.stderr().starts_with(message), "{args:?}: {}", output.stderr());
        assert_eq!(output.stdout(), "");
    }
}

#[test]
fn containers_a_run_would_cancel_are_left_out() {
    let output = export(&[RICH, "--environment", "PROD"]);
    let workflow = &documents(&output.stdout())[0];
    let tasks: Vec<&str> = workflow["spec"]["templates"][0]["dag"]["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["name"].as_str().expect("a name"))
        .collect();
    assert!(!tasks.contains(&"load-test-data") && !tasks.contains(&"check-test-data"), "{tasks:?}");
    assert!(output.stderr().contains(
        "warning: `check_test_data` is left out: it depends on `load_test_data`, which is excluded in environment \
         `PROD` (a run would cancel it)"
    ));
}

fn path(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 temporary path")
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).expect("exists").permissions().mode() & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
