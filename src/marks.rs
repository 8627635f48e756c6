//! Measuring marks: the new ink inside each printed tick box, the question each row answers,
//! and whether anything was written in the text boxes.
//!
//! Rules (and why):
//! - **Score** = share of dark pixels inside the tick box shrunk by its outline stroke plus
//!   [`INNER_MARGIN_MM`], so the printed outline never counts and only new ink does. "Dark" is
//!   the page's Otsu level, computed once per page.
//! - **Re-centring**: the mapped box is moved within ±[`RECENTRE_MM`] to where its printed
//!   outline is darkest (VotingWorks does the same), absorbing local paper stretch.
//! - **Classes** from the form's thresholds: score ≥ definite → Marked, ≥ marginal → Marginal.
//! - **Stray ticks**: ink in the table cell *outside* the box, at least as much as a definite
//!   mark would put inside, raises an Empty cell to Marginal — never to Marked: the voter
//!   probably meant this box, but a person confirms.
//! - **Filled boxes**: a solid fill scores ≈ 1 and is Marked like a tick. The form says 打“√”,
//!   but a fill is the clearest intent there is; a voter who corrects by ticking another box
//!   produces two marks, which surface as an Overvote for a person (never silently resolved).
//! - **Questions**: exactly one Marked and no Marginal → Answer; nothing → Blank; ≥ 2 Marked →
//!   Overvote; otherwise any Marginal → Ambiguous. A check item (one box) Marked answers "yes".

use crate::align::Transform;
use crate::form::MarkThresholds;
use crate::layout::{AnswerCell, Ink, Layout, PageLayout, TICK_STROKE};
use crate::reading::{
    CellClass, CellReading, Flag, FlagKind, QuestionReading, QuestionState, WritingReading,
};
use crate::units::{PointMm, RectMm};
use image::GrayImage;

pub mod edge;
pub mod streaks;
pub use streaks::Streak;

/// Extra margin inside the tick outline left out of the score: re-centring is good to about a
/// pixel and scanner blur spreads the outline ≈ 0.2 mm; 0.35 mm keeps both out even at 150 dpi.
pub const INNER_MARGIN_MM: f64 = 0.35;
/// How far a tick box may be re-centred on its printed outline (VotingWorks: ±7 px at 200 dpi ≈ 0.9 mm;
/// we allow more because office printers and feeders are sloppier than ballot printers).
pub const RECENTRE_MM: f64 = 1.5;
/// How much darker than the paper a pixel must be to count as faint ink, as a share of the
/// page's paper-to-ink contrast: a light ballpoint (gray 140–175 on paper ≈ 240) blurred by
/// the scanner stays ≥ 40 % of the contrast below the paper, scanner noise (σ ≤ 9 levels) and
/// JPEG ringing stay within 15 %.
pub const FAINT_DROP: f64 = 0.25;
/// Share of faint-ink pixels that makes an otherwise empty box Marginal. Measured (tests/
/// accuracy.rs, 300 dpi): faint ticks 0.085–0.107; empty boxes and specks in `office` ≤ 0.019.
/// (`hard` fold lines and streaks reach 0.1 — flagged, never read.)
pub const FAINT_MIN_SHARE: f64 = 0.04;
/// Score above which a box is filled in (fills measure ≥ 0.73, ticks ≤ 0.51): a line through
/// it is part of the fill.
const FILLED_SCORE: f64 = 0.6;
/// Inset of a table cell from its rules when looking for stray ticks (rules are ≤ 0.5 mm).
const CELL_RULE_MARGIN_MM: f64 = 0.8;
/// Inset of a table cell that just clears its rules (half the widest 0.5 mm rule plus ≈ 0.2 mm
/// of blur), for looking at pen strokes that touch a box from across a rule.
const RULE_CLEAR_MM: f64 = 0.5;
/// Gap around the tick outline left out of the stray-tick area (the outline and its blur).
const STRAY_GAP_MM: f64 = 0.6;
/// Inset of a writing area from its frame and of printed lines inside it.
const WRITING_MARGIN_MM: f64 = 1.0;
/// Ink (mm²) that counts as writing: one handwritten character in a 0.5 mm pen is 3–5 mm²;
/// dust and scanner speckle stay well below.
pub const WRITING_MIN_MM2: f64 = 3.0;

/// Otsu's split of a gray histogram, with the mean of each class.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Otsu {
    /// Pixels ≤ level are dark.
    pub level: u8,
    pub dark_mean: f64,
    pub light_mean: f64,
    /// Share of pixels ≤ level.
    pub dark_share: f64,
}

/// Histogram of gray levels. Four interleaved tables, summed at the end: paper is one level
/// over long runs, and a single table would make each count wait for the previous one.
#[must_use]
pub fn histogram<'a>(rows: impl Iterator<Item = &'a [u8]>, step: usize) -> [u32; 256] {
    let mut parts = [[0u32; 256]; 4];
    let step = step.max(1);
    for row in rows {
        // Four samples per chunk, one into each table; the rest keep the same stride.
        let mut chunks = row.chunks_exact(4 * step);
        for c in &mut chunks {
            parts[0][usize::from(c[0])] += 1;
            parts[1][usize::from(c[step])] += 1;
            parts[2][usize::from(c[2 * step])] += 1;
            parts[3][usize::from(c[3 * step])] += 1;
        }
        for &v in chunks.remainder().iter().step_by(step) {
            parts[0][usize::from(v)] += 1;
        }
    }
    let mut hist = [0u32; 256];
    for part in &parts {
        for (h, p) in hist.iter_mut().zip(part) {
            *h += p;
        }
    }
    hist
}

