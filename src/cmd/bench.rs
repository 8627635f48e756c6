//! `pingyi bench --out DIR [--write BENCHMARKS.md] [--sizes 100,1000,5000] [--quick]`: decode,
//! read, OCR and print speed on simulated pages (see `pingyi::bench`); with `--input DIR
//! --campaign DIR`, decode-only against the full read on the user's own scans.

use anyhow::Context;
use pingyi::bench::{self, BenchOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Working folder: the simulated pages (kept and reused), the batches, the prints.
    #[arg(long, default_value = "out/bench")]
    out: PathBuf,
    /// Write the report (Markdown) to this file; it is always printed too.
    #[arg(long)]
    write: Option<PathBuf>,
    /// Batch sizes in pages (default 100,1000,5000; with --quick 40,160).
    #[arg(long, value_delimiter = ',')]
    sizes: Option<Vec<usize>>,
    /// A small run that checks everything works; its numbers mean little.
    #[arg(long)]
    quick: bool,
    /// Measure on these scans (files or folders) instead of simulated pages: decode-only
    /// against the full read, to size a job on your own scanner's files.
    #[arg(long, num_args = 1.., requires = "campaign")]
    input: Vec<PathBuf>,
    /// The campaign the `--input` scans were printed from.
    #[arg(long)]
    campaign: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let exe = std::env::current_exe().context("finding the pingyi binary to run scans")?;
    if let Some(campaign) = &args.campaign {
        if args.input.is_empty() {
            anyhow::bail!("--campaign goes with --input: the scans to measure");
        }
        let report = bench::run_input(&args.out, &exe, &args.input, campaign)?;
        let text = report.markdown();
        print!("{text}");
        if let Some(path) = &args.write {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut opts = if args.quick {
        BenchOptions::quick(args.out, exe)
    } else {
        BenchOptions::full(args.out, exe)
    };
    if let Some(sizes) = args.sizes {
        opts.sizes = sizes;
    }
    let report = bench::run(&opts)?;
    let text = report.markdown();
    print!("{text}");
    if let Some(path) = &args.write {
        std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
        let json = path.with_extension("json");
        std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", json.display()))?;
        eprintln!("bench: wrote {} and {}", path.display(), json.display());
    }
    Ok(ExitCode::SUCCESS)
}
