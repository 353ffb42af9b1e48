//! The consortium as the proxy trusts it: through a GRANDPA light client
//! ([`mbds_client::light`]) over one RPC node it does not trust.
//!
//! Every answer the proxy acts on is checked: the block it reads at is one 2/3 of the
//! consortium's GRANDPA authorities signed final (their set followed from genesis, or from a
//! checkpoint the proxy kept); participants, key sets, anchored summaries and consent
//! decisions are computed by the pallets' own code natively over storage proven against that
//! block's state root; an access the proxy records is served only once a verified final block
//! descends from the block including it (headers checked hash by hash), the extrinsic is
//! proven to be in that block (its `extrinsics_root`) and the events it emitted are read from
//! that block's proven state. A node that lies, or a network path that answers in its place,
//! makes requests fail; it cannot make the proxy serve what the chain did not allow.

use crate::consortium::{Consortium, RecordError, Recorded, RpcConsortium};
use codec::{Decode, Encode};
use mbds_client::chain::Summary;
use mbds_client::light::{read_proven, Checkpoint, LightClient};
use mbds_client::Client;
use mbds_primitives::consent::{AccessTarget, Action, RecordId};
use mbds_runtime::{AccountId, Header, Runtime, RuntimeCall};
use pallet_kmc::{KeySetOf, ParticipantOf};
use sp_core::{sr25519, H256};
use sp_runtime::traits::Header as _;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the light client asks the node for a newer final block, at most.
const SYNC_EVERY: Duration = Duration::from_millis(500);
/// How often the checkpoint is written to disk, at most (and at every set hand-off).
const SAVE_EVERY: Duration = Duration::from_secs(30);
/// Most headers walked back from a verified final block to the block including a record.
const MAX_ANCESTRY: u32 = 512;

/// Where the proxy's trust in the consortium starts.
pub enum TrustAnchor {
	/// The consortium's raw chain spec (its genesis state and first authority set).
	ChainSpec(String),
	/// The node's own word at first use (then the checkpoint kept in the state folder).
	FirstUse,
}

struct Synced {
	lc: LightClient,
	last_sync: Instant,
	last_save: Instant,
}

/// The consortium through a light client. See the module documentation.
pub struct VerifiedConsortium {
	/// The node, and this proxy's one-at-a-time submission of its transactions.
	rpc: RpcConsortium,
	synced: Mutex<Synced>,
	/// Blocks proven final as ancestors of a verified header (the blocks including the proxy's
	/// records), so later reads may name them.
	ancestors: Mutex<std::collections::VecDeque<Header>>,
	checkpoint_path: PathBuf,
}

impl VerifiedConsortium {
	/// The consortium behind the node at `url`, verified from the checkpoint in
	/// `checkpoint_path` if there is one (it must be the same chain as `anchor` names), else
	/// from `anchor`. Syncs to the newest final block before returning.
	pub fn open(url: &str, anchor: TrustAnchor, checkpoint_path: PathBuf) -> Result<Self, String> {
		let client = Client::connect(url)?;
		let first_use_marker = checkpoint_path.with_extension("first-use");
		let from_anchor = || match &anchor {
			TrustAnchor::ChainSpec(json) => LightClient::from_chain_spec(&client, json),
			TrustAnchor::FirstUse => {
				tracing::warn!(
					target: "mbds-proxy::light",
					"no consortium chain spec given: trusting {url} for the consortium's genesis authorities this once (pass --consortium-spec to check them)"
				);
				std::fs::write(
					&first_use_marker,
					b"trusted the node's genesis authorities at first use\n",
				)
				.map_err(|e| mbds_client::Error::Io { path: first_use_marker.clone(), error: e })?;
				LightClient::trust_on_first_use(&client)
			}
		};
		let lc = match std::fs::read(&checkpoint_path) {
			Ok(bytes) => {
				let checkpoint = Checkpoint::decode(&mut &bytes[..]).map_err(|e| {
					format!("{}: not a light-client checkpoint: {e}", checkpoint_path.display())
				})?;
				let lc = LightClient::from_checkpoint(&client, checkpoint)?;
				if let TrustAnchor::ChainSpec(_) = anchor {
					// The spec must name the same chain as the checkpoint.
					let fresh = from_anchor()?;
					// A checkpoint that started from a node's word at first use is not
					// trusted once a spec is given: it may have been poisoned then.
					if first_use_marker.exists() {
						return Err(format!(
							"{} started from the consortium node's word (no --consortium-spec at its first start); remove it and {} to start from the chain spec",
							checkpoint_path.display(),
							first_use_marker.display()
						));
					}
					if fresh.checkpoint().genesis != lc.checkpoint().genesis {
						return Err(format!(
							"{} follows another chain than the consortium chain spec given; remove it to start over",
							checkpoint_path.display()
						));
					}
				}
				lc
			}
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => from_anchor()?,
			Err(e) => return Err(format!("{}: {e}", checkpoint_path.display())),
		};
		let this = VerifiedConsortium {
			rpc: RpcConsortium::new(client),
			synced: Mutex::new(Synced {
				lc,
				last_sync: Instant::now() - SYNC_EVERY,
				last_save: Instant::now() - SAVE_EVERY,
			}),
			checkpoint_path,
			ancestors: Mutex::new(Default::default()),
		};
		let (_, number) = this.finalized()?;
		tracing::info!(
			target: "mbds-proxy::light",
			"consortium verified final at block #{number} (GRANDPA set {})",
			this.synced.lock().unwrap_or_else(|e| e.into_inner()).lc.checkpoint().set_id
		);
		Ok(this)
	}

