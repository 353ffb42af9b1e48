//! `Config` of the MBDS pallets: chain identity, the KMC registry, HMI slips, consent.

use super::{CouncilTwoThirds, KmcOrigin};
use crate::*;
use frame_support::{
	parameter_types,
	traits::{ConstU32, Contains, Get},
};
use mbds_primitives::ChainIdentity;

impl pallet_chain_info::Config for Runtime {}

/// The calls only registered participants may send, without fees (checked by
/// `pallet_kmc::CheckParticipant`, fees waived through `feeless_if`; every one of them is
/// feeless for an active participant, which `pallet_kmc::SkipFeeIfFeeless` relies on and a
/// runtime test checks). Naming the chain's institution is the council's, not a medical call.
pub struct MedicalCalls;
impl Contains<RuntimeCall> for MedicalCalls {
	fn contains(call: &RuntimeCall) -> bool {
		matches!(
			call,
			RuntimeCall::Slips(
				pallet_slips::Call::submit_slip { .. }
					| pallet_slips::Call::confirm_slip { .. }
					| pallet_slips::Call::confirm_slip_indexed { .. }
					| pallet_slips::Call::reject_slip { .. }
			) | RuntimeCall::Consent(..)
				| RuntimeCall::Kmc(
					pallet_kmc::Call::rotate_own_keys { .. } | pallet_kmc::Call::employ { .. }
				)
		)
	}
}

/// The medical calls a proxy sends for a user who signed the request (its record of an access
/// or a search): counted in a health authority's on-behalf quota, not its own.
pub struct OnBehalfCalls;
impl Contains<RuntimeCall> for OnBehalfCalls {
	fn contains(call: &RuntimeCall) -> bool {
		matches!(
			call,
			RuntimeCall::Consent(
				pallet_consent::Call::record_access { .. }
					| pallet_consent::Call::record_search { .. }
			)
		)
	}
}

/// The medical calls a suspended participant may still send: a patient taking back consent.
pub struct RetreatCalls;
impl Contains<RuntimeCall> for RetreatCalls {
	fn contains(call: &RuntimeCall) -> bool {
		matches!(
			call,
			RuntimeCall::Consent(
				pallet_consent::Call::revoke { .. }
					| pallet_consent::Call::deny_request { .. }
					| pallet_consent::Call::remove_policy { .. }
			)
		)
	}
}

impl pallet_kmc::Config for Runtime {
	// The council's two thirds, or a KMC operator the council appointed, alone: registering a
	// patient or a doctor needs no vote.
	type KmcOrigin = KmcOrigin;
	// Institutions (health authorities included) and re-keying: the council's two thirds only.
	type CouncilOrigin = CouncilTwoThirds;
	// Largest key today: a BLS12-381 G2 search key (96 bytes + 2 of framing).
	type MaxKeyLen = ConstU32<128>;
	type MaxKeyHistory = ConstU32<8>;
	// 200 medical transactions per 10 minutes per identity: far above a clinician's pace.
	type MaxFeelessTxPerWindow = ConstU32<200>;
	type FeelessWindow = ConstU32<{ 10 * MINUTES }>;
	type MedicalCalls = MedicalCalls;
	type RetreatCalls = RetreatCalls;
	type OnBehalfCalls = OnBehalfCalls;
	// A proxy records every user's accesses: 30 times a participant's own quota (10 a second
	// over the window), still a bound on a rogue health authority.
	type MaxOnBehalfTxPerWindow = ConstU32<6_000>;
	type WeightInfo = pallet_kmc::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// The paper's batching rule: a summary batch every 10 blocks or 10 minutes.
	pub const SlipBatchPeriodMs: Moment = 10 * 60 * 1000;
	/// A patient's visit proof lets the visited institution's doctors write slips about the
	/// patient for 30 days.
	pub const SlipVisitValidity: Moment = 30 * 24 * 60 * 60 * 1000;
}

