//! Folds: a sheet folded for its envelope (in halves or thirds) shows a soft crease across
//! its whole width, often with a shadow on one side. Through a tick box it is a faint thin
//! line from edge to edge, and around it a thin line in the ring: a person sees it at once as
//! the paper's and never as a vote, so the boxes it crosses are judged without it.
//!
//! Found where nothing else makes a thin line: the page's blank margins (between the corner
//! squares and the content, [`MARGIN_X`], [`CONTENT_TOP`]). A thin dip in both margins of a
//! pair, at places the fold's slight tilt can join, is followed across the whole page; it is a
//! fold when the paper along the line dips at most places where nothing is printed. A tick, a
//! streak or a printed rule never does all three.

use crate::layout::{PageLayout, CODE_FROM_BOTTOM, CONTENT_TOP, MARGIN_X, MARK_INSET};
use crate::read::transform::Transform;
use crate::units::PointMm;
use image::GrayImage;

/// Gray levels a crease darkens the paper by, at least, against the paper on its lighter
/// side, and against its shadow on the other (averaged over several pixels, where scanner
/// noise stays under ≈ 4): the lightest creases measured on office scans dip 10–30 below the
/// paper, and 5–15 below the shadow beside them, which ramps ≤ 3 levels per mm.
const DIP_MIN: f64 = 10.0;
const SHADOW_DIP_MIN: f64 = 5.0;
/// Half the width (mm) within which a crease's darkest is looked for: a crease is 0.3–0.5 mm
/// wide, and where it runs is known to a pixel or two.
const CORE_MM: f64 = 0.4;
/// The paper either side is looked for this far from the crease (mm): beyond its blur, within
/// its shadow's first millimetre (≤ 3 gray levels darker there).
const SIDE_FROM_MM: f64 = 0.7;
const SIDE_TO_MM: f64 = 1.5;
/// Pixels across a margin band averaged per position along it: cuts noise by √8.
const BAND_SAMPLES: usize = 8;
/// The dips kept per margin band (the deepest): a page has at most two folds, and specks or
/// a punched hole's rim add a few more.
const CANDIDATES: usize = 8;
/// Pairs of dips followed across the page, at most (the deepest first): two folds and a few
/// pairs of specks.
const MAX_TRIES: usize = 12;
/// Steepest fold against the page (degrees): a sheet is folded by hand, square to within a
/// degree or two.
const MAX_TILT_DEG: f64 = 2.0;
/// Followed across the page, one place every this many mm, each averaged over [`ALONG_MM`]
/// along the line.
const STEP_MM: f64 = 2.0;
const ALONG_MM: f64 = 1.0;
/// How far (mm) the crease may run off the straight line between its ends: a sheet bowed or
/// curled on the glass, corners pulled unevenly.
const TRACK_MM: f64 = 1.0;
/// Share of the places with nothing printed on them where the paper must dip: a crease runs
/// unbroken; a tick or a row of text dips at a few places at most.
const MIN_SHOWN: f64 = 0.6;
/// …and share of all places that must have nothing printed (else the line is mostly print).
const MIN_PAPER: f64 = 0.4;
/// Half the width (mm) of the strip around a fold that the boxes it crosses are judged
/// without: the crease's half-width, its blur and where it runs, to a pixel or two.
pub const FOLD_HALF_MM: f64 = 0.5;
/// Gray levels single pixels (2 × 2 binned at most) scatter around the crease's measured
/// depth, which was averaged over a millimetre along it.
const CREASE_NOISE: f64 = 12.0;

/// An image point, pixels.
type Px = (f64, f64);

/// A fold's crease across the page: where it runs, one point every [`STEP_MM`], in image
/// pixels.
#[derive(Debug, Clone, PartialEq)]
pub struct Fold {
    pub points: Vec<(f64, f64)>,
    /// How far (gray levels) the crease lies below the paper, typically (the median along it).
    pub depth: f64,
}

