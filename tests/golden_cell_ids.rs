//! Golden cell ids: the cells of `experiments/quickstart.yaml` keep the ids stored in
//! `results/reference/quickstart/manifest.json`.
//!
//! A cell id is a hash of the resolved cell config, so a refactor that changes a default, a
//! field name or the serialised form of a config would silently rename every stored cell
//! (and `htl run` would retrain them all). A deliberate config change updates the golden
//! manifest in the same commit and says why.

use std::path::Path;

#[test]
fn quickstart_cell_ids_match_the_reference_manifest() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exp = htlbench::config::load_experiment(&root.join("experiments/quickstart.yaml"))
        .expect("experiments/quickstart.yaml loads");
    let manifest_path = root.join("results/reference/quickstart/manifest.json");
    let text = std::fs::read_to_string(&manifest_path).expect("reference manifest exists");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
    let golden: Vec<&str> = manifest["cell_ids"]
        .as_array()
        .expect("manifest has `cell_ids`")
        .iter()
        .map(|v| v.as_str().expect("cell id is a string"))
        .collect();
    let ids: Vec<String> = exp.cells.iter().map(|c| c.id()).collect();
    assert_eq!(
        ids, golden,
        "cell ids of experiments/quickstart.yaml changed; if deliberate, update {} in the same commit",
        manifest_path.display()
    );
    assert_eq!(golden.len(), 18);
}
