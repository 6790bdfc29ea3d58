//! Golden cell ids: the cells of `experiments/quickstart.yaml` keep the ids stored in
//! `tests/fixtures/cell_ids_issue13.json` (written at issue 13, whose new options — `shared`,
//! `batch_norm`, per-layer `dropout`, `loss_reduction`, `weight_decay_on`, MetaBalance's
//! `granularity` — are part of every resolved config; `results/reference/quickstart` is re-run
//! with them).
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
    let manifest_path = root.join("tests/fixtures/cell_ids_issue13.json");
    let text = std::fs::read_to_string(&manifest_path).expect("golden ids exist");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("golden ids are JSON");
    let golden: Vec<&str> = manifest["quickstart"]
        .as_array()
        .expect("golden ids list `quickstart`")
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
