//! The printed rulings as a second witness of registration, and the local correction they give.
//!
//! Four corner squares fix a homography exactly, so on their own they cannot say whether it is
//! right: a misread square, a sheet curled on the glass or a fold would pass unnoticed. The
//! form's own table lines can. Every long printed line (rules and frames, from the layout) is
//! probed at points where nothing else is printed within reach: the profile across the line,
//! read through the transform, shows where the line really is. A flat page puts every line
//! within a fraction of a millimetre of its prediction; a curled or stretched one shows a
//! smooth displacement, which the [`Warp`] built from the probes takes out; a wrong fit shows
//! lines missing or scattered, and the page is not read on it.
//!
//! The probes come from the layout alone, so any form (a fourth one included) gets them, and
//! they cost a few thousand pixel reads per page.

use crate::layout::{text_width, Ink, PageLayout};
use crate::read::transform::{Transform, Warp};
use crate::units::{PointMm, RectMm};

/// Shortest printed line worth probing: tick-box outlines (5 mm) are left out; table rules
/// and frames (≥ 15 mm) are in.
const MIN_LINE_MM: f64 = 12.0;
/// Probes keep this far from a line's ends (frame corners, joints with other rules).
const END_SKIP_MM: f64 = 3.0;
/// Spacing of probes along a line: half a dozen per table rule and a few per column rule,
/// enough for a robust check and a local correction (a curl bends over centimetres), few
/// enough to cost a millisecond.
const PROBE_STEP_MM: f64 = 25.0;
/// How far across its printed place a line is looked for: more than what a homography leaves
/// of a curl or fold (≤ 2 mm on sheets that can still be read), less than half of an 8 mm row
/// (the next rule).
pub const ACROSS_MM: f64 = 2.5;
/// Half the stretch along the line averaged into each profile sample: pen strokes and noise
/// average out, while a 5° skew tilts a line by under 0.1 mm over it.
const ALONG_MM: f64 = 1.0;
/// Clear space kept between a probe's window and any other printed ink (blur, toner spread,
/// the text estimate's slack).
const CLEAR_MM: f64 = 0.4;
/// A line is found when its valley is this deep, as a share of the page's paper-to-ink
/// contrast: a 0.25 mm rule blurred at 150 dpi still reaches ≥ 40 % of it; paper noise
/// averaged over the profile's ≥ 25 pixels stays under 10 %.
const MIN_DEPTH: f64 = 0.25;
/// A second valley this deep (share of the first) further than [`SECOND_APART_MM`] from it
/// makes a probe ambiguous (a pen line along the rule, a fold): left out, never guessed.
const SECOND_VALLEY: f64 = 0.7;
const SECOND_APART_MM: f64 = 1.0;
/// Millimetres per typographic point (text sizes are in points).
const MM_PER_PT: f64 = 25.4 / 72.0;

/// One place a printed line is looked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    /// A point on the printed line's centre line.
    pub at: PointMm,
    /// The line runs along x (a horizontal rule) and is looked for along y; else the reverse.
    pub horizontal: bool,
}

/// A straight printed line: horizontal or not, its fixed coordinate, its extent, its width.
#[derive(Debug, Clone, Copy)]
struct Segment {
    horizontal: bool,
    at: f64,
    from: f64,
    to: f64,
    width: f64,
}

impl Segment {
    fn rect(&self) -> RectMm {
        let h = self.width / 2.0;
        if self.horizontal {
            RectMm::new(self.from, self.at - h, self.to - self.from, self.width)
        } else {
            RectMm::new(self.at - h, self.from, self.width, self.to - self.from)
        }
    }
}

