//! Flags and review decisions: what the review UI reads and writes.
//!
//! # Decision values (the review UI codes against these strings)
//!
//! | flag kind            | `new_value`                                                   |
//! |----------------------|---------------------------------------------------------------|
//! | `marginal`, `overvote` | an option id of the question (that option counts) or `blank` (nothing counts) |
//! | `name_check`         | `ok` (credit the printed person), a roster subject id (credit that person: the row's answers move to `<id>.<item>`), or `reject` (the row is not counted) |
//! | `integrity_feedback` | `none` (no integrity problem) or `problem:<subject id>` (a confirmed problem about that post/candidate → `Sheet.integrity`, with the decision's note) |
//! | `duplicate`          | `keep` (this image counts too, as its own sheet) or `discard` (it does not count) |
//! | `unknown_serial`     | `count` (count the sheet) or `discard` (the whole sheet is not counted) |
//! | `rejected`           | `discard` (acknowledge that the unreadable page is not counted) |
//! | `comment`            | `seen` (not blocking; for the record only)                     |
//!
//! The empty string means "open again" and is only written by [`Store::undo`].
//!
//! Every decision is a new row (`decisions` table): the latest row per flag wins, nothing is
//! ever updated or deleted, and the machine's reading is never changed. Each row is also a
//! line of the decisions journal (`journal.rs`), written and fsynced inside the row's
//! transaction: a decision the journal cannot take is refused. `version` is the
//! number of decision rows on a flag; [`Store::decide`] and [`Store::undo`] take the version
//! the reviewer saw and fail with [`StoreError::Conflict`] if someone decided meanwhile.

use super::load::StoredPage;
use super::{journal, records, Store, StoreError};
use crate::read::outcome::{
    CellReading, FlagKind, NameReading, PageStatus, QuestionReading, QuestionState, WritingReading,
};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde::Serialize;

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub id: i64,
    pub flag_id: i64,
    pub reviewer: String,
    /// RFC 3339 UTC, milliseconds.
    pub at: String,
    /// What the machine concluded, in the same vocabulary ("" when it concluded nothing).
    pub machine_value: String,
    /// The decision; "" = back to open (an undo).
    pub new_value: String,
    pub note: String,
}

/// Where a flagged page came from and what it is.
#[derive(Debug, Clone, Serialize)]
pub struct PageRef {
    pub page_id: i64,
    /// The input file as given to `scan`.
    pub file: String,
    pub sha256: String,
    /// 0-based page index in the file ("file#N" shows N = index + 1).
    pub index: u32,
    pub status: PageStatus,
    pub serial: Option<String>,
    pub form: Option<String>,
    pub layout_hash: Option<String>,
    /// Page number within the sheet (1-based), from the code.
    pub page: Option<u32>,
}

/// A flag with everything a reviewer needs to decide it.
#[derive(Debug, Clone, Serialize)]
pub struct FlagView {
    pub id: i64,
    pub kind: FlagKind,
    pub target: Option<String>,
    pub detail: String,
    pub urgency: f32,
    /// Must be decided before the count is final.
    pub blocking: bool,
    /// Crop image for review, relative to the batch folder.
    pub crop: Option<String>,
    pub page: PageRef,
    /// The flagged question (marginal/overvote).
    pub question: Option<QuestionReading>,
    /// The question's cells with scores and pixel boxes (marginal/overvote), or the row's
    /// cells (name_check).
    pub cells: Vec<CellReading>,
    /// The name cell (name_check).
    pub name: Option<NameReading>,
    /// The writing area (integrity_feedback, comment).
    pub writing: Option<WritingReading>,
    /// The machine's own conclusion in decision vocabulary, "" when it had none.
    pub machine_value: String,
    /// The values `decide` accepts (name_check also takes any roster subject id).
    pub choices: Vec<String>,
    /// The decision in force (None while open).
    pub decision: Option<Decision>,
    /// Number of decision rows: pass it back to `decide`/`undo`.
    pub version: u32,
}

