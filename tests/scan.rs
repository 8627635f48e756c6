//! End-to-end tests of `pingyi scan` / `export`: real printed layouts, simulated scans
//! (`pingyi simulate`), the real binary, a real SQLite batch.

use pingyi::store::Store;
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_pingyi");

fn run(args: &[&str], dir: &Path) -> Output {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pingyi {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A campaign folder with `sheets` simulated 附3 sheets (2 pages each) scanned at 150 dpi
/// into `sim/`, `per_file` pages per PDF. Returns (temp dir, campaign dir).
fn simulated(sheets: u32, per_file: usize, blank_backs: f64) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/campaign/campaign.toml"
        ),
        dir.join("campaign.toml"),
    )
    .unwrap();
    run(
        &[
            "simulate",
            "window",
            "--campaign",
            ".",
            "--sheets",
            &sheets.to_string(),
            "--out",
            "sim",
            "--dpi",
            "150",
            "--profile",
            "clean",
            "--pages-per-file",
            &per_file.to_string(),
            "--blank-backs",
            &blank_backs.to_string(),
        ],
        &dir,
    );
    // The simulator keeps the printed (vector) PDF beside the scans; it is not a scan.
    let _ = std::fs::remove_file(dir.join("sim/printed.pdf"));
    (tmp, dir)
}

fn scan(dir: &Path, batch: &str, extra: &[&str]) -> String {
    let mut args = vec![
        "scan",
        "sim",
        "--campaign",
        ".",
        "--batch",
        batch,
        "--no-ocr",
    ];
    args.extend_from_slice(extra);
    String::from_utf8(run(&args, dir).stdout).unwrap()
}

