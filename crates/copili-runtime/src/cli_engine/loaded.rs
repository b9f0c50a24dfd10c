//! What a `load` printed: the names of the images it loaded.

/// The names a `load` says it loaded: docker's `Loaded image: A` (one line each, or
/// `Loaded image ID: sha256:…` for an image without a name), podman's `Loaded image: A` or
/// `Loaded image(s): A,B`.
pub(super) fn loaded_names(out: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in out.lines() {
        let line = line.trim();
        let rest = line
            .strip_prefix("Loaded image(s):")
            .or_else(|| line.strip_prefix("Loaded image ID:"))
            .or_else(|| line.strip_prefix("Loaded image:"));
        if let Some(rest) = rest {
            names.extend(rest.split(',').map(str::trim).filter(|n| !n.is_empty()).map(String::from));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::loaded_names;

    #[test]
    fn the_names_a_load_says_it_loaded_on_either_client() {
        let docker = "Loaded image: 127.0.0.1:5858/copili/busybox:latest\nLoaded image: localhost/x:1\n";
        assert_eq!(loaded_names(docker), ["127.0.0.1:5858/copili/busybox:latest", "localhost/x:1"]);
        let podman = "Getting image source signatures\nLoaded image(s): localhost/a:1,localhost/b:2\n";
        assert_eq!(loaded_names(podman), ["localhost/a:1", "localhost/b:2"]);
        assert_eq!(loaded_names("Loaded image ID: sha256:abc\n"), ["sha256:abc"]);
    }
}
