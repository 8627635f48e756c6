//! The batch database's tables. One `batch.sqlite` per batch folder.
//!
//! ```text
//! meta(key PK, value)                         campaign (absolute path of campaign.toml),
//!                                             created (RFC 3339 UTC), schema (version)
//! files(sha256 PK, path, pages, status, reason, updated)
//!     status: reading | done | failed        (done only once every page is committed)
//! pages(id PK, file_sha256, idx, status, reason, form, layout_hash, page_no, serial, branch,
//!       rotation, transform, residual_mm, dpi, read_at)       UNIQUE(file_sha256, idx)
//!     idx is 0-based; status read | blank | rejected; transform is a JSON [f64; 9]
//! cells(page_id, question, option, score, class, x, y, w, h)  class empty|marginal|marked
//! questions(page_id, question, subject, item, state, option)  state answer|blank|overvote|ambiguous
//! names(page_id, subject, printed, text, confidence, matched, ok, x, y, w, h)
//! writing(page_id, area, ink, has_writing, text, confidence, crop, x, y, w, h)
//! flags(id PK, page_id, kind, target, detail, urgency, crop, active)
//!     kind as FlagKind::as_str; target '' when none; active 0 = no longer raised by a
//!     re-read but kept because it carries decisions
//! decisions(id PK, flag_id, reviewer, at, machine_value, new_value, note)
//!     append-only audit trail; the latest row (highest id) per flag wins; new_value '' = open
//! ```

/// Bumped when a table changes shape; stored in `meta.schema`.
pub const SCHEMA_VERSION: u32 = 1;

pub const SCHEMA: &str = r"
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    sha256  TEXT PRIMARY KEY,
    path    TEXT NOT NULL,
    pages   INTEGER,
    status  TEXT NOT NULL,
    reason  TEXT,
    updated TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'))
);
CREATE TABLE IF NOT EXISTS pages (
    id          INTEGER PRIMARY KEY,
    file_sha256 TEXT NOT NULL REFERENCES files(sha256),
    idx         INTEGER NOT NULL,
    status      TEXT NOT NULL,
    reason      TEXT,
    form        TEXT,
    layout_hash TEXT,
    page_no     INTEGER,
    serial      TEXT,
    branch      TEXT,
    rotation    INTEGER NOT NULL DEFAULT 0,
    transform   TEXT,
    residual_mm REAL,
    dpi         REAL,
    read_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    UNIQUE (file_sha256, idx)
);
CREATE INDEX IF NOT EXISTS pages_serial ON pages(serial, page_no);
CREATE TABLE IF NOT EXISTS cells (
    page_id  INTEGER NOT NULL REFERENCES pages(id),
    question TEXT NOT NULL,
    option   TEXT NOT NULL,
    score    REAL NOT NULL,
    class    TEXT NOT NULL,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS cells_page ON cells(page_id);
CREATE TABLE IF NOT EXISTS questions (
    page_id  INTEGER NOT NULL REFERENCES pages(id),
    question TEXT NOT NULL,
    subject  TEXT,
    item     TEXT NOT NULL,
    state    TEXT NOT NULL,
    option   TEXT
);
CREATE INDEX IF NOT EXISTS questions_page ON questions(page_id);
CREATE TABLE IF NOT EXISTS names (
    page_id    INTEGER NOT NULL REFERENCES pages(id),
    subject    TEXT NOT NULL,
    printed    TEXT,
    text       TEXT NOT NULL,
    confidence REAL NOT NULL,
    matched    TEXT,
    ok         INTEGER NOT NULL,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS names_page ON names(page_id);
CREATE TABLE IF NOT EXISTS writing (
    page_id     INTEGER NOT NULL REFERENCES pages(id),
    area        TEXT NOT NULL,
    ink         REAL NOT NULL,
    has_writing INTEGER NOT NULL,
    text        TEXT,
    confidence  REAL,
    crop        TEXT,
    x INTEGER NOT NULL, y INTEGER NOT NULL, w INTEGER NOT NULL, h INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS writing_page ON writing(page_id);
CREATE TABLE IF NOT EXISTS flags (
    id      INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(id),
    kind    TEXT NOT NULL,
    target  TEXT NOT NULL DEFAULT '',
    detail  TEXT NOT NULL,
    urgency REAL NOT NULL,
    crop    TEXT,
    active  INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS flags_page ON flags(page_id);
CREATE TABLE IF NOT EXISTS decisions (
    id            INTEGER PRIMARY KEY,
    flag_id       INTEGER NOT NULL REFERENCES flags(id),
    reviewer      TEXT NOT NULL,
    at            TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    machine_value TEXT NOT NULL,
    new_value     TEXT NOT NULL,
    note          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS decisions_flag ON decisions(flag_id);
";
