//! 一票否决: an integrity problem, verified by the organisation, removes a person from the
//! excellent list. Evidence comes from integrity notes confirmed in review and from a veto
//! file (CSV: person, reason, verified_by, date).

use super::AppliedVeto;
use crate::campaign::Campaign;
use crate::sheet::Sheet;
use serde::{Deserialize, Serialize};
use std::io::Read;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Veto {
    /// A candidate id, a post id (its candidate is meant) or a candidate's name.
    pub person: String,
    pub reason: String,
    pub verified_by: String,
    pub date: String,
    pub source: VetoSource,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum VetoSource {
    /// A row of the veto file (1-based, header is row 1).
    File { row: u64 },
    /// An integrity note confirmed in review on this sheet.
    Review { batch: String, serial: String },
}

#[derive(Debug, thiserror::Error)]
pub enum VetoError {
    #[error("veto file: {0}")]
    Csv(#[from] csv::Error),
    #[error("veto file has no \"{0}\" column (expected: person, reason, verified_by, date)")]
    MissingColumn(&'static str),
    #[error("veto file row {row}: the {column} is empty — a veto needs who, why, who verified it and when")]
    EmptyField { row: u64, column: &'static str },
}

/// Header names accepted for each column (English or the Chinese a clerk would write).
const COLUMNS: [(&str, &[&str]); 4] = [
    ("person", &["person", "subject", "id", "被评议人", "姓名"]),
    ("reason", &["reason", "原因", "问题"]),
    ("verified_by", &["verified_by", "核实人", "核实单位"]),
    ("date", &["date", "日期", "核实日期"]),
];

/// Read a veto CSV. Every field is required: a veto without its evidence is refused.
pub fn read_vetoes<R: Read>(r: R) -> Result<Vec<Veto>, VetoError> {
    let mut rd = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(r);
    let headers = rd.headers()?.clone();
    let mut idx = [0usize; 4];
    for (k, (name, aliases)) in COLUMNS.iter().enumerate() {
        idx[k] = headers
            .iter()
            .position(|h| aliases.contains(&h.trim_start_matches('\u{feff}')))
            .ok_or(VetoError::MissingColumn(name))?;
    }
    let mut out = Vec::new();
    for (n, rec) in rd.records().enumerate() {
        let rec = rec?;
        // Row 1 is the header.
        let row = n as u64 + 2;
        let field = |k: usize| -> Result<String, VetoError> {
            let v = rec.get(idx[k]).unwrap_or("").to_string();
            if v.is_empty() {
                return Err(VetoError::EmptyField {
                    row,
                    column: COLUMNS[k].0,
                });
            }
            Ok(v)
        };
        out.push(Veto {
            person: field(0)?,
            reason: field(1)?,
            verified_by: field(2)?,
            date: field(3)?,
            source: VetoSource::File { row },
        });
    }
    Ok(out)
}

/// Integrity notes confirmed in review on counted sheets.
pub(super) fn from_sheets(kept: &[&Sheet]) -> Vec<Veto> {
    kept.iter()
        .filter(|s| !s.discarded)
        .flat_map(|s| {
            s.integrity.iter().map(|n| Veto {
                person: n.subject.clone(),
                reason: n.note.clone(),
                verified_by: n.reviewer.clone(),
                date: n.at.clone(),
                source: VetoSource::Review {
                    batch: s.batch.clone(),
                    serial: s.serial.clone(),
                },
            })
        })
        .collect()
}

/// The candidate a veto names: by candidate id, by post id (the post's candidate), or by a
/// name only one candidate has.
fn person_of(c: &Campaign, who: &str) -> Option<(String, String)> {
    if let Some((_, k)) = c.candidate(who) {
        return Some((k.id.clone(), k.name.clone()));
    }
    if let Some(p) = c.post(who) {
        return p
            .candidate
            .as_deref()
            .and_then(|id| c.candidate(id))
            .map(|(_, k)| (k.id.clone(), k.name.clone()));
    }
    let mut named = c
        .branches
        .iter()
        .flat_map(|b| b.candidates.iter())
        .filter(|k| k.name == who);
    match (named.next(), named.next()) {
        (Some(k), None) => Some((k.id.clone(), k.name.clone())),
        _ => None,
    }
}

pub(super) fn resolve(vetoes: &[Veto], c: &Campaign) -> (Vec<AppliedVeto>, Vec<Veto>) {
    let mut applied = Vec::new();
    let mut unmatched = Vec::new();
    for v in vetoes {
        match person_of(c, &v.person) {
            Some((person, name)) => applied.push(AppliedVeto {
                person,
                name,
                veto: v.clone(),
            }),
            None => unmatched.push(v.clone()),
        }
    }
    (applied, unmatched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_veto_file_with_chinese_headers_reads() {
        let csv = "被评议人,原因,核实人,日期\nc101,收受礼品,纪委,2011-12-25\n";
        let v = read_vetoes(csv.as_bytes()).unwrap();
        assert_eq!(v[0].person, "c101");
        assert_eq!(v[0].source, VetoSource::File { row: 2 });
    }

    #[test]
    fn a_veto_without_its_verifier_is_refused() {
        let csv = "person,reason,verified_by,date\nc101,收受礼品,,2011-12-25\n";
        let e = read_vetoes(csv.as_bytes()).unwrap_err();
        assert!(
            matches!(
                e,
                VetoError::EmptyField {
                    row: 2,
                    column: "verified_by"
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn a_veto_file_without_a_reason_column_is_refused() {
        let e = read_vetoes("person,date\nc1,d\n".as_bytes()).unwrap_err();
        assert!(matches!(e, VetoError::MissingColumn("reason")));
    }
}
