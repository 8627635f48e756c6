//! `pingyi export --batch DIR --format json|csv [-o FILE]`. The schema is documented in
//! `pingyi::export`.

use pingyi::export::{export_csv, export_json};
use pingyi::store::Store;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    Json,
    Csv,
}

#[derive(clap::Args)]
pub struct Args {
    /// The scan batch folder.
    #[arg(long)]
    batch: PathBuf,
    #[arg(long, value_enum, default_value = "json")]
    format: Format,
    /// Output file (default: standard output).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store = Store::open(&args.batch)?;
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p)
                .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    let written = match args.format {
        Format::Json => export_json(&store, &mut out),
        Format::Csv => export_csv(&store, &mut out),
    };
    // `pingyi export … | head` closing the pipe early is not a failure.
    let pages = match written {
        Err(pingyi::export::ExportError::Write(e))
            if e.kind() == std::io::ErrorKind::BrokenPipe =>
        {
            return Ok(ExitCode::SUCCESS)
        }
        other => other?,
    };
    if let Err(e) = out.flush() {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    if let Some(p) = &args.output {
        eprintln!("exported {pages} pages to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}
