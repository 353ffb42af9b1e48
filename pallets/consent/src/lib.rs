//! # Consent pallet
//!
//! The patient's control over who uses their health and medical information (HMI): the paper's
//! "Data sharing" section and research objective (2). A patient
//!
//! - **grants** a data user (one participant, or any doctor of an institution) a set of
//!   **actions** (read / write / copy) on a **scope** (all records, listed records, or records of
//!   given keyword categories) for a **validity period**, with an optional purpose, and
//!   **revokes** it at any time;
//! - sets **standing policies** in advance (the paper's "preset access permissions in the smart
//!   contract"): "any doctor of hospital X may read for 30 days after I visit it", or an
//!   emergency rule "any active doctor may read in an emergency";
//! - answers **access requests**: a data user applies with a purpose; a request matching a
//!   policy is granted at once and recorded as policy-granted, otherwise the patient approves
//!   (creating a grant) or denies it, or it lapses after [`Config::RequestTtl`].
//!
//! Everyone else asks one question, [`Pallet::is_access_allowed`] (also the
//! [`AccessControl`] trait for other pallets and the [`ConsentApi`] runtime API for off-chain
//! proxies). Proxies (health authorities, [`Config::ProxyOrigin`]) record every access they
//! serve or refuse with [`Pallet::record_access`], and every keyword search with
//! [`Pallet::record_search`], each only with the data user's signed statement of what they
//! asked (`mbds_primitives::statements`): a proxy cannot write an access, a refusal or a
//! suspension-triggering rate count for anyone who did not ask. Every request, decision, grant,
//! revocation, policy change, visit, search and access lands in the patient's **audit trail**,
//! in order, readable page by page through the runtime API, and committed to by a hash chain
//! ([`AuditHead`]) so entries that left state can still be checked. An identity making more requests or accesses than the
//! rate limits allow within [`Config::RateWindow`] is **suspended** through the identity
//! registry ([`SuspendParticipant`]); only the key management centre reinstates it (the
//! paper's "security vulnerability identification": abnormal access disables the identity
//! until it is re-verified).
//!
//! ## Where consents live: the consortium chain
//!
//! One grant must cover the patient's records on *every* chain, so consents are kept on exactly
//! one chain, the **consortium chain**, which already indexes the summaries of every private
//! chain. Consent-changing calls fail with [`Error::NotConsentChain`] elsewhere
//! ([`Config::AcceptsConsents`], see [`OnConsortium`]). A proxy serving records of a hospital or
//! platform chain asks the consortium, never its own chain: it calls
//! `ConsentApi::is_access_allowed` at the consortium's latest **finalised** block (through its
//! consortium light client, or the RPC `state_call` of a trusted consortium node, checking the
//! answer with `state_getReadProof` of the grant keys against the finalised state root), and
//! then records the access on the consortium with `record_access`. Validity windows are
//! therefore Unix milliseconds (from [`Config::Time`], i.e. `pallet-timestamp`): block numbers
//! mean different instants on different chains, wall-clock time means the same everywhere.
//!
//! ## Semantics worth knowing
//!
//! - Every call is **feeless** for an active registered participant (`feeless_if`): a patient
//!   needs no tokens to grant, revoke or answer, nor a proxy to record accesses. The identity
//!   registry's `CheckParticipant` extension bounds such transactions per identity and window.
//! - A grant is in force for `valid_from <= now < valid_until` (ms). Grants past their end are
//!   removed lazily when a new grant to the same grantee is added.
//! - **Revocation** deletes the grant in the block that includes it. Calls later in that block
//!   and every query against that block's state or later see no grant, so from the next block
//!   on nothing can be served under it. A proxy reading finalised state may still serve under
//!   it until the revoking block is finalised (seconds with GRANDPA); that is the documented
//!   window.
//! - A category scope covers a record only if the record carries at least one category and all
//!   of its categories are granted (see `mbds_primitives::consent::GrantScope::covers`). Keywords
//!   themselves stay encrypted; categories are coarse, client-tagged code-system classes.
//! - The patient may read and copy their own records, never write them (the paper: the data
//!   owner has no right to write or modify the data; doctors write slips).
//! - Suspended identities are denied everything, whatever their grants say; but a suspended
//!   patient can always take consent back (revoke, deny, remove a policy), without fees.
//! - A visit (which opens after-visit policies) is recorded only with the patient's signed
//!   visit proof, once per proof.
//! - Break-glass (an emergency policy) needs a second party: an emergency attestation by the
//!   doctor's own institution or a health authority ([`Pallet::attest_emergency`]); the grant
//!   is capped by [`Config::MaxEmergencyDuration`], flagged in the trail, announced by an event.
//! - One requester holds at most [`Config::MaxPendingPerRequester`] unanswered requests per
//!   patient, so a few accounts cannot fill a patient's request slots.
//!
//! ## What this pallet does not do
//!
//! It does not serve, decrypt or re-encrypt data (proxies do), does not know the records (the
//! proxy describes the target), and does not reinstate identities (the KMC does). The audit
//! trail kept in storage is a ring of the last [`Config::MaxAuditEntriesPerPatient`] entries per
//! patient; older entries remain in an archive node's state at the blocks that wrote them, and
//! a copy of the whole trail is checked against [`AuditHead`] with [`audit_chain_head`]. What
//! others can add to a trail is bounded: accesses and searches by the users' own signed
//! requests and rate limits, visits by the patient's signature, requests per requester.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod migrations;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;
pub mod types;
pub mod weights;

pub use types::*;
pub use weights::WeightInfo;

use alloc::vec::Vec;
use codec::Codec;
use core::marker::PhantomData;
use frame_support::{
	pallet_prelude::*,
	traits::{EnsureOrigin, UnixTime},
};
use frame_system::{pallet_prelude::*, RawOrigin};
use mbds_primitives::{
	consent::{
		AccessControl, AccessTarget, Action, ActionSet, Grant, GrantId, GrantScope, GrantSource,
		Grantee, PolicyId, Purpose, RecordId, RecordRegistry, RequestId,
	},
	statements::{AccessStatement, SearchStatement, VisitProof},
	ChainIdentity, ChainKind, InstitutionKind, Moment, ParticipantRegistry, Role,
	SuspendParticipant,
};
use sp_runtime::{
	traits::{IdentifyAccount, Saturating, Verify},
	ArithmeticError, SaturatedConversion,
};

/// Most audit entries one [`ConsentApi::audit_trail`] call returns.
pub const MAX_AUDIT_PAGE: u32 = 256;

/// A page of a patient's audit trail: the trail's total length and the entries.
pub type AuditPage<T> =
	(u64, Vec<AuditRecord<<T as frame_system::Config>::AccountId, BlockNumberFor<T>>>);

#[frame_support::pallet]
pub mod pallet {
	use super::*;

	/// The in-code storage version. Version 0 was the layout before versioning; version 1 is
	/// the same layout, versioned ([`crate::migrations::v1::BumpToV1`]).
	pub(crate) const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The identity registry (KMC): tells patients, doctors and institutions apart, and
		/// suspends identities that exceed the rate limits. If it answers wrongly, grants reach
		/// the wrong people; it must be the same registry the other pallets use.
		type Participants: ParticipantRegistry<Self::AccountId>
			+ SuspendParticipant<Self::AccountId>;

		/// The categories the chain vouches for about each patient's records (on the
		/// consortium: `pallet-anchor`'s anchored summaries, as the patient confirmed them on
		/// the record's slip). Category scopes are checked against these, never against
		/// categories a proxy or data user states. `()` knows no record (then only all-records
		/// and listed-records grants open any record).
		type Records: RecordRegistry<Self::AccountId>;

		/// Wall-clock time (`pallet-timestamp`). Validity windows and rate windows are in its
		/// milliseconds; a clock that does not advance would keep grants alive forever.
		type Time: UnixTime;

		/// Who may record accesses (the proxies). Its success value is the proxy's account,
		/// written into the audit trail. Use [`EnsureHealthAuthority`] for "an active
		/// health-authority institution"; a looser origin lets anyone forge audit entries.
		type ProxyOrigin: EnsureOrigin<Self::RuntimeOrigin, Success = Self::AccountId>;

		/// True on the chain that holds consents (the consortium, see [`OnConsortium`]). Set to
		/// `true` on a private chain only for a single-chain deployment: grants stored on two
		/// chains would disagree.
		type AcceptsConsents: Get<bool>;

		/// Most grants a patient may hold at once (bounds the storage one patient can use).
		#[pallet::constant]
		type MaxGrantsPerPatient: Get<u32>;

		/// Most grants one patient may hold for one grantee. Bounds the work of every access
		/// check (at most twice this many grants are read); too high makes `record_access`
		/// heavy, too low forces patients to revoke before granting again.
		#[pallet::constant]
		type MaxGrantsPerGrantee: Get<u32>;

		/// Most standing policies per patient (each request scans them all).
		#[pallet::constant]
		type MaxPoliciesPerPatient: Get<u32>;

		/// Most unanswered requests per patient; further requests fail until the patient
		/// answers or they lapse. Stops a data user flooding a patient.
		#[pallet::constant]
		type MaxPendingRequestsPerPatient: Get<u32>;

