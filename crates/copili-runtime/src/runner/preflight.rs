//! Checks before anything starts: the networks of `networks:` that the engine lacks.

use std::collections::HashMap;

use copili_model::Pipeline;
use copili_planner::Plan;

use crate::engine::{Engine, EngineError};

/// A network a container is to join (`networks:`) that the engine does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingNetwork {
    /// The container (`main/sidecar` for a sidecar).
    pub container: String,
    /// The network's name.
    pub network: String,
}

/// The networks of `networks:` that do not exist, for the containers a plan runs, checked
/// before anything starts (a job must not fail half-way for a network that was never
/// there). Each network is asked about once; a dry run asks nothing.
pub fn missing_networks(
    engine: &dyn Engine,
    pipeline: &Pipeline,
    plan: &Plan,
) -> Result<Vec<MissingNetwork>, EngineError> {
    if engine.is_dry_run() {
        return Ok(Vec::new());
    }
    let mut known: HashMap<String, bool> = HashMap::new();
    let mut missing = Vec::new();
    for c in plan.order().map(|i| &pipeline.containers[i]) {
        let owners = std::iter::once((c.name.clone(), c))
            .chain(c.sidecars.iter().map(|s| (format!("{}/{}", c.name, s.name), s)));
        for (label, owner) in owners {
            for network in &owner.options().networks {
                let exists = match known.get(&network.name) {
                    Some(&exists) => exists,
                    None => {
                        let exists = engine.network_exists(&network.name)?;
                        known.insert(network.name.clone(), exists);
                        exists
                    }
                };
                if !exists {
                    missing.push(MissingNetwork { container: label.clone(), network: network.name.clone() });
                }
            }
        }
    }
    Ok(missing)
}
