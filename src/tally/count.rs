//! Counting: de-duplicate serials, sort answers into subject × item × option, turnout, pending.

use super::{
    Duplicate, FormTally, ItemTally, OptionCount, OverLimitSheet, Pending, Rate, ScaleInfo,
    SheetCounts, SheetRef, SubjectTally, Turnout,
};
use crate::campaign::Campaign;
use crate::folder::PrintRecord;
use crate::form::{FormDef, ItemKind, OverLimit, SubjectKind};
use crate::sheet::{AnswerValue, Sheet};
use std::collections::{BTreeMap, HashMap};

/// Keep one copy per serial: the first not discarded, in the order given (batch order).
pub(super) fn dedupe(sheets: &[Sheet]) -> (Vec<&Sheet>, Vec<Duplicate>) {
    let mut by_serial: BTreeMap<&str, Vec<&Sheet>> = BTreeMap::new();
    let mut order: Vec<&str> = Vec::new();
    let mut unserialised = Vec::new();
    for s in sheets {
        // A page without a readable code has no serial: it is its own sheet, never a duplicate.
        if s.serial.is_empty() {
            unserialised.push(s);
            continue;
        }
        let e = by_serial.entry(s.serial.as_str()).or_default();
        if e.is_empty() {
            order.push(s.serial.as_str());
        }
        e.push(s);
    }
    let mut kept = Vec::new();
    let mut dups = Vec::new();
    for serial in order {
        let copies = &by_serial[serial];
        let keep = copies.iter().position(|s| !s.discarded).unwrap_or(0);
        kept.push(copies[keep]);
        if copies.len() > 1 {
            let key = |s: &Sheet| -> Vec<(String, AnswerValue)> {
                let mut v: Vec<_> = s
                    .answers
                    .iter()
                    .map(|a| (a.question.clone(), a.value.clone()))
                    .collect();
                v.sort_by(|a, b| a.0.cmp(&b.0));
                v
            };
            let first = key(copies[keep]);
            dups.push(Duplicate {
                serial: serial.to_string(),
                kept: (!copies[keep].discarded).then(|| SheetRef::of(copies[keep])),
                dropped: copies
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != keep)
                    .map(|(_, s)| SheetRef::of(s))
                    .collect(),
                same_answers: copies.iter().all(|s| key(s) == first),
            });
        }
    }
    kept.extend(unserialised);
    (kept, dups)
}

pub(super) struct Counted {
    pub forms: Vec<FormTally>,
    pub unknown_forms: Vec<SheetRef>,
    pub over_limit: Vec<OverLimitSheet>,
}

/// Accumulates one subject's counts: item id → option id → count.
#[derive(Default)]
struct Acc {
    counts: HashMap<String, HashMap<String, u64>>,
    blank: HashMap<String, u64>,
    undecided: HashMap<String, u64>,
    counted: u64,
    skipped: u64,
    partial: u64,
    voided: u64,
}

