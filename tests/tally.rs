//! The tally's rules end to end over hand-built sheets, and the reports read back.

use pingyi::campaign::Campaign;
use pingyi::folder::PrintRecord;
use pingyi::form::{seed_forms, FormDef, OverLimit};
use pingyi::read::outcome::FlagKind;
use pingyi::report::{self, Format};
use pingyi::sheet::{Answer, AnswerValue, IntegrityNote, OpenFlag, Sheet};
use pingyi::tally::{explain, read_vetoes, tally, Outcome, Status, Tally};
use std::io::Read;
use std::path::Path;

const GRADE_ITEMS_2: [&str; 4] = ["participation", "duty", "promises", "service"];
const GRADE_ITEMS_3: [&str; 4] = ["attitude", "quality", "efficiency", "integrity"];
const ITEMS_1: [&str; 5] = [
    "activities",
    "central_tasks",
    "promises",
    "practical_help",
    "team_building",
];

fn campaign() -> Campaign {
    Campaign::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/campaign/campaign.toml"))
        .unwrap()
}

fn forms() -> Vec<FormDef> {
    seed_forms().unwrap()
}

fn ans(subject: Option<&str>, item: &str, value: AnswerValue) -> Answer {
    Answer {
        question: subject.map_or_else(|| item.to_string(), |s| format!("{s}.{item}")),
        subject: subject.map(str::to_string),
        item: item.to_string(),
        value,
        reviewed: false,
    }
}

fn chosen(o: &str) -> AnswerValue {
    AnswerValue::Chosen(o.to_string())
}

fn sheet(
    batch: &str,
    serial: &str,
    form: &str,
    branch: Option<&str>,
    answers: Vec<Answer>,
) -> Sheet {
    Sheet {
        batch: batch.into(),
        serial: serial.into(),
        form: form.into(),
        layout_hash: "0badcafe".into(),
        branch: branch.map(str::to_string),
        pages: vec![format!("{batch}/scan.pdf#1")],
        answers,
        open_flags: vec![],
        integrity: vec![],
        discarded: false,
    }
}

/// A 附2 sheet of branch jiguan1: every listed candidate gets `grade` on all four items and a
/// recommend tick when listed in `recommend`; the others are left blank.
fn member_sheet(serial: &str, grades: &[(&str, &str)], recommend: &[&str]) -> Sheet {
    let c = campaign();
    let b = c.branch("jiguan1").unwrap();
    let mut answers = Vec::new();
    for k in &b.candidates {
        let g = grades.iter().find(|(id, _)| *id == k.id).map(|x| x.1);
        for item in GRADE_ITEMS_2 {
            answers.push(ans(Some(&k.id), item, g.map_or(AnswerValue::Blank, chosen)));
        }
        let rec = if recommend.contains(&k.id.as_str()) {
            chosen("yes")
        } else {
            AnswerValue::Blank
        };
        answers.push(ans(Some(&k.id), "recommend", rec));
    }
    sheet("A", serial, "member", Some("jiguan1"), answers)
}

fn window_sheet(serial: &str, posts: &[(&str, [Option<&str>; 4])]) -> Sheet {
    let c = campaign();
    let mut answers = Vec::new();
    for p in &c.posts {
        let g = posts
            .iter()
            .find(|(id, _)| *id == p.id)
            .map(|x| x.1)
            .unwrap_or([None; 4]);
        for (k, item) in GRADE_ITEMS_3.iter().enumerate() {
            answers.push(ans(
                Some(&p.id),
                item,
                g[k].map_or(AnswerValue::Blank, chosen),
            ));
        }
    }
    sheet("A", serial, "window", None, answers)
}

fn run(sheets: &[Sheet]) -> Tally {
    tally(sheets, &forms(), &campaign(), &[], &[])
}

fn subject<'a>(t: &'a Tally, form: &str, id: &str) -> &'a pingyi::tally::SubjectTally {
    t.forms
        .iter()
        .find(|f| f.form == form)
        .unwrap()
        .subjects
        .iter()
        .find(|s| s.id == id)
        .unwrap()
}

