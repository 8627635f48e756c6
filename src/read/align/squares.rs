//! Finding the four printed registration squares of an upright page.
//!
//! Only small windows around where the page geometry predicts each square are looked at
//! (binarised with their own Otsu level, connected components on the window alone), so a
//! 300-dpi page costs a few hundred thousand pixels, not nine million. Every tolerance is in
//! millimetres and converted with the page's scale.
//!
//! A sheet fed off-centre or skewed can put a square partly outside the scan. When only two
//! whole squares are found, a square cut by the image edge is still measured from the sides
//! that remain visible (see [`find_cut_mark`]).

use crate::layout::{PageLayout, MARK_SIZE};
use crate::read::levels::{histogram, otsu};
use crate::units::{PointMm, SizeMm};
use image::GrayImage;

/// How far (beyond its own half-size) a square may sit from where a page that fills the image
/// would put it: a 97 % "fit to page" print moves corner squares ≈ 4.5 mm, a feeder shifts a
/// sheet a few mm more.
pub const MARK_SEARCH_MM: f64 = 12.0;

/// Second, wider look for squares not found at first: a sheet printed or scanned at the wrong
/// size puts them ≈ 20 mm off, and naming its scale tells the clerk more than "not found".
pub const MARK_SEARCH_WIDE_MM: f64 = 30.0;

/// Lowest share of its bounding box a square's blob must fill: a solid square tilted by 5°
/// still fills 84 %; a glyph, a table corner or a tick fills far less.
const MIN_FILL: f64 = 0.75;

/// Smallest short/long side ratio of a square's bounding box.
const MIN_SQUARENESS: f64 = 0.8;

/// Accepted size of a found square relative to the expected 6 mm (scale tolerance, toner
/// spread and scanner blur included).
const SIDE_RANGE: (f64, f64) = (0.75, 1.3);

/// Gray levels between the paper and ink classes below which a window holds no ink at all.
const MIN_CONTRAST: f64 = 64.0;

/// How far (beyond its own half-size) a square cut by the image edge may sit from where the
/// two whole squares put it: they fix turn and scale, so only a printer's few-per-mille
/// stretch and paper warp remain, far below this.
const CUT_SEARCH_MM: f64 = 4.0;

/// Least share of its side a cut square must show across the cut: enough of both side edges
/// to measure (a 3° skew tilts the cut by 5 % of the side) and too much for a stray glyph.
const MIN_CUT_DEPTH: f64 = 0.35;

/// Largest turn of the page at which cut squares are measured: a feeder skews a few degrees,
/// and beyond 45° a cut across the top would be taken for one down the side.
const MAX_CUT_TURN_DEG: f64 = 10.0;

/// The centres of the four squares (pixels, in [`super::CORNERS`] order), `None` where a
/// square was not found.
///
/// `scale` is the expected pixels per millimetre; the page is expected centred in the image.
/// A square cut by the image edge is measured only when two whole squares fix the page's turn
/// and scale and `code_centre` (where the page code was found) can check it afterwards: two
/// squares and one cut square are the three points an affine fit passes through exactly.
#[must_use]
pub fn find(
    img: &GrayImage,
    page: &PageLayout,
    size: SizeMm,
    scale: f64,
    code_centre: Option<(f64, f64)>,
) -> [Option<(f64, f64)>; 4] {
    let (iw, ih) = (f64::from(img.width()), f64::from(img.height()));
    let predict = |p: PointMm| {
        (
            iw / 2.0 + (p.x - size.w / 2.0) * scale,
            ih / 2.0 + (p.y - size.h / 2.0) * scale,
        )
    };
    let first: Vec<Look> = page
        .marks
        .iter()
        .map(|r| find_mark(img, predict(r.center()), scale, MARK_SEARCH_MM))
        .collect();
    let mut found: [Option<(f64, f64)>; 4] = [None; 4];
    for (f, l) in found.iter_mut().zip(&first) {
        *f = l.point();
    }
    // Look wider for every missing square when fewer than three were found, and always for
    // one the first window cut through (rare: a sheet shifted by about the search reach).
    let few = found.iter().filter(|f| f.is_some()).count() < 3;
    for (k, r) in page.marks.iter().enumerate() {
        if found[k].is_none() && (few || first[k] == Look::Clipped) {
            found[k] = find_mark(img, predict(r.center()), scale, MARK_SEARCH_WIDE_MM).point();
        }
    }
    // Two whole squares fix the page's turn and scale: look for the others cut by the image
    // edge, only when the code's centre is there to check them.
    let two = located(page, &found);
    if let ([a, b], Some(_)) = (two.as_slice(), code_centre) {
        let turned = |s: &Similarity| s.angle.abs() > MAX_CUT_TURN_DEG.to_radians();
        if let Some(sim) = Similarity::through(*a, *b).filter(|s| !turned(s)) {
            for (k, r) in page.marks.iter().enumerate() {
                if found[k].is_none() {
                    found[k] = find_cut_mark(img, sim.map(r.center()), sim.angle, sim.px_per_mm);
                }
            }
        }
    }
    found
}

