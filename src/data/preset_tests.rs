//! Tests of the presets against the release-format fixtures in
//! `tests/fixtures/<dataset>/` (see `tests/fixtures/README.md`), the shared
//! samples in `$HTL_DATA_DIR` (skipped with a note when absent), the cache
//! and the inspection.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::cache::{cache_path, load_cached_in, read_dataset};
use super::presets::avs::{AvsOptions, Cohort, Company};
use super::presets::kuairand::KuairandOptions;
use super::presets::{avs, kuairand};
use super::*;

fn fx(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn yaml(text: &str) -> DatasetSpec {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn preset_at(p: &str, rel: &str) -> DatasetSpec {
    DatasetSpec::preset(p, Some(fx(rel))).unwrap()
}

/// The typed options of a parsed preset block.
fn opts<T: serde::de::DeserializeOwned>(p: &PresetSpec) -> T {
    serde_json::from_value(serde_json::Value::Object(p.options.clone())).unwrap()
}

/// Sets typed options on a preset block.
fn set_opts(s: &mut PresetSpec, o: &impl serde::Serialize) {
    *s = s.clone().with_options(o).unwrap();
}

fn with(p: &str, dir: &Path, f: impl FnOnce(&mut PresetSpec)) -> DatasetSpec {
    let mut s = PresetSpec::at(presets::find(p).unwrap(), dir);
    f(&mut s);
    DatasetSpec::Preset(s)
}

fn err(spec: &DatasetSpec) -> String {
    load(spec, Path::new(".")).unwrap_err().to_string()
}

fn all_labels(ds: &Dataset, t: usize) -> Vec<f32> {
    [&ds.train, &ds.valid, &ds.test]
        .iter()
        .flat_map(|s| s.labels[t].iter().copied())
        .collect()
}

fn total(ds: &Dataset, t: usize) -> f64 {
    all_labels(ds, t).iter().map(|&v| f64::from(v)).sum()
}

fn sizes(ds: &Dataset) -> (usize, usize, usize) {
    (ds.train.n, ds.valid.n, ds.test.n)
}

fn field_names(ds: &Dataset) -> Vec<String> {
    ds.cat_fields.iter().map(|f| f.name.clone()).collect()
}

fn task_names(ds: &Dataset) -> Vec<String> {
    ds.tasks.tasks().iter().map(|t| t.name.clone()).collect()
}

fn shared(rel: &str) -> Option<PathBuf> {
    let p = data_dir().join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "note: skipping a shared-data check: {} not found (set HTL_DATA_DIR)",
            p.display()
        );
        None
    }
}

/// Copies the files of `src` (not subfolders) into a new temporary folder.
fn copy_dir(src: &Path) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.path().is_file() {
            std::fs::copy(e.path(), d.path().join(e.file_name())).unwrap();
        }
    }
    d
}

/// Replaces the first occurrence of `from` in the file.
fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn col_f64(df: &DataFrame, name: &str) -> Vec<Option<f64>> {
    df.column(name)
        .unwrap()
        .cast(&DataType::Float64)
        .unwrap()
        .f64()
        .unwrap()
        .iter()
        .collect()
}

fn col_str(df: &DataFrame, name: &str) -> Vec<Option<String>> {
    df.column(name)
        .unwrap()
        .cast(&DataType::String)
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .map(|v| v.map(str::to_string))
        .collect()
}

// ---------------------------------------------------------------- YAML

#[test]
fn preset_yaml_shapes_and_roundtrip() {
    let s = yaml("preset: hillstrom");
    assert_eq!(s, DatasetSpec::preset("hillstrom", None).unwrap());
    assert_eq!(s.label(), "hillstrom");
    let s = yaml("{preset: kuairand_pure, path: /data/KuaiRand-Pure, clip_seconds: 600, name: kr, split: {seed: 7}}");
    let DatasetSpec::Preset(ref p) = s else {
        panic!()
    };
    assert_eq!(p.preset.name(), "kuairand_pure");
    assert_eq!(p.path.as_deref(), Some(Path::new("/data/KuaiRand-Pure")));
    assert_eq!(opts::<KuairandOptions>(p).clip_seconds, Some(600.0));
    assert_eq!(p.split.seed, 7);
    assert_eq!(s.label(), "kr");
    assert_eq!(yaml(&serde_yaml::to_string(&s).unwrap()), s);
    let s =
        yaml("{preset: kaggle_avs, path: x, company: 103600030, cohort: [2012-03-01, 2012-07-01]}");
    let DatasetSpec::Preset(ref p) = s else {
        panic!()
    };
    let o: AvsOptions = opts(p);
    assert_eq!(o.company, Some(Company::Id(103_600_030)));
    assert_eq!(o.cohort, Some(avs::default_cohort()));
    assert_eq!(yaml(&serde_yaml::to_string(&s).unwrap()), s);
    let s = yaml("{preset: kaggle_avs, company: all, cohort: all}");
    let DatasetSpec::Preset(ref p) = s else {
        panic!()
    };
    let o: AvsOptions = opts(p);
    assert_eq!(
        (o.company, o.cohort.clone()),
        (Some(Company::All), Some(Cohort::All))
    );
    assert_eq!(yaml(&serde_yaml::to_string(&s).unwrap()), s);
    assert_eq!(
        yaml("{preset: kaggle_avs, company: '103600030'}"),
        yaml("{preset: kaggle_avs, company: 103600030}")
    );
    // chains without reading data
    for (p, names) in [
        ("hillstrom", vec!["visit", "conversion", "spend"]),
        ("kuairand_pure", vec!["is_click", "long_view", "play_time"]),
        (
            "kaggle_avs",
            vec!["repurchase_1y", "repurchase_1m", "spend_1m"],
        ),
        ("aliexpress", vec!["click", "conversion"]),
        ("ali_ccp", vec!["click", "purchase"]),
        ("census_income", vec!["income_50k", "never_married"]),
    ] {
        let c = yaml(&format!("preset: {p}")).task_chain().unwrap();
        let got: Vec<&str> = c.tasks().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(got, names, "{p}");
        assert_eq!(c.core().is_some(), names.len() == 3, "{p}");
    }
}

