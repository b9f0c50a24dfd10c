//! The examples and notes after the help of each command (`after_help`).

pub(crate) const EXAMPLES: &str = "\
Examples:
  copili validate pipeline.yaml              check a pipeline file, all errors at once
  copili plan pipeline.yaml                  show what would run, level by level
  copili plan pipeline.yaml --format json    the same as JSON, for scripts
  ENV=PROD copili plan pipeline.yaml         leave out containers excluded in PROD
  copili plan pipeline.yaml --only loader    a container and what it depends on
  copili graph pipeline.yaml | dot -Tsvg > pipeline.svg
  cat pipeline.json | copili validate -      read the pipeline from stdin
  copili schema > copili.schema.json         JSON Schema for editor completion

Exit codes: 0 ok, 1 a container failed, 2 invalid input or usage, 3 engine unavailable.";

pub(crate) const VALIDATE_EXAMPLES: &str = "\
Examples:
  copili validate pipeline.yaml
  copili validate --strict-env --env-file prod.env pipeline.yaml
  cat pipeline.json | copili validate -
  copili validate --for swarm pipeline.yaml

Exit codes: 0 valid (warnings may be printed), 2 invalid.";

pub(crate) const PLAN_EXAMPLES: &str = "\
Examples:
  copili plan pipeline.yaml
  copili plan pipeline.yaml --environment PROD
  copili plan pipeline.yaml --only load_genes,load_proteins --skip cleanup
  copili plan pipeline.yaml --service-only
  copili plan pipeline.yaml --format json | jq '.levels'

Secret values (registry passwords, env_vars values) are shown as ****.
Exit codes: 0 ok, 2 invalid input or usage.";

pub(crate) const RUN_EXAMPLES: &str = "\
Examples:
  copili run pipeline.yaml
  copili run pipeline.yaml --engine docker --jobs 4 --fail-fast
  copili run pipeline.yaml --only load_genes --report run.json
  copili run pipeline.yaml --set-env NEO4J_URL=bolt://neo4j:7687 --label team=data
  copili run pipeline.yaml --dry-run

Ctrl-C or SIGTERM stops the running containers (grace period --stop-timeout, a second
Ctrl-C kills at once) and removes everything copili created.
Exit codes: 0 all succeeded, 1 a container failed or was cancelled, 2 invalid input,
3 engine unavailable, 130/143 interrupted by SIGINT/SIGTERM.";

pub(crate) const GRAPH_EXAMPLES: &str = "\
Examples:
  copili graph pipeline.yaml | dot -Tsvg > pipeline.svg
  copili graph pipeline.yaml --format mermaid > pipeline.mmd
  copili graph pipeline.yaml --format svg > pipeline.svg
  copili graph pipeline.yaml --format svg --report run.json > run.svg

Containers left out by the selection are drawn dashed, with the reason.";

pub(crate) const REPORT_EXAMPLES: &str = "\
Examples:
  copili run pipeline.yaml --report run.json
  copili report run.json -o run.html
  copili report run.json -o run.html --state-dir .copili

The page is one file (styles, script and graph inline) that opens from file:// with no network.";
