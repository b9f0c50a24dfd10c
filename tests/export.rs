//! End-to-end tests of `copili export argo`: the real binary on every example pipeline, the
//! seed's examples and a rich fixture (`tests/fixtures/export/rich.yaml`, with its `.env`).
//! Every document written must satisfy Argo Workflows' published schema, checked offline by the
//! validator `cargo xtask setup` installs (`COPILI_TEST_ARGO_VALIDATOR`); the YAML of the
//! quickstart and of the rich fixture is pinned by snapshots; secret values — every env value
//! (`tests/fixtures/export/env-values.yaml` has one of each kind) and registry logins — never
//! reach the documents, only the `--secrets-manifest` file, which only its owner can read, unless
//! `--plain-env` asks for them in clear. `-` is standard output; one file for both is refused.
//! Every container option that pods can carry is exported (`tests/fixtures/export/options.yaml`,
//! validated and pinned); the others are refused, located and naming Argo, and nothing is written.

use std::path::Path;
use std::process::Command;

use copili_e2e::{copili, engine_setup, redact, repo_root, run, run_with_stdin, Output};
use serde_json::Value;

const QUICKSTART: &str = "examples/quickstart.yaml";
const RICH: &str = "tests/fixtures/export/rich.yaml";
/// Every container option the export maps (`tests/fixtures/export/options.yaml`).
const OPTIONS: &str = "tests/fixtures/export/options.yaml";
/// The value of `tests/fixtures/export/options.env`, an env file of `OPTIONS`.
const ENV_FILE_SECRET: &str = "envfile-m4rker-5e2a";
/// Env values of every kind (`tests/fixtures/export/env-values.yaml`), with its variables.
const ENV_VALUES: [&str; 3] =
    ["tests/fixtures/export/env-values.yaml", "--env-file", "tests/fixtures/export/env-values.env"];

/// The markers of the env-values fixture: its env values, written in the file and from
/// variables, of containers and a sidecar, by the Secret key each must be found under.
const ENV_MARKERS: [(&str, &str); 9] = [
    ("LITERAL", "literal-m4rker-main"),
    ("FROM_VAR", "var-m4rker-env"),
    ("URL", "https://bot:var-m4rker-env@db.example.com"),
    ("LEVEL", "info"),
    ("POSTGRES_PASSWORD", "literal-m4rker-sidecar"),
    ("load.FROM_VAR", "var-m4rker-sidecar"),
    ("LIST", "literal-m4rker-list"),
    ("report.LEVEL", "debug"),
    // The file's `$$` is a `$`; a Secret's value reaches the container unexpanded.
    ("EXPANDS", "cost $(not-a-var)"),
];

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
         workflow controller's time zone, where copili would use local time; pass --timezone or set `timezone`\n\
         note: the documents read the Secret `exmaplepipeline-env` (Opaque, key EXIT_CODE): create it in the cluster\n\
         note: or let copili write them, values included: --secrets-manifest FILE\n"
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
            "LOG_LEVEL": "info",
            "BATCH_SIZE": "5000",
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
        "note: the documents read the Secret `kg-nightly-env` (Opaque, keys NEO4J_PASSWORD, API_TOKEN, LOG_LEVEL, \
         BATCH_SIZE, TOKEN): create it in the cluster"
    ));
}

/// The `env` entries of the container (`main`) or sidecar `container` of template `template`.
fn env_of<'a>(workflow: &'a Value, template: &str, container: &str) -> &'a Value {
    let template = workflow["spec"]["templates"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == template))
        .unwrap_or_else(|| panic!("no template `{template}` in {workflow:#}"));
    if container == "main" {
        &template["container"]["env"]
    } else {
        template["sidecars"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == container))
            .map(|s| &s["env"])
            .unwrap_or_else(|| panic!("no sidecar `{container}` in {template:#}"))
    }
}

/// `env` entries reading the Secret `env-markers-env`, by env name and Secret key.
fn secret_refs(entries: &[(&str, &str)]) -> Value {
    entries
        .iter()
        .map(|(name, key)| {
            serde_json::json!({"name": name, "valueFrom": {"secretKeyRef": {"name": "env-markers-env", "key": key}}})
        })
        .collect()
}

