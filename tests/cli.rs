//! The `htl` binary end to end: exact error text for bad input, a tiny experiment, resume,
//! byte-identical reruns and predictions.

use std::path::{Path, PathBuf};
use std::process::Command;

fn htl() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_htl"));
    // Keep the dataset cache out of the repository.
    c.env(
        "HTL_CACHE_DIR",
        std::env::temp_dir().join("htlbench-test-cache"),
    );
    c
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data")
        .join(name)
}

/// Writes `yaml` to `<dir>/<name>.yaml`, runs `htl run` on it and returns (exit code, stderr).
fn run_yaml(dir: &Path, name: &str, yaml: &str) -> (i32, String, String) {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).unwrap();
    let out = htl()
        .current_dir(dir)
        .args(["run", &format!("{name}.yaml"), "--quiet", "--out"])
        .arg(dir.join("out"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).trim().to_string(),
        String::from_utf8_lossy(&out.stdout).to_string(),
    )
}

fn tabular(file: &str, extra: &str) -> String {
    format!(
        "dataset:\n  path: {}\n  categorical: [device, city]\n  numeric: [age, income]\n  tasks: [{{name: visit, kind: binary}}, {{name: buy, kind: binary}}, {{name: spend, kind: regression}}]\n{extra}variants: [{{model: shared_bottom}}]\ntrain: {{epochs: 1}}\n",
        fixture(file).display()
    )
}

fn expect_error(name: &str, yaml: &str, expected: &str) {
    let d = tempfile::tempdir().unwrap();
    let (code, err, _) = run_yaml(d.path(), name, yaml);
    assert_eq!(code, 2, "{name}: exit code; stderr: {err}");
    assert_eq!(err, expected, "{name}");
    assert!(!err.contains("panicked"));
}

#[test]
fn yaml_syntax_error_names_line_and_column() {
    expect_error(
        "syntax",
        "name: x\ndataset: {synthetic: {rows: 1000}\nvariants: [{model: htlnet}]\n",
        "htl: error: syntax.yaml: did not find expected ',' or '}' at line 3 column 1, while parsing a flow mapping at line 2 column 10",
    );
}

#[test]
fn unknown_top_level_key_lists_valid_ones() {
    expect_error(
        "key",
        "dataset: {synthetic: {rows: 1000}}\nvariants: [{model: htlnet}]\nepochz: 3\n",
        "htl: error: key.yaml: unknown field `epochz`, expected one of `name`, `description`, `dataset`, `train`, `seeds`, `device`, `constant_reference`, `base`, `variants`, `grid`, `executor`, `slurm`, `external` at line 3 column 1",
    );
}

#[test]
fn unknown_model_lists_registered_ones() {
    let d = tempfile::tempdir().unwrap();
    let (code, err, _) = run_yaml(
        d.path(),
        "model",
        "dataset: {synthetic: {rows: 1000}}\nvariants: [{model: htlnett}]\n",
    );
    assert_eq!(code, 2);
    let names: Vec<&str> = htlbench::zoo::registry().iter().map(|e| e.name).collect();
    assert_eq!(
        err,
        format!(
            "htl: error: model.yaml: key `variants[0].model`: unknown model `htlnett` (did you mean `htlnet`?); registered models: {}",
            names.join(", ")
        )
    );
}

#[test]
fn unknown_model_option_lists_valid_ones() {
    expect_error(
        "opt",
        "dataset: {synthetic: {rows: 1000}}\nvariants: [{model: htlnet, options: {lue: false}}]\n",
        "htl: error: opt.yaml: key `variants[0].options` (model `htlnet`): unknown field `lue`, expected one of `architecture`, `embed_dim`, `tower`, `dropout`, `rep_layer`, `leu`, `label_dim`, `tau_start`, `tau_min`, `tau_anneal`, `ifu`, `ifu_rep`, `ifu_dim`, `stop_grad`, `bottom`",
    );
}

#[test]
fn bad_enumerated_option_names_valid_values() {
    expect_error(
        "ifu",
        "dataset: {synthetic: {rows: 1000}}\nvariants: [{model: htlnet, options: {ifu: cross}}]\n",
        "htl: error: ifu.yaml: key `variants[0].options` (model `htlnet`): `ifu: cross` is not valid; use one of: attention, concat, none",
    );
}