#[test]
fn preset_yaml_errors() {
    let e = |y: &str| {
        serde_yaml::from_str::<DatasetSpec>(y)
            .unwrap_err()
            .to_string()
    };
    assert!(e("preset: kuairand").contains(
        "invalid dataset: unknown preset `kuairand`, expected one of `hillstrom`, `kuairand_pure`, `kaggle_avs`, `aliexpress`, `ali_ccp`, `census_income`"
    ));
    assert!(e("{preset: hillstrom, tasks: [{name: a, kind: binary}], time: ts}").contains(
        "invalid dataset: `preset: hillstrom` cannot be combined with `tasks`, `time`; a preset defines its own columns, tasks and split (use `path:` for its folder), or remove `preset:` to describe a file yourself"
    ));
    assert!(e("{preset: hillstrom, clip_seconds: 60}").contains(
        "invalid dataset: `clip_seconds:` applies only to the kuairand_pure preset, not to hillstrom"
    ));
    assert!(e("{preset: aliexpress, company: 5}").contains(
        "invalid dataset: `company:` applies only to the kaggle_avs preset, not to aliexpress"
    ));
    assert!(e("{preset: kuairand_pure, clip_seconds: -1}").contains(
        "invalid dataset: `clip_seconds: -1` is invalid; give a positive number of seconds"
    ));
    assert!(e("{path: x.csv, tasks: [{name: a, kind: binary}], company: 5}").contains(
        "invalid dataset: `company` belongs to a `preset:` data set; add `preset:` or remove it"
    ));
    assert!(e("{preset: kaggle_avs, company: acme}")
        .contains("`company: acme` is invalid; give a company id (e.g. 103600030) or `all`"));
    assert!(e("{preset: kaggle_avs, cohort: [2012-07-01, 2012-03-01]}").contains(
        "`cohort: [2012-07-01, 2012-03-01]` is empty; the first date must come before the second"
    ));
    assert!(e("{preset: kaggle_avs, cohort: [2012-13-01, 2013-01-01]}")
        .contains("`cohort:` date \"2012-13-01\" is invalid; write dates as YYYY-MM-DD"));
    assert!(e("{preset: kaggle_avs, cohort: [2012-01-01]}").contains(
        "`cohort:` must be `all` or two dates [from, to), e.g. [2012-03-01, 2012-07-01]"
    ));
    assert!(e("{preset: hillstrom, colour: red}").contains("unknown field `colour`"));
}

// ---------------------------------------------------------------- hillstrom

#[test]
fn hillstrom_fixture() {
    let ds = load(&preset_at("hillstrom", "hillstrom"), Path::new(".")).unwrap();
    assert_eq!(ds.name, "hillstrom");
    assert_eq!(sizes(&ds), (24, 3, 3));
    assert_eq!(ds.split_rule, "random 8:1:1 seed 2024");
    assert_eq!(
        field_names(&ds),
        [
            "history_segment",
            "mens",
            "womens",
            "zip_code",
            "newbie",
            "channel",
            "treatment"
        ]
    );
    assert_eq!(ds.num_fields, ["recency", "history"]);
    assert_eq!(task_names(&ds), ["visit", "conversion", "spend"]);
    // visit every 3rd row, conversion every 6th, spend = 20.5 + 10 i when converted
    assert_eq!(total(&ds, 0), 10.0);
    assert_eq!(total(&ds, 1), 5.0);
    let spend: f64 = [0, 6, 12, 18, 24]
        .iter()
        .map(|i| 20.5 + 10.0 * f64::from(*i))
        .sum();
    assert!((total(&ds, 2) - spend).abs() < 1e-3);
    // the same rows and encoding as the plain tabular spec on that file
    let DatasetSpec::Tabular(mut t) = DatasetSpec::Tabular(presets::hillstrom::tabular_spec())
    else {
        panic!()
    };
    t.path = fx("hillstrom/hillstrom.csv");
    assert_eq!(load(&DatasetSpec::Tabular(t), Path::new(".")).unwrap(), ds);
    // the original download: other file name, `segment` for `treatment`, other column order
    let orig = load(
        &preset_at("hillstrom", "hillstrom/original"),
        Path::new("."),
    )
    .unwrap();
    assert_eq!(orig, ds);
    // `path:` may name the file itself
    let file = load(
        &preset_at("hillstrom", "hillstrom/hillstrom.csv"),
        Path::new("."),
    )
    .unwrap();
    assert_eq!(file, ds);
}

