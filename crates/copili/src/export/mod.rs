//! Exports of a pipeline to other schedulers: [`argo`] writes Argo Workflows documents.
//!
//! Pure: a loaded [`Pipeline`](crate::Pipeline) and its [`Plan`](crate::Plan) in, documents
//! (`serde_json::Value`s) and warnings out; the binary writes them. This module also owns the
//! Kubernetes naming rules the documents must follow, and the one place YAML is written
//! ([`to_yaml`]): `serde_yaml` is archived, so it stays behind this module.

pub mod argo;

use std::collections::HashSet;

/// Why documents could not be rendered as YAML.
#[derive(Debug, thiserror::Error)]
#[error("cannot render the documents as YAML")]
pub struct YamlError(#[source] serde_yaml::Error);

/// Renders documents as one YAML stream, separated by `---` lines (what `kubectl apply -f`
/// and `argo submit` read). No documents: an empty string.
pub fn to_yaml(documents: &[serde_json::Value]) -> Result<String, YamlError> {
    let mut out = String::new();
    for (i, document) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_yaml::to_string(document).map_err(YamlError)?);
    }
    Ok(out)
}

/// The longest DNS-1123 label (Kubernetes object and container names, label name parts).
pub(crate) const DNS_LABEL_MAX: usize = 63;

/// `text` as a DNS-1123 label of at most `max_len` characters: lowercase, every run of other
/// characters than `a-z` and `0-9` as one `-`, no `-` at either end. Empty when nothing is
/// left (the caller picks a fallback).
pub(crate) fn dns_label(text: &str, max_len: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    truncate_label(&out, max_len)
}

/// `label` cut to at most `max_len` characters (ASCII), without a trailing `-`.
fn truncate_label(label: &str, max_len: usize) -> String {
    let cut = label.get(..max_len.min(label.len())).unwrap_or(label);
    cut.trim_end_matches('-').to_string()
}

/// Whether `text` is a DNS-1123 subdomain (PersistentVolumeClaim and Secret names): at most
/// 253 characters, dot-separated labels of `a-z`, `0-9` and `-`, each starting and ending
/// with a letter or digit.
pub(crate) fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253
        && text.split('.').all(|label| {
            let bytes = label.as_bytes();
            !bytes.is_empty()
                && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
                && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
                && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        })
}

/// Whether `text` is a DNS-1123 label (a namespace): a subdomain without dots, at most 63
/// characters.
pub(crate) fn is_dns_label(text: &str) -> bool {
    text.len() <= DNS_LABEL_MAX && !text.contains('.') && is_dns_subdomain(text)
}

/// `text` as a Kubernetes label value: at most 63 of `A-Z a-z 0-9 - _ .`, starting and
/// ending with a letter or digit (or empty). Each run of other characters becomes one `-`.
pub(crate) fn label_value(text: &str) -> String {
    let mut replaced = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
            replaced.push(c);
            in_run = false;
        } else if !in_run {
            // A run of other characters (`kg / nightly`) becomes one `-`.
            replaced.push('-');
            in_run = true;
        }
    }
    let trimmed = replaced.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    let cut = trimmed.get(..DNS_LABEL_MAX.min(trimmed.len())).unwrap_or(trimmed);
    cut.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()).to_string()
}

/// `text` as a Kubernetes label key, `[PREFIX/]NAME`: the prefix a DNS subdomain (lowercased,
/// other characters as `-`), the name a label value that is not empty. `None` when nothing
/// usable is left.
pub(crate) fn label_key(text: &str) -> Option<String> {
    let (prefix, name) = match text.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name.replace('/', "-")),
        None => (None, text.to_string()),
    };
    let name = label_value(&name);
    if name.is_empty() {
        return None;
    }
    match prefix {
        None => Some(name),
        Some(prefix) => {
            let labels: Vec<String> =
                prefix.split('.').map(|l| dns_label(l, DNS_LABEL_MAX)).filter(|l| !l.is_empty()).collect();
            let prefix = labels.join(".");
            if prefix.is_empty() || prefix.len() > 253 {
                Some(name)
            } else {
                Some(format!("{prefix}/{name}"))
            }
        }
    }
}

