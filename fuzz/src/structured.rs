//! A structured fuzz input: a pipeline built from choices among the forms each property takes
//! (docs/format.md), with room for arbitrary strings in every place, rendered as YAML or JSON.
//! Most documents load, so libFuzzer's mutations mostly exercise planning, rendering and the
//! export, which bytes alone seldom reach.

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use serde_json::{json, Map, Value};

/// A whole pipeline file.
#[derive(Debug, Arbitrary)]
pub struct Document {
    /// Whether this document may hold mistakes (one in eight): the others are all valid
    /// choices, so that most documents load.
    mistakes: u8,
    json: bool,
    name: Word,
    containers: Vec<Container>,
}

impl Document {
    /// The file's text.
    pub fn render(&self) -> String {
        MISTAKES.with(|m| m.set(self.mistakes >= RARE_FROM));
        let names: Vec<String> = self.containers.iter().enumerate().map(|(i, c)| c.name.unique(i)).collect();
        let containers: Vec<Value> = self.containers.iter().enumerate().map(|(i, c)| c.value(&names, i)).collect();
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

/// A byte at or above this is a rare choice: one value in eight.
const RARE_FROM: u8 = 224;

thread_local! {
    /// Whether the document being rendered may hold mistakes ([`Document::mistakes`]).
    static MISTAKES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a choice takes the rare, probably invalid branch: in a document that may hold
/// mistakes, one value in eight of a byte. Every mistake is one mutation away.
fn rare(choice: u8) -> bool {
    MISTAKES.with(std::cell::Cell::get) && choice >= RARE_FROM
}

/// A name from a small pool, or rarely any string.
#[derive(Debug, Arbitrary)]
struct Word {
    index: u8,
    any: Option<String>,
}

const NAMES: [&str; 12] =
    ["load", "index", "a", "b-1", "cache_01", "db", "Main", "01-link", "x.y", "pipeline", "main", "report_sum"];

impl Word {
    fn text(&self) -> String {
        match &self.any {
            Some(any) if rare(self.index) => any.clone(),
            _ => NAMES[usize::from(self.index) % NAMES.len()].to_string(),
        }
    }

    /// The name of the `position`th container: made unique by the position, except rarely.
    fn unique(&self, position: usize) -> String {
        if rare(self.index) {
            self.text()
        } else {
            format!("{}-{position}", self.text())
        }
    }
}

/// A scalar as people write them in env values and commands: words, variables, numbers,
/// booleans.
#[derive(Debug, Arbitrary)]
enum Text {
    Word(Word),
    Variable(u8),
    Number(i32),
    Float(f32),
    Bool(bool),
}

/// Variables of `check`'s environment; the last ones are mistakes.
const VARIABLES: [&str; 11] = [
    "${FUZZ_VAR}",
    "$ENV",
    "${UNSET:-fallback}",
    "$$HOME",
    "x-${FUZZ_VAR}-y",
    "${FUZZ_NUMBER}",
    "${FUZZ_PATH}/sub",
    "cost $$(not-a-var)",
    "$(not-a-var)",
    "${EMPTY:?must be set}",
    "${unclosed",
];

impl Text {
    fn value(&self) -> Value {
        match self {
            Text::Word(w) => w.text().into(),
            Text::Variable(i) => {
                let valid = VARIABLES.len() - 3;
                let index = if rare(*i) { usize::from(*i) % VARIABLES.len() } else { usize::from(*i) % valid };
                VARIABLES[index].into()
            }
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

/// A value of one property: from its valid examples, rarely from its invalid ones or any text.
#[derive(Debug, Arbitrary)]
struct Pick {
    index: u8,
    any: Option<Text>,
}

/// Examples of a property's values: `valid`, then `invalid`.
struct Pool {
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
}

impl Pick {
    fn value(&self, pool: &Pool) -> Value {
        let index = usize::from(self.index);
        match &self.any {
            Some(text) if self.index == u8::MAX => text.value(),
            _ if rare(self.index) && !pool.invalid.is_empty() => pool.invalid[index % pool.invalid.len()].into(),
            _ => pool.valid[index % pool.valid.len()].into(),
        }
    }
}

const IMAGES: Pool = Pool {
    valid: &["localhost/copili-test", "redis", "registry.example.com:5000/team/loader", "library/b", "x"],
    invalid: &["Redis", "x:1", "https://r/x", ""],
};
const TAGS: Pool = Pool { valid: &["7", "latest", "2.1", "v1.0-rc_1"], invalid: &[".x", ""] };
const DURATIONS: Pool =
    Pool { valid: &["30s", "1.5", "90m", "1h 30m", "2d", "500ms", "10"], invalid: &["-1s", "soon"] };
const SCHEDULES: Pool = Pool {
    valid: &["every 10m", "daily 03:30", "*/5 * * * mon-fri", "@hourly", "every 7m", "0 3 * * 7", "daily", "every 1d"],
    invalid: &["bad", "every 0s", "61 * * * *"],
};
const ZONES: Pool = Pool { valid: &["Europe/Berlin", "UTC", "local"], invalid: &["Mars/Olympus"] };
const VOLUMES: Pool = Pool {
    valid: &["./data:/data", "/srv/data/genes:/g:ro", "pgdata:/var/lib/pg", "/srv:/all:rw", "${FUZZ_PATH}:/fp"],
    invalid: &["~/x:/x", ":/x", "./d", "/a:/b:rx", "./e:/data"],
};
const PLACEMENTS: Pool = Pool {
    valid: &[
        "node.labels.disk==ssd",
        "node.hostname==n1",
        "node.role != manager",
        "node.platform.arch==x86_64",
        "node.id==x",
    ],
    invalid: &["ssd", "node.labels.==x"],
};
const MEMORY: Pool = Pool { valid: &["512m", "1g", "8m", "1.5Gi"], invalid: &["lots", "-1m"] };
/// Reservations below every limit of `MEMORY`, except the invalid ones.
const RESERVED: Pool = Pool { valid: &["4m", "6m", "4194304"], invalid: &["2g", "1m"] };
const READY_TIMEOUTS: Pool = Pool { valid: &["30s", "10s", "90m"], invalid: &["-1s"] };
/// Intervals below every timeout of `READY_TIMEOUTS`, except the invalid ones.
const READY_INTERVALS: Pool = Pool { valid: &["1s", "2s", "500ms"], invalid: &["1h 30m", "0"] };
const PULLS: Pool = Pool { valid: &["always", "missing", "never"], invalid: &["sometimes"] };
const READY: Pool = Pool { valid: &["redis-cli ping", "true", "test -f /ready"], invalid: &["", "'unclosed"] };
const ENVIRONMENTS: Pool = Pool { valid: &["PROD", "TEST", "dev"], invalid: &[] };
const LABEL_KEYS: Pool =
    Pool { valid: &["team", "cost center", "example.com/owner", "tier"], invalid: &["io.copili.run", ""] };

/// One container, or a sidecar (which takes no dependencies, sidecars or schedule).
#[derive(Debug, Arbitrary)]
struct Container {
    name: Word,
    image: Pick,
    tag: Option<Pick>,
    dependencies: Vec<u8>,
    env: Vec<(Word, Text)>,
    env_as_list: bool,
    labels: Vec<(Pick, Word)>,
    command: Option<Command>,
    volumes: Vec<Pick>,
    sidecars: Vec<Container>,
    ready: Option<(Pick, Pick, Pick)>,
    service: Option<(Option<Pick>, Option<Pick>, bool)>,
    retries: Option<u8>,
    retry_delay: Option<Pick>,
    timeout: Option<Pick>,
    exclude: Vec<Pick>,
    pull: Option<Pick>,
    placement: Vec<Pick>,
    resources: Option<(Option<u8>, Option<Pick>, Option<Pick>)>,
    login: Option<(Word, Text)>,
    flags: u8,
    /// Rarely any property: unknown keys, near misses of real ones, wrong types.
    extra: Option<(u8, String, Text)>,
}

#[derive(Debug, Arbitrary)]
enum Command {
    Line(Text),
    Words(Vec<Text>),
}

impl Container {
    /// The `position`th container, its name `names[position]`.
    fn value(&self, names: &[String], position: usize) -> Value {
        let mut c = self.common(names[position].clone());
        // Dependencies on earlier containers only, so the graph is acyclic, except rarely.
        let deps: Vec<Value> = self
            .dependencies
            .iter()
            .filter_map(|&i| {
                let range = if rare(i) { names.len() } else { position };
                (range > 0).then(|| names[usize::from(i) % range].clone().into())
            })
            .collect();
        if !deps.is_empty() {
            let mut unique: Vec<Value> = Vec::new();
            for dep in deps {
                if !unique.contains(&dep) {
                    unique.push(dep);
                }
            }
            c.insert("dependencies".into(), unique.into());
        }
        if !self.sidecars.is_empty() {
            let sidecars: Vec<Value> = self
                .sidecars
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    let name = if rare(s.name.index) { s.name.text() } else { format!("{}-s{j}", names[position]) };
                    s.sidecar(name)
                })
                .collect();
            c.insert("sidecars".into(), sidecars.into());
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
        for (bit, key) in ["run_once", "force_rerun", "tls_verify"].iter().enumerate() {
            if self.flags & (1 << bit) != 0 {
                c.insert((*key).into(), (self.flags & (1 << (bit + 3)) != 0).into());
            }
        }
        Value::Object(c)
    }

    fn sidecar(&self, name: String) -> Value {
        let mut c = self.common(name);
        if let Some((command, timeout, interval)) = &self.ready {
            c.insert(
                "ready".into(),
                json!({"command": command.value(&READY), "timeout": timeout.value(&READY_TIMEOUTS),
                       "interval": interval.value(&READY_INTERVALS)}),
            );
        }
        Value::Object(c)
    }

    /// What containers and sidecars share.
    fn common(&self, name: String) -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("name".into(), name.into());
        c.insert("image_repo".into(), self.image.value(&IMAGES));
        if let Some(tag) = &self.tag {
            c.insert("tag".into(), tag.value(&TAGS));
        }
        if !self.env.is_empty() {
            let mut env = Map::new();
            for (key, value) in &self.env {
                env.insert(key.text(), value.value());
            }
            let env = if self.env_as_list {
                env.iter().map(|(k, v)| Value::from(format!("{k}={}", Text::string_of(v)))).collect()
            } else {
                Value::Object(env)
            };
            c.insert("env_vars".into(), env);
        }
        if !self.labels.is_empty() {
            let labels: Map<String, Value> =
                self.labels.iter().map(|(k, v)| (Text::string_of(&k.value(&LABEL_KEYS)), v.text().into())).collect();
            c.insert("labels".into(), Value::Object(labels));
        }
        match &self.command {
            Some(Command::Line(text)) => {
                c.insert("command".into(), text.string().into());
            }
            Some(Command::Words(words)) => {
                c.insert("command".into(), words.iter().map(Text::value).collect());
            }
            None => {}
        }
        let mut volumes: Vec<Value> = Vec::new();
        for volume in self.volumes.iter().map(|v| v.value(&VOLUMES)) {
            if !volumes.contains(&volume) {
                volumes.push(volume);
            }
        }
        if !volumes.is_empty() {
            c.insert("volumes".into(), volumes.into());
        }
        if let Some(retries) = self.retries {
            c.insert(
                "retries".into(),
                (if rare(retries) { i64::from(retries) - 240 } else { i64::from(retries % 6) }).into(),
            );
        }
        if let Some(delay) = &self.retry_delay {
            c.insert("retry_delay".into(), delay.value(&DURATIONS));
        }
        if let Some(timeout) = &self.timeout {
            c.insert("timeout".into(), timeout.value(&DURATIONS));
        }
        if !self.exclude.is_empty() {
            c.insert("exlude_in_env".into(), self.exclude.iter().map(|e| e.value(&ENVIRONMENTS)).collect());
        }
        if let Some(pull) = &self.pull {
            c.insert("pull".into(), pull.value(&PULLS));
        }
        if !self.placement.is_empty() {
            c.insert("placement".into(), self.placement.iter().map(|p| p.value(&PLACEMENTS)).collect());
        }
        if let Some((cpus, memory, reserved)) = &self.resources {
            let mut r = Map::new();
            if let Some(cpus) = cpus {
                r.insert("cpus".into(), (f64::from(*cpus % 16 + 1) / 4.0).into());
            }
            if let Some(memory) = memory {
                r.insert("memory".into(), memory.value(&MEMORY));
            }
            if let Some(reserved) = reserved {
                r.insert("reservations".into(), json!({"memory": reserved.value(&RESERVED)}));
            }
            c.insert("resources".into(), Value::Object(r));
        }
        if let Some((user, password)) = &self.login {
            c.insert("image_reg_username".into(), user.text().into());
            c.insert("image_reg_password".into(), password.string().into());
        }
        if let Some((choice, key, value)) = &self.extra {
            if rare(*choice) {
                c.insert(key.clone(), value.value());
            }
        }
        c
    }
}

impl Text {
    /// A value as the text it stands for in a `KEY=VALUE` item.
    fn string_of(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libfuzzer_sys::arbitrary::Unstructured;

    /// Most structured documents should load: that is what they are for.
    #[test]
    fn many_structured_documents_load() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut bytes = vec![0u8; 2048];
        let (mut loaded, total) = (0, 500);
        for _ in 0..total {
            for byte in &mut bytes {
                // xorshift64: reproducible bytes without a dependency.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = state.to_le_bytes()[0];
            }
            let Ok(document) = Document::arbitrary_take_rest(Unstructured::new(&bytes)) else { continue };
            let text = document.render();
            crate::check(&text);
            match copili::Pipeline::from_str(&text, &crate::load_options()) {
                Ok(_) => loaded += 1,
                Err(d) if std::env::var_os("SHOW").is_some() => eprintln!("{text}\n{d}\n-----"),
                Err(_) => {}
            }
        }
        assert!(loaded * 4 >= total, "only {loaded} of {total} structured documents load (SHOW=1 shows why)");
        eprintln!("{loaded} of {total} structured documents load");
    }
}
