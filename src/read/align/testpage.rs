//! A bare A4 page (squares and code box only) and a scanner that turns, shifts and scales it:
//! the alignment tests' fixtures.

use crate::layout::{Ink, PageLayout, MARK_SIZE, TICK_SIZE, TICK_STROKE};
use crate::read::transform::Transform;
use crate::units::{PointMm, RectMm, A4};
use image::GrayImage;

/// An A4 page layout with only its registration squares and code box.
pub fn bare_page() -> PageLayout {
    let mark = |x: f64, y: f64| {
        RectMm::new(
            x - MARK_SIZE / 2.0,
            y - MARK_SIZE / 2.0,
            MARK_SIZE,
            MARK_SIZE,
        )
    };
    PageLayout {
        number: 1,
        marks: [
            mark(11.0, 11.0),
            mark(199.0, 11.0),
            mark(199.0, 286.0),
            mark(11.0, 286.0),
        ],
        code: RectMm::new(164.0, 255.0, 26.0, 26.0),
        serial_at: PointMm::new(20.0, 290.0),
        cells: Vec::new(),
        names: Vec::new(),
        writing: Vec::new(),
        ink: Vec::new(),
    }
}

/// Where a layout point lands on a scan of the page at `k` px/mm turned by `deg`
/// (clockwise as seen) about the image centre and shifted by `shift_mm`.
pub struct Scan {
    pub k: f64,
    pub deg: f64,
    pub shift_mm: (f64, f64),
    pub width: u32,
    pub height: u32,
}

impl Scan {
    pub fn map(&self, p: PointMm) -> (f64, f64) {
        let (c, s) = (self.deg.to_radians().cos(), self.deg.to_radians().sin());
        let (x, y) = ((p.x - A4.w / 2.0) * self.k, (p.y - A4.h / 2.0) * self.k);
        (
            c * x - s * y + f64::from(self.width) / 2.0 + self.shift_mm.0 * self.k,
            s * x + c * y + f64::from(self.height) / 2.0 + self.shift_mm.1 * self.k,
        )
    }

    /// The true transform of this scan (layout mm → image px).
    pub fn transform(&self) -> Transform {
        let o = self.map(PointMm::new(0.0, 0.0));
        let x = self.map(PointMm::new(1.0, 0.0));
        let y = self.map(PointMm::new(0.0, 1.0));
        Transform::from_matrix(
            [
                x.0 - o.0,
                y.0 - o.0,
                o.0,
                x.1 - o.1,
                y.1 - o.1,
                o.1,
                0.0,
                0.0,
                1.0,
            ],
            self.width,
            self.height,
        )
    }

    /// The page's squares printed dark on light paper (and `extra` filled too).
    pub fn render(&self, page: &PageLayout, extra: &[RectMm]) -> GrayImage {
        let printed = ink_rects(page);
        let (c, s) = (self.deg.to_radians().cos(), self.deg.to_radians().sin());
        GrayImage::from_fn(self.width, self.height, |px, py| {
            let x = f64::from(px) + 0.5 - f64::from(self.width) / 2.0 - self.shift_mm.0 * self.k;
            let y = f64::from(py) + 0.5 - f64::from(self.height) / 2.0 - self.shift_mm.1 * self.k;
            let p = PointMm::new(
                (c * x + s * y) / self.k + A4.w / 2.0,
                (-s * x + c * y) / self.k + A4.h / 2.0,
            );
            let inside =
                |r: &RectMm| p.x >= r.x && p.x < r.right() && p.y >= r.y && p.y < r.bottom();
            let dark = page.marks.iter().any(inside)
                || extra.iter().any(inside)
                || printed.iter().any(inside);
            image::Luma([if dark { 35 } else { 225 }])
        })
    }
}

/// A 200-dpi scan of an A4 page turned `deg` and shifted `shift_mm`.
pub fn scan_of(deg: f64, shift_mm: (f64, f64)) -> Scan {
    Scan {
        k: 200.0 / 25.4 * 0.985,
        deg,
        shift_mm,
        width: 1654,
        height: 2339,
    }
}

/// The page's lines, frames and fills as rectangles (text is not drawn).
fn ink_rects(page: &PageLayout) -> Vec<RectMm> {
    let mut out = Vec::new();
    for ink in &page.ink {
        match ink {
            Ink::Line {
                x1,
                y1,
                x2,
                y2,
                width,
            } => out.push(RectMm::new(
                x1.min(*x2) - width / 2.0,
                y1.min(*y2) - width / 2.0,
                (x2 - x1).abs() + width,
                (y2 - y1).abs() + width,
            )),
            Ink::Frame { rect: r, width: w } => {
                out.push(RectMm::new(r.x, r.y, r.w, *w));
                out.push(RectMm::new(r.x, r.bottom() - w, r.w, *w));
                out.push(RectMm::new(r.x, r.y, *w, r.h));
                out.push(RectMm::new(r.right() - w, r.y, *w, r.h));
            }
            Ink::Fill { rect } => out.push(*rect),
            Ink::Text { .. } => {}
        }
    }
    out
}

