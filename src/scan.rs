//! The scan loop: from input files to a batch store, streaming and in parallel.
//!
//! ```text
//! producer thread ── (file, page) work items ──▶ rayon workers ── page results ──▶ writer (caller's thread)
//!   discover, hash, skip done files,             decode one page, read it,         one transaction per page, in
//!   open each file once (Arc<Source>)            OCR names/writing, save crops     queue order; file done when all
//!                                                                                  pages are in; manifest.jsonl
//! ```
//!
//! Memory is bounded: the work channel holds page *indexes* (a few per worker), each worker
//! holds one decoded page, and the results channel holds readings without images. A file's
//! parsed structure lives as long as one of its pages is queued. The writer holds the
//! readings (no images) that finished before an earlier page, to commit pages in the order
//! they were queued: page ids, and which image of a serial is the duplicate, then do not
//! depend on thread timing, and `pingyi rebuild` gets the same batch again.
//!
//! Durability: a page is committed in its own transaction; a file is marked done only once every
//! page of it is committed. A rerun skips done files by SHA-256 and, in a file left partial by
//! Ctrl-C or kill -9, reads only the pages not yet committed.
//!
//! Stopping: when `stop` becomes true (Ctrl-C) the producer stops queueing, workers skip the
//! queued pages they have not started, in-flight pages are committed, and the summary says the
//! scan was interrupted.

use crate::campaign::Subject;
use crate::folder::{CampaignFolder, FolderError, PrintedSheet};
use crate::form::SubjectKind;
use crate::pages::{self, Damage, InputFile, PageError, Source};
use crate::place::{self, Place};
use crate::read::outcome::{FlagKind, PageReading, PageStatus};
use crate::read::{self, Aligned, ReadContext};
use crate::store::{Access, FileState, ManifestFile, PageRecord, Store, StoreError};
use image::GrayImage;
use rayon::iter::{ParallelBridge, ParallelIterator};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Work items queued per worker: enough that no worker waits for the producer (which opens
/// files), few enough that queued items cost nothing (they are indexes, not images).
const QUEUE_PER_WORKER: usize = 4;
/// Margin around a flagged question's cells in its review crop, in cell heights: shows the
/// neighbouring printed lines so the reviewer sees where the box is.
const CROP_MARGIN_CELLS: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error(transparent)]
    Campaign(#[from] FolderError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no input files to scan{}", if .0.is_empty() { String::new() } else { format!(" ({})", .0) })]
    NoInputs(String),
    #[error("cannot start {jobs} worker threads: {detail}")]
    Pool { jobs: usize, detail: String },
    #[error("OCR is not available: {0} (install tesseract-ocr-chi-sim, or scan with --no-ocr)")]
    Ocr(String),
}

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    pub inputs: Vec<PathBuf>,
    /// `campaign.toml` or its folder.
    pub campaign: PathBuf,
    pub batch: PathBuf,
    /// Worker threads; 0 = one per core.
    pub jobs: usize,
    /// Read files again even when already done.
    pub rerun: bool,
    /// OCR name cells and written areas (Tesseract).
    pub ocr: bool,
    /// Show a progress bar on stderr (hidden anyway when stderr is not a terminal).
    pub progress: bool,
}

/// What one scan run did.
#[derive(Debug, Clone, Default)]
pub struct ScanSummary {
    pub batch: PathBuf,
    pub files_seen: usize,
    /// Files skipped because they were already read (same SHA-256).
    pub files_skipped: usize,
    /// Files that could not be read at all: (path, reason).
    pub files_failed: Vec<(String, String)>,
    /// Files passed over while walking folders: (path, reason).
    pub files_ignored: Vec<(String, String)>,
    pub pages_read: usize,
    pub pages_blank: usize,
    pub pages_rejected: usize,
    /// Read pages carrying at least one blocking flag.
    pub pages_flagged: usize,
    /// Rejection reasons (without their place) and the pages each was given for.
    pub reject_reasons: BTreeMap<String, Vec<Place>>,
    /// Damaged PDFs whose whole pages were recovered and read.
    pub files_damaged: Vec<DamagedFile>,
    /// Flags raised, by kind.
    pub flags: BTreeMap<&'static str, usize>,
    pub interrupted: bool,
    pub elapsed: Duration,
    /// Time spent in Tesseract, summed over the workers.
    pub ocr: OcrCost,
    /// The process's peak resident memory at the end of the scan (Linux `VmHWM`), in KiB.
    pub peak_rss_kib: Option<u64>,
    /// CPU time the process used (user + system, all threads), seconds; None off Linux.
    pub cpu_seconds: Option<f64>,
}

/// A damaged PDF (cut short, or its index broken): what was recovered from it.
#[derive(Debug, Clone)]
pub struct DamagedFile {
    pub path: String,
    pub damage: Damage,
    /// Page places in the file: the pages found, plus one for "any after" when the file does
    /// not say how many it had.
    pub places: u32,
    /// Pages (1-based) whose image was whole and was read.
    pub recovered: Vec<u32>,
    /// Places (1-based) that could not be read: to scan again.
    pub lost: Vec<u32>,
}

