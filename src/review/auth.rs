//! The access token: a random secret printed with the URL, so that other local users and web
//! pages in the clerk's browser cannot read or change the batch.
//!
//! The first page load carries it as `?t=`; the server answers with a cookie (HttpOnly,
//! SameSite=Strict) and a redirect to the same path without the token, so it does not stay in
//! the address bar. Scripts and tools may send it as the `X-Pingyi-Token` header instead.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Header a script may use instead of the cookie.
pub const TOKEN_HEADER: &str = "x-pingyi-token";

/// Query parameter of the printed URL.
const TOKEN_QUERY: &str = "t";

/// 32 random bytes = 256 bits (the task asks ≥ 128): not guessable over a loopback socket.
const TOKEN_BYTES: usize = 32;

#[derive(Clone)]
pub struct Token {
    secret: String,
    /// Cookies are per host, not per port: two servers on one machine need two names.
    cookie: String,
}

impl Token {
    /// A fresh random token for a server listening on `port`.
    #[must_use]
    pub fn random(port: u16) -> Self {
        let bytes: [u8; TOKEN_BYTES] = rand::random();
        let secret = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Self {
            secret,
            cookie: format!("pingyi_t_{port}"),
        }
    }

    /// The secret, for the printed URL.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret
    }

    fn matches(&self, candidate: &str) -> bool {
        constant_time_eq(self.secret.as_bytes(), candidate.as_bytes())
    }

    fn query_token<'a>(&self, query: Option<&'a str>) -> Option<&'a str> {
        query?
            .split('&')
            .find_map(|pair| pair.strip_prefix(TOKEN_QUERY)?.strip_prefix('='))
    }

    fn cookie_token<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|kv| {
                kv.trim()
                    .strip_prefix(self.cookie.as_str())?
                    .strip_prefix('=')
            })
    }

    fn set_cookie(&self) -> Option<HeaderValue> {
        HeaderValue::from_str(&format!(
            "{}={}; Path=/; HttpOnly; SameSite=Strict",
            self.cookie, self.secret
        ))
        .ok()
    }
}

/// Compare without an early exit, so response time does not reveal how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Middleware: let the request through with a valid token, else 401.
pub async fn require_token(
    State(token): State<Arc<Token>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let by_header = headers
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| token.matches(v));
    let by_cookie = token
        .cookie_token(headers)
        .is_some_and(|v| token.matches(v));
    let by_query = token
        .query_token(request.uri().query())
        .is_some_and(|v| token.matches(v));
    if by_query && !by_cookie {
        // Trade the token in the URL for a cookie and drop it from the address bar.
        let path = request.uri().path().to_string();
        let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, path)]).into_response();
        if let Some(cookie) = token.set_cookie() {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        return response;
    }
    if by_header || by_cookie || by_query {
        return next.run(request).await;
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "401 需要访问令牌:请打开 pingyi review 打印的完整网址 (access token required)\n",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_distinct() {
        let a = Token::random(1);
        let b = Token::random(1);
        assert_eq!(a.secret().len(), TOKEN_BYTES * 2);
        assert_ne!(a.secret(), b.secret());
    }

    #[test]
    fn only_the_exact_token_matches() {
        let t = Token::random(8080);
        assert!(t.matches(t.secret()));
        assert!(!t.matches(&t.secret()[1..]));
        assert!(!t.matches(""));
        let mut wrong = t.secret().to_string();
        wrong.replace_range(0..1, if wrong.starts_with('0') { "1" } else { "0" });
        assert!(!t.matches(&wrong));
    }

    #[test]
    fn token_is_found_in_query_and_in_its_own_cookie_only() {
        let t = Token::random(8080);
        let q = format!("all=1&t={}", t.secret());
        assert_eq!(t.query_token(Some(&q)), Some(t.secret()));
        assert_eq!(t.query_token(Some("tt=abc")), None);
        let mut h = HeaderMap::new();
        let other = format!("pingyi_t_9090={}; x=1", t.secret());
        h.insert(header::COOKIE, HeaderValue::from_str(&other).unwrap());
        assert_eq!(t.cookie_token(&h), None);
        let own = format!("x=1; pingyi_t_8080={}", t.secret());
        h.insert(header::COOKIE, HeaderValue::from_str(&own).unwrap());
        assert_eq!(t.cookie_token(&h), Some(t.secret()));
    }
}
