//! The scan simulator: realistic filled-in, scanned returns of really printed forms, with a
//! truth file, for the tests, the demo and the benchmark.
//!
//! # How a batch is made
//! 1. **Print** `sheets` copies through the real printer (`print::render_pdf`) into the
//!    campaign folder: form snapshot, layout, print record with the serials, so the reader
//!    accepts the sheets. Serials come from the seed, so a run is reproducible.
//! 2. **Template**: render the first copy's pages once with `pdftoppm` (text as printed) and
//!    white out the per-copy QR and serial line (see `template`).
//! 3. **Plan** every sheet (`answers`): intent per question and the marks to draw — the truth
//!    is exact by construction.
//! 4. **Draw and scan** pages in parallel (rayon): the template, the sheet's QR, the pen marks
//!    (`pen`), then the scanner (`scanner`: skew, keystone, auto-crop, levels, noise…, and for
//!    1-bit output sensor noise and dust before the threshold); blank backs interleaved.
//! 5. **Pack** in order as they come (a writer thread), `pages_per_file` pages per PDF/TIFF,
//!    so memory holds a few pages, never the batch.
//!
//! Every random choice comes from a ChaCha generator seeded from (seed, what, which sheet or
//! page), so the same options give the same truth and the same image bytes whatever the
//! number of threads.

pub mod answers;
mod pen;
mod profile;
pub mod projective;
mod scanner;
pub mod template;
pub mod truth;

pub use profile::{People, Profile, Scanner};
pub use projective::Homography;
pub use truth::{
    judge, judge_question, AutoCrop, CellTruth, Drawn, Intended, PageTruth, QuestionTruth, Score,
    SheetTruth, Truth, Verdict, WritingTruth,
};

use crate::campaign::CampaignError;
use crate::code::{new_serial, CodeError, PageCode};
use crate::folder::{CampaignFolder, FolderError, PrintRecord};
use crate::form::{FormDef, FormError};
use crate::layout::{layout, Layout, LayoutError};
use crate::pages::pack::{EncodedPage, PackFilter, PdfPacker, TiffPack, TiffPacker};
use crate::pages::PageError;
use crate::print::{render_pdf, Font, PrintError};
use answers::SheetPlan;
use image::GrayImage;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use std::collections::HashSet;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

/// Lowest and highest resolution the reader is asked to handle.
const DPI_RANGE: std::ops::RangeInclusive<u32> = 100..=600;
/// Name of the truth file in the output folder.
pub const TRUTH_FILE: &str = "truth.json";

/// Why a simulation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("{0}")]
    Options(String),
    #[error("form \"{form}\" not found (looked for a file of that name, {campaign_forms}, and the seed forms)")]
    UnknownForm {
        form: String,
        campaign_forms: PathBuf,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot render page {page} of {pdf} with pdftoppm: {detail}")]
    Pdftoppm {
        pdf: PathBuf,
        page: usize,
        detail: String,
    },
    #[error("{path} is not a truth file: {detail}")]
    Truth { path: PathBuf, detail: String },
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error(transparent)]
    Form(#[from] FormError),
    #[error(transparent)]
    Campaign(#[from] CampaignError),
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Print(#[from] PrintError),
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error(transparent)]
    Pack(#[from] PageError),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SimError + '_ {
    move |source| SimError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// How pages are written.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    /// PDFs of JPEG pages (what most scanners produce).
    PdfJpeg,
    /// PDFs of lossless 8-bit pages (1-bit with `--bilevel`).
    PdfFlate,
    /// PDFs of CCITT Group 4 1-bit pages (black-and-white office scans).
    PdfG4,
    /// Multi-page TIFFs (LZW gray, or 1-bit with `--bilevel`).
    Tiff,
    /// One PNG per page.
    Png,
    /// One JPEG per page.
    Jpeg,
}

impl OutputFormat {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::PdfJpeg => "pdf-jpeg",
            Self::PdfFlate => "pdf-flate",
            Self::PdfG4 => "pdf-g4",
            Self::Tiff => "tiff",
            Self::Png => "png",
            Self::Jpeg => "jpeg",
        }
    }

    fn one_file_per_page(self) -> bool {
        matches!(self, Self::Png | Self::Jpeg)
    }
}

