//! Tests of `pallet-governance`: who may act, which session periods are refused, the
//! migration of the old raw key.

use crate::{migrations::MoveSessionPeriod, mock::*, Error, Event, SessionPeriod, SessionPeriodOf};
use codec::Encode;
use frame_support::{
	assert_noop, assert_ok,
	traits::{Get, OnRuntimeUpgrade},
};
use sp_runtime::{traits::Hash, DispatchError};

fn events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Governance(e) => Some(e),
			_ => None,
		})
		.collect()
}

#[test]
fn genesis_sets_the_period_or_keeps_the_default() {
	new_test_ext().execute_with(|| {
		assert_eq!(SessionPeriod::<Test>::get(), DEFAULT);
		assert_eq!(SessionPeriodOf::<Test>::get(), DEFAULT);
	});
	ext_with(Some(20)).execute_with(|| {
		assert_eq!(SessionPeriod::<Test>::get(), 20);
		assert_eq!(SessionPeriodOf::<Test>::get(), 20);
	});
}

#[test]
#[should_panic(expected = "governance.sessionPeriod")]
fn genesis_refuses_a_period_that_would_stall_the_chain() {
	let _ = ext_with(Some(0));
}

#[test]
fn only_governance_sets_the_session_period() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Governance::set_session_period(RuntimeOrigin::signed(1), 20),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Governance::set_session_period(RuntimeOrigin::none(), 20),
			DispatchError::BadOrigin
		);
		assert_ok!(Governance::set_session_period(RuntimeOrigin::root(), 20));
		assert_eq!(SessionPeriod::<Test>::get(), 20);
		assert_eq!(events(), vec![Event::SessionPeriodChanged { old: DEFAULT, new: 20 }]);
	});
}

#[test]
fn periods_that_would_stall_the_chain_are_refused_with_their_reason() {
	new_test_ext().execute_with(|| {
		let root = RuntimeOrigin::root;
		assert_noop!(Governance::set_session_period(root(), 0), Error::<Test>::ZeroSessionPeriod);
		assert_noop!(
			Governance::set_session_period(root(), MIN - 1),
			Error::<Test>::SessionPeriodTooShort
		);
		assert_noop!(
			Governance::set_session_period(root(), MAX + 1),
			Error::<Test>::SessionPeriodTooLong
		);
		assert_noop!(
			Governance::set_session_period(root(), DEFAULT),
			Error::<Test>::SessionPeriodUnchanged
		);
		// The bounds themselves are accepted.
		assert_ok!(Governance::set_session_period(root(), MIN));
		assert_ok!(Governance::set_session_period(root(), MAX));
		assert_eq!(SessionPeriod::<Test>::get(), MAX);
	});
}

#[test]
fn the_period_read_by_the_session_stays_in_bounds_even_after_a_raw_write() {
	new_test_ext().execute_with(|| {
		SessionPeriod::<Test>::put(0);
		assert_eq!(SessionPeriodOf::<Test>::get(), MIN);
		SessionPeriod::<Test>::put(u64::MAX);
		assert_eq!(SessionPeriodOf::<Test>::get(), MAX);
	});
}

#[test]
fn governance_authorizes_an_upgrade_by_its_code_hash() {
	new_test_ext().execute_with(|| {
		let hash = <Test as frame_system::Config>::Hashing::hash(b"new runtime code");
		assert_noop!(
			Governance::authorize_upgrade(RuntimeOrigin::signed(1), hash),
			DispatchError::BadOrigin
		);
		assert!(System::authorized_upgrade().is_none());
		assert_ok!(Governance::authorize_upgrade(RuntimeOrigin::root(), hash));
		let authorization = System::authorized_upgrade().expect("authorized");
		assert_eq!(authorization.code_hash(), &hash);
		System::assert_has_event(
			frame_system::Event::UpgradeAuthorized { code_hash: hash, check_version: true }.into(),
		);
	});
}

frame_support::parameter_types! {
	pub OldKey: [u8; 16] = sp_io::hashing::twox_128(b":SessionPeriod:");
}

#[test]
fn the_migration_moves_the_old_raw_period_and_deletes_the_key() {
	new_test_ext().execute_with(|| {
		frame_support::storage::unhashed::put_raw(&OldKey::get(), &25u64.encode());
		MoveSessionPeriod::<Test, OldKey>::on_runtime_upgrade();
		assert_eq!(SessionPeriod::<Test>::get(), 25);
		assert!(!frame_support::storage::unhashed::exists(&OldKey::get()));
		// Idempotent: a second run changes nothing.
		SessionPeriod::<Test>::put(30);
		MoveSessionPeriod::<Test, OldKey>::on_runtime_upgrade();
		assert_eq!(SessionPeriod::<Test>::get(), 30);
	});
}

#[test]
fn the_migration_drops_an_old_period_that_would_stall_the_chain() {
	for bad in [0u64, MIN - 1, MAX + 1] {
		new_test_ext().execute_with(|| {
			frame_support::storage::unhashed::put_raw(&OldKey::get(), &bad.encode());
			MoveSessionPeriod::<Test, OldKey>::on_runtime_upgrade();
			assert_eq!(SessionPeriod::<Test>::get(), DEFAULT, "{bad}");
			assert!(!frame_support::storage::unhashed::exists(&OldKey::get()));
		});
	}
	// Undecodable bytes are removed too.
	new_test_ext().execute_with(|| {
		frame_support::storage::unhashed::put_raw(&OldKey::get(), &[1, 2]);
		MoveSessionPeriod::<Test, OldKey>::on_runtime_upgrade();
		assert_eq!(SessionPeriod::<Test>::get(), DEFAULT);
		assert!(!frame_support::storage::unhashed::exists(&OldKey::get()));
	});
}

#[test]
fn the_storage_version_is_set_at_genesis() {
	use frame_support::traits::GetStorageVersion;
	new_test_ext().execute_with(|| {
		assert_eq!(Governance::on_chain_storage_version(), Governance::in_code_storage_version());
		assert_eq!(Governance::in_code_storage_version(), 1);
	});
}
