//! CCITT fax coding (ITU-T T.4 / T.6): decoding through `hayro-ccitt` into a gray canvas, and a
//! small Group 4 encoder so that tests, the simulator and the benchmark can produce the 1-bit
//! scans that office scanners write (PDF `/CCITTFaxDecode`, TIFF compression 4).

use super::{check_size, Fault};
use hayro_ccitt::{DecodeSettings, DecoderContext, EncodingMode};
use image::GrayImage;

/// Which CCITT scheme a stream uses, with the options that change how it is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CcittParams {
    /// PDF `/K`: < 0 Group 4, 0 Group 3 one-dimensional, > 0 Group 3 two-dimensional.
    pub k: i64,
    /// Pixels per row.
    pub columns: u32,
    /// Every row starts on a byte boundary (PDF `/EncodedByteAlign`, TIFF compression 2).
    pub byte_align: bool,
    /// Rows are preceded by EOL codes (PDF `/EndOfLine`).
    pub end_of_line: bool,
    /// The data may end with an end-of-block code (PDF `/EndOfBlock`, default true).
    pub end_of_block: bool,
}

/// A gray page being filled row by row from CCITT runs, possibly from several strips.
pub(crate) struct BilevelCanvas {
    buf: Vec<u8>,
    width: u32,
    height: u32,
    rows: u32,
    black: u8,
}

impl BilevelCanvas {
    /// A white canvas. `white`/`black` are the gray values for CCITT white and black runs
    /// (swapped when the file says black is 1 or the photometric is inverted).
    pub(crate) fn new(width: u32, height: u32, white: u8, black: u8) -> Result<Self, Fault> {
        check_size(u64::from(width), u64::from(height))?;
        let len = (width as usize) * (height as usize);
        let mut buf = super::pool::take(len);
        buf.fill(white);
        Ok(Self {
            buf,
            width,
            height,
            rows: 0,
            black,
        })
    }

    /// Rows filled so far.
    pub(crate) fn rows(&self) -> u32 {
        self.rows
    }

    /// Decode one independently coded block (a whole PDF stream, or one TIFF strip) of at most
    /// `max_rows` rows into the next rows of the canvas.
    pub(crate) fn decode(
        &mut self,
        data: &[u8],
        p: &CcittParams,
        max_rows: u32,
    ) -> Result<(), Fault> {
        let target = self.rows.saturating_add(max_rows).min(self.height);
        let encoding = match p.k {
            k if k < 0 => EncodingMode::Group4,
            0 => EncodingMode::Group3_1D,
            _ => EncodingMode::Group3_2D,
        };
        let settings = DecodeSettings {
            columns: p.columns,
            rows: target - self.rows,
            end_of_block: p.end_of_block,
            end_of_line: p.end_of_line,
            rows_are_byte_aligned: p.byte_align,
            encoding,
            // Tolerate the small sloppiness real producers have; damage still shows as missing
            // rows, which is checked below.
            strict: false,
        };
        if settings.rows == 0 || p.columns == 0 {
            return Ok(());
        }
        let mut ctx = DecoderContext::new(settings);
        let mut sink = Sink {
            canvas: self,
            limit: target,
        };
        let result = hayro_ccitt::decode(data, &mut sink, &mut ctx);
        if self.rows < target {
            let why = match result {
                Err(e) => e.to_string(),
                Ok(_) => "the data ends early".to_string(),
            };
            return Err(Fault::Decode(format!(
                "CCITT data gave {} of {} rows: {why}",
                self.rows, self.height
            )));
        }
        Ok(())
    }

    /// The finished page; every row must have been decoded.
    pub(crate) fn finish(self) -> Result<GrayImage, Fault> {
        if self.rows < self.height {
            return Err(Fault::Decode(format!(
                "CCITT data gave {} of {} rows",
                self.rows, self.height
            )));
        }
        super::gray_image(self.width, self.height, self.buf)
    }

    fn push_row(&mut self, changes: &[u32]) {
        let w = self.width as usize;
        let start = self.rows as usize * w;
        let Some(row) = self.buf.get_mut(start..start + w) else {
            return;
        };
        // `changes` alternate white→black, black→white, starting white; an odd count ends black.
        for pair in changes.chunks(2) {
            let from = (pair[0] as usize).min(w);
            let to = pair.get(1).map_or(w, |&t| (t as usize).min(w));
            if from < to {
                row[from..to].fill(self.black);
            }
        }
        self.rows += 1;
    }
}

struct Sink<'a> {
    canvas: &'a mut BilevelCanvas,
    limit: u32,
}

