//! Writing to the batch: input files and pages. One transaction per page; pages are keyed by
//! (file SHA-256, 0-based index) and upserted, so re-reading a page never records it twice.

use super::{Store, StoreError};
use crate::read::outcome::{CellClass, Flag, FlagKind, PageReading, PageStatus, QuestionState};
use rusqlite::{params, OptionalExtension, Transaction};
use std::collections::HashSet;

/// What the store knows about an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileState {
    /// Never seen.
    New,
    /// Started; these page indexes are committed.
    Partial(HashSet<u32>),
    /// Every page committed.
    Done,
    /// The whole file could not be read; the reason.
    Failed(String),
}

/// One page to record.
#[derive(Debug, Clone, Copy)]
pub struct PageRecord<'a> {
    pub file_sha256: &'a str,
    /// 0-based page index in the file.
    pub index: u32,
    pub reading: &'a PageReading,
    /// The branch the serial was printed for (from the print records), if known.
    pub branch: Option<&'a str>,
    /// A crop (path relative to the batch folder) per entry of `reading.flags`, for review.
    pub flag_crops: &'a [Option<String>],
}

/// What recording a page found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub page_id: i64,
    /// The page already read with the same serial and page number ("file#page"), when this
    /// page is a duplicate (a `duplicate` flag was added).
    pub duplicate_of: Option<String>,
}

pub(super) fn status_str(s: PageStatus) -> &'static str {
    match s {
        PageStatus::Read => "read",
        PageStatus::Blank => "blank",
        PageStatus::Rejected => "rejected",
    }
}

pub(super) fn class_str(c: CellClass) -> &'static str {
    match c {
        CellClass::Empty => "empty",
        CellClass::Marginal => "marginal",
        CellClass::Marked => "marked",
    }
}

pub(super) fn state_str(s: QuestionState) -> &'static str {
    match s {
        QuestionState::Answer => "answer",
        QuestionState::Blank => "blank",
        QuestionState::Overvote => "overvote",
        QuestionState::Ambiguous => "ambiguous",
    }
}

impl Store {
    /// What is known about the file with this hash.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn file_state(&self, sha256: &str) -> Result<FileState, StoreError> {
        let row: Option<(String, Option<String>)> = self
            .conn
            .query_row(
                "SELECT status, reason FROM files WHERE sha256 = ?1",
                [sha256],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        Ok(match row {
            None => FileState::New,
            Some((s, _)) if s == "done" => FileState::Done,
            Some((s, reason)) if s == "failed" => FileState::Failed(reason.unwrap_or_default()),
            Some(_) => {
                let mut st = self
                    .conn
                    .prepare("SELECT idx FROM pages WHERE file_sha256 = ?1")
                    .map_err(|e| self.err(e))?;
                let idx = st
                    .query_map([sha256], |r| r.get::<_, u32>(0))
                    .and_then(|rows| rows.collect::<Result<HashSet<u32>, _>>())
                    .map_err(|e| self.err(e))?;
                FileState::Partial(idx)
            }
        })
    }

