//! The campaign (评议活动): one year's appraisal of one organisation — its branches with
//! member counts, the excellent-member candidates per branch and the window posts. It is the
//! one source of the names printed on the forms and of the numbers the rules need.
//!
//! A campaign lives in a folder: `campaign.toml` plus what pingyi writes beside it
//! (`forms/` snapshots, `layouts/`, `prints/`, `batches/`).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    /// e.g. "2011年度民主评议党员".
    pub name: String,
    /// Issuing body, printed under 附3's letter (中共…直属机关委员会).
    pub organisation: String,
    /// Short name of the office, used in letters (市外办).
    pub office: String,
    pub year: u32,
    /// Printed as 评议时间 (e.g. "2011年12月").
    pub appraisal_month: String,
    /// Date the plan was issued, printed under the organisation.
    pub issued_date: String,
    /// 附3's return deadline (e.g. "12月28日").
    pub feedback_deadline: String,
    pub contact: String,
    pub phone: String,
    #[serde(default)]
    pub fax: String,
    pub branches: Vec<Branch>,
    #[serde(default)]
    pub posts: Vec<Post>,
    /// Extra `{placeholders}` for custom forms.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    pub id: String,
    pub name: String,
    /// Party members in the branch: the base of the 20 % quota.
    pub members: u32,
    #[serde(default)]
    pub candidates: Vec<Candidate>,
}

/// An excellent-member candidate (优秀党员候选人).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    pub id: String,
    pub name: String,
}

/// A window service post (窗口服务岗位) and the person serving at it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Post {
    pub id: String,
    /// The post, e.g. "因公护照受理窗口".
    pub title: String,
    /// The person at the window, printed in the name cell.
    pub name: String,
    pub branch: String,
    /// The candidate this post's satisfaction result belongs to, if any.
    #[serde(default)]
    pub candidate: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("cannot read campaign file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("no branch \"{0}\" in the campaign (branches: {1})")]
    UnknownBranch(String, String),
}

/// A subject of appraisal named on a form row: a branch, a candidate or a window post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The campaign id (candidate id, post id, branch id).
    pub id: String,
    /// The name printed in the row's name cell.
    pub name: String,
    /// A second, smaller line (a post's title).
    pub detail: Option<String>,
}

impl Campaign {
    pub fn load(path: &Path) -> Result<Self, CampaignError> {
        let src = std::fs::read_to_string(path).map_err(|source| CampaignError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&src, path)
    }

