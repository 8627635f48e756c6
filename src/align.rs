//! Alignment: find the four printed registration squares of an upright page and fit the
//! transform from layout millimetres to image pixels.
//!
//! Only small windows around where the page geometry predicts each square are looked at
//! (binarised with their own Otsu level, connected components on the window alone), so a
//! 300-dpi page costs a few hundred thousand pixels, not nine million. Three squares are
//! enough (exact affine); with four the transform is the homography through them and the
//! residual of a least-squares affine fit says whether the paper was creased or stretched.
//! Every tolerance is in millimetres and converted with the page's scale.

use crate::layout::{PageLayout, MARK_SIZE};
use crate::marks::otsu;
use crate::units::{PointMm, RectMm, SizeMm};
use image::GrayImage;

/// How far (beyond its own half-size) a square may sit from where a page that fills the image
/// would put it: a 97 % "fit to page" print moves corner squares ≈ 4.5 mm, a feeder shifts a
/// sheet a few mm more.
pub const MARK_SEARCH_MM: f64 = 12.0;
/// Second, wider look for squares not found at first: a sheet printed or scanned at the wrong
/// size puts them ≈ 20 mm off, and naming its scale tells the clerk more than "not found".
pub const MARK_SEARCH_WIDE_MM: f64 = 30.0;
/// Largest RMS misfit of the found squares (and the code's centre) to a flat, straight page.
/// The measured part of a tick box keeps 0.65 mm off its outline and re-centring absorbs
/// ±1.5 mm, so 1 mm of unexplained distortion is where a cell could start reading its frame.
pub const RESIDUAL_LIMIT_MM: f64 = 1.0;
/// Largest departure of the measured scale from the expected one. Beyond 10 % the sheet was
/// scanned (or printed) at the wrong size, and the tick boxes no longer match the form.
pub const SCALE_TOLERANCE: f64 = 0.10;
/// Lowest share of its bounding box a square's blob must fill: a solid square tilted by 5°
/// still fills 84 %; a glyph, a table corner or a tick fills far less.
const MIN_FILL: f64 = 0.75;
/// Smallest short/long side ratio of a square's bounding box.
const MIN_SQUARENESS: f64 = 0.8;
/// Accepted size of a found square relative to the expected 6 mm (scale tolerance, toner
/// spread and scanner blur included).
const SIDE_RANGE: (f64, f64) = (0.75, 1.3);
/// Gray levels between the paper and ink classes below which a window holds no ink at all.
const MIN_CONTRAST: f64 = 64.0;

/// The corners in the layout's order of `PageLayout::marks`.
pub const CORNERS: [&str; 4] = ["top-left", "top-right", "bottom-right", "bottom-left"];

/// Why a page could not be aligned, with the evidence.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlignError {
    #[error("only {found} of the 4 black corner squares were found (missing: {}): corner torn off, folded, covered or outside the scan", missing.join(", "))]
    MarksMissing {
        found: usize,
        missing: Vec<&'static str>,
    },
    #[error("the corner squares are {residual_mm:.2} mm off a flat page (limit {limit_mm:.1} mm): the sheet is creased, curled or stretched")]
    Distorted { residual_mm: f64, limit_mm: f64 },
    #[error("the page appears at {:.0} % × {:.0} % of its printed size (accepted {:.0}–{:.0} %): scanned or printed at the wrong size", scale_x * 100.0, scale_y * 100.0, (1.0 - SCALE_TOLERANCE) * 100.0, (1.0 + SCALE_TOLERANCE) * 100.0)]
    WrongScale { scale_x: f64, scale_y: f64 },
    #[error("the corner squares found do not define a page (they lie on a line)")]
    Degenerate,
}

/// Layout millimetres → upright-image pixels: a 3×3 projective matrix (affine when its last
/// row is 0 0 1), plus the image size for clamping.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    m: [f64; 9],
    pub width: u32,
    pub height: u32,
}

impl Transform {
    /// A transform from a row-major matrix, for an image of `width` × `height`.
    #[must_use]
    pub fn from_matrix(m: [f64; 9], width: u32, height: u32) -> Self {
        Self { m, width, height }
    }

