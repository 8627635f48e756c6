//! What clean paper and a clean printed tick box look like on this page: the measure against
//! which new ink is judged.
//!
//! A 1-bit 200-dpi scan thickens and jags the printed outline and sprinkles threshold speckle;
//! a gray 300-dpi one blurs it a little and adds sensor noise; JPEG rings around it; a 150-dpi
//! office copier smears it over a millimetre. A reader with fixed margins takes the first for
//! pen and misses light pencil on the last. So before any box is judged, the page's boxes are
//! looked at together (most of them are empty), by depth from the printed edge (see
//! [`BoxOnScan::depth`]):
//! - how dark clean print and paper get at each depth (a high percentile over every pixel at
//!   that depth): pen is what goes beyond it, on the paper and across the outline alike;
//! - where the print itself lies (the band left out of a box's score);
//! - how far clean paper inside the boxes dips below its own level (noise, speckle, JPEG):
//!   new ink must go clearly beyond that.

use super::geometry::BoxOnScan;
use super::paper::Dips;
use crate::layout::TICK_STROKE;
use crate::read::levels::Otsu;

/// How far outside the outline pen strokes are looked for (mm): a tick that overshoots its
/// box, while staying inside the table cell (the cell's rules clip it further).
pub const RING_MM: f64 = 1.3;
/// Fewer boxes than this on a page and their statistics are no measure: fixed margins apply.
const MIN_BOXES: usize = 6;
/// At most this many boxes, spread over the page, are measured for the model: their median
/// needs a majority of clean ones, not all of them.
const MODEL_BOXES: usize = 40;
/// Depth (mm) from which a box's inside counts as its centre for the noise measure: clear of
/// the outline's blur and ringing at any resolution.
const CENTRE_DEPTH_MM: f64 = 1.2;
/// How much darker than the page's usual one a box's print may be (toner, blur, the outline's
/// phase on the pixel grid): a quarter of the print's darkness (1 / this).
pub const PRINT_SPREAD_DIV: i32 = 4;
/// How far (mm) a box's printed outline may lie from where the page's geometry and its own
/// re-centring put it: a pixel at 300 dpi, two at 200 and 150.
const PLACE_SLACK_MM: f64 = 0.2;
/// Clean paper's spread: its dips up to this share of a box centre's pixels.
const NOISE_QUANTILE: f64 = 0.99;
/// How dark clean print and paper may get at a depth: this share of all pixels at that depth
/// (pen covers well under a tenth of the boxes' pixels at any depth, a 1-bit scan's jags and
/// a blurred scan's tails are in).
const EXPECT_QUANTILE: f64 = 0.9;
/// New ink must be this many times further below the paper than clean paper's own spread
/// (its 99th percentile dip over its median): Gaussian noise puts the margin at 4.6 σ (one
/// pixel in 300,000)…
const NOISE_FACTOR: f64 = 2.0;
/// …and never less than this share of the paper-to-ink contrast: quantisation, scanner gamma,
/// paper fibre and a fold's shadow vary clean paper by up to ≈ 8 % of it even on a noiseless
/// scan, while light pencil, the faintest deliberate stroke, reaches ≥ 20 %…
const FAINT_FLOOR: f64 = 0.06;
/// …nor more: a light ballpoint blurred by the scanner (gray 140–175 on paper ≈ 240) stays at
/// least 40 % of the contrast below the paper.
const FAINT_CAP: f64 = 0.25;
/// The print's band reaches where its median darkness is this share of the print's own at its
/// darkest (half the blur's reach, whatever the page's faint margin)…
const BAND_EDGE: f64 = 0.25;
/// How far (mm) inside the band clean print's expected darkness is still learned from the page
/// (the blur's tail reaching into the box); deeper, every box's middle is crossed by ticks and
/// paper is expected.
const TAIL_MM: f64 = 0.4;
/// …plus this many pixels either side for a box's own position, which re-centring knows to a
/// pixel.
const BAND_GUARD_PX: f64 = 1.0;
/// The band never reaches further than this (mm) out of or into the box, whatever the
/// profile says (a page of filled boxes would say anything).
const BAND_MAX_MM: f64 = 0.9;

