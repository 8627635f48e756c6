//! The reader end to end on rasterised seed forms: ticks, fills, dots, rotation, scaling,
//! covered corner squares, blank and foreign pages, unknown layouts and serials.

use image::{imageops, GrayImage, Luma};
use pingyi::campaign::Campaign;
use pingyi::code::PageCode;
use pingyi::folder::PrintedSheet;
use pingyi::layout::{layout, AnswerCell, Layout};
use pingyi::raster::{self, px_per_mm};
use pingyi::read::align::AlignError;
use pingyi::read::outcome::{FlagKind, PageStatus, QuestionState};
use pingyi::read::{read_page, try_read_page, ReadContext, ReadError};
use pingyi::units::RectMm;
use rand::{Rng, SeedableRng};
use std::path::Path;

const SERIAL: &str = "K7Q2M9X4";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn seed_layout(id: &str) -> Layout {
    let c = Campaign::load(&root().join("fixtures/campaign/campaign.toml")).unwrap();
    let f = pingyi::form::load_dir(&root().join("forms"))
        .unwrap()
        .into_iter()
        .find(|f| f.id == id)
        .unwrap();
    layout(&f, &c, c.branch("jiguan1")).unwrap()
}

fn code(l: &Layout, serial: &str) -> PageCode {
    PageCode {
        form: l.form.clone(),
        layout_hash: l.hash.clone(),
        page: 1,
        serial: serial.into(),
    }
}

fn ctx(ls: &[&Layout]) -> ReadContext {
    let mut c = ReadContext::default();
    for l in ls {
        c.layouts.insert(l.hash.clone(), (*l).clone());
        c.printed.insert(
            SERIAL.into(),
            PrintedSheet {
                form: l.form.clone(),
                branch: l.branch.clone(),
                layout_hash: l.hash.clone(),
            },
        );
    }
    c
}

fn render(l: &Layout, dpi: f64) -> GrayImage {
    raster::render_page(l.size, &l.pages[0], Some(&code(l, SERIAL)), dpi).unwrap()
}

/// A ✓ in a 0.5 mm pen across the box, as people draw it.
fn tick(img: &mut GrayImage, r: RectMm, dpi: f64) {
    let s = px_per_mm(dpi);
    let p = |fx: f64, fy: f64| ((r.x + r.w * fx) * s, (r.y + r.h * fy) * s);
    raster::stroke(img, p(0.15, 0.5), p(0.4, 0.85), 0.5 * s, 30);
    raster::stroke(img, p(0.4, 0.85), p(0.95, 0.1), 0.5 * s, 30);
}

fn cells<'a>(l: &'a Layout, question: &str) -> Vec<&'a AnswerCell> {
    l.pages[0]
        .cells
        .iter()
        .filter(|c| c.question == question)
        .collect()
}

fn first_questions(l: &Layout, n: usize) -> Vec<String> {
    let mut qs: Vec<String> = Vec::new();
    for c in &l.pages[0].cells {
        if !qs.contains(&c.question) {
            qs.push(c.question.clone());
        }
    }
    qs.truncate(n);
    qs
}

fn state(r: &pingyi::read::outcome::PageReading, q: &str) -> (QuestionState, Option<String>) {
    let q = r.questions.iter().find(|x| x.question == q).unwrap();
    (q.state, q.option.clone())
}

/// Fill in questions 0..4 of the first page: a tick, a filled box, two ticks, a faint dot.
fn fill_in(l: &Layout, img: &mut GrayImage, dpi: f64) -> Vec<String> {
    let qs = first_questions(l, 5);
    let s = px_per_mm(dpi);
    tick(img, cells(l, &qs[0])[0].tick, dpi);
    raster::fill_mm(img, cells(l, &qs[1])[1].tick.inset(0.2), s, 40);
    tick(img, cells(l, &qs[2])[0].tick, dpi);
    tick(img, cells(l, &qs[2])[1].tick, dpi);
    // A 0.8 mm dot: ≈ 3.7 % of the measured box, between the thresholds (0.02 / 0.05).
    let c = cells(l, &qs[3])[2].tick.center();
    raster::stroke(img, (c.x * s, c.y * s), (c.x * s, c.y * s), 0.8 * s, 30);
    qs
}

