//! Recover the pages of a damaged scanned PDF.
//!
//! A scan copied off a scanner's share or a USB stick can be cut short: the cross-reference
//! table and the trailer (written last) are gone, often the page tree too, and the last page
//! image stops in the middle. Every pingyi page names itself in its QR code, so a page needs
//! no page tree to be placed. This module scans the bytes for indirect objects (`N G obj …
//! endobj`), keeps the whole ones, and offers each whole image XObject as a page, in the order
//! the file holds them (the order scanners write pages in).
//!
//! Nothing half-written is read. A stream is whole only when `stream`, `endstream` and
//! `endobj` are all there and its /Length — direct, or indirect when that object survived —
//! agrees with where `endstream` is; when the page is read the decoder checks again (a JPEG
//! must reach its end marker, CCITT data must fill every row). A page that is not whole keeps
//! its place: reading it gives [`Fault::Lost`] (scan it again), so every page the file had is
//! read or rejected with a reason. When the page tree survived, its /Count says how many pages
//! there were; when it did not, one last place says that pages after the last one found may
//! be lost ([`Fault::PagesUnknown`]).
//!
//! Memory: the scan runs over the sparse buffer of `pdf.rs` (large image data left as zeros
//! that were never read), lopdf parses a small rebuilt PDF holding every whole object but no
//! image data, and a page's image bytes are read from the file when the page is decoded.

use super::error::Fault;
use super::pdf::{finish_page, inherited};
use super::pdf_image::{decode_image, entry, number};
use super::{find, FileStamp, PageImage, MIN_SIDE};
use lopdf::{Dictionary, Document, Object, ObjectId, ObjectStream};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Highest object number taken from a header (lopdf's cap for rebuilt tables): a forged
/// number must not make the rebuilt cross-reference table huge.
const MAX_OBJECT_NUMBER: u32 = 1_000_000;

/// Most pages a page tree may claim beyond the images found before its /Count is disbelieved:
/// far more than any scanner writes into one file, far fewer than a forged count could queue.
const MAX_MISSING_PAGES: usize = 10_000;

/// Largest object stream we unpack to look for the page tree.
const MAX_OBJECT_STREAM_BYTES: usize = 16 << 20;

/// What is wrong with a damaged PDF, for the scan summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Damage {
    /// The file ends early (no `%%EOF` at its end): it was cut short.
    pub cut: bool,
    /// How many pages the file says it has (its page tree's /Count), if that survived. When
    /// it did not, the file's last page place stands for any pages after the last one found:
    /// it is no page of its own.
    pub declared: Option<usize>,
}

/// A damaged PDF without a single whole page image.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unrecovered {
    /// Page images that begin in the file (none of them whole).
    pub(crate) begun: usize,
}

/// One place for a page in a damaged file.
#[derive(Debug)]
enum Slot {
    /// A whole image stream: its data in the file, and the page object showing it, if found.
    Image {
        id: ObjectId,
        data: Range<u64>,
        page: Option<ObjectId>,
    },
    /// An image stream that is not whole: what is wrong.
    Broken(String),
    /// A page the page tree counts that does not begin in the file.
    Missing,
    /// The end of a file that does not say how many pages it had.
    End,
}

/// A damaged PDF, opened for what it still holds.
pub(crate) struct Salvaged {
    path: PathBuf,
    stamp: FileStamp,
    /// Every whole object; image XObjects as their bare dictionaries.
    doc: Document,
    slots: Vec<Slot>,
    damage: Damage,
}