impl DamagedFile {
    /// "box1.pdf: cut short: 8 of 12 pages recovered; scan again pages 9–12".
    #[must_use]
    pub fn render(&self) -> String {
        let what = if self.damage.cut {
            "cut short"
        } else {
            "damaged"
        };
        let recovered = self.recovered.len();
        match self.damage.declared {
            Some(n) => {
                let rescan = if self.lost.is_empty() {
                    String::new()
                } else {
                    format!("; scan again {}", place::pages(&self.lost))
                };
                format!(
                    "{}: {what}: {recovered} of {n} pages recovered{rescan}",
                    self.path
                )
            }
            None => {
                // The last place is no page: it stands for any after the pages found.
                let found = self.places.saturating_sub(1);
                let lost: Vec<u32> = self.lost.iter().copied().filter(|&p| p <= found).collect();
                let also = if lost.is_empty() {
                    String::new()
                } else {
                    format!("{} and ", place::pages(&lost))
                };
                format!(
                    "{}: {what}: {recovered} pages recovered; the file does not say how many it had: scan again {also}any page that came after page {found}",
                    self.path
                )
            }
        }
    }
}

/// Where OCR time went (thread time summed over workers, engine start-up included).
#[derive(Debug, Clone, Copy, Default, serde::Serialize, serde::Deserialize)]
pub struct OcrCost {
    /// Pages whose name cells were OCR'd.
    pub name_pages: u64,
    pub name_cells: u64,
    pub name_ms: f64,
    /// Written areas OCR'd.
    pub text_areas: u64,
    pub text_ms: f64,
}

/// Lock-free OCR counters the workers add to.
#[derive(Default)]
struct OcrCounters {
    name_pages: AtomicU64,
    name_cells: AtomicU64,
    name_ns: AtomicU64,
    text_areas: AtomicU64,
    text_ns: AtomicU64,
}

impl OcrCounters {
    fn cost(&self) -> OcrCost {
        let ms = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e6;
        OcrCost {
            name_pages: self.name_pages.load(Ordering::Relaxed),
            name_cells: self.name_cells.load(Ordering::Relaxed),
            name_ms: ms(&self.name_ns),
            text_areas: self.text_areas.load(Ordering::Relaxed),
            text_ms: ms(&self.text_ns),
        }
    }
}

fn nanos(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Clock ticks per second of `/proc/<pid>/stat` times: USER_HZ, 100 on every Linux port.
const USER_HZ: f64 = 100.0;

/// CPU time this process has used so far (user + system, all threads), seconds; None off
/// Linux. Unlike wall time it does not grow when other work shares the machine.
#[must_use]
pub fn process_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; fields after its ')' are plain numbers.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line: 0-based 11 and 12 after the ")".
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// This process's peak resident set (`VmHWM` in `/proc/self/status`), KiB; None off Linux.
#[must_use]
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

impl ScanSummary {
    /// Pages committed in this run.
    #[must_use]
    pub fn pages(&self) -> usize {
        self.pages_read + self.pages_blank + self.pages_rejected
    }

    #[must_use]
    pub fn pages_per_second(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.pages() as f64 / s
        } else {
            0.0
        }
    }

    /// The one-screen summary printed at the end of a scan.
    #[must_use]
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} {} pages in {:.1} s ({:.1} pages/s) from {} files ({} already read, skipped)",
            if self.interrupted {
                "Interrupted after"
            } else {
                "Scanned"
            },
            self.pages(),
            self.elapsed.as_secs_f64(),
            self.pages_per_second(),
            self.files_seen,
            self.files_skipped
        );
        let _ = writeln!(s, "  read      {:>6}", self.pages_read);
        let _ = writeln!(
            s,
            "  flagged   {:>6}  (read pages needing a person)",
            self.pages_flagged
        );
        let _ = writeln!(s, "  blank     {:>6}", self.pages_blank);
        let _ = writeln!(s, "  rejected  {:>6}", self.pages_rejected);
        /// Reason lines shown per group: the summary must fit one screen.
        const MAX_LINES: usize = 8;
        /// Files named on one reason line; the rest are counted.
        const MAX_FILES: usize = 4;
        let mut reasons: Vec<(&String, &Vec<Place>)> = self.reject_reasons.iter().collect();
        reasons.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
        for (reason, places) in reasons.iter().take(MAX_LINES) {
            let _ = writeln!(
                s,
                "    {:>5} × {}: {reason}",
                places.len(),
                place::list(places, MAX_FILES)
            );
        }
        if reasons.len() > MAX_LINES {
            let _ = writeln!(
                s,
                "    … {} more reasons (pingyi export shows every page)",
                reasons.len() - MAX_LINES
            );
        }
        if !self.flags.is_empty() {
            let list: Vec<String> = self.flags.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let _ = writeln!(s, "  flags: {}", list.join(", "));
        }
        if !self.files_failed.is_empty() {
            let _ = writeln!(
                s,
                "  files that could not be read: {}",
                self.files_failed.len()
            );
            for (path, reason) in self.files_failed.iter().take(MAX_LINES) {
                // Reasons from reading a file name it already.
                let reason = place::strip(reason, path, 0).0;
                let _ = writeln!(s, "    {path}: {reason}");
            }
        }
        if !self.files_damaged.is_empty() {
            let _ = writeln!(
                s,
                "  damaged files: {} (their whole pages were read; each page to scan again is rejected above)",
                self.files_damaged.len()
            );
            for d in self.files_damaged.iter().take(MAX_LINES) {
                let _ = writeln!(s, "    {}", d.render());
            }
        }
        if !self.files_ignored.is_empty() {
            let _ = writeln!(
                s,
                "  files ignored in folders: {}",
                self.files_ignored.len()
            );
        }
        let batch = self.batch.display();
        if self.interrupted {
            let _ = writeln!(
                s,
                "Nothing committed is lost; run the same command again to finish."
            );
        }
        let _ = writeln!(s, "Next: pingyi review --batch {batch}");
        s
    }
}