fn assert_filled_in(l: &Layout, r: &pingyi::read::outcome::PageReading, qs: &[String]) {
    assert_eq!(r.status, PageStatus::Read, "{:?}", r.reason);
    assert_eq!(
        state(r, &qs[0]),
        (
            QuestionState::Answer,
            Some(cells(l, &qs[0])[0].option.clone())
        )
    );
    assert_eq!(
        state(r, &qs[1]),
        (
            QuestionState::Answer,
            Some(cells(l, &qs[1])[1].option.clone())
        ),
        "a filled box is a mark"
    );
    assert_eq!(state(r, &qs[2]).0, QuestionState::Overvote);
    assert_eq!(state(r, &qs[3]).0, QuestionState::Ambiguous);
    assert_eq!(state(r, &qs[4]).0, QuestionState::Blank);
    let blank_rest = r
        .questions
        .iter()
        .skip(5)
        .filter(|q| q.state != QuestionState::Blank)
        .count();
    assert_eq!(blank_rest, 0, "untouched questions read blank");
    let kinds: Vec<_> = r
        .flags
        .iter()
        .map(|f| (f.kind, f.target.clone().unwrap_or_default()))
        .collect();
    assert!(
        kinds.contains(&(FlagKind::Overvote, qs[2].clone())),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(FlagKind::Marginal, qs[3].clone())),
        "{kinds:?}"
    );
    assert!(r.residual_mm.unwrap() < 0.5, "residual {:?}", r.residual_mm);
}

#[test]
fn a_fourth_form_written_only_as_data_reads_like_the_seed_forms() {
    let c = Campaign::load(&root().join("fixtures/campaign/campaign.toml")).unwrap();
    let f = pingyi::form::load_file(&root().join("fixtures/forms/course.toml")).unwrap();
    let l = layout(&f, &c, None).unwrap();
    let mut img = render(&l, 200.0);
    let qs = fill_in(&l, &mut img, 200.0);
    let (r, _) = read_page(img.clone(), Some(200.0), &ctx(&[&l]));
    assert_filled_in(&l, &r, &qs);
    assert_eq!(r.questions.len(), 5);
}

#[test]
fn each_seed_form_reads_ticks_fills_overvotes_and_dots_at_200_dpi() {
    for id in ["branch", "member", "window"] {
        let l = seed_layout(id);
        let mut img = render(&l, 200.0);
        let qs = fill_in(&l, &mut img, 200.0);
        let (r, a) = read_page(img.clone(), Some(200.0), &ctx(&[&l]));
        assert_filled_in(&l, &r, &qs);
        assert_eq!(r.rotation, 0);
        let a = a.unwrap();
        assert_eq!((a.layout_hash.as_str(), a.page), (l.hash.as_str(), 1));
        assert!(!r.flags.iter().any(|f| f.kind == FlagKind::UnknownSerial));
    }
}

#[test]
fn the_check_item_of_the_member_form_reads_yes_or_blank() {
    let l = seed_layout("member");
    let q = l.pages[0]
        .cells
        .iter()
        .find(|c| c.item == "recommend")
        .unwrap()
        .clone();
    let mut img = render(&l, 200.0);
    tick(&mut img, q.tick, 200.0);
    let (r, _) = read_page(img.clone(), None, &ctx(&[&l]));
    assert_eq!(
        state(&r, &q.question),
        (QuestionState::Answer, Some("yes".into()))
    );
    let other = l.pages[0]
        .cells
        .iter()
        .filter(|c| c.item == "recommend")
        .nth(1)
        .unwrap();
    assert_eq!(state(&r, &other.question).0, QuestionState::Blank);
}

