//! `pingyi demo`: the whole job on the built-in example campaign, in one command.
//!
//! print the three seed forms → simulate ~100 filled-in, scanned sheets (with the awkward
//! cases a real stack has: unsure ticks, an overvote, a sheet recommending six people, a
//! duplicate rescan, an upside-down page, blank backs, a foreign page, an integrity remark) →
//! scan → show what needs review → provisional tally and reports.

use anyhow::Context;
use image::{GrayImage, Luma};
use pingyi::folder::CampaignFolder;
use pingyi::form::{seed_forms, FormDef};
use pingyi::print::{print_form, Font};
use pingyi::report::{self, Format};
use pingyi::scan::{scan, ScanOptions};
use pingyi::simulate::truth::Intended;
use pingyi::simulate::{self, OutputFormat, Profile, SimulateOptions, Truth};
use pingyi::store::Store;
use pingyi::tally::tally;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

/// The example campaign (invented names), built in so the demo needs no files.
const EXAMPLE_CAMPAIGN: &str = include_str!("../../fixtures/campaign/campaign.toml");
/// Marker telling a demo folder apart from a user's folder before it is wiped and redone.
const MARKER: &str = ".pingyi-demo";

#[derive(clap::Args)]
pub struct Args {
    /// Where to put the demo campaign, scans, batch and reports (redone on every run).
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// Skip OCR of names (faster; names are then not checked).
    #[arg(long)]
    pub no_ocr: bool,
}

/// One simulated stack: which form, for which branch, how many sheets, how rough.
struct Stack {
    form: &'static str,
    branch: Option<&'static str>,
    sheets: u32,
    profile: Profile,
    format: OutputFormat,
    /// Chosen so that the stack has the case the demo wants to show (see `check_cases`).
    seed: u64,
}

