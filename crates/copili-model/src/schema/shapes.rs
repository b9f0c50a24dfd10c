//! The shape of each kind of value ([`ValueKind`]): what the loader's conversion of that kind
//! accepts, as JSON Schema.

use super::*;

/// The shape of a value of each kind, as the loader's conversion accepts it (one match arm
/// per kind, so that a new kind cannot be without a shape).
///
/// The loader reads any scalar where it expects text (`tag: 1.0` is the tag `1.0`, `desc: true`
/// the text `true`), so text accepts numbers and booleans; `null` stands for "none" in lists
/// and mappings.
pub(super) fn value_shape(kind: ValueKind) -> Value {
    let text = json!({ "type": TEXT_TYPES });
    match kind {
        ValueKind::Name => json!({
            "type": TEXT_TYPES,
            "pattern": name_pattern(),
            // A negative number's text starts with `-`.
            "minimum": 0,
            "anyOf": [{ "maxLength": MAX_NAME_LEN }, { "pattern": VARIABLE_PATTERN }],
            "patternErrorMessage":
                "letters, digits, `_`, `.` and `-`, starting with a letter or digit, at most 63 characters"
        }),
        ValueKind::ImageRepo => json!({
            "type": TEXT_TYPES,
            "pattern": anchored_or_variable(&format!("{}(?::{TAG_SYNTAX})?{}?", repository_syntax(), digest_syntax())),
            "minimum": 0,
            "patternErrorMessage": "`[registry[:port]/]path/name[:tag][@digest]`, path components in lowercase"
        }),
        ValueKind::Tag => json!({
            "type": TEXT_TYPES,
            "pattern": anchored_or_variable(TAG_SYNTAX),
            "minimum": 0,
            "default": "latest",
            "patternErrorMessage": "up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`"
        }),
        ValueKind::Text => text,
        ValueKind::Boolean { default } => json!({
            "type": ["boolean", "string"],
            "pattern": VARIABLE_PATTERN,
            "default": default,
            "patternErrorMessage": "`true`, `false` or a variable such as `${RUN_AS_SERVICE}`"
        }),
        ValueKind::TextList => json!({ "type": ["array", "null"], "items": text }),
        ValueKind::Dependencies => json!({
            "type": ["array", "null"],
            "items": {
                "anyOf": [
                    text,
                    {
                        "type": "object",
                        "properties": {
                            "name": text,
                            "condition": {
                                "type": "string",
                                "anyOf": [{ "enum": ["succeeded", "completed"] }, { "pattern": VARIABLE_PATTERN }],
                                "default": "succeeded"
                            }
                        },
                        "required": ["name"],
                        "additionalProperties": false
                    }
                ]
            }
        }),
        ValueKind::AllowFailure => json!({
            "anyOf": [
                { "type": ["boolean", "null"] },
                { "type": "string", "pattern": VARIABLE_PATTERN },
                {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "anyOf": [
                            { "type": "integer", "minimum": 1, "maximum": 255 },
                            { "type": "string", "pattern": VARIABLE_PATTERN }
                        ]
                    }
                }
            ],
            "default": false
        }),
        ValueKind::EnvVars => env_map_shape(),
        ValueKind::Labels => {
            let reserved = format!("^{}", regex_escape(RESERVED_LABEL_PREFIX));
            string_map_shape(
                json!({ "minLength": 1, "not": { "pattern": reserved } }),
                json!({ "type": "string", "pattern": r"^[^=]+=|\$", "not": { "pattern": reserved } }),
            )
        }
        // `additionalProperties` applies to the mapping form only, `items` to the list form.
        ValueKind::Volumes => json!({
            "type": ["object", "array", "null"],
            "propertyNames": { "pattern": anchored_or_variable(&mount_host_syntax()) },
            "additionalProperties": { "$ref": "#/definitions/volume_binding" },
            "items": {
                "type": "string",
                "pattern": anchored_or_variable(&format!(
                    "(?:{}):{}(?::(?:ro|rw))?",
                    mount_host_syntax(),
                    mount_target_syntax()
                )),
                "patternErrorMessage": "`HOST:PATH`, `HOST:PATH:ro` or `HOST:PATH:rw`, PATH absolute, neither holding `:`"
            }
        }),
        ValueKind::Command => json!({ "type": ["string", "number", "boolean", "array", "null"], "items": text }),
        ValueKind::Sidecars => json!({ "type": ["array", "null"], "items": { "$ref": "#/definitions/sidecar" } }),
        ValueKind::Duration { zero, default } => duration_shape(!zero, default),
        ValueKind::Retries => json!({
            "type": ["integer", "string"],
            "minimum": 0,
            "maximum": 100,
            "pattern": VARIABLE_PATTERN,
            "default": 0,
            "patternErrorMessage": "a whole number from 0 to 100, or a variable such as `${RETRIES}`"
        }),
        ValueKind::Ready => ready_shape(),
        ValueKind::Pull => json!({
            "type": "string",
            "anyOf": [{ "enum": ["always", "missing", "never"] }, { "pattern": VARIABLE_PATTERN }],
            "default": "missing"
        }),
        ValueKind::RunOn => json!({
            "type": "string",
            "anyOf": [{ "enum": ["failure", "success", "always"] }, { "pattern": VARIABLE_PATTERN }]
        }),
        ValueKind::Schedule => json!({
            "type": "string",
            "minLength": 1,
            "examples": ["every 10m", "daily 03:30", "*/10 * * * *"]
        }),
        ValueKind::TimeZone => {
            json!({ "type": "string", "minLength": 1, "examples": ["Europe/Berlin", "UTC", "local"] })
        }
        ValueKind::Placement => json!({
            "type": ["array", "null"],
            "items": { "type": "string", "pattern": anchored_or_variable(PLACEMENT_SYNTAX) },
            "examples": [["node.labels.disk==ssd"]]
        }),
        ValueKind::Resources => resources_shape(),
        ValueKind::Build => build_shape(),
        ValueKind::Networks => json!({
            "type": ["array", "object", "null"],
            "items": { "type": TEXT_TYPES, "pattern": anchored_or_variable(NAME_SYNTAX) },
            "uniqueItems": true,
            "propertyNames": { "pattern": anchored_or_variable(NAME_SYNTAX) },
            "additionalProperties": {
                "type": ["object", "null"],
                "additionalProperties": false,
                "properties": {
                    "aliases": {
                        "type": ["array", "null"],
                        "items": { "type": TEXT_TYPES, "pattern": anchored_or_variable(r"[A-Za-z0-9_][A-Za-z0-9_.-]*") },
                        "description": "Further names the container is reachable by on this network."
                    }
                }
            },
            "examples": [["neo4j-net"]]
        }),
        ValueKind::NetworkMode => json!({
            "type": "string",
            "anyOf": [{ "enum": ["bridge", "host", "none"] }, { "pattern": VARIABLE_PATTERN }]
        }),
        ValueKind::ExtraHosts => {
            let entry = r"^\s*[A-Za-z0-9_][A-Za-z0-9_.-]*\s*[:=]\s*(?:host-gateway|[0-9A-Fa-f.:\[\]]+)\s*$|\$";
            json!({
                "type": ["array", "object", "null"],
                "items": {
                    "type": "string",
                    "pattern": entry,
                    "patternErrorMessage": "`NAME:ADDRESS`, the address an IP or `host-gateway`"
                },
                "propertyNames": { "pattern": anchored_or_variable(r"[A-Za-z0-9_][A-Za-z0-9_.-]*") },
                "additionalProperties": {
                    "type": "string",
                    "pattern": r"^\s*(?:host-gateway|[0-9A-Fa-f.:\[\]]+)\s*$|\$"
                },
                "examples": [["host.docker.internal:host-gateway", "db:10.0.0.5"]]
            })
        }
        ValueKind::OneOrList => json!({
            "type": ["string", "array", "null"],
            "minLength": 1,
            "items": { "type": TEXT_TYPES, "minLength": 1 }
        }),
        ValueKind::EnvFile => {
            let item = json!({
                "type": ["string", "object"],
                "minLength": 1,
                "required": ["path"],
                "additionalProperties": false,
                "properties": {
                    "path": { "type": "string", "minLength": 1 },
                    "required": {
                        "type": ["boolean", "string"],
                        "pattern": VARIABLE_PATTERN,
                        "default": true,
                        "description": "`false`: a missing file is no error."
                    }
                }
            });
            json!({
                "type": ["string", "array", "object", "null"],
                "minLength": 1,
                "items": item,
                "required": ["path"],
                "additionalProperties": false,
                "properties": item["properties"].clone()
            })
        }
        ValueKind::Gpus => json!({
            "type": ["string", "integer", "array"],
            "minimum": 1,
            "pattern": r"^\s*(?:[aA][lL][lL]|[0-9]+)\s*$|\$",
            "minItems": 1,
            "items": { "type": ["string", "integer"], "pattern": r"^\s*[A-Za-z0-9_-]+\s*$" },
            "examples": ["all", 1, ["0", "1"]]
        }),
        ValueKind::Size => json!({
            "type": ["number", "string"],
            "minimum": 1,
            "pattern": size_pattern(),
            "examples": ["64m", "1g"]
        }),
        ValueKind::Ulimits => {
            let limit = json!({ "type": ["integer", "string"], "minimum": -1, "pattern": r"^\s*-?[0-9]+\s*$|\$" });
            json!({
                "type": ["object", "null"],
                "propertyNames": { "enum": ULIMIT_NAMES },
                "additionalProperties": {
                    "anyOf": [
                        limit.clone(),
                        {
                            "type": "object",
                            "additionalProperties": false,
                            "required": ["soft", "hard"],
                            "properties": { "soft": limit.clone(), "hard": limit }
                        }
                    ]
                },
                "examples": [{ "nofile": { "soft": 1024, "hard": 4096 }, "nproc": 512 }]
            })
        }
        ValueKind::Matrix => json!({
            "type": "object",
            "minProperties": 1,
            "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
            "additionalProperties": {
                "type": "array",
                "minItems": 1,
                // The loader refuses a value given twice.
                "uniqueItems": true,
                "items": { "type": ["string", "number", "boolean"], "pattern": anchored_or_variable("[A-Za-z0-9_.-]+") }
            }
        }),
        ValueKind::Signal => {
            let any_case = |word: &str| -> String {
                word.chars().map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())).collect()
            };
            let names: Vec<String> = SIGNALS.iter().map(|s| any_case(s)).collect();
            let realtime = format!("{}(?:{}|{})(?:[+-][0-9]+)?", any_case("RTM"), any_case("IN"), any_case("AX"));
            let pattern =
                format!(r"^\s*(?:{})?(?:{}|{realtime})\s*$|^\s*[0-9]+\s*$|\$", any_case("SIG"), names.join("|"));
            json!({
                "type": ["string", "integer"],
                "minimum": 1,
                "maximum": 64,
                "pattern": pattern,
                "examples": ["SIGTERM", "SIGINT"]
            })
        }
    }
}

