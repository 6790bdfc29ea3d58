//! DNN: shapes, no shared parameters, hand-counted parameters, defaults, training.

use burn::module::Module;
use burn::tensor::Device;

use super::*;
use crate::baselines::testkit;
use crate::data::TaskKind::{Binary, Regression};

const TINY: &str = "{embed_dim: 4, bottom: [8], tower: [4]}";

#[test]
fn output_shapes_for_every_chain() {
    testkit::check_shapes("dnn", TINY);
}

#[test]
fn nothing_is_shared() {
    let m = testkit::build("dnn", TINY, &[Binary, Regression], &Device::flex());
    let crate::zoo::AnyModel::Dnn(d) = &m else {
        panic!("dnn")
    };
    assert!(d.shared_param_ids().is_empty());
    let b = crate::model::testutil::batch(
        &crate::model::testutil::info(&[Binary, Regression]),
        4,
        1,
        &Device::flex(),
    );
    assert!(d.shared(&b, &mut crate::model::testutil::ctx(0)).is_empty());
    // Each task has its own embedding tables.
    assert_ne!(
        d.nets[0].embedding.tables[0].id,
        d.nets[1].embedding.tables[0].id
    );
}

#[test]
fn parameter_count_by_hand() {
    // Per task (fields: vocab 11, 7, 5 and 2 numeric → 4 fields of width 4, e = 16):
    //   embedding: (11 + 7 + 5) * 4 = 92, numeric projection 2 * 4 + 4 = 12      → 104
    //   bottom [8]: 16 * 8 + 8 = 136
    //   tower [4]:  8 * 4 + 4 = 36, head 4 * 1 + 1 = 5                          → 41
    //   total per task 104 + 136 + 41 = 281; two tasks → 562, three → 843.
    assert_eq!(testkit::count("dnn", TINY, &[Binary, Regression]), 562);
    assert_eq!(
        testkit::count("dnn", TINY, &[Binary, Binary, Regression]),
        843
    );
}

#[test]
fn separable_tells_the_truth() {
    testkit::check_separable("dnn", TINY);
}

#[test]
fn defaults_yaml_and_readme_equal_the_code() {
    testkit::check_defaults::<DnnConfig>(include_str!("README.md"), include_str!("defaults.yaml"));
}

#[test]
fn trains() {
    testkit::check_trains("dnn", TINY);
    let m = testkit::build("dnn", TINY, &[Binary, Regression], &Device::flex());
    assert!(m.num_params() > 0);
}

#[test]
fn trains_through_the_trainer() {
    testkit::check_train_cell("dnn");
}
