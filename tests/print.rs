//! End to end: `pingyi print` / `pingyi layout` on a copy of the example campaign, checked
//! with poppler (pdffonts, pdfinfo, pdftoppm) and by measuring the rendered page.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_pingyi");
/// Rendering resolution for the geometry check: the reader's nominal scan resolution.
const DPI: f64 = 300.0;
/// How far printed geometry may sit from the contract.
const TOLERANCE_MM: f64 = 0.3;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch copy of the example campaign folder.
fn campaign() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("fixtures/campaign/campaign.toml"),
        dir.path().join("campaign.toml"),
    )
    .unwrap();
    dir
}

fn run(args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "pingyi panicked: {stderr}");
    out
}

fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "pingyi {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn tool(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e} (install poppler-utils)"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Print `form` (with `extra` flags) into the campaign `c`; returns the PDF's path.
fn print(c: &Path, form: &str, extra: &[&str], name: &str) -> PathBuf {
    let pdf = c.join(name);
    let mut args = vec![
        "print",
        form,
        "--campaign",
        c.to_str().unwrap(),
        "-o",
        pdf.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(&args);
    pdf
}

fn font_lines(pdf: &Path) -> Vec<String> {
    tool("pdffonts", &[pdf.to_str().unwrap()])
        .lines()
        .skip(2)
        .map(str::to_string)
        .collect()
}

fn assert_one_embedded_subset_font(pdf: &Path) {
    let fonts = font_lines(pdf);
    assert_eq!(fonts.len(), 1, "one font, embedded once: {fonts:?}");
    let cols: Vec<&str> = fonts[0].split_whitespace().collect();
    assert!(
        cols[0].contains('+'),
        "subset tag in the name: {}",
        fonts[0]
    );
    assert!(
        cols[0].contains("CJK") || cols[0].contains("Droid"),
        "a CJK font: {}",
        fonts[0]
    );
    // Columns: name type… encoding emb sub uni id gen — emb and sub are 5th/4th from the end.
    let n = cols.len();
    assert_eq!(
        (cols[n - 5], cols[n - 4]),
        ("yes", "yes"),
        "embedded and subset: {}",
        fonts[0]
    );
}

fn pages(pdf: &Path) -> usize {
    let info = tool("pdfinfo", &[pdf.to_str().unwrap()]);
    let line = info.lines().find(|l| l.starts_with("Pages:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn every_seed_form_prints_with_one_embedded_subset_cjk_font() {
    let c = campaign();
    for (form, extra) in [
        ("branch", vec![]),
        ("member", vec!["--branch", "jiguan1"]),
        ("window", vec![]),
    ] {
        let pdf = print(c.path(), form, &extra, &format!("{form}.pdf"));
        assert_one_embedded_subset_font(&pdf);
        let size = std::fs::metadata(&pdf).unwrap().len();
        println!("{form}: {} pages, {size} bytes", pages(&pdf));
        assert!(size < 200_000, "{form}: one copy is {size} bytes");
    }
    // Each print is recorded with the form snapshot and the layout it used.
    let c = c.path();
    assert_eq!(std::fs::read_dir(c.join("prints")).unwrap().count(), 3);
    assert_eq!(std::fs::read_dir(c.join("forms")).unwrap().count(), 3);
    assert_eq!(std::fs::read_dir(c.join("layouts")).unwrap().count(), 3);
}

/// A rendered page, gray, 0 = black.
struct Page {
    img: image::GrayImage,
}

impl Page {
    fn render(pdf: &Path, page: u32) -> Page {
        let dir = pdf.parent().unwrap();
        let stem = dir.join(format!("render-{page}"));
        let p = page.to_string();
        tool(
            "pdftoppm",
            &[
                "-r",
                "300",
                "-gray",
                "-png",
                "-singlefile",
                "-f",
                &p,
                "-l",
                &p,
                pdf.to_str().unwrap(),
                stem.to_str().unwrap(),
            ],
        );
        Page {
            img: image::open(stem.with_extension("png")).unwrap().to_luma8(),
        }
    }

    fn dark(&self, x: i64, y: i64) -> bool {
        x >= 0
            && y >= 0
            && (x as u32) < self.img.width()
            && (y as u32) < self.img.height()
            && self.img.get_pixel(x as u32, y as u32)[0] < 128
    }

    /// Dark pixels in the window [x0, x1) × [y0, y1) (pixels).
    fn dark_in(&self, x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<(i64, i64)> {
        let mut v = Vec::new();
        for y in y0.floor() as i64..y1.ceil() as i64 {
            for x in x0.floor() as i64..x1.ceil() as i64 {
                if self.dark(x, y) {
                    v.push((x, y));
                }
            }
        }
        v
    }
}

fn px(pt: f64) -> f64 {
    pt / 72.0 * DPI
}

fn mm(px: f64) -> f64 {
    px / DPI * 25.4
}

/// (x, y, w, h) in pixels of a `{x, y, w, h}` rect in points.
fn rect_px(v: &Value) -> (f64, f64, f64, f64) {
    let f = |k: &str| px(v[k].as_f64().unwrap());
    (f("x"), f("y"), f("w"), f("h"))
}

fn layout_json(c: &Path, form: &str, extra: &[&str]) -> Value {
    let mut args = vec!["layout", form, "--campaign", c.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    serde_json::from_str(&ok(&args)).unwrap()
}

fn check_geometry(c: &Path, form: &str, extra: &[&str]) {
    // `form` is an id or a file; the code carries the id.
    let id = Path::new(form).file_stem().unwrap().to_str().unwrap();
    let pdf = print(c, form, extra, &format!("{id}-geom.pdf"));
    let contract = layout_json(c, form, extra);
    let page_json = &contract["pages"][0];
    let page = Page::render(&pdf, 1);
    let margin = px(72.0 / 25.4 * 3.0); // 3 mm around a mark: the nearest other ink is further.

    for (i, m) in page_json["marks"].as_array().unwrap().iter().enumerate() {
        let (x, y, w, h) = rect_px(m);
        let dots = page.dark_in(x - margin, y - margin, x + w + margin, y + h + margin);
        assert!(!dots.is_empty(), "{form}: mark {i} missing");
        let n = dots.len() as f64;
        let cx = dots.iter().map(|d| d.0 as f64 + 0.5).sum::<f64>() / n;
        let cy = dots.iter().map(|d| d.1 as f64 + 0.5).sum::<f64>() / n;
        let (ex, ey) = (x + w / 2.0, y + h / 2.0);
        let off = mm(((cx - ex).powi(2) + (cy - ey).powi(2)).sqrt());
        assert!(
            off <= TOLERANCE_MM,
            "{form}: mark {i} is {off:.2} mm from the contract"
        );
    }

    let cells = page_json["cells"].as_array().unwrap();
    assert!(!cells.is_empty());
    let mut worst: f64 = 0.0;
    for cell in cells {
        let (x, y, w, h) = rect_px(&cell["box"]);
        // 1 mm around the box: inside the table cell, clear of its rules.
        let pad = px(72.0 / 25.4);
        let dots = page.dark_in(x - pad, y - pad, x + w + pad, y + h + pad);
        assert!(
            !dots.is_empty(),
            "{form}: tick box {} missing",
            cell["question"]
        );
        let (l, r) = (
            dots.iter().map(|d| d.0).min().unwrap() as f64,
            dots.iter().map(|d| d.0).max().unwrap() as f64 + 1.0,
        );
        let (t, b) = (
            dots.iter().map(|d| d.1).min().unwrap() as f64,
            dots.iter().map(|d| d.1).max().unwrap() as f64 + 1.0,
        );
        for (got, want, edge) in [
            (l, x, "left"),
            (r, x + w, "right"),
            (t, y, "top"),
            (b, y + h, "bottom"),
        ] {
            let off = mm((got - want).abs());
            worst = worst.max(off);
            assert!(
                off <= TOLERANCE_MM,
                "{form}: {} {} {edge} edge is {off:.2} mm off",
                cell["question"],
                cell["option"]
            );
        }
    }
    println!(
        "{form}: {} tick boxes, worst edge {worst:.3} mm",
        cells.len()
    );

    // The QR code decodes from a crop of the rendered page to this print's code.
    let (x, y, w, h) = rect_px(&page_json["code"]);
    let (x0, y0) = ((x - margin).max(0.0) as u32, (y - margin).max(0.0) as u32);
    let (cw, ch) = ((w + 2.0 * margin) as u32, (h + 2.0 * margin) as u32);
    let crop = image::imageops::crop_imm(&page.img, x0, y0, cw, ch).to_image();
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(
        crop.width() as usize,
        crop.height() as usize,
        |x, y| crop.get_pixel(x as u32, y as u32)[0],
    );
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "{form}: one QR code in the code box");
    let (_, text) = grids[0].decode().unwrap();
    let code = pingyi::code::PageCode::parse(&text).unwrap();
    assert_eq!(code.form, id);
    assert_eq!(code.layout_hash, contract["layout_hash"].as_str().unwrap());
    assert_eq!(code.page, 1);
    let records: Vec<pingyi::folder::PrintRecord> = std::fs::read_dir(c.join("prints"))
        .unwrap()
        .map(|e| serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    assert!(
        records.iter().any(|r| r.serials == [code.serial.clone()]),
        "the code's serial is the recorded one"
    );
}

#[test]
fn marks_tick_boxes_and_code_are_printed_where_the_layout_says() {
    let c = campaign();
    check_geometry(c.path(), "branch", &[]);
    check_geometry(c.path(), "member", &["--branch", "jiguan1"]);
    check_geometry(c.path(), "window", &[]);
}

#[test]
fn a_thousand_copies_of_the_window_form_stay_small_and_share_one_font() {
    let c = campaign();
    let t = std::time::Instant::now();
    let pdf = print(c.path(), "window", &["--copies", "1000"], "window-1000.pdf");
    let secs = t.elapsed().as_secs_f64();
    let size = std::fs::metadata(&pdf).unwrap().len();
    let n = pages(&pdf);
    println!(
        "1000 copies of 附3: {n} pages, {:.2} MB, {secs:.1} s",
        size as f64 / 1e6
    );
    assert_eq!(n % 1000, 0);
    assert!(
        size < 1_000_000 + 5_000 * n as u64,
        "{size} bytes for {n} pages"
    );
    assert_one_embedded_subset_font(&pdf);
    let folder = pingyi::folder::CampaignFolder::open(c.path()).unwrap();
    assert_eq!(
        folder.printed_serials().unwrap().len(),
        1000,
        "1000 distinct serials recorded"
    );
}

#[test]
fn a_fourth_form_prints_from_its_file_alone() {
    let c = campaign();
    let form = root().join("fixtures/forms/course.toml");
    let pdf = print(c.path(), form.to_str().unwrap(), &[], "course.pdf");
    assert_eq!(pages(&pdf), 1);
    assert_one_embedded_subset_font(&pdf);
    check_geometry(c.path(), form.to_str().unwrap(), &[]);
}

#[test]
fn a_malformed_form_is_an_error_with_file_line_and_field_not_a_panic() {
    let c = campaign();
    let src = std::fs::read_to_string(root().join("fixtures/forms/course.toml")).unwrap();
    let bad = src.replacen("scale = \"five\" },", "scale = \"ten\" },", 1);
    assert_ne!(bad, src);
    let path = c.path().join("bad.toml");
    std::fs::write(&path, bad).unwrap();
    let out = run(&[
        "print",
        path.to_str().unwrap(),
        "--campaign",
        c.path().to_str().unwrap(),
        "-o",
        c.path().join("x.pdf").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:26:"), "file:line in {err}");
    assert!(err.contains("scale"), "field name in {err}");
    assert!(!c.path().join("x.pdf").exists());
}

#[test]
fn a_candidates_form_without_a_branch_says_which_branches_exist() {
    let c = campaign();
    let out = run(&[
        "print",
        "member",
        "--campaign",
        c.path().to_str().unwrap(),
        "-o",
        c.path().join("m.pdf").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--branch") && err.contains("jiguan1"), "{err}");
}

#[test]
fn all_branches_prints_one_pdf_per_branch() {
    let c = campaign();
    let dir = c.path().join("out");
    ok(&[
        "print",
        "member",
        "--campaign",
        c.path().to_str().unwrap(),
        "--all-branches",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let folder = pingyi::folder::CampaignFolder::open(c.path()).unwrap();
    for b in &folder.campaign.branches {
        assert!(
            dir.join(format!("member-{}.pdf", b.id)).exists(),
            "{}",
            b.id
        );
    }
}

/// The Chinese line-breaking rules the issue names: no printed line starts with closing
/// punctuation or ends with opening punctuation.
const NO_LINE_START: &str = "。，、；：？！）」』”";
const NO_LINE_END: &str = "（「『“";

fn assert_line_breaks_follow_the_rules(what: &str, line: &str) {
    let text = line.trim();
    let (Some(first), Some(last)) = (text.chars().next(), text.chars().last()) else {
        return;
    };
    assert!(
        !NO_LINE_START.contains(first),
        "{what}: a line starts with {first}: {line:?}"
    );
    assert!(
        !NO_LINE_END.contains(last),
        "{what}: a line ends with {last}: {line:?}"
    );
}

#[test]
fn the_seed_forms_print_without_a_line_starting_or_ending_with_forbidden_punctuation() {
    let c = campaign();
    let campaign = pingyi::campaign::Campaign::load(&c.path().join("campaign.toml")).unwrap();
    let forms = pingyi::form::load_dir(&root().join("forms")).unwrap();
    assert_eq!(forms.len(), 3);
    for form in &forms {
        let extra: Vec<&str> = if form.id == "member" {
            vec!["--branch", "jiguan1"]
        } else {
            vec![]
        };
        // Every line the layout draws …
        let branch = campaign.branch("jiguan1").filter(|_| form.id == "member");
        let layout = pingyi::layout::layout(form, &campaign, branch).unwrap();
        let mut lines = 0;
        for page in &layout.pages {
            for ink in &page.ink {
                if let pingyi::layout::Ink::Text { text, .. } = ink {
                    assert_line_breaks_follow_the_rules(&form.id, text);
                    lines += 1;
                }
            }
        }
        assert!(lines > 10, "{}: only {lines} lines of text", form.id);
        // … and the text of the printed PDF, as a reader of the page sees the lines.
        let pdf = print(c.path(), &form.id, &extra, &format!("{}.pdf", form.id));
        let text = tool("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"]);
        assert!(text.contains("注："), "{}: {text}", form.id);
        for line in text.lines() {
            assert_line_breaks_follow_the_rules(&form.id, line);
        }
    }
}