/// `env_vars`, `labels` and `build.args`: a mapping of names to values, or compose's list of
/// `NAME=VALUE` (the same item twice is the same name twice; other duplicates only the loader
/// sees).
pub(super) fn string_map_shape(names: Value, items: Value) -> Value {
    json!({
        "type": ["object", "array", "null"],
        "propertyNames": names,
        "additionalProperties": { "type": TEXT_TYPES },
        "items": items,
        "uniqueItems": true
    })
}

/// `env_vars` and `build.args`: names not empty, without the characters the loader refuses.
pub(super) fn env_map_shape() -> Value {
    let forbidden = env_name_forbidden_class();
    string_map_shape(
        json!({ "pattern": format!(r"^[^{forbidden}]+$|\$") }),
        json!({ "type": "string", "pattern": format!(r"^[^{forbidden}]+=|\$") }),
    )
}

/// `ready`: a string or a list is the command; the mapping adds `timeout` and `interval`.
pub(super) fn ready_shape() -> Value {
    // Not empty once split shell-style: a word that is no `#` comment.
    let command = json!({
        "type": ["string", "number", "boolean", "array"],
        "pattern": r"^\s*[^\s#]|\n\s*[^\s#]",
        "minItems": 1,
        "items": { "type": TEXT_TYPES },
    });
    let mut shape = command.clone();
    if let Value::Object(map) = &mut shape {
        map.insert("type".into(), json!(["string", "number", "boolean", "array", "object", "null"]));
        map.insert("required".into(), json!(["command"]));
        map.insert("additionalProperties".into(), json!(false));
        map.insert(
            "properties".into(),
            json!({
                "command": with_description(
                    &command,
                    "The command run inside the sidecar until it exits 0: a list of strings, or one string split shell-style."
                ),
                "timeout": with_description(
                    &duration_shape(true, Some("60s")),
                    "How long to keep trying before the container fails."
                ),
                "interval": with_description(
                    &duration_shape(true, Some("1s")),
                    "The pause between tries; at most `timeout`."
                ),
            }),
        );
        // Without a `timeout`, an interval in seconds is at most the default timeout (a
        // duration string, or two values, JSON Schema cannot compare).
        map.insert("if".into(), json!({ "type": "object", "not": { "required": ["timeout"] } }));
        map.insert(
            "then".into(),
            json!({ "properties": { "interval": { "maximum": ReadyCheck::DEFAULT_TIMEOUT.as_secs() } } }),
        );
    }
    shape
}

