//! `kaggle_avs`: Kaggle "Acquire Valued Shoppers" transactions, turned into
//! one row per customer as in the ZILN preprocessing (Wang, Liu & Miao 2019,
//! "A Deep Probabilistic Model for Customer Lifetime Value Prediction"; their
//! notebook `preprocess`/`load_transaction_data` in google/lifetime_value).
//!
//! File in `path:`: `transactions.csv` (decompressed; about 22 GB, 350M rows)
//! with the header `id, chain, dept, category, company, brand, date,
//! productsize, productmeasure, purchasequantity, purchaseamount` (any
//! column order; dates `YYYY-MM-DD`).
//!
//! The file is streamed once, in 32 MB blocks parsed in parallel, keeping per
//! customer only the first-day summary and one (day, amount) entry per
//! purchase day, so memory grows with customers × purchase days, not with
//! the file. (Polars' lazy CSV scan would need its temporal features and an
//! out-of-core group-by, neither enabled in this build.)
//!
//! Definitions (ZILN's, plus the two repurchase flags and the 1-month window):
//!
//! 1. Rows of company `company:` (default 103600030, the notebook's; `all`
//!    keeps every company) with `purchaseamount > 0` (returns dropped, as in
//!    ZILN). Every row is still checked for format.
//! 2. A customer's first day d0 = the earliest date of those rows.
//! 3. Cohort: customers with d0 in `cohort: [from, to)` (default
//!    [2012-03-01, 2012-07-01), the paper's cohort; `all` keeps everyone, as
//!    the notebook does).
//! 4. Features from the first day's rows: `chain`, `dept`, `category`,
//!    `brand`, `productmeasure`, `company` of the row with the largest
//!    purchaseamount (ties: the first in the file) — categorical;
//!    `log_first_day_amount` = ln(sum of purchaseamount) (ZILN's
//!    log_calibration_value), `log1p_first_day_quantity` = ln(1 + max(0, sum
//!    of purchasequantity)), `first_day_transactions` = number of rows — numeric.
//! 5. Labels from the rows on days d with d0 < d <= d0 + 30 (one month) or
//!    d0 < d <= d0 + 365 (one year, ZILN's holdout window):
//!    `repurchase_1y` = any row in the year window; `repurchase_1m` = any row
//!    in the month window; `spend_1m` = sum of purchaseamount in the month
//!    window (0 if none).
//!
//! Funnel: a repurchase within a month is a repurchase within a year, and
//! spend_1m > 0 exactly when repurchase_1m = 1, so the chain is
//! `repurchase_1y → repurchase_1m → spend_1m` (each later task only possible
//! after the earlier one).
//!
//! Rows: customers in order of their first row in the file. Split: seeded
//! random 8:1:1 over customers (`split:` overrides; ZILN used 80/20).

use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::*;
use rayon::prelude::*;

use serde::{Deserialize, Serialize};

use super::common::{Folder, Preset, PresetSpec};
use crate::data::encode::{self, Layout};
use crate::data::error::{close_matches, DataError, Role, WrongTypeCell};
use crate::data::io::read_err;
use crate::data::types::{Dataset, TaskKind};

/// The `kaggle_avs` preset.
pub struct KaggleAvs;

/// `kaggle_avs`'s own keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvsOptions {
    /// `company:`: which company's transactions (default [`DEFAULT_COMPANY`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<Company>,
    /// `cohort:`: which customers, by first purchase date (default [`default_cohort`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohort: Option<Cohort>,
}

impl Preset for KaggleAvs {
    type Options = AvsOptions;

