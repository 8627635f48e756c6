//! `pingyi scan INPUT... --campaign C [--batch DIR] [--jobs N] [--rerun] [--no-ocr]`.

use anyhow::Context;
use pingyi::scan::{scan, ScanOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Exit status after Ctrl-C, as shells report a process ended by SIGINT (128 + 2).
const EXIT_INTERRUPTED: u8 = 130;

#[derive(clap::Args)]
pub struct Args {
    /// Scanned returns: PDF, TIFF, PNG or JPEG files, or folders (searched recursively).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// The campaign folder (or its campaign.toml) the sheets were printed from.
    #[arg(long)]
    campaign: PathBuf,
    /// Batch folder (default: <campaign>/batches/default).
    #[arg(long)]
    batch: Option<PathBuf>,
    /// Pages read in parallel (default: one per core).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Read files again even if this batch already read them (same SHA-256).
    #[arg(long)]
    rerun: bool,
    /// Skip OCR of name cells and written areas (faster; names are then not checked).
    #[arg(long)]
    no_ocr: bool,
    /// Also write the run's numbers (pages, seconds, OCR time, peak memory) as JSON here.
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let batch = match args.batch {
        Some(b) => b,
        None => pingyi::folder::CampaignFolder::open(&args.campaign)?.batch_dir("default"),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            // A second Ctrl-C: the user really wants out. Committed pages are safe.
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!("\nstopping: finishing the pages in progress (Ctrl-C again to quit at once)");
    })?;
    // Store absolute paths: review and annotate re-open the images from wherever they run.
    let inputs = args
        .inputs
        .iter()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
        .collect();
    let opts = ScanOptions {
        inputs,
        campaign: args.campaign,
        batch,
        jobs: args.jobs,
        rerun: args.rerun,
        ocr: !args.no_ocr,
        progress: std::io::stderr().is_terminal(),
    };
    let summary = scan(&opts, &stop)?;
    print!("{}", summary.render());
    if let Some(path) = &args.summary_json {
        let json = serde_json::json!({
            "pages": summary.pages(),
            "pages_read": summary.pages_read,
            "pages_blank": summary.pages_blank,
            "pages_rejected": summary.pages_rejected,
            "pages_flagged": summary.pages_flagged,
            "files_failed": summary.files_failed.len(),
            "files_damaged": summary.files_damaged.len(),
            "elapsed_s": summary.elapsed.as_secs_f64(),
            "pages_per_s": summary.pages_per_second(),
            "peak_rss_kib": summary.peak_rss_kib,
            "cpu_s": summary.cpu_seconds,
            "ocr": summary.ocr,
            "interrupted": summary.interrupted,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&json)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if summary.interrupted {
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    })
}
