//! Typed queries of the MBDS runtime APIs: one function per runtime-API method, with the
//! runtime's own argument and answer types, so that no caller names a `state_call` method in a
//! string or picks the type to decode an answer into.
//!
//! Each function calls the method at block `at` (the best block if `None`); errors are those of
//! [`Client::call_at`] (the endpoint and the method, or the decoding that failed). The unit
//! tests check every method named here against the runtime's own metadata.

use crate::{Client, Result};
use mbds_primitives::{
	consent::{AccessTarget, Action, Grant, GrantId, RequestId},
	BlockNumber, ChainId, Moment,
};
use mbds_runtime::{AccountId, Runtime};
use sp_core::H256;

/// One item of a batch summary, as the runtime builds it.
pub type SummaryItem = pallet_slips::SummaryItemOf<Runtime>;
/// One slip, as the runtime stores it.
pub type Slip = pallet_slips::SlipOf<Runtime>;
/// One anchored summary item on the consortium.
pub type Summary = pallet_anchor::AnchoredSummary<SummaryItem, BlockNumber>;
/// One entry of a patient's audit trail.
pub type AuditEntry = pallet_consent::AuditRecord<AccountId, BlockNumber>;
/// A pending access request.
pub type AccessRequest = pallet_consent::AccessRequest<AccountId>;

/// `AnchorApi`: the anchored summaries on the consortium.
pub mod anchor {
	use super::*;
	pub use pallet_anchor::{ConsortiumSlipId, LightClientInfo};
	pub use pallet_slips::BatchId;

	/// A consortium slip, as the runtime stores it.
	pub type ConsortiumSlip = pallet_anchor::ConsortiumSlip<SummaryItem, BlockNumber>;

	/// `AnchorApi_summaries_of`: `patient`'s items anchored at consortium block `since` or
	/// later (all if `None`), oldest first, at most 256.
	pub fn summaries_of(
		client: &Client,
		patient: &AccountId,
		since: Option<BlockNumber>,
		at: Option<H256>,
	) -> Result<Vec<Summary>> {
		client.call_at("AnchorApi_summaries_of", (patient, since), at)
	}

	/// `AnchorApi_patient_summaries`: `patient`'s items from position `start` of their index,
	/// at most `limit` (capped at 256 by the runtime).
	pub fn patient_summaries(
		client: &Client,
		patient: &AccountId,
		start: u32,
		limit: u32,
		at: Option<H256>,
	) -> Result<Vec<Summary>> {
		client.call_at("AnchorApi_patient_summaries", (patient, start, limit), at)
	}

	/// `AnchorApi_lookup_labels` (version 2): the items of `patient`'s searchable index
	/// carrying each of `labels`, in order (none where a label is not in it, at most one per
	/// chain); at most 256 labels.
	pub fn lookup_labels(
		client: &Client,
		patient: &AccountId,
		labels: &[[u8; 32]],
		at: Option<H256>,
	) -> Result<Vec<Vec<Summary>>> {
		client.call_at("AnchorApi_lookup_labels", (patient, labels.to_vec()), at)
	}

	/// `AnchorApi_unindexed_count` (version 2): number of `patient`'s anchored items without
	/// an index label (searched with the dPEKS trapdoor only).
	pub fn unindexed_count(client: &Client, patient: &AccountId, at: Option<H256>) -> Result<u32> {
		client.call_at("AnchorApi_unindexed_count", patient, at)
	}

	/// `AnchorApi_patient_summary_count`: number of items anchored about `patient`.
	pub fn patient_summary_count(
		client: &Client,
		patient: &AccountId,
		at: Option<H256>,
	) -> Result<u32> {
		client.call_at("AnchorApi_patient_summary_count", patient, at)
	}

	/// `AnchorApi_anchored`: the next batch id of `chain_id` and its best finalised block
	/// number, if registered.
	pub fn anchored(
		client: &Client,
		chain_id: ChainId,
		at: Option<H256>,
	) -> Result<Option<(BatchId, BlockNumber)>> {
		client.call_at("AnchorApi_anchored", chain_id, at)
	}

	/// `AnchorApi_light_client`: the light-client state of `chain_id`, if registered.
	pub fn light_client(
		client: &Client,
		chain_id: ChainId,
		at: Option<H256>,
	) -> Result<Option<LightClientInfo<BlockNumber>>> {
		client.call_at("AnchorApi_light_client", chain_id, at)
	}