/// Otsu's threshold of a 256-bin histogram (all-zero histogram → level 127, share 0).
#[must_use]
pub fn otsu(hist: &[u32; 256]) -> Otsu {
    let total: f64 = hist.iter().map(|&c| f64::from(c)).sum();
    if total == 0.0 {
        return Otsu {
            level: 127,
            dark_mean: 0.0,
            light_mean: 255.0,
            dark_share: 0.0,
        };
    }
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, &c)| i as f64 * f64::from(c))
        .sum();
    let (mut w0, mut s0) = (0.0, 0.0);
    let mut best = (f64::MIN, 127usize, 0.0, 255.0, 0.0);
    for (t, &c) in hist.iter().enumerate().take(255) {
        w0 += f64::from(c);
        s0 += t as f64 * f64::from(c);
        let w1 = total - w0;
        if w0 == 0.0 || w1 == 0.0 {
            continue;
        }
        let (m0, m1) = (s0 / w0, (sum_all - s0) / w1);
        let between = w0 * w1 * (m0 - m1) * (m0 - m1);
        if between > best.0 {
            best = (between, t, m0, m1, w0 / total);
        }
    }
    if best.0 == f64::MIN {
        // A single gray level: all paper (or all ink); call it paper.
        let only = hist.iter().position(|&c| c > 0).unwrap_or(255) as f64;
        return Otsu {
            level: 127,
            dark_mean: only,
            light_mean: only,
            dark_share: 0.0,
        };
    }
    Otsu {
        level: best.1 as u8,
        dark_mean: best.2,
        light_mean: best.3,
        dark_share: best.4,
    }
}

/// Gray levels between the paper and ink classes below which a page holds no ink at all
/// (scanner noise on blank paper splits into two classes a few levels apart).
pub const PAGE_MIN_CONTRAST: f64 = 64.0;
/// Subsampling step for the page histogram: 1 pixel in 16 is plenty for a threshold.
const PAGE_SAMPLE_STEP: u32 = 4;

/// The page's ink threshold and how much of it is ink, from a subsampled histogram.
#[must_use]
pub fn page_ink(img: &GrayImage) -> Otsu {
    let step = PAGE_SAMPLE_STEP as usize;
    let w = (img.width() as usize).max(1);
    let hist = histogram(img.as_raw().chunks_exact(w).step_by(step), step);
    let mut o = otsu(&hist);
    if o.light_mean - o.dark_mean < PAGE_MIN_CONTRAST {
        o.dark_share = 0.0;
    }
    o
}

/// Summed-area table of dark pixels over a window of the image.
struct DarkSums {
    x0: i64,
    y0: i64,
    w: i64,
    h: i64,
    sums: Vec<u32>,
}

impl DarkSums {
    /// Over `[x0, x1) × [y0, y1)` (clamped to the image).
    fn new(img: &GrayImage, x0: i64, y0: i64, x1: i64, y1: i64, level: u8) -> Self {
        let iw = i64::from(img.width());
        let (x0, y0, x1, y1) = clamped(img, (x0, y0, x1, y1));
        let (w, h) = (x1 - x0, y1 - y0);
        let stride = (w + 1) as usize;
        let mut sums = vec![0u32; stride * (h + 1) as usize];
        let raw = img.as_raw();
        for y in 0..h as usize {
            let at = (y0 as usize + y) * iw as usize + x0 as usize;
            let pixels = &raw[at..at + w as usize];
            // Row y+1 of the table from row y: slices, so the loop runs without index checks.
            let (done, rest) = sums.split_at_mut((y + 1) * stride);
            let above = &done[y * stride + 1..];
            let mut run = 0u32;
            for ((cell, &up), &p) in rest[1..stride].iter_mut().zip(above).zip(pixels) {
                run += u32::from(p <= level);
                *cell = up + run;
            }
        }
        Self { x0, y0, w, h, sums }
    }

