//! Figure data from an [`Analysis`]: each builder picks numbers the statistics layer
//! computed and arranges them as a [`Figure`], or says why the figure has no data.

use super::analysis::{Analysis, MetricKey};
use super::plot::{
    Bar, BarPanel, Colour, Figure, LegendEntry, LegendKind, LinePanel, Panels, Series,
};
use super::stats::Verdict;
use super::table::{fmt_num, metric_name};

/// A figure to draw, or the reason it is skipped (no data for it: not an error; the reason is
/// shown in report.md).
pub type Built = Result<Figure, String>;

/// Every figure of the report, in the order `report.md` lists them.
pub fn all(a: &Analysis) -> Vec<(&'static str, Built)> {
    vec![
        ("metrics_bars", metrics_bars(a)),
        ("ablation_deltas", ablation_deltas(a)),
        ("valid_curves", valid_curves(a)),
        ("grad_norms", grad_norms(a)),
        ("ifu_attention_vs_concat", ifu_attention_vs_concat(a)),
    ]
}

/// The series colour of a variant: its index among the non-constant variants.
fn colour_of(a: &Analysis, label: &str) -> Colour {
    let i = a
        .variants
        .iter()
        .filter(|v| !v.constant)
        .position(|v| v.label == label);
    i.map_or(Colour::Neutral, Colour::Series)
}

fn key_title(k: &MetricKey) -> String {
    format!(
        "{} {} ({} better)",
        k.task,
        metric_name(&k.metric),
        if k.higher_is_better() { "↑" } else { "↓" }
    )
}

/// Grouped bars: one panel per task × shown metric, one bar per model variant (mean over
/// seeds) with its 95% confidence interval. The constant reference's mean is given in the
/// panel title rather than drawn, so the range stays on the models.
pub fn metrics_bars(a: &Analysis) -> Built {
    let mut panels = Vec::new();
    for k in &a.shown {
        let bars: Vec<Bar> = a
            .variants
            .iter()
            .filter(|v| !v.constant)
            .filter_map(|v| {
                let s = a.summary(&v.label, k)?;
                Some(Bar {
                    label: v.label.clone(),
                    value: s.mean?,
                    interval: s.ci95,
                    colour: colour_of(a, &v.label),
                })
            })
            .collect();
        if bars.is_empty() {
            continue;
        }
        let constant = a
            .variants
            .iter()
            .filter(|v| v.constant)
            .find_map(|v| a.summary(&v.label, k)?.mean);
        let mut title = key_title(k);
        if let Some(c) = constant {
            title.push_str(&format!(", constant {}", fmt_num(c, 4)));
        }
        panels.push(BarPanel {
            title,
            x_label: "test mean over seeds, 95% CI".into(),
            bars,
            from_zero: false,
        });
    }
    if panels.is_empty() {
        return Err("no finished model cell has test metrics".into());
    }
    Ok(Figure {
        name: "metrics_bars".into(),
        title: "Test metrics per variant (mean over seeds, 95% confidence interval)".into(),
        columns: 3,
        legend: vec![],
        panels: Panels::Bars(panels),
    })
}

/// Differences from the reference: one panel per task × shown metric, one bar per other
/// model variant: the mean paired difference (variant − reference) with the 95% interval
/// of the paired differences, coloured by the verdict.
pub fn ablation_deltas(a: &Analysis) -> Built {
    let Some(r) = &a.reference else {
        return Err("no reference variant (no model variant finished)".into());
    };
    let mut panels = Vec::new();
    for k in &a.shown {
        let bars: Vec<Bar> = a
            .variants
            .iter()
            .filter(|v| !v.constant && !a.is_reference(&v.label))
            .filter_map(|v| {
                let c = a.comparison(&v.label, k)?;
                Some(Bar {
                    label: v.label.clone(),
                    value: c.delta?,
                    interval: c.delta_ci95,
                    colour: match c.verdict {
                        Some(Verdict::Better) => Colour::Better,
                        Some(Verdict::Worse) => Colour::Worse,
                        _ => Colour::Neutral,
                    },
                })
            })
            .collect();
        if !bars.is_empty() {
            panels.push(BarPanel {
                title: key_title(k),
                x_label: format!("Δ vs {r} (paired mean, 95% CI)"),
                bars,
                from_zero: true,
            });
        }
    }
    if panels.is_empty() {
        return Err(format!(
            "no other model variant shares a finished seed with the reference {r}"
        ));
    }
    Ok(Figure {
        name: "ablation_deltas".into(),
        title: format!("Difference from {r} per metric (variant − {r})"),
        columns: 3,
        legend: vec![
            LegendEntry {
                label: "significantly better".into(),
                colour: Colour::Better,
                kind: LegendKind::Box,
            },
            LegendEntry {
                label: "significantly worse".into(),
                colour: Colour::Worse,
                kind: LegendKind::Box,
            },
            LegendEntry {
                label: "not significant / no test".into(),
                colour: Colour::Neutral,
                kind: LegendKind::Box,
            },
        ],
        panels: Panels::Bars(panels),
    })
}

