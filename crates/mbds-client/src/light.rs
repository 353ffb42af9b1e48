//! A GRANDPA light client of one MBDS chain, over an RPC node it does not trust.
//!
//! A proxy or a client that must act on what a chain says (a patient's consent, the summaries
//! anchored for them, its own audit records) cannot take an RPC node's word for it: the node
//! may be compromised, or someone on the path may answer in its place. [`LightClient`] keeps
//! the one thing it trusts — the chain's current GRANDPA authority set and the newest header
//! they finalised — and moves it forward only on justifications signed by 2/3 of that set
//! (the bridges' verifier, `bp-header-chain`, as the consortium's own `pallet-anchor` uses for
//! private chains), following the set hand-offs each header announces. Everything read at such
//! a header comes with a storage proof checked against its state root.
//!
//! Reads run the pallets' own code natively ([`LightClient::read`]): the function (e.g.
//! `pallet_consent::Pallet::<Runtime>::is_access_allowed`) runs over the keys proven so far;
//! every key it asks for and was not proven is fetched with a proof and the function runs
//! again, until it ran on proven keys only. So the answer is exactly what the runtime would
//! answer at that block, with no second copy of its logic that could drift.
//!
//! The trust anchor is the chain's genesis: its state from the raw chain spec (the genesis
//! header's state root is checked against it, and the GRANDPA authorities are read from it),
//! or, without a spec, the node's answer at first use, kept in a [`Checkpoint`] from then on.

use crate::{Client, Error, FinalityProof, Result};
use bp_header_chain::{
	justification::{
		verify_and_optimize_justification, GrandpaJustification, JustificationVerificationContext,
	},
	AuthoritySet, GrandpaConsensusLogReader,
};
use codec::{Decode, Encode};
use mbds_runtime::{BlockNumber, Header, Runtime};
use sp_consensus_grandpa::AuthorityList;
use sp_core::{storage::ChildInfo, H256};
use sp_externalities::{Extension, ExtensionStore, Externalities, MultiRemovalResults};
use sp_runtime::traits::{BlakeTwo256, Hash as _, Header as _};
use std::any::{Any, TypeId};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Finalised blocks scanned back for a stored justification when a node cannot prove
/// finality through its record of authority-set changes.
pub const SCAN_BACK: BlockNumber = 16;
/// Justified steps taken by one [`LightClient::sync`] before it returns.
const MAX_STEPS: usize = 256;
/// Rounds of "run, then prove what it read" before a read gives up (each round proves at
/// least one new key, so this bounds the dependent steps of one query, e.g. pages of a
/// patient's summaries).
const MAX_READ_ROUNDS: usize = 256;
/// Verified headers remembered, so a read may name a block verified a little earlier.
const KEEP_HEADERS: usize = 64;

/// What a light client needs from a node: finality proofs, headers, read proofs. Implemented
/// by [`Client`]; tests implement it over in-memory chains.
pub trait Source {
	/// Where the answers come from, for error messages.
	fn describe(&self) -> String;
	/// The number of the node's finalised head (a hint: nothing is trusted from it).
	fn finalized_number(&self) -> Result<BlockNumber>;
	/// `grandpa_proveFinality(number)`.
	fn prove_finality(&self, number: BlockNumber) -> Result<Option<FinalityProof>>;
	/// The header with hash `hash`.
	fn header_of(&self, hash: H256) -> Result<Header>;
	/// The hash of the node's block `number`.
	fn hash_of(&self, number: BlockNumber) -> Result<Option<H256>>;
	/// The GRANDPA justification stored with block `hash`.
	fn justification_of(&self, hash: H256) -> Result<Option<Vec<u8>>>;
	/// A read proof of `keys` at block `at` (trie nodes).
	fn read_proof_at(&self, keys: &[Vec<u8>], at: H256) -> Result<Vec<Vec<u8>>>;
}