#[test]
fn pages_read_at_150_200_and_300_dpi() {
    let l = seed_layout("branch");
    for dpi in [150.0, 200.0, 300.0] {
        let mut img = render(&l, dpi);
        let qs = fill_in(&l, &mut img, dpi);
        let (r, _) = read_page(img.clone(), Some(dpi as f32), &ctx(&[&l]));
        assert_filled_in(&l, &r, &qs);
        assert!(
            (f64::from(r.dpi.unwrap()) - dpi).abs() < dpi * 0.01,
            "dpi {:?} at {dpi}",
            r.dpi
        );
    }
}

#[test]
fn turned_pages_are_read_and_their_rotation_recorded() {
    for id in ["branch", "member"] {
        let l = seed_layout(id);
        let mut img = render(&l, 150.0);
        let qs = fill_in(&l, &mut img, 150.0);
        for (rot, turned) in [
            (90, imageops::rotate90(&img)),
            (180, imageops::rotate180(&img)),
            (270, imageops::rotate270(&img)),
        ] {
            let (r, a) = read_page(turned.clone(), Some(150.0), &ctx(&[&l]));
            assert_eq!(r.rotation, rot, "{id}");
            assert_filled_in(&l, &r, &qs);
            assert_eq!(a.unwrap().image.dimensions(), img.dimensions());
        }
    }
}

/// The page printed at `k` of its size and shifted by (dx, dy) px on the same paper.
fn scaled(img: &GrayImage, k: f64, dx: i64, dy: i64) -> GrayImage {
    let (w, h) = img.dimensions();
    let small = imageops::resize(
        img,
        (f64::from(w) * k) as u32,
        (f64::from(h) * k) as u32,
        imageops::FilterType::Triangle,
    );
    let mut out = GrayImage::from_pixel(w, h, Luma([255]));
    let ox = i64::from(w - small.width()) / 2 + dx;
    let oy = i64::from(h - small.height()) / 2 + dy;
    imageops::overlay(&mut out, &small, ox, oy);
    out
}

#[test]
fn a_page_printed_at_97_percent_and_shifted_reads_the_same() {
    let l = seed_layout("window");
    let dpi = 300.0;
    let mut img = render(&l, dpi);
    let qs = fill_in(&l, &mut img, dpi);
    let shifted = scaled(&img, 0.97, 25, -18);
    let (r, _) = read_page(shifted.clone(), Some(300.0), &ctx(&[&l]));
    assert_filled_in(&l, &r, &qs);
    assert!(
        (f64::from(r.dpi.unwrap()) / 291.0 - 1.0).abs() < 0.01,
        "{:?}",
        r.dpi
    );
}

#[test]
fn a_slightly_skewed_scan_reads_the_same() {
    let l = seed_layout("branch");
    let mut img = render(&l, 200.0);
    let qs = fill_in(&l, &mut img, 200.0);
    let skewed = imageproc::geometric_transformations::rotate_about_center(
        &img,
        1.0f32.to_radians(),
        imageproc::geometric_transformations::Interpolation::Bilinear,
        imageproc::geometric_transformations::Border::Constant(Luma([255])),
    );
    let (r, _) = read_page(skewed.clone(), Some(200.0), &ctx(&[&l]));
    assert_filled_in(&l, &r, &qs);
}

fn cover_mark(l: &Layout, img: &mut GrayImage, k: usize, dpi: f64) {
    raster::fill_mm(img, l.pages[0].marks[k].inset(-1.0), px_per_mm(dpi), 255);
}

