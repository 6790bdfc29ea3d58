//! The dataset cache: a parsed, split and encoded [`Dataset`] stored on disk,
//! so the second run of an experiment skips reading and encoding.
//!
//! * **Where**: `$HTL_CACHE_DIR` if set, else `.htl-cache/` in the
//!   repository that contains the current directory (the nearest ancestor
//!   with a `.git` entry), else `./.htl-cache/` ([`cache_dir`]). One file per
//!   data set: `<label>-<key>.htlds`. Delete the folder to reclaim space; old
//!   entries are never reused once their sources change.
//! * **Key** ([`cache_key`]): SHA-256 of the cache format version, the crate
//!   version, a fingerprint of the data room's source code — every file under
//!   `src/data/`, listed by `build.rs` at compile time, so any change to
//!   parsing, encoding, splitting, generation or a preset (a new preset file
//!   included) invalidates old entries without a hand-kept list — the
//!   dataset spec as JSON, and for every source file its absolute path, size
//!   and modification time (nanoseconds). Synthetic data has no files: the
//!   spec (seed included) is the key.
//! * **Format** (little-endian, no external serializer): a 60-byte header
//!   `HTLDSET\0`, format version (u32), the key (32 bytes), body length
//!   (u64), body checksum (u64); then the body: name, split rule, tasks,
//!   fields, the time column (a flag, then name, kind, min, max), and per
//!   split the row count and the columns — categorical codes
//!   in 1, 2 or 4 bytes by vocabulary size, numeric features as f32, binary
//!   labels as one byte, other labels as f32.
//! * **Safety**: a file is written to a unique temporary name in the cache
//!   folder and renamed into place, so concurrent runs never see a partial
//!   file (the last writer wins; both wrote the same data). On reading, the
//!   magic, version, key, length, every count and code range and the
//!   checksum are verified; a file that fails any check is ignored and
//!   rebuilt, never trusted. Cache trouble never fails a load: at worst the
//!   data are parsed again ([`CacheStatus::NotStored`]).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::DataError;
use super::source::{self, DatasetSpec};
use super::types::{CatField, Dataset, Split, Task, TaskChain, TaskKind, TimeColumn};

include!(concat!(env!("OUT_DIR"), "/data_sources.rs"));

/// Version of the on-disk format; bump on any layout change.
pub const FORMAT_VERSION: u32 = 2;
const MAGIC: &[u8; 8] = b"HTLDSET\0";
const HEADER_LEN: u64 = 8 + 4 + 32 + 8 + 8;

/// What the cache did for one load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheStatus {
    /// The cache was not used (`use_cache = false`, e.g. `--no-cache`).
    Disabled,
    /// Loaded from this cache file; nothing was parsed.
    Hit {
        /// The cache file.
        path: PathBuf,
    },
    /// No cache file yet: parsed, then stored here.
    Stored {
        /// The cache file.
        path: PathBuf,
    },
    /// A cache file existed but was unusable (truncated, corrupt, ...): parsed again and replaced.
    Rebuilt {
        /// The cache file.
        path: PathBuf,
        /// Why the old file was rejected.
        reason: String,
    },
    /// Parsed, but the result could not be stored (read-only folder, full disk ...).
    NotStored {
        /// The cache file it would have been.
        path: PathBuf,
        /// The error.
        reason: String,
    },
}

impl CacheStatus {
    /// True when the data came from the cache.
    pub fn is_hit(&self) -> bool {
        matches!(self, CacheStatus::Hit { .. })
    }
}

impl std::fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CacheStatus::Disabled => f.write_str("not used"),
            CacheStatus::Hit { path } => write!(f, "hit ({})", path.display()),
            CacheStatus::Stored { path } => write!(f, "parsed and stored ({})", path.display()),
            CacheStatus::Rebuilt { path, reason } => write!(
                f,
                "ignored an unusable cache file ({reason}); parsed again and stored ({})",
                path.display()
            ),
            CacheStatus::NotStored { path, reason } => write!(
                f,
                "parsed; could not store the cache file {}: {reason}",
                path.display()
            ),
        }
    }
}

