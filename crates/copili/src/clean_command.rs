//! `copili clean`: removes what copili left on the engine — one pipeline's containers and
//! networks, or those of every pipeline whose lock is free.

use copili::exit_code;
use copili_runtime::lock::PipelineLock;
use copili_runtime::runner;
use copili_runtime::Engine;

use crate::error::{plural, CliError};
use crate::output::{errln, outln};
use crate::run_command::{require_engine, select_engine};

/// Cleans every pipeline whose lock is free (a running one is left alone, and said so).
fn clean_all_idle(engine: &dyn Engine) -> Result<(usize, usize), copili_runtime::EngineError> {
    let identities = engine.pipeline_identities()?;
    let (mut containers, mut networks) = (0, 0);
    for identity in identities {
        match PipelineLock::acquire(&PipelineLock::default_dir(), &identity) {
            Ok(_lock) => {
                let (c, n) = runner::clean(engine, Some(&identity))?;
                containers += c;
                networks += n;
            }
            Err(e) => errln!("note: {e}: its containers are left alone"),
        }
    }
    Ok((containers, networks))
}

/// `copili clean [FILE]`.
pub fn clean(
    file: Option<&std::path::Path>,
    name: Option<&str>,
    engine: &str,
    timeout: std::time::Duration,
) -> Result<i32, CliError> {
    require_engine("clean", engine)?;
    let identity = match (name, file) {
        (Some(name), _) => Some(name.to_string()),
        (None, Some(file)) => {
            let options = copili::LoadOptions::from_process();
            match copili::Pipeline::from_path(file, &options) {
                Ok(pipeline) => Some(pipeline.identity().to_string()),
                // The diagnostics alone, without the summary line `validate` ends with.
                Err(diagnostics) => return Err(CliError::Diagnostics(diagnostics)),
            }
        }
        (None, None) => None,
    };
    let engine = select_engine(engine, false, timeout)
        .map_err(|source| CliError::EngineMissing { engine: engine.to_string(), source })?;
    engine.ping().map_err(|source| CliError::EngineSilent { engine: engine.name().to_string(), source })?;
    // Never a live run's containers: cleaning a pipeline takes its lock.
    let _lock = match &identity {
        Some(identity) => Some(PipelineLock::acquire(&PipelineLock::default_dir(), identity)?),
        None => None,
    };
    let (containers, networks) = match &identity {
        Some(identity) => runner::clean(&*engine, Some(identity)),
        None => clean_all_idle(&*engine),
    }
    .map_err(CliError::Engine)?;
    outln!("removed {} and {}", plural(containers, "container"), plural(networks, "network"));
    Ok(exit_code::SUCCESS)
}
