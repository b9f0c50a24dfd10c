//! Setup step 8: the **Debian test image** [`DEBIAN_IMAGE`], a small Debian bookworm with real
//! servers and their clients (PostgreSQL 15, Redis 7, `psql`, `redis-cli`), for the pipeline of
//! `examples/knowledge-graph/` that `tests/realistic.rs` runs on every engine.
//!
//! Built offline (only Debian's package mirror answers on these machines) with
//! `debootstrap --variant=minbase --include=PACKAGES bookworm ROOTFS http://deb.debian.org/debian`,
//! trimmed of what no container reads (downloaded `.deb` files, apt's package lists,
//! documentation, manual pages, translations, PostgreSQL's optional JIT; see [`EMPTIED`] and
//! [`REMOVED`]: 640 MB become 222 MB), and tarred without the device nodes debootstrap made
//! in `/dev` (every engine mounts a `/dev` of its own in a container). The tar is **cached outside the checkout**, in [`CACHE_DIR`], so that a new
//! clone or a `cargo clean` reuses it: debootstrap takes about a minute (53 s to 85 s here,
//! depending on the load), importing the tar 3 s to 12 s per store, checking all five 0.4 s.
//!
//! The cache file's name holds a key ([`cache_key`]) made of everything the image is built from
//! (suite, mirror, variant, packages, trimming): a changed package list builds a new tar, and
//! older tars are removed. The image carries the key as the label [`KEY_LABEL`], and an engine
//! whose image lacks it or has another one gets the new tar imported; an engine whose image has
//! the key is left alone. The tar is written under a temporary name and renamed when complete,
//! so an interrupted build is never taken for a finished one (its leftovers are removed by the
//! next run). The key is of the recipe, not of the mirror's contents: newer package versions
//! in the mirror (a point release, security updates) are picked up only when the cached tar is
//! deleted (`rm /var/cache/copili-test/copili-debian-*.tar`, then `cargo xtask setup`).
//!
//! The image is imported into rootful podman, docker, rootless podman (from standard input, so
//! the rootless user needs no readable copy of the root-only cache) and both nodes of the
//! two-node swarm of step 7.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::cluster::Cluster;
use crate::setup::{checked, command_failed, io_failed, output, seconds, RootlessUser};
use crate::{display_command, Error, Result};

/// The Debian test image: PostgreSQL 15 and Redis 7, servers and clients, on Debian bookworm.
/// Tests find it as `COPILI_TEST_DEBIAN_IMAGE` in `engines.env`.
pub(crate) const DEBIAN_IMAGE: &str = "localhost/copili-debian:latest";

/// Where the built tar is kept between runs and checkouts (root's, like the engines' stores).
pub(crate) const CACHE_DIR: &str = "/var/cache/copili-test";

/// The label holding the cache key on the imported image.
const KEY_LABEL: &str = "io.copili.test.debian-key";

/// The Debian release.
const SUITE: &str = "bookworm";
/// Debian's package mirror, the one thing these machines reach.
const MIRROR: &str = "http://deb.debian.org/debian";
/// debootstrap's smallest variant: essential packages and apt.
const VARIANT: &str = "minbase";

/// The packages on top of minbase: the servers and clients the knowledge-graph example runs.
/// (`sh`, coreutils, `setpriv` and `runuser` are essential and in minbase already.)
const PACKAGES: &[&str] = &["postgresql-15", "postgresql-client-15", "redis-server", "redis-tools"];

/// Directories the root filesystem is emptied of before it is tarred: files no container
/// reads (downloaded packages, apt's lists, documentation, translations).
const EMPTIED: &[&str] = &[
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
];

/// Files and directories removed as well, for size: LLVM and Z3 (140 MB, a third of the image)
/// serve only PostgreSQL's optional JIT compiler, which without its `llvmjit.so` is simply not
/// available (`pg_jit_available()` is false, queries run as they would with `jit = off`); and
/// the cluster Debian's postinst made, which nothing uses (each PostgreSQL sidecar of the
/// example initialises its own on its volume). Every engine store copies the image, and
/// rootless podman's `vfs` driver copies it again for every container it creates.
const REMOVED: &[&str] = &[
    "usr/lib/x86_64-linux-gnu/libLLVM-14.so.1",
    "usr/lib/x86_64-linux-gnu/libLLVM-14.so",
    "usr/lib/x86_64-linux-gnu/libz3.so.4",
    "usr/lib/postgresql/15/lib/llvmjit.so",
    "usr/lib/postgresql/15/lib/llvmjit_types.bc",
    "usr/lib/postgresql/15/lib/bitcode",
    "var/lib/postgresql/15",
    "etc/postgresql/15",
];

