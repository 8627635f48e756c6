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
/// scan), within `clip` (the table cell well inside its rules). `clear` is the table cell just
/// clear of its rules, where the look across the outline may reach ([`outline_thickened`]).
/// `px_per_mm` is the scan's scale, `stroke_px` the printed outline's width in pixels, `drop`
/// how much darker than the local paper a pixel must be to count as ink (tied to the page's
/// ink contrast).
#[must_use]
pub fn pen_near(
    img: &image::GrayImage,
    found: PxBox,
    clip: PxBox,
    clear: PxBox,
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
    let raw = img.as_raw();
    let (rw, rh) = (w as usize, h as usize);
    // Columns of row `y` inside the region: all but the outline band, whose inner part (the
    // box's inside) is back in. At most three runs, as [from, to) in image columns.
    let runs = |y: i64| -> [(i64, i64); 3] {
        let clip = |a: i64, b: i64| (a.clamp(outer.0, outer.2), b.clamp(outer.0, outer.2));
        if y < band_out.1 || y >= band_out.3 {
            return [clip(outer.0, outer.2), (0, 0), (0, 0)];
        }
        let middle = if y >= band_in.1 && y < band_in.3 {
            clip(band_in.0, band_in.2)
        } else {
            (0, 0)
        };
        [clip(outer.0, band_out.0), middle, clip(band_out.2, outer.2)]
    };
    // The region's pixels, row-major over `outer`; `None` outside the region (the outline
    // band). Built once: every pass below reads it instead of re-testing the bands.
    let mut region: Vec<Option<u8>> = vec![None; rw * rh];
    let mut hist = [0u32; 256];
    let mut n = 0u32;
    for (r, y) in (outer.1..outer.3).enumerate() {
        for (from, to) in runs(y) {
            if to <= from {
                continue;
            }
            let src = &raw[(y * iw + from) as usize..(y * iw + to) as usize];
            let at = r * rw + (from - outer.0) as usize;
            for (d, &v) in region[at..at + src.len()].iter_mut().zip(src) {
                hist[usize::from(v)] += 1;
                *d = Some(v);
            }
            n += src.len() as u32;
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
    // A fold crease or streak crosses the whole region: rows (columns) mostly dark are a
    // line, not pen, and are left out.
    let (mut row_dark, mut row_all) = (vec![0u32; rh], vec![0u32; rh]);
    let (mut col_dark, mut col_all) = (vec![0u32; rw], vec![0u32; rw]);
    for (r, line) in region.chunks_exact(rw).enumerate() {
        for (c, v) in line.iter().enumerate() {
            if let Some(v) = *v {
                row_all[r] += 1;
                col_all[c] += 1;
                let d = u32::from(v < level);
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
    // Pen ink: in the region, darker than `level`, not on a line. Padded by one pixel of
    // "not ink" all round so the neighbour test needs no bounds checks.
    let pw = rw + 2;
    let mut ink = vec![false; pw * (rh + 2)];
    for (r, line) in region.chunks_exact(rw).enumerate() {
        if line_row[r] {
            continue;
        }
        let dst = &mut ink[(r + 1) * pw + 1..(r + 1) * pw + 1 + rw];
        for ((d, v), &on_line) in dst.iter_mut().zip(line).zip(&line_col) {
            *d = !on_line && v.is_some_and(|v| v < level);
        }
    }
    // Ink pixels with at least two dark neighbours: lone noise pixels and JPEG grain drop out.
    let (mut count, mut x0, mut y0, mut x1, mut y1) =
        (0i64, i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    for r in 0..rh {
        for c in 0..rw {
            let k = (r + 1) * pw + c + 1;
            if !ink[k] {
                continue;
            }
            let nb = [
                k - pw - 1,
                k - pw,
                k - pw + 1,
                k - 1,
                k + 1,
                k + pw - 1,
                k + pw,
                k + pw + 1,
            ]
            .iter()
            .filter(|&&j| ink[j])
            .count();
            if nb < 2 {
                continue;
            }
            let (x, y) = (outer.0 + c as i64, outer.1 + r as i64);
            count += 1;
            x0 = x0.min(x);
            y0 = y0.min(y);
            x1 = x1.max(x);
            y1 = y1.max(y);
        }
    }
    if count > 0 {
        let mm2 = count as f64 / (px_per_mm * px_per_mm);
        let span = ((x1 - x0).max(y1 - y0) + 1) as f64 / px_per_mm;
        if mm2 >= STROKE_AREA_MM2 || (span >= STROKE_SPAN_MM && mm2 >= STROKE_MIN_MM2) {
            return true;
        }
    }
    // The band skipped above may hold the rest of the stroke: one crossing the outline, or
    // touching it from a neighbouring row.
    outline_thickened(img, found, clear, px_per_mm, stroke_px, paper)
}

/// How far either side of the printed outline the look across it reaches: past the blur
/// (≈ 0.2 mm) and far enough to take in a pen line's width where it crosses or touches.
pub const ACROSS_MM: f64 = 0.8;
/// Ink across the outline, beyond the printed stroke's own, that marks a position as
/// thickened, as a share of the printed stroke's ink there: a pen line (≥ 0.3 mm, about as
/// dark as print) crossing or running along the outline adds at least the printed 0.3 mm
/// stroke's ink again; blur, JPEG noise and the stroke's phase on the pixel grid move it by
/// ≤ 25 %. Measured (`hard`, 7,700 questions): no clean box thickens even at 0.3; the ✓ point
/// meeting a box from the row above (150 dpi) thickens 2 mm of outline up to 0.8.
pub const THICKER: f64 = 0.5;
/// Thickened outline (all four edges together) that is pen: a speck (≤ 1.2 mm) touching the
/// outline thickens at most its width plus the blur (≈ 1.5 mm); a tick crossing the outline at
/// a slant, running along it or meeting it with its point thickens ≥ 2 mm.
pub const THICKENED_MM: f64 = 2.0;
/// Shortest thickened stretch that counts, so scattered noise positions never add up.
const STRETCH_MIN_MM: f64 = 0.5;
/// The printed stroke's ink along an edge: this quantile of the amounts measured along it
/// (a pen line may cover up to nine tenths of an edge and still be told from the print; a
/// ✓'s point spreads over 2–3 mm, most of a 5 mm box's edge)…
const PRINTED_QUANTILE: f64 = 0.1;
/// …but never more than this share over the median of all four edges: the same printed
/// stroke carries about the same ink on every edge, so an edge with much more is covered by
/// pen along nearly all of its length.
const PRINTED_SPREAD: f64 = 0.25;

/// Whether pen ink widens the printed outline of `found` along more of its length than a speck
/// could. Each edge is measured across, position by position: the ink (summed darkness below
/// the local `paper` level) within [`ACROSS_MM`] of the stroke, the outer side kept inside
/// `clip`. Ink, unlike a width at a threshold, does not change with blur or with where the
/// stroke falls on the pixel grid (a 0.3 mm stroke at 150 dpi is 1 px wide at one edge and 2 px
/// at another, but carries the same ink). A position is thickened when it holds [`THICKER`] more
/// than the edge's printed stroke. The corners are left out: there the perpendicular edge runs
/// along the measurement.
#[must_use]
pub fn outline_thickened(
    img: &image::GrayImage,
    found: PxBox,
    clip: PxBox,
    px_per_mm: f64,
    stroke_px: i64,
    paper: u8,
) -> bool {
    let mm = |v: f64| (v * px_per_mm).round().max(1.0) as i64;
    let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
    let raw = img.as_raw();
    // Darkness below the paper, signed so that paper noise cancels out along a column.
    let ink = |x: i64, y: i64| {
        if x < 0 || y < 0 || x >= iw || y >= ih {
            return 0;
        }
        i32::from(paper) - i32::from(raw[(y * iw + x) as usize])
    };
    let reach = mm(ACROSS_MM);
    let corner = stroke_px + mm(OUTLINE_SKIP_MM);
    let stretch_min = mm(STRETCH_MIN_MM);
    let (x0, y0, x1, y1) = found;
    // Per edge: horizontal or not, and the rows (columns) across it, [from, to).
    let edges: [(bool, i64, i64); 4] = [
        (true, (y0 - reach).max(clip.1), y0 + stroke_px + reach),
        (true, y1 - stroke_px - reach, (y1 + reach).min(clip.3)),
        (false, (x0 - reach).max(clip.0), x0 + stroke_px + reach),
        (false, x1 - stroke_px - reach, (x1 + reach).min(clip.2)),
    ];
    let amounts: Vec<Vec<u32>> = edges
        .iter()
        .map(|&(horizontal, from, to)| {
            let along = if horizontal {
                (x0 + corner)..(x1 - corner)
            } else {
                (y0 + corner)..(y1 - corner)
            };
            along
                .map(|p| {
                    let sum: i32 = (from..to)
                        .map(|q| if horizontal { ink(p, q) } else { ink(q, p) })
                        .sum();
                    sum.max(0).unsigned_abs()
                })
                .collect()
        })
        .collect();
    let quantile = |v: &[u32], q: f64| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
            .map_or(0.0, f64::from)
    };
    let all: Vec<u32> = amounts.iter().flatten().copied().collect();
    let cap = quantile(&all, 0.5) * (1.0 + PRINTED_SPREAD);
    let mut total = 0i64;
    for edge in &amounts {
        let printed = quantile(edge, PRINTED_QUANTILE).min(cap);
        // Stretches of thickened positions; one thin position inside a stretch (a pen line's
        // uneven edge) does not break it.
        let (mut run, mut gap) = (0i64, 0i64);
        for &a in edge {
            if printed > 0.0 && f64::from(a) >= printed * (1.0 + THICKER) {
                run += 1 + gap;
                gap = 0;
            } else if run > 0 && gap == 0 {
                gap = 1;
            } else {
                if run >= stretch_min {
                    total += run;
                }
                (run, gap) = (0, 0);
            }
        }
        if run >= stretch_min {
            total += run;
        }
    }
    total as f64 / px_per_mm >= THICKENED_MM
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
        assert!(pen_near(
            &img,
            b,
            (0, 0, 260, 260),
            (0, 0, 260, 260),
            s,
            4,
            50
        ));
    }

    #[test]
    fn a_speck_on_the_outline_and_a_clean_box_are_not() {
        let (img, b, s) = page();
        assert!(!pen_near(
            &img,
            b,
            (0, 0, 260, 260),
            (0, 0, 260, 260),
            s,
            4,
            50
        ));
        let mut specked = img.clone();
        // A 1.1 mm dot centred on the left rule.
        for y in 125..138 {
            for x in 94..107 {
                specked.put_pixel(x, y, Luma([40]));
            }
        }
        assert!(!pen_near(
            &specked,
            b,
            (0, 0, 260, 260),
            (0, 0, 260, 260),
            s,
            4,
            50
        ));
    }

    /// A pen segment in mm from the box centre: (from, to).
    type Segment = ((f64, f64), (f64, f64));

    /// A round-capped line of `width` px from `a` to `b` (pixel centres), ink `v`,
    /// anti-aliased by distance to its centre line (as the simulator and printers draw).
    fn line(img: &mut GrayImage, a: (f64, f64), b: (f64, f64), width: f64, v: u8) {
        let (dx, dy) = (b.0 - a.0, b.1 - a.1);
        let len2 = (dx * dx + dy * dy).max(1e-9);
        for y in 0..img.height() {
            for x in 0..img.width() {
                let (px, py) = (f64::from(x), f64::from(y));
                let t = (((px - a.0) * dx + (py - a.1) * dy) / len2).clamp(0.0, 1.0);
                let (ex, ey) = (px - a.0 - t * dx, py - a.1 - t * dy);
                let cover = (width / 2.0 + 0.5 - (ex * ex + ey * ey).sqrt()).clamp(0.0, 1.0);
                let p = img.get_pixel_mut(x, y);
                let old = f64::from(p.0[0]);
                p.0[0] = p.0[0].min((old + (f64::from(v) - old) * cover).round() as u8);
            }
        }
    }

    /// Two passes of a 3 × 3 box blur, as the `hard` scanner does.
    fn blurred(img: &GrayImage) -> GrayImage {
        let mut out = img.clone();
        for _ in 0..2 {
            let src = out.clone();
            let (w, h) = (src.width() as i64, src.height() as i64);
            for y in 0..h {
                for x in 0..w {
                    let mut sum = 0u32;
                    for (dx, dy) in (-1..=1).flat_map(|a| (-1..=1).map(move |b| (a, b))) {
                        let (u, v) = ((x + dx).clamp(0, w - 1), (y + dy).clamp(0, h - 1));
                        sum += u32::from(src.get_pixel(u as u32, v as u32).0[0]);
                    }
                    out.put_pixel(x as u32, y as u32, Luma([(sum / 9) as u8]));
                }
            }
        }
        out
    }

    /// A 5 mm box with a 0.3 mm outline at `dpi`, turned by `deg`, on paper 230 with print 30,
    /// blurred; with the box found on the scan (as re-centring leaves it) and the scale.
    fn printed_box(dpi: f64, deg: f64, pen: &[Segment]) -> (GrayImage, PxBox, f64) {
        let s = dpi / 25.4;
        let n = (16.0 * s) as u32;
        let mut img = GrayImage::from_pixel(n, n, Luma([230]));
        let c = f64::from(n) / 2.0;
        let (half, w) = (2.5 * s - 0.15 * s, 0.3 * s);
        let (sin, cos) = deg.to_radians().sin_cos();
        let at = |u: f64, v: f64| (c + u * cos - v * sin, c + u * sin + v * cos);
        let corners = [
            at(-half, -half),
            at(half, -half),
            at(half, half),
            at(-half, half),
        ];
        for k in 0..4 {
            line(&mut img, corners[k], corners[(k + 1) % 4], w, 30);
        }
        for &(a, b) in pen {
            line(
                &mut img,
                at(a.0 * s, a.1 * s),
                at(b.0 * s, b.1 * s),
                0.5 * s,
                50,
            );
        }
        let o = (2.5 * s).round() as i64;
        let ci = c.round() as i64;
        (blurred(&img), (ci - o, ci - o, ci + o, ci + o), s)
    }

    fn thickened(img: &GrayImage, b: PxBox, clip: PxBox, s: f64) -> bool {
        let stroke = (0.3 * s).round() as i64;
        outline_thickened(img, b, clip, s, stroke, 230)
    }

    fn whole(img: &GrayImage) -> PxBox {
        (0, 0, i64::from(img.width()), i64::from(img.height()))
    }

    #[test]
    fn a_printed_outline_alone_is_not_thickened_even_turned_or_at_150_dpi() {
        for dpi in [150.0, 200.0, 300.0] {
            for deg in [0.0, 1.0, 3.0] {
                let (img, b, s) = printed_box(dpi, deg, &[]);
                assert!(!thickened(&img, b, whole(&img), s), "{dpi} dpi {deg}°");
            }
        }
    }

    #[test]
    fn a_speck_on_the_outline_is_not_thickened() {
        for dpi in [150.0, 300.0] {
            for (at, along) in [((-2.4, 0.3), true), ((0.2, 2.4), false)] {
                // A 1.2 mm dot (the largest speck) sitting on an edge.
                let p = (at.0 + if along { 0.0 } else { 0.01 }, at.1);
                let (img, b, s) = printed_box(dpi, 1.0, &[]);
                let mut img = img;
                let r = 0.6 * s;
                let c = (
                    f64::from(img.width()) / 2.0 + p.0 * s,
                    f64::from(img.height()) / 2.0 + p.1 * s,
                );
                line(&mut img, c, c, 2.0 * r, 40);
                let img = blurred(&img);
                assert!(!thickened(&img, b, whole(&img), s), "{dpi} dpi at {at:?}");
            }
        }
    }

    #[test]
    fn a_ticks_point_through_the_bottom_edge_is_pen() {
        // A ✓ whose point pokes 0.6 mm out of the bottom edge and whose long arm runs up
        // just inside the right edge: hardly any ink in the inner box or in the ring (the
        // `hard` miss M2M7T45K, 300 dpi).
        let pen = [((0.3, 1.4), (1.0, 3.1)), ((1.0, 3.1), (2.3, 0.0))];
        let (img, b, s) = printed_box(300.0, 0.5, &pen);
        assert!(thickened(&img, b, whole(&img), s));
    }

    #[test]
    fn a_ticks_point_meeting_the_box_from_the_row_above_is_pen() {
        // A ✓ drawn in the row above whose point lands on this box's top edge; the rule
        // between the rows is 1.5 mm above the box, so only ≈ 1 mm of the stroke is in this
        // cell (the `hard` miss X0V3T8WX, 150 dpi).
        let pen = [((-1.3, -4.0), (0.0, -2.3)), ((0.0, -2.3), (2.0, -6.5))];
        let (img, b, s) = printed_box(150.0, 0.0, &pen);
        let cell = (
            0,
            b.1 - (1.5 * s) as i64 + (0.5 * s) as i64,
            i64::from(img.width()),
            i64::from(img.height()),
        );
        assert!(thickened(&img, b, cell, s));
    }
}