		/// How long a request waits for the patient (ms). Must not decrease across upgrades,
		/// or the lapse queue stalls until the oldest request expires.
		#[pallet::constant]
		type RequestTtl: Get<Moment>;

		/// Most requests examined for lapse per block (bounds `on_initialize`).
		#[pallet::constant]
		type MaxExpiriesPerBlock: Get<u32>;

		/// Audit entries kept in storage per patient (a ring; older ones remain as events).
		/// Must be at least 1.
		#[pallet::constant]
		type MaxAuditEntriesPerPatient: Get<u32>;

		/// Length of the rate-limit window (ms).
		#[pallet::constant]
		type RateWindow: Get<Moment>;

		/// Most access requests one identity may make per window; one more suspends it.
		#[pallet::constant]
		type MaxRequestsPerWindow: Get<u32>;

		/// Most accesses recorded for one identity per window; one more suspends it.
		#[pallet::constant]
		type MaxAccessesPerWindow: Get<u32>;

		/// Signatures of the statements participants sign off chain (an access asked of a
		/// proxy, a visit): the runtime's account signature type, so the signer is the account.
		type Signature: Verify<Signer: IdentifyAccount<AccountId = Self::AccountId>>
			+ Parameter
			+ DecodeWithMemTracking;

		/// How far (ms) a signed statement's `issued_at` may lie from the chain's time, either
		/// way. Bounds how long a proxy can hold a user's request before recording it, and how
		/// stale a visit proof may be.
		#[pallet::constant]
		type StatementValidity: Get<Moment>;

		/// Most unanswered requests one requester may hold for one patient. Stops a few
		/// accounts filling the patient's [`Config::MaxPendingRequestsPerPatient`] slots.
		#[pallet::constant]
		type MaxPendingPerRequester: Get<u32>;

		/// How long (ms) an institution's or health authority's emergency attestation for a
		/// doctor stays usable.
		#[pallet::constant]
		type EmergencyAttestationTtl: Get<Moment>;

		/// Longest (ms) a grant made by an emergency policy lasts, whatever the policy says.
		#[pallet::constant]
		type MaxEmergencyDuration: Get<Moment>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Registers participants in the identity registry for benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: mbds_primitives::RegistryBenchmarkHelper<Self::AccountId>;

