//! `pingyi explain`: every sheet and answer behind one subject's numbers.

use super::tally::load;
use pingyi::campaign::Campaign;
use pingyi::form::FormDef;
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

/// A printed label's trailing colon, half- or full-width ("附1：" → "附1").
const COLONS: [char; 2] = [':', '\u{FF1A}'];

/// "王伟(c101)": the subject's name with the id the JSON output and the flags use.
fn subject_name(c: &Campaign, id: &str) -> String {
    let name = c
        .candidate(id)
        .map(|(_, k)| k.name.clone())
        .or_else(|| c.post(id).map(|p| format!("{}({})", p.name, p.title)))
        .or_else(|| c.branch(id).map(|b| b.name.clone()));
    match name {
        Some(n) => format!("{n}({id})"),
        None => id.to_string(),
    }
}

/// An answer's value as printed on the form ("基本满意"), 空白 or 未复核.
fn value_label(form: Option<&FormDef>, item: &str, value: &str) -> String {
    match value {
        "blank" => return "空白".into(),
        "undecided" => return "未复核".into(),
        _ => {}
    }
    form.and_then(|f| f.scale(&f.item(item)?.scale))
        .and_then(|s| s.options.iter().find(|o| o.id == value))
        .map_or_else(|| value.to_string(), |o| o.label.replace(' ', ""))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let data = load(&args.batches, args.campaign.as_deref())?;
    let id = resolve(&data.campaign, &args.subject)?;
    let rows = explain(&data.sheets, &data.forms, &id);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table = vec![["批次", "序号", "页", "表", "问题", "值", "已复核", "计入"]
        .map(String::from)
        .to_vec()];
    for r in &rows {
        let form = data.forms.iter().find(|f| f.id == r.form);
        table.push(vec![
            r.batch.clone(),
            r.serial.clone(),
            r.pages.join(" "),
            form.map_or_else(
                || r.form.clone(),
                |f| f.annex.trim_end_matches(COLONS).to_string(),
            ),
            form.and_then(|f| f.item(&r.item))
                .map_or_else(|| r.question.clone(), |i| i.label.clone()),
            value_label(form, &r.item, &r.value),
            if r.reviewed { "是" } else { "" }.to_string(),
            r.not_counted.clone().unwrap_or_else(|| "计入".into()),
        ]);
    }
    println!(
        "{}:{} 个答案",
        subject_name(&data.campaign, &id),
        rows.len()
    );
    print!("{}", grid(&table, 99));
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_shown_with_the_words_printed_on_the_form() {
        let forms = pingyi::form::seed_forms().unwrap();
        let member = forms.iter().find(|f| f.id == "member");
        assert_eq!(
            value_label(member, "duty", "basically_satisfied"),
            "基本满意"
        );
        assert_eq!(value_label(member, "duty", "satisfied"), "满意");
        assert_eq!(value_label(member, "duty", "blank"), "空白");
        assert_eq!(value_label(member, "duty", "undecided"), "未复核");
        assert_eq!(value_label(None, "duty", "satisfied"), "satisfied");
        let c = Campaign::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/campaign/campaign.toml"
        )))
        .unwrap();
        assert_eq!(subject_name(&c, "c101"), "王伟(c101)");
        assert_eq!(subject_name(&c, "p01"), "陈静(因公护照受理窗口)(p01)");
    }
}