/// Validation loss per epoch: one panel per task, one line per variant (mean over seeds).
pub fn valid_curves(a: &Analysis) -> Built {
    let mut panels = Vec::new();
    let mut shown_variants: Vec<String> = Vec::new();
    for t in &a.tasks {
        let series: Vec<Series> = a
            .curves
            .iter()
            .filter(|c| c.task == t.name)
            .map(|c| {
                if !shown_variants.contains(&c.variant) {
                    shown_variants.push(c.variant.clone());
                }
                Series {
                    label: c.variant.clone(),
                    colour: colour_of(a, &c.variant),
                    dashed: false,
                    points: c.points.iter().map(|p| (p.x, p.mean)).collect(),
                    intervals: Vec::new(),
                }
            })
            .collect();
        if !series.is_empty() {
            panels.push(LinePanel {
                title: format!("{}: validation loss", t.name),
                x_label: "epoch".into(),
                y_label: "validation loss (mean over seeds)".into(),
                log_y: false,
                series,
            });
        }
    }
    if panels.is_empty() {
        return Err("no finished cell has a curves.csv".into());
    }
    let legend = a
        .variants
        .iter()
        .filter(|v| shown_variants.contains(&v.label))
        .map(|v| LegendEntry {
            label: v.label.clone(),
            colour: colour_of(a, &v.label),
            kind: LegendKind::Line,
        })
        .collect();
    Ok(Figure {
        name: "valid_curves".into(),
        title: "Validation loss per epoch (core task on the training scale)".into(),
        columns: 3,
        legend,
        panels: Panels::Lines(panels),
    })
}

/// Per-task gradient norms on the shared parameters over training steps (paper Figure 5):
/// one panel per variant that logged them, one colour per task, solid = before the
/// adjustment, dashed = after; logarithmic y axis.
pub fn grad_norms(a: &Analysis) -> Built {
    let task_colour =
        |task: &str| Colour::Series(a.tasks.iter().position(|t| t.name == task).unwrap_or(9));
    let mut panels = Vec::new();
    let mut tasks_seen: Vec<String> = Vec::new();
    for v in &a.variants {
        let series: Vec<Series> = a
            .grads
            .iter()
            .filter(|g| g.variant == v.label)
            .flat_map(|g| {
                if !tasks_seen.contains(&g.task) {
                    tasks_seen.push(g.task.clone());
                }
                [
                    Series {
                        label: format!("{} raw", g.task),
                        colour: task_colour(&g.task),
                        dashed: false,
                        points: g.raw.iter().map(|p| (p.x, p.mean)).collect(),
                        intervals: Vec::new(),
                    },
                    Series {
                        label: format!("{} adjusted", g.task),
                        colour: task_colour(&g.task),
                        dashed: true,
                        points: g.adjusted.iter().map(|p| (p.x, p.mean)).collect(),
                        intervals: Vec::new(),
                    },
                ]
            })
            .collect();
        if !series.is_empty() {
            panels.push(LinePanel {
                title: v.label.clone(),
                x_label: "step".into(),
                y_label: "|G_t| (mean over seeds, log)".into(),
                log_y: true,
                series,
            });
        }
    }
    if panels.is_empty() {
        return Err("no finished cell has a grad_stats.csv (every model cell with shared parameters writes one, `grad: sum` included, unless `train.grad_stats_every` is 0)".into());
    }
    let mut legend: Vec<LegendEntry> = tasks_seen
        .iter()
        .map(|t| LegendEntry {
            label: t.clone(),
            colour: task_colour(t),
            kind: LegendKind::Line,
        })
        .collect();
    legend.push(LegendEntry {
        label: "before adjustment".into(),
        colour: Colour::Ink,
        kind: LegendKind::Line,
    });
    legend.push(LegendEntry {
        label: "after adjustment".into(),
        colour: Colour::Ink,
        kind: LegendKind::Dashed,
    });
    Ok(Figure {
        name: "grad_norms".into(),
        title: "Per-task gradient norms on the shared embedding".into(),
        columns: 2,
        legend,
        panels: Panels::Lines(panels),
    })
}