		/// Makes accounts that can sign statements, for benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type SignerHelper: mbds_primitives::statements::SignerBenchmarkHelper<
			Self::AccountId,
			Self::Signature,
		>;
	}

	/// Next grant id.
	#[pallet::storage]
	pub type NextGrantId<T> = StorageValue<_, GrantId, ValueQuery>;

	/// Grants in storage (in force, future, or expired but not yet removed), by id.
	#[pallet::storage]
	pub type Grants<T: Config> = StorageMap<_, Twox64Concat, GrantId, Grant<T::AccountId>>;

	/// Index: a patient's grant ids for one grantee. The access check reads at most two entries.
	#[pallet::storage]
	pub type GrantsOf<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		Grantee<T::AccountId>,
		BoundedVec<GrantId, T::MaxGrantsPerGrantee>,
		ValueQuery,
	>;

	/// Number of grants a patient holds in storage.
	#[pallet::storage]
	pub type GrantCount<T: Config> = StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	/// Next policy id.
	#[pallet::storage]
	pub type NextPolicyId<T> = StorageValue<_, PolicyId, ValueQuery>;

	/// A patient's standing policies.
	#[pallet::storage]
	pub type Policies<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<(PolicyId, Policy<T::AccountId>), T::MaxPoliciesPerPatient>,
		ValueQuery,
	>;

	/// Time (ms) of a patient's last recorded visit to an institution.
	#[pallet::storage]
	pub type LastVisit<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Blake2_128Concat, T::AccountId, Moment>;

	/// Next request id. Ids increase with time, so requests lapse in id order.
	#[pallet::storage]
	pub type NextRequestId<T> = StorageValue<_, RequestId, ValueQuery>;

	/// Unanswered requests, by id.
	#[pallet::storage]
	pub type Requests<T: Config> =
		StorageMap<_, Twox64Concat, RequestId, AccessRequest<T::AccountId>>;

	/// Index: a patient's unanswered request ids.
	#[pallet::storage]
	pub type PendingOf<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<RequestId, T::MaxPendingRequestsPerPatient>,
		ValueQuery,
	>;

	/// Lowest request id not yet examined for lapse.
	#[pallet::storage]
	pub type ExpiryCursor<T> = StorageValue<_, RequestId, ValueQuery>;

	/// A patient's audit trail, a ring indexed by `seq % MaxAuditEntriesPerPatient`.
	#[pallet::storage]
	pub type AuditLog<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Twox64Concat,
		u32,
		AuditRecord<T::AccountId, BlockNumberFor<T>>,
	>;

	/// Number of audit entries ever written for a patient (the next `seq`).
	#[pallet::storage]
	pub type AuditLength<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u64, ValueQuery>;

	/// Requests and accesses of an identity in its current rate window.
	#[pallet::storage]
	pub type Activity<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, ActivityWindow, ValueQuery>;

	/// Commitment to a patient's whole audit trail: `h(n) = blake2_256(h(n-1) ++ entry n)`
	/// from `h(-1) = [0; 32]`, over the SCALE encoding of every entry ever written. Entries
	/// that left the ring stay checkable: an archive copy (e.g. read from an archive node's
	/// state at the block that wrote them) must fold to this head.
	#[pallet::storage]
	pub type AuditHead<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, [u8; 32], ValueQuery>;

	/// `issued_at` of the last access statement of a user recorded through a proxy: each
	/// statement is recorded at most once, and in order.
	#[pallet::storage]
	pub type AccessNonce<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		T::AccountId,
		Moment,
		ValueQuery,
	>;

	/// Unanswered requests per (patient, requester).
	#[pallet::storage]
	pub type PendingBy<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		T::AccountId,
		u32,
		ValueQuery,
	>;

	/// A doctor's current emergency attestation (one per doctor; a new one replaces it).
	#[pallet::storage]
	pub type EmergencyAttestations<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, EmergencyAttestation<T::AccountId>>;

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A grant was created (directly, by approval or by a policy).
		GrantCreated { grant: GrantId, patient: T::AccountId, grantee: Grantee<T::AccountId> },
		/// The patient revoked a grant.
		GrantRevoked { grant: GrantId, patient: T::AccountId },
		/// A grant past its end was removed.
		GrantExpired { grant: GrantId, patient: T::AccountId },
		/// The patient set a standing policy.
		PolicySet { policy: PolicyId, patient: T::AccountId },
		/// The patient removed a standing policy.
		PolicyRemoved { policy: PolicyId, patient: T::AccountId },
		/// An institution recorded a patient's visit.
		VisitRecorded { patient: T::AccountId, institution: T::AccountId, at: Moment },
		/// A data user applied for access.
		AccessRequested {
			request: RequestId,
			patient: T::AccountId,
			requester: T::AccountId,
			purpose: Purpose,
		},
		/// A request matched a standing policy and was granted.
		RequestAutoGranted { request: RequestId, policy: PolicyId, grant: GrantId },
		/// The patient approved a request.
		RequestApproved { request: RequestId, grant: GrantId },
		/// The patient denied a request.
		RequestDenied { request: RequestId },
		/// A request lapsed unanswered.
		RequestExpired { request: RequestId },
		/// A proxy recorded an access, allowed or not.
		AccessRecorded {
			patient: T::AccountId,
			user: T::AccountId,
			proxy: T::AccountId,
			allowed: bool,
		},
		/// A proxy recorded a keyword search of the patient's records and how many records it
		/// disclosed. `counted` is false if the search exceeded the user's access rate (the
		/// user is suspended and the proxy must disclose nothing).
		SearchRecorded {
			patient: T::AccountId,
			user: T::AccountId,
			proxy: T::AccountId,
			results: u32,
			counted: bool,
		},
		/// An institution or health authority attested that `doctor` treats `patient` in an
		/// emergency; the doctor may now use the patient's emergency policy once.
		EmergencyAttested {
			patient: T::AccountId,
			doctor: T::AccountId,
			attester: T::AccountId,
			expires_at: Moment,
		},
		/// An emergency policy granted `doctor` access to `patient`'s records until `until`.
		/// The patient's client alerts the patient on this event.
		EmergencyAccessGranted {
			patient: T::AccountId,
			doctor: T::AccountId,
			attester: T::AccountId,
			grant: GrantId,
			until: Moment,
		},
		/// An identity exceeded a rate limit.
		RateLimitExceeded { who: T::AccountId },
		/// An identity was suspended for exceeding a rate limit.
		IdentitySuspended { who: T::AccountId },
		/// The registry refused to suspend an identity that exceeded a rate limit.
		SuspensionFailed { who: T::AccountId, error: DispatchError },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// Consents are kept on the consortium chain; send this call there.
		NotConsentChain,
		/// Only an active (registered, not suspended) patient may do this.
		NotActivePatient,
		/// The account named as patient is not a registered patient.
		NotAPatient,
		/// The caller is not an active registered participant; register or get reinstated first.
		NotActiveParticipant,
		/// The action set is empty or has unknown bits.
		InvalidActions,
		/// The scope lists no record or no category.
		InvalidScope,
		/// The period is empty (`valid_from >= valid_until`) or already over.
		InvalidPeriod,
		/// The grantee is the patient, is not registered, or (for institution members) is not
		/// an institution.
		InvalidGrantee,
		/// The access target names an empty category list.
		InvalidTarget,
		/// The policy's window or duration is zero, or its institution is not an institution.
		InvalidPolicy,
		/// The patient holds the maximum number of grants; revoke some first.
		TooManyGrants,
		/// The patient holds the maximum number of grants for this grantee; revoke one first.
		TooManyGrantsForGrantee,
		/// No grant with this id.
		GrantNotFound,
		/// The grant belongs to another patient.
		NotGrantOwner,
		/// The patient holds the maximum number of policies; remove one first.
		TooManyPolicies,
		/// The patient has no policy with this id.
		PolicyNotFound,
		/// Only a hospital or internet platform, or one of its active doctors, records visits.
		NotCareProvider,
		/// A patient does not request access to their own records.
		OwnData,
		/// The patient has too many unanswered requests; try again later.
		TooManyPendingRequests,
		/// No unanswered request with this id (answered, lapsed or never made).
		RequestNotFound,
		/// The request is addressed to another patient.
		NotRequestPatient,
		/// The request lapsed; the data user must apply again.
		RequestExpired,
		/// The access statement names another proxy: only the proxy the user asked may record
		/// it.
		WrongProxy,
		/// The user's signature over the access statement does not verify: the user did not ask
		/// for this access.
		AccessNotSignedByUser,
		/// The statement's time is too far from the chain's time (see
		/// [`Config::StatementValidity`]); the signer must sign a fresh one.
		StaleStatement,
		/// This access statement, or a later one of the same user to this proxy, is already
		/// recorded.
		AccessAlreadyRecorded,
		/// The visit proof is not signed by the patient.
		VisitNotSignedByPatient,
		/// The visit proof names another institution than the caller's.
		VisitAtAnotherInstitution,
		/// This visit, or a later one to this institution, is already recorded.
		VisitAlreadyRecorded,
		/// The requester already holds the most unanswered requests allowed per requester for
		/// this patient; wait for an answer or for them to lapse.
		TooManyRequestsFromRequester,
		/// Only an active health authority, or the doctor's own active hospital or platform,
		/// may attest an emergency.
		NotEmergencyAttester,
		/// The account named as doctor is not an active doctor of an active institution.
		NotAnActiveDoctor,
		/// The user named in the access statement is not a registered participant.
		UserNotRegistered,
		/// The doctor already holds an emergency attestation in force from another attester;
		/// it cannot be replaced until it is used or expires.
		AttestationInForce,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(_n: BlockNumberFor<T>) -> Weight {
			Self::expire_requests()
		}

		fn integrity_test() {
			assert!(T::MaxAuditEntriesPerPatient::get() > 0, "audit ring needs a slot");
			assert!(T::MaxGrantsPerGrantee::get() > 0, "grantees need a grant slot");
			assert!(T::RequestTtl::get() > 0, "requests need time to be answered");
			assert!(T::RateWindow::get() > 0, "rate window must be positive");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Grant `grantee` the `actions` on `scope` of the caller's records from `valid_from`
		/// until (excluding) `valid_until`, Unix ms. The caller is the patient: nobody grants
		/// on someone else's data.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::grant(T::MaxGrantsPerGrantee::get()))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _grantee: &Grantee<T::AccountId>,
			_actions: &ActionSet, _scope: &GrantScope, _from: &Moment, _until: &Moment,
			_purpose: &Option<Purpose>| -> bool { T::Participants::is_active_signer(origin) })]
		pub fn grant(
			origin: OriginFor<T>,
			grantee: Grantee<T::AccountId>,
			actions: ActionSet,
			scope: GrantScope,
			valid_from: Moment,
			valid_until: Moment,
			purpose: Option<Purpose>,
		) -> DispatchResultWithPostInfo {
			let patient = ensure_signed(origin)?;
			Self::ensure_consent_chain()?;
			ensure!(T::Participants::is_active_patient(&patient), Error::<T>::NotActivePatient);
			let now = Self::now();
			Self::ensure_terms(&actions, &scope, valid_from, valid_until, now)?;
			Self::ensure_grantee(&patient, &grantee)?;
			let plan = Self::plan_grant(&patient, &grantee, now)?;
			// Charged for the grantee's grants actually read (the declared weight assumes a
			// full list of expired grants, each deleted).
			let weight = T::WeightInfo::grant(plan.examined);

			let grant = Grant {
				patient: patient.clone(),
				grantee,
				actions,
				scope,
				valid_from,
				valid_until,
				purpose,
				created_at: now,
				source: GrantSource::Direct,
			};
			Self::commit_grant(plan, grant, &patient, now);
			Ok(Some(weight).into())
		}

		/// Revoke one of the caller's grants. It stops allowing anything from this block on.
		/// Always open to the grant's patient, suspended or not, without fees.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::revoke())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _grant: &GrantId| -> bool {
			T::Participants::is_patient_signer(origin)
		})]
		pub fn revoke(origin: OriginFor<T>, grant: GrantId) -> DispatchResult {
			let patient = ensure_signed(origin)?;
			let stored = Grants::<T>::get(grant).ok_or(Error::<T>::GrantNotFound)?;
			ensure!(stored.patient == patient, Error::<T>::NotGrantOwner);

			Self::remove_grant(grant, &stored);
			Self::audit(&patient, &patient, AuditEvent::GrantRevoked { grant });
			Self::deposit_event(Event::GrantRevoked { grant, patient });
			Ok(())
		}

		/// Set a standing policy on the caller's records.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::set_policy())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _policy: &Policy<T::AccountId>| -> bool {
			T::Participants::is_active_signer(origin)
		})]
		pub fn set_policy(origin: OriginFor<T>, policy: Policy<T::AccountId>) -> DispatchResult {
			let patient = ensure_signed(origin)?;
			Self::ensure_consent_chain()?;
			ensure!(T::Participants::is_active_patient(&patient), Error::<T>::NotActivePatient);
			ensure!(policy.actions.is_valid(), Error::<T>::InvalidActions);
			ensure!(policy.scope.is_valid(), Error::<T>::InvalidScope);
			let rule_ok = match &policy.rule {
				PolicyRule::AfterVisit { institution, window } => {
					*window > 0
						&& matches!(
							T::Participants::role_of(institution),
							Some(Role::Institution(_))
						)
				}
				PolicyRule::Emergency { duration } => *duration > 0,
			};
			ensure!(rule_ok, Error::<T>::InvalidPolicy);
			let id = NextPolicyId::<T>::get();
			let next = id.checked_add(1).ok_or(ArithmeticError::Overflow)?;
			let mut policies = Policies::<T>::get(&patient);
			policies.try_push((id, policy)).map_err(|_| Error::<T>::TooManyPolicies)?;

			NextPolicyId::<T>::put(next);
			Policies::<T>::insert(&patient, policies);
			Self::audit(&patient, &patient, AuditEvent::PolicySet { policy: id });
			Self::deposit_event(Event::PolicySet { policy: id, patient });
			Ok(())
		}

		/// Remove one of the caller's standing policies. Grants it already created stay until
		/// revoked or expired. Always open to the patient, suspended or not, without fees.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::remove_policy())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _policy: &PolicyId| -> bool {
			T::Participants::is_patient_signer(origin)
		})]
		pub fn remove_policy(origin: OriginFor<T>, policy: PolicyId) -> DispatchResult {
			let patient = ensure_signed(origin)?;
			let mut policies = Policies::<T>::get(&patient);
			let at = policies.iter().position(|(id, _)| *id == policy);
			let at = at.ok_or(Error::<T>::PolicyNotFound)?;

			policies.remove(at);
			if policies.is_empty() {
				Policies::<T>::remove(&patient);
			} else {
				Policies::<T>::insert(&patient, policies);
			}
			Self::audit(&patient, &patient, AuditEvent::PolicyRemoved { policy });
			Self::deposit_event(Event::PolicyRemoved { policy, patient });
			Ok(())
		}

		/// Record `patient`'s visit to the caller's institution, proved by the patient's signed
		/// [`VisitProof`] (made by the patient's client at the visit, at most
		/// [`Config::StatementValidity`] old). Called by a hospital or internet platform, or
		/// one of its active doctors; opens the patient's after-visit policies for that
		/// institution. Each proof is recorded once: its time must be later than the last
		/// recorded visit to the institution.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::record_visit())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _patient: &T::AccountId,
			_visit: &VisitProof<T::AccountId, T::Signature>| -> bool {
			T::Participants::is_active_signer(origin)
		})]
		pub fn record_visit(
			origin: OriginFor<T>,
			patient: T::AccountId,
			visit: VisitProof<T::AccountId, T::Signature>,
		) -> DispatchResult {
			let caller = ensure_signed(origin)?;
			Self::ensure_consent_chain()?;
			ensure!(T::Participants::is_active(&caller), Error::<T>::NotActiveParticipant);
			let institution = Self::care_provider_of(&caller).ok_or(Error::<T>::NotCareProvider)?;
			ensure!(
				matches!(T::Participants::role_of(&patient), Some(Role::Patient)),
				Error::<T>::NotAPatient
			);
			ensure!(visit.institution == institution, Error::<T>::VisitAtAnotherInstitution);
			let now = Self::now();
			Self::ensure_fresh(visit.issued_at, now)?;
			ensure!(
				LastVisit::<T>::get(&patient, &institution)
					.is_none_or(|last| visit.issued_at > last),
				Error::<T>::VisitAlreadyRecorded
			);
			ensure!(visit.is_signed_by(&patient), Error::<T>::VisitNotSignedByPatient);

			// The visit happened when the patient signed, not when it was relayed.
			let now = visit.issued_at;
			LastVisit::<T>::insert(&patient, &institution, now);
			Self::audit(
				&patient,
				&caller,
				AuditEvent::VisitRecorded { institution: institution.clone() },
			);
			Self::deposit_event(Event::VisitRecorded { patient, institution, at: now });
			Ok(())
		}

		/// Apply for access to `patient`'s records. Granted at once if a standing policy of the
		/// patient matches, otherwise waits for the patient's answer until
		/// [`Config::RequestTtl`] passes. Counts against the caller's request rate; one request
		/// over the limit suspends the caller instead (and the call still succeeds, so the
		/// suspension is kept).
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::request_access(T::MaxPoliciesPerPatient::get()))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _patient: &T::AccountId, _actions: &ActionSet,
			_scope: &GrantScope, _from: &Moment, _until: &Moment, _purpose: &Purpose| -> bool {
			T::Participants::is_active_signer(origin)
		})]
		pub fn request_access(
			origin: OriginFor<T>,
			patient: T::AccountId,
			actions: ActionSet,
			scope: GrantScope,
			valid_from: Moment,
			valid_until: Moment,
			purpose: Purpose,
		) -> DispatchResultWithPostInfo {
			let requester = ensure_signed(origin)?;
			Self::ensure_consent_chain()?;
			ensure!(T::Participants::is_active(&requester), Error::<T>::NotActiveParticipant);
			ensure!(requester != patient, Error::<T>::OwnData);
			ensure!(
				matches!(T::Participants::role_of(&patient), Some(Role::Patient)),
				Error::<T>::NotAPatient
			);
			let now = Self::now();
			Self::ensure_terms(&actions, &scope, valid_from, valid_until, now)?;
			let id = NextRequestId::<T>::get();
			let next = id.checked_add(1).ok_or(ArithmeticError::Overflow)?;

			// Find a matching policy whose grant fits in storage; otherwise the request waits.
			let policies = Policies::<T>::get(&patient);
			let examined = policies.len() as u32;
			let grantee = Grantee::Account(requester.clone());
			let auto = Self::match_policy(
				&policies,
				&patient,
				&requester,
				&actions,
				&scope,
				valid_from,
				valid_until,
				purpose,
				now,
			)
			.and_then(|matched| {
				Self::plan_grant(&patient, &grantee, now).ok().map(|plan| (matched, plan))
			});
			let pending = if auto.is_none() {
				ensure!(
					PendingBy::<T>::get(&patient, &requester) < T::MaxPendingPerRequester::get(),
					Error::<T>::TooManyRequestsFromRequester
				);
				let mut pending = PendingOf::<T>::get(&patient);
				pending.try_push(id).map_err(|_| Error::<T>::TooManyPendingRequests)?;
				Some(pending)
			} else {
				None
			};
			let weight = Some(T::WeightInfo::request_access(examined.max(1)));

			// Verified; from here on the call succeeds.
			if !Self::note_activity(&requester, ActivityKind::Request, &patient, now) {
				return Ok(weight.into());
			}
			NextRequestId::<T>::put(next);
			Self::audit(
				&patient,
				&requester,
				AuditEvent::AccessRequested { request: id, actions, purpose },
			);
			Self::deposit_event(Event::AccessRequested {
				request: id,
				patient: patient.clone(),
				requester: requester.clone(),
				purpose,
			});

			if let Some(((policy, from, until, attester), plan)) = auto {
				Self::audit(
					&patient,
					&requester,
					AuditEvent::RequestAutoGranted { request: id, policy, grant: plan.id },
				);
				Self::deposit_event(Event::RequestAutoGranted {
					request: id,
					policy,
					grant: plan.id,
				});
				if let Some(attester) = attester {
					// Break-glass: used once, flagged in the trail, and the patient is told.
					EmergencyAttestations::<T>::remove(&requester);
					Self::audit(
						&patient,
						&requester,
						AuditEvent::EmergencyAccessGranted {
							request: id,
							grant: plan.id,
							attester: attester.clone(),
							until,
						},
					);
					Self::deposit_event(Event::EmergencyAccessGranted {
						patient: patient.clone(),
						doctor: requester.clone(),
						attester,
						grant: plan.id,
						until,
					});
				}
				let grant = Grant {
					patient: patient.clone(),
					grantee,
					actions,
					scope,
					valid_from: from,
					valid_until: until,
					purpose: Some(purpose),
					created_at: now,
					source: GrantSource::Policy { policy, request: id },
				};
				Self::commit_grant(plan, grant, &requester, now);
			} else if let Some(pending) = pending {
				PendingOf::<T>::insert(&patient, pending);
				PendingBy::<T>::mutate(&patient, &requester, |n| n.saturating_inc());
				Requests::<T>::insert(
					id,
					AccessRequest {
						patient,
						requester,
						actions,
						scope,
						valid_from,
						valid_until,
						purpose,
						created_at: now,
						expires_at: now.saturating_add(T::RequestTtl::get()),
					},
				);
			}
			Ok(weight.into())
		}

		/// Approve a request addressed to the caller: the requester gets a grant on the terms
		/// asked for.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::approve_request())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _request: &RequestId| -> bool {
			T::Participants::is_active_signer(origin)
		})]
		pub fn approve_request(origin: OriginFor<T>, request: RequestId) -> DispatchResult {
			let patient = ensure_signed(origin)?;
			Self::ensure_consent_chain()?;
			let req = Requests::<T>::get(request).ok_or(Error::<T>::RequestNotFound)?;
			ensure!(req.patient == patient, Error::<T>::NotRequestPatient);
			ensure!(T::Participants::is_active_patient(&patient), Error::<T>::NotActivePatient);
			let now = Self::now();
			ensure!(now < req.expires_at, Error::<T>::RequestExpired);
			ensure!(now < req.valid_until, Error::<T>::InvalidPeriod);
			let grantee = Grantee::Account(req.requester.clone());
			let plan = Self::plan_grant(&patient, &grantee, now)?;

			Self::take_request(request, &req);
			Self::audit(
				&patient,
				&patient,
				AuditEvent::RequestApproved { request, grant: plan.id },
			);
			Self::deposit_event(Event::RequestApproved { request, grant: plan.id });
			let grant = Grant {
				patient: patient.clone(),
				grantee,
				actions: req.actions,
				scope: req.scope,
				valid_from: req.valid_from,
				valid_until: req.valid_until,
				purpose: Some(req.purpose),
				created_at: now,
				source: GrantSource::ApprovedRequest(request),
			};
			Self::commit_grant(plan, grant, &patient, now);
			Ok(())
		}

		/// Deny a request addressed to the caller. Always open to the patient, suspended or
		/// not, without fees.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::deny_request())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _request: &RequestId| -> bool {
			T::Participants::is_patient_signer(origin)
		})]
		pub fn deny_request(origin: OriginFor<T>, request: RequestId) -> DispatchResult {
			let patient = ensure_signed(origin)?;
			let req = Requests::<T>::get(request).ok_or(Error::<T>::RequestNotFound)?;
			ensure!(req.patient == patient, Error::<T>::NotRequestPatient);

			Self::take_request(request, &req);
			Self::audit(&patient, &patient, AuditEvent::RequestDenied { request });
			Self::deposit_event(Event::RequestDenied { request });
			Ok(())
		}

		/// Record, as a proxy, the access `user` asked this proxy for: the user's signed
		/// [`AccessStatement`] names the proxy, the patient, the target, the action and the
		/// time, so a proxy records only accesses a user really asked for, each once
		/// (statements of one user to one proxy are recorded in the order of their times, at
		/// most [`Config::StatementValidity`] away from the chain's time). The chain decides and
		/// records whether the access was allowed at this block's time; the access counts
		/// against `user`'s access rate, and one access over the limit suspends `user` (and is
		/// denied).
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::record_access(2 * T::MaxGrantsPerGrantee::get()))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _user: &T::AccountId,
			_statement: &AccessStatement<T::AccountId>, _signature: &T::Signature| -> bool {
			T::Participants::is_active_signer(origin)
		})]
		pub fn record_access(
			origin: OriginFor<T>,
			user: T::AccountId,
			statement: AccessStatement<T::AccountId>,
			signature: T::Signature,
		) -> DispatchResultWithPostInfo {
			let proxy = T::ProxyOrigin::ensure_origin(origin)?;
			Self::ensure_consent_chain()?;
			ensure!(statement.proxy == proxy, Error::<T>::WrongProxy);
			let AccessStatement { patient, target, action, issued_at, .. } = statement.clone();
			// Only registered identities (suspended ones included: their refusals are
			// recorded) can ask; a proxy cannot invent users to flood a trail.
			ensure!(T::Participants::role_of(&user).is_some(), Error::<T>::UserNotRegistered);
			ensure!(target.is_valid(), Error::<T>::InvalidTarget);
			ensure!(
				matches!(T::Participants::role_of(&patient), Some(Role::Patient)),
				Error::<T>::NotAPatient
			);
			let now = Self::now();
			Self::ensure_fresh(issued_at, now)?;
			ensure!(
				issued_at > AccessNonce::<T>::get(&user, &proxy),
				Error::<T>::AccessAlreadyRecorded
			);
			ensure!(
				signature.verify(&statement.signing_payload()[..], &user),
				Error::<T>::AccessNotSignedByUser
			);

			AccessNonce::<T>::insert(&user, &proxy, issued_at);

			let within_rate = Self::note_activity(&user, ActivityKind::Access, &patient, now);
			let (allowed, examined) = if within_rate {
				Self::check_access(&patient, &user, &target, action, now)
			} else {
				(false, 0)
			};
			// The trail names the record with the facts the chain vouches for.
			let target = Self::vouched_target(&patient, &target);
			Self::audit(
				&patient,
				&proxy,
				AuditEvent::Access { user: user.clone(), target, action, allowed },
			);
			Self::deposit_event(Event::AccessRecorded { patient, user, proxy, allowed });
			Ok(Some(T::WeightInfo::record_access(examined.max(1))).into())
		}

		/// Record, as a proxy, the keyword search `user` asked this proxy for (the user's signed
		/// [`SearchStatement`], checked as for [`Pallet::record_access`] and sharing its replay
		/// guard) and how many records it found that the user may read. A search tells the
		/// searcher which coded records a patient has, so it is audited like a read and counts
		/// against the user's access rate; a search over the limit suspends the user, and the
		/// proxy then discloses nothing (`SearchRecorded { counted: false }`).
		#[pallet::call_index(10)]
		#[pallet::weight(T::WeightInfo::record_search())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _user: &T::AccountId,
			_statement: &SearchStatement<T::AccountId>, _signature: &T::Signature,
			_results: &u32| -> bool { T::Participants::is_active_signer(origin) })]
		pub fn record_search(
			origin: OriginFor<T>,
			user: T::AccountId,
			statement: SearchStatement<T::AccountId>,
			signature: T::Signature,
			results: u32,
		) -> DispatchResult {
			let proxy = T::ProxyOrigin::ensure_origin(origin)?;
			Self::ensure_consent_chain()?;
			ensure!(statement.proxy == proxy, Error::<T>::WrongProxy);
			let patient = statement.patient.clone();
			// A suspended identity is served nothing, so has no search to record.
			ensure!(T::Participants::is_active(&user), Error::<T>::NotActiveParticipant);
			ensure!(
				matches!(T::Participants::role_of(&patient), Some(Role::Patient)),
				Error::<T>::NotAPatient
			);
			let now = Self::now();
			Self::ensure_fresh(statement.issued_at, now)?;
			ensure!(
				statement.issued_at > AccessNonce::<T>::get(&user, &proxy),
				Error::<T>::AccessAlreadyRecorded
			);
			ensure!(
				signature.verify(&statement.signing_payload()[..], &user),
				Error::<T>::AccessNotSignedByUser
			);

			AccessNonce::<T>::insert(&user, &proxy, statement.issued_at);
			let counted = Self::note_activity(&user, ActivityKind::Access, &patient, now);
			let results = if counted { results } else { 0 };
			Self::audit(&patient, &proxy, AuditEvent::Search { user: user.clone(), results });
			Self::deposit_event(Event::SearchRecorded { patient, user, proxy, results, counted });
			Ok(())
		}

		/// Attest that `doctor` is treating `patient` in an emergency: the second party that
		/// break-glass access needs. The caller is an active health authority, or the doctor's
		/// own active hospital or platform (its institution account; no doctor can attest). It
		/// counts against the caller's request rate. For [`Config::EmergencyAttestationTtl`] the doctor may ask
		/// with purpose `EmergencyTreatment` and be granted by the patient's emergency policy,
		/// once, for at most [`Config::MaxEmergencyDuration`]; the grant is flagged in the
		/// patient's audit trail and announced by [`Event::EmergencyAccessGranted`].
		#[pallet::call_index(9)]
		#[pallet::weight(T::WeightInfo::attest_emergency())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _patient: &T::AccountId,
			_doctor: &T::AccountId| -> bool { T::Participants::is_active_signer(origin) })]
		pub fn attest_emergency(
			origin: OriginFor<T>,
			patient: T::AccountId,
			doctor: T::AccountId,
		) -> DispatchResult {
			let attester = ensure_signed(origin)?;
			Self::ensure_consent_chain()?;
			ensure!(T::Participants::is_active(&attester), Error::<T>::NotActiveParticipant);
			ensure!(
				matches!(T::Participants::role_of(&patient), Some(Role::Patient)),
				Error::<T>::NotAPatient
			);
			ensure!(Self::is_active_doctor(&doctor), Error::<T>::NotAnActiveDoctor);
			let may_attest = match T::Participants::role_of(&attester) {
				Some(Role::Institution(InstitutionKind::HealthAuthority)) => true,
				Some(Role::Institution(
					InstitutionKind::Hospital | InstitutionKind::InternetPlatform,
				)) => T::Participants::is_active_doctor_of(&doctor, &attester),
				_ => false,
			};
			ensure!(may_attest, Error::<T>::NotEmergencyAttester);
			let now = Self::now();
			ensure!(
				EmergencyAttestations::<T>::get(&doctor)
					.is_none_or(|a| a.expires_at <= now || a.attester == attester),
				Error::<T>::AttestationInForce
			);
			let expires_at = now.saturating_add(T::EmergencyAttestationTtl::get());

			// Attestations count against the attester's request rate, so no institution can
			// flood a patient's trail with them; one over the limit suspends the attester
			// instead (and the call succeeds, so the suspension is kept).
			if !Self::note_activity(&attester, ActivityKind::Request, &patient, now) {
				return Ok(());
			}
			EmergencyAttestations::<T>::insert(
				&doctor,
				EmergencyAttestation {
					patient: patient.clone(),
					attester: attester.clone(),
					expires_at,
				},
			);
			Self::audit(
				&patient,
				&attester,
				AuditEvent::EmergencyAttested { doctor: doctor.clone() },
			);
			Self::deposit_event(Event::EmergencyAttested { patient, doctor, attester, expires_at });
			Ok(())
		}
	}
}

