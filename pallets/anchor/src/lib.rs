//! # Cross-chain summary anchoring
//!
//! The consortium chain's side of the paper's Fig. 4 ("Data storage"): summary batches of every
//! registered private chain (hospital and internet-medicine platform chains) arrive with a
//! proof that the private chain finalised them, and become consortium slips that a proxy can
//! search by patient.
//!
//! ## Terms
//! - **Private chain**: a hospital or platform chain running the MBDS runtime, with GRANDPA
//!   finality, keyed here by its [`ChainId`].
//! - **Light client**: per private chain, the GRANDPA authority set (and set id) that must sign
//!   its next finality proof, its best finalised header (hash, number, state root) and a ring of
//!   the last [`Config::HeadersToKeep`] imported headers.
//! - **Summary batch**: `pallet_slips::Batches` entry on the private chain: a Merkle root over
//!   the summary items confirmed in a window (see `pallet-slips`).
//! - **Consortium slip**: up to [`ITEMS_PER_CONSORTIUM_SLIP`] items of one batch (patient id,
//!   encrypted keyword, record hash, source chain id, block number, slip id), stored here and
//!   indexed by patient so a search costs what that patient's data costs, not the chain's.
//!
//! ## Flow
//! A relayer calls [`Pallet::submit_summary`] with a private-chain header, optionally a GRANDPA
//! justification for it, the batch id, all its items and a storage proof of the batch's
//! `pallet_slips::Batches` entry in that header's state. The pallet (1) checks the batch is the
//! chain's next one, (2) checks the header names that chain (see *Chain binding*), (3) checks
//! the header is final (the justification verifies against the current authority set, or the
//! header was imported before), (4) reads the batch record from the storage proof against the
//! header's state root and (5) recomputes the Merkle root over the submitted items. Only then
//! does it write: the header (if new), the next batch id, the consortium slips and the patient
//! index. [`Pallet::import_header`] imports a header without a batch: the relayer must use it for
//! every header that schedules a GRANDPA authority change when no batch goes with it, since later
//! headers are signed by the next set.
//!
//! ## Chain binding
//! GRANDPA signatures name a round, a set id and a block, not a chain, and private chains may
//! share validator keys (the local presets do). A header of one chain, finalised by keys that
//! another chain's light client trusts, would verify there; relaying a hand-off of the first
//! chain would then move the second chain's light client to a set its own validators never
//! sign for. So every private chain names itself in each block: `pallet-chain-info` deposits a
//! header digest item `DigestItem::Other(CHAIN_DIGEST_TAG ++ chain_id.encode())` (see
//! [`mbds_primitives::chain_digest_item`]). The light client of chain `c` accepts a header
//! only if its digest names exactly `c` ([`mbds_primitives::chain_id_in_digest`]), checked
//! before the justification and before anything is written: a header naming another chain
//! fails with `HeaderOfAnotherChain`, one naming none (or naming it ambiguously) with
//! `HeaderNamesNoChain`. This holds for [`Pallet::import_header`] and
//! [`Pallet::submit_summary`] (with or without justification), and for the header governance
//! gives to [`Pallet::register_chain`] and [`Pallet::reset_light_client`], with one exception:
//! a genesis header (number 0 and an empty digest, as every Substrate genesis header has) names
//! no chain and is accepted from governance. The header hash covers the digest, so the chain
//! named by a justified header is as final as the header. Consequence for upgrades: a private
//! chain's blocks from before it ran `pallet-chain-info`'s digest deposit cannot be imported.
//!
//! ## Trust model
//! - GRANDPA's: a header is final once more than two thirds of the current authority set
//!   signed it. The pallet assumes the private chain's validators keep that honest majority; if
//!   they sign two conflicting headers, the first one submitted wins here and governance must
//!   re-initialise the light client.
//! - The first header and authority set of each chain are trusted as given by
//!   [`Config::GovernanceOrigin`] (registration and re-initialisation), as in the bridge GRANDPA
//!   pallet. Authority hand-offs after that are followed from the headers: a header carrying a
//!   GRANDPA `ScheduledChange` (delay 0, as `pallet-grandpa` issues) hands finality of the
//!   following headers to the next set (set id + 1). Forced changes need governance.
//! - Private chains run this same runtime: the storage key of `pallet_slips::Batches` and the
//!   SCALE layout of its records and summary items computed here are those of the private chain.
//!   A private chain on another runtime (other pallet name or types) cannot be anchored.
//! - Relayers are untrusted: anyone may submit; a forged, unfinalised, tampered, replayed,
//!   duplicated or out-of-order batch fails with its own error and changes nothing, and a
//!   relayer restarting from [`Pallet::anchored`] loses and duplicates nothing.
//!
//! ## What it does not do
//! - It does not read or check encrypted keywords; it stores what the private chain finalised.
//! - It does not follow forks: only finalised headers are imported, newest first wins.
//! - It does not prune consortium slips or the patient index.
//! - It does not check which kind of chain it runs on: on a private chain governance simply
//!   registers no chain, and every anchoring call fails with `UnknownChain`. Which chain a header
//!   belongs to it does check (see *Chain binding*); which *kind* of chain that is, it does not.
//! - Relayer fees and refunds are the transaction-payment pallet's business.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod migrations;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use types::*;
pub use weights::WeightInfo;

use alloc::{boxed::Box, vec, vec::Vec};
use bp_header_chain::{
	justification::{
		verify_justification, GrandpaJustification, JustificationVerificationContext,
		JustificationVerificationError, PrecommitError,
	},
	AuthoritySet, GrandpaConsensusLogReader,
};
use bp_runtime::{RawStorageProof, StorageProofChecker, StorageProofError};
use codec::{Codec, Encode};
use frame_support::pallet_prelude::*;
use frame_system::pallet_prelude::BlockNumberFor;
use mbds_primitives::{
	chain_id_in_digest,
	consent::{CategoryList, RecordRegistry},
	ChainId, INDEX_LABEL_LEN,
};
use pallet_slips::{BatchId, BatchInfo, SummaryItemOf};
use sp_consensus_grandpa::{AuthorityList, SetId};
use sp_core::H256;
use sp_runtime::traits::{BlakeTwo256, Hash, Header as HeaderT, Zero};

/// Logging target of this pallet.
pub const LOG_TARGET: &str = "runtime::anchor";

/// Most trie nodes one storage proof may carry. A read of one key in a real chain's state needs
/// a handful (the trie depth); more is padding a relayer would make the chain hash for nothing.
pub const MAX_STORAGE_PROOF_NODES: u32 = 64;

/// Most summary items one `summaries_of` / `patient_summaries` runtime-API call returns.
pub const MAX_SUMMARIES_PER_QUERY: u32 = 256;

/// Most chains whose items one searchable-index label names (one entry per chain, the first
/// item of that chain with the label): a chain that anchors a patient's label before the
/// chain holding the real record (it saw the label on its way) cannot hide that record.
pub const MAX_CHAINS_PER_LABEL: u32 = 8;

/// The entries of one label: (chain, position in the patient's index), at most one per chain.
pub type LabelEntries = BoundedVec<(ChainId, u32), ConstU32<MAX_CHAINS_PER_LABEL>>;

