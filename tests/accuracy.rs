//! Accuracy of the reader against the simulator's truth: print → simulate → scan → judge
//! every question. The promise under test is "never a wrong count": a confident answer that
//! differs from what the person meant (or a confident blank where ink was meant) is a defect;
//! a flag only costs a reviewer a look.
//!
//! `ci_slice` runs always (≈ 1,500 office and a few hundred hard questions). `full` is
//! `#[ignore]`d and run by `make accuracy`: ≥ 5,000 questions per profile, printing a table.

use pingyi::scan::{scan, ScanOptions};
use pingyi::simulate::{
    self, judge_question, Bilevel, Drawn, Intended, OutputFormat, Profile, Scanner, Score, Verdict,
};
use pingyi::store::Store;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

/// One simulated stack: a form (and branch for 附2), how many sheets, seed, dpi, format, and
/// whether pages are 1-bit (G4 always is).
#[derive(Clone, Copy)]
struct Stack {
    form: &'static str,
    branch: Option<&'static str>,
    sheets: u32,
    seed: u64,
    dpi: u32,
    format: OutputFormat,
    bilevel: Option<Bilevel>,
}

impl Stack {
    /// 1-bit pages (a thresholded TIFF or flate PDF, as office scanners' text mode makes).
    const fn one_bit(mut self) -> Self {
        self.bilevel = Some(Bilevel::Threshold);
        self
    }
}

const fn stack(
    form: &'static str,
    branch: Option<&'static str>,
    sheets: u32,
    seed: u64,
    dpi: u32,
    format: OutputFormat,
) -> Stack {
    Stack {
        form,
        branch,
        sheets,
        seed,
        dpi,
        format,
        bilevel: None,
    }
}

/// What one profile's run measured.
#[derive(Default)]
struct Tally {
    score: Score,
    /// The verdicts on clear questions only (meant as one clean mark, or none): the issue's
    /// "clear questions sent to review" (the field sample's `flagged_clear`). The others were
    /// drawn to be ambiguous, and a flag on them is the right reading.
    clear: Score,
    /// Questions whose page never read (rejected or missing): a person sees the page anyway.
    unread: usize,
    /// One line per wrong question, for the failure message.
    wrong: Vec<String>,
    /// One line per flagged question (printed with `--nocapture` for tuning).
    flagged: Vec<String>,
    /// Every cell's score by what was drawn in it: the margins the thresholds work with.
    scores: HashMap<Drawn, Vec<f32>>,
    /// One line per rejected page: file, index, reason.
    rejected: Vec<String>,
    /// Flagged questions by what was drawn in their boxes ("Tick+Tick", "Pencil", "None"…).
    flagged_by_drawn: std::collections::BTreeMap<String, usize>,
}

fn campaign_dir() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/campaign/campaign.toml"
        ),
        dir.join("campaign.toml"),
    )
    .unwrap();
    (tmp, dir)
}

/// Simulate every stack with `profile`, scan them into one batch, judge every question.
fn measure(profile: Profile, stacks: &[Stack]) -> Tally {
    measure_with(profile, None, stacks)
}

/// `measure` with another scanner than the profile's (to isolate one effect).
fn measure_with(profile: Profile, scanner: Option<Scanner>, stacks: &[Stack]) -> Tally {
    let (_tmp, dir) = campaign_dir();
    let mut truths = Vec::new();
    let mut inputs = Vec::new();
    for (k, s) in stacks.iter().enumerate() {
        let out = dir.join(format!("scans/{k}"));
        let mut o = simulate::SimulateOptions::new(s.form, &dir, s.sheets, &out);
        o.branch = s.branch.map(str::to_string);
        o.profile = profile;
        o.scanner = scanner;
        o.seed = s.seed;
        o.dpi = s.dpi;
        o.format = s.format;
        o.bilevel = s.bilevel;
        truths.push(simulate::run(&o).unwrap());
        inputs.push(out);
    }
    // The truth files are JSON beside the scans; scan the page files only.
    let batch = dir.join("batch");
    let opts = ScanOptions {
        inputs: inputs.clone(),
        campaign: dir.clone(),
        batch: batch.clone(),
        jobs: 0,
        rerun: false,
        ocr: false,
        progress: false,
    };
    let summary = scan(&opts, &AtomicBool::new(false)).unwrap();
    assert!(
        summary.files_failed.is_empty(),
        "files failed: {:?}",
        summary.files_failed
    );
    judge_batch(&batch, &truths, &inputs)
}