/// The cache folder: `$HTL_CACHE_DIR`, else `<repository>/.htl-cache`, else `./.htl-cache`.
pub fn cache_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("HTL_CACHE_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .find(|a| a.join(".git").exists())
        .unwrap_or(&cwd)
        .join(".htl-cache")
}

/// Loads `spec` through the cache in [`cache_dir`] (or parses it when
/// `use_cache` is false). Data errors are the same as [`super::load`]'s.
pub fn load_cached(
    spec: &DatasetSpec,
    base_dir: &Path,
    use_cache: bool,
) -> Result<(Dataset, CacheStatus), DataError> {
    load_cached_in(spec, base_dir, use_cache, &cache_dir())
}

/// [`load_cached`] with an explicit cache folder.
pub fn load_cached_in(
    spec: &DatasetSpec,
    base_dir: &Path,
    use_cache: bool,
    dir: &Path,
) -> Result<(Dataset, CacheStatus), DataError> {
    if !use_cache {
        return Ok((source::load(spec, base_dir)?, CacheStatus::Disabled));
    }
    let key = cache_key(spec, base_dir)?;
    let path = dir.join(file_name(&spec.label(), &key));
    let rejected = if path.exists() {
        match read_dataset(&path, &key) {
            Ok(ds) => return Ok((ds, CacheStatus::Hit { path })),
            Err(reason) => Some(reason.to_string()),
        }
    } else {
        None
    };
    let ds = source::load(spec, base_dir)?;
    let status = match write_dataset(&ds, &path, &key) {
        Err(e) => CacheStatus::NotStored {
            path,
            reason: e.to_string(),
        },
        Ok(()) => match rejected {
            Some(reason) => CacheStatus::Rebuilt { path, reason },
            None => CacheStatus::Stored { path },
        },
    };
    Ok((ds, status))
}

/// The cache file path `spec` would use in `dir`.
pub fn cache_path(spec: &DatasetSpec, base_dir: &Path, dir: &Path) -> Result<PathBuf, DataError> {
    Ok(dir.join(file_name(&spec.label(), &cache_key(spec, base_dir)?)))
}

