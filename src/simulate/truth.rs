//! The truth file (`DIR/truth.json`): what the simulator meant and drew on every page, and the
//! one rule by which a reader's outcome is judged against it.
//!
//! # The judging rule
//! - **wrong**: the reader gives a confident answer different from what was intended, or a
//!   confident blank where ink was intended (an answer, a faint tick, a correction, two ticks);
//! - **flagged**: the reader says ambiguous, overvote (or marginal, which makes the question
//!   ambiguous): a person will look, nothing is lost;
//! - **right**: the confident answer (or blank) equals the intent. For deliberately unclear
//!   marks (`Intended::Ambiguous`) a confident answer equal to the `likely` option (the faint
//!   tick's option, the tick left standing after a correction) is also right; any other
//!   confident outcome is wrong. One exception (`judge_question`): a light pencil tick on a
//!   1-bit scan may not survive the scanner's threshold, so there a confident blank is also
//!   right (`QuestionTruth::blank_ok`), as the field sample accepts it.

use crate::read::outcome::QuestionState;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Format version of `truth.json`; bump when fields change meaning.
pub const TRUTH_VERSION: u32 = 1;

/// Everything the simulator produced, in output order.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Truth {
    pub version: u32,
    pub form: String,
    pub layout_hash: String,
    pub branch: Option<String>,
    pub profile: String,
    pub seed: u64,
    pub dpi: f32,
    pub format: String,
    /// The printed PDF the sheets came from (relative to the campaign folder).
    pub printed_pdf: String,
    /// Every output page, in the order a scanner would have produced them.
    pub pages: Vec<PageTruth>,
    /// Every sheet (one printed copy): what was meant for each question.
    pub sheets: Vec<SheetTruth>,
}

/// One output page image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageTruth {
    /// File holding the page, relative to the output folder.
    pub file: String,
    /// 0-based page index inside `file`.
    pub index: usize,
    /// The sheet's serial (a blank back carries its front's serial).
    pub serial: String,
    pub form: String,
    /// Page number of the form (the front's number for a blank back).
    pub page: u32,
    /// Clockwise rotation applied to the upright page, degrees: 0, 90, 180 or 270.
    pub rotation: u32,
    /// Small skew applied by the "scanner", degrees (counter-clockwise positive).
    pub skew_deg: f64,
    /// The empty back of a duplex scan (no code, nothing to read).
    pub blank_back: bool,
    /// How far the scanner pulled the sheet's corners off a rectangle (perspective), mm.
    #[serde(default)]
    pub keystone_mm: f64,
    /// Where the printed sheet's top-left, top-right, bottom-right and bottom-left corners
    /// are in the page image as written (after any quarter turn), mm from its top-left.
    /// None on a blank back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corners_mm: Option<[[f64; 2]; 4]>,
    /// The scanner cropped the image to the sheet it found (image larger than the sheet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_crop: Option<AutoCrop>,
}

/// An auto-cropped page: the sheet, turned, inside a border of the scanner's background.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AutoCrop {
    /// Gray level of the background around the sheet (dark lid 20–60, else the white lid).
    pub background: u8,
    /// Border beyond the turned sheet's bounding box, mm: left, top, right, bottom (of the
    /// upright page, before any quarter turn).
    pub border_mm: [f64; 4],
}

/// One printed copy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SheetTruth {
    pub serial: String,
    pub questions: Vec<QuestionTruth>,
    /// Writing areas (text boxes, fields): was anything written there.
    pub writing: Vec<WritingTruth>,
}

/// One question of one sheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuestionTruth {
    pub question: String,
    pub page: u32,
    pub intended: Intended,
    /// What was drawn in each of the question's boxes (boxes with nothing drawn are listed
    /// with `none`).
    pub cells: Vec<CellTruth>,
    /// A confident blank is right too: the only ink is light pencil and the scan is 1-bit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub blank_ok: bool,
}

/// What the person meant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Intended {
    /// One option, clearly marked.
    Answer { option: String },
    /// Nothing marked (for a check item: "no").
    Blank,
    /// Deliberately unclear (a correction, two ticks, a faint or mostly-outside tick): the
    /// reader is right to flag it. `likely` is the option a person would probably settle on.
    Ambiguous { likely: Option<String> },
}

/// What was drawn in one tick box.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellTruth {
    pub option: String,
    pub drawn: Drawn,
}

/// Kinds of ink put in or next to a box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drawn {
    None,
    Tick,
    Cross,
    Fill,
    /// A light, thin tick (pressure too low).
    Faint,
    /// A tick mostly outside its box.
    Outside,
    /// A tick scribbled over (a correction).
    Scribble,
    /// A stray dot or short speck, not meant as a mark.
    Speck,
    /// A tick in light pencil: a fifth to a quarter of toner's contrast, thin and grainy.
    Pencil,
    /// A deliberate small pen dot (0.7–1.2 mm) in the box.
    Dot,
    /// A tick across the rule between this box and the next one of the question.
    Straddle,
}

/// One writing area of one sheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WritingTruth {
    pub id: String,
    pub page: u32,
    pub written: bool,
}

/// How a reader's outcome compares with the intent (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Right,
    Flagged,
    Wrong,
}

