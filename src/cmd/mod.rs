//! One module per subcommand: its flags (`Args`) and `run`. anyhow lives here, at the edge.

pub mod annotate;
pub mod bench;
pub mod demo;
pub mod explain;
pub mod export;
pub mod layout;
pub mod print;
pub mod rebuild;
pub mod review;
pub mod scan;
pub mod simulate;
pub mod tally;
