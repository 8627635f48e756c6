//! End-to-end tests of `pingyi simulate`: real print (printpdf), real `pdftoppm`, real packers,
//! real decoders (`pages::open`, rqrr).

use image::GrayImage;
use pingyi::folder::CampaignFolder;
use pingyi::pages::{self, InputFile};
use pingyi::simulate::{
    self, template, Drawn, Intended, OutputFormat, Profile, SimulateOptions, Truth,
};
use pingyi::units::MM_PER_INCH;
use std::path::{Path, PathBuf};

const CAMPAIGN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/campaign/campaign.toml"
);

/// A fresh campaign folder (serials avoid those already printed, so each run gets its own).
fn campaign(dir: &Path) -> PathBuf {
    let c = dir.join("campaign");
    std::fs::create_dir_all(&c).unwrap();
    std::fs::copy(CAMPAIGN, c.join("campaign.toml")).unwrap();
    c
}

fn options(dir: &Path, form: &str, sheets: u32, format: OutputFormat, dpi: u32) -> SimulateOptions {
    let mut o = SimulateOptions::new(form, campaign(dir), sheets, dir.join("out"));
    o.format = format;
    o.dpi = dpi;
    o
}

#[test]
fn the_same_seed_gives_the_same_truth_and_the_same_png_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut runs = Vec::new();
    for d in [&a, &b] {
        let mut o = options(d.path(), "window", 3, OutputFormat::Png, 150);
        o.seed = 42;
        o.profile = Profile::Hard;
        runs.push(simulate::run(&o).unwrap());
    }
    assert_eq!(
        serde_json::to_string(&runs[0]).unwrap(),
        serde_json::to_string(&runs[1]).unwrap()
    );
    for p in &runs[0].pages {
        let x = std::fs::read(a.path().join("out").join(&p.file)).unwrap();
        let y = std::fs::read(b.path().join("out").join(&p.file)).unwrap();
        assert!(x == y, "{} differs between runs", p.file);
    }
    // Another seed gives other sheets.
    let c = tempfile::tempdir().unwrap();
    let mut o = options(c.path(), "window", 3, OutputFormat::Png, 150);
    o.seed = 43;
    o.profile = Profile::Hard;
    let other = simulate::run(&o).unwrap();
    assert_ne!(other.sheets[0].serial, runs[0].sheets[0].serial);
}

#[test]
fn printed_sheets_are_recorded_in_the_campaign_so_the_reader_accepts_them() {
    let d = tempfile::tempdir().unwrap();
    let mut o = options(d.path(), "member", 4, OutputFormat::Png, 150);
    o.branch = Some("jiguan1".into());
    let truth = simulate::run(&o).unwrap();
    let folder = CampaignFolder::open(&o.campaign).unwrap();
    let printed = folder.printed_serials().unwrap();
    for s in &truth.sheets {
        let sheet = &printed[&s.serial];
        assert_eq!(sheet.layout_hash, truth.layout_hash);
        assert_eq!(sheet.branch.as_deref(), Some("jiguan1"));
    }
    assert!(folder.load_layout(&truth.layout_hash).is_ok());
    // Write-in rows stay empty; every recommendation question is a single box.
    for s in &truth.sheets {
        for q in s.questions.iter().filter(|q| q.question.starts_with("_w")) {
            assert_eq!(q.intended, Intended::Blank);
            assert!(q
                .cells
                .iter()
                .all(|c| c.drawn == Drawn::None || c.drawn == Drawn::Speck));
        }
    }
}

/// Dark-pixel centroid (px) inside a window around `centre_mm`.
fn centroid(img: &GrayImage, centre_mm: (f64, f64), half_mm: f64, dpi: f64) -> Option<(f64, f64)> {
    let s = dpi / MM_PER_INCH;
    let (x0, x1) = (
        ((centre_mm.0 - half_mm) * s) as u32,
        ((centre_mm.0 + half_mm) * s) as u32,
    );
    let (y0, y1) = (
        ((centre_mm.1 - half_mm) * s) as u32,
        ((centre_mm.1 + half_mm) * s) as u32,
    );
    let (mut sx, mut sy, mut n) = (0.0, 0.0, 0.0);
    for y in y0..y1.min(img.height()) {
        for x in x0..x1.min(img.width()) {
            if img.get_pixel(x, y).0[0] < 128 {
                sx += f64::from(x) + 0.5;
                sy += f64::from(y) + 0.5;
                n += 1.0;
            }
        }
    }
    (n > 0.0).then(|| (sx / n / s, sy / n / s))
}

