//! From cells to questions: one mark answers, none is blank, two are an overvote, anything
//! unsure is ambiguous; and the flags a clerk reads, worded with the printed names and labels.

use super::outcome::{CellClass, CellReading, Flag, FlagKind, QuestionReading, QuestionState};
use crate::form::MarkThresholds;
use crate::layout::{AnswerCell, Layout, PageLayout};

/// A box this full of ink was painted over (a tick covers at most half of it): with one
/// ticked box beside it, the form's way of correcting an answer.
const PAINTED_SCORE: f64 = 0.6;

/// Distance of a score from the nearest threshold: how close the call was.
fn closeness(score: f32, th: MarkThresholds) -> f32 {
    let s = f64::from(score);
    (s - th.marginal).abs().min((s - th.definite).abs()) as f32
}

/// How a clerk finds a question on the sheet: the printed name of its row, and the item's
/// printed label ("王伟 · 承诺践诺情况").
fn where_is(layout: &Layout, page: &PageLayout, cell: &AnswerCell) -> String {
    let row = cell.subject.as_deref().map(|s| {
        match layout.subject_name(s).map(str::to_string).or_else(|| {
            page.names
                .iter()
                .find(|n| n.subject == s)
                .and_then(|n| n.printed.clone())
        }) {
            Some(name) => name,
            None if s.starts_with("_w") => format!("手写行{}", s.trim_start_matches("_w")),
            None => s.to_string(),
        }
    });
    let item = layout
        .item(&cell.item)
        .map_or(cell.item.as_str(), |i| i.label.as_str());
    match row {
        Some(r) => format!("{r} · {item}"),
        None => item.to_string(),
    }
}

/// A small count in Chinese, as a clerk would say it ("两个格").
fn count_zh(n: usize) -> String {
    match n {
        2 => "两".into(),
        3 => "三".into(),
        4 => "四".into(),
        5 => "五".into(),
        _ => n.to_string(),
    }
}

/// Decide each question of `page` from its cells; flags for the ones a person must see,
/// worded for the clerk with the printed names and labels (`layout` supplies them).
/// `streaked[i]` says a scanner streak crosses cell `i` (missing entries: no streak).
#[must_use]
pub fn decide(
    layout: &Layout,
    page: &PageLayout,
    cells: &[CellReading],
    streaked: &[bool],
    th: MarkThresholds,
) -> (Vec<QuestionReading>, Vec<Flag>) {
    let streaked = |i: usize| streaked.get(i).copied().unwrap_or(false);
    let mut questions = Vec::new();
    let mut flags = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (k, first) in page.cells.iter().enumerate() {
        if seen.contains(&first.question.as_str()) {
            continue;
        }
        seen.push(&first.question);
        let idx: Vec<usize> = (k..page.cells.len().min(cells.len()))
            .filter(|&i| page.cells[i].question == first.question)
            .collect();
        let marked: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&i| cells[i].class == CellClass::Marked)
            .collect();
        let marginal: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&i| cells[i].class == CellClass::Marginal)
            .collect();
        let (state, option) = match (marked.len(), marginal.is_empty()) {
            (n, _) if n >= 2 => (QuestionState::Overvote, None),
            (1, true) => (QuestionState::Answer, Some(cells[marked[0]].option.clone())),
            (_, false) => (QuestionState::Ambiguous, None),
            _ => (QuestionState::Blank, None),
        };
        let label = |i: usize| layout.option_label(&first.item, &cells[i].option);
        // The cells worth a look, with their scores (the stored evidence).
        let scores = |which: &[usize]| {
            which
                .iter()
                .map(|&i| format!("{} {:.2}", label(i), cells[i].score))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let urgency = idx
            .iter()
            .map(|&i| closeness(cells[i].score, th))
            .fold(f32::INFINITY, f32::min);
        let place = where_is(layout, page, first);
        let check = idx.len() == 1;
        match state {
            QuestionState::Overvote => {
                // The form asks for a correction by painting the old box over: say so when
                // that is what it looks like, the reviewer still decides.
                let (painted, ticked): (Vec<usize>, Vec<usize>) = marked
                    .iter()
                    .partition(|&&i| f64::from(cells[i].score) >= PAINTED_SCORE);
                let detail = if painted.len() + ticked.len() == 2 && painted.len() == 1 {
                    format!(
                        "{place}: {}涂满、{}打了勾,像是更正({}),请按本人意思确认",
                        quoted(&painted, &label),
                        quoted(&ticked, &label),
                        scores(&marked)
                    )
                } else {
                    format!(
                        "{place}: {}个格都打了勾({}),请按本人意思确认",
                        count_zh(marked.len()),
                        scores(&marked)
                    )
                };
                flags.push(Flag {
                    kind: FlagKind::Overvote,
                    target: Some(first.question.clone()),
                    detail,
                    urgency,
                });
            }
            QuestionState::Ambiguous => {
                // Say what is unsure: a streak through the box, a small or light mark in
                // it, or ink beside it.
                let dirt: Vec<usize> = marginal.iter().copied().filter(|&i| streaked(i)).collect();
                let weak: Vec<usize> = marginal
                    .iter()
                    .copied()
                    .filter(|&i| !streaked(i) && f64::from(cells[i].score) >= th.marginal)
                    .collect();
                let beside: Vec<usize> = marginal
                    .iter()
                    .copied()
                    .filter(|i| !weak.contains(i) && !dirt.contains(i))
                    .collect();
                let mut why = Vec::new();
                if !dirt.is_empty() {
                    why.push(format!(
                        "{}格:扫描仪有竖线污迹,请人工确认 — 清洁扫描仪",
                        quoted(&dirt, &label)
                    ));
                }
                if !weak.is_empty() {
                    why.push(format!("{}的记号太小或太淡", quoted(&weak, &label)));
                }
                if !beside.is_empty() {
                    why.push(format!("{}格外或格内有浅淡笔迹", quoted(&beside, &label)));
                }
                if !marked.is_empty() {
                    why.push(format!("另有{}打了勾", quoted(&marked, &label)));
                }
                let shown: Vec<usize> = idx
                    .iter()
                    .copied()
                    .filter(|&i| cells[i].class != CellClass::Empty)
                    .collect();
                let what = if check {
                    "是否勾选"
                } else {
                    "选的是哪一项"
                };
                flags.push(Flag {
                    kind: FlagKind::Marginal,
                    target: Some(first.question.clone()),
                    detail: format!(
                        "{place}: {}({}),请看原件确认{what}",
                        why.join(","),
                        scores(&shown)
                    ),
                    urgency,
                });
            }
            _ => {}
        }
        questions.push(QuestionReading {
            question: first.question.clone(),
            subject: first.subject.clone(),
            item: first.item.clone(),
            state,
            option,
        });
    }
    (questions, flags)
}