    fn name(&self) -> &'static str {
        "kaggle_avs"
    }
    fn default_folder(&self) -> &'static str {
        "acquire-valued-shoppers-challenge"
    }
    fn download_page(&self) -> &'static str {
        "https://www.kaggle.com/competitions/acquire-valued-shoppers-challenge/data"
    }
    fn expected_files(&self) -> &'static str {
        "transactions.csv (decompressed)"
    }
    fn chain(&self) -> &'static [(&'static str, TaskKind)] {
        &[
            ("repurchase_1y", TaskKind::Binary),
            ("repurchase_1m", TaskKind::Binary),
            ("spend_1m", TaskKind::Regression),
        ]
    }
    fn validate(&self, options: &AvsOptions) -> Result<(), DataError> {
        if let Some(c) = &options.cohort {
            c.days()?;
        }
        Ok(())
    }
    fn source_files(&self, folder: &Folder) -> Result<Vec<PathBuf>, DataError> {
        Ok(vec![file(folder)?])
    }
    fn load(
        &self,
        spec: &PresetSpec,
        options: &AvsOptions,
        folder: &Folder,
        name: String,
    ) -> Result<Dataset, DataError> {
        let (df, layout) = customers(spec, options, folder, BLOCK)?;
        encode::encode_owned(df, &layout, name)
    }
}

/// kaggle_avs `company:`: one company id, or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CompanyRaw", into = "CompanyRaw")]
pub enum Company {
    /// Every company's transactions.
    All,
    /// One company (the ZILN notebook uses one at a time).
    Id(u64),
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CompanyRaw {
    Id(u64),
    Word(String),
}

impl TryFrom<CompanyRaw> for Company {
    type Error = DataError;
    fn try_from(raw: CompanyRaw) -> Result<Self, DataError> {
        match raw {
            CompanyRaw::Id(id) => Ok(Company::Id(id)),
            CompanyRaw::Word(w) if w == "all" => Ok(Company::All),
            CompanyRaw::Word(w) => w.trim().parse::<u64>().map(Company::Id).map_err(|_| {
                DataError::InvalidSpec(format!(
                    "`company: {w}` is invalid; give a company id (e.g. 103600030) or `all`"
                ))
            }),
        }
    }
}

impl From<Company> for CompanyRaw {
    fn from(c: Company) -> Self {
        match c {
            Company::All => CompanyRaw::Word("all".into()),
            Company::Id(id) => CompanyRaw::Id(id),
        }
    }
}

impl std::fmt::Display for Company {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Company::All => f.write_str("all"),
            Company::Id(id) => write!(f, "{id}"),
        }
    }
}

/// kaggle_avs `cohort:`: customers whose first purchase day is in
/// `[from, to)` (dates `YYYY-MM-DD`), or `all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CohortRaw", into = "CohortRaw")]
pub enum Cohort {
    /// Every customer.
    All,
    /// First purchase in `[from, to)`.
    Range {
        /// First day included, `YYYY-MM-DD`.
        from: String,
        /// First day excluded, `YYYY-MM-DD`.
        to: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum CohortRaw {
    Word(String),
    Range(Vec<String>),
}

impl TryFrom<CohortRaw> for Cohort {
    type Error = DataError;
    fn try_from(raw: CohortRaw) -> Result<Self, DataError> {
        let c = match raw {
            CohortRaw::Word(w) if w == "all" => Cohort::All,
            CohortRaw::Range(v) if v.len() == 2 => Cohort::Range {
                from: v[0].clone(),
                to: v[1].clone(),
            },
            _ => return Err(DataError::InvalidSpec(
                "`cohort:` must be `all` or two dates [from, to), e.g. [2012-03-01, 2012-07-01]"
                    .into(),
            )),
        };
        c.days()?;
        Ok(c)
    }
}

impl From<Cohort> for CohortRaw {
    fn from(c: Cohort) -> Self {
        match c {
            Cohort::All => CohortRaw::Word("all".into()),
            Cohort::Range { from, to } => CohortRaw::Range(vec![from, to]),
        }
    }
}

impl Cohort {
    /// `[from, to)` as days since 1970-01-01, or None for `all`.
    pub fn days(&self) -> Result<Option<(i32, i32)>, DataError> {
        match self {
            Cohort::All => Ok(None),
            Cohort::Range { from, to } => {
                let parse = |s: &str| {
                    parse_date(s.as_bytes()).ok_or_else(|| {
                        DataError::InvalidSpec(format!(
                            "`cohort:` date \"{s}\" is invalid; write dates as YYYY-MM-DD"
                        ))
                    })
                };
                let (a, b) = (parse(from)?, parse(to)?);
                if a >= b {
                    return Err(DataError::InvalidSpec(format!(
                        "`cohort: [{from}, {to}]` is empty; the first date must come before the second"
                    )));
                }
                Ok(Some((a, b)))
            }
        }
    }
}

impl std::fmt::Display for Cohort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cohort::All => f.write_str("all"),
            Cohort::Range { from, to } => write!(f, "[{from}, {to})"),
        }
    }
}

