//! Stories of patients, doctors, insurers and proxies. Every failing call is checked with
//! `assert_noop!`, which also compares the storage root before and after: a failed call
//! changes nothing.

use crate::{mock::*, *};
use frame_support::{assert_noop, assert_ok, BoundedVec};
use mbds_primitives::consent::{
	category, CategoryList, RecordId, SENSITIVE_MENTAL_HEALTH, SYSTEM_ICD10_CHAPTER,
	SYSTEM_LOINC_CLASS,
};
use sp_core::H256;
use sp_runtime::DispatchError;

const READ: Action = Action::Read;
const WRITE: Action = Action::Write;
const COPY: Action = Action::Copy;
/// ICD-10 chapter IX, diseases of the circulatory system.
const CIRCULATORY: CategoryId = category(SYSTEM_ICD10_CHAPTER, 9);
/// A LOINC class agreed by the clients as "laboratory".
const LAB: CategoryId = category(SYSTEM_LOINC_CLASS, 1);

use mbds_primitives::consent::CategoryId;

fn signed(who: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}
fn now() -> Moment {
	MockTime::now()
}
fn rec(n: u8) -> RecordId {
	RecordId::Hash(H256::repeat_byte(n))
}
fn cats(list: &[CategoryId]) -> CategoryList {
	BoundedVec::truncate_from(list.to_vec())
}
fn record(n: u8, categories: &[CategoryId]) -> AccessTarget {
	AccessTarget::Record { id: rec(n), categories: cats(categories) }
}
fn allowed(user: AccountId, target: &AccessTarget, action: Action) -> bool {
	Consent::is_access_allowed(&PATIENT, &user, target, action, now())
}
fn read_only() -> ActionSet {
	ActionSet::read_only()
}
fn grant(
	grantee: Grantee<AccountId>,
	actions: ActionSet,
	scope: GrantScope,
	from: Moment,
	until: Moment,
) -> GrantId {
	assert_ok!(Consent::grant(
		signed(PATIENT),
		grantee,
		actions,
		scope,
		from,
		until,
		Some(Purpose::Treatment)
	));
	NextGrantId::<Test>::get() - 1
}
/// Read-all grant for `who` for a day from now.
fn grant_read_all(who: AccountId) -> GrantId {
	grant(Grantee::Account(who), read_only(), GrantScope::AllRecords, now(), now() + DAY)
}
fn request(who: AccountId, actions: ActionSet, scope: GrantScope, purpose: Purpose) -> RequestId {
	assert_ok!(Consent::request_access(
		signed(who),
		PATIENT,
		actions,
		scope,
		now(),
		now() + DAY,
		purpose
	));
	NextRequestId::<Test>::get() - 1
}
fn audit_events(patient: AccountId) -> Vec<AuditEvent<AccountId>> {
	Consent::audit_trail(&patient, 0, MAX_AUDIT_PAGE).1.into_iter().map(|r| r.event).collect()
}
fn record_access(user: AccountId, target: AccessTarget, action: Action) {
	assert_ok!(Consent::record_access(signed(AUTHORITY), PATIENT, user, target, action));
}
fn last_access_allowed() -> bool {
	match audit_events(PATIENT).last() {
		Some(AuditEvent::Access { allowed, .. }) => *allowed,
		other => panic!("last audit step is not an access: {other:?}"),
	}
}

#[test]
fn patient_grants_a_doctor_who_then_reads() {
	new_test_ext().execute_with(|| {
		let id = grant_read_all(DOCTOR_B);
		System::assert_last_event(
			Event::GrantCreated {
				grant: id,
				patient: PATIENT,
				grantee: Grantee::Account(DOCTOR_B),
			}
			.into(),
		);
		assert!(allowed(DOCTOR_B, &record(1, &[]), READ));
		assert!(allowed(DOCTOR_B, &AccessTarget::AllRecords, READ));
		// Nobody else is covered, and the grant does not cover the other patient.
		assert!(!allowed(DOCTOR_A, &record(1, &[]), READ));
		assert!(!Consent::is_access_allowed(
			&OTHER_PATIENT,
			&DOCTOR_B,
			&record(1, &[]),
			READ,
			now()
		));
		// The trait other pallets use gives the same answer.
		assert!(<Consent as AccessControl<AccountId>>::is_access_allowed(
			&PATIENT,
			&DOCTOR_B,
			&record(1, &[]),
			READ,
			now()
		));
	});
}