impl Salvaged {
    /// Recover the pages of the damaged PDF at `path`, whose bytes (image data possibly left as
    /// zeros) are `buf`. `cut`: the file does not end with `%%EOF`. Fails, saying how many
    /// page images begin in the file, when none of them is whole.
    pub(crate) fn recover(
        path: &Path,
        stamp: FileStamp,
        buf: &[u8],
        cut: bool,
    ) -> Result<Self, Unrecovered> {
        let found = scan(buf);
        let lengths = direct_lengths(buf, &found);
        let chosen = choose(buf, &found);
        let mut doc = rebuild(buf, &chosen).ok_or(Unrecovered { begun: 0 })?;
        unpack_object_streams(&mut doc);

        let masks = mask_ids(&doc);
        let pages_of = page_of_image(&doc);
        let mut slots = Vec::new();
        for f in &found {
            let Body::Stream { data, end, .. } = &f.body else {
                continue;
            };
            // One place per image, where its surviving copy is.
            if !chosen.get(&f.id).is_some_and(|c| std::ptr::eq(*c, f)) || masks.contains(&f.id) {
                continue;
            }
            if !doc
                .get_dictionary(f.id)
                .is_ok_and(|d| is_page_image(&doc, d))
            {
                continue;
            }
            slots.push(match end.check(data, &lengths) {
                Ok(()) => Slot::Image {
                    id: f.id,
                    data: data.start as u64..data.end as u64,
                    page: pages_of.get(&f.id).copied(),
                },
                Err(why) => Slot::Broken(why),
            });
        }
        if !slots.iter().any(|s| matches!(s, Slot::Image { .. })) {
            return Err(Unrecovered { begun: slots.len() });
        }
        let declared = declared_pages(&doc).filter(|&n| n <= slots.len() + MAX_MISSING_PAGES);
        match declared {
            Some(n) => slots.resize_with(n.max(slots.len()), || Slot::Missing),
            None => slots.push(Slot::End),
        }
        Ok(Self {
            path: path.to_path_buf(),
            stamp,
            doc,
            slots,
            damage: Damage { cut, declared },
        })
    }

