//! Shared vocabulary of the MBDS chains.
//!
//! Every chain of the system (hospital, internet-medicine platform, consortium) runs the same
//! runtime. This crate holds the small types that several pallets and off-chain clients must
//! agree on, and the traits through which pallets ask each other questions ("is this account a
//! doctor of this institution?", "which chain am I?") without reaching into each other's storage.
#![cfg_attr(not(feature = "std"), no_std)]

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

	/// True if `who` is an active doctor of `institution`.
	fn is_active_doctor_of(who: &AccountId, institution: &AccountId) -> bool
	where
		AccountId: PartialEq,
	{
		Self::is_active(who)
			&& matches!(Self::role_of(who), Some(Role::Doctor { institution: ref i }) if i == institution)
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
