//! Files on disk: which kinds are supported, their header, and the
//! structural checks every CSV file passes before polars reads it.
//!
//! [`check_csv`] reads the file once as a stream (quoted fields, `""`
//! escapes, `\r\n` line ends understood) and turns what polars would report
//! in several lines — or silently accept — into one-line errors naming the
//! file and row: a row with more fields than the header
//! ([`DataError::RaggedRow`]), a row with fewer ([`DataError::ShortRow`];
//! polars would read the missing fields as missing values), bytes that are
//! not UTF-8 ([`DataError::NotUtf8`], with row and column), and a quote left
//! open at the end of the file. [`read_header`] rejects a header naming a
//! column twice ([`DataError::DuplicateColumn`]). Rows are 1-based data rows
//! (row 1 is the record after the header). An empty line is a row, as polars
//! reads it (a row of missing values): in a file of more than one column it
//! is an error ([`DataError::EmptyRow`]).

use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::error::DataError;

/// Supported file types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Comma-separated text with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl FileKind {
    /// The kind for `path`'s extension, if supported.
    pub fn of(path: &Path) -> Option<FileKind> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(FileKind::Csv),
            "parquet" => Some(FileKind::Parquet),
            _ => None,
        }
    }
}

/// The file's kind, or why it cannot be read.
pub fn check_file(path: &Path) -> Result<FileKind, DataError> {
    if !path.exists() {
        return Err(DataError::FileNotFound {
            path: path.to_path_buf(),
        });
    }
    FileKind::of(path).ok_or_else(|| DataError::UnsupportedExtension {
        path: path.to_path_buf(),
    })
}

