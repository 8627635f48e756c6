//! Identifying a page: find and decode its QR code ([`PageCode`]) in the corner where each
//! quarter turn of the sheet would put it, which also tells how the sheet was turned.

use super::levels;
use super::marks::streaks;
use super::ReadError;
use crate::code::PageCode;
use image::GrayImage;

/// The wide corner crop searched for the code when the near one fails, as a share of the
/// scan: the code sits in the bottom-right 22 % × 14 % of a portrait layout and 16 % × 20 % of
/// a landscape one; a scanner's auto-size crop can add a fifth of the page's height in border
/// below it, and a 5° skew swings the corner by another 2–3 %.
const CODE_CROP: (f64, f64) = (0.4, 0.4);
/// The near crop reaches this far (mm) around the code's printed box: more than the largest
/// shift of a page on the scanner glass plus a skew's swing at the corner (the corner squares
/// are searched as far). Half the wide crop's pixels, so it is tried first.
const CODE_REACH_MM: f64 = 12.0;
/// Pixels per QR module the decoder needs to work reliably; above twice this the crop is
/// first tried downsampled (4× fewer pixels).
const QR_MODULE_PX: f64 = 4.0;
/// Millimetres per QR module of the printed code (26 mm box / 37 modules, see layout).
const QR_MODULE_MM: f64 = 0.7;
/// Below this many pixels per module (≈ 218 dpi) a crop the other ways could not decode is
/// tried once more enlarged twice.
const ENLARGE_BELOW_PX: f64 = 6.0;
/// Nominal long side of the paper the forms are printed on (A4), for the code crop's scale
/// before the layout is known.
const A4_LONG_MM: f64 = 297.0;

/// The page code found in a scan.
pub struct Found {
    pub code: PageCode,
    /// Clockwise rotation of the scan relative to the upright page.
    pub rotation: u32,
    /// Centre of the code in the scan, pixels.
    pub centre: (f64, f64),
}

/// How a crop is prepared for the QR decoder.
#[derive(Clone, Copy, PartialEq)]
enum Prep {
    /// Box-averaged by this factor, then split into black and white at the crop's Otsu
    /// level: a scanner lights a code-sized crop evenly, and one level keeps the code's
    /// 4-pixel modules whole where the decoder's own moving-window threshold (an eighth of
    /// the crop wide) breaks them on a small crop: it found 6 % more codes in the near crop.
    Global(u32),
    /// Box-averaged by this factor (1 = as scanned), thresholded by the decoder's moving
    /// window: for light that changes across the crop.
    Adaptive(u32),
    /// Median 3×3 then Otsu: for 150 dpi and noisy scans.
    Cleaned,
    /// Enlarged twice (bilinear) then Otsu: at 150 dpi a module is 4 pixels, and a code
    /// turned a few degrees loses its smallest modules to the decoder's sampling grid.
    Enlarged,
    /// Otsu, then the dark worn away by a pixel (a dark pixel stays only when its four
    /// neighbours are dark too), then a 3 × 3 median against the jags: a 1-bit
    /// scanner's "text" threshold cuts high and a blurred code comes out fattened until a
    /// lone white module is a pixel or two wide, too thin for the decoder's finder search and
    /// sampling grid.
    Thinned,
}

/// How far from the corner the code is looked for.
#[derive(Clone, Copy, PartialEq)]
enum Reach {
    /// Around where the layout prints it, give or take [`CODE_REACH_MM`].
    Near,
    /// The page's whole bottom-right corner ([`CODE_CROP`]).
    Wide,
}

