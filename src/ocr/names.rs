//! Name cells: OCR the row's name and decide whether the row's marks may be credited to the
//! person printed there.
//!
//! # How near names (王伟 / 王玮) are kept apart
//! Chinese names are 2–4 characters, so one wrong character is a large share of the name and
//! look-alike misreads (磊→舌, 芳→方) come back with high confidence. The OCR text is therefore
//! *snapped* to the roster by character-level edit distance, and a snap is accepted only if
//! - the text is exactly a roster name, or
//! - the best distance is within [`max_edits`] of that name **and strictly smaller than the
//!   second best** — "王炜" is one edit from both 王伟 and 王玮, so it snaps to neither;
//!
//! and a printed row is credited (`ok`) only when the snap lands on **the name printed on that
//! row** (the QR says which sheet it is, the campaign says which names it carries). Reading
//! 王玮 in the row printed 王伟 is never "close enough": it raises `name_check`. A wrong person
//! can only be credited silently if the scan shows someone else's name and OCR misreads it as
//! exactly the printed one. Passing a wider roster (every name of the campaign) only makes the
//! snap stricter: a re-typed outsider one character away from the printed name then stops
//! snapping.
//!
//! When the first read is not exactly a roster name the crop is read again at other scales
//! (glyph heights around Tesseract's sweet spot of ≈ 20 px); the first exact read wins.

use super::engine::{self, Ocr, Psm};
use crate::campaign::Subject;
use crate::layout::PageLayout;
use crate::read::outcome::{Flag, FlagKind, NameReading};
use crate::read::Aligned;
use image::imageops::{self, FilterType};
use image::GrayImage;

/// Glyph heights (px) tried in turn: 20 px reads best; the others rescue misreads that depend
/// on how strokes fall on the pixel grid.
const GLYPH_PX_TRIES: [f32; 4] = [20.0, 24.0, 17.0, 28.0];
/// The layout's name box is 1.7 glyph heights tall (half a glyph of margin above and below).
const BOX_PER_GLYPH: f32 = 1.7;
/// Printed names are 12 pt: 4.23 mm. Used to tell Tesseract the resolution after scaling.
const NAME_GLYPH_MM: f32 = 12.0 * 25.4 / 72.0;
/// A pixel darker than this is ink (paper scans ≈ 230+, pen and toner ≈ < 100).
const INK_LEVEL: u8 = 128;
/// Share of a write-in box's pixels that must be ink before it counts as written in: a
/// two-character handwritten name covers ≈ 5 %, scanner speckle ≪ 0.5 %.
const WRITTEN_SHARE: f32 = 0.008;
/// Share of each side of the box ignored by the ink test (stray cell rules after alignment).
const INK_INSET: f32 = 0.06;

/// One name row as the caller knows it from the layout.
#[derive(Debug, Clone, Copy)]
pub struct NameRow<'a> {
    /// 1-based row number on the page, for the clerk's message.
    pub row: usize,
    /// Subject key of the row (`_wN` on write-in rows).
    pub subject: &'a str,
    /// The name printed on the row; `None` on write-in rows.
    pub printed: Option<&'a str>,
    /// The crop's place in the page image (x, y, w, h).
    pub px: [u32; 4],
}

/// Edits allowed between an OCR text and a roster name for a snap: one per three characters,
/// at least one (a 2–4 character name tolerates one misread character, never two).
pub fn max_edits(name_len: usize) -> usize {
    name_len.div_ceil(3).max(1)
}

/// Character-level Levenshtein distance.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The name-like part of an OCR line: letters (CJK or Latin) and the middle dot of
/// transliterated names; rule fragments and punctuation are dropped.
pub fn normalise(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_alphabetic() || *c == '·')
        .collect()
}

/// The roster entry `text` snaps to (index, distance), by the rule in the module docs.
pub fn snap(text: &str, roster: &[Subject]) -> Option<(usize, usize)> {
    if text.is_empty() {
        return None;
    }
    let mut d: Vec<(usize, usize)> = roster
        .iter()
        .enumerate()
        .map(|(i, s)| (edit_distance(text, &s.name), i))
        .collect();
    d.sort();
    let &(best, idx) = d.first()?;
    // The same person may be listed twice (a candidate who also serves at a window): only a
    // *different* name competes.
    let second = d
        .iter()
        .find(|x| roster[x.1].name != roster[idx].name)
        .map_or(usize::MAX, |x| x.0);
    let allowed = max_edits(roster[idx].name.chars().count());
    (best == 0 || (best <= allowed && best < second)).then_some((idx, best))
}

