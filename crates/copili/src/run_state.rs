//! The run state of a pipeline (`.copili/` beside the pipeline file, or `--state-dir`): what
//! each container did last, the run history, and for service containers when they were due.
//! Written after every run, atomically (`copili-state`).
//!
//! It decides what a run skips, as hooks of the runner ([`SkipPolicy`]): `run_once` containers
//! that succeeded before, and with `--resume` whatever did not fail or get cancelled in the
//! previous run.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use copili_model::ContainerSpec;
use copili_runtime::runner::{Hooks, Outcome, Status};
use copili_state::jiff::Timestamp;
use copili_state::{ContainerRecord, ContainerStatus, PipelineState, RunCommand, RunRecord, StateError, StateStore};

/// The state directory of a pipeline file: `.copili/` beside it (`.copili/` in the working
/// directory for standard input).
pub fn default_dir(pipeline_file: &Path) -> PathBuf {
    if pipeline_file.as_os_str() == "-" {
        return PathBuf::from(".copili");
    }
    match pipeline_file.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(".copili"),
        _ => PathBuf::from(".copili"),
    }
}

/// A pipeline's state, loaded once and saved after each run; shared by service mode's runs.
pub struct RunState {
    store: StateStore,
    identity: String,
    state: Mutex<PipelineState>,
}

impl RunState {
    /// Opens (creating the directory) and loads the state of `identity`.
    pub fn open(dir: &Path, identity: &str) -> Result<RunState, StateError> {
        let store = StateStore::open(dir)?;
        let state = store.load(identity)?;
        Ok(RunState { store, identity: identity.to_string(), state: Mutex::new(state) })
    }

    /// The state file.
    pub fn path(&self) -> PathBuf {
        self.store.path(&self.identity)
    }

    /// The directory of the run reports and `live.json` beside the state file
    /// ([`crate::run_files`]).
    pub fn runs_dir(&self) -> PathBuf {
        crate::run_files::runs_dir(&self.path())
    }

    /// The state as it stands.
    pub fn lock(&self) -> MutexGuard<'_, PipelineState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Changes the state and saves it.
    pub fn update(&self, change: impl FnOnce(&mut PipelineState)) -> Result<(), StateError> {
        let mut state = self.lock();
        change(&mut state);
        self.store.save(&self.identity, &state)
    }

    /// Records a run: the result of every container that ran or was meant to (not those left
    /// out, nor those skipped because they ran before), and the run in the history; then
    /// removes the run reports of runs the history no longer keeps.
    pub fn record_run(&self, pipeline: &copili_model::Pipeline, run: &RecordedRun<'_>) -> Result<(), StateError> {
        self.record_in_history(pipeline, run)?;
        let kept: Vec<String> = self.lock().history.iter().map(|r| r.run_id.clone()).collect();
        crate::run_files::prune_reports(&self.runs_dir(), kept.iter().map(String::as_str));
        Ok(())
    }

    fn record_in_history(&self, pipeline: &copili_model::Pipeline, run: &RecordedRun<'_>) -> Result<(), StateError> {
        let salt = self.lock().hash_salt()?.to_string();
        self.update(|state| {
            let mut results = BTreeMap::new();
            for &c in run.containers {
                let (Some(spec), Some(outcome)) = (pipeline.containers.get(c), run.outcomes.get(c)) else { continue };
                let status = status_of(outcome.status);
                results.insert(spec.name.clone(), status);
                if outcome.status == Status::Skipped {
                    continue;
                }
                let started = outcome.started_at.or(outcome.finished_at).unwrap_or(run.started_at);
                state.record_result(
                    spec.name.clone(),
                    ContainerRecord {
                        status,
                        exit_code: outcome.exit_code,
                        started_at: timestamp(started),
                        finished_at: outcome.finished_at.map(timestamp),
                        image_id: run.image_ids.get(&spec.image()).cloned(),
                        spec_hash: spec_hash(spec, &salt),
                        run_id: run.run_id.to_string(),
                        last_success_at: None,
                    },
                );
            }
            state.push_run(RunRecord {
                run_id: run.run_id.to_string(),
                command: run.command,
                started_at: timestamp(run.started_at),
                finished_at: timestamp(run.finished_at),
                results,
                exit_code: run.exit_code,
            });
        })
    }
}

