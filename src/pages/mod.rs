//! Read pages: turn scanned returns (PDF, TIFF, PNG, JPEG) into 8-bit grayscale page images.
//!
//! This is the first stage of reading a batch. It knows nothing about forms; it only answers
//! "which files are there", "how many pages does this file have" and "give me page *n* as
//! gray pixels (0 = black, 255 = white) and, if known, the scan resolution".
//!
//! # Streaming
//! A batch can be thousands of pages. Nothing here holds more than one decoded page per call:
//! [`discover`] only lists paths, [`open`] parses a file's structure once (the PDF object tree
//! or the TIFF directory chain) and [`Source::load_page`] decodes one page at a time. For PDFs
//! the large image streams are never held in memory: opening skips over them and a page's
//! image is read from disk when that page is asked for (see `pdf.rs`). Opening a 200 MB,
//! 100-page scan PDF peaks at ≈ 17 MB resident.
//!
//! # Formats
//! - **PDF** (one scanned image per page, as scanners and `img2pdf`/`tiff2pdf` write them):
//!   filters DCTDecode, FlateDecode (with PNG/TIFF predictors), LZWDecode, RunLengthDecode,
//!   ASCII85/ASCIIHex, CCITTFaxDecode (G3 1-D, G3 2-D, G4), chains of those, and raw samples;
//!   1/2/4/8/16 bits per component; DeviceGray/RGB/CMYK, CalGray/CalRGB, ICCBased (by /N),
//!   Indexed, ImageMask; `/Decode` arrays; `/Rotate`; unfiltered inline images. JBIG2Decode
//!   and JPXDecode are refused by name. When a page has several images the largest one that
//!   the page actually paints wins.
//! - **TIFF**: multi-page; uncompressed, LZW, Deflate, PackBits, JPEG, CCITT RLE/G3/G4
//!   (G3/G4 decoded here, including FillOrder 2); 1/8/16-bit gray, palette, RGB(A), CMYK.
//! - **PNG / JPEG**: any bit depth and colour type the `image` crate reads; JPEG EXIF
//!   orientation is applied.
//!
//! # Damaged PDFs
//! A PDF cut short (an interrupted copy) or with a broken cross-reference table is not
//! refused whole: `salvage.rs` recovers every page image that is whole in it and gives each
//! missing or half-written page its own error saying to scan it again, so nothing is lost
//! silently ([`Source::damage`] says what happened). Pages need no page tree: each names
//! itself in its QR code.
//!
//! # Safety on hostile input
//! Every size is checked against [`MAX_SIDE`]/[`MAX_PIXELS`] before a buffer is allocated, all
//! arithmetic on values from the file is checked, and every decode runs under
//! `catch_unwind` so that a panicking third-party decoder becomes a [`PageError::Panicked`]
//! for that page instead of ending the batch.

mod ccitt;
mod error;
mod pdf;
mod pdf_image;
mod raster;
mod salvage;
mod tif;

pub mod pack;
pub mod pool;

use error::Fault;
pub use error::{PageError, PageRef};
pub use salvage::Damage;

use image::GrayImage;
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Largest accepted image side in pixels. A 600-dpi A3 scan is 7016 × 9921 px; anything past
/// 12000 px is a wrong scanner setting or a decompression bomb.
pub const MAX_SIDE: u64 = 12_000;

/// Largest accepted image area in pixels (150 Mpx = 150 MB of gray). Checked together with
/// [`MAX_SIDE`] before any pixel buffer is allocated; with sides capped at 12000 px it only
/// bites if that cap is ever raised.
pub const MAX_PIXELS: u64 = 150_000_000;

/// Smallest accepted image side in pixels. An A4 sheet at 100 px is ≈ 12 dpi: no mark or
/// code on a form survives that, so such an image is a logo or thumbnail, not a scan.
pub const MIN_SIDE: u64 = 100;

/// The kinds of input file we read, by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InputKind {
    /// A PDF with one scanned image per page.
    Pdf,
    /// A (multi-page) TIFF.
    Tiff,
    /// A PNG image (one page).
    Png,
    /// A JPEG image (one page).
    Jpeg,
}

