//! A ballpoint pen (or a pencil) on a page image: hand-like ✓ and ✗, filled boxes, scribbles,
//! specks, deliberate dots, ticks across two boxes and handwriting-like squiggles. Shapes are
//! planned in millimetres and drawn anti-aliased; ink darkens the paper towards the pen's gray
//! level (pressure), never lightens it. Graphite is grainy: it misses some of the paper's tooth.

use super::truth::Drawn;
use crate::units::{PointMm, RectMm, MM_PER_INCH};
use image::GrayImage;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A pen: stroke width and the gray level its ink reaches.
#[derive(Debug, Clone, Copy)]
pub struct Pen {
    pub width_mm: f64,
    pub ink: u8,
    /// Graphite's grain: up to this share of a pixel's cover is missing (0 = solid ink).
    pub grain: f64,
    /// Seeds the grain pattern.
    pub grain_seed: u64,
}

/// A pencil's grain: up to half a pixel's cover missing leaves a visibly broken line.
const PENCIL_GRAIN: f64 = 0.5;

impl Pen {
    /// Solid ink of `width_mm` reaching gray `ink`.
    #[must_use]
    pub fn ink(width_mm: f64, ink: u8) -> Self {
        Self {
            width_mm,
            ink,
            grain: 0.0,
            grain_seed: 0,
        }
    }

    /// A person's pen: ballpoint or gel, 0.3–0.8 mm, black to mid-blue in a gray scan.
    pub fn person(rng: &mut ChaCha8Rng) -> Self {
        Self::ink(rng.random_range(0.3..0.8), rng.random_range(15..95))
    }

    /// Too little pressure: a thin, light line.
    pub fn faint(rng: &mut ChaCha8Rng) -> Self {
        Self::ink(rng.random_range(0.2..0.3), rng.random_range(140..175))
    }

    /// A light pencil: 0.3–0.5 mm of graphite leaving a fifth to a quarter of toner's
    /// contrast (template gray 191–204; after the scanner's levels ≈ 185–215 on paper
    /// 235–245), grainy.
    pub fn pencil(rng: &mut ChaCha8Rng) -> Self {
        Self {
            width_mm: rng.random_range(0.3..=0.5),
            ink: rng.random_range(191..=204),
            grain: PENCIL_GRAIN,
            grain_seed: rng.random(),
        }
    }
}

