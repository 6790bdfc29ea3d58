//! Tests of the data room against the fixtures in `tests/fixtures/data/`
//! (see `tests/fixtures/data/README.md` for what each file holds).

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::synthetic::{generate, write_table, CoreConfig, SyntheticConfig};
use super::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/data")
}

/// The fixture schema: device, city categorical; age, income numeric;
/// visit -> buy -> spend; time column ts (8:1:1 of 20 rows = 16/2/2).
fn fixture_yaml(file: &str, extra: &str) -> String {
    format!(
        "name: fx\npath: {file}\ncategorical: [device, city]\nnumeric: [age, income]\n\
         tasks:\n  - {{name: visit, kind: binary}}\n  - {{name: buy, kind: binary}}\n  - {{name: spend, kind: regression}}\n{extra}"
    )
}

fn spec(yaml: &str) -> DatasetSpec {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn load_fixture(file: &str, extra: &str) -> Result<Dataset, DataError> {
    load(&spec(&fixture_yaml(file, extra)), &fixtures())
}

fn fixture_err(file: &str, extra: &str) -> String {
    load_fixture(file, extra).unwrap_err().to_string()
}

fn shown(file: &str) -> String {
    fixtures().join(file).display().to_string()
}

fn csv_bytes(df: &polars::prelude::DataFrame) -> Vec<u8> {
    use polars::prelude::*;
    let mut out = Vec::new();
    CsvWriter::new(&mut out).finish(&mut df.clone()).unwrap();
    out
}

fn small(rows: usize, seed: u64) -> SyntheticConfig {
    SyntheticConfig {
        rows,
        seed,
        ..Default::default()
    }
}

fn col_f64(df: &polars::prelude::DataFrame, name: &str) -> Vec<f64> {
    use polars::prelude::*;
    df.column(name)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .map(|v| v.unwrap())
        .collect()
}

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

fn corr(x: &[f64], y: &[f64]) -> f64 {
    let (mx, my) = (mean(x), mean(y));
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    let vy: f64 = y.iter().map(|b| (b - my) * (b - my)).sum();
    cov / (vx * vy).sqrt()
}

// ---------------------------------------------------------------- task chain

fn task(name: &str, kind: TaskKind) -> Task {
    Task {
        name: name.into(),
        kind,
    }
}

#[test]
fn chain_accessors() {
    use TaskKind::*;
    let c = TaskChain::new(vec![
        task("a", Binary),
        task("b", Binary),
        task("y", Regression),
    ])
    .unwrap();
    assert_eq!(c.len(), 3);
    assert_eq!(c.core(), Some(2));
    assert_eq!(c.binary_indices(), vec![0, 1]);
    assert_eq!(c.index_of("b"), Some(1));
    let c = TaskChain::new(vec![task("a", Binary)]).unwrap();
    assert_eq!(c.core(), None);
    let c = TaskChain::new(vec![task("y", Regression)]).unwrap();
    assert_eq!((c.core(), c.binary_indices()), (Some(0), vec![]));
}

#[test]
fn chain_errors() {
    use TaskKind::*;
    let e = |t: Vec<Task>| TaskChain::new(t).unwrap_err().to_string();
    assert_eq!(
        e(vec![]),
        "the dataset has no tasks; list at least one under `tasks:` (binary tasks in funnel order, then at most one regression task)"
    );
    assert_eq!(
        e(vec![task("spend", Regression), task("visit", Binary)]),
        "task \"spend\" is a regression task but is not last (task \"visit\" follows it); list the binary tasks first in funnel order, then the one regression (core) task"
    );
    assert_eq!(
        e(vec![task("spend", Regression), task("revenue", Regression)]),
        "tasks \"spend\" and \"revenue\" are both regression tasks; a chain has at most one regression (core) task, and it comes last"
    );
    assert_eq!(
        e(vec![task("visit", Binary), task("visit", Binary)]),
        "task \"visit\" appears twice in the chain; give every task a distinct name"
    );
    assert_eq!(
        e(vec![task("", Binary)]),
        "a task has an empty name; give every task a name"
    );
}

#[test]
fn chain_serde_validates() {
    let ok: TaskChain = serde_json::from_str(
        r#"{"tasks":[{"name":"a","kind":"binary"},{"name":"y","kind":"regression"}]}"#,
    )
    .unwrap();
    assert_eq!(ok.core(), Some(1));
    let back: TaskChain = serde_json::from_str(&serde_json::to_string(&ok).unwrap()).unwrap();
    assert_eq!(back, ok);
    let bad = serde_json::from_str::<TaskChain>(
        r#"{"tasks":[{"name":"y","kind":"regression"},{"name":"a","kind":"binary"}]}"#,
    );
    assert!(bad
        .unwrap_err()
        .to_string()
        .contains("is a regression task but is not last"));
}

// ---------------------------------------------------------------- spec (YAML)

#[test]
fn spec_synthetic_shapes() {
    let s = spec("synthetic: { rows: 1000, seed: 3 }");
    let DatasetSpec::Synthetic(ref syn) = s else {
        panic!()
    };
    assert_eq!(syn.config.rows, 1000);
    assert_eq!(syn.config.seed, 3);
    assert_eq!(syn.config.users, SyntheticConfig::default().users);
    assert_eq!(syn.split, SplitSpec::default());
    assert_eq!(s.label(), "synthetic");
    // empty block = all defaults
    assert_eq!(
        spec("synthetic: {}"),
        DatasetSpec::synthetic(SyntheticConfig::default())
    );
    assert_eq!(
        spec("synthetic:"),
        DatasetSpec::synthetic(SyntheticConfig::default())
    );
    // nested keys, split, name
    let s = spec(
        "name: syn2\nsynthetic:\n  chain: [{name: c, rate: 0.2}]\n  core: {name: gmv, sigma: 2}\n  dependence: 0\nsplit: {ratios: [0.7, 0.15, 0.15], seed: 9}\nnumeric_transform: bucketize\nbuckets: 5",
    );
    let DatasetSpec::Synthetic(ref syn) = s else {
        panic!()
    };
    assert_eq!(s.label(), "syn2");
    assert_eq!(syn.config.core.name, "gmv");
    assert_eq!(syn.config.core.mu, CoreConfig::default().mu);
    assert_eq!(syn.split.seed, 9);
    assert_eq!(syn.numeric_transform, NumericTransform::Bucketize);
    let names: Vec<String> = s
        .task_chain()
        .unwrap()
        .tasks()
        .iter()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(names, vec!["c", "gmv"]);
    // round trip through YAML
    let text = serde_yaml::to_string(&s).unwrap();
    assert_eq!(spec(&text), s);
}

#[test]
fn spec_tabular_shape_and_roundtrip() {
    let s = spec(
        "name: mydata\npath: data/x.csv\ncategorical: [a, b]\nnumeric: [x, y]\nnumeric_transform: bucketize\nbuckets: 10\n\
         tasks: [{name: visit, kind: binary, column: visit}, {name: spend, kind: regression, column: spend}]\n\
         time: ts\nsplit: {ratios: [0.8, 0.1, 0.1], seed: 2024}",
    );
    let DatasetSpec::Tabular(ref t) = s else {
        panic!()
    };
    assert_eq!(t.path, PathBuf::from("data/x.csv"));
    assert_eq!(t.tasks[1].column(), "spend");
    assert_eq!(t.time.as_deref(), Some("ts"));
    assert_eq!(s.label(), "mydata");
    assert_eq!(spec(&serde_yaml::to_string(&s).unwrap()), s);
    // name defaults to the file stem; column to the task name
    let s = spec("path: data/hill.parquet\ntasks: [{name: visit, kind: binary}]");
    assert_eq!(s.label(), "hill");
    let DatasetSpec::Tabular(ref t) = s else {
        panic!()
    };
    assert_eq!(t.tasks[0].column(), "visit");
    assert_eq!(t.split, SplitSpec::default());
    assert_eq!(t.numeric_transform, NumericTransform::Standardize);
}

#[test]
fn spec_errors() {
    let err = |y: &str| {
        serde_yaml::from_str::<DatasetSpec>(y)
            .unwrap_err()
            .to_string()
    };
    assert!(err("synthetic: {rows: 10, bogus: 1}").contains("unknown field `bogus`"));
    assert!(
        err("path: x.csv\ntasks: [{name: a, kind: binary}]\ncolour: red")
            .contains("unknown field `colour`")
    );
    assert!(err("path: x.csv\ntasks: [{name: a, kind: maybe}]").contains("unknown variant `maybe`"));
    assert!(err("synthetic: {}\npath: x.csv\ntasks: []").contains(
        "invalid dataset: `synthetic:` cannot be combined with `path`, `tasks`; the generator defines its own columns and tasks (configure them under `synthetic:`), or remove `synthetic:` to load a file"
    ));
    assert!(err("name: x").contains(
        "invalid dataset: give either `synthetic:` (generated data) or `path:` with `tasks:` (a CSV or Parquet file)"
    ));
    assert!(err("path: x.csv").contains("the dataset has no tasks"));
    assert!(
        err("path: x.csv\ntasks: [{name: s, kind: regression}, {name: v, kind: binary}]")
            .contains("task \"s\" is a regression task but is not last")
    );
    assert!(err("path: x.csv\ncategorical: [a]\nnumeric: [a]\ntasks: [{name: v, kind: binary}]").contains(
        "column \"a\" is used twice (as categorical feature and as numeric feature); use each column in one role only"
    ));
    assert!(
        err("path: x.csv\ncategorical: [visit]\ntasks: [{name: visit, kind: binary}]").contains(
            "column \"visit\" is used twice (as categorical feature and as task \"visit\")"
        )
    );
    assert!(err("synthetic: {}\nsplit: {ratios: [1, 0]}")
        .contains("split ratios [1.0, 0.0] are invalid"));
    assert!(
        err("synthetic: {}\nnumeric_transform: bucketize\nbuckets: 1").contains(
            "invalid dataset: `buckets: 1` is too small; bucketize needs at least 2 buckets"
        )
    );
    assert!(err("synthetic: {dependence: 1.5}").contains(
        "invalid synthetic dataset: `synthetic.dependence` is 1.5; it must be in [0, 1]"
    ));
    assert!(err("synthetic: {chain: [{name: click, rate: 1.2}]}").contains(
        "invalid synthetic dataset: `synthetic.chain[0].rate` (\"click\") is 1.2; it must be in (0, 1)"
    ));
    assert!(err("synthetic: {chain: [{name: watch_time, rate: 0.2}]}")
        .contains("task \"watch_time\" appears twice in the chain"));
    assert!(err("synthetic: {chain: [{name: user_id, rate: 0.2}]}")
        .contains("task name \"user_id\" is also a feature column; rename the task"));
    assert!(err("synthetic: {rows: 0}").contains("`synthetic.rows` must be at least 1"));
}

// ---------------------------------------------------------------- synthetic

#[test]
fn synthetic_same_seed_same_bytes() {
    let a = csv_bytes(&generate(&small(3000, 11)).unwrap());
    let b = csv_bytes(&generate(&small(3000, 11)).unwrap());
    let c = csv_bytes(&generate(&small(3000, 12)).unwrap());
    assert_eq!(Sha256::digest(&a), Sha256::digest(&b));
    assert_ne!(Sha256::digest(&a), Sha256::digest(&c));
    // independent of the rayon thread count
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let d = pool.install(|| csv_bytes(&generate(&small(3000, 11)).unwrap()));
    assert_eq!(Sha256::digest(&a), Sha256::digest(&d));
}

#[test]
fn synthetic_columns() {
    let df = generate(&small(500, 1)).unwrap();
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "user_id",
            "item_id",
            "ctx_1",
            "ctx_2",
            "ctx_3",
            "num_1",
            "num_2",
            "click",
            "long_view",
            "watch_time"
        ]
    );
    let users = col_f64(&df, "user_id");
    assert!(users.iter().all(|&u| (0.0..2000.0).contains(&u)));
    let hours = col_f64(&df, "ctx_2");
    assert!(hours.iter().all(|&h| (0.0..24.0).contains(&h)));
}

