//! copili runs a pipeline of docker or podman containers in a coordinated way.
//!
//! This crate is the library facade over the format (`copili-model`) and the planner
//! (`copili-planner`), plus the renderers of the `copili` binary. A [`Pipeline`] is loaded
//! from a path, a string or a `serde_json::Value`; loading reports every problem of the file
//! and of its dependency graph at once, located.
//!
//! ```
//! use copili::{LoadOptions, Pipeline, Selection};
//!
//! let yaml = "nightly:\n  - name: load\n    image_repo: localhost/loader\n  - name: index\n    image_repo: localhost/indexer\n    dependencies: [load]\n";
//! let pipeline = Pipeline::from_str(yaml, &LoadOptions::default()).expect("valid");
//! let plan = pipeline.plan(&Selection::default()).expect("plannable");
//! assert_eq!(plan.levels, vec![vec![0], vec![1]]);
//! ```

pub mod exit_code;
pub mod export;
pub mod handlers;
pub mod render;
pub mod report;
pub mod run_files;
pub mod run_state;
pub mod service;
pub mod ui;

use std::path::Path;
use std::sync::Arc;

pub use copili_model as model;
pub use copili_model::{Diagnostic, Diagnostics, EnvFile, Input, LoadOptions};
pub use copili_planner as planner;
pub use copili_planner::{Plan, Selection};
pub use copili_runtime as runtime;
pub use copili_runtime::runner::{CancelToken, Finished, Hooks, NoHooks, Outcome, RunConfig, RunEvent, Status};
pub use copili_runtime::{CliEngine, Engine, EngineKind};

/// A validated pipeline: its description, and the identity it runs under.
#[derive(Debug, Clone)]
pub struct Pipeline {
    spec: model::Pipeline,
    identity: String,
}

impl Pipeline {
    /// Loads and validates a pipeline, its dependency graph included. On failure, every error
    /// (and warning) found, located.
    pub fn load(input: Input<'_>, options: &LoadOptions) -> Result<Pipeline, Diagnostics> {
        let mut draft = model::load_draft(input, options);
        if let Some(spec) = &draft.pipeline {
            draft.diagnostics.items.extend(planner::check(spec));
            // In reading order: problems of other files (`.env`) first, then by position.
            let main = Arc::clone(&spec.source);
            draft.diagnostics.items.sort_by_key(|d| {
                let in_main = d.source.as_ref().is_some_and(|s| Arc::ptr_eq(s, &main));
                (in_main, d.span.line, d.span.column)
            });
        }
        match draft.pipeline {
            Some(spec) if !draft.diagnostics.has_errors() => {
                let identity = spec.name.clone();
                Ok(Pipeline { spec, identity })
            }
            _ => Err(draft.diagnostics),
        }
    }

    /// Loads a YAML or JSON file.
    pub fn from_path(path: impl AsRef<Path>, options: &LoadOptions) -> Result<Pipeline, Diagnostics> {
        Pipeline::load(Input::File(path.as_ref()), options)
    }

    /// Loads a YAML or JSON string.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, options: &LoadOptions) -> Result<Pipeline, Diagnostics> {
        Pipeline::load(Input::Text(text), options)
    }

    /// Loads a value (the seed's "dict").
    pub fn from_value(value: &serde_json::Value, options: &LoadOptions) -> Result<Pipeline, Diagnostics> {
        Pipeline::load(Input::Value(value), options)
    }

    /// Runs under another identity than the file's top-level key (`--name`, like compose's
    /// project name), so that two files with the same key can run side by side.
    pub fn with_identity(mut self, identity: impl Into<String>) -> Pipeline {
        self.identity = identity.into();
        self
    }

    /// The identity engine-side names, labels, locks and state key on.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The description.
    pub fn spec(&self) -> &model::Pipeline {
        &self.spec
    }

    /// Warnings found while loading.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.spec.warnings
    }

    /// Plans a run with this selection.
    pub fn plan(&self, selection: &Selection) -> Result<Plan, Diagnostics> {
        planner::plan(&self.spec, selection)
    }

    /// Runs the selected containers once on `engine`, in dependency order, reporting through
    /// `on_event`; an outcome for every container of the pipeline, in file order. The identity
    /// in `config` names engine-side objects; set it from [`Pipeline::identity`].
    ///
    /// ```no_run
    /// use copili::{CancelToken, CliEngine, EngineKind, LoadOptions, Pipeline, RunConfig, Selection};
    ///
    /// let pipeline = Pipeline::from_path("pipeline.yaml", &LoadOptions::from_process()).expect("valid");
    /// let engine = CliEngine::find(EngineKind::Podman).expect("podman on PATH");
    /// let config = RunConfig {
    ///     identity: pipeline.identity().to_string(),
    ///     run_id: "example".into(),
    ///     jobs: 2,
    ///     fail_fast: false,
    ///     stop_timeout: std::time::Duration::from_secs(10),
    ///     global_env: Vec::new(),
    ///     global_labels: Vec::new(),
    ///     policies: Vec::new(),
    ///     images: Default::default(),
    ///     instance: None,
    ///     outputs_dir: None,
    /// };
    /// let outcomes = pipeline
    ///     .run(&engine, &Selection::default(), &config, &CancelToken::new(), &|event| println!("{event:?}"))
    ///     .expect("plannable");
    /// ```
    pub fn run(
        &self,
        engine: &dyn Engine,
        selection: &Selection,
        config: &RunConfig,
        cancel: &CancelToken,
        on_event: &(dyn Fn(RunEvent) + Sync),
    ) -> Result<Vec<Outcome>, Diagnostics> {
        let plan = self.plan(selection)?;
        Ok(copili_runtime::runner::run(engine, &self.spec, &plan, config, cancel, on_event))
    }

    /// [`Pipeline::run`] with [`Hooks`]: what ran before, when dependencies are met, and
    /// callbacks around pulls and runs (the seed's callbacks; see docs/hooks.md).
    pub fn run_with_hooks(
        &self,
        engine: &dyn Engine,
        selection: &Selection,
        config: &RunConfig,
        cancel: &CancelToken,
        hooks: &dyn Hooks,
        on_event: &(dyn Fn(RunEvent) + Sync),
    ) -> Result<Vec<Outcome>, Diagnostics> {
        let plan = self.plan(selection)?;
        Ok(copili_runtime::runner::run_with_hooks(engine, &self.spec, &plan, config, cancel, hooks, on_event))
    }

    /// The environment a run selects by default: `ENV` of the process environment given in
    /// `options`, else `ENV` of the `.env` file (as copili 1.4, which loaded `.env` into its
    /// environment).
    pub fn default_environment(&self, options: &LoadOptions) -> Option<String> {
        // `ENV=` (set but empty) selects no environment, as if unset.
        let non_empty = |v: &String| !v.is_empty();
        options
            .process_env
            .get("ENV")
            .filter(|v| non_empty(v))
            .cloned()
            .or_else(|| self.spec.dotenv_environment.clone().filter(non_empty))
    }
}
