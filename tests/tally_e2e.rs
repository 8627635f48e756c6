//! From simulated scans to the committee's numbers: simulate a small campaign batch (附1 and
//! 附2 for one branch, 附3) with its truth → scan → a reviewer settles every open flag with
//! what the person meant (as the truth says) through the store's `decide` → `tally`. The
//! counts per subject, item and grade must equal those computed straight from the truth
//! files by the seed's rules (blank posts skipped, more than five recommendations voided,
//! empty sheets not counted).

use pingyi::campaign::Campaign;
use pingyi::folder::CampaignFolder;
use pingyi::read::outcome::FlagKind;
use pingyi::scan::{scan, ScanOptions};
use pingyi::simulate::{self, Intended, OutputFormat, Profile, Truth};
use pingyi::store::Store;
use pingyi::tally::{tally, Status};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicBool;

/// (form, subject, item, option or "" for blank) → count.
type Counts = BTreeMap<(String, String, String, String), u64>;

/// (subject, item, the value meant) of one question.
type Value<'a> = (String, String, Option<&'a str>);

/// The value a careful reviewer gives a question: the intended option, the likely one for a
/// deliberately unclear mark, else nothing.
fn meant(i: &Intended) -> Option<&str> {
    match i {
        Intended::Answer { option } => Some(option),
        Intended::Ambiguous { likely } => likely.as_deref(),
        Intended::Blank => None,
    }
}

/// The counts the seed's rules give for the sheets in `truth`, computed from the truth alone.
/// Also returns (skipped blank subjects, voided recommendations) per (form, subject).
fn expected(
    truth: &Truth,
    skip_blank_subject: bool,
    recommend: Option<(&str, usize)>,
    counts: &mut Counts,
    skipped: &mut BTreeMap<(String, String), u64>,
    voided: &mut BTreeMap<(String, String), u64>,
) {
    for sheet in &truth.sheets {
        let values: Vec<Value> = sheet
            .questions
            .iter()
            .map(|q| {
                let (subject, item) = match q.question.rsplit_once('.') {
                    Some((s, i)) => (s.to_string(), i.to_string()),
                    // 附1: the branch is the subject.
                    None => (truth.branch.clone().unwrap(), q.question.clone()),
                };
                (subject, item, meant(&q.intended))
            })
            .collect();
        // A sheet with nothing ticked is a blank sheet: not counted at all.
        if values.iter().all(|v| v.2.is_none()) {
            continue;
        }
        let void_recs = recommend.is_some_and(|(item, max)| {
            values
                .iter()
                .filter(|v| v.1 == item && v.2.is_some())
                .count()
                > max
        });
        let mut by_subject: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
        for v in &values {
            by_subject.entry(&v.0).or_default().push(v);
        }
        for (subject, vs) in by_subject {
            let key = (truth.form.clone(), subject.to_string());
            if skip_blank_subject && vs.iter().all(|v| v.2.is_none()) {
                *skipped.entry(key).or_default() += 1;
                continue;
            }
            for v in vs {
                if void_recs && recommend.is_some_and(|(item, _)| item == v.1) && v.2.is_some() {
                    *voided.entry(key.clone()).or_default() += 1;
                    continue;
                }
                *counts
                    .entry((
                        truth.form.clone(),
                        subject.to_string(),
                        v.1.clone(),
                        v.2.unwrap_or("").to_string(),
                    ))
                    .or_default() += 1;
            }
        }
    }
}

