//! End-to-end tests of the bound on engine calls (issue 14, item 3): an engine client that
//! never answers one sub-command must not hold copili. copili runs with `--engine` naming a
//! stand-in client, a shell script that runs the real client (rootful podman, docker) for
//! every call but the chosen one, where it waits on a `sleep` of its own (so that only
//! killing the client's whole process group ends it). For each sub-command in turn copili
//! must exit within the bound (plus what the run itself takes), with the right exit code and
//! one line naming the command and the time, and leave nothing behind: no container or network
//! of the test's pipeline on the real engine, no process of the stand-in.
//!
//! On docker the same with a real engine made to hang: dockerd stopped with SIGSTOP (and
//! always resumed, also when the test fails); the docker tests of this file share a lock so
//! that none of them runs meanwhile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use copili_e2e::{all_output, engine_setup, engine_tests, run, wait_until, Engine, Output, Running, Scene};

/// The bound the tests give copili (`--engine-timeout`): short, yet long enough for the real
/// calls of the stand-in on a loaded 2-core host (a rootful podman `network rm` right after
/// removing its containers was seen to take over 2 s there).
const BOUND: Duration = Duration::from_secs(5);
const BOUND_ARG: &str = "5s";
/// The bound of the test that stops dockerd: its only call, the availability check, is the
/// one that cannot answer, and the daemon stays stopped no longer than this.
const DAEMON_BOUND_ARG: &str = "2s";
/// What a run of the tests' small pipelines takes beyond its timed-out calls (creating,
/// starting and removing two containers and a network on a loaded 2-core host), far below
/// the 60 s default bound: a run killed at the default instead of `--engine-timeout` fails.
const MARGIN: Duration = Duration::from_secs(15);
/// Beyond this a test stops waiting and kills copili: it hangs.
const GIVE_UP: Duration = Duration::from_secs(120);
/// The same while dockerd is stopped: every docker user of the host waits meanwhile.
const DAEMON_GIVE_UP: Duration = Duration::from_secs(20);

/// The docker tests of this file: the one that stops dockerd takes it for writing, so that no
/// other docker test of this file runs while the daemon does not answer.
static DOCKER: RwLock<()> = RwLock::new(());

engine_tests!(
    rootful_podman => copili_e2e::Engine::RootfulPodman,
    docker => copili_e2e::Engine::Docker;
    [
        version_hangs,
        image_check_hangs,
        network_create_hangs,
        create_hangs,
        start_hangs,
        inspect_hangs,
        first_rm_hangs,
        every_rm_hangs,
        first_network_rm_hangs,
        every_network_rm_hangs,
        plan_images_hang,
        sidecar_logs_hang,
        run_outlives_its_container,
    ]
);

/// One main container.
const ONE: &str = "hang:
  - name: main
    image_repo: localhost/copili-test
    command: [sh, -c, 'echo main-ran']
";

/// A main container with a sidecar, on a network of their own.
const WITH_SIDECAR: &str = "hang:
  - name: main
    image_repo: localhost/copili-test
    command: [sh, -c, 'echo main-ran']
    sidecars:
      - name: db
        image_repo: localhost/copili-test
        command: [sleep, '30']
";

/// A main container whose exit code (126) is also the client's own: copili asks `inspect`.
const EXIT_126: &str = "hang:
  - name: main
    image_repo: localhost/copili-test
    command: [sh, -c, 'exit 126']
";

/// The sub-command the stand-in hangs on, as it starts the client's arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hang {
    /// Every call.
    Always,
    /// The first call only (a marker directory says it was made).
    FirstOnly,
    /// Every call, after the real client has done it: a client that outlives its work.
    After,
}

/// A stand-in client in the scene's `bin/`, named as the real one (copili reads the kind from
/// the name), and what it logged.
struct StandIn {
    bin: PathBuf,
    client: PathBuf,
}

