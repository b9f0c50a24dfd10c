//! Step 10: what the engines report about themselves, and what a test needs to know, printed
//! and written to [`super::ENGINES_ENV_FILE`].

use std::path::{Path, PathBuf};
use std::process::Command;

use super::containers_conf::podman_command;
use super::process::{stdout_of, write_if_changed};
use super::registry::{REGISTRY_ADDR, REGISTRY_IMAGE, REGISTRY_PASSWORD, REGISTRY_USER};
use super::rootless::RootlessUser;
use super::TEST_IMAGE;
use crate::{Error, Result};

/// What the tests need to know about the engines [`ensure`](super::ensure) set up.
#[derive(Debug)]
pub(crate) struct EngineEnv {
    /// The test environment directory, `<target>/test-env`.
    pub(crate) dir: PathBuf,
    /// The containers.conf rootful podman needs, passed in the `CONTAINERS_CONF` variable.
    pub(crate) containers_conf: PathBuf,
    /// The docker client used, the first `docker` on `PATH`.
    pub(crate) docker: PathBuf,
    /// The user rootless podman runs as.
    pub(crate) rootless: RootlessUser,
    /// What each engine reported about itself.
    pub(crate) versions: Versions,
    /// The registry's access log.
    pub(crate) registry_log: PathBuf,
    /// The two-node swarm.
    pub(crate) cluster: crate::cluster::Cluster,
}

/// Versions and settings the engines report, shown in the summary.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct Versions {
    /// Rootful podman: `<version> <oci runtime> <network backend>`.
    pub(crate) podman: String,
    /// Rootless podman, same fields.
    pub(crate) rootless_podman: String,
    /// The docker client used.
    pub(crate) docker_client: String,
    /// The docker daemon.
    pub(crate) docker_server: String,
}

impl EngineEnv {
    /// rootful `podman` with [`EngineEnv::containers_conf`] in its environment.
    pub(crate) fn podman(&self) -> Command {
        podman_command(&self.containers_conf)
    }

    /// The docker client.
    pub(crate) fn docker(&self) -> Command {
        Command::new(&self.docker)
    }

    /// The `KEY=VALUE` pairs of [`ENGINES_ENV_FILE`](super::ENGINES_ENV_FILE), in order.
    pub(crate) fn vars(&self) -> Vec<(&'static str, String)> {
        let path = |path: &Path| path.display().to_string();
        vec![
            ("COPILI_TEST_IMAGE", TEST_IMAGE.to_string()),
            ("CONTAINERS_CONF", path(&self.containers_conf)),
            ("COPILI_TEST_DOCKER", path(&self.docker)),
            ("COPILI_TEST_ROOTLESS_USER", self.rootless.name.clone()),
            ("COPILI_TEST_ROOTLESS_UID", self.rootless.uid.to_string()),
            ("COPILI_TEST_ROOTLESS_HOME", path(&self.rootless.home)),
            ("COPILI_TEST_ROOTLESS_XDG_RUNTIME_DIR", path(&self.rootless.xdg_runtime_dir)),
            ("COPILI_TEST_ROOTLESS_CONTAINERS_CONF", path(&self.rootless.containers_conf)),
            ("COPILI_TEST_REGISTRY", REGISTRY_ADDR.to_string()),
            ("COPILI_TEST_REGISTRY_USER", REGISTRY_USER.to_string()),
            ("COPILI_TEST_REGISTRY_PASSWORD", REGISTRY_PASSWORD.to_string()),
            ("COPILI_TEST_REGISTRY_IMAGE", format!("{REGISTRY_ADDR}/{REGISTRY_IMAGE}")),
            ("COPILI_TEST_REGISTRY_LOG", path(&self.registry_log)),
            ("COPILI_TEST_ARGO_VALIDATOR", path(&crate::argo_schema::validator_path(&self.dir))),
            ("COPILI_TEST_CLUSTER_MANAGER", self.cluster.manager.clone()),
            ("COPILI_TEST_CLUSTER_WORKER", self.cluster.worker.clone()),
            ("COPILI_TEST_CLUSTER_NODE_LABEL", crate::cluster::NODE_LABEL.to_string()),
            ("COPILI_TEST_DEBIAN_IMAGE", crate::debian_image::DEBIAN_IMAGE.to_string()),
        ]
    }
}

