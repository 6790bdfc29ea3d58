//! Train / valid / test splits: in time order, or by a seeded random permutation.
//!
//! Sizes: with ratios r (normalised to sum 1) and n rows, train gets
//! round(n r_0) rows, valid round(n r_1), test the rest. Every split must be
//! non-empty. Within a random split the rows keep file order (a model
//! shuffles its own batches); within a time split they are in time order
//! (ties keep file order).

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::error::DataError;

/// Row indices (into the full table, file order) of the three splits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitIndices {
    /// Training rows.
    pub train: Vec<usize>,
    /// Validation rows.
    pub valid: Vec<usize>,
    /// Test rows.
    pub test: Vec<usize>,
}

/// Errors unless `ratios` are three finite positive numbers.
pub fn check_ratios(ratios: &[f64]) -> Result<(), DataError> {
    if ratios.len() != 3 || ratios.iter().any(|r| !r.is_finite() || *r <= 0.0) {
        return Err(DataError::BadRatios {
            ratios: ratios.to_vec(),
        });
    }
    Ok(())
}

/// `8:1:1` for [0.8, 0.1, 0.1]; the numbers as given otherwise.
pub fn ratios_label(ratios: &[f64]) -> String {
    let tenths: Vec<f64> = ratios.iter().map(|r| r * 10.0).collect();
    if tenths.iter().all(|t| (t - t.round()).abs() < 1e-9) {
        tenths
            .iter()
            .map(|t| format!("{}", t.round() as i64))
            .collect::<Vec<_>>()
            .join(":")
    } else {
        ratios
            .iter()
            .map(|r| format!("{r}"))
            .collect::<Vec<_>>()
            .join(":")
    }
}

/// Split sizes (train, valid, test) for `n` rows; errors if one is empty.
pub fn sizes(n: usize, ratios: &[f64]) -> Result<(usize, usize, usize), DataError> {
    check_ratios(ratios)?;
    let total: f64 = ratios.iter().sum();
    let n_train = (((n as f64) * ratios[0] / total).round() as usize).min(n);
    let n_valid = (((n as f64) * ratios[1] / total).round() as usize).min(n - n_train);
    let n_test = n - n_train - n_valid;
    for (name, size) in [("train", n_train), ("valid", n_valid), ("test", n_test)] {
        if size == 0 {
            return Err(DataError::EmptySplit {
                split: name,
                rows: n,
                ratios: ratios_label(ratios),
            });
        }
    }
    Ok((n_train, n_valid, n_test))
}

/// Cuts an ordering of all rows into the three splits, in that order.
pub fn cut(order: &[usize], ratios: &[f64]) -> Result<SplitIndices, DataError> {
    let (a, b, _) = sizes(order.len(), ratios)?;
    Ok(SplitIndices {
        train: order[..a].to_vec(),
        valid: order[a..a + b].to_vec(),
        test: order[a + b..].to_vec(),
    })
}

/// Seeded random split: a Fisher–Yates permutation from `ChaCha8Rng(seed)`,
/// cut by the ratios, each part then sorted back to file order.
pub fn random_split(n: usize, ratios: &[f64], seed: u64) -> Result<SplitIndices, DataError> {
    sizes(n, ratios)?;
    let perm = permutation(n, seed);
    let mut s = cut(&perm, ratios)?;
    s.train.sort_unstable();
    s.valid.sort_unstable();
    s.test.sort_unstable();
    Ok(s)
}

