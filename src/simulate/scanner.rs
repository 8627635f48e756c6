//! A scanner's and a copier's damage to a page: skew, shift, scale and keystone (one
//! projective resample), auto-cropping to the sheet on a dark or white background, blur,
//! paper and toner levels, noise, fold lines, streaks, feeding upside down or sideways, and
//! 1-bit output (sensor noise and dust, then a threshold or dither).

use super::profile::Scanner;
use super::projective::Homography;
use super::truth::AutoCrop;
use crate::units::MM_PER_INCH;
use image::GrayImage;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What was done to a page (the parts the truth file records).
#[derive(Debug, Clone, Copy)]
pub struct Applied {
    /// Clockwise quarter-turn rotation, degrees.
    pub rotation: u32,
    pub skew_deg: f64,
    /// The largest corner pull off the rotated, scaled rectangle, mm.
    pub keystone_mm: f64,
    /// The sheet's TL, TR, BR, BL corners in the written image (after the quarter turn), mm.
    pub corners_mm: [[f64; 2]; 4],
    pub auto_crop: Option<AutoCrop>,
}

/// Gray level of a dark scanner lid or background (the field sample's black-backed scans).
const DARK_BACKGROUND: std::ops::RangeInclusive<u8> = 20..=60;
/// Border an auto-cropping scanner leaves beyond the sheet it found, mm, on a side that has one.
const CROP_BORDER_MM: std::ops::Range<f64> = 0.5..4.0;

