//! OCR of the two things a person must read on a returned sheet: the name printed (or written)
//! in each row's name cell of 附2/附3, checked against the campaign roster, and the free text of
//! writing areas. Tesseract (through `leptess`) runs only on small in-memory crops, never on a
//! whole page, with one engine per worker thread.
//!
//! `OMP_THREAD_LIMIT=1` must be in the environment before the process starts (libgomp reads it
//! when the library loads): call [`ensure_single_thread_openmp`] first thing in `main`.

pub mod engine;
pub mod names;
pub mod text;

pub use engine::{ensure_single_thread_openmp, find_tessdata, ready, OcrError, Psm};
pub use names::{read_name_crop, read_names, NameRow};
pub use text::read_text;
