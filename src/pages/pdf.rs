//! PDF input: a scanned PDF is one full-page image XObject per page.
//!
//! # Memory
//! lopdf parses a whole document from one in-memory slice. For a scanned batch almost all of
//! that is image data (≈ 0.3–2 MB a page), which would make opening a 1000-page PDF cost a GB.
//! So the file is first read "sparsely" (see [`read_sparse`]): the data of large image streams
//! is left as untouched zero pages. The document is then parsed with a filter that drops the
//! bytes of every large image stream, keeping its dictionary; when a page is decoded, its image
//! bytes are read back from the file at the offset the cross-reference table gives (checked
//! against the `stream`/`endstream` keywords around them). If that ever fails — a damaged
//! file whose objects are not where the table says — the file is loaded once more in full
//! and read from memory. Damaged, empty and encrypted files take the plain path (whole file in
//! memory); encrypted files that lopdf could open (empty user password) stay in memory, since
//! their bytes on disk are ciphertext.
//!
//! # Which image, what resolution
//! The page's image XObjects are collected from its (inherited) resources and from form
//! XObjects it uses; if there are several, only those the content stream actually paints
//! (`Do`) are considered, and the largest by area wins. Resolution is the image's long side in
//! pixels over the MediaBox's long side in inches, which is the same as pixel width over page
//! width for an upright scan and stays right when the image is placed rotated. `/Rotate` is
//! applied to the decoded pixels so the page comes out as a viewer shows it.

use super::pdf_image::{decode_image, entry, number, resolve};
use super::salvage::Salvaged;
use super::{find, plausible_dpi, Fault, FileStamp, PageError, PageImage};
use image::GrayImage;
use lopdf::xref::XrefEntry;
use lopdf::xref::XrefRecovery;
use lopdf::{Dictionary, Document, LoadOptions, Object, ObjectId, Stream};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Image streams at least this large are re-read from disk instead of kept in memory; small
/// ones (logos, masks) are not worth a disk read.
const LAZY_MIN_BYTES: usize = 16 * 1024;

/// How far past an object's offset we look for its `stream` keyword: the dictionary of an
/// image XObject is a few hundred bytes, an inline Indexed palette at most ≈ 1.6 KB.
const HEADER_WINDOW: u64 = 64 * 1024;

/// Deepest nesting of page-tree parents and form XObjects we follow.
const MAX_DEPTH: usize = 32;

/// Largest page content stream we parse to see which images are painted.
const MAX_CONTENT_BYTES: usize = 16 << 20;

/// lopdf load filter: drop the bytes of large image streams, keep everything else.
///
/// lopdf 0.47 uses the *mutated* object for top-level objects and the *returned* one for
/// members of object streams (which are never streams), so streams are emptied in place and
/// everything else is returned unchanged.
fn drop_image_bytes(id: ObjectId, obj: &mut Object) -> Option<(ObjectId, Object)> {
    match obj {
        Object::Stream(stream) => {
            let is_image = stream
                .dict
                .get(b"Subtype")
                .and_then(Object::as_name)
                .is_ok_and(|n| n == b"Image");
            if is_image && stream.content.len() >= LAZY_MIN_BYTES {
                // `Stream::new` set /Length to the real content length when parsing, so the
                // dictionary still says how many bytes to read back.
                stream.content = Vec::new();
            }
            Some((id, Object::Null))
        }
        other => Some((id, other.clone())),
    }
}

/// A PDF as opened: whole, or damaged and recovered as far as it goes.
pub(crate) enum Opened {
    Whole(Box<PdfSource>),
    Salvaged(Box<Salvaged>),
}

/// Whether lopdf had to rebuild the cross-reference table by scanning for objects: the file
/// is damaged (typically cut short), and a page read through that table could come from an
/// image stream that stops half-way. Such files are read by [`Salvaged`] instead.
fn rebuilt(doc: &Document) -> bool {
    doc.xref_recovery == Some(XrefRecovery::Reconstructed)
}

pub(crate) struct PdfSource {
    path: PathBuf,
    stamp: FileStamp,
    doc: Document,
    pages: Vec<ObjectId>,
    /// Image bytes may be read from disk (false when they are all in memory).
    lazy: bool,
    /// The whole file loaded in memory, made only if a lazy read fails.
    full: OnceLock<Option<Document>>,
}

