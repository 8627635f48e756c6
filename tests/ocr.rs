//! OCR of name cells and writing areas with the real Tesseract and real CJK glyphs: names are
//! rendered with the Droid fallback font by ImageMagick at scan resolution, then degraded
//! like the simulator's `office` profile (skew, toner and paper levels, blur, noise, JPEG,
//! 1-bit output) and cropped where the reader would, cell rules and alignment error included.
//!
//! Run with `OMP_THREAD_LIMIT=1` in the environment (libgomp reads it at load): without it
//! each recognition is ≈ 7× slower.

use image::{GrayImage, Luma};
use imageproc::filter::gaussian_blur_f32;
use imageproc::geometric_transformations::{rotate_about_center, Border, Interpolation};
use pingyi::campaign::{Campaign, Subject};
use pingyi::form::SubjectKind;
use pingyi::ocr::{find_tessdata, read_name_crop, read_text, NameRow, OcrError};
use pingyi::read::outcome::FlagKind;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const FONT: &str = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf";
/// The layout's name box: a 34 mm cell less 1 mm each side, 1.7 × a 12 pt glyph tall.
const BOX_W_MM: f32 = 32.0;
const BOX_H_MM: f32 = 12.0 * 25.4 / 72.0 * 1.7;
/// Canvas rendered around the box so that the crop can be offset like a real alignment error.
const PAD_MM: f32 = 3.0;

fn mm_px(mm: f32, dpi: u32) -> u32 {
    (mm * dpi as f32 / 25.4).round() as u32
}