#[test]
fn one_covered_corner_square_is_not_missed_but_two_reject_the_page_with_the_evidence() {
    let l = seed_layout("branch");
    let mut img = render(&l, 200.0);
    let qs = fill_in(&l, &mut img, 200.0);
    cover_mark(&l, &mut img, 0, 200.0);
    let (r, _) = read_page(img.clone(), Some(200.0), &ctx(&[&l]));
    assert_filled_in(&l, &r, &qs);
    cover_mark(&l, &mut img, 2, 200.0);
    match try_read_page(img.clone(), Some(200.0), &ctx(&[&l])) {
        Err(ReadError::Align {
            source: AlignError::MarksMissing { found, missing },
            code,
            ..
        }) => {
            assert_eq!(found, 2);
            assert_eq!(missing, vec!["top-left", "bottom-right"]);
            assert_eq!(code.serial, SERIAL);
        }
        other => panic!("expected missing marks, got {other:?}"),
    }
    let (r, a) = read_page(img.clone(), Some(200.0), &ctx(&[&l]));
    assert_eq!(r.status, PageStatus::Rejected);
    assert!(r.reason.unwrap().contains("top-left, bottom-right"));
    assert!(r.code.is_some() && a.is_none());
}

#[test]
fn a_page_at_the_wrong_size_is_rejected_not_guessed() {
    let l = seed_layout("branch");
    let img = render(&l, 200.0);
    // Printed at 85 %: every box would be 0.75 mm off by the page edge.
    let small = scaled(&img, 0.85, 0, 0);
    match try_read_page(small.clone(), Some(200.0), &ctx(&[&l])) {
        Err(ReadError::Align {
            source: AlignError::WrongScale { scale_x, scale_y },
            ..
        }) => {
            assert!(
                (scale_x - 0.85).abs() < 0.02 && (scale_y - 0.85).abs() < 0.02,
                "{scale_x} {scale_y}"
            );
        }
        other => panic!("expected a wrong-scale error, got {other:?}"),
    }
}

#[test]
fn a_blank_duplex_back_is_blank_even_with_speckle() {
    let l = seed_layout("branch");
    let mut img = raster::paper(l.size, 200.0);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    for p in img.pixels_mut() {
        p.0[0] = 245u8.saturating_sub(rng.random_range(0..12));
    }
    for _ in 0..40 {
        let (x, y) = (
            rng.random_range(0..img.width() - 3),
            rng.random_range(0..img.height() - 3),
        );
        raster::fill_px(
            &mut img,
            i64::from(x),
            i64::from(y),
            i64::from(x) + 2,
            i64::from(y) + 2,
            60,
        );
    }
    let (r, a) = read_page(img.clone(), Some(200.0), &ctx(&[&l]));
    assert_eq!(r.status, PageStatus::Blank);
    assert!(a.is_none());
}

#[test]
fn noise_and_pages_without_a_code_are_rejected_with_a_reason() {
    let l = seed_layout("branch");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let noise = GrayImage::from_fn(1240, 1754, |_, _| Luma([rng.random()]));
    let (r, _) = read_page(noise.clone(), None, &ctx(&[&l]));
    assert_eq!(r.status, PageStatus::Rejected);
    assert_eq!(
        r.reason.as_deref(),
        Some("no pingyi code found: foreign page or code damaged")
    );
    let no_code = raster::render_page(l.size, &l.pages[0], None, 150.0).unwrap();
    assert!(matches!(
        try_read_page(no_code.clone(), None, &ctx(&[&l])),
        Err(ReadError::NoCode)
    ));
}

#[test]
fn a_layout_never_printed_is_rejected_and_an_unknown_serial_flagged() {
    let l = seed_layout("branch");
    let other = seed_layout("window");
    let img = render(&l, 150.0);
    let (r, _) = read_page(img.clone(), None, &ctx(&[&other]));
    assert_eq!(
        r.reason.unwrap(),
        format!(
            "layout {} of form branch was never printed from this campaign",
            l.hash
        )
    );
    let stranger =
        raster::render_page(l.size, &l.pages[0], Some(&code(&l, "ZZZZ0000")), 150.0).unwrap();
    let (r, _) = read_page(stranger.clone(), None, &ctx(&[&l]));
    assert_eq!(r.status, PageStatus::Read);
    let f = r
        .flags
        .iter()
        .find(|f| f.kind == FlagKind::UnknownSerial)
        .unwrap();
    assert!(
        f.detail.contains("序号 ZZZZ0000 不在本次活动的打印记录中"),
        "{}",
        f.detail
    );
}