pub(super) fn count_forms(kept: &[&Sheet], forms: &[FormDef], campaign: &Campaign) -> Counted {
    let mut out = Counted {
        forms: Vec::new(),
        unknown_forms: Vec::new(),
        over_limit: Vec::new(),
    };
    for s in kept {
        if !forms.iter().any(|f| f.id == s.form) {
            out.unknown_forms.push(SheetRef::of(s));
        }
    }
    for form in forms {
        let mut sheets = SheetCounts::default();
        let mut acc: BTreeMap<String, Acc> = BTreeMap::new();
        for s in kept.iter().filter(|s| s.form == form.id) {
            sheets.returned += 1;
            if s.discarded {
                sheets.discarded += 1;
                continue;
            }
            let mut void_recs = false;
            if let Some(rule) = &form.rules.recommend {
                let ticks = s
                    .answers
                    .iter()
                    .filter(|a| a.item == rule.item && matches!(a.value, AnswerValue::Chosen(_)))
                    .count();
                let ticks = u32::try_from(ticks).unwrap_or(u32::MAX);
                if ticks > rule.max_per_sheet {
                    out.over_limit.push(OverLimitSheet {
                        sheet: SheetRef::of(s),
                        branch: s.branch.clone(),
                        ticks,
                        max_per_sheet: rule.max_per_sheet,
                        action: rule.over_limit,
                    });
                    match rule.over_limit {
                        OverLimit::VoidSheet => {
                            sheets.void += 1;
                            continue;
                        }
                        OverLimit::VoidRecommendations => void_recs = true,
                    }
                }
            }
            let decided = s
                .answers
                .iter()
                .any(|a| matches!(a.value, AnswerValue::Chosen(_)));
            let undecided = s.answers.iter().any(|a| a.value == AnswerValue::Undecided);
            if !decided && !undecided {
                sheets.blank += 1;
                continue;
            }
            sheets.valid += 1;
            count_sheet(s, form, void_recs, &mut acc);
        }
        out.forms.push(finish(form, campaign, sheets, acc));
    }
    out
}

/// The subject key of answers that name none: a 附1 sheet printed for no branch, a row
/// without a subject. Not a valid id, so it never meets a campaign's subject.
const NO_SUBJECT: &str = "?";

/// The name a subject the campaign does not list is reported under, as a clerk can find it
/// on paper: a write-in row by its place, a sheet without a subject as such, else its id.
fn unknown_subject_name(form: &FormDef, key: &str) -> String {
    // "_w2": the second blank row left for a handwritten name (as the review page says).
    if let Some(n) = key.strip_prefix("_w") {
        return format!("(手写补填第{n}行)");
    }
    if key == NO_SUBJECT {
        return match form.subject {
            SubjectKind::Branch => "(支部不明:表格印发时未指定支部)".to_string(),
            _ => "(未写明对象)".to_string(),
        };
    }
    format!("(未知 {key})")
}

/// The subject key of an answer: the branch for 附1, the row's subject for 附2/附3, the form
/// itself for a plain questionnaire.
fn subject_key(form: &FormDef, s: &Sheet, answer_subject: Option<&str>) -> String {
    match form.subject {
        SubjectKind::Branch => s.branch.clone().unwrap_or_else(|| NO_SUBJECT.into()),
        SubjectKind::Candidates | SubjectKind::Posts => {
            answer_subject.unwrap_or(NO_SUBJECT).to_string()
        }
        SubjectKind::None => form.id.clone(),
    }
}

fn count_sheet(s: &Sheet, form: &FormDef, void_recs: bool, acc: &mut BTreeMap<String, Acc>) {
    let rec_item = form.rules.recommend.as_ref().map(|r| r.item.as_str());
    let mut groups: BTreeMap<String, Vec<&crate::sheet::Answer>> = BTreeMap::new();
    for a in &s.answers {
        groups
            .entry(subject_key(form, s, a.subject.as_deref()))
            .or_default()
            .push(a);
    }
    for (key, answers) in groups {
        let a = acc.entry(key).or_default();
        let untouched = answers.iter().all(|x| x.value == AnswerValue::Blank);
        if untouched && form.rules.skip_blank_subject {
            a.skipped += 1;
            continue;
        }
        let graded = |item: &str| form.item(item).is_some_and(|i| i.kind == ItemKind::Single);
        let graded_blank = answers
            .iter()
            .any(|x| graded(&x.item) && x.value == AnswerValue::Blank);
        let graded_answered = answers
            .iter()
            .any(|x| graded(&x.item) && x.value != AnswerValue::Blank);
        if graded_blank && graded_answered {
            a.partial += 1;
        }
        a.counted += 1;
        for x in answers {
            match &x.value {
                AnswerValue::Chosen(_) if void_recs && Some(x.item.as_str()) == rec_item => {
                    a.voided += 1
                }
                AnswerValue::Chosen(o) => {
                    *a.counts
                        .entry(x.item.clone())
                        .or_default()
                        .entry(o.clone())
                        .or_default() += 1;
                }
                AnswerValue::Blank => *a.blank.entry(x.item.clone()).or_default() += 1,
                AnswerValue::Undecided => *a.undecided.entry(x.item.clone()).or_default() += 1,
            }
        }
    }
}

