//! The layout engine: form + campaign (+ branch) → exact page geometry in millimetres.
//!
//! This is the contract between printing and reading. The printer draws the `ink` of each
//! page and a QR code in `code`; the reader finds the `marks`, decodes the code, and measures
//! every `cells[i].tick` box. Both take the geometry from here and from nowhere else; the
//! layout's hash (printed in every page's code) says which geometry a scanned page carries.

use crate::campaign::{fill, Branch, Campaign, Subject};
use crate::form::{Align, Block, FormDef, Grid, ItemKind, ItemsGo, MarkThresholds, SubjectKind};
use crate::units::{PointMm, RectMm, SizeMm, A4};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Side of a solid registration square. 6 mm is ≥ 35 px even at 150 dpi, easy to find.
pub const MARK_SIZE: f64 = 6.0;
/// Distance of the marks from the paper edge: inside every office printer's unprintable margin.
pub const MARK_INSET: f64 = 8.0;
/// Left/right margin of the content: nothing but the marks is printed nearer the edge (the
/// reader looks for folds there).
pub const MARGIN_X: f64 = 20.0;
/// Top of the content, below the top marks.
pub const CONTENT_TOP: f64 = 18.0;
/// Side of the QR code's box. A version-4 code (33 modules + 2-module quiet zone each side)
/// gets 0.7 mm modules: ≥ 4 px at 150 dpi.
pub const CODE_SIZE: f64 = 26.0;
/// Gap between the code's box and the paper's right edge (the content margin) and bottom edge
/// (below the serial line): the reader looks for the code there first.
pub const CODE_FROM_RIGHT: f64 = MARGIN_X;
pub const CODE_FROM_BOTTOM: f64 = 16.0;
/// Height kept free at the bottom for the code, the serial line and the bottom marks.
const FOOTER: f64 = 46.0;
/// Side of a tick box: big enough to aim a ✓ at, small enough for 附2's 17 columns.
pub const TICK_SIZE: f64 = 5.0;
/// Stroke of a tick box outline; the reader excludes this much from the ink measurement.
pub const TICK_STROKE: f64 = 0.3;
/// Table lines: outer frame and inner rules.
const FRAME_STROKE: f64 = 0.5;
const RULE_STROKE: f64 = 0.25;
/// Millimetres per typographic point.
const MM_PER_PT: f64 = 25.4 / 72.0;

#[derive(Debug, thiserror::Error)]
pub enum LayoutError {
    #[error("form \"{form}\" lists {what} per branch: choose the branch with --branch (branches: {known})")]
    BranchRequired {
        form: String,
        what: &'static str,
        known: String,
    },
    #[error("form \"{form}\": branch \"{branch}\" has no {what} in the campaign, so there is nothing to print")]
    NoSubjects {
        form: String,
        branch: String,
        what: &'static str,
    },
    #[error(
        "form \"{form}\": block {block} is {need:.0} mm tall but a page has only {have:.0} mm"
    )]
    DoesNotFit {
        form: String,
        block: usize,
        need: f64,
        have: f64,
    },
}

/// The complete geometry of one form as printed for one campaign (and branch).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Layout {
    pub form: String,
    pub form_version: u32,
    pub title: String,
    /// First 8 hex digits of the SHA-256 of the geometry; printed in every page's code.
    pub hash: String,
    pub branch: Option<String>,
    pub size: SizeMm,
    pub thresholds: MarkThresholds,
    /// Every item's printed label and options, so readers and reviewers can speak Chinese.
    #[serde(default)]
    pub items: Vec<ItemInfo>,
    pub pages: Vec<PageLayout>,
}

/// An item (question row/column) as printed: label, kind and its options' labels.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ItemInfo {
    pub id: String,
    pub label: String,
    pub kind: ItemKind,
    /// (option id, printed label), in printed order.
    pub options: Vec<(String, String)>,
}

/// One page: where everything is, in millimetres from the top-left corner.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageLayout {
    /// 1-based.
    pub number: u32,
    /// The four registration squares: top-left, top-right, bottom-right, bottom-left.
    pub marks: [RectMm; 4],
    /// The QR code's box (the code fills it, quiet zone included).
    pub code: RectMm,
    /// Where the per-copy serial line starts (text baseline).
    pub serial_at: PointMm,
    pub cells: Vec<AnswerCell>,
    pub names: Vec<NameCell>,
    pub writing: Vec<WritingArea>,
    /// Everything else the printer draws: lines, frames, text.
    pub ink: Vec<Ink>,
}

