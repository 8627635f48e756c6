//! pingyi (评议): print appraisal forms, read scanned returns, count them.
//!
//! The modules follow the pipeline: `form`/`campaign` (the data) → `layout` (the geometry
//! contract) → `print` → `pages` (decode scanned inputs) → `read` (identify, align, marks,
//! questions) → `ocr` → `store` (with `scan` driving a batch) → `review` → `tally` → `report`.

pub mod annotate;
pub mod bench;
pub mod campaign;
pub mod code;
pub mod export;
pub mod folder;
pub mod form;
pub mod layout;
pub mod ocr;
pub mod pages;
pub mod place;
pub mod print;
pub mod raster;
pub mod read;
pub mod rebuild;
pub mod report;
pub mod review;
pub mod scan;
pub mod sheet;
pub mod simulate;
pub mod store;
pub mod tally;
pub mod units;
pub mod wrap;
