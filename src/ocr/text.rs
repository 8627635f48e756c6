//! Free text in writing areas (suggestions, integrity-problem feedback): Tesseract's attempt
//! for the reviewer, who always has the crop beside it.

use super::engine::{self, Psm};
use image::GrayImage;

/// Resolution claimed for a writing-area crop: pages are scanned at 200–300 dpi and Tesseract
/// only uses it for size heuristics.
const AREA_DPI: u32 = 300;

/// OCR a writing-area crop as a block of text (PSM 6): the text with CJK spacing removed and
/// Tesseract's mean confidence 0..100. Call it only for areas the reader found written in.
/// When OCR is unavailable the text is empty with confidence 0: the crop is what the
/// reviewer reads, and the scan reports a missing model up front through [`engine::ready`].
pub fn read_text(crop: &GrayImage) -> (String, f32) {
    match engine::recognise(crop, Psm::Block, AREA_DPI) {
        Ok(o) => (o.text, o.confidence),
        Err(_) => (String::new(), 0.0),
    }
}
