//! User stories of the key management centre registry.

use crate::{mock::*, *};
use frame_support::{assert_noop, assert_ok, dispatch::GetDispatchInfo, traits::Hooks};
use mbds_primitives::{InstitutionKind, ParticipantRegistry, Role, SuspendParticipant};
use sp_runtime::{
	traits::{DispatchTransaction, TransactionExtension},
	transaction_validity::{InvalidTransaction, TransactionSource, TransactionValidityError},
	DispatchError,
};

fn register(who: u64, role: Role<u64>) -> frame_support::dispatch::DispatchResult {
	Kmc::register(RuntimeOrigin::root(), who, role, identity(who), keys(who as u8))
}

fn last_event() -> RuntimeEvent {
	System::events().pop().expect("an event").event
}

#[test]
fn kmc_registers_a_patient_with_keys_and_commitment_only() {
	new_test_ext().execute_with(|| {
		assert_ok!(register(NEWCOMER, Role::Patient));

		let info = Participants::<Test>::get(NEWCOMER).unwrap();
		assert_eq!(info.role, Role::Patient);
		assert_eq!(info.identity, identity(NEWCOMER));
		assert_eq!(info.status, ParticipantStatus::Active);
		assert_eq!(info.key_version, 0);
		assert_eq!(ActiveKeys::<Test>::get(NEWCOMER), Some(keys(NEWCOMER as u8)));
		assert_eq!(IdentityOwner::<Test>::get(identity(NEWCOMER)), Some(NEWCOMER));
		assert!(Kmc::is_active_patient(&NEWCOMER));
		// The account exists without any balance, so its nonce can be stored.
		assert_eq!(System::account(NEWCOMER).sufficients, 1);
		assert_eq!(
			last_event(),
			Event::Registered { who: NEWCOMER, role: Role::Patient, identity: identity(NEWCOMER) }
				.into()
		);
	});
}

#[test]
fn genesis_participants_are_registered_and_doctor_belongs_to_hospital() {
	new_test_ext().execute_with(|| {
		assert!(Kmc::is_active_doctor_of(&DOCTOR, &HOSPITAL));
		assert!(!Kmc::is_active_doctor_of(&DOCTOR, &INSURER));
		assert_eq!(Kmc::role_of(&HOSPITAL), Some(Role::Institution(InstitutionKind::Hospital)));
		assert_eq!(Kmc::role_of(&NEWCOMER), None);
		assert!(!Kmc::is_active(&NEWCOMER));
	});
}

#[test]
fn second_registration_of_an_account_or_an_identity_is_refused() {
	new_test_ext().execute_with(|| {
		// Same account, fresh identity.
		assert_noop!(
			Kmc::register(RuntimeOrigin::root(), PATIENT, Role::Patient, identity(99), keys(9)),
			Error::<Test>::AccountAlreadyRegistered
		);
		// Fresh account, identity already bound to the patient.
		assert_noop!(
			Kmc::register(
				RuntimeOrigin::root(),
				NEWCOMER,
				Role::Patient,
				identity(PATIENT),
				keys(9)
			),
			Error::<Test>::IdentityAlreadyRegistered
		);
	});
}

#[test]
fn doctor_must_belong_to_an_active_hospital_or_platform() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			register(NEWCOMER, Role::Doctor { institution: 77 }),
			Error::<Test>::UnknownInstitution
		);
		assert_noop!(
			register(NEWCOMER, Role::Doctor { institution: PATIENT }),
			Error::<Test>::UnknownInstitution
		);
		assert_noop!(
			register(NEWCOMER, Role::Doctor { institution: INSURER }),
			Error::<Test>::InstitutionCannotEmployDoctors
		);
		assert_ok!(Kmc::suspend(RuntimeOrigin::root(), HOSPITAL));
		assert_noop!(
			register(NEWCOMER, Role::Doctor { institution: HOSPITAL }),
			Error::<Test>::InstitutionSuspended
		);
		assert_ok!(Kmc::reinstate(RuntimeOrigin::root(), HOSPITAL));
		assert_ok!(register(NEWCOMER, Role::Doctor { institution: HOSPITAL }));
		assert!(!Kmc::is_active_doctor_of(&NEWCOMER, &HOSPITAL), "until the hospital confirms");
		assert_ok!(Kmc::employ(RuntimeOrigin::signed(HOSPITAL), NEWCOMER));
		assert!(Kmc::is_active_doctor_of(&NEWCOMER, &HOSPITAL));
	});
}