fn decision<'a>(t: &'a Tally, branch: &str) -> &'a pingyi::tally::BranchDecision {
    t.excellent.iter().find(|d| d.branch == branch).unwrap()
}

fn outcome(t: &Tally, branch: &str, id: &str) -> Outcome {
    decision(t, branch)
        .candidates
        .iter()
        .find(|c| c.id == id)
        .unwrap()
        .outcome
}

/// 附1 sheets for jiguan1: `sat` items 满意 and `unsat` items 不满意 spread over 2 items per sheet.
fn branch_sheets(satisfied: usize, unsatisfied: usize) -> Vec<Sheet> {
    let mut v = Vec::new();
    let grades: Vec<&str> = std::iter::repeat_n("satisfied", satisfied)
        .chain(std::iter::repeat_n("unsatisfied", unsatisfied))
        .collect();
    for (n, chunk) in grades.chunks(ITEMS_1.len()).enumerate() {
        let answers = ITEMS_1
            .iter()
            .enumerate()
            .map(|(k, item)| {
                ans(
                    None,
                    item,
                    chunk.get(k).map_or(AnswerValue::Blank, |g| chosen(g)),
                )
            })
            .collect();
        v.push(sheet(
            "A",
            &format!("B{n:05}"),
            "branch",
            Some("jiguan1"),
            answers,
        ));
    }
    v
}

#[test]
fn exactly_ninety_percent_passes_and_just_below_fails() {
    let t = run(&branch_sheets(9, 1));
    let s = subject(&t, "branch", "jiguan1");
    assert_eq!((s.rate.satisfied, s.rate.graded), (9, 10));
    assert!(s.rate.passes);
    assert_eq!(s.rate.percent(), "90.00%");

    let t = run(&branch_sheets(8_999, 1_001));
    let s = subject(&t, "branch", "jiguan1");
    assert_eq!((s.rate.satisfied, s.rate.graded), (8_999, 10_000));
    assert!(!s.rate.passes, "8,999 of 10,000 is 89.99 %: fails");
    assert_eq!(s.rate.percent(), "89.99%");
}

#[test]
fn branch_form_counts_per_item_and_grade() {
    let t = run(&branch_sheets(7, 3));
    let s = subject(&t, "branch", "jiguan1");
    let first = &s.items[0];
    assert_eq!(first.item, "activities");
    assert_eq!(first.count("satisfied"), 2);
    let total: u64 = s.items.iter().map(|i| i.count("unsatisfied")).sum();
    assert_eq!(total, 3);
    assert_eq!(t.forms[0].sheets.valid, 2);
}

#[test]
fn five_recommendations_count_and_six_are_void() {
    let all = ["c101", "c102", "c103", "c104", "c105", "c106"];
    let grades: Vec<(&str, &str)> = all.iter().map(|c| (*c, "satisfied")).collect();
    let five = member_sheet("M1", &grades, &all[..5]);
    let six = member_sheet("M2", &grades, &all);
    let t = run(&[five, six]);
    assert_eq!(t.over_limit.len(), 1);
    assert_eq!(t.over_limit[0].sheet.serial, "M2");
    assert_eq!(t.over_limit[0].ticks, 6);
    assert_eq!(t.over_limit[0].action, OverLimit::VoidRecommendations);
    // The five-tick sheet's votes count, the six-tick sheet's do not; its grades still count.
    assert_eq!(
        decision(&t, "jiguan1")
            .candidates
            .iter()
            .find(|c| c.id == "c101")
            .unwrap()
            .votes,
        1
    );
    assert_eq!(
        decision(&t, "jiguan1")
            .candidates
            .iter()
            .find(|c| c.id == "c106")
            .unwrap()
            .votes,
        0
    );
    assert_eq!(subject(&t, "member", "c106").rate.graded, 8);
    assert_eq!(subject(&t, "member", "c106").recommendations_voided, 1);
}

