//! Step 6: a registry with authentication on loopback, this checkout's, with the test image
//! pushed to it and unauthenticated pulls refused.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::containers_conf::podman_command;
use super::process::{checked, io_failed, output, stdout_of, tail, write_if_changed, TAIL_LINES};
use super::TEST_IMAGE;
use crate::{display_command, Error, Result};

/// Where the test registry listens (plain HTTP on loopback, which docker allows by default).
pub(crate) const REGISTRY_ADDR: &str = "127.0.0.1:5858";
/// The test registry's user.
pub(crate) const REGISTRY_USER: &str = "copili";
/// The test registry's password: tests grep for it in every output they see.
pub(crate) const REGISTRY_PASSWORD: &str = "Reg1stry-pa55-9f3c1d";
/// The image every engine test can pull from the registry.
pub(crate) const REGISTRY_IMAGE: &str = "copili/busybox:latest";

/// How long the registry may take to answer after it was started.
const REGISTRY_TIMEOUT: Duration = Duration::from_secs(30);

fn registry_config(dir: &Path) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: info\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: true\n\
         http:\n  addr: {REGISTRY_ADDR}\n\
         auth:\n  htpasswd:\n    realm: copili-test\n    path: {htpasswd}\n",
        data = dir.join("data").display(),
        htpasswd = dir.join("htpasswd").display(),
    )
}

/// The status code of `GET /v2/` on the registry, or `None` when nothing answers.
fn registry_status() -> Option<u16> {
    use std::io::Read as _;
    let addr: std::net::SocketAddr = REGISTRY_ADDR.parse().ok()?;
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {REGISTRY_ADDR}\r\n\r\n").as_bytes()).ok()?;
    let mut head = [0u8; 64];
    let n = stream.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..n]);
    text.split_whitespace().nth(1)?.parse().ok()
}

pub(super) fn ensure_registry(test_env: &Path, log: &Path, containers_conf: &Path) -> Result<String> {
    let dir = test_env.join("registry");
    fs::create_dir_all(dir.join("data")).map_err(|error| io_failed("create", &dir, error))?;
    let htpasswd = dir.join("htpasswd");
    // bcrypt salts differ each time: keep a file that already holds a hash for the password.
    let valid = fs::read_to_string(&htpasswd).is_ok_and(|text| text.starts_with(&format!("{REGISTRY_USER}:")))
        && output(Command::new("htpasswd").args(["-vb"]).arg(&htpasswd).args([REGISTRY_USER, REGISTRY_PASSWORD]))?
            .status
            .success();
    if !valid {
        let line = stdout_of(Command::new("htpasswd").args(["-Bbn", REGISTRY_USER, REGISTRY_PASSWORD]))?;
        fs::write(&htpasswd, format!("{line}\n")).map_err(|error| io_failed("write", &htpasswd, error))?;
    }
    let config = dir.join("config.yml");
    let config_changed = write_if_changed(&config, &registry_config(&dir))?;
    // Only this checkout's registry will do: the tests read its access log.
    let ours = output(Command::new("pgrep").args(["-f", &format!("docker-registry serve {}", config.display())]))?
        .status
        .success();
    let mut outcome = match registry_status() {
        Some(401) if !config_changed && valid && ours => format!("registry answers on {REGISTRY_ADDR}"),
        Some(status) if !config_changed && valid && ours => {
            return Err(Error::Failed(format!(
                "something else listens on {REGISTRY_ADDR}: `GET /v2/` answered {status}, not 401"
            )))
        }
        _ => {
            if registry_status().is_some() {
                // Our registry with an old config: stop it so that the new one can listen.
                let _ =
                    output(Command::new("pkill").args(["-f", &format!("docker-registry serve {}", config.display())]));
                thread::sleep(Duration::from_millis(500));
            }
            if registry_status().is_some() {
                return Err(Error::Failed(format!(
                    "another registry (not this checkout's, whose access log the tests read) listens on \
                     {REGISTRY_ADDR}: stop it, e.g. `pkill -f 'docker-registry serve'`, and run setup again"
                )));
            }
            let log_file = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .map_err(|error| io_failed("open", log, error))?;
            let log_file_for_stderr = log_file.try_clone().map_err(|error| io_failed("open", log, error))?;
            let mut start = Command::new("setsid");
            start
                .arg("docker-registry")
                .arg("serve")
                .arg(&config)
                .current_dir("/")
                .stdin(Stdio::null())
                .stdout(log_file)
                .stderr(log_file_for_stderr);
            let line = display_command(&start);
            let mut registry =
                start.spawn().map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
            let started = Instant::now();
            loop {
                if registry_status() == Some(401) {
                    break;
                }
                if let Ok(Some(status)) = registry.try_wait() {
                    let text = fs::read_to_string(log).unwrap_or_default();
                    return Err(Error::Failed(format!(
                        "the registry exited ({status}) before answering\n--- {} ---\n{}",
                        log.display(),
                        tail(&text, TAIL_LINES)
                    )));
                }
                if started.elapsed() > REGISTRY_TIMEOUT {
                    return Err(Error::Failed(format!("the registry did not answer on {REGISTRY_ADDR} within 30s")));
                }
                thread::sleep(Duration::from_millis(200));
            }
            format!("started `{line}` (pid {}), log in {}", registry.id(), log.display())
        }
    };
    // The shared test image in the registry (pushing an image that is there is quick).
    let remote = format!("{REGISTRY_ADDR}/{REGISTRY_IMAGE}");
    let creds = format!("{REGISTRY_USER}:{REGISTRY_PASSWORD}");
    checked(podman_command(containers_conf).args([
        "push",
        "--quiet",
        "--tls-verify=false",
        "--creds",
        &creds,
        TEST_IMAGE,
        &remote,
    ]))?;
    // Without credentials the registry must refuse: the tests rely on it.
    let refused = output(podman_command(containers_conf).args([
        "pull",
        "--quiet",
        "--tls-verify=false",
        "--authfile",
        "/dev/null",
        &remote,
    ]))?;
    if refused.status.success() {
        return Err(Error::Failed(format!("the registry on {REGISTRY_ADDR} served {remote} without credentials")));
    }
    outcome.push_str(&format!("; {remote} pushed; unauthenticated pulls refused"));
    Ok(outcome)
}
