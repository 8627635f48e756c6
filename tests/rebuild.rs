//! `pingyi rebuild` end to end, with the real binary on a small demo-like batch: 附1 PNGs, a
//! rough 附2 stack scanned without OCR, 附3 with an integrity remark scanned with OCR in a
//! second run, a rescan of a sheet (duplicate) and a foreign page (rejected). A few flags are
//! decided in the real review server (one decided, undone and decided again), every other one
//! through `review --apply`; then the committee's tally JSON must come out identical after
//! `batch.sqlite` is deleted, and again after it is corrupted in the middle, each time followed
//! by `pingyi rebuild`. Also: a journal line cut in half is skipped with a warning, the
//! damaged-database message is said once and names the remedy, a vanished file is reported
//! with its pages, and a batch without a journal says its decisions cannot be recovered.

use image::{GrayImage, Luma};
use pingyi::simulate::{self, OutputFormat, Profile, SimulateOptions};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_pingyi");

fn pingyi(args: &[&str], dir: &Path) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(args: &[&str], dir: &Path) -> Output {
    let out = pingyi(args, dir);
    assert!(
        out.status.success(),
        "pingyi {args:?} failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// The demo campaign with simulated returns under `scans/`, scanned into `batch/` in two runs
/// (附1 + 附2 without OCR, then 附3 + the odd pages with OCR).
fn demo_like() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/campaign/campaign.toml"
        ),
        dir.join("campaign.toml"),
    )
    .unwrap();
    // (form, branch, sheets, profile, format, seed): rough enough to raise every common flag.
    let stacks = [
        (
            "branch",
            Some("jiguan1"),
            2,
            Profile::Office,
            OutputFormat::Png,
            11,
        ),
        (
            "member",
            Some("jiguan1"),
            4,
            Profile::Hard,
            OutputFormat::PdfJpeg,
            22,
        ),
        (
            "window",
            None,
            3,
            Profile::Office,
            OutputFormat::PdfJpeg,
            31,
        ),
    ];
    for (form, branch, sheets, profile, format, seed) in stacks {
        let mut o = SimulateOptions::new(form, dir, sheets, dir.join("scans").join(form));
        o.branch = branch.map(str::to_string);
        o.profile = profile;
        o.format = format;
        o.seed = seed;
        // 150 dpi: small pages, and still read (the reader's accuracy runs test it).
        o.dpi = 150;
        o.force.flagged_writing = u32::from(form == "window");
        simulate::run(&o).unwrap();
    }
    let misc = dir.join("scans/misc");
    std::fs::create_dir_all(&misc).unwrap();
    // The first 附1 sheet scanned again another day: other bytes, same serial → duplicate.
    let first = dir.join("scans/branch/page_00001.png");
    image::open(&first)
        .unwrap()
        .to_luma8()
        .save(misc.join("rescan.jpg"))
        .unwrap();
    // Someone else's page: no code → rejected.
    let mut foreign = GrayImage::from_pixel(1240, 1754, Luma([255]));
    for y in (200..1400).step_by(40) {
        for yy in y..y + 14 {
            for x in 150..900 {
                foreign.put_pixel(x, yy, Luma([40]));
            }
        }
    }
    foreign.save(misc.join("foreign.png")).unwrap();
    for truth in ["branch", "member", "window"] {
        // Not a scan: keep the folders to scans only.
        let _ = std::fs::remove_file(dir.join("scans").join(truth).join("truth.json"));
    }
    let c = "campaign.toml";
    ok(
        &[
            "scan",
            "scans/branch",
            "scans/member",
            "--campaign",
            c,
            "--batch",
            "batch",
            "--no-ocr",
        ],
        dir,
    );
    ok(
        &[
            "scan",
            "scans/window",
            "scans/misc",
            "--campaign",
            c,
            "--batch",
            "batch",
        ],
        dir,
    );
    tmp
}

/// The review server, killed when dropped.
struct Server {
    child: Child,
    _stdout: BufReader<std::process::ChildStdout>,
    addr: String,
    token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Server {
    let mut child = Command::new(BIN)
        .args(["review", "--batch", "batch"])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("review: open http://").unwrap();
    let (addr, rest) = url.split_once('/').unwrap();
    Server {
        addr: addr.to_string(),
        token: rest.strip_prefix("?t=").unwrap().to_string(),
        child,
        _stdout: stdout,
    }
}

/// One request over a fresh connection; the JSON body of the reply.
fn call(srv: &Server, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nX-Pingyi-Token: {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        srv.addr,
        srv.token,
        body.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let reply = text(&raw);
    let (head, rest) = reply.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let json = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            if n == 0 {
                break;
            }
            out.push_str(&after[..n]);
            rest = &after[n + 2..];
        }
        out
    } else {
        rest.to_string()
    };
    (status, serde_json::from_str(&json).unwrap_or(Value::Null))
}