/// A grant ready to be written: everything read and checked, nothing written yet.
struct GrantPlan<T: Config> {
	id: GrantId,
	patient: T::AccountId,
	grantee: Grantee<T::AccountId>,
	/// The grantee's list with expired grants dropped and `id` added.
	list: BoundedVec<GrantId, T::MaxGrantsPerGrantee>,
	/// Expired grants to delete.
	expired: Vec<GrantId>,
	/// How many of the grantee's grants were read (the list's length before the new one).
	examined: u32,
	/// The patient's grant count after the write.
	count: u32,
}

impl<T: Config> Pallet<T> {
	/// The access check: may `user` perform `action` on `target` of `patient`'s records at
	/// `now` (Unix ms)? See the crate doc for the rules.
	pub fn is_access_allowed(
		patient: &T::AccountId,
		user: &T::AccountId,
		target: &AccessTarget,
		action: Action,
		now: Moment,
	) -> bool {
		Self::check_access(patient, user, target, action, now).0
	}

	/// The patient's audit entries from `seq` `from`, at most `limit` (capped at
	/// [`MAX_AUDIT_PAGE`]), in order, and the trail's total length. Entries older than the ring
	/// are skipped: the first returned `seq` says where the page really starts.
	pub fn audit_trail(patient: &T::AccountId, from: u64, limit: u32) -> AuditPage<T> {
		let total = AuditLength::<T>::get(patient);
		let ring = T::MaxAuditEntriesPerPatient::get() as u64;
		let start = from.max(total.saturating_sub(ring));
		let end = total.min(start.saturating_add(limit.min(MAX_AUDIT_PAGE) as u64));
		let page = (start..end)
			.filter_map(|seq| AuditLog::<T>::get(patient, (seq % ring) as u32))
			.collect();
		(total, page)
	}