/// `text` at `size` pt, centred on a white canvas `w_mm` × `h_mm`, rendered at `dpi`.
fn render(text: &str, size: f32, w_mm: f32, h_mm: f32, dpi: u32) -> GrayImage {
    let out = Command::new("convert")
        .args([
            "-size",
            &format!("{}x{}", mm_px(w_mm, dpi), mm_px(h_mm, dpi)),
            "xc:white",
        ])
        .args([
            "-font",
            FONT,
            "-density",
            &dpi.to_string(),
            "-pointsize",
            &size.to_string(),
        ])
        .args([
            "-fill",
            "black",
            "-gravity",
            "center",
            "-annotate",
            "+0+0",
            text,
        ])
        .args(["-colorspace", "gray", "png:-"])
        .output()
        .expect("ImageMagick convert");
    assert!(
        out.status.success(),
        "convert: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    image::load_from_memory(&out.stdout).unwrap().to_luma8()
}

/// The table cell around a name on 附2: 34 mm wide, 10 mm rows, ruled 0.25 mm.
const CELL_W_MM: f32 = 34.0;
const CELL_H_MM: f32 = 10.0;
const RULE_MM: f32 = 0.25;

/// A printed name cell: the name centred in a ruled 34 × 10 mm cell, with PAD_MM of paper
/// around it (so the scan can be skewed and the crop offset).
fn render_name(name: &str, dpi: u32) -> GrayImage {
    let (w, h) = (CELL_W_MM + 2.0 * PAD_MM, CELL_H_MM + 2.0 * PAD_MM);
    let mut img = render(name, 12.0, w, h, dpi);
    let (x0, y0, x1, y1) = (
        mm_px(PAD_MM, dpi),
        mm_px(PAD_MM, dpi),
        mm_px(PAD_MM + CELL_W_MM, dpi),
        mm_px(PAD_MM + CELL_H_MM, dpi),
    );
    let t = mm_px(RULE_MM, dpi).max(1);
    let (iw, ih) = img.dimensions();
    for (x, y) in (0..iw).flat_map(|x| (0..ih).map(move |y| (x, y))) {
        let on_h = (y0..y0 + t).contains(&y) || (y1..y1 + t).contains(&y);
        let on_v = (x0..x0 + t).contains(&x) || (x1..x1 + t).contains(&x);
        if on_h || on_v {
            img.put_pixel(x, y, Luma([0]));
        }
    }
    img
}

/// What the reader would crop: the bounding box of the layout's name box (1 mm inside the
/// cell, 1.7 glyphs tall, centred) after the page was skewed by `angle` about the canvas
/// centre, off by an alignment error of up to ±0.3 mm.
fn name_box_px(canvas: &GrayImage, dpi: u32, angle: f32, rng: &mut ChaCha8Rng) -> [u32; 4] {
    let px = |mm: f32| mm * dpi as f32 / 25.4;
    let (cx, cy) = (canvas.width() as f32 / 2.0, canvas.height() as f32 / 2.0);
    let (bx, by) = (px(PAD_MM + 1.0), px(PAD_MM + (CELL_H_MM - BOX_H_MM) / 2.0));
    let (bw, bh) = (px(BOX_W_MM), px(BOX_H_MM));
    let (sin, cos) = angle.sin_cos();
    let corners = [(bx, by), (bx + bw, by), (bx + bw, by + bh), (bx, by + bh)].map(|(x, y)| {
        (
            cx + (x - cx) * cos - (y - cy) * sin,
            cy + (x - cx) * sin + (y - cy) * cos,
        )
    });
    let err = |rng: &mut ChaCha8Rng| px(rng.random_range(-0.3f32..0.3));
    let (ex, ey) = (err(rng), err(rng));
    let x0 = corners.iter().map(|c| c.0).fold(f32::MAX, f32::min) + ex;
    let x1 = corners.iter().map(|c| c.0).fold(f32::MIN, f32::max) + ex;
    let y0 = corners.iter().map(|c| c.1).fold(f32::MAX, f32::min) + ey;
    let y1 = corners.iter().map(|c| c.1).fold(f32::MIN, f32::max) + ey;
    [
        x0.round() as u32,
        y0.round() as u32,
        (x1 - x0).round() as u32,
        (y1 - y0).round() as u32,
    ]
}

/// An `office`-profile scan (skew up to 1.5°, paper 232–248, toner 15–40, one blur pass,
/// sensor noise, JPEG 70–85, one page in four as 1-bit "text mode"), then the reader's crop.
fn scan_crop(canvas: &GrayImage, dpi: u32, rng: &mut ChaCha8Rng) -> GrayImage {
    let angle = rng.random_range(-1.5f32..1.5).to_radians();
    let img = degrade(canvas, angle, rng);
    let [x, y, w, h] = name_box_px(canvas, dpi, angle, rng);
    image::imageops::crop_imm(&img, x, y, w, h).to_image()
}

fn degrade(canvas: &GrayImage, angle: f32, rng: &mut ChaCha8Rng) -> GrayImage {
    let mut img = rotate_about_center(
        canvas,
        angle,
        Interpolation::Bilinear,
        Border::Constant(Luma([255])),
    );
    let (ink, paper) = (
        rng.random_range(15.0f32..40.0),
        rng.random_range(232.0f32..248.0),
    );
    for p in img.pixels_mut() {
        p.0[0] = (ink + (paper - ink) * p.0[0] as f32 / 255.0) as u8;
    }
    // One [1 2 1]/4 pass ≈ a Gaussian of σ 0.7 px.
    img = gaussian_blur_f32(&img, 0.7);
    for p in img.pixels_mut() {
        let n: f32 = rng.random_range(-6.0..6.0);
        p.0[0] = (p.0[0] as f32 + n).clamp(0.0, 255.0) as u8;
    }
    let mut jpeg = Vec::new();
    let q = rng.random_range(70u8..=85);
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, q)
        .encode_image(&img)
        .unwrap();
    img = image::load_from_memory(&jpeg).unwrap().to_luma8();
    if rng.random_bool(0.25) {
        for p in img.pixels_mut() {
            p.0[0] = if p.0[0] < 128 { 0 } else { 255 };
        }
    }
    img
}

