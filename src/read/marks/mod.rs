//! Measuring marks: the new ink inside and around each printed tick box, and its class
//! (empty, marginal, marked). [`super::questions`] turns the classes into answers.
//!
//! Rules (and why):
//! - **Where**: each box is mapped through the page's transform and re-centred on its own
//!   printed outline within ±[`RECENTRE_MM`] ([`recentre`]); every pixel around it then knows
//!   its depth from the printed edge ([`geometry`]).
//! - **Against this page**: the page's boxes together say what clean paper and a clean
//!   outline look like on this scan ([`page_ink`]): the outline's band is left out, and a
//!   pixel is new ink when darker than the local paper by more than the page's noise reaches.
//! - **Score** (stored, and compared with the form's thresholds) = share of the inside at or
//!   below the page's Otsu level: solid ink.
//! - **Marked** needs a definite score *and* the shape of a mark: a stroke at least
//!   [`MARK_SPAN_MM`] long, or a filled box. A compact dot, however dark, is marginal. A thin
//!   or small tick whose score lies between the thresholds is marked too when its ink is a
//!   pen's (mostly solid, [`PEN_SOLID_SHARE`]) and reaches half a side into the box.
//! - **Marginal** (a person looks) when anything a person would see is there but not a clear
//!   mark: a score between the thresholds, a visible dot or faint stroke inside
//!   ([`VISIBLE_DOT_MM2`]), a stroke in the ring just outside the outline, ink elsewhere in
//!   the table cell ([`STRAY_MIN_SHARE`]), a straight line through the box (fold, streak).
//!   Light pencil lands here: far darker than the page's clean boxes, far lighter than ink.
//! - **Folds**: a sheet folded for its envelope shows a thin crease from edge to edge, found
//!   in the page's blank margins and followed across it ([`folds`]). Ink lying wholly on the
//!   crease and no darker than it is the paper's; a stroke across it or darker on it is kept,
//!   and a box whose faint ink the crease may hide goes to a person.
//! - **Empty** only when the box and its surroundings hold nothing beyond the page's noise.
//! - **Filled boxes** are Marked like a tick: a fill is the clearest intent there is. Two marks
//!   in a question (a correction by ticking another box) surface as an Overvote for a person.

use super::levels::Otsu;
use super::outcome::{CellClass, CellReading, Flag, FlagKind};
use super::px::{area, clamped, grow, inscribed_px_box, px_box, to_px, PxBox};
use super::transform::Transform;
use crate::form::MarkThresholds;
use crate::layout::{AnswerCell, PageLayout, TICK_STROKE};
use boxink::BoxInk;
use folds::{Crease, Fold};
use geometry::BoxOnScan;
use image::GrayImage;
use page_ink::PageInk;
use paper::Dips;
use recentre::{DarkSums, TurnedBox};

pub mod boxink;
pub mod folds;
pub mod geometry;
pub mod page_ink;
pub mod paper;
pub mod recentre;
pub mod streaks;
pub use streaks::Streak;