/// The (layout centre, image centre) pairs of the squares found.
#[must_use]
pub fn located(page: &PageLayout, found: &[Option<(f64, f64)>; 4]) -> Vec<(PointMm, (f64, f64))> {
    page.marks
        .iter()
        .zip(found)
        .filter_map(|(r, f)| f.map(|f| (r.center(), f)))
        .collect()
}

/// A connected blob of dark pixels in a window.
#[derive(Debug, Clone, Copy)]
struct Blob {
    area: usize,
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    sx: f64,
    sy: f64,
}

/// Find the solid square nearest `centre` (pixels) in a window around it; its centroid.
fn find_mark(img: &GrayImage, centre: (f64, f64), scale: f64, search_mm: f64) -> Look {
    let half = (MARK_SIZE / 2.0 + search_mm) * scale;
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let x0 = (centre.0 - half).clamp(0.0, w) as u32;
    let x1 = (centre.0 + half).clamp(0.0, w) as u32;
    let y0 = (centre.1 - half).clamp(0.0, h) as u32;
    let y1 = (centre.1 + half).clamp(0.0, h) as u32;
    if x1 <= x0 + 2 || y1 <= y0 + 2 {
        return Look::Nothing;
    }
    let (ww, wh) = ((x1 - x0) as usize, (y1 - y0) as usize);
    // The window's rows as slices of the image.
    let iw = img.width() as usize;
    let rows = || {
        img.as_raw()
            .chunks_exact(iw)
            .skip(y0 as usize)
            .take(wh)
            .map(|row| &row[x0 as usize..x1 as usize])
    };
    let o = otsu(&histogram(rows(), 1));
    if o.light_mean - o.dark_mean < MIN_CONTRAST {
        return Look::Nothing;
    }
    // 1 = dark, 0 = paper.
    let mut bits: Vec<u8> = Vec::with_capacity(ww * wh);
    for row in rows() {
        bits.extend(row.iter().map(|&p| u8::from(p <= o.level)));
    }
    let window = Window {
        origin: (x0, y0),
        size: (ww, wh),
        cut: (x0 > 0, y0 > 0, x1 < img.width(), y1 < img.height()),
        centre,
        half,
    };
    let side = MARK_SIZE * scale;
    let look = window.look(&mut bits.clone(), side, 0);
    if look != Look::Nothing {
        return look;
    }
    // A scanner streak or a ruled line touching the square joins it into one blob that is no
    // square: worn away by a thin line's width on every side, the line is gone and the square's
    // core is left, centred where the square is.
    let wear = ((STREAK_WEAR_MM * scale).round() as usize).max(1);
    erode(&mut bits, ww, wh, wear);
    window.look(&mut bits, side - 2.0 * wear as f64, wear)
}

/// How far (mm) the squares are worn away on every side when a first look found none: more
/// than half a scanner streak's or a ruled line's width (≤ 1 mm), well under half a square.
const STREAK_WEAR_MM: f64 = 0.6;

/// A search window of the image: where it lies and where the square is expected in it.
struct Window {
    origin: (u32, u32),
    size: (usize, usize),
    /// Whether the window's left, top, right and bottom sides lie inside the image (cut it).
    cut: (bool, bool, bool, bool),
    centre: (f64, f64),
    half: f64,
}