#[test]
fn every_env_value_is_read_from_the_secret_and_only_the_manifest_has_it() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let workflow_file = dir.path().join("workflow.yaml");
    let manifest_file = dir.path().join("secrets.yaml");
    let output =
        export(&[&ENV_VALUES[..], &["-o", path(&workflow_file), "--secrets-manifest", path(&manifest_file)]].concat());
    let workflow_text = std::fs::read_to_string(&workflow_file).expect("the documents were written");
    for (_, marker) in ENV_MARKERS.iter().filter(|(_, m)| m.contains("m4rker")) {
        assert!(!workflow_text.contains(marker), "`{marker}` in the documents:\n{workflow_text}");
        assert!(!output.stdout().contains(marker) && !output.stderr().contains(marker), "{}", output.describe());
    }
    assert!(!workflow_text.contains("value:"), "no env value in clear:\n{workflow_text}");
    let documents = documents(&workflow_text);
    assert_valid_for_argo("env-values.yaml", &documents);
    let workflow = &documents[0];
    assert_eq!(
        env_of(workflow, "load", "main"),
        &secret_refs(&[("LITERAL", "LITERAL"), ("FROM_VAR", "FROM_VAR"), ("URL", "URL"), ("LEVEL", "LEVEL")])
    );
    assert_eq!(
        env_of(workflow, "load", "db"),
        &secret_refs(&[("POSTGRES_PASSWORD", "POSTGRES_PASSWORD"), ("FROM_VAR", "load.FROM_VAR")])
    );
    assert_eq!(
        env_of(workflow, "report", "main"),
        &secret_refs(&[("LIST", "LIST"), ("LEVEL", "report.LEVEL"), ("EXPANDS", "EXPANDS")])
    );

    assert_eq!(mode(&manifest_file), 0o600);
    let secrets = documents_of_file(&manifest_file);
    assert_eq!(kinds(&secrets), ["Secret"]);
    assert_eq!(secrets[0]["metadata"]["name"], "env-markers-env");
    let expected: serde_json::Map<String, Value> =
        ENV_MARKERS.iter().map(|(key, value)| (key.to_string(), Value::from(*value))).collect();
    assert_eq!(secrets[0]["stringData"], Value::Object(expected));
    assert_eq!(
        output.stderr(),
        format!(
            "note: wrote the Secret `env-markers-env` with its values to {} (mode 0600): apply it before the \
             workflow, and keep it out of version control\n",
            manifest_file.display()
        )
    );
}

#[test]
fn plain_env_writes_every_env_value_in_clear() {
    let output = export(&[&ENV_VALUES[..], &["--plain-env"]].concat());
    let documents = documents(&output.stdout());
    assert_valid_for_argo("env-values.yaml --plain-env", &documents);
    let workflow = &documents[0];
    let values = |entries: &[(&str, &str)]| -> Value {
        entries.iter().map(|(name, value)| serde_json::json!({"name": name, "value": value})).collect()
    };
    assert_eq!(
        env_of(workflow, "load", "main"),
        &values(&[
            ("LITERAL", "literal-m4rker-main"),
            ("FROM_VAR", "var-m4rker-env"),
            ("URL", "https://bot:var-m4rker-env@db.example.com"),
            ("LEVEL", "info"),
        ])
    );
    assert_eq!(
        env_of(workflow, "load", "db"),
        &values(&[("POSTGRES_PASSWORD", "literal-m4rker-sidecar"), ("FROM_VAR", "var-m4rker-sidecar")])
    );
    // In a `value`, Kubernetes expands `$(…)`: escaped as `$$(…)`.
    assert_eq!(
        env_of(workflow, "report", "main"),
        &values(&[("LIST", "literal-m4rker-list"), ("LEVEL", "debug"), ("EXPANDS", "cost $$(not-a-var)")])
    );
    assert!(!output.stdout().contains("secretKeyRef"), "{}", output.stdout());
    assert_eq!(output.stderr(), "", "no Secret to create");
}

