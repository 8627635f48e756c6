//! pingyi (评议): print appraisal forms, read scanned returns, count them.
//!
//! The modules follow the pipeline: `form`/`campaign` (the data) → `layout` (the geometry
//! contract) → `print` → `pages` (read scanned inputs) → `align` → `marks` → `ocr` →
//! `review` → `tally` → `report`.

pub mod align;
pub mod annotate;
pub mod bench;
pub mod campaign;
pub mod code;
pub mod export;
pub mod folder;
pub mod form;
pub mod layout;
pub mod marks;
pub mod ocr;
pub mod pages;
pub mod print;
pub mod raster;
pub mod read;
pub mod reading;
pub mod rebuild;
pub mod report;
pub mod review;
pub mod scan;
pub mod sheet;
pub mod simulate;
pub mod store;
pub mod tally;
pub mod units;