/// The company of the ZILN notebook.
pub const DEFAULT_COMPANY: u64 = 103_600_030;
/// The repurchase / spend window of the `_1m` labels, in days.
pub const MONTH_DAYS: i32 = 30;
/// The window of `repurchase_1y`, in days (ZILN's holdout window).
pub const YEAR_DAYS: i32 = 365;

/// The paper's cohort: first purchase in [2012-03-01, 2012-07-01).
pub fn default_cohort() -> Cohort {
    Cohort::Range {
        from: "2012-03-01".into(),
        to: "2012-07-01".into(),
    }
}

/// The release's columns.
pub const COLUMNS: [&str; 11] = [
    "id",
    "chain",
    "dept",
    "category",
    "company",
    "brand",
    "date",
    "productsize",
    "productmeasure",
    "purchasequantity",
    "purchaseamount",
];

/// Categorical feature columns.
pub const CATEGORICAL: [&str; 6] = [
    "chain",
    "dept",
    "category",
    "brand",
    "productmeasure",
    "company",
];
/// Numeric feature columns.
pub const NUMERIC: [&str; 3] = [
    "log_first_day_amount",
    "log1p_first_day_quantity",
    "first_day_transactions",
];

/// `transactions.csv` in the folder.
pub fn file(folder: &Folder) -> Result<PathBuf, DataError> {
    folder.file("transactions.csv")
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` date (also accepts `YYYY-M-D`).
pub fn parse_date(b: &[u8]) -> Option<i32> {
    let digit = |c: u8| c.is_ascii_digit().then(|| u32::from(c - b'0'));
    let (y, m, d) = if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        // the release's form, without allocation
        let n = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter()
                .try_fold(0u32, |acc, &c| Some(acc * 10 + digit(c)?))
        };
        (n(0..4)? as i32, n(5..7)?, n(8..10)?)
    } else {
        let s = std::str::from_utf8(b).ok()?.trim();
        let mut it = s.split('-');
        let y: i32 = it.next()?.parse().ok()?;
        let m: u32 = it.next()?.parse().ok()?;
        let d: u32 = it.next()?.parse().ok()?;
        if it.next().is_some() {
            return None;
        }
        (y, m, d)
    };
    if !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if d > mdays[m as usize - 1] {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp as i32 + 2) / 5 + d as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// One parsed transaction.
#[derive(Clone, Copy)]
struct Txn {
    id: i64,
    attrs: Attrs,
    day: i32,
    qty: f64,
    amount: f64,
}

/// The categorical attributes of a transaction.
#[derive(Clone, Copy, Default)]
struct Attrs {
    chain: i64,
    dept: i64,
    category: i64,
    company: i64,
    brand: i64,
    measure: u64,
}

/// Per-customer state while streaming.
struct Cust {
    id: i64,
    first_day: i32,
    first_amount: f64,
    first_qty: f64,
    first_n: u32,
    best_amount: f64,
    best: Attrs,
    days: Vec<(i32, f32)>,
}

/// productmeasure packed into a u64: up to 7 bytes plus the length; longer
/// text is hashed (top bit set) and shown as `#<hex>`.
fn pack_measure(b: &[u8]) -> u64 {
    if b.len() <= 7 {
        let mut v = [0u8; 8];
        v[..b.len()].copy_from_slice(b);
        v[7] = b.len() as u8;
        u64::from_le_bytes(v)
    } else {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &c in b {
            h ^= u64::from(c);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h | (1 << 63)
    }
}

fn unpack_measure(v: u64) -> String {
    if v >> 63 == 1 {
        return format!("#{v:016x}");
    }
    let b = v.to_le_bytes();
    let n = (b[7] as usize).min(7);
    String::from_utf8_lossy(&b[..n]).into_owned()
}

/// Column positions in the file.
#[derive(Clone, Copy)]
struct Pos {
    width: usize,
    at: [usize; 11],
}

fn header_positions(path: &Path, header: &[u8]) -> Result<Pos, DataError> {
    let text = String::from_utf8_lossy(header);
    let names: Vec<String> = text
        .trim_end_matches(['\r', '\n'])
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect();
    let mut at = [0usize; 11];
    for (k, col) in COLUMNS.iter().enumerate() {
        match names.iter().position(|n| n == col) {
            Some(p) => at[k] = p,
            None => {
                let role = match *col {
                    "id" => Role::Key,
                    "date" => Role::Time,
                    "chain" | "dept" | "category" | "company" | "brand" | "productmeasure" => {
                        Role::Categorical
                    }
                    _ => Role::Source,
                };
                return Err(DataError::MissingColumn {
                    source_name: path.display().to_string(),
                    column: col.to_string(),
                    role,
                    suggestions: close_matches(col, &names),
                    available: names.clone(),
                });
            }
        }
    }
    Ok(Pos {
        width: names.len(),
        at,
    })
}

/// A parse failure: (0-based line within the piece, error builder input).
enum Bad {
    Width(usize),
    Type {
        column: usize,
        value: String,
        expected: &'static str,
    },
}

fn parse_int(b: &[u8]) -> Option<i64> {
    let b = trim(b);
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits.len() > 18 {
        return std::str::from_utf8(b).ok()?.parse::<i64>().ok();
    }
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            // "12.0" style integers
            let f = std::str::from_utf8(b).ok()?.parse::<f64>().ok()?;
            return (f.fract() == 0.0 && f.abs() < 9.0e18).then_some(f as i64);
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(if neg { -v } else { v })
}

/// A finite number; plain decimals of up to 15 digits without `str` parsing
/// (mantissa / 10^k, both exact, so the result equals `str::parse`'s).
fn parse_num(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let slow = || {
        std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|v| v.is_finite())
    };
    let (neg, s) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (mut mant, mut digits, mut frac, mut dot) = (0u64, 0usize, 0usize, false);
    for &c in s {
        match c {
            b'0'..=b'9' => {
                mant = mant * 10 + u64::from(c - b'0');
                digits += 1;
                frac += usize::from(dot);
                if digits > 15 {
                    return slow();
                }
            }
            b'.' if !dot => dot = true,
            _ => return slow(),
        }
    }
    if digits == 0 {
        return slow();
    }
    let v = mant as f64 / POW10[frac];
    Some(if neg { -v } else { v })
}

fn trim(b: &[u8]) -> &[u8] {
    let b = match b
        .iter()
        .position(|c| !c.is_ascii_whitespace() && *c != b'"')
    {
        Some(s) => &b[s..],
        None => return &[],
    };
    let e = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace() && *c != b'"')
        .map_or(0, |e| e + 1);
    &b[..e]
}