	/// The length of the patient's audit trail and the commitment to all of it
	/// ([`AuditHead`]).
	pub fn audit_head(patient: &T::AccountId) -> (u64, [u8; 32]) {
		(AuditLength::<T>::get(patient), AuditHead::<T>::get(patient))
	}

	/// The patient's grants in storage (including future and not yet removed expired ones).
	pub fn grants_of(patient: &T::AccountId) -> Vec<(GrantId, Grant<T::AccountId>)> {
		GrantsOf::<T>::iter_prefix_values(patient)
			.flat_map(|ids| ids.into_iter())
			.filter_map(|id| Grants::<T>::get(id).map(|g| (id, g)))
			.collect()
	}

	/// The patient's unanswered requests.
	pub fn pending_requests(
		patient: &T::AccountId,
	) -> Vec<(RequestId, AccessRequest<T::AccountId>)> {
		PendingOf::<T>::get(patient)
			.into_iter()
			.filter_map(|id| Requests::<T>::get(id).map(|r| (id, r)))
			.collect()
	}

	/// The access check, also returning how many grants it read (for weight refunds).
	fn check_access(
		patient: &T::AccountId,
		user: &T::AccountId,
		target: &AccessTarget,
		action: Action,
		now: Moment,
	) -> (bool, u32) {
		if !target.is_valid() || !T::Participants::is_active(user) {
			return (false, 0);
		}
		let target = &Self::vouched_target(patient, target);
		if user == patient {
			// The data owner reads and copies their own records, and never writes them.
			return (action != Action::Write, 0);
		}
		let mut keys = [Some(Grantee::Account(user.clone())), None];
		if let Some(Role::Doctor { institution }) = T::Participants::role_of(user) {
			if T::Participants::is_active(&institution) {
				keys[1] = Some(Grantee::MembersOf(institution));
			}
		}
		let mut examined = 0u32;
		for key in keys.into_iter().flatten() {
			for id in GrantsOf::<T>::get(patient, &key) {
				examined.saturating_inc();
				if Grants::<T>::get(id).is_some_and(|g| g.permits(target, action, now)) {
					return (true, examined);
				}
			}
		}
		(false, examined)
	}

