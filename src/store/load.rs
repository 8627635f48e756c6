//! Reading pages back out of the batch, as the reader recorded them (export, annotate, review).

use super::flags::{self, Decision};
use super::{Store, StoreError};
use crate::code::PageCode;
use crate::read::outcome::{
    CellClass, CellReading, Flag, FlagKind, NameReading, PageReading, PageStatus, QuestionReading,
    QuestionState, WritingReading,
};
use rusqlite::{params, Row};

/// A recorded page with where it came from and its flags' review state.
#[derive(Debug, Clone)]
pub struct StoredPage {
    pub id: i64,
    /// The input file's path as given to `scan`.
    pub file: String,
    pub sha256: String,
    /// 0-based page index in the file.
    pub index: u32,
    pub branch: Option<String>,
    pub read_at: String,
    /// The machine's reading (flags include the store's own, e.g. `duplicate`).
    pub reading: PageReading,
    /// Per entry of `reading.flags`: the flag id, its crop, and its decisions oldest first.
    pub flag_info: Vec<StoredFlag>,
}

#[derive(Debug, Clone)]
pub struct StoredFlag {
    pub id: i64,
    pub crop: Option<String>,
    pub decisions: Vec<Decision>,
}

impl StoredFlag {
    /// The decision in force (the latest one), unless it sent the flag back to open.
    #[must_use]
    pub fn current(&self) -> Option<&Decision> {
        self.decisions.last().filter(|d| !d.new_value.is_empty())
    }
}

pub(super) fn parse_status(s: &str) -> Option<PageStatus> {
    match s {
        "read" => Some(PageStatus::Read),
        "blank" => Some(PageStatus::Blank),
        "rejected" => Some(PageStatus::Rejected),
        _ => None,
    }
}

pub(super) fn parse_class(s: &str) -> Option<CellClass> {
    match s {
        "empty" => Some(CellClass::Empty),
        "marginal" => Some(CellClass::Marginal),
        "marked" => Some(CellClass::Marked),
        _ => None,
    }
}

pub(super) fn parse_state(s: &str) -> Option<QuestionState> {
    match s {
        "answer" => Some(QuestionState::Answer),
        "blank" => Some(QuestionState::Blank),
        "overvote" => Some(QuestionState::Overvote),
        "ambiguous" => Some(QuestionState::Ambiguous),
        _ => None,
    }
}

fn px(r: &Row<'_>, first: usize) -> rusqlite::Result<[u32; 4]> {
    Ok([
        r.get(first)?,
        r.get(first + 1)?,
        r.get(first + 2)?,
        r.get(first + 3)?,
    ])
}