/// Splits `rows` in two by a seeded random permutation: the first part gets
/// round(n a / (a + b)) of the n rows, the second the rest; both keep the
/// order of `rows`. Used to carve a validation split out of a release's own
/// training file (or valid and test out of its test file). Errors with
/// [`DataError::EmptySplit`] (naming `names.0` or `names.1`) if a part is empty.
pub fn carve(
    rows: &[usize],
    (a, b): (f64, f64),
    seed: u64,
    names: (&'static str, &'static str),
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    let n = rows.len();
    let ratios_text = ratios_label(&[a, b]);
    let n_a = ((n as f64) * a / (a + b)).round() as usize;
    let n_a = n_a.min(n);
    for (name, size) in [(names.0, n_a), (names.1, n - n_a)] {
        if size == 0 {
            return Err(DataError::EmptySplit {
                split: name,
                rows: n,
                ratios: ratios_text,
            });
        }
    }
    let perm = permutation(n, seed);
    let mut first: Vec<usize> = perm[..n_a].to_vec();
    let mut second: Vec<usize> = perm[n_a..].to_vec();
    first.sort_unstable();
    second.sort_unstable();
    Ok((
        first.into_iter().map(|i| rows[i]).collect(),
        second.into_iter().map(|i| rows[i]).collect(),
    ))
}

/// [`carve`] within strata: `strata[i]` is the stratum of `rows[i]` (e.g. the
/// pattern of its binary labels). One seeded permutation of all rows is
/// walked in order; each stratum's first round(k a / (a + b)) rows (k its
/// size) go to the first part, the rest to the second. So every stratum is
/// shared in proportion, and a stratum of one row stays in the first part —
/// rare positives cannot all land in the second part by chance.
pub fn carve_stratified(
    rows: &[usize],
    strata: &[u64],
    (a, b): (f64, f64),
    seed: u64,
    names: (&'static str, &'static str),
) -> Result<(Vec<usize>, Vec<usize>), DataError> {
    assert_eq!(rows.len(), strata.len(), "one stratum per row");
    let n = rows.len();
    let mut size: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    for &s in strata {
        *size.entry(s).or_insert(0) += 1;
    }
    let quota: std::collections::HashMap<u64, usize> = size
        .iter()
        .map(|(&s, &k)| (s, (((k as f64) * a / (a + b)).round() as usize).min(k)))
        .collect();
    let mut taken: std::collections::HashMap<u64, usize> = std::collections::HashMap::new();
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for i in permutation(n, seed) {
        let t = taken.entry(strata[i]).or_insert(0);
        if *t < quota[&strata[i]] {
            *t += 1;
            first.push(i);
        } else {
            second.push(i);
        }
    }
    for (name, part) in [(names.0, &first), (names.1, &second)] {
        if part.is_empty() {
            return Err(DataError::EmptySplit {
                split: name,
                rows: n,
                ratios: ratios_label(&[a, b]),
            });
        }
    }
    first.sort_unstable();
    second.sort_unstable();
    Ok((
        first.into_iter().map(|i| rows[i]).collect(),
        second.into_iter().map(|i| rows[i]).collect(),
    ))
}

/// A uniformly random permutation of 0..n, deterministic per seed (own
/// Fisher–Yates over `next_u64`, so it does not depend on `rand`'s shuffle).
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut v: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = bounded(&mut rng, (i + 1) as u64) as usize;
        v.swap(i, j);
    }
    v
}

