//! Stories of patients, doctors, insurers and proxies. Every failing call is checked with
//! `assert_noop!`, which also compares the storage root before and after: a failed call
//! changes nothing.

use crate::{mock::*, *};
use frame_support::{assert_noop, assert_ok, dispatch::CheckIfFeeless, traits::Get, BoundedVec};
use mbds_primitives::{
	consent::{
		category, CategoryList, RecordId, SENSITIVE_MENTAL_HEALTH, SYSTEM_ICD10_CHAPTER,
		SYSTEM_LOINC_CLASS,
	},
	statements::{AccessStatement, SearchStatement, VisitProof, VisitStatement},
	InstitutionKind, Role,
};
use sp_core::H256;
use sp_runtime::{DispatchError, DispatchResult};

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
/// Record `n` of `PATIENT`, anchored with `categories` (what the chain vouches for), named as
/// a proxy names it.
fn record(n: u8, categories: &[CategoryId]) -> AccessTarget {
	MockRecords::anchor(H256::repeat_byte(n), PATIENT, categories);
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
/// A second health authority (another proxy), registered by the tests that need it.
const AUTHORITY_2: AccountId = 41;

/// `user`'s statement asking `proxy` for `action` on `target` of `patient`'s records, issued
/// now or, if a statement of `user` to `proxy` was already recorded at this time or later, just
/// after it (statements are recorded once and in order).
fn access_statement(
	proxy: AccountId,
	user: AccountId,
	patient: AccountId,
	target: AccessTarget,
	action: Action,
) -> AccessStatement<AccountId> {
	let issued_at = now().max(AccessNonce::<Test>::get(user, proxy) + 1);
	AccessStatement { proxy, patient, target, action, issued_at }
}
/// `who`'s signature over an access statement.
fn sign_access(who: AccountId, statement: &AccessStatement<AccountId>) -> Signature {
	sign(who, &statement.signing_payload())
}
/// A statement of `user` through the health authority, signed by `user`.
fn signed_access(
	user: AccountId,
	patient: AccountId,
	target: AccessTarget,
	action: Action,
) -> (AccessStatement<AccountId>, Signature) {
	let statement = access_statement(AUTHORITY, user, patient, target, action);
	let signature = sign_access(user, &statement);
	(statement, signature)
}
/// The health authority records an access to the patient's records that `user` asked for (and
/// signed).
fn record_access(user: AccountId, target: AccessTarget, action: Action) {
	let (statement, signature) = signed_access(user, PATIENT, target, action);
	assert_ok!(Consent::record_access(signed(AUTHORITY), user, statement, signature));
}
/// `patient`'s signed proof of a visit to `institution` at `issued_at`.
fn visit_proof(
	patient: AccountId,
	institution: AccountId,
	issued_at: Moment,
) -> VisitProof<AccountId, Signature> {
	let statement = VisitStatement { patient, institution, issued_at };
	VisitProof { institution, issued_at, signature: sign(patient, &statement.signing_payload()) }
}
/// `caller` records `patient`'s visit to `institution` now, with the patient's proof.
fn visit(caller: AccountId, patient: AccountId, institution: AccountId) -> DispatchResult {
	Consent::record_visit(signed(caller), patient, visit_proof(patient, institution, now()))
}
fn emergency_policy(duration: Moment) -> Policy<AccountId> {
	Policy {
		rule: PolicyRule::Emergency { duration },
		actions: read_only(),
		scope: GrantScope::AllRecords,
	}
}
/// `attester` attests that `doctor` treats the patient in an emergency.
fn attest(attester: AccountId, doctor: AccountId) {
	assert_ok!(Consent::attest_emergency(signed(attester), PATIENT, doctor));
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

		// A doctor of hospital A records the visit with the patient's signed proof (the
		// hospital's own account could too).
		assert_ok!(visit(DOCTOR_A, PATIENT, HOSPITAL_A));
		let visited_at = now();
		assert_eq!(LastVisit::<Test>::get(PATIENT, HOSPITAL_A), Some(visited_at));
		System::assert_last_event(
			Event::VisitRecorded { patient: PATIENT, institution: HOSPITAL_A, at: visited_at }
				.into(),
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
		assert_eq!(stored.valid_until, (now() + DAY).min(visited_at + 30 * DAY));
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
		MockTime::set(visited_at + 30 * DAY);
		assert_ok!(Consent::deny_request(signed(PATIENT), first));
		let late = request(DOCTOR_A, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		assert!(Requests::<Test>::contains_key(late));
	});
}

#[test]
fn the_emergency_policy_grants_an_attested_active_doctor_asking_for_emergency_treatment() {
	new_test_ext().execute_with(|| {
		assert_ok!(Consent::set_policy(signed(PATIENT), emergency_policy(3_600_000)));
		// The doctor's hospital attests the emergency (the second party break-glass needs).
		attest(HOSPITAL_B, DOCTOR_B);

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

		// Visits: only care providers, only for patients (each with the patient's proof).
		assert_noop!(visit(INSURER, PATIENT, INSURER), Error::<Test>::NotCareProvider);
		assert_noop!(visit(PATIENT, PATIENT, HOSPITAL_A), Error::<Test>::NotCareProvider);
		assert_noop!(visit(HOSPITAL_A, DOCTOR_B, HOSPITAL_A), Error::<Test>::NotAPatient);
		assert_noop!(visit(STRANGER, PATIENT, HOSPITAL_A), Error::<Test>::NotActiveParticipant);

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

		// Accesses are recorded only by a health authority, about patients, with a real target
		// (each statement below is signed by the user).
		let target = record(1, &[]);
		let (statement, signature) = signed_access(DOCTOR_B, PATIENT, target.clone(), READ);
		for origin in [signed(DOCTOR_B), signed(INSURER), RuntimeOrigin::root()] {
			assert_noop!(
				Consent::record_access(origin, DOCTOR_B, statement.clone(), signature.clone()),
				DispatchError::BadOrigin
			);
		}
		let (statement, signature) = signed_access(DOCTOR_B, DOCTOR_A, target, READ);
		assert_noop!(
			Consent::record_access(signed(AUTHORITY), DOCTOR_B, statement, signature),
			Error::<Test>::NotAPatient
		);
		let (statement, signature) =
			signed_access(DOCTOR_B, PATIENT, AccessTarget::Categories(BoundedVec::new()), READ);
		assert_noop!(
			Consent::record_access(signed(AUTHORITY), DOCTOR_B, statement, signature),
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
		let (statement, signature) = signed_access(DOCTOR_B, PATIENT, record(1, &[]), READ);
		assert_noop!(
			Consent::record_access(signed(AUTHORITY), DOCTOR_B, statement, signature),
			Error::<Test>::NotConsentChain
		);
		assert_noop!(visit(DOCTOR_A, PATIENT, HOSPITAL_A), Error::<Test>::NotConsentChain);
		assert_noop!(
			Consent::attest_emergency(signed(AUTHORITY), PATIENT, DOCTOR_B),
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
		assert_ok!(visit(HOSPITAL_A, PATIENT, HOSPITAL_A));
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
		attest(HOSPITAL_B, DOCTOR_B);
		let emergency =
			request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		let g1 = NextGrantId::<Test>::get() - 1;
		let emergency_until = now() + DAY;
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
			(HOSPITAL_B, AuditEvent::EmergencyAttested { doctor: DOCTOR_B }),
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
				AuditEvent::EmergencyAccessGranted {
					request: emergency,
					grant: g1,
					attester: HOSPITAL_B,
					until: emergency_until,
				},
			),
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
		// The emergency is attested: only the removed policy stands between the doctor and a
		// grant.
		attest(HOSPITAL_B, DOCTOR_B);
		assert_ok!(Consent::remove_policy(signed(PATIENT), 0));
		System::assert_last_event(Event::PolicyRemoved { policy: 0, patient: PATIENT }.into());
		assert!(Policies::<Test>::get(PATIENT).is_empty());
		let req =
			request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		assert!(Requests::<Test>::contains_key(req));
		assert!(EmergencyAttestations::<Test>::contains_key(DOCTOR_B), "not used up");
		assert_noop!(Consent::remove_policy(signed(PATIENT), 0), Error::<Test>::PolicyNotFound);
	});
}

// ---------------------------------------------------------------------------------------------
// Attack stories: each hole, the attack refused with its own error and no state change, and the
// legitimate path beside it.
// ---------------------------------------------------------------------------------------------

/// True if the patient's trail holds an access entry of `user`.
fn trail_has_access_of(user: AccountId) -> bool {
	audit_events(PATIENT)
		.iter()
		.any(|e| matches!(e, AuditEvent::Access { user: u, .. } if *u == user))
}

fn register_second_authority() {
	MockRegistry::register(AUTHORITY_2, Role::Institution(InstitutionKind::HealthAuthority));
}

/// Hole 1: a proxy recorded accesses nobody asked for. Now the user's signature over the exact
/// access, for this proxy, is required.
#[test]
fn hole1_a_proxy_cannot_record_an_access_the_user_did_not_sign() {
	new_test_ext().execute_with(|| {
		register_second_authority();
		grant_read_all(DOCTOR_B);
		let target = record(1, &[]);
		let statement = access_statement(AUTHORITY, DOCTOR_B, PATIENT, target.clone(), READ);
		let payload = statement.signing_payload();
		let submit = |statement: &AccessStatement<AccountId>, signature: Signature| {
			Consent::record_access(signed(AUTHORITY), DOCTOR_B, statement.clone(), signature)
		};

		// The user never asked: no signature of the user at all (an empty one, the proxy's
		// own, another participant's).
		assert_noop!(submit(&statement, sign(DOCTOR_B, &[])), Error::<Test>::AccessNotSignedByUser);
		assert_noop!(
			submit(&statement, sign(AUTHORITY, &payload)),
			Error::<Test>::AccessNotSignedByUser
		);
		assert_noop!(
			submit(&statement, sign(PATIENT, &payload)),
			Error::<Test>::AccessNotSignedByUser
		);
		assert_noop!(
			submit(&statement, sign(DOCTOR_A, &payload)),
			Error::<Test>::AccessNotSignedByUser
		);
		// The user's signature of one access does not cover another action, record, patient
		// or time.
		for altered in [
			AccessStatement { action: COPY, ..statement.clone() },
			AccessStatement { target: record(2, &[]), ..statement.clone() },
			AccessStatement { patient: OTHER_PATIENT, ..statement.clone() },
			AccessStatement { issued_at: statement.issued_at + 1, ..statement.clone() },
		] {
			assert_noop!(
				submit(&altered, sign(DOCTOR_B, &payload)),
				Error::<Test>::AccessNotSignedByUser
			);
		}
		// Nor does a signed visit statement (another domain) pass as an access statement.
		let visit_payload =
			VisitStatement { patient: DOCTOR_B, institution: AUTHORITY, issued_at: now() }
				.signing_payload();
		assert_noop!(
			submit(&statement, sign(DOCTOR_B, &visit_payload)),
			Error::<Test>::AccessNotSignedByUser
		);
		// The user asked another proxy: only that proxy may record it.
		let for_other = AccessStatement { proxy: AUTHORITY_2, ..statement.clone() };
		assert_noop!(
			submit(&for_other, sign_access(DOCTOR_B, &for_other)),
			Error::<Test>::WrongProxy
		);
		assert!(!trail_has_access_of(DOCTOR_B));
		assert_eq!(Activity::<Test>::get(DOCTOR_B), ActivityWindow::default());

		// The user's own signature over the statement: recorded, and decided by the grant.
		assert_ok!(submit(&statement, sign(DOCTOR_B, &payload)));
		assert!(last_access_allowed());
		assert_eq!(AccessNonce::<Test>::get(DOCTOR_B, AUTHORITY), statement.issued_at);
		System::assert_last_event(
			Event::AccessRecorded {
				patient: PATIENT,
				user: DOCTOR_B,
				proxy: AUTHORITY,
				allowed: true,
			}
			.into(),
		);
		// The other proxy records the statement made for it.
		assert_ok!(Consent::record_access(
			signed(AUTHORITY_2),
			DOCTOR_B,
			for_other.clone(),
			sign_access(DOCTOR_B, &for_other)
		));
		assert_eq!(AccessNonce::<Test>::get(DOCTOR_B, AUTHORITY_2), for_other.issued_at);
		assert_eq!(Activity::<Test>::get(DOCTOR_B).accesses, 2);
	});
}

/// Hole 1: a recorded statement cannot be recorded again, nor an older one, nor one held
/// beyond `StatementValidity`.
#[test]
fn hole1_a_replayed_or_stale_access_statement_is_refused() {
	new_test_ext().execute_with(|| {
		grant_read_all(DOCTOR_B);
		let validity: Moment = StatementValidity::get();
		let target = record(1, &[]);
		let (statement, signature) = signed_access(DOCTOR_B, PATIENT, target.clone(), READ);
		let submit = |statement: &AccessStatement<AccountId>| {
			Consent::record_access(
				signed(AUTHORITY),
				DOCTOR_B,
				statement.clone(),
				sign_access(DOCTOR_B, statement),
			)
		};
		assert_ok!(Consent::record_access(
			signed(AUTHORITY),
			DOCTOR_B,
			statement.clone(),
			signature.clone()
		));
		let recorded = AuditLength::<Test>::get(PATIENT);

		// Replayed, in the same block and in a later one.
		assert_noop!(
			Consent::record_access(signed(AUTHORITY), DOCTOR_B, statement.clone(), signature),
			Error::<Test>::AccessAlreadyRecorded
		);
		run_to_block(2);
		assert_noop!(submit(&statement), Error::<Test>::AccessAlreadyRecorded);
		// An older statement never recorded: statements are recorded in order.
		let older = AccessStatement { issued_at: statement.issued_at - 1, ..statement.clone() };
		assert_noop!(submit(&older), Error::<Test>::AccessAlreadyRecorded);

		// Stale: signed longer ago than the validity, or dated too far ahead.
		let stale = AccessStatement { issued_at: now() - validity - 1, ..statement.clone() };
		assert_noop!(submit(&stale), Error::<Test>::StaleStatement);
		let ahead = AccessStatement { issued_at: now() + validity + 1, ..statement.clone() };
		assert_noop!(submit(&ahead), Error::<Test>::StaleStatement);
		// A statement held back by the proxy past the validity.
		let held = access_statement(AUTHORITY, DOCTOR_B, PATIENT, target.clone(), READ);
		MockTime::set(held.issued_at + validity + 1);
		assert_noop!(submit(&held), Error::<Test>::StaleStatement);
		assert_eq!(AuditLength::<Test>::get(PATIENT), recorded);

		// A fresh statement, at the edge of the validity, records.
		let fresh = AccessStatement { issued_at: now() - validity, ..statement.clone() };
		assert_ok!(submit(&fresh));
		assert_eq!(AuditLength::<Test>::get(PATIENT), recorded + 1);
		record_access(DOCTOR_B, target, READ);
		assert!(last_access_allowed());
	});
}

/// Hole 1: "record 601 accesses of another proxy or a doctor so it gets suspended" needs that
/// user's signature on every one of them.
#[test]
fn hole1_nobody_is_suspended_by_accesses_they_did_not_sign() {
	new_test_ext().execute_with(|| {
		register_second_authority();
		grant_read_all(DOCTOR_B);
		let limit: u32 = <<Test as Config>::MaxAccessesPerWindow as Get<u32>>::get();
		for victim in [DOCTOR_B, AUTHORITY_2] {
			// Forged: one more than the limit, each signed by the attacking proxy.
			for i in 0..=limit {
				let statement =
					access_statement(AUTHORITY, victim, PATIENT, record(i as u8, &[]), READ);
				assert_noop!(
					Consent::record_access(
						signed(AUTHORITY),
						victim,
						statement.clone(),
						sign_access(AUTHORITY, &statement)
					),
					Error::<Test>::AccessNotSignedByUser
				);
			}
			// One real statement of the victim, replayed up to the limit.
			let (statement, signature) = signed_access(victim, PATIENT, record(1, &[]), READ);
			assert_ok!(Consent::record_access(
				signed(AUTHORITY),
				victim,
				statement.clone(),
				signature.clone()
			));
			for _ in 0..limit {
				assert_noop!(
					Consent::record_access(
						signed(AUTHORITY),
						victim,
						statement.clone(),
						signature.clone()
					),
					Error::<Test>::AccessAlreadyRecorded
				);
			}
			// The victim's statements to another proxy, diverted.
			for i in 0..=limit {
				let statement =
					access_statement(AUTHORITY_2, victim, PATIENT, record(i as u8, &[]), READ);
				assert_noop!(
					Consent::record_access(
						signed(AUTHORITY),
						victim,
						statement.clone(),
						sign_access(victim, &statement)
					),
					Error::<Test>::WrongProxy
				);
			}
			assert!(!MockRegistry::is_suspended(victim));
			assert_eq!(Activity::<Test>::get(victim).accesses, 1);
		}
		assert!(!audit_events(PATIENT)
			.iter()
			.any(|e| matches!(e, AuditEvent::RateLimitExceeded { .. })));

		// The rate limit still works on what the user really asked for.
		for _ in 0..limit {
			record_access(DOCTOR_B, record(1, &[]), READ);
		}
		assert!(!last_access_allowed());
		assert!(MockRegistry::is_suspended(DOCTOR_B));
		assert!(!MockRegistry::is_suspended(AUTHORITY_2));
	});
}

/// Hole 2: a suspended patient could not take back consent. Revoke, deny and remove-policy stay
/// open to them, feeless; the calls that give access do not.
#[test]
fn hole2_a_suspended_patient_still_revokes_denies_and_removes_policies_feelessly() {
	new_test_ext().execute_with(|| {
		let id = grant_read_all(DOCTOR_B);
		let req = request(INSURER, read_only(), GrantScope::AllRecords, Purpose::Payment);
		assert_ok!(Consent::set_policy(signed(PATIENT), emergency_policy(DAY)));
		assert_ok!(MockRegistry::suspend(&PATIENT));

		let feeless = |call: Call<Test>, origin: RuntimeOrigin| {
			<Call<Test> as CheckIfFeeless>::is_feeless(&call, &origin)
		};
		assert!(feeless(Call::revoke { grant: id }, signed(PATIENT)));
		assert!(feeless(Call::deny_request { request: req }, signed(PATIENT)));
		assert!(feeless(Call::remove_policy { policy: 0 }, signed(PATIENT)));
		// What gives access stays closed (and paid) while suspended.
		let grant_call = Call::grant {
			grantee: Grantee::Account(DOCTOR_A),
			actions: read_only(),
			scope: GrantScope::AllRecords,
			valid_from: now(),
			valid_until: now() + DAY,
			purpose: None,
		};
		assert!(!feeless(grant_call, signed(PATIENT)));
		assert!(!feeless(Call::approve_request { request: req }, signed(PATIENT)));
		assert!(!feeless(Call::set_policy { policy: emergency_policy(DAY) }, signed(PATIENT)));
		// Unregistered accounts and other origins pay.
		assert!(!feeless(Call::revoke { grant: id }, signed(STRANGER)));
		assert!(!feeless(Call::revoke { grant: id }, RuntimeOrigin::root()));
		assert_noop!(
			Consent::approve_request(signed(PATIENT), req),
			Error::<Test>::NotActivePatient
		);
		assert_noop!(
			Consent::set_policy(signed(PATIENT), emergency_policy(DAY)),
			Error::<Test>::NotActivePatient
		);

		// The retreats succeed and take effect.
		assert_ok!(Consent::revoke(signed(PATIENT), id));
		assert!(Grants::<Test>::get(id).is_none());
		assert!(!allowed(DOCTOR_B, &record(1, &[]), READ));
		assert_ok!(Consent::deny_request(signed(PATIENT), req));
		assert!(!Requests::<Test>::contains_key(req));
		assert!(Consent::pending_requests(&PATIENT).is_empty());
		assert_eq!(PendingBy::<Test>::get(PATIENT, INSURER), 0);
		assert_ok!(Consent::remove_policy(signed(PATIENT), 0));
		assert!(Policies::<Test>::get(PATIENT).is_empty());
		let events = audit_events(PATIENT);
		assert_eq!(
			events[events.len() - 3..],
			[
				AuditEvent::GrantRevoked { grant: id },
				AuditEvent::RequestDenied { request: req },
				AuditEvent::PolicyRemoved { policy: 0 },
			]
		);
		// Still only for their own things.
		assert_noop!(Consent::revoke(signed(PATIENT), id), Error::<Test>::GrantNotFound);
	});
}

/// Hole 3: a doctor recorded visits that never happened to open after-visit policies. Now the
/// patient's signed, fresh proof for the caller's institution is required, used once.
#[test]
fn hole3_a_visit_needs_the_patients_fresh_proof_for_the_callers_institution_once() {
	new_test_ext().execute_with(|| {
		let policy = Policy {
			rule: PolicyRule::AfterVisit { institution: HOSPITAL_A, window: 30 * DAY },
			actions: read_only(),
			scope: GrantScope::AllRecords,
		};
		assert_ok!(Consent::set_policy(signed(PATIENT), policy));
		let t = now();
		let validity: Moment = StatementValidity::get();
		let payload = VisitStatement { patient: PATIENT, institution: HOSPITAL_A, issued_at: t }
			.signing_payload();
		let unsigned = |signature| VisitProof { institution: HOSPITAL_A, issued_at: t, signature };
		let submit = |caller, proof| Consent::record_visit(signed(caller), PATIENT, proof);

		// Without the patient's signature: the doctor's own, another patient's, an empty one.
		for forged in [sign(DOCTOR_A, &payload), sign(OTHER_PATIENT, &payload), sign(PATIENT, &[])]
		{
			assert_noop!(
				submit(DOCTOR_A, unsigned(forged)),
				Error::<Test>::VisitNotSignedByPatient
			);
		}
		// The patient's signature of another visit (elsewhere, at another time) proves nothing
		// here.
		let at_b = visit_proof(PATIENT, HOSPITAL_B, t);
		assert_noop!(
			submit(DOCTOR_A, VisitProof { institution: HOSPITAL_A, ..at_b.clone() }),
			Error::<Test>::VisitNotSignedByPatient
		);
		assert_noop!(
			submit(
				DOCTOR_A,
				VisitProof { issued_at: t + 1, ..visit_proof(PATIENT, HOSPITAL_A, t) }
			),
			Error::<Test>::VisitNotSignedByPatient
		);
		// A real proof of a visit to another institution.
		assert_noop!(submit(DOCTOR_A, at_b.clone()), Error::<Test>::VisitAtAnotherInstitution);
		assert_noop!(submit(HOSPITAL_A, at_b.clone()), Error::<Test>::VisitAtAnotherInstitution);
		// Stale or post-dated proofs.
		assert_noop!(
			submit(DOCTOR_A, visit_proof(PATIENT, HOSPITAL_A, t - validity - 1)),
			Error::<Test>::StaleStatement
		);
		assert_noop!(
			submit(DOCTOR_A, visit_proof(PATIENT, HOSPITAL_A, t + validity + 1)),
			Error::<Test>::StaleStatement
		);
		// None of it opened the policy.
		assert_eq!(LastVisit::<Test>::get(PATIENT, HOSPITAL_A), None);
		let waits = request(DOCTOR_A2, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		assert!(Requests::<Test>::contains_key(waits));

		// With the patient's proof the visit is recorded, at the time the patient signed.
		let proof = visit_proof(PATIENT, HOSPITAL_A, t);
		assert_ok!(submit(DOCTOR_A, proof.clone()));
		assert_eq!(LastVisit::<Test>::get(PATIENT, HOSPITAL_A), Some(t));
		System::assert_last_event(
			Event::VisitRecorded { patient: PATIENT, institution: HOSPITAL_A, at: t }.into(),
		);
		// Used once: not again, not later, not by a colleague or the hospital.
		assert_noop!(submit(DOCTOR_A, proof.clone()), Error::<Test>::VisitAlreadyRecorded);
		run_to_block(2);
		assert_noop!(submit(DOCTOR_A2, proof.clone()), Error::<Test>::VisitAlreadyRecorded);
		assert_noop!(submit(HOSPITAL_A, proof.clone()), Error::<Test>::VisitAlreadyRecorded);
		assert_noop!(
			submit(DOCTOR_A, visit_proof(PATIENT, HOSPITAL_A, t - 1)),
			Error::<Test>::VisitAlreadyRecorded
		);
		// Hospital B's doctor records hospital B's proof (for hospital B only).
		assert_ok!(submit(DOCTOR_B, at_b));
		assert_eq!(LastVisit::<Test>::get(PATIENT, HOSPITAL_B), Some(t));

		// The after-visit policy now grants hospital A's doctors.
		let granted = request(DOCTOR_A2, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		assert!(!Requests::<Test>::contains_key(granted));
		assert!(allowed(DOCTOR_A2, &record(1, &[]), READ));
		let grant_id = NextGrantId::<Test>::get() - 1;
		assert_eq!(
			Grants::<Test>::get(grant_id).unwrap().valid_until,
			(now() + DAY).min(t + 30 * DAY)
		);

		// When the window is over, the old proof cannot reopen it; a new visit can.
		MockTime::set(t + 30 * DAY);
		assert_noop!(submit(DOCTOR_A, proof), Error::<Test>::StaleStatement);
		assert_ok!(visit(DOCTOR_A, PATIENT, HOSPITAL_A));
		assert_eq!(LastVisit::<Test>::get(PATIENT, HOSPITAL_A), Some(t + 30 * DAY));
	});
}

/// The entries written since `archive` was last updated, read from the ring right after the
/// call that wrote them (what an archive node keeps of the states that held them).
fn archive_new_entries(archive: &mut Vec<AuditRecord<AccountId, u64>>) {
	let ring = <<Test as Config>::MaxAuditEntriesPerPatient as Get<u32>>::get() as u64;
	let total = AuditLength::<Test>::get(PATIENT);
	for seq in archive.len() as u64..total {
		assert!(total - seq <= ring, "entry {seq} left the ring before it was archived");
		archive.push(AuditLog::<Test>::get(PATIENT, (seq % ring) as u32).expect("in the ring"));
	}
}

/// Hole 5: entries that left the ring could be rewritten undetected. The chain commits to the
/// whole trail; an archive copy folds to the commitment only if it is exact.
#[test]
fn hole5_entries_that_left_the_ring_are_checked_against_the_audit_head() {
	new_test_ext().execute_with(|| {
		assert_eq!(Consent::audit_head(&PATIENT), (0, [0u8; 32]));
		let mut archive: Vec<AuditRecord<AccountId, u64>> = Vec::new();
		assert_eq!(audit_chain_head(&archive), Some([0u8; 32]));

		grant_read_all(DOCTOR_B);
		archive_new_entries(&mut archive);
		// 1 grant + 70 accesses (every third a denied copy) = 71 entries > 64 ring slots.
		for i in 0..70u8 {
			if i % 5 == 0 {
				run_to_block(System::block_number() + 1);
				MockTime::set(now() + RateWindow::get());
			}
			record_access(DOCTOR_B, record(i, &[]), if i % 3 == 0 { COPY } else { READ });
			archive_new_entries(&mut archive);
			// The head commits to exactly what has been written so far.
			assert_eq!(audit_chain_head(&archive), Some(Consent::audit_head(&PATIENT).1));
		}

		let ring = <<Test as Config>::MaxAuditEntriesPerPatient as Get<u32>>::get() as u64;
		let (total, head) = Consent::audit_head(&PATIENT);
		assert_eq!(total, 71);
		assert_eq!(archive.len() as u64, total);
		// The chain's state holds only the last 64; the first 7 are only in the archive.
		let (_, stored) = Consent::audit_trail(&PATIENT, 0, MAX_AUDIT_PAGE);
		assert_eq!(stored.first().unwrap().seq, total - ring);
		assert_eq!(&archive[(total - ring) as usize..], &stored[..]);
		assert_eq!(audit_chain_head(&archive), Some(head));

		// An evicted access altered: a refused copy turned into an allowed one, another user,
		// another time.
		assert!(
			matches!(archive[1].event, AuditEvent::Access { allowed: false, .. }),
			"entry 1 is the first (refused) copy"
		);
		let mut altered = archive.clone();
		if let AuditEvent::Access { allowed, .. } = &mut altered[1].event {
			*allowed = true;
		}
		assert_ne!(audit_chain_head(&altered), Some(head));
		let mut altered = archive.clone();
		if let AuditEvent::Access { user, .. } = &mut altered[2].event {
			*user = DOCTOR_A;
		}
		assert_ne!(audit_chain_head(&altered), Some(head));
		let mut altered = archive.clone();
		altered[3].at += 1;
		assert_ne!(audit_chain_head(&altered), Some(head));

		// An evicted entry removed: a gap, or renumbered to hide it.
		let mut removed = archive.clone();
		removed.remove(1);
		assert_eq!(audit_chain_head(&removed), None);
		removed.iter_mut().enumerate().for_each(|(i, r)| r.seq = i as u64);
		assert!(audit_chain_head(&removed).is_some_and(|h| h != head));
		// Dropping the tail does not match either.
		assert_ne!(audit_chain_head(&archive[..archive.len() - 1]), Some(head));

		// Evicted entries reordered: out of sequence, or renumbered to look in order.
		let mut reordered = archive.clone();
		reordered.swap(1, 2);
		assert_eq!(audit_chain_head(&reordered), None);
		reordered.iter_mut().enumerate().for_each(|(i, r)| r.seq = i as u64);
		assert_ne!(reordered, archive);
		assert!(audit_chain_head(&reordered).is_some_and(|h| h != head));
	});
}

/// Hole 11: one requester could fill a patient's pending slots. Each requester holds at most
/// `MaxPendingPerRequester` unanswered requests per patient; answers and lapses free them.
#[test]
fn hole11_one_requester_cannot_fill_a_patients_pending_slots() {
	new_test_ext().execute_with(|| {
		let per_requester: u32 = <<Test as Config>::MaxPendingPerRequester as Get<u32>>::get();
		let slots: u32 = <<Test as Config>::MaxPendingRequestsPerPatient as Get<u32>>::get();
		assert!(per_requester < slots);
		let ask = |who, patient| {
			Consent::request_access(
				signed(who),
				patient,
				read_only(),
				GrantScope::AllRecords,
				now(),
				now() + DAY,
				Purpose::Payment,
			)
		};
		let mut flood = vec![];
		for _ in 0..per_requester {
			flood.push(request(INSURER, read_only(), GrantScope::AllRecords, Purpose::Payment));
		}
		assert_eq!(PendingBy::<Test>::get(PATIENT, INSURER), per_requester);
		assert_noop!(ask(INSURER, PATIENT), Error::<Test>::TooManyRequestsFromRequester);
		// Counted per patient: the insurer's requests to another patient are apart.
		assert_ok!(ask(INSURER, OTHER_PATIENT));
		// The patient's other slots stay open to others.
		let doctor_a = request(DOCTOR_A, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		let doctor_b = request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		assert_eq!(Consent::pending_requests(&PATIENT).len() as u32, slots);

		// A denial frees a slot of the requester...
		assert_ok!(Consent::deny_request(signed(PATIENT), flood[0]));
		assert_eq!(PendingBy::<Test>::get(PATIENT, INSURER), per_requester - 1);
		let again = request(INSURER, read_only(), GrantScope::AllRecords, Purpose::Payment);
		assert_noop!(ask(INSURER, PATIENT), Error::<Test>::TooManyRequestsFromRequester);
		// ...so does an approval...
		assert_ok!(Consent::approve_request(signed(PATIENT), flood[1]));
		assert_eq!(PendingBy::<Test>::get(PATIENT, INSURER), per_requester - 1);
		assert_ok!(Consent::approve_request(signed(PATIENT), doctor_a));
		assert!(!PendingBy::<Test>::contains_key(PATIENT, DOCTOR_A));
		// ...and a lapse.
		MockTime::set(now() + RequestTtl::get());
		run_to_block(3);
		assert!(!Requests::<Test>::contains_key(again));
		assert!(!Requests::<Test>::contains_key(doctor_b));
		assert_eq!(PendingBy::<Test>::iter().count(), 0);
		assert!(Consent::pending_requests(&PATIENT).is_empty());
	});
}

/// Hole 11: any doctor could read a patient's records by claiming an emergency. Without an
/// attestation the request waits for the patient.
#[test]
fn hole11_an_emergency_request_without_attestation_waits() {
	new_test_ext().execute_with(|| {
		assert_ok!(Consent::set_policy(signed(PATIENT), emergency_policy(DAY)));
		let req =
			request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		assert!(Requests::<Test>::contains_key(req));
		assert!(Consent::grants_of(&PATIENT).is_empty());
		assert!(!allowed(DOCTOR_B, &record(1, &[]), READ));

		// An attestation for another patient's emergency opens nothing here (and stays).
		assert_ok!(Consent::attest_emergency(signed(AUTHORITY), OTHER_PATIENT, DOCTOR_B));
		let req =
			request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		assert!(Requests::<Test>::contains_key(req));
		assert!(Consent::grants_of(&PATIENT).is_empty());
		assert_eq!(EmergencyAttestations::<Test>::get(DOCTOR_B).unwrap().patient, OTHER_PATIENT);
	});
}

/// Hole 11: only a health authority or the doctor's own active hospital attests an emergency.
#[test]
fn hole11_only_a_health_authority_or_the_doctors_own_hospital_attests() {
	new_test_ext().execute_with(|| {
		let try_attest =
			|attester, doctor| Consent::attest_emergency(signed(attester), PATIENT, doctor);
		// An unrelated hospital, a doctor (of another or the same hospital, or the doctor
		// itself), an insurer, the patient.
		for (attester, doctor) in [
			(HOSPITAL_A, DOCTOR_B),
			(DOCTOR_A, DOCTOR_B),
			(DOCTOR_A2, DOCTOR_A),
			(DOCTOR_B, DOCTOR_B),
			(INSURER, DOCTOR_B),
			(PATIENT, DOCTOR_B),
		] {
			assert_noop!(try_attest(attester, doctor), Error::<Test>::NotEmergencyAttester);
		}
		assert_noop!(try_attest(STRANGER, DOCTOR_B), Error::<Test>::NotActiveParticipant);
		assert_noop!(try_attest(AUTHORITY, INSURER), Error::<Test>::NotAnActiveDoctor);
		assert_noop!(try_attest(AUTHORITY, HOSPITAL_B), Error::<Test>::NotAnActiveDoctor);
		assert_noop!(
			Consent::attest_emergency(signed(AUTHORITY), DOCTOR_A, DOCTOR_B),
			Error::<Test>::NotAPatient
		);
		assert_ok!(MockRegistry::suspend(&DOCTOR_A2));
		assert_noop!(try_attest(HOSPITAL_A, DOCTOR_A2), Error::<Test>::NotAnActiveDoctor);
		assert_eq!(EmergencyAttestations::<Test>::iter().count(), 0);

		// The doctor's own hospital.
		let ttl: Moment = EmergencyAttestationTtl::get();
		assert_ok!(try_attest(HOSPITAL_B, DOCTOR_B));
		System::assert_last_event(
			Event::EmergencyAttested {
				patient: PATIENT,
				doctor: DOCTOR_B,
				attester: HOSPITAL_B,
				expires_at: now() + ttl,
			}
			.into(),
		);
		assert_eq!(
			EmergencyAttestations::<Test>::get(DOCTOR_B),
			Some(EmergencyAttestation {
				patient: PATIENT,
				attester: HOSPITAL_B,
				expires_at: now() + ttl
			})
		);
		assert_eq!(
			audit_events(PATIENT).last(),
			Some(&AuditEvent::EmergencyAttested { doctor: DOCTOR_B })
		);
		// A health authority, for any active doctor. Another attester cannot replace an
		// attestation in force (it could cancel a break-glass in progress); the same attester
		// can renew it, and anyone can once it expired.
		assert_ok!(try_attest(AUTHORITY, DOCTOR_A));
		run_to_block(2);
		assert_noop!(try_attest(AUTHORITY, DOCTOR_B), Error::<Test>::AttestationInForce);
		assert_ok!(try_attest(HOSPITAL_B, DOCTOR_B));
		MockTime::set(now() + ttl);
		assert_ok!(try_attest(AUTHORITY, DOCTOR_B));
		assert_eq!(
			EmergencyAttestations::<Test>::get(DOCTOR_B),
			Some(EmergencyAttestation {
				patient: PATIENT,
				attester: AUTHORITY,
				expires_at: now() + ttl
			})
		);
	});
}

/// Hole 11: with an attestation, the emergency policy grants once, for at most
/// `MaxEmergencyDuration`, flagged in the trail and announced by an event.
#[test]
fn hole11_an_attested_emergency_is_granted_once_capped_flagged_and_announced() {
	new_test_ext().execute_with(|| {
		// The patient's policy says three days; the runtime caps emergencies at one.
		assert_ok!(Consent::set_policy(signed(PATIENT), emergency_policy(3 * DAY)));
		attest(HOSPITAL_B, DOCTOR_B);
		run_to_block(2);
		let max: Moment = MaxEmergencyDuration::get();
		assert_ok!(Consent::request_access(
			signed(DOCTOR_B),
			PATIENT,
			read_only(),
			GrantScope::AllRecords,
			now(),
			now() + 3 * DAY,
			Purpose::EmergencyTreatment
		));
		let req = NextRequestId::<Test>::get() - 1;
		let grant_id = NextGrantId::<Test>::get() - 1;
		let until = now() + max;
		assert!(!Requests::<Test>::contains_key(req));
		let stored = Grants::<Test>::get(grant_id).unwrap();
		assert_eq!(stored.source, GrantSource::Policy { policy: 0, request: req });
		assert_eq!(stored.valid_until, until);
		assert!(allowed(DOCTOR_B, &record(1, &[]), READ));
		assert!(!Consent::is_access_allowed(&PATIENT, &DOCTOR_B, &record(1, &[]), READ, until));
		// Flagged in the trail and announced to the patient's client.
		assert!(audit_events(PATIENT).contains(&AuditEvent::EmergencyAccessGranted {
			request: req,
			grant: grant_id,
			attester: HOSPITAL_B,
			until,
		}));
		System::assert_has_event(
			Event::EmergencyAccessGranted {
				patient: PATIENT,
				doctor: DOCTOR_B,
				attester: HOSPITAL_B,
				grant: grant_id,
				until,
			}
			.into(),
		);
		// Used up: a second emergency request waits for the patient.
		assert!(!EmergencyAttestations::<Test>::contains_key(DOCTOR_B));
		let second =
			request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		assert!(Requests::<Test>::contains_key(second));
		assert_eq!(Consent::grants_of(&PATIENT).len(), 1);

		// A health authority's attestation works the same way for another doctor.
		attest(AUTHORITY, DOCTOR_A);
		let by_authority =
			request(DOCTOR_A, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		assert!(!Requests::<Test>::contains_key(by_authority));
		System::assert_has_event(
			Event::EmergencyAccessGranted {
				patient: PATIENT,
				doctor: DOCTOR_A,
				attester: AUTHORITY,
				grant: NextGrantId::<Test>::get() - 1,
				until,
			}
			.into(),
		);
	});
}

/// Hole 11: an attestation is usable only for `EmergencyAttestationTtl`.
#[test]
fn hole11_an_expired_attestation_grants_nothing() {
	new_test_ext().execute_with(|| {
		assert_ok!(Consent::set_policy(signed(PATIENT), emergency_policy(DAY)));
		attest(AUTHORITY, DOCTOR_B);
		let expires_at = now() + EmergencyAttestationTtl::get();
		MockTime::set(expires_at);
		let late =
			request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		assert!(Requests::<Test>::contains_key(late));
		assert!(Consent::grants_of(&PATIENT).is_empty());

		// A fresh attestation works.
		attest(AUTHORITY, DOCTOR_B);
		let fresh =
			request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		assert!(!Requests::<Test>::contains_key(fresh));
		assert!(allowed(DOCTOR_B, &record(1, &[]), READ));
	});
}

/// Hole 11: a suspended hospital's doctors acted for it. They no longer get after-visit or
/// emergency grants through it, record visits for it, or get attested.
#[test]
fn hole11_a_suspended_hospitals_doctors_get_no_grant_and_record_no_visits() {
	new_test_ext().execute_with(|| {
		let policy = Policy {
			rule: PolicyRule::AfterVisit { institution: HOSPITAL_A, window: 30 * DAY },
			actions: read_only(),
			scope: GrantScope::AllRecords,
		};
		assert_ok!(Consent::set_policy(signed(PATIENT), policy));
		assert_ok!(Consent::set_policy(signed(PATIENT), emergency_policy(DAY)));
		assert_ok!(visit(DOCTOR_A, PATIENT, HOSPITAL_A));
		// While the hospital is active its doctors are granted.
		let before = request(DOCTOR_A2, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		assert!(!Requests::<Test>::contains_key(before));
		attest(AUTHORITY, DOCTOR_A);

		assert_ok!(MockRegistry::suspend(&HOSPITAL_A));
		assert!(!MockRegistry::is_active_doctor_of(&DOCTOR_A, &HOSPITAL_A));
		run_to_block(2);
		let after_visit =
			request(DOCTOR_A, read_only(), GrantScope::AllRecords, Purpose::Treatment);
		assert!(Requests::<Test>::contains_key(after_visit));
		let emergency =
			request(DOCTOR_A, read_only(), GrantScope::AllRecords, Purpose::EmergencyTreatment);
		assert!(Requests::<Test>::contains_key(emergency));
		assert!(!Consent::grants_of(&PATIENT)
			.iter()
			.any(|(_, g)| g.grantee == Grantee::Account(DOCTOR_A)));

		// Nor do they (or the hospital) record visits, even with the patient's proof.
		assert_noop!(visit(DOCTOR_A, PATIENT, HOSPITAL_A), Error::<Test>::NotCareProvider);
		assert_noop!(visit(DOCTOR_A2, PATIENT, HOSPITAL_A), Error::<Test>::NotCareProvider);
		assert_noop!(visit(HOSPITAL_A, PATIENT, HOSPITAL_A), Error::<Test>::NotActiveParticipant);
		// Nor are they attested, by anyone.
		assert_noop!(
			Consent::attest_emergency(signed(AUTHORITY), PATIENT, DOCTOR_A),
			Error::<Test>::NotAnActiveDoctor
		);
		assert_noop!(
			Consent::attest_emergency(signed(HOSPITAL_A), PATIENT, DOCTOR_A),
			Error::<Test>::NotActiveParticipant
		);

		// Reinstated by the KMC, the hospital's doctors act for it again.
		MockRegistry::reinstate(HOSPITAL_A);
		assert_ok!(visit(DOCTOR_A, PATIENT, HOSPITAL_A));
	});
}

/// `user`'s signed statement asking `proxy` to search the patient's records with `trapdoor`.
fn signed_search(
	proxy: AccountId,
	user: AccountId,
	trapdoor: u8,
) -> (SearchStatement<AccountId>, Signature) {
	let issued_at = now().max(AccessNonce::<Test>::get(user, proxy) + 1);
	let statement =
		SearchStatement { proxy, patient: PATIENT, trapdoor: [trapdoor; 32], issued_at };
	let signature = sign(user, &statement.signing_payload());
	(statement, signature)
}

/// Hole 6: a keyword search told the searcher which coded records a patient has, and left no
/// trace. Now the proxy records each search, for the user who signed it, with its result count,
/// and the search counts against the user's access rate.
#[test]
fn hole6_searches_are_audited_like_reads_and_only_for_the_user_who_asked() {
	new_test_ext().execute_with(|| {
		// The legitimate path: a doctor's signed search, recorded by the proxy asked.
		let (statement, signature) = signed_search(AUTHORITY, DOCTOR_B, 7);
		assert_ok!(Consent::record_search(
			signed(AUTHORITY),
			DOCTOR_B,
			statement.clone(),
			signature.clone(),
			2
		));
		let last = Consent::audit_trail(&PATIENT, 0, MAX_AUDIT_PAGE).1.pop().unwrap();
		assert_eq!(last.event, AuditEvent::Search { user: DOCTOR_B, results: 2 });
		assert_eq!(last.actor, AUTHORITY);
		assert_eq!(last.at, now());
		System::assert_last_event(
			Event::SearchRecorded {
				patient: PATIENT,
				user: DOCTOR_B,
				proxy: AUTHORITY,
				results: 2,
				counted: true,
			}
			.into(),
		);
		assert_eq!(Activity::<Test>::get(DOCTOR_B).accesses, 1);

		// Attacks: a replay, a search nobody signed, one signed by another user, one made for
		// another proxy, a stale one, and one naming a non-patient all fail and change nothing.
		assert_noop!(
			Consent::record_search(signed(AUTHORITY), DOCTOR_B, statement, signature, 2),
			Error::<Test>::AccessAlreadyRecorded
		);
		let (statement, _) = signed_search(AUTHORITY, DOCTOR_B, 8);
		assert_noop!(
			Consent::record_search(
				signed(AUTHORITY),
				DOCTOR_B,
				statement.clone(),
				sign(AUTHORITY, &statement.signing_payload()),
				0
			),
			Error::<Test>::AccessNotSignedByUser
		);
		// A statement DOCTOR_A signed, passed off as DOCTOR_B's.
		let (mut other, _) = signed_search(AUTHORITY, DOCTOR_A, 8);
		other.issued_at = now() + 1;
		let other_sig = sign(DOCTOR_A, &other.signing_payload());
		assert_noop!(
			Consent::record_search(signed(AUTHORITY), DOCTOR_B, other, other_sig, 0),
			Error::<Test>::AccessNotSignedByUser
		);
		register_second_authority();
		let (elsewhere, sig) = signed_search(AUTHORITY_2, DOCTOR_B, 8);
		assert_noop!(
			Consent::record_search(signed(AUTHORITY), DOCTOR_B, elsewhere, sig, 0),
			Error::<Test>::WrongProxy
		);
		let mut stale = signed_search(AUTHORITY, DOCTOR_B, 9).0;
		stale.issued_at = now() - 11 * 60_000;
		let sig = sign(DOCTOR_B, &stale.signing_payload());
		assert_noop!(
			Consent::record_search(signed(AUTHORITY), DOCTOR_B, stale, sig, 0),
			Error::<Test>::StaleStatement
		);
		let (mut wrong, _) = signed_search(AUTHORITY, DOCTOR_B, 9);
		wrong.patient = DOCTOR_A;
		let sig = sign(DOCTOR_B, &wrong.signing_payload());
		assert_noop!(
			Consent::record_search(signed(AUTHORITY), DOCTOR_B, wrong, sig, 0),
			Error::<Test>::NotAPatient
		);
		// A suspended searcher is served nothing, so no search of theirs is recorded.
		MockRegistry::suspend(&DOCTOR_A).unwrap();
		let (s, sig) = signed_search(AUTHORITY, DOCTOR_A, 9);
		assert_noop!(
			Consent::record_search(signed(AUTHORITY), DOCTOR_A, s, sig, 0),
			Error::<Test>::NotActiveParticipant
		);
		MockRegistry::reinstate(DOCTOR_A);
		// A proxy cannot invent users: an access for an unregistered account is refused.
		let (s, sig) = signed_access(STRANGER, PATIENT, record(1, &[]), READ);
		assert_noop!(
			Consent::record_access(signed(AUTHORITY), STRANGER, s, sig),
			Error::<Test>::UserNotRegistered
		);
		// Only a health authority records searches.
		let (s, sig) = signed_search(AUTHORITY, DOCTOR_B, 9);
		assert_noop!(
			Consent::record_search(signed(DOCTOR_B), DOCTOR_B, s, sig, 0),
			DispatchError::BadOrigin
		);

		// Searches count against the access rate (5 per window in the mock): the sixth
		// suspends the searcher, and is recorded as disclosing nothing.
		for _ in 0..4 {
			run_to_block(System::block_number() + 1);
			let (s, sig) = signed_search(AUTHORITY, DOCTOR_B, 10);
			assert_ok!(Consent::record_search(signed(AUTHORITY), DOCTOR_B, s, sig, 1));
		}
		assert!(!MockRegistry::is_suspended(DOCTOR_B));
		run_to_block(System::block_number() + 1);
		let (s, sig) = signed_search(AUTHORITY, DOCTOR_B, 10);
		assert_ok!(Consent::record_search(signed(AUTHORITY), DOCTOR_B, s, sig, 3));
		assert!(MockRegistry::is_suspended(DOCTOR_B));
		System::assert_has_event(
			Event::SearchRecorded {
				patient: PATIENT,
				user: DOCTOR_B,
				proxy: AUTHORITY,
				results: 0,
				counted: false,
			}
			.into(),
		);
		// The trail stays verifiable.
		let (total, trail) = Consent::audit_trail(&PATIENT, 0, MAX_AUDIT_PAGE);
		assert_eq!(audit_chain_head(&trail), Some(Consent::audit_head(&PATIENT).1));
		assert_eq!(total, trail.len() as u64);
	});
}

/// Hole 11 (continued): an institution cannot flood a patient's trail with attestations; they
/// count against its request rate, and one over the limit suspends it instead.
#[test]
fn hole11_attestations_count_against_the_attesters_rate() {
	new_test_ext().execute_with(|| {
		// 5 requests per window in the mock.
		for _ in 0..5 {
			assert_ok!(Consent::attest_emergency(signed(HOSPITAL_A), PATIENT, DOCTOR_A));
		}
		assert!(!MockRegistry::is_suspended(HOSPITAL_A));
		let before = AuditLength::<Test>::get(PATIENT);
		assert_ok!(Consent::attest_emergency(signed(HOSPITAL_A), PATIENT, DOCTOR_A2));
		assert!(MockRegistry::is_suspended(HOSPITAL_A));
		// Not stored: DOCTOR_A2 holds no attestation; the trail says why.
		assert!(EmergencyAttestations::<Test>::get(DOCTOR_A2).is_none());
		assert_eq!(AuditLength::<Test>::get(PATIENT), before + 1);
		assert!(matches!(
			audit_events(PATIENT).last(),
			Some(AuditEvent::RateLimitExceeded { who: HOSPITAL_A, suspended: true })
		));
	});
}

/// Hole 10: category scopes were checked against categories the proxy stated. Now the chain
/// applies them to the categories it vouches for (anchored with the record's summary, as the
/// patient confirmed them on the slip), per patient and record.
#[test]
fn hole10_a_category_grant_opens_only_records_whose_anchored_categories_it_covers() {
	new_test_ext().execute_with(|| {
		grant(
			Grantee::Account(INSURER),
			read_only(),
			GrantScope::Categories(cats(&[CIRCULATORY, LAB])),
			now(),
			now() + DAY,
		);
		// Anchored as a circulatory record: the category grant opens it.
		MockRecords::anchor(H256::repeat_byte(1), PATIENT, &[CIRCULATORY]);
		let honest = AccessTarget::Record { id: rec(1), categories: cats(&[CIRCULATORY]) };
		assert!(allowed(INSURER, &honest, READ));
		// Even described with no categories, the chain's categories decide.
		let bare = AccessTarget::Record { id: rec(1), categories: cats(&[]) };
		assert!(allowed(INSURER, &bare, READ));
		// A mental-health record described (by the asker or a proxy) as circulatory stays
		// closed.
		MockRecords::anchor(H256::repeat_byte(2), PATIENT, &[SENSITIVE_MENTAL_HEALTH]);
		let lied = AccessTarget::Record { id: rec(2), categories: cats(&[CIRCULATORY]) };
		assert!(!allowed(INSURER, &lied, READ));
		// A record the chain knows nothing about has no categories: no category scope covers
		// it, whatever it is said to be.
		let unanchored = AccessTarget::Record { id: rec(3), categories: cats(&[LAB]) };
		assert!(!allowed(INSURER, &unanchored, READ));
		// A record anchored for another patient (say, the same hash on another patient's slip)
		// vouches for nothing about this patient's record.
		MockRecords::anchor(H256::repeat_byte(4), OTHER_PATIENT, &[LAB]);
		let theirs = AccessTarget::Record { id: rec(4), categories: cats(&[LAB]) };
		assert!(!allowed(INSURER, &theirs, READ));
		// Listed-record and all-records grants do not depend on categories.
		grant_read_all(DOCTOR_B);
		assert!(allowed(DOCTOR_B, &unanchored, READ));

		// A recorded access is decided, and entered in the trail, with the vouched facts.
		let statement = access_statement(AUTHORITY, INSURER, PATIENT, lied, READ);
		assert_ok!(Consent::record_access(
			signed(AUTHORITY),
			INSURER,
			statement.clone(),
			sign_access(INSURER, &statement)
		));
		assert!(!last_access_allowed());
		assert!(matches!(
			audit_events(PATIENT).last(),
			Some(AuditEvent::Access { target: AccessTarget::Record { id, categories }, .. })
				if *id == rec(2) && categories.to_vec() == vec![SENSITIVE_MENTAL_HEALTH]
		));
	});
}

/// `do_try_state` holds after every story (every test ends with it), and catches each kind of
/// corruption of the grant and request indices, their counters and the audit ring, naming the
/// invariant it breaks.
#[test]
fn try_state_names_each_broken_invariant() {
	use mbds_primitives::invariants::message_of;
	// Runs `corrupt` on a patient with two grants, one pending request and an audit trail,
	// given the first grant's and the request's ids; the broken invariant's message.
	fn broken(corrupt: impl FnOnce(GrantId, RequestId)) -> &'static str {
		new_test_ext().into_inner().execute_with(|| {
			let first = grant_read_all(DOCTOR_A);
			grant_read_all(INSURER);
			let request = request(DOCTOR_B, read_only(), GrantScope::AllRecords, Purpose::Research);
			assert!(Requests::<Test>::contains_key(request), "the request waits");
			assert_ok!(Consent::do_try_state());
			corrupt(first, request);
			message_of(&Consent::do_try_state().expect_err("the corruption is caught"))
		})
	}
	let doctor_a = Grantee::Account(DOCTOR_A);
	let cases: [(&str, &'static str); 11] = [
		(
			"consent: every grant is in the index under its patient and grantee",
			broken(|_, _| GrantsOf::<Test>::remove(PATIENT, &doctor_a)),
		),
		(
			"consent: every grant index entry is a grant of that patient and grantee",
			broken(|first, _| Grants::<Test>::remove(first)),
		),
		(
			"consent: a patient's grant count is its number of grants",
			broken(|_, _| GrantCount::<Test>::insert(PATIENT, 5)),
		),
		(
			"consent: grant ids are below the next grant id",
			broken(|_, _| NextGrantId::<Test>::put(1)),
		),
		(
			"consent: a patient's policies are non-empty, in id order, below the next policy id",
			broken(|_, _| {
				let policy = Policy {
					rule: PolicyRule::Emergency { duration: DAY },
					actions: read_only(),
					scope: GrantScope::AllRecords,
				};
				Policies::<Test>::insert(PATIENT, BoundedVec::truncate_from(vec![(7, policy)]));
			}),
		),
		(
			"consent: every request is in its patient's pending index",
			broken(|_, _| PendingOf::<Test>::remove(PATIENT)),
		),
		(
			"consent: the per-requester pending count is its number of requests",
			broken(|_, _| PendingBy::<Test>::insert(PATIENT, DOCTOR_B, 2)),
		),
		(
			"consent: requests are between the expiry cursor and the next request id",
			broken(|_, _| ExpiryCursor::<Test>::put(NextRequestId::<Test>::get())),
		),
		(
			"consent: the audit ring holds the last entries of the trail",
			broken(|_, _| AuditLog::<Test>::remove(PATIENT, 0)),
		),
		(
			"consent: a trail still wholly in the ring folds to its audit head",
			broken(|_, _| AuditHead::<Test>::insert(PATIENT, [1; 32])),
		),
		(
			"consent: only patients with audit entries have an audit head",
			broken(|_, _| AuditHead::<Test>::insert(STRANGER, [1; 32])),
		),
	];
	for (invariant, message) in cases {
		assert!(message.starts_with(invariant), "expected {invariant:?}, got {message:?}");
	}
	// The detail names the item: here the grant missing from the index.
	let message = broken(|first, _| {
		assert_eq!(first, 0);
		GrantsOf::<Test>::remove(PATIENT, Grantee::Account(DOCTOR_A))
	});
	assert!(message.contains("grant 0 of 1 to Account(20)"), "{message}");
}

#[test]
fn a_grant_is_charged_for_the_grants_it_reads_not_for_the_worst_case() {
	use crate::weights::WeightInfo;
	new_test_ext().execute_with(|| {
		let g = |until| {
			Consent::grant(
				signed(PATIENT),
				Grantee::Account(DOCTOR_B),
				read_only(),
				GrantScope::AllRecords,
				now(),
				until,
				None,
			)
			.expect("a valid grant")
			.actual_weight
		};
		// The first grant to a grantee reads no earlier one, the second reads one.
		assert_eq!(g(now() + DAY), Some(<() as WeightInfo>::grant(0)));
		assert_eq!(g(now() + 2 * DAY), Some(<() as WeightInfo>::grant(1)));
		// The declared weight is the worst case: a full list of expired grants.
		let call = crate::Call::<Test>::grant {
			grantee: Grantee::Account(DOCTOR_B),
			actions: read_only(),
			scope: GrantScope::AllRecords,
			valid_from: now(),
			valid_until: now() + DAY,
			purpose: None,
		};
		use frame_support::dispatch::GetDispatchInfo;
		assert_eq!(
			call.get_dispatch_info().call_weight,
			<() as WeightInfo>::grant(<<Test as crate::Config>::MaxGrantsPerGrantee as frame_support::traits::Get<u32>>::get())
		);
	});
}