#[test]
fn writing_in_the_integrity_box_raises_its_flag_and_a_tick_beside_a_box_is_marginal() {
    let l = seed_layout("window");
    let dpi = 200.0;
    let s = px_per_mm(dpi);
    let mut img = render(&l, dpi);
    let wa = l.pages[0]
        .writing
        .iter()
        .find(|w| w.flag.as_deref() == Some("integrity_feedback"))
        .unwrap();
    // Three handwritten-ish strokes.
    for k in 0..3 {
        let y = (wa.rect.y + 8.0 + 4.0 * f64::from(k)) * s;
        raster::stroke(
            &mut img,
            ((wa.rect.x + 10.0) * s, y),
            ((wa.rect.x + 40.0) * s, y + 3.0),
            0.5 * s,
            30,
        );
    }
    // A tick drawn entirely beside its box, inside the cell.
    let q = first_questions(&l, 1).remove(0);
    let c = cells(&l, &q)[1];
    let beside = RectMm::new(c.tick.right() + 1.5, c.tick.y, 4.0, 4.0);
    tick(&mut img, beside, dpi);
    let (r, _) = read_page(img.clone(), Some(200.0), &ctx(&[&l]));
    let w = r.writing.iter().find(|x| x.id == wa.id).unwrap();
    assert!(w.has_writing);
    assert!(r
        .flags
        .iter()
        .any(|f| f.kind == FlagKind::IntegrityFeedback
            && f.target.as_deref() == Some(wa.id.as_str())));
    let empty: Vec<_> = r.writing.iter().filter(|x| x.id != wa.id).collect();
    assert!(empty.iter().all(|x| !x.has_writing), "{empty:?}");
    assert_eq!(
        state(&r, &q).0,
        QuestionState::Ambiguous,
        "a stray tick asks a person"
    );
}

#[test]
fn tiny_and_empty_images_are_rejected_without_panicking() {
    let l = seed_layout("branch");
    for (w, h) in [(0, 0), (1, 1), (0, 500), (199, 3000)] {
        let (r, a) = read_page(GrayImage::new(w, h), Some(300.0), &ctx(&[&l]));
        assert_eq!(r.status, PageStatus::Rejected);
        assert!(a.is_none());
    }
    // Absurd dpi claims fall back to the image size.
    let img = render(&l, 150.0);
    for dpi in [f32::NAN, 0.0, -5.0, 1e9] {
        let (r, _) = read_page(img.clone(), Some(dpi), &ctx(&[&l]));
        assert_eq!(r.status, PageStatus::Read);
    }
}

#[test]
fn a_noisy_150_dpi_scan_still_reads() {
    let l = seed_layout("branch");
    let mut img = render(&l, 150.0);
    let qs = fill_in(&l, &mut img, 150.0);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    for p in img.pixels_mut() {
        let n: i32 = rng.random_range(-40..=40);
        p.0[0] = (i32::from(p.0[0]) + n).clamp(0, 255) as u8;
        // Salt and pepper: 0.5 % of the pixels.
        if rng.random_range(0..200) == 0 {
            p.0[0] = if rng.random() { 0 } else { 255 };
        }
    }
    let (r, _) = read_page(img.clone(), Some(150.0), &ctx(&[&l]));
    assert_filled_in(&l, &r, &qs);
}

/// The page as a 1-bit scanner thresholds it: a little sensor noise first, so the printed
/// outlines come out jagged, 2 or 3 pixels wide, and the paper speckled.
fn bilevel(img: &GrayImage, seed: u64) -> GrayImage {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    GrayImage::from_fn(img.width(), img.height(), |x, y| {
        let v = f64::from(img.get_pixel(x, y).0[0]) + rng.random_range(-60.0..60.0);
        Luma([if v < 140.0 { 0 } else { 255 }])
    })
}

