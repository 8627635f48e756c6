//! The batch store: one SQLite database (`batch.sqlite`) per scan batch folder, holding every
//! input file (by SHA-256), every page the reader saw, every cell score, question outcome, name
//! and writing reading, every flag, and the reviewers' decisions as an append-only audit trail.
//!
//! The machine's readings are never overwritten by review: decisions live beside them and are
//! applied when [`Store::sheets`] builds what the tally counts. See `schema.rs` for the tables,
//! [`flags`] for the decision vocabulary the review UI speaks, and [`sheets`] for how decisions
//! change a sheet.
//!
//! Durability: WAL with `synchronous=NORMAL` (a committed page survives a killed process; an
//! OS crash may lose the last few commits, which a rerun redoes), one transaction per page, and
//! a file is marked `done` only after all its pages are committed, so a rerun after Ctrl-C or
//! kill -9 reads exactly the pages that are missing.
//!
//! Beside the database, two plain-text records make it replaceable: [`manifest`] (the campaign
//! and every input file, in scan order) and [`journal`] (every review decision, fsynced before
//! it is acknowledged). Every open runs SQLite's quick check ([`health`]): a damaged or missing
//! database is refused with [`StoreError::Damaged`] / [`StoreError::Missing`], whose message
//! names `pingyi rebuild` (`crate::rebuild`), which rescans the manifest's files and replays
//! the journal ([`replay`]).

pub mod flags;
pub mod health;
pub mod journal;
mod load;
pub mod manifest;
mod records;
pub mod replay;
mod schema;
pub mod sheets;
mod write;

pub use flags::{Decision, FlagView, PageRef};
pub use journal::{JournalEntry, JournalError, JournalWarning, JOURNAL_FILE};
pub use load::StoredPage;
pub use manifest::{Manifest, ManifestFile, MANIFEST_FILE};
pub use records::salvage_manifest;
pub use replay::{NotReplayed, Replayed, Unreplayed};
pub use schema::SCHEMA_VERSION;
pub use write::{FileState, PageRecord, Recorded};

use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database file inside a batch folder.
pub const DB_FILE: &str = "batch.sqlite";

/// How long a writer waits for another connection's lock (review UI and scan may overlap)
/// before giving up: long enough for any single page transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    // SQLite's text is shown here once; it is deliberately not also a `source`, or error
    // chains print it again ("…malformed: …malformed").
    #[error("batch database {}: {cause}", path.display())]
    Sqlite {
        path: PathBuf,
        cause: rusqlite::Error,
    },
    #[error("the batch database {} is damaged ({detail}): run `pingyi rebuild --batch {}` to rebuild it from the scanned files and the decisions journal", db.display(), dir.display())]
    Damaged {
        dir: PathBuf,
        db: PathBuf,
        detail: String,
    },
    #[error("the batch database {} is missing although {} shows a batch was scanned there: run `pingyi rebuild --batch {}` to rebuild it from the scanned files and the decisions journal", dir.join(DB_FILE).display(), dir.join(evidence).display(), dir.display())]
    Missing {
        dir: PathBuf,
        evidence: &'static str,
    },
    #[error("the rebuild of batch {} did not finish: run `pingyi rebuild --batch {}` again", dir.display(), dir.display())]
    RebuildUnfinished { dir: PathBuf },
    // As for SQLite: the OS error is in the message once, not also chained.
    #[error("{}: {cause}", path.display())]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// The manifest or the journal cannot be read or written.
    #[error("{0}")]
    Record(JournalError),
    #[error("cannot write the decisions journal {} ({cause}): the decision was not saved; free disk space or fix the folder's permissions, then decide again", path.display())]
    JournalWrite {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{dir} is not a scan batch (no {DB_FILE}); run `pingyi scan ... --batch {dir}` first", dir = .dir.display())]
    NotABatch { dir: PathBuf },
    #[error("batch {dir} belongs to campaign {recorded}, not {given}: use another --batch folder", dir = .dir.display())]
    CampaignMismatch {
        dir: PathBuf,
        recorded: String,
        given: String,
    },
    #[error("no flag #{0} in this batch")]
    NoSuchFlag(i64),
    #[error("flag #{flag_id}: someone else decided this flag meanwhile — reload (expected version {expected}, now {actual})")]
    Conflict {
        flag_id: i64,
        expected: u32,
        actual: u32,
    },
    #[error("flag #{flag_id} ({kind}): \"{value}\" is not a valid decision; allowed: {allowed}")]
    InvalidValue {
        flag_id: i64,
        kind: &'static str,
        value: String,
        allowed: String,
    },
    #[error("flag #{0} has no decision to undo")]
    NothingToUndo(i64),
    #[error("the reviewer's name must not be empty")]
    NoReviewer,
    #[error("batch database {} holds a value it cannot read: {what}", path.display())]
    Corrupt { path: PathBuf, what: String },
}

