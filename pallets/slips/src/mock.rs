//! Test runtime for `pallet-slips`: `frame_system`, the real KMC registry (`pallet-kmc`) and
//! the slip ledger, on a hospital chain with id 7 whose institution is `HOSPITAL`. Visit proofs
//! are signed with `TestSignature` (u64 accounts).

use crate as pallet_slips;
use frame_support::{derive_impl, parameter_types, traits::Contains};
use frame_system::EnsureRoot;
use mbds_primitives::{ChainId, ChainIdentity, ChainKind, InstitutionKind, Role};
use sp_runtime::{testing::TestSignature, BuildStorage};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Kmc: pallet_kmc,
		Slips: pallet_slips,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

/// The slip calls are the medical calls of this runtime.
pub struct SlipCalls;
impl Contains<RuntimeCall> for SlipCalls {
	fn contains(call: &RuntimeCall) -> bool {
		matches!(call, RuntimeCall::Slips(..))
	}
}

impl pallet_kmc::Config for Test {
	type KmcOrigin = EnsureRoot<u64>;
	type CouncilOrigin = EnsureRoot<u64>;
	type MaxKeyLen = frame_support::traits::ConstU32<96>;
	type MaxKeyHistory = frame_support::traits::ConstU32<4>;
	type MaxFeelessTxPerWindow = frame_support::traits::ConstU32<100>;
	type FeelessWindow = frame_support::traits::ConstU64<10>;
	type MedicalCalls = SlipCalls;
	type RetreatCalls = frame_support::traits::Nothing;
	type OnBehalfCalls = frame_support::traits::Nothing;
	type MaxOnBehalfTxPerWindow = frame_support::traits::ConstU32<0>;
	type WeightInfo = ();
}

pub const CHAIN_ID: ChainId = 7;

parameter_types! {
	/// Chain kind of the mock chain; tests switch it to `Consortium`.
	pub static Kind: ChainKind = ChainKind::Hospital;
	/// Chain time in Unix milliseconds.
	pub static NowMs: u64 = START_MS;
}

pub const START_MS: u64 = 1_700_000_000_000;

pub struct MockChain;
impl ChainIdentity for MockChain {
	fn chain_id() -> ChainId {
		CHAIN_ID
	}
	fn chain_kind() -> ChainKind {
		Kind::get()
	}
}

pub struct MockTime;
impl frame_support::traits::UnixTime for MockTime {
	fn now() -> core::time::Duration {
		core::time::Duration::from_millis(NowMs::get())
	}
}

pub const MAX_CONTENT: u32 = 64;
pub const MAX_KEYWORDS: u32 = 4;
pub const MAX_KEYWORD_LEN: u32 = 48;
pub const MAX_ADDRESS: u32 = 64;
pub const PENDING: u64 = 20;
pub const BATCH_BLOCKS: u64 = 10;
pub const BATCH_MS: u64 = 600_000;
pub const MAX_ITEMS: u32 = 8;
pub const MAX_EXPIRIES_PER_BLOCK: u32 = 4;
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;
pub const VISIT_VALIDITY: u64 = 30 * DAY_MS;
pub const MAX_PENDING_PER_PATIENT: u32 = 8;
pub const MAX_PENDING_PER_DOCTOR_PATIENT: u32 = 4;

/// Signs for any account in the mock: `TestSignature(signer, message)` verifies iff both
/// match.
pub struct MockSigner;
impl mbds_primitives::statements::SignerBenchmarkHelper<u64, TestSignature> for MockSigner {
	fn signer(seed: u32) -> u64 {
		1_000 + seed as u64
	}
	fn sign(who: &u64, payload: &[u8]) -> TestSignature {
		TestSignature(*who, payload.to_vec())
	}
}

impl pallet_slips::Config for Test {
	type Participants = Kmc;
	type ChainInfo = MockChain;
	type UnixTime = MockTime;
	type AdminOrigin = EnsureRoot<u64>;
	type MaxContentLen = frame_support::traits::ConstU32<MAX_CONTENT>;
	type MaxKeywords = frame_support::traits::ConstU32<MAX_KEYWORDS>;
	type MaxKeywordLen = frame_support::traits::ConstU32<MAX_KEYWORD_LEN>;
	type MaxAddressLen = frame_support::traits::ConstU32<MAX_ADDRESS>;
	type PendingPeriod = frame_support::traits::ConstU64<PENDING>;
	type MaxExpiriesPerBlock = frame_support::traits::ConstU32<MAX_EXPIRIES_PER_BLOCK>;
	type BatchBlocks = frame_support::traits::ConstU64<BATCH_BLOCKS>;
	type BatchPeriodMs = frame_support::traits::ConstU64<BATCH_MS>;
	type MaxItemsPerBatch = frame_support::traits::ConstU32<MAX_ITEMS>;
	type Signature = TestSignature;
	type VisitValidity = frame_support::traits::ConstU64<VISIT_VALIDITY>;
	type MaxPendingPerPatient = frame_support::traits::ConstU32<MAX_PENDING_PER_PATIENT>;
	type MaxPendingPerDoctorPatient =
		frame_support::traits::ConstU32<MAX_PENDING_PER_DOCTOR_PATIENT>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = Kmc;
	#[cfg(feature = "runtime-benchmarks")]
	type SignerHelper = MockSigner;
}

