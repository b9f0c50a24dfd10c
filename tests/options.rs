//! End-to-end tests of the container options (issue 12, item 4) on real engines: rootful
//! podman, rootless podman and docker. Each option is checked from inside a running container:
//! the container prints what it sees (its uid, its directory, its mounts, its capabilities, its
//! interfaces, what a server answered, …) and the test asserts the printed lines.
//!
//! `gpus` needs a GPU, which these machines lack: its exact engine arguments are checked with
//! `--dry-run` and with a recording stand-in client instead (no engine needed).
//!
//! As in `engines.rs`, every test runs under its own pipeline identity in its own directory
//! ([`Scene`]), and nothing may be left on the engine afterwards; what a test creates itself
//! outside copili (a network, a server container) is removed by a guard, also on failure.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use copili_e2e::{
    all_output, assert_finished, assert_no_output_from, assert_output_line, copili, engine_setup, engine_tests,
    output_line_text, read_report, run, CmdlineSampler, Engine, Output, Running, Scene, RUN_TIMEOUT,
};

engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    rootless_podman => copili_e2e::Engine::RootlessPodman,
    docker => copili_e2e::Engine::Docker;
    [
        process_and_file_system,
        network_modes_and_extra_hosts,
        env_file_values_are_secrets,
        stop_signal_and_grace_period,
        networks_made_outside_copili,
        missing_network_is_refused_before_anything_starts,
    ]
);

// On Docker Swarm, the options a service can have (the others are refused before the run:
// tests/cli.rs), seen from inside the task's container; env files and outside networks as on
// the local engines.
engine_tests!(
    swarm => copili_e2e::Engine::Swarm;
    [
        options_a_service_can_have,
        env_file_values_are_secrets,
        networks_made_outside_copili,
        missing_network_is_refused_before_anything_starts,
    ]
);

// --- Writing pipelines ---------------------------------------------------------------------------

/// The test image, as `image_repo` and `tag` lines of a container or sidecar indented by
/// `indent` spaces.
fn image(indent: usize) -> String {
    let reference = engine_setup().get("COPILI_TEST_IMAGE");
    let (repo, tag) = reference.rsplit_once(':').filter(|(_, tag)| !tag.contains('/')).unwrap_or((reference, "latest"));
    let pad = " ".repeat(indent);
    format!("{pad}image_repo: {repo}\n{pad}tag: \"{tag}\"")
}

/// A shell script as the YAML value of `command: [sh, -c, SCRIPT]` (see [`quoted`]).
fn sh(script: &str) -> String {
    format!("[sh, -c, {}]", quoted(script))
}

/// A shell script as one YAML string: every `$` doubled (copili substitutes `$NAME`; `$$` is a
/// `$`), quoted as a JSON string, which YAML reads as is.
fn quoted(script: &str) -> String {
    serde_json::to_string(&script.replace('$', "$$")).expect("a string serialises")
}

/// The text of every output line of `prefix` (`name`, or `main/sidecar`) that starts with
/// `key=`, without the key.
fn printed(output: &Output, prefix: &str, key: &str) -> Vec<String> {
    let start = format!("{key}=");
    output
        .stdout()
        .lines()
        .filter_map(|line| output_line_text(line, prefix))
        .filter_map(|text| text.strip_prefix(&start))
        .map(String::from)
        .collect()
}

/// The one value `prefix` printed as `key=VALUE`; fails the test unless there is exactly one.
fn printed_once(output: &Output, prefix: &str, key: &str) -> String {
    let values = printed(output, prefix, key);
    assert_eq!(values.len(), 1, "expected one line `{prefix} | {key}=…`, found {values:?}\n{}", output.describe());
    values.into_iter().next().expect("one value")
}

/// A shell loop fetching `url` with busybox `wget` until it answers (a server may still be
/// starting), printing `KEY=BODY`; `KEY=unreachable` after 100 tries. (`timeout`, not
/// `wget -T`: the test image's busybox 1.35 wget crashes with `-T`.)
fn fetch(key: &str, url: &str) -> String {
    format!(
        "i=0; while [ $i -lt 100 ]; do if body=$(timeout 5 wget -q -O - {url} 2>/dev/null); then echo \"{key}=$body\"; \
         break; fi; i=$((i+1)); sleep 0.2; done; [ $i -lt 100 ] || {{ echo {key}=unreachable; exit 1; }}"
    )
}

// --- Docker Swarm ------------------------------------------------------------------------------------

