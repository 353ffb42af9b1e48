//! Data kept by the consent pallet (grants and the shared vocabulary live in
//! `mbds_primitives::consent`).

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use mbds_primitives::{
	consent::{
		AccessTarget, Action, ActionSet, GrantId, GrantScope, Grantee, PolicyId, Purpose, RequestId,
	},
	Moment,
};
use scale_info::TypeInfo;

/// When a standing policy grants automatically.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub enum PolicyRule<AccountId> {
	/// Any active doctor of `institution` may obtain the policy's actions on its scope until
	/// `window` ms after the patient's last recorded visit to that institution. ("Any doctor of
	/// hospital X may read for 30 days after I visit it.")
	AfterVisit { institution: AccountId, window: Moment },
	/// An active doctor of an active institution, asking with purpose
	/// [`Purpose::EmergencyTreatment`] while an emergency attestation for this patient (by the
	/// doctor's own hospital or platform, or a health authority) is in force, obtains the
	/// policy's actions on its scope for `duration` ms from the request, capped by the
	/// runtime's maximum. The attestation is used up; every use is flagged in the patient's
	/// audit trail and announced by an event.
	Emergency { duration: Moment },
}

/// A permission the patient sets in advance: the paper's "preset access permissions in the
/// smart contract". It grants nothing by itself; a matching access request is granted
/// automatically (recorded as such) instead of waiting for the patient.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub struct Policy<AccountId> {
	/// When the policy applies.
	pub rule: PolicyRule<AccountId>,
	/// The most a request may ask for.
	pub actions: ActionSet,
	/// The widest scope a request may ask for.
	pub scope: GrantScope,
}

/// A data user's application for access, waiting for the patient.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct AccessRequest<AccountId> {
	/// Whose data.
	pub patient: AccountId,
	/// Who asks (the grantee if approved).
	pub requester: AccountId,
	/// Actions asked for.
	pub actions: ActionSet,
	/// Records asked for.
	pub scope: GrantScope,
	/// Period asked for (Unix ms, end exclusive).
	pub valid_from: Moment,
	/// End of the period asked for.
	pub valid_until: Moment,
	/// Why.
	pub purpose: Purpose,
	/// When it was made (Unix ms).
	pub created_at: Moment,
	/// When it lapses if the patient does not answer (Unix ms).
	pub expires_at: Moment,
}

/// One step in a patient's audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub enum AuditEvent<AccountId> {
	/// The patient granted access.
	GrantCreated { grant: GrantId, grantee: Grantee<AccountId>, actions: ActionSet },
	/// The patient revoked a grant.
	GrantRevoked { grant: GrantId },
	/// A grant past its end was removed from storage.
	GrantExpired { grant: GrantId },
	/// The patient set a standing policy.
	PolicySet { policy: PolicyId },
	/// The patient removed a standing policy.
	PolicyRemoved { policy: PolicyId },
	/// An institution recorded the patient's visit (opens after-visit policies).
	VisitRecorded { institution: AccountId },
	/// A data user applied for access.
	AccessRequested { request: RequestId, actions: ActionSet, purpose: Purpose },
	/// The request matched a standing policy and was granted without the patient.
	RequestAutoGranted { request: RequestId, policy: PolicyId, grant: GrantId },
	/// The patient approved the request.
	RequestApproved { request: RequestId, grant: GrantId },
	/// The patient denied the request.
	RequestDenied { request: RequestId },
	/// The request lapsed unanswered.
	RequestExpired { request: RequestId },
	/// A proxy served (`allowed`) or refused an access by `user` to the patient's data.
	Access { user: AccountId, target: AccessTarget, action: Action, allowed: bool },
	/// `who` exceeded the request or access rate limit and was suspended (`suspended` is false
	/// if the identity registry refused the suspension).
	RateLimitExceeded { who: AccountId, suspended: bool },
	/// A proxy ran `user`'s keyword search over the patient's records: `results` records
	/// matched and were disclosed to the user (only those the user may read).
	Search { user: AccountId, results: u32 },
	/// The actor (an institution or health authority) attested that `doctor` treats the
	/// patient in an emergency.
	EmergencyAttested { doctor: AccountId },
	/// Break-glass: the patient's emergency policy granted the request, on `attester`'s
	/// attestation, until `until` (Unix ms).
	EmergencyAccessGranted {
		request: RequestId,
		grant: GrantId,
		attester: AccountId,
		until: Moment,
	},
}

/// An emergency attested for a doctor: usable once, until `expires_at`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct EmergencyAttestation<AccountId> {
	/// The patient the doctor treats.
	pub patient: AccountId,
	/// Who attested (the doctor's institution or a health authority).
	pub attester: AccountId,
	/// Unix ms.
	pub expires_at: Moment,
}

/// An entry of the audit trail: who did what, when.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct AuditRecord<AccountId, BlockNumber> {
	/// Position in the patient's trail, from 0, without gaps.
	pub seq: u64,
	/// Block the step was recorded in.
	pub block: BlockNumber,
	/// Time of that block (Unix ms).
	pub at: Moment,
	/// The account whose call caused the step (the patient, the data user, the institution or
	/// the proxy; the pallet itself for expiries, recorded as the patient).
	pub actor: AccountId,
	/// What happened.
	pub event: AuditEvent<AccountId>,
}

/// Requests and accesses of one identity in the current rate window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct ActivityWindow {
	/// Start of the window (Unix ms).
	pub started_at: Moment,
	/// Access requests made in the window.
	pub requests: u32,
	/// Accesses recorded by proxies in the window.
	pub accesses: u32,
}

/// Which rate an identity's activity counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActivityKind {
	/// An access request.
	Request,
	/// An access recorded by a proxy.
	Access,
}
