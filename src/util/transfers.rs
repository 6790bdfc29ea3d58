//! Host↔device copy counters: every `from_data` (host → device) and `into_data`
//! (device → host) of the training loop and the benchmark step goes through
//! [`count_h2d`] / [`count_d2h`], so `htl bench` can show the copies per step and tests can
//! pin them.
//!
//! The counters are per thread: a cell trains on one thread, so cells running side by side
//! do not mix their counts, and a test reads only its own.

use std::cell::Cell;

thread_local! {
    static H2D: Cell<u64> = const { Cell::new(0) };
    static D2H: Cell<u64> = const { Cell::new(0) };
}

/// Copies made on this thread so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Transfers {
    /// Host → device copies (`from_data`).
    pub h2d: u64,
    /// Device → host copies (`into_data`).
    pub d2h: u64,
}

impl std::ops::Sub for Transfers {
    type Output = Transfers;
    fn sub(self, earlier: Transfers) -> Transfers {
        Transfers {
            h2d: self.h2d - earlier.h2d,
            d2h: self.d2h - earlier.d2h,
        }
    }
}

/// Records one host → device copy on this thread.
pub fn count_h2d() {
    H2D.with(|c| c.set(c.get() + 1));
}

/// Records one device → host copy on this thread.
pub fn count_d2h() {
    D2H.with(|c| c.set(c.get() + 1));
}

/// The copies recorded on this thread so far (subtract two readings for a span).
pub fn transfers() -> Transfers {
    Transfers {
        h2d: H2D.with(Cell::get),
        d2h: D2H.with(Cell::get),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_per_thread() {
        let t0 = transfers();
        count_h2d();
        count_h2d();
        count_d2h();
        let other = std::thread::spawn(|| {
            count_h2d();
            transfers()
        })
        .join()
        .unwrap();
        assert_eq!(other, Transfers { h2d: 1, d2h: 0 });
        assert_eq!(transfers() - t0, Transfers { h2d: 2, d2h: 1 });
    }
}