/// Judge every question of `batch` against `truths` (simulated into `outs`, in order).
fn judge_batch(batch: &Path, truths: &[simulate::Truth], outs: &[PathBuf]) -> Tally {
    let store = Store::open(batch).unwrap();
    let mut t = Tally::default();
    let wanted: HashMap<(&str, &str), &simulate::QuestionTruth> =
        truths.iter().flat_map(|x| x.questions()).collect();
    // How each page was scanned, for the WRONG and REJECTED lines.
    let scans: HashMap<(PathBuf, usize), &simulate::PageTruth> = truths
        .iter()
        .zip(outs)
        .flat_map(|(x, out)| {
            x.pages
                .iter()
                .map(move |p| ((out.join(&p.file), p.index), p))
        })
        .collect();
    let facts = |file: &str, index: usize| {
        scans
            .get(&(PathBuf::from(file), index))
            .map_or_else(|| "?".into(), |t| scan_facts(t))
    };
    let mut seen = std::collections::HashSet::new();
    for id in store.page_ids().unwrap() {
        let p = store.load_page(id).unwrap();
        let r = &p.reading;
        if r.status == pingyi::read::outcome::PageStatus::Rejected {
            t.rejected.push(format!(
                "{} {}: {}; scan: {}",
                p.file,
                p.index,
                r.reason.as_deref().unwrap_or("?"),
                facts(&p.file, p.index as usize)
            ));
        }
        let Some(code) = &r.code else { continue };
        for q in &r.questions {
            let Some(truth) = wanted.get(&(code.serial.as_str(), q.question.as_str())) else {
                panic!("{} {}: question not in the truth", code.serial, q.question);
            };
            if !seen.insert((code.serial.clone(), q.question.clone())) {
                continue;
            }
            for c in r.cells.iter().filter(|c| c.question == q.question) {
                let drawn = truth
                    .cells
                    .iter()
                    .find(|x| x.option == c.option)
                    .map_or(Drawn::None, |x| x.drawn);
                t.scores.entry(drawn).or_default().push(c.score);
            }
            let v = judge_question(truth, q.state, q.option.as_deref());
            t.score.add(v);
            if !matches!(truth.intended, Intended::Ambiguous { .. }) {
                t.clear.add(v);
            }
            if v == Verdict::Right {
                continue;
            }
            let scores: Vec<String> = r
                .cells
                .iter()
                .filter(|c| c.question == q.question)
                .map(|c| {
                    let drawn = truth
                        .cells
                        .iter()
                        .find(|x| x.option == c.option)
                        .map_or(Drawn::None, |x| x.drawn);
                    format!("{} {:.3} {:?}/{:?}", c.option, c.score, c.class, drawn)
                })
                .collect();
            let line = format!(
                "{} p{} {} [{}] {}: read {:?} {:?}, meant {}; cells: {}; scan: {}",
                code.serial,
                code.page,
                q.question,
                p.file,
                p.index,
                q.state,
                q.option,
                intended(&truth.intended),
                scores.join(", "),
                facts(&p.file, p.index as usize)
            );
            if v == Verdict::Wrong {
                t.wrong.push(line);
            } else {
                let mut drawn: Vec<String> = truth
                    .cells
                    .iter()
                    .filter(|c| c.drawn != Drawn::None)
                    .map(|c| format!("{:?}", c.drawn))
                    .collect();
                drawn.sort();
                let key = if drawn.is_empty() {
                    "None".to_string()
                } else {
                    drawn.join("+")
                };
                *t.flagged_by_drawn.entry(key).or_default() += 1;
                t.flagged.push(line);
            }
        }
    }
    t.unread = wanted.len() - seen.len();
    t
}

/// Skew, keystone, auto-crop and quarter turn of a page, in a few words.
fn scan_facts(p: &simulate::PageTruth) -> String {
    let crop = p.auto_crop.map_or_else(
        || "page-sized".to_string(),
        |c| {
            format!(
                "auto-cropped on {} {} (border mm {:.1}/{:.1}/{:.1}/{:.1})",
                if c.background < 100 { "dark" } else { "light" },
                c.background,
                c.border_mm[0],
                c.border_mm[1],
                c.border_mm[2],
                c.border_mm[3]
            )
        },
    );
    format!(
        "skew {:.2}°, keystone {:.2} mm, turned {}°, {crop}",
        p.skew_deg, p.keystone_mm, p.rotation
    )
}

