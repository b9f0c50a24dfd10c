//! What a run whose engine did not answer in time may have left behind: removed once more,
//! or warned of with the command that removes it.

use copili_runtime::runner;
use copili_runtime::{Engine, EngineError};

use crate::output::errln;

/// After a run in which the engine did not answer a call in time: removes once more what the
/// run could not remove (a removal that did not answer), and warns of what is still left, with
/// the command that removes it; then of every call killed at its bound that nothing has said
/// yet (not a container's reason, not a leftover's): those of a cleanup or a stop, whose errors
/// the runner can only ignore. A run whose calls all answered costs no further call.
pub(crate) fn report_left_behind(engine: &dyn Engine, identity: &str, outcomes: &[runner::Outcome]) {
    let mut killed = engine.killed_calls();
    if killed.is_empty() {
        return;
    }
    let mut said: Vec<EngineError> = outcomes.iter().filter_map(|o| reason_error(o.reason.as_ref()?)).collect();
    match runner::sweep(engine, identity) {
        Ok(left) => {
            for left in left {
                errln!("warning: {}", copili::report::words::left_behind(&left, engine.name()));
                said.push(left.error);
            }
        }
        Err(e) => {
            errln!(
                "warning: could not check what the run left on {}: {}",
                engine.name(),
                copili::report::words::engine_failure(&e)
            );
            said.push(e);
        }
    }
    killed.extend(engine.killed_calls());
    for killed in killed {
        if !said.contains(&killed) {
            errln!("warning: {}", copili::report::words::engine_failure(&killed));
            said.push(killed);
        }
    }
}

/// The engine error a container's reason says, if any.
fn reason_error(reason: &runner::Reason) -> Option<EngineError> {
    match reason {
        runner::Reason::Engine(error) => Some(error.clone()),
        runner::Reason::Image(failure) => failure.engine_error().cloned(),
        _ => None,
    }
}
