//! Page images for review: decoded on demand from the batch's own input files (never from a
//! path a request names), turned upright as the reader saw them, cropped around a flag's
//! boxes, or drawn whole with every cell outlined.

use crate::pages::{self, InputFile, PageError};
use image::imageops::{self, FilterType};
use image::{GrayImage, ImageFormat, Rgb, RgbImage};
use imageproc::drawing::draw_hollow_rect_mut;
use imageproc::rect::Rect;
use std::collections::VecDeque;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Decoded pages kept in memory: a 300-dpi A4 gray page is ~8.7 MB, so six stay under 60 MB
/// while covering the few pages a clerk moves between.
const CACHE_PAGES: usize = 6;

/// Widest image sent for a whole page: enough to read a tick at a laptop's screen width.
const PAGE_WIDTH_PX: u32 = 1400;

/// Widest row crop sent: a 300-dpi A4 row is ~2300 px; halving keeps a 5 mm box ~30 px wide.
const CROP_WIDTH_PX: u32 = 1600;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{path} is not a page file pingyi can open")]
    NotAnInput { path: PathBuf },
    #[error(transparent)]
    Page(#[from] PageError),
    #[error("cannot encode the image: {0}")]
    Encode(#[from] image::ImageError),
}

/// A rectangle of the upright page in pixels (x, y, w, h): where a crop was cut, so the page
/// can place the boxes on it.
pub type PxRect = [u32; 4];

/// A recently decoded page, keyed by file, 0-based index and the rotation undone.
struct Cached {
    path: PathBuf,
    index: u32,
    rotation: u32,
    image: Arc<GrayImage>,
}

#[derive(Default)]
pub struct PageCache {
    pages: Mutex<VecDeque<Cached>>,
}

impl PageCache {
    /// Page `index` of `path`, turned upright by undoing `rotation` (clockwise degrees).
    ///
    /// # Errors
    /// The file is not a supported input, or it cannot be decoded.
    pub fn page(
        &self,
        path: &Path,
        index: u32,
        rotation: u32,
    ) -> Result<Arc<GrayImage>, ImageError> {
        if let Some(hit) = self.lookup(path, index, rotation) {
            return Ok(hit);
        }
        let file = InputFile::from_path(path).ok_or_else(|| ImageError::NotAnInput {
            path: path.to_path_buf(),
        })?;
        let decoded = pages::load_page(&file, index as usize)?;
        let image = Arc::new(upright(decoded.image, rotation));
        if let Ok(mut pages) = self.pages.lock() {
            if pages.len() >= CACHE_PAGES {
                pages.pop_front();
            }
            pages.push_back(Cached {
                path: path.to_path_buf(),
                index,
                rotation,
                image: Arc::clone(&image),
            });
        }
        Ok(image)
    }

    fn lookup(&self, path: &Path, index: u32, rotation: u32) -> Option<Arc<GrayImage>> {
        let pages = self.pages.lock().ok()?;
        pages
            .iter()
            .find(|c| c.path == path && c.index == index && c.rotation == rotation)
            .map(|c| Arc::clone(&c.image))
    }
}

/// Undo a clockwise scan rotation so pixel boxes (measured on the upright page) line up.
fn upright(image: GrayImage, rotation: u32) -> GrayImage {
    match rotation % 360 {
        90 => imageops::rotate270(&image),
        180 => imageops::rotate180(&image),
        270 => imageops::rotate90(&image),
        _ => image,
    }
}

/// The band of the page holding `boxes` (a question's cells, a name), across the page's
/// width so the printed row label and name show, and where it was cut.
#[must_use]
pub fn row_crop(page: &GrayImage, boxes: &[[u32; 4]]) -> (GrayImage, PxRect) {
    let (w, h) = page.dimensions();
    let Some((top, bottom, row_h)) = vertical_span(boxes, h) else {
        return whole(page);
    };
    // A box and a half above and below shows the row's printed frame and the neighbouring
    // rows' edges even on a page scanned a little askew: enough to see the row is the right
    // one without reading the wrong one.
    let pad = row_h * 3 / 2;
    let y0 = top.saturating_sub(pad);
    let y1 = (bottom + pad).min(h);
    // 3 % of the width trims the registration marks and scanner border at the sides; the
    // left edge stays so the row's printed name shows.
    let x0 = w * 3 / 100;
    // Right of the flagged boxes, three box heights (about one option column) is enough:
    // cutting the rest of a wide row lets the crop be shown larger.
    let right = boxes
        .iter()
        .filter(|b| b[2] > 0 && b[3] > 0 && b[1] < h)
        .map(|b| b[0].saturating_add(b[2]))
        .max()
        .unwrap_or(w);
    let x1 = right.saturating_add(3 * row_h).clamp(x0 + 1, w - x0);
    crop(page, [x0, y0, x1 - x0, y1.saturating_sub(y0)])
}

/// A tight crop around one area (a writing box) with a margin.
#[must_use]
pub fn area_crop(page: &GrayImage, area: [u32; 4]) -> (GrayImage, PxRect) {
    let (w, h) = page.dimensions();
    // A tenth of the area's height as margin, at least 10 px, shows its printed frame.
    let m = (area[3] / 10).max(10);
    let x0 = area[0].saturating_sub(m).min(w);
    let y0 = area[1].saturating_sub(m).min(h);
    let x1 = (area[0] + area[2] + m).min(w);
    let y1 = (area[1] + area[3] + m).min(h);
    crop(page, [x0, y0, x1.saturating_sub(x0), y1.saturating_sub(y0)])
}

/// The whole page, small, for flags about a whole page (duplicates, rejected pages).
#[must_use]
pub fn whole(page: &GrayImage) -> (GrayImage, PxRect) {
    (
        shrink_gray(page, PAGE_WIDTH_PX),
        [0, 0, page.width(), page.height()],
    )
}

fn vertical_span(boxes: &[[u32; 4]], h: u32) -> Option<(u32, u32, u32)> {
    let real: Vec<&[u32; 4]> = boxes
        .iter()
        .filter(|b| b[2] > 0 && b[3] > 0 && b[1] < h)
        .collect();
    let top = real.iter().map(|b| b[1]).min()?;
    let bottom = real.iter().map(|b| b[1] + b[3]).max()?.min(h);
    let row_h = real.iter().map(|b| b[3]).max()?;
    Some((top, bottom, row_h))
}

fn crop(page: &GrayImage, rect: PxRect) -> (GrayImage, PxRect) {
    let [x, y, w, h] = rect;
    if w == 0 || h == 0 {
        return whole(page);
    }
    // crop_imm clamps to the page: report the rectangle actually cut.
    let cut = imageops::crop_imm(page, x, y, w, h).to_image();
    let rect = [x, y, cut.width(), cut.height()];
    (shrink_gray(&cut, CROP_WIDTH_PX), rect)
}

fn shrink_gray(img: &GrayImage, max_w: u32) -> GrayImage {
    if img.width() <= max_w {
        return img.clone();
    }
    let h =
        (u64::from(img.height()) * u64::from(max_w) / u64::from(img.width().max(1))).max(1) as u32;
    imageops::resize(img, max_w, h, FilterType::Triangle)
}

/// How a box is drawn on the whole-page view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outline {
    Empty,
    Marginal,
    Marked,
    /// The box the flag is about.
    Flagged,
}

