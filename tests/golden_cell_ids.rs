//! Golden cell ids. A cell id is a hash of the resolved cell config (model options with
//! defaults, strategy, training options, data spec, seed), so a refactor that changes a
//! default, a field name or the serialised form of a config would silently rename every
//! stored cell — and `htl run` would retrain them all.
//!
//! 1. Every shipped experiment (`experiments/*.yaml`) keeps the ids in
//!    `tests/fixtures/cell_ids.json`. A deliberate config change rewrites that file in the
//!    same commit and says why: `HTL_BLESS_CELL_IDS=1 cargo test --release --test
//!    golden_cell_ids` writes the current ids.
//! 2. The reference runs listed in [`CURRENT`] (`results/reference/<name>/manifest.json`)
//!    hold the ids their experiment expands to today, so those results are those of the
//!    current configuration (re-run a reference after a deliberate change). A reference run
//!    not listed predates a config change; README "Results" says at which revision it was
//!    made.
//!
//! History of deliberate changes: issue 12 (HTLNet's temperature options became
//! `tau_anneal`, `stop_grad` semantics), issue 13 (`shared`, `batch_norm`, per-layer
//! `dropout`, `loss_reduction`, `weight_decay_on`, MetaBalance's `granularity` are in every
//! resolved config).

use std::collections::BTreeMap;
use std::path::Path;

use htlbench::config::load_experiment;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Ids of `experiments/<name>.yaml`, in expansion order.
fn ids_of(experiment: &Path) -> Vec<String> {
    let exp =
        load_experiment(experiment).unwrap_or_else(|e| panic!("{}: {e}", experiment.display()));
    exp.cells.iter().map(|c| c.id()).collect()
}

fn shipped() -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(root().join("experiments"))
        .unwrap()
        .flatten()
    {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "yaml") {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            out.insert(name, ids_of(&p));
        }
    }
    out
}

#[test]
fn shipped_experiments_keep_their_golden_cell_ids() {
    let path = root().join("tests/fixtures/cell_ids.json");
    let now = shipped();
    if std::env::var_os("HTL_BLESS_CELL_IDS").is_some() {
        let text = serde_json::to_string_pretty(&now).unwrap();
        std::fs::write(&path, text + "\n").unwrap();
        return;
    }
    let golden: BTreeMap<String, Vec<String>> =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(
        golden.keys().collect::<Vec<_>>(),
        now.keys().collect::<Vec<_>>(),
        "the shipped experiments changed; if deliberate, bless {}",
        path.display()
    );
    for (name, want) in &golden {
        assert_eq!(
            &now[name],
            want,
            "cell ids of experiments/{name}.yaml changed; if deliberate, rewrite {} in the same commit (HTL_BLESS_CELL_IDS=1) and say why",
            path.display()
        );
    }
    assert_eq!(golden["quickstart"].len(), 18);
}

/// Reference runs made with the current configuration.
const CURRENT: &[&str] = &[
    "quickstart",
    "htlnet_ablations",
    "htlnet_ablations_paper",
    "baselines",
    "aliexpress_sample",
    "ali_ccp_sample",
    "hillstrom_peer",
    "dependence",
];

#[test]
fn reference_runs_hold_the_ids_of_the_current_configuration() {
    let dir = root().join("results/reference");
    let mut checked = 0;
    for name in CURRENT {
        let manifest = dir.join(name).join("manifest.json");
        let text = std::fs::read_to_string(&manifest)
            .unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        let m: serde_json::Value = serde_json::from_str(&text).unwrap();
        let exp_file = m["experiment_file"].as_str().unwrap();
        let name = Path::new(exp_file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let path = root().join("experiments").join(format!("{name}.yaml"));
        let stored: Vec<String> = m["cell_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            ids_of(&path),
            stored,
            "{} holds other cell ids than experiments/{name}.yaml expands to today: re-run the reference",
            manifest.display()
        );
        checked += 1;
    }
    assert_eq!(checked, CURRENT.len());
}