/// Decode the page code from the corner where each rotation would put it: first near its
/// printed place, downsampled at one threshold (nearly every page ends there), then over the
/// wide corner, then at full resolution with a moving threshold, then cleaned of noise, then
/// thinned (a 1-bit scan's fattened code); last, with any scanner streak through it painted
/// over.
pub fn identify(img: &GrayImage) -> Result<Found, ReadError> {
    let (w, h) = img.dimensions();
    let s = f64::from(w.max(h)) / A4_LONG_MM;
    let foreign = match decode(img, s) {
        Ok(found) => return Ok(found),
        Err(foreign) => foreign,
    };
    // A streak down the whole page breaks every module it crosses: more than the code's error
    // correction mends when it runs through a finder pattern or along a column of modules.
    let streaks = streaks::find(img, s);
    if !streaks.is_empty() {
        let mut wiped = img.clone();
        streaks::wipe(&mut wiped, &streaks);
        if let Ok(found) = decode(&wiped, s) {
            return Ok(found);
        }
    }
    Err(foreign.map_or(ReadError::NoCode, ReadError::BadCode))
}

/// Every way of looking for the code in turn (see [`identify`]); `s` is the scan's pixels per
/// millimetre. Fails with the last foreign code seen, if any.
fn decode(img: &GrayImage, s: f64) -> Result<Found, Option<crate::code::CodeError>> {
    let (w, h) = img.dimensions();
    let factor = ((s * QR_MODULE_MM / QR_MODULE_PX).floor() as u32).max(1);
    let tries = [
        (Reach::Near, Prep::Global(factor)),
        (Reach::Wide, Prep::Global(factor)),
        (Reach::Wide, Prep::Adaptive(1)),
        (Reach::Wide, Prep::Cleaned),
        (Reach::Wide, Prep::Thinned),
    ];
    // Enlarging helps only where modules are small; elsewhere it costs four times the pixels.
    let small = s * QR_MODULE_MM < ENLARGE_BELOW_PX;
    let tries = tries
        .into_iter()
        .chain(small.then_some((Reach::Wide, Prep::Enlarged)));
    let mut foreign = None;
    for (reach, prep) in tries {
        // Upright first, then upside down (the usual feeder mistakes), then sideways.
        for hyp in [0u32, 180, 90, 270] {
            let (x0, y0, cw, ch) = match reach {
                Reach::Near => near_crop(w, h, s, hyp),
                Reach::Wide => corner_crop(w, h, hyp),
            };
            for (text, centre, rotation) in decode_crop(img, x0, y0, cw, ch, prep) {
                match PageCode::parse(&text) {
                    Ok(code) => {
                        return Ok(Found {
                            code,
                            rotation,
                            centre,
                        })
                    }
                    Err(e) => foreign = Some(e),
                }
            }
        }
    }
    Err(foreign)
}

/// The crop (x, y, w, h) holding the upright page's bottom-right corner, if the scan is the
/// upright page turned clockwise by `rotation`.
fn corner_crop(w: u32, h: u32, rotation: u32) -> (u32, u32, u32, u32) {
    let (fw, fh) = CODE_CROP;
    let (wf, hf) = (f64::from(w), f64::from(h));
    // Crop size in the scan: page width runs along the scan's height when turned sideways.
    let (cw, ch) = if rotation.is_multiple_of(180) {
        (wf * fw, hf * fh)
    } else {
        (wf * fh, hf * fw)
    };
    let (cw, ch) = (cw.round() as u32, ch.round() as u32);
    let (right, bottom) = (w.saturating_sub(cw), h.saturating_sub(ch));
    match rotation {
        0 => (right, bottom, cw, ch),
        90 => (0, bottom, cw, ch),
        180 => (0, 0, cw, ch),
        _ => (right, 0, cw, ch),
    }
}

