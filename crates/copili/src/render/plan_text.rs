//! `copili plan`'s text for people: the order, each container with its details, handlers,
//! what does not run. (The JSON document is `plan.rs`'s.)

use std::fmt::Write as _;

use copili_model::{AllowFailure, ContainerSpec, DependencyCondition};

use super::plan::{build_context, ImagePlans};
use crate::{Pipeline, Plan};

fn quote_command(command: &[String]) -> String {
    command.iter().map(|word| copili_runtime::shell_quote(word)).collect::<Vec<_>>().join(" ")
}

/// Renders a plan for people.
pub fn to_text(pipeline: &Pipeline, plan: &Plan, images: &ImagePlans) -> String {
    let spec = pipeline.spec();
    let mut out = String::new();
    let n_sidecars: usize = plan.order().map(|i| spec.containers[i].sidecars.len()).sum();
    let _ = writeln!(out, "pipeline {} ({})", pipeline.identity(), spec.source.name);
    let _ = writeln!(out, "environment: {}", plan.environment.as_deref().unwrap_or("none (set ENV or --environment)"));
    let sidecars = match n_sidecars {
        0 => String::new(),
        1 => " and 1 sidecar".to_string(),
        n => format!(" and {n} sidecars"),
    };
    let levels = if plan.levels.len() == 1 { "1 level".to_string() } else { format!("{} levels", plan.levels.len()) };
    let of = if spec.containers.len() == 1 {
        "1 container".to_string()
    } else {
        format!("{} containers", spec.containers.len())
    };
    let _ = writeln!(out, "{} of {of}{sidecars} in {levels}", plan.len());
    let width = plan.order().map(|i| spec.containers[i].name.len()).max().unwrap_or(0);
    for (level, members) in plan.levels.iter().enumerate() {
        let _ = writeln!(out, "\nlevel {}", level + 1);
        for &i in members {
            let c = &spec.containers[i];
            let mut tags = Vec::new();
            if c.is_service_container {
                tags.push("service".to_string());
            }
            if let Some(origin) = &c.matrix {
                tags.push(origin.to_string());
            }
            if plan.added_by_only.contains(&i) {
                tags.push("added by --only".to_string());
            }
            let tags = if tags.is_empty() { String::new() } else { format!("  [{}]", tags.join(", ")) };
            let _ = writeln!(out, "  {:<width$}  {}{tags}", c.name, c.image());
            detail_lines(&mut out, c, true, images);
            if let Some(dep) = plan.blocked_by(i) {
                let dep_name = &spec.containers[dep].name;
                let why = match plan.exclusion(dep) {
                    Some(reason) => reason.to_string(),
                    None => "cancelled".to_string(),
                };
                let _ = writeln!(out, "      will be cancelled: depends on {dep_name}, {why}");
            }
            for s in &c.sidecars {
                let _ = writeln!(out, "      sidecar {}  {}", s.name, s.image());
                detail_lines(&mut out, s, false, images);
            }
        }
    }
    let handlers = plan.handlers();
    if !handlers.is_empty() {
        let _ = writeln!(out, "\nhandlers, after the run:");
        let width = handlers.iter().map(|&h| spec.containers[h].name.len()).max().unwrap_or(0);
        for &h in &handlers {
            let c = &spec.containers[h];
            let on = c.run_on.map_or("", copili_model::RunOn::as_str);
            let _ = writeln!(out, "  {:<width$}  {}  [on {on}]", c.name, c.image());
            detail_lines(&mut out, c, true, images);
        }
    }
    let excluded: Vec<_> =
        plan.excluded.iter().filter(|e| e.reason != copili_planner::ExclusionReason::Handler).collect();
    if !excluded.is_empty() {
        let _ = writeln!(out, "\nnot run:");
        let width = excluded.iter().map(|e| spec.containers[e.container].name.len()).max().unwrap_or(0);
        for e in excluded {
            let _ = writeln!(out, "  {:<width$}  {}", spec.containers[e.container].name, e.reason);
        }
    }
    if !plan.external_dependencies.is_empty() {
        let _ = writeln!(out, "\nmet by earlier runs:");
        for &(c, d) in &plan.external_dependencies {
            let _ = writeln!(out, "  {} needs {}", spec.containers[c].name, spec.containers[d].name);
        }
    }
    if !spec.variables.is_empty() {
        let _ = writeln!(out, "\nvariables:");
        let width = spec.variables.iter().map(|v| v.name.len()).max().unwrap_or(0);
        for v in &spec.variables {
            let _ = writeln!(out, "  {:<width$}  {}", v.name, v.source.as_str());
        }
    }
    // Descriptions, paths and commands come from the file: nothing in them may act on a terminal.
    match copili_model::escape::escape_controls_in_lines(&out) {
        std::borrow::Cow::Borrowed(_) => out,
        std::borrow::Cow::Owned(escaped) => escaped,
    }
}

fn detail_lines(out: &mut String, c: &ContainerSpec, main: bool, images: &ImagePlans) {
    let indent = if main { "      " } else { "          " };
    if let Some(build) = &c.build {
        let _ = writeln!(out, "{indent}build: {}", build_context(&build.context));
    }
    if let Some(planned) = images.get(&c.image()) {
        let _ = writeln!(out, "{indent}image: {}", crate::report::words::planned(planned));
    }
    if let Some(pull) = c.pull {
        let _ = writeln!(out, "{indent}pull: {pull}");
    }
    if main && !c.dependencies.is_empty() {
        let after: Vec<String> = c
            .dependencies
            .iter()
            .map(|d| match c.condition_of(d) {
                DependencyCondition::Completed => format!("{d} (completed)"),
                DependencyCondition::Succeeded => d.clone(),
            })
            .collect();
        let _ = writeln!(out, "{indent}after: {}", after.join(", "));
    }
    match c.allow_failure() {
        AllowFailure::No => {}
        AllowFailure::Any => {
            let _ = writeln!(out, "{indent}allowed to fail: any failure");
        }
        AllowFailure::ExitCodes(codes) => {
            let codes: Vec<String> = codes.iter().map(i32::to_string).collect();
            let _ = writeln!(out, "{indent}allowed to fail: exit code {}", codes.join(", "));
        }
    }
    if !c.command.is_empty() {
        let _ = writeln!(out, "{indent}command: {}", quote_command(&c.command));
    }
    if !c.env_vars.is_empty() {
        let env: Vec<String> = c.env_vars.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "{indent}env: {}", env.join(" "));
    }
    for v in &c.volumes {
        let _ = writeln!(out, "{indent}volume: {}", v.short_form());
    }
    for (name, value) in super::options::option_lines(c.options()) {
        let _ = writeln!(out, "{indent}{name}: {value}");
    }
    if let Some(user) = &c.image_reg_username {
        let password = if c.image_reg_password.is_some() { " (password ****)" } else { "" };
        let _ = writeln!(out, "{indent}registry login: {user}{password}");
    }
}
