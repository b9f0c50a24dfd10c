//! `copili run`'s handlers: after the main run, those due run with the main run's report
//! written for them to read ([`copili::handlers`]).

use std::time::SystemTime;

use copili::exit_code;
use copili::report::{RunInfo, RunSummary};
use copili_runtime::runner::{self, CancelToken, RunConfig, RunEvent, Status};
use copili_runtime::Engine;

use crate::cli::RunArgs;
use crate::output::errln;

/// After the main run (`outcomes`): its exit code, which is the main containers' alone (a
/// handler's failure does not change it); unless `dry_run`, the handlers due run, their
/// outcomes put into `outcomes`, the reporters flushed periodically meanwhile.
#[allow(clippy::too_many_arguments)]
pub(crate) fn after(
    engine: &dyn Engine,
    run: (&copili::model::Pipeline, &copili::Plan, &RunConfig),
    cancel: &CancelToken,
    outcomes: &mut [runner::Outcome],
    (info, args, dry_run): (&RunInfo, &RunArgs, bool),
    flush: &(dyn Fn() + Sync),
    on_event: &(dyn Fn(RunEvent) + Sync),
) -> i32 {
    let code = if outcomes.iter().all(|o| o.status.is_ok() || o.status == Status::Skipped) {
        exit_code::SUCCESS
    } else {
        exit_code::FAILURE
    };
    if !dry_run {
        let handled = copili::report::flushing_periodically(flush, || {
            run_handlers(engine, run, cancel, outcomes, (info, args, code), on_event)
        });
        copili::handlers::merge(outcomes, handled);
    }
    code
}

/// Runs the handlers due after the main run (`outcomes`), with the main run's report written
/// for them to read; returns their outcomes.
fn run_handlers(
    engine: &dyn Engine,
    (spec, plan, config): (&copili::model::Pipeline, &copili::Plan, &RunConfig),
    cancel: &CancelToken,
    outcomes: &[runner::Outcome],
    (info, args, code): (&RunInfo, &RunArgs, i32),
    on_event: &(dyn Fn(RunEvent) + Sync),
) -> Vec<(usize, runner::Outcome)> {
    let end = copili::handlers::RunEnd::of(spec, outcomes);
    let due = copili::handlers::due(spec, plan, &end);
    if due.is_empty() {
        return Vec::new();
    }
    let summary = RunSummary { outcomes: outcomes.to_vec(), finished_at: SystemTime::now(), exit_code: code };
    let report = match copili::handlers::ReportDir::write(info, Some(&args.log_dir), &summary) {
        Ok(report) => Some(report),
        Err(e) => {
            errln!("warning: cannot write the report for the handlers: {e}");
            None
        }
    };
    let path = report.as_ref().map(copili::handlers::ReportDir::path);
    copili::handlers::run(engine, spec, plan, &due, config, cancel, &end, path.as_deref(), on_event)
}