/// `text` as a key of a Secret's data: `A-Z a-z 0-9 - _ .`, other characters as `_`.
pub(crate) fn secret_key(text: &str) -> String {
    let key: String =
        text.chars().map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' }).collect();
    if key.is_empty() || key == "." || key == ".." {
        format!("_{key}")
    } else {
        key
    }
}

/// Hands out unique names, deterministically: the first claim of a name gets it, later ones
/// get `-2`, `-3`, … (cut so that the whole stays within the length limit).
#[derive(Debug, Default)]
pub(crate) struct UniqueNames {
    used: HashSet<String>,
}

impl UniqueNames {
    /// Names taken from the start (`main`, `pipeline`, …).
    pub(crate) fn reserving(names: &[&str]) -> UniqueNames {
        UniqueNames { used: names.iter().map(|n| n.to_string()).collect() }
    }

    /// `base` if free, else the first free `base-N`; at most `max_len` characters.
    pub(crate) fn claim(&mut self, base: &str, max_len: usize) -> String {
        let base = truncate_label(base, max_len);
        if self.used.insert(base.clone()) {
            return base;
        }
        let mut n = 2usize;
        loop {
            let suffix = format!("-{n}");
            let candidate = format!("{}{suffix}", truncate_label(&base, max_len.saturating_sub(suffix.len())));
            if self.used.insert(candidate.clone()) {
                return candidate;
            }
            n += 1;
        }
    }
}

/// Standard base64 (RFC 4648, with padding), for the `auth` field of a docker config.
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels() {
        assert_eq!(dns_label("dataloader_01", 63), "dataloader-01");
        assert_eq!(dns_label("ExmaplePipeline", 63), "exmaplepipeline");
        assert_eq!(dns_label("--a..b__c--", 63), "a-b-c");
        assert_eq!(dns_label("___", 63), "");
        assert_eq!(dns_label("abcdef-ghi", 7), "abcdef");
        assert_eq!(dns_label(&"x".repeat(80), 63).len(), 63);
    }

    #[test]
    fn unique_names_are_suffixed_in_claim_order() {
        let mut names = UniqueNames::reserving(&["main"]);
        assert_eq!(names.claim("main", 63), "main-2");
        assert_eq!(names.claim("a-b", 63), "a-b");
        assert_eq!(names.claim("a-b", 63), "a-b-2");
        assert_eq!(names.claim("a-b", 63), "a-b-3");
        let long = "y".repeat(63);
        assert_eq!(names.claim(&long, 63), long);
        assert_eq!(names.claim(&long, 63), format!("{}-2", "y".repeat(61)));
    }

    #[test]
    fn label_keys_and_values() {
        assert_eq!(label_value("kg / nightly"), "kg-nightly");
        assert_eq!(label_value("ok_1.2"), "ok_1.2");
        assert_eq!(label_value("!!"), "");
        assert_eq!(label_value(&"v".repeat(70)).len(), 63);
        assert_eq!(label_key("team").as_deref(), Some("team"));
        assert_eq!(label_key("cost center").as_deref(), Some("cost-center"));
        assert_eq!(label_key("Example.COM/owner").as_deref(), Some("example.com/owner"));
        assert_eq!(label_key("a/b/c").as_deref(), Some("a/b-c"));
        assert_eq!(label_key("%%"), None);
    }

    #[test]
    fn dns_subdomains_and_labels() {
        assert!(is_dns_subdomain("kg-data.v1"));
        assert!(!is_dns_subdomain("Kg"));
        assert!(!is_dns_subdomain("-a"));
        assert!(!is_dns_subdomain("a..b"));
        assert!(is_dns_label("argo"));
        assert!(!is_dns_label("a.b"));
    }

    #[test]
    fn secret_keys_keep_allowed_characters() {
        assert_eq!(secret_key("GC_NEO4J.PASSWORD-1"), "GC_NEO4J.PASSWORD-1");
        assert_eq!(secret_key("A B:C"), "A_B_C");
        assert_eq!(secret_key(".."), "_..");
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
    }

    #[test]
    fn yaml_stream_separates_documents() {
        let docs = [serde_json::json!({"a": 1, "b": "0 0 * * *"}), serde_json::json!({"c": [true]})];
        assert_eq!(to_yaml(&docs).expect("renders"), "a: 1\nb: 0 0 * * *\n---\nc:\n- true\n");
    }
}