/// `resources`: `{cpus, memory, reservations}` or compose's `{limits, reservations}`.
pub(super) fn resources_shape() -> Value {
    // Case-insensitive units, as the loader reads them.
    let any_case = |unit: &str| -> String {
        unit.chars().map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())).collect()
    };
    let units: Vec<String> = MEMORY_UNITS.iter().filter(|(u, _)| !u.is_empty()).map(|(u, _)| any_case(u)).collect();
    let memory_pattern = format!(r"^\s*(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*(?:{})?\s*$|\$", units.join("|"));
    let cpus = json!({
        "type": ["number", "string"],
        "exclusiveMinimum": 0,
        "maximum": MAX_CPUS,
        "pattern": r"^\s*\+?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\s*$|\$",
        "description": "CPUs, e.g. `0.5` or `2`."
    });
    let memory = json!({
        "type": ["number", "string"],
        "minimum": MIN_MEMORY,
        "pattern": memory_pattern,
        "description": "Bytes, or with a unit: `512m`, `1g`, `256Mi`; at least 4 MiB."
    });
    let amounts = json!({
        "type": "object",
        "additionalProperties": false,
        "properties": { "cpus": cpus, "memory": memory }
    });
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "cpus": cpus,
            "memory": memory,
            "limits": with_description(&amounts, "The most the container may use."),
            "reservations": with_description(&amounts, "What the container is guaranteed."),
        }
    })
}