/// Does the file look encrypted? lopdf may fail on an /Encrypt dictionary it does not know, so
/// look for the key where trailers live: the first and the last part of the file.
fn mentions_encrypt(buf: &[u8]) -> bool {
    let head = &buf[..buf.len().min(4096)];
    let tail = &buf[buf.len().saturating_sub(64 * 1024)..];
    find(head, b"/Encrypt").is_some() || find(tail, b"/Encrypt").is_some()
}

/// A hint for damaged files: a complete PDF ends with `%%EOF`.
fn eof_hint(buf: &[u8]) -> &'static str {
    if find(&buf[buf.len().saturating_sub(1024)..], b"%%EOF").is_some() {
        ""
    } else {
        "; the file does not end with %%EOF, so it was probably cut short (an interrupted copy or download?)"
    }
}

impl PdfSource {
    pub(crate) fn open(path: &Path) -> Result<Opened, PageError> {
        let io = |source| PageError::Io {
            path: path.to_path_buf(),
            source,
        };
        let corrupt = |detail: String| PageError::Corrupt {
            path: path.to_path_buf(),
            page: None,
            detail,
        };
        let mut file = File::open(path).map_err(io)?;
        let stamp = FileStamp::of(&file).map_err(io)?;
        let filtered = || LoadOptions {
            filter: Some(drop_image_bytes),
            ..LoadOptions::default()
        };

        // The usual case: a well-formed, unencrypted scan, parsed without its image bytes.
        let sparse = read_sparse(&mut file, stamp.len).map_err(io)?;
        let mut encrypted = mentions_encrypt(&sparse);
        if let Ok(doc) = Document::load_mem_with_options(&sparse, filtered()) {
            encrypted |= doc.trailer.has(b"Encrypt") || doc.was_encrypted();
            let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
            if !encrypted && !rebuilt(&doc) && !pages.is_empty() {
                let mut source = Self {
                    path: path.to_path_buf(),
                    stamp,
                    doc,
                    pages,
                    lazy: true,
                    full: OnceLock::new(),
                };
                source.drop_positioned_image_bytes();
                return Ok(Opened::Whole(Box::new(source)));
            }
        }
        // Damaged: recover every whole page image (encrypted data cannot be checked that way).
        if !encrypted {
            let cut = !eof_hint(&sparse).is_empty();
            match Salvaged::recover(path, stamp, &sparse, cut) {
                Ok(salvaged) => return Ok(Opened::Salvaged(Box::new(salvaged))),
                Err(none) if none.begun > 0 => {
                    let what = match none.begun {
                        1 => "its one page image is not whole".to_string(),
                        n => format!("none of its {n} page images is whole"),
                    };
                    return Err(corrupt(format!(
                        "{what}{}; scan the whole file again",
                        eof_hint(&sparse)
                    )));
                }
                Err(_) => {}
            }
        }
        drop(sparse);

        // Encrypted, damaged or empty: read all of it and let lopdf work on the real bytes.
        let mut buf = Vec::with_capacity(usize::try_from(stamp.len).unwrap_or(0));
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.read_to_end(&mut buf).map_err(io)?;
        let (doc, lazy) = match Document::load_mem_with_options(&buf, filtered()) {
            Ok(doc) if !doc.get_pages().is_empty() || doc.trailer.has(b"Encrypt") => (doc, true),
            // lopdf repairs a damaged page tree only for unfiltered loads: try that.
            first => match Document::load_mem(&buf) {
                Ok(doc) => (doc, false),
                Err(e) => {
                    let e = first.err().unwrap_or(e);
                    if matches!(
                        e,
                        lopdf::Error::Decryption(_) | lopdf::Error::InvalidPassword
                    ) || mentions_encrypt(&buf)
                    {
                        return Err(PageError::Encrypted {
                            path: path.to_path_buf(),
                        });
                    }
                    return Err(corrupt(format!("{e}{}", eof_hint(&buf))));
                }
            },
        };
        if doc.trailer.has(b"Encrypt") {
            // lopdf could not open it with the empty password.
            return Err(PageError::Encrypted {
                path: path.to_path_buf(),
            });
        }
        if rebuilt(&doc) && !doc.was_encrypted() {
            // Recovery above found no whole page image; lopdf's rebuilt table could only
            // offer images that stop half-way.
            return Err(corrupt(format!(
                "no page image in it is whole{}",
                eof_hint(&buf)
            )));
        }
        let pages: Vec<ObjectId> = doc.get_pages().into_values().collect();
        if pages.is_empty() {
            let count = doc
                .catalog()
                .ok()
                .and_then(|c| entry(&doc, c, b"Pages"))
                .and_then(|p| p.as_dict().ok())
                .and_then(|p| entry(&doc, p, b"Count"))
                .and_then(number);
            return Err(match count {
                Some(0.0) => PageError::NoPages {
                    path: path.to_path_buf(),
                },
                _ => corrupt(format!("no page tree found{}", eof_hint(&buf))),
            });
        }
        // Decrypted content exists only in memory; the bytes on disk are ciphertext.
        let lazy = lazy && !doc.was_encrypted();
        let mut source = Self {
            path: path.to_path_buf(),
            stamp,
            doc,
            pages,
            lazy,
            full: OnceLock::new(),
        };
        if source.lazy {
            source.drop_positioned_image_bytes();
        }
        Ok(Opened::Whole(Box::new(source)))
    }

