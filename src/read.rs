//! Reading one scanned page: identify it by its QR code, turn it upright, align it on its
//! corner squares, measure every tick box and writing area.
//!
//! [`read_page`] never fails and never panics: every problem becomes a rejected
//! [`PageReading`] whose reason a clerk understands. [`try_read_page`] gives the same result
//! with the failure as a typed [`ReadError`] for callers (and tests) that branch on it.
//! Everything here works on windows of the page (corner crops for the code, windows around
//! the squares and the boxes); the whole page is only touched by a subsampled histogram and,
//! for a rotated scan, by the rotation itself. It holds no state, so rayon workers share a
//! [`ReadContext`] by reference.

use crate::align::{self, AlignError, Transform};
use crate::code::{CodeError, PageCode};
use crate::folder::PrintedSheet;
use crate::layout::Layout;
use crate::marks;
use crate::pages;
use crate::reading::{Flag, FlagKind, PageReading, PageStatus};
use crate::units::{SizeMm, MM_PER_INCH};
use image::GrayImage;
use std::collections::HashMap;

/// Below this share of dark pixels a page without a code is an empty duplex back. A printed
/// pingyi page carries ≥ 0.7 % ink from its code (≈ 0.5 %) and corner squares (≈ 0.23 %)
/// alone, before any table or text; blank paper with show-through and speckle measures
/// < 0.1 %. 0.3 % splits the two with room on both sides.
pub const BLANK_INK_SHARE: f64 = 0.003;
/// Smallest image side worth looking at: an A4 page at 25 dpi. Anything smaller is a thumbnail
/// or a broken file, and the corner squares would be 6 px.
const MIN_SIDE_PX: u32 = 200;
/// The wide corner crop searched for the code when the near one fails, as a share of the
/// upright page: the code sits in the bottom-right 22 % × 14 % of every layout (portrait or
/// landscape), with room for scaling and for scans with a wide border.
const CODE_CROP: (f64, f64) = (0.35, 0.25);
/// The near crop reaches this far (mm) around the code's printed box: more than the largest
/// shift of a page on the scanner glass plus a skew's swing at the corner (the corner squares
/// are searched as far). Half the wide crop's pixels, so it is tried first.
const CODE_REACH_MM: f64 = 12.0;
/// Pixels per QR module the decoder needs to work reliably; above twice this the crop is
/// first tried downsampled (4× fewer pixels).
const QR_MODULE_PX: f64 = 4.0;
/// Millimetres per QR module of the printed code (26 mm box / 37 modules, see layout).
const QR_MODULE_MM: f64 = 0.7;
/// A dpi claimed by the file is trusted when the image size agrees with it within this share;
/// otherwise the image was resized after scanning and its size tells the scale.
const DPI_AGREEMENT: f64 = 0.10;
/// Nominal long side of the paper the forms are printed on (A4), for the code crop's scale
/// before the layout is known.
const A4_LONG_MM: f64 = 297.0;

/// What the reader needs to know about the campaign. Plain data: `Sync`, shared by workers.
#[derive(Debug, Clone, Default)]
pub struct ReadContext {
    /// Every layout printed from the campaign, by hash.
    pub layouts: HashMap<String, Layout>,
    /// Every serial printed, by serial.
    pub printed: HashMap<String, PrintedSheet>,
}

/// An upright, aligned page: for the OCR stage and for crops.
#[derive(Debug, Clone)]
pub struct Aligned {
    pub image: GrayImage,
    pub transform: Transform,
    pub layout_hash: String,
    pub page: u32,
}

/// Why a page could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the image is {width}×{height} pixels: too small to be a scanned page")]
    TooSmall { width: u32, height: u32 },
    #[error("no pingyi code found: foreign page or code damaged")]
    NoCode,
    #[error("{0}")]
    BadCode(CodeError),
    #[error("layout {hash} of form {form} was never printed from this campaign")]
    UnknownLayout { hash: String, form: String },
    #[error("the code says page {page} of form {form}, but layout {hash} has only {pages} page(s): damaged or forged code")]
    NoSuchPage {
        form: String,
        hash: String,
        page: u32,
        pages: usize,
    },
    #[error("{source}")]
    Align {
        code: PageCode,
        rotation: u32,
        #[source]
        source: AlignError,
    },
}

