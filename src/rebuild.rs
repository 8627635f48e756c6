//! `pingyi rebuild`: a lost or damaged batch database made again from what survives beside it
//! — the manifest (campaign and input files, see `store::manifest`) and the decisions journal
//! (`store::journal`).
//!
//! 1. Inspect `batch.sqlite` with SQLite's integrity check. Healthy: nothing to do unless
//!    forced (an older batch gets its manifest and journal written). A rebuild left unfinished
//!    (Ctrl-C, crash): carry on with it.
//! 2. Read the manifest; a batch from before manifests existed has its file list salvaged
//!    from the damaged database if SQLite can still read that much.
//! 3. Move the damaged database and its `-wal`/`-shm` aside, never delete them.
//! 4. Check every input file by SHA-256: a file that changed or is gone is not rescanned; it
//!    is reported with its pages and the decisions that could not be replayed on them.
//! 5. Rescan the rest in the manifest's order (so page ids and duplicate flags come out as
//!    before), each file with the OCR setting it was first scanned with. The new database is
//!    marked as being rebuilt, which every other command refuses, until…
//! 6. …the journal is replayed onto it in one transaction that also clears that mark.

use crate::pages::{self, InputFile};
use crate::scan::{scan_files, ScanError, ScanOptions};
use crate::store::health::{self, DbState};
use crate::store::journal::{self, JournalEntry, JournalError, JournalWarning, JOURNAL_FILE};
use crate::store::manifest::{self, ManifestFile, MANIFEST_FILE};
use crate::store::{salvage_manifest, Access, NotReplayed, Replayed, Store, StoreError, DB_FILE};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

/// Hex digits of a SHA-256 shown in messages: enough to tell two files apart by eye.
const SHA_SHOWN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("{} holds no batch (no {DB_FILE}, {MANIFEST_FILE} or {JOURNAL_FILE}): nothing to rebuild", dir.display())]
    NotABatch { dir: PathBuf },
    #[error("{} has no {MANIFEST_FILE} (it was made by an older pingyi) and its damaged database no longer lists the scanned files: scan the input files again into a new batch with `pingyi scan FILES --campaign C --batch NEW`", dir.display())]
    NoManifest { dir: PathBuf },
    #[error("the campaign {} this batch was scanned for is not there any more: put it back at that path, then run `pingyi rebuild --batch {}` again", campaign.display(), dir.display())]
    CampaignGone { campaign: PathBuf, dir: PathBuf },
    #[error("cannot move {} aside to {}: {cause}; nothing was changed", from.display(), to.display())]
    MoveAside {
        from: PathBuf,
        to: PathBuf,
        cause: std::io::Error,
    },
    #[error(transparent)]
    Record(#[from] JournalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Scan(#[from] ScanError),
}

/// What to rebuild and how.
#[derive(Debug, Clone)]
pub struct RebuildOptions {
    pub batch: PathBuf,
    /// Rebuild even a database that passes the integrity check.
    pub force: bool,
    /// Worker threads for the rescan; 0 = one per core.
    pub jobs: usize,
    /// Progress bar on stderr.
    pub progress: bool,
}

/// What `rebuild` did.
#[derive(Debug)]
pub enum Outcome {
    /// The database passed the integrity check: nothing was rebuilt. `journal_lines_added`
    /// decisions of an older batch were written to its new journal.
    Healthy {
        journal_lines_added: usize,
    },
    /// Stopped by a stop request during the rescan: run again to carry on.
    Interrupted,
    Rebuilt(Box<Report>),
}

/// An input file that could not be rescanned.
#[derive(Debug, Clone)]
pub struct LostFile {
    pub path: String,
    pub sha256: String,
    /// What happened to it, as a clerk reads it.
    pub why: String,
    pub pages: Option<u32>,
    /// Pages ("#N") that carried decisions, which could not be replayed.
    pub decided_pages: Vec<String>,
}

