//! Tests of `matrix:` expansion.

use super::super::tests::*;

const THREE: &str = "p:\n  - name: load\n    image_repo: busybox\n    tag: '${{ matrix.tag }}'\n    matrix:\n      source: [genes, papers, pathways]\n      tag: ['1', '2']\n    command: [echo, '${{ matrix.source }}', '${{ steps.x.outputs.K }}']\n    env_vars: {SRC: '${{ matrix.source }}'}\n    desc: loads ${{ matrix.source }}\n    sidecars: [{name: db, image_repo: redis, labels: {src: '${{ matrix.source }}'}}]\n  - name: link\n    image_repo: busybox\n    dependencies: [prep, load]\n  - name: prep\n    image_repo: busybox\n";

#[test]
fn expands_into_the_product_in_the_order_written() {
    let p = ok(THREE);
    let names: Vec<&str> = p.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "load-genes-1",
            "load-genes-2",
            "load-papers-1",
            "load-papers-2",
            "load-pathways-1",
            "load-pathways-2",
            "link",
            "prep"
        ]
    );
    let first = &p.containers[1];
    assert_eq!(first.image(), "busybox:2");
    assert_eq!(first.command, ["echo", "genes", "${{ steps.x.outputs.K }}"]);
    assert_eq!(first.env_vars[0].1, crate::Secret::new("genes".to_string()));
    assert_eq!(first.desc.as_deref(), Some("loads genes"));
    assert_eq!(first.sidecars[0].name, "db");
    assert_eq!(first.sidecars[0].labels, [("src".to_string(), "genes".to_string())]);
    let origin = first.matrix.as_deref().expect("an expansion");
    assert_eq!(origin.base, "load");
    assert_eq!(origin.to_string(), "matrix load: source=genes, tag=2");
    assert!(p.containers[6].matrix.is_none());
}

#[test]
fn a_dependency_on_the_description_is_one_on_every_expansion() {
    let p = ok(THREE);
    let link = &p.containers[6];
    assert_eq!(link.dependencies.len(), 7);
    assert_eq!(link.dependencies[0], "prep");
    assert_eq!(link.dependencies[1..], p.containers[..6].iter().map(|c| c.name.clone()).collect::<Vec<_>>()[..]);
    assert_eq!(link.spans.dependencies.len(), 7);
    // A dependency of the description is one of each expansion.
    let p =
        ok("p:\n  - {name: a, image_repo: x}\n  - {name: b, image_repo: x, dependencies: [a], matrix: {v: [1, 2]}}\n");
    assert!(p.containers[1..].iter().all(|c| c.dependencies == ["a"]));
}

#[test]
fn a_name_with_an_expression_is_kept() {
    let p = ok("p:\n  - {name: 'load_${{ matrix.v }}', image_repo: x, matrix: {v: [a, b]}}\n");
    let names: Vec<&str> = p.containers.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["load_a", "load_b"]);
}

#[test]
fn problems_common_to_every_expansion_are_reported_once() {
    let errs = errors("p:\n  - {name: a, image_repo: x, retries: -1, matrix: {v: [b, c, d]}}\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
}

#[test]
fn bad_matrices_are_located_errors() {
    let cases = [
        ("matrix: {v: []}", "the matrix key `v` has no values"),
        ("matrix: {}", "`matrix` is empty: it must have at least one key"),
        ("matrix: [a]", "`matrix` must be a mapping of keys to lists of values, found a list"),
        ("matrix: {v: a}", "the matrix key `v` must hold a list of values, found a string"),
        ("matrix: {1v: [a]}", "invalid matrix key `1v`: a key starts with a letter or `_` and holds letters, digits and `_`"),
        ("matrix: {v: ['a b']}", "invalid matrix value `a b`: it becomes part of a container name, so it holds only letters, digits, `_`, `.` and `-`"),
        ("matrix: {v: [a, a]}", "duplicate matrix value `a` of `v`"),
        ("matrix: {v: [a]}\n    command: '${{ matrix.w }}'", "unknown matrix key `w` in `${{ matrix.w }}` (at character 1 of the value)"),
        ("command: 'x ${{ matrix.w }}'", "`${{ matrix.w }}` (at character 3 of the value) is used, but `a` has no `matrix`"),
    ];
    for (props, expected) in cases {
        assert_eq!(errors(&container(&format!("    {props}\n"))), [expected], "{props}");
    }
    let placed = placed_errors("p:\n  - name: a\n    image_repo: x\n    matrix:\n      v: [ok, 'b/c']\n");
    assert_eq!((placed[0].1, placed[0].2), (5, 15), "{placed:?}");
    // On a sidecar.
    let errs = errors(&sidecar("        matrix: {v: [a]}\n"));
    assert!(errs[0].starts_with("a sidecar cannot have `matrix`"), "{errs:?}");
}

#[test]
fn the_size_is_bounded() {
    let values: Vec<String> = (0..40).map(|i| i.to_string()).collect();
    let list = values.join(", ");
    let errs = errors(&container(&format!("    matrix: {{a: [{list}], b: [{list}]}}\n")));
    assert_eq!(errs, ["`matrix` expands into 1600 containers, more than the 1000 allowed"]);
}

#[test]
fn names_after_expansion_stay_unique() {
    let errs = errors("p:\n  - {name: a, image_repo: x, matrix: {v: [b]}}\n  - {name: a-b, image_repo: x}\n");
    assert_eq!(errs, ["duplicate name `a-b`: it is already a container"]);
    let errs = errors("p:\n  - {name: a, image_repo: x, matrix: {v: [b]}}\n  - {name: a, image_repo: x}\n");
    assert_eq!(errs, ["duplicate name `a`: it is already the name of a `matrix` description"]);
}

#[test]
fn a_description_without_a_name_is_reported_once() {
    let errs = errors("p:\n  - {image_repo: x, matrix: {v: [b, c]}}\n");
    assert_eq!(errs, ["missing required property `name`"]);
}

#[test]
fn a_completed_dependency_on_the_description_is_one_on_every_expansion() {
    let p = ok("p:\n  - {name: load, image_repo: x, matrix: {v: [a, b]}}\n  - name: clean\n    image_repo: x\n    dependencies: [{name: load, condition: completed}]\n");
    let clean = &p.containers[2];
    assert_eq!(clean.dependencies, ["load-a", "load-b"]);
    for name in ["load-a", "load-b"] {
        assert_eq!(clean.condition_of(name), crate::DependencyCondition::Completed, "{name}");
    }
}
