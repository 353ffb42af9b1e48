//! Test runtime for `pallet-anchor`: `frame_system`, the slip ledger (for its `Batches` storage
//! key and types, as on a private chain) and the anchoring pallet, on a consortium chain.
//!
//! Private chains are simulated off-runtime: their headers are `PrivateHeader`s whose state
//! root is that of an in-memory trie holding their `Slips::Batches` records.

use crate as pallet_anchor;
use frame_support::{derive_impl, traits::ConstU32};
use frame_system::EnsureRoot;
use mbds_primitives::{ChainId, ChainIdentity, ChainKind, ParticipantRegistry, Role};
use sp_runtime::{traits::BlakeTwo256, BuildStorage};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Slips: pallet_slips,
		Anchor: pallet_anchor,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

/// Nobody is registered: this runtime never writes slips, it only anchors them.
pub struct NoParticipants;
impl ParticipantRegistry<u64> for NoParticipants {
	fn role_of(_who: &u64) -> Option<Role<u64>> {
		None
	}
	fn is_active(_who: &u64) -> bool {
		false
	}
}
#[cfg(feature = "runtime-benchmarks")]
impl mbds_primitives::RegistryBenchmarkHelper<u64> for NoParticipants {
	fn register_active(_who: &u64, _role: Role<u64>) {}
}

/// Id of the consortium chain itself.
pub const CONSORTIUM_ID: ChainId = 1;

pub struct Consortium;
impl ChainIdentity for Consortium {
	fn chain_id() -> ChainId {
		CONSORTIUM_ID
	}
	fn chain_kind() -> ChainKind {
		ChainKind::Consortium
	}
}

pub struct MockTime;
impl frame_support::traits::UnixTime for MockTime {
	fn now() -> core::time::Duration {
		core::time::Duration::from_millis(1_700_000_000_000)
	}
}

pub const MAX_KEYWORD_LEN: u32 = 48;
pub const MAX_ITEMS: u32 = 32;

impl pallet_slips::Config for Test {
	type Participants = NoParticipants;
	type ChainInfo = Consortium;
	type UnixTime = MockTime;
	type AdminOrigin = EnsureRoot<u64>;
	type MaxContentLen = ConstU32<64>;
	type MaxKeywords = ConstU32<4>;
	type MaxKeywordLen = ConstU32<MAX_KEYWORD_LEN>;
	type MaxAddressLen = ConstU32<64>;
	type PendingPeriod = frame_support::traits::ConstU64<20>;
	type MaxExpiriesPerBlock = ConstU32<5>;
	type BatchBlocks = frame_support::traits::ConstU64<10>;
	type BatchPeriodMs = frame_support::traits::ConstU64<600_000>;
	type MaxItemsPerBatch = ConstU32<MAX_ITEMS>;
	type Signature = sp_runtime::testing::TestSignature;
	type VisitValidity = frame_support::traits::ConstU64<{ 30 * 86_400_000 }>;
	type MaxPendingPerPatient = ConstU32<32>;
	type MaxPendingPerDoctorPatient = ConstU32<4>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = NoParticipants;
	#[cfg(feature = "runtime-benchmarks")]
	type SignerHelper = NoParticipants;
}

#[cfg(feature = "runtime-benchmarks")]
impl mbds_primitives::statements::SignerBenchmarkHelper<u64, sp_runtime::testing::TestSignature>
	for NoParticipants
{
	fn signer(seed: u32) -> u64 {
		1_000 + seed as u64
	}
	fn sign(who: &u64, payload: &[u8]) -> sp_runtime::testing::TestSignature {
		sp_runtime::testing::TestSignature(*who, payload.to_vec())
	}
}

/// Header of the simulated private chains (same number type as this runtime's blocks).
pub type PrivateHeader = sp_runtime::generic::Header<u64, BlakeTwo256>;

pub const MAX_AUTHORITIES: u32 = 8;
pub const HEADERS_TO_KEEP: u32 = 4;
pub const MAX_VOTES_ANCESTRIES: u32 = 16;

impl pallet_anchor::Config for Test {
	type GovernanceOrigin = EnsureRoot<u64>;
	type PrivateHeader = PrivateHeader;
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	type HeadersToKeep = ConstU32<HEADERS_TO_KEEP>;
	type MaxVotesAncestries = ConstU32<MAX_VOTES_ANCESTRIES>;
	type WeightInfo = ();
}

/// Empty consortium chain at block 1.
pub fn new_test_ext() -> TestExt {
	let t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut ext = sp_io::TestExternalities::new(t);
	ext.execute_with(|| System::set_block_number(1));
	TestExt::new(ext, Anchor::do_try_state)
}

/// Test externalities that check the invariants ([`Anchor::do_try_state`]) after every
/// `execute_with` (see [`mbds_primitives::invariants::CheckedExternalities`]).
pub type TestExt = mbds_primitives::invariants::CheckedExternalities;
