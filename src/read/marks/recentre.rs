//! Re-centring a tick box on its printed outline: of the shifts within reach, the one whose
//! outline ring holds the most dark pixels (VotingWorks does the same). A summed-area table of
//! the dark pixels around the box makes every shift's count four reads.

use crate::read::px::{clamped, grow, PxBox};
use image::GrayImage;

/// A box turned on the scan, for the ring search in its own frame ([`TurnedBox::window`]).
#[derive(Debug, Clone, Copy)]
pub struct TurnedBox {
    /// Image point of the box's centre, pixels (continuous).
    pub centre: (f64, f64),
    /// Image pixels per millimetre along the box's own x and y axes (vectors).
    pub ex: (f64, f64),
    pub ey: (f64, f64),
    /// The box's size, mm.
    pub size_mm: (f64, f64),
}

impl TurnedBox {
    /// How far (pixels) each side's line strays across an axis-aligned row or column over the
    /// side's length: what an upright ring misses of the turned outline.
    #[must_use]
    pub fn drift_px(&self) -> f64 {
        (self.ex.1 * self.size_mm.0)
            .abs()
            .max((self.ey.0 * self.size_mm.1).abs())
    }

    /// The image around the box resampled into the box's own frame (one window pixel ≈ one
    /// image pixel, nearest neighbour; outside the image reads as paper), reaching `reach`
    /// pixels beyond the box: (window, the box in it, map from window offsets to image
    /// offsets).
    #[must_use]
    pub fn window(&self, img: &GrayImage, reach: i64) -> (GrayImage, PxBox, [f64; 4]) {
        let norm = |v: (f64, f64)| {
            let n = v.0.hypot(v.1).max(1e-9);
            ((v.0 / n, v.1 / n), n)
        };
        let ((ux, uy), sx) = norm(self.ex);
        let ((vx, vy), sy) = norm(self.ey);
        let (bw, bh) = (
            (self.size_mm.0 * sx).round().max(1.0) as i64,
            (self.size_mm.1 * sy).round().max(1.0) as i64,
        );
        let (ww, wh) = (bw + 2 * reach, bh + 2 * reach);
        let (iw, ih) = (i64::from(img.width()), i64::from(img.height()));
        let raw = img.as_raw();
        // Window pixel (i, j) has its centre (i + ½ − ww/2, j + ½ − wh/2) from the box's
        // centre along the box's axes.
        let (hw, hh) = (ww as f64 / 2.0, wh as f64 / 2.0);
        let mut buf = Vec::with_capacity((ww * wh).max(0) as usize);
        for j in 0..wh {
            let b = j as f64 + 0.5 - hh;
            for i in 0..ww {
                let a = i as f64 + 0.5 - hw;
                let x = (self.centre.0 + a * ux + b * vx).floor() as i64;
                let y = (self.centre.1 + a * uy + b * vy).floor() as i64;
                buf.push(if x >= 0 && y >= 0 && x < iw && y < ih {
                    raw[(y * iw + x) as usize]
                } else {
                    u8::MAX
                });
            }
        }
        let window = GrayImage::from_raw(ww.max(0) as u32, wh.max(0) as u32, buf)
            .unwrap_or_else(|| GrayImage::new(0, 0));
        (
            window,
            (reach, reach, reach + bw, reach + bh),
            [ux, vx, uy, vy],
        )
    }
}

/// Summed-area table of dark pixels over a window of the image.
pub struct DarkSums {
    x0: i64,
    y0: i64,
    w: i64,
    h: i64,
    sums: Vec<u32>,
}