/// The cache key: a hash of everything the tar is built from, as 16 hex digits.
fn cache_key() -> String {
    let recipe = format!(
        "{SUITE}\n{MIRROR}\n{VARIANT}\n{}\n{}\n{}\nno-dev-nodes\n",
        PACKAGES.join(","),
        EMPTIED.join(","),
        REMOVED.join(",")
    );
    format!("{:016x}", fnv1a64(recipe.as_bytes()))
}

/// FNV-1a, 64 bits: stable across Rust releases (std's `DefaultHasher` is not), and enough to
/// tell package lists apart.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}

/// The cache file for `key`: `copili-debian-bookworm-<key>.tar`.
fn tar_name(key: &str) -> String {
    format!("copili-debian-{SUITE}-{key}.tar")
}

/// Where the Debian image goes: the engines of the earlier steps.
pub(crate) struct Targets<'a> {
    /// Rootful podman's containers.conf.
    pub(crate) containers_conf: &'a Path,
    /// The docker client.
    pub(crate) docker: &'a Path,
    /// The rootless podman user.
    pub(crate) rootless: &'a RootlessUser,
    /// The two-node swarm.
    pub(crate) cluster: &'a Cluster,
}

/// One image store: a name for messages and its client.
struct Store<'a> {
    name: String,
    client: Box<dyn Fn() -> Command + 'a>,
}

impl Targets<'_> {
    /// Every store the image must be in.
    fn stores(&self) -> Vec<Store<'_>> {
        let docker_on = |host: &str| {
            let (docker, host) = (self.docker.to_path_buf(), host.to_string());
            move || {
                let mut command = Command::new(&docker);
                command.arg("-H").arg(&host);
                command
            }
        };
        vec![
            Store {
                name: "rootful podman".into(),
                client: Box::new(|| {
                    let mut command = Command::new("podman");
                    command.env("CONTAINERS_CONF", self.containers_conf);
                    command
                }),
            },
            Store { name: "docker".into(), client: Box::new(|| Command::new(self.docker)) },
            Store {
                name: format!("rootless podman ({})", self.rootless.name),
                client: Box::new(|| self.rootless.podman()),
            },
            Store { name: "swarm manager".into(), client: Box::new(docker_on(&self.cluster.manager)) },
            Store { name: "swarm worker".into(), client: Box::new(docker_on(&self.cluster.worker)) },
        ]
    }
}

/// Makes sure every store of `targets` has the image with the current key (see the module
/// documentation); what was done.
pub(crate) fn ensure(targets: &Targets<'_>) -> Result<String> {
    let key = cache_key();
    let stores = targets.stores();
    let mut missing = Vec::new();
    for store in &stores {
        match image_key((store.client)())? {
            Some(found) if found == key => {}
            Some(_) => {
                // An image of an older recipe: untagged by the import, it would keep its space.
                // Best effort: a container still using it keeps it.
                let _ = output((store.client)().args(["image", "rm", DEBIAN_IMAGE]));
                missing.push(store);
            }
            None => missing.push(store),
        }
    }
    if missing.is_empty() {
        return Ok(format!("{DEBIAN_IMAGE} (key {key}) in all {} image stores", stores.len()));
    }
    let cache_dir = Path::new(CACHE_DIR);
    let (tar, built) = ensure_tar(cache_dir, &key)?;
    let mut imported = Vec::new();
    for store in missing {
        let started = Instant::now();
        import((store.client)(), &tar, &key)?;
        if image_key((store.client)())?.as_deref() != Some(key.as_str()) {
            return Err(Error::Failed(format!(
                "{} lacks {DEBIAN_IMAGE} with {KEY_LABEL}={key} after the import",
                store.name
            )));
        }
        imported.push(format!("{} ({})", store.name, seconds(started.elapsed())));
    }
    let size = fs::metadata(&tar).map(|m| m.len()).unwrap_or_default();
    Ok(format!("{DEBIAN_IMAGE} (key {key}, {} MB): {built}; imported into {}", size / 1_000_000, imported.join(", ")))
}