impl InputKind {
    /// The kind a file name suggests, by its extension (case-insensitive).
    #[must_use]
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "pdf" => Some(Self::Pdf),
            "tif" | "tiff" => Some(Self::Tiff),
            "png" => Some(Self::Png),
            "jpg" | "jpeg" | "jpe" | "jfif" => Some(Self::Jpeg),
            _ => None,
        }
    }

    /// The human name of the format.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Pdf => "PDF",
            Self::Tiff => "TIFF",
            Self::Png => "PNG",
            Self::Jpeg => "JPEG",
        }
    }

    /// The kind the first bytes of a file reveal, if any.
    fn sniff(head: &[u8]) -> Option<Self> {
        if head.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Self::Jpeg)
        } else if head.starts_with(b"II*\0")
            || head.starts_with(b"MM\0*")
            || head.starts_with(b"II+\0")
            || head.starts_with(b"MM\0+")
        {
            Some(Self::Tiff)
        } else if find(head, b"%PDF-").is_some() {
            // The PDF spec tolerates junk before the header; readers look in the first 1 KB.
            Some(Self::Pdf)
        } else {
            None
        }
    }
}

/// One input file to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InputFile {
    /// Where it is.
    pub path: PathBuf,
    /// What it is (from its extension; [`open`] checks the content).
    pub kind: InputKind,
}

impl InputFile {
    /// An input file whose kind is taken from its extension, if supported.
    #[must_use]
    pub fn from_path(path: impl Into<PathBuf>) -> Option<Self> {
        let path = path.into();
        let kind = InputKind::from_path(&path)?;
        Some(Self { path, kind })
    }
}

/// The result of [`discover`].
#[derive(Debug, Default)]
pub struct Discovered {
    /// Supported files, sorted by path, each once.
    pub files: Vec<InputFile>,
    /// Files inside folders that were passed over, with the reason (unsupported type, hidden).
    pub skipped: Vec<(PathBuf, String)>,
    /// Paths named explicitly that cannot be read: missing, unreadable, or unsupported type.
    pub errors: Vec<PageError>,
}

/// Recursively expand files and folders into supported input files, sorted by path.
///
/// - Files inside folders with an unsupported extension, and hidden files (names starting with
///   `.`, such as macOS `._scan.pdf` resource forks), go to [`Discovered::skipped`].
/// - A file named explicitly with an unsupported extension, or a path that does not exist, is
///   an entry in [`Discovered::errors`].
/// - Symbolic links are followed; a folder reached twice (a link loop) is walked once.
/// - The same file reached twice (named and inside a named folder) is listed once.
///
/// The result is deterministic: files are sorted by path (byte order of the components).
#[must_use]
pub fn discover(inputs: &[PathBuf]) -> Discovered {
    let mut out = Discovered::default();
    let mut seen_dirs = HashSet::new();
    for input in inputs {
        match fs::metadata(input) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.errors.push(PageError::NotFound {
                    path: input.clone(),
                });
            }
            Err(source) => out.errors.push(PageError::Io {
                path: input.clone(),
                source,
            }),
            Ok(meta) if meta.is_dir() => walk_dir(input, &mut out, &mut seen_dirs),
            Ok(_) => match InputFile::from_path(input.clone()) {
                Some(file) => out.files.push(file),
                None => out.errors.push(PageError::UnsupportedFile {
                    path: input.clone(),
                }),
            },
        }
    }
    out.files.sort();
    // The same file may be reached under two spellings; keep the first (sorted) one.
    let mut seen_files = HashSet::new();
    out.files.retain(|f| {
        seen_files.insert(fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone()))
    });
    out.skipped.sort();
    out
}

