//! [`Engine`] for the CLI clients: each call one client invocation.

use std::time::Duration;

use crate::engine::{
    BuildRequest, ContainerStatus, CreateRequest, Engine, EngineError, ExitStatus, ImageIdentity, LogLine, LogLines,
    PullRequest,
};
use crate::reason::{BuildError, PullError};

use super::attached::Attached;
use super::auth::AuthDir;
use super::classify::{self, is_no_such_image, is_no_such_network};
use super::{args, tail, CliEngine, DryRunSink, EngineKind};

impl Engine for CliEngine {
    fn name(&self) -> &str {
        &self.display
    }

    fn ping(&self) -> Result<String, EngineError> {
        let format = match self.kind {
            EngineKind::Docker => "{{.Server.Version}}",
            EngineKind::Podman => "{{.Client.Version}}",
        };
        let out = self.run(&args(["version", "--format", format]))?;
        Ok(out.trim().to_string())
    }

    /// Environment values go into a 0600 file in a private temporary directory
    /// (`--env-file`), removed as soon as the container is created; a value with a line break,
    /// which env files cannot hold, goes into the client's own environment with only its name
    /// on the command line (`--env NAME`). Either way no value is ever in `ps`.
    fn create(&self, request: &CreateRequest) -> Result<String, EngineError> {
        let prepared = self.prepare("create", request)?;
        let client_env = prepared.client_env();
        let out = self.run_with_env(&prepared.args, &client_env)?;
        let id = out.lines().last().unwrap_or("").trim().to_string();
        if id.is_empty() {
            return Err(EngineError::UnexpectedOutput { command: self.render(&prepared.args), output: out });
        }
        // A container that could not join its networks is removed here: the caller never
        // learns its id, and a container created ahead of its start must leave nothing behind.
        if let Err(e) = self.connect(&id, &prepared) {
            let _ = self.remove(&id);
            return Err(e);
        }
        Ok(id)
    }

    /// `run` attached: one client process creates, starts and streams the container, as
    /// `ENGINE run --rm` would, so a chain of containers costs about what the engine itself
    /// costs. A container that joins several networks is created, connected, then started
    /// attached. The exit status is read as for [`Engine::start_attached`].
    fn run_attached(
        &self,
        request: &CreateRequest,
        on_output: &mut dyn FnMut(LogLines),
    ) -> Result<ExitStatus, EngineError> {
        let prepared = self.prepare("run", request)?;
        if !prepared.connect.is_empty() {
            drop(prepared);
            self.create(request)?;
            return self.start_attached(&request.name, on_output);
        }
        let client_env = prepared.client_env();
        self.attached(Attached::Run, &prepared.args, &client_env, &request.name, on_output)
    }

    /// `start --attach` streams the output and exits with the container's code, as `run`
    /// does.
    fn start_attached(&self, name: &str, on_output: &mut dyn FnMut(LogLines)) -> Result<ExitStatus, EngineError> {
        self.attached(Attached::StartAttach, &args(["start", "--attach", name]), &[], name, on_output)
    }

    /// Created ahead, a container's `create` is off the critical path; not in a dry run, which
    /// shows one `run` per container, in the order a run starts them.
    fn creates_ahead(&self) -> bool {
        self.dry_run.is_none()
    }

    /// On podman `init` too: a third of a short container's `run` (storage, network, the
    /// runtime's `create`) done while its dependency still runs; its command starts only with
    /// `start`. docker has no such step.
    fn create_ahead(&self, request: &CreateRequest) -> Result<String, EngineError> {
        let id = self.create(request)?;
        if self.kind == EngineKind::Podman {
            if let Err(e) = self.retrying_netns_race(|| self.run(&args(["init", &id])).map(|_| ())) {
                let _ = self.remove(&id);
                return Err(e);
            }
        }
        Ok(id)
    }