impl StandIn {
    /// Writes the stand-in: the real client, except that a call whose arguments start with
    /// `sub_command` waits on `bin/hang-sleep 3600` (a child of the script, not exec'd).
    fn new(scene: &Scene, sub_command: &str, hang: Hang) -> StandIn {
        use std::os::unix::fs::PermissionsExt as _;
        let bin = scene.path("bin");
        std::fs::create_dir_all(&bin).expect("create bin/");
        let sleep = find_on_path("sleep");
        std::os::unix::fs::symlink(&sleep, bin.join("hang-sleep")).expect("link sleep");
        let real = real_client(scene.engine);
        let client = bin.join(scene.engine.client_name());
        let first_only = match hang {
            Hang::Always => "true".to_string(),
            Hang::FirstOnly => format!("mkdir '{}/hung' 2>/dev/null", bin.display()),
            // Whatever the real call's exit code: it is never made twice.
            Hang::After => format!("'{}' \"$@\"; true", real_client(scene.engine).display()),
        };
        let script = format!(
            "#!/bin/sh\n\
             # The real client, except that `{sub_command}` never answers.\n\
             echo \"$*\" >> '{bin}/calls'\n\
             case \"$*\" in\n\
             '{sub_command}' | '{sub_command} '*)\n\
             \x20 if {first_only}; then\n\
             \x20   echo \"hanging: $*\" >> '{bin}/calls'\n\
             \x20   '{bin}/hang-sleep' 3600\n\
             \x20   exit 0\n\
             \x20 fi ;;\n\
             esac\n\
             exec '{real}' \"$@\"\n",
            bin = bin.display(),
            real = real.display(),
        );
        std::fs::write(&client, script).expect("write the stand-in");
        std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o755)).expect("chmod the stand-in");
        StandIn { bin, client }
    }

    /// The calls the stand-in saw, one a line (`hanging: …` before a call it hung on).
    fn calls(&self) -> String {
        std::fs::read_to_string(self.bin.join("calls")).unwrap_or_default()
    }

    /// How many calls it hung on.
    fn hung(&self) -> usize {
        self.calls().lines().filter(|l| l.starts_with("hanging: ")).count()
    }

    /// Pids of the processes still running from `bin/` (the stand-in, its `sleep`).
    fn alive(&self) -> Vec<(u32, String)> {
        let needle = self.bin.display().to_string();
        let mut alive = Vec::new();
        for entry in std::fs::read_dir("/proc").expect("/proc is readable").flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
            // Empty for a zombie, which is gone but for its parent's wait.
            let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(&needle) {
                alive.push((pid, cmdline));
            }
        }
        alive
    }

    /// Fails the test when a process of the stand-in outlived copili.
    fn assert_none_alive(&self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while !self.alive().is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let alive = self.alive();
        assert!(alive.is_empty(), "processes of the stand-in outlived copili: {alive:#?}\ncalls:\n{}", self.calls());
    }
}

impl Drop for StandIn {
    /// Whatever a failing test left running of the stand-in is killed.
    fn drop(&mut self) {
        for (pid, _) in self.alive() {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
        }
    }
}

/// The real client: podman from `PATH`, docker as `cargo xtask setup` found it.
fn real_client(engine: Engine) -> PathBuf {
    match engine {
        Engine::Docker | Engine::Swarm => PathBuf::from(engine_setup().get("COPILI_TEST_DOCKER")),
        Engine::RootfulPodman | Engine::RootlessPodman => find_on_path("podman"),
    }
}

fn find_on_path(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("`{name}` is on PATH"))
}

/// The docker tests' share of [`DOCKER`].
fn docker_share(engine: Engine) -> Option<RwLockReadGuard<'static, ()>> {
    (engine == Engine::Docker).then(|| DOCKER.read().unwrap_or_else(PoisonError::into_inner))
}

/// `copili run` of `pipeline` with `--engine CLIENT --engine-timeout 2s`; its output and how
/// long it took. A copili still running after [`GIVE_UP`] fails the test.
fn run_copili(scene: &Scene, pipeline: &str, client: &Path) -> (Output, Duration) {
    let file = scene.write("hang.yaml", pipeline);
    let mut command = scene.copili();
    command.arg("run").arg(&file).args(["--name", &scene.identity, "--engine"]).arg(client).args([
        "--engine-timeout",
        BOUND_ARG,
        "--stop-timeout",
        "1s",
    ]);
    let started = Instant::now();
    let output = Running::spawn(&mut command).wait(GIVE_UP);
    (output, started.elapsed())
}