#[test]
fn synthetic_rates_funnel_and_core() {
    let cfg = small(60_000, 5);
    let df = generate(&cfg).unwrap();
    let click = col_f64(&df, "click");
    let lv = col_f64(&df, "long_view");
    let wt = col_f64(&df, "watch_time");
    let n_click = click.iter().sum::<f64>();
    let rate_click = n_click / click.len() as f64;
    let rate_lv_given_click = lv.iter().sum::<f64>() / n_click;
    assert!((rate_click - 0.3).abs() < 0.01, "click rate {rate_click}");
    assert!(
        (rate_lv_given_click - 0.4).abs() < 0.015,
        "long_view | click {rate_lv_given_click}"
    );
    // funnel: long_view only after click; value only after long_view
    assert!(click.iter().zip(&lv).all(|(c, l)| *l <= *c));
    assert!(lv.iter().zip(&wt).all(|(l, y)| *l == 1.0 || *y == 0.0));
    assert!(wt.iter().all(|y| *y >= 0.0 && y.is_finite()));
    // zero-inflated log-normal among long views: P(0) ≈ zero_prob, log y ≈ N(mu, sigma²)
    let among: Vec<f64> = lv
        .iter()
        .zip(&wt)
        .filter(|(l, _)| **l == 1.0)
        .map(|(_, y)| *y)
        .collect();
    let zero_frac = among.iter().filter(|y| **y == 0.0).count() as f64 / among.len() as f64;
    assert!(
        (zero_frac - 0.05).abs() < 0.015,
        "zero fraction {zero_frac}"
    );
    let logs: Vec<f64> = among.iter().filter(|y| **y > 0.0).map(|y| y.ln()).collect();
    let m = mean(&logs);
    let sd = (logs.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / logs.len() as f64).sqrt();
    assert!((m - 3.0).abs() < 1e-6, "mean log {m}");
    assert!((sd - 1.0).abs() < 1e-6, "sd log {sd}");
    // heavy tail: the mean is well above the median among positives
    let mut pos: Vec<f64> = among.iter().copied().filter(|y| *y > 0.0).collect();
    pos.sort_by(f64::total_cmp);
    assert!(mean(&pos) > 1.4 * pos[pos.len() / 2]);
    // the later action depends on the earlier one
    assert!(corr(&click, &lv) > 0.3);
}

