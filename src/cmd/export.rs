//! `pingyi export --batch DIR --format json|csv [-o FILE]`. The schema is documented in
//! `pingyi::export`.
//!
//! Nothing partial is ever written: the export goes to a temporary file first, which is then
//! renamed to `-o FILE` or copied to standard output only once every page was read (a damaged
//! batch fails before a single byte is printed).

use anyhow::Context;
use pingyi::export::{export_csv, export_json};
use pingyi::store::Store;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
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

/// A temporary file removed when dropped unless it was renamed into place.
struct Temp(Option<PathBuf>);

impl Drop for Temp {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn temp_beside(output: Option<&Path>) -> PathBuf {
    let name = format!("pingyi-export-{}.tmp", std::process::id());
    match output {
        // Beside the output, so the final rename stays on one file system.
        Some(p) => {
            let mut t = p.as_os_str().to_owned();
            t.push(format!(".{}.tmp", std::process::id()));
            PathBuf::from(t)
        }
        None => std::env::temp_dir().join(name),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let store = Store::open(&args.batch)?;
    let tmp_path = temp_beside(args.output.as_deref());
    let mut tmp = Temp(Some(tmp_path.clone()));
    let file =
        File::create(&tmp_path).with_context(|| format!("cannot create {}", tmp_path.display()))?;
    let mut out = BufWriter::new(file);
    let pages = match args.format {
        Format::Json => export_json(&store, &mut out),
        Format::Csv => export_csv(&store, &mut out),
    }?;
    out.flush()
        .with_context(|| format!("cannot write {}", tmp_path.display()))?;
    drop(out);
    match &args.output {
        Some(p) => {
            std::fs::rename(&tmp_path, p)
                .with_context(|| format!("cannot create {}", p.display()))?;
            tmp.0 = None;
            eprintln!("exported {pages} pages to {}", p.display());
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            let copied = File::open(&tmp_path)
                .and_then(|mut f| std::io::copy(&mut f, &mut stdout))
                .and_then(|_| stdout.flush());
            match copied {
                // `pingyi export … | head` closing the pipe early is not a failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                other => {
                    other?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