/// What every scenario checks: the exit code, the time (within `hung` bounds plus the
/// margin), a line naming the command that was killed, that the stand-in hung at least once
/// and that nothing is left, neither on the engine nor of the stand-in.
fn assert_bounded(scene: &Scene, stand_in: &StandIn, sub_command: &str, run: (Output, Duration), code: i32) {
    let (output, took) = run;
    let hung = stand_in.hung();
    eprintln!(
        "{:?}: `{sub_command}` hung {hung} time(s); copili exited {:?} after {took:.1?}",
        scene.engine,
        output.code()
    );
    if std::env::var_os("COPILI_HANG_DEBUG").is_some() {
        eprintln!("{}\ncalls:\n{}", output.describe(), stand_in.calls());
    }
    assert!(
        hung >= 1,
        "the stand-in never hung on `{sub_command}`\ncalls:\n{}\n{}",
        stand_in.calls(),
        output.describe()
    );
    assert_eq!(output.code(), Some(code), "{}", output.describe());
    let limit = BOUND * u32::try_from(hung).unwrap_or(u32::MAX) + MARGIN;
    assert!(took < limit, "copili took {took:?} (limit {limit:?})\n{}", output.describe());
    assert_killed_line(&output, stand_in, sub_command);
    stand_in.assert_none_alive();
    scene.assert_no_leftovers();
}

/// A line of copili's output names the killed command and the bound: `` `…/podman
/// network create …` did not answer within 2s (killed)``.
fn assert_killed_line(output: &Output, stand_in: &StandIn, sub_command: &str) {
    let command = format!("`{} {sub_command}", stand_in.client.display());
    let wanted = format!("did not answer within {BOUND_ARG} (killed)");
    let text = all_output(output);
    assert!(
        text.lines().any(|line| line.contains(&command) && line.contains(&wanted)),
        "no line names {command}…` and says `{wanted}`\n{}",
        output.describe()
    );
}

/// The availability check does not answer: exit code 3, before anything is created.
fn version_hangs(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_version");
    let stand_in = StandIn::new(&scene, "version", Hang::Always);
    let run = run_copili(&scene, ONE, &stand_in.client);
    assert!(run.0.stderr().contains("does not answer"), "{}", run.0.describe());
    assert_bounded(&scene, &stand_in, "version", run, 3);
    // Beside the check, only the listings of an earlier run's leftovers and the question
    // whether the first images are there (which run at the same time): nothing is created,
    // started or pulled.
    let calls = stand_in.calls();
    let others: Vec<&str> = calls
        .lines()
        .filter(|l| {
            !l.contains("version")
                && !l.starts_with("ps ")
                && !l.starts_with("network ls ")
                && !l.starts_with("image inspect ")
        })
        .collect();
    assert!(others.is_empty(), "only the check and the listings: {calls}");
}

/// The image check (`image inspect`, which also gives the image's id) does not answer: the
/// container fails, saying so.
fn image_check_hangs(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_image");
    let sub_command = "image inspect";
    let stand_in = StandIn::new(&scene, sub_command, Hang::Always);
    let run = run_copili(&scene, ONE, &stand_in.client);
    assert!(!run.0.stdout().contains("main-ran"), "{}", run.0.describe());
    assert_bounded(&scene, &stand_in, sub_command, run, 1);
}

/// The sidecars' network cannot be created: the container fails.
fn network_create_hangs(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_netcreate");
    let stand_in = StandIn::new(&scene, "network create", Hang::Always);
    let run = run_copili(&scene, WITH_SIDECAR, &stand_in.client);
    assert_bounded(&scene, &stand_in, "network create", run, 1);
}

/// The sidecar cannot be created: the container fails, its network is removed.
fn create_hangs(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_create");
    let stand_in = StandIn::new(&scene, "create", Hang::Always);
    let run = run_copili(&scene, WITH_SIDECAR, &stand_in.client);
    assert!(!run.0.stdout().contains("main-ran"), "{}", run.0.describe());
    assert_bounded(&scene, &stand_in, "create", run, 1);
}

/// The follower of the sidecar's output (`logs --follow`) never answers, not even once the
/// sidecar is removed: it is given the bound from then and killed; the run succeeded.
fn sidecar_logs_hang(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_logs");
    let stand_in = StandIn::new(&scene, "logs", Hang::Always);
    let run = run_copili(&scene, WITH_SIDECAR, &stand_in.client);
    assert!(run.0.stdout().contains("main-ran"), "{}", run.0.describe());
    assert_bounded(&scene, &stand_in, "logs", run, 0);
}

