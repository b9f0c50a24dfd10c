//! Swarm placement constraints (`placement: [node.labels.disk==ssd]`), parsed once by the loader
//! into [`Placement`]: the swarm backend passes each on as `--constraint` text (its
//! [`Display`](fmt::Display)), the Argo exporter maps attribute and operator to node labels.

use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use crate::load::PLACEMENT_SYNTAX;

/// `ATTRIBUTE==VALUE` or `ATTRIBUTE!=VALUE`, the operator captured.
static PLACEMENT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("^{PLACEMENT_SYNTAX}$")).expect("valid regex"));

/// One placement constraint: the nodes whose `attribute` is (or is not) `value`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Placement {
    /// The node attribute, as swarm names it: `node.labels.disk`, `node.hostname`, `node.role`.
    pub attribute: String,
    /// Whether the attribute must equal the value or differ from it.
    pub op: PlacementOp,
    /// The value compared with, without surrounding spaces.
    pub value: String,
}

/// As its constraint text (`node.labels.disk==ssd`), in the state's description hash.
impl serde::Serialize for Placement {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The comparison of a [`Placement`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PlacementOp {
    /// `==`: only nodes whose attribute has the value.
    Eq,
    /// `!=`: only nodes whose attribute has another value (or none).
    Ne,
}

/// A text that is no `ATTRIBUTE==VALUE` or `ATTRIBUTE!=VALUE`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected `ATTRIBUTE==VALUE` or `ATTRIBUTE!=VALUE`")]
pub struct InvalidPlacement;

impl FromStr for Placement {
    type Err = InvalidPlacement;

    /// Reads `ATTRIBUTE==VALUE` or `ATTRIBUTE!=VALUE`, spaces around the parts allowed.
    fn from_str(text: &str) -> Result<Placement, InvalidPlacement> {
        let operator = PLACEMENT.captures(text).and_then(|captures| captures.get(1)).ok_or(InvalidPlacement)?;
        let op = if operator.as_str() == "==" { PlacementOp::Eq } else { PlacementOp::Ne };
        Ok(Placement {
            attribute: text[..operator.start()].trim().to_string(),
            op,
            value: text[operator.end()..].trim().to_string(),
        })
    }
}

impl fmt::Display for PlacementOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlacementOp::Eq => "==",
            PlacementOp::Ne => "!=",
        })
    }
}

/// The constraint as docker's `--constraint` reads it: `node.labels.disk==ssd`.
impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.attribute, self.op, self.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constraints_are_read_into_their_parts_and_written_back_compactly() {
        let placement: Placement = " node.role != manager ".parse().expect("valid");
        assert_eq!(
            placement,
            Placement { attribute: "node.role".into(), op: PlacementOp::Ne, value: "manager".into() }
        );
        assert_eq!(placement.to_string(), "node.role!=manager");
        let placement: Placement = "node.labels.disk==ssd".parse().expect("valid");
        assert_eq!(placement.op, PlacementOp::Eq);
        assert_eq!(placement.to_string(), "node.labels.disk==ssd");
        // The value may hold an operator of its own: the first one splits.
        let placement: Placement = "node.labels.expr!=a==b".parse().expect("valid");
        assert_eq!(
            (placement.attribute.as_str(), placement.op, placement.value.as_str()),
            ("node.labels.expr", PlacementOp::Ne, "a==b")
        );
        for invalid in ["ssd", "==ssd", "node.labels.disk=ssd", "node.labels.disk==", "a b==c"] {
            assert_eq!(invalid.parse::<Placement>(), Err(InvalidPlacement), "{invalid}");
        }
    }
}
