//! Printing: a form's layout → a PDF with one fresh random serial per copy, recorded in the
//! campaign folder so the reader can later recognise (and count) the sheets.
//!
//! `render_pdf` only draws; `print_form` is the whole job (layout, snapshot, serials, PDF,
//! print record).

mod font;
mod pdf;
mod share;

pub use font::{Font, FONT_ENV};
pub use pdf::render_pdf;

use crate::code::{new_serial, CodeError};
use crate::folder::{CampaignFolder, FolderError, PrintRecord};
use crate::form::FormDef;
use crate::layout::{layout, LayoutError};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Why a form could not be printed.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    #[error("no Chinese font found (tried {tried}); install {packages} (apt-get install {packages}), or pass --font PATH or set PINGYI_FONT")]
    NoFont { tried: String, packages: String },
    #[error("{path} (face {face}) is not a font printpdf can read")]
    FontParse { path: PathBuf, face: usize },
    #[error(
        "{path} (face {face}) has no Chinese glyphs: choose a CJK font (e.g. fonts-noto-cjk: /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc)"
    )]
    FontNotChinese { path: PathBuf, face: usize },
    #[error("the font {path} has no glyph for {chars:?}: they would print as empty boxes; use a font that has them (fonts-noto-cjk: --font /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc)")]
    MissingGlyphs { path: PathBuf, chars: Vec<char> },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Layout(#[from] LayoutError),
    #[error(transparent)]
    Folder(#[from] FolderError),
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error("no branch \"{branch}\" in the campaign (branches: {known})")]
    UnknownBranch { branch: String, known: String },
    #[error("copies must be at least 1")]
    NoCopies,
    #[error("cannot assemble the PDF: {0}")]
    Pdf(String),
}

/// What `print_form` did.
#[derive(Debug)]
pub struct Printed {
    pub record: PrintRecord,
    /// Where the print record was written.
    pub record_path: PathBuf,
    pub pdf_bytes: usize,
    pub pages: usize,
}

/// Print `copies` copies of `form` (for `branch`) into `out`, and record the print.
pub fn print_form(
    folder: &CampaignFolder,
    form: &FormDef,
    branch: Option<&str>,
    copies: u32,
    out: &Path,
    font: &Font,
) -> Result<PrintRecord, PrintError> {
    print_form_detailed(folder, form, branch, copies, out, font).map(|p| p.record)
}

/// `print_form`, also telling where the record went and how big the PDF is.
pub fn print_form_detailed(
    folder: &CampaignFolder,
    form: &FormDef,
    branch: Option<&str>,
    copies: u32,
    out: &Path,
    font: &Font,
) -> Result<Printed, PrintError> {
    if copies == 0 {
        return Err(PrintError::NoCopies);
    }
    let campaign = &folder.campaign;
    let branch_def = match branch {
        Some(id) => Some(campaign.branch(id).ok_or_else(|| {
            PrintError::UnknownBranch {
                branch: id.to_string(),
                known: campaign
                    .branches
                    .iter()
                    .map(|b| b.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }
        })?),
        None => None,
    };
    let layout = layout(form, campaign, branch_def)?;
    let taken: HashSet<String> = folder.printed_serials()?.into_keys().collect();
    let serials = fresh_serials(copies as usize, &taken);
    let bytes = render_pdf(&layout, &serials, font)?;
    folder.snapshot_form(form)?;
    folder.save_layout(&layout)?;
    write_atomic(out, &bytes)?;
    let record = PrintRecord {
        form: form.id.clone(),
        form_version: form.version,
        branch: layout.branch.clone(),
        layout_hash: layout.hash.clone(),
        pages_per_sheet: layout.pages.len() as u32,
        printed_at: rfc3339_now(),
        pdf: out.display().to_string(),
        serials,
    };
    let record_path = folder.record_print(&record)?;
    Ok(Printed {
        pages: layout.pages.len() * copies as usize,
        pdf_bytes: bytes.len(),
        record,
        record_path,
    })
}

/// `n` random serials, distinct from each other and from `taken`. Drawn from the OS-seeded
/// thread RNG: serials must not be predictable or reproducible from the print time.
fn fresh_serials(n: usize, taken: &HashSet<String>) -> Vec<String> {
    let mut rng = rand::rng();
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let s = new_serial(&mut rng);
        if !taken.contains(&s) && seen.insert(s.clone()) {
            out.push(s);
        }
    }
    out
}

/// Temp file beside `path`, then rename: a crash never leaves a half-written PDF to print.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), PrintError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| PrintError::Io { path: p, source }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Now, as RFC 3339 UTC (`2026-11-05T09:30:00Z`), without a date-time crate.
pub fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days → civil date algorithm (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3_661), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn serials_are_unique_and_avoid_those_already_printed() {
        let taken: HashSet<String> = fresh_serials(50, &HashSet::new()).into_iter().collect();
        let s = fresh_serials(500, &taken);
        let set: HashSet<_> = s.iter().collect();
        assert_eq!(set.len(), 500);
        assert!(s
            .iter()
            .all(|x| !taken.contains(x) && crate::code::is_serial(x)));
    }
}
