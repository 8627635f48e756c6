//! Pen strokes on or just beside a tick box that the in-box score misses: a tick drawn mostly
//! across the printed outline, or one so light that it falls above the page's ink level.
//! Such a box must never read as a confident blank.

/// Pixel box `[x0, y0, x1, y1)`.
type PxBox = (i64, i64, i64, i64);

/// How far out from the box's outline the ring reaches: a tick that overshoots the box, while
/// staying inside the table cell (rows ≥ 8 mm around 5 mm boxes).
pub const RING_OUT_MM: f64 = 1.3;
/// Band either side of the printed outline left out: it is printed ink, blurred by the scan.
pub const OUTLINE_SKIP_MM: f64 = 0.4;
/// Dark pixels spanning this far are a stroke: the simulator's and real dust specks are
/// ≤ 1.2 mm across, a pen tick's arm is ≥ 2 mm.
pub const STROKE_SPAN_MM: f64 = 2.3;
/// A stroke must also hold this much ink (mm²), so two stray noise pixels far apart are not one.
pub const STROKE_MIN_MM2: f64 = 0.4;
/// This much ink (mm²) is a stroke whatever its shape: more than a 1.2 mm speck (≈ 1.1 mm²)
/// even blurred, about a 3 mm × 0.5 mm tick arm.
pub const STROKE_AREA_MM2: f64 = 2.2;
/// A row or column of the region this dark is a straight line (fold, streak): a slanted pen
/// stroke darkens well under half of any row.
const LINE_SHARE: f64 = 0.6;
/// The local paper level: this share of the region's pixels is at or below it (most of the
/// region is paper, a stroke covers well under a fifth of it).
const PAPER_PERCENTILE: f64 = 0.8;

