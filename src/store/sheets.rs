//! From recorded pages and decisions to the sheets the tally counts.
//!
//! Rules (see [`super::flags`] for the decision values):
//! - Pages are grouped by serial; a sheet's pages are ordered by page number. Blank pages
//!   belong to no sheet.
//! - A question's value is the machine's (`answer` → `Chosen`, `blank` → `Blank`) unless it
//!   carries a `marginal`/`overvote` flag: then the decision (`<option>` → `Chosen`,
//!   `blank` → `Blank`, `reviewed = true`), and `Undecided` while open.
//! - `name_check` on a row: open → the row's answers are `Undecided`; `ok` → unchanged;
//!   `<subject id>` → the row's answers are credited to that subject (`question` becomes
//!   `<id>.<item>`); `reject` → the row's answers are dropped.
//! - `unknown_serial`: open → every answer of the page is `Undecided`; `count` → normal;
//!   `discard` → the sheet is `discarded`.
//! - `integrity_feedback`: `problem:<id>` → an [`IntegrityNote`] (note, reviewer, time).
//! - `duplicate` (on the second image of a serial+page): open or `discard` → that image is not
//!   counted (the first one read counts); `keep` → it counts as its own sheet, serial
//!   `<serial>~<page id>`.
//! - A rejected page with a readable code joins its sheet without answers; without a code it
//!   becomes a sheet of its own with serial "" and form "" (no answers) so its flag is seen;
//!   `discard` marks that sheet `discarded`.
//! - Every open blocking flag appears in [`Sheet::open_flags`] of the sheet it belongs to.

use super::load::StoredPage;
use super::{Store, StoreError};
use crate::read::outcome::{FlagKind, PageStatus, QuestionState};
use crate::sheet::{Answer, AnswerValue, IntegrityNote, OpenFlag, Sheet};
use std::collections::BTreeMap;

fn page_label(p: &StoredPage) -> String {
    format!("{}#{}", p.file, p.index + 1)
}

fn new_sheet(batch: &str, serial: String, p: &StoredPage) -> Sheet {
    let code = p.reading.code.as_ref();
    Sheet {
        batch: batch.to_string(),
        serial,
        form: code.map(|c| c.form.clone()).unwrap_or_default(),
        layout_hash: code.map(|c| c.layout_hash.clone()).unwrap_or_default(),
        branch: p.branch.clone(),
        pages: Vec::new(),
        answers: Vec::new(),
        open_flags: Vec::new(),
        integrity: Vec::new(),
        discarded: false,
    }
}

/// The decision in force on the page's flag of `kind` about `target`: None = no such flag,
/// Some(None) = open, Some(Some(v)) = decided v.
fn decision<'a>(
    p: &'a StoredPage,
    kind: FlagKind,
    target: Option<&str>,
) -> Option<Option<&'a str>> {
    p.reading
        .flags
        .iter()
        .zip(&p.flag_info)
        .find(|(f, _)| f.kind == kind && (target.is_none() || f.target.as_deref() == target))
        .map(|(_, info)| info.current().map(|d| d.new_value.as_str()))
}

