//! XLSX: a 概况 sheet, one sheet per form (subject × item × grade, frozen headers) and a
//! 优秀党员 sheet. A provisional tally says so in the first row of every sheet.

use super::{form_heading, grade_options, marking, recommend_votes, rounding_label, subject_label};
use crate::tally::Tally;
use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};

/// Excel refuses sheet names over 31 characters or with []:*?/\.
fn sheet_name(s: &str) -> String {
    let clean: String = s.chars().filter(|c| !"[]:*?/\\".contains(*c)).collect();
    clean.chars().take(31).collect()
}

fn banner(
    ws: &mut Worksheet,
    t: &Tally,
    title: &str,
    bold: &Format,
    warn: &Format,
) -> Result<(), XlsxError> {
    ws.write_string_with_format(0, 0, title, bold)?;
    if let Some(m) = marking(t) {
        ws.write_string_with_format(1, 0, m, warn)?;
    }
    Ok(())
}

fn header(ws: &mut Worksheet, row: u32, cols: &[&str], f: &Format) -> Result<(), XlsxError> {
    for (c, h) in cols.iter().enumerate() {
        ws.write_string_with_format(row, c as u16, *h, f)?;
    }
    // Rows above and including the header stay visible while scrolling.
    ws.set_freeze_panes(row + 1, 0)?;
    Ok(())
}

