//! A sheet as the tally sees it: the final value of every question once review decisions are
//! applied to the machine's readings. The batch store produces these; the tally consumes them.
//! A sheet is one printed copy (one serial), possibly several pages.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sheet {
    /// The batch folder it was read in (several scanning stations may merge).
    pub batch: String,
    pub serial: String,
    pub form: String,
    pub layout_hash: String,
    pub branch: Option<String>,
    /// Where each page came from: "file.pdf#3" (1-based page).
    pub pages: Vec<String>,
    pub answers: Vec<Answer>,
    /// Flags on this sheet still waiting for a person (blocks a final count).
    pub open_flags: Vec<OpenFlag>,
    /// Integrity problems confirmed in review (一票否决 evidence).
    pub integrity: Vec<IntegrityNote>,
    /// A reviewer discarded the whole sheet (e.g. the second copy of a duplicate).
    pub discarded: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    pub question: String,
    pub subject: Option<String>,
    pub item: String,
    pub value: AnswerValue,
    /// True when a person set or confirmed the value.
    pub reviewed: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "option")]
pub enum AnswerValue {
    /// The option ticked (for a check item: its single option means "yes").
    Chosen(String),
    /// Nothing ticked.
    Blank,
    /// Still flagged: not counted until reviewed.
    Undecided,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpenFlag {
    pub kind: crate::read::outcome::FlagKind,
    pub target: Option<String>,
    pub detail: String,
    /// "file.pdf#3".
    pub page: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntegrityNote {
    /// The subject (post or candidate id) the problem is about, as the reviewer chose.
    pub subject: String,
    pub note: String,
    pub reviewer: String,
    pub at: String,
}
