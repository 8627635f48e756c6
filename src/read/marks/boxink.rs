//! The new ink in and around one tick box, judged against the page it is on.
//!
//! Every pixel within reach of the box gets its depth from the printed edge (see
//! [`BoxOnScan::depth`]) and its darkness below the paper around it ([`Dips`]). It is new ink
//! when darker than clean print and paper get at that depth on this page, by the page's faint
//! margin ([`PageInk`]): on open paper that is any visible stroke, across the printed outline
//! only ink beyond the print's own (a stroke crossing it or touching it from outside). New ink
//! is then taken as blobs (8-connected, across the outline too): their size and reach tell a
//! pen stroke from a speck, whatever the scanner.

use super::folds::{Crease, FOLD_HALF_MM};
use super::geometry::BoxOnScan;
use super::page_ink::{PageInk, RING_MM};
use super::paper::Dips;
use crate::read::px::PxBox;
use image::GrayImage;

/// A blob of new ink.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Blob {
    /// Ink-covered area, mm².
    pub area_mm2: f64,
    /// Longest side of its bounding box, mm.
    pub span_mm: f64,
    /// Shortest side of its bounding box, mm: a straight line along the image's axes (a
    /// scanner streak) is long and thin, a tick's two arms never are.
    pub thin_mm: f64,
    /// The part inside the box (within the outline's band), mm².
    pub inside_mm2: f64,
    /// Its core: the area at least half as dark as its darkest pixel, mm² (a dot's own size,
    /// without the halo blur gives it at the faint margin).
    pub core_mm2: f64,
}

/// At most this many blobs are kept per box, largest first: a box never needs more to judge.
const MAX_BLOBS: usize = 6;
/// The score counts solid ink this far (mm) inside the box's outer edge and deeper: the
/// printed stroke (0.3 mm, `TICK_STROKE`) plus 0.35 mm for re-centring and blur, the geometry
/// the form's marginal and definite thresholds were measured on.
const SCORE_INSET: f32 = 0.65;
/// A piece of a stroke covers at least this much (mm²): more than a speck of dust.
const PIECE_MM2: f64 = 0.1;
/// Blobs of fewer pixels are noise (JPEG grain, a lone speckle), not part of any stroke.
const NOISE_PX: usize = 3;

/// What one box holds.
#[derive(Debug, Clone, Default)]
pub struct BoxInk {
    /// Share of the inside (within the outline's band) at or below the page's dark level.
    pub score: f64,
    /// Share of the inside that is new ink at the faint margin.
    pub faint: f64,
    /// The blobs of new ink in and around the box (inside, or in the ring outside the
    /// outline's band), largest first.
    pub blobs: Vec<Blob>,
    /// How far the pieces of ink reaching into the box span together (mm): a tick crossing the
    /// outline two or three times is cut into pieces, each short, that a dot never spans.
    pub inside_reach: f64,
    /// The same down to pieces of a few pixels: a light stroke that a 1-bit threshold broke
    /// into dots. Only ever sends a box to a person (see `classify`), never makes a mark.
    pub pieces_reach: f64,
    /// All the blobs but lone noise taken together: a stroke crossing the outline is cut in two
    /// by it, a tick whose point lies on the outline shows only its arms, but their ink and
    /// reach add up.
    pub around: Blob,
    /// The inside as an axis-aligned pixel box.
    pub inside: PxBox,
    /// A straight line of solid ink runs across the whole region along the box's axes, ring
    /// to ring (a streak or a fold's crease, or a line ruled through; never a tick, whose
    /// strokes end at the box).
    pub line: bool,
    /// Ink lay wholly on a fold's crease and was left out, while faint ink off the crease
    /// fills more than a faint stroke's area inside: what the crease hid is for a person.
    pub crease_hid: bool,
    /// Ink across the printed outline, position by position along each of its four sides
    /// (one pixel per position, corners left out): darkness below the paper summed within
    /// [`ACROSS_MM`] of the stroke. Compared with the page's clean outlines by [`thickened_mm`].
    pub outline: [Vec<f32>; 4],
}