impl Fold {
    /// The crease as a straight line near the image point `(x, y)`, through its points within
    /// `reach` pixels of it (`None` when it does not come that near).
    #[must_use]
    pub fn near(&self, x: f64, y: f64, reach: f64) -> Option<Crease> {
        let mut near = self
            .points
            .iter()
            .filter(|p| (p.0 - x).hypot(p.1 - y) <= reach);
        let first = *near.next()?;
        let last = near.next_back().copied().unwrap_or(first);
        let (dx, dy) = (last.0 - first.0, last.1 - first.1);
        let len = dx.hypot(dy);
        // One point only: the direction from its neighbour along the whole crease.
        let dir = if len >= 1.0 {
            (dx / len, dy / len)
        } else {
            let (a, b) = (self.points.first()?, self.points.last()?);
            let l = (b.0 - a.0).hypot(b.1 - a.1).max(1e-9);
            ((b.0 - a.0) / l, (b.1 - a.1) / l)
        };
        Some(Crease {
            at: ((first.0 + last.0) / 2.0, (first.1 + last.1) / 2.0),
            dir,
            depth: self.depth,
        })
    }
}

/// A stretch of a crease, as a straight line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Crease {
    /// A point on it.
    pub at: (f64, f64),
    /// Its direction (unit length).
    pub dir: (f64, f64),
    /// How far it lies below the paper (gray levels).
    pub depth: f64,
}

impl Crease {
    /// The darkest (below the paper, gray levels) ink on the crease can be and still be the
    /// crease's own: its depth, half as much again for its uneven darkening, and the noise
    /// that single pixels carry. A stroke on it is darker.
    #[must_use]
    pub fn own_ink_max(&self) -> i16 {
        (1.5 * self.depth + CREASE_NOISE)
            .round()
            .min(f64::from(i16::MAX)) as i16
    }

    /// Distance (pixels) of the point `(x, y)` from the line.
    #[must_use]
    pub fn distance(&self, x: f64, y: f64) -> f64 {
        ((x - self.at.0) * self.dir.1 - (y - self.at.1) * self.dir.0).abs()
    }
}

/// A margin band: where a fold running along page x (`along_x`) or along page y crosses one
/// blank margin. `across` is the band's extent along the fold (mm), `span` the range of
/// positions the fold may take (mm, the other axis).
struct Band {
    along_x: bool,
    across: (f64, f64),
    span: (f64, f64),
}

impl Band {
    fn point(&self, a: f64, s: f64) -> PointMm {
        if self.along_x {
            PointMm::new(a, s)
        } else {
            PointMm::new(s, a)
        }
    }
}

/// Every fold across `page`, as scanned in `img` and mapped by `t`; `dark` is the page's ink
/// level (what is printed is darker).
#[must_use]
pub fn find(img: &GrayImage, page: &PageLayout, t: &Transform, dark: u8) -> Vec<Fold> {
    // The page's size, from its marks (each MARK_INSET in from its corner).
    let (w, h) = (
        page.marks[1].right() + MARK_INSET,
        page.marks[2].bottom() + MARK_INSET,
    );
    let inner_x = (page.marks[0].right(), page.marks[1].x);
    let inner_y = (page.marks[0].bottom(), page.marks[3].y);
    // Margins: 1 mm clear of the marks' outer edge and of the content.
    let pairs = [
        // Folds along x, through the left and right margins, between the marks.
        [
            Band {
                along_x: true,
                across: (MARK_INSET + 1.0, MARGIN_X - 1.0),
                span: (inner_y.0 + 1.0, inner_y.1 - 1.0),
            },
            Band {
                along_x: true,
                across: (w - MARGIN_X + 1.0, w - MARK_INSET - 1.0),
                span: (inner_y.0 + 1.0, inner_y.1 - 1.0),
            },
        ],
        // Folds along y, through the top margin and the strip below the code.
        [
            Band {
                along_x: false,
                across: (MARK_INSET + 1.0, CONTENT_TOP - 1.0),
                span: (inner_x.0 + 1.0, inner_x.1 - 1.0),
            },
            Band {
                along_x: false,
                across: (h - CODE_FROM_BOTTOM + 1.0, h - MARK_INSET - 1.0),
                span: (inner_x.0 + 1.0, inner_x.1 - 1.0),
            },
        ],
    ];
    let s = t.px_per_mm(PointMm::new(w / 2.0, h / 2.0));
    let mut out: Vec<Fold> = Vec::new();
    for [first, second] in &pairs {
        let a = dips(img, t, first, s);
        let b = dips(img, t, second, s);
        let gap = (second.across.0 - first.across.1).max(1.0) * s;
        let max_off = gap * MAX_TILT_DEG.to_radians().tan();
        let (o, e) = (t.map(first.point(0.0, 0.0)), t.map(first.point(1.0, 0.0)));
        let al = (e.0 - o.0).hypot(e.1 - o.1).max(1e-9);
        let axis = ((e.0 - o.0) / al, (e.1 - o.1) / al);
        // Pairs square enough with the page to be one fold, deepest first: a page has few
        // folds, so only the likeliest are followed.
        let mut tries: Vec<(f64, Px, Px)> = a
            .iter()
            .flat_map(|&(pa, da)| b.iter().map(move |&(pb, db)| (da.min(db), pa, pb)))
            .filter(|&(_, pa, pb)| {
                let d = (pb.0 - pa.0, pb.1 - pa.1);
                let len = d.0.hypot(d.1);
                // How far off square the line runs over its length (pixels), against the
                // page's own axis along the fold.
                let off = (d.0 * axis.1 - d.1 * axis.0).abs();
                len >= 1.0 && off <= max_off + 2.0
            })
            .collect();
        tries.sort_by(|x, y| y.0.total_cmp(&x.0));
        let mut found: Vec<(f64, Fold)> = tries
            .into_iter()
            .take(MAX_TRIES)
            .filter_map(|(_, pa, pb)| follow(img, pa, pb, s, dark))
            .collect();
        // The best of the lines that are one crease (starting within 2 mm of each other).
        found.sort_by(|x, y| y.0.total_cmp(&x.0));
        for (_, f) in found {
            let start = f.points[0];
            if !out
                .iter()
                .any(|g| g.near(start.0, start.1, 2.0 * s).is_some())
            {
                out.push(f);
            }
        }
    }
    out
}