/// Is anything written in this (write-in) name box?
pub fn has_ink(crop: &GrayImage) -> bool {
    let (w, h) = crop.dimensions();
    let (dx, dy) = ((w as f32 * INK_INSET) as u32, (h as f32 * INK_INSET) as u32);
    let (iw, ih) = (w.saturating_sub(2 * dx), h.saturating_sub(2 * dy));
    if iw == 0 || ih == 0 {
        return false;
    }
    let dark = (dy..dy + ih)
        .flat_map(|y| (dx..dx + iw).map(move |x| (x, y)))
        .filter(|&(x, y)| crop.get_pixel(x, y).0[0] < INK_LEVEL)
        .count();
    dark as f32 / (iw * ih) as f32 >= WRITTEN_SHARE
}

/// One OCR pass and what it snapped to.
struct Attempt {
    ocr: Ocr,
    snap: Option<(usize, usize)>,
}

/// Read the crop at up to four scales; stop at the first read that is exactly a roster name.
/// Returns the chosen attempt (None only when no pass could run) and the engine error if any.
fn read_multiscale(crop: &GrayImage, roster: &[Subject]) -> Result<Attempt, engine::OcrError> {
    let glyph_px = crop.height() as f32 / BOX_PER_GLYPH;
    let mut tried: Vec<Attempt> = Vec::new();
    for target in GLYPH_PX_TRIES {
        let scale = target / glyph_px.max(1.0);
        let w = ((crop.width() as f32 * scale).round() as u32).max(1);
        let h = ((crop.height() as f32 * scale).round() as u32).max(1);
        let img = imageops::resize(crop, w, h, FilterType::Triangle);
        let dpi = (target / NAME_GLYPH_MM * 25.4).round() as u32;
        let mut ocr = engine::recognise(&img, Psm::Line, dpi)?;
        ocr.text = normalise(&ocr.text);
        let snap = snap(&ocr.text, roster);
        let exact = matches!(snap, Some((_, 0)));
        tried.push(Attempt { ocr, snap });
        if exact {
            break;
        }
    }
    Ok(choose(tried))
}

/// The exact read if there is one; else the unique person the closest snaps agree on; else
/// the most confident read, unsnapped (disagreeing passes are not a match).
fn choose(mut tried: Vec<Attempt>) -> Attempt {
    let best = tried.iter().filter_map(|a| a.snap.map(|s| s.1)).min();
    if let Some(best) = best {
        let mut at_best = tried.iter().filter(|a| a.snap.is_some_and(|s| s.1 == best));
        let first = at_best.next().and_then(|a| a.snap).map(|s| s.0);
        if at_best.all(|a| a.snap.map(|s| s.0) == first) {
            if let Some(i) = tried
                .iter()
                .position(|a| a.snap.is_some_and(|s| s.1 == best))
            {
                return tried.swap_remove(i);
            }
        }
    }
    tried.sort_by(|a, b| b.ocr.confidence.total_cmp(&a.ocr.confidence));
    let mut top = tried.into_iter().next().unwrap_or(Attempt {
        ocr: Ocr {
            text: String::new(),
            confidence: 0.0,
        },
        snap: None,
    });
    top.snap = None;
    top
}

fn name_check(row: &NameRow, detail: String) -> Flag {
    Flag {
        kind: FlagKind::NameCheck,
        target: Some(row.subject.to_string()),
        detail,
        urgency: 0.0,
    }
}

/// OCR one name cell crop (as cut from the aligned page) and judge it against `roster`, the
/// subjects of this form and branch.
///
/// - Printed row: `ok` only when the text snaps to exactly the printed person; otherwise a
///   `name_check` flag says what was read, and the row's marks wait for a reviewer.
/// - Write-in row: empty box → no reading at all; ink → an OCR attempt (the snap is only a
///   suggestion) and always a `name_check` flag for a reviewer to pick the person.
/// - OCR unavailable (e.g. `chi_sim` missing): the row is flagged with the reason, never
///   credited.
pub fn read_name_crop(
    crop: &GrayImage,
    row: &NameRow,
    roster: &[Subject],
) -> (Option<NameReading>, Option<Flag>) {
    let n = row.row;
    if row.printed.is_none() && !has_ink(crop) {
        return (None, None);
    }
    let attempt = match read_multiscale(crop, roster) {
        Ok(a) => a,
        Err(e) => {
            let reading = NameReading {
                subject: row.subject.to_string(),
                printed: row.printed.map(str::to_string),
                text: String::new(),
                confidence: 0.0,
                matched: None,
                ok: false,
                px: row.px,
            };
            return (
                Some(reading),
                Some(name_check(row, format!("第{n}行: 无法识别姓名 ({e})"))),
            );
        }
    };
    let matched = attempt.snap.map(|(i, _)| &roster[i]).map(|m| {
        // A name listed twice means the row's own entry when it is the printed one.
        roster
            .iter()
            .find(|s| s.id == row.subject && s.name == m.name)
            .unwrap_or(m)
    });
    let text = attempt.ocr.text;
    let ok = match (row.printed, matched) {
        (Some(p), Some(m)) => m.id == row.subject || m.name == p,
        _ => false,
    };
    let flag = match (row.printed, matched) {
        _ if ok => None,
        (Some(p), Some(m)) => Some(format!(
            "第{n}行: 印的是{p}, 识别为{} — 名单被改动?",
            m.name
        )),
        (Some(p), None) if text.is_empty() => Some(format!("第{n}行: 印的是{p}, 姓名看不清")),
        (Some(p), None) => Some(format!(
            "第{n}行: 印的是{p}, 识别为“{text}”, 与名单对不上 — 姓名看不清或被改动"
        )),
        (None, Some(m)) => Some(format!(
            "第{n}行: 手写姓名, 识别为“{text}”(可能是{}) — 请从名单中选人",
            m.name
        )),
        (None, None) => Some(format!(
            "第{n}行: 手写姓名, 识别为“{text}” — 请从名单中选人"
        )),
    };
    let reading = NameReading {
        subject: row.subject.to_string(),
        printed: row.printed.map(str::to_string),
        text,
        confidence: attempt.ocr.confidence,
        matched: matched.map(|m| m.id.clone()),
        ok,
        px: row.px,
    };
    (Some(reading), flag.map(|d| name_check(row, d)))
}

