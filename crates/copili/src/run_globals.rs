//! `--set-env` and `--label` of `run` and `service`, checked and split.

use copili::model::Secret;

use crate::cli::RunArgs;

/// `--set-env` and `--label`.
pub(crate) type Globals = (Vec<(String, Secret)>, Vec<(String, String)>);

pub(crate) fn parse_globals(args: &RunArgs) -> Result<Globals, String> {
    let mut env = Vec::new();
    for item in &args.set_env {
        // Messages name the variable, never its value: `--set-env` values are secrets.
        match item.split_once('=') {
            Some(("", _)) => return Err(format!("--set-env `={}`: the name is empty", Secret::MASK)),
            Some((key, _)) if key.chars().any(|c| c.is_whitespace() || c.is_control()) => {
                let shown = copili::model::escape::escape_controls(key);
                return Err(format!(
                    "--set-env `{shown}={}`: a name cannot hold white space or control characters",
                    Secret::MASK
                ));
            }
            Some((key, value)) => env.push((key.to_string(), Secret::new(value))),
            None => match std::env::var(item) {
                Ok(value) => env.push((item.clone(), Secret::new(value))),
                Err(_) => return Err(format!("--set-env {item}: `{item}` is not set in copili's environment")),
            },
        }
    }
    let mut labels = Vec::new();
    for item in &args.labels {
        match item.split_once('=') {
            Some((key, _)) if key.starts_with("io.copili.") => {
                return Err(format!("--label {key}: `io.copili.*` labels are copili's own"))
            }
            Some((key, value)) if !key.is_empty() => labels.push((key.to_string(), value.to_string())),
            _ => return Err(format!("--label `{item}`: expected KEY=VALUE")),
        }
    }
    Ok((env, labels))
}