/// Run `img` (an upright page at `dpi`) through a scanner with `params`. `landscape` pages may
/// be fed sideways. `extra` draws what the older profiles lacked (keystone, auto-crop), so the
/// draws from `rng` (skew, folds, streaks…) stay what they were for a seed.
pub fn scan(
    img: &GrayImage,
    params: &Scanner,
    rng: &mut ChaCha8Rng,
    extra: &mut ChaCha8Rng,
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
    // A fold is the paper's: drawn on the sheet, it turns and warps with it. Its draws from
    // `rng` come here, as they always did, and from `extra` after the placement's.
    let crease = rng.random_bool(params.fold).then(|| Fold::draw(rng));
    let place = place(img.dimensions(), params, skew, scale, shift, extra, s);
    let folded = crease.map(|c| {
        let mut sheet = img.clone();
        c.draw_on(&mut sheet, extra, dpi);
        sheet
    });
    let mut out = warp(folded.as_ref().unwrap_or(img), &place, black, paper);
    for _ in 0..params.blur_passes {
        blur(&mut out);
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
    let (cw, ch) = (f64::from(place.size.0), f64::from(place.size.1));
    let corners_mm = place.corners.map(|(x, y)| {
        let (x, y) = match rotation {
            90 => (ch - y, x),
            180 => (cw - x, ch - y),
            270 => (y, cw - x),
            _ => (x, y),
        };
        [x / s, y / s]
    });
    let out = turn(out, rotation);
    (
        out,
        Applied {
            rotation,
            skew_deg: skew,
            keystone_mm: place.keystone_px / s,
            corners_mm,
            auto_crop: place.crop.map(|(background, border)| AutoCrop {
                background: background.unwrap_or_else(|| paper.round() as u8),
                border_mm: border.map(|b| b / s),
            }),
        },
    )
}

/// Where the sheet lands in the scan.
struct Placement {
    /// Output pixel position → template pixel position.
    back: Homography,
    /// Output image size, px.
    size: (u32, u32),
    /// Where the template's TL, TR, BR, BL corners land, output px.
    corners: [(f64, f64); 4],
    keystone_px: f64,
    /// Auto-cropped: the dark background (None: the white lid) and the borders (px, L T R B).
    crop: Option<(Option<u8>, [f64; 4])>,
}

/// Rotate by `deg` (counter-clockwise on screen) about the centre, scale, shift, pull the
/// corners up to the profile's keystone off that rectangle, and crop to the sheet (always when it
/// is turned past what a page-sized image holds).
fn place(
    src: (u32, u32),
    params: &Scanner,
    deg: f64,
    scale: f64,
    shift: (f64, f64),
    rng: &mut ChaCha8Rng,
    s: f64,
) -> Placement {
    let (w, h) = (f64::from(src.0), f64::from(src.1));
    let (cx, cy) = (w / 2.0, h / 2.0);
    let a = deg.to_radians();
    let (cos, sin) = (a.cos() * scale, a.sin() * scale);
    // y grows down, so a positive angle turns the content counter-clockwise as seen.
    let affine = |(x, y): (f64, f64)| {
        let (dx, dy) = (x - cx, y - cy);
        (
            cos * dx - sin * dy + cx + shift.0,
            sin * dx + cos * dy + cy + shift.1,
        )
    };
    let sheet = [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)];
    let plain = sheet.map(affine);
    let pull = rng.random_range(0.0..=params.keystone_mm.max(0.0)) * s;
    let mut keystone_px = 0.0f64;
    let mut corners = plain.map(|(x, y)| {
        // Each corner its own way, by 30–100 % of the page's pull: a general perspective.
        let r = pull * rng.random_range(0.3..=1.0);
        let t = rng.random_range(0.0..std::f64::consts::TAU);
        keystone_px = keystone_px.max(r);
        (x + r * t.cos(), y + r * t.sin())
    });
    let mut size = src;
    let mut crop = None;
    if deg.abs() > params.fixed_canvas_skew_deg || rng.random_bool(params.auto_crop) {
        let dark = rng
            .random_bool(params.dark_background)
            .then(|| rng.random_range(DARK_BACKGROUND));
        // One to four sides get a border; the others are cut at the sheet's outermost corner.
        let mut sides = [0usize, 1, 2, 3];
        sides.shuffle(rng);
        let bordered = rng.random_range(1..=4);
        let mut border = [0.0f64; 4];
        for &k in &sides[..bordered] {
            border[k] = rng.random_range(CROP_BORDER_MM) * s;
        }
        let extent = |f: fn(f64, f64) -> f64, pick: fn(&(f64, f64)) -> f64| {
            corners.iter().map(pick).fold(pick(&corners[0]), f)
        };
        let (x0, x1) = (extent(f64::min, |c| c.0), extent(f64::max, |c| c.0));
        let (y0, y1) = (extent(f64::min, |c| c.1), extent(f64::max, |c| c.1));
        let origin = (x0 - border[0], y0 - border[1]);
        size = (
            (x1 + border[2] - origin.0).ceil().max(1.0) as u32,
            (y1 + border[3] - origin.1).ceil().max(1.0) as u32,
        );
        for c in &mut corners {
            *c = (c.0 - origin.0, c.1 - origin.1);
        }
        crop = Some((dark, border));
    }
    // Four corners off a rectangle by a few mm are never three on a line; the plain affine
    // map is the fallback all the same.
    let back = Homography::through(corners, sheet)
        .or_else(|| Homography::through(plain, sheet))
        .unwrap_or(Homography([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]));
    Placement {
        back,
        size,
        corners,
        keystone_px,
        crop,
    }
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

/// Fractional bits of the warp's fixed-point source coordinates: 1/65536 px per step drifts
/// < 10⁻³ px over a span.
const FRAC: u32 = 16;
/// Output pixels between exact projective positions; between them the source position moves
/// linearly. A 2.5 mm keystone (curvature ≈ 10⁻⁵ px/px²) strays < 0.01 px from the exact map
/// over 64 px, and one division per 64 px keeps the warp within ~10 % of a plain affine one.
const SPAN: usize = 64;

/// Resample the template through `place` bilinearly, in one pass; map the template's 0..255
/// onto black..paper. Outside the sheet is the background: paper-white (the scanner lid) or
/// the dark background of an auto-cropped page.
fn warp(src: &GrayImage, place: &Placement, black: f64, paper: f64) -> GrayImage {
    let (ow, oh) = place.size;
    let lut: Vec<u8> = (0..=255u32)
        .map(|v| {
            (black + (paper - black) * f64::from(v) / 255.0)
                .round()
                .clamp(0.0, 255.0) as u8
        })
        .collect();
    let background = match place.crop {
        Some((Some(dark), _)) => dark,
        _ => lut[255],
    };
    let mut out = vec![background; ow as usize * oh as usize];
    let grid = Grid {
        raw: src.as_raw(),
        w: i64::from(src.width()),
        h: i64::from(src.height()),
        lut: &lut,
    };
    let one = f64::from(1u32 << FRAC);
    let m = &place.back.0;
    for (y, row) in out.chunks_exact_mut(ow as usize).enumerate() {
        let yc = y as f64 + 0.5;
        // The map along this row at output x (pixel centres), in fixed point, relative to the
        // bilinear grid (origin at the first source pixel's centre).
        let (nx, ny, nw) = (m[1] * yc + m[2], m[4] * yc + m[5], m[7] * yc + m[8]);
        let fixed = |x: f64| -> (i64, i64) {
            let w = m[6] * x + nw;
            // A page's map keeps w near 1; elsewhere the position is far off the template.
            if w.abs() < 1e-9 {
                return (i64::MIN / 4, i64::MIN / 4);
            }
            let r = one / w;
            // `as` saturates; truncating drops under 1/65536 px.
            (
                ((m[0] * x + nx) * r - one / 2.0) as i64,
                ((m[3] * x + ny) * r - one / 2.0) as i64,
            )
        };
        let mut start = fixed(0.5);
        let mut x = 0;
        while x < row.len() {
            let n = SPAN.min(row.len() - x);
            let end = fixed((x + n) as f64 + 0.5);
            let step = ((end.0 - start.0) / n as i64, (end.1 - start.1) / n as i64);
            grid.run(&mut row[x..x + n], start, step);
            start = end;
            x += n;
        }
    }
    GrayImage::from_raw(ow, oh, out).unwrap_or_else(|| src.clone())
}

/// The template as the warp samples it.
struct Grid<'a> {
    raw: &'a [u8],
    w: i64,
    h: i64,
    lut: &'a [u8],
}