/// What `docker service create` carries over: `user`, `working_dir`, `entrypoint` (list and
/// string), `read_only` with a writable `tmpfs` of a size, `shm_size`, `init`,
/// `cap_add`/`cap_drop`, `extra_hosts` with an IP, `stop_signal` (read back from the task's
/// container: nothing inside a container shows it).
fn options_a_service_can_have(engine: Engine) {
    let scene = Scene::new(engine, "opts-swarm");
    let seen = sh("echo uid=$(id -u); echo gid=$(id -g); echo pwd=$(pwd); \
                   touch /root-file 2>&1 | grep -q 'Read-only file system' && echo root-error=EROFS; \
                   if echo data > /scratch/file && [ \"$(cat /scratch/file)\" = data ]; then echo scratch=writable; fi; \
                   awk '$2 == \"/scratch\" {print \"scratch-mount=\" $3 \" \" $4}' /proc/mounts; \
                   awk '$2 == \"/dev/shm\" {print \"shm-mount=\" $3 \" \" $4}' /proc/mounts; \
                   echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline); \
                   echo caps=$(awk '/^CapEff/ {print $2}' /proc/self/status); \
                   awk '$2 == \"db\" {print \"hosts=\" $1 \" \" $2}' /etc/hosts");
    let yaml = format!(
        "swarm-opts:
  - name: root_view
{image}
    read_only: true
    tmpfs: /scratch:size=16m
    shm_size: 128m
    init: true
    cap_drop: [ALL]
    cap_add: [NET_ADMIN]
    extra_hosts: [\"db:10.1.2.3\"]
    stop_signal: SIGINT
    command: {seen}
  - name: ids
{image}
    user: \"1234:2345\"
    working_dir: /etc
    command: {ids}
  - name: entry_list
{image}
    entrypoint: [/bin/echo, entry-list]
    command: [from-command]
  - name: entry_string
{image}
    entrypoint: /bin/echo entry-string
    command: [from-command]
",
        image = image(4),
        ids = sh("echo uid=$(id -u); echo gid=$(id -g); echo pwd=$(pwd)"),
    );
    let file = scene.write("swarm-opts.yaml", &yaml);
    // What `service create` was given, for what no container shows (the stop signal).
    let plan = run(scene.copili().arg("plan").arg(&file).args(["--engine", "swarm"]));
    assert_eq!(plan.code(), Some(0), "{}", plan.describe());
    assert!(
        plan.stdout().contains("--stop-signal=SIGINT"),
        "no --stop-signal in the service command\n{}",
        plan.stdout()
    );
    let output = run(scene.run_command(&file).args(["--jobs", "2"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_output_line(&output, "ids", "uid=1234");
    assert_output_line(&output, "ids", "gid=2345");
    assert_output_line(&output, "ids", "pwd=/etc");
    assert_output_line(&output, "root_view", "root-error=EROFS");
    assert_output_line(&output, "root_view", "scratch=writable");
    let scratch = printed_once(&output, "root_view", "scratch-mount");
    assert!(scratch.starts_with("tmpfs ") && scratch.contains("size=16384k"), "/scratch: {scratch}");
    let shm = printed_once(&output, "root_view", "shm-mount");
    assert!(shm.starts_with("tmpfs ") && shm.contains("size=131072k"), "/dev/shm: {shm}");
    let pid1 = printed_once(&output, "root_view", "pid1");
    assert!(pid1.starts_with("/sbin/docker-init -- ") && pid1.contains("sh -c"), "PID 1 is `{pid1}`");
    // NET_ADMIN (bit 12) and nothing else.
    assert_output_line(&output, "root_view", "caps=0000000000001000");
    assert_output_line(&output, "root_view", "hosts=10.1.2.3 db");
    assert_output_line(&output, "entry_list", "entry-list from-command");
    assert_output_line(&output, "entry_string", "entry-string from-command");
    scene.assert_no_leftovers();
}

// --- Process and file system ------------------------------------------------------------------------

/// `user`, `working_dir`, `entrypoint` (list, string, and `[]` with a command), `ulimits`,
/// `read_only` with a writable `tmpfs`, `shm_size`, `devices`, `init`, `cap_add`/`cap_drop`,
/// and a sidecar's `user`, `read_only` and `tmpfs`: each container prints what it sees, and a
/// container without options prints the same for comparison.
fn process_and_file_system(engine: Engine) {
    let scene = Scene::new(engine, "opts-process");
    let ids = quoted("echo uid=$(id -u); echo gid=$(id -g); echo pwd=$(pwd); echo nofile-soft=$(ulimit -n); \
                  echo nofile-hard=$(ulimit -Hn); if [ -e /dev/fuse ]; then echo fuse=present; else echo fuse=absent; fi");
    let fs = sh("if touch /root-file 2>/dev/null; then echo root=writable; else echo root=read-only; fi; \
                 touch /root-file 2>&1 | grep -q 'Read-only file system' && echo root-error=EROFS; \
                 if echo data > /scratch/file && [ \"$(cat /scratch/file)\" = data ]; then echo scratch=writable; fi; \
                 awk '$2 == \"/scratch\" {print \"scratch-mount=\" $3 \" \" $4}' /proc/mounts; \
                 awk '$2 == \"/dev/shm\" {print \"shm-mount=\" $3 \" \" $4}' /proc/mounts; \
                 if [ -c /dev/fuse ]; then echo fuse=char-device; fi; \
                 if [ -c /dev/renamed-fuse ]; then echo renamed-fuse=char-device; fi; \
                 echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline); echo self-pid=$$; \
                 echo caps=$(awk '/^CapEff/ {print $2}' /proc/self/status)");
    // The same observations without any option, to compare with.
    let plain = sh("echo caps=$(awk '/^CapEff/ {print $2}' /proc/self/status); \
                    echo pid1=$(tr '\\0' ' ' < /proc/1/cmdline); \
                    awk '$2 == \"/dev/shm\" {print \"shm-mount=\" $3 \" \" $4}' /proc/mounts");
    // A sidecar's options: it serves what it sees from its tmpfs (its root is read-only: the
    // error says so, which a user other than root would not be told on a writable root).
    let side = sh("root=$(touch /x 2>&1 | grep -q 'Read-only file system' && echo read-only || echo not-read-only); \
                   echo \"uid=$(id -u) root=$root\" > /www/index.html && exec httpd -f -p 8080 -h /www");
    let yaml = format!(
        "opts:
  - name: plain
{image}
    command: {plain}
  - name: with_side
{image}
    command: {with_side}
    sidecars:
      - name: helper
{side_image}
        user: \"4321\"
        read_only: true
        tmpfs: [\"/www:mode=1777\"]
        command: {side}
  - name: ids
{image}
    user: \"1234:2345\"
    working_dir: /etc
    entrypoint: [/bin/sh, -c]
    command: [{ids}]
    ulimits: {{nofile: {{soft: 512, hard: 1024}}}}
  - name: fs
{image}
    read_only: true
    tmpfs: /scratch:size=16m
    shm_size: 128m
    devices: [/dev/fuse, \"/dev/fuse:/dev/renamed-fuse:rwm\"]
    init: true
    cap_drop: [ALL]
    cap_add: [NET_ADMIN]
    command: {fs}
  - name: entry_list
{image}
    entrypoint: [/bin/echo, entry-list]
    command: [from-command]
  - name: entry_string
{image}
    entrypoint: /bin/echo entry-string
    command: [from-command]
  - name: entry_reset
{image}
    entrypoint: []
    command: [/bin/echo, reset-then-command]
",
        image = image(4),
        side_image = image(8),
        with_side = sh(&fetch("sidecar-says", "http://helper:8080/")),
    );
    let file = scene.write("opts.yaml", &yaml);
    let output = run(scene.run_command(&file).args(["--jobs", "2"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());

    // user, working_dir, ulimits; no device that was not asked for.
    assert_output_line(&output, "ids", "uid=1234");
    assert_output_line(&output, "ids", "gid=2345");
    assert_output_line(&output, "ids", "pwd=/etc");
    assert_output_line(&output, "ids", "nofile-soft=512");
    assert_output_line(&output, "ids", "nofile-hard=1024");
    assert_output_line(&output, "ids", "fuse=absent");

    // read_only: the root is read-only (the error says so: not a permission problem), the
    // tmpfs is writable.
    assert_output_line(&output, "fs", "root=read-only");
    assert_output_line(&output, "fs", "root-error=EROFS");
    assert_output_line(&output, "fs", "scratch=writable");
    // tmpfs `size=16m`, shm_size 128m: as the kernel shows them (KiB).
    let scratch = printed_once(&output, "fs", "scratch-mount");
    assert!(scratch.starts_with("tmpfs ") && scratch.contains("size=16384k"), "/scratch: {scratch}");
    let shm = printed_once(&output, "fs", "shm-mount");
    assert!(shm.contains("size=131072k"), "/dev/shm: {shm}");
    // devices: as is, and under another path with permissions
    assert_output_line(&output, "fs", "fuse=char-device");
    assert_output_line(&output, "fs", "renamed-fuse=char-device");
    // init: PID 1 is the engine's init, which runs the command as its child.
    let pid1 = printed_once(&output, "fs", "pid1");
    let init = match engine {
        Engine::Docker => "/sbin/docker-init -- ",
        _ => "/run/podman-init -- ",
    };
    assert!(pid1.starts_with(init) && pid1.contains("sh -c"), "PID 1 is `{pid1}`, not {init}…\n{}", output.describe());
    let self_pid = printed_once(&output, "fs", "self-pid");
    assert_ne!(self_pid, "1", "the command is PID 1 despite `init: true`");
    // cap_drop ALL, cap_add NET_ADMIN: exactly bit 12 (CAP_NET_ADMIN) is effective for root.
    assert_output_line(&output, "fs", "caps=0000000000001000");

    // entrypoint: a list, a string (split into words), and `[]` (the command runs alone).
    assert_output_line(&output, "entry_list", "entry-list from-command");
    assert_output_line(&output, "entry_string", "entry-string from-command");
    assert_output_line(&output, "entry_reset", "reset-then-command");
    // The sidecar's user, read-only root and tmpfs.
    assert_output_line(&output, "with_side", "sidecar-says=uid=4321 root=read-only");
    // Without options: the engine's default capabilities, the command as PID 1, the engine's
    // default /dev/shm (64 MB on podman, 64 MiB on docker).
    assert_ne!(printed_once(&output, "plain", "caps"), "0000000000001000", "{}", output.describe());
    assert!(printed_once(&output, "plain", "pid1").starts_with("sh -c "), "{}", output.describe());
    assert!(!printed_once(&output, "plain", "shm-mount").contains("size=131072k"), "{}", output.describe());
    for name in ["plain", "with_side", "ids", "fs", "entry_list", "entry_string", "entry_reset"] {
        assert_finished(&output, name, "succeeded", "");
    }
    scene.assert_no_leftovers();
}

// --- Network modes and extra hosts ----------------------------------------------------------------

/// A TCP listener on every address of the host (a random port) answering every HTTP request
/// with `body`, until dropped.
struct HostListener {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostListener {
    fn start(body: &str) -> HostListener {
        let listener = TcpListener::bind("0.0.0.0:0").expect("listen on 0.0.0.0");
        let port = listener.local_addr().expect("a bound address").port();
        listener.set_nonblocking(true).expect("a non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let response = format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                        // The request's head, then the answer.
                        let mut request = Vec::new();
                        let mut chunk = [0; 1024];
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut chunk) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => request.extend_from_slice(&chunk[..n]),
                            }
                        }
                        let _ = stream.write_all(response.as_bytes());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        HostListener { port, stop, thread: Some(thread) }
    }
}

impl Drop for HostListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// An interface of the host that no container on a bridge network has (a container's own is
/// `eth0`, like many a host's): `docker0` when there is one (the docker engine of the tests
/// makes it), else the first, by name, that is neither loopback, nor `eth*`, nor a short-lived
/// `veth*`/`tap*` of some container.
fn host_only_interface() -> String {
    let dev = std::fs::read_to_string("/proc/net/dev").expect("/proc/net/dev is readable");
    let mut names: Vec<String> =
        dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(|n| n.trim().to_string()).collect();
    names.sort();
    if names.iter().any(|n| n == "docker0") {
        return "docker0".into();
    }
    names
        .into_iter()
        .find(|n| n != "lo" && !["eth", "veth", "tap"].iter().any(|p| n.starts_with(p)))
        .unwrap_or_else(|| panic!("the host has no interface but loopback and eth*/veth*/tap*:\n{dev}"))
}

/// `network_mode: none` (loopback only), `host` (the host's interfaces), `bridge` (a network
/// of the engine's, not the host's), and
/// `extra_hosts` with a fixed address and `host-gateway`, which reaches a listener of the test
/// on the host from the engine's default network, the host's, and a job's own network.
fn network_modes_and_extra_hosts(engine: Engine) {
    let scene = Scene::new(engine, "opts-netmode");
    let body = format!("host-listener-{}-{}", engine.slug(), std::process::id());
    let listener = HostListener::start(&body);
    let interfaces = "echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' ')";
    let hosts = format!(
        "awk '$2 == \"h\" || $2 == \"db\" {{print \"hosts-entry=\" $2 \" \" $1}}' /etc/hosts | sort; {}",
        fetch("from-host", &format!("http://h:{}/", listener.port))
    );
    let yaml = format!(
        "netmode:
  - name: offline
{image}
    network_mode: none
    command: {interfaces}
  - name: on_host
{image}
    network_mode: host
    command: {interfaces}
  - name: bridged
{image}
    network_mode: bridge
    command: {interfaces}
  - name: hosts
{image}
    extra_hosts: [\"h:host-gateway\", \"db:10.1.2.3\"]
    command: {hosts}
  - name: hosts_on_host
{image}
    network_mode: host
    extra_hosts: [\"h:host-gateway\"]
    command: {fetch_host}
  - name: hosts_with_side
{image}
    extra_hosts: [\"h:host-gateway\"]
    command: {fetch_host}
    sidecars:
      - name: idle
{side_image}
        extra_hosts: [\"h:host-gateway\"]
        command: [sleep, \"30\"]
",
        image = image(4),
        interfaces = sh(interfaces),
        hosts = sh(&hosts),
        fetch_host = sh(&fetch("from-host", &format!("http://h:{}/", listener.port))),
        side_image = image(8),
    );
    let file = scene.write("netmode.yaml", &yaml);
    let output = run(scene.run_command(&file).args(["--jobs", "2"]));
    drop(listener);
    assert_eq!(output.code(), Some(0), "{}", output.describe());

    assert_output_line(&output, "offline", "ifaces=lo");
    let host_interface = host_only_interface();
    let on_host = printed_once(&output, "on_host", "ifaces");
    assert!(
        on_host.split_whitespace().any(|i| i == host_interface),
        "`network_mode: host` does not see the host's `{host_interface}`: {on_host}\n{}",
        output.describe()
    );
    let bridged = printed_once(&output, "bridged", "ifaces");
    let bridged: Vec<&str> = bridged.split_whitespace().collect();
    assert!(
        bridged.contains(&"lo") && bridged.len() >= 2 && !bridged.contains(&host_interface.as_str()),
        "`network_mode: bridge`: loopback and an interface of its own, not the host's `{host_interface}`: \
         {bridged:?}\n{}",
        output.describe()
    );

    let entries = printed(&output, "hosts", "hosts-entry");
    assert!(entries.iter().any(|e| e == "db 10.1.2.3"), "no `db` entry in /etc/hosts: {entries:?}");
    let gateway: Vec<&String> = entries.iter().filter(|e| e.starts_with("h ")).collect();
    assert_eq!(gateway.len(), 1, "one `h` entry in /etc/hosts: {entries:?}\n{}", output.describe());
    let address = gateway[0].trim_start_matches("h ");
    assert!(address.parse::<std::net::IpAddr>().is_ok(), "`h` is not an address but `{address}`");
    assert_output_line(&output, "hosts", &format!("from-host={body}"));
    assert_output_line(&output, "hosts_on_host", &format!("from-host={body}"));
    // On the job's own network (it has a sidecar): podman resolves `host-gateway` there.
    assert_output_line(&output, "hosts_with_side", &format!("from-host={body}"));
    scene.assert_no_leftovers();
}

// --- env_file -----------------------------------------------------------------------------------

/// `env_file`, relative to the pipeline file (which is not in the working directory): its
/// values arrive in a container and a sidecar, and never appear on a command line (every
/// process's is sampled during the run), nor in copili's output but where the containers
/// printed them (they print them reversed, so any appearance of the value is copili's), nor in
/// `plan`, `plan --format json`, `--dry-run`, the report or the log files.
fn env_file_values_are_secrets(engine: Engine) {
    let scene = Scene::new(engine, "opts-envfile");
    let secret = format!("envf1le-s3cret-{}-{}-Zq", engine.slug(), std::process::id());
    let reversed: String = secret.chars().rev().collect();
    // `.env` syntax: a comment, `export`, an unquoted value ended by ` #`, a single-quoted one
    // taken literally, a double-quoted one with a line break (which no env file of the engine's
    // can hold: copili hands that value over by name, in the client's environment).
    scene.write(
        "pipeline/values.env",
        &format!(
            "# read by env_file\nFILE_TOKEN={secret}\nexport FILE_MODE=batch # the mode\n\
             FILE_LITERAL='two  spaces $NOT_EXPANDED'\nFILE_MULTI=\"{secret}-one\\n{secret}-two\"\n"
        ),
    );
    let yaml = format!(
        "envfile:
  - name: show
{image}
    env_file: values.env
    command: {show}
    sidecars:
      - name: side
{side_image}
        env_file: [values.env]
        command: {side}
",
        image = image(4),
        side_image = image(8),
        show = sh("echo reversed=$(echo \"$FILE_TOKEN\" | rev); echo \"mode=[$FILE_MODE]\"; \
                   echo \"literal=[$FILE_LITERAL]\"; echo \"$FILE_MULTI\" | rev | sed 's/^/multi-reversed=/'; sleep 3"),
        side = sh("echo side-reversed=$(echo \"$FILE_TOKEN\" | rev); exec sleep 30"),
    );
    scene.write("pipeline/envfile.yaml", &yaml);
    // Relative to the working directory (the scene's): `values.env` is next to the pipeline.
    let file = Path::new("pipeline/envfile.yaml");
    let assert_hidden = |what: &str, text: &str| {
        assert!(!text.contains(&secret), "{what} shows the env file's value:\n{text}");
    };

    for args in [&["plan"][..], &["plan", "--format", "json"]] {
        let output = run(scene.command_as(args[0], file, &scene.identity).args(&args[1..]));
        assert_eq!(output.code(), Some(0), "{args:?}\n{}", output.describe());
        assert!(output.stdout().contains("FILE_TOKEN"), "{args:?} names the variable\n{}", output.describe());
        assert_hidden(&format!("copili {}", args.join(" ")), &all_output(&output));
    }
    let output = run(scene.run_command(file).arg("--dry-run"));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_hidden("copili run --dry-run", &all_output(&output));

    let report = scene.path("report.json");
    let mut command = scene.run_command(file);
    command.arg("--report").arg(&report).arg("--log-dir").arg(scene.path("logs"));
    let sampler = CmdlineSampler::start(&secret, &scene.identity, Duration::from_millis(10));
    let output = Running::spawn(&mut command).wait(RUN_TIMEOUT);
    let samples = sampler.stop();
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_output_line(&output, "show", &format!("reversed={reversed}"));
    assert_output_line(&output, "show", "mode=[batch]");
    assert_output_line(&output, "show", "literal=[two  spaces $NOT_EXPANDED]");
    for part in ["one", "two"] {
        let line: String = format!("{secret}-{part}").chars().rev().collect();
        assert_output_line(&output, "show", &format!("multi-reversed={line}"));
    }
    assert_output_line(&output, "show/side", &format!("side-reversed={reversed}"));
    assert_hidden("copili run", &all_output(&output));
    assert_hidden("the report", &std::fs::read_to_string(&report).expect("the report"));
    read_report(&report, &output);
    for entry in std::fs::read_dir(scene.path("logs")).expect("the log directory") {
        let path = entry.expect("a log file").path();
        assert_hidden(&path.display().to_string(), &std::fs::read_to_string(&path).expect("a log file"));
    }

    assert!(samples.with_secret.is_empty(), "command lines holding the env file's value: {:#?}", samples.with_secret);
    // A run of over three seconds, a pass every 10 ms plus its own time: far more than 50.
    assert!(samples.sweeps >= 50, "only {} passes over /proc", samples.sweeps);
    // Proof that the sampler watched the engine clients that get the values: it saw one that
    // creates a container of the pipeline (`create`, or `run` for a main container; one is
    // enough: a `create` lives some 50 ms, and a loaded machine can deschedule the sampler
    // for that long).
    let creating = samples.with_marker.iter().any(|c| {
        let args: Vec<&str> = c.split(' ').collect();
        let creates = args.iter().any(|a| *a == "create" || *a == "run");
        let names = [format!("{}-show", scene.identity), format!("{}-show-side", scene.identity)];
        creates && args.windows(2).any(|w| w[0] == "--name" && names.iter().any(|n| n == w[1]))
    });
    assert!(creating, "the sampler saw no command creating a container: {:#?}", samples.with_marker);
    scene.assert_no_leftovers();
}

// --- stop_signal, stop_grace_period ---------------------------------------------------------------

/// SIGTERM to copili while two containers run, with `--stop-timeout 30s` for the run: the one
/// trapping signals receives its `stop_signal` (SIGINT), the one ignoring every signal is
/// killed after its `stop_grace_period` (2 s), not after the run's 30 s.
fn stop_signal_and_grace_period(engine: Engine) {
    let scene = Scene::new(engine, "opts-stop");
    let yaml = format!(
        "stop:
  - name: polite
{image}
    stop_signal: SIGINT
    stop_grace_period: 2s
    command: {polite}
  - name: stubborn
{image}
    stop_signal: SIGINT
    stop_grace_period: 2s
    command: {stubborn}
",
        image = image(4),
        polite = sh("trap 'echo got-INT; exit 0' INT; trap 'echo got-TERM; exit 0' TERM; echo ready; \
                     while true; do sleep 0.2; done"),
        stubborn = sh("trap '' INT TERM; echo ready; while true; do sleep 0.2; done"),
    );
    let file = scene.write("stop.yaml", &yaml);
    let mut command = scene.run_command(&file);
    command.args(["--jobs", "2", "--stop-timeout", "30s"]);
    let mut copili = Running::spawn(&mut command);
    for name in ["polite", "stubborn"] {
        copili.wait_for_line(Duration::from_secs(60), &format!("`{name} | ready`"), |l| {
            output_line_text(l, name) == Some("ready")
        });
    }
    let signalled = Instant::now();
    copili.signal("TERM");
    let output = copili.wait(Duration::from_secs(40));
    let took = signalled.elapsed();
    assert_eq!(output.code(), Some(143), "{}", output.describe());
    assert_output_line(&output, "polite", "got-INT");
    assert!(
        !output.stdout().contains("got-TERM"),
        "the container got SIGTERM, not its stop_signal\n{}",
        output.describe()
    );
    // The stubborn container is killed after 2 s (the engine's own stop): well within 15 s,
    // and not at once.
    assert!(took < Duration::from_secs(15), "stop_grace_period 2s was not honoured: {took:?}\n{}", output.describe());
    assert!(took >= Duration::from_millis(1500), "killed before its grace period: {took:?}\n{}", output.describe());
    for name in ["polite", "stubborn"] {
        assert_finished(&output, name, "cancelled", "interrupted");
    }
    scene.assert_no_leftovers();
}

// --- networks -------------------------------------------------------------------------------------

/// A network and a server on it that the test made with the engine's own client, outside
/// copili; both removed when dropped.
struct OutsideServer {
    engine: Engine,
    network: String,
    container: String,
}

impl OutsideServer {
    /// Creates network `network` and runs on it a busybox `httpd` serving `body`, reachable
    /// by the name `alias`.
    fn start(engine: Engine, network: &str, alias: &str, body: &str) -> OutsideServer {
        let server = OutsideServer { engine, network: network.to_string(), container: format!("{network}-server") };
        server.remove();
        // A swarm job joins swarm-scoped networks only: an overlay that standalone containers
        // (the server) may join too.
        if engine == Engine::Swarm {
            engine.client_output(&["network", "create", "--driver", "overlay", "--attachable", network]);
        } else {
            engine.client_output(&["network", "create", network]);
        }
        let script = format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 8080 -h /www");
        let image = engine_setup().get("COPILI_TEST_IMAGE");
        engine.client_output(&[
            "run",
            "--detach",
            "--name",
            &server.container,
            "--network",
            network,
            "--network-alias",
            alias,
            image,
            "sh",
            "-c",
            &script,
        ]);
        server
    }

    fn remove(&self) {
        let _ = run(self.engine.client().args(["rm", "--force", &self.container]));
        // An overlay keeps the endpoints of a removed swarm task for a moment: retried until
        // it goes (or is gone).
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let _ = run(self.engine.client().args(["network", "rm", &self.network]));
            let gone = run(self.engine.client().args(["network", "inspect", &self.network])).code() != Some(0);
            if gone || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for OutsideServer {
    fn drop(&mut self) {
        self.remove();
    }
}

/// `networks`: a container joins a network the test created outside copili and reaches a
/// server there by name; a container with a sidecar joins it too, besides its job's own
/// network, with an alias there, and reaches its sidecar, the outside server, and itself by
/// that alias; its sidecar joins the outside network too and reaches the server (on docker:
/// each created on one network, connected to the other before it starts).
fn networks_made_outside_copili(engine: Engine) {
    let scene = Scene::new(engine, "opts-networks");
    let network = format!("copili-e2e-net-{}-{}", engine.slug(), std::process::id());
    let server = OutsideServer::start(engine, &network, "outside-srv", "served-outside");
    let yaml = format!(
        "networks:
  - name: joiner
{image}
    networks: [{network}]
    command: {joiner}
  - name: both
{image}
    networks:
      {network}: {{aliases: [both-alias]}}
    command: {both}
    sidecars:
      - name: helper
{side_image}
        networks: [{network}]
        command: {helper}
",
        image = image(4),
        side_image = image(8),
        joiner = sh(&fetch("outside", "http://outside-srv:8080/")),
        // It also serves itself, to be fetched by its alias, which only the outside network
        // knows.
        both = sh(&format!(
            "mkdir -p /me && echo served-by-alias > /me/index.html && httpd -p 8081 -h /me; {}; {}; {}",
            fetch("sidecar", "http://helper:8080/"),
            fetch("outside", "http://outside-srv:8080/"),
            fetch("self", "http://both-alias:8081/"),
        )),
        // The sidecar joins the outside network too: it serves what the outside server told it.
        helper = sh(&format!(
            "mkdir -p /www && ( {} ) > /www/index.html; exec httpd -f -p 8080 -h /www",
            fetch("sidecar-got", "http://outside-srv:8080/")
        )),
    );
    let file = scene.write("networks.yaml", &yaml);
    let output = run(scene.run_command(&file).args(["--jobs", "2"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert_output_line(&output, "joiner", "outside=served-outside");
    assert_output_line(&output, "both", "sidecar=sidecar-got=served-outside");
    assert_output_line(&output, "both", "outside=served-outside");
    assert_output_line(&output, "both", "self=served-by-alias");
    scene.assert_no_leftovers();
    // The network is the test's: copili did not remove it.
    let left = engine.client_output(&["network", "inspect", "--format", "{{.Name}}", &network]);
    assert_eq!(left.trim(), network, "copili removed the outside network");
    drop(server);
    let gone = run(engine.client().args(["network", "inspect", &network]));
    assert_ne!(gone.code(), Some(0), "the test's network {network} is still there");
}

/// A network that does not exist: a clear error before anything starts (not the engine's
/// refusal half-way through the run).
fn missing_network_is_refused_before_anything_starts(engine: Engine) {
    let scene = Scene::new(engine, "opts-nonet");
    let network = format!("copili-e2e-missing-{}-{}", engine.slug(), std::process::id());
    let yaml = format!(
        "nonet:
  - name: first
{image}
    command: [echo, first-ran]
  - name: second
{image}
    networks: [{network}]
    dependencies: [first]
    command: [echo, second-ran]
",
        image = image(4),
    );
    let file = scene.write("nonet.yaml", &yaml);
    let output = run(&mut scene.run_command(&file));
    assert_eq!(output.code(), Some(1), "{}", output.describe());
    assert!(
        all_output(&output).contains(&format!("network `{network}` does not exist")),
        "no clear message about the missing network\n{}",
        output.describe()
    );
    assert_no_output_from(&output, "first");
    assert_no_output_from(&output, "second");
    scene.assert_no_leftovers();
}

// --- gpus: the engine arguments -------------------------------------------------------------------

/// A pipeline asking for GPUs three ways, in `dir`.
fn gpu_pipeline(dir: &Path) -> PathBuf {
    let path = dir.join("gpus.yaml");
    let yaml = format!(
        "gpus:
  - name: every
{image}
    gpus: all
    command: [nvidia-smi]
  - name: two
{image}
    gpus: 2
    command: [nvidia-smi]
  - name: chosen
{image}
    gpus: [\"0\", GPU-3a23c669]
    command: [nvidia-smi]
",
        image = image(4),
    );
    std::fs::write(&path, yaml).expect("write the pipeline");
    path
}

/// A stand-in client named `name` (`fake-docker`, `fake-podman`: its kind is read from the
/// name) in `dir`: it appends each call's arguments to `calls`, one a line and `--end--` after
/// the last, in one write (calls run at once must not interleave), and answers as an engine with the image present and every container succeeding.
fn recording_client(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt as _;
    let client = dir.join(name);
    let calls = dir.join(format!("{name}.calls"));
    let script = format!(
        "#!/bin/sh
record=''
for a in \"$@\"; do record=\"$record$a
\"; done
printf '%s--end--\\n' \"$record\" >> '{calls}'
case \"$1\" in
  version|--version) echo 20.10.24 ;;
  image) echo sha256:0123456789abcdef ;;
  create) echo 0123456789abcdef ;;
  inspect) echo 'exited 0 false' ;;
  wait) echo 0 ;;
esac
exit 0
",
        calls = calls.display()
    );
    std::fs::write(&client, script).expect("write the stand-in");
    std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755)).expect("chmod the stand-in");
    (client, calls)
}

/// The recorded calls that create container `name` of pipeline `identity` (`run` or `create`
/// with `--name IDENTITY-NAME`), each as its arguments.
fn creating_calls(calls: &Path, identity: &str, name: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(calls).expect("the stand-in was called");
    let container = format!("{identity}-{name}");
    text.split("--end--\n")
        .map(|call| call.lines().map(String::from).collect::<Vec<_>>())
        .filter(|args| matches!(args.first().map(String::as_str), Some("run" | "create")))
        .filter(|args| args.windows(2).any(|w| w[0] == "--name" && w[1] == container))
        .collect()
}

/// The GPU arguments of a call: `--gpus…`, and the `--device…` naming NVIDIA's CDI devices.
fn gpu_args(args: &[String]) -> Vec<String> {
    args.iter().filter(|a| a.starts_with("--gpus") || a.starts_with("--device=nvidia.com/")).cloned().collect()
}

/// Runs the GPU pipeline against a recording stand-in of `client_kind` and with `--dry-run`;
/// asserts each container's GPU arguments are exactly `expected` (as the client gets them) and
/// that the dry run shows them, quoted for a shell.
fn assert_gpu_arguments(client_kind: &str, expected: &[(&str, &[&str], &[&str])]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = gpu_pipeline(dir.path());
    let (client, calls) = recording_client(dir.path(), &format!("fake-{client_kind}"));
    let empty_path = dir.path().join("empty-bin");
    std::fs::create_dir(&empty_path).expect("create empty-bin/");
    // A pipeline identity of this test's own: the two tests run at once.
    let identity = format!("e2e-gpus-{client_kind}-{}", std::process::id());

    let output = run(copili()
        .current_dir(dir.path())
        .arg("run")
        .arg(&file)
        .args(["--name", &identity, "--engine"])
        .arg(&client));
    let _ = std::fs::remove_file(std::env::temp_dir().join("copili-0").join(format!("{identity}.lock")));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    for (name, arguments, _) in expected {
        let created = creating_calls(&calls, &identity, name);
        assert_eq!(created.len(), 1, "one call creating `{name}`: {created:#?}");
        assert_eq!(gpu_args(&created[0]), *arguments, "{client_kind}, `{name}`: {:?}", created[0]);
    }

    // A dry run on `PATH` without any client prints the same arguments.
    let output = run(copili().current_dir(dir.path()).env("PATH", &empty_path).arg("run").arg(&file).args([
        "--name",
        &identity,
        "--dry-run",
        "--engine",
        client_kind,
    ]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let stdout = output.stdout();
    for (name, _, shown) in expected {
        let line = stdout
            .lines()
            .find(|l| l.contains(&format!("--name {identity}-{name} ")))
            .unwrap_or_else(|| panic!("the dry run shows no command creating `{name}`\n{}", output.describe()));
        for argument in *shown {
            assert!(line.split(' ').any(|word| word == *argument), "`{name}` lacks `{argument}`: {line}");
        }
    }
}

/// docker: `--gpus` with `all`, a count, and a device list quoted for its CSV reader.
#[test]
fn gpus_on_docker_are_its_gpus_flag() {
    assert_gpu_arguments(
        "docker",
        &[
            ("every", &["--gpus=all"], &["--gpus=all"]),
            ("two", &["--gpus=2"], &["--gpus=2"]),
            ("chosen", &["--gpus=\"device=0,GPU-3a23c669\""], &["'--gpus=\"device=0,GPU-3a23c669\"'"]),
        ],
    );
}

/// podman: NVIDIA's CDI devices, one `--device` per GPU.
#[test]
fn gpus_on_podman_are_cdi_devices() {
    assert_gpu_arguments(
        "podman",
        &[
            ("every", &["--device=nvidia.com/gpu=all"], &["--device=nvidia.com/gpu=all"]),
            (
                "two",
                &["--device=nvidia.com/gpu=0", "--device=nvidia.com/gpu=1"],
                &["--device=nvidia.com/gpu=0", "--device=nvidia.com/gpu=1"],
            ),
            (
                "chosen",
                &["--device=nvidia.com/gpu=0", "--device=nvidia.com/gpu=GPU-3a23c669"],
                &["--device=nvidia.com/gpu=0", "--device=nvidia.com/gpu=GPU-3a23c669"],
            ),
        ],
    );
}
