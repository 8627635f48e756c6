//! Scanner streaks: dirt on the scanner glass draws a thin dark line along the whole feed
//! direction of every page it scans. It runs straight in *image* space (not along the skewed
//! form), from edge to edge, through the blank margins where nothing is printed — which is
//! what tells it from a printed rule, a fold (tilted, soft) or a tick.
//!
//! Found on the upright image, both ways (a sideways-fed page shows its streak horizontally).

use image::GrayImage;

/// How much darker (gray levels) a streak pixel is than the paper on both sides of it. The
/// lightest streaks measured darken the paper by ≥ 40 levels (30 after JPEG smoothing);
/// scanner noise (±9) averaged over [`ALONG`] pixels stays under 8.
const STREAK_DROP: u32 = 15;
/// Pixels averaged along the streak direction per sample: cuts noise by √3.
const ALONG: usize = 3;
/// Sample every this many pixels along the streak direction (a streak is long; 1 in 6 is plenty).
const STEP: usize = 6;
/// In the end bands, where every line across is sampled, 1 in 12 (≥ 5 samples per band at
/// 150 dpi): a streak shows in every one of them, noise in few.
const END_STEP: usize = 12;
/// Share of samples over the whole image length that must show the line: crossings with
/// printed rules, text and ticks hide it locally; a printed vertical rule spans ≤ 80 % of a
/// page (the corner squares' margin and the header lie outside every table).
const MIN_SPAN: f64 = 0.85;
/// The end bands (this share of the length at each end) hold no printed lines; a streak
/// shows there as well, a printed rule never does.
const END_BAND: f64 = 0.05;
/// Share of end-band samples that must show the line (at both ends).
const MIN_END_SPAN: f64 = 0.6;
/// Distance to the paper compared on either side, mm, plus the widest streak (3 px).
const SIDE_MM: f64 = 0.3;
const STREAK_MAX_PX: usize = 3;

/// A streak across the upright image: pixels `[from, to)` across it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streak {
    /// Runs top to bottom (a range of columns); else left to right (a range of rows).
    pub vertical: bool,
    pub from: i64,
    pub to: i64,
}

impl Streak {
    /// Whether the streak crosses the pixel box `(x0, y0, x1, y1)`.
    #[must_use]
    pub fn crosses(&self, b: (i64, i64, i64, i64)) -> bool {
        let (lo, hi) = if self.vertical {
            (b.0, b.2)
        } else {
            (b.1, b.3)
        };
        self.from < hi && self.to > lo
    }
}

/// Every streak on the page; `px_per_mm` is the page's scale.
#[must_use]
pub fn find(img: &GrayImage, px_per_mm: f64) -> Vec<Streak> {
    let side = (SIDE_MM * px_per_mm).round() as usize + STREAK_MAX_PX;
    let mut out = lines(img, side, true);
    out.extend(lines(img, side, false));
    out
}

/// Paint each streak over with the paper beside it: every pixel across a streak becomes the
/// linear blend of the pixels just outside it on either side, line by line along it. For the
/// page code only (a streak through it breaks its modules); the marks are judged on the scan
/// as it is.
pub fn wipe(img: &mut GrayImage, streaks: &[Streak]) {
    let (w, h) = (i64::from(img.width()), i64::from(img.height()));
    for st in streaks {
        let (across, along) = if st.vertical { (w, h) } else { (h, w) };
        // One pixel either side of the streak, inside the image.
        let (a0, a1) = ((st.from - 1).max(0), st.to.min(across - 1));
        if a1 <= a0 {
            continue;
        }
        for l in 0..along {
            let at = |a: i64| {
                if st.vertical {
                    (a as u32, l as u32)
                } else {
                    (l as u32, a as u32)
                }
            };
            let (x0, y0) = at(a0);
            let (x1, y1) = at(a1);
            let (p0, p1) = (
                f64::from(img.get_pixel(x0, y0)[0]),
                f64::from(img.get_pixel(x1, y1)[0]),
            );
            for a in a0 + 1..a1 {
                let t = (a - a0) as f64 / (a1 - a0) as f64;
                let (x, y) = at(a);
                img.put_pixel(x, y, image::Luma([(p0 + (p1 - p0) * t).round() as u8]));
            }
        }
    }
}

