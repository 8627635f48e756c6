//! What the reader concluded about one scanned page: the domain model every later stage
//! (batch store, export, review, tally) speaks. Machine readings are never overwritten;
//! review decisions are stored beside them.

use crate::code::PageCode;
use serde::{Deserialize, Serialize};

/// How one tick box was classified from its ink score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellClass {
    /// Below the marginal threshold.
    Empty,
    /// Between the thresholds: a person must look.
    Marginal,
    /// At or above the definite threshold.
    Marked,
}

/// One tick box's measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellReading {
    pub question: String,
    pub option: String,
    /// Share of the box's paper pixels darkened by new ink, 0..1.
    pub score: f32,
    pub class: CellClass,
    /// The box as found in the page image, pixels (x, y, w, h), for crops and audit.
    pub px: [u32; 4],
}

/// A question's outcome from its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionState {
    /// Exactly one definite mark, no marginal cell.
    Answer,
    /// No mark at all (for a check item: "no").
    Blank,
    /// Two or more definite marks: a reviewer decides (people correct by ticking again).
    Overvote,
    /// Some cell is marginal: a reviewer decides.
    Ambiguous,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuestionReading {
    pub question: String,
    pub subject: Option<String>,
    pub item: String,
    pub state: QuestionState,
    /// The chosen option when `state == Answer`.
    pub option: Option<String>,
}

/// Why a page or a part of it needs a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// A cell between the thresholds.
    Marginal,
    /// Two or more marks on a single-choice question.
    Overvote,
    /// The OCR'd name disagrees with the printed one, or is unsure, or was written in.
    NameCheck,
    /// Writing in a box whose flag is `integrity_feedback` (附3): the veto needs a person.
    IntegrityFeedback,
    /// Writing in another text box (suggestions): for reading, not blocking.
    Comment,
    /// The same sheet serial seen on another image.
    Duplicate,
    /// The page could not be read at all.
    Rejected,
    /// The serial was never printed for this campaign: photocopy or foreign sheet.
    UnknownSerial,
}

impl FlagKind {
    /// Flags that must be cleared before the count is final.
    pub fn blocks_final_count(self) -> bool {
        !matches!(self, FlagKind::Comment)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FlagKind::Marginal => "marginal",
            FlagKind::Overvote => "overvote",
            FlagKind::NameCheck => "name_check",
            FlagKind::IntegrityFeedback => "integrity_feedback",
            FlagKind::Comment => "comment",
            FlagKind::Duplicate => "duplicate",
            FlagKind::Rejected => "rejected",
            FlagKind::UnknownSerial => "unknown_serial",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            FlagKind::Marginal,
            FlagKind::Overvote,
            FlagKind::NameCheck,
            FlagKind::IntegrityFeedback,
            FlagKind::Comment,
            FlagKind::Duplicate,
            FlagKind::Rejected,
            FlagKind::UnknownSerial,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flag {
    pub kind: FlagKind,
    /// The question, name row (subject key) or writing area the flag is about.
    pub target: Option<String>,
    /// A sentence a clerk understands.
    pub detail: String,
    /// Distance from the nearest threshold (0 = on it); review shows the worst first.
    pub urgency: f32,
}

/// OCR of one name cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameReading {
    /// Row key (subject id, or `_wN` for write-in rows).
    pub subject: String,
    pub printed: Option<String>,
    pub text: String,
    /// Tesseract's mean confidence, 0..100.
    pub confidence: f32,
    /// Roster entry (subject id) the text matched, if any.
    pub matched: Option<String>,
    /// The row's marks may be credited to `subject` without a person looking.
    pub ok: bool,
    pub px: [u32; 4],
}

/// A writing area (text box or handwritten field).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WritingReading {
    pub id: String,
    /// Share of the area darkened by ink.
    pub ink: f32,
    pub has_writing: bool,
    /// Tesseract's attempt, when there is writing.
    pub text: Option<String>,
    pub confidence: Option<f32>,
    /// Crop file relative to the batch folder.
    pub crop: Option<String>,
    pub px: [u32; 4],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PageStatus {
    Read,
    /// An empty page (duplex back): nothing to count, nothing lost.
    Blank,
    Rejected,
}

/// Everything read from one page image.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageReading {
    pub status: PageStatus,
    /// Why the page was rejected, in words a clerk understands.
    pub reason: Option<String>,
    pub code: Option<PageCode>,
    /// Clockwise rotation that was undone, degrees (0, 90, 180, 270).
    pub rotation: u32,
    /// Layout (mm) → image (px) transform, row-major 3×3.
    pub transform: Option<[f64; 9]>,
    /// RMS distance between the marks found and where the transform puts them, mm.
    pub residual_mm: Option<f64>,
    pub dpi: Option<f32>,
    pub cells: Vec<CellReading>,
    pub questions: Vec<QuestionReading>,
    pub names: Vec<NameReading>,
    pub writing: Vec<WritingReading>,
    pub flags: Vec<Flag>,
}

impl PageReading {
    /// A page that could not be read, with the reason.
    pub fn rejected(reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Self {
            status: PageStatus::Rejected,
            flags: vec![Flag {
                kind: FlagKind::Rejected,
                target: None,
                detail: reason.clone(),
                urgency: 0.0,
            }],
            reason: Some(reason),
            ..Self::empty(PageStatus::Rejected)
        }
    }

    pub fn blank() -> Self {
        Self::empty(PageStatus::Blank)
    }

    fn empty(status: PageStatus) -> Self {
        Self {
            status,
            reason: None,
            code: None,
            rotation: 0,
            transform: None,
            residual_mm: None,
            dpi: None,
            cells: Vec::new(),
            questions: Vec::new(),
            names: Vec::new(),
            writing: Vec::new(),
            flags: Vec::new(),
        }
    }
}
