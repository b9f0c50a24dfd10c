//! Whole documents: invalid ones fail the schema, the other forms of the format pass it.

use super::*;

/// Documents both the schema and the loader refuse.
#[test]
fn invalid_documents_do_not_validate() {
    let validator = validator();
    let ok = "p:\n  - name: a\n    image_repo: busybox\n";
    assert!(schema_errors(&validator, &to_json(ok)).is_empty());
    let cases = [
        ("unknown key", "p:\n  - name: a\n    image_repo: busybox\n    dependancies: [b]\n"),
        ("missing name", "p:\n  - image_repo: busybox\n"),
        ("missing image", "p:\n  - name: a\n"),
        ("two top-level keys", "p:\n  - name: a\n    image_repo: busybox\nq:\n  - name: b\n    image_repo: busybox\n"),
        ("no pipeline", "{}"),
        ("empty pipeline", "p: []\n"),
        ("a list at the top", "- name: a\n  image_repo: busybox\n"),
        ("volume mode rx", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./d: {bind: /d, mode: rx}\n"),
        ("volume without bind", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./d: {mode: ro}\n"),
        ("volume option typo", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./d: {bind: /d, mdoe: ro}\n"),
        ("relative volume path", "p:\n  - name: a\n    image_repo: busybox\n    volumes: [\"./d:d\"]\n"),
        ("short volume mode", "p:\n  - name: a\n    image_repo: busybox\n    volumes: [\"./d:/d:rx\"]\n"),
        ("volume host with :", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./a:b: {bind: /d}\n"),
        ("volume bind with :", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./d: {bind: \"/d:ro\"}\n"),
        ("volume host with a line break", "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      \"./d\\n\": {bind: /d}\n"),
        ("short volume with NUL", "p:\n  - name: a\n    image_repo: busybox\n    volumes: [\"./d:/d\\0\"]\n"),
        ("build context with a line break", "p:\n  - name: a\n    build: \"./ctx\\n\"\n"),
        ("Dockerfile with NUL", "p:\n  - name: a\n    build: {context: ., dockerfile: \"D\\0\"}\n"),
        ("env item twice", "p:\n  - name: a\n    image_repo: busybox\n    env_vars: [A=1, A=1]\n"),
        ("env name empty", "p:\n  - name: a\n    image_repo: busybox\n    env_vars: [=1]\n"),
        ("label item reserved", "p:\n  - name: a\n    image_repo: busybox\n    labels: [io.copili.run=x]\n"),
        ("tag beside a tagged repository", "p:\n  - name: a\n    image_repo: redis:7\n    tag: \"7\"\n"),
        ("invalid name", "p:\n  - name: -a\n    image_repo: busybox\n"),
        ("name with a space", "p:\n  - name: a b\n    image_repo: busybox\n"),
        ("invalid tag", "p:\n  - name: a\n    image_repo: busybox\n    tag: .x\n"),
        ("yes is no boolean", "p:\n  - name: a\n    image_repo: busybox\n    is_service_container: yes\n"),
        ("repo and image_repo", "p:\n  - name: a\n    image_repo: busybox\n    repo: busybox\n"),
        ("dependencies is no string", "p:\n  - name: a\n    image_repo: busybox\n    dependencies: b\n"),
        ("env value is no mapping", "p:\n  - name: a\n    image_repo: busybox\n    env_vars: {X: {Y: 1}}\n"),
        ("null env value", "p:\n  - name: a\n    image_repo: busybox\n    env_vars: {X: ~}\n"),
        ("command mapping", "p:\n  - name: a\n    image_repo: busybox\n    command: {a: b}\n"),
        ("reserved label", "p:\n  - name: a\n    image_repo: busybox\n    labels: {io.copili.run: x}\n"),
        (
            "sidecar with dependencies",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: busybox\n        dependencies: [a]\n",
        ),
        ("timeout no duration", "p:\n  - name: a\n    image_repo: busybox\n    timeout: soon\n"),
        ("timeout months", "p:\n  - name: a\n    image_repo: busybox\n    timeout: 30M\n"),
        ("timeout zero", "p:\n  - name: a\n    image_repo: busybox\n    timeout: 0\n"),
        ("timeout 0s", "p:\n  - name: a\n    image_repo: busybox\n    timeout: 0s\n"),
        ("timeout negative", "p:\n  - name: a\n    image_repo: busybox\n    timeout: -5\n"),
        ("timeout list", "p:\n  - name: a\n    image_repo: busybox\n    timeout: [5m]\n"),
        ("retries negative", "p:\n  - name: a\n    image_repo: busybox\n    retries: -1\n"),
        ("retries above 100", "p:\n  - name: a\n    image_repo: busybox\n    retries: 101\n"),
        ("retries quoted", "p:\n  - name: a\n    image_repo: busybox\n    retries: \"3\"\n"),
        ("retries float", "p:\n  - name: a\n    image_repo: busybox\n    retries: 2.5\n"),
        ("retry_delay negative", "p:\n  - name: a\n    image_repo: busybox\n    retry_delay: -1s\n"),
        ("ready on a container", "p:\n  - name: a\n    image_repo: busybox\n    ready: redis-cli ping\n"),
        (
            "ready option typo",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: {comand: x}\n",
        ),
        (
            "ready without command",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: {timeout: 5s}\n",
        ),
        (
            "ready empty command",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: []\n",
        ),
        (
            "ready blank command",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: {command: \" \"}\n",
        ),
        (
            "ready zero interval",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: {command: x, interval: 0s}\n",
        ),
        (
            "sidecar of a sidecar",
            "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: busybox\n        sidecars: []\n",
        ),
    ];
    for (what, text) in cases {
        assert!(!validator.is_valid(&to_json(text)), "{what}: the schema accepts\n{text}");
        assert!(load(Input::Text(text), &options()).is_err(), "{what}: the loader accepts\n{text}");
    }
}

/// Documents both the schema and the loader accept, in forms an editor must not flag.
#[test]
fn variables_aliases_and_other_forms_validate() {
    let validator = validator();
    let mut options = options();
    options.process_env = [("NAME", "a"), ("SVC", "true"), ("MODE", "ro"), ("TAG", "7")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let cases = [
        "p:\n  - name: ${NAME}\n    image_repo: busybox\n    is_service_container: ${SVC}\n    tag: $TAG\n",
        "p:\n  - name: a\n    repo: busybox\n    tag: 1.0\n    dependency: [b]\n  - name: b\n    image_repo: busybox\n    exclude_in_env: [PROD]\n",
        "p:\n  - name: 01\n    image_repo: busybox\n    force_rerun: false\n    command: sh -c 'exit 0'\n",
        "p:\n  - name: a\n    image_repo: busybox\n    command: [-p, 3000]\n    env_vars: {N: 3, B: true, S: x}\n    labels: {team: data}\n",
        "p:\n  - name: a\n    image_repo: busybox\n    volumes:\n      ./d: {bind: /d, mode: ro}\n      cache: {bind: /cache}\n      ./e: {bind: /e, mode: $MODE}\n",
        "p:\n  - name: a\n    image_repo: busybox\n    volumes: [\"./d:/d\", \"vol:/v:ro\", \"/abs:/abs:rw\"]\n",
        "p:\n  - name: a\n    image_repo: busybox\n    dependencies:\n    command:\n    volumes:\n    sidecars:\n",
        "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: busybox\n        is_service_container: true\n",
        r#"{"p": [{"name": "a", "repo": "busybox", "sidecars": [{"name": "s", "repo": "busybox"}]}]}"#,
        "p:\n  - name: a\n    image_repo: busybox\n    timeout: 1h 30m\n    retries: 3\n    retry_delay: 0\n",
        "p:\n  - name: a\n    image_repo: busybox\n    timeout: 600\n    retries: $TAG\n    retry_delay: \"90\"\n",
        "p:\n  - name: a\n    image_repo: busybox\n    timeout: ${TIMEOUT:-2h}\n    retries: 0\n",
        "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: redis-cli ping\n",
        "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: [redis-cli, ping]\n",
        "p:\n  - name: a\n    image_repo: busybox\n    sidecars:\n      - name: s\n        image_repo: redis\n        ready: {command: [redis-cli, ping], timeout: 2m, interval: 500ms}\n",
        r#"{"p": [{"name": "a", "repo": "busybox", "timeout": 90, "retries": 2, "retry_delay": 1.5, "sidecars": [{"name": "s", "repo": "redis", "ready": {"command": "redis-cli ping", "interval": 2}}]}]}"#,
    ];
    for text in cases {
        let errors = schema_errors(&validator, &to_json(text));
        assert!(errors.is_empty(), "the schema refuses\n{text}\n{errors:#?}");
        if let Err(d) = load(Input::Text(text), &options) {
            panic!("the loader refuses\n{text}\n{d}");
        }
    }
}
