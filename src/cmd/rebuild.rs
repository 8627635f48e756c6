//! `pingyi rebuild --batch DIR [--force] [--jobs N]`: make a lost or damaged batch database
//! again from the scanned files (listed in `manifest.jsonl`) and the review decisions
//! (`decisions.jsonl`). See `pingyi::rebuild`.

use pingyi::rebuild::{rebuild, Outcome, RebuildOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Exit status after Ctrl-C, as shells report a process ended by SIGINT (128 + 2).
const EXIT_INTERRUPTED: u8 = 130;
/// Rebuilt, but some files or decisions could not be recovered (listed): like `tally`'s 2,
/// "done, but not everything is settled".
const EXIT_INCOMPLETE: u8 = 2;

#[derive(clap::Args)]
pub struct Args {
    /// The scan batch folder (holding batch.sqlite, manifest.jsonl, decisions.jsonl).
    #[arg(long)]
    batch: PathBuf,
    /// Rebuild even when batch.sqlite passes SQLite's integrity check (it is moved aside).
    #[arg(long)]
    force: bool,
    /// Pages read in parallel (default: one per core).
    #[arg(long, default_value_t = 0)]
    jobs: usize,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
        eprintln!(
            "\nstopping: finishing the pages in progress (run `pingyi rebuild` again to carry on)"
        );
    })?;
    let opts = RebuildOptions {
        batch: args.batch.clone(),
        force: args.force,
        jobs: args.jobs,
        progress: std::io::stderr().is_terminal(),
    };
    match rebuild(&opts, &stop)? {
        Outcome::Healthy {
            journal_lines_added,
        } => {
            println!(
                "{}/batch.sqlite passes SQLite's integrity check: nothing to rebuild (--force rebuilds it anyway).",
                args.batch.display()
            );
            if journal_lines_added > 0 {
                println!(
                    "Wrote {journal_lines_added} earlier review decisions to {}/decisions.jsonl, so this batch can be rebuilt from now on.",
                    args.batch.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Outcome::Interrupted => {
            println!(
                "Interrupted: run `pingyi rebuild --batch {}` again to carry on.",
                args.batch.display()
            );
            Ok(ExitCode::from(EXIT_INTERRUPTED))
        }
        Outcome::Rebuilt(report) => {
            print!("{}", report.render());
            Ok(if report.complete() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_INCOMPLETE)
            })
        }
    }
}