/// How far a tick box may be re-centred on its printed outline (VotingWorks: ±7 px at 200 dpi
/// ≈ 0.9 mm; we allow more because office printers and feeders are sloppier than ballot
/// printers).
pub const RECENTRE_MM: f64 = 1.5;
/// Score above which a box is filled in (fills measure ≥ 0.73, ticks ≤ 0.51): a line through
/// it is part of the fill, and it needs no stroke shape to be a mark.
const FILLED_SCORE: f64 = 0.6;
/// A mark's stroke reaches at least this far (mm): the shortest arm of the smallest ✓ drawn in
/// a 5 mm box (half its side) is 2.5 mm; a dot made with one press of a pen is ≤ 1.2 mm.
pub const MARK_SPAN_MM: f64 = 1.6;
/// A faint blob inside a box is a stroke a person sees (light pencil, a pen running dry) when
/// it reaches this far (mm) and holds [`FAINT_STROKE_MM2`]: dust and toner specks, and 1-bit
/// threshold speckle, stay under 0.8 mm even blurred.
pub const FAINT_STROKE_SPAN_MM: f64 = 1.2;
pub const FAINT_STROKE_MM2: f64 = 0.2;
/// …or when its core (the part at least half as dark as its darkest) covers this much,
/// whatever its shape: a dot 0.6 mm across, the least a ballpoint or pencil pressed once
/// leaves; dust and toner specks are smaller.
pub const DOT_CORE_MM2: f64 = 0.3;
/// A blob in the ring outside the outline is a pen stroke when it reaches this far (mm):
/// specks are ≤ 1.2 mm across, a tick's arm ≥ 2 mm…
pub const RING_STROKE_SPAN_MM: f64 = 2.3;
/// …and holds this much ink (mm²), so two noise pixels far apart are not one; or whatever its
/// shape when it holds more than a 1.2 mm speck (≈ 1.1 mm²) could, blurred.
pub const RING_STROKE_MIN_MM2: f64 = 0.4;
pub const RING_STROKE_AREA_MM2: f64 = 2.2;
/// Thickened outline (mm, all four sides) that a person looks at: a tick crossing the outline
/// at a slant, running along it or meeting it with its point thickens ≥ 2 mm, but one drawn
/// beside the box, or across the table rule above it, may touch it for little more than its
/// pen's width. Clean boxes and specks touching the outline reach 0.6 mm in 1 of ≈ 3,000 once
/// the outline's own blur and 1-bit jags are taken as the page's print (measured on 70,000
/// simulated boxes of seeds the tests do not use).
pub const THICKENED_MM: f64 = 0.6;
/// Ink spanning this far (mm: most of a 5 mm box and its ring)…
const STREAK_SPAN_MM: f64 = 4.0;
/// …within this width (mm) is one straight line along an image axis: a 0.5 mm pen line at
/// the steepest 5° a feeder turns a page stays under it over a box, a tick's arms at ≥ 30° do
/// not.
const STREAK_THIN_MM: f64 = 1.0;
/// An off-centre tick (see [`classify`]) reaches this far into the box (mm): half the 5 mm
/// side; a tick meant for a neighbour, a dot or a speck never does.
const OFF_CENTRE_REACH_MM: f64 = 2.5;
/// …holds this much ink in and around the box (mm²): a 2.5 mm arm of a 0.5 mm pen line plus
/// its other arm; pencil dots and specks hold under 1.2 mm².
const OFF_CENTRE_INK_MM2: f64 = 2.0;
/// …and thickens the outline this far (mm): it crosses or runs along it, as a tick's stroke
/// does (≥ 2 mm, see [`THICKENED_MM`]), with margin.
const OFF_CENTRE_CROSSING_MM: f64 = 2.5;
/// Share of a box's new ink that is solid (at or below the page's dark level) from which a
/// thin stroke is a pen's: a pen's ticks measure a median 0.24 even when thin, light pencil
/// and faint strokes ≤ 0.09 in nine of ten boxes (simulated hard scans, 200 and 300 dpi).
const PEN_SOLID_SHARE: f64 = 0.2;
/// Boxes within this distance (mm, centre to centre) are a box's neighbours for the
/// re-centring check: its row and the rows next to it, which the paper carries alike.
const NEIGHBOURS_MM: f64 = 25.0;
/// The check needs this many boxes (itself included) for a median worth trusting.
const MIN_NEIGHBOURS: usize = 4;
/// A box re-centred further than this (mm, either axis) from its neighbours' median shift is
/// searched again within it: neighbours differ by far less (paper stretch, a curl), while a
/// table rule lies ≥ 1 mm from a box.
const CONSENSUS_MM: f64 = 0.5;
/// Inset of a table cell from its rules when looking for ink around a box (rules are ≤ 0.5 mm,
/// and blurred at 150 dpi over another 0.3 mm).
const CELL_RULE_MARGIN_MM: f64 = 0.8;
/// Gap around the tick outline left out of the stray-tick area (the outline and its blur).
const STRAY_GAP_MM: f64 = 0.6;

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

/// Every tick box of a page, read, with what the page-level checks found.
#[derive(Debug, Clone, Default)]
pub struct CellsRead {
    pub cells: Vec<CellReading>,
    /// Per cell (parallel to `cells`): a scanner streak runs through the box.
    pub streaked: Vec<bool>,
    /// The streaks found on the page.
    pub streaks: Vec<Streak>,
}

