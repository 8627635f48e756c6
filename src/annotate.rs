//! `pingyi annotate`: the page images of a batch, re-decoded from their source files, with
//! every answer cell outlined in its class colour and its score written beside it — for audit
//! and for tuning the mark thresholds.
//!
//! Colours: empty green, marginal orange, marked blue, any cell of a flagged question red.
//! Scores are written as 3-digit per-mille (`412` = 0.412 of the box's paper darkened) with a
//! built-in 3×5 digit font, so no font file is needed.

use crate::pages::{self, InputFile};
use crate::read::outcome::{CellClass, FlagKind, PageStatus};
use crate::store::{Store, StoreError, StoredPage};
use image::{GrayImage, Rgb, RgbImage};
use imageproc::drawing::{draw_filled_rect_mut, draw_hollow_rect_mut};
use imageproc::rect::Rect;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const GREEN: Rgb<u8> = Rgb([0, 160, 0]);
const ORANGE: Rgb<u8> = Rgb([255, 140, 0]);
const BLUE: Rgb<u8> = Rgb([0, 70, 255]);
const RED: Rgb<u8> = Rgb([230, 0, 0]);
/// Outline thickness as a share of the cell height: visible at 150 dpi, not hiding the tick.
const OUTLINE_SHARE: u32 = 12;
/// Digit pixel size as a share of the cell height: three digits about as tall as half a cell.
const DIGIT_SHARE: u32 = 10;

/// 3×5 bitmaps of 0–9, one row per 3 bits (MSB left).
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

#[derive(Debug, thiserror::Error)]
pub enum AnnotateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no page {0} in this batch (give it as FILE#N, N counting from 1, as `pingyi export` shows)")]
    NoSuchPage(String),
}

/// What one annotate run did.
#[derive(Debug, Default)]
pub struct AnnotateSummary {
    pub written: Vec<PathBuf>,
    /// Pages that could not be drawn: ("file#N", reason).
    pub skipped: Vec<(String, String)>,
}

/// Parse "FILE#N" (N 1-based) into the file and the 0-based index.
#[must_use]
pub fn parse_page(spec: &str) -> Option<(String, u32)> {
    let (file, n) = spec.rsplit_once('#')?;
    let n: u32 = n.parse().ok()?;
    (n >= 1 && !file.is_empty()).then(|| (file.to_string(), n - 1))
}

