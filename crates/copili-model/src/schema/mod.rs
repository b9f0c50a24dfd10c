//! The JSON Schema of the pipeline format, for editors (yaml-language-server, VS Code) to
//! complete and check pipeline files as they are written.
//!
//! The schema is generated from [`PROPERTIES`], the table the loader reads too: names, aliases,
//! summaries, what is required and the kind of each value ([`ValueKind`]) come from there, so
//! the schema cannot drift from the loader. Only the shape of each kind is written here, after
//! the conversions of [`crate::load`](mod@crate::load), with the loader's own syntax constants
//! (names, tags, repositories, durations, forbidden characters). `docs/copili.schema.json` is
//! this schema written out; a test keeps it equal (`COPILI_BLESS=1 cargo test -p copili-model
//! schema` rewrites it), and `tests/schema_fixtures.rs` checks it against every fixture.
//!
//! Values may hold `${VAR}` references that copili expands before it validates, so wherever the
//! loader checks a pattern or a boolean, the schema also accepts any string with a `$`. The
//! schema checks what a document can hold without its variables; the loader remains the judge
//! (it also checks the dependency graph, rules across items and the variables' values).

use serde_json::{json, Map, Value};

use crate::load::{
    digest_syntax, duration_pattern, env_name_forbidden_class, path_forbidden_class, repository_syntax, DURATION_UNITS,
    MAX_CPUS, MAX_DURATION, MAX_NAME_LEN, MEMORY_UNITS, MIN_MEMORY, NAME_SYNTAX, PLACEMENT_SYNTAX,
    RESERVED_LABEL_PREFIX, TAG_SYNTAX,
};
use crate::options::{SIGNALS, ULIMIT_NAMES};
use crate::properties::{OnSidecar, ValueKind, PROPERTIES};
use crate::spec::ReadyCheck;

/// The schema's `$id`: where it is published, beside the repository.
pub const SCHEMA_ID: &str = concat!(env!("CARGO_PKG_REPOSITORY"), "/copili.schema.json");

/// The JSON Schema draft the schema follows (the newest that yaml-language-server fully supports).
pub const SCHEMA_DRAFT: &str = "http://json-schema.org/draft-07/schema#";

/// A value with a variable (`${VAR}` or `$VAR`, not escaped as `$$`), for booleans and enums
/// given by a variable. A `$` before anything else is kept as written (`a $ b`), so it is none.
const VARIABLE_PATTERN: &str = r"(?:^|[^$])(?:\$\$)*\$[A-Za-z_{]";

/// The JSON types the loader reads as text: a number or boolean is taken as written.
const TEXT_TYPES: [&str; 3] = ["string", "number", "boolean"];

mod patterns;
mod shapes;
#[cfg(test)]
mod tests;

use patterns::*;
use shapes::*;

/// The JSON Schema (draft-07) of a pipeline file: a mapping with one key, the pipeline's name,
/// holding the list of container descriptions.
pub fn json_schema() -> Value {
    json!({
        "$schema": SCHEMA_DRAFT,
        "$id": SCHEMA_ID,
        "title": "copili pipeline",
        "description": concat!(
            "A copili pipeline: a mapping with one key, the pipeline's name, holding the list of container ",
            "descriptions. Values may use `${VAR}` references to the environment and a `.env` file; `$$` is a ",
            "literal `$`, and a `$` before anything but a name, `{` or `$` is kept as written."
        ),
        "type": "object",
        "minProperties": 1,
        "maxProperties": 1,
        "propertyNames": {
            "description": "The pipeline's name.",
            "pattern": r"\S"
        },
        "additionalProperties": {
            "description": "The containers of the pipeline, in any order: dependencies decide the order of the runs.",
            "type": "array",
            "minItems": 1,
            "items": { "$ref": "#/definitions/container" }
        },
        "definitions": {
            "container": description_schema(Kind::Container),
            "sidecar": description_schema(Kind::Sidecar),
            "volume_binding": volume_binding(),
        }
    })
}

/// Which description a definition is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A container of the pipeline.
    Container,
    /// A helper container started with one of the pipeline (no `dependencies`, no `sidecars`).
    Sidecar,
}

/// The definition of a container or sidecar description: every property of the table and its
/// aliases, nothing else.
fn description_schema(kind: Kind) -> Value {
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut all_of = Vec::new();
    for property in PROPERTIES {
        let note = match (kind, property.on_sidecar) {
            (Kind::Sidecar, OnSidecar::Refused) => continue,
            (Kind::Sidecar, OnSidecar::NoEffect) => "No effect on a sidecar (accepted with a warning). ",
            _ => "",
        };
        let shape = match (kind, property.on_sidecar, property.value) {
            // The loader refuses `ready` on a container of the pipeline: it checks a sidecar.
            (Kind::Container, _, ValueKind::Ready) => json!({ "not": {} }),
            // The loader warns and does not read the value: any value is accepted.
            (Kind::Sidecar, OnSidecar::NoEffect, _) => json!({}),
            (_, _, value) => value_shape(value),
        };
        let description = format!("{note}{}", property.summary);
        properties.insert(property.name.to_string(), with_description(&shape, &description));
        for alias in property.aliases {
            let description = format!("{description} Alias of `{}`.", property.name);
            properties.insert(alias.to_string(), with_description(&shape, &description));
        }

        let spellings: Vec<&str> = std::iter::once(property.name).chain(property.aliases.iter().copied()).collect();
        if property.value == ValueKind::ImageRepo {
            // Required unless the image is built.
            let any: Vec<Value> = spellings.iter().chain(&["build"]).map(|s| json!({ "required": [s] })).collect();
            all_of.push(json!({ "anyOf": any }));
            // A repository that carries a tag or a digest leaves no place for `tag`.
            for spelling in &spellings {
                all_of.push(json!({
                    "if": {
                        "required": [spelling],
                        "properties": { *spelling: { "type": "string", "pattern": r"^[^$]*@|^[^$]*:[^/$]*$" } }
                    },
                    "then": { "not": { "required": ["tag"] } }
                }));
            }
        } else if property.required {
            if spellings.len() == 1 {
                required.push(property.name);
            } else {
                let any: Vec<Value> = spellings.iter().map(|s| json!({ "required": [s] })).collect();
                all_of.push(json!({ "anyOf": any }));
            }
        }
        // The loader refuses a property set under two spellings.
        for (i, first) in spellings.iter().enumerate() {
            for second in &spellings[i + 1..] {
                all_of.push(json!({ "not": { "required": [first, second] } }));
            }
        }
    }
    let description = match kind {
        Kind::Container => "A container description: which image to run, how, and after which other containers.",
        Kind::Sidecar => concat!(
            "A sidecar: a helper container started with its container and removed when that ends; ",
            "it cannot have `dependencies` or `sidecars`."
        ),
    };
    let mut schema = json!({
        "description": description,
        "type": "object",
        "required": required,
        "properties": properties,
        "additionalProperties": false,
    });
    if !all_of.is_empty() {
        if let Value::Object(map) = &mut schema {
            map.insert("allOf".into(), Value::Array(all_of));
        }
    }
    schema
}

/// A copy of `shape` with its description (plain and markdown: summaries hold backticks).
fn with_description(shape: &Value, description: &str) -> Value {
    let mut out = Map::new();
    out.insert("description".into(), Value::from(description));
    out.insert("markdownDescription".into(), Value::from(description));
    if let Value::Object(map) = shape {
        out.extend(map.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    Value::Object(out)
}
