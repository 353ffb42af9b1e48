//! Test runtime for `pallet-kmc`: `frame_system` plus the registry. `System::remark` stands in
//! for a medical call; every other call is not medical.

use crate as pallet_kmc;
use frame_support::traits::ConstU32;
use frame_support::{derive_impl, parameter_types, traits::Contains};
use frame_system::EnsureRoot;
use sp_runtime::BuildStorage;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Kmc: pallet_kmc,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

parameter_types! {
	pub const MaxKeyLen: u32 = 96;
	pub const MaxKeyHistory: u32 = 3;
	pub const MaxFeelessTxPerWindow: u32 = 3;
	pub const FeelessWindow: u64 = 10;
}

/// `System::remark` is the mock's only medical call.
pub struct RemarkIsMedical;
impl Contains<RuntimeCall> for RemarkIsMedical {
	fn contains(call: &RuntimeCall) -> bool {
		matches!(call, RuntimeCall::System(frame_system::Call::remark { .. }))
	}
}

/// `System::remark_with_event` stands in for a retreat call (not medical: the test also checks
/// that `RetreatCalls` only widens medical calls).
pub struct RemarkIsRetreat;
impl Contains<RuntimeCall> for RemarkIsRetreat {
	fn contains(call: &RuntimeCall) -> bool {
		matches!(call, RuntimeCall::System(frame_system::Call::remark { remark }) if remark == &[9])
	}
}

/// `System::remark(vec![7])` stands in for an on-behalf call (a proxy's audit record).
pub struct RemarkIsOnBehalf;
impl Contains<RuntimeCall> for RemarkIsOnBehalf {
	fn contains(call: &RuntimeCall) -> bool {
		matches!(call, RuntimeCall::System(frame_system::Call::remark { remark }) if remark == &[7])
	}
}

/// The mock's one KMC operator.
pub const OPERATOR: u64 = 100;

/// The appointed operators (`OPERATOR` only).
pub struct Operators;
impl frame_support::traits::SortedMembers<u64> for Operators {
	fn sorted_members() -> Vec<u64> {
		vec![OPERATOR]
	}
}

/// Root stands in for the council's two thirds; `OPERATOR` is the one appointed operator.
impl pallet_kmc::Config for Test {
	type KmcOrigin = frame_support::traits::EitherOfDiverse<
		EnsureRoot<u64>,
		frame_system::EnsureSignedBy<Operators, u64>,
	>;
	type CouncilOrigin = EnsureRoot<u64>;
	type MaxKeyLen = MaxKeyLen;
	type MaxKeyHistory = MaxKeyHistory;
	type MaxFeelessTxPerWindow = MaxFeelessTxPerWindow;
	type FeelessWindow = FeelessWindow;
	type MedicalCalls = RemarkIsMedical;
	type RetreatCalls = RemarkIsRetreat;
	type OnBehalfCalls = RemarkIsOnBehalf;
	type MaxOnBehalfTxPerWindow = ConstU32<250>;
	type WeightInfo = ();
}

pub const HOSPITAL: u64 = 1;
pub const DOCTOR: u64 = 2;
pub const PATIENT: u64 = 3;
pub const INSURER: u64 = 4;
pub const NEWCOMER: u64 = 10;

/// Identity commitment used for account `who` in these tests.
pub fn identity(who: u64) -> sp_core::H256 {
	sp_core::H256::repeat_byte(who as u8)
}

/// A valid key set whose bytes start with `seed`.
pub fn keys(seed: u8) -> crate::KeySetOf<Test> {
	crate::KeySet {
		record_key: crate::PublicKey {
			scheme: crate::KeyScheme::UmbralSecp256k1V1,
			key: vec![seed; 33].try_into().unwrap(),
		},
		search_key: crate::PublicKey {
			scheme: crate::KeyScheme::PeksBls12381V1,
			key: vec![seed.wrapping_add(1); 96].try_into().unwrap(),
		},
	}
}

fn genesis(account: u64, role: mbds_primitives::Role<u64>) -> crate::GenesisParticipant<u64> {
	crate::GenesisParticipant {
		account,
		role,
		identity: identity(account),
		record_scheme: crate::KeyScheme::UmbralSecp256k1V1,
		record_key: vec![account as u8; 33],
		search_scheme: crate::KeyScheme::PeksBls12381V1,
		search_key: vec![account as u8; 96],
	}
}

/// Genesis: a hospital, one of its doctors, a patient and an insurer, all active.
pub fn new_test_ext() -> TestExt {
	use mbds_primitives::{InstitutionKind, Role};
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_kmc::GenesisConfig::<Test> {
		participants: vec![
			genesis(HOSPITAL, Role::Institution(InstitutionKind::Hospital)),
			genesis(DOCTOR, Role::Doctor { institution: HOSPITAL }),
			genesis(PATIENT, Role::Patient),
			genesis(INSURER, Role::Institution(InstitutionKind::Insurer)),
		],
	}
	.assimilate_storage(&mut t)
	.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	TestExt::new(ext, Kmc::do_try_state)
}

/// Test externalities that check the invariants ([`Kmc::do_try_state`]) after every
/// `execute_with` (see [`mbds_primitives::invariants::CheckedExternalities`]).
pub type TestExt = mbds_primitives::invariants::CheckedExternalities;
