//! pingyi (评议): print appraisal forms, read scanned returns, count them.
//!
//! The modules follow the pipeline: `form`/`campaign` (the data) → `layout` (the geometry
//! contract) → `print` → `pages` (read scanned inputs) → `align` → `marks` → `ocr` →
//! `review` → `tally` → `report`.

pub mod campaign;
pub mod code;
pub mod folder;
pub mod form;
pub mod layout;
pub mod reading;
pub mod sheet;
pub mod units;
