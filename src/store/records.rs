//! Keeping the two plain-text records beside the database complete: the manifest (what the
//! batch was scanned from, see `manifest.rs`) and the decisions journal (`journal.rs`).
//!
//! A batch made by an older pingyi has neither: the first scan or decision of this version
//! writes them from the database, so from then on it can be rebuilt too. A journal that lacks
//! decisions the database has (they were made by an older pingyi after the journal began) is
//! completed the same way, before the next decision is appended.

use super::flags::{Decision, FlagView};
use super::journal::{self, JournalEntry, JOURNAL_FILE, JOURNAL_VERSION};
use super::manifest::{self, Manifest, ManifestFile, MANIFEST_FILE};
use super::{sqlite_error, Store, StoreError};
use rusqlite::{Connection, TransactionBehavior};
use std::collections::HashMap;
use std::path::Path;

/// Which record beside the database shows that a batch was scanned in `dir`.
pub(super) fn evidence(dir: &Path) -> Option<&'static str> {
    [MANIFEST_FILE, JOURNAL_FILE]
        .into_iter()
        .find(|f| dir.join(f).is_file())
}

/// The journal line for a decision just made on a flag.
pub(super) fn entry(view: &FlagView, d: &Decision) -> JournalEntry {
    JournalEntry {
        v: JOURNAL_VERSION,
        file_sha256: view.page.sha256.clone(),
        page_index: view.page.index,
        kind: view.kind.as_str().to_string(),
        target: view.target.clone(),
        flag_id: view.id,
        file: view.page.file.clone(),
        serial: view.page.serial.clone(),
        sheet_page: view.page.page,
        reviewer: d.reviewer.clone(),
        at: d.at.clone(),
        machine_value: d.machine_value.clone(),
        new_value: d.new_value.clone(),
        note: d.note.clone(),
    }
}

/// What makes two journal lines the same decision.
type Key = (
    String,
    u32,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
);

fn key(e: &JournalEntry) -> Key {
    (
        e.file_sha256.clone(),
        e.page_index,
        e.kind.clone(),
        e.target.clone(),
        e.at.clone(),
        e.reviewer.clone(),
        e.new_value.clone(),
        e.note.clone(),
    )
}

/// Every decision in the database as journal entries, oldest first.
fn db_entries(conn: &Connection) -> rusqlite::Result<Vec<JournalEntry>> {
    let mut st = conn.prepare(
        "SELECT p.file_sha256, p.idx, g.kind, g.target, g.id, f.path, p.serial, p.page_no,
                d.reviewer, d.at, d.machine_value, d.new_value, d.note
         FROM decisions d JOIN flags g ON g.id = d.flag_id JOIN pages p ON p.id = g.page_id
              JOIN files f ON f.sha256 = p.file_sha256
         ORDER BY d.id",
    )?;
    let rows = st.query_map([], |r| {
        let target: String = r.get(3)?;
        Ok(JournalEntry {
            v: JOURNAL_VERSION,
            file_sha256: r.get(0)?,
            page_index: r.get(1)?,
            kind: r.get(2)?,
            target: (!target.is_empty()).then_some(target),
            flag_id: r.get(4)?,
            file: r.get(5)?,
            serial: r.get(6)?,
            sheet_page: r.get(7)?,
            reviewer: r.get(8)?,
            at: r.get(9)?,
            machine_value: r.get(10)?,
            new_value: r.get(11)?,
            note: r.get(12)?,
        })
    })?;
    rows.collect()
}

/// Append to the journal the database's decisions it lacks (all of them for a batch made by
/// an older pingyi). Call with the database's write lock held, so no decision is appended
/// meanwhile. Returns how many lines were added.
pub(super) fn catch_up_journal(
    conn: &Connection,
    dir: &Path,
    db: &Path,
) -> Result<usize, StoreError> {
    let path = dir.join(JOURNAL_FILE);
    let in_db: usize = conn
        .query_row("SELECT count(*) FROM decisions", [], |r| r.get(0))
        .map_err(|e| sqlite_error(dir, db, e))?;
    // Every decision is one line, so as many lines as decisions means nothing is missing
    // (the journal may hold more: lines of decisions a rebuild could not replay).
    if journal::count_lines(&path)? >= in_db {
        return Ok(0);
    }
    let mut have: HashMap<Key, usize> = HashMap::new();
    for (_, e) in journal::read(&path)?.entries {
        *have.entry(key(&e)).or_default() += 1;
    }
    let mut missing = Vec::new();
    for e in db_entries(conn).map_err(|e| sqlite_error(dir, db, e))? {
        match have.get_mut(&key(&e)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => missing.push(e),
        }
    }
    journal::append(&path, &missing)?;
    Ok(missing.len())
}

