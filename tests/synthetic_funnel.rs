//! The synthetic generator's `funnel` option: the default reproduces the generator as it
//! was before the option existed (byte for byte), and `funnel: graded` makes later targets
//! depend on the realised earlier labels with strength δ while the core keeps a learnable
//! signal at δ = 0.

use std::path::Path;

use htlbench::config::parse_experiment;
use htlbench::data::synthetic::{generate, write_table};
use htlbench::data::{Funnel, SyntheticConfig};
use polars::prelude::*;
use sha2::{Digest, Sha256};

fn csv_sha256(cfg: &SyntheticConfig) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    write_table(&generate(cfg).unwrap(), &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn col(df: &DataFrame, name: &str) -> Vec<f64> {
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

fn graded(rows: usize, seed: u64, dependence: f64) -> SyntheticConfig {
    SyntheticConfig {
        rows,
        seed,
        dependence,
        funnel: Funnel::Graded,
        ..Default::default()
    }
}

/// P(a = 1 | b = 1) and P(a = 1 | b = 0).
fn conditional(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (mut n1, mut s1, mut n0, mut s0) = (0.0, 0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        if *y > 0.0 {
            n1 += 1.0;
            s1 += x;
        } else {
            n0 += 1.0;
            s0 += x;
        }
    }
    (s1 / n1, s0 / n0)
}

/// How well a user's share of positive cores on even rows predicts positivity on odd rows
/// (Pearson correlation): > 0 only if whether the core is positive depends on the user.
fn held_out_user_signal(df: &DataFrame, users: usize) -> f64 {
    let u = col(df, "user_id");
    let pos: Vec<f64> = col(df, "watch_time")
        .iter()
        .map(|y| f64::from(u8::from(*y > 0.0)))
        .collect();
    let (mut sum, mut cnt) = (vec![0.0; users], vec![0.0; users]);
    for r in (0..u.len()).step_by(2) {
        sum[u[r] as usize] += pos[r];
        cnt[u[r] as usize] += 1.0;
    }
    let prior = mean(&pos);
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for r in (1..u.len()).step_by(2) {
        let k = u[r] as usize;
        // shrunk towards the overall rate, so rare users do not dominate
        x.push((sum[k] + 5.0 * prior) / (cnt[k] + 5.0));
        y.push(pos[r]);
    }
    let (mx, my) = (mean(&x), mean(&y));
    let cov: f64 = x.iter().zip(&y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let vx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
    let vy: f64 = y.iter().map(|b| (b - my) * (b - my)).sum();
    cov / (vx * vy).sqrt()
}

#[test]
fn default_funnel_reproduces_the_generator_before_the_option_byte_for_byte() {
    // sha256 of `htl data gen --rows 100000 --seed 7 --out q.csv` (the quickstart's data)
    // and of `--rows 20000 --seed 3 --dependence 0`, written by htl built from main at
    // f21d39c, before `funnel` existed.
    let quick = SyntheticConfig {
        rows: 100_000,
        seed: 7,
        ..Default::default()
    };
    assert_eq!(
        csv_sha256(&quick),
        "51e941462415aa322916c5218f1cfa2fd1786140773126e265f19c90018bb274"
    );
    let independent = SyntheticConfig {
        rows: 20_000,
        seed: 3,
        dependence: 0.0,
        ..Default::default()
    };
    assert_eq!(
        csv_sha256(&independent),
        "ba13668574b93c7b1c4ef70b9fa77a8a24dcd5ae02832b1a3ebba5dd3064ae6f"
    );
}

#[test]
fn the_default_funnel_is_not_serialised_and_graded_is() {
    let text = serde_yaml::to_string(&SyntheticConfig::default()).unwrap();
    assert!(!text.contains("funnel"), "{text}");
    let text = serde_yaml::to_string(&graded(10, 1, 0.5)).unwrap();
    assert!(text.contains("funnel: graded"), "{text}");
    let back: SyntheticConfig = serde_yaml::from_str(&text).unwrap();
    assert_eq!(back.funnel, Funnel::Graded);
}

#[test]
fn an_unknown_funnel_names_the_key_and_the_choices() {
    let yaml = "dataset: {synthetic: {rows: 100, funnel: soft}}\nvariants: [{model: dnn}]\n";
    let e = parse_experiment(yaml, Path::new("x.yaml"))
        .unwrap_err()
        .to_string();
    assert!(!e.contains('\n'), "{e}");
    for want in ["x.yaml", "funnel", "soft", "strict", "graded"] {
        assert!(e.contains(want), "`{want}` missing from: {e}");
    }
}

#[test]
fn graded_keeps_marginal_rates_along_the_sweep() {
    for delta in [0.0, 0.5, 0.9, 1.0] {
        let df = generate(&graded(60_000, 4, delta)).unwrap();
        let click = mean(&col(&df, "click"));
        let lv = mean(&col(&df, "long_view"));
        let pos = mean(
            &col(&df, "watch_time")
                .iter()
                .map(|y| f64::from(u8::from(*y > 0.0)))
                .collect::<Vec<_>>(),
        );
        assert!((click - 0.3).abs() < 0.01, "δ {delta}: click rate {click}");
        assert!((lv - 0.12).abs() < 0.01, "δ {delta}: long_view rate {lv}");
        // Π rate × (1 - zero_prob) = 0.12 × 0.95
        assert!((pos - 0.114).abs() < 0.01, "δ {delta}: positive core {pos}");
    }
}

#[test]
fn graded_dependence_on_the_previous_label_grows_with_delta() {
    let mut ratios = Vec::new();
    for delta in [0.0, 0.5, 0.9] {
        let df = generate(&graded(60_000, 5, delta)).unwrap();
        let (after, without) = conditional(&col(&df, "long_view"), &col(&df, "click"));
        ratios.push(without / after);
    }
    // δ = 0: long views as likely without a click (no shared factors either); the gate
    // 1 - δ (1 - click) then cuts them: 0.5 and 0.1 of the no-click probability remain
    // (less once the shared factors correlate the two scores).
    assert!((ratios[0] - 1.0).abs() < 0.1, "{ratios:?}");
    assert!(ratios[1] < 0.6 && ratios[1] > 0.2, "{ratios:?}");
    assert!(ratios[2] < 0.15, "{ratios:?}");
    // δ = 1 is the strict funnel: nothing without the previous step
    let df = generate(&graded(20_000, 5, 1.0)).unwrap();
    let (click, lv) = (col(&df, "click"), col(&df, "long_view"));
    let wt = col(&df, "watch_time");
    assert!(click.iter().zip(&lv).all(|(c, l)| *l <= *c));
    assert!(lv.iter().zip(&wt).all(|(l, y)| *y == 0.0 || *l == 1.0));
}

#[test]
fn graded_core_value_depends_on_the_last_label() {
    // among positive cores, those after a long view are larger (the + signal δ a_K term)
    let df = generate(&graded(60_000, 6, 0.5)).unwrap();
    let (lv, wt) = (col(&df, "long_view"), col(&df, "watch_time"));
    let logs = |want: f64| -> f64 {
        let v: Vec<f64> = lv
            .iter()
            .zip(&wt)
            .filter(|(l, y)| **y > 0.0 && **l == want)
            .map(|(_, y)| y.ln())
            .collect();
        mean(&v)
    };
    assert!(
        logs(1.0) - logs(0.0) > 0.5,
        "{} vs {}",
        logs(1.0),
        logs(0.0)
    );
}

#[test]
fn graded_core_positivity_is_learnable_at_zero_dependence_and_strict_is_not() {
    let strict = SyntheticConfig {
        rows: 60_000,
        seed: 9,
        dependence: 0.0,
        ..Default::default()
    };
    let r_strict = held_out_user_signal(&generate(&strict).unwrap(), 2000);
    let r_graded = held_out_user_signal(&generate(&graded(60_000, 9, 0.0)).unwrap(), 2000);
    assert!(r_strict.abs() < 0.03, "strict: {r_strict}");
    assert!(r_graded > 0.1, "graded: {r_graded}");
    // and the actions are independent of the core at δ = 0
    let df = generate(&graded(60_000, 9, 0.0)).unwrap();
    let pos: Vec<f64> = col(&df, "watch_time")
        .iter()
        .map(|y| f64::from(u8::from(*y > 0.0)))
        .collect();
    let (after, without) = conditional(&pos, &col(&df, "long_view"));
    assert!((after - without).abs() < 0.015, "{after} vs {without}");
}
