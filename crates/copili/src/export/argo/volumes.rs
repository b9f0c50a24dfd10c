//! The workflow's volumes: host paths, named volumes and `--volume-map` claims, each created
//! on first use and shared by the templates that mount it.

use super::*;

impl Builder<'_> {
    /// The volume a mount source uses (created on first use), and the mount's `subPath`.
    pub(super) fn volume(&mut self, source: &VolumeSource, owner: &str) -> (usize, Option<String>) {
        let (key, sub_path, base_name) = match source {
            VolumeSource::Named(name) => {
                let claim = match dns_label(name, DNS_LABEL_MAX) {
                    claim if claim.is_empty() => "volume".to_string(),
                    claim => claim,
                };
                if claim != *name && !self.volumes.iter().any(|v| v.key == VolumeKey::Claim(claim.clone())) {
                    self.warnings
                        .push(format!("the named volume `{name}` becomes the PersistentVolumeClaim `{claim}`"));
                }
                (VolumeKey::Claim(claim.clone()), None, claim)
            }
            VolumeSource::HostPath { resolved, .. } => match self.mapped(resolved) {
                Some((claim, sub_path)) => (VolumeKey::Claim(claim.clone()), sub_path, claim),
                None => {
                    let base = resolved.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    let name = dns_label(&format!("host-{base}"), DNS_LABEL_MAX);
                    (VolumeKey::Host(resolved.clone()), None, name)
                }
            },
        };
        if let Some(index) = self.volumes.iter().position(|v| v.key == key) {
            return (index, sub_path);
        }
        let name = self.volume_names.claim(&base_name, DNS_LABEL_MAX);
        let entry = match &key {
            VolumeKey::Claim(claim) => json!({ "name": name, "persistentVolumeClaim": { "claimName": claim } }),
            VolumeKey::Host(path) => {
                self.warnings.push(format!(
                    "{owner} mounts the host path {}: a hostPath volume is that directory on whichever node runs \
                     the pod; map it to a PersistentVolumeClaim with --volume-map",
                    path.display()
                ));
                json!({ "name": name, "hostPath": { "path": path.display().to_string() } })
            }
        };
        self.volumes.push(PodVolume { key, entry });
        (self.volumes.len() - 1, sub_path)
    }

    /// The claim a host path is mapped to by `--volume-map` (the longest matching entry), and
    /// the `subPath` below it.
    pub(super) fn mapped(&mut self, path: &Path) -> Option<(String, Option<String>)> {
        let (index, (host, claim)) = self
            .volume_map
            .iter()
            .enumerate()
            .filter(|(_, (host, _))| path.starts_with(host))
            .max_by_key(|(_, (host, _))| host.components().count())?;
        if let Some(used) = self.volume_map_used.get_mut(index) {
            *used = true;
        }
        let rest = path.strip_prefix(host).ok()?;
        let sub_path: Vec<String> = rest.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        Some((claim.clone(), (!sub_path.is_empty()).then(|| sub_path.join("/"))))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::*;
    use super::*;
    use crate::Selection;

    #[test]
    fn volumes_host_paths_named_volumes_and_claims() {
        let yaml = "p:\n  - name: a\n    image_repo: x\n    volumes: [/srv/data/genes:/data:ro, pg_data:/pg, \
                    /srv/data:/all, /opt/cache:/cache]\n  - name: b\n    image_repo: x\n    volumes: \
                    ['/opt/cache:/c']\n";
        let export = check(yaml);
        let workflow = &export.documents[0];
        assert_eq!(
            workflow["spec"]["volumes"],
            json!([
                {"name": "host-genes", "hostPath": {"path": "/srv/data/genes"}},
                {"name": "pg-data", "persistentVolumeClaim": {"claimName": "pg-data"}},
                {"name": "host-data", "hostPath": {"path": "/srv/data"}},
                {"name": "host-cache", "hostPath": {"path": "/opt/cache"}},
            ])
        );
        assert_eq!(
            template(workflow, "a")["container"]["volumeMounts"],
            json!([
                {"name": "host-genes", "mountPath": "/data", "readOnly": true},
                {"name": "pg-data", "mountPath": "/pg"},
                {"name": "host-data", "mountPath": "/all"},
                {"name": "host-cache", "mountPath": "/cache"},
            ])
        );
        assert_eq!(
            template(workflow, "b")["container"]["volumeMounts"],
            json!([{"name": "host-cache", "mountPath": "/c"}])
        );
        assert!(export
            .warnings
            .contains(&"the named volume `pg_data` becomes the PersistentVolumeClaim `pg-data`".to_string()));
        assert!(export.warnings.iter().any(|w| w.starts_with("`a` mounts the host path /srv/data/genes: a hostPath")));

        let options = ArgoOptions {
            volume_map: vec![
                (PathBuf::from("/srv/data"), "kg-data".into()),
                (PathBuf::from("/srv/data/genes"), "genes".into()),
                (PathBuf::from("/unused"), "nothing".into()),
            ],
            ..ArgoOptions::default()
        };
        let export = export_with(yaml, &Selection::default(), &options).expect("exports");
        let workflow = &export.documents[0];
        assert_eq!(
            workflow["spec"]["volumes"],
            json!([
                {"name": "genes", "persistentVolumeClaim": {"claimName": "genes"}},
                {"name": "pg-data", "persistentVolumeClaim": {"claimName": "pg-data"}},
                {"name": "kg-data", "persistentVolumeClaim": {"claimName": "kg-data"}},
                {"name": "host-cache", "hostPath": {"path": "/opt/cache"}},
            ])
        );
        let export2 = export_with(
            "p:\n  - {name: a, image_repo: x, volumes: [/srv/data/genes/v2:/g]}\n",
            &Selection::default(),
            &ArgoOptions { volume_map: vec![(PathBuf::from("/srv/data"), "kg-data".into())], ..ArgoOptions::default() },
        )
        .expect("exports");
        assert_eq!(
            template(&export2.documents[0], "a")["container"]["volumeMounts"],
            json!([{"name": "kg-data", "mountPath": "/g", "subPath": "genes/v2"}])
        );
        assert!(export
            .warnings
            .contains(&"--volume-map /unused=nothing: no exported mount is at or below that path".to_string()));
    }
}
