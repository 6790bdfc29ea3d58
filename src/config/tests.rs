use super::*;

fn parse(text: &str) -> Result<Experiment, ConfigError> {
    parse_experiment(text, Path::new("exp.yaml"))
}

const BASE: &str = "dataset: {synthetic: {rows: 1000}}\nseeds: [1, 2]\n";

#[test]
fn cells_are_variants_times_seeds_with_the_constant_row_first() {
    let e = parse(&format!(
        "{BASE}variants: [{{model: htlnet}}, {{label: SB, model: shared_bottom}}]\n"
    ))
    .unwrap();
    assert_eq!(e.variants, vec!["constant", "htlnet", "SB"]);
    assert_eq!(e.cells.len(), 6);
    assert_eq!(e.name, "exp");
    assert!(e.cells[0].id().starts_with("constant-s1-"));
}

#[test]
fn ids_are_stable_when_unrelated_variants_are_added_or_keys_reordered() {
    let a = parse(&format!(
        "{BASE}variants: [{{label: A, model: htlnet, options: {{leu: false, ifu: concat}}}}]\n"
    ))
    .unwrap();
    let b = parse(&format!(
        "{BASE}variants: [{{label: Z, model: shared_bottom}}, {{options: {{ifu: concat, leu: false}}, model: htlnet, label: A}}]\n"
    ))
    .unwrap();
    let ida: Vec<String> = a
        .cells
        .iter()
        .filter(|c| c.variant == "A")
        .map(CellConfig::id)
        .collect();
    let idb: Vec<String> = b
        .cells
        .iter()
        .filter(|c| c.variant == "A")
        .map(CellConfig::id)
        .collect();
    assert_eq!(ida, idb);
    // A different option is a different cell.
    let c = parse(&format!(
        "{BASE}variants: [{{label: A, model: htlnet, options: {{leu: true, ifu: concat}}}}]\n"
    ))
    .unwrap();
    assert_ne!(c.cells[2].id(), a.cells[2].id());
}

#[test]
fn base_block_is_inherited_and_overridden_key_by_key() {
    let e = parse(&format!(
        "{BASE}base: {{model: htlnet, options: {{embed_dim: 8, leu: false}}, grad: pcgrad, train: {{lr: 0.01}}}}\nvariants: [{{label: a}}, {{label: b, options: {{leu: true}}, grad: sum, train: {{epochs: 3}}}}]\n"
    ))
    .unwrap();
    let a = e.cells.iter().find(|c| c.variant == "a").unwrap();
    let b = e.cells.iter().find(|c| c.variant == "b").unwrap();
    assert_eq!(a.options["embed_dim"], serde_yaml::Value::from(8));
    assert_eq!(a.options["leu"], serde_yaml::Value::from(false));
    assert_eq!(b.options["embed_dim"], serde_yaml::Value::from(8));
    assert_eq!(b.options["leu"], serde_yaml::Value::from(true));
    assert_eq!(a.grad.name(), "pcgrad");
    assert_eq!(b.grad.name(), "sum");
    assert_eq!((a.train.lr, a.train.epochs), (0.01, 10));
    assert_eq!((b.train.lr, b.train.epochs), (0.01, 3));
}

#[test]
fn grid_expands_to_the_cartesian_product_with_labels() {
    let e = parse(&format!(
        "{BASE}grid: {{train.lr: [0.001, 0.01]}}\nvariants: [{{label: H, model: htlnet, grad: htl, grid: {{embed_dim: [4, 8], grad.gamma: [0.5]}}}}]\n"
    ))
    .unwrap();
    assert_eq!(
        e.variants,
        vec![
            "constant",
            "H [embed_dim=4, gamma=0.5, lr=0.001]",
            "H [embed_dim=4, gamma=0.5, lr=0.01]",
            "H [embed_dim=8, gamma=0.5, lr=0.001]",
            "H [embed_dim=8, gamma=0.5, lr=0.01]",
        ]
    );
    let c = e
        .cells
        .iter()
        .find(|c| c.variant == "H [embed_dim=8, gamma=0.5, lr=0.01]")
        .unwrap();
    assert_eq!(c.train.lr, 0.01);
    assert_eq!(c.options["embed_dim"], serde_yaml::Value::from(8));
    assert_eq!(
        c.grad,
        GradSpec::Htl {
            alpha: 1.0,
            gamma: 0.5,
            clip: 10.0,
            clip_low: None
        }
    );
}