#[test]
fn hillstrom_shared_preset_equals_tabular_spec() {
    if shared("hillstrom/hillstrom.csv").is_none() {
        return;
    }
    let a = load(&yaml("preset: hillstrom"), Path::new(".")).unwrap();
    let b = load(
        &DatasetSpec::Tabular(presets::hillstrom::tabular_spec()),
        Path::new("."),
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(sizes(&a), (51_200, 6_400, 6_400));
    assert_eq!(total(&a, 1), 578.0);
}

// ---------------------------------------------------------------- kuairand_pure

#[test]
fn kuairand_fixture() {
    let ds = load(&preset_at("kuairand_pure", "kuairand_pure"), Path::new(".")).unwrap();
    assert_eq!(ds.name, "kuairand_pure");
    // 40 + 10 log rows; the whole first log is earlier than the second
    assert_eq!(sizes(&ds), (40, 5, 5));
    assert_eq!(ds.split_rule, "time 8:1:1 on column time_ms");
    assert_eq!(task_names(&ds), ["is_click", "long_view", "play_time"]);
    assert_eq!(ds.cat_fields.len(), 39);
    assert_eq!(ds.cat_fields.len(), kuairand::categorical().len());
    assert_eq!(
        ds.num_fields,
        [
            "log1p_follow_user_num",
            "log1p_fans_user_num",
            "log1p_friend_user_num",
            "log1p_register_days",
            "log1p_duration_s"
        ]
    );
    assert_eq!((total(&ds, 0), total(&ds, 1)), (25.0, 14.0));
    let train_rates: Vec<f64> = (0..2).map(|t| ds.train.label_mean(t)).collect();
    assert_eq!(train_rates, [0.5, 11.0 / 40.0]);
    // play time in seconds, one 3600 s view
    assert!((total(&ds, 2) - 4089.3).abs() < 1e-2);
    let play = all_labels(&ds, 2);
    assert_eq!(play.iter().cloned().fold(0.0, f32::max), 3600.0);
    assert_eq!(play.iter().filter(|&&v| v == 0.0).count(), 16);
    // vocabularies fitted on train: 6 users, 8 videos, 3 tabs
    let vocab = |name: &str| ds.cat_fields.iter().find(|f| f.name == name).unwrap().vocab;
    assert_eq!(
        (vocab("user_id"), vocab("video_id"), vocab("tab")),
        (7, 9, 4)
    );
    // user_active_degree: high 13 (users 0, 4), then UNKNOWN, full, middle 7 each (ties
    // by text, upper case first); user 5 has no features -> 0
    assert_eq!(vocab("user_active_degree"), 5);
    let f = field_names(&ds)
        .iter()
        .position(|n| n == "user_active_degree")
        .unwrap();
    let u = field_names(&ds)
        .iter()
        .position(|n| n == "user_id")
        .unwrap();
    // valid rows in time order: users 4, 5, 0, 1, 2
    assert_eq!(ds.valid.cat[f], [1, 0, 1, 3, 4]);
    assert_eq!(ds.valid.cat[u][1], ds.test.cat[u][2]); // user 5 in both
                                                       // video 17 is absent from the video features: its author is unknown (0)
    let a = field_names(&ds)
        .iter()
        .position(|n| n == "author_id")
        .unwrap();
    let v = field_names(&ds)
        .iter()
        .position(|n| n == "video_id")
        .unwrap();
    for s in [&ds.train, &ds.valid, &ds.test] {
        for i in 0..s.n {
            let video17 = s.cat[v][i] == ds.test.cat[v][2]; // test row 3 is video 17
            assert_eq!(s.cat[a][i] == 0, video17);
        }
    }
    // the release root (with data/) and the data/ folder load the same
    let root = load(
        &preset_at("kuairand_pure", "kuairand_pure/data"),
        Path::new("."),
    )
    .unwrap();
    assert_eq!(root, ds);
}

#[test]
fn kuairand_clip_and_frame() {
    let clipped = load(
        &with("kuairand_pure", &fx("kuairand_pure"), |s| {
            set_opts(
                s,
                &KuairandOptions {
                    clip_seconds: Some(60.0),
                },
            )
        }),
        Path::new("."),
    )
    .unwrap();
    assert!((total(&clipped, 2) - 549.3).abs() < 1e-2);
    assert_eq!(
        all_labels(&clipped, 2).iter().cloned().fold(0.0, f32::max),
        60.0
    );
    let spec = PresetSpec::at(presets::find("kuairand_pure").unwrap(), fx("kuairand_pure"));
    let (df, layout) = kuairand::frame(
        &spec,
        &KuairandOptions::default(),
        &spec.folder(Path::new(".")),
    )
    .unwrap();
    assert_eq!(df.height(), 50);
    assert_eq!(layout.time.as_deref(), Some("time_ms"));
    // file order: the first log was written from its row 20 on
    let users = col_f64(&df, "user_id");
    assert_eq!(users[0], Some(2.0)); // log row 20: user 20 % 6
    let fans = col_f64(&df, "log1p_fans_user_num");
    for (u, f) in users.iter().zip(&fans) {
        let u = u.unwrap();
        if u == 5.0 {
            assert_eq!(*f, None, "user 5 has no features");
        } else {
            assert!((f.unwrap() - (100.0 * u).ln_1p()).abs() < 1e-12);
        }
    }
    let dur = col_f64(&df, "log1p_duration_s");
    assert!((dur[0].unwrap() - 14.0f64.ln_1p()).abs() < 1e-12);
    // onehot_feat3 is empty for user 1; tag lists stay one text category
    let oh3 = col_f64(&df, "onehot_feat3");
    assert!(users
        .iter()
        .zip(&oh3)
        .all(|(u, o)| (*u == Some(1.0) || *u == Some(5.0)) == o.is_none()));
    let tags = col_str(&df, "tag");
    assert!(tags.contains(&Some("12,65".to_string())));
}

#[test]
fn kuairand_errors() {
    let d = copy_dir(&fx("kuairand_pure/data"));
    std::fs::remove_file(d.path().join("user_features_pure.csv")).unwrap();
    let spec = DatasetSpec::preset("kuairand_pure", Some(d.path().into())).unwrap();
    assert_eq!(
        err(&spec),
        format!(
            "kuairand_pure data file \"{}\" does not exist; the `kuairand_pure` preset reads log_standard_4_08_to_4_21_pure.csv, log_standard_4_22_to_5_08_pure.csv, user_features_pure.csv and video_features_basic_pure.csv (the release's data/ folder) from its `path:` folder (here \"{}\"). Download the data set from https://kuairand.com (files: https://zenodo.org/records/10439422, KuaiRand-Pure)",
            d.path().join("user_features_pure.csv").display(),
            d.path().display()
        )
    );
    // a misspelled column
    let d = copy_dir(&fx("kuairand_pure/data"));
    let log2 = d.path().join("log_standard_4_22_to_5_08_pure.csv");
    edit(&log2, "play_time_ms", "playtime_ms");
    let spec = DatasetSpec::preset("kuairand_pure", Some(d.path().into())).unwrap();
    assert_eq!(
        err(&spec),
        format!(
            "column \"play_time_ms\" (task \"play_time\") not found in \"{}\"; did you mean \"playtime_ms\" or \"time_ms\"?; available columns: user_id, video_id, date, hourmin, time_ms, is_click, is_like, is_follow, is_comment, is_forward, is_hate, long_view, playtime_ms, duration_ms, profile_stay_time, comment_stay_time, is_profile_enter, is_rand, tab",
            log2.display()
        )
    );
    // a wrong type
    let d = copy_dir(&fx("kuairand_pure/data"));
    let log2 = d.path().join("log_standard_4_22_to_5_08_pure.csv");
    edit(&log2, "1650690041000", "yesterday");
    let spec = DatasetSpec::preset("kuairand_pure", Some(d.path().into())).unwrap();
    assert_eq!(
        err(&spec),
        format!(
            "column \"time_ms\" (time column) in \"{}\" has \"yesterday\" at row 2, but the kuairand_pure release stores integers there; check that this is the original, unmodified file",
            log2.display()
        )
    );
    // a join key of the wrong type in the user features
    let d = copy_dir(&fx("kuairand_pure/data"));
    let users = d.path().join("user_features_pure.csv");
    edit(&users, "\n3,", "\nthree,");
    let spec = DatasetSpec::preset("kuairand_pure", Some(d.path().into())).unwrap();
    assert_eq!(
        err(&spec),
        format!(
            "column \"user_id\" (join key) in \"{}\" has \"three\" at row 4, but the kuairand_pure release stores integers there; check that this is the original, unmodified file",
            users.display()
        )
    );
    // a label outside {0, 1}: the row of its own file
    let d = copy_dir(&fx("kuairand_pure/data"));
    let log2 = d.path().join("log_standard_4_22_to_5_08_pure.csv");
    edit(
        &log2,
        "\n4,10,20220422,800,1650585640000,1,",
        "\n4,10,20220422,800,1650585640000,2,",
    );
    let spec = DatasetSpec::preset("kuairand_pure", Some(d.path().into())).unwrap();
    assert_eq!(
        err(&spec),
        format!(
            "column \"is_click\" (task \"is_click\") in \"{}\" has \"2\" at row 1, but the kuairand_pure release stores 0/1 labels there; check that this is the original, unmodified file",
            log2.display()
        )
    );
}

#[test]
fn preset_default_folder_message() {
    // nothing is at $HTL_DATA_DIR/KuaiRand-Pure on these machines
    let dir = data_dir().join("KuaiRand-Pure");
    if dir.exists() {
        return;
    }
    assert_eq!(
        err(&yaml("preset: kuairand_pure")),
        format!(
            "kuairand_pure data file \"{}\" does not exist (nor does its folder); the `kuairand_pure` preset reads log_standard_4_08_to_4_21_pure.csv, log_standard_4_22_to_5_08_pure.csv, user_features_pure.csv and video_features_basic_pure.csv (the release's data/ folder) from its `path:` folder (here \"{}\", the default $HTL_DATA_DIR/KuaiRand-Pure; set `path:` or HTL_DATA_DIR). Download the data set from https://kuairand.com (files: https://zenodo.org/records/10439422, KuaiRand-Pure)",
            dir.join("log_standard_4_08_to_4_21_pure.csv").display(),
            dir.display()
        )
    );
}

// ---------------------------------------------------------------- kaggle_avs

fn customers(f: impl FnOnce(&mut AvsOptions), block: usize) -> DataFrame {
    let spec = PresetSpec::at(presets::find("kaggle_avs").unwrap(), fx("kaggle_avs"));
    let mut o = AvsOptions::default();
    f(&mut o);
    avs::customers(&spec, &o, &spec.folder(Path::new(".")), block)
        .unwrap()
        .0
}

/// (id, repurchase_1y, repurchase_1m, spend_1m) per customer.
fn avs_labels(df: &DataFrame) -> Vec<(i64, f64, f64, f64)> {
    let id = col_f64(df, "id");
    let y = col_f64(df, "repurchase_1y");
    let m = col_f64(df, "repurchase_1m");
    let s = col_f64(df, "spend_1m");
    (0..df.height())
        .map(|i| {
            (
                id[i].unwrap() as i64,
                y[i].unwrap(),
                m[i].unwrap(),
                s[i].unwrap(),
            )
        })
        .collect()
}

#[test]
fn kaggle_avs_fixture_definitions() {
    let df = customers(|_| {}, avs::BLOCK);
    let rows = avs_labels(&df);
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut expect_ids = vec![1001, 1002, 1003, 1004, 1007, 1008, 1009, 1010];
    expect_ids.extend(1011..=1030);
    assert_eq!(
        ids, expect_ids,
        "cohort, company and first-appearance order"
    );
    let get = |id: i64| *rows.iter().find(|r| r.0 == id).unwrap();
    assert_eq!(get(1001), (1001, 1.0, 1.0, 5.0));
    assert_eq!(get(1002), (1002, 1.0, 0.0, 0.0)); // 51 days later
    assert_eq!(get(1003), (1003, 0.0, 0.0, 0.0));
    assert_eq!(get(1004), (1004, 1.0, 1.0, 5.0)); // return dropped; day 30 is inside
    assert_eq!(get(1007), (1007, 1.0, 1.0, 3.0)); // rows out of date order
    assert_eq!(get(1008), (1008, 1.0, 0.0, 0.0)); // day 365 is inside
    assert_eq!(get(1009), (1009, 0.0, 0.0, 0.0)); // day 366 is outside
    assert_eq!(get(1010), (1010, 1.0, 1.0, 1.0)); // zero-amount row dropped
    let sum = |k: usize| -> f64 { rows.iter().map(|r| [r.1, r.2, r.3][k]).sum::<f64>() };
    assert_eq!((sum(0), sum(1)), (19.0, 14.0));
    assert!((sum(2) - 33.0).abs() < 1e-5);
    // first-day features of 1001: the larger of its two first-day rows
    let i = ids.iter().position(|&x| x == 1001).unwrap();
    let at = |c: &str| col_f64(&df, c)[i].unwrap();
    assert_eq!(
        (
            at("chain"),
            at("dept"),
            at("category"),
            at("brand"),
            at("company")
        ),
        (205.0, 9.0, 909.0, 1.0, 103_600_030.0)
    );
    assert_eq!(col_str(&df, "productmeasure")[i].as_deref(), Some("CT"));
    assert!((at("log_first_day_amount") - 19.59f64.ln()).abs() < 1e-12);
    assert!((at("log1p_first_day_quantity") - 3.0f64.ln_1p()).abs() < 1e-12);
    assert_eq!(at("first_day_transactions"), 2.0);
    // 1007: first day 2012-06-10 (read after a later row), dept 3
    let i = ids.iter().position(|&x| x == 1007).unwrap();
    assert_eq!(col_f64(&df, "dept")[i], Some(3.0));
    assert!((col_f64(&df, "log_first_day_amount")[i].unwrap() - 4.25f64.ln()).abs() < 1e-12);
    let i = ids.iter().position(|&x| x == 1010).unwrap();
    assert_eq!(col_str(&df, "productmeasure")[i].as_deref(), Some(""));
    // every block size gives the same table
    for block in [1, 7, 64, 333, 4096] {
        assert_eq!(customers(|_| {}, block), df, "block {block}");
    }
}

#[test]
fn kaggle_avs_options() {
    let rows = avs_labels(&customers(|s| s.cohort = Some(Cohort::All), avs::BLOCK));
    assert_eq!(rows.len(), 29);
    assert!(rows.contains(&(1005, 1.0, 1.0, 2.0)));
    let df = customers(|s| s.company = Some(Company::All), avs::BLOCK);
    let rows = avs_labels(&df);
    assert_eq!(rows.len(), 29);
    assert!(rows.contains(&(1006, 1.0, 1.0, 4.0)));
    // 1007's first purchase is now at the other company, 97 days before the next
    assert!(rows.contains(&(1007, 1.0, 0.0, 0.0)));
    let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let i = ids.iter().position(|&x| x == 1007).unwrap();
    assert_eq!(col_f64(&df, "company")[i], Some(107_800_070.0));
    let sum: f64 = rows.iter().map(|r| r.3).sum();
    assert!((sum - 34.0).abs() < 1e-5);
}

#[test]
fn kaggle_avs_fixture_loads() {
    let ds = load(&preset_at("kaggle_avs", "kaggle_avs"), Path::new(".")).unwrap();
    assert_eq!(ds.name, "kaggle_avs");
    assert_eq!(sizes(&ds), (22, 3, 3));
    assert_eq!(ds.split_rule, "random 8:1:1 seed 2024");
    assert_eq!(
        task_names(&ds),
        ["repurchase_1y", "repurchase_1m", "spend_1m"]
    );
    assert_eq!(
        field_names(&ds),
        [
            "chain",
            "dept",
            "category",
            "brand",
            "productmeasure",
            "company"
        ]
    );
    assert_eq!(
        ds.num_fields,
        [
            "log_first_day_amount",
            "log1p_first_day_quantity",
            "first_day_transactions"
        ]
    );
    assert_eq!((total(&ds, 0), total(&ds, 1)), (19.0, 14.0));
    assert!((total(&ds, 2) - 33.0).abs() < 1e-4);
    // the funnel holds on every row
    for s in [&ds.train, &ds.valid, &ds.test] {
        for i in 0..s.n {
            assert!(s.labels[1][i] <= s.labels[0][i]);
            assert_eq!(s.labels[2][i] > 0.0, s.labels[1][i] == 1.0);
        }
    }
}

#[test]
fn kaggle_avs_errors() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("transactions.csv.gz"), b"not really").unwrap();
    let spec = DatasetSpec::preset("kaggle_avs", Some(d.path().into())).unwrap();
    assert_eq!(
        err(&spec),
        format!(
            "kaggle_avs data file \"{}\" does not exist; found \"{}\": decompress it first (gunzip -k transactions.csv.gz); the `kaggle_avs` preset reads transactions.csv (decompressed) from its `path:` folder (here \"{}\"). Download the data set from https://www.kaggle.com/competitions/acquire-valued-shoppers-challenge/data",
            d.path().join("transactions.csv").display(),
            d.path().join("transactions.csv.gz").display(),
            d.path().display()
        )
    );
    let bad = |from: &str, to: &str| {
        let d = copy_dir(&fx("kaggle_avs"));
        let p = d.path().join("transactions.csv");
        edit(&p, from, to);
        let e = err(&DatasetSpec::preset("kaggle_avs", Some(d.path().into())).unwrap());
        (e, p)
    };
    let (e, p) = bad("purchaseamount", "purchase_amount");
    assert_eq!(
        e,
        format!(
            "column \"purchaseamount\" (source column) not found in \"{}\"; did you mean \"purchase_amount\"?; available columns: id, chain, dept, category, company, brand, date, productsize, productmeasure, purchasequantity, purchase_amount",
            p.display()
        )
    );
    let (e, p) = bad("2012-03-20", "20/03/2012");
    assert_eq!(
        e,
        format!(
            "column \"date\" (time column) in \"{}\" has \"20/03/2012\" at row 3, but the kaggle_avs release stores dates (YYYY-MM-DD) there; check that this is the original, unmodified file",
            p.display()
        )
    );
    let (e, p) = bad(",9.99\n", ",n/a\n");
    assert_eq!(
        e,
        format!(
            "column \"purchaseamount\" (source column) in \"{}\" has \"n/a\" at row 4, but the kaggle_avs release stores numbers there; check that this is the original, unmodified file",
            p.display()
        )
    );
    let (e, p) = bad(",OZ,1,5.0\n", ",OZ,1\n");
    assert_eq!(
        e,
        format!(
            "could not read data file \"{}\": row 3 has 10 comma-separated fields; the header has 11",
            p.display()
        )
    );
    let d = copy_dir(&fx("kaggle_avs"));
    let spec = with("kaggle_avs", d.path(), |s| {
        set_opts(
            s,
            &AvsOptions {
                company: Some(Company::Id(1)),
                cohort: None,
            },
        )
    });
    assert_eq!(
        err(&spec),
        format!(
            "no customers in \"{}\" for company 1 with a first purchase in [2012-03-01, 2012-07-01) (rows with purchaseamount <= 0 are dropped first); check `company:` and `cohort:`",
            d.path().join("transactions.csv").display()
        )
    );
    // too few customers for 8:1:1: company 107800070 has customers 1006 and 1007
    let spec = with("kaggle_avs", d.path(), |s| {
        set_opts(
            s,
            &AvsOptions {
                company: Some(Company::Id(107_800_070)),
                cohort: None,
            },
        )
    });
    assert_eq!(
        err(&spec),
        "the valid split is empty: 2 rows split 8:1:1 leave it no rows; use more rows or a larger ratio for it"
    );
}

