//! The review web server: one embedded page, a small JSON API over the batch store, and the
//! flag images. Routes (all behind the access token, see `auth.rs`):
//!
//! ```text
//! GET  /                         the page (index.html)        GET /app.js, /app.css
//! GET  /api/queue?all=1          flags worst first (open only unless all=1)
//! GET  /api/flags/{id}           one flag
//! POST /api/flags/{id}/decision  {reviewer, value, note, version} → {version, decision, item}
//! POST /api/flags/{id}/undo      {reviewer, version}               → same; 409 on a stale version
//! GET  /api/flags/{id}/audit     the flag's audit trail
//! GET  /crop/{id}                PNG of the flag's row/area; header X-Crop-Rect = x y w h (page px)
//! GET  /page/{id}                PNG of the flag's whole page with every box outlined
//! ```
//!
//! Images are found from the flag id only: a request never names a file. The store is behind
//! one mutex (SQLite connection) and used from blocking threads; each decision is one
//! transaction, committed before the response is sent.

use super::auth::{self, Token};
use super::images::{self, ImageError, Outline, PageCache};
use super::item::{self, Item};
use super::labels::Labels;
use crate::read::outcome::{CellClass, FlagKind};
use crate::store::{FlagView, Store, StoreError};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the review server stopped: {0}")]
    Serve(#[source] std::io::Error),
}

/// Everything the handlers share.
pub struct App {
    store: Mutex<Store>,
    labels: Labels,
    pages: PageCache,
    batch: PathBuf,
    /// Folders a relative input path may be relative to (as given to `scan`).
    roots: Vec<PathBuf>,
}

impl App {
    /// Open the batch and its campaign's labels.
    ///
    /// # Errors
    /// The batch cannot be opened.
    pub fn open(batch: &Path) -> Result<Self, ReviewError> {
        let store = Store::open(batch)?;
        let campaign = store.campaign_path()?;
        let labels = Labels::load(&campaign);
        let mut roots = Vec::new();
        if let Ok(cwd) = std::env::current_dir() {
            roots.push(cwd);
        }
        if let Some(root) = campaign.parent() {
            roots.push(root.to_path_buf());
        }
        roots.push(batch.to_path_buf());
        Ok(Self {
            store: Mutex::new(store),
            labels,
            pages: PageCache::default(),
            batch: batch.to_path_buf(),
            roots,
        })
    }

    /// A note for the operator when printed labels are unavailable.
    #[must_use]
    pub fn warning(&self) -> Option<&str> {
        self.labels.warning.as_deref()
    }

    fn with_store<T>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError>,
    ) -> Result<T, ApiError> {
        let mut store = self
            .store
            .lock()
            .map_err(|_| ApiError::internal("数据库连接已损坏,请重启 pingyi review"))?;
        f(&mut store).map_err(ApiError::from)
    }

    /// The input file a page came from, as recorded by `scan`.
    fn source(&self, file: &str) -> Option<PathBuf> {
        let p = Path::new(file);
        if p.is_absolute() {
            return p.is_file().then(|| p.to_path_buf());
        }
        self.roots.iter().map(|r| r.join(p)).find(|c| c.is_file())
    }

    /// A crop the reader saved, if it really lies inside the batch folder.
    fn stored_crop(&self, rel: &str) -> Option<PathBuf> {
        let batch = self.batch.canonicalize().ok()?;
        let path = batch.join(rel).canonicalize().ok()?;
        (path.starts_with(&batch) && path.is_file()).then_some(path)
    }
}

/// A JSON error the page shows as is.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    /// Boxed: an item is large and errors travel through every `?`.
    item: Option<Box<Item>>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            item: None,
        }
    }

    fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match &e {
            StoreError::Conflict { .. } => Self::new(
                StatusCode::CONFLICT,
                "这一项刚被别人(或另一个浏览器标签页)改过,您的决定没有保存。已载入最新内容,请核对后重新决定。",
            ),
            StoreError::NoSuchFlag(id) => Self::new(StatusCode::NOT_FOUND, format!("没有编号为 {id} 的复核项。")),
            StoreError::InvalidValue { value, allowed, .. } => {
                Self::new(StatusCode::BAD_REQUEST, format!("“{value}”不是这一项可选的决定(可选:{allowed})。"))
            }
            StoreError::NothingToUndo(_) => Self::new(StatusCode::CONFLICT, "这一项没有可撤销的决定。"),
            StoreError::NoReviewer => Self::new(StatusCode::BAD_REQUEST, "请先填写复核人姓名。"),
            _ => Self::internal(format!("保存失败:{e}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Body {
            error: String,
            item: Option<Box<Item>>,
        }
        (
            self.status,
            Json(Body {
                error: self.message,
                item: self.item,
            }),
        )
            .into_response()
    }
}

type Shared = Arc<App>;