/// The private-chain header type of a runtime.
pub type PrivateHeaderOf<T> = <T as Config>::PrivateHeader;

/// A GRANDPA justification of a private-chain header.
pub type JustificationOf<T> = GrandpaJustification<PrivateHeaderOf<T>>;

/// The consortium slip type of a runtime.
pub type ConsortiumSlipOf<T> = ConsortiumSlip<SummaryItemOf<T>, BlockNumberFor<T>>;

/// The runtime-API answer type for one item.
pub type AnchoredSummaryOf<T> = AnchoredSummary<SummaryItemOf<T>, BlockNumberFor<T>>;

/// The stored authority set type of a runtime.
pub type StoredAuthoritySetOf<T> = StoredAuthoritySet<<T as Config>::MaxAuthorities>;

/// Merkle root over summary items exactly as `pallet-slips` computes a batch root: leaf = hash
/// of the SCALE-encoded item, binary Merkle tree with `BlakeTwo256`.
pub fn summary_root<Item: Encode>(items: &[Item]) -> H256 {
	binary_merkle_tree::merkle_root_raw::<BlakeTwo256, _>(
		items.iter().map(|item| BlakeTwo256::hash(&item.encode())),
	)
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_system::pallet_prelude::*;

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	/// The slip pallet is a supertrait because private chains run this runtime: its `Batches`
	/// storage key and its batch and item types are the private chains'.
	#[pallet::config]
	pub trait Config: frame_system::Config + pallet_slips::Config {
		/// May register private chains and re-initialise their light clients, i.e. decide
		/// which GRANDPA authorities are trusted. Root or the council; whoever passes it can
		/// make the consortium accept any batch.
		type GovernanceOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Header of the private chains: the runtime's own `Header` (same runtime). Its hashing
		/// must be the private chain's, or no justification or storage proof will verify.
		type PrivateHeader: HeaderT<
			Number = BlockNumberFor<Self>,
			Hash = H256,
			Hashing = BlakeTwo256,
		>;

		/// Most GRANDPA authorities of a private chain (the paper: at least 4 validators). A
		/// hand-off to a larger set fails with `TooManyAuthorities` and needs governance.
		#[pallet::constant]
		type MaxAuthorities: Get<u32>;

		/// Imported headers kept per chain (a ring): a batch can be anchored without a new
		/// justification against any of the last `HeadersToKeep` imported headers. Must not be
		/// zero; small values force the relayer to send a justification more often.
		#[pallet::constant]
		type HeadersToKeep: Get<u32>;

		/// Most headers in a justification's vote ancestries. GRANDPA precommits on private
		/// chains target blocks close to the finalised one; this bounds the hashing work.
		#[pallet::constant]
		type MaxVotesAncestries: Get<u32>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;
	}

	/// Registered private chains and the state of their light clients.
	#[pallet::storage]
	pub type Chains<T: Config> =
		StorageMap<_, Twox64Concat, ChainId, ChainState<BlockNumberFor<T>>, OptionQuery>;

	/// The GRANDPA authority set that must sign the next justification of each chain.
	#[pallet::storage]
	pub type AuthoritySets<T: Config> =
		StorageMap<_, Twox64Concat, ChainId, StoredAuthoritySetOf<T>, OptionQuery>;

	/// Imported (finalised) headers of each chain still in its ring, by hash.
	#[pallet::storage]
	pub type ImportedHeaders<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		ChainId,
		Identity,
		H256,
		FinalizedHeader<BlockNumberFor<T>>,
		OptionQuery,
	>;

	/// The ring of imported header hashes of each chain, by slot (`0..HeadersToKeep`).
	#[pallet::storage]
	pub type ImportedHashes<T: Config> =
		StorageDoubleMap<_, Twox64Concat, ChainId, Twox64Concat, u32, H256, OptionQuery>;

	/// Id the next consortium slip gets.
	#[pallet::storage]
	pub type NextConsortiumSlipId<T: Config> = StorageValue<_, ConsortiumSlipId, ValueQuery>;

	/// Every consortium slip, by id.
	#[pallet::storage]
	pub type ConsortiumSlips<T: Config> =
		StorageMap<_, Twox64Concat, ConsortiumSlipId, ConsortiumSlipOf<T>, OptionQuery>;

	/// Number of anchored items about each patient.
	#[pallet::storage]
	pub type PatientItemCount<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	/// The n-th anchored item about a patient (n from 0, in anchoring order).
	#[pallet::storage]
	pub type PatientItemAt<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Twox64Concat,
		u32,
		ItemRef<BlockNumberFor<T>>,
		OptionQuery,
	>;

	/// Each patient's searchable index (`mbds_crypto::sse`, Cash et al., NDSS 2014): where in
	/// [`PatientItemAt`] the anchored items carrying a label are (an item whose keyword is
	/// [`mbds_primitives::INDEX_LABEL_TAG`] and the label), the first of each chain, at most
	/// [`MAX_CHAINS_PER_LABEL`] chains. Only the patient's key makes labels, so a search by the
	/// patient's tokens looks up the labels of the records that match, never the patient's
	/// other records.
	#[pallet::storage]
	pub type IndexEntries<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		[u8; INDEX_LABEL_LEN],
		LabelEntries,
		ValueQuery,
	>;

	/// Number of a patient's anchored items without an index label (confirmed with
	/// `confirm_slip`, before the index or without checking the record): found only by the
	/// designated-tester search over every item, which a search then adds.
	#[pallet::storage]
	pub type UnindexedItemCount<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	/// The categories the consortium vouches for, by patient and record hash: those the
	/// patient confirmed on the record's slip (the union, if several anchored items name the
	/// record for that patient). The consent pallet applies category-scoped grants with these.
	#[pallet::storage]
	pub type RecordCategories<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		H256,
		CategoryList,
		OptionQuery,
	>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// Governance registered a private chain; its light client starts at this header and
		/// authority set.
		ChainRegistered { chain_id: ChainId, number: BlockNumberFor<T>, hash: H256, set_id: SetId },
		/// Governance re-initialised a chain's light client (its imported headers were
		/// dropped; batch numbering continues).
		LightClientReset { chain_id: ChainId, number: BlockNumberFor<T>, hash: H256, set_id: SetId },
		/// A finalised header of a private chain was imported.
		HeaderImported { chain_id: ChainId, number: BlockNumberFor<T>, hash: H256 },
		/// A private chain's GRANDPA authority set changed (from an imported header).
		AuthoritySetChanged { chain_id: ChainId, set_id: SetId, authorities: u32 },
		/// A summary batch was verified and stored as consortium slips
		/// `first_slip..first_slip + slips`.
		SummaryAnchored {
			chain_id: ChainId,
			batch_id: BatchId,
			items: u32,
			first_slip: ConsortiumSlipId,
			slips: u32,
			relayer: T::AccountId,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// No private chain is registered under this id; governance must register it.
		UnknownChain,
		/// A chain is already registered under this id; re-initialise its light client instead.
		ChainAlreadyRegistered,
		/// The authority list is empty or has a zero weight or a duplicate authority.
		InvalidAuthoritySet,
		/// The authority set is larger than `MaxAuthorities`.
		TooManyAuthorities,
		/// This batch was already anchored (a replay or a duplicate); ask `anchored` for the
		/// next one.
		BatchAlreadyAnchored,
		/// Batches are anchored in order and this one skips the chain's next batch; submit that
		/// one first.
		BatchSkipped,
		/// A batch has at least one item.
		NoItems,
		/// More items than a batch can hold (`pallet_slips::Config::MaxItemsPerBatch`).
		TooManyItems,
		/// The header is not newer than the chain's best finalised header.
		OldHeader,
		/// No justification was given and the header is not among the imported ones; send a
		/// justification with it.
		HeaderNotImported,
		/// The justification has more precommits than `MaxAuthorities` or more vote ancestries
		/// than `MaxVotesAncestries`.
		JustificationTooLarge,
		/// The justification finalises another header than the one submitted.
		JustificationTargetMismatch,
		/// A precommit's signature does not verify: forged or corrupted.
		InvalidSignature,
		/// The justification is signed for another authority set id than the current one (e.g.
		/// the set changed and the header that handed it over was not imported yet).
		WrongAuthoritySetId,
		/// A precommit is signed by a key outside the current authority set.
		UnknownAuthority,
		/// The valid precommits weigh less than the GRANDPA threshold (two thirds + 1): the
		/// header is not finalised by this set.
		NotEnoughSignatures,
		/// The justification is malformed: duplicate or redundant votes or ancestries, or a
		/// vote for a block that does not descend from the target.
		MalformedJustification,
		/// The header carries a GRANDPA forced change; governance must re-initialise the
		/// light client.
		UnsupportedForcedChange,
		/// The header schedules a GRANDPA change with a non-zero delay, which `pallet-grandpa`
		/// never issues; governance must re-initialise the light client.
		UnsupportedScheduledChange,
		/// The storage proof has more than `MAX_STORAGE_PROOF_NODES` nodes.
		StorageProofTooLarge,
		/// The storage proof does not prove against the header's state root or misses a node
		/// on the path of the batch's key.
		InvalidStorageProof,
		/// The storage proof carries nodes that the batch read did not use.
		UnusedProofNodes,
		/// The proven state holds no closed batch with this id (the batch is open, not yet
		/// created, or the header is too old).
		BatchNotInState,
		/// The proven batch record does not decode as a `pallet_slips::BatchInfo`.
		UndecodableBatch,
		/// The proven batch record or an item names another chain than the one submitted.
		WrongSourceChain,
		/// The number of items differs from the proven batch's item count.
		ItemCountMismatch,
		/// The Merkle root over the items differs from the proven batch root: an item was
		/// altered, dropped, added or reordered.
		BatchRootMismatch,
		/// The header names another chain than the one of this light client in its digest: it
		/// is a header of another private chain (whose validators may share keys with this
		/// one), and is refused whatever its justification.
		HeaderOfAnotherChain,
		/// The header names no chain in its digest (or names several, or a malformed id), so
		/// it cannot be tied to this light client's chain. Every block of an MBDS chain but
		/// genesis names its chain (`pallet-chain-info`); only governance may give a genesis
		/// header, at registration or re-initialisation.
		HeaderNamesNoChain,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(T::HeadersToKeep::get() > 0, "HeadersToKeep must not be zero");
			assert!(T::MaxAuthorities::get() > 0, "MaxAuthorities must not be zero");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register private chain `chain_id`, trusting `header` as finalised and `authorities`
		/// (with id `set_id`) as the GRANDPA set that finalises the headers after it. `header`
		/// is the chain's genesis header or names `chain_id` in its digest.
		///
		/// Origin: [`Config::GovernanceOrigin`]. Batch anchoring starts at batch 0.
		#[pallet::call_index(0)]
		#[pallet::weight(<T as Config>::WeightInfo::register_chain(authorities.len() as u32))]
		pub fn register_chain(
			origin: OriginFor<T>,
			chain_id: ChainId,
			header: Box<PrivateHeaderOf<T>>,
			authorities: AuthorityList,
			set_id: SetId,
		) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			ensure!(!Chains::<T>::contains_key(chain_id), Error::<T>::ChainAlreadyRegistered);
			let set = Self::checked_authority_set(authorities, set_id)?;
			Self::ensure_trusted_header_of(chain_id, &header)?;

			let head = Self::finalized_header(&header);
			let mut state = ChainState { best_finalized: head, next_batch: 0, ring_next: 0 };
			Self::import(chain_id, &mut state, head);
			Chains::<T>::insert(chain_id, state);
			AuthoritySets::<T>::insert(chain_id, set);
			Self::deposit_event(Event::ChainRegistered {
				chain_id,
				number: head.number,
				hash: head.hash,
				set_id,
			});
			Ok(())
		}

		/// Re-initialise the light client of `chain_id` at `header` with `authorities` (id
		/// `set_id`), e.g. after a forced authority change or a finality incident. `header` is the
		/// chain's genesis header or names `chain_id` in its digest.
		///
		/// Origin: [`Config::GovernanceOrigin`]. Imported headers are dropped; the header may be
		/// older than the current best. Batch numbering continues, so nothing is anchored twice.
		#[pallet::call_index(1)]
		#[pallet::weight(<T as Config>::WeightInfo::reset_light_client(authorities.len() as u32))]
		pub fn reset_light_client(
			origin: OriginFor<T>,
			chain_id: ChainId,
			header: Box<PrivateHeaderOf<T>>,
			authorities: AuthorityList,
			set_id: SetId,
		) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			let mut state = Chains::<T>::get(chain_id).ok_or(Error::<T>::UnknownChain)?;
			let set = Self::checked_authority_set(authorities, set_id)?;
			Self::ensure_trusted_header_of(chain_id, &header)?;

			let keep = T::HeadersToKeep::get();
			let _ = ImportedHashes::<T>::clear_prefix(chain_id, keep, None);
			let _ = ImportedHeaders::<T>::clear_prefix(chain_id, keep, None);
			let head = Self::finalized_header(&header);
			state.best_finalized = head;
			state.ring_next = 0;
			Self::import(chain_id, &mut state, head);
			Chains::<T>::insert(chain_id, state);
			AuthoritySets::<T>::insert(chain_id, set);
			Self::deposit_event(Event::LightClientReset {
				chain_id,
				number: head.number,
				hash: head.hash,
				set_id,
			});
			Ok(())
		}

		/// Import `header` of `chain_id`, finalised by `justification` of the current authority
		/// set, without a batch. `header` must name `chain_id` in its digest.
		///
		/// Relayers must import every header that schedules an authority change (unless a batch
		/// goes with it), since headers after it are signed by the next set. Any signed origin.
		#[pallet::call_index(2)]
		#[pallet::weight(<T as Config>::WeightInfo::import_header(Pallet::<T>::precommits_of(justification)))]
		pub fn import_header(
			origin: OriginFor<T>,
			chain_id: ChainId,
			header: Box<PrivateHeaderOf<T>>,
			justification: JustificationOf<T>,
		) -> DispatchResult {
			ensure_signed(origin)?;
			let mut state = Chains::<T>::get(chain_id).ok_or(Error::<T>::UnknownChain)?;
			Self::ensure_header_of(chain_id, &header)?;
			let set = AuthoritySets::<T>::get(chain_id).ok_or(Error::<T>::UnknownChain)?;
			let next_set = Self::verify_finality(&state, &set, &header, &justification)?;

			Self::import_finalized(chain_id, &mut state, &header, next_set, set.set_id);
			Chains::<T>::insert(chain_id, state);
			Ok(())
		}

		/// Anchor batch `batch_id` of private chain `chain_id`: `items` are all its summary
		/// items in leaf order, `storage_proof` proves its `pallet_slips::Batches` record in the
		/// state of `header`, which is either finalised by `justification` (and imported as the
		/// chain's best header) or, without a justification, an imported header. `header` must
		/// name `chain_id` in its digest.
		///
		/// The items become consortium slips of up to ten items, indexed by patient. Any signed
		/// origin (a relayer).
		#[pallet::call_index(3)]
		#[pallet::weight(Pallet::<T>::submit_summary_weight(items.len(), justification.as_ref()))]
		pub fn submit_summary(
			origin: OriginFor<T>,
			chain_id: ChainId,
			header: Box<PrivateHeaderOf<T>>,
			justification: Option<JustificationOf<T>>,
			batch_id: BatchId,
			items: Vec<SummaryItemOf<T>>,
			storage_proof: RawStorageProof,
		) -> DispatchResultWithPostInfo {
			let relayer = ensure_signed(origin)?;
			let mut state = Chains::<T>::get(chain_id).ok_or(Error::<T>::UnknownChain)?;
			ensure!(batch_id >= state.next_batch, Error::<T>::BatchAlreadyAnchored);
			ensure!(batch_id == state.next_batch, Error::<T>::BatchSkipped);
			ensure!(!items.is_empty(), Error::<T>::NoItems);
			ensure!(
				items.len() <= <T as pallet_slips::Config>::MaxItemsPerBatch::get() as usize,
				Error::<T>::TooManyItems
			);

			// The header is one of this chain's, then final.
			Self::ensure_header_of(chain_id, &header)?;
			let (state_root, imported) = match &justification {
				Some(justification) => {
					let set = AuthoritySets::<T>::get(chain_id).ok_or(Error::<T>::UnknownChain)?;
					let next_set = Self::verify_finality(&state, &set, &header, justification)?;
					(*header.state_root(), Some((next_set, set.set_id)))
				}
				None => {
					let known = ImportedHeaders::<T>::get(chain_id, header.hash())
						.ok_or(Error::<T>::HeaderNotImported)?;
					(known.state_root, None)
				}
			};

			// The batch record in that header's state, and the items against its root.
			let batch = Self::proven_batch(state_root, batch_id, storage_proof)?;
			ensure!(batch.chain_id == chain_id, Error::<T>::WrongSourceChain);
			ensure!(items.iter().all(|i| i.chain_id == chain_id), Error::<T>::WrongSourceChain);
			ensure!(batch.item_count as usize == items.len(), Error::<T>::ItemCountMismatch);
			ensure!(summary_root(&items) == batch.root, Error::<T>::BatchRootMismatch);

			// Writes from here on; nothing below can fail.
			if let Some((next_set, set_id)) = imported {
				Self::import_finalized(chain_id, &mut state, &header, next_set, set_id);
			}
			state.next_batch = batch_id.saturating_add(1);
			Chains::<T>::insert(chain_id, state);
			let item_count = items.len() as u32;
			let (first_slip, slips) = Self::store_slips(chain_id, batch_id, items);
			Self::deposit_event(Event::SummaryAnchored {
				chain_id,
				batch_id,
				items: item_count,
				first_slip,
				slips,
				relayer,
			});
			Ok(Some(Self::submit_summary_weight(item_count as usize, justification.as_ref()))
				.into())
		}
	}

	impl<T: Config> Pallet<T> {
		/// Number of precommits of a justification for weighing, capped at `MaxAuthorities`
		/// (more is rejected before any signature is checked).
		pub fn precommits_of(justification: &JustificationOf<T>) -> u32 {
			(justification.commit.precommits.len() as u32).min(T::MaxAuthorities::get())
		}

		/// Weight of `submit_summary` with `items` items and this justification.
		pub fn submit_summary_weight(
			items: usize,
			justification: Option<&JustificationOf<T>>,
		) -> Weight {
			let n = (items as u32).min(<T as pallet_slips::Config>::MaxItemsPerBatch::get());
			match justification {
				Some(j) => <T as Config>::WeightInfo::submit_summary(n, Self::precommits_of(j)),
				None => <T as Config>::WeightInfo::submit_summary_imported(n),
			}
		}

		/// `authorities` as a bounded set with id `set_id`, if GRANDPA accepts it as a voter set.
		fn checked_authority_set(
			authorities: AuthorityList,
			set_id: SetId,
		) -> Result<StoredAuthoritySetOf<T>, DispatchError> {
			ensure!(!authorities.is_empty(), Error::<T>::InvalidAuthoritySet);
			let bounded: BoundedVec<_, T::MaxAuthorities> =
				authorities.clone().try_into().map_err(|_| Error::<T>::TooManyAuthorities)?;
			// `VoterSet::new` rejects zero weights; duplicates would count twice.
			let mut ids: Vec<_> = authorities.iter().map(|(id, _)| id.clone()).collect();
			ids.sort();
			ids.dedup();
			ensure!(ids.len() == authorities.len(), Error::<T>::InvalidAuthoritySet);
			JustificationVerificationContext::try_from(AuthoritySet::new(authorities, set_id))
				.map_err(|_| Error::<T>::InvalidAuthoritySet)?;
			Ok(StoredAuthoritySet { authorities: bounded, set_id })
		}

		/// Checks that `header` names `chain_id` in its digest (see *Chain binding* in the crate
		/// docs). Reads no storage: a scan of the header's digest.
		fn ensure_header_of(chain_id: ChainId, header: &PrivateHeaderOf<T>) -> DispatchResult {
			match chain_id_in_digest(header.digest()) {
				Some(named) if named == chain_id => Ok(()),
				Some(named) => {
					log::debug!(
						target: LOG_TARGET,
						"header #{:?} names chain {named}, not chain {chain_id}",
						header.number(),
					);
					Err(Error::<T>::HeaderOfAnotherChain.into())
				}
				None => Err(Error::<T>::HeaderNamesNoChain.into()),
			}
		}

		/// [`Self::ensure_header_of`] for the header governance trusts at registration and
		/// re-initialisation, which may also be a genesis header: number 0 and an empty digest
		/// (genesis blocks are not initialised, so they name no chain).
		fn ensure_trusted_header_of(
			chain_id: ChainId,
			header: &PrivateHeaderOf<T>,
		) -> DispatchResult {
			if header.number().is_zero() && header.digest().logs().is_empty() {
				return Ok(());
			}
			Self::ensure_header_of(chain_id, header)
		}

		fn finalized_header(header: &PrivateHeaderOf<T>) -> FinalizedHeader<BlockNumberFor<T>> {
			FinalizedHeader {
				number: *header.number(),
				hash: header.hash(),
				state_root: *header.state_root(),
			}
		}

		/// Checks that `justification` of the current set `set` finalises `header`, newer than
		/// the chain's best. Returns the set that takes over after `header`, if it hands over.
		fn verify_finality(
			state: &ChainState<BlockNumberFor<T>>,
			set: &StoredAuthoritySetOf<T>,
			header: &PrivateHeaderOf<T>,
			justification: &JustificationOf<T>,
		) -> Result<Option<StoredAuthoritySetOf<T>>, DispatchError> {
			let number = *header.number();
			ensure!(number > state.best_finalized.number, Error::<T>::OldHeader);
			ensure!(
				justification.commit.precommits.len() <= T::MaxAuthorities::get() as usize
					&& justification.votes_ancestries.len()
						<= T::MaxVotesAncestries::get() as usize,
				Error::<T>::JustificationTooLarge
			);
			let context =
				JustificationVerificationContext::try_from(AuthoritySet::from(set.clone()))
					.map_err(|_| Error::<T>::InvalidAuthoritySet)?;
			verify_justification::<PrivateHeaderOf<T>>(
				(header.hash(), number),
				&context,
				justification,
			)
			.map_err(|e| Self::justification_error(e, justification, set.set_id))?;

			// The hand-off, as pallet-bridge-grandpa follows it.
			let digest = header.digest();
			ensure!(
				GrandpaConsensusLogReader::<BlockNumberFor<T>>::find_forced_change(digest)
					.is_none(),
				Error::<T>::UnsupportedForcedChange
			);
			match GrandpaConsensusLogReader::<BlockNumberFor<T>>::find_scheduled_change(digest) {
				None => Ok(None),
				Some(change) => {
					ensure!(change.delay.is_zero(), Error::<T>::UnsupportedScheduledChange);
					let next = Self::checked_authority_set(
						change.next_authorities,
						set.set_id.saturating_add(1),
					)?;
					Ok(Some(next))
				}
			}
		}

		/// A specific error for a failed justification.
		fn justification_error(
			e: JustificationVerificationError,
			justification: &JustificationOf<T>,
			set_id: SetId,
		) -> Error<T> {
			log::debug!(target: LOG_TARGET, "justification rejected: {:?}", e);
			match e {
				JustificationVerificationError::InvalidJustificationTarget => {
					Error::<T>::JustificationTargetMismatch
				}
				JustificationVerificationError::TooLowCumulativeWeight => {
					Error::<T>::NotEnoughSignatures
				}
				JustificationVerificationError::InvalidAuthorityList => {
					Error::<T>::InvalidAuthoritySet
				}
				JustificationVerificationError::Precommit(PrecommitError::UnknownAuthorityVote) => {
					Error::<T>::UnknownAuthority
				}
				JustificationVerificationError::Precommit(
					PrecommitError::InvalidAuthoritySignature,
				) => {
					if Self::signed_for_other_set(justification, set_id) {
						Error::<T>::WrongAuthoritySetId
					} else {
						Error::<T>::InvalidSignature
					}
				}
				_ => Error::<T>::MalformedJustification,
			}
		}

		/// True if the first precommit is validly signed for set id `set_id - 1` or
		/// `set_id + 1`: the relayer used the wrong set, the signatures are not forged. Two
		/// signature checks, only on the failure path.
		fn signed_for_other_set(justification: &JustificationOf<T>, set_id: SetId) -> bool {
			let Some(signed) = justification.commit.precommits.first() else { return false };
			let message = finality_grandpa::Message::Precommit(signed.precommit.clone());
			[set_id.checked_sub(1), set_id.checked_add(1)].into_iter().flatten().any(|other| {
				sp_consensus_grandpa::check_message_signature(
					&message,
					&signed.id,
					&signed.signature,
					justification.round,
					other,
				)
				.is_valid()
			})
		}

		/// Reads closed batch `batch_id` from `proof` of the state with root `state_root`.
		fn proven_batch(
			state_root: H256,
			batch_id: BatchId,
			proof: RawStorageProof,
		) -> Result<BatchInfo<BlockNumberFor<T>>, DispatchError> {
			ensure!(
				proof.len() <= MAX_STORAGE_PROOF_NODES as usize,
				Error::<T>::StorageProofTooLarge
			);
			let mut checker = StorageProofChecker::<BlakeTwo256>::new(state_root, proof)
				.map_err(|_| Error::<T>::InvalidStorageProof)?;
			let key = pallet_slips::Batches::<T>::hashed_key_for(batch_id);
			let batch = checker
				.read_and_decode_value::<BatchInfo<BlockNumberFor<T>>>(&key)
				.map_err(|e| match e {
					StorageProofError::DecodeError => Error::<T>::UndecodableBatch,
					_ => Error::<T>::InvalidStorageProof,
				})?
				.ok_or(Error::<T>::BatchNotInState)?;
			checker.ensure_no_unused_nodes().map_err(|_| Error::<T>::UnusedProofNodes)?;
			Ok(batch)
		}

		/// Puts `head` into the chain's ring of imported headers (evicting the oldest) and makes
		/// it the best finalised header. Does not write `state`.
		fn import(
			chain_id: ChainId,
			state: &mut ChainState<BlockNumberFor<T>>,
			head: FinalizedHeader<BlockNumberFor<T>>,
		) {
			let slot = state.ring_next;
			if let Some(evicted) = ImportedHashes::<T>::get(chain_id, slot) {
				ImportedHeaders::<T>::remove(chain_id, evicted);
			}
			ImportedHashes::<T>::insert(chain_id, slot, head.hash);
			ImportedHeaders::<T>::insert(chain_id, head.hash, head);
			state.ring_next = slot.saturating_add(1) % T::HeadersToKeep::get().max(1);
			state.best_finalized = head;
		}

		/// Imports a verified `header` and enacts the authority set it hands over to.
		fn import_finalized(
			chain_id: ChainId,
			state: &mut ChainState<BlockNumberFor<T>>,
			header: &PrivateHeaderOf<T>,
			next_set: Option<StoredAuthoritySetOf<T>>,
			old_set_id: SetId,
		) {
			let head = Self::finalized_header(header);
			Self::import(chain_id, state, head);
			Self::deposit_event(Event::HeaderImported {
				chain_id,
				number: head.number,
				hash: head.hash,
			});
			if let Some(next) = next_set {
				log::info!(
					target: LOG_TARGET,
					"chain {chain_id}: GRANDPA set {old_set_id} hands over to {} at #{:?}",
					next.set_id,
					head.number,
				);
				let (set_id, authorities) = (next.set_id, next.authorities.len() as u32);
				AuthoritySets::<T>::insert(chain_id, next);
				Self::deposit_event(Event::AuthoritySetChanged { chain_id, set_id, authorities });
			}
		}

		/// Stores `items` as consortium slips of up to ten and indexes them by patient. Returns
		/// the first slip id and the number of slips.
		fn store_slips(
			chain_id: ChainId,
			batch_id: BatchId,
			items: Vec<SummaryItemOf<T>>,
		) -> (ConsortiumSlipId, u32) {
			let now = frame_system::Pallet::<T>::block_number();
			let first = NextConsortiumSlipId::<T>::get();
			let mut next = first;
			for chunk in items.chunks(ITEMS_PER_CONSORTIUM_SLIP as usize) {
				for (index, item) in chunk.iter().enumerate() {
					let n = PatientItemCount::<T>::get(&item.patient);
					PatientItemAt::<T>::insert(
						&item.patient,
						n,
						ItemRef { slip: next, index: index as u8, anchored_at: now },
					);
					PatientItemCount::<T>::insert(&item.patient, n.saturating_add(1));
					match mbds_primitives::index_label_in(&item.encrypted_keyword) {
						// The first item of each chain keeps the label (a label whose list is
						// full, eight chains naming it, is not indexed again).
						Some(label) => IndexEntries::<T>::mutate(&item.patient, label, |entries| {
							if !entries.iter().any(|(c, _)| *c == chain_id) {
								let _ = entries.try_push((chain_id, n));
							}
						}),
						None => UnindexedItemCount::<T>::mutate(&item.patient, |c| {
							*c = c.saturating_add(1)
						}),
					}
					// A record named again for the same patient (another slip with the same
					// hash) adds its categories: a category scope must cover all of them, so a
					// label added by anyone can only narrow who reads the record, never widen
					// it. Another patient's slip naming the hash is that patient's entry.
					RecordCategories::<T>::mutate(&item.patient, item.record_hash, |known| {
						*known = Some(match known.take() {
							None => item.categories.clone(),
							Some(mut list) => {
								for c in item.categories.iter() {
									if let Err(at) = list.binary_search(c) {
										if list.try_insert(at, *c).is_err() {
											// Too many to list: keep an impossible category
											// so that no category scope covers it.
											list = BoundedVec::truncate_from(vec![
												mbds_primitives::consent::UNCOVERABLE_CATEGORY,
											]);
											break;
										}
									}
								}
								list
							}
						});
					});
				}
				// Cannot fail: chunks have at most ITEMS_PER_CONSORTIUM_SLIP items.
				let items = BoundedVec::truncate_from(chunk.to_vec());
				ConsortiumSlips::<T>::insert(
					next,
					ConsortiumSlip { chain_id, batch_id, anchored_at: now, items },
				);
				next = next.saturating_add(1);
			}
			NextConsortiumSlipId::<T>::put(next);
			(first, next.saturating_sub(first) as u32)
		}

		/// The anchored item at `position` of `patient`'s index.
		pub(crate) fn summary_at(
			patient: &T::AccountId,
			position: u32,
		) -> Option<AnchoredSummaryOf<T>> {
			let at = PatientItemAt::<T>::get(patient, position)?;
			let slip = ConsortiumSlips::<T>::get(at.slip)?;
			let item = slip.items.get(at.index as usize)?.clone();
			Some(AnchoredSummary {
				item,
				slip: at.slip,
				batch_id: slip.batch_id,
				anchored_at: at.anchored_at,
				position,
			})
		}

		/// `patient`'s anchored items from position `start`, at most `limit` (capped at
		/// [`MAX_SUMMARIES_PER_QUERY`]) (runtime API helper).
		pub fn patient_summaries(
			patient: &T::AccountId,
			start: u32,
			limit: u32,
		) -> Vec<AnchoredSummaryOf<T>> {
			let end = PatientItemCount::<T>::get(patient)
				.min(start.saturating_add(limit.min(MAX_SUMMARIES_PER_QUERY)));
			(start..end).filter_map(|n| Self::summary_at(patient, n)).collect()
		}

		/// `patient`'s items anchored at consortium block `since` or later (all if `None`),
		/// oldest first, at most [`MAX_SUMMARIES_PER_QUERY`]; page on with
		/// [`Self::patient_summaries`] from the last `position + 1` (runtime API helper).
		///
		/// Cost: a binary search and the returned items, in that patient's index only.
		pub fn summaries_of(
			patient: &T::AccountId,
			since: Option<BlockNumberFor<T>>,
		) -> Vec<AnchoredSummaryOf<T>> {
			let count = PatientItemCount::<T>::get(patient);
			let start = match since {
				None => 0,
				Some(since) => {
					// First position anchored at `since` or later.
					let (mut lo, mut hi) = (0u32, count);
					while lo < hi {
						let mid = lo + (hi - lo) / 2;
						match PatientItemAt::<T>::get(patient, mid) {
							Some(at) if at.anchored_at < since => lo = mid + 1,
							_ => hi = mid,
						}
					}
					lo
				}
			};
			Self::patient_summaries(patient, start, MAX_SUMMARIES_PER_QUERY)
		}

		/// The items of `patient`'s searchable index carrying each of `labels` (none for a
		/// label not in it; one per chain), at most [`MAX_SUMMARIES_PER_QUERY`] labels (runtime
		/// API helper). Cost: the labels looked up and the items found, whatever the number of
		/// the patient's items.
		pub fn lookup_labels(
			patient: &T::AccountId,
			labels: &[[u8; INDEX_LABEL_LEN]],
		) -> Vec<Vec<AnchoredSummaryOf<T>>> {
			let labels = &labels[..labels.len().min(MAX_SUMMARIES_PER_QUERY as usize)];
			// Every entry first, then the items: a light client proves each step in one round.
			let entries: Vec<LabelEntries> =
				labels.iter().map(|l| IndexEntries::<T>::get(patient, l)).collect();
			entries
				.into_iter()
				.map(|e| e.iter().filter_map(|(_, p)| Self::summary_at(patient, *p)).collect())
				.collect()
		}

		/// Number of `patient`'s anchored items without an index label (runtime API helper).
		pub fn unindexed_count(patient: &T::AccountId) -> u32 {
			UnindexedItemCount::<T>::get(patient)
		}

		/// Number of anchored items about `patient` (runtime API helper).
		pub fn patient_summary_count(patient: &T::AccountId) -> u32 {
			PatientItemCount::<T>::get(patient)
		}

		/// The next batch id `chain_id` may anchor and its best finalised block number, if the
		/// chain is registered (runtime API helper; a relayer resumes from it).
		pub fn anchored(chain_id: ChainId) -> Option<(BatchId, BlockNumberFor<T>)> {
			Chains::<T>::get(chain_id).map(|s| (s.next_batch, s.best_finalized.number))
		}

		/// What the light client of `chain_id` believes (runtime API helper).
		pub fn light_client(chain_id: ChainId) -> Option<LightClientInfo<BlockNumberFor<T>>> {
			let state = Chains::<T>::get(chain_id)?;
			let set = AuthoritySets::<T>::get(chain_id)?;
			Some(LightClientInfo {
				best_finalized: state.best_finalized,
				set_id: set.set_id,
				authorities: set.authorities.into_inner(),
				next_batch: state.next_batch,
			})
		}

		/// True if `hash` is an imported header of `chain_id` still in its ring (runtime API
		/// helper: the relayer may then anchor against it without a justification).
		pub fn is_imported(chain_id: ChainId, hash: H256) -> bool {
			ImportedHeaders::<T>::contains_key(chain_id, hash)
		}

		/// A consortium slip by id (runtime API helper).
		pub fn consortium_slip(id: ConsortiumSlipId) -> Option<ConsortiumSlipOf<T>> {
			ConsortiumSlips::<T>::get(id)
		}
	}

	impl<T: Config> Pallet<T> {
		/// Checks the pallet's invariants (see [`mbds_primitives::invariants`]); `Err` names
		/// the first one broken:
		/// - every registered chain has an authority set, non-empty and without a duplicate
		///   authority, and every set belongs to a registered chain;
		/// - each light client's ring: slots below [`Config::HeadersToKeep`], each slot's hash
		///   an imported header stored under its own hash, no header outside the ring, and the
		///   best finalised header in the slot before the next one to overwrite;
		/// - consortium slips are numbered from 0 without gaps below
		///   [`NextConsortiumSlipId`], hold items of their own chain, and every anchored item
		///   belongs to a batch its chain anchored: batch ids below the chain's next batch, and
		///   every batch below it anchored (batches have at least one item);
		/// - each patient's index ([`PatientItemAt`]) has an entry at every position below
		///   [`PatientItemCount`], naming an item of that patient (in anchoring order), and
		///   every anchored item is indexed exactly once;
		/// - every anchored item's record has its categories in [`RecordCategories`] (or the
		///   uncoverable marker), and every entry there is of an anchored record;
		/// - every labelled item's label is in [`IndexEntries`] at that item or an earlier one
		///   with the same label, every entry there names an item carrying its label, and
		///   [`UnindexedItemCount`] counts each patient's items without one.
		///
		/// Reads every slip and index entry: for tests and `try-runtime`, never called by the
		/// runtime itself.
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			use alloc::collections::{BTreeMap, BTreeSet};
			use mbds_primitives::{consent::UNCOVERABLE_CATEGORY, ensure_invariant};

			// Light clients.
			let keep = T::HeadersToKeep::get().max(1);
			let mut chains = 0usize;
			for (chain_id, state) in Chains::<T>::iter() {
				chains += 1;
				let set = AuthoritySets::<T>::get(chain_id);
				ensure_invariant!(
					set.is_some(),
					"anchor: every registered chain has an authority set",
					"chain {chain_id}"
				);
				let mut ids: Vec<_> = set
					.iter()
					.flat_map(|s| s.authorities.iter().map(|(id, _)| id.clone()))
					.collect();
				let n = ids.len();
				ids.sort();
				ids.dedup();
				ensure_invariant!(
					n > 0 && ids.len() == n,
					"anchor: an authority set is non-empty and without duplicates",
					"chain {chain_id}: {n} authorities, {} distinct",
					ids.len()
				);
				ensure_invariant!(
					state.ring_next < keep,
					"anchor: the next ring slot is within the ring",
					"chain {chain_id}: slot {}, ring of {keep}",
					state.ring_next
				);
				let best = state.best_finalized;
				let last = (state.ring_next + keep - 1) % keep;
				let in_slot = ImportedHashes::<T>::get(chain_id, last);
				ensure_invariant!(
					in_slot == Some(best.hash)
						&& ImportedHeaders::<T>::get(chain_id, best.hash) == Some(best),
					"anchor: the best finalised header is the last imported one",
					"chain {chain_id}: best {:?} #{:?}, slot {last} holds {in_slot:?}",
					best.hash,
					best.number
				);
				let mut slots = 0usize;
				for (slot, hash) in ImportedHashes::<T>::iter_prefix(chain_id) {
					slots += 1;
					let header = ImportedHeaders::<T>::get(chain_id, hash);
					ensure_invariant!(
						slot < keep && header.is_some_and(|h| h.hash == hash),
						"anchor: every ring slot names an imported header",
						"chain {chain_id}: slot {slot} names {hash:?}"
					);
				}
				let headers = ImportedHeaders::<T>::iter_prefix(chain_id).count();
				ensure_invariant!(
					headers == slots,
					"anchor: every imported header is in the ring, once",
					"chain {chain_id}: {headers} headers, {slots} slots"
				);
			}
			let sets = AuthoritySets::<T>::iter_keys().count();
			ensure_invariant!(
				sets == chains,
				"anchor: every authority set belongs to a registered chain",
				"{sets} sets for {chains} chains"
			);
			for chain_id in ImportedHashes::<T>::iter_keys()
				.map(|(c, _)| c)
				.chain(ImportedHeaders::<T>::iter_keys().map(|(c, _)| c))
			{
				ensure_invariant!(
					Chains::<T>::contains_key(chain_id),
					"anchor: imported headers belong to registered chains",
					"chain {chain_id}"
				);
			}

			// Consortium slips and the batches they come from.
			let next_slip = NextConsortiumSlipId::<T>::get();
			let mut slips = 0u64;
			let mut items = 0usize;
			let mut batches: BTreeMap<ChainId, BTreeSet<BatchId>> = BTreeMap::new();
			let mut records: BTreeSet<(T::AccountId, H256)> = BTreeSet::new();
			for (id, slip) in ConsortiumSlips::<T>::iter() {
				slips += 1;
				ensure_invariant!(
					id < next_slip,
					"anchor: consortium slip ids are below the next slip id",
					"slip {id}, next id {next_slip}"
				);
				let next_batch = Chains::<T>::get(slip.chain_id).map(|c| c.next_batch);
				ensure_invariant!(
					next_batch.is_some_and(|next| slip.batch_id < next),
					"anchor: every anchored item belongs to a batch its chain anchored",
					"slip {id}: batch {} of chain {}, whose next batch is {next_batch:?}",
					slip.batch_id,
					slip.chain_id
				);
				ensure_invariant!(
					!slip.items.is_empty()
						&& slip.items.iter().all(|i| i.chain_id == slip.chain_id),
					"anchor: a consortium slip holds items of its own chain",
					"slip {id} of chain {}: {} items",
					slip.chain_id,
					slip.items.len()
				);
				batches.entry(slip.chain_id).or_default().insert(slip.batch_id);
				for item in slip.items.iter() {
					items += 1;
					let known = RecordCategories::<T>::get(&item.patient, item.record_hash);
					ensure_invariant!(
						known
							.as_ref()
							.is_some_and(|list| list.contains(&UNCOVERABLE_CATEGORY)
								|| item.categories.iter().all(|c| list.binary_search(c).is_ok())),
						"anchor: an anchored record's categories include its items' categories (or mark it uncoverable)",
						"slip {id}: record {:?} of {:?}: item {:?}, recorded {known:?}",
						item.record_hash,
						item.patient,
						item.categories
					);
					records.insert((item.patient.clone(), item.record_hash));
				}
			}
			ensure_invariant!(
				slips == next_slip,
				"anchor: consortium slips are numbered from 0 without gaps",
				"{slips} slips, next id {next_slip}"
			);
			for (chain_id, state) in Chains::<T>::iter() {
				let anchored = batches.get(&chain_id).map_or(0, |b| b.len() as u64);
				ensure_invariant!(
					anchored == state.next_batch,
					"anchor: every batch below a chain's next batch is anchored",
					"chain {chain_id}: {anchored} batches anchored, next batch {}",
					state.next_batch
				);
			}
			for (patient, record) in RecordCategories::<T>::iter_keys() {
				ensure_invariant!(
					records.contains(&(patient.clone(), record)),
					"anchor: record categories are of anchored records",
					"record {record:?} of {patient:?}"
				);
			}

			// The patient index.
			let mut indexed: BTreeSet<(ConsortiumSlipId, u8)> = BTreeSet::new();
			let mut unlabelled: BTreeMap<T::AccountId, u32> = BTreeMap::new();
			for (patient, count) in PatientItemCount::<T>::iter() {
				let mut previous = None;
				let mut unindexed = 0u32;
				for n in 0..count {
					let at = PatientItemAt::<T>::get(&patient, n);
					let slip = at.and_then(|at| ConsortiumSlips::<T>::get(at.slip));
					let item =
						at.zip(slip.as_ref()).and_then(|(at, s)| s.items.get(at.index as usize));
					match item.and_then(|i| mbds_primitives::index_label_in(&i.encrypted_keyword)) {
						Some(label) => {
							let entries = IndexEntries::<T>::get(&patient, label);
							let chain = item.map(|i| i.chain_id);
							ensure_invariant!(
								entries.iter().any(|(c, p)| Some(*c) == chain && *p <= n)
									|| (entries.is_full()
										&& entries.iter().all(|(c, _)| Some(*c) != chain)),
								"anchor: every labelled item's label is in its patient's searchable index, at its chain's first item",
								"{patient:?} position {n} of chain {chain:?}: the index holds {entries:?}"
							);
						}
						None => unindexed += 1,
					}
					ensure_invariant!(
						item.is_some_and(|i| i.patient == patient)
							&& at.zip(slip.as_ref()).is_some_and(|(at, s)| at.anchored_at == s.anchored_at),
						"anchor: every position of a patient's index names an anchored item of that patient",
						"{patient:?} position {n}: {at:?}"
					);
					let at = at.expect("checked above; qed");
					ensure_invariant!(
						previous.is_none_or(|p| p <= at.anchored_at),
						"anchor: a patient's index is in anchoring order",
						"{patient:?} position {n}: anchored at {:?} after {previous:?}",
						at.anchored_at
					);
					previous = Some(at.anchored_at);
					ensure_invariant!(
						indexed.insert((at.slip, at.index)),
						"anchor: every anchored item is indexed once",
						"{patient:?} position {n}: item {} of slip {} is indexed twice",
						at.index,
						at.slip
					);
				}
				if unindexed > 0 {
					unlabelled.insert(patient.clone(), unindexed);
				}
			}
			let entries = PatientItemAt::<T>::iter_keys().count();
			ensure_invariant!(
				entries == indexed.len(),
				"anchor: a patient's index has no position beyond its count",
				"{entries} index entries, {} within the counts",
				indexed.len()
			);
			ensure_invariant!(
				indexed.len() == items,
				"anchor: every anchored item is indexed once",
				"{} indexed of {items} anchored items",
				indexed.len()
			);
			// The searchable index (its first entry per label checked above, item by item).
			for (patient, label, entries) in IndexEntries::<T>::iter() {
				ensure_invariant!(
					!entries.is_empty(),
					"anchor: a searchable-index entry names an item of its patient carrying its label",
					"{patient:?}: label {label:?} with no entries"
				);
				let mut chains = BTreeSet::new();
				for (chain, position) in entries.iter() {
					let item = Self::summary_at(&patient, *position).map(|s| s.item);
					let labelled = item
						.as_ref()
						.and_then(|i| mbds_primitives::index_label_in(&i.encrypted_keyword));
					ensure_invariant!(
						labelled == Some(label)
							&& item.as_ref().is_some_and(|i| i.chain_id == *chain)
							&& chains.insert(*chain),
						"anchor: a searchable-index entry names an item of its patient carrying its label",
						"{patient:?}: label {label:?}, chain {chain} at position {position}: {item:?}"
					);
				}
			}
			let counted: BTreeMap<T::AccountId, u32> = UnindexedItemCount::<T>::iter().collect();
			ensure_invariant!(
				counted == unlabelled,
				"anchor: each patient's count of items without a label is exact",
				"counted {counted:?}, found {unlabelled:?}"
			);
			Ok(())
		}
	}

	impl<T: Config> RecordRegistry<T::AccountId> for Pallet<T> {
		fn categories(patient: &T::AccountId, record: &H256) -> Option<CategoryList> {
			RecordCategories::<T>::get(patient, record)
		}
	}
}

