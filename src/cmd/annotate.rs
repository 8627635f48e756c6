//! `pingyi annotate --batch DIR [--out DIR2] [--page FILE#N]`.

use pingyi::annotate::annotate;
use pingyi::store::Store;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The scan batch folder.
    #[arg(long)]
    batch: PathBuf,
    /// Where to write the PNGs (default: <batch>/annotated).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only this page, as FILE#N (N counting from 1, as `pingyi export` shows).
    #[arg(long)]
    page: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store = Store::open(&args.batch)?;
    let out = args.out.unwrap_or_else(|| args.batch.join("annotated"));
    let summary = annotate(&store, &out, args.page.as_deref())?;
    for (page, reason) in &summary.skipped {
        eprintln!("skipped {page}: {reason}");
    }
    println!(
        "wrote {} annotated pages to {}",
        summary.written.len(),
        out.display()
    );
    Ok(
        if summary.written.is_empty() && !summary.skipped.is_empty() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}
