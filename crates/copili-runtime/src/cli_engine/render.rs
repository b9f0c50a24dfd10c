//! How commands are shown: quoted for a shell (dry runs, error messages), with environment
//! values replaced by their names.

use super::CliEngine;

impl CliEngine {
    /// The command as a shell line, each argument quoted where needed.
    pub(crate) fn render_quoted(&self, args: &[String]) -> String {
        std::iter::once(self.display.as_str())
            .chain(args.iter().map(String::as_str))
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A dry run's line: the settings that change where the client keeps credentials
    /// (`DOCKER_CONFIG`) before the command, so that a copied line does not log in to the
    /// user's own store; other environment values (secrets) are never shown.
    pub(crate) fn render_dry(&self, args: &[String], env: &[(&str, &str)]) -> String {
        let mut line = String::new();
        for (name, value) in env.iter().filter(|(name, _)| *name == "DOCKER_CONFIG") {
            line.push_str(&format!("{name}={} ", shell_quote(value)));
        }
        line.push_str(&self.render_quoted(args));
        line
    }

    /// The command for messages. Arguments never hold secret values (see [`CliEngine::create`]).
    pub(crate) fn render(&self, args: &[String]) -> String {
        std::iter::once(self.display.as_str()).chain(args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
    }
}

/// An argument as a POSIX shell would need it: bare when it holds only safe characters,
/// else in single quotes.
///
/// An argument with characters that would act on a terminal (ESC, a line break, other control
/// characters) is written in bash's `$'…'` quoting with those characters escaped, so that a
/// dry-run line neither rewrites the terminal nor spans lines, and still pastes as the same
/// argument.
pub fn shell_quote(arg: &str) -> String {
    use std::fmt::Write as _;
    let safe = !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if safe {
        return arg.to_string();
    }
    if !arg.chars().any(|c| c != '\t' && copili_model::escape::acts_on_terminal(c)) {
        return format!("'{}'", arg.replace('\'', r"'\''"));
    }
    let mut quoted = String::from("$'");
    for c in arg.chars() {
        let _ = match c {
            '\\' => write!(quoted, "\\\\"),
            '\'' => write!(quoted, "\\'"),
            '\n' => write!(quoted, "\\n"),
            '\t' => write!(quoted, "\\t"),
            c if copili_model::escape::acts_on_terminal(c) && (c as u32) < 0x80 => {
                write!(quoted, "\\x{:02x}", c as u32)
            }
            c if copili_model::escape::acts_on_terminal(c) => write!(quoted, "\\U{:08x}", c as u32),
            c => write!(quoted, "{c}"),
        };
    }
    quoted.push('\'');
    quoted
}

/// What a dry run answers: the output a successful command would give.
pub(super) fn dry_run_answer(args: &[String]) -> String {
    match args.first().map(String::as_str) {
        Some("create") => {
            args.iter().position(|argv| argv == "--name").and_then(|i| args.get(i + 1)).cloned().unwrap_or_default()
        }
        Some("wait") => "0".into(),
        Some("inspect") => "exited 0 false".into(),
        Some("version") => "dry-run".into(),
        _ => String::new(),
    }
}
