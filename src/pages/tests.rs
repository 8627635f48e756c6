//! Tests of the read-pages stage. Inputs are built in a temporary folder: PDFs with the
//! module's own packer (plus hand-written objects for the odd cases), TIFFs with the `tiff`
//! crate, PNG/JPEG with the `image` crate. A few tests also use files made by real tools
//! (ImageMagick, libtiff's tiff2pdf, qpdf) when those are installed, and say so when not.

use super::pack::{self, PackFilter, PackPage, PdfPacker, TiffPack};
use super::*;
use image::{GrayImage, Luma, Rgb, RgbImage};
use std::io::Write;
use std::process::Command;

// ---------------------------------------------------------------------------------------------
// Helpers

/// A form-like test page: white paper, a black frame, boxes, a gray block, a gradient strip
/// and pseudo-random specks.
fn form_page(w: u32, h: u32, seed: u32) -> GrayImage {
    let mut s = seed.wrapping_mul(2_654_435_761).max(1);
    let mut img = GrayImage::from_fn(w, h, |x, y| {
        if x < 4 || y < 4 || x >= w - 4 || y >= h - 4 {
            Luma([0])
        } else if (h / 2..h / 2 + 20).contains(&y) {
            Luma([(x * 255 / w) as u8]) // gradient strip
        } else if (20..60).contains(&x) && (20..60).contains(&y) {
            Luma([128]) // gray block
        } else if (x / 30) % 2 == 0 && (y % 40 == 10) {
            Luma([0]) // ruled lines
        } else {
            Luma([255])
        }
    });
    for _ in 0..(w * h / 500) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        let (x, y) = (s % w, (s / w) % h);
        img.put_pixel(x, y, Luma([(s >> 24) as u8 & 0x3F]));
    }
    img
}

/// Pseudo-random gray noise (incompressible).
fn noise_page(w: u32, h: u32, seed: u32) -> GrayImage {
    let mut s = seed
        .wrapping_mul(747_796_405)
        .wrapping_add(2_891_336_453)
        .max(1);
    GrayImage::from_fn(w, h, |_, _| {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        Luma([(s >> 8) as u8])
    })
}

/// A page of pure black and white (so 1-bit encodings must reproduce it exactly).
fn bilevel_page(w: u32, h: u32, seed: u32) -> GrayImage {
    let f = form_page(w, h, seed);
    GrayImage::from_fn(w, h, |x, y| {
        Luma([if f.get_pixel(x, y).0[0] < 128 { 0 } else { 255 }])
    })
}

fn mean_abs_diff(a: &GrayImage, b: &GrayImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a
        .as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(&x, &y)| u64::from(x.abs_diff(y)))
        .sum();
    sum as f64 / a.as_raw().len() as f64
}

fn input(path: &Path) -> InputFile {
    InputFile::from_path(path).expect("supported extension")
}

fn load(path: &Path, index: usize) -> Result<PageImage, PageError> {
    load_page(&input(path), index)
}

fn tool(name: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("note: `{name}` is not installed; skipping the part of this test that needs it");
    }
    found
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run tool");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Write a PDF with custom objects through the packer's test hooks.
fn custom_pdf(path: &Path, build: impl FnOnce(&mut PdfPacker<Vec<u8>>)) {
    let mut packer = PdfPacker::new(Vec::new(), PackFilter::Raw, 300.0).unwrap();
    build(&mut packer);
    std::fs::write(path, packer.finish().unwrap()).unwrap();
}

/// A page with one image XObject with the given dictionary entries and bytes, on a page of
/// `w_px` × `h_px` at 300 dpi.
fn image_pdf(path: &Path, dict: &str, data: &[u8], w_px: u32, h_px: u32) {
    custom_pdf(path, |p| {
        p.add_image_page(
            dict,
            data,
            f64::from(w_px) * 72.0 / 300.0,
            f64::from(h_px) * 72.0 / 300.0,
        )
        .unwrap();
    });
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut s = lopdf::Stream::new(lopdf::Dictionary::new(), data.to_vec());
    s.compress().unwrap();
    assert!(s.dict.has(b"Filter"), "test data should compress");
    s.content
}

/// Pack 8-bit samples 1 bit per pixel, set bit = sample ≥ 128.
fn pack_1bit(img: &GrayImage) -> Vec<u8> {
    let (w, h) = (img.width() as usize, img.height() as usize);
    let stride = w.div_ceil(8);
    let mut out = vec![0u8; stride * h];
    for (x, y, p) in img.enumerate_pixels() {
        if p.0[0] >= 128 {
            out[y as usize * stride + x as usize / 8] |= 0x80 >> (x % 8);
        }
    }
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    c.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    c
}

/// Insert a chunk right after IHDR.
fn png_insert_after_ihdr(png: &[u8], chunk: &[u8]) -> Vec<u8> {
    let ihdr_end = 8 + 12 + 13;
    let mut out = png[..ihdr_end].to_vec();
    out.extend_from_slice(chunk);
    out.extend_from_slice(&png[ihdr_end..]);
    out
}

fn assert_send_sync<T: Send + Sync>() {}

// ---------------------------------------------------------------------------------------------
// PDF: encodings written by the packer

#[test]
fn gray_jpeg_pdf_pages_decode_to_their_source_pixels_and_dpi() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scan.pdf");
    let pages: Vec<GrayImage> = (0..3)
        .map(|i| form_page(420 + i * 10, 600, i + 1))
        .collect();
    let packed: Vec<PackPage> = pages.iter().map(PackPage::from).collect();
    pack::write_pdf(&path, &packed, PackFilter::Jpeg { quality: 92 }, 300.0).unwrap();

    let source = open(&input(&path)).unwrap();
    assert_eq!(source.page_count(), 3);
    assert_eq!(source.kind(), InputKind::Pdf);
    for (i, original) in pages.iter().enumerate() {
        let page = source.load_page(i).unwrap();
        assert_eq!(page.image.dimensions(), original.dimensions());
        let diff = mean_abs_diff(&page.image, original);
        assert!(diff < 4.0, "page {i}: mean difference {diff}");
        // Uniform areas survive JPEG almost exactly.
        assert!(page.image.get_pixel(40, 40).0[0].abs_diff(128) <= 6);
        assert!(page.image.get_pixel(1, 300).0[0] <= 12);
        let dpi = page.dpi.unwrap();
        assert!((dpi - 300.0).abs() < 0.5, "dpi {dpi}");
    }
}

#[test]
fn rgb_jpeg_pdf_is_reduced_to_luma() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("colour.pdf");
    let rgb = RgbImage::from_fn(300, 200, |x, _| match x / 100 {
        0 => Rgb([200, 40, 40]),
        1 => Rgb([30, 160, 60]),
        _ => Rgb([90, 90, 90]),
    });
    pack::write_pdf(
        &path,
        &[PackPage::from(&rgb)],
        PackFilter::Jpeg { quality: 95 },
        200.0,
    )
    .unwrap();
    let page = load(&path, 0).unwrap();
    for (x, rgb) in [
        (50, [200, 40, 40]),
        (150, [30, 160, 60]),
        (250, [90, 90, 90]),
    ] {
        let want = luma(rgb[0], rgb[1], rgb[2]);
        let got = page.image.get_pixel(x, 100).0[0];
        assert!(got.abs_diff(want) <= 4, "x {x}: got {got}, want {want}");
    }
    assert!((page.dpi.unwrap() - 200.0).abs() < 0.5);
}