#[test]
fn synthetic_independent_at_zero_dependence() {
    let cfg = SyntheticConfig {
        dependence: 0.0,
        ..small(60_000, 6)
    };
    let df = generate(&cfg).unwrap();
    let click = col_f64(&df, "click");
    let lv = col_f64(&df, "long_view");
    let wt = col_f64(&df, "watch_time");
    let active: Vec<f64> = wt.iter().map(|y| f64::from(u8::from(*y > 0.0))).collect();
    for (name, r) in [
        ("click~long_view", corr(&click, &lv)),
        ("click~value", corr(&click, &active)),
        ("long_view~value", corr(&lv, &active)),
        (
            "long_view~log value",
            corr(&lv, &wt.iter().map(|y| y.ln_1p()).collect::<Vec<_>>()),
        ),
    ] {
        assert!(r.abs() < 0.02, "{name}: correlation {r}");
    }
    // marginal rates are the configured ones, and the value is positive on ~ 0.3*0.4*0.95 rows
    assert!((mean(&click) - 0.3).abs() < 0.01);
    assert!((mean(&lv) - 0.4).abs() < 0.01);
    assert!(
        (mean(&active) - 0.3 * 0.4 * 0.95).abs() < 0.01,
        "active {}",
        mean(&active)
    );
    // some long views happen without a click (no funnel)
    assert!(click.iter().zip(&lv).any(|(c, l)| *c == 0.0 && *l == 1.0));
}