/// Solid ink in the table cell beyond the ring around the box (share of the box's inside) that
/// makes an Empty box Marginal: a tick drawn mostly outside its box. Half a small tick's ink.
pub const STRAY_MIN_SHARE: f64 = 0.08;

/// Margin around a box within which a streak counts as crossing it: the streak's blur, and
/// the re-centring search.
const STREAK_NEAR_MM: f64 = 0.5;

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

/// Where each box of a page lies on the scan: mapped, moved by `base` pixels, then re-centred
/// on its outline within `r_mm`.
fn locate(
    img: &GrayImage,
    t: &Transform,
    cell: &AnswerCell,
    dark: u8,
    base: (i64, i64),
    r_mm: f64,
) -> BoxOnScan {
    let s = t.px_per_mm(cell.tick.center());
    let mm = |v: f64| (v * s).round().max(1.0) as i64;
    let m = px_box(t, cell.tick);
    let b = (m.0 + base.0, m.1 + base.1, m.2 + base.0, m.3 + base.1);
    let r = mm(r_mm);
    let ring = mm(TICK_STROKE);
    let turned = turned_box(t, cell, base);
    // A turned box's outline strays out of an upright ring along its sides (at 5° by 5 px
    // over a 300-dpi box) and a straight table rule can then outweigh it: beyond half the
    // ring's width, search the ring in the box's own frame.
    if turned.drift_px() * 2.0 > ring as f64 {
        let (window, wb, to_image) = turned.window(img, r + 1);
        let (ww, wh) = (i64::from(window.width()), i64::from(window.height()));
        let sums = DarkSums::new(&window, 0, 0, ww, wh, dark);
        let best = sums.darkest_ring(wb, r, ring);
        let ring_area = area(wb) - area(grow(wb, -ring));
        let shift = if i64::from(best.0) * 2 >= ring_area {
            let (dx, dy) = (best.2 .0 as f64, best.2 .1 as f64);
            (
                base.0 + (to_image[0] * dx + to_image[1] * dy).round() as i64,
                base.1 + (to_image[2] * dx + to_image[3] * dy).round() as i64,
            )
        } else {
            base
        };
        return BoxOnScan::new(t, cell.tick, shift);
    }
    let search = grow(b, r + 1);
    let sums = DarkSums::new(img, search.0, search.1, search.2, search.3, dark);
    let best = sums.darkest_ring(b, r, ring);
    let ring_area = area(b) - area(grow(b, -ring));
    // Half the outline must be there to trust the shift; otherwise keep the mapped box.
    let shift = if i64::from(best.0) * 2 >= ring_area {
        (base.0 + best.2 .0, base.1 + best.2 .1)
    } else {
        base
    };
    BoxOnScan::new(t, cell.tick, shift)
}

/// The tick box of `cell` as the transform turns it on the scan, moved by `base` pixels.
fn turned_box(t: &Transform, cell: &AnswerCell, base: (i64, i64)) -> TurnedBox {
    let c = cell.tick.center();
    let o = t.map(c);
    let x = t.map(crate::units::PointMm::new(c.x + 1.0, c.y));
    let y = t.map(crate::units::PointMm::new(c.x, c.y + 1.0));
    TurnedBox {
        centre: (o.0 + base.0 as f64, o.1 + base.1 as f64),
        ex: (x.0 - o.0, x.1 - o.1),
        ey: (y.0 - o.0, y.1 - o.1),
        size_mm: (cell.tick.w, cell.tick.h),
    }
}

