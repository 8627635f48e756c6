//! Review without a browser: list the open flags as CSV/JSON, apply decisions from a CSV.
//!
//! The decisions CSV has a header row with `flag_id,value,note,reviewer` (note and reviewer may
//! be empty; an empty reviewer takes `--reviewer`) and an optional `version` column: with it a
//! row is refused if the flag changed since the list was taken, as in the browser.

use crate::store::{FlagView, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("cannot write the list: {0}")]
    Csv(#[from] csv::Error),
    #[error("cannot write the list: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write the list: {0}")]
    Io(#[from] std::io::Error),
}

/// One line of `--list --format csv`.
#[derive(Debug, Serialize)]
struct ListRow<'a> {
    flag_id: i64,
    kind: &'static str,
    target: &'a str,
    urgency: f32,
    page: String,
    serial: &'a str,
    form: &'a str,
    machine_value: &'a str,
    /// The values `--apply` accepts, space-separated (name_check also takes roster ids).
    choices: String,
    version: u32,
    detail: &'a str,
}

/// Write `flags` as CSV (one row per flag) or JSON (the full flag views).
///
/// # Errors
/// Write failures.
pub fn write_list(flags: &[FlagView], json: bool, out: impl Write) -> Result<(), ApplyError> {
    if json {
        serde_json::to_writer_pretty(out, flags)?;
        return Ok(());
    }
    let mut w = csv::Writer::from_writer(out);
    for f in flags {
        w.serialize(ListRow {
            flag_id: f.id,
            kind: f.kind.as_str(),
            target: f.target.as_deref().unwrap_or(""),
            urgency: f.urgency,
            page: format!("{}#{}", f.page.file, f.page.index + 1),
            serial: f.page.serial.as_deref().unwrap_or(""),
            form: f.page.form.as_deref().unwrap_or(""),
            machine_value: &f.machine_value,
            choices: f.choices.join(" "),
            version: f.version,
            detail: &f.detail,
        })?;
    }
    w.flush()?;
    Ok(())
}

#[derive(Debug, Deserialize)]
struct ApplyRow {
    flag_id: String,
    value: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    reviewer: String,
    #[serde(default)]
    version: Option<u32>,
}

/// What one `--apply` run did.
#[derive(Debug, Default)]
pub struct Applied {
    pub applied: usize,
    /// (CSV line, message) per refused row; the other rows are applied regardless.
    pub errors: Vec<(u64, String)>,
}

/// Apply every row of a decisions CSV, each in its own transaction.
pub fn apply_csv(store: &mut Store, input: impl Read, default_reviewer: Option<&str>) -> Applied {
    let mut out = Applied::default();
    let mut rdr = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(true)
        .from_reader(input);
    for (i, row) in rdr.deserialize::<ApplyRow>().enumerate() {
        // Line 1 is the header.
        let line = i as u64 + 2;
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                out.errors.push((
                    e.position().map_or(line, csv::Position::line),
                    format!("unreadable row: {e}"),
                ));
                continue;
            }
        };
        match apply_row(store, &row, default_reviewer) {
            Ok(()) => out.applied += 1,
            Err(msg) => out.errors.push((line, msg)),
        }
    }
    out
}

fn apply_row(
    store: &mut Store,
    row: &ApplyRow,
    default_reviewer: Option<&str>,
) -> Result<(), String> {
    let id: i64 = row
        .flag_id
        .parse()
        .map_err(|_| format!("flag_id \"{}\" is not a number", row.flag_id))?;
    let reviewer = if row.reviewer.is_empty() {
        default_reviewer.unwrap_or("")
    } else {
        row.reviewer.as_str()
    };
    if reviewer.trim().is_empty() {
        return Err(format!(
            "flag #{id}: no reviewer (fill the reviewer column or pass --reviewer)"
        ));
    }
    let version = match row.version {
        Some(v) => v,
        None => store.flag(id).map_err(|e| e.to_string())?.version,
    };
    store
        .decide(id, reviewer, &row.value, &row.note, version)
        .map(|_| ())
        .map_err(|e: StoreError| e.to_string())
}
