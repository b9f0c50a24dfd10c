//! Step 5: rootless podman: the user, its subordinate ids, runtime directory and copy of
//! containers.conf, and the test image imported and run as that user.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::process::{checked, expect_exit_code, io_failed, output, write_if_changed};
use super::test_image::{check_exit_codes, ImageTar};
use super::{ROOTLESS_USER, TEST_IMAGE};
use crate::{Error, Result};

/// The network the rootless check creates and removes again.
const SETUP_CHECK_NETWORK: &str = "copili-setup-check";

/// The `PATH` podman runs with as the rootless user: Debian's default, so that podman finds
/// conmon, runc, slirp4netns and newuidmap, and netavark finds `iptables` in /usr/sbin (without
/// it, a container on a network fails with `Error: netavark: No such file or directory`).
const ROOTLESS_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The unprivileged user for rootless podman, and where its podman finds its settings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RootlessUser {
    /// The login name, [`ROOTLESS_USER`].
    pub(crate) name: String,
    /// Its numeric user id.
    pub(crate) uid: u32,
    /// Its primary group id.
    pub(crate) gid: u32,
    /// Its home directory.
    pub(crate) home: PathBuf,
    /// `/run/user/<uid>`, its `XDG_RUNTIME_DIR`.
    pub(crate) xdg_runtime_dir: PathBuf,
    /// Its readable copy of containers.conf, passed in `CONTAINERS_CONF`.
    pub(crate) containers_conf: PathBuf,
}

impl RootlessUser {
    /// `podman` run as this user: `runuser -u USER -- env -i PATH=… HOME=… USER=… LOGNAME=…
    /// XDG_RUNTIME_DIR=… CONTAINERS_CONF=… podman`, from the user's home.
    ///
    /// Why `runuser` and not `su - USER -c '…'`: both work as root without a terminal here, but
    /// `runuser` passes podman's arguments as they are rather than through a shell command line
    /// that would need quoting, and runs no login shell whose profile could change the
    /// environment. Why `env -i`: root's own environment
    /// (`XDG_RUNTIME_DIR=/run/user/0`, a `CONTAINERS_*` or `TMPDIR` variable, …) must not leak
    /// into the user's podman, which would then try to use root's directories. The working
    /// directory is the user's home because podman, re-executing itself in the user namespace,
    /// fails in a directory the user cannot enter (`cannot chdir to /root: Permission denied`).
    pub(crate) fn podman(&self) -> Command {
        let mut command = Command::new("runuser");
        command.args(["-u", &self.name, "--", "env", "-i"]);
        command.arg(format!("PATH={ROOTLESS_PATH}"));
        command.arg(env_assignment("HOME", &self.home));
        command.arg(format!("USER={}", self.name));
        command.arg(format!("LOGNAME={}", self.name));
        command.arg(env_assignment("XDG_RUNTIME_DIR", &self.xdg_runtime_dir));
        command.arg(env_assignment("CONTAINERS_CONF", &self.containers_conf));
        command.arg("podman");
        command.current_dir(&self.home);
        command
    }
}

fn env_assignment(name: &str, path: &Path) -> String {
    format!("{name}={}", path.display())
}

