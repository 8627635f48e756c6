//! Decode one PDF image XObject to gray: filters, colour spaces, `/Decode`, sample unpacking.
//!
//! The stream's filter chain is split in two: leading general-purpose filters (Flate, LZW,
//! RunLength, ASCII85/Hex, with predictors) are undone by lopdf; a final image codec (DCT,
//! CCITT) is decoded here. Raw samples of any supported depth and colour space then go through
//! lookup tables built from `/Decode`, so that the common cases (8-bit gray, 1-bit gray) are a
//! move or a table lookup per byte.

use super::ccitt::{BilevelCanvas, CcittParams};
use super::{check_size, cmyk_gray, gray_image, luma, raster, Fault};
use image::GrayImage;
use lopdf::{Dictionary, Document, Object, Stream};
use std::borrow::Cow;

/// Deepest chain of colour-space indirections we follow (named resources, Indexed bases).
const MAX_CS_DEPTH: usize = 4;

static NULL: Object = Object::Null;

/// Follow a reference; a dangling one reads as `Null`.
pub(crate) fn resolve<'a>(doc: &'a Document, obj: &'a Object) -> &'a Object {
    match doc.dereference(obj) {
        Ok((_, o)) => o,
        Err(_) => &NULL,
    }
}

/// A dictionary entry, references followed.
pub(crate) fn entry<'a>(doc: &'a Document, dict: &'a Dictionary, key: &[u8]) -> Option<&'a Object> {
    dict.get(key)
        .ok()
        .map(|o| resolve(doc, o))
        .filter(|o| !o.is_null())
}

/// A number (integer or real).
pub(crate) fn number(obj: &Object) -> Option<f64> {
    match obj {
        Object::Integer(i) => Some(*i as f64),
        Object::Real(r) => Some(f64::from(*r)),
        _ => None,
    }
}

