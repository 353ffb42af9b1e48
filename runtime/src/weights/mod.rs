//! Weights of runtime-level pallets measured on this runtime by `scripts/benchmark-weights.sh`
//! (frame-benchmarking-cli's own template; the MBDS pallets keep theirs in their crates).
//!
//! - [`frame_system_extensions`]: the checks every signed transaction goes through (nonce,
//!   weight, era, genesis, versions), priced with this runtime's database weights (ParityDb)
//!   instead of frame-system's defaults, which assume RocksDb;
//! - [`pallet_transaction_payment`]: charging a fee (medical calls skip it, and its weight:
//!   `pallet_kmc::SkipFeeIfFeeless`).

pub mod frame_system_extensions;
pub mod pallet_transaction_payment;