    fn start(&self, id: &str) -> Result<(), EngineError> {
        self.retrying_netns_race(|| self.run(&args(["start", id])).map(|_| ()))
    }

    fn follow_logs(&self, id: &str, on_output: &mut dyn FnMut(LogLines)) -> Result<(), EngineError> {
        self.follow_logs_until_removed(id, on_output, &|| false)
    }

    fn follow_logs_until_removed(
        &self,
        id: &str,
        on_output: &mut dyn FnMut(LogLines),
        removed: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), EngineError> {
        self.follow_until_removed(&args(["logs", "--follow", id]), on_output, removed)
    }

    fn wait(&self, id: &str) -> Result<ExitStatus, EngineError> {
        // podman polls the container's state, every 250 ms unless told otherwise: a quarter of
        // a second lost per container of a chain.
        let argv = match self.kind {
            EngineKind::Podman => args(["wait", "--interval", "20ms", id]),
            EngineKind::Docker => args(["wait", id]),
        };
        // As long as the container runs: not bounded by the engine's timeout.
        let out = self.run_bounded(&argv, &[], None)?;
        let code = out
            .lines()
            .rev()
            .find_map(|l| l.trim().parse::<i32>().ok())
            .ok_or_else(|| EngineError::UnexpectedOutput { command: self.render(&argv), output: out.clone() })?;
        // Only a killed container can have been killed by the OOM killer: ask only then.
        let oom_killed = code == 137 && self.inspect(id).ok().and_then(|s| s.exit).is_some_and(|e| e.oom_killed);
        Ok(ExitStatus { code, oom_killed })
    }

    fn inspect(&self, id: &str) -> Result<ContainerStatus, EngineError> {
        let argv = args(["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}", id]);
        let out = self.run(&argv)?;
        let fields: Vec<&str> = out.split_whitespace().collect();
        let [state, code, oom] = fields.as_slice() else {
            return Err(EngineError::UnexpectedOutput { command: self.render(&argv), output: out.clone() });
        };
        let state = state.to_string();
        let exit = if state == "exited" || state == "stopped" {
            let code = code
                .parse::<i32>()
                .map_err(|_| EngineError::UnexpectedOutput { command: self.render(&argv), output: out.clone() })?;
            Some(ExitStatus { code, oom_killed: *oom == "true" })
        } else {
            None
        };
        Ok(ContainerStatus { state, exit })
    }

    fn stop(&self, id: &str, grace: Duration) -> Result<(), EngineError> {
        let seconds = crate::shared_argv::whole_seconds(grace);
        let argv = args(["stop", "--time", &seconds.to_string(), id]);
        self.run_bounded(&argv, &[], Some(self.stop_bound(grace))).map(|_| ())
    }

    /// podman's `rm` and `start` take its storage lock; on docker, each `rm` beside a start is
    /// one more client process on the same CPUs (a chain of ten short containers: 1.08 × the
    /// raw `run --rm` sequence with a removal beside every start, 1.02 × batched).
    fn removal_contends_with_start(&self) -> bool {
        true
    }

    fn remove_all(&self, ids: &[String]) -> Result<(), EngineError> {
        if ids.is_empty() {
            return Ok(());
        }
        // podman 4.3's `rm --force` removes none of the containers named, and still exits 0,
        // when one of them is already gone; `--ignore` makes it remove the others.
        let mut argv = match self.kind {
            EngineKind::Podman => args(["rm", "--force", "--ignore", "--time", "0", "--volumes"]),
            EngineKind::Docker => args(["rm", "--force", "--volumes"]),
        };
        argv.extend(ids.iter().cloned());
        self.run(&argv).map(|_| ())
    }

