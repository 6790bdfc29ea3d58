//! Cells on a GPU device, with a mock trainer on a stand-in device (flex marked as a GPU):
//! admission by memory estimate, one cell at a time when the memory is unknown, large
//! evaluation batches that leave the cell id alone, out-of-memory failures that name the
//! model and batch size, and the real estimate of a model.

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::*;
use crate::config::parse_experiment;
use crate::train::memory::{cell_shape, module_sizes};
use crate::train::{MetricTable, TrainOutcome};

const GIB: u64 = 1 << 30;

#[derive(Default)]
struct Seen {
    used: u64,
    most_used: u64,
    running: usize,
    most_running: usize,
    eval_batches: Vec<usize>,
    placements: Vec<DataPlacement>,
}

/// Estimates 6 GiB for variant `big`, 3 GiB otherwise; records what ran at once.
#[derive(Default)]
struct GpuMock {
    seen: Mutex<Seen>,
}

fn need(cell: &CellConfig) -> u64 {
    if cell.variant == "big" {
        6 * GIB
    } else {
        3 * GIB
    }
}

impl CellTrainer for GpuMock {
    fn train(
        &self,
        _cell: &CellConfig,
        _data: &Dataset,
        _device: &Device,
        _progress: crate::train::Progress,
    ) -> Result<TrainOutcome, TrainError> {
        unreachable!("the runner calls train_placed")
    }

    fn train_placed(
        &self,
        cell: &CellConfig,
        data: &Dataset,
        _device: &Device,
        placement: DataPlacement,
        _progress: crate::train::Progress,
    ) -> Result<TrainOutcome, TrainError> {
        if cell.variant == "oom" {
            panic!("called `Result::unwrap()` on an `Err` value: OutOfMemory {{ size: 1073741824 }}\nmore lines");
        }
        {
            let mut s = self.seen.lock().unwrap();
            s.used += need(cell);
            s.running += 1;
            s.most_used = s.most_used.max(s.used);
            s.most_running = s.most_running.max(s.running);
            s.eval_batches.push(cell.train.eval_batch_size);
            s.placements.push(placement);
        }
        std::thread::sleep(std::time::Duration::from_millis(40));
        {
            let mut s = self.seen.lock().unwrap();
            s.used -= need(cell);
            s.running -= 1;
        }
        let mut table = MetricTable::new();
        for split in ["valid", "test"] {
            let tasks = data
                .tasks
                .tasks()
                .iter()
                .map(|t| {
                    (
                        t.name.clone(),
                        BTreeMap::from([("auc".to_string(), Some(0.6))]),
                    )
                })
                .collect();
            table.insert(split.to_string(), tasks);
        }
        Ok(TrainOutcome {
            metrics: table,
            curves: vec![],
            grad_stats: vec![],
            test_predictions: vec![],
            test_labels: vec![],
            best_epoch: 1,
            steps: 1,
        })
    }

    fn estimate(
        &self,
        cell: &CellConfig,
        _data: &Dataset,
        _placement: DataPlacement,
        _eval_batch: usize,
    ) -> Result<u64, TrainError> {
        Ok(need(cell))
    }
}

fn setup(variants: &str) -> (tempfile::TempDir, Experiment, Dataset) {
    let d = tempfile::tempdir().unwrap();
    let yaml = format!(
        "name: g\ndataset: {{synthetic: {{rows: 600, users: 30, items: 20, seed: 1}}}}\nseeds: [1, 2, 3]\nconstant_reference: false\nvariants:\n{variants}"
    );
    let exp = parse_experiment(&yaml, &d.path().join("g.yaml")).unwrap();
    let data = crate::data::load(&exp.dataset, d.path()).unwrap();
    (d, exp, data)
}

fn fake_gpu() -> DeviceChoice {
    DeviceChoice {
        name: "cuda:0".into(),
        backend: "flex",
        device: Device::flex(),
        is_gpu: true,
    }
}

fn gpu_opts(root: &std::path::Path, jobs: Option<usize>, gpu_mem: Option<u64>) -> RunOptions {
    RunOptions {
        out: Some(root.to_path_buf()),
        jobs,
        quiet: true,
        gpu_mem,
        ..RunOptions::default()
    }
}

#[test]
fn cells_share_a_gpu_while_their_estimates_fit() {
    let (d, exp, data) =
        setup("  - {label: big, model: shared_bottom}\n  - {label: small, model: shared_bottom}\n");
    let mock = GpuMock::default();
    let root = d.path().join("out");
    // 12.5 GiB × 0.8 = a budget of 10 GiB: one big (6) and one small (3) at a time at most,
    // or three small; never two big.
    let mem = 25 * GIB / 2;
    let s = run_experiment_with(
        &exp,
        &data,
        &fake_gpu(),
        &gpu_opts(&root, Some(4), Some(mem)),
        &mock,
    )
    .unwrap();
    assert!(s.failed.is_empty(), "{:?}", s.failed);
    assert_eq!(s.trained, 6);
    let seen = mock.seen.lock().unwrap();
    assert!(
        seen.most_used <= 10 * GIB,
        "{} GiB at once",
        seen.most_used / GIB
    );
    assert!(seen.most_running >= 2, "the cells did not share the device");
    // Evaluation in large batches on a GPU; the data on the device.
    assert!(seen.eval_batches.iter().all(|&b| b == GPU_EVAL_BATCH_SIZE));
    assert!(seen.placements.iter().all(|&p| p == DataPlacement::Device));
    // The stored config keeps the value as written, so the cell id is unchanged.
    let store = ResultStore::new(&root);
    for c in &exp.cells {
        let text = std::fs::read_to_string(store.cell_file(&c.id(), "config.yaml")).unwrap();
        assert!(text.contains("eval_batch_size: 8192"), "{text}");
    }
}