fn int(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<i64> {
    match entry(doc, dict, key)? {
        Object::Integer(i) => Some(*i),
        // Some producers write sizes as reals ("2480.0").
        Object::Real(r) if r.fract() == 0.0 => Some(*r as i64),
        _ => None,
    }
}

fn boolean(doc: &Document, dict: &Dictionary, key: &[u8]) -> Option<bool> {
    entry(doc, dict, key)?.as_bool().ok()
}

fn name_str(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

/// What the samples of an image mean, reduced to what gray conversion needs.
#[derive(Debug)]
enum Colour {
    Gray,
    Rgb,
    Cmyk,
    /// Palette already reduced to gray, one entry per index.
    Indexed(Vec<u8>),
}

impl Colour {
    fn components(&self) -> usize {
        match self {
            Colour::Gray | Colour::Indexed(_) => 1,
            Colour::Rgb => 3,
            Colour::Cmyk => 4,
        }
    }
}

/// Parse a `/ColorSpace` value. `resources` resolves names defined in the page's
/// `/Resources /ColorSpace` (not allowed for images by the spec, written by some tools anyway).
fn colour_space(
    doc: &Document,
    cs: &Object,
    resources: Option<&Dictionary>,
    depth: usize,
) -> Result<Colour, Fault> {
    if depth > MAX_CS_DEPTH {
        return Err(Fault::UnsupportedColorSpace(
            "colour space nested too deeply".to_string(),
        ));
    }
    match resolve(doc, cs) {
        Object::Name(n) => match n.as_slice() {
            b"DeviceGray" | b"G" | b"CalGray" => Ok(Colour::Gray),
            b"DeviceRGB" | b"RGB" | b"CalRGB" => Ok(Colour::Rgb),
            b"DeviceCMYK" | b"CMYK" => Ok(Colour::Cmyk),
            other => {
                let named = resources
                    .and_then(|r| entry(doc, r, b"ColorSpace"))
                    .and_then(|d| d.as_dict().ok())
                    .and_then(|d| entry(doc, d, other));
                match named {
                    Some(def) => colour_space(doc, def, resources, depth + 1),
                    None => Err(Fault::UnsupportedColorSpace(name_str(other))),
                }
            }
        },
        Object::Array(a) => {
            let family = a
                .first()
                .map(|f| resolve(doc, f))
                .and_then(|f| f.as_name().ok())
                .unwrap_or(b"");
            match family {
                b"CalGray" => Ok(Colour::Gray),
                b"CalRGB" => Ok(Colour::Rgb),
                b"ICCBased" => {
                    let dict = a
                        .get(1)
                        .map(|s| resolve(doc, s))
                        .and_then(|s| s.as_stream().ok())
                        .map(|s| &s.dict);
                    match dict.and_then(|d| int(doc, d, b"N")) {
                        Some(1) => Ok(Colour::Gray),
                        Some(3) => Ok(Colour::Rgb),
                        Some(4) => Ok(Colour::Cmyk),
                        n => match dict.and_then(|d| entry(doc, d, b"Alternate")) {
                            Some(alt) => colour_space(doc, alt, resources, depth + 1),
                            None => Err(Fault::UnsupportedColorSpace(format!(
                                "ICCBased with N = {n:?}"
                            ))),
                        },
                    }
                }
                b"Indexed" | b"I" => indexed(doc, a, resources, depth),
                [] => Err(Fault::UnsupportedColorSpace("empty array".to_string())),
                other => Err(Fault::UnsupportedColorSpace(name_str(other))),
            }
        }
        other => Err(Fault::UnsupportedColorSpace(format!(
            "{:?}",
            other.enum_variant()
        ))),
    }
}

/// `[/Indexed base hival lookup]`, with the palette reduced to gray.
fn indexed(
    doc: &Document,
    a: &[Object],
    resources: Option<&Dictionary>,
    depth: usize,
) -> Result<Colour, Fault> {
    let base = a
        .get(1)
        .ok_or_else(|| Fault::Corrupt("Indexed colour space without a base".to_string()))?;
    let base = colour_space(doc, base, resources, depth + 1)?;
    if matches!(base, Colour::Indexed(_)) {
        return Err(Fault::UnsupportedColorSpace(
            "Indexed over Indexed".to_string(),
        ));
    }
    let hival = a
        .get(2)
        .map(|h| resolve(doc, h))
        .and_then(number)
        .unwrap_or(0.0)
        .clamp(0.0, 255.0) as usize;
    let lookup: Cow<[u8]> = match a.get(3).map(|l| resolve(doc, l)) {
        Some(Object::String(s, _)) => Cow::Borrowed(s),
        Some(Object::Stream(s)) => Cow::Owned(
            s.decompressed_content_with_limit(4 * 256)
                .map_err(|e| Fault::Corrupt(format!("Indexed palette: {e}")))?,
        ),
        _ => {
            return Err(Fault::Corrupt(
                "Indexed colour space without a palette".to_string(),
            ))
        }
    };
    let n = base.components();
    let at = |i: usize| lookup.get(i).copied().unwrap_or(0);
    let palette = (0..=hival)
        .map(|i| {
            let p = i * n;
            match base {
                Colour::Rgb => luma(at(p), at(p + 1), at(p + 2)),
                Colour::Cmyk => cmyk_gray(at(p), at(p + 1), at(p + 2), at(p + 3)),
                _ => at(p),
            }
        })
        .collect();
    Ok(Colour::Indexed(palette))
}

/// Table from a sample value (`bits` ≤ 8) to 0..=255 for one component with decode range
/// `(dmin, dmax)`. For Indexed the result is the palette gray of the decoded index.
fn sample_lut(colour: &Colour, bits: u32, decode: Option<(f64, f64)>) -> Vec<u8> {
    let max = f64::from((1u32 << bits) - 1);
    (0..(1u32 << bits))
        .map(|v| {
            let v = f64::from(v);
            match colour {
                Colour::Indexed(palette) => {
                    let (dmin, dmax) = decode.unwrap_or((0.0, max));
                    let index = (dmin + v * (dmax - dmin) / max).round();
                    let index = index.clamp(0.0, (palette.len().max(1) - 1) as f64) as usize;
                    palette.get(index).copied().unwrap_or(0)
                }
                _ => {
                    let (dmin, dmax) = decode.unwrap_or((0.0, 1.0));
                    ((dmin + v * (dmax - dmin) / max).clamp(0.0, 1.0) * 255.0).round() as u8
                }
            }
        })
        .collect()
}

/// The PDF filters we can undo before an image codec, full names and inline abbreviations.
fn general_filter(name: &[u8]) -> Option<&'static [u8]> {
    Some(match name {
        b"FlateDecode" | b"Fl" => b"FlateDecode",
        b"LZWDecode" | b"LZW" => b"LZWDecode",
        b"RunLengthDecode" | b"RL" => b"RunLengthDecode",
        b"ASCII85Decode" | b"A85" => b"ASCII85Decode",
        b"ASCIIHexDecode" | b"AHx" => b"ASCIIHexDecode",
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codec {
    Dct,
    Ccitt,
}

/// Decode an image XObject whose (still filtered) data is `raw`.
pub(crate) fn decode_image(
    doc: &Document,
    dict: &Dictionary,
    raw: &[u8],
    resources: Option<&Dictionary>,
) -> Result<GrayImage, Fault> {
    let width = int(doc, dict, b"Width").unwrap_or(0);
    let height = int(doc, dict, b"Height").unwrap_or(0);
    if width <= 0 || height <= 0 {
        return Err(Fault::Corrupt(format!("image with size {width}×{height}")));
    }
    check_size(width as u64, height as u64)?;
    let (width, height) = (width as u32, height as u32);

    // Filters and their parameters, in decoding order.
    let filter_names: Vec<&[u8]> = match entry(doc, dict, b"Filter") {
        None => Vec::new(),
        Some(Object::Name(n)) => vec![n.as_slice()],
        Some(Object::Array(a)) => a
            .iter()
            .map(|f| resolve(doc, f).as_name().unwrap_or(b"?"))
            .collect(),
        Some(other) => {
            return Err(Fault::Corrupt(format!(
                "/Filter is a {:?}",
                other.enum_variant()
            )))
        }
    };
    let params_of = |i: usize| -> Option<&Dictionary> {
        match entry(doc, dict, b"DecodeParms").or_else(|| entry(doc, dict, b"DP"))? {
            Object::Dictionary(d) => Some(d),
            Object::Array(a) => resolve(doc, a.get(i)?).as_dict().ok(),
            _ => None,
        }
    };
    let mut general: Vec<(&'static [u8], Option<&Dictionary>)> = Vec::new();
    let mut codec = None;
    for (i, &name) in filter_names.iter().enumerate() {
        let last = i + 1 == filter_names.len();
        match name {
            b"JBIG2Decode" | b"JPXDecode" => return Err(Fault::UnsupportedFilter(name_str(name))),
            b"DCTDecode" | b"DCT" if last => codec = Some((Codec::Dct, params_of(i))),
            b"CCITTFaxDecode" | b"CCF" if last => codec = Some((Codec::Ccitt, params_of(i))),
            b"DCTDecode" | b"DCT" | b"CCITTFaxDecode" | b"CCF" => {
                return Err(Fault::Unsupported(format!(
                    "{} in the middle of a filter chain",
                    name_str(name)
                )))
            }
            other => match general_filter(other) {
                Some(full) => general.push((full, params_of(i))),
                None => return Err(Fault::UnsupportedFilter(name_str(other))),
            },
        }
    }

    let image_mask = boolean(doc, dict, b"ImageMask").unwrap_or(false);
    let bits = match int(doc, dict, b"BitsPerComponent") {
        _ if image_mask => 1,
        Some(b) => b,
        None if matches!(codec, Some((Codec::Ccitt, _))) => 1,
        None => 8,
    };
    let colour = if image_mask {
        Colour::Gray // an image mask paints black where a sample is 0 (with the default /Decode)
    } else {
        match entry(doc, dict, b"ColorSpace").or_else(|| entry(doc, dict, b"CS")) {
            Some(cs) => colour_space(doc, cs, resources, 0)?,
            None => Colour::Gray, // required except for masks and JPX; gray is the safe reading
        }
    };
    let decode: Vec<f64> = match entry(doc, dict, b"Decode") {
        Some(Object::Array(a)) => a.iter().filter_map(|v| number(resolve(doc, v))).collect(),
        _ => Vec::new(),
    };
    let pair = |c: usize| match (decode.get(2 * c), decode.get(2 * c + 1)) {
        (Some(&a), Some(&b)) => Some((a, b)),
        _ => None,
    };

    // Undo the general-purpose filters (with their predictors) through lopdf.
    let samples_len = (u64::from(width) * colour.components() as u64 * bits.clamp(1, 16) as u64)
        .div_ceil(8)
        .saturating_mul(u64::from(height));
    let data: Cow<[u8]> = if general.is_empty() {
        Cow::Borrowed(raw)
    } else {
        // Bound the output (a decompression bomb stops here): twice the raw samples covers the
        // predictor bytes, and a JPEG or CCITT stream underneath is smaller than its pixels.
        let limit = samples_len
            .max(u64::from(width) * u64::from(height))
            .saturating_mul(2)
            + (1 << 20);
        let mut d = Dictionary::new();
        d.set(
            "Filter",
            general
                .iter()
                .map(|(n, _)| Object::Name(n.to_vec()))
                .collect::<Vec<_>>(),
        );
        d.set(
            "DecodeParms",
            general
                .iter()
                .map(|(_, p)| p.map_or(Object::Null, |p| Object::Dictionary(p.clone())))
                .collect::<Vec<_>>(),
        );
        let names: Vec<String> = general.iter().map(|(n, _)| name_str(n)).collect();
        let out = Stream::new(d, raw.to_vec())
            .decompressed_content_with_limit(usize::try_from(limit).unwrap_or(usize::MAX))
            .map_err(|e| Fault::Decode(format!("{}: {e}", names.join(" + "))))?;
        Cow::Owned(out)
    };

    match codec {
        Some((Codec::Dct, _)) => {
            let mut gray = raster::decode_jpeg(&data, false)?;
            if pair(0).is_some_and(|(a, b)| a > b) {
                image::imageops::invert(&mut gray);
            }
            Ok(gray)
        }
        Some((Codec::Ccitt, params)) => {
            let lut = sample_lut(&colour, 1, pair(0));
            let p = |key: &[u8]| params.and_then(|d| entry(doc, d, key));
            let black_is_1 = p(b"BlackIs1")
                .and_then(|o| o.as_bool().ok())
                .unwrap_or(false);
            let columns = p(b"Columns").and_then(number).unwrap_or(1728.0);
            if !(1.0..=MAX_COLUMNS).contains(&columns) {
                return Err(Fault::Corrupt(format!("CCITT /Columns {columns}")));
            }
            let ccitt = CcittParams {
                k: p(b"K").and_then(number).unwrap_or(0.0) as i64,
                columns: columns as u32,
                byte_align: p(b"EncodedByteAlign")
                    .and_then(|o| o.as_bool().ok())
                    .unwrap_or(false),
                end_of_line: p(b"EndOfLine")
                    .and_then(|o| o.as_bool().ok())
                    .unwrap_or(false),
                end_of_block: p(b"EndOfBlock")
                    .and_then(|o| o.as_bool().ok())
                    .unwrap_or(true),
            };
            // A CCITT black pixel is sample 1 if BlackIs1, else 0; the colour space (with
            // /Decode) then says what gray that sample is.
            let black_sample = usize::from(black_is_1);
            let mut canvas =
                BilevelCanvas::new(width, height, lut[1 - black_sample], lut[black_sample])?;
            canvas.decode(&data, &ccitt, height)?;
            canvas.finish()
        }
        None => unpack(data, width, height, bits, &colour, &pair),
    }
}

/// Widest CCITT row we decode; no more than the widest image we accept.
const MAX_COLUMNS: f64 = super::MAX_SIDE as f64;

/// Raw samples to gray.
fn unpack(
    data: Cow<[u8]>,
    width: u32,
    height: u32,
    bits: i64,
    colour: &Colour,
    pair: &dyn Fn(usize) -> Option<(f64, f64)>,
) -> Result<GrayImage, Fault> {
    if !matches!(bits, 1 | 2 | 4 | 8 | 16) {
        return Err(Fault::Unsupported(format!("{bits} bits per component")));
    }
    let bits = bits as usize;
    let (w, h) = (width as usize, height as usize);
    let n = colour.components();
    let stride = (w * n * bits).div_ceil(8);
    let need = stride * h;
    if data.len() < need {
        return Err(Fault::Decode(format!(
            "the image data is truncated: {} of {need} bytes",
            data.len()
        )));
    }
    // 16-bit samples are read by their high byte, through 8-bit tables.
    let lut_bits = bits.min(8) as u32;
    let luts: Vec<Vec<u8>> = (0..n)
        .map(|c| match colour {
            Colour::Indexed(_) | Colour::Gray => sample_lut(colour, lut_bits, pair(c)),
            _ => sample_lut(&Colour::Gray, lut_bits, pair(c)),
        })
        .collect();
    let identity = luts.len() == 1
        && luts[0].len() == 256
        && luts[0].iter().enumerate().all(|(i, &v)| v as usize == i);

    if n == 1 && bits == 8 && identity {
        // The common case: 8-bit gray, stored as is. No copy when lopdf already gave us a Vec.
        let mut buf = data.into_owned();
        buf.truncate(need);
        return gray_image(width, height, buf);
    }

    let mut out = super::pool::take(0);
    out.reserve(w * h);
    // Sample `i` of a row, as an index into the 8-bit (or narrower) tables.
    let sample = |row: &[u8], i: usize| -> usize {
        match bits {
            8 => usize::from(row[i]),
            16 => usize::from(row[2 * i]),
            _ => {
                let bit = i * bits;
                usize::from((row[bit / 8] >> (8 - bits - bit % 8)) & ((1u8 << bits) - 1))
            }
        }
    };
    for row in data[..need].chunks_exact(stride) {
        match colour {
            Colour::Gray | Colour::Indexed(_) => {
                let lut = &luts[0];
                if bits == 1 {
                    // Eight pixels per byte.
                    let (l0, l1) = (lut[0], lut[1]);
                    for x in 0..w {
                        let bit = (row[x / 8] >> (7 - x % 8)) & 1;
                        out.push(if bit == 1 { l1 } else { l0 });
                    }
                } else {
                    out.extend((0..w).map(|x| lut[sample(row, x)]));
                }
            }
            Colour::Rgb => {
                out.extend((0..w).map(|x| {
                    let i = 3 * x;
                    luma(
                        luts[0][sample(row, i)],
                        luts[1][sample(row, i + 1)],
                        luts[2][sample(row, i + 2)],
                    )
                }));
            }
            Colour::Cmyk => {
                out.extend((0..w).map(|x| {
                    let i = 4 * x;
                    cmyk_gray(
                        luts[0][sample(row, i)],
                        luts[1][sample(row, i + 1)],
                        luts[2][sample(row, i + 2)],
                        luts[3][sample(row, i + 3)],
                    )
                }));
            }
        }
    }
    gray_image(width, height, out)
}