/// Subjects the campaign names for this form, in campaign order: (id, name, detail, branch).
fn campaign_subjects(
    form: &FormDef,
    c: &Campaign,
) -> Vec<(String, String, Option<String>, Option<String>)> {
    match form.subject {
        SubjectKind::Branch => c
            .branches
            .iter()
            .map(|b| (b.id.clone(), b.name.clone(), None, Some(b.id.clone())))
            .collect(),
        SubjectKind::Candidates => c
            .branches
            .iter()
            .flat_map(|b| {
                b.candidates
                    .iter()
                    .map(move |k| (k.id.clone(), k.name.clone(), None, Some(b.id.clone())))
            })
            .collect(),
        SubjectKind::Posts => c
            .posts
            .iter()
            .map(|p| {
                (
                    p.id.clone(),
                    p.name.clone(),
                    Some(p.title.clone()),
                    Some(p.branch.clone()),
                )
            })
            .collect(),
        SubjectKind::None => vec![(form.id.clone(), form.title.clone(), None, None)],
    }
}

fn finish(
    form: &FormDef,
    campaign: &Campaign,
    sheets: SheetCounts,
    mut acc: BTreeMap<String, Acc>,
) -> FormTally {
    let pass = form.rules.pass_at_least;
    let sat = &form.rules.satisfied;
    let mut rows = campaign_subjects(form, campaign);
    let known: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    // Write-in rows and ids the campaign lacks follow, sorted, so nothing counted is hidden.
    for k in acc.keys() {
        if !known.contains(k) {
            rows.push((k.clone(), unknown_subject_name(form, k), None, None));
        }
    }
    let subjects = rows
        .into_iter()
        .map(|(id, name, detail, branch)| {
            let a = acc.remove(&id).unwrap_or_default();
            let mut tot_sat = 0;
            let mut tot_graded = 0;
            let items = form
                .items()
                .map(|(_, item)| {
                    let opts = form
                        .scale(&item.scale)
                        .map(|s| s.options.as_slice())
                        .unwrap_or(&[]);
                    let m = a.counts.get(&item.id);
                    let counts: Vec<OptionCount> = opts
                        .iter()
                        .map(|o| OptionCount {
                            option: o.id.clone(),
                            count: m.and_then(|m| m.get(&o.id)).copied().unwrap_or(0),
                        })
                        .collect();
                    let check = item.kind == ItemKind::Check;
                    let rate = (!check).then(|| {
                        // Only options of the item's own scale are graded answers.
                        let g: u64 = counts.iter().map(|c| c.count).sum();
                        let s: u64 = counts
                            .iter()
                            .filter(|c| sat.contains(&c.option))
                            .map(|c| c.count)
                            .sum();
                        tot_sat += s;
                        tot_graded += g;
                        Rate::new(s, g, &pass)
                    });
                    ItemTally {
                        item: item.id.clone(),
                        label: item.label.clone(),
                        scale: item.scale.clone(),
                        check,
                        counts,
                        blank: a.blank.get(&item.id).copied().unwrap_or(0),
                        undecided: a.undecided.get(&item.id).copied().unwrap_or(0),
                        rate,
                    }
                })
                .collect();
            SubjectTally {
                known: known.contains(&id),
                id,
                name,
                detail,
                branch,
                items,
                rate: Rate::new(tot_sat, tot_graded, &pass),
                sheets_counted: a.counted,
                sheets_skipped_blank: a.skipped,
                sheets_partial: a.partial,
                recommendations_voided: a.voided,
            }
        })
        .collect();
    FormTally {
        form: form.id.clone(),
        annex: form.annex.trim_end_matches([':', '\u{ff1a}']).to_string(),
        title: form.title.clone(),
        subject_kind: form.subject,
        scales: form
            .scales
            .iter()
            .map(|s| ScaleInfo {
                id: s.id.clone(),
                options: s
                    .options
                    .iter()
                    .map(|o| (o.id.clone(), o.label.clone()))
                    .collect(),
            })
            .collect(),
        satisfied: sat.clone(),
        pass_at_least: pass,
        skip_blank_subject: form.rules.skip_blank_subject,
        sheets,
        subjects,
    }
}

