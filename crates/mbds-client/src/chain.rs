//! Typed reads of MBDS chains used by the proxy and the CLI: registered keys, anchored
//! summaries, consent answers and audit trails (runtime APIs through [`crate::queries`]).

use crate::{queries, Client, Error, Result};
use mbds_crypto::{PeksPublicKey, PrePublicKey, TesterPublicKey};
use mbds_primitives::consent::{AccessTarget, Action, RecordId};
use mbds_runtime::{AccountId, Runtime};
use pallet_kmc::{KeyScheme, KeySetOf, ParticipantOf};
use sp_core::{crypto::Ss58Codec, H256};

pub use crate::queries::{AuditEntry, Summary};

/// The registry entry of `who` on the chain behind `client`, if registered.
pub fn participant(client: &Client, who: &AccountId) -> Result<Option<ParticipantOf<Runtime>>> {
	client.storage(&pallet_kmc::Participants::<Runtime>::hashed_key_for(who))
}

/// The active key set of `who`, or an error saying they are not registered there.
pub fn key_set(client: &Client, who: &AccountId) -> Result<KeySetOf<Runtime>> {
	client
		.storage::<KeySetOf<Runtime>>(&pallet_kmc::ActiveKeys::<Runtime>::hashed_key_for(who))?
		.ok_or_else(|| Error::NotRegistered {
			who: who.to_ss58check(),
			chain: client.rpc.url.clone(),
		})
}

/// The registered record (Umbral) key of `who`.
pub fn record_key(client: &Client, who: &AccountId) -> Result<PrePublicKey> {
	let set = key_set(client, who)?;
	if set.record_key.scheme != KeyScheme::UmbralSecp256k1V1 {
		return Err(Error::invalid(
			"record key",
			format!(
				"{}: record key scheme {:?} is not one this client reads",
				who.to_ss58check(),
				set.record_key.scheme
			),
		));
	}
	PrePublicKey::from_compressed_bytes(&set.record_key.key)
		.map_err(|e| Error::crypto(format!("{}: registered record key", who.to_ss58check()), e))
}

/// The registered PEKS receiver key of patient `who`.
pub fn search_key(client: &Client, who: &AccountId) -> Result<PeksPublicKey> {
	let set = key_set(client, who)?;
	PeksPublicKey::from_bytes(&set.search_key.key)
		.map_err(|e| Error::crypto(format!("{}: registered search key", who.to_ss58check()), e))
}

/// The registered designated-tester key of proxy `who`.
pub fn tester_key(client: &Client, who: &AccountId) -> Result<TesterPublicKey> {
	let set = key_set(client, who)?;
	TesterPublicKey::from_bytes(&set.search_key.key).map_err(|e| {
		Error::crypto(
			format!("{}: registered search key is not a proxy's tester key", who.to_ss58check()),
			e,
		)
	})
}

/// All of `patient`'s anchored summaries at consortium block `at`, oldest first, paging
/// by index position up to the patient's item count.
pub fn summaries(client: &Client, patient: &AccountId, at: Option<H256>) -> Result<Vec<Summary>> {
	let count = queries::anchor::patient_summary_count(client, patient, at)?;
	let mut out: Vec<Summary> = Vec::new();
	let mut start = 0u32;
	while start < count {
		let page = queries::anchor::patient_summaries(client, patient, start, 256, at)?;
		let Some(last) = page.last() else { break };
		start = last.position.saturating_add(1);
		out.extend(page);
	}
	Ok(out)
}

/// The consent answer at consortium block `at`: may `user` do `action` on record `hash` of
/// `patient` at `now` (Unix ms)?
pub fn may_access(
	client: &Client,
	patient: &AccountId,
	user: &AccountId,
	hash: H256,
	action: Action,
	now: u64,
	at: Option<H256>,
) -> Result<bool> {
	let target = AccessTarget::Record { id: RecordId::Hash(hash), categories: Default::default() };
	queries::consent::is_access_allowed(client, patient, user, &target, action, now, at)
}

/// The patient's whole audit trail kept in storage (the ring), oldest first.
pub fn audit_trail(client: &Client, patient: &AccountId) -> Result<Vec<AuditEntry>> {
	Ok(audit_trail_checked(client, patient)?.entries)
}

/// A patient's audit trail as kept in state, read at one block, and what the on-chain
/// commitment says of it.
pub struct CheckedTrail {
	/// The entries still in state, in order.
	pub entries: Vec<AuditEntry>,
	/// Entries ever written (older ones left the ring; an archive node has them).
	pub total: u64,
	/// True if the entries in state are the whole trail and fold to the on-chain commitment
	/// (`ConsentApi_audit_head`); false if some left state (check an archive copy with
	/// `pallet_consent::audit_chain_head`).
	pub complete: bool,
}

/// Reads the patient's trail and its commitment at the same (best) block. Fails if a whole
/// trail does not match its commitment: the node served a trail that is not the chain's.
pub fn audit_trail_checked(client: &Client, patient: &AccountId) -> Result<CheckedTrail> {
	let best = client.best_number()?;
	let at = Some(client.block_hash(best)?.ok_or_else(|| Error::Rpc {
		url: client.rpc.url.clone(),
		method: format!("chain_getBlockHash({best})"),
		message: "best block vanished".into(),
	})?);
	let mut entries: Vec<AuditEntry> = Vec::new();
	let mut from = 0u64;
	let (total, head) = queries::consent::audit_head(client, patient, at)?;
	while from < total {
		let (_, page) = queries::consent::audit_trail(client, patient, from, 256, at)?;
		let Some(last) = page.last() else { break };
		from = last.seq + 1;
		entries.extend(page);
	}
	let complete = entries.first().is_none_or(|e| e.seq == 0) && entries.len() as u64 == total;
	if complete && pallet_consent::audit_chain_head(&entries) != Some(head) {
		return Err(Error::Verification(format!(
			"the audit trail of {patient} read from the consortium node does not match the chain's commitment to it (ConsentApi_audit_head); do not trust this node"
		)));
	}
	Ok(CheckedTrail { entries, total, complete })
}

/// `0x` hex of a hash.
pub fn hash_hex(h: &H256) -> String {
	format!("0x{}", hex::encode(h.as_bytes()))
}

/// Parses a `0x` hex 32-byte hash, naming `what` on error.
pub fn parse_hash(what: &str, s: &str) -> Result<H256> {
	let b = hex::decode(s.trim().trim_start_matches("0x"))
		.map_err(|e| Error::invalid(what, format!("{what}: {s:?} is not hex: {e}")))?;
	if b.len() != 32 {
		return Err(Error::invalid(
			what,
			format!("{what}: {} bytes, expected a 32-byte hash", b.len()),
		));
	}
	Ok(H256::from_slice(&b))
}
