//! Errors of the read-pages stage.
//!
//! Two layers:
//! - [`PageError`] is public. Every variant names the file and, where it is about one page,
//!   the 1-based page number, so that a clerk reading a batch report knows which sheet to pull
//!   and what to do about it.
//! - [`Fault`] is internal. Decoders deep inside a format do not know which file or page they
//!   are working on; they return a `Fault`, and the [`super::Source`] that called them attaches
//!   the path and page with [`Fault::at`].

use std::path::{Path, PathBuf};

/// Why a file or a page could not be turned into a grayscale image.
///
/// Page numbers are 1-based, as a clerk counts them. [`PageError::code`] gives a stable short
/// identifier for reports and databases; the `Display` text is meant for people.
#[derive(thiserror::Error, Debug)]
#[non_exhaustive]
pub enum PageError {
    /// The operating system refused to read (or write) the file.
    #[error("{}: cannot read the file: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },

    /// A path given on the command line does not exist.
    #[error("{}: no such file or folder", .path.display())]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },

    /// A file was named explicitly but is not a PDF, TIFF, PNG or JPEG.
    #[error(
        "{}: unsupported file type{}; pingyi reads scans saved as PDF, TIFF, PNG or JPEG",
        .path.display(),
        .path.extension().map(|e| format!(" .{}", e.to_string_lossy())).unwrap_or_default()
    )]
    UnsupportedFile {
        /// The file.
        path: PathBuf,
    },

    /// The bytes of the file are not the format its name promises (or any format we read).
    #[error("{}: this is not a readable {expected} file ({detail})", .path.display())]
    NotRecognised {
        /// The file.
        path: PathBuf,
        /// The format the name suggested, e.g. "PDF".
        expected: &'static str,
        /// What was found instead.
        detail: String,
    },

    /// The PDF is password protected.
    #[error(
        "{}: encrypted PDF: decrypt it first (for example `qpdf --decrypt --password=PASSWORD in.pdf out.pdf`)",
        .path.display()
    )]
    Encrypted {
        /// The file.
        path: PathBuf,
    },

    /// The file is damaged or was cut short (an interrupted copy or download).
    #[error("{}: {}damaged or truncated file: {detail}", .path.display(), page_prefix(*.page))]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The page, when the damage was found while reading one page.
        page: Option<PageRef>,
        /// What exactly was wrong.
        detail: String,
    },

    /// A PDF or TIFF without a single page.
    #[error("{}: the file contains no pages", .path.display())]
    NoPages {
        /// The file.
        path: PathBuf,
    },

    /// A caller asked for a page the file does not have.
    #[error("{}: there is no page {page}; the file has {count} page(s)", .path.display())]
    PageOutOfRange {
        /// The file.
        path: PathBuf,
        /// The page asked for (1-based).
        page: usize,
        /// How many pages the file has.
        count: usize,
    },

    /// A PDF page that carries no raster image: a printed original, not a scan.
    #[error(
        "{}: {page}no scanned image on the page — is this a printed original rather than a scan?",
        .path.display()
    )]
    NoImage {
        /// The file.
        path: PathBuf,
        /// The page.
        page: PageRef,
    },

    /// The page image uses a compression we cannot decode (JBIG2, JPEG 2000, …).
    #[error(
        "{}: {page}the scan is compressed with {filter}, which pingyi cannot decode; \
         set the scanner to JPEG or CCITT G4 (TIFF/PDF), or convert the file first \
         (for example `pdftoppm -r 300 -gray -png in.pdf page`)",
        .path.display()
    )]
    UnsupportedFilter {
        /// The file.
        path: PathBuf,
        /// The page.
        page: PageRef,
        /// The filter or compression name, e.g. "JBIG2Decode".
        filter: String,
    },

    /// The page image uses a colour space we cannot turn into gray.
    #[error(
        "{}: {page}the image colour space {space} is not supported; scan in gray or colour",
        .path.display()
    )]
    UnsupportedColorSpace {
        /// The file.
        path: PathBuf,
        /// The page.
        page: PageRef,
        /// The colour space as named in the file.
        space: String,
    },

    /// Some other image feature we do not read (a bit depth, a TIFF layout, …).
    #[error("{}: {page}unsupported image: {detail}", .path.display())]
    UnsupportedImage {
        /// The file.
        path: PathBuf,
        /// The page.
        page: PageRef,
        /// What was found.
        detail: String,
    },

    /// The image is larger than any sane scan: refused before allocating memory for it.
    #[error(
        "{}: {page}the image is {width}×{height} px, more than the limit of {} px a side \
         or {} megapixels; scan at 300–600 dpi",
        .path.display(), super::MAX_SIDE, super::MAX_PIXELS / 1_000_000
    )]
    ImageTooLarge {
        /// The file.
        path: PathBuf,
        /// The page.
        page: PageRef,
        /// Declared width in pixels.
        width: u64,
        /// Declared height in pixels.
        height: u64,
    },

    /// The image is far too small to be a scanned page.
    #[error(
        "{}: {page}the image is only {width}×{height} px, too small to be a scanned page \
         (at least {} px a side)",
        .path.display(), super::MIN_SIDE
    )]
    ImageTooSmall {
        /// The file.
        path: PathBuf,
        /// The page.
        page: PageRef,
        /// Width in pixels.
        width: u64,
        /// Height in pixels.
        height: u64,
    },

    /// The compressed image data is damaged.
    #[error("{}: {page}the image data is damaged: {detail}", .path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// The page.
        page: PageRef,
        /// What the decoder reported.
        detail: String,
    },

    /// A page that a damaged file does not hold whole — the file was cut short before or
    /// inside its image, or the image data is not what the file says — so it must be scanned
    /// again. Such a page is never read from what is left of it.
    #[error("{}: {page}{detail}; scan this page again", .path.display())]
    Lost {
        /// The file.
        path: PathBuf,
        /// The page.
        page: PageRef,
        /// What is missing, e.g. "the file was cut short inside this page's image".
        detail: String,
    },

    /// A damaged file that does not say how many pages it had: any pages after the last one
    /// found in it are lost without a trace, so the clerk must check the paper.
    #[error(
        "{}: {} after page {last}, and it does not say how many pages it had; scan again any page that came after page {last}",
        .path.display(),
        if *.cut { "the file was cut short" } else { "the file's page list is damaged" }
    )]
    PagesUnknown {
        /// The file.
        path: PathBuf,
        /// The last page found in the file (1-based).
        last: usize,
        /// Whether the file ends early (no `%%EOF`), rather than being damaged inside.
        cut: bool,
    },

    /// A third-party decoder panicked; caught and reported instead of taking the batch down.
    #[error(
        "{}: {}the decoder crashed on this input ({detail}); the file is probably damaged",
        .path.display(), page_prefix(*.page)
    )]
    Panicked {
        /// The file.
        path: PathBuf,
        /// The page, if the crash happened while reading one page.
        page: Option<PageRef>,
        /// The panic message.
        detail: String,
    },

    /// The file was modified while we were reading it (a copy still in progress?).
    #[error(
        "{}: the file changed on disk while it was being read; wait for the copy to finish and run again",
        .path.display()
    )]
    Changed {
        /// The file.
        path: PathBuf,
    },

    /// Writing a file (the [`super::pack`] helpers) failed.
    #[error("{}: cannot write: {detail}", .path.display())]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

