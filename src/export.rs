//! `pingyi export`: a batch's readings as JSON or CSV, for audit and for other tools.
//!
//! # JSON schema (`--format json`)
//! An array with one object per recorded page, in the order pages were first read:
//!
//! ```text
//! {
//!   "file":        "scans/box1.pdf",   input file as given to `pingyi scan`
//!   "sha256":      "9f2c…",            SHA-256 of the file
//!   "page_index":  3,                  0-based page in the file ("box1.pdf#4" in messages)
//!   "status":      "read" | "blank" | "rejected",
//!   "reason":      null | "why the page was rejected",
//!   "form":        "member" | null,    from the page's code
//!   "layout_hash": "3fa2c1d0" | null,
//!   "page":        1 | null,           page number within the sheet
//!   "serial":      "K7Q2M9X4" | null,  the sheet's serial
//!   "branch":      "b1" | null,        branch the serial was printed for
//!   "rotation":    0 | 90 | 180 | 270, clockwise rotation that was undone
//!   "transform":   [9 numbers] | null, layout mm → upright image px, row-major 3×3
//!   "residual_mm": 0.05 | null,        printed lines off the fitted page, RMS mm
//!   "dpi":         300.0 | null,
//!   "questions": [ { "question": "a1.q", "subject": "a1" | null, "item": "q",
//!                    "state": "answer" | "blank" | "overvote" | "ambiguous",
//!                    "option": "good" | null,
//!                    "cells": [ { "option": "good", "score": 0.41,
//!                                 "class": "empty" | "marginal" | "marked",
//!                                 "px": [x, y, w, h] } ] } ],
//!   "names":   [ { "subject", "printed", "text", "confidence", "matched", "ok", "px" } ],
//!   "writing": [ { "id", "ink", "has_writing", "text", "confidence", "crop", "px" } ],
//!   "flags": [ { "id": 17, "kind": "marginal" | "overvote" | "name_check" | "integrity_feedback"
//!                  | "comment" | "duplicate" | "rejected" | "unknown_serial",
//!                "target": "a1.q" | null, "detail": "…", "urgency": 0.01,
//!                "crop": "crops/….png" | null,
//!                "decision": null | "<value in force>",
//!                "decisions": [ { "id", "reviewer", "at", "machine_value", "new_value", "note" } ] } ]
//! }
//! ```
//!
//! # CSV (`--format csv`)
//! One row per question (a page without questions gives one row with the question columns
//! empty): `file, page_index, status, reason, form, page, serial, branch, rotation,
//! residual_mm, question, subject, item, state, option, scores, flags`, where `scores` is
//! `option=score` pairs joined by `;` and `flags` is `kind:decision` pairs joined by `;`
//! (`open` when undecided) for the flags about that question, its row's name, or the page.

use crate::read::outcome::{CellClass, PageStatus, QuestionState};
use crate::store::{Store, StoreError, StoredPage};
use serde::Serialize;
use std::io::Write;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the export: {0}")]
    Write(#[from] std::io::Error),
    #[error("cannot write the export: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write the export: {0}")]
    Csv(#[from] csv::Error),
}

#[derive(Serialize)]
struct PageOut<'a> {
    file: &'a str,
    sha256: &'a str,
    page_index: u32,
    status: PageStatus,
    reason: Option<&'a str>,
    form: Option<&'a str>,
    layout_hash: Option<&'a str>,
    page: Option<u32>,
    serial: Option<&'a str>,
    branch: Option<&'a str>,
    rotation: u32,
    transform: Option<[f64; 9]>,
    residual_mm: Option<f64>,
    dpi: Option<f32>,
    questions: Vec<QuestionOut<'a>>,
    names: &'a [crate::read::outcome::NameReading],
    writing: &'a [crate::read::outcome::WritingReading],
    flags: Vec<FlagOut<'a>>,
}

#[derive(Serialize)]
struct QuestionOut<'a> {
    question: &'a str,
    subject: Option<&'a str>,
    item: &'a str,
    state: QuestionState,
    option: Option<&'a str>,
    cells: Vec<CellOut<'a>>,
}

#[derive(Serialize)]
struct CellOut<'a> {
    option: &'a str,
    score: f32,
    class: CellClass,
    px: [u32; 4],
}

#[derive(Serialize)]
struct FlagOut<'a> {
    id: i64,
    kind: &'static str,
    target: Option<&'a str>,
    detail: &'a str,
    urgency: f32,
    crop: Option<&'a str>,
    decision: Option<&'a str>,
    decisions: Vec<DecisionOut<'a>>,
}

#[derive(Serialize)]
struct DecisionOut<'a> {
    id: i64,
    reviewer: &'a str,
    at: &'a str,
    machine_value: &'a str,
    new_value: &'a str,
    note: &'a str,
}

