//! One queue item as the page shows it: a flag from the store with the printed words, the
//! choices a clerk can make (each with its key), and the machine's reading to accept.
//! The page does no interpretation of its own; everything it shows is decided here.

use super::labels::{Labels, Printed};
use crate::read::outcome::{CellClass, FlagKind};
use crate::store::{Decision, FlagView};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub id: i64,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub blocking: bool,
    /// No decision in force.
    pub open: bool,
    /// "王伟 · 工作作风": what the flag is about, in printed words.
    pub title: String,
    /// "附2 … · 第1页 · 编号 K3F… · scan.pdf#3".
    pub r#where: String,
    /// What the clerk is asked, in Chinese.
    pub detail: String,
    /// The reader's own note (file names, scores), kept for the record.
    pub machine_note: String,
    pub urgency: f32,
    pub version: u32,
    pub cells: Vec<Cell>,
    /// The name cell or writing area the flag is about, in upright page pixels (x, y, w, h).
    pub area: Option<[u32; 4]>,
    /// The image of the flagged row or area (served by flag id).
    pub crop: Option<String>,
    /// The whole page with every box outlined.
    pub page_image: String,
    /// OCR'd text (a name, a comment), shown as text only.
    pub text: Option<Text>,
    pub machine_label: String,
    pub choices: Vec<Choice>,
    /// The value Enter accepts (None: the machine had no reading to accept).
    pub accept: Option<String>,
    pub decision: Option<Shown>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub option: String,
    pub label: String,
    pub score: f32,
    pub class: &'static str,
    pub class_label: &'static str,
    /// Pixel box on the upright page (x, y, w, h).
    pub px: [u32; 4],
}

#[derive(Debug, Clone, Serialize)]
pub struct Text {
    pub label: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Choice {
    /// The key that picks it ("1"…"9", "0"), or "" for mouse only.
    pub key: String,
    pub value: String,
    pub label: String,
    /// "" none, "optional" or "required": a note is asked before sending.
    pub note: &'static str,
    pub note_prompt: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    pub value: String,
    pub label: String,
    pub reviewer: String,
    pub at: String,
    pub note: String,
}

/// Order of kinds when urgency ties: what changes a count first, comments last.
#[must_use]
pub fn kind_rank(kind: FlagKind) -> u8 {
    match kind {
        FlagKind::Marginal => 0,
        FlagKind::Overvote => 1,
        FlagKind::NameCheck => 2,
        FlagKind::IntegrityFeedback => 3,
        FlagKind::Duplicate => 4,
        FlagKind::UnknownSerial => 5,
        FlagKind::Rejected => 6,
        FlagKind::Comment => 7,
    }
}

#[must_use]
pub fn kind_label(kind: FlagKind) -> &'static str {
    match kind {
        FlagKind::Marginal => "勾选不清",
        FlagKind::Overvote => "多选",
        FlagKind::NameCheck => "姓名核对",
        FlagKind::IntegrityFeedback => "廉洁问题反映",
        FlagKind::Comment => "意见建议",
        FlagKind::Duplicate => "重复表格",
        FlagKind::Rejected => "无法识别",
        FlagKind::UnknownSerial => "未登记编号",
    }
}

fn class_str(c: CellClass) -> (&'static str, &'static str) {
    match c {
        CellClass::Empty => ("empty", "未勾"),
        CellClass::Marginal => ("marginal", "不清"),
        CellClass::Marked => ("marked", "已勾"),
    }
}

/// The most keys a list of choices gets: 1–9.
const DIGIT_KEYS: usize = 9;

fn digit(i: usize) -> String {
    if i < DIGIT_KEYS {
        (i + 1).to_string()
    } else {
        String::new()
    }
}

fn choice(key: impl Into<String>, value: impl Into<String>, label: impl Into<String>) -> Choice {
    Choice {
        key: key.into(),
        value: value.into(),
        label: label.into(),
        note: "",
        note_prompt: "",
    }
}

