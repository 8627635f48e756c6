//! Loading and validating form files. Every error names the file, the line and the field, so
//! a clerk who edits a form can fix it without reading Rust.

use super::{Block, FormDef, ItemKind, ItemsGo, SubjectKind};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Why a form file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum FormError {
    #[error("cannot read form file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}:{line}: field `{field}`: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        field: String,
        message: String,
    },
    #[error("two form files use the id \"{id}\": {first} and {second}")]
    DuplicateId {
        id: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("no form with id \"{id}\" (known: {known})")]
    Unknown { id: String, known: String },
}

/// Load and validate one form file.
pub fn load_file(path: &Path) -> Result<FormDef, FormError> {
    let src = std::fs::read_to_string(path).map_err(|source| FormError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&src, path)
}

/// Load every `*.toml` form in a folder, sorted by file name; ids must be unique.
pub fn load_dir(dir: &Path) -> Result<Vec<FormDef>, FormError> {
    let io = |source| FormError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut forms: Vec<(FormDef, PathBuf)> = Vec::new();
    for p in paths {
        let f = load_file(&p)?;
        if let Some((_, first)) = forms.iter().find(|(g, _)| g.id == f.id) {
            return Err(FormError::DuplicateId {
                id: f.id.clone(),
                first: first.clone(),
                second: p,
            });
        }
        forms.push((f, p));
    }
    Ok(forms.into_iter().map(|(f, _)| f).collect())
}

/// Parse and validate form TOML; `path` is only used in error messages.
pub fn parse(src: &str, path: &Path) -> Result<FormDef, FormError> {
    let form: FormDef = toml::from_str(src).map_err(|e| {
        let start = e.span().map_or(0, |s| s.start);
        let start = refine_unknown_field(src, start, e.message());
        let (line, column) = line_col(src, start);
        FormError::Syntax {
            path: path.to_path_buf(),
            line,
            column,
            message: e.message().trim().to_string(),
        }
    })?;
    Validator {
        src,
        path,
        errs: None,
    }
    .check(&form)?;
    Ok(form)
}

/// toml points an unknown key in a tagged table at the table's header; point at the key.
fn refine_unknown_field(src: &str, start: usize, message: &str) -> usize {
    // Serde loses spans inside tagged tables: find the offending key, or the offending string
    // value (`invalid type: string "tall"`), on the lines after the table's header.
    let key = message
        .strip_prefix("unknown field `")
        .and_then(|m| m.split('`').next())
        .map(str::to_string)
        .or_else(|| {
            let v = message.split("string \"").nth(1)?.split('"').next()?;
            Some(format!("\"{v}\""))
        });
    let Some(key) = key else {
        return start;
    };
    let key = key.as_str();
    let start = start.min(src.len());
    let mut offset = start;
    for line in src[start..].split_inclusive('\n') {
        if line.trim_start().starts_with(key) {
            return offset + (line.len() - line.trim_start().len());
        }
        if key.starts_with('"') {
            if let Some(i) = line.find(key) {
                return offset + i;
            }
        }
        offset += line.len();
    }
    start
}