/// The page's measure of new ink.
#[derive(Debug, Clone, PartialEq)]
pub struct PageInk {
    /// A pixel is new ink when at least this much darker (gray levels) than clean print and
    /// paper get at its depth ([`PageInk::expect`]).
    pub faint_drop: u8,
    /// The printed outline's band as this scan shows it: depths (mm from the printed box's
    /// outer edge, positive inside) between which pixels are mostly print. Inside it is the
    /// box's inside, outside it the ring.
    pub band: (f64, f64),
    /// How far outside the outline new ink is looked for (mm).
    pub ring_mm: f64,
    /// Darkness below the paper that clean print and paper reach, per depth bin of
    /// [`PageInk::bin_mm`] from `-ring_mm` on (the last bin holds for all deeper pixels).
    expect: Vec<u8>,
    /// Width of a depth bin (mm): one pixel.
    pub bin_mm: f64,
    /// Depth bins per millimetre (1 / `bin_mm`, for the per-pixel lookup).
    per_mm: f64,
    /// How far clean paper's median pixel lies below the paper level (the level's own bias).
    pub paper_dip: u8,
}

impl PageInk {
    /// The fixed margins, for pages with too few boxes to measure.
    #[must_use]
    pub fn fixed(page: &Otsu, px_per_mm: f64) -> Self {
        let contrast = (page.light_mean - page.dark_mean).max(0.0);
        let band = (-0.35, TICK_STROKE + 0.35);
        let bin_mm = 1.0 / px_per_mm.max(1.0);
        let bins = ((band.1 + RING_MM) / bin_mm).ceil() as usize + 1;
        // Inside the band anything up to full print is expected; outside, paper.
        let expect = (0..bins)
            .map(|k| {
                let d = -RING_MM + k as f64 * bin_mm;
                if d >= band.0 && d < band.1 {
                    255
                } else {
                    0
                }
            })
            .collect();
        Self {
            faint_drop: (FAINT_CAP * contrast).clamp(1.0, 255.0) as u8,
            band,
            ring_mm: RING_MM,
            expect,
            bin_mm,
            per_mm: 1.0 / bin_mm,
            paper_dip: 0,
        }
    }

    /// How dark (below the paper) clean print and paper get at depth `d` (mm).
    #[inline]
    #[must_use]
    pub fn expect_at(&self, d: f64) -> u8 {
        // Truncation of a negative value is 0: the ring's outer edge and beyond share bin 0.
        let k = ((d + self.ring_mm) * self.per_mm) as usize;
        self.expect
            .get(k.min(self.expect.len().saturating_sub(1)))
            .copied()
            .unwrap_or(0)
    }

    /// The dip (below the paper) from which a pixel at depth `d` (mm) is new ink: beyond what
    /// clean print and paper reach there by the faint margin, and where print is, by
    /// [`PRINT_SPREAD_DIV`] of the print's own darkness more (boxes differ in toner and blur).
    #[must_use]
    pub fn ink_level(&self, d: f64) -> i16 {
        self.ink_level_of(i32::from(self.expect_at(d)))
    }

    /// [`PageInk::ink_level`] near a corner, where the tails of two sides add up: `a` and `b`
    /// are the signed distances (mm, positive inside) to the two nearest sides' lines.
    #[inline]
    #[must_use]
    pub fn ink_level_near_corner(&self, a: f64, b: f64) -> i16 {
        let e =
            i32::from(self.expect_at(a)) + i32::from(self.expect_at(b)) - i32::from(self.paper_dip);
        self.ink_level_of(e.min(255))
    }

    /// In integers (the reader's innermost loop): the expectation plus its
    /// [`PRINT_SPREAD_DIV`] share, plus the faint margin.
    /// The table behind [`PageInk::ink_level_near_corner`], for a per-pixel loop: see
    /// [`LevelTable::at`].
    #[must_use]
    pub fn level_table(&self) -> LevelTable {
        LevelTable {
            expect: self.expect.iter().map(|&e| i32::from(e)).collect(),
            per_mm: self.per_mm as f32,
            ring: self.ring_mm as f32,
            bias: i32::from(self.paper_dip),
            drop: i32::from(self.faint_drop),
        }
    }

    #[inline]
    fn ink_level_of(&self, expect: i32) -> i16 {
        (expect + expect / PRINT_SPREAD_DIV + i32::from(self.faint_drop)) as i16
    }

