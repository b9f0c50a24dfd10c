//! The Secrets the documents refer to: env values become keys of `<pipeline>-env`, registry
//! logins entries of the `<pipeline>-registry` docker config; only the manifest holds values.

use super::*;

impl ArgoExport {
    /// The Secrets of [`ArgoExport::secrets`] as `v1` `Secret` documents, **with their
    /// values**: `<pipeline>-env` (`Opaque`, the env values in `stringData`) and
    /// `<pipeline>-registry` (`kubernetes.io/dockerconfigjson`). Write them only where the
    /// user asked, to a file only they can read.
    pub fn secrets_manifest(&self) -> Vec<Value> {
        self.secrets
            .iter()
            .map(|secret| {
                let string_data: Map<String, Value> = if secret.kind == REGISTRY_SECRET_TYPE {
                    let mut auths = Map::new();
                    for login in &self.registry_logins {
                        let auth = base64(format!("{}:{}", login.username, login.password.expose()).as_bytes());
                        auths.insert(
                            login.server.clone(),
                            json!({"username": login.username, "password": login.password.expose(), "auth": auth}),
                        );
                    }
                    let config = json!({ "auths": auths }).to_string();
                    [(".dockerconfigjson".to_string(), Value::String(config))].into_iter().collect()
                } else {
                    self.env_values.iter().map(|(k, v)| (k.clone(), Value::String(v.expose().to_string()))).collect()
                };
                json!({
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": metadata(Some(("name", &secret.name)), self.namespace.as_deref(), &self.labels),
                    "type": secret.kind,
                    "stringData": string_data,
                })
            })
            .collect()
    }
}

pub(super) const ENV_SECRET_TYPE: &str = "Opaque";
pub(super) const REGISTRY_SECRET_TYPE: &str = "kubernetes.io/dockerconfigjson";

