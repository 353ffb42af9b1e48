//! # mbds-proxy
//!
//! The proxy service of MBDS (MISSION parts 8-9), run by health authorities: keyword search
//! over the consortium's anchored summaries and threshold re-encryption of records, each
//! only under the patient's consent on chain and each recorded in the patient's audit trail.
//! See [`server`] for what it checks and [`tls`] for its certificate. Its HTTP API (the wire
//! types), the client of it, the participant key file and the typed chain reads are
//! `mbds-client`'s (`mbds_client::proxy`, `keys`, `chain`), shared with the `mbds` CLI.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod consortium;
pub mod metrics;
pub mod server;
pub mod tls;
pub mod verified;
