//! Data of the anchoring pallet: light-client state of the private chains, consortium slips and
//! the patient index.

use codec::{Decode, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::{BoundedVec, ConstU32, Get},
	CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use mbds_primitives::ChainId;
use pallet_slips::BatchId;
use scale_info::TypeInfo;
use sp_consensus_grandpa::{AuthorityId, AuthorityWeight, SetId};
use sp_core::H256;

/// Identifier of a consortium slip, unique on the consortium chain, from 0 without gaps.
pub type ConsortiumSlipId = u64;

/// Most summary items in one consortium slip (the paper's Fig. 4: "up to 10 items").
pub const ITEMS_PER_CONSORTIUM_SLIP: u32 = 10;

/// Bound type for [`ITEMS_PER_CONSORTIUM_SLIP`].
pub type ItemsPerConsortiumSlip = ConstU32<ITEMS_PER_CONSORTIUM_SLIP>;

/// A finalised header of a private chain, as its light client keeps it: enough to check storage
/// proofs against it, nothing more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct FinalizedHeader<BlockNumber> {
	/// Block number on the private chain.
	pub number: BlockNumber,
	/// Block hash.
	pub hash: H256,
	/// State root: storage proofs of that block are checked against it.
	pub state_root: H256,
}

/// A registered private chain: its light client's head and how far its batches are anchored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct ChainState<BlockNumber> {
	/// The newest header proven final.
	pub best_finalized: FinalizedHeader<BlockNumber>,
	/// Id of the only batch the chain may anchor next (its batches are numbered from 0 without
	/// gaps, see `pallet_slips::NextBatchId`).
	pub next_batch: BatchId,
	/// Slot of the imported-header ring the next import overwrites.
	pub ring_next: u32,
}

/// The GRANDPA authority set a light client currently trusts, bounded for storage.
#[derive(
	CloneNoBound, DebugNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo,
)]
#[scale_info(skip_type_params(MaxAuthorities))]
pub struct StoredAuthoritySet<MaxAuthorities: Get<u32>> {
	/// Voters and their weights.
	pub authorities: BoundedVec<(AuthorityId, AuthorityWeight), MaxAuthorities>,
	/// Monotonic id of the set on its chain; it is part of every signed GRANDPA vote.
	pub set_id: SetId,
}

impl<M: Get<u32>> From<StoredAuthoritySet<M>> for bp_header_chain::AuthoritySet {
	fn from(set: StoredAuthoritySet<M>) -> Self {
		bp_header_chain::AuthoritySet::new(set.authorities.into_inner(), set.set_id)
	}
}

/// What the light client of a chain currently believes (runtime API answer, for relayers).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct LightClientInfo<BlockNumber> {
	/// The newest header proven final.
	pub best_finalized: FinalizedHeader<BlockNumber>,
	/// Id of the authority set that must sign the next justification.
	pub set_id: SetId,
	/// That set.
	pub authorities: alloc::vec::Vec<(AuthorityId, AuthorityWeight)>,
	/// Id of the batch the chain may anchor next.
	pub next_batch: BatchId,
}

/// A consortium slip: up to [`ITEMS_PER_CONSORTIUM_SLIP`] summary items of one private-chain
/// batch (each item: patient, encrypted keyword, record hash, source chain, block, slip id).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct ConsortiumSlip<Item, BlockNumber> {
	/// The private chain the items come from.
	pub chain_id: ChainId,
	/// Their batch on that chain.
	pub batch_id: BatchId,
	/// Consortium block that anchored them.
	pub anchored_at: BlockNumber,
	/// The items, in batch (leaf) order.
	pub items: BoundedVec<Item, ItemsPerConsortiumSlip>,
}

/// Where one item of a patient is: a consortium slip and a position in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct ItemRef<BlockNumber> {
	/// The consortium slip.
	pub slip: ConsortiumSlipId,
	/// Position of the item in the slip (below [`ITEMS_PER_CONSORTIUM_SLIP`]).
	pub index: u8,
	/// Consortium block that anchored it; non-decreasing along a patient's index, so a search
	/// "since block b" is a binary search.
	pub anchored_at: BlockNumber,
}

/// One anchored summary item with where it lives (runtime API answer).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct AnchoredSummary<Item, BlockNumber> {
	/// The item, as the private chain produced it.
	pub item: Item,
	/// Its consortium slip.
	pub slip: ConsortiumSlipId,
	/// Its batch on the private chain (`item.chain_id`).
	pub batch_id: BatchId,
	/// Consortium block that anchored it.
	pub anchored_at: BlockNumber,
	/// Its position in the patient's index: continue paging from `position + 1`.
	pub position: u32,
}