fn page_prefix(page: Option<PageRef>) -> String {
    page.map(|p| p.to_string()).unwrap_or_default()
}

/// Which page of a file an error is about. It shows as the prefix "page 3: ", or as nothing
/// in a file of one page, where "page 1" would only make the clerk look for other pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRef {
    /// The page, 1-based as a clerk counts.
    pub number: usize,
    /// Pages in the file, when known.
    pub of: Option<usize>,
}

impl PageRef {
    /// Page `number` (1-based) of a file of `of` pages.
    #[must_use]
    pub fn new(number: usize, of: usize) -> Self {
        Self {
            number,
            of: Some(of),
        }
    }

    /// Page `number` of a file whose page count is not known yet (found while counting).
    #[must_use]
    pub fn uncounted(number: usize) -> Self {
        Self { number, of: None }
    }
}

impl std::fmt::Display for PageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.of == Some(1) {
            Ok(())
        } else {
            write!(f, "page {}: ", self.number)
        }
    }
}

impl PageError {
    /// The file this error is about.
    #[must_use]
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. }
            | Self::NotFound { path }
            | Self::UnsupportedFile { path }
            | Self::NotRecognised { path, .. }
            | Self::Encrypted { path }
            | Self::Corrupt { path, .. }
            | Self::NoPages { path }
            | Self::PageOutOfRange { path, .. }
            | Self::NoImage { path, .. }
            | Self::UnsupportedFilter { path, .. }
            | Self::UnsupportedColorSpace { path, .. }
            | Self::UnsupportedImage { path, .. }
            | Self::ImageTooLarge { path, .. }
            | Self::ImageTooSmall { path, .. }
            | Self::Decode { path, .. }
            | Self::Lost { path, .. }
            | Self::PagesUnknown { path, .. }
            | Self::Panicked { path, .. }
            | Self::Changed { path }
            | Self::Write { path, .. } => path,
        }
    }

    /// The 1-based page this error is about, if it is about one page rather than the file.
    #[must_use]
    pub fn page(&self) -> Option<usize> {
        match self {
            Self::Corrupt { page, .. } | Self::Panicked { page, .. } => page.map(|p| p.number),
            Self::PageOutOfRange { page, .. } => Some(*page),
            Self::Lost { page, .. } => Some(page.number),
            Self::NoImage { page, .. }
            | Self::UnsupportedFilter { page, .. }
            | Self::UnsupportedColorSpace { page, .. }
            | Self::UnsupportedImage { page, .. }
            | Self::ImageTooLarge { page, .. }
            | Self::ImageTooSmall { page, .. }
            | Self::Decode { page, .. } => Some(page.number),
            _ => None,
        }
    }

    /// A stable short identifier of the failure mode, for reports and databases.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "io",
            Self::NotFound { .. } => "not_found",
            Self::UnsupportedFile { .. } => "unsupported_file",
            Self::NotRecognised { .. } => "not_recognised",
            Self::Encrypted { .. } => "encrypted",
            Self::Corrupt { .. } => "corrupt",
            Self::NoPages { .. } => "no_pages",
            Self::PageOutOfRange { .. } => "page_out_of_range",
            Self::NoImage { .. } => "no_image",
            Self::UnsupportedFilter { .. } => "unsupported_filter",
            Self::UnsupportedColorSpace { .. } => "unsupported_color_space",
            Self::UnsupportedImage { .. } => "unsupported_image",
            Self::ImageTooLarge { .. } => "image_too_large",
            Self::ImageTooSmall { .. } => "image_too_small",
            Self::Decode { .. } => "decode",
            Self::Lost { .. } => "lost",
            Self::PagesUnknown { .. } => "pages_unknown",
            Self::Panicked { .. } => "panicked",
            Self::Changed { .. } => "changed",
            Self::Write { .. } => "write",
        }
    }

    /// Whether the whole file is unusable (as opposed to one page of it).
    #[must_use]
    pub fn is_file_level(&self) -> bool {
        self.page().is_none()
    }
}

