//! One module per top-level command: each owns its clap arguments and its `run`.

pub mod access;
pub mod alerts;
pub mod audit;
pub mod consent;
pub mod emergency;
pub mod institution;
pub mod keys;
pub mod kmc;
pub mod record;
pub mod search;
pub mod slips;
pub mod trapdoor;
pub mod visit;