	/// `target` with the categories the chain vouches for: a record of `patient` named by its
	/// hash gets the categories anchored for it (none if it is not anchored for `patient`),
	/// whatever categories the asker stated; a record named by its slip gets none. Other
	/// targets are returned as they are.
	pub fn vouched_target(patient: &T::AccountId, target: &AccessTarget) -> AccessTarget {
		match target {
			AccessTarget::Record { id: id @ RecordId::Hash(hash), .. } => AccessTarget::Record {
				id: *id,
				categories: T::Records::categories(patient, hash).unwrap_or_default(),
			},
			AccessTarget::Record { id: id @ RecordId::Slip { .. }, .. } => {
				AccessTarget::Record { id: *id, categories: Default::default() }
			}
			other => other.clone(),
		}
	}

	/// Current wall-clock time in Unix ms.
	fn now() -> Moment {
		T::Time::now().as_millis().saturated_into()
	}

	/// A signed statement's time must lie within [`Config::StatementValidity`] of `now`.
	fn ensure_fresh(issued_at: Moment, now: Moment) -> DispatchResult {
		ensure!(issued_at.abs_diff(now) <= T::StatementValidity::get(), Error::<T>::StaleStatement);
		Ok(())
	}

	fn ensure_consent_chain() -> DispatchResult {
		ensure!(T::AcceptsConsents::get(), Error::<T>::NotConsentChain);
		Ok(())
	}

	/// Checks the terms shared by grants and requests.
	fn ensure_terms(
		actions: &ActionSet,
		scope: &GrantScope,
		valid_from: Moment,
		valid_until: Moment,
		now: Moment,
	) -> DispatchResult {
		ensure!(actions.is_valid(), Error::<T>::InvalidActions);
		ensure!(scope.is_valid(), Error::<T>::InvalidScope);
		ensure!(valid_from < valid_until && now < valid_until, Error::<T>::InvalidPeriod);
		Ok(())
	}

	fn ensure_grantee(patient: &T::AccountId, grantee: &Grantee<T::AccountId>) -> DispatchResult {
		let ok = match grantee {
			Grantee::Account(who) => who != patient && T::Participants::role_of(who).is_some(),
			Grantee::MembersOf(institution) => {
				matches!(T::Participants::role_of(institution), Some(Role::Institution(_)))
			}
		};
		ensure!(ok, Error::<T>::InvalidGrantee);
		Ok(())
	}

	/// The hospital or platform `who` records visits for: itself, or its employer.
	fn care_provider_of(who: &T::AccountId) -> Option<T::AccountId> {
		let provides_care = |kind: InstitutionKind| {
			matches!(kind, InstitutionKind::Hospital | InstitutionKind::InternetPlatform)
		};
		match T::Participants::role_of(who)? {
			Role::Institution(kind) if provides_care(kind) => Some(who.clone()),
			Role::Doctor { institution } => match T::Participants::role_of(&institution)? {
				Role::Institution(kind)
					if provides_care(kind) && T::Participants::is_active(&institution) =>
				{
					Some(institution)
				}
				_ => None,
			},
			_ => None,
		}
	}

	/// The first standing policy that grants this request, with the period it grants and,
	/// for an emergency policy, who attested the emergency.
	#[allow(clippy::too_many_arguments)]
	fn match_policy(
		policies: &[(PolicyId, Policy<T::AccountId>)],
		patient: &T::AccountId,
		requester: &T::AccountId,
		actions: &ActionSet,
		scope: &GrantScope,
		valid_from: Moment,
		valid_until: Moment,
		purpose: Purpose,
		now: Moment,
	) -> Option<(PolicyId, Moment, Moment, Option<T::AccountId>)> {
		policies.iter().find_map(|(id, policy)| {
			if !actions.is_subset_of(&policy.actions) || !policy.scope.contains(scope) {
				return None;
			}
			let (limit, attester) = match &policy.rule {
				PolicyRule::AfterVisit { institution, window } => {
					if !T::Participants::is_active_doctor_of(requester, institution) {
						return None;
					}
					(LastVisit::<T>::get(patient, institution)?.saturating_add(*window), None)
				}
				PolicyRule::Emergency { duration } => {
					// A doctor's word is not enough: an institution or health authority must
					// have attested this emergency for this patient, recently.
					if purpose != Purpose::EmergencyTreatment || !Self::is_active_doctor(requester)
					{
						return None;
					}
					let attestation = EmergencyAttestations::<T>::get(requester)?;
					if attestation.patient != *patient || attestation.expires_at <= now {
						return None;
					}
					let duration = (*duration).min(T::MaxEmergencyDuration::get());
					(now.saturating_add(duration), Some(attestation.attester))
				}
			};
			let from = valid_from.max(now);
			let until = valid_until.min(limit);
			(from < until).then_some((*id, from, until, attester))
		})
	}

	/// True if `who` is an active doctor of an active institution.
	fn is_active_doctor(who: &T::AccountId) -> bool {
		match T::Participants::role_of(who) {
			Some(Role::Doctor { institution }) => {
				T::Participants::is_active_doctor_of(who, &institution)
			}
			_ => false,
		}
	}

	/// Reads and checks everything needed to add a grant for `grantee`; writes nothing.
	fn plan_grant(
		patient: &T::AccountId,
		grantee: &Grantee<T::AccountId>,
		now: Moment,
	) -> Result<GrantPlan<T>, DispatchError> {
		let id = NextGrantId::<T>::get();
		id.checked_add(1).ok_or(ArithmeticError::Overflow)?;
		let mut list = GrantsOf::<T>::get(patient, grantee);
		let examined = list.len() as u32;
		let mut expired = Vec::new();
		list.retain(|g| match Grants::<T>::get(*g) {
			Some(grant) if grant.valid_until <= now => {
				expired.push(*g);
				false
			}
			Some(_) => true,
			None => false,
		});
		list.try_push(id).map_err(|_| Error::<T>::TooManyGrantsForGrantee)?;
		let count = GrantCount::<T>::get(patient).saturating_sub(expired.len() as u32);
		ensure!(count < T::MaxGrantsPerPatient::get(), Error::<T>::TooManyGrants);
		Ok(GrantPlan {
			id,
			patient: patient.clone(),
			grantee: grantee.clone(),
			list,
			expired,
			examined,
			count: count.saturating_add(1),
		})
	}

	/// Writes a planned grant, removing the expired ones the plan found.
	fn commit_grant(
		plan: GrantPlan<T>,
		grant: Grant<T::AccountId>,
		actor: &T::AccountId,
		_now: Moment,
	) {
		let GrantPlan { id, patient, grantee, list, expired, count, .. } = plan;
		for old in expired {
			Grants::<T>::remove(old);
			Self::audit(&patient, actor, AuditEvent::GrantExpired { grant: old });
			Self::deposit_event(Event::GrantExpired { grant: old, patient: patient.clone() });
		}
		NextGrantId::<T>::put(id.saturating_add(1));
		GrantsOf::<T>::insert(&patient, &grantee, list);
		GrantCount::<T>::insert(&patient, count);
		let actions = grant.actions;
		Grants::<T>::insert(id, grant);
		Self::audit(
			&patient,
			actor,
			AuditEvent::GrantCreated { grant: id, grantee: grantee.clone(), actions },
		);
		Self::deposit_event(Event::GrantCreated { grant: id, patient, grantee });
	}

