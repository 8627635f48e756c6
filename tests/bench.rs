//! `pingyi bench --quick` end to end: the report has every row, rates are positive and the
//! files are written. Speed itself is shown by `make bench`, never asserted by a test.

use std::process::Command;

#[test]
fn a_quick_bench_writes_a_report_with_every_row_and_positive_rates() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("BENCHMARKS.md");
    let out = Command::new(env!("CARGO_BIN_EXE_pingyi"))
        .args(["bench", "--quick", "--out"])
        .arg(dir.path().join("bench"))
        .arg("--write")
        .arg(&md)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&md).unwrap();
    for row in pingyi::bench::ROWS {
        assert!(text.contains(row), "no row {row:?} in\n{text}");
    }
    for fact in [
        "Cores (nproc)",
        "CPU",
        "RAM",
        "rustc",
        "Date",
        "## What it means",
    ] {
        assert!(text.contains(fact), "no {fact:?} in\n{text}");
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(md.with_extension("json")).unwrap()).unwrap();
    let positive = |v: &serde_json::Value, what: &str| {
        let x = v.as_f64().unwrap_or(0.0);
        assert!(x > 0.0, "{what} = {v} in {json:#}");
    };
    for pass in ["decode", "full"] {
        positive(&json[pass]["pages"], pass);
        positive(&json[pass]["seconds"], pass);
    }
    positive(&json["full"]["peak_rss_mib"], "full peak RSS");
    positive(&json["ocr"]["name_pages"], "OCR'd 附2 pages");
    positive(&json["ocr"]["name_cells"], "OCR'd name cells");
    positive(&json["ocr"]["name_ms"], "OCR time");
    let sizes = json["sizes"].as_array().unwrap();
    assert_eq!(sizes.len(), 2, "{json:#}");
    for s in sizes {
        positive(&s[1]["pages"], "batch pages");
        positive(&s[1]["peak_rss_mib"], "batch peak RSS");
    }
    // Every page of the smaller batch is in the larger one: batches nest.
    assert!(sizes[0][1]["pages"].as_u64() < sizes[1][1]["pages"].as_u64());
    positive(&json["print"]["mib"], "print size");
    assert_eq!(json["print"]["copies"], 20);
}