impl hayro_ccitt::Decoder for Sink<'_> {
    fn push_row(&mut self, changes: &[u32]) {
        if self.canvas.rows < self.limit {
            self.canvas.push_row(changes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Group 4 encoder (T.6). Run-length code tables are those of T.4 tables 2 and 3: (code, bits).

const WHITE_TERM: [(u16, u8); 64] = [
    (0x35, 8),
    (0x07, 6),
    (0x07, 4),
    (0x08, 4),
    (0x0B, 4),
    (0x0C, 4),
    (0x0E, 4),
    (0x0F, 4),
    (0x13, 5),
    (0x14, 5),
    (0x07, 5),
    (0x08, 5),
    (0x08, 6),
    (0x03, 6),
    (0x34, 6),
    (0x35, 6),
    (0x2A, 6),
    (0x2B, 6),
    (0x27, 7),
    (0x0C, 7),
    (0x08, 7),
    (0x17, 7),
    (0x03, 7),
    (0x04, 7),
    (0x28, 7),
    (0x2B, 7),
    (0x13, 7),
    (0x24, 7),
    (0x18, 7),
    (0x02, 8),
    (0x03, 8),
    (0x1A, 8),
    (0x1B, 8),
    (0x12, 8),
    (0x13, 8),
    (0x14, 8),
    (0x15, 8),
    (0x16, 8),
    (0x17, 8),
    (0x28, 8),
    (0x29, 8),
    (0x2A, 8),
    (0x2B, 8),
    (0x2C, 8),
    (0x2D, 8),
    (0x04, 8),
    (0x05, 8),
    (0x0A, 8),
    (0x0B, 8),
    (0x52, 8),
    (0x53, 8),
    (0x54, 8),
    (0x55, 8),
    (0x24, 8),
    (0x25, 8),
    (0x58, 8),
    (0x59, 8),
    (0x5A, 8),
    (0x5B, 8),
    (0x4A, 8),
    (0x4B, 8),
    (0x32, 8),
    (0x33, 8),
    (0x34, 8),
];

const BLACK_TERM: [(u16, u8); 64] = [
    (0x37, 10),
    (0x02, 3),
    (0x03, 2),
    (0x02, 2),
    (0x03, 3),
    (0x03, 4),
    (0x02, 4),
    (0x03, 5),
    (0x05, 6),
    (0x04, 6),
    (0x04, 7),
    (0x05, 7),
    (0x07, 7),
    (0x04, 8),
    (0x07, 8),
    (0x18, 9),
    (0x17, 10),
    (0x18, 10),
    (0x08, 10),
    (0x67, 11),
    (0x68, 11),
    (0x6C, 11),
    (0x37, 11),
    (0x28, 11),
    (0x17, 11),
    (0x18, 11),
    (0xCA, 12),
    (0xCB, 12),
    (0xCC, 12),
    (0xCD, 12),
    (0x68, 12),
    (0x69, 12),
    (0x6A, 12),
    (0x6B, 12),
    (0xD2, 12),
    (0xD3, 12),
    (0xD4, 12),
    (0xD5, 12),
    (0xD6, 12),
    (0xD7, 12),
    (0x6C, 12),
    (0x6D, 12),
    (0xDA, 12),
    (0xDB, 12),
    (0x54, 12),
    (0x55, 12),
    (0x56, 12),
    (0x57, 12),
    (0x64, 12),
    (0x65, 12),
    (0x52, 12),
    (0x53, 12),
    (0x24, 12),
    (0x37, 12),
    (0x38, 12),
    (0x27, 12),
    (0x28, 12),
    (0x58, 12),
    (0x59, 12),
    (0x2B, 12),
    (0x2C, 12),
    (0x5A, 12),
    (0x66, 12),
    (0x67, 12),
];

/// Make-up codes for 64, 128, … 1728.
const WHITE_MAKEUP: [(u16, u8); 27] = [
    (0x1B, 5),
    (0x12, 5),
    (0x17, 6),
    (0x37, 7),
    (0x36, 8),
    (0x37, 8),
    (0x64, 8),
    (0x65, 8),
    (0x68, 8),
    (0x67, 8),
    (0xCC, 9),
    (0xCD, 9),
    (0xD2, 9),
    (0xD3, 9),
    (0xD4, 9),
    (0xD5, 9),
    (0xD6, 9),
    (0xD7, 9),
    (0xD8, 9),
    (0xD9, 9),
    (0xDA, 9),
    (0xDB, 9),
    (0x98, 9),
    (0x99, 9),
    (0x9A, 9),
    (0x18, 6),
    (0x9B, 9),
];

/// Make-up codes for 64, 128, … 1728.
const BLACK_MAKEUP: [(u16, u8); 27] = [
    (0x0F, 10),
    (0xC8, 12),
    (0xC9, 12),
    (0x5B, 12),
    (0x33, 12),
    (0x34, 12),
    (0x35, 12),
    (0x6C, 13),
    (0x6D, 13),
    (0x4A, 13),
    (0x4B, 13),
    (0x4C, 13),
    (0x4D, 13),
    (0x72, 13),
    (0x73, 13),
    (0x74, 13),
    (0x75, 13),
    (0x76, 13),
    (0x77, 13),
    (0x52, 13),
    (0x53, 13),
    (0x54, 13),
    (0x55, 13),
    (0x5A, 13),
    (0x5B, 13),
    (0x64, 13),
    (0x65, 13),
];

/// Make-up codes shared by both colours for 1792, 1856, … 2560.
const COMMON_MAKEUP: [(u16, u8); 13] = [
    (0x08, 11),
    (0x0C, 11),
    (0x0D, 11),
    (0x12, 12),
    (0x13, 12),
    (0x14, 12),
    (0x15, 12),
    (0x16, 12),
    (0x17, 12),
    (0x1C, 12),
    (0x1D, 12),
    (0x1E, 12),
    (0x1F, 12),
];

struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    bits: u32,
}

impl BitWriter {
    fn put(&mut self, code: u32, len: u8) {
        self.acc = (self.acc << len) | u64::from(code);
        self.bits += u32::from(len);
        while self.bits >= 8 {
            self.bits -= 8;
            self.out.push((self.acc >> self.bits) as u8);
        }
        self.acc &= (1u64 << self.bits) - 1;
    }

    fn finish(mut self) -> Vec<u8> {
        if self.bits > 0 {
            let pad = 8 - self.bits as u8;
            self.put(0, pad);
        }
        self.out
    }

    fn run(&mut self, mut run: u32, black: bool) {
        while run > 2560 {
            let (code, len) = COMMON_MAKEUP[12];
            self.put(u32::from(code), len);
            run -= 2560;
        }
        if run >= 64 {
            let m = run / 64; // 1..=40
            let (code, len) = if m <= 27 {
                let table = if black { &BLACK_MAKEUP } else { &WHITE_MAKEUP };
                table[m as usize - 1]
            } else {
                COMMON_MAKEUP[m as usize - 28]
            };
            self.put(u32::from(code), len);
            run -= m * 64;
        }
        let (code, len) = if black {
            BLACK_TERM[run as usize]
        } else {
            WHITE_TERM[run as usize]
        };
        self.put(u32::from(code), len);
    }
}

/// Positions in `row` where the colour changes, starting from white; `black(x)` says whether
/// pixel `x` is black.
fn changes(width: u32, black: impl Fn(u32) -> bool, out: &mut Vec<u32>) {
    out.clear();
    let mut current = false;
    for x in 0..width {
        let b = black(x);
        if b != current {
            out.push(x);
            current = b;
        }
    }
}

/// Encode a page as CCITT Group 4 (T.6, `/K -1`), ending with EOFB. Pixels darker than
/// `threshold` are black.
pub(crate) fn encode_g4(image: &GrayImage, threshold: u8) -> Vec<u8> {
    let width = image.width();
    let mut w = BitWriter {
        out: Vec::new(),
        acc: 0,
        bits: 0,
    };
    let mut reference: Vec<u32> = Vec::new();
    let mut coding: Vec<u32> = Vec::new();
    for (_, row) in image.enumerate_rows() {
        let pixels: Vec<u8> = row.map(|(_, _, p)| p.0[0]).collect();
        changes(width, |x| pixels[x as usize] < threshold, &mut coding);
        encode_row(&mut w, width, &coding, &reference);
        std::mem::swap(&mut reference, &mut coding);
    }
    // EOFB: two EOL codes.
    w.put(1, 12);
    w.put(1, 12);
    w.finish()
}

fn encode_row(w: &mut BitWriter, width: u32, cur: &[u32], reference: &[u32]) {
    let at = |v: &[u32], i: usize| v.get(i).copied().unwrap_or(width);
    let mut a0: i64 = -1;
    let mut black = false;
    let mut ai = 0usize; // first index of `cur` that may be > a0
    let mut bi = 0usize; // first index of `reference` that may be > a0
    loop {
        while ai < cur.len() && i64::from(cur[ai]) <= a0 {
            ai += 1;
        }
        while bi < reference.len() && i64::from(reference[bi]) <= a0 {
            bi += 1;
        }
        let a1 = at(cur, ai);
        // b1 changes to the colour opposite a0's: even indices change to black.
        let b1i = if bi.is_multiple_of(2) != black {
            bi
        } else {
            bi + 1
        };
        let b1 = at(reference, b1i);
        let b2 = at(reference, b1i + 1);
        if b2 < a1 {
            w.put(0b0001, 4); // pass
            a0 = i64::from(b2);
        } else {
            let d = i64::from(a1) - i64::from(b1);
            if d.abs() <= 3 {
                let (code, len) = match d {
                    0 => (0b1, 1),
                    1 => (0b011, 3),
                    2 => (0b000011, 6),
                    3 => (0b0000011, 7),
                    -1 => (0b010, 3),
                    -2 => (0b000010, 6),
                    _ => (0b0000010, 7),
                };
                w.put(code, len);
                a0 = i64::from(a1);
                black = !black;
            } else {
                let a2 = at(cur, ai + 1);
                let start = a0.max(0) as u32;
                w.put(0b001, 3); // horizontal
                w.run(a1 - start, black);
                w.run(a2 - a1, !black);
                a0 = i64::from(a2);
            }
        }
        if a0 >= i64::from(width) {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params_g4(columns: u32) -> CcittParams {
        CcittParams {
            k: -1,
            columns,
            byte_align: false,
            end_of_line: false,
            end_of_block: true,
        }
    }

    fn decode_g4(data: &[u8], w: u32, h: u32) -> GrayImage {
        let mut canvas = BilevelCanvas::new(w, h, 255, 0).unwrap();
        canvas.decode(data, &params_g4(w), h).unwrap();
        canvas.finish().unwrap()
    }

    /// A pseudo-random page with long and short runs, runs touching both edges, and runs
    /// longer than 2560 px (the extended make-up codes).
    fn busy_page(w: u32, h: u32, seed: u64) -> GrayImage {
        let mut s = seed;
        let mut next = move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut img = GrayImage::from_pixel(w, h, image::Luma([255]));
        for y in 0..h {
            let mode = next() % 5;
            let mut x = 0;
            let mut black = next() % 2 == 0;
            while x < w {
                let run = match mode {
                    0 => 1 + next() % 4,
                    1 => 1 + next() % 70,
                    2 => 1 + next() % 3000,
                    3 => u64::from(w), // a full row of one colour
                    _ => 1 + next() % 300,
                } as u32;
                for xx in x..(x + run).min(w) {
                    if black {
                        img.put_pixel(xx, y, image::Luma([0]));
                    }
                }
                x += run;
                black = !black;
            }
        }
        img
    }

    #[test]
    fn g4_round_trips_through_hayro_on_busy_pages() {
        for (w, h, seed) in [
            (3000, 120, 1),
            (101, 150, 7),
            (1728, 110, 42),
            (2600, 100, 9),
        ] {
            let page = busy_page(w, h, seed);
            let data = encode_g4(&page, 128);
            let back = decode_g4(&data, w, h);
            assert_eq!(back.as_raw(), page.as_raw(), "size {w}×{h} seed {seed}");
        }
    }

    #[test]
    fn an_all_white_page_is_tiny_and_round_trips() {
        let page = GrayImage::from_pixel(2480, 3508, image::Luma([255]));
        let data = encode_g4(&page, 128);
        assert!(data.len() < 3508, "{} bytes", data.len());
        assert_eq!(decode_g4(&data, 2480, 3508).as_raw(), page.as_raw());
    }

    #[test]
    fn truncated_ccitt_data_is_a_decode_fault_not_a_short_image() {
        let page = busy_page(500, 300, 3);
        let data = encode_g4(&page, 128);
        let mut canvas = BilevelCanvas::new(500, 300, 255, 0).unwrap();
        let err = canvas
            .decode(&data[..data.len() / 3], &params_g4(500), 300)
            .unwrap_err();
        assert!(
            matches!(err, Fault::Decode(ref m) if m.contains("of 300 rows")),
            "{err:?}"
        );
    }

    #[test]
    fn garbage_ccitt_data_does_not_panic() {
        let mut s = 12345u32;
        for len in [0usize, 1, 7, 100, 5000] {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    s = s.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (s >> 16) as u8
                })
                .collect();
            for k in [-1, 0, 1] {
                let p = CcittParams {
                    k,
                    ..params_g4(640)
                };
                let mut canvas = BilevelCanvas::new(640, 480, 255, 0).unwrap();
                let _ = canvas.decode(&data, &p, 480);
            }
        }
    }
}