/// A degraded crop of the central `w_mm` × `h_mm` of a canvas PAD_MM larger each side.
fn scan_area(
    canvas: &GrayImage,
    dpi: u32,
    w_mm: f32,
    h_mm: f32,
    rng: &mut ChaCha8Rng,
) -> GrayImage {
    let img = degrade(canvas, rng.random_range(-0.5f32..0.5).to_radians(), rng);
    image::imageops::crop_imm(
        &img,
        mm_px(PAD_MM, dpi),
        mm_px(PAD_MM, dpi),
        mm_px(w_mm, dpi),
        mm_px(h_mm, dpi),
    )
    .to_image()
}

fn campaign() -> Campaign {
    Campaign::load(Path::new("fixtures/campaign/campaign.toml")).unwrap()
}

/// Every roster (subjects of one form for one branch) of the campaign: 附2 candidates and 附3
/// posts per branch.
fn rosters(c: &Campaign) -> Vec<Vec<Subject>> {
    let mut out = Vec::new();
    for b in &c.branches {
        for kind in [SubjectKind::Candidates, SubjectKind::Posts] {
            let r = c.subjects(kind, Some(b));
            if !r.is_empty() {
                out.push(r);
            }
        }
    }
    out
}

fn row<'a>(n: usize, s: &'a Subject) -> NameRow<'a> {
    NameRow {
        row: n,
        subject: &s.id,
        printed: Some(&s.name),
        px: [0, 0, 0, 0],
    }
}

#[test]
fn printed_names_snap_to_the_right_person_at_200_and_300_dpi() {
    let c = campaign();
    let variants = 8;
    let (mut total, mut ok, mut wrong_ok) = (0usize, 0usize, 0usize);
    let mut misses = Vec::new();
    let mut ocr_time = std::time::Duration::ZERO;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for dpi in [200, 300] {
        for roster in rosters(&c) {
            for (i, s) in roster.iter().enumerate() {
                let canvas = render_name(&s.name, dpi);
                for _ in 0..variants {
                    let crop = scan_crop(&canvas, dpi, &mut rng);
                    let t = Instant::now();
                    let (reading, flag) = read_name_crop(&crop, &row(i + 1, s), &roster);
                    ocr_time += t.elapsed();
                    let reading = reading.expect("a printed row always gets a reading");
                    total += 1;
                    if reading.ok {
                        ok += 1;
                        assert!(flag.is_none());
                        if reading.matched.as_deref() != Some(s.id.as_str()) {
                            wrong_ok += 1;
                        }
                    } else {
                        assert_eq!(flag.map(|f| f.kind), Some(FlagKind::NameCheck));
                        misses.push(format!(
                            "{dpi}dpi {} → {:?} ({:.0})",
                            s.name, reading.text, reading.confidence
                        ));
                    }
                }
            }
        }
    }
    let rate = ok as f64 / total as f64;
    eprintln!(
        "names: {ok}/{total} = {:.2} % credited to the printed person, {wrong_ok} wrong, {:.1} ms/name; misses: {misses:?}",
        rate * 100.0,
        ocr_time.as_secs_f64() * 1000.0 / total as f64
    );
    assert_eq!(wrong_ok, 0, "a wrong person was credited");
    assert!(
        rate >= 0.995,
        "only {:.2} % of printed names matched",
        rate * 100.0
    );
}

#[test]
fn swapped_names_flag_both_rows_instead_of_crediting_them() {
    let c = campaign();
    let roster = c.subjects(SubjectKind::Candidates, c.branch("jiguan1"));
    let (wang_wei, wang_wei2) = (&roster[0], &roster[1]);
    assert_eq!(
        (wang_wei.name.as_str(), wang_wei2.name.as_str()),
        ("王伟", "王玮")
    );
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    for dpi in [200, 300] {
        // Row 1 is printed 王伟 but the re-typed sheet shows 王玮, and row 2 the other way round.
        for (n, printed, shown) in [(1, wang_wei, wang_wei2), (2, wang_wei2, wang_wei)] {
            let crop = scan_crop(&render_name(&shown.name, dpi), dpi, &mut rng);
            let (reading, flag) = read_name_crop(&crop, &row(n, printed), &roster);
            let reading = reading.unwrap();
            assert!(
                !reading.ok,
                "{dpi} dpi: {} credited to {}",
                shown.name, printed.name
            );
            assert_eq!(reading.matched.as_deref(), Some(shown.id.as_str()));
            let flag = flag.unwrap();
            assert_eq!(flag.kind, FlagKind::NameCheck);
            assert_eq!(flag.target.as_deref(), Some(printed.id.as_str()));
            assert!(
                flag.detail
                    .contains(&format!("印的是{}, 识别为{}", printed.name, shown.name)),
                "{}",
                flag.detail
            );
        }
    }
}