#[test]
fn flate_pdfs_are_lossless_in_8_bit_gray_and_rgb() {
    let dir = tempfile::tempdir().unwrap();
    let gray = form_page(333, 250, 5);
    let path = dir.path().join("flate.pdf");
    pack::write_pdf(&path, &[PackPage::from(&gray)], PackFilter::Flate, 150.0).unwrap();
    let page = load(&path, 0).unwrap();
    assert_eq!(page.image.as_raw(), gray.as_raw());
    assert!((page.dpi.unwrap() - 150.0).abs() < 0.5);

    let rgb = RgbImage::from_fn(240, 180, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let path = dir.path().join("flate-rgb.pdf");
    pack::write_pdf(&path, &[PackPage::from(&rgb)], PackFilter::Flate, 300.0).unwrap();
    let page = load(&path, 0).unwrap();
    let want = GrayImage::from_fn(240, 180, |x, y| {
        let p = rgb.get_pixel(x, y).0;
        Luma([luma(p[0], p[1], p[2])])
    });
    assert_eq!(page.image.as_raw(), want.as_raw());
}

#[test]
fn one_bit_flate_and_ccitt_g4_pdfs_reproduce_a_bilevel_page_exactly() {
    let dir = tempfile::tempdir().unwrap();
    // 203 px: rows do not end on a byte boundary.
    let pages = [bilevel_page(203, 150, 1), bilevel_page(1000, 700, 2)];
    let packed: Vec<PackPage> = pages.iter().map(PackPage::from).collect();
    for filter in [PackFilter::Flate1Bit, PackFilter::CcittG4, PackFilter::Raw] {
        let path = dir.path().join(format!("{filter:?}.pdf"));
        pack::write_pdf(&path, &packed, filter, 300.0).unwrap();
        let source = open(&input(&path)).unwrap();
        for (i, original) in pages.iter().enumerate() {
            let page = source.load_page(i).unwrap();
            assert_eq!(
                page.image.as_raw(),
                original.as_raw(),
                "{filter:?} page {i}"
            );
        }
    }
}

#[test]
fn a_2480_by_3508_gray_jpeg_page_decodes_quickly() {
    // The budget is generous (the measured time is ≈ 40 ms in release): it catches an
    // accidental RGB round trip or a debug-build decoder, not jitter.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a4.pdf");
    let page = form_page(2480, 3508, 9);
    pack::write_pdf(
        &path,
        &[PackPage::from(&page)],
        PackFilter::Jpeg { quality: 85 },
        300.0,
    )
    .unwrap();
    let source = open(&input(&path)).unwrap();
    let _ = source.load_page(0).unwrap(); // warm the file cache
    let runs = 5;
    let start = std::time::Instant::now();
    for _ in 0..runs {
        let p = source.load_page(0).unwrap();
        assert_eq!(p.image.dimensions(), (2480, 3508));
    }
    let per_page = start.elapsed() / runs;
    eprintln!("2480×3508 gray JPEG page from PDF: {per_page:?} per page");
    if !cfg!(debug_assertions) {
        assert!(per_page.as_millis() < 250, "{per_page:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// PDF: hand-built variants

#[test]
fn one_bit_image_with_decode_1_0_is_inverted() {
    let dir = tempfile::tempdir().unwrap();
    let page = bilevel_page(160, 120, 3);
    let path = dir.path().join("inverted.pdf");
    let dict = "/Width 160 /Height 120 /ColorSpace /DeviceGray /BitsPerComponent 1 /Decode [1 0] /Filter /FlateDecode";
    image_pdf(&path, dict, &zlib(&pack_1bit(&page)), 160, 120);
    let got = load(&path, 0).unwrap().image;
    let mut want = page.clone();
    image::imageops::invert(&mut want);
    assert_eq!(got.as_raw(), want.as_raw());
}

#[test]
fn image_masks_paint_zero_bits_black() {
    let dir = tempfile::tempdir().unwrap();
    let page = bilevel_page(128, 128, 4);
    let path = dir.path().join("mask.pdf");
    image_pdf(
        &path,
        "/Width 128 /Height 128 /ImageMask true",
        &pack_1bit(&page),
        128,
        128,
    );
    assert_eq!(load(&path, 0).unwrap().image.as_raw(), page.as_raw());
    // With /Decode [1 0], set bits paint.
    let path = dir.path().join("mask-inv.pdf");
    image_pdf(
        &path,
        "/Width 128 /Height 128 /ImageMask true /Decode [1 0]",
        &pack_1bit(&page),
        128,
        128,
    );
    let mut want = page.clone();
    image::imageops::invert(&mut want);
    assert_eq!(load(&path, 0).unwrap().image.as_raw(), want.as_raw());
}

#[test]
fn indexed_images_map_through_their_palette_at_8_and_2_bits() {
    let dir = tempfile::tempdir().unwrap();
    // Palette: white, black, red, mid gray.
    let palette = "<FFFFFF 000000 FF0000 808080>";
    let grays = [255, 0, luma(255, 0, 0), 128];
    let (w, h) = (120u32, 110u32);
    let index = |x: u32, y: u32| ((x / 30 + y / 55) % 4) as u8;
    let want = GrayImage::from_fn(w, h, |x, y| Luma([grays[index(x, y) as usize]]));

    let data8: Vec<u8> = (0..h)
        .flat_map(|y| (0..w).map(move |x| index(x, y)))
        .collect();
    let path = dir.path().join("indexed8.pdf");
    let dict = format!(
        "/Width {w} /Height {h} /ColorSpace [/Indexed /DeviceRGB 3 {palette}] /BitsPerComponent 8"
    );
    image_pdf(&path, &dict, &data8, w, h);
    assert_eq!(load(&path, 0).unwrap().image.as_raw(), want.as_raw());

    let stride = (w as usize * 2).div_ceil(8);
    let mut data2 = vec![0u8; stride * h as usize];
    for y in 0..h {
        for x in 0..w {
            let bit = x as usize * 2;
            data2[y as usize * stride + bit / 8] |= index(x, y) << (6 - bit % 8);
        }
    }
    let path = dir.path().join("indexed2.pdf");
    let dict = format!(
        "/Width {w} /Height {h} /ColorSpace [/Indexed /DeviceRGB 3 {palette}] /BitsPerComponent 2 /Filter /FlateDecode"
    );
    image_pdf(&path, &dict, &zlib(&data2), w, h);
    assert_eq!(load(&path, 0).unwrap().image.as_raw(), want.as_raw());
}

#[test]
fn other_colour_spaces_and_depths_reduce_to_the_expected_gray() {
    let dir = tempfile::tempdir().unwrap();
    let (w, h) = (100u32, 100u32);
    let n = (w * h) as usize;
    let cases: Vec<(&str, String, Vec<u8>, u8)> = vec![
        // 16-bit gray: high byte counts.
        (
            "gray16",
            "/ColorSpace /DeviceGray /BitsPerComponent 16".into(),
            [0x40u8, 0xFF].repeat(n),
            0x40,
        ),
        // 4-bit gray: 0x9 of 0xF.
        (
            "gray4",
            "/ColorSpace /DeviceGray /BitsPerComponent 4".into(),
            vec![0x99; n / 2],
            153,
        ),
        // CMYK: 50 % black ink only.
        (
            "cmyk",
            "/ColorSpace /DeviceCMYK /BitsPerComponent 8".into(),
            [0, 0, 0, 128].repeat(n),
            127,
        ),
        // CalGray is gray.
        (
            "calgray",
            "/ColorSpace [/CalGray << /WhitePoint [0.95 1 1.09] >>] /BitsPerComponent 8".into(),
            vec![77; n],
            77,
        ),
        // RGB raw with /Decode inverting every channel.
        (
            "rgbdecode",
            "/ColorSpace /DeviceRGB /BitsPerComponent 8 /Decode [1 0 1 0 1 0]".into(),
            [0u8, 0, 0].repeat(n),
            255,
        ),
    ];
    for (name, dict, data, want) in cases {
        let path = dir.path().join(format!("{name}.pdf"));
        image_pdf(
            &path,
            &format!("/Width {w} /Height {h} {dict}"),
            &data,
            w,
            h,
        );
        let img = load(&path, 0)
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .image;
        assert!(
            img.pixels().all(|p| p.0[0].abs_diff(want) <= 1),
            "{name}: got {:?}, want {want}",
            img.get_pixel(5, 5)
        );
    }
}

#[test]
fn icc_based_and_named_resource_colour_spaces_are_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("icc.pdf");
    custom_pdf(&path, |p| {
        let icc = p.add_stream("/N 1", b"not a real profile").unwrap();
        let img = p
            .add_stream(&format!("/Type /XObject /Subtype /Image /Width 100 /Height 100 /ColorSpace [/ICCBased {icc} 0 R] /BitsPerComponent 8"), &[60; 10_000])
            .unwrap();
        p.add_raw_page(
            &format!("<< /XObject << /Im0 {img} 0 R >> >>"),
            b"q 24 0 0 24 0 0 cm /Im0 Do Q",
            24.0,
            24.0,
            "",
        )
        .unwrap();
        // A colour space by resource name (not allowed for images by the spec, seen anyway).
        let img2 = p
            .add_stream("/Type /XObject /Subtype /Image /Width 100 /Height 100 /ColorSpace /CS0 /BitsPerComponent 8", &[90; 10_000])
            .unwrap();
        let res =
            format!("<< /XObject << /Im0 {img2} 0 R >> /ColorSpace << /CS0 /DeviceGray >> >>");
        p.add_raw_page(&res, b"q 24 0 0 24 0 0 cm /Im0 Do Q", 24.0, 24.0, "")
            .unwrap();
    });
    let source = open(&input(&path)).unwrap();
    assert_eq!(source.load_page(0).unwrap().image.get_pixel(3, 3).0[0], 60);
    assert_eq!(source.load_page(1).unwrap().image.get_pixel(3, 3).0[0], 90);
}

#[test]
fn filter_arrays_and_decode_parms_arrays_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let page = form_page(200, 150, 8);
    // [/FlateDecode /DCTDecode]: a JPEG, zlib-compressed on top.
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode(page.as_raw(), 200, 150, image::ExtendedColorType::L8)
        .unwrap();
    let path = dir.path().join("flate-dct.pdf");
    let dict = "/Width 200 /Height 150 /ColorSpace /DeviceGray /BitsPerComponent 8 \
                /Filter [/FlateDecode /DCTDecode] /DecodeParms [null null]";
    image_pdf(&path, dict, &zlib(&jpeg), 200, 150);
    assert!(mean_abs_diff(&load(&path, 0).unwrap().image, &page) < 3.0);

    // DecodeParms as an array of one dictionary, with a PNG predictor ("Up" on every row).
    let raw = page.as_raw();
    let mut encoded = Vec::new();
    for y in 0..150 {
        encoded.push(2u8);
        for x in 0..200 {
            let prev = if y > 0 { raw[(y - 1) * 200 + x] } else { 0 };
            encoded.push(raw[y * 200 + x].wrapping_sub(prev));
        }
    }
    let path = dir.path().join("predictor.pdf");
    let dict = "/Width 200 /Height 150 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter [/FlateDecode] \
                /DecodeParms [<< /Predictor 12 /Colors 1 /BitsPerComponent 8 /Columns 200 >>]";
    image_pdf(&path, dict, &zlib(&encoded), 200, 150);
    assert_eq!(load(&path, 0).unwrap().image.as_raw(), page.as_raw());
}

#[test]
fn ccitt_with_black_is_1_and_decode_1_0_reads_like_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let page = bilevel_page(300, 200, 6);
    let g4 = super::ccitt::encode_g4(&page, 128);
    // BlackIs1 true: CCITT black is a 1 sample, which DeviceGray shows white unless /Decode
    // inverts it. Both flags together give the original back.
    let path = dir.path().join("blackis1.pdf");
    let dict = "/Width 300 /Height 200 /ColorSpace /DeviceGray /BitsPerComponent 1 /Decode [1 0] \
                /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns 300 /BlackIs1 true >>";
    image_pdf(&path, dict, &g4, 300, 200);
    assert_eq!(load(&path, 0).unwrap().image.as_raw(), page.as_raw());
    // BlackIs1 alone shows a negative.
    let path = dir.path().join("negative.pdf");
    let dict = "/Width 300 /Height 200 /ColorSpace /DeviceGray /BitsPerComponent 1 \
                /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns 300 /BlackIs1 true >>";
    image_pdf(&path, dict, &g4, 300, 200);
    let mut negative = page.clone();
    image::imageops::invert(&mut negative);
    assert_eq!(load(&path, 0).unwrap().image.as_raw(), negative.as_raw());
}

#[test]
fn the_largest_painted_image_wins_and_rotate_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("several.pdf");
    let scan = form_page(300, 400, 1);
    custom_pdf(&path, |p| {
        let dict = |w, h| {
            format!("/Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray /BitsPerComponent 8")
        };
        let big = p.add_stream(&dict(300, 400), scan.as_raw()).unwrap();
        let logo = p.add_stream(&dict(120, 120), &[0; 120 * 120]).unwrap();
        // Listed in the (shared) resources but not painted on this page.
        let unused = p.add_stream(&dict(500, 500), &[0; 500 * 500]).unwrap();
        let res =
            format!("<< /XObject << /Logo {logo} 0 R /Scan {big} 0 R /Other {unused} 0 R >> >>");
        let content = b"q 72 0 0 96 0 0 cm /Scan Do Q q 10 0 0 10 5 5 cm /Logo Do Q";
        p.add_raw_page(&res, content, 72.0, 96.0, "/Rotate 90")
            .unwrap();
    });
    let page = load(&path, 0).unwrap();
    assert_eq!(
        page.image.as_raw(),
        image::imageops::rotate90(&scan).as_raw()
    );
    let dpi = page.dpi.unwrap();
    assert!((dpi - 300.0).abs() < 0.5, "{dpi}");
}