/// The bare page with a table: a 170 × 104 mm frame at (20, 40), rules every 8 mm, three
/// column rules, a 5 mm tick box in every cell below the header row, and a header text.
pub fn ruled_page() -> PageLayout {
    let mut page = bare_page();
    let (x0, y0, w, rows, row_h) = (20.0, 40.0, 170.0, 13, 8.0);
    let h = f64::from(rows) * row_h;
    page.ink.push(Ink::Frame {
        rect: RectMm::new(x0, y0, w, h),
        width: 0.5,
    });
    for r in 1..rows {
        let y = y0 + f64::from(r) * row_h;
        page.ink.push(Ink::Line {
            x1: x0,
            y1: y,
            x2: x0 + w,
            y2: y,
            width: 0.25,
        });
    }
    let cols = [x0, 60.0, 100.0, 140.0, x0 + w];
    for x in &cols[1..4] {
        page.ink.push(Ink::Line {
            x1: *x,
            y1: y0,
            x2: *x,
            y2: y0 + h,
            width: 0.25,
        });
    }
    for r in 1..rows {
        for c in 1..4 {
            let cx = (cols[c] + cols[c + 1]) / 2.0;
            let cy = y0 + (f64::from(r) + 0.5) * row_h;
            page.ink.push(Ink::Frame {
                rect: RectMm::new(
                    cx - TICK_SIZE / 2.0,
                    cy - TICK_SIZE / 2.0,
                    TICK_SIZE,
                    TICK_SIZE,
                ),
                width: TICK_STROKE,
            });
        }
    }
    page.ink.push(Ink::Text {
        x: 25.0,
        y: 46.0,
        size: 10.5,
        text: "测评项目".into(),
    });
    page
}

/// The page printed dark on light paper as seen through `t` (any projective map) in an image of
/// `width` × `height`, with its ink inside `erase` left out and `extra` rectangles filled.
pub fn render_through(
    t: &Transform,
    page: &PageLayout,
    width: u32,
    height: u32,
    extra: &[RectMm],
    erase: &[RectMm],
) -> GrayImage {
    let m = t.matrix();
    // The inverse of the 3×3 matrix by its adjugate (the determinant's scale cancels out in
    // the projective division).
    let inv = [
        m[4] * m[8] - m[5] * m[7],
        m[2] * m[7] - m[1] * m[8],
        m[1] * m[5] - m[2] * m[4],
        m[5] * m[6] - m[3] * m[8],
        m[0] * m[8] - m[2] * m[6],
        m[2] * m[3] - m[0] * m[5],
        m[3] * m[7] - m[4] * m[6],
        m[1] * m[6] - m[0] * m[7],
        m[0] * m[4] - m[1] * m[3],
    ];
    let mut dark = ink_rects(page);
    dark.extend(page.marks);
    GrayImage::from_fn(width, height, |px, py| {
        let (x, y) = (f64::from(px) + 0.5, f64::from(py) + 0.5);
        let w = inv[6] * x + inv[7] * y + inv[8];
        let p = PointMm::new(
            (inv[0] * x + inv[1] * y + inv[2]) / w,
            (inv[3] * x + inv[4] * y + inv[5]) / w,
        );
        let inside = |r: &RectMm| p.x >= r.x && p.x < r.right() && p.y >= r.y && p.y < r.bottom();
        let ink =
            (dark.iter().any(inside) && !erase.iter().any(inside)) || extra.iter().any(inside);
        image::Luma([if ink { 35 } else { 225 }])
    })
}

/// A 200-dpi view of A4 whose corners are pulled `pull_mm` off a rectangle: the bottom edge
/// wider than the top (a sheet fed at a slant through a feeder, or photographed from above
/// its top edge), turned by `deg`.
pub fn keystoned(pull_mm: f64, deg: f64) -> Transform {
    let k = 200.0 / 25.4;
    let (c, s) = (deg.to_radians().cos(), deg.to_radians().sin());
    let corners = [
        (PointMm::new(0.0, 0.0), (0.0, 0.0)),
        (PointMm::new(A4.w, 0.0), (A4.w, 0.0)),
        (PointMm::new(A4.w, A4.h), (A4.w + pull_mm, A4.h)),
        (PointMm::new(0.0, A4.h), (-pull_mm, A4.h)),
    ];
    let pairs: Vec<(PointMm, (f64, f64))> = corners
        .iter()
        .map(|(p, (x, y))| {
            let (x, y) = ((x - A4.w / 2.0) * k, (y - A4.h / 2.0) * k);
            (*p, (c * x - s * y + 827.0, s * x + c * y + 1169.5))
        })
        .collect();
    let m = crate::read::transform::fit_homography(&pairs).unwrap_or([0.0; 9]);
    Transform::from_matrix(m, 1654, 2339)
}
