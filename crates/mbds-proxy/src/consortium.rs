//! Everything the proxy needs from the consortium chain, behind one trait ([`Consortium`]), so
//! that how the proxy trusts the chain can change without touching the proxy: [`RpcConsortium`]
//! believes one node's RPC answers (today's behaviour); a verified implementation (storage
//! proofs checked against GRANDPA-finalised headers) can replace it, and the proxy's unit tests
//! run against an in-memory double.
//!
//! Every read names the block it reads at: a block [`Consortium::finalized`] returned (or one
//! that [`Consortium::record`] reported final). Nothing is read at a node's best block.

use mbds_client::chain::{self, Summary};
use mbds_client::{Client, Inclusion, Submitted};
use mbds_crypto::{PrePublicKey, TesterPublicKey};
use mbds_primitives::consent::Action;
use mbds_runtime::{AccountId, Runtime, RuntimeCall, RuntimeEvent};
use pallet_kmc::{KeyScheme, KeySetOf, ParticipantOf};
use sp_core::{crypto::Ss58Codec, sr25519, H256};
use std::sync::Mutex;
use std::time::Duration;

/// The consortium chain as the proxy sees it.
pub trait Consortium: Send + Sync {
	/// What this is, for `/v1/health` and error messages (the RPC URL of the node, say).
	fn describe(&self) -> String;
	/// The newest finalised block this implementation trusts: its hash and number.
	fn finalized(&self) -> Result<(H256, u32), String>;
	/// The registry entry of `who` at block `at`, if registered.
	fn participant(
		&self,
		who: &AccountId,
		at: H256,
	) -> Result<Option<ParticipantOf<Runtime>>, String>;
	/// The active key set of `who` at block `at`, if any.
	fn key_set(&self, who: &AccountId, at: H256) -> Result<Option<KeySetOf<Runtime>>, String>;
	/// All of `patient`'s anchored summaries at block `at`, oldest first.
	fn summaries(&self, patient: &AccountId, at: H256) -> Result<Vec<Summary>, String>;
	/// The consent answer at block `at`: may `user` do `action` on record `record` of `patient`
	/// at `now_ms` (Unix ms)?
	fn may_access(
		&self,
		patient: &AccountId,
		user: &AccountId,
		record: H256,
		action: Action,
		now_ms: u64,
		at: H256,
	) -> Result<bool, String>;
	/// The items of `patient`'s searchable index carrying each of `labels` at block `at`, in
	/// order (none where a label is not in it, at most one per chain); at most 256 labels.
	fn lookup_labels(
		&self,
		patient: &AccountId,
		labels: &[[u8; 32]],
		at: H256,
	) -> Result<Vec<Vec<Summary>>, String>;
	/// Number of `patient`'s anchored items without an index label at block `at`.
	fn unindexed_count(&self, patient: &AccountId, at: H256) -> Result<u32, String>;
	/// [`Consortium::may_access`] for each of `records`, in order.
	fn may_access_many(
		&self,
		patient: &AccountId,
		user: &AccountId,
		records: &[H256],
		action: Action,
		now_ms: u64,
		at: H256,
	) -> Result<Vec<bool>, String> {
		records.iter().map(|r| self.may_access(patient, user, *r, action, now_ms, at)).collect()
	}
	/// Submits `call` signed by `signer` and waits (up to `timeout` for inclusion, and again
	/// for finality) until the block including it is final and was not replaced by a fork: the
	/// events the extrinsic emitted and its block. Submissions of one signer are serialised
	/// (consecutive nonces); the waits are not.
	fn record(
		&self,
		call: RuntimeCall,
		signer: &sr25519::Pair,
		timeout: Duration,
	) -> Result<Recorded, RecordError>;
}

/// A transaction included in a final block.
#[derive(Clone, Debug)]
pub struct Recorded {
	/// The final block including it.
	pub block: H256,
	/// That block's number.
	pub number: u32,
	/// The events the extrinsic emitted, in order.
	pub events: Vec<RuntimeEvent>,
}

/// Why a transaction is not (known to be) on record in a final block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordError {
	/// Not recorded: the node refused it, no block included it in time, or it failed on chain.
	NotRecorded(String),
	/// Included, but the including block did not become final in time (it may still).
	NotFinal(String),
	/// Included in block `number`, which a fork replaced before it became final.
	Forked {
		/// The number of the replaced block.
		number: u32,
	},
}

impl core::fmt::Display for RecordError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match self {
			RecordError::NotRecorded(e) => write!(f, "not recorded: {e}"),
			RecordError::NotFinal(e) => write!(f, "included but not final: {e}"),
			RecordError::Forked { number } => {
				write!(f, "the including block #{number} was replaced by a fork")
			}
		}
	}
}

/// The registered record (Umbral) key in `set`, the key set of `who`.
pub fn record_key_of(who: &AccountId, set: &KeySetOf<Runtime>) -> Result<PrePublicKey, String> {
	if set.record_key.scheme != KeyScheme::UmbralSecp256k1V1 {
		return Err(format!(
			"{}: record key scheme {:?} is not one this client reads",
			who.to_ss58check(),
			set.record_key.scheme
		));
	}
	PrePublicKey::from_compressed_bytes(&set.record_key.key)
		.map_err(|e| format!("{}: registered record key: {e}", who.to_ss58check()))
}