/// Every box of a page located: each re-centred on its own outline, then checked against its
/// neighbours. On a page turned a few degrees the upright ring the search fits sits badly on a
/// turned outline and can prefer a table rule a millimetre away; the boxes around it, which
/// the same paper carries, say where it is: a box re-centred far from their median shift is
/// searched again close to it.
fn locate_all(img: &GrayImage, t: &Transform, cells: &[AnswerCell], dark: u8) -> Vec<BoxOnScan> {
    let mut boxes: Vec<BoxOnScan> = cells
        .iter()
        .map(|cell| locate(img, t, cell, dark, (0, 0), RECENTRE_MM))
        .collect();
    let first: Vec<(i64, i64)> = boxes.iter().map(|b| b.shift).collect();
    for (i, cell) in cells.iter().enumerate() {
        let c = cell.tick.center();
        let near: Vec<(i64, i64)> = cells
            .iter()
            .zip(&first)
            .filter(|(o, _)| {
                let d = o.tick.center();
                (d.x - c.x).hypot(d.y - c.y) <= NEIGHBOURS_MM
            })
            .map(|(_, s)| *s)
            .collect();
        if near.len() < MIN_NEIGHBOURS {
            continue;
        }
        let median = |mut v: Vec<i64>| {
            v.sort_unstable();
            v[v.len() / 2]
        };
        let m = (
            median(near.iter().map(|s| s.0).collect()),
            median(near.iter().map(|s| s.1).collect()),
        );
        let tol = (CONSENSUS_MM * boxes[i].px_per_mm).round() as i64;
        let own = first[i];
        if (own.0 - m.0).abs() > tol || (own.1 - m.1).abs() > tol {
            boxes[i] = locate(img, t, cell, dark, m, CONSENSUS_MM);
        }
    }
    boxes
}

/// The table cell of `cell` inside its rules, inset by `inset_mm`, in pixels.
fn cell_px(t: &Transform, cell: &AnswerCell, b: &BoxOnScan, inset_mm: f64) -> PxBox {
    let c = grow(
        inscribed_px_box(t, cell.cell),
        -(inset_mm * b.px_per_mm).round().max(1.0) as i64,
    );
    // The table's rules sit where the box was found, not only where the fit put it: on a
    // keystoned page the fit can be a millimetre off at the table's edge, and the box's own
    // re-centring measured by how much.
    let (dx, dy) = b.shift;
    (c.0 + dx, c.1 + dy, c.2 + dx, c.3 + dy)
}