impl pallet_slips::Config for Runtime {
	type Participants = Kmc;
	type ChainInfo = ChainInfo;
	type UnixTime = Timestamp;
	// Naming the chain's institution decides whose doctors write slips: the council's two
	// thirds, not an operator.
	type AdminOrigin = CouncilTwoThirds;
	type MaxContentLen = ConstU32<1024>;
	type MaxKeywords = ConstU32<16>;
	// A designated-tester PEKS ciphertext is 82 bytes (mbds-crypto).
	type MaxKeywordLen = ConstU32<128>;
	type MaxAddressLen = ConstU32<256>;
	type PendingPeriod = ConstU32<DAYS>;
	// Slips the expiry cursor expires a block (and 8 times as many decided ones it passes
	// over): about 48 ms of `on_initialize` at worst, 34 ms for the passes. Not a limit on
	// slips per block: the paper's "block of 128 slips" is its batching rule, which the
	// summary batches implement; weight alone bounds a block's slips.
	type MaxExpiriesPerBlock = ConstU32<256>;
	type BatchBlocks = ConstU32<10>;
	type BatchPeriodMs = SlipBatchPeriodMs;
	type MaxItemsPerBatch = ConstU32<2048>;
	// Visit proofs are the patient account's sr25519 signatures.
	type Signature = Signature;
	type VisitValidity = SlipVisitValidity;
	// Against slip spam: 32 undecided slips per patient, 4 of them per doctor, so at least
	// eight doctors who all saw the patient are needed to fill a patient's places. Undecided
	// slips expire after `PendingPeriod` (a day).
	type MaxPendingPerPatient = ConstU32<32>;
	type MaxPendingPerDoctorPatient = ConstU32<4>;
	type WeightInfo = pallet_slips::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = Kmc;
	#[cfg(feature = "runtime-benchmarks")]
	type SignerHelper = Sr25519BenchmarkSigner;
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
	pub const StatementValidity: Moment = 10 * 60 * 1000;
	pub const EmergencyAttestationTtl: Moment = 15 * 60 * 1000;
	pub const MaxEmergencyDuration: Moment = 24 * 60 * 60 * 1000;
	pub const ConsentRequestTtl: Moment = 7 * 24 * 60 * 60 * 1000;
	pub const ConsentRateWindow: Moment = 60 * 60 * 1000;
}

impl pallet_consent::Config for Runtime {
	type Participants = Kmc;
	// Records are anchored on the consortium, where consents live.
	type Records = Anchor;
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
	// Statements (an access asked of a proxy, a visit) are the account's sr25519 signatures.
	type Signature = Signature;
	// A signed statement must reach the chain within 10 minutes of its signing (either way:
	// clocks of devices and of block authors differ by seconds, not minutes).
	type StatementValidity = StatementValidity;
	// Two open requests per requester and patient: a real doctor needs one; 32 accounts
	// would be needed to fill a patient's 64 slots.
	type MaxPendingPerRequester = ConstU32<2>;
	// Break-glass: an attestation is usable for 15 minutes, a grant lasts at most 24 hours.
	type EmergencyAttestationTtl = EmergencyAttestationTtl;
	type MaxEmergencyDuration = MaxEmergencyDuration;
	type WeightInfo = pallet_consent::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = Kmc;
	#[cfg(feature = "runtime-benchmarks")]
	type SignerHelper = Sr25519BenchmarkSigner;
}

/// Signs statements in benchmarks with sr25519 keys generated in the benchmark's keystore.
#[cfg(feature = "runtime-benchmarks")]
pub struct Sr25519BenchmarkSigner;
#[cfg(feature = "runtime-benchmarks")]
impl mbds_primitives::statements::SignerBenchmarkHelper<AccountId, Signature>
	for Sr25519BenchmarkSigner
{
	fn signer(seed: u32) -> AccountId {
		use alloc::format;
		let seed = format!("//mbds-bench-signer-{seed}");
		let public = sp_io::crypto::sr25519_generate(BENCH_KEY_TYPE, Some(seed.into_bytes()));
		AccountId::from(public)
	}
	fn sign(who: &AccountId, payload: &[u8]) -> Signature {
		let public = sp_core::sr25519::Public::from_raw(*AsRef::<[u8; 32]>::as_ref(who));
		let signature = sp_io::crypto::sr25519_sign(BENCH_KEY_TYPE, &public, payload)
			.expect("the key was generated in this keystore by `signer`");
		Signature::Sr25519(signature)
	}
}

/// Key type of the benchmark signers' keys (never used outside benchmarks).
#[cfg(feature = "runtime-benchmarks")]
const BENCH_KEY_TYPE: sp_core::crypto::KeyTypeId = sp_core::crypto::KeyTypeId(*b"mbdb");

/// The consortium's light clients of the private chains and the anchored summaries
/// (`pallet-anchor`). Private chains run this runtime, so their header type and their slip
/// pallet's storage layout are this runtime's.
impl pallet_anchor::Config for Runtime {
	// Registering and re-initialising a private chain's light client decides which GRANDPA
	// authorities the consortium trusts: the council's two thirds.
	type GovernanceOrigin = CouncilTwoThirds;
	type PrivateHeader = Header;
	type MaxAuthorities = ConstU32<{ super::MAX_AUTHORITIES }>;
	// The last 256 imported headers can each back a batch without a new justification.
	type HeadersToKeep = ConstU32<256>;
	type MaxVotesAncestries = ConstU32<128>;
	type WeightInfo = pallet_anchor::weights::SubstrateWeight<Runtime>;
}