/// Everything a worker needs, shared read-only.
struct Shared {
    context: ReadContext,
    /// Every name of the campaign: a wider roster only makes name snapping stricter.
    roster: Vec<Subject>,
    crops: PathBuf,
    batch: PathBuf,
    ocr: bool,
    ocr_cost: OcrCounters,
}

/// One page to read.
struct Work {
    source: Arc<Source>,
    sha256: Arc<str>,
    index: u32,
}

/// What the producer and the workers tell the writer.
enum Event {
    /// A file's pages are queued: these page indexes will follow, in this order.
    FileStart {
        sha256: Arc<str>,
        path: String,
        pages: u32,
        todo: Vec<u32>,
        /// A damaged PDF whose whole pages were recovered.
        damage: Option<Damage>,
    },
    FileFailed {
        sha256: String,
        path: String,
        reason: String,
    },
    FileSkipped,
    Page {
        sha256: Arc<str>,
        index: u32,
        reading: Box<PageReading>,
        crops: Vec<Option<String>>,
        /// The page's image was decoded (not lost in a damaged file or undecodable).
        decoded: bool,
    },
    /// A queued page not read because of a stop request.
    Skipped {
        sha256: Arc<str>,
        index: u32,
    },
}

/// Scan the inputs into the batch. `stop` is polled: set it (Ctrl-C) to finish early.
///
/// # Errors
/// Campaign folder or batch store failures, no inputs, OCR unavailable. Per-file and
/// per-page problems are not errors: they are recorded in the batch and the summary.
pub fn scan(opts: &ScanOptions, stop: &AtomicBool) -> Result<ScanSummary, ScanError> {
    let start = Instant::now();
    let folder = CampaignFolder::open(&opts.campaign)?;
    let mut store = Store::create(&opts.batch, &folder.root.join("campaign.toml"))?;
    let found = pages::discover(&opts.inputs);
    let mut summary = ScanSummary {
        batch: opts.batch.clone(),
        ..ScanSummary::default()
    };
    summary.files_ignored = found
        .skipped
        .iter()
        .map(|(p, r)| (p.display().to_string(), r.clone()))
        .collect();
    for e in &found.errors {
        summary
            .files_failed
            .push((e.path().display().to_string(), e.to_string()));
    }
    if found.files.is_empty() {
        let why: Vec<String> = found.errors.iter().map(ToString::to_string).collect();
        return Err(ScanError::NoInputs(why.join("; ")));
    }
    run(
        opts,
        &folder,
        &mut store,
        &found.files,
        Access::Normal,
        summary,
        start,
        stop,
    )
}

/// Scan exactly `files`, in this order (`opts.inputs` is not used): a rebuild replays a
/// batch's manifest this way, with [`Access::Rebuild`].
///
/// # Errors
/// As [`scan`].
pub fn scan_files(
    opts: &ScanOptions,
    files: &[InputFile],
    access: Access,
    stop: &AtomicBool,
) -> Result<ScanSummary, ScanError> {
    let start = Instant::now();
    let folder = CampaignFolder::open(&opts.campaign)?;
    let mut store = Store::create_with(&opts.batch, &folder.root.join("campaign.toml"), access)?;
    if files.is_empty() {
        return Err(ScanError::NoInputs(String::new()));
    }
    let summary = ScanSummary {
        batch: opts.batch.clone(),
        ..ScanSummary::default()
    };
    run(
        opts, &folder, &mut store, files, access, summary, start, stop,
    )
}