#[test]
fn access_before_the_start_or_after_the_end_is_denied() {
	new_test_ext().execute_with(|| {
		let start = now() + 3_600_000;
		let end = start + 3_600_000;
		grant(Grantee::Account(DOCTOR_B), read_only(), GrantScope::AllRecords, start, end);
		let target = record(1, &[]);
		assert!(!allowed(DOCTOR_B, &target, READ), "not yet");
		assert!(Consent::is_access_allowed(&PATIENT, &DOCTOR_B, &target, READ, start));
		assert!(Consent::is_access_allowed(&PATIENT, &DOCTOR_B, &target, READ, end - 1));
		assert!(
			!Consent::is_access_allowed(&PATIENT, &DOCTOR_B, &target, READ, end),
			"end is exclusive"
		);

		// The proxy's record agrees with the clock of the block it lands in.
		MockTime::set(start + 10);
		record_access(DOCTOR_B, target.clone(), READ);
		assert!(last_access_allowed());
		MockTime::set(end + 10);
		record_access(DOCTOR_B, target, READ);
		assert!(!last_access_allowed());
	});
}

#[test]
fn revoked_grant_is_denied_from_the_next_block() {
	new_test_ext().execute_with(|| {
		let id = grant_read_all(DOCTOR_B);
		let target = record(7, &[]);
		record_access(DOCTOR_B, target.clone(), READ);
		assert!(last_access_allowed());

		assert_ok!(Consent::revoke(signed(PATIENT), id));
		System::assert_last_event(Event::GrantRevoked { grant: id, patient: PATIENT }.into());
		// Calls after the revocation in the same block already see no grant...
		assert!(!allowed(DOCTOR_B, &target, READ));
		run_to_block(2);
		// ...and nothing in the next block can be served under it.
		record_access(DOCTOR_B, target.clone(), READ);
		assert!(!last_access_allowed());
		assert!(Grants::<Test>::get(id).is_none());
		assert_eq!(GrantCount::<Test>::get(PATIENT), 0);
		assert!(Consent::grants_of(&PATIENT).is_empty());
	});
}

#[test]
fn copy_under_a_read_only_grant_is_denied() {
	new_test_ext().execute_with(|| {
		grant_read_all(DOCTOR_B);
		let target = record(1, &[]);
		assert!(allowed(DOCTOR_B, &target, READ));
		assert!(!allowed(DOCTOR_B, &target, COPY));
		assert!(!allowed(DOCTOR_B, &target, WRITE));

		grant(
			Grantee::Account(DOCTOR_A),
			ActionSet::of(&[READ, COPY]),
			GrantScope::AllRecords,
			now(),
			now() + DAY,
		);
		assert!(allowed(DOCTOR_A, &target, COPY));
		assert!(!allowed(DOCTOR_A, &target, WRITE));
	});
}

#[test]
fn keyword_category_scope_is_respected() {
	new_test_ext().execute_with(|| {
		grant(
			Grantee::Account(INSURER),
			read_only(),
			GrantScope::Categories(cats(&[CIRCULATORY, LAB])),
			now(),
			now() + DAY,
		);
		assert!(allowed(INSURER, &record(1, &[CIRCULATORY]), READ));
		assert!(allowed(INSURER, &record(2, &[CIRCULATORY, LAB]), READ));
		// A record also tagged with an ungranted (sensitive) category stays closed.
		assert!(!allowed(INSURER, &record(3, &[LAB, SENSITIVE_MENTAL_HEALTH]), READ));
		assert!(!allowed(INSURER, &record(4, &[SENSITIVE_MENTAL_HEALTH]), READ));
		// Untagged records are reachable only by id or with all records.
		assert!(!allowed(INSURER, &record(5, &[]), READ));
		// A keyword search limited to granted categories is allowed, others are not.
		assert!(allowed(INSURER, &AccessTarget::Categories(cats(&[LAB])), READ));
		assert!(!allowed(
			INSURER,
			&AccessTarget::Categories(cats(&[SENSITIVE_MENTAL_HEALTH])),
			READ
		));
		assert!(!allowed(INSURER, &AccessTarget::AllRecords, READ));
	});
}

#[test]
fn listed_records_scope_covers_only_those_records() {
	new_test_ext().execute_with(|| {
		let slip = RecordId::Slip { chain: 7, slip: 42 };
		grant(
			Grantee::Account(DOCTOR_B),
			read_only(),
			GrantScope::Records(BoundedVec::truncate_from(vec![rec(1), slip])),
			now(),
			now() + DAY,
		);
		assert!(allowed(DOCTOR_B, &record(1, &[LAB]), READ));
		assert!(allowed(DOCTOR_B, &AccessTarget::Record { id: slip, categories: cats(&[]) }, READ));
		assert!(!allowed(DOCTOR_B, &record(2, &[]), READ));
		let same_slip_other_chain = RecordId::Slip { chain: 8, slip: 42 };
		assert!(!allowed(
			DOCTOR_B,
			&AccessTarget::Record { id: same_slip_other_chain, categories: cats(&[]) },
			READ
		));
		assert!(!allowed(DOCTOR_B, &AccessTarget::Categories(cats(&[LAB])), READ));
	});
}