impl Store {
    /// Ids of every recorded page, by input file path and page index.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn page_ids(&self) -> Result<Vec<i64>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT p.id FROM pages p JOIN files f ON f.sha256 = p.file_sha256 ORDER BY f.path, p.idx").map_err(|e| self.err(e))?;
        st.query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    /// Id of the page recorded for (file hash, 0-based index).
    ///
    /// # Errors
    /// SQLite failures.
    pub fn page_id(&self, sha256: &str, index: u32) -> Result<Option<i64>, StoreError> {
        use rusqlite::OptionalExtension;
        self.conn
            .query_row(
                "SELECT id FROM pages WHERE file_sha256 = ?1 AND idx = ?2",
                params![sha256, index],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// One recorded page with everything read on it.
    ///
    /// # Errors
    /// SQLite failures; [`StoreError::Corrupt`] for values the reader never writes.
    pub fn load_page(&self, page_id: i64) -> Result<StoredPage, StoreError> {
        type Head = (
            String,
            String,
            u32,
            Option<String>,
            String,
            String,
            Option<String>,
        );
        type Geo = (
            Option<String>,
            Option<String>,
            Option<u32>,
            Option<String>,
            u32,
            Option<String>,
            Option<f64>,
            Option<f32>,
        );
        let (head, geo): (Head, Geo) = self
            .conn
            .query_row(
                "SELECT f.path, p.file_sha256, p.idx, p.branch, p.read_at, p.status, p.reason,
                        p.form, p.layout_hash, p.page_no, p.serial, p.rotation, p.transform, p.residual_mm, p.dpi
                 FROM pages p JOIN files f ON f.sha256 = p.file_sha256 WHERE p.id = ?1",
                [page_id],
                |r| {
                    Ok((
                        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?),
                        (r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?, r.get(12)?, r.get(13)?, r.get(14)?),
                    ))
                },
            )
            .map_err(|e| self.err(e))?;
        let (file, sha256, index, branch, read_at, status, reason) = head;
        let (form, layout_hash, page_no, serial, rotation, transform, residual_mm, dpi) = geo;
        let status = parse_status(&status)
            .ok_or_else(|| self.corrupt(format!("page status \"{status}\"")))?;
        let code = match (form, layout_hash, page_no, serial) {
            (Some(form), Some(layout_hash), Some(page), Some(serial)) => Some(PageCode {
                form,
                layout_hash,
                page,
                serial,
            }),
            _ => None,
        };
        let transform = match transform {
            Some(t) => Some(
                serde_json::from_str::<[f64; 9]>(&t)
                    .map_err(|e| self.corrupt(format!("transform: {e}")))?,
            ),
            None => None,
        };
        let mut reading = PageReading {
            status,
            reason,
            code,
            rotation,
            transform,
            residual_mm,
            dpi,
            ..PageReading::blank()
        };
        reading.cells = self.page_rows(
            "SELECT question, option, score, class, x, y, w, h FROM cells WHERE page_id = ?1 ORDER BY rowid",
            page_id,
            |r| {
                let class: String = r.get(3)?;
                Ok(CellReading {
                    question: r.get(0)?,
                    option: r.get(1)?,
                    score: r.get(2)?,
                    class: parse_class(&class).unwrap_or(CellClass::Marginal),
                    px: px(r, 4)?,
                })
            },
        )?;
        reading.questions = self.page_rows(
            "SELECT question, subject, item, state, option FROM questions WHERE page_id = ?1 ORDER BY rowid",
            page_id,
            |r| {
                let state: String = r.get(3)?;
                Ok(QuestionReading {
                    question: r.get(0)?,
                    subject: r.get(1)?,
                    item: r.get(2)?,
                    // An unknown state can only come from a newer pingyi: treat it as "look at it".
                    state: parse_state(&state).unwrap_or(QuestionState::Ambiguous),
                    option: r.get(4)?,
                })
            },
        )?;
        reading.names = self.page_rows(
            "SELECT subject, printed, text, confidence, matched, ok, x, y, w, h FROM names WHERE page_id = ?1 ORDER BY rowid",
            page_id,
            |r| {
                Ok(NameReading {
                    subject: r.get(0)?,
                    printed: r.get(1)?,
                    text: r.get(2)?,
                    confidence: r.get(3)?,
                    matched: r.get(4)?,
                    ok: r.get(5)?,
                    px: px(r, 6)?,
                })
            },
        )?;
        reading.writing = self.page_rows(
            "SELECT area, ink, has_writing, text, confidence, crop, x, y, w, h FROM writing WHERE page_id = ?1 ORDER BY rowid",
            page_id,
            |r| {
                Ok(WritingReading {
                    id: r.get(0)?,
                    ink: r.get(1)?,
                    has_writing: r.get(2)?,
                    text: r.get(3)?,
                    confidence: r.get(4)?,
                    crop: r.get(5)?,
                    px: px(r, 6)?,
                })
            },
        )?;
        let rows: Vec<(i64, String, String, String, f32, Option<String>)> = self.page_rows(
            "SELECT id, kind, target, detail, urgency, crop FROM flags WHERE page_id = ?1 AND active = 1 ORDER BY id",
            page_id,
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)),
        )?;
        let mut flag_info = Vec::with_capacity(rows.len());
        for (id, kind, target, detail, urgency, crop) in rows {
            let kind = FlagKind::parse(&kind)
                .ok_or_else(|| self.corrupt(format!("flag kind \"{kind}\"")))?;
            let target = (!target.is_empty()).then_some(target);
            reading.flags.push(Flag {
                kind,
                target,
                detail,
                urgency,
            });
            flag_info.push(StoredFlag {
                id,
                crop,
                decisions: flags::decisions(&self.conn, id).map_err(|e| self.err(e))?,
            });
        }
        Ok(StoredPage {
            id: page_id,
            file,
            sha256,
            index,
            branch,
            read_at,
            reading,
            flag_info,
        })
    }

    fn page_rows<T>(
        &self,
        sql: &str,
        page_id: i64,
        f: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, StoreError> {
        let mut st = self.conn.prepare_cached(sql).map_err(|e| self.err(e))?;
        st.query_map([page_id], f)
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }
}
