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

pub mod flags;
pub mod journal;
mod load;
pub mod manifest;
mod schema;
pub mod sheets;
mod write;

pub use flags::{Decision, FlagView, PageRef};
pub use journal::{JournalEntry, JournalError, JournalWarning, JOURNAL_FILE};
pub use load::StoredPage;
pub use manifest::{Manifest, ManifestFile, MANIFEST_FILE};
pub use schema::SCHEMA_VERSION;
pub use write::{FileState, PageRecord, Recorded};

use rusqlite::{Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The database file inside a batch folder.
pub const DB_FILE: &str = "batch.sqlite";

/// How long a writer waits for another connection's lock (review UI and scan may overlap)
/// before giving up: long enough for any single page transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("batch database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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
    #[error("batch database {path} holds a value it cannot read: {what}")]
    Corrupt { path: PathBuf, what: String },
}

/// An open batch.
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    db: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("dir", &self.dir).finish()
    }
}

impl Store {
    /// Create the batch folder and database for a campaign, or open it if it exists (then the
    /// campaign must be the same one).
    ///
    /// # Errors
    /// I/O or SQLite failures; [`StoreError::CampaignMismatch`].
    pub fn create(dir: &Path, campaign_toml: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let given = std::fs::canonicalize(campaign_toml).map_err(|source| StoreError::Io {
            path: campaign_toml.to_path_buf(),
            source,
        })?;
        let given = given.to_string_lossy().into_owned();
        let store = Self::connect(dir)?;
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
                store
                    .conn
                    .execute(
                        "INSERT INTO meta(key, value) VALUES ('campaign', ?1), ('schema', ?2),
                         ('created', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))",
                        rusqlite::params![given, schema::SCHEMA_VERSION.to_string()],
                    )
                    .map_err(|e| store.err(e))?;
            }
        }
        Ok(store)
    }

    /// Open an existing batch.
    ///
    /// # Errors
    /// [`StoreError::NotABatch`] when the folder has no database; SQLite failures.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        if !dir.join(DB_FILE).is_file() {
            return Err(StoreError::NotABatch {
                dir: dir.to_path_buf(),
            });
        }
        let store = Self::connect(dir)?;
        // Adds tables a newer pingyi introduced; never drops anything.
        store
            .conn
            .execute_batch(schema::SCHEMA)
            .map_err(|e| store.err(e))?;
        Ok(store)
    }

    fn connect(dir: &Path) -> Result<Self, StoreError> {
        let db = dir.join(DB_FILE);
        let conn = Connection::open(&db).map_err(|source| StoreError::Sqlite {
            path: db.clone(),
            source,
        })?;
        let store = Self {
            conn,
            dir: dir.to_path_buf(),
            db,
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

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.db.clone(),
            source,
        }
    }

    fn corrupt(&self, what: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            path: self.db.clone(),
            what: what.into(),
        }
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| self.err(e))
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
