//! A grid over a synthetic generator key (`synthetic.<key>`): each point's cells carry
//! their own data set, the constant reference is repeated per data set, and bad keys or
//! values are one-line errors naming the grid key.

use std::path::Path;

use htlbench::config::parse_experiment;
use htlbench::data::{DatasetSpec, Funnel};

const SWEEP: &str = "dataset: {synthetic: {rows: 500, seed: 3, funnel: graded}}\nseeds: [1, 2]\ngrid: {synthetic.dependence: [0, 0.5]}\nvariants:\n  - {label: H, model: htlnet}\n  - {label: M, model: mmoe, grid: {train.lr: [0.01]}}\n";

fn dependence(d: &DatasetSpec) -> f64 {
    match d {
        DatasetSpec::Synthetic(s) => {
            assert_eq!(s.config.funnel, Funnel::Graded);
            assert_eq!(s.config.rows, 500);
            s.config.dependence
        }
        other => panic!("not synthetic: {other:?}"),
    }
}

#[test]
fn each_grid_point_gets_its_data_set_and_its_constant_row() {
    let e = parse_experiment(SWEEP, Path::new("sweep.yaml")).unwrap();
    assert_eq!(
        e.variants,
        vec![
            "constant [dependence=0]",
            "constant [dependence=0.5]",
            "H [dependence=0]",
            "H [dependence=0.5]",
            "M [dependence=0, lr=0.01]",
            "M [dependence=0.5, lr=0.01]",
        ]
    );
    assert_eq!(e.cells.len(), 12);
    for c in &e.cells {
        let want = if c.variant.contains("dependence=0.5") {
            0.5
        } else {
            0.0
        };
        assert_eq!(dependence(&c.dataset), want, "{}", c.variant);
    }
    // the data set is part of the id: the same variant and seed at two points differ
    let id = |v: &str| {
        e.cells
            .iter()
            .find(|c| c.variant == v && c.seed == 1)
            .unwrap()
            .id()
    };
    assert_ne!(
        id("H [dependence=0]").split('-').next_back(),
        id("H [dependence=0.5]").split('-').next_back()
    );
    // the experiment's own data set is the one written (default dependence 0.8)
    assert_eq!(dependence(&e.dataset), 0.8);
}

#[test]
fn without_a_synthetic_key_the_constant_row_is_unchanged() {
    let text = "dataset: {synthetic: {rows: 500}}\ngrid: {train.lr: [0.01, 0.02]}\nvariants: [{label: H, model: htlnet}]\n";
    let e = parse_experiment(text, Path::new("g.yaml")).unwrap();
    assert_eq!(e.variants, vec!["constant", "H [lr=0.01]", "H [lr=0.02]"]);
    assert!(e.cells.iter().all(|c| c.dataset == e.dataset));
}

fn err(text: &str) -> String {
    let e = parse_experiment(text, Path::new("bad.yaml"))
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\n'), "{e}");
    e
}

#[test]
fn bad_synthetic_grid_keys_and_values_are_named() {
    assert_eq!(
        err("dataset: {synthetic: {rows: 500}}\ngrid: {synthetic.dependence: [0, 1.5]}\nvariants: [{model: dnn}]\n"),
        "bad.yaml: grid key `synthetic.dependence`: value 1.5: invalid synthetic dataset: `synthetic.dependence` is 1.5; it must be in [0, 1]"
    );
    let e = err("dataset: {synthetic: {rows: 500}}\ngrid: {synthetic.chain: [[]]}\nvariants: [{model: dnn}]\n");
    assert!(
        e.starts_with("bad.yaml: grid key `synthetic.chain`: `chain` cannot vary in a grid (the task chain must be the same for every cell); use one of rows, "),
        "{e}"
    );
    let e = err("dataset: {synthetic: {rows: 500}}\ngrid: {synthetic.funnel: [strict, soft]}\nvariants: [{model: dnn}]\n");
    assert!(
        e.starts_with("bad.yaml: grid key `synthetic.funnel`: value soft: unknown variant `soft`, expected `strict` or `graded`"),
        "{e}"
    );
    assert_eq!(
        err("dataset: {path: x.csv, tasks: [{name: y, kind: regression}], numeric: [a]}\ngrid: {synthetic.rows: [10]}\nvariants: [{model: dnn}]\n"),
        "bad.yaml: grid key `synthetic.rows`: the data set is not synthetic; a `synthetic.` grid key needs `dataset: {synthetic: …}`"
    );
    assert_eq!(
        err("dataset: {synthetic: {rows: 500}}\nvariants: [{model: dnn, label: constant}]\n")
            .split(';')
            .next()
            .unwrap(),
        "bad.yaml: a variant is labelled `constant`, the label of the constant reference row"
    );
}
