//! Golden cell ids: the resolved options of every model (defaults filled in, serialised by the
//! typed configs in the model folders) and of every strategy are hashed into each cell's id, so
//! the ids of the reference experiments must equal those of their stored manifests. A
//! deliberate config change updates the reference in the same commit, saying why.
//!
//! `tests/fixtures/cell_ids_b0a9e61.json` holds the ids of the other shipped experiments
//! (`baselines` with its presets, `hillstrom`, `gpu_check`) as written to their manifests by
//! `htl run` at revision b0a9e61, before the model zoo; their `htlnet` ids were updated
//! deliberately by issue 12 (HTLNet's `tau_factor` / `tau_every` became `tau_anneal`, and
//! `stop_grad: true` now detaches le_j too), the other models' ids are unchanged.

use std::path::Path;

use htlbench::config::load_experiment;

fn ids_of(experiment: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exp = load_experiment(&root.join(format!("experiments/{experiment}.yaml")))
        .unwrap_or_else(|e| panic!("{experiment}: {e}"));
    let mut ids: Vec<String> = exp.cells.iter().map(|c| c.id()).collect();
    ids.sort();
    ids
}

fn check(experiment: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text =
        std::fs::read_to_string(root.join(format!("results/reference/{experiment}/manifest.json")))
            .unwrap();
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut want: Vec<String> = manifest["cell_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(ids_of(experiment), want, "{experiment}: cell ids changed");
}

#[test]
fn quickstart_cell_ids_equal_the_reference_manifest() {
    check("quickstart");
}

#[test]
fn htlnet_ablations_cell_ids_equal_the_reference_manifest() {
    check("htlnet_ablations");
}

#[test]
fn htlnet_ablations_paper_cell_ids_equal_the_reference_manifest() {
    check("htlnet_ablations_paper");
}

#[test]
fn other_shipped_experiments_keep_their_cell_ids() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("tests/fixtures/cell_ids_b0a9e61.json")).unwrap();
    let golden: std::collections::BTreeMap<String, Vec<String>> =
        serde_json::from_str(&text).unwrap();
    assert_eq!(golden.len(), 3);
    for (experiment, mut want) in golden {
        want.sort();
        assert_eq!(ids_of(&experiment), want, "{experiment}: cell ids changed");
    }
}