/// Columns (`vertical`) or rows that look like a streak, merged into ranges.
///
/// A streak must show in both end bands, so those few samples are measured first for every
/// line across; only the lines passing there are followed along the whole length.
fn lines(img: &GrayImage, side: usize, vertical: bool) -> Vec<Streak> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    // `across` indexes columns for a vertical streak; `along` runs down them.
    let (across, along) = if vertical { (w, h) } else { (h, w) };
    if across <= 2 * side || along < ALONG * 4 {
        return Vec::new();
    }
    let raw = img.as_raw();
    // Sum of ALONG pixels starting at `l` along line `a`.
    let sum = |a: usize, l: usize| -> u32 {
        (l..l + ALONG)
            .map(|k| {
                let i = if vertical { k * w + a } else { a * w + k };
                u32::from(raw[i])
            })
            .sum()
    };
    let band = (along as f64 * END_BAND) as usize;
    let starts: Vec<usize> = (0..along - ALONG).step_by(STEP).collect();
    let end_starts = || (0..along - ALONG).step_by(END_STEP);
    let ends: [Vec<usize>; 2] = [
        end_starts().filter(|&l| l < band).collect(),
        end_starts()
            .filter(|&l| l >= band && l + ALONG > along - band)
            .collect(),
    ];
    // End bands, every line across: the sums of every band sample, read in memory order
    // (row by row; going down columns of a 9 MB page thrashes the cache).
    let band_starts: Vec<(usize, usize)> = ends
        .iter()
        .enumerate()
        .flat_map(|(e, v)| v.iter().map(move |&l| (e, l)))
        .collect();
    // A streak must show in both end bands: without samples in one, there is none to find.
    if ends.iter().any(Vec::is_empty) {
        return Vec::new();
    }
    // Hits per line across, per end band. Both layouts below keep the inner loop on
    // contiguous memory, so the compiler vectorises it.
    let nb = band_starts.len();
    let n0 = ends[0].len();
    let mut end_hits = [vec![0u32; across], vec![0u32; across]];
    if vertical {
        // table[i][a]: sample i of column a.
        let mut table = vec![0u32; nb * across];
        for (i, &(_, l)) in band_starts.iter().enumerate() {
            let dst = &mut table[i * across..(i + 1) * across];
            for k in l..l + ALONG {
                for (d, &p) in dst.iter_mut().zip(&raw[k * w..(k + 1) * w]) {
                    *d += u32::from(p);
                }
            }
        }
        for (i, &(e, _)) in band_starts.iter().enumerate() {
            let sums = &table[i * across..(i + 1) * across];
            let n = across - 2 * side;
            let (left, mid, right) = (&sums[..n], &sums[side..side + n], &sums[2 * side..]);
            let hits = &mut end_hits[e][side..side + n];
            for (((h, &l), &m), &r) in hits.iter_mut().zip(left).zip(mid).zip(right) {
                *h += u32::from(darker(l, m, r));
            }
        }
    } else {
        // table[a][i]: sample i of row a.
        let mut table = vec![0u32; across * nb];
        for (row, dst) in raw.chunks_exact(w).zip(table.chunks_exact_mut(nb)) {
            for (d, &(_, l)) in dst.iter_mut().zip(&band_starts) {
                *d = row[l..l + ALONG].iter().map(|&p| u32::from(p)).sum();
            }
        }
        let [first, last] = &mut end_hits;
        let lines = first.iter_mut().zip(last.iter_mut()).enumerate();
        for (a, (first, last)) in lines.take(across - side).skip(side) {
            let at = |r: usize| &table[r * nb..(r + 1) * nb];
            let (up, mid, down) = (at(a - side), at(a), at(a + side));
            let hit = |i: usize| u32::from(darker(up[i], mid[i], down[i]));
            *first = (0..n0).map(hit).sum();
            *last = (n0..nb).map(hit).sum();
        }
    }
    let share = |n: u32, of: usize| of > 0 && f64::from(n) >= of as f64 * MIN_END_SPAN;
    let candidates = (side..across - side)
        .filter(|&a| share(end_hits[0][a], ends[0].len()) && share(end_hits[1][a], ends[1].len()));
    let mut out: Vec<Streak> = Vec::new();
    for a in candidates {
        // Along the length one side is enough: a streak running a millimetre beside a column
        // of printed box outlines has print on that side for a quarter of its length. The end
        // bands above (both sides, where nothing is printed) already tell it from print.
        let hits = starts
            .iter()
            .filter(|&&l| darker_than_one(sum(a - side, l), sum(a, l), sum(a + side, l)))
            .count();
        if (hits as f64) < starts.len() as f64 * MIN_SPAN {
            continue;
        }
        let a = a as i64;
        match out.last_mut() {
            Some(s) if s.to >= a => s.to = a + 1,
            _ => out.push(Streak {
                vertical,
                from: a,
                to: a + 1,
            }),
        }
    }
    out
}