/// Creates the rootless user and what its podman needs outside its home: subordinate ids, a
/// usable `/dev/net/tun`, its runtime directory and its copy of containers.conf.
pub(super) fn ensure_rootless_user(containers_conf: &Path) -> Result<RootlessUser> {
    let passwd_path = Path::new("/etc/passwd");
    let read_passwd = || fs::read_to_string(passwd_path).map_err(|error| io_failed("read", passwd_path, error));
    let mut entry = passwd_entry(&read_passwd()?, ROOTLESS_USER);
    if entry.is_none() {
        checked(Command::new("useradd").args(["-m", ROOTLESS_USER]))?;
        eprintln!("    created user {ROOTLESS_USER}");
        entry = passwd_entry(&read_passwd()?, ROOTLESS_USER);
    }
    let Some(PasswdEntry { uid, gid, home }) = entry else {
        return Err(Error::Failed(format!("no user {ROOTLESS_USER} in {} after useradd", passwd_path.display())));
    };
    let home = PathBuf::from(home);

    ensure_subordinate_ids(uid)?;

    let tun = Path::new("/dev/net/tun");
    let mode = fs::metadata(tun)
        .map_err(|error| io_failed("inspect (rootless networking needs it for slirp4netns)", tun, error))?
        .mode();
    if mode & 0o777 != 0o666 {
        fs::set_permissions(tun, fs::Permissions::from_mode(0o666)).map_err(|error| io_failed("chmod", tun, error))?;
        eprintln!("    chmod 0666 {} (was {:04o})", tun.display(), mode & 0o777);
    }

    let xdg_runtime_dir = PathBuf::from(format!("/run/user/{uid}"));
    fs::create_dir_all(&xdg_runtime_dir).map_err(|error| io_failed("create", &xdg_runtime_dir, error))?;
    let metadata = fs::metadata(&xdg_runtime_dir).map_err(|error| io_failed("inspect", &xdg_runtime_dir, error))?;
    if metadata.uid() != uid || metadata.gid() != gid || metadata.mode() & 0o777 != 0o700 {
        std::os::unix::fs::chown(&xdg_runtime_dir, Some(uid), Some(gid))
            .map_err(|error| io_failed("chown", &xdg_runtime_dir, error))?;
        fs::set_permissions(&xdg_runtime_dir, fs::Permissions::from_mode(0o700))
            .map_err(|error| io_failed("chmod", &xdg_runtime_dir, error))?;
        eprintln!("    {} owned by {ROOTLESS_USER}, mode 0700", xdg_runtime_dir.display());
    }

    let config_dir = create_dirs_owned(&home, &[".config", "copili-test"], uid, gid)?;
    let user_containers_conf = config_dir.join("containers.conf");
    let content = fs::read_to_string(containers_conf).map_err(|error| io_failed("read", containers_conf, error))?;
    if write_if_changed(&user_containers_conf, &content)? {
        // Written by root: readable by all, which is all the user's podman needs.
        fs::set_permissions(&user_containers_conf, fs::Permissions::from_mode(0o644))
            .map_err(|error| io_failed("chmod", &user_containers_conf, error))?;
        eprintln!("    copied containers.conf to {}", user_containers_conf.display());
    }

    Ok(RootlessUser {
        name: ROOTLESS_USER.to_string(),
        uid,
        gid,
        home,
        xdg_runtime_dir,
        containers_conf: user_containers_conf,
    })
}

/// Makes sure `/etc/subuid` and `/etc/subgid` give [`ROOTLESS_USER`] a range, adding one after
/// every existing range if not (useradd normally did).
fn ensure_subordinate_ids(uid: u32) -> Result {
    let read = |path: &Path| {
        fs::read_to_string(path).or_else(|error| match error.kind() {
            ErrorKind::NotFound => Ok(String::new()),
            _ => Err(io_failed("read", path, error)),
        })
    };
    let subuid_path = Path::new("/etc/subuid");
    let subgid_path = Path::new("/etc/subgid");
    let (subuid, subgid) = (read(subuid_path)?, read(subgid_path)?);
    for (path, content, option) in [(subuid_path, &subuid, "--add-subuids"), (subgid_path, &subgid, "--add-subgids")] {
        if !has_subordinate_range(content, ROOTLESS_USER, uid) {
            let (first, last) = next_subordinate_range(&[&subuid, &subgid]);
            checked(Command::new("usermod").arg(option).arg(format!("{first}-{last}")).arg(ROOTLESS_USER))?;
            eprintln!("    added {first}-{last} to {} for {ROOTLESS_USER}", path.display());
        }
    }
    Ok(())
}

/// Creates `home/components…` one directory at a time, each new one owned by `uid:gid`, so that
/// the user can later write there (podman writes `~/.config/containers`, for instance).
fn create_dirs_owned(home: &Path, components: &[&str], uid: u32, gid: u32) -> Result<PathBuf> {
    let mut dir = home.to_path_buf();
    for component in components {
        dir.push(component);
        match fs::create_dir(&dir) {
            Ok(()) => {
                std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).map_err(|error| io_failed("chown", &dir, error))?
            }
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {}
            Err(error) => return Err(io_failed("create", &dir, error)),
        }
    }
    Ok(dir)
}