    /// Streams with an indirect /Length were filled by lopdf after the load filter ran; they
    /// know their position in the file, so their bytes can go too.
    fn drop_positioned_image_bytes(&mut self) {
        for obj in self.doc.objects.values_mut() {
            if let Object::Stream(s) = obj {
                let is_image = s
                    .dict
                    .get(b"Subtype")
                    .and_then(Object::as_name)
                    .is_ok_and(|n| n == b"Image");
                if is_image && s.start_position.is_some() && s.content.len() >= LAZY_MIN_BYTES {
                    s.dict.set("Length", s.content.len() as i64);
                    s.content = Vec::new();
                }
            }
        }
    }

    pub(crate) fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// Bytes of image streams held in memory (for tests of the lazy loading).
    #[cfg(test)]
    pub(crate) fn image_bytes_in_memory(&self) -> usize {
        self.doc
            .objects
            .values()
            .filter_map(|o| o.as_stream().ok())
            .filter(|s| {
                s.dict
                    .get(b"Subtype")
                    .and_then(Object::as_name)
                    .is_ok_and(|n| n == b"Image")
            })
            .map(|s| s.content.len())
            .sum()
    }

    pub(crate) fn load_page(&self, index: usize) -> Result<PageImage, Fault> {
        let doc = &self.doc;
        let page_id = *self.pages.get(index).ok_or(Fault::NoImage)?;
        let page = doc
            .get_dictionary(page_id)
            .map_err(|e| Fault::Corrupt(format!("page object {page_id:?}: {e}")))?;
        let resources = inherited(doc, page, b"Resources").and_then(|r| r.as_dict().ok());
        let image = match self.pick_image(page_id, resources) {
            Ok((image_id, stream)) => {
                let data = self.stream_bytes(image_id, stream)?;
                decode_image(doc, &stream.dict, &data, resources)?
            }
            Err(Fault::NoImage) => {
                // No image XObject: the scan may be an inline image in the content stream.
                let inline = inline_image(doc, page_id)?;
                decode_image(doc, &inline.dict, &inline.content, resources)?
            }
            Err(e) => return Err(e),
        };

        Ok(finish_page(doc, Some(page), image))
    }

    /// The largest image the page paints.
    fn pick_image(
        &self,
        page_id: ObjectId,
        resources: Option<&Dictionary>,
    ) -> Result<(ObjectId, &Stream), Fault> {
        let doc = &self.doc;
        let mut found = Vec::new();
        if let Some(resources) = resources {
            collect_images(doc, resources, 0, &mut HashSet::new(), &mut found, true);
        }
        if found.len() > 1 {
            // Shared resource dictionaries can list images of other pages: keep what is drawn.
            if let Some(used) = painted_names(doc, page_id) {
                let drawn: Vec<_> = found
                    .iter()
                    .filter(|c| !c.top || used.contains(&c.name))
                    .cloned()
                    .collect();
                if !drawn.is_empty() {
                    found = drawn;
                }
            }
        }
        let best = found
            .iter()
            .max_by_key(|c| (c.area, std::cmp::Reverse(c.order)))
            .ok_or(Fault::NoImage)?;
        let stream = doc
            .get_object(best.id)
            .and_then(Object::as_stream)
            .map_err(|e| Fault::Corrupt(format!("image object {:?}: {e}", best.id)))?;
        Ok((best.id, stream))
    }

