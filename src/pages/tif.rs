//! TIFF input: multi-page, one directory (IFD) per page.
//!
//! The directory chain is walked once at open to count pages; one `tiff::Decoder` is kept
//! (behind a mutex, so the source stays `Sync`) and seeks to the page asked for, which it can
//! do without re-walking the chain.
//!
//! Bilevel fax compressions (2 = CCITT RLE, 3 = T.4/G3, 4 = T.6/G4) are decoded here with
//! `hayro-ccitt` rather than by the `tiff` crate: it has no G3 at all, ignores FillOrder 2
//! (bit-reversed bytes, common in fax software) and is several times slower on G4.
//!
//! Sample polarity: for all other compressions the `tiff` crate already inverts WhiteIsZero
//! data, so 0 is black in what it returns, whatever the photometric interpretation. In the
//! CCITT path we read the raw codes ourselves and apply the photometric tag: a decoded white
//! run is a 0 bit, which is white under WhiteIsZero (the norm for fax) and black under
//! BlackIsZero.

use super::ccitt::{BilevelCanvas, CcittParams};
use super::{check_size, gray_image, interleaved_to_gray, luma, plausible_dpi, Channels};
use super::{Fault, FileStamp, PageError, PageImage, PageRef};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use tiff::decoder::{ChunkType, Decoder, DecodingResult, Limits};
use tiff::tags::Tag;
use tiff::{ColorType, TiffError};

type TiffDecoder = Decoder<BufReader<File>>;

/// Upper bound on pages walked at open; far above any batch, it only stops runaway chains.
const MAX_PAGES: usize = 100_000;

/// TIFF T4Options (292): bit 0 = 2-D coding.
const TAG_T4_OPTIONS: Tag = Tag::Unknown(292);

pub(crate) struct TiffSource {
    path: PathBuf,
    stamp: FileStamp,
    count: usize,
    decoder: Mutex<Option<TiffDecoder>>,
}

fn tiff_fault(e: TiffError) -> Fault {
    match e {
        TiffError::IoError(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Fault::Corrupt("the file ends in the middle of an image (truncated?)".to_string())
        }
        TiffError::IoError(e) => Fault::Io(e),
        TiffError::UnsupportedError(e) => Fault::Unsupported(format!("TIFF: {e}")),
        TiffError::LimitsExceeded => {
            Fault::Unsupported("TIFF image beyond decoder limits".to_string())
        }
        TiffError::FormatError(e) => Fault::Corrupt(format!("TIFF: {e}")),
        other => Fault::Decode(format!("TIFF: {other}")),
    }
}

fn new_decoder(path: &Path, stamp: Option<&FileStamp>) -> Result<(TiffDecoder, FileStamp), Fault> {
    let file = match stamp {
        Some(stamp) => stamp.reopen(path)?,
        None => File::open(path)?,
    };
    let stamp = FileStamp::of(&file)?;
    let mut limits = Limits::default();
    // Our own size checks run before decoding; this only has to admit the largest page we
    // accept (MAX_PIXELS RGBA at 16 bits) and no more.
    limits.decoding_buffer_size = (super::MAX_PIXELS as usize).saturating_mul(8);
    let decoder = Decoder::new(BufReader::new(file))
        .map_err(tiff_fault)?
        .with_limits(limits);
    Ok((decoder, stamp))
}

impl TiffSource {
    /// Parse the first directory and walk the chain to count pages.
    pub(crate) fn open(path: &Path) -> Result<Self, PageError> {
        let (mut decoder, stamp) = new_decoder(path, None).map_err(|f| match f {
            Fault::Io(source) => PageError::Io {
                path: path.to_path_buf(),
                source,
            },
            Fault::Unsupported(detail) => PageError::UnsupportedImage {
                path: path.to_path_buf(),
                page: PageRef::uncounted(1),
                detail,
            },
            Fault::Corrupt(detail) | Fault::Decode(detail) => PageError::Corrupt {
                path: path.to_path_buf(),
                page: None,
                detail,
            },
            other => other.at(path, PageRef::uncounted(1)),
        })?;
        let mut count = 1;
        while decoder.more_images() && count < MAX_PAGES {
            count += 1;
            if decoder.next_image().is_err() {
                // The page exists in the chain but cannot be parsed: keep it in the count so
                // that reading it reports the damage for that page.
                break;
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            stamp,
            count,
            decoder: Mutex::new(Some(decoder)),
        })
    }