/// Imports the test image for the rootless user and runs it there: exit codes, then the
/// networks (none, default, user-created).
pub(super) fn ensure_rootless_podman(user: &RootlessUser, image_tar: &mut ImageTar) -> Result<String> {
    let imported = if output(user.podman().args(["image", "exists", TEST_IMAGE]))?.status.success() {
        "already there"
    } else {
        // The user may not be able to read the checkout: hand it a copy of its own.
        let tar = image_tar.get()?;
        let cache_dir = create_dirs_owned(&user.home, &[".cache", "copili-test"], user.uid, user.gid)?;
        let user_tar = cache_dir.join("busybox.tar");
        fs::copy(&tar, &user_tar).map_err(|error| io_failed("copy", &tar, error))?;
        std::os::unix::fs::chown(&user_tar, Some(user.uid), Some(user.gid))
            .map_err(|error| io_failed("chown", &user_tar, error))?;
        let import = checked(user.podman().arg("import").arg(&user_tar).arg(TEST_IMAGE));
        fs::remove_file(&user_tar).map_err(|error| io_failed("remove", &user_tar, error))?;
        import?;
        "imported"
    };
    check_exit_codes(|| user.podman(), &[])?;
    expect_exit_code(user.podman().args(["run", "--rm", "--network", "none", TEST_IMAGE, "true"]), 0)?;

    // A network left by an interrupted run would make `network create` fail.
    if output(user.podman().args(["network", "exists", SETUP_CHECK_NETWORK]))?.status.success() {
        checked(user.podman().args(["network", "rm", "-f", SETUP_CHECK_NETWORK]))?;
    }
    checked(user.podman().args(["network", "create", SETUP_CHECK_NETWORK]))?;
    let on_network =
        expect_exit_code(user.podman().args(["run", "--rm", "--network", SETUP_CHECK_NETWORK, TEST_IMAGE, "true"]), 0);
    let removed = checked(user.podman().args(["network", "rm", "-f", SETUP_CHECK_NETWORK]));
    on_network?;
    removed?;
    Ok(format!(
        "{TEST_IMAGE} {imported} for {} (uid {}); exit codes 0 and 3, --network none, default network and \
         a user-created network work",
        user.name, user.uid
    ))
}

/// The fields of an `/etc/passwd` line xtask needs.
#[derive(Debug, PartialEq)]
struct PasswdEntry {
    uid: u32,
    gid: u32,
    home: String,
}

/// The entry of user `name` in an `/etc/passwd` text (`name:password:uid:gid:gecos:home:shell`).
fn passwd_entry(passwd: &str, name: &str) -> Option<PasswdEntry> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        match fields.as_slice() {
            [user, _, uid, gid, _, home, ..] if *user == name => {
                Some(PasswdEntry { uid: uid.parse().ok()?, gid: gid.parse().ok()?, home: home.to_string() })
            }
            _ => None,
        }
    })
}

/// Whether an `/etc/subuid` or `/etc/subgid` text (`user-or-id:first:count` lines) gives the user
/// a non-empty range.
fn has_subordinate_range(content: &str, name: &str, uid: u32) -> bool {
    let uid = uid.to_string();
    content.lines().any(|line| {
        let fields: Vec<&str> = line.trim().split(':').collect();
        matches!(fields.as_slice(), [owner, _, count] if (*owner == name || *owner == uid) && count.parse::<u64>().is_ok_and(|n| n > 0))
    })
}

/// A free range of 65536 subordinate ids `(first, last)`: after every range of `files`, and not
/// below 100000 (where useradd starts).
fn next_subordinate_range(files: &[&str]) -> (u64, u64) {
    let end_of_ranges = files
        .iter()
        .flat_map(|content| content.lines())
        .filter_map(|line| {
            let mut fields = line.trim().split(':').skip(1);
            let first: u64 = fields.next()?.parse().ok()?;
            let count: u64 = fields.next()?.parse().ok()?;
            Some(first + count)
        })
        .max()
        .unwrap_or(0);
    let first = end_of_ranges.max(100_000);
    (first, first + 65_535)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_entry_finds_the_user() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\ncopili-rl-old:x:999:999::/home/old:/bin/sh\n\
                      copili-rl:x:1000:1001::/home/copili-rl:/bin/sh\n";
        assert_eq!(
            passwd_entry(passwd, "copili-rl"),
            Some(PasswdEntry { uid: 1000, gid: 1001, home: "/home/copili-rl".into() })
        );
        assert_eq!(passwd_entry(passwd, "copili"), None);
        assert_eq!(passwd_entry("copili-rl:x:notanumber:1::/home:/bin/sh\n", "copili-rl"), None);
    }

    #[test]
    fn subordinate_ranges_are_found_by_name_or_uid_and_new_ones_follow_the_others() {
        assert!(has_subordinate_range("postgres:100000:65536\ncopili-rl:165536:65536\n", "copili-rl", 1000));
        assert!(has_subordinate_range("1000:165536:65536\n", "copili-rl", 1000));
        assert!(!has_subordinate_range("copili-rl-old:165536:65536\ncopili-rl:1:0\n", "copili-rl", 1000));
        assert!(!has_subordinate_range("", "copili-rl", 1000));

        assert_eq!(next_subordinate_range(&["", ""]), (100_000, 165_535));
        assert_eq!(
            next_subordinate_range(&["a:100000:65536\nb:165536:65536\n", "a:100000:65536\n"]),
            (231_072, 296_607)
        );
        assert_eq!(next_subordinate_range(&["# comment\nbroken line\n", "x:10:5\n"]), (100_000, 165_535));
    }
}