#[test]
fn empty_keys_are_refused() {
	new_test_ext().execute_with(|| {
		let mut k = keys(5);
		k.search_key.key = Default::default();
		assert_noop!(
			Kmc::register(RuntimeOrigin::root(), NEWCOMER, Role::Patient, identity(NEWCOMER), k),
			Error::<Test>::EmptyKey
		);
	});
}

#[test]
fn non_kmc_origin_is_refused_everywhere() {
	new_test_ext().execute_with(|| {
		let o = || RuntimeOrigin::signed(HOSPITAL);
		assert_noop!(
			Kmc::register(o(), NEWCOMER, Role::Patient, identity(NEWCOMER), keys(1)),
			DispatchError::BadOrigin
		);
		assert_noop!(Kmc::rotate_keys(o(), PATIENT, keys(50)), DispatchError::BadOrigin);
		assert_noop!(Kmc::suspend(o(), PATIENT), DispatchError::BadOrigin);
		assert_ok!(Kmc::suspend(RuntimeOrigin::root(), PATIENT));
		assert_noop!(
			Kmc::reinstate(RuntimeOrigin::signed(PATIENT), PATIENT),
			DispatchError::BadOrigin
		);
	});
}

/// H2 of the attacker review: one KMC operator acts alone for patients and doctors only. It
/// cannot seat an institution or a health authority (which would run a proxy and attest
/// emergencies), suspend or reinstate one, or swap anyone's keys for keys it holds.
#[test]
fn one_operator_cannot_seat_institutions_or_rekey_anyone() {
	new_test_ext().execute_with(|| {
		let op = || RuntimeOrigin::signed(OPERATOR);
		// Patients and doctors: the operator alone.
		assert_ok!(Kmc::register(op(), NEWCOMER, Role::Patient, identity(NEWCOMER), keys(1)));
		let doctor = Role::Doctor { institution: HOSPITAL };
		assert_ok!(Kmc::register(op(), 11, doctor, identity(11), keys(11)));
		assert_ok!(Kmc::suspend(op(), DOCTOR));
		assert_ok!(Kmc::reinstate(op(), DOCTOR));

		// Institutions of every kind: the council only, with an error that says so.
		for kind in [
			InstitutionKind::HealthAuthority,
			InstitutionKind::Hospital,
			InstitutionKind::InternetPlatform,
			InstitutionKind::Insurer,
		] {
			assert_noop!(
				Kmc::register(op(), 20, Role::Institution(kind), identity(20), keys(20)),
				Error::<Test>::CouncilOnly
			);
		}
		assert_noop!(Kmc::suspend(op(), HOSPITAL), Error::<Test>::CouncilOnly);
		assert_ok!(Kmc::suspend(RuntimeOrigin::root(), HOSPITAL));
		assert_noop!(Kmc::reinstate(op(), HOSPITAL), Error::<Test>::CouncilOnly);

		// Anyone's keys: the council only.
		for who in [PATIENT, DOCTOR, HOSPITAL] {
			assert_noop!(Kmc::rotate_keys(op(), who, keys(77)), Error::<Test>::CouncilOnly);
		}
		let before = ActiveKeys::<Test>::get(PATIENT);
		assert_ok!(Kmc::rotate_keys(RuntimeOrigin::root(), PATIENT, keys(77)));
		assert_ne!(ActiveKeys::<Test>::get(PATIENT), before);

		// The council registers a health authority.
		assert_ok!(Kmc::register(
			RuntimeOrigin::root(),
			20,
			Role::Institution(InstitutionKind::HealthAuthority),
			identity(20),
			keys(20)
		));
		// An account that is not an operator gets `BadOrigin`, not `CouncilOnly`.
		assert_noop!(
			Kmc::register(
				RuntimeOrigin::signed(NEWCOMER),
				21,
				Role::Patient,
				identity(21),
				keys(21)
			),
			DispatchError::BadOrigin
		);
	});
}