    /// Dark pixels in `[x0, x1) × [y0, y1)`, image coordinates (clipped to the window).
    fn count(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> u32 {
        let c = |v: i64, lo: i64, n: i64| (v - lo).clamp(0, n) as usize;
        let (a, b) = (c(x0, self.x0, self.w), c(x1, self.x0, self.w));
        let (t, u) = (c(y0, self.y0, self.h), c(y1, self.y0, self.h));
        if b <= a || u <= t {
            return 0;
        }
        let s = (self.w + 1) as usize;
        self.sums[u * s + b] + self.sums[t * s + a] - self.sums[t * s + b] - self.sums[u * s + a]
    }
}

impl DarkSums {
    /// Re-centring: of the shifts of box `b` by up to `r` pixels each way, the one whose
    /// outline ring (`ring` pixels wide) holds the most dark pixels; ties go to the smallest
    /// shift. Returns (dark pixels, squared shift, shift).
    fn darkest_ring(&self, b: PxBox, r: i64, ring: i64) -> (u32, i64, (i64, i64)) {
        let mut best = (0u32, 0i64, (0i64, 0i64));
        let mut consider = |dark: u32, dx: i64, dy: i64| {
            let d2 = dx * dx + dy * dy;
            if dark > best.0 || (dark == best.0 && d2 < best.1) {
                best = (dark, d2, (dx, dy));
            }
        };
        let (bw, bh) = (b.2 - b.0, b.3 - b.1);
        let inside = b.0 - r >= self.x0
            && b.1 - r >= self.y0
            && b.2 + r <= self.x0 + self.w
            && b.3 + r <= self.y0 + self.h
            && bw > 2 * ring
            && bh > 2 * ring;
        if !inside {
            for dy in -r..=r {
                for dx in -r..=r {
                    let o = (b.0 + dx, b.1 + dy, b.2 + dx, b.3 + dy);
                    let i = grow(o, -ring);
                    consider(
                        self.count(o.0, o.1, o.2, o.3) - self.count(i.0, i.1, i.2, i.3),
                        dx,
                        dy,
                    );
                }
            }
            return best;
        }
        // Every shifted box lies in the table: the same sums as `count`, read at fixed
        // offsets from the box's top-left corner, without clamping (≈ 1,400 shifts per box
        // at 300 dpi, the reader's hottest loop).
        let s = self.w + 1;
        let at = |dx: i64, dy: i64| -> usize {
            let k = (b.1 + dy - self.y0) * s + (b.0 + dx - self.x0);
            k as usize
        };
        let corners = |x0: i64, y0: i64, x1: i64, y1: i64| {
            [(y1 * s + x1), (y0 * s + x0), (y0 * s + x1), (y1 * s + x0)].map(|o| o as usize)
        };
        let outer = corners(0, 0, bw, bh);
        let inner = corners(ring, ring, bw - ring, bh - ring);
        // One row of shifts at a time: eight straight runs of the table, which the compiler
        // turns into vector code; then the row is searched for its darkest ring in order.
        let n = (2 * r + 1) as usize;
        let mut row = vec![0u32; n];
        let run = |k: usize, o: usize| &self.sums[k + o..k + o + n];
        for dy in -r..=r {
            let k = at(-r, dy);
            let [obr, otl, otr, obl] = outer.map(|o| run(k, o));
            let [ibr, itl, itr, ibl] = inner.map(|o| run(k, o));
            for (i, d) in row.iter_mut().enumerate() {
                *d = (obr[i] + otl[i] - otr[i] - obl[i]) - (ibr[i] + itl[i] - itr[i] - ibl[i]);
            }
            for (dx, &dark) in (-r..=r).zip(&row) {
                consider(dark, dx, dy);
            }
        }
        best
    }
}

/// Pixel box `[x0, y0, x1, y1)` as integers.
type PxBox = (i64, i64, i64, i64);

fn grow(b: PxBox, d: i64) -> PxBox {
    (b.0 - d, b.1 - d, b.2 + d, b.3 + d)
}

fn area(b: PxBox) -> i64 {
    (b.2 - b.0).max(0) * (b.3 - b.1).max(0)
}

/// `b` clamped to the image (possibly empty).
fn clamped(img: &GrayImage, b: PxBox) -> PxBox {
    let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
    (
        b.0.clamp(0, iw),
        b.1.clamp(0, ih),
        b.2.clamp(0, iw),
        b.3.clamp(0, ih),
    )
}

fn px_box(t: &Transform, r: RectMm) -> PxBox {
    let (x0, y0, x1, y1) = t.rect_f(r);
    let f = |v: f64| if v.is_finite() { v.round() as i64 } else { 0 };
    (f(x0), f(y0), f(x1), f(y1))
}

/// The largest axis-aligned pixel box inside a layout rectangle as the scan shows it. On a
/// skewed page the mapped rectangle is a tilted quadrilateral whose bounding box reaches over
/// its neighbours' printed rules (1 mm at 1.5° across a 40 mm table cell); the inscribed box
/// never does.
fn inscribed_px_box(t: &Transform, r: RectMm) -> PxBox {
    let tl = t.map(PointMm::new(r.x, r.y));
    let tr = t.map(PointMm::new(r.right(), r.y));
    let br = t.map(PointMm::new(r.right(), r.bottom()));
    let bl = t.map(PointMm::new(r.x, r.bottom()));
    let f = |v: f64| if v.is_finite() { v.round() as i64 } else { 0 };
    (
        f(tl.0.max(bl.0)),
        f(tl.1.max(tr.1)),
        f(tr.0.min(br.0)),
        f(bl.1.min(br.1)),
    )
}

/// What one tick box measured.
struct Measured {
    /// Share of dark (≤ page level) pixels inside the box: the stored score.
    score: f64,
    /// Share of pixels inside the box darker than the paper by a faint pen's margin.
    faint: f64,
    /// The box as found (re-centred bounding box).
    found: PxBox,
    /// Dark pixels in the table cell outside the box, as a share of the box's inner area.
    stray: f64,
    /// A straight line runs through the whole box (streak, fold).
    line: bool,
    /// A pen stroke lies on or just around the box (see [`edge::pen_near`]); looked for only
    /// when nothing else already keeps the box from reading as a confident blank.
    pen_near: bool,
}

/// Measure one tick box; `marginal` is the form's marginal score (a box scoring that much
/// needs no look around it).
fn measure_cell(
    img: &GrayImage,
    t: &Transform,
    cell: &AnswerCell,
    lv: Levels,
    marginal: f64,
) -> Measured {
    let level = lv.dark;
    let s = t.px_per_mm(cell.tick.center());
    let mm = |v: f64| (v * s).round().max(1.0) as i64;
    let b = px_box(t, cell.tick);
    let r = mm(RECENTRE_MM);
    let ring = mm(TICK_STROKE);
    let search = grow(b, r + 1);
    // The table cell inside its rules, where a stray tick may lie.
    let cell_px = inscribed_px_box(t, cell.cell);
    let c = grow(cell_px, -mm(CELL_RULE_MARGIN_MM));
    let sums = DarkSums::new(img, search.0, search.1, search.2, search.3, level);
    let best = sums.darkest_ring(b, r, ring);
    let ring_area = area(b) - area(grow(b, -ring));
    // Half the outline must be there to trust the shift; otherwise keep the mapped box.
    let (dx, dy) = if i64::from(best.0) * 2 >= ring_area {
        best.2
    } else {
        (0, 0)
    };
    let found = (b.0 + dx, b.1 + dy, b.2 + dx, b.3 + dy);
    let ins = inscribed_px_box(t, cell.tick);
    let inner = grow(
        (ins.0 + dx, ins.1 + dy, ins.2 + dx, ins.3 + dy),
        -mm(TICK_STROKE + INNER_MARGIN_MM),
    );
    let inner_area = area(inner);
    if inner_area == 0 {
        return Measured {
            score: 0.0,
            faint: 0.0,
            found,
            stray: 0.0,
            line: false,
            pen_near: false,
        };
    }
    let score = f64::from(sums.count(inner.0, inner.1, inner.2, inner.3)) / inner_area as f64;
    let faint = share_at_most(img, inner, lv.faint);
    let line = line_through(img, inner, level);
    // Stray ink: the table cell minus its rules, minus the box and a gap around it.
    let keep_out = grow(found, mm(STRAY_GAP_MM));
    let ko = (
        keep_out.0.max(c.0),
        keep_out.1.max(c.1),
        keep_out.2.min(c.2),
        keep_out.3.min(c.3),
    );
    let stray = f64::from(dark_outside(img, c, ko, level)) / inner_area as f64;
    // The look around the box is the costliest part: only for a box that would otherwise
    // read as a confident blank.
    let pen_near = score < marginal
        && !line
        && stray < STRAY_MIN_SHARE
        && faint < FAINT_MIN_SHARE
        && edge::pen_near(
            img,
            found,
            c,
            grow(cell_px, -mm(RULE_CLEAR_MM)),
            s,
            ring,
            lv.drop,
        );
    Measured {
        score,
        faint,
        found,
        stray,
        line,
        pen_near,
    }
}

/// Share of a box's height (or width) a straight column (row) of ink must span to be a line
/// through the box rather than pen: a ✓'s strokes are slanted and span < 60 % of a column.
const LINE_SPAN: f64 = 0.9;

/// A straight vertical or horizontal line of ink across the whole box: a scanner streak or a
/// fold crease, never a tick (a filled box is caught by its score first).
fn line_through(img: &GrayImage, b: PxBox, level: u8) -> bool {
    let iw = i64::from(img.width());
    let (x0, y0, x1, y1) = clamped(img, b);
    let (w, h) = ((x1 - x0).max(0) as usize, (y1 - y0).max(0) as usize);
    if w == 0 || h == 0 {
        return false;
    }
    let raw = img.as_raw();
    let (mut cols, mut rows) = (vec![0usize; w], vec![0usize; h]);
    for (r, y) in (y0..y1).enumerate() {
        let row = (y * iw + x0) as usize;
        for (c, &v) in raw[row..row + w].iter().enumerate() {
            if v <= level {
                cols[c] += 1;
                rows[r] += 1;
            }
        }
    }
    let full = |n: usize, of: usize| n as f64 >= LINE_SPAN * of as f64;
    cols.iter().any(|&n| full(n, h)) || rows.iter().any(|&n| full(n, w))
}

/// Pixels at or below `level` in box `b` but not in box `hole` (both clamped to the image).
fn dark_outside(img: &GrayImage, b: PxBox, hole: PxBox, level: u8) -> u32 {
    let iw = i64::from(img.width());
    let (x0, y0, x1, y1) = clamped(img, b);
    if x1 <= x0 || y1 <= y0 {
        return 0;
    }
    let (hx0, hx1) = (hole.0.clamp(x0, x1), hole.2.clamp(x0, x1));
    let (hy0, hy1) = (hole.1.clamp(y0, y1), hole.3.clamp(y0, y1));
    let holed = hx0 < hx1 && hy0 < hy1;
    let raw = img.as_raw();
    let dark = |y: i64, from: i64, to: i64| -> u32 {
        let at = (y * iw) as usize;
        raw[at + from as usize..at + to as usize]
            .iter()
            .map(|&v| u32::from(v <= level))
            .sum()
    };
    (y0..y1)
        .map(|y| {
            if holed && y >= hy0 && y < hy1 {
                dark(y, x0, hx0) + dark(y, hx1, x1)
            } else {
                dark(y, x0, x1)
            }
        })
        .sum()
}

/// Share of the pixels of `b` (clamped to the image) at or below `level`.
fn share_at_most(img: &GrayImage, b: PxBox, level: u8) -> f64 {
    let b = clamped(img, b);
    let n = area(b);
    if n == 0 {
        return 0.0;
    }
    // No hole: an empty box.
    f64::from(dark_outside(img, b, (0, 0, 0, 0), level)) / n as f64
}

/// The two gray levels cells are measured at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels {
    /// Ink: the page's Otsu level.
    pub dark: u8,
    /// A faint pen: anything this much darker than the paper (see [`FAINT_DROP`]).
    pub faint: u8,
    /// That faint pen's margin below the paper, in gray levels.
    pub drop: u8,
}