fn file_name(label: &str, key: &[u8; 32]) -> String {
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    let hex: String = key[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("{clean}-{hex}.htlds")
}

/// The files `spec` reads (checked to exist).
pub fn source_files(spec: &DatasetSpec, base_dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    spec.source_files(base_dir)
}

/// The fingerprint of the code that turns sources into a [`Dataset`]: every
/// file under `src/data/` (path and contents), as listed by `build.rs`.
pub fn code_fingerprint() -> [u8; 32] {
    static FINGERPRINT: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    *FINGERPRINT.get_or_init(|| {
        let mut h = Sha256::new();
        for (path, bytes) in DATA_SOURCES {
            h.update((path.len() as u64).to_le_bytes());
            h.update(path.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        }
        h.finalize().into()
    })
}

/// The cache key of `spec`: see the module docs.
pub fn cache_key(spec: &DatasetSpec, base_dir: &Path) -> Result<[u8; 32], DataError> {
    spec.validate()?;
    let files = source_files(spec, base_dir)?;
    let mut h = Sha256::new();
    h.update(b"htlbench dataset cache\0");
    h.update(FORMAT_VERSION.to_le_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    h.update(code_fingerprint());
    let json = serde_json::to_string(spec).map_err(|e| DataError::InvalidSpec(e.to_string()))?;
    h.update((json.len() as u64).to_le_bytes());
    h.update(json.as_bytes());
    h.update(spec.label().as_bytes());
    for f in files {
        let abs = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
        let text = abs.to_string_lossy();
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
        let meta = std::fs::metadata(&f).map_err(|e| DataError::Read {
            path: f.clone(),
            message: e.to_string(),
        })?;
        h.update(meta.len().to_le_bytes());
        let (secs, nanos) = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or((0, 0), |d| (d.as_secs(), d.subsec_nanos()));
        h.update(secs.to_le_bytes());
        h.update(nanos.to_le_bytes());
    }
    Ok(h.finalize().into())
}

// ---------------------------------------------------------------- checksum

/// A fast streaming 64-bit checksum (not cryptographic): catches truncation
/// and corruption, not tampering.
#[derive(Clone)]
struct Checksum {
    h: u64,
    pending: [u8; 8],
    n_pending: usize,
    len: u64,
}

impl Checksum {
    fn new() -> Self {
        Checksum {
            h: 0x9E37_79B9_7F4A_7C15,
            pending: [0; 8],
            n_pending: 0,
            len: 0,
        }
    }

    #[inline]
    fn word(&mut self, w: u64) {
        self.h = (self.h ^ w)
            .wrapping_mul(0xFF51_AFD7_ED55_8CCD)
            .rotate_left(29);
    }

    fn update(&mut self, mut data: &[u8]) {
        self.len += data.len() as u64;
        if self.n_pending > 0 {
            let take = (8 - self.n_pending).min(data.len());
            self.pending[self.n_pending..self.n_pending + take].copy_from_slice(&data[..take]);
            self.n_pending += take;
            data = &data[take..];
            if self.n_pending < 8 {
                return;
            }
            self.word(u64::from_le_bytes(self.pending));
            self.n_pending = 0;
        }
        let mut chunks = data.chunks_exact(8);
        for c in &mut chunks {
            self.word(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.n_pending = rest.len();
    }

    fn finish(&self) -> u64 {
        let mut c = self.clone();
        let mut last = [0u8; 8];
        last[..c.n_pending].copy_from_slice(&c.pending[..c.n_pending]);
        c.word(u64::from_le_bytes(last));
        c.word(c.len);
        let mut h = c.h;
        h ^= h >> 33;
        h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
        h ^ (h >> 33)
    }
}

struct HashWriter<W: Write> {
    inner: W,
    sum: Checksum,
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sum.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Why a cache file was not used (shown in [`CacheStatus::Rebuilt`]).
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    /// The file could not be opened or read.
    #[error("cannot open: {0}")]
    Open(#[from] std::io::Error),
    /// Shorter than the header.
    #[error("truncated (no complete header)")]
    NoHeader,
    /// The magic bytes are wrong.
    #[error("not a dataset cache file")]
    NotCache,
    /// Another format version.
    #[error("format version {found}, expected {expected}")]
    Version {
        /// The file's version.
        found: u32,
        /// [`FORMAT_VERSION`].
        expected: u32,
    },
    /// Another key: other sources, options or code.
    #[error("written for other sources")]
    OtherSources,
    /// The length disagrees with the header.
    #[error("truncated or padded ({found} bytes, expected {expected})")]
    Length {
        /// Bytes in the file.
        found: u64,
        /// Bytes the header announces.
        expected: u64,
    },
    /// The body ends before a value.
    #[error("truncated ({0} runs past the end of the data)")]
    Truncated(&'static str),
    /// A value is out of range.
    #[error("{0}")]
    Corrupt(String),
    /// The body checksum disagrees.
    #[error("checksum mismatch (corrupt file)")]
    Checksum,
}

struct HashReader<R: Read> {
    inner: R,
    sum: Checksum,
    left: u64,
}

impl<R: Read> HashReader<R> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<Vec<u8>, Unusable> {
        if n as u64 > self.left {
            return Err(Unusable::Truncated(what));
        }
        let mut v = vec![0u8; n];
        self.inner
            .read_exact(&mut v)
            .map_err(|_| Unusable::Truncated(what))?;
        self.sum.update(&v);
        self.left -= n as u64;
        Ok(v)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, Unusable> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &'static str) -> Result<u32, Unusable> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &'static str) -> Result<u64, Unusable> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }
    fn string(&mut self, what: &'static str) -> Result<String, Unusable> {
        let n = self.u32(what)? as usize;
        if n > 1 << 20 {
            return Err(Unusable::Corrupt(format!("implausible {what} length {n}")));
        }
        String::from_utf8(self.take(n, what)?)
            .map_err(|_| Unusable::Corrupt(format!("{what} is not UTF-8")))
    }
    fn count(&mut self, what: &'static str, max: usize) -> Result<usize, Unusable> {
        let n = self.u32(what)? as usize;
        if n > max {
            return Err(Unusable::Corrupt(format!(
                "implausible number of {what}: {n}"
            )));
        }
        Ok(n)
    }
}

// ---------------------------------------------------------------- write

fn put_str(w: &mut impl Write, s: &str) -> std::io::Result<()> {
    w.write_all(&(s.len() as u32).to_le_bytes())?;
    w.write_all(s.as_bytes())
}

fn code_width(vocab: usize) -> u8 {
    if vocab <= 1 << 8 {
        1
    } else if vocab <= 1 << 16 {
        2
    } else {
        4
    }
}

const CHUNK: usize = 1 << 16;

fn put_f32s(w: &mut impl Write, v: &[f32]) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(CHUNK * 4);
    for c in v.chunks(CHUNK) {
        buf.clear();
        for x in c {
            buf.extend_from_slice(&x.to_le_bytes());
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

fn put_codes(w: &mut impl Write, v: &[u32], width: u8) -> std::io::Result<()> {
    let mut buf = Vec::with_capacity(CHUNK * 4);
    for c in v.chunks(CHUNK) {
        buf.clear();
        for &x in c {
            match width {
                1 => buf.push(x as u8),
                2 => buf.extend_from_slice(&(x as u16).to_le_bytes()),
                _ => buf.extend_from_slice(&x.to_le_bytes()),
            }
        }
        w.write_all(&buf)?;
    }
    Ok(())
}

fn is_01(v: &[f32]) -> bool {
    v.iter().all(|&x| x == 0.0 || x == 1.0)
}

/// Writes `ds` to `path` atomically (temporary file + rename).
pub fn write_dataset(ds: &Dataset, path: &Path, key: &[u8; 32]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let tmp = dir.join(format!(
        ".{}.{}.{}.{}.tmp",
        path.file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id(),
        nanos,
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let result = write_to(ds, &tmp, key).and_then(|()| std::fs::rename(&tmp, path));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_to(ds: &Dataset, tmp: &Path, key: &[u8; 32]) -> std::io::Result<()> {
    let mut file = File::create(tmp)?;
    file.write_all(&[0u8; HEADER_LEN as usize])?;
    let mut w = HashWriter {
        inner: BufWriter::with_capacity(1 << 20, &mut file),
        sum: Checksum::new(),
    };
    put_str(&mut w, &ds.name)?;
    put_str(&mut w, &ds.split_rule)?;
    let tasks = ds.tasks.tasks();
    w.write_all(&(tasks.len() as u32).to_le_bytes())?;
    for t in tasks {
        put_str(&mut w, &t.name)?;
        w.write_all(&[u8::from(t.kind == TaskKind::Regression)])?;
    }
    w.write_all(&(ds.cat_fields.len() as u32).to_le_bytes())?;
    for f in &ds.cat_fields {
        put_str(&mut w, &f.name)?;
        w.write_all(&(f.vocab as u64).to_le_bytes())?;
    }
    w.write_all(&(ds.num_fields.len() as u32).to_le_bytes())?;
    for f in &ds.num_fields {
        put_str(&mut w, f)?;
    }
    match &ds.time {
        None => w.write_all(&[0])?,
        Some(t) => {
            w.write_all(&[1])?;
            for s in [&t.column, &t.kind, &t.min, &t.max] {
                put_str(&mut w, s)?;
            }
        }
    }
    for s in [&ds.train, &ds.valid, &ds.test] {
        w.write_all(&(s.n as u64).to_le_bytes())?;
        for (f, c) in ds.cat_fields.iter().zip(&s.cat) {
            put_codes(&mut w, c, code_width(f.vocab))?;
        }
        for c in &s.num {
            put_f32s(&mut w, c)?;
        }
        for c in &s.labels {
            if is_01(c) {
                w.write_all(&[0])?;
                let bytes: Vec<u8> = c.iter().map(|&x| x as u8).collect();
                w.write_all(&bytes)?;
            } else {
                w.write_all(&[1])?;
                put_f32s(&mut w, c)?;
            }
        }
    }
    w.flush()?;
    let sum = w.sum.finish();
    let body_len = w.sum.len;
    drop(w);
    file.seek(SeekFrom::Start(0))?;
    let mut header = Vec::with_capacity(HEADER_LEN as usize);
    header.extend_from_slice(MAGIC);
    header.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    header.extend_from_slice(key);
    header.extend_from_slice(&body_len.to_le_bytes());
    header.extend_from_slice(&sum.to_le_bytes());
    file.write_all(&header)?;
    file.flush()?;
    Ok(())
}

// ---------------------------------------------------------------- read

/// Reads a cache file written for `key`; any problem is an `Err` with the reason.
pub fn read_dataset(path: &Path, key: &[u8; 32]) -> Result<Dataset, Unusable> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut header = [0u8; HEADER_LEN as usize];
    r.read_exact(&mut header).map_err(|_| Unusable::NoHeader)?;
    if &header[..8] != MAGIC {
        return Err(Unusable::NotCache);
    }
    let version = u32::from_le_bytes(header[8..12].try_into().expect("4"));
    if version != FORMAT_VERSION {
        return Err(Unusable::Version {
            found: version,
            expected: FORMAT_VERSION,
        });
    }
    if &header[12..44] != key {
        return Err(Unusable::OtherSources);
    }
    let body_len = u64::from_le_bytes(header[44..52].try_into().expect("8"));
    let sum = u64::from_le_bytes(header[52..60].try_into().expect("8"));
    if file_len != HEADER_LEN + body_len {
        return Err(Unusable::Length {
            found: file_len,
            expected: HEADER_LEN + body_len,
        });
    }
    let mut h = HashReader {
        inner: r,
        sum: Checksum::new(),
        left: body_len,
    };
    let name = h.string("name")?;
    let split_rule = h.string("split rule")?;
    let n_tasks = h.count("tasks", 1024)?;
    let mut tasks = Vec::with_capacity(n_tasks);
    for _ in 0..n_tasks {
        let name = h.string("task name")?;
        let kind = match h.u8("task kind")? {
            0 => TaskKind::Binary,
            1 => TaskKind::Regression,
            k => return Err(Unusable::Corrupt(format!("bad task kind {k}"))),
        };
        tasks.push(Task { name, kind });
    }
    let tasks =
        TaskChain::new(tasks).map_err(|e| Unusable::Corrupt(format!("bad task chain: {e}")))?;
    let n_cat = h.count("categorical fields", 1 << 16)?;
    let mut cat_fields = Vec::with_capacity(n_cat);
    for _ in 0..n_cat {
        let name = h.string("field name")?;
        let vocab = h.u64("vocabulary")?;
        if vocab == 0 || vocab > u64::from(u32::MAX) + 1 {
            return Err(Unusable::Corrupt(format!("bad vocabulary size {vocab}")));
        }
        cat_fields.push(CatField {
            name,
            vocab: vocab as usize,
        });
    }
    let n_num = h.count("numeric fields", 1 << 16)?;
    let mut num_fields = Vec::with_capacity(n_num);
    for _ in 0..n_num {
        num_fields.push(h.string("field name")?);
    }
    let time = match h.u8("time flag")? {
        0 => None,
        1 => Some(TimeColumn {
            column: h.string("time column")?,
            kind: h.string("time kind")?,
            min: h.string("time min")?,
            max: h.string("time max")?,
        }),
        k => return Err(Unusable::Corrupt(format!("bad time flag {k}"))),
    };
    let mut splits = Vec::with_capacity(3);
    for _ in 0..3 {
        let n = h.u64("row count")?;
        if n > body_len {
            return Err(Unusable::Corrupt(format!("implausible row count {n}")));
        }
        let n = n as usize;
        let mut cat = Vec::with_capacity(n_cat);
        for f in &cat_fields {
            let width = code_width(f.vocab);
            let bytes = h.take(n * width as usize, "codes")?;
            let codes: Vec<u32> = match width {
                1 => bytes.iter().map(|&b| u32::from(b)).collect(),
                2 => bytes
                    .chunks_exact(2)
                    .map(|c| u32::from(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
                _ => bytes
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            };
            if codes.iter().any(|&c| c as usize >= f.vocab) {
                return Err(Unusable::Corrupt(format!(
                    "a code of field {} is out of range",
                    f.name
                )));
            }
            cat.push(codes);
        }
        let mut num = Vec::with_capacity(n_num);
        for _ in 0..n_num {
            num.push(f32s(&h.take(n * 4, "numbers")?));
        }
        let mut labels = Vec::with_capacity(n_tasks);
        for _ in 0..tasks.len() {
            match h.u8("label encoding")? {
                0 => {
                    let b = h.take(n, "labels")?;
                    if b.iter().any(|&x| x > 1) {
                        return Err(Unusable::Corrupt("a binary label is not 0 or 1".into()));
                    }
                    labels.push(b.iter().map(|&x| f32::from(x)).collect());
                }
                1 => labels.push(f32s(&h.take(n * 4, "labels")?)),
                k => return Err(Unusable::Corrupt(format!("bad label encoding {k}"))),
            }
        }
        splits.push(Split {
            n,
            cat,
            num,
            labels,
        });
    }
    if h.left != 0 {
        return Err(Unusable::Corrupt(format!(
            "{} unread bytes at the end",
            h.left
        )));
    }
    if h.sum.finish() != sum {
        return Err(Unusable::Checksum);
    }
    let test = splits.pop().expect("3 splits");
    let valid = splits.pop().expect("3 splits");
    let train = splits.pop().expect("3 splits");
    Ok(Dataset {
        name,
        cat_fields,
        num_fields,
        tasks,
        train,
        valid,
        test,
        split_rule,
        time,
    })
}

fn f32s(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_is_chunking_independent() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut a = Checksum::new();
        a.update(&data);
        for cut in [1usize, 3, 7, 8, 9, 500] {
            let mut b = Checksum::new();
            for c in data.chunks(cut) {
                b.update(c);
            }
            assert_eq!(a.finish(), b.finish(), "cut {cut}");
        }
        let mut c = Checksum::new();
        c.update(&data[..999]);
        assert_ne!(a.finish(), c.finish());
        let mut d = data.clone();
        d[500] ^= 1;
        let mut e = Checksum::new();
        e.update(&d);
        assert_ne!(a.finish(), e.finish());
    }

    #[test]
    fn fingerprint_covers_every_data_file() {
        fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let r = if rel.is_empty() {
                    name
                } else {
                    format!("{rel}/{name}")
                };
                if e.path().is_dir() {
                    walk(&e.path(), &r, out);
                } else {
                    out.push(r);
                }
            }
        }
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/data");
        let mut on_disk = Vec::new();
        walk(&root, "", &mut on_disk);
        on_disk.sort();
        let listed: Vec<String> = DATA_SOURCES.iter().map(|(p, _)| p.to_string()).collect();
        assert_eq!(listed, on_disk);
        assert!(listed.contains(&"presets/avs.rs".to_string()));
        for (p, bytes) in DATA_SOURCES {
            assert_eq!(std::fs::read(root.join(p)).unwrap(), *bytes, "{p}");
        }
        assert_eq!(code_fingerprint(), code_fingerprint());
    }

    #[test]
    fn widths() {
        assert_eq!(code_width(1), 1);
        assert_eq!(code_width(256), 1);
        assert_eq!(code_width(257), 2);
        assert_eq!(code_width(65_536), 2);
        assert_eq!(code_width(65_537), 4);
    }
}