    /// The (still filtered) bytes of an image stream: from memory, or read back from disk.
    fn stream_bytes<'a>(
        &'a self,
        id: ObjectId,
        stream: &'a Stream,
    ) -> Result<Cow<'a, [u8]>, Fault> {
        let length = stream
            .dict
            .get(b"Length")
            .and_then(Object::as_i64)
            .unwrap_or(0);
        if !self.lazy || !stream.content.is_empty() || length <= 0 {
            return Ok(Cow::Borrowed(&stream.content));
        }
        match self.read_back(id, stream.start_position, length as u64) {
            Ok(bytes) => Ok(Cow::Owned(bytes)),
            Err(e @ (Fault::Changed | Fault::Io(_))) => Err(e),
            Err(_) => {
                // Not where the cross-reference table says: read the whole file the slow way.
                let full = self
                    .full
                    .get_or_init(|| {
                        let bytes = self.stamp.reopen(&self.path).ok().and_then(|mut f| {
                            let mut b = Vec::new();
                            f.read_to_end(&mut b).ok().map(|_| b)
                        })?;
                        Document::load_mem(&bytes).ok()
                    })
                    .as_ref()
                    .ok_or_else(|| Fault::Corrupt("cannot re-read the file".to_string()))?;
                let s = full
                    .get_object(id)
                    .and_then(Object::as_stream)
                    .map_err(|e| Fault::Corrupt(format!("image object {id:?}: {e}")))?;
                Ok(Cow::Borrowed(&s.content))
            }
        }
    }

    /// Read `length` stream bytes of object `id` from disk and check they are delimited by
    /// `stream` … `endstream`.
    fn read_back(&self, id: ObjectId, start: Option<usize>, length: u64) -> Result<Vec<u8>, Fault> {
        let mut file = self.stamp.reopen(&self.path)?;
        let start = match start {
            Some(s) => s as u64,
            None => self.locate(&mut file, id)?,
        };
        let end = start
            .checked_add(length)
            .filter(|&e| e <= self.stamp.len)
            .ok_or_else(|| {
                Fault::Corrupt("an image stream extends past the end of the file".to_string())
            })?;
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = Vec::with_capacity(length as usize);
        (&mut file).take(length).read_to_end(&mut bytes)?;
        let mut after = Vec::with_capacity(32);
        (&mut file).take(32).read_to_end(&mut after)?;
        let keyword = after
            .iter()
            .position(|b| !b.is_ascii_whitespace() && *b != 0);
        if bytes.len() as u64 != end - start
            || !keyword.is_some_and(|k| after[k..].starts_with(b"endstream"))
        {
            return Err(Fault::Corrupt(
                "image stream not where expected".to_string(),
            ));
        }
        Ok(bytes)
    }

    /// File offset of the first byte of object `id`'s stream data.
    fn locate(&self, file: &mut File, id: ObjectId) -> Result<u64, Fault> {
        let not_found = || {
            Fault::Corrupt(format!(
                "object {id:?} not found at its cross-reference offset"
            ))
        };
        let offset = match self.doc.reference_table.get(id.0) {
            Some(XrefEntry::Normal { offset, generation }) if *generation == id.1 => {
                u64::from(*offset)
            }
            _ => return Err(not_found()),
        };
        file.seek(SeekFrom::Start(offset))?;
        let mut window = Vec::new();
        file.take(HEADER_WINDOW).read_to_end(&mut window)?;
        // "N G obj" first …
        let text = window
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .ok_or_else(not_found)?;
        let header = format!("{} {} obj", id.0, id.1);
        if !window[text..].starts_with(header.as_bytes()) {
            let squeezed: Vec<u8> = window[text..]
                .iter()
                .take(40)
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            if !squeezed.starts_with(format!("{}{}obj", id.0, id.1).as_bytes()) {
                return Err(not_found());
            }
        }
        // … then the first "stream" keyword right after the dictionary's ">>".
        let mut from = text;
        while let Some(rel) = find(&window[from..], b"stream") {
            let at = from + rel;
            let before = window[..at].iter().rposition(|b| !b.is_ascii_whitespace());
            let after = &window[at + 6..];
            let eol = if after.starts_with(b"\r\n") {
                Some(2)
            } else if after.starts_with(b"\n") || after.starts_with(b"\r") {
                Some(1)
            } else {
                None
            };
            if let (Some(b), Some(eol)) = (before, eol) {
                if b >= 1 && &window[b - 1..=b] == b">>" {
                    return Ok(offset + (at + 6 + eol) as u64);
                }
            }
            from = at + 6;
        }
        Err(not_found())
    }
}