/// Printed vs returned per (form, branch) from the print records' serials.
pub(super) fn turnout(
    kept: &[&Sheet],
    printed: &[PrintRecord],
    campaign: &Campaign,
) -> Vec<Turnout> {
    let mut rows: BTreeMap<(String, Option<String>), Turnout> = BTreeMap::new();
    let mut by_serial: HashMap<&str, (&str, Option<&str>)> = HashMap::new();
    let name = |b: &Option<String>| {
        b.as_deref()
            .and_then(|b| campaign.branch(b))
            .map(|b| b.name.clone())
    };
    let mut row = |form: &str, branch: &Option<String>| -> (String, Option<String>) {
        let key = (form.to_string(), branch.clone());
        rows.entry(key.clone()).or_insert_with(|| Turnout {
            form: form.to_string(),
            branch: branch.clone(),
            branch_name: name(branch),
            printed: 0,
            returned: 0,
            unprinted: 0,
        });
        key
    };
    let mut keys = Vec::new();
    for r in printed {
        keys.push((row(&r.form, &r.branch), r.serials.len() as u64));
        for s in &r.serials {
            by_serial.insert(s.as_str(), (r.form.as_str(), r.branch.as_deref()));
        }
    }
    let mut returned = Vec::new();
    // A page that never showed a code is no returned sheet (it is listed with the unknown).
    for s in kept.iter().filter(|s| !s.serial.is_empty()) {
        match by_serial.get(s.serial.as_str()) {
            Some((f, b)) => returned.push((row(f, &b.map(str::to_string)), true)),
            None => returned.push((row(&s.form, &s.branch), false)),
        }
    }
    for (k, n) in keys {
        if let Some(t) = rows.get_mut(&k) {
            t.printed += n;
        }
    }
    for (k, was_printed) in returned {
        if let Some(t) = rows.get_mut(&k) {
            if was_printed {
                t.returned += 1;
            } else {
                t.unprinted += 1;
            }
        }
    }
    rows.into_values().collect()
}

/// Open blocking flags, plus undecided answers no flag points at, on counted sheets.
pub(super) fn pending(kept: &[&Sheet]) -> Vec<Pending> {
    let mut out = Vec::new();
    for s in kept.iter().filter(|s| !s.discarded) {
        let page = s.pages.first().cloned().unwrap_or_default();
        for f in s.open_flags.iter().filter(|f| f.kind.blocks_final_count()) {
            out.push(Pending {
                batch: s.batch.clone(),
                serial: s.serial.clone(),
                page: f.page.clone(),
                kind: f.kind.as_str().to_string(),
                target: f.target.clone(),
                detail: f.detail.clone(),
            });
        }
        for a in s
            .answers
            .iter()
            .filter(|a| a.value == AnswerValue::Undecided)
        {
            if !s
                .open_flags
                .iter()
                .any(|f| f.target.as_deref() == Some(a.question.as_str()))
            {
                out.push(Pending {
                    batch: s.batch.clone(),
                    serial: s.serial.clone(),
                    page: page.clone(),
                    kind: "undecided".into(),
                    target: Some(a.question.clone()),
                    detail: "答案未复核 (undecided answer)".into(),
                });
            }
        }
    }
    out
}
