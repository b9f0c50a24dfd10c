//! `run_on:` of a handler: `failure`, `success` or `always`.

use super::*;

impl Loader {
    /// The value of `run_on`, or a located error (with the closest spelling) and `None`.
    pub(super) fn run_on(&mut self, value: &Node, at: At<'_>) -> Option<RunOn> {
        let text = self.text(value, at, false)?;
        if let Some(run_on) = RunOn::parse(&text) {
            return Some(run_on);
        }
        let known = RunOn::ALL.map(|(name, _)| name);
        let help = match properties::suggest(&text, known) {
            Some(close) => format!("did you mean `{close}`?"),
            None => "a handler runs on `failure` of the run, on `success`, or `always`".into(),
        };
        self.error(
            format!("invalid `run_on` value `{text}`: expected `failure`, `success` or `always`"),
            value.span,
            Some(at),
        )
        .help = Some(help);
        None
    }
}
