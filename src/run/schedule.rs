//! Sharing a GPU among cells: each cell's memory estimate
//! ([`crate::train::memory`]) is admitted against a budget, and a cell starts only while
//! the sum of the running cells' estimates and its own fits.

use std::sync::{Condvar, Mutex};

/// Share of the device's memory the cells' estimates may fill together; the rest is left
/// to the CUDA context, the allocator's pools and kernel workspaces, which the estimate
/// does not model.
pub const GPU_MEM_SAFETY: f64 = 0.8;

/// The budget for the cells' estimates on a device of `device_bytes`.
pub fn budget_for(device_bytes: u64) -> u64 {
    (device_bytes as f64 * GPU_MEM_SAFETY) as u64
}

/// Whether a cell needing `need` bytes may start while cells holding `used` run under
/// `budget`. A cell always starts on an idle device, even when its estimate alone exceeds
/// the budget (it then runs alone; the runner says so).
pub fn fits(used: u64, need: u64, budget: u64) -> bool {
    used == 0 || used.saturating_add(need) <= budget
}

#[derive(Debug, Default)]
struct State {
    used: u64,
    peak: u64,
    running: usize,
    most_running: usize,
}

/// Admission of cells against a memory budget (`None`: every cell is admitted at once;
/// `--jobs` alone limits them).
#[derive(Debug)]
pub struct Admission {
    budget: Option<u64>,
    state: Mutex<State>,
    freed: Condvar,
}

/// A running cell's share of the budget, given back when dropped.
#[derive(Debug)]
pub struct Permit<'a> {
    admission: &'a Admission,
    need: u64,
}

impl Admission {
    /// An admission with `budget` bytes (`None` = unlimited).
    pub fn new(budget: Option<u64>) -> Self {
        Self {
            budget,
            state: Mutex::new(State::default()),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Blocks until a cell needing `need` bytes fits ([`fits`]), then holds its share until
    /// the permit is dropped.
    pub fn admit(&self, need: u64) -> Permit<'_> {
        let mut s = self.lock();
        if let Some(budget) = self.budget {
            while !fits(s.used, need, budget) {
                s = self.freed.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        }
        s.used += need;
        s.running += 1;
        s.peak = s.peak.max(s.used);
        s.most_running = s.most_running.max(s.running);
        Permit {
            admission: self,
            need,
        }
    }

    /// The largest sum of estimates that ran at once.
    pub fn peak(&self) -> u64 {
        self.lock().peak
    }

    /// The most cells that ran at once.
    pub fn most_running(&self) -> usize {
        self.lock().most_running
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut s = self.admission.lock();
        s.used -= self.need;
        s.running -= 1;
        drop(s);
        self.admission.freed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn fits_by_hand() {
        assert!(fits(0, 5, 10));
        assert!(fits(5, 5, 10));
        assert!(!fits(6, 5, 10));
        // Alone on the device, even above the budget.
        assert!(fits(0, 50, 10));
        assert!(!fits(1, u64::MAX, 10));
        assert_eq!(budget_for(100 << 30), 80 << 30);
    }

    #[test]
    fn admitted_estimates_never_exceed_a_fake_budget() {
        // Budget 10: cells of 6, 6, 3, 3, 4, 12 (the last alone) on 4 workers.
        let a = Admission::new(Some(10));
        let needs = [6u64, 6, 3, 3, 4, 12];
        let next = AtomicUsize::new(0);
        let over = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&need) = needs.get(i) else { break };
                    let _p = a.admit(need);
                    {
                        let st = a.lock();
                        if st.used > 10 && st.running > 1 {
                            over.fetch_add(1, Ordering::SeqCst);
                        }
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                });
            }
        });
        assert_eq!(over.load(Ordering::SeqCst), 0);
        // The 12 ran alone: the peak is 12, and at most 10 otherwise.
        assert_eq!(a.peak(), 12);
        assert!(a.most_running() >= 2, "cells did share the budget");
        assert_eq!(a.lock().used, 0);
    }

    #[test]
    fn without_a_budget_everything_is_admitted() {
        let a = Admission::new(None);
        let p1 = a.admit(u64::MAX / 4);
        let p2 = a.admit(u64::MAX / 4);
        assert_eq!(a.most_running(), 2);
        drop((p1, p2));
        assert_eq!(a.lock().used, 0);
    }
}
