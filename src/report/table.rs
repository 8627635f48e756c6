//! The terminal table: Chinese labels aligned by display width (a CJK character is two
//! columns wide), one section per form, then the excellent-member decision and the audit lists.

use super::{form_heading, grade_options, marking, recommend_votes, rounding_label, subject_label};
use crate::tally::{Outcome, Tally};
use std::fmt::Write;
use unicode_width::UnicodeWidthStr;

/// Pad every column to its widest cell; columns from `numeric_from` on are right-aligned.
pub fn grid(rows: &[Vec<String>], numeric_from: usize) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.width())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            let pad = " ".repeat(widths[c].saturating_sub(cell.width()));
            if c > 0 {
                line.push_str("  ");
            }
            if c >= numeric_from {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn yes_no(b: bool) -> String {
    if b { "达标" } else { "未达标" }.to_string()
}

pub fn render(t: &Tally) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{} 评议结果", t.campaign);
    if let Some(m) = marking(t) {
        let _ = writeln!(o, "【{m}】");
    }
    for f in &t.forms {
        let s = &f.sheets;
        let _ = writeln!(
            o,
            "\n== {} ==\n回收 {} 份:有效 {},空白 {},作废 {}(复核作废 {},超额整表无效 {});满意率 = ({}) ÷ 有效评价,须 ≥ {}",
            form_heading(f),
            s.returned,
            s.valid,
            s.blank,
            s.invalid(),
            s.discarded,
            s.void,
            f.satisfied.iter().map(|x| super::option_label(f, x)).collect::<Vec<_>>().join("+"),
            f.pass_at_least
        );
        let grades = grade_options(f);
        let has_rec = f.subjects.iter().any(|s| recommend_votes(s).is_some());
        let mut head = vec!["对象".to_string(), "项目".to_string()];
        head.extend(grades.iter().map(|g| g.1.clone()));
        head.extend(["有效评价", "满意率", "结果"].map(String::from));
        if has_rec {
            head.push("推荐票".into());
        }
        let mut rows = vec![head];
        for sub in &f.subjects {
            // A subject nobody graded gets its total row only.
            let shown: Vec<_> = sub
                .items
                .iter()
                .filter(|i| !i.check && sub.rate.graded > 0)
                .collect();
            for i in &shown {
                let mut r = vec![String::new(), i.label.clone()];
                r.extend(grades.iter().map(|g| i.count(&g.0).to_string()));
                let rate = i.rate.unwrap_or(sub.rate);
                r.extend([rate.graded.to_string(), rate.percent(), String::new()]);
                rows.push(r);
            }
            let mut r = vec![subject_label(sub), "合计".to_string()];
            r.extend(grades.iter().map(|g| {
                sub.items
                    .iter()
                    .filter(|i| !i.check)
                    .map(|i| i.count(&g.0))
                    .sum::<u64>()
                    .to_string()
            }));
            r.extend([
                sub.rate.graded.to_string(),
                sub.rate.percent(),
                yes_no(sub.rate.passes),
            ]);
            if has_rec {
                r.push(recommend_votes(sub).map_or_else(String::new, |v| v.to_string()));
            }
            // The subject's total row goes first, its items under it.
            let at = rows.len() - shown.len();
            rows.insert(at, r);
        }
        o.push_str(&grid(&rows, 2));
        for sub in f
            .subjects
            .iter()
            .filter(|s| s.sheets_partial > 0 || s.sheets_skipped_blank > 0)
        {
            let _ = writeln!(
                o,
                "  注:{} 有 {} 份整项空白未计,{} 份部分填写(只计已答项目)",
                subject_label(sub),
                sub.sheets_skipped_blank,
                sub.sheets_partial
            );
        }
    }
    for d in &t.excellent {
        let _ = writeln!(
            o,
            "\n== 优秀党员评选:{}(党员 {} 人 × {} = 名额 {},{})==",
            d.branch_name,
            d.members,
            d.quota_ratio,
            d.quota,
            rounding_label(d.quota_rounding)
        );
        let mut rows = vec![[
            "名次",
            "姓名",
            "推荐票",
            "满意率",
            "窗口岗位",
            "结果",
            "说明",
        ]
        .map(String::from)
        .to_vec()];
        for c in &d.candidates {
            let win = c
                .window
                .iter()
                .map(|w| format!("{} {}", w.title, w.rate.percent()))
                .collect::<Vec<_>>()
                .join(";");
            rows.push(vec![
                c.rank.to_string(),
                c.name.clone(),
                c.votes.to_string(),
                c.rate.percent(),
                win,
                c.outcome.label().to_string(),
                c.ineligible.join(";"),
            ]);
        }
        o.push_str(&grid(&rows, 7));
        if let Some(tie) = &d.tie {
            let names: Vec<_> = d
                .candidates
                .iter()
                .filter(|c| c.outcome == Outcome::Tie)
                .map(|c| c.name.clone())
                .collect();
            let _ = writeln!(
                o,
                "  ★ 同票:{} 均为 {} 票,争剩余 {} 个名额 —— 请评议委员会决定",
                names.join("、"),
                tie.votes,
                tie.seats
            );
        }
    }
    if !t.turnout.is_empty() {
        let _ = writeln!(o, "\n== 回收情况 ==");
        let mut rows = vec![["表", "支部", "印发", "收回", "未印发序号"]
            .map(String::from)
            .to_vec()];
        for r in &t.turnout {
            rows.push(vec![
                super::form_label(t, &r.form),
                super::turnout_branch(r),
                r.printed.to_string(),
                r.returned.to_string(),
                r.unprinted.to_string(),
            ]);
        }
        o.push_str(&grid(&rows, 2));
    }
    for d in &t.duplicates {
        let _ = writeln!(
            o,
            "重复序号 {}:计入 {},另有 {} 份未计{}",
            d.serial,
            d.kept
                .as_ref()
                .map_or("(均作废)".to_string(), |k| k.batch.clone()),
            d.dropped.len(),
            if d.same_answers {
                "(内容相同)"
            } else {
                "(内容不同,请核对)"
            }
        );
    }
    for s in &t.over_limit {
        let _ = writeln!(
            o,
            "推荐超额:{} 序号 {} 推荐 {} 人(上限 {}),{}",
            s.sheet.batch,
            s.sheet.serial,
            s.ticks,
            s.max_per_sheet,
            over_label(s.action)
        );
    }
    for v in &t.vetoes {
        let _ = writeln!(
            o,
            "一票否决:{} —— {}(核实:{},{})",
            v.name, v.veto.reason, v.veto.verified_by, v.veto.date
        );
    }
    for v in &t.vetoes_unmatched {
        let _ = writeln!(o, "否决名单中的「{}」不在本次评议对象中,未生效", v.person);
    }
    for s in &t.unknown_forms {
        let _ = writeln!(o, "{},未计", super::unknown_line(s));
    }
    if !t.pending.is_empty() {
        let _ = writeln!(o, "\n== 待复核 {} 项 ==", t.pending.len());
        // A terminal table is read, not searched: the first screenful, then where the rest is.
        const SHOWN: usize = 12;
        for p in t.pending.iter().take(SHOWN) {
            let _ = writeln!(
                o,
                "{} 序号 {} {} {}",
                p.batch,
                p.serial,
                p.page,
                super::pending_what(t, p)
            );
        }
        if t.pending.len() > SHOWN {
            let _ = writeln!(
                o,
                "… 另有 {} 项 (全部: pingyi review --batch 批次目录 --list, 或 --format json)",
                t.pending.len() - SHOWN
            );
        }
    }
    o
}

pub fn over_label(a: crate::form::OverLimit) -> &'static str {
    match a {
        crate::form::OverLimit::VoidRecommendations => "该表推荐无效(评价仍计)",
        crate::form::OverLimit::VoidSheet => "整表无效",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_cells_align_by_display_width() {
        let rows = vec![
            vec!["姓名".to_string(), "票".to_string()],
            vec!["Li".to_string(), "12".to_string()],
        ];
        let g = grid(&rows, 1);
        let lines: Vec<_> = g.lines().collect();
        assert_eq!(lines[0], "姓名  票");
        assert_eq!(lines[1], "Li    12");
        assert_eq!(lines[0].width(), lines[1].width());
    }
}
