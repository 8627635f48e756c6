//! The words printed on paper, for the review page: option labels (满 意 …), item labels,
//! the names of candidates and posts, and the roster a name can be corrected to. They come
//! from the campaign folder the batch was scanned for (its form snapshots and layouts).
//! A batch whose campaign folder moved still reviews, with ids in place of labels.

use crate::campaign::{Campaign, Subject};
use crate::folder::CampaignFolder;
use crate::form::FormDef;
use std::collections::HashMap;
use std::path::Path;

pub struct Labels {
    campaign: Option<Campaign>,
    forms: HashMap<String, FormDef>,
    /// Layout hash → the branch it was printed for.
    layout_branch: HashMap<String, Option<String>>,
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
        let layout_branch = folder
            .layouts()
            .map(|m| m.into_iter().map(|(h, l)| (h, l.branch)).collect())
            .unwrap_or_default();
        Self {
            campaign: Some(folder.campaign),
            forms: forms.into_iter().map(|f| (f.id.clone(), f)).collect(),
            layout_branch,
            warning,
        }
    }

    fn without(warning: String) -> Self {
        Self {
            campaign: None,
            forms: HashMap::new(),
            layout_branch: HashMap::new(),
            warning: Some(warning),
        }
    }

    fn form(&self, form: Option<&str>) -> Option<&FormDef> {
        self.forms.get(form?)
    }

    /// The printed label of `option` of `item` on `form` ("满 意"), or the id.
    #[must_use]
    pub fn option(&self, form: Option<&str>, item: &str, option: &str) -> String {
        self.form(form)
            .and_then(|f| f.scale(&f.item(item)?.scale))
            .and_then(|s| s.options.iter().find(|o| o.id == option))
            .map_or_else(|| option.to_string(), |o| o.label.clone())
    }

    /// The option ids of `item` in printed order (the order keys 1, 2, 3 … follow).
    #[must_use]
    pub fn option_order(&self, form: Option<&str>, item: &str) -> Option<Vec<String>> {
        let f = self.form(form)?;
        let scale = f.scale(&f.item(item)?.scale)?;
        Some(scale.options.iter().map(|o| o.id.clone()).collect())
    }

    /// The item's printed label ("工作作风"), or the id.
    #[must_use]
    pub fn item(&self, form: Option<&str>, item: &str) -> String {
        self.form(form)
            .and_then(|f| f.item(item))
            .map_or_else(|| item.to_string(), |i| i.label.clone())
    }

    /// The form's title, or its id.
    #[must_use]
    pub fn form_title(&self, form: Option<&str>) -> String {
        match self.form(form) {
            Some(f) => format!("{}{}", f.annex.trim_end_matches([':', ':']), f.title),
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

    /// The branch a page was printed for: the store's record, else the layout's.
    #[must_use]
    pub fn branch_of(&self, stored: Option<&str>, layout_hash: Option<&str>) -> Option<String> {
        stored
            .map(str::to_string)
            .or_else(|| layout_hash.and_then(|h| self.layout_branch.get(h).cloned().flatten()))
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
    fn a_missing_campaign_gives_ids_not_an_error() {
        let l = Labels::load(Path::new("/nonexistent/campaign.toml"));
        assert!(l.warning.is_some());
        assert_eq!(
            l.option(Some("branch"), "activities", "satisfied"),
            "satisfied"
        );
        assert_eq!(l.subject("zhang"), "zhang");
        assert!(l.roster(Some("member"), Some("b1")).is_empty());
    }
}