/// The scan proper: producer, workers and writer over `files`.
#[allow(clippy::too_many_arguments)]
fn run(
    opts: &ScanOptions,
    folder: &CampaignFolder,
    store: &mut Store,
    files: &[InputFile],
    access: Access,
    mut summary: ScanSummary,
    start: Instant,
    stop: &AtomicBool,
) -> Result<ScanSummary, ScanError> {
    if opts.ocr {
        crate::ocr::ready().map_err(|e| ScanError::Ocr(e.to_string()))?;
    }
    let jobs = if opts.jobs == 0 {
        std::thread::available_parallelism().map_or(1, usize::from)
    } else {
        opts.jobs
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| ScanError::Pool {
            jobs,
            detail: e.to_string(),
        })?;
    let crops = opts.batch.join("crops");
    std::fs::create_dir_all(&crops).map_err(|cause| StoreError::Io {
        path: crops.clone(),
        cause,
    })?;
    let shared = Shared {
        context: ReadContext {
            layouts: folder.layouts()?,
            printed: folder.printed_serials()?,
        },
        roster: roster(folder),
        crops,
        batch: opts.batch.clone(),
        ocr: opts.ocr,
        ocr_cost: OcrCounters::default(),
    };
    // The producer's own connection: it only reads file states (WAL allows a reader beside the writer).
    let probe = Store::open_with(&opts.batch, access)?;
    let bar = progress_bar(opts.progress);

    let (work_tx, work_rx) = sync_channel::<Work>(jobs * QUEUE_PER_WORKER);
    let (event_tx, event_rx) = sync_channel::<Event>(jobs * QUEUE_PER_WORKER);
    let written = std::thread::scope(|scope| {
        let producer_events = event_tx.clone();
        scope.spawn(move || produce(files, &probe, opts.rerun, stop, &work_tx, &producer_events));
        let shared = &shared;
        let pool = &pool;
        scope.spawn(move || {
            pool.install(|| {
                work_rx
                    .into_iter()
                    .par_bridge()
                    .for_each_with(event_tx, |tx, work| {
                        let sha256 = Arc::clone(&work.sha256);
                        let event = if stop.load(Ordering::Relaxed) {
                            Event::Skipped {
                                sha256,
                                index: work.index,
                            }
                        } else {
                            let (reading, crops, decoded) = read_one(shared, &work);
                            Event::Page {
                                sha256,
                                index: work.index,
                                reading: Box::new(reading),
                                crops,
                                decoded,
                            }
                        };
                        // The writer only hangs up after an error; then nothing more matters.
                        let _ = tx.send(event);
                    });
            });
        });
        write_events(
            store,
            &event_rx,
            &shared.context.printed,
            opts.ocr,
            &mut summary,
            &bar,
            stop,
        )
    });
    bar.finish_and_clear();
    written?;
    summary.interrupted = stop.load(Ordering::Relaxed);
    summary.elapsed = start.elapsed();
    summary.ocr = shared.ocr_cost.cost();
    summary.peak_rss_kib = peak_rss_kib();
    summary.cpu_seconds = process_cpu_seconds();
    Ok(summary)
}

