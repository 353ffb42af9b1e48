//! Opening the record stores.

use crate::{Error, Result};

/// Opens the record stores named by `specs` (a folder path, `file://…` or
/// `s3://bucket?endpoint=…` with credentials from `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY`), replicated: writes must reach every store (quorum = all), reads
/// take the first verified copy.
pub fn open_stores(specs: &[String]) -> Result<mbds_storage::ReplicatedStore> {
	if specs.is_empty() {
		return Err(Error::invalid(
			"--store",
			"no record store given (--store FOLDER or s3://bucket?endpoint=URL)",
		));
	}
	let key = std::env::var("AWS_ACCESS_KEY_ID").unwrap_or_default();
	let secret = std::env::var("AWS_SECRET_ACCESS_KEY").unwrap_or_default();
	let stores = specs
		.iter()
		.enumerate()
		.map(|(i, spec)| {
			let store_error = |error| Error::Store { spec: spec.clone(), error };
			let config =
				mbds_storage::StoreConfig::from_url(spec, &key, &secret).map_err(store_error)?;
			mbds_storage::BlobStore::open(format!("store{i}"), &config).map_err(store_error)
		})
		.collect::<Result<Vec<_>>>()?;
	let quorum = stores.len();
	Ok(mbds_storage::ReplicatedStore::new(stores, quorum)?)
}