fn walk_dir(dir: &Path, out: &mut Discovered, seen: &mut HashSet<PathBuf>) {
    let canonical = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    if !seen.insert(canonical) {
        return;
    }
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(source) => {
            out.errors.push(PageError::Io {
                path: dir.to_path_buf(),
                source,
            });
            return;
        }
    };
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        match entry {
            Ok(entry) => paths.push(entry.path()),
            Err(source) => out.errors.push(PageError::Io {
                path: dir.to_path_buf(),
                source,
            }),
        }
    }
    paths.sort();
    for path in paths {
        let hidden = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            out.skipped.push((path, "hidden file".to_string()));
            continue;
        }
        match fs::metadata(&path) {
            Ok(meta) if meta.is_dir() => walk_dir(&path, out, seen),
            Ok(_) => match InputFile::from_path(path.clone()) {
                Some(file) => out.files.push(file),
                None => {
                    let reason = match path.extension() {
                        Some(ext) => format!("unsupported file type .{}", ext.to_string_lossy()),
                        None => "unsupported file type (no extension)".to_string(),
                    };
                    out.skipped.push((path, reason));
                }
            },
            // A dangling link or a file removed since listing: report, do not stop.
            Err(source) => out.errors.push(PageError::Io { path, source }),
        }
    }
}

/// SHA-256 of a file's bytes, as lowercase hex. Streams the file; memory use is constant.
///
/// # Errors
/// [`PageError::Io`] if the file cannot be read.
pub fn sha256_file(path: impl AsRef<Path>) -> Result<String, PageError> {
    let path = path.as_ref();
    let io = |source| PageError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// One decoded page.
#[derive(Debug, Clone)]
pub struct PageImage {
    /// 8-bit gray, 0 = black, 255 = white, upright as a viewer would show it
    /// (PDF `/Rotate` and JPEG EXIF orientation applied).
    pub image: GrayImage,
    /// Scan resolution in dots per inch, if the file says (TIFF/PNG/JPEG tags) or it can be
    /// derived (PDF: image pixels over page size). `None` when unknown.
    pub dpi: Option<f32>,
}

/// An opened input file: its structure parsed once, its pages decoded on demand.
///
/// `Source` is `Send + Sync`: several threads may pull different pages of one file.
pub struct Source {
    path: PathBuf,
    kind: InputKind,
    inner: Inner,
}

enum Inner {
    Pdf(Box<pdf::PdfSource>),
    Salvaged(Box<salvage::Salvaged>),
    Tiff(Box<tif::TiffSource>),
    Raster(raster::RasterSource),
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .field("pages", &self.page_count())
            .finish()
    }
}

impl Source {
    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The format found in the file's content (may differ from the extension).
    #[must_use]
    pub fn kind(&self) -> InputKind {
        self.kind
    }

    /// Number of pages (at least 1: [`open`] refuses files without pages).
    #[must_use]
    pub fn page_count(&self) -> usize {
        match &self.inner {
            Inner::Pdf(s) => s.page_count(),
            Inner::Salvaged(s) => s.page_count(),
            Inner::Tiff(s) => s.page_count(),
            Inner::Raster(_) => 1,
        }
    }

    /// What is wrong with a damaged PDF whose pages were recovered, None for a sound file.
    /// Its pages are the page images found whole, then a place for each page it lacks (see
    /// [`Damage`]); reading one of those gives [`PageError::Lost`] or
    /// [`PageError::PagesUnknown`].
    #[must_use]
    pub fn damage(&self) -> Option<Damage> {
        match &self.inner {
            Inner::Salvaged(s) => Some(s.damage()),
            _ => None,
        }
    }

    /// Decode page `index` (0-based) to 8-bit gray.
    ///
    /// # Errors
    /// A [`PageError`] naming the file and the 1-based page: out of range, no image on the
    /// page, unsupported compression or colour space, size limits, damaged data, a decoder
    /// crash, or the file having changed since [`open`].
    pub fn load_page(&self, index: usize) -> Result<PageImage, PageError> {
        let count = self.page_count();
        if index >= count {
            return Err(PageError::PageOutOfRange {
                path: self.path.clone(),
                page: index.saturating_add(1),
                count,
            });
        }
        let page = PageRef::new(index + 1, count);
        let result = catch(|| match &self.inner {
            Inner::Pdf(s) => s.load_page(index),
            Inner::Salvaged(s) => s.load_page(index),
            Inner::Tiff(s) => s.load_page(index),
            Inner::Raster(s) => s.load(),
        });
        match result {
            Ok(Ok(image)) => Ok(image),
            Ok(Err(fault)) => Err(fault.at(&self.path, page)),
            Err(detail) => {
                if let Inner::Tiff(s) = &self.inner {
                    // The decoder's state is unknown after a panic; start afresh next time.
                    s.reset();
                }
                Err(PageError::Panicked {
                    path: self.path.clone(),
                    page: Some(page),
                    detail,
                })
            }
        }
    }
}