	/// Syncs (at most every [`SYNC_EVERY`]) and returns the newest verified final header.
	fn verified_head(&self) -> Result<Header, String> {
		let mut s = self.synced.lock().unwrap_or_else(|e| e.into_inner());
		if s.last_sync.elapsed() >= SYNC_EVERY {
			let set_before = s.lc.checkpoint().set_id;
			let synced = s.lc.sync(self.rpc.client());
			s.last_sync = Instant::now();
			if let Err(e) = synced {
				// Keep serving from the last verified block; say why it is not newer.
				tracing::warn!(target: "mbds-proxy::light", "consortium light client: {e}");
			}
			if s.lc.checkpoint().set_id != set_before || s.last_save.elapsed() >= SAVE_EVERY {
				self.save(s.lc.checkpoint())?;
				s.last_save = Instant::now();
			}
		}
		Ok(s.lc.finalized().clone())
	}

	/// A header verified recently by hash.
	fn header_at(&self, at: H256) -> Result<Header, String> {
		if let Some(h) =
			self.synced.lock().unwrap_or_else(|e| e.into_inner()).lc.verified_header(at)
		{
			return Ok(h.clone());
		}
		let ancestors = self.ancestors.lock().unwrap_or_else(|e| e.into_inner());
		ancestors.iter().rev().find(|h| h.hash() == at).cloned().ok_or_else(|| {
			format!("consortium block {at:?} is not one the proxy verified final recently")
		})
	}

	fn save(&self, checkpoint: &Checkpoint) -> Result<(), String> {
		let tmp = self.checkpoint_path.with_extension("tmp");
		std::fs::write(&tmp, checkpoint.encode())
			.and_then(|_| std::fs::rename(&tmp, &self.checkpoint_path))
			.map_err(|e| format!("{}: {e}", self.checkpoint_path.display()))
	}

	/// Runs `f` over the proven state at verified block `at`.
	fn read<R>(&self, at: H256, mut f: impl FnMut() -> R) -> Result<R, String> {
		let header = self.header_at(at)?;
		Ok(read_proven(self.rpc.client(), &header, &mut f)?)
	}

	/// The header at `number` on the chain ending in verified header `head`, walking parent
	/// hashes (each header must hash to the hash its child names).
	fn ancestor(&self, head: &Header, number: u32) -> Result<Header, String> {
		if head.number - number > MAX_ANCESTRY {
			return Err(format!("block #{number} is more than {MAX_ANCESTRY} blocks behind"));
		}
		let mut header = head.clone();
		while header.number > number {
			let parent = *header.parent_hash();
			let h = self.rpc.client().header(Some(parent))?;
			if h.hash() != parent {
				return Err(format!(
					"{}: the header served for {parent:?} does not hash to it; the node is lying",
					self.rpc.client().rpc.url
				));
			}
			header = h;
		}
		Ok(header)
	}
}

impl Consortium for VerifiedConsortium {
	fn describe(&self) -> String {
		format!("{} (verified by light client)", self.rpc.client().rpc.url)
	}

	fn finalized(&self) -> Result<(H256, u32), String> {
		let head = self.verified_head()?;
		Ok((head.hash(), head.number))
	}

	fn participant(
		&self,
		who: &AccountId,
		at: H256,
	) -> Result<Option<ParticipantOf<Runtime>>, String> {
		self.read(at, || pallet_kmc::Participants::<Runtime>::get(who))
	}

	fn key_set(&self, who: &AccountId, at: H256) -> Result<Option<KeySetOf<Runtime>>, String> {
		self.read(at, || pallet_kmc::ActiveKeys::<Runtime>::get(who))
	}