/// The registered designated-tester key in `set`, the key set of proxy `who`.
pub fn tester_key_of(who: &AccountId, set: &KeySetOf<Runtime>) -> Result<TesterPublicKey, String> {
	TesterPublicKey::from_bytes(&set.search_key.key).map_err(|e| {
		format!("{}: registered search key is not a proxy's tester key: {e}", who.to_ss58check())
	})
}

/// The consortium through one node's JSON-RPC, believed as it answers.
pub struct RpcConsortium {
	client: Client,
	/// Held while a transaction is signed and submitted, so nonces follow each other.
	submit_lock: Mutex<()>,
}

impl RpcConsortium {
	/// The consortium behind the node at `url`.
	pub fn connect(url: &str) -> Result<Self, String> {
		Ok(Self::new(Client::connect(url)?))
	}

	/// The consortium behind `client`.
	pub fn new(client: Client) -> Self {
		Self { client, submit_lock: Mutex::new(()) }
	}

	/// The RPC client.
	pub fn client(&self) -> &Client {
		&self.client
	}

	/// Signs and submits `call` (one submission of this proxy at a time, so nonces follow each
	/// other) and waits up to `timeout` for a block the node says includes it. If the chain
	/// upgraded its runtime after signing and dropped it, it is signed again for the new
	/// version with the same nonce and resent (a few times at most).
	pub fn submit_included(
		&self,
		call: RuntimeCall,
		signer: &sr25519::Pair,
		timeout: Duration,
	) -> Result<(Submitted, Inclusion), RecordError> {
		let submitted = {
			let _one_at_a_time = self.submit_lock.lock().unwrap_or_else(|e| e.into_inner());
			self.client.submit_tracked(call.clone(), signer)
		}
		.map_err(|e| RecordError::NotRecorded(e.into()))?;
		tracing::info!(
			target: "mbds-proxy::chain",
			tx = ?submitted.tx,
			nonce = submitted.nonce,
			"audit transaction submitted; waiting for it to be included and final"
		);
		// A copy signed again keeps the nonce: no need for the lock.
		self.client
			.wait_resending_tracked(submitted, call, signer, timeout)
			.map_err(|e| RecordError::NotRecorded(e.into()))
	}
}

impl Consortium for RpcConsortium {
	fn describe(&self) -> String {
		self.client.rpc.url.clone()
	}

	fn finalized(&self) -> Result<(H256, u32), String> {
		let hash = self.client.finalized_head()?;
		Ok((hash, self.client.header(Some(hash))?.number))
	}

	fn participant(
		&self,
		who: &AccountId,
		at: H256,
	) -> Result<Option<ParticipantOf<Runtime>>, String> {
		Ok(self
			.client
			.storage_at(&pallet_kmc::Participants::<Runtime>::hashed_key_for(who), Some(at))?)
	}

	fn key_set(&self, who: &AccountId, at: H256) -> Result<Option<KeySetOf<Runtime>>, String> {
		Ok(self
			.client
			.storage_at(&pallet_kmc::ActiveKeys::<Runtime>::hashed_key_for(who), Some(at))?)
	}

	fn summaries(&self, patient: &AccountId, at: H256) -> Result<Vec<Summary>, String> {
		Ok(chain::summaries(&self.client, patient, Some(at))?)
	}

	fn lookup_labels(
		&self,
		patient: &AccountId,
		labels: &[[u8; 32]],
		at: H256,
	) -> Result<Vec<Vec<Summary>>, String> {
		Ok(mbds_client::queries::anchor::lookup_labels(&self.client, patient, labels, Some(at))?)
	}

	fn unindexed_count(&self, patient: &AccountId, at: H256) -> Result<u32, String> {
		Ok(mbds_client::queries::anchor::unindexed_count(&self.client, patient, Some(at))?)
	}

	fn may_access(
		&self,
		patient: &AccountId,
		user: &AccountId,
		record: H256,
		action: Action,
		now_ms: u64,
		at: H256,
	) -> Result<bool, String> {
		Ok(chain::may_access(&self.client, patient, user, record, action, now_ms, Some(at))?)
	}

	fn record(
		&self,
		call: RuntimeCall,
		signer: &sr25519::Pair,
		timeout: Duration,
	) -> Result<Recorded, RecordError> {
		let (_, inclusion) = self.submit_included(call, signer, timeout)?;
		let final_block = self
			.client
			.wait("the block including it to be finalised", timeout, |c| {
				let finalized = c.header(Some(c.finalized_head()?))?.number;
				Ok(finalized >= inclusion.number)
			})
			.and_then(|_| self.client.block_hash(inclusion.number));
		match final_block {
			Ok(Some(h)) if h == inclusion.block => Ok(Recorded {
				block: inclusion.block,
				number: inclusion.number,
				events: inclusion.events,
			}),
			Ok(_) => Err(RecordError::Forked { number: inclusion.number }),
			Err(e) => Err(RecordError::NotFinal(e.into())),
		}
	}
}