fn page_out(p: &StoredPage) -> PageOut<'_> {
    let r = &p.reading;
    let code = r.code.as_ref();
    PageOut {
        file: &p.file,
        sha256: &p.sha256,
        page_index: p.index,
        status: r.status,
        reason: r.reason.as_deref(),
        form: code.map(|c| c.form.as_str()),
        layout_hash: code.map(|c| c.layout_hash.as_str()),
        page: code.map(|c| c.page),
        serial: code.map(|c| c.serial.as_str()),
        branch: p.branch.as_deref(),
        rotation: r.rotation,
        transform: r.transform,
        residual_mm: r.residual_mm,
        dpi: r.dpi,
        questions: r
            .questions
            .iter()
            .map(|q| QuestionOut {
                question: &q.question,
                subject: q.subject.as_deref(),
                item: &q.item,
                state: q.state,
                option: q.option.as_deref(),
                cells: r
                    .cells
                    .iter()
                    .filter(|c| c.question == q.question)
                    .map(|c| CellOut {
                        option: &c.option,
                        score: c.score,
                        class: c.class,
                        px: c.px,
                    })
                    .collect(),
            })
            .collect(),
        names: &r.names,
        writing: &r.writing,
        flags: r
            .flags
            .iter()
            .zip(&p.flag_info)
            .map(|(f, info)| FlagOut {
                id: info.id,
                kind: f.kind.as_str(),
                target: f.target.as_deref(),
                detail: &f.detail,
                urgency: f.urgency,
                crop: info.crop.as_deref(),
                decision: info.current().map(|d| d.new_value.as_str()),
                decisions: info
                    .decisions
                    .iter()
                    .map(|d| DecisionOut {
                        id: d.id,
                        reviewer: &d.reviewer,
                        at: &d.at,
                        machine_value: &d.machine_value,
                        new_value: &d.new_value,
                        note: &d.note,
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// Write every page as a JSON array, one page in memory at a time. Returns the page count.
///
/// # Errors
/// Store or write failures.
pub fn export_json(store: &Store, out: &mut impl Write) -> Result<usize, ExportError> {
    let ids = store.page_ids()?;
    out.write_all(b"[")?;
    for (i, id) in ids.iter().enumerate() {
        let page = store.load_page(*id)?;
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, &page_out(&page))?;
    }
    out.write_all(b"\n]\n")?;
    Ok(ids.len())
}

/// Write one CSV row per question (see the module docs). Returns the page count.
///
/// # Errors
/// Store or write failures.
pub fn export_csv(store: &Store, out: &mut impl Write) -> Result<usize, ExportError> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "file",
        "page_index",
        "status",
        "reason",
        "form",
        "page",
        "serial",
        "branch",
        "rotation",
        "residual_mm",
        "question",
        "subject",
        "item",
        "state",
        "option",
        "scores",
        "flags",
    ])?;
    let ids = store.page_ids()?;
    for id in &ids {
        let p = store.load_page(*id)?;
        let o = page_out(&p);
        let status = match o.status {
            PageStatus::Read => "read",
            PageStatus::Blank => "blank",
            PageStatus::Rejected => "rejected",
        };
        let head = [
            o.file.to_string(),
            o.page_index.to_string(),
            status.to_string(),
            o.reason.unwrap_or_default().to_string(),
            o.form.unwrap_or_default().to_string(),
            o.page.map(|n| n.to_string()).unwrap_or_default(),
            o.serial.unwrap_or_default().to_string(),
            o.branch.unwrap_or_default().to_string(),
            o.rotation.to_string(),
            o.residual_mm.map(|r| format!("{r:.3}")).unwrap_or_default(),
        ];
        let flags_about = |target: Option<&str>, subject: Option<&str>| -> String {
            o.flags
                .iter()
                .filter(|f| match f.target {
                    None => true,
                    Some(t) => Some(t) == target || Some(t) == subject,
                })
                .map(|f| format!("{}:{}", f.kind, f.decision.unwrap_or("open")))
                .collect::<Vec<_>>()
                .join(";")
        };
        if o.questions.is_empty() {
            let mut row: Vec<String> = head.to_vec();
            row.extend([
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
            ]);
            row.push(
                o.flags
                    .iter()
                    .map(|f| format!("{}:{}", f.kind, f.decision.unwrap_or("open")))
                    .collect::<Vec<_>>()
                    .join(";"),
            );
            w.write_record(&row)?;
        }
        for q in &o.questions {
            let mut row: Vec<String> = head.to_vec();
            let state = serde_json::to_value(q.state)?
                .as_str()
                .unwrap_or_default()
                .to_string();
            let scores: Vec<String> = q
                .cells
                .iter()
                .map(|c| format!("{}={:.3}", c.option, c.score))
                .collect();
            row.extend([
                q.question.to_string(),
                q.subject.unwrap_or_default().to_string(),
                q.item.to_string(),
                state,
                q.option.unwrap_or_default().to_string(),
                scores.join(";"),
                flags_about(Some(q.question), q.subject),
            ]);
            w.write_record(&row)?;
        }
    }
    w.flush()?;
    Ok(ids.len())
}
