//! Integer pixel boxes `[x0, y0, x1, y1)` on the upright page, and layout rectangles mapped
//! to them.

use super::transform::Transform;
use crate::units::{PointMm, RectMm};
use image::GrayImage;

/// Pixel box `[x0, y0, x1, y1)` as integers.
pub type PxBox = (i64, i64, i64, i64);

pub fn grow(b: PxBox, d: i64) -> PxBox {
    (b.0 - d, b.1 - d, b.2 + d, b.3 + d)
}

pub fn area(b: PxBox) -> i64 {
    (b.2 - b.0).max(0) * (b.3 - b.1).max(0)
}

/// `b` clamped to the image (possibly empty).
pub fn clamped(img: &GrayImage, b: PxBox) -> PxBox {
    let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
    (
        b.0.clamp(0, iw),
        b.1.clamp(0, ih),
        b.2.clamp(0, iw),
        b.3.clamp(0, ih),
    )
}

pub fn px_box(t: &Transform, r: RectMm) -> PxBox {
    let (x0, y0, x1, y1) = t.rect_f(r);
    let f = |v: f64| if v.is_finite() { v.round() as i64 } else { 0 };
    (f(x0), f(y0), f(x1), f(y1))
}

/// The largest axis-aligned pixel box inside a layout rectangle as the scan shows it. On a
/// skewed page the mapped rectangle is a tilted quadrilateral whose bounding box reaches over
/// its neighbours' printed rules (1 mm at 1.5° across a 40 mm table cell); the inscribed box
/// never does.
pub fn inscribed_px_box(t: &Transform, r: RectMm) -> PxBox {
    let tl = t.map(PointMm::new(r.x, r.y));
    let tr = t.map(PointMm::new(r.right(), r.y));
    let br = t.map(PointMm::new(r.right(), r.bottom()));
    let bl = t.map(PointMm::new(r.x, r.bottom()));
    let f = |v: f64| if v.is_finite() { v.round() as i64 } else { 0 };
    (
        f(tl.0.max(bl.0)),
        f(tl.1.max(tr.1)),
        f(tr.0.min(br.0)),
        f(bl.1.min(br.1)),
    )
}

pub fn to_px(b: PxBox, t: &Transform) -> [u32; 4] {
    let cx = |v: i64, hi: u32| v.clamp(0, i64::from(hi)) as u32;
    let (x0, y0, x1, y1) = (
        cx(b.0, t.width),
        cx(b.1, t.height),
        cx(b.2, t.width),
        cx(b.3, t.height),
    );
    [x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inscribed_box_stays_off_the_neighbouring_rules_on_a_skewed_page() {
        // 10 px/mm, turned 2°: a 40 × 8 mm table cell's bounding box grows by 14 px in height
        // and would take in the rules above and below; the inscribed box does not.
        let (c, s) = (
            2f64.to_radians().cos() * 10.0,
            2f64.to_radians().sin() * 10.0,
        );
        let t = Transform::from_matrix([c, -s, 100.0, s, c, 100.0, 0.0, 0.0, 1.0], 2000, 2000);
        let r = RectMm::new(10.0, 10.0, 40.0, 8.0);
        let bbox = px_box(&t, r);
        let ins = inscribed_px_box(&t, r);
        assert!(bbox.3 - bbox.1 >= 80 + 13, "{bbox:?}");
        assert!(ins.3 - ins.1 <= 80 && ins.3 - ins.1 >= 80 - 15, "{ins:?}");
        assert!(ins.0 >= bbox.0 && ins.2 <= bbox.2 && ins.1 >= bbox.1 && ins.3 <= bbox.3);
    }
}
