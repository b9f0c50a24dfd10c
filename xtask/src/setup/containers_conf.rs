//! Step 2: podman's settings for this host, in a containers.conf of the test environment that
//! whoever runs rootful podman passes in `CONTAINERS_CONF`.

use std::fs;
use std::path::Path;
use std::process::Command;

use super::process::{io_failed, write_if_changed};
use crate::Result;

/// podman's settings for this host (see step 2 in the module documentation), exactly as
/// verified in ENGINE-NOTES.
const CONTAINERS_CONF: &str = "\
[containers]
default_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]
[engine]
runtime = \"runc\"
";

pub(super) fn ensure_containers_conf(dir: &Path, containers_conf: &Path) -> Result<String> {
    fs::create_dir_all(dir).map_err(|error| io_failed("create", dir, error))?;
    let written = write_if_changed(containers_conf, CONTAINERS_CONF)?;
    Ok(format!("{} {}", if written { "wrote" } else { "up to date:" }, containers_conf.display()))
}

/// Rootful `podman` with `containers_conf` in its `CONTAINERS_CONF` variable.
pub(super) fn podman_command(containers_conf: &Path) -> Command {
    let mut command = Command::new("podman");
    command.env("CONTAINERS_CONF", containers_conf);
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_conf_is_the_verified_one() {
        assert_eq!(
            CONTAINERS_CONF,
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n[engine]\nruntime = \"runc\"\n"
        );
    }
}
