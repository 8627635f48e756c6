//! Pack gray page images into the files scanners produce: one-image-per-page PDFs and
//! multi-page TIFFs. Used by tests, the scan simulator and the benchmark.
//!
//! Both writers stream: each page is encoded and written as it is added, so packing thousands
//! of simulated pages needs memory for one page only. The PDF writer is hand-written (a
//! scanned PDF is a handful of objects per page) rather than built with lopdf, which would
//! hold every encoded page in memory until saving.
//!
//! PDF encodings ([`PackFilter`]):
//! - `Jpeg`: baseline JPEG (`/DCTDecode`), gray or RGB — what most scanners write.
//! - `Flate`: lossless 8-bit, zlib with PNG predictors (as `img2pdf` embeds PNGs).
//! - `Flate1Bit`: 1-bit, zlib with PNG predictors.
//! - `CcittG4`: 1-bit CCITT Group 4 — what office scanners write in black & white mode.
//! - `Raw`: 8-bit uncompressed (large; for tests).
//!
//! TIFF encodings ([`TiffPack`]): Group 4, LZW 8-bit, uncompressed 8-bit, uncompressed 1-bit.
//!
//! 1-bit encodings threshold at [`BILEVEL_THRESHOLD`]: darker pixels become black.

use super::ccitt::encode_g4;
use super::PageError;
use image::codecs::jpeg::{JpegEncoder, PixelDensity};
use image::codecs::png::{CompressionType, FilterType, PngEncoder};
use image::{ExtendedColorType, GrayImage, ImageEncoder, RgbImage};
use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tiff::encoder::{colortype, Compression, Rational, TiffEncoder};
use tiff::tags::{ResolutionUnit, Tag};

/// Gray level below which a pixel is black in 1-bit output (the middle of the range).
pub const BILEVEL_THRESHOLD: u8 = 128;

/// One page to pack.
#[derive(Debug, Clone, Copy)]
pub enum PackPage<'a> {
    /// A gray page.
    Gray(&'a GrayImage),
    /// A colour page (kept in colour by [`PackFilter::Jpeg`] and [`PackFilter::Flate`],
    /// reduced to gray by the other filters).
    Rgb(&'a RgbImage),
}

impl<'a> From<&'a GrayImage> for PackPage<'a> {
    fn from(image: &'a GrayImage) -> Self {
        Self::Gray(image)
    }
}

impl<'a> From<&'a RgbImage> for PackPage<'a> {
    fn from(image: &'a RgbImage) -> Self {
        Self::Rgb(image)
    }
}

impl<'a> PackPage<'a> {
    fn dimensions(&self) -> (u32, u32) {
        match self {
            Self::Gray(i) => i.dimensions(),
            Self::Rgb(i) => i.dimensions(),
        }
    }

    fn gray(&self) -> Cow<'a, GrayImage> {
        match *self {
            Self::Gray(i) => Cow::Borrowed(i),
            Self::Rgb(i) => Cow::Owned(GrayImage::from_fn(i.width(), i.height(), |x, y| {
                let p = i.get_pixel(x, y).0;
                image::Luma([super::luma(p[0], p[1], p[2])])
            })),
        }
    }
}

/// How page images are compressed inside the PDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackFilter {
    /// `/DCTDecode` at this quality (1–100; scanners use ≈ 75–90).
    Jpeg {
        /// JPEG quality.
        quality: u8,
    },
    /// `/FlateDecode`, 8 bits per sample, PNG predictors.
    Flate,
    /// `/FlateDecode`, 1 bit per pixel, PNG predictors.
    Flate1Bit,
    /// `/CCITTFaxDecode` Group 4, 1 bit per pixel.
    CcittG4,
    /// No compression, 8 bits per sample.
    Raw,
}

/// Write `pages` to a PDF at `path`, one full-page image per page at `dpi`.
///
/// # Errors
/// [`PageError::Write`] if the file cannot be written or a page cannot be encoded.
pub fn write_pdf(
    path: impl AsRef<Path>,
    pages: &[PackPage],
    filter: PackFilter,
    dpi: f32,
) -> Result<(), PageError> {
    let path = path.as_ref();
    let write_err = |e: io::Error| PageError::Write {
        path: path.to_path_buf(),
        detail: e.to_string(),
    };
    let file = BufWriter::new(File::create(path).map_err(write_err)?);
    let mut packer = PdfPacker::new(file, filter, dpi).map_err(write_err)?;
    for page in pages {
        packer.add_page(*page).map_err(write_err)?;
    }
    packer
        .finish()
        .map_err(write_err)?
        .flush()
        .map_err(write_err)
}