/// Add one page's answers, notes and open flags to its sheet.
fn apply_page(sheet: &mut Sheet, p: &StoredPage) {
    let label = page_label(p);
    sheet.pages.push(label.clone());
    for (f, info) in p.reading.flags.iter().zip(&p.flag_info) {
        let current = info.current();
        if current.is_none() && f.kind.blocks_final_count() && f.kind != FlagKind::Duplicate {
            sheet.open_flags.push(OpenFlag {
                kind: f.kind,
                target: f.target.clone(),
                detail: f.detail.clone(),
                page: label.clone(),
            });
        }
        match (f.kind, current) {
            (FlagKind::IntegrityFeedback, Some(d)) => {
                if let Some(subject) = d.new_value.strip_prefix("problem:") {
                    sheet.integrity.push(IntegrityNote {
                        subject: subject.to_string(),
                        note: d.note.clone(),
                        reviewer: d.reviewer.clone(),
                        at: d.at.clone(),
                    });
                }
            }
            (FlagKind::UnknownSerial | FlagKind::Rejected, Some(d)) if d.new_value == "discard" => {
                sheet.discarded = true
            }
            _ => {}
        }
    }
    if p.reading.status != PageStatus::Read {
        return;
    }
    let unknown_open = decision(p, FlagKind::UnknownSerial, None) == Some(None);
    for q in &p.reading.questions {
        let machine = match (q.state, &q.option) {
            (QuestionState::Answer, Some(o)) => Some(AnswerValue::Chosen(o.clone())),
            (QuestionState::Blank, _) => Some(AnswerValue::Blank),
            _ => None,
        };
        let flagged = decision(p, FlagKind::Marginal, Some(&q.question))
            .or_else(|| decision(p, FlagKind::Overvote, Some(&q.question)));
        let (mut value, reviewed) = match (flagged, machine) {
            (Some(Some("blank")), _) => (AnswerValue::Blank, true),
            (Some(Some(v)), _) => (AnswerValue::Chosen(v.to_string()), true),
            (Some(None), _) => (AnswerValue::Undecided, false),
            (None, Some(v)) => (v, false),
            (None, None) => {
                // An unsure question the reader did not flag: never count it silently.
                sheet.open_flags.push(OpenFlag {
                    kind: if q.state == QuestionState::Overvote {
                        FlagKind::Overvote
                    } else {
                        FlagKind::Marginal
                    },
                    target: Some(q.question.clone()),
                    detail: format!(
                        "question {} is {:?} but carries no flag",
                        q.question, q.state
                    ),
                    page: label.clone(),
                });
                (AnswerValue::Undecided, false)
            }
        };
        let (mut subject, mut question) = (q.subject.clone(), q.question.clone());
        match q
            .subject
            .as_deref()
            .and_then(|s| decision(p, FlagKind::NameCheck, Some(s)))
        {
            Some(None) => value = AnswerValue::Undecided,
            Some(Some("reject")) => continue,
            Some(Some("ok")) | None => {}
            Some(Some(id)) => {
                subject = Some(id.to_string());
                question = format!("{id}.{}", q.item);
            }
        }
        if unknown_open {
            value = AnswerValue::Undecided;
        }
        sheet.answers.push(Answer {
            question,
            subject,
            item: q.item.clone(),
            value,
            reviewed,
        });
    }
}

impl Store {
    /// Every sheet of the batch with review decisions applied (see the module docs).
    ///
    /// # Errors
    /// SQLite failures.
    pub fn sheets(&self) -> Result<Vec<Sheet>, StoreError> {
        let batch = self.dir.to_string_lossy().into_owned();
        // serial → pages counted on that sheet; kept duplicates and serial-less rejects apart.
        let mut groups: BTreeMap<String, Vec<StoredPage>> = BTreeMap::new();
        let mut dup_open: Vec<(String, StoredPage)> = Vec::new();
        let mut singles: Vec<(String, StoredPage)> = Vec::new();
        for id in self.page_ids()? {
            let p = self.load_page(id)?;
            let serial = p.reading.code.as_ref().map(|c| c.serial.clone());
            match (p.reading.status, serial) {
                (PageStatus::Blank, _) => {}
                (_, None) => singles.push((String::new(), p)),
                (_, Some(serial)) => match decision(&p, FlagKind::Duplicate, None) {
                    Some(Some("keep")) => singles.push((format!("{serial}~{}", p.id), p)),
                    Some(Some(_)) => {}
                    Some(None) => dup_open.push((serial, p)),
                    None => groups.entry(serial).or_default().push(p),
                },
            }
        }
        let mut out = Vec::new();
        let mut by_serial: BTreeMap<String, usize> = BTreeMap::new();
        for (serial, mut pages) in groups {
            pages.sort_by_key(|p| (p.reading.code.as_ref().map_or(0, |c| c.page), p.id));
            let mut sheet = new_sheet(&batch, serial.clone(), &pages[0]);
            for p in &pages {
                apply_page(&mut sheet, p);
            }
            by_serial.insert(serial, out.len());
            out.push(sheet);
        }
        for (serial, p) in dup_open {
            let flag = p
                .reading
                .flags
                .iter()
                .find(|f| f.kind == FlagKind::Duplicate);
            let open = OpenFlag {
                kind: FlagKind::Duplicate,
                target: Some(serial.clone()),
                detail: flag.map(|f| f.detail.clone()).unwrap_or_default(),
                page: page_label(&p),
            };
            match by_serial.get(&serial) {
                Some(&i) => out[i].open_flags.push(open),
                None => {
                    // The first image was since re-read as something else: keep the flag visible.
                    let mut sheet = new_sheet(&batch, serial, &p);
                    sheet.pages.push(page_label(&p));
                    sheet.open_flags.push(open);
                    out.push(sheet);
                }
            }
        }
        for (serial, p) in singles {
            let mut sheet = new_sheet(&batch, serial, &p);
            apply_page(&mut sheet, &p);
            out.push(sheet);
        }
        Ok(out)
    }
}