impl Source for Client {
	fn describe(&self) -> String {
		self.rpc.url.clone()
	}
	fn finalized_number(&self) -> Result<BlockNumber> {
		Ok(self.header(Some(self.finalized_head()?))?.number)
	}
	fn prove_finality(&self, number: BlockNumber) -> Result<Option<FinalityProof>> {
		Client::prove_finality(self, number)
	}
	fn header_of(&self, hash: H256) -> Result<Header> {
		self.header(Some(hash))
	}
	fn hash_of(&self, number: BlockNumber) -> Result<Option<H256>> {
		self.block_hash(number)
	}
	fn justification_of(&self, hash: H256) -> Result<Option<Vec<u8>>> {
		self.grandpa_justification(hash)
	}
	fn read_proof_at(&self, keys: &[Vec<u8>], at: H256) -> Result<Vec<Vec<u8>>> {
		self.read_proof(keys, at)
	}
}

/// Everything a light client trusts, to be kept between runs (SCALE-encoded).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct Checkpoint {
	/// The chain's genesis hash.
	pub genesis: H256,
	/// The GRANDPA set that signs the next justification.
	pub set_id: u64,
	/// Its authorities and weights.
	pub authorities: AuthorityList,
	/// The newest header known final.
	pub header: Header,
}

/// A GRANDPA light client of one chain. See the module documentation.
#[derive(Debug, Clone)]
pub struct LightClient {
	state: Checkpoint,
	/// Recently verified headers (newest last), for reads at a block named a little earlier.
	recent: VecDeque<Header>,
}

impl LightClient {
	/// Starts from `checkpoint` (kept by an earlier run). Fails if `source` serves another chain.
	pub fn from_checkpoint(source: &impl Source, checkpoint: Checkpoint) -> Result<Self> {
		let genesis = source.hash_of(0)?.ok_or_else(|| {
			Error::Verification(format!("{}: the node has no genesis block", source.describe()))
		})?;
		if genesis != checkpoint.genesis {
			return Err(Error::Verification(format!(
				"{} serves the chain with genesis {genesis:?}, not the one this light client follows ({:?}); point it at a node of the right chain",
				source.describe(),
				checkpoint.genesis
			)));
		}
		let recent = VecDeque::from([checkpoint.header.clone()]);
		Ok(LightClient { state: checkpoint, recent })
	}

	/// Starts from the chain's genesis as the raw chain spec `spec_json` defines it: the node's
	/// genesis header must commit to exactly that state, and the first authority set is the one
	/// in it. Nothing the node says is trusted.
	pub fn from_chain_spec(source: &impl Source, spec_json: &str) -> Result<Self> {
		let top = raw_genesis_storage(spec_json)?;
		let version: sp_core::storage::StateVersion =
			mbds_runtime::VERSION.system_version.try_into().map_err(|_| {
				Error::Verification(
					"the runtime's system_version names no known state version".to_string(),
				)
			})?;
		let root = BlakeTwo256::trie_root(
			top.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
			version,
		);
		// The genesis block is built from its state alone (number 0, no parent, no extrinsics,
		// no digest): its hash follows from the spec, whatever header a node serves.
		let expected = Header::new(
			0,
			BlakeTwo256::trie_root(Vec::new(), version),
			root,
			Default::default(),
			Default::default(),
		);
		let genesis = source.hash_of(0)?.ok_or_else(|| {
			Error::Verification(format!("{}: the node has no genesis block", source.describe()))
		})?;
		let header = source.header_of(genesis)?;
		if header.hash() != genesis || header.number != 0 {
			return Err(Error::Verification(format!(
				"{}: the header served as genesis does not hash to the genesis hash it named",
				source.describe()
			)));
		}
		if header.state_root == root && genesis != expected.hash() {
			return Err(Error::Verification(format!(
				"{}: its genesis header has the chain spec's state but is not the genesis block ({genesis:?}, expected {:?}); the node is lying",
				source.describe(),
				expected.hash()
			)));
		}
		if header.state_root != root {
			return Err(Error::Verification(format!(
				"{} serves a chain whose genesis state (root {:?}) is not the chain spec's ({root:?}); it is another chain or another build of it",
				source.describe(),
				header.state_root
			)));
		}
		let key = pallet_grandpa::Authorities::<Runtime>::hashed_key();
		let list = top.get(&key[..]).ok_or_else(|| {
			Error::invalid(
				"chain spec",
				"the chain spec's genesis has no GRANDPA authorities (pallet_grandpa::Authorities)",
			)
		})?;
		let authorities: AuthorityList = <pallet_grandpa::BoundedAuthorityList<
			<Runtime as pallet_grandpa::Config>::MaxAuthorities,
		>>::decode(&mut &list[..])
		.map_err(|e| {
			Error::invalid(
				"chain spec",
				format!("the chain spec's GRANDPA authorities do not decode: {e}"),
			)
		})?
		.into_inner();
		Self::from_checkpoint(source, Checkpoint { genesis, set_id: 0, authorities, header })
	}