/// The input files the database knows, in the order they were first recorded. `ocr` is
/// whether any name or writing on the file's pages was OCR'd: rescanning with that setting
/// raises the same flags.
fn db_files(conn: &Connection) -> rusqlite::Result<Vec<ManifestFile>> {
    let mut st = conn.prepare(
        "SELECT f.sha256, f.path, f.pages,
                EXISTS (SELECT 1 FROM pages p JOIN names n ON n.page_id = p.id
                        WHERE p.file_sha256 = f.sha256)
             OR EXISTS (SELECT 1 FROM pages p JOIN writing w ON w.page_id = p.id
                        WHERE p.file_sha256 = f.sha256 AND w.text IS NOT NULL)
         FROM files f ORDER BY f.rowid",
    )?;
    let rows = st.query_map([], |r| {
        Ok(ManifestFile {
            sha256: r.get(0)?,
            path: r.get(1)?,
            pages: r.get(2)?,
            ocr: Some(r.get(3)?),
        })
    })?;
    rows.collect()
}

/// The manifest a damaged database can still give (its campaign and file list), for a batch
/// made before manifests existed. None when even that cannot be read.
#[must_use]
pub fn salvage_manifest(db: &Path) -> Option<Manifest> {
    let conn = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let campaign = super::health::meta_value(&conn, "campaign").ok()??;
    let created = super::health::meta_value(&conn, "created").ok().flatten();
    let files = db_files(&conn).ok()?;
    Some(Manifest {
        campaign,
        created,
        files,
        warnings: Vec::new(),
    })
}

impl Store {
    /// Write the manifest if there is none (from the database), and list in it any file the
    /// database has that it lacks.
    pub(super) fn ensure_manifest(&mut self) -> Result<(), StoreError> {
        let path = self.dir.join(MANIFEST_FILE);
        let listed = manifest::read(&path)?;
        let in_db = db_files(&self.conn).map_err(|e| self.err(e))?;
        match &listed {
            None => {
                let campaign = self.campaign_path()?.to_string_lossy().into_owned();
                let created = self.created()?;
                manifest::create(&path, &campaign, created.as_deref(), &in_db)?;
            }
            Some(m) => {
                let missing: Vec<ManifestFile> = in_db
                    .iter()
                    .filter(|f| m.file(&f.sha256).is_none())
                    .cloned()
                    .collect();
                manifest::append(&path, &missing, true)?;
            }
        }
        let known = match listed {
            Some(m) => m.files.into_iter().chain(in_db).collect::<Vec<_>>(),
            None => in_db,
        };
        let mut map = HashMap::new();
        for f in known {
            map.entry(f.sha256.clone()).or_insert(f);
        }
        self.manifest_known = Some(map);
        Ok(())
    }

    /// Bring the manifest and the journal up to date with the database (a batch made by an
    /// older pingyi gets both). Returns the journal lines added.
    ///
    /// # Errors
    /// SQLite failures; the records cannot be written.
    pub fn ensure_records(&mut self) -> Result<usize, StoreError> {
        self.ensure_manifest()?;
        let (dir, db) = (self.dir.clone(), self.db.clone());
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sqlite_error(&dir, &db, e))?;
        let added = catch_up_journal(&tx, &dir, &db)?;
        tx.commit().map_err(|e| sqlite_error(&dir, &db, e))?;
        self.records_checked = true;
        Ok(added)
    }

    /// List an input file in the manifest (scan calls this as it starts reading a file). The
    /// line is written at once but only synced by [`Store::sync_manifest`]: after an OS crash
    /// a missing line is restored from the database by the next scan.
    ///
    /// # Errors
    /// The manifest cannot be read or written.
    pub fn note_input(&mut self, file: ManifestFile) -> Result<(), StoreError> {
        let path = self.dir.join(MANIFEST_FILE);
        if self.manifest_known.is_none() {
            let files = manifest::read(&path)?.map(|m| m.files).unwrap_or_default();
            self.manifest_known = Some(files.into_iter().map(|f| (f.sha256.clone(), f)).collect());
        }
        let known = self.manifest_known.get_or_insert_with(HashMap::new);
        if known.get(&file.sha256) == Some(&file) {
            return Ok(());
        }
        manifest::append(&path, std::slice::from_ref(&file), false)?;
        known.insert(file.sha256.clone(), file);
        Ok(())
    }

    /// Flush the manifest to disk (end of a scan run).
    ///
    /// # Errors
    /// The manifest cannot be synced.
    pub fn sync_manifest(&self) -> Result<(), StoreError> {
        manifest::sync(&self.dir.join(MANIFEST_FILE))?;
        Ok(())
    }
}