/// A participant replaces its own keys with its own signature; nobody else's, and not while
/// suspended (then only the council does).
#[test]
fn a_participant_rotates_its_own_keys() {
	new_test_ext().execute_with(|| {
		System::set_block_number(5);
		let old = ActiveKeys::<Test>::get(PATIENT).unwrap();
		assert_ok!(Kmc::rotate_own_keys(RuntimeOrigin::signed(PATIENT), keys(60)));
		assert_eq!(ActiveKeys::<Test>::get(PATIENT), Some(keys(60)));
		assert_eq!(KeyHistory::<Test>::get(PATIENT)[0].keys, old);
		assert_eq!(Participants::<Test>::get(PATIENT).unwrap().key_version, 1);
		assert_eq!(
			last_event(),
			RuntimeEvent::Kmc(Event::KeysRotated { who: PATIENT, version: 1 })
		);
		// The doctor's keys are untouched.
		assert_eq!(Participants::<Test>::get(DOCTOR).unwrap().key_version, 0);

		assert_noop!(
			Kmc::rotate_own_keys(RuntimeOrigin::signed(PATIENT), keys(60)),
			Error::<Test>::SameKeys
		);
		assert_noop!(
			Kmc::rotate_own_keys(RuntimeOrigin::signed(NEWCOMER), keys(61)),
			Error::<Test>::NotRegistered
		);
		assert_noop!(
			Kmc::rotate_own_keys(RuntimeOrigin::root(), keys(61)),
			DispatchError::BadOrigin
		);
		assert_ok!(Kmc::suspend(RuntimeOrigin::root(), PATIENT));
		assert_noop!(
			Kmc::rotate_own_keys(RuntimeOrigin::signed(PATIENT), keys(61)),
			Error::<Test>::NotActive
		);
	});
}

#[test]
fn rotation_keeps_a_bounded_history() {
	new_test_ext().execute_with(|| {
		let original = ActiveKeys::<Test>::get(PATIENT).unwrap();
		System::set_block_number(5);
		assert_ok!(Kmc::rotate_keys(RuntimeOrigin::root(), PATIENT, keys(50)));
		assert_eq!(last_event(), Event::KeysRotated { who: PATIENT, version: 1 }.into());
		assert_eq!(ActiveKeys::<Test>::get(PATIENT), Some(keys(50)));
		let history = KeyHistory::<Test>::get(PATIENT);
		assert_eq!(history.len(), 1);
		assert_eq!(history[0].version, 0);
		assert_eq!(history[0].keys, original);
		assert_eq!(history[0].active_from, 0);
		assert_eq!(history[0].retired_at, 5);
		let info = Participants::<Test>::get(PATIENT).unwrap();
		assert_eq!((info.key_version, info.keys_since), (1, 5));

		// Rotating to the same keys is pointless and refused.
		assert_noop!(
			Kmc::rotate_keys(RuntimeOrigin::root(), PATIENT, keys(50)),
			Error::<Test>::SameKeys
		);
		// Unknown account.
		assert_noop!(
			Kmc::rotate_keys(RuntimeOrigin::root(), NEWCOMER, keys(50)),
			Error::<Test>::NotRegistered
		);

		// MaxKeyHistory = 3: after four more rotations the oldest entries are gone.
		for seed in 51..55 {
			assert_ok!(Kmc::rotate_keys(RuntimeOrigin::root(), PATIENT, keys(seed)));
		}
		let versions: Vec<u32> =
			KeyHistory::<Test>::get(PATIENT).iter().map(|r| r.version).collect();
		assert_eq!(versions, vec![2, 3, 4]);
		assert_eq!(Participants::<Test>::get(PATIENT).unwrap().key_version, 5);
		assert_eq!(ActiveKeys::<Test>::get(PATIENT), Some(keys(54)));
	});
}

