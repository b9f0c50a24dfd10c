//! The hash of a build's inputs, compared with the image's label before building again.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use copili_model::BuildSpec;
use sha2::Digest as _;

/// A hash of everything a build reads: the context's files (names, kinds, executable bits,
/// contents; `.git` left out), the Dockerfile, the target and the arguments. Equal hashes:
/// the build would produce the same image, so it is skipped.
pub fn build_hash(context: &Path, dockerfile: &Path, build: &BuildSpec) -> std::io::Result<String> {
    let mut hasher = sha2::Sha256::new();
    let field = |hasher: &mut sha2::Sha256, bytes: &[u8]| {
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    };
    field(&mut hasher, b"copili-build-1");
    field(&mut hasher, build.target.as_deref().unwrap_or("").as_bytes());
    for (name, value) in &build.args {
        field(&mut hasher, name.as_bytes());
        field(&mut hasher, value.expose().as_bytes());
    }
    // The Dockerfile by content and by place (it may live outside the context).
    field(&mut hasher, dockerfile.strip_prefix(context).unwrap_or(dockerfile).to_string_lossy().as_bytes());
    field(&mut hasher, &std::fs::read(dockerfile)?);
    let mut files = Vec::new();
    walk(context, context, &mut files)?;
    files.sort();
    let mut buffer = vec![0u8; 64 * 1024];
    for (relative, path) in files {
        let meta = std::fs::symlink_metadata(&path)?;
        field(&mut hasher, relative.as_bytes());
        if meta.file_type().is_symlink() {
            field(&mut hasher, b"link");
            field(&mut hasher, std::fs::read_link(&path)?.to_string_lossy().as_bytes());
        } else if meta.is_dir() {
            field(&mut hasher, b"dir");
        } else {
            #[cfg(unix)]
            let executable = {
                use std::os::unix::fs::PermissionsExt;
                meta.permissions().mode() & 0o111 != 0
            };
            #[cfg(not(unix))]
            let executable = false;
            field(&mut hasher, if executable { b"exec" } else { b"file" });
            hasher.update(meta.len().to_le_bytes());
            let mut file = std::fs::File::open(&path)?;
            loop {
                let n = file.read(&mut buffer)?;
                if n == 0 {
                    break;
                }
                hasher.update(&buffer[..n]);
            }
        }
    }
    let digest = hasher.finalize();
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name() == ".git" {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().into_owned();
        let is_dir = entry.file_type()?.is_dir();
        out.push((relative, path.clone()));
        if is_dir {
            walk(root, &path, out)?;
        }
    }
    Ok(())
}
