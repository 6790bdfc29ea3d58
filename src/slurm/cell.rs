//! `htl run-cell <dir> <id>`: what one array task runs.

use std::path::Path;

use super::{SlurmDir, SlurmError};
use crate::config::CellConfig;
use crate::device::device_from_name;
use crate::run::{train_and_store, BurnTrainer, CellFailure};
use crate::store::{MetricsState, ResultStore, CONFIG, FAILED};

/// How [`run_cell`] ended.
#[derive(Debug, Clone, PartialEq)]
pub enum CellRun {
    /// The cell had already finished (e.g. a requeued task): nothing was done.
    AlreadyFinished,
    /// Trained now; its results are stored.
    Trained,
    /// Training failed; `failed.json` holds the reason.
    Failed(String),
}

/// Trains the cell `id` of the submitted result folder `root` with the same trainer and
/// store as `htl run`: reads `cells/<id>/config.yaml` (written at submission; its id must
/// match), `slurm/run.json` (device, data base folder, cache), loads the data (from the
/// shared cache when the submission built one) and writes the results atomically.
pub fn run_cell(
    root: &Path,
    id: &str,
    progress: crate::train::Progress,
) -> Result<CellRun, SlurmError> {
    let store = ResultStore::new(root);
    let sdir = SlurmDir::new(root);
    let run = sdir.read_run()?;
    let cfg_path = store.cell_file(id, CONFIG);
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| {
        SlurmError(format!(
            "{}: {e}; cell `{id}` was not submitted from {} (see `htl status {}`)",
            cfg_path.display(),
            root.display(),
            root.display()
        ))
    })?;
    let cell: CellConfig = serde_yaml::from_str(&text)
        .map_err(|e| SlurmError(format!("{}: {e}", cfg_path.display())))?;
    let actual = cell.id();
    if actual != id {
        return Err(SlurmError(format!(
            "{}: this config has id `{actual}`, not `{id}` (edited, or written by another version of htl); submit again with `htl run <exp> --executor slurm`",
            cfg_path.display()
        )));
    }
    let dev = device_from_name(&run.device).map_err(|e| SlurmError(e.to_string()))?;
    // The cache the submission built (on the shared filesystem), whatever this process's
    // working folder or environment.
    let loaded = match &run.cache_dir {
        Some(dir) => crate::data::cache::load_cached_in(&cell.dataset, &run.base_dir, true, dir),
        None => crate::data::cache::load_cached(&cell.dataset, &run.base_dir, run.use_cache),
    };
    let (data, _cache) = loaded.map_err(|e| {
        SlurmError(format!(
            "cell {id}: loading the data set of {}: {e}",
            run.experiment_file.display()
        ))
    })?;
    let tasks: Vec<String> = data.tasks.tasks().iter().map(|t| t.name.clone()).collect();
    let checked = store
        .check_metrics(id, &tasks)
        .map_err(|e| SlurmError(e.to_string()))?;
    if let MetricsState::Finished(_) = checked {
        // E.g. a requeued task whose first run finished.
        return Ok(CellRun::AlreadyFinished);
    }
    // A result of an earlier attempt (failed, or an unusable metrics.json) is not this
    // attempt's.
    let _ = std::fs::remove_file(store.cell_file(id, FAILED));
    if let MetricsState::Corrupt(_) = checked {
        store
            .set_aside_metrics(id)
            .map_err(|e| SlurmError(e.to_string()))?;
    }
    match train_and_store(
        &store,
        id,
        &cell,
        &data,
        &dev,
        &BurnTrainer,
        run.save_predictions,
        progress,
    ) {
        Ok(()) => Ok(CellRun::Trained),
        Err(CellFailure::Training(why)) => Ok(CellRun::Failed(why)),
        Err(e @ CellFailure::Write(_)) => Err(SlurmError(format!("cell {id}: {e}"))),
    }
}
