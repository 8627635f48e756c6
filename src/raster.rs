//! A fast rasteriser of a layout page: what a perfect scan of an unfilled sheet looks like.
//!
//! It draws fills, frames, lines and the QR code of a [`PageCode`] onto white paper at a given
//! resolution — everything the reader measures — but no text (glyph shapes never matter to
//! the reader). The reader's tests and the simulator start from these pages and deface them
//! (ticks, rotation, scaling, noise) with the small pen helpers below.

use crate::code::{CodeError, PageCode, QUIET_MODULES};
use crate::layout::{Ink, PageLayout};
use crate::units::{RectMm, SizeMm, MM_PER_INCH};
use image::{GrayImage, Luma};

/// Paper white.
pub const PAPER: u8 = 255;
/// Printer black (toner never scans as pure 0).
pub const TONER: u8 = 20;

/// Pixels per millimetre at `dpi`.
pub fn px_per_mm(dpi: f64) -> f64 {
    dpi / MM_PER_INCH
}

/// White paper of `size` at `dpi`.
pub fn paper(size: SizeMm, dpi: f64) -> GrayImage {
    let s = px_per_mm(dpi);
    let w = (size.w * s).round().max(0.0) as u32;
    let h = (size.h * s).round().max(0.0) as u32;
    GrayImage::from_pixel(w, h, Luma([PAPER]))
}

/// Rasterise `page` (of a layout whose paper is `size`) at `dpi`, with `code`'s QR in the code box.
///
/// # Errors
/// When `code` cannot be encoded as a QR code.
pub fn render_page(
    size: SizeMm,
    page: &PageLayout,
    code: Option<&PageCode>,
    dpi: f64,
) -> Result<GrayImage, CodeError> {
    let mut img = paper(size, dpi);
    let s = px_per_mm(dpi);
    for ink in &page.ink {
        match ink {
            Ink::Fill { rect } => fill_mm(&mut img, *rect, s, TONER),
            Ink::Frame { rect, width } => frame_mm(&mut img, *rect, *width, s, TONER),
            Ink::Line {
                x1,
                y1,
                x2,
                y2,
                width,
            } => stroke(
                &mut img,
                (x1 * s, y1 * s),
                (x2 * s, y2 * s),
                (width * s).max(1.0),
                TONER,
            ),
            Ink::Text { .. } => {}
        }
    }
    if let Some(code) = code {
        draw_code(&mut img, page.code, code, s)?;
    }
    Ok(img)
}

/// Pixel edges of a millimetre span: rounded, never thinner than one pixel.
fn span(a: f64, len: f64, s: f64) -> (i64, i64) {
    let lo = (a * s).round() as i64;
    let hi = ((a + len) * s).round() as i64;
    (lo, hi.max(lo + 1))
}

/// Fill a millimetre rectangle.
pub fn fill_mm(img: &mut GrayImage, r: RectMm, s: f64, value: u8) {
    let (x0, x1) = span(r.x, r.w, s);
    let (y0, y1) = span(r.y, r.h, s);
    fill_px(img, x0, y0, x1, y1, value);
}

/// Fill pixels `[x0, x1) × [y0, y1)`, clipped to the image.
pub fn fill_px(img: &mut GrayImage, x0: i64, y0: i64, x1: i64, y1: i64, value: u8) {
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    let (x0, x1) = (x0.clamp(0, w), x1.clamp(0, w));
    let (y0, y1) = (y0.clamp(0, h), y1.clamp(0, h));
    for y in y0..y1 {
        for x in x0..x1 {
            img.put_pixel(x as u32, y as u32, Luma([value]));
        }
    }
}

/// An outline whose outer edge is `r` (as the layout defines tick boxes), `width` mm thick.
pub fn frame_mm(img: &mut GrayImage, r: RectMm, width: f64, s: f64, value: u8) {
    let w = width.min(r.w / 2.0).min(r.h / 2.0);
    fill_mm(img, RectMm::new(r.x, r.y, r.w, w), s, value);
    fill_mm(img, RectMm::new(r.x, r.bottom() - w, r.w, w), s, value);
    fill_mm(img, RectMm::new(r.x, r.y, w, r.h), s, value);
    fill_mm(img, RectMm::new(r.right() - w, r.y, w, r.h), s, value);
}

/// A straight pen stroke between two pixel points, `width` px wide with round ends.
pub fn stroke(img: &mut GrayImage, a: (f64, f64), b: (f64, f64), width: f64, value: u8) {
    let r = width / 2.0;
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let x0 = (a.0.min(b.0) - r).floor() as i64;
    let x1 = (a.0.max(b.0) + r).ceil() as i64;
    let y0 = (a.1.min(b.1) - r).floor() as i64;
    let y1 = (a.1.max(b.1) + r).ceil() as i64;
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    for y in y0.max(0)..=y1.min(h - 1) {
        for x in x0.max(0)..=x1.min(w - 1) {
            // Distance from the pixel centre to the segment.
            let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
            let t = if len2 > 0.0 {
                (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let (qx, qy) = (a.0 + t * dx - px, a.1 + t * dy - py);
            if qx * qx + qy * qy <= r * r {
                img.put_pixel(x as u32, y as u32, Luma([value]));
            }
        }
    }
}

/// Draw the QR modules of `code` into `rect` (quiet zone included in the rect).
fn draw_code(img: &mut GrayImage, rect: RectMm, code: &PageCode, s: f64) -> Result<(), CodeError> {
    let (n, dark) = code.modules()?;
    let m = rect.w / (n + 2 * QUIET_MODULES) as f64;
    // Module edges rounded from millimetres, so modules tile without gaps or overlaps.
    let edge =
        |k: usize, origin: f64| ((origin + (QUIET_MODULES + k) as f64 * m) * s).round() as i64;
    for (i, d) in dark.iter().enumerate() {
        if *d {
            let (cx, cy) = (i % n, i / n);
            fill_px(
                img,
                edge(cx, rect.x),
                edge(cy, rect.y),
                edge(cx + 1, rect.x),
                edge(cy + 1, rect.y),
                TONER,
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filled_millimetre_square_is_about_the_right_number_of_pixels() {
        let mut img = paper(SizeMm { w: 20.0, h: 20.0 }, 300.0);
        fill_mm(
            &mut img,
            RectMm::new(5.0, 5.0, 6.0, 6.0),
            px_per_mm(300.0),
            0,
        );
        let dark = img.pixels().filter(|p| p.0[0] == 0).count();
        let want = (6.0 * px_per_mm(300.0)).powi(2);
        assert!((dark as f64 - want).abs() / want < 0.03, "{dark} vs {want}");
    }

    #[test]
    fn strokes_outside_the_image_are_clipped_not_panicking() {
        let mut img = paper(SizeMm { w: 1.0, h: 1.0 }, 72.0);
        stroke(&mut img, (-50.0, -50.0), (500.0, 3.0), 9.0, 0);
        fill_px(&mut img, -5, -5, 1000, 1000, 0);
        let mut empty = GrayImage::new(0, 0);
        stroke(&mut empty, (0.0, 0.0), (5.0, 5.0), 3.0, 0);
        fill_px(&mut empty, 0, 0, 5, 5, 0);
    }
}
