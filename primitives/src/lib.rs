//! Shared vocabulary of the MBDS chains.
//!
//! Every chain of the system (hospital, internet-medicine platform, consortium) runs the same
//! runtime. This crate holds the small types that several pallets and off-chain clients must
//! agree on, and the traits through which pallets ask each other questions ("is this account a
//! doctor of this institution?", "which chain am I?") without reaching into each other's storage.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::pallet_prelude::DispatchResult;
use scale_info::TypeInfo;
use serde::{Deserialize, Serialize};

/// Numeric identifier of one chain of the system, unique across the whole network.
///
/// Summary items carry it so the consortium knows which private chain a record lives on.
pub type ChainId = u32;

/// Block number type used by every MBDS chain.
pub type BlockNumber = u32;

/// Milliseconds since the Unix epoch, as kept by `pallet-timestamp`.
pub type Moment = u64;

/// What a chain is for. Set in genesis; pallets change behaviour by it (e.g. the consortium
/// accepts summary batches, private chains produce them).
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
	Serialize,
	Deserialize,
	Default,
)]
#[serde(rename_all = "camelCase")]
pub enum ChainKind {
	/// A hospital's private chain (offline medical data). Validators: the hospital and the
	/// health-authority nodes.
	#[default]
	Hospital,
	/// An internet-medicine platform's private chain (online consultations).
	Platform,
	/// The consortium chain tying the private chains together.
	Consortium,
}

impl ChainKind {
	/// True for the chains that produce HMI slips (hospital and platform chains).
	pub fn is_private(&self) -> bool {
		!matches!(self, ChainKind::Consortium)
	}
}

/// Which chain the runtime is running as. Implemented by `pallet-chain-info`.
pub trait ChainIdentity {
	/// This chain's identifier.
	fn chain_id() -> ChainId;
	/// This chain's kind.
	fn chain_kind() -> ChainKind;
}

/// Kinds of institution known to the key management centre (the paper's participants).
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
	Serialize,
	Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum InstitutionKind {
	Hospital,
	InternetPlatform,
	HealthAuthority,
	Insurer,
	ResearchInstitute,
	MedicineCompany,
}

/// The role a registered participant plays. A participant has exactly one role.
#[derive(
	Clone,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Serialize,
	Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub enum Role<AccountId> {
	/// An institution, of the given kind.
	Institution(InstitutionKind),
	/// A doctor employed by the institution with this account.
	Doctor { institution: AccountId },
	/// A patient: owns their records and decides who may read them.
	Patient,
}

/// Read access to the participant registry (the paper's key management centre), for pallets
/// that must check who is calling.
pub trait ParticipantRegistry<AccountId> {
	/// The role of `who`, if registered (whatever its status).
	fn role_of(who: &AccountId) -> Option<Role<AccountId>>;
	/// True if `who` is registered and not suspended.
	fn is_active(who: &AccountId) -> bool;

	/// True if `who` is an active doctor of `institution` and the institution itself is
	/// active: a suspended institution's doctors do not act for it.
	fn is_active_doctor_of(who: &AccountId, institution: &AccountId) -> bool
	where
		AccountId: PartialEq,
	{
		Self::is_active(who)
			&& matches!(Self::role_of(who), Some(Role::Doctor { institution: ref i }) if i == institution)
			&& Self::is_active(institution)
	}
	/// True if `who` is an active patient.
	fn is_active_patient(who: &AccountId) -> bool {
		Self::is_active(who) && matches!(Self::role_of(who), Some(Role::Patient))
	}
	/// True if `origin` is signed by an active participant: the rule under which the medical
	/// calls of every pallet are feeless (`#[pallet::feeless_if]`).
	fn is_active_signer<O>(origin: &O) -> bool
	where
		O: Clone + Into<Result<frame_support::dispatch::RawOrigin<AccountId>, O>>,
	{
		matches!(
			origin.clone().into(),
			Ok(frame_support::dispatch::RawOrigin::Signed(who)) if Self::is_active(&who)
		)
	}
	/// True if `origin` is signed by a registered patient, active or suspended: the rule
	/// under which a patient's retreat calls (revoke, deny, remove a policy) stay feeless.
	fn is_patient_signer<O>(origin: &O) -> bool
	where
		O: Clone + Into<Result<frame_support::dispatch::RawOrigin<AccountId>, O>>,
	{
		matches!(
			origin.clone().into(),
			Ok(frame_support::dispatch::RawOrigin::Signed(who))
				if matches!(Self::role_of(&who), Some(Role::Patient))
		)
	}
}

/// Suspension of a participant, used by abnormal-access detection. Reinstatement stays an
/// authority (KMC) action and is not part of this trait on purpose.
pub trait SuspendParticipant<AccountId> {
	/// Suspend `who` until an authority reinstates them.
	fn suspend(who: &AccountId) -> DispatchResult;
}