    pub(crate) fn page_count(&self) -> usize {
        self.count
    }

    /// Forget the decoder (after an error or panic its state is unknown); reopened on demand.
    pub(crate) fn reset(&self) {
        *self.decoder.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    pub(crate) fn load_page(&self, index: usize) -> Result<PageImage, Fault> {
        let mut guard = self.decoder.lock().unwrap_or_else(PoisonError::into_inner);
        let decoder = match guard.take() {
            Some(d) => d,
            None => new_decoder(&self.path, Some(&self.stamp))?.0,
        };
        let mut decoder = decoder;
        let result = self.decode_page(&mut decoder, index);
        if result.is_ok() {
            *guard = Some(decoder);
        }
        result
    }

    fn decode_page(&self, dec: &mut TiffDecoder, index: usize) -> Result<PageImage, Fault> {
        dec.seek_to_image(index).map_err(tiff_fault)?;
        let (width, height) = dec.dimensions().map_err(tiff_fault)?;
        check_size(u64::from(width), u64::from(height))?;
        let dpi = resolution(dec);
        let compression = dec
            .find_tag_unsigned::<u16>(Tag::Compression)
            .ok()
            .flatten()
            .unwrap_or(1);
        if matches!(compression, 2..=4) && dec.get_chunk_type() == ChunkType::Strip {
            let image = self.decode_fax(dec, width, height, compression)?;
            return Ok(PageImage { image, dpi });
        }
        if compression == 3 || compression == 2 {
            return Err(Fault::UnsupportedFilter(format!(
                "tiled CCITT (TIFF compression {compression})"
            )));
        }
        if matches!(compression, 34712 | 34661) {
            // JPEG 2000 and JBIG: name them like the PDF filters they correspond to.
            let name = if compression == 34712 {
                "JPEG 2000"
            } else {
                "JBIG"
            };
            return Err(Fault::UnsupportedFilter(format!(
                "{name} (TIFF compression {compression})"
            )));
        }
        let color = dec.colortype().map_err(tiff_fault)?;
        let data = dec.read_image().map_err(tiff_fault)?;
        let pixels = (width as usize) * (height as usize);
        let buf = to_gray(dec, data, color, width as usize, pixels)?;
        Ok(PageImage {
            image: gray_image(width, height, buf)?,
            dpi,
        })
    }

    /// Decode CCITT strips ourselves (see the module comment for why).
    fn decode_fax(
        &self,
        dec: &mut TiffDecoder,
        width: u32,
        height: u32,
        compression: u16,
    ) -> Result<image::GrayImage, Fault> {
        let tag_u32 = |dec: &mut TiffDecoder, tag| dec.find_tag_unsigned::<u32>(tag).ok().flatten();
        let photometric = tag_u32(dec, Tag::PhotometricInterpretation).unwrap_or(0);
        let fill_order = tag_u32(dec, Tag::FillOrder).unwrap_or(1);
        let t4 = tag_u32(dec, TAG_T4_OPTIONS).unwrap_or(0);
        let rows_per_strip = tag_u32(dec, Tag::RowsPerStrip).unwrap_or(height).max(1);
        let offsets = dec
            .find_tag_unsigned_vec::<u64>(Tag::StripOffsets)
            .map_err(tiff_fault)?;
        let counts = dec
            .find_tag_unsigned_vec::<u64>(Tag::StripByteCounts)
            .map_err(tiff_fault)?;
        let (Some(offsets), Some(counts)) = (offsets, counts) else {
            return Err(Fault::Corrupt(
                "TIFF page without strip offsets".to_string(),
            ));
        };
        let params = match compression {
            2 => CcittParams {
                k: 0,
                columns: width,
                byte_align: true,
                end_of_line: false,
                end_of_block: false,
            },
            3 => CcittParams {
                k: i64::from(t4 & 1),
                columns: width,
                byte_align: false,
                end_of_line: true,
                end_of_block: true,
            },
            _ => CcittParams {
                k: -1,
                columns: width,
                byte_align: false,
                end_of_line: false,
                end_of_block: true,
            },
        };
        // A decoded white run is a 0 bit: white under WhiteIsZero, black under BlackIsZero.
        let (white, black) = if photometric == 1 { (0, 255) } else { (255, 0) };
        let mut canvas = BilevelCanvas::new(width, height, white, black)?;
        let mut file = self.stamp.reopen(&self.path)?;
        let file_len = self.stamp.len;
        let mut data = Vec::new();
        for (&offset, &count) in offsets.iter().zip(&counts) {
            if canvas.rows() >= height {
                break;
            }
            let end = offset
                .checked_add(count)
                .filter(|&e| e <= file_len)
                .ok_or_else(|| {
                    Fault::Corrupt(
                        "a TIFF strip extends past the end of the file (truncated?)".to_string(),
                    )
                })?;
            data.clear();
            file.seek(SeekFrom::Start(offset))?;
            (&mut file).take(end - offset).read_to_end(&mut data)?;
            if fill_order == 2 {
                data.iter_mut().for_each(|b| *b = b.reverse_bits());
            }
            canvas.decode(&data, &params, rows_per_strip)?;
        }
        canvas.finish()
    }
}

/// Scan resolution from XResolution / ResolutionUnit (default unit: inch).
fn resolution(dec: &mut TiffDecoder) -> Option<f32> {
    use tiff::decoder::ifd::Value;
    let x = match dec.find_tag(Tag::XResolution).ok().flatten()? {
        Value::Rational(n, d) if d != 0 => f64::from(n) / f64::from(d),
        Value::Double(v) => v,
        Value::Float(v) => f64::from(v),
        Value::Short(v) => f64::from(v),
        Value::Unsigned(v) => f64::from(v),
        _ => return None,
    };
    match dec
        .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
        .ok()
        .flatten()
        .unwrap_or(2)
    {
        2 => plausible_dpi(x),
        3 => plausible_dpi(x * 2.54),
        _ => None,
    }
}

/// Take the high byte of 16-bit samples.
fn high_bytes(v: &[u16]) -> Vec<u8> {
    v.iter().map(|s| (s >> 8) as u8).collect()
}

/// Convert what the `tiff` crate decoded to one gray byte per pixel.
fn to_gray(
    dec: &mut TiffDecoder,
    data: DecodingResult,
    color: ColorType,
    width: usize,
    pixels: usize,
) -> Result<Vec<u8>, Fault> {
    let unsupported = || Fault::Unsupported(format!("TIFF pixel format {color:?}"));
    // Interleaved 8-bit samples: `channels` per pixel. A planar file yields only its first
    // plane, which we then take as the gray image.
    let interleaved = |buf: Vec<u8>, channels: usize, kind: Channels| -> Result<Vec<u8>, Fault> {
        if buf.len() >= pixels * channels {
            let mut buf = buf;
            buf.truncate(pixels * channels);
            Ok(interleaved_to_gray(buf, channels, kind))
        } else if buf.len() >= pixels {
            let mut buf = buf;
            buf.truncate(pixels);
            Ok(buf)
        } else {
            Err(Fault::Decode(format!(
                "TIFF gave {} bytes for {pixels} pixels",
                buf.len()
            )))
        }
    };
    match (color, data) {
        (ColorType::Gray(8), DecodingResult::U8(buf)) => interleaved(buf, 1, Channels::GrayFirst),
        (ColorType::Gray(16), DecodingResult::U16(buf)) => {
            interleaved(high_bytes(&buf), 1, Channels::GrayFirst)
        }
        (ColorType::Gray(bits @ (1 | 2 | 4)), DecodingResult::U8(buf)) => {
            let max = (1u16 << bits) - 1;
            let lut: Vec<u8> = (0..=max)
                .map(|v| (u32::from(v) * 255 / u32::from(max)) as u8)
                .collect();
            unpack_rows(&buf, width, pixels, bits, &lut)
        }
        (ColorType::GrayA(8), DecodingResult::U8(buf)) => interleaved(buf, 2, Channels::GrayFirst),
        (ColorType::GrayA(16), DecodingResult::U16(buf)) => {
            interleaved(high_bytes(&buf), 2, Channels::GrayFirst)
        }
        (ColorType::RGB(8), DecodingResult::U8(buf)) => interleaved(buf, 3, Channels::Rgb),
        (ColorType::RGBA(8), DecodingResult::U8(buf)) => interleaved(buf, 4, Channels::Rgb),
        (ColorType::RGB(16), DecodingResult::U16(buf)) => {
            interleaved(high_bytes(&buf), 3, Channels::Rgb)
        }
        (ColorType::RGBA(16), DecodingResult::U16(buf)) => {
            interleaved(high_bytes(&buf), 4, Channels::Rgb)
        }
        (ColorType::CMYK(8), DecodingResult::U8(buf)) => interleaved(buf, 4, Channels::Cmyk),
        (ColorType::CMYKA(8), DecodingResult::U8(buf)) => interleaved(buf, 5, Channels::Cmyk),
        // JPEG-compressed YCbCr comes back as Y, Cb, Cr: Y is the gray we want.
        (ColorType::YCbCr(8), DecodingResult::U8(buf)) => interleaved(buf, 3, Channels::GrayFirst),
        (
            ColorType::Multiband {
                bit_depth: 8,
                num_samples,
            },
            DecodingResult::U8(buf),
        ) => interleaved(buf, usize::from(num_samples.max(1)), Channels::GrayFirst),
        (ColorType::Palette(bits @ (1 | 2 | 4 | 8)), DecodingResult::U8(buf)) => {
            let map = dec
                .find_tag_unsigned_vec::<u16>(Tag::ColorMap)
                .ok()
                .flatten()
                .unwrap_or_default();
            let n = 1usize << bits;
            if map.len() < 3 * n {
                return Err(Fault::Corrupt(
                    "TIFF palette image without a complete ColorMap".to_string(),
                ));
            }
            let lut: Vec<u8> = (0..n)
                .map(|i| {
                    luma(
                        (map[i] >> 8) as u8,
                        (map[n + i] >> 8) as u8,
                        (map[2 * n + i] >> 8) as u8,
                    )
                })
                .collect();
            if bits == 8 {
                let mut buf = interleaved(buf, 1, Channels::GrayFirst)?;
                buf.iter_mut().for_each(|v| *v = lut[usize::from(*v)]);
                Ok(buf)
            } else {
                unpack_rows(&buf, width, pixels, bits, &lut)
            }
        }
        _ => Err(unsupported()),
    }
}

/// Unpack rows of `bits`-bit samples (each row padded to a byte) through `lut`.
fn unpack_rows(
    buf: &[u8],
    width: usize,
    pixels: usize,
    bits: u8,
    lut: &[u8],
) -> Result<Vec<u8>, Fault> {
    let bits = usize::from(bits);
    let stride = (width * bits).div_ceil(8);
    let height = pixels.checked_div(width).unwrap_or(0);
    if buf.len() < stride * height {
        return Err(Fault::Decode(format!(
            "TIFF gave {} bytes for {height} rows of {stride}",
            buf.len()
        )));
    }
    let mask = (1u8 << bits) - 1;
    let mut out = super::pool::take(0);
    out.reserve(pixels);
    for row in buf.chunks_exact(stride).take(height) {
        for x in 0..width {
            let bit = x * bits;
            let v = (row[bit / 8] >> (8 - bits - bit % 8)) & mask;
            out.push(lut[usize::from(v)]);
        }
    }
    Ok(out)
}
