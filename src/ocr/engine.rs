//! The Tesseract engine: tessdata discovery, one initialised handle per thread, and
//! recognition of an in-memory grayscale crop.

use image::GrayImage;
use leptess::tesseract::TessApi;
use std::cell::RefCell;
use std::ffi::{CStr, OsStr};
use std::path::{Path, PathBuf};

/// The language model: `chi_sim` alone (adding `eng` was worse and slower on names).
pub const LANG: &str = "chi_sim";
/// Where Debian (Tesseract 5, then 4) and other distributions put the traineddata files.
pub const DEFAULT_DIRS: [&str; 3] = [
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
];
/// Smallest side Tesseract is given: below this there is nothing a person could read either.
const MIN_SIDE: u32 = 4;

#[derive(Debug, Clone, thiserror::Error)]
pub enum OcrError {
    #[error(
        "Tesseract's Simplified Chinese model chi_sim.traineddata is not in {}: install the Debian \
         package tesseract-ocr-chi-sim (apt install tesseract-ocr-chi-sim), or set TESSDATA_PREFIX \
         to the folder that holds chi_sim.traineddata",
        searched_list(.searched)
    )]
    MissingChiSim { searched: Vec<PathBuf> },
    #[error("Tesseract could not load {lang} from {dir} (the traineddata file may be damaged: reinstall tesseract-ocr-chi-sim)")]
    Init { dir: PathBuf, lang: &'static str },
    #[error("Tesseract refused a {w}×{h} px image")]
    Image { w: u32, h: u32 },
    #[error("Tesseract failed to recognise a {w}×{h} px crop")]
    Recognise { w: u32, h: u32 },
}

fn searched_list(dirs: &[PathBuf]) -> String {
    let v: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    v.join(", ")
}

/// Page segmentation mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Psm {
    /// A uniform block of text (writing areas).
    Block,
    /// A single text line (name cells): best on 2–4 character names.
    Line,
}

impl Psm {
    /// Tesseract's `tessedit_pageseg_mode` value.
    fn value(self) -> &'static CStr {
        match self {
            Psm::Block => c"6",
            Psm::Line => c"7",
        }
    }
}

/// What Tesseract read in one crop.
#[derive(Debug, Clone, PartialEq)]
pub struct Ocr {
    /// Recognised text, CJK spacing removed, trimmed.
    pub text: String,
    /// Tesseract's mean word confidence, 0..100.
    pub confidence: f32,
}

/// Find the tessdata folder holding `chi_sim.traineddata`.
///
/// `env` is the value of `TESSDATA_PREFIX`: when set (and not empty) it is the only place
/// looked at (the folder itself or its `tessdata/` child), so a wrong setting is reported
/// rather than silently bypassed. Otherwise `candidates` are tried in order. A pure function
/// of its arguments so tests need not touch the process environment.
///
/// # Errors
/// [`OcrError::MissingChiSim`] listing every folder searched.
pub fn find_tessdata(env: Option<&OsStr>, candidates: &[&Path]) -> Result<PathBuf, OcrError> {
    let searched: Vec<PathBuf> = match env.filter(|v| !v.is_empty()) {
        Some(v) => {
            let p = PathBuf::from(v);
            vec![p.clone(), p.join("tessdata")]
        }
        None => candidates.iter().map(|p| p.to_path_buf()).collect(),
    };
    let file = format!("{LANG}.traineddata");
    match searched.iter().find(|d| d.join(&file).is_file()) {
        Some(d) => Ok(d.clone()),
        None => Err(OcrError::MissingChiSim { searched }),
    }
}

/// The tessdata folder for this process (environment, then Debian's paths).
fn tessdata_dir() -> Result<PathBuf, OcrError> {
    let env = std::env::var_os("TESSDATA_PREFIX");
    let dirs: Vec<&Path> = DEFAULT_DIRS.iter().map(Path::new).collect();
    find_tessdata(env.as_deref(), &dirs)
}

