//! A scanner's and a copier's damage to a page: skew, shift and scale (one affine resample),
//! blur, paper and toner levels, noise, fold lines, streaks, feeding upside down or sideways,
//! and 1-bit output (threshold or dither).

use super::profile::Scanner;
use crate::units::MM_PER_INCH;
use image::GrayImage;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What was done to a page (the parts the truth file records).
#[derive(Debug, Clone, Copy)]
pub struct Applied {
    /// Clockwise quarter-turn rotation, degrees.
    pub rotation: u32,
    pub skew_deg: f64,
}

/// Run `img` (an upright page at `dpi`) through a scanner with `params`. `landscape` pages may
/// be fed sideways.
pub fn scan(
    img: &GrayImage,
    params: &Scanner,
    rng: &mut ChaCha8Rng,
    dpi: f64,
    landscape: bool,
) -> (GrayImage, Applied) {
    let s = dpi / MM_PER_INCH;
    let skew = rng.random_range(-params.skew_deg..=params.skew_deg);
    let scale = rng.random_range(params.scale.0..=params.scale.1);
    let shift = (
        rng.random_range(-params.shift_mm..=params.shift_mm) * s,
        rng.random_range(-params.shift_mm..=params.shift_mm) * s,
    );
    let paper = rng.random_range(params.paper.0..=params.paper.1);
    let black = rng.random_range(params.black.0..=params.black.1);
    let mut out = warp(img, skew, scale, shift, black, paper);
    for _ in 0..params.blur_passes {
        blur(&mut out);
    }
    if rng.random_bool(params.fold) {
        fold(&mut out, rng);
    }
    if rng.random_bool(params.streak) {
        streak(&mut out, rng);
    }
    noise(&mut out, params.noise, rng.random());
    let rotation = if landscape && rng.random_bool(params.sideways) {
        if rng.random_bool(0.5) {
            90
        } else {
            270
        }
    } else if rng.random_bool(params.upside_down) {
        180
    } else {
        0
    };
    let out = turn(out, rotation);
    (
        out,
        Applied {
            rotation,
            skew_deg: skew,
        },
    )
}

/// A blank back: paper with the profile's noise and the odd speck of dust.
pub fn blank_back(width: u32, height: u32, params: &Scanner, rng: &mut ChaCha8Rng) -> GrayImage {
    let paper = rng.random_range(params.paper.0..=params.paper.1).round() as u8;
    let mut img = GrayImage::from_pixel(width, height, image::Luma([paper]));
    for _ in 0..rng.random_range(0..4) {
        let (x, y) = (
            rng.random_range(0..width.max(1)),
            rng.random_range(0..height.max(1)),
        );
        img.put_pixel(x, y, image::Luma([rng.random_range(60..160)]));
    }
    noise(&mut img, params.noise, rng.random());
    img
}

/// Clockwise quarter turns.
pub fn turn(img: GrayImage, rotation: u32) -> GrayImage {
    match rotation {
        90 => image::imageops::rotate90(&img),
        180 => image::imageops::rotate180(&img),
        270 => image::imageops::rotate270(&img),
        _ => img,
    }
}

/// Fractional bits of the warp's fixed-point source coordinates: 1/65536 px drifts < 0.1 px
/// over a 7,000 px row.
const FRAC: u32 = 16;