impl Levels {
    /// From the page's Otsu split.
    #[must_use]
    pub fn of_page(o: &Otsu) -> Self {
        let contrast = (o.light_mean - o.dark_mean).max(0.0);
        let faint = (o.light_mean - FAINT_DROP * contrast).clamp(0.0, 255.0) as u8;
        Self {
            dark: o.level,
            faint: faint.max(o.level),
            drop: (FAINT_DROP * contrast).clamp(1.0, 255.0) as u8,
        }
    }
}

fn classify(score: f64, th: MarkThresholds) -> CellClass {
    if score >= th.definite {
        CellClass::Marked
    } else if score >= th.marginal {
        CellClass::Marginal
    } else {
        CellClass::Empty
    }
}

fn to_px(b: PxBox, t: &Transform) -> [u32; 4] {
    let cx = |v: i64, hi: u32| v.clamp(0, i64::from(hi)) as u32;
    let (x0, y0, x1, y1) = (
        cx(b.0, t.width),
        cx(b.1, t.height),
        cx(b.2, t.width),
        cx(b.3, t.height),
    );
    [x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0)]
}

/// Every tick box of a page, read, with what the page-level checks found.
#[derive(Debug, Clone, Default)]
pub struct CellsRead {
    pub cells: Vec<CellReading>,
    /// Per cell (parallel to `cells`): a scanner streak runs through the box.
    pub streaked: Vec<bool>,
    /// The streaks found on the page.
    pub streaks: Vec<Streak>,
}