#[test]
fn an_image_stream_with_an_indirect_length_is_read_back_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("indirect.pdf");
    let page = form_page(400, 300, 2);
    custom_pdf(&path, |p| {
        let img_id = p.next_id();
        let len_id = img_id + 1;
        let mut body = format!(
            "<< /Type /XObject /Subtype /Image /Width 400 /Height 300 /ColorSpace /DeviceGray \
             /BitsPerComponent 8 /Length {len_id} 0 R >>\r\nstream\r\n"
        )
        .into_bytes();
        body.extend_from_slice(page.as_raw());
        body.extend_from_slice(b"\r\nendstream");
        assert_eq!(p.add_raw_object(&body).unwrap(), img_id);
        p.add_raw_object(page.as_raw().len().to_string().as_bytes())
            .unwrap();
        p.add_raw_page(
            &format!("<< /XObject << /Im0 {img_id} 0 R >> >>"),
            b"q 96 0 0 72 0 0 cm /Im0 Do Q",
            96.0,
            72.0,
            "",
        )
        .unwrap();
    });
    let source = open(&input(&path)).unwrap();
    let Inner::Pdf(pdf) = &source.inner else {
        panic!("not a PDF source")
    };
    assert!(
        pdf.image_bytes_in_memory() < 1000,
        "image bytes should stay on disk"
    );
    assert_eq!(source.load_page(0).unwrap().image.as_raw(), page.as_raw());
}

#[test]
fn large_image_bytes_stay_on_disk_and_a_misleading_dictionary_falls_back_to_a_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tricky.pdf");
    let page = form_page(400, 300, 3);
    custom_pdf(&path, |p| {
        // A string in the dictionary that looks like the start of the stream data.
        let dict = "/Width 400 /Height 300 /ColorSpace /DeviceGray /BitsPerComponent 8 /Note (a >>\nstream\nb)";
        p.add_image_page(dict, page.as_raw(), 96.0, 72.0).unwrap();
    });
    let source = open(&input(&path)).unwrap();
    let Inner::Pdf(pdf) = &source.inner else {
        panic!("not a PDF source")
    };
    assert!(pdf.image_bytes_in_memory() < 1000);
    assert_eq!(source.load_page(0).unwrap().image.as_raw(), page.as_raw());
}

#[test]
fn a_pdf_changed_on_disk_after_opening_is_reported_as_changed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("growing.pdf");
    let page = form_page(400, 300, 4);
    pack::write_pdf(&path, &[PackPage::from(&page)], PackFilter::Raw, 300.0).unwrap();
    let source = open(&input(&path)).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"% more\n")
        .unwrap();
    let err = source.load_page(0).unwrap_err();
    assert!(matches!(err, PageError::Changed { .. }), "{err}");
}