/// Collects the image ids a run reports (`ImageEvent::Identified`), for the state: the runner
/// looks them up while the containers run, not after.
#[derive(Debug, Default)]
pub struct ImageIds(Mutex<HashMap<String, String>>);

impl ImageIds {
    /// Keeps the id an event reports, if it reports one.
    pub fn note(&self, event: &copili_runtime::runner::RunEvent) {
        if let copili_runtime::runner::RunEvent::Image {
            image,
            event: copili_runtime::images::ImageEvent::Identified { id },
            ..
        } = event
        {
            self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(image.clone(), id.clone());
        }
    }

    /// The ids by image reference.
    pub fn take(self) -> HashMap<String, String> {
        self.0.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What [`RunState::record_run`] records.
pub struct RecordedRun<'a> {
    /// The run's id.
    pub run_id: &'a str,
    /// `run`, `service` or `resume`.
    pub command: RunCommand,
    /// The outcome of every container of the pipeline.
    pub outcomes: &'a [Outcome],
    /// The containers the run was about (the plan's, or a service run's due ones).
    pub containers: &'a [usize],
    /// Image ids by reference.
    pub image_ids: &'a HashMap<String, String>,
    /// When the run started.
    pub started_at: SystemTime,
    /// When it ended.
    pub finished_at: SystemTime,
    /// Its exit code.
    pub exit_code: i32,
}

/// A point in time for the state file.
pub fn timestamp(time: SystemTime) -> Timestamp {
    Timestamp::try_from(time).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn status_of(status: Status) -> ContainerStatus {
    match status {
        Status::Succeeded => ContainerStatus::Succeeded,
        // Not a success: a `run_once` container runs again.
        Status::Failed | Status::FailedAllowed => ContainerStatus::Failed,
        Status::Cancelled => ContainerStatus::Cancelled,
        Status::Skipped => ContainerStatus::Skipped,
    }
}

/// A hash of what a container's description says, to tell whether it changed since it last
/// ran: the canonical serialization of the description (positions in the file left out,
/// secrets masked), with the value of each environment variable of it and of its sidecars as
/// its hash salted with the state's `salt` — a changed `env_vars` value changes the hash, as
/// it always did, but the state holds no unsalted hash of a secret. (Registry passwords and
/// build arguments are masked only, as before: changing them does not change the hash.)
pub fn spec_hash(spec: &ContainerSpec, salt: &str) -> String {
    let description = serde_json::to_value(spec).unwrap_or(serde_json::Value::Null);
    let env_values: Vec<serde_json::Value> = std::iter::once(spec)
        .chain(&spec.sidecars)
        .map(|container| {
            container
                .env_vars
                .iter()
                .map(|(name, value)| {
                    serde_json::json!([name, copili_state::salted_hash(salt, value.expose().as_bytes())])
                })
                .collect()
        })
        .collect();
    copili_state::canonical_hash(&serde_json::json!({ "description": description, "env_values": env_values }))
}

/// What a run skips, from the state: the runner's [`Hooks::did_run`].
pub struct SkipPolicy {
    /// `--force`: `run_once` containers run again.
    pub force: bool,
    /// `--resume`: the previous run's results; a container that did not fail or get cancelled
    /// there is skipped (and counts as met).
    pub resume: Option<BTreeMap<String, ContainerStatus>>,
    /// Containers that succeeded at some time (for `run_once`).
    pub succeeded_ever: Vec<String>,
}

impl SkipPolicy {
    /// The policy for a run with this state.
    pub fn new(state: &PipelineState, force: bool, resume: bool) -> Result<SkipPolicy, String> {
        let resume = if resume {
            match state.last_run() {
                Some(run) => Some(run.results.clone()),
                None => return Err("--resume: this pipeline has no previous run to resume".into()),
            }
        } else {
            None
        };
        let succeeded_ever = state
            .containers
            .iter()
            .filter(|(_, record)| record.last_success_at.is_some() || record.status == ContainerStatus::Succeeded)
            .map(|(name, _)| name.clone())
            .collect();
        Ok(SkipPolicy { force, resume, succeeded_ever })
    }

    fn why_skipped(&self, container: &ContainerSpec) -> Option<String> {
        if let Some(previous) = &self.resume {
            match previous.get(&container.name) {
                Some(ContainerStatus::Succeeded) => return Some("succeeded in the previous run (--resume)".into()),
                Some(ContainerStatus::Skipped) => return Some("skipped in the previous run (--resume)".into()),
                Some(ContainerStatus::Failed | ContainerStatus::Cancelled) | None => {}
            }
        }
        let once = container.run_once && !container.force_rerun && !self.force;
        if once && self.succeeded_ever.contains(&container.name) {
            return Some("succeeded before (run_once; `--force` runs it again)".into());
        }
        None
    }
}

impl Hooks for SkipPolicy {
    fn did_run(&self, container: &ContainerSpec) -> bool {
        self.why_skipped(container).is_some()
    }

    fn did_run_reason(&self, container: &ContainerSpec) -> String {
        self.why_skipped(container).unwrap_or_else(|| "it ran before".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use copili_model::{load, EnvFile, Input, LoadOptions};

    fn pipeline(text: &str) -> copili_model::Pipeline {
        let options = LoadOptions { env_file: EnvFile::Disabled, ..LoadOptions::default() };
        load(Input::Text(text), &options).expect("valid")
    }

    fn outcome(status: Status) -> Outcome {
        Outcome {
            status,
            exit_code: Some(0),
            attempts: 1,
            started_at: Some(SystemTime::now()),
            finished_at: Some(SystemTime::now()),
            reason: None,
            outputs: Vec::new(),
        }
    }

    #[test]
    fn run_once_resume_and_force() {
        let p = pipeline("p:\n  - {name: a, image_repo: x, run_once: true}\n  - {name: b, image_repo: x}\n  - {name: c, image_repo: x, run_once: true, force_rerun: true}\n");
        let dir = tempfile::tempdir().expect("temp dir");
        let state = RunState::open(dir.path(), "p").expect("opened");
        let outcomes = [outcome(Status::Succeeded), outcome(Status::Failed), outcome(Status::Succeeded)];
        let now = SystemTime::now();
        let run = RecordedRun {
            run_id: "r1",
            command: RunCommand::Run,
            outcomes: &outcomes,
            containers: &[0, 1, 2],
            image_ids: &HashMap::new(),
            started_at: now,
            finished_at: now,
            exit_code: 1,
        };
        state.record_run(&p, &run).expect("recorded");
        // Reloaded from the file.
        let state = RunState::open(dir.path(), "p").expect("opened");
        let policy = SkipPolicy::new(&state.lock(), false, false).expect("policy");
        let skipped: Vec<bool> = p.containers.iter().map(|c| policy.did_run(c)).collect();
        assert_eq!(skipped, vec![true, false, false], "run_once skips a, force_rerun runs c");
        assert_eq!(policy.did_run_reason(&p.containers[0]), "succeeded before (run_once; `--force` runs it again)");
        let forced = SkipPolicy::new(&state.lock(), true, false).expect("policy");
        assert!(!forced.did_run(&p.containers[0]));
        let resume = SkipPolicy::new(&state.lock(), false, true).expect("policy");
        let skipped: Vec<bool> = p.containers.iter().map(|c| resume.did_run(c)).collect();
        assert_eq!(skipped, vec![true, false, true], "--resume reruns only the failed b");
        assert_eq!(state.lock().history.len(), 1);
        assert_eq!(state.lock().containers["b"].status, ContainerStatus::Failed);
        let empty = tempfile::tempdir().expect("temp dir");
        let fresh = RunState::open(empty.path(), "p").expect("opened");
        assert!(SkipPolicy::new(&fresh.lock(), false, true).is_err());
    }

    #[test]
    fn the_hash_ignores_positions_but_not_values() {
        let a = pipeline("p:\n  - {name: a, image_repo: x, env_vars: {K: v1}, user: '1000', tmpfs: [/tmp]}\n");
        let moved = pipeline(
            "p:\n\n\n  - name: a\n    tmpfs: [/tmp]\n    user: '1000'\n    image_repo: x\n    env_vars: {K: v1}\n",
        );
        let changed = pipeline("p:\n  - {name: a, image_repo: x, env_vars: {K: v2}, user: '1000', tmpfs: [/tmp]}\n");
        let other_user = pipeline("p:\n  - {name: a, image_repo: x, env_vars: {K: v1}, user: '1001', tmpfs: [/tmp]}\n");
        let hash = |p: &copili_model::Pipeline| spec_hash(&p.containers[0], "salt");
        assert_eq!(hash(&a), hash(&moved), "positions and key order do not count");
        assert_ne!(hash(&a), hash(&changed), "a changed env_vars value changes the hash");
        assert_ne!(hash(&a), hash(&other_user));
        assert_ne!(hash(&a), spec_hash(&a.containers[0], "another salt"), "the salt is in the hash");
    }

    #[test]
    fn the_hash_holds_no_unsalted_hash_of_a_secret() {
        let a = pipeline("p:\n  - {name: a, image_repo: x, env_vars: {K: hunter2}}\n");
        let description = serde_json::to_string(&a.containers[0]).expect("serialized");
        assert!(!description.contains("hunter2") && description.contains("****"), "{description}");
        // What the hash is made of: the masked description and the salted hash of the value,
        // never a hash of the value alone.
        let unsalted = copili_state::spec_hash(b"hunter2");
        let expected = copili_state::canonical_hash(&serde_json::json!({
            "description": serde_json::to_value(&a.containers[0]).expect("serialized"),
            "env_values": [[["K", copili_state::salted_hash("s", b"hunter2")]]],
        }));
        assert_eq!(spec_hash(&a.containers[0], "s"), expected);
        assert_ne!(copili_state::salted_hash("s", b"hunter2"), unsalted);
    }

    #[test]
    fn a_state_gets_a_salt_on_its_first_recorded_run_and_keeps_it() {
        let p = pipeline("p:\n  - {name: a, image_repo: x, env_vars: {K: v1}}\n");
        let dir = tempfile::tempdir().expect("temp dir");
        let state = RunState::open(dir.path(), "p").expect("opened");
        assert_eq!(state.lock().hash_salt, "", "none before");
        let outcomes = [outcome(Status::Succeeded)];
        let now = SystemTime::now();
        let no_ids = HashMap::new();
        let record = |run_id| RecordedRun {
            run_id,
            command: RunCommand::Run,
            outcomes: &outcomes,
            containers: &[0],
            image_ids: &no_ids,
            started_at: now,
            finished_at: now,
            exit_code: 0,
        };
        state.record_run(&p, &record("r1")).expect("recorded");
        let salt = state.lock().hash_salt.clone();
        assert_eq!(salt.len(), 64);
        let first = state.lock().containers["a"].spec_hash.clone();
        assert_eq!(first, spec_hash(&p.containers[0], &salt));
        // Read again (as the next copili does): the same salt, the same hash.
        let reopened = RunState::open(dir.path(), "p").expect("reopened");
        assert_eq!(reopened.lock().hash_salt, salt);
        reopened.record_run(&p, &record("r2")).expect("recorded");
        assert_eq!(reopened.lock().containers["a"].spec_hash, first);
        let elsewhere = tempfile::tempdir().expect("temp dir");
        let other = RunState::open(elsewhere.path(), "p").expect("opened");
        other.record_run(&p, &record("r1")).expect("recorded");
        assert_ne!(other.lock().containers["a"].spec_hash, first, "another state, another salt");
    }

    #[test]
    fn the_default_directory_is_beside_the_file() {
        assert_eq!(default_dir(Path::new("pipelines/nightly.yaml")), PathBuf::from("pipelines/.copili"));
        assert_eq!(default_dir(Path::new("nightly.yaml")), PathBuf::from(".copili"));
        assert_eq!(default_dir(Path::new("-")), PathBuf::from(".copili"));
    }
}
