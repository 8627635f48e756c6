//! Form definitions: the data a user writes under `forms/` to describe a paper form.
//!
//! A form is a title, some blocks laid out top to bottom (text, header fields, answer grids,
//! free-text boxes, signature lines), the answer scales, the mark thresholds the reader uses,
//! and the counting rules the tally applies. Nothing about a particular form lives in Rust:
//! the three seed forms are just the first three files.
//!
//! Ids (form, scale, option, item, box) are stable ASCII so exports and the QR code stay
//! machine-friendly; every label stays Chinese.

mod load;
mod rules;
mod seed;

pub use load::{load_dir, load_file, parse, FormError};
pub use rules::{OverLimit, QuotaRounding, Ratio, RecommendRule, Rules};
pub use seed::{seed_forms, SEED_FORMS};

use serde::{Deserialize, Serialize};

/// One paper form (附1, 附2, …) as written in `forms/*.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FormDef {
    /// Short ASCII id, printed in every page's QR code (≤ 12 chars keeps the code small).
    pub id: String,
    /// Bump when the paper changes; part of the layout hash.
    #[serde(default = "one")]
    pub version: u32,
    /// The annex label printed top-left, e.g. "附1".
    #[serde(default)]
    pub annex: String,
    /// The form's title, printed centred and large.
    pub title: String,
    /// What one answered row is about: the branch itself, a candidate, or a window post.
    pub subject: SubjectKind,
    /// Print on A4 landscape (wide tables such as 附2's 17 tick columns).
    #[serde(default)]
    pub landscape: bool,
    /// Answer scales (e.g. the four grades), referenced by items.
    pub scales: Vec<Scale>,
    /// The page content, top to bottom.
    pub blocks: Vec<Block>,
    /// How dark a tick box must be to count (share of new ink inside the box).
    #[serde(default)]
    pub marks: MarkThresholds,
    /// Counting rules for the tally stage.
    #[serde(default)]
    pub rules: Rules,
}

fn one() -> u32 {
    1
}

/// What one sheet's rows are about; the campaign supplies the names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// The whole sheet appraises one branch (附1); fixed item rows.
    Branch,
    /// One row per excellent-member candidate of the branch (附2).
    Candidates,
    /// One band of rows per window post (附3).
    Posts,
    /// No subject: a plain questionnaire (e.g. a course evaluation).
    None,
}

/// A named list of answer options, e.g. the four grades 满意 / 比较满意 / 基本满意 / 不满意.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    pub id: String,
    pub options: Vec<OptionDef>,
}

/// One answer option: a tick box on paper.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionDef {
    pub id: String,
    pub label: String,
}

/// One piece of page content.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Block {
    /// A paragraph. `{placeholders}` are filled from the campaign (see `campaign::Campaign::vars`).
    Text {
        text: String,
        /// Font size in points.
        #[serde(default = "body_pt")]
        size: f64,
        #[serde(default)]
        align: Align,
        /// Extra space above, in millimetres.
        #[serde(default)]
        space_before: f64,
    },
    /// One line of `label: value` fields (e.g. 所在支部名称 / 评议时间). A field with no value
    /// is left as a blank line to write on; give it an `id` to have the reader keep its crop.
    Fields {
        fields: Vec<Field>,
        #[serde(default)]
        space_before: f64,
    },
    /// An answer table.
    Grid(Grid),
    /// A free-text box (suggestions, integrity feedback).
    TextBox(TextBoxDef),
}

fn body_pt() -> f64 {
    // 10.5 pt is Chinese 五号, the usual body size on official forms.
    10.5
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Align {
    #[default]
    Left,
    Center,
    Right,
}

/// A `label: value` pair on a fields line.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub label: String,
    /// Printed value; `{placeholders}` allowed. None leaves a line to write on.
    #[serde(default)]
    pub value: Option<String>,
    /// Width of the blank line to write on when there is no value, in millimetres.
    #[serde(default = "field_width")]
    pub width: f64,
    /// Set to keep the handwritten value's crop (a writing region in the layout).
    #[serde(default)]
    pub id: Option<String>,
}

fn field_width() -> f64 {
    // Room for about eight handwritten characters.
    40.0
}

/// An answer table: items (questions) against the options of their scale.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub id: String,
    /// `down`: one row per item, options as columns (附1, 附3). `across`: one row per subject,
    /// each item a group of option columns (附2).
    pub items_go: ItemsGo,
    /// Header of the leftmost (subject name) column; only for forms with named subjects.
    #[serde(default)]
    pub name_header: Option<String>,
    /// Header of the item-label column when items go down (e.g. "测评项目").
    #[serde(default)]
    pub item_header: Option<String>,
    pub items: Vec<Item>,
    /// Row height in millimetres.
    #[serde(default = "row_height")]
    pub row_height: f64,
    /// Blank rows printed for hand-written names (附2 leaves room for write-ins).
    #[serde(default)]
    pub extra_blank_rows: u32,
}

fn row_height() -> f64 {
    // 9 mm: a comfortable tick target, close to the seed's tables.
    9.0
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemsGo {
    Down,
    Across,
}

/// One question asked of each subject (or once, without subjects).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub label: String,
    /// The scale whose options are this item's tick boxes.
    pub scale: String,
    /// Single choice (one tick) or a yes/no box.
    #[serde(default)]
    pub kind: ItemKind,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Exactly one option should be ticked; two ticks are an overvote.
    #[default]
    Single,
    /// A single box: ticked means yes (e.g. 是否推荐为优秀党员).
    Check,
}

/// A free-text box.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextBoxDef {
    pub id: String,
    pub label: String,
    /// Height in millimetres.
    #[serde(default = "textbox_height")]
    pub height: f64,
    /// Writing here raises this review flag (附3's integrity box → `integrity_feedback`).
    #[serde(default)]
    pub flag: Option<String>,
}

fn textbox_height() -> f64 {
    // About four handwritten lines.
    30.0
}

/// Mark classification thresholds: the share of the box's paper pixels that new ink darkened.
/// At or above `definite`: marked. Below `marginal`: empty. Between: flagged for a person.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkThresholds {
    pub marginal: f64,
    pub definite: f64,
}

impl Default for MarkThresholds {
    fn default() -> Self {
        // Measured by `make accuracy` (as in the seed forms): empty boxes and specks stay below
        // 0.02, the smallest real ticks score from ≈ 0.05 — a new form starts from the same.
        Self {
            marginal: 0.02,
            definite: 0.05,
        }
    }
}

impl FormDef {
    pub fn scale(&self, id: &str) -> Option<&Scale> {
        self.scales.iter().find(|s| s.id == id)
    }

    /// Every answer grid of the form.
    pub fn grids(&self) -> impl Iterator<Item = &Grid> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Grid(g) => Some(g),
            _ => None,
        })
    }

    /// Every item of every grid, with its grid.
    pub fn items(&self) -> impl Iterator<Item = (&Grid, &Item)> {
        self.grids()
            .flat_map(|g| g.items.iter().map(move |i| (g, i)))
    }

    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items().map(|(_, i)| i).find(|i| i.id == id)
    }

    /// Every free-text box.
    pub fn text_boxes(&self) -> impl Iterator<Item = &TextBoxDef> {
        self.blocks.iter().filter_map(|b| match b {
            Block::TextBox(t) => Some(t),
            _ => None,
        })
    }
}