/// [`DataError::Read`] for `path` with the reader's message.
pub fn read_err(path: &Path, e: impl std::fmt::Display) -> DataError {
    DataError::Read {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// The column names of a CSV or Parquet file, in file order. Errors when a
/// name appears twice, or a CSV header is not UTF-8.
pub fn read_header(path: &Path) -> Result<Vec<String>, DataError> {
    let names = match check_file(path)? {
        FileKind::Csv => csv_header(path)?,
        FileKind::Parquet => {
            let file = std::fs::File::open(path).map_err(|e| read_err(path, e))?;
            let schema = ParquetReader::new(file)
                .schema()
                .map_err(|e| read_err(path, e))?;
            schema.iter_names().map(|s| s.to_string()).collect()
        }
    };
    for (i, n) in names.iter().enumerate() {
        if let Some(j) = names[..i].iter().position(|m| m == n) {
            return Err(DataError::DuplicateColumn {
                path: path.to_path_buf(),
                column: n.clone(),
                first: j + 1,
                second: i + 1,
            });
        }
    }
    Ok(names)
}

/// The first record of a CSV file, split into fields (quotes removed).
fn csv_header(path: &Path) -> Result<Vec<String>, DataError> {
    let file = std::fs::File::open(path).map_err(|e| read_err(path, e))?;
    let mut bytes = Vec::new();
    let mut inside = false;
    for b in std::io::BufReader::new(file).bytes() {
        let b = b.map_err(|e| read_err(path, e))?;
        if b == b'"' {
            inside = !inside;
        }
        if b == b'\n' && !inside {
            break;
        }
        bytes.push(b);
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    let fields = split_record(&bytes);
    let mut names = Vec::with_capacity(fields.len());
    for (k, f) in fields.into_iter().enumerate() {
        match String::from_utf8(f) {
            Ok(s) => names.push(s),
            Err(e) => {
                let byte = e.as_bytes()[e.utf8_error().valid_up_to()];
                return Err(DataError::NotUtf8 {
                    path: path.to_path_buf(),
                    location: format!("the header (column {})", k + 1),
                    byte,
                });
            }
        }
    }
    Ok(names)
}

/// One record's fields, unquoted (`"a ""b"""` → `a "b"`).
fn split_record(rec: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    let mut inside = false;
    let mut i = 0;
    while i < rec.len() {
        let b = rec[i];
        match b {
            b'"' if inside && rec.get(i + 1) == Some(&b'"') => {
                out.last_mut().expect("non-empty").push(b'"');
                i += 1;
            }
            b'"' => inside = !inside,
            b',' if !inside => out.push(Vec::new()),
            _ => out.last_mut().expect("non-empty").push(b),
        }
        i += 1;
    }
    out
}

/// Bytes read at a time by [`check_csv`].
const BLOCK: usize = 8 << 20;

/// Checks every record of the CSV file at `path` against its header (see
/// the module docs); returns the number of data rows.
pub fn check_csv(path: &Path) -> Result<usize, DataError> {
    let header = read_header(path)?;
    let width = header.len();
    let mut file = std::fs::File::open(path).map_err(|e| read_err(path, e))?;
    let mut s = Scan {
        path: path.to_path_buf(),
        header,
        width,
        record: 0,
        fields: 1,
        empty: true,
        inside: false,
        open_row: 0,
    };
    let mut buf = vec![0u8; BLOCK];
    // Bytes of an incomplete UTF-8 sequence at the end of the previous block.
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let keep = carry.len();
        buf[..keep].copy_from_slice(&carry);
        let n = read_full(&mut file, &mut buf[keep..]).map_err(|e| read_err(path, e))?;
        let eof = n == 0;
        let block = &buf[..keep + n];
        carry.clear();
        let (valid, bad) = match std::str::from_utf8(block) {
            Ok(_) => (block.len(), None),
            Err(e) => match e.error_len() {
                Some(_) => (e.valid_up_to(), Some(block[e.valid_up_to()])),
                None if !eof => {
                    carry.extend_from_slice(&block[e.valid_up_to()..]);
                    (e.valid_up_to(), None)
                }
                None => (e.valid_up_to(), Some(block[e.valid_up_to()])),
            },
        };
        s.feed(&block[..valid])?;
        if let Some(byte) = bad {
            return Err(s.not_utf8(byte));
        }
        if eof {
            break;
        }
    }
    s.finish()
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// The state of [`check_csv`] between blocks.
struct Scan {
    path: PathBuf,
    header: Vec<String>,
    width: usize,
    /// Records ended so far (0 while in the header).
    record: usize,
    /// Fields of the current record so far.
    fields: usize,
    /// True while the current record has no byte yet (an empty line; `\r` does not count).
    empty: bool,
    /// Inside a quoted field.
    inside: bool,
    /// The record where the open quote started.
    open_row: usize,
}

impl Scan {
    fn feed(&mut self, bytes: &[u8]) -> Result<(), DataError> {
        for &b in bytes {
            match b {
                b'"' => {
                    // `""` inside a quoted field toggles twice: no net change.
                    if !self.inside {
                        self.open_row = self.record;
                    }
                    self.inside = !self.inside;
                    self.empty = false;
                }
                b',' if !self.inside => {
                    self.fields += 1;
                    self.empty = false;
                }
                b'\n' if !self.inside => self.end_record(false)?,
                b'\r' => {}
                _ => self.empty = false,
            }
        }
        Ok(())
    }

    /// Ends the current record; at the end of the file only a record with
    /// bytes counts (the file's last line break ends the last row).
    fn end_record(&mut self, at_eof: bool) -> Result<(), DataError> {
        if self.empty && at_eof {
            return Ok(());
        }
        if self.empty && self.record > 0 && self.width > 1 {
            return Err(DataError::EmptyRow {
                path: self.path.clone(),
                row: self.record,
                expected: self.width,
            });
        }
        if self.record > 0 && self.fields != self.width {
            let (row, found, expected) = (self.record, self.fields, self.width);
            let path = self.path.clone();
            return Err(if found > expected {
                DataError::RaggedRow {
                    path,
                    row,
                    found,
                    expected,
                }
            } else {
                DataError::ShortRow {
                    path,
                    row,
                    found,
                    expected,
                    missing: self.header[found..].join("\", \""),
                }
            });
        }
        self.record += 1;
        self.fields = 1;
        self.empty = true;
        Ok(())
    }

    fn not_utf8(&self, byte: u8) -> DataError {
        let location = match self.header.get(self.fields - 1) {
            _ if self.record == 0 => format!("the header (column {})", self.fields),
            Some(c) => format!("row {}, column \"{c}\"", self.record),
            None => format!(
                "row {}, field {} (beyond the header)",
                self.record, self.fields
            ),
        };
        DataError::NotUtf8 {
            path: self.path.clone(),
            location,
            byte,
        }
    }

    fn finish(mut self) -> Result<usize, DataError> {
        if self.inside {
            return Err(DataError::OpenQuote {
                path: self.path.clone(),
                row: self.open_row,
            });
        }
        self.end_record(true)?;
        Ok(self.record.saturating_sub(1))
    }
}