/// Open a file: check its content, parse its structure once, count its pages.
///
/// The kind is taken from the file's first bytes; when they reveal another supported format
/// than the extension (a JPEG saved as `.pdf`), the content wins.
///
/// # Errors
/// [`PageError::Io`], [`PageError::NotRecognised`] (garbage or empty file),
/// [`PageError::Encrypted`], [`PageError::Corrupt`], [`PageError::NoPages`],
/// [`PageError::Panicked`].
pub fn open(file: &InputFile) -> Result<Source, PageError> {
    let path = file.path.clone();
    let io = |source| PageError::Io {
        path: path.clone(),
        source,
    };
    let mut head = Vec::with_capacity(1024);
    fs::File::open(&path)
        .map_err(io)?
        .take(1024)
        .read_to_end(&mut head)
        .map_err(io)?;
    let Some(kind) = InputKind::sniff(&head) else {
        let detail = if head.is_empty() {
            "the file is empty".to_string()
        } else {
            format!("it starts with {}", describe_bytes(&head))
        };
        return Err(PageError::NotRecognised {
            path,
            expected: file.kind.name(),
            detail,
        });
    };
    let inner = catch(|| -> Result<Inner, PageError> {
        Ok(match kind {
            InputKind::Pdf => match pdf::PdfSource::open(&path)? {
                pdf::Opened::Whole(s) => Inner::Pdf(s),
                pdf::Opened::Salvaged(s) => Inner::Salvaged(s),
            },
            InputKind::Tiff => Inner::Tiff(Box::new(tif::TiffSource::open(&path)?)),
            InputKind::Png | InputKind::Jpeg => {
                Inner::Raster(raster::RasterSource::new(&path, kind))
            }
        })
    })
    .map_err(|detail| PageError::Panicked {
        path: path.clone(),
        page: None,
        detail,
    })??;
    let source = Source { path, kind, inner };
    if source.page_count() == 0 {
        return Err(PageError::NoPages { path: source.path });
    }
    Ok(source)
}

/// Number of pages of a file without decoding any image (PDF page tree, TIFF directory chain).
///
/// # Errors
/// As [`open`].
pub fn page_count(file: &InputFile) -> Result<usize, PageError> {
    open(file).map(|s| s.page_count())
}

/// Decode page `index` (0-based) of a file. Convenience for one-off use: it parses the file
/// each time, so loops over many pages should [`open`] once and call [`Source::load_page`].
///
/// # Errors
/// As [`open`] and [`Source::load_page`].
pub fn load_page(file: &InputFile, index: usize) -> Result<PageImage, PageError> {
    open(file)?.load_page(index)
}

// ---------------------------------------------------------------------------------------------
// Shared helpers for the format modules.

/// Run `f`, turning a panic into its message. Third-party decoders can panic on garbage.
fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
        if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "unknown panic".to_string()
        }
    })
}

/// Refuse sizes outside [`MIN_SIDE`]..=[`MAX_SIDE`] / [`MAX_PIXELS`]. Call before allocating.
fn check_size(width: u64, height: u64) -> Result<(), Fault> {
    if width > MAX_SIDE || height > MAX_SIDE || width.saturating_mul(height) > MAX_PIXELS {
        return Err(Fault::TooLarge(width, height));
    }
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(Fault::TooSmall(width, height));
    }
    Ok(())
}

/// Luma of an sRGB-ish pixel with the Rec. 601 weights JPEG uses for Y (77 + 150 + 29 = 256),
/// so a gray page stored as RGB comes back with the same values it would have as gray.
#[inline]
fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b) + 128) >> 8) as u8
}

/// Gray of a CMYK pixel (0 = no ink), by the naive multiplicative conversion to RGB.
#[inline]
fn cmyk_gray(c: u8, m: u8, y: u8, k: u8) -> u8 {
    let kw = 255 - u32::from(k);
    let ch = |v: u8| ((255 - u32::from(v)) * kw / 255) as u8;
    luma(ch(c), ch(m), ch(y))
}