// ---------------------------------------------------------------- aliexpress

#[test]
fn aliexpress_fixture() {
    let ds = load(
        &preset_at("aliexpress", "aliexpress/AliExpress_NL"),
        Path::new("."),
    )
    .unwrap();
    // train.csv 30 rows: strata (1,1) 5, (1,0) 5, (0,0) 20 -> valid 1 + 1 + 2
    assert_eq!(sizes(&ds), (26, 4, 10));
    assert_eq!(
        ds.split_rule,
        "given: test = test.csv; valid = a random 1/9 of train.csv stratified by (click, conversion), seed 2024; train = the rest of train.csv"
    );
    assert_eq!(task_names(&ds), ["click", "conversion"]);
    assert_eq!(ds.tasks.core(), None);
    assert_eq!(ds.cat_fields.len(), 16);
    assert_eq!(ds.num_fields.len(), 63);
    assert_eq!(ds.num_fields[62], "numerical_63");
    assert_eq!((total(&ds, 0), total(&ds, 1)), (12.0, 6.0));
    assert_eq!(ds.test.labels[0].iter().sum::<f32>(), 2.0);
    assert_eq!(ds.train.labels[1].iter().sum::<f32>(), 4.0);
    // the parent folder of the country folders: a pointed message
    let parent = fx("aliexpress");
    assert_eq!(
        err(&DatasetSpec::preset("aliexpress", Some(parent.clone())).unwrap()),
        format!(
            "aliexpress data file \"{}\" does not exist; the folder holds country folders (AliExpress_NL): point `path:` at one of them; the `aliexpress` preset reads train.csv and test.csv of one country folder (e.g. AliExpress_NL) from its `path:` folder (here \"{}\"). Download the data set from https://tianchi.aliyun.com/dataset/74690",
            parent.join("train.csv").display(),
            parent.display()
        )
    );
}

