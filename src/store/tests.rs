//! Store tests on a real SQLite file in a temp folder.

use super::*;
use crate::code::PageCode;
use crate::read::outcome::{
    CellClass, CellReading, Flag, FlagKind, NameReading, PageReading, PageStatus, QuestionReading,
    QuestionState,
};
use crate::sheet::AnswerValue;

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("campaign.toml");
    std::fs::write(&toml, "").unwrap();
    let s = Store::create(&dir.path().join("batch"), &toml).unwrap();
    (dir, s)
}

fn cell(q: &str, o: &str, score: f32, class: CellClass) -> CellReading {
    CellReading {
        question: q.into(),
        option: o.into(),
        score,
        class,
        px: [10, 20, 30, 30],
    }
}

fn question(
    subject: &str,
    item: &str,
    state: QuestionState,
    option: Option<&str>,
) -> QuestionReading {
    QuestionReading {
        question: format!("{subject}.{item}"),
        subject: Some(subject.into()),
        item: item.into(),
        state,
        option: option.map(Into::into),
    }
}

/// A read page of serial `serial`: a1.q answered "good", a1.r marginal (flagged), a row name check on a2.
fn page(serial: &str) -> PageReading {
    PageReading {
        status: PageStatus::Read,
        code: Some(PageCode {
            form: "member".into(),
            layout_hash: "0123abcd".into(),
            page: 1,
            serial: serial.into(),
        }),
        dpi: Some(300.0),
        transform: Some([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]),
        residual_mm: Some(0.1),
        cells: vec![
            cell("a1.q", "good", 0.4, CellClass::Marked),
            cell("a1.q", "bad", 0.01, CellClass::Empty),
            cell("a1.r", "good", 0.06, CellClass::Marginal),
            cell("a1.r", "bad", 0.01, CellClass::Empty),
            cell("a2.q", "good", 0.01, CellClass::Empty),
            cell("a2.q", "bad", 0.5, CellClass::Marked),
        ],
        questions: vec![
            question("a1", "q", QuestionState::Answer, Some("good")),
            question("a1", "r", QuestionState::Ambiguous, None),
            question("a2", "q", QuestionState::Answer, Some("bad")),
        ],
        names: vec![NameReading {
            subject: "a2".into(),
            printed: Some("王五".into()),
            text: "王丑".into(),
            confidence: 40.0,
            matched: None,
            ok: false,
            px: [0, 0, 5, 5],
        }],
        flags: vec![
            Flag {
                kind: FlagKind::Marginal,
                target: Some("a1.r".into()),
                detail: "marginal".into(),
                urgency: 0.01,
            },
            Flag {
                kind: FlagKind::NameCheck,
                target: Some("a2".into()),
                detail: "name".into(),
                urgency: 0.5,
            },
        ],
        ..PageReading::blank()
    }
}

fn record(s: &mut Store, sha: &str, index: u32, r: &PageReading) -> Recorded {
    s.begin_file(sha, &format!("{sha}.pdf"), 10).unwrap();
    s.record_page(PageRecord {
        file_sha256: sha,
        index,
        reading: r,
        branch: Some("b1"),
        flag_crops: &[],
    })
    .unwrap()
}

fn value(sheet: &crate::sheet::Sheet, q: &str) -> Option<AnswerValue> {
    sheet
        .answers
        .iter()
        .find(|a| a.question == q)
        .map(|a| a.value.clone())
}

#[test]
fn a_page_reads_back_as_recorded_and_rerecording_keeps_one_row() {
    let (_d, mut s) = store();
    let r = page("AAAAAAAA");
    let first = record(&mut s, "f1", 0, &r);
    let again = record(&mut s, "f1", 0, &r);
    assert_eq!(first.page_id, again.page_id);
    assert_eq!(s.page_ids().unwrap().len(), 1);
    let p = s.load_page(first.page_id).unwrap();
    assert_eq!(p.reading.cells.len(), 6);
    assert_eq!(p.reading.questions[1].state, QuestionState::Ambiguous);
    assert_eq!(p.reading.code, r.code);
    assert_eq!(p.reading.transform, r.transform);
    assert_eq!(p.reading.flags.len(), 2);
    assert_eq!(p.branch.as_deref(), Some("b1"));
}

#[test]
fn file_states_follow_begin_finish_and_fail() {
    let (_d, mut s) = store();
    assert_eq!(s.file_state("f1").unwrap(), FileState::New);
    record(&mut s, "f1", 3, &PageReading::blank());
    assert_eq!(s.file_state("f1").unwrap(), FileState::Partial([3].into()));
    assert!(!s.file_done("f1").unwrap());
    s.finish_file("f1").unwrap();
    assert!(s.file_done("f1").unwrap());
    s.fail_file("f2", "x.pdf", "encrypted").unwrap();
    assert_eq!(
        s.file_state("f2").unwrap(),
        FileState::Failed("encrypted".into())
    );
    assert_eq!(
        s.failed_files().unwrap(),
        vec![("x.pdf".to_string(), "encrypted".to_string())]
    );
}

