//! Data of the slip ledger: slips, their status, summary items and batches.

// The `*NoBound` derives need the bounds on the generics as well as on the fields.
#![allow(clippy::multiple_bound_locations)]

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::{BoundedVec, Get},
	CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use mbds_primitives::{consent::CategoryList, ChainId, Moment};
use scale_info::TypeInfo;
use sp_core::H256;

/// Identifier of a slip, unique on its chain (with the chain id, unique in the network).
pub type SlipId = u64;

/// Identifier of a summary batch, unique on its chain; batches are numbered from 0 without gaps
/// so a relayer can tell when it missed one.
pub type BatchId = u64;

/// What kind of medical event a slip records (the paper's "transaction type").
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub enum TransactionType {
	/// A visit or online consultation.
	Consultation,
	/// A diagnosis.
	Diagnosis,
	/// A prescription.
	Prescription,
	/// An examination or test result.
	Examination,
	/// A treatment or procedure.
	Treatment,
	/// A referral to another institution.
	Referral,
	/// A follow-up.
	FollowUp,
	/// Anything else; the code is agreed off-chain.
	Other(u16),
}

/// Why a patient refused a slip.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub enum RejectReason {
	/// The patient did not have this visit or treatment.
	NotMyRecord,
	/// The decrypted record or keywords do not match what happened.
	IncorrectContent,
	/// The record hash does not match the record fetched from storage.
	HashMismatch,
	/// The same record was already submitted.
	Duplicate,
	/// Anything else; the code is agreed off-chain.
	Other(u16),
}

/// Where a slip is in its life. Only `Pending` ever changes, and only once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub enum SlipStatus<BlockNumber> {
	/// Waiting for the patient until (excluding) block `expires_at`.
	Pending {
		/// First block at which the slip can no longer be decided.
		expires_at: BlockNumber,
	},
	/// Confirmed by the patient at block `at`; its summary items are in batch `batch`.
	Confirmed {
		/// Block of the confirmation.
		at: BlockNumber,
		/// Summary batch holding the slip's items.
		batch: BatchId,
	},
	/// Rejected by the patient at block `at`.
	Rejected {
		/// Block of the rejection.
		at: BlockNumber,
		/// The patient's reason.
		reason: RejectReason,
	},
	/// Not decided in time; expired at block `at`. No longer stored: a slip not decided in
	/// time is removed from the ledger (kept so older states still decode).
	Expired {
		/// Block of expiry.
		at: BlockNumber,
	},
}

/// One entry of a patient's pending index: a slip waiting for the patient's decision.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct PendingSlip<AccountId> {
	/// The slip.
	pub slip_id: SlipId,
	/// The doctor who submitted it (for the per-doctor bound).
	pub doctor: AccountId,
	/// Its position in the patient's list of slips (`PatientSlipAt`).
	pub position: u32,
}

/// One HMI transaction slip (the paper's Fig. 3 leaf).
///
/// The doctor's digital signature over the slip is the signature of the extrinsic that
/// submitted it: the runtime has verified it against `doctor` before execution, and the block
/// that includes the extrinsic keeps it for anyone to re-check. The patient's signature is
/// likewise that of the confirming extrinsic, which names the slip id and its record hash.
#[derive(
	CloneNoBound, DebugNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo,
)]
#[scale_info(skip_type_params(MaxContentLen, MaxKeywords, MaxKeywordLen, MaxAddressLen))]
#[codec(mel_bound(AccountId: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
pub struct Slip<
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
	MaxContentLen: Get<u32>,
	MaxKeywords: Get<u32>,
	MaxKeywordLen: Get<u32>,
	MaxAddressLen: Get<u32>,