    /// Whether every page of the file with this hash is committed.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn file_done(&self, sha256: &str) -> Result<bool, StoreError> {
        Ok(self.file_state(sha256)? == FileState::Done)
    }

    /// Note that reading of a file (of `pages` pages) has begun. Keeps its committed pages.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn begin_file(&self, sha256: &str, path: &str, pages: u32) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO files(sha256, path, pages, status) VALUES (?1, ?2, ?3, 'reading')
                 ON CONFLICT(sha256) DO UPDATE SET path = ?2, pages = ?3, status = 'reading', reason = NULL,
                   updated = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
                params![sha256, path, pages],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Mark a file done: call only when all its pages are committed.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn finish_file(&self, sha256: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE files SET status = 'done', updated = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE sha256 = ?1",
                [sha256],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Record that a whole file could not be read (encrypted, corrupt…), with the reason.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn fail_file(&self, sha256: &str, path: &str, reason: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO files(sha256, path, status, reason) VALUES (?1, ?2, 'failed', ?3)
                 ON CONFLICT(sha256) DO UPDATE SET path = ?2, status = 'failed', reason = ?3,
                   updated = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
                params![sha256, path, reason],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Files that could not be read: (path, reason).
    ///
    /// # Errors
    /// SQLite failures.
    pub fn failed_files(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT path, COALESCE(reason, '') FROM files WHERE status = 'failed' ORDER BY path")
            .map_err(|e| self.err(e))?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    /// Record one page in one transaction (replacing an earlier reading of the same page).
    /// A read page whose serial and page number were already read from another image gets a
    /// `duplicate` flag: the first one read counts until a reviewer decides.
    ///
    /// # Errors
    /// SQLite failures (nothing of the page is kept then).
    pub fn record_page(&mut self, rec: PageRecord<'_>) -> Result<Recorded, StoreError> {
        let (dir, db) = (self.dir.clone(), self.db.clone());
        let err = |cause| super::sqlite_error(&dir, &db, cause);
        let tx = self.conn.transaction().map_err(err)?;
        let out = write_page(&tx, rec).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(out)
    }
}

fn write_page(tx: &Transaction<'_>, rec: PageRecord<'_>) -> rusqlite::Result<Recorded> {
    let r = rec.reading;
    let code = r.code.as_ref();
    let transform = r
        .transform
        .map(|t| serde_json::to_string(&t).unwrap_or_default());
    let page_id: i64 = tx.query_row(
        "INSERT INTO pages(file_sha256, idx, status, reason, form, layout_hash, page_no, serial, branch,
                           rotation, transform, residual_mm, dpi)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT(file_sha256, idx) DO UPDATE SET status = ?3, reason = ?4, form = ?5, layout_hash = ?6,
           page_no = ?7, serial = ?8, branch = ?9, rotation = ?10, transform = ?11, residual_mm = ?12, dpi = ?13,
           read_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
         RETURNING id",
        params![
            rec.file_sha256,
            rec.index,
            status_str(r.status),
            r.reason,
            code.map(|c| &c.form),
            code.map(|c| &c.layout_hash),
            code.map(|c| c.page),
            code.map(|c| &c.serial),
            rec.branch,
            r.rotation,
            transform,
            r.residual_mm,
            r.dpi,
        ],
        |row| row.get(0),
    )?;
    for table in ["cells", "questions", "names", "writing"] {
        tx.execute(
            &format!("DELETE FROM {table} WHERE page_id = ?1"),
            [page_id],
        )?;
    }
    {
        let mut st = tx.prepare_cached(
            "INSERT INTO cells(page_id, question, option, score, class, x, y, w, h) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for c in &r.cells {
            st.execute(params![
                page_id,
                c.question,
                c.option,
                c.score,
                class_str(c.class),
                c.px[0],
                c.px[1],
                c.px[2],
                c.px[3]
            ])?;
        }
        let mut st = tx.prepare_cached(
            "INSERT INTO questions(page_id, question, subject, item, state, option) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?;
        for q in &r.questions {
            st.execute(params![
                page_id,
                q.question,
                q.subject,
                q.item,
                state_str(q.state),
                q.option
            ])?;
        }
        let mut st = tx.prepare_cached(
            "INSERT INTO names(page_id, subject, printed, text, confidence, matched, ok, x, y, w, h)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for n in &r.names {
            st.execute(params![
                page_id,
                n.subject,
                n.printed,
                n.text,
                n.confidence,
                n.matched,
                n.ok,
                n.px[0],
                n.px[1],
                n.px[2],
                n.px[3]
            ])?;
        }
        let mut st = tx.prepare_cached(
            "INSERT INTO writing(page_id, area, ink, has_writing, text, confidence, crop, x, y, w, h)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?;
        for w in &r.writing {
            st.execute(params![
                page_id,
                w.id,
                w.ink,
                w.has_writing,
                w.text,
                w.confidence,
                w.crop,
                w.px[0],
                w.px[1],
                w.px[2],
                w.px[3]
            ])?;
        }
    }
    let mut flags: Vec<(Flag, Option<String>)> = r
        .flags
        .iter()
        .enumerate()
        .map(|(i, f)| (f.clone(), rec.flag_crops.get(i).cloned().flatten()))
        .collect();
    let duplicate_of = match code {
        Some(c) if r.status == PageStatus::Read => first_reading(tx, page_id, &c.serial, c.page)?,
        _ => None,
    };
    if let (Some(first), Some(c)) = (&duplicate_of, code) {
        flags.push((
            Flag {
                kind: FlagKind::Duplicate,
                target: Some(c.serial.clone()),
                detail: format!(
                    "序号 {} 第 {} 页此前已从 {first} 读入:可能是复印件或同一张扫了两次;\
                     决定之前只计最先读入的一份",
                    c.serial, c.page
                ),
                urgency: 0.0,
            },
            None,
        ));
    }
    replace_flags(tx, page_id, &flags)?;
    Ok(Recorded {
        page_id,
        duplicate_of,
    })
}

/// The earliest other page read with this serial and page number that is not itself a
/// duplicate, as "path#page".
fn first_reading(
    tx: &Transaction<'_>,
    page_id: i64,
    serial: &str,
    page_no: u32,
) -> rusqlite::Result<Option<String>> {
    tx.query_row(
        "SELECT f.path || '#' || (p.idx + 1) FROM pages p JOIN files f ON f.sha256 = p.file_sha256
         WHERE p.serial = ?1 AND p.page_no = ?2 AND p.status = 'read' AND p.id < ?3
           AND NOT EXISTS (SELECT 1 FROM flags g WHERE g.page_id = p.id AND g.kind = 'duplicate' AND g.active = 1)
         ORDER BY p.id LIMIT 1",
        params![serial, page_no, page_id],
        |r| r.get(0),
    )
    .optional()
}

/// Replace a page's flags, keeping the id (and so the decisions) of a flag raised again with
/// the same kind and target; flags no longer raised are dropped unless they carry decisions.
fn replace_flags(
    tx: &Transaction<'_>,
    page_id: i64,
    flags: &[(Flag, Option<String>)],
) -> rusqlite::Result<()> {
    tx.execute("UPDATE flags SET active = 0 WHERE page_id = ?1", [page_id])?;
    let mut find = tx.prepare_cached("SELECT id FROM flags WHERE page_id = ?1 AND kind = ?2 AND target = ?3 AND active = 0 LIMIT 1")?;
    let mut update = tx.prepare_cached(
        "UPDATE flags SET detail = ?2, urgency = ?3, crop = ?4, active = 1 WHERE id = ?1",
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO flags(page_id, kind, target, detail, urgency, crop) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    for (f, crop) in flags {
        let target = f.target.as_deref().unwrap_or("");
        let existing: Option<i64> = find
            .query_row(params![page_id, f.kind.as_str(), target], |r| r.get(0))
            .optional()?;
        match existing {
            Some(id) => update.execute(params![id, f.detail, f.urgency, crop])?,
            None => insert.execute(params![
                page_id,
                f.kind.as_str(),
                target,
                f.detail,
                f.urgency,
                crop
            ])?,
        };
    }
    tx.execute(
        "DELETE FROM flags WHERE page_id = ?1 AND active = 0 AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.flag_id = flags.id)",
        [page_id],
    )?;
    Ok(())
}
