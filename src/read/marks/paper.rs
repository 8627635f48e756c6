//! The paper's own level around each pixel: the shadow of a fold, light falling off towards a
//! page's edge (or across a phone photo) and grayish recycled paper are paper, not ink.
//!
//! The level at a pixel is the brightest mean of the small blocks within [`PAPER_REACH_MM`]:
//! ink has sharp edges, so a pen or pencil stroke has clean paper that near (a wide stroke at
//! least along its edges, and its middle is dark enough to count as solid ink); a shadow
//! darkens smoothly over millimetres, so the paper that near is hardly lighter than it. Block
//! means, not single pixels, so noise does not lift the level.

use crate::read::px::PxBox;
use image::GrayImage;

/// Side of the blocks averaged (mm): 2 pixels at 150–200 dpi, 3 at 300.
const PAPER_BLOCK_MM: f64 = 0.25;
/// How far (mm) the brightest block is looked for: a ballpoint or pencil line (0.3–0.8 mm)
/// has paper this near its middle; across a fold's shadow (darkening ≈ 20 gray levels per mm
/// at its steepest) the paper this near is only ≈ 10 levels lighter.
pub const PAPER_REACH_MM: f64 = 0.5;

/// The paper level over a region of the image.
#[derive(Debug, Clone)]
pub struct Paper {
    x0: i64,
    y0: i64,
    block: i64,
    cols: usize,
    levels: Vec<u8>,
}

impl Paper {
    /// The paper level over `region` (inside the image) of a scan at `px_per_mm`.
    #[must_use]
    pub fn of(img: &GrayImage, region: PxBox, px_per_mm: f64) -> Self {
        let block = (PAPER_BLOCK_MM * px_per_mm).round().max(2.0) as i64;
        let (w, h) = (
            (region.2 - region.0).max(0) as usize,
            (region.3 - region.1).max(0) as usize,
        );
        let bu = block as usize;
        let (cu, ru) = (w.div_ceil(bu), h.div_ceil(bu));
        let iw = img.width() as usize;
        let raw = img.as_raw();
        // Block sums row by row: each image row adds its runs of `block` pixels.
        let mut sum = vec![0u32; cu * ru];
        for y in 0..h {
            let at = (region.1 as usize + y) * iw + region.0 as usize;
            let line = &raw[at..at + w];
            let dst = &mut sum[(y / bu) * cu..(y / bu + 1) * cu];
            let (whole, rest) = line.split_at(w / bu * bu);
            for (d, run) in dst.iter_mut().zip(whole.chunks_exact(bu)) {
                let mut t = 0u32;
                for &v in run {
                    t += u32::from(v);
                }
                *d += t;
            }
            if !rest.is_empty() {
                dst[cu - 1] += rest.iter().map(|&v| u32::from(v)).sum::<u32>();
            }
        }
        let count = |r: usize, c: usize| {
            let rows = (h - r * bu).min(bu);
            let cols = (w - c * bu).min(bu);
            (rows * cols).max(1) as u32
        };
        let mut means = vec![0u8; cu * ru];
        for r in 0..ru {
            for c in 0..cu {
                means[r * cu + c] = (sum[r * cu + c] / count(r, c)) as u8;
            }
        }
        // The brightest block within reach, in two passes (rows, then columns).
        let k = (PAPER_REACH_MM * px_per_mm / block as f64).ceil().max(1.0) as usize;
        let mut across = vec![0u8; cu * ru];
        for r in 0..ru {
            let line = &means[r * cu..(r + 1) * cu];
            for c in 0..cu {
                let (a, b) = (c.saturating_sub(k), (c + k).min(cu - 1));
                across[r * cu + c] = line[a..=b].iter().copied().max().unwrap_or(0);
            }
        }
        let mut levels = vec![0u8; cu * ru];
        for r in 0..ru {
            let (a, b) = (r.saturating_sub(k), (r + k).min(ru.saturating_sub(1)));
            let dst = &mut levels[r * cu..(r + 1) * cu];
            dst.copy_from_slice(&across[a * cu..(a + 1) * cu]);
            for q in a + 1..=b {
                for (d, &v) in dst.iter_mut().zip(&across[q * cu..(q + 1) * cu]) {
                    *d = (*d).max(v);
                }
            }
        }
        Self {
            x0: region.0,
            y0: region.1,
            block,
            cols: cu,
            levels,
        }
    }