#[test]
fn pdfs_rewritten_with_object_streams_by_qpdf_still_read() {
    if !tool("qpdf") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Noise does not compress: each image stream is large enough to be left on disk.
    let pages: Vec<GrayImage> = (0..3).map(|i| noise_page(400, 300, i)).collect();
    let packed: Vec<PackPage> = pages.iter().map(PackPage::from).collect();
    let plain = dir.path().join("plain.pdf");
    pack::write_pdf(&plain, &packed, PackFilter::Flate, 300.0).unwrap();
    for (name, args) in [
        ("objstm.pdf", &["--object-streams=generate"][..]),
        ("linear.pdf", &["--linearize"][..]),
        ("qdf.pdf", &["--qdf", "--object-streams=disable"][..]),
    ] {
        let out = dir.path().join(name);
        run(Command::new("qpdf").args(args).arg(&plain).arg(&out));
        let source = open(&input(&out)).unwrap();
        assert_eq!(source.page_count(), 3, "{name}");
        let Inner::Pdf(pdf) = &source.inner else {
            panic!("not a PDF source")
        };
        assert!(
            pdf.image_bytes_in_memory() < 1000,
            "{name}: image bytes should stay on disk"
        );
        for (i, want) in pages.iter().enumerate() {
            assert_eq!(
                source.load_page(i).unwrap().image.as_raw(),
                want.as_raw(),
                "{name} page {i}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// PDF: refusals, each with its own error

#[test]
fn a_pdf_with_an_encrypt_entry_is_refused_as_encrypted() {
    let dir = tempfile::tempdir().unwrap();
    let page = form_page(200, 200, 1);
    // An unknown security handler (lopdf fails to load) and a standard one whose empty
    // password does not match (lopdf loads but cannot decrypt).
    let handlers = [
        "<< /Filter /AcmeSecurity /V 9 >>",
        "<< /Filter /Standard /V 1 /R 2 /O <00112233445566778899AABBCCDDEEFF00112233445566778899AABBCCDDEEFF> \
         /U <FFEEDDCCBBAA99887766554433221100FFEEDDCCBBAA99887766554433221100> /P -4 >>",
    ];
    for (i, handler) in handlers.iter().enumerate() {
        let path = dir.path().join(format!("locked{i}.pdf"));
        custom_pdf(&path, |p| {
            p.add_image_page(
                "/Width 200 /Height 200 /ColorSpace /DeviceGray /BitsPerComponent 8",
                page.as_raw(),
                48.0,
                48.0,
            )
            .unwrap();
            let enc = p.add_object(handler).unwrap();
            p.set_trailer_extra(&format!("/Encrypt {enc} 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>]"));
        });
        let err = open(&input(&path)).unwrap_err();
        assert!(
            matches!(err, PageError::Encrypted { .. }),
            "handler {i}: {err}"
        );
        assert!(
            err.to_string().contains("encrypted PDF: decrypt it first"),
            "{err}"
        );
        assert_eq!(err.code(), "encrypted");
    }
}

#[test]
fn a_qpdf_encrypted_pdf_is_refused_unless_its_password_is_empty() {
    if !tool("qpdf") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = form_page(300, 300, 2);
    let plain = dir.path().join("plain.pdf");
    pack::write_pdf(&plain, &[PackPage::from(&page)], PackFilter::Flate, 300.0).unwrap();
    let locked = dir.path().join("locked.pdf");
    run(Command::new("qpdf")
        .args(["--encrypt", "secret", "owner", "256", "--"])
        .arg(&plain)
        .arg(&locked));
    let err = open(&input(&locked)).unwrap_err();
    assert!(matches!(err, PageError::Encrypted { .. }), "{err}");

    // Restrictions only (empty user password): any viewer opens it, and so do we.
    for (name, bits) in [
        ("aes128.pdf", &["128", "--use-aes=y"][..]),
        ("aes256.pdf", &["256"][..]),
    ] {
        let restricted = dir.path().join(name);
        run(Command::new("qpdf")
            .args(["--encrypt", "", "owner"])
            .args(bits)
            .arg("--")
            .arg(&plain)
            .arg(&restricted));
        let got = load(&restricted, 0).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.image.as_raw(), page.as_raw(), "{name}");
    }
}

// ---------------------------------------------------------------------------------------------
// Damaged PDFs: every whole page image is recovered, nothing half-written is read.

/// Pages for the damaged-file tests: JPEG and G4 in turn, some large enough (noise) that
/// opening leaves their bytes on disk, some small enough to be kept in memory.
fn mixed_pages(n: u32) -> Vec<(GrayImage, PackFilter)> {
    (0..n)
        .map(|i| match i % 4 {
            0 => (noise_page(260, 200, i), PackFilter::Jpeg { quality: 80 }),
            1 => (bilevel_page(420, 300, i), PackFilter::CcittG4),
            2 => (form_page(300, 220, i), PackFilter::Jpeg { quality: 85 }),
            _ => (bilevel_page(1200, 900, i), PackFilter::CcittG4),
        })
        .collect()
}

/// A scanned PDF as the packer writes it (page tree last, direct /Length).
fn packed_pdf(pages: &[(GrayImage, PackFilter)]) -> Vec<u8> {
    let mut packer = PdfPacker::new(Vec::new(), PackFilter::Raw, 150.0).unwrap();
    for (img, filter) in pages {
        let e = pack::EncodedPage::new(PackPage::from(img), *filter, 150.0).unwrap();
        packer.add_encoded(&e).unwrap();
    }
    packer.finish().unwrap()
}

/// A scanned PDF laid out as libtiff's tiff2pdf writes one: catalog and page tree (with its
/// /Count) first, every stream with an indirect /Length written after it.
fn tree_first_pdf(pages: &[(GrayImage, PackFilter)]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    let mut object = |out: &mut Vec<u8>, id: usize, body: &[u8]| {
        offsets.push((id, out.len()));
        out.extend_from_slice(format!("{id} 0 obj\n").as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    let n = pages.len();
    // Per page: page, content, its length, image, its length.
    let page_id = |i: usize| 3 + 5 * i;
    object(&mut out, 1, b"<< /Type /Catalog /Pages 2 0 R >>");
    let kids: Vec<String> = (0..n).map(|i| format!("{} 0 R", page_id(i))).collect();
    let tree = format!("<< /Type /Pages /Kids [{}] /Count {n} >>", kids.join(" "));
    object(&mut out, 2, tree.as_bytes());
    for (i, (img, filter)) in pages.iter().enumerate() {
        let id = page_id(i);
        let (w, h) = (
            img.width() as f64 * 72.0 / 150.0,
            img.height() as f64 * 72.0 / 150.0,
        );
        let page = format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {w} {h}] /Resources << /XObject << /Im0 {} 0 R >> >> /Contents {} 0 R >>",
            id + 3,
            id + 1
        );
        object(&mut out, id, page.as_bytes());
        let content = format!("q {w} 0 0 {h} 0 0 cm /Im0 Do Q");
        let mut body = format!("<< /Length {} 0 R >>\nstream\n", id + 2).into_bytes();
        body.extend_from_slice(content.as_bytes());
        body.extend_from_slice(b"\nendstream");
        object(&mut out, id + 1, &body);
        object(&mut out, id + 2, content.len().to_string().as_bytes());
        let e = pack::EncodedPage::new(PackPage::from(img), *filter, 150.0).unwrap();
        let (dict, data) = e.parts();
        let mut body = format!(
            "<< /Type /XObject /Subtype /Image {dict} /Length {} 0 R >>\nstream\n",
            id + 4
        )
        .into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\nendstream");
        object(&mut out, id + 3, &body);
        object(&mut out, id + 4, data.len().to_string().as_bytes());
    }
    let size = 3 + 5 * n;
    let xref = out.len();
    let mut table = format!("xref\n0 {size}\n0000000000 65535 f \n");
    offsets.sort_unstable();
    for (_, off) in &offsets {
        table.push_str(&format!("{off:010} 00000 n \n"));
    }
    table.push_str(&format!(
        "trailer\n<< /Size {size} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    ));
    out.extend_from_slice(table.as_bytes());
    out
}

/// Each page image's object, in file order: where its dictionary's /Subtype is, where its
/// data begins, and where the object ends (just past `endobj`).
fn image_spans(pdf: &[u8]) -> Vec<(usize, usize, usize)> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(k) = super::find(&pdf[from..], b"/Subtype /Image") {
        let dict = from + k;
        let data = dict + super::find(&pdf[dict..], b"stream\n").unwrap() + 7;
        let close = super::find(&pdf[dict..], b"endstream\nendobj").unwrap();
        let end = dict + close + b"endstream\nendobj".len();
        spans.push((dict, data, end));
        from = end;
    }
    spans
}

/// Cut points around every place a page can be half there: inside an image's dictionary,
/// just before and after its data begins, the middle of its data, inside `endstream`, inside
/// and just after `endobj`, one byte later; and just before the cross-reference table.
fn cut_points(pdf: &[u8]) -> Vec<usize> {
    let mut cuts = Vec::new();
    for (dict, data, end) in image_spans(pdf) {
        cuts.extend([dict + 8, data - 1, data, data + 1, (data + end) / 2]);
        cuts.extend([end - 12, end - 1, end, end + 1]);
    }
    cuts.push(super::find(pdf, b"xref\n").unwrap());
    cuts.retain(|&c| c < pdf.len());
    cuts
}

/// Cut `pdf` at every cut point and check: each page whose image object is whole reads as
/// exactly the page of the whole file; every other place is reported lost (rescan), never
/// read; the file says it is damaged; the page count is the declared one when the page tree
/// survived, else the pages begun plus one place for "any after".
fn check_cuts(name: &str, pdf: &[u8], pages: usize) {
    let dir = tempfile::tempdir().unwrap();
    let whole_path = dir.path().join(format!("{name}.pdf"));
    std::fs::write(&whole_path, pdf).unwrap();
    let whole = open(&input(&whole_path)).unwrap();
    assert!(whole.damage().is_none(), "{name}: the whole file is sound");
    let originals: Vec<GrayImage> = (0..pages)
        .map(|i| whole.load_page(i).unwrap().image)
        .collect();
    let spans = image_spans(pdf);
    assert_eq!(spans.len(), pages);
    let tree = super::find(pdf, b"/Type /Pages").unwrap();
    let tree_end = tree + super::find(&pdf[tree..], b"endobj").unwrap() + 6;
    for cut in cut_points(pdf) {
        let path = dir.path().join(format!("{name}-{cut}.pdf"));
        std::fs::write(&path, &pdf[..cut]).unwrap();
        let complete = spans.iter().filter(|s| s.2 <= cut).count();
        // Images whose data began: whole ones and the one cut inside its data.
        let begun = spans.iter().filter(|s| s.1 <= cut).count();
        let source = match open(&input(&path)) {
            Ok(s) => s,
            Err(e) => {
                assert_eq!(complete, 0, "{name} cut at {cut}: {e}");
                assert!(matches!(e, PageError::Corrupt { page: None, .. }), "{e}");
                assert!(e.to_string().contains("cut short"), "{e}");
                continue;
            }
        };
        let damage = source
            .damage()
            .unwrap_or_else(|| panic!("{name} cut at {cut}: not reported as damaged"));
        assert!(damage.cut, "{name} cut at {cut}");
        if cut >= tree_end {
            assert_eq!(damage.declared, Some(pages), "{name} cut at {cut}");
            assert_eq!(source.page_count(), pages, "{name} cut at {cut}");
        } else {
            assert_eq!(damage.declared, None, "{name} cut at {cut}");
            // Whole pages, the one cut inside its image (if any), and the place for "after".
            assert_eq!(source.page_count(), begun + 1, "{name} cut at {cut}");
        }
        for i in 0..source.page_count() {
            match source.load_page(i) {
                Ok(p) => {
                    assert!(
                        i < complete,
                        "{name} cut at {cut}: page {} read from a cut file",
                        i + 1
                    );
                    assert!(
                        originals.get(i) == Some(&p.image),
                        "{name} cut at {cut}: page {} differs from the whole file's",
                        i + 1
                    );
                }
                Err(e) => {
                    assert!(
                        i >= complete,
                        "{name} cut at {cut}: whole page {} lost: {e}",
                        i + 1
                    );
                    let text = e.to_string();
                    match e {
                        PageError::Lost { page, .. } => {
                            assert_eq!(page.number, i + 1);
                            assert!(text.contains("scan this page again"), "{text}");
                        }
                        PageError::PagesUnknown {
                            last, cut: true, ..
                        } => {
                            assert_eq!(i + 1, source.page_count(), "only the last place");
                            assert_eq!(last, i, "{text}");
                            assert!(text.contains(&format!("after page {i}")), "{text}");
                        }
                        other => panic!("{name} cut at {cut}: page {}: {other}", i + 1),
                    }
                }
            }
        }
    }
}

#[test]
fn a_cut_pdf_gives_every_whole_page_and_reports_the_rest_page_tree_last() {
    let pages = mixed_pages(8);
    check_cuts("packed", &packed_pdf(&pages), pages.len());
}

#[test]
fn a_cut_pdf_gives_every_whole_page_and_reports_the_rest_page_tree_first() {
    let pages = mixed_pages(8);
    check_cuts("tree-first", &tree_first_pdf(&pages), pages.len());
}

#[test]
fn a_pdf_whose_cross_reference_table_is_lost_is_recovered_whole() {
    let dir = tempfile::tempdir().unwrap();
    let pages = mixed_pages(4);
    let pdf = packed_pdf(&pages);
    // The table overwritten (a disk error): the objects and the page tree are all there.
    let xref = super::find(&pdf, b"xref\n").unwrap();
    let mut broken = pdf[..xref].to_vec();
    broken.extend_from_slice(b"garbage garbage garbage\n%%EOF\n");
    let path = dir.path().join("noxref.pdf");
    std::fs::write(&path, &broken).unwrap();
    let source = open(&input(&path)).unwrap();
    let damage = source.damage().expect("damaged");
    assert!(!damage.cut, "the file ends with %%EOF");
    assert_eq!(damage.declared, Some(4));
    assert_eq!(source.page_count(), 4);
    for i in 0..4 {
        let page = source.load_page(i).unwrap();
        assert!(
            page.dpi.is_some_and(|d| (d - 150.0).abs() < 1.0),
            "the page object was found"
        );
    }
}

#[test]
fn a_whole_stream_holding_a_cut_jpeg_or_g4_image_is_not_read_as_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let jpeg = pack::EncodedPage::new(
        PackPage::from(&form_page(300, 220, 1)),
        PackFilter::Jpeg { quality: 85 },
        150.0,
    )
    .unwrap();
    let g4 = pack::EncodedPage::new(
        PackPage::from(&bilevel_page(420, 300, 2)),
        PackFilter::CcittG4,
        150.0,
    )
    .unwrap();
    let good = pack::EncodedPage::new(
        PackPage::from(&form_page(300, 220, 3)),
        PackFilter::Jpeg { quality: 85 },
        150.0,
    )
    .unwrap();
    let mut packer = PdfPacker::new(Vec::new(), PackFilter::Raw, 150.0).unwrap();
    for (e, keep) in [(&jpeg, 0.6), (&g4, 0.5), (&good, 1.0)] {
        let (dict, data) = e.parts();
        // The stream is whole (its /Length is what it holds) but its image stops early.
        let data = &data[..(data.len() as f64 * keep) as usize];
        packer.add_image_page(dict, data, 144.0, 105.6).unwrap();
    }
    let pdf = packer.finish().unwrap();
    let xref = super::find(&pdf, b"xref\n").unwrap();
    let path = dir.path().join("cut-images.pdf");
    std::fs::write(&path, &pdf[..xref]).unwrap();
    let source = open(&input(&path)).unwrap();
    let jpeg_err = source.load_page(0).unwrap_err().to_string();
    assert!(
        jpeg_err.contains("page 1: this page's image stops before its end"),
        "{jpeg_err}"
    );
    let g4_err = source.load_page(1).unwrap_err().to_string();
    assert!(
        g4_err.contains("page 2: this page's image is damaged (CCITT data gave"),
        "{g4_err}"
    );
    assert!(g4_err.ends_with("scan this page again"), "{g4_err}");
    assert!(source.load_page(2).is_ok());
}

#[test]
fn a_vector_only_page_has_no_scanned_image() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("printed.pdf");
    custom_pdf(&path, |p| {
        let res = "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >>";
        let content = b"BT /F1 24 Tf 72 720 Td (Appraisal form) Tj ET 72 700 m 540 700 l S";
        p.add_raw_page(res, content, 612.0, 792.0, "").unwrap();
        p.add_raw_page(res, content, 612.0, 792.0, "").unwrap();
    });
    let source = open(&input(&path)).unwrap();
    let err = source.load_page(1).unwrap_err();
    assert!(matches!(err, PageError::NoImage { .. }), "{err}");
    assert_eq!(err.page(), Some(2));
    assert!(
        err.to_string().ends_with(
            "printed.pdf: page 2: no scanned image on the page — is this a printed original rather than a scan?"
        ),
        "{err}"
    );
}

#[test]
fn inline_images_are_read_when_raw_and_named_when_compressed() {
    let dir = tempfile::tempdir().unwrap();
    let page = form_page(120, 100, 5);
    let path = dir.path().join("inline.pdf");
    custom_pdf(&path, |p| {
        let mut content = b"q 28.8 0 0 24 0 0 cm BI /W 120 /H 100 /CS /G /BPC 8 ID ".to_vec();
        content.extend_from_slice(page.as_raw());
        content.extend_from_slice(b" EI Q");
        p.add_raw_page("<< >>", &content, 28.8, 24.0, "").unwrap();
        let content = b"q 28.8 0 0 24 0 0 cm BI /W 120 /H 100 /CS /G /BPC 1 /F /CCF /DP << /K -1 /Columns 120 >> ID \x26\xA0\x00\x10 EI Q";
        p.add_raw_page("<< >>", content, 28.8, 24.0, "").unwrap();
    });
    let source = open(&input(&path)).unwrap();
    let got = source.load_page(0).unwrap();
    assert_eq!(got.image.as_raw(), page.as_raw());
    assert!((got.dpi.unwrap() - 300.0).abs() < 0.5);
    let err = source.load_page(1).unwrap_err();
    assert!(
        matches!(
            err,
            PageError::UnsupportedImage {
                page: PageRef {
                    number: 2,
                    of: Some(2)
                },
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("inline image"), "{err}");
}

#[test]
fn jbig2_and_jpeg_2000_images_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for filter in ["JBIG2Decode", "JPXDecode"] {
        let path = dir.path().join(format!("{filter}.pdf"));
        let dict = format!("/Width 2480 /Height 3508 /ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /{filter}");
        image_pdf(&path, &dict, b"\x97JB2\r\n\x1a\nnot really", 2480, 3508);
        let err = load(&path, 0).unwrap_err();
        match &err {
            PageError::UnsupportedFilter {
                filter: f, page, ..
            } if page.number == 1 => {
                assert_eq!(f, filter);
            }
            other => panic!("{filter}: {other}"),
        }
        // The file has one page: no "page 1" for the clerk to look for.
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "{filter}.pdf: the scan is compressed with {filter}"
            )),
            "{text}"
        );
    }
}