/// OCR every name cell of an aligned page and judge each against `roster` (the subjects of
/// the page's form and branch; see the module docs for the match rule). Call it only for
/// pages whose layout has name cells (附2, 附3); write-in rows left blank cost no OCR.
/// Rows are numbered from 1 in the page's order for the clerk's messages.
pub fn read_names(
    aligned: &Aligned,
    page: &PageLayout,
    roster: &[Subject],
) -> (Vec<NameReading>, Vec<Flag>) {
    let mut names = Vec::new();
    let mut flags = Vec::new();
    for (i, cell) in page.names.iter().enumerate() {
        let px = aligned.transform.rect_px(cell.rect);
        // rect_px is clamped to the image, so the crop is in bounds (possibly empty: a
        // printed row then reads as unreadable and is flagged).
        let crop = imageops::crop_imm(&aligned.image, px[0], px[1], px[2], px[3]).to_image();
        let row = NameRow {
            row: i + 1,
            subject: &cell.subject,
            printed: cell.printed.as_deref(),
            px,
        };
        let (name, flag) = read_name_crop(&crop, &row, roster);
        names.extend(name);
        flags.extend(flag);
    }
    (names, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster(names: &[&str]) -> Vec<Subject> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| Subject {
                id: format!("c{i}"),
                name: n.to_string(),
                detail: None,
            })
            .collect()
    }

    #[test]
    fn edit_distance_counts_characters_not_bytes() {
        assert_eq!(edit_distance("王伟", "王玮"), 1);
        assert_eq!(edit_distance("", "李建国"), 3);
        assert_eq!(edit_distance("李建国", "李国"), 1);
        assert_eq!(edit_distance("张晓燕", "张晓燕"), 0);
    }

    #[test]
    fn a_look_alike_misread_snaps_to_the_only_close_name() {
        let r = roster(&["赵磊", "孙芳", "周海涛"]);
        assert_eq!(snap("赵舌", &r), Some((0, 1)));
        assert_eq!(snap("孙方", &r), Some((1, 1)));
    }

    #[test]
    fn a_text_equally_close_to_two_names_snaps_to_neither() {
        let r = roster(&["王伟", "王玮", "陈静"]);
        assert_eq!(snap("王炜", &r), None);
        assert_eq!(snap("王", &r), None);
        assert_eq!(snap("王玮", &r), Some((1, 0)));
    }

    #[test]
    fn two_wrong_characters_are_too_many_for_a_short_name() {
        let r = roster(&["王伟", "李建国"]);
        assert_eq!(snap("土佳", &r), None);
        assert_eq!(snap("李建", &r), Some((1, 1)));
    }

    #[test]
    fn a_person_listed_twice_is_not_ambiguous_with_themself() {
        let mut r = roster(&["陈静", "王伟", "陈静"]);
        r[2].id = "p01".into();
        assert_eq!(snap("陈静", &r).map(|s| s.1), Some(0));
        assert_eq!(snap("陈净", &r).map(|s| r[s.0].name.as_str()), Some("陈静"));
    }

    #[test]
    fn rule_fragments_and_punctuation_are_not_part_of_a_name() {
        assert_eq!(normalise("|王伟_"), "王伟");
        assert_eq!(normalise("阿依·木"), "阿依·木");
    }

    #[test]
    fn a_blank_write_in_box_has_no_ink_and_a_written_one_has() {
        let mut img = GrayImage::from_pixel(380, 85, image::Luma([245]));
        assert!(!has_ink(&img));
        for x in 100..200 {
            for y in 30..50 {
                if (x + y) % 3 == 0 {
                    img.put_pixel(x, y, image::Luma([20]));
                }
            }
        }
        assert!(has_ink(&img));
    }
}