/// Everything a clerk needs to know after a rebuild.
#[derive(Debug)]
pub struct Report {
    pub batch: PathBuf,
    /// What the old database was: missing, damaged (SQLite's words) or healthy (forced).
    pub was: DbState,
    /// Where the old database files went.
    pub moved_aside: Vec<PathBuf>,
    /// A rebuild left unfinished was carried on.
    pub resumed: bool,
    /// The manifest was salvaged from the damaged database (an older batch).
    pub salvaged_manifest: bool,
    pub files_rescanned: usize,
    pub pages_read: usize,
    pub pages_blank: usize,
    pub pages_rejected: usize,
    /// Files that could not be read now either: (path, reason).
    pub files_failed: Vec<(String, String)>,
    pub lost: Vec<LostFile>,
    /// False when the batch has no journal (made by an older pingyi).
    pub journal_found: bool,
    pub replayed: Replayed,
    pub journal_warnings: Vec<JournalWarning>,
    pub manifest_warnings: Vec<JournalWarning>,
    /// Blocking flags left open after the replay.
    pub open_flags: usize,
}

impl Report {
    /// Every file was rescanned and every journaled decision landed on its flag.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.lost.is_empty() && self.journal_found && self.replayed.unreplayed.is_empty()
    }

    /// The report as printed by `pingyi rebuild`.
    #[must_use]
    pub fn render(&self) -> String {
        let mut s = String::new();
        let batch = self.batch.display();
        let _ = writeln!(s, "Rebuilt batch {batch}.");
        match &self.was {
            DbState::Missing => {
                let _ = writeln!(s, "  {DB_FILE} was missing.");
            }
            DbState::Damaged(why) => {
                let _ = writeln!(s, "  {DB_FILE} was damaged (SQLite: {why}).");
            }
            DbState::Healthy { .. } if self.resumed => {
                let _ = writeln!(s, "  Carried on with the rebuild that did not finish.");
            }
            DbState::Healthy { .. } => {
                let _ = writeln!(s, "  {DB_FILE} was healthy; rebuilt because of --force.");
            }
        }
        for p in &self.moved_aside {
            let _ = writeln!(s, "  Moved aside (not deleted): {}", p.display());
        }
        if self.salvaged_manifest {
            let _ = writeln!(
                s,
                "  The list of scanned files was read from the damaged database (this batch had no {MANIFEST_FILE}; it has one now)."
            );
        }
        let _ = writeln!(
            s,
            "  Rescanned {} files in the order they were first scanned: {} pages read, {} blank, {} rejected.",
            self.files_rescanned, self.pages_read, self.pages_blank, self.pages_rejected
        );
        for (path, reason) in &self.files_failed {
            let _ = writeln!(s, "  could not read {path}: {reason}");
        }
        for w in &self.manifest_warnings {
            let _ = writeln!(s, "  warning: {w}");
        }
        if self.journal_found {
            let _ = writeln!(
                s,
                "  Replayed {} review decisions from {JOURNAL_FILE}.",
                self.replayed.applied
            );
        } else {
            let _ = writeln!(
                s,
                "  No {JOURNAL_FILE}: this batch was made by an older pingyi, so its review decisions cannot be recovered; every flag is open again."
            );
        }
        for w in &self.journal_warnings {
            let _ = writeln!(s, "  warning: {w}");
        }
        for f in &self.lost {
            let pages = match f.pages {
                Some(1) => "its page #1 is not in the rebuilt batch".to_string(),
                Some(n) if n > 1 => {
                    format!("its {n} pages (#1–#{n}) are not in the rebuilt batch")
                }
                _ => "it is not in the rebuilt batch".into(),
            };
            let decided = if f.decided_pages.is_empty() {
                String::new()
            } else {
                format!(
                    "; decisions on {} were not replayed",
                    f.decided_pages.join(", ")
                )
            };
            let _ = writeln!(
                s,
                "  NOT RECOVERED: {} {}: {pages}{decided}. Put the original file back and run `pingyi rebuild --batch {batch} --force`, or scan what is there now with `pingyi scan`.",
                f.path, f.why
            );
        }
        for u in &self.replayed.unreplayed {
            let e = &u.entry;
            let last = if e.new_value.is_empty() {
                "reopened".to_string()
            } else {
                format!("\"{}\"", e.new_value)
            };
            let what = format!(
                "{} ({} decision{}, last {last} by {} at {})",
                e.flag_label(),
                u.decisions,
                if u.decisions == 1 { "" } else { "s" },
                e.reviewer,
                e.at
            );
            let _ = match u.why {
                NotReplayed::NoLongerRaised => writeln!(
                    s,
                    "  NOT REPLAYED: {what}: the flag is no longer raised (the reader is now sure of this page); the decisions are kept in the audit trail and count for nothing."
                ),
                NotReplayed::PageMissing => writeln!(
                    s,
                    "  NOT REPLAYED: {what}: its page is not in the rebuilt batch."
                ),
                NotReplayed::UnknownKind => writeln!(
                    s,
                    "  NOT REPLAYED: {what}: a flag kind this pingyi does not know (the journal was written by a newer version)."
                ),
            };
        }
        if self.open_flags > 0 {
            let _ = writeln!(
                s,
                "  {} flags are open: pingyi review --batch {batch}",
                self.open_flags
            );
        }
        s
    }
}

