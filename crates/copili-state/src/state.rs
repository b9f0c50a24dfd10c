//! The state of one pipeline, as stored in its JSON file.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The schema version written into every state file.
pub const SCHEMA_VERSION: u32 = 1;

/// How many runs [`PipelineState::history`] keeps; older ones are dropped.
pub const HISTORY_LIMIT: usize = 100;

/// Everything copili remembers about a pipeline between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineState {
    /// The schema version, [`SCHEMA_VERSION`].
    pub version: u32,
    /// The last result of each container, by name.
    #[serde(default)]
    pub containers: BTreeMap<String, ContainerRecord>,
    /// The last [`HISTORY_LIMIT`] runs, oldest first.
    #[serde(default)]
    pub history: Vec<RunRecord>,
    /// The schedule bookkeeping of each service container, by name.
    #[serde(default)]
    pub service: BTreeMap<String, ServiceRecord>,
    /// A random salt (hex) for the hashes of secret values in [`ContainerRecord::spec_hash`],
    /// made on first use ([`PipelineState::hash_salt`]): the file holds no unsalted hash of a
    /// secret, and equal secrets hash differently in two states. Empty until then (and in files
    /// of older copili versions).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hash_salt: String,
}

impl Default for PipelineState {
    fn default() -> PipelineState {
        PipelineState {
            version: SCHEMA_VERSION,
            containers: BTreeMap::new(),
            history: Vec::new(),
            service: BTreeMap::new(),
            hash_salt: String::new(),
        }
    }
}

/// How a container's run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContainerStatus {
    /// It exited with 0 (or its sidecar role was fulfilled).
    Succeeded,
    /// It exited with another code, or could not be started.
    Failed,
    /// The run was cancelled while it ran.
    Cancelled,
    /// It was not started, because a dependency failed or the run was cancelled first.
    Skipped,
}

/// The last result of one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// How it ended.
    pub status: ContainerStatus,
    /// Its exit code, if it ran to an exit.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// When it started (or was skipped).
    pub started_at: Timestamp,
    /// When it finished, if it did.
    #[serde(default)]
    pub finished_at: Option<Timestamp>,
    /// The engine's id of the image it ran, if known.
    #[serde(default)]
    pub image_id: Option<String>,
    /// [`spec_hash`](crate::spec_hash) of its description when it ran.
    pub spec_hash: String,
    /// The run it belonged to.
    pub run_id: String,
    /// When it last succeeded, in this run or an earlier one.
    #[serde(default)]
    pub last_success_at: Option<Timestamp>,
}

/// The command that made a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunCommand {
    /// `copili run`.
    Run,
    /// A run of service mode.
    Service,
    /// `copili run --resume`.
    Resume,
}

/// One finished run of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The run's id (also the label on its containers).
    pub run_id: String,
    /// What started it.
    pub command: RunCommand,
    /// When it started.
    pub started_at: Timestamp,
    /// When it finished.
    pub finished_at: Timestamp,
    /// How each container that took part ended, by name.
    #[serde(default)]
    pub results: BTreeMap<String, ContainerStatus>,
    /// copili's exit code for the run.
    pub exit_code: i32,
}

/// The schedule bookkeeping of one service container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    /// The slot of its schedule that was last run (or caught up).
    #[serde(default)]
    pub last_due: Option<Timestamp>,
    /// When its last run started.
    #[serde(default)]
    pub last_run_started: Option<Timestamp>,
    /// When it is due next.
    #[serde(default)]
    pub next_due: Option<Timestamp>,
}

impl PipelineState {
    /// Whether the container's last recorded run succeeded.
    pub fn succeeded_before(&self, name: &str) -> bool {
        self.containers.get(name).is_some_and(|record| record.status == ContainerStatus::Succeeded)
    }

    /// Whether the container's last recorded run succeeded with the description whose hash is
    /// `spec_hash`: what `resume` needs to skip it.
    pub fn succeeded_with(&self, name: &str, spec_hash: &str) -> bool {
        self.containers
            .get(name)
            .is_some_and(|record| record.status == ContainerStatus::Succeeded && record.spec_hash == spec_hash)
    }

    /// The latest run, if any.
    pub fn last_run(&self) -> Option<&RunRecord> {
        self.history.last()
    }

    /// Records the latest result of container `name`. `last_success_at` is filled in: the
    /// finish (or start) of this run if it succeeded, else carried over from the previous
    /// record.
    pub fn record_result(&mut self, name: impl Into<String>, mut record: ContainerRecord) {
        let name = name.into();
        if record.last_success_at.is_none() {
            record.last_success_at = if record.status == ContainerStatus::Succeeded {
                Some(record.finished_at.unwrap_or(record.started_at))
            } else {
                self.containers.get(&name).and_then(|previous| previous.last_success_at)
            };
        }
        self.containers.insert(name, record);
    }

    /// Appends a finished run to the history, dropping the oldest beyond [`HISTORY_LIMIT`].
    pub fn push_run(&mut self, run: RunRecord) {
        self.history.push(run);
        let excess = self.history.len().saturating_sub(HISTORY_LIMIT);
        self.history.drain(..excess);
    }

    /// The salt for hashes of secret values ([`crate::salted_hash`]), made now (random, 32
    /// bytes) if this state has none yet; it is saved with the state.
    pub fn hash_salt(&mut self) -> Result<&str, crate::StateError> {
        if self.hash_salt.is_empty() {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|source| crate::StateError::Random { source })?;
            self.hash_salt = crate::hex(&bytes);
        }
        Ok(&self.hash_salt)
    }

    /// The bookkeeping of service container `name`, created empty if it has none.
    pub fn service_mut(&mut self, name: &str) -> &mut ServiceRecord {
        self.service.entry(name.to_string()).or_default()
    }
}
