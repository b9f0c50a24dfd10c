//! Step 1: the Debian packages the engines and tests need, installed with apt-get when
//! `dpkg-query` does not report them installed.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::process::Command;

use super::process::{checked, io_failed, output};
use super::ROOTLESS_USER;
use crate::{Error, Result};

/// The Debian packages the engines and tests need; see step 1 in the module documentation for
/// the last three.
const PACKAGES: &[&str] = &[
    "podman",
    "runc",
    "docker.io",
    "busybox-static",
    "docker-registry",
    "apache2-utils",
    "uidmap",
    "slirp4netns",
    "netavark",
    "aardvark-dns",
    "catatonit",
    "iproute2",
    "fish",
    "groff-base",
    "debootstrap",
    "chromium",
    "prometheus",
];

pub(super) fn ensure_packages() -> Result<String> {
    let mut query = Command::new("dpkg-query");
    query.args(["-W", "-f=${Package}\\t${Status}\\n"]).args(PACKAGES);
    // dpkg-query exits 1 when it knows nothing of a package: that is an answer, not an error.
    let output = output(&mut query)?;
    let missing = missing_packages(&String::from_utf8_lossy(&output.stdout), PACKAGES);
    if missing.is_empty() {
        return Ok(format!("all {} packages installed", PACKAGES.len()));
    }
    let install_line = format!("apt-get install -y --no-install-recommends {}", missing.join(" "));
    if !is_root()? {
        return Err(Error::Failed(format!(
            "packages missing: {}; setup needs root for them and for the other steps (dockerd, rootful \
             podman, user {ROOTLESS_USER}): run `sudo cargo xtask setup`, or as root: `apt-get update && {install_line}`",
            missing.join(" ")
        )));
    }
    eprintln!("    missing: {}; apt-get update, then {install_line}", missing.join(" "));
    let mut update = Command::new("apt-get");
    update.arg("update").env("DEBIAN_FRONTEND", "noninteractive");
    checked(&mut update)?;
    let mut install = Command::new("apt-get");
    install.args(["install", "-y", "--no-install-recommends"]).args(&missing).env("DEBIAN_FRONTEND", "noninteractive");
    checked(&mut install)?;
    Ok(format!("installed {}", missing.join(" ")))
}

/// The packages of `wanted` that `dpkg-query -W -f='${Package}\t${Status}\n'` output does not
/// list as `install ok installed` (removed packages with configuration left are listed, with
/// another status; unknown ones are not listed at all).
fn missing_packages(dpkg_query_stdout: &str, wanted: &[&str]) -> Vec<String> {
    let installed: BTreeSet<&str> = dpkg_query_stdout
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .filter(|(_, status)| status.trim() == "install ok installed")
        // A multi-arch package may be listed as `name:arch`.
        .map(|(package, _)| package.split(':').next().unwrap_or(package))
        .collect();
    wanted.iter().filter(|package| !installed.contains(*package)).map(|package| package.to_string()).collect()
}

/// Whether xtask runs as root, from the effective uid in `/proc/self/status` (xtask allows no
/// unsafe code, so no `geteuid`).
fn is_root() -> Result<bool> {
    let path = Path::new("/proc/self/status");
    let status = fs::read_to_string(path).map_err(|error| io_failed("read", path, error))?;
    effective_uid(&status)
        .map(|uid| uid == 0)
        .ok_or_else(|| Error::Failed(format!("no effective uid in {}", path.display())))
}

/// The effective uid of a `/proc/<pid>/status` text: the second field of its `Uid:` line.
fn effective_uid(proc_status: &str) -> Option<u32> {
    let line = proc_status.lines().find_map(|line| line.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_packages_are_those_not_installed_ok() {
        let check = |stdout: &str, expected: &[&str]| {
            assert_eq!(missing_packages(stdout, &["podman", "runc", "busybox-static", "uidmap"]), expected, "{stdout}");
        };
        let all = "podman\tinstall ok installed\nrunc\tinstall ok installed\nbusybox-static\tinstall ok installed\n\
                   uidmap\tinstall ok installed\n";
        check(all, &[]);
        check("", &["podman", "runc", "busybox-static", "uidmap"]);
        // Known but not installed, removed with its configuration left, half-installed.
        check(
            "podman\tunknown ok not-installed\nrunc\tdeinstall ok config-files\nbusybox-static\tinstall ok half-configured\n\
             uidmap:amd64\tinstall ok installed\n",
            &["podman", "runc", "busybox-static"],
        );
    }

    #[test]
    fn effective_uid_is_the_second_uid_field() {
        assert_eq!(effective_uid("Name:\tcargo\nUmask:\t0022\nUid:\t1000\t0\t0\t0\nGid:\t0\t0\t0\t0\n"), Some(0));
        assert_eq!(effective_uid("Uid:\t0\t1000\t1000\t1000\n"), Some(1000));
        assert_eq!(effective_uid("Name:\tcargo\n"), None);
    }
}