/// The `run` client does its work — the container runs and ends — and then neither exits nor
/// says more: once the record says the container ended, the client has the bound to end,
/// then it is killed; the exit code is the record's (0: the run succeeded).
fn run_outlives_its_container(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_run_after");
    let stand_in = StandIn::new(&scene, "run", Hang::After);
    let run = run_copili(&scene, ONE, &stand_in.client);
    assert!(run.0.stdout().contains("main-ran"), "{}", run.0.describe());
    assert_bounded(&scene, &stand_in, "run", run, 0);
}

/// The sidecar created cannot be started: the container fails, the sidecar and the network
/// are removed.
fn start_hangs(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_start");
    let stand_in = StandIn::new(&scene, "start", Hang::Always);
    let run = run_copili(&scene, WITH_SIDECAR, &stand_in.client);
    assert_bounded(&scene, &stand_in, "start", run, 1);
}

/// The exit code is also the client's own (126): `inspect`, which would tell, does not answer.
/// The container fails with that for its reason, not with a guess.
fn inspect_hangs(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_inspect");
    let stand_in = StandIn::new(&scene, "inspect", Hang::Always);
    let run = run_copili(&scene, EXIT_126, &stand_in.client);
    assert_bounded(&scene, &stand_in, "inspect", run, 1);
}

/// The removal of the ended container does not answer once: tried again at the end of the
/// run, it succeeds; the run succeeded, and the killed call is said.
fn first_rm_hangs(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_rm1");
    let stand_in = StandIn::new(&scene, "rm", Hang::FirstOnly);
    let run = run_copili(&scene, ONE, &stand_in.client);
    assert!(run.0.stdout().contains("main-ran"), "{}", run.0.describe());
    assert!(!run.0.stderr().contains("left behind"), "{}", run.0.describe());
    assert_bounded(&scene, &stand_in, "rm", run, 0);
}

/// No removal ever answers: copili still exits, within the bound for each try, and names what
/// it left with the command that removes it.
fn every_rm_hangs(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_rm");
    let stand_in = StandIn::new(&scene, "rm", Hang::Always);
    let (output, took) = run_copili(&scene, ONE, &stand_in.client);
    let name = format!("{}-main", scene.identity);
    let remove = format!("`{} rm --force {name}`", stand_in.client.display());
    let left = output
        .stderr()
        .lines()
        .any(|l| l.contains(&format!("container `{name}` was left behind")) && l.contains(&remove));
    assert!(left, "no line names the container left behind and {remove}\n{}", output.describe());
    // What copili said is what is there; then it goes.
    assert_eq!(scene.engine.leftovers(&scene.identity).containers, vec![name.clone()]);
    scene.engine.remove_leftovers(&scene.identity);
    assert_bounded(&scene, &stand_in, "rm", (output, took), 0);
}

/// The removal of the sidecars' network does not answer once: removed at the end of the run.
fn first_network_rm_hangs(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_netrm1");
    let stand_in = StandIn::new(&scene, "network rm", Hang::FirstOnly);
    let run = run_copili(&scene, WITH_SIDECAR, &stand_in.client);
    assert!(!run.0.stderr().contains("left behind"), "{}", run.0.describe());
    assert_bounded(&scene, &stand_in, "network rm", run, 0);
}

/// No network removal answers: the network is named as left behind, with its command.
fn every_network_rm_hangs(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_netrm");
    let stand_in = StandIn::new(&scene, "network rm", Hang::Always);
    let (output, took) = run_copili(&scene, WITH_SIDECAR, &stand_in.client);
    let network = format!("{}-main-net", scene.identity);
    let remove = format!("`{} network rm {network}`", stand_in.client.display());
    let left = output
        .stderr()
        .lines()
        .any(|l| l.contains(&format!("network `{network}` was left behind")) && l.contains(&remove));
    assert!(left, "no line names the network left behind and {remove}\n{}", output.describe());
    assert_eq!(scene.engine.leftovers(&scene.identity).networks, vec![network.clone()]);
    assert!(scene.engine.leftovers(&scene.identity).containers.is_empty());
    scene.engine.remove_leftovers(&scene.identity);
    assert_bounded(&scene, &stand_in, "network rm", (output, took), 0);
}