/// A page already compressed for [`PdfPacker::add_encoded`]: lets callers encode pages on
/// worker threads while one thread writes the file in order.
#[derive(Debug, Clone)]
pub struct EncodedPage {
    dict: String,
    data: Vec<u8>,
    w_pt: f64,
    h_pt: f64,
}

impl EncodedPage {
    /// The image dictionary entries and the stream bytes (for tests that lay out PDFs).
    #[cfg(test)]
    pub(crate) fn parts(&self) -> (&str, &[u8]) {
        (&self.dict, &self.data)
    }

    /// Compress `page` with `filter` for a PDF at `dpi`.
    ///
    /// # Errors
    /// An encoder failure (as `io::ErrorKind::Other`).
    pub fn new(page: PackPage, filter: PackFilter, dpi: f32) -> io::Result<Self> {
        let (w, h) = page.dimensions();
        let (dict, data) = encode_page(page, filter, dpi)?;
        let scale = 72.0 / f64::from(dpi);
        Ok(Self {
            dict,
            data,
            w_pt: f64::from(w) * scale,
            h_pt: f64::from(h) * scale,
        })
    }
}

/// A PDF being written page by page. Call [`PdfPacker::finish`] at the end.
pub struct PdfPacker<W: Write> {
    out: W,
    pos: u64,
    /// Offset of object `i + 1`.
    offsets: Vec<u64>,
    kids: Vec<u32>,
    filter: PackFilter,
    dpi: f32,
    trailer_extra: String,
}

const CATALOG_ID: u32 = 1;
const PAGES_ID: u32 = 2;

