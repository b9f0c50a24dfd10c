//! The seed's callbacks as [`copili::Hooks`]: a three-container pipeline run on the local
//! engine (podman, else docker), printing every hook call, skipping what a "registry of past
//! runs" says ran before, and holding `publish` back until `transform` printed enough.
//!
//! ```text
//! cargo run --example hooks                 # podman or docker, image localhost/copili-test:latest
//! COPILI_ENGINE=docker COPILI_EXAMPLE_IMAGE=busybox:latest cargo run --example hooks
//! cargo run --example hooks -- --skip extract   # `did_run` says `extract` ran before
//! ```

use std::sync::Mutex;
use std::time::Duration;

use copili::model::ContainerSpec;
use copili::{
    CancelToken, CliEngine, Engine as _, Finished, Hooks, LoadOptions, Outcome, Pipeline, RunConfig, Selection,
};

/// Prints every call; `did_run` answers from a list of containers that "ran before" (a real
/// program would ask its database, as the seed's users did).
struct PrintingHooks {
    ran_before: Vec<String>,
    calls: Mutex<Vec<String>>,
}

impl PrintingHooks {
    fn log(&self, line: String) {
        println!("hook: {line}");
        self.calls.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(line);
    }
}

impl Hooks for PrintingHooks {
    fn did_run(&self, container: &ContainerSpec) -> bool {
        let ran = self.ran_before.contains(&container.name);
        self.log(format!("did_run({}) -> {ran}", container.name));
        ran
    }

    fn before_pull(&self, image: &str, containers: &[&ContainerSpec]) {
        let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
        self.log(format!("before_pull({image}) for {}", names.join(", ")));
    }

    fn dependencies_met(
        &self,
        container: &ContainerSpec,
        finished: &Finished<'_>,
        default: Option<bool>,
    ) -> Option<bool> {
        // `publish` also needs `transform` to have run to completion, not only to have been
        // skipped as done before: a rule of this program, beyond the pipeline file's.
        if container.name == "publish" && default == Some(true) {
            let transform_ran = finished.outcome("transform").is_some_and(|o| o.attempts > 0);
            if !transform_ran {
                self.log("dependencies_met(publish) -> false: transform did not run in this run".into());
                return Some(false);
            }
        }
        default
    }

    fn before_run(&self, container: &ContainerSpec) {
        self.log(format!("before_run({})", container.name));
    }

    fn after_run(&self, container: &ContainerSpec, outcome: &Outcome) {
        self.log(format!("after_run({}) -> {} {:?}", container.name, outcome.status.as_str(), outcome.exit_code));
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let image = std::env::var("COPILI_EXAMPLE_IMAGE").unwrap_or_else(|_| "localhost/copili-test:latest".into());
    let yaml = format!(
        "hooks-example:
  - name: extract
    image_repo: {image}
    command: [echo, extracting]
  - name: transform
    image_repo: {image}
    dependencies: [extract]
    command: [echo, transforming]
  - name: publish
    image_repo: {image}
    dependencies: [transform]
    command: [echo, publishing]
"
    );
    let pipeline = Pipeline::from_str(&yaml, &LoadOptions::from_process()).map_err(|d| d.to_string())?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ran_before = match args.as_slice() {
        [flag, names] if flag == "--skip" => names.split(',').map(String::from).collect(),
        [] => Vec::new(),
        _ => return Err("usage: hooks [--skip NAME[,NAME]]".into()),
    };
    let engine = CliEngine::select(&std::env::var("COPILI_ENGINE").unwrap_or_else(|_| "auto".into()))?;
    engine.ping()?;
    let config = RunConfig {
        identity: pipeline.identity().to_string(),
        run_id: format!("hooks-example-{}", std::process::id()),
        jobs: 2,
        fail_fast: false,
        stop_timeout: Duration::from_secs(10),
        global_env: Vec::new(),
        global_labels: Vec::new(),
        policies: Vec::new(),
        images: Default::default(),
        instance: None,
        outputs_dir: None,
    };
    let hooks = PrintingHooks { ran_before, calls: Mutex::new(Vec::new()) };
    let outcomes = pipeline
        .run_with_hooks(&engine, &Selection::default(), &config, &CancelToken::new(), &hooks, &|event| {
            if let copili::RunEvent::Output { container, lines, .. } = event {
                for line in lines.lines() {
                    println!("{} | {line}", pipeline.spec().containers[container].name);
                }
            }
        })
        .map_err(|d| d.to_string())?;
    for (container, outcome) in pipeline.spec().containers.iter().zip(&outcomes) {
        // The reason is typed; the reporters' words say it as copili's own reports do.
        let reason = outcome.reason.as_ref().map_or_else(|| "-".to_string(), copili::report::words::reason);
        println!("{:<10} {:<10} {}", container.name, outcome.status.as_str(), reason);
    }
    Ok(())
}