#[test]
fn one_file_for_documents_and_secrets_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let d = dir.path();
    std::fs::create_dir(d.join("sub")).expect("mkdir");
    std::fs::write(d.join("existing.yaml"), "old").expect("writable");
    std::fs::hard_link(d.join("existing.yaml"), d.join("hard.yaml")).expect("a hard link");
    std::os::unix::fs::symlink(d.join("existing.yaml"), d.join("link.yaml")).expect("a symbolic link");
    std::os::unix::fs::symlink(d.join("new.yaml"), d.join("dangling.yaml")).expect("a symbolic link");
    let before = listing(d);
    let cases = [
        ("new.yaml", "new.yaml"),
        ("new.yaml", "./new.yaml"),
        ("new.yaml", "sub/../new.yaml"),
        ("dangling.yaml", "new.yaml"),
        ("existing.yaml", "existing.yaml"),
        ("existing.yaml", "link.yaml"),
        ("hard.yaml", "existing.yaml"),
        ("sub/../link.yaml", "./hard.yaml"),
    ];
    let mut messages = String::new();
    for (documents, manifest) in cases {
        let output = run(copili()
            .current_dir(d)
            .args(["export", "argo", &repo_root().join(RICH).display().to_string()])
            .args(["-o", documents, "--secrets-manifest", manifest]));
        assert_eq!(output.code(), Some(2), "-o {documents} --secrets-manifest {manifest}: {}", output.describe());
        assert_eq!(output.stdout(), "");
        for secret in RICH_SECRETS {
            assert!(!output.stderr().contains(secret), "{}", output.stderr());
        }
        assert_eq!(listing(d), before, "-o {documents} --secrets-manifest {manifest}: nothing is created");
        assert_eq!(std::fs::read_to_string(d.join("existing.yaml")).expect("readable"), "old", "nor changed");
        messages.push_str(&output.stderr());
    }
    insta::assert_snapshot!("export_argo_same_file", messages);
}

#[test]
fn a_dash_is_standard_output_and_never_a_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let d = dir.path();
    let rich = repo_root().join(RICH).display().to_string();
    let in_dir = |args: &[&str]| run(copili().current_dir(d).args(["export", "argo", &rich]).args(args));

    // `-o -`: the documents on standard output, as without -o.
    let output = in_dir(&["-o", "-"]);
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_eq!(output.stdout(), export(&[RICH]).stdout());
    assert_eq!(listing(d), Vec::<String>::new(), "no file called `-`");

    // `--secrets-manifest -` with the documents in a file: the Secrets on standard output.
    let output = in_dir(&["-o", "workflow.yaml", "--secrets-manifest", "-"]);
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_eq!(kinds(&documents(&output.stdout())), ["Secret", "Secret"]);
    for secret in RICH_SECRETS {
        assert!(output.stdout().contains(secret), "{secret} missing:\n{}", output.stdout());
    }
    assert_eq!(kinds(&documents_of_file(&d.join("workflow.yaml")))[0], "Workflow");
    assert!(output.stderr().contains(
        "note: wrote the Secrets `kg-nightly-env` and `kg-nightly-registry` with their values to standard output: \
         apply them before the workflow"
    ));
    assert_eq!(listing(d), ["workflow.yaml"], "no file called `-`");
    std::fs::remove_file(d.join("workflow.yaml")).expect("removable");

    // Both on standard output would mix the values into the documents: refused.
    let mut messages = String::new();
    for args in [&["--secrets-manifest", "-"][..], &["-o", "-", "--secrets-manifest", "-"]] {
        let output = in_dir(args);
        assert_eq!(output.code(), Some(2), "{args:?}: {}", output.describe());
        assert_eq!(output.stdout(), "", "{args:?}");
        assert_eq!(listing(d), Vec::<String>::new(), "{args:?}");
        messages.push_str(&output.stderr());
    }
    insta::assert_snapshot!("export_argo_both_to_stdout", messages);
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