/// Format a PDF real: up to 4 decimals, no exponent.
fn real(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

impl<W: Write> PdfPacker<W> {
    /// Start a PDF: header and catalog.
    ///
    /// # Errors
    /// I/O errors of `out`.
    pub fn new(out: W, filter: PackFilter, dpi: f32) -> io::Result<Self> {
        let mut p = Self {
            out,
            pos: 0,
            offsets: vec![0, 0],
            kids: Vec::new(),
            filter,
            dpi,
            trailer_extra: String::new(),
        };
        // The second line's high bytes mark the file as binary for transfer tools.
        p.put(b"%PDF-1.5\n%\xE2\xE3\xCF\xD3\n")?;
        p.object(
            CATALOG_ID,
            &format!("<< /Type /Catalog /Pages {PAGES_ID} 0 R >>"),
        )?;
        Ok(p)
    }

    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn alloc(&mut self) -> u32 {
        self.offsets.push(0);
        self.offsets.len() as u32
    }

    fn object(&mut self, id: u32, body: &str) -> io::Result<()> {
        self.offsets[id as usize - 1] = self.pos;
        self.put(format!("{id} 0 obj\n{body}\nendobj\n").as_bytes())
    }

    fn stream(&mut self, id: u32, dict: &str, data: &[u8]) -> io::Result<()> {
        self.offsets[id as usize - 1] = self.pos;
        self.put(format!("{id} 0 obj\n<< {dict} /Length {} >>\nstream\n", data.len()).as_bytes())?;
        self.put(data)?;
        self.put(b"\nendstream\nendobj\n")
    }

    /// Encode and add one page. Its size in points follows from its pixels and the dpi.
    ///
    /// # Errors
    /// I/O errors of the writer, or an encoder failure (as `io::ErrorKind::Other`).
    pub fn add_page(&mut self, page: PackPage) -> io::Result<()> {
        let e = EncodedPage::new(page, self.filter, self.dpi)?;
        self.add_encoded(&e)
    }

    /// Add a page compressed beforehand (its own filter and dpi apply, not the packer's).
    ///
    /// # Errors
    /// I/O errors of the writer.
    pub fn add_encoded(&mut self, page: &EncodedPage) -> io::Result<()> {
        self.add_image_page(&page.dict, &page.data, page.w_pt, page.h_pt)
    }

    /// Add a page showing one image XObject with the given dictionary entries (without
    /// /Type, /Subtype, /Length) and stream bytes, stretched over a `w_pt` × `h_pt` page.
    pub(crate) fn add_image_page(
        &mut self,
        image_dict: &str,
        data: &[u8],
        w_pt: f64,
        h_pt: f64,
    ) -> io::Result<()> {
        let image = self.alloc();
        self.stream(
            image,
            &format!("/Type /XObject /Subtype /Image {image_dict}"),
            data,
        )?;
        let (w, h) = (real(w_pt), real(h_pt));
        let content = format!("q {w} 0 0 {h} 0 0 cm /Im0 Do Q");
        self.add_raw_page(
            &format!("<< /XObject << /Im0 {image} 0 R >> >>"),
            content.as_bytes(),
            w_pt,
            h_pt,
            "",
        )
    }

    /// Add a page with the given resources, content stream and extra page entries.
    pub(crate) fn add_raw_page(
        &mut self,
        resources: &str,
        content: &[u8],
        w_pt: f64,
        h_pt: f64,
        extra: &str,
    ) -> io::Result<()> {
        let contents = self.alloc();
        self.stream(contents, "", content)?;
        let page = self.alloc();
        let body = format!(
            "<< /Type /Page /Parent {PAGES_ID} 0 R /MediaBox [0 0 {} {}] /Resources {resources} /Contents {contents} 0 R {extra} >>",
            real(w_pt),
            real(h_pt)
        );
        self.object(page, &body)?;
        self.kids.push(page);
        Ok(())
    }

    /// Add an indirect object with the given body; returns its number.
    #[cfg(test)]
    pub(crate) fn add_object(&mut self, body: &str) -> io::Result<u32> {
        let id = self.alloc();
        self.object(id, body)?;
        Ok(id)
    }

    /// Add a stream object; returns its number.
    #[cfg(test)]
    pub(crate) fn add_stream(&mut self, dict: &str, data: &[u8]) -> io::Result<u32> {
        let id = self.alloc();
        self.stream(id, dict, data)?;
        Ok(id)
    }

    /// Extra entries for the trailer dictionary.
    #[cfg(test)]
    pub(crate) fn set_trailer_extra(&mut self, extra: &str) {
        self.trailer_extra = extra.to_string();
    }

    /// The next object number [`Self::add_raw_object`] will use.
    #[cfg(test)]
    pub(crate) fn next_id(&self) -> u32 {
        self.offsets.len() as u32 + 1
    }

    /// Add an object whose body (between `N 0 obj` and `endobj`) is given byte for byte.
    #[cfg(test)]
    pub(crate) fn add_raw_object(&mut self, body: &[u8]) -> io::Result<u32> {
        let id = self.alloc();
        self.offsets[id as usize - 1] = self.pos;
        self.put(format!("{id} 0 obj\n").as_bytes())?;
        self.put(body)?;
        self.put(b"\nendobj\n")?;
        Ok(id)
    }

    /// Write the page tree, cross-reference table and trailer; returns the writer.
    ///
    /// # Errors
    /// I/O errors of the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let kids: Vec<String> = self.kids.iter().map(|k| format!("{k} 0 R")).collect();
        let body = format!(
            "<< /Type /Pages /Kids [{}] /Count {} >>",
            kids.join(" "),
            self.kids.len()
        );
        self.object(PAGES_ID, &body)?;
        let xref = self.pos;
        let mut table = format!("xref\n0 {}\n0000000000 65535 f \n", self.offsets.len() + 1);
        for off in &self.offsets {
            table.push_str(&format!("{off:010} 00000 n \n"));
        }
        table.push_str(&format!(
            "trailer\n<< /Size {} /Root {CATALOG_ID} 0 R {} >>\nstartxref\n{xref}\n%%EOF\n",
            self.offsets.len() + 1,
            self.trailer_extra
        ));
        self.put(table.as_bytes())?;
        Ok(self.out)
    }
}