/// ≈ 100 sheets over four branches: every group leader's 附1, each branch's 附2 ballots,
/// 附3 from the units the windows serve. Seeds are fixed: the demo is the same every time.
const STACKS: &[Stack] = &[
    Stack {
        form: "branch",
        branch: Some("jiguan1"),
        sheets: 4,
        profile: Profile::Office,
        format: OutputFormat::Png,
        seed: 11,
    },
    Stack {
        form: "branch",
        branch: Some("jiguan2"),
        sheets: 4,
        profile: Profile::Office,
        format: OutputFormat::Png,
        seed: 12,
    },
    Stack {
        form: "branch",
        branch: Some("zhongxin1"),
        sheets: 4,
        profile: Profile::Office,
        format: OutputFormat::Png,
        seed: 13,
    },
    Stack {
        form: "branch",
        branch: Some("zhongxin2"),
        sheets: 4,
        profile: Profile::Office,
        format: OutputFormat::Png,
        seed: 14,
    },
    Stack {
        form: "member",
        branch: Some("jiguan1"),
        sheets: 18,
        profile: Profile::Office,
        format: OutputFormat::PdfJpeg,
        seed: 21,
    },
    Stack {
        form: "member",
        branch: Some("jiguan1"),
        sheets: 4,
        profile: Profile::Hard,
        format: OutputFormat::PdfJpeg,
        seed: 22,
    },
    Stack {
        form: "member",
        branch: Some("jiguan2"),
        sheets: 12,
        profile: Profile::Office,
        format: OutputFormat::PdfJpeg,
        seed: 23,
    },
    Stack {
        form: "member",
        branch: Some("zhongxin1"),
        sheets: 14,
        profile: Profile::Office,
        format: OutputFormat::PdfJpeg,
        seed: 24,
    },
    Stack {
        form: "member",
        branch: Some("zhongxin2"),
        sheets: 10,
        profile: Profile::Office,
        format: OutputFormat::PdfJpeg,
        seed: 25,
    },
    Stack {
        form: "window",
        branch: None,
        sheets: 24,
        profile: Profile::Office,
        format: OutputFormat::PdfJpeg,
        seed: 31,
    },
];

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let out = fresh_dir(&args.out)?;
    let campaign_dir = out.join("campaign");
    std::fs::create_dir_all(&campaign_dir)?;
    std::fs::write(campaign_dir.join("campaign.toml"), EXAMPLE_CAMPAIGN)?;
    let folder = CampaignFolder::open(&campaign_dir)?;
    let forms = seed_forms()?;
    let font = Font::discover(None)?;

    step(
        1,
        "print the three seed forms (附1 per branch, 附2 per branch, 附3)",
    );
    let print_dir = out.join("print");
    std::fs::create_dir_all(&print_dir)?;
    for form in &forms {
        let branches: Vec<Option<&str>> = match form.id.as_str() {
            "window" => vec![None],
            _ => folder
                .campaign
                .branches
                .iter()
                .map(|b| Some(b.id.as_str()))
                .collect(),
        };
        for b in branches {
            let pdf = print_dir.join(format!("{}-{}.pdf", form.id, b.unwrap_or("all")));
            // A few spare copies per branch: printed but never returned shows up as turnout.
            print_form(&folder, form, b, 2, &pdf, &font)
                .with_context(|| format!("printing {}", pdf.display()))?;
        }
        let annex = form.annex.trim_end_matches([':', '\u{FF1A}']);
        println!("  {annex} {}: {}", form.title, print_dir.display());
    }

    step(2, "simulate the filled-in, scanned returns (~100 sheets)");
    let scans = out.join("scans");
    let mut truths = Vec::new();
    for s in STACKS {
        let dir = scans.join(format!(
            "{}-{}-{}",
            s.form,
            s.branch.unwrap_or("all"),
            s.seed
        ));
        let mut o = SimulateOptions::new(s.form, &campaign_dir, s.sheets, &dir);
        o.branch = s.branch.map(str::to_string);
        o.profile = s.profile;
        o.seed = s.seed;
        o.format = s.format;
        o.pages_per_file = 20;
        if s.form == "window" {
            // Units scan both sides: a blank back every few sheets; one unit reports a problem.
            o.blank_backs = Some(0.1);
            o.force.flagged_writing = 1;
        }
        if s.form == "member" && s.seed == 21 {
            // One group recommends six people: 推荐无效.
            o.force.over_recommend = 1;
        }
        let t = simulate::run(&o).with_context(|| format!("simulating {}", dir.display()))?;
        truths.push((dir, t));
    }
    let specials = make_special_pages(&scans, &truths)?;
    let cases = check_cases(&truths);
    let pages: usize = truths.iter().map(|(_, t)| t.pages.len()).sum::<usize>() + specials.len();
    let sheets: usize = truths.iter().map(|(_, t)| t.sheets.len()).sum();
    println!(
        "  {sheets} sheets, {pages} page images in {}",
        scans.display()
    );
    for (case, what) in cases.iter().chain(specials.iter()) {
        println!("  · {case}: {what}");
    }

    step(3, "scan the stack");
    let batch = folder.batch_dir("demo");
    let opts = ScanOptions {
        inputs: vec![scans.clone()],
        campaign: campaign_dir.clone(),
        batch: batch.clone(),
        jobs: 0,
        rerun: false,
        ocr: !args.no_ocr,
        progress: std::io::stderr().is_terminal(),
    };
    let summary = scan(&opts, &AtomicBool::new(false))?;
    print!("{}", summary.render());

    step(4, "what needs a person (复核)");
    let store = Store::open(&batch)?;
    let flags = store.open_flags()?;
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &flags {
        *by_kind.entry(f.kind.as_str()).or_default() += 1;
    }
    for (k, n) in &by_kind {
        println!("  {n:>4} × {k}");
    }
    println!("  review them in the browser (keyboard: 1–4 grades, 0 blank, Enter accept, u undo):");
    println!(
        "    target/release/pingyi review --batch {}",
        batch.display()
    );

    step(5, "provisional tally (未复核: flags are still open)");
    let sheets = store.sheets()?;
    let printed = folder.print_records()?;
    let forms: Vec<FormDef> = folder.forms()?;
    let t = tally(&sheets, &forms, &folder.campaign, &printed, &[]);
    let table = report::render(&t, Format::Table)?;
    print!("{}", String::from_utf8_lossy(&table));
    let html = out.join("report.html");
    std::fs::write(&html, report::render(&t, Format::Html)?)?;
    let xlsx = out.join("report.xlsx");
    std::fs::write(&xlsx, report::render(&t, Format::Xlsx)?)?;

    println!();
    println!(
        "Done in {:.0} s. Reports: {} and {}",
        started.elapsed().as_secs_f64(),
        html.display(),
        xlsx.display()
    );
    println!("Next:");
    println!(
        "  1. review:  target/release/pingyi review --batch {}",
        batch.display()
    );
    println!(
        "  2. count:   target/release/pingyi tally --batch {} --format html -o {}",
        batch.display(),
        html.display()
    );
    println!(
        "  3. audit:   target/release/pingyi explain --batch {} 王伟",
        batch.display()
    );
    println!(
        "  Your own campaign: copy {} and edit it, then `pingyi print` (see README).",
        campaign_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn step(n: u32, what: &str) {
    println!("\n== {n}. {what}");
}

/// Empty `dir` for a new demo run, refusing to wipe a folder that is not a previous demo.
fn fresh_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    if dir.exists() {
        let is_demo = dir.join(MARKER).exists();
        let is_empty = std::fs::read_dir(dir)?.next().is_none();
        anyhow::ensure!(
            is_demo || is_empty,
            "{} exists and is not a pingyi demo folder: choose another --out",
            dir.display()
        );
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(MARKER),
        "made by `pingyi demo`; removed and redone on every run\n",
    )?;
    // Absolute, so the batch's recorded scan paths work from any folder (review, annotate).
    Ok(std::path::absolute(dir)?)
}