#[test]
fn void_sheet_setting_drops_the_whole_over_limit_sheet() {
    let mut f = forms();
    f[1].rules.recommend.as_mut().unwrap().over_limit = OverLimit::VoidSheet;
    let all = ["c101", "c102", "c103", "c104", "c105", "c106"];
    let grades: Vec<(&str, &str)> = all.iter().map(|c| (*c, "satisfied")).collect();
    let t = tally(
        &[member_sheet("M2", &grades, &all)],
        &f,
        &campaign(),
        &[],
        &[],
    );
    assert_eq!(t.forms[1].sheets.void, 1);
    assert_eq!(subject(&t, "member", "c101").rate.graded, 0);
}

#[test]
fn quota_follows_members_24_25_26_with_the_rounding_shown() {
    let t = run(&[]);
    // Fixture: jiguan2 has 24 members, jiguan1 25, zhongxin1 26; 20 % rounded down.
    assert_eq!(decision(&t, "jiguan2").quota, 4);
    assert_eq!(decision(&t, "jiguan1").quota, 5);
    assert_eq!(decision(&t, "zhongxin1").quota, 5);
    let table = report::table::render(&t);
    assert!(
        table.contains("党员 25 人 × 20% = 名额 5,向下取整"),
        "{table}"
    );
}

/// jiguan1 (quota 5) sheets where votes are c101 4, c102 3, c103..c106 by `rest`.
fn ranked(rest: [usize; 4]) -> Vec<Sheet> {
    let all = ["c101", "c102", "c103", "c104", "c105", "c106"];
    let votes = [4, 3, rest[0], rest[1], rest[2], rest[3]];
    let grades: Vec<(&str, &str)> = all.iter().map(|c| (*c, "satisfied")).collect();
    // One recommendation per sheet keeps every sheet under the cap of five.
    all.iter()
        .zip(votes)
        .flat_map(|(c, v)| (0..v).map(move |n| (*c, n)))
        .map(|(c, n)| member_sheet(&format!("R{c}{n}"), &grades, &[c]))
        .collect()
}

#[test]
fn a_tie_at_the_quota_line_goes_to_the_committee() {
    // Quota 5; c105 and c106 tie at 2 votes for the fifth seat. Window posts p01 (c103) and
    // p02 (c106) must pass too: give them good 附3 sheets.
    let mut s = ranked([3, 3, 2, 2]);
    s.push(window_sheet(
        "W1",
        &[
            ("p01", [Some("satisfied"); 4]),
            ("p02", [Some("satisfied"); 4]),
        ],
    ));
    let t = run(&s);
    let d = decision(&t, "jiguan1");
    let tie = d.tie.as_ref().expect("a tie");
    assert_eq!(tie.votes, 2);
    assert_eq!(tie.seats, 1);
    assert_eq!(tie.candidates, ["c105", "c106"]);
    assert_eq!(d.excellent, ["c101", "c102", "c103", "c104"]);
    assert_eq!(outcome(&t, "jiguan1", "c105"), Outcome::Tie);
    assert!(report::html::render(&t).contains("请评议委员会决定"));
}

#[test]
fn a_vetoed_top_candidate_is_not_excellent_and_the_reason_is_reported() {
    let mut s = ranked([1, 1, 0, 0]);
    s.push(window_sheet("W1", &[("p01", [Some("satisfied"); 4])]));
    let vetoes = read_vetoes(
        "person,reason,verified_by,date\n王伟,收受服务对象礼品,机关纪委,2011-12-26\n".as_bytes(),
    )
    .unwrap();
    let t = tally(&s, &forms(), &campaign(), &[], &vetoes);
    assert_eq!(outcome(&t, "jiguan1", "c101"), Outcome::Ineligible);
    let c = decision(&t, "jiguan1")
        .candidates
        .iter()
        .find(|c| c.id == "c101")
        .unwrap();
    assert!(
        c.ineligible
            .iter()
            .any(|r| r.contains("一票否决") && r.contains("收受服务对象礼品")),
        "{:?}",
        c.ineligible
    );
    assert!(!decision(&t, "jiguan1")
        .excellent
        .contains(&"c101".to_string()));
    assert!(report::table::render(&t).contains("一票否决:王伟"));
}

