//! The HTML report carries its own font: a subset of the CJK font with just the characters
//! the report uses, inlined as a data URL. A report opened on a machine without Chinese
//! fonts (or printed from one) must not turn into boxes.

use crate::print::Font;
use allsorts::binary::read::ReadScope;
use allsorts::font_data::FontData;
use allsorts::subset::{subset, CmapTarget, SubsetProfile};
use base64::Engine;
use std::collections::BTreeSet;

/// Family name the report's CSS asks for first.
pub const FAMILY: &str = "PingyiReport";

#[derive(Debug, thiserror::Error)]
pub enum WebFontError {
    #[error("no CJK font to embed: {0}")]
    NoFont(String),
    #[error("cannot read the font {path}: {why}")]
    Read { path: String, why: String },
    #[error("cannot subset the font {path}: {why}")]
    Subset { path: String, why: String },
}

/// An `@font-face` rule with the subset of `font` covering every character of `text`.
pub fn font_face(font: &Font, text: &str) -> Result<String, WebFontError> {
    let path = font.path.display().to_string();
    let bytes = std::fs::read(&font.path).map_err(|e| WebFontError::Read {
        path: path.clone(),
        why: e.to_string(),
    })?;
    let chars: BTreeSet<char> = text.chars().filter(|c| !c.is_control()).collect();
    // Glyph 0 (.notdef) first and no duplicates: allsorts' two requirements.
    let mut gids: BTreeSet<u16> = BTreeSet::new();
    for c in &chars {
        if let Some(g) = font.glyph(*c) {
            gids.insert(g);
        }
    }
    gids.remove(&0);
    let ids: Vec<u16> = std::iter::once(0).chain(gids).collect();
    let sub = |why: String| WebFontError::Subset {
        path: path.clone(),
        why,
    };
    let scope = ReadScope::new(&bytes);
    let data = scope
        .read::<FontData<'_>>()
        .map_err(|e| sub(e.to_string()))?;
    let provider = data
        .table_provider(font.face)
        .map_err(|e| sub(e.to_string()))?;
    // Minimal = the tables a browser requires; a Unicode cmap so the browser can map text.
    let subset = subset(
        &provider,
        &ids,
        &SubsetProfile::Minimal,
        CmapTarget::Unicode,
    )
    .map_err(|e| sub(e.to_string()))?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&subset);
    Ok(format!(
        "@font-face{{font-family:\"{FAMILY}\";src:url(data:font/otf;base64,{b64}) format(\"opentype\");}}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subset_is_a_font_with_the_characters_asked_for_and_small() {
        let font = Font::discover(None).expect("a CJK font (fonts-noto-cjk)");
        let css = font_face(&font, "评议结果 满意率 90%").unwrap();
        assert!(css.starts_with("@font-face{font-family:\"PingyiReport\""));
        let b64 = css
            .split("base64,")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        // An OpenType (CFF) or TrueType signature.
        assert!(bytes.starts_with(b"OTTO") || bytes.starts_with(&[0, 1, 0, 0]));
        // A dozen glyphs of a 16 MB collection: a few kilobytes.
        assert!(bytes.len() < 60_000, "{} bytes", bytes.len());
    }
}