#[test]
fn another_campaign_cannot_reuse_a_batch() {
    let (d, _s) = store();
    let other = d.path().join("other.toml");
    std::fs::write(&other, "").unwrap();
    let e = Store::create(&d.path().join("batch"), &other).unwrap_err();
    assert!(matches!(e, StoreError::CampaignMismatch { .. }), "{e}");
    assert!(matches!(
        Store::open(d.path()).unwrap_err(),
        StoreError::NotABatch { .. }
    ));
}

#[test]
fn flagged_questions_are_undecided_until_decided_then_take_the_decision() {
    let (_d, mut s) = store();
    record(&mut s, "f1", 0, &page("AAAAAAAA"));
    let sheets = s.sheets().unwrap();
    assert_eq!(sheets.len(), 1);
    assert_eq!(
        value(&sheets[0], "a1.q"),
        Some(AnswerValue::Chosen("good".into()))
    );
    assert_eq!(value(&sheets[0], "a1.r"), Some(AnswerValue::Undecided));
    assert_eq!(
        value(&sheets[0], "a2.q"),
        Some(AnswerValue::Undecided),
        "name check open"
    );
    assert_eq!(sheets[0].open_flags.len(), 2);

    let open = s.open_flags().unwrap();
    let marginal = open.iter().find(|f| f.kind == FlagKind::Marginal).unwrap();
    assert_eq!(marginal.choices, vec!["good", "bad", "blank"]);
    assert_eq!(marginal.cells.len(), 2);
    assert_eq!(marginal.page.serial.as_deref(), Some("AAAAAAAA"));
    let e = s.decide(marginal.id, "clerk", "maybe", "", 0).unwrap_err();
    assert!(matches!(e, StoreError::InvalidValue { .. }), "{e}");
    s.decide(marginal.id, "clerk", "good", "looked", 0).unwrap();
    let name = open.iter().find(|f| f.kind == FlagKind::NameCheck).unwrap();
    s.decide(name.id, "clerk", "a9", "write-in was a9", 0)
        .unwrap();

    let sheet = &s.sheets().unwrap()[0];
    assert_eq!(
        value(sheet, "a1.r"),
        Some(AnswerValue::Chosen("good".into()))
    );
    assert!(
        sheet
            .answers
            .iter()
            .find(|a| a.question == "a1.r")
            .unwrap()
            .reviewed
    );
    assert_eq!(value(sheet, "a2.q"), None, "row moved to a9");
    assert_eq!(
        value(sheet, "a9.q"),
        Some(AnswerValue::Chosen("bad".into()))
    );
    assert!(sheet.open_flags.is_empty());
    assert!(s.open_flags().unwrap().is_empty());

    s.decide(name.id, "clerk", "reject", "", 1).unwrap();
    let sheet = &s.sheets().unwrap()[0];
    assert_eq!(value(sheet, "a9.q"), None);
    assert_eq!(value(sheet, "a2.q"), None);
}

#[test]
fn a_stale_version_is_a_conflict_and_undo_restores_the_previous_value() {
    let (_d, mut s) = store();
    record(&mut s, "f1", 0, &page("AAAAAAAA"));
    let id = s
        .open_flags()
        .unwrap()
        .iter()
        .find(|f| f.kind == FlagKind::Marginal)
        .unwrap()
        .id;
    s.decide(id, "ann", "good", "", 0).unwrap();
    let e = s.decide(id, "bob", "bad", "", 0).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Conflict {
                expected: 0,
                actual: 1,
                ..
            }
        ),
        "{e}"
    );
    assert!(e
        .to_string()
        .contains("someone else decided this flag meanwhile"));
    s.decide(id, "bob", "blank", "", 1).unwrap();
    let u = s.undo(id, "bob", 2).unwrap();
    assert_eq!(u.new_value, "good");
    let u = s.undo(id, "bob", 3).unwrap();
    assert_eq!(u.new_value, "blank", "undoing an undo redoes");
    let trail = s.audit(id).unwrap();
    assert_eq!(trail.len(), 4);
    assert_eq!(
        trail[0].machine_value, "",
        "the machine had no answer for an ambiguous question"
    );
    assert_eq!(s.flag(id).unwrap().version, 4);
    // Back to open: undo of the very first decision.
    let (_d2, mut t) = store();
    record(&mut t, "f1", 0, &page("AAAAAAAA"));
    let f = t.open_flags().unwrap()[0].id;
    assert_eq!(
        t.flag(f).unwrap().kind,
        FlagKind::Marginal,
        "the most urgent flag comes first"
    );
    t.decide(f, "ann", "blank", "", 0).unwrap();
    assert_eq!(t.undo(f, "ann", 1).unwrap().new_value, "");
    assert_eq!(t.open_flags().unwrap().len(), 2);
    assert!(matches!(
        t.undo(f, "ann", 2).unwrap_err(),
        StoreError::NothingToUndo(_)
    ));
}

