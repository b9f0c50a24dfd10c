//! Where each node goes: its column is its topological level (the longest chain of
//! dependencies before it), its row within the column comes from barycenter sweeps, which
//! put a node near the nodes it is linked to and so reduce edge crossings.
//!
//! Deterministic: the first order is the pipeline's, every sort is stable, ties keep the
//! current order, and the number of sweeps is fixed.

use super::Graph;

/// Sweeps down and back up the levels: enough to settle the graphs of real pipelines.
const SWEEPS: usize = 4;

/// The position of every node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The column of each node (its level), by node index.
    pub level: Vec<usize>,
    /// The row of each node within its column, by node index.
    pub row: Vec<usize>,
    /// The nodes of each column, top to bottom.
    pub columns: Vec<Vec<usize>>,
}

impl Layout {
    /// The number of rows of the tallest column.
    pub fn rows(&self) -> usize {
        self.columns.iter().map(Vec::len).max().unwrap_or(0)
    }
}

/// Lays `graph` out.
pub fn layout(graph: &Graph) -> Layout {
    let level = levels(graph);
    let count = level.iter().copied().max().map_or(0, |l| l + 1);
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); count];
    for (node, &l) in level.iter().enumerate() {
        columns[l].push(node);
    }
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); graph.nodes.len()];
    for (node, n) in graph.nodes.iter().enumerate() {
        for &dep in &n.depends_on {
            if dep < dependents.len() {
                dependents[dep].push(node);
            }
        }
    }
    let mut row = vec![0usize; graph.nodes.len()];
    let renumber = |columns: &[Vec<usize>], row: &mut [usize]| {
        for column in columns {
            for (r, &node) in column.iter().enumerate() {
                row[node] = r;
            }
        }
    };
    renumber(&columns, &mut row);
    for _ in 0..SWEEPS {
        for c in 1..columns.len() {
            order_by_barycenter(&mut columns[c], &row, |node| &graph.nodes[node].depends_on);
            renumber(&columns, &mut row);
        }
        for c in (0..columns.len().saturating_sub(1)).rev() {
            order_by_barycenter(&mut columns[c], &row, |node| &dependents[node]);
            renumber(&columns, &mut row);
        }
    }
    Layout { level, row, columns }
}

/// The level of each node: 0 without dependencies, else one more than its deepest dependency.
/// The graph is acyclic (the planner refuses cycles); a cycle or a bad index here still ends.
fn levels(graph: &Graph) -> Vec<usize> {
    let n = graph.nodes.len();
    let mut level = vec![0usize; n];
    // Relaxation bounded by the number of nodes: exact on a DAG, finite on anything.
    for _ in 0..n {
        let mut changed = false;
        for (node, spec) in graph.nodes.iter().enumerate() {
            let deepest = spec.depends_on.iter().filter(|&&d| d < n && d != node).map(|&d| level[d] + 1).max();
            if let Some(l) = deepest {
                if l > level[node] && l < n {
                    level[node] = l;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    level
}

/// Sorts `column` by the mean row of each node's neighbours (a node without any keeps its
/// row), stably.
fn order_by_barycenter<'a>(column: &mut [usize], row: &[usize], neighbours: impl Fn(usize) -> &'a Vec<usize>) {
    let mut keyed: Vec<(f64, usize)> = column
        .iter()
        .map(|&node| {
            let linked = neighbours(node);
            let key = if linked.is_empty() {
                row[node] as f64
            } else {
                linked.iter().map(|&l| row.get(l).copied().unwrap_or(0) as f64).sum::<f64>() / linked.len() as f64
            };
            (key, node)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
    for (slot, (_, node)) in column.iter_mut().zip(keyed) {
        *slot = node;
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Graph, Node};
    use super::*;

    fn graph(deps: &[&[usize]]) -> Graph {
        let nodes = deps
            .iter()
            .enumerate()
            .map(|(i, d)| Node {
                name: format!("c{i}"),
                image: "img:latest".into(),
                depends_on: d.to_vec(),
                service: false,
                sidecars: Vec::new(),
                excluded: None,
                will_be_cancelled: false,
                status: None,
                duration_s: None,
                matrix: None,
            })
            .collect();
        Graph { title: "t".into(), nodes }
    }

    #[test]
    fn levels_are_the_longest_chain_of_dependencies() {
        let g = graph(&[&[], &[0], &[1], &[0, 2], &[]]);
        assert_eq!(layout(&g).level, vec![0, 1, 2, 3, 0]);
    }

    #[test]
    fn barycenter_sweeps_uncross_two_chains() {
        // a0 -> b1, a2 -> b3 listed crosswise: level 1 starts as [b3?]; the sweeps put each
        // dependent beside its dependency.
        let g = graph(&[&[], &[], &[1], &[0]]);
        let l = layout(&g);
        assert_eq!(l.row[2], l.row[1]);
        assert_eq!(l.row[3], l.row[0]);
    }

    #[test]
    fn a_cycle_or_a_bad_index_still_ends() {
        let g = graph(&[&[1], &[0], &[7]]);
        let l = layout(&g);
        assert_eq!(l.level.len(), 3);
    }
}