impl Builder<'_> {
    /// The Secret key of an env value: its name, unless that key already holds another value
    /// (then qualified by the template's name, then numbered).
    pub(super) fn env_key(&mut self, env_name: &str, value: &Secret, task: &str) -> String {
        let base = secret_key(env_name);
        let mut candidate = base.clone();
        let mut n = 1;
        loop {
            match self.env_keys.iter().find(|(k, _)| *k == candidate) {
                None => {
                    self.env_keys.push((candidate.clone(), value.clone()));
                    return candidate;
                }
                Some((_, existing)) if existing == value => return candidate,
                Some(_) => {
                    n += 1;
                    candidate = if n == 2 { secret_key(&format!("{task}.{env_name}")) } else { format!("{base}_{n}") };
                }
            }
        }
    }

    /// Records a container's registry login, if it has one; whether it has.
    pub(super) fn registry_login(&mut self, spec: &ContainerSpec) -> bool {
        if spec.image_reg_username.is_none() && spec.image_reg_password.is_none() {
            return false;
        }
        let registry = spec.registry();
        let server =
            if registry == "docker.io" { "https://index.docker.io/v1/".to_string() } else { registry.to_string() };
        let username = spec.image_reg_username.clone().unwrap_or_default();
        let password = spec.image_reg_password.clone().unwrap_or_default();
        match self.registry_logins.iter().find(|l| l.server == server) {
            Some(login) if login.username == username && login.password == password => {}
            Some(login) => {
                let first = login.container.clone();
                self.warnings.push(format!(
                    "`{}` and `{first}` log in to {registry} with different credentials: the registry Secret holds \
                     `{first}`'s",
                    spec.name
                ));
            }
            None => {
                self.registry_logins.push(RegistryLogin { server, username, password, container: spec.name.clone() })
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;
    use crate::Selection;

    #[test]
    fn every_env_value_becomes_a_secret_reference() {
        let yaml = "p:\n  - name: a\n    image_repo: x\n    env_vars: {PW: $DB_PASSWORD, LEVEL: info, URL: 'bolt://${OTHER}'}\n  - \
                    name: b\n    image_repo: x\n    env_vars: ['PW=${OTHER}', 'SAME=${DB_PASSWORD}', LEVEL=debug]\n    sidecars:\n      - \
                    {name: db, image_repo: y, env_vars: {PW: '${DB_PASSWORD}', LEVEL: trace, EMPTY: ''}}\n";
        let export = check(yaml);
        let workflow = &export.documents[0];
        let secret_ref = |key: &str| json!({"secretKeyRef": {"name": "p-env", "key": key}});
        assert_eq!(
            template(workflow, "a")["container"]["env"],
            json!([
                {"name": "PW", "valueFrom": secret_ref("PW")},
                {"name": "LEVEL", "valueFrom": secret_ref("LEVEL")},
                {"name": "URL", "valueFrom": secret_ref("URL")},
            ])
        );
        // `PW` and `LEVEL` of `b` hold other values: their own keys.
        assert_eq!(
            template(workflow, "b")["container"]["env"],
            json!([
                {"name": "PW", "valueFrom": secret_ref("b.PW")},
                {"name": "SAME", "valueFrom": secret_ref("SAME")},
                {"name": "LEVEL", "valueFrom": secret_ref("b.LEVEL")},
            ])
        );
        // The sidecar's `LEVEL` is a third value; `b.LEVEL` is taken: numbered.
        assert_eq!(
            template(workflow, "b")["sidecars"][0]["env"],
            json!([
                {"name": "PW", "valueFrom": secret_ref("PW")},
                {"name": "LEVEL", "valueFrom": secret_ref("LEVEL_3")},
                {"name": "EMPTY", "valueFrom": secret_ref("EMPTY")},
            ])
        );
        assert_eq!(
            export.secrets,
            vec![RequiredSecret {
                name: "p-env".into(),
                kind: "Opaque",
                keys: ["PW", "LEVEL", "URL", "b.PW", "SAME", "b.LEVEL", "LEVEL_3", "EMPTY"].map(String::from).to_vec(),
                registries: vec![],
            }]
        );
        let text = crate::export::to_yaml(&export.documents).expect("yaml");
        for value in [SECRET_VALUE, "other-value", "info", "debug", "trace"] {
            assert!(!text.contains(value), "`{value}` in the documents:\n{text}");
        }
        let manifest = export.secrets_manifest();
        assert_eq!(
            manifest[0]["stringData"],
            json!({"PW": SECRET_VALUE, "LEVEL": "info", "URL": "bolt://other-value", "b.PW": "other-value",
                   "SAME": SECRET_VALUE, "b.LEVEL": "debug", "LEVEL_3": "trace", "EMPTY": ""})
        );
        assert_eq!(manifest[0]["type"], "Opaque");
        assert_eq!(manifest[0]["metadata"]["name"], "p-env");
    }

    #[test]
    fn plain_env_writes_the_values_in_clear() {
        let yaml = "p:\n  - name: a\n    image_repo: x\n    env_vars: {PW: $DB_PASSWORD, LEVEL: info}\n    sidecars: \
                    [{name: s, image_repo: y, env_vars: [X=1]}]\n";
        let options = ArgoOptions { plain_env: true, ..ArgoOptions::default() };
        let export = export_with(yaml, &Selection::default(), &options).expect("exports");
        let a = template(&export.documents[0], "a");
        assert_eq!(
            a["container"]["env"],
            json!([{"name": "PW", "value": SECRET_VALUE}, {"name": "LEVEL", "value": "info"}])
        );
        assert_eq!(a["sidecars"][0]["env"], json!([{"name": "X", "value": "1"}]));
        assert!(export.secrets.is_empty(), "{:?}", export.secrets);
        assert!(export.secrets_manifest().is_empty());
    }

    #[test]
    fn registry_logins_become_an_image_pull_secret() {
        let export = check(
            "p:\n  - {name: a, image_repo: reg.example.com:5000/team/a, image_reg_username: bot, image_reg_password: \
             $REG_PASSWORD}\n  - {name: b, image_repo: library/b, sidecars: [{name: s, image_repo: redis, \
             image_reg_username: hub, image_reg_password: '${REG_PASSWORD}'}]}\n  - {name: c, image_repo: c, \
             image_reg_username: other, image_reg_password: x}\n",
        );
        let workflow = &export.documents[0];
        assert_eq!(workflow["spec"]["imagePullSecrets"], json!([{"name": "p-registry"}]));
        assert_eq!(
            export.secrets,
            vec![RequiredSecret {
                name: "p-registry".into(),
                kind: "kubernetes.io/dockerconfigjson",
                keys: vec![".dockerconfigjson".into()],
                registries: vec!["reg.example.com:5000".into(), "https://index.docker.io/v1/".into()],
            }]
        );
        assert!(
            export
                .warnings
                .iter()
                .any(|w| w
                    == "`c` and `s` log in to docker.io with different credentials: the registry Secret holds `s`'s"),
            "{:?}",
            export.warnings
        );
        let text = crate::export::to_yaml(&export.documents).expect("yaml");
        assert!(!text.contains(REGISTRY_PASSWORD), "{text}");
        let manifest = export.secrets_manifest();
        assert_eq!(manifest[0]["type"], "kubernetes.io/dockerconfigjson");
        let config: Value =
            serde_json::from_str(manifest[0]["stringData"][".dockerconfigjson"].as_str().expect("a string"))
                .expect("JSON");
        assert_eq!(
            config["auths"]["reg.example.com:5000"],
            json!({"username": "bot", "password": REGISTRY_PASSWORD, "auth": base64(format!("bot:{REGISTRY_PASSWORD}").as_bytes())})
        );
        assert_eq!(config["auths"]["https://index.docker.io/v1/"]["username"], "hub");
        // Without logins, no imagePullSecrets.
        let plain = check("p:\n  - {name: a, image_repo: x}\n");
        assert!(plain.documents[0]["spec"].get("imagePullSecrets").is_none());
    }
}