/// Judge one question's reading (`state`, and `option` when `state` is an answer).
#[must_use]
pub fn judge(intended: &Intended, state: QuestionState, option: Option<&str>) -> Verdict {
    match state {
        QuestionState::Overvote | QuestionState::Ambiguous => Verdict::Flagged,
        QuestionState::Blank => {
            if *intended == Intended::Blank {
                Verdict::Right
            } else {
                Verdict::Wrong
            }
        }
        QuestionState::Answer => {
            let ok = match intended {
                Intended::Answer { option: want } => option == Some(want.as_str()),
                Intended::Ambiguous { likely: Some(l) } => option == Some(l.as_str()),
                Intended::Ambiguous { likely: None } | Intended::Blank => false,
            };
            if ok {
                Verdict::Right
            } else {
                Verdict::Wrong
            }
        }
    }
}

/// Judge one question as `judge` does, but a confident blank is right where the truth says
/// the ink may have vanished (`blank_ok`: light pencil on a 1-bit scan).
#[must_use]
pub fn judge_question(q: &QuestionTruth, state: QuestionState, option: Option<&str>) -> Verdict {
    if q.blank_ok && state == QuestionState::Blank {
        return Verdict::Right;
    }
    judge(&q.intended, state, option)
}

/// Counts of verdicts over many questions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    pub right: usize,
    pub flagged: usize,
    pub wrong: usize,
}

impl Score {
    pub fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Right => self.right += 1,
            Verdict::Flagged => self.flagged += 1,
            Verdict::Wrong => self.wrong += 1,
        }
    }

    #[must_use]
    pub fn total(&self) -> usize {
        self.right + self.flagged + self.wrong
    }

    /// Share of questions flagged, 0..1 (0 when empty).
    #[must_use]
    pub fn flagged_rate(&self) -> f64 {
        if self.total() == 0 {
            0.0
        } else {
            self.flagged as f64 / self.total() as f64
        }
    }
}

impl Truth {
    /// Every question by (serial, question id), for comparing readings.
    #[must_use]
    pub fn questions(&self) -> HashMap<(&str, &str), &QuestionTruth> {
        self.sheets
            .iter()
            .flat_map(|s| {
                s.questions
                    .iter()
                    .map(move |q| ((s.serial.as_str(), q.question.as_str()), q))
            })
            .collect()
    }

    /// Read `truth.json`.
    ///
    /// # Errors
    /// The file cannot be read or is not a truth file.
    pub fn load(path: &std::path::Path) -> Result<Self, super::SimError> {
        let bytes = std::fs::read(path).map_err(|source| super::SimError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| super::SimError::Truth {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(o: &str) -> Intended {
        Intended::Answer { option: o.into() }
    }

    #[test]
    fn a_confident_answer_other_than_the_intent_is_wrong() {
        assert_eq!(
            judge(&answer("a"), QuestionState::Answer, Some("b")),
            Verdict::Wrong
        );
        assert_eq!(
            judge(&answer("a"), QuestionState::Answer, Some("a")),
            Verdict::Right
        );
        assert_eq!(
            judge(&Intended::Blank, QuestionState::Answer, Some("a")),
            Verdict::Wrong
        );
    }

    #[test]
    fn a_confident_blank_where_ink_was_meant_is_wrong() {
        assert_eq!(
            judge(&answer("a"), QuestionState::Blank, None),
            Verdict::Wrong
        );
        assert_eq!(
            judge(
                &Intended::Ambiguous {
                    likely: Some("a".into())
                },
                QuestionState::Blank,
                None
            ),
            Verdict::Wrong
        );
        assert_eq!(
            judge(&Intended::Blank, QuestionState::Blank, None),
            Verdict::Right
        );
    }

    #[test]
    fn flags_are_never_wrong_and_ambiguous_accepts_only_the_likely_option() {
        for s in [QuestionState::Overvote, QuestionState::Ambiguous] {
            assert_eq!(judge(&answer("a"), s, None), Verdict::Flagged);
        }
        let amb = Intended::Ambiguous {
            likely: Some("a".into()),
        };
        assert_eq!(
            judge(&amb, QuestionState::Answer, Some("a")),
            Verdict::Right
        );
        assert_eq!(
            judge(&amb, QuestionState::Answer, Some("b")),
            Verdict::Wrong
        );
        assert_eq!(
            judge(
                &Intended::Ambiguous { likely: None },
                QuestionState::Answer,
                Some("a")
            ),
            Verdict::Wrong
        );
    }

    #[test]
    fn a_blank_is_right_only_where_pencil_met_a_1_bit_scan() {
        let mut q = QuestionTruth {
            question: "q".into(),
            page: 1,
            intended: Intended::Ambiguous {
                likely: Some("a".into()),
            },
            cells: vec![CellTruth {
                option: "a".into(),
                drawn: Drawn::Pencil,
            }],
            blank_ok: false,
        };
        assert_eq!(
            judge_question(&q, QuestionState::Blank, None),
            Verdict::Wrong
        );
        q.blank_ok = true;
        assert_eq!(
            judge_question(&q, QuestionState::Blank, None),
            Verdict::Right
        );
        // Another confident answer stays wrong.
        assert_eq!(
            judge_question(&q, QuestionState::Answer, Some("b")),
            Verdict::Wrong
        );
        // Old truth files (no blank_ok) still load.
        let old = r#"{"question":"q","page":1,"intended":{"kind":"blank"},"cells":[]}"#;
        let q: QuestionTruth = serde_json::from_str(old).unwrap();
        assert!(!q.blank_ok);
    }

    #[test]
    fn intended_serialises_with_its_kind() {
        let j = serde_json::to_string(&answer("satisfied")).unwrap();
        assert_eq!(j, r#"{"kind":"answer","option":"satisfied"}"#);
        assert_eq!(
            serde_json::to_string(&Intended::Blank).unwrap(),
            r#"{"kind":"blank"}"#
        );
    }
}