#[test]
fn suspended_participant_is_inactive_until_kmc_reinstates() {
	new_test_ext().execute_with(|| {
		assert_ok!(Kmc::suspend(RuntimeOrigin::root(), DOCTOR));
		assert_eq!(last_event(), Event::Suspended { who: DOCTOR }.into());
		assert!(!Kmc::is_active(&DOCTOR));
		assert!(!Kmc::is_active_doctor_of(&DOCTOR, &HOSPITAL));
		// The role is still known.
		assert_eq!(Kmc::role_of(&DOCTOR), Some(Role::Doctor { institution: HOSPITAL }));
		assert_noop!(Kmc::suspend(RuntimeOrigin::root(), DOCTOR), Error::<Test>::AlreadySuspended);

		assert_ok!(Kmc::reinstate(RuntimeOrigin::root(), DOCTOR));
		assert_eq!(last_event(), Event::Reinstated { who: DOCTOR }.into());
		assert!(Kmc::is_active_doctor_of(&DOCTOR, &HOSPITAL));
		assert_noop!(Kmc::reinstate(RuntimeOrigin::root(), DOCTOR), Error::<Test>::NotSuspended);
		assert_noop!(Kmc::suspend(RuntimeOrigin::root(), NEWCOMER), Error::<Test>::NotRegistered);
		assert_noop!(Kmc::reinstate(RuntimeOrigin::root(), NEWCOMER), Error::<Test>::NotRegistered);
	});
}

#[test]
fn another_pallet_suspends_through_the_trait_and_only_kmc_reinstates() {
	new_test_ext().execute_with(|| {
		assert_ok!(<Kmc as SuspendParticipant<u64>>::suspend(&PATIENT));
		assert!(!Kmc::is_active_patient(&PATIENT));
		assert_eq!(last_event(), Event::Suspended { who: PATIENT }.into());
		frame_support::assert_storage_noop!(assert!(<Kmc as SuspendParticipant<u64>>::suspend(
			&PATIENT
		)
		.is_err()));
		frame_support::assert_storage_noop!(assert!(<Kmc as SuspendParticipant<u64>>::suspend(
			&NEWCOMER
		)
		.is_err()));
		assert_ok!(Kmc::reinstate(RuntimeOrigin::root(), PATIENT));
		assert!(Kmc::is_active_patient(&PATIENT));
	});
}

fn medical_call() -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::remark { remark: vec![1, 2, 3] })
}

fn other_call() -> RuntimeCall {
	RuntimeCall::System(frame_system::Call::remark_with_event { remark: vec![1] })
}

/// Runs `CheckParticipant` as the block builder does (validate, then prepare).
fn apply(who: Option<u64>, call: &RuntimeCall) -> Result<(), TransactionValidityError> {
	let origin = RuntimeOrigin::signed(who.expect("signed"));
	CheckParticipant::<Test>::new()
		.validate_and_prepare(origin, call, &call.get_dispatch_info(), 0, 0)
		.map(|_| ())
}

/// Runs only the pool's check.
fn pool_check(who: u64, call: &RuntimeCall) -> Result<(), TransactionValidityError> {
	CheckParticipant::<Test>::new()
		.validate_only(
			RuntimeOrigin::signed(who),
			call,
			&call.get_dispatch_info(),
			0,
			TransactionSource::External,
			0,
		)
		.map(|_| ())
}

#[test]
fn unregistered_account_cannot_send_medical_calls_even_to_the_pool() {
	new_test_ext().execute_with(|| {
		let err = InvalidTransaction::Custom(INVALID_UNREGISTERED).into();
		assert_eq!(pool_check(NEWCOMER, &medical_call()), Err(err));
		frame_support::assert_storage_noop!(assert_eq!(
			apply(Some(NEWCOMER), &medical_call()),
			Err(err)
		));
		// Other calls are not its business.
		assert_ok!(apply(Some(NEWCOMER), &other_call()));
		assert_eq!(FeelessQuota::<Test>::get(NEWCOMER), None);
		// Unsigned medical calls are left to the pallet's origin check.
		let call = medical_call();
		assert!(CheckParticipant::<Test>::new()
			.validate(
				RuntimeOrigin::none(),
				&call,
				&call.get_dispatch_info(),
				0,
				(),
				&sp_runtime::traits::TxBaseImplication(()),
				TransactionSource::External,
			)
			.is_ok());
	});
}

#[test]
fn suspended_participant_is_refused_by_the_extension() {
	new_test_ext().execute_with(|| {
		assert_ok!(Kmc::suspend(RuntimeOrigin::root(), DOCTOR));
		let err = InvalidTransaction::Custom(INVALID_SUSPENDED).into();
		assert_eq!(pool_check(DOCTOR, &medical_call()), Err(err));
		assert_eq!(apply(Some(DOCTOR), &medical_call()), Err(err));
		assert_ok!(Kmc::reinstate(RuntimeOrigin::root(), DOCTOR));
		assert_ok!(apply(Some(DOCTOR), &medical_call()));
	});
}

