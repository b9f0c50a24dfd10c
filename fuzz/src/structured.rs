//! A structured fuzz input: a pipeline built from choices among the forms each property takes
//! (docs/format.md), with room for arbitrary strings in every place, rendered as YAML or JSON.
//! Most documents load, so libFuzzer's mutations mostly exercise planning, rendering and the
//! export, which bytes alone seldom reach.

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use serde_json::{json, Map, Value};

/// A whole pipeline file.
#[derive(Debug, Arbitrary)]
pub struct Document {
    json: bool,
    name: Word,
    containers: Vec<Container>,
}

impl Document {
    /// The file's text.
    pub fn render(&self) -> String {
        let names: Vec<String> = self.containers.iter().map(|c| c.name.text()).collect();
        let containers: Vec<Value> = self.containers.iter().map(|c| c.value(&names, true)).collect();
        let mut top = Map::new();
        top.insert(self.name.text(), Value::Array(containers));
        let value = Value::Object(top);
        if self.json {
            serde_json::to_string_pretty(&value).unwrap_or_default()
        } else {
            serde_yaml::to_string(&value).unwrap_or_default()
        }
    }
}

/// A name from a small pool (so that dependencies and duplicates meet), or any string.
#[derive(Debug, Arbitrary)]
enum Word {
    Pool(u8),
    Any(String),
}

const NAMES: [&str; 12] =
    ["load", "index", "a", "b-1", "cache_01", "db", "Main", "01-link", "x.y", "pipeline", "main", "report_sum"];

impl Word {
    fn text(&self) -> String {
        match self {
            Word::Pool(i) => NAMES[usize::from(*i) % NAMES.len()].to_string(),
            Word::Any(s) => s.clone(),
        }
    }
}

/// A scalar value as people write them: words, variables, numbers, booleans.
#[derive(Debug, Arbitrary)]
enum Text {
    Word(Word),
    Variable(u8),
    Number(i32),
    Float(f32),
    Bool(bool),
}

const VARIABLES: [&str; 9] = [
    "${FUZZ_VAR}",
    "$ENV",
    "${UNSET:-fallback}",
    "${EMPTY:?must be set}",
    "$$HOME",
    "x-${FUZZ_VAR}-y",
    "${FUZZ_NUMBER}",
    "$(not-a-var) $$(x)",
    "${FUZZ_PATH}/sub",
];