/// The item for one flag.
#[must_use]
pub fn item(f: &FlagView, labels: &Labels) -> Item {
    let at = printed(f);
    let item_id = f.question.as_ref().map(|q| q.item.clone()).or_else(|| {
        // "subject.item" or "item"
        f.target
            .as_deref()
            .filter(|_| matches!(f.kind, FlagKind::Marginal | FlagKind::Overvote))
            .map(|t| t.rsplit('.').next().unwrap_or(t).to_string())
    });
    let cells: Vec<Cell> = f
        .cells
        .iter()
        .map(|c| {
            let item = c.question.rsplit('.').next().unwrap_or(&c.question);
            let (class, class_label) = class_str(c.class);
            Cell {
                option: c.option.clone(),
                label: labels.option(at, item, &c.option),
                score: c.score,
                class,
                class_label,
                px: c.px,
            }
        })
        .collect();
    let branch = labels.branch_of(None, f.page.layout_hash.as_deref());
    let choices = choices(f, labels, item_id.as_deref(), branch.as_deref());
    let label_of = |v: &str| {
        choices
            .iter()
            .find(|c| c.value == v)
            .map_or_else(|| v.to_string(), |c| c.label.clone())
    };
    let accept = match f.kind {
        FlagKind::Comment => Some("seen".to_string()),
        _ => Some(f.machine_value.clone()).filter(|v| choices.iter().any(|c| &c.value == v)),
    };
    let machine_label = match f.kind {
        FlagKind::Overvote if f.machine_value.is_empty() => {
            "多个选项都已勾选,机器无法判定".to_string()
        }
        FlagKind::Marginal if f.machine_value.is_empty() => "勾选不清,机器无法判定".to_string(),
        _ if f.machine_value.is_empty() => "无(需人工判定)".to_string(),
        _ => label_of(&f.machine_value),
    };
    Item {
        id: f.id,
        kind: f.kind.as_str(),
        kind_label: kind_label(f.kind),
        blocking: f.blocking,
        open: f.decision.is_none(),
        title: title(f, labels, item_id.as_deref()),
        r#where: place(f, labels),
        detail: detail(f, &cells),
        machine_note: f.detail.clone(),
        urgency: f.urgency,
        version: f.version,
        area: f
            .name
            .as_ref()
            .map(|n| n.px)
            .or(f.writing.as_ref().map(|w| w.px)),
        cells,
        crop: Some(format!("/crop/{}", f.id)),
        page_image: format!("/page/{}", f.id),
        text: text(f),
        machine_label,
        decision: f.decision.as_ref().map(|d| shown(d, &label_of)),
        choices,
        accept,
    }
}

fn shown(d: &Decision, label_of: &dyn Fn(&str) -> String) -> Shown {
    Shown {
        value: d.new_value.clone(),
        label: label_of(&d.new_value),
        reviewer: d.reviewer.clone(),
        at: d.at.clone(),
        note: d.note.clone(),
    }
}

fn printed(f: &FlagView) -> Printed<'_> {
    Printed {
        form: f.page.form.as_deref(),
        layout: f.page.layout_hash.as_deref(),
    }
}

/// "「满意」「不满意」": option labels as a clerk reads them.
fn quoted<'a>(labels: impl Iterator<Item = &'a str>) -> String {
    labels.map(|l| format!("「{l}」")).collect()
}

/// What the clerk is asked, in Chinese, from the facts (the reader's own note may name ids).
fn detail(f: &FlagView, cells: &[Cell]) -> String {
    let of = |class: &str| {
        quoted(
            cells
                .iter()
                .filter(|c| c.class == class)
                .map(|c| c.label.as_str()),
        )
    };
    match f.kind {
        FlagKind::Marginal => format!(
            "{}格里的墨迹比空白多、比勾少,机器不作判断:请看图选出所勾的一项,或按 0 记为空白。",
            of("marginal")
        ),
        FlagKind::Overvote => format!(
            "{}都像打了勾:请看图判断填表人的本意,无法判断时按 0 记为空白(不计)。",
            of("marked")
        ),
        FlagKind::Duplicate => "同一编号的表格此前已经读入过(见下方机器记录):可能是复印件或同一张扫了两次。决定之前只计最先读入的一份。".to_string(),
        FlagKind::UnknownSerial => format!(
            "编号 {} 不在本次活动的打印记录中:可能是复印件、外来表格或别的活动印的表。",
            f.page.serial.as_deref().unwrap_or("?")
        ),
        FlagKind::Rejected => "这一页没有读出表格编号或无法对准(见下方机器记录):请看整页图,作废须写明原因。".to_string(),
        // The reader writes these in Chinese already.
        FlagKind::NameCheck | FlagKind::IntegrityFeedback | FlagKind::Comment => f.detail.clone(),
    }
}

fn title(f: &FlagView, labels: &Labels, item: Option<&str>) -> String {
    let at = printed(f);
    let subject = f.question.as_ref().and_then(|q| q.subject.clone());
    match f.kind {
        FlagKind::Marginal | FlagKind::Overvote => {
            let item = item.map(|i| labels.item(at, i)).unwrap_or_default();
            match subject {
                Some(s) => format!("{} · {item}", labels.subject(&s)),
                None => item,
            }
        }
        FlagKind::NameCheck => {
            let printed = f.name.as_ref().and_then(|n| n.printed.clone());
            match (printed, f.target.as_deref()) {
                (Some(p), _) => format!("姓名栏:印刷姓名 {p}"),
                (None, _) => "姓名栏:手写补填的一行".to_string(),
            }
        }
        FlagKind::IntegrityFeedback | FlagKind::Comment => {
            let id = f
                .writing
                .as_ref()
                .map(|w| w.id.as_str())
                .or(f.target.as_deref())
                .unwrap_or("");
            format!("书写栏:{}", labels.writing(at, id))
        }
        FlagKind::Duplicate => format!(
            "编号 {} 的表格出现了不止一次",
            f.target.as_deref().unwrap_or("?")
        ),
        FlagKind::Rejected => "这一页无法识别".to_string(),
        FlagKind::UnknownSerial => "表格编号不在打印记录中(可能是复印件或外来表格)".to_string(),
    }
}