/// The image dictionary entries and stream bytes for one page.
fn encode_page(page: PackPage, filter: PackFilter, dpi: f32) -> io::Result<(String, Vec<u8>)> {
    let (w, h) = page.dimensions();
    let other = io::Error::other;
    Ok(match (filter, page) {
        (PackFilter::Jpeg { quality }, _) => {
            let mut data = Vec::new();
            let mut enc = JpegEncoder::new_with_quality(&mut data, quality.clamp(1, 100));
            enc.set_pixel_density(PixelDensity::dpi(dpi.round().clamp(1.0, 65535.0) as u16));
            let cs = match page {
                PackPage::Gray(i) => {
                    enc.encode(i.as_raw(), w, h, ExtendedColorType::L8)
                        .map_err(other)?;
                    "DeviceGray"
                }
                PackPage::Rgb(i) => {
                    enc.encode(i.as_raw(), w, h, ExtendedColorType::Rgb8)
                        .map_err(other)?;
                    "DeviceRGB"
                }
            };
            (format!("/Width {w} /Height {h} /ColorSpace /{cs} /BitsPerComponent 8 /Filter /DCTDecode"), data)
        }
        (PackFilter::Flate, _) => {
            let (raw, colors, cs): (&[u8], u32, &str) = match page {
                PackPage::Gray(i) => (i.as_raw(), 1, "DeviceGray"),
                PackPage::Rgb(i) => (i.as_raw(), 3, "DeviceRGB"),
            };
            let ct = if colors == 1 {
                ExtendedColorType::L8
            } else {
                ExtendedColorType::Rgb8
            };
            let data = zlib_png_rows(raw, w, h, ct)?;
            (
                format!(
                    "/Width {w} /Height {h} /ColorSpace /{cs} /BitsPerComponent 8 /Filter /FlateDecode \
                     /DecodeParms << /Predictor 15 /Colors {colors} /BitsPerComponent 8 /Columns {w} >>"
                ),
                data,
            )
        }
        (PackFilter::Flate1Bit, _) => {
            let packed = pack_bits(&page.gray(), false);
            // Packed rows pose as an 8-bit gray image ⌈w/8⌉ wide: its PNG predictors (1 byte
            // per pixel) are exactly those PDF applies to 1-bit rows of w pixels.
            let data = zlib_png_rows(&packed, w.div_ceil(8), h, ExtendedColorType::L8)?;
            (
                format!(
                    "/Width {w} /Height {h} /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode \
                     /DecodeParms << /Predictor 15 /Colors 1 /BitsPerComponent 1 /Columns {w} >>"
                ),
                data,
            )
        }
        (PackFilter::CcittG4, _) => {
            let data = encode_g4(&page.gray(), BILEVEL_THRESHOLD);
            (
                format!(
                    "/Width {w} /Height {h} /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /CCITTFaxDecode \
                     /DecodeParms << /K -1 /Columns {w} /Rows {h} /BlackIs1 false >>"
                ),
                data,
            )
        }
        (PackFilter::Raw, PackPage::Rgb(i)) => (
            format!("/Width {w} /Height {h} /ColorSpace /DeviceRGB /BitsPerComponent 8"),
            i.as_raw().clone(),
        ),
        (PackFilter::Raw, PackPage::Gray(i)) => (
            format!("/Width {w} /Height {h} /ColorSpace /DeviceGray /BitsPerComponent 8"),
            i.as_raw().clone(),
        ),
    })
}

/// Pack a gray page to 1 bit per pixel, rows padded to a byte. With `one_is_black`, a set bit
/// is a black pixel (TIFF WhiteIsZero), otherwise a white one (PDF DeviceGray).
fn pack_bits(image: &GrayImage, one_is_black: bool) -> Vec<u8> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let stride = w.div_ceil(8);
    let mut out = vec![0u8; stride * h];
    for (y, row) in image.as_raw().chunks_exact(w.max(1)).enumerate().take(h) {
        let dst = &mut out[y * stride..(y + 1) * stride];
        for (x, &p) in row.iter().enumerate() {
            if (p < BILEVEL_THRESHOLD) == one_is_black {
                dst[x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    out
}

/// Zlib stream of PNG-filtered rows (the concatenated IDAT data of a PNG encoding).
fn zlib_png_rows(raw: &[u8], w: u32, h: u32, ct: ExtendedColorType) -> io::Result<Vec<u8>> {
    let mut png = Vec::new();
    PngEncoder::new_with_quality(&mut png, CompressionType::Fast, FilterType::Adaptive)
        .write_image(raw, w, h, ct)
        .map_err(io::Error::other)?;
    let mut out = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let len = u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]) as usize;
        let kind = &png[at + 4..at + 8];
        let data = png
            .get(at + 8..at + 8 + len)
            .ok_or_else(|| io::Error::other("bad PNG chunk"))?;
        if kind == b"IDAT" {
            out.extend_from_slice(data);
        }
        at += 12 + len;
    }
    Ok(out)
}

/// How pages are stored in a TIFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TiffPack {
    /// 1-bit CCITT Group 4, WhiteIsZero (fax style, what office scanners write).
    G4,
    /// 8-bit gray, LZW.
    Lzw,
    /// 8-bit gray, uncompressed.
    Uncompressed,
    /// 1-bit, uncompressed, WhiteIsZero.
    Bilevel,
}

/// Write `pages` as a multi-page TIFF at `path`, each page tagged with `dpi`.
///
/// # Errors
/// [`PageError::Write`] if the file cannot be written.
pub fn write_tiff(
    path: impl AsRef<Path>,
    pages: &[GrayImage],
    pack: TiffPack,
    dpi: f32,
) -> Result<(), PageError> {
    let path = path.as_ref();
    let mut packer = TiffPacker::create(path, pack, dpi)?;
    for page in pages {
        packer.add_page(page)?;
    }
    packer.finish()
}

/// The output file, shared between the TIFF encoder (which cannot give its writer back) and
/// [`TiffPacker::finish`], which must flush it and report a failure.
#[derive(Clone)]
struct SharedFile(Arc<Mutex<BufWriter<File>>>);