#[test]
fn unknown_gradient_strategy() {
    expect_error(
        "grad",
        "dataset: {synthetic: {rows: 1000}}\nvariants: [{model: htlnet, grad: gradnorm}]\n",
        "htl: error: grad.yaml: key `variants[0].grad`: unknown variant `gradnorm`, expected one of `sum`, `pcgrad`, `metabalance`, `htl` (valid strategies: sum, pcgrad, metabalance, htl)",
    );
}

#[cfg(not(feature = "tch"))]
#[test]
fn a_backend_not_compiled_in_names_its_feature() {
    expect_error(
        "dev",
        "dataset: {synthetic: {rows: 1000}}\ndevice: libtorch\nvariants: [{model: htlnet}]\n",
        "htl: error: dev.yaml: key `device`: device `libtorch` needs the `tch` backend, which this binary was built without; rebuild with `cargo build --release --features tch` (README: Running on libtorch / on a GPU)",
    );
}

#[test]
fn an_unknown_device_names_file_key_and_valid_spellings() {
    expect_error(
        "dev2",
        "dataset: {synthetic: {rows: 1000}}\ndevice: gpu7\nvariants: [{model: htlnet}]\n",
        "htl: error: dev2.yaml: key `device`: unknown device `gpu7`; valid: cpu, libtorch, libtorch-cuda:N, cuda:N",
    );
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("e.yaml"),
        "dataset: {synthetic: {rows: 1000}}\nvariants: [{model: htlnet}]\n",
    )
    .unwrap();
    let out = htl()
        .current_dir(d.path())
        .args(["run", "e.yaml", "--device", "gpu7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "htl: error: --device: unknown device `gpu7`; valid: cpu, libtorch, libtorch-cuda:N, cuda:N"
    );
}

#[test]
fn a_yaml_scalar_or_list_is_not_an_experiment() {
    let keys = "name, description, dataset, train, seeds, device, constant_reference, base, variants, grid, executor, slurm, external";
    expect_error(
        "scalar",
        "hello\n",
        &format!("htl: error: scalar.yaml: expected a mapping with the keys {keys} (at least `dataset` and `variants`), found a string"),
    );
    expect_error(
        "list",
        "- 1\n- 2\n",
        &format!("htl: error: list.yaml: expected a mapping with the keys {keys} (at least `dataset` and `variants`), found a list"),
    );
    expect_error(
        "empty",
        "",
        &format!("htl: error: empty.yaml: expected a mapping with the keys {keys} (at least `dataset` and `variants`), found an empty document"),
    );
}

/// `train.monitor` is checked against the task chain when the experiment is read: exit 2
/// before any data is loaded (the data file does not even exist here) or any cell starts.
#[test]
fn a_bad_monitor_fails_when_the_experiment_is_read() {
    let base = "dataset: {path: nothere.csv, categorical: [a], tasks: [{name: click, kind: binary}, {name: spend, kind: regression}]}\nvariants: [{model: htlnet}]\n";
    expect_error(
        "mon1",
        &format!("{base}train: {{monitor: nonsense:auc}}\n"),
        "htl: error: mon1.yaml: key `train.monitor`: unknown task `nonsense` in `nonsense:auc`; tasks: click, spend",
    );
    expect_error(
        "mon2",
        &format!("{base}train: {{monitor: click:acc}}\n"),
        "htl: error: mon2.yaml: key `train.monitor`: unknown metric `acc` in `click:acc`; valid for `click`: loss, auc, logloss",
    );
    expect_error(
        "mon3",
        &format!("{base}train: {{monitor: click:gini}}\n"),
        "htl: error: mon3.yaml: key `train.monitor`: `gini` scores regression tasks, but `click` is binary in `click:gini`; valid for `click`: loss, auc, logloss",
    );
    expect_error(
        "mon4",
        &format!("{base}train: {{monitor: spend:rmse}}\n"),
        "htl: error: mon4.yaml: key `train.monitor`: `rmse` is not recorded per epoch in `spend:rmse`; valid for `spend`: loss, nrmse, nmae, gini, spearman",
    );
    expect_error(
        "mon5",
        &format!("{base}variants: [{{model: htlnet, train: {{monitor: auc}}}}]\n").replace("variants: [{model: htlnet}]\n", ""),
        "htl: error: mon5.yaml: key `variants[0].train`: `monitor: auc` is neither `all` nor `<task>:<metric>` (e.g. `click:auc`)",
    );
}

