//! CSV: one row per subject × item × option (long format, every number on its own row), with
//! a `status` column so a provisional count can never pass for a final one.

use super::{form_heading, option_label, PROVISIONAL};
use crate::tally::Tally;

pub fn render(t: &Tally) -> Result<Vec<u8>, ::csv::Error> {
    let status = if t.is_final() { "FINAL" } else { PROVISIONAL };
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record([
        "status",
        "form",
        "form_title",
        "subject_id",
        "subject_name",
        "branch",
        "item_id",
        "item_label",
        "option_id",
        "option_label",
        "count",
        "satisfied_option",
        "subject_satisfied",
        "subject_graded",
        "subject_rate",
        "subject_passes",
    ])?;
    for f in &t.forms {
        for s in &f.subjects {
            for i in &s.items {
                for c in &i.counts {
                    let sat = !i.check && f.satisfied.contains(&c.option);
                    w.write_record([
                        status,
                        &f.form,
                        &form_heading(f),
                        &s.id,
                        &super::subject_label(s),
                        s.branch.as_deref().unwrap_or(""),
                        &i.item,
                        &i.label,
                        &c.option,
                        &option_label(f, &c.option),
                        &c.count.to_string(),
                        if sat { "yes" } else { "no" },
                        &s.rate.satisfied.to_string(),
                        &s.rate.graded.to_string(),
                        &s.rate.percent(),
                        if s.rate.passes { "yes" } else { "no" },
                    ])?;
                }
            }
        }
    }
    w.into_inner()
        .map_err(|e| ::csv::Error::from(e.into_error()))
}