/// One tick box: the option `option` of question `question`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnswerCell {
    /// `subject.item` on forms with subjects, else `item`.
    pub question: String,
    pub subject: Option<String>,
    pub item: String,
    pub option: String,
    /// The printed tick box (outer edge of its outline).
    pub tick: RectMm,
    /// The table cell around it (ticks often stray outside the box).
    pub cell: RectMm,
}

/// The cell holding a row's subject name (OCR checks it against the campaign).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameCell {
    /// The subject key of the row (`_w1`, `_w2`… for rows left blank for a write-in name).
    pub subject: String,
    /// The name printed there; None on write-in rows.
    pub printed: Option<String>,
    /// Where the name's glyphs are (or a write-in goes).
    pub rect: RectMm,
}

/// A place people write free text: a text box or a blank header field.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WritingArea {
    pub id: String,
    pub label: String,
    pub rect: RectMm,
    /// Review flag raised when anything is written here.
    pub flag: Option<String>,
}

/// A drawing instruction. Text `y` is the baseline.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Ink {
    Line {
        x1: f64,
        y1: f64,
        x2: f64,
        y2: f64,
        width: f64,
    },
    Frame {
        rect: RectMm,
        width: f64,
    },
    Fill {
        rect: RectMm,
    },
    Text {
        x: f64,
        y: f64,
        size: f64,
        text: String,
    },
}

impl Layout {
    pub fn item(&self, id: &str) -> Option<&ItemInfo> {
        self.items.iter().find(|i| i.id == id)
    }

    /// The printed label of an option of an item ("满意"), or the id when unknown.
    pub fn option_label<'a>(&'a self, item: &str, option: &'a str) -> &'a str {
        self.item(item)
            .and_then(|i| i.options.iter().find(|(id, _)| id == option))
            .map_or(option, |(_, l)| l.as_str())
    }

    /// The subject's printed name on this layout (row name), or None.
    pub fn subject_name(&self, subject: &str) -> Option<&str> {
        self.pages
            .iter()
            .flat_map(|p| &p.names)
            .find(|n| n.subject == subject)
            .and_then(|n| n.printed.as_deref())
    }

    pub fn page(&self, number: u32) -> Option<&PageLayout> {
        self.pages.iter().find(|p| p.number == number)
    }

    /// Every answer cell of the layout, with its page number.
    pub fn cells(&self) -> impl Iterator<Item = (u32, &AnswerCell)> {
        self.pages
            .iter()
            .flat_map(|p| p.cells.iter().map(move |c| (p.number, c)))
    }
}

/// Estimated advance of one character in ems: full-width for CJK, narrower for Latin.
/// (The printer's font has these proportions closely enough for centring and wrapping.)
fn char_em(c: char) -> f64 {
    if c.is_ascii() {
        if c == ' ' {
            0.3
        } else {
            0.55
        }
    } else {
        1.0
    }
}

/// Width of `text` at `size` pt, in millimetres.
pub fn text_width(text: &str, size: f64) -> f64 {
    text.chars().map(char_em).sum::<f64>() * size * MM_PER_PT
}

/// Break `text` into lines no wider than `width` mm, character by character as Chinese is
/// set, keeping closing punctuation off the start of a line and opening off its end.
fn wrap(text: &str, width: f64, size: f64) -> Vec<String> {
    crate::wrap::lines(text, width, |c| char_em(c) * size * MM_PER_PT)
}

/// Line pitch for a font size: 1.5 × the size reads well for Chinese.
fn line_pitch(size: f64) -> f64 {
    size * MM_PER_PT * 1.5
}

struct Pager<'a> {
    form: &'a FormDef,
    size: SizeMm,
    pages: Vec<PageLayout>,
    y: f64,
}