/// 1-bit output: a fixed threshold or error-diffusion dither.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Bilevel {
    Threshold,
    Dither,
}

/// Everything `run` needs.
#[derive(Debug, Clone)]
pub struct SimulateOptions {
    /// A form file, or the id of a form printed in the campaign, or of a seed form.
    pub form: String,
    /// The campaign folder (or its `campaign.toml`).
    pub campaign: PathBuf,
    pub sheets: u32,
    pub out: PathBuf,
    pub branch: Option<String>,
    pub profile: Profile,
    /// A scanner other than the profile's (tests that isolate one effect); None = the profile's.
    pub scanner: Option<Scanner>,
    pub seed: u64,
    pub dpi: u32,
    pub format: OutputFormat,
    /// Pages per output PDF/TIFF (ignored for PNG/JPEG, one file per page).
    pub pages_per_file: usize,
    /// Share of pages followed by a blank back; None = the profile's default.
    pub blank_backs: Option<f64>,
    /// 1-bit output (`pdf-g4` is always 1-bit: threshold unless dither is asked for).
    pub bilevel: Option<Bilevel>,
    /// Font for printing (else `print::Font::discover`).
    pub font: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
    /// Cases the demo must show whatever the seed: the first N sheets do them.
    pub force: answers::Force,
}

impl SimulateOptions {
    /// Defaults: office profile, 300 dpi, JPEG PDFs of 50 pages, seed 1.
    #[must_use]
    pub fn new(
        form: impl Into<String>,
        campaign: impl Into<PathBuf>,
        sheets: u32,
        out: impl Into<PathBuf>,
    ) -> Self {
        Self {
            form: form.into(),
            campaign: campaign.into(),
            sheets,
            out: out.into(),
            branch: None,
            profile: Profile::Office,
            scanner: None,
            seed: 1,
            dpi: 300,
            format: OutputFormat::PdfJpeg,
            pages_per_file: 50,
            blank_backs: None,
            bilevel: None,
            font: None,
            progress: false,
            force: answers::Force::default(),
        }
    }

    fn check(&self) -> Result<(), SimError> {
        let bad = |s: String| Err(SimError::Options(s));
        if self.sheets == 0 {
            return bad("--sheets must be at least 1".into());
        }
        if !DPI_RANGE.contains(&self.dpi) {
            return bad(format!(
                "--dpi {} is outside {}–{}",
                self.dpi,
                DPI_RANGE.start(),
                DPI_RANGE.end()
            ));
        }
        if self.pages_per_file == 0 {
            return bad("--pages-per-file must be at least 1".into());
        }
        if let Some(r) = self.blank_backs {
            if !(0.0..=1.0).contains(&r) {
                return bad(format!("--blank-backs {r} is not a share between 0 and 1"));
            }
        }
        Ok(())
    }
}

/// A seeded generator for one purpose and index: independent streams, reproducible in any
/// order (splitmix64 mixing of seed, purpose and index).
fn rng_for(seed: u64, purpose: u64, index: u64) -> ChaCha8Rng {
    let mut z = seed
        ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ index.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}

/// Purposes of the random streams.
const RNG_SERIALS: u64 = 1;
const RNG_PLAN: u64 = 2;
const RNG_PAGE: u64 = 3;
const RNG_BACK: u64 = 4;
const RNG_FILE: u64 = 5;
/// Keystone and auto-crop: their own stream, so a seed's skew, folds and streaks stay put.
const RNG_SCAN_EXTRA: u64 = 6;
/// Sensor noise and dust of a 1-bit page.
const RNG_ONE_BIT: u64 = 7;

/// Find the form: a file, the campaign's snapshot, or a seed form.
fn resolve_form(name: &str, folder: &CampaignFolder) -> Result<FormDef, SimError> {
    let p = Path::new(name);
    if p.is_file() {
        return Ok(crate::form::load_file(p)?);
    }
    let snap = folder.root.join("forms").join(format!("{name}.toml"));
    if snap.is_file() {
        return Ok(crate::form::load_file(&snap)?);
    }
    crate::form::seed_forms()?
        .into_iter()
        .find(|f| f.id == name)
        .ok_or_else(|| SimError::UnknownForm {
            form: name.to_string(),
            campaign_forms: folder.root.join("forms"),
        })
}

