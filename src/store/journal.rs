//! The decisions journal: `BATCH/decisions.jsonl`, a second, append-only record of every review
//! decision beside the database, so that a lost or damaged `batch.sqlite` can be rebuilt with
//! the clerks' work intact (`pingyi rebuild`).
//!
//! One JSON object per line ([`JournalEntry`]). A flag is named by what survives a rescan —
//! the input file's SHA-256, the 0-based page index in it, the flag kind and its target — never
//! by its database id. A line is written in one `write` call and the file is fsynced before
//! the decision is acknowledged; the writer holds the database's write lock meanwhile, so two
//! reviewers' lines never interleave and the journal's order is the database's order.
//!
//! A crash can leave the last line cut. Reading skips every line that is not one complete
//! entry (with a [`JournalWarning`] naming it), and the next append first ends the cut line,
//! so a cut line is never glued to the next decision nor misread.

use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The journal file inside a batch folder.
pub const JOURNAL_FILE: &str = "decisions.jsonl";

/// Format version written in every line (`"v"`); a reader skips lines of a newer format.
pub const JOURNAL_VERSION: u32 = 1;

/// One decision as journaled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Format version ([`JOURNAL_VERSION`]).
    pub v: u32,
    /// SHA-256 of the input file the flagged page is in.
    pub file_sha256: String,
    /// 0-based page index in that file.
    pub page_index: u32,
    /// `FlagKind::as_str`.
    pub kind: String,
    /// What the flag is about (question, subject, writing area, serial); None when nothing.
    pub target: Option<String>,
    /// The flag's id in the database the decision was made in (for cross-reference only: a
    /// rebuilt database numbers its flags anew).
    pub flag_id: i64,
    /// The input file's path when decided, for messages.
    pub file: String,
    /// The sheet's serial and page number, for messages.
    pub serial: Option<String>,
    pub sheet_page: Option<u32>,
    pub reviewer: String,
    /// When decided (RFC 3339 UTC, milliseconds), as in the database.
    pub at: String,
    pub machine_value: String,
    /// The decision; "" = back to open (an undo).
    pub new_value: String,
    pub note: String,
}

impl JournalEntry {
    /// "file#page" as messages show a page.
    #[must_use]
    pub fn page_label(&self) -> String {
        format!("{}#{}", self.file, self.page_index + 1)
    }

    /// The flag as a clerk reads it: kind, target and page.
    #[must_use]
    pub fn flag_label(&self) -> String {
        match &self.target {
            Some(t) => format!("{} {} on {}", self.kind, t, self.page_label()),
            None => format!("{} on {}", self.kind, self.page_label()),
        }
    }
}

/// A line of the journal that was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalWarning {
    /// The file (journal or manifest).
    pub file: &'static str,
    /// 1-based line number.
    pub line: usize,
    pub why: String,
}

impl std::fmt::Display for JournalWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} line {}: {}; skipped", self.file, self.line, self.why)
    }
}

/// What reading a journal found.
#[derive(Debug, Default)]
pub struct JournalRead {
    /// Complete entries in file order, with their 1-based line numbers.
    pub entries: Vec<(usize, JournalEntry)>,
    pub warnings: Vec<JournalWarning>,
}

#[derive(Debug, thiserror::Error)]
#[error("{}: {cause}", path.display())]
pub struct JournalError {
    pub path: PathBuf,
    pub cause: std::io::Error,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |cause| JournalError {
        path: path.to_path_buf(),
        cause,
    }
}

/// Read the journal at `path`; a missing file reads as empty.
///
/// # Errors
/// The file exists but cannot be read.
pub fn read(path: &Path) -> Result<JournalRead, JournalError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(JournalRead::default()),
        Err(e) => return Err(io(path)(e)),
    };
    Ok(parse(&bytes))
}

/// Parse journal bytes: complete lines only.
#[must_use]
pub fn parse(bytes: &[u8]) -> JournalRead {
    let mut out = JournalRead::default();
    let mut rest = bytes;
    let mut line = 0;
    while !rest.is_empty() {
        line += 1;
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            // Written in one call ending with '\n': no newline means the write was cut.
            out.warnings.push(JournalWarning {
                file: JOURNAL_FILE,
                line,
                why: "the last line is cut off (a crash while it was written)".into(),
            });
            break;
        };
        let text = &rest[..end];
        rest = &rest[end + 1..];
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<JournalEntry>(text) {
            Ok(e) if e.v > JOURNAL_VERSION => out.warnings.push(JournalWarning {
                file: JOURNAL_FILE,
                line,
                why: format!("written by a newer pingyi (format {})", e.v),
            }),
            Ok(e) => out.entries.push((line, e)),
            Err(e) => out.warnings.push(JournalWarning {
                file: JOURNAL_FILE,
                line,
                why: format!("not a complete decision ({e})"),
            }),
        }
    }
    out
}

/// Number of complete lines (a cheap upper bound of the entries, without parsing).
///
/// # Errors
/// The file exists but cannot be read.
pub fn count_lines(path: &Path) -> Result<usize, JournalError> {
    match std::fs::read(path) {
        Ok(b) => Ok(b.iter().filter(|&&c| c == b'\n').count()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io(path)(e)),
    }
}

/// Append entries and fsync: when this returns Ok they survive a crash or power cut.
///
/// # Errors
/// The journal cannot be opened, written or synced.
pub fn append(path: &Path, entries: &[JournalEntry]) -> Result<(), JournalError> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for e in entries {
        // Serialising a struct of strings and integers cannot fail.
        text.push_str(&serde_json::to_string(e).unwrap_or_default());
        text.push('\n');
    }
    append_text(path, &text, true)
}