    /// A plain scale (and offset): mm × `s` + `offset` px.
    #[must_use]
    pub fn scale(s: f64, offset: (f64, f64), width: u32, height: u32) -> Self {
        Self::from_matrix(
            [s, 0.0, offset.0, 0.0, s, offset.1, 0.0, 0.0, 1.0],
            width,
            height,
        )
    }

    /// Row-major 3×3 matrix (as `PageReading::transform` stores it).
    #[must_use]
    pub fn matrix(&self) -> [f64; 9] {
        self.m
    }

    /// Where a layout point lands in the image, pixels (continuous: pixel centres at +0.5).
    #[must_use]
    pub fn map(&self, p: PointMm) -> (f64, f64) {
        let m = &self.m;
        let w = m[6] * p.x + m[7] * p.y + m[8];
        // A projective denominator near zero only arises from a degenerate fit; keep finite.
        let w = if w.abs() < 1e-12 { 1e-12 } else { w };
        (
            (m[0] * p.x + m[1] * p.y + m[2]) / w,
            (m[3] * p.x + m[4] * p.y + m[5]) / w,
        )
    }

    /// Bounding box of a layout rectangle in the image, unclamped: (x0, y0, x1, y1).
    #[must_use]
    pub fn rect_f(&self, r: RectMm) -> (f64, f64, f64, f64) {
        let c = [
            self.map(PointMm::new(r.x, r.y)),
            self.map(PointMm::new(r.right(), r.y)),
            self.map(PointMm::new(r.right(), r.bottom())),
            self.map(PointMm::new(r.x, r.bottom())),
        ];
        let x0 = c.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
        let x1 = c.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
        let y0 = c.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let y1 = c.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        (x0, y0, x1, y1)
    }

    /// A layout rectangle as image pixels `[x, y, w, h]`, clamped to the image (may be empty).
    #[must_use]
    pub fn rect_px(&self, r: RectMm) -> [u32; 4] {
        let (x0, y0, x1, y1) = self.rect_f(r);
        let cl = |v: f64, hi: u32| {
            if v.is_finite() {
                v.round().clamp(0.0, f64::from(hi)) as u32
            } else {
                0
            }
        };
        let (x0, x1) = (cl(x0, self.width), cl(x1, self.width));
        let (y0, y1) = (cl(y0, self.height), cl(y1, self.height));
        [x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0)]
    }

    /// Local scale at `p`, pixels per millimetre (mean of the two axes).
    #[must_use]
    pub fn px_per_mm(&self, p: PointMm) -> f64 {
        let o = self.map(p);
        let x = self.map(PointMm::new(p.x + 1.0, p.y));
        let y = self.map(PointMm::new(p.x, p.y + 1.0));
        (((x.0 - o.0).hypot(x.1 - o.1)) + ((y.0 - o.0).hypot(y.1 - o.1))) / 2.0
    }
}

/// Where a page was found in the image.
#[derive(Debug, Clone)]
pub struct Alignment {
    pub transform: Transform,
    /// RMS misfit of the found squares (and code centre) to a least-squares affine page, mm.
    pub residual_mm: f64,
    /// Centres of the squares found, pixels, in `CORNERS` order.
    pub marks: [Option<(f64, f64)>; 4],
}

