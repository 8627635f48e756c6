//! `pingyi print`: print a form for a campaign (one branch, or every branch) as a PDF.

use anyhow::Context;
use pingyi::folder::CampaignFolder;
use pingyi::form::{FormDef, SubjectKind};
use pingyi::print::{print_form_detailed, Font};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Form id (looked up in --forms, then among the built-in seed forms) or a .toml file.
    pub form: String,
    /// The campaign folder (or its campaign.toml).
    #[arg(long)]
    pub campaign: PathBuf,
    /// Branch whose candidates the form lists (forms about candidates need one).
    #[arg(long, conflicts_with = "all_branches")]
    pub branch: Option<String>,
    /// One PDF per branch; -o then names a folder.
    #[arg(long)]
    pub all_branches: bool,
    /// Copies to print, each with its own random serial.
    #[arg(long, default_value_t = 1)]
    pub copies: u32,
    /// CJK font file (a .ttc may end in #FACE); default: $PINGYI_FONT, then Debian's fonts.
    #[arg(long)]
    pub font: Option<PathBuf>,
    /// Folder of form files (default: ./forms when it exists).
    #[arg(long)]
    pub forms: Option<PathBuf>,
    /// Output PDF (a folder with --all-branches).
    #[arg(short, long)]
    pub out: PathBuf,
}

/// Find the form `spec` names: a `.toml` path, an id in `forms` (or ./forms), or a seed form.
pub fn resolve_form(spec: &str, forms: Option<&Path>) -> anyhow::Result<FormDef> {
    let as_path = Path::new(spec);
    if spec.ends_with(".toml") || as_path.is_file() {
        return Ok(pingyi::form::load_file(as_path)?);
    }
    let dir = forms
        .map(Path::to_path_buf)
        .or_else(|| Some(PathBuf::from("forms")).filter(|d| d.is_dir()));
    let mut known = Vec::new();
    if let Some(dir) = dir {
        let found = pingyi::form::load_dir(&dir)
            .with_context(|| format!("reading forms in {}", dir.display()))?;
        if let Some(f) = found.iter().find(|f| f.id == spec) {
            return Ok(f.clone());
        }
        known.extend(found.into_iter().map(|f| f.id));
    }
    let seeds = pingyi::form::seed_forms()?;
    if let Some(f) = seeds.iter().find(|f| f.id == spec) {
        return Ok(f.clone());
    }
    known.extend(seeds.into_iter().map(|f| f.id));
    known.dedup();
    Err(pingyi::form::FormError::Unknown {
        id: spec.to_string(),
        known: known.join(", "),
    }
    .into())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let form = resolve_form(&args.form, args.forms.as_deref())?;
    let folder = CampaignFolder::open(&args.campaign)?;
    let font = Font::discover(args.font.as_deref())?;
    let jobs: Vec<(Option<String>, PathBuf)> = if args.all_branches {
        // One PDF per branch: 附1 prints the branch's name, 附2 its candidates, 附3 its posts.
        std::fs::create_dir_all(&args.out)?;
        folder
            .campaign
            .branches
            .iter()
            .filter(|b| {
                // A branch without window posts has no 附3 to print.
                form.subject != SubjectKind::Posts
                    || folder.campaign.posts.iter().any(|p| p.branch == b.id)
            })
            .map(|b| {
                (
                    Some(b.id.clone()),
                    args.out.join(format!("{}-{}.pdf", form.id, b.id)),
                )
            })
            .collect()
    } else {
        vec![(args.branch.clone(), args.out.clone())]
    };
    for (branch, out) in jobs {
        let t = std::time::Instant::now();
        let p = print_form_detailed(&folder, &form, branch.as_deref(), args.copies, &out, &font)?;
        println!(
            "printed {} pages ({} copies × {} pages) in {:.1} s, {} bytes: {} (record {})",
            p.pages,
            args.copies,
            p.record.pages_per_sheet,
            t.elapsed().as_secs_f64(),
            p.pdf_bytes,
            out.display(),
            p.record_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
