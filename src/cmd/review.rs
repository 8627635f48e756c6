//! `pingyi review`: serve the review page, or list/apply decisions without a browser.

use anyhow::Context;
use pingyi::review::{self, apply};
use pingyi::store::Store;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// The scan batch folder (holding batch.sqlite).
    #[arg(long)]
    batch: PathBuf,
    /// Address to serve on. Loopback by default; port 0 picks a free port.
    #[arg(long, default_value_t = SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))]
    listen: SocketAddr,
    /// Reviewer name for --apply rows that leave the reviewer column empty.
    #[arg(long)]
    reviewer: Option<String>,
    /// Print the open flags instead of serving the page.
    #[arg(long, conflicts_with = "apply")]
    list: bool,
    /// Output format of --list.
    #[arg(long, value_enum, default_value = "csv", requires = "list")]
    format: Format,
    /// Apply decisions from a CSV with columns flag_id,value,note,reviewer[,version].
    #[arg(long, value_name = "decisions.csv")]
    apply: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.list {
        let store = Store::open(&args.batch)?;
        let mut flags = store.open_flags()?;
        review::server::sort_worst_first(&mut flags);
        apply::write_list(
            &flags,
            matches!(args.format, Format::Json),
            std::io::stdout().lock(),
        )?;
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(path) = &args.apply {
        let mut store = Store::open(&args.batch)?;
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let done = apply::apply_csv(&mut store, file, args.reviewer.as_deref());
        for (line, msg) in &done.errors {
            eprintln!("{}:{line}: {msg}", path.display());
        }
        println!(
            "applied {} decision(s), {} row(s) refused",
            done.applied,
            done.errors.len()
        );
        return Ok(if done.errors.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        });
    }
    serve(&args)
}

fn serve(args: &Args) -> anyhow::Result<ExitCode> {
    let app = review::App::open(&args.batch)?;
    if let Some(w) = app.warning() {
        eprintln!("warning: {w}");
    }
    if !args.listen.ip().is_loopback() {
        eprintln!("warning: listening on {}, reachable from other machines; anyone with the URL can decide flags", args.listen);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(async {
        let bound = review::bind(app, args.listen).await?;
        // Written, not println!: a closed stdout (a pipe whose reader went away) must not
        // stop the server.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "review: open {}", bound.url());
        let _ = writeln!(
            out,
            "(Ctrl-C stops the server; every decision is saved the moment it is acknowledged)"
        );
        let _ = out.flush();
        drop(out);
        bound
            .serve(async {
                // A failed signal hook only means Ctrl-C kills the process the hard way, which
                // loses nothing: every acknowledged decision is committed.
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })?;
    Ok(ExitCode::SUCCESS)
}
