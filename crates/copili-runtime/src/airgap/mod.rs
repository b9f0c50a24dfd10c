//! Air-gapped hosts: every image of a pipeline pinned to what identifies it for good (the lock
//! file), and carried with the pipeline across the gap in one checked archive (the bundle).
//!
//! - [`lockfile`]: the lock file's format, beside the pipeline (`FILE.lock`).
//! - [`check`](mod@check): a pipeline's images against the lock and the host (`run --locked`, `plan`).
//! - [`bundle`]: writing a bundle; [`unbundle`]: checking every byte of one, then loading it.
//!
//! An image is identified by its registry digest where the host has one (a pull), else by its
//! id (the digest of its configuration), which `save` and `load` keep across docker and podman
//! while the registry digest is lost (podman makes up its own on `load`).

pub mod bundle;
pub mod check;
pub mod lockfile;
pub mod unbundle;

pub use bundle::{save, BundleError, Manifest, Progress, SaveRequest, Saved};
pub use check::{check, images_of, lock_of, ImageCheck, Verdict};
pub use lockfile::{LockFile, LockFileError, LockedImage, LOCK_FORMAT};
pub use unbundle::{load, verify, LoadError, Loaded, Verified};

#[cfg(test)]
mod tests;