impl SharedFile {
    fn lock(&self) -> io::Result<std::sync::MutexGuard<'_, BufWriter<File>>> {
        self.0
            .lock()
            .map_err(|_| io::Error::other("TIFF writer poisoned"))
    }
}

impl Write for SharedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.lock()?.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.lock()?.flush()
    }
}

impl Seek for SharedFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.lock()?.seek(pos)
    }
}

/// A multi-page TIFF being written page by page. Call [`TiffPacker::finish`] at the end.
pub struct TiffPacker {
    path: std::path::PathBuf,
    file: SharedFile,
    enc: TiffEncoder<SharedFile>,
    pack: TiffPack,
    resolution: Rational,
}

impl TiffPacker {
    /// Create the file.
    ///
    /// # Errors
    /// [`PageError::Write`].
    pub fn create(path: impl AsRef<Path>, pack: TiffPack, dpi: f32) -> Result<Self, PageError> {
        let path = path.as_ref().to_path_buf();
        let err = |detail: String| PageError::Write {
            path: path.clone(),
            detail,
        };
        let file = File::create(&path).map_err(|e| err(e.to_string()))?;
        let file = SharedFile(Arc::new(Mutex::new(BufWriter::new(file))));
        let compression = if pack == TiffPack::Lzw {
            Compression::Lzw
        } else {
            Compression::Uncompressed
        };
        let enc = TiffEncoder::new(file.clone())
            .map_err(|e| err(e.to_string()))?
            .with_compression(compression);
        let resolution = Rational {
            n: (f64::from(dpi) * 100.0)
                .round()
                .clamp(1.0, f64::from(u32::MAX)) as u32,
            d: 100,
        };
        Ok(Self {
            path,
            file,
            enc,
            pack,
            resolution,
        })
    }

    /// Encode and append one page.
    ///
    /// # Errors
    /// [`PageError::Write`].
    pub fn add_page(&mut self, page: &GrayImage) -> Result<(), PageError> {
        let err = |e: tiff::TiffError| PageError::Write {
            path: self.path.clone(),
            detail: e.to_string(),
        };
        let (w, h) = page.dimensions();
        match self.pack {
            TiffPack::Lzw | TiffPack::Uncompressed => {
                let mut image = self.enc.new_image::<colortype::Gray8>(w, h).map_err(err)?;
                image.resolution(ResolutionUnit::Inch, self.resolution.clone());
                image.write_data(page.as_raw()).map_err(err)
            }
            TiffPack::G4 | TiffPack::Bilevel => {
                let (data, compression) = if self.pack == TiffPack::G4 {
                    (encode_g4(page, BILEVEL_THRESHOLD), 4u16)
                } else {
                    (pack_bits(page, true), 1u16)
                };
                let resolution = self.resolution.clone();
                let mut dir = self.enc.image_directory().map_err(err)?;
                let offset = dir.write_data(data.as_slice()).map_err(err)?;
                let offset = u32::try_from(offset).map_err(|_| PageError::Write {
                    path: self.path.clone(),
                    detail: "TIFF larger than 4 GB".to_string(),
                })?;
                dir.write_tag(Tag::ImageWidth, w).map_err(err)?;
                dir.write_tag(Tag::ImageLength, h).map_err(err)?;
                dir.write_tag(Tag::BitsPerSample, 1u16).map_err(err)?;
                dir.write_tag(Tag::Compression, compression).map_err(err)?;
                dir.write_tag(Tag::PhotometricInterpretation, 0u16)
                    .map_err(err)?;
                dir.write_tag(Tag::StripOffsets, offset).map_err(err)?;
                dir.write_tag(Tag::SamplesPerPixel, 1u16).map_err(err)?;
                dir.write_tag(Tag::RowsPerStrip, h).map_err(err)?;
                dir.write_tag(Tag::StripByteCounts, data.len() as u32)
                    .map_err(err)?;
                dir.write_tag(Tag::XResolution, resolution.clone())
                    .map_err(err)?;
                dir.write_tag(Tag::YResolution, resolution).map_err(err)?;
                dir.write_tag(Tag::ResolutionUnit, 2u16).map_err(err)?;
                dir.finish().map_err(err)
            }
        }
    }

    /// Flush the file.
    ///
    /// # Errors
    /// [`PageError::Write`].
    pub fn finish(self) -> Result<(), PageError> {
        drop(self.enc);
        let flushed = self.file.lock().and_then(|mut w| w.flush());
        flushed.map_err(|e| PageError::Write {
            path: self.path,
            detail: e.to_string(),
        })
    }
}
