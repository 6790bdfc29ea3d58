//! Issue 14's reproductions, read as an experiment: each is a one-line error naming the file,
//! the YAML key, the value and the valid range, before any data is loaded.

use std::path::Path;

use htlbench::config::parse_experiment;

const BASE: &str =
    "dataset: {synthetic: {rows: 3000, seed: 1}}\ntrain: {epochs: 1, batch_size: 512}\n";

fn err(variant: &str) -> String {
    let text = format!("{BASE}variants: [{variant}]\n");
    parse_experiment(&text, Path::new("exp.yaml"))
        .expect_err(variant)
        .to_string()
}

#[test]
fn strategy_options_out_of_range() {
    let clip = |v: &str| {
        format!(
            "exp.yaml: key `variants[0].grad`: `clip: {v}` must be ≥ 1 (weights are clipped to [1/clip, clip])"
        )
    };
    assert_eq!(
        err("{model: htlnet, grad: {name: htl, clip: 0}}"),
        clip("0")
    );
    assert_eq!(
        err("{model: htlnet, grad: {name: htl, clip: 0.5}}"),
        clip("0.5")
    );
    assert_eq!(
        err("{model: htlnet, grad: {name: htl, clip: -1}}"),
        clip("-1")
    );
    assert_eq!(
        err("{model: htlnet, grad: {name: htl, gamma: -1}}"),
        "exp.yaml: key `variants[0].grad`: `gamma: -1` must be in [0, 1]"
    );
    assert_eq!(
        err("{model: mmoe, grad: {name: metabalance, r: 2}}"),
        "exp.yaml: key `variants[0].grad`: `r: 2` must be in [0, 1)"
    );
    assert_eq!(
        err("{model: mmoe, grad: {name: metabalance, beta: 5}}"),
        "exp.yaml: key `variants[0].grad`: `beta: 5` must be in [0, 1)"
    );
}

#[test]
fn model_options_out_of_range() {
    let opt = |model: &str, msg: &str| {
        format!("exp.yaml: key `variants[0].options` (model `{model}`): {msg}")
    };
    assert_eq!(
        err("{model: htlnet, options: {embed_dim: 0}}"),
        opt("htlnet", "`embed_dim: 0` must be at least 1")
    );
    assert_eq!(
        err("{model: shared_bottom, options: {embed_dim: 0}}"),
        opt("shared_bottom", "`embed_dim: 0` must be at least 1")
    );
    for model in ["htlnet", "shared_bottom"] {
        assert_eq!(
            err(&format!("{{model: {model}, options: {{dropout: 1.0}}}}")),
            opt(model, "`dropout: 1` must be in [0, 1)")
        );
        assert_eq!(
            err(&format!("{{model: {model}, options: {{dropout: 1.5}}}}")),
            opt(model, "`dropout: 1.5` must be in [0, 1)")
        );
    }
    assert_eq!(
        err("{model: htlnet, options: {tower: [0]}}"),
        opt(
            "htlnet",
            "`tower: [0]` must be a non-empty list of widths, each at least 1"
        )
    );
    assert_eq!(
        err("{model: shared_bottom, options: {tower: [0]}}"),
        opt(
            "shared_bottom",
            "`tower: [0]` must be a list of widths, each at least 1"
        )
    );
    // Options from the grid are validated the same way.
    assert_eq!(
        err("{model: mmoe, grid: {n_experts: [2, 0]}}"),
        opt("mmoe", "`n_experts: 0` must be at least 1")
    );
}