/// Append complete lines (each ending in '\n') to a JSON-lines file, and fsync it when
/// `sync`; a cut last line is ended first so it stays a line of its own. Used for the
/// manifest too.
pub(super) fn append_text(path: &Path, text: &str, sync: bool) -> Result<(), JournalError> {
    let created = !path.exists();
    let mut f = OpenOptions::new()
        .read(true)
        .append(true)
        .create(true)
        .open(path)
        .map_err(io(path))?;
    let mut bytes = Vec::with_capacity(text.len() + 1);
    if !ends_with_newline(&mut f).map_err(io(path))? {
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(text.as_bytes());
    // One write: with O_APPEND the line lands whole at the end even beside another writer.
    f.write_all(&bytes).map_err(io(path))?;
    if sync {
        f.sync_data().map_err(io(path))?;
    }
    if created {
        sync_dir(path).map_err(io(path))?;
    }
    Ok(())
}

/// Whether the file is empty or ends with '\n'.
fn ends_with_newline(f: &mut File) -> std::io::Result<bool> {
    let len = f.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(true);
    }
    f.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    f.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Write a whole file atomically: a temp file, fsync, rename over, fsync the folder.
pub(super) fn write_atomic(path: &Path, text: &str) -> Result<(), JournalError> {
    let mut tmp = path.as_os_str().to_owned();
    // Per process: two processes bringing an old batch up to date must not share a temp file.
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    {
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(text.as_bytes()).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(path).map_err(io(path))
}

/// Flush a file written without sync to disk (a missing file has nothing to flush).
pub(super) fn sync(path: &Path) -> Result<(), JournalError> {
    match OpenOptions::new().append(true).open(path) {
        Ok(f) => f.sync_data().map_err(io(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

/// Make a new or renamed file's directory entry durable (a no-op where folders cannot be
/// opened).
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    match File::open(dir) {
        Ok(d) => d.sync_all().or(Ok(())),
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(value: &str) -> JournalEntry {
        JournalEntry {
            v: JOURNAL_VERSION,
            file_sha256: "ab".repeat(32),
            page_index: 2,
            kind: "marginal".into(),
            target: Some("a1.q".into()),
            flag_id: 7,
            file: "/scans/box1.pdf".into(),
            serial: Some("K7Q2M9X4".into()),
            sheet_page: Some(1),
            reviewer: "李".into(),
            at: "2026-12-04T10:00:00.000Z".into(),
            machine_value: String::new(),
            new_value: value.into(),
            note: "按原件".into(),
        }
    }

    #[test]
    fn entries_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        append(&path, &[entry("good")]).unwrap();
        append(&path, &[entry("bad"), entry("")]).unwrap();
        let r = read(&path).unwrap();
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let values: Vec<(usize, &str)> = r
            .entries
            .iter()
            .map(|(l, e)| (*l, e.new_value.as_str()))
            .collect();
        assert_eq!(values, [(1, "good"), (2, "bad"), (3, "")]);
        assert_eq!(count_lines(&path).unwrap(), 3);
    }

    #[test]
    fn a_line_cut_in_half_is_skipped_with_a_warning_and_the_next_append_starts_a_new_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(JOURNAL_FILE);
        append(&path, &[entry("good"), entry("bad")]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        // Cut the second line in the middle, as a crash during its write would.
        let second = bytes[..bytes.len() - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .unwrap()
            + 1;
        let cut = second + (bytes.len() - second) / 2;
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let r = read(&path).unwrap();
        assert_eq!(r.entries.len(), 1);
        assert_eq!(r.entries[0].1.new_value, "good");
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(r.warnings[0].line, 2);
        assert!(
            r.warnings[0].to_string().contains("cut off"),
            "{}",
            r.warnings[0]
        );

        append(&path, &[entry("blank")]).unwrap();
        let r = read(&path).unwrap();
        let values: Vec<&str> = r
            .entries
            .iter()
            .map(|(_, e)| e.new_value.as_str())
            .collect();
        assert_eq!(values, ["good", "blank"]);
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(r.warnings[0].line, 2);
        assert!(
            r.warnings[0].why.contains("not a complete decision"),
            "{}",
            r.warnings[0]
        );
    }

    #[test]
    fn garbage_and_newer_formats_are_skipped_never_misread() {
        let mut newer = entry("good");
        newer.v = JOURNAL_VERSION + 1;
        let text = format!(
            "{}\n\u{0}\u{0}\u{0}\n{{\"v\":1}}\n{}\n\n{}\n",
            serde_json::to_string(&entry("bad")).unwrap(),
            serde_json::to_string(&newer).unwrap(),
            serde_json::to_string(&entry("blank")).unwrap()
        );
        let r = parse(text.as_bytes());
        let got: Vec<(usize, &str)> = r
            .entries
            .iter()
            .map(|(l, e)| (*l, e.new_value.as_str()))
            .collect();
        assert_eq!(got, [(1, "bad"), (6, "blank")]);
        let lines: Vec<usize> = r.warnings.iter().map(|w| w.line).collect();
        assert_eq!(lines, [2, 3, 4]);
    }

    #[test]
    fn a_missing_journal_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let r = read(&dir.path().join(JOURNAL_FILE)).unwrap();
        assert!(r.entries.is_empty() && r.warnings.is_empty());
    }
}