fn parse_line(line: &[u8], pos: &Pos, fields: &mut Vec<(usize, usize)>) -> Result<Txn, Bad> {
    fields.clear();
    let mut start = 0;
    for (i, &c) in line.iter().enumerate() {
        if c == b',' {
            fields.push((start, i));
            start = i + 1;
        }
    }
    fields.push((start, line.len()));
    if fields.len() != pos.width {
        return Err(Bad::Width(fields.len()));
    }
    let get = |k: usize| {
        let (a, b) = fields[pos.at[k]];
        &line[a..b]
    };
    let int = |k: usize| {
        parse_int(get(k)).ok_or_else(|| Bad::Type {
            column: k,
            value: String::from_utf8_lossy(trim(get(k))).into_owned(),
            expected: "integers",
        })
    };
    let num = |k: usize| {
        let t = trim(get(k));
        parse_num(t).ok_or_else(|| Bad::Type {
            column: k,
            value: String::from_utf8_lossy(t).into_owned(),
            expected: "numbers",
        })
    };
    let day = parse_date(trim(get(6))).ok_or_else(|| Bad::Type {
        column: 6,
        value: String::from_utf8_lossy(trim(get(6))).into_owned(),
        expected: "dates (YYYY-MM-DD)",
    })?;
    Ok(Txn {
        id: int(0)?,
        attrs: Attrs {
            chain: int(1)?,
            dept: int(2)?,
            category: int(3)?,
            company: int(4)?,
            brand: int(5)?,
            measure: pack_measure(trim(get(8))),
        },
        day,
        qty: num(9)?,
        amount: num(10)?,
    })
}