impl Text {
    fn value(&self) -> Value {
        match self {
            Text::Word(w) => w.text().into(),
            Text::Variable(i) => VARIABLES[usize::from(*i) % VARIABLES.len()].into(),
            Text::Number(n) => (*n).into(),
            Text::Float(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(Value::Null, Value::Number),
            Text::Bool(b) => (*b).into(),
        }
    }

    fn string(&self) -> String {
        match self.value() {
            Value::String(s) => s,
            other => other.to_string(),
        }
    }
}

/// A string from a pool of valid and invalid examples of one property, or any text.
#[derive(Debug, Arbitrary)]
enum Pick {
    Pool(u8),
    Any(Text),
}

impl Pick {
    fn value(&self, pool: &[&str]) -> Value {
        match self {
            Pick::Pool(i) => pool[usize::from(*i) % pool.len()].into(),
            Pick::Any(text) => text.value(),
        }
    }
}

const IMAGES: [&str; 6] =
    ["localhost/copili-test", "redis", "registry.example.com:5000/team/loader", "library/b", "Redis", "x:1"];
const DURATIONS: [&str; 8] = ["30s", "1.5", "0", "90m", "1h 30m", "2d", "-1s", "500ms"];
const SCHEDULES: [&str; 9] =
    ["every 10m", "daily 03:30", "*/5 * * * mon-fri", "@hourly", "every 7m", "0 3 * * 7", "daily", "bad", "every 1d"];
const ZONES: [&str; 4] = ["Europe/Berlin", "UTC", "local", "Mars/Olympus"];
const VOLUMES: [&str; 8] =
    ["./data:/data", "/srv/data/genes:/g:ro", "pgdata:/var/lib/pg", "/srv:/all:rw", "~/x:/x", ":/x", "./d", "/a:/b:rx"];
const PLACEMENTS: [&str; 6] = [
    "node.labels.disk==ssd",
    "node.hostname==n1",
    "node.role != manager",
    "node.platform.arch==x86_64",
    "node.id==x",
    "ssd",
];
const MEMORY: [&str; 5] = ["512m", "1g", "4194305", "1.5Gi", "lots"];
const PULLS: [&str; 4] = ["always", "missing", "never", "sometimes"];

/// One container (or, without dependencies and sidecars, a sidecar).
#[derive(Debug, Arbitrary)]
struct Container {
    name: Word,
    image: Pick,
    tag: Option<Pick>,
    dependencies: Vec<u8>,
    env: Vec<(Word, Text)>,
    env_as_list: bool,
    labels: Vec<(Word, Text)>,
    command: Option<Command>,
    volumes: Vec<Pick>,
    sidecars: Vec<Container>,
    ready: Option<(Pick, Pick, Pick)>,
    service: Option<(Option<Pick>, Option<Pick>, bool)>,
    retries: Option<Text>,
    retry_delay: Option<Pick>,
    timeout: Option<Pick>,
    exclude: Vec<Word>,
    pull: Option<Pick>,
    placement: Vec<Pick>,
    resources: Option<(Option<f32>, Option<Pick>, Option<Pick>)>,
    login: Option<(Text, Text)>,
    flags: u8,
    /// Any property: unknown keys, near misses of real ones, wrong types.
    extra: Option<(Word, Text)>,
}

#[derive(Debug, Arbitrary)]
enum Command {
    Line(Text),
    Words(Vec<Text>),
}

impl Container {
    fn value(&self, names: &[String], main: bool) -> Value {
        let mut c = Map::new();
        c.insert("name".into(), self.name.text().into());
        c.insert("image_repo".into(), self.image.value(&IMAGES));
        if let Some(tag) = &self.tag {
            c.insert("tag".into(), tag.value(&["7", "latest", "2.1", ".x"]));
        }
        if main && !names.is_empty() && !self.dependencies.is_empty() {
            let deps: Vec<Value> =
                self.dependencies.iter().map(|&i| names[usize::from(i) % names.len()].clone().into()).collect();
            c.insert("dependencies".into(), deps.into());
        }
        if !self.env.is_empty() {
            let env = if self.env_as_list {
                self.env.iter().map(|(k, v)| Value::from(format!("{}={}", k.text(), v.string()))).collect()
            } else {
                Value::Object(self.env.iter().map(|(k, v)| (k.text(), v.value())).collect())
            };
            c.insert("env_vars".into(), env);
        }
        if !self.labels.is_empty() {
            c.insert("labels".into(), Value::Object(self.labels.iter().map(|(k, v)| (k.text(), v.value())).collect()));
        }
        match &self.command {
            Some(Command::Line(text)) => {
                c.insert("command".into(), text.value());
            }
            Some(Command::Words(words)) => {
                c.insert("command".into(), words.iter().map(Text::value).collect());
            }
            None => {}
        }
        if !self.volumes.is_empty() {
            c.insert("volumes".into(), self.volumes.iter().map(|v| v.value(&VOLUMES)).collect());
        }
        if main && !self.sidecars.is_empty() {
            c.insert("sidecars".into(), self.sidecars.iter().map(|s| s.value(names, false)).collect());
        }
        if let Some((command, timeout, interval)) = &self.ready {
            c.insert(
                "ready".into(),
                json!({"command": command.value(&["redis-cli ping", "true", ""]), "timeout": timeout.value(&DURATIONS),
                       "interval": interval.value(&DURATIONS)}),
            );
        }
        if let Some((schedule, zone, catch_up)) = &self.service {
            c.insert("is_service_container".into(), true.into());
            if let Some(schedule) = schedule {
                c.insert("schedule".into(), schedule.value(&SCHEDULES));
            }
            if let Some(zone) = zone {
                c.insert("timezone".into(), zone.value(&ZONES));
            }
            c.insert("catch_up".into(), (*catch_up).into());
        }
        if let Some(retries) = &self.retries {
            c.insert("retries".into(), retries.value());
        }
        if let Some(delay) = &self.retry_delay {
            c.insert("retry_delay".into(), delay.value(&DURATIONS));
        }
        if let Some(timeout) = &self.timeout {
            c.insert("timeout".into(), timeout.value(&DURATIONS));
        }
        if !self.exclude.is_empty() {
            c.insert("exlude_in_env".into(), self.exclude.iter().map(|w| Value::from(w.text())).collect());
        }
        if let Some(pull) = &self.pull {
            c.insert("pull".into(), pull.value(&PULLS));
        }
        if !self.placement.is_empty() {
            c.insert("placement".into(), self.placement.iter().map(|p| p.value(&PLACEMENTS)).collect());
        }
        if let Some((cpus, memory, reserved)) = &self.resources {
            let mut r = Map::new();
            if let Some(cpus) = cpus.and_then(|c| serde_json::Number::from_f64(f64::from(c))) {
                r.insert("cpus".into(), Value::Number(cpus));
            }
            if let Some(memory) = memory {
                r.insert("memory".into(), memory.value(&MEMORY));
            }
            if let Some(reserved) = reserved {
                r.insert("reservations".into(), json!({"memory": reserved.value(&MEMORY)}));
            }
            c.insert("resources".into(), Value::Object(r));
        }
        if let Some((user, password)) = &self.login {
            c.insert("image_reg_username".into(), user.value());
            c.insert("image_reg_password".into(), password.value());
        }
        for (bit, key) in ["run_once", "force_rerun", "tls_verify"].iter().enumerate() {
            if self.flags & (1 << bit) != 0 {
                c.insert((*key).into(), (self.flags & (1 << (bit + 3)) != 0).into());
            }
        }
        if let Some((key, value)) = &self.extra {
            c.insert(key.text(), value.value());
        }
        Value::Object(c)
    }
}