/// Draw the read pages of the batch (or only `only`) into `out` as PNGs.
///
/// # Errors
/// Store failures, an output folder that cannot be made, an unknown `--page`.
pub fn annotate(
    store: &Store,
    out: &Path,
    only: Option<&str>,
) -> Result<AnnotateSummary, AnnotateError> {
    std::fs::create_dir_all(out).map_err(|source| AnnotateError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    let wanted = match only {
        Some(spec) => {
            Some(parse_page(spec).ok_or_else(|| AnnotateError::NoSuchPage(spec.to_string()))?)
        }
        None => None,
    };
    let mut summary = AnnotateSummary::default();
    let mut matched = false;
    for id in store.page_ids()? {
        let page = store.load_page(id)?;
        if let Some((file, index)) = &wanted {
            if page.index != *index
                || !(page.file == *file || Path::new(&page.file).ends_with(file))
            {
                continue;
            }
        }
        matched = true;
        let label = format!("{}#{}", page.file, page.index + 1);
        if page.reading.status != PageStatus::Read {
            if wanted.is_some() {
                summary.skipped.push((
                    label,
                    format!("the page was not read ({:?})", page.reading.status),
                ));
            }
            continue;
        }
        match draw_page(&page, store.dir()) {
            Ok(img) => {
                let stem = Path::new(&page.file)
                    .file_stem()
                    .map_or_else(|| "page".into(), |s| s.to_string_lossy().into_owned());
                let path = out.join(format!(
                    "{stem}-{}-{}.png",
                    &page.sha256[..page.sha256.len().min(8)],
                    page.index + 1
                ));
                match img.save(&path) {
                    Ok(()) => summary.written.push(path),
                    Err(e) => summary.skipped.push((label, e.to_string())),
                }
            }
            Err(reason) => summary.skipped.push((label, reason)),
        }
    }
    if let (Some(spec), false) = (only, matched) {
        return Err(AnnotateError::NoSuchPage(spec.to_string()));
    }
    Ok(summary)
}

/// Re-decode the page, turn it upright as the reader did, and draw its cells.
fn draw_page(page: &StoredPage, batch: &Path) -> Result<RgbImage, String> {
    let path = locate(&page.file, batch)
        .ok_or_else(|| format!("source file {} is not there any more", page.file))?;
    let file = InputFile::from_path(&path)
        .ok_or_else(|| format!("{} is not a supported file", page.file))?;
    let source = pages::open(&file).map_err(|e| e.to_string())?;
    let gray = source
        .load_page(page.index as usize)
        .map_err(|e| e.to_string())?
        .image;
    let upright = turn_upright(gray, page.reading.rotation);
    let mut img = image::DynamicImage::ImageLuma8(upright).to_rgb8();
    let flagged: HashSet<&str> = page
        .reading
        .flags
        .iter()
        .filter(|f| matches!(f.kind, FlagKind::Marginal | FlagKind::Overvote))
        .filter_map(|f| f.target.as_deref())
        .collect();
    for c in &page.reading.cells {
        let colour = if flagged.contains(c.question.as_str()) {
            RED
        } else {
            match c.class {
                CellClass::Empty => GREEN,
                CellClass::Marginal => ORANGE,
                CellClass::Marked => BLUE,
            }
        };
        let [x, y, w, h] = c.px;
        if w == 0 || h == 0 {
            continue;
        }
        let t = (h / OUTLINE_SHARE).max(1);
        for k in 0..t {
            let (Ok(xi), Ok(yi)) = (
                i32::try_from(x.saturating_sub(k)),
                i32::try_from(y.saturating_sub(k)),
            ) else {
                continue;
            };
            draw_hollow_rect_mut(
                &mut img,
                Rect::at(xi, yi).of_size(w + 2 * k, h + 2 * k),
                colour,
            );
        }
        let per_mille = (c.score.clamp(0.0, 0.999) * 1000.0).round() as u32;
        draw_number(
            &mut img,
            per_mille,
            x + w + 2 * t,
            y,
            (h / DIGIT_SHARE).max(1),
            colour,
        );
    }
    Ok(img)
}

/// The stored path as given to `scan`, else relative to the batch's parent folders.
fn locate(file: &str, batch: &Path) -> Option<PathBuf> {
    let p = PathBuf::from(file);
    if p.is_file() {
        return Some(p);
    }
    batch
        .ancestors()
        .skip(1)
        .map(|a| a.join(file))
        .find(|c| c.is_file())
}

/// The reader's upright image: `rotation` is the clockwise rotation that was undone.
fn turn_upright(img: GrayImage, rotation: u32) -> GrayImage {
    match rotation {
        90 => image::imageops::rotate270(&img),
        180 => image::imageops::rotate180(&img),
        270 => image::imageops::rotate90(&img),
        _ => img,
    }
}

/// Write a 3-digit number with the built-in font, `px` image pixels per font pixel.
fn draw_number(img: &mut RgbImage, n: u32, x: u32, y: u32, px: u32, colour: Rgb<u8>) {
    let digits = [n / 100 % 10, n / 10 % 10, n % 10];
    for (i, d) in digits.iter().enumerate() {
        let ox = x + (i as u32) * 4 * px;
        for (row, bits) in DIGITS[*d as usize].iter().enumerate() {
            for col in 0..3u32 {
                if bits & (4 >> col) != 0 {
                    let (Ok(rx), Ok(ry)) = (
                        i32::try_from(ox + col * px),
                        i32::try_from(y + row as u32 * px),
                    ) else {
                        continue;
                    };
                    draw_filled_rect_mut(img, Rect::at(rx, ry).of_size(px, px), colour);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_specs_are_file_hash_one_based_number() {
        assert_eq!(parse_page("scans/a.pdf#3"), Some(("scans/a.pdf".into(), 2)));
        assert_eq!(parse_page("a#b.pdf#1"), Some(("a#b.pdf".into(), 0)));
        assert_eq!(parse_page("a.pdf#0"), None);
        assert_eq!(parse_page("a.pdf"), None);
    }

    #[test]
    fn digits_are_drawn_in_the_colour_and_clipped_at_the_edge() {
        let mut img = RgbImage::from_pixel(20, 10, Rgb([255, 255, 255]));
        draw_number(&mut img, 108, 0, 0, 1, RED);
        // "1" has its top-middle pixel set; "0" its top-left corner.
        assert_eq!(*img.get_pixel(1, 0), RED);
        assert_eq!(*img.get_pixel(4, 0), RED);
        assert_eq!(
            *img.get_pixel(3, 0),
            Rgb([255, 255, 255]),
            "gap between digits"
        );
        draw_number(&mut img, 999, 18, 8, 2, BLUE); // mostly outside: must not panic
    }
}