	/// `AnchorApi_is_imported`: is `hash` an imported header of `chain_id`?
	pub fn is_imported(
		client: &Client,
		chain_id: ChainId,
		hash: H256,
		at: Option<H256>,
	) -> Result<bool> {
		client.call_at("AnchorApi_is_imported", (chain_id, hash), at)
	}

	/// `AnchorApi_consortium_slip`: a consortium slip.
	pub fn consortium_slip(
		client: &Client,
		id: ConsortiumSlipId,
		at: Option<H256>,
	) -> Result<Option<ConsortiumSlip>> {
		client.call_at("AnchorApi_consortium_slip", id, at)
	}
}

/// `SlipsApi`: the slip ledger of a private chain.
pub mod slips {
	use super::*;
	pub use pallet_slips::{BatchId, BatchInfo, SlipId};

	/// A closed batch with some of its items and their Merkle proofs.
	pub type BatchWithProofs = pallet_slips::BatchWithProofs<BlockNumber, SummaryItem>;

	/// `SlipsApi_slip`: one slip.
	pub fn slip(client: &Client, slip_id: SlipId, at: Option<H256>) -> Result<Option<Slip>> {
		client.call_at("SlipsApi_slip", slip_id, at)
	}

	/// `SlipsApi_patient_slips`: slips about `patient` at positions `start..start + limit` of
	/// their list (`limit` capped at 256), in submission order; expired positions are skipped,
	/// so page up to [`patient_slip_count`] at one block hash.
	pub fn patient_slips(
		client: &Client,
		patient: &AccountId,
		start: u32,
		limit: u32,
		at: Option<H256>,
	) -> Result<Vec<(SlipId, Slip)>> {
		client.call_at("SlipsApi_patient_slips", (patient, start, limit), at)
	}

	/// `SlipsApi_patient_slip_count`: number of positions in `patient`'s list.
	pub fn patient_slip_count(
		client: &Client,
		patient: &AccountId,
		at: Option<H256>,
	) -> Result<u32> {
		client.call_at("SlipsApi_patient_slip_count", patient, at)
	}

	/// `SlipsApi_batch`: a closed batch's record (root, item count, ...).
	pub fn batch(
		client: &Client,
		batch: BatchId,
		at: Option<H256>,
	) -> Result<Option<BatchInfo<BlockNumber>>> {
		client.call_at("SlipsApi_batch", batch, at)
	}

	/// `SlipsApi_batch_with_proofs`: a closed batch with items `start..start + limit` (capped
	/// at 256) and their Merkle proofs against the batch root.
	pub fn batch_with_proofs(
		client: &Client,
		batch: BatchId,
		start: u32,
		limit: u32,
		at: Option<H256>,
	) -> Result<Option<BatchWithProofs>> {
		client.call_at("SlipsApi_batch_with_proofs", (batch, start, limit), at)
	}

	/// `SlipsApi_next_batch_id`: the id the next batch gets.
	pub fn next_batch_id(client: &Client, at: Option<H256>) -> Result<BatchId> {
		client.call_at("SlipsApi_next_batch_id", (), at)
	}
}

/// `ConsentApi`: consent answers and audit trails on the consortium (call it at a finalised
/// block where the answer matters).
pub mod consent {
	use super::*;

	/// `ConsentApi_is_access_allowed`: may `user` perform `action` on `target` of `patient`'s
	/// records at `now` (Unix ms)?
	pub fn is_access_allowed(
		client: &Client,
		patient: &AccountId,
		user: &AccountId,
		target: &AccessTarget,
		action: Action,
		now: Moment,
		at: Option<H256>,
	) -> Result<bool> {
		client.call_at("ConsentApi_is_access_allowed", (patient, user, target, action, now), at)
	}

	/// `ConsentApi_audit_trail`: the patient's audit trail from `seq` `from`, at most `limit`
	/// entries (at most 256), in order, with the trail's total length.
	pub fn audit_trail(
		client: &Client,
		patient: &AccountId,
		from: u64,
		limit: u32,
		at: Option<H256>,
	) -> Result<(u64, Vec<AuditEntry>)> {
		client.call_at("ConsentApi_audit_trail", (patient, from, limit), at)
	}

	/// `ConsentApi_audit_head`: the trail's length and the commitment to all of it
	/// (`pallet_consent::audit_chain_head`).
	pub fn audit_head(
		client: &Client,
		patient: &AccountId,
		at: Option<H256>,
	) -> Result<(u64, [u8; 32])> {
		client.call_at("ConsentApi_audit_head", patient, at)
	}

	/// `ConsentApi_grants_of`: the patient's stored grants.
	pub fn grants_of(
		client: &Client,
		patient: &AccountId,
		at: Option<H256>,
	) -> Result<Vec<(GrantId, Grant<AccountId>)>> {
		client.call_at("ConsentApi_grants_of", patient, at)
	}