impl ReadError {
    /// The page code, when the page got that far.
    #[must_use]
    pub fn code(&self) -> Option<&PageCode> {
        match self {
            ReadError::Align { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// A page that read (or was blank).
#[derive(Debug)]
pub enum Outcome {
    /// An empty page without a code (duplex back).
    Blank,
    Read(Box<PageReading>, Box<Aligned>),
}

/// Read one page image. Never panics; every failure becomes a rejected reading with a reason.
#[must_use]
pub fn read_page(
    image: GrayImage,
    dpi: Option<f32>,
    ctx: &ReadContext,
) -> (PageReading, Option<Aligned>) {
    match try_read_page(image, dpi, ctx) {
        Ok(Outcome::Blank) => (PageReading::blank(), None),
        Ok(Outcome::Read(r, a)) => (*r, Some(*a)),
        Err(e) => {
            let mut r = PageReading::rejected(e.to_string());
            if let ReadError::Align { code, rotation, .. } = &e {
                r.code = Some(code.clone());
                r.rotation = *rotation;
            }
            (r, None)
        }
    }
}

/// Read one page image, failures typed.
///
/// # Errors
/// [`ReadError`]: too small, no code, not our code, unknown layout or page, not alignable.
pub fn try_read_page(
    image: GrayImage,
    dpi: Option<f32>,
    ctx: &ReadContext,
) -> Result<Outcome, ReadError> {
    let (w, h) = image.dimensions();
    if w.min(h) < MIN_SIDE_PX {
        return Err(ReadError::TooSmall {
            width: w,
            height: h,
        });
    }
    let ink = marks::page_ink(&image);
    if ink.dark_share < BLANK_INK_SHARE {
        return Ok(Outcome::Blank);
    }
    let found = identify(&image)?;
    let code = found.code;
    let layout = ctx
        .layouts
        .get(&code.layout_hash)
        .ok_or_else(|| ReadError::UnknownLayout {
            hash: code.layout_hash.clone(),
            form: code.form.clone(),
        })?;
    let page = layout
        .page(code.page)
        .ok_or_else(|| ReadError::NoSuchPage {
            form: code.form.clone(),
            hash: code.layout_hash.clone(),
            page: code.page,
            pages: layout.pages.len(),
        })?;
    let upright = turn_upright(image, found.rotation);
    let centre = upright_point(found.centre, w, h, found.rotation);
    let scale = expected_scale(&upright, layout.size, dpi);
    let al = align::align(&upright, page, layout.size, scale, Some(centre)).map_err(|source| {
        ReadError::Align {
            code: code.clone(),
            rotation: found.rotation,
            source,
        }
    })?;
    let t = al.transform;

    let th = layout.thresholds;
    let read = marks::read_cells(&upright, page, &t, marks::Levels::of_page(&ink), th);
    let (questions, mut flags) = marks::decide(layout, page, &read.cells, &read.streaked, th);
    flags.extend(marks::streak_note(&read));
    let cells = read.cells;
    let (writing, wflags) = marks::read_writing(&upright, page, &t, ink.level);
    flags.extend(wflags);
    if let Some(f) = serial_flag(&code, ctx) {
        flags.push(f);
    }
    let fitted_dpi = t.px_per_mm(crate::units::PointMm::new(
        layout.size.w / 2.0,
        layout.size.h / 2.0,
    )) * MM_PER_INCH;
    let reading = PageReading {
        status: PageStatus::Read,
        reason: None,
        code: Some(code.clone()),
        rotation: found.rotation,
        transform: Some(t.matrix()),
        residual_mm: Some(al.residual_mm),
        dpi: Some(fitted_dpi as f32),
        cells,
        questions,
        names: Vec::new(),
        writing,
        flags,
    };
    let aligned = Aligned {
        image: upright,
        transform: t,
        layout_hash: code.layout_hash.clone(),
        page: code.page,
    };
    Ok(Outcome::Read(Box::new(reading), Box::new(aligned)))
}

/// A flag when the serial was never printed, or printed for another layout.
fn serial_flag(code: &PageCode, ctx: &ReadContext) -> Option<Flag> {
    let detail = match ctx.printed.get(&code.serial) {
        None => format!(
            "序号 {} 不在本次活动的打印记录中:可能是复印件或外来表格",
            code.serial
        ),
        Some(p) if p.layout_hash != code.layout_hash => {
            format!(
                "序号 {} 印的是版式 {},这一页却带着版式 {}:编码被复印或伪造",
                code.serial, p.layout_hash, code.layout_hash
            )
        }
        Some(_) => return None,
    };
    Some(Flag {
        kind: FlagKind::UnknownSerial,
        target: None,
        detail,
        urgency: 0.0,
    })
}

/// Expected pixels per millimetre: the file's dpi when the image size agrees with it, else
/// the image size against the paper size (the scan was resized).
fn expected_scale(img: &GrayImage, paper: SizeMm, dpi: Option<f32>) -> f64 {
    let from_size = (f64::from(img.width()) / paper.w + f64::from(img.height()) / paper.h) / 2.0;
    match dpi.map(|d| f64::from(d) / MM_PER_INCH) {
        Some(s) if s.is_finite() && s > 0.0 && (s / from_size - 1.0).abs() <= DPI_AGREEMENT => s,
        _ => from_size,
    }
}

/// Undo a clockwise rotation of `rotation` degrees (an upright scan is kept, not copied; a
/// turned one is copied into a pooled buffer and its own buffer handed back).
fn turn_upright(img: GrayImage, rotation: u32) -> GrayImage {
    let turned = match rotation {
        90 => turn(&img, Turn::Anticlockwise),
        180 => turn(&img, Turn::Half),
        270 => turn(&img, Turn::Clockwise),
        _ => return img,
    };
    pages::pool::give(img.into_raw());
    turned
}

/// A quarter or half turn of a page image.
#[derive(Clone, Copy)]
enum Turn {
    Clockwise,
    Half,
    Anticlockwise,
}

/// `img` turned, into a buffer from the page pool. Quarter turns go in 64-pixel tiles so
/// reads and writes both stay in cache (a page is 9 MB; column-wise reads of it are not).
fn turn(img: &GrayImage, how: Turn) -> GrayImage {
    /// Tile side: 64 rows of 64 bytes on each side fit in L1 with room to spare.
    const TILE: usize = 64;
    let (w, h) = (img.width() as usize, img.height() as usize);
    let src = img.as_raw();
    let mut out = pages::pool::take(w * h);
    let (ow, oh) = match how {
        Turn::Half => {
            for (o, &p) in out.iter_mut().zip(src.iter().rev()) {
                *o = p;
            }
            (w, h)
        }
        Turn::Clockwise | Turn::Anticlockwise => {
            // The output is h wide and w tall.
            for y0 in (0..w).step_by(TILE) {
                for x0 in (0..h).step_by(TILE) {
                    for y in y0..(y0 + TILE).min(w) {
                        let row = &mut out[y * h..(y + 1) * h];
                        for (x, o) in row.iter_mut().enumerate().take((x0 + TILE).min(h)).skip(x0) {
                            *o = match how {
                                Turn::Clockwise => src[(h - 1 - x) * w + y],
                                _ => src[x * w + (w - 1 - y)],
                            };
                        }
                    }
                }
            }
            (h, w)
        }
    };
    match GrayImage::from_raw(ow as u32, oh as u32, out) {
        Some(turned) => turned,
        // Unreachable (the buffer is sized above); the library's copy is the safe answer.
        None => match how {
            Turn::Clockwise => image::imageops::rotate90(img),
            Turn::Half => image::imageops::rotate180(img),
            Turn::Anticlockwise => image::imageops::rotate270(img),
        },
    }
}

/// Where a point of the scan (w × h) lands once the scan is turned upright.
fn upright_point(p: (f64, f64), w: u32, h: u32, rotation: u32) -> (f64, f64) {
    let (w, h) = (f64::from(w), f64::from(h));
    match rotation {
        90 => (p.1, w - p.0),
        180 => (w - p.0, h - p.1),
        270 => (h - p.1, p.0),
        _ => p,
    }
}

/// The page code found in a scan.
struct Found {
    code: PageCode,
    /// Clockwise rotation of the scan relative to the upright page.
    rotation: u32,
    /// Centre of the code in the scan, pixels.
    centre: (f64, f64),
}

/// How a crop is prepared for the QR decoder.
#[derive(Clone, Copy, PartialEq)]
enum Prep {
    /// Box-averaged by this factor (1 = as scanned).
    Scaled(u32),
    /// Median 3×3 then Otsu: for 150 dpi and noisy scans.
    Cleaned,
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
/// printed place, downsampled (nearly every page ends there), then over the wide corner at
/// full resolution and cleaned of noise.
fn identify(img: &GrayImage) -> Result<Found, ReadError> {
    let (w, h) = img.dimensions();
    let s = f64::from(w.max(h)) / A4_LONG_MM;
    let factor = ((s * QR_MODULE_MM / QR_MODULE_PX).floor() as u32).max(1);
    let mut tries = vec![
        (Reach::Near, Prep::Scaled(factor)),
        (Reach::Wide, Prep::Scaled(factor)),
    ];
    if factor > 1 {
        tries.push((Reach::Wide, Prep::Scaled(1)));
    }
    tries.push((Reach::Wide, Prep::Cleaned));
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
    Err(foreign.map_or(ReadError::NoCode, ReadError::BadCode))
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
        Prep::Scaled(f) => {
            let (bw, bh) = (cw / f, ch / f);
            let (raw, iw) = (img.as_raw(), img.width() as usize);
            let (fu, x0u, y0u) = (f as usize, x0 as usize, y0 as usize);
            let mut buf = Vec::with_capacity((bw * bh) as usize);
            for y in 0..bh as usize {
                for x in 0..bw as usize {
                    let mut sum = 0u32;
                    for dy in 0..fu {
                        let row = (y0u + y * fu + dy) * iw + x0u + x * fu;
                        sum += raw[row..row + fu]
                            .iter()
                            .map(|&v| u32::from(v))
                            .sum::<u32>();
                    }
                    buf.push((sum / (f * f)) as u8);
                }
            }
            (f, buf, bw, bh)
        }
        Prep::Cleaned => {
            let crop = image::imageops::crop_imm(img, x0, y0, cw, ch).to_image();
            let med = imageproc::filter::median_filter(&crop, 1, 1);
            let mut hist = [0u32; 256];
            for p in med.pixels() {
                hist[p.0[0] as usize] += 1;
            }
            let level = marks::otsu(&hist).level;
            let buf = med
                .pixels()
                .map(|p| if p.0[0] <= level { 0 } else { 255 })
                .collect();
            (1, buf, cw, ch)
        }
    };
    if bw == 0 || bh == 0 {
        return Vec::new();
    }
    let (bwu, bhu) = (bw as usize, bh as usize);
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(bwu, bhu, |x, y| buf[y * bwu + x]);
    let mut out = Vec::new();
    for grid in prepared.detect_grids() {
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
        let k = f64::from(f);
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

    #[test]
    fn turning_matches_the_image_crate() {
        let img = GrayImage::from_fn(150, 97, |x, y| image::Luma([(x * 7 + y * 13) as u8]));
        assert_eq!(turn(&img, Turn::Clockwise), image::imageops::rotate90(&img));
        assert_eq!(turn(&img, Turn::Half), image::imageops::rotate180(&img));
        assert_eq!(
            turn(&img, Turn::Anticlockwise),
            image::imageops::rotate270(&img)
        );
        assert_eq!(turn_upright(img.clone(), 0), img);
    }

    #[test]
    fn points_follow_the_page_when_it_is_turned_upright() {
        // A 4×2 scan turned 90° clockwise from a 2×4 upright page: the upright top-left
        // corner (0,0) sits at the scan's top-right (4,0).
        assert_eq!(upright_point((4.0, 0.0), 4, 2, 90), (0.0, 0.0));
        assert_eq!(upright_point((4.0, 2.0), 4, 2, 180), (0.0, 0.0));
        assert_eq!(upright_point((0.0, 2.0), 4, 2, 270), (0.0, 0.0));
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

    #[test]
    fn a_resized_scan_is_measured_by_its_size_not_its_claimed_dpi() {
        let img = GrayImage::new(1240, 1754); // A4 at 150 dpi
        let a4 = SizeMm { w: 210.0, h: 297.0 };
        assert!((expected_scale(&img, a4, Some(300.0)) * MM_PER_INCH - 150.0).abs() < 1.0);
        assert!((expected_scale(&img, a4, Some(152.0)) * MM_PER_INCH - 152.0).abs() < 1e-3);
    }
}