fn versions(env: &EngineEnv) -> Result<Versions> {
    // The OCI runtime shows that containers.conf is read; the network backend decides whether
    // `--network-alias` names resolve (netavark with aardvark-dns does, CNI without dnsname not).
    let podman_info = [
        "info",
        "--format",
        "{{.Version.Version}} (runtime {{.Host.OCIRuntime.Name}}, network backend {{.Host.NetworkBackend}})",
    ];
    Ok(Versions {
        podman: stdout_of(env.podman().args(podman_info))?,
        rootless_podman: stdout_of(env.rootless.podman().args(podman_info))?,
        docker_client: stdout_of(env.docker().args(["version", "--format", "{{.Client.Version}}"]))?,
        docker_server: stdout_of(env.docker().args(["version", "--format", "{{.Server.Version}}"]))?,
    })
}

pub(super) fn print_summary(env: &EngineEnv, env_file: &Path) {
    let versions = &env.versions;
    eprintln!("    rootful podman   {}", versions.podman);
    eprintln!("    rootless podman  {} as {} (uid {})", versions.rootless_podman, env.rootless.name, env.rootless.uid);
    eprintln!(
        "    docker           client {} ({}), server {}",
        versions.docker_client,
        env.docker.display(),
        versions.docker_server
    );
    eprintln!("    test environment ({}):", env_file.display());
    for (key, value) in env.vars() {
        eprintln!("      {key}={value}");
    }
}

/// Asks the engines for their versions, then writes
/// [`ENGINES_ENV_FILE`](super::ENGINES_ENV_FILE) (unless it holds that text already); its path.
pub(super) fn write_engines_env(env: &mut EngineEnv) -> Result<PathBuf> {
    env.versions = versions(env)?;
    let env_file = env.dir.join(super::ENGINES_ENV_FILE);
    write_if_changed(&env_file, &render_env_file(&env.versions, &env.vars()).map_err(Error::Failed)?)?;
    Ok(env_file)
}