#[test]
fn unsupported_colour_spaces_and_sizes_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.pdf");
    image_pdf(
        &path,
        "/Width 100 /Height 100 /ColorSpace [/Lab << /WhitePoint [1 1 1] >>] /BitsPerComponent 8",
        &[0; 30_000],
        100,
        100,
    );
    let err = load(&path, 0).unwrap_err();
    assert!(
        matches!(&err, PageError::UnsupportedColorSpace { space, .. } if space == "Lab"),
        "{err}"
    );

    // A bomb: a huge declared size with a few bytes of data is refused before allocating.
    let path = dir.path().join("bomb.pdf");
    image_pdf(&path, "/Width 60000 /Height 60000 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode", &zlib(&[0; 1000]), 1000, 1000);
    let err = load(&path, 0).unwrap_err();
    assert!(
        matches!(
            err,
            PageError::ImageTooLarge {
                width: 60000,
                height: 60000,
                ..
            }
        ),
        "{err}"
    );
    let path = dir.path().join("side.pdf");
    image_pdf(
        &path,
        "/Width 12001 /Height 200 /ColorSpace /DeviceGray /BitsPerComponent 8",
        &[0; 10],
        1000,
        1000,
    );
    assert!(matches!(
        load(&path, 0).unwrap_err(),
        PageError::ImageTooLarge { width: 12001, .. }
    ));

    let path = dir.path().join("thumb.pdf");
    image_pdf(
        &path,
        "/Width 40 /Height 60 /ColorSpace /DeviceGray /BitsPerComponent 8",
        &[0; 2400],
        40,
        60,
    );
    let err = load(&path, 0).unwrap_err();
    assert!(
        matches!(
            err,
            PageError::ImageTooSmall {
                width: 40,
                height: 60,
                ..
            }
        ),
        "{err}"
    );

    let path = dir.path().join("short.pdf");
    image_pdf(
        &path,
        "/Width 200 /Height 200 /ColorSpace /DeviceGray /BitsPerComponent 8",
        &[0; 39_000],
        200,
        200,
    );
    let err = load(&path, 0).unwrap_err();
    assert!(matches!(err, PageError::Decode { .. }), "{err}");
    assert!(err.to_string().contains("39000 of 40000 bytes"), "{err}");
}