/// Puts a participant straight into the registry, bypassing the KMC origin and its checks.
///
/// Only for benchmarks of pallets that need registered doctors and patients (e.g. the slip
/// ledger): the registry pallet implements it under its `runtime-benchmarks` feature, and the
/// runtime names that pallet as the other pallet's `BenchmarkHelper`. Never reachable from an
/// extrinsic.
pub trait RegistryBenchmarkHelper<AccountId> {
	/// Register `who` as an active participant with `role` and placeholder keys.
	fn register_active(who: &AccountId, role: Role<AccountId>);
}

pub mod consent;
pub mod invariants;
pub mod statements;

/// First byte of a summary item's keyword that is a searchable-index label (the patient's
/// `mbds_crypto::sse` label of that keyword, 32 bytes after the tag) rather than a dPEKS
/// ciphertext (82 bytes, which never has this length): `pallet-slips`' `confirm_slip_indexed`
/// writes such items, `pallet-anchor` indexes them by patient and label.
pub const INDEX_LABEL_TAG: u8 = 0x53;

/// Length of a searchable-index label.
pub const INDEX_LABEL_LEN: usize = 32;

/// A summary item's keyword holding `label`: [`INDEX_LABEL_TAG`] followed by the label.
pub fn index_label_keyword(label: &[u8; INDEX_LABEL_LEN]) -> [u8; INDEX_LABEL_LEN + 1] {
	let mut out = [0u8; INDEX_LABEL_LEN + 1];
	out[0] = INDEX_LABEL_TAG;
	out[1..].copy_from_slice(label);
	out
}

/// The label a summary item's keyword holds, if it is one (see [`INDEX_LABEL_TAG`]).
pub fn index_label_in(keyword: &[u8]) -> Option<[u8; INDEX_LABEL_LEN]> {
	match keyword {
		[INDEX_LABEL_TAG, rest @ ..] if rest.len() == INDEX_LABEL_LEN => rest.try_into().ok(),
		_ => None,
	}
}

/// Tag of the header digest item in which every MBDS chain names itself.
///
/// `pallet-chain-info` deposits, in every block it initialises, a
/// [`DigestItem::Other`](sp_runtime::DigestItem::Other) whose data is this tag followed by the
/// SCALE-encoded [`ChainId`] of the chain (8 + 4 bytes; see [`chain_digest_item`]). The
/// consortium's light clients (`pallet-anchor`) accept a private chain's header only if it names
/// that chain: GRANDPA signatures do not name the chain, so without it a header of one chain,
/// finalised by validator keys that another chain shares, would be taken for the other chain's.
/// The trailing `1` is the format version: another layout gets another tag.
pub const CHAIN_DIGEST_TAG: [u8; 8] = *b"mbdschn1";

/// The header digest item naming chain `id`: [`CHAIN_DIGEST_TAG`] followed by `id`
/// SCALE-encoded.
pub fn chain_digest_item(id: ChainId) -> sp_runtime::DigestItem {
	sp_runtime::DigestItem::Other((CHAIN_DIGEST_TAG, id).encode())
}

/// The chain a header digest names (see [`CHAIN_DIGEST_TAG`]).
///
/// `None` if no item carries the tag, if a tagged item is not exactly the tag and a
/// SCALE-encoded [`ChainId`], or if tagged items name different chains: a block of a chain
/// running `pallet-chain-info` carries exactly one well-formed item (a genesis header none).
pub fn chain_id_in_digest(digest: &sp_runtime::Digest) -> Option<ChainId> {
	use codec::DecodeAll;
	let mut named = None;
	for data in digest.logs().iter().filter_map(sp_runtime::DigestItem::as_other) {
		let Some(mut payload) = data.strip_prefix(&CHAIN_DIGEST_TAG[..]) else { continue };
		let id = ChainId::decode_all(&mut payload).ok()?;
		if named.replace(id).is_some_and(|earlier| earlier != id) {
			return None;
		}
	}
	named
}

/// The secret URI of a development validator's session keys on chain `id`: its dev seed
/// (`//Alice`, what `mbds-node --alice` passes) with a hard junction naming the chain
/// (`//Alice//mbds-chain-1001`). The genesis presets seat these keys and the runtime's
/// `SessionKeys::generate_session_keys` derives them from the node's dev seed, so the chains of
/// one deployment never share validator keys: a GRANDPA signature of one chain's validators is
/// worthless on another's light client even before the chain digest check.
pub fn chain_session_seed(seed: &[u8], id: ChainId) -> alloc::vec::Vec<u8> {
	[seed, alloc::format!("//mbds-chain-{id}").as_bytes()].concat()
}