/// The crop (x, y, w, h) around where the code is printed, if the scan (`s` pixels per mm) is
/// the upright page turned clockwise by `rotation`.
fn near_crop(w: u32, h: u32, s: f64, rotation: u32) -> (u32, u32, u32, u32) {
    use crate::layout::{CODE_FROM_BOTTOM, CODE_FROM_RIGHT, CODE_SIZE};
    let px = |mm: f64| (mm * s).round().max(0.0) as u32;
    // Distances from the upright page's right and bottom edges, [near, far).
    let right = (
        px(CODE_FROM_RIGHT - CODE_REACH_MM),
        px(CODE_FROM_RIGHT + CODE_SIZE + CODE_REACH_MM),
    );
    let bottom = (
        px(CODE_FROM_BOTTOM - CODE_REACH_MM),
        px(CODE_FROM_BOTTOM + CODE_SIZE + CODE_REACH_MM),
    );
    // Where those edges lie in the scan: a clockwise turn moves the upright right edge to
    // the scan's bottom (90°), left (180°) or top (270°).
    let from_far =
        |size: u32, (near, far): (u32, u32)| (size.saturating_sub(far), size.saturating_sub(near));
    let ((x0, x1), (y0, y1)) = match rotation {
        0 => (from_far(w, right), from_far(h, bottom)),
        90 => (bottom, from_far(h, right)),
        180 => (right, bottom),
        _ => (from_far(w, bottom), right),
    };
    let (x1, y1) = (x1.min(w), y1.min(h));
    (x0.min(x1), y0.min(y1), x1 - x0.min(x1), y1 - y0.min(y1))
}

/// Every decodable QR code in a crop: (text, centre in scan pixels, clockwise rotation).
fn decode_crop(
    img: &GrayImage,
    x0: u32,
    y0: u32,
    cw: u32,
    ch: u32,
    prep: Prep,
) -> Vec<(String, (f64, f64), u32)> {
    let (f, buf, bw, bh) = match prep {
        Prep::Global(f) | Prep::Adaptive(f) => {
            let (bw, bh) = (cw / f, ch / f);
            let (raw, iw) = (img.as_raw(), img.width() as usize);
            let (fu, x0u, y0u) = (f as usize, x0 as usize, y0 as usize);
            let mut buf = Vec::with_capacity((bw * bh) as usize);
            // Row by row: the sums of each output row's f source rows, in column blocks of f
            // (contiguous reads; the divide becomes a multiply by the block's reciprocal).
            let mut sums = vec![0u32; bw as usize];
            let recip = 65536u32.div_ceil(f * f);
            for y in 0..bh as usize {
                sums.fill(0);
                for dy in 0..fu {
                    let at = (y0u + y * fu + dy) * iw + x0u;
                    let line = &raw[at..at + bw as usize * fu];
                    for (s, px) in sums.iter_mut().zip(line.chunks_exact(fu)) {
                        *s += px.iter().map(|&v| u32::from(v)).sum::<u32>();
                    }
                }
                buf.extend(sums.iter().map(|&s| ((s * recip) >> 16) as u8));
            }
            (f64::from(f), buf, bw, bh)
        }
        Prep::Cleaned => {
            let crop = image::imageops::crop_imm(img, x0, y0, cw, ch).to_image();
            let med = imageproc::filter::median_filter(&crop, 1, 1);
            (1.0, med.into_raw(), cw, ch)
        }
        Prep::Thinned => {
            let crop = image::imageops::crop_imm(img, x0, y0, cw, ch).to_image();
            let mut hist = [0u32; 256];
            for &v in crop.as_raw() {
                hist[usize::from(v)] += 1;
            }
            let level = levels::otsu(&hist).level;
            let dark: Vec<bool> = crop.as_raw().iter().map(|&v| v <= level).collect();
            let dark = thin(&dark, cw as usize, ch as usize);
            // Then the jags the threshold left on every edge smoothed, as `Cleaned` does.
            let bits = GrayImage::from_fn(cw, ch, |x, y| {
                image::Luma([if dark[(y * cw + x) as usize] { 0 } else { 255 }])
            });
            let med = imageproc::filter::median_filter(&bits, 1, 1);
            (1.0, med.into_raw(), cw, ch)
        }
        Prep::Enlarged => {
            let crop = image::imageops::crop_imm(img, x0, y0, cw, ch).to_image();
            let big = image::imageops::resize(
                &crop,
                cw * 2,
                ch * 2,
                image::imageops::FilterType::Triangle,
            );
            (0.5, big.into_raw(), cw * 2, ch * 2)
        }
    };
    if bw == 0 || bh == 0 {
        return Vec::new();
    }
    let (bwu, bhu) = (bw as usize, bh as usize);
    let mut prepared = if let Prep::Adaptive(_) = prep {
        rqrr::PreparedImage::prepare_from_greyscale(bwu, bhu, |x, y| buf[y * bwu + x])
    } else {
        let mut hist = [0u32; 256];
        for &v in &buf {
            hist[usize::from(v)] += 1;
        }
        let level = levels::otsu(&hist).level;
        rqrr::PreparedImage::prepare_from_bitmap(bwu, bhu, |x, y| buf[y * bwu + x] <= level)
    };
    // Most codes decode on the perspective their finder patterns give; refining it (81
    // fitness passes over the code) is only worth its cost when that fails. A decode is as
    // sure either way: the code's own error correction accepts or refuses it.
    let mut copy = prepared.clone();
    let coarse = copy.detect_grids_coarse();
    let found = !coarse.is_empty();
    let out = decoded(coarse, (x0, y0), f);
    if !out.is_empty() || !found {
        return out;
    }
    decoded(prepared.detect_grids(), (x0, y0), f)
}

