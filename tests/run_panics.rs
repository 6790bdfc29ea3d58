//! A panic inside a cell is recorded as the cell's failure and never reaches the panic hook
//! (no backtrace on the terminal); a panic anywhere else still does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use burn::tensor::Device;
use htlbench::config::{parse_experiment, CellConfig};
use htlbench::data::Dataset;
use htlbench::device::device_from_name;
use htlbench::run::{run_experiment_with, CellTrainer, RunOptions};
use htlbench::store::ResultStore;
use htlbench::train::{Progress, TrainError, TrainOutcome};

struct Panics;

/// The line of the out-of-bounds index below, recorded by the trainer itself.
static PANIC_LINE: AtomicUsize = AtomicUsize::new(0);

impl CellTrainer for Panics {
    fn train(
        &self,
        _cell: &CellConfig,
        _data: &Dataset,
        _device: &Device,
        _progress: Progress,
    ) -> Result<TrainOutcome, TrainError> {
        let v: Vec<u8> = Vec::new();
        let i = v.len() + 3;
        PANIC_LINE.store(line!() as usize + 1, Ordering::SeqCst);
        Err(TrainError::Other(format!("unreachable {}", v[i])))
    }
}

#[test]
fn a_cell_panic_is_a_quiet_failure_and_other_panics_still_report() {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    std::panic::set_hook(Box::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));
    let d = tempfile::tempdir().unwrap();
    let exp = parse_experiment(
        "name: p\ndataset: {synthetic: {rows: 500, users: 20, items: 10, seed: 1}}\nseeds: [1, 2]\nconstant_reference: false\nvariants:\n  - {label: boom, model: shared_bottom}\n",
        &d.path().join("p.yaml"),
    )
    .unwrap();
    let data = htlbench::data::load(&exp.dataset, d.path()).unwrap();
    let root = d.path().join("out");
    let opts = RunOptions {
        out: Some(root.clone()),
        jobs: Some(2),
        quiet: true,
        force: false,
        save_predictions: false,
        only: vec![],
        gpu_mem: None,
        placement: None,
    };
    let s = run_experiment_with(
        &exp,
        &data,
        &device_from_name("cpu").unwrap(),
        &opts,
        &Panics,
    )
    .unwrap();
    assert_eq!(s.failed.len(), 2);
    assert_eq!(
        seen.load(Ordering::SeqCst),
        0,
        "the hook saw a cell's panic"
    );
    let store = ResultStore::new(&root);
    for c in &exp.cells {
        let f = store.read_failed(&c.id()).unwrap().unwrap();
        let line = PANIC_LINE.load(Ordering::SeqCst);
        assert_eq!(
            f.reason,
            format!("internal error (panic at tests/run_panics.rs:{line}): index out of bounds: the len is 0 but the index is 3")
        );
        assert!(store.cell_file(&c.id(), "config.yaml").is_file());
    }
    // Outside a cell, panics reach the hook as before.
    let r = std::thread::spawn(|| panic!("elsewhere")).join();
    assert!(r.is_err());
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}
