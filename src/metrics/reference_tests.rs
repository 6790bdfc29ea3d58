//! Parity with scikit-learn / SciPy / NumPy on the cases written by
//! `scripts/make_metric_fixtures.py` into
//! `tests/fixtures/metrics/reference.json` (regenerate with that script).

use serde_json::Value;

use super::*;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/metrics/reference.json"
);
const REL_TOL: f64 = 1e-9;

fn fixture() -> Value {
    let text =
        std::fs::read_to_string(FIXTURE).unwrap_or_else(|e| panic!("cannot read {FIXTURE}: {e}"));
    serde_json::from_str(&text).expect("reference.json is valid JSON")
}

/// Inputs are stored as the exact f64 value of each f32.
fn f32_vec(case: &Value, key: &str) -> Vec<f32> {
    case[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is an array"))
        .iter()
        .map(|v| v.as_f64().expect("number") as f32)
        .collect()
}

fn expected(case: &Value, key: &str) -> f64 {
    case[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is a number"))
}

fn assert_rel(got: f64, want: f64, what: &str, case: &Value) {
    let err = (got - want).abs();
    assert!(
        err <= REL_TOL * want.abs() || err <= 1e-15,
        "{what} for case {}: got {got}, reference {want} (rel err {:e})",
        case["name"],
        err / want.abs()
    );
}

fn cases(section: &str) -> Vec<Value> {
    let cases = fixture()[section].as_array().expect("section").clone();
    assert!(cases.len() >= 5, "{section} has {} cases", cases.len());
    cases
}

#[test]
fn auc_matches_sklearn_roc_auc_score() {
    for case in cases("binary") {
        let got = auc(&f32_vec(&case, "labels"), &f32_vec(&case, "probs")).unwrap();
        assert_rel(got, expected(&case, "auc"), "AUC", &case);
    }
}

#[test]
fn logloss_matches_sklearn_log_loss_on_clipped_probs() {
    for case in cases("binary") {
        let got = logloss(&f32_vec(&case, "labels"), &f32_vec(&case, "probs")).unwrap();
        assert_rel(got, expected(&case, "logloss"), "log-loss", &case);
    }
}

#[test]
fn errors_match_numpy() {
    for case in cases("regression") {
        let (y, pred) = (f32_vec(&case, "y"), f32_vec(&case, "pred"));
        assert_rel(
            rmse(&y, &pred).unwrap(),
            expected(&case, "rmse"),
            "RMSE",
            &case,
        );
        assert_rel(
            mae(&y, &pred).unwrap(),
            expected(&case, "mae"),
            "MAE",
            &case,
        );
        assert_rel(
            nrmse(&y, &pred).unwrap(),
            expected(&case, "nrmse"),
            "NRMSE",
            &case,
        );
        assert_rel(
            nmae(&y, &pred).unwrap(),
            expected(&case, "nmae"),
            "NMAE",
            &case,
        );
        assert_rel(
            nrmse_mean(&y, &pred).unwrap(),
            expected(&case, "nrmse_mean"),
            "NRMSE_mean",
            &case,
        );
        assert_rel(
            nmae_mean(&y, &pred).unwrap(),
            expected(&case, "nmae_mean"),
            "NMAE_mean",
            &case,
        );
    }
}

#[test]
fn normalized_gini_matches_ziln_in_numpy() {
    for case in cases("regression") {
        let got = normalized_gini(&f32_vec(&case, "y"), &f32_vec(&case, "pred")).unwrap();
        assert_rel(got, expected(&case, "gini"), "normalized Gini", &case);
    }
}

#[test]
fn spearman_matches_scipy_spearmanr() {
    for case in cases("regression") {
        let got = spearman(&f32_vec(&case, "y"), &f32_vec(&case, "pred")).unwrap();
        assert_rel(got, expected(&case, "spearman"), "Spearman", &case);
    }
}

#[test]
fn fixture_covers_ties_and_large_cases() {
    // Guard against a regenerated fixture silently losing the hard cases.
    let has_ties = |v: &[f32]| {
        let mut s = v.to_vec();
        s.sort_by(f32::total_cmp);
        s.windows(2).any(|w| w[0] == w[1])
    };
    let binary = cases("binary");
    assert!(binary.iter().any(|c| has_ties(&f32_vec(c, "probs"))));
    assert!(binary.iter().any(|c| f32_vec(c, "labels").len() >= 1000));
    let regression = cases("regression");
    assert!(regression.iter().any(|c| has_ties(&f32_vec(c, "pred"))));
    assert!(regression.iter().any(|c| {
        let y = f32_vec(c, "y");
        y.len() >= 1000 && y.iter().filter(|&&v| v == 0.0).count() > y.len() / 2
    }));
}

#[test]
fn every_catalogue_metric_has_a_reference_value() {
    for m in catalogue::CATALOGUE {
        let section = match m.task {
            catalogue::MetricTask::Binary => "binary",
            catalogue::MetricTask::Regression => "regression",
        };
        let (truth, pred) = match m.task {
            catalogue::MetricTask::Binary => ("labels", "probs"),
            catalogue::MetricTask::Regression => ("y", "pred"),
        };
        for case in cases(section) {
            assert!(
                case.get(m.key).is_some(),
                "reference.json case {} has no `{}`: add it to scripts/make_metric_fixtures.py",
                case["name"],
                m.key
            );
            let got = (m.compute)(&f32_vec(&case, truth), &f32_vec(&case, pred)).unwrap();
            assert_rel(got, expected(&case, m.key), m.name, &case);
        }
    }
}
