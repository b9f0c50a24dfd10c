//! A value that must never be shown — registry passwords, container environment values, build
//! arguments — and where in a document such values are written ([`Secrecy`]).

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// A string whose `Debug` and `Display` print `****`. Read it with [`Secret::expose`], only
/// where the value is handed to an engine.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret(String);

/// Serialized as [`Secret::MASK`], never its value: a serialized description (the state's
/// hash of it) carries no secret.
impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(Secret::MASK)
    }
}

impl Secret {
    /// What every rendering of a secret shows.
    pub const MASK: &'static str = "****";

    /// Wraps a value so that `Debug` and `Display` show [`Secret::MASK`] instead of it.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value itself. Never print it, never put it on a command line.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Secret::MASK)
    }
}

/// Whether a node of a document is, or may be, a secret, judged from the keys above it.
///
/// Both document readers (YAML and JSON) carry it down as they read, so that every value in a
/// secret position is marked for masking where it is written — whatever else is wrong with it: a
/// duplicate key, a misspelt property, a wrong type. The loader's view of the document (which
/// keeps the first of two duplicates, and knows no misspelt property) cannot see all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Secrecy {
    /// Not a secret.
    #[default]
    Open,
    /// A mapping or list whose values are secrets (`env_vars`, build `args`): the values of a
    /// mapping and the items of a list, not the mapping's keys (variable names).
    Values,
    /// The node is a secret as a whole (`image_reg_password`, a value in `env_vars`).
    Secret,
}

impl Secrecy {
    /// The secrecy of the value under `key` in a mapping of this secrecy.
    pub fn of_value(self, key: &str) -> Secrecy {
        match self {
            Secrecy::Values | Secrecy::Secret => Secrecy::Secret,
            Secrecy::Open => secrecy_of_key(key),
        }
    }

    /// Whether a node of this secrecy is masked: a secret, or a scalar where values are
    /// secrets (`env_vars: hunter2`, a value where a mapping belongs).
    pub fn masks(self, node: &crate::document::Node) -> bool {
        match self {
            Secrecy::Secret => true,
            Secrecy::Values => matches!(node.value, crate::document::Value::Scalar { .. }),
            Secrecy::Open => false,
        }
    }

    /// The secrecy of an item of a list of this secrecy.
    pub fn of_item(self) -> Secrecy {
        match self {
            Secrecy::Open => Secrecy::Open,
            Secrecy::Values | Secrecy::Secret => Secrecy::Secret,
        }
    }

    /// The secrecy of a key of a mapping of this secrecy: names are shown, unless the whole
    /// mapping is a secret.
    pub fn of_key(self) -> Secrecy {
        match self {
            Secrecy::Secret => Secrecy::Secret,
            Secrecy::Open | Secrecy::Values => Secrecy::Open,
        }
    }
}

/// Properties whose value is a secret as a whole.
const SECRET_VALUE_KEYS: &[&str] = &["image_reg_password"];

/// Properties whose values are secrets: the environment and build arguments, with the
/// spellings people bring from compose and Dockerfiles.
const SECRET_VALUES_KEYS: &[&str] =
    &["env_vars", "args", "environment", "env", "envs", "build_args", "build-args", "buildargs", "arg"];

/// What the value under a key is, wherever the key stands: a known property by what it is, an
/// unknown key by what it may be — a near miss of a secret property (the one copili would
/// suggest), or a name that says it holds a password, a token or a secret.
pub fn secrecy_of_key(key: &str) -> Secrecy {
    static SAYS_SECRET: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(?i)passw(or)?d|secret|token|credential|api[_-]?key").expect("valid regex"));
    if SECRET_VALUE_KEYS.contains(&key) {
        return Secrecy::Secret;
    }
    if SECRET_VALUES_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
        return Secrecy::Values;
    }
    if crate::properties::lookup(key).is_some() {
        return Secrecy::Open;
    }
    if SAYS_SECRET.is_match(key) {
        return Secrecy::Secret;
    }
    // What copili would suggest for the unknown key, among every property and the secret
    // spellings above: a near miss of `image_reg_password` is masked, one of `image_repo` not.
    let candidates = crate::properties::all_spellings().chain(SECRET_VALUES_KEYS.iter().copied());
    match crate::properties::suggest(key, candidates) {
        Some(near) if near != key => secrecy_of_key(near),
        _ => Secrecy::Open,
    }
}

/// Whether a written value is nothing but variable references without defaults
/// (`${DB_PASSWORD}`): the secret is elsewhere, and showing the reference helps.
pub fn is_reference_only(text: &str) -> bool {
    static REFERENCES: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^(?:\$\{[A-Za-z_][A-Za-z0-9_]*(?::?\?[^}$]*)?\}|\$[A-Za-z_][A-Za-z0-9_]*)+$").expect("valid regex")
    });
    REFERENCES.is_match(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_renders_the_value() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?} {:?}", Some(&s)), "**** **** Some(****)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn secrecy_of_keys() {
        let secret = [
            "image_reg_password",
            "image_reg_pasword",
            "image_reg_passwd",
            "IMAGE_REG_PASSWORD",
            "db_password",
            "api_token",
            "image-reg-password",
        ];
        for key in secret {
            assert_eq!(secrecy_of_key(key), Secrecy::Secret, "{key}");
        }
        for key in
            ["env_vars", "env_var", "envvars", "env-vars", "ENV_VARS", "environment", "env", "args", "build_args"]
        {
            assert_eq!(secrecy_of_key(key), Secrecy::Values, "{key}");
        }
        // Known properties and the keys of their values are what they are.
        let open = [
            "image-repo",
            "image_rep",
            "imagerepo",
            "image_reg_user",
            "image_reg_username",
            "name",
            "image_repo",
            "command",
            "labels",
            "volumes",
            "bind",
            "mode",
            "context",
            "dockerfile",
            "target",
            "cpus",
            "memory",
            "limits",
            "reservations",
            "timeout",
            "interval",
            "sidecars",
            "exlude_in_env",
            "exclude_in_env",
            "dependencies",
            "ready",
            "build",
            "tag",
            "desc",
        ];
        for key in open {
            assert_eq!(secrecy_of_key(key), Secrecy::Open, "{key}");
        }
        assert_eq!(Secrecy::Values.of_value("X"), Secrecy::Secret);
        assert_eq!(Secrecy::Values.of_key(), Secrecy::Open);
        assert_eq!(Secrecy::Values.of_item(), Secrecy::Secret);
        assert_eq!(Secrecy::Open.of_item(), Secrecy::Open);
        assert!(is_reference_only("${DB_PASSWORD}") && is_reference_only("$A${B}"));
        assert!(!is_reference_only("${A:-x}") && !is_reference_only("x${A}"));
    }
}