#[test]
fn a_blank_write_in_cell_has_no_reading_and_no_flag() {
    let c = campaign();
    let roster = c.subjects(SubjectKind::Candidates, c.branch("jiguan2"));
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let crop = scan_crop(&render_name(" ", 300), 300, &mut rng);
    let row = NameRow {
        row: 6,
        subject: "_w1",
        printed: None,
        px: [0, 0, 0, 0],
    };
    let (reading, flag) = read_name_crop(&crop, &row, &roster);
    assert!(reading.is_none() && flag.is_none());
}

#[test]
fn a_written_in_name_is_read_and_always_left_to_a_reviewer() {
    let c = campaign();
    let roster = c.subjects(SubjectKind::Candidates, c.branch("jiguan2"));
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let crop = scan_crop(&render_name("周海涛", 300), 300, &mut rng);
    let row = NameRow {
        row: 6,
        subject: "_w1",
        printed: None,
        px: [1, 2, 3, 4],
    };
    let (reading, flag) = read_name_crop(&crop, &row, &roster);
    let reading = reading.unwrap();
    assert!(!reading.ok);
    assert_eq!(
        reading.matched.as_deref(),
        Some("c203"),
        "suggestion: {:?}",
        reading.text
    );
    assert_eq!(reading.px, [1, 2, 3, 4]);
    let flag = flag.unwrap();
    assert_eq!(flag.kind, FlagKind::NameCheck);
    assert!(
        flag.detail.contains("手写") && flag.detail.contains("周海涛"),
        "{}",
        flag.detail
    );
}

#[test]
fn an_unreadable_printed_name_is_flagged_not_credited() {
    let c = campaign();
    let roster = c.subjects(SubjectKind::Candidates, c.branch("jiguan1"));
    // Toner ran out: the row's name cell is blank.
    let crop = GrayImage::from_pixel(mm_px(BOX_W_MM, 300), mm_px(BOX_H_MM, 300), Luma([240]));
    let (reading, flag) = read_name_crop(&crop, &row(3, &roster[2]), &roster);
    assert!(!reading.unwrap().ok);
    let flag = flag.unwrap();
    assert_eq!(flag.kind, FlagKind::NameCheck);
    assert!(
        flag.detail.contains("第3行") && flag.detail.contains("看不清"),
        "{}",
        flag.detail
    );
}