/// Convert interleaved 8-bit samples with `channels` per pixel to gray, in place, and return
/// the buffer truncated to one byte per pixel. `kind` says how to read the channels.
fn interleaved_to_gray(mut buf: Vec<u8>, channels: usize, kind: Channels) -> Vec<u8> {
    let pixels = buf.len() / channels.max(1);
    // Writing pixel i only touches byte i, and reads come from bytes ≥ i·channels ≥ i.
    for i in 0..pixels {
        let p = i * channels;
        buf[i] = match kind {
            Channels::GrayFirst => buf[p],
            Channels::Rgb => luma(buf[p], buf[p + 1], buf[p + 2]),
            Channels::Cmyk => cmyk_gray(buf[p], buf[p + 1], buf[p + 2], buf[p + 3]),
        };
    }
    buf.truncate(pixels);
    buf.shrink_to_fit();
    buf
}

/// How to read interleaved channels in [`interleaved_to_gray`].
#[derive(Clone, Copy, Debug)]
enum Channels {
    /// Gray (+ alpha or extra samples, ignored).
    GrayFirst,
    /// Red, green, blue (+ alpha, ignored).
    Rgb,
    /// Cyan, magenta, yellow, black.
    Cmyk,
}

/// Convert a decoded `image` crate buffer to gray. 16-bit samples keep their high byte.
fn image_buffer_to_gray(buf: Vec<u8>, color: image::ColorType) -> Result<Vec<u8>, Fault> {
    use image::ColorType as C;
    let high_bytes = |buf: Vec<u8>| -> Vec<u8> {
        buf.chunks_exact(2)
            .map(|c| (u16::from_ne_bytes([c[0], c[1]]) >> 8) as u8)
            .collect()
    };
    Ok(match color {
        C::L8 => buf,
        C::La8 => interleaved_to_gray(buf, 2, Channels::GrayFirst),
        C::Rgb8 => interleaved_to_gray(buf, 3, Channels::Rgb),
        C::Rgba8 => interleaved_to_gray(buf, 4, Channels::Rgb),
        C::L16 => high_bytes(buf),
        C::La16 => interleaved_to_gray(high_bytes(buf), 2, Channels::GrayFirst),
        C::Rgb16 => interleaved_to_gray(high_bytes(buf), 3, Channels::Rgb),
        C::Rgba16 => interleaved_to_gray(high_bytes(buf), 4, Channels::Rgb),
        other => return Err(Fault::Unsupported(format!("pixel format {other:?}"))),
    })
}

/// Wrap a gray buffer; the caller guarantees `buf.len() == width * height`.
fn gray_image(width: u32, height: u32, buf: Vec<u8>) -> Result<GrayImage, Fault> {
    GrayImage::from_raw(width, height, buf)
        .ok_or_else(|| Fault::Decode(format!("decoded data does not fill {width}×{height} px")))
}

/// Position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Up to 8 leading bytes, printable ones as text, for "it starts with …" messages.
fn describe_bytes(head: &[u8]) -> String {
    let shown = &head[..head.len().min(8)];
    if shown.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("\"{}\"", String::from_utf8_lossy(shown))
    } else {
        shown
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Size and modification time of a file, to notice it changing between [`open`] and a later
/// page read (a copy still in progress, a scanner overwriting its output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
}

impl FileStamp {
    fn of(file: &fs::File) -> std::io::Result<Self> {
        let meta = file.metadata()?;
        Ok(Self {
            len: meta.len(),
            modified: meta.modified().ok(),
        })
    }

    /// Open `path` again and check that it is still the file we parsed.
    fn reopen(&self, path: &Path) -> Result<fs::File, Fault> {
        let file = fs::File::open(path)?;
        if Self::of(&file)? != *self {
            return Err(Fault::Changed);
        }
        Ok(file)
    }
}

/// A dpi value from a file, or `None` if it is missing or absurd (some tools write 0 or 1 to
/// mean "unknown").
fn plausible_dpi(dpi: f64) -> Option<f32> {
    (dpi.is_finite() && (10.0..=20_000.0).contains(&dpi)).then_some(dpi as f32)
}

#[cfg(test)]
mod tests;