    fn remove(&self, id: &str) -> Result<(), EngineError> {
        // `--volumes`: anonymous volumes of the image go with the container. podman's
        // `rm --force` would first wait out the stop timeout of a PID 1 that ignores SIGTERM
        // (a shell, httpd); the stop with its grace period comes before this when wanted.
        let argv = match self.kind {
            EngineKind::Podman => args(["rm", "--force", "--ignore", "--time", "0", "--volumes", id]),
            EngineKind::Docker => args(["rm", "--force", "--volumes", id]),
        };
        self.run(&argv).map(|_| ())
    }

    fn exec(&self, id: &str, command: &[String]) -> Result<i32, EngineError> {
        let mut argv = args(["exec", id]);
        argv.extend(command.iter().cloned());
        if self.dry_run.is_some() {
            return self.run(&argv).map(|_| 0);
        }
        let output = self.spawn_captured(&argv, &[], None, Some(self.timeout))?;
        output.status.code().ok_or_else(|| EngineError::Failed {
            command: self.render(&argv),
            code: None,
            stderr: tail(&output.stderr),
        })
    }

    fn network_create(&self, name: &str, labels: &[(String, String)]) -> Result<(), EngineError> {
        let mut argv = args(["network", "create"]);
        for (key, value) in labels {
            argv.push("--label".into());
            argv.push(format!("{key}={value}"));
        }
        argv.push(name.to_string());
        self.retrying_netns_race(|| self.run(&argv).map(|_| ()))
    }

