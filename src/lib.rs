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
pub mod ocr;
pub mod pages;
pub mod print;
pub mod reading;
pub mod review;
pub mod report;
pub mod sheet;
pub mod simulate;
pub mod tally;
pub mod store;
pub mod units;
pub mod align;
pub mod marks;
pub mod raster;
pub mod read;
pub mod scan;
pub mod export;
pub mod annotate;
pub mod bench;