/// Whether a sample (a sum of [`ALONG`] pixels) is a streak's darker than the paper on both sides.
fn darker(left: u32, mid: u32, right: u32) -> bool {
    mid + STREAK_DROP * ALONG as u32 <= left.min(right)
}

/// Whether a sample is darker than the paper on at least one side (the other may be print).
fn darker_than_one(left: u32, mid: u32, right: u32) -> bool {
    mid + STREAK_DROP * ALONG as u32 <= left.max(right)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper() -> GrayImage {
        GrayImage::from_pixel(600, 800, image::Luma([230]))
    }

    /// Darkens columns `xs` down the whole page to `level`.
    fn streak(img: &mut GrayImage, xs: std::ops::Range<u32>, level: u8) {
        for y in 0..img.height() {
            for x in xs.clone() {
                img.put_pixel(x, y, image::Luma([level]));
            }
        }
    }

    #[test]
    fn a_faint_streak_the_length_of_the_page_is_found() {
        let mut img = paper();
        streak(&mut img, 300..302, 190);
        // A printed rule across the streak hides it locally (it stops short of the margins,
        // as printed rules do).
        for y in 400..404 {
            for x in 60..540 {
                img.put_pixel(x, y, image::Luma([30]));
            }
        }
        let s = find(&img, 11.8);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(s[0].vertical && s[0].from <= 300 && s[0].to >= 302);
        assert!(s[0].crosses((290, 10, 310, 20)));
        assert!(!s[0].crosses((310, 10, 330, 20)));
    }

    #[test]
    fn a_streak_beside_a_column_of_printed_boxes_is_found() {
        let mut img = paper();
        streak(&mut img, 300..302, 120);
        // A box outline 5 px left of the streak every 40 px for 30 px (the satisfied column
        // of a form), over most of the page's length but not its end bands: on that side the
        // streak is no darker than the print for 40 % of its length.
        for y in 60..740 {
            if y % 40 < 30 {
                for x in 294..297 {
                    img.put_pixel(x, y, image::Luma([20]));
                }
            }
        }
        let s = find(&img, 11.8);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(s[0].vertical && s[0].from <= 300 && s[0].to >= 302, "{s:?}");
    }

    #[test]
    fn a_dark_scanner_background_beside_the_page_is_not_a_streak() {
        let mut img = paper();
        streak(&mut img, 0..40, 30);
        assert!(find(&img, 11.8).is_empty());
    }

    #[test]
    fn a_printed_rule_that_stops_short_of_the_margins_is_not_a_streak() {
        let mut img = paper();
        // 90 % of the height, but not into the end bands.
        for y in 45..755 {
            img.put_pixel(200, y, image::Luma([20]));
        }
        // A solid square is not a line either.
        for y in 0..800 {
            for x in 400..480 {
                img.put_pixel(x, y, image::Luma([20]));
            }
        }
        assert!(find(&img, 11.8).is_empty());
    }

    #[test]
    fn a_wiped_streak_leaves_the_paper_beside_it() {
        let mut img = paper();
        streak(&mut img, 100..103, 120);
        let found = find(&img, 300.0 / 25.4);
        assert!(!found.is_empty());
        wipe(&mut img, &found);
        let col = |x: u32| (0..img.height()).map(|y| img.get_pixel(x, y)[0]).min();
        for x in 99..104 {
            assert!(col(x) >= Some(200), "column {x} still dark: {:?}", col(x));
        }
    }

    #[test]
    fn a_tiny_image_has_no_streak_and_no_panic() {
        for (w, h) in [(13, 13), (40, 12), (12, 40), (7, 200)] {
            let img = GrayImage::from_pixel(w, h, image::Luma([200]));
            assert!(find(&img, 11.8).is_empty());
        }
    }

    #[test]
    fn a_sideways_streak_is_found_along_the_rows() {
        let mut img = paper();
        for x in 0..600 {
            img.put_pixel(x, 500, image::Luma([170]));
        }
        let s = find(&img, 11.8);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!(!s[0].vertical && s[0].from == 500 && s[0].to == 501);
    }
}