/// One initialised Tesseract handle. Not `Sync`, and init costs 130–250 ms: one per thread.
struct Engine {
    api: TessApi,
    psm: Option<Psm>,
}

impl Engine {
    fn new() -> Result<Self, OcrError> {
        let dir = tessdata_dir()?;
        let init_err = || OcrError::Init {
            dir: dir.clone(),
            lang: LANG,
        };
        // TessApi::new panics on an interior NUL; a path from the environment never has one,
        // but check rather than trust.
        let dir_str = dir
            .to_str()
            .filter(|s| !s.contains('\0'))
            .ok_or_else(init_err)?;
        let mut api = TessApi::new(Some(dir_str), LANG).map_err(|_| init_err())?;
        // Tesseract prints "Empty page!!" and resolution warnings to stderr for every blank
        // crop: send its debug output nowhere (a failed set only means noisier logs).
        if cfg!(unix) {
            let _ = api.raw.set_variable(c"debug_file", c"/dev/null");
        }
        Ok(Self { api, psm: None })
    }

    fn recognise(&mut self, img: &GrayImage, psm: Psm, dpi: u32) -> Result<Ocr, OcrError> {
        let (w, h) = img.dimensions();
        if w < MIN_SIDE || h < MIN_SIDE {
            return Ok(Ocr {
                text: String::new(),
                confidence: 0.0,
            });
        }
        if self.psm != Some(psm) {
            self.api
                .raw
                .set_variable(c"tessedit_pageseg_mode", psm.value())
                .map_err(|_| OcrError::Image { w, h })?;
            self.psm = Some(psm);
        }
        let (wi, hi) = (i32::try_from(w), i32::try_from(h));
        let (Ok(wi), Ok(hi)) = (wi, hi) else {
            return Err(OcrError::Image { w, h });
        };
        // One byte per pixel, rows packed: exactly GrayImage's buffer.
        self.api
            .raw
            .set_image(img.as_raw(), wi, hi, 1, wi)
            .map_err(|_| OcrError::Image { w, h })?;
        self.api
            .set_source_resolution(i32::try_from(dpi).unwrap_or(300));
        self.api
            .raw
            .recognize()
            .map_err(|_| OcrError::Recognise { w, h })?;
        let raw = self
            .api
            .raw
            .get_utf8_text()
            .map_err(|_| OcrError::Recognise { w, h })?;
        let cstr: &CStr = raw.as_ref();
        let text = strip_cjk_spaces(&cstr.to_string_lossy());
        let confidence = if text.is_empty() {
            0.0
        } else {
            self.api.mean_text_conf().clamp(0, 100) as f32
        };
        Ok(Ocr { text, confidence })
    }
}

thread_local! {
    /// This thread's engine, created on first use; a failed init is remembered so a batch
    /// does not pay 200 ms per crop to fail again.
    static ENGINE: RefCell<Option<Result<Engine, OcrError>>> = const { RefCell::new(None) };
}

/// Recognise `img` (grayscale, dark text on light paper) with this thread's engine.
/// `dpi` is the resolution of `img` as given (after any scaling).
///
/// # Errors
/// The engine could not be initialised (missing `chi_sim`), or Tesseract refused the image.
pub fn recognise(img: &GrayImage, psm: Psm, dpi: u32) -> Result<Ocr, OcrError> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let engine = slot.get_or_insert_with(Engine::new);
        match engine {
            Ok(e) => e.recognise(img, psm, dpi),
            Err(e) => Err(e.clone()),
        }
    })
}

/// Initialise this thread's engine now and say where its data comes from. A scan calls this
/// before reading pages so that a missing `chi_sim` stops it with the clear error up front.
///
/// # Errors
/// [`OcrError::MissingChiSim`] or [`OcrError::Init`].
pub fn ready() -> Result<PathBuf, OcrError> {
    let dir = tessdata_dir()?;
    recognise(&GrayImage::new(1, 1), Psm::Line, 300)?;
    Ok(dir)
}