#[test]
fn page_numbers_out_of_range_and_empty_page_trees_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.pdf");
    let page = form_page(200, 200, 1);
    pack::write_pdf(&path, &[PackPage::from(&page)], PackFilter::Raw, 300.0).unwrap();
    let err = load(&path, 1).unwrap_err();
    assert!(
        matches!(
            err,
            PageError::PageOutOfRange {
                page: 2,
                count: 1,
                ..
            }
        ),
        "{err}"
    );

    let path = dir.path().join("empty.pdf");
    custom_pdf(&path, |_| {});
    let err = open(&input(&path)).unwrap_err();
    assert!(matches!(err, PageError::NoPages { .. }), "{err}");
}

// ---------------------------------------------------------------------------------------------
// TIFF

#[test]
fn multi_page_tiffs_in_every_packing_decode_page_by_page() {
    let dir = tempfile::tempdir().unwrap();
    let pages = [
        bilevel_page(500, 400, 1),
        bilevel_page(203, 300, 2),
        bilevel_page(2500, 150, 3),
    ];
    for pack in [
        TiffPack::G4,
        TiffPack::Bilevel,
        TiffPack::Lzw,
        TiffPack::Uncompressed,
    ] {
        let path = dir.path().join(format!("{pack:?}.tif"));
        pack::write_tiff(&path, &pages, pack, 300.0).unwrap();
        assert_eq!(page_count(&input(&path)).unwrap(), 3, "{pack:?}");
        let source = open(&input(&path)).unwrap();
        // Out of order on purpose: the decoder must seek.
        for i in [2, 0, 1] {
            let page = source.load_page(i).unwrap();
            assert_eq!(page.image.as_raw(), pages[i].as_raw(), "{pack:?} page {i}");
            assert_eq!(page.dpi, Some(300.0));
        }
    }
    // 8-bit gray content survives LZW exactly.
    let gray = [form_page(300, 200, 7)];
    let path = dir.path().join("gray.tiff");
    pack::write_tiff(&path, &gray, TiffPack::Lzw, 200.0).unwrap();
    let page = load(&path, 0).unwrap();
    assert_eq!(page.image.as_raw(), gray[0].as_raw());
    assert_eq!(page.dpi, Some(200.0));
}

#[test]
fn tiffs_written_by_imagemagick_read_with_black_as_zero() {
    if !tool("convert") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let page = bilevel_page(400, 300, 5);
    let png = dir.path().join("page.png");
    page.save(&png).unwrap();
    let cases: [(&str, &[&str]); 6] = [
        ("g4", &["-compress", "Group4"]),
        ("mono-packbits", &["-monochrome", "-compress", "RLE"]),
        ("g3", &["-compress", "Fax"]),
        (
            "g4-lsb",
            &["-compress", "Group4", "-define", "tiff:fill-order=lsb"],
        ),
        ("mono-none", &["-monochrome", "-compress", "None"]),
        (
            "mono-miniswhite",
            &[
                "-monochrome",
                "-compress",
                "None",
                "-define",
                "tiff:photometric=min-is-white",
            ],
        ),
    ];
    for (name, args) in cases {
        let tif = dir.path().join(format!("{name}.tif"));
        run(Command::new("convert")
            .arg(&png)
            .args(args)
            .args(["-density", "200", "-units", "PixelsPerInch"])
            .arg(&tif));
        let got = load(&tif, 0).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got.image.as_raw(), page.as_raw(), "{name}");
        assert_eq!(got.dpi, Some(200.0), "{name}");
    }
    // Every CCITT flavour libtiff writes, several strips a page, both bit orders.
    if tool("tiffcp") {
        let bilevel = dir.path().join("bilevel.tif");
        pack::write_tiff(
            &bilevel,
            std::slice::from_ref(&page),
            TiffPack::Bilevel,
            200.0,
        )
        .unwrap();
        for scheme in ["g3:1d", "g3:2d", "g3:1d:fill", "g3:2d:fill", "g4"] {
            for fill in ["msb2lsb", "lsb2msb"] {
                let tif = dir
                    .path()
                    .join(format!("{scheme}-{fill}.tif").replace(':', "_"));
                run(Command::new("tiffcp")
                    .args(["-c", scheme, "-f", fill, "-r", "64"])
                    .arg(&bilevel)
                    .arg(&tif));
                let got = load(&tif, 0).unwrap_or_else(|e| panic!("{scheme} {fill}: {e}"));
                assert_eq!(got.image.as_raw(), page.as_raw(), "{scheme} {fill}");
            }
        }
    }
    // 8-bit gray and RGB.
    let gray = form_page(300, 200, 3);
    gray.save(&png).unwrap();
    for (name, args, tolerance) in [
        ("gray", &["-compress", "LZW"][..], 0.6),
        ("gray-packbits", &["-compress", "RLE"][..], 0.6),
        ("rgb", &["-type", "TrueColor", "-compress", "Zip"][..], 0.6),
        (
            "gray-jpeg",
            &["-compress", "JPEG", "-quality", "95"][..],
            3.0,
        ),
        (
            "rgb-jpeg",
            &["-type", "TrueColor", "-compress", "JPEG", "-quality", "95"][..],
            3.0,
        ),
        (
            "rgb-16bit",
            &["-type", "TrueColor", "-depth", "16"][..],
            0.6,
        ),
    ] {
        let tif = dir.path().join(format!("{name}.tif"));
        run(Command::new("convert").arg(&png).args(args).arg(&tif));
        let got = load(&tif, 0).unwrap_or_else(|e| panic!("{name}: {e}"));
        let diff = mean_abs_diff(&got.image, &gray);
        assert!(diff < tolerance, "{name}: {diff}");
    }
}