/// The router: the page, the API and the images, all behind the token.
pub fn router(app: Shared, token: Arc<Token>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { static_asset(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { static_asset(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/app.css",
            get(|| async { static_asset(APP_CSS, "text/css; charset=utf-8") }),
        )
        .route("/api/queue", get(queue))
        .route("/api/flags/{id}", get(one))
        .route("/api/flags/{id}/decision", post(decide))
        .route("/api/flags/{id}/undo", post(undo))
        .route("/api/flags/{id}/audit", get(audit))
        .route("/crop/{id}", get(crop))
        .route("/page/{id}", get(page))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "没有这个地址。") })
        .layer(axum::middleware::from_fn_with_state(
            token,
            auth::require_token,
        ))
        .with_state(app)
}

fn static_asset(body: &'static str, mime: &'static str) -> Response {
    // The page must never be framed by another site or sniffed as something else.
    (
        [
            (header::CONTENT_TYPE, mime),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; img-src 'self' blob:; object-src 'none'; frame-ancestors 'none'"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A flag id from the URL: digits only; anything else (`..`, `%2e`, paths) is a 400.
fn flag_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "无效的复核项编号。"))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| ApiError::internal("服务器内部错误(任务中断)"))?
}

#[derive(Deserialize)]
struct QueueQuery {
    #[serde(default)]
    all: Option<String>,
}

#[derive(Serialize)]
struct QueueBody {
    batch: String,
    open: usize,
    items: Vec<Item>,
}

/// Worst first: open before decided, blocking before not, nearest the threshold first, then
/// by kind, then in reading order.
pub fn sort_worst_first(flags: &mut [FlagView]) {
    flags.sort_by(|a, b| {
        (a.decision.is_some(), !a.blocking)
            .cmp(&(b.decision.is_some(), !b.blocking))
            .then(a.urgency.total_cmp(&b.urgency))
            .then(item::kind_rank(a.kind).cmp(&item::kind_rank(b.kind)))
            .then(a.id.cmp(&b.id))
    });
}

async fn queue(
    State(app): State<Shared>,
    Query(q): Query<QueueQuery>,
) -> Result<Json<QueueBody>, ApiError> {
    let all = q.all.as_deref() == Some("1");
    blocking(move || {
        let mut flags = app.with_store(|s| if all { s.all_flags() } else { s.open_flags() })?;
        sort_worst_first(&mut flags);
        let items: Vec<Item> = flags.iter().map(|f| item::item(f, &app.labels)).collect();
        let batch = app.batch.file_name().map_or_else(
            || app.batch.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Ok(Json(QueueBody {
            batch,
            open: items.iter().filter(|i| i.open).count(),
            items,
        }))
    })
    .await
}

async fn one(
    State(app): State<Shared>,
    UrlPath(raw): UrlPath<String>,
) -> Result<Json<Item>, ApiError> {
    let id = flag_id(&raw)?;
    blocking(move || {
        let f = app.with_store(|s| s.flag(id))?;
        Ok(Json(item::item(&f, &app.labels)))
    })
    .await
}

#[derive(Deserialize)]
struct DecideBody {
    reviewer: String,
    value: String,
    #[serde(default)]
    note: String,
    version: u32,
}

#[derive(Deserialize)]
struct UndoBody {
    reviewer: String,
    version: u32,
}

#[derive(Serialize)]
struct Saved {
    version: u32,
    decision: crate::store::Decision,
    item: Item,
}

/// Run a write; on any refusal attach the flag as it now is, so the page can show it.
fn write(
    app: &App,
    id: i64,
    op: impl FnOnce(&mut Store) -> Result<crate::store::Decision, StoreError>,
) -> Result<Json<Saved>, ApiError> {
    match app.with_store(op) {
        Ok(decision) => {
            let f = app.with_store(|s| s.flag(id))?;
            Ok(Json(Saved {
                version: f.version,
                decision,
                item: item::item(&f, &app.labels),
            }))
        }
        Err(mut e) => {
            e.item = app
                .with_store(|s| s.flag(id))
                .ok()
                .map(|f| Box::new(item::item(&f, &app.labels)));
            Err(e)
        }
    }
}

async fn decide(
    State(app): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    Json(body): Json<DecideBody>,
) -> Result<Json<Saved>, ApiError> {
    let id = flag_id(&raw)?;
    blocking(move || {
        write(&app, id, |s| {
            s.decide(id, &body.reviewer, &body.value, &body.note, body.version)
        })
    })
    .await
}

async fn undo(
    State(app): State<Shared>,
    UrlPath(raw): UrlPath<String>,
    Json(body): Json<UndoBody>,
) -> Result<Json<Saved>, ApiError> {
    let id = flag_id(&raw)?;
    blocking(move || write(&app, id, |s| s.undo(id, &body.reviewer, body.version))).await
}

async fn audit(
    State(app): State<Shared>,
    UrlPath(raw): UrlPath<String>,
) -> Result<Response, ApiError> {
    let id = flag_id(&raw)?;
    blocking(move || {
        app.with_store(|s| s.flag(id))?;
        let trail = app.with_store(|s| s.audit(id))?;
        Ok(Json(trail).into_response())
    })
    .await
}

fn png(bytes: Vec<u8>, rect: Option<[u32; 4]>) -> Response {
    let mut r = (
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "private, max-age=600"),
        ],
        bytes,
    )
        .into_response();
    if let Some([x, y, w, h]) = rect {
        if let Ok(v) = HeaderValue::from_str(&format!("{x} {y} {w} {h}")) {
            r.headers_mut().insert("x-crop-rect", v);
        }
    }
    r
}