/// Bytes read per step by [`read_sparse`].
const SPARSE_CHUNK: u64 = 1 << 20;
/// How far before a `stream` keyword [`read_sparse`] looks for its dictionary.
const SPARSE_LOOKBACK: u64 = 4096;
/// Bytes at the end of a step left for the next one, so that a keyword cut by the step
/// boundary (`stream` plus its end of line) is seen whole.
const SPARSE_TAIL: u64 = 16;

/// Read a PDF into a buffer of its full length in which the data of large image streams with
/// a direct /Length is left as zeros, never read or written.
///
/// lopdf needs the whole file in one slice, but most of a scanned PDF is image data that it
/// would only copy for us to throw away. The buffer is allocated zeroed (so the operating
/// system maps untouched pages lazily) and only the rest of the file is copied in: opening a
/// 1 GB scan batch costs a few MB of memory instead of a GB. Offsets are unchanged, so lopdf
/// parses the skeleton exactly as the real file. A stream is skipped only when its dictionary
/// says `/Subtype /Image`, its length is a plain number, and `endstream` follows that many
/// bytes later; anything less clear is read in full.
fn read_sparse(file: &mut File, len: u64) -> std::io::Result<Vec<u8>> {
    read_sparse_in_steps(file, len, SPARSE_CHUNK)
}

fn read_sparse_in_steps(file: &mut File, len: u64, step: u64) -> std::io::Result<Vec<u8>> {
    let size =
        usize::try_from(len).map_err(|_| std::io::Error::other("file too large for memory"))?;
    let mut buf = vec![0u8; size];
    let mut scratch = Vec::with_capacity((step + SPARSE_LOOKBACK) as usize);
    let mut pos = 0u64; // first byte not yet in `buf`
    let mut scan_from = 0u64; // first offset where a keyword may start that was not examined
    while pos < len {
        let start = pos.saturating_sub(SPARSE_LOOKBACK);
        let end = (pos + step.max(2 * SPARSE_TAIL)).min(len);
        scratch.clear();
        file.seek(SeekFrom::Start(start))?;
        (&mut *file).take(end - start).read_to_end(&mut scratch)?;
        if (scratch.len() as u64) < end - start {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "file shrank while reading",
            ));
        }
        let scan_end = if end == len { end } else { end - SPARSE_TAIL };
        let mut skip = None;
        let mut at = scan_from.max(start);
        while let Some(k) = find(
            &scratch[(at - start) as usize..(scan_end - start) as usize],
            b"stream",
        ) {
            let p = at + k as u64;
            if let Some(range) = image_payload(file, &scratch, start, p, len)? {
                skip = Some(range);
                break;
            }
            at = p + 1;
        }
        let copy_to = skip.map_or(scan_end, |(from, _)| from);
        buf[pos as usize..copy_to as usize]
            .copy_from_slice(&scratch[(pos - start) as usize..(copy_to - start) as usize]);
        (pos, scan_from) = match skip {
            Some((_, to)) => (to, to),
            // A keyword cut by `scan_end` starts at most 5 bytes before it.
            None => (scan_end, scan_end.saturating_sub(5)),
        };
    }
    Ok(buf)
}