> {
	/// When the HMI was generated, Unix milliseconds, as stated by the doctor.
	pub generated_at: Moment,
	/// Kind of medical event.
	pub tx_type: TransactionType,
	/// Transaction content: a short description, public on chain; clients put ciphertext or a
	/// non-identifying code here, never clear medical data.
	pub content: BoundedVec<u8, MaxContentLen>,
	/// The doctor who submitted the slip (its account is its identity).
	pub doctor: AccountId,
	/// The institution the doctor acted for (this chain's institution at submission).
	pub institution: AccountId,
	/// The patient the record is about.
	pub patient: AccountId,
	/// Keywords of the record, each encrypted under the patient's search key (PEKS).
	pub encrypted_keywords: BoundedVec<BoundedVec<u8, MaxKeywordLen>, MaxKeywords>,
	/// Coarse categories of the record's keywords, in the clear (sorted, no duplicates), set
	/// by the doctor and confirmed by the patient with the slip; anchored with the summary, so
	/// the consortium can apply category-scoped grants to the record.
	pub categories: CategoryList,
	/// Where the encrypted record is stored, encrypted for the patient.
	pub encrypted_address: BoundedVec<u8, MaxAddressLen>,
	/// Hash of the record (the paper's H(M)), to detect tampering in storage.
	pub record_hash: H256,
	/// Block that included the submission.
	pub submitted_at: BlockNumber,
	/// Life-cycle state.
	pub status: SlipStatus<BlockNumber>,
}

impl<
		AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
		BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
		MaxContentLen: Get<u32>,
		MaxKeywords: Get<u32>,
		MaxKeywordLen: Get<u32>,
		MaxAddressLen: Get<u32>,
	> Slip<AccountId, BlockNumber, MaxContentLen, MaxKeywords, MaxKeywordLen, MaxAddressLen>
{
	/// The batch holding the slip's summary items, if it is confirmed.
	pub fn status_batch(&self) -> Option<BatchId> {
		match self.status {
			SlipStatus::Confirmed { batch, .. } => Some(batch),
			_ => None,
		}
	}
}

/// One summary item handed to the consortium chain (the paper's Fig. 4 item): one per
/// confirmed slip and encrypted keyword, so that a keyword trapdoor matches exactly one item.
///
/// Its SCALE encoding is the Merkle leaf.
#[derive(
	CloneNoBound,
	DebugNoBound,
	PartialEqNoBound,
	EqNoBound,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
#[scale_info(skip_type_params(MaxKeywordLen))]
#[codec(mel_bound(AccountId: MaxEncodedLen, BlockNumber: MaxEncodedLen))]
pub struct SummaryItem<
	AccountId: Clone + PartialEq + Eq + core::fmt::Debug,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
	MaxKeywordLen: Get<u32>,
> {
	/// The patient.
	pub patient: AccountId,
	/// One encrypted keyword of the slip.
	pub encrypted_keyword: BoundedVec<u8, MaxKeywordLen>,
	/// Hash of the record.
	pub record_hash: H256,
	/// The record's categories, as the patient confirmed them on the slip.
	pub categories: CategoryList,
	/// The chain holding the slip.
	pub chain_id: ChainId,
	/// Block of the patient's confirmation, where the slip became final.
	pub block_number: BlockNumber,
	/// The slip.
	pub slip_id: SlipId,
}

/// The batch currently collecting items.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct OpenBatch<BlockNumber> {
	/// Its id.
	pub id: BatchId,
	/// Block of its first item.
	pub opened_at: BlockNumber,
	/// Chain time of its first item, Unix milliseconds.
	pub opened_at_ms: Moment,
	/// Items so far.
	pub item_count: u32,
}

/// A closed summary batch.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct BatchInfo<BlockNumber> {
	/// Merkle root (binary Merkle tree, BlakeTwo256) over the SCALE-encoded items, in order.
	pub root: H256,
	/// Number of items (the tree's leaves).
	pub item_count: u32,
	/// The chain that produced it.
	pub chain_id: ChainId,
	/// Block of its first item.
	pub opened_at: BlockNumber,
	/// Block at whose start it closed.
	pub closed_at: BlockNumber,
	/// Chain time at closing, Unix milliseconds.
	pub closed_at_ms: Moment,
}

/// A summary item with what is needed to check it against its batch root.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct ItemWithProof<Item> {
	/// The item; its SCALE encoding is the leaf.
	pub item: Item,
	/// Position of the leaf.
	pub leaf_index: u32,
	/// Sibling hashes from the leaf up, excluding the root.
	pub proof: alloc::vec::Vec<H256>,
}

/// A closed batch with all its items and their proofs, as the runtime API returns it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, TypeInfo)]
pub struct BatchWithProofs<BlockNumber, Item> {
	/// The batch id.
	pub id: BatchId,
	/// The batch record, including the root and number of leaves.
	pub info: BatchInfo<BlockNumber>,
	/// Every item, in leaf order.
	pub items: alloc::vec::Vec<ItemWithProof<Item>>,
}