#[test]
fn tally_of_scanned_returns_equals_the_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/campaign/campaign.toml"
        ),
        dir.join("campaign.toml"),
    )
    .unwrap();
    // Office conditions, so the reviewer has real flags to settle; 附2 with enough sheets that
    // some recommend more than five.
    let stacks: [(&str, Option<&str>, u32, u64); 3] = [
        ("branch", Some("jiguan1"), 8, 31),
        ("member", Some("jiguan1"), 14, 32),
        ("window", None, 8, 33),
    ];
    let mut truths = Vec::new();
    let mut inputs = Vec::new();
    for (k, (form, branch, sheets, seed)) in stacks.iter().enumerate() {
        let out = dir.join(format!("scans/{k}"));
        let mut o = simulate::SimulateOptions::new(*form, dir, *sheets, &out);
        o.branch = branch.map(str::to_string);
        o.profile = Profile::Office;
        o.seed = *seed;
        o.dpi = 200;
        o.format = OutputFormat::PdfJpeg;
        truths.push(simulate::run(&o).unwrap());
        inputs.push(out);
    }
    let batch = dir.join("batch");
    let summary = scan(
        &ScanOptions {
            inputs,
            campaign: dir.to_path_buf(),
            batch: batch.clone(),
            jobs: 0,
            rerun: false,
            ocr: false,
            progress: false,
        },
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(summary.pages_rejected, 0, "{}", summary.render());

    // The reviewer: every open flag settled with what the person meant.
    let wanted: HashMap<(&str, &str), &Intended> = truths
        .iter()
        .flat_map(|t| t.questions())
        .map(|(k, q)| (k, &q.intended))
        .collect();
    let mut store = Store::open(&batch).unwrap();
    let open = store.open_flags().unwrap();
    let mut settled = 0;
    for f in &open {
        let value = match f.kind {
            FlagKind::Marginal | FlagKind::Overvote => {
                let serial = f.page.serial.as_deref().unwrap();
                let q = f.target.as_deref().unwrap();
                let intended = wanted[&(serial, q)];
                meant(intended).unwrap_or("blank").to_string()
            }
            FlagKind::IntegrityFeedback => "none".into(),
            FlagKind::Comment => "seen".into(),
            other => panic!("unexpected flag {other:?}: {}", f.detail),
        };
        store
            .decide(f.id, "校对员", &value, "按原件", f.version)
            .unwrap();
        settled += 1;
    }
    assert!(store.open_flags().unwrap().is_empty());

    let folder = CampaignFolder::open(dir).unwrap();
    let campaign = Campaign::load(&dir.join("campaign.toml")).unwrap();
    let forms = folder.forms().unwrap();
    let t = tally(
        &store.sheets().unwrap(),
        &forms,
        &campaign,
        &folder.print_records().unwrap(),
        &[],
    );
    assert_eq!(t.status, Status::Final, "{:?}", t.pending);

    // What the truth says, by the rules.
    let mut want = Counts::new();
    let (mut want_skipped, mut want_voided) = (BTreeMap::new(), BTreeMap::new());
    for truth in &truths {
        let form = forms.iter().find(|f| f.id == truth.form).unwrap();
        let rec = form
            .rules
            .recommend
            .as_ref()
            .map(|r| (r.item.as_str(), r.max_per_sheet as usize));
        expected(
            truth,
            form.rules.skip_blank_subject,
            rec,
            &mut want,
            &mut want_skipped,
            &mut want_voided,
        );
    }
    // The rules were exercised, not just the happy path.
    assert!(
        want_voided.values().sum::<u64>() > 0,
        "no sheet over the limit"
    );
    assert!(want_skipped.values().sum::<u64>() > 0, "no blank post");

    // What the tally says.
    let mut got = Counts::new();
    let (mut got_skipped, mut got_voided) = (BTreeMap::new(), BTreeMap::new());
    for f in &t.forms {
        for s in &f.subjects {
            let key = (f.form.clone(), s.id.clone());
            if s.sheets_skipped_blank > 0 {
                got_skipped.insert(key.clone(), s.sheets_skipped_blank);
            }
            if s.recommendations_voided > 0 {
                got_voided.insert(key.clone(), s.recommendations_voided);
            }
            for it in &s.items {
                let k = |o: &str| (f.form.clone(), s.id.clone(), it.item.clone(), o.to_string());
                for c in it.counts.iter().filter(|c| c.count > 0) {
                    got.insert(k(&c.option), c.count);
                }
                if it.blank > 0 {
                    got.insert(k(""), it.blank);
                }
                assert_eq!(it.undecided, 0);
            }
        }
    }
    let diff: Vec<String> = want
        .keys()
        .chain(got.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| want.get(*k) != got.get(*k))
        .map(|k| format!("{k:?}: truth {:?}, tally {:?}", want.get(k), got.get(k)))
        .collect();
    assert!(diff.is_empty(), "{}", diff.join("\n"));
    assert_eq!(want_skipped, got_skipped);
    assert_eq!(want_voided, got_voided);
    eprintln!(
        "{} counts agree; {settled} flags settled by the reviewer",
        want.len()
    );
}
