//! `pingyi review` end to end: the real binary on a real batch, spoken to over plain HTTP.

mod review_fixture;

use pingyi::read::outcome::FlagKind;
use pingyi::store::Store;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

struct Server {
    child: Child,
    /// Kept open: the server may print more.
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

fn start(batch: &std::path::Path) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pingyi"))
        .args(["review", "--batch"])
        .arg(batch)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("review: open http://")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"));
    let (addr, rest) = url.split_once('/').unwrap();
    let token = rest.strip_prefix("?t=").unwrap().to_string();
    assert!(
        addr.starts_with("127.0.0.1:"),
        "binds loopback by default: {addr}"
    );
    assert!(token.len() >= 32, "token has at least 128 bits: {token}");
    Server {
        child,
        _stdout: stdout,
        addr: addr.to_string(),
        token,
    }
}

struct Reply {
    status: u16,
    head: String,
    body: String,
}

/// One HTTP/1.1 request over a fresh socket; `path` is sent byte for byte (no normalising).
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/json\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
    Reply {
        status,
        head: head.to_string(),
        body: body.to_string(),
    }
}

fn get(srv: &Server, path: &str) -> Reply {
    http(
        &srv.addr,
        "GET",
        path,
        &[("X-Pingyi-Token", &srv.token)],
        "",
    )
}

fn post(srv: &Server, path: &str, body: &serde_json::Value) -> Reply {
    http(
        &srv.addr,
        "POST",
        path,
        &[("X-Pingyi-Token", &srv.token)],
        &body.to_string(),
    )
}

fn queue(srv: &Server) -> Vec<serde_json::Value> {
    let r = get(srv, "/api/queue");
    assert_eq!(r.status, 200, "{}", r.body);
    let v: serde_json::Value = serde_json::from_str(dechunk(&r.body).as_str()).unwrap();
    v["items"].as_array().unwrap().clone()
}

/// Undo chunked transfer encoding (axum streams JSON bodies chunked).
fn dechunk(body: &str) -> String {
    if body.trim_start().starts_with('{') || body.trim_start().starts_with('[') {
        return body.to_string();
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&after[..n]);
        rest = &after[n + 2..];
    }
    out
}

fn json(r: &Reply) -> serde_json::Value {
    serde_json::from_str(&dechunk(&r.body)).unwrap_or_else(|e| panic!("{e}: {}", r.body))
}

#[test]
fn requests_without_the_token_get_401_and_the_printed_url_sets_a_cookie() {
    let fx = review_fixture::build(2);
    let srv = start(&fx.batch);
    for path in ["/", "/app.js", "/api/queue", "/crop/1", "/page/1", "/nope"] {
        assert_eq!(http(&srv.addr, "GET", path, &[], "").status, 401, "{path}");
        assert_eq!(
            http(
                &srv.addr,
                "GET",
                path,
                &[("X-Pingyi-Token", "0123456789abcdef")],
                ""
            )
            .status,
            401,
            "{path}"
        );
    }
    let wrong = format!("/?t={}", &srv.token[..srv.token.len() - 1]);
    assert_eq!(http(&srv.addr, "GET", &wrong, &[], "").status, 401);
    assert_eq!(
        http(&srv.addr, "POST", "/api/flags/1/decision", &[], "{}").status,
        401
    );

    let first = http(&srv.addr, "GET", &format!("/?t={}", srv.token), &[], "");
    assert_eq!(first.status, 303, "{}", first.head);
    let cookie_line = first
        .head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .unwrap();
    assert!(
        cookie_line.contains("HttpOnly") && cookie_line.contains("SameSite=Strict"),
        "{cookie_line}"
    );
    let cookie = cookie_line
        .split_once(':')
        .unwrap()
        .1
        .trim()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = http(&srv.addr, "GET", "/", &[("Cookie", &cookie)], "");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("评议复核"));
}

#[test]
fn paths_outside_the_batch_cannot_be_read() {
    let fx = review_fixture::build(1);
    let srv = start(&fx.batch);
    for path in [
        "/crops/../../etc/passwd",
        "/crop/../../etc/passwd",
        "/crop/..%2f..%2f..%2fetc%2fpasswd",
        "/crop/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/crop/%252e%252e%252fetc%252fpasswd",
        "/page/..%5c..%5cetc%5cpasswd",
        "/page/1%2f..%2f..%2fbatch.sqlite",
        "/..%2f..%2f..%2fetc/passwd",
        "/app.js/../../../../etc/passwd",
        "/batch.sqlite",
        "/scans/member000.png",
        "/api/flags/..%2f1/audit",
    ] {
        let r = get(&srv, path);
        assert!(
            r.status == 404 || r.status == 400,
            "{path}: {} {}",
            r.status,
            r.body
        );
        assert!(
            !r.body.contains("root:") && !r.body.contains("SQLite format"),
            "{path}"
        );
    }
    // A real crop is served by flag id.
    let items = queue(&srv);
    let id = items[0]["id"].as_i64().unwrap();
    let r = get(&srv, &format!("/crop/{id}"));
    assert_eq!(r.status, 200);
    assert!(
        r.head
            .to_ascii_lowercase()
            .contains("content-type: image/png"),
        "{}",
        r.head
    );
    assert!(
        r.head.to_ascii_lowercase().contains("x-crop-rect:"),
        "{}",
        r.head
    );
}