#[test]
fn every_mappable_container_option_exports_to_documents_argo_accepts() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let manifest = dir.path().join("secrets.yaml");
    let output = export(&[OPTIONS, "--secrets-manifest", path(&manifest)]);
    let documents = documents(&output.stdout());
    assert_valid_for_argo(OPTIONS, &documents);
    insta::assert_snapshot!("export_argo_options", redact(&output.stdout()));
    let template = |name: &str| {
        documents[0]["spec"]["templates"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("no template `{name}`"))
    };
    let load = template("load-genes");
    let main = &load["container"];
    assert_eq!(main["command"], serde_json::json!(["tini", "--"]));
    assert_eq!(main["workingDir"], "/app");
    assert_eq!(main["securityContext"]["runAsUser"], 1000);
    assert_eq!(main["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(main["resources"]["limits"]["nvidia.com/gpu"], "1");
    let patch: Value = serde_json::from_str(load["podSpecPatch"].as_str().expect("a string")).expect("JSON");
    assert_eq!(patch, serde_json::json!({"hostNetwork": true, "terminationGracePeriodSeconds": 60}));
    // An empty entrypoint: the command is what runs.
    assert_eq!(template("report")["container"]["command"], serde_json::json!(["report", "--all"]));
    // The env file's value is a secret: a Secret reference in the documents, the value only in
    // the manifest.
    assert!(!output.stdout().contains(ENV_FILE_SECRET) && !output.stderr().contains(ENV_FILE_SECRET));
    assert_eq!(
        main["env"],
        serde_json::json!([{"name": "LOADER_TOKEN", "valueFrom": {"secretKeyRef": {"name": "kg-options-env", "key": "LOADER_TOKEN"}}}])
    );
    let secrets = documents_of_file(&manifest);
    assert_eq!(secrets[0]["stringData"], serde_json::json!({"LOADER_TOKEN": ENV_FILE_SECRET}));
}

#[test]
fn options_pods_cannot_carry_are_refused_located_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let d = dir.path();
    std::fs::write(
        d.join("p.yaml"),
        "p:\n  - name: a\n    image_repo: x\n    networks: [graph]\n    user: postgres\n    devices: [/dev/fuse]\n    \
         init: true\n    ulimits: {nofile: 1024}\n    stop_signal: SIGINT\n    gpus: all\n    tmpfs: ['/tmp:size=64m,mode=1777']\n  \
         - name: b\n    image_repo: x\n    network_mode: none\n    extra_hosts: ['h:host-gateway', 'db:10.0.0.5']\n    \
         entrypoint: ''\n  - name: c\n    image_repo: x\n    sidecars:\n      - {name: db, image_repo: y, \
         stop_grace_period: 5s}\n",
    )
    .expect("writable");
    let output = run(copili().current_dir(d).args(["export", "argo", "p.yaml", "-o", "w.yaml"]));
    assert_eq!(output.code(), Some(2), "{}", output.describe());
    assert_eq!(output.stdout(), "");
    assert_eq!(listing(d), ["p.yaml"], "nothing is written");
    let refusals = output.stderr().lines().filter(|l| l.contains("cannot be exported to Argo Workflows")).count();
    assert_eq!(refusals, 13, "one per option, and the summary:\n{}", output.stderr());
    insta::assert_snapshot!("export_argo_unsupported_options", output.stderr());
}

