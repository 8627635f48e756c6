//! `pingyi explain`: every sheet and answer behind one subject's numbers.

use super::tally::load;
use pingyi::campaign::Campaign;
use pingyi::report::table::grid;
use pingyi::tally::explain;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A scan batch folder; repeat to explain a merged count.
    #[arg(long = "batch", required = true)]
    pub batches: Vec<PathBuf>,
    /// The campaign folder or campaign.toml (default: the first batch's).
    #[arg(long)]
    pub campaign: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// A candidate, post or branch: its id (c101, p01, jiguan1) or its unique name.
    pub subject: String,
}

/// The id of `who`: an id as given, else the one candidate, post or branch of that name.
fn resolve(c: &Campaign, who: &str) -> anyhow::Result<String> {
    if c.candidate(who).is_some() || c.post(who).is_some() || c.branch(who).is_some() {
        return Ok(who.to_string());
    }
    let mut ids: Vec<String> = c
        .branches
        .iter()
        .flat_map(|b| b.candidates.iter())
        .filter(|k| k.name == who)
        .map(|k| k.id.clone())
        .collect();
    ids.extend(
        c.posts
            .iter()
            .filter(|p| p.name == who || p.title == who)
            .map(|p| p.id.clone()),
    );
    ids.extend(
        c.branches
            .iter()
            .filter(|b| b.name == who)
            .map(|b| b.id.clone()),
    );
    ids.sort();
    ids.dedup();
    match ids.len() {
        1 => Ok(ids.remove(0)),
        0 => anyhow::bail!(
            "no candidate, post or branch \"{who}\" in campaign {}",
            c.name
        ),
        _ => anyhow::bail!(
            "\"{who}\" names several subjects ({}): give the id",
            ids.join(", ")
        ),
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let data = load(&args.batches, args.campaign.as_deref())?;
    let id = resolve(&data.campaign, &args.subject)?;
    let rows = explain(&data.sheets, &data.forms, &id);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![["批次", "序号", "页", "问题", "值", "已复核", "计入"]
        .map(String::from)
        .to_vec()];
    for r in &rows {
        table.push(vec![
            r.batch.clone(),
            r.serial.clone(),
            r.pages.join(" "),
            r.question.clone(),
            r.value.clone(),
            if r.reviewed { "是" } else { "" }.to_string(),
            r.not_counted.clone().unwrap_or_else(|| "计入".into()),
        ]);
    }
    println!("{id}: {} answers", rows.len());
    print!("{}", grid(&table, 99));
    Ok(ExitCode::SUCCESS)
}