/// A fixed pseudo-random 0..1 per pixel and seed (the paper's tooth under a pencil), the same
/// whichever stroke reaches the pixel first.
fn tooth(x: i64, y: i64, seed: u64) -> f64 {
    let mut z = seed
        ^ (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    z = (z ^ (z >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z ^= z >> 32;
    (z & 0xffff) as f64 / 65536.0
}

/// A page image being written on, with its resolution.
pub struct Canvas<'a> {
    img: &'a mut GrayImage,
    px_per_mm: f64,
}

impl<'a> Canvas<'a> {
    pub fn new(img: &'a mut GrayImage, dpi: f64) -> Self {
        Self {
            img,
            px_per_mm: dpi / MM_PER_INCH,
        }
    }

    /// One continuous stroke through `pts` (mm).
    pub fn stroke(&mut self, pts: &[PointMm], pen: Pen) {
        for w in pts.windows(2) {
            self.segment(w[0], w[1], pen);
        }
        if pts.len() == 1 {
            self.segment(pts[0], pts[0], pen);
        }
    }

    /// A round-capped segment, anti-aliased by distance to its centre line.
    fn segment(&mut self, a: PointMm, b: PointMm, pen: Pen) {
        let s = self.px_per_mm;
        let (ax, ay, bx, by) = (a.x * s, a.y * s, b.x * s, b.y * s);
        // Half a pixel of minimum width keeps thin strokes visible at 150 dpi.
        let half = (pen.width_mm * s / 2.0).max(0.5);
        let (w, h) = (i64::from(self.img.width()), i64::from(self.img.height()));
        let x0 = ((ax.min(bx) - half - 1.0).floor() as i64).max(0);
        let x1 = ((ax.max(bx) + half + 1.0).ceil() as i64).min(w - 1);
        let y0 = ((ay.min(by) - half - 1.0).floor() as i64).max(0);
        let y1 = ((ay.max(by) + half + 1.0).ceil() as i64).min(h - 1);
        let (dx, dy) = (bx - ax, by - ay);
        let len2 = dx * dx + dy * dy;
        for y in y0..=y1 {
            for x in x0..=x1 {
                let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
                let t = if len2 > 0.0 {
                    (((px - ax) * dx + (py - ay) * dy) / len2).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                let (cx, cy) = (ax + t * dx - px, ay + t * dy - py);
                let d = (cx * cx + cy * cy).sqrt();
                let mut cover = (half + 0.5 - d).clamp(0.0, 1.0);
                if pen.grain > 0.0 {
                    cover *= 1.0 - pen.grain * tooth(x, y, pen.grain_seed);
                }
                if cover > 0.0 {
                    // In range: x, y are clamped to the image above.
                    let p = self.img.get_pixel_mut(x as u32, y as u32);
                    let old = f64::from(p.0[0]);
                    let new = old + (f64::from(pen.ink) - old) * cover;
                    if new < old {
                        p.0[0] = new.round() as u8;
                    }
                }
            }
        }
    }
}

/// Points along a quadratic curve from `a` to `b` bowed sideways by `bow` × its length.
fn bowed(a: PointMm, b: PointMm, bow: f64, out: &mut Vec<PointMm>) {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let c = PointMm::new((a.x + b.x) / 2.0 - dy * bow, (a.y + b.y) / 2.0 + dx * bow);
    // 8 steps: smooth at 600 dpi for a 7 mm stroke.
    for i in 0..=8 {
        let t = f64::from(i) / 8.0;
        let u = 1.0 - t;
        out.push(PointMm::new(
            u * u * a.x + 2.0 * u * t * c.x + t * t * b.x,
            u * u * a.y + 2.0 * u * t * c.y + t * t * b.y,
        ));
    }
}

/// A shape in a unit frame (box side = 1, centre = 0) → page millimetres.
struct Frame {
    centre: PointMm,
    size: f64,
    cos: f64,
    sin: f64,
}

impl Frame {
    fn new(centre: PointMm, size: f64, angle_deg: f64) -> Self {
        let a = angle_deg.to_radians();
        Self {
            centre,
            size,
            cos: a.cos(),
            sin: a.sin(),
        }
    }

    fn at(&self, u: f64, v: f64) -> PointMm {
        let (x, y) = (u * self.size, v * self.size);
        PointMm::new(
            self.centre.x + x * self.cos - y * self.sin,
            self.centre.y + x * self.sin + y * self.cos,
        )
    }
}

fn jitter(rng: &mut ChaCha8Rng, j: f64) -> f64 {
    rng.random_range(-j..=j)
}

/// A ✓: a short down-stroke and a long up-stroke, each slightly curved, in one motion.
pub fn tick(rng: &mut ChaCha8Rng, centre: PointMm, size: f64) -> Vec<Vec<PointMm>> {
    // Writers slant ticks; ±12° covers upright to strongly slanted.
    let f = Frame::new(centre, size, rng.random_range(-12.0..12.0));
    let j = 0.07;
    let a = f.at(-0.36 + jitter(rng, j), -0.02 + jitter(rng, j));
    let b = f.at(-0.08 + jitter(rng, j), 0.34 + jitter(rng, j));
    let c = f.at(0.4 + jitter(rng, j), -0.42 + jitter(rng, j));
    let mut pts = Vec::new();
    // Sometimes the pen lands with a small hook before the down-stroke.
    if rng.random_bool(0.25) {
        pts.push(f.at(-0.42, -0.08));
    }
    bowed(a, b, jitter(rng, 0.12), &mut pts);
    bowed(b, c, jitter(rng, 0.1), &mut pts);
    vec![pts]
}

/// A ✓ across the rule between boxes `a` and `b` (side by side), half in each: the down-stroke
/// starts 30–50 % of a box side inside the left box, turns below the boxes' middle between
/// them, and the up-stroke ends 30–50 % of a side inside the right box.
pub fn straddle(rng: &mut ChaCha8Rng, a: RectMm, b: RectMm) -> Vec<Vec<PointMm>> {
    let (left, right) = if a.x <= b.x { (a, b) } else { (b, a) };
    let side = a.w.min(a.h);
    let cy = (left.center().y + right.center().y) / 2.0;
    // A hand's wobble, small against the 1.5–2.5 mm each end reaches into its box.
    let j = 0.05 * side;
    let start = PointMm::new(
        left.right() - rng.random_range(0.3..0.5) * side,
        cy - rng.random_range(0.0..0.15) * side + jitter(rng, j),
    );
    let turn = PointMm::new(
        (left.right() + right.x) / 2.0 + jitter(rng, 0.1 * (right.x - left.right())),
        cy + rng.random_range(0.25..0.45) * side,
    );
    let end = PointMm::new(
        right.x + rng.random_range(0.3..0.5) * side,
        cy - rng.random_range(0.15..0.35) * side + jitter(rng, j),
    );
    let mut pts = Vec::new();
    bowed(start, turn, jitter(rng, 0.08), &mut pts);
    bowed(turn, end, jitter(rng, 0.06), &mut pts);
    vec![pts]
}

/// A deliberate dot 0.7–1.2 mm across near the box centre: a pen put down and lifted, a
/// little uneven (a second touch beside the first).
pub fn dot(rng: &mut ChaCha8Rng, tick_box: RectMm) -> (Vec<Vec<PointMm>>, f64) {
    let c = tick_box.center();
    let side = tick_box.w.min(tick_box.h);
    let across = rng.random_range(0.7..=1.2);
    let p = PointMm::new(c.x + jitter(rng, 0.2 * side), c.y + jitter(rng, 0.2 * side));
    // The second touch within 0.1 mm each way: the union is `across` to within 0.1 mm.
    let q = PointMm::new(p.x + jitter(rng, 0.1), p.y + jitter(rng, 0.1));
    (vec![vec![p], vec![q]], across - 0.1)
}

/// A ✗: two crossing strokes.
pub fn cross(rng: &mut ChaCha8Rng, centre: PointMm, size: f64) -> Vec<Vec<PointMm>> {
    let f = Frame::new(centre, size, rng.random_range(-10.0..10.0));
    let j = 0.06;
    let mut s1 = Vec::new();
    bowed(
        f.at(-0.35 + jitter(rng, j), -0.35 + jitter(rng, j)),
        f.at(0.35 + jitter(rng, j), 0.35 + jitter(rng, j)),
        jitter(rng, 0.08),
        &mut s1,
    );
    let mut s2 = Vec::new();
    bowed(
        f.at(0.35 + jitter(rng, j), -0.35 + jitter(rng, j)),
        f.at(-0.35 + jitter(rng, j), 0.35 + jitter(rng, j)),
        jitter(rng, 0.08),
        &mut s2,
    );
    vec![s1, s2]
}

/// Back-and-forth strokes covering `r`, `gap` mm apart, tilted by `angle` degrees.
fn zigzag(rng: &mut ChaCha8Rng, r: RectMm, gap: f64, angle: f64) -> Vec<PointMm> {
    let f = Frame::new(r.center(), 1.0, angle);
    let (hw, hh) = (r.w / 2.0, r.h / 2.0);
    let mut pts = Vec::new();
    let mut v = -hh;
    let mut left = true;
    while v <= hh {
        let u = if left { -hw } else { hw };
        pts.push(f.at(u + jitter(rng, 0.3), v + jitter(rng, gap * 0.2)));
        v += gap;
        left = !left;
    }
    pts
}

/// A box filled in: dense zigzag inside the box (a little over its edges).
pub fn fill(rng: &mut ChaCha8Rng, tick_box: RectMm, pen: Pen) -> Vec<Vec<PointMm>> {
    let r = tick_box.inset(rng.random_range(-0.3..0.4));
    let gap = pen.width_mm * rng.random_range(0.7..1.0);
    let tilt = jitter(rng, 4.0);
    vec![zigzag(rng, r, gap, tilt)]
}

/// A tick scribbled out: the tick, then a loose tilted zigzag over it.
pub fn scribble(rng: &mut ChaCha8Rng, tick_box: RectMm, size: f64, pen: Pen) -> Vec<Vec<PointMm>> {
    let mut strokes = tick(rng, tick_box.center(), size);
    let r = tick_box.inset(rng.random_range(-0.8..0.2));
    let gap = pen.width_mm * rng.random_range(1.2..2.2);
    let tilt = rng.random_range(-40.0..40.0);
    strokes.push(zigzag(rng, r, gap, tilt));
    strokes
}

/// A stray dot or a short speck near (sometimes inside) a box. Dots inside are small:
/// they must stay clearly below the marginal threshold (they are not meant as marks).
pub fn speck(rng: &mut ChaCha8Rng, tick_box: RectMm) -> (Vec<PointMm>, Pen) {
    let c = tick_box.center();
    let inside = rng.random_bool(0.3);
    let pen = Pen::ink(
        if inside {
            rng.random_range(0.2..0.45)
        } else {
            rng.random_range(0.3..0.7)
        },
        rng.random_range(20..110),
    );
    if inside {
        let p = PointMm::new(
            c.x + jitter(rng, tick_box.w * 0.35),
            c.y + jitter(rng, tick_box.h * 0.35),
        );
        return (vec![p], pen);
    }
    // Beside one of the four edges, 0.6–3 mm out, anywhere along it.
    let out = rng.random_range(0.6..3.0);
    let along = jitter(rng, tick_box.w / 2.0 + 1.0);
    let p = match rng.random_range(0..4) {
        0 => PointMm::new(tick_box.right() + out, c.y + along),
        1 => PointMm::new(tick_box.x - out, c.y + along),
        2 => PointMm::new(c.x + along, tick_box.bottom() + out),
        _ => PointMm::new(c.x + along, tick_box.y - out),
    };
    if rng.random_bool(0.5) {
        (vec![p], pen)
    } else {
        // A short speck pointing away from the box centre, so it never reaches into the box.
        let len = rng.random_range(0.5..1.5);
        let (dx, dy) = (p.x - c.x, p.y - c.y);
        let norm = (dx * dx + dy * dy).sqrt().max(1e-6);
        (
            vec![
                p,
                PointMm::new(p.x + len * dx / norm, p.y + len * dy / norm),
            ],
            pen,
        )
    }
}

/// Handwriting-like squiggles (glyph-sized tangles along lines) inside `r`. Real glyphs are not
/// needed: the reader only decides "has writing" and keeps the crop.
pub fn squiggles(rng: &mut ChaCha8Rng, r: RectMm) -> Vec<Vec<PointMm>> {
    // 7 mm lines of 4 mm glyphs: ordinary handwriting on a form.
    let pitch = 7.0;
    let glyph = 4.0;
    let lines = ((r.h / pitch).floor() as usize).clamp(1, 3);
    let used = rng.random_range(1..=lines);
    let mut strokes = Vec::new();
    for l in 0..used {
        let base_y = r.y + pitch * (l as f64 + 0.5) + 1.0;
        let len = r.w * rng.random_range(0.3..0.95);
        let mut x = r.x + 2.0 + if l == 0 { glyph * 2.0 } else { 0.0 };
        while x + glyph < r.x + len {
            for _ in 0..rng.random_range(2..4) {
                let n = rng.random_range(2..5);
                let s: Vec<PointMm> = (0..n)
                    .map(|_| {
                        PointMm::new(
                            x + rng.random_range(0.0..glyph),
                            base_y + rng.random_range(-glyph / 2.0..glyph / 2.0),
                        )
                    })
                    .collect();
                strokes.push(s);
            }
            x += glyph + rng.random_range(0.3..1.2);
        }
    }
    strokes
}

/// Draw one planned mark in `tick_box` with a person's pen; `drawn` says what kind. A
/// straddling tick reaches into `partner`, the box beside it.
pub fn draw_mark(
    canvas: &mut Canvas,
    rng: &mut ChaCha8Rng,
    tick_box: RectMm,
    partner: Option<RectMm>,
    drawn: Drawn,
    size: (f64, f64),
    offset_sd: f64,
) {
    let side = tick_box.w.min(tick_box.h);
    let mut pen = Pen::person(rng);
    let scale = rng.random_range(size.0..=size.1.max(size.0)) * side;
    // Off-centre by a normal-ish offset (sum of two uniforms), in box sides.
    let mut off = || (rng.random_range(-1.0..1.0) + rng.random_range(-1.0..1.0)) * offset_sd * side;
    let c = tick_box.center();
    let centre = PointMm::new(c.x + off(), c.y + off());
    let strokes = match drawn {
        Drawn::None => Vec::new(),
        Drawn::Tick => tick(rng, centre, scale),
        Drawn::Cross => cross(rng, centre, scale),
        Drawn::Fill => {
            pen.width_mm = pen.width_mm.max(0.5);
            fill(rng, tick_box, pen)
        }
        Drawn::Faint => {
            pen = Pen::faint(rng);
            tick(rng, centre, scale.max(0.8 * side))
        }
        Drawn::Outside => {
            // Mostly outside: the centre sits 0.55–0.75 box sides away (to the side or above,
            // where a hand resting on the row puts it).
            let d = rng.random_range(0.55..0.75) * side;
            let dir = [(1.0, 0.0), (-1.0, 0.0), (0.0, -1.0), (0.7, -0.7)][rng.random_range(0..4)];
            let size = rng.random_range(0.9..1.2) * side;
            tick(rng, PointMm::new(c.x + d * dir.0, c.y + d * dir.1), size)
        }
        Drawn::Scribble => scribble(rng, tick_box, scale.max(0.8 * side), pen),
        Drawn::Speck => {
            let (s, p) = speck(rng, tick_box);
            pen = p;
            vec![s]
        }
        Drawn::Pencil => {
            pen = Pen::pencil(rng);
            tick(rng, centre, scale.max(0.8 * side))
        }
        Drawn::Dot => {
            let (s, width) = dot(rng, tick_box);
            pen.width_mm = width;
            // A pen held down on one spot leaves its darkest ink (the field sample's dots).
            pen.ink = pen.ink.min(rng.random_range(15..60));
            s
        }
        Drawn::Straddle => match partner {
            Some(b) => straddle(rng, tick_box, b),
            None => Vec::new(),
        },
    };
    for s in &strokes {
        canvas.stroke(s, pen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn dark_share(img: &GrayImage, r: RectMm, dpi: f64) -> f64 {
        let s = dpi / MM_PER_INCH;
        let (x0, y0, x1, y1) = (
            (r.x * s) as u32,
            (r.y * s) as u32,
            (r.right() * s) as u32,
            (r.bottom() * s) as u32,
        );
        let mut dark = 0;
        for y in y0..y1 {
            for x in x0..x1 {
                dark += u32::from(img.get_pixel(x, y).0[0] < 128);
            }
        }
        f64::from(dark) / f64::from((x1 - x0) * (y1 - y0))
    }

    #[test]
    fn a_tick_darkens_a_fifth_of_its_box_and_a_fill_most_of_it() {
        let dpi = 300.0;
        let b = RectMm::new(10.0, 10.0, 5.0, 5.0);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let mut ticks = Vec::new();
        for _ in 0..20 {
            let mut img = GrayImage::from_pixel(300, 300, image::Luma([255]));
            draw_mark(
                &mut Canvas::new(&mut img, dpi),
                &mut rng,
                b,
                None,
                Drawn::Tick,
                (0.9, 1.1),
                0.05,
            );
            ticks.push(dark_share(&img, b, dpi));
        }
        assert!(ticks.iter().all(|&t| t > 0.06 && t < 0.5), "{ticks:?}");
        let mut img = GrayImage::from_pixel(300, 300, image::Luma([255]));
        draw_mark(
            &mut Canvas::new(&mut img, dpi),
            &mut rng,
            b,
            None,
            Drawn::Fill,
            (0.9, 1.1),
            0.05,
        );
        assert!(dark_share(&img, b.inset(0.5), dpi) > 0.6);
    }

    #[test]
    fn specks_inside_a_box_stay_far_below_a_tick() {
        let dpi = 300.0;
        let b = RectMm::new(10.0, 10.0, 5.0, 5.0);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for _ in 0..50 {
            let mut img = GrayImage::from_pixel(300, 300, image::Luma([255]));
            draw_mark(
                &mut Canvas::new(&mut img, dpi),
                &mut rng,
                b,
                None,
                Drawn::Speck,
                (1.0, 1.0),
                0.0,
            );
            let share = dark_share(&img, b.inset(0.3), dpi);
            assert!(share < 0.02, "{share}");
        }
    }

    #[test]
    fn strokes_off_the_page_are_clipped() {
        let mut img = GrayImage::from_pixel(10, 10, image::Luma([255]));
        Canvas::new(&mut img, 300.0).stroke(
            &[PointMm::new(-5.0, -5.0), PointMm::new(50.0, 50.0)],
            Pen::ink(0.5, 0),
        );
        assert!(img.get_pixel(5, 5).0[0] < 50);
    }

    fn draw(drawn: Drawn, b: RectMm, partner: Option<RectMm>, rng: &mut ChaCha8Rng) -> GrayImage {
        let mut img = GrayImage::from_pixel(600, 300, image::Luma([255]));
        draw_mark(
            &mut Canvas::new(&mut img, 300.0),
            rng,
            b,
            partner,
            drawn,
            (0.9, 1.1),
            0.05,
        );
        img
    }

    #[test]
    fn a_light_pencil_tick_is_a_fifth_of_toners_contrast_thin_and_grainy() {
        let b = RectMm::new(10.0, 10.0, 5.0, 5.0);
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        // The office scanner's middle levels: paper 240, toner 25.
        let level = |v: u8| 25.0 + (240.0 - 25.0) * f64::from(v) / 255.0;
        for _ in 0..20 {
            let img = draw(Drawn::Pencil, b, None, &mut rng);
            let marked: Vec<u8> = img.as_raw().iter().copied().filter(|&p| p < 250).collect();
            let darkest = marked.iter().copied().min().unwrap_or(255);
            // The scan's gray at the stroke's core: ≈ 185–215 on paper 240.
            assert!((185.0..=215.0).contains(&level(darkest)), "{darkest}");
            // Grainy: many stroke pixels well lighter than its core.
            let light = marked.iter().filter(|&&p| p > darkest + 12).count();
            assert!(light * 5 > marked.len(), "{light} of {}", marked.len());
            // Thin: far less ink than a 0.3–0.8 mm pen's tick would leave.
            assert!(dark_share(&img, b, 300.0) == 0.0);
            assert!(marked.len() < 1500, "{}", marked.len());
        }
    }

    #[test]
    fn a_deliberate_dot_is_a_millimetre_across_inside_its_box() {
        let b = RectMm::new(10.0, 10.0, 5.0, 5.0);
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let s = 300.0 / MM_PER_INCH;
        for _ in 0..30 {
            let img = draw(Drawn::Dot, b, None, &mut rng);
            let px = img.as_raw().iter().filter(|&&p| p < 128).count() as f64;
            let across = 2.0 * (px / std::f64::consts::PI).sqrt() / s;
            assert!((0.6..=1.3).contains(&across), "{across:.2} mm");
            // All of it inside the box.
            let inside = dark_share(&img, b, 300.0) * (b.w * s).floor() * (b.h * s).floor();
            assert!(inside >= px - 0.5, "{inside} of {px} inside");
        }
    }

    #[test]
    fn a_straddling_tick_reaches_into_both_boxes_across_the_rule() {
        // 附2's boxes: 5 mm, 12.9 mm apart.
        let a = RectMm::new(10.0, 10.0, 5.0, 5.0);
        let b = RectMm::new(22.9, 10.0, 5.0, 5.0);
        let between = RectMm::new(a.right() + 1.0, 10.0, b.x - a.right() - 2.0, 5.0);
        let mut rng = ChaCha8Rng::seed_from_u64(10);
        for _ in 0..20 {
            let img = draw(Drawn::Straddle, a, Some(b), &mut rng);
            // Half in each: well inside both boxes (clear of their outlines), and across the
            // gap between them.
            for (name, r) in [
                ("left", a.inset(0.5)),
                ("right", b.inset(0.5)),
                ("gap", between),
            ] {
                let share = dark_share(&img, r, 300.0);
                assert!(share > 0.02, "{share:.3} in the {name} box");
            }
        }
        // Without its partner there is nothing to straddle.
        let img = draw(Drawn::Straddle, a, None, &mut rng);
        assert!(img.as_raw().iter().all(|&p| p == 255));
    }
}