sp_api::decl_runtime_apis! {
	/// Queries of the anchored summaries, for proxies (search by patient) and relayers (where to
	/// resume).
	///
	/// The runtime implements it with `Item = pallet_slips::SummaryItemOf<Runtime>`, calling the
	/// pallet's helpers.
	#[api_version(2)]
	pub trait AnchorApi<AccountId, BlockNumber, Item>
	where
		AccountId: Codec,
		BlockNumber: Codec,
		Item: Codec,
	{
		/// `patient`'s items anchored at consortium block `since` or later (all if `None`),
		/// oldest first, at most 256.
		fn summaries_of(patient: AccountId, since: Option<BlockNumber>)
			-> Vec<AnchoredSummary<Item, BlockNumber>>;
		/// `patient`'s items from position `start` of their index, at most `limit` (capped at
		/// 256).
		fn patient_summaries(patient: AccountId, start: u32, limit: u32)
			-> Vec<AnchoredSummary<Item, BlockNumber>>;
		/// Number of items anchored about `patient`.
		fn patient_summary_count(patient: AccountId) -> u32;
		/// The next batch id of `chain_id` and its best finalised block number, if registered.
		fn anchored(chain_id: ChainId) -> Option<(BatchId, BlockNumber)>;
		/// The light-client state of `chain_id`, if registered.
		fn light_client(chain_id: ChainId) -> Option<LightClientInfo<BlockNumber>>;
		/// True if `hash` is an imported header of `chain_id` (usable without justification).
		fn is_imported(chain_id: ChainId, hash: H256) -> bool;
		/// A consortium slip.
		fn consortium_slip(id: ConsortiumSlipId) -> Option<ConsortiumSlip<Item, BlockNumber>>;
		/// The items of `patient`'s searchable index carrying each of `labels`, in order (none
		/// where a label is not in it; at most one per chain); at most 256 labels.
		#[api_version(2)]
		fn lookup_labels(patient: AccountId, labels: Vec<[u8; 32]>)
			-> Vec<Vec<AnchoredSummary<Item, BlockNumber>>>;
		/// Number of `patient`'s anchored items without an index label.
		#[api_version(2)]
		fn unindexed_count(patient: AccountId) -> u32;
	}
}
