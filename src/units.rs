//! Physical units. The layout speaks millimetres from the page's top-left corner; PDF speaks
//! points from the bottom-left; a scan speaks pixels. Keeping them apart in types stops the
//! classic OMR bug of mixing a millimetre with a pixel.

use serde::{Deserialize, Serialize};

/// Millimetres per inch, by definition.
pub const MM_PER_INCH: f64 = 25.4;
/// PDF points per inch, by definition.
pub const PT_PER_INCH: f64 = 72.0;

/// A length in millimetres.
pub fn mm_to_pt(mm: f64) -> f64 {
    mm / MM_PER_INCH * PT_PER_INCH
}

/// A length in points, as millimetres.
pub fn pt_to_mm(pt: f64) -> f64 {
    pt / PT_PER_INCH * MM_PER_INCH
}

/// A length in millimetres at a scan resolution, in pixels.
pub fn mm_to_px(mm: f64, dpi: f64) -> f64 {
    mm / MM_PER_INCH * dpi
}

/// A point on the page in millimetres, origin top-left, y growing downwards.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PointMm {
    pub x: f64,
    pub y: f64,
}

impl PointMm {
    pub fn new(x: f64, y: f64) -> Self {
        Self { x, y }
    }
}

/// An axis-aligned rectangle on the page in millimetres, origin top-left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RectMm {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

impl RectMm {
    pub fn new(x: f64, y: f64, w: f64, h: f64) -> Self {
        Self { x, y, w, h }
    }

    pub fn center(&self) -> PointMm {
        PointMm::new(self.x + self.w / 2.0, self.y + self.h / 2.0)
    }

    pub fn right(&self) -> f64 {
        self.x + self.w
    }

    pub fn bottom(&self) -> f64 {
        self.y + self.h
    }

    /// The rectangle shrunk by `d` on every side (grown when negative).
    pub fn inset(&self, d: f64) -> Self {
        Self::new(
            self.x + d,
            self.y + d,
            (self.w - 2.0 * d).max(0.0),
            (self.h - 2.0 * d).max(0.0),
        )
    }

    /// The same rectangle in PDF points, still measured from the top-left (as `layout --json`
    /// promises), rounded to 0.01 pt so exported numbers are stable.
    pub fn to_pt(&self) -> RectPt {
        let r = |v: f64| (mm_to_pt(v) * 100.0).round() / 100.0;
        RectPt {
            x: r(self.x),
            y: r(self.y),
            w: r(self.w),
            h: r(self.h),
        }
    }
}

/// A rectangle in PDF points, measured from the page's top-left corner.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RectPt {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
}

/// A page size in millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SizeMm {
    pub w: f64,
    pub h: f64,
}

/// ISO 216 A4, the paper the seed's offices print on.
pub const A4: SizeMm = SizeMm { w: 210.0, h: 297.0 };

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inch_is_72_points_and_300_pixels_at_300_dpi() {
        assert!((mm_to_pt(25.4) - 72.0).abs() < 1e-9);
        assert!((mm_to_px(25.4, 300.0) - 300.0).abs() < 1e-9);
        assert!((pt_to_mm(72.0) - 25.4).abs() < 1e-9);
    }

    #[test]
    fn inset_never_goes_negative() {
        let r = RectMm::new(0.0, 0.0, 2.0, 2.0).inset(5.0);
        assert_eq!((r.w, r.h), (0.0, 0.0));
    }
}