/// One page to produce, in output order.
#[derive(Debug, Clone, Copy)]
struct Job {
    sheet: usize,
    /// 1-based layout page.
    page: u32,
    blank_back: bool,
}

/// What the page workers share.
struct Ctx<'a> {
    opts: &'a SimulateOptions,
    layout: &'a Layout,
    templates: Vec<GrayImage>,
    plans: Vec<SheetPlan>,
    serials: Vec<String>,
    people: People,
    scanner: Scanner,
    landscape: bool,
}

/// Make the pages and the truth file. See the module docs.
///
/// # Errors
/// Bad options, an unknown form or branch, a campaign folder that cannot be written, no
/// font, `pdftoppm` missing, or an output file that cannot be written.
pub fn run(opts: &SimulateOptions) -> Result<Truth, SimError> {
    opts.check()?;
    let folder = CampaignFolder::open(&opts.campaign)?;
    let form = resolve_form(&opts.form, &folder)?;
    let branch = match &opts.branch {
        Some(b) => Some(folder.campaign.require_branch(b)?),
        None => None,
    };
    let layout = layout(&form, &folder.campaign, branch)?;
    let font = Font::discover(opts.font.as_deref())?;
    std::fs::create_dir_all(&opts.out).map_err(io_err(&opts.out))?;

    // 1. Print, with serials from the seed (never colliding with sheets already printed).
    let taken: HashSet<String> = folder.printed_serials()?.into_keys().collect();
    let mut rng = rng_for(opts.seed, RNG_SERIALS, 0);
    let mut serials = Vec::with_capacity(opts.sheets as usize);
    let mut seen = HashSet::new();
    while serials.len() < opts.sheets as usize {
        let s = new_serial(&mut rng);
        if !taken.contains(&s) && seen.insert(s.clone()) {
            serials.push(s);
        }
    }
    let pdf = render_pdf(&layout, &serials, &font)?;
    // The "paper" the scans came from goes with the campaign's print records, not beside the
    // scans: a folder of scans must hold only scans.
    let prints = folder.root.join("prints");
    std::fs::create_dir_all(&prints).map_err(io_err(&prints))?;
    let first = serials.first().map_or("none", String::as_str);
    let pdf_path = prints.join(format!("simulated-{}-{first}.pdf", form.id));
    std::fs::write(&pdf_path, &pdf).map_err(io_err(&pdf_path))?;
    drop(pdf);
    folder.snapshot_form(&form)?;
    folder.save_layout(&layout)?;
    folder.record_print(&PrintRecord {
        form: form.id.clone(),
        form_version: form.version,
        branch: layout.branch.clone(),
        layout_hash: layout.hash.clone(),
        pages_per_sheet: layout.pages.len() as u32,
        printed_at: crate::print::rfc3339_now(),
        pdf: pdf_path.display().to_string(),
        serials: serials.clone(),
    })?;

    // 2. Templates: the first copy's pages.
    let mut templates = Vec::with_capacity(layout.pages.len());
    for p in &layout.pages {
        let mut img = template::render(&pdf_path, p.number as usize, opts.dpi, &opts.out)?;
        template::blank_copy_parts(&mut img, p, opts.dpi);
        templates.push(img);
    }

    // 3. Plans.
    let people = opts.profile.people();
    let scanner = opts.scanner.unwrap_or_else(|| opts.profile.scanner());
    let one_bit = opts.bilevel.is_some() || opts.format == OutputFormat::PdfG4;
    let plans: Vec<SheetPlan> = serials
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut plan = answers::plan_sheet(
                &mut rng_for(opts.seed, RNG_PLAN, i as u64),
                &layout,
                form.subject,
                &people,
                s,
                opts.force.for_sheet(i),
            );
            if one_bit {
                pencil_may_vanish(&mut plan);
            }
            plan
        })
        .collect();

    // 4. Jobs in output order, with blank backs interleaved.
    let back_rate = opts.blank_backs.unwrap_or(scanner.blank_backs);
    let mut jobs = Vec::new();
    for sheet in 0..serials.len() {
        for p in &layout.pages {
            jobs.push(Job {
                sheet,
                page: p.number,
                blank_back: false,
            });
            let mut r = rng_for(
                opts.seed,
                RNG_BACK,
                (sheet * layout.pages.len()) as u64 + u64::from(p.number),
            );
            if r.random_bool(back_rate) {
                jobs.push(Job {
                    sheet,
                    page: p.number,
                    blank_back: true,
                });
            }
        }
    }

    let ctx = Ctx {
        opts,
        layout: &layout,
        templates,
        plans,
        serials,
        people,
        scanner,
        landscape: layout.size.w > layout.size.h,
    };
    let pages = produce(&ctx, &jobs)?;

    let truth = Truth {
        version: truth::TRUTH_VERSION,
        form: layout.form.clone(),
        layout_hash: layout.hash.clone(),
        branch: layout.branch.clone(),
        profile: opts.profile.name().to_string(),
        seed: opts.seed,
        dpi: opts.dpi as f32,
        format: opts.format.name().to_string(),
        // Relative to the campaign folder: the same seed gives the same truth anywhere.
        printed_pdf: pdf_path
            .strip_prefix(&folder.root)
            .unwrap_or(&pdf_path)
            .display()
            .to_string(),
        pages,
        sheets: ctx.plans.into_iter().map(|p| p.truth).collect(),
    };
    let path = opts.out.join(TRUTH_FILE);
    let json = serde_json::to_vec_pretty(&truth).map_err(|e| SimError::Truth {
        path: path.clone(),
        detail: e.to_string(),
    })?;
    std::fs::write(&path, json).map_err(io_err(&path))?;
    Ok(truth)
}