/// The most ink a clean printed outline carries per position on this page, side by side (top,
/// bottom, left, right): the 90th percentile over that side's positions in every box. Pen
/// crosses a few per cent of all positions (a tick crosses a ticked box's outline once or
/// twice), so this is still clean print, at its thickest: a 1-bit scan draws the same 0.3 mm
/// stroke 2 pixels wide here and 3 there. Per side because a scan need not draw the four
/// alike: a stroke's phase on the pixel grid, or a scanner's blur along its feed, can leave
/// the top and left twice as dark as the bottom and right on every box of the page; one
/// measure for all four would then hide a faint stroke across the lighter two.
fn page_outline(inks: &[BoxInk]) -> [f64; 4] {
    std::array::from_fn(|side| {
        let mut v: Vec<f32> = inks
            .iter()
            .flat_map(|i| i.outline[side].iter().copied())
            .collect();
        if v.is_empty() {
            return 0.0;
        }
        let mid = (v.len() - 1) * 9 / 10;
        let (_, m, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
        f64::from(*m)
    })
}

/// The class of one box from what it holds; `thick_mm` is how much of its outline is
/// thickened.
fn classify(ink: &BoxInk, stray: f64, th: MarkThresholds, thick_mm: f64) -> CellClass {
    let filled = ink.score >= FILLED_SCORE;
    // A mark's stroke: ink reaching into the box, in one piece or cut by the outline into
    // several, long enough not to be a dot.
    let stroke = ink.inside_reach >= MARK_SPAN_MM;
    // All the ink one straight thin line along the image's axes: a scanner streak too faint
    // or broken (1-bit) for the page's streak finder, never a tick. A person looks.
    let a = &ink.around;
    let streak_like = !filled && a.span_mm >= STREAK_SPAN_MM && a.thin_mm < STREAK_THIN_MM;
    if ink.score >= th.definite && (stroke || filled) && !streak_like {
        return CellClass::Marked;
    }
    // A tick drawn low or off-centre in solid ink leaves most of itself outside the inside the
    // score measures; it is still plainly this box's when it reaches half a side into the box,
    // carries a tick's ink and crosses the outline for as long as a tick arm does.
    if ink.score >= th.marginal
        && !streak_like
        && ink.inside_reach >= OFF_CENTRE_REACH_MM
        && ink.around.area_mm2 >= OFF_CENTRE_INK_MM2
        && thick_mm >= OFF_CENTRE_CROSSING_MM
    {
        return CellClass::Marked;
    }
    // A thin or small tick in pen holds little solid ink for the inside it is measured on, but
    // what new ink it leaves there is mostly solid (a pen's, where light pencil and a pen
    // running dry leave almost none at the page's dark level), and it reaches half a side into
    // the box as a tick's arm does (a dot, a speck or one arm of a tick straddling two boxes
    // reaches ≤ 2.1 mm). On a 1-bit scan all ink that survives the threshold is solid: a pencil
    // tick kept whole reads as the tick it then looks like.
    if ink.score >= th.marginal
        && !streak_like
        && ink.inside_reach >= OFF_CENTRE_REACH_MM
        && ink.score >= PEN_SOLID_SHARE * ink.faint
    {
        return CellClass::Marked;
    }
    // A faint stroke or a pencil dot in the box…
    let faint = ink.blobs.iter().any(|b| {
        (b.inside_mm2 > 0.0 && b.span_mm >= FAINT_STROKE_SPAN_MM && b.area_mm2 >= FAINT_STROKE_MM2)
            || (b.inside_mm2 > 0.0 && b.core_mm2 >= DOT_CORE_MM2)
    });
    // …or one broken into pieces (a light stroke thresholded or JPEG-smoothed apart, down to
    // dots of a few pixels on a 1-bit scan) that reach as far together and hold as much ink
    // inside.
    let inside_mm2: f64 = ink.blobs.iter().map(|b| b.inside_mm2).sum();
    let pieces = ink.pieces_reach >= FAINT_STROKE_SPAN_MM && inside_mm2 >= FAINT_STROKE_MM2;
    // …or a stroke on and around it: across its outline, or beside it…
    let near = (a.span_mm >= RING_STROKE_SPAN_MM && a.area_mm2 >= RING_STROKE_MIN_MM2)
        || a.area_mm2 >= RING_STROKE_AREA_MM2;
    // …or a shorter one that thickens the outline where it meets it: a tick's arm crossing
    // near a corner (the corners are left out of the outline measure) or clipped by the table
    // rule beside the box. A speck never both touches the outline and reaches as far.
    let touching =
        thick_mm > 0.0 && a.area_mm2 >= RING_STROKE_MIN_MM2 && a.span_mm >= FAINT_STROKE_SPAN_MM;
    let visible = faint || pieces || near || streak_like || touching;
    if ink.score >= th.marginal || visible || thick_mm >= THICKENED_MM || stray >= STRAY_MIN_SHARE {
        CellClass::Marginal
    } else {
        CellClass::Empty
    }
}

/// From this many pixels per millimetre (≈ 230 dpi) on, a box's surroundings are binned 2 × 2
/// before their ink is judged: a pencil line (≥ 0.3 mm) is still ≥ 1.7 pixels wide, and the
/// judging costs a quarter.
const BIN_FROM_PX_PER_MM: f64 = 9.0;

/// A box's surroundings cut out of the page: their own small image (binned 2 × 2 on fine
/// scans), the box's geometry in it, and how far each pixel lies below the paper.
struct Patch {
    image: GrayImage,
    b: BoxOnScan,
    dips: Dips,
    /// Where the patch was cut from the page, and its binning.
    region: PxBox,
    factor: i64,
}

impl Patch {
    fn cut(img: &GrayImage, b: &BoxOnScan, clip: PxBox) -> Option<Self> {
        let region = boxink::region(img, b, clip)?;
        // Binned 2 × 2 or not at all: the loop below knows only these two.
        let factor: i64 = if b.px_per_mm >= BIN_FROM_PX_PER_MM {
            2
        } else {
            1
        };
        let (w, h) = (
            ((region.2 - region.0) / factor) as u32,
            ((region.3 - region.1) / factor) as u32,
        );
        if w == 0 || h == 0 {
            return None;
        }
        let iw = img.width() as usize;
        let raw = img.as_raw();
        let (f, wu, x0) = (factor as usize, w as usize, region.0 as usize);
        let mut buf = Vec::with_capacity(wu * h as usize);
        for y in 0..h as usize {
            let at = (region.1 as usize + y * f) * iw + x0;
            if f == 1 {
                buf.extend_from_slice(&raw[at..at + wu]);
            } else {
                // 2 × 2: each output pixel the rounded mean of its four.
                let (a, b) = (&raw[at..at + 2 * wu], &raw[at + iw..at + iw + 2 * wu]);
                buf.extend(a.chunks_exact(2).zip(b.chunks_exact(2)).map(|(p, q)| {
                    ((u16::from(p[0]) + u16::from(p[1]) + u16::from(q[0]) + u16::from(q[1]) + 2)
                        >> 2) as u8
                }));
            }
        }
        let image = GrayImage::from_raw(w, h, buf)?;
        let pb = b.in_patch(region, factor);
        let dips = Dips::of(&image, (0, 0, i64::from(w), i64::from(h)), pb.px_per_mm);
        Some(Self {
            image,
            b: pb,
            dips,
            region,
            factor,
        })
    }

    /// The folds that cross this patch, as straight lines in its own pixels.
    fn creases(&self, folds: &[Fold]) -> Vec<Crease> {
        let (f, r) = (self.factor as f64, self.region);
        let (w, h) = (
            f64::from(self.image.width()),
            f64::from(self.image.height()),
        );
        // The patch's middle and reach (its half-diagonal and a millimetre), page pixels.
        let mid = (r.0 as f64 + w * f / 2.0, r.1 as f64 + h * f / 2.0);
        let reach = w.hypot(h) * f / 2.0 + self.b.px_per_mm * f;
        folds
            .iter()
            .filter_map(|g| g.near(mid.0, mid.1, reach))
            .map(|c| Crease {
                // A page pixel's index as a patch pixel's (the middle of the `f × f` binned).
                at: (
                    (c.at.0 - r.0 as f64 - (f - 1.0) / 2.0) / f,
                    (c.at.1 - r.1 as f64 - (f - 1.0) / 2.0) / f,
                ),
                dir: c.dir,
                depth: c.depth,
            })
            .collect()
    }

    /// A patch pixel box as the page's pixels.
    fn to_image(&self, p: PxBox) -> PxBox {
        let (f, r) = (self.factor, self.region);
        (r.0 + p.0 * f, r.1 + p.1 * f, r.0 + p.2 * f, r.1 + p.3 * f)
    }
}

/// Score and classify every tick box of `page`.
#[must_use]
pub fn read_cells(
    img: &GrayImage,
    page: &PageLayout,
    t: &Transform,
    ink: &Otsu,
    th: MarkThresholds,
) -> CellsRead {
    let dark = ink.level;
    let boxes = locate_all(img, t, &page.cells, dark);
    let clips: Vec<PxBox> = page
        .cells
        .iter()
        .zip(&boxes)
        .map(|(cell, b)| cell_px(t, cell, b, CELL_RULE_MARGIN_MM))
        .collect();
    // Each box's surroundings, cut out (binned at high resolution) and measured below the
    // paper once: the page's model and the box's own measure both read them.
    let patches: Vec<Option<Patch>> = boxes
        .iter()
        .zip(&clips)
        .map(|(b, clip)| Patch::cut(img, b, *clip))
        .collect();
    let (geometry, dips): (Vec<BoxOnScan>, Vec<Option<&Dips>>) = patches
        .iter()
        .zip(&boxes)
        .map(|(p, b)| match p {
            Some(p) => (p.b, Some(&p.dips)),
            None => (*b, None),
        })
        .unzip();
    let model = PageInk::measure(&geometry, &dips, ink);
    let folds = if page.cells.is_empty() {
        Vec::new()
    } else {
        folds::find(img, page, t, dark)
    };
    let inks: Vec<BoxInk> = patches
        .iter()
        .map(|p| {
            p.as_ref().map_or_else(BoxInk::default, |p| {
                let creases = p.creases(&folds);
                let mut ink = boxink::measure(&p.image, &p.b, &p.dips, dark, &model, &creases);
                ink.inside = p.to_image(ink.inside);
                ink
            })
        })
        .collect();
    let printed = page_outline(&inks);
    let s = boxes.first().map_or(1.0, |b| b.px_per_mm);
    let streaks = if page.cells.is_empty() {
        Vec::new()
    } else {
        streaks::find(img, s)
    };
    let mut out = CellsRead {
        streaks,
        ..CellsRead::default()
    };
    for ((cell, b), ink) in page.cells.iter().zip(&boxes).zip(&inks) {
        let inside_area = area(ink.inside).max(1) as f64;
        // Stray ink: the table cell minus its rules, minus the box and its ring.
        let c = cell_px(t, cell, b, CELL_RULE_MARGIN_MM);
        let keep_out = grow(b.found, (STRAY_GAP_MM * b.px_per_mm).round() as i64);
        let ko = (
            keep_out.0.max(c.0),
            keep_out.1.max(c.1),
            keep_out.2.min(c.2),
            keep_out.3.min(c.3),
        );
        let stray = f64::from(dark_outside(img, c, ko, dark)) / inside_area;
        let scale = patches[out.cells.len()]
            .as_ref()
            .map_or(b.px_per_mm, |p| p.b.px_per_mm);
        let thick_mm = boxink::thickened_mm(&ink.outline, printed, scale);
        let mut class = classify(ink, stray, th, thick_mm);
        // A streak or crease through a box is not a vote, and may hide one: unless what is
        // left besides it is a mark, a person looks.
        if (ink.line || ink.crease_hid) && class == CellClass::Empty {
            class = CellClass::Marginal;
        }
        // Dirt on the scanner glass darkens every box it crosses, ticked or not.
        let near = (STREAK_NEAR_MM * s).round() as i64;
        let streaked = out.streaks.iter().any(|st| st.crosses(grow(b.found, near)));
        if streaked {
            class = CellClass::Marginal;
        }
        out.streaked.push(streaked);
        out.cells.push(CellReading {
            question: cell.question.clone(),
            option: cell.option.clone(),
            score: ink.score as f32,
            class,
            px: to_px(b.found, t),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tick drawn low on its box: little solid ink inside, a long stroke across the outline,
    /// most of its new ink inside lighter than solid (its blurred edge, or a light pen).
    fn off_centre(score: f64, reach: f64) -> BoxInk {
        let arm = boxink::Blob {
            area_mm2: 3.0,
            span_mm: 4.0,
            thin_mm: 3.0,
            inside_mm2: 0.8,
            core_mm2: 1.8,
        };
        BoxInk {
            score,
            faint: 0.2,
            inside_reach: reach,
            around: arm,
            blobs: vec![arm],
            ..BoxInk::default()
        }
    }

    /// A thin pen tick inside its box: a score between the thresholds, but its new ink mostly
    /// solid and reaching like a tick's arm. The same reach in light ink, a shorter reach, or
    /// less than the marginal score goes to a person.
    #[test]
    fn a_thin_pen_tick_is_marked_but_a_light_or_short_one_is_looked_at() {
        let th = MarkThresholds {
            marginal: 0.02,
            definite: 0.05,
        };
        let thin = |score: f64, faint: f64, reach: f64| BoxInk {
            faint,
            ..off_centre(score, reach)
        };
        assert_eq!(
            classify(&thin(0.03, 0.08, 3.0), 0.0, th, 0.0),
            CellClass::Marked
        );
        // Pencil: as much new ink, hardly any of it solid.
        assert_eq!(
            classify(&thin(0.03, 0.3, 3.0), 0.0, th, 0.0),
            CellClass::Marginal
        );
        // A dot or one arm of a tick straddling two boxes reaches less far.
        assert_eq!(
            classify(&thin(0.03, 0.08, 2.0), 0.0, th, 0.0),
            CellClass::Marginal
        );
        assert_eq!(
            classify(&thin(0.015, 0.03, 3.0), 0.0, th, 0.0),
            CellClass::Marginal
        );
    }

    #[test]
    fn a_solid_tick_drawn_low_on_its_box_is_marked_but_a_short_or_faint_one_is_looked_at() {
        let th = MarkThresholds {
            marginal: 0.02,
            definite: 0.05,
        };
        assert_eq!(
            classify(&off_centre(0.03, 3.0), 0.0, th, 3.0),
            CellClass::Marked
        );
        // Reaching less than half a side in: maybe meant for a neighbour.
        assert_eq!(
            classify(&off_centre(0.03, 1.8), 0.0, th, 3.0),
            CellClass::Marginal
        );
        // Hardly any solid ink inside (pencil, a pen running dry).
        assert_eq!(
            classify(&off_centre(0.01, 3.0), 0.0, th, 3.0),
            CellClass::Marginal
        );
        // Not across the outline: a stroke inside only is judged by its score.
        assert_eq!(
            classify(&off_centre(0.03, 3.0), 0.0, th, 1.0),
            CellClass::Marginal
        );
    }

    /// A light stroke that the scan broke into short pieces, or that only touches the outline,
    /// is looked at, never a confident blank; a lone speck is not.
    #[test]
    fn a_stroke_in_pieces_or_touching_the_outline_is_looked_at() {
        let th = MarkThresholds {
            marginal: 0.02,
            definite: 0.05,
        };
        let piece = boxink::Blob {
            area_mm2: 0.3,
            span_mm: 0.7,
            thin_mm: 0.6,
            inside_mm2: 0.3,
            core_mm2: 0.1,
        };
        let pieces = BoxInk {
            score: 0.01,
            inside_reach: 1.9,
            pieces_reach: 1.9,
            blobs: vec![piece, piece],
            ..BoxInk::default()
        };
        assert_eq!(classify(&pieces, 0.0, th, 0.0), CellClass::Marginal);
        // One of the pieces alone, as a speck: nothing a person would look at.
        let speck = BoxInk {
            score: 0.005,
            inside_reach: 0.7,
            pieces_reach: 0.7,
            blobs: vec![piece],
            ..BoxInk::default()
        };
        assert_eq!(classify(&speck, 0.0, th, 0.0), CellClass::Empty);
        // The same clean box whose outline a stroke from outside touches for 0.7 mm.
        assert_eq!(
            classify(&BoxInk::default(), 0.0, th, 0.7),
            CellClass::Marginal
        );
        assert_eq!(classify(&BoxInk::default(), 0.0, th, 0.3), CellClass::Empty);
        // A light stroke a 1-bit threshold left as two dots of a few pixels, 2.3 mm apart.
        let dot = |mm2: f64| boxink::Blob {
            area_mm2: mm2,
            span_mm: 0.45,
            thin_mm: 0.3,
            inside_mm2: mm2,
            core_mm2: mm2,
        };
        let dots = BoxInk {
            score: 0.016,
            inside_reach: 0.4,
            pieces_reach: 2.3,
            blobs: vec![dot(0.12), dot(0.08)],
            ..BoxInk::default()
        };
        assert_eq!(classify(&dots, 0.0, th, 0.0), CellClass::Marginal);
        // A tick's arm outside the box that meets its outline near a corner: short, but it
        // thickens the outline where it meets it; the same blob apart from the outline is a
        // speck.
        let arm = boxink::Blob {
            area_mm2: 1.07,
            span_mm: 1.67,
            thin_mm: 1.0,
            inside_mm2: 0.0,
            core_mm2: 0.6,
        };
        let beside = BoxInk {
            score: 0.006,
            around: arm,
            blobs: vec![arm],
            ..BoxInk::default()
        };
        assert_eq!(classify(&beside, 0.0, th, 0.51), CellClass::Marginal);
        assert_eq!(classify(&beside, 0.0, th, 0.0), CellClass::Empty);
    }

    #[test]
    fn a_thin_straight_line_through_a_box_is_looked_at_never_counted() {
        let th = MarkThresholds {
            marginal: 0.02,
            definite: 0.05,
        };
        let mut streak = off_centre(0.06, 5.0);
        streak.around.span_mm = 7.0;
        streak.around.thin_mm = 0.4;
        assert_eq!(classify(&streak, 0.0, th, 3.0), CellClass::Marginal);
        // The same ink as a tick's two arms is a mark.
        streak.around.thin_mm = 3.0;
        assert_eq!(classify(&streak, 0.0, th, 3.0), CellClass::Marked);
    }

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
}
