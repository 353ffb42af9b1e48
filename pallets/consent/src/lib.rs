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
//! serve or refuse with [`Pallet::record_access`]. Every request, decision, grant, revocation,
//! policy change, visit and access lands in the patient's **audit trail**, in order, readable
//! page by page through the runtime API. An identity making more requests or accesses than the
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
//! - Suspended identities are denied everything, whatever their grants say.
//!
//! ## What this pallet does not do
//!
//! It does not serve, decrypt or re-encrypt data (proxies do), does not know the records (the
//! proxy describes the target), and does not reinstate identities (the KMC does). The audit
//! trail kept in storage is a ring of the last [`Config::MaxAuditEntriesPerPatient`] entries per
//! patient; every entry is also an event in its block, and sequence numbers reveal any gap, so
//! an archive node holds the complete history.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

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
		Grantee, PolicyId, Purpose, RequestId,
	},
	ChainIdentity, ChainKind, InstitutionKind, Moment, ParticipantRegistry, Role,
	SuspendParticipant,
};
use sp_runtime::{traits::Saturating, ArithmeticError, SaturatedConversion};

/// Most audit entries one [`ConsentApi::audit_trail`] call returns.
pub const MAX_AUDIT_PAGE: u32 = 256;

/// A page of a patient's audit trail: the trail's total length and the entries.
pub type AuditPage<T> =
	(u64, Vec<AuditRecord<<T as frame_system::Config>::AccountId, BlockNumberFor<T>>>);

#[frame_support::pallet]
pub mod pallet {
	use super::*;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// The identity registry (KMC): tells patients, doctors and institutions apart, and
		/// suspends identities that exceed the rate limits. If it answers wrongly, grants reach
		/// the wrong people; it must be the same registry the other pallets use.
		type Participants: ParticipantRegistry<Self::AccountId>
			+ SuspendParticipant<Self::AccountId>;

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

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;