/// The value a reviewer gives a flag of `kind` with these `choices`.
fn value_for(kind: &str, choices: &[Value]) -> String {
    let choice = |i: usize| choices[i].as_str().unwrap().to_string();
    match kind {
        // Keep the rescan as a sheet of its own: its serial then carries its page id, which
        // the rebuild must give again.
        "duplicate" => "keep".into(),
        "integrity_feedback" => choice(choices.len() - 1),
        _ => choice(0),
    }
}

/// Equal texts, or the first line that differs (a tally is thousands of lines).
fn assert_same(after: &str, before: &str, what: &str) {
    if let Some((n, (a, b))) = after
        .lines()
        .zip(before.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!("{what}: line {} is {a:?}, was {b:?}", n + 1);
    }
    assert_eq!(after.len(), before.len(), "{what}");
}

fn tally_json(dir: &Path) -> String {
    text(&ok(&["tally", "--batch", "batch", "--format", "json"], dir).stdout)
}

fn journal(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("batch/decisions.jsonl")).unwrap()
}

/// A command on a damaged or missing batch: fails, prints nothing on stdout, and says what
/// happened once, in one line, naming the remedy.
fn refused_once(args: &[&str], dir: &Path, what: &str) {
    let out = pingyi(args, dir);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "pingyi {args:?} succeeded: {err}");
    assert!(
        out.stdout.is_empty(),
        "pingyi {args:?} wrote to stdout: {}",
        text(&out.stdout)
    );
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert_eq!(err.matches(what).count(), 1, "{what} once: {err}");
    assert_eq!(
        err.matches("run `pingyi rebuild --batch batch`").count(),
        1,
        "{err}"
    );
    assert!(err.matches("malformed").count() <= 1, "{err}");
}

fn rebuild(dir: &Path) -> (Option<i32>, String) {
    let out = pingyi(&["rebuild", "--batch", "batch"], dir);
    (out.status.code(), text(&out.stdout) + &text(&out.stderr))
}

