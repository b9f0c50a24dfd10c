//! The command line of `copili lock` and `copili bundle`: clap definitions only.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{parse_pull_policy, EngineTimeout, PathParser};

/// The options of `copili lock`.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// The pipeline file (YAML or JSON); its lock is FILE.lock.
    #[arg(value_name = "FILE", value_parser = PathParser)]
    pub file: PathBuf,
    /// The identity the pipeline runs under, if not its top-level key.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Read variables from this file instead of the `.env` beside the pipeline file.
    #[arg(long, value_name = "PATH", value_parser = PathParser)]
    pub env_file: Option<PathBuf>,
    /// Make an undefined variable without a default an error instead of a warning.
    #[arg(long)]
    pub strict_env: bool,
    /// The engine whose images are locked: `auto`, `docker`, `podman`, or a client's path.
    #[arg(long, env = "COPILI_ENGINE", default_value = "auto", value_name = "ENGINE")]
    pub engine: String,
    /// The pull policy of every container, as for `run` (`always`: lock the newest images).
    #[arg(long, value_name = "POLICY", value_parser = parse_pull_policy)]
    pub pull: Option<copili::model::PullPolicy>,
    /// The bound of the engine's answer, as for `run`.
    #[command(flatten)]
    pub timeout: EngineTimeout,
}

pub(super) const LOCK_EXAMPLES: &str = "Examples:
  copili lock pipeline.yaml                  writes pipeline.yaml.lock
  copili lock pipeline.yaml --pull always    lock the newest images of each tag
  copili run pipeline.yaml --locked          run exactly the locked images

Exit codes: 0 written, 1 an image could not be pulled or built, 2 invalid input,
3 engine unavailable.";

/// `copili bundle`'s actions.
#[derive(Debug, Subcommand)]
pub enum BundleAction {
    /// Write one archive with every image of a locked pipeline, the pipeline, its lock and a
    /// manifest of checksums
    ///
    /// The images must be those of the lock (run `copili lock FILE` first). The env file is
    /// added only with `--include-env-file`: it holds secrets.
    #[command(after_help = BUNDLE_SAVE_EXAMPLES)]
    Save(BundleSaveArgs),
    /// Check a bundle, load its images into the engine, check them against the lock, and
    /// unpack the pipeline
    ///
    /// Every byte is checked before anything is loaded: a damaged or altered bundle is refused
    /// and nothing is loaded.
    #[command(after_help = BUNDLE_LOAD_EXAMPLES)]
    Load(BundleLoadArgs),
}

/// The options of `copili bundle save`.
#[derive(Debug, Args)]
pub struct BundleSaveArgs {
    /// The pipeline file; its lock FILE.lock must be there.
    #[arg(value_name = "FILE", value_parser = PathParser)]
    pub file: PathBuf,
    /// The bundle to write.
    #[arg(long, short = 'o', value_name = "BUNDLE.tar", value_parser = PathParser)]
    pub output: PathBuf,
    /// The engine the images are saved from: `auto`, `docker`, `podman`, or a client's path.
    #[arg(long, env = "COPILI_ENGINE", default_value = "auto", value_name = "ENGINE")]
    pub engine: String,
    /// Also put the env file (`--env-file`, else the `.env` beside the pipeline) into the
    /// bundle. It holds secrets: never added without this.
    #[arg(long)]
    pub include_env_file: bool,
    /// The env file to read (and, with --include-env-file, to bundle).
    #[arg(long, value_name = "PATH", value_parser = PathParser)]
    pub env_file: Option<PathBuf>,
    /// The identity the pipeline runs under, if not its top-level key.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// The bound of the engine's answer, as for `run` (not of the save itself).
    #[command(flatten)]
    pub timeout: EngineTimeout,
}

const BUNDLE_SAVE_EXAMPLES: &str = "Examples:
  copili lock pipeline.yaml && copili bundle save pipeline.yaml -o nightly.tar
  copili bundle save pipeline.yaml -o nightly.tar --engine docker
  copili bundle save pipeline.yaml -o nightly.tar --include-env-file

Exit codes: 0 written, 1 the save failed (nothing written), 2 invalid input or the images
are not the locked ones, 3 engine unavailable, 130/143 interrupted (nothing written).";

/// The options of `copili bundle load`.
#[derive(Debug, Args)]
pub struct BundleLoadArgs {
    /// The bundle.
    #[arg(value_name = "BUNDLE.tar", value_parser = PathParser)]
    pub bundle: PathBuf,
    /// The engine to load the images into: `auto`, `docker`, `podman`, or a client's path.
    /// Rootless podman loads them for the user who runs copili.
    #[arg(long, env = "COPILI_ENGINE", default_value = "auto", value_name = "ENGINE")]
    pub engine: String,
    /// Where the pipeline and its lock are unpacked (default: a directory named after the
    /// bundle in the current directory: `nightly/` for `/media/usb/nightly.tar`).
    #[arg(short = 'C', long = "directory", value_name = "DIR", value_parser = PathParser)]
    pub directory: Option<PathBuf>,
    /// The bound of the engine's answer, as for `run` (not of the load itself).
    #[command(flatten)]
    pub timeout: EngineTimeout,
}

const BUNDLE_LOAD_EXAMPLES: &str = "Examples:
  copili bundle load nightly.tar --engine podman
  copili bundle load nightly.tar -C /srv/nightly
  copili run /srv/nightly/pipeline.yaml --locked --pull never

Exit codes: 0 loaded, 1 the load failed or the loaded images are not the locked ones,
2 the bundle is damaged or altered (nothing loaded), 3 engine unavailable.";