/// The deepest thin dips across `band`: image points on the band's middle line, and depth.
fn dips(img: &GrayImage, t: &Transform, band: &Band, s: f64) -> Vec<((f64, f64), f64)> {
    // BAND_SAMPLES straight image segments along the band (a projective map keeps lines
    // straight); position i along them is the same page line.
    let n = ((band.span.1 - band.span.0) * s).ceil().max(0.0) as usize;
    if n < 8 {
        return Vec::new();
    }
    let segs: Vec<((f64, f64), (f64, f64))> = (0..BAND_SAMPLES)
        .map(|k| {
            let a = band.across.0
                + (band.across.1 - band.across.0) * (k as f64 + 0.5) / BAND_SAMPLES as f64;
            (
                t.map(band.point(a, band.span.0)),
                t.map(band.point(a, band.span.1)),
            )
        })
        .collect();
    let (iw, ih) = (img.width() as usize, img.height() as usize);
    let raw = img.as_raw();
    let mut profile = vec![f64::NAN; n];
    for (i, p) in profile.iter_mut().enumerate() {
        let f = i as f64 / n as f64;
        let mut sum = 0u32;
        for (a, b) in &segs {
            let (x, y) = (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f);
            if x < 0.0 || y < 0.0 || x >= iw as f64 || y >= ih as f64 {
                // Off the image (a page shifted out of the scan): no evidence here.
                sum = u32::MAX;
                break;
            }
            sum += u32::from(raw[y as usize * iw + x as usize]);
        }
        if sum != u32::MAX {
            *p = f64::from(sum) / BAND_SAMPLES as f64;
        }
    }
    let depth = thin_dips(&profile, s);
    // Local deepest within 1 mm, the deepest CANDIDATES of them.
    let r = s.ceil() as usize;
    let mut peaks: Vec<(usize, f64)> = (0..n)
        .filter(|&i| depth[i] > 0.0)
        .filter(|&i| {
            let (lo, hi) = (i.saturating_sub(r), (i + r).min(n - 1));
            (lo..=hi).all(|j| depth[j] < depth[i] || (depth[j] == depth[i] && j >= i))
        })
        .map(|i| (i, depth[i]))
        .collect();
    peaks.sort_by(|a, b| b.1.total_cmp(&a.1));
    peaks.truncate(CANDIDATES);
    let mid = &segs[BAND_SAMPLES / 2];
    peaks
        .into_iter()
        .map(|(i, d)| {
            let f = i as f64 / n as f64;
            let p = (
                mid.0 .0 + (mid.1 .0 - mid.0 .0) * f,
                mid.0 .1 + (mid.1 .1 - mid.0 .1) * f,
            );
            (p, d)
        })
        .collect()
}

