//! The batch manifest: `BATCH/manifest.jsonl`, a small plain-text list of what a batch was made
//! from — its campaign, when it was created, and every input file (path, SHA-256, page count,
//! whether names were OCR'd) in the order it was first scanned. `pingyi rebuild` reads it
//! instead of the database it replaces, so a damaged database cannot hide what to rescan.
//!
//! ```text
//! {"kind":"batch","manifest":1,"campaign":"/abs/my2025/campaign.toml","created":"2026-12-04T09:00:00Z"}
//! {"kind":"file","sha256":"9f2c…","path":"/abs/scans/box1.pdf","pages":12,"ocr":true}
//! ```
//!
//! The first line is written atomically (temp file + rename); file lines are appended as a
//! scan starts each file and fsynced at the end of the run (after an OS crash the next scan
//! restores a lost line from the database). A later line for the same SHA-256 (the file moved)
//! updates it but keeps its place in the order. Lines that do not parse are skipped with a
//! warning, like the journal's.

use super::journal::{self, JournalError, JournalWarning};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// The manifest file inside a batch folder.
pub const MANIFEST_FILE: &str = "manifest.jsonl";

/// Format version in the first line.
const MANIFEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Line {
    Batch {
        manifest: u32,
        campaign: String,
        created: Option<String>,
    },
    File(ManifestFile),
}

/// One input file of the batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// SHA-256 as the store keys it (`unreadable:<path>` for a file that could not be hashed).
    pub sha256: String,
    pub path: String,
    /// Pages in the file (None when it could not be opened).
    pub pages: Option<u32>,
    /// Whether names and writing were OCR'd (None: unknown, for files listed from an older
    /// batch's database).
    pub ocr: Option<bool>,
}

/// What the manifest says.
#[derive(Debug, Clone, Default)]
pub struct Manifest {
    /// Absolute path of the campaign's `campaign.toml`.
    pub campaign: String,
    pub created: Option<String>,
    /// In first-scanned order.
    pub files: Vec<ManifestFile>,
    pub warnings: Vec<JournalWarning>,
}

impl Manifest {
    /// The entry for a SHA-256.
    #[must_use]
    pub fn file(&self, sha256: &str) -> Option<&ManifestFile> {
        self.files.iter().find(|f| f.sha256 == sha256)
    }
}

fn line(l: &Line) -> String {
    // A struct of strings and integers always serialises.
    let mut s = serde_json::to_string(l).unwrap_or_default();
    s.push('\n');
    s
}

/// Read the manifest at `path`: None when there is none or it has no batch line.
///
/// # Errors
/// The file exists but cannot be read.
pub fn read(path: &Path) -> Result<Option<Manifest>, JournalError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(cause) => {
            return Err(JournalError {
                path: path.to_path_buf(),
                cause,
            })
        }
    };
    Ok(parse(&bytes))
}

fn parse(bytes: &[u8]) -> Option<Manifest> {
    let mut m: Option<Manifest> = None;
    let mut warnings = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let text = String::from_utf8_lossy(bytes);
    let complete = text.ends_with('\n');
    let lines: Vec<&str> = text.lines().collect();
    for (i, raw) in lines.iter().enumerate() {
        let n = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        if n == lines.len() && !complete {
            warnings.push(JournalWarning {
                file: MANIFEST_FILE,
                line: n,
                why: "the last line is cut off (a crash while it was written)".into(),
            });
            break;
        }
        match serde_json::from_str::<Line>(raw) {
            Ok(Line::Batch {
                manifest,
                campaign,
                created,
            }) if manifest <= MANIFEST_VERSION => {
                if m.is_none() {
                    m = Some(Manifest {
                        campaign,
                        created,
                        ..Manifest::default()
                    });
                }
            }
            Ok(Line::Batch { manifest, .. }) => warnings.push(JournalWarning {
                file: MANIFEST_FILE,
                line: n,
                why: format!("written by a newer pingyi (manifest format {manifest})"),
            }),
            Ok(Line::File(f)) => {
                let Some(m) = m.as_mut() else {
                    warnings.push(JournalWarning {
                        file: MANIFEST_FILE,
                        line: n,
                        why: "a file listed before the batch line".into(),
                    });
                    continue;
                };
                match index.get(&f.sha256) {
                    Some(&k) => m.files[k] = f,
                    None => {
                        index.insert(f.sha256.clone(), m.files.len());
                        m.files.push(f);
                    }
                }
            }
            Err(e) => warnings.push(JournalWarning {
                file: MANIFEST_FILE,
                line: n,
                why: format!("not a manifest line ({e})"),
            }),
        }
    }
    if let Some(m) = m.as_mut() {
        m.warnings = warnings;
    }
    m
}

