//! `pingyi layout`: a form's geometry, the printer/reader contract, as JSON in PDF points.

use pingyi::folder::CampaignFolder;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Form id (looked up in --forms, then among the built-in seed forms) or a .toml file.
    pub form: String,
    /// The campaign folder (or its campaign.toml).
    #[arg(long)]
    pub campaign: PathBuf,
    /// Branch whose candidates the form lists.
    #[arg(long)]
    pub branch: Option<String>,
    /// Print the full contract as pretty JSON (otherwise a summary per page).
    #[arg(long)]
    pub json: bool,
    /// Folder of form files (default: ./forms when it exists).
    #[arg(long)]
    pub forms: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let form = super::print::resolve_form(&args.form, args.forms.as_deref())?;
    let folder = CampaignFolder::open(&args.campaign)?;
    let campaign = &folder.campaign;
    let branch = match &args.branch {
        Some(id) => Some(campaign.require_branch(id)?),
        None => None,
    };
    let layout = pingyi::layout::layout(&form, campaign, branch)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&layout.to_json())?);
    } else {
        println!(
            "{} v{} layout {} ({} pages)",
            layout.form,
            layout.form_version,
            layout.hash,
            layout.pages.len()
        );
        for p in &layout.pages {
            println!(
                "  page {}: {} answer cells, {} names, {} writing areas",
                p.number,
                p.cells.len(),
                p.names.len(),
                p.writing.len()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
