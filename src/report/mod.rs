//! Reports of a [`Tally`]: terminal table, CSV, JSON, XLSX and a self-contained HTML page.
//! Every output of a provisional tally is marked 未复核 / PROVISIONAL.

pub mod csv;
pub mod html;
pub mod json;
pub mod table;
pub mod webfont;
pub mod xlsx;

use crate::form::QuotaRounding;
use crate::read::outcome::FlagKind;
use crate::review::item::kind_label;
use crate::tally::{FormTally, Pending, Tally};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Xlsx,
    Html,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write the XLSX workbook: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("cannot write CSV: {0}")]
    Csv(#[from] ::csv::Error),
    #[error("cannot encode JSON: {0}")]
    Json(#[from] serde_json::Error),
}

/// The report in `format`, as bytes ready for a file or stdout.
pub fn render(t: &Tally, format: Format) -> Result<Vec<u8>, ReportError> {
    Ok(match format {
        Format::Table => table::render(t).into_bytes(),
        Format::Csv => csv::render(t)?,
        Format::Json => json::render(t)?.into_bytes(),
        Format::Xlsx => xlsx::render(t)?,
        Format::Html => html::render(t).into_bytes(),
    })
}

/// The banner every provisional output carries.
pub const PROVISIONAL: &str = "未复核 PROVISIONAL";

/// "未复核 PROVISIONAL:尚有 3 项待复核" or None for a final tally.
pub fn marking(t: &Tally) -> Option<String> {
    (!t.is_final()).then(|| {
        format!(
            "{PROVISIONAL}:尚有 {} 项待复核,结果不是最终结果",
            t.pending.len()
        )
    })
}

/// The label of an option of the form, e.g. "满意" (spaces used for print spacing removed).
pub fn option_label(f: &FormTally, option: &str) -> String {
    f.scales
        .iter()
        .flat_map(|s| s.options.iter())
        .find(|(id, _)| id == option)
        .map_or_else(|| option.to_string(), |(_, l)| l.replace(' ', ""))
}

/// The grade columns of a form: the options of the first graded item's scale.
pub fn grade_options(f: &FormTally) -> Vec<(String, String)> {
    let scale = f
        .subjects
        .first()
        .and_then(|s| s.items.iter().find(|i| !i.check))
        .map(|i| i.scale.clone());
    f.scales
        .iter()
        .find(|s| Some(&s.id) == scale.as_ref())
        .map(|s| {
            s.options
                .iter()
                .map(|(id, l)| (id.clone(), l.replace(' ', "")))
                .collect()
        })
        .unwrap_or_default()
}

/// The recommend votes of a subject on a form, if the form has a check item.
pub fn recommend_votes(s: &crate::tally::SubjectTally) -> Option<u64> {
    s.items
        .iter()
        .find(|i| i.check)
        .map(|i| i.counts.iter().map(|c| c.count).sum())
}

pub fn rounding_label(r: QuotaRounding) -> &'static str {
    match r {
        QuotaRounding::Floor => "向下取整",
        QuotaRounding::Ceil => "向上取整",
        QuotaRounding::Nearest => "四舍五入",
    }
}

/// "附2 优秀党员民主评议推荐表".
pub fn form_heading(f: &FormTally) -> String {
    if f.annex.is_empty() {
        f.title.clone()
    } else {
        format!("{} {}", f.annex, f.title)
    }
}

/// A form as a clerk knows it, "附1 党支部开展创先争优活动群众评议表", by its id; the id itself
/// only for a form the tally was not given (every printed form is: its snapshot is kept).
pub fn form_label(t: &Tally, form: &str) -> String {
    t.forms
        .iter()
        .find(|f| f.form == form)
        .map_or_else(|| form.to_string(), form_heading)
}

/// The branch of a turnout row as a clerk knows it: its name, or 全部 for forms printed for
/// every branch at once.
pub fn turnout_branch(r: &crate::tally::Turnout) -> String {
    r.branch_name
        .clone()
        .or_else(|| r.branch.clone())
        .unwrap_or_else(|| "全部".into())
}

/// What still needs a person, in words: the kind of check in Chinese, then what it is about
/// ("勾选不清:张晓燕 · 参加创先争优活动情况: 「满意」…"). The reader's details already name the
/// subject and item; an undecided answer without a flag is named from the tally's labels.
pub fn pending_what(t: &Tally, p: &Pending) -> String {
    match FlagKind::parse(&p.kind) {
        Some(kind) => format!("{}:{}", kind_label(kind), p.detail),
        None => {
            let what = p
                .target
                .as_deref()
                .map(|q| question_label(t, q))
                .unwrap_or_default();
            format!("答案未复核:{what}")
        }
    }
}

/// "王伟 · 立足岗位履行职责情况" for the question id "c101.duty" (subject id, item id), from
/// the labels of the tally's forms; the id when no form knows it.
fn question_label(t: &Tally, question: &str) -> String {
    let (subject, item) = question.split_once('.').unwrap_or(("", question));
    for f in &t.forms {
        let Some(i) = f
            .subjects
            .iter()
            .flat_map(|s| &s.items)
            .find(|i| i.item == item)
        else {
            continue;
        };
        return match f.subjects.iter().find(|s| s.id == subject) {
            Some(s) => format!("{} · {}", subject_label(s), i.label),
            None => i.label.clone(),
        };
    }
    question.to_string()
}

/// A subject as printed: "陈静(因公护照受理窗口)".
pub fn subject_label(s: &crate::tally::SubjectTally) -> String {
    match &s.detail {
        Some(d) => format!("{}({d})", s.name),
        None => s.name.clone(),
    }
}

/// A sheet the tally cannot place, as a clerk reads it: a page whose code was never read
/// (rejected, e.g. a foreign page: its file and page), else a form this campaign lacks.
#[must_use]
pub fn unknown_line(s: &crate::tally::SheetRef) -> String {
    let pages = s.pages.join("、");
    if s.form.is_empty() {
        format!("未识别的页 {pages}(批次 {})", s.batch)
    } else {
        format!(
            "未知表 {}:批次 {} 序号 {} {pages}",
            s.form, s.batch, s.serial
        )
    }
}