#[test]
fn a_g4_pdf_from_tiff2pdf_reads_back_the_tiff_pages() {
    if !tool("tiff2pdf") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let pages = [bilevel_page(600, 800, 1), bilevel_page(600, 800, 2)];
    let tif = dir.path().join("fax.tif");
    pack::write_tiff(&tif, &pages, TiffPack::G4, 300.0).unwrap();
    let pdf = dir.path().join("fax.pdf");
    run(Command::new("tiff2pdf").arg("-o").arg(&pdf).arg(&tif));
    let source = open(&input(&pdf)).unwrap();
    assert_eq!(source.page_count(), 2);
    for (i, want) in pages.iter().enumerate() {
        let got = source.load_page(i).unwrap();
        assert_eq!(got.image.as_raw(), want.as_raw(), "page {i}");
        assert!((got.dpi.unwrap() - 300.0).abs() < 0.5);
    }
    // Independent decoders agree with our G4 encoder: poppler renders our G4 PDF exactly as
    // the same page stored as plain 1-bit Flate (it smooths 1-bit images, so compare renders,
    // not the source), and libtiff (through ImageMagick) decodes our G4 TIFF exactly.
    if tool("pdftoppm") {
        let render = |filter: PackFilter, name: &str| {
            let pdf = dir.path().join(format!("{name}.pdf"));
            pack::write_pdf(&pdf, &[PackPage::from(&pages[0])], filter, 300.0).unwrap();
            run(Command::new("pdftoppm")
                .args(["-r", "300", "-gray", "-png", "-singlefile"])
                .arg(&pdf)
                .arg(dir.path().join(name)));
            image::open(dir.path().join(format!("{name}.png")))
                .unwrap()
                .into_luma8()
        };
        let g4 = render(PackFilter::CcittG4, "g4");
        assert_eq!(g4.dimensions(), pages[0].dimensions());
        assert_eq!(
            g4.as_raw(),
            render(PackFilter::Flate1Bit, "flate1").as_raw()
        );
    }
    if tool("convert") {
        let png = dir.path().join("libtiff.png");
        run(Command::new("convert")
            .arg(format!("{}[1]", tif.display()))
            .arg(&png));
        assert_eq!(
            image::open(&png).unwrap().into_luma8().as_raw(),
            pages[1].as_raw()
        );
    }
}

#[test]
fn group_3_streams_encoded_by_libtiff_decode_inside_pdfs() {
    if !tool("tiffcp") {
        return;
    }
    // tiff2pdf turns Group 3 into Group 4, so take libtiff's Group 3 strips out of TIFFs
    // and wrap them in PDF image dictionaries ourselves.
    let dir = tempfile::tempdir().unwrap();
    let page = bilevel_page(600, 400, 8);
    let bilevel = dir.path().join("bilevel.tif");
    pack::write_tiff(
        &bilevel,
        std::slice::from_ref(&page),
        TiffPack::Bilevel,
        300.0,
    )
    .unwrap();
    for (scheme, k, aligned) in [
        ("g3:1d", 0, false),
        ("g3:2d", 1, false),
        ("g3:1d:fill", 0, true),
        ("g3:2d:fill", 1, true),
    ] {
        let g3 = dir.path().join(format!("{}.tif", scheme.replace(':', "_")));
        run(Command::new("tiffcp")
            .args(["-c", scheme, "-r", "100000"])
            .arg(&bilevel)
            .arg(&g3));
        let mut dec = tiff::decoder::Decoder::new(std::fs::File::open(&g3).unwrap()).unwrap();
        let offset = dec.get_tag_u64(tiff::tags::Tag::StripOffsets).unwrap() as usize;
        let count = dec.get_tag_u64(tiff::tags::Tag::StripByteCounts).unwrap() as usize;
        let strip = std::fs::read(&g3).unwrap()[offset..offset + count].to_vec();
        let pdf = dir.path().join(format!("{}.pdf", scheme.replace(':', "_")));
        let dict = format!(
            "/Width 600 /Height 400 /ImageMask true /Decode [1 0] /Filter /CCITTFaxDecode \
             /DecodeParms << /K {k} /Columns 600 /Rows 400 /EndOfLine true /EncodedByteAlign {aligned} /BlackIs1 true >>"
        );
        image_pdf(&pdf, &dict, &strip, 600, 400);
        let got = load(&pdf, 0).unwrap_or_else(|e| panic!("{scheme}: {e}"));
        assert_eq!(got.image.as_raw(), page.as_raw(), "{scheme}");
    }
}

#[test]
fn a_truncated_or_garbled_tiff_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let pages = [bilevel_page(500, 400, 1), form_page(500, 400, 2)];
    let path = dir.path().join("whole.tif");
    pack::write_tiff(&path, &pages[..1], TiffPack::G4, 300.0).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.path().join("cut.tif");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(open(&input(&cut)).and_then(|s| s.load_page(0)).is_err());
}

// ---------------------------------------------------------------------------------------------
// PNG and JPEG files

#[test]
fn png_and_jpeg_files_decode_with_their_resolution() {
    let dir = tempfile::tempdir().unwrap();
    let page = form_page(320, 240, 4);

    // PNG with a pHYs chunk of 11811 px/m = 300 dpi.
    let mut png = Vec::new();
    page.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut phys = 11811u32.to_be_bytes().to_vec();
    phys.extend_from_slice(&11811u32.to_be_bytes());
    phys.push(1);
    let path = dir.path().join("scan.png");
    std::fs::write(
        &path,
        png_insert_after_ihdr(&png, &png_chunk(b"pHYs", &phys)),
    )
    .unwrap();
    let got = load(&path, 0).unwrap();
    assert_eq!(got.image.as_raw(), page.as_raw());
    assert!((got.dpi.unwrap() - 300.0).abs() < 0.05);

    // 16-bit RGB PNG: 8-bit gray from the high bytes.
    let rgb16 = image::ImageBuffer::<Rgb<u16>, Vec<u16>>::from_fn(200, 150, |x, _| {
        let v = if x < 100 { 0x8000 } else { 0xFFFF };
        Rgb([v, v, v])
    });
    let path = dir.path().join("deep.png");
    rgb16.save(&path).unwrap();
    let got = load(&path, 0).unwrap();
    assert_eq!(got.image.get_pixel(10, 10).0[0], 0x80);
    assert_eq!(got.image.get_pixel(150, 10).0[0], 0xFF);
    assert_eq!(got.dpi, None);

    // JPEG with JFIF density.
    let mut jpeg = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95);
    enc.set_pixel_density(image::codecs::jpeg::PixelDensity::dpi(240));
    enc.encode(page.as_raw(), 320, 240, image::ExtendedColorType::L8)
        .unwrap();
    let path = dir.path().join("scan.JPG");
    std::fs::write(&path, &jpeg).unwrap();
    let got = load(&path, 0).unwrap();
    assert!(mean_abs_diff(&got.image, &page) < 3.0);
    assert_eq!(got.dpi, Some(240.0));
}

#[test]
fn a_jpeg_with_exif_orientation_is_turned_upright() {
    let dir = tempfile::tempdir().unwrap();
    let page = form_page(300, 200, 6);
    // Pixels stored turned a quarter left, with EXIF orientation 6 ("rotate 90° clockwise
    // to show"), as phones and some scanners write them.
    let stored = image::imageops::rotate270(&page);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 95)
        .encode(stored.as_raw(), 200, 300, image::ExtendedColorType::L8)
        .unwrap();
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
    let mut with_exif = jpeg[..2].to_vec();
    with_exif.extend_from_slice(&[0xFF, 0xE1]);
    with_exif.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    with_exif.extend_from_slice(&exif);
    with_exif.extend_from_slice(&jpeg[2..]);
    let path = dir.path().join("phone.jpg");
    std::fs::write(&path, &with_exif).unwrap();
    let got = load(&path, 0).unwrap();
    assert_eq!(got.image.dimensions(), (300, 200));
    assert!(mean_abs_diff(&got.image, &page) < 4.0);
}