/// Write a new manifest (atomically): the batch line and the files known so far.
///
/// # Errors
/// The file cannot be written.
pub fn create(
    path: &Path,
    campaign: &str,
    created: Option<&str>,
    files: &[ManifestFile],
) -> Result<(), JournalError> {
    let mut text = line(&Line::Batch {
        manifest: MANIFEST_VERSION,
        campaign: campaign.to_string(),
        created: created.map(str::to_string),
    });
    for f in files {
        text.push_str(&line(&Line::File(f.clone())));
    }
    journal::write_atomic(path, &text)
}

/// Append file lines, and fsync when `sync`.
///
/// # Errors
/// The file cannot be written.
pub fn append(path: &Path, files: &[ManifestFile], sync: bool) -> Result<(), JournalError> {
    if files.is_empty() {
        return Ok(());
    }
    let text: String = files.iter().map(|f| line(&Line::File(f.clone()))).collect();
    journal::append_text(path, &text, sync)
}

/// Flush lines appended without sync.
///
/// # Errors
/// The file cannot be synced.
pub fn sync(path: &Path) -> Result<(), JournalError> {
    journal::sync(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(sha: &str, path: &str) -> ManifestFile {
        ManifestFile {
            sha256: sha.into(),
            path: path.into(),
            pages: Some(3),
            ocr: Some(true),
        }
    }

    #[test]
    fn files_keep_their_first_order_and_a_later_line_updates_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MANIFEST_FILE);
        create(
            &path,
            "/c/campaign.toml",
            Some("2026-12-04T09:00:00Z"),
            &[file("b", "/s/b.pdf")],
        )
        .unwrap();
        append(
            &path,
            &[file("a", "/s/a.pdf"), file("b", "/moved/b.pdf")],
            true,
        )
        .unwrap();
        let m = read(&path).unwrap().unwrap();
        assert_eq!(m.campaign, "/c/campaign.toml");
        assert_eq!(m.created.as_deref(), Some("2026-12-04T09:00:00Z"));
        let got: Vec<(&str, &str)> = m
            .files
            .iter()
            .map(|f| (f.sha256.as_str(), f.path.as_str()))
            .collect();
        assert_eq!(got, [("b", "/moved/b.pdf"), ("a", "/s/a.pdf")]);
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn a_cut_last_line_is_skipped_and_no_batch_line_means_no_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MANIFEST_FILE);
        assert!(read(&path).unwrap().is_none());
        create(&path, "/c/campaign.toml", None, &[file("a", "/s/a.pdf")]).unwrap();
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(br#"{"kind":"file","sha256":"b","pa"#);
        std::fs::write(&path, &bytes).unwrap();
        let m = read(&path).unwrap().unwrap();
        assert_eq!(m.files.len(), 1);
        assert_eq!(m.warnings.len(), 1);
        assert_eq!(m.warnings[0].line, 3);
        std::fs::write(
            &path,
            "{\"kind\":\"file\",\"sha256\":\"a\",\"path\":\"x\",\"pages\":1,\"ocr\":null}\n",
        )
        .unwrap();
        assert!(read(&path).unwrap().is_none());
    }
}