	fn summaries(&self, patient: &AccountId, at: H256) -> Result<Vec<Summary>, String> {
		self.read(at, || {
			let count = pallet_anchor::Pallet::<Runtime>::patient_summary_count(patient);
			let mut out: Vec<Summary> = Vec::new();
			let mut start = 0u32;
			while start < count {
				let page = pallet_anchor::Pallet::<Runtime>::patient_summaries(patient, start, 256);
				let Some(last) = page.last() else { break };
				start = last.position.saturating_add(1);
				out.extend(page);
			}
			out
		})
	}

	fn lookup_labels(
		&self,
		patient: &AccountId,
		labels: &[[u8; 32]],
		at: H256,
	) -> Result<Vec<Vec<Summary>>, String> {
		self.read(at, || pallet_anchor::Pallet::<Runtime>::lookup_labels(patient, labels))
	}

	fn unindexed_count(&self, patient: &AccountId, at: H256) -> Result<u32, String> {
		self.read(at, || pallet_anchor::Pallet::<Runtime>::unindexed_count(patient))
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
		Ok(self.may_access_many(patient, user, &[record], action, now_ms, at)?[0])
	}

	/// One proven read for every record: each round of proofs covers them all.
	fn may_access_many(
		&self,
		patient: &AccountId,
		user: &AccountId,
		records: &[H256],
		action: Action,
		now_ms: u64,
		at: H256,
	) -> Result<Vec<bool>, String> {
		self.read(at, || {
			records
				.iter()
				.map(|record| {
					let target = AccessTarget::Record {
						id: RecordId::Hash(*record),
						categories: Default::default(),
					};
					pallet_consent::Pallet::<Runtime>::is_access_allowed(
						patient, user, &target, action, now_ms,
					)
				})
				.collect()
		})
	}

	fn record(
		&self,
		call: RuntimeCall,
		signer: &sr25519::Pair,
		timeout: Duration,
	) -> Result<Recorded, RecordError> {
		// Where the node says it is: a hint, checked below.
		let (submitted, inclusion) = self.rpc.submit_included(call, signer, timeout)?;
		let start = Instant::now();
		let head = loop {
			let head = self.verified_head().map_err(RecordError::NotFinal)?;
			if head.number >= inclusion.number {
				break head;
			}
			if start.elapsed() > timeout {
				return Err(RecordError::NotFinal(format!(
					"block #{} is not verified final after {timeout:?} (verified up to #{})",
					inclusion.number, head.number
				)));
			}
			std::thread::sleep(Duration::from_millis(300));
		};
		let block = self.ancestor(&head, inclusion.number).map_err(RecordError::NotFinal)?;
		if block.hash() != inclusion.block {
			return Err(RecordError::Forked { number: inclusion.number });
		}
		{
			let mut ancestors = self.ancestors.lock().unwrap_or_else(|e| e.into_inner());
			ancestors.push_back(block.clone());
			while ancestors.len() > 256 {
				ancestors.pop_front();
			}
		}
		// The extrinsic is in that block at the index the node named.
		let extrinsics = self
			.rpc
			.client()
			.block_extrinsics(inclusion.block)
			.map_err(|e| RecordError::NotFinal(e.into()))?;
		if mbds_client::extrinsics_root(&extrinsics) != block.extrinsics_root {
			return Err(RecordError::NotFinal(format!(
				"{}: the body served for block #{} does not match its header; the node is lying",
				self.rpc.client().rpc.url,
				inclusion.number
			)));
		}
		if extrinsics.get(inclusion.index as usize) != Some(&submitted.extrinsic()) {
			return Err(RecordError::NotRecorded(format!(
				"{}: block #{} does not hold the proxy's transaction at index {}",
				self.rpc.client().rpc.url,
				inclusion.number,
				inclusion.index
			)));
		}
		// Its events, from that block's proven state.
		let index = inclusion.index;
		let events = read_proven(self.rpc.client(), &block, &mut || {
			frame_system::Pallet::<Runtime>::read_events_no_consensus()
				.filter(|r| r.phase == frame_system::Phase::ApplyExtrinsic(index))
				.map(|r| r.event)
				.collect::<Vec<_>>()
		})
		.map_err(|e| RecordError::NotFinal(e.into()))?;
		if let Some(failure) = events.iter().find_map(|e| match e {
			mbds_runtime::RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
				dispatch_error,
				..
			}) => Some(mbds_client::describe_dispatch_error(dispatch_error)),
			_ => None,
		}) {
			return Err(RecordError::NotRecorded(format!(
				"the transaction failed in block #{}: {failure}",
				inclusion.number
			)));
		}
		Ok(Recorded { block: inclusion.block, number: inclusion.number, events })
	}
}