#[test]
fn aliexpress_shared_sample() {
    if shared("aliexpress/train.csv").is_none() {
        return;
    }
    let ds = load(&yaml("preset: aliexpress"), Path::new(".")).unwrap();
    assert_eq!(sizes(&ds), (89, 11, 100));
    // all 3 clicks and 2 conversions of train.csv stay in train (stratified carve)
    assert_eq!(ds.train.labels[0].iter().sum::<f32>(), 3.0);
    assert_eq!(ds.train.labels[1].iter().sum::<f32>(), 2.0);
    assert_eq!((total(&ds, 0), total(&ds, 1)), (9.0, 3.0));
    assert_eq!(ds.cat_fields.len(), 16);
    assert_eq!(ds.num_fields.len(), 63);
}

// ---------------------------------------------------------------- ali_ccp

#[test]
fn ali_ccp_fixture_and_sample() {
    let ds = load(&preset_at("ali_ccp", "ali_ccp"), Path::new(".")).unwrap();
    assert_eq!(sizes(&ds), (20, 5, 5));
    assert_eq!(
        ds.split_rule,
        "given: ali_ccp_train.csv, ali_ccp_val.csv, ali_ccp_test.csv"
    );
    assert_eq!(task_names(&ds), ["click", "purchase"]);
    assert_eq!(field_names(&ds)[0], "101");
    assert_eq!(field_names(&ds)[22], "150_14");
    assert_eq!(ds.num_fields.len(), 8);
    assert_eq!((total(&ds, 0), total(&ds, 1)), (8.0, 3.0));
    let d = copy_dir(&fx("ali_ccp"));
    std::fs::remove_file(d.path().join("ali_ccp_val.csv")).unwrap();
    let e = err(&DatasetSpec::preset("ali_ccp", Some(d.path().into())).unwrap());
    assert!(
        e.starts_with(&format!(
            "ali_ccp data file \"{}\" does not exist; the `ali_ccp` preset reads ali_ccp_train.csv, ali_ccp_val.csv and ali_ccp_test.csv (or ali_ccp_{{train,val,test}}_sample.csv)",
            d.path().join("ali_ccp_val.csv").display()
        )),
        "{e}"
    );
    assert!(e.ends_with("Download the data set from https://tianchi.aliyun.com/dataset/408 (CSV files as prepared by torch-rechub: https://github.com/datawhalechina/torch-rechub)"), "{e}");
    if shared("ali-ccp/ali_ccp_train_sample.csv").is_none() {
        return;
    }
    let ds = load(&yaml("preset: ali_ccp"), Path::new(".")).unwrap();
    assert_eq!(sizes(&ds), (100, 50, 50));
    assert_eq!(
        ds.split_rule,
        "given: ali_ccp_train_sample.csv, ali_ccp_val_sample.csv, ali_ccp_test_sample.csv"
    );
    assert_eq!((total(&ds, 0), total(&ds, 1)), (12.0, 3.0));
    assert_eq!(ds.cat_fields.len(), 23);
}