fn line_col(src: &str, byte: usize) -> (usize, usize) {
    let before = &src[..byte.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Validator<'a> {
    src: &'a str,
    path: &'a Path,
    errs: Option<FormError>,
}

/// Ids go into QR codes, CSV headers and URLs: keep them to lowercase ASCII.
fn is_ascii_id(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl Validator<'_> {
    /// The first line mentioning `needle` (a value in quotes), to point the user at it.
    fn line_of(&self, needle: &str) -> usize {
        let quoted = format!("\"{needle}\"");
        self.src
            .lines()
            .position(|l| l.contains(&quoted))
            .or_else(|| self.src.lines().position(|l| l.contains(needle)))
            .map_or(1, |i| i + 1)
    }

    fn fail(&mut self, field: String, near: &str, message: String) {
        if self.errs.is_none() {
            self.errs = Some(FormError::Invalid {
                path: self.path.to_path_buf(),
                line: self.line_of(near),
                field,
                message,
            });
        }
    }

    fn id(&mut self, field: String, id: &str) {
        if !is_ascii_id(id) {
            self.fail(
                field,
                id,
                format!("id \"{id}\" must be lowercase ASCII letters, digits or _"),
            );
        }
    }

    fn check(mut self, f: &FormDef) -> Result<(), FormError> {
        self.id("id".into(), &f.id);
        if f.id.len() > 12 {
            // The id travels in every page's QR code; longer ids push it to a bigger version.
            self.fail("id".into(), &f.id, "at most 12 characters".into());
        }
        if f.title.trim().is_empty() {
            self.fail("title".into(), "title", "must not be empty".into());
        }
        if f.scales.is_empty() {
            self.fail(
                "scales".into(),
                "scales",
                "define at least one scale".into(),
            );
        }
        let mut scale_ids = HashSet::new();
        for (si, s) in f.scales.iter().enumerate() {
            self.id(format!("scales[{si}].id"), &s.id);
            if !scale_ids.insert(s.id.as_str()) {
                self.fail(
                    format!("scales[{si}].id"),
                    &s.id,
                    format!("scale \"{}\" defined twice", s.id),
                );
            }
            if s.options.is_empty() {
                self.fail(
                    format!("scales[{si}].options"),
                    &s.id,
                    "a scale needs at least one option".into(),
                );
            }
            let mut opt_ids = HashSet::new();
            for (oi, o) in s.options.iter().enumerate() {
                self.id(format!("scales[{si}].options[{oi}].id"), &o.id);
                if !opt_ids.insert(o.id.as_str()) {
                    self.fail(
                        format!("scales[{si}].options[{oi}].id"),
                        &o.id,
                        format!("option \"{}\" appears twice", o.id),
                    );
                }
            }
        }
        let mut item_ids = HashSet::new();
        let mut box_ids = HashSet::new();
        let mut grids = 0;
        for (bi, b) in f.blocks.iter().enumerate() {
            match b {
                Block::Grid(g) => {
                    grids += 1;
                    self.id(format!("blocks[{bi}].id"), &g.id);
                    if g.items.is_empty() {
                        self.fail(
                            format!("blocks[{bi}].items"),
                            &g.id,
                            "a grid needs at least one item".into(),
                        );
                    }
                    if !(5.0..=30.0).contains(&g.row_height) {
                        // Below 5 mm a tick box no longer fits; above 30 mm is not a table row.
                        self.fail(
                            format!("blocks[{bi}].row_height"),
                            "row_height",
                            "must be between 5 and 30 mm".into(),
                        );
                    }
                    if g.items_go == ItemsGo::Across && f.subject == SubjectKind::Branch {
                        self.fail(format!("blocks[{bi}].items_go"), "items_go", "\"across\" needs one row per subject: use subject = \"candidates\" or \"posts\"".into());
                    }
                    for (ii, it) in g.items.iter().enumerate() {
                        let field = format!("blocks[{bi}].items[{ii}]");
                        self.id(format!("{field}.id"), &it.id);
                        if !item_ids.insert(it.id.clone()) {
                            self.fail(
                                format!("{field}.id"),
                                &it.id,
                                format!("item \"{}\" appears twice", it.id),
                            );
                        }
                        match f.scale(&it.scale) {
                            None => {
                                let known: Vec<_> =
                                    f.scales.iter().map(|s| s.id.as_str()).collect();
                                self.fail(
                                    format!("{field}.scale"),
                                    &it.scale,
                                    format!(
                                        "unknown scale \"{}\" (scales: {})",
                                        it.scale,
                                        known.join(", ")
                                    ),
                                );
                            }
                            Some(s) if it.kind == ItemKind::Check && s.options.len() != 1 => {
                                self.fail(format!("{field}.kind"), &it.id, format!("a check item needs a scale with exactly one option; \"{}\" has {}", s.id, s.options.len()));
                            }
                            Some(_) => {}
                        }
                    }
                }
                Block::TextBox(t) => {
                    self.id(format!("blocks[{bi}].id"), &t.id);
                    if !box_ids.insert(t.id.clone()) {
                        self.fail(
                            format!("blocks[{bi}].id"),
                            &t.id,
                            format!("box \"{}\" appears twice", t.id),
                        );
                    }
                    if !(8.0..=200.0).contains(&t.height) {
                        // Under 8 mm nobody can write a line; over 200 mm leaves no page.
                        self.fail(
                            format!("blocks[{bi}].height"),
                            &t.id,
                            "must be between 8 and 200 mm".into(),
                        );
                    }
                    if let Some(flag) = &t.flag {
                        self.id(format!("blocks[{bi}].flag"), flag);
                    }
                }
                Block::Fields { fields, .. } => {
                    for (fi, fd) in fields.iter().enumerate() {
                        if let Some(id) = &fd.id {
                            self.id(format!("blocks[{bi}].fields[{fi}].id"), id);
                            if !box_ids.insert(id.clone()) {
                                self.fail(
                                    format!("blocks[{bi}].fields[{fi}].id"),
                                    id,
                                    format!("box \"{id}\" appears twice"),
                                );
                            }
                        }
                    }
                }
                Block::Text { size, .. } => {
                    if !(6.0..=28.0).contains(size) {
                        // Below 6 pt is unreadable on paper; above 28 pt is a poster.
                        self.fail(
                            format!("blocks[{bi}].size"),
                            "size",
                            "font size must be between 6 and 28 pt".into(),
                        );
                    }
                }
            }
        }
        if grids == 0 {
            self.fail(
                "blocks".into(),
                "blocks",
                "a form needs at least one grid of tick boxes".into(),
            );
        }
        let m = f.marks;
        if !(m.marginal > 0.0 && m.marginal <= m.definite && m.definite < 1.0) {
            self.fail(
                "marks".into(),
                "marginal",
                format!(
                    "need 0 < marginal ≤ definite < 1, got marginal {} definite {}",
                    m.marginal, m.definite
                ),
            );
        }
        for (i, s) in f.rules.satisfied.iter().enumerate() {
            if !f
                .scales
                .iter()
                .any(|sc| sc.options.iter().any(|o| &o.id == s))
            {
                self.fail(
                    format!("rules.satisfied[{i}]"),
                    s,
                    format!("\"{s}\" is not an option of any scale"),
                );
            }
        }
        if let Some(r) = &f.rules.recommend {
            match f.item(&r.item) {
                Some(it) if it.kind == ItemKind::Check => {}
                Some(_) => self.fail(
                    "rules.recommend.item".into(),
                    &r.item,
                    format!("item \"{}\" must be kind = \"check\"", r.item),
                ),
                None => self.fail(
                    "rules.recommend.item".into(),
                    &r.item,
                    format!("no item \"{}\" in this form", r.item),
                ),
            }
            if r.max_per_sheet == 0 {
                self.fail(
                    "rules.recommend.max_per_sheet".into(),
                    "max_per_sheet",
                    "must be at least 1".into(),
                );
            }
        }
        match self.errs {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
id = "mini"
title = "小表"
subject = "none"

[[scales]]
id = "grade"
options = [{ id = "good", label = "好" }, { id = "bad", label = "差" }]

[[blocks]]
type = "grid"
id = "main"
items_go = "down"
items = [{ id = "q1", label = "问题一", scale = "grade" }]
"#;

    fn err(src: &str) -> String {
        parse(src, Path::new("forms/x.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_minimal_form_loads() {
        let f = parse(MINIMAL, Path::new("x.toml")).unwrap();
        assert_eq!(f.id, "mini");
        assert_eq!(f.items().count(), 1);
    }

    #[test]
    fn a_missing_field_names_file_and_line() {
        let e = err(&MINIMAL.replace("title = \"小表\"\n", ""));
        assert!(e.starts_with("forms/x.toml:"), "{e}");
        assert!(e.contains("title"), "{e}");
    }

    #[test]
    fn an_unknown_scale_names_the_field_and_its_line() {
        let e = err(&MINIMAL.replace("scale = \"grade\" }", "scale = \"grades\" }"));
        assert!(e.contains("forms/x.toml:14:"), "{e}");
        assert!(e.contains("blocks[0].items[0].scale"), "{e}");
        assert!(e.contains("unknown scale \"grades\""), "{e}");
    }

    #[test]
    fn a_typo_in_a_key_is_refused_with_its_line() {
        let e = err(&MINIMAL.replace("items_go", "itemz_go"));
        assert!(e.contains("forms/x.toml:13:"), "{e}");
    }

    #[test]
    fn a_wrong_type_inside_a_block_points_at_its_line() {
        let e = err(&MINIMAL.replace(
            "items_go = \"down\"",
            "items_go = \"down\"\nrow_height = \"tall\"",
        ));
        assert!(e.contains("forms/x.toml:14:"), "{e}");
    }

    #[test]
    fn non_ascii_ids_are_refused() {
        let e = err(&MINIMAL.replace("id = \"q1\"", "id = \"问题\""));
        assert!(e.contains("lowercase ASCII"), "{e}");
    }

    #[test]
    fn thresholds_must_be_ordered() {
        let e = err(&format!(
            "{MINIMAL}\n[marks]\nmarginal = 0.2\ndefinite = 0.1\n"
        ));
        assert!(e.contains("marginal ≤ definite"), "{e}");
    }
}