#[test]
fn a_cell_above_the_budget_runs_alone_and_says_so() {
    let (d, exp, data) =
        setup("  - {label: big, model: shared_bottom}\n  - {label: small, model: shared_bottom}\n");
    let mock = GpuMock::default();
    // Budget 4 GiB × 0.8 = 3.2: every big cell alone, small ones one by one too.
    let s = run_experiment_with(
        &exp,
        &data,
        &fake_gpu(),
        &gpu_opts(&d.path().join("out"), Some(3), Some(4 * GIB)),
        &mock,
    )
    .unwrap();
    assert_eq!(s.trained, 6);
    assert_eq!(mock.seen.lock().unwrap().most_running, 1);
    let big = exp.cells.iter().find(|c| c.variant == "big").unwrap();
    let line = format!(
        "note: cell {} (shared_bottom, batch_size 2048): estimated 6.00 GiB exceeds the GPU budget 3.20 GiB; it runs alone",
        big.id()
    );
    assert!(s.notes.contains(&line), "{:?}", s.notes);
}

#[test]
fn unknown_gpu_memory_means_one_cell_at_a_time() {
    let (d, exp, data) = setup("  - {label: small, model: shared_bottom}\n");
    let mock = GpuMock::default();
    let s = run_experiment_with(
        &exp,
        &data,
        &fake_gpu(),
        &gpu_opts(&d.path().join("out"), None, None),
        &mock,
    )
    .unwrap();
    assert_eq!(s.trained, 3);
    assert_eq!(mock.seen.lock().unwrap().most_running, 1);
    assert!(s.notes.iter().any(|n| n
        == "note: cuda:0: GPU memory unknown (no --gpu-mem, and nvidia-smi did not report it): one cell at a time; give --gpu-mem GIB to let cells share the device"));
}

#[test]
fn out_of_memory_is_a_cell_failure_naming_model_and_batch_size() {
    let (d, exp, data) = setup(
        "  - {label: oom, model: mmoe, train: {batch_size: 4096}}\n  - {label: small, model: shared_bottom}\n",
    );
    let root = d.path().join("out");
    let s = run_experiment_with(
        &exp,
        &data,
        &fake_gpu(),
        &gpu_opts(&root, Some(2), Some(80 * GIB)),
        &GpuMock::default(),
    )
    .unwrap();
    assert_eq!(s.failed.len(), 3, "only the oom cells fail: {:?}", s.failed);
    let store = ResultStore::new(&root);
    let c = exp.cells.iter().find(|c| c.variant == "oom").unwrap();
    let reason = store.read_failed(&c.id()).unwrap().unwrap().reason;
    let head = "out of memory on cuda:0: model `mmoe` with train.batch_size 4096 (evaluation batches of 65536) did not fit; lower train.batch_size or train.eval_batch_size, or let fewer cells share the device (--jobs, --gpu-mem) [internal error (panic at src/run/gpu_tests.rs:";
    assert!(reason.starts_with(head), "{reason}");
    assert!(
        reason.ends_with(
            "): called `Result::unwrap()` on an `Err` value: OutOfMemory { size: 1073741824 }]"
        ),
        "{reason}"
    );
    assert!(!reason.contains('\n'));
}

#[test]
fn the_real_estimate_of_shared_bottom_by_hand() {
    let (_d, exp, data) = setup(
        "  - {label: sb, model: shared_bottom, options: {embed_dim: 8, bottom: [32, 16], tower: [8]}}\n",
    );
    let cell = &exp.cells[0];
    let shape = cell_shape(cell, &data, DataPlacement::Device, 1000).unwrap();
    let f = data.cat_fields.len() as u64;
    let n = data.num_fields.len() as u64;
    let t = data.tasks.len() as u64;
    let vocab: u64 = data.cat_fields.iter().map(|c| c.vocab as u64).sum();
    let fields = f + u64::from(n > 0);
    // Tables (vocab × 8), the numeric projection (n × 8 + 8), the bottom
    // (8·fields → 32 → 16) and per task a tower (16 → 8) and its output (8 → 1).
    let params = vocab * 8
        + if n > 0 { n * 8 + 8 } else { 0 }
        + (8 * fields * 32 + 32)
        + (32 * 16 + 16)
        + t * ((16 * 8 + 8) + (8 + 1));
    assert_eq!(shape.params, params);
    // Widths: 8 per field (and the numeric one), 32 + 16, per task 8 + 1.
    assert_eq!(shape.row_width, 8 * fields + 32 + 16 + t * 9);
    let rows = (data.train.n + data.valid.n + data.test.n) as u64;
    assert_eq!(shape.resident_rows, rows);
    assert_eq!(
        (shape.batch, shape.eval_batch, shape.tasks),
        (2048, 1000, t)
    );
    // The default trainer estimates exactly this.
    let e = BurnTrainer
        .estimate(cell, &data, DataPlacement::Device, 1000)
        .unwrap();
    assert_eq!(e, crate::train::memory::estimate(&shape).total());
    // module_sizes counts what burn counts.
    let info = crate::model::BuildInfo {
        vocabs: data.cat_fields.iter().map(|c| c.vocab).collect(),
        n_numeric: data.num_fields.len(),
        tasks: data.tasks.clone(),
        init_bias: vec![0.0; data.tasks.len()],
        core_head: crate::model::blocks::CoreHead::Mse,
    };
    let model = crate::zoo::build_model(
        &cell.model,
        &cell.options,
        &info,
        &mut rand::SeedableRng::seed_from_u64(1),
        &Device::flex(),
    )
    .unwrap();
    assert_eq!(
        module_sizes(&model).0,
        burn::module::Module::num_params(&model) as u64
    );
}