/// Unbiased integer in 0..bound (Lemire's multiply-and-reject).
pub(crate) fn bounded(rng: &mut ChaCha8Rng, bound: u64) -> u64 {
    debug_assert!(bound > 0);
    let threshold = bound.wrapping_neg() % bound;
    loop {
        let m = u128::from(rng.next_u64()) * u128::from(bound);
        if (m as u64) >= threshold {
            return (m >> 64) as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_8_1_1() {
        assert_eq!(
            sizes(64_000, &[0.8, 0.1, 0.1]).unwrap(),
            (51_200, 6_400, 6_400)
        );
        assert_eq!(sizes(10, &[8.0, 1.0, 1.0]).unwrap(), (8, 1, 1));
        assert_eq!(ratios_label(&[0.8, 0.1, 0.1]), "8:1:1");
        assert_eq!(ratios_label(&[0.7, 0.15, 0.15]), "0.7:0.15:0.15");
    }

    #[test]
    fn empty_split_error_text() {
        let e = sizes(4, &[0.8, 0.1, 0.1]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the valid split is empty: 4 rows split 8:1:1 leave it no rows; use more rows or a larger ratio for it"
        );
        let e = sizes(0, &[0.8, 0.1, 0.1]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("the train split is empty: 0 rows"));
    }

    #[test]
    fn bad_ratios_error_text() {
        let e = check_ratios(&[0.8, 0.2]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "split ratios [0.8, 0.2] are invalid; give three positive numbers (train, valid, test), e.g. [0.8, 0.1, 0.1]"
        );
        assert!(check_ratios(&[0.8, 0.0, 0.2]).is_err());
        assert!(check_ratios(&[0.8, f64::NAN, 0.2]).is_err());
    }

    #[test]
    fn random_split_is_deterministic_per_seed() {
        let a = random_split(1000, &[0.8, 0.1, 0.1], 7).unwrap();
        let b = random_split(1000, &[0.8, 0.1, 0.1], 7).unwrap();
        let c = random_split(1000, &[0.8, 0.1, 0.1], 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            (a.train.len(), a.valid.len(), a.test.len()),
            (800, 100, 100)
        );
        let mut all: Vec<usize> = a
            .train
            .iter()
            .chain(&a.valid)
            .chain(&a.test)
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert!(a.train.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn carve_keeps_order_and_sizes() {
        let rows: Vec<usize> = (100..200).collect();
        let (a, b) = carve(&rows, (0.8, 0.1), 5, ("train", "valid")).unwrap();
        assert_eq!((a.len(), b.len()), (89, 11));
        assert!(a.windows(2).all(|w| w[0] < w[1]) && b.windows(2).all(|w| w[0] < w[1]));
        let mut all: Vec<usize> = a.iter().chain(&b).copied().collect();
        all.sort_unstable();
        assert_eq!(all, rows);
        assert_eq!(
            carve(&rows, (0.8, 0.1), 5, ("train", "valid")).unwrap().1,
            b
        );
        let e = carve(&[1, 2, 3], (0.8, 0.1), 5, ("train", "valid")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the valid split is empty: 3 rows split 8:1 leave it no rows; use more rows or a larger ratio for it"
        );
    }

    #[test]
    fn carve_stratified_shares_rare_strata() {
        let rows: Vec<usize> = (0..100).collect();
        // three positives that a plain carve with seed 2024 puts all in the second part
        let strata: Vec<u64> = rows
            .iter()
            .map(|&i| u64::from([47, 77, 88].contains(&i)))
            .collect();
        for seed in 0..50 {
            let (a, b) =
                carve_stratified(&rows, &strata, (0.8, 0.1), seed, ("train", "valid")).unwrap();
            assert_eq!(a.iter().filter(|&&i| strata[i] == 1).count(), 3);
            assert_eq!((a.len(), b.len()), (89, 11));
            assert!(a.windows(2).all(|w| w[0] < w[1]) && b.windows(2).all(|w| w[0] < w[1]));
        }
        let (_, plain) = carve(&rows, (0.8, 0.1), 2024, ("train", "valid")).unwrap();
        assert!([47, 77, 88].iter().all(|r| plain.contains(r)));
        // 50 / 50 strata of 10: 9 and 1 of each... rounded per stratum
        let strata: Vec<u64> = rows.iter().map(|&i| (i % 2) as u64).collect();
        let (a, b) = carve_stratified(&rows, &strata, (0.8, 0.1), 3, ("train", "valid")).unwrap();
        assert_eq!((a.len(), b.len()), (88, 12));
        assert_eq!(b.iter().filter(|&&i| i % 2 == 1).count(), 6);
        let e = carve_stratified(&[1, 2], &[0, 1], (0.8, 0.1), 1, ("train", "valid")).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("the valid split is empty: 2 rows split 8:1"));
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut p = permutation(257, 3);
        assert_ne!(p, (0..257).collect::<Vec<_>>());
        p.sort_unstable();
        assert_eq!(p, (0..257).collect::<Vec<_>>());
        assert_eq!(permutation(0, 1), Vec::<usize>::new());
        assert_eq!(permutation(1, 1), vec![0]);
    }
}
