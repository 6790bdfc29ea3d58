//! The data room's value types: the task chain and a loaded [`Dataset`]
//! with its three encoded splits.

use serde::{Deserialize, Serialize};

use super::error::DataError;

/// Kind of a task: a binary action or the continuous core target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskKind {
    /// 0/1 label; sigmoid + BCE.
    Binary,
    /// Continuous label >= 0 (the core target); identity + MSE.
    Regression,
}

/// One target of the chain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Task {
    /// Name shown in tables.
    pub name: String,
    /// Binary or regression.
    pub kind: TaskKind,
}

/// k >= 0 binary tasks in funnel order, then at most one regression task,
/// last. At least one task; names distinct and non-empty. Validated at
/// construction (and when deserialised).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTaskChain")]
pub struct TaskChain {
    tasks: Vec<Task>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTaskChain {
    tasks: Vec<Task>,
}

impl TryFrom<RawTaskChain> for TaskChain {
    type Error = DataError;
    fn try_from(raw: RawTaskChain) -> Result<Self, DataError> {
        TaskChain::new(raw.tasks)
    }
}

impl TaskChain {
    /// Validates the chain: non-empty, distinct non-empty names, a regression
    /// task only last and at most one.
    pub fn new(tasks: Vec<Task>) -> Result<Self, DataError> {
        if tasks.is_empty() {
            return Err(DataError::NoTasks);
        }
        for (i, t) in tasks.iter().enumerate() {
            if t.name.is_empty() {
                return Err(DataError::EmptyTaskName);
            }
            if tasks[..i].iter().any(|u| u.name == t.name) {
                return Err(DataError::DuplicateTask {
                    name: t.name.clone(),
                });
            }
        }
        let regs: Vec<usize> = (0..tasks.len())
            .filter(|&i| tasks[i].kind == TaskKind::Regression)
            .collect();
        if regs.len() > 1 {
            return Err(DataError::TwoRegressionTasks {
                first: tasks[regs[0]].name.clone(),
                second: tasks[regs[1]].name.clone(),
            });
        }
        if let Some(&r) = regs.first() {
            if r + 1 != tasks.len() {
                return Err(DataError::RegressionNotLast {
                    task: tasks[r].name.clone(),
                    next: tasks[r + 1].name.clone(),
                });
            }
        }
        Ok(TaskChain { tasks })
    }

    /// The tasks in chain order.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// Number of tasks (>= 1).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Always false (a chain has at least one task); here for completeness.
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Index of the regression (core) task, if any (always the last index).
    pub fn core(&self) -> Option<usize> {
        self.tasks
            .iter()
            .position(|t| t.kind == TaskKind::Regression)
    }

    /// Indices of the binary tasks, in funnel order.
    pub fn binary_indices(&self) -> Vec<usize> {
        (0..self.tasks.len())
            .filter(|&i| self.tasks[i].kind == TaskKind::Binary)
            .collect()
    }

    /// Index of the task called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.name == name)
    }
}

/// A categorical input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatField {
    /// Column name (`<x>_bucket` for a bucketised numeric column).
    pub name: String,
    /// Embedding rows needed: distinct training values + 1; index 0 is the
    /// unseen/missing slot.
    pub vocab: usize,
}

/// One split, column-major. All vectors have `n` rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Split {
    /// Number of rows.
    pub n: usize,
    /// `[field][row]` codes in `0..vocab` of [`Dataset::cat_fields`].
    pub cat: Vec<Vec<u32>>,
    /// `[numeric field][row]`, already transformed (standardised; missing = 0).
    pub num: Vec<Vec<f32>>,
    /// `[task][row]` labels on the original scale (binary as 0.0 / 1.0).
    pub labels: Vec<Vec<f32>>,
}

impl Split {
    /// The rows `rows` (any order, repeats allowed) as a new split, e.g. a batch.
    pub fn select(&self, rows: &[usize]) -> Split {
        let pick = |c: &Vec<f32>| rows.iter().map(|&i| c[i]).collect::<Vec<f32>>();
        Split {
            n: rows.len(),
            cat: self
                .cat
                .iter()
                .map(|c| rows.iter().map(|&i| c[i]).collect())
                .collect(),
            num: self.num.iter().map(pick).collect(),
            labels: self.labels.iter().map(pick).collect(),
        }
    }

    /// Mean of task `t`'s labels (the positive rate of a binary task); 0 if empty.
    pub fn label_mean(&self, t: usize) -> f64 {
        let y = &self.labels[t];
        if y.is_empty() {
            0.0
        } else {
            y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len() as f64
        }
    }
}

/// A loaded, validated, split and encoded data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Short name for tables (`DatasetSpec::label`).
    pub name: String,
    /// Categorical fields (configured categorical columns, then `<x>_bucket`
    /// fields under bucketize), in the order of [`Split::cat`].
    pub cat_fields: Vec<CatField>,
    /// Numeric fields (standardize only), in the order of [`Split::num`].
    pub num_fields: Vec<String>,
    /// The task chain, in the order of [`Split::labels`].
    pub tasks: TaskChain,
    /// Training rows (all fitted statistics come from these).
    pub train: Split,
    /// Validation rows.
    pub valid: Split,
    /// Test rows.
    pub test: Split,
    /// How the rows were split, e.g. `random 8:1:1 seed 2024` or `time 8:1:1 on column ts`.
    pub split_rule: String,
    /// The time column the rows were ordered by (None for a random or given split).
    pub time: Option<TimeColumn>,
}

/// The time column of a time-ordered split, as `htl data inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeColumn {
    /// Column name.
    pub column: String,
    /// How it was ordered: `integers`, `numbers`, `text`, or the file's type (e.g. `date`).
    pub kind: String,
    /// Smallest value, as shown.
    pub min: String,
    /// Largest value, as shown.
    pub max: String,
}