impl Grid<'_> {
    /// Fill `out` from source positions `start`, `start + step`, … (fixed point): one add
    /// per pixel replaces the projective map's division. Off the template stays as it was.
    #[inline]
    fn run(&self, out: &mut [u8], start: (i64, i64), step: (i64, i64)) {
        let (w, h) = (self.w, self.h);
        let wu = w as usize;
        let (mut sx, mut sy) = start;
        for o in out {
            let (x0, y0) = (sx >> FRAC, sy >> FRAC);
            if x0 >= 0 && y0 >= 0 && x0 + 1 < w && y0 + 1 < h {
                // Weights in 1/256ths: finer than a gray level after the two blends.
                let fx = ((sx >> (FRAC - 8)) & 0xff) as u32;
                let fy = ((sy >> (FRAC - 8)) & 0xff) as u32;
                let i = (y0 * w + x0) as usize;
                let (p00, p10) = (u32::from(self.raw[i]), u32::from(self.raw[i + 1]));
                let (p01, p11) = (u32::from(self.raw[i + wu]), u32::from(self.raw[i + wu + 1]));
                let top = p00 * (256 - fx) + p10 * fx;
                let bot = p01 * (256 - fx) + p11 * fx;
                let v = (top * (256 - fy) + bot * fy + (1 << 15)) >> 16;
                *o = self.lut[v.min(255) as usize];
            }
            sx += step.0;
            sy += step.1;
        }
    }
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

/// A fold across the sheet, as returned sheets show it: a thin crease (≈ 0.3 mm) 15–40 levels
/// below a shadow that ramps 8–18 levels deep over 4–8 mm on one side of it. Folded by hand:
/// up to 0.6° off the print's axis. A portrait sheet is folded across its long side; a
/// landscape one either way.
#[derive(Debug, Clone, Copy)]
struct Fold {
    /// Where across the sheet (share of its length): halves or thirds.
    share: f64,
    offset_px: f64,
    depth: f64,
    tilt: f64,
}

impl Fold {
    fn draw(rng: &mut ChaCha8Rng) -> Self {
        Self {
            share: [1.0 / 3.0, 0.5, 2.0 / 3.0][rng.random_range(0..3)],
            offset_px: rng.random_range(-20.0..20.0),
            depth: rng.random_range(15.0..40.0),
            tilt: rng.random_range(-0.01..0.01),
        }
    }

