//! Governance: the council, its membership, the KMC operators it appoints, and the council's
//! typed calls (`pallet-governance`).
//!
//! Every chain has a council (`Council`, a `pallet-collective` instance), seated in genesis and
//! changed only by its own two-thirds vote through `CouncilMembership` (`pallet-membership`):
//! on a private chain the institution and the health authorities, on the consortium its member
//! institutions (see `genesis_config_presets`). A motion is proposed by a member with a
//! threshold, voted by members and closed by anyone; when closed with enough ayes it dispatches
//! its call with the origin `Council::Members(ayes, seats)`. [`CouncilTwoThirds`] accepts it
//! when `ayes * 3 >= seats * 2`: a proposer sets the threshold to at least two thirds of the
//! seats (2 of 3, 4 of 5), or the call fails with `BadOrigin` (shown in the `Executed` event).
//!
//! The council appoints KMC operators (`KmcOperators`, a second `pallet-membership` instance):
//! accounts that register, re-key, suspend and reinstate participants with their own signed
//! calls, so that registering a doctor needs no vote.
//!
//! Root stays accepted wherever the council is (sudo on the one-node development chain, and
//! internal dispatch); the network presets will lose their sudo key.

use super::RuntimeBlockWeights;
use crate::*;
use frame_support::{
	parameter_types,
	traits::{ConstU32, Contains, EitherOfDiverse},
	weights::Weight,
};
use frame_system::{EnsureRoot, EnsureSignedBy};
use sp_runtime::Perbill;

/// The council's `pallet-collective` instance.
pub type CouncilCollective = pallet_collective::Instance1;
/// The council's `pallet-membership` instance.
pub type CouncilMembershipInstance = pallet_membership::Instance1;
/// The KMC operators' `pallet-membership` instance.
pub type KmcOperatorsInstance = pallet_membership::Instance2;

/// Two thirds of the council (or root, which only the development chain's sudo and internal
/// dispatch have): the origin of every privileged MBDS call.
pub type CouncilTwoThirds = EitherOfDiverse<
	EnsureRoot<AccountId>,
	pallet_collective::EnsureProportionAtLeast<AccountId, CouncilCollective, 2, 3>,
>;

/// A signed call by an account the council appointed as KMC operator (`KmcOperators`). Its
/// `try_successful_origin` (benchmarks) signs with the first operator.
pub type EnsureKmcOperator = EnsureSignedBy<KmcOperators, AccountId>;

/// The key management centre: the council's two thirds, or one KMC operator alone.
pub type KmcOrigin = EitherOfDiverse<CouncilTwoThirds, EnsureKmcOperator>;

/// Most council seats. The consortium's members are its institutions (the paper's 101
/// representative nodes and 20 audit nodes); a private chain's council has a handful.
pub const COUNCIL_MAX_MEMBERS: u32 = 128;

parameter_types! {
	/// A council motion stays open five minutes (100 blocks of 3 s): enough for members of a
	/// local network to vote from polkadot.js apps; a production deployment would choose days.
	/// A motion with enough ayes can be closed at once; one without is closed as disapproved
	/// once this time has passed.
	pub const CouncilMotionDuration: BlockNumber = 5 * MINUTES;
	/// A motion may dispatch at most half a block's weight.
	pub MaxCouncilProposalWeight: Weight =
		Perbill::from_percent(50) * RuntimeBlockWeights::get().max_block;
}

/// Members who did not vote on a motion count as nay when it is closed after its time.
pub struct NayDefaultVote;
impl pallet_collective::DefaultVote for NayDefaultVote {
	fn default_vote(_prime_vote: Option<bool>, _yes: u32, _no: u32, _len: u32) -> bool {
		false
	}
}

impl pallet_collective::Config<CouncilCollective> for Runtime {
	type RuntimeOrigin = RuntimeOrigin;
	type Proposal = RuntimeCall;
	type RuntimeEvent = RuntimeEvent;
	type MotionDuration = CouncilMotionDuration;
	// Open motions at a time: a council of institutions has few matters open at once.
	type MaxProposals = ConstU32<32>;
	type MaxMembers = ConstU32<COUNCIL_MAX_MEMBERS>;
	// A member who did not vote counts as nay, whatever the prime member voted: silence never
	// passes a motion (with `PrimeDefaultVote` a prime alone would pass any motion by
	// proposing it, voting aye and waiting out its time).
	type DefaultVote = NayDefaultVote;
	// The crate's own weights (measured on Substrate's reference hardware), not re-measured.
	type WeightInfo = pallet_collective::weights::SubstrateWeight<Runtime>;
	// Members change through `CouncilMembership` (which tells the collective); a direct
	// `council.set_members` would bypass it, so only root (development sudo) may.
	type SetMembersOrigin = EnsureRoot<AccountId>;
	type MaxProposalWeight = MaxCouncilProposalWeight;
	// Two thirds may drop a motion without a vote on it (e.g. a mistaken one).
	type DisapproveOrigin = CouncilTwoThirds;
	type KillOrigin = CouncilTwoThirds;
	// No deposit: members are known institutions and `MaxProposals` bounds open motions.
	type Consideration = ();
}

