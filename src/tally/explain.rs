//! Audit trail: every sheet and answer behind one subject's numbers, and whether it counted.

use super::count::dedupe;
use crate::form::{FormDef, OverLimit, SubjectKind};
use crate::sheet::{AnswerValue, Sheet};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ExplainRow {
    pub batch: String,
    pub serial: String,
    pub pages: Vec<String>,
    pub form: String,
    pub question: String,
    pub item: String,
    /// The option id, "blank" or "undecided".
    pub value: String,
    /// A person set or confirmed the value.
    pub reviewed: bool,
    /// Why it does not count, or None when it counts.
    pub not_counted: Option<String>,
}

/// Every answer about `subject` (a candidate or post id, or a branch id for 附1 sheets), in
/// sheet order, with the reason any of them is left out of the count.
pub fn explain(sheets: &[Sheet], forms: &[FormDef], subject: &str) -> Vec<ExplainRow> {
    let (kept, _) = dedupe(sheets);
    let mut out = Vec::new();
    for s in sheets {
        let form = forms.iter().find(|f| f.id == s.form);
        let is_kept = kept.iter().any(|k| std::ptr::eq(*k, s));
        let over = form.and_then(|f| f.rules.recommend.as_ref()).and_then(|r| {
            let ticks = s
                .answers
                .iter()
                .filter(|a| a.item == r.item && matches!(a.value, AnswerValue::Chosen(_)))
                .count();
            (ticks > r.max_per_sheet as usize).then_some((r.item.as_str(), r.over_limit, ticks))
        });
        let by_branch = form.is_some_and(|f| f.subject == SubjectKind::Branch);
        let about = |a_subject: Option<&str>| match a_subject {
            Some(x) => x == subject,
            None => by_branch && s.branch.as_deref() == Some(subject),
        };
        let blank_subject = form.is_some_and(|f| f.rules.skip_blank_subject)
            && s.answers
                .iter()
                .filter(|a| about(a.subject.as_deref()))
                .all(|a| a.value == AnswerValue::Blank);
        for a in s.answers.iter().filter(|a| about(a.subject.as_deref())) {
            let (value, undecided) = match &a.value {
                AnswerValue::Chosen(o) => (o.clone(), false),
                AnswerValue::Blank => ("blank".to_string(), false),
                AnswerValue::Undecided => ("undecided".to_string(), true),
            };
            let not_counted = if form.is_none() {
                Some(format!("表 \"{}\" 不在本次评议中", s.form))
            } else if !is_kept {
                Some("重复序号:另一份已计".into())
            } else if s.discarded {
                Some("复核时作废".into())
            } else if undecided {
                Some("未复核".into())
            } else if blank_subject {
                Some("该对象整行空白,不计".into())
            } else {
                match over {
                    Some((_, OverLimit::VoidSheet, n)) => {
                        Some(format!("推荐 {n} 人超过名额,整表无效"))
                    }
                    Some((item, OverLimit::VoidRecommendations, n))
                        if a.item == item && !matches!(a.value, AnswerValue::Blank) =>
                    {
                        Some(format!("推荐 {n} 人超过名额,推荐无效"))
                    }
                    _ => None,
                }
            };
            out.push(ExplainRow {
                batch: s.batch.clone(),
                serial: s.serial.clone(),
                pages: s.pages.clone(),
                form: s.form.clone(),
                question: a.question.clone(),
                item: a.item.clone(),
                value,
                reviewed: a.reviewed,
                not_counted,
            });
        }
    }
    out
}