/// Find the page in an upright image.
///
/// `scale` is the expected pixels per millimetre (from the dpi or the image size); the page is
/// expected centred in the image. `code_centre` is where the page code's centre was found (an
/// independent check point for the residual).
///
/// # Errors
/// [`AlignError`] when fewer than 3 squares are found, the page is distorted past
/// [`RESIDUAL_LIMIT_MM`], or its scale is off by more than [`SCALE_TOLERANCE`].
pub fn align(
    img: &GrayImage,
    page: &PageLayout,
    size: SizeMm,
    scale: f64,
    code_centre: Option<(f64, f64)>,
) -> Result<Alignment, AlignError> {
    let (iw, ih) = (f64::from(img.width()), f64::from(img.height()));
    let predict = |p: PointMm| {
        (
            iw / 2.0 + (p.x - size.w / 2.0) * scale,
            ih / 2.0 + (p.y - size.h / 2.0) * scale,
        )
    };
    let mut found = [None; 4];
    for (k, r) in page.marks.iter().enumerate() {
        found[k] = find_mark(img, predict(r.center()), scale, MARK_SEARCH_MM);
    }
    if found.iter().filter(|f| f.is_some()).count() < 3 {
        for (k, r) in page.marks.iter().enumerate() {
            if found[k].is_none() {
                found[k] = find_mark(img, predict(r.center()), scale, MARK_SEARCH_WIDE_MM);
            }
        }
    }
    let pairs: Vec<(PointMm, (f64, f64))> = page
        .marks
        .iter()
        .zip(found)
        .filter_map(|(r, f)| f.map(|f| (r.center(), f)))
        .collect();
    if pairs.len() < 3 {
        let missing = CORNERS
            .iter()
            .zip(found)
            .filter(|(_, f)| f.is_none())
            .map(|(c, _)| *c)
            .collect();
        return Err(AlignError::MarksMissing {
            found: pairs.len(),
            missing,
        });
    }
    // The residual: the marks (and the code's centre) against the best flat, straight page.
    let mut check = pairs.clone();
    if let Some(c) = code_centre {
        check.push((page.code.center(), c));
    }
    let affine = fit_affine(&check).ok_or(AlignError::Degenerate)?;
    let (sx, sy) = (affine[0].hypot(affine[3]), affine[1].hypot(affine[4]));
    if (sx / scale - 1.0).abs() > SCALE_TOLERANCE || (sy / scale - 1.0).abs() > SCALE_TOLERANCE {
        return Err(AlignError::WrongScale {
            scale_x: sx / scale,
            scale_y: sy / scale,
        });
    }
    let s = (sx + sy) / 2.0;
    let sq: f64 = check
        .iter()
        .map(|(p, q)| {
            let (x, y) = (
                affine[0] * p.x + affine[1] * p.y + affine[2],
                affine[3] * p.x + affine[4] * p.y + affine[5],
            );
            (x - q.0).powi(2) + (y - q.1).powi(2)
        })
        .sum();
    let residual_mm = (sq / check.len() as f64).sqrt() / s;
    if residual_mm > RESIDUAL_LIMIT_MM {
        return Err(AlignError::Distorted {
            residual_mm,
            limit_mm: RESIDUAL_LIMIT_MM,
        });
    }
    let m = if pairs.len() == 4 {
        fit_homography(&pairs).ok_or(AlignError::Degenerate)?
    } else {
        let a = fit_affine(&pairs).ok_or(AlignError::Degenerate)?;
        [a[0], a[1], a[2], a[3], a[4], a[5], 0.0, 0.0, 1.0]
    };
    Ok(Alignment {
        transform: Transform::from_matrix(m, img.width(), img.height()),
        residual_mm,
        marks: found,
    })
}

/// A connected blob of dark pixels in a window.
#[derive(Debug, Clone, Copy)]
struct Blob {
    area: usize,
    x0: usize,
    y0: usize,
    x1: usize,
    y1: usize,
    sx: f64,
    sy: f64,
}

/// Find the solid square nearest `centre` (pixels) in a window around it; its centroid.
fn find_mark(
    img: &GrayImage,
    centre: (f64, f64),
    scale: f64,
    search_mm: f64,
) -> Option<(f64, f64)> {
    let half = (MARK_SIZE / 2.0 + search_mm) * scale;
    let (w, h) = (f64::from(img.width()), f64::from(img.height()));
    let x0 = (centre.0 - half).clamp(0.0, w) as u32;
    let x1 = (centre.0 + half).clamp(0.0, w) as u32;
    let y0 = (centre.1 - half).clamp(0.0, h) as u32;
    let y1 = (centre.1 + half).clamp(0.0, h) as u32;
    if x1 <= x0 + 2 || y1 <= y0 + 2 {
        return None;
    }
    let (ww, wh) = ((x1 - x0) as usize, (y1 - y0) as usize);
    // The window's rows as slices of the image.
    let iw = img.width() as usize;
    let rows = || {
        img.as_raw()
            .chunks_exact(iw)
            .skip(y0 as usize)
            .take(wh)
            .map(|row| &row[x0 as usize..x1 as usize])
    };
    let o = otsu(&crate::marks::histogram(rows(), 1));
    if o.light_mean - o.dark_mean < MIN_CONTRAST {
        return None;
    }
    // 1 = dark and unvisited, 0 = paper or visited.
    let mut bits: Vec<u8> = Vec::with_capacity(ww * wh);
    for row in rows() {
        bits.extend(row.iter().map(|&p| u8::from(p <= o.level)));
    }
    let side = MARK_SIZE * scale;
    let want_area = side * side;
    let (cx, cy) = (centre.0 - f64::from(x0), centre.1 - f64::from(y0));
    let mut best: Option<(f64, (f64, f64))> = None;
    let mut stack = Vec::new();
    for start in 0..bits.len() {
        if bits[start] == 0 {
            continue;
        }
        let b = flood(&mut bits, ww, wh, start, &mut stack);
        let (bw, bh) = ((b.x1 - b.x0 + 1) as f64, (b.y1 - b.y0 + 1) as f64);
        let fill = b.area as f64 / (bw * bh);
        let square = bw.min(bh) / bw.max(bh);
        let ok_side = |v: f64| v >= side * SIDE_RANGE.0 && v <= side * SIDE_RANGE.1;
        if fill < MIN_FILL || square < MIN_SQUARENESS || !ok_side(bw) || !ok_side(bh) {
            continue;
        }
        let (mx, my) = (b.sx / b.area as f64 + 0.5, b.sy / b.area as f64 + 0.5);
        // Prefer the right area, then nearness to the prediction.
        let cost = (b.area as f64 / want_area - 1.0).abs() + (mx - cx).hypot(my - cy) / half;
        if best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, (mx + f64::from(x0), my + f64::from(y0))));
        }
    }
    best.map(|(_, p)| p)
}

