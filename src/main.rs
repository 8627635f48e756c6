//! `pingyi` command line: parses flags and dispatches to one module per subcommand
//! (`src/cmd/<name>.rs`). All real work lives in the library.

use clap::{Parser, Subcommand};

mod cmd;

/// Print appraisal forms, read the filled-in scans, review what is unsure, count.
#[derive(Parser)]
#[command(name = "pingyi", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print a form as an A4 PDF with registration marks and a code on every page.
    Print(cmd::print::Args),
    /// Export a form's geometry (the printer/reader contract) as JSON.
    Layout(cmd::layout::Args),
    /// Make realistic filled-in scanned returns with a truth file (tests, demo, benchmark).
    Simulate(cmd::simulate::Args),
    /// Read scanned returns (PDF, TIFF, PNG, JPEG files or folders) into a batch.
    Scan(cmd::scan::Args),
    /// Export a batch's readings as JSON or CSV.
    Export(cmd::export::Args),
    /// Draw every cell's class and score on the page images, for audit and tuning.
    Annotate(cmd::annotate::Args),
    /// Review flagged cells in the browser (or list/apply decisions from files).
    Review(cmd::review::Args),
    /// Count one or more batches and apply the rules.
    Tally(cmd::tally::Args),
    /// Rebuild a lost or damaged batch database from the scans and the decisions journal.
    Rebuild(cmd::rebuild::Args),
    /// List every sheet and cell behind a subject's numbers.
    Explain(cmd::explain::Args),
    /// Run the whole job on the built-in example campaign.
    Demo(cmd::demo::Args),
    /// Measure decode, read, OCR and print speed.
    Bench(cmd::bench::Args),
}

fn main() -> std::process::ExitCode {
    // Before anything else: libgomp reads OMP_THREAD_LIMIT only at load (Tesseract 5× slower
    // without it), so re-exec with it set when missing.
    pingyi::ocr::ensure_single_thread_openmp();
    pingyi::pages::pool::tune_allocator();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Print(a) => cmd::print::run(a),
        Command::Layout(a) => cmd::layout::run(a),
        Command::Simulate(a) => cmd::simulate::run(a),
        Command::Scan(a) => cmd::scan::run(a),
        Command::Export(a) => cmd::export::run(a),
        Command::Annotate(a) => cmd::annotate::run(a),
        Command::Review(a) => cmd::review::run(a),
        Command::Tally(a) => cmd::tally::run(a),
        Command::Rebuild(a) => cmd::rebuild::run(a),
        Command::Explain(a) => cmd::explain::run(a),
        Command::Demo(a) => cmd::demo::run(a),
        Command::Bench(a) => cmd::bench::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