#[test]
fn an_integrity_note_confirmed_in_review_vetoes_the_post_holder() {
    let mut w = window_sheet("W1", &[("p01", [Some("satisfied"); 4])]);
    w.integrity.push(IntegrityNote {
        subject: "p01".into(),
        note: "索要好处".into(),
        reviewer: "李审核".into(),
        at: "2011-12-27".into(),
    });
    let mut s = ranked([1, 1, 0, 0]);
    s.push(w);
    let t = run(&s);
    assert_eq!(t.vetoes[0].person, "c103");
    assert_eq!(outcome(&t, "jiguan1", "c103"), Outcome::Ineligible);
}

#[test]
fn a_window_candidate_whose_post_fails_is_not_excellent() {
    let mut s = ranked([1, 1, 0, 0]);
    // p01 (陈静, c103): 3 of 4 satisfied = 75 %.
    s.push(window_sheet(
        "W1",
        &[(
            "p01",
            [
                Some("satisfied"),
                Some("satisfied"),
                Some("satisfied"),
                Some("unsatisfied"),
            ],
        )],
    ));
    let t = run(&s);
    assert_eq!(outcome(&t, "jiguan1", "c103"), Outcome::Ineligible);
    assert_eq!(outcome(&t, "jiguan1", "c104"), Outcome::Excellent);
}

#[test]
fn a_wholly_blank_post_is_skipped_and_a_partly_filled_one_counts_its_answers() {
    let a = window_sheet(
        "W1",
        &[(
            "p01",
            [Some("satisfied"), None, Some("fairly_satisfied"), None],
        )],
    );
    let b = window_sheet("W2", &[("p01", [Some("satisfied"); 4])]);
    let t = run(&[a, b]);
    let p01 = subject(&t, "window", "p01");
    assert_eq!(p01.sheets_counted, 2);
    assert_eq!(p01.sheets_partial, 1);
    assert_eq!(p01.rate.graded, 6);
    let p02 = subject(&t, "window", "p02");
    assert_eq!(p02.sheets_counted, 0);
    assert_eq!(p02.sheets_skipped_blank, 2);
    assert_eq!(p02.rate.graded, 0);
    assert!(!p02.rate.passes, "no answers is never a pass");
    assert!(report::table::render(&t).contains("部分填写"));
}

#[test]
fn a_serial_in_two_batches_counts_once_and_is_reported() {
    let one = branch_sheets(5, 0).remove(0);
    let mut two = one.clone();
    two.batch = "B".into();
    let t = run(&[one, two]);
    assert_eq!(t.forms[0].sheets.returned, 1);
    assert_eq!(subject(&t, "branch", "jiguan1").rate.graded, 5);
    assert_eq!(t.duplicates.len(), 1);
    assert_eq!(t.duplicates[0].kept.as_ref().unwrap().batch, "A");
    assert_eq!(t.duplicates[0].dropped[0].batch, "B");
    assert!(t.duplicates[0].same_answers);
}

#[test]
fn undecided_answers_never_count_and_keep_the_tally_provisional() {
    let mut s = branch_sheets(5, 0).remove(0);
    s.answers[0].value = AnswerValue::Undecided;
    s.open_flags.push(OpenFlag {
        kind: FlagKind::Marginal,
        target: Some("activities".into()),
        detail: "淡勾".into(),
        page: "A/scan.pdf#1".into(),
    });
    let t = run(&[s]);
    assert_eq!(t.status, Status::Provisional);
    assert_eq!(t.pending.len(), 1);
    assert_eq!(t.pending[0].kind, "marginal");
    let sub = subject(&t, "branch", "jiguan1");
    assert_eq!(sub.rate.graded, 4);
    assert_eq!(sub.items[0].undecided, 1);
    assert!(report::table::render(&t).contains("未复核 PROVISIONAL"));
    assert!(String::from_utf8(report::render(&t, Format::Csv).unwrap())
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .starts_with("未复核 PROVISIONAL"));
    assert!(report::json::render(&t)
        .unwrap()
        .contains("\"marking\": \"未复核 PROVISIONAL"));
}