/// The straight lines of a page's ink: rules, and the four sides of every frame.
fn segments(page: &PageLayout) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut line = |x1: f64, y1: f64, x2: f64, y2: f64, width: f64| {
        if (y1 - y2).abs() < 1e-6 {
            out.push(Segment {
                horizontal: true,
                at: y1,
                from: x1.min(x2),
                to: x1.max(x2),
                width,
            });
        } else if (x1 - x2).abs() < 1e-6 {
            out.push(Segment {
                horizontal: false,
                at: x1,
                from: y1.min(y2),
                to: y1.max(y2),
                width,
            });
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
            } => line(*x1, *y1, *x2, *y2, *width),
            Ink::Frame { rect: r, width } => {
                // The frame's stroke lies inside its rectangle.
                let h = width / 2.0;
                line(r.x, r.y + h, r.right(), r.y + h, *width);
                line(r.x, r.bottom() - h, r.right(), r.bottom() - h, *width);
                line(r.x + h, r.y, r.x + h, r.bottom(), *width);
                line(r.right() - h, r.y, r.right() - h, r.bottom(), *width);
            }
            Ink::Fill { .. } | Ink::Text { .. } => {}
        }
    }
    out
}

/// Everything else printed on the page, as rectangles: text (estimated from its size and
/// width), fills, the code, the corner squares.
fn other_ink(page: &PageLayout) -> Vec<RectMm> {
    let mut out: Vec<RectMm> = page.marks.to_vec();
    out.push(page.code);
    for ink in &page.ink {
        match ink {
            Ink::Fill { rect } => out.push(*rect),
            Ink::Text { x, y, size, text } => {
                // Glyphs rise ≈ 0.9 em above the baseline and descend ≈ 0.15 em below it.
                let em = size * MM_PER_PT;
                out.push(RectMm::new(
                    *x,
                    y - 0.9 * em,
                    text_width(text, *size),
                    1.05 * em,
                ));
            }
            Ink::Line { .. } | Ink::Frame { .. } => {}
        }
    }
    out
}

fn overlaps(a: RectMm, b: RectMm) -> bool {
    a.x < b.right() && b.x < a.right() && a.y < b.bottom() && b.y < a.bottom()
}

/// The probes of a page: points along its long lines whose window (±[`ACROSS_MM`] across,
/// ±[`ALONG_MM`] along) holds no other printed ink.
#[must_use]
pub fn probes(page: &PageLayout) -> Vec<Probe> {
    let segs = segments(page);
    let others = other_ink(page);
    let mut out = Vec::new();
    for s in segs.iter().filter(|s| s.to - s.from >= MIN_LINE_MM) {
        let usable = s.to - s.from - 2.0 * END_SKIP_MM;
        let n = (usable / PROBE_STEP_MM).floor().max(0.0) as usize + 1;
        let step = if n > 1 { usable / (n - 1) as f64 } else { 0.0 };
        for k in 0..n {
            let along =
                s.from + END_SKIP_MM + step * k as f64 + if n == 1 { usable / 2.0 } else { 0.0 };
            let (reach_x, reach_y) = if s.horizontal {
                (ALONG_MM, ACROSS_MM)
            } else {
                (ACROSS_MM, ALONG_MM)
            };
            let at = if s.horizontal {
                PointMm::new(along, s.at)
            } else {
                PointMm::new(s.at, along)
            };
            let c = CLEAR_MM;
            let window = RectMm::new(
                at.x - reach_x - c,
                at.y - reach_y - c,
                2.0 * (reach_x + c),
                2.0 * (reach_y + c),
            );
            // The probed line itself, and lines lying on it (a rule drawn over a frame's
            // side), are what the probe looks for; anything else in the window spoils it.
            let same = |o: &Segment| {
                o.horizontal == s.horizontal && (o.at - s.at).abs() < 0.5 * (o.width + s.width)
            };
            let clear = segs
                .iter()
                .filter(|o| !same(o))
                .all(|o| !overlaps(o.rect(), window))
                && others.iter().all(|r| !overlaps(*r, window));
            if clear {
                out.push(Probe {
                    at,
                    horizontal: s.horizontal,
                });
            }
        }
    }
    out
}