pub(super) fn decisions(conn: &Connection, flag_id: i64) -> rusqlite::Result<Vec<Decision>> {
    let mut st = conn.prepare_cached(
        "SELECT id, flag_id, reviewer, at, machine_value, new_value, note FROM decisions WHERE flag_id = ?1 ORDER BY id",
    )?;
    let rows = st
        .query_map([flag_id], |r| {
            Ok(Decision {
                id: r.get(0)?,
                flag_id: r.get(1)?,
                reviewer: r.get(2)?,
                at: r.get(3)?,
                machine_value: r.get(4)?,
                new_value: r.get(5)?,
                note: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>();
    rows
}

/// The machine's value for a flag in decision vocabulary.
fn machine_value(
    kind: FlagKind,
    question: Option<&QuestionReading>,
    name: Option<&NameReading>,
) -> String {
    match kind {
        FlagKind::Marginal | FlagKind::Overvote => match question {
            Some(q) if q.state == QuestionState::Answer => q.option.clone().unwrap_or_default(),
            Some(q) if q.state == QuestionState::Blank => "blank".into(),
            _ => String::new(),
        },
        FlagKind::NameCheck => match name {
            Some(n) if n.ok => "ok".into(),
            Some(n) => n.matched.clone().unwrap_or_default(),
            None => String::new(),
        },
        _ => String::new(),
    }
}

/// The fixed choices for a flag (see the table in the module docs).
fn choices(kind: FlagKind, page: &StoredPage, target: Option<&str>) -> Vec<String> {
    let fixed = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect();
    match kind {
        FlagKind::Marginal | FlagKind::Overvote => {
            let mut v: Vec<String> = page
                .reading
                .cells
                .iter()
                .filter(|c| Some(c.question.as_str()) == target)
                .map(|c| c.option.clone())
                .collect();
            v.push("blank".into());
            v
        }
        FlagKind::NameCheck => fixed(&["ok", "reject"]),
        FlagKind::IntegrityFeedback => {
            let mut v = vec!["none".to_string()];
            let mut seen = std::collections::BTreeSet::new();
            for q in &page.reading.questions {
                if let Some(s) = &q.subject {
                    if seen.insert(s.clone()) {
                        v.push(format!("problem:{s}"));
                    }
                }
            }
            v
        }
        FlagKind::Duplicate => fixed(&["keep", "discard"]),
        FlagKind::UnknownSerial => fixed(&["count", "discard"]),
        FlagKind::Rejected => fixed(&["discard"]),
        FlagKind::Comment => fixed(&["seen"]),
    }
}

/// A subject id typed by a reviewer: campaign ids are short ASCII words.
fn is_subject_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn valid(kind: FlagKind, value: &str, choices: &[String]) -> bool {
    choices.iter().any(|c| c == value)
        || match kind {
            FlagKind::NameCheck => is_subject_id(value),
            FlagKind::IntegrityFeedback => {
                value.strip_prefix("problem:").is_some_and(is_subject_id)
            }
            _ => false,
        }
}

fn view(page: &StoredPage, i: usize) -> FlagView {
    let flag = &page.reading.flags[i];
    let info = &page.flag_info[i];
    let target = flag.target.as_deref();
    let r = &page.reading;
    let (question, cells, name, writing) = match flag.kind {
        FlagKind::Marginal | FlagKind::Overvote => (
            r.questions
                .iter()
                .find(|q| Some(q.question.as_str()) == target)
                .cloned(),
            r.cells
                .iter()
                .filter(|c| Some(c.question.as_str()) == target)
                .cloned()
                .collect(),
            None,
            None,
        ),
        FlagKind::NameCheck => {
            let row: Vec<&str> = r
                .questions
                .iter()
                .filter(|q| q.subject.as_deref() == target)
                .map(|q| q.question.as_str())
                .collect();
            (
                None,
                r.cells
                    .iter()
                    .filter(|c| row.contains(&c.question.as_str()))
                    .cloned()
                    .collect(),
                r.names
                    .iter()
                    .find(|n| Some(n.subject.as_str()) == target)
                    .cloned(),
                None,
            )
        }
        FlagKind::IntegrityFeedback | FlagKind::Comment => (
            None,
            Vec::new(),
            None,
            r.writing
                .iter()
                .find(|w| Some(w.id.as_str()) == target)
                .cloned(),
        ),
        _ => (None, Vec::new(), None, None),
    };
    let machine_value = machine_value(flag.kind, question.as_ref(), name.as_ref());
    let crop = info
        .crop
        .clone()
        .or_else(|| writing.as_ref().and_then(|w| w.crop.clone()));
    FlagView {
        id: info.id,
        kind: flag.kind,
        target: flag.target.clone(),
        detail: flag.detail.clone(),
        urgency: flag.urgency,
        blocking: flag.kind.blocks_final_count(),
        crop,
        page: PageRef {
            page_id: page.id,
            file: page.file.clone(),
            sha256: page.sha256.clone(),
            index: page.index,
            status: r.status,
            serial: r.code.as_ref().map(|c| c.serial.clone()),
            form: r.code.as_ref().map(|c| c.form.clone()),
            layout_hash: r.code.as_ref().map(|c| c.layout_hash.clone()),
            page: r.code.as_ref().map(|c| c.page),
        },
        question,
        cells,
        name,
        writing,
        machine_value,
        choices: choices(flag.kind, page, target),
        decision: info.current().cloned(),
        version: u32::try_from(info.decisions.len()).unwrap_or(u32::MAX),
    }
}

impl Store {
    /// Every active flag, blocking and open ones first, then by urgency (nearest to a
    /// threshold first), then in reading order.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn all_flags(&self) -> Result<Vec<FlagView>, StoreError> {
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT page_id FROM flags WHERE active = 1 ORDER BY page_id")
            .map_err(|e| self.err(e))?;
        let pages: Vec<i64> = st
            .query_map([], |r| r.get(0))
            .and_then(|r| r.collect())
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for id in pages {
            let page = self.load_page(id)?;
            out.extend((0..page.reading.flags.len()).map(|i| view(&page, i)));
        }
        out.sort_by(|a, b| {
            (a.decision.is_some(), !a.blocking)
                .cmp(&(b.decision.is_some(), !b.blocking))
                .then(a.urgency.total_cmp(&b.urgency))
                .then(a.id.cmp(&b.id))
        });
        Ok(out)
    }

    /// Flags with no decision in force (including non-blocking comments), worst first.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn open_flags(&self) -> Result<Vec<FlagView>, StoreError> {
        let mut v = self.all_flags()?;
        v.retain(|f| f.decision.is_none());
        Ok(v)
    }

    /// One flag.
    ///
    /// # Errors
    /// [`StoreError::NoSuchFlag`]; SQLite failures.
    pub fn flag(&self, flag_id: i64) -> Result<FlagView, StoreError> {
        let page_id: i64 = self
            .conn
            .query_row("SELECT page_id FROM flags WHERE id = ?1", [flag_id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?
            .ok_or(StoreError::NoSuchFlag(flag_id))?;
        let page = self.load_page(page_id)?;
        let i = page
            .flag_info
            .iter()
            .position(|f| f.id == flag_id)
            .ok_or(StoreError::NoSuchFlag(flag_id))?;
        Ok(view(&page, i))
    }

    /// The audit trail of a flag, oldest first.
    ///
    /// # Errors
    /// SQLite failures.
    pub fn audit(&self, flag_id: i64) -> Result<Vec<Decision>, StoreError> {
        decisions(&self.conn, flag_id).map_err(|e| self.err(e))
    }

    /// Decide a flag (see the module docs for the values). `expected_version` is the
    /// [`FlagView::version`] the reviewer saw.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] when someone decided meanwhile, [`StoreError::InvalidValue`],
    /// [`StoreError::NoSuchFlag`], [`StoreError::NoReviewer`]; SQLite failures.
    pub fn decide(
        &mut self,
        flag_id: i64,
        reviewer: &str,
        new_value: &str,
        note: &str,
        expected_version: u32,
    ) -> Result<Decision, StoreError> {
        let new_value = new_value.trim();
        self.append(flag_id, reviewer, expected_version, note, |view, _| {
            if valid(view.kind, new_value, &view.choices) {
                Ok(new_value.to_string())
            } else {
                Err(StoreError::InvalidValue {
                    flag_id,
                    kind: view.kind.as_str(),
                    value: new_value.to_string(),
                    allowed: if view.kind == FlagKind::NameCheck {
                        "ok, reject or a roster subject id".into()
                    } else {
                        view.choices.join(", ")
                    },
                })
            }
        })
    }

    /// Undo the decision in force: a new row restoring the value before it ("" = open again).
    ///
    /// # Errors
    /// [`StoreError::NothingToUndo`], [`StoreError::Conflict`], [`StoreError::NoSuchFlag`];
    /// SQLite failures.
    pub fn undo(
        &mut self,
        flag_id: i64,
        reviewer: &str,
        expected_version: u32,
    ) -> Result<Decision, StoreError> {
        self.append(flag_id, reviewer, expected_version, "undo", |_, trail| {
            let current = trail
                .last()
                .filter(|d| !d.new_value.is_empty())
                .ok_or(StoreError::NothingToUndo(flag_id))?;
            // The value in force before the current one: the latest earlier row that differs.
            let before = trail
                .iter()
                .rev()
                .skip(1)
                .find(|d| d.id < current.id)
                .map(|d| d.new_value.clone());
            Ok(before.unwrap_or_default())
        })
    }

    /// Append one decision row inside an IMMEDIATE transaction (so two reviewers cannot both
    /// pass the version check), and its line to the journal, fsynced before the commit: an
    /// acknowledged decision is in both. If the journal cannot be written the transaction
    /// rolls back and the decision is refused; if the commit fails after the journal line was
    /// written, a rebuild replays that line (the decision the reviewer asked for).
    fn append(
        &mut self,
        flag_id: i64,
        reviewer: &str,
        expected_version: u32,
        note: &str,
        value: impl FnOnce(&FlagView, &[Decision]) -> Result<String, StoreError>,
    ) -> Result<Decision, StoreError> {
        let reviewer = reviewer.trim();
        if reviewer.is_empty() {
            return Err(StoreError::NoReviewer);
        }
        if !self.records_checked {
            self.ensure_manifest()?;
        }
        let view = self.flag(flag_id)?;
        let (dir, db) = (self.dir.clone(), self.db.clone());
        let err = |cause| super::sqlite_error(&dir, &db, cause);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let not_saved = |e: StoreError| match e {
            StoreError::Record(j) => StoreError::JournalWrite {
                path: j.path,
                cause: j.cause,
            },
            other => other,
        };
        if !self.records_checked {
            records::catch_up_journal(&tx, &dir, &db).map_err(not_saved)?;
        }
        let trail = decisions(&tx, flag_id).map_err(err)?;
        let actual = u32::try_from(trail.len()).unwrap_or(u32::MAX);
        if actual != expected_version {
            return Err(StoreError::Conflict {
                flag_id,
                expected: expected_version,
                actual,
            });
        }
        let new_value = value(&view, &trail)?;
        let id: i64 = tx
            .query_row(
                "INSERT INTO decisions(flag_id, reviewer, machine_value, new_value, note) VALUES (?1, ?2, ?3, ?4, ?5)
                 RETURNING id",
                params![flag_id, reviewer, view.machine_value, new_value, note],
                |r| r.get(0),
            )
            .map_err(err)?;
        let d = decisions(&tx, flag_id)
            .map_err(err)?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or(StoreError::NoSuchFlag(flag_id))?;
        journal::append(
            &dir.join(journal::JOURNAL_FILE),
            &[records::entry(&view, &d)],
        )
        .map_err(|e| not_saved(e.into()))?;
        tx.commit().map_err(err)?;
        self.records_checked = true;
        Ok(d)
    }
}
