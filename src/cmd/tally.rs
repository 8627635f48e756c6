//! `pingyi tally`: merge one or more batches, count them by the forms' rules, write a report.
//! Exit code 2 while anything is pending, unless `--provisional`.

use anyhow::Context;
use pingyi::campaign::Campaign;
use pingyi::folder::{CampaignFolder, PrintRecord};
use pingyi::form::FormDef;
use pingyi::report::{self, Format};
use pingyi::sheet::Sheet;
use pingyi::store::Store;
use pingyi::tally::{read_vetoes, tally};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A scan batch folder; repeat for several scanning stations (a serial seen twice counts once).
    #[arg(long = "batch", required = true)]
    pub batches: Vec<PathBuf>,
    /// The campaign folder or campaign.toml (default: the one the first batch was scanned for).
    #[arg(long)]
    pub campaign: Option<PathBuf>,
    /// Verified integrity problems (一票否决): CSV with person, reason, verified_by, date.
    #[arg(long)]
    pub veto: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write here instead of standard output (required for xlsx).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Count even with open flags; every output is marked 未复核 / PROVISIONAL.
    #[arg(long)]
    pub provisional: bool,
}

/// What a tally or an explanation needs from disk.
pub struct Loaded {
    pub sheets: Vec<Sheet>,
    pub campaign: Campaign,
    pub forms: Vec<FormDef>,
    pub printed: Vec<PrintRecord>,
}

/// Read every batch's sheets (in the order given) and the campaign folder.
pub fn load(batches: &[PathBuf], campaign: Option<&Path>) -> anyhow::Result<Loaded> {
    let mut sheets = Vec::new();
    let mut campaign_path = campaign.map(Path::to_path_buf);
    for dir in batches {
        // Store errors name the batch (and a damaged one names the remedy): no extra context.
        let store = Store::open(dir)?;
        if campaign_path.is_none() {
            campaign_path = Some(store.campaign_path()?);
        }
        sheets.extend(store.sheets()?);
    }
    let path = campaign_path.context("no campaign: give --campaign")?;
    let folder = CampaignFolder::open(&path)?;
    let mut forms = folder.forms()?;
    if forms.is_empty() {
        // Nothing printed from this folder yet: the seed forms are the only rules we know.
        eprintln!(
            "note: {} has no forms/ snapshots; counting by the built-in seed forms",
            folder.root.display()
        );
        forms = pingyi::form::seed_forms()?;
    }
    let printed = folder.print_records()?;
    Ok(Loaded {
        sheets,
        campaign: folder.campaign,
        forms,
        printed,
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let data = load(&args.batches, args.campaign.as_deref())?;
    let vetoes = match &args.veto {
        Some(p) => {
            let f = std::fs::File::open(p)
                .with_context(|| format!("opening veto file {}", p.display()))?;
            read_vetoes(f).with_context(|| p.display().to_string())?
        }
        None => Vec::new(),
    };
    let t = tally(
        &data.sheets,
        &data.forms,
        &data.campaign,
        &data.printed,
        &vetoes,
    );
    if !t.is_final() && !args.provisional {
        eprintln!(
            "未复核:{} 项待复核,结果不是最终结果 (pass --provisional to count anyway):",
            t.pending.len()
        );
        for p in &t.pending {
            eprintln!(
                "  {} serial {} {} [{}] {} {}",
                p.batch,
                p.serial,
                p.page,
                p.kind,
                p.target.as_deref().unwrap_or(""),
                p.detail
            );
        }
        // 2 = counted nothing final; distinct from 1 (an error).
        return Ok(ExitCode::from(2));
    }
    let bytes = report::render(&t, args.format)?;
    match &args.output {
        Some(p) => std::fs::write(p, &bytes).with_context(|| format!("writing {}", p.display()))?,
        None if args.format == Format::Xlsx => {
            anyhow::bail!("an XLSX workbook is binary: give -o FILE.xlsx")
        }
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}