    pub fn parse(src: &str, path: &Path) -> Result<Self, CampaignError> {
        let c: Campaign = toml::from_str(src).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start).min(src.len());
            let before = &src[..at];
            CampaignError::Syntax {
                path: path.to_path_buf(),
                line: before.matches('\n').count() + 1,
                column: before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1,
                message: e.message().trim().to_string(),
            }
        })?;
        c.validate().map_err(|message| CampaignError::Invalid {
            path: path.to_path_buf(),
            message,
        })?;
        Ok(c)
    }

    fn validate(&self) -> Result<(), String> {
        // Ids start with a letter so that pingyi's own row keys ("_w1" for write-in rows)
        // can never collide with them.
        let ok = |s: &str| {
            s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
                && s.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        };
        let mut ids = HashSet::new();
        for b in &self.branches {
            if !ok(&b.id) {
                return Err(format!(
                    "branch id \"{}\" must be lowercase ASCII starting with a letter",
                    b.id
                ));
            }
            if !ids.insert(b.id.as_str()) {
                return Err(format!("id \"{}\" is used twice", b.id));
            }
            if b.members == 0 {
                return Err(format!("branch \"{}\" has 0 members", b.name));
            }
            let mut names = HashSet::new();
            for c in &b.candidates {
                if !ok(&c.id) {
                    return Err(format!(
                        "candidate id \"{}\" must be lowercase ASCII starting with a letter",
                        c.id
                    ));
                }
                if !ids.insert(c.id.as_str()) {
                    return Err(format!("id \"{}\" is used twice", c.id));
                }
                if !names.insert(c.name.as_str()) {
                    return Err(format!("two candidates of branch \"{}\" are both called {}: add a distinguishing mark to the name", b.name, c.name));
                }
            }
        }
        for p in &self.posts {
            if !ok(&p.id) {
                return Err(format!(
                    "post id \"{}\" must be lowercase ASCII starting with a letter",
                    p.id
                ));
            }
            if !ids.insert(p.id.as_str()) {
                return Err(format!("id \"{}\" is used twice", p.id));
            }
            if self.branch(&p.branch).is_none() {
                return Err(format!(
                    "post \"{}\" names branch \"{}\", which is not in the campaign",
                    p.id, p.branch
                ));
            }
            if let Some(c) = &p.candidate {
                if self.candidate(c).is_none() {
                    return Err(format!(
                        "post \"{}\" names candidate \"{c}\", who is not in the campaign",
                        p.id
                    ));
                }
            }
        }
        Ok(())
    }

    pub fn branch(&self, id: &str) -> Option<&Branch> {
        self.branches.iter().find(|b| b.id == id)
    }

    /// The branch with this id, or an error listing the known ones.
    pub fn require_branch(&self, id: &str) -> Result<&Branch, CampaignError> {
        self.branch(id).ok_or_else(|| {
            let known: Vec<_> = self.branches.iter().map(|b| b.id.as_str()).collect();
            CampaignError::UnknownBranch(id.to_string(), known.join(", "))
        })
    }

    /// The candidate with this id and their branch.
    pub fn candidate(&self, id: &str) -> Option<(&Branch, &Candidate)> {
        self.branches
            .iter()
            .find_map(|b| b.candidates.iter().find(|c| c.id == id).map(|c| (b, c)))
    }

    pub fn post(&self, id: &str) -> Option<&Post> {
        self.posts.iter().find(|p| p.id == id)
    }

    /// Values for `{placeholders}` in form text; `branch` is empty without a branch.
    pub fn vars(&self, branch: Option<&Branch>) -> BTreeMap<String, String> {
        let mut v = self.vars.clone();
        for (k, val) in [
            ("campaign", &self.name),
            ("organisation", &self.organisation),
            ("office", &self.office),
            ("appraisal_month", &self.appraisal_month),
            ("issued_date", &self.issued_date),
            ("feedback_deadline", &self.feedback_deadline),
            ("contact", &self.contact),
            ("phone", &self.phone),
            ("fax", &self.fax),
        ] {
            v.insert(k.to_string(), val.clone());
        }
        v.insert("year".into(), self.year.to_string());
        v.insert(
            "branch".into(),
            branch.map(|b| b.name.clone()).unwrap_or_default(),
        );
        v
    }

    /// The subjects named row by row on a form of this kind for this branch.
    pub fn subjects(
        &self,
        kind: crate::form::SubjectKind,
        branch: Option<&Branch>,
    ) -> Vec<Subject> {
        use crate::form::SubjectKind;
        match kind {
            SubjectKind::Candidates => branch
                .map(|b| {
                    b.candidates
                        .iter()
                        .map(|c| Subject {
                            id: c.id.clone(),
                            name: c.name.clone(),
                            detail: None,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            SubjectKind::Posts => self
                .posts
                .iter()
                .filter(|p| branch.is_none_or(|b| b.id == p.branch))
                .map(|p| Subject {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    detail: Some(p.title.clone()),
                })
                .collect(),
            SubjectKind::Branch | SubjectKind::None => Vec::new(),
        }
    }
}

/// Fill `{name}` placeholders from `vars`; unknown names stay as written so a typo shows on paper.
pub fn fill(template: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if vars.contains_key(&after[..close]) => {
                out.push_str(&vars[&after[..close]]);
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_fill_and_unknown_ones_stay_visible() {
        let mut v = BTreeMap::new();
        v.insert("year".to_string(), "2011".to_string());
        assert_eq!(fill("{year}年度 {nope}", &v), "2011年度 {nope}");
    }

    #[test]
    fn the_example_campaign_loads() {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/campaign/campaign.toml");
        let c = Campaign::load(&p).unwrap();
        assert!(c.branches.len() >= 3);
        assert!(c.posts.len() >= 3);
    }

    #[test]
    fn a_post_of_an_unknown_branch_is_refused() {
        let src = r#"
name = "x"
organisation = "o"
office = "o"
year = 2011
appraisal_month = "2011年12月"
issued_date = "d"
feedback_deadline = "d"
contact = "c"
phone = "p"
[[branches]]
id = "b1"
name = "一支部"
members = 10
[[posts]]
id = "p1"
title = "窗口"
name = "王伟"
branch = "b9"
"#;
        let e = Campaign::parse(src, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("branch \"b9\""), "{e}");
    }
}