impl Pager<'_> {
    fn bottom(&self) -> f64 {
        self.size.h - FOOTER
    }

    fn page(&mut self) -> &mut PageLayout {
        // `new` pushes the first page and nothing pops, so there is always a last page.
        let n = self.pages.len();
        &mut self.pages[n - 1]
    }

    fn new_page(&mut self) {
        let (w, h) = (self.size.w, self.size.h);
        let m = |x: f64, y: f64| RectMm::new(x, y, MARK_SIZE, MARK_SIZE);
        let far_x = w - MARK_INSET - MARK_SIZE;
        let far_y = h - MARK_INSET - MARK_SIZE;
        let number = self.pages.len() as u32 + 1;
        let mut page = PageLayout {
            number,
            marks: [
                m(MARK_INSET, MARK_INSET),
                m(far_x, MARK_INSET),
                m(far_x, far_y),
                m(MARK_INSET, far_y),
            ],
            code: RectMm::new(
                w - CODE_FROM_RIGHT - CODE_SIZE,
                h - CODE_FROM_BOTTOM - CODE_SIZE,
                CODE_SIZE,
                CODE_SIZE,
            ),
            serial_at: PointMm::new(MARGIN_X, h - 18.0),
            cells: Vec::new(),
            names: Vec::new(),
            writing: Vec::new(),
            ink: Vec::new(),
        };
        for r in page.marks {
            page.ink.push(Ink::Fill { rect: r });
        }
        self.y = CONTENT_TOP;
        if number > 1 {
            // Continuation pages say what they continue, for the clerk sorting a dropped pile.
            let t = format!("{}(续)", self.form.title);
            page.ink.push(Ink::Text {
                x: MARGIN_X,
                y: self.y + 5.0,
                size: 12.0,
                text: t,
            });
            self.y += 10.0;
        }
        self.pages.push(page);
    }

    fn text(&mut self, x: f64, y: f64, size: f64, text: impl Into<String>) {
        let text = text.into();
        if !text.is_empty() {
            self.page().ink.push(Ink::Text { x, y, size, text });
        }
    }

    /// Text wrapped and centred (both ways) inside `r`.
    fn text_in(&mut self, r: RectMm, size: f64, text: &str) {
        let lines = wrap(text, r.w - 1.5, size);
        let pitch = line_pitch(size) * 0.85;
        let block = pitch * (lines.len().max(1) as f64 - 1.0);
        // Baseline sits ~0.35 em below the visual centre of a CJK line.
        let mut y = r.center().y - block / 2.0 + size * MM_PER_PT * 0.35;
        for l in lines {
            let x = r.center().x - text_width(&l, size) / 2.0;
            self.text(x, y, size, l);
            y += pitch;
        }
    }

    fn hline(&mut self, x1: f64, x2: f64, y: f64, width: f64) {
        self.page().ink.push(Ink::Line {
            x1,
            y1: y,
            x2,
            y2: y,
            width,
        });
    }

    fn vline(&mut self, x: f64, y1: f64, y2: f64, width: f64) {
        self.page().ink.push(Ink::Line {
            x1: x,
            y1,
            x2: x,
            y2,
            width,
        });
    }

    fn ensure(&mut self, need: f64, block: usize) -> Result<bool, LayoutError> {
        let have = self.bottom() - CONTENT_TOP - 10.0;
        if need > have {
            return Err(LayoutError::DoesNotFit {
                form: self.form.id.clone(),
                block,
                need,
                have,
            });
        }
        if self.y + need > self.bottom() {
            self.new_page();
            return Ok(true);
        }
        Ok(false)
    }
}