/// `plan` asks the engine for its images: a listing that does not answer is killed at the
/// bound, and the plan says it could not tell, naming the call (exit code 0: a plan needs no
/// engine).
fn plan_images_hang(engine: Engine) {
    let _share = docker_share(engine);
    let scene = Scene::new(engine, "hang_plan");
    let stand_in = StandIn::new(&scene, "images", Hang::Always);
    let file = scene.write("hang.yaml", ONE);
    let mut command = scene.copili();
    command.arg("plan").arg(&file).arg("--engine").arg(&stand_in.client).args(["--engine-timeout", BOUND_ARG]);
    let started = Instant::now();
    let output = Running::spawn(&mut command).wait(GIVE_UP);
    let took = started.elapsed();
    assert!(output.stdout().contains("could not tell whether it is present"), "{}", output.describe());
    assert_bounded(&scene, &stand_in, "images", (output, took), 0);
}

/// dockerd stopped (SIGSTOP), resumed when dropped: also when the test fails.
struct StoppedDaemon {
    pid: u32,
}

impl StoppedDaemon {
    fn stop(pid: u32) -> StoppedDaemon {
        let status = Command::new("kill").args(["-STOP", &pid.to_string()]).status().expect("kill runs");
        assert!(status.success(), "cannot stop dockerd ({pid})");
        StoppedDaemon { pid }
    }
}

impl Drop for StoppedDaemon {
    fn drop(&mut self) {
        let resumed = Command::new("kill").args(["-CONT", &self.pid.to_string()]).status();
        if !matches!(resumed, Ok(status) if status.success()) {
            eprintln!("could not resume dockerd ({}): run `kill -CONT {}`", self.pid, self.pid);
        }
    }
}

/// The pid of the dockerd behind the default socket (its pidfile), checked to be a dockerd.
fn dockerd_pid() -> u32 {
    let text = std::fs::read_to_string("/var/run/docker.pid").expect("dockerd writes /var/run/docker.pid");
    let pid: u32 = text.trim().parse().expect("a pid in /var/run/docker.pid");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "dockerd", "/var/run/docker.pid names {pid}, not a dockerd");
    pid
}

/// A real engine that accepts the connection and never answers: dockerd stopped. copili's
/// availability check is killed at the bound, exit code 3, one line naming the command; then
/// the daemon is resumed and answers again.
#[test]
fn docker_daemon_that_does_not_answer() {
    let _all = DOCKER.write().unwrap_or_else(PoisonError::into_inner);
    let scene = Scene::new(Engine::Docker, "hang_dockerd");
    let file = scene.write("hang.yaml", ONE);
    let docker = real_client(Engine::Docker);
    let pid = dockerd_pid();
    // Made (and copili built, if need be) before the daemon stops.
    let mut command = scene.copili();
    command.arg("run").arg(&file).args(["--name", &scene.identity, "--engine"]).arg(&docker);
    command.args(["--engine-timeout", DAEMON_BOUND_ARG]);
    let (output, took) = {
        let _stopped = StoppedDaemon::stop(pid);
        let started = Instant::now();
        let output = Running::spawn(&mut command).wait(DAEMON_GIVE_UP);
        (output, started.elapsed())
    };
    eprintln!("dockerd stopped: copili exited {:?} after {took:.1?}", output.code());
    assert_eq!(output.code(), Some(3), "{}", output.describe());
    assert!(took < Duration::from_secs(2 + 5), "copili took {took:?}\n{}", output.describe());
    let wanted = format!(
        "`{} version --format {{{{.Server.Version}}}}` did not answer within {DAEMON_BOUND_ARG} (killed)",
        docker.display()
    );
    let line = output.stderr().lines().find(|l| l.contains(&wanted)).map(String::from);
    assert!(line.is_some_and(|l| l.starts_with("error: ")), "no line says {wanted}\n{}", output.describe());
    // Resumed, the daemon answers again, and nothing was made meanwhile.
    wait_until(Duration::from_secs(30), "dockerd answers again", || {
        run(Command::new(&docker).args(["version", "--format", "{{.Server.Version}}"])).code() == Some(0)
    });
    let alive: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&scene.identity) || c.contains("version --format {{.Server.Version}}"))
        .collect();
    assert!(alive.is_empty(), "clients outlived copili: {alive:#?}");
    scene.assert_no_leftovers();
}