    pub(crate) fn page_count(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn damage(&self) -> Damage {
        self.damage
    }

    pub(crate) fn load_page(&self, index: usize) -> Result<PageImage, Fault> {
        let begun = self
            .slots
            .iter()
            .filter(|s| !matches!(s, Slot::Missing | Slot::End))
            .count();
        match self.slots.get(index).ok_or(Fault::NoImage)? {
            Slot::Image { id, data, page } => {
                let dict = self
                    .doc
                    .get_dictionary(*id)
                    .map_err(|e| Fault::Corrupt(format!("image object {id:?}: {e}")))?;
                let bytes = self.read(data.clone())?;
                if let Some(why) = jpeg_unfinished(&self.doc, dict, &bytes) {
                    return Err(Fault::Lost(why.to_string()));
                }
                let page = page.and_then(|p| self.doc.get_dictionary(p).ok());
                let resources =
                    page.and_then(|p| inherited(&self.doc, p, b"Resources")?.as_dict().ok());
                let image =
                    decode_image(&self.doc, dict, &bytes, resources).map_err(|e| match e {
                        // Whatever stops the decoder in a damaged file is damage: rescan the page.
                        Fault::Decode(detail) => {
                            Fault::Lost(format!("this page's image is damaged ({detail})"))
                        }
                        other => other,
                    })?;
                Ok(finish_page(&self.doc, page, image))
            }
            Slot::Broken(why) => Err(Fault::Lost(why.clone())),
            Slot::Missing => Err(Fault::Lost(format!(
                "{} (it says it has {} pages; {begun} of them begin in it)",
                if self.damage.cut {
                    "the file was cut short before this page"
                } else {
                    "this page is missing from the damaged file"
                },
                self.slots.len()
            ))),
            Slot::End => Err(Fault::PagesUnknown {
                last: index,
                cut: self.damage.cut,
            }),
        }
    }

    /// The bytes of `range` in the file, which must not have changed since it was scanned.
    fn read(&self, range: Range<u64>) -> Result<Vec<u8>, Fault> {
        let mut file = self.stamp.reopen(&self.path)?;
        file.seek(SeekFrom::Start(range.start))?;
        let want = range.end - range.start;
        let mut bytes = Vec::with_capacity(usize::try_from(want).unwrap_or(0));
        file.take(want).read_to_end(&mut bytes)?;
        if bytes.len() as u64 != want {
            return Err(Fault::Changed);
        }
        Ok(bytes)
    }
}

/// An indirect object found by scanning.
#[derive(Debug)]
struct Found {
    id: ObjectId,
    /// From its header to the end of its `endobj` (or to where it stops).
    span: Range<usize>,
    body: Body,
}

#[derive(Debug)]
enum Body {
    /// `N G obj … endobj`, no stream.
    Plain,
    /// A stream, whole or not.
    Stream {
        /// The dictionary's text.
        dict: Range<usize>,
        /// The data: up to `endstream`, or to the end of the file when that is missing.
        data: Range<usize>,
        end: StreamEnd,
    },
    /// The object stops before its `endobj`: the file ends, or another object begins.
    Cut,
}

/// How a stream ends.
#[derive(Debug)]
enum StreamEnd {
    /// `endstream` and `endobj` where a direct /Length says.
    Whole,
    /// `endstream` and `endobj` found by searching: whole if the indirect /Length, when it
    /// survived, agrees.
    Searched(Option<ObjectId>),
    /// The file stops inside the data; the bytes /Length wants, if it is direct.
    Cut(Option<u64>),
    /// `endstream` elsewhere than a direct /Length says, or without `endobj` after it.
    Misplaced(String),
}

impl StreamEnd {
    /// Whether the stream is whole; if not, a clerk's sentence saying why.
    fn check(&self, data: &Range<usize>, lengths: &HashMap<ObjectId, u64>) -> Result<(), String> {
        let have = (data.end - data.start) as u64;
        match self {
            Self::Whole => Ok(()),
            Self::Searched(Some(id)) => match lengths.get(id) {
                // The end-of-line before `endstream` may or may not be counted.
                Some(&want) if want != have && want != have + 1 && want != have + 2 => Err(
                    format!("this page's image is damaged (its data is {have} bytes, the file says {want})"),
                ),
                _ => Ok(()),
            },
            Self::Searched(None) => Ok(()),
            Self::Cut(Some(want)) => Err(format!(
                "the file was cut short inside this page's image ({} of its {} KB are there)",
                have / 1024,
                want.div_ceil(1024)
            )),
            Self::Cut(None) => Err(format!(
                "the file was cut short inside this page's image (only {} KB of it are there)",
                have / 1024
            )),
            Self::Misplaced(why) => Err(format!("this page's image is damaged ({why})")),
        }
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

/// Every indirect object of `buf`, in file order.
fn scan(buf: &[u8]) -> Vec<Found> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some((start, id, body)) = next_header(buf, at, buf.len()) {
        let Some((k, keyword)) = first_keyword(buf, body) else {
            out.push(Found {
                id,
                span: start..buf.len(),
                body: Body::Cut,
            });
            break;
        };
        // Another object begins before this one ends: this one is broken.
        if let Some((next, _, _)) = next_header(buf, body, k) {
            out.push(Found {
                id,
                span: start..next,
                body: Body::Cut,
            });
            at = next;
            continue;
        }
        match keyword {
            Keyword::EndObj => {
                out.push(Found {
                    id,
                    span: start..k + 6,
                    body: Body::Plain,
                });
                at = k + 6;
            }
            Keyword::EndStream => {
                // `endstream` without `stream`: nothing here can be trusted.
                out.push(Found {
                    id,
                    span: start..k + 9,
                    body: Body::Cut,
                });
                at = k + 9;
            }
            Keyword::Stream(data_start) => {
                let dict = body..k;
                let (data, end, resume) = stream_end(buf, &buf[dict.clone()], data_start);
                out.push(Found {
                    id,
                    span: start..resume.unwrap_or(buf.len()),
                    body: Body::Stream { dict, data, end },
                });
                match resume {
                    Some(r) => at = r,
                    None => break,
                }
            }
        }
    }
    out
}

/// The next object header `N G obj` starting at or after `from` and ending by `to`: its start,
/// its id and where its body begins.
fn next_header(buf: &[u8], mut from: usize, to: usize) -> Option<(usize, ObjectId, usize)> {
    let to = to.min(buf.len());
    while from < to {
        let k = find(&buf[from..to], b"obj")?;
        let at = from + k;
        from = at + 3;
        if let Some((start, id)) = header_ending_at(buf, at) {
            return Some((start, id, at + 3));
        }
    }
    None
}

/// If the `obj` at `at` ends a header `N G obj` (whitespace-separated, at a token start),
/// the header's start and id.
fn header_ending_at(buf: &[u8], at: usize) -> Option<(usize, ObjectId)> {
    if buf.get(at + 3).is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let mut i = at;
    let back_over = |i: &mut usize, want: fn(u8) -> bool| -> usize {
        let end = *i;
        while *i > 0 && want(buf[*i - 1]) {
            *i -= 1;
        }
        end - *i
    };
    if back_over(&mut i, is_space) == 0 {
        return None;
    }
    let gen_end = i;
    if !(1..=5).contains(&back_over(&mut i, |b| b.is_ascii_digit())) {
        return None;
    }
    let gen = &buf[i..gen_end];
    if back_over(&mut i, is_space) == 0 {
        return None;
    }
    let num_end = i;
    let num_len = back_over(&mut i, |b| b.is_ascii_digit());
    if !(1..=10).contains(&num_len) || (i > 0 && !is_space(buf[i - 1])) {
        return None;
    }
    let parse = |t: &[u8]| std::str::from_utf8(t).ok()?.parse::<u32>().ok();
    let number = parse(&buf[i..num_end]).filter(|&n| n <= MAX_OBJECT_NUMBER)?;
    let generation = u16::try_from(parse(gen)?).ok()?;
    Some((i, (number, generation)))
}

enum Keyword {
    EndObj,
    EndStream,
    /// `stream` and where its data begins (after its end of line).
    Stream(usize),
}

/// The first `endobj`, `endstream` or `stream` keyword at or after `from`.
fn first_keyword(buf: &[u8], from: usize) -> Option<(usize, Keyword)> {
    let mut i = from;
    while i < buf.len() {
        let rest = &buf[i..];
        let token_start = i == 0 || !buf[i - 1].is_ascii_alphanumeric();
        if token_start && rest.starts_with(b"endobj") {
            return Some((i, Keyword::EndObj));
        }
        if token_start && rest.starts_with(b"endstream") {
            return Some((i, Keyword::EndStream));
        }
        if token_start && rest.starts_with(b"stream") {
            // The keyword follows the dictionary's `>>` (not a word in one of its strings) and
            // ends its line: CR LF or LF (a lone CR from careless writers too).
            let after_dict = buf[from..i]
                .iter()
                .rposition(|&b| !is_space(b))
                .is_some_and(|e| buf[from..=from + e].ends_with(b">>"));
            let eol = match &rest[6..] {
                [b'\r', b'\n', ..] => Some(2),
                [b'\n' | b'\r', ..] => Some(1),
                _ => None,
            };
            if let (true, Some(eol)) = (after_dict, eol) {
                return Some((i, Keyword::Stream(i + 6 + eol)));
            }
        }
        i += 1;
    }
    None
}

/// Where a stream whose dictionary text is `dict` and data start at `start` ends: its data,
/// how it ends, and where scanning goes on (None: nothing after it can be found).
fn stream_end(buf: &[u8], dict: &[u8], start: usize) -> (Range<usize>, StreamEnd, Option<usize>) {
    let rest_of_file = start..buf.len();
    if let Some(length) = super::pdf::direct_length(dict) {
        let end = usize::try_from(length)
            .ok()
            .and_then(|l| start.checked_add(l));
        if let Some(end) = end.filter(|&e| e <= buf.len()) {
            if let Some(after) = keyword_after(buf, end, b"endstream") {
                return match keyword_after(buf, after, b"endobj") {
                    Some(next) => (start..end, StreamEnd::Whole, Some(next)),
                    None => (
                        start..end,
                        StreamEnd::Misplaced("its object is not closed".to_string()),
                        Some(after),
                    ),
                };
            }
        }
        // Not where /Length says: is `endstream` anywhere?
        return match find(&buf[start..], b"endstream") {
            Some(k) => {
                let found = trim_eol(buf, start, start + k);
                let why = format!(
                    "its data is {} bytes, the file says {length}",
                    found - start
                );
                (start..found, StreamEnd::Misplaced(why), Some(start + k + 9))
            }
            None => (rest_of_file, StreamEnd::Cut(Some(length)), None),
        };
    }
    match find(&buf[start..], b"endstream") {
        Some(k) => {
            let data = start..trim_eol(buf, start, start + k);
            match keyword_after(buf, start + k + 9, b"endobj") {
                Some(next) => (data, StreamEnd::Searched(indirect_length(dict)), Some(next)),
                None => (
                    data,
                    StreamEnd::Misplaced("its object is not closed".to_string()),
                    Some(start + k + 9),
                ),
            }
        }
        None => (rest_of_file, StreamEnd::Cut(None), None),
    }
}

/// If `keyword` follows `at` after whitespace, the offset just past it.
fn keyword_after(buf: &[u8], at: usize, keyword: &[u8]) -> Option<usize> {
    let rest = buf.get(at..)?;
    let k = rest.iter().position(|&b| !is_space(b))?;
    rest[k..]
        .starts_with(keyword)
        .then_some(at + k + keyword.len())
}

/// `end` moved back over one end of line (not part of the data), but not before `start`.
fn trim_eol(buf: &[u8], start: usize, end: usize) -> usize {
    if end >= start + 2 && &buf[end - 2..end] == b"\r\n" {
        end - 2
    } else if end > start && matches!(buf[end - 1], b'\n' | b'\r') {
        end - 1
    } else {
        end
    }
}

/// The object a dictionary's `/Length n g R` refers to.
fn indirect_length(dict: &[u8]) -> Option<ObjectId> {
    let k = find(dict, b"/Length")?;
    let rest = &dict[k + 7..];
    if rest.first().is_some_and(u8::is_ascii_alphanumeric) {
        return None;
    }
    let tokens: Vec<&[u8]> = rest
        .split(|&b| is_space(b) || b == b'/' || b == b'>')
        .filter(|t| !t.is_empty())
        .take(3)
        .collect();
    let parse = |t: &[u8]| std::str::from_utf8(t).ok()?.parse::<u32>().ok();
    match tokens[..] {
        [n, g, b"R"] => Some((parse(n)?, u16::try_from(parse(g)?).ok()?)),
        _ => None,
    }
}

/// Whole plain objects that are a single integer: the candidates for indirect /Lengths.
fn direct_lengths(buf: &[u8], found: &[Found]) -> HashMap<ObjectId, u64> {
    found
        .iter()
        .filter(|f| matches!(f.body, Body::Plain))
        .filter_map(|f| {
            let text = &buf[f.span.clone()];
            let body = text.get(find(text, b"obj")? + 3..text.len().saturating_sub(6))?;
            let body = std::str::from_utf8(body).ok()?.trim();
            Some((f.id, body.parse::<u64>().ok()?))
        })
        .collect()
}

/// The copy of each object to use: the last one that is usable (incremental updates append).
/// Plain objects and whole streams are; image streams are even when cut, for their
/// dictionary (the page place they hold).
fn choose<'a>(buf: &[u8], found: &'a [Found]) -> BTreeMap<ObjectId, &'a Found> {
    let mut keep = BTreeMap::new();
    for f in found {
        let usable = match &f.body {
            Body::Plain => true,
            Body::Stream { dict, end, .. } => {
                super::pdf::names_image_subtype(&buf[dict.clone()])
                    || matches!(end, StreamEnd::Whole | StreamEnd::Searched(_))
            }
            Body::Cut => false,
        };
        if usable {
            keep.insert(f.id, f);
        }
    }
    keep
}