#[test]
fn suspended_participant_may_still_send_retreat_calls_within_quota() {
	new_test_ext().execute_with(|| {
		assert_ok!(Kmc::suspend(RuntimeOrigin::root(), PATIENT));
		// The mock's retreat call is `remark(vec![9])`: a medical call a suspended patient
		// may still send (in the runtime: revoke, deny a request, remove a policy).
		let retreat = RuntimeCall::System(frame_system::Call::remark { remark: vec![9] });
		assert_ok!(pool_check(PATIENT, &retreat));
		assert_ok!(apply(Some(PATIENT), &retreat));
		assert_eq!(Kmc::quota_used(&PATIENT), 1);
		// Anything else stays refused while suspended.
		let err = InvalidTransaction::Custom(INVALID_SUSPENDED).into();
		assert_eq!(apply(Some(PATIENT), &medical_call()), Err(err));
		// Retreats are still bounded by the quota (3 per window in the mock).
		assert_ok!(apply(Some(PATIENT), &retreat));
		assert_ok!(apply(Some(PATIENT), &retreat));
		let err = InvalidTransaction::Custom(INVALID_QUOTA_EXHAUSTED).into();
		assert_eq!(apply(Some(PATIENT), &retreat), Err(err));
		// An unregistered account gets nothing from it, nor does a suspended non-patient.
		let err = InvalidTransaction::Custom(INVALID_UNREGISTERED).into();
		assert_eq!(apply(Some(NEWCOMER), &retreat), Err(err));
		assert_ok!(Kmc::suspend(RuntimeOrigin::root(), DOCTOR));
		let err = InvalidTransaction::Custom(INVALID_SUSPENDED).into();
		assert_eq!(pool_check(DOCTOR, &retreat), Err(err));
	});
}

#[test]
fn feeless_transactions_are_bounded_per_identity_and_window() {
	new_test_ext().execute_with(|| {
		// MaxFeelessTxPerWindow = 3, FeelessWindow = 10 blocks, starting at block 1.
		for _ in 0..3 {
			assert_ok!(apply(Some(PATIENT), &medical_call()));
		}
		assert_eq!(Kmc::quota_used(&PATIENT), 3);
		let err = InvalidTransaction::Custom(INVALID_QUOTA_EXHAUSTED).into();
		assert_eq!(pool_check(PATIENT, &medical_call()), Err(err));
		frame_support::assert_storage_noop!(assert_eq!(
			apply(Some(PATIENT), &medical_call()),
			Err(err)
		));
		// Another identity has its own quota.
		assert_ok!(apply(Some(DOCTOR), &medical_call()));
		// Non-medical calls are not counted.
		assert_ok!(apply(Some(PATIENT), &other_call()));

		// Still inside the window at block 10.
		System::set_block_number(10);
		assert_eq!(apply(Some(PATIENT), &medical_call()), Err(err));
		// The window of block 1 ends before block 11.
		System::set_block_number(11);
		assert_eq!(Kmc::quota_used(&PATIENT), 0);
		assert_ok!(apply(Some(PATIENT), &medical_call()));
		assert_eq!(
			FeelessQuota::<Test>::get(PATIENT),
			Some(QuotaUsage { window_start: 11, used: 1 })
		);
	});
}

#[test]
fn extension_weight_is_charged_only_for_medical_calls() {
	new_test_ext().execute_with(|| {
		let ext = CheckParticipant::<Test>::new();
		assert_eq!(ext.weight(&other_call()), frame_support::weights::Weight::zero());
		assert_eq!(ext.weight(&medical_call()), <() as WeightInfo>::check_participant());
		// It adds nothing to the transaction bytes.
		assert!(codec::Encode::encode(&ext).is_empty());
	});
}

#[test]
fn registered_account_without_balance_passes_check_nonce() {
	new_test_ext().execute_with(|| {
		let call = medical_call();
		let info = call.get_dispatch_info();
		let nonce = || frame_system::CheckNonce::<Test>::from(0);
		assert_eq!(
			nonce()
				.validate_only(
					RuntimeOrigin::signed(NEWCOMER),
					&call,
					&info,
					0,
					TransactionSource::External,
					0
				)
				.map(|_| ()),
			Err(InvalidTransaction::Payment.into())
		);
		assert_ok!(register(NEWCOMER, Role::Patient));
		assert_ok!(nonce()
			.validate_only(
				RuntimeOrigin::signed(NEWCOMER),
				&call,
				&info,
				0,
				TransactionSource::External,
				0
			)
			.map(|_| ()));
	});
}