    /// Measure the page from its boxes (`clips`: each box's table cell clear of its rules).
    #[must_use]
    pub fn measure(boxes: &[BoxOnScan], dips: &[Option<&Dips>], page: &Otsu) -> Self {
        let s = boxes.first().map_or(1.0, |b| b.px_per_mm);
        let fixed = Self::fixed(page, s);
        if boxes.len() < MIN_BOXES {
            return fixed;
        }
        let contrast = (page.light_mean - page.dark_mean).max(1.0);
        // Depth bins one pixel wide, from the ring's outer edge to the box's centre.
        let bin_mm = 1.0 / s;
        let lo = -RING_MM;
        let bins = ((boxes[0].tick.w.min(boxes[0].tick.h) / 2.0 - lo) / bin_mm).ceil() as usize + 1;
        let mut acc = Accumulated::new(bins);
        let mut measured = 0;
        for i in model_boxes(boxes.len()) {
            if let (Some(b), Some(Some(dips))) = (boxes.get(i), dips.get(i)) {
                acc.add_box(b, dips, bin_mm, lo);
                measured += 1;
            }
        }
        if measured < MIN_BOXES || acc.centres.len() < MIN_BOXES {
            return fixed;
        }
        // Box by box, then the median box: a ticked box's centre is no measure of paper.
        let median_of = |mut v: Vec<u8>| {
            v.sort_unstable();
            v[v.len() / 2]
        };
        let bias = median_of(acc.centres.iter().map(|h| percentile(h, 0.5)).collect());
        let reach = median_of(
            acc.centres
                .iter()
                .map(|h| percentile(h, NOISE_QUANTILE))
                .collect(),
        );
        let faint_drop = (NOISE_FACTOR * f64::from(reach.saturating_sub(bias)))
            .clamp(FAINT_FLOOR * contrast, FAINT_CAP * contrast)
            .clamp(1.0, 255.0) as u8;
        let median: Vec<f64> = acc
            .by_depth
            .iter()
            .map(|h| f64::from(percentile(h, 0.5)))
            .collect();
        // The print's darkest bin lies in the printed stroke; the band reaches out both ways
        // while the print still darkens the paper noticeably.
        let printed_hi = ((TICK_STROKE + 0.2 - lo) / bin_mm).ceil() as usize;
        let Some(peak) = (0..printed_hi.min(bins)).max_by(|&a, &b| median[a].total_cmp(&median[b]))
        else {
            return fixed;
        };
        let edge = f64::from(bias) + BAND_EDGE * (median[peak] - f64::from(bias)).max(0.0);
        let mut a = peak;
        while a > 0 && median[a - 1] >= edge {
            a -= 1;
        }
        let mut b = peak;
        while b + 1 < bins && median[b + 1] >= edge {
            b += 1;
        }
        let guard = BAND_GUARD_PX * bin_mm;
        let band = (
            (lo + a as f64 * bin_mm - guard).max(-BAND_MAX_MM),
            (lo + (b + 1) as f64 * bin_mm + guard).min(TICK_STROKE + BAND_MAX_MM),
        );
        // Out to the ring's edge and into the box past the blur's tail, what clean print and
        // paper reach there; deeper, paper (every tick crosses a box's middle).
        let expect: Vec<u8> = acc
            .by_depth
            .iter()
            .enumerate()
            .map(|(k, h)| {
                let d = lo + (k as f64 + 0.5) * bin_mm;
                if d < band.1 + TAIL_MM {
                    percentile(h, EXPECT_QUANTILE).max(bias)
                } else {
                    bias
                }
            })
            .collect();
        // A box is placed to the pixel, and its sides may lie a little askew of the page's
        // geometry (paper stretch, a slightly turned print): each depth may show what the
        // print shows [`PLACE_SLACK_MM`] further in or out.
        let slack = (PLACE_SLACK_MM / bin_mm).round().max(1.0) as usize;
        let expect: Vec<u8> = (0..expect.len())
            .map(|k| {
                let (a, b) = (k.saturating_sub(slack), (k + slack).min(expect.len() - 1));
                expect[a..=b].iter().copied().max().unwrap_or(0)
            })
            .collect();
        Self {
            faint_drop,
            band,
            ring_mm: RING_MM,
            expect,
            bin_mm,
            per_mm: 1.0 / bin_mm,
            paper_dip: bias,
        }
    }
}