impl pallet_membership::Config<CouncilMembershipInstance> for Runtime {
	type RuntimeEvent = RuntimeEvent;
	// The council's membership changes only by the council's vote.
	type AddOrigin = CouncilTwoThirds;
	type RemoveOrigin = CouncilTwoThirds;
	type SwapOrigin = CouncilTwoThirds;
	type ResetOrigin = CouncilTwoThirds;
	type PrimeOrigin = CouncilTwoThirds;
	type MembershipInitialized = Council;
	type MembershipChanged = Council;
	type MaxMembers = ConstU32<COUNCIL_MAX_MEMBERS>;
	// The crate's own weights, not re-measured.
	type WeightInfo = pallet_membership::weights::SubstrateWeight<Runtime>;
}

impl pallet_membership::Config<KmcOperatorsInstance> for Runtime {
	type RuntimeEvent = RuntimeEvent;
	// The council appoints and removes KMC operators.
	type AddOrigin = CouncilTwoThirds;
	type RemoveOrigin = CouncilTwoThirds;
	type SwapOrigin = CouncilTwoThirds;
	type ResetOrigin = CouncilTwoThirds;
	type PrimeOrigin = CouncilTwoThirds;
	type MembershipInitialized = ();
	type MembershipChanged = ();
	type MaxMembers = ConstU32<16>;
	// The crate's own weights, not re-measured.
	type WeightInfo = pallet_membership::weights::SubstrateWeight<Runtime>;
}

/// Fewest blocks per session (30 s). A session change schedules a GRANDPA authority set
/// change that must be finalised (a few blocks) before the next one can be scheduled, else
/// that change is skipped; and `pallet-credit` charges a silent finality voter only for a
/// session with at least `MIN_VOTE_ROUNDS` (5) noted GRANDPA rounds, about one a block. Ten
/// blocks leave margin for both (the credit election network test runs at 10).
pub const MIN_SESSION_PERIOD: BlockNumber = 10;
/// Most blocks per session (a day): elections and penalties act at session boundaries, so a
/// penalised validator stays in office at most this long.
pub const MAX_SESSION_PERIOD: BlockNumber = DAYS;
/// Blocks per session when genesis sets none: two minutes, so a penalised representative node
/// leaves the author set within four minutes.
pub const DEFAULT_SESSION_PERIOD: BlockNumber = 2 * MINUTES;

impl pallet_governance::Config for Runtime {
	type GovernanceOrigin = CouncilTwoThirds;
	type MinSessionPeriod = ConstU32<MIN_SESSION_PERIOD>;
	type MaxSessionPeriod = ConstU32<MAX_SESSION_PERIOD>;
	type DefaultSessionPeriod = ConstU32<DEFAULT_SESSION_PERIOD>;
	type WeightInfo = pallet_governance::weights::SubstrateWeight<Runtime>;
}

parameter_types! {
	/// Where the session period lived before `pallet-governance` (spec 103 and older): the
	/// well-known key of `parameter_types! { pub storage SessionPeriod }`, written with
	/// `system.set_storage`. Moved by `pallet_governance::migrations::MoveSessionPeriod`.
	pub OldSessionPeriodKey: [u8; 16] = sp_io::hashing::twox_128(b":SessionPeriod:");
}

/// Fewest council seats a vote may leave: with three, two thirds is still two members, and a
/// council cannot empty itself by removals or a reset (nothing could pass after that, not
/// even a motion to seat new members: no chain of this network has root). Two thirds can
/// still seat accounts nobody holds; that is a decision of two thirds, not of one member.
pub const MIN_COUNCIL_SEATS: usize = 3;

/// The runtime's base call filter: every call but
/// - a member's own `change_key` in `CouncilMembership` and `KmcOperators`:
///   `pallet-membership` lets a member hand its seat to any account without a vote; here seats
///   change only by the council's vote (`swap_member` for a member's new key);
/// - a `CouncilMembership.remove_member` or `reset_members` that would leave fewer than
///   [`MIN_COUNCIL_SEATS`] seats, or a `reset_members` that names an account twice (the
///   motion's `Executed` event then says `CallFiltered`).
///
/// Root (development sudo) is not filtered.
pub struct SeatsChangeOnlyByVote;
impl Contains<RuntimeCall> for SeatsChangeOnlyByVote {
	fn contains(call: &RuntimeCall) -> bool {
		match call {
			RuntimeCall::CouncilMembership(pallet_membership::Call::change_key { .. })
			| RuntimeCall::KmcOperators(pallet_membership::Call::change_key { .. }) => false,
			RuntimeCall::CouncilMembership(pallet_membership::Call::remove_member { .. }) => {
				CouncilMembership::members().len() > MIN_COUNCIL_SEATS
			}
			RuntimeCall::CouncilMembership(pallet_membership::Call::reset_members { members }) => {
				// `pallet-membership` keeps duplicates, and the collective counts seats, not
				// people: [A, B, C, C, C] would be five seats and three voters, and two thirds
				// could never be reached again.
				let distinct: alloc::collections::BTreeSet<_> = members.iter().collect();
				distinct.len() == members.len() && distinct.len() >= MIN_COUNCIL_SEATS
			}
			_ => true,
		}
	}
}
