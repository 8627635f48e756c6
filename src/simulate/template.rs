//! The printed page as a bitmap, made once per layout page: the real print (first copy of the
//! printed PDF) rendered by poppler's `pdftoppm`, so text looks exactly as printed; then the
//! per-copy parts (QR code, serial line) are whited out. Each sheet's page starts from a copy
//! of this template with its own QR painted in: one `pdftoppm` per layout page, not per sheet.

use super::SimError;
use crate::code::{PageCode, QUIET_MODULES};
use crate::layout::{text_width, PageLayout};
use crate::units::{RectMm, MM_PER_INCH};
use image::GrayImage;
use std::path::Path;
use std::process::Command;

/// The serial line as `print` writes it: "编号 XXXXXXXX" at 8 pt (see `print/pdf.rs`).
const SERIAL_SAMPLE: &str = "编号 XXXXXXXX";
const SERIAL_PT: f64 = 8.0;
/// Millimetres per point.
const MM_PER_PT: f64 = 25.4 / 72.0;

/// Render page `number` (1-based) of `pdf` at `dpi`, 8-bit gray, with `pdftoppm`.
pub fn render(pdf: &Path, number: usize, dpi: u32, work: &Path) -> Result<GrayImage, SimError> {
    let prefix = work.join(format!("template-{number}"));
    let failed = |detail: String| SimError::Pdftoppm {
        pdf: pdf.to_path_buf(),
        page: number,
        detail,
    };
    let out = Command::new("pdftoppm")
        .args([
            "-r",
            &dpi.to_string(),
            "-gray",
            "-png",
            "-singlefile",
            "-f",
            &number.to_string(),
            "-l",
            &number.to_string(),
        ])
        .arg(pdf)
        .arg(&prefix)
        .output()
        .map_err(|e| failed(format!("cannot run pdftoppm ({e}); install poppler-utils")))?;
    if !out.status.success() {
        return Err(failed(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        ));
    }
    let png = prefix.with_extension("png");
    let img = image::open(&png)
        .map_err(|e| failed(format!("cannot read its output {}: {e}", png.display())))?
        .to_luma8();
    // The PNG was only a hand-over; a leftover would be mistaken for a scanned page.
    let _ = std::fs::remove_file(&png);
    Ok(img)
}

fn px_rect(r: RectMm, s: f64, img: &GrayImage) -> (u32, u32, u32, u32) {
    let clamp_x = |v: f64| (v.round().max(0.0) as u32).min(img.width());
    let clamp_y = |v: f64| (v.round().max(0.0) as u32).min(img.height());
    (
        clamp_x(r.x * s),
        clamp_y(r.y * s),
        clamp_x(r.right() * s),
        clamp_y(r.bottom() * s),
    )
}

/// Paint `r` (mm) with `value`.
fn fill(img: &mut GrayImage, r: RectMm, s: f64, value: u8) {
    let (x0, y0, x1, y1) = px_rect(r, s, img);
    for y in y0..y1 {
        for x in x0..x1 {
            img.put_pixel(x, y, image::Luma([value]));
        }
    }
}

/// White out the per-copy parts of a rendered page: the QR box and the serial line.
pub fn blank_copy_parts(img: &mut GrayImage, page: &PageLayout, dpi: u32) {
    let s = f64::from(dpi) / MM_PER_INCH;
    fill(img, page.code, s, 255);
    let h = SERIAL_PT * MM_PER_PT;
    // The layout's width estimate is ≈ 10 % short for Latin digits in real fonts: take 1.4 ×,
    // plus 1 mm around the glyphs' box for descenders and anti-aliasing.
    let r = RectMm::new(
        page.serial_at.x - 1.0,
        page.serial_at.y - h - 1.0,
        text_width(SERIAL_SAMPLE, SERIAL_PT) * 1.4 + 2.0,
        h + 2.0,
    );
    fill(img, r, s, 255);
}

/// Paint `code`'s QR into the page's code box the way `print` draws it (quiet zone inside).
pub fn paint_code(
    img: &mut GrayImage,
    page: &PageLayout,
    code: &PageCode,
    dpi: u32,
) -> Result<(), SimError> {
    let s = f64::from(dpi) / MM_PER_INCH;
    let (n, dark) = code.modules()?;
    let module = page.code.w.min(page.code.h) / (n + 2 * QUIET_MODULES) as f64;
    let x0 = page.code.x + module * QUIET_MODULES as f64;
    let y0 = page.code.y + module * QUIET_MODULES as f64;
    for row in 0..n {
        for col in 0..n {
            if dark[row * n + col] {
                let r = RectMm::new(
                    x0 + module * col as f64,
                    y0 + module * row as f64,
                    module,
                    module,
                );
                fill(img, r, s, 0);
            }
        }
    }
    Ok(())
}
