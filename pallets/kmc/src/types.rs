//! Data kept by the key management centre registry.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::{BoundedVec, Get},
	CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use mbds_primitives::Role;
use scale_info::TypeInfo;
use serde::{Deserialize, Serialize};
use sp_core::H256;

/// Which public-key scheme an encryption key belongs to.
///
/// The runtime never uses these keys itself; it stores them so that clients (doctors encrypting
/// a record for a patient, proxies re-encrypting it, searchers building trapdoors) fetch the
/// attested key from the chain instead of trusting a side channel. The tag tells a client how
/// to parse the bytes; a new scheme or a new serialisation gets a new tag.
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
pub enum KeyScheme {
	/// Umbral threshold proxy re-encryption over secp256k1 (compressed point, 33 bytes),
	/// serialisation version 1. Used to encapsulate record data keys to the participant.
	UmbralSecp256k1V1,
	/// Public-key encryption with keyword search over BLS12-381, serialisation version 1.
	PeksBls12381V1,
	/// A scheme not known to this runtime version; the number is agreed off-chain.
	Other(u16),
}

/// One public key: opaque bytes plus the scheme that gives them meaning.
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
#[scale_info(skip_type_params(MaxKeyLen))]
#[codec(mel_bound())]
pub struct PublicKey<MaxKeyLen: Get<u32>> {
	/// How to read `key`.
	pub scheme: KeyScheme,
	/// The encoded public key.
	pub key: BoundedVec<u8, MaxKeyLen>,
}

/// The public encryption keys of one participant, beside the account key (which is the
/// participant's identity and the map key under which this set is stored).
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
#[scale_info(skip_type_params(MaxKeyLen))]
#[codec(mel_bound())]
pub struct KeySet<MaxKeyLen: Get<u32>> {
	/// Key that record data keys are encrypted to, and from which re-encryption key fragments
	/// are derived (the paper's PK used for HMI encryption and PRE).
	pub record_key: PublicKey<MaxKeyLen>,
	/// Key under which keywords are encrypted for searchable encryption (the paper's PEKS key).
	pub search_key: PublicKey<MaxKeyLen>,
}

/// A key set that was replaced by a rotation, kept so that old attestations can be checked.
#[derive(
	CloneNoBound, DebugNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo,
)]
#[scale_info(skip_type_params(MaxKeyLen))]
#[codec(mel_bound(BlockNumber: MaxEncodedLen))]
pub struct RetiredKeySet<
	MaxKeyLen: Get<u32>,
	BlockNumber: Clone + PartialEq + Eq + core::fmt::Debug,
> {
	/// Version of the set (0 = keys given at registration, then +1 per rotation).
	pub version: u32,
	/// The keys themselves.
	pub keys: KeySet<MaxKeyLen>,
	/// Block at which this set became active.
	pub active_from: BlockNumber,
	/// Block at which it was replaced.
	pub retired_at: BlockNumber,
}

/// Whether a registered participant may act.
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
pub enum ParticipantStatus {
	/// May use the medical calls.
	Active,
	/// Barred from every medical call until the KMC reinstates it.
	Suspended,
	/// A doctor the KMC registered whose institution has not yet confirmed that it employs
	/// them (`kmc.employ`, signed by the institution): no medical call until it does. A KMC
	/// operator alone cannot seat a doctor at a hospital.
	AwaitingInstitution,
}

/// Who suspended a participant, which decides who may reinstate it.
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
pub enum Suspender {
	/// One KMC operator: any operator (or the council) may reinstate.
	Operator,
	/// The council: only the council reinstates.
	Council,
	/// Another pallet (abnormal access detection, [`crate::SuspendParticipant`]): only the
	/// council reinstates, so one operator cannot lift a safeguard.
	Automatic,
}

/// What the registry knows about one participant. The account is the map key.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct ParticipantInfo<AccountId, BlockNumber> {
	/// Institution of a kind, doctor of an institution, or patient.
	pub role: Role<AccountId>,
	/// Commitment to the participant's real identity: the hash of the identity record as
	/// encrypted by the KMC. The record itself stays off-chain with the KMC.
	pub identity: H256,
	/// Active or suspended.
	pub status: ParticipantStatus,
	/// Block of registration.
	pub registered_at: BlockNumber,
	/// Version of the active key set (0 at registration).
	pub key_version: u32,
	/// Block at which the active key set became active.
	pub keys_since: BlockNumber,
}

/// Feeless transactions used by one participant in the current window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct QuotaUsage<BlockNumber> {
	/// First block of the window being counted.
	pub window_start: BlockNumber,
	/// Transactions counted in that window.
	pub used: u32,
}

/// A participant written into the genesis block (dev and test chains): plain bytes so that
/// chain-spec JSON stays readable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenesisParticipant<AccountId> {
	/// The participant's account (its on-chain identity).
	pub account: AccountId,
	/// Its role.
	pub role: Role<AccountId>,
	/// Identity commitment (hash of the KMC's encrypted identity record).
	pub identity: H256,
	/// Scheme of `record_key`.
	pub record_scheme: KeyScheme,
	/// Record-encryption / re-encryption public key.
	pub record_key: alloc::vec::Vec<u8>,
	/// Scheme of `search_key`.
	pub search_scheme: KeyScheme,
	/// Keyword-search public key.
	pub search_key: alloc::vec::Vec<u8>,
}
