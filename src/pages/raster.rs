//! Single-image files (PNG, JPEG) and the JPEG decoder shared with PDF `/DCTDecode`.
//!
//! JPEG decoding goes through the `image` crate's zune-jpeg backend. A gray JPEG is decoded
//! straight into the page buffer (no RGB round trip); a colour JPEG is decoded to RGB and
//! reduced to gray in place. Resolution comes from JFIF density or EXIF (JPEG) and pHYs (PNG),
//! read here because the `image` crate does not expose them.

use super::{
    check_size, gray_image, image_buffer_to_gray, plausible_dpi, Fault, InputKind, PageImage,
};
use image::codecs::jpeg::JpegDecoder;
use image::codecs::png::PngDecoder;
use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageError};
use std::io::Cursor;
use std::path::{Path, PathBuf};

/// A PNG or JPEG file: one page, read when asked for.
pub(crate) struct RasterSource {
    path: PathBuf,
    kind: InputKind,
}

impl RasterSource {
    pub(crate) fn new(path: &Path, kind: InputKind) -> Self {
        Self {
            path: path.to_path_buf(),
            kind,
        }
    }

    /// Read and decode the file.
    pub(crate) fn load(&self) -> Result<PageImage, Fault> {
        let bytes = std::fs::read(&self.path)?;
        match self.kind {
            InputKind::Png => decode_png(&bytes),
            _ => {
                let image = decode_jpeg(&bytes, true)?;
                Ok(PageImage {
                    image,
                    dpi: jpeg_dpi(&bytes),
                })
            }
        }
    }
}

fn image_fault(e: ImageError) -> Fault {
    match e {
        ImageError::Unsupported(e) => Fault::Unsupported(e.to_string()),
        ImageError::Limits(e) => Fault::Unsupported(format!("image beyond decoder limits: {e}")),
        other => Fault::Decode(other.to_string()),
    }
}

/// Decode a JPEG to gray. With `apply_exif`, rotate/flip as its EXIF orientation says (for
/// files; PDF viewers ignore EXIF, so embedded JPEGs are taken as stored).
pub(crate) fn decode_jpeg(bytes: &[u8], apply_exif: bool) -> Result<GrayImage, Fault> {
    let mut decoder = JpegDecoder::new(Cursor::new(bytes)).map_err(image_fault)?;
    let (width, height) = decoder.dimensions();
    check_size(u64::from(width), u64::from(height))?;
    let orientation = if apply_exif {
        decoder.orientation().unwrap_or(Orientation::NoTransforms)
    } else {
        Orientation::NoTransforms
    };
    let color = decoder.color_type();
    let len = usize::try_from(decoder.total_bytes())
        .map_err(|_| Fault::TooLarge(u64::from(width), u64::from(height)))?;
    let mut buf = super::pool::take(len);
    decoder.read_image(&mut buf).map_err(image_fault)?;
    let gray = gray_image(width, height, image_buffer_to_gray(buf, color)?)?;
    Ok(orient(gray, orientation))
}

/// Apply an EXIF orientation.
fn orient(image: GrayImage, orientation: Orientation) -> GrayImage {
    if orientation == Orientation::NoTransforms {
        return image;
    }
    let mut dynamic = DynamicImage::ImageLuma8(image);
    dynamic.apply_orientation(orientation);
    dynamic.into_luma8()
}

fn decode_png(bytes: &[u8]) -> Result<PageImage, Fault> {
    let decoder = PngDecoder::new(Cursor::new(bytes)).map_err(image_fault)?;
    let (width, height) = decoder.dimensions();
    check_size(u64::from(width), u64::from(height))?;
    let color = decoder.color_type();
    let len = usize::try_from(decoder.total_bytes())
        .map_err(|_| Fault::TooLarge(u64::from(width), u64::from(height)))?;
    let mut buf = super::pool::take(len);
    decoder.read_image(&mut buf).map_err(image_fault)?;
    let image = gray_image(width, height, image_buffer_to_gray(buf, color)?)?;
    Ok(PageImage {
        image,
        dpi: png_dpi(bytes),
    })
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(at)?,
        *b.get(at + 1)?,
        *b.get(at + 2)?,
        *b.get(at + 3)?,
    ]))
}

/// Resolution from a PNG `pHYs` chunk (pixels per metre), if it has one with a unit.
pub(crate) fn png_dpi(bytes: &[u8]) -> Option<f32> {
    let mut at = 8; // signature
    loop {
        let len = be32(bytes, at)? as usize;
        let kind = bytes.get(at + 4..at + 8)?;
        let data = at + 8;
        if kind == b"pHYs" {
            let ppm = be32(bytes, data)?;
            let unit = *bytes.get(data + 8)?;
            return if unit == 1 {
                plausible_dpi(f64::from(ppm) * 0.0254)
            } else {
                None
            };
        }
        if kind == b"IDAT" || kind == b"IEND" {
            return None; // pHYs must come before the image data
        }
        at = data.checked_add(len)?.checked_add(4)?;
    }
}