impl DarkSums {
    /// Over `[x0, x1) × [y0, y1)` (clamped to the image).
    pub fn new(img: &GrayImage, x0: i64, y0: i64, x1: i64, y1: i64, level: u8) -> Self {
        let iw = i64::from(img.width());
        let (x0, y0, x1, y1) = clamped(img, (x0, y0, x1, y1));
        let (w, h) = (x1 - x0, y1 - y0);
        let stride = (w + 1) as usize;
        let mut sums = vec![0u32; stride * (h + 1) as usize];
        let raw = img.as_raw();
        for y in 0..h as usize {
            let at = (y0 as usize + y) * iw as usize + x0 as usize;
            let pixels = &raw[at..at + w as usize];
            // Row y+1 of the table from row y: slices, so the loop runs without index checks.
            let (done, rest) = sums.split_at_mut((y + 1) * stride);
            let above = &done[y * stride + 1..];
            let mut run = 0u32;
            for ((cell, &up), &p) in rest[1..stride].iter_mut().zip(above).zip(pixels) {
                run += u32::from(p <= level);
                *cell = up + run;
            }
        }
        Self { x0, y0, w, h, sums }
    }

    /// Dark pixels in `[x0, x1) × [y0, y1)`, image coordinates (clipped to the window).
    pub fn count(&self, x0: i64, y0: i64, x1: i64, y1: i64) -> u32 {
        let c = |v: i64, lo: i64, n: i64| (v - lo).clamp(0, n) as usize;
        let (a, b) = (c(x0, self.x0, self.w), c(x1, self.x0, self.w));
        let (t, u) = (c(y0, self.y0, self.h), c(y1, self.y0, self.h));
        if b <= a || u <= t {
            return 0;
        }
        let s = (self.w + 1) as usize;
        self.sums[u * s + b] + self.sums[t * s + a] - self.sums[t * s + b] - self.sums[u * s + a]
    }
}