/// `--engine-timeout` (and `COPILI_ENGINE_TIMEOUT`) takes a duration more than zero: anything
/// else is a usage error naming the option, before any engine is asked.
#[test]
fn engine_timeout_is_a_duration_more_than_zero() {
    let file = copili_e2e::repo_root().join("examples/quickstart.yaml");
    for (value, says) in [("0s", "must be more than 0"), ("soon", "expected a duration")] {
        let output = run(copili_e2e::copili().arg("run").arg(&file).args([
            "--engine",
            "/no/such/client",
            "--engine-timeout",
            value,
        ]));
        assert_eq!(output.code(), Some(2), "{}", output.describe());
        assert!(
            output.stderr().contains("--engine-timeout") && output.stderr().contains(says),
            "{}",
            output.describe()
        );
        let output = run(copili_e2e::copili()
            .arg("run")
            .arg(&file)
            .args(["--engine", "/no/such/client"])
            .env("COPILI_ENGINE_TIMEOUT", value));
        assert_eq!(output.code(), Some(2), "COPILI_ENGINE_TIMEOUT={value}: {}", output.describe());
    }
    // A valid one is taken: the run gets as far as the engine (there is none).
    let output = run(copili_e2e::copili().arg("run").arg(&file).args([
        "--engine",
        "/no/such/client",
        "--engine-timeout",
        "1m 30s",
    ]));
    assert_eq!(output.code(), Some(3), "{}", output.describe());
}

/// A real podman that never answers: its storage lock held (as by a podman that died holding
/// it). On a private storage of the test's own (`CONTAINERS_STORAGE_CONF`), so that no other
/// user of the host's podman waits meanwhile. The first call that opens the storage (the
/// availability check, or the listing of an earlier run's leftovers right after it) is killed
/// at the bound: exit code 3, one line naming it, nothing started.
#[test]
fn podman_whose_storage_lock_is_held() {
    let scene = Scene::new(Engine::RootfulPodman, "hang_podman_lock");
    let file = scene.write("hang.yaml", ONE);
    let storage = scene.path("storage");
    let conf = scene.write(
        "storage.conf",
        &format!("[storage]\ndriver = \"vfs\"\ngraphroot = \"{0}/graph\"\nrunroot = \"{0}/run\"\n", storage.display()),
    );
    // The storage is made by a first call, which answers.
    let podman = |args: &[&str]| {
        let mut command = scene.engine.client();
        command.env("CONTAINERS_STORAGE_CONF", &conf).args(args);
        command
    };
    let output = run(&mut podman(&["ps", "--all"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    let lock_file = storage.join("graph/storage.lock");
    let lock =
        std::fs::OpenOptions::new().read(true).write(true).open(&lock_file).expect("podman made its storage lock");
    rustix::fs::fcntl_lock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).expect("lock the storage");

    let mut command = scene.copili();
    command.arg("run").arg(&file).args(["--name", &scene.identity, "--engine", "podman"]);
    command.args(["--engine-timeout", DAEMON_BOUND_ARG]).env("CONTAINERS_STORAGE_CONF", &conf);
    let started = Instant::now();
    let output = Running::spawn(&mut command).wait(GIVE_UP);
    let took = started.elapsed();
    eprintln!("podman storage locked: copili exited {:?} after {took:.1?}", output.code());
    // Released, podman answers again, at once.
    drop(lock);
    assert_eq!(output.code(), Some(3), "{}", output.describe());
    assert!(took < Duration::from_secs(2 + 5), "copili took {took:?}\n{}", output.describe());
    // Which call meets the lock first is podman's business (4.3's `version` reads the storage
    // when it finds one): the availability check or the listing right after it.
    let line = output.stderr().lines().find(|l| l.contains("did not answer within 2s (killed)")).map(String::from);
    let prefix = "error: container engine `podman` does not answer: `podman ";
    assert!(line.is_some_and(|l| l.starts_with(prefix)), "{}", output.describe());
    let started = Instant::now();
    let output = run(&mut podman(&["ps", "--all"]));
    assert_eq!(output.code(), Some(0), "{}", output.describe());
    assert!(started.elapsed() < Duration::from_secs(10), "podman took {:?} once the lock was free", started.elapsed());
    // No client of the run outlived it (its listing names the pipeline).
    let alive: Vec<String> = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&scene.identity))
        .collect();
    assert!(alive.is_empty(), "clients outlived copili: {alive:#?}");
    scene.assert_no_leftovers();
}
