//! Scale measurements of the data room (ignored by default; run one at a time):
//!
//! ```text
//! cargo test --release --lib data::bench_tests -- --ignored --nocapture --test-threads 1
//! ```
//!
//! Each writes release-shaped files of the real size into a temporary folder,
//! then times the parse (load + encode), the cache store and the cache hit,
//! and reports the peak resident memory of the test process.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use super::cache::load_cached_in;
use super::*;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    println!(
        "{what:<40} {:>8.2} s   peak RSS {:>7.0} MB",
        t.elapsed().as_secs_f64(),
        peak_rss_mb()
    );
    out
}

/// A small deterministic generator (xorshift).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// KuaiRand-Pure's size: 1,436,609 standard log rows (1,186,059 + 250,550),
/// 27,285 users, 7,583 videos.
fn write_kuairand(dir: &Path) {
    let mut r = Rng(0x9E37_79B9_7F4A_7C15);
    let (users, videos) = (27_285u64, 7_583u64);
    let base = 1_649_347_200_000u64;
    for (name, n, day0) in [
        ("log_standard_4_08_to_4_21_pure.csv", 1_186_059u64, 0u64),
        ("log_standard_4_22_to_5_08_pure.csv", 250_550u64, 14u64),
    ] {
        let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join(name)).unwrap());
        writeln!(w, "user_id,video_id,date,hourmin,time_ms,is_click,is_like,is_follow,is_comment,is_forward,is_hate,long_view,play_time_ms,duration_ms,profile_stay_time,comment_stay_time,is_profile_enter,is_rand,tab").unwrap();
        for i in 0..n {
            let day = day0 + i * 14 / n;
            let hour = r.below(24);
            let t = base + day * 86_400_000 + hour * 3_600_000 + r.below(3_600_000);
            let click = u64::from(r.below(100) < 33);
            let lv = click * u64::from(r.below(100) < 45);
            let dur = 5_000 + r.below(120_000);
            let play = if lv == 1 {
                18_000 + r.below(200_000)
            } else {
                click * r.below(18_000)
            };
            writeln!(
                w,
                "{},{},{},{},{t},{click},0,0,0,0,0,{lv},{play},{dur},0,0,0,0,{}",
                r.below(users),
                r.below(videos),
                20_220_408 + day,
                hour * 100,
                r.below(15)
            )
            .unwrap();
        }
    }
    let mut w =
        std::io::BufWriter::new(std::fs::File::create(dir.join("user_features_pure.csv")).unwrap());
    write!(w, "user_id,user_active_degree,is_lowactive_period,is_live_streamer,is_video_author,follow_user_num,follow_user_num_range,fans_user_num,fans_user_num_range,friend_user_num,friend_user_num_range,register_days,register_days_range").unwrap();
    for k in 0..18 {
        write!(w, ",onehot_feat{k}").unwrap();
    }
    writeln!(w).unwrap();
    let deg = ["high_active", "full_active", "middle_active", "UNKNOWN"];
    for u in 0..users {
        write!(
            w,
            "{u},{},{},{},{},{},\"(0,10]\",{},\"[1,10)\",{},\"[1,5)\",{},730+",
            deg[r.below(4) as usize],
            r.below(2),
            r.below(2),
            r.below(2),
            r.below(500),
            r.below(10_000),
            r.below(100),
            r.below(3_000)
        )
        .unwrap();
        for k in 0..18u64 {
            write!(w, ",{}", r.below(2 + k * 20)).unwrap();
        }
        writeln!(w).unwrap();
    }
    let mut w = std::io::BufWriter::new(
        std::fs::File::create(dir.join("video_features_basic_pure.csv")).unwrap(),
    );
    writeln!(w, "video_id,author_id,video_type,upload_dt,upload_type,visible_status,video_duration,server_width,server_height,music_id,music_type,tag").unwrap();
    for v in 0..videos {
        writeln!(
            w,
            "{v},{},NORMAL,2022-03-01,ShortImport,1,{},720,1280,{},4,\"{},{}\"",
            r.below(6_000),
            5_000 + r.below(120_000),
            r.below(5_000),
            r.below(60),
            r.below(60)
        )
        .unwrap();
    }
}