	/// Starts from the node's genesis and its genesis authority set, trusting the node this once
	/// (trust on first use: keep the [`Checkpoint`] and start from it afterwards).
	pub fn trust_on_first_use(source: &Client) -> Result<Self> {
		let genesis = source.hash_of(0)?.ok_or_else(|| {
			Error::Verification(format!("{}: the node has no genesis block", source.describe()))
		})?;
		let header = source.header_of(genesis)?;
		let authorities = crate::queries::grandpa::grandpa_authorities(source, Some(genesis))?;
		Self::from_checkpoint(source, Checkpoint { genesis, set_id: 0, authorities, header })
	}

	/// What to keep for the next run.
	pub fn checkpoint(&self) -> &Checkpoint {
		&self.state
	}

	/// The newest header known final.
	pub fn finalized(&self) -> &Header {
		&self.state.header
	}

	/// A verified header by hash, if it is one of the last [`KEEP_HEADERS`] verified.
	pub fn verified_header(&self, hash: H256) -> Option<&Header> {
		self.recent.iter().rev().find(|h| h.hash() == hash)
	}

	/// Moves to the newest block `source` can prove final, one justification (and authority
	/// set hand-off) at a time. Returns how many justified steps it took; an error names what
	/// failed to verify, and leaves the client where it was before that step.
	pub fn sync(&mut self, source: &impl Source) -> Result<usize> {
		let mut steps = 0;
		while steps < MAX_STEPS {
			let best = self.state.header.number;
			if source.finalized_number()? <= best {
				break;
			}
			let Some((header, justification)) = self.next_justified(source, best)? else {
				break;
			};
			self.import(source, header, justification)?;
			steps += 1;
		}
		Ok(steps)
	}

	/// A justified block after `best`: `grandpa_proveFinality(best + 1)` yields the last block
	/// of a past set (so hand-offs are never skipped) or the newest justified block of the
	/// current set; a node that cannot (its record of set changes is incomplete) is asked for
	/// the newest stored justification among its last [`SCAN_BACK`] finalised blocks.
	fn next_justified(
		&self,
		source: &impl Source,
		best: BlockNumber,
	) -> Result<Option<(Header, Vec<u8>)>> {
		if let Ok(Some(proof)) = source.prove_finality(best + 1) {
			let header = source.header_of(proof.block)?;
			if header.number > best {
				return Ok(Some((header, proof.justification)));
			}
		}
		let head = source.finalized_number()?;
		let lowest = head.saturating_sub(SCAN_BACK).max(best + 1);
		let mut number = head;
		while number >= lowest {
			if let Some(hash) = source.hash_of(number)? {
				if let Some(justification) = source.justification_of(hash)? {
					let header = source.header_of(hash)?;
					if header.hash() != hash || header.number != number {
						return Err(Error::Verification(format!(
							"{}: the header served for block #{number} ({hash:?}) is not that block",
							source.describe()
						)));
					}
					return Ok(Some((header, justification)));
				}
			}
			number -= 1;
		}
		Ok(None)
	}