/// Rotate by `deg` (counter-clockwise on screen) about the centre, scale, shift; resample
/// bilinearly; map the template's 0..255 onto black..paper. Outside the sheet is paper-white
/// (the scanner lid).
fn warp(
    src: &GrayImage,
    deg: f64,
    scale: f64,
    shift: (f64, f64),
    black: f64,
    paper: f64,
) -> GrayImage {
    let (w, h) = src.dimensions();
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) / 2.0);
    let a = deg.to_radians();
    // Inverse map: out → src = R(-a) · (out - c - shift) / scale + c. y grows down, so a
    // positive angle turns the content counter-clockwise as seen.
    let (cos, sin) = (a.cos() / scale, a.sin() / scale);
    let lut: Vec<u8> = (0..=255u32)
        .map(|v| {
            (black + (paper - black) * f64::from(v) / 255.0)
                .round()
                .clamp(0.0, 255.0) as u8
        })
        .collect();
    let white = lut[255];
    let raw = src.as_raw();
    let mut out = vec![white; raw.len()];
    let (wu, wi, hi) = (w as usize, i64::from(w), i64::from(h));
    // Fixed point with FRAC fractional bits: the source position moves by a constant step
    // along a row, so one add per pixel replaces two float products, a floor and a round.
    let one = f64::from(1u32 << FRAC);
    let (step_x, step_y) = ((cos * one).round() as i64, (-sin * one).round() as i64);
    let bounds_ok = |x0: i64, y0: i64| x0 >= 0 && y0 >= 0 && x0 + 1 < wi && y0 + 1 < hi;
    for (y, row) in out.chunks_exact_mut(wu).enumerate() {
        let dy = y as f64 + 0.5 - cy - shift.1;
        let dx = 0.5 - cx - shift.0;
        let mut sx = ((cos * dx + sin * dy + cx - 0.5) * one).round() as i64;
        let mut sy = ((-sin * dx + cos * dy + cy - 0.5) * one).round() as i64;
        for o in row.iter_mut() {
            let (x0, y0) = (sx >> FRAC, sy >> FRAC);
            if bounds_ok(x0, y0) {
                // Weights in 1/256ths: finer than a gray level after the two blends.
                let fx = ((sx >> (FRAC - 8)) & 0xff) as u32;
                let fy = ((sy >> (FRAC - 8)) & 0xff) as u32;
                let i = (y0 * wi + x0) as usize;
                let (p00, p10) = (u32::from(raw[i]), u32::from(raw[i + 1]));
                let (p01, p11) = (u32::from(raw[i + wu]), u32::from(raw[i + wu + 1]));
                let top = p00 * (256 - fx) + p10 * fx;
                let bot = p01 * (256 - fx) + p11 * fx;
                let v = (top * (256 - fy) + bot * fy + (1 << 15)) >> 16;
                *o = lut[v.min(255) as usize];
            }
            sx += step_x;
            sy += step_y;
        }
    }
    GrayImage::from_raw(w, h, out).unwrap_or_else(|| src.clone())
}

/// One separable [1 2 1]/4 pass: the softness of a scanner's optics.
fn blur(img: &mut GrayImage) {
    let (w, h) = (img.width() as usize, img.height() as usize);
    if w < 3 || h < 3 {
        return;
    }
    let buf = img.as_mut();
    let mut tmp = vec![0u8; buf.len()];
    for y in 0..h {
        let r = &buf[y * w..(y + 1) * w];
        let t = &mut tmp[y * w..(y + 1) * w];
        t[0] = r[0];
        t[w - 1] = r[w - 1];
        for x in 1..w - 1 {
            t[x] =
                ((u16::from(r[x - 1]) + 2 * u16::from(r[x]) + u16::from(r[x + 1]) + 2) / 4) as u8;
        }
    }
    buf[..w].copy_from_slice(&tmp[..w]);
    buf[(h - 1) * w..].copy_from_slice(&tmp[(h - 1) * w..]);
    for y in 1..h - 1 {
        for x in 0..w {
            let v = u16::from(tmp[(y - 1) * w + x])
                + 2 * u16::from(tmp[y * w + x])
                + u16::from(tmp[(y + 1) * w + x]);
            buf[y * w + x] = ((v + 2) / 4) as u8;
        }
    }
}

/// A fold across the page: a soft dark crease line with a light shadow beside it.
fn fold(img: &mut GrayImage, rng: &mut ChaCha8Rng) {
    let (w, h) = img.dimensions();
    // Letters are folded in thirds or halves across the long side.
    let horizontal = h >= w;
    let len = if horizontal { h } else { w };
    let at = f64::from(len) * [1.0 / 3.0, 0.5, 2.0 / 3.0][rng.random_range(0..3)]
        + rng.random_range(-20.0..20.0);
    let depth = rng.random_range(25.0..60.0);
    let tilt = rng.random_range(-0.01..0.01);
    let across = if horizontal { w } else { h };
    // Beyond 40 px from the crease the shadow is under half a gray level.
    let reach = 40.0;
    for u in 0..across {
        let centre = at + tilt * f64::from(u);
        let lo = (centre - reach).max(0.0) as u32;
        let hi = ((centre + reach).max(0.0) as u32).min(len);
        for v in lo..hi {
            let d = f64::from(v) - centre;
            // Crease ≈ 2 px wide, shadow ≈ 8 px on one side.
            let dark = depth * (-(d * d) / 2.0).exp()
                + depth * 0.25 * if d > 0.0 { (-d / 8.0).exp() } else { 0.0 };
            let (x, y) = if horizontal { (u, v) } else { (v, u) };
            let p = img.get_pixel_mut(x, y);
            p.0[0] = (f64::from(p.0[0]) - dark).max(0.0) as u8;
        }
    }
}

