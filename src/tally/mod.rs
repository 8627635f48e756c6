//! The shared tally: one engine counts every form by the rules written in its `[rules]` and
//! in the campaign (民主评议实施方案 四、原则标准).
//!
//! `tally()` is pure and deterministic: sheets in, a [`Tally`] out. Reading the batch store,
//! the campaign folder and the veto file happens in `cmd::tally`.
//!
//! What counts: only sheets not discarded and not a second copy of a serial already seen;
//! only answers whose value is decided (read unflagged, or set/confirmed by a person).
//! An `Undecided` answer never counts and keeps the tally provisional.
//!
//! The rules live in [`rules`]: the satisfaction rate (exact integers), the 附2 recommend cap
//! and quota with ties reported for the committee, the 附3 window-post link, the veto.

mod count;
pub mod explain;
mod rules;
pub mod veto;

pub use explain::{explain, ExplainRow};
pub use veto::{read_vetoes, Veto, VetoError, VetoSource};

use crate::campaign::Campaign;
use crate::folder::PrintRecord;
use crate::form::{FormDef, OverLimit, QuotaRounding, Ratio, SubjectKind};
use crate::sheet::Sheet;
use serde::Serialize;

/// Everything the committee signs, and everything needed to trace it.
#[derive(Debug, Clone, Serialize)]
pub struct Tally {
    pub campaign: String,
    /// Final only when nothing is pending.
    pub status: Status,
    /// One per form definition given, in the order given.
    pub forms: Vec<FormTally>,
    /// Printed vs returned per form and branch.
    pub turnout: Vec<Turnout>,
    /// Serials seen more than once (within or across batches): counted once.
    pub duplicates: Vec<Duplicate>,
    /// Sheets whose form is not among the forms given: not counted.
    pub unknown_forms: Vec<SheetRef>,
    /// 附2 sheets with more recommend ticks than allowed.
    pub over_limit: Vec<OverLimitSheet>,
    /// The excellent-member decision per recommend form and branch.
    pub excellent: Vec<BranchDecision>,
    /// Vetoes that removed (or would remove) a person.
    pub vetoes: Vec<AppliedVeto>,
    /// Vetoes naming nobody in the campaign: a clerk must fix the file.
    pub vetoes_unmatched: Vec<Veto>,
    /// What still needs a person before the count is final.
    pub pending: Vec<Pending>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Final,
    /// 未复核: open flags or undecided answers remain.
    Provisional,
}

impl Tally {
    pub fn is_final(&self) -> bool {
        self.status == Status::Final
    }
}

/// A sheet as a clerk finds it: batch, serial and the page files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SheetRef {
    pub batch: String,
    pub serial: String,
    pub form: String,
    pub pages: Vec<String>,
}

impl SheetRef {
    fn of(s: &Sheet) -> Self {
        Self {
            batch: s.batch.clone(),
            serial: s.serial.clone(),
            form: s.form.clone(),
            pages: s.pages.clone(),
        }
    }
}

/// One form's counts.
#[derive(Debug, Clone, Serialize)]
pub struct FormTally {
    pub form: String,
    pub annex: String,
    pub title: String,
    pub subject_kind: SubjectKind,
    /// The answer scales with their labels (item counts follow these options' order).
    pub scales: Vec<ScaleInfo>,
    /// Options counted as satisfied (满意 + 比较满意).
    pub satisfied: Vec<String>,
    pub pass_at_least: Ratio,
    pub skip_blank_subject: bool,
    pub sheets: SheetCounts,
    /// Every subject of the campaign for this form (even with no answers), then unknown ones.
    pub subjects: Vec<SubjectTally>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaleInfo {
    pub id: String,
    pub options: Vec<(String, String)>,
}

/// Sheets of one form after de-duplication.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SheetCounts {
    /// Distinct serials returned (each duplicate counted once).
    pub returned: u64,
    /// Counted with at least one decided tick.
    pub valid: u64,
    /// Nothing ticked at all.
    pub blank: u64,
    /// Discarded by a reviewer.
    pub discarded: u64,
    /// Voided whole by the recommend cap (`over_limit = "void_sheet"`).
    pub void: u64,
}

impl SheetCounts {
    /// Sheets that do not count: discarded or void.
    pub fn invalid(&self) -> u64 {
        self.discarded + self.void
    }
}

/// One subject (branch, candidate, post) on one form.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectTally {
    pub id: String,
    pub name: String,
    /// A post's title.
    pub detail: Option<String>,
    pub branch: Option<String>,
    /// False for write-in rows or ids the campaign does not know.
    pub known: bool,
    pub items: Vec<ItemTally>,
    /// Over all graded (single-choice) items.
    pub rate: Rate,
    /// Sheets that counted for this subject.
    pub sheets_counted: u64,
    /// Sheets where every item of this subject was blank (附3: 可不填写) — not counted.
    pub sheets_skipped_blank: u64,
    /// Sheets where some but not all graded items were answered: the answered ones count.
    pub sheets_partial: u64,
    /// Recommend ticks dropped because their sheet went over the cap.
    pub recommendations_voided: u64,
}

