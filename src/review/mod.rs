//! Review: clerks clear the reader's flags in a browser before the final count.
//!
//! `pingyi review --batch DIR` serves one embedded page on loopback with a random access
//! token. The queue is every open flag, worst first; each decision is written to the batch
//! store at once as a new audit row (the machine's reading is never changed), with a version
//! check so two tabs never silently overwrite each other. `list`/`apply` are the same
//! decisions without a browser.

pub mod apply;
pub mod auth;
pub mod images;
pub mod item;
pub mod labels;
pub mod server;

pub use server::{bind, App, Bound, ReviewError};