	/// `ConsentApi_pending_requests`: the patient's unanswered access requests.
	pub fn pending_requests(
		client: &Client,
		patient: &AccountId,
		at: Option<H256>,
	) -> Result<Vec<(RequestId, AccessRequest)>> {
		client.call_at("ConsentApi_pending_requests", patient, at)
	}
}

/// `GrandpaApi`: the GRANDPA authority set (what a light client or the consortium's
/// `pallet-anchor` is registered with).
pub mod grandpa {
	use super::*;
	pub use sp_consensus_grandpa::{AuthorityList, SetId};

	/// `GrandpaApi_grandpa_authorities`: the current authority set's authorities and weights.
	pub fn grandpa_authorities(client: &Client, at: Option<H256>) -> Result<AuthorityList> {
		client.call_at("GrandpaApi_grandpa_authorities", (), at)
	}

	/// `GrandpaApi_current_set_id`: the current authority set's id.
	pub fn current_set_id(client: &Client, at: Option<H256>) -> Result<SetId> {
		client.call_at("GrandpaApi_current_set_id", (), at)
	}
}

#[cfg(test)]
mod tests {
	use codec::Decode;
	use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed};

	/// Every method called above, with its number of arguments.
	const METHODS: &[(&str, &str, usize)] = &[
		("AnchorApi", "summaries_of", 2),
		("AnchorApi", "patient_summaries", 3),
		("AnchorApi", "patient_summary_count", 1),
		("AnchorApi", "anchored", 1),
		("AnchorApi", "light_client", 1),
		("AnchorApi", "is_imported", 2),
		("AnchorApi", "consortium_slip", 1),
		("AnchorApi", "lookup_labels", 2),
		("AnchorApi", "unindexed_count", 1),
		("SlipsApi", "slip", 1),
		("SlipsApi", "patient_slips", 3),
		("SlipsApi", "patient_slip_count", 1),
		("SlipsApi", "batch", 1),
		("SlipsApi", "batch_with_proofs", 3),
		("SlipsApi", "next_batch_id", 0),
		("ConsentApi", "is_access_allowed", 5),
		("ConsentApi", "audit_trail", 3),
		("ConsentApi", "audit_head", 1),
		("ConsentApi", "grants_of", 1),
		("ConsentApi", "pending_requests", 1),
		("GrandpaApi", "grandpa_authorities", 0),
		("GrandpaApi", "current_set_id", 0),
	];
	/// The APIs of MBDS's own pallets: each of their methods has a query.
	const MBDS_APIS: &[&str] = &["AnchorApi", "SlipsApi", "ConsentApi"];

	#[test]
	fn every_query_names_a_runtime_api_method_with_its_arity() {
		let opaque = mbds_runtime::Runtime::metadata_at_version(15).expect("metadata V15");
		let RuntimeMetadataPrefixed(_, RuntimeMetadata::V15(m)) =
			RuntimeMetadataPrefixed::decode(&mut &opaque[..]).expect("metadata decodes")
		else {
			panic!("not V15 metadata");
		};
		for (api, method, arity) in METHODS {
			let found = m
				.apis
				.iter()
				.filter(|a| a.name == *api)
				.flat_map(|a| a.methods.iter())
				.find(|m| m.name == *method)
				.unwrap_or_else(|| panic!("{api}_{method}: not a runtime-API method"));
			assert_eq!(found.inputs.len(), *arity, "{api}_{method}: arguments");
		}
		// And every method of MBDS's own APIs has its query.
		for a in m.apis.iter().filter(|a| MBDS_APIS.contains(&a.name.as_str())) {
			for method in &a.methods {
				assert!(
					METHODS.iter().any(|(api, name, _)| a.name == *api && method.name == *name),
					"{}_{}: no query for it",
					a.name,
					method.name
				);
			}
		}
	}

	/// The source's method strings agree with the table above (no typo in a string).
	#[test]
	fn the_source_calls_only_the_listed_methods() {
		let src = include_str!("queries.rs");
		let body = &src[..src.find("#[cfg(test)]").expect("tests")];
		let called: Vec<&str> = body
			.split("call_at(\"")
			.skip(1)
			.map(|s| &s[..s.find('"').expect("closing quote")])
			.collect();
		assert_eq!(called.len(), METHODS.len());
		for (api, method, _) in METHODS {
			assert!(called.contains(&format!("{api}_{method}").as_str()), "{api}_{method}");
		}
	}
}