/// The key label of the store's image, `None` when the store has no such image (or an image
/// without the label).
fn image_key(mut client: Command) -> Result<Option<String>> {
    let template = format!("{{{{index .Config.Labels \"{KEY_LABEL}\"}}}}");
    client.args(["image", "inspect", "--format", &template, DEBIAN_IMAGE]);
    let answer = output(&mut client)?;
    if !answer.status.success() {
        return Ok(None);
    }
    let key = String::from_utf8_lossy(&answer.stdout).trim().to_string();
    Ok((!key.is_empty() && key != "<no value>").then_some(key))
}

/// The arguments importing the tar from standard input as [`DEBIAN_IMAGE`], labelled `key`.
fn import_args(key: &str) -> Vec<String> {
    ["import".into(), "--change".into(), format!("LABEL {KEY_LABEL}={key}"), "-".into(), DEBIAN_IMAGE.into()].into()
}

/// `CLIENT import --change 'LABEL KEY_LABEL=key' - DEBIAN_IMAGE`, the tar on standard input
/// (opened here, by root: the rootless user's podman reads it from the pipe).
fn import(mut client: Command, tar: &Path, key: &str) -> Result {
    let file = fs::File::open(tar).map_err(|error| io_failed("open", tar, error))?;
    client.args(import_args(key));
    let line = display_command(&client);
    let answer = client
        .stdin(Stdio::from(file))
        .output()
        .map_err(|error| Error::Failed(format!("cannot start `{line}`: {error}")))?;
    if answer.status.success() {
        Ok(())
    } else {
        Err(command_failed(&client, &answer, "failed"))
    }
}

/// The cached tar for `key` in `cache_dir`, built first when missing; and what was done.
fn ensure_tar(cache_dir: &Path, key: &str) -> Result<(PathBuf, String)> {
    fs::create_dir_all(cache_dir).map_err(|error| io_failed("create", cache_dir, error))?;
    let tar = cache_dir.join(tar_name(key));
    remove_stale(cache_dir, &tar_name(key))?;
    if tar.is_file() {
        let outcome = format!("cached in {}", tar.display());
        return Ok((tar, outcome));
    }
    let debootstrap = Path::new("/usr/sbin/debootstrap");
    if !debootstrap.is_file() {
        return Err(Error::Failed(format!(
            "{} is missing: it is in step 1's packages (`apt-get install debootstrap`)",
            debootstrap.display()
        )));
    }
    let started = Instant::now();
    let pid = std::process::id();
    let rootfs = cache_dir.join(format!("rootfs.tmp-{pid}"));
    let partial = cache_dir.join(format!("{}.tmp-{pid}", tar_name(key)));
    let result = build_tar(debootstrap, &rootfs, &partial);
    let cleaned = remove_tree(&rootfs);
    if result.is_err() {
        let _ = fs::remove_file(&partial);
    }
    result?;
    cleaned?;
    fs::rename(&partial, &tar).map_err(|error| io_failed("rename into place", &partial, error))?;
    Ok((tar.clone(), format!("built {} in {}", tar.display(), seconds(started.elapsed()))))
}

/// debootstrap into `rootfs`, trim it, tar it to `partial`.
fn build_tar(debootstrap: &Path, rootfs: &Path, partial: &Path) -> Result {
    let mut bootstrap = Command::new(debootstrap);
    bootstrap
        .arg(format!("--variant={VARIANT}"))
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg(SUITE)
        .arg(rootfs)
        .arg(MIRROR)
        .env("DEBIAN_FRONTEND", "noninteractive");
    eprintln!("    {}", display_command(&bootstrap));
    checked(&mut bootstrap)?;
    for relative in EMPTIED {
        empty_dir(&rootfs.join(relative))?;
    }
    for relative in REMOVED {
        remove_path(&rootfs.join(relative))?;
    }
    // Device nodes are the engines' business: each mounts a `/dev` of its own.
    checked(Command::new("tar").arg("--exclude=./dev/*").arg("-C").arg(rootfs).arg("-cf").arg(partial).arg("."))?;
    Ok(())
}

/// Removes what `dir` holds, keeping `dir`; a missing `dir` is fine.
fn empty_dir(dir: &Path) -> Result {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(io_failed("read", dir, error)),
    };
    for entry in entries {
        remove_path(&entry.map_err(|error| io_failed("read", dir, error))?.path())?;
    }
    Ok(())
}