fn progress_bar(show: bool) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    if !show {
        return ProgressBar::hidden();
    }
    // indicatif draws nothing when stderr is not a terminal.
    let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
    let style =
        ProgressStyle::with_template("{bar:40} {pos}/{len} pages  {per_sec}  ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

/// Every subject the campaign names (candidates of all branches and all posts).
fn roster(folder: &CampaignFolder) -> Vec<Subject> {
    let c = &folder.campaign;
    let mut out: Vec<Subject> = c
        .branches
        .iter()
        .flat_map(|b| c.subjects(SubjectKind::Candidates, Some(b)))
        .collect();
    out.extend(c.subjects(SubjectKind::Posts, None));
    out
}

/// The producer: hash and open each file once, queue its pages not yet committed.
fn produce(
    files: &[InputFile],
    probe: &Store,
    rerun: bool,
    stop: &AtomicBool,
    work: &SyncSender<Work>,
    events: &SyncSender<Event>,
) {
    let mut seen = HashSet::new();
    for file in files {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let path = file.path.display().to_string();
        let sha256 = match pages::sha256_file(&file.path) {
            Ok(h) => h,
            Err(e) => {
                // Unreadable: key it by its path so the failure is still recorded once.
                let key = format!("unreadable:{path}");
                let _ = events.send(Event::FileFailed {
                    sha256: key,
                    path,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        // The same bytes under two names are one file.
        if !seen.insert(sha256.clone()) {
            let _ = events.send(Event::FileSkipped);
            continue;
        }
        let done: HashSet<u32> = match probe.file_state(&sha256) {
            Ok(FileState::Done) if !rerun => {
                let _ = events.send(Event::FileSkipped);
                continue;
            }
            Ok(FileState::Partial(done)) if !rerun => done,
            _ => HashSet::new(),
        };
        let source = match pages::open(file) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                let _ = events.send(Event::FileFailed {
                    sha256,
                    path,
                    reason: e.to_string(),
                });
                continue;
            }
        };
        let count = u32::try_from(source.page_count()).unwrap_or(u32::MAX);
        let todo: Vec<u32> = (0..count).filter(|i| !done.contains(i)).collect();
        let sha256: Arc<str> = Arc::from(sha256);
        let start = Event::FileStart {
            sha256: Arc::clone(&sha256),
            path,
            pages: count,
            todo: todo.clone(),
            damage: source.damage(),
        };
        if events.send(start).is_err() {
            return;
        }
        for index in todo {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            if work
                .send(Work {
                    source: Arc::clone(&source),
                    sha256: Arc::clone(&sha256),
                    index,
                })
                .is_err()
            {
                return;
            }
        }
    }
}

/// Pages in the order they were queued (file by file, page by page), whatever order the
/// workers finish them in: committing them so makes page ids — and so which of two images of
/// a serial is the `duplicate` — the same on every run, and in a rebuild of the batch.
#[derive(Default)]
struct InOrder {
    queued: VecDeque<PageKey>,
    /// Read pages waiting for the ones queued before them; None = skipped (stop request).
    arrived: HashMap<PageKey, Option<ReadPage>>,
}

/// A page of this run: (file SHA-256, 0-based index).
type PageKey = (Arc<str>, u32);

struct ReadPage {
    reading: Box<PageReading>,
    crops: Vec<Option<String>>,
    /// Its image decoded (a damaged file's page that did not is a lost one).
    decoded: bool,
}

impl InOrder {
    fn queue(&mut self, sha256: &Arc<str>, todo: &[u32]) {
        self.queued
            .extend(todo.iter().map(|&i| (Arc::clone(sha256), i)));
    }

    fn arrive(&mut self, sha256: Arc<str>, index: u32, page: Option<ReadPage>) {
        self.arrived.insert((sha256, index), page);
    }

    /// The next page in queue order, if it has arrived.
    fn next(&mut self) -> Option<(PageKey, Option<ReadPage>)> {
        let key = self.queued.front()?;
        let page = self.arrived.remove(key)?;
        self.queued.pop_front().map(|k| (k, page))
    }

    /// At the end (after a stop request): every page still queued, in order, None for those
    /// never read (their files stay unfinished).
    fn rest(&mut self) -> Vec<(PageKey, Option<ReadPage>)> {
        let mut out = Vec::new();
        while let Some(key) = self.queued.pop_front() {
            let page = self.arrived.remove(&key).flatten();
            out.push((key, page));
        }
        out
    }
}

/// The files of this run still being written.
#[derive(Default)]
struct FilesInRun {
    /// Pages still expected per file; a file is done when its count reaches 0.
    pending: HashMap<Arc<str>, usize>,
    /// Each started file's path and page count, and its entry in `files_damaged` if damaged.
    known: HashMap<Arc<str>, (String, u32, Option<usize>)>,
    /// Files with a page skipped by a stop request: never done in this run.
    interrupted: HashSet<Arc<str>>,
}

impl FilesInRun {
    /// Commit one page (None: skipped), and mark its file done after its last page.
    fn commit(
        &mut self,
        store: &mut Store,
        summary: &mut ScanSummary,
        printed: &HashMap<String, PrintedSheet>,
        bar: &indicatif::ProgressBar,
        (sha256, index): PageKey,
        page: Option<ReadPage>,
    ) -> Result<(), StoreError> {
        let Some(ReadPage {
            reading,
            crops,
            decoded,
        }) = page
        else {
            self.interrupted.insert(sha256);
            return Ok(());
        };
        let branch = reading
            .code
            .as_ref()
            .and_then(|c| printed.get(&c.serial))
            .and_then(|p| p.branch.as_deref());
        let recorded = store.record_page(PageRecord {
            file_sha256: &sha256,
            index,
            reading: &reading,
            branch,
            flag_crops: &crops,
        })?;
        let (path, pages, damaged) = self
            .known
            .get(&sha256)
            .map_or(("", 1, None), |(p, n, d)| (p.as_str(), *n, *d));
        let at = PageAt { path, index, pages };
        tally_page(summary, &reading, recorded.duplicate_of.is_some(), &at);
        if let Some(d) = damaged.and_then(|i| summary.files_damaged.get_mut(i)) {
            let list = if decoded {
                &mut d.recovered
            } else {
                &mut d.lost
            };
            list.push(index + 1);
        }
        bar.inc(1);
        if let Some(n) = self.pending.get_mut(&sha256) {
            *n = n.saturating_sub(1);
            if *n == 0 && !self.interrupted.contains(&sha256) {
                store.finish_file(&sha256)?;
                self.pending.remove(&sha256);
            }
        }
        Ok(())
    }
}

/// The writer: list each file in the manifest, commit each page in queue order, mark files
/// done, keep the summary and the bar.
fn write_events(
    store: &mut Store,
    events: &Receiver<Event>,
    printed: &HashMap<String, PrintedSheet>,
    ocr: bool,
    summary: &mut ScanSummary,
    bar: &indicatif::ProgressBar,
    stop: &AtomicBool,
) -> Result<(), StoreError> {
    let mut files = FilesInRun::default();
    let mut order = InOrder::default();
    let result = (|| {
        for event in events {
            match event {
                Event::FileStart {
                    sha256,
                    path,
                    pages,
                    todo,
                    damage,
                } => {
                    summary.files_seen += 1;
                    store.note_input(ManifestFile {
                        sha256: sha256.to_string(),
                        path: path.clone(),
                        pages: Some(pages),
                        ocr: Some(ocr),
                    })?;
                    store.begin_file(&sha256, &path, pages)?;
                    let damaged = damage.map(|damage| {
                        summary.files_damaged.push(DamagedFile {
                            path: path.clone(),
                            damage,
                            places: pages,
                            recovered: Vec::new(),
                            lost: Vec::new(),
                        });
                        summary.files_damaged.len() - 1
                    });
                    files
                        .known
                        .insert(Arc::clone(&sha256), (path, pages, damaged));
                    bar.inc_length(todo.len() as u64);
                    if todo.is_empty() {
                        store.finish_file(&sha256)?;
                    } else {
                        order.queue(&sha256, &todo);
                        files.pending.insert(sha256, todo.len());
                    }
                }
                Event::FileFailed {
                    sha256,
                    path,
                    reason,
                } => {
                    summary.files_seen += 1;
                    store.note_input(ManifestFile {
                        sha256: sha256.clone(),
                        path: path.clone(),
                        pages: None,
                        ocr: Some(ocr),
                    })?;
                    store.fail_file(&sha256, &path, &reason)?;
                    summary.files_failed.push((path, reason));
                }
                Event::FileSkipped => {
                    summary.files_seen += 1;
                    summary.files_skipped += 1;
                }
                Event::Skipped { sha256, index } => order.arrive(sha256, index, None),
                Event::Page {
                    sha256,
                    index,
                    reading,
                    crops,
                    decoded,
                } => order.arrive(
                    sha256,
                    index,
                    Some(ReadPage {
                        reading,
                        crops,
                        decoded,
                    }),
                ),
            }
            while let Some((key, page)) = order.next() {
                files.commit(store, summary, printed, bar, key, page)?;
            }
        }
        for (key, page) in order.rest() {
            files.commit(store, summary, printed, bar, key, page)?;
        }
        store.sync_manifest()
    })();
    if result.is_err() {
        // Stop feeding a writer that cannot write.
        stop.store(true, Ordering::Relaxed);
        for _ in events.iter() {}
    }
    result
}

/// A page as the writer knows it: its file, its 0-based index and the file's page count.
struct PageAt<'a> {
    path: &'a str,
    index: u32,
    pages: u32,
}

fn tally_page(summary: &mut ScanSummary, reading: &PageReading, duplicate: bool, at: &PageAt) {
    match reading.status {
        PageStatus::Read => summary.pages_read += 1,
        PageStatus::Blank => summary.pages_blank += 1,
        PageStatus::Rejected => {
            summary.pages_rejected += 1;
            let reason = reading.reason.as_deref().unwrap_or("no reason given");
            // The same reason on many pages is one line listing them.
            let page = at.index + 1;
            let (what, of_page) = place::strip(reason, at.path, page);
            summary
                .reject_reasons
                .entry(what.to_string())
                .or_default()
                .push(Place {
                    file: at.path.to_string(),
                    page: (of_page && at.pages > 1).then_some(page),
                });
        }
    }
    for f in &reading.flags {
        if f.kind != FlagKind::Rejected {
            *summary.flags.entry(f.kind.as_str()).or_default() += 1;
        }
    }
    if duplicate {
        *summary
            .flags
            .entry(FlagKind::Duplicate.as_str())
            .or_default() += 1;
    }
    let blocking = duplicate || reading.flags.iter().any(|f| f.kind.blocks_final_count());
    if reading.status == PageStatus::Read && blocking {
        summary.pages_flagged += 1;
    }
}

/// Decode, read, OCR and crop one page, and say whether its image decoded. Never fails:
/// problems become a rejected reading.
fn read_one(shared: &Shared, work: &Work) -> (PageReading, Vec<Option<String>>, bool) {
    let page = match work.source.load_page(work.index as usize) {
        Ok(p) => p,
        Err(e) => return (PageReading::rejected(page_reason(&e)), Vec::new(), false),
    };
    let (mut reading, aligned) = read::read_page(page.image, page.dpi, &shared.context);
    let Some(aligned) = aligned else {
        return (reading, Vec::new(), true);
    };
    let page_layout = shared
        .context
        .layouts
        .get(&aligned.layout_hash)
        .and_then(|l| l.page(aligned.page));
    if shared.ocr {
        if let Some(pl) = page_layout {
            if !pl.names.is_empty() && reading.names.is_empty() {
                let t = Instant::now();
                let (names, flags) = crate::ocr::read_names(&aligned, pl, &shared.roster);
                let c = &shared.ocr_cost;
                c.name_ns.fetch_add(nanos(t), Ordering::Relaxed);
                c.name_pages.fetch_add(1, Ordering::Relaxed);
                c.name_cells
                    .fetch_add(names.len() as u64, Ordering::Relaxed);
                reading.names = names;
                reading.flags.extend(flags);
            }
        }
        for w in reading
            .writing
            .iter_mut()
            .filter(|w| w.has_writing && w.text.is_none())
        {
            if let Some(img) = crop(&aligned.image, w.px, 0) {
                let t = Instant::now();
                let (text, conf) = crate::ocr::read_text(&img);
                let c = &shared.ocr_cost;
                c.text_ns.fetch_add(nanos(t), Ordering::Relaxed);
                c.text_areas.fetch_add(1, Ordering::Relaxed);
                w.text = Some(text);
                w.confidence = Some(conf);
            }
        }
    }
    let stem = format!(
        "{}-{}",
        &work.sha256[..work.sha256.len().min(12)],
        work.index + 1
    );
    for (i, w) in reading.writing.iter_mut().enumerate() {
        if w.has_writing && w.crop.is_none() {
            w.crop = save_crop(shared, &aligned.image, w.px, 0, &format!("{stem}-w{i}"));
        }
    }
    let crops = flag_crops(shared, &reading, &aligned, &stem);
    // The page's pixels go back to this worker's pool for its next page.
    crate::pages::pool::give(aligned.image.into_raw());
    (reading, crops, true)
}

/// A clerk's sentence for a page that could not be decoded.
fn page_reason(e: &PageError) -> String {
    e.to_string()
}

/// Crops for review: a flagged question's row of cells, a name check's name cell.
fn flag_crops(
    shared: &Shared,
    reading: &PageReading,
    aligned: &Aligned,
    stem: &str,
) -> Vec<Option<String>> {
    reading
        .flags
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let target = f.target.as_deref()?;
            let boxes: Vec<[u32; 4]> = match f.kind {
                FlagKind::Marginal | FlagKind::Overvote => reading
                    .cells
                    .iter()
                    .filter(|c| c.question == target)
                    .map(|c| c.px)
                    .collect(),
                FlagKind::NameCheck => reading
                    .names
                    .iter()
                    .filter(|n| n.subject == target)
                    .map(|n| n.px)
                    .collect(),
                FlagKind::IntegrityFeedback | FlagKind::Comment => {
                    return reading
                        .writing
                        .iter()
                        .find(|w| w.id == target)
                        .and_then(|w| w.crop.clone());
                }
                _ => return None,
            };
            let union = union_box(&boxes)?;
            let margin = boxes.iter().map(|b| b[3]).max().unwrap_or(0) * CROP_MARGIN_CELLS;
            save_crop(
                shared,
                &aligned.image,
                union,
                margin,
                &format!("{stem}-f{i}"),
            )
        })
        .collect()
}