    /// Darken the upright sheet `img` (at `dpi`) along the fold.
    fn draw_on(self, img: &mut GrayImage, extra: &mut ChaCha8Rng, dpi: f64) {
        let (w, h) = img.dimensions();
        let s = dpi / MM_PER_INCH;
        let horizontal = h >= w || extra.random_bool(0.5);
        let len = if horizontal { h } else { w };
        let at = f64::from(len) * self.share + self.offset_px;
        let shadow = extra.random_range(8.0..18.0);
        let ramp = extra.random_range(4.0..8.0) * s;
        let side = if extra.random_bool(0.5) { 1.0 } else { -1.0 };
        // The crease's Gaussian: σ ≈ 0.12 mm, 0.3 mm across at half its depth.
        let sigma = 0.12 * s;
        let across = if horizontal { w } else { h };
        let reach = ramp + 4.0 * sigma;
        for u in 0..across {
            let centre = at + self.tilt * f64::from(u);
            let lo = (centre - reach).max(0.0) as u32;
            let hi = ((centre + reach).max(0.0) as u32).min(len);
            for v in lo..hi {
                let d = f64::from(v) - centre;
                let behind = d * side;
                let dark = self.depth * (-(d * d) / (2.0 * sigma * sigma)).exp()
                    + if behind > 0.0 && behind < ramp {
                        shadow * (1.0 - behind / ramp)
                    } else {
                        0.0
                    };
                let (x, y) = if horizontal { (u, v) } else { (v, u) };
                let p = img.get_pixel_mut(x, y);
                p.0[0] = (f64::from(p.0[0]) - dark).max(0.0) as u8;
            }
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
/// Share of dust specks two pixels long rather than one (fibres).
const LONG_SPECK: f64 = 0.25;

/// 1-bit output as a 1-bit scanner makes it: sensor noise before the cut (so outlines come out
/// jagged and a little thick), dust specks on the paper at the profile's rate, then a fixed
/// threshold (office scanners' "text" mode) or Floyd–Steinberg dither ("photo" mode).
pub fn bilevel(img: &mut GrayImage, dither: bool, params: &Scanner, rng: &mut ChaCha8Rng) {
    noise(img, params.one_bit_noise, rng.random());
    let (lo, hi) = params.speckle;
    let rate = if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    };
    dust(img, rate, rng);
    binarize(img, dither);
}

/// Isolated dark pixels (one or two) on `rate` of the image's pixels.
fn dust(img: &mut GrayImage, rate: f64, rng: &mut ChaCha8Rng) {
    let (w, h) = img.dimensions();
    if w < 2 || h < 2 || rate <= 0.0 {
        return;
    }
    let n = (rate * f64::from(w) * f64::from(h)).round() as u32;
    for _ in 0..n {
        let (x, y) = (rng.random_range(0..w - 1), rng.random_range(0..h - 1));
        // Dark enough for any threshold; a dither may still soften it into the paper.
        let v = image::Luma([rng.random_range(0..100u8)]);
        img.put_pixel(x, y, v);
        if rng.random_bool(LONG_SPECK) {
            let (x, y) = if rng.random_bool(0.5) {
                (x + 1, y)
            } else {
                (x, y + 1)
            };
            img.put_pixel(x, y, v);
        }
    }
}

/// Pixels become 0 or 255: a fixed threshold or error diffusion.
pub fn binarize(img: &mut GrayImage, dither: bool) {
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
        let mut extra = ChaCha8Rng::seed_from_u64(3);
        let (out, applied) = scan(
            &img,
            &Profile::Clean.scanner(),
            &mut rng,
            &mut extra,
            300.0,
            false,
        );
        assert_eq!(applied.rotation, 0);
        assert!(out.get_pixel(230, 130).0[0] < 60);
        assert!(out.get_pixel(50, 50).0[0] > 220);
    }

    #[test]
    fn text_threshold_keeps_a_faint_pen_and_drops_dim_paper() {
        let mut img = GrayImage::from_fn(2, 1, |x, _| image::Luma([[170, 212][x as usize]]));
        binarize(&mut img, false);
        assert_eq!(img.as_raw(), &vec![0, 255]);
    }

    #[test]
    fn dither_and_threshold_leave_only_black_and_white() {
        let mut img = GrayImage::from_fn(64, 64, |x, _| image::Luma([(x * 4) as u8]));
        let mut t = img.clone();
        binarize(&mut img, true);
        binarize(&mut t, false);
        assert!(img
            .as_raw()
            .iter()
            .chain(t.as_raw())
            .all(|&p| p == 0 || p == 255));
        // A mid-gray dithers to about half black.
        let mid = GrayImage::from_pixel(64, 64, image::Luma([128]));
        let mut d = mid.clone();
        binarize(&mut d, true);
        let black = d.as_raw().iter().filter(|&&p| p == 0).count();
        assert!(black > 1500 && black < 2600, "{black}");
    }

    /// A scanner that only moves the sheet: no blur, noise, folds or turns.
    fn geometry_only(keystone_mm: f64, auto_crop: f64, dark: f64) -> Scanner {
        Scanner {
            skew_deg: 3.0,
            shift_mm: 3.0,
            keystone_mm,
            fixed_canvas_skew_deg: 3.0,
            scale: (0.98, 1.01),
            blur_passes: 0,
            noise: 0.0,
            paper: (240.0, 240.0),
            black: (20.0, 20.0),
            jpeg_quality: (90, 90),
            upside_down: 0.0,
            sideways: 0.0,
            fold: 0.0,
            streak: 0.0,
            blank_backs: 0.0,
            auto_crop,
            dark_background: dark,
            one_bit_noise: 0.0,
            speckle: (0.0, 0.0),
        }
    }

    /// Dark-pixel centroid inside a `half`-px window around `at`.
    fn centroid(img: &GrayImage, at: (f64, f64), half: f64) -> Option<(f64, f64)> {
        let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
        let x0 = (at.0 - half).max(0.0) as u32;
        let y0 = (at.1 - half).max(0.0) as u32;
        for y in y0..((at.1 + half) as u32).min(img.height()) {
            for x in x0..((at.0 + half) as u32).min(img.width()) {
                let dark = 255.0 - f64::from(img.get_pixel(x, y).0[0]);
                if dark > 60.0 {
                    sx += (f64::from(x) + 0.5) * dark;
                    sy += (f64::from(y) + 0.5) * dark;
                    n += dark;
                }
            }
        }
        (n > 0.0).then(|| (sx / n, sy / n))
    }

    #[test]
    fn keystoned_squares_land_where_the_projective_map_says() {
        // 300 dpi: an A5-sized sheet with 4 mm squares 12 mm in from each corner.
        let dpi = 300.0;
        let s = dpi / MM_PER_INCH;
        let (w, h) = (1748u32, 2480u32);
        let mut img = GrayImage::from_pixel(w, h, image::Luma([255]));
        let centres = [
            (12.0, 12.0),
            (136.0, 12.0),
            (136.0, 198.0),
            (12.0, 198.0),
            (74.0, 105.0),
        ];
        for (cx, cy) in centres {
            for y in ((cy - 2.0) * s) as u32..((cy + 2.0) * s) as u32 {
                for x in ((cx - 2.0) * s) as u32..((cx + 2.0) * s) as u32 {
                    img.put_pixel(x, y, image::Luma([0]));
                }
            }
        }
        let sheet = [
            (0.0, 0.0),
            (f64::from(w), 0.0),
            (f64::from(w), f64::from(h)),
            (0.0, f64::from(h)),
        ];
        let mut pulled = 0.0f64;
        for seed in 0..6 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut extra = ChaCha8Rng::seed_from_u64(100 + seed);
            let params = geometry_only(2.5, 0.5, 0.5);
            let (out, a) = scan(&img, &params, &mut rng, &mut extra, dpi, false);
            assert!(a.keystone_mm <= 2.5 + 1e-9, "{}", a.keystone_mm);
            pulled = pulled.max(a.keystone_mm);
            let to = a.corners_mm.map(|c| (c[0] * s, c[1] * s));
            let map = Homography::through(sheet, to).expect("a map");
            for (cx, cy) in centres {
                let want = map.apply(cx * s, cy * s).expect("finite");
                let got = centroid(&out, want, 4.0 * s).expect("a square");
                let off = ((got.0 - want.0).hypot(got.1 - want.1)) / s;
                assert!(
                    off < 0.2,
                    "seed {seed}: square at ({cx}, {cy}) mm off by {off:.3} mm"
                );
            }
        }
        // The corners really were pulled, not just turned.
        assert!(pulled > 1.0, "{pulled}");
    }