/// Which of `n` boxes (in the layout's order, row by row) the model measures: all when few,
/// else [`MODEL_BOXES`] spread by the golden ratio. A fixed stride can fall in step with a
/// row's options (every 4th box of a 4-grade scale is one column, often the ticked one) and
/// measure only ticked boxes; the golden ratio's steps never repeat a period.
fn model_boxes(n: usize) -> Vec<usize> {
    if n <= MODEL_BOXES {
        return (0..n).collect();
    }
    // (√5 − 1) / 2: the most irrational step, so consecutive picks never align with a period.
    const GOLDEN: f64 = 0.618_033_988_749_894_9;
    let mut v: Vec<usize> = (0..MODEL_BOXES)
        .map(|i| ((i as f64 * GOLDEN).fract() * n as f64) as usize)
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// [`PageInk::ink_level_near_corner`] in single-precision integer steps, for the reader's
/// innermost loop.
#[derive(Debug, Clone)]
pub struct LevelTable {
    expect: Vec<i32>,
    per_mm: f32,
    ring: f32,
    bias: i32,
    drop: i32,
}

impl LevelTable {
    #[inline]
    fn expect(&self, d: f32) -> i32 {
        // Truncation of a negative value is 0: the ring's outer edge and beyond share bin 0.
        let k = ((d + self.ring) * self.per_mm) as usize;
        self.expect[k.min(self.expect.len() - 1)]
    }

    /// The dip from which a pixel is new ink, `a` and `b` (mm) its signed distances to the two
    /// nearest sides' lines (the same value as [`PageInk::ink_level_near_corner`]).
    #[inline]
    #[must_use]
    pub fn at(&self, a: f32, b: f32) -> i16 {
        let e = (self.expect(a) + self.expect(b) - self.bias).min(255);
        (e + e / PRINT_SPREAD_DIV + self.drop) as i16
    }
}

/// Darkness histograms of the model's boxes: per depth bin, and of each box's centre.
struct Accumulated {
    by_depth: Vec<[u32; 256]>,
    centres: Vec<[u32; 256]>,
}

impl Accumulated {
    fn new(bins: usize) -> Self {
        Self {
            by_depth: vec![[0; 256]; bins],
            centres: Vec::new(),
        }
    }

    /// Add one box's pixels.
    fn add_box(&mut self, b: &BoxOnScan, dips: &Dips, bin_mm: f64, lo: f64) {
        let region = dips.region;
        let mut centre = [0u32; 256];
        let step = b.step_x();
        let last = self.by_depth.len() - 1;
        for (r, y) in (region.1..region.3).enumerate() {
            let (mut u, mut v) = b.local(region.0, y);
            for &dip in dips.row(r) {
                let d = b.depth(u, v);
                if d >= lo {
                    let dip = dip.clamp(0, 255) as usize;
                    let k = (((d - lo) / bin_mm) as usize).min(last);
                    self.by_depth[k][dip] += 1;
                    if d >= CENTRE_DEPTH_MM {
                        centre[dip] += 1;
                    }
                }
                u += step.0;
                v += step.1;
            }
        }
        if centre.iter().any(|&c| c > 0) {
            self.centres.push(centre);
        }
    }
}

/// The gray level (or darkness) at or below which `share` of the histogram's counts lie.
#[must_use]
pub fn percentile(hist: &[u32; 256], share: f64) -> u8 {
    let total: u64 = hist.iter().map(|&c| u64::from(c)).sum();
    let want = ((total as f64 * share).ceil() as u64).max(1);
    let mut seen = 0u64;
    for (v, &c) in hist.iter().enumerate() {
        seen += u64::from(c);
        if seen >= want {
            return v as u8;
        }
    }
    255
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_boxes_mix_the_columns_of_a_four_grade_table() {
        // 40 questions of 4 grades, row by row: a stride of 4 would pick one column only.
        let picked = model_boxes(160);
        assert_eq!(picked.len(), MODEL_BOXES);
        for column in 0..4 {
            let n = picked.iter().filter(|&&i| i % 4 == column).count();
            assert!(n >= MODEL_BOXES / 8, "column {column}: {n} of {picked:?}");
        }
        assert_eq!(model_boxes(10), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn percentiles_of_a_histogram() {
        let mut h = [0u32; 256];
        h[30] = 30;
        h[240] = 70;
        assert_eq!(percentile(&h, 0.8), 240);
        assert_eq!(percentile(&h, 0.3), 30);
        assert_eq!(percentile(&[0; 256], 0.5), 255);
    }

    #[test]
    fn fixed_margins_expect_print_only_in_the_band() {
        let page = Otsu {
            level: 120,
            dark_mean: 30.0,
            light_mean: 230.0,
            dark_share: 0.05,
        };
        let m = PageInk::fixed(&page, 10.0);
        assert_eq!(m.faint_drop, 50);
        assert_eq!(m.expect_at(0.1), 255);
        assert_eq!(m.expect_at(-0.8), 0);
        assert_eq!(m.expect_at(2.0), 0);
    }
}