/// One item (question) of one subject.
#[derive(Debug, Clone, Serialize)]
pub struct ItemTally {
    pub item: String,
    pub label: String,
    pub scale: String,
    /// A check item (推荐): counted, but not graded.
    pub check: bool,
    /// Per option of the scale, in scale order.
    pub counts: Vec<OptionCount>,
    pub blank: u64,
    /// Still flagged: not counted.
    pub undecided: u64,
    /// Graded items only.
    pub rate: Option<Rate>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OptionCount {
    pub option: String,
    pub count: u64,
}

impl ItemTally {
    pub fn count(&self, option: &str) -> u64 {
        self.counts
            .iter()
            .find(|c| c.option == option)
            .map_or(0, |c| c.count)
    }
}

/// satisfied ÷ graded with its verdict, decided in integers; `percent` is display only,
/// rounded down so 8,999/10,000 shows 89.99 %, never 90.00 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rate {
    pub satisfied: u64,
    pub graded: u64,
    pub passes: bool,
}

impl Rate {
    pub fn new(satisfied: u64, graded: u64, pass: &Ratio) -> Self {
        Self {
            satisfied,
            graded,
            passes: pass.reached_by(satisfied, graded),
        }
    }

    /// "93.33%" (floor to 0.01 %), or "—" with nothing graded.
    pub fn percent(&self) -> String {
        if self.graded == 0 {
            return "—".into();
        }
        // Basis points of a percent (1/10,000), floored.
        let bp = u128::from(self.satisfied) * 10_000 / u128::from(self.graded);
        format!("{}.{:02}%", bp / 100, bp % 100)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Turnout {
    pub form: String,
    pub branch: Option<String>,
    pub branch_name: Option<String>,
    pub printed: u64,
    /// Printed serials seen (once each).
    pub returned: u64,
    /// Serials seen that no print record has (photocopy, other campaign).
    pub unprinted: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    pub serial: String,
    /// The copy that counts (first non-discarded in batch order), if any.
    pub kept: Option<SheetRef>,
    pub dropped: Vec<SheetRef>,
    /// Whether every copy carries the same answers; if not, a person should look.
    pub same_answers: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct OverLimitSheet {
    pub sheet: SheetRef,
    pub branch: Option<String>,
    pub ticks: u32,
    pub max_per_sheet: u32,
    pub action: OverLimit,
}

/// 附2 for one branch: quota, ranking, who is excellent, and any tie for the committee.
#[derive(Debug, Clone, Serialize)]
pub struct BranchDecision {
    pub form: String,
    pub branch: String,
    pub branch_name: String,
    pub members: u32,
    pub quota_ratio: Ratio,
    pub quota_rounding: QuotaRounding,
    pub quota: u64,
    /// Every candidate, by recommend votes (then campaign order).
    pub candidates: Vec<CandidateResult>,
    /// Ids named excellent.
    pub excellent: Vec<String>,
    pub tie: Option<Tie>,
}

/// Candidates with equal votes across the quota line: the committee decides.
#[derive(Debug, Clone, Serialize)]
pub struct Tie {
    pub votes: u64,
    /// Seats left for the tied candidates.
    pub seats: u64,
    pub candidates: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CandidateResult {
    pub id: String,
    pub name: String,
    pub votes: u64,
    /// Rank among all candidates by votes (1, 1, 3 …).
    pub rank: u64,
    pub rate: Rate,
    pub window: Vec<WindowResult>,
    pub veto: Option<AppliedVeto>,
    /// Why the person cannot be excellent, in words for the report.
    pub ineligible: Vec<String>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowResult {
    pub form: String,
    pub post: String,
    pub title: String,
    pub rate: Rate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Excellent,
    /// On the quota line with others: the committee decides.
    Tie,
    /// Eligible but below the quota line.
    NotSelected,
    Ineligible,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Excellent => "优秀党员",
            Outcome::Tie => "同票待定",
            Outcome::NotSelected => "未入选",
            Outcome::Ineligible => "不符合条件",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct AppliedVeto {
    /// The candidate id.
    pub person: String,
    pub name: String,
    pub veto: Veto,
}

/// Something a person must still decide.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    pub batch: String,
    pub serial: String,
    pub page: String,
    pub kind: String,
    pub target: Option<String>,
    pub detail: String,
}

/// Count `sheets` by the rules of `forms` and `campaign`. `printed` gives turnout; `vetoes`
/// are from a veto file (confirmed integrity notes on the sheets are added here).
pub fn tally(
    sheets: &[Sheet],
    forms: &[FormDef],
    campaign: &Campaign,
    printed: &[PrintRecord],
    vetoes: &[Veto],
) -> Tally {
    let (kept, duplicates) = count::dedupe(sheets);
    let counted = count::count_forms(&kept, forms, campaign);
    let turnout = count::turnout(&kept, printed, campaign);
    let mut all_vetoes: Vec<Veto> = vetoes.to_vec();
    all_vetoes.extend(veto::from_sheets(&kept));
    let (applied, unmatched) = veto::resolve(&all_vetoes, campaign);
    let excellent = rules::decide(&counted.forms, forms, campaign, &applied);
    let pending = count::pending(&kept);
    let status = if pending.is_empty() {
        Status::Final
    } else {
        Status::Provisional
    };
    Tally {
        campaign: campaign.name.clone(),
        status,
        forms: counted.forms,
        turnout,
        duplicates,
        unknown_forms: counted.unknown_forms,
        over_limit: counted.over_limit,
        excellent,
        vetoes: applied,
        vetoes_unmatched: unmatched,
        pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_floored_so_the_boundary_never_looks_passed() {
        let r: Ratio = "90%".parse().unwrap();
        assert_eq!(Rate::new(8_999, 10_000, &r).percent(), "89.99%");
        assert!(!Rate::new(8_999, 10_000, &r).passes);
        assert_eq!(Rate::new(9, 10, &r).percent(), "90.00%");
        assert!(Rate::new(9, 10, &r).passes);
        assert_eq!(Rate::new(0, 0, &r).percent(), "—");
    }
}