/// A small PDF holding the `keep` objects of `buf` (image streams as bare dictionaries) with
/// a fresh cross-reference table, parsed by lopdf.
fn rebuild(buf: &[u8], keep: &BTreeMap<ObjectId, &Found>) -> Option<Document> {
    let mut out: Vec<u8> = b"%PDF-1.7\n".to_vec();
    let mut offsets: BTreeMap<u32, (u16, usize)> = BTreeMap::new();
    for (id, f) in keep {
        offsets.insert(id.0, (id.1, out.len()));
        match &f.body {
            Body::Stream { dict, .. } if super::pdf::names_image_subtype(&buf[dict.clone()]) => {
                out.extend_from_slice(format!("{} {} obj\n", id.0, id.1).as_bytes());
                out.extend_from_slice(&buf[dict.clone()]);
                out.extend_from_slice(b"\nendobj\n");
            }
            _ => {
                out.extend_from_slice(&buf[f.span.clone()]);
                out.push(b'\n');
            }
        }
    }
    let size = offsets.keys().next_back().map_or(1, |&n| n + 1);
    let xref = out.len();
    let mut table = format!("xref\n0 {size}\n");
    for n in 0..size {
        match offsets.get(&n) {
            Some((g, off)) if n > 0 => table.push_str(&format!("{off:010} {g:05} n \n")),
            _ => table.push_str("0000000000 65535 f \n"),
        }
    }
    table.push_str(&format!(
        "trailer\n<< /Size {size} >>\nstartxref\n{xref}\n%%EOF\n"
    ));
    out.extend_from_slice(table.as_bytes());
    Document::load_mem(&out).ok()
}