/// On a 1-bit scan light pencil may fall under the threshold: a question whose only ink is
/// pencil may then read as blank (the field sample accepts that too).
fn pencil_may_vanish(plan: &mut SheetPlan) {
    for q in &mut plan.truth.questions {
        let inked = q
            .cells
            .iter()
            .filter(|c| !matches!(c.drawn, Drawn::None | Drawn::Speck));
        let mut inked = inked.peekable();
        q.blank_ok = inked.peek().is_some() && inked.all(|c| c.drawn == Drawn::Pencil);
    }
}

/// The file a job's page goes to and its index there.
fn file_of(opts: &SimulateOptions, j: usize) -> (String, usize) {
    let k = opts.pages_per_file;
    match opts.format {
        OutputFormat::Png => (format!("page_{:05}.png", j + 1), 0),
        OutputFormat::Jpeg => (format!("page_{:05}.jpg", j + 1), 0),
        OutputFormat::Tiff => (format!("scan_{:04}.tif", j / k + 1), j % k),
        _ => (format!("scan_{:04}.pdf", j / k + 1), j % k),
    }
}

/// JPEG quality for a file (PDF) or page (JPEG), from the profile's range.
fn jpeg_quality(opts: &SimulateOptions, scanner: &Scanner, file_no: usize) -> u8 {
    let (lo, hi) = scanner.jpeg_quality;
    rng_for(opts.seed, RNG_FILE, file_no as u64).random_range(lo..=hi)
}

/// A made page on its way to the writer: PDF pages are compressed by the page workers (JPEG
/// encoding costs as much as drawing; one writer thread encoding would cap the rate).
enum Made {
    Image(GrayImage),
    Pdf(EncodedPage),
}

/// The PDF filter for page `j`, or None when the format is not a PDF.
fn pdf_filter(opts: &SimulateOptions, scanner: &Scanner, j: usize) -> Option<PackFilter> {
    let one_bit = opts.bilevel.is_some();
    match opts.format {
        OutputFormat::PdfG4 => Some(PackFilter::CcittG4),
        OutputFormat::PdfFlate if one_bit => Some(PackFilter::Flate1Bit),
        OutputFormat::PdfFlate => Some(PackFilter::Flate),
        OutputFormat::PdfJpeg => Some(PackFilter::Jpeg {
            quality: jpeg_quality(opts, scanner, j / opts.pages_per_file),
        }),
        _ => None,
    }
}

/// Draw and scan page `j`, and compress it when it goes into a PDF.
fn make_and_encode(ctx: &Ctx, j: usize, job: &Job) -> Result<(Made, PageTruth), SimError> {
    let (img, t) = make_page(ctx, j, job)?;
    let made = match pdf_filter(ctx.opts, &ctx.scanner, j) {
        Some(filter) => {
            let (path, _) = file_of(ctx.opts, j);
            let e = EncodedPage::new((&img).into(), filter, ctx.opts.dpi as f32)
                .map_err(io_err(&ctx.opts.out.join(path)))?;
            Made::Pdf(e)
        }
        None => Made::Image(img),
    };
    Ok((made, t))
}