/// Compute the layout of `form` for `campaign`, listing `branch`'s subjects.
pub fn layout(
    form: &FormDef,
    campaign: &Campaign,
    branch: Option<&Branch>,
) -> Result<Layout, LayoutError> {
    let subjects = campaign.subjects(form.subject, branch);
    let what = match form.subject {
        SubjectKind::Candidates => "candidates",
        SubjectKind::Posts => "window posts",
        _ => "",
    };
    if form.subject == SubjectKind::Candidates && branch.is_none() {
        let known: Vec<_> = campaign.branches.iter().map(|b| b.id.as_str()).collect();
        return Err(LayoutError::BranchRequired {
            form: form.id.clone(),
            what,
            known: known.join(", "),
        });
    }
    if matches!(form.subject, SubjectKind::Candidates | SubjectKind::Posts) && subjects.is_empty() {
        return Err(LayoutError::NoSubjects {
            form: form.id.clone(),
            branch: branch.map_or_else(|| "(all)".to_string(), |b| b.name.clone()),
            what,
        });
    }
    let vars = campaign.vars(branch);
    let size = if form.landscape {
        SizeMm { w: A4.h, h: A4.w }
    } else {
        A4
    };
    let mut p = Pager {
        form,
        size,
        pages: Vec::new(),
        y: 0.0,
    };
    p.new_page();
    let content_w = size.w - 2.0 * MARGIN_X;

    // Annex label and title.
    p.text(MARGIN_X, p.y + 4.0, 12.0, form.annex.clone());
    let title = fill(&form.title, &vars);
    let tsize = 18.0;
    let tx = size.w / 2.0 - text_width(&title, tsize) / 2.0;
    p.text(tx, p.y + 13.0, tsize, title);
    p.y += 19.0;

    for (bi, block) in form.blocks.iter().enumerate() {
        match block {
            Block::Text {
                text,
                size: fs,
                align,
                space_before,
            } => {
                let lines = wrap(&fill(text, &vars), content_w, *fs);
                p.ensure(line_pitch(*fs) + space_before, bi)?;
                p.y += space_before;
                for l in lines {
                    p.ensure(line_pitch(*fs), bi)?;
                    let x = match align {
                        Align::Left => MARGIN_X,
                        Align::Center => size.w / 2.0 - text_width(&l, *fs) / 2.0,
                        Align::Right => size.w - MARGIN_X - text_width(&l, *fs),
                    };
                    p.y += line_pitch(*fs);
                    p.text(x, p.y - line_pitch(*fs) * 0.3, *fs, l);
                }
            }
            Block::Fields {
                fields,
                space_before,
            } => {
                // One line of fields, 9 mm tall: room to write by hand on the blanks.
                let h = 9.0;
                p.ensure(h + space_before, bi)?;
                p.y += space_before;
                let base = p.y + h - 2.5;
                let fs = 10.5;
                let mut x = MARGIN_X;
                for f in fields {
                    p.text(x, base, fs, f.label.clone());
                    x += text_width(&f.label, fs) + 1.0;
                    match &f.value {
                        Some(v) => {
                            let v = fill(v, &vars);
                            let vw = text_width(&v, fs).max(f.width);
                            if v.trim().is_empty() {
                                p.hline(x, x + vw, base + 1.0, RULE_STROKE);
                            }
                            p.text(x, base, fs, v);
                            x += vw + 6.0;
                        }
                        None if f.width > 0.0 => {
                            p.hline(x, x + f.width, base + 1.0, RULE_STROKE);
                            if let Some(id) = &f.id {
                                let rect = RectMm::new(x, p.y, f.width, h);
                                p.page().writing.push(WritingArea {
                                    id: id.clone(),
                                    label: f.label.clone(),
                                    rect,
                                    flag: None,
                                });
                            }
                            x += f.width + 4.0;
                        }
                        None => x += 2.0,
                    }
                }
                p.y += h + 1.0;
            }
            Block::TextBox(t) => {
                let label_h = 8.0;
                p.ensure(t.height + 2.0, bi)?;
                p.y += 2.0;
                let outer = RectMm::new(MARGIN_X, p.y, content_w, t.height);
                p.page().ink.push(Ink::Frame {
                    rect: outer,
                    width: FRAME_STROKE,
                });
                p.text(MARGIN_X + 2.0, p.y + 5.5, 10.5, t.label.clone());
                // The writing area starts under the printed label and keeps off the frame.
                let rect = RectMm::new(
                    outer.x + 1.5,
                    outer.y + label_h,
                    outer.w - 3.0,
                    outer.h - label_h - 1.5,
                );
                p.page().writing.push(WritingArea {
                    id: t.id.clone(),
                    label: t.label.clone(),
                    rect,
                    flag: t.flag.clone(),
                });
                p.y += t.height + 2.0;
            }
            Block::Grid(g) => match g.items_go {
                ItemsGo::Down => grid_down(&mut p, form, g, &subjects, content_w, bi)?,
                ItemsGo::Across => grid_across(&mut p, form, g, &subjects, content_w, bi)?,
            },
        }
    }

    let total = p.pages.len();
    for page in &mut p.pages {
        let text = format!("第 {} 页 / 共 {} 页", page.number, total);
        let x = size.w / 2.0 - text_width(&text, 9.0) / 2.0;
        page.ink.push(Ink::Text {
            x,
            y: size.h - 18.0,
            size: 9.0,
            text,
        });
    }
    let hash = hash_pages(form, &p.pages, size);
    Ok(Layout {
        form: form.id.clone(),
        form_version: form.version,
        title: fill(&form.title, &vars),
        hash,
        branch: branch.map(|b| b.id.clone()),
        size,
        thresholds: form.marks,
        items: form
            .items()
            .map(|(_, i)| ItemInfo {
                id: i.id.clone(),
                label: i.label.clone(),
                kind: i.kind,
                options: form
                    .scale(&i.scale)
                    .map(|s| {
                        s.options
                            .iter()
                            .map(|o| (o.id.clone(), o.label.replace(' ', "")))
                            .collect()
                    })
                    .unwrap_or_default(),
            })
            .collect(),
        pages: p.pages,
    })
}

