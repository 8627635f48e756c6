//! Store tests on a real SQLite file in a temp folder.

use super::*;
use crate::code::PageCode;
use crate::read::outcome::{
    CellClass, CellReading, Flag, FlagKind, NameReading, PageReading, PageStatus, QuestionReading,
    QuestionState,
};
use crate::sheet::AnswerValue;
use crate::store::flags::Decision;

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

fn marginal_flag(s: &Store) -> FlagView {
    s.open_flags()
        .unwrap()
        .into_iter()
        .find(|f| f.kind == FlagKind::Marginal)
        .unwrap()
}

#[test]
fn every_decision_and_undo_is_journaled_by_what_survives_a_rescan() {
    let (_d, mut s) = store();
    record(&mut s, "f1", 3, &page("AAAAAAAA"));
    let f = marginal_flag(&s);
    let decided = s.decide(f.id, "ann", "good", "faint tick", 0).unwrap();
    let undone = s.undo(f.id, "bob", 1).unwrap();
    let read = journal::read(&s.dir().join(JOURNAL_FILE)).unwrap();
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    let lines: Vec<&JournalEntry> = read.entries.iter().map(|(_, e)| e).collect();
    assert_eq!(lines.len(), 2);
    for (line, d) in lines.iter().zip([&decided, &undone]) {
        assert_eq!(
            (
                line.file_sha256.as_str(),
                line.page_index,
                line.kind.as_str(),
                line.target.as_deref()
            ),
            ("f1", 3, "marginal", Some("a1.r"))
        );
        assert_eq!(
            (&line.reviewer, &line.at, &line.new_value, &line.note),
            (&d.reviewer, &d.at, &d.new_value, &d.note)
        );
        assert_eq!(line.serial.as_deref(), Some("AAAAAAAA"));
    }
    assert_eq!(
        lines[1].new_value, "",
        "an undo back to open is journaled too"
    );
    // A refused decision writes nothing.
    assert!(s.decide(f.id, "ann", "purple", "", 2).is_err());
    assert_eq!(
        journal::count_lines(&s.dir().join(JOURNAL_FILE)).unwrap(),
        2
    );
}