#[test]
fn a_deleted_or_corrupted_batch_is_rebuilt_with_every_review_decision() {
    let tmp = demo_like();
    let dir = tmp.path();

    // A few decisions in the browser's server: one decided, undone and decided again.
    let srv = serve(dir);
    let (status, queue) = call(&srv, "GET", "/api/queue", None);
    assert_eq!(status, 200, "{queue}");
    let items = queue["items"].as_array().unwrap().clone();
    let kinds: Vec<&str> = items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    for k in ["marginal", "duplicate", "rejected", "integrity_feedback"] {
        assert!(kinds.contains(&k), "the batch raises {k}: {kinds:?}");
    }
    let mut in_server = 0;
    // The integrity remark is left for --apply, which confirms a problem: the tally then
    // names the reviewer and the time, which the rebuild must restore as they were.
    let first_three = items
        .iter()
        .filter(|i| i["kind"] != "integrity_feedback")
        .take(3);
    for (n, item) in first_three.enumerate() {
        let id = item["id"].as_i64().unwrap();
        let value = item["choices"][0]["value"].as_str().unwrap();
        let decide = |version: u32| json!({"reviewer": "王芳", "value": value, "note": "看原件", "version": version});
        let path = format!("/api/flags/{id}/decision");
        let (status, body) = call(&srv, "POST", &path, Some(&decide(0)));
        assert_eq!(status, 200, "{body}");
        in_server += 1;
        if n == 0 {
            let undo = json!({"reviewer": "王芳", "version": 1});
            let (status, body) = call(&srv, "POST", &format!("/api/flags/{id}/undo"), Some(&undo));
            assert_eq!(status, 200, "{body}");
            let (status, body) = call(&srv, "POST", &path, Some(&decide(2)));
            assert_eq!(status, 200, "{body}");
            in_server += 2;
        }
    }
    drop(srv);

    // Every other flag through --apply.
    let open: Vec<Value> = serde_json::from_slice(
        &ok(
            &["review", "--batch", "batch", "--list", "--format", "json"],
            dir,
        )
        .stdout,
    )
    .unwrap();
    let mut csv = String::from("flag_id,value,note,reviewer\n");
    for f in &open {
        let v = value_for(
            f["kind"].as_str().unwrap(),
            f["choices"].as_array().unwrap(),
        );
        csv.push_str(&format!("{},{v},按原件,李明\n", f["id"]));
    }
    std::fs::write(dir.join("decisions.csv"), csv).unwrap();
    ok(
        &["review", "--batch", "batch", "--apply", "decisions.csv"],
        dir,
    );
    let decisions = in_server + open.len();
    let before = tally_json(dir);
    assert!(
        before.contains("\"verified_by\": \"李明\""),
        "the confirmed integrity problem names its reviewer"
    );
    let journaled = journal(dir);
    assert_eq!(
        journaled.iter().filter(|&&b| b == b'\n').count(),
        decisions,
        "one journal line per decision (undo included)"
    );

    // 1. The database is deleted.
    std::fs::remove_file(dir.join("batch/batch.sqlite")).unwrap();
    refused_once(
        &["tally", "--batch", "batch", "--format", "json"],
        dir,
        "is missing",
    );
    let (code, said) = rebuild(dir);
    assert_eq!(code, Some(0), "{said}");
    assert!(
        said.contains(&format!("Replayed {decisions} review decisions")),
        "{said}"
    );
    assert_same(&tally_json(dir), &before, "the tally after the rebuild");
    assert_eq!(
        journal(dir),
        journaled,
        "a rebuild does not grow the journal"
    );

    // 2. A sector of garbage in the middle of the database (at a page start: 4 KiB pages),
    //    and the journal's last line cut in half by a crash while a decision was written.
    let db = dir.join("batch/batch.sqlite");
    let mut bytes = std::fs::read(&db).unwrap();
    let mid = bytes.len() / 2 / 4096 * 4096;
    for (i, b) in bytes[mid..mid + 512].iter_mut().enumerate() {
        *b = (i * 37 % 251) as u8;
    }
    std::fs::write(&db, &bytes).unwrap();
    for args in [
        &["tally", "--batch", "batch", "--format", "json"][..],
        &["export", "--batch", "batch", "--format", "json"],
        &["review", "--batch", "batch", "--list"],
        &[
            "scan",
            "scans/misc",
            "--campaign",
            "campaign.toml",
            "--batch",
            "batch",
        ],
    ] {
        refused_once(args, dir, "is damaged");
    }
    let last_line = journaled[..journaled.len() - 1]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let half = &journaled[last_line..last_line + (journaled.len() - last_line) / 2];
    std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("batch/decisions.jsonl"))
        .unwrap()
        .write_all(half)
        .unwrap();
    let (code, said) = rebuild(dir);
    assert_eq!(code, Some(0), "{said}");
    assert!(said.contains("batch.sqlite was damaged"), "{said}");
    assert!(
        said.contains(&format!(
            "warning: decisions.jsonl line {}: the last line is cut off (a crash while it was written); skipped",
            decisions + 1
        )),
        "{said}"
    );
    assert!(
        said.contains(&format!("Replayed {decisions} review decisions")),
        "{said}"
    );
    let aside: Vec<String> = std::fs::read_dir(dir.join("batch"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("batch.damaged-") && n.ends_with(".sqlite"))
        .collect();
    assert_eq!(aside.len(), 1, "the damaged file is kept: {aside:?}");
    assert_eq!(
        std::fs::read(dir.join("batch").join(&aside[0])).unwrap(),
        bytes
    );
    assert_same(&tally_json(dir), &before, "the tally after the rebuild");

    // 3. An input file has gone: reported with its page and the decision it carried.
    std::fs::rename(dir.join("scans/misc/rescan.jpg"), dir.join("rescan.jpg")).unwrap();
    std::fs::remove_file(dir.join("batch/batch.sqlite")).unwrap();
    let (code, said) = rebuild(dir);
    assert_eq!(code, Some(2), "{said}");
    let gone = dir.join("scans/misc/rescan.jpg");
    assert!(
        said.contains(&format!(
            "NOT RECOVERED: {} is gone: its page #1 is not in the rebuilt batch; decisions on #1 were not replayed",
            gone.display()
        )),
        "{said}"
    );
    assert!(
        said.contains("NOT REPLAYED: duplicate")
            && said.contains("its page is not in the rebuilt batch"),
        "{said}"
    );

    // 4. A batch from before the journal: rebuilt, its decisions cannot be.
    std::fs::rename(dir.join("rescan.jpg"), &gone).unwrap();
    std::fs::remove_file(dir.join("batch/decisions.jsonl")).unwrap();
    std::fs::remove_file(dir.join("batch/batch.sqlite")).unwrap();
    let (code, said) = rebuild(dir);
    assert_eq!(code, Some(2), "{said}");
    assert!(
        said.contains("its review decisions cannot be recovered; every flag is open again"),
        "{said}"
    );
    let out = pingyi(&["tally", "--batch", "batch", "--format", "json"], dir);
    assert_eq!(out.status.code(), Some(2), "flags are open again");
}
