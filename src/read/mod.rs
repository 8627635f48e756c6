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

pub mod align;
pub mod identify;
pub mod levels;
pub mod marks;
pub mod orient;
pub mod outcome;
pub mod px;
pub mod questions;
pub mod transform;
pub mod writing;

use crate::code::{CodeError, PageCode};
use crate::folder::PrintedSheet;
use crate::layout::Layout;
use crate::units::{SizeMm, MM_PER_INCH};
use align::AlignError;
use identify::identify;
use image::GrayImage;
use orient::{turn_upright, upright_point};
use outcome::{Flag, FlagKind, PageReading, PageStatus};
use std::collections::HashMap;
use transform::Transform;

/// Below this share of dark pixels a page without a code is an empty duplex back. A printed
/// pingyi page carries ≥ 0.7 % ink from its code (≈ 0.5 %) and corner squares (≈ 0.23 %)
/// alone, before any table or text; blank paper with show-through and speckle measures
/// < 0.1 %. 0.3 % splits the two with room on both sides.
pub const BLANK_INK_SHARE: f64 = 0.003;
/// Smallest image side worth looking at: an A4 page at 25 dpi. Anything smaller is a thumbnail
/// or a broken file, and the corner squares would be 6 px.
const MIN_SIDE_PX: u32 = 200;
/// A dpi claimed by the file is trusted when the image size agrees with it: no more than this
/// share smaller than the paper at that dpi…
const DPI_SMALLER: f64 = 0.10;
/// …and no more than this share larger: an auto-cropping scanner keeps the whole turned sheet
/// and a border of its background (A4 turned 5° with 4 mm either side is 16 % taller, 10°
/// and no border 23 %). Beyond either, the image was resized after scanning and its size
/// tells the scale.
const DPI_LARGER: f64 = 0.25;

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
    let ink = levels::page_ink(&image);
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
    let contrast = ink.light_mean - ink.dark_mean;
    let al = align::align(&upright, page, layout.size, scale, Some(centre), contrast).map_err(
        |source| ReadError::Align {
            code: code.clone(),
            rotation: found.rotation,
            source,
        },
    )?;
    let t = al.transform;

    let th = layout.thresholds;
    let read = marks::read_cells(&upright, page, &t, &ink, th);
    let (questions, mut flags) = questions::decide(layout, page, &read.cells, &read.streaked, th);
    flags.extend(marks::streak_note(&read));
    let cells = read.cells;
    let (writing, wflags) = writing::read_writing(&upright, page, &t, ink.level);
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
        Some(s)
            if s.is_finite()
                && s > 0.0
                && from_size / s >= 1.0 - DPI_SMALLER
                && from_size / s <= 1.0 + DPI_LARGER =>
        {
            s
        }
        _ => from_size,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resized_scan_is_measured_by_its_size_not_its_claimed_dpi() {
        let img = GrayImage::new(1240, 1754); // A4 at 150 dpi
        let a4 = SizeMm { w: 210.0, h: 297.0 };
        assert!((expected_scale(&img, a4, Some(300.0)) * MM_PER_INCH - 150.0).abs() < 1.0);
        assert!((expected_scale(&img, a4, Some(152.0)) * MM_PER_INCH - 152.0).abs() < 1e-3);
        // An auto-cropped scan of a sheet turned 5°, with a dark border: larger than A4 by 15 %,
        // still at its 150 dpi.
        let turned = GrayImage::new(1439, 1893);
        assert!((expected_scale(&turned, a4, Some(150.0)) * MM_PER_INCH - 150.0).abs() < 1e-3);
        // Resized up to twice its size while claiming 150 dpi: the size tells.
        let doubled = GrayImage::new(2480, 3508);
        assert!((expected_scale(&doubled, a4, Some(150.0)) * MM_PER_INCH - 300.0).abs() < 1.0);
    }
}