/// Rebuild the batch database of `opts.batch` (see the module docs). `stop` is polled during
/// the rescan.
///
/// # Errors
/// No manifest and nothing to salvage, the campaign is gone, the damaged database cannot be
/// moved aside, or the rescan or replay fails (run again: a rebuild carries on).
pub fn rebuild(opts: &RebuildOptions, stop: &AtomicBool) -> Result<Outcome, RebuildError> {
    let dir = &opts.batch;
    let db = dir.join(DB_FILE);
    let was = health::inspect(&db);
    let resumed = was == DbState::Healthy { rebuilding: true };
    if was == (DbState::Healthy { rebuilding: false }) && !opts.force {
        let mut store = Store::open(dir)?;
        let journal_lines_added = store.ensure_records()?;
        return Ok(Outcome::Healthy {
            journal_lines_added,
        });
    }
    let manifest_path = dir.join(MANIFEST_FILE);
    let journal_path = dir.join(JOURNAL_FILE);
    let (manifest, salvaged_manifest) = match manifest::read(&manifest_path)? {
        Some(m) => (m, false),
        None => {
            let salvaged = (was != DbState::Missing)
                .then(|| salvage_manifest(&db))
                .flatten();
            match salvaged {
                Some(m) => {
                    manifest::create(&manifest_path, &m.campaign, m.created.as_deref(), &m.files)?;
                    (m, true)
                }
                None if was == DbState::Missing && !journal_path.is_file() => {
                    return Err(RebuildError::NotABatch { dir: dir.clone() })
                }
                None => return Err(RebuildError::NoManifest { dir: dir.clone() }),
            }
        }
    };
    let campaign = PathBuf::from(&manifest.campaign);
    if !campaign.is_file() {
        return Err(RebuildError::CampaignGone {
            campaign,
            dir: dir.clone(),
        });
    }
    let moved_aside = if resumed {
        Vec::new()
    } else {
        let label = match was {
            DbState::Missing => "orphaned",
            DbState::Damaged(_) => "damaged",
            DbState::Healthy { .. } => "replaced",
        };
        move_aside(dir, label)?
    };

    let journal_read = journal::read(&journal_path)?;
    let entries: Vec<JournalEntry> = journal_read.entries.into_iter().map(|(_, e)| e).collect();
    let (runs, lost) = check_files(&manifest.files, &entries);

    if !resumed {
        // Created with the rebuild mark set: no other command uses it until the replay.
        let store = Store::create_with(dir, &campaign, Access::Rebuild)?;
        store.set_rebuilt_meta(manifest.created.as_deref())?;
    }
    let mut report = Report {
        batch: dir.clone(),
        was,
        moved_aside,
        resumed,
        salvaged_manifest,
        files_rescanned: 0,
        pages_read: 0,
        pages_blank: 0,
        pages_rejected: 0,
        files_failed: Vec::new(),
        lost,
        journal_found: journal_path.is_file(),
        replayed: Replayed::default(),
        journal_warnings: journal_read.warnings,
        manifest_warnings: manifest.warnings.clone(),
        open_flags: 0,
    };
    for (ocr, files) in runs {
        let scan_opts = ScanOptions {
            inputs: Vec::new(),
            campaign: campaign.clone(),
            batch: dir.clone(),
            jobs: opts.jobs,
            rerun: false,
            ocr,
            progress: opts.progress,
        };
        let summary = scan_files(&scan_opts, &files, Access::Rebuild, stop)?;
        if summary.interrupted {
            return Ok(Outcome::Interrupted);
        }
        report.files_rescanned += summary.files_seen - summary.files_failed.len();
        report.pages_read += summary.pages_read;
        report.pages_blank += summary.pages_blank;
        report.pages_rejected += summary.pages_rejected;
        report.files_failed.extend(summary.files_failed);
    }
    let mut store = Store::open_with(dir, Access::Rebuild)?;
    report.replayed = store.replay_journal(&entries)?;
    drop(store);
    let store = Store::open(dir)?;
    report.open_flags = store.open_flags()?.iter().filter(|f| f.blocking).count();
    Ok(Outcome::Rebuilt(Box::new(report)))
}

