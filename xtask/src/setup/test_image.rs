//! Step 4: the test image, a busybox root filesystem tarred and imported into rootful podman and
//! docker, then run by each (exit codes 0 and 3).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::containers_conf::podman_command;
use super::process::{checked, expect_exit_code, io_failed, output, stdout_of};
use super::TEST_IMAGE;
use crate::Result;

/// The image's tar file, built at most once per run and only when an engine lacks the image.
pub(crate) struct ImageTar {
    dir: PathBuf,
    built: Option<PathBuf>,
}

impl ImageTar {
    pub(super) fn new(dir: &Path) -> ImageTar {
        ImageTar { dir: dir.to_path_buf(), built: None }
    }

    /// The tar of a root filesystem holding `/bin/busybox` and a symlink to it per applet, as in
    /// ENGINE-NOTES: `tar -C busybox-rootfs -cf busybox.tar .`
    pub(crate) fn get(&mut self) -> Result<PathBuf> {
        if let Some(tar) = &self.built {
            return Ok(tar.clone());
        }
        let rootfs = self.dir.join("busybox-rootfs");
        if rootfs.exists() {
            fs::remove_dir_all(&rootfs).map_err(|error| io_failed("remove", &rootfs, error))?;
        }
        let bin = rootfs.join("bin");
        fs::create_dir_all(&bin).map_err(|error| io_failed("create", &bin, error))?;
        let busybox = Path::new("/bin/busybox");
        fs::copy(busybox, bin.join("busybox")).map_err(|error| io_failed("copy", busybox, error))?;
        let applets = stdout_of(Command::new(busybox).arg("--list"))?;
        for applet in applet_names(&applets) {
            let link = bin.join(applet);
            symlink("busybox", &link).map_err(|error| io_failed("create the symlink", &link, error))?;
        }
        let tar = self.dir.join("busybox.tar");
        checked(Command::new("tar").arg("-C").arg(&rootfs).arg("-cf").arg(&tar).arg("."))?;
        eprintln!("    built {} from {}", tar.display(), busybox.display());
        self.built = Some(tar.clone());
        Ok(tar)
    }
}

/// The applets of `busybox --list`, one per line, without `busybox` itself and without anything
/// that is not a plain file name.
fn applet_names(busybox_list: &str) -> impl Iterator<Item = &str> {
    busybox_list
        .lines()
        .map(str::trim)
        .filter(|name| !name.is_empty() && *name != "busybox" && *name != "." && *name != ".." && !name.contains('/'))
}

pub(super) fn ensure_image(containers_conf: &Path, docker: &Path, image_tar: &mut ImageTar) -> Result<String> {
    let mut imported = Vec::new();
    if !output(podman_command(containers_conf).args(["image", "exists", TEST_IMAGE]))?.status.success() {
        let tar = image_tar.get()?;
        checked(podman_command(containers_conf).arg("import").arg(&tar).arg(TEST_IMAGE))?;
        imported.push("rootful podman");
    }
    if !output(Command::new(docker).args(["image", "inspect", TEST_IMAGE]))?.status.success() {
        let tar = image_tar.get()?;
        checked(Command::new(docker).arg("import").arg(&tar).arg(TEST_IMAGE))?;
        imported.push("docker");
    }
    check_exit_codes(|| podman_command(containers_conf), &[])?;
    check_exit_codes(|| Command::new(docker), &[])?;
    let imported = if imported.is_empty() { "already there".to_string() } else { imported.join(" and ") };
    Ok(format!("{TEST_IMAGE}: {imported}; rootful podman and docker run it (exit codes 0 and 3 seen)"))
}

/// Runs the test image with `engine` (plus `run_options`) twice: `true` must exit 0 and
/// `sh -c 'exit 3'` must exit 3.
pub(super) fn check_exit_codes(engine: impl Fn() -> Command, run_options: &[&str]) -> Result {
    expect_exit_code(engine().args(["run", "--rm"]).args(run_options).args([TEST_IMAGE, "true"]), 0)?;
    expect_exit_code(engine().args(["run", "--rm"]).args(run_options).args([TEST_IMAGE, "sh", "-c", "exit 3"]), 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applet_names_skip_busybox_and_odd_names() {
        let names: Vec<&str> = applet_names("[\n[[\nbusybox\nsh\n\nwget\n../etc/passwd\n").collect();
        assert_eq!(names, ["[", "[[", "sh", "wget"]);
    }
}
