//! A tick box as the scan shows it: where it was found (re-centred on its outline), and for
//! every pixel around it, how far it lies from the box's printed edge in millimetres.
//!
//! The transform is affine over a box's few millimetres, so each pixel's place in the box is
//! one small matrix product from its image position: skew, keystone and scale are all taken
//! out, and a pixel's distance to the printed outline means the same on every scan.

use crate::read::px::{grow, inscribed_px_box, px_box, PxBox};
use crate::read::transform::Transform;
use crate::units::{PointMm, RectMm};

/// One tick box on the upright scan.
#[derive(Debug, Clone, Copy)]
pub struct BoxOnScan {
    /// The printed box (outer edge of its outline), layout mm.
    pub tick: RectMm,
    /// Its bounding box in the image after re-centring, pixels.
    pub found: PxBox,
    /// The re-centring shift, pixels.
    pub shift: (i64, i64),
    /// Pixels per millimetre here.
    pub px_per_mm: f64,
    /// Image point of the box's top-left corner (before the shift), pixels.
    origin: (f64, f64),
    /// Inverse of the local linear map: image pixel offsets → layout millimetres.
    inv: [f64; 4],
}

impl BoxOnScan {
    /// The box `tick` mapped through `t`, moved by `shift` pixels.
    #[must_use]
    pub fn new(t: &Transform, tick: RectMm, shift: (i64, i64)) -> Self {
        let p = PointMm::new(tick.x, tick.y);
        let o = t.map(p);
        let ex = t.map(PointMm::new(p.x + 1.0, p.y));
        let ey = t.map(PointMm::new(p.x, p.y + 1.0));
        let (a, b, c, d) = (ex.0 - o.0, ey.0 - o.0, ex.1 - o.1, ey.1 - o.1);
        let det = a * d - b * c;
        // A degenerate map (never from a fit that passed alignment) reads as a plain scale.
        let inv = if det.abs() > 1e-9 {
            [d / det, -b / det, -c / det, a / det]
        } else {
            [1.0, 0.0, 0.0, 1.0]
        };
        let b0 = px_box(t, tick);
        Self {
            tick,
            found: (
                b0.0 + shift.0,
                b0.1 + shift.1,
                b0.2 + shift.0,
                b0.3 + shift.1,
            ),
            shift,
            px_per_mm: t.px_per_mm(tick.center()),
            origin: o,
            inv,
        }
    }

    /// The same box in a patch cut from the image at `region` and binned by `factor` (each
    /// patch pixel the mean of `factor` × `factor` image pixels).
    #[must_use]
    pub fn in_patch(&self, region: PxBox, factor: i64) -> Self {
        let f = factor.max(1) as f64;
        // A patch pixel's centre lies at image `region.0 + f·X + f/2`: its offset from the
        // box's (shifted) corner, in patch pixels, is X + 1/2 less this origin.
        let origin = |o: f64, shift: i64, at: i64| (o + shift as f64 - at as f64) / f;
        let inv = self.inv.map(|v| v * f);
        let cut = |v: i64, at: i64| (v - at).div_euclid(factor.max(1));
        Self {
            tick: self.tick,
            found: (
                cut(self.found.0, region.0),
                cut(self.found.1, region.1),
                cut(self.found.2, region.0),
                cut(self.found.3, region.1),
            ),
            shift: (0, 0),
            px_per_mm: self.px_per_mm / f,
            origin: (
                origin(self.origin.0, self.shift.0, region.0),
                origin(self.origin.1, self.shift.1, region.1),
            ),
            inv,
        }
    }

    /// The inscribed axis-aligned box of the tick, shifted, grown by `d` pixels (negative:
    /// shrunk).
    #[must_use]
    pub fn inscribed(&self, t: &Transform, d: i64) -> PxBox {
        let b = inscribed_px_box(t, self.tick);
        grow(
            (
                b.0 + self.shift.0,
                b.1 + self.shift.1,
                b.2 + self.shift.0,
                b.3 + self.shift.1,
            ),
            d,
        )
    }