#[test]
fn synthetic_features_carry_signal() {
    // the generator is learnable: users' click rates differ far more than binomial noise
    let df = generate(&small(60_000, 8)).unwrap();
    let users = col_f64(&df, "user_id");
    let click = col_f64(&df, "click");
    let mut sum = vec![0.0; 2000];
    let mut cnt = vec![0.0; 2000];
    for (u, c) in users.iter().zip(&click) {
        sum[*u as usize] += c;
        cnt[*u as usize] += 1.0;
    }
    let rates: Vec<f64> = (0..2000)
        .filter(|&u| cnt[u] >= 20.0)
        .map(|u| sum[u] / cnt[u])
        .collect();
    let m = mean(&rates);
    let var = rates.iter().map(|r| (r - m) * (r - m)).sum::<f64>() / rates.len() as f64;
    let binomial = 0.3 * 0.7 / 30.0;
    assert!(
        var > 2.0 * binomial,
        "between-user variance {var} vs binomial {binomial}"
    );
}

#[test]
fn synthetic_load_through_encode() {
    let ds = load(&spec("synthetic: { rows: 5000, seed: 2 }"), Path::new(".")).unwrap();
    assert_eq!((ds.train.n, ds.valid.n, ds.test.n), (4000, 500, 500));
    assert_eq!(ds.split_rule, "random 8:1:1 seed 2024");
    assert_eq!(ds.name, "synthetic");
    let names: Vec<&str> = ds.cat_fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["user_id", "item_id", "ctx_1", "ctx_2", "ctx_3"]);
    assert!(ds.cat_fields[0].vocab <= 2001);
    assert_eq!(ds.cat_fields[2].vocab, 5);
    assert_eq!(ds.num_fields, ["num_1", "num_2"]);
    assert_eq!(ds.tasks.core(), Some(2));
    for split in [&ds.train, &ds.valid, &ds.test] {
        assert_eq!(split.cat.len(), 5);
        assert!(split.cat.iter().all(|c| c.len() == split.n));
        assert!(split.num.iter().all(|c| c.len() == split.n));
        assert_eq!(split.labels.len(), 3);
        for (f, c) in ds.cat_fields.iter().zip(&split.cat) {
            assert!(c.iter().all(|&v| (v as usize) < f.vocab));
        }
    }
    // standardised on train
    let m = ds.train.num[0].iter().map(|&v| f64::from(v)).sum::<f64>() / 4000.0;
    assert!(m.abs() < 1e-4);
}

#[test]
fn synthetic_csv_and_parquet_load_like_the_generator() {
    let cfg = small(4000, 21);
    let direct = load(&DatasetSpec::synthetic(cfg.clone()), Path::new(".")).unwrap();
    let df = generate(&cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for file in ["gen.csv", "sub/gen.parquet"] {
        write_table(&df, &dir.path().join(file)).unwrap();
        let yaml = format!(
            "name: synthetic\npath: {file}\ncategorical: [user_id, item_id, ctx_1, ctx_2, ctx_3]\nnumeric: [num_1, num_2]\n\
             tasks: [{{name: click, kind: binary}}, {{name: long_view, kind: binary}}, {{name: watch_time, kind: regression}}]"
        );
        let via_file = load(&spec(&yaml), dir.path()).unwrap();
        assert_eq!(via_file, direct, "{file}");
    }
    let e = write_table(&df, &dir.path().join("gen.json")).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "cannot write \"{}\": unsupported extension; supported: .csv, .parquet",
            dir.path().join("gen.json").display()
        )
    );
}

#[test]
fn synthetic_bucketize() {
    let ds = load(
        &spec("synthetic: {rows: 3000}\nnumeric_transform: bucketize\nbuckets: 8"),
        Path::new("."),
    )
    .unwrap();
    assert!(ds.num_fields.is_empty());
    let last: Vec<(&str, usize)> = ds.cat_fields[5..]
        .iter()
        .map(|f| (f.name.as_str(), f.vocab))
        .collect();
    assert_eq!(last, [("num_1_bucket", 9), ("num_2_bucket", 9)]);
    // quantile bins: each of the 8 buckets holds ~1/8 of train
    for b in 1..=8u32 {
        let share = ds.train.cat[5].iter().filter(|&&v| v == b).count() as f64 / 2400.0;
        assert!((share - 0.125).abs() < 0.01, "bucket {b}: {share}");
    }
}

