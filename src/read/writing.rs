//! Writing areas: whether anything was written in a text box (the integrity box raises a flag
//! a person must read), with the printed lines inside it left out.

use super::outcome::{Flag, FlagKind, WritingReading};
use super::px::{grow, px_box, to_px, PxBox};
use super::transform::Transform;
use crate::layout::{Ink, PageLayout};
use crate::units::RectMm;
use image::GrayImage;

/// Inset of a writing area from its frame and of printed lines inside it.
const WRITING_MARGIN_MM: f64 = 1.0;

/// Ink (mm²) that counts as writing: one handwritten character in a 0.5 mm pen is 3–5 mm²;
/// dust and scanner speckle stay well below.
pub const WRITING_MIN_MM2: f64 = 3.0;

/// Printed rules and frames crossing `area` (px), grown so their blur stays out.
fn printed_lines(page: &PageLayout, t: &Transform, area: PxBox, grow_px: i64) -> Vec<PxBox> {
    let mut out = Vec::new();
    let mut push = |r: RectMm| {
        let b = grow(px_box(t, r), grow_px);
        if b.0 < area.2 && b.2 > area.0 && b.1 < area.3 && b.3 > area.1 {
            out.push(b);
        }
    };
    for ink in &page.ink {
        match ink {
            Ink::Line {
                x1,
                y1,
                x2,
                y2,
                width,
            } => {
                push(RectMm::new(
                    x1.min(*x2) - width / 2.0,
                    y1.min(*y2) - width / 2.0,
                    (x2 - x1).abs() + width,
                    (y2 - y1).abs() + width,
                ));
            }
            Ink::Frame { rect, width } => {
                push(RectMm::new(rect.x, rect.y, rect.w, *width));
                push(RectMm::new(rect.x, rect.bottom() - width, rect.w, *width));
                push(RectMm::new(rect.x, rect.y, *width, rect.h));
                push(RectMm::new(rect.right() - width, rect.y, *width, rect.h));
            }
            Ink::Fill { .. } | Ink::Text { .. } => {}
        }
    }
    out
}

/// Ink in each writing area, and a flag for those whose box asks for one.
#[must_use]
pub fn read_writing(
    img: &GrayImage,
    page: &PageLayout,
    t: &Transform,
    level: u8,
) -> (Vec<WritingReading>, Vec<Flag>) {
    let mut out = Vec::new();
    let mut flags = Vec::new();
    let raw = img.as_raw();
    let iw = img.width() as usize;
    for wa in &page.writing {
        let s = t.px_per_mm(wa.rect.center());
        let margin = (WRITING_MARGIN_MM * s).round() as i64;
        let full = px_box(t, wa.rect);
        let b = grow(full, -margin);
        let b = (
            b.0.max(0),
            b.1.max(0),
            b.2.min(i64::from(t.width)),
            b.3.min(i64::from(t.height)),
        );
        let lines = printed_lines(page, t, b, margin);
        // Every other pixel both ways: handwriting strokes are ≥ 3 px wide even at 150 dpi.
        let (mut dark, mut seen) = (0u64, 0u64);
        for y in (b.1..b.3).step_by(2) {
            for x in (b.0..b.2).step_by(2) {
                if lines
                    .iter()
                    .any(|l| x >= l.0 && x < l.2 && y >= l.1 && y < l.3)
                {
                    continue;
                }
                seen += 1;
                dark += u64::from(raw[y as usize * iw + x as usize] <= level);
            }
        }
        let share = if seen > 0 {
            dark as f64 / seen as f64
        } else {
            0.0
        };
        let ink_mm2 = dark as f64 * 4.0 / (s * s);
        let has_writing = ink_mm2 >= WRITING_MIN_MM2;
        if has_writing {
            if let Some(flag) = &wa.flag {
                let kind = if flag == "integrity_feedback" {
                    FlagKind::IntegrityFeedback
                } else {
                    FlagKind::Comment
                };
                flags.push(Flag {
                    kind,
                    target: Some(wa.id.clone()),
                    detail: format!(
                        "「{}」栏有手写内容 (约 {ink_mm2:.0} mm² 墨迹),请人工阅读",
                        wa.label
                    ),
                    urgency: 0.0,
                });
            }
        }
        out.push(WritingReading {
            id: wa.id.clone(),
            ink: share as f32,
            has_writing,
            text: None,
            confidence: None,
            crop: None,
            px: to_px(full, t),
        });
    }
    (out, flags)
}