#[test]
fn a_discarded_sheet_never_counts() {
    let mut s = branch_sheets(5, 0).remove(0);
    s.discarded = true;
    let t = run(&[s]);
    assert_eq!(t.forms[0].sheets.discarded, 1);
    assert_eq!(subject(&t, "branch", "jiguan1").rate.graded, 0);
    assert!(t.is_final());
}

#[test]
fn turnout_compares_printed_serials_with_returned_ones() {
    let s = branch_sheets(10, 0);
    let rec = PrintRecord {
        form: "branch".into(),
        form_version: 1,
        branch: Some("jiguan1".into()),
        layout_hash: "0badcafe".into(),
        pages_per_sheet: 1,
        printed_at: "2011-12-20T00:00:00Z".into(),
        pdf: "x.pdf".into(),
        serials: vec!["B00000".into(), "B00001".into(), "B00002".into()],
    };
    let mut extra = s[0].clone();
    extra.serial = "PHOTOCOPY".into();
    let mut all = s;
    all.push(extra);
    let t = tally(&all, &forms(), &campaign(), &[rec], &[]);
    let row = t
        .turnout
        .iter()
        .find(|r| r.branch.as_deref() == Some("jiguan1"))
        .unwrap();
    assert_eq!((row.printed, row.returned, row.unprinted), (3, 2, 1));
}

#[test]
fn a_page_never_identified_is_listed_by_file_not_counted_as_a_returned_sheet() {
    let mut all = branch_sheets(3, 0);
    // A rejected foreign page: no code, so no form and no serial.
    let mut foreign = sheet("b1", "", "", None, vec![]);
    foreign.pages = vec!["scans/foreign.png#1".into()];
    all.push(foreign);
    let t = tally(&all, &forms(), &campaign(), &[], &[]);
    assert!(
        t.turnout.iter().all(|r| !r.form.is_empty()),
        "{:?}",
        t.turnout
    );
    assert_eq!(t.unknown_forms.len(), 1);
    let text =
        String::from_utf8(pingyi::report::render(&t, pingyi::report::Format::Table).unwrap())
            .unwrap();
    assert!(
        text.contains("未识别的页 scans/foreign.png#1(批次 b1),未计"),
        "{text}"
    );
}

#[test]
fn explain_lists_every_answer_and_why_it_does_not_count() {
    let all = ["c101", "c102", "c103", "c104", "c105", "c106"];
    let grades: Vec<(&str, &str)> = all.iter().map(|c| (*c, "satisfied")).collect();
    let six = member_sheet("M2", &grades, &all);
    let rows = explain(&[six], &forms(), "c101");
    assert_eq!(rows.len(), 5);
    let rec = rows.iter().find(|r| r.item == "recommend").unwrap();
    assert!(rec.not_counted.as_deref().unwrap().contains("推荐无效"));
    assert!(rows
        .iter()
        .filter(|r| r.item != "recommend")
        .all(|r| r.not_counted.is_none()));
}

/// A realistic tally: every form, ties, vetoes, pending — used by the report tests.
fn showcase() -> Tally {
    tally(&showcase_sheets(), &forms(), &campaign(), &[], &[])
}