/// Flood-fill the 4-connected blob at `start`, clearing it; its statistics.
fn flood(bits: &mut [u8], w: usize, h: usize, start: usize, stack: &mut Vec<usize>) -> Blob {
    let mut b = Blob {
        area: 0,
        x0: usize::MAX,
        y0: usize::MAX,
        x1: 0,
        y1: 0,
        sx: 0.0,
        sy: 0.0,
    };
    stack.clear();
    stack.push(start);
    bits[start] = 0;
    while let Some(i) = stack.pop() {
        let (x, y) = (i % w, i / w);
        b.area += 1;
        b.x0 = b.x0.min(x);
        b.x1 = b.x1.max(x);
        b.y0 = b.y0.min(y);
        b.y1 = b.y1.max(y);
        b.sx += x as f64;
        b.sy += y as f64;
        let mut push = |j: usize| {
            if bits[j] == 1 {
                bits[j] = 0;
                stack.push(j);
            }
        };
        if x > 0 {
            push(i - 1);
        }
        if x + 1 < w {
            push(i + 1);
        }
        if y > 0 {
            push(i - w);
        }
        if y + 1 < h {
            push(i + w);
        }
    }
    b
}

/// Solve `a · x = b` (n×n, row-major) by Gaussian elimination with partial pivoting.
fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv =
            (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        // Relative to the matrix's magnitude the pivot is ~0: the points are degenerate.
        if a[piv * n + col].abs() < 1e-12 {
            return None;
        }
        if piv != col {
            for k in 0..n {
                a.swap(piv * n + k, col * n + k);
            }
            b.swap(piv, col);
        }
        for r in col + 1..n {
            let f = a[r * n + col] / a[col * n + col];
            for k in col..n {
                a[r * n + k] -= f * a[col * n + k];
            }
            b[r] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r * n + k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r * n + r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Least-squares affine map (x' = a0 x + a1 y + a2, y' = a3 x + a4 y + a5) through ≥ 3 pairs.
fn fit_affine(pairs: &[(PointMm, (f64, f64))]) -> Option<[f64; 6]> {
    if pairs.len() < 3 {
        return None;
    }
    // Normal equations on centred source points keep the system well conditioned.
    let n = pairs.len() as f64;
    let (mx, my) = (
        pairs.iter().map(|p| p.0.x).sum::<f64>() / n,
        pairs.iter().map(|p| p.0.y).sum::<f64>() / n,
    );
    let mut ata = vec![0.0; 9];
    let (mut bx, mut by) = (vec![0.0; 3], vec![0.0; 3]);
    for (p, q) in pairs {
        let v = [p.x - mx, p.y - my, 1.0];
        for i in 0..3 {
            for j in 0..3 {
                ata[i * 3 + j] += v[i] * v[j];
            }
            bx[i] += v[i] * q.0;
            by[i] += v[i] * q.1;
        }
    }
    let x = solve(ata.clone(), bx)?;
    let y = solve(ata, by)?;
    Some([
        x[0],
        x[1],
        x[2] - x[0] * mx - x[1] * my,
        y[0],
        y[1],
        y[2] - y[0] * mx - y[1] * my,
    ])
}

/// The homography through exactly four pairs (none three on a line).
fn fit_homography(pairs: &[(PointMm, (f64, f64))]) -> Option<[f64; 9]> {
    if pairs.len() != 4 {
        return None;
    }
    // Bring both sides to about unit size so the 8×8 system is well conditioned.
    let (ks, kd) = (0.01, 0.001);
    let mut a = vec![0.0; 64];
    let mut b = vec![0.0; 8];
    for (k, (p, q)) in pairs.iter().enumerate() {
        let (x, y, u, v) = (p.x * ks, p.y * ks, q.0 * kd, q.1 * kd);
        let r = 2 * k;
        a[r * 8..r * 8 + 8].copy_from_slice(&[x, y, 1.0, 0.0, 0.0, 0.0, -x * u, -y * u]);
        a[(r + 1) * 8..(r + 1) * 8 + 8].copy_from_slice(&[
            0.0,
            0.0,
            0.0,
            x,
            y,
            1.0,
            -x * v,
            -y * v,
        ]);
        b[r] = u;
        b[r + 1] = v;
    }
    let h = solve(a, b)?;
    // H = diag(1/kd, 1/kd, 1) · Hn · diag(ks, ks, 1)
    Some([
        h[0] * ks / kd,
        h[1] * ks / kd,
        h[2] / kd,
        h[3] * ks / kd,
        h[4] * ks / kd,
        h[5] / kd,
        h[6] * ks,
        h[7] * ks,
        1.0,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(f: impl Fn(f64, f64) -> (f64, f64)) -> Vec<(PointMm, (f64, f64))> {
        [(11.0, 11.0), (199.0, 11.0), (199.0, 286.0), (11.0, 286.0)]
            .iter()
            .map(|&(x, y)| (PointMm::new(x, y), f(x, y)))
            .collect()
    }

    #[test]
    fn an_affine_fit_recovers_a_rotated_scaled_page() {
        let (c, s) = (0.02f64.cos() * 11.8, 0.02f64.sin() * 11.8);
        let f = |x: f64, y: f64| (c * x - s * y + 30.0, s * x + c * y - 12.0);
        let a = fit_affine(&pairs(f)[..3]).unwrap();
        let t = Transform::from_matrix(
            [a[0], a[1], a[2], a[3], a[4], a[5], 0.0, 0.0, 1.0],
            2480,
            3508,
        );
        let (x, y) = t.map(PointMm::new(100.0, 150.0));
        let (ex, ey) = f(100.0, 150.0);
        assert!((x - ex).abs() < 1e-6 && (y - ey).abs() < 1e-6);
        assert!((t.px_per_mm(PointMm::new(50.0, 50.0)) - 11.8).abs() < 1e-6);
    }

    #[test]
    fn a_homography_passes_through_its_four_points() {
        // A slight keystone: the bottom edge is wider than the top.
        let f = |x: f64, y: f64| ((x - 105.0) * (11.0 + y / 300.0) + 1240.0, y * 11.8 + 5.0);
        let ps = pairs(f);
        let t = Transform::from_matrix(fit_homography(&ps).unwrap(), 2480, 3508);
        for (p, q) in ps {
            let m = t.map(p);
            assert!(
                (m.0 - q.0).abs() < 1e-6 && (m.1 - q.1).abs() < 1e-6,
                "{m:?} vs {q:?}"
            );
        }
    }

    #[test]
    fn collinear_points_give_no_fit() {
        let ps: Vec<_> = [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]
            .iter()
            .map(|&(x, y)| (PointMm::new(x, y), (x, y)))
            .collect();
        assert!(fit_affine(&ps).is_none());
    }

    #[test]
    fn rect_px_is_clamped_to_the_image() {
        let t = Transform::scale(10.0, (-50.0, 0.0), 100, 100);
        assert_eq!(
            t.rect_px(RectMm::new(0.0, 0.0, 20.0, 20.0)),
            [0, 0, 100, 100]
        );
        assert_eq!(
            t.rect_px(RectMm::new(50.0, 50.0, 5.0, 5.0)),
            [100, 100, 0, 0]
        );
    }
}