	/// Deletes a stored grant and its index entry.
	fn remove_grant(id: GrantId, grant: &Grant<T::AccountId>) {
		Grants::<T>::remove(id);
		GrantsOf::<T>::mutate_exists(&grant.patient, &grant.grantee, |list| {
			if let Some(l) = list {
				l.retain(|g| *g != id);
				if l.is_empty() {
					*list = None;
				}
			}
		});
		GrantCount::<T>::mutate_exists(&grant.patient, |c| {
			*c = c.map(|c| c.saturating_sub(1)).filter(|c| *c > 0);
		});
	}

	/// Deletes an unanswered request and its index entries.
	fn take_request(id: RequestId, req: &AccessRequest<T::AccountId>) {
		let patient = &req.patient;
		Requests::<T>::remove(id);
		PendingBy::<T>::mutate_exists(patient, &req.requester, |n| {
			*n = n.map(|n| n.saturating_sub(1)).filter(|n| *n > 0);
		});
		PendingOf::<T>::mutate_exists(patient, |list| {
			if let Some(l) = list {
				l.retain(|r| *r != id);
				if l.is_empty() {
					*list = None;
				}
			}
		});
	}

	/// Appends a step to `patient`'s audit trail.
	fn audit(patient: &T::AccountId, actor: &T::AccountId, event: AuditEvent<T::AccountId>) {
		let seq = AuditLength::<T>::get(patient);
		let slot = (seq % T::MaxAuditEntriesPerPatient::get() as u64) as u32;
		let record = AuditRecord {
			seq,
			block: frame_system::Pallet::<T>::block_number(),
			at: Self::now(),
			actor: actor.clone(),
			event,
		};
		AuditHead::<T>::mutate(patient, |head| *head = audit_chain_step(head, &record));
		AuditLog::<T>::insert(patient, slot, record);
		AuditLength::<T>::insert(patient, seq.saturating_add(1));
	}

	/// Counts one request or access by `who` (on `patient`'s data). Returns false if that
	/// exceeds the limit of its kind, after suspending `who` and starting a fresh window for
	/// them (so a reinstated identity starts clean).
	fn note_activity(
		who: &T::AccountId,
		kind: ActivityKind,
		patient: &T::AccountId,
		now: Moment,
	) -> bool {
		let mut window = Activity::<T>::get(who);
		if window == ActivityWindow::default()
			|| now >= window.started_at.saturating_add(T::RateWindow::get())
		{
			window = ActivityWindow { started_at: now, requests: 0, accesses: 0 };
		}
		let (count, limit) = match kind {
			ActivityKind::Request => {
				window.requests.saturating_inc();
				(window.requests, T::MaxRequestsPerWindow::get())
			}
			ActivityKind::Access => {
				window.accesses.saturating_inc();
				(window.accesses, T::MaxAccessesPerWindow::get())
			}
		};
		if count <= limit {
			Activity::<T>::insert(who, window);
			return true;
		}

		Activity::<T>::remove(who);
		Self::deposit_event(Event::RateLimitExceeded { who: who.clone() });
		let suspended =
			match frame_support::storage::with_storage_layer(|| T::Participants::suspend(who)) {
				Ok(()) => {
					Self::deposit_event(Event::IdentitySuspended { who: who.clone() });
					true
				}
				Err(error) => {
					log::warn!(target: "runtime::consent", "suspension refused: {error:?}");
					Self::deposit_event(Event::SuspensionFailed { who: who.clone(), error });
					false
				}
			};
		Self::audit(patient, who, AuditEvent::RateLimitExceeded { who: who.clone(), suspended });
		false
	}

	/// Lapses unanswered requests past their expiry, oldest first, at most
	/// [`Config::MaxExpiriesPerBlock`] examined per block.
	fn expire_requests() -> Weight {
		let mut cursor = ExpiryCursor::<T>::get();
		let next = NextRequestId::<T>::get();
		if cursor >= next {
			return T::WeightInfo::expire_requests(0);
		}
		// Read the clock only when there is work: at genesis `pallet-timestamp` has no time yet.
		let now = Self::now();
		let mut examined = 0u32;
		while examined < T::MaxExpiriesPerBlock::get() && cursor < next {
			match Requests::<T>::get(cursor) {
				Some(req) if req.expires_at > now => break,
				Some(req) => {
					Self::take_request(cursor, &req);
					Self::audit(
						&req.patient,
						&req.requester,
						AuditEvent::RequestExpired { request: cursor },
					);
					Self::deposit_event(Event::RequestExpired { request: cursor });
				}
				None => {}
			}
			cursor.saturating_inc();
			examined.saturating_inc();
		}
		ExpiryCursor::<T>::put(cursor);
		T::WeightInfo::expire_requests(examined)
	}
}

impl<T: Config> Pallet<T> {
	/// Checks the pallet's invariants (see [`mbds_primitives::invariants`]); `Err` names the
	/// first one broken:
	/// - grant ids are below [`NextGrantId`]; no patient is its own grantee;
	/// - the grant index ([`GrantsOf`]) agrees with the grants: every grant is listed under
	///   its patient and grantee, every list entry is a grant of that patient and grantee,
	///   once, lists are in id order and never empty;
	/// - [`GrantCount`] is each patient's number of grants (no entry for a patient without);
	/// - policy ids are below [`NextPolicyId`], in id order per patient, no empty list;
	/// - request ids are below [`NextRequestId`] and not below [`ExpiryCursor`] (the cursor
	///   passes only requests that are gone), nobody requests their own records;
	/// - the request index ([`PendingOf`]) agrees with the requests as the grant index does,
	///   and [`PendingBy`] counts each (patient, requester)'s requests;
	/// - each patient's audit ring ([`AuditLog`]) holds exactly the last
	///   `min(length, MaxAuditEntriesPerPatient)` entries of [`AuditLength`], each in its slot,
	///   a patient with entries has an [`AuditHead`], and while the whole trail is in the ring
	///   it folds to that head.
	///
	/// Reads every grant, request and audit entry: for tests and `try-runtime`, never called by
	/// the runtime itself.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::BTreeMap;
		use mbds_primitives::ensure_invariant;

		// Grants and their index.
		let next_grant = NextGrantId::<T>::get();
		let mut grants_of: BTreeMap<T::AccountId, u32> = BTreeMap::new();
		let mut grants = 0usize;
		for (id, grant) in Grants::<T>::iter() {
			grants += 1;
			ensure_invariant!(
				id < next_grant,
				"consent: grant ids are below the next grant id",
				"grant {id}, next id {next_grant}"
			);
			ensure_invariant!(
				grant.grantee != Grantee::Account(grant.patient.clone()),
				"consent: no patient is its own grantee",
				"grant {id} of {:?}",
				grant.patient
			);
			ensure_invariant!(
				GrantsOf::<T>::get(&grant.patient, &grant.grantee).contains(&id),
				"consent: every grant is in the index under its patient and grantee",
				"grant {id} of {:?} to {:?}",
				grant.patient,
				grant.grantee
			);
			*grants_of.entry(grant.patient).or_default() += 1;
		}
		let mut indexed = 0usize;
		for (patient, grantee, ids) in GrantsOf::<T>::iter() {
			ensure_invariant!(
				!ids.is_empty() && ids.windows(2).all(|w| w[0] < w[1]),
				"consent: a grant index list is non-empty, in id order, without duplicates",
				"{patient:?} to {grantee:?}: {:?}",
				ids.into_inner()
			);
			for id in ids.iter() {
				indexed += 1;
				let grant = Grants::<T>::get(id);
				ensure_invariant!(
					grant.as_ref().is_some_and(|g| g.patient == patient && g.grantee == grantee),
					"consent: every grant index entry is a grant of that patient and grantee",
					"{patient:?} to {grantee:?}: grant {id} is {:?}",
					grant.map(|g| (g.patient, g.grantee))
				);
			}
		}
		ensure_invariant!(
			indexed == grants,
			"consent: every grant index entry is a grant, once",
			"{indexed} entries for {grants} grants"
		);
		let mut counted = 0usize;
		for (patient, count) in GrantCount::<T>::iter() {
			counted += 1;
			let actual = grants_of.get(&patient).copied().unwrap_or(0);
			ensure_invariant!(
				count == actual && count > 0,
				"consent: a patient's grant count is its number of grants",
				"{patient:?}: count {count}, grants {actual}"
			);
		}
		ensure_invariant!(
			counted == grants_of.len(),
			"consent: every patient with grants has a grant count",
			"{counted} counts for {} patients with grants",
			grants_of.len()
		);

		// Policies.
		let next_policy = NextPolicyId::<T>::get();
		for (patient, policies) in Policies::<T>::iter() {
			ensure_invariant!(
				!policies.is_empty()
					&& policies.windows(2).all(|w| w[0].0 < w[1].0)
					&& policies.iter().all(|(id, _)| *id < next_policy),
				"consent: a patient's policies are non-empty, in id order, below the next policy id",
				"{patient:?}: {:?}, next id {next_policy}",
				policies.iter().map(|(id, _)| *id).collect::<Vec<_>>()
			);
		}

