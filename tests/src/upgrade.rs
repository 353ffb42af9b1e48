//! Runtime upgrades on running chains: the rehearsal runtimes `scripts/build-upgrade-wasm.sh`
//! builds from this tree, and the try-runtime check of their migrations over a copy of a live
//! node's state.
//!
//! The check does what `try-runtime on-runtime-upgrade live` does (the try-runtime CLI is not
//! part of polkadot-sdk stable2609): read every storage pair of the chain at its finalised
//! head over RPC, put the new code under `:code`, and run the try-runtime build's
//! `TryRuntime_on_runtime_upgrade` in a wasm executor over that state. Every migration's
//! `pre_upgrade`/`post_upgrade`, the pallets' storage versions and their `try_state` checks
//! run; a failing one fails the call with its message.

use crate::client::Client;
use codec::{Decode, Encode};
use sp_core::H256;
use std::{
	path::PathBuf,
	time::{Duration, Instant},
};

/// The rehearsal runtime (spec_version + 1, pallet-kmc storage version 2).
pub const REHEARSAL: &str = "mbds_runtime_rehearsal";
/// The same with the try-runtime checks.
pub const REHEARSAL_TRY: &str = "mbds_runtime_rehearsal_try";

/// Where `scripts/build-upgrade-wasm.sh` puts the runtime `name`.
pub fn rehearsal_path(name: &str) -> PathBuf {
	crate::target_dir().join("upgrade-rehearsal").join(format!("{name}.wasm"))
}

/// The rehearsal runtime `name`, as built (uncompressed). Panics naming the command that
/// builds it if it is missing.
pub fn rehearsal_wasm(name: &str) -> Vec<u8> {
	let path = rehearsal_path(name);
	std::fs::read(&path).unwrap_or_else(|e| {
		panic!(
			"{}: {e}: build the upgrade rehearsal runtimes first with scripts/build-upgrade-wasm.sh (scripts/test.sh does)",
			path.display()
		)
	})
}

/// `code` compressed the way the runtime's own build ships it (zstd with Substrate's prefix):
/// what a council submits.
pub fn compressed(code: &[u8]) -> Vec<u8> {
	sp_maybe_compressed_blob::compress_strongly(
		code,
		sp_maybe_compressed_blob::CODE_BLOB_BOMB_LIMIT,
	)
	.expect("a runtime below the 50 MiB bomb limit compresses")
}

/// Every top-level storage pair of the chain behind `client` at block `at`.
pub fn snapshot(client: &Client, at: H256) -> Result<Vec<(Vec<u8>, Vec<u8>)>, String> {
	use serde_json::json;
	const PAGE: usize = 1000;
	let at_hex = crate::client::hex_of(at.as_bytes());
	let mut keys = Vec::new();
	let mut start: Option<String> = None;
	loop {
		let page = client
			.rpc
			.call("state_getKeysPaged", json!(["0x", PAGE, start, at_hex]))
			.map_err(|e| e.to_string())?;
		let page: Vec<String> =
			serde_json::from_value(page).map_err(|e| format!("state_getKeysPaged: {e}"))?;
		let done = page.len() < PAGE;
		start = page.last().cloned();
		keys.extend(page);
		if done {
			break;
		}
	}
	let mut pairs = Vec::with_capacity(keys.len());
	for chunk in keys.chunks(PAGE) {
		let sets = client
			.rpc
			.call("state_queryStorageAt", json!([chunk, at_hex]))
			.map_err(|e| e.to_string())?;
		for change in sets[0]["changes"].as_array().ok_or("state_queryStorageAt: no changes")? {
			let key = crate::client::bytes_of(&change[0]).map_err(|e| e.to_string())?;
			if change[1].is_null() {
				continue;
			}
			let value = crate::client::bytes_of(&change[1]).map_err(|e| e.to_string())?;
			pairs.push((key, value));
		}
	}
	Ok(pairs)
}

/// The SCALE encoding of `frame_support::traits::UpgradeCheckSelect`, which frame-support
/// defines only with its `try-runtime` feature (the native build must not enable it): the
/// variants in their order there.
#[derive(Encode)]
#[allow(dead_code)]
enum UpgradeCheckSelect {
	None,
	All,
	PreAndPost,
	TryState,
}

/// What [`try_runtime_upgrade`] measured.
#[derive(Debug)]
pub struct TryRuntimeReport {
	/// Storage pairs in the snapshot.
	pub pairs: usize,
	/// The weight the migrations declared (ref time, ps) and the block's maximum.
	pub weight: (u64, u64),
	/// Time to run the migrations and every check.
	pub took: Duration,
}

/// Runs the migrations of the try-runtime build `code` over `state` (a snapshot of a running
/// chain) with every check (`UpgradeCheckSelect::All`). `Err` carries the failing check's
/// message.
pub fn try_runtime_upgrade(
	code: &[u8],
	state: Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<TryRuntimeReport, String> {
	use sc_executor::WasmExecutor;
	use sc_executor_common::runtime_blob::RuntimeBlob;
	let pairs = state.len();
	let mut storage = sp_core::storage::Storage::default();
	storage.top.extend(state);
	// The new code, as the chain would hold it after the upgrade.
	storage.top.insert(sp_core::storage::well_known_keys::CODE.to_vec(), code.to_vec());
	let mut ext = sp_io::TestExternalities::new(storage);
	let executor = WasmExecutor::<sp_io::SubstrateHostFunctions>::builder().build();
	let blob = RuntimeBlob::uncompress_if_needed(code).map_err(|e| format!("the wasm: {e}"))?;
	let start = Instant::now();
	let out = executor
		.uncached_call(
			blob,
			&mut ext.ext(),
			false,
			"TryRuntime_on_runtime_upgrade",
			&UpgradeCheckSelect::All.encode(),
		)
		.map_err(|e| format!("TryRuntime_on_runtime_upgrade: {e}"))?;
	let took = start.elapsed();
	let (used, max) = <(sp_runtime::Weight, sp_runtime::Weight)>::decode(&mut &out[..])
		.map_err(|e| format!("TryRuntime_on_runtime_upgrade answer: {e}"))?;
	Ok(TryRuntimeReport { pairs, weight: (used.ref_time(), max.ref_time()), took })
}

/// `state` as a chain on spec 104 held it, before `pallet-governance`'s storage version 2:
/// version 1 and no `SessionStart`; and before `pallet-kmc` recorded who suspended a
/// participant: no `SuspendedBy`. The production upgrade from spec 104 runs
/// `RecordSessionStart` over such a state; a chain started on spec 105 never does.
pub fn as_spec_104(state: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
	let key = |pallet: &[u8], item: &[u8]| {
		[sp_io::hashing::twox_128(pallet), sp_io::hashing::twox_128(item)].concat()
	};
	let (start, version) =
		(key(b"Governance", b"SessionStart"), key(b"Governance", b":__STORAGE_VERSION__:"));
	let suspenders = key(b"Kmc", b"SuspendedBy");
	state
		.iter()
		.filter(|(k, _)| *k != start && !k.starts_with(&suspenders))
		.map(
			|(k, v)| {
				if *k == version {
					(k.clone(), 1u16.encode())
				} else {
					(k.clone(), v.clone())
				}
			},
		)
		.collect()
}