	/// Accepts `header` if `justification` by the current set finalises it, and follows the
	/// hand-off it announces.
	fn import(
		&mut self,
		source: &impl Source,
		header: Header,
		justification: Vec<u8>,
	) -> Result<()> {
		let number = header.number;
		let hash = header.hash();
		let what = || format!("{}: block #{number} ({hash:?})", source.describe());
		// Only forward: a node that serves an older block finalised by the same set (there is
		// a justification for every round's target) must not move the client back, nor apply
		// a hand-off twice.
		if number <= self.state.header.number {
			return Err(Error::Verification(format!(
				"{}: offered as newer than the verified block #{}; the node is lying",
				what(),
				self.state.header.number
			)));
		}
		let mut justification = GrandpaJustification::<Header>::decode(&mut &justification[..])
			.map_err(|e| {
				Error::Verification(format!("{}: undecodable justification: {e}", what()))
			})?;
		let context = JustificationVerificationContext::try_from(AuthoritySet::new(
			self.state.authorities.clone(),
			self.state.set_id,
		))
		.map_err(|e| {
			Error::Verification(format!("the trusted authority set is unusable: {e:?}"))
		})?;
		verify_and_optimize_justification::<Header>((hash, number), &context, &mut justification)
			.map_err(|e| {
				Error::Verification(format!(
					"{}: the justification does not prove it final under authority set {} ({e:?}); the node is lying or on another chain",
					what(),
					self.state.set_id
				))
			})?;
		let digest = header.digest();
		if GrandpaConsensusLogReader::<BlockNumber>::find_forced_change(digest).is_some() {
			return Err(Error::Verification(format!(
				"{}: a forced GRANDPA authority change, which a light client cannot follow; restart it from a trusted checkpoint",
				what()
			)));
		}
		if let Some(change) =
			GrandpaConsensusLogReader::<BlockNumber>::find_scheduled_change(digest)
		{
			if change.delay != 0 {
				return Err(Error::Verification(format!(
					"{}: a GRANDPA hand-off delayed by {} blocks, which MBDS runtimes never schedule",
					what(),
					change.delay
				)));
			}
			self.state.authorities = change.next_authorities;
			self.state.set_id += 1;
		}
		self.state.header = header.clone();
		self.recent.push_back(header);
		while self.recent.len() > KEEP_HEADERS {
			self.recent.pop_front();
		}
		Ok(())
	}

	/// Runs `f` (code that reads runtime storage, e.g. a pallet's query function) over the
	/// state of the verified block `at`, every key it reads proven against that block's state
	/// root. Fails if `at` is not a recently verified block, if a proof does not verify, or if
	/// `f` iterates storage (a set of keys cannot be proven complete key by key).
	pub fn read<R>(&self, source: &impl Source, at: H256, mut f: impl FnMut() -> R) -> Result<R> {
		let header = self.verified_header(at).ok_or_else(|| {
			Error::Verification(format!(
				"block {at:?} is not one this light client verified recently"
			))
		})?;
		read_proven(source, header, &mut f)
	}
}

/// Runs `f` over the state at `header` (trusted by the caller), proving each key it reads.
pub fn read_proven<R>(
	source: &impl Source,
	header: &Header,
	f: &mut impl FnMut() -> R,
) -> Result<R> {
	let at = header.hash();
	let mut proven: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
	for _ in 0..MAX_READ_ROUNDS {
		let mut view = ProvenView {
			proven: &proven,
			overlay: BTreeMap::new(),
			missing: BTreeSet::new(),
			iterated: false,
		};
		let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
			sp_externalities::set_and_run_with_externalities(&mut view, &mut *f)
		}));
		if view.iterated {
			return Err(Error::Verification(
				"this query iterates storage, which a light client cannot prove complete".into(),
			));
		}
		if view.missing.is_empty() {
			return result.map_err(|_| {
				Error::Verification("the query panicked on proven state".to_string())
			});
		}
		let keys: Vec<Vec<u8>> = view.missing.into_iter().collect();
		let proof = source.read_proof_at(&keys, at)?;
		let values = sp_state_machine::read_proof_check::<BlakeTwo256, _>(
			header.state_root,
			sp_trie::StorageProof::new(proof),
			keys.iter(),
		)
		.map_err(|e| {
			Error::Verification(format!(
				"{}: the storage proof at block #{} does not match its state root ({e}); the node is lying",
				source.describe(),
				header.number
			))
		})?;
		proven.extend(values);
	}
	Err(Error::Verification(format!(
		"the query read storage in more than {MAX_READ_ROUNDS} dependent rounds"
	)))
}

/// The raw genesis storage (`genesis.raw.top`) of a chain spec.
pub fn raw_genesis_storage(spec_json: &str) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
	let spec: serde_json::Value = serde_json::from_str(spec_json)
		.map_err(|e| Error::invalid("chain spec", format!("the chain spec is not JSON: {e}")))?;
	let top = spec["genesis"]["raw"]["top"].as_object().ok_or_else(|| {
		Error::invalid(
			"chain spec",
			"the chain spec has no raw genesis (genesis.raw.top); give the raw spec (`build-spec --raw`)",
		)
	})?;
	top.iter()
		.map(|(k, v)| {
			let key = hex::decode(k.trim_start_matches("0x")).map_err(|e| {
				Error::invalid("chain spec", format!("chain spec genesis key {k}: not hex: {e}"))
			})?;
			let value =
				crate::bytes_of(v).map_err(|e| e.context(format!("chain spec genesis key {k}")))?;
			Ok((key, value))
		})
		.collect()
}

