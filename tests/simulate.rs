//! End-to-end tests of `pingyi simulate`: real print (printpdf), real `pdftoppm`, real packers,
//! real decoders (`pages::open`, rqrr).

use image::GrayImage;
use pingyi::folder::CampaignFolder;
use pingyi::pages::{self, InputFile};
use pingyi::simulate::{
    self, template, Drawn, Homography, Intended, OutputFormat, Profile, SimulateOptions, Truth,
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

/// The map from the printed sheet (mm) to where it is in a page image (mm), from the truth.
fn sheet_map(p: &simulate::PageTruth, size: (f64, f64)) -> Homography {
    let corners = p.corners_mm.expect("a scanned page records its corners");
    let (w, h) = size;
    Homography::through(
        [(0.0, 0.0), (w, 0.0), (w, h), (0.0, h)],
        corners.map(|c| (c[0], c[1])),
    )
    .expect("a sheet's corners make a homography")
}

/// Simulate `sheets` of `form` and return the truth and the layout.
fn simulate_png(
    dir: &Path,
    form: &str,
    branch: Option<&str>,
    sheets: u32,
    profile: Profile,
    dpi: u32,
    seed: u64,
) -> (SimulateOptions, Truth, pingyi::layout::Layout) {
    let mut o = options(dir, form, sheets, OutputFormat::Png, dpi);
    o.branch = branch.map(str::to_string);
    o.profile = profile;
    o.seed = seed;
    let truth = simulate::run(&o).unwrap();
    let layout = CampaignFolder::open(&o.campaign)
        .unwrap()
        .load_layout(&truth.layout_hash)
        .unwrap();
    (o, truth, layout)
}

#[test]
fn keystoned_pages_put_their_corner_squares_where_the_projective_map_says() {
    let d = tempfile::tempdir().unwrap();
    let dpi = 200;
    let (o, truth, layout) = simulate_png(
        d.path(),
        "member",
        Some("jiguan1"),
        10,
        Profile::Office,
        dpi,
        3,
    );
    let size = (layout.size.w, layout.size.h);
    let s = f64::from(dpi) / MM_PER_INCH;
    let mut keystoned = 0;
    for p in truth.pages.iter().filter(|p| !p.blank_back) {
        assert!(
            p.keystone_mm <= 1.0 + 1e-9,
            "office keystone {}",
            p.keystone_mm
        );
        keystoned += usize::from(p.keystone_mm > 0.3);
        let img = image::open(o.out.join(&p.file)).unwrap().to_luma8();
        let map = sheet_map(p, size);
        for m in layout.page(p.page).unwrap().marks {
            let c = m.center();
            let (x, y) = map.apply(c.x, c.y).unwrap();
            let (gx, gy) = centroid(&img, (x, y), m.w / 2.0 + 1.5, f64::from(dpi))
                .unwrap_or_else(|| panic!("{}: no corner square near ({x:.1}, {y:.1})", p.file));
            let off = (gx - x).hypot(gy - y);
            assert!(
                off < 0.2,
                "{} (rotation {}, keystone {:.2} mm): square at ({gx:.2}, {gy:.2}) mm, \
                 the map says ({x:.2}, {y:.2}): {off:.2} mm off",
                p.file,
                p.rotation,
                p.keystone_mm
            );
        }
        // The recorded corners are in the image (an auto-cropped one is larger than the
        // sheet; a plain one may cut a shifted sheet's edge).
        let (iw, ih) = (f64::from(img.width()) / s, f64::from(img.height()) / s);
        if p.auto_crop.is_some() {
            for c in p.corners_mm.unwrap() {
                assert!(c[0] > -0.1 && c[1] > -0.1 && c[0] < iw + 0.1 && c[1] < ih + 0.1);
            }
        }
    }
    assert!(
        keystoned >= 3,
        "only {keystoned} pages keystoned over 0.3 mm"
    );
}

/// Median gray of `n` points along the segment a → b (mm), skipping its ends.
fn median_along(img: &GrayImage, a: (f64, f64), b: (f64, f64), dpi: f64) -> u8 {
    let s = dpi / MM_PER_INCH;
    let mut v: Vec<u8> = (1..10)
        .filter_map(|k| {
            let t = f64::from(k) / 10.0;
            let (x, y) = ((a.0 + (b.0 - a.0) * t) * s, (a.1 + (b.1 - a.1) * t) * s);
            (x >= 0.0 && y >= 0.0 && x < f64::from(img.width()) && y < f64::from(img.height()))
                .then(|| img.get_pixel(x as u32, y as u32).0[0])
        })
        .collect();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(255)
}

#[test]
fn dark_background_pages_hold_the_turned_sheet_inside_a_dark_border() {
    let d = tempfile::tempdir().unwrap();
    let dpi = 150;
    let (o, truth, layout) = simulate_png(d.path(), "window", None, 12, Profile::Hard, dpi, 5);
    let (w, h) = (layout.size.w, layout.size.h);
    let mut dark_pages = 0;
    for p in truth.pages.iter().filter(|p| !p.blank_back) {
        let Some(crop) = p.auto_crop else { continue };
        let img = image::open(o.out.join(&p.file)).unwrap().to_luma8();
        // Larger than the sheet, which sits whole inside.
        let s = f64::from(dpi) / MM_PER_INCH;
        let (long, short) = (w.max(h) * s * 0.97, w.min(h) * s * 0.97);
        let (iw, ih) = (f64::from(img.width()), f64::from(img.height()));
        assert!(
            iw.max(ih) > long && iw.min(ih) > short,
            "{}: {iw}×{ih}",
            p.file
        );
        if crop.background > 100 {
            continue;
        }
        dark_pages += 1;
        // Along each edge of the sheet (as turned and keystoned): 2 mm inside is paper, 1 mm
        // outside is the dark background, wherever the image goes on.
        let map = sheet_map(p, (w, h));
        let at = |x: f64, y: f64| map.apply(x, y).unwrap();
        let edges = [
            ((0.0, 2.0), (w, 2.0), (0.0, -1.0), (w, -1.0)),
            ((w - 2.0, 0.0), (w - 2.0, h), (w + 1.0, 0.0), (w + 1.0, h)),
            ((0.0, h - 2.0), (w, h - 2.0), (0.0, h + 1.0), (w, h + 1.0)),
            ((2.0, 0.0), (2.0, h), (-1.0, 0.0), (-1.0, h)),
        ];
        for (k, (a, b, c, e)) in edges.into_iter().enumerate() {
            let inside = median_along(&img, at(a.0, a.1), at(b.0, b.1), f64::from(dpi));
            assert!(inside > 150, "{} edge {k}: paper {inside}", p.file);
            let (c, e) = (at(c.0, c.1), at(e.0, e.1));
            let seen = [c, e]
                .iter()
                .all(|q| q.0 * s >= 0.0 && q.1 * s >= 0.0 && q.0 * s < iw && q.1 * s < ih);
            if seen {
                let outside = median_along(&img, c, e, f64::from(dpi));
                assert!(outside < 100, "{} edge {k}: border {outside}", p.file);
            }
        }
    }
    assert!(dark_pages >= 2, "only {dark_pages} dark-background pages");
}

#[test]
fn light_pencil_dots_and_straddles_look_as_drawn() {
    let d = tempfile::tempdir().unwrap();
    let dpi = 300;
    let (o, truth, layout) = simulate_png(
        d.path(),
        "member",
        Some("jiguan1"),
        24,
        Profile::Hard,
        dpi,
        8,
    );
    let s = f64::from(dpi) / MM_PER_INCH;
    let mut found = std::collections::BTreeMap::new();
    for sheet in &truth.sheets {
        for q in &sheet.questions {
            for (k, c) in q.cells.iter().enumerate() {
                if !matches!(c.drawn, Drawn::Pencil | Drawn::Dot | Drawn::Straddle) {
                    continue;
                }
                *found.entry(format!("{:?}", c.drawn)).or_insert(0) += 1;
                let expect = match c.drawn {
                    Drawn::Straddle => Intended::Ambiguous { likely: None },
                    _ => Intended::Ambiguous {
                        likely: Some(c.option.clone()),
                    },
                };
                assert_eq!(q.intended, expect, "{} {}", sheet.serial, q.question);
                if c.drawn == Drawn::Straddle {
                    // Two neighbours, ticked across.
                    let other = [k.wrapping_sub(1), k + 1]
                        .iter()
                        .filter(|&&j| q.cells.get(j).is_some_and(|x| x.drawn == Drawn::Straddle))
                        .count();
                    assert_eq!(other, 1);
                    continue;
                }
                // A gray scan: never blank-acceptable.
                assert!(!q.blank_ok);
                let p = truth
                    .pages
                    .iter()
                    .find(|p| p.serial == sheet.serial && p.page == q.page && !p.blank_back)
                    .unwrap();
                let img = image::open(o.out.join(&p.file)).unwrap().to_luma8();
                let map = sheet_map(p, (layout.size.w, layout.size.h));
                let cell = layout
                    .page(q.page)
                    .unwrap()
                    .cells
                    .iter()
                    .find(|x| x.question == q.question && x.option == c.option)
                    .unwrap();
                // Inside the box, clear of its printed outline.
                let r = cell.tick.inset(0.8);
                let mut px = Vec::new();
                for i in 0..24 {
                    for j in 0..24 {
                        let (u, v) = (
                            r.x + r.w * (f64::from(i) + 0.5) / 24.0,
                            r.y + r.h * (f64::from(j) + 0.5) / 24.0,
                        );
                        let (x, y) = map.apply(u, v).unwrap();
                        px.push(img.get_pixel((x * s) as u32, (y * s) as u32).0[0]);
                    }
                }
                px.sort_unstable();
                let (core, paper) = (px[px.len() / 100], px[px.len() / 2]);
                if c.drawn == Drawn::Pencil {
                    // Light: a fifth or so of the way from paper to toner, never pen-dark.
                    assert!(
                        core > 140 && paper - core.min(paper) >= 12,
                        "{} {}: pencil core {core} on paper {paper}",
                        sheet.serial,
                        q.question
                    );
                } else {
                    // A dot: pen-dark at its middle.
                    assert!(
                        core < 140,
                        "{} {}: dot core {core}",
                        sheet.serial,
                        q.question
                    );
                }
            }
        }
    }
    for kind in ["Pencil", "Dot", "Straddle"] {
        assert!(
            found.get(kind).is_some_and(|&n| n > 0),
            "no {kind}: {found:?}"
        );
    }
}

#[test]
fn one_bit_pages_are_black_and_white_with_a_little_dust_and_pencil_may_vanish() {
    let d = tempfile::tempdir().unwrap();
    let mut o = options(d.path(), "member", 16, OutputFormat::Png, 200);
    o.branch = Some("jiguan1".into());
    o.profile = Profile::Hard;
    o.bilevel = Some(simulate::Bilevel::Threshold);
    o.seed = 8;
    let truth = simulate::run(&o).unwrap();
    let mut isolated = 0usize;
    let mut pixels = 0usize;
    for p in &truth.pages {
        let img = image::open(o.out.join(&p.file)).unwrap().to_luma8();
        assert!(
            img.as_raw().iter().all(|&v| v == 0 || v == 255),
            "{}",
            p.file
        );
        let (w, h) = img.dimensions();
        pixels += (w * h) as usize;
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                if img.get_pixel(x, y).0[0] == 0 {
                    let alone = (-1i32..=1)
                        .flat_map(|dy| (-1i32..=1).map(move |dx| (dx, dy)))
                        .filter(|&d| d != (0, 0))
                        .all(|(dx, dy)| {
                            img.get_pixel((x as i32 + dx) as u32, (y as i32 + dy) as u32)
                                .0[0]
                                == 255
                        });
                    isolated += usize::from(alone);
                }
            }
        }
    }
    // The field sample's 1-bit pages: 1–4 isolated black pixels per 100,000.
    let rate = isolated as f64 / pixels as f64;
    assert!(
        (5e-6..1e-4).contains(&rate),
        "{rate:.1e} isolated black pixels"
    );
    // Light pencil may not survive the threshold: there a confident blank is right too.
    let pencil: Vec<_> = truth
        .sheets
        .iter()
        .flat_map(|s| &s.questions)
        .filter(|q| q.cells.iter().any(|c| c.drawn == Drawn::Pencil))
        .collect();
    assert!(!pencil.is_empty());
    for q in pencil {
        let only_pencil = q
            .cells
            .iter()
            .all(|c| matches!(c.drawn, Drawn::None | Drawn::Speck | Drawn::Pencil));
        assert_eq!(q.blank_ok, only_pencil, "{}", q.question);
    }
}

#[test]
fn clean_scans_have_no_keystone_no_crop_and_no_pencil() {
    let d = tempfile::tempdir().unwrap();
    let (_, truth, _) = simulate_png(
        d.path(),
        "member",
        Some("jiguan1"),
        12,
        Profile::Clean,
        100,
        4,
    );
    for p in &truth.pages {
        assert!(p.keystone_mm == 0.0 && p.auto_crop.is_none(), "{p:?}");
    }
    for q in truth.sheets.iter().flat_map(|s| &s.questions) {
        assert!(q
            .cells
            .iter()
            .all(|c| !matches!(c.drawn, Drawn::Pencil | Drawn::Dot | Drawn::Straddle)));
    }
}
