//! CSV exporters for per-cell curves and the summary. Formatting only.

use std::fmt::Write as _;

use super::summary::{csv_field, SummaryRow};
use crate::train::EpochRow;

fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        String::new()
    }
}

/// `curves.csv`: `epoch,seconds,monitor,train_loss_<t>…,valid_loss_<t>…,valid_<t>_<metric>…`.
pub fn curves_csv(tasks: &[&str], rows: &[EpochRow]) -> String {
    let mut s = String::from("epoch,seconds,monitor");
    for t in tasks {
        let _ = write!(s, ",train_loss_{t}");
    }
    for t in tasks {
        let _ = write!(s, ",valid_loss_{t}");
    }
    if let Some(r) = rows.first() {
        for (t, ms) in tasks.iter().zip(&r.valid_metrics) {
            for (m, _) in ms {
                let _ = write!(s, ",valid_{t}_{m}");
            }
        }
    }
    s.push('\n');
    for r in rows {
        let _ = write!(s, "{},{:.3},{}", r.epoch, r.seconds, num(r.monitor));
        for x in &r.train_loss {
            let _ = write!(s, ",{}", num(*x));
        }
        for x in &r.valid_loss {
            let _ = write!(s, ",{}", num(*x));
        }
        for ms in &r.valid_metrics {
            for (_, v) in ms {
                let _ = write!(s, ",{}", v.map(num).unwrap_or_default());
            }
        }
        s.push('\n');
    }
    s
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
