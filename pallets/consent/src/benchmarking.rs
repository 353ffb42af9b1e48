//! Benchmarks of every call and of the lapse of requests in `on_initialize`, each in its worst
//! case under the runtime's bounds.
//!
//! Participants are registered through [`Config::BenchmarkHelper`] (the identity registry's
//! benchmark hook); those who sign statements (the patient of a visit, the user of an access)
//! are made by [`Config::SignerHelper`], so the benchmarks verify real signatures. The calls
//! check [`Config::AcceptsConsents`]: run the benchmarks on a chain preset where it holds (the
//! consortium preset).

use super::*;
use crate::Pallet as Consent;
use alloc::{vec, vec::Vec};
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;
use mbds_primitives::{
	consent::{RecordId, MAX_SCOPE_RECORDS},
	statements::{SignerBenchmarkHelper, VisitStatement},
	RegistryBenchmarkHelper,
};
use sp_core::H256;

fn register<T: Config>(who: &T::AccountId, role: Role<T::AccountId>) {
	T::BenchmarkHelper::register_active(who, role);
}

fn patient<T: Config>(i: u32) -> T::AccountId {
	let who: T::AccountId = account("patient", i, 0);
	register::<T>(&who, Role::Patient);
	who
}

fn hospital<T: Config>(i: u32) -> T::AccountId {
	let who: T::AccountId = account("hospital", i, 0);
	register::<T>(&who, Role::Institution(InstitutionKind::Hospital));
	who
}

fn doctor<T: Config>(i: u32, institution: &T::AccountId) -> T::AccountId {
	let who: T::AccountId = account("doctor", i, 0);
	register::<T>(&who, Role::Doctor { institution: institution.clone() });
	who
}

/// An account that can sign statements, registered active with `role`.
fn signer<T: Config>(seed: u32, role: Role<T::AccountId>) -> T::AccountId {
	let who = T::SignerHelper::signer(seed);
	register::<T>(&who, role);
	who
}

fn now<T: Config>() -> Moment {
	T::Time::now().as_millis().saturated_into()
}

/// The largest scope: the most listed records (scope checks are linear in it).
fn big_scope(seed: u8) -> GrantScope {
	let records = (0..MAX_SCOPE_RECORDS)
		.map(|i| RecordId::Hash(H256::repeat_byte(seed.wrapping_add(i as u8))))
		.collect::<Vec<_>>();
	GrantScope::Records(BoundedVec::truncate_from(records))
}

/// Stores a grant directly (no checks), already expired if `valid_until <= now`.
fn stored_grant<T: Config>(
	patient: &T::AccountId,
	grantee: &Grantee<T::AccountId>,
	actions: ActionSet,
	valid_until: Moment,
) -> GrantId {
	let id = NextGrantId::<T>::get();
	NextGrantId::<T>::put(id + 1);
	Grants::<T>::insert(
		id,
		Grant {
			patient: patient.clone(),
			grantee: grantee.clone(),
			actions,
			scope: big_scope(0x80),
			valid_from: 0,
			valid_until,
			purpose: None,
			created_at: 0,
			source: GrantSource::Direct,
		},
	);
	GrantsOf::<T>::mutate(patient, grantee, |l| l.try_push(id).expect("within the bench's bound"));
	GrantCount::<T>::mutate(patient, |c| *c += 1);
	id
}

/// Fills the grantee's list with grants that have all expired, for the pruning worst case.
fn fill_with_expired<T: Config>(patient: &T::AccountId, grantee: &Grantee<T::AccountId>) {
	fill_with_expired_n::<T>(patient, grantee, T::MaxGrantsPerGrantee::get())
}

/// `n` expired grants of `patient` to `grantee`.
fn fill_with_expired_n<T: Config>(patient: &T::AccountId, grantee: &Grantee<T::AccountId>, n: u32) {
	for _ in 0..n {
		stored_grant::<T>(patient, grantee, ActionSet::read_only(), now::<T>());
	}
}

/// Fills the patient's pending list but for one slot, with ids of no stored request.
fn fill_pending<T: Config>(patient: &T::AccountId) {
	let fake = (0..T::MaxPendingRequestsPerPatient::get().saturating_sub(1))
		.map(|i| u64::MAX - i as u64)
		.collect::<Vec<_>>();
	PendingOf::<T>::insert(patient, BoundedVec::truncate_from(fake));
}