/// If the `stream` keyword at file offset `p` (inside `window`, which starts at `start`)
/// opens a large image stream with a direct /Length, the byte range of its data.
fn image_payload(
    file: &mut File,
    window: &[u8],
    start: u64,
    p: u64,
    len: u64,
) -> std::io::Result<Option<(u64, u64)>> {
    let at = (p - start) as usize;
    // Not the tail of "endstream", and followed by an end of line.
    if at == 0 || window[at - 1].is_ascii_alphanumeric() {
        return Ok(None);
    }
    let after = &window[at + 6..];
    let eol = if after.starts_with(b"\r\n") {
        2
    } else if after.starts_with(b"\n") {
        1
    } else {
        return Ok(None);
    };
    // The dictionary: from the last "obj" keyword before, ending with ">>".
    let Some(obj) = window[..at].windows(3).rposition(|w| w == b"obj") else {
        return Ok(None);
    };
    let dict = &window[obj + 3..at];
    let trimmed = dict
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(&dict[..0], |e| &dict[..=e]);
    if !trimmed.ends_with(b">>") || !names_image_subtype(dict) {
        return Ok(None);
    }
    let Some(length) = direct_length(dict) else {
        return Ok(None);
    };
    if length < LAZY_MIN_BYTES as u64 {
        return Ok(None);
    }
    let from = p + 6 + eol;
    let Some(to) = from.checked_add(length).filter(|&t| t <= len) else {
        return Ok(None);
    };
    // Check that the data really ends there.
    let resume = file.stream_position()?;
    file.seek(SeekFrom::Start(to))?;
    let mut tail = Vec::with_capacity(32);
    (&mut *file).take(32).read_to_end(&mut tail)?;
    file.seek(SeekFrom::Start(resume))?;
    let keyword = tail.iter().position(|b| !b.is_ascii_whitespace());
    Ok(keyword
        .is_some_and(|k| tail[k..].starts_with(b"endstream"))
        .then_some((from, to)))
}

/// Whether a dictionary's text contains `/Subtype /Image`.
pub(super) fn names_image_subtype(dict: &[u8]) -> bool {
    let mut from = 0;
    while let Some(k) = find(&dict[from..], b"/Subtype") {
        let rest = &dict[from + k + 8..];
        let value = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .map_or(&rest[..0], |v| &rest[v..]);
        if value.starts_with(b"/Image") && !value.get(6).is_some_and(u8::is_ascii_alphanumeric) {
            return true;
        }
        from += k + 8;
    }
    false
}

/// The value of `/Length` in a dictionary's text if it is a plain number (not `n g R`).
pub(super) fn direct_length(dict: &[u8]) -> Option<u64> {
    let k = find(dict, b"/Length")?;
    let rest = &dict[k + 7..];
    if rest.first().is_some_and(u8::is_ascii_alphanumeric) {
        return None; // /Length1 etc.
    }
    let tokens: Vec<&[u8]> = rest
        .split(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'>')
        .filter(|t| !t.is_empty())
        .take(3)
        .collect();
    let number = std::str::from_utf8(tokens.first()?)
        .ok()?
        .parse::<u64>()
        .ok()?;
    let is_reference =
        tokens.len() == 3 && tokens[1].iter().all(u8::is_ascii_digit) && tokens[2] == b"R";
    (!is_reference).then_some(number)
}

/// An image XObject found in a page's resources.
#[derive(Debug, Clone)]
struct Candidate {
    id: ObjectId,
    /// Its resource name, for matching against `Do` operators.
    name: Vec<u8>,
    area: u64,
    /// Directly in the page's resources (not inside a form XObject).
    top: bool,
    /// Order found, to break ties deterministically (first wins).
    order: usize,
}

