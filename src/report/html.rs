//! A self-contained HTML report (no external URL: styles and SVG charts inline) that prints on
//! A4. Charts: stacked bars of the grades per item (附1) or per subject (附2, 附3) with the pass
//! line, and recommend votes against the quota line. Every number sits in a table beside its
//! chart with the subject id, so `pingyi explain --batch … <id>` traces it to sheets.
//!
//! Fonts are not embedded (a CJK font is megabytes); the font stack names the CJK fonts found
//! on Debian (Noto Sans CJK SC), Windows (Microsoft YaHei) and macOS (PingFang SC).

use super::{form_heading, grade_options, marking, recommend_votes, rounding_label, subject_label};
use crate::form::SubjectKind;
use crate::tally::{BranchDecision, FormTally, Outcome, Rate, Tally};
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Grade colours from best to worst (green → red); extra grades of longer scales reuse greys.
const PALETTE: [&str; 6] = [
    "#2e7d32", "#8bc34a", "#ffb300", "#e53935", "#8d6e63", "#9e9e9e",
];

const CSS: &str = r#"
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "PingyiReport", "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
       color: #222; margin: 0 auto; max-width: 186mm; font-size: 10.5pt; line-height: 1.45; }
h1 { font-size: 17pt; text-align: center; margin: 4mm 0 1mm; }
h2 { font-size: 13pt; border-bottom: 2px solid #345; padding-bottom: 1mm; margin-top: 7mm; break-after: avoid; }
h3 { font-size: 11pt; margin: 4mm 0 1mm; break-after: avoid; }
.sub { text-align: center; color: #555; margin: 0 0 3mm; }
.provisional { border: 3px solid #b00; color: #b00; font-weight: bold; text-align: center; padding: 2mm; font-size: 13pt; margin: 3mm 0; }
.final { border: 2px solid #2e7d32; color: #2e7d32; text-align: center; padding: 1.5mm; margin: 3mm 0; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm; font-size: 9.5pt; }
th, td { border: 1px solid #999; padding: 0.6mm 1.5mm; white-space: nowrap; }
td.wrap { white-space: normal; }
th { background: #e4eaf2; font-weight: bold; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.total td { font-weight: bold; background: #f6f6f6; }
.pass { color: #2e7d32; font-weight: bold; } .fail { color: #c62828; font-weight: bold; }
.tie { color: #b00; font-weight: bold; }
.note { color: #444; font-size: 9pt; }
.legend span { display: inline-block; margin-right: 4mm; font-size: 9pt; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 1mm; vertical-align: -1px; }
.block { break-inside: avoid; }
svg { display: block; margin: 1mm 0; }
svg text { font-size: 11px; }
"#;

/// One labelled stacked bar: segments are option counts, satisfied options first.
struct Bar {
    label: String,
    segments: Vec<(usize, u64)>,
    rate: Rate,
}

/// Horizontal stacked bars scaled to 100 % with a dashed pass line at `pass` (num/den).
fn stacked_bars(bars: &[Bar], pass: (u64, u64), pass_label: &str) -> String {
    // Geometry in px at 96 dpi: 700 px ≈ 185 mm, the A4 text width.
    let (label_w, bar_w, row_h, top) = (190.0, 420.0, 20.0, 16.0);
    let h = top + row_h * bars.len() as f64 + 6.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="700" height="{h}" viewBox="0 0 700 {h}" role="img">"#
    );
    for (k, b) in bars.iter().enumerate() {
        let y = top + row_h * k as f64;
        let total: u64 = b.segments.iter().map(|x| x.1).sum();
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{}</text>"#,
            label_w - 6.0,
            y + 13.0,
            esc(&b.label)
        );
        let mut x = label_w;
        if total == 0 {
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{}" width="{bar_w}" height="{}" fill="#eee"/><text x="{}" y="{}" fill="#777">无有效评价</text>"##,
                y + 2.0,
                row_h - 5.0,
                x + 6.0,
                y + 13.0
            );
            continue;
        }
        for &(color, n) in &b.segments {
            let w = bar_w * n as f64 / total as f64;
            if w > 0.0 {
                let _ = write!(
                    s,
                    r#"<rect x="{x:.2}" y="{}" width="{w:.2}" height="{}" fill="{}"/>"#,
                    y + 2.0,
                    row_h - 5.0,
                    PALETTE[color.min(PALETTE.len() - 1)]
                );
                if w > 16.0 {
                    let _ = write!(
                        s,
                        r##"<text x="{:.2}" y="{}" text-anchor="middle" fill="#fff">{n}</text>"##,
                        x + w / 2.0,
                        y + 13.0
                    );
                }
            }
            x += w;
        }
        let cls = if b.rate.passes { "#2e7d32" } else { "#c62828" };
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" fill="{cls}">{}</text>"#,
            label_w + bar_w + 6.0,
            y + 13.0,
            b.rate.percent()
        );
    }
    let px = label_w + bar_w * pass.0 as f64 / pass.1.max(1) as f64;
    let _ = write!(
        s,
        r##"<line x1="{px:.2}" y1="10" x2="{px:.2}" y2="{}" stroke="#000" stroke-width="1.5" stroke-dasharray="4 3"/><text x="{px:.2}" y="9" text-anchor="middle">{}</text></svg>"##,
        h - 2.0,
        esc(pass_label)
    );
    s
}

/// Recommend votes per candidate (most first) with a dashed line under the last seat.
fn votes_chart(d: &BranchDecision) -> String {
    let (label_w, bar_w, row_h, top) = (120.0, 420.0, 20.0, 6.0);
    let max = d
        .candidates
        .iter()
        .map(|c| c.votes)
        .max()
        .unwrap_or(0)
        .max(1);
    let h = top + row_h * d.candidates.len() as f64 + 8.0;
    let mut s = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="700" height="{h}" viewBox="0 0 700 {h}" role="img">"#
    );
    for (k, c) in d.candidates.iter().enumerate() {
        let y = top + row_h * k as f64;
        let w = bar_w * c.votes as f64 / max as f64;
        let fill = match c.outcome {
            Outcome::Excellent => "#2e7d32",
            Outcome::Tie => "#ff8f00",
            Outcome::NotSelected => "#90a4ae",
            Outcome::Ineligible => "#e0e0e0",
        };
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" text-anchor="end">{}</text><rect x="{label_w}" y="{}" width="{w:.2}" height="{}" fill="{fill}" stroke="#555" stroke-width="0.5"/><text x="{:.2}" y="{}">{} 票 · {}</text>"##,
            label_w - 6.0,
            y + 13.0,
            esc(&c.name),
            y + 2.0,
            row_h - 5.0,
            label_w + w + 5.0,
            y + 13.0,
            c.votes,
            c.outcome.label()
        );
        if k as u64 + 1 == d.quota && k + 1 < d.candidates.len() {
            let ly = y + row_h - 0.5;
            let _ = write!(
                s,
                r##"<line x1="10" y1="{ly}" x2="690" y2="{ly}" stroke="#b00" stroke-width="1.5" stroke-dasharray="6 3"/><text x="690" y="{}" text-anchor="end" fill="#b00">名额线({} 名)</text>"##,
                ly - 2.0,
                d.quota
            );
        }
    }
    s.push_str("</svg>");
    s
}

fn legend(f: &FormTally, order: &[usize], grades: &[(String, String)]) -> String {
    let mut s = String::from(r#"<div class="legend">"#);
    for (k, &g) in order.iter().enumerate() {
        let sat = if f.satisfied.contains(&grades[g].0) {
            "(计入满意)"
        } else {
            ""
        };
        let _ = write!(
            s,
            r#"<span><i style="background:{}"></i>{}{}</span>"#,
            PALETTE[k.min(PALETTE.len() - 1)],
            esc(&grades[g].1),
            sat
        );
    }
    s.push_str("</div>");
    s
}

fn form_section(o: &mut String, f: &FormTally) {
    let grades = grade_options(f);
    // Satisfied grades first so the pass line reads against the left part of each bar.
    let mut order: Vec<usize> = (0..grades.len())
        .filter(|&k| f.satisfied.contains(&grades[k].0))
        .collect();
    order.extend((0..grades.len()).filter(|&k| !f.satisfied.contains(&grades[k].0)));
    let pass = (f.pass_at_least.num, f.pass_at_least.den);
    let pass_label = format!("{} 线", f.pass_at_least);
    let s = &f.sheets;
    let _ = write!(
        o,
        r#"<h2>{}</h2><p>回收 {} 份:有效 <b>{}</b>,空白 {},作废 {}(复核作废 {},超额整表无效 {})。满意率 = ({})÷ 有效评价数,须 ≥ {}(含)。</p>"#,
        esc(&form_heading(f)),
        s.returned,
        s.valid,
        s.blank,
        s.invalid(),
        s.discarded,
        s.void,
        esc(&f
            .satisfied
            .iter()
            .map(|x| super::option_label(f, x))
            .collect::<Vec<_>>()
            .join(" + ")),
        f.pass_at_least
    );
    let seg = |i: &crate::tally::ItemTally| {
        order
            .iter()
            .enumerate()
            .map(|(k, &g)| (k, i.count(&grades[g].0)))
            .collect::<Vec<_>>()
    };
    let sum_seg = |st: &crate::tally::SubjectTally| {
        order
            .iter()
            .enumerate()
            .map(|(k, &g)| {
                (
                    k,
                    st.items
                        .iter()
                        .filter(|i| !i.check)
                        .map(|i| i.count(&grades[g].0))
                        .sum(),
                )
            })
            .collect::<Vec<_>>()
    };
    o.push_str(&legend(f, &order, &grades));
    if f.subject_kind == SubjectKind::Branch || f.subject_kind == SubjectKind::None {
        for st in &f.subjects {
            let bars: Vec<Bar> = st
                .items
                .iter()
                .filter(|i| !i.check)
                .map(|i| Bar {
                    label: i.label.clone(),
                    segments: seg(i),
                    rate: i.rate.unwrap_or(st.rate),
                })
                .collect();
            let _ = write!(
                o,
                r#"<div class="block"><h3>{}({})</h3>"#,
                esc(&subject_label(st)),
                esc(&st.id)
            );
            o.push_str(&stacked_bars(&bars, pass, &pass_label));
            o.push_str("</div>");
        }
    } else {
        let bars: Vec<Bar> = f
            .subjects
            .iter()
            .map(|st| Bar {
                label: subject_label(st),
                segments: sum_seg(st),
                rate: st.rate,
            })
            .collect();
        let _ = write!(o, r#"<div class="block">"#);
        o.push_str(&stacked_bars(&bars, pass, &pass_label));
        o.push_str("</div>");
    }
    // The numbers behind the chart.
    let has_rec = f.subjects.iter().any(|s| recommend_votes(s).is_some());
    let _ = write!(o, "<table><tr><th>编号</th><th>对象</th><th>项目</th>");
    for g in &grades {
        let _ = write!(o, "<th>{}</th>", esc(&g.1));
    }
    o.push_str("<th>有效评价</th><th>满意率</th><th>结果</th>");
    if has_rec {
        o.push_str("<th>推荐票</th>");
    }
    o.push_str("</tr>");
    for st in &f.subjects {
        let _ = write!(
            o,
            r#"<tr class="total"><td>{}</td><td>{}</td><td>合计</td>"#,
            esc(&st.id),
            esc(&subject_label(st))
        );
        for g in &grades {
            let n: u64 = st
                .items
                .iter()
                .filter(|i| !i.check)
                .map(|i| i.count(&g.0))
                .sum();
            let _ = write!(o, r#"<td class="n">{n}</td>"#);
        }
        let (cls, word) = if st.rate.passes {
            ("pass", "达标")
        } else {
            ("fail", "未达标")
        };
        let _ = write!(
            o,
            r#"<td class="n">{}</td><td class="n">{}</td><td class="{cls}">{word}</td>"#,
            st.rate.graded,
            st.rate.percent()
        );
        if has_rec {
            let _ = write!(
                o,
                r#"<td class="n">{}</td>"#,
                recommend_votes(st).map_or_else(String::new, |v| v.to_string())
            );
        }
        o.push_str("</tr>");
        // A subject nobody graded gets its total row only.
        for i in st.items.iter().filter(|i| !i.check && st.rate.graded > 0) {
            let _ = write!(
                o,
                r#"<tr><td></td><td></td><td class="wrap">{}</td>"#,
                esc(&i.label)
            );
            for g in &grades {
                let _ = write!(o, r#"<td class="n">{}</td>"#, i.count(&g.0));
            }
            let r = i.rate.unwrap_or(st.rate);
            let _ = write!(
                o,
                r#"<td class="n">{}</td><td class="n">{}</td><td></td>"#,
                r.graded,
                r.percent()
            );
            if has_rec {
                o.push_str("<td></td>");
            }
            o.push_str("</tr>");
        }
    }
    o.push_str("</table>");
    for st in f.subjects.iter().filter(|s| {
        s.sheets_skipped_blank > 0 || s.sheets_partial > 0 || s.recommendations_voided > 0
    }) {
        let _ = write!(
            o,
            r#"<p class="note">注:{} —— {} 份整项空白,不计入;{} 份部分填写,只计已填项目;{} 张推荐票因所在表超额无效。</p>"#,
            esc(&subject_label(st)),
            st.sheets_skipped_blank,
            st.sheets_partial,
            st.recommendations_voided
        );
    }
}

fn decision_section(o: &mut String, d: &BranchDecision) {
    let _ = write!(
        o,
        r#"<div class="block"><h3>{}:党员 {} 人 × {} = 名额 <b>{}</b> 名({})</h3>"#,
        esc(&d.branch_name),
        d.members,
        d.quota_ratio,
        d.quota,
        rounding_label(d.quota_rounding)
    );
    o.push_str(&votes_chart(d));
    o.push_str("<table><tr><th>名次</th><th>编号</th><th>姓名</th><th>推荐票</th><th>满意率</th><th>窗口岗位群众满意率</th><th>结果</th><th>说明</th></tr>");
    for c in &d.candidates {
        let win = c
            .window
            .iter()
            .map(|w| format!("{} {}", w.title, w.rate.percent()))
            .collect::<Vec<_>>()
            .join(";");
        let cls = match c.outcome {
            Outcome::Excellent => "pass",
            Outcome::Tie => "tie",
            Outcome::Ineligible => "fail",
            Outcome::NotSelected => "",
        };
        let _ = write!(
            o,
            r#"<tr><td class="n">{}</td><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}({}/{})</td><td class="wrap">{}</td><td class="{cls}">{}</td><td class="wrap">{}</td></tr>"#,
            c.rank,
            esc(&c.id),
            esc(&c.name),
            c.votes,
            c.rate.percent(),
            c.rate.satisfied,
            c.rate.graded,
            esc(&win),
            c.outcome.label(),
            esc(&c.ineligible.join(";"))
        );
    }
    o.push_str("</table>");
    if let Some(t) = &d.tie {
        let names: Vec<_> = d
            .candidates
            .iter()
            .filter(|c| c.outcome == Outcome::Tie)
            .map(|c| esc(&c.name))
            .collect();
        let _ = write!(
            o,
            r#"<p class="tie">同票:{} 均为 {} 票,争剩余 {} 个名额 —— 程序不作决定,请评议委员会决定。</p>"#,
            names.join("、"),
            t.votes,
            t.seats
        );
    }
    o.push_str("</div>");
}

pub fn render(t: &Tally) -> String {
    let mut o = String::new();
    let title = format!("{} 评议结果", t.campaign);
    let _ = write!(
        o,
        r#"<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{}</title><style>{CSS}</style></head><body>"#,
        esc(&title)
    );
    let _ = write!(o, "<h1>{}</h1>", esc(&title));
    match marking(t) {
        Some(m) => {
            let _ = write!(o, r#"<div class="provisional">{}</div>"#, esc(&m));
        }
        None => o.push_str(r#"<div class="final">已全部复核 · 最终结果</div>"#),
    }
    o.push_str(r#"<p class="sub">每个数字均可追溯:<code>pingyi explain --batch 批次目录 编号</code> 列出其背后的每一张表和每一个答案。</p>"#);
    if !t.turnout.is_empty() {
        o.push_str("<h2>回收情况</h2><table><tr><th>表</th><th>支部</th><th>印发</th><th>收回</th><th>回收率</th><th>未印发序号</th></tr>");
        for r in &t.turnout {
            let rate = if r.printed == 0 {
                "—".to_string()
            } else {
                Rate {
                    satisfied: r.returned,
                    graded: r.printed,
                    passes: false,
                }
                .percent()
            };
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{rate}</td><td class="n">{}</td></tr>"#,
                esc(&super::form_label(t, &r.form)),
                esc(&super::turnout_branch(r)),
                r.printed,
                r.returned,
                r.unprinted
            );
        }
        o.push_str("</table>");
    }
    if !t.excellent.is_empty() {
        o.push_str("<h2>优秀党员评选</h2><p class=\"note\">条件:推荐票按名次取名额内;附2满意率达标;窗口岗位候选人附3群众满意率同时达标;无一票否决。同票跨名额线时交评议委员会决定。</p>");
        for d in &t.excellent {
            decision_section(&mut o, d);
        }
    }
    for f in &t.forms {
        form_section(&mut o, f);
    }
    let mut audit = String::new();
    for v in &t.vetoes {
        let _ = write!(
            audit,
            "<li>一票否决:{}({})—— {}(核实:{},{})</li>",
            esc(&v.name),
            esc(&v.person),
            esc(&v.veto.reason),
            esc(&v.veto.verified_by),
            esc(&v.veto.date)
        );
    }
    for v in &t.vetoes_unmatched {
        let _ = write!(
            audit,
            "<li>否决名单中的「{}」不在本次评议对象中,未生效</li>",
            esc(&v.person)
        );
    }
    for d in &t.duplicates {
        let kept = d
            .kept
            .as_ref()
            .map_or("(均作废)".to_string(), |k| k.batch.clone());
        let _ = write!(
            audit,
            "<li>重复序号 {}:计入批次 {},另 {} 份未计{}</li>",
            esc(&d.serial),
            esc(&kept),
            d.dropped.len(),
            if d.same_answers {
                "(内容相同)"
            } else {
                "(内容不同,请核对)"
            }
        );
    }
    for s in &t.over_limit {
        let _ = write!(
            audit,
            "<li>推荐超额:批次 {} 序号 {} 推荐 {} 人(上限 {}),{}</li>",
            esc(&s.sheet.batch),
            esc(&s.sheet.serial),
            s.ticks,
            s.max_per_sheet,
            super::table::over_label(s.action)
        );
    }
    for s in &t.unknown_forms {
        let _ = write!(audit, "<li>{},未计</li>", esc(&super::unknown_line(s)));
    }
    for p in &t.pending {
        let _ = write!(
            audit,
            "<li>待复核:批次 {} 序号 {} {} {}</li>",
            esc(&p.batch),
            esc(&p.serial),
            esc(&p.page),
            esc(&super::pending_what(t, p))
        );
    }
    if !audit.is_empty() {
        let _ = write!(o, "<h2>核查事项</h2><ul>{audit}</ul>");
    }
    o.push_str("</body></html>\n");
    embed_font(o)
}

/// Put a subset of the CJK font into the page, so it reads (and prints) the same on a machine
/// without Chinese fonts. Without a font on this machine the page still names common ones.
fn embed_font(page: String) -> String {
    let face = crate::print::Font::discover(None)
        .map_err(|e| e.to_string())
        .and_then(|f| super::webfont::font_face(&f, &page).map_err(|e| e.to_string()));
    match face {
        Ok(face) => page.replacen("<style>", &format!("<style>{face}"), 1),
        Err(why) => page.replacen(
            "<style>",
            &format!(
                "<!-- font not embedded: {} --><style>",
                esc(&why).replace("--", "—")
            ),
            1,
        ),
    }
}