fn image_error(e: &ImageError) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, format!("无法载入这一页的图像:{e}"))
}

/// The boxes a flag is about, in page pixels.
fn flagged_boxes(f: &FlagView) -> Vec<[u32; 4]> {
    let mut boxes: Vec<[u32; 4]> = f.cells.iter().map(|c| c.px).collect();
    if let Some(n) = &f.name {
        boxes.push(n.px);
    }
    if let Some(w) = &f.writing {
        boxes.push(w.px);
    }
    boxes
}

async fn crop(
    State(app): State<Shared>,
    UrlPath(raw): UrlPath<String>,
) -> Result<Response, ApiError> {
    let id = flag_id(&raw)?;
    blocking(move || {
        let f = app.with_store(|s| s.flag(id))?;
        let writing = matches!(f.kind, FlagKind::IntegrityFeedback | FlagKind::Comment);
        if writing {
            if let Some(path) = f.crop.as_deref().and_then(|c| app.stored_crop(c)) {
                let bytes = std::fs::read(&path).map_err(|e| {
                    ApiError::new(StatusCode::NOT_FOUND, format!("无法读取截图:{e}"))
                })?;
                return Ok(png(bytes, None));
            }
        }
        let source = app.source(&f.page.file).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("找不到原始扫描文件 {}", f.page.file),
            )
        })?;
        let rotation = app
            .with_store(|s| s.load_page(f.page.page_id))?
            .reading
            .rotation;
        let page = app
            .pages
            .page(&source, f.page.index, rotation)
            .map_err(|e| image_error(&e))?;
        let boxes = flagged_boxes(&f);
        let (img, rect) = match (f.kind, &f.writing) {
            (_, Some(w)) if writing => images::area_crop(&page, w.px),
            (FlagKind::Marginal | FlagKind::Overvote | FlagKind::NameCheck, _)
                if !boxes.is_empty() =>
            {
                images::row_crop(&page, &boxes)
            }
            _ => images::whole(&page),
        };
        let bytes = images::png_gray(&img).map_err(|e| image_error(&e))?;
        Ok(png(bytes, Some(rect)))
    })
    .await
}

async fn page(
    State(app): State<Shared>,
    UrlPath(raw): UrlPath<String>,
) -> Result<Response, ApiError> {
    let id = flag_id(&raw)?;
    blocking(move || {
        let f = app.with_store(|s| s.flag(id))?;
        let stored = app.with_store(|s| s.load_page(f.page.page_id))?;
        let source = app.source(&f.page.file).ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("找不到原始扫描文件 {}", f.page.file),
            )
        })?;
        let img = app
            .pages
            .page(&source, f.page.index, stored.reading.rotation)
            .map_err(|e| image_error(&e))?;
        let mut boxes: Vec<([u32; 4], Outline)> = stored
            .reading
            .cells
            .iter()
            .map(|c| {
                let o = match c.class {
                    CellClass::Empty => Outline::Empty,
                    CellClass::Marginal => Outline::Marginal,
                    CellClass::Marked => Outline::Marked,
                };
                (c.px, o)
            })
            .collect();
        boxes.extend(flagged_boxes(&f).into_iter().map(|b| (b, Outline::Flagged)));
        let bytes =
            images::png_rgb(&images::page_overlay(&img, &boxes)).map_err(|e| image_error(&e))?;
        Ok(png(bytes, None))
    })
    .await
}

/// A bound, not yet serving, review server.
pub struct Bound {
    listener: tokio::net::TcpListener,
    router: Router,
    pub addr: SocketAddr,
    pub token: Arc<Token>,
}

impl Bound {
    /// The URL to open, with the token.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}/?t={}", self.addr, self.token.secret())
    }

    /// Serve until `shutdown` resolves.
    ///
    /// # Errors
    /// The socket fails.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ReviewError> {
        axum::serve(self.listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(ReviewError::Serve)
    }
}

/// Bind `listen` (port 0 = a free port) for the batch `app`, with a fresh token.
///
/// # Errors
/// The address cannot be bound.
pub async fn bind(app: App, listen: SocketAddr) -> Result<Bound, ReviewError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| ReviewError::Listen {
            addr: listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|source| ReviewError::Listen {
            addr: listen,
            source,
        })?;
    let token = Arc::new(Token::random(addr.port()));
    let router = router(Arc::new(app), Arc::clone(&token));
    Ok(Bound {
        listener,
        router,
        addr,
        token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_integers_are_flag_ids() {
        assert_eq!(flag_id("12").ok(), Some(12));
        for bad in [
            "0",
            "-3",
            "..",
            "../../etc/passwd",
            "1.png",
            "",
            "12abc",
            "%2e%2e",
        ] {
            assert!(flag_id(bad).is_err(), "{bad}");
        }
    }
}
