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
	// Leaves a raw out-of-bounds period on purpose: without the invariant checks.
	new_test_ext().into_inner().execute_with(|| {
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
	// Undecodable bytes are removed too, and so is a value with trailing bytes (its prefix
	// would read as some period nobody chose).
	new_test_ext().execute_with(|| {
		let mut trailing = 25u64.encode();
		trailing.push(7);
		frame_support::storage::unhashed::put_raw(&OldKey::get(), &trailing);
		MoveSessionPeriod::<Test, OldKey>::on_runtime_upgrade();
		assert_eq!(SessionPeriod::<Test>::get(), DEFAULT);
		assert!(!frame_support::storage::unhashed::exists(&OldKey::get()));
	});
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
		assert_eq!(Governance::in_code_storage_version(), 2);
	});
}

/// The blocks in `from..=to` at which a session ends, as `pallet_session` asks each block.
fn session_ends(from: u64, to: u64) -> Vec<u64> {
	(from..=to)
		.filter(|n| {
			System::set_block_number(*n);
			Governance::end_session_at(*n)
		})
		.collect()
}

#[test]
fn a_session_ends_once_it_has_lasted_the_period() {
	ext_with(Some(20)).execute_with(|| {
		assert_eq!(session_ends(1, 65), vec![20, 40, 60]);
		assert_eq!(crate::SessionStart::<Test>::get(), 60);
		assert_eq!(Governance::next_session_end(), 80);
	});
}

/// H4 of the attacker review: with `PeriodicSessions` (end at multiples of the period) a new
/// period applied at once could end the running session almost at once (a session ended at 40;
/// at block 41 the period becomes 14; the next multiple, 42, ends a session of 2 blocks): too
/// short for the GRANDPA set change it schedules. Now every session lasts at least the period
/// in force, which is never below `MinSessionPeriod`.
#[test]
fn a_changed_period_never_makes_a_session_shorter_than_the_minimum() {
	ext_with(Some(40)).execute_with(|| {
		assert_eq!(session_ends(1, 41), vec![40]);
		// One block into the session the council shortens the period to the minimum.
		assert_ok!(Governance::set_session_period(RuntimeOrigin::root(), MIN));
		let ends = session_ends(42, 120);
		assert_eq!(ends[0], 40 + MIN, "the running session lasts the new period, not less");
		let mut last = 40;
		for end in ends {
			assert!(end - last >= MIN, "a session of {} blocks ({last}..{end})", end - last);
			last = end;
		}
		// Lengthened while a session has already lasted longer than the new minimum: it
		// runs to the new length.
		assert_ok!(Governance::set_session_period(RuntimeOrigin::root(), 30));
		let start = crate::SessionStart::<Test>::get();
		assert_eq!(session_ends(121, start + 30)[0], start + 30);
		// Shortened below what the session has already lasted: it ends at the next block.
		System::set_block_number(start + 30 + 25);
		assert_ok!(Governance::set_session_period(RuntimeOrigin::root(), 20));
		assert_eq!(session_ends(start + 30 + 26, start + 30 + 26), vec![start + 30 + 26]);
	});
}

#[test]
fn the_v2_migration_keeps_the_running_session_where_periodic_sessions_had_it() {
	use crate::migrations::v2::RecordSessionStart;
	use frame_support::traits::{GetStorageVersion, StorageVersion};
	// A chain built with this version recorded its start in genesis: nothing to do.
	ext_with(Some(20)).execute_with(|| {
		System::set_block_number(45);
		RecordSessionStart::<Test>::on_runtime_upgrade();
		assert_eq!(crate::SessionStart::<Test>::get(), 0);
	});
	// (parent block of the upgrade block, recorded start, next session end): PeriodicSessions
	// ended sessions at 20, 40, 60, ...
	for (parent, start, next_end) in [(45u64, 40u64, 60u64), (40, 40, 60), (39, 20, 40), (0, 0, 20)]
	{
		// Ends with a raw session start (7) after block `parent`: without the invariant checks.
		ext_with(Some(20)).into_inner().execute_with(|| {
			StorageVersion::new(1).put::<Governance>();
			crate::SessionStart::<Test>::kill();
			System::set_block_number(parent);
			RecordSessionStart::<Test>::on_runtime_upgrade();
			assert_eq!(crate::SessionStart::<Test>::get(), start, "parent {parent}");
			assert_eq!(Governance::next_session_end(), next_end, "parent {parent}");
			// No session shorter than the period: the upgrade block ends one only where
			// PeriodicSessions would have (a multiple of 20).
			let upgrade_block = parent + 1;
			assert_eq!(Governance::end_session_at(upgrade_block), upgrade_block % 20 == 0);
			assert_eq!(Governance::on_chain_storage_version(), 2);
			// Once: a second run changes nothing.
			crate::SessionStart::<Test>::put(7);
			RecordSessionStart::<Test>::on_runtime_upgrade();
			assert_eq!(crate::SessionStart::<Test>::get(), 7);
		});
	}
}

/// `do_try_state` holds after every test (they end with it), and names the invariant a raw
/// storage write breaks.
#[test]
fn try_state_names_each_broken_invariant() {
	use mbds_primitives::invariants::message_of;
	fn broken(corrupt: impl FnOnce()) -> &'static str {
		new_test_ext().into_inner().execute_with(|| {
			assert_ok!(Governance::do_try_state());
			corrupt();
			message_of(&Governance::do_try_state().expect_err("the corruption is caught"))
		})
	}
	let cases: [(&str, &'static str); 3] = [
		(
			"governance: the session period is within its bounds",
			broken(|| SessionPeriod::<Test>::put(0)),
		),
		(
			"governance: the session period is within its bounds",
			broken(|| SessionPeriod::<Test>::put(MAX + 1)),
		),
		(
			"governance: the current session did not start in the future",
			broken(|| crate::SessionStart::<Test>::put(System::block_number() + 1)),
		),
	];
	for (invariant, message) in cases {
		assert!(message.starts_with(invariant), "expected {invariant:?}, got {message:?}");
	}
	let message = broken(|| SessionPeriod::<Test>::put(0));
	assert!(message.contains(&format!("0 blocks, bounds {MIN}..={MAX}")), "{message}");
}