fn page_rows(batch: &Path) -> (usize, usize) {
    let db = rusqlite::Connection::open(batch.join("batch.sqlite")).unwrap();
    let total: usize = db
        .query_row("SELECT COUNT(*) FROM pages", [], |r| r.get(0))
        .unwrap();
    let distinct: usize = db
        .query_row(
            "SELECT COUNT(*) FROM (SELECT DISTINCT file_sha256, idx FROM pages)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    (total, distinct)
}

#[test]
fn export_json_matches_what_was_simulated_and_a_rerun_skips_files_by_hash() {
    let (_tmp, dir) = simulated(6, 4, 0.3);
    let summary = scan(&dir, "b", &[]);
    assert!(
        summary.contains("Next: pingyi review --batch b"),
        "{summary}"
    );
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.join("sim/truth.json")).unwrap()).unwrap();
    let out = run(&["export", "--batch", "b", "--format", "json"], &dir);
    let pages: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let truth_pages = truth["pages"].as_array().unwrap();
    assert_eq!(pages.len(), truth_pages.len());

    let by_place: HashMap<(String, u64), &Value> = pages
        .iter()
        .map(|p| {
            let file = Path::new(p["file"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            ((file, p["page_index"].as_u64().unwrap()), p)
        })
        .collect();
    for t in truth_pages {
        let p = by_place[&(
            t["file"].as_str().unwrap().to_string(),
            t["index"].as_u64().unwrap(),
        )];
        if t["blank_back"].as_bool().unwrap() {
            assert_eq!(p["status"], "blank", "{t}");
        } else {
            assert_eq!(p["status"], "read", "{t}: {}", p["reason"]);
            assert_eq!(p["serial"], t["serial"]);
            assert_eq!(p["page"], t["page"]);
            assert_eq!(p["rotation"], t["rotation"]);
        }
    }
    // Every confident answer is what the simulated person meant; cells carry their scores.
    let mut exported: HashMap<(String, String), (&str, Option<&str>)> = HashMap::new();
    for p in &pages {
        for q in p["questions"].as_array().unwrap() {
            assert!(!q["cells"].as_array().unwrap().is_empty());
            exported.insert(
                (
                    p["serial"].as_str().unwrap().into(),
                    q["question"].as_str().unwrap().into(),
                ),
                (q["state"].as_str().unwrap(), q["option"].as_str()),
            );
        }
    }
    let mut answers = 0;
    for sheet in truth["sheets"].as_array().unwrap() {
        for q in sheet["questions"].as_array().unwrap() {
            let key = (
                sheet["serial"].as_str().unwrap().to_string(),
                q["question"].as_str().unwrap().to_string(),
            );
            let (state, option) = exported[&key];
            match (q["intended"]["kind"].as_str().unwrap(), state) {
                ("answer", "answer") => {
                    answers += 1;
                    assert_eq!(option, q["intended"]["option"].as_str(), "{key:?}");
                }
                ("blank", "answer") | ("answer", "blank") => {
                    panic!("{key:?}: confident {state} against {}", q["intended"])
                }
                _ => {}
            }
        }
    }
    assert!(answers > 50, "only {answers} answers compared");
    // The export is the store's reading.
    let store = Store::open(&dir.join("b")).unwrap();
    assert_eq!(store.page_ids().unwrap().len(), pages.len());

    let again = scan(&dir, "b", &[]);
    assert!(again.contains("Scanned 0 pages"), "{again}");
    assert!(again.contains("already read, skipped"), "{again}");
    let before = page_rows(&dir.join("b"));
    let rerun = scan(&dir, "b", &["--rerun"]);
    assert!(!rerun.contains("Scanned 0 pages"), "{rerun}");
    assert_eq!(
        page_rows(&dir.join("b")),
        before,
        "a rerun replaces pages, never adds them twice"
    );
    let csv = String::from_utf8(run(&["export", "--batch", "b", "--format", "csv"], &dir).stdout)
        .unwrap();
    assert!(csv.starts_with("file,page_index,status"), "{csv}");
}

#[test]
fn a_scan_killed_mid_batch_and_rerun_records_every_page_exactly_once() {
    let (_tmp, dir) = simulated(150, 50, 0.0);
    let batch = dir.join("b");
    let mut child = Command::new(BIN)
        .args([
            "scan",
            "sim",
            "--campaign",
            ".",
            "--batch",
            "b",
            "--no-ocr",
            "--jobs",
            "1",
        ])
        .current_dir(&dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        let committed = batch.join("batch.sqlite").exists()
            && rusqlite::Connection::open(batch.join("batch.sqlite"))
                .and_then(|db| {
                    db.query_row("SELECT COUNT(*) FROM pages", [], |r| r.get::<_, usize>(0))
                })
                .unwrap_or(0)
                >= 20;
        if committed {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no pages committed"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL: no cleanup runs
    child.wait().unwrap();
    let (killed_at, distinct) = page_rows(&batch);
    assert_eq!(killed_at, distinct);
    assert!(
        killed_at < 300,
        "the scan finished before it was killed ({killed_at} pages)"
    );

    let summary = scan(&dir, "b", &[]);
    let (total, distinct) = page_rows(&batch);
    assert_eq!((total, distinct), (300, 300), "{summary}");
    let db = rusqlite::Connection::open(batch.join("batch.sqlite")).unwrap();
    let not_done: usize = db
        .query_row(
            "SELECT COUNT(*) FROM files WHERE status <> 'done'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(not_done, 0);
    let read: usize = db
        .query_row(
            "SELECT COUNT(*) FROM pages WHERE status = 'read'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(read, 300);
}

#[test]
fn duplicates_encrypted_and_truncated_files_are_recorded_and_the_batch_completes() {
    let (_tmp, dir) = simulated(4, 4, 0.0);
    let sim = dir.join("sim");
    let first = sim.join("scan_0001.pdf");
    let bytes = std::fs::read(&first).unwrap();
    // The same sheet scanned again, as a PNG: other bytes, same serial.
    let page =
        pingyi::pages::load_page(&pingyi::pages::InputFile::from_path(&first).unwrap(), 0).unwrap();
    page.image.save(sim.join("rescan.png")).unwrap();
    // The same scans in a password-protected PDF (standard security handler, RC4 40-bit).
    let mut doc = lopdf::Document::load(&first).unwrap();
    let mut handler = lopdf::Dictionary::new();
    handler.set("Filter", lopdf::Object::Name(b"Standard".to_vec()));
    handler.set("V", 1);
    handler.set("R", 2);
    handler.set("P", -4);
    handler.set("O", lopdf::Object::string_literal(vec![1u8; 32]));
    handler.set("U", lopdf::Object::string_literal(vec![2u8; 32]));
    let enc = doc.add_object(handler);
    doc.trailer.set("Encrypt", lopdf::Object::Reference(enc));
    let id = lopdf::Object::string_literal(vec![7u8; 16]);
    doc.trailer
        .set("ID", lopdf::Object::Array(vec![id.clone(), id]));
    doc.save(sim.join("locked.pdf")).unwrap();
    // Cut inside its first page image: nothing whole to recover, so the file is refused.
    // (A copy cut later gives its whole pages, which would be duplicates of scan_0001's.)
    let first_image = image_objects(&bytes)[0].0;
    std::fs::write(sim.join("cut.pdf"), &bytes[..first_image + 64]).unwrap();

    let summary = scan(&dir, "b", &[]);
    let store = Store::open(&dir.join("b")).unwrap();
    let failed = store.failed_files().unwrap();
    let locked = failed
        .iter()
        .find(|(p, _)| p.ends_with("locked.pdf"))
        .expect("encrypted file recorded");
    assert!(locked.1.to_lowercase().contains("encrypt"), "{locked:?}");
    // A truncated PDF is refused as a file or its unreadable pages are rejected with reasons.
    let cut_failed = failed
        .iter()
        .any(|(p, r)| p.ends_with("cut.pdf") && !r.is_empty());
    let db = rusqlite::Connection::open(dir.join("b/batch.sqlite")).unwrap();
    let cut_rejected: usize = db
        .query_row(
            "SELECT COUNT(*) FROM pages p JOIN files f ON f.sha256 = p.file_sha256
             WHERE f.path LIKE '%cut.pdf' AND p.status = 'rejected' AND p.reason <> ''",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(cut_failed || cut_rejected > 0, "{summary}");
    assert!(
        summary.contains("/cut.pdf: damaged or truncated file: its one page image is not whole"),
        "{summary}"
    );
    let read: usize = db
        .query_row(
            "SELECT COUNT(*) FROM pages WHERE status = 'read'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(read >= 9, "the other files were read: {summary}");

    let dups: Vec<_> = store
        .open_flags()
        .unwrap()
        .into_iter()
        .filter(|f| f.kind == pingyi::read::outcome::FlagKind::Duplicate)
        .collect();
    assert_eq!(dups.len(), 1, "{summary}");
    let serial = dups[0].page.serial.clone().unwrap();
    let sheets = store.sheets().unwrap();
    let with_serial: Vec<_> = sheets
        .iter()
        .filter(|s| s.serial.starts_with(&serial))
        .collect();
    assert_eq!(with_serial.len(), 1, "the second image is not counted");
    assert!(with_serial[0]
        .open_flags
        .iter()
        .any(|f| f.kind == pingyi::read::outcome::FlagKind::Duplicate));
    let pages_before = with_serial[0].pages.clone();

    // Decisions change the sheets as documented.
    drop(store);
    let mut store = Store::open(&dir.join("b")).unwrap();
    store
        .decide(
            dups[0].id,
            "clerk",
            "keep",
            "two people filled copies",
            dups[0].version,
        )
        .unwrap();
    let sheets = store.sheets().unwrap();
    let with_serial: Vec<_> = sheets
        .iter()
        .filter(|s| s.serial.starts_with(&serial))
        .collect();
    assert_eq!(
        with_serial.len(),
        2,
        "kept: the second image counts as its own sheet"
    );
    assert!(with_serial.iter().all(|s| s
        .open_flags
        .iter()
        .all(|f| f.kind != pingyi::read::outcome::FlagKind::Duplicate)));
    store
        .decide(
            dups[0].id,
            "clerk",
            "discard",
            "scanned twice",
            dups[0].version + 1,
        )
        .unwrap();
    let sheets = store.sheets().unwrap();
    let with_serial: Vec<_> = sheets
        .iter()
        .filter(|s| s.serial.starts_with(&serial))
        .collect();
    assert_eq!(with_serial.len(), 1);
    assert_eq!(with_serial[0].pages, pages_before);
    assert!(with_serial[0].open_flags.is_empty());
    let trail = store.audit(dups[0].id).unwrap();
    assert_eq!(
        trail
            .iter()
            .map(|d| d.new_value.as_str())
            .collect::<Vec<_>>(),
        ["keep", "discard"]
    );
}

/// Each page image's object in a PDF, in file order: where its data begins and where the
/// object ends (just past `endobj`).
fn image_objects(pdf: &[u8]) -> Vec<(usize, usize)> {
    let find = |from: usize, what: &[u8]| {
        pdf[from..]
            .windows(what.len())
            .position(|w| w == what)
            .map(|k| from + k)
    };
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(dict) = find(from, b"/Subtype /Image") {
        let data = find(dict, b"stream\n").unwrap() + 7;
        let end = find(dict, b"endstream\nendobj").unwrap() + b"endstream\nendobj".len();
        out.push((data, end));
        from = end;
    }
    out
}

#[test]
fn a_cut_scanned_pdf_gives_every_whole_page_and_lists_the_rest_to_scan_again() {
    use pingyi::pages::pack::{EncodedPage, PackFilter, PackPage, PdfPacker};
    // 6 sheets of 附3, two pages each: one 12-page scan, pages in JPEG and G4 by turns.
    let (_tmp, dir) = simulated(6, 12, 0.0);
    let sim = dir.join("sim/scan_0001.pdf");
    let file = pingyi::pages::InputFile::from_path(&sim).unwrap();
    let source = pingyi::pages::open(&file).unwrap();
    assert_eq!(source.page_count(), 12);
    let mut packer = PdfPacker::new(Vec::new(), PackFilter::Raw, 150.0).unwrap();
    for i in 0..12 {
        let page = source.load_page(i).unwrap();
        let filter = if i % 2 == 0 {
            PackFilter::Jpeg { quality: 85 }
        } else {
            PackFilter::CcittG4
        };
        let encoded = EncodedPage::new(PackPage::from(&page.image), filter, 150.0).unwrap();
        packer.add_encoded(&encoded).unwrap();
    }
    let pdf = packer.finish().unwrap();
    let images = image_objects(&pdf);
    assert_eq!(images.len(), 12);
    let truth: Value =
        serde_json::from_slice(&std::fs::read(dir.join("sim/truth.json")).unwrap()).unwrap();
    let serial_of = |i: u64| {
        truth["pages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["index"] == i)
            .unwrap()["serial"]
            .clone()
    };

    // Cut at a quarter, half, three quarters, inside a G4 page, and just after a whole page.
    let mid_g4 = (images[7].0 + images[7].1) / 2;
    for (name, cut) in [
        ("q1", pdf.len() / 4),
        ("half", pdf.len() / 2),
        ("q3", pdf.len() * 3 / 4),
        ("g4", mid_g4),
        ("edge", images[9].1),
    ] {
        let whole = images.iter().filter(|(_, end)| *end <= cut).count();
        let begun = images.iter().filter(|(data, _)| *data <= cut).count();
        let folder = dir.join(format!("cut-{name}"));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("box.pdf"), &pdf[..cut]).unwrap();
        let batch = format!("b-{name}");
        let out = run(
            &[
                "scan",
                folder.to_str().unwrap(),
                "--campaign",
                ".",
                "--batch",
                &batch,
                "--no-ocr",
            ],
            &dir,
        );
        let summary = String::from_utf8(out.stdout).unwrap();
        eprintln!(
            "cut {name} at {cut} of {}: {whole} whole pages\n{summary}",
            pdf.len()
        );
        let out = run(&["export", "--batch", &batch, "--format", "json"], &dir);
        let pages: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        // The whole pages, one place for any page after them, and the page cut inside its image.
        assert_eq!(pages.len(), begun + 1, "{name}: {summary}");
        for p in &pages {
            let i = p["page_index"].as_u64().unwrap();
            if (i as usize) < whole {
                assert_eq!(p["status"], "read", "{name} {i}: {}", p["reason"]);
                assert_eq!(p["serial"], serial_of(i), "{name} {i}");
            } else {
                // Never read from a half-written stream: rejected with the reason to rescan.
                assert_eq!(p["status"], "rejected", "{name} {i}");
                let reason = p["reason"].as_str().unwrap();
                assert!(
                    reason.contains("scan this page again")
                        || reason.contains(&format!("any page that came after page {begun}")),
                    "{name} {i}: {reason}"
                );
            }
        }
        assert!(summary.contains("damaged files: 1"), "{summary}");
        assert!(
            summary.contains(&format!("box.pdf: cut short: {whole} pages recovered; ")),
            "{summary}"
        );
        assert!(!summary.contains(" N:"), "no placeholder: {summary}");
    }
}