/// Objects kept in object streams (PDF 1.5), such as the page tree, join the document.
fn unpack_object_streams(doc: &mut Document) {
    let mut members = Vec::new();
    for obj in doc.objects.values() {
        let Ok(stream) = obj.as_stream() else {
            continue;
        };
        if stream.dict.get(b"Type").and_then(Object::as_name).ok() != Some(b"ObjStm") {
            continue;
        }
        if let Ok(unpacked) = ObjectStream::new_with_limit(stream, Some(MAX_OBJECT_STREAM_BYTES)) {
            members.extend(unpacked.objects);
        }
    }
    for (id, obj) in members {
        doc.objects.entry(id).or_insert(obj);
    }
}

/// An image XObject big enough to be a scanned page (logos and thumbnails are not).
fn is_page_image(doc: &Document, dict: &Dictionary) -> bool {
    let named = |k: &[u8]| entry(doc, dict, k).and_then(|o| o.as_name().ok());
    let side = |k: &[u8]| entry(doc, dict, k).and_then(number).unwrap_or(0.0);
    named(b"Subtype") == Some(b"Image")
        && side(b"Width") >= MIN_SIDE as f64
        && side(b"Height") >= MIN_SIDE as f64
}

/// Images that are another image's mask (/SMask, /Mask): part of a page, not one.
fn mask_ids(doc: &Document) -> HashSet<ObjectId> {
    doc.objects
        .values()
        .filter_map(|o| match o {
            Object::Dictionary(d) => Some(d),
            Object::Stream(s) => Some(&s.dict),
            _ => None,
        })
        .flat_map(|d| [d.get(b"SMask").ok(), d.get(b"Mask").ok()])
        .flatten()
        .filter_map(|o| o.as_reference().ok())
        .collect()
}

