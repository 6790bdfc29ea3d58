//! The CSV exporter of the run summary (`summary.csv`). Formatting only; per-cell files
//! (`curves.csv`, `grad_stats.csv`) are the store's ([`crate::store`]).

use std::fmt::Write as _;

use super::summary::{csv_field, SummaryRow};

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

/// `summary.csv`: `variant,task,metric,mean,std,n`.
pub fn summary_csv(rows: &[SummaryRow]) -> String {
    let mut s = String::from("variant,task,metric,mean,std,n\n");
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{},{}",
            csv_field(&r.variant),
            csv_field(&r.task),
            r.metric,
            num(r.mean),
            num(r.std),
            r.n
        );
    }
    s
}
