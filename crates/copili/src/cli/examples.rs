//! The examples at the end of some commands' help.

pub(super) const MAN_EXAMPLES: &str = "Examples:
  copili man ~/.local/share/man/man1 && man copili-run
  sudo copili man /usr/local/share/man/man1";

pub(super) const EXPORT_ARGO_EXAMPLES: &str = "Examples:
  copili export argo pipeline.yaml -o workflow.yaml
  kubectl create -f workflow.yaml    # the Workflow runs once; the CronWorkflows stay
  copili export argo pipeline.yaml --secrets-manifest secrets.yaml --namespace argo
  copili export argo pipeline.yaml -o workflow.yaml --secrets-manifest - | kubectl apply -f -
  copili export argo pipeline.yaml --volume-map ./exports=kg-exports --timezone Europe/Berlin

Exit codes: 0 written, 2 invalid input (also a schedule Argo cannot express, or -o and
--secrets-manifest naming the same file).";

pub(super) const VALIDATE_EXAMPLES: &str = "\
Examples:
  copili validate pipeline.yaml
  copili validate --strict-env --env-file prod.env pipeline.yaml
  cat pipeline.json | copili validate -
  copili validate --for swarm pipeline.yaml

Exit codes: 0 valid (warnings may be printed), 2 invalid.";

pub(super) const GRAPH_EXAMPLES: &str = "\
Examples:
  copili graph pipeline.yaml | dot -Tsvg > pipeline.svg
  copili graph pipeline.yaml --format mermaid > pipeline.mmd
  copili graph pipeline.yaml --format svg > pipeline.svg
  copili graph pipeline.yaml --format svg --report run.json > run.svg

Containers left out by the selection are drawn dashed, with the reason.";

pub(super) const REPORT_EXAMPLES: &str = "\
Examples:
  copili run pipeline.yaml --report run.json
  copili report run.json -o run.html
  copili report run.json -o run.html --state-dir .copili

The page is one file (styles, script and graph inline) that opens from file:// with no network.";