    fn network_exists(&self, name: &str) -> Result<bool, EngineError> {
        match self.run(&args(["network", "inspect", "--format", "{{.Name}}", name])) {
            Ok(_) => Ok(true),
            Err(EngineError::Failed { stderr, .. }) if is_no_such_network(&stderr) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn network_remove(&self, name: &str) -> Result<(), EngineError> {
        self.run(&args(["network", "rm", name])).map(|_| ())
    }

    fn containers_with_labels(&self, labels: &[(String, String)]) -> Result<Vec<String>, EngineError> {
        let mut argv = args(["ps", "--all", "--format", "{{.Names}}"]);
        argv.extend(Self::label_filters(labels));
        Ok(self.run(&argv)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
    }

    fn networks_with_labels(&self, labels: &[(String, String)]) -> Result<Vec<String>, EngineError> {
        let mut argv = args(["network", "ls", "--format", "{{.Name}}"]);
        argv.extend(Self::label_filters(labels));
        Ok(self.run(&argv)?.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
    }

    fn pull(
        &self,
        request: &PullRequest,
        on_line: &mut dyn FnMut(LogLine),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), PullError> {
        self.image_ids.forget(&request.image);
        let had_credentials = request.auth.is_some();
        let classified = |error: EngineError| PullError { kind: classify::classify(&error, had_credentials), error };
        let auth =
            request.auth.as_ref().map(|auth| self.login(auth, request.tls_verify)).transpose().map_err(classified)?;
        let mut argv = args(["pull"]);
        if let Some(auth) = &auth {
            argv.extend(auth.args());
        }
        if self.kind == EngineKind::Podman && !request.tls_verify {
            argv.push("--tls-verify=false".into());
        }
        argv.push(request.image.clone());
        let env = auth.as_ref().map(AuthDir::env).unwrap_or_default();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.stream_to_end(&argv, &env, on_line, cancelled).map_err(classified)
    }

    /// Build arguments go by name (`--build-arg NAME`): the client reads their values from its
    /// environment, so they are never on a command line.
    fn build(
        &self,
        request: &BuildRequest,
        on_line: &mut dyn FnMut(LogLine),
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), BuildError> {
        self.image_ids.forget(&request.image);
        let auth = request
            .auth
            .as_ref()
            .map(|auth| self.login(auth, request.tls_verify))
            .transpose()
            .map_err(|error| BuildError::Login(PullError { kind: classify::classify(&error, true), error }))?;
        let mut argv = args(["build", "--tag", &request.image]);
        if let Some(file) = &request.dockerfile {
            argv.push("--file".into());
            argv.push(file.display().to_string());
        }
        if let Some(target) = &request.target {
            argv.push("--target".into());
            argv.push(target.clone());
        }
        for (name, _) in &request.args {
            argv.push("--build-arg".into());
            argv.push(name.clone());
        }
        for (key, value) in &request.labels {
            argv.push("--label".into());
            argv.push(format!("{key}={value}"));
        }
        if request.pull {
            argv.push(if self.kind == EngineKind::Podman { "--pull=always" } else { "--pull" }.into());
        }
        if let Some(auth) = &auth {
            argv.extend(auth.args());
        }
        if self.kind == EngineKind::Podman && !request.tls_verify {
            argv.push("--tls-verify=false".into());
        }
        argv.push(request.context.display().to_string());
        let mut env: Vec<(String, String)> =
            auth.as_ref().map(AuthDir::env).unwrap_or_default().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        env.extend(request.args.iter().map(|(k, v)| (k.clone(), v.expose().to_string())));
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Ok(self.stream_to_end(&argv, &env, on_line, cancelled)?)
    }

    fn image_label(&self, image: &str, key: &str) -> Result<Option<String>, EngineError> {
        let template = format!("{{{{index .Config.Labels \"{key}\"}}}}");
        let argv = args(["image", "inspect", "--format", &template, image]);
        if self.dry_run.is_some() {
            self.run(&argv)?;
            return Ok(None);
        }
        match self.run(&argv) {
            Ok(out) => {
                let value = out.trim();
                Ok((!value.is_empty() && value != "<no value>").then(|| value.to_string()))
            }
            Err(EngineError::Failed { code: Some(_), stderr, .. }) if is_no_such_image(&stderr) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        if self.dry_run.is_some() {
            return Ok(None);
        }
        if let Some(id) = self.image_ids.get(image) {
            return Ok(Some(id));
        }
        Ok(self.inspect_image_id(image)?.filter(|id| !id.is_empty()))
    }

    /// `image inspect` of the id, the registry digests and the size; the id with its
    /// `sha256:` prefix on both clients (podman prints it without).
    fn image_identity(&self, image: &str) -> Result<Option<ImageIdentity>, EngineError> {
        let argv = args(["image", "inspect", "--format", "{{.Id}} {{json .RepoDigests}} {{.Size}}", image]);
        if self.dry_run.is_some() {
            self.run(&argv)?;
            return Ok(None);
        }
        let out = match self.run(&argv) {
            Ok(out) => out,
            Err(EngineError::Failed { code: Some(_), stderr, .. }) if is_no_such_image(&stderr) => return Ok(None),
            // podman's `image inspect` of an absent image exits 125 saying "image not known".
            Err(e) => return Err(e),
        };
        let unexpected = || EngineError::UnexpectedOutput { command: self.render(&argv), output: out.clone() };
        let line = out.lines().find(|l| !l.trim().is_empty()).ok_or_else(unexpected)?;
        let mut fields = line.trim().splitn(2, ' ');
        let id = fields.next().filter(|id| !id.is_empty()).ok_or_else(unexpected)?;
        let rest = fields.next().unwrap_or("");
        let (digests, size) = rest.rsplit_once(' ').unwrap_or((rest, ""));
        let repo_digests: Vec<String> =
            serde_json::from_str::<Option<Vec<String>>>(digests).map_err(|_| unexpected())?.unwrap_or_default();
        let id = if id.starts_with("sha256:") { id.to_string() } else { format!("sha256:{id}") };
        Ok(Some(ImageIdentity { id, repo_digests, size: size.trim().parse().unwrap_or(0) }))
    }

    /// `save -o ARCHIVE IMAGE…`; podman with `--multi-image-archive` (else it takes one image).
    /// As long as the transfer: not bounded by the engine's timeout, but stopped (its process
    /// group killed) when `cancelled` turns true: docker's `save` does not stop on SIGINT.
    fn save_images(
        &self,
        images: &[String],
        archive: &std::path::Path,
        cancelled: &(dyn Fn() -> bool + Sync),
    ) -> Result<(), EngineError> {
        let mut argv = args(["save", "--output", &archive.display().to_string()]);
        if self.kind == EngineKind::Podman {
            argv.extend(args(["--format", "docker-archive", "--multi-image-archive"]));
        }
        argv.extend(images.iter().cloned());
        self.stream_to_end(&argv, &[], &mut |_| {}, cancelled)
    }

    /// `load --input ARCHIVE`; the names from its `Loaded image: NAME` lines (podman also says
    /// `Loaded image(s): A,B`). As long as the transfer: not bounded by the engine's timeout.
    fn load_images(&self, archive: &std::path::Path) -> Result<Vec<String>, EngineError> {
        let argv = args(["load", "--input", &archive.display().to_string()]);
        let out = self.run_bounded(&argv, &[], None)?;
        Ok(super::loaded::loaded_names(&out))
    }

    fn is_dry_run(&self) -> bool {
        self.dry_run.is_some()
    }

    fn killed_calls(&self) -> Vec<EngineError> {
        std::mem::take(&mut *self.killed.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn pipeline_identities(&self) -> Result<Vec<String>, EngineError> {
        let any = vec![(crate::runner::PIPELINE_LABEL.to_string(), String::new())];
        let mut identities = self.container_labels(&any, crate::runner::PIPELINE_LABEL)?;
        identities.extend(self.network_labels(&any, crate::runner::PIPELINE_LABEL)?);
        identities.sort();
        identities.dedup();
        Ok(identities)
    }

    fn show_instead_of_running(&self, command_line: &str) -> bool {
        match &self.dry_run {
            Some(DryRunSink(sink)) => {
                sink(command_line.to_string());
                true
            }
            None => false,
        }
    }

    /// podman 4 fails the whole listing when an image disappears while it lists (another
    /// process removing one): tried up to three times.
    fn local_images(&self) -> Result<Vec<String>, EngineError> {
        let argv = args(["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        let mut attempt = 0;
        let out = loop {
            attempt += 1;
            match self.run(&argv) {
                Ok(out) => break out,
                Err(EngineError::Failed { stderr, .. }) if attempt < 3 && is_no_such_image(&stderr) => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(e),
            }
        };
        Ok(out.lines().map(str::trim).filter(|l| !l.is_empty() && !l.contains("<none>")).map(String::from).collect())
    }

    /// One `image inspect --format {{.Id}}` on both engines (podman's `image exists` would
    /// answer only this question, and the run asks for the id next, for the state).
    fn image_present(&self, image: &str) -> Result<bool, EngineError> {
        // A dry run shows the check and goes on as if the image were absent, so that the pull
        // (or build) it would need is shown too.
        if self.dry_run.is_some() {
            self.run(&Self::image_id_argv(image))?;
            return Ok(false);
        }
        Ok(self.inspect_image_id(image)?.is_some())
    }
}

impl CliEngine {
    fn image_id_argv(image: &str) -> Vec<String> {
        args(["image", "inspect", "--format", "{{.Id}}", image])
    }

    /// The image's id (empty if the engine printed none: the image is there all the same),
    /// `None` when the engine has no such image (podman: exit 125 and "image not known";
    /// docker: "No such image"); remembered for [`Engine::image_id`].
    fn inspect_image_id(&self, image: &str) -> Result<Option<String>, EngineError> {
        self.image_ids.forget(image);
        match self.run(&Self::image_id_argv(image)) {
            Ok(out) => {
                let id = out.lines().next().map(str::trim).unwrap_or_default().to_string();
                if !id.is_empty() {
                    self.image_ids.insert(image, id.clone());
                }
                Ok(Some(id))
            }
            Err(EngineError::Failed { code: Some(_), stderr, .. }) if is_no_such_image(&stderr) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