#[test]
fn replaying_the_journal_restores_decisions_as_made_and_reports_those_that_cannot_land() {
    let (d, mut s) = store();
    record(&mut s, "f1", 0, &page("AAAAAAAA"));
    record(&mut s, "f2", 0, &page("BBBBBBBB"));
    let flags = s.open_flags().unwrap();
    for f in &flags {
        let v = if f.kind == FlagKind::NameCheck {
            "ok"
        } else {
            "bad"
        };
        s.decide(f.id, "ann", v, "", 0).unwrap();
    }
    let name_f2 = flags
        .iter()
        .find(|f| f.kind == FlagKind::NameCheck && f.page.sha256 == "f2")
        .unwrap();
    s.undo(name_f2.id, "bob", 1).unwrap();
    let journal_path = s.dir().join(JOURNAL_FILE);
    let journal_before = std::fs::read(&journal_path).unwrap();
    let entries: Vec<JournalEntry> = journal::read(&journal_path)
        .unwrap()
        .entries
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    let marginal_f1 = flags
        .iter()
        .find(|f| f.kind == FlagKind::Marginal && f.page.sha256 == "f1")
        .unwrap();
    let trail_before = s.audit(marginal_f1.id).unwrap();

    // A rebuilt batch: f1 reads as before, f2's page no longer raises the name check, and f3
    // (the original had none) is gone: a journal line about it cannot land.
    let rebuilt = d.path().join("rebuilt");
    let toml = d.path().join("campaign.toml");
    let mut r = Store::create_with(&rebuilt, &toml, Access::Rebuild).unwrap();
    assert!(
        matches!(
            Store::open(&rebuilt).unwrap_err(),
            StoreError::RebuildUnfinished { .. }
        ),
        "a half-built batch is refused"
    );
    record(&mut r, "f1", 0, &page("AAAAAAAA"));
    let mut sure = page("BBBBBBBB");
    sure.flags.retain(|f| f.kind != FlagKind::NameCheck);
    record(&mut r, "f2", 0, &sure);
    let mut lost = entries[0].clone();
    lost.file_sha256 = "f3".into();
    let mut all = entries.clone();
    all.push(lost);
    let out = r.replay_journal(&all).unwrap();
    drop(r);

    assert_eq!(out.applied, entries.len() - 2, "{out:?}");
    let why: Vec<(&str, usize, NotReplayed)> = out
        .unreplayed
        .iter()
        .map(|u| (u.entry.file_sha256.as_str(), u.decisions, u.why))
        .collect();
    assert_eq!(
        why,
        [
            ("f2", 2, NotReplayed::NoLongerRaised),
            ("f3", 1, NotReplayed::PageMissing)
        ]
    );
    let r = Store::open(&rebuilt).unwrap();
    let same = r
        .all_flags()
        .unwrap()
        .into_iter()
        .find(|f| f.kind == FlagKind::Marginal && f.page.sha256 == "f1")
        .unwrap();
    let trail_after = r.audit(same.id).unwrap();
    let strip = |t: &[Decision]| -> Vec<(String, String, String, String, String)> {
        t.iter()
            .map(|d| {
                (
                    d.reviewer.clone(),
                    d.at.clone(),
                    d.machine_value.clone(),
                    d.new_value.clone(),
                    d.note.clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        strip(&trail_after),
        strip(&trail_before),
        "original reviewer and time"
    );
    assert!(
        r.open_flags().unwrap().is_empty(),
        "the unraised flag's decisions stay in the audit trail only"
    );
    assert!(
        !rebuilt.join(JOURNAL_FILE).exists(),
        "replay journals nothing"
    );
    assert_eq!(std::fs::read(&journal_path).unwrap(), journal_before);
}

#[test]
fn a_batch_from_an_older_pingyi_gets_its_manifest_and_journal_before_its_next_decision() {
    let (_d, mut s) = store();
    record(&mut s, "f1", 0, &page("AAAAAAAA"));
    let f = marginal_flag(&s);
    s.decide(f.id, "ann", "good", "", 0).unwrap();
    let dir = s.dir().to_path_buf();
    drop(s);
    // What an older pingyi leaves: the database alone.
    std::fs::remove_file(dir.join(JOURNAL_FILE)).unwrap();
    std::fs::remove_file(dir.join(MANIFEST_FILE)).unwrap();

    let mut s = Store::open(&dir).unwrap();
    let name = s
        .open_flags()
        .unwrap()
        .into_iter()
        .find(|f| f.kind == FlagKind::NameCheck)
        .unwrap();
    s.decide(name.id, "bob", "ok", "", 0).unwrap();
    let read = journal::read(&dir.join(JOURNAL_FILE)).unwrap();
    let got: Vec<(&str, &str)> = read
        .entries
        .iter()
        .map(|(_, e)| (e.kind.as_str(), e.new_value.as_str()))
        .collect();
    assert_eq!(got, [("marginal", "good"), ("name_check", "ok")]);
    let m = manifest::read(&dir.join(MANIFEST_FILE)).unwrap().unwrap();
    assert_eq!(m.files.len(), 1);
    assert_eq!(
        (m.files[0].sha256.as_str(), m.files[0].path.as_str()),
        ("f1", "f1.pdf")
    );
    assert!(m.campaign.ends_with("campaign.toml"), "{}", m.campaign);
    // Caught up once: a later connection adds nothing more.
    let mut again = Store::open(&dir).unwrap();
    assert_eq!(again.ensure_records().unwrap(), 0);
}

#[test]
fn a_damaged_or_missing_database_is_refused_once_naming_the_remedy() {
    let (_d, mut s) = store();
    for i in 0..40 {
        record(&mut s, "f1", i, &page(&format!("S{i:07}")));
    }
    let dir = s.dir().to_path_buf();
    drop(s);
    let db = dir.join(DB_FILE);
    let mut bytes = std::fs::read(&db).unwrap();
    // A sector of garbage at the start of the middle page (4 KiB pages), over its header.
    let mid = bytes.len() / 2 / 4096 * 4096;
    bytes[mid..mid + 512].fill(0x5a);
    std::fs::write(&db, &bytes).unwrap();
    let e = Store::open(&dir).unwrap_err();
    assert!(matches!(e, StoreError::Damaged { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!("run `pingyi rebuild --batch {}`", dir.display())),
        "{text}"
    );
    assert_eq!(text.matches("damaged").count(), 1, "{text}");
    assert!(
        std::error::Error::source(&e).is_none(),
        "no source for error chains to print again"
    );
    let toml = dir.parent().unwrap().join("campaign.toml");
    assert!(matches!(
        Store::create(&dir, &toml).unwrap_err(),
        StoreError::Damaged { .. }
    ));

    std::fs::remove_file(&db).unwrap();
    for e in [
        Store::open(&dir).unwrap_err(),
        Store::create(&dir, &toml).unwrap_err(),
    ] {
        assert!(matches!(e, StoreError::Missing { .. }), "{e}");
        assert!(e.to_string().contains("pingyi rebuild --batch"), "{e}");
    }
}

#[test]
fn a_decision_the_journal_cannot_take_is_not_saved() {
    let (_d, mut s) = store();
    record(&mut s, "f1", 0, &page("AAAAAAAA"));
    let f = marginal_flag(&s);
    // Something in the journal's place that cannot be appended to.
    std::fs::create_dir(s.dir().join(JOURNAL_FILE)).unwrap();
    let e = s.decide(f.id, "ann", "good", "", 0).unwrap_err();
    assert!(matches!(e, StoreError::JournalWrite { .. }), "{e}");
    assert!(e.to_string().contains("the decision was not saved"), "{e}");
    assert!(s.audit(f.id).unwrap().is_empty(), "rolled back");
    assert_eq!(s.flag(f.id).unwrap().version, 0);
}