#[test]
fn grid_keys_are_validated_against_the_model() {
    let e = parse(&format!(
        "{BASE}variants: [{{model: htlnet, grid: {{embed_dimm: [4]}}}}]\n"
    ))
    .unwrap_err();
    assert!(e.0.starts_with("exp.yaml: key `variants[0].options` (model `htlnet`): unknown field `embed_dimm`, expected one of `architecture`, `embed_dim`"), "{e}");
    let e = parse(&format!(
        "{BASE}variants: [{{model: htlnet, grid: {{train.epoch: [4]}}}}]\n"
    ))
    .unwrap_err();
    assert!(
        e.0.contains("key `variants[0].train`: unknown field `epoch`, expected one of `epochs`"),
        "{e}"
    );
    let e = parse(&format!(
        "{BASE}variants: [{{model: htlnet, grid: {{model.x: [4]}}}}]\n"
    ))
    .unwrap_err();
    assert_eq!(e.0, "exp.yaml: grid key `model.x`: the prefix must be `options.`, `train.`, `grad.` or `synthetic.` (or no prefix for a model option)");
}

#[test]
fn duplicate_labels_and_empty_lists_are_errors() {
    let e = parse(&format!(
        "{BASE}variants: [{{model: htlnet}}, {{model: htlnet}}]\n"
    ))
    .unwrap_err();
    assert_eq!(e.0, "exp.yaml: key `variants[1].label`: two variants are labelled `htlnet`; give each a distinct `label`");
    let e = parse("dataset: {synthetic: {rows: 1000}}\nvariants: []\n").unwrap_err();
    assert_eq!(
        e.0,
        "exp.yaml: `variants` is empty; list at least one model variant"
    );
    let e = parse(&format!(
        "{BASE}train: {{core_transform: log}}\nvariants: [{{model: htlnet}}]\n"
    ))
    .unwrap_err();
    assert_eq!(e.0, "exp.yaml: key `train`: unknown `core_transform` `log`; valid: standardize, log1p_standardize, log1p, none");
}

#[test]
fn shipped_experiments_parse() {
    for f in [
        "quickstart",
        "htlnet_ablations",
        "baselines",
        "hillstrom",
        "gpu_check",
    ] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("experiments/{f}.yaml"));
        let e = load_experiment(&p).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(e.cells.len() >= 4, "{f}");
    }
}

#[test]
fn presets_fill_options_and_training_and_user_keys_win() {
    let e = parse(&format!(
        "{BASE}variants: [{{label: M, model: mmoe, preset: mtreclib, options: {{dropout: 0.1}}, train: {{lr: 0.005}}}}]\n"
    ))
    .unwrap();
    let c = e.cells.iter().find(|c| c.variant == "M").unwrap();
    assert_eq!(c.options["embed_dim"], serde_yaml::Value::from(128));
    assert_eq!(c.options["dropout"], serde_yaml::Value::from(0.1));
    assert_eq!(c.train.batch_size, 2048);
    assert_eq!(c.train.lr, 0.005);
    assert_eq!(c.preset.as_deref(), Some("mtreclib"));
    let e = parse(&format!(
        "{BASE}variants: [{{model: mmoe, preset: fuxictr}}]\n"
    ))
    .unwrap_err();
    assert!(
        e.0.starts_with("exp.yaml: key `variants[0].preset`: "),
        "{e}"
    );
    assert!(
        e.0.contains("mtreclib") && e.0.contains("aitm_official"),
        "{e}"
    );
}