#[test]
fn a_second_image_of_a_serial_is_a_duplicate_and_not_counted_until_kept() {
    let (_d, mut s) = store();
    let mut first = page("BBBBBBBB");
    first.flags.clear();
    first.questions[1] = question("a1", "r", QuestionState::Blank, None);
    first.names.clear();
    record(&mut s, "f1", 0, &first);
    let dup = record(&mut s, "f2", 4, &first);
    assert_eq!(dup.duplicate_of.as_deref(), Some("f1.pdf#1"));
    let sheets = s.sheets().unwrap();
    assert_eq!(sheets.len(), 1);
    assert_eq!(sheets[0].pages, vec!["f1.pdf#1"]);
    assert_eq!(sheets[0].open_flags.len(), 1);
    assert_eq!(sheets[0].open_flags[0].kind, FlagKind::Duplicate);
    assert_eq!(sheets[0].open_flags[0].page, "f2.pdf#5");
    // Re-reading the duplicate keeps one flag, with the same id.
    let flag = s.open_flags().unwrap()[0].id;
    record(&mut s, "f2", 4, &first);
    assert_eq!(s.open_flags().unwrap().len(), 1);
    assert_eq!(s.open_flags().unwrap()[0].id, flag);

    s.decide(flag, "ann", "keep", "two people", 0).unwrap();
    let sheets = s.sheets().unwrap();
    assert_eq!(sheets.len(), 2);
    assert!(sheets.iter().all(|s| s.open_flags.is_empty()));
    assert!(sheets[1].serial.starts_with("BBBBBBBB~"));
    s.decide(flag, "ann", "discard", "", 1).unwrap();
    assert_eq!(s.sheets().unwrap().len(), 1);
}

#[test]
fn rejected_unknown_and_integrity_decisions_shape_the_sheet() {
    let (_d, mut s) = store();
    record(
        &mut s,
        "f1",
        0,
        &PageReading::rejected("no registration marks"),
    );
    record(&mut s, "f1", 1, &PageReading::blank());
    let mut p = page("CCCCCCCC");
    p.flags = vec![
        Flag {
            kind: FlagKind::UnknownSerial,
            target: None,
            detail: "never printed".into(),
            urgency: 0.0,
        },
        Flag {
            kind: FlagKind::IntegrityFeedback,
            target: Some("feedback".into()),
            detail: "writing".into(),
            urgency: 0.0,
        },
        Flag {
            kind: FlagKind::Comment,
            target: Some("suggest".into()),
            detail: "writing".into(),
            urgency: 0.0,
        },
    ];
    p.questions[1] = question("a1", "r", QuestionState::Blank, None);
    record(&mut s, "f1", 2, &p);
    let sheets = s.sheets().unwrap();
    assert_eq!(sheets.len(), 2, "blank page makes no sheet");
    let rejected = sheets.iter().find(|s| s.serial.is_empty()).unwrap();
    assert_eq!(rejected.open_flags[0].kind, FlagKind::Rejected);
    let sheet = sheets.iter().find(|s| s.serial == "CCCCCCCC").unwrap();
    assert_eq!(sheet.open_flags.len(), 2, "comment does not block");
    assert_eq!(
        value(sheet, "a1.q"),
        Some(AnswerValue::Undecided),
        "unknown serial open"
    );

    for f in s.open_flags().unwrap() {
        let v = match f.kind {
            FlagKind::Rejected => "discard",
            FlagKind::UnknownSerial => "count",
            FlagKind::IntegrityFeedback => {
                assert!(f.choices.contains(&"problem:a1".to_string()));
                "problem:a2"
            }
            FlagKind::Comment => "seen",
            k => panic!("{k:?}"),
        };
        s.decide(f.id, "ann", v, "rude at the window", f.version)
            .unwrap();
    }
    let sheets = s.sheets().unwrap();
    assert!(
        sheets
            .iter()
            .find(|s| s.serial.is_empty())
            .unwrap()
            .discarded
    );
    let sheet = sheets.iter().find(|s| s.serial == "CCCCCCCC").unwrap();
    assert!(!sheet.discarded);
    assert_eq!(
        value(sheet, "a1.q"),
        Some(AnswerValue::Chosen("good".into()))
    );
    assert_eq!(sheet.integrity.len(), 1);
    assert_eq!(sheet.integrity[0].subject, "a2");
    assert_eq!(sheet.integrity[0].note, "rude at the window");
    assert!(sheet.open_flags.is_empty());
}
