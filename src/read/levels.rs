//! Gray levels of a page: its histogram, Otsu's split of paper from ink, and the levels the
//! reader measures ink at. Shared by every stage that looks at pixels (code, squares, boxes).

use image::GrayImage;

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

/// Subsampling step for the page histogram, each way: 1 pixel in 64 still samples 136,000
/// pixels of an A4 page at 300 dpi (34,000 at 150), far more than a threshold and a 0.3 %
/// blank-page share need, and reads an eighth of the page's rows.
const PAGE_SAMPLE_STEP: u32 = 8;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