/// One precedence for every key: defaults < preset < experiment `train:` / `base:` <
/// variant. The preset's lr no longer overrides the experiment's; its other training keys
/// apply and are announced in one note per variant.
#[test]
fn preset_training_keys_sit_below_the_experiments_train() {
    let e = parse(&format!(
        "{BASE}train: {{lr: 0.002}}\nvariants: [{{label: M, model: mmoe, preset: mtreclib}}, {{label: P, model: mmoe}}, {{label: A, model: aitm, preset: aitm_official, train: {{patience: 3}}}}]\n"
    ))
    .unwrap();
    let m = e.cells.iter().find(|c| c.variant == "M").unwrap();
    assert_eq!(m.train.lr, 0.002);
    assert_eq!(m.train.weight_decay, 1e-6);
    assert_eq!(m.train.loss_reduction, "mean");
    assert_eq!(m.options["batch_norm"], serde_yaml::Value::from(true));
    let p = e.cells.iter().find(|c| c.variant == "P").unwrap();
    assert_eq!(p.train.loss_reduction, "sum");
    assert_eq!(p.options["batch_norm"], serde_yaml::Value::from(false));
    let a = e.cells.iter().find(|c| c.variant == "A").unwrap();
    assert_eq!(a.train.patience, 3);
    assert_eq!(a.train.batch_size, 2000);
    assert_eq!(a.train.weight_decay_on, vec!["embedding", "attention"]);
    assert_eq!(
        e.notes,
        vec![
            "note: `M`: preset `mtreclib` sets train loss_reduction: mean, weight_decay: 1e-6 (write them under `train:` to override)",
            "note: `A`: preset `aitm_official` sets train batch_size: 2000, weight_decay: 1e-6, weight_decay_on: [embedding, attention] (write them under `train:` to override)",
        ]
    );
    let err = parse(&format!(
        "{BASE}variants: [{{model: mmoe, preset: aitm_official}}]\n"
    ))
    .unwrap_err();
    assert_eq!(
        err.0,
        "exp.yaml: key `variants[0].preset`: preset `aitm_official` is the AITM authors' code (AITM.py), which has no model `mmoe`; it has: aitm"
    );
}

#[test]
fn monitor_and_core_transform_keep_their_yaml_spelling_in_the_cell_config() {
    let e = parse(&format!(
        "{BASE}train: {{monitor: click:auc, core_transform: log1p_standardize}}\nvariants: [{{model: htlnet}}]\n"
    ))
    .unwrap();
    let t = &e.cells[1].train;
    assert_eq!(
        t.monitor,
        Monitor::Task {
            task: "click".into(),
            metric: "auc".into()
        }
    );
    assert!(t.monitor.higher_is_better());
    assert_eq!(t.core_transform, CoreScale::Log1pStandardize);
    let v = serde_json::to_value(t).unwrap();
    assert_eq!(v["monitor"], "click:auc");
    assert_eq!(v["core_transform"], "log1p_standardize");
    let d = serde_json::to_value(TrainConfig::default()).unwrap();
    assert_eq!(
        (&d["monitor"], &d["core_transform"]),
        (&"all".into(), &"standardize".into())
    );
    assert!(!Monitor::All.higher_is_better());
}

#[test]
fn monitor_is_checked_against_the_synthetic_chain() {
    let e = parse(&format!(
        "{BASE}variants: [{{model: htlnet, train: {{monitor: watch_time:auc}}}}]\n"
    ))
    .unwrap_err();
    assert_eq!(
        e.0,
        "exp.yaml: key `variants[0].train.monitor`: `auc` scores binary tasks, but `watch_time` is regression in `watch_time:auc`; valid for `watch_time`: loss, nrmse, nmae, gini, spearman"
    );
    parse(&format!(
        "{BASE}train: {{monitor: long_view:loss}}\nvariants: [{{model: htlnet}}]\n"
    ))
    .unwrap();
}

