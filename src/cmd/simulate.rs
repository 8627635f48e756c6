//! `pingyi simulate FORM --campaign C --sheets N --out DIR`: filled-in, scanned returns of
//! really printed sheets plus `DIR/truth.json` (see `pingyi::simulate`).

use pingyi::simulate::{self, Bilevel, OutputFormat, Profile, SimulateOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The form: a TOML file, or the id of a form printed in the campaign or of a seed form.
    form: String,
    /// The campaign folder (or its campaign.toml); the sheets are printed (recorded) there.
    #[arg(long)]
    campaign: PathBuf,
    /// How many sheets (printed copies) to fill in and scan.
    #[arg(long)]
    sheets: u32,
    /// Output folder for the scans and truth.json.
    #[arg(long)]
    out: PathBuf,
    /// Branch (required for forms listing candidates per branch, e.g. member).
    #[arg(long)]
    branch: Option<String>,
    /// How careful the people and how bad the scanner.
    #[arg(long, value_enum, default_value = "office")]
    profile: Profile,
    /// Same seed, same sheets, same images.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 300)]
    dpi: u32,
    #[arg(long, value_enum, default_value = "pdf-jpeg")]
    format: OutputFormat,
    /// Pages per PDF/TIFF file.
    #[arg(long, default_value_t = 50)]
    pages_per_file: usize,
    /// Share of pages followed by a blank back (0–1); default from the profile.
    #[arg(long)]
    blank_backs: Option<f64>,
    /// 1-bit output: threshold or dither.
    #[arg(long, value_enum)]
    bilevel: Option<Bilevel>,
    /// Font file for printing (else $PINGYI_FONT or the system's CJK font).
    #[arg(long)]
    font: Option<PathBuf>,
    /// Make the first N 附2 sheets recommend more than five people (推荐无效).
    #[arg(long, default_value_t = 0)]
    over_recommend: u32,
    /// Make the first N sheets write in their flagged box (附3 integrity feedback).
    #[arg(long, default_value_t = 0)]
    flagged_writing: u32,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let opts = SimulateOptions {
        form: a.form,
        campaign: a.campaign,
        sheets: a.sheets,
        out: a.out,
        branch: a.branch,
        profile: a.profile,
        scanner: None,
        seed: a.seed,
        dpi: a.dpi,
        format: a.format,
        pages_per_file: a.pages_per_file,
        blank_backs: a.blank_backs,
        bilevel: a.bilevel,
        font: a.font,
        progress: true,
        force: simulate::answers::Force {
            over_recommend: a.over_recommend,
            flagged_writing: a.flagged_writing,
        },
    };
    let started = Instant::now();
    let truth = simulate::run(&opts)?;
    let secs = started.elapsed().as_secs_f64();
    let backs = truth.pages.iter().filter(|p| p.blank_back).count();
    let questions: usize = truth.sheets.iter().map(|s| s.questions.len()).sum();
    eprintln!(
        "{} sheets, {} pages ({} blank backs), {} questions → {} in {:.1} s ({:.1} pages/s); truth: {}",
        truth.sheets.len(),
        truth.pages.len(),
        backs,
        questions,
        opts.out.display(),
        secs,
        truth.pages.len() as f64 / secs.max(1e-9),
        opts.out.join(simulate::TRUTH_FILE).display()
    );
    Ok(ExitCode::SUCCESS)
}