/// Ink in the table cell beside the box (share of the box's inner area) that makes an Empty
/// box Marginal. Measured (make accuracy): at 0.10 five `hard` ticks drawn mostly outside
/// their box read as confident blanks; since `edge::pen_near` catches those strokes, 0.08
/// keeps `hard` at its best and halves `office`'s speck flags (1.06 % → 0.66 % flagged).
pub const STRAY_MIN_SHARE: f64 = 0.08;
/// Margin around a box within which a streak counts as crossing it: the streak's blur, and
/// the re-centring search.
const STREAK_NEAR_MM: f64 = 0.5;

/// Score and classify every tick box of `page`.
#[must_use]
pub fn read_cells(
    img: &GrayImage,
    page: &PageLayout,
    t: &Transform,
    levels: Levels,
    th: MarkThresholds,
) -> CellsRead {
    let ms: Vec<Measured> = page
        .cells
        .iter()
        .map(|cell| measure_cell(img, t, cell, levels, th.marginal))
        .collect();
    let centre = PointMm::new(
        page.cells.first().map_or(0.0, |c| c.tick.center().x),
        page.cells.first().map_or(0.0, |c| c.tick.center().y),
    );
    let s = t.px_per_mm(centre);
    let streaks = if page.cells.is_empty() {
        Vec::new()
    } else {
        streaks::find(img, s)
    };
    let mut out = CellsRead {
        streaks,
        ..CellsRead::default()
    };
    for (cell, m) in page.cells.iter().zip(&ms) {
        let mut class = classify(m.score, th);
        // A streak or fold through a box is not a vote, and may hide one: a person looks.
        if m.line && m.score < FILLED_SCORE {
            class = CellClass::Marginal;
        }
        // Ink beside the box, or light ink in it, is never a confident mark
        // and never a confident blank: a person looks.
        if class == CellClass::Empty
            && (m.stray >= STRAY_MIN_SHARE || m.faint >= FAINT_MIN_SHARE || m.pen_near)
        {
            class = CellClass::Marginal;
        }
        // Dirt on the scanner glass darkens every box it crosses, ticked or not.
        let near = (STREAK_NEAR_MM * s).round() as i64;
        let streaked = out.streaks.iter().any(|st| st.crosses(grow(m.found, near)));
        if streaked {
            class = CellClass::Marginal;
        }
        out.streaked.push(streaked);
        out.cells.push(CellReading {
            question: cell.question.clone(),
            option: cell.option.clone(),
            score: m.score as f32,
            class,
            px: to_px(m.found, t),
        });
    }
    out
}

