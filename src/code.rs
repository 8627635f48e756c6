//! The per-page machine-readable code: a QR code (error correction H, so a stray tick or a
//! staple hole does not kill it) holding form id, layout hash, page number and sheet serial.
//!
//! Payload: `PY1|<form>|<layout hash>|<page>|<serial>`, e.g. `PY1|member|3fa2c1d0|1|K7Q2M9X4`.
//! ≤ 34 bytes, so it fits QR version 4 at level H.

use rand::Rng;

/// Payload prefix and format version.
const MAGIC: &str = "PY1";
/// Crockford base32: no I, L, O, U, so a serial read aloud or retyped is unambiguous.
const SERIAL_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// 8 symbols = 40 random bits: collisions among a million sheets are ~1 in 2 million.
pub const SERIAL_LEN: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PageCode {
    pub form: String,
    pub layout_hash: String,
    pub page: u32,
    pub serial: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodeError {
    #[error("the page code \"{0}\" is not a pingyi code (foreign sheet?)")]
    Foreign(String),
    #[error("the page code \"{text}\" is damaged: {why}")]
    Malformed { text: String, why: &'static str },
    #[error("cannot make a QR code: {0}")]
    Encode(String),
}

impl PageCode {
    pub fn encode(&self) -> String {
        format!(
            "{MAGIC}|{}|{}|{}|{}",
            self.form, self.layout_hash, self.page, self.serial
        )
    }

    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let parts: Vec<&str> = text.trim().split('|').collect();
        if parts.first() != Some(&MAGIC) {
            return Err(CodeError::Foreign(text.chars().take(60).collect()));
        }
        let bad = |why| CodeError::Malformed {
            text: text.to_string(),
            why,
        };
        let [_, form, hash, page, serial] = parts[..] else {
            return Err(bad("expected 5 fields"));
        };
        let page: u32 = page.parse().map_err(|_| bad("page is not a number"))?;
        if page == 0 || form.is_empty() || hash.len() != 8 || !is_serial(serial) {
            return Err(bad("a field is out of range"));
        }
        Ok(PageCode {
            form: form.into(),
            layout_hash: hash.into(),
            page,
            serial: serial.into(),
        })
    }

    /// The QR code as a square of modules (true = dark), without quiet zone.
    pub fn modules(&self) -> Result<(usize, Vec<bool>), CodeError> {
        let code = qrcode::QrCode::with_error_correction_level(
            self.encode().as_bytes(),
            qrcode::EcLevel::H,
        )
        .map_err(|e| CodeError::Encode(e.to_string()))?;
        let n = code.width();
        let dark = code
            .to_colors()
            .into_iter()
            .map(|c| c == qrcode::Color::Dark)
            .collect();
        Ok((n, dark))
    }
}

/// A fresh random serial. Random, not sequential, and never stored against a person: a
/// serial proves a sheet was printed by us, not who filled it in.
pub fn new_serial(rng: &mut impl Rng) -> String {
    (0..SERIAL_LEN)
        .map(|_| SERIAL_ALPHABET[rng.random_range(0..SERIAL_ALPHABET.len())] as char)
        .collect()
}

pub fn is_serial(s: &str) -> bool {
    s.len() == SERIAL_LEN && s.bytes().all(|b| SERIAL_ALPHABET.contains(&b))
}

/// Quiet zone around the code in modules (the spec says 4; the layout keeps the surrounding
/// paper blank, so 2 inside the box is enough and buys bigger modules).
pub const QUIET_MODULES: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn a_code_round_trips_and_fits_version_4() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let c = PageCode {
            form: "member".into(),
            layout_hash: "3fa2c1d0".into(),
            page: 2,
            serial: new_serial(&mut rng),
        };
        assert_eq!(PageCode::parse(&c.encode()).unwrap(), c);
        let (n, m) = c.modules().unwrap();
        assert_eq!(n, 33, "version 4");
        assert_eq!(m.len(), n * n);
    }

    #[test]
    fn foreign_and_damaged_codes_are_told_apart() {
        assert!(matches!(
            PageCode::parse("https://example.com"),
            Err(CodeError::Foreign(_))
        ));
        assert!(matches!(
            PageCode::parse("PY1|member|3fa2c1d0|x|K7Q2M9X4"),
            Err(CodeError::Malformed { .. })
        ));
        assert!(matches!(
            PageCode::parse("PY1|member|3fa2c1d0|1|IIIIIIII"),
            Err(CodeError::Malformed { .. })
        ));
    }
}