#[test]
fn a_page_rendered_at_300_dpi_has_its_four_marks_where_the_layout_says() {
    let d = tempfile::tempdir().unwrap();
    let mut o = options(d.path(), "branch", 1, OutputFormat::Png, 300);
    o.profile = Profile::Clean;
    o.blank_backs = Some(0.0);
    let truth = simulate::run(&o).unwrap();
    let layout = CampaignFolder::open(&o.campaign)
        .unwrap()
        .load_layout(&truth.layout_hash)
        .unwrap();
    let page = &layout.pages[0];
    let rendered = template::render(
        &CampaignFolder::open(&o.campaign)
            .unwrap()
            .root
            .join(&truth.printed_pdf),
        1,
        300,
        d.path(),
    )
    .unwrap();
    // Before the scanner: within 1 mm.
    for m in page.marks {
        let c = m.center();
        let (x, y) = centroid(&rendered, (c.x, c.y), 5.0, 300.0).expect("a mark");
        assert!(
            (x - c.x).abs() < 1.0 && (y - c.y).abs() < 1.0,
            "mark at ({x:.2}, {y:.2}) mm, layout ({:.2}, {:.2})",
            c.x,
            c.y
        );
    }
    // After the clean scanner (±0.3°, ±1 mm, ±0.5 %): still within 2.5 mm.
    let scanned = image::open(o.out.join(&truth.pages[0].file))
        .unwrap()
        .to_luma8();
    for m in page.marks {
        let c = m.center();
        let (x, y) = centroid(&scanned, (c.x, c.y), 6.0, 300.0).expect("a mark");
        assert!(
            (x - c.x).abs() < 2.5 && (y - c.y).abs() < 2.5,
            "scanned mark at ({x:.2}, {y:.2}) mm, layout ({:.2}, {:.2})",
            c.x,
            c.y
        );
    }
}

#[test]
fn the_qr_on_a_simulated_page_decodes_to_its_serial() {
    let d = tempfile::tempdir().unwrap();
    let mut o = options(d.path(), "window", 2, OutputFormat::Png, 300);
    o.profile = Profile::Clean;
    o.blank_backs = Some(0.0);
    let truth = simulate::run(&o).unwrap();
    let layout = CampaignFolder::open(&o.campaign)
        .unwrap()
        .load_layout(&truth.layout_hash)
        .unwrap();
    for p in &truth.pages {
        let img = image::open(o.out.join(&p.file)).unwrap().to_luma8();
        let code = layout.page(p.page).unwrap().code;
        // The code box plus the clean scanner's worst shift and a margin: a corner crop.
        let s = 300.0 / MM_PER_INCH;
        let (x0, y0) = (((code.x - 4.0) * s) as u32, ((code.y - 4.0) * s) as u32);
        let side = ((code.w + 8.0) * s) as u32;
        let crop = image::imageops::crop_imm(&img, x0, y0, side, side).to_image();
        let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
            crop.width() as usize,
            crop.height() as usize,
            |x, y| crop.get_pixel(x as u32, y as u32).0[0],
        );
        let grids = prepared.detect_grids();
        assert_eq!(grids.len(), 1, "one code on {}", p.file);
        let (_, text) = grids[0].decode().unwrap();
        let c = pingyi::code::PageCode::parse(&text).unwrap();
        assert_eq!(
            (c.serial.as_str(), c.page, c.layout_hash.as_str()),
            (p.serial.as_str(), p.page, truth.layout_hash.as_str())
        );
    }
}

/// Open every output file and count its pages.
fn open_all(out: &Path, truth: &Truth) -> usize {
    let mut files: Vec<&str> = truth.pages.iter().map(|p| p.file.as_str()).collect();
    files.dedup();
    let mut n = 0;
    for f in files {
        let src = pages::open(&InputFile::from_path(out.join(f)).unwrap())
            .unwrap_or_else(|e| panic!("{f}: {e}"));
        for i in 0..src.page_count() {
            let page = src.load_page(i).unwrap_or_else(|e| panic!("{f}#{i}: {e}"));
            let t = truth
                .pages
                .iter()
                .find(|p| p.file == f && p.index == i)
                .expect("page in truth");
            // A4 at 150 dpi is 1240 × 1754 px (either way round).
            let (w, h) = page.image.dimensions();
            assert!(w.min(h) > 1200 && w.max(h) > 1700, "{f}#{i}: {w}×{h}");
            let _ = t;
            n += 1;
        }
    }
    n
}

#[test]
fn every_output_format_opens_with_pages_open() {
    use OutputFormat::*;
    for (format, bilevel) in [
        (PdfJpeg, None),
        (PdfFlate, None),
        (PdfFlate, Some(simulate::Bilevel::Dither)),
        (PdfG4, None),
        (Tiff, None),
        (Tiff, Some(simulate::Bilevel::Threshold)),
        (Png, None),
        (Jpeg, None),
    ] {
        let d = tempfile::tempdir().unwrap();
        let mut o = options(d.path(), "branch", 3, format, 150);
        o.bilevel = bilevel;
        o.pages_per_file = 2;
        o.blank_backs = Some(0.5);
        let truth = simulate::run(&o).unwrap();
        assert!(truth.pages.len() > 3, "blank backs interleaved");
        assert_eq!(
            open_all(&o.out, &truth),
            truth.pages.len(),
            "{format:?} {bilevel:?}"
        );
    }
}

#[test]
fn bad_options_are_refused_with_a_reason() {
    let d = tempfile::tempdir().unwrap();
    let mut o = options(d.path(), "branch", 0, OutputFormat::Png, 150);
    assert!(matches!(
        simulate::run(&o),
        Err(simulate::SimError::Options(_))
    ));
    o.sheets = 1;
    o.form = "no_such_form".into();
    assert!(matches!(
        simulate::run(&o),
        Err(simulate::SimError::UnknownForm { .. })
    ));
}