#[test]
fn clean_boxes_on_a_one_bit_200_dpi_scan_are_confident_blanks() {
    for id in ["window", "member"] {
        let l = seed_layout(id);
        let mut img = render(&l, 200.0);
        let qs = first_questions(&l, 3);
        tick(&mut img, cells(&l, &qs[0])[1].tick, 200.0);
        let (r, _) = read_page(bilevel(&img, 7), Some(200.0), &ctx(&[&l]));
        assert_eq!(r.status, PageStatus::Read, "{:?}", r.reason);
        assert_eq!(
            state(&r, &qs[0]),
            (
                QuestionState::Answer,
                Some(cells(&l, &qs[0])[1].option.clone())
            ),
            "{id}"
        );
        // Every other question: blank, and nothing sent to a person.
        for q in r.questions.iter().filter(|q| q.question != qs[0]) {
            assert_eq!(q.state, QuestionState::Blank, "{id} {}", q.question);
        }
        assert!(
            !r.flags
                .iter()
                .any(|f| matches!(f.kind, FlagKind::Marginal | FlagKind::Overvote)),
            "{id}: {:?}",
            r.flags
        );
    }
}

#[test]
fn a_light_pencil_tick_is_never_a_confident_blank() {
    let l = seed_layout("window");
    let mut img = render(&l, 300.0);
    let qs = first_questions(&l, 2);
    let s = px_per_mm(300.0);
    let r = cells(&l, &qs[0])[2].tick;
    let p = |fx: f64, fy: f64| ((r.x + r.w * fx) * s, (r.y + r.h * fy) * s);
    // Gray 215 on white: a fifth of the paper-to-toner contrast, lighter than any pen.
    raster::stroke(&mut img, p(0.2, 0.5), p(0.4, 0.8), 0.4 * s, 215);
    raster::stroke(&mut img, p(0.4, 0.8), p(0.85, 0.15), 0.4 * s, 215);
    tick(&mut img, cells(&l, &qs[1])[0].tick, 300.0);
    let (rd, _) = read_page(img, Some(300.0), &ctx(&[&l]));
    assert_eq!(state(&rd, &qs[0]).0, QuestionState::Ambiguous);
    assert!(rd
        .flags
        .iter()
        .any(|f| f.kind == FlagKind::Marginal && f.target.as_deref() == Some(&qs[0])));
    // A dark tick beside it is still read.
    assert_eq!(state(&rd, &qs[1]).0, QuestionState::Answer);
}

/// A scanner streak runs straight down the image, so across a page turned 4.5° it crosses each
/// box's own rows and columns: still the scanner's, not a pen's, when it is faint.
#[test]
fn a_faint_streak_down_a_turned_page_is_not_ink_in_the_boxes_it_crosses() {
    let l = seed_layout("window");
    let dpi = 300.0;
    let mut img = render(&l, dpi);
    let qs = first_questions(&l, 2);
    tick(&mut img, cells(&l, &qs[1])[0].tick, dpi);
    let mut img = imageproc::geometric_transformations::rotate_about_center(
        &img,
        4.5f32.to_radians(),
        imageproc::geometric_transformations::Interpolation::Bilinear,
        imageproc::geometric_transformations::Border::Constant(Luma([255])),
    );
    let (clean, _) = read_page(img.clone(), Some(dpi as f32), &ctx(&[&l]));
    assert_eq!(state(&clean, &qs[0]).0, QuestionState::Blank);
    // 3 px wide, 40 levels below the paper, 50 mm of it through the first question's last box
    // (short of the page's length, so it is not taken for a streak of the whole page).
    let last = &cells(&l, &qs[0])[3].option;
    let b = clean
        .cells
        .iter()
        .find(|c| c.question == qs[0] && &c.option == last)
        .expect("the box was read");
    let x = b.px[0] + b.px[2] / 2;
    let half = (25.0 * px_per_mm(dpi)) as u32;
    for y in b.px[1].saturating_sub(half)..(b.px[1] + half).min(img.height()) {
        for dx in 0..3 {
            let p = img.get_pixel_mut(x + dx, y);
            p.0[0] = p.0[0].saturating_sub(40);
        }
    }
    let (r, _) = read_page(img, Some(dpi as f32), &ctx(&[&l]));
    assert_eq!(state(&r, &qs[0]).0, QuestionState::Blank, "{:?}", r.flags);
    assert_eq!(state(&r, &qs[1]).0, QuestionState::Answer, "{:?}", r.flags);
}