		/// Registers participants in the identity registry for benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: mbds_primitives::RegistryBenchmarkHelper<Self::AccountId>;
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
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Grant `grantee` the `actions` on `scope` of the caller's records from `valid_from`
		/// until (excluding) `valid_until`, Unix ms. The caller is the patient: nobody grants
		/// on someone else's data.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::grant())]
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
		) -> DispatchResult {
			let patient = ensure_signed(origin)?;
			Self::ensure_consent_chain()?;
			ensure!(T::Participants::is_active_patient(&patient), Error::<T>::NotActivePatient);
			let now = Self::now();
			Self::ensure_terms(&actions, &scope, valid_from, valid_until, now)?;
			Self::ensure_grantee(&patient, &grantee)?;
			let plan = Self::plan_grant(&patient, &grantee, now)?;

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
			Ok(())
		}

		/// Revoke one of the caller's grants. It stops allowing anything from this block on.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::revoke())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _grant: &GrantId| -> bool {
			T::Participants::is_active_signer(origin)
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
		/// revoked or expired.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::remove_policy())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _policy: &PolicyId| -> bool {
			T::Participants::is_active_signer(origin)
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

		/// Record that `patient` visited the caller's institution now. Called by a hospital or
		/// internet platform, or one of its active doctors; opens the patient's after-visit
		/// policies for that institution.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::record_visit())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _patient: &T::AccountId| -> bool {
			T::Participants::is_active_signer(origin)
		})]
		pub fn record_visit(origin: OriginFor<T>, patient: T::AccountId) -> DispatchResult {
			let caller = ensure_signed(origin)?;
			Self::ensure_consent_chain()?;
			ensure!(T::Participants::is_active(&caller), Error::<T>::NotActiveParticipant);
			let institution = Self::care_provider_of(&caller).ok_or(Error::<T>::NotCareProvider)?;
			ensure!(
				matches!(T::Participants::role_of(&patient), Some(Role::Patient)),
				Error::<T>::NotAPatient
			);
			let now = Self::now();

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
			.and_then(|(policy, from, until)| {
				Self::plan_grant(&patient, &grantee, now)
					.ok()
					.map(|plan| (policy, from, until, plan))
			});
			let pending = if auto.is_none() {
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

			if let Some((policy, from, until, plan)) = auto {
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

			Self::take_request(request, &patient);
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

		/// Deny a request addressed to the caller.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::deny_request())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _request: &RequestId| -> bool {
			T::Participants::is_active_signer(origin)
		})]
		pub fn deny_request(origin: OriginFor<T>, request: RequestId) -> DispatchResult {
			let patient = ensure_signed(origin)?;
			let req = Requests::<T>::get(request).ok_or(Error::<T>::RequestNotFound)?;
			ensure!(req.patient == patient, Error::<T>::NotRequestPatient);

			Self::take_request(request, &patient);
			Self::audit(&patient, &patient, AuditEvent::RequestDenied { request });
			Self::deposit_event(Event::RequestDenied { request });
			Ok(())
		}

		/// Record, as a proxy, that `user` accessed (or tried to access) `target` of
		/// `patient`'s records with `action`. The chain decides and records whether the access
		/// was allowed at this block's time; the access counts against `user`'s access rate,
		/// and one access over the limit suspends `user` (and is denied).
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::record_access(2 * T::MaxGrantsPerGrantee::get()))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _patient: &T::AccountId, _user: &T::AccountId,
			_target: &AccessTarget, _action: &Action| -> bool { T::Participants::is_active_signer(origin) })]
		pub fn record_access(
			origin: OriginFor<T>,
			patient: T::AccountId,
			user: T::AccountId,
			target: AccessTarget,
			action: Action,
		) -> DispatchResultWithPostInfo {
			let proxy = T::ProxyOrigin::ensure_origin(origin)?;
			Self::ensure_consent_chain()?;
			ensure!(target.is_valid(), Error::<T>::InvalidTarget);
			ensure!(
				matches!(T::Participants::role_of(&patient), Some(Role::Patient)),
				Error::<T>::NotAPatient
			);
			let now = Self::now();

			let within_rate = Self::note_activity(&user, ActivityKind::Access, &patient, now);
			let (allowed, examined) = if within_rate {
				Self::check_access(&patient, &user, &target, action, now)
			} else {
				(false, 0)
			};
			Self::audit(
				&patient,
				&proxy,
				AuditEvent::Access { user: user.clone(), target, action, allowed },
			);
			Self::deposit_event(Event::AccessRecorded { patient, user, proxy, allowed });
			Ok(Some(T::WeightInfo::record_access(examined.max(1))).into())
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

	/// Current wall-clock time in Unix ms.
	fn now() -> Moment {
		T::Time::now().as_millis().saturated_into()
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

	/// The first standing policy that grants this request, with the period it grants.
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
	) -> Option<(PolicyId, Moment, Moment)> {
		policies.iter().find_map(|(id, policy)| {
			if !actions.is_subset_of(&policy.actions) || !policy.scope.contains(scope) {
				return None;
			}
			let limit = match &policy.rule {
				PolicyRule::AfterVisit { institution, window } => {
					if !T::Participants::is_active_doctor_of(requester, institution) {
						return None;
					}
					LastVisit::<T>::get(patient, institution)?.saturating_add(*window)
				}
				PolicyRule::Emergency { duration } => {
					let is_doctor =
						matches!(T::Participants::role_of(requester), Some(Role::Doctor { .. }));
					if purpose != Purpose::EmergencyTreatment || !is_doctor {
						return None;
					}
					now.saturating_add(*duration)
				}
			};
			let from = valid_from.max(now);
			let until = valid_until.min(limit);
			(from < until).then_some((*id, from, until))
		})
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
		let GrantPlan { id, patient, grantee, list, expired, count } = plan;
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

	/// Deletes an unanswered request and its index entry.
	fn take_request(id: RequestId, patient: &T::AccountId) {
		Requests::<T>::remove(id);
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
					Self::take_request(cursor, &req.patient);
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

		/// The patient's stored grants (for the patient's client and FHIR export).
		fn grants_of(patient: AccountId) -> Vec<(GrantId, Grant<AccountId>)>;

		/// The patient's unanswered access requests.
		fn pending_requests(patient: AccountId) -> Vec<(RequestId, AccessRequest<AccountId>)>;
	}
}