impl Window {
    /// The solid square of `side` pixels nearest the expected centre among `bits` (1 = dark;
    /// cleared as they are visited); `worn` pixels were worn off every side of it.
    fn look(&self, bits: &mut [u8], side: f64, worn: usize) -> Look {
        let (ww, wh) = self.size;
        let (x0, y0) = (f64::from(self.origin.0), f64::from(self.origin.1));
        let (cx, cy) = (self.centre.0 - x0, self.centre.1 - y0);
        let want_area = side * side;
        let mut best: Option<(f64, (f64, f64))> = None;
        let mut saw_clipped = false;
        let mut stack = Vec::new();
        for start in 0..bits.len() {
            if bits[start] == 0 {
                continue;
            }
            let b = flood(bits, ww, wh, start, &mut stack, |_, _| {});
            let (bw, bh) = ((b.x1 - b.x0 + 1) as f64, (b.y1 - b.y0 + 1) as f64);
            let fill = b.area as f64 / (bw * bh);
            let square = bw.min(bh) / bw.max(bh);
            // Sizes compare as the square was printed, before any wear.
            let grown = 2.0 * worn as f64;
            let printed = side + grown;
            let ok_side =
                |v: f64| v + grown >= printed * SIDE_RANGE.0 && v + grown <= printed * SIDE_RANGE.1;
            // A blob running into a side of the window that lies inside the image was cut by
            // the window itself: its centroid would be off by up to a tenth of a side. The
            // wider look (or the other squares) finds it whole.
            let (l, t, r, btm) = self.cut;
            let clipped = (b.x0 <= worn && l)
                || (b.y0 <= worn && t)
                || (b.x1 + 1 + worn >= ww && r)
                || (b.y1 + 1 + worn >= wh && btm);
            if fill < MIN_FILL || square < MIN_SQUARENESS || !ok_side(bw) || !ok_side(bh) {
                continue;
            }
            if clipped {
                saw_clipped = true;
                continue;
            }
            let (mx, my) = (b.sx / b.area as f64 + 0.5, b.sy / b.area as f64 + 0.5);
            // Prefer the right area, then nearness to the prediction.
            let cost =
                (b.area as f64 / want_area - 1.0).abs() + (mx - cx).hypot(my - cy) / self.half;
            if best.is_none_or(|(c, _)| cost < c) {
                best = Some((cost, (mx + x0, my + y0)));
            }
        }
        match best {
            Some((_, p)) => Look::Found(p),
            None if saw_clipped => Look::Clipped,
            None => Look::Nothing,
        }
    }
}

/// Wear `r` pixels off every side of the dark regions of `bits` (an erosion by a square of
/// side `2r + 1`, one direction at a time): lines thinner than `2r + 1` pixels vanish.
fn erode(bits: &mut [u8], w: usize, h: usize, r: usize) {
    let mut tmp = vec![0u8; bits.len()];
    // Length of the dark run ending at each pixel of a row (column), reused.
    let mut ends = vec![0usize; w.max(h)];
    // Along rows: a pixel stays dark only if every pixel within `r` of it in its row is: kept
    // where the run ending `r` beyond it is longer than `2r`.
    for y in 0..h {
        let row = &bits[y * w..(y + 1) * w];
        let mut run = 0usize;
        for (x, &v) in row.iter().enumerate() {
            run = if v == 1 { run + 1 } else { 0 };
            ends[x] = run;
        }
        for x in r..w.saturating_sub(r) {
            tmp[y * w + x] = u8::from(ends[x + r] > 2 * r);
        }
    }
    bits.fill(0);
    // Along columns, the same over the row pass.
    for x in 0..w {
        let mut run = 0usize;
        for y in 0..h {
            run = if tmp[y * w + x] == 1 { run + 1 } else { 0 };
            ends[y] = run;
        }
        for y in r..h.saturating_sub(r) {
            bits[y * w + x] = u8::from(ends[y + r] > 2 * r);
        }
    }
}

/// What one look for a square in a window saw.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Look {
    /// The square's centroid, pixels.
    Found((f64, f64)),
    /// Only a square-like blob running out of the window: a wider window sees it whole.
    Clipped,
    Nothing,
}

impl Look {
    fn point(self) -> Option<(f64, f64)> {
        match self {
            Self::Found(p) => Some(p),
            Self::Clipped | Self::Nothing => None,
        }
    }
}