/// `build`: a context, or `{context, dockerfile, args, target}`.
pub(super) fn build_shape() -> Value {
    let path = json!({ "type": TEXT_TYPES, "pattern": path_pattern() });
    let mut shape = path.clone();
    if let Value::Object(map) = &mut shape {
        map.insert("type".into(), json!(["string", "number", "boolean", "object"]));
        map.insert("required".into(), json!(["context"]));
        map.insert("additionalProperties".into(), json!(false));
        map.insert(
            "properties".into(),
            json!({
                "context": with_description(&path, "A directory (relative to the pipeline file) or a git repository `URL[#REF][:SUBDIR]`, cloned with the `git` CLI."),
                "dockerfile": with_description(&path, "The Dockerfile, relative to the context (default `Dockerfile`)."),
                "args": with_description(
                    &env_map_shape(),
                    "Build arguments (`--build-arg`); values are secrets: never shown."
                ),
                "target": with_description(
                    &json!({ "type": TEXT_TYPES, "minimum": 0, "pattern": r"^(?:[^-\s]|\s+\S)|\$" }),
                    "The stage to build (`--target`)."
                ),
            }),
        );
    }
    shape
}

/// One mount of the mapping form of `volumes`: `{bind: PATH, mode: rw|ro}`.
pub(super) fn volume_binding() -> Value {
    json!({
        "description": "Where the host path or named volume (the key) is mounted.",
        "type": "object",
        "required": ["bind"],
        "additionalProperties": false,
        "properties": {
            "bind": {
                "description": "The absolute path inside the container.",
                "type": "string",
                "pattern": anchored_or_variable(&mount_target_syntax())
            },
            "mode": {
                "description": "`rw` (read-write, the default) or `ro` (read-only).",
                "default": "rw",
                "anyOf": [
                    { "enum": ["rw", "ro"] },
                    { "type": "string", "pattern": VARIABLE_PATTERN }
                ]
            }
        }
    })
}