impl From<JournalError> for StoreError {
    fn from(e: JournalError) -> Self {
        Self::Record(e)
    }
}

/// Who opens a batch. Only a rebuild may open the database it is still building, or create
/// one where a manifest or journal shows an earlier database was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Normal,
    Rebuild,
}

/// An open batch.
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    db: PathBuf,
    /// The manifest and the journal were brought up to date with the database (once per
    /// connection, before the first decision; see `records.rs`).
    records_checked: bool,
    /// Manifest entries by SHA-256, loaded when a scan first notes an input file.
    manifest_known: Option<std::collections::HashMap<String, ManifestFile>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

/// A SQLite error of the batch database at `db` in `dir`: damage is told apart, because the
/// remedy is `pingyi rebuild`, not a retry.
pub(crate) fn sqlite_error(dir: &Path, db: &Path, cause: rusqlite::Error) -> StoreError {
    if health::is_damage(&cause) {
        StoreError::Damaged {
            dir: dir.to_path_buf(),
            db: db.to_path_buf(),
            detail: health::describe(&cause),
        }
    } else {
        StoreError::Sqlite {
            path: db.to_path_buf(),
            cause,
        }
    }
}

impl Store {
    /// Create the batch folder and database for a campaign, or open it if it exists (then the
    /// campaign must be the same one).
    ///
    /// # Errors
    /// I/O or SQLite failures; [`StoreError::CampaignMismatch`]; [`StoreError::Damaged`],
    /// [`StoreError::Missing`], [`StoreError::RebuildUnfinished`].
    pub fn create(dir: &Path, campaign_toml: &Path) -> Result<Self, StoreError> {
        Self::create_with(dir, campaign_toml, Access::Normal)
    }