    /// The pixel box holding everything within `reach_mm` outside the printed box.
    #[must_use]
    pub fn reach(&self, reach_mm: f64) -> PxBox {
        grow(self.found, (reach_mm * self.px_per_mm).ceil() as i64 + 1)
    }

    /// The box-local position (mm from the box's top-left corner, x right, y down) of the
    /// pixel at column `x`, row `y`.
    #[inline]
    #[must_use]
    pub fn local(&self, x: i64, y: i64) -> (f64, f64) {
        let qx = x as f64 + 0.5 - self.shift.0 as f64 - self.origin.0;
        let qy = y as f64 + 0.5 - self.shift.1 as f64 - self.origin.1;
        (
            self.inv[0] * qx + self.inv[1] * qy,
            self.inv[2] * qx + self.inv[3] * qy,
        )
    }

    /// How a step of one pixel right changes the local position (for walking a row).
    #[inline]
    #[must_use]
    pub fn step_x(&self) -> (f64, f64) {
        (self.inv[0], self.inv[2])
    }

    /// Signed distance (mm) of a box-local point from the printed box's outer edge: positive
    /// inside, negative outside.
    #[inline]
    #[must_use]
    pub fn depth(&self, u: f64, v: f64) -> f64 {
        let (w, h) = (self.tick.w, self.tick.h);
        if u >= 0.0 && v >= 0.0 && u <= w && v <= h {
            u.min(v).min(w - u).min(h - v)
        } else {
            let dx = (-u).max(u - w).max(0.0);
            let dy = (-v).max(v - h).max(0.0);
            // Beside a side one distance is 0: no square root needed.
            if dx == 0.0 || dy == 0.0 {
                -(dx + dy)
            } else {
                -(dx * dx + dy * dy).sqrt()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pixels_know_their_place_in_a_turned_shifted_box() {
        // 10 px/mm, turned 3°, box at (20, 30) mm, re-centred 2 px right.
        let (c, s) = (
            3f64.to_radians().cos() * 10.0,
            3f64.to_radians().sin() * 10.0,
        );
        let t = Transform::from_matrix([c, -s, 50.0, s, c, 40.0, 0.0, 0.0, 1.0], 1000, 1000);
        let tick = RectMm::new(20.0, 30.0, 5.0, 5.0);
        let b = BoxOnScan::new(&t, tick, (2, 0));
        // The printed centre, mapped and shifted, is the local centre.
        let (x, y) = t.map(PointMm::new(22.5, 32.5));
        let (u, v) = b.local((x + 2.0 - 0.5).round() as i64, (y - 0.5).round() as i64);
        assert!((u - 2.5).abs() < 0.1 && (v - 2.5).abs() < 0.1, "{u} {v}");
        assert!((b.depth(u, v) - 2.5).abs() < 0.1);
        assert!((b.depth(-0.3, 2.0) + 0.3).abs() < 1e-9);
        assert!((b.depth(5.3, 5.4) + 0.5).abs() < 1e-9);
        // One pixel right is a tenth of a millimetre along the turned axes.
        let (dx, dy) = b.step_x();
        assert!((dx.hypot(dy) - 0.1).abs() < 1e-9);
        // In a patch cut at (300, 280) and binned 2 × 2, the same point is the same place.
        let p = b.in_patch((300, 280, 500, 500), 2);
        let (px, py) = (x + 2.0 - 300.0, y - 280.0);
        let (pu, pv) = p.local(
            (px / 2.0 - 0.5).round() as i64,
            (py / 2.0 - 0.5).round() as i64,
        );
        assert!(
            (pu - 2.5).abs() < 0.15 && (pv - 2.5).abs() < 0.15,
            "{pu} {pv}"
        );
        assert!((p.px_per_mm - 5.0).abs() < 0.01);
    }
}