#[test]
fn integrity_test_passes() {
	new_test_ext().execute_with(|| {
		<Kmc as Hooks<u64>>::integrity_test();
	});
}

/// Issue 14: a proxy records on chain the accesses and searches users signed (and the refusals
/// of those without consent). Counted in the proxy's own quota, 200 refused requests locked the
/// proxy out of the chain. Sent by a health authority they count in a separate, larger
/// on-behalf quota; sent by anyone else they count as ordinary medical calls.
#[test]
fn a_proxys_records_of_users_signed_requests_do_not_use_up_its_own_quota() {
	new_test_ext().execute_with(|| {
		const PROXY: u64 = 5;
		assert_ok!(Kmc::register(
			RuntimeOrigin::root(),
			PROXY,
			Role::Institution(InstitutionKind::HealthAuthority),
			identity(PROXY),
			keys(5),
		));
		let on_behalf = RuntimeCall::System(frame_system::Call::remark { remark: vec![7] });
		for _ in 0..200 {
			assert_ok!(pool_check(PROXY, &on_behalf));
			assert_ok!(apply(Some(PROXY), &on_behalf));
		}
		assert_eq!(Kmc::quota_used(&PROXY), 0);
		assert_eq!(Kmc::quota_used_of(&PROXY, QuotaKind::OnBehalf), 200);
		// Its own medical calls keep their quota (3 per window in the mock) ...
		for _ in 0..3 {
			assert_ok!(apply(Some(PROXY), &medical_call()));
		}
		let err = InvalidTransaction::Custom(INVALID_QUOTA_EXHAUSTED).into();
		assert_eq!(apply(Some(PROXY), &medical_call()), Err(err));
		// ... the records go on after it is used up, up to the on-behalf bound (250).
		for _ in 0..50 {
			assert_ok!(apply(Some(PROXY), &on_behalf));
		}
		assert_eq!(pool_check(PROXY, &on_behalf), Err(err));
		// Anyone else sending them uses its own quota: a doctor cannot spam them for free.
		for _ in 0..3 {
			assert_ok!(apply(Some(DOCTOR), &on_behalf));
		}
		assert_eq!(Kmc::quota_used(&DOCTOR), 3);
		assert_eq!(apply(Some(DOCTOR), &on_behalf), Err(err));
		// Only an active participant sends them.
		assert_ok!(Kmc::suspend(RuntimeOrigin::root(), PROXY));
		let err = InvalidTransaction::Custom(INVALID_SUSPENDED).into();
		assert_eq!(pool_check(PROXY, &on_behalf), Err(err));
		let err = InvalidTransaction::Custom(INVALID_UNREGISTERED).into();
		assert_eq!(apply(Some(NEWCOMER), &on_behalf), Err(err));
	});
}

/// The rehearsal migration (storage version 1 -> 2) repairs the identity index from the
/// participant records, and runs once.
#[test]
fn the_v2_migration_rebuilds_the_identity_index() {
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	// Ends with a stale index entry on purpose: without the invariant checks.
	new_test_ext().into_inner().execute_with(|| {
		StorageVersion::new(1).put::<Kmc>();
		// A lost entry and a stale one.
		IdentityOwner::<Test>::remove(identity(PATIENT));
		IdentityOwner::<Test>::insert(sp_core::H256::repeat_byte(0xEE), NEWCOMER);
		crate::migrations::v2::RebuildIdentityIndex::<Test>::on_runtime_upgrade();
		assert_eq!(IdentityOwner::<Test>::get(identity(PATIENT)), Some(PATIENT));
		assert_eq!(IdentityOwner::<Test>::get(sp_core::H256::repeat_byte(0xEE)), None);
		assert_eq!(
			IdentityOwner::<Test>::iter().count(),
			Participants::<Test>::iter().count(),
			"one index entry per participant"
		);
		assert_eq!(Kmc::on_chain_storage_version(), 2);
		// Once only: a second run leaves a new stale entry alone.
		IdentityOwner::<Test>::insert(sp_core::H256::repeat_byte(0xEF), NEWCOMER);
		crate::migrations::v2::RebuildIdentityIndex::<Test>::on_runtime_upgrade();
		assert_eq!(IdentityOwner::<Test>::get(sp_core::H256::repeat_byte(0xEF)), Some(NEWCOMER));
	});
}

