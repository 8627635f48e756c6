//! Measuring marks: the new ink inside and around each printed tick box, and its class
//! (empty, marginal, marked). [`super::questions`] turns the classes into answers.
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

use super::levels::Levels;
use super::outcome::{CellClass, CellReading, Flag, FlagKind};
use super::px::{area, clamped, grow, inscribed_px_box, px_box, to_px, PxBox};
use super::transform::Transform;
use crate::form::MarkThresholds;
use crate::layout::{AnswerCell, PageLayout, TICK_STROKE};
use crate::units::PointMm;
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

fn classify(score: f64, th: MarkThresholds) -> CellClass {
    if score >= th.definite {
        CellClass::Marked
    } else if score >= th.marginal {
        CellClass::Marginal
    } else {
        CellClass::Empty
    }
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
    fn classes_follow_the_thresholds() {
        let th = MarkThresholds {
            marginal: 0.04,
            definite: 0.10,
        };
        assert_eq!(classify(0.0, th), CellClass::Empty);
        assert_eq!(classify(0.05, th), CellClass::Marginal);
        assert_eq!(classify(0.10, th), CellClass::Marked);
    }
}