/// Externalities over proven key-values: reads of keys not yet proven return nothing and are
/// noted in `missing`; writes go to a throw-away overlay; iteration, child tries and appends
/// (which a key-by-key proof cannot serve) are noted in `iterated` and answered with nothing.
struct ProvenView<'a> {
	proven: &'a BTreeMap<Vec<u8>, Option<Vec<u8>>>,
	overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
	missing: BTreeSet<Vec<u8>>,
	iterated: bool,
}

impl ProvenView<'_> {
	fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
		if let Some(v) = self.overlay.get(key) {
			return v.clone();
		}
		match self.proven.get(key) {
			Some(v) => v.clone(),
			None => {
				self.missing.insert(key.to_vec());
				None
			}
		}
	}
}

impl ExtensionStore for ProvenView<'_> {
	fn extension_by_type_id(&mut self, _: TypeId) -> Option<&mut dyn Any> {
		None
	}
	fn register_extension_with_type_id(
		&mut self,
		_: TypeId,
		_: Box<dyn Extension>,
	) -> std::result::Result<(), sp_externalities::Error> {
		Err(sp_externalities::Error::ExtensionsAreNotSupported)
	}
	fn deregister_extension_by_type_id(
		&mut self,
		_: TypeId,
	) -> std::result::Result<(), sp_externalities::Error> {
		Err(sp_externalities::Error::ExtensionsAreNotSupported)
	}
}