/// `allow_failure: true` is the task's `continueOn: {failed: true}`; `condition: completed`
/// (and a plain dependency on a container allowed to fail, beside one) is `depends` on
/// `Succeeded || Failed`; Argo accepts the workflow. A list of exit codes is refused, located.
#[test]
fn allowed_failures_and_completed_dependencies_export_as_continue_on_and_depends() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let d = dir.path();
    std::fs::write(
        d.join("p.yaml"),
        "p:\n  - {name: a, image_repo: x, allow_failure: true}\n  - {name: b, image_repo: x, dependencies: [a]}\n  \
         - {name: c, image_repo: x}\n  - {name: cleanup, image_repo: x, dependencies: [a, {name: c, condition: \
         completed}]}\n",
    )
    .expect("writable");
    let output = run(copili().current_dir(d).args(["export", "argo", "p.yaml"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let documents = documents(&output.stdout());
    assert_valid_for_argo("allow_failure and condition: completed", &documents);
    let tasks = documents[0]["spec"]["templates"][0]["dag"]["tasks"].as_array().expect("the DAG's tasks").clone();
    let task = |name: &str| tasks.iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("{name}: {tasks:#?}"));
    assert_eq!(task("a")["continueOn"], serde_json::json!({ "failed": true }));
    assert_eq!(task("b")["dependencies"], serde_json::json!(["a"]));
    assert!(task("b").get("continueOn").is_none());
    assert_eq!(task("cleanup")["depends"], "(a.Succeeded || a.Failed) && (c.Succeeded || c.Failed)");
    assert!(task("cleanup").get("dependencies").is_none());

    std::fs::write(d.join("codes.yaml"), "p:\n  - name: a\n    image_repo: x\n    allow_failure: [3]\n")
        .expect("writable");
    for args in [&["export", "argo", "codes.yaml"][..], &["validate", "codes.yaml", "--for", "argo"]] {
        let output = run(copili().current_dir(d).args(args));
        assert_eq!(output.code(), Some(2), "{args:?}: {}", output.describe());
        assert!(
            output.stderr().starts_with(
                "error: `allow_failure: [3]` cannot be exported to Argo Workflows: Argo's `continueOn` allows every \
                 failure or none, not some exit codes\n --> codes.yaml:4:5 (container `a`, property `allow_failure`)"
            ),
            "{args:?}: {}",
            output.stderr()
        );
    }
}

/// Handlers (`run_on`) are the Workflow's `onExit` DAG, each with its `when`, not tasks of the
/// main DAG; Argo accepts the Workflow and the CronWorkflow.
#[test]
fn handlers_become_the_exit_handler_argo_accepts() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let d = dir.path();
    std::fs::write(
        d.join("p.yaml"),
        "nightly:\n  - {name: load, image_repo: busybox, command: [sh, -c, 'exit 1']}\n  - {name: link, image_repo: \
         busybox, dependencies: [load]}\n  - name: notify\n    image_repo: curlimages/curl\n    run_on: failure\n    \
         command: [sh, -c, 'curl -sS -d \"$$COPILI_FAILED\" http://hooks.example.com/copili']\n  - {name: archive, \
         image_repo: busybox, run_on: always}\n  - {name: refresh, image_repo: busybox, is_service_container: true, \
         schedule: '0 3 * * *'}\n",
    )
    .expect("writable");
    let validate = run(copili().current_dir(d).args(["validate", "--for", "argo", "p.yaml"]));
    assert_eq!(validate.code(), Some(0), "handlers are exported to Argo\n{}", validate.describe());
    let output = run(copili().current_dir(d).args(["export", "argo", "p.yaml"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let documents = documents(&output.stdout());
    assert_valid_for_argo("handlers", &documents);
    let spec = &documents[0]["spec"];
    assert_eq!(spec["onExit"], "copili-exit-handler");
    let templates = spec["templates"].as_array().expect("templates");
    let tasks: Vec<&str> = templates[0]["dag"]["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| t["name"].as_str().expect("a name"))
        .collect();
    assert_eq!(tasks, ["load", "refresh", "link"], "handlers are no DAG tasks (plan order)");
    assert_eq!(kinds(&documents), ["Workflow", "CronWorkflow"]);
    assert_eq!(documents[1]["spec"]["workflowSpec"]["onExit"], "copili-exit-handler", "after each due group too");
    let exit = templates.iter().find(|t| t["name"] == "copili-exit-handler").expect("the exit handler's template");
    let handlers: Vec<(&str, Option<&str>, Option<&Value>)> = exit["dag"]["tasks"]
        .as_array()
        .expect("a task per handler")
        .iter()
        .map(|t| (t["template"].as_str().expect("a template"), t["when"].as_str(), t.get("dependencies")))
        .collect();
    assert_eq!(
        handlers,
        [("notify", Some("{{workflow.status}} != Succeeded"), None), ("archive", None, None)],
        "in parallel, each with its `when`"
    );
    let notify = templates.iter().find(|t| t["name"] == "notify").expect("the handler's template");
    assert_eq!(
        notify["container"]["env"],
        serde_json::json!([
            {"name": "COPILI_RUN_STATUS", "value": "{{workflow.status}}"},
            {"name": "COPILI_FAILED", "value": "{{workflow.failures}}"},
            {"name": "COPILI_RUN_ID", "value": "{{workflow.name}}"},
        ])
    );
}

/// The documents of a YAML file.
fn documents_of_file(file: &Path) -> Vec<Value> {
    documents(&std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display())))
}

/// The names of a directory's entries, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("readable")
        .map(|entry| entry.expect("an entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
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