/// What the probes found: each found line's offset from where the transform put it.
#[derive(Debug, Clone, Default)]
pub struct Check {
    /// Probes tried.
    pub probes: usize,
    /// Probes whose line was found, with its offset (mm, along y for horizontal lines and x
    /// for vertical ones; positive: further down or right than predicted).
    pub found: Vec<(Probe, f64)>,
}

/// Look for the line of every probe through `t`. `contrast` is the page's paper-to-ink gray
/// level difference (the depth a line is judged against).
#[must_use]
pub fn measure(img: &image::GrayImage, t: &Transform, probes: &[Probe], contrast: f64) -> Check {
    let found = probes
        .iter()
        .filter_map(|p| find_line(img, t, *p, contrast).map(|d| (*p, d)))
        .collect();
    Check {
        probes: probes.len(),
        found,
    }
}

/// Where the line of `probe` lies, mm from its predicted place across it; `None` when it is not
/// clearly there.
fn find_line(img: &image::GrayImage, t: &Transform, probe: Probe, contrast: f64) -> Option<f64> {
    let p = probe.at;
    let s = t.px_per_mm(p);
    if !s.is_finite() || s <= 0.0 {
        return None;
    }
    let (across, along) = if probe.horizontal {
        ((0.0, 1.0), (1.0, 0.0))
    } else {
        ((1.0, 0.0), (0.0, 1.0))
    };
    // The transform is locally affine over a few millimetres: its image point and the image
    // directions of one millimetre across and along the line.
    let o = t.map(p);
    let dir = |d: (f64, f64)| {
        let q = t.map(PointMm::new(p.x + d.0, p.y + d.1));
        (q.0 - o.0, q.1 - o.1)
    };
    let (n, a) = (dir(across), dir(along));
    // One pixel per step.
    let step = 1.0 / s;
    let k_max = (ACROSS_MM * s).ceil() as i64;
    let j_max = (ALONG_MM * s).round().max(1.0) as i64;
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    // The probe's window must lie inside the image (its corners are its extremes).
    let corner = |k: f64, j: f64| {
        (
            o.0 + n.0 * k * step + a.0 * j * step,
            o.1 + n.1 * k * step + a.1 * j * step,
        )
    };
    let inside = |(x, y): (f64, f64)| x >= 0.0 && y >= 0.0 && x < w as f64 && y < h as f64;
    let (km, jm) = (k_max as f64, j_max as f64);
    if ![
        corner(-km, -jm),
        corner(-km, jm),
        corner(km, -jm),
        corner(km, jm),
    ]
    .into_iter()
    .all(inside)
    {
        return None;
    }
    let raw = img.as_raw();
    let mut profile = Vec::with_capacity((2 * k_max + 1) as usize);
    // Every other pixel along the line: the average needs no more, and it halves the reads.
    let samples = (-j_max..=j_max).step_by(2);
    let count = samples.clone().count() as f64;
    for k in -k_max..=k_max {
        let tk = k as f64 * step;
        let mut sum = 0u32;
        for j in samples.clone() {
            let u = j as f64 * step;
            // Inside the image (checked above): truncation is the floor.
            let x = (o.0 + n.0 * tk + a.0 * u) as usize;
            let y = (o.1 + n.1 * tk + a.1 * u) as usize;
            sum += u32::from(raw[y * w as usize + x]);
        }
        profile.push(f64::from(sum) / count);
    }
    // A [1 2 1] smoothing: single-pixel noise never makes the valley.
    let smooth: Vec<f64> = (0..profile.len())
        .map(|i| {
            let l = profile[i.saturating_sub(1)];
            let r = profile[(i + 1).min(profile.len() - 1)];
            (l + 2.0 * profile[i] + r) / 4.0
        })
        .collect();
    let (kmin, &min) = smooth
        .iter()
        .enumerate()
        .min_by(|a, b| a.1.total_cmp(b.1))?;
    let mut sorted = smooth.clone();
    sorted.sort_by(f64::total_cmp);
    let paper = sorted[sorted.len() / 2];
    let depth = paper - min;
    if depth < MIN_DEPTH * contrast || kmin == 0 || kmin + 1 == smooth.len() {
        return None;
    }
    let apart = (SECOND_APART_MM * s).ceil() as usize;
    let rival = smooth.iter().enumerate().any(|(i, &v)| {
        i.abs_diff(kmin) > apart
            && i > 0
            && i + 1 < smooth.len()
            && v <= smooth[i - 1]
            && v <= smooth[i + 1]
            && paper - v >= SECOND_VALLEY * depth
    });
    if rival {
        return None;
    }
    // Sub-pixel: the vertex of the parabola through the valley and its neighbours.
    let (l, c, r) = (smooth[kmin - 1], smooth[kmin], smooth[kmin + 1]);
    let curve = l - 2.0 * c + r;
    let frac = if curve > 0.0 {
        (0.5 * (l - r) / curve).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    Some((kmin as f64 - k_max as f64 + frac) * step)
}

impl Check {
    /// Share of the probes whose line was found.
    #[must_use]
    pub fn found_share(&self) -> f64 {
        self.found.len() as f64 / self.probes.max(1) as f64
    }

    /// The `q` quantile of the found offsets' sizes, mm.
    #[must_use]
    pub fn offset_quantile(&self, q: f64) -> f64 {
        let mut v: Vec<f64> = self.found.iter().map(|(_, d)| d.abs()).collect();
        v.sort_by(f64::total_cmp);
        v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    }

    /// The local correction these offsets describe, and how well it explains them: the RMS of
    /// each kept probe's offset against the correction the others give there (mm), and the
    /// share of probes left out as disagreeing with their neighbours.
    #[must_use]
    pub fn warp(&self) -> (Warp, f64, f64) {
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for (p, d) in &self.found {
            if p.horizontal {
                ys.push((p.at, *d));
            } else {
                xs.push((p.at, *d));
            }
        }
        let (xs, out_x) = consistent(xs);
        let (ys, out_y) = consistent(ys);
        let kept = xs.len() + ys.len();
        let mut sq = 0.0;
        for (axis, own) in [(0usize, &xs), (1, &ys)] {
            for (i, (p, d)) in own.iter().enumerate() {
                let others: Vec<(PointMm, f64)> = own
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, v)| *v)
                    .collect();
                let w = if axis == 0 {
                    Warp::new(others, Vec::new()).at(*p).0
                } else {
                    Warp::new(Vec::new(), others).at(*p).1
                };
                sq += (d - w).powi(2);
            }
        }
        let rms = if kept > 0 {
            (sq / kept as f64).sqrt()
        } else {
            0.0
        };
        let dropped = (out_x + out_y) as f64 / self.found.len().max(1) as f64;
        (Warp::new(xs, ys), rms, dropped)
    }
}