fn intended(i: &Intended) -> String {
    match i {
        Intended::Answer { option } => format!("answer {option}"),
        Intended::Blank => "blank".into(),
        Intended::Ambiguous { likely } => format!("ambiguous (likely {likely:?})"),
    }
}

fn row(name: &str, t: &Tally) -> String {
    format!(
        "{name:<8} {:>9} {:>6} {:>8} {:>8.2} % {:>7} {:>9.2} %",
        t.score.total(),
        t.score.wrong,
        t.score.flagged,
        t.score.flagged_rate() * 100.0,
        t.unread,
        t.clear.flagged_rate() * 100.0
    )
}

const HEADER: &str = "profile  questions  wrong  flagged  flagged %  unread  clear flagged";

/// Score quantiles per drawn kind: where the thresholds sit between empty and marked.
fn spread(name: &str, t: &Tally) -> String {
    let mut s = String::new();
    let mut kinds: Vec<_> = t.scores.iter().collect();
    kinds.sort_by_key(|(k, _)| format!("{k:?}"));
    for (kind, v) in kinds {
        let mut v = v.clone();
        v.sort_by(f32::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        let _ = writeln!(
            s,
            "{name:<8} {:<9} n={:<6} min {:.3}  p1 {:.3}  p50 {:.3}  p99 {:.3}  max {:.3}",
            format!("{kind:?}"),
            v.len(),
            q(0.0),
            q(0.01),
            q(0.5),
            q(0.99),
            q(1.0)
        );
    }
    s
}

fn report(name: &str, t: &Tally, show_flags: bool) -> String {
    let mut s = spread(name, t);
    let by: Vec<String> = t
        .flagged_by_drawn
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(s, "{name:<8} flagged by what was drawn: {}", by.join(", "));
    for r in &t.rejected {
        let _ = writeln!(s, "REJECTED {name}: {r}");
    }
    for w in &t.wrong {
        let _ = writeln!(s, "WRONG {name}: {w}");
    }
    if show_flags {
        for f in &t.flagged {
            let _ = writeln!(s, "flag {name}: {f}");
        }
    }
    s
}

use OutputFormat::{PdfG4, PdfJpeg, Tiff};

/// The CI slice: office at the usual 300 dpi JPEG plus a 200 dpi stack, and a hard stack. The
/// office pages carry the field sample's effects at office rates (keystone ≤ 1 mm, 5 % on a
/// dark background auto-cropped, light pencil, dots, straddles); the 200-dpi 1-bit stacks are
/// `one_bit_200_dpi_office_never_a_wrong_count`, the hard stacks `hard_slice_…`.
#[test]
fn ci_slice_never_a_wrong_count() {
    let start = Instant::now();
    let office = measure(
        Profile::Office,
        &[
            stack("member", Some("jiguan1"), 24, 11, 300, PdfJpeg),
            stack("window", None, 16, 12, 300, PdfJpeg),
            stack("branch", None, 12, 13, 200, PdfJpeg),
        ],
    );
    let hard = measure(
        Profile::Hard,
        &[stack("member", Some("zhongxin2"), 6, 21, 200, PdfJpeg)],
    );
    eprintln!(
        "{}\n{}\n{}",
        HEADER,
        row("office", &office),
        row("hard", &hard)
    );
    eprint!("{}", report("office", &office, true));
    eprint!("{}", report("hard", &hard, false));
    eprintln!("ci slice: {:.1} s", start.elapsed().as_secs_f64());
    assert!(office.score.total() >= 1_200, "{}", office.score.total());
    assert_eq!(
        office.score.wrong,
        0,
        "{}",
        report("office", &office, false)
    );
    assert_eq!(hard.score.wrong, 0, "{}", report("hard", &hard, false));
    assert_eq!(office.unread, 0);
    // The budget is on clear questions: flagging a deliberately ambiguous mark is right.
    assert!(
        office.clear.flagged_rate() <= 0.01,
        "office: {:.2} % of clear questions flagged",
        office.clear.flagged_rate() * 100.0
    );
}

/// The CI slice's former hard stacks, with the field sample's effects in the simulator (skew up
/// to 5° on auto-cropped pages, keystone, light pencil, dots, straddles). Seed 306 at 150 dpi
/// also holds the scanner-streak case (sheet 269EDAV3: a streak through the 不满意 column once
/// read as four confident answers).
#[test]
fn hard_slice_never_a_wrong_count() {
    let hard = measure(
        Profile::Hard,
        &[
            stack("window", None, 6, 22, 300, PdfJpeg),
            stack("window", None, 40, 306, 150, PdfJpeg),
        ],
    );
    eprintln!("{HEADER}\n{}", row("hard", &hard));
    eprint!("{}", report("hard", &hard, false));
    assert_eq!(hard.score.wrong, 0, "{}", report("hard", &hard, false));
}

/// The full table's stacks for one profile: every seed form, 附2 for every branch, 150–300
/// dpi, JPEG, gray TIFF and G4.
fn table_stacks(seed: u64) -> Vec<Stack> {
    vec![
        stack("member", Some("jiguan1"), 40, seed + 1, 300, PdfJpeg),
        stack("member", Some("jiguan2"), 40, seed + 2, 200, PdfJpeg),
        stack("member", Some("zhongxin1"), 40, seed + 3, 300, Tiff),
        stack("member", Some("zhongxin2"), 40, seed + 4, 300, PdfG4),
        stack("window", None, 60, seed + 5, 300, PdfJpeg),
        stack("window", None, 40, seed + 6, 150, PdfJpeg),
        stack("branch", None, 60, seed + 7, 300, PdfJpeg),
    ]
}

/// 200-dpi 1-bit stacks (G4, and a thresholded TIFF), as the field sample's office scans.
fn one_bit_stacks(seed: u64) -> Vec<Stack> {
    vec![
        stack("member", Some("jiguan1"), 30, seed + 8, 200, PdfG4),
        stack("window", None, 30, seed + 9, 200, Tiff).one_bit(),
    ]
}

/// The 200-dpi 1-bit stacks (G4 and a thresholded TIFF) at office level, as most of the field
/// sample's office scans: no wrong count, at most 1 % of clear questions flagged.
#[test]
fn one_bit_200_dpi_office_never_a_wrong_count() {
    let t = measure(Profile::Office, &one_bit_stacks(200));
    eprintln!("{HEADER}\n{}", row("office", &t));
    eprint!("{}", report("office", &t, true));
    assert_eq!(t.score.wrong, 0, "{}", report("office", &t, false));
    assert_eq!(t.unread, 0);
    assert!(
        t.clear.flagged_rate() <= 0.01,
        "office: {:.2} % of clear questions flagged",
        t.clear.flagged_rate() * 100.0
    );
}

/// The same 1-bit stacks at hard level (5° turns, 2 mm keystone, light pencil and pens running
/// dry, on 200-dpi black-and-white): a faint tick thresholded to a few pixels once read as a
/// confident blank here (a tick drawn below its box meeting it near a corner, a light stroke
/// thresholded into two dots). Other seeds still find such gaps: see the README.
#[test]
fn one_bit_200_dpi_hard_never_a_wrong_count() {
    let t = measure(Profile::Hard, &one_bit_stacks(300));
    eprintln!("{HEADER}\n{}", row("hard", &t));
    eprint!("{}", report("hard", &t, false));
    assert_eq!(t.score.wrong, 0, "{}", report("hard", &t, false));
}

/// Every profile on ≥ 5,000 questions: all three seed forms, 附2 for every branch, several
/// resolutions and formats. `make accuracy`.
#[test]
#[ignore = "about a minute and a half; run with `make accuracy`"]
fn full_table() {
    let mut lines = vec![HEADER.to_string()];
    let mut failures = String::new();
    for (profile, seed) in [
        (Profile::Clean, 100),
        (Profile::Office, 200),
        (Profile::Hard, 300),
    ] {
        let start = Instant::now();
        let t = measure(profile, &table_stacks(seed));
        eprint!("{}", report(profile.name(), &t, true));
        lines.push(format!(
            "{}   ({:.0} s)",
            row(profile.name(), &t),
            start.elapsed().as_secs_f64()
        ));
        eprintln!("{}", lines.last().unwrap());
        assert!(t.score.total() >= 5_000, "{}", t.score.total());
        // Any wrong count fails the table (its report says which); the spread and rejected
        // pages alone are not failures.
        if !t.wrong.is_empty() {
            failures.push_str(&report(profile.name(), &t, false));
        }
        let budget = match profile {
            Profile::Clean => Some(0.003),
            Profile::Office => Some(0.01),
            Profile::Hard => None,
        };
        if let Some(b) = budget {
            if t.clear.flagged_rate() > b {
                let _ = writeln!(
                    failures,
                    "{}: clear questions flagged {:.2} % > {:.1} %",
                    profile.name(),
                    t.clear.flagged_rate() * 100.0,
                    b * 100.0
                );
            }
        }
    }
    println!("{}", lines.join("\n"));
    assert!(failures.is_empty(), "{failures}");
}

/// The `hard` row of the full table alone (same stacks and seed), for tuning.
#[test]
#[ignore = "about half a minute; the hard row of `full_table`"]
fn hard_row() {
    one_row(Profile::Hard, 300);
}

/// The `office` row of the full table alone (same stacks and seed), for tuning.
#[test]
#[ignore = "about half a minute; the office row of `full_table`"]
fn office_row() {
    one_row(Profile::Office, 200);
}

fn one_row(profile: Profile, seed: u64) {
    let t = measure(profile, &table_stacks(seed));
    eprint!("{}", report(profile.name(), &t, true));
    eprintln!("{HEADER}\n{}", row(profile.name(), &t));
}

/// More seeds of the 1-bit and full-table stacks than CI can afford, to hunt for the rare
/// wrong count: `SEEDS=1000,2000 cargo test --release --test accuracy -- --ignored seed_sweep`;
/// `PROFILE=office` (or `clean`) sweeps that level instead of `hard`.
#[test]
#[ignore = "about a minute per seed; SEEDS=a,b,c picks them, PROFILE the level"]
fn seed_sweep() {
    let seeds: Vec<u64> = std::env::var("SEEDS")
        .unwrap_or_else(|_| "1000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let profile = match std::env::var("PROFILE").as_deref() {
        Ok("office") => Profile::Office,
        Ok("clean") => Profile::Clean,
        _ => Profile::Hard,
    };
    let level = profile.name();
    let mut failures = String::new();
    for seed in seeds {
        for (name, stacks) in [
            ("1-bit", one_bit_stacks(seed)),
            ("table", table_stacks(seed)),
        ] {
            let t = measure(profile, &stacks);
            eprintln!("seed {seed} {name}: {}", row(level, &t));
            for r in &t.rejected {
                eprintln!("REJECTED seed {seed} {name}: {r}");
            }
            // `hard` may lose a page in a hundred (issue 11); the other levels none.
            if !t.wrong.is_empty() || (profile != Profile::Hard && t.unread > 0) {
                let _ = write!(
                    failures,
                    "seed {seed} {name}:\n{}",
                    report(level, &t, false)
                );
            }
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

/// The hard row's stacks with the hard profile's people and its scanner's new effects one at
/// a time: which effect a wrong count or a rejected page comes from. `old 1-bit` is the hard
/// scanner before the field sample (3° at most, a rectangle, page-sized, a plain threshold);
/// `old` adds the 1-bit sensor noise and dust; the next three add skew up to 5°, keystone,
/// auto-cropping on dark and light backgrounds; `hard` is all of them.
#[test]
#[ignore = "about ten minutes; isolates the hard scanner's effects"]
fn hard_effects_one_at_a_time() {
    let hard = Profile::Hard.scanner();
    // The hard scanner before the field sample: 3° at most, a rectangle, page-sized.
    let old = Scanner {
        skew_deg: 3.0,
        keystone_mm: 0.0,
        auto_crop: 0.0,
        dark_background: 0.0,
        ..hard
    };
    let variants = [
        (
            "old 1-bit",
            Scanner {
                one_bit_noise: 0.0,
                speckle: (0.0, 0.0),
                ..old
            },
        ),
        ("old", old),
        (
            "skew 5°",
            Scanner {
                skew_deg: 5.0,
                ..old
            },
        ),
        (
            "keystone",
            Scanner {
                keystone_mm: hard.keystone_mm,
                ..old
            },
        ),
        (
            "crop",
            Scanner {
                auto_crop: hard.auto_crop,
                dark_background: hard.dark_background,
                ..old
            },
        ),
        ("hard", hard),
    ];
    let mut lines = vec![format!("variant   {HEADER}")];
    for (name, scanner) in variants {
        let stacks: Vec<Stack> = table_stacks(300)
            .into_iter()
            .chain(one_bit_stacks(300))
            .collect();
        let t = measure_with(Profile::Hard, Some(scanner), &stacks);
        eprint!("{}", report(name, &t, false));
        lines.push(format!("{name:<9} {}", row("hard", &t)));
        eprintln!("{}", lines.last().unwrap());
    }
    println!("{}", lines.join("\n"));
}