// ---------------------------------------------------------------- tabular: encoding

#[test]
fn fixture_time_split_vocab_and_standardize() {
    let ds = load_fixture("good.csv", "time: ts\n").unwrap();
    assert_eq!(ds.name, "fx");
    assert_eq!(ds.split_rule, "time 8:1:1 on column ts");
    assert_eq!((ds.train.n, ds.valid.n, ds.test.n), (16, 2, 2));
    // rows in time order: age = 20 + ts on train
    let sd = (255.0f64 / 12.0).sqrt();
    let age: Vec<f32> = (1..=16)
        .map(|t| ((f64::from(20 + t) - 28.5) / sd) as f32)
        .collect();
    assert_eq!(ds.num_fields, ["age", "income"]);
    for (a, b) in ds.train.num[0].iter().zip(&age) {
        assert!((a - b).abs() < 1e-6, "{a} vs {b}");
    }
    // valid: ts 17 (age 100), ts 18 (missing -> 0); train statistics, not all rows
    assert!((ds.valid.num[0][0] - ((100.0 - 28.5) / sd) as f32).abs() < 1e-5);
    assert_eq!(ds.valid.num[0][1], 0.0);
    assert!((ds.test.num[0][0] - ((50.0 - 28.5) / sd) as f32).abs() < 1e-5);
    // device: android 6, ios 6 (tie -> by value), web 4; "tv" unseen in train -> 0
    assert_eq!(
        ds.cat_fields[0],
        CatField {
            name: "device".into(),
            vocab: 4
        }
    );
    assert_eq!(
        ds.train.cat[0],
        [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3]
    );
    assert_eq!(ds.valid.cat[0], [3, 2]);
    assert_eq!(ds.test.cat[0], [1, 0]);
    // city: A 7, B 5, C 4 in train; D (valid only), missing, E (test only) -> 0
    assert_eq!(
        ds.cat_fields[1],
        CatField {
            name: "city".into(),
            vocab: 4
        }
    );
    assert_eq!(
        ds.train.cat[1],
        [1, 2, 1, 3, 1, 2, 1, 3, 2, 1, 3, 1, 2, 3, 1, 2]
    );
    assert_eq!(ds.valid.cat[1], [0, 0]);
    assert_eq!(ds.test.cat[1], [1, 0]);
    // labels on the original scale, in time order
    assert_eq!(
        ds.train.labels[0],
        [1., 0., 1., 1., 0., 0., 1., 0., 1., 1., 0., 1., 0., 0., 1., 0.]
    );
    assert_eq!(ds.train.labels[2][2], 25.5);
    assert_eq!(ds.train.labels[2][14], 7.25);
    assert_eq!(ds.test.labels[2], [60.0, 0.0]);
    // income: train mean over the 15 non-missing values; ts 8 missing -> 0
    let inc: Vec<f64> = (1..=16)
        .filter(|&t| t != 8)
        .map(|t| f64::from(t * 1000))
        .collect();
    let m = mean(&inc);
    let s = (inc.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / 15.0).sqrt();
    assert!((ds.train.num[1][0] - ((1000.0 - m) / s) as f32).abs() < 1e-5);
    assert_eq!(ds.train.num[1][7], 0.0);
}

#[test]
fn fixture_bucketize() {
    let ds = load_fixture(
        "good.csv",
        "time: ts\nnumeric_transform: bucketize\nbuckets: 4\n",
    )
    .unwrap();
    assert!(ds.num_fields.is_empty() && ds.train.num.is_empty());
    let fields: Vec<(&str, usize)> = ds
        .cat_fields
        .iter()
        .map(|f| (f.name.as_str(), f.vocab))
        .collect();
    // age train 21..36: cuts 25, 29, 33; income train {1..16}\{8} thousands: cuts 4000, 9000, 13000
    assert_eq!(
        fields,
        [
            ("device", 4),
            ("city", 4),
            ("age_bucket", 5),
            ("income_bucket", 5)
        ]
    );
    assert_eq!(
        ds.train.cat[2],
        [1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4]
    );
    assert_eq!(ds.valid.cat[2], [4, 0]);
    assert_eq!(ds.test.cat[2], [4, 1]);
    assert_eq!(
        ds.train.cat[3],
        [1, 1, 1, 1, 2, 2, 2, 0, 2, 3, 3, 3, 3, 4, 4, 4]
    );
    assert_eq!(ds.valid.cat[3], [1, 4]);
    assert_eq!(ds.test.cat[3], [0, 4]);
}