impl Outline {
    fn colour(self) -> Rgb<u8> {
        match self {
            Outline::Empty => Rgb([40, 90, 160]),
            Outline::Marginal => Rgb([230, 140, 0]),
            Outline::Marked => Rgb([200, 30, 30]),
            Outline::Flagged => Rgb([200, 0, 200]),
        }
    }
}

/// The whole page with every box outlined in its class's colour (the flag's boxes thickest).
#[must_use]
pub fn page_overlay(page: &GrayImage, boxes: &[([u32; 4], Outline)]) -> RgbImage {
    let small = shrink_gray(page, PAGE_WIDTH_PX);
    let scale = small.width() as f32 / page.width().max(1) as f32;
    let mut rgb = RgbImage::from_fn(small.width(), small.height(), |x, y| {
        let v = small.get_pixel(x, y)[0];
        Rgb([v, v, v])
    });
    for (b, outline) in boxes {
        // The flagged boxes get a 3-line border (and a margin) so the eye finds them at once.
        let (rings, grow) = if *outline == Outline::Flagged {
            (3, 4)
        } else {
            (1, 1)
        };
        for r in 0..rings {
            let g = grow + r;
            let x = (b[0] as f32 * scale) as i32 - g;
            let y = (b[1] as f32 * scale) as i32 - g;
            let w = ((b[2] as f32 * scale) as u32 + 2 * g as u32).max(1);
            let h = ((b[3] as f32 * scale) as u32 + 2 * g as u32).max(1);
            draw_hollow_rect_mut(&mut rgb, Rect::at(x, y).of_size(w, h), outline.colour());
        }
    }
    rgb
}

/// PNG bytes of a gray image.
///
/// # Errors
/// Encoding failures.
pub fn png_gray(img: &GrayImage) -> Result<Vec<u8>, ImageError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)?;
    Ok(out.into_inner())
}

/// PNG bytes of a colour image.
///
/// # Errors
/// Encoding failures.
pub fn png_rgb(img: &RgbImage) -> Result<Vec<u8>, ImageError> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> GrayImage {
        GrayImage::from_pixel(2000, 2800, image::Luma([255]))
    }

    #[test]
    fn a_row_crop_spans_the_width_and_places_the_boxes() {
        let boxes = [[1000, 1000, 50, 50], [1100, 1000, 50, 50]];
        let (crop, rect) = row_crop(&page(), &boxes);
        // 50 px row + 75 px above and below; 3 % (60 px) trimmed at the left, three box
        // heights kept right of the last box.
        assert_eq!(rect, [60, 925, 1150 + 150 - 60, 200]);
        assert_eq!(crop.dimensions(), (1240, 200));
        // Boxes at the right edge: the crop stops 3 % short of it.
        let (crop, rect) = row_crop(&page(), &[[1800, 1000, 50, 50], [1900, 1000, 50, 50]]);
        assert_eq!(rect, [60, 925, 1880, 200]);
        // Wider than CROP_WIDTH_PX: shrunk, aspect kept.
        assert_eq!(crop.dimensions(), (1600, 170));
    }

    #[test]
    fn boxes_off_the_page_give_the_whole_page_not_a_panic() {
        let (crop, rect) = row_crop(&page(), &[[0, 5000, 10, 10]]);
        assert_eq!(crop.width(), PAGE_WIDTH_PX);
        assert_eq!(rect, [0, 0, 2000, 2800]);
        let (crop, rect) = area_crop(&page(), [1990, 2790, 500, 500]);
        assert!(crop.width() > 0 && crop.height() > 0);
        assert!(
            rect[0] + rect[2] <= 2000 && rect[1] + rect[3] <= 2800,
            "{rect:?}"
        );
    }

    #[test]
    fn rotation_is_undone_counter_clockwise() {
        let mut img = GrayImage::from_pixel(4, 2, image::Luma([255]));
        img.put_pixel(0, 0, image::Luma([0]));
        // Scanned turned 90° clockwise: the page's top-left corner is now top-right.
        let up = upright(imageops::rotate90(&img), 90);
        assert_eq!(up.dimensions(), (4, 2));
        assert_eq!(up.get_pixel(0, 0)[0], 0);
    }
}