/// How far either side of the printed stroke the look across the outline reaches: past the
/// blur (≈ 0.2 mm) and far enough to take in a pen line's width where it crosses or touches.
pub const ACROSS_MM: f64 = 0.8;
/// Ink across the outline, beyond the most the page's clean outlines carry, that marks a
/// position as thickened, as a share of that: a pen line (≥ 0.3 mm, about as dark as print)
/// crossing or running along the outline adds about the printed 0.3 mm stroke's ink again;
/// the page's thickest clean positions already include blur, noise and 1-bit jags.
pub const THICKER: f64 = 0.4;
/// Shortest thickened stretch that counts (mm), so scattered positions never add up.
const STRETCH_MIN_MM: f64 = 0.5;
/// Corners left out of the outline measure (mm from the corner): there the perpendicular side
/// runs along the measurement.
const CORNER_MM: f64 = 0.8;

/// How much of a box's outline (mm, all four sides) carries [`THICKER`] more ink than
/// `printed`, the most a clean outline carries per position on this page, side by side.
#[must_use]
pub fn thickened_mm(outline: &[Vec<f32>; 4], printed: [f64; 4], px_per_mm: f64) -> f64 {
    let stretch_min = (STRETCH_MIN_MM * px_per_mm).round().max(1.0) as usize;
    let mut total = 0usize;
    for (side, &clean) in outline.iter().zip(&printed) {
        if clean <= 0.0 {
            continue;
        }
        // Stretches of thickened positions; one thin position inside a stretch (a pen line's
        // uneven edge) does not break it.
        let (mut run, mut gap) = (0usize, 0usize);
        for &a in side {
            if f64::from(a) >= clean * (1.0 + THICKER) {
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
    total as f64 / px_per_mm
}

/// The pixels looked at around box `b`: out to [`RING_MM`] beyond its outline, within `clip`
/// (its table cell, clear of the rules) and the image; `None` when nothing of it is left.
#[must_use]
pub fn region(img: &GrayImage, b: &BoxOnScan, clip: PxBox) -> Option<PxBox> {
    let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
    let r = b.reach(RING_MM);
    let region = (
        r.0.max(clip.0).max(0),
        r.1.max(clip.1).max(0),
        r.2.min(clip.2).min(iw),
        r.3.min(clip.3).min(ih),
    );
    (region.2 > region.0 && region.3 > region.1).then_some(region)
}

/// Measure the box `b` from its region's dips (see [`region`]): `dark` is the page's ink
/// level, `model` what clean paper and outline look like on this page.
#[must_use]
pub fn measure(
    img: &GrayImage,
    b: &BoxOnScan,
    dips: &Dips,
    dark: u8,
    model: &PageInk,
    folds: &[Crease],
) -> BoxInk {
    let iw = i64::from(img.width());
    let region = dips.region;
    let (w, h) = (region.2 - region.0, region.3 - region.1);
    let raw = img.as_raw();
    let row = |y: i64| &raw[(y * iw + region.0) as usize..(y * iw + region.2) as usize];
    let geo = Geo::of(b, region, model);
    let bands = side_bands(b, dips, &geo, model);
    // Masks over the region: 1 inside, 2 on the outline or outside it, with new ink; 0
    // otherwise.
    let (wu, hu) = (w as usize, h as usize);
    let mut mask = vec![0u8; wu * hu];
    // Each pixel inside the box: 1, and 2 more when solid ink (for the score without lines).
    let mut inside = vec![0u8; wu * hu];
    let s = b.px_per_mm;
    // The outline measure: sides top, bottom, left, right; one slot per pixel along the side.
    let along_n = (b.tick.w.max(b.tick.h) * s).ceil() as usize + 1;
    let mut outline: [Vec<f32>; 4] = std::array::from_fn(|_| vec![0.0; along_n]);
    let stroke_mid = crate::layout::TICK_STROKE / 2.0;
    let (across_lo, across_hi) = (stroke_mid - ACROSS_MM, stroke_mid + ACROSS_MM);
    let (mut n_in, mut n_dark, mut n_faint, mut n_marked) = (0u32, 0u32, 0u32, 0usize);
    let mut n_faint_off = 0u32;
    let (mut ix0, mut iy0, mut ix1, mut iy1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
    let ring = -model.ring_mm as f32;
    let (across_lo, across_hi) = (across_lo as f32, across_hi as f32);
    let (corner, side_len) = (CORNER_MM as f32, [b.tick.w as f32, b.tick.h as f32]);
    // Pixels on a fold's crease, with the darkest the crease's own ink is there (0 off it):
    // ink wholly on it and no darker is the paper's (see `blobs`).
    let crease_half = FOLD_HALF_MM * s;
    let mut creased = vec![0i16; if folds.is_empty() { 0 } else { wu * hu }];
    for (ry, y) in (region.1..region.3).enumerate() {
        let at = ry * wu;
        for (rx, (&g, &dip)) in row(y).iter().zip(dips.row(ry)).enumerate() {
            let k = at + rx;
            let d = geo.px[k].d;
            let side = usize::from(geo.px[k].side);
            if !folds.is_empty() {
                let (x, y) = ((region.0 + rx as i64) as f64, y as f64);
                creased[k] = folds
                    .iter()
                    .filter(|f| f.distance(x, y) <= crease_half)
                    .map(Crease::own_ink_max)
                    .max()
                    .unwrap_or(0);
            }
            let ink = d >= ring && dip >= geo.px[k].level;
            let (band_out, band_in) = bands[side];
            if d >= across_lo && d <= across_hi {
                // The position along the nearest side.
                let along = geo.px[k].along;
                if along >= corner && along <= side_len[side / 2] - corner {
                    let p = ((f64::from(along) * s) as usize).min(along_n - 1);
                    outline[side][p] += f32::from(dip);
                }
            }
            // Ink or solid ink where lines are judged (on paper, not on the print's band): a
            // line across the region needs some.
            if (ink || g <= dark) && d >= ring && (d >= band_in || d < band_out) {
                n_marked += 1;
            }
            if ink && d < band_in {
                // In the ring, or on the outline itself where ink goes beyond the print's own
                // (a pen line over a blurred 150-dpi outline, a tick's point on it): it joins
                // the pieces either side of the outline into one stroke.
                mask[k] = 2;
            }
            // The score's share is of the inside kept clear of the outline by at least the
            // printed geometry's margin, as the form's thresholds were measured on.
            if d >= band_in.max(SCORE_INSET) {
                inside[k] = 1 + 2 * u8::from(g <= dark);
                n_in += 1;
                n_dark += u32::from(g <= dark);
            }
            if d >= band_in {
                let x = region.0 + rx as i64;
                (ix0, iy0, ix1, iy1) = (ix0.min(x), iy0.min(y), ix1.max(x), iy1.max(y));
                if ink {
                    n_faint += 1;
                    n_faint_off += u32::from(creased.is_empty() || creased[k] == 0);
                    mask[k] = 1;
                }
            }
        }
    }
    // Straight lines along the box's own axes, when there is enough ink for one (a line runs
    // over a fifth of the region at least; most boxes hold far less and skip this pass):
    // - a fold's shadow or crease, faint and end to end, is the paper's, not a pen's: left out;
    // - a dark one (a streak, a crease, a line ruled through) is taken out too, and the box
    //   judged on what is left: a tick it crosses still reads, an empty box it crosses does
    //   not read as ticked. The caller sends such a box to a person unless what is left is a
    //   mark.
    let mut line = false;
    if n_marked as f64 >= 0.2 * w.min(h) as f64 {
        let n_bins = ((b.tick.w.max(b.tick.h) + 2.0 * model.ring_mm) * s).ceil() as usize + 2;
        let mut lines = Lines::new(n_bins);
        // The same along the image's own rows and columns: a scanner streak runs straight in
        // the image, not along a turned page's box (at 3° a box-grid row drifts off it by a
        // pixel every 20).
        let mut streaks = Lines::new(wu.max(hu));
        let at = |rx: usize, ry: usize| (rx as i16, ry as i16);
        let last_bin = (n_bins - 1) as i32;
        // Truncation toward zero floors the non-negative values; anything below is bin 0.
        let bin = |t: f64| (((t + model.ring_mm) * s) as i32).clamp(0, last_bin) as i16;
        // Each pixel's row and column of the box's own grid (one pixel wide); -1 beyond the
        // ring.
        let mut bins = vec![(-1i16, -1i16); wu * hu];
        for (ry, y) in (region.1..region.3).enumerate() {
            for (rx, (&g, &dip)) in row(y).iter().zip(dips.row(ry)).enumerate() {
                let k = ry * wu + rx;
                let d = geo.px[k].d;
                if d >= ring {
                    let (band_out, band_in) = bands[usize::from(geo.px[k].side)];
                    bins[k] = (bin(f64::from(geo.px[k].u)), bin(f64::from(geo.px[k].v)));
                    if d >= band_in || d < band_out {
                        let (ink, solid) = (dip >= geo.px[k].level, g <= dark);
                        lines.add(bins[k], ink, solid);
                        streaks.add(at(rx, ry), ink, solid);
                    }
                }
            }
        }
        lines.settle();
        streaks.settle();
        line = lines.dark_line() || streaks.dark_line();
        let px = |k: usize| at(k % wu, k / wu);
        if line {
            (n_in, n_dark) = (0, 0);
            for (k, (i, b)) in inside.iter().zip(&bins).enumerate() {
                if *i != 0 && !lines.on_dark_line(*b) && !streaks.on_dark_line(px(k)) {
                    n_in += 1;
                    n_dark += u32::from(*i == 3);
                }
            }
        }
        for (k, (m, b)) in mask.iter_mut().zip(&bins).enumerate() {
            let on = |l: &Lines, at| l.on_line(at) || l.on_dark_line(at);
            if *m != 0 && (on(&lines, *b) || on(&streaks, px(k))) {
                *m = 0;
            }
        }
    }
    let found = blobs(&mut mask, &dips.values, &creased, wu, hu, b.px_per_mm);
    let crease_hid =
        found.dropped && f64::from(n_faint_off) / (s * s) >= crate::read::marks::FAINT_STROKE_MM2;
    BoxInk {
        score: if n_in > 0 {
            f64::from(n_dark) / f64::from(n_in)
        } else {
            0.0
        },
        faint: if n_in > 0 {
            f64::from(n_faint) / f64::from(n_in)
        } else {
            0.0
        },
        blobs: found.blobs,
        around: found.around,
        inside_reach: found.inside_reach,
        pieces_reach: found.pieces_reach,
        inside: if n_in > 0 {
            (ix0, iy0, ix1 + 1, iy1 + 1)
        } else {
            (0, 0, 0, 0)
        },
        line,
        crease_hid,
        outline: outline.map(|side| {
            // Only the positions along the side (between the corners) were filled.
            let from = (CORNER_MM * s).ceil() as usize;
            let to = ((b.tick.w - CORNER_MM) * s).floor() as usize;
            side.get(from..to.min(side.len()))
                .map(<[f32]>::to_vec)
                .unwrap_or_default()
        }),
    }
}

/// Share of a row (column) of the box's grid that new ink must cover for a faint straight
/// line (a fold's crease, broken up by noise and JPEG)…
const LINE_SHARE: f64 = 0.4;
/// …running from end to end of it: a pen stroke ends at its box, a fold runs off the page.
const LINE_REACH: f64 = 0.8;
/// Share of a row (column) of the box's grid that solid ink must cover for a dark straight
/// line: a tick's arm ends at the outline, at most ≈ 75 % of the way from ring to ring.
const DARK_LINE_SHARE: f64 = 0.9;

/// One row or column of a box's grid: pixels looked at, new ink, solid ink, and the extent
/// (positions along it) of the pixels looked at and of the new ink.
#[derive(Clone, Copy)]
struct Track {
    looked: u32,
    ink: u32,
    dark: u32,
    span: (i16, i16),
    ink_span: (i16, i16),
}

impl Track {
    const EMPTY: Self = Self {
        looked: 0,
        ink: 0,
        dark: 0,
        span: (i16::MAX, i16::MIN),
        ink_span: (i16::MAX, i16::MIN),
    };

    fn add(&mut self, at: i16, ink: bool, dark: bool) {
        self.looked += 1;
        self.span = (self.span.0.min(at), self.span.1.max(at));
        if ink {
            self.ink += 1;
            self.ink_span = (self.ink_span.0.min(at), self.ink_span.1.max(at));
        }
        self.dark += u32::from(dark);
    }

    /// A faint straight line along it: new ink over much of it, from end to end, none solid.
    fn faint_line(&self, full: u32) -> bool {
        let length = i32::from(self.span.1) - i32::from(self.span.0);
        let inked = i32::from(self.ink_span.1) - i32::from(self.ink_span.0);
        self.dark == 0
            && f64::from(self.looked) >= 0.5 * f64::from(full)
            && f64::from(self.ink) >= LINE_SHARE * f64::from(self.looked)
            && f64::from(inked) >= LINE_REACH * f64::from(length)
    }

    /// A dark straight line along it: solid ink over nearly all of it.
    fn dark_line(&self, full: u32) -> bool {
        f64::from(self.looked) >= 0.5 * f64::from(full)
            && f64::from(self.dark) >= DARK_LINE_SHARE * f64::from(self.looked)
    }
}

/// Per row and column of a box's grid, what lies along it.
struct Lines {
    rows: Vec<Track>,
    cols: Vec<Track>,
    /// Longest row (column) looked at: a line must run across most of it.
    full: (u32, u32),
    on_rows: Vec<bool>,
    on_cols: Vec<bool>,
    dark_rows: Vec<bool>,
    dark_cols: Vec<bool>,
}

impl Lines {
    fn new(n: usize) -> Self {
        Self {
            rows: vec![Track::EMPTY; n],
            cols: vec![Track::EMPTY; n],
            full: (0, 0),
            on_rows: Vec::new(),
            on_cols: Vec::new(),
            dark_rows: Vec::new(),
            dark_cols: Vec::new(),
        }
    }

    fn add(&mut self, (u, v): (i16, i16), ink: bool, dark: bool) {
        self.cols[u as usize].add(v, ink, dark);
        self.rows[v as usize].add(u, ink, dark);
    }

    /// Decide which rows and columns are straight lines, faint or dark.
    fn settle(&mut self) {
        let longest = |t: &[Track]| t.iter().map(|c| c.looked).max().unwrap_or(0);
        self.full = (longest(&self.rows), longest(&self.cols));
        let (fr, fc) = self.full;
        self.on_rows = self.rows.iter().map(|c| c.faint_line(fr)).collect();
        self.on_cols = self.cols.iter().map(|c| c.faint_line(fc)).collect();
        self.dark_rows = self.rows.iter().map(|c| c.dark_line(fr)).collect();
        self.dark_cols = self.cols.iter().map(|c| c.dark_line(fc)).collect();
    }

    /// Whether solid ink covers a whole row or column of the box's grid.
    fn dark_line(&self) -> bool {
        self.dark_rows.iter().any(|&d| d) || self.dark_cols.iter().any(|&d| d)
    }

    /// On a dark line, or the pixel either side of it (its blur).
    fn on_dark_line(&self, (u, v): (i16, i16)) -> bool {
        let near = |t: &[bool], k: i16| {
            k >= 0 && (-1..=1).any(|o| t.get((k + o).max(0) as usize).copied().unwrap_or(false))
        };
        near(&self.dark_cols, u) || near(&self.dark_rows, v)
    }

    fn on_line(&self, (u, v): (i16, i16)) -> bool {
        u >= 0 && v >= 0 && (self.on_cols[u as usize] || self.on_rows[v as usize])
    }
}

/// Each pixel of a region's place around the box, worked out once: its depth from the printed
/// edge, nearest side and position along it, box-local position, and the dip from which it
/// is new ink there.
struct Geo {
    px: Vec<GeoPx>,
}

/// One pixel's place (see [`Geo`]).
#[derive(Clone, Copy)]
struct GeoPx {
    d: f32,
    along: f32,
    u: f32,
    v: f32,
    level: i16,
    side: u8,
}

impl Geo {
    fn of(b: &BoxOnScan, region: PxBox, model: &PageInk) -> Self {
        let n = ((region.2 - region.0) * (region.3 - region.1)).max(0) as usize;
        let mut px = Vec::with_capacity(n);
        let levels = model.level_table();
        let (w, h) = (b.tick.w as f32, b.tick.h as f32);
        let step = b.step_x();
        let (sx, sy) = (step.0 as f32, step.1 as f32);
        for y in region.1..region.3 {
            let (u0, v0) = b.local(region.0, y);
            let (mut u, mut v) = (u0 as f32, v0 as f32);
            for _ in region.0..region.2 {
                // Signed distances to the four sides' lines, positive inside; the nearer of
                // top/bottom and of left/right, then the nearer of those.
                let (top, bottom, left, right) = (v, h - v, u, w - u);
                let tb = if top.abs() <= bottom.abs() {
                    (0u8, top)
                } else {
                    (1, bottom)
                };
                let lr = if left.abs() <= right.abs() {
                    (2u8, left)
                } else {
                    (3, right)
                };
                let (near, other) = if tb.1.abs() <= lr.1.abs() {
                    (tb, lr)
                } else {
                    (lr, tb)
                };
                let d = if near.1 >= 0.0 && other.1 >= 0.0 {
                    near.1
                } else {
                    // Outside: beside a side one distance is 0, past a corner both count.
                    let (dx, dy) = ((-tb.1).max(0.0), (-lr.1).max(0.0));
                    if dx == 0.0 || dy == 0.0 {
                        -(dx + dy)
                    } else {
                        -(dx * dx + dy * dy).sqrt()
                    }
                };
                px.push(GeoPx {
                    d,
                    along: if near.0 < 2 { u } else { v },
                    u,
                    v,
                    level: levels.at(near.1, other.1),
                    side: near.0,
                });
                u += sx;
                v += sy;
            }
        }
        Self { px }
    }
}

/// How far (mm) one side's band may reach beyond the page's: a box printed a little heavier,
/// or placed a pixel off by re-centring, but never a tick's width.
const SIDE_BAND_MM: f64 = 0.3;

/// The printed outline's band on each side of this box: the page's band, widened where this
/// box's own outline is thicker or a pixel off (its mean darkness by depth, side by side).
fn side_bands(b: &BoxOnScan, dips: &Dips, geo: &Geo, model: &PageInk) -> [(f32, f32); 4] {
    let (lo, hi) = (model.band.0 - SIDE_BAND_MM, model.band.1 + SIDE_BAND_MM);
    let bin_mm = model.bin_mm;
    let n = ((hi - lo) / bin_mm).ceil() as usize + 1;
    // Per side and depth: pixels, and those at least `edge` below the paper. The median along a
    // side (its print, whatever a tick crossing part of it adds) reaches `edge` when half do.
    let edge = i16::from(model.paper_dip) + i16::from(model.faint_drop);
    let mut count = [(); 4].map(|()| vec![(0u32, 0u32); n]);
    let (lo32, hi32, per) = (lo as f32, hi as f32, (1.0 / bin_mm) as f32);
    let (corner, side_len) = (CORNER_MM as f32, [b.tick.w as f32, b.tick.h as f32]);
    for (k, &dip) in dips.values.iter().enumerate() {
        let d = geo.px[k].d;
        if d >= lo32 && d < hi32 {
            let side = usize::from(geo.px[k].side);
            let along = geo.px[k].along;
            if along >= corner && along <= side_len[side / 2] - corner {
                let c = &mut count[side][(((d - lo32) * per) as usize).min(n - 1)];
                c.0 += 1;
                c.1 += u32::from(dip >= edge);
            }
        }
    }
    std::array::from_fn(|side| {
        let dark = |k: usize| {
            let (all, over) = count[side][k];
            all > 0 && 2 * over >= all
        };
        let depth = |k: usize| (lo + k as f64 * bin_mm) as f32;
        // Widen the page's band while this side's print still darkens the paper next to it.
        let mut band = (model.band.0 as f32, model.band.1 as f32);
        let bin_mm = bin_mm as f32;
        let mut k = ((model.band.0 - lo) / model.bin_mm) as usize;
        while k > 0 && dark(k - 1) {
            k -= 1;
            band.0 = depth(k) - bin_mm;
        }
        let mut k = (((model.band.1 - lo) / model.bin_mm) as usize).min(n - 1);
        while k + 1 < n && dark(k) {
            k += 1;
            band.1 = depth(k) + bin_mm;
        }
        band
    })
}

/// What [`blobs`] found in a box's mask (see the fields of [`BoxInk`] of the same names).
struct Blobs {
    blobs: Vec<Blob>,
    around: Blob,
    inside_reach: f64,
    pieces_reach: f64,
    /// Ink lying wholly on a fold's crease was left out.
    dropped: bool,
}

/// The 8-connected blobs of the mask (1 inside the box, 2 elsewhere), largest first, clearing
/// the mask (pixels on straight lines are 0 already); all of them but lone noise taken
/// together; and whether any blob more than noise lay wholly on a fold's crease, no darker
/// than the crease's own ink (`creased`: that darkest per pixel, 0 off it; empty when no fold
/// crosses), and was left out.
fn blobs(
    mask: &mut [u8],
    dips: &[i16],
    creased: &[i16],
    w: usize,
    h: usize,
    px_per_mm: f64,
) -> Blobs {
    let mut dropped = false;
    // (pixels, inside pixels, x0, y0, x1, y1, core pixels)
    let mut found: Vec<(usize, usize, usize, usize, usize, usize, usize)> = Vec::new();
    let mut stack = Vec::new();
    let mut members = Vec::new();
    for start in 0..mask.len() {
        if mask[start] == 0 {
            continue;
        }
        let mut inside = usize::from(mask[start] == 1);
        mask[start] = 0;
        stack.clear();
        stack.push(start);
        let (mut n, mut x0, mut y0, mut x1, mut y1) = (0usize, w, h, 0usize, 0usize);
        members.clear();
        while let Some(i) = stack.pop() {
            let (x, y) = (i % w, i / w);
            n += 1;
            members.push(i);
            (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
            for (dx, dy) in [
                (-1i64, -1i64),
                (0, -1),
                (1, -1),
                (-1, 0),
                (1, 0),
                (-1, 1),
                (0, 1),
                (1, 1),
            ] {
                let (nx, ny) = (x as i64 + dx, y as i64 + dy);
                if nx < 0 || ny < 0 || nx >= w as i64 || ny >= h as i64 {
                    continue;
                }
                let j = ny as usize * w + nx as usize;
                if mask[j] != 0 {
                    inside += usize::from(mask[j] == 1);
                    mask[j] = 0;
                    stack.push(j);
                }
            }
        }
        // Ink lying wholly on a fold's crease is the crease; a stroke across it reaches out of
        // it and is kept whole.
        if !creased.is_empty() && members.iter().all(|&i| dips[i] <= creased[i]) {
            dropped |= members.len() >= NOISE_PX;
            continue;
        }
        let peak = members.iter().map(|&i| dips[i]).max().unwrap_or(0);
        let core = members.iter().filter(|&&i| 2 * dips[i] >= peak).count();
        found.push((n, inside, x0, y0, x1, y1, core));
    }
    let px2 = px_per_mm * px_per_mm;
    let blob =
        |n: usize, inside: usize, x0: usize, y0: usize, x1: usize, y1: usize, core: usize| Blob {
            area_mm2: n as f64 / px2,
            span_mm: ((x1 - x0).max(y1 - y0) + 1) as f64 / px_per_mm,
            thin_mm: ((x1 - x0).min(y1 - y0) + 1) as f64 / px_per_mm,
            inside_mm2: inside as f64 / px2,
            core_mm2: core as f64 / px2,
        };
    // Everything but lone noise taken together, like a person glancing at the box: a stroke
    // cut by the outline, or a tick whose point lies on the outline and whose arm is outside.
    let kept: Vec<_> = found.iter().filter(|f| f.0 >= NOISE_PX).copied().collect();
    let around = if kept.is_empty() {
        Blob::default()
    } else {
        blob(
            kept.iter().map(|m| m.0).sum(),
            kept.iter().map(|m| m.1).sum(),
            kept.iter().map(|m| m.2).min().unwrap_or(0),
            kept.iter().map(|m| m.3).min().unwrap_or(0),
            kept.iter().map(|m| m.4).max().unwrap_or(0),
            kept.iter().map(|m| m.5).max().unwrap_or(0),
            kept.iter().map(|m| m.6).sum(),
        )
    };
    // How far the pieces reaching into the box, each of at least `least` pixels, span
    // together.
    let reach = |least: usize| {
        let pieces: Vec<_> = found.iter().filter(|f| f.1 > 0 && f.0 >= least).collect();
        if pieces.is_empty() {
            return 0.0;
        }
        let x0 = pieces.iter().map(|m| m.2).min().unwrap_or(0);
        let y0 = pieces.iter().map(|m| m.3).min().unwrap_or(0);
        let x1 = pieces.iter().map(|m| m.4).max().unwrap_or(0);
        let y1 = pieces.iter().map(|m| m.5).max().unwrap_or(0);
        ((x1 - x0).max(y1 - y0) + 1) as f64 / px_per_mm
    };
    // A stroke's pieces are each more than a speck; a stroke thresholded into dots is not.
    let inside_reach = reach((PIECE_MM2 * px2).ceil() as usize);
    let pieces_reach = reach(NOISE_PX);
    let mut out: Vec<Blob> = found
        .iter()
        .map(|&(n, i, x0, y0, x1, y1, c)| blob(n, i, x0, y0, x1, y1, c))
        .collect();
    out.sort_by(|a, b| b.area_mm2.total_cmp(&a.area_mm2));
    out.truncate(MAX_BLOBS);
    Blobs {
        blobs: out,
        around,
        inside_reach,
        pieces_reach,
        dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_measured_in_millimetres_with_their_inside_part() {
        // 10 px/mm; a 3 × 20 px stroke, its lower half inside the box, and a 2 × 2 px speck.
        let (w, h) = (40usize, 40usize);
        let mut mask = vec![0u8; w * h];
        for y in 5..25 {
            for x in 10..13 {
                mask[y * w + x] = if y >= 15 { 1 } else { 2 };
            }
        }
        for y in 30..32 {
            for x in 30..32 {
                mask[y * w + x] = 2;
            }
        }
        // A diagonal pixel joins in 8-connectivity.
        mask[25 * w + 13] = 1;
        let dips = vec![50i16; w * h];
        let found = blobs(&mut mask, &dips, &[], w, h, 10.0);
        let (b, around, reach) = (found.blobs, found.around, found.inside_reach);
        assert!((reach - 2.1).abs() < 1e-9, "{reach}");
        assert_eq!(b.len(), 2);
        // Together: both areas, the reach from the stroke's top to the speck's bottom.
        assert!((around.area_mm2 - 0.65).abs() < 1e-9 && (around.span_mm - 2.7).abs() < 1e-9);
        assert!((b[0].area_mm2 - 0.61).abs() < 1e-9, "{b:?}");
        assert!((b[0].span_mm - 2.1).abs() < 1e-9, "{b:?}");
        assert!((b[0].inside_mm2 - 0.31).abs() < 1e-9, "{b:?}");
        assert!((b[1].area_mm2 - 0.04).abs() < 1e-9 && b[1].inside_mm2 == 0.0);
        assert!(mask.iter().all(|&m| m == 0));
    }

    #[test]
    fn ink_on_a_folds_crease_no_darker_than_it_is_dropped_a_stroke_across_or_a_dot_on_it_kept() {
        // 10 px/mm; the crease: rows 18..22 (the strip around a fold at row 20).
        let (w, h) = (40usize, 40usize);
        let creased: Vec<i16> = (0..w * h)
            .map(|i| if (18..22).contains(&(i / w)) { 42 } else { 0 })
            .collect();
        let mut mask = vec![0u8; w * h];
        // The crease's own ink, broken: two runs along it.
        for x in (2..14).chain(20..26) {
            mask[20 * w + x] = 1;
        }
        // A faint stroke crossing it, from row 10 to row 30 at column 32.
        for y in 10..30 {
            mask[y * w + 32] = 1;
        }
        let mut dips = vec![30i16; w * h];
        // A pen dot on the crease, darker than the crease can be: kept.
        for x in 16..18 {
            mask[20 * w + x] = 1;
            mask[19 * w + x] = 1;
            dips[20 * w + x] = 90;
        }
        let found = blobs(&mut mask, &dips, &creased, w, h, 10.0);
        let (b, reach) = (found.blobs, found.inside_reach);
        assert!(found.dropped);
        assert_eq!(b.len(), 2, "{b:?}");
        assert!((b[0].span_mm - 2.0).abs() < 1e-9, "{b:?}");
        assert!((reach - 2.0).abs() < 1e-9, "{reach}");
    }
}