impl Externalities for ProvenView<'_> {
	fn set_offchain_storage(&mut self, _: &[u8], _: Option<&[u8]>) {}
	fn storage(&mut self, key: &[u8]) -> Option<Vec<u8>> {
		self.get(key)
	}
	fn storage_hash(&mut self, key: &[u8]) -> Option<Vec<u8>> {
		self.get(key).map(|v| BlakeTwo256::hash(&v).encode())
	}
	fn child_storage_hash(&mut self, _: &ChildInfo, _: &[u8]) -> Option<Vec<u8>> {
		self.iterated = true;
		None
	}
	fn child_storage(&mut self, _: &ChildInfo, _: &[u8]) -> Option<Vec<u8>> {
		self.iterated = true;
		None
	}
	fn next_storage_key(&mut self, _: &[u8]) -> Option<Vec<u8>> {
		self.iterated = true;
		None
	}
	fn next_child_storage_key(&mut self, _: &ChildInfo, _: &[u8]) -> Option<Vec<u8>> {
		self.iterated = true;
		None
	}
	fn kill_child_storage(
		&mut self,
		_: &ChildInfo,
		_: Option<u32>,
		_: Option<&[u8]>,
	) -> MultiRemovalResults {
		self.iterated = true;
		MultiRemovalResults { maybe_cursor: None, backend: 0, unique: 0, loops: 0 }
	}
	fn clear_prefix(&mut self, _: &[u8], _: Option<u32>, _: Option<&[u8]>) -> MultiRemovalResults {
		self.iterated = true;
		MultiRemovalResults { maybe_cursor: None, backend: 0, unique: 0, loops: 0 }
	}
	fn clear_child_prefix(
		&mut self,
		_: &ChildInfo,
		_: &[u8],
		_: Option<u32>,
		_: Option<&[u8]>,
	) -> MultiRemovalResults {
		self.iterated = true;
		MultiRemovalResults { maybe_cursor: None, backend: 0, unique: 0, loops: 0 }
	}
	fn place_storage(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
		self.overlay.insert(key, value);
	}
	fn place_child_storage(&mut self, _: &ChildInfo, _: Vec<u8>, _: Option<Vec<u8>>) {
		self.iterated = true;
	}
	fn storage_root(&mut self, _: sp_core::storage::StateVersion) -> Vec<u8> {
		self.iterated = true;
		Vec::new()
	}
	fn child_storage_root(&mut self, _: &ChildInfo, _: sp_core::storage::StateVersion) -> Vec<u8> {
		self.iterated = true;
		Vec::new()
	}
	fn storage_append(&mut self, _: Vec<u8>, _: Vec<u8>) {
		self.iterated = true;
	}
	fn storage_start_transaction(&mut self) {}
	fn storage_rollback_transaction(&mut self) -> std::result::Result<(), ()> {
		Ok(())
	}
	fn storage_commit_transaction(&mut self) -> std::result::Result<(), ()> {
		Ok(())
	}
	fn wipe(&mut self) {}
	fn commit(&mut self) {}
	fn read_write_count(&self) -> (u32, u32, u32, u32) {
		(0, 0, 0, 0)
	}
	fn reset_read_write_count(&mut self) {}
	fn get_whitelist(&self) -> Vec<sp_core::storage::TrackedStorageKey> {
		Vec::new()
	}
	fn set_whitelist(&mut self, _: Vec<sp_core::storage::TrackedStorageKey>) {}
	fn get_read_and_written_keys(&self) -> Vec<(Vec<u8>, u32, u32, bool)> {
		Vec::new()
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use bp_test_utils::{
		make_justification_for_header, Account, JustificationGeneratorParams, ALICE, BOB, CHARLIE,
		DAVE, EVE, FERDIE,
	};
	use sp_consensus_grandpa::{ConsensusLog, ScheduledChange, GRANDPA_ENGINE_ID};
	use sp_runtime::generic::DigestItem;
	use sp_state_machine::TestExternalities;
	use std::cell::RefCell;

	/// An in-memory chain: headers by number, justifications, and one state for every block.
	struct Chain {
		headers: Vec<Header>,
		justifications: BTreeMap<BlockNumber, Vec<u8>>,
		state: RefCell<TestExternalities<BlakeTwo256>>,
		/// Answer read proofs from this state instead (a lying node).
		lie_state: Option<RefCell<TestExternalities<BlakeTwo256>>>,
		proofs_served: RefCell<usize>,
	}

	fn justify(header: &Header, set_id: u64, keys: Vec<(Account, u64)>) -> Vec<u8> {
		make_justification_for_header(JustificationGeneratorParams {
			header: header.clone(),
			round: 1,
			set_id,
			authorities: keys,
			ancestors: 0,
			forks: 1,
		})
		.encode()
	}

	fn keys(accounts: &[Account]) -> Vec<(Account, u64)> {
		accounts.iter().map(|a| (*a, 1)).collect()
	}

	impl Chain {
		/// `n` blocks after genesis, all on state `kv`; block `change_at` hands over to the
		/// set {DAVE, EVE, FERDIE}.
		fn new(n: u32, kv: &[(Vec<u8>, Vec<u8>)], change_at: Option<u32>) -> Chain {
			let mut state = TestExternalities::<BlakeTwo256>::default();
			for (k, v) in kv {
				state.insert(k.clone(), v.clone());
			}
			state.commit_all().unwrap();
			let root = *state.as_backend().root();
			let mut headers: Vec<Header> = Vec::new();
			for number in 0..=n {
				let parent = headers.last().map(|h| h.hash()).unwrap_or_default();
				let mut header =
					Header::new(number, Default::default(), root, parent, Default::default());
				if Some(number) == change_at {
					let log = ConsensusLog::<BlockNumber>::ScheduledChange(ScheduledChange {
						next_authorities: keys(&[DAVE, EVE, FERDIE])
							.into_iter()
							.map(|(a, w)| (a.into(), w))
							.collect(),
						delay: 0,
					});
					header
						.digest_mut()
						.push(DigestItem::Consensus(GRANDPA_ENGINE_ID, log.encode()));
				}
				headers.push(header);
			}
			Chain {
				headers,
				justifications: BTreeMap::new(),
				state: RefCell::new(state),
				lie_state: None,
				proofs_served: RefCell::new(0),
			}
		}
	}

	impl Source for Chain {
		fn describe(&self) -> String {
			"test chain".into()
		}
		fn finalized_number(&self) -> Result<BlockNumber> {
			Ok(*self.justifications.keys().last().unwrap_or(&0))
		}
		fn prove_finality(&self, number: BlockNumber) -> Result<Option<FinalityProof>> {
			// The first justified block at or after `number`, as a node's record of set changes
			// would give it.
			Ok(self.justifications.range(number..).next().map(|(n, j)| FinalityProof {
				block: self.headers[*n as usize].hash(),
				justification: j.clone(),
				unknown_headers: vec![],
			}))
		}
		fn header_of(&self, hash: H256) -> Result<Header> {
			self.headers
				.iter()
				.find(|h| h.hash() == hash)
				.cloned()
				.ok_or_else(|| Error::Verification("no such header".into()))
		}
		fn hash_of(&self, number: BlockNumber) -> Result<Option<H256>> {
			Ok(self.headers.get(number as usize).map(|h| h.hash()))
		}
		fn justification_of(&self, hash: H256) -> Result<Option<Vec<u8>>> {
			let n = self.header_of(hash)?.number;
			Ok(self.justifications.get(&n).cloned())
		}
		fn read_proof_at(&self, keys: &[Vec<u8>], _at: H256) -> Result<Vec<Vec<u8>>> {
			*self.proofs_served.borrow_mut() += 1;
			let state = self.lie_state.as_ref().unwrap_or(&self.state);
			let backend = state.borrow_mut().as_backend();
			let proof = sp_state_machine::prove_read(backend, keys.iter())
				.map_err(|e| Error::Verification(e.to_string()))?;
			Ok(proof.into_iter_nodes().collect())
		}
	}

	fn genesis_client(chain: &Chain) -> LightClient {
		let checkpoint = Checkpoint {
			genesis: chain.headers[0].hash(),
			set_id: 0,
			authorities: authority_list_of(&[ALICE, BOB, CHARLIE]),
			header: chain.headers[0].clone(),
		};
		LightClient::from_checkpoint(chain, checkpoint).unwrap()
	}

	fn authority_list_of(accounts: &[Account]) -> AuthorityList {
		accounts.iter().map(|a| ((*a).into(), 1)).collect()
	}

	#[test]
	fn a_block_justified_by_the_trusted_set_is_accepted_and_one_signed_by_others_or_too_few_is_not()
	{
		let mut chain = Chain::new(10, &[], None);
		// Block 5 justified by EVE, DAVE and FERDIE: not the set the client trusts.
		chain.justifications.insert(5, justify(&chain.headers[5], 0, keys(&[DAVE, EVE, FERDIE])));
		let mut lc = genesis_client(&chain);
		let err = lc.sync(&chain).unwrap_err();
		assert!(
			matches!(&err, Error::Verification(m) if m.contains("does not prove it final under authority set 0")),
			"{err}"
		);
		assert_eq!(lc.finalized().number, 0, "a refused step leaves the client where it was");

		// Justified for the wrong set id by the right keys: refused too.
		chain.justifications.insert(5, justify(&chain.headers[5], 7, keys(&[ALICE, BOB, CHARLIE])));
		assert!(lc.sync(&chain).is_err());
		assert_eq!(lc.finalized().number, 0);

		// Two of three honest signatures are not more than 2/3: refused; all three are.
		chain.justifications.insert(5, justify(&chain.headers[5], 0, keys(&[ALICE, BOB])));
		let err = lc.sync(&chain).unwrap_err();
		assert!(
			matches!(&err, Error::Verification(m) if m.contains("TooLowCumulativeWeight")),
			"{err}"
		);
		chain.justifications.insert(5, justify(&chain.headers[5], 0, keys(&[ALICE, BOB, CHARLIE])));
		assert_eq!(lc.sync(&chain).unwrap(), 1);
		assert_eq!(lc.finalized().number, 5);
	}

	#[test]
	fn a_node_cannot_move_the_client_back_to_an_older_final_block() {
		let mut chain = Chain::new(10, &[], None);
		for n in [3, 8] {
			chain
				.justifications
				.insert(n, justify(&chain.headers[n as usize], 0, keys(&[ALICE, BOB, CHARLIE])));
		}
		let mut lc = genesis_client(&chain);
		lc.sync(&chain).unwrap();
		assert_eq!(lc.finalized().number, 8);
		// Block 3's justification is genuine, but older than what the client holds.
		let err = lc
			.import(&chain, chain.headers[3].clone(), chain.justifications[&3].clone())
			.unwrap_err()
			.to_string();
		assert!(err.contains("newer than the verified block #8"), "{err}");
		assert_eq!(lc.finalized().number, 8);
		assert_eq!(lc.checkpoint().set_id, 0);
	}

	#[test]
	fn the_client_follows_a_set_hand_off_and_then_trusts_only_the_new_set() {
		let mut chain = Chain::new(12, &[], Some(4));
		chain.justifications.insert(4, justify(&chain.headers[4], 0, keys(&[ALICE, BOB, CHARLIE])));
		chain.justifications.insert(9, justify(&chain.headers[9], 1, keys(&[DAVE, EVE, FERDIE])));
		let mut lc = genesis_client(&chain);
		assert_eq!(lc.sync(&chain).unwrap(), 2);
		assert_eq!(lc.finalized().number, 9);
		assert_eq!(lc.checkpoint().set_id, 1);
		assert_eq!(lc.checkpoint().authorities, authority_list_of(&[DAVE, EVE, FERDIE]));

		// The old set can no longer finalise anything.
		chain
			.justifications
			.insert(12, justify(&chain.headers[12], 1, keys(&[ALICE, BOB, CHARLIE])));
		assert!(lc.sync(&chain).is_err());
		assert_eq!(lc.finalized().number, 9);

		// Skipping the hand-off (a node that serves block 9 first) is refused: set 0 did not sign 9.
		let mut fresh = genesis_client(&chain);
		chain.justifications.remove(&4);
		assert!(fresh.sync(&chain).is_err());
		assert_eq!(fresh.finalized().number, 0);
	}

	#[test]
	fn reads_run_the_pallets_code_on_proven_keys_and_a_lying_proof_is_refused() {
		let who = sp_runtime::AccountId32::new([7; 32]);
		let other = sp_runtime::AccountId32::new([8; 32]);
		// Two dependent reads: the answer names a key whose value is then read.
		let first = pallet_grandpa::CurrentSetId::<Runtime>::hashed_key().to_vec();
		let second = frame_system::Account::<Runtime>::hashed_key_for(&who);
		let third = frame_system::Account::<Runtime>::hashed_key_for(&other);
		let mut info =
			frame_system::AccountInfo::<u32, pallet_balances::AccountData<u128>>::default();
		info.nonce = 42;
		let state = vec![
			(first.clone(), 1u64.encode()),
			(second, info.encode()),
			(
				third,
				frame_system::AccountInfo::<u32, pallet_balances::AccountData<u128>>::default()
					.encode(),
			),
		];
		let mut chain = Chain::new(3, &state, None);
		chain.justifications.insert(3, justify(&chain.headers[3], 0, keys(&[ALICE, BOB, CHARLIE])));
		let mut lc = genesis_client(&chain);
		lc.sync(&chain).unwrap();
		let at = lc.finalized().hash();
		let query = || {
			let target =
				if pallet_grandpa::CurrentSetId::<Runtime>::get() == 1 { &who } else { &other };
			frame_system::Account::<Runtime>::get(target).nonce
		};
		assert_eq!(lc.read(&chain, at, query).unwrap(), 42);
		assert_eq!(*chain.proofs_served.borrow(), 2, "one proof per round of dependent keys");

		// A node that proves another state (here: the nonce changed) is caught.
		let mut lie = TestExternalities::<BlakeTwo256>::default();
		for (k, v) in &state {
			lie.insert(k.clone(), v.clone());
		}
		info.nonce = 43;
		lie.insert(frame_system::Account::<Runtime>::hashed_key_for(&who), info.encode());
		lie.commit_all().unwrap();
		chain.lie_state = Some(RefCell::new(lie));
		let err = lc.read(&chain, at, query).unwrap_err();
		assert!(
			matches!(&err, Error::Verification(m) if m.contains("does not match its state root")),
			"{err}"
		);

		// Iterating storage cannot be proven key by key: refused, not answered partially.
		chain.lie_state = None;
		let err =
			lc.read(&chain, at, || frame_system::Account::<Runtime>::iter().count()).unwrap_err();
		assert!(matches!(&err, Error::Verification(m) if m.contains("iterates storage")), "{err}");

		// A block the client did not verify cannot be read at.
		assert!(lc.read(&chain, chain.headers[2].hash(), query).is_err());
	}
}
