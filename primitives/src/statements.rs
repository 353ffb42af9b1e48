//! Statements a participant signs off chain and another party submits on chain.
//!
//! Some facts must come from one party while another party sends the transaction: a data user
//! asks a proxy for a record and the proxy records the access; a patient is at a hospital and
//! the hospital records the visit. The chain accepts such a fact only with the signature of the
//! party it is about, so no relaying party can invent it:
//!
//! - [`AccessStatement`]: "I, the user, ask `proxy` for `action` on `target` of `patient`'s
//!   records, at `issued_at`". `consent.record_access` verifies it, so a proxy can record an
//!   access only for a user who asked for it, once per statement.
//! - [`SearchStatement`]: "I, the user, ask `proxy` to search `patient`'s records with the
//!   trapdoor hashing to `trapdoor`, at `issued_at`". `consent.record_search` verifies it: a
//!   search is audited like a read, and only for the user who asked.
//! - [`VisitStatement`]: "I, the patient, am at `institution` at `issued_at`". It proves a visit
//!   to the consent pallet (after-visit policies) and to the slip ledger (a slip needs one).
//!
//! A statement is signed over [`AccessStatement::signing_payload`] (a domain tag followed by
//! the statement's SCALE encoding), with the signer's account key (sr25519 on MBDS chains,
//! as a `MultiSignature`). The domain tags keep a signature of one kind from being read as the
//! other, and from being confused with a transaction or a proxy API request.

use crate::{
	consent::{AccessTarget, Action},
	Moment,
};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_runtime::traits::{IdentifyAccount, Verify};

use alloc::vec::Vec;

/// Domain tag of [`AccessStatement`] signatures.
pub const ACCESS_DOMAIN: &[u8] = b"mbds-access-v1:";
/// Domain tag of [`SearchStatement`] signatures.
pub const SEARCH_DOMAIN: &[u8] = b"mbds-search-v1:";
/// Domain tag of [`VisitStatement`] signatures.
pub const VISIT_DOMAIN: &[u8] = b"mbds-visit-v1:";

/// A data user's request for one access through one proxy.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct AccessStatement<AccountId> {
	/// The proxy asked (only this proxy may record it).
	pub proxy: AccountId,
	/// Whose records.
	pub patient: AccountId,
	/// What is accessed.
	pub target: AccessTarget,
	/// How.
	pub action: Action,
	/// When the user asked (Unix ms); also the replay guard (see `pallet-consent`).
	pub issued_at: Moment,
}

impl<AccountId: Encode> AccessStatement<AccountId> {
	/// The bytes the user signs: [`ACCESS_DOMAIN`] followed by the SCALE encoding.
	pub fn signing_payload(&self) -> Vec<u8> {
		tagged(ACCESS_DOMAIN, self)
	}
}

/// A data user's request for one keyword search of a patient's records through one proxy.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct SearchStatement<AccountId> {
	/// The proxy asked (only this proxy may record it).
	pub proxy: AccountId,
	/// Whose records are searched.
	pub patient: AccountId,
	/// BLAKE2-256 of the trapdoor's bytes (the trapdoor itself reveals nothing on chain).
	pub trapdoor: [u8; 32],
	/// When the user asked (Unix ms); shares the access replay guard.
	pub issued_at: Moment,
}

impl<AccountId: Encode> SearchStatement<AccountId> {
	/// The bytes the user signs: [`SEARCH_DOMAIN`] followed by the SCALE encoding.
	pub fn signing_payload(&self) -> Vec<u8> {
		tagged(SEARCH_DOMAIN, self)
	}
}

/// A patient's statement that they are at an institution (a visit, online or offline).
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct VisitStatement<AccountId> {
	/// The patient (the signer).
	pub patient: AccountId,
	/// The hospital or internet platform visited.
	pub institution: AccountId,
	/// When (Unix ms).
	pub issued_at: Moment,
}

impl<AccountId: Encode> VisitStatement<AccountId> {
	/// The bytes the patient signs: [`VISIT_DOMAIN`] followed by the SCALE encoding.
	pub fn signing_payload(&self) -> Vec<u8> {
		tagged(VISIT_DOMAIN, self)
	}
}

/// `domain` followed by the SCALE encoding of `statement`: the bytes a statement is signed over.
fn tagged(domain: &[u8], statement: &impl Encode) -> Vec<u8> {
	let mut out = domain.to_vec();
	statement.encode_to(&mut out);
	out
}

/// A signed [`VisitStatement`]: what a doctor carries to prove the patient's visit.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct VisitProof<AccountId, Signature> {
	/// The institution visited.
	pub institution: AccountId,
	/// When (Unix ms).
	pub issued_at: Moment,
	/// The patient's signature over the [`VisitStatement`] of `patient`, `institution` and
	/// `issued_at`.
	pub signature: Signature,
}

impl<AccountId: Encode + Clone, Signature: Verify> VisitProof<AccountId, Signature>
where
	Signature::Signer: IdentifyAccount<AccountId = AccountId>,
{
	/// The statement this proof signs for `patient`.
	pub fn statement(&self, patient: &AccountId) -> VisitStatement<AccountId> {
		VisitStatement {
			patient: patient.clone(),
			institution: self.institution.clone(),
			issued_at: self.issued_at,
		}
	}

	/// True if `patient` signed this proof.
	pub fn is_signed_by(&self, patient: &AccountId) -> bool {
		self.signature.verify(&self.statement(patient).signing_payload()[..], patient)
	}
}

/// Makes signing accounts and their signatures for benchmarks of calls that verify a
/// statement (the runtime signs with sr25519 keys generated in the benchmark's keystore; unit
/// tests' mocks with `sp_runtime::testing::TestSignature`). Never reachable from an extrinsic.
pub trait SignerBenchmarkHelper<AccountId, Signature> {
	/// A fresh account that [`SignerBenchmarkHelper::sign`] can sign for, distinct per `seed`.
	fn signer(seed: u32) -> AccountId;
	/// `who`'s signature over `payload`.
	fn sign(who: &AccountId, payload: &[u8]) -> Signature;
}