#[test]
fn fixture_random_split_deterministic_per_seed() {
    let a = load_fixture("good.csv", "split: {seed: 7}\n").unwrap();
    let b = load_fixture("good.csv", "split: {seed: 7}\n").unwrap();
    assert_eq!(a, b);
    assert_eq!(a.split_rule, "random 8:1:1 seed 7");
    let differs = (1..20u64).any(|s| {
        let c = load_fixture("good.csv", &format!("split: {{seed: {}}}\n", 7 + s)).unwrap();
        c.train.labels != a.train.labels || c.train.num != a.train.num
    });
    assert!(differs);
    // train rows keep file order: file order of age is 25, 21, 32, ...
    let raw: Vec<f64> = vec![
        25.,
        21.,
        32.,
        23.,
        0.,
        27.,
        29.,
        22.,
        35.,
        24.,
        f64::NAN,
        26.,
        31.,
        28.,
        50.,
        30.,
        33.,
        34.,
        36.,
        100.,
    ];
    let idx = split::random_split(20, &[0.8, 0.1, 0.1], 7).unwrap();
    let (m, s) = encode::train_stats(&raw, &idx.train);
    let expect: Vec<f32> = idx
        .train
        .iter()
        .map(|&i| {
            if raw[i].is_nan() {
                0.0
            } else {
                ((raw[i] - m) / s) as f32
            }
        })
        .collect();
    assert_eq!(a.train.num[0], expect);
}

#[test]
fn parquet_and_csv_agree() {
    use polars::prelude::*;
    let dir = tempfile::tempdir().unwrap();
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(fixtures().join("good.csv")))
        .unwrap()
        .finish()
        .unwrap();
    write_table(&df, &dir.path().join("good.parquet")).unwrap();
    let a = load_fixture("good.csv", "time: ts\n").unwrap();
    let b = load(
        &spec(&fixture_yaml("good.parquet", "time: ts\n")),
        dir.path(),
    )
    .unwrap();
    assert_eq!(a, b);
}

// ---------------------------------------------------------------- tabular: bad input

#[test]
fn err_missing_file() {
    assert_eq!(
        fixture_err("nope.csv", ""),
        format!(
            "data file \"{}\" does not exist; check the dataset's `path:` (a relative path resolves against the experiment file's folder; `$HTL_DATA_DIR/...` against the HTL_DATA_DIR environment variable, default ../shared/data)",
            shown("nope.csv")
        )
    );
}

#[test]
fn err_unsupported_extension() {
    assert_eq!(
        fixture_err("data.txt", ""),
        format!(
            "data file \"{}\" has an unsupported extension; supported: .csv, .parquet",
            shown("data.txt")
        )
    );
}

#[test]
fn err_missing_column() {
    let yaml = fixture_yaml("good.csv", "").replace(
        "{name: spend, kind: regression}",
        "{name: spend, kind: regression, column: spnd}",
    );
    let e = load(&spec(&yaml), &fixtures()).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "column \"spnd\" (task \"spend\") not found in \"{}\"; did you mean \"spend\"?; available columns: ts, device, city, age, income, visit, buy, spend",
            shown("good.csv")
        )
    );
    let yaml = fixture_yaml("good.csv", "").replace("[device, city]", "[device, zzzz]");
    let e = load(&spec(&yaml), &fixtures()).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "column \"zzzz\" (categorical feature) not found in \"{}\"; available columns: ts, device, city, age, income, visit, buy, spend",
            shown("good.csv")
        )
    );
    let e = fixture_err("good.csv", "time: tz\n");
    assert!(
        e.starts_with("column \"tz\" (time column) not found in"),
        "{e}"
    );
    assert!(e.contains("did you mean \"ts\"?"), "{e}");
}

#[test]
fn err_non_numeric() {
    assert_eq!(
        fixture_err("non_numeric.csv", ""),
        format!(
            "column \"age\" (numeric feature) in \"{}\" has a non-numeric value \"abc\" at row 5; fix the value, leave the cell empty for a missing value, or list the column under `categorical:`",
            shown("non_numeric.csv")
        )
    );
}

#[test]
fn err_negative_core_target() {
    assert_eq!(
        fixture_err("negative_spend.csv", ""),
        "column \"spend\" (task \"spend\") has 3 negative values (first at row 17); a regression core target must be >= 0"
    );
}

#[test]
fn err_nan_core_target() {
    assert_eq!(
        fixture_err("nan_spend.csv", ""),
        "column \"spend\" (task \"spend\") has 2 missing, NaN or infinite values (first at row 4); a regression core target must be a finite number >= 0 on every row"
    );
}

#[test]
fn err_binary_label() {
    assert_eq!(
        fixture_err("bad_visit.csv", ""),
        "column \"visit\" (task \"visit\") has 3 values outside {0, 1} (first: \"yes\" at row 6); a binary task needs a label 0 or 1 on every row"
    );
    assert_eq!(
        fixture_err("bad_visit_number.csv", ""),
        "column \"visit\" (task \"visit\") has 1 values outside {0, 1} (first: \"2\" at row 11); a binary task needs a label 0 or 1 on every row"
    );
}

#[test]
fn err_one_class_in_train() {
    assert_eq!(
        fixture_err("one_class.csv", "time: ts\n"),
        "task \"buy\" (column \"buy\") has only one class in the training split (all 16 rows are 0); a binary task needs both 0 and 1 there: use more rows, another split, or drop the task"
    );
}

#[test]
fn err_empty_split() {
    assert_eq!(
        fixture_err("tiny.csv", ""),
        "the valid split is empty: 4 rows split 8:1:1 leave it no rows; use more rows or a larger ratio for it"
    );
}