/// The page-level note for streaks, when there are any.
#[must_use]
pub fn streak_note(read: &CellsRead) -> Option<Flag> {
    if read.streaks.is_empty() {
        return None;
    }
    let boxes = read.streaked.iter().filter(|&&s| s).count();
    let at: Vec<String> = read
        .streaks
        .iter()
        .map(|s| {
            let axis = if s.vertical { "x" } else { "y" };
            format!("{axis}≈{}", (s.from + s.to) / 2)
        })
        .collect();
    Some(Flag {
        kind: FlagKind::Comment,
        target: None,
        detail: format!(
            "本页有扫描仪污迹造成的直线({} 像素处),经过的 {boxes} 个勾选格已交人工确认 — 请清洁扫描仪玻璃后再扫后续页",
            at.join(", ")
        ),
        urgency: 0.0,
    })
}

/// Distance of a score from the nearest threshold: how close the call was.
fn closeness(score: f32, th: MarkThresholds) -> f32 {
    let s = f64::from(score);
    (s - th.marginal).abs().min((s - th.definite).abs()) as f32
}

/// How a clerk finds a question on the sheet: the printed name of its row, and the item's
/// printed label ("王伟 · 承诺践诺情况").
fn where_is(layout: &Layout, page: &PageLayout, cell: &AnswerCell) -> String {
    let row = cell.subject.as_deref().map(|s| {
        match layout.subject_name(s).map(str::to_string).or_else(|| {
            page.names
                .iter()
                .find(|n| n.subject == s)
                .and_then(|n| n.printed.clone())
        }) {
            Some(name) => name,
            None if s.starts_with("_w") => format!("手写行{}", s.trim_start_matches("_w")),
            None => s.to_string(),
        }
    });
    let item = layout
        .item(&cell.item)
        .map_or(cell.item.as_str(), |i| i.label.as_str());
    match row {
        Some(r) => format!("{r} · {item}"),
        None => item.to_string(),
    }
}

/// A small count in Chinese, as a clerk would say it ("两个格").
fn count_zh(n: usize) -> String {
    match n {
        2 => "两".into(),
        3 => "三".into(),
        4 => "四".into(),
        5 => "五".into(),
        _ => n.to_string(),
    }
}

/// Decide each question of `page` from its cells; flags for the ones a person must see,
/// worded for the clerk with the printed names and labels (`layout` supplies them).
/// `streaked[i]` says a scanner streak crosses cell `i` (missing entries: no streak).
#[must_use]
pub fn decide(
    layout: &Layout,
    page: &PageLayout,
    cells: &[CellReading],
    streaked: &[bool],
    th: MarkThresholds,
) -> (Vec<QuestionReading>, Vec<Flag>) {
    let streaked = |i: usize| streaked.get(i).copied().unwrap_or(false);
    let mut questions = Vec::new();
    let mut flags = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (k, first) in page.cells.iter().enumerate() {
        if seen.contains(&first.question.as_str()) {
            continue;
        }
        seen.push(&first.question);
        let idx: Vec<usize> = (k..page.cells.len().min(cells.len()))
            .filter(|&i| page.cells[i].question == first.question)
            .collect();
        let marked: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&i| cells[i].class == CellClass::Marked)
            .collect();
        let marginal: Vec<usize> = idx
            .iter()
            .copied()
            .filter(|&i| cells[i].class == CellClass::Marginal)
            .collect();
        let (state, option) = match (marked.len(), marginal.is_empty()) {
            (n, _) if n >= 2 => (QuestionState::Overvote, None),
            (1, true) => (QuestionState::Answer, Some(cells[marked[0]].option.clone())),
            (_, false) => (QuestionState::Ambiguous, None),
            _ => (QuestionState::Blank, None),
        };
        let label = |i: usize| layout.option_label(&first.item, &cells[i].option);
        // The cells worth a look, with their scores (the stored evidence).
        let scores = |which: &[usize]| {
            which
                .iter()
                .map(|&i| format!("{} {:.2}", label(i), cells[i].score))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let urgency = idx
            .iter()
            .map(|&i| closeness(cells[i].score, th))
            .fold(f32::INFINITY, f32::min);
        let place = where_is(layout, page, first);
        let check = idx.len() == 1;
        match state {
            QuestionState::Overvote => flags.push(Flag {
                kind: FlagKind::Overvote,
                target: Some(first.question.clone()),
                detail: format!(
                    "{place}: {}个格都打了勾({}),请按本人意思确认",
                    count_zh(marked.len()),
                    scores(&marked)
                ),
                urgency,
            }),
            QuestionState::Ambiguous => {
                // Say what is unsure: a streak through the box, a small or light mark in
                // it, or ink beside it.
                let dirt: Vec<usize> = marginal.iter().copied().filter(|&i| streaked(i)).collect();
                let weak: Vec<usize> = marginal
                    .iter()
                    .copied()
                    .filter(|&i| !streaked(i) && f64::from(cells[i].score) >= th.marginal)
                    .collect();
                let beside: Vec<usize> = marginal
                    .iter()
                    .copied()
                    .filter(|i| !weak.contains(i) && !dirt.contains(i))
                    .collect();
                let mut why = Vec::new();
                if !dirt.is_empty() {
                    why.push(format!(
                        "{}格:扫描仪有竖线污迹,请人工确认 — 清洁扫描仪",
                        quoted(&dirt, &label)
                    ));
                }
                if !weak.is_empty() {
                    why.push(format!("{}的记号太小或太淡", quoted(&weak, &label)));
                }
                if !beside.is_empty() {
                    why.push(format!("{}格外或格内有浅淡笔迹", quoted(&beside, &label)));
                }
                if !marked.is_empty() {
                    why.push(format!("另有{}打了勾", quoted(&marked, &label)));
                }
                let shown: Vec<usize> = idx
                    .iter()
                    .copied()
                    .filter(|&i| cells[i].class != CellClass::Empty)
                    .collect();
                let what = if check {
                    "是否勾选"
                } else {
                    "选的是哪一项"
                };
                flags.push(Flag {
                    kind: FlagKind::Marginal,
                    target: Some(first.question.clone()),
                    detail: format!(
                        "{place}: {}({}),请看原件确认{what}",
                        why.join(","),
                        scores(&shown)
                    ),
                    urgency,
                });
            }
            _ => {}
        }
        questions.push(QuestionReading {
            question: first.question.clone(),
            subject: first.subject.clone(),
            item: first.item.clone(),
            state,
            option,
        });
    }
    (questions, flags)
}