#[test]
fn jobs_zero_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("e.yaml"),
        "dataset: {synthetic: {rows: 1000}}\nvariants: [{model: htlnet}]\n",
    )
    .unwrap();
    let out = htl()
        .current_dir(d.path())
        .args(["run", "e.yaml", "--jobs", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "htl: error: --jobs 0: at least one cell must train at a time; give --jobs 1 or more, or leave it out for one per core"
    );
}

#[test]
fn bad_gpu_memory_and_data_placement_flags() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("e.yaml"),
        "dataset: {synthetic: {rows: 1000}}\nvariants: [{model: htlnet}]\n",
    )
    .unwrap();
    for (args, expected) in [
        (
            vec!["run", "e.yaml", "--gpu-mem", "lots"],
            "htl: error: --gpu-mem lots: give the GPU's memory in GiB as a positive number, e.g. --gpu-mem 80",
        ),
        (
            vec!["run", "e.yaml", "--data-placement", "gpu"],
            "htl: error: --data-placement gpu: use host or device (or leave it out: device on a GPU, host on CPU)",
        ),
        (
            vec!["bench", "--data-placement", "gpu"],
            "htl: error: --data-placement gpu: use host or device (or leave it out: device on a GPU, host on CPU)",
        ),
    ] {
        let out = htl().current_dir(d.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr).trim(), expected);
    }
}

/// An I/O error prints its reason once: the report's write error carries the I/O error
/// both in its text and as its source (as a permission error on a read-only folder does,
/// which a test running as root cannot provoke; a file where a folder belongs can).
#[test]
fn an_io_error_prints_its_reason_once() {
    let d = tempfile::tempdir().unwrap();
    let (code, err, _) = run_yaml(
        d.path(),
        "io",
        "dataset: {synthetic: {rows: 1000}}\nvariants: [{model: dnn}]\ntrain: {epochs: 1, max_steps_per_epoch: 1}\n",
    );
    assert_eq!(code, 0, "{err}");
    let out = d.path().join("out");
    let _ = std::fs::remove_dir_all(out.join("report"));
    std::fs::create_dir_all(out.join("report")).unwrap();
    std::fs::write(out.join("report/tables"), "").unwrap();
    let o = htl()
        .args(["report", "--no-figures"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    let path = out.join("report/tables/overall.md");
    assert_eq!(
        err.trim(),
        format!(
            "htl: error: cannot write {}: File exists (os error 17)",
            path.display()
        )
    );
    let e = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::PermissionDenied));
    let twice = e.context(format!(
        "cannot read x: {}",
        std::io::Error::from(std::io::ErrorKind::PermissionDenied)
    ));
    assert_eq!(
        htlbench::cli::error_line(&twice),
        "cannot read x: permission denied"
    );
}

