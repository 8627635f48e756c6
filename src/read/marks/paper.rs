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
        let (w, h) = (region.2 - region.0, region.3 - region.1);
        let cols = (w.max(0) + block - 1) / block;
        let rows = (h.max(0) + block - 1) / block;
        let (cu, ru) = (cols as usize, rows as usize);
        let (mut sum, mut n) = (vec![0u32; cu * ru], vec![0u32; cu * ru]);
        let iw = i64::from(img.width());
        let raw = img.as_raw();
        for y in region.1..region.3 {
            let r = ((y - region.1) / block) as usize;
            let line = &raw[(y * iw + region.0) as usize..(y * iw + region.2) as usize];
            for (c, chunk) in line.chunks(block as usize).enumerate() {
                sum[r * cu + c] += chunk.iter().map(|&v| u32::from(v)).sum::<u32>();
                n[r * cu + c] += chunk.len() as u32;
            }
        }
        let means: Vec<u8> = sum
            .iter()
            .zip(&n)
            .map(|(&s, &c)| s.checked_div(c).unwrap_or(0) as u8)
            .collect();
        // The brightest block within reach, in two passes (rows, then columns).
        let k = (PAPER_REACH_MM * px_per_mm / block as f64).ceil().max(1.0) as usize;
        let mut across = vec![0u8; cu * ru];
        for r in 0..ru {
            for c in 0..cu {
                let (a, b) = (c.saturating_sub(k), (c + k).min(cu - 1));
                across[r * cu + c] = means[r * cu + a..=r * cu + b]
                    .iter()
                    .copied()
                    .max()
                    .unwrap_or(0);
            }
        }
        let mut levels = vec![0u8; cu * ru];
        for r in 0..ru {
            let (a, b) = (r.saturating_sub(k), (r + k).min(ru.saturating_sub(1)));
            for c in 0..cu {
                levels[r * cu + c] = (a..=b).map(|q| across[q * cu + c]).max().unwrap_or(0);
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
        let iw = i64::from(img.width());
        let raw = img.as_raw();
        let mut row = Vec::with_capacity(w);
        let mut plain = vec![0i16; w * h];
        for (r, y) in (region.1..region.3).enumerate() {
            paper.row(y, w, &mut row);
            let line = &raw[(y * iw + region.0) as usize..(y * iw + region.2) as usize];
            for ((d, &g), &bg) in plain[r * w..(r + 1) * w].iter_mut().zip(line).zip(&row) {
                *d = i16::from(bg) - i16::from(g);
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
    #[must_use]
    pub fn at(&self, r: usize, c: usize) -> i16 {
        self.values[r * self.width + c]
    }

    /// Row `r` of the region.
    #[must_use]
    pub fn row(&self, r: usize) -> &[i16] {
        &self.values[r * self.width..(r + 1) * self.width]
    }
}

/// The mean over the (2 `half` + 1)² square around every value (clipped at the edges).
fn box_mean(v: &[i16], w: usize, h: usize, half: usize) -> Vec<i16> {
    // Rows first, then columns, each a running sum.
    let mut across = vec![0i32; w * h];
    for r in 0..h {
        let line = &v[r * w..(r + 1) * w];
        for c in 0..w {
            let (a, b) = (c.saturating_sub(half), (c + half).min(w - 1));
            let s: i32 = line[a..=b].iter().map(|&x| i32::from(x)).sum();
            across[r * w + c] = s * 16 / (b - a + 1) as i32;
        }
    }
    let mut out = vec![0i16; w * h];
    for c in 0..w {
        for r in 0..h {
            let (a, b) = (r.saturating_sub(half), (r + half).min(h - 1));
            let s: i32 = (a..=b).map(|q| across[q * w + c]).sum();
            out[r * w + c] = (s / ((b - a + 1) as i32 * 16)) as i16;
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