/// The turn, scale and shift that carry two layout points onto their image points (a page
/// neither sheared nor stretched more along one axis): where the other squares should be.
#[derive(Debug, Clone, Copy)]
struct Similarity {
    /// Turn of the page in the image, radians (y down: positive is clockwise as seen).
    angle: f64,
    px_per_mm: f64,
    /// Image point of the layout origin, pixels.
    offset: (f64, f64),
}

impl Similarity {
    /// Through two (layout, image) pairs; `None` if the layout points coincide.
    fn through(a: (PointMm, (f64, f64)), b: (PointMm, (f64, f64))) -> Option<Self> {
        let (lx, ly) = (b.0.x - a.0.x, b.0.y - a.0.y);
        let (ix, iy) = (b.1 .0 - a.1 .0, b.1 .1 - a.1 .1);
        let len = lx.hypot(ly);
        // Two squares are ≥ 190 mm apart on any page; a near-zero span is a bug upstream.
        if len < 1.0 {
            return None;
        }
        // The difference of two directions, brought into (-π, π].
        let d = iy.atan2(ix) - ly.atan2(lx);
        let angle = d.sin().atan2(d.cos());
        let px_per_mm = ix.hypot(iy) / len;
        let (c, s) = (angle.cos() * px_per_mm, angle.sin() * px_per_mm);
        let offset = (
            a.1 .0 - (c * a.0.x - s * a.0.y),
            a.1 .1 - (s * a.0.x + c * a.0.y),
        );
        Some(Self {
            angle,
            px_per_mm,
            offset,
        })
    }

    fn map(&self, p: PointMm) -> (f64, f64) {
        let (c, s) = (
            self.angle.cos() * self.px_per_mm,
            self.angle.sin() * self.px_per_mm,
        );
        (
            c * p.x - s * p.y + self.offset.0,
            s * p.x + c * p.y + self.offset.1,
        )
    }
}

/// Which image edges a blob touches, and how far it reaches along the page's own axes.
#[derive(Debug, Clone, Copy)]
struct Reach {
    /// Image edges touched: left, top, right, bottom.
    edge: [bool; 4],
    /// Extremes of the pixel centres turned back by the page's angle (u along the page's
    /// x axis, v along its y axis).
    u: (f64, f64),
    v: (f64, f64),
}