pub fn render(t: &Tally) -> Result<Vec<u8>, XlsxError> {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let head = Format::new()
        .set_bold()
        .set_background_color("#DDE5F0")
        .set_border(rust_xlsxwriter::FormatBorder::Thin);
    let warn = Format::new().set_bold().set_font_color("#B00000");

    let ws = wb.add_worksheet();
    ws.set_name("概况")?;
    banner(ws, t, &format!("{} 评议结果", t.campaign), &bold, &warn)?;
    header(
        ws,
        3,
        &["表", "回收", "有效", "空白", "复核作废", "超额整表无效"],
        &head,
    )?;
    let mut r = 4;
    for f in &t.forms {
        let s = &f.sheets;
        ws.write_string(r, 0, form_heading(f))?;
        for (c, v) in [s.returned, s.valid, s.blank, s.discarded, s.void]
            .iter()
            .enumerate()
        {
            ws.write_number(r, c as u16 + 1, *v as f64)?;
        }
        r += 1;
    }
    r += 1;
    for (c, h) in ["表", "支部", "印发", "收回", "未印发序号"]
        .iter()
        .enumerate()
    {
        ws.write_string_with_format(r, c as u16, *h, &head)?;
    }
    r += 1;
    for tr in &t.turnout {
        ws.write_string(r, 0, super::form_label(t, &tr.form))?;
        ws.write_string(r, 1, super::turnout_branch(tr))?;
        ws.write_number(r, 2, tr.printed as f64)?;
        ws.write_number(r, 3, tr.returned as f64)?;
        ws.write_number(r, 4, tr.unprinted as f64)?;
        r += 1;
    }
    r += 1;
    let mut note = |ws: &mut Worksheet, text: String| -> Result<(), XlsxError> {
        ws.write_string(r, 0, text)?;
        r += 1;
        Ok(())
    };
    for d in &t.duplicates {
        let kept = d
            .kept
            .as_ref()
            .map_or("(均作废)".to_string(), |k| k.batch.clone());
        note(
            ws,
            format!(
                "重复序号 {}:计入 {},另 {} 份未计{}",
                d.serial,
                kept,
                d.dropped.len(),
                if d.same_answers { "" } else { "(内容不同)" }
            ),
        )?;
    }
    for s in &t.over_limit {
        note(
            ws,
            format!(
                "推荐超额:{} 序号 {} 推荐 {} 人(上限 {}),{}",
                s.sheet.batch,
                s.sheet.serial,
                s.ticks,
                s.max_per_sheet,
                super::table::over_label(s.action)
            ),
        )?;
    }
    for v in &t.vetoes {
        note(
            ws,
            format!(
                "一票否决:{} —— {}(核实:{},{})",
                v.name, v.veto.reason, v.veto.verified_by, v.veto.date
            ),
        )?;
    }
    for p in &t.pending {
        note(
            ws,
            format!(
                "待复核:{} 序号 {} {} {}",
                p.batch,
                p.serial,
                p.page,
                super::pending_what(t, p)
            ),
        )?;
    }
    ws.set_column_width(0, 36)?;

    let mut names = std::collections::HashSet::new();
    for f in &t.forms {
        let ws = wb.add_worksheet();
        // Named as the clerk knows the form; two forms alike in 31 characters add their id.
        let mut name = sheet_name(&form_heading(f));
        if !names.insert(name.clone()) {
            name = sheet_name(&format!("{} {name}", f.form));
            names.insert(name.clone());
        }
        ws.set_name(name)?;
        banner(ws, t, &form_heading(f), &bold, &warn)?;
        let grades = grade_options(f);
        let mut cols: Vec<String> = vec!["对象编号".into(), "对象".into(), "项目".into()];
        cols.extend(grades.iter().map(|g| g.1.clone()));
        cols.extend(
            [
                "有效评价",
                "满意",
                "满意率",
                "结果",
                "推荐票",
                "计入份数",
                "空白未计",
                "部分填写",
            ]
            .map(String::from),
        );
        let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
        header(ws, 3, &refs, &head)?;
        let mut r = 4;
        for s in &f.subjects {
            for i in s.items.iter().filter(|i| !i.check) {
                ws.write_string(r, 0, &s.id)?;
                ws.write_string(r, 1, subject_label(s))?;
                ws.write_string(r, 2, &i.label)?;
                for (k, g) in grades.iter().enumerate() {
                    ws.write_number(r, 3 + k as u16, i.count(&g.0) as f64)?;
                }
                let rate = i.rate.unwrap_or(s.rate);
                let c = 3 + grades.len() as u16;
                ws.write_number(r, c, rate.graded as f64)?;
                ws.write_number(r, c + 1, rate.satisfied as f64)?;
                ws.write_string(r, c + 2, rate.percent())?;
                r += 1;
            }
            ws.write_string_with_format(r, 0, &s.id, &bold)?;
            ws.write_string_with_format(r, 1, subject_label(s), &bold)?;
            ws.write_string_with_format(r, 2, "合计", &bold)?;
            for (k, g) in grades.iter().enumerate() {
                let n: u64 = s
                    .items
                    .iter()
                    .filter(|i| !i.check)
                    .map(|i| i.count(&g.0))
                    .sum();
                ws.write_number_with_format(r, 3 + k as u16, n as f64, &bold)?;
            }
            let c = 3 + grades.len() as u16;
            ws.write_number_with_format(r, c, s.rate.graded as f64, &bold)?;
            ws.write_number_with_format(r, c + 1, s.rate.satisfied as f64, &bold)?;
            ws.write_string_with_format(r, c + 2, s.rate.percent(), &bold)?;
            ws.write_string_with_format(
                r,
                c + 3,
                if s.rate.passes { "达标" } else { "未达标" },
                &bold,
            )?;
            if let Some(v) = recommend_votes(s) {
                ws.write_number_with_format(r, c + 4, v as f64, &bold)?;
            }
            ws.write_number(r, c + 5, s.sheets_counted as f64)?;
            ws.write_number(r, c + 6, s.sheets_skipped_blank as f64)?;
            ws.write_number(r, c + 7, s.sheets_partial as f64)?;
            r += 1;
        }
        ws.set_column_width(1, 24)?;
        ws.set_column_width(2, 32)?;
    }

    if !t.excellent.is_empty() {
        let ws = wb.add_worksheet();
        ws.set_name("优秀党员")?;
        banner(ws, t, "优秀党员评选结果", &bold, &warn)?;
        header(
            ws,
            3,
            &[
                "支部",
                "党员数",
                "名额",
                "名次",
                "姓名",
                "推荐票",
                "满意率",
                "窗口岗位满意率",
                "结果",
                "说明",
            ],
            &head,
        )?;
        let mut r = 4;
        for d in &t.excellent {
            for c in &d.candidates {
                ws.write_string(r, 0, &d.branch_name)?;
                ws.write_number(r, 1, f64::from(d.members))?;
                ws.write_string(
                    r,
                    2,
                    format!(
                        "{}({} {})",
                        d.quota,
                        d.quota_ratio,
                        rounding_label(d.quota_rounding)
                    ),
                )?;
                ws.write_number(r, 3, c.rank as f64)?;
                ws.write_string(r, 4, &c.name)?;
                ws.write_number(r, 5, c.votes as f64)?;
                ws.write_string(r, 6, c.rate.percent())?;
                ws.write_string(
                    r,
                    7,
                    c.window
                        .iter()
                        .map(|w| format!("{} {}", w.title, w.rate.percent()))
                        .collect::<Vec<_>>()
                        .join(";"),
                )?;
                ws.write_string(r, 8, c.outcome.label())?;
                ws.write_string(r, 9, c.ineligible.join(";"))?;
                r += 1;
            }
            if let Some(tie) = &d.tie {
                ws.write_string_with_format(
                    r,
                    0,
                    format!(
                        "{}:{} 人同为 {} 票,争 {} 个名额,请评议委员会决定",
                        d.branch_name,
                        tie.candidates.len(),
                        tie.votes,
                        tie.seats
                    ),
                    &warn,
                )?;
                r += 1;
            }
        }
        ws.set_column_width(0, 16)?;
        ws.set_column_width(7, 30)?;
        ws.set_column_width(9, 40)?;
    }
    wb.save_to_buffer()
}