// ---------------------------------------------------------------- census_income

#[test]
fn census_fixture() {
    let ds = load(&preset_at("census_income", "census_income"), Path::new(".")).unwrap();
    assert_eq!(sizes(&ds), (20, 5, 5));
    assert_eq!(
        ds.split_rule,
        "given: train = census-income.data; valid, test = census-income.test halved at random (seed 2024), as in MMoE"
    );
    assert_eq!(task_names(&ds), ["income_50k", "never_married"]);
    assert_eq!(ds.cat_fields.len(), 32);
    assert_eq!(
        ds.num_fields,
        [
            "age",
            "wage_per_hour",
            "capital_gains",
            "capital_losses",
            "stock_dividends",
            "num_emp",
            "weeks_worked"
        ]
    );
    let names = field_names(&ds);
    for not_feature in ["marital_stat", "instance_weight", "income"] {
        assert!(!names.iter().any(|n| n == not_feature));
    }
    // data: income every 5th line, never married every 3rd; test: every 4th / 2nd
    assert_eq!(
        (
            ds.train.labels[0].iter().sum::<f32>(),
            ds.train.labels[1].iter().sum::<f32>()
        ),
        (4.0, 7.0)
    );
    assert_eq!((total(&ds, 0), total(&ds, 1)), (7.0, 12.0));
    // values are trimmed: " Private" and "Private" are one category
    let cw = names.iter().position(|n| n == "class_worker").unwrap();
    assert_eq!(ds.cat_fields[cw].vocab, 3);

    // a 43-field copy with a leading row id, named like the sample: same labels
    let d = tempfile::tempdir().unwrap();
    let data = std::fs::read_to_string(fx("census_income/census-income.data")).unwrap();
    let with_id: String = data
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{},{l}\n", 1000 + i))
        .collect();
    std::fs::write(d.path().join("census-income.sample"), with_id).unwrap();
    let s = load(
        &DatasetSpec::preset("census_income", Some(d.path().into())).unwrap(),
        Path::new("."),
    )
    .unwrap();
    assert_eq!(sizes(&s), (16, 2, 2));
    assert_eq!(s.split_rule, "random 8:1:1 seed 2024");
    assert_eq!((total(&s, 0), total(&s, 1)), (4.0, 7.0));
}