fn place(f: &FlagView, labels: &Labels) -> String {
    let mut parts = Vec::new();
    if f.page.form.is_some() {
        parts.push(labels.form_title(f.page.form.as_deref()));
    }
    if let Some(p) = f.page.page {
        parts.push(format!("第{p}页"));
    }
    if let Some(s) = &f.page.serial {
        parts.push(format!("编号 {s}"));
    }
    parts.push(format!("{}#{}", f.page.file, f.page.index + 1));
    parts.join(" · ")
}

fn text(f: &FlagView) -> Option<Text> {
    match f.kind {
        FlagKind::NameCheck => f.name.as_ref().map(|n| Text {
            label: "识别出的姓名",
            value: format!("{}(置信度 {:.0})", n.text, n.confidence),
        }),
        FlagKind::IntegrityFeedback | FlagKind::Comment => f.writing.as_ref().map(|w| Text {
            label: "识别出的文字",
            value: w
                .text
                .clone()
                .unwrap_or_else(|| "(未能识别,请看图片)".into()),
        }),
        _ => None,
    }
}

fn choices(f: &FlagView, labels: &Labels, item: Option<&str>, branch: Option<&str>) -> Vec<Choice> {
    let at = printed(f);
    let form = at.form;
    match f.kind {
        FlagKind::Marginal | FlagKind::Overvote => {
            // Keys follow the printed order of the scale, so 1 is always the first column.
            let mut options: Vec<String> = f
                .choices
                .iter()
                .filter(|c| *c != "blank")
                .cloned()
                .collect();
            if let Some(order) = item.and_then(|i| labels.option_order(at, i)) {
                options.sort_by_key(|o| order.iter().position(|x| x == o).unwrap_or(usize::MAX));
            }
            let mut out: Vec<Choice> = options
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    choice(
                        digit(i),
                        o.clone(),
                        labels.option(at, item.unwrap_or(""), o),
                    )
                })
                .collect();
            out.push(choice("0", "blank", "空白(不计)"));
            out
        }
        FlagKind::NameCheck => {
            let printed = f.name.as_ref().and_then(|n| n.printed.clone());
            let mut out = vec![choice(
                "1",
                "ok",
                printed.map_or_else(|| "确认识别结果".to_string(), |p| format!("就是印刷的 {p}")),
            )];
            let own = f.target.as_deref();
            let roster = labels.roster(form, branch);
            for (i, s) in roster
                .iter()
                .filter(|s| Some(s.id.as_str()) != own)
                .enumerate()
            {
                let label = match &s.detail {
                    Some(d) => format!("改为 {}({d})", s.name),
                    None => format!("改为 {}", s.name),
                };
                out.push(choice(digit(i + 1), s.id.clone(), label));
            }
            out.push(choice("0", "reject", "不计此行"));
            out
        }
        FlagKind::IntegrityFeedback => {
            let mut out = vec![choice("0", "none", "未反映问题")];
            // Every post of the sheet (its other pages too), then any the store adds.
            let mut subjects: Vec<String> = labels
                .sheet_subjects(at.layout)
                .into_iter()
                .map(|s| format!("problem:{s}"))
                .collect();
            for c in f.choices.iter().filter(|c| c.starts_with("problem:")) {
                if !subjects.contains(c) {
                    subjects.push(c.clone());
                }
            }
            for (i, v) in subjects.iter().enumerate() {
                let id = v.trim_start_matches("problem:");
                let mut c = choice(
                    digit(i),
                    v.clone(),
                    format!("反映了关于 {} 的问题(待核实)", labels.subject(id)),
                );
                c.note = "optional";
                c.note_prompt = "问题摘要(可选,回车提交)";
                out.push(c);
            }
            out
        }
        FlagKind::Duplicate => vec![
            choice("1", "keep", "保留(另算一份)"),
            choice("0", "discard", "作废这一份"),
        ],
        FlagKind::UnknownSerial => vec![
            choice("1", "count", "计入统计"),
            choice("0", "discard", "不计入"),
        ],
        FlagKind::Rejected => {
            let mut c = choice("0", "discard", "作废(须写原因)");
            c.note = "required";
            c.note_prompt = "作废原因(必填,回车提交)";
            vec![c]
        }
        FlagKind::Comment => vec![choice("1", "seen", "已阅")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_stop_at_nine() {
        assert_eq!(digit(0), "1");
        assert_eq!(digit(8), "9");
        assert_eq!(digit(9), "");
    }

    #[test]
    fn kinds_rank_counting_problems_first_and_comments_last() {
        assert!(kind_rank(FlagKind::Marginal) < kind_rank(FlagKind::Duplicate));
        assert_eq!(kind_rank(FlagKind::Comment), 7);
    }
}
