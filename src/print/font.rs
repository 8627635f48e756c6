//! Finding and loading the CJK font the forms are printed in.
//!
//! Order: `--font PATH`, then `$PINGYI_FONT`, then the Debian packages' files. Noto Sans CJK
//! SC comes first: Droid Sans Fallback's subsets are half the size, but it has no ASCII
//! glyphs at all, and the forms (and every serial) print digits, Latin letters and ASCII
//! punctuation. Droid stays usable for text that avoids them; `render_pdf` refuses any font
//! missing a glyph the page needs rather than printing empty boxes.

use super::PrintError;
use printpdf::ParsedFont;
use std::path::{Path, PathBuf};

/// Environment variable naming a font file (optionally `PATH#FACE` for a collection).
pub const FONT_ENV: &str = "PINGYI_FONT";

/// (path, face index, Debian package) of the fonts tried when none is given.
const SYSTEM_FONTS: [(&str, usize, &str); 2] = [
    // Face 2 of the collection is Simplified Chinese (SC); the others draw JP/KR/TC glyph shapes.
    (
        "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
        2,
        "fonts-noto-cjk",
    ),
    (
        "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
        0,
        "fonts-droid-fallback",
    ),
];

/// A parsed font face ready to embed.
pub struct Font {
    pub path: PathBuf,
    pub face: usize,
    pub(crate) parsed: ParsedFont,
}

impl std::fmt::Debug for Font {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Font({}#{})", self.path.display(), self.face)
    }
}

impl Font {
    /// Load face `face` of the font file at `path`.
    pub fn load(path: &Path, face: usize) -> Result<Self, PrintError> {
        let bytes = std::fs::read(path).map_err(|source| PrintError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(&bytes, face, &mut warnings).ok_or_else(|| {
            PrintError::FontParse {
                path: path.to_path_buf(),
                face,
            }
        })?;
        // A font without the glyphs we print would silently draw empty boxes: check a few.
        if "评议编号"
            .chars()
            .any(|c| parsed.lookup_glyph_index(c as u32).is_none())
        {
            return Err(PrintError::FontNotChinese {
                path: path.to_path_buf(),
                face,
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            face,
            parsed,
        })
    }

    /// The font's glyph for `c`, if it has one.
    pub fn glyph(&self, c: char) -> Option<u16> {
        self.parsed.lookup_glyph_index(c as u32)
    }

    /// The distinct characters of `text` this font cannot draw (spaces excepted).
    pub fn missing(&self, text: &str) -> Vec<char> {
        let mut out: Vec<char> = text
            .chars()
            .filter(|c| !c.is_whitespace() && self.parsed.lookup_glyph_index(*c as u32).is_none())
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// `--font`, else `$PINGYI_FONT`, else the first Debian font installed.
    pub fn discover(explicit: Option<&Path>) -> Result<Self, PrintError> {
        if let Some(p) = explicit {
            let (path, face) = split_face(&p.to_string_lossy());
            return Self::load(&path, face);
        }
        if let Some(v) = std::env::var_os(FONT_ENV).filter(|v| !v.is_empty()) {
            let (path, face) = split_face(&v.to_string_lossy());
            return Self::load(&path, face);
        }
        for (path, face, _) in SYSTEM_FONTS {
            if Path::new(path).exists() {
                return Self::load(Path::new(path), face);
            }
        }
        Err(PrintError::NoFont {
            tried: SYSTEM_FONTS
                .iter()
                .map(|(p, _, _)| *p)
                .collect::<Vec<_>>()
                .join(", "),
            packages: SYSTEM_FONTS[0].2.to_string(),
        })
    }
}

/// `font.ttc#2` → (font.ttc, 2); a `.ttc` without a face gets 2 (Noto's SC face), else 0.
fn split_face(s: &str) -> (PathBuf, usize) {
    if let Some((p, f)) = s.rsplit_once('#') {
        if let Ok(face) = f.parse() {
            return (PathBuf::from(p), face);
        }
    }
    let face = if s.to_ascii_lowercase().ends_with(".ttc") {
        2
    } else {
        0
    };
    (PathBuf::from(s), face)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_face_suffix_selects_the_collection_face() {
        assert_eq!(split_face("/a/b.ttc#1"), (PathBuf::from("/a/b.ttc"), 1));
        assert_eq!(split_face("/a/b.ttc"), (PathBuf::from("/a/b.ttc"), 2));
        assert_eq!(split_face("/a/b.ttf"), (PathBuf::from("/a/b.ttf"), 0));
    }

    #[test]
    fn a_missing_font_file_is_an_io_error_naming_the_path() {
        let e = Font::load(Path::new("/nonexistent/x.ttf"), 0).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x.ttf"), "{e}");
    }
}