/// A second hospital, registered in the test that needs it.
const OTHER_HOSPITAL: u64 = 20;

/// Review finding: one operator registered a doctor of its own at any hospital, whose patients'
/// "after a visit" policies then granted it access. Now a doctor acts only once its
/// institution confirms employing them, with the institution's own signature.
#[test]
fn a_doctor_acts_only_once_its_institution_confirms_employing_them() {
	new_test_ext().execute_with(|| {
		let op = || RuntimeOrigin::signed(OPERATOR);
		let doctor = Role::Doctor { institution: HOSPITAL };
		assert_ok!(Kmc::register(op(), 11, doctor, identity(11), keys(11)));
		assert_eq!(
			Participants::<Test>::get(11).unwrap().status,
			ParticipantStatus::AwaitingInstitution
		);
		assert!(!Kmc::is_active(&11));
		// Refused in the pool with its own code, not as "suspended".
		assert_eq!(
			pool_check(11, &medical_call()),
			Err(InvalidTransaction::Custom(INVALID_AWAITING_INSTITUTION).into())
		);
		// Neither another institution, nor the doctor, nor the operator confirms it.
		assert_ok!(register(OTHER_HOSPITAL, Role::Institution(InstitutionKind::Hospital)));
		for who in [OTHER_HOSPITAL, 11, OPERATOR] {
			assert_noop!(
				Kmc::employ(RuntimeOrigin::signed(who), 11),
				Error::<Test>::NotTheDoctorsInstitution
			);
		}
		// The hospital does; then the doctor acts.
		assert_ok!(Kmc::employ(RuntimeOrigin::signed(HOSPITAL), 11));
		assert!(Kmc::is_active(&11));
		assert_eq!(
			last_event(),
			RuntimeEvent::Kmc(Event::Employed { institution: HOSPITAL, doctor: 11 })
		);
		assert_ok!(pool_check(11, &medical_call()));
		assert_noop!(
			Kmc::employ(RuntimeOrigin::signed(HOSPITAL), 11),
			Error::<Test>::NotAwaitingInstitution
		);
		// A suspended hospital confirms nobody.
		assert_ok!(Kmc::register(
			op(),
			12,
			Role::Doctor { institution: HOSPITAL },
			identity(12),
			keys(12)
		));
		assert_ok!(Kmc::suspend(RuntimeOrigin::root(), HOSPITAL));
		assert_noop!(
			Kmc::employ(RuntimeOrigin::signed(HOSPITAL), 12),
			Error::<Test>::InstitutionSuspended
		);
		// A doctor awaiting confirmation cannot be "suspended" into a state an operator
		// could then lift.
		assert_noop!(Kmc::suspend(op(), 12), Error::<Test>::NotActive);
	});
}

/// Review finding: one operator lifted any suspension, the council's or an automatic
/// safeguard's (abnormal access detection) included. Now who suspended decides who
/// reinstates.
#[test]
fn only_the_council_lifts_a_suspension_by_the_council_or_a_safeguard() {
	new_test_ext().execute_with(|| {
		let op = || RuntimeOrigin::signed(OPERATOR);
		// An operator's suspension: an operator lifts it.
		assert_ok!(Kmc::suspend(op(), DOCTOR));
		assert_eq!(SuspendedBy::<Test>::get(DOCTOR), Some(Suspender::Operator));
		assert_ok!(Kmc::reinstate(op(), DOCTOR));
		assert_eq!(SuspendedBy::<Test>::get(DOCTOR), None);
		// The council's: only the council.
		assert_ok!(Kmc::suspend(RuntimeOrigin::root(), DOCTOR));
		assert_eq!(SuspendedBy::<Test>::get(DOCTOR), Some(Suspender::Council));
		assert_noop!(Kmc::reinstate(op(), DOCTOR), Error::<Test>::CouncilOnly);
		assert_ok!(Kmc::reinstate(RuntimeOrigin::root(), DOCTOR));
		// A safeguard's (another pallet through `SuspendParticipant`): only the council.
		assert_ok!(<Kmc as SuspendParticipant<u64>>::suspend(&PATIENT));
		assert_eq!(SuspendedBy::<Test>::get(PATIENT), Some(Suspender::Automatic));
		assert_noop!(Kmc::reinstate(op(), PATIENT), Error::<Test>::CouncilOnly);
		assert_ok!(Kmc::reinstate(RuntimeOrigin::root(), PATIENT));
		assert!(Kmc::is_active(&PATIENT));
	});
}

