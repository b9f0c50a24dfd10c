//! Registry logins: `--password-stdin` into a private directory of their own, removed after
//! the pull or build that needed it.

use std::path::PathBuf;

use crate::engine::{EngineError, RegistryAuth};

use super::{args, CliEngine, EngineKind};

impl CliEngine {
    /// Logs in to `auth.registry` with `--password-stdin`, into a new private directory that
    /// holds the credentials for one pull or build: podman's `--authfile`, docker's
    /// `DOCKER_CONFIG`. The user's own credential store is neither read nor changed.
    pub(crate) fn login(&self, auth: &RegistryAuth, tls_verify: bool) -> Result<AuthDir, EngineError> {
        let dir = if self.dry_run.is_some() {
            None
        } else {
            Some(private_dir("copili-auth-").map_err(|e| EngineError::NotFound {
                binary: self.display.clone(),
                reason: format!("cannot create a private directory for the registry credentials: {e}"),
            })?)
        };
        let path = dir.as_ref().map_or_else(|| PathBuf::from("<private temporary directory>"), |d| d.path().into());
        let auth_dir = AuthDir { path, _dir: dir, kind: self.kind };
        let mut argv = args(["login"]);
        if self.kind == EngineKind::Podman {
            argv.push("--authfile".into());
            argv.push(auth_dir.auth_file().display().to_string());
            if !tls_verify {
                argv.push("--tls-verify=false".into());
            }
        } else if auth_dir._dir.is_some() {
            // A config naming the registry already is a file store: docker then keeps the
            // credentials in it instead of looking for a system credential helper.
            let seed = docker_config_naming(&auth.registry);
            std::fs::write(auth_dir.path.join("config.json"), seed).map_err(|e| EngineError::NotFound {
                binary: self.display.clone(),
                reason: format!("cannot write the temporary docker config: {e}"),
            })?;
        }
        argv.extend(["--username".to_string(), auth.username.clone(), "--password-stdin".to_string()]);
        argv.push(auth.registry.clone());
        let env = auth_dir.env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.run_with_input(&argv, &env, auth.password.expose().as_bytes())?;
        Ok(auth_dir)
    }
}

/// The private directory holding a login's credentials, removed when this is dropped.
pub(crate) struct AuthDir {
    path: PathBuf,
    _dir: Option<tempfile::TempDir>,
    kind: EngineKind,
}

impl AuthDir {
    pub(crate) fn auth_file(&self) -> PathBuf {
        self.path.join("auth.json")
    }

    /// The arguments that make a podman command use it.
    pub(crate) fn args(&self) -> Vec<String> {
        match self.kind {
            EngineKind::Podman => vec!["--authfile".into(), self.auth_file().display().to_string()],
            EngineKind::Docker => Vec::new(),
        }
    }

    /// The environment that makes a docker command use it.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        match self.kind {
            EngineKind::Docker => vec![("DOCKER_CONFIG", self.path.display().to_string())],
            EngineKind::Podman => Vec::new(),
        }
    }
}

/// A docker config that names `registry` (`{"auths": {"REGISTRY": {}}}`), written by serde_json.
fn docker_config_naming(registry: &str) -> String {
    let mut auths = serde_json::Map::new();
    auths.insert(registry.to_string(), serde_json::json!({}));
    format!("{}\n", serde_json::json!({ "auths": auths }))
}

/// A new directory only this user can enter, removed when the guard is dropped.
pub(crate) fn private_dir(prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    builder.tempdir()
}

#[cfg(test)]
mod tests {
    use super::docker_config_naming;

    #[test]
    fn the_docker_config_names_the_registry_as_json() {
        for registry in ["127.0.0.1:5858", "reg\"istry\\x", "docker.io"] {
            let config: serde_json::Value =
                serde_json::from_str(&docker_config_naming(registry)).expect("the config is JSON");
            assert_eq!(config, serde_json::json!({ "auths": { registry: {} } }), "{registry}");
        }
    }
}
