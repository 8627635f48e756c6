//! The review page driven in real headless Chromium (chromedriver + fantoccini): a clerk
//! clears an overvote and a faint tick by keyboard, undoes and redoes, reports an integrity
//! problem with a note; the store holds every decision with its audit rows; an OCR'd name
//! written as `<script>` shows as text. Screenshots go to /work/shots/review_*.png.

mod review_fixture;

use fantoccini::{ClientBuilder, Locator};
use pingyi::read::outcome::FlagKind;
use pingyi::store::Store;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const SHOTS: &str = "/work/shots";

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_review(batch: &Path) -> (Killed, BufReader<std::process::ChildStdout>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pingyi"))
        .args(["review", "--batch"])
        .arg(batch)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("review: open ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    (Killed(child), out, url)
}

fn start_chromedriver() -> (Killed, String) {
    for (path, pkg) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(path).exists(),
            "{path} is missing: the browser test needs Debian's `{pkg}` (apt-get install chromium chromium-driver)"
        );
    }
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (Killed(child), format!("http://127.0.0.1:{port}"))
}

async fn wait_js(c: &fantoccini::Client, cond: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let v = c
            .execute(&format!("return !!({cond});"), vec![])
            .await
            .unwrap();
        if v == serde_json::Value::Bool(true) {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {cond}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn js(c: &fantoccini::Client, expr: &str) -> serde_json::Value {
    c.execute(&format!("return ({expr});"), vec![])
        .await
        .unwrap()
}

async fn key(c: &fantoccini::Client, k: &str) {
    c.active_element()
        .await
        .unwrap()
        .send_keys(k)
        .await
        .unwrap();
}

async fn shot(c: &fantoccini::Client, name: &str) {
    std::fs::create_dir_all(SHOTS).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(Path::new(SHOTS).join(format!("review_{name}.png")), png).unwrap();
}

/// Move with `j` (from the top, `k`) until the current item is of `kind`.
async fn go_to(c: &fantoccini::Client, kind: &str) -> i64 {
    for step in 0..120 {
        if step == 60 {
            while js(c, "state.pos").await != 0 {
                key(c, "k").await;
            }
        }
        if js(c, "current() && current().kind").await == kind {
            // Let the crop arrive before anyone looks.
            wait_js(c, "!$('crop-wrap').hidden || $('crop-error').textContent").await;
            return js(c, "current().id").await.as_i64().unwrap();
        }
        key(c, "j").await;
    }
    panic!("no {kind} item in the queue");
}

async fn after_save(c: &fantoccini::Client) {
    wait_js(c, "$('message').className === 'ok' && !state.busy").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clerk_clears_flags_by_keyboard_and_names_stay_text() {
    let fx = review_fixture::build(3);
    let (_server, _out, url) = start_review(&fx.batch);
    let (_driver, driver_url) = start_chromedriver();
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1366,900", format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    let c = ClientBuilder::native()
        .capabilities(caps)
        .connect(&driver_url)
        .await
        .expect("chromedriver session");

    c.goto(&url).await.unwrap();
    // The token went into a cookie and out of the address bar.
    assert!(!c.current_url().await.unwrap().as_str().contains("t="));
    // Asked once for the reviewer's name.
    wait_js(&c, "$('who').open").await;
    shot(&c, "0_reviewer").await;
    c.find(Locator::Id("who-input"))
        .await
        .unwrap()
        .send_keys("王芳\u{E007}")
        .await
        .unwrap();
    wait_js(&c, "!$('who').open && state.items.length > 0").await;
    assert_eq!(
        js(&c, "localStorage.getItem('pingyi.reviewer')").await,
        "王芳"
    );

    // An overvote: the clerk sees two ticks and picks the second grade with "2".
    let over = go_to(&c, "overvote").await;
    shot(&c, "1_overvote").await;
    let second = js(&c, "current().choices[1].value")
        .await
        .as_str()
        .unwrap()
        .to_string();
    key(&c, "2").await;
    after_save(&c).await;
    assert_ne!(
        js(&c, "current().id").await.as_i64(),
        Some(over),
        "moves on after a decision"
    );

    // A faint tick: "1" credits the first grade; "u" undoes it (from the next item); "1" again.
    let faint = go_to(&c, "marginal").await;
    shot(&c, "2_marginal").await;
    let first = js(&c, "current().choices[0].value")
        .await
        .as_str()
        .unwrap()
        .to_string();
    key(&c, "1").await;
    after_save(&c).await;
    key(&c, "u").await;
    wait_js(
        &c,
        &format!("current().id === {faint} && current().open && !state.busy"),
    )
    .await;
    key(&c, "1").await;
    after_save(&c).await;

    // The OCR'd name is markup: it is shown as text and runs nothing.
    go_to(&c, "name_check").await;
    shot(&c, "3_name_check").await;
    let shown = c
        .find(Locator::Id("text"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains(review_fixture::EVIL_NAME), "{shown}");
    let html = c
        .find(Locator::Id("text"))
        .await
        .unwrap()
        .html(true)
        .await
        .unwrap();
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(c.get_alert_text().await.is_err(), "no alert ran");
    assert_eq!(
        js(&c, "document.querySelectorAll('#item script').length").await,
        0
    );

    // Integrity feedback: "1" = a problem about the first post, with a note, Enter submits.
    let integ = go_to(&c, "integrity_feedback").await;
    shot(&c, "4_integrity").await;
    let problem = js(&c, "current().choices[1].value")
        .await
        .as_str()
        .unwrap()
        .to_string();
    key(&c, "1").await;
    wait_js(
        &c,
        "!$('note-row').hidden && document.activeElement === $('note')",
    )
    .await;
    key(&c, "收受好处费,待核实\u{E007}").await;
    after_save(&c).await;

    go_to(&c, "duplicate").await;
    shot(&c, "5_duplicate").await;
    go_to(&c, "rejected").await;
    shot(&c, "6_rejected").await;

    // A second tab (another reviewer) acting on a stale version gets the clear message.
    let stale = js(
        &c,
        &format!("state.items.find((i) => i.id === {over}).version"),
    )
    .await;
    assert_eq!(stale, 1);
    let status = c
        .execute_async(
            &format!(
                "const done = arguments[0]; fetch('/api/flags/{over}/decision', {{method: 'POST', credentials: 'same-origin', \
                 headers: {{'Content-Type': 'application/json'}}, body: JSON.stringify({{reviewer: '乙', value: 'blank', version: 0}})}})\
                 .then(async (r) => done([r.status, (await r.json()).error]));"
            ),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(status[0], 409, "{status}");
    assert!(status[1].as_str().unwrap().contains("改过"), "{status}");
    c.close().await.unwrap();

    // The store holds each decision, the audit trail every row, the machine values untouched.
    let store = Store::open(&fx.batch).unwrap();
    let f = store.flag(over).unwrap();
    assert_eq!(f.kind, FlagKind::Overvote);
    let d = f.decision.unwrap();
    assert_eq!(
        (
            d.new_value.as_str(),
            d.reviewer.as_str(),
            d.machine_value.as_str()
        ),
        (second.as_str(), "王芳", "")
    );
    let trail = store.audit(faint).unwrap();
    let values: Vec<&str> = trail.iter().map(|d| d.new_value.as_str()).collect();
    assert_eq!(
        values,
        [first.as_str(), "", first.as_str()],
        "decide, undo, decide"
    );
    assert!(trail.iter().all(|d| d.reviewer == "王芳"));
    // The journal beside the database holds the same trail, by what survives a rescan.
    let faint_flag = store.flag(faint).unwrap();
    let journal = pingyi::store::journal::read(&fx.batch.join("decisions.jsonl")).unwrap();
    let journaled: Vec<(&str, &str)> = journal
        .entries
        .iter()
        .map(|(_, e)| e)
        .filter(|e| {
            e.file_sha256 == faint_flag.page.sha256
                && e.page_index == faint_flag.page.index
                && e.kind == "marginal"
                && e.target == faint_flag.target
        })
        .map(|e| (e.new_value.as_str(), e.at.as_str()))
        .collect();
    let in_db: Vec<(&str, &str)> = trail
        .iter()
        .map(|d| (d.new_value.as_str(), d.at.as_str()))
        .collect();
    assert_eq!(journaled, in_db);
    let d = store.flag(integ).unwrap().decision.unwrap();
    assert_eq!(
        (d.new_value.as_str(), d.note.as_str()),
        (problem.as_str(), "收受好处费,待核实")
    );
    assert!(store
        .open_flags()
        .unwrap()
        .iter()
        .all(|f| ![over, faint, integ].contains(&f.id)));
}
