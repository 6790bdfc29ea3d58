//! Shared-Bottom: shapes, trunk, hand-counted parameters, defaults, training.

use super::*;
use crate::baselines::testkit;
use crate::data::TaskKind::{Binary, Regression};

const TINY: &str = "{embed_dim: 4, bottom: [8], tower: [4]}";

#[test]
fn output_shapes_for_every_chain() {
    testkit::check_shapes("shared_bottom", TINY);
}

#[test]
fn parameter_count_by_hand() {
    // embedding: (11 + 7 + 5) * 4 + (2 * 4 + 4) = 104; e = 16; bottom [8]: 16 * 8 + 8 = 136
    // towers [4]: 8 * 4 + 4 + 4 * 1 + 1 = 41 each
    // 2 tasks: 104 + 136 + 82 = 322; 3 tasks: 363
    assert_eq!(
        testkit::count("shared_bottom", TINY, &[Binary, Regression]),
        322
    );
    assert_eq!(
        testkit::count("shared_bottom", TINY, &[Binary, Binary, Regression]),
        363
    );
}

#[test]
fn separable_tells_the_truth() {
    testkit::check_separable("shared_bottom", TINY);
}

#[test]
fn per_task_gradients_match_separate_backward_passes() {
    testkit::check_per_task_gradients("shared_bottom", TINY);
}

#[test]
fn defaults_yaml_and_readme_equal_the_code() {
    testkit::check_defaults::<SharedBottomConfig>(
        include_str!("README.md"),
        include_str!("defaults.yaml"),
    );
}

#[test]
fn trains() {
    testkit::check_trains("shared_bottom", TINY);
}

#[test]
fn trains_through_the_trainer() {
    testkit::check_train_cell("shared_bottom");
}