#[test]
fn err_time_missing() {
    assert_eq!(
        fixture_err("time_missing.csv", "time: ts\n"),
        "time column \"ts\" has 2 missing values (first at row 3); fill them, or remove `time:` to split at random"
    );
}

#[test]
fn err_time_column_with_a_word() {
    let p = fixtures().join("time_word.csv");
    assert_eq!(
        fixture_err("time_word.csv", "time: ts\n"),
        format!("time column \"ts\" in \"{}\" holds numbers but row 6 has \"abc\"; fix that value, or add `time_type: text` to order the column as text", p.display())
    );
    // the same with `time_type: number`
    assert!(
        fixture_err("time_word.csv", "time: ts\ntime_type: number\n")
            .contains("holds numbers but row 6 has \"abc\"")
    );
    // explicitly as text: byte order ("1" < "10" < "11" < ... < "9" < "abc")
    let ds = load_fixture("time_word.csv", "time: ts\ntime_type: text\n").unwrap();
    assert_eq!(
        ds.time,
        Some(TimeColumn {
            column: "ts".into(),
            kind: "text".into(),
            min: "1".into(),
            max: "abc".into(),
        })
    );
    // `time_type:` needs `time:`
    assert!(serde_yaml::from_str::<DatasetSpec>(&fixture_yaml("good.csv", "time_type: text\n"))
        .unwrap_err()
        .to_string()
        .contains("invalid dataset: `time_type:` needs a `time:` column; add `time:` or remove `time_type:`"));
}

#[test]
fn time_column_kind_and_range() {
    let ds = load_fixture("good.csv", "time: ts\n").unwrap();
    let t = ds.time.clone().unwrap();
    assert_eq!(
        (
            t.column.as_str(),
            t.kind.as_str(),
            t.min.as_str(),
            t.max.as_str()
        ),
        ("ts", "integers", "1", "20")
    );
    // a random split has no time column
    assert_eq!(load_fixture("good.csv", "").unwrap().time, None);
    // numbers stored as text order as numbers, and identically to the typed read
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixtures().join("good.csv")).unwrap();
    let quoted: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                let (ts, rest) = l.split_once(',').unwrap();
                format!("\"{ts}.0\",{rest}\n")
            }
        })
        .collect();
    let p = dir.path().join("quoted.csv");
    std::fs::write(&p, quoted).unwrap();
    let a = load(
        &spec(&fixture_yaml(&p.display().to_string(), "time: ts\n")),
        &fixtures(),
    )
    .unwrap();
    assert_eq!(
        (a.train.clone(), a.valid.clone(), a.test.clone()),
        (ds.train, ds.valid, ds.test)
    );
}

#[test]
fn err_csv_structure() {
    let p = |f: &str| fixtures().join(f).display().to_string();
    assert_eq!(
        fixture_err("ragged.csv", ""),
        format!("data file \"{}\": row 4 has 9 fields but the header has 8 columns; remove the extra fields, or quote a value that contains a comma", p("ragged.csv"))
    );
    assert_eq!(
        fixture_err("short_row.csv", ""),
        format!("data file \"{}\": row 7 has 7 fields but the header has 8 columns (missing: \"spend\"); add the missing fields (an empty field between commas is a missing value)", p("short_row.csv"))
    );
    assert_eq!(
        fixture_err("latin1.csv", ""),
        format!("data file \"{}\" is not valid UTF-8 at row 9, column \"city\" (byte 0xFC); save the file with UTF-8 encoding", p("latin1.csv"))
    );
    assert_eq!(
        fixture_err("dup_header.csv", ""),
        format!("data file \"{}\" has two columns named \"age\" (columns 4 and 5); give every column a distinct name", p("dup_header.csv"))
    );
}

#[test]
fn csv_check_quotes_line_ends_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    // quoted commas, escaped quotes, a quoted line break, CRLF, no final newline
    let p = write(
        "ok.csv",
        b"a,\"b,c\",d\r\n1,\"x, \"\"y\"\"\",3\r\n4,\"two\nlines\",6\r\n7,8,9",
    );
    assert_eq!(io::check_csv(&p).unwrap(), 3);
    assert_eq!(io::read_header(&p).unwrap(), ["a", "b,c", "d"]);
    assert_eq!(io::check_csv(&write("nl.csv", b"a,b\n1,2\n")).unwrap(), 1);
    // an empty line is a row (polars reads it as one of missing values)
    let p = write("blank.csv", b"a,b\r\n1,2\r\n\r\n3,4\r\n");
    assert_eq!(
        io::check_csv(&p).unwrap_err().to_string(),
        format!(
            "data file \"{}\": row 2 is an empty line; remove it, or fill in its 2 fields",
            p.display()
        )
    );
    let p = write("blank_end.csv", b"a,b\n1,2\n\n");
    assert!(io::check_csv(&p)
        .unwrap_err()
        .to_string()
        .contains("row 2 is an empty line"));
    // with one column an empty line is a missing value
    assert_eq!(io::check_csv(&write("one.csv", b"a\n1\n\n2\n")).unwrap(), 3);
    // an unclosed quote
    let p = write("open.csv", b"a,b\n1,2\n3,\"4\n");
    assert_eq!(
        io::check_csv(&p).unwrap_err().to_string(),
        format!("data file \"{}\": the quote opened on row 2 is never closed; close it, or remove the stray `\"`", p.display())
    );
    // a bad byte in the header, and one split across read blocks is still found
    let p = write("head.csv", b"a,b\xff\n1,2\n");
    assert!(io::read_header(&p)
        .unwrap_err()
        .to_string()
        .contains("is not valid UTF-8 at the header (column 2) (byte 0xFF)"));
    let mut big = b"a,b\n".to_vec();
    while big.len() < (8 << 20) + 10 {
        big.extend_from_slice(b"12345,\xc3\xa9t\xc3\xa9\n");
    }
    big.extend_from_slice(b"1,\xe9\n");
    let rows = big.iter().filter(|&&b| b == b'\n').count() - 1;
    let p = write("big.csv", &big);
    assert_eq!(
        io::check_csv(&p).unwrap_err().to_string(),
        format!("data file \"{}\" is not valid UTF-8 at row {rows}, column \"b\" (byte 0xE9); save the file with UTF-8 encoding", p.display())
    );
}