/// IFU attention vs concat (paper Figure 4): one panel per task × shown metric, the
/// attention and concat variants of each pair (from `options.ifu` in the cells' configs)
/// with their 95% confidence intervals.
pub fn ifu_attention_vs_concat(a: &Analysis) -> Built {
    if a.ifu_pairs.is_empty() {
        return Err(
            "no variant with `options.ifu: concat` and a finished attention counterpart".into(),
        );
    }
    let mut labels: Vec<(String, &str)> = Vec::new();
    for p in &a.ifu_pairs {
        for (l, kind) in [(&p.attention, "attention"), (&p.concat, "concat")] {
            if !labels.iter().any(|(x, _)| x == l) {
                labels.push((l.clone(), kind));
            }
        }
    }
    let mut panels = Vec::new();
    for k in &a.shown {
        let bars: Vec<Bar> = labels
            .iter()
            .filter_map(|(l, kind)| {
                let s = a.summary(l, k)?;
                Some(Bar {
                    label: if l.to_lowercase().contains(kind) {
                        l.clone()
                    } else {
                        format!("{l} ({kind})")
                    },
                    value: s.mean?,
                    interval: s.ci95,
                    colour: colour_of(a, l),
                })
            })
            .collect();
        if !bars.is_empty() {
            panels.push(BarPanel {
                title: key_title(k),
                x_label: "test mean over seeds, 95% CI".into(),
                bars,
                from_zero: false,
            });
        }
    }
    if panels.is_empty() {
        return Err("the IFU variants have no test metrics".into());
    }
    Ok(Figure {
        name: "ifu_attention_vs_concat".into(),
        title: "Information Fusion Unit: attention vs concatenation".into(),
        columns: 3,
        legend: vec![],
        panels: Panels::Bars(panels),
    })
}

/// The file stem of the sweep figure of grid key `key`: `sweep_<key>` with every character
/// outside `[A-Za-z0-9_]` replaced by `_`.
pub fn sweep_name(key: &str) -> String {
    let k: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("sweep_{k}")
}

/// One figure per numeric grid key ([`Analysis::sweeps`]): one panel per task × shown
/// metric, the metric against the key's value, one line per variant (colour per variant
/// label before its grid suffix; solid for the first combination of the other grid keys,
/// dashed for the others; the constant reference grey and dashed), error bars = 95%
/// t-intervals of the mean over seeds. None when the grid has no numeric key.
pub fn sweeps(a: &Analysis) -> Vec<(String, Built)> {
    a.sweeps
        .iter()
        .map(|sw| {
            let mut bases: Vec<&str> = Vec::new();
            let mut others: Vec<&str> = Vec::new();
            for l in &sw.lines {
                if l.constant {
                    continue;
                }
                if !bases.contains(&l.base.as_str()) {
                    bases.push(&l.base);
                }
                if !others.contains(&l.others.as_str()) {
                    others.push(&l.others);
                }
            }
            let mut panels = Vec::new();
            for k in &a.shown {
                let series: Vec<Series> = sw
                    .lines
                    .iter()
                    .filter(|l| &l.key == k)
                    .map(|l| Series {
                        label: l.label.clone(),
                        colour: if l.constant {
                            Colour::Neutral
                        } else {
                            Colour::Series(bases.iter().position(|b| *b == l.base).unwrap_or(0))
                        },
                        dashed: l.constant || others.iter().position(|o| *o == l.others) > Some(0),
                        points: l.points.iter().map(|p| (p.x, p.mean)).collect(),
                        intervals: l
                            .points
                            .iter()
                            .map(|p| p.ci95.unwrap_or((p.mean, p.mean)))
                            .collect(),
                    })
                    .collect();
                if !series.is_empty() {
                    panels.push(LinePanel {
                        title: key_title(k),
                        x_label: sw.key.clone(),
                        y_label: "test mean over seeds, 95% CI".into(),
                        log_y: false,
                        series,
                    });
                }
            }
            let name = sweep_name(&sw.key);
            if panels.is_empty() {
                return (name, Err(format!("no finished cell along `{}`", sw.key)));
            }
            let mut legend: Vec<LegendEntry> = bases
                .iter()
                .enumerate()
                .map(|(i, b)| LegendEntry {
                    label: b.to_string(),
                    colour: Colour::Series(i),
                    kind: LegendKind::Line,
                })
                .collect();
            if sw.lines.iter().any(|l| l.constant) {
                legend.push(LegendEntry {
                    label: "constant".into(),
                    colour: Colour::Neutral,
                    kind: LegendKind::Dashed,
                });
            }
            if others.len() > 1 {
                for (i, o) in others.iter().enumerate() {
                    legend.push(LegendEntry {
                        label: o.to_string(),
                        colour: Colour::Ink,
                        kind: if i == 0 {
                            LegendKind::Line
                        } else {
                            LegendKind::Dashed
                        },
                    });
                }
            }
            let fig = Figure {
                name: name.clone(),
                title: format!(
                    "Test metrics against {} (mean over seeds, 95% confidence interval)",
                    sw.key
                ),
                columns: 3,
                legend,
                panels: Panels::Lines(panels),
            };
            (name, Ok(fig))
        })
        .collect()
}