/// Option labels in 「」, joined with 、.
fn quoted<'a>(which: &[usize], label: &dyn Fn(usize) -> &'a str) -> String {
    which
        .iter()
        .map(|&i| format!("「{}」", label(i)))
        .collect::<Vec<_>>()
        .join("、")
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dark_pixels_around_a_hole_match_the_table() {
        let img = GrayImage::from_fn(80, 60, |x, y| {
            image::Luma([if (x * 5 + y * 3 + x * y) % 7 < 3 {
                10
            } else {
                240
            }])
        });
        let t = DarkSums::new(&img, 0, 0, 80, 60, 128);
        for (b, hole) in [
            ((5, 6, 50, 40), (10, 12, 30, 33)),
            ((5, 6, 50, 40), (0, 0, 90, 90)),
            ((5, 6, 50, 40), (60, 50, 70, 55)),
            ((-5, -6, 90, 70), (20, 20, 25, 25)),
            ((5, 6, 50, 40), (30, 10, 20, 30)),
        ] {
            let clip = |h: PxBox| (h.0.max(b.0), h.1.max(b.1), h.2.min(b.2), h.3.min(b.3));
            let h = clip(hole);
            let want = t.count(b.0, b.1, b.2, b.3) - t.count(h.0, h.1, h.2, h.3);
            assert_eq!(dark_outside(&img, b, h, 128), want, "{b:?} {hole:?}");
        }
    }

    #[test]
    fn the_histogram_counts_every_sampled_pixel_once() {
        let rows: Vec<Vec<u8>> = (0..7u8)
            .map(|r| (0..11u8).map(|c| r * 11 + c).collect())
            .collect();
        for step in [1, 2, 3, 4, 5] {
            let h = histogram(rows.iter().map(Vec::as_slice), step);
            let mut want = [0u32; 256];
            for row in &rows {
                for &v in row.iter().step_by(step) {
                    want[usize::from(v)] += 1;
                }
            }
            assert_eq!(h, want, "step {step}");
        }
    }

    #[test]
    fn the_ring_search_reads_the_table_like_count_does() {
        // Pseudo-random ink, boxes well inside and across the table's edge.
        let img = GrayImage::from_fn(120, 90, |x, y| {
            image::Luma([if (x * 7 + y * 13 + x * y) % 5 < 2 {
                20
            } else {
                230
            }])
        });
        let slow = |t: &DarkSums, b: PxBox, r: i64, ring: i64| {
            let mut best = (0u32, 0i64, (0i64, 0i64));
            for dy in -r..=r {
                for dx in -r..=r {
                    let o = (b.0 + dx, b.1 + dy, b.2 + dx, b.3 + dy);
                    let i = grow(o, -ring);
                    let dark = t.count(o.0, o.1, o.2, o.3) - t.count(i.0, i.1, i.2, i.3);
                    let d2 = dx * dx + dy * dy;
                    if dark > best.0 || (dark == best.0 && d2 < best.1) {
                        best = (dark, d2, (dx, dy));
                    }
                }
            }
            best
        };
        for (b, r, ring) in [
            ((40, 30, 70, 60), 6, 3),
            ((40, 30, 70, 60), 9, 2),
            ((2, 3, 32, 33), 6, 3),
            ((95, 70, 125, 100), 5, 2),
        ] {
            let t = DarkSums::new(
                &img,
                b.0 - r - 1,
                b.1 - r - 1,
                b.2 + r + 1,
                b.3 + r + 1,
                128,
            );
            assert_eq!(
                t.darkest_ring(b, r, ring),
                slow(&t, b, r, ring),
                "{b:?} {r} {ring}"
            );
        }
    }

    #[test]
    fn otsu_splits_ink_from_paper() {
        let mut h = [0u32; 256];
        h[20] = 100;
        h[240] = 900;
        let o = otsu(&h);
        assert!(o.level >= 20 && o.level < 240);
        assert!((o.dark_share - 0.1).abs() < 1e-9);
        assert!(o.light_mean - o.dark_mean > 200.0);
    }

    #[test]
    fn otsu_of_nothing_or_one_level_is_paper() {
        assert_eq!(otsu(&[0; 256]).dark_share, 0.0);
        let mut h = [0u32; 256];
        h[250] = 10;
        assert_eq!(otsu(&h).dark_share, 0.0);
    }

    #[test]
    fn classes_follow_the_thresholds() {
        let th = MarkThresholds {
            marginal: 0.04,
            definite: 0.10,
        };
        assert_eq!(classify(0.0, th), CellClass::Empty);
        assert_eq!(classify(0.05, th), CellClass::Marginal);
        assert_eq!(classify(0.10, th), CellClass::Marked);
        assert!((closeness(0.09, th) - 0.01).abs() < 1e-6);
    }

    #[test]
    fn inscribed_box_stays_off_the_neighbouring_rules_on_a_skewed_page() {
        // 10 px/mm, turned 2°: a 40 × 8 mm table cell's bounding box grows by 14 px in height
        // and would take in the rules above and below; the inscribed box does not.
        let (c, s) = (
            2f64.to_radians().cos() * 10.0,
            2f64.to_radians().sin() * 10.0,
        );
        let t = Transform::from_matrix([c, -s, 100.0, s, c, 100.0, 0.0, 0.0, 1.0], 2000, 2000);
        let r = RectMm::new(10.0, 10.0, 40.0, 8.0);
        let bbox = px_box(&t, r);
        let ins = inscribed_px_box(&t, r);
        assert!(bbox.3 - bbox.1 >= 80 + 13, "{bbox:?}");
        assert!(ins.3 - ins.1 <= 80 && ins.3 - ins.1 >= 80 - 15, "{ins:?}");
        assert!(ins.0 >= bbox.0 && ins.2 <= bbox.2 && ins.1 >= bbox.1 && ins.3 <= bbox.3);
    }

    #[test]
    fn faint_level_sits_between_paper_and_ink() {
        let o = Otsu {
            level: 130,
            dark_mean: 40.0,
            light_mean: 240.0,
            dark_share: 0.05,
        };
        let lv = Levels::of_page(&o);
        assert_eq!(lv.dark, 130);
        assert_eq!(lv.faint, 190);
    }

    fn member_layout() -> Layout {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let campaign =
            crate::campaign::Campaign::load(&dir.join("fixtures/campaign/campaign.toml")).unwrap();
        let form = crate::form::seed_forms()
            .unwrap()
            .into_iter()
            .find(|f| f.id == "member")
            .unwrap();
        let branch = campaign.require_branch("jiguan1").unwrap();
        crate::layout::layout(&form, &campaign, Some(branch)).unwrap()
    }

    fn cells_with(page: &PageLayout, set: &[(usize, f32, CellClass)]) -> Vec<CellReading> {
        page.cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (score, class) = set
                    .iter()
                    .find(|s| s.0 == i)
                    .map_or((0.0, CellClass::Empty), |s| (s.1, s.2));
                CellReading {
                    question: c.question.clone(),
                    option: c.option.clone(),
                    score,
                    class,
                    px: [0; 4],
                }
            })
            .collect()
    }

    #[test]
    fn flags_name_the_person_the_item_and_the_options_in_chinese() {
        let layout = member_layout();
        let page = &layout.pages[0];
        let th = layout.thresholds;
        let first = &page.cells[0];
        let name = layout
            .subject_name(first.subject.as_deref().unwrap())
            .unwrap();
        let item = layout.item(&first.item).unwrap().label.clone();
        let (o0, o1) = (
            layout.option_label(&first.item, &page.cells[0].option),
            layout.option_label(&first.item, &page.cells[1].option),
        );
        let cells = cells_with(
            page,
            &[(0, 0.31, CellClass::Marked), (1, 0.27, CellClass::Marked)],
        );
        let (qs, flags) = decide(&layout, page, &cells, &[], th);
        assert_eq!(qs[0].state, QuestionState::Overvote);
        assert_eq!(flags.len(), 1);
        let d = &flags[0].detail;
        assert!(
            d.starts_with(&format!("{name} · {item}: 两个格都打了勾")),
            "{d}"
        );
        assert!(d.contains(&format!("{o0} 0.31, {o1} 0.27")), "{d}");

        let cells = cells_with(page, &[(1, 0.03, CellClass::Marginal)]);
        let (qs, flags) = decide(&layout, page, &cells, &[], th);
        assert_eq!(qs[0].state, QuestionState::Ambiguous);
        assert!(
            flags[0]
                .detail
                .contains(&format!("「{o1}」的记号太小或太淡")),
            "{}",
            flags[0].detail
        );
        // One clear mark and nothing else: a confident answer, no flag.
        let cells = cells_with(page, &[(1, 0.2, CellClass::Marked)]);
        let (qs, flags) = decide(&layout, page, &cells, &[], th);
        assert_eq!(qs[0].state, QuestionState::Answer);
        assert_eq!(qs[0].option.as_deref(), Some(page.cells[1].option.as_str()));
        assert!(flags.is_empty());
    }
}