fn union_box(boxes: &[[u32; 4]]) -> Option<[u32; 4]> {
    let x0 = boxes.iter().map(|b| b[0]).min()?;
    let y0 = boxes.iter().map(|b| b[1]).min()?;
    let x1 = boxes.iter().map(|b| b[0] + b[2]).max()?;
    let y1 = boxes.iter().map(|b| b[1] + b[3]).max()?;
    Some([x0, y0, x1 - x0, y1 - y0])
}

/// The part of `img` inside `px` grown by `margin`, clamped; None when empty.
fn crop(img: &GrayImage, px: [u32; 4], margin: u32) -> Option<GrayImage> {
    let (w, h) = img.dimensions();
    let x0 = px[0].saturating_sub(margin).min(w);
    let y0 = px[1].saturating_sub(margin).min(h);
    let x1 = px[0].saturating_add(px[2]).saturating_add(margin).min(w);
    let y1 = px[1].saturating_add(px[3]).saturating_add(margin).min(h);
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    Some(image::imageops::crop_imm(img, x0, y0, x1 - x0, y1 - y0).to_image())
}

/// Save a crop as PNG under `crops/`; the path relative to the batch folder. A crop that
/// cannot be written is left out: the reviewer still has the page.
fn save_crop(
    shared: &Shared,
    img: &GrayImage,
    px: [u32; 4],
    margin: u32,
    name: &str,
) -> Option<String> {
    let c = crop(img, px, margin)?;
    let path = shared.crops.join(format!("{name}.png"));
    c.save(&path).ok()?;
    relative(&path, &shared.batch)
}

