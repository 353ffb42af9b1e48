//! `Config` of the MBDS pallets: chain identity, the KMC registry, HMI slips, consent.

use crate::*;
use frame_support::{
	parameter_types,
	traits::{ConstU32, Contains, Get},
};
use frame_system::EnsureRoot;
use mbds_primitives::ChainIdentity;

impl pallet_chain_info::Config for Runtime {}

/// The calls only registered participants may send, without fees (checked by
/// `pallet_kmc::CheckParticipant`, fees waived through `feeless_if`).
pub struct MedicalCalls;
impl Contains<RuntimeCall> for MedicalCalls {
	fn contains(call: &RuntimeCall) -> bool {
		matches!(call, RuntimeCall::Slips(..) | RuntimeCall::Consent(..))
	}
}

impl pallet_kmc::Config for Runtime {
	// Root (sudo) until the authority council exists.
	type KmcOrigin = EnsureRoot<AccountId>;
	// Largest key today: a BLS12-381 G2 search key (96 bytes + 2 of framing).
	type MaxKeyLen = ConstU32<128>;
	type MaxKeyHistory = ConstU32<8>;
	// 200 medical transactions per 10 minutes per identity: far above a clinician's pace.
	type MaxFeelessTxPerWindow = ConstU32<200>;
	type FeelessWindow = ConstU32<{ 10 * MINUTES }>;
	type MedicalCalls = MedicalCalls;
	type WeightInfo = pallet_kmc::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// The paper's batching rule: a summary batch every 10 blocks or 10 minutes.
	pub const SlipBatchPeriodMs: Moment = 10 * 60 * 1000;
}

impl pallet_slips::Config for Runtime {
	type Participants = Kmc;
	type ChainInfo = ChainInfo;
	type UnixTime = Timestamp;
	type AdminOrigin = EnsureRoot<AccountId>;
	type MaxContentLen = ConstU32<1024>;
	type MaxKeywords = ConstU32<16>;
	// A designated-tester PEKS ciphertext is 82 bytes (mbds-crypto).
	type MaxKeywordLen = ConstU32<128>;
	type MaxAddressLen = ConstU32<256>;
	type PendingPeriod = ConstU32<DAYS>;
	// The paper's block of 128 slips.
	type MaxSlipsPerBlock = ConstU32<128>;
	type BatchBlocks = ConstU32<10>;
	type BatchPeriodMs = SlipBatchPeriodMs;
	type MaxItemsPerBatch = ConstU32<2048>;
	type WeightInfo = pallet_slips::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = Kmc;
}

/// Chain id of the development preset, a one-node chain that plays every role.
pub const DEVELOPMENT_CHAIN_ID: ChainId = 1000;

/// Consents live on the consortium chain, so one grant covers records on every private chain
/// (see `pallet-consent`). The one-node development chain also accepts them, so the whole
/// patient flow can be tried on `--dev`.
pub struct AcceptsConsents;
impl Get<bool> for AcceptsConsents {
	fn get() -> bool {
		ChainInfo::chain_kind() == ChainKind::Consortium
			|| ChainInfo::chain_id() == DEVELOPMENT_CHAIN_ID
	}
}

parameter_types! {
	pub const ConsentRequestTtl: Moment = 7 * 24 * 60 * 60 * 1000;
	pub const ConsentRateWindow: Moment = 60 * 60 * 1000;
}

impl pallet_consent::Config for Runtime {
	type Participants = Kmc;
	type Time = Timestamp;
	type ProxyOrigin = pallet_consent::EnsureHealthAuthority<Runtime>;
	type AcceptsConsents = AcceptsConsents;
	type MaxGrantsPerPatient = ConstU32<256>;
	type MaxGrantsPerGrantee = ConstU32<16>;
	type MaxPoliciesPerPatient = ConstU32<16>;
	type MaxPendingRequestsPerPatient = ConstU32<64>;
	type RequestTtl = ConsentRequestTtl;
	type MaxExpiriesPerBlock = ConstU32<64>;
	type MaxAuditEntriesPerPatient = ConstU32<4096>;
	// Abnormal access: more than 60 requests or 600 accesses an hour suspends the identity.
	type RateWindow = ConsentRateWindow;
	type MaxRequestsPerWindow = ConstU32<60>;
	type MaxAccessesPerWindow = ConstU32<600>;
	type WeightInfo = pallet_consent::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = Kmc;
}

/// The consortium's light clients of the private chains and the anchored summaries
/// (`pallet-anchor`). Private chains run this runtime, so their header type and their slip
/// pallet's storage layout are this runtime's.
impl pallet_anchor::Config for Runtime {
	// Root (sudo) until the authority council exists: registering a chain decides which
	// GRANDPA authorities the consortium trusts.
	type GovernanceOrigin = EnsureRoot<AccountId>;
	type PrivateHeader = Header;
	type MaxAuthorities = ConstU32<{ super::MAX_AUTHORITIES }>;
	// The last 256 imported headers can each back a batch without a new justification.
	type HeadersToKeep = ConstU32<256>;
	type MaxVotesAncestries = ConstU32<128>;
	type WeightInfo = pallet_anchor::weights::SubstrateWeight<Runtime>;
}
