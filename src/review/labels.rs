//! The words printed on paper, for the review page: option labels (满 意 …), item labels,
//! the names of candidates and posts, and the roster a name can be corrected to. They come
//! from the campaign folder the batch was scanned for (its form snapshots and layouts).
//! A batch whose campaign folder moved still reviews, with ids in place of labels.

use crate::campaign::{Campaign, Subject};
use crate::folder::CampaignFolder;
use crate::form::FormDef;
use crate::layout::Layout;
use std::collections::HashMap;
use std::path::Path;

/// A printed label's trailing colon, half- or full-width ("反馈：" → "反馈").
const COLONS: [char; 2] = [':', '\u{FF1A}'];

/// Which paper a label is looked up for: the page's layout (exact) and form (fallback).
#[derive(Debug, Clone, Copy, Default)]
pub struct Printed<'a> {
    pub form: Option<&'a str>,
    pub layout: Option<&'a str>,
}

pub struct Labels {
    campaign: Option<Campaign>,
    forms: HashMap<String, FormDef>,
    /// Layout hash → the layout as printed (its labels win over the form snapshot's: they
    /// are the words on that very paper).
    layouts: HashMap<String, Layout>,
    /// Why labels are missing, for the server's start-up message.
    pub warning: Option<String>,
}

impl Labels {
    /// Read the campaign folder holding `campaign_toml`; never fails (labels fall back to ids).
    #[must_use]
    pub fn load(campaign_toml: &Path) -> Self {
        let folder = match CampaignFolder::open(campaign_toml) {
            Ok(f) => f,
            Err(e) => return Self::without(format!("labels unavailable, showing ids: {e}")),
        };
        let mut warning = None;
        let forms = folder.forms().unwrap_or_else(|e| {
            warning = Some(format!(
                "form snapshots unreadable, showing option ids: {e}"
            ));
            Vec::new()
        });
        let layouts = folder.layouts().unwrap_or_default();
        Self {
            campaign: Some(folder.campaign),
            forms: forms.into_iter().map(|f| (f.id.clone(), f)).collect(),
            layouts,
            warning,
        }
    }

    fn without(warning: String) -> Self {
        Self {
            campaign: None,
            forms: HashMap::new(),
            layouts: HashMap::new(),
            warning: Some(warning),
        }
    }

    fn form(&self, form: Option<&str>) -> Option<&FormDef> {
        self.forms.get(form?)
    }

    fn layout(&self, hash: Option<&str>) -> Option<&Layout> {
        self.layouts.get(hash?)
    }

    /// The printed label of `option` of `item` ("满意"): the layout's, else the form's, else
    /// the id.
    #[must_use]
    pub fn option(&self, at: Printed<'_>, item: &str, option: &str) -> String {
        if let Some((_, l)) = self
            .layout(at.layout)
            .and_then(|l| l.item(item))
            .and_then(|i| i.options.iter().find(|(id, _)| id == option))
        {
            return l.clone();
        }
        self.form(at.form)
            .and_then(|f| f.scale(&f.item(item)?.scale))
            .and_then(|s| s.options.iter().find(|o| o.id == option))
            .map_or_else(|| option.to_string(), |o| o.label.clone())
    }

    /// The option ids of `item` in printed order (the order keys 1, 2, 3 … follow).
    #[must_use]
    pub fn option_order(&self, at: Printed<'_>, item: &str) -> Option<Vec<String>> {
        if let Some(i) = self.layout(at.layout).and_then(|l| l.item(item)) {
            return Some(i.options.iter().map(|(id, _)| id.clone()).collect());
        }
        let f = self.form(at.form)?;
        let scale = f.scale(&f.item(item)?.scale)?;
        Some(scale.options.iter().map(|o| o.id.clone()).collect())
    }

    /// The item's printed label ("工作作风"), or the id.
    #[must_use]
    pub fn item(&self, at: Printed<'_>, item: &str) -> String {
        if let Some(i) = self.layout(at.layout).and_then(|l| l.item(item)) {
            return i.label.clone();
        }
        self.form(at.form)
            .and_then(|f| f.item(item))
            .map_or_else(|| item.to_string(), |i| i.label.clone())
    }