fn relative(path: &Path, base: &Path) -> Option<String> {
    path.strip_prefix(base)
        .ok()
        .map(|p| p.to_string_lossy().replace('\\', "/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_and_peak_memory_are_read_from_proc() {
        let before = process_cpu_seconds().unwrap();
        // Burn ≈ 50 ms of CPU so the 10 ms clock ticks must move.
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(50) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        assert!(process_cpu_seconds().unwrap() > before);
        assert!(peak_rss_kib().unwrap() > 1_000);
    }

    #[test]
    fn crops_are_clamped_to_the_image_and_empty_boxes_give_none() {
        let img = GrayImage::new(100, 50);
        assert_eq!(
            crop(&img, [90, 40, 30, 30], 5).map(|c| c.dimensions()),
            Some((15, 15))
        );
        assert!(crop(&img, [200, 10, 5, 5], 0).is_none());
        assert_eq!(
            union_box(&[[10, 10, 5, 5], [30, 8, 5, 5]]),
            Some([10, 8, 25, 7])
        );
        assert_eq!(union_box(&[]), None);
    }

    #[test]
    fn pages_are_committed_in_queue_order_whatever_order_they_are_read_in() {
        let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
        let read = || {
            Some(ReadPage {
                reading: Box::new(PageReading::blank()),
                crops: Vec::new(),
                decoded: true,
            })
        };
        let mut order = InOrder::default();
        order.queue(&a, &[0, 1]);
        order.queue(&b, &[0]);
        let mut out = Vec::new();
        let drain = |order: &mut InOrder, out: &mut Vec<(String, u32, bool)>| {
            while let Some(((sha, i), page)) = order.next() {
                out.push((sha.to_string(), i, page.is_some()));
            }
        };
        order.arrive(Arc::clone(&b), 0, read());
        drain(&mut order, &mut out);
        assert!(out.is_empty(), "b#1 waits for a's pages");
        order.arrive(Arc::clone(&a), 1, None);
        order.arrive(Arc::clone(&a), 0, read());
        drain(&mut order, &mut out);
        assert_eq!(
            out,
            [
                ("a".to_string(), 0, true),
                ("a".to_string(), 1, false),
                ("b".to_string(), 0, true)
            ]
        );
        // A stop request leaves pages never read: the rest is yielded, missing ones as None.
        order.queue(&a, &[2, 3]);
        order.arrive(Arc::clone(&a), 3, read());
        let rest: Vec<(u32, bool)> = order
            .rest()
            .into_iter()
            .map(|((_, i), p)| (i, p.is_some()))
            .collect();
        assert_eq!(rest, [(2, false), (3, true)]);
    }

    #[test]
    fn the_summary_groups_reasons_and_names_the_next_step() {
        let mut s = ScanSummary {
            batch: PathBuf::from("b"),
            ..ScanSummary::default()
        };
        let at = |path, index, pages| PageAt { path, index, pages };
        tally_page(
            &mut s,
            &PageReading::rejected("no code"),
            false,
            &at("a.pdf", 6, 9),
        );
        tally_page(
            &mut s,
            &PageReading::rejected("no code"),
            false,
            &at("a.pdf", 2, 9),
        );
        tally_page(
            &mut s,
            &PageReading::rejected("no code"),
            false,
            &at("b.png", 0, 1),
        );
        let big = "bomb.pdf: page 2: the image is 60000×60000 px";
        tally_page(
            &mut s,
            &PageReading::rejected(big),
            false,
            &at("bomb.pdf", 1, 3),
        );
        tally_page(&mut s, &PageReading::blank(), false, &at("a.pdf", 0, 9));
        let text = s.render();
        assert!(
            text.contains("3 × a.pdf pages 3, 7; b.png: no code\n"),
            "{text}"
        );
        assert!(
            text.contains("1 × bomb.pdf page 2: the image is 60000×60000 px\n"),
            "{text}"
        );
        assert!(!text.contains(" N"), "no placeholder: {text}");
        assert!(text.contains("pingyi review --batch b"), "{text}");
        assert_eq!(s.pages(), 5);
    }

    #[test]
    fn a_damaged_file_says_what_was_recovered_and_what_to_scan_again() {
        let damaged = |declared, places, recovered: &[u32], lost: &[u32]| DamagedFile {
            path: "box1.pdf".into(),
            damage: Damage {
                cut: true,
                declared,
            },
            places,
            recovered: recovered.to_vec(),
            lost: lost.to_vec(),
        };
        let eight: Vec<u32> = (1..=8).collect();
        assert_eq!(
            damaged(Some(12), 12, &eight, &[9, 10, 11, 12]).render(),
            "box1.pdf: cut short: 8 of 12 pages recovered; scan again pages 9–12"
        );
        assert_eq!(
            damaged(None, 10, &eight, &[9, 10]).render(),
            "box1.pdf: cut short: 8 pages recovered; the file does not say how many it had: \
             scan again page 9 and any page that came after page 9"
        );
        assert_eq!(
            damaged(Some(8), 8, &eight, &[]).render(),
            "box1.pdf: cut short: 8 of 8 pages recovered"
        );
    }
}