    #[test]
    fn a_dark_auto_cropped_scan_holds_the_turned_sheet_inside_its_border() {
        let dpi = 200.0;
        let s = dpi / MM_PER_INCH;
        let img = GrayImage::from_pixel(1654, 2339, image::Luma([255]));
        for seed in 0..6 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut extra = ChaCha8Rng::seed_from_u64(200 + seed);
            let (out, a) = scan(
                &img,
                &geometry_only(1.0, 1.0, 1.0),
                &mut rng,
                &mut extra,
                dpi,
                false,
            );
            let crop = a.auto_crop.expect("auto-cropped");
            assert!(
                DARK_BACKGROUND.contains(&crop.background),
                "{}",
                crop.background
            );
            assert!(crop.border_mm.iter().any(|&b| b >= CROP_BORDER_MM.start));
            // Larger than the sheet: its turned bounding box plus the borders.
            assert!(out.width() > 1654 - 40 && out.height() > 2339 - 60);
            let px = |x: f64, y: f64| out.get_pixel(x as u32, y as u32).0[0];
            let c = a.corners_mm.map(|c| (c[0] * s, c[1] * s));
            // Every corner inside the image, and the border's edge follows the turned sheet:
            // 1 mm inside each edge's middle is paper, 1 mm outside (where the image goes on)
            // is the dark background.
            for (x, y) in c {
                assert!(x >= -0.5 && y >= -0.5, "{x} {y}");
                assert!(x <= f64::from(out.width()) + 0.5 && y <= f64::from(out.height()) + 0.5);
            }
            let centre = (
                c.iter().map(|p| p.0).sum::<f64>() / 4.0,
                c.iter().map(|p| p.1).sum::<f64>() / 4.0,
            );
            for k in 0..4 {
                let (p, q) = (c[k], c[(k + 1) % 4]);
                let mid = ((p.0 + q.0) / 2.0, (p.1 + q.1) / 2.0);
                let (dx, dy) = (mid.0 - centre.0, mid.1 - centre.1);
                let n = dx.hypot(dy);
                let inside = (mid.0 - dx / n * s, mid.1 - dy / n * s);
                assert!(
                    px(inside.0, inside.1) > 200,
                    "seed {seed} edge {k}: no paper inside"
                );
                let outside = (mid.0 + dx / n * s, mid.1 + dy / n * s);
                let within = outside.0 >= 0.0
                    && outside.1 >= 0.0
                    && outside.0 < f64::from(out.width())
                    && outside.1 < f64::from(out.height());
                if within {
                    assert!(
                        px(outside.0, outside.1) < 80,
                        "seed {seed} edge {k}: no dark border"
                    );
                }
            }
        }
    }

    #[test]
    fn one_bit_scans_speckle_at_their_rate_and_jag_and_thicken_their_outlines() {
        let params = Profile::Hard.scanner();
        let (lo, hi) = params.speckle;
        // Paper at the hard profile's darkest: black only where dust fell.
        let mut paper = GrayImage::from_pixel(2000, 2000, image::Luma([215]));
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        bilevel(&mut paper, false, &params, &mut rng);
        assert!(paper.as_raw().iter().all(|&p| p == 0 || p == 255));
        let n = f64::from(2000 * 2000);
        let dust = paper.as_raw().iter().filter(|&&p| p == 0).count() as f64;
        // One speck in four is two pixels long.
        assert!(
            dust >= lo * n * 0.8 && dust <= hi * n * (1.0 + LONG_SPECK) * 1.2,
            "{dust} black pixels of {n}"
        );
        // A vertical edge at x = 100 softened by the optics: its pixels pass through the
        // threshold's neighbourhood; mid-gray (≈ 122) is at x = 100.
        let mut img = GrayImage::from_fn(200, 1000, |x, _| {
            image::Luma([match x {
                0..=97 => 215,
                98 => 198,
                99 => 180,
                100 => 120,
                101 => 60,
                _ => 30,
            }])
        });
        bilevel(&mut img, false, &params, &mut rng);
        let edges: Vec<u32> = (0..1000)
            .map(|y| {
                (95..120)
                    .find(|&x| img.get_pixel(x, y).0[0] == 0)
                    .unwrap_or(120)
            })
            .collect();
        let distinct: std::collections::BTreeSet<_> = edges.iter().collect();
        // Jagged: rows turn black at different columns, within a pixel or two.
        assert!(distinct.len() >= 2, "a straight edge: {distinct:?}");
        assert!(edges.iter().all(|e| (97..=100).contains(e)), "{distinct:?}");
        // Thickened: the black starts before the mid-gray crossing, on average.
        let mean = edges.iter().map(|&e| f64::from(e)).sum::<f64>() / edges.len() as f64;
        assert!(mean < 99.5, "{mean}");
    }

    #[test]
    fn a_sheet_turned_past_what_a_page_sized_image_holds_is_always_cropped_to() {
        let img = GrayImage::from_pixel(827, 1170, image::Luma([255]));
        let mut params = geometry_only(0.0, 0.0, 0.0);
        params.skew_deg = 5.0;
        let (mut turned, mut cropped) = (0, 0);
        for seed in 0..40 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut extra = ChaCha8Rng::seed_from_u64(300 + seed);
            let (_, a) = scan(&img, &params, &mut rng, &mut extra, 100.0, false);
            if a.skew_deg.abs() > params.fixed_canvas_skew_deg {
                turned += 1;
                cropped += usize::from(a.auto_crop.is_some());
            } else {
                assert!(a.auto_crop.is_none(), "auto_crop is 0 for this scanner");
            }
        }
        assert!(turned > 5 && cropped == turned, "{cropped} of {turned}");
    }
}