/// Removes a file, a symlink or a directory tree; a missing one is fine (a package that no
/// longer ships it).
fn remove_path(path: &Path) -> Result {
    let removed = match fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(error) if error.kind() == ErrorKind::NotFound => return Ok(()),
        Err(error) => Err(error),
    };
    removed.map_err(|error| io_failed("remove", path, error))
}

/// Removes a root filesystem being built, unmounting first whatever debootstrap left mounted
/// in it (`/proc`, `/sys` when it was interrupted).
fn remove_tree(rootfs: &Path) -> Result {
    if !rootfs.exists() {
        return Ok(());
    }
    let mountinfo = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let prefix = rootfs.display().to_string();
    let mut mounts: Vec<&str> = mountinfo
        .lines()
        .filter_map(|line| line.split_whitespace().nth(4))
        .filter(|point| point.starts_with(&prefix))
        .collect();
    mounts.sort_by_key(|point| std::cmp::Reverse(point.len()));
    for point in mounts {
        checked(Command::new("umount").args(["--lazy", point]))?;
    }
    fs::remove_dir_all(rootfs).map_err(|error| io_failed("remove", rootfs, error))
}

/// Removes from `cache_dir` the leftovers of interrupted builds (`*.tmp-<pid>` of a process
/// that is gone) and the tars of other keys.
fn remove_stale(cache_dir: &Path, current: &str) -> Result {
    let entries = fs::read_dir(cache_dir).map_err(|error| io_failed("read", cache_dir, error))?;
    for entry in entries {
        let path = entry.map_err(|error| io_failed("read", cache_dir, error))?.path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else { continue };
        if is_stale(name, current, |pid| Path::new(&format!("/proc/{pid}")).exists()) {
            eprintln!("    removing {}", path.display());
            remove_tree_or_file(&path)?;
        }
    }
    Ok(())
}

fn remove_tree_or_file(path: &Path) -> Result {
    if path.is_dir() {
        remove_tree(path)
    } else {
        fs::remove_file(path).map_err(|error| io_failed("remove", path, error))
    }
}

/// Whether the cache entry `name` is to be removed: a temporary file or root filesystem of a
/// build whose process is not `alive`, or the tar of another key.
fn is_stale(name: &str, current: &str, alive: impl Fn(u32) -> bool) -> bool {
    if let Some((_, pid)) = name.rsplit_once(".tmp-") {
        return pid.parse::<u32>().is_ok_and(|pid| !alive(pid));
    }
    name.starts_with("copili-debian-") && name.ends_with(".tar") && name != current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_key_changes_with_the_recipe_only() {
        assert_eq!(cache_key(), cache_key());
        assert_eq!(cache_key().len(), 16);
        // Known FNV-1a 64 vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_ne!(fnv1a64(b"postgresql-15,redis-server"), fnv1a64(b"postgresql-15,redis-tools"));
        assert!(tar_name(&cache_key()).starts_with("copili-debian-bookworm-"));
    }

    #[test]
    fn stale_entries_are_interrupted_builds_and_other_keys() {
        let current = "copili-debian-bookworm-00000000000000aa.tar";
        let alive = |pid: u32| pid == 42;
        assert!(!is_stale(current, current, alive));
        assert!(is_stale("copili-debian-bookworm-00000000000000bb.tar", current, alive));
        assert!(is_stale("rootfs.tmp-7", current, alive));
        assert!(is_stale("copili-debian-bookworm-00000000000000aa.tar.tmp-7", current, alive));
        // A build under way is left alone, and so is what is not ours.
        assert!(!is_stale("rootfs.tmp-42", current, alive));
        assert!(!is_stale("copili-debian-bookworm-00000000000000aa.tar.tmp-42", current, alive));
        assert!(!is_stale("notes.txt", current, alive));
        assert!(!is_stale("rootfs.tmp-x", current, alive));
    }

    #[test]
    fn the_import_labels_the_image_with_the_key() {
        let mut client = Command::new("podman");
        client.args(import_args("abc"));
        assert_eq!(
            display_command(&client),
            "podman import --change 'LABEL io.copili.test.debian-key=abc' - localhost/copili-debian:latest"
        );
    }
}