#[test]
fn png_bombs_are_refused_from_the_header() {
    let dir = tempfile::tempdir().unwrap();
    let mut ihdr = 50_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&50_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(b"IDAT", &zlib(&[0; 5000])));
    png.extend(png_chunk(b"IEND", &[]));
    let path = dir.path().join("bomb.png");
    std::fs::write(&path, png).unwrap();
    let err = load(&path, 0).unwrap_err();
    assert!(
        matches!(err, PageError::ImageTooLarge { width: 50_000, .. }),
        "{err}"
    );
    // A one-page file: the message names no page (and never a placeholder).
    assert!(
        err.to_string()
            .starts_with(&format!("{}: the image is 50000×50000 px", path.display())),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------------
// Garbage and fuzzing

#[test]
fn garbage_files_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = 0x1234_5678u32;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s as u8
            })
            .collect()
    };
    for ext in ["pdf", "tif", "png", "jpg"] {
        for (i, prefix) in [
            &b""[..],
            b"%PDF-1.4\n",
            b"II*\0",
            b"\x89PNG\r\n\x1a\n",
            b"\xFF\xD8\xFF\xE0",
        ]
        .iter()
        .enumerate()
        {
            let path = dir.path().join(format!("junk{i}.{ext}"));
            let mut bytes = prefix.to_vec();
            bytes.extend(noise(3000));
            std::fs::write(&path, &bytes).unwrap();
            let result = open(&input(&path)).and_then(|s| s.load_page(0));
            let err = result.expect_err("garbage must not decode");
            assert!(
                !matches!(err, PageError::Panicked { .. }),
                "{}: {err}",
                path.display()
            );
            if prefix.is_empty() {
                assert!(matches!(err, PageError::NotRecognised { .. }), "{err}");
            }
        }
    }
    let empty = dir.path().join("empty.pdf");
    std::fs::write(&empty, b"").unwrap();
    let err = open(&input(&empty)).unwrap_err();
    assert!(err.to_string().contains("the file is empty"), "{err}");
}

#[test]
fn mutated_valid_files_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let page = form_page(160, 120, 3);
    let bi = bilevel_page(160, 120, 3);
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (name, filter) in [
        ("jpeg.pdf", PackFilter::Jpeg { quality: 80 }),
        ("flate.pdf", PackFilter::Flate),
        ("g4.pdf", PackFilter::CcittG4),
    ] {
        let p = dir.path().join(name);
        pack::write_pdf(&p, &[PackPage::from(&page)], filter, 300.0).unwrap();
        files.push((name.to_string(), std::fs::read(&p).unwrap()));
    }
    for (name, packing) in [("g4.tif", TiffPack::G4), ("lzw.tif", TiffPack::Lzw)] {
        let p = dir.path().join(name);
        pack::write_tiff(&p, std::slice::from_ref(&bi), packing, 300.0).unwrap();
        files.push((name.to_string(), std::fs::read(&p).unwrap()));
    }
    let mut png = Vec::new();
    page.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    files.push(("x.png".to_string(), png));
    let mut jpg = Vec::new();
    page.write_to(
        &mut std::io::Cursor::new(&mut jpg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    files.push(("x.jpg".to_string(), jpg));

    let mut s = 99u32;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        s
    };
    for (name, bytes) in &files {
        for round in 0..60 {
            let mut m = bytes.clone();
            match round % 3 {
                0 => {
                    for _ in 0..(1 + rnd() % 8) {
                        let at = rnd() as usize % m.len();
                        m[at] = rnd() as u8;
                    }
                }
                1 => m.truncate(rnd() as usize % m.len()),
                _ => {
                    let at = rnd() as usize % m.len();
                    let n = (rnd() as usize % 64).min(m.len() - at);
                    m.drain(at..at + n);
                }
            }
            let path = dir.path().join(format!("m{round}-{name}"));
            std::fs::write(&path, &m).unwrap();
            if let Ok(source) = open(&input(&path)) {
                for i in 0..source.page_count().min(3) {
                    if let Err(e) = source.load_page(i) {
                        assert!(
                            !matches!(e, PageError::Panicked { .. }),
                            "{name} round {round}: {e}"
                        );
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Discovery, hashing, concurrency

#[test]
fn discover_walks_nested_folders_sorted_and_reports_what_it_skips() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for p in [
        "batch/b.pdf",
        "batch/a.PDF",
        "batch/sub/c.tif",
        "batch/sub/deeper/d.jpeg",
        "batch/sub/notes.docx",
        "batch/.DS_Store",
        "batch/._a.pdf",
        "batch/README",
        "x.txt",
        "e.png",
    ] {
        let path = root.join(p);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"x").unwrap();
    }
    let found = discover(&[
        root.join("batch"),
        root.join("x.txt"),
        root.join("missing"),
        root.join("e.png"),
        root.join("batch/b.pdf"),
    ]);
    let names: Vec<String> = found
        .files
        .iter()
        .map(|f| {
            f.path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(
        names,
        [
            "batch/a.PDF",
            "batch/b.pdf",
            "batch/sub/c.tif",
            "batch/sub/deeper/d.jpeg",
            "e.png"
        ]
    );
    assert_eq!(found.files[2].kind, InputKind::Tiff);
    let skipped: Vec<(String, &str)> = found
        .skipped
        .iter()
        .map(|(p, why)| {
            (
                p.strip_prefix(root).unwrap().to_string_lossy().into_owned(),
                why.as_str(),
            )
        })
        .collect();
    assert_eq!(
        skipped,
        [
            ("batch/.DS_Store".to_string(), "hidden file"),
            ("batch/._a.pdf".to_string(), "hidden file"),
            (
                "batch/README".to_string(),
                "unsupported file type (no extension)"
            ),
            (
                "batch/sub/notes.docx".to_string(),
                "unsupported file type .docx"
            ),
        ]
    );
    assert_eq!(found.errors.len(), 2);
    assert!(
        matches!(&found.errors[0], PageError::UnsupportedFile { path } if path.ends_with("x.txt"))
    );
    assert!(matches!(&found.errors[1], PageError::NotFound { path } if path.ends_with("missing")));
    assert!(found.errors[0]
        .to_string()
        .contains("unsupported file type .txt"));
}

#[test]
fn sha256_of_a_file_is_the_standard_digest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("abc.pdf");
    std::fs::write(&path, b"abc").unwrap();
    assert_eq!(
        sha256_file(&path).unwrap(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert!(matches!(
        sha256_file(dir.path().join("nope")),
        Err(PageError::Io { .. })
    ));
}

#[test]
fn one_source_serves_pages_to_several_threads() {
    assert_send_sync::<Source>();
    let dir = tempfile::tempdir().unwrap();
    let pages: Vec<GrayImage> = (0..6).map(|i| bilevel_page(300, 200, i)).collect();
    let pdf = dir.path().join("many.pdf");
    let packed: Vec<PackPage> = pages.iter().map(PackPage::from).collect();
    pack::write_pdf(&pdf, &packed, PackFilter::CcittG4, 300.0).unwrap();
    let tif = dir.path().join("many.tif");
    pack::write_tiff(&tif, &pages, TiffPack::G4, 300.0).unwrap();
    for path in [pdf, tif] {
        let source = open(&input(&path)).unwrap();
        std::thread::scope(|scope| {
            for t in 0..3 {
                let (source, pages) = (&source, &pages);
                scope.spawn(move || {
                    for i in (0..6).rev().chain(0..6).filter(|i| i % 3 == t) {
                        assert_eq!(
                            source.load_page(i).unwrap().image.as_raw(),
                            pages[i].as_raw()
                        );
                    }
                });
            }
        });
    }
}

#[test]
fn content_beats_extension() {
    let dir = tempfile::tempdir().unwrap();
    let page = form_page(200, 150, 1);
    let path = dir.path().join("actually-a-png.pdf");
    page.save_with_format(&path, image::ImageFormat::Png)
        .unwrap();
    let source = open(&input(&path)).unwrap();
    assert_eq!(source.kind(), InputKind::Png);
    assert_eq!(source.load_page(0).unwrap().image.as_raw(), page.as_raw());
}

#[test]
fn a_reused_page_buffer_never_shows_the_previous_page_through_a_truncated_jpeg() {
    // The pool hands out buffers holding the last page's pixels; every decoder must write
    // every byte. A truncated JPEG still decodes (the missing part comes out uniform), so it
    // is the case to check: decoded into a buffer a previous page left, it must equal a
    // fresh decode.
    let (w, h) = (320, 240);
    let page = form_page(w, h, 3);
    let mut full = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut full, 90)
        .encode(page.as_raw(), w, h, image::ExtendedColorType::L8)
        .unwrap();
    let truncated = full[..full.len() * 2 / 5].to_vec();
    let fresh = std::thread::spawn({
        let t = truncated.clone();
        move || super::raster::decode_jpeg(&t, false).unwrap()
    })
    .join()
    .unwrap();
    // What a previous page left: gray 100, which neither a fresh buffer's zeros nor this
    // page's decode produce everywhere.
    super::pool::give(vec![100u8; (w * h) as usize]);
    let reused = super::raster::decode_jpeg(&truncated, false).unwrap();
    assert_eq!(reused, fresh);
    assert!(
        reused.pixels().any(|p| p.0[0] > 200),
        "the page's paper came through"
    );
}