#[test]
fn a_folds_shadow_across_a_row_of_boxes_is_paper_not_ink() {
    let l = seed_layout("window");
    let dpi = 200.0;
    let mut img = render(&l, dpi);
    let qs = first_questions(&l, 2);
    let s = px_per_mm(dpi);
    // A 3 mm soft shadow, 30 gray levels deep at its middle, with a 2-pixel crease, right
    // across the boxes of the first question's row; folded by hand, so 0.3° off the print's
    // axis (a scanner streak would run exactly along the image's).
    let first = cells(&l, &qs[0])[0].tick.center();
    let (x0, y0) = (first.x * s, first.y * s);
    for y in 0..img.height() {
        for x in 0..img.width() {
            let along = (f64::from(x) - x0) * 0.005;
            let d = (f64::from(y) - y0 - along) / (1.5 * s);
            let dark = 30.0 * (-d * d).exp() + if d.abs() < 0.08 { 20.0 } else { 0.0 };
            let p = img.get_pixel_mut(x, y);
            p.0[0] = (f64::from(p.0[0]) - dark).max(0.0) as u8;
        }
    }
    tick(&mut img, cells(&l, &qs[1])[3].tick, dpi);
    let (r, _) = read_page(img, Some(dpi as f32), &ctx(&[&l]));
    assert_eq!(state(&r, &qs[0]).0, QuestionState::Blank, "{:?}", r.flags);
    assert!(r.flags.is_empty(), "{:?}", r.flags);
    assert_eq!(
        state(&r, &qs[1]),
        (
            QuestionState::Answer,
            Some(cells(&l, &qs[1])[3].option.clone())
        )
    );
}

#[test]
fn a_folds_thin_crease_through_a_row_of_boxes_is_the_papers_and_a_tick_it_crosses_still_reads() {
    let l = seed_layout("window");
    let dpi = 200.0;
    let mut img = render(&l, dpi);
    let qs = first_questions(&l, 2);
    let s = px_per_mm(dpi);
    // As returned sheets show it: a crease 0.3 mm wide, 20 levels below its shadow, which
    // ramps 15 levels deep over 7 mm on one side; edge to edge across the sheet, through the
    // middle of the first question's boxes and, 0.4° off the print's axis, the tick below.
    let first = cells(&l, &qs[0])[0].tick.center();
    let (x0, y0) = (first.x * s, first.y * s);
    let slope = 0.4f64.to_radians().tan();
    for y in 0..img.height() {
        for x in 0..img.width() {
            let d = (f64::from(y) - y0 - (f64::from(x) - x0) * slope) / s;
            let shadow = if (-7.0..0.0).contains(&d) {
                15.0 * (1.0 + d / 7.0)
            } else {
                0.0
            };
            let crease = 20.0 * (-(d / 0.15) * (d / 0.15)).exp();
            let p = img.get_pixel_mut(x, y);
            p.0[0] = (f64::from(p.0[0]) - shadow - crease).max(0.0) as u8;
        }
    }
    tick(&mut img, cells(&l, &qs[1])[2].tick, dpi);
    let (r, _) = read_page(img, Some(dpi as f32), &ctx(&[&l]));
    assert_eq!(state(&r, &qs[0]).0, QuestionState::Blank, "{:?}", r.flags);
    assert!(r.flags.is_empty(), "{:?}", r.flags);
    assert_eq!(
        state(&r, &qs[1]),
        (
            QuestionState::Answer,
            Some(cells(&l, &qs[1])[2].option.clone())
        )
    );
}