#[test]
fn an_acknowledged_decision_survives_killing_the_server() {
    let fx = review_fixture::build(2);
    let srv = start(&fx.batch);
    let items = queue(&srv);
    let marginal = items.iter().find(|i| i["kind"] == "marginal").unwrap();
    let id = marginal["id"].as_i64().unwrap();
    let option = marginal["choices"][0]["value"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post(
        &srv,
        &format!("/api/flags/{id}/decision"),
        &serde_json::json!({"reviewer": "李文", "value": option, "note": "", "version": marginal["version"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(json(&r)["version"], 1);
    // kill -9 right after the acknowledgement.
    drop(srv);

    let store = Store::open(&fx.batch).unwrap();
    let f = store.flag(id).unwrap();
    assert_eq!(f.kind, FlagKind::Marginal);
    let d = f
        .decision
        .expect("the acknowledged decision is in the store");
    assert_eq!(
        (d.reviewer.as_str(), d.new_value.as_str()),
        ("李文", option.as_str())
    );
    assert_eq!(store.audit(id).unwrap().len(), 1);
    drop(store);

    // A restarted server no longer queues it, and undo through the API is a new audit row.
    let srv = start(&fx.batch);
    assert!(queue(&srv).iter().all(|i| i["id"].as_i64() != Some(id)));
    let r = post(
        &srv,
        &format!("/api/flags/{id}/undo"),
        &serde_json::json!({"reviewer": "李文", "version": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(queue(&srv).iter().any(|i| i["id"].as_i64() == Some(id)));
    let trail = json(&get(&srv, &format!("/api/flags/{id}/audit")));
    assert_eq!(trail.as_array().unwrap().len(), 2);
}

#[test]
fn two_clients_deciding_from_the_same_version_get_one_409() {
    let fx = review_fixture::build(1);
    let srv = start(&fx.batch);
    let items = queue(&srv);
    let over = items.iter().find(|i| i["kind"] == "overvote").unwrap();
    let id = over["id"].as_i64().unwrap();
    let url = format!("/api/flags/{id}/decision");
    let a = post(
        &srv,
        &url,
        &serde_json::json!({"reviewer": "甲", "value": "blank", "version": 0}),
    );
    let b = post(
        &srv,
        &url,
        &serde_json::json!({"reviewer": "乙", "value": over["choices"][0]["value"], "version": 0}),
    );
    assert_eq!((a.status, b.status), (200, 409), "{} / {}", a.body, b.body);
    let conflict = json(&b);
    assert!(
        conflict["error"].as_str().unwrap().contains("改过"),
        "{conflict}"
    );
    assert_eq!(
        conflict["item"]["version"], 1,
        "the 409 carries the flag as it now is"
    );
    assert_eq!(conflict["item"]["decision"]["reviewer"], "甲");
    // A value the flag does not take is a 400, not a silent write.
    let bad = post(
        &srv,
        &url,
        &serde_json::json!({"reviewer": "乙", "value": "maybe", "version": 1}),
    );
    assert_eq!(bad.status, 400, "{}", bad.body);
    let store = Store::open(&fx.batch).unwrap();
    assert_eq!(store.audit(id).unwrap().len(), 1);
}

#[test]
fn the_queue_is_worst_first_with_printed_labels_and_every_kind() {
    let fx = review_fixture::build(2);
    let srv = start(&fx.batch);
    let items = queue(&srv);
    let kinds: std::collections::BTreeSet<&str> =
        items.iter().map(|i| i["kind"].as_str().unwrap()).collect();
    for k in [
        "marginal",
        "overvote",
        "name_check",
        "integrity_feedback",
        "comment",
        "duplicate",
        "rejected",
        "unknown_serial",
    ] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
    // Blocking flags by urgency, the comment last.
    assert_eq!(items.last().unwrap()["kind"], "comment");
    let urg: Vec<f64> = items
        .iter()
        .filter(|i| i["blocking"] == true)
        .map(|i| i["urgency"].as_f64().unwrap())
        .collect();
    assert!(urg.windows(2).all(|w| w[0] <= w[1]), "{urg:?}");
    let m = items.iter().find(|i| i["kind"] == "marginal").unwrap();
    let labels: Vec<&str> = m["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert_eq!(
        labels[..4],
        ["满意", "比较满意", "基本满意", "不满意"],
        "{labels:?}"
    );
    assert_eq!(m["choices"][0]["key"], "1");
    let name = items.iter().find(|i| i["kind"] == "name_check").unwrap();
    assert!(name["text"]["value"]
        .as_str()
        .unwrap()
        .contains(review_fixture::EVIL_NAME));
    let roster: Vec<&str> = name["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .collect();
    assert!(
        roster.contains(&"c101") && roster.contains(&"reject"),
        "{roster:?}"
    );
    let integrity = items
        .iter()
        .find(|i| i["kind"] == "integrity_feedback")
        .unwrap();
    assert!(integrity["choices"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["label"].as_str().unwrap().contains("因公")
            || c["value"].as_str().unwrap().starts_with("problem:")));
    // Every post of the sheet can be named (on a two-page sheet, those of its other page
    // too: see the unit test in review/labels.rs).
    let folder = pingyi::folder::CampaignFolder::open(&fx.campaign).unwrap();
    let window = folder
        .layouts()
        .unwrap()
        .into_values()
        .find(|l| l.form == "window")
        .unwrap();
    let posts: Vec<String> = window
        .pages
        .iter()
        .flat_map(|p| &p.cells)
        .filter_map(|c| c.subject.clone())
        .fold(Vec::new(), |mut v, s| {
            if !v.contains(&s) {
                v.push(s);
            }
            v
        });
    assert!(!posts.is_empty());
    let offered: Vec<&str> = integrity["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["value"].as_str().unwrap())
        .filter(|v| v.starts_with("problem:"))
        .collect();
    let wanted: Vec<String> = posts.iter().map(|p| format!("problem:{p}")).collect();
    assert_eq!(offered, wanted);
    // The box is named by its printed label (no trailing colon), not by its id.
    let title = integrity["title"].as_str().unwrap();
    assert!(
        title.contains("党风廉政建设") && !title.contains("integrity_report"),
        "{title}"
    );
    assert!(!title.ends_with('：'), "{title}");
    // The question put to the clerk names the faint box by its printed label; the reader's
    // own note is kept beside it.
    let detail = m["detail"].as_str().unwrap();
    assert!(detail.contains("「") && detail.contains("满意"), "{detail}");
    assert!(!m["machine_note"].as_str().unwrap().is_empty());
    // A name check outlines the name cell itself.
    assert!(name["area"].as_array().is_some_and(|a| a.len() == 4));
}

#[test]
fn list_and_apply_work_without_a_browser() {
    let fx = review_fixture::build(1);
    let list = |format: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_pingyi"))
            .args(["review", "--list", "--format", format, "--batch"])
            .arg(&fx.batch)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = list("csv");
    assert!(
        csv.starts_with(
            "flag_id,kind,target,urgency,page,serial,form,machine_value,choices,version,detail"
        ),
        "{csv}"
    );
    let json: serde_json::Value = serde_json::from_str(&list("json")).unwrap();
    let flags = json.as_array().unwrap();
    let over = flags.iter().find(|f| f["kind"] == "overvote").unwrap()["id"]
        .as_i64()
        .unwrap();
    let rejected = flags.iter().find(|f| f["kind"] == "rejected").unwrap()["id"]
        .as_i64()
        .unwrap();
    let decisions = fx.dir.path().join("decisions.csv");
    std::fs::write(
        &decisions,
        format!("flag_id,value,note,reviewer\n{over},blank,,\n{rejected},discard,外来表格,王芳\n{over},nonsense,,\nabc,blank,,\n99999,blank,,\n"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pingyi"))
        .args(["review", "--reviewer", "脚本", "--apply"])
        .arg(&decisions)
        .arg("--batch")
        .arg(&fx.batch)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "refused rows make the exit status fail"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("applied 2 decision(s), 3 row(s) refused")
    );
    assert!(
        stderr.contains(":4:") && stderr.contains("nonsense"),
        "{stderr}"
    );
    assert!(stderr.contains(":5:") && stderr.contains(":6:"), "{stderr}");
    let store = Store::open(&fx.batch).unwrap();
    assert_eq!(store.flag(over).unwrap().decision.unwrap().reviewer, "脚本");
    let d = store.flag(rejected).unwrap().decision.unwrap();
    assert_eq!((d.reviewer.as_str(), d.note.as_str()), ("王芳", "外来表格"));
}