#[test]
#[ignore]
fn kuairand_pure_full_size() {
    let dir = tempfile::tempdir().unwrap();
    timed("write release-shaped files (1.44M rows)", || {
        write_kuairand(dir.path())
    });
    let cache = tempfile::tempdir().unwrap();
    let spec = DatasetSpec::preset("kuairand_pure", Some(dir.path().into())).unwrap();
    let (a, s) = timed("parse + join + encode + store", || {
        load_cached_in(&spec, Path::new("."), true, cache.path()).unwrap()
    });
    println!("  {s}");
    let (b, s) = timed("cache hit", || {
        load_cached_in(&spec, Path::new("."), true, cache.path()).unwrap()
    });
    assert!(s.is_hit());
    assert_eq!(a, b);
    let size: u64 = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
    println!(
        "  rows {} · {} categorical, {} numeric fields · cache file {:.0} MB",
        a.train.n + a.valid.n + a.test.n,
        a.cat_fields.len(),
        a.num_fields.len(),
        size as f64 / 1e6
    );
}

#[test]
#[ignore]
fn kaggle_avs_throughput() {
    // 20M transaction rows (about 1.3 GB), 300k customers, 20 companies
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("transactions.csv");
    timed("write 20M transaction rows", || {
        let mut r = Rng(7);
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        writeln!(w, "id,chain,dept,category,company,brand,date,productsize,productmeasure,purchasequantity,purchaseamount").unwrap();
        let companies: Vec<u64> = (0..20).map(|k| 103_600_030 + k * 100_000).collect();
        let mut rows = 0u64;
        let mut id = 86_246u64;
        while rows < 20_000_000 {
            id += 1 + r.below(3);
            let n = if r.below(4) == 0 {
                1 + r.below(3)
            } else {
                20 + r.below(110)
            };
            let start = r.below(120);
            for j in 0..n {
                let day = start + j * 4 + r.below(4);
                let (y, doy) = if day < 305 {
                    (2012, day + 61)
                } else {
                    (2013, day - 305)
                };
                let (m, d) = ((doy / 31).min(11) + 1, doy % 28 + 1);
                writeln!(
                    w,
                    "{id},{},{},{},{},{},{y}-{m:02}-{d:02},{},OZ,1,{}.{:02}",
                    r.below(130),
                    r.below(99),
                    r.below(9_999),
                    companies[r.below(20) as usize],
                    r.below(40_000),
                    r.below(64),
                    r.below(40),
                    r.below(100)
                )
                .unwrap();
            }
            rows += n;
        }
    });
    let mb = std::fs::metadata(&path).unwrap().len() as f64 / 1e6;
    for (company, label) in [
        (presets::avs::Company::Id(103_600_030), "one company"),
        (presets::avs::Company::All, "all companies"),
    ] {
        let spec = PresetSpec::at(presets::find("kaggle_avs").unwrap(), dir.path())
            .with_options(&presets::avs::AvsOptions {
                company: Some(company),
                cohort: Some(presets::avs::Cohort::All),
            })
            .unwrap();
        let t = Instant::now();
        let ds = load(&DatasetSpec::Preset(spec), Path::new(".")).unwrap();
        let s = t.elapsed().as_secs_f64();
        println!(
            "kaggle_avs {label:<14} {mb:.0} MB in {s:.2} s ({:.0} MB/s) · {} customers · peak RSS {:.0} MB",
            mb / s,
            ds.train.n + ds.valid.n + ds.test.n,
            peak_rss_mb()
        );
    }
}

#[test]
#[ignore]
fn synthetic_cache_vs_generation_and_json() {
    for rows in [1_000_000usize, 10_000_000] {
        let spec: DatasetSpec =
            serde_yaml::from_str(&format!("synthetic: {{rows: {rows}, seed: 1}}")).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let (a, _) = timed(
            &format!("synthetic {rows}: generate + encode + store"),
            || load_cached_in(&spec, Path::new("."), true, cache.path()).unwrap(),
        );
        let (b, s) = timed(&format!("synthetic {rows}: cache hit"), || {
            load_cached_in(&spec, Path::new("."), true, cache.path()).unwrap()
        });
        assert!(s.is_hit());
        assert_eq!(a, b);
        let size: u64 = std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        println!("  binary cache file {:.0} MB", size as f64 / 1e6);
        // the same columns as JSON, for comparison
        type ColRefs<'a> = (&'a Vec<Vec<u32>>, &'a Vec<Vec<f32>>, &'a Vec<Vec<f32>>);
        let splits: Vec<ColRefs> = [&a.train, &a.valid, &a.test]
            .iter()
            .map(|s| (&s.cat, &s.num, &s.labels))
            .collect();
        let json = timed(&format!("synthetic {rows}: serde_json write"), || {
            serde_json::to_vec(&splits).unwrap()
        });
        println!("  JSON {:.0} MB", json.len() as f64 / 1e6);
        type Cols = (Vec<Vec<u32>>, Vec<Vec<f32>>, Vec<Vec<f32>>);
        let back: Vec<Cols> = timed(&format!("synthetic {rows}: serde_json read"), || {
            serde_json::from_slice(&json).unwrap()
        });
        assert_eq!(back.len(), 3);
    }
}

