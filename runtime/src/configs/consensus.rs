//! Consensus: sessions, Aura authorship, GRANDPA finality, equivocation reports, and the
//! credit-scored election of the consortium's validators (`pallet-credit`).
//!
//! Every chain runs the same wiring. `pallet-session` rotates sessions every
//! [`SessionPeriod`] blocks (set by the council, `pallet-governance`) and asks `pallet-credit`
//! (through `pallet_session::historical`, which keeps the session roots GRANDPA equivocation proofs are checked against) for the next
//! validator set:
//! - on the consortium, the credit election: RPN ∪ ATN are the session validators and the
//!   GRANDPA voters; only the RPN get Aura slots ([`pallet_credit::RepresentativeAuthors`]);
//! - on hospital and platform chains, the genesis validators, changed only by governance
//!   (`credit.set_private_validators`).
//!
//! GRANDPA equivocations found by the node are reported as unsigned transactions, checked
//! against the historical session keys and passed through `pallet-offences` to
//! `pallet-credit`, which lowers the offender's credit. Each authored block raises its
//! author's credit (`pallet-authorship`).

use super::CouncilTwoThirds;
use crate::*;
use frame_support::weights::Weight;
use frame_support::{
	parameter_types,
	traits::{ConstBool, ConstU128, ConstU32, ConstU64, Get},
};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{traits::ConvertInto, Permill};

/// Most Aura authorities and GRANDPA voters. `pallet-credit` elects at most
/// `MaxRpn + MaxAtn` = 101 + 27 of them.
pub const MAX_AUTHORITIES: u32 = 128;

/// Blocks per session: a changed validator set (credit election, governance) takes effect at
/// a session boundary, one session after it was planned. Owned by `pallet-governance`: the
/// council changes it with `governance.set_session_period`, which refuses values that would
/// stall the chain; two minutes unless the genesis says otherwise.
pub struct SessionPeriod;
impl Get<BlockNumber> for SessionPeriod {
	fn get() -> BlockNumber {
		pallet_governance::SessionPeriodOf::<Runtime>::get()
	}
}
impl SessionPeriod {
	/// Storage key of the period (`Governance::SessionPeriod`). A raw write
	/// (`system.set_storage`, root only) skips the call's checks; the session still reads the
	/// value clamped to `MinSessionPeriod..=MaxSessionPeriod`. Kept for tooling that wrote the
	/// old `:SessionPeriod:` key; use `governance.set_session_period`.
	pub fn key() -> [u8; 32] {
		pallet_governance::SessionPeriod::<Runtime>::hashed_key()
	}
}

/// When sessions end: once one has lasted [`SessionPeriod`] blocks since the block that
/// started it (`pallet_governance::SessionStart`), so a period changed mid-session never cuts
/// a session below the minimum (see `pallet_governance::Pallet::end_session_at`).
pub struct Sessions;
impl pallet_session::ShouldEndSession<BlockNumber> for Sessions {
	fn should_end_session(now: BlockNumber) -> bool {
		Governance::end_session_at(now)
	}
}
impl frame_support::traits::EstimateNextSessionRotation<BlockNumber> for Sessions {
	fn average_session_length() -> BlockNumber {
		SessionPeriod::get()
	}

	fn estimate_current_session_progress(now: BlockNumber) -> (Option<Permill>, Weight) {
		let start = pallet_governance::SessionStart::<Runtime>::get();
		let lasted = now.saturating_sub(start).saturating_add(1);
		let progress =
			Permill::from_rational(lasted.min(SessionPeriod::get()), SessionPeriod::get());
		(Some(progress), <Runtime as frame_system::Config>::DbWeight::get().reads(2))
	}

	fn estimate_next_session_rotation(now: BlockNumber) -> (Option<BlockNumber>, Weight) {
		let next = Governance::next_session_end().max(now);
		(Some(next), <Runtime as frame_system::Config>::DbWeight::get().reads(2))
	}
}

parameter_types! {
	/// How long a GRANDPA equivocation report stays valid in the transaction pool.
	pub const ReportLongevity: u64 = 7 * DAYS as u64;
}