/// Dirt on the scanner glass: a thin vertical streak the length of the page.
fn streak(img: &mut GrayImage, rng: &mut ChaCha8Rng) {
    let (w, h) = img.dimensions();
    let x0 = rng.random_range(0..w.max(1));
    let width = rng.random_range(1..4u32);
    let dark = rng.random_range(40u8..110);
    for y in 0..h {
        for x in x0..(x0 + width).min(w) {
            let p = img.get_pixel_mut(x, y);
            p.0[0] = p.0[0].saturating_sub(dark);
        }
    }
}

/// Sensor noise: triangular, ±`amp` gray levels, from a fast seeded generator.
fn noise(img: &mut GrayImage, amp: f64, seed: u64) {
    if amp <= 0.0 {
        return;
    }
    let mut state = seed | 1;
    // Fixed point (8 fractional bits): float rounding per pixel costs more than the rest.
    let scale = (amp * 256.0 / 255.0).round() as i32;
    for p in img.as_mut().iter_mut() {
        // xorshift64: the noise needs speed, not quality.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let a = (state & 0xff) as i32;
        let b = ((state >> 8) & 0xff) as i32;
        let n = ((a + b - 255) * scale) >> 8;
        *p = (i32::from(*p) + n).clamp(0, 255) as u8;
    }
}

/// Office scanners' black-and-white "text" mode cuts high (or adaptively) so pencil and a
/// light pen survive: faint pen (gray 140–175) stays black, paper (≥ 206 with `hard` noise) white.
const TEXT_THRESHOLD: i32 = 190;

/// 1-bit output: a fixed threshold (office scanners' "text" mode) or Floyd–Steinberg dither
/// ("photo" mode). Pixels become 0 or 255.
pub fn bilevel(img: &mut GrayImage, dither: bool) {
    // Error diffusion splits at the middle of the range, so mid-gray dithers to half black.
    let threshold = 128i32;
    if !dither {
        for p in img.as_mut().iter_mut() {
            *p = if i32::from(*p) < TEXT_THRESHOLD {
                0
            } else {
                255
            };
        }
        return;
    }
    let (w, h) = (img.width() as usize, img.height() as usize);
    let mut err_row = vec![0i32; w + 2];
    let mut next_row = vec![0i32; w + 2];
    let buf = img.as_mut();
    for y in 0..h {
        for x in 0..w {
            let old = i32::from(buf[y * w + x]) + err_row[x + 1] / 16;
            let new = if old < threshold { 0 } else { 255 };
            buf[y * w + x] = new as u8;
            let e = old - new;
            err_row[x + 2] += e * 7;
            next_row[x] += e * 3;
            next_row[x + 1] += e * 5;
            next_row[x + 2] += e;
        }
        std::mem::swap(&mut err_row, &mut next_row);
        next_row.iter_mut().for_each(|v| *v = 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::profile::Profile;
    use rand::SeedableRng;

    #[test]
    fn a_clean_scan_keeps_a_black_square_where_it_was() {
        let mut img = GrayImage::from_pixel(400, 400, image::Luma([255]));
        for y in 100..160 {
            for x in 200..260 {
                img.put_pixel(x, y, image::Luma([0]));
            }
        }
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let (out, applied) = scan(&img, &Profile::Clean.scanner(), &mut rng, 300.0, false);
        assert_eq!(applied.rotation, 0);
        assert!(out.get_pixel(230, 130).0[0] < 60);
        assert!(out.get_pixel(50, 50).0[0] > 220);
    }

    #[test]
    fn text_threshold_keeps_a_faint_pen_and_drops_dim_paper() {
        let mut img = GrayImage::from_fn(2, 1, |x, _| image::Luma([[170, 212][x as usize]]));
        bilevel(&mut img, false);
        assert_eq!(img.as_raw(), &vec![0, 255]);
    }

    #[test]
    fn dither_and_threshold_leave_only_black_and_white() {
        let mut img = GrayImage::from_fn(64, 64, |x, _| image::Luma([(x * 4) as u8]));
        let mut t = img.clone();
        bilevel(&mut img, true);
        bilevel(&mut t, false);
        assert!(img
            .as_raw()
            .iter()
            .chain(t.as_raw())
            .all(|&p| p == 0 || p == 255));
        // A mid-gray dithers to about half black.
        let mid = GrayImage::from_pixel(64, 64, image::Luma([128]));
        let mut d = mid.clone();
        bilevel(&mut d, true);
        let black = d.as_raw().iter().filter(|&&p| p == 0).count();
        assert!(black > 1500 && black < 2600, "{black}");
    }
}