/// Rename `batch.sqlite` and its `-wal`/`-shm` to `batch.<label>-<UTC time>.sqlite…` (a WAL
/// left beside a new database would be replayed into it). Returns the new paths.
fn move_aside(dir: &Path, label: &str) -> Result<Vec<PathBuf>, RebuildError> {
    let stamp: String = crate::print::rfc3339_now()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let mut moved = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let from = dir.join(format!("{DB_FILE}{suffix}"));
        if !from.exists() {
            continue;
        }
        let to = dir.join(format!("batch.{label}-{stamp}.sqlite{suffix}"));
        std::fs::rename(&from, &to).map_err(|cause| RebuildError::MoveAside {
            from: from.clone(),
            to: to.clone(),
            cause,
        })?;
        moved.push(to);
    }
    Ok(moved)
}

/// Split the manifest's files into runs to rescan (consecutive files with the same OCR
/// setting, in order) and files that changed or are gone.
fn check_files(
    files: &[ManifestFile],
    entries: &[JournalEntry],
) -> (Vec<(bool, Vec<InputFile>)>, Vec<LostFile>) {
    let mut runs: Vec<(bool, Vec<InputFile>)> = Vec::new();
    let mut lost = Vec::new();
    for f in files {
        let why = match pages::sha256_file(&f.path) {
            Ok(now) if now == f.sha256 => None,
            // Recorded as unreadable when scanned: rescan it so it is recorded so again.
            Ok(_) | Err(_) if f.sha256.starts_with("unreadable:") => None,
            Ok(now) => Some(format!(
                "has changed since it was scanned (SHA-256 now {}…, was {}…)",
                short(&now),
                short(&f.sha256)
            )),
            Err(_) if !Path::new(&f.path).exists() => Some("is gone".to_string()),
            Err(e) => Some(format!("cannot be read ({e})")),
        };
        let input = InputFile::from_path(&f.path);
        match (why, input) {
            (None, Some(input)) => {
                let ocr = f.ocr.unwrap_or(true);
                match runs.last_mut() {
                    Some((o, run)) if *o == ocr => run.push(input),
                    _ => runs.push((ocr, vec![input])),
                }
            }
            (why, _) => {
                let decided: BTreeSet<u32> = entries
                    .iter()
                    .filter(|e| e.file_sha256 == f.sha256)
                    .map(|e| e.page_index + 1)
                    .collect();
                lost.push(LostFile {
                    path: f.path.clone(),
                    sha256: f.sha256.clone(),
                    why: why.unwrap_or_else(|| "is no longer a supported scan file".into()),
                    pages: f.pages,
                    decided_pages: decided.iter().map(|n| format!("#{n}")).collect(),
                });
            }
        }
    }
    (runs, lost)
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(SHA_SHOWN)]
}