impl pallet_aura::Config for Runtime {
	type AuthorityId = AuraId;
	// Aura's author list is the RPN only, a subset of the session validators; the session's
	// disabled-validator indices do not apply to it.
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<MAX_AUTHORITIES>;
	type MaxNominators = ConstU32<0>;
	// Set-id -> session entries kept for checking equivocation proofs: about 33 hours of
	// sessions at the default period.
	type MaxSetIdSessionEntries = ConstU64<1_000>;
	type KeyOwnerProof = sp_session::MembershipProof;
	type EquivocationReportSystem =
		pallet_grandpa::EquivocationReportSystem<Self, Offences, Historical, ReportLongevity>;
}

impl pallet_session::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	// A validator is identified by its account: an institution's account.
	type ValidatorId = AccountId;
	type ValidatorIdOf = ConvertInto;
	type ShouldEndSession = Sessions;
	type NextSessionRotation = Sessions;
	type SessionManager = pallet_session::historical::NoteHistoricalRoot<Runtime, Credit>;
	// Same order as `opaque::SessionKeys` (aura, grandpa).
	type SessionHandler = (
		pallet_credit::RepresentativeAuthors<Runtime, Aura>,
		pallet_credit::RecordedVoters<Runtime, Grandpa>,
	);
	type Keys = opaque::SessionKeys;
	type DisablingStrategy = ();
	type WeightInfo = pallet_session::weights::SubstrateWeight<Runtime>;
	type Currency = Balances;
	// Held while an account has session keys: bounds `set_keys` spam by non-validators.
	type KeyDeposit = ConstU128<UNIT>;
}

impl pallet_session::historical::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	// No stake: the account is the whole identification.
	type FullIdentification = ();
	type FullIdentificationOf = pallet_credit::UnitIdentification;
}

impl pallet_authorship::Config for Runtime {
	type FindAuthor = pallet_credit::FindRepresentativeAuthor<Runtime, Aura>;
	type EventHandler = Credit;
}

impl pallet_offences::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type IdentificationTuple = pallet_session::historical::IdentificationTuple<Self>;
	type OnOffenceHandler = Credit;
}

parameter_types! {
	pub const AuthoringCredit: pallet_credit::CreditPoints = 1;
	pub const ServiceCredit: pallet_credit::CreditPoints = 10;
	pub const MaxPerformanceCredit: pallet_credit::CreditPoints = 1_000;
	pub const OffencePenalty: pallet_credit::CreditPoints = 2_000;
	pub const AuditFailurePenalty: pallet_credit::CreditPoints = 1_500;
	/// A representative node down for 5 of its slots (45 s with 3 RPN, 25 min with the
	/// paper's 101) loses 2 000: one grade step of base credit, enough for a stand-by one step
	/// below to be elected in its place at the next session.
	pub const MissedSlotPenalty: pallet_credit::CreditPoints = 400;
	/// A finality voter that signed none of a session's (at least five) noted GRANDPA rounds
	/// loses 400 per round: silent for a whole session of 10 rounds it loses 4 000, two grade
	/// steps, and the stand-by takes its seat at the next election.
	pub const MissedVotePenalty: pallet_credit::CreditPoints = 400;
}

/// `pallet-credit`'s finality voters: GRANDPA's current set.
pub struct GrandpaVoters;
impl Get<(sp_consensus_grandpa::SetId, sp_consensus_grandpa::AuthorityList)> for GrandpaVoters {
	fn get() -> (sp_consensus_grandpa::SetId, sp_consensus_grandpa::AuthorityList) {
		(Grandpa::current_set_id(), Grandpa::grandpa_authorities())
	}
}

/// The upgrade that introduces `pallet_credit::SessionVoterKeys` (spec 103) fills it from
/// GRANDPA's current set and `pallet-session`'s key owners, so the session it lands in is
/// tallied too; once filled (by this or by a session start) it does nothing.
pub struct FillSessionVoterKeys;
impl frame_support::traits::OnRuntimeUpgrade for FillSessionVoterKeys {
	fn on_runtime_upgrade() -> frame_support::weights::Weight {
		use sp_runtime::RuntimeAppPublic;
		let db = <Runtime as frame_system::Config>::DbWeight::get();
		if !pallet_credit::SessionVoterKeys::<Runtime>::get().is_empty() {
			return db.reads(1);
		}
		let authorities = Grandpa::grandpa_authorities();
		let n = authorities.len() as u64;
		pallet_credit::Pallet::<Runtime>::note_session_voters(authorities.into_iter().filter_map(
			|(id, _)| {
				Session::key_owner(sp_consensus_grandpa::AuthorityId::ID, id.as_ref())
					.map(|who| (who, id))
			},
		));
		db.reads_writes(2 + n, 1)
	}
}