/// The cases a clerk meets in a real stack, as they occur in the simulated truth.
fn check_cases(truths: &[(PathBuf, Truth)]) -> Vec<(&'static str, String)> {
    let mut over = 0;
    let mut integrity = 0;
    let mut unclear = 0;
    let mut upside = 0;
    let mut blanks = 0;
    for (_, t) in truths {
        blanks += t.pages.iter().filter(|p| p.blank_back).count();
        upside += t
            .pages
            .iter()
            .filter(|p| !p.blank_back && p.rotation == 180)
            .count();
        for s in &t.sheets {
            let recommends = s
                .questions
                .iter()
                .filter(|q| {
                    q.question.ends_with(".recommend")
                        && matches!(q.intended, Intended::Answer { .. })
                })
                .count();
            if recommends > 5 {
                over += 1;
            }
            integrity += s
                .writing
                .iter()
                .filter(|w| w.id == "integrity_report" && w.written)
                .count();
            unclear += s
                .questions
                .iter()
                .filter(|q| matches!(q.intended, Intended::Ambiguous { .. }))
                .count();
        }
    }
    vec![
        (
            "unclear ticks (corrections, faint or stray ticks)",
            unclear.to_string(),
        ),
        (
            "附2 sheets recommending more than 5 (推荐无效)",
            over.to_string(),
        ),
        ("附3 integrity remarks (党风廉政)", integrity.to_string()),
        ("upside-down pages", upside.to_string()),
        ("blank backs", blanks.to_string()),
    ]
}

/// Pages no simulation makes: a second scan of a sheet already in the stack, a page turned
/// upside down by hand, and a foreign page (someone else's form with someone else's QR code).
fn make_special_pages(
    scans: &Path,
    truths: &[(PathBuf, Truth)],
) -> anyhow::Result<Vec<(&'static str, String)>> {
    let misc = scans.join("misc");
    std::fs::create_dir_all(&misc)?;
    let mut out = Vec::new();
    // 附1 stacks are one PNG per page: take the first two pages of the first stack.
    let (dir, t) = truths.first().context("no simulated stack")?;
    let mut pngs = t
        .pages
        .iter()
        .filter(|p| !p.blank_back)
        .map(|p| dir.join(&p.file));
    if let Some(first) = pngs.next() {
        // Rescanned on another day: same sheet, different image (JPEG, not the PNG's bytes).
        let img = image::open(&first)?.to_luma8();
        let dup = misc.join("rescan-of-an-earlier-sheet.jpg");
        img.save(&dup)?;
        out.push(("duplicate rescan", dup.display().to_string()));
    }
    if let Some(second) = pngs.next() {
        let img = image::open(&second)?.to_luma8();
        image::imageops::rotate180(&img).save(&second)?;
        out.push(("page fed upside down", second.display().to_string()));
    }
    let foreign = misc.join("foreign-page.png");
    foreign_page().save(&foreign)?;
    out.push((
        "foreign page (another office's QR code)",
        foreign.display().to_string(),
    ));
    Ok(out)
}

/// An A4 page at 150 dpi with text-like bars and a QR code that is not ours.
fn foreign_page() -> GrayImage {
    // A4 at 150 dpi.
    let (w, h) = (1240u32, 1754u32);
    let mut img = GrayImage::from_pixel(w, h, Luma([255]));
    for line in 0..30u32 {
        let y = 200 + line * 40;
        let len = 400 + (line * 137) % 600;
        for yy in y..y + 14 {
            for x in 150..150 + len {
                img.put_pixel(x, yy, Luma([40]));
            }
        }
    }
    if let Ok(code) = qrcode::QrCode::new(b"https://example.org/another-survey") {
        let n = code.width() as u32;
        let module = 8;
        let (x0, y0) = (w - 150 - n * module, h - 150 - n * module);
        for (i, c) in code.to_colors().into_iter().enumerate() {
            if c == qrcode::Color::Dark {
                let (mx, my) = (i as u32 % n, i as u32 / n);
                for dy in 0..module {
                    for dx in 0..module {
                        img.put_pixel(x0 + mx * module + dx, y0 + my * module + dy, Luma([0]));
                    }
                }
            }
        }
    }
    img
}