    /// The paper level at pixel (`x`, `y`) of the region.
    #[must_use]
    pub fn at(&self, x: i64, y: i64) -> u8 {
        let c = ((x - self.x0) / self.block) as usize;
        let r = ((y - self.y0) / self.block) as usize;
        self.levels.get(r * self.cols + c).copied().unwrap_or(0)
    }

    /// The levels of row `y` of the region, one per pixel from its left edge, into `out`.
    pub fn row(&self, y: i64, width: usize, out: &mut Vec<u8>) {
        out.clear();
        let r = ((y - self.y0) / self.block) as usize;
        let row = &self.levels[(r * self.cols).min(self.levels.len())..];
        for c in 0..self.cols {
            let v = row.get(c).copied().unwrap_or(0);
            let n = (self.block as usize).min(width.saturating_sub(out.len()));
            out.extend(std::iter::repeat_n(v, n));
        }
    }
}

/// Side (mm) of the square each pixel's darkness is averaged over before it is judged: about a
/// pencil line's width, so a stroke keeps its darkness while pixel noise and JPEG grain are
/// averaged down by the pixels in the square (9 at 200–300 dpi).
const SMOOTH_MM: f64 = 0.3;

/// How far each pixel of a region lies below the paper around it, averaged over
/// [`SMOOTH_MM`]: gray levels, negative where lighter than the paper level.
#[derive(Debug, Clone)]
pub struct Dips {
    pub region: PxBox,
    pub width: usize,
    pub values: Vec<i16>,
}

impl Dips {
    /// The dips over `region` (inside the image) of a scan at `px_per_mm`.
    #[must_use]
    pub fn of(img: &GrayImage, region: PxBox, px_per_mm: f64) -> Self {
        let paper = Paper::of(img, region, px_per_mm);
        let (w, h) = (
            (region.2 - region.0).max(0) as usize,
            (region.3 - region.1).max(0) as usize,
        );
        let iw = img.width() as usize;
        let raw = img.as_raw();
        let bu = paper.block as usize;
        let mut plain = vec![0i16; w * h];
        // Each block row's levels spread over its pixels once, then every pixel row under it
        // is one subtraction per pixel.
        let mut bg = vec![0i16; w];
        for (r, out) in plain.chunks_exact_mut(w.max(1)).enumerate().take(h) {
            if r % bu == 0 {
                let levels = &paper.levels[(r / bu) * paper.cols..(r / bu + 1) * paper.cols];
                for (run, &l) in bg.chunks_mut(bu).zip(levels) {
                    run.fill(i16::from(l));
                }
            }
            let at = (region.1 as usize + r) * iw + region.0 as usize;
            for ((d, &g), &b) in out.iter_mut().zip(&raw[at..at + w]).zip(&bg) {
                *d = b - i16::from(g);
            }
        }
        // Odd side of at least one pixel: 1 (none) at 150 dpi, 3 at 200–300 dpi.
        let k = ((SMOOTH_MM * px_per_mm).round() as usize).max(1) | 1;
        let values = if k == 1 || w == 0 || h == 0 {
            plain
        } else {
            box_mean(&plain, w, h, k / 2)
        };
        Self {
            region,
            width: w,
            values,
        }
    }

    /// The dip at row `r`, column `c` of the region.
    #[inline]
    #[must_use]
    pub fn at(&self, r: usize, c: usize) -> i16 {
        self.values[r * self.width + c]
    }

    /// Row `r` of the region.
    #[inline]
    #[must_use]
    pub fn row(&self, r: usize) -> &[i16] {
        &self.values[r * self.width..(r + 1) * self.width]
    }
}