/// Remove the spaces chi_sim puts between CJK characters (and around them); keep single
/// spaces between Latin words. Newlines are kept (text areas have several lines).
pub fn strip_cjk_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        let chars: Vec<char> = line.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if c.is_whitespace() {
                let prev = chars[..i].iter().rev().find(|c| !c.is_whitespace());
                let next = chars[i + 1..].iter().find(|c| !c.is_whitespace());
                let latin_both =
                    matches!((prev, next), (Some(p), Some(n)) if !is_cjk(*p) && !is_cjk(*n));
                if latin_both && !out.ends_with(' ') {
                    out.push(' ');
                }
            } else {
                out.push(c);
            }
        }
    }
    out
}

/// CJK ideographs and full-width punctuation: no spaces between these in Chinese text.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3000..=0x303F   // CJK punctuation (、。「」)
        | 0x3400..=0x4DBF // Extension A
        | 0x4E00..=0x9FFF // Unified ideographs
        | 0xF900..=0xFAFF // Compatibility ideographs
        | 0xFF00..=0xFFEF // Full-width forms (，：（）)
        | 0x20000..=0x2FA1F)
}

/// Re-run this program with `OMP_THREAD_LIMIT=1` unless it is already set.
///
/// Tesseract's OpenMP runtime (libgomp) reads the variable once, when the library loads — before
/// `main` runs — so `std::env::set_var` is too late. Without it every recognition spins up
/// threads that fight rayon's workers: 44 ms instead of 6 ms per name cell. Call it first thing
/// in `main`. On Unix the process image is replaced (same pid, args, stdio, exit status); on
/// other systems the child is run and its exit status returned. If the re-exec itself fails the
/// program simply continues, slower.
pub fn ensure_single_thread_openmp() {
    if std::env::var_os("OMP_THREAD_LIMIT").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(std::env::args_os().skip(1))
        .env("OMP_THREAD_LIMIT", "1");
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        // Only returns on failure; then carry on in this process.
        let _ = cmd.exec();
    }
    #[cfg(not(unix))]
    if let Ok(status) = cmd.status() {
        std::process::exit(status.code().unwrap_or(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_between_cjk_characters_are_removed() {
        assert_eq!(strip_cjk_spaces(" 王 伟 \n"), "王伟");
        assert_eq!(strip_cjk_spaces("APEC 商 务 卡"), "APEC商务卡");
        assert_eq!(
            strip_cjk_spaces("hello  world\n\n 建 议\n"),
            "hello world\n建议"
        );
    }

    #[test]
    fn empty_tessdata_prefix_is_a_clear_missing_chi_sim_error() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            find_tessdata(Some(dir.path().as_os_str()), &[Path::new(DEFAULT_DIRS[0])]).unwrap_err();
        assert!(matches!(&err, OcrError::MissingChiSim { searched } if searched[0] == dir.path()));
        assert!(err.to_string().contains("tesseract-ocr-chi-sim"), "{err}");
    }

    #[test]
    fn tessdata_prefix_may_name_the_parent_of_tessdata() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("tessdata")).unwrap();
        std::fs::write(dir.path().join("tessdata/chi_sim.traineddata"), b"x").unwrap();
        assert_eq!(
            find_tessdata(Some(dir.path().as_os_str()), &[]).unwrap(),
            dir.path().join("tessdata")
        );
    }

    #[test]
    fn without_prefix_the_first_candidate_with_chi_sim_wins() {
        let empty = tempfile::tempdir().unwrap();
        let full = tempfile::tempdir().unwrap();
        std::fs::write(full.path().join("chi_sim.traineddata"), b"x").unwrap();
        let got = find_tessdata(Some(OsStr::new("")), &[empty.path(), full.path()]).unwrap();
        assert_eq!(got, full.path());
    }
}