#[test]
#[ignore]
fn aliexpress_shaped() {
    // 2M train + 0.5M test rows of the AliExpress format (a country has 12-27M)
    let dir = tempfile::tempdir().unwrap();
    timed("write 2.5M AliExpress-format rows", || {
        let mut r = Rng(11);
        for (name, n) in [("train.csv", 2_000_000u64), ("test.csv", 500_000)] {
            let mut w =
                std::io::BufWriter::new(std::fs::File::create(dir.path().join(name)).unwrap());
            write!(w, "search_id").unwrap();
            for k in 1..=16 {
                write!(w, ",categorical_{k}").unwrap();
            }
            for k in 1..=63 {
                write!(w, ",numerical_{k}").unwrap();
            }
            writeln!(w, ",click,conversion").unwrap();
            for i in 0..n {
                write!(w, "{}", i / 20).unwrap();
                for k in 0..16u64 {
                    write!(w, ",{}", r.below(3 + k * k * 40)).unwrap();
                }
                for _ in 0..63 {
                    write!(w, ",0.{:05}", r.below(100_000)).unwrap();
                }
                let click = u64::from(r.below(100) < 3);
                writeln!(w, ",{click},{}", click * u64::from(r.below(100) < 3)).unwrap();
            }
        }
    });
    let mb: u64 = ["train.csv", "test.csv"]
        .iter()
        .map(|f| std::fs::metadata(dir.path().join(f)).unwrap().len())
        .sum();
    let spec = DatasetSpec::preset("aliexpress", Some(dir.path().into())).unwrap();
    let ds = timed(&format!("parse + encode {:.0} MB", mb as f64 / 1e6), || {
        load(&spec, Path::new(".")).unwrap()
    });
    println!(
        "  rows {} · {} + {} fields",
        ds.train.n + ds.valid.n + ds.test.n,
        ds.cat_fields.len(),
        ds.num_fields.len()
    );
}

#[test]
#[ignore]
fn tabular_kuairand_shape_100_columns() {
    // KuaiRand-Pure's size, ~100 columns: ts, 60 categorical, 36 numeric, 3 labels
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wide.csv");
    let n = 1_436_609u64;
    timed("write 1.44M x 100 CSV", || {
        let mut r = Rng(5);
        let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        write!(w, "ts").unwrap();
        for k in 0..60 {
            write!(w, ",c{k}").unwrap();
        }
        for k in 0..36 {
            write!(w, ",x{k}").unwrap();
        }
        writeln!(w, ",click,long_view,play_time").unwrap();
        for i in 0..n {
            write!(w, "{}", 1_649_347_200_000 + i * 1000 + r.below(1000)).unwrap();
            for k in 0..60u64 {
                write!(w, ",{}", r.below(2 + k * k * 8)).unwrap();
            }
            for _ in 0..36 {
                write!(w, ",{:.4}", (r.below(1_000_000) as f64) / 1e4).unwrap();
            }
            let click = u64::from(r.below(100) < 33);
            let lv = click * u64::from(r.below(100) < 40);
            writeln!(
                w,
                ",{click},{lv},{:.3}",
                (lv * r.below(300_000)) as f64 / 1e3
            )
            .unwrap();
        }
    });
    let cats: Vec<String> = (0..60).map(|k| format!("c{k}")).collect();
    let nums: Vec<String> = (0..36).map(|k| format!("x{k}")).collect();
    let yaml = format!(
        "path: {}\ncategorical: [{}]\nnumeric: [{}]\ntime: ts\ntasks: [{{name: click, kind: binary}}, {{name: long_view, kind: binary}}, {{name: play_time, kind: regression}}]",
        path.display(),
        cats.join(", "),
        nums.join(", ")
    );
    let spec: DatasetSpec = serde_yaml::from_str(&yaml).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let (a, s) = timed("read + encode + store", || {
        load_cached_in(&spec, Path::new("."), true, cache.path()).unwrap()
    });
    println!("  {s}");
    let (b, s) = timed("cache hit", || {
        load_cached_in(&spec, Path::new("."), true, cache.path()).unwrap()
    });
    assert!(s.is_hit());
    assert_eq!(a, b);
}
