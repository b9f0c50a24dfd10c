//! Unit tests of the swarm backend: its argv and its reading of task states.

use super::argv::service_option_args;
use super::tasks::is_active_task_state;
use super::*;
use crate::cli_engine::EngineKind;
use crate::engine::Mount;
use copili_model::{ResourceAmounts, Resources, Secret};

#[test]
fn task_states_before_the_end_are_active() {
    for state in ["Running 3 seconds ago", "Starting less than a second ago", "Pending 1 second ago", "assigned"] {
        assert!(is_active_task_state(state), "{state}");
    }
    for state in ["Shutdown 1 second ago", "Complete 2 seconds ago", "Failed 1 second ago", "Rejected", ""] {
        assert!(!is_active_task_state(state), "{state}");
    }
}

#[test]
fn a_job_with_everything() {
    let engine = SwarmEngine::new(CliEngine::new("docker", EngineKind::Docker));
    let request = CreateRequest {
        name: "p-load".into(),
        image: "localhost/x:latest".into(),
        hostname: "load".into(),
        labels: vec![("io.copili.pipeline".into(), "p".into())],
        env: vec![("PW".into(), Secret::new("hunter2"))],
        mounts: vec![Mount { source: MountSource::Host("/data".into()), target: "/in".into(), read_only: true }],
        command: vec!["sh".into(), "-c".into(), "echo hi".into()],
        network: Some("p-load-net".into()),
        network_aliases: Vec::new(),
        resources: Some(Resources {
            limits: ResourceAmounts { cpus: Some(1.5), memory: Some(1 << 30) },
            reservations: ResourceAmounts { cpus: Some(0.5), memory: None },
        }),
        placement: vec!["node.labels.disk==ssd".into()],
        registry_auth: None,
        stop_timeout: Duration::from_millis(1500),
        ready: None,
        options: Default::default(),
    };
    let command = engine.service_command(&request, true).expect("a command");
    let line = command.args.join(" ");
    assert!(line.starts_with("service create --detach --quiet --name p-load --mode replicated-job --restart-condition none --no-resolve-image --hostname load --stop-grace-period=2s"), "{line}");
    assert!(line.contains("--label io.copili.pipeline=p --container-label io.copili.pipeline=p"), "{line}");
    assert!(line.contains("--mount type=bind,source=/data,target=/in,readonly"), "{line}");
    assert!(line.contains("--network name=p-load-net"), "{line}");
    assert!(line.contains("--limit-cpu=1.5 --limit-memory=1073741824b --reserve-cpu=0.5"), "{line}");
    assert!(line.contains("--constraint node.labels.disk==ssd"), "{line}");
    assert!(line.ends_with("localhost/x:latest sh -c echo hi"), "{line}");
    assert!(line.contains("--env-file") && !line.contains("hunter2"), "{line}");
    assert!(!line.contains("--health"), "{line}");
    let ready = copili_model::ReadyCheck {
        command: vec!["redis-cli".into(), "ping".into(), "it's".into()],
        timeout: Duration::from_secs(30),
        interval: Duration::from_millis(250),
    };
    let sidecar = CreateRequest { network_aliases: vec!["cache".into()], ready: Some(ready), ..request };
    let line = engine.service_command(&sidecar, false).expect("a command").args.join(" ");
    assert!(line.contains("--replicas 1") && line.contains("--network name=p-load-net,alias=cache"), "{line}");
    assert!(
        line.contains(r"--health-cmd redis-cli ping 'it'\''s' --health-interval=250ms --health-timeout=30s --health-retries=2147483647"),
        "{line}"
    );
}

#[test]
fn the_planned_command_lines_are_the_commands_a_run_makes() {
    use std::sync::{Arc, Mutex};
    let text = "p:\n  - name: job\n    image_repo: x\n    sidecars:\n      - {name: cache, image_repo: redis}\n";
    let options = copili_model::LoadOptions { env_file: copili_model::EnvFile::Disabled, ..Default::default() };
    let pipeline = copili_model::load(copili_model::Input::Text(text), &options).expect("valid");
    let config = crate::runner::RunConfig {
        identity: "p".into(),
        run_id: "r1".into(),
        jobs: 1,
        fail_fast: false,
        stop_timeout: Duration::from_secs(10),
        global_env: Vec::new(),
        global_labels: Vec::new(),
        policies: Vec::new(),
        images: Default::default(),
        instance: None,
        outputs_dir: None,
    };
    let shown = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&shown);
    let engine = SwarmEngine::new(
        CliEngine::new("docker", EngineKind::Docker).dry_run(move |line| sink.lock().expect("lines").push(line)),
    );
    let spec = &pipeline.containers[0];
    let lines = engine.planned_command_lines(spec, &config);
    assert_eq!(lines.len(), 3, "{lines:#?}");
    // The network, as the engine creates it.
    let labels = crate::runner::copili_labels("p", "r1", "job", "network");
    engine.network_create("p-job-net", &labels).expect("shown");
    assert_eq!(shown.lock().expect("lines").as_slice(), &lines[..1]);
    assert!(lines[0].starts_with("docker network create --driver overlay --attachable --label "), "{}", lines[0]);
    assert!(lines[1].contains("--name p-job-cache") && lines[1].contains("--replicas 1"), "{}", lines[1]);
    assert!(lines[2].contains("--name p-job ") && lines[2].contains("--mode replicated-job"), "{}", lines[2]);
}

#[test]
fn container_options_become_service_options() {
    let text = "p:\n  - name: a\n    image_repo: x\n    networks: {graph: {aliases: [loader]}}\n    extra_hosts: ['db:10.0.0.5']\n    user: '1000'\n    working_dir: /w\n    entrypoint: [/bin/sh, -c]\n    shm_size: 64m\n    tmpfs: ['/t:size=16m,mode=1777']\n    read_only: true\n    init: true\n    cap_add: [NET_ADMIN]\n    cap_drop: [ALL]\n    stop_signal: INT\n";
    let options = copili_model::LoadOptions { env_file: copili_model::EnvFile::Disabled, ..Default::default() };
    let pipeline = copili_model::load(copili_model::Input::Text(text), &options).expect("valid");
    let mut argv = Vec::new();
    service_option_args(pipeline.containers[0].options(), &mut argv);
    assert_eq!(
        argv,
        [
            "--network",
            "name=graph,alias=loader",
            "--host=db:10.0.0.5",
            "--user=1000",
            "--workdir=/w",
            "--entrypoint=/bin/sh",
            "--mount",
            "type=tmpfs,destination=/dev/shm,tmpfs-size=67108864",
            "--mount",
            "type=tmpfs,destination=/t,tmpfs-size=16m,tmpfs-mode=1777",
            "--read-only",
            "--init",
            "--cap-add=NET_ADMIN",
            "--cap-drop=ALL",
            "--stop-signal=SIGINT",
        ]
    );
}