/// The mean over the (2 `half` + 1)² square around every value (clipped at the edges).
fn box_mean(v: &[i16], w: usize, h: usize, half: usize) -> Vec<i16> {
    // Sums along rows, then along columns, each over the window clipped at the edges; then
    // one multiply by the window's reciprocal (16.16 fixed point, rounded up so whole
    // multiples stay whole) instead of a division per value.
    let side = 2 * half + 1;
    let recip: Vec<i32> = (0..=side * side)
        .map(|n| {
            if n == 0 {
                0
            } else {
                65536_usize.div_ceil(n) as i32
            }
        })
        .collect();
    let span = |c: usize, n: usize| (c.saturating_sub(half), (c + half).min(n - 1));
    // Window widths per column and per row (few distinct values: the edges are narrower).
    let cols: Vec<usize> = (0..w).map(|c| span(c, w).1 - span(c, w).0 + 1).collect();
    let mut across = vec![0i32; w * h];
    for (line, out) in v.chunks_exact(w).zip(across.chunks_exact_mut(w)) {
        // A running sum: add the value entering on the right, drop the one leaving.
        let mut sum: i32 = line[..half.min(w - 1)].iter().map(|&x| i32::from(x)).sum();
        for c in 0..w {
            if c + half < w {
                sum += i32::from(line[c + half]);
            }
            if c > half {
                sum -= i32::from(line[c - half - 1]);
            }
            out[c] = sum;
        }
    }
    let mut out = vec![0i16; w * h];
    let mut col = vec![0i32; w];
    for r in 0..h {
        let (r0, r1) = span(r, h);
        // The column sums for rows r0..=r1, kept running down the image.
        if r == 0 {
            for q in r0..=r1 {
                for (s, a) in col.iter_mut().zip(&across[q * w..(q + 1) * w]) {
                    *s += a;
                }
            }
        } else {
            if r + half < h {
                for (s, a) in col
                    .iter_mut()
                    .zip(&across[(r + half) * w..(r + half + 1) * w])
                {
                    *s += a;
                }
            }
            if r > half {
                let q = r - half - 1;
                for (s, a) in col.iter_mut().zip(&across[q * w..(q + 1) * w]) {
                    *s -= a;
                }
            }
        }
        let rows = r1 - r0 + 1;
        for ((o, &s), &n) in out[r * w..(r + 1) * w].iter_mut().zip(&col).zip(&cols) {
            *o = ((s * recip[rows * n]) >> 16) as i16;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Luma;

    #[test]
    fn a_shadow_is_paper_and_a_stroke_is_not() {
        // 10 px/mm: paper 230, a 3 mm wide shadow at 200 across rows 30..60, a 0.5 mm pen
        // stroke at 60 down columns 100..105.
        let img = GrayImage::from_fn(200, 100, |x, y| {
            Luma([if (100..105).contains(&x) {
                60
            } else if (30..60).contains(&y) {
                200
            } else {
                230
            }])
        });
        let p = Paper::of(&img, (0, 0, 200, 100), 10.0);
        // In the shadow's middle the paper is the shadow; on the stroke it is the paper beside.
        assert_eq!(p.at(50, 45), 200);
        assert_eq!(p.at(102, 80), 230);
        assert_eq!(p.at(102, 45), 200);
        let mut row = Vec::new();
        p.row(45, 200, &mut row);
        assert_eq!(row.len(), 200);
        assert_eq!(row[50], p.at(50, 45));
        // Dips: nothing in the shadow's middle, the stroke's darkness on it (averaged over
        // 0.3 mm, all of it inside the 0.5 mm stroke).
        let d = Dips::of(&img, (0, 0, 200, 100), 10.0);
        assert_eq!(d.at(45, 50), 0);
        assert_eq!(d.at(80, 102), 170);
    }

    /// The plain definition, for checking the sliding sums.
    fn slow_mean(v: &[i16], w: usize, h: usize, half: usize) -> Vec<i16> {
        let mut out = vec![0i16; w * h];
        for r in 0..h {
            for c in 0..w {
                let (r0, r1) = (r.saturating_sub(half), (r + half).min(h - 1));
                let (c0, c1) = (c.saturating_sub(half), (c + half).min(w - 1));
                let mut s = 0i32;
                for q in r0..=r1 {
                    for p in c0..=c1 {
                        s += i32::from(v[q * w + p]);
                    }
                }
                let n = ((r1 - r0 + 1) * (c1 - c0 + 1)) as i32;
                out[r * w + c] = (s.div_euclid(n)) as i16;
            }
        }
        out
    }

    #[test]
    fn sliding_sums_match_the_plain_mean_to_a_level() {
        let (w, h) = (23usize, 17usize);
        let v: Vec<i16> = (0..w * h)
            .map(|i| ((i * 37 + i / 7 * 11) % 97) as i16 - 20)
            .collect();
        for half in [1, 2, 3] {
            let fast = box_mean(&v, w, h, half);
            for (a, b) in fast.iter().zip(slow_mean(&v, w, h, half)) {
                assert!((a - b).abs() <= 1, "{half}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn averaging_keeps_a_flat_area_and_spreads_a_point() {
        let mut v = vec![0i16; 25];
        v[12] = 90;
        let m = box_mean(&v, 5, 5, 1);
        assert_eq!(m[12], 10);
        assert_eq!(m[0], 0);
        assert_eq!(box_mean(&[7; 12], 4, 3, 1), vec![7; 12]);
    }
}