/// For each image a surviving page object paints directly, that page.
fn page_of_image(doc: &Document) -> HashMap<ObjectId, ObjectId> {
    let mut out = HashMap::new();
    for (&id, obj) in &doc.objects {
        let Ok(page) = obj.as_dict() else {
            continue;
        };
        if page.get(b"Type").and_then(Object::as_name).ok() != Some(b"Page") {
            continue;
        }
        let xobjects = inherited(doc, page, b"Resources")
            .and_then(|r| r.as_dict().ok())
            .and_then(|r| entry(doc, r, b"XObject"))
            .and_then(|x| x.as_dict().ok());
        for (_, value) in xobjects.into_iter().flat_map(Dictionary::iter) {
            if let Ok(image) = value.as_reference() {
                out.entry(image).or_insert(id);
            }
        }
    }
    out
}

/// The page count the file's page tree gives, if its root survived.
fn declared_pages(doc: &Document) -> Option<usize> {
    let count = |d: &Dictionary| entry(doc, d, b"Count").and_then(number);
    let from_catalog = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .find(|d| d.get(b"Type").and_then(Object::as_name).ok() == Some(b"Catalog"))
        .and_then(|c| entry(doc, c, b"Pages"))
        .and_then(|p| p.as_dict().ok())
        .and_then(count);
    let roots: Vec<f64> = doc
        .objects
        .values()
        .filter_map(|o| o.as_dict().ok())
        .filter(|d| {
            d.get(b"Type").and_then(Object::as_name).ok() == Some(b"Pages") && !d.has(b"Parent")
        })
        .filter_map(count)
        .collect();
    let n = from_catalog.or(match roots[..] {
        [one] => Some(one),
        _ => None,
    })?;
    (n >= 0.0 && n.fract() == 0.0).then_some(n as usize)
}

