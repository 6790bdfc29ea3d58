//! Where cells are trained: the YAML `executor:` key and its `slurm:` block.
//!
//! ```yaml
//! executor: slurm            # local (default) | slurm; `htl run --executor` overrides it
//! slurm:
//!   partition: gpu           # sbatch --partition
//!   time: "02:00:00"         # time limit per cell: sbatch --time (MM, MM:SS, HH:MM:SS, D-HH[:MM[:SS]])
//!   cpus_per_cell: 4         # sbatch --cpus-per-task
//!   mem: 16G                 # sbatch --mem (a number with an optional K, M, G or T)
//!   gres: "gpu:1"            # sbatch --gres (name[:type]:count, comma-separated)
//!   max_concurrent: 8        # at most this many cells at once (the array's %N throttle)
//!   extra_args: ["--account=proj42", "--qos=normal"]   # passed to sbatch as written
//! ```
//! Nothing here is part of a cell's config: the executor never changes a cell id or a result.

use serde::{Deserialize, Serialize};

/// The executor named by the YAML `executor:` key or `htl run --executor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Executor {
    /// Train on this machine (cells side by side on CPU).
    #[default]
    Local,
    /// Submit the cells as a SLURM job array.
    Slurm,
}

impl std::str::FromStr for Executor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "local" => Ok(Executor::Local),
            "slurm" => Ok(Executor::Slurm),
            other => Err(format!("unknown executor `{other}`; valid: local, slurm")),
        }
    }
}

/// The YAML `slurm:` block: how each cell's array task is requested. Every key is optional;
/// an absent key leaves the cluster's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlurmConfig {
    /// Partition (`sbatch --partition`).
    pub partition: Option<String>,
    /// Time limit per cell (`sbatch --time`): `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`,
    /// `D-HH:MM:SS`.
    pub time: Option<String>,
    /// CPUs per cell (`sbatch --cpus-per-task`).
    pub cpus_per_cell: Option<u32>,
    /// Memory per cell (`sbatch --mem`): a whole number with an optional unit K, M, G or T.
    pub mem: Option<String>,
    /// Generic resources per cell (`sbatch --gres`), e.g. `gpu:1` or `gpu:a100:2`.
    pub gres: Option<String>,
    /// At most this many cells run at once (the array throttle `%N`).
    pub max_concurrent: Option<u32>,
    /// More `sbatch` arguments, passed as written (e.g. `--account=…`, `--qos=…`).
    #[serde(default)]
    pub extra_args: Vec<String>,
}

