//! The map from layout millimetres to image pixels, and fitting it to measured points.
//!
//! A page on a flatbed or feeder is a plane seen straight on, possibly turned, shifted, scaled
//! and (when the sheet is not flat on the glass, or photographed) seen in perspective: a
//! projective map (homography) covers all of these; an affine one is its special case.

use crate::units::{PointMm, RectMm};

/// Layout millimetres → upright-image pixels: a 3×3 projective matrix (affine when its last
/// row is 0 0 1), an optional local [`Warp`] applied before it, and the image size for
/// clamping.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    m: [f64; 9],
    warp: Warp,
    pub width: u32,
    pub height: u32,
}

/// How far (mm) one measured offset reaches: about two table rows or half a table cell, the
/// scale over which a curled or folded sheet bends.
const WARP_REACH_MM: f64 = 15.0;
/// Weight of the page's plain geometry (no offset) in every local estimate: that of a probe
/// two and a half reaches away, so the correction fades out where nothing was measured but
/// holds its full size among the probes (one probe a reach away still carries 92 %).
const WARP_PRIOR: f64 = 0.05;

/// One offset measured on a printed line: where (layout point) and how far (mm).
pub type Offset = (PointMm, f64);

/// A smooth local correction in layout millimetres: where the page's printed lines showed it
/// lies off its projective map (a sheet curled on the glass, a fold). Each measured offset
/// pulls its surroundings, weighted by a Gaussian of the distance; far from any measurement
/// the correction fades to nothing.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Warp {
    /// Offsets along x, measured on vertical lines: (layout point, mm).
    along_x: Vec<(PointMm, f64)>,
    /// Offsets along y, measured on horizontal lines.
    along_y: Vec<(PointMm, f64)>,
}

impl Warp {
    #[must_use]
    pub fn new(along_x: Vec<(PointMm, f64)>, along_y: Vec<(PointMm, f64)>) -> Self {
        Self { along_x, along_y }
    }

    /// The measured offsets: along x (on vertical lines) and along y (on horizontal lines).
    #[must_use]
    pub fn offsets(&self) -> (&[Offset], &[Offset]) {
        (&self.along_x, &self.along_y)
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.along_x.is_empty() && self.along_y.is_empty()
    }

    /// The correction at `p`: (dx, dy) in millimetres.
    #[must_use]
    pub fn at(&self, p: PointMm) -> (f64, f64) {
        let blend = |v: &[(PointMm, f64)]| {
            let (mut sw, mut swd) = (WARP_PRIOR, 0.0);
            let two_var = 2.0 * WARP_REACH_MM * WARP_REACH_MM;
            for (q, d) in v {
                let r2 = (q.x - p.x).powi(2) + (q.y - p.y).powi(2);
                // Beyond three reaches a weight is < 1 % of the prior's: skip the exp.
                if r2 < 9.0 * WARP_REACH_MM * WARP_REACH_MM {
                    let w = (-r2 / two_var).exp();
                    sw += w;
                    swd += w * d;
                }
            }
            swd / sw
        };
        (blend(&self.along_x), blend(&self.along_y))
    }
}

impl Transform {
    /// A transform from a row-major matrix, for an image of `width` × `height`.
    #[must_use]
    pub fn from_matrix(m: [f64; 9], width: u32, height: u32) -> Self {
        Self {
            m,
            warp: Warp::default(),
            width,
            height,
        }
    }

    /// The same projective map with a local correction applied before it.
    #[must_use]
    pub fn with_warp(self, warp: Warp) -> Self {
        Self { warp, ..self }
    }

    /// This map corrected page-wide by the offsets of `warp` (see [`fit_correction`]), without
    /// the warp; `None` when they are too few to fit.
    #[must_use]
    pub fn corrected(&self, warp: &Warp) -> Option<Self> {
        let (xs, ys) = warp.offsets();
        let c = fit_correction(xs, ys)?;
        Some(Self::from_matrix(
            compose(&self.m, &c),
            self.width,
            self.height,
        ))
    }