fn collect_images(
    doc: &Document,
    resources: &Dictionary,
    depth: usize,
    seen: &mut HashSet<ObjectId>,
    out: &mut Vec<Candidate>,
    top: bool,
) {
    let Some(xobjects) = entry(doc, resources, b"XObject").and_then(|x| x.as_dict().ok()) else {
        return;
    };
    for (name, value) in xobjects.iter() {
        let Ok(id) = value.as_reference() else {
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        let Ok(stream) = doc.get_object(id).and_then(Object::as_stream) else {
            continue;
        };
        let dict = &stream.dict;
        match entry(doc, dict, b"Subtype").and_then(|s| s.as_name().ok()) {
            Some(b"Image") => {
                let dim =
                    |k: &[u8]| entry(doc, dict, k).and_then(number).unwrap_or(0.0).max(0.0) as u64;
                let order = out.len();
                out.push(Candidate {
                    id,
                    name: name.clone(),
                    area: dim(b"Width").saturating_mul(dim(b"Height")),
                    top,
                    order,
                });
            }
            Some(b"Form") if depth < MAX_DEPTH => {
                if let Some(inner) = entry(doc, dict, b"Resources").and_then(|r| r.as_dict().ok()) {
                    collect_images(doc, inner, depth + 1, seen, out, false);
                }
            }
            _ => {}
        }
    }
}

/// Names of the XObjects the page's content paints with `Do`, if the content can be parsed.
fn painted_names(doc: &Document, page_id: ObjectId) -> Option<HashSet<Vec<u8>>> {
    let content = doc
        .get_page_content_with_limit(page_id, MAX_CONTENT_BYTES)
        .ok()?;
    let ops = lopdf::content::Content::decode(&content).ok()?;
    Some(
        ops.operations
            .iter()
            .filter(|op| op.operator == "Do")
            .filter_map(|op| op.operands.first()?.as_name().ok().map(<[u8]>::to_vec))
            .collect(),
    )
}

/// The largest inline image (`BI … ID … EI`) the page's content paints, with its abbreviated
/// keys spelled out. lopdf parses only unfiltered inline images; a page with a compressed one
/// is reported as such rather than as a page without an image.
fn inline_image(doc: &Document, page_id: ObjectId) -> Result<Stream, Fault> {
    let content = doc
        .get_page_content_with_limit(page_id, MAX_CONTENT_BYTES)
        .map_err(|_| Fault::NoImage)?;
    let ops = lopdf::content::Content::decode(&content).map_err(|_| Fault::NoImage)?;
    let inline: Vec<&lopdf::content::Operation> = ops
        .operations
        .iter()
        .filter(|op| op.operator == "BI")
        .collect();
    let area = |s: &Stream| {
        let dim = |a: &[u8], b: &[u8]| {
            s.dict
                .get(a)
                .or_else(|_| s.dict.get(b))
                .ok()
                .and_then(number)
                .unwrap_or(0.0)
        };
        dim(b"W", b"Width") * dim(b"H", b"Height")
    };
    let best = inline
        .iter()
        .filter_map(|op| match op.operands.first() {
            Some(Object::Stream(s)) => Some(s),
            _ => None,
        })
        .max_by(|a, b| area(a).total_cmp(&area(b)));
    match best {
        Some(s) => {
            let mut dict = Dictionary::new();
            for (key, value) in s.dict.iter() {
                let full: &[u8] = match key.as_slice() {
                    b"W" => b"Width",
                    b"H" => b"Height",
                    b"BPC" => b"BitsPerComponent",
                    b"CS" => b"ColorSpace",
                    b"F" => b"Filter",
                    b"DP" => b"DecodeParms",
                    b"D" => b"Decode",
                    b"IM" => b"ImageMask",
                    other => other,
                };
                dict.set(full.to_vec(), value.clone());
            }
            Ok(Stream::new(dict, s.content.clone()))
        }
        None if !inline.is_empty() => Err(Fault::Unsupported(
            "the scan is a compressed inline image (BI … EI in the page content), which pingyi does not read; \
             convert the file first (for example `pdftoppm -r 300 -gray -png in.pdf page`)"
                .to_string(),
        )),
        None => Err(Fault::NoImage),
    }
}

/// A page attribute, inherited from the page tree if the page does not set it.
pub(super) fn inherited<'a>(
    doc: &'a Document,
    page: &'a Dictionary,
    key: &[u8],
) -> Option<&'a Object> {
    let mut node = page;
    for _ in 0..MAX_DEPTH {
        if let Some(v) = entry(doc, node, key) {
            return Some(v);
        }
        node = entry(doc, node, b"Parent")?.as_dict().ok()?;
    }
    None
}

/// A decoded page image as a viewer shows it: turned by the page's /Rotate, with the
/// resolution its size on the page gives. Without a page (a damaged file) it is taken as
/// stored, resolution unknown.
pub(super) fn finish_page(
    doc: &Document,
    page: Option<&Dictionary>,
    mut image: GrayImage,
) -> PageImage {
    let Some(page) = page else {
        return PageImage { image, dpi: None };
    };
    let dpi = page_size_pt(doc, page).and_then(|(w, h)| {
        let long_px = f64::from(image.width().max(image.height()));
        plausible_dpi(long_px / (w.max(h) / 72.0))
    });
    let rotate = inherited(doc, page, b"Rotate")
        .and_then(number)
        .unwrap_or(0.0) as i64;
    image = match rotate.rem_euclid(360) {
        90 => image::imageops::rotate90(&image),
        180 => {
            image::imageops::rotate180_in_place(&mut image);
            image
        }
        270 => image::imageops::rotate270(&image),
        _ => image,
    };
    PageImage { image, dpi }
}