#[test]
fn census_errors() {
    let d = copy_dir(&fx("census_income"));
    let p = d.path().join("census-income.test");
    edit(&p, ", 50000+.", ", rich");
    let spec = DatasetSpec::preset("census_income", Some(d.path().into())).unwrap();
    assert_eq!(
        err(&spec),
        format!(
            "column \"income\" (task \"income_50k\") in \"{}\" has \"rich\" at row 1, but the census_income release stores \"- 50000.\" or \"50000+.\" there; check that this is the original, unmodified file",
            p.display()
        )
    );
    let d = copy_dir(&fx("census_income"));
    let p = d.path().join("census-income.data");
    edit(&p, "\n25, Private,", "\n25 Private,");
    let spec = DatasetSpec::preset("census_income", Some(d.path().into())).unwrap();
    assert_eq!(
        err(&spec),
        format!(
            "could not read data file \"{}\": line 2 has 41 comma-separated fields; census-income files have 42 (41 attributes and the income label), or 43 with a leading row id, on every line",
            p.display()
        )
    );
    let d = copy_dir(&fx("census_income"));
    std::fs::remove_file(d.path().join("census-income.test")).unwrap();
    let e = err(&DatasetSpec::preset("census_income", Some(d.path().into())).unwrap());
    assert!(e.starts_with(&format!(
        "census_income data file \"{}\" does not exist;",
        d.path().join("census-income.test").display()
    )));
    assert!(e.ends_with("https://archive.ics.uci.edu/dataset/117/census+income+kdd"));
}

#[test]
fn census_shared_sample() {
    if shared("census-income/census-income.sample").is_none() {
        return;
    }
    let ds = load(&yaml("preset: census_income"), Path::new(".")).unwrap();
    assert_eq!(sizes(&ds), (160, 20, 20));
    assert_eq!((total(&ds, 0), total(&ds, 1)), (12.0, 84.0));
    assert_eq!(ds.cat_fields.len(), 32);
}

// ---------------------------------------------------------------- cache

fn synth(rows: usize, seed: u64) -> DatasetSpec {
    yaml(&format!("synthetic: {{rows: {rows}, seed: {seed}}}"))
}

#[test]
fn cache_hit_equals_parse() {
    let dir = tempfile::tempdir().unwrap();
    let spec = synth(3000, 4);
    let (a, s1) = load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap();
    let path = cache_path(&spec, Path::new("."), dir.path()).unwrap();
    assert_eq!(s1, CacheStatus::Stored { path: path.clone() });
    assert!(path
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with("synthetic-"));
    let (b, s2) = load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap();
    assert_eq!(s2, CacheStatus::Hit { path: path.clone() });
    assert_eq!(a, b);
    assert_eq!(a, load(&spec, Path::new(".")).unwrap());
    // another seed is another entry
    let (_, s3) = load_cached_in(&synth(3000, 5), Path::new("."), true, dir.path()).unwrap();
    assert!(matches!(s3, CacheStatus::Stored { .. }));
    // disabled: parsed, nothing read or written
    let (c, s4) = load_cached_in(&spec, Path::new("."), false, dir.path()).unwrap();
    assert_eq!((c, s4), (a, CacheStatus::Disabled));
    // no temporary files left behind
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().all(|n| n.ends_with(".htlds")));
}

#[test]
fn cache_wide_codes_and_float_labels() {
    // user_id vocab > 65,536 (4-byte codes), item_id > 256 (2-byte), a regression label
    let spec = yaml("synthetic: {rows: 150000, users: 300000, items: 3000, seed: 9}");
    let dir = tempfile::tempdir().unwrap();
    let (a, _) = load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap();
    assert!(a.cat_fields[0].vocab > 65_536 && a.cat_fields[1].vocab > 256);
    let (b, s) = load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap();
    assert!(s.is_hit());
    assert_eq!(a, b);
}

#[test]
fn cache_invalidated_by_touching_the_source() {
    let d = copy_dir(&fx("hillstrom"));
    let cache = tempfile::tempdir().unwrap();
    let spec = DatasetSpec::preset("hillstrom", Some(d.path().into())).unwrap();
    let (a, s1) = load_cached_in(&spec, Path::new("."), true, cache.path()).unwrap();
    assert!(matches!(s1, CacheStatus::Stored { .. }));
    let (_, s2) = load_cached_in(&spec, Path::new("."), true, cache.path()).unwrap();
    assert!(s2.is_hit());
    // same bytes, new modification time: parsed again
    let f = std::fs::File::options()
        .append(true)
        .open(d.path().join("hillstrom.csv"))
        .unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    drop(f);
    let (b, s3) = load_cached_in(&spec, Path::new("."), true, cache.path()).unwrap();
    assert!(matches!(s3, CacheStatus::Stored { .. }), "{s3:?}");
    assert_eq!(a, b);
    assert_ne!(s1, s3, "a new file name");
    // an edit (another size) too
    edit(&d.path().join("hillstrom.csv"), "Surburban", "Suburban");
    let (_, s4) = load_cached_in(&spec, Path::new("."), true, cache.path()).unwrap();
    assert!(matches!(s4, CacheStatus::Stored { .. }));
    // a spec change too (same files)
    let spec2 = with("hillstrom", d.path(), |s| s.split.seed = 1);
    let (_, s5) = load_cached_in(&spec2, Path::new("."), true, cache.path()).unwrap();
    assert!(matches!(s5, CacheStatus::Stored { .. }));
}