/// A failure found by a decoder that does not know which file or page it is reading.
#[derive(Debug)]
pub(crate) enum Fault {
    /// No raster image on the page.
    NoImage,
    /// A compression we cannot decode, by name.
    UnsupportedFilter(String),
    /// A colour space we cannot map to gray, by name.
    UnsupportedColorSpace(String),
    /// Any other unsupported feature.
    Unsupported(String),
    /// Declared size beyond the limits.
    TooLarge(u64, u64),
    /// Size below the minimum.
    TooSmall(u64, u64),
    /// Damaged compressed data.
    Decode(String),
    /// Damaged file structure.
    Corrupt(String),
    /// A page a damaged file does not hold whole; what is missing.
    Lost(String),
    /// The last page of a damaged file that does not say how many it had; whether it was cut.
    PagesUnknown {
        /// The last page found (1-based).
        last: usize,
        /// The file ends early.
        cut: bool,
    },
    /// The OS refused a read.
    Io(std::io::Error),
    /// The file changed under us.
    Changed,
}

impl Fault {
    /// Attach the file and the page.
    pub(crate) fn at(self, path: &Path, page: PageRef) -> PageError {
        let path = path.to_path_buf();
        match self {
            Self::NoImage => PageError::NoImage { path, page },
            Self::UnsupportedFilter(filter) => PageError::UnsupportedFilter { path, page, filter },
            Self::UnsupportedColorSpace(space) => {
                PageError::UnsupportedColorSpace { path, page, space }
            }
            Self::Unsupported(detail) => PageError::UnsupportedImage { path, page, detail },
            Self::TooLarge(width, height) => PageError::ImageTooLarge {
                path,
                page,
                width,
                height,
            },
            Self::TooSmall(width, height) => PageError::ImageTooSmall {
                path,
                page,
                width,
                height,
            },
            Self::Decode(detail) => PageError::Decode { path, page, detail },
            Self::Corrupt(detail) => PageError::Corrupt {
                path,
                page: Some(page),
                detail,
            },
            Self::Lost(detail) => PageError::Lost { path, page, detail },
            Self::PagesUnknown { last, cut } => PageError::PagesUnknown { path, last, cut },
            Self::Io(source) => PageError::Io { path, source },
            Self::Changed => PageError::Changed { path },
        }
    }
}

impl From<std::io::Error> for Fault {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}