/// For every position of a profile (pixels 1 apart, `s` per mm), how much darker it is (at
/// its darkest within [`CORE_MM`]) than the paper on *both* sides; NaN positions have none.
fn thin_dips(profile: &[f64], s: f64) -> Vec<f64> {
    let n = profile.len();
    let core = (CORE_MM * s).round().max(1.0) as usize;
    let (from, to) = (
        (SIDE_FROM_MM * s).round().max(1.0) as usize,
        (SIDE_TO_MM * s).round().max(2.0) as usize,
    );
    let max_of = |lo: usize, hi: usize| {
        profile[lo..hi]
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .fold(f64::NAN, f64::max)
    };
    (0..n)
        .map(|i| {
            if i < to || i + to >= n || profile[i].is_nan() {
                return 0.0;
            }
            let centre = profile[i - core.min(i)..=(i + core).min(n - 1)]
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min);
            // The centre itself must be the darkest near it, so a dip counts once.
            if profile[i] > centre {
                return 0.0;
            }
            let before = max_of(i - to, i + 1 - from);
            let after = max_of(i + from, i + to + 1);
            crease_depth(before, after, centre)
        })
        .collect()
}

/// How far a crease at `centre` lies below the paper either side of it (`before`, `after`):
/// its depth below the lighter side, when that is at least [`DIP_MIN`] and it lies at least
/// [`SHADOW_DIP_MIN`] below the other; else 0.
fn crease_depth(before: f64, after: f64, centre: f64) -> f64 {
    let (shadow, paper) = (before.min(after) - centre, before.max(after) - centre);
    if shadow >= SHADOW_DIP_MIN && paper >= DIP_MIN {
        paper
    } else {
        0.0
    }
}