/// Find a registration square cut by the image edge near `centre` (pixels), on a page turned
/// by `angle` at `px_per_mm`; the centre the whole square would have.
///
/// Only a blob touching exactly one image edge (and no other side of the window) counts.
/// Turned back by the page's angle, its two side edges running into the cut and its inner
/// edge are whole: the sides give the centre along the cut and the square's measured side,
/// and the inner edge less half that side gives the centre across the cut. Both take the
/// same toner spread and blur, so the centre is unbiased by them.
fn find_cut_mark(
    img: &GrayImage,
    centre: (f64, f64),
    angle: f64,
    px_per_mm: f64,
) -> Option<(f64, f64)> {
    let side = MARK_SIZE * px_per_mm;
    let half = (MARK_SIZE / 2.0 + CUT_SEARCH_MM) * px_per_mm;
    let (w, h) = (img.width(), img.height());
    let (wf, hf) = (f64::from(w), f64::from(h));
    let x0 = (centre.0 - half).clamp(0.0, wf) as u32;
    let x1 = (centre.0 + half).clamp(0.0, wf) as u32;
    let y0 = (centre.1 - half).clamp(0.0, hf) as u32;
    let y1 = (centre.1 + half).clamp(0.0, hf) as u32;
    // A window inside the image would hold the whole square: nothing is cut there.
    let at_edge = [x0 == 0, y0 == 0, x1 == w, y1 == h];
    if x1 <= x0 + 2 || y1 <= y0 + 2 || !at_edge.iter().any(|&e| e) {
        return None;
    }
    let (ww, wh) = ((x1 - x0) as usize, (y1 - y0) as usize);
    let iw = w as usize;
    let rows = || {
        img.as_raw()
            .chunks_exact(iw)
            .skip(y0 as usize)
            .take(wh)
            .map(|row| &row[x0 as usize..x1 as usize])
    };
    let o = otsu(&histogram(rows(), 1));
    if o.light_mean - o.dark_mean < MIN_CONTRAST {
        return None;
    }
    let mut bits: Vec<u8> = Vec::with_capacity(ww * wh);
    for row in rows() {
        bits.extend(row.iter().map(|&p| u8::from(p <= o.level)));
    }
    let (c, s) = (angle.cos(), angle.sin());
    let mut best: Option<(f64, (f64, f64))> = None;
    let mut stack = Vec::new();
    for start in 0..bits.len() {
        if bits[start] == 0 {
            continue;
        }
        let mut r = Reach {
            edge: [false; 4],
            u: (f64::INFINITY, f64::NEG_INFINITY),
            v: (f64::INFINITY, f64::NEG_INFINITY),
        };
        let b = flood(&mut bits, ww, wh, start, &mut stack, |x, y| {
            let (px, py) = (
                (x + x0 as usize) as f64 + 0.5,
                (y + y0 as usize) as f64 + 0.5,
            );
            let (u, v) = (c * px + s * py, -s * px + c * py);
            r.u = (r.u.0.min(u), r.u.1.max(u));
            r.v = (r.v.0.min(v), r.v.1.max(v));
        });
        // Sides of the window the blob reaches: left, top, right, bottom.
        let touches = [b.x0 == 0, b.y0 == 0, b.x1 + 1 == ww, b.y1 + 1 == wh];
        // Reaching a side of the window that is not the image's edge: not an isolated mark.
        if touches.iter().zip(at_edge).any(|(&t, e)| t && !e) {
            continue;
        }
        r.edge = touches;
        let Some((m, measured)) = cut_centre(&r) else {
            continue;
        };
        let ok_side = measured >= side * SIDE_RANGE.0 && measured <= side * SIDE_RANGE.1;
        // Visible depth across the cut, and the share of that visible box the blob fills.
        let depth = if r.edge[0] || r.edge[2] {
            r.u.1 - r.u.0 + 1.0
        } else {
            r.v.1 - r.v.0 + 1.0
        };
        let fill = b.area as f64 / (measured * depth);
        if !ok_side || depth < MIN_CUT_DEPTH * measured || depth > measured || fill < MIN_FILL {
            continue;
        }
        let img_m = (c * m.0 - s * m.1, s * m.0 + c * m.1);
        let cost = (img_m.0 - centre.0).hypot(img_m.1 - centre.1);
        if best.is_none_or(|(k, _)| cost < k) {
            best = Some((cost, img_m));
        }
    }
    best.map(|(_, p)| p)
}

/// The whole square's centre in the turned-back frame (u, v) and its measured side, pixels,
/// from a blob cut by exactly one image edge; `None` if it touches none or several.
fn cut_centre(r: &Reach) -> Option<((f64, f64), f64)> {
    let [left, top, right, bottom] = r.edge;
    if r.edge.iter().filter(|&&e| e).count() != 1 {
        return None;
    }
    // Extremes are pixel centres: the blob spans one pixel more than their difference.
    let (du, dv) = (r.u.1 - r.u.0, r.v.1 - r.v.0);
    let (mu, mv) = ((r.u.0 + r.u.1) / 2.0, (r.v.0 + r.v.1) / 2.0);
    Some(if top {
        ((mu, r.v.1 - du / 2.0), du + 1.0)
    } else if bottom {
        ((mu, r.v.0 + du / 2.0), du + 1.0)
    } else if left {
        ((r.u.1 - dv / 2.0, mv), dv + 1.0)
    } else {
        debug_assert!(right);
        ((r.u.0 + dv / 2.0, mv), dv + 1.0)
    })
}