#[test]
fn cache_rejects_truncated_and_corrupt_files() {
    let dir = tempfile::tempdir().unwrap();
    let spec = synth(2000, 8);
    let (a, _) = load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap();
    let path = cache_path(&spec, Path::new("."), dir.path()).unwrap();
    let good = std::fs::read(&path).unwrap();
    let key = super::cache::cache_key(&spec, Path::new(".")).unwrap();
    for (what, bytes, reason) in [
        (
            "truncated",
            good[..good.len() / 2].to_vec(),
            "truncated or padded",
        ),
        (
            "header only",
            good[..30].to_vec(),
            "truncated (no complete header)",
        ),
        ("empty", Vec::new(), "truncated (no complete header)"),
        (
            "garbage",
            b"not a cache file; ".repeat(20),
            "not a dataset cache file",
        ),
        (
            "flipped",
            {
                let mut b = good.clone();
                let k = b.len() - 100;
                b[k] ^= 0x40;
                b
            },
            "checksum mismatch (corrupt file)",
        ),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let e = read_dataset(&path, &key).unwrap_err().to_string();
        assert!(e.starts_with(reason), "{what}: {e}");
        let (b, s) = load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap();
        assert_eq!(b, a, "{what}");
        match s {
            CacheStatus::Rebuilt { path: p, reason: r } => {
                assert_eq!(p, path);
                assert!(r.starts_with(reason), "{what}: {r}");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), good, "{what}: rewritten");
        let (_, s) = load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap();
        assert!(s.is_hit(), "{what}");
    }
    // a file written for another key is not trusted
    let other = super::cache::cache_key(&synth(2000, 9), Path::new(".")).unwrap();
    assert_eq!(
        read_dataset(&path, &other).unwrap_err().to_string(),
        "written for other sources"
    );
}

#[test]
fn cache_concurrent_loads_agree() {
    let dir = tempfile::tempdir().unwrap();
    let spec = synth(20_000, 12);
    let results: Vec<(Dataset, CacheStatus)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..4)
            .map(|_| s.spawn(|| load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (d, _) in &results[1..] {
        assert_eq!(d, &results[0].0);
    }
    let (d, s) = load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap();
    assert!(s.is_hit());
    assert_eq!(d, results[0].0);
    let files = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(files, 1);
}

#[test]
fn cache_unwritable_folder_still_loads() {
    let d = tempfile::tempdir().unwrap();
    let blocker = d.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let spec = synth(1000, 1);
    let (ds, s) = load_cached_in(&spec, Path::new("."), true, &blocker.join("cache")).unwrap();
    assert_eq!(ds, load(&spec, Path::new(".")).unwrap());
    assert!(matches!(s, CacheStatus::NotStored { .. }), "{s:?}");
    assert!(s
        .to_string()
        .starts_with("parsed; could not store the cache file"));
}

#[test]
fn cache_presets_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for (p, rel) in [
        ("kuairand_pure", "kuairand_pure"),
        ("kaggle_avs", "kaggle_avs"),
        ("aliexpress", "aliexpress/AliExpress_NL"),
        ("ali_ccp", "ali_ccp"),
        ("census_income", "census_income"),
    ] {
        let spec = preset_at(p, rel);
        let (a, s1) = load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap();
        assert!(matches!(s1, CacheStatus::Stored { .. }), "{p}");
        let (b, s2) = load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap();
        assert!(s2.is_hit(), "{p}");
        assert_eq!(a, b, "{p}");
    }
    // errors come through unchanged
    let e = load_cached_in(
        &preset_at("kaggle_avs", "nowhere"),
        Path::new("."),
        true,
        dir.path(),
    )
    .unwrap_err();
    assert!(matches!(e, DataError::PresetFileNotFound(_)));
}

// ---------------------------------------------------------------- inspect

#[test]
fn inspect_numbers_and_table() {
    let dir = tempfile::tempdir().unwrap();
    let spec = preset_at("kuairand_pure", "kuairand_pure");
    let (ds, status) = load_cached_in(&spec, Path::new("."), true, dir.path()).unwrap();
    let i = inspect::summarise(&ds, status);
    assert_eq!(i.rows, 50);
    assert_eq!(i.split_sizes, [40, 5, 5]);
    assert_eq!(i.split_rule, "time 8:1:1 on column time_ms");
    assert_eq!(i.cat_fields.len(), 39);
    assert_eq!(i.num_fields.len(), 5);
    let click = &i.tasks[0];
    assert_eq!((click.overall, click.positives), (0.5, 25));
    assert_eq!(click.per_split[0], 0.5);
    assert_eq!((click.given_previous, click.outside_funnel), (None, None));
    let lv = &i.tasks[1];
    assert_eq!((lv.positives, lv.outside_funnel), (14, Some(1)));
    assert_eq!(lv.given_previous, Some(13.0 / 25.0));
    let play = &i.tasks[2];
    assert_eq!(play.kind, TaskKind::Regression);
    // play > 0 on 34 rows; 20 of them without a long view
    assert_eq!((play.positives, play.outside_funnel), (34, Some(20)));
    let c = i.core.as_ref().unwrap();
    assert_eq!(c.name, "play_time");
    assert!((c.mean - 4089.3 / 50.0).abs() < 1e-4);
    assert!((c.median - 3.4).abs() < 1e-6);
    assert!((c.zero_frac - 16.0 / 50.0).abs() < 1e-12);
    assert_eq!(c.max, 3600.0);
    let text = format_inspection(&i);
    for line in [
        "data set    kuairand_pure",
        "rows        50",
        "splits      train 40 (80.0%) · valid 5 (10.0%) · test 5 (10.0%)",
        "split rule  time 8:1:1 on column time_ms",
        "fields      39 categorical",
        "cache       parsed and stored (",
        "  is_click   binary          50.00%      50.00%",
        "core target play_time (all rows):",
        "  mean 81.786   median 3.400   zeros 32.00%   max 3600.0",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
    // through the public entry point (default cache folder not touched: use_cache false)
    let j = inspect(&spec, Path::new("."), false).unwrap();
    assert_eq!(j.cache, CacheStatus::Disabled);
    assert_eq!(j.tasks, i.tasks);
}