/// Resolution of a JPEG from its JFIF header, else from EXIF.
pub(crate) fn jpeg_dpi(bytes: &[u8]) -> Option<f32> {
    let mut jfif = None;
    let mut exif = None;
    let mut at = 2; // after SOI
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            break;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        if marker == 0xDA || marker == 0xD9 {
            break; // start of scan / end of image: no more headers
        }
        let len = usize::from(be16(bytes, at + 2)?);
        let seg = bytes.get(at + 4..(at + 2).checked_add(len)?)?;
        if marker == 0xE0 && seg.starts_with(b"JFIF\0") && seg.len() >= 12 {
            let density = f64::from(be16(seg, 8)?);
            jfif = match seg[7] {
                1 => plausible_dpi(density),
                2 => plausible_dpi(density * 2.54),
                _ => None,
            };
        } else if marker == 0xE1 && seg.starts_with(b"Exif\0\0") {
            exif = exif_dpi(&seg[6..]);
        }
        at += 2 + len;
    }
    jfif.or(exif)
}

/// XResolution/ResolutionUnit from the first IFD of an EXIF block (a little TIFF file).
fn exif_dpi(tiff: &[u8]) -> Option<f32> {
    let le = match tiff.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = [*tiff.get(at)?, *tiff.get(at + 1)?];
        Some(if le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b = [
            *tiff.get(at)?,
            *tiff.get(at + 1)?,
            *tiff.get(at + 2)?,
            *tiff.get(at + 3)?,
        ];
        Some(if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    };
    let ifd = u32_at(4)? as usize;
    let count = usize::from(u16_at(ifd)?);
    let mut resolution = None;
    let mut unit = 2; // inches, the TIFF default
    for i in 0..count.min(256) {
        let entry = ifd + 2 + i * 12;
        match u16_at(entry)? {
            0x011A => {
                let off = u32_at(entry + 8)? as usize;
                let (n, d) = (u32_at(off)?, u32_at(off + 4)?);
                if d != 0 {
                    resolution = Some(f64::from(n) / f64::from(d));
                }
            }
            0x0128 => unit = u16_at(entry + 8)?,
            _ => {}
        }
    }
    match unit {
        2 => plausible_dpi(resolution?),
        3 => plausible_dpi(resolution? * 2.54),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::codecs::jpeg::{JpegEncoder, PixelDensity};
    use image::ExtendedColorType;

    fn gradient(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 255 / w + y) % 256) as u8]))
    }

    #[test]
    fn jfif_density_in_dots_per_cm_converts_to_dpi() {
        let img = gradient(120, 100);
        let mut bytes = Vec::new();
        let mut enc = JpegEncoder::new_with_quality(&mut bytes, 90);
        enc.set_pixel_density(PixelDensity {
            density: (118, 118),
            unit: image::codecs::jpeg::PixelDensityUnit::Centimeters,
        });
        enc.encode(img.as_raw(), 120, 100, ExtendedColorType::L8)
            .unwrap();
        let dpi = jpeg_dpi(&bytes).unwrap();
        assert!((dpi - 299.72).abs() < 0.01, "{dpi}");
    }

    #[test]
    fn exif_resolution_is_used_when_jfif_has_no_unit() {
        // Minimal big-endian EXIF: IFD0 with XResolution = 600/2 and ResolutionUnit = inch.
        let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
        tiff.extend_from_slice(&[0, 2]);
        tiff.extend_from_slice(&[0x01, 0x1A, 0, 5, 0, 0, 0, 1, 0, 0, 0, 38]);
        tiff.extend_from_slice(&[0x01, 0x28, 0, 3, 0, 0, 0, 1, 0, 2, 0, 0]);
        tiff.extend_from_slice(&[0, 0, 0, 0]);
        tiff.extend_from_slice(&[0, 0, 2, 0x58, 0, 0, 0, 2]);
        assert_eq!(exif_dpi(&tiff), Some(300.0));
        // Truncated blocks give None, not a panic.
        for cut in 0..tiff.len() {
            let _ = exif_dpi(&tiff[..cut]);
        }
    }

    #[test]
    fn png_without_phys_has_no_dpi_and_garbage_does_not_panic() {
        let img = gradient(100, 100);
        let mut bytes = Vec::new();
        img.write_to(&mut Cursor::new(&mut bytes), image::ImageFormat::Png)
            .unwrap();
        assert_eq!(png_dpi(&bytes), None);
        for cut in 0..bytes.len().min(200) {
            let _ = png_dpi(&bytes[..cut]);
            let _ = jpeg_dpi(&bytes[..cut]);
        }
    }
}