fn showcase_sheets() -> Vec<Sheet> {
    let mut s = ranked([3, 3, 2, 2]);
    s.extend(branch_sheets(46, 4));
    s.push(window_sheet(
        "W1",
        &[
            ("p01", [Some("satisfied"); 4]),
            (
                "p02",
                [Some("satisfied"), Some("fairly_satisfied"), None, None],
            ),
        ],
    ));
    s.push(window_sheet(
        "W2",
        &[
            (
                "p01",
                [
                    Some("satisfied"),
                    Some("basically_satisfied"),
                    Some("satisfied"),
                    Some("satisfied"),
                ],
            ),
            ("p03", [Some("unsatisfied"); 4]),
        ],
    ));
    let mut flagged = window_sheet("W3", &[("p04", [Some("satisfied"); 4])]);
    flagged.open_flags.push(OpenFlag {
        kind: FlagKind::IntegrityFeedback,
        target: Some("integrity_report".into()),
        detail: "党风廉政反馈栏有字".into(),
        page: "A/scan.pdf#7".into(),
    });
    s.push(flagged);
    s
}

#[test]
fn the_xlsx_has_one_sheet_per_form_with_chinese_labels() {
    let t = showcase();
    let bytes = report::render(&t, Format::Xlsx).unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let names: Vec<String> = z.file_names().map(str::to_string).collect();
    for n in [
        "xl/worksheets/sheet1.xml",
        "xl/worksheets/sheet4.xml",
        "xl/worksheets/sheet5.xml",
        "xl/sharedStrings.xml",
    ] {
        assert!(names.iter().any(|x| x == n), "{n} missing: {names:?}");
    }
    let mut shared = String::new();
    z.by_name("xl/sharedStrings.xml")
        .unwrap()
        .read_to_string(&mut shared)
        .unwrap();
    for s in [
        "党支部开展创先争优活动群众评议表",
        "满意率",
        "比较满意",
        "优秀党员评选结果",
        "未复核 PROVISIONAL",
        "因公护照受理窗口",
    ] {
        assert!(shared.contains(s), "{s} not in sharedStrings");
    }
    let mut wb = String::new();
    z.by_name("xl/workbook.xml")
        .unwrap()
        .read_to_string(&mut wb)
        .unwrap();
    assert!(
        wb.contains("附1 党支部开展创先争优活动群众评议表") && wb.contains("优秀党员"),
        "{wb}"
    );
    let mut sheet2 = String::new();
    z.by_name("xl/worksheets/sheet2.xml")
        .unwrap()
        .read_to_string(&mut sheet2)
        .unwrap();
    assert!(sheet2.contains("state=\"frozen\""), "headers are frozen");
}

#[test]
fn the_html_report_is_self_contained_and_prints_on_a4() {
    let t = showcase();
    let html = report::html::render(&t);
    // The only URL is the SVG namespace, which is a name, never fetched.
    assert_eq!(
        html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "")
            .matches("http")
            .count(),
        0
    );
    // Self-contained: the only URL is the embedded font's data URL.
    assert_eq!(
        html.matches("url(").count(),
        html.matches("url(data:font/otf;base64,").count()
    );
    assert!(
        html.contains("@font-face{font-family:\"PingyiReport\""),
        "font embedded"
    );
    assert!(!html.contains("<link") && !html.contains("<script"));
    assert!(html.contains("@page { size: A4"));
    assert!(html.contains("名额线"));
    assert!(html.contains("90% 线"));
    assert!(html.contains("未复核 PROVISIONAL"));
    if let Ok(dir) = std::env::var("PINGYI_REPORT_DIR") {
        std::fs::write(Path::new(&dir).join("report.html"), &html).unwrap();
        std::fs::write(
            Path::new(&dir).join("report.xlsx"),
            report::render(&t, Format::Xlsx).unwrap(),
        )
        .unwrap();
        std::fs::write(
            Path::new(&dir).join("report.txt"),
            report::table::render(&t),
        )
        .unwrap();
    }
}