pub const HOSPITAL: u64 = 1;
pub const DOCTOR: u64 = 2;
pub const PATIENT: u64 = 3;
pub const OTHER_HOSPITAL: u64 = 4;
pub const OTHER_DOCTOR: u64 = 5;
pub const OTHER_PATIENT: u64 = 6;
pub const SUSPENDED_DOCTOR: u64 = 7;
/// A second doctor of `HOSPITAL`.
pub const COLLEAGUE: u64 = 8;
/// A third doctor of `HOSPITAL`.
pub const THIRD_DOCTOR: u64 = 9;
pub const STRANGER: u64 = 99;

fn participant(account: u64, role: Role<u64>) -> pallet_kmc::GenesisParticipant<u64> {
	pallet_kmc::GenesisParticipant {
		account,
		role,
		identity: sp_core::H256::repeat_byte(account as u8),
		record_scheme: pallet_kmc::KeyScheme::UmbralSecp256k1V1,
		record_key: vec![account as u8; 33],
		search_scheme: pallet_kmc::KeyScheme::PeksBls12381V1,
		search_key: vec![account as u8; 96],
	}
}

/// Genesis: two hospitals with a doctor each, two patients, a suspended doctor of `HOSPITAL`;
/// this chain belongs to `HOSPITAL`. Block 1, time `START_MS`.
pub fn new_test_ext() -> TestExt {
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	pallet_kmc::GenesisConfig::<Test> {
		participants: vec![
			participant(HOSPITAL, Role::Institution(InstitutionKind::Hospital)),
			participant(OTHER_HOSPITAL, Role::Institution(InstitutionKind::Hospital)),
			participant(DOCTOR, Role::Doctor { institution: HOSPITAL }),
			participant(OTHER_DOCTOR, Role::Doctor { institution: OTHER_HOSPITAL }),
			participant(SUSPENDED_DOCTOR, Role::Doctor { institution: HOSPITAL }),
			participant(COLLEAGUE, Role::Doctor { institution: HOSPITAL }),
			participant(THIRD_DOCTOR, Role::Doctor { institution: HOSPITAL }),
			participant(PATIENT, Role::Patient),
			participant(OTHER_PATIENT, Role::Patient),
		],
	}
	.assimilate_storage(&mut t)
	.unwrap();
	pallet_slips::GenesisConfig::<Test> { institution: Some(HOSPITAL) }
		.assimilate_storage(&mut t)
		.unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| {
		System::set_block_number(1);
		NowMs::set(START_MS);
		Kind::set(ChainKind::Hospital);
		assert!(
			<Kmc as mbds_primitives::SuspendParticipant<u64>>::suspend(&SUSPENDED_DOCTOR).is_ok()
		);
	});
	TestExt::new(ext, invariants)
}

/// Advances to block `n` (running `on_initialize`), with chain time 6 s per block.
pub fn run_to_block(n: u64) {
	use frame_support::traits::Hooks;
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		NowMs::set(NowMs::get() + 6_000);
		Slips::on_initialize(next);
	}
}

/// `patient`'s visit proof for `institution`, issued at `issued_at`.
pub fn visit_at(patient: u64, institution: u64, issued_at: u64) -> crate::VisitProofOf<Test> {
	let statement = crate::VisitStatement { patient, institution, issued_at };
	crate::VisitProof {
		institution,
		issued_at,
		signature: <MockSigner as mbds_primitives::statements::SignerBenchmarkHelper<_, _>>::sign(
			&patient,
			&statement.signing_payload(),
		),
	}
}

/// `patient`'s visit proof for `HOSPITAL`, issued now.
pub fn visit(patient: u64) -> crate::VisitProofOf<Test> {
	visit_at(patient, HOSPITAL, NowMs::get())
}

/// Test externalities that check the invariants ([`Kmc::do_try_state`], [`Slips::do_try_state`]) after
/// every `execute_with` (see [`mbds_primitives::invariants::CheckedExternalities`]).
pub type TestExt = mbds_primitives::invariants::CheckedExternalities;

/// Every invariant the tests check.
fn invariants() -> Result<(), sp_runtime::TryRuntimeError> {
	Kmc::do_try_state()?;
	Slips::do_try_state()
}