#[test]
fn missing_chi_sim_names_the_debian_package() {
    let empty = tempfile::tempdir().unwrap();
    let err = find_tessdata(Some(empty.path().as_os_str()), &[]).unwrap_err();
    assert!(matches!(err, OcrError::MissingChiSim { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("tesseract-ocr-chi-sim") && msg.contains("chi_sim.traineddata"),
        "{msg}"
    );
    assert!(msg.contains(&empty.path().display().to_string()), "{msg}");
}

#[test]
fn a_written_text_area_is_read_as_a_block() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (w_mm, h_mm) = (120.0, 30.0);
    let canvas = render(
        "建议加强窗口服务\n提高办事效率",
        14.0,
        w_mm + 2.0 * PAD_MM,
        h_mm + 2.0 * PAD_MM,
        300,
    );
    let crop = scan_area(&canvas, 300, w_mm, h_mm, &mut rng);
    let (text, conf) = read_text(&crop);
    eprintln!("text area: {text:?} ({conf:.0})");
    let hits = ["建议", "窗口服务", "办事效率"]
        .iter()
        .filter(|w| text.contains(*w))
        .count();
    assert!(hits >= 2, "read {text:?}");
    assert!(
        !text.contains(' '),
        "spaces between CJK characters remain: {text:?}"
    );
    assert!(conf > 50.0);
}

/// A printed 附2 sheet for `campaign`'s branch jiguan1, rasterised by pdftoppm at `dpi`.
fn printed_sheet(campaign: &Campaign, dpi: u32) -> (pingyi::layout::Layout, GrayImage) {
    let forms = pingyi::form::seed_forms().unwrap();
    let form = forms.iter().find(|f| f.id == "member").unwrap();
    let layout = pingyi::layout::layout(form, campaign, campaign.branch("jiguan1")).unwrap();
    let font = pingyi::print::Font::discover(None).unwrap();
    let pdf = pingyi::print::render_pdf(&layout, &["TESTSHEET1".to_string()], &font).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.pdf"), pdf).unwrap();
    let st = Command::new("pdftoppm")
        .args([
            "-gray",
            "-r",
            &dpi.to_string(),
            "-f",
            "1",
            "-l",
            "1",
            "-png",
            "s.pdf",
            "s",
        ])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(st.success());
    let png = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "png"))
        .unwrap();
    (layout, image::open(png).unwrap().to_luma8())
}

/// The page as the reader hands it over: upright, with a plain mm → px transform.
fn aligned(layout: &pingyi::layout::Layout, image: GrayImage, dpi: u32) -> pingyi::read::Aligned {
    let (w, h) = image.dimensions();
    let transform =
        pingyi::read::transform::Transform::scale(f64::from(dpi) / 25.4, (0.0, 0.0), w, h);
    pingyi::read::Aligned {
        image,
        transform,
        layout_hash: layout.hash.clone(),
        page: 1,
    }
}

#[test]
fn a_printed_member_sheet_credits_every_printed_name() {
    let c = campaign();
    let roster = c.subjects(SubjectKind::Candidates, c.branch("jiguan1"));
    let dpi = 200;
    let (layout, img) = printed_sheet(&c, dpi);
    let page = &layout.pages[0];
    let (names, flags) = pingyi::ocr::read_names(&aligned(&layout, img, dpi), page, &roster);
    let printed = page.names.iter().filter(|n| n.printed.is_some()).count();
    assert_eq!(names.len(), printed, "blank write-in rows get no reading");
    assert!(
        names
            .iter()
            .all(|n| n.ok && n.matched.as_deref() == Some(n.subject.as_str())),
        "{names:?}"
    );
    assert!(flags.is_empty(), "{flags:?}");
}

#[test]
fn a_sheet_with_two_rows_retyped_flags_both_rows() {
    // The office re-typed the sheet with 王伟 and 王玮 swapped; the QR still says the original.
    let c = campaign();
    let roster = c.subjects(SubjectKind::Candidates, c.branch("jiguan1"));
    let mut swapped = c.clone();
    let cands = &mut swapped.branches[0].candidates;
    let (a, b) = (cands[0].name.clone(), cands[1].name.clone());
    (cands[0].name, cands[1].name) = (b, a);
    let dpi = 300;
    let (layout, _) = printed_sheet(&c, dpi);
    let (_, img) = printed_sheet(&swapped, dpi);
    let (names, flags) =
        pingyi::ocr::read_names(&aligned(&layout, img, dpi), &layout.pages[0], &roster);
    let flagged: Vec<&str> = flags
        .iter()
        .filter(|f| f.kind == FlagKind::NameCheck)
        .filter_map(|f| f.target.as_deref())
        .collect();
    assert_eq!(flagged, ["c101", "c102"], "{flags:?}");
    assert!(names
        .iter()
        .filter(|n| n.ok)
        .all(|n| n.subject != "c101" && n.subject != "c102"));
    assert_eq!(
        names.iter().filter(|n| n.ok).count(),
        roster.len() - 2,
        "{names:?}"
    );
}
