//! [`Hooks`]: the callbacks of library users (the seed's `*_callback`s), and the
//! [`Finished`] containers they are shown.

use copili_model::{ContainerSpec, Pipeline};

use super::Outcome;

/// Callbacks for library users, the seed's `*_callback`s: each has a default that does
/// nothing (or gives the runner's own answer). Called from the runner's threads, hence `Sync`.
///
/// Order for one container: `did_run` (once, at the start of the run), `before_pull` (once per
/// distinct image, before it is checked, pulled or built), `dependencies_met` (whenever the
/// runner looks, possibly many times), `before_run`, `after_run`.
pub trait Hooks: Sync {
    /// Whether the container ran before and is to be skipped; a skipped container counts as a
    /// met dependency (the seed's `container_did_run_check_override_callback`).
    fn did_run(&self, _container: &ContainerSpec) -> bool {
        false
    }

    /// Why a container [`Hooks::did_run`] said ran before is skipped, for the reports.
    fn did_run_reason(&self, _container: &ContainerSpec) -> String {
        "it ran before (did_run)".into()
    }

    /// Before an image is prepared, with the containers that need it.
    fn before_pull(&self, _image: &str, _containers: &[&ContainerSpec]) {}

    /// Whether the container may start: `Some(true)` starts it, `Some(false)` cancels it,
    /// `None` waits. `default` is the runner's own answer (`Some(true)` when every dependency
    /// succeeded or ran before, `Some(false)` when one failed or cannot run, `None` while one is
    /// pending); `finished` holds the containers that have ended so far. A container still
    /// waiting when nothing else can happen is cancelled.
    fn dependencies_met(
        &self,
        _container: &ContainerSpec,
        _finished: &Finished<'_>,
        default: Option<bool>,
    ) -> Option<bool> {
        default
    }

    /// Just before the container starts (its images are ready).
    fn before_run(&self, _container: &ContainerSpec) {}

    /// After the container ended, with its outcome.
    fn after_run(&self, _container: &ContainerSpec, _outcome: &Outcome) {}
}

/// The hooks that change nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// The containers that have ended so far, for [`Hooks::dependencies_met`].
#[derive(Clone, Copy)]
pub struct Finished<'a> {
    pub(super) pipeline: &'a Pipeline,
    pub(super) outcomes: &'a [Option<Outcome>],
}

impl<'a> Finished<'a> {
    /// Each ended container with its outcome, in the pipeline's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a ContainerSpec, &'a Outcome)> + 'a {
        let pipeline = self.pipeline;
        self.outcomes.iter().enumerate().filter_map(move |(i, o)| o.as_ref().map(|o| (&pipeline.containers[i], o)))
    }

    /// The outcome of the container called `name`, if it has ended.
    pub fn outcome(&self, name: &str) -> Option<&'a Outcome> {
        let at = self.pipeline.containers.iter().position(|c| c.name == name)?;
        self.outcomes.get(at)?.as_ref()
    }
}