#[test]
fn every_report_names_forms_and_checks_as_the_clerk_knows_them_not_by_id() {
    let mut sheets = showcase_sheets();
    // An answer left undecided with no flag pointing at it.
    let mut undecided = member_sheet("U1", &[("c102", "satisfied")], &[]);
    undecided
        .answers
        .push(ans(Some("c101"), "duty", AnswerValue::Undecided));
    sheets.push(undecided);
    let record = |form: &str, branch: Option<&str>, serials: &[&str]| PrintRecord {
        form: form.into(),
        form_version: 1,
        branch: branch.map(str::to_string),
        layout_hash: "0badcafe".into(),
        pages_per_sheet: 1,
        printed_at: "2011-12-20T00:00:00Z".into(),
        pdf: "x.pdf".into(),
        serials: serials.iter().map(|s| s.to_string()).collect(),
    };
    let printed = [
        record("branch", Some("jiguan1"), &["B00000", "B00001"]),
        record("member", Some("jiguan1"), &["U1"]),
        record("window", None, &["W1", "W2", "W3"]),
    ];
    let t = tally(&sheets, &forms(), &campaign(), &printed, &[]);
    let labels = [
        "附1 党支部开展创先争优活动群众评议表",
        "附2 优秀党员民主评议推荐表",
        "附3 市外办窗口服务岗位群众满意度测评调查",
    ];
    let ids = ["branch", "member", "window"];
    let checks = [
        "廉洁问题反映:党风廉政反馈栏有字",
        "答案未复核:王伟 · 立足岗位履行职责情况",
    ];
    let machine = [
        "integrity_feedback",
        "undecided",
        "c101.duty",
        "integrity_report",
    ];

    // The terminal table: the 回收情况 rows and the pending list.
    let table = report::table::render(&t);
    let turnout = table.split("== 回收情况 ==").nth(1).unwrap();
    let rows: Vec<&str> = turnout.lines().skip(2).take(3).collect();
    for (row, label) in rows.iter().zip(labels) {
        assert!(row.starts_with(label), "{row:?} in\n{table}");
    }
    for text in checks {
        assert!(table.contains(text), "{text} in\n{table}");
    }
    for id in machine {
        assert!(!table.contains(id), "{id} in\n{table}");
    }

    // The HTML page.
    let html = report::html::render(&t);
    for label in labels {
        assert!(html.contains(&format!("<tr><td>{label}</td>")), "{label}");
    }
    for id in ids {
        assert!(
            !html.contains(&format!("<td>{id}</td>")),
            "{id} shown as a form"
        );
    }
    for id in machine {
        assert!(!html.contains(id), "{id} in the HTML");
    }

    // The workbook: every cell's text is in sharedStrings, sheet names in workbook.xml.
    let bytes = report::render(&t, Format::Xlsx).unwrap();
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut shared = String::new();
    z.by_name("xl/sharedStrings.xml")
        .unwrap()
        .read_to_string(&mut shared)
        .unwrap();
    let mut wb = String::new();
    z.by_name("xl/workbook.xml")
        .unwrap()
        .read_to_string(&mut wb)
        .unwrap();
    for label in labels {
        assert!(shared.contains(&format!(">{label}<")), "{label}");
        assert!(
            wb.contains(&format!("name=\"{label}\"")),
            "sheet {label}: {wb}"
        );
    }
    for id in ids {
        assert!(!shared.contains(&format!(">{id}<")), "{id} shown as a form");
    }
    for id in machine {
        assert!(!shared.contains(id), "{id} in the workbook");
    }
}

#[test]
fn subjects_the_campaign_does_not_list_are_named_as_found_on_paper() {
    let mut write_in = member_sheet("M1", &[("c101", "satisfied")], &[]);
    for item in GRADE_ITEMS_2 {
        write_in
            .answers
            .push(ans(Some("_w1"), item, chosen("satisfied")));
    }
    let mut no_branch = branch_sheets(1, 0).remove(0);
    no_branch.branch = None;
    let t = run(&[write_in, no_branch]);
    let table = report::table::render(&t);
    assert!(table.contains("(手写补填第1行)"), "{table}");
    assert!(table.contains("(支部不明:表格印发时未指定支部)"), "{table}");
    assert!(
        !table.contains("_w1") && !table.contains("(未知 ?)"),
        "{table}"
    );
}