/// What [`parse_piece`] returns.
type PieceResult = Result<(Vec<Txn>, usize), (usize, Bad)>;

/// Parses a piece of whole lines; keeps the rows that pass `keep`.
/// Ok: (rows, lines); Err: (0-based line in the piece, what was wrong).
fn parse_piece(piece: &[u8], pos: &Pos, keep: &(dyn Fn(&Txn) -> bool + Sync)) -> PieceResult {
    let mut out = Vec::with_capacity(piece.len() / 48);
    let mut fields = Vec::with_capacity(pos.width);
    let mut lines = 0usize;
    let body = piece.strip_suffix(b"\n").unwrap_or(piece);
    for raw in body.split(|&c| c == b'\n') {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let this = lines;
        lines += 1;
        if trim(line).is_empty() {
            continue;
        }
        let t = parse_line(line, pos, &mut fields).map_err(|b| (this, b))?;
        if keep(&t) {
            out.push(t);
        }
    }
    Ok((out, lines))
}

/// Cuts `block` (whole lines) into about `k` pieces at line ends.
fn pieces(block: &[u8], k: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(k);
    let mut start = 0;
    for i in 1..=k {
        if start >= block.len() {
            break;
        }
        let mut end = if i == k {
            block.len()
        } else {
            (block.len() * i / k).max(start)
        };
        while end < block.len() && block[end - 1] != b'\n' {
            end += 1;
        }
        if end > start {
            out.push(&block[start..end]);
        }
        start = end;
    }
    out
}

/// Bytes read and parsed at a time.
pub const BLOCK: usize = 32 << 20;