/// Within this distance (mm) probes of the same direction are neighbours for the consistency
/// check: two or three table rows, or a table cell's width.
const NEIGHBOURS_MM: f64 = 25.0;
/// A probe this far (mm) from the median of its neighbours measured something else (a pen
/// stroke on the rule): paper bends smoothly, by well under this over a few centimetres.
const DISAGREE_MM: f64 = 0.5;

/// The offsets that agree with their neighbours, and how many did not.
fn consistent(v: Vec<(PointMm, f64)>) -> (Vec<(PointMm, f64)>, usize) {
    let keep: Vec<bool> = v
        .iter()
        .map(|(p, d)| {
            let mut near: Vec<f64> = v
                .iter()
                .filter(|(q, _)| (q.x - p.x).hypot(q.y - p.y) <= NEIGHBOURS_MM)
                .map(|(_, e)| *e)
                .collect();
            near.sort_by(f64::total_cmp);
            // Too few neighbours to judge: keep it (its own weight in the warp stays local).
            near.len() < 3 || (near[near.len() / 2] - d).abs() <= DISAGREE_MM
        })
        .collect();
    let out = keep.iter().filter(|k| !**k).count();
    (
        v.into_iter()
            .zip(keep)
            .filter_map(|(x, k)| k.then_some(x))
            .collect(),
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::align::testpage::{ruled_page, scan_of};

    #[test]
    fn probes_sit_on_long_lines_clear_of_other_ink() {
        let page = ruled_page();
        let ps = probes(&page);
        assert!(ps.len() >= 20, "{}", ps.len());
        // None on the tick boxes (5 mm frames) or in the text, all on a rule or frame side.
        for p in &ps {
            let on_rule = segments(&page).iter().any(|s| {
                s.horizontal == p.horizontal
                    && (if p.horizontal { p.at.y } else { p.at.x } - s.at).abs() < 1e-9
                    && s.to - s.from >= MIN_LINE_MM
            });
            assert!(on_rule, "{p:?}");
        }
    }

    #[test]
    fn the_lines_of_a_flat_page_are_found_where_the_transform_puts_them() {
        let page = ruled_page();
        let sc = scan_of(1.2, (2.0, -1.5));
        let img = sc.render(&page, &[]);
        let t = sc.transform();
        let c = measure(&img, &t, &probes(&page), 190.0);
        assert!(c.found_share() > 0.9, "{}/{}", c.found.len(), c.probes);
        assert!(c.offset_quantile(0.9) < 0.15, "{}", c.offset_quantile(0.9));
    }

    #[test]
    fn a_page_seen_off_by_a_millimetre_shows_it_on_every_line() {
        let page = ruled_page();
        let sc = scan_of(0.0, (0.0, 0.0));
        let img = sc.render(&page, &[]);
        // The transform thinks the page sits 1 mm higher and 0.6 mm further left than it does.
        let t = scan_of(0.0, (-0.6, -1.0)).transform();
        let c = measure(&img, &t, &probes(&page), 190.0);
        assert!(c.found_share() > 0.9);
        for (p, d) in &c.found {
            let want = if p.horizontal { 1.0 } else { 0.6 };
            assert!((d - want).abs() < 0.12, "{p:?}: {d}");
        }
        let (warp, rms, dropped) = c.warp();
        assert!(rms < 0.1 && dropped == 0.0, "{rms} {dropped}");
        // In the middle of the table the warp takes the whole offset out.
        let (dx, dy) = warp.at(PointMm::new(100.0, 120.0));
        assert!(
            (dx - 0.6).abs() < 0.15 && (dy - 1.0).abs() < 0.15,
            "{dx} {dy}"
        );
    }

    #[test]
    fn an_offset_unlike_its_neighbours_is_left_out() {
        let mut v: Vec<(PointMm, f64)> = (0..6)
            .map(|i| (PointMm::new(20.0 + 5.0 * f64::from(i), 50.0), 0.2))
            .collect();
        v[3].1 = 1.5;
        let (kept, out) = consistent(v);
        assert_eq!(out, 1);
        assert!(kept.iter().all(|(_, d)| (*d - 0.2).abs() < 1e-9));
    }

    #[test]
    fn scattered_offsets_are_not_smoothed_into_a_page() {
        // Every other probe 1.2 mm off the next: no smooth sheet looks like that.
        let found: Vec<(Probe, f64)> = (0..24)
            .map(|i| {
                let p = Probe {
                    at: PointMm::new(
                        20.0 + 7.0 * f64::from(i % 12),
                        50.0 + 8.0 * f64::from(i / 12),
                    ),
                    horizontal: true,
                };
                (p, if i % 2 == 0 { 0.6 } else { -0.6 })
            })
            .collect();
        let c = Check { probes: 24, found };
        let (_, rms, dropped) = c.warp();
        assert!(rms > 0.6 || dropped > 0.25, "{rms} {dropped}");
    }
}