/// Why a JPEG-only image stream is not a whole JPEG, if it is not: it must begin with SOI and
/// end with EOI (trailing padding aside). The decoder alone would fill a cut image with gray.
fn jpeg_unfinished(doc: &Document, dict: &Dictionary, data: &[u8]) -> Option<&'static str> {
    let only_dct = match entry(doc, dict, b"Filter")? {
        Object::Name(n) => n == b"DCTDecode" || n == b"DCT",
        Object::Array(a) => matches!(&a[..], [Object::Name(n)] if n == b"DCTDecode" || n == b"DCT"),
        _ => false,
    };
    if !only_dct {
        return None;
    }
    let end = data
        .iter()
        .rposition(|&b| !is_space(b))
        .map_or(0, |e| e + 1);
    if !data.starts_with(&[0xFF, 0xD8]) || !data[..end].ends_with(&[0xFF, 0xD9]) {
        return Some("this page's image stops before its end (its JPEG data has no end marker)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kind of each object found, by id.
    fn kinds(buf: &[u8]) -> Vec<(u32, String)> {
        scan(buf)
            .iter()
            .map(|f| {
                let kind = match &f.body {
                    Body::Plain => "plain".to_string(),
                    Body::Cut => "cut".to_string(),
                    Body::Stream { end, data, .. } => {
                        let end = match end {
                            StreamEnd::Whole => "whole",
                            StreamEnd::Searched(_) => "searched",
                            StreamEnd::Cut(_) => "stream cut",
                            StreamEnd::Misplaced(_) => "misplaced",
                        };
                        format!("{end} {:?}", String::from_utf8_lossy(&buf[data.clone()]))
                    }
                };
                (f.id.0, kind)
            })
            .collect()
    }

    #[test]
    fn objects_are_found_in_order_and_stream_data_is_never_read_as_objects() {
        let pdf = b"%PDF-1.4\n\
            1 0 obj\n<< /Producer (a stream\n) >>\nendobj\n\
            2 0 obj\n<< /Length 7 >>\nstream\n9 0 obj\nendstream\nendobj\n\
            3 0 obj\n<< /Length 99 >>\nstream\nabc\nendstream\nendobj\n\
            4 0 obj\n<< /Length 8 0 R >>\nstream\r\nxyz\r\nendstream\nendobj\n\
            5 0 obj\n<< /Length 6 0 R >>\nstream\nhalf-writ";
        assert_eq!(
            kinds(pdf),
            [
                (1, "plain".to_string()),
                (2, "whole \"9 0 obj\"".to_string()),
                (3, "misplaced \"abc\"".to_string()),
                (4, "searched \"xyz\"".to_string()),
                (5, "stream cut \"half-writ\"".to_string()),
            ]
        );
    }

    #[test]
    fn an_object_that_stops_before_the_next_begins_is_cut() {
        let pdf = b"1 0 obj\n<< /Type /Page /Parent 2 0 R\n2 0 obj\n<< /Count 3 >>\nendobj\n3 0 obj\n<< /Ty";
        assert_eq!(
            kinds(pdf),
            [
                (1, "cut".to_string()),
                (2, "plain".to_string()),
                (3, "cut".to_string())
            ]
        );
    }

    #[test]
    fn an_indirect_length_that_disagrees_makes_a_stream_broken() {
        let data = 0..10;
        let lengths = HashMap::from([((8, 0), 10), ((9, 0), 4000)]);
        assert!(StreamEnd::Searched(Some((8, 0)))
            .check(&data, &lengths)
            .is_ok());
        assert!(StreamEnd::Searched(Some((7, 0)))
            .check(&data, &lengths)
            .is_ok());
        let why = StreamEnd::Searched(Some((9, 0)))
            .check(&data, &lengths)
            .unwrap_err();
        assert_eq!(
            why,
            "this page's image is damaged (its data is 10 bytes, the file says 4000)"
        );
        let cut = StreamEnd::Cut(Some(300_000)).check(&(0..100_000), &lengths);
        assert_eq!(
            cut.unwrap_err(),
            "the file was cut short inside this page's image (97 of its 293 KB are there)"
        );
    }
}