/// Streams the file once and aggregates per customer.
fn scan(path: &Path, company: Company, block: usize) -> Result<Vec<Cust>, DataError> {
    let err = |e: std::io::Error| read_err(path, e);
    let mut file = std::fs::File::open(path).map_err(err)?;
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + (1 << 20));
    let mut carry: Vec<u8> = Vec::new();
    let mut pos: Option<Pos> = None;
    let mut line_no = 1usize; // 1-based file line of the next line; header = line 1
    let mut custs: Vec<Cust> = Vec::new();
    let mut index: PlHashMap<i64, u32> = PlHashMap::default();
    let mut last: Option<(i64, u32)> = None;
    let mut data_rows = 0usize;
    let keep = move |t: &Txn| {
        t.amount > 0.0
            && match company {
                Company::All => true,
                Company::Id(c) => t.attrs.company == c as i64,
            }
    };
    let threads = rayon::current_num_threads().max(1);
    let mut eof = false;
    while !eof {
        buf.clear();
        buf.extend_from_slice(&carry);
        carry.clear();
        let start = buf.len();
        buf.resize(start + block, 0);
        let mut got = 0;
        while got < block {
            let n = file.read(&mut buf[start + got..]).map_err(err)?;
            if n == 0 {
                eof = true;
                break;
            }
            got += n;
        }
        buf.truncate(start + got);
        if !eof {
            match buf.iter().rposition(|&c| c == b'\n') {
                Some(p) => {
                    carry.extend_from_slice(&buf[p + 1..]);
                    buf.truncate(p + 1);
                }
                None => {
                    carry = std::mem::take(&mut buf);
                    continue;
                }
            }
        }
        let mut body: &[u8] = &buf;
        if pos.is_none() {
            let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
            pos = Some(header_positions(path, &body[..end])?);
            body = &body[(end + 1).min(body.len())..];
            line_no = 2;
        }
        let p = pos.expect("header read");
        let parts = pieces(body, threads * 4);
        let parsed: Vec<PieceResult> = parts
            .par_iter()
            .map(|piece| parse_piece(piece, &p, &keep))
            .collect();
        for res in parsed {
            let (rows, lines) = match res {
                Ok(v) => v,
                Err((at, bad)) => {
                    let row = line_no + at - 1; // data row = line - 1
                    return Err(match bad {
                        Bad::Width(found) => DataError::Read {
                            path: path.to_path_buf(),
                            message: format!(
                                "row {row} has {found} comma-separated fields; the header has {}",
                                p.width
                            ),
                        },
                        Bad::Type {
                            column,
                            value,
                            expected,
                        } => DataError::WrongType(Box::new(WrongTypeCell {
                            preset: KaggleAvs.name().into(),
                            source_name: path.display().to_string(),
                            column: COLUMNS[column].into(),
                            role: match column {
                                0 => Role::Key,
                                6 => Role::Time,
                                1..=5 => Role::Categorical,
                                _ => Role::Source,
                            },
                            value,
                            row,
                            expected: expected.into(),
                        })),
                    });
                }
            };
            line_no += lines;
            data_rows += lines;
            for t in rows {
                let k = match last {
                    Some((id, k)) if id == t.id => k,
                    _ => {
                        let k = *index.entry(t.id).or_insert_with(|| {
                            custs.push(Cust {
                                id: t.id,
                                first_day: i32::MAX,
                                first_amount: 0.0,
                                first_qty: 0.0,
                                first_n: 0,
                                best_amount: f64::NEG_INFINITY,
                                best: Attrs::default(),
                                days: Vec::new(),
                            });
                            (custs.len() - 1) as u32
                        });
                        last = Some((t.id, k));
                        k
                    }
                };
                let c = &mut custs[k as usize];
                if t.day < c.first_day {
                    c.first_day = t.day;
                    c.first_amount = 0.0;
                    c.first_qty = 0.0;
                    c.first_n = 0;
                    c.best_amount = f64::NEG_INFINITY;
                }
                if t.day == c.first_day {
                    c.first_amount += t.amount;
                    c.first_qty += t.qty;
                    c.first_n += 1;
                    if t.amount > c.best_amount {
                        c.best_amount = t.amount;
                        c.best = t.attrs;
                    }
                }
                match c.days.last_mut() {
                    Some((d, a)) if *d == t.day => *a += t.amount as f32,
                    _ => c.days.push((t.day, t.amount as f32)),
                }
            }
        }
    }
    if pos.is_none() || data_rows == 0 {
        return Err(DataError::NoRows {
            source_name: path.display().to_string(),
        });
    }
    Ok(custs)
}

