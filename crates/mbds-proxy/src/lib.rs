//! # mbds-proxy
//!
//! The proxy service of MBDS (MISSION parts 8-9), run by health authorities: keyword search
//! over the consortium's anchored summaries and threshold re-encryption of records, each
//! only under the patient's consent on chain and each recorded in the patient's audit trail.
//! See [`server`] for what it checks, [`api`] for the HTTP API, [`tls`] for how clients know
//! they talk to the health authority they mean, [`keys`] for the participant key file shared
//! with the `mbds` CLI.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod chain;
pub mod client;
pub mod keys;
pub mod server;
pub mod tls;

pub use client::{ProxyClient, ProxyError};
pub use keys::{ParticipantKeys, SearchKey};

/// Opens the record stores named by `specs` (a folder path, `file://…` or
/// `s3://bucket?endpoint=…` with credentials from `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY`), replicated: writes must reach every store (quorum = all), reads
/// take the first verified copy.
pub fn open_stores(specs: &[String]) -> Result<mbds_storage::ReplicatedStore, String> {
	if specs.is_empty() {
		return Err("no record store given (--store FOLDER or s3://bucket?endpoint=URL)".into());
	}
	let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default();
	let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default();
	let stores = specs
		.iter()
		.enumerate()
		.map(|(i, spec)| {
			let config = mbds_storage::StoreConfig::from_url(spec, &key, &secret)
				.map_err(|e| format!("--store {spec}: {e}"))?;
			mbds_storage::BlobStore::open(format!("store{i}"), &config)
				.map_err(|e| format!("--store {spec}: {e}"))
		})
		.collect::<Result<Vec<_>, String>>()?;
	let quorum = stores.len();
	mbds_storage::ReplicatedStore::new(stores, quorum).map_err(|e| e.to_string())
}
