//! The patient gives the proxies key fragments for a grantee (`consent grant|approve|share`) and
//! later delivers the ones a proxy could not take (`consent retry`): `mbds_client::sharing`
//! does it; this shows its progress and reports fragments it could not keep.

use crate::{args::ShareArgs, common::spinner};
use mbds_client::{Client, ParticipantKeys};
use mbds_runtime::AccountId;
use std::path::Path;

pub use mbds_client::sharing::{retry, Shared};

/// Gives one key fragment for `grantee` to each `--proxy`; succeeds if at least `--threshold`
/// took theirs (the rest wait in the pending file beside `key_file`).
pub fn share(
	keys: &ParticipantKeys,
	key_file: &Path,
	consortium: &Client,
	grantee: &AccountId,
	s: &ShareArgs,
) -> Result<Shared, String> {
	let pb = (!s.proxies.is_empty())
		.then(|| spinner(format!("giving {} proxies their sealed key fragments", s.proxies.len())));
	let shared =
		mbds_client::sharing::share(keys, key_file, consortium, grantee, &s.proxies, s.threshold);
	if let Some(pb) = pb {
		pb.finish_and_clear();
	}
	let shared = shared?;
	for lost in &shared.lost {
		eprintln!("mbds: {lost}");
	}
	Ok(shared)
}