impl pallet_credit::Config for Runtime {
	type ChainIdentity = ChainInfo;
	// Registering and grading institutions, score weights, election sizes, private validators:
	// the council's two thirds.
	type GovernanceOrigin = CouncilTwoThirds;
	// Audit findings cost or earn credit and so decide who validates: the council's two
	// thirds too, not a KMC operator (operators manage participants, not validators).
	type AuditOrigin = CouncilTwoThirds;
	type HasSessionKeys = pallet_credit::SessionKeysRegistered<Runtime>;
	type MaxInstitutions = ConstU32<512>;
	// The paper's 101 representative nodes and 20 audit nodes fit; Aura and GRANDPA take
	// up to MAX_AUTHORITIES = MaxRpn + MaxAtn.
	type MaxRpn = ConstU32<101>;
	type MaxAtn = ConstU32<{ MAX_AUTHORITIES - 101 }>;
	type AuthoringCredit = AuthoringCredit;
	type ServiceCredit = ServiceCredit;
	type MaxPerformanceCredit = MaxPerformanceCredit;
	type OffencePenalty = OffencePenalty;
	type AuditFailurePenalty = AuditFailurePenalty;
	type MissedSlotPenalty = MissedSlotPenalty;
	type SlotOfBlock = pallet_credit::AuraSlotOfBlock<Runtime>;
	type FinalityVoters = GrandpaVoters;
	type MaxVoters = ConstU32<MAX_AUTHORITIES>;
	type MissedVotePenalty = MissedVotePenalty;
	type WeightInfo = pallet_credit::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = CreditBenchmarkHelper;
}

/// Chain kind and session keys for `pallet-credit`'s benchmarks on the real runtime.
#[cfg(feature = "runtime-benchmarks")]
pub struct CreditBenchmarkHelper;
#[cfg(feature = "runtime-benchmarks")]
impl pallet_credit::BenchmarkHelper<AccountId> for CreditBenchmarkHelper {
	fn set_chain_kind(kind: ChainKind) {
		pallet_chain_info::Kind::<Runtime>::put(kind);
	}
	fn register_session_keys(who: &AccountId) {
		// Distinct per account; the bytes need not be valid points: nothing verifies with them.
		let raw: [u8; 32] = *AsRef::<[u8; 32]>::as_ref(who);
		let keys = opaque::SessionKeys {
			aura: sp_core::sr25519::Public::from_raw(raw).into(),
			grandpa: sp_core::ed25519::Public::from_raw(raw).into(),
		};
		pallet_session::NextKeys::<Runtime>::insert(who, keys);
	}
	fn set_finality_voters(voters: &[(sp_consensus_grandpa::AuthorityId, AccountId)]) {
		let list: Vec<_> = voters.iter().map(|(id, _)| (id.clone(), 1)).collect();
		pallet_grandpa::Authorities::<Runtime>::put(frame_support::WeakBoundedVec::force_from(
			list,
			Some("benchmark voters"),
		));
		pallet_grandpa::CurrentSetId::<Runtime>::put(0);
		pallet_credit::Pallet::<Runtime>::note_session_voters(
			voters.iter().map(|(id, who)| (who.clone(), id.clone())),
		);
	}
}

/// Unsigned transactions created by the runtime itself: GRANDPA equivocation reports.
impl<C> frame_system::offchain::CreateTransactionBase<C> for Runtime
where
	RuntimeCall: From<C>,
{
	type Extrinsic = UncheckedExtrinsic;
	type RuntimeCall = RuntimeCall;
}

impl<C> frame_system::offchain::CreateBare<C> for Runtime
where
	RuntimeCall: From<C>,
{
	fn create_bare(call: RuntimeCall) -> UncheckedExtrinsic {
		UncheckedExtrinsic::new_bare(call)
	}
}