/// Page width and height in points (MediaBox, times UserUnit).
fn page_size_pt(doc: &Document, page: &Dictionary) -> Option<(f64, f64)> {
    let Object::Array(b) = inherited(doc, page, b"MediaBox")? else {
        return None;
    };
    let v: Vec<f64> = b.iter().filter_map(|o| number(resolve(doc, o))).collect();
    let [x1, y1, x2, y2] = v[..] else { return None };
    let unit = entry(doc, page, b"UserUnit")
        .and_then(number)
        .unwrap_or(1.0);
    let (w, h) = ((x2 - x1).abs() * unit, (y2 - y1).abs() * unit);
    (w > 0.0 && h > 0.0).then_some((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::pack::{PackFilter, PdfPacker};

    #[test]
    fn dictionary_text_probes_recognise_only_what_they_should() {
        assert!(names_image_subtype(
            b"<< /Type /XObject /Subtype /Image /Width 5 >>"
        ));
        assert!(names_image_subtype(b"<</Subtype/Image/Width 5>>"));
        assert!(!names_image_subtype(b"<< /Subtype /Form >>"));
        assert!(!names_image_subtype(b"<< /Subtype /ImageB >>"));
        assert_eq!(
            direct_length(b"<< /Length 12345 /Filter /DCTDecode >>"),
            Some(12345)
        );
        assert_eq!(direct_length(b"<</Length 77>>"), Some(77));
        assert_eq!(direct_length(b"<< /Length 12 0 R >>"), None);
        assert_eq!(direct_length(b"<< /Length1 500 >>"), None);
        assert_eq!(direct_length(b"<< /Length (x) >>"), None);
    }

    /// The sparse buffer equals the file except for the data of large, directly sized image
    /// streams, which are zero; small images, other streams and indirect lengths are kept.
    #[test]
    fn sparse_reads_skip_exactly_the_large_image_payloads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mixed.pdf");
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8 | 1).collect();
        let mut packer = PdfPacker::new(Vec::new(), PackFilter::Raw, 300.0).unwrap();
        // Large image, direct length: skipped.
        packer
            .add_image_page(
                "/Width 600 /Height 500 /ColorSpace /DeviceGray /BitsPerComponent 8",
                &big[..300_000],
                144.0,
                120.0,
            )
            .unwrap();
        // Small image: kept.
        packer
            .add_image_page(
                "/Width 100 /Height 100 /ColorSpace /DeviceGray /BitsPerComponent 8",
                &big[..10_000],
                24.0,
                24.0,
            )
            .unwrap();
        // Large non-image stream: kept.
        packer
            .add_stream("/Type /Metadata /Subtype /XML", &big[..100_000])
            .unwrap();
        // Large image with an indirect length: kept (lopdf knows its position instead).
        let img = packer.next_id();
        let mut body = format!("<< /Type /XObject /Subtype /Image /Width 500 /Height 200 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length {} 0 R >>\nstream\n", img + 1).into_bytes();
        body.extend_from_slice(&big[..100_000]);
        body.extend_from_slice(b"\nendstream");
        packer.add_raw_object(&body).unwrap();
        packer.add_raw_object(b"100000").unwrap();
        let bytes = packer.finish().unwrap();
        std::fs::write(&path, &bytes).unwrap();

        let mut file = File::open(&path).unwrap();
        let sparse = read_sparse(&mut file, bytes.len() as u64).unwrap();
        assert_eq!(sparse.len(), bytes.len());
        let differing: Vec<usize> = (0..bytes.len())
            .filter(|&i| sparse[i] != bytes[i])
            .collect();
        assert_eq!(
            differing.len(),
            300_000,
            "only the large direct-length image is skipped"
        );
        let first = differing[0];
        assert_eq!(&bytes[first - 7..first], b"stream\n");
        assert!(differing.windows(2).all(|w| w[1] == w[0] + 1));
        assert!(sparse[first..first + 300_000].iter().all(|&b| b == 0));

        // Reading in small steps (keywords cut at every possible place) gives the same bytes.
        for step in [40, 97, 1000, 4096] {
            assert!(
                read_sparse_in_steps(&mut file, bytes.len() as u64, step).unwrap() == sparse,
                "step {step}"
            );
        }

        let Opened::Whole(source) = PdfSource::open(&path).unwrap() else {
            panic!("a sound file opens whole");
        };
        assert_eq!(source.page_count(), 2);
        assert!(source.image_bytes_in_memory() <= 10_000);
    }
}