/// The text of [`ENGINES_ENV_FILE`](super::ENGINES_ENV_FILE): a comment with the versions, then
/// one `KEY=VALUE` line per variable. Values are not quoted: a reader takes everything after the
/// first `=`. A value with a line break cannot be written that way and is an error.
fn render_env_file(versions: &Versions, vars: &[(&str, String)]) -> std::result::Result<String, String> {
    let mut text = String::from("# Written by `cargo xtask setup`: what the engine tests need. KEY=VALUE, unquoted.\n");
    text.push_str(&format!("# rootful podman {}\n", versions.podman));
    text.push_str(&format!("# rootless podman {}\n", versions.rootless_podman));
    text.push_str(&format!("# docker client {}, server {}\n", versions.docker_client, versions.docker_server));
    for (key, value) in vars {
        if value.contains(['\n', '\r']) {
            return Err(format!("the value of {key} has a line break: {value:?}"));
        }
        text.push_str(&format!("{key}={value}\n"));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::super::ROOTLESS_USER;
    use super::*;
    use crate::display_command;

    fn example_env() -> EngineEnv {
        EngineEnv {
            dir: PathBuf::from("/work/main/target/test-env"),
            containers_conf: PathBuf::from("/work/main/target/test-env/containers.conf"),
            docker: PathBuf::from("/usr/local/bin/docker"),
            rootless: RootlessUser {
                name: ROOTLESS_USER.into(),
                uid: 1000,
                gid: 1000,
                home: PathBuf::from("/home/copili-rl"),
                xdg_runtime_dir: PathBuf::from("/run/user/1000"),
                containers_conf: PathBuf::from("/home/copili-rl/.config/copili-test/containers.conf"),
            },
            versions: Versions {
                podman: "4.3.1 (runtime runc, network backend netavark)".into(),
                rootless_podman: "4.3.1 (runtime runc, network backend netavark)".into(),
                docker_client: "28.2.2".into(),
                docker_server: "20.10.24+dfsg1".into(),
            },
            registry_log: PathBuf::from("/work/main/target/test-env/registry.log"),
            cluster: crate::cluster::Cluster {
                manager: "unix:///run/copili-cluster/node1.sock".into(),
                worker: "unix:///run/copili-cluster/node2.sock".into(),
            },
        }
    }

    #[test]
    fn engines_env_lists_what_tests_need() {
        let env = example_env();
        assert_eq!(
            render_env_file(&env.versions, &env.vars()).as_deref(),
            Ok("\
# Written by `cargo xtask setup`: what the engine tests need. KEY=VALUE, unquoted.
# rootful podman 4.3.1 (runtime runc, network backend netavark)
# rootless podman 4.3.1 (runtime runc, network backend netavark)
# docker client 28.2.2, server 20.10.24+dfsg1
COPILI_TEST_IMAGE=localhost/copili-test:latest
CONTAINERS_CONF=/work/main/target/test-env/containers.conf
COPILI_TEST_DOCKER=/usr/local/bin/docker
COPILI_TEST_ROOTLESS_USER=copili-rl
COPILI_TEST_ROOTLESS_UID=1000
COPILI_TEST_ROOTLESS_HOME=/home/copili-rl
COPILI_TEST_ROOTLESS_XDG_RUNTIME_DIR=/run/user/1000
COPILI_TEST_ROOTLESS_CONTAINERS_CONF=/home/copili-rl/.config/copili-test/containers.conf
COPILI_TEST_REGISTRY=127.0.0.1:5858
COPILI_TEST_REGISTRY_USER=copili
COPILI_TEST_REGISTRY_PASSWORD=Reg1stry-pa55-9f3c1d
COPILI_TEST_REGISTRY_IMAGE=127.0.0.1:5858/copili/busybox:latest
COPILI_TEST_REGISTRY_LOG=/work/main/target/test-env/registry.log
COPILI_TEST_ARGO_VALIDATOR=/work/main/target/test-env/argo-validate/validate.mjs
COPILI_TEST_CLUSTER_MANAGER=unix:///run/copili-cluster/node1.sock
COPILI_TEST_CLUSTER_WORKER=unix:///run/copili-cluster/node2.sock
COPILI_TEST_CLUSTER_NODE_LABEL=copili-e2e.node
COPILI_TEST_DEBIAN_IMAGE=localhost/copili-debian:latest
")
        );
        let bad = [("CONTAINERS_CONF", "/tmp/a\nb".to_string())];
        assert_eq!(
            render_env_file(&env.versions, &bad),
            Err(r#"the value of CONTAINERS_CONF has a line break: "/tmp/a\nb""#.to_string())
        );
    }

    #[test]
    fn rootless_podman_runs_as_the_user_with_a_clean_environment() {
        let env = example_env();
        assert_eq!(
            display_command(env.rootless.podman().args(["run", "--rm", TEST_IMAGE, "true"])),
            "runuser -u copili-rl -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
             HOME=/home/copili-rl USER=copili-rl LOGNAME=copili-rl XDG_RUNTIME_DIR=/run/user/1000 \
             CONTAINERS_CONF=/home/copili-rl/.config/copili-test/containers.conf podman run --rm \
             localhost/copili-test:latest true"
        );
        let podman = env.podman();
        let conf: Vec<_> = podman.get_envs().filter(|(name, _)| *name == "CONTAINERS_CONF").collect();
        assert_eq!(conf, [(std::ffi::OsStr::new("CONTAINERS_CONF"), Some(env.containers_conf.as_os_str()))]);
    }
}
