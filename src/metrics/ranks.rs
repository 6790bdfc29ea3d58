//! Average ranks, shared by AUC, Spearman and the normalised Gini.

/// 1-based ranks of `x` in ascending order, ties given the average of the
/// ranks they span ("average" / fractional ranking, as `scipy.stats.rankdata`).
///
/// Formula: sort ascending; a group of `t` equal values occupying sorted
/// positions `s+1 ..= s+t` all get rank `s + (t + 1) / 2`.
/// Example: `[10, 20, 20, 5]` → `[2, 3.5, 3.5, 1]`.
///
/// `-0.0` and `0.0` are equal (tied). NaN is not meant to be ranked (every
/// metric rejects it first); if present, values are ordered by
/// [`f64::total_cmp`] (NaN with the sign bit clear after `+inf`), and NaNs are
/// tied with each other only when bit-identical. Never panics; O(n log n).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    // Normalise -0.0 to 0.0 so that total_cmp treats them as equal.
    let key = |i: usize| if x[i] == 0.0 { 0.0 } else { x[i] };
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_unstable_by(|&a, &b| key(a).total_cmp(&key(b)));

    let mut ranks = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let first = key(order[start]);
        let mut end = start + 1;
        while end < order.len() && key(order[end]).total_cmp(&first).is_eq() {
            end += 1;
        }
        // Positions start+1 ..= end (1-based); their mean is (start + 1 + end) / 2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_without_ties_are_positions() {
        assert_eq!(average_ranks(&[3.0, 1.0, 2.0]), vec![3.0, 1.0, 2.0]);
    }

    #[test]
    fn ties_get_the_mean_of_the_positions_they_span() {
        // Sorted: 5 (pos 1), 10 (pos 2), 20 20 (pos 3, 4 -> 3.5).
        assert_eq!(
            average_ranks(&[10.0, 20.0, 20.0, 5.0]),
            vec![2.0, 3.5, 3.5, 1.0]
        );
        // Three-way tie at the bottom: positions 1, 2, 3 -> 2.
        assert_eq!(
            average_ranks(&[1.0, 1.0, 7.0, 1.0]),
            vec![2.0, 2.0, 4.0, 2.0]
        );
    }

    #[test]
    fn all_equal_gives_the_middle_rank() {
        // (n + 1) / 2 = 3.
        assert_eq!(average_ranks(&[4.0; 5]), vec![3.0; 5]);
    }

    #[test]
    fn negative_zero_ties_with_zero() {
        assert_eq!(average_ranks(&[0.0, -0.0, -1.0]), vec![2.5, 2.5, 1.0]);
    }

    #[test]
    fn empty_and_single() {
        assert!(average_ranks(&[]).is_empty());
        assert_eq!(average_ranks(&[42.0]), vec![1.0]);
    }

    #[test]
    fn rank_sum_is_n_n_plus_1_over_2() {
        let x = [0.3, 0.1, 0.3, 0.9, 0.1, 0.1, 0.5];
        let sum: f64 = average_ranks(&x).iter().sum();
        assert_eq!(sum, 28.0);
    }

    #[test]
    fn nan_does_not_panic() {
        let r = average_ranks(&[f64::NAN, 1.0, f64::INFINITY]);
        assert_eq!(r, vec![3.0, 1.0, 2.0]);
    }
}
