//! Renderings of a pipeline and its plan for people and programs: `plan` as text or JSON,
//! `graph` as DOT, Mermaid or SVG. Pure functions from data to strings; only the binary writes.

pub mod graph;
pub mod options;
pub mod plan;
mod plan_text;
pub mod svg;