		// Requests and their indices.
		let (next_request, cursor) = (NextRequestId::<T>::get(), ExpiryCursor::<T>::get());
		ensure_invariant!(
			cursor <= next_request,
			"consent: the expiry cursor is not past the next request id",
			"cursor {cursor}, next id {next_request}"
		);
		let mut by: BTreeMap<(T::AccountId, T::AccountId), u32> = BTreeMap::new();
		let mut requests = 0usize;
		for (id, req) in Requests::<T>::iter() {
			requests += 1;
			ensure_invariant!(
				cursor <= id && id < next_request,
				"consent: requests are between the expiry cursor and the next request id",
				"request {id}, cursor {cursor}, next id {next_request}"
			);
			ensure_invariant!(
				req.requester != req.patient,
				"consent: nobody requests their own records",
				"request {id} of {:?}",
				req.patient
			);
			ensure_invariant!(
				PendingOf::<T>::get(&req.patient).contains(&id),
				"consent: every request is in its patient's pending index",
				"request {id} to {:?}",
				req.patient
			);
			*by.entry((req.patient, req.requester)).or_default() += 1;
		}
		let mut pending = 0usize;
		for (patient, ids) in PendingOf::<T>::iter() {
			ensure_invariant!(
				!ids.is_empty() && ids.windows(2).all(|w| w[0] < w[1]),
				"consent: a pending index is non-empty, in id order, without duplicates",
				"{patient:?}: {:?}",
				ids.into_inner()
			);
			for id in ids.iter() {
				pending += 1;
				let owner = Requests::<T>::get(id).map(|r| r.patient);
				ensure_invariant!(
					owner.as_ref() == Some(&patient),
					"consent: every pending index entry is a request to that patient",
					"{patient:?}: request {id} is to {owner:?}"
				);
			}
		}
		ensure_invariant!(
			pending == requests,
			"consent: every pending index entry is a request, once",
			"{pending} entries for {requests} requests"
		);
		let mut pairs = 0usize;
		for (patient, requester, count) in PendingBy::<T>::iter() {
			pairs += 1;
			let actual = by.get(&(patient.clone(), requester.clone())).copied().unwrap_or(0);
			ensure_invariant!(
				count == actual && count > 0,
				"consent: the per-requester pending count is its number of requests",
				"{requester:?} to {patient:?}: count {count}, requests {actual}"
			);
		}
		ensure_invariant!(
			pairs == by.len(),
			"consent: every requester with requests has a pending count",
			"{pairs} counts for {} (patient, requester) pairs",
			by.len()
		);

		// Audit trails.
		let ring = T::MaxAuditEntriesPerPatient::get() as u64;
		let (mut trails, mut expected) = (0usize, 0u64);
		for (patient, length) in AuditLength::<T>::iter() {
			trails += 1;
			ensure_invariant!(
				length > 0 && AuditHead::<T>::contains_key(&patient),
				"consent: a patient with audit entries has an audit head",
				"{patient:?}: length {length}"
			);
			let mut entries: Vec<_> = AuditLog::<T>::iter_prefix(&patient).collect();
			let kept = length.min(ring);
			expected += kept;
			ensure_invariant!(
				entries.len() as u64 == kept,
				"consent: the audit ring holds the last entries of the trail",
				"{patient:?}: {} entries for length {length}",
				entries.len()
			);
			for (slot, record) in &entries {
				ensure_invariant!(
					record.seq < length
						&& record.seq.saturating_add(ring) >= length
						&& record.seq % ring == *slot as u64,
					"consent: an audit entry is one of the last of the trail, in its slot",
					"{patient:?}: seq {} in slot {slot}, length {length}",
					record.seq
				);
			}
			if length <= ring {
				entries.sort_by_key(|(_, record)| record.seq);
				let head = audit_chain_head(entries.iter().map(|(_, record)| record));
				ensure_invariant!(
					head == Some(AuditHead::<T>::get(&patient)),
					"consent: a trail still wholly in the ring folds to its audit head",
					"{patient:?}: length {length}"
				);
			}
		}
		let heads = AuditHead::<T>::iter_keys().count();
		ensure_invariant!(
			heads == trails,
			"consent: only patients with audit entries have an audit head",
			"{heads} heads for {trails} trails"
		);
		let stored = AuditLog::<T>::iter_keys().count() as u64;
		ensure_invariant!(
			stored == expected,
			"consent: audit entries belong to patients with a trail",
			"{stored} entries stored, {expected} in the trails' rings"
		);
		Ok(())
	}
}

impl<T: Config> AccessControl<T::AccountId> for Pallet<T> {
	fn is_access_allowed(
		patient: &T::AccountId,
		user: &T::AccountId,
		target: &AccessTarget,
		action: Action,
		now: Moment,
	) -> bool {
		Pallet::<T>::is_access_allowed(patient, user, target, action, now)
	}
}

/// One step of the audit commitment: `blake2_256(head ++ SCALE(record))`.
pub fn audit_chain_step<AccountId: Encode, BlockNumber: Encode>(
	head: &[u8; 32],
	record: &AuditRecord<AccountId, BlockNumber>,
) -> [u8; 32] {
	let mut bytes = head.to_vec();
	record.encode_to(&mut bytes);
	<sp_runtime::traits::BlakeTwo256 as sp_runtime::traits::Hash>::hash(&bytes).0
}

/// The commitment to a whole trail, folded from its first entry: what a client compares with
/// [`ConsentApi::audit_head`] to check an archive copy (every entry, in order, from seq 0).
/// Returns `None` if the entries are not numbered 0, 1, 2, ... without gaps.
pub fn audit_chain_head<'a, AccountId: Encode + 'a, BlockNumber: Encode + 'a>(
	entries: impl IntoIterator<Item = &'a AuditRecord<AccountId, BlockNumber>>,
) -> Option<[u8; 32]> {
	let mut head = [0u8; 32];
	for (i, record) in entries.into_iter().enumerate() {
		if record.seq != i as u64 {
			return None;
		}
		head = audit_chain_step(&head, record);
	}
	Some(head)
}

/// [`Config::AcceptsConsents`] for the recommended deployment: true on the consortium chain.
pub struct OnConsortium<C>(PhantomData<C>);
impl<C: ChainIdentity> Get<bool> for OnConsortium<C> {
	fn get() -> bool {
		C::chain_kind() == ChainKind::Consortium
	}
}

/// [`Config::ProxyOrigin`] for "a signed call by an active health-authority institution": the
/// paper's proxies are the health authorities.
pub struct EnsureHealthAuthority<T>(PhantomData<T>);
impl<T: Config> EnsureOrigin<T::RuntimeOrigin> for EnsureHealthAuthority<T> {
	type Success = T::AccountId;

	fn try_origin(o: T::RuntimeOrigin) -> Result<T::AccountId, T::RuntimeOrigin> {
		o.into().and_then(|o| match o {
			RawOrigin::Signed(who)
				if T::Participants::is_active(&who)
					&& T::Participants::role_of(&who)
						== Some(Role::Institution(InstitutionKind::HealthAuthority)) =>
			{
				Ok(who)
			}
			o => Err(T::RuntimeOrigin::from(o)),
		})
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn try_successful_origin() -> Result<T::RuntimeOrigin, ()> {
		use mbds_primitives::RegistryBenchmarkHelper;
		let who: T::AccountId = frame_benchmarking::account("health-authority", 0, 0);
		T::BenchmarkHelper::register_active(
			&who,
			Role::Institution(InstitutionKind::HealthAuthority),
		);
		Ok(RawOrigin::Signed(who).into())
	}
}

sp_api::decl_runtime_apis! {
	/// The consent chain's answers for proxies, clients and other chains. Call it at a
	/// finalised block of the consortium chain.
	pub trait ConsentApi<AccountId, BlockNumber>
	where
		AccountId: Codec,
		BlockNumber: Codec,
	{
		/// May `user` perform `action` on `target` of `patient`'s records at `now` (Unix ms)?
		fn is_access_allowed(
			patient: AccountId,
			user: AccountId,
			target: AccessTarget,
			action: Action,
			now: Moment,
		) -> bool;

		/// The patient's audit trail from `seq` `from`, at most `limit` entries (at most 256),
		/// in order, with the trail's total length.
		fn audit_trail(
			patient: AccountId,
			from: u64,
			limit: u32,
		) -> (u64, Vec<AuditRecord<AccountId, BlockNumber>>);

		/// The trail's length and the commitment to all of it (see [`audit_chain_head`]): an
		/// archive copy of entries that left the ring is checked against it.
		fn audit_head(patient: AccountId) -> (u64, [u8; 32]);

		/// The patient's stored grants (for the patient's client and FHIR export).
		fn grants_of(patient: AccountId) -> Vec<(GrantId, Grant<AccountId>)>;

		/// The patient's unanswered access requests.
		fn pending_requests(patient: AccountId) -> Vec<(RequestId, AccessRequest<AccountId>)>;
	}
}