    /// The printed label of a writing area ("党风廉政建设方面存在问题的反馈"), or its id.
    #[must_use]
    pub fn writing(&self, at: Printed<'_>, id: &str) -> String {
        self.layout(at.layout)
            .and_then(|l| l.pages.iter().flat_map(|p| &p.writing).find(|w| w.id == id))
            .map_or_else(
                || id.to_string(),
                |w| w.label.trim_end_matches(COLONS).to_string(),
            )
    }

    /// The form's title, or its id.
    #[must_use]
    pub fn form_title(&self, form: Option<&str>) -> String {
        match self.form(form) {
            Some(f) => format!("{} {}", f.annex.trim_end_matches(COLONS), f.title)
                .trim()
                .to_string(),
            None => form.unwrap_or("未知表").to_string(),
        }
    }

    /// A subject (candidate, post, branch) as a clerk knows it: "王伟(因公护照受理窗口)".
    #[must_use]
    pub fn subject(&self, id: &str) -> String {
        // "_w2": pingyi's key for the second blank row left for a handwritten name.
        if let Some(n) = id.strip_prefix("_w") {
            return format!("手写补填第{n}行");
        }
        let Some(c) = &self.campaign else {
            return id.to_string();
        };
        if let Some((_, cand)) = c.candidate(id) {
            return cand.name.clone();
        }
        if let Some(p) = c.post(id) {
            return format!("{}({})", p.name, p.title);
        }
        if let Some(b) = c.branch(id) {
            return b.name.clone();
        }
        id.to_string()
    }

    /// Every subject the sheet asks about, over all its pages, in printed order: an integrity
    /// remark on the last page of 附3 may concern a post printed on the first.
    #[must_use]
    pub fn sheet_subjects(&self, layout_hash: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let Some(l) = self.layout(layout_hash) else {
            return out;
        };
        for s in l
            .pages
            .iter()
            .flat_map(|p| &p.cells)
            .filter_map(|c| c.subject.as_ref())
        {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        out
    }

    /// The branch a page was printed for: the store's record, else the layout's.
    #[must_use]
    pub fn branch_of(&self, stored: Option<&str>, layout_hash: Option<&str>) -> Option<String> {
        stored
            .map(str::to_string)
            .or_else(|| self.layout(layout_hash).and_then(|l| l.branch.clone()))
    }

    /// The people a name row may be credited to: the branch's candidates or posts, as the
    /// form's subject kind says.
    #[must_use]
    pub fn roster(&self, form: Option<&str>, branch: Option<&str>) -> Vec<Subject> {
        let (Some(c), Some(f)) = (&self.campaign, self.form(form)) else {
            return Vec::new();
        };
        c.subjects(f.subject, branch.and_then(|b| c.branch(b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sheet_lists_the_subjects_of_all_its_pages_in_printed_order() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let campaign = Campaign::load(&root.join("fixtures/campaign/campaign.toml"))
            .expect("example campaign");
        let form = crate::form::load_file(&root.join("forms/3_window.toml")).expect("附3");
        // Every post of the campaign: 附3 then runs over two pages.
        let l = crate::layout::layout(&form, &campaign, None).expect("layout");
        assert!(l.pages.len() > 1);
        let hash = l.hash.clone();
        let labels = Labels {
            campaign: Some(campaign.clone()),
            forms: HashMap::new(),
            layouts: HashMap::from([(hash.clone(), l)]),
            warning: None,
        };
        let want: Vec<String> = campaign
            .subjects(form.subject, None)
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert!(want.len() > 4, "{want:?}");
        assert_eq!(labels.sheet_subjects(Some(&hash)), want);
        assert!(labels.sheet_subjects(Some("ffffffff")).is_empty());
    }

    #[test]
    fn a_missing_campaign_gives_ids_not_an_error() {
        let l = Labels::load(Path::new("/nonexistent/campaign.toml"));
        assert!(l.warning.is_some());
        assert_eq!(
            l.option(
                Printed {
                    form: Some("branch"),
                    layout: Some("0000abcd")
                },
                "activities",
                "satisfied"
            ),
            "satisfied"
        );
        assert_eq!(l.subject("zhang"), "zhang");
        assert!(l.roster(Some("member"), Some("b1")).is_empty());
    }
}