impl SlurmConfig {
    /// Checks every key; the error names the key (`slurm.<key>`), the value and what to write.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(p) = &self.partition {
            if p.is_empty() || p.contains(|c: char| c.is_whitespace() || c == ',') {
                return Err(format!(
                    "key `slurm.partition`: `{p}` is not a partition name; write one name without spaces or commas"
                ));
            }
        }
        if let Some(t) = &self.time {
            if !is_slurm_time(t) {
                return Err(format!(
                    "key `slurm.time`: `{t}` is not a SLURM time limit; write MM, MM:SS, HH:MM:SS or D-HH:MM:SS, e.g. \"02:00:00\""
                ));
            }
        }
        if self.cpus_per_cell == Some(0) {
            return Err("key `slurm.cpus_per_cell`: 0; give at least 1".into());
        }
        if let Some(m) = &self.mem {
            if !is_slurm_mem(m) {
                return Err(format!(
                    "key `slurm.mem`: `{m}` is not a memory size; write a whole number with an optional unit K, M, G or T, e.g. 16G"
                ));
            }
        }
        if let Some(g) = &self.gres {
            if !is_gres(g) {
                return Err(format!(
                    "key `slurm.gres`: `{g}` is not a gres request; write name[:type][:count], e.g. gpu:1 or gpu:a100:2"
                ));
            }
        }
        if self.max_concurrent == Some(0) {
            return Err(
                "key `slurm.max_concurrent`: 0; give at least 1 (or leave it out for no limit)"
                    .into(),
            );
        }
        for (i, a) in self.extra_args.iter().enumerate() {
            if !a.starts_with('-') {
                return Err(format!(
                    "key `slurm.extra_args[{i}]`: `{a}` is not an sbatch option; write each option with its value in one item, e.g. \"--account=proj42\""
                ));
            }
            for owned in [
                "--array",
                "--dependency",
                "--output",
                "--error",
                "--parsable",
            ] {
                if a == owned || a.starts_with(&format!("{owned}=")) {
                    return Err(format!(
                        "key `slurm.extra_args[{i}]`: `{a}` is set by htl itself; remove it"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// `MM`, `MM:SS`, `HH:MM:SS`, `D-HH`, `D-HH:MM`, `D-HH:MM:SS` (digits only), or `UNLIMITED`.
fn is_slurm_time(t: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    if t.eq_ignore_ascii_case("unlimited") || t.eq_ignore_ascii_case("infinite") {
        return true;
    }
    let (days, rest) = match t.split_once('-') {
        Some((d, r)) => (Some(d), r),
        None => (None, t),
    };
    if let Some(d) = days {
        if !digits(d) {
            return false;
        }
    }
    let parts: Vec<&str> = rest.split(':').collect();
    if !parts.iter().all(|p| digits(p)) {
        return false;
    }
    (1..=3).contains(&parts.len())
}

fn is_slurm_mem(m: &str) -> bool {
    let body = m
        .strip_suffix(|c: char| "KMGTkmgt".contains(c))
        .unwrap_or(m);
    !body.is_empty() && body.chars().all(|c| c.is_ascii_digit())
}

fn is_gres(g: &str) -> bool {
    let name_ok = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
    };
    g.split(',').all(|item| {
        let parts: Vec<&str> = item.split(':').collect();
        match parts.as_slice() {
            [name] => name_ok(name),
            [name, last] => name_ok(name) && name_ok(last),
            [name, kind, count] => {
                name_ok(name)
                    && name_ok(kind)
                    && count.chars().all(|c| c.is_ascii_digit())
                    && !count.is_empty()
            }
            _ => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(yaml: &str) -> SlurmConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn a_full_block_is_valid() {
        let c = cfg("{partition: gpu, time: \"1-02:00:00\", cpus_per_cell: 4, mem: 16G, gres: \"gpu:a100:2\", max_concurrent: 8, extra_args: [\"--account=p42\"]}");
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(cfg("{}").validate(), Ok(()));
    }

    #[test]
    fn time_limits_follow_sbatch() {
        for ok in [
            "30",
            "30:00",
            "02:00:00",
            "1-12",
            "1-12:30",
            "1-12:30:00",
            "UNLIMITED",
        ] {
            assert!(is_slurm_time(ok), "{ok}");
        }
        for bad in ["", "2h", "1:2:3:4", "a-12", "-1", "1-", "12:"] {
            assert!(!is_slurm_time(bad), "{bad}");
        }
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        assert_eq!(
            cfg("{time: 2h}").validate().unwrap_err(),
            "key `slurm.time`: `2h` is not a SLURM time limit; write MM, MM:SS, HH:MM:SS or D-HH:MM:SS, e.g. \"02:00:00\""
        );
        assert_eq!(
            cfg("{mem: 16GB}").validate().unwrap_err(),
            "key `slurm.mem`: `16GB` is not a memory size; write a whole number with an optional unit K, M, G or T, e.g. 16G"
        );
        assert_eq!(
            cfg("{gres: \"gpu:a100:x\"}").validate().unwrap_err(),
            "key `slurm.gres`: `gpu:a100:x` is not a gres request; write name[:type][:count], e.g. gpu:1 or gpu:a100:2"
        );
        assert_eq!(
            cfg("{cpus_per_cell: 0}").validate().unwrap_err(),
            "key `slurm.cpus_per_cell`: 0; give at least 1"
        );
        assert_eq!(
            cfg("{max_concurrent: 0}").validate().unwrap_err(),
            "key `slurm.max_concurrent`: 0; give at least 1 (or leave it out for no limit)"
        );
        assert_eq!(
            cfg("{extra_args: [\"--array=1-3\"]}")
                .validate()
                .unwrap_err(),
            "key `slurm.extra_args[0]`: `--array=1-3` is set by htl itself; remove it"
        );
        assert_eq!(
            cfg("{extra_args: [\"account\"]}").validate().unwrap_err(),
            "key `slurm.extra_args[0]`: `account` is not an sbatch option; write each option with its value in one item, e.g. \"--account=proj42\""
        );
        assert_eq!(
            cfg("{partition: \"a b\"}").validate().unwrap_err(),
            "key `slurm.partition`: `a b` is not a partition name; write one name without spaces or commas"
        );
    }

    #[test]
    fn executor_names() {
        assert_eq!("slurm".parse::<Executor>(), Ok(Executor::Slurm));
        assert_eq!(
            "pbs".parse::<Executor>().unwrap_err(),
            "unknown executor `pbs`; valid: local, slurm"
        );
    }
}
