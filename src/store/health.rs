//! Telling a damaged batch database from a healthy one, with SQLite's own checks.
//!
//! Every open runs `PRAGMA quick_check` (structure and records, without comparing indexes to
//! their tables: ≈ a read of the file), so a database cut short or overwritten in the middle
//! is refused with one clear message before any command prints anything. `pingyi rebuild`
//! runs the full `PRAGMA integrity_check`.

use rusqlite::{Connection, ErrorCode, OptionalExtension};
use std::path::Path;

/// `meta` key present while a rebuild is filling a new database (removed in the transaction
/// that replays the journal).
pub const REBUILD_KEY: &str = "rebuild";

/// Problems listed by a check: the first few say enough; a damaged file can list thousands.
const PROBLEMS_SHOWN: u32 = 3;

/// Whether a SQLite error means the file itself is damaged (not busy, not full).
#[must_use]
pub fn is_damage(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase)
    )
}

/// SQLite's description of an error, once ("database disk image is malformed").
#[must_use]
pub fn describe(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(msg)) if !msg.is_empty() => msg.clone(),
        rusqlite::Error::SqliteFailure(code, _) => code.to_string(),
        other => other.to_string(),
    }
}

/// Run SQLite's quick check (`full`: the integrity check). `Ok(None)` when healthy,
/// `Ok(Some(problems))` when not.
///
/// # Errors
/// The check itself could not run (then a damage error is damage too: see [`is_damage`]).
pub fn check(conn: &Connection, full: bool) -> rusqlite::Result<Option<String>> {
    let pragma = if full {
        "integrity_check"
    } else {
        "quick_check"
    };
    let mut st = conn.prepare(&format!("PRAGMA {pragma}({PROBLEMS_SHOWN})"))?;
    let rows: Vec<String> = st
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if rows.len() == 1 && rows[0] == "ok" {
        return Ok(None);
    }
    // One line for the clerk's sentence: SQLite prefixes "*** in database main ***" lines.
    let problems: Vec<&str> = rows
        .iter()
        .flat_map(|r| r.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("***"))
        .collect();
    Ok(Some(problems.join("; ")))
}

/// [`check`] without `full`.
///
/// # Errors
/// As [`check`].
pub fn quick_check(conn: &Connection) -> rusqlite::Result<Option<String>> {
    check(conn, false)
}

/// A `meta` value; None also when the database has no `meta` table (an empty file).
///
/// # Errors
/// SQLite failures.
pub fn meta_value(conn: &Connection, key: &str) -> rusqlite::Result<Option<String>> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta')",
        [],
        |r| r.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()
}

/// What a database file is, as `pingyi rebuild` needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbState {
    /// No file.
    Missing,
    /// Passes the integrity check and records a batch; `rebuilding` when a rebuild did not
    /// finish filling it.
    Healthy { rebuilding: bool },
    /// SQLite reports these problems.
    Damaged(String),
}

/// Inspect the database file at `db` with the full integrity check, read-only.
#[must_use]
pub fn inspect(db: &Path) -> DbState {
    if !db.is_file() {
        return DbState::Missing;
    }
    let result = (|| -> rusqlite::Result<DbState> {
        let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        if let Some(problems) = check(&conn, true)? {
            return Ok(DbState::Damaged(problems));
        }
        if meta_value(&conn, "campaign")?.is_none() {
            return Ok(DbState::Damaged(
                "it records no batch: empty or cut short".into(),
            ));
        }
        Ok(DbState::Healthy {
            rebuilding: meta_value(&conn, REBUILD_KEY)?.is_some(),
        })
    })();
    match result {
        Ok(state) => state,
        Err(e) => DbState::Damaged(describe(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy(dir: &Path) -> std::path::PathBuf {
        let db = dir.join("t.sqlite");
        let conn = Connection::open(&db).unwrap();
        conn.execute_batch(
            "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
             INSERT INTO meta VALUES ('campaign', '/c/campaign.toml');
             CREATE TABLE t(x TEXT);",
        )
        .unwrap();
        // Enough rows for the file to span many pages, so damage lands inside the table.
        conn.execute(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO t SELECT 'row ' || i || ' ' || hex(randomblob(100)) FROM n",
            [],
        )
        .unwrap();
        db
    }

    #[test]
    fn a_healthy_database_passes_and_a_cut_or_overwritten_one_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = healthy(dir.path());
        assert_eq!(inspect(&db), DbState::Healthy { rebuilding: false });
        let bytes = std::fs::read(&db).unwrap();

        std::fs::write(&db, &bytes[..bytes.len() / 2]).unwrap();
        assert!(
            matches!(inspect(&db), DbState::Damaged(_)),
            "{:?}",
            inspect(&db)
        );

        let mut overwritten = bytes.clone();
        let mid = overwritten.len() / 2;
        overwritten[mid..mid + 512].fill(0x5a);
        std::fs::write(&db, &overwritten).unwrap();
        assert!(
            matches!(inspect(&db), DbState::Damaged(_)),
            "{:?}",
            inspect(&db)
        );

        std::fs::write(&db, b"").unwrap();
        assert!(matches!(inspect(&db), DbState::Damaged(_)));
        std::fs::remove_file(&db).unwrap();
        assert_eq!(inspect(&db), DbState::Missing);
    }
}
