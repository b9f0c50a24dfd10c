//! `--only` and `--skip` with the name of a `matrix` description: every expansion of it.

use copili_model::Pipeline;

use crate::plan::Selection;

/// `selection` with each name of a `matrix` description (that is no container's name)
/// replaced by the names of its expansions, in file order.
pub(crate) fn expand_selection(pipeline: &Pipeline, selection: &Selection) -> Selection {
    let expand = |names: &[String]| -> Vec<String> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let is_container = pipeline.containers.iter().any(|c| c.name == *name);
            let expansions: Vec<String> = pipeline
                .containers
                .iter()
                .filter(|c| !is_container && c.matrix.as_ref().is_some_and(|m| m.base == *name))
                .map(|c| c.name.clone())
                .collect();
            if expansions.is_empty() {
                out.push(name.clone());
            } else {
                out.extend(expansions);
            }
        }
        out
    };
    Selection { only: expand(&selection.only), skip: expand(&selection.skip), ..selection.clone() }
}
