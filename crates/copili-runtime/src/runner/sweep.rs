//! The last look at the engine when a run ends: whatever still carries the pipeline's label
//! (a removal that failed or did not answer during the run) is removed once more, and what
//! cannot be is handed back, to be reported as left behind.

use crate::engine::{Engine, EngineError};

use super::naming::PIPELINE_LABEL;

/// Something of a run still on the engine after the run's last removal of it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftBehind {
    /// A container (for swarm: a service) or a network.
    pub kind: LeftKind,
    /// Its name on the engine.
    pub name: String,
    /// Why the last removal failed.
    pub error: EngineError,
}

/// What a [`LeftBehind`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftKind {
    /// A container (for swarm: a service).
    Container,
    /// A network.
    Network,
}

/// Removes what still carries pipeline `identity`'s label, containers first (a network goes
/// only once no container is attached); what could not be removed, with why. An error when the
/// engine cannot even list them. A dry run has nothing to remove.
pub fn sweep(engine: &dyn Engine, identity: &str) -> Result<Vec<LeftBehind>, EngineError> {
    if engine.is_dry_run() {
        return Ok(Vec::new());
    }
    let labels = vec![(PIPELINE_LABEL.to_string(), identity.to_string())];
    let mut left = Vec::new();
    let containers = engine.containers_with_labels(&labels)?;
    if !containers.is_empty() {
        if let Err(error) = engine.remove_all(&containers) {
            // A removal that failed may have removed some: those still there are left. One that
            // did not answer says nothing of what it did, and the engine will not say either.
            let still = match &error {
                EngineError::TimedOut { .. } => containers,
                _ => engine.containers_with_labels(&labels).unwrap_or(containers),
            };
            let container = |name| LeftBehind { kind: LeftKind::Container, name, error: error.clone() };
            left.extend(still.into_iter().map(container));
        }
    }
    for name in engine.networks_with_labels(&labels)? {
        if let Err(error) = engine.network_remove(&name) {
            left.push(LeftBehind { kind: LeftKind::Network, name, error });
        }
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::CreateRequest;
    use crate::fake::FakeEngine;

    #[test]
    fn what_a_run_left_is_removed_and_nothing_is_reported() {
        let engine = FakeEngine::new([]);
        let request = CreateRequest { name: "p-a".into(), hostname: "a".into(), ..CreateRequest::default() };
        engine.create(&request).expect("created");
        engine.network_create("p-a-net", &[]).expect("created");
        assert_eq!(engine.leftovers(), (1, 1));
        assert_eq!(sweep(&engine, "p"), Ok(Vec::new()));
        assert_eq!(engine.leftovers(), (0, 0));
        let calls = engine.calls();
        let removed_at = |what: &str| calls.iter().position(|c| c == what).unwrap_or(usize::MAX);
        assert!(removed_at("remove p-a") < removed_at("network remove p-a-net"), "{calls:?}");
    }
}