/// Whether pen ink lies on or around the box `found` (the printed outline, as found on the
/// scan), within `clip` (the table cell inside its rules). `px_per_mm` is the scan's scale,
/// `stroke_px` the printed outline's width in pixels, `drop` how much darker than the local
/// paper a pixel must be to count as ink (tied to the page's ink contrast).
#[must_use]
pub fn pen_near(
    img: &image::GrayImage,
    found: PxBox,
    clip: PxBox,
    px_per_mm: f64,
    stroke_px: i64,
    drop: u8,
) -> bool {
    let mm = |v: f64| (v * px_per_mm).round().max(1.0) as i64;
    let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
    let out = mm(RING_OUT_MM);
    let skip = mm(OUTLINE_SKIP_MM);
    let outer = (
        (found.0 - out).max(clip.0).max(0),
        (found.1 - out).max(clip.1).max(0),
        (found.2 + out).min(clip.2).min(iw),
        (found.3 + out).min(clip.3).min(ih),
    );
    let (w, h) = (outer.2 - outer.0, outer.3 - outer.1);
    if w <= 0 || h <= 0 {
        return false;
    }
    let band_out = (
        found.0 - skip,
        found.1 - skip,
        found.2 + skip,
        found.3 + skip,
    );
    let d = stroke_px + skip;
    let band_in = (found.0 + d, found.1 + d, found.2 - d, found.3 - d);
    let inside = |b: PxBox, x: i64, y: i64| x >= b.0 && x < b.2 && y >= b.1 && y < b.3;
    let in_region = |x: i64, y: i64| !inside(band_out, x, y) || inside(band_in, x, y);
    let raw = img.as_raw();
    let at = |x: i64, y: i64| raw[(y * iw + x) as usize];
    let mut hist = [0u32; 256];
    let mut n = 0u32;
    for y in outer.1..outer.3 {
        for x in outer.0..outer.2 {
            if in_region(x, y) {
                hist[usize::from(at(x, y))] += 1;
                n += 1;
            }
        }
    }
    if n == 0 {
        return false;
    }
    let want = (f64::from(n) * PAPER_PERCENTILE).ceil() as u32;
    let mut seen = 0u32;
    let mut paper = 255u8;
    for (v, &c) in hist.iter().enumerate() {
        seen += c;
        if seen >= want {
            paper = v as u8;
            break;
        }
    }
    let level = paper.saturating_sub(drop);
    let dark = |x: i64, y: i64| {
        x >= outer.0 && x < outer.2 && y >= outer.1 && y < outer.3 && in_region(x, y) && {
            at(x, y) < level
        }
    };
    // A fold crease or streak crosses the whole region: rows (columns) mostly dark are a
    // line, not pen, and are left out.
    let (rw, rh) = (w as usize, h as usize);
    let (mut row_dark, mut row_all) = (vec![0u32; rh], vec![0u32; rh]);
    let (mut col_dark, mut col_all) = (vec![0u32; rw], vec![0u32; rw]);
    for y in outer.1..outer.3 {
        for x in outer.0..outer.2 {
            if in_region(x, y) {
                let (r, c) = ((y - outer.1) as usize, (x - outer.0) as usize);
                row_all[r] += 1;
                col_all[c] += 1;
                let d = u32::from(at(x, y) < level);
                row_dark[r] += d;
                col_dark[c] += d;
            }
        }
    }
    let lined = |d: u32, a: u32| a > 0 && f64::from(d) >= LINE_SHARE * f64::from(a);
    let line_row: Vec<bool> = row_dark
        .iter()
        .zip(&row_all)
        .map(|(&d, &a)| lined(d, a))
        .collect();
    let line_col: Vec<bool> = col_dark
        .iter()
        .zip(&col_all)
        .map(|(&d, &a)| lined(d, a))
        .collect();
    let dark = |x: i64, y: i64| {
        dark(x, y) && !line_row[(y - outer.1) as usize] && !line_col[(x - outer.0) as usize]
    };
    // Ink pixels with at least two dark neighbours: lone noise pixels and JPEG grain drop out.
    let (mut count, mut x0, mut y0, mut x1, mut y1) =
        (0i64, i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for y in outer.1..outer.3 {
        for x in outer.0..outer.2 {
            if !dark(x, y) {
                continue;
            }
            let mut nb = 0;
            for (dx, dy) in [
                (-1, -1),
                (0, -1),
                (1, -1),
                (-1, 0),
                (1, 0),
                (-1, 1),
                (0, 1),
                (1, 1),
            ] {
                nb += i32::from(dark(x + dx, y + dy));
            }
            if nb < 2 {
                continue;
            }
            count += 1;
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    if count == 0 {
        return false;
    }
    let mm2 = count as f64 / (px_per_mm * px_per_mm);
    let span = ((x1 - x0).max(y1 - y0) + 1) as f64 / px_per_mm;
    mm2 >= STROKE_AREA_MM2 || (span >= STROKE_SPAN_MM && mm2 >= STROKE_MIN_MM2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma};

    /// 300 dpi: 11.8 px/mm; a 5 mm box at (100, 100) with a 0.3 mm outline, paper 230.
    fn page() -> (GrayImage, PxBox, f64) {
        let s = 300.0 / 25.4;
        let mut img = GrayImage::from_pixel(260, 260, Luma([230]));
        let b = (100i64, 100i64, 159i64, 159i64);
        for y in b.1..b.3 {
            for x in b.0..b.2 {
                if x < b.0 + 4 || x >= b.2 - 4 || y < b.1 + 4 || y >= b.3 - 4 {
                    img.put_pixel(x as u32, y as u32, Luma([20]));
                }
            }
        }
        (img, b, s)
    }

    #[test]
    fn a_stroke_across_the_outline_is_pen() {
        let (mut img, b, s) = page();
        // A 6 mm light stroke, 0.5 mm wide, slanting across the bottom-left corner.
        for i in 0..70 {
            for w in 0..6 {
                let (x, y) = (80 + i + w, 140 + i / 2);
                img.put_pixel(x as u32, y as u32, Luma([160]));
            }
        }
        assert!(pen_near(&img, b, (0, 0, 260, 260), s, 4, 50));
    }

    #[test]
    fn a_speck_on_the_outline_and_a_clean_box_are_not() {
        let (img, b, s) = page();
        assert!(!pen_near(&img, b, (0, 0, 260, 260), s, 4, 50));
        let mut specked = img.clone();
        // A 1.1 mm dot centred on the left rule.
        for y in 125..138 {
            for x in 94..107 {
                specked.put_pixel(x, y, Luma([40]));
            }
        }
        assert!(!pen_near(&specked, b, (0, 0, 260, 260), s, 4, 50));
    }
}