/// Follow the crease from `a` towards `b` (image pixels, `s` per mm), tracking it within
/// [`TRACK_MM`] of that line (a sheet not quite flat bows it): where it runs, one point per
/// place, when the paper dips along it at [`MIN_SHOWN`] of the places with nothing printed.
fn follow(img: &GrayImage, a: (f64, f64), b: (f64, f64), s: f64, dark: u8) -> Option<(f64, Fold)> {
    let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
    let raw = img.as_raw();
    let len = (b.0 - a.0).hypot(b.1 - a.1);
    let places = (len / (STEP_MM * s)).floor() as usize;
    if places < 8 {
        return None;
    }
    let dir = ((b.0 - a.0) / len, (b.1 - a.1) / len);
    let normal = (-dir.1, dir.0);
    let along = (ALONG_MM * s).round().max(1.0) as i64;
    let track = (TRACK_MM * s).round() as i64;
    let core = (CORE_MM * s).round().max(1.0) as i64;
    let (from, to) = (
        (SIDE_FROM_MM * s).round().max(1.0) as i64,
        (SIDE_TO_MM * s).round().max(2.0) as i64,
    );
    // The profile across the line: offsets -reach..=reach from it.
    let reach = track + core + to;
    let (mut paper, mut shown, mut misses) = (0usize, 0usize, 0usize);
    let mut profile = vec![0.0f64; (2 * reach + 1) as usize];
    let mut offset = 0i64;
    let mut points = Vec::with_capacity(places);
    let mut depths = Vec::with_capacity(places);
    for k in 0..places {
        let c = (
            a.0 + dir.0 * (k as f64 + 0.5) * STEP_MM * s,
            a.1 + dir.1 * (k as f64 + 0.5) * STEP_MM * s,
        );
        let mut outside = false;
        for (j, p) in profile.iter_mut().enumerate() {
            let d = j as f64 - reach as f64;
            let mut sum = 0u32;
            for m in 0..along {
                let t = m as f64 - (along - 1) as f64 / 2.0;
                let x = (c.0 + normal.0 * d + dir.0 * t).round() as i64;
                let y = (c.1 + normal.1 * d + dir.1 * t).round() as i64;
                if x < 0 || y < 0 || x >= iw || y >= ih {
                    outside = true;
                    break;
                }
                sum += u32::from(raw[(y * iw + x) as usize]);
            }
            *p = f64::from(sum) / along as f64;
        }
        let at = |o: i64| (c.0 + normal.0 * o as f64, c.1 + normal.1 * o as f64);
        if outside {
            points.push(at(offset));
            continue;
        }
        // The darkest within the core of where the crease ran last.
        let centre = reach + offset;
        let (j, darkest) = (centre - core..=centre + core)
            .map(|j| (j, profile[j as usize]))
            .fold(
                (centre, f64::INFINITY),
                |m, x| if x.1 < m.1 { x } else { m },
            );
        // Print (a rule, a character) or a pen stroke on or beside it hides the crease here.
        let printed = profile[(j - from) as usize..=(j + from) as usize]
            .iter()
            .any(|&v| v <= f64::from(dark));
        if printed {
            points.push(at(offset));
            continue;
        }
        paper += 1;
        let side = |r: &[f64]| r.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let before = side(&profile[(j - to) as usize..=(j - from) as usize]);
        let after = side(&profile[(j + from) as usize..=(j + to) as usize]);
        let depth = crease_depth(before, after, darkest);
        if depth > 0.0 {
            shown += 1;
            depths.push(depth);
            // A bow bends the crease gently: a pixel per place at most.
            offset = (offset + (j - centre).signum()).clamp(-track, track);
        } else {
            misses += 1;
            // Past this many misses the share cannot reach MIN_SHOWN whatever follows.
            if misses as f64 > places as f64 * (1.0 - MIN_SHOWN) {
                return None;
            }
        }
        points.push(at(offset));
    }
    let share = shown as f64 / paper.max(1) as f64;
    depths.sort_by(f64::total_cmp);
    let depth = depths.get(depths.len() / 2).copied().unwrap_or(0.0);
    (paper as f64 >= places as f64 * MIN_PAPER && share >= MIN_SHOWN)
        .then_some((share, Fold { points, depth }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crease_is_below_the_paper_on_one_side_and_its_shadow_on_the_other() {
        // A field crease: 207 between paper at 230 and its shadow at 217.
        assert_eq!(crease_depth(217.0, 230.0, 207.0), 23.0);
        // The shadow's own slope, without a crease: nothing below it on the dark side.
        assert_eq!(crease_depth(217.0, 230.0, 215.0), 0.0);
        // Noise on flat paper.
        assert_eq!(crease_depth(231.0, 230.0, 226.0), 0.0);
    }

    #[test]
    fn a_thin_dip_in_a_margin_is_found_and_a_punched_hole_is_not() {
        let s = 8.0; // px per mm (200 dpi)
        let mut p = vec![230.0; 400];
        // A crease 3 px wide at 100, its shadow ramping on the side before it.
        for (i, v) in p.iter_mut().enumerate().take(100).skip(44) {
            *v -= 15.0 * (i as f64 - 44.0) / 56.0;
        }
        for v in &mut p[99..102] {
            *v = 205.0;
        }
        // A punched hole, 6 mm across, dark.
        for v in &mut p[250..298] {
            *v = 60.0;
        }
        let d = thin_dips(&p, s);
        let deepest = (0..p.len()).max_by(|&a, &b| d[a].total_cmp(&d[b])).unwrap();
        assert!((99..102).contains(&deepest), "{deepest}");
        assert!(d[240..310].iter().all(|&x| x == 0.0), "{:?}", &d[240..310]);
    }

    #[test]
    fn a_fold_near_a_box_is_the_straight_stretch_of_it_there() {
        // A crease bowed by 2 px over 400 px.
        let points: Vec<(f64, f64)> = (0..=20)
            .map(|k| {
                let x = f64::from(k) * 20.0;
                (x, 100.0 + 2.0 * (1.0 - ((x - 200.0) / 200.0).powi(2)))
            })
            .collect();
        let f = Fold {
            points,
            depth: 20.0,
        };
        let c = f.near(200.0, 110.0, 50.0).expect("the fold passes near");
        assert!(c.distance(200.0, 102.0) < 0.2, "{c:?}");
        assert!((c.distance(200.0, 110.0) - 8.0).abs() < 0.2, "{c:?}");
        assert!(f.near(200.0, 300.0, 50.0).is_none());
    }
}