    /// The local correction (empty on a flat page).
    #[must_use]
    pub fn warp(&self) -> &Warp {
        &self.warp
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

    /// Row-major 3×3 matrix (as `PageReading::transform` stores it; the warp is not stored).
    #[must_use]
    pub fn matrix(&self) -> [f64; 9] {
        self.m
    }

    /// Where a layout point lands in the image, pixels (continuous: pixel centres at +0.5).
    #[inline]
    #[must_use]
    pub fn map(&self, p: PointMm) -> (f64, f64) {
        let p = if self.warp.is_empty() {
            p
        } else {
            let (dx, dy) = self.warp.at(p);
            PointMm::new(p.x + dx, p.y + dy)
        };
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

/// Solve `a · x = b` (n×n, row-major) by Gaussian elimination with partial pivoting.
pub(crate) fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
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
pub fn fit_affine(pairs: &[(PointMm, (f64, f64))]) -> Option<[f64; 6]> {
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

/// Fewest offsets in each direction for [`fit_correction`]: its eight unknowns need both
/// directions spread over the page.
const CORRECTION_MIN_EACH: usize = 4;

/// The projective correction of layout space that best explains offsets measured on the
/// printed lines (`along_x` on vertical lines, `along_y` on horizontal ones; see [`Warp`]): a
/// page whose squares were misjudged (one cut by the scan's edge, one joined by a streak) or
/// that three squares fit only affinely (a keystone) is off by a smooth projective error that
/// the lines show everywhere. As a 3×3 matrix to apply before the page's own (row-major).
///
/// Least squares on the first-order model dx = a0 x + a1 y + a2 − x (g x + h y),
/// dy = a3 x + a4 y + a5 − y (g x + h y) (offsets of a few millimetres over a page: the
/// second-order terms are well under a micrometre).
#[must_use]
pub fn fit_correction(along_x: &[(PointMm, f64)], along_y: &[(PointMm, f64)]) -> Option<[f64; 9]> {
    if along_x.len() < CORRECTION_MIN_EACH || along_y.len() < CORRECTION_MIN_EACH {
        return None;
    }
    // Layout millimetres scaled to about unit size keep the normal equations well conditioned.
    let ks = 0.01;
    let mut ata = vec![0.0; 64];
    let mut atb = vec![0.0; 8];
    let rows = along_x
        .iter()
        .map(|(p, d)| {
            let (x, y) = (p.x * ks, p.y * ks);
            ([x, y, 1.0, 0.0, 0.0, 0.0, -x * x, -x * y], d * ks)
        })
        .chain(along_y.iter().map(|(p, d)| {
            let (x, y) = (p.x * ks, p.y * ks);
            ([0.0, 0.0, 0.0, x, y, 1.0, -y * x, -y * y], d * ks)
        }));
    for (r, b) in rows {
        for i in 0..8 {
            for j in 0..8 {
                ata[i * 8 + j] += r[i] * r[j];
            }
            atb[i] += r[i] * b;
        }
    }
    let u = solve(ata, atb)?;
    // Back to millimetres: offsets and positions were both scaled by `ks`.
    Some([
        1.0 + u[0],
        u[1],
        u[2] / ks,
        u[3],
        1.0 + u[4],
        u[5] / ks,
        u[6] * ks,
        u[7] * ks,
        1.0,
    ])
}

/// The product `a · b` of two row-major 3×3 matrices.
#[must_use]
pub fn compose(a: &[f64; 9], b: &[f64; 9]) -> [f64; 9] {
    std::array::from_fn(|k| {
        let (i, j) = (k / 3, k % 3);
        (0..3).map(|n| a[i * 3 + n] * b[n * 3 + j]).sum()
    })
}

/// The homography through exactly four pairs (none three on a line).
pub fn fit_homography(pairs: &[(PointMm, (f64, f64))]) -> Option<[f64; 9]> {
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

    /// Offsets that a keystone and a 0.5 % stretch leave on the printed lines of a fit through
    /// misjudged squares are explained by one projective correction: applied, the lines land.
    #[test]
    fn a_projective_correction_explains_the_lines_offsets() {
        // The true map: layout → layout', a slight keystone, stretch and shift.
        let truth = [1.005, 0.002, -1.2, -0.001, 0.998, 0.8, 2e-5, -1e-5, 1.0];
        let apply = |m: &[f64; 9], p: PointMm| {
            let w = m[6] * p.x + m[7] * p.y + m[8];
            (
                (m[0] * p.x + m[1] * p.y + m[2]) / w,
                (m[3] * p.x + m[4] * p.y + m[5]) / w,
            )
        };
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for i in 0..6 {
            for j in 0..8 {
                let p = PointMm::new(20.0 + 34.0 * f64::from(i), 20.0 + 36.0 * f64::from(j));
                let q = apply(&truth, p);
                xs.push((p, q.0 - p.x));
                ys.push((p, q.1 - p.y));
            }
        }
        let c = fit_correction(&xs, &ys).unwrap();
        for (p, _) in &xs {
            let (a, b) = (apply(&c, *p), apply(&truth, *p));
            assert!((a.0 - b.0).hypot(a.1 - b.1) < 0.01, "{p:?}: {a:?} vs {b:?}");
        }
        // Too few lines one way: no correction is guessed.
        assert!(fit_correction(&xs, &ys[..3]).is_none());
        // Composing with the identity changes nothing.
        let id = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        assert_eq!(compose(&truth, &id), truth);
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
