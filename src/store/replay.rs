//! Replaying the decisions journal onto a rebuilt database (`pingyi rebuild`).
//!
//! Each journal line names its flag by file SHA-256, page index, kind and target; the line is
//! appended as a decision row of that flag with its original reviewer, time, machine value,
//! value and note — and not journaled again, so rebuilding never grows the journal. A line
//! whose page is in the batch but whose flag is no longer raised (the reader improved) is kept
//! in the audit trail on an inactive flag, as a rescan keeps it, and reported; a line whose
//! page is not in the batch (its file changed or disappeared) is reported. The whole replay
//! is one transaction, which also marks the rebuild finished.

use super::health::REBUILD_KEY;
use super::journal::JournalEntry;
use super::{sqlite_error, Store, StoreError};
use crate::read::outcome::FlagKind;
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use std::collections::HashMap;

/// Detail of a flag re-created only to carry decisions (never shown in the review queue).
const NOT_RAISED: &str = "重建批次时读取器不再标记这一项,保留它是为了它的复核记录 \
                          (no longer raised when the batch was rebuilt; kept for its decisions)";

/// Why a flag's decisions did not land on a raised flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotReplayed {
    /// The page was read again but no longer raises this flag; the decisions are kept in the
    /// audit trail of an inactive flag and count for nothing.
    NoLongerRaised,
    /// The page is not in the rebuilt batch (its file changed or disappeared).
    PageMissing,
    /// A flag kind this pingyi does not know (a journal from a newer version).
    UnknownKind,
}

/// One flag whose journaled decisions did not land on a raised flag.
#[derive(Debug, Clone)]
pub struct Unreplayed {
    /// The latest journal line about the flag.
    pub entry: JournalEntry,
    /// Journal lines about it.
    pub decisions: usize,
    pub why: NotReplayed,
}

/// What replaying the journal did.
#[derive(Debug, Clone, Default)]
pub struct Replayed {
    /// Decisions appended to raised flags.
    pub applied: usize,
    /// Flags whose decisions did not land on a raised flag, in journal order.
    pub unreplayed: Vec<Unreplayed>,
}

type FlagKey = (String, u32, String, Option<String>);

impl Store {
    /// Replay journal entries (in journal order) onto this database and mark its rebuild
    /// finished, in one transaction. Nothing is written to the journal.
    ///
    /// # Errors
    /// SQLite failures (nothing is replayed then).
    pub fn replay_journal(&mut self, entries: &[JournalEntry]) -> Result<Replayed, StoreError> {
        let (dir, db) = (self.dir.clone(), self.db.clone());
        let err = |cause| sqlite_error(&dir, &db, cause);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let mut out = Replayed::default();
        let mut reported: HashMap<FlagKey, usize> = HashMap::new();
        for e in entries {
            let landed = replay_one(&tx, e).map_err(err)?;
            let why = match landed {
                Ok(()) => {
                    out.applied += 1;
                    continue;
                }
                Err(why) => why,
            };
            let k = (
                e.file_sha256.clone(),
                e.page_index,
                e.kind.clone(),
                e.target.clone(),
            );
            match reported.get(&k) {
                Some(&i) => {
                    let u = &mut out.unreplayed[i];
                    u.entry = e.clone();
                    u.decisions += 1;
                }
                None => {
                    reported.insert(k, out.unreplayed.len());
                    out.unreplayed.push(Unreplayed {
                        entry: e.clone(),
                        decisions: 1,
                        why,
                    });
                }
            }
        }
        tx.execute("DELETE FROM meta WHERE key = ?1", [REBUILD_KEY])
            .map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(out)
    }

    /// Record that this database is a rebuild, with the batch's original creation time.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn set_rebuilt_meta(&self, created: Option<&str>) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO meta(key, value) VALUES ('rebuilt', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [],
            )
            .map_err(|e| self.err(e))?;
        if let Some(created) = created {
            self.conn
                .execute(
                    "UPDATE meta SET value = ?1 WHERE key = 'created'",
                    [created],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(())
    }
}

/// Append one journaled decision; `Ok(Err(why))` when it did not land on a raised flag.
fn replay_one(tx: &Transaction<'_>, e: &JournalEntry) -> rusqlite::Result<Result<(), NotReplayed>> {
    let page_id: Option<i64> = tx
        .query_row(
            "SELECT id FROM pages WHERE file_sha256 = ?1 AND idx = ?2",
            params![e.file_sha256, e.page_index],
            |r| r.get(0),
        )
        .optional()?;
    let Some(page_id) = page_id else {
        return Ok(Err(NotReplayed::PageMissing));
    };
    if FlagKind::parse(&e.kind).is_none() {
        return Ok(Err(NotReplayed::UnknownKind));
    }
    let target = e.target.as_deref().unwrap_or("");
    let found: Option<(i64, bool)> = tx
        .query_row(
            "SELECT id, active FROM flags WHERE page_id = ?1 AND kind = ?2 AND target = ?3
             ORDER BY active DESC, id LIMIT 1",
            params![page_id, e.kind, target],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let (flag_id, active) = match found {
        Some(f) => f,
        None => {
            let id = tx.query_row(
                "INSERT INTO flags(page_id, kind, target, detail, urgency, active)
                 VALUES (?1, ?2, ?3, ?4, 0, 0) RETURNING id",
                params![page_id, e.kind, target, NOT_RAISED],
                |r| r.get(0),
            )?;
            (id, false)
        }
    };
    tx.execute(
        "INSERT INTO decisions(flag_id, reviewer, at, machine_value, new_value, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            flag_id,
            e.reviewer,
            e.at,
            e.machine_value,
            e.new_value,
            e.note
        ],
    )?;
    Ok(if active {
        Ok(())
    } else {
        Err(NotReplayed::NoLongerRaised)
    })
}