#[test]
fn dataset_checks_that_need_no_data_run_when_the_experiment_is_read() {
    let e = parse("dataset: {synthetic: {rows: 0}}\nvariants: [{model: htlnet}]\n").unwrap_err();
    assert_eq!(
        e.0,
        "exp.yaml: invalid synthetic dataset: `synthetic.rows` must be at least 1"
    );
}

#[test]
fn loss_reduction_and_weight_decay_groups_are_checked() {
    let err = |t: &str| {
        parse(&format!("{BASE}train: {t}\nvariants: [{{model: mmoe}}]\n"))
            .unwrap_err()
            .0
    };
    assert_eq!(
        err("{loss_reduction: avg}"),
        "exp.yaml: key `train`: `loss_reduction: avg` is not valid; use one of: sum, mean"
    );
    assert_eq!(
        err("{weight_decay_on: [embeddings]}"),
        "exp.yaml: key `train`: `weight_decay_on: embeddings` is not a parameter group; use `[all]` or a list of: embedding, attention"
    );
    assert_eq!(
        err("{weight_decay: -1}"),
        "exp.yaml: key `train`: `weight_decay: -1` must be a finite number ≥ 0"
    );
}

#[test]
fn a_dataset_file_that_is_not_a_mapping_is_named() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("s.yaml");
    std::fs::write(&p, "hello\n").unwrap();
    let e = load_dataset_spec(&p).unwrap_err();
    assert_eq!(
        e.0,
        format!("{}: expected a mapping: an experiment (with `dataset` and `variants`) or a dataset spec (with `synthetic`, `preset` or `path`), found a string", p.display())
    );
}

#[test]
fn core_loss_is_left_out_of_the_cell_config_unless_ziln() {
    let e = parse(&format!(
        "{BASE}variants: [{{label: M, model: htlnet}}, {{label: Z, model: htlnet, train: {{core_loss: ziln, core_transform: none}}}}]\n"
    ))
    .unwrap();
    let mse = serde_json::to_value(&e.cells[2].train).unwrap();
    assert!(mse.get("core_loss").is_none(), "{mse}");
    let z = &e.cells[4].train;
    assert_eq!(z.core_loss, CoreLoss::Ziln);
    assert_eq!(serde_json::to_value(z).unwrap()["core_loss"], "ziln");
    let yaml = serde_yaml::to_string(&e.cells[4]).unwrap();
    assert!(yaml.contains("core_loss: ziln"), "{yaml}");
    // Writing the default changes nothing, so the id is that of a config without the key.
    let explicit = parse(&format!(
        "{BASE}variants: [{{label: M, model: htlnet, train: {{core_loss: mse}}}}]\n"
    ))
    .unwrap();
    assert_eq!(explicit.cells[2].id(), e.cells[2].id());
}

#[test]
fn core_loss_errors_name_the_key_the_value_and_the_fix() {
    let e = parse(&format!(
        "{BASE}train: {{core_loss: lognormal}}\nvariants: [{{model: htlnet}}]\n"
    ))
    .unwrap_err();
    assert_eq!(
        e.0,
        "exp.yaml: key `train`: unknown `core_loss` `lognormal`; valid: mse, ziln"
    );
    let e = parse(&format!(
        "{BASE}variants: [{{model: mmoe, train: {{core_loss: ziln}}}}]\n"
    ))
    .unwrap_err();
    assert_eq!(
        e.0,
        "exp.yaml: key `variants[0].train`: `core_loss: ziln` models the raw core value, so it needs `core_transform: none`, not `standardize`; write `core_transform: none` beside `core_loss: ziln`"
    );
    let e = parse(
        "dataset: {path: x.csv, tasks: [{name: visit, kind: binary}, {name: buy, kind: binary}]}\ntrain: {core_loss: ziln, core_transform: none}\nvariants: [{model: esmm}]\n",
    )
    .unwrap_err();
    assert_eq!(
        e.0,
        "exp.yaml: key `train`: `core_loss: ziln` is the loss of the core regression task, but the task chain (visit, buy) has none; remove `core_loss: ziln` or end the chain with a regression task"
    );
}
