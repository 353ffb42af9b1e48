//! Test runtime for `pallet-governance`: `frame_system` plus this pallet, governed by root.

use crate as pallet_governance;
use frame_support::{derive_impl, traits::ConstU64};
use frame_system::EnsureRoot;
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Governance: pallet_governance,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

/// Fewest blocks per session in the tests.
pub const MIN: u64 = 10;
/// Most blocks per session in the tests.
pub const MAX: u64 = 1_000;
/// Session period when genesis sets none.
pub const DEFAULT: u64 = 40;

impl pallet_governance::Config for Test {
	type GovernanceOrigin = EnsureRoot<u64>;
	type MinSessionPeriod = ConstU64<MIN>;
	type MaxSessionPeriod = ConstU64<MAX>;
	type DefaultSessionPeriod = ConstU64<DEFAULT>;
	type WeightInfo = ();
}

/// Externalities with the default genesis (no session period set).
pub fn new_test_ext() -> TestExt {
	ext_with(None)
}

/// Externalities whose genesis sets `session_period`.
pub fn ext_with(session_period: Option<u64>) -> TestExt {
	let storage = RuntimeGenesisConfig {
		system: Default::default(),
		governance: pallet_governance::GenesisConfig { session_period },
	}
	.build_storage()
	.unwrap();
	let mut ext: sp_io::TestExternalities = storage.into();
	ext.execute_with(|| System::set_block_number(1));
	TestExt::new(ext, Governance::do_try_state)
}

/// Test externalities that check the invariants ([`Governance::do_try_state`]) after every
/// `execute_with` (see [`mbds_primitives::invariants::CheckedExternalities`]).
pub type TestExt = mbds_primitives::invariants::CheckedExternalities;