/// Flood-fill the 4-connected blob at `start`, clearing it; its statistics. `visit` sees
/// every pixel of the blob (window coordinates).
fn flood(
    bits: &mut [u8],
    w: usize,
    h: usize,
    start: usize,
    stack: &mut Vec<usize>,
    mut visit: impl FnMut(usize, usize),
) -> Blob {
    let mut b = Blob {
        area: 0,
        x0: usize::MAX,
        y0: usize::MAX,
        x1: 0,
        y1: 0,
        sx: 0.0,
        sy: 0.0,
    };
    stack.clear();
    stack.push(start);
    bits[start] = 0;
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        visit(x, y);
        b.area += 1;
        b.x0 = b.x0.min(x);
        b.x1 = b.x1.max(x);
        b.y0 = b.y0.min(y);
        b.y1 = b.y1.max(y);
        b.sx += x as f64;
        b.sy += y as f64;
        let mut push = |j: usize| {
            if bits[j] == 1 {
                bits[j] = 0;
                stack.push(j);
            }
        };
        if x > 0 {
            push(i - 1);
        }
        if x + 1 < w {
            push(i + 1);
        }
        if y > 0 {
            push(i - w);
        }
        if y + 1 < h {
            push(i + w);
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::align::testpage::{bare_page, scan_of};
    use crate::units::RectMm;

    #[test]
    fn a_square_cut_by_the_search_window_is_left_for_the_wider_look() {
        let page = bare_page();
        let sc = scan_of(0.0, (0.0, 0.0));
        let img = sc.render(&page, &[]);
        let (x, y) = sc.map(page.marks[0].center());
        // Predicted 13 mm to the left, the first window ends 5 mm into the 6 mm square: a
        // 5 × 6 mm blob, square enough to pass, its centroid 0.5 mm off.
        let off = (x - 13.0 * sc.k, y);
        assert_eq!(find_mark(&img, off, sc.k, MARK_SEARCH_MM), Look::Clipped);
        let (fx, fy) = find_mark(&img, off, sc.k, MARK_SEARCH_WIDE_MM)
            .point()
            .unwrap();
        assert!((fx - x).hypot(fy - y) < 0.1 * sc.k, "{fx} {fy} vs {x} {y}");
    }

    /// A scanner streak (0.4 mm, down the whole page) touching the square's side, and another
    /// through it: still found, where it is.
    #[test]
    fn a_square_joined_by_a_streak_is_still_found_where_it_is() {
        let page = bare_page();
        let sc = scan_of(2.0, (0.0, 0.0));
        let r = page.marks[0];
        for x in [r.right(), r.x + 2.0] {
            let streak = RectMm::new(x, -20.0, 0.4, 340.0);
            let img = sc.render(&page, &[streak]);
            let (ex, ey) = sc.map(r.center());
            let Look::Found((fx, fy)) = find_mark(&img, (ex, ey), sc.k, MARK_SEARCH_MM) else {
                panic!("streak at {x} mm: square not found");
            };
            // Within a fifth of a millimetre (a streak along the side widens its core by at
            // most a pixel).
            assert!(
                (fx - ex).hypot(fy - ey) < 0.2 * sc.k,
                "streak at {x} mm: {fx} {fy} vs {ex} {ey}"
            );
        }
    }

    #[test]
    fn erosion_removes_lines_thinner_than_its_width_and_keeps_a_core() {
        // 12 × 12: a 6 × 6 block at (1, 1) and a 2-wide line down column 9–10.
        let (w, h) = (12, 12);
        let mut bits = vec![0u8; w * h];
        for y in 1..7 {
            for x in 1..7 {
                bits[y * w + x] = 1;
            }
        }
        for y in 0..h {
            bits[y * w + 9] = 1;
            bits[y * w + 10] = 1;
        }
        erode(&mut bits, w, h, 1);
        let dark: Vec<(usize, usize)> = (0..w * h)
            .filter(|&i| bits[i] == 1)
            .map(|i| (i % w, i / w))
            .collect();
        // The block's 4 × 4 core, nothing of the line.
        assert_eq!(dark.len(), 16, "{dark:?}");
        assert!(dark
            .iter()
            .all(|&(x, y)| (2..6).contains(&x) && (2..6).contains(&y)));
    }

    #[test]
    fn a_blob_in_an_image_corner_gives_no_cut_centre() {
        let r = Reach {
            edge: [true, true, false, false],
            u: (0.5, 40.5),
            v: (0.5, 30.5),
        };
        assert!(cut_centre(&r).is_none());
        let top = Reach {
            edge: [false, true, false, false],
            u: (100.5, 170.5),
            v: (0.5, 40.5),
        };
        // 71 px wide, inner edge at 40.5: the centre sits 35 px above it.
        assert_eq!(cut_centre(&top), Some(((135.5, 5.5), 71.0)));
    }
}