fn assert_last_event<T: Config>(event: Event<T>) {
	frame_system::Pallet::<T>::assert_last_event(event.into());
}

#[benchmarks]
mod benchmarks {
	use super::*;

	// `g` of the grantee's grants read, all expired (each deleted, with an audit entry).
	#[benchmark]
	fn grant(g: Linear<0, { T::MaxGrantsPerGrantee::get() }>) {
		let patient = patient::<T>(0);
		let h = hospital::<T>(0);
		let grantee = Grantee::MembersOf(h);
		fill_with_expired_n::<T>(&patient, &grantee, g);
		let start = now::<T>();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(patient.clone()),
			grantee.clone(),
			ActionSet::of(&[Action::Read, Action::Copy]),
			big_scope(1),
			start,
			start + 86_400_000,
			Some(Purpose::Treatment),
		);

		assert_eq!(GrantsOf::<T>::get(&patient, &grantee).len(), 1);
	}

	#[benchmark]
	fn revoke() {
		let patient = patient::<T>(0);
		let h = hospital::<T>(0);
		let d = doctor::<T>(0, &h);
		let grantee = Grantee::Account(d);
		let far = now::<T>() + 86_400_000;
		for _ in 1..T::MaxGrantsPerGrantee::get() {
			stored_grant::<T>(&patient, &grantee, ActionSet::read_only(), far);
		}
		let id = stored_grant::<T>(&patient, &grantee, ActionSet::read_only(), far);

		#[extrinsic_call]
		_(RawOrigin::Signed(patient.clone()), id);

		assert_last_event::<T>(Event::GrantRevoked { grant: id, patient });
	}

	#[benchmark]
	fn set_policy() {
		let patient = patient::<T>(0);
		let h = hospital::<T>(0);
		let policy = Policy {
			rule: PolicyRule::AfterVisit { institution: h, window: 86_400_000 },
			actions: ActionSet::read_only(),
			scope: big_scope(1),
		};
		for _ in 1..T::MaxPoliciesPerPatient::get() {
			Consent::<T>::set_policy(RawOrigin::Signed(patient.clone()).into(), policy.clone())
				.expect("within bounds");
		}

		#[extrinsic_call]
		_(RawOrigin::Signed(patient.clone()), policy);

		assert_eq!(Policies::<T>::get(&patient).len() as u32, T::MaxPoliciesPerPatient::get());
	}

	#[benchmark]
	fn remove_policy() {
		let patient = patient::<T>(0);
		let policy = Policy {
			rule: PolicyRule::Emergency { duration: 3_600_000 },
			actions: ActionSet::read_only(),
			scope: big_scope(1),
		};
		for _ in 0..T::MaxPoliciesPerPatient::get() {
			Consent::<T>::set_policy(RawOrigin::Signed(patient.clone()).into(), policy.clone())
				.expect("within bounds");
		}
		let last = NextPolicyId::<T>::get() - 1;

		#[extrinsic_call]
		_(RawOrigin::Signed(patient.clone()), last);

		assert_last_event::<T>(Event::PolicyRemoved { policy: last, patient });
	}

	/// A doctor records a visit with the patient's signed proof, replacing an earlier visit.
	#[benchmark]
	fn record_visit() {
		let patient = signer::<T>(0, Role::Patient);
		let h = hospital::<T>(0);
		let d = doctor::<T>(0, &h);
		// Not 0: the proof must be later than the earlier visit (the runtime's clock may read
		// 0 in benchmarks).
		let issued_at = now::<T>().max(1);
		LastVisit::<T>::insert(&patient, &h, issued_at - 1);
		let statement =
			VisitStatement { patient: patient.clone(), institution: h.clone(), issued_at };
		let signature = T::SignerHelper::sign(&patient, &statement.signing_payload());
		let visit = VisitProof { institution: h.clone(), issued_at, signature };

		#[extrinsic_call]
		_(RawOrigin::Signed(d), patient.clone(), visit);

		assert_eq!(LastVisit::<T>::get(&patient, &h), Some(issued_at));
	}

	/// `p` policies examined: `p - 1` after-visit policies of the requester's hospital with no
	/// visit recorded, then an emergency policy that grants on the hospital's attestation
	/// (used up, flagged and announced), pruning a full list of expired grants.
	#[benchmark]
	fn request_access(p: Linear<1, { T::MaxPoliciesPerPatient::get() }>) {
		let patient = patient::<T>(0);
		let h = hospital::<T>(0);
		let d = doctor::<T>(0, &h);
		let scope = big_scope(1);
		for _ in 1..p {
			let policy = Policy {
				rule: PolicyRule::AfterVisit { institution: h.clone(), window: 86_400_000 },
				actions: ActionSet::read_only(),
				scope: scope.clone(),
			};
			Consent::<T>::set_policy(RawOrigin::Signed(patient.clone()).into(), policy)
				.expect("within bounds");
		}
		let emergency = Policy {
			rule: PolicyRule::Emergency { duration: 3_600_000 },
			actions: ActionSet::read_only(),
			scope: scope.clone(),
		};
		Consent::<T>::set_policy(RawOrigin::Signed(patient.clone()).into(), emergency)
			.expect("within bounds");
		fill_with_expired::<T>(&patient, &Grantee::Account(d.clone()));
		Consent::<T>::attest_emergency(
			RawOrigin::Signed(h.clone()).into(),
			patient.clone(),
			d.clone(),
		)
		.expect("the doctor's own hospital attests");
		let start = now::<T>();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(d.clone()),
			patient.clone(),
			ActionSet::read_only(),
			scope,
			start,
			start + 86_400_000,
			Purpose::EmergencyTreatment,
		);

		assert_eq!(GrantsOf::<T>::get(&patient, Grantee::Account(d.clone())).len(), 1);
		assert!(!EmergencyAttestations::<T>::contains_key(&d));
	}

	#[benchmark]
	fn approve_request() {
		let patient = patient::<T>(0);
		let h = hospital::<T>(0);
		let d = doctor::<T>(0, &h);
		let start = now::<T>();
		fill_pending::<T>(&patient);
		Consent::<T>::request_access(
			RawOrigin::Signed(d.clone()).into(),
			patient.clone(),
			ActionSet::read_only(),
			big_scope(1),
			start,
			start + 86_400_000,
			Purpose::Treatment,
		)
		.expect("valid request");
		let request = NextRequestId::<T>::get() - 1;
		fill_with_expired::<T>(&patient, &Grantee::Account(d.clone()));

		#[extrinsic_call]
		_(RawOrigin::Signed(patient.clone()), request);

		assert!(!Requests::<T>::contains_key(request));
		assert_eq!(GrantsOf::<T>::get(&patient, Grantee::Account(d)).len(), 1);
	}

	#[benchmark]
	fn deny_request() {
		let patient = patient::<T>(0);
		let h = hospital::<T>(0);
		let d = doctor::<T>(0, &h);
		let start = now::<T>();
		fill_pending::<T>(&patient);
		Consent::<T>::request_access(
			RawOrigin::Signed(d).into(),
			patient.clone(),
			ActionSet::read_only(),
			big_scope(1),
			start,
			start + 86_400_000,
			Purpose::Treatment,
		)
		.expect("valid request");
		let request = NextRequestId::<T>::get() - 1;

		#[extrinsic_call]
		_(RawOrigin::Signed(patient), request);

		assert_last_event::<T>(Event::RequestDenied { request });
	}

	/// `g` grants examined, none of which allows (the denial worst case): up to
	/// `MaxGrantsPerGrantee` for the doctor, the rest for the doctor's hospital's members. The
	/// doctor signed the access statement; an earlier statement of theirs to this proxy is
	/// recorded.
	#[benchmark]
	fn record_access(
		g: Linear<1, { 2 * T::MaxGrantsPerGrantee::get() }>,
	) -> Result<(), BenchmarkError> {
		let origin =
			T::ProxyOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let proxy = T::ProxyOrigin::ensure_origin(origin.clone())
			.map_err(|_| BenchmarkError::Weightless)?;
		let patient = patient::<T>(0);
		let h = hospital::<T>(0);
		let d = signer::<T>(0, Role::Doctor { institution: h.clone() });
		let far = now::<T>() + 86_400_000;
		let own = g.min(T::MaxGrantsPerGrantee::get());
		for _ in 0..own {
			stored_grant::<T>(&patient, &Grantee::Account(d.clone()), ActionSet::read_only(), far);
		}
		for _ in own..g {
			stored_grant::<T>(
				&patient,
				&Grantee::MembersOf(h.clone()),
				ActionSet::read_only(),
				far,
			);
		}
		let target = AccessTarget::Record {
			id: RecordId::Hash(H256::repeat_byte(0x01)),
			categories: BoundedVec::new(),
		};
		// Not 0: the statement must be later than the recorded one (the runtime's clock may
		// read 0 in benchmarks).
		let issued_at = now::<T>().max(1);
		AccessNonce::<T>::insert(&d, &proxy, issued_at - 1);
		let statement = AccessStatement {
			proxy,
			patient: patient.clone(),
			target,
			action: Action::Copy,
			issued_at,
		};
		let signature = T::SignerHelper::sign(&d, &statement.signing_payload());

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, d.clone(), statement, signature);

		let (_, trail) = Consent::<T>::audit_trail(&patient, 0, 1);
		assert!(
			matches!(&trail[0].event, AuditEvent::Access { allowed: false, user, .. } if *user == d)
		);
		Ok(())
	}

	/// A proxy records a user's signed search (an earlier statement of the user recorded).
	#[benchmark]
	fn record_search() -> Result<(), BenchmarkError> {
		let origin =
			T::ProxyOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let proxy = T::ProxyOrigin::ensure_origin(origin.clone())
			.map_err(|_| BenchmarkError::Weightless)?;
		let patient = patient::<T>(0);
		let h = hospital::<T>(0);
		let d = signer::<T>(0, Role::Doctor { institution: h.clone() });
		let issued_at = now::<T>().max(1);
		AccessNonce::<T>::insert(&d, &proxy, issued_at - 1);
		let statement =
			SearchStatement { proxy, patient: patient.clone(), trapdoor: [7; 32], issued_at };
		let signature = T::SignerHelper::sign(&d, &statement.signing_payload());

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, d.clone(), statement, signature, 3);

		let (_, trail) = Consent::<T>::audit_trail(&patient, 0, 1);
		assert!(matches!(&trail[0].event, AuditEvent::Search { results: 3, user } if *user == d));
		Ok(())
	}

	/// A health authority attests an emergency, replacing its own earlier attestation for the
	/// doctor (still in force: the check that only its attester may replace it is exercised).
	#[benchmark]
	fn attest_emergency() {
		let earlier_patient = patient::<T>(1);
		let patient = patient::<T>(0);
		let h = hospital::<T>(0);
		let d = doctor::<T>(0, &h);
		let authority: T::AccountId = account("health-authority", 1, 0);
		register::<T>(&authority, Role::Institution(InstitutionKind::HealthAuthority));
		Consent::<T>::attest_emergency(
			RawOrigin::Signed(authority.clone()).into(),
			earlier_patient,
			d.clone(),
		)
		.expect("a health authority attests");

		#[extrinsic_call]
		_(RawOrigin::Signed(authority.clone()), patient.clone(), d.clone());

		let attestation = EmergencyAttestations::<T>::get(&d).expect("stored");
		assert_eq!((attestation.patient, attestation.attester), (patient, authority));
	}

	/// `n` lapsed requests removed in one block.
	#[benchmark]
	fn expire_requests(n: Linear<0, { T::MaxExpiriesPerBlock::get() }>) {
		let requester: T::AccountId = account("requester", 0, 0);
		for i in 0..n {
			let patient: T::AccountId = account("patient", i, 0);
			let id = i as RequestId;
			Requests::<T>::insert(
				id,
				AccessRequest {
					patient: patient.clone(),
					requester: requester.clone(),
					actions: ActionSet::read_only(),
					scope: big_scope(1),
					valid_from: 0,
					valid_until: 1,
					purpose: Purpose::Treatment,
					created_at: 0,
					expires_at: 0,
				},
			);
			PendingOf::<T>::insert(&patient, BoundedVec::truncate_from(vec![id]));
		}
		NextRequestId::<T>::put(n as RequestId);

		#[block]
		{
			Consent::<T>::expire_requests();
		}

		assert_eq!(ExpiryCursor::<T>::get(), n as RequestId);
	}

	impl_benchmark_test_suite!(Consent, crate::mock::new_test_ext(), crate::mock::Test);
}