    /// [`Store::create`], for a rebuild when `access` is [`Access::Rebuild`].
    ///
    /// # Errors
    /// As [`Store::create`].
    pub fn create_with(
        dir: &Path,
        campaign_toml: &Path,
        access: Access,
    ) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|cause| StoreError::Io {
            path: dir.to_path_buf(),
            cause,
        })?;
        let given = std::fs::canonicalize(campaign_toml).map_err(|cause| StoreError::Io {
            path: campaign_toml.to_path_buf(),
            cause,
        })?;
        let given = given.to_string_lossy().into_owned();
        let fresh = !dir.join(DB_FILE).is_file();
        if fresh && access == Access::Normal {
            if let Some(evidence) = records::evidence(dir) {
                return Err(StoreError::Missing {
                    dir: dir.to_path_buf(),
                    evidence,
                });
            }
        }
        let mut store = Self::connect(dir)?;
        if !fresh {
            store.verify(access, records::evidence(dir).is_some())?;
        }
        store
            .conn
            .execute_batch(schema::SCHEMA)
            .map_err(|e| store.err(e))?;
        match store.meta("campaign")? {
            Some(recorded) if recorded != given => {
                return Err(StoreError::CampaignMismatch {
                    dir: dir.to_path_buf(),
                    recorded,
                    given,
                });
            }
            Some(_) => {}
            None => {
                // A rebuild's database is marked in the same statement, so no crash can leave
                // a half-filled rebuild that looks like a finished batch.
                let rebuilding = (access == Access::Rebuild).then_some(health::REBUILD_KEY);
                store
                    .conn
                    .execute(
                        "INSERT INTO meta(key, value) SELECT 'campaign', ?1
                         UNION ALL SELECT 'schema', ?2
                         UNION ALL SELECT 'created', strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
                         UNION ALL SELECT ?3, 'scanning' WHERE ?3 IS NOT NULL",
                        rusqlite::params![given, schema::SCHEMA_VERSION.to_string(), rebuilding],
                    )
                    .map_err(|e| store.err(e))?;
            }
        }
        if access == Access::Normal {
            store.ensure_manifest()?;
        }
        Ok(store)
    }

    /// Open an existing batch.
    ///
    /// # Errors
    /// [`StoreError::NotABatch`] when the folder has no database; [`StoreError::Damaged`] when
    /// SQLite's quick check fails; [`StoreError::Missing`] when the database is gone but the
    /// manifest or journal remain; [`StoreError::RebuildUnfinished`]; SQLite failures.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(dir, Access::Normal)
    }

    /// [`Store::open`], for a rebuild when `access` is [`Access::Rebuild`].
    ///
    /// # Errors
    /// As [`Store::open`].
    pub fn open_with(dir: &Path, access: Access) -> Result<Self, StoreError> {
        if !dir.join(DB_FILE).is_file() {
            return Err(match records::evidence(dir) {
                Some(evidence) => StoreError::Missing {
                    dir: dir.to_path_buf(),
                    evidence,
                },
                None => StoreError::NotABatch {
                    dir: dir.to_path_buf(),
                },
            });
        }
        let store = Self::connect(dir)?;
        store.verify(access, true)?;
        // Adds tables a newer pingyi introduced; never drops anything.
        store
            .conn
            .execute_batch(schema::SCHEMA)
            .map_err(|e| store.err(e))?;
        Ok(store)
    }

    /// Refuse a damaged database (SQLite's quick check), one that holds no batch when
    /// `need_campaign`, and one whose rebuild did not finish (unless rebuilding).
    fn verify(&self, access: Access, need_campaign: bool) -> Result<(), StoreError> {
        let damaged = |detail: String| StoreError::Damaged {
            dir: self.dir.clone(),
            db: self.db.clone(),
            detail,
        };
        if let Some(problem) = health::quick_check(&self.conn).map_err(|e| self.err(e))? {
            return Err(damaged(problem));
        }
        let campaign = health::meta_value(&self.conn, "campaign").map_err(|e| self.err(e))?;
        if need_campaign && campaign.is_none() {
            return Err(damaged("it records no batch: empty or cut short".into()));
        }
        if access == Access::Normal
            && health::meta_value(&self.conn, health::REBUILD_KEY)
                .map_err(|e| self.err(e))?
                .is_some()
        {
            return Err(StoreError::RebuildUnfinished {
                dir: self.dir.clone(),
            });
        }
        Ok(())
    }

    fn connect(dir: &Path) -> Result<Self, StoreError> {
        let db = dir.join(DB_FILE);
        let conn = Connection::open(&db).map_err(|e| sqlite_error(dir, &db, e))?;
        let store = Self {
            conn,
            dir: dir.to_path_buf(),
            db,
            records_checked: false,
            manifest_known: None,
        };
        store
            .conn
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| store.err(e))?;
        store
            .conn
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
            )
            .map_err(|e| store.err(e))?;
        Ok(store)
    }

    fn err(&self, cause: rusqlite::Error) -> StoreError {
        sqlite_error(&self.dir, &self.db, cause)
    }

    fn corrupt(&self, what: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.db.clone(),
            what: what.into(),
        }
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        health::meta_value(&self.conn, key).map_err(|e| self.err(e))
    }

    /// The batch folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The campaign's `campaign.toml` this batch was scanned for (absolute).
    ///
    /// # Errors
    /// SQLite failures; [`StoreError::Corrupt`] when the meta row is missing.
    pub fn campaign_path(&self) -> Result<PathBuf, StoreError> {
        self.meta("campaign")?
            .map(PathBuf::from)
            .ok_or_else(|| self.corrupt("meta.campaign is missing"))
    }

    /// When the batch was created (RFC 3339 UTC).
    ///
    /// # Errors
    /// SQLite failures.
    pub fn created(&self) -> Result<Option<String>, StoreError> {
        self.meta("created")
    }
}

#[cfg(test)]
mod tests;