#[test]
fn err_chain_in_yaml() {
    let e = serde_yaml::from_str::<DatasetSpec>(
        "path: good.csv\ntasks: [{name: spend, kind: regression}, {name: visit, kind: binary}]",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with(
            "task \"spend\" is a regression task but is not last (task \"visit\" follows it)"
        ),
        "{e}"
    );
    // a spec built in code is validated by load
    let DatasetSpec::Tabular(mut t) = spec(&fixture_yaml("good.csv", "")) else {
        panic!()
    };
    t.tasks.clear();
    let e = load(&DatasetSpec::Tabular(t), &fixtures()).unwrap_err();
    assert!(matches!(e, DataError::NoTasks));
}

// ---------------------------------------------------------------- real data

#[test]
fn hillstrom_real_file() {
    let path = data_dir().join("hillstrom/hillstrom.csv");
    if !path.exists() {
        eprintln!(
            "note: skipping hillstrom_real_file: {} not found (set HTL_DATA_DIR)",
            path.display()
        );
        return;
    }
    let ds = load(
        &DatasetSpec::Tabular(presets::hillstrom::tabular_spec()),
        Path::new("."),
    )
    .unwrap();
    let n = ds.train.n + ds.valid.n + ds.test.n;
    assert_eq!(n, 64_000);
    assert_eq!((ds.train.n, ds.valid.n, ds.test.n), (51_200, 6_400, 6_400));
    let names: Vec<&str> = ds.tasks.tasks().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["visit", "conversion", "spend"]);
    let total = |t: usize| -> f64 {
        [&ds.train, &ds.valid, &ds.test]
            .iter()
            .map(|s| s.labels[t].iter().map(|&v| f64::from(v)).sum::<f64>())
            .sum()
    };
    let visit = total(0) / n as f64;
    let conversion = total(1) / n as f64;
    assert!((visit - 0.1468).abs() < 0.00005, "visit rate {visit}");
    assert!(
        (conversion - 0.00903).abs() < 0.000005,
        "conversion rate {conversion}"
    );
    assert_eq!(total(1), 578.0);
    assert!((total(2) / n as f64 - 1.05).abs() < 0.01);
    // funnel: no conversion without a visit, spend > 0 exactly when converted
    for s in [&ds.train, &ds.valid, &ds.test] {
        for i in 0..s.n {
            assert!(s.labels[1][i] <= s.labels[0][i]);
            assert_eq!(s.labels[2][i] > 0.0, s.labels[1][i] == 1.0);
        }
    }
    let cats: Vec<(&str, usize)> = ds
        .cat_fields
        .iter()
        .map(|f| (f.name.as_str(), f.vocab))
        .collect();
    assert_eq!(
        cats,
        [
            ("history_segment", 8),
            ("mens", 3),
            ("womens", 3),
            ("zip_code", 4),
            ("newbie", 3),
            ("channel", 4),
            ("treatment", 4)
        ]
    );
}

#[test]
fn time_split_ties_keep_file_order() {
    use polars::prelude::*;
    let n = 50usize;
    let ts: Vec<i64> = (0..n as i64).map(|i| (i * 7) % 5).collect();
    let df = DataFrame::new(n, vec![Column::new("ts".into(), ts.clone())]).unwrap();
    let layout = encode::Layout {
        source: "frame".into(),
        categorical: vec![],
        numeric: vec![],
        transform: NumericTransform::Standardize,
        buckets: 10,
        tasks: vec![],
        time: Some("ts".into()),
        time_type: crate::data::TimeType::Auto,
        split: SplitSpec::default(),
        given: None,
    };
    let idx = encode::split_indices(&df, &layout).unwrap();
    let order: Vec<usize> = idx
        .train
        .iter()
        .chain(&idx.valid)
        .chain(&idx.test)
        .copied()
        .collect();
    let mut expect: Vec<usize> = (0..n).collect();
    expect.sort_by_key(|&i| ts[i]); // stable
    assert_eq!(order, expect);
}
