//! Containers created ahead of their start. While a container's dependencies still run (or
//! while it waits for a free slot), the coordinator creates its main container, its images
//! ready, so that it is started the moment it may run (`start --attach`) and its `create` is
//! off the critical path of a chain. Nothing starts early: creating is all that happens ahead.
//!
//! At most a window of containers (`jobs + 1`, and never more than [`MAX_WINDOW`]) are created
//! ahead at a time, so that a wide graph does not create hundreds of containers it will start
//! much later. A container created ahead that does not run after all (a dependency failed,
//! the run was interrupted, `--fail-fast`) is removed; its outcome is what it would have been.
//! Containers with sidecars are not created ahead (they join their sidecars' network, made
//! when they start), nor on engines that do not offer it ([`crate::Engine::creates_ahead`]).

use copili_planner::Plan;

use super::Outcome;

/// The most containers created ahead at once, whatever `jobs` is.
pub(super) const MAX_WINDOW: usize = 16;

/// Where a container is in being created ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not created ahead (or its container is in the hands of its worker or gone).
    No,
    /// Its `create` runs.
    Creating,
    /// Created, not started.
    Created,
    /// Its `create` failed: it is created when it starts, as without creating ahead, which
    /// reports the failure if there is one.
    Refused,
}

/// The containers created ahead, by container index.
pub(super) struct Ahead {
    states: Vec<State>,
    window: usize,
    enabled: bool,
}

impl Ahead {
    /// For `n` containers, at most `jobs + 1` (and [`MAX_WINDOW`]) ahead — one more than
    /// may run, so that one job at a time still has the next but one on its way; `enabled`
    /// is the engine's [`crate::Engine::creates_ahead`].
    pub(super) fn new(n: usize, jobs: usize, enabled: bool) -> Ahead {
        Ahead { states: vec![State::No; n], window: (jobs.max(1) + 1).min(MAX_WINDOW), enabled }
    }

    /// `create` calls still running: the run does not end before they have.
    pub(super) fn in_flight(&self) -> usize {
        self.states.iter().filter(|&&s| s == State::Creating).count()
    }

    /// Whether the container is being created ahead or was, and waits to start.
    pub(super) fn is_ahead(&self, container: usize) -> bool {
        matches!(self.states[container], State::Creating | State::Created)
    }

    /// Whether the container's `create` runs: it starts once that returned.
    pub(super) fn is_creating(&self, container: usize) -> bool {
        self.states[container] == State::Creating
    }

    /// Whether another container may be created ahead now.
    pub(super) fn has_room(&self) -> bool {
        self.enabled
            && self.states.iter().filter(|&&s| matches!(s, State::Creating | State::Created)).count() < self.window
    }

    /// Whether the container may still be created ahead (it never was).
    pub(super) fn may_create(&self, container: usize) -> bool {
        self.enabled && self.states[container] == State::No
    }

    /// Its `create` is on its way.
    pub(super) fn creating(&mut self, container: usize) {
        self.states[container] = State::Creating;
    }

    /// Its `create` returned.
    pub(super) fn created(&mut self, container: usize, ok: bool) {
        self.states[container] = if ok { State::Created } else { State::Refused };
    }

    /// The container starts: whether it was created ahead (its worker starts it, and removes
    /// it as any other). Not created ahead again.
    pub(super) fn take_for_start(&mut self, container: usize) -> bool {
        let created = self.states[container] == State::Created;
        self.states[container] = State::Refused;
        created
    }

    /// Containers created ahead that will not start (their outcome is decided): to remove.
    pub(super) fn not_needed(&mut self, outcomes: &[Option<Outcome>]) -> Vec<usize> {
        let mut unneeded = Vec::new();
        for (container, state) in self.states.iter_mut().enumerate() {
            if *state == State::Created && outcomes[container].is_some() {
                *state = State::Refused;
                unneeded.push(container);
            }
        }
        unneeded
    }
}

/// Whether a container is worth creating ahead: every dependency has succeeded (or counts as
/// met) or is on its way — running, or itself created ahead (so that a chain is created a
/// step further than the container that runs) — and either one of them is on its way (it
/// will start when they end) or none is and it waits for a free slot (`ready`). A container
/// waiting on anything else (a hook's "not yet") is not created: it might wait long.
pub(super) fn worth_creating(
    dependencies: &[usize],
    plan: &Plan,
    outcomes: &[Option<Outcome>],
    ran_before: &[bool],
    on_its_way: &dyn Fn(usize) -> bool,
    ready: bool,
) -> bool {
    let mut any_coming = false;
    for &d in dependencies {
        if on_its_way(d) {
            any_coming = true;
            continue;
        }
        let met = if plan.is_selected(d) {
            ran_before[d] || matches!(&outcomes[d], Some(o) if o.status.is_ok())
        } else {
            plan.exclusion(d).is_some_and(|r| r.kind() == "service")
        };
        if !met {
            return false;
        }
    }
    any_coming || ready
}
