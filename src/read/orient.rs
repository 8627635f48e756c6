//! Turning a scan upright: the page code says by how many quarter turns the sheet was fed
//! sideways or upside down; everything after works on the upright page.

use crate::pages;
use image::GrayImage;

/// Undo a clockwise rotation of `rotation` degrees (an upright scan is kept, not copied; a
/// turned one is copied into a pooled buffer and its own buffer handed back).
pub fn turn_upright(img: GrayImage, rotation: u32) -> GrayImage {
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
pub fn upright_point(p: (f64, f64), w: u32, h: u32, rotation: u32) -> (f64, f64) {
    let (w, h) = (f64::from(w), f64::from(h));
    match rotation {
        90 => (p.1, w - p.0),
        180 => (w - p.0, h - p.1),
        270 => (h - p.1, p.0),
        _ => p,
    }
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
}