/// A participant suspended before spec 105 (when no suspender was recorded) is a valid state:
/// a try-runtime check of the upgrade of such a chain must pass.
#[test]
fn a_suspension_from_before_suspenders_were_recorded_keeps_the_invariants() {
	new_test_ext().into_inner().execute_with(|| {
		Participants::<Test>::mutate(PATIENT, |p| {
			p.as_mut().unwrap().status = ParticipantStatus::Suspended
		});
		assert_eq!(SuspendedBy::<Test>::get(PATIENT), None);
		assert_ok!(Kmc::do_try_state());
	});
}

/// `do_try_state` holds on the mock's genesis and after the registry's calls, and catches each
/// kind of corruption of the registry's cross-references, naming the invariant it breaks.
#[test]
fn try_state_names_each_broken_invariant() {
	use mbds_primitives::invariants::message_of;
	// Runs `corrupt` on a registry that passes the checks; the broken invariant's message.
	fn broken(corrupt: impl FnOnce()) -> &'static str {
		new_test_ext().into_inner().execute_with(|| {
			assert_ok!(Kmc::do_try_state());
			corrupt();
			message_of(&Kmc::do_try_state().expect_err("the corruption is caught"))
		})
	}
	let cases: [(&str, &'static str); 11] = [
		(
			"kmc: a participant's identity commitment points back to it",
			broken(|| IdentityOwner::<Test>::remove(identity(PATIENT))),
		),
		(
			"kmc: every identity index entry is a participant's commitment",
			broken(|| IdentityOwner::<Test>::insert(identity(NEWCOMER), PATIENT)),
		),
		("kmc: every participant has active keys", broken(|| ActiveKeys::<Test>::remove(DOCTOR))),
		(
			"kmc: every active key set belongs to a participant",
			broken(|| ActiveKeys::<Test>::insert(NEWCOMER, keys(9))),
		),
		(
			"kmc: only suspended participants have a recorded suspender",
			broken(|| SuspendedBy::<Test>::insert(HOSPITAL, Suspender::Council)),
		),
		(
			"kmc: only suspended participants have a recorded suspender",
			broken(|| SuspendedBy::<Test>::insert(NEWCOMER, Suspender::Operator)),
		),
		(
			"kmc: a doctor's institution is a registered hospital or internet platform",
			broken(|| {
				Participants::<Test>::mutate(DOCTOR, |p| {
					p.as_mut().unwrap().role = Role::Doctor { institution: INSURER }
				})
			}),
		),
		(
			"kmc: only doctors await their institution",
			broken(|| {
				Participants::<Test>::mutate(PATIENT, |p| {
					p.as_mut().unwrap().status = ParticipantStatus::AwaitingInstitution
				})
			}),
		),
		(
			"kmc: retired key sets are older than the active one, oldest first",
			broken(|| {
				assert_ok!(Kmc::rotate_own_keys(RuntimeOrigin::signed(PATIENT), keys(77)));
				Participants::<Test>::mutate(PATIENT, |p| p.as_mut().unwrap().key_version = 0);
			}),
		),
		(
			"kmc: quota counters belong to participants",
			broken(|| Kmc::note_feeless(&NEWCOMER, QuotaKind::Own)),
		),
		(
			"kmc: every participant's account holds a sufficients reference",
			broken(|| {
				System::dec_sufficients(&PATIENT);
			}),
		),
	];
	for (invariant, message) in cases {
		assert!(message.starts_with(invariant), "expected {invariant:?}, got {message:?}");
	}
	// The detail names the item: here the patient whose commitment lost its entry.
	let message = broken(|| IdentityOwner::<Test>::remove(identity(PATIENT)));
	assert!(message.contains(&format!("{PATIENT}'s commitment")), "{message}");
}