/// `dark` (a `w × h` bitmap, row by row) worn away by one pixel: a pixel stays dark only
/// when its four neighbours are dark too (the image's edge counts as light).
fn thin(dark: &[bool], w: usize, h: usize) -> Vec<bool> {
    let at = |x: usize, y: usize| dark[y * w + x];
    (0..w * h)
        .map(|k| {
            let (x, y) = (k % w, k / w);
            at(x, y)
                && x > 0
                && y > 0
                && x + 1 < w
                && y + 1 < h
                && at(x - 1, y)
                && at(x + 1, y)
                && at(x, y - 1)
                && at(x, y + 1)
        })
        .collect()
}

/// The texts of the grids that decode: (text, centre in scan pixels, clockwise rotation),
/// for grids found in a crop at `(x0, y0)` downsampled by `f`.
fn decoded<G: rqrr::BitGrid>(
    grids: Vec<rqrr::Grid<G>>,
    (x0, y0): (u32, u32),
    k: f64,
) -> Vec<(String, (f64, f64), u32)> {
    let mut out = Vec::new();
    for grid in grids {
        let Ok((_, text)) = grid.decode() else {
            continue;
        };
        let b = grid.bounds;
        let (dx, dy) = (f64::from(b[1].x - b[0].x), f64::from(b[1].y - b[0].y));
        // The code's top edge points right on an upright page; where it points now is the turn.
        let rotation = if dx.abs() >= dy.abs() {
            if dx >= 0.0 {
                0
            } else {
                180
            }
        } else if dy >= 0.0 {
            90
        } else {
            270
        };
        let cx = b.iter().map(|p| f64::from(p.x)).sum::<f64>() / 4.0;
        let cy = b.iter().map(|p| f64::from(p.y)).sum::<f64>() / 4.0;
        out.push((
            text,
            (
                f64::from(x0) + (cx + 0.5) * k,
                f64::from(y0) + (cy + 0.5) * k,
            ),
            rotation,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A code from a 150-dpi scan turned 3.7° (4 pixels a module, from a JPEG; its corner as the wide look crops it): no threshold of the
    /// crop as scanned decodes it; enlarged twice it does.
    #[test]
    fn a_small_turned_code_decodes_enlarged() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/codes/turned-150dpi.png"
        );
        let img = image::open(path).unwrap().to_luma8();
        let (w, h) = img.dimensions();
        for prep in [Prep::Global(1), Prep::Adaptive(1), Prep::Cleaned] {
            assert!(decode_crop(&img, 0, 0, w, h, prep).is_empty());
        }
        let found = decode_crop(&img, 0, 0, w, h, Prep::Enlarged);
        assert_eq!(found.len(), 1);
        assert!(PageCode::parse(&found[0].0).is_ok());
        assert_eq!(found[0].2, 0);
    }

    /// Codes from simulated 200-dpi 1-bit scans (office, and hard's heavier blur) whose
    /// threshold fattened every module until a lone white one is a pixel or two wide, or
    /// closed: only the thinned look decodes them.
    #[test]
    fn a_fattened_one_bit_code_decodes_thinned() {
        for name in ["fattened-1bit-200dpi.png", "fattened-1bit-200dpi-hard.png"] {
            let path = format!("{}/fixtures/codes/{name}", env!("CARGO_MANIFEST_DIR"));
            let img = image::open(path).unwrap().to_luma8();
            let (w, h) = img.dimensions();
            for prep in [
                Prep::Global(1),
                Prep::Adaptive(1),
                Prep::Cleaned,
                Prep::Enlarged,
            ] {
                assert!(decode_crop(&img, 0, 0, w, h, prep).is_empty(), "{name}");
            }
            let found = decode_crop(&img, 0, 0, w, h, Prep::Thinned);
            assert_eq!(found.len(), 1, "{name}");
            assert!(PageCode::parse(&found[0].0).is_ok());
        }
    }

    #[test]
    fn thinning_wears_one_pixel_off_every_side() {
        // A 5 × 4 dark block in a 7 × 6 bitmap keeps its 3 × 2 core.
        let (w, h) = (7, 6);
        let dark: Vec<bool> = (0..w * h)
            .map(|k| (1..6).contains(&(k % w)) && (1..5).contains(&(k / w)))
            .collect();
        let thin = thin(&dark, w, h);
        let kept: Vec<(usize, usize)> = (0..w * h)
            .filter(|&k| thin[k])
            .map(|k| (k % w, k / w))
            .collect();
        assert_eq!(kept, [(2, 2), (3, 2), (4, 2), (2, 3), (3, 3), (4, 3)]);
    }

    #[test]
    fn corner_crops_stay_inside_the_image() {
        for r in [0, 90, 180, 270] {
            let (x, y, w, h) = corner_crop(2480, 3508, r);
            assert!(x + w <= 2480 && y + h <= 3508);
            let (x, y, w, h) = near_crop(2480, 3508, 11.8, r);
            assert!(x + w <= 2480 && y + h <= 3508, "{r}: {x} {y} {w} {h}");
            // Tiny images give empty crops, not wrapped-around ones.
            let (x, y, w, h) = near_crop(50, 60, 11.8, r);
            assert!(x + w <= 50 && y + h <= 60);
        }
    }

    #[test]
    fn the_near_crop_holds_the_printed_code_in_every_orientation() {
        use crate::layout::{CODE_FROM_BOTTOM, CODE_FROM_RIGHT, CODE_SIZE};
        // A4 portrait at 10 px/mm: the code's box, upright, in pixels.
        let (pw, ph, s) = (2100u32, 2970u32, 10.0);
        let x0 = f64::from(pw) - (CODE_FROM_RIGHT + CODE_SIZE) * s;
        let y0 = f64::from(ph) - (CODE_FROM_BOTTOM + CODE_SIZE) * s;
        let corners = [(x0, y0), (x0 + CODE_SIZE * s, y0 + CODE_SIZE * s)];
        for r in [0, 90, 180, 270] {
            // The scan is the upright page turned clockwise by r.
            let (sw, sh) = if r % 180 == 0 { (pw, ph) } else { (ph, pw) };
            let (cx, cy, cw, ch) = near_crop(sw, sh, s, r);
            for &(ux, uy) in &corners {
                let (fx, fy) = (f64::from(pw), f64::from(ph));
                let (x, y) = match r {
                    90 => (fy - uy, ux),
                    180 => (fx - ux, fy - uy),
                    270 => (uy, fx - ux),
                    _ => (ux, uy),
                };
                assert!(
                    x >= f64::from(cx) + 100.0 && x <= f64::from(cx + cw) - 100.0,
                    "{r}°: x {x} not well inside {cx}..{}",
                    cx + cw
                );
                assert!(
                    y >= f64::from(cy) + 100.0 && y <= f64::from(cy + ch) - 100.0,
                    "{r}°: y {y} not well inside {cy}..{}",
                    cy + ch
                );
            }
            // About half the wide crop's area.
            let (_, _, ww, wh) = corner_crop(sw, sh, r);
            assert!(u64::from(cw) * u64::from(ch) * 2 < u64::from(ww) * u64::from(wh) * 11 / 10);
        }
    }
}