impl DarkSums {
    /// Re-centring: of the shifts of box `b` by up to `r` pixels each way, the one whose
    /// outline ring (`ring` pixels wide) holds the most dark pixels; ties go to the smallest
    /// shift. Returns (dark pixels, squared shift, shift).
    pub fn darkest_ring(&self, b: PxBox, r: i64, ring: i64) -> (u32, i64, (i64, i64)) {
        let mut best = (0u32, 0i64, (0i64, 0i64));
        let mut consider = |dark: u32, dx: i64, dy: i64| {
            let d2 = dx * dx + dy * dy;
            if dark > best.0 || (dark == best.0 && d2 < best.1) {
                best = (dark, d2, (dx, dy));
            }
        };
        let (bw, bh) = (b.2 - b.0, b.3 - b.1);
        let inside = b.0 - r >= self.x0
            && b.1 - r >= self.y0
            && b.2 + r <= self.x0 + self.w
            && b.3 + r <= self.y0 + self.h
            && bw > 2 * ring
            && bh > 2 * ring;
        if !inside {
            for dy in -r..=r {
                for dx in -r..=r {
                    let o = (b.0 + dx, b.1 + dy, b.2 + dx, b.3 + dy);
                    let i = grow(o, -ring);
                    consider(
                        self.count(o.0, o.1, o.2, o.3) - self.count(i.0, i.1, i.2, i.3),
                        dx,
                        dy,
                    );
                }
            }
            return best;
        }
        // Every shifted box lies in the table: the same sums as `count`, read at fixed
        // offsets from the box's top-left corner, without clamping (≈ 1,400 shifts per box
        // at 300 dpi, the reader's hottest loop).
        let s = self.w + 1;
        let at = |dx: i64, dy: i64| -> usize {
            let k = (b.1 + dy - self.y0) * s + (b.0 + dx - self.x0);
            k as usize
        };
        let corners = |x0: i64, y0: i64, x1: i64, y1: i64| {
            [(y1 * s + x1), (y0 * s + x0), (y0 * s + x1), (y1 * s + x0)].map(|o| o as usize)
        };
        let outer = corners(0, 0, bw, bh);
        let inner = corners(ring, ring, bw - ring, bh - ring);
        // One row of shifts at a time: eight straight runs of the table, which the compiler
        // turns into vector code; then the row is searched for its darkest ring in order.
        let n = (2 * r + 1) as usize;
        let mut row = vec![0u32; n];
        let run = |k: usize, o: usize| &self.sums[k + o..k + o + n];
        for dy in -r..=r {
            let k = at(-r, dy);
            let [obr, otl, otr, obl] = outer.map(|o| run(k, o));
            let [ibr, itl, itr, ibl] = inner.map(|o| run(k, o));
            for (i, d) in row.iter_mut().enumerate() {
                *d = (obr[i] + otl[i] - otr[i] - obl[i]) - (ibr[i] + itl[i] - itr[i] - ibl[i]);
            }
            for (dx, &dark) in (-r..=r).zip(&row) {
                consider(dark, dx, dy);
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 5 mm box turned 5° (12 px/mm, 0.33 mm stroke) with a thick table rule 1 mm below
    /// it, and the box's expected place 3 px right and 5 px up of where it is printed.
    #[test]
    fn a_turned_box_is_found_on_its_outline_not_on_the_rule_beside_it() {
        let (s, angle) = (12.0f64, 5f64.to_radians());
        let (cos, sin) = (angle.cos(), angle.sin());
        let centre = (100.0, 100.0);
        let img = GrayImage::from_fn(200, 200, |x, y| {
            let (px, py) = (f64::from(x) + 0.5 - centre.0, f64::from(y) + 0.5 - centre.1);
            // Box-frame coordinates of the pixel, mm.
            let (a, b) = ((cos * px + sin * py) / s, (-sin * px + cos * py) / s);
            let outline = a.abs().max(b.abs());
            let on_outline = (2.17..=2.5).contains(&outline);
            let on_rule = (3.5..=4.2).contains(&b);
            image::Luma([if on_outline || on_rule { 30 } else { 230 }])
        });
        let turned = TurnedBox {
            centre: (centre.0 + 3.0, centre.1 - 5.0),
            ex: (cos * s, sin * s),
            ey: (-sin * s, cos * s),
            size_mm: (5.0, 5.0),
        };
        assert!(turned.drift_px() > 5.0, "{}", turned.drift_px());
        let r = 18;
        let (window, b, to_image) = turned.window(&img, r + 1);
        let (ww, wh) = (i64::from(window.width()), i64::from(window.height()));
        let (dark, _, (dx, dy)) = DarkSums::new(&window, 0, 0, ww, wh, 128).darkest_ring(b, r, 4);
        let ring = crate::read::px::area(b) - crate::read::px::area(grow(b, -4));
        assert!(i64::from(dark) * 10 >= ring * 9, "{dark} of {ring}");
        let (x, y) = (dx as f64, dy as f64);
        let shift = (
            to_image[0] * x + to_image[1] * y,
            to_image[2] * x + to_image[3] * y,
        );
        assert!(
            (shift.0 + 3.0).abs() <= 1.0 && (shift.1 - 5.0).abs() <= 1.0,
            "{shift:?}"
        );
    }

    #[test]
    fn the_ring_search_reads_the_table_like_count_does() {
        // Pseudo-random ink, boxes well inside and across the table's edge.
        let img = GrayImage::from_fn(120, 90, |x, y| {
            image::Luma([if (x * 7 + y * 13 + x * y) % 5 < 2 {
                20
            } else {
                230
            }])
        });
        let slow = |t: &DarkSums, b: PxBox, r: i64, ring: i64| {
            let mut best = (0u32, 0i64, (0i64, 0i64));
            for dy in -r..=r {
                for dx in -r..=r {
                    let o = (b.0 + dx, b.1 + dy, b.2 + dx, b.3 + dy);
                    let i = grow(o, -ring);
                    let dark = t.count(o.0, o.1, o.2, o.3) - t.count(i.0, i.1, i.2, i.3);
                    let d2 = dx * dx + dy * dy;
                    if dark > best.0 || (dark == best.0 && d2 < best.1) {
                        best = (dark, d2, (dx, dy));
                    }
                }
            }
            best
        };
        for (b, r, ring) in [
            ((40, 30, 70, 60), 6, 3),
            ((40, 30, 70, 60), 9, 2),
            ((2, 3, 32, 33), 6, 3),
            ((95, 70, 125, 100), 5, 2),
        ] {
            let t = DarkSums::new(
                &img,
                b.0 - r - 1,
                b.1 - r - 1,
                b.2 + r + 1,
                b.3 + r + 1,
                128,
            );
            assert_eq!(
                t.darkest_ring(b, r, ring),
                slow(&t, b, r, ring),
                "{b:?} {r} {ring}"
            );
        }
    }
}