fn hash_pages(form: &FormDef, pages: &[PageLayout], size: SizeMm) -> String {
    let mut h = Sha256::new();
    h.update(form.id.as_bytes());
    h.update(form.version.to_le_bytes());
    // Serialising our own plain structs cannot fail; fall back to Debug just in case.
    let geometry =
        serde_json::to_vec(&(size, pages)).unwrap_or_else(|_| format!("{pages:?}").into_bytes());
    h.update(&geometry);
    h.finalize()
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn question_id(subject: Option<&str>, item: &str) -> String {
    match subject {
        Some(s) => format!("{s}.{item}"),
        None => item.to_string(),
    }
}

/// Push a tick box centred in `cell`.
fn tick(p: &mut Pager, cell: RectMm, subject: Option<&str>, item: &str, option: &str) {
    let c = cell.center();
    let tick = RectMm::new(
        c.x - TICK_SIZE / 2.0,
        c.y - TICK_SIZE / 2.0,
        TICK_SIZE,
        TICK_SIZE,
    );
    let page = p.page();
    page.ink.push(Ink::Frame {
        rect: tick,
        width: TICK_STROKE,
    });
    page.cells.push(AnswerCell {
        question: question_id(subject, item),
        subject: subject.map(str::to_string),
        item: item.to_string(),
        option: option.to_string(),
        tick,
        cell,
    });
}

/// Print a subject's name (and post title) in its cell and record the name's glyph box.
fn name_cell(p: &mut Pager, cell: RectMm, key: &str, subject: Option<&Subject>) {
    let name_size = 12.0;
    let glyph_h = name_size * MM_PER_PT;
    let name_y = match subject.and_then(|s| s.detail.as_deref()) {
        Some(detail) => {
            let top = RectMm::new(cell.x, cell.y + 1.0, cell.w, cell.h / 2.0 - 2.0);
            p.text_in(top, 8.0, detail);
            cell.y + cell.h * 0.62
        }
        None => cell.center().y,
    };
    if let Some(s) = subject {
        let x = cell.center().x - text_width(&s.name, name_size) / 2.0;
        p.text(x, name_y + glyph_h * 0.35, name_size, s.name.clone());
    }
    // OCR box: the name line with a margin of half a glyph, inside the cell rules.
    let rect = RectMm::new(
        cell.x + 1.0,
        name_y - glyph_h * 0.85,
        cell.w - 2.0,
        glyph_h * 1.7,
    );
    p.page().names.push(NameCell {
        subject: key.to_string(),
        printed: subject.map(|s| s.name.clone()),
        rect,
    });
}

/// Items down, options across; a band of item rows per subject (附1, 附3).
fn grid_down(
    p: &mut Pager,
    form: &FormDef,
    g: &Grid,
    subjects: &[Subject],
    content_w: f64,
    bi: usize,
) -> Result<(), LayoutError> {
    let named = matches!(form.subject, SubjectKind::Candidates | SubjectKind::Posts);
    let n_opts = g
        .items
        .iter()
        .filter_map(|i| form.scale(&i.scale))
        .map(|s| s.options.len())
        .max()
        .unwrap_or(1);
    let name_w = if named { 34.0 } else { 0.0 };
    // Option columns 22 mm wide when they fit; narrower for long scales.
    let opt_w = (22.0f64).min((content_w - name_w - 50.0) / n_opts as f64);
    let item_w = content_w - name_w - opt_w * n_opts as f64;
    let x0 = MARGIN_X;
    let xi = x0 + name_w;
    let xo = xi + item_w;
    let header_h = 10.0;
    let rh = g.row_height;
    let scale_of = |item: &crate::form::Item| form.scale(&item.scale);
    // The header takes its option labels from the first item's scale.
    let header_opts: Vec<String> = g
        .items
        .first()
        .and_then(scale_of)
        .map(|s| s.options.iter().map(|o| o.label.clone()).collect())
        .unwrap_or_default();

    let bands: Vec<Option<&Subject>> = if named {
        subjects.iter().map(Some).collect()
    } else {
        g.items.iter().map(|_| None).collect()
    };
    let rows_per_band = if named { g.items.len() } else { 1 };

    let mut table_top = f64::NAN;
    let header = |p: &mut Pager, top: f64| {
        let y = top;
        if named {
            p.text_in(
                RectMm::new(x0, y, name_w, header_h),
                10.5,
                g.name_header.as_deref().unwrap_or(""),
            );
        }
        p.text_in(
            RectMm::new(xi, y, item_w, header_h),
            10.5,
            g.item_header.as_deref().unwrap_or(""),
        );
        for (k, l) in header_opts.iter().enumerate() {
            p.text_in(
                RectMm::new(xo + opt_w * k as f64, y, opt_w, header_h),
                10.5,
                l,
            );
        }
        p.hline(x0, x0 + content_w, y + header_h, RULE_STROKE);
    };
    let close = |p: &mut Pager, top: f64| {
        let bottom = p.y;
        p.page().ink.push(Ink::Frame {
            rect: RectMm::new(x0, top, content_w, bottom - top),
            width: FRAME_STROKE,
        });
        let mut xs = vec![xo];
        if named {
            xs.push(xi);
        }
        xs.extend((1..n_opts).map(|k| xo + opt_w * k as f64));
        for x in xs {
            p.vline(x, top, bottom, RULE_STROKE);
        }
    };

    p.ensure(header_h + rh * rows_per_band as f64 + 2.0, bi)?;
    p.y += 2.0;
    table_top = if table_top.is_nan() { p.y } else { table_top };
    header(p, table_top);
    p.y += header_h;
    for (bn, band) in bands.iter().enumerate() {
        let band_h = rh * rows_per_band as f64;
        if p.y + band_h > p.bottom() {
            close(p, table_top);
            p.new_page();
            table_top = p.y;
            header(p, table_top);
            p.y += header_h;
        }
        let band_top = p.y;
        let items: Vec<&crate::form::Item> = if named {
            g.items.iter().collect()
        } else {
            vec![&g.items[bn]]
        };
        for (r, item) in items.iter().enumerate() {
            let y = band_top + rh * r as f64;
            p.text_in(RectMm::new(xi, y, item_w, rh), 10.5, &item.label);
            if let Some(scale) = scale_of(item) {
                for (k, o) in scale.options.iter().enumerate() {
                    let cell = RectMm::new(xo + opt_w * k as f64, y, opt_w, rh);
                    tick(p, cell, band.map(|s| s.id.as_str()), &item.id, &o.id);
                }
            }
            if r + 1 < items.len() {
                p.hline(xi, x0 + content_w, y + rh, RULE_STROKE);
            }
        }
        if let Some(s) = band {
            name_cell(p, RectMm::new(x0, band_top, name_w, band_h), &s.id, Some(s));
        }
        p.y = band_top + band_h;
        if bn + 1 < bands.len() {
            p.hline(x0, x0 + content_w, p.y, RULE_STROKE);
        }
    }
    close(p, table_top);
    p.y += 2.0;
    Ok(())
}

/// One row per subject; each item a group of option columns (附2).
fn grid_across(
    p: &mut Pager,
    form: &FormDef,
    g: &Grid,
    subjects: &[Subject],
    content_w: f64,
    bi: usize,
) -> Result<(), LayoutError> {
    let name_w = 30.0;
    // A check column holds one box under a wrapped label like 是否推荐为优秀党员.
    let check_w = 20.0;
    let n_checks = g.items.iter().filter(|i| i.kind == ItemKind::Check).count();
    let groups: Vec<(&crate::form::Item, Vec<(String, String)>)> = g
        .items
        .iter()
        .map(|i| {
            let opts = form
                .scale(&i.scale)
                .map(|s| {
                    s.options
                        .iter()
                        .map(|o| (o.id.clone(), o.label.clone()))
                        .collect()
                })
                .unwrap_or_default();
            (i, opts)
        })
        .collect();
    let n_opt_cols: usize = groups
        .iter()
        .filter(|(i, _)| i.kind != ItemKind::Check)
        .map(|(_, o)| o.len())
        .sum();
    let opt_w = (content_w - name_w - check_w * n_checks as f64) / n_opt_cols.max(1) as f64;
    let x0 = MARGIN_X;
    let (h1, h2) = (12.0, 10.0);
    let rh = g.row_height;

    // Column x positions per item.
    let mut cols: Vec<(f64, f64)> = Vec::new(); // (x, width) of each item group
    let mut x = x0 + name_w;
    for (i, opts) in &groups {
        let w = if i.kind == ItemKind::Check {
            check_w
        } else {
            opt_w * opts.len() as f64
        };
        cols.push((x, w));
        x += w;
    }

    let header = |p: &mut Pager, top: f64| {
        p.text_in(
            RectMm::new(x0, top, name_w, h1 + h2),
            10.5,
            g.name_header.as_deref().unwrap_or(""),
        );
        for ((item, opts), (cx, cw)) in groups.iter().zip(&cols) {
            if item.kind == ItemKind::Check {
                p.text_in(RectMm::new(*cx, top, *cw, h1 + h2), 9.0, &item.label);
            } else {
                p.text_in(RectMm::new(*cx, top, *cw, h1), 9.0, &item.label);
                p.hline(*cx, cx + cw, top + h1, RULE_STROKE);
                for (k, (_, label)) in opts.iter().enumerate() {
                    p.text_in(
                        RectMm::new(cx + opt_w * k as f64, top + h1, opt_w, h2),
                        8.0,
                        label,
                    );
                }
            }
        }
        p.hline(x0, x0 + content_w, top + h1 + h2, RULE_STROKE);
    };
    let close = |p: &mut Pager, top: f64| {
        let bottom = p.y;
        p.page().ink.push(Ink::Frame {
            rect: RectMm::new(x0, top, content_w, bottom - top),
            width: FRAME_STROKE,
        });
        p.vline(x0 + name_w, top, bottom, RULE_STROKE);
        for ((item, opts), (cx, _)) in groups.iter().zip(&cols) {
            p.vline(*cx, top, bottom, FRAME_STROKE.min(RULE_STROKE * 2.0));
            if item.kind != ItemKind::Check {
                for k in 1..opts.len() {
                    p.vline(cx + opt_w * k as f64, top + h1, bottom, RULE_STROKE);
                }
            }
        }
    };

    let mut rows: Vec<(String, Option<&Subject>)> =
        subjects.iter().map(|s| (s.id.clone(), Some(s))).collect();
    rows.extend((1..=g.extra_blank_rows).map(|k| (format!("_w{k}"), None)));

    p.ensure(h1 + h2 + rh + 2.0, bi)?;
    p.y += 2.0;
    let mut top = p.y;
    header(p, top);
    p.y += h1 + h2;
    for (rn, (key, subject)) in rows.iter().enumerate() {
        if p.y + rh > p.bottom() {
            close(p, top);
            p.new_page();
            top = p.y;
            header(p, top);
            p.y += h1 + h2;
        }
        let y = p.y;
        name_cell(p, RectMm::new(x0, y, name_w, rh), key, *subject);
        for ((item, opts), (cx, _)) in groups.iter().zip(&cols) {
            for (k, (oid, _)) in opts.iter().enumerate() {
                let w = if item.kind == ItemKind::Check {
                    check_w
                } else {
                    opt_w
                };
                let cell = RectMm::new(cx + w * k as f64, y, w, rh);
                tick(p, cell, Some(key), &item.id, oid);
            }
        }
        p.y += rh;
        if rn + 1 < rows.len() {
            p.hline(x0, x0 + content_w, p.y, RULE_STROKE);
        }
    }
    close(p, top);
    p.y += 2.0;
    Ok(())
}

/// The exported contract (`pingyi layout --json`): PDF points from each page's top-left.
#[derive(Debug, Serialize)]
pub struct LayoutJson {
    pub form: String,
    pub form_version: u32,
    pub layout_hash: String,
    pub branch: Option<String>,
    pub units: &'static str,
    pub pages: Vec<PageJson>,
}

#[derive(Debug, Serialize)]
pub struct PageJson {
    pub page: u32,
    pub width: f64,
    pub height: f64,
    pub marks: Vec<crate::units::RectPt>,
    pub code: crate::units::RectPt,
    pub cells: Vec<CellJson>,
    pub names: Vec<NameJson>,
    pub text_boxes: Vec<BoxJson>,
}

#[derive(Debug, Serialize)]
pub struct CellJson {
    pub question: String,
    pub subject: Option<String>,
    pub item: String,
    pub option: String,
    #[serde(rename = "box")]
    pub tick: crate::units::RectPt,
}

#[derive(Debug, Serialize)]
pub struct NameJson {
    pub subject: String,
    pub printed: Option<String>,
    #[serde(rename = "box")]
    pub rect: crate::units::RectPt,
}

#[derive(Debug, Serialize)]
pub struct BoxJson {
    pub id: String,
    pub label: String,
    pub flag: Option<String>,
    #[serde(rename = "box")]
    pub rect: crate::units::RectPt,
}

impl Layout {
    /// The contract in PDF points, as `pingyi layout --json` prints it.
    pub fn to_json(&self) -> LayoutJson {
        let pt = crate::units::mm_to_pt;
        LayoutJson {
            form: self.form.clone(),
            form_version: self.form_version,
            layout_hash: self.hash.clone(),
            branch: self.branch.clone(),
            units: "PDF points (1/72 inch) from the page's top-left corner, y down",
            pages: self
                .pages
                .iter()
                .map(|p| PageJson {
                    page: p.number,
                    width: (pt(self.size.w) * 100.0).round() / 100.0,
                    height: (pt(self.size.h) * 100.0).round() / 100.0,
                    marks: p.marks.iter().map(RectMm::to_pt).collect(),
                    code: p.code.to_pt(),
                    cells: p
                        .cells
                        .iter()
                        .map(|c| CellJson {
                            question: c.question.clone(),
                            subject: c.subject.clone(),
                            item: c.item.clone(),
                            option: c.option.clone(),
                            tick: c.tick.to_pt(),
                        })
                        .collect(),
                    names: p
                        .names
                        .iter()
                        .map(|n| NameJson {
                            subject: n.subject.clone(),
                            printed: n.printed.clone(),
                            rect: n.rect.to_pt(),
                        })
                        .collect(),
                    text_boxes: p
                        .writing
                        .iter()
                        .map(|w| BoxJson {
                            id: w.id.clone(),
                            label: w.label.clone(),
                            flag: w.flag.clone(),
                            rect: w.rect.to_pt(),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// Questions of this layout in order, each with its option ids and whether it is a check box.
    pub fn questions(&self) -> BTreeMap<String, Vec<String>> {
        let mut q: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (_, c) in self.cells() {
            q.entry(c.question.clone())
                .or_default()
                .push(c.option.clone());
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form;
    use std::path::Path;

    fn root() -> &'static Path {
        Path::new(env!("CARGO_MANIFEST_DIR"))
    }

    fn campaign() -> Campaign {
        Campaign::load(&root().join("fixtures/campaign/campaign.toml")).unwrap()
    }

    fn seed(id: &str) -> FormDef {
        form::load_dir(&root().join("forms"))
            .unwrap()
            .into_iter()
            .find(|f| f.id == id)
            .unwrap()
    }

    #[test]
    fn branch_form_has_five_items_of_four_grades_on_one_page() {
        let c = campaign();
        let l = layout(&seed("branch"), &c, c.branch("jiguan1")).unwrap();
        assert_eq!(l.pages.len(), 1);
        assert_eq!(l.pages[0].cells.len(), 20);
        assert_eq!(l.questions().len(), 5);
        assert!(l.pages[0].writing.iter().any(|w| w.id == "suggestions"));
    }

    #[test]
    fn member_form_has_a_row_per_candidate_plus_write_in_and_needs_a_branch() {
        let c = campaign();
        let f = seed("member");
        assert!(matches!(
            layout(&f, &c, None),
            Err(LayoutError::BranchRequired { .. })
        ));
        let b = c.branch("jiguan1").unwrap();
        let l = layout(&f, &c, Some(b)).unwrap();
        let rows = b.candidates.len() + 1;
        assert_eq!(l.cells().count(), rows * 17);
        let names: usize = l.pages.iter().map(|p| p.names.len()).sum();
        assert_eq!(names, rows);
        assert!(l.size.w > l.size.h, "附2 prints landscape");
    }

    #[test]
    fn window_form_spans_pages_when_posts_do_not_fit_and_repeats_the_header() {
        let mut c = campaign();
        let template = c.posts[0].clone();
        for k in 0..12 {
            let mut p = template.clone();
            p.id = format!("x{k}");
            c.posts.push(p);
        }
        let l = layout(&seed("window"), &c, None).unwrap();
        assert!(l.pages.len() >= 2);
        assert_eq!(l.cells().count(), c.posts.len() * 16);
        for p in &l.pages {
            assert!(
                p.ink
                    .iter()
                    .any(|i| matches!(i, Ink::Text { text, .. } if text == "窗口岗位姓名")),
                "header on page {}",
                p.number
            );
        }
    }

    #[test]
    fn nothing_is_drawn_outside_the_content_area_and_cells_do_not_overlap() {
        let c = campaign();
        for f in form::load_dir(&root().join("forms")).unwrap() {
            let l = layout(&f, &c, c.branch("jiguan1")).unwrap();
            for p in &l.pages {
                for (i, a) in p.cells.iter().enumerate() {
                    assert!(
                        a.tick.bottom() < l.size.h - FOOTER,
                        "{} {}",
                        f.id,
                        a.question
                    );
                    assert!(a.tick.x >= MARGIN_X && a.tick.right() <= l.size.w - MARGIN_X);
                    for b in &p.cells[i + 1..] {
                        let apart = a.tick.right() <= b.tick.x
                            || b.tick.right() <= a.tick.x
                            || a.tick.bottom() <= b.tick.y
                            || b.tick.bottom() <= a.tick.y;
                        assert!(apart, "{} overlaps {}", a.question, b.question);
                    }
                }
            }
        }
    }

    #[test]
    fn the_hash_is_deterministic_and_changes_with_the_names() {
        let c = campaign();
        let f = seed("member");
        let a = layout(&f, &c, c.branch("jiguan1")).unwrap();
        let b = layout(&f, &c, c.branch("jiguan1")).unwrap();
        let d = layout(&f, &c, c.branch("jiguan2")).unwrap();
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, d.hash);
        assert_eq!(a.hash.len(), 8);
    }

    #[test]
    fn a_fourth_form_needs_no_rust() {
        let f = form::load_file(&root().join("fixtures/forms/course.toml")).unwrap();
        let l = layout(&f, &campaign(), None).unwrap();
        assert_eq!(l.cells().count(), 25);
    }
}