/// The customer table (one row per kept customer, first-appearance order,
/// with its `id` besides the features and labels) and its layout, before
/// encoding; the file is read in blocks of `block` bytes.
pub fn customers(
    spec: &PresetSpec,
    options: &AvsOptions,
    folder: &Folder,
    block: usize,
) -> Result<(DataFrame, Layout), DataError> {
    let path = file(folder)?;
    let company = options.company.unwrap_or(Company::Id(DEFAULT_COMPANY));
    let cohort = options.cohort.clone().unwrap_or_else(default_cohort);
    let window = cohort.days()?;
    let custs = scan(&path, company, block.max(1))?;
    let kept: Vec<&Cust> = custs
        .iter()
        .filter(|c| window.is_none_or(|(a, b)| c.first_day >= a && c.first_day < b))
        .collect();
    if kept.is_empty() {
        return Err(DataError::NoCustomers {
            path: path.clone(),
            company: company.to_string(),
            cohort: cohort.to_string(),
        });
    }
    let n = kept.len();
    let mut cat: Vec<Vec<i64>> = (0..5).map(|_| Vec::with_capacity(n)).collect();
    let mut measure: Vec<String> = Vec::with_capacity(n);
    let mut amount = Vec::with_capacity(n);
    let mut qty = Vec::with_capacity(n);
    let mut count = Vec::with_capacity(n);
    let (mut y1, mut m1, mut s1) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for c in &kept {
        let b = &c.best;
        for (k, v) in [b.chain, b.dept, b.category, b.brand, b.company]
            .into_iter()
            .enumerate()
        {
            cat[k].push(v);
        }
        measure.push(unpack_measure(b.measure));
        amount.push(c.first_amount.ln());
        qty.push(c.first_qty.max(0.0).ln_1p());
        count.push(f64::from(c.first_n));
        let d0 = c.first_day;
        let (mut year, mut month, mut spend) = (false, false, 0.0f64);
        for &(d, a) in &c.days {
            if d > d0 && d <= d0 + YEAR_DAYS {
                year = true;
            }
            if d > d0 && d <= d0 + MONTH_DAYS {
                month = true;
                spend += f64::from(a);
            }
        }
        y1.push(f64::from(u8::from(year)));
        m1.push(f64::from(u8::from(month)));
        s1.push(spend);
    }
    let mut cols: Vec<Column> = vec![Column::new(
        "id".into(),
        kept.iter().map(|c| c.id).collect::<Vec<i64>>(),
    )];
    let ints = ["chain", "dept", "category", "brand", "company"];
    for (name, v) in ints.iter().zip(cat) {
        cols.push(Column::new((*name).into(), v));
    }
    cols.push(Column::new("productmeasure".into(), measure));
    cols.push(Column::new(NUMERIC[0].into(), amount));
    cols.push(Column::new(NUMERIC[1].into(), qty));
    cols.push(Column::new(NUMERIC[2].into(), count));
    cols.push(Column::new("repurchase_1y".into(), y1));
    cols.push(Column::new("repurchase_1m".into(), m1));
    cols.push(Column::new("spend_1m".into(), s1));
    let df = DataFrame::new(n, cols).map_err(|e| read_err(&path, e))?;
    let catn: Vec<String> = CATEGORICAL.iter().map(|s| s.to_string()).collect();
    let numn: Vec<String> = NUMERIC.iter().map(|s| s.to_string()).collect();
    let layout = spec.layout(
        format!(
            "{} (company {company}, cohort {cohort}: {n} customers)",
            path.display()
        ),
        &catn,
        &numn,
    )?;
    Ok((df, layout))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date(b"1970-01-01"), Some(0));
        assert_eq!(parse_date(b"2012-03-02"), Some(15_401));
        assert_eq!(parse_date(b"2000-02-29"), Some(11_016));
        assert_eq!(parse_date(b"2013-02-29"), None);
        assert_eq!(parse_date(b"2012/03/02"), None);
        assert_eq!(parse_date(b"2012-3-2"), Some(15_401));
        assert_eq!(parse_date(b""), None);
    }

    #[test]
    fn numbers_match_std_parse() {
        for t in [
            "7.59",
            "0",
            "-6.00",
            "12",
            "3.5",
            "1e3",
            "0.1",
            "123456789.123456",
            ".5",
            "5.",
            "-0.0",
            "99999999999999.9",
            "2.675",
            "1234567890123456789",
        ] {
            assert_eq!(parse_num(t.as_bytes()), t.parse::<f64>().ok(), "{t}");
        }
        for t in ["", "-", ".", "abc", "1.2.3", "inf", "NaN", "1,5"] {
            assert_eq!(parse_num(t.as_bytes()), None, "{t}");
        }
    }

    #[test]
    fn measures_round_trip() {
        for m in ["", "OZ", "CT", "LT", "ABCDEFG"] {
            assert_eq!(unpack_measure(pack_measure(m.as_bytes())), m);
        }
        assert!(unpack_measure(pack_measure(b"LONGER TEXT")).starts_with('#'));
    }

    #[test]
    fn ints() {
        assert_eq!(parse_int(b"86246"), Some(86246));
        assert_eq!(parse_int(b"-3"), Some(-3));
        assert_eq!(parse_int(b" 7 "), Some(7));
        assert_eq!(parse_int(b"12.0"), Some(12));
        assert_eq!(parse_int(b"1.5"), None);
        assert_eq!(parse_int(b"x"), None);
        assert_eq!(parse_int(b""), None);
    }

    #[test]
    fn pieces_cut_at_line_ends() {
        let block = b"a\nbb\nccc\ndddd\n";
        for k in 1..6 {
            let p = pieces(block, k);
            assert_eq!(p.concat(), block.to_vec());
            assert!(p.iter().all(|x| x.ends_with(b"\n")));
        }
    }
}