/// Draw, scan and write every job; pages are made in parallel chunks and written in order.
fn produce(ctx: &Ctx, jobs: &[Job]) -> Result<Vec<PageTruth>, SimError> {
    let bar = if ctx.opts.progress {
        let b = indicatif::ProgressBar::new(jobs.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} pages {per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    // Two pages per thread in flight keeps both cores busy while memory stays a few pages.
    let chunk = rayon::current_num_threads().max(1) * 2;
    let (tx, rx) = mpsc::sync_channel::<(usize, Made)>(chunk);
    let mut truths = Vec::with_capacity(jobs.len());
    std::thread::scope(|scope| -> Result<(), SimError> {
        let writer = scope.spawn(|| write_pages(ctx, rx));
        let mut made: Result<(), SimError> = Ok(());
        for (c, group) in jobs.chunks(chunk).enumerate() {
            let pages: Vec<Result<(Made, PageTruth), SimError>> = group
                .par_iter()
                .enumerate()
                .map(|(k, job)| make_and_encode(ctx, c * chunk + k, job))
                .collect();
            let mut stop = false;
            for (k, p) in pages.into_iter().enumerate() {
                match p {
                    Ok((img, t)) => {
                        truths.push(t);
                        if tx.send((c * chunk + k, img)).is_err() {
                            // The writer failed; its error is returned below.
                            stop = true;
                            break;
                        }
                    }
                    Err(e) => {
                        made = Err(e);
                        stop = true;
                        break;
                    }
                }
            }
            bar.inc(group.len() as u64);
            if stop {
                break;
            }
        }
        drop(tx);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(SimError::Options("the page writer crashed".into())));
        bar.finish_and_clear();
        made.and(written)
    })?;
    Ok(truths)
}

/// Draw and scan one page.
fn make_page(ctx: &Ctx, j: usize, job: &Job) -> Result<(GrayImage, PageTruth), SimError> {
    let opts = ctx.opts;
    let idx = job.page as usize - 1;
    let template = &ctx.templates[idx];
    let mut rng = rng_for(opts.seed, RNG_PAGE, j as u64);
    let serial = &ctx.serials[job.sheet];
    let (file, index) = file_of(opts, j);
    let mut t = PageTruth {
        file,
        index,
        serial: serial.clone(),
        form: ctx.layout.form.clone(),
        page: job.page,
        rotation: 0,
        skew_deg: 0.0,
        blank_back: job.blank_back,
        keystone_mm: 0.0,
        corners_mm: None,
        auto_crop: None,
    };
    let mut img = if job.blank_back {
        scanner::blank_back(template.width(), template.height(), &ctx.scanner, &mut rng)
    } else {
        let page = &ctx.layout.pages[idx];
        let mut img = template.clone();
        let code = PageCode {
            form: ctx.layout.form.clone(),
            layout_hash: ctx.layout.hash.clone(),
            page: job.page,
            serial: serial.clone(),
        };
        template::paint_code(&mut img, page, &code, opts.dpi)?;
        let plan = &ctx.plans[job.sheet];
        let dpi = f64::from(opts.dpi);
        {
            let mut canvas = pen::Canvas::new(&mut img, dpi);
            for m in plan.marks.iter().filter(|m| m.page == job.page) {
                pen::draw_mark(
                    &mut canvas,
                    &mut rng,
                    m.tick,
                    m.partner,
                    m.drawn,
                    ctx.people.size,
                    ctx.people.offset_sd,
                );
            }
            for (_, r) in plan.writing.iter().filter(|(p, _)| *p == job.page) {
                let p = pen::Pen::person(&mut rng);
                for s in pen::squiggles(&mut rng, *r) {
                    canvas.stroke(&s, p);
                }
            }
        }
        let mut extra = rng_for(opts.seed, RNG_SCAN_EXTRA, j as u64);
        let (out, applied) =
            scanner::scan(&img, &ctx.scanner, &mut rng, &mut extra, dpi, ctx.landscape);
        t.rotation = applied.rotation;
        t.skew_deg = applied.skew_deg;
        t.keystone_mm = applied.keystone_mm;
        t.corners_mm = Some(applied.corners_mm);
        t.auto_crop = applied.auto_crop;
        img = out;
        img
    };
    let bilevel = match (opts.bilevel, opts.format) {
        (Some(b), _) => Some(b),
        (None, OutputFormat::PdfG4) => Some(Bilevel::Threshold),
        _ => None,
    };
    if let Some(b) = bilevel {
        let mut r = rng_for(opts.seed, RNG_ONE_BIT, j as u64);
        scanner::bilevel(&mut img, b == Bilevel::Dither, &ctx.scanner, &mut r);
    }
    Ok((img, t))
}

/// The open multi-page file being written.
enum Open {
    None,
    Pdf(PdfPacker<BufWriter<std::fs::File>>, PathBuf),
    Tiff(TiffPacker),
}

impl Open {
    fn finish(self) -> Result<(), SimError> {
        match self {
            Self::None => Ok(()),
            Self::Pdf(p, path) => {
                use std::io::Write;
                let mut w = p.finish().map_err(io_err(&path))?;
                w.flush().map_err(io_err(&path))
            }
            Self::Tiff(t) => Ok(t.finish()?),
        }
    }
}

/// Write pages as they arrive (in job order).
fn write_pages(ctx: &Ctx, rx: mpsc::Receiver<(usize, Made)>) -> Result<(), SimError> {
    let opts = ctx.opts;
    let dpi = opts.dpi as f32;
    let one_bit = opts.bilevel.is_some();
    let mut open = Open::None;
    for (j, made) in rx {
        let (name, index) = file_of(opts, j);
        let path = opts.out.join(&name);
        if opts.format.one_file_per_page() {
            if let Made::Image(img) = &made {
                write_single(&path, img, opts, &ctx.scanner, j)?;
            }
            continue;
        }
        if index == 0 {
            std::mem::replace(&mut open, Open::None).finish()?;
            open = match opts.format {
                OutputFormat::Tiff => Open::Tiff(TiffPacker::create(
                    &path,
                    if one_bit {
                        TiffPack::Bilevel
                    } else {
                        TiffPack::Lzw
                    },
                    dpi,
                )?),
                _ => {
                    // Pages arrive encoded; the packer's own filter is not used.
                    let filter = pdf_filter(opts, &ctx.scanner, j).unwrap_or(PackFilter::Raw);
                    let file = std::fs::File::create(&path).map_err(io_err(&path))?;
                    Open::Pdf(
                        PdfPacker::new(BufWriter::new(file), filter, dpi).map_err(io_err(&path))?,
                        path.clone(),
                    )
                }
            };
        }
        match (&mut open, &made) {
            (Open::Pdf(p, path), Made::Pdf(e)) => p.add_encoded(e).map_err(io_err(path))?,
            (Open::Pdf(p, path), Made::Image(img)) => {
                p.add_page(img.into()).map_err(io_err(path))?;
            }
            (Open::Tiff(t), Made::Image(img)) => t.add_page(img)?,
            _ => {}
        }
    }
    open.finish()
}

/// One PNG or JPEG file.
fn write_single(
    path: &Path,
    img: &GrayImage,
    opts: &SimulateOptions,
    scanner: &Scanner,
    j: usize,
) -> Result<(), SimError> {
    use image::ImageEncoder;
    let file = std::fs::File::create(path).map_err(io_err(path))?;
    let w = BufWriter::new(file);
    let enc_err = |e: image::ImageError| SimError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    };
    if opts.format == OutputFormat::Png {
        image::codecs::png::PngEncoder::new(w)
            .write_image(
                img.as_raw(),
                img.width(),
                img.height(),
                image::ExtendedColorType::L8,
            )
            .map_err(enc_err)
    } else {
        let mut enc =
            image::codecs::jpeg::JpegEncoder::new_with_quality(w, jpeg_quality(opts, scanner, j));
        enc.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(
            opts.dpi.min(u32::from(u16::MAX)) as u16,
        ));
        enc.write_image(
            img.as_raw(),
            img.width(),
            img.height(),
            image::ExtendedColorType::L8,
        )
        .map_err(enc_err)
    }
}