#[test]
fn missing_experiment_file() {
    let out = htl()
        .args(["run", "/nonexistent/exp.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "htl: error: cannot read experiment file /nonexistent/exp.yaml: No such file or directory (os error 2)"
    );
}

#[test]
fn missing_data_file() {
    let d = tempfile::tempdir().unwrap();
    let yaml = "dataset: {path: nothere.csv, categorical: [a], tasks: [{name: y, kind: binary}]}\nvariants: [{model: htlnet}]\n";
    let (code, err, _) = run_yaml(d.path(), "missing", yaml);
    assert_eq!(code, 2);
    let path = d.path().join("nothere.csv");
    assert_eq!(
        err,
        format!("htl: error: loading the data set of missing.yaml: data file \"{}\" does not exist; check the dataset's `path:` (a relative path resolves against the experiment file's folder; `$HTL_DATA_DIR/...` against the HTL_DATA_DIR environment variable, default ../shared/data)", path.display())
    );
}

fn data_error(file: &str, extra: &str) -> String {
    let d = tempfile::tempdir().unwrap();
    let (code, err, _) = run_yaml(d.path(), "data", &tabular(file, extra));
    assert_eq!(code, 2, "{file}: {err}");
    let prefix = "htl: error: loading the data set of data.yaml: ";
    assert!(err.starts_with(prefix), "{err}");
    err[prefix.len()..].to_string()
}

#[test]
fn missing_column_suggests_close_matches() {
    let d = tempfile::tempdir().unwrap();
    let yaml = tabular("good.csv", "").replace("[device, city]", "[devise, city]");
    let (_, err, _) = run_yaml(d.path(), "data", &yaml);
    assert_eq!(
        err,
        format!(
            "htl: error: loading the data set of data.yaml: column \"devise\" (categorical feature) not found in \"{}\"; did you mean \"device\"?; available columns: ts, device, city, age, income, visit, buy, spend",
            fixture("good.csv").display()
        )
    );
}

#[test]
fn non_numeric_value_in_numeric_column() {
    assert_eq!(
        data_error("non_numeric.csv", ""),
        format!("column \"age\" (numeric feature) in \"{}\" has a non-numeric value \"abc\" at row 5; fix the value, leave the cell empty for a missing value, or list the column under `categorical:`", fixture("non_numeric.csv").display())
    );
}

#[test]
fn negative_and_nan_core_target() {
    assert_eq!(
        data_error("negative_spend.csv", ""),
        "column \"spend\" (task \"spend\") has 3 negative values (first at row 17); a regression core target must be >= 0"
    );
    assert_eq!(
        data_error("nan_spend.csv", ""),
        "column \"spend\" (task \"spend\") has 2 missing, NaN or infinite values (first at row 4); a regression core target must be a finite number >= 0 on every row"
    );
}

#[test]
fn binary_label_outside_zero_one() {
    assert_eq!(
        data_error("bad_visit_number.csv", ""),
        "column \"visit\" (task \"visit\") has 1 values outside {0, 1} (first: \"2\" at row 11); a binary task needs a label 0 or 1 on every row"
    );
}

#[test]
fn one_class_in_training_split() {
    assert_eq!(
        data_error("one_class.csv", "  time: ts\n"),
        "task \"buy\" (column \"buy\") has only one class in the training split (all 16 rows are 0); a binary task needs both 0 and 1 there: use more rows, another split, or drop the task"
    );
}

#[test]
fn empty_split() {
    assert_eq!(
        data_error("tiny.csv", ""),
        "the valid split is empty: 4 rows split 8:1:1 leave it no rows; use more rows or a larger ratio for it"
    );
}

const TINY: &str = "name: tiny
dataset: {synthetic: {rows: 3000, users: 200, items: 100, seed: 3}}
train: {epochs: 2, batch_size: 256}
seeds: [1, 2]
variants:
  - {label: HTLNet, model: htlnet}
  - {label: SB, model: shared_bottom}
";

#[test]
fn tiny_experiment_trains_resumes_and_reruns_identically() {
    let d = tempfile::tempdir().unwrap();
    let exp = d.path().join("tiny.yaml");
    std::fs::write(&exp, TINY).unwrap();
    let out_a = d.path().join("a");
    // 1. Only seed 1 (as if the run had been killed after some cells).
    let o = htl()
        .arg("run")
        .arg(&exp)
        .args(["--quiet", "--only", "1", "--save-predictions", "--out"])
        .arg(&out_a)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout)
        .contains("(3 cells: 3 trained now, 0 kept from earlier runs, 0 failed)"));
    // 2. The full run trains only the missing cells.
    let o = htl()
        .arg("run")
        .arg(&exp)
        .args(["--quiet", "--save-predictions", "--out"])
        .arg(&out_a)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(
        stdout.contains("(6 cells: 3 trained now, 3 kept from earlier runs, 0 failed)"),
        "{stdout}"
    );
    // The printed summary has a row per variant with per-task metrics.
    for needle in [
        "| constant |",
        "| HTLNet |",
        "| SB |",
        "click auc",
        "long_view logloss",
        "watch_time nrmse",
        "watch_time spearman",
    ] {
        assert!(stdout.contains(needle), "summary lacks {needle}: {stdout}");
    }
    // 3. Same cells with one job into another folder: byte-identical metrics.json.
    let out_b = d.path().join("b");
    let o = htl()
        .arg("run")
        .arg(&exp)
        .args(["--quiet", "--jobs", "1", "--out"])
        .arg(&out_b)
        .output()
        .unwrap();
    assert!(o.status.success());
    let cells: Vec<_> = std::fs::read_dir(out_a.join("cells"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(cells.len(), 6);
    for c in &cells {
        let a = std::fs::read(out_a.join("cells").join(c).join("metrics.json")).unwrap();
        let b = std::fs::read(out_b.join("cells").join(c).join("metrics.json")).unwrap();
        assert_eq!(a, b, "cell {c:?} differs between runs");
    }
    // Layout and contents.
    for f in ["manifest.json", "cells.csv", "summary.csv", "summary.md"] {
        assert!(out_a.join(f).is_file(), "{f}");
    }
    let htl_cell = cells
        .iter()
        .find(|c| c.to_string_lossy().starts_with("htlnet-s1-"))
        .unwrap();
    let cdir = out_a.join("cells").join(htl_cell);
    let grad = std::fs::read_to_string(cdir.join("grad_stats.csv")).unwrap();
    assert!(grad.starts_with("step,task,norm_raw,norm_adjusted,cos_core\n0,click,"));
    let preds = std::fs::read_to_string(cdir.join("predictions.csv")).unwrap();
    assert!(
        preds.starts_with("click,click_pred,long_view,long_view_pred,watch_time,watch_time_pred\n")
    );
    let metrics: serde_json::Value =
        serde_json::from_slice(&std::fs::read(cdir.join("metrics.json")).unwrap()).unwrap();
    for split in ["valid", "test"] {
        assert!(metrics[split]["click"]["auc"].as_f64().unwrap() > 0.5);
        assert!(metrics[split]["watch_time"]["nrmse"].as_f64().unwrap() > 0.0);
    }
    let curves = std::fs::read_to_string(cdir.join("curves.csv")).unwrap();
    assert_eq!(curves.lines().count(), 1 + 3, "header + epochs 0..2");
    let long = std::fs::read_to_string(out_a.join("cells.csv")).unwrap();
    assert!(long.starts_with("variant,model,seed,split,task,metric,value\n"));
}

#[test]
fn models_lists_every_registered_model_with_options() {
    let o = htl().arg("models").output().unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    for e in htlbench::zoo::registry() {
        assert!(s.contains(e.name), "{}", e.name);
        assert!(
            s.contains(&format!("shared parameters (θ_s): {}", e.theta_s)),
            "{}: θ_s shown",
            e.name
        );
    }
    assert!(s.contains("stop_grad: true"));
    assert!(s.contains("shared: trunk") && s.contains("shared: embedding"));
}

#[test]
fn data_gen_writes_csv_and_parquet_identically_per_seed() {
    let d = tempfile::tempdir().unwrap();
    for ext in ["csv", "parquet"] {
        let p = d.path().join(format!("s.{ext}"));
        let o = htl()
            .args(["data", "gen", "--rows", "500", "--seed", "4", "--out"])
            .arg(&p)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(p.is_file());
    }
    let p2 = d.path().join("t.csv");
    htl()
        .args(["data", "gen", "--rows", "500", "--seed", "4", "--out"])
        .arg(&p2)
        .output()
        .unwrap();
    assert_eq!(
        std::fs::read(d.path().join("s.csv")).unwrap(),
        std::fs::read(&p2).unwrap()
    );
    let bad = htl()
        .args(["data", "gen", "--rows", "5", "--out"])
        .arg(d.path().join("x.json"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr)
        .contains("unsupported extension; supported: .csv, .parquet"));
}

#[test]
fn an_unknown_correction_names_the_valid_ones() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("e.yaml"),
        "dataset: {synthetic: {rows: 1000}}\nvariants: [{model: htlnet}]\n",
    )
    .unwrap();
    for args in [
        vec!["run", "e.yaml", "--correction", "fdr"],
        vec!["report", ".", "--correction", "fdr"],
    ] {
        let out = htl().current_dir(d.path()).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            "htl: error: --correction: unknown correction `fdr`; use none, holm or bonferroni",
            "{args:?}"
        );
    }
}

#[test]
fn a_missing_external_file_names_the_key() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("e.yaml"),
        "dataset: {synthetic: {rows: 1000}}\nvariants: [{model: htlnet}]\nexternal: [peer.csv]\n",
    )
    .unwrap();
    let out = htl()
        .current_dir(d.path())
        .args(["run", "e.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("e.yaml: key `external[0]`: ")
            && err.trim().ends_with("peer.csv does not exist (paths are relative to the experiment file); fix the path or remove the entry"),
        "{err}"
    );
}

/// The shipped external files parse (the report would refuse them otherwise).
#[test]
fn shipped_external_files_are_valid() {
    for f in [
        "results/external/torch-rechub-hillstrom.csv",
        "results/external/htlnet-paper-table2.csv",
    ] {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
        let rows = htlbench::report::external::load_external(&p).unwrap();
        assert!(!rows.is_empty(), "{f}");
    }
}