/// Option labels in 「」, joined with 、.
fn quoted<'a>(which: &[usize], label: &dyn Fn(usize) -> &'a str) -> String {
    which
        .iter()
        .map(|&i| format!("「{}」", label(i)))
        .collect::<Vec<_>>()
        .join("、")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgency_is_the_distance_to_the_nearest_threshold() {
        let th = MarkThresholds {
            marginal: 0.04,
            definite: 0.10,
        };
        assert!((closeness(0.09, th) - 0.01).abs() < 1e-6);
    }

    fn member_layout() -> Layout {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let campaign =
            crate::campaign::Campaign::load(&dir.join("fixtures/campaign/campaign.toml")).unwrap();
        let form = crate::form::seed_forms()
            .unwrap()
            .into_iter()
            .find(|f| f.id == "member")
            .unwrap();
        let branch = campaign.require_branch("jiguan1").unwrap();
        crate::layout::layout(&form, &campaign, Some(branch)).unwrap()
    }

    fn cells_with(page: &PageLayout, set: &[(usize, f32, CellClass)]) -> Vec<CellReading> {
        page.cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (score, class) = set
                    .iter()
                    .find(|s| s.0 == i)
                    .map_or((0.0, CellClass::Empty), |s| (s.1, s.2));
                CellReading {
                    question: c.question.clone(),
                    option: c.option.clone(),
                    score,
                    class,
                    px: [0; 4],
                }
            })
            .collect()
    }

    #[test]
    fn flags_name_the_person_the_item_and_the_options_in_chinese() {
        let layout = member_layout();
        let page = &layout.pages[0];
        let th = layout.thresholds;
        let first = &page.cells[0];
        let name = layout
            .subject_name(first.subject.as_deref().unwrap())
            .unwrap();
        let item = layout.item(&first.item).unwrap().label.clone();
        let (o0, o1) = (
            layout.option_label(&first.item, &page.cells[0].option),
            layout.option_label(&first.item, &page.cells[1].option),
        );
        let cells = cells_with(
            page,
            &[(0, 0.31, CellClass::Marked), (1, 0.27, CellClass::Marked)],
        );
        let (qs, flags) = decide(&layout, page, &cells, &[], th);
        assert_eq!(qs[0].state, QuestionState::Overvote);
        assert_eq!(flags.len(), 1);
        let d = &flags[0].detail;
        assert!(
            d.starts_with(&format!("{name} · {item}: 两个格都打了勾")),
            "{d}"
        );
        assert!(d.contains(&format!("{o0} 0.31, {o1} 0.27")), "{d}");

        let cells = cells_with(page, &[(1, 0.03, CellClass::Marginal)]);
        let (qs, flags) = decide(&layout, page, &cells, &[], th);
        assert_eq!(qs[0].state, QuestionState::Ambiguous);
        assert!(
            flags[0]
                .detail
                .contains(&format!("「{o1}」的记号太小或太淡")),
            "{}",
            flags[0].detail
        );
        // A painted box and a ticked one: still an overvote, worded as the correction it
        // looks like.
        let cells = cells_with(
            page,
            &[(0, 0.92, CellClass::Marked), (2, 0.21, CellClass::Marked)],
        );
        let (qs, flags) = decide(&layout, page, &cells, &[], th);
        assert_eq!(qs[0].state, QuestionState::Overvote);
        let o2 = layout.option_label(&first.item, &page.cells[2].option);
        assert!(
            flags[0]
                .detail
                .contains(&format!("「{o0}」涂满、「{o2}」打了勾,像是更正")),
            "{}",
            flags[0].detail
        );
        // One clear mark and nothing else: a confident answer, no flag.
        let cells = cells_with(page, &[(1, 0.2, CellClass::Marked)]);
        let (qs, flags) = decide(&layout, page, &cells, &[], th);
        assert_eq!(qs[0].state, QuestionState::Answer);
        assert_eq!(qs[0].option.as_deref(), Some(page.cells[1].option.as_str()));
        assert!(flags.is_empty());
    }
}