#[test]
fn a_grant_to_an_institutions_members_covers_its_active_doctors_only() {
	new_test_ext().execute_with(|| {
		grant(
			Grantee::MembersOf(HOSPITAL_A),
			read_only(),
			GrantScope::AllRecords,
			now(),
			now() + DAY,
		);
		let target = record(1, &[]);
		assert!(allowed(DOCTOR_A, &target, READ));
		assert!(allowed(DOCTOR_A2, &target, READ));
		assert!(!allowed(DOCTOR_B, &target, READ));
		// The institution's own account is not one of its members.
		assert!(!allowed(HOSPITAL_A, &target, READ));
		// A suspended doctor is denied whatever the grant says.
		assert_ok!(MockRegistry::suspend(&DOCTOR_A2));
		assert!(!allowed(DOCTOR_A2, &target, READ));
	});
}

#[test]
fn the_patient_reads_and_copies_own_records_but_never_writes_them() {
	new_test_ext().execute_with(|| {
		let target = record(1, &[]);
		assert!(allowed(PATIENT, &target, READ));
		assert!(allowed(PATIENT, &target, COPY));
		assert!(!allowed(PATIENT, &target, WRITE));
	});
}

#[test]
fn a_visit_opens_the_after_visit_policy_for_that_hospitals_doctors() {
	new_test_ext().execute_with(|| {
		let policy = Policy {
			rule: PolicyRule::AfterVisit { institution: HOSPITAL_A, window: 30 * DAY },
			actions: read_only(),
			scope: GrantScope::AllRecords,
		};
		assert_ok!(Consent::set_policy(signed(PATIENT), policy));
		let policy_id = 0;

		// No visit yet: the request waits for the patient.
		let first = request(DOCTOR_A, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		assert!(Requests::<Test>::contains_key(first));
		assert!(!allowed(DOCTOR_A, &record(1, &[]), READ));

		// A doctor of hospital A records the visit (the hospital's own account could too).
		assert_ok!(Consent::record_visit(signed(DOCTOR_A), PATIENT));
		let visit = now();
		System::assert_last_event(
			Event::VisitRecorded { patient: PATIENT, institution: HOSPITAL_A, at: visit }.into(),
		);

		run_to_block(2);
		let second = request(DOCTOR_A2, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		let grant_id = NextGrantId::<Test>::get() - 1;
		System::assert_has_event(
			Event::RequestAutoGranted { request: second, policy: policy_id, grant: grant_id }
				.into(),
		);
		assert!(!Requests::<Test>::contains_key(second));
		let stored = Grants::<Test>::get(grant_id).unwrap();
		assert_eq!(stored.source, GrantSource::Policy { policy: policy_id, request: second });
		assert_eq!(stored.valid_until, (now() + DAY).min(visit + 30 * DAY));
		assert!(allowed(DOCTOR_A2, &record(1, &[]), READ));

		// The policy says "read": asking for copy falls outside it.
		let copy = request(
			DOCTOR_A2,
			ActionSet::of(&[READ, COPY]),
			GrantScope::AllRecords,
			Purpose::Treatment,
		);
		assert!(Requests::<Test>::contains_key(copy));
		// A doctor of another hospital is not covered.
		let other = request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		assert!(Requests::<Test>::contains_key(other));

		// Thirty days after the visit the policy no longer grants.
		MockTime::set(visit + 30 * DAY);
		assert_ok!(Consent::deny_request(signed(PATIENT), first));
		let late = request(DOCTOR_A, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		assert!(Requests::<Test>::contains_key(late));
	});
}

#[test]
fn the_emergency_policy_grants_any_active_doctor_asking_for_emergency_treatment() {
	new_test_ext().execute_with(|| {
		let policy = Policy {
			rule: PolicyRule::Emergency { duration: 3_600_000 },
			actions: read_only(),
			scope: GrantScope::AllRecords,
		};
		assert_ok!(Consent::set_policy(signed(PATIENT), policy));

		// Asking for treatment, not emergency: waits.
		let routine = request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		assert!(Requests::<Test>::contains_key(routine));
		// An insurer is not a doctor: waits even with the emergency purpose.
		let insurer =
			request(INSURER, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		assert!(Requests::<Test>::contains_key(insurer));

		let emergency =
			request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		assert!(!Requests::<Test>::contains_key(emergency));
		assert!(allowed(DOCTOR_B, &record(1, &[]), READ));
		// Granted for the policy's hour only, and the patient's trail says how.
		assert!(!Consent::is_access_allowed(
			&PATIENT,
			&DOCTOR_B,
			&record(1, &[]),
			READ,
			now() + 3_600_000
		));
		assert!(audit_events(PATIENT).iter().any(|e| matches!(
			e,
			AuditEvent::RequestAutoGranted { request, policy: 0, .. } if *request == emergency
		)));
	});
}

#[test]
fn request_then_approval_allows() {
	new_test_ext().execute_with(|| {
		let scope = GrantScope::Categories(cats(&[LAB]));
		let id = request(INSURER, read_only(), scope.clone(), Purpose::Payment);
		assert_eq!(Consent::pending_requests(&PATIENT).len(), 1);
		assert!(!allowed(INSURER, &record(1, &[LAB]), READ));

		assert_ok!(Consent::approve_request(signed(PATIENT), id));
		let grant_id = NextGrantId::<Test>::get() - 1;
		System::assert_has_event(Event::RequestApproved { request: id, grant: grant_id }.into());
		assert!(allowed(INSURER, &record(1, &[LAB]), READ));
		assert!(!allowed(INSURER, &record(1, &[CIRCULATORY]), READ));
		let stored = Grants::<Test>::get(grant_id).unwrap();
		assert_eq!(stored.source, GrantSource::ApprovedRequest(id));
		assert_eq!(stored.purpose, Some(Purpose::Payment));
		assert!(Consent::pending_requests(&PATIENT).is_empty());
	});
}

#[test]
fn request_then_denial_stays_denied() {
	new_test_ext().execute_with(|| {
		let id = request(INSURER, read_only(), GrantScope::AllRecords, Purpose::Payment);
		assert_ok!(Consent::deny_request(signed(PATIENT), id));
		System::assert_last_event(Event::RequestDenied { request: id }.into());
		assert!(!allowed(INSURER, &record(1, &[]), READ));
		assert!(Consent::pending_requests(&PATIENT).is_empty());
		assert_noop!(Consent::approve_request(signed(PATIENT), id), Error::<Test>::RequestNotFound);
	});
}

#[test]
fn unanswered_requests_lapse_a_bounded_number_per_block() {
	new_test_ext().execute_with(|| {
		// Four requests to each patient (the per-patient bound), eight in all.
		for who in [DOCTOR_A, DOCTOR_A2, DOCTOR_B, INSURER] {
			request(who, read_only(), GrantScope::AllRecords, Purpose::Treatment);
			assert_ok!(Consent::request_access(
				signed(who),
				OTHER_PATIENT,
				read_only(),
				GrantScope::AllRecords,
				now(),
				now() + DAY,
				Purpose::Treatment
			));
		}
		assert_noop!(
			Consent::request_access(
				signed(AUTHORITY),
				PATIENT,
				read_only(),
				GrantScope::AllRecords,
				now(),
				now() + DAY,
				Purpose::PublicHealth
			),
			Error::<Test>::TooManyPendingRequests
		);
		// The patient answers one, late: too late.
		MockTime::set(now() + RequestTtl::get());
		assert_noop!(Consent::approve_request(signed(PATIENT), 0), Error::<Test>::RequestExpired);

		run_to_block(2);
		assert_eq!(ExpiryCursor::<Test>::get(), 4, "at most four lapse per block");
		assert_eq!(Requests::<Test>::iter().count(), 4);
		System::assert_has_event(Event::RequestExpired { request: 0 }.into());
		run_to_block(3);
		assert_eq!(Requests::<Test>::iter().count(), 0);
		assert!(Consent::pending_requests(&PATIENT).is_empty());
		assert!(audit_events(OTHER_PATIENT).contains(&AuditEvent::RequestExpired { request: 7 }));
		assert_noop!(Consent::approve_request(signed(PATIENT), 0), Error::<Test>::RequestNotFound);
	});
}

#[test]
fn nobody_grants_or_decides_on_someone_elses_data() {
	new_test_ext().execute_with(|| {
		// A doctor is not a patient: `grant` always grants on the caller's own data.
		assert_noop!(
			Consent::grant(
				signed(DOCTOR_A),
				Grantee::Account(DOCTOR_B),
				read_only(),
				GrantScope::AllRecords,
				now(),
				now() + DAY,
				None
			),
			Error::<Test>::NotActivePatient
		);
		let id = grant_read_all(DOCTOR_B);
		assert_noop!(Consent::revoke(signed(DOCTOR_A), id), Error::<Test>::NotGrantOwner);
		assert_noop!(Consent::revoke(signed(OTHER_PATIENT), id), Error::<Test>::NotGrantOwner);
		assert_noop!(Consent::revoke(signed(DOCTOR_B), id), Error::<Test>::NotGrantOwner);

		let req = request(INSURER, read_only(), GrantScope::AllRecords, Purpose::Payment);
		assert_noop!(
			Consent::approve_request(signed(OTHER_PATIENT), req),
			Error::<Test>::NotRequestPatient
		);
		assert_noop!(
			Consent::approve_request(signed(INSURER), req),
			Error::<Test>::NotRequestPatient
		);
		assert_noop!(
			Consent::deny_request(signed(OTHER_PATIENT), req),
			Error::<Test>::NotRequestPatient
		);
		assert_noop!(
			Consent::remove_policy(signed(OTHER_PATIENT), 0),
			Error::<Test>::PolicyNotFound
		);
		assert!(!allowed(INSURER, &record(1, &[]), READ));
	});
}

#[test]
fn invalid_calls_change_no_state() {
	new_test_ext().execute_with(|| {
		let t = now();
		let g = |grantee, actions, scope, from, until| {
			Consent::grant(signed(PATIENT), grantee, actions, scope, from, until, None)
		};
		let doc = Grantee::Account(DOCTOR_B);
		assert_noop!(
			g(doc.clone(), ActionSet(0), GrantScope::AllRecords, t, t + DAY),
			Error::<Test>::InvalidActions
		);
		assert_noop!(
			g(doc.clone(), ActionSet(0b1000), GrantScope::AllRecords, t, t + DAY),
			Error::<Test>::InvalidActions
		);
		assert_noop!(
			g(doc.clone(), read_only(), GrantScope::Records(BoundedVec::new()), t, t + DAY),
			Error::<Test>::InvalidScope
		);
		assert_noop!(
			g(doc.clone(), read_only(), GrantScope::Categories(BoundedVec::new()), t, t + DAY),
			Error::<Test>::InvalidScope
		);
		assert_noop!(
			g(doc.clone(), read_only(), GrantScope::AllRecords, t + DAY, t),
			Error::<Test>::InvalidPeriod
		);
		assert_noop!(
			g(doc.clone(), read_only(), GrantScope::AllRecords, t - DAY, t),
			Error::<Test>::InvalidPeriod
		);
		assert_noop!(
			g(Grantee::Account(PATIENT), read_only(), GrantScope::AllRecords, t, t + DAY),
			Error::<Test>::InvalidGrantee
		);
		assert_noop!(
			g(Grantee::Account(STRANGER), read_only(), GrantScope::AllRecords, t, t + DAY),
			Error::<Test>::InvalidGrantee
		);
		assert_noop!(
			g(Grantee::MembersOf(DOCTOR_A), read_only(), GrantScope::AllRecords, t, t + DAY),
			Error::<Test>::InvalidGrantee
		);
		assert_noop!(Consent::revoke(signed(PATIENT), 99), Error::<Test>::GrantNotFound);

		// Bounds: four grants per grantee, eight per patient.
		for _ in 0..4 {
			grant_read_all(DOCTOR_B);
		}
		assert_noop!(
			g(doc, read_only(), GrantScope::AllRecords, t, t + DAY),
			Error::<Test>::TooManyGrantsForGrantee
		);
		for _ in 0..4 {
			grant_read_all(DOCTOR_A);
		}
		assert_noop!(
			g(Grantee::Account(INSURER), read_only(), GrantScope::AllRecords, t, t + DAY),
			Error::<Test>::TooManyGrants
		);

		// Policies.
		let bad_window = Policy {
			rule: PolicyRule::AfterVisit { institution: HOSPITAL_A, window: 0 },
			actions: read_only(),
			scope: GrantScope::AllRecords,
		};
		assert_noop!(
			Consent::set_policy(signed(PATIENT), bad_window),
			Error::<Test>::InvalidPolicy
		);
		let not_institution = Policy {
			rule: PolicyRule::AfterVisit { institution: DOCTOR_A, window: DAY },
			actions: read_only(),
			scope: GrantScope::AllRecords,
		};
		assert_noop!(
			Consent::set_policy(signed(PATIENT), not_institution),
			Error::<Test>::InvalidPolicy
		);
		let emergency = Policy {
			rule: PolicyRule::Emergency { duration: DAY },
			actions: read_only(),
			scope: GrantScope::AllRecords,
		};
		assert_noop!(
			Consent::set_policy(signed(DOCTOR_A), emergency.clone()),
			Error::<Test>::NotActivePatient
		);
		for _ in 0..4 {
			assert_ok!(Consent::set_policy(signed(PATIENT), emergency.clone()));
		}
		assert_noop!(
			Consent::set_policy(signed(PATIENT), emergency),
			Error::<Test>::TooManyPolicies
		);

		// Visits: only care providers, only for patients.
		assert_noop!(
			Consent::record_visit(signed(INSURER), PATIENT),
			Error::<Test>::NotCareProvider
		);
		assert_noop!(
			Consent::record_visit(signed(PATIENT), PATIENT),
			Error::<Test>::NotCareProvider
		);
		assert_noop!(
			Consent::record_visit(signed(HOSPITAL_A), DOCTOR_B),
			Error::<Test>::NotAPatient
		);
		assert_noop!(
			Consent::record_visit(signed(STRANGER), PATIENT),
			Error::<Test>::NotActiveParticipant
		);

		// Requests.
		let r = |who, patient, from, until| {
			Consent::request_access(
				signed(who),
				patient,
				read_only(),
				GrantScope::AllRecords,
				from,
				until,
				Purpose::Treatment,
			)
		};
		assert_noop!(r(STRANGER, PATIENT, t, t + DAY), Error::<Test>::NotActiveParticipant);
		assert_noop!(r(PATIENT, PATIENT, t, t + DAY), Error::<Test>::OwnData);
		assert_noop!(r(DOCTOR_B, DOCTOR_A, t, t + DAY), Error::<Test>::NotAPatient);
		assert_noop!(r(DOCTOR_B, PATIENT, t, t), Error::<Test>::InvalidPeriod);
		assert_noop!(Consent::deny_request(signed(PATIENT), 5), Error::<Test>::RequestNotFound);

		// Accesses are recorded only by a health authority, about patients, with a real target.
		let target = record(1, &[]);
		assert_noop!(
			Consent::record_access(signed(DOCTOR_B), PATIENT, DOCTOR_B, target.clone(), READ),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Consent::record_access(signed(INSURER), PATIENT, DOCTOR_B, target.clone(), READ),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Consent::record_access(RuntimeOrigin::root(), PATIENT, DOCTOR_B, target.clone(), READ),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Consent::record_access(signed(AUTHORITY), DOCTOR_A, DOCTOR_B, target, READ),
			Error::<Test>::NotAPatient
		);
		assert_noop!(
			Consent::record_access(
				signed(AUTHORITY),
				PATIENT,
				DOCTOR_B,
				AccessTarget::Categories(BoundedVec::new()),
				READ
			),
			Error::<Test>::InvalidTarget
		);
	});
}

#[test]
fn consents_are_only_written_on_the_consent_chain() {
	new_test_ext().execute_with(|| {
		set_consortium(false);
		assert_noop!(
			Consent::grant(
				signed(PATIENT),
				Grantee::Account(DOCTOR_B),
				read_only(),
				GrantScope::AllRecords,
				now(),
				now() + DAY,
				None
			),
			Error::<Test>::NotConsentChain
		);
		assert_noop!(
			Consent::request_access(
				signed(DOCTOR_B),
				PATIENT,
				read_only(),
				GrantScope::AllRecords,
				now(),
				now() + DAY,
				Purpose::Treatment
			),
			Error::<Test>::NotConsentChain
		);
		assert_noop!(
			Consent::record_access(signed(AUTHORITY), PATIENT, DOCTOR_B, record(1, &[]), READ),
			Error::<Test>::NotConsentChain
		);
	});
}

#[test]
fn the_audit_trail_holds_every_step_in_order() {
	new_test_ext().execute_with(|| {
		let policy = Policy {
			rule: PolicyRule::Emergency { duration: DAY },
			actions: read_only(),
			scope: GrantScope::AllRecords,
		};
		assert_ok!(Consent::set_policy(signed(PATIENT), policy));
		assert_ok!(Consent::record_visit(signed(HOSPITAL_A), PATIENT));
		run_to_block(2);
		let req = request(INSURER, read_only(), GrantScope::AllRecords, Purpose::Payment);
		assert_ok!(Consent::approve_request(signed(PATIENT), req));
		let g0 = NextGrantId::<Test>::get() - 1;
		let target = record(3, &[LAB]);
		record_access(INSURER, target.clone(), READ);
		record_access(INSURER, target.clone(), COPY);
		run_to_block(3);
		assert_ok!(Consent::revoke(signed(PATIENT), g0));
		let denied_req = request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		assert_ok!(Consent::deny_request(signed(PATIENT), denied_req));
		let emergency =
			request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		let g1 = NextGrantId::<Test>::get() - 1;
		run_to_block(4);
		record_access(INSURER, target.clone(), READ);
		record_access(DOCTOR_B, target.clone(), READ);
		assert_ok!(Consent::remove_policy(signed(PATIENT), 0));

		let (total, trail) = Consent::audit_trail(&PATIENT, 0, MAX_AUDIT_PAGE);
		let expected = vec![
			(PATIENT, AuditEvent::PolicySet { policy: 0 }),
			(HOSPITAL_A, AuditEvent::VisitRecorded { institution: HOSPITAL_A }),
			(
				INSURER,
				AuditEvent::AccessRequested {
					request: req,
					actions: read_only(),
					purpose: Purpose::Payment,
				},
			),
			(PATIENT, AuditEvent::RequestApproved { request: req, grant: g0 }),
			(
				PATIENT,
				AuditEvent::GrantCreated {
					grant: g0,
					grantee: Grantee::Account(INSURER),
					actions: read_only(),
				},
			),
			(
				AUTHORITY,
				AuditEvent::Access {
					user: INSURER,
					target: target.clone(),
					action: READ,
					allowed: true,
				},
			),
			(
				AUTHORITY,
				AuditEvent::Access {
					user: INSURER,
					target: target.clone(),
					action: COPY,
					allowed: false,
				},
			),
			(PATIENT, AuditEvent::GrantRevoked { grant: g0 }),
			(
				DOCTOR_B,
				AuditEvent::AccessRequested {
					request: denied_req,
					actions: read_only(),
					purpose: Purpose::Treatment,
				},
			),
			(PATIENT, AuditEvent::RequestDenied { request: denied_req }),
			(
				DOCTOR_B,
				AuditEvent::AccessRequested {
					request: emergency,
					actions: read_only(),
					purpose: Purpose::EmergencyTreatment,
				},
			),
			(DOCTOR_B, AuditEvent::RequestAutoGranted { request: emergency, policy: 0, grant: g1 }),
			(
				DOCTOR_B,
				AuditEvent::GrantCreated {
					grant: g1,
					grantee: Grantee::Account(DOCTOR_B),
					actions: read_only(),
				},
			),
			(
				AUTHORITY,
				AuditEvent::Access {
					user: INSURER,
					target: target.clone(),
					action: READ,
					allowed: false,
				},
			),
			(AUTHORITY, AuditEvent::Access { user: DOCTOR_B, target, action: READ, allowed: true }),
			(PATIENT, AuditEvent::PolicyRemoved { policy: 0 }),
		];
		assert_eq!(total, expected.len() as u64);
		let got: Vec<_> = trail.iter().map(|r| (r.actor, r.event.clone())).collect();
		assert_eq!(got, expected);
		assert!(trail.iter().enumerate().all(|(i, r)| r.seq == i as u64));
		assert!(trail.windows(2).all(|w| w[0].block <= w[1].block && w[0].at <= w[1].at));
		assert_eq!(trail[2].block, 2);

		// Paged reading gives the same entries.
		let (_, page) = Consent::audit_trail(&PATIENT, 5, 3);
		assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![5, 6, 7]);
		assert_eq!(page[0], trail[5]);
		assert!(Consent::audit_trail(&PATIENT, total, 10).1.is_empty());
		// Nothing leaked into the other patient's trail.
		assert!(audit_events(OTHER_PATIENT).is_empty());
	});
}

#[test]
fn the_stored_trail_keeps_the_latest_entries_and_says_where_it_starts() {
	new_test_ext().execute_with(|| {
		grant_read_all(DOCTOR_B);
		// 1 grant + 70 accesses = 71 entries > 64 ring slots (rate window reset every 5).
		for i in 0..70u64 {
			if i % 5 == 0 {
				MockTime::set(now() + RateWindow::get());
			}
			record_access(DOCTOR_B, record(1, &[]), READ);
		}
		let (total, page) = Consent::audit_trail(&PATIENT, 0, MAX_AUDIT_PAGE);
		assert_eq!(total, 71);
		assert_eq!(page.len(), 64);
		assert_eq!(page.first().unwrap().seq, 7);
		assert_eq!(page.last().unwrap().seq, 70);
	});
}

#[test]
fn exceeding_the_access_rate_suspends_and_reinstatement_restores() {
	new_test_ext().execute_with(|| {
		grant_read_all(DOCTOR_B);
		let target = record(1, &[]);
		for _ in 0..5 {
			record_access(DOCTOR_B, target.clone(), READ);
			assert!(last_access_allowed());
		}
		// The sixth access in the window: suspended, and this access is refused.
		record_access(DOCTOR_B, target.clone(), READ);
		assert!(!last_access_allowed());
		assert!(MockRegistry::is_suspended(DOCTOR_B));
		System::assert_has_event(Event::RateLimitExceeded { who: DOCTOR_B }.into());
		System::assert_has_event(Event::IdentitySuspended { who: DOCTOR_B }.into());
		assert!(audit_events(PATIENT)
			.contains(&AuditEvent::RateLimitExceeded { who: DOCTOR_B, suspended: true }));

		// Suspended: every access denied, no requests accepted, even in a later window.
		MockTime::set(now() + RateWindow::get());
		assert!(!allowed(DOCTOR_B, &target, READ));
		record_access(DOCTOR_B, target.clone(), READ);
		assert!(!last_access_allowed());
		assert_noop!(
			Consent::request_access(
				signed(DOCTOR_B),
				PATIENT,
				read_only(),
				GrantScope::AllRecords,
				now(),
				now() + DAY,
				Purpose::Treatment
			),
			Error::<Test>::NotActiveParticipant
		);

		// The KMC re-verifies the doctor and reinstates them: the grant works again, in full.
		MockRegistry::reinstate(DOCTOR_B);
		assert!(allowed(DOCTOR_B, &target, READ));
		for _ in 0..4 {
			record_access(DOCTOR_B, target.clone(), READ);
			assert!(last_access_allowed());
		}
		assert!(!MockRegistry::is_suspended(DOCTOR_B));
	});
}

#[test]
fn exceeding_the_request_rate_suspends_without_recording_the_request() {
	new_test_ext().execute_with(|| {
		// Five patients, one request each, all accepted.
		let patients: Vec<AccountId> = (100..106).collect();
		for p in &patients {
			MockRegistry::register(*p, mbds_primitives::Role::Patient);
		}
		for p in &patients[..5] {
			assert_ok!(Consent::request_access(
				signed(INSURER),
				*p,
				read_only(),
				GrantScope::AllRecords,
				now(),
				now() + DAY,
				Purpose::Payment
			));
		}
		let before = NextRequestId::<Test>::get();
		// The sixth succeeds as a call (so the suspension stays) but records no request.
		assert_ok!(Consent::request_access(
			signed(INSURER),
			patients[5],
			read_only(),
			GrantScope::AllRecords,
			now(),
			now() + DAY,
			Purpose::Payment
		));
		assert_eq!(NextRequestId::<Test>::get(), before);
		assert!(Consent::pending_requests(&patients[5]).is_empty());
		assert!(MockRegistry::is_suspended(INSURER));
		assert_eq!(
			audit_events(patients[5]),
			vec![AuditEvent::RateLimitExceeded { who: INSURER, suspended: true }]
		);

		MockRegistry::reinstate(INSURER);
		assert_ok!(Consent::request_access(
			signed(INSURER),
			patients[5],
			read_only(),
			GrantScope::AllRecords,
			now(),
			now() + DAY,
			Purpose::Payment
		));
		assert_eq!(Consent::pending_requests(&patients[5]).len(), 1);
	});
}

#[test]
fn a_refused_suspension_is_reported_and_the_access_still_denied() {
	new_test_ext().execute_with(|| {
		grant_read_all(DOCTOR_B);
		MockRegistry::refuse_suspensions(true);
		for _ in 0..6 {
			record_access(DOCTOR_B, record(1, &[]), READ);
		}
		assert!(!last_access_allowed());
		assert!(!MockRegistry::is_suspended(DOCTOR_B));
		// `DispatchError::Other` drops its text when stored, so match on the variant.
		assert!(System::events().iter().any(|r| matches!(
			r.event,
			RuntimeEvent::Consent(Event::SuspensionFailed {
				who: DOCTOR_B,
				error: DispatchError::Other(_)
			})
		)));
		assert!(audit_events(PATIENT)
			.contains(&AuditEvent::RateLimitExceeded { who: DOCTOR_B, suspended: false }));
	});
}

#[test]
fn expired_grants_are_cleared_to_make_room() {
	new_test_ext().execute_with(|| {
		let mut ids = vec![];
		for _ in 0..4 {
			ids.push(grant(
				Grantee::Account(DOCTOR_B),
				read_only(),
				GrantScope::AllRecords,
				now(),
				now() + 1_000,
			));
		}
		MockTime::set(now() + 1_000);
		let fresh = grant_read_all(DOCTOR_B);
		for id in &ids {
			assert!(Grants::<Test>::get(id).is_none());
			System::assert_has_event(Event::GrantExpired { grant: *id, patient: PATIENT }.into());
		}
		assert_eq!(
			GrantsOf::<Test>::get(PATIENT, Grantee::Account(DOCTOR_B)).into_inner(),
			vec![fresh]
		);
		assert_eq!(GrantCount::<Test>::get(PATIENT), 1);
		assert_eq!(Consent::grants_of(&PATIENT).len(), 1);
	});
}

#[test]
fn removing_a_policy_stops_automatic_grants() {
	new_test_ext().execute_with(|| {
		let policy = Policy {
			rule: PolicyRule::Emergency { duration: DAY },
			actions: read_only(),
			scope: GrantScope::AllRecords,
		};
		assert_ok!(Consent::set_policy(signed(PATIENT), policy));
		assert_ok!(Consent::remove_policy(signed(PATIENT), 0));
		System::assert_last_event(Event::PolicyRemoved { policy: 0, patient: PATIENT }.into());
		assert!(Policies::<Test>::get(PATIENT).is_empty());
		let req =
			request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		assert!(Requests::<Test>::contains_key(req));
		assert_noop!(Consent::remove_policy(signed(PATIENT), 0), Error::<Test>::PolicyNotFound);
	});
}
