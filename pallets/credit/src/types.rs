//! Data of the credit pallet: an institution's credit dimensions, the governance parameters
//! of the score and of the election, and the roles elected for a session.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{
	pallet_prelude::Get, BoundedVec, CloneNoBound, DebugNoBound, EqNoBound, PartialEqNoBound,
};
use scale_info::TypeInfo;
use serde::{Deserialize, Serialize};
use sp_staking::SessionIndex;

/// Credit points: the unit of every score in this pallet.
pub type CreditPoints = u32;

/// Highest value of one credit dimension (a percentage-like grade, 0 ..= 100).
pub const MAX_DIMENSION: u8 = 100;

/// Highest base credit (all dimensions at [`MAX_DIMENSION`]): 10 000 credit points.
pub const MAX_BASE_CREDIT: CreditPoints = MAX_DIMENSION as CreditPoints * 100;

/// Highest weight of one dimension. Bounds the arithmetic (3 x 100 x 1 000 000 fits in u64 with
/// room) and keeps weights human-sized: they are ratios, not amounts.
pub const MAX_DIMENSION_WEIGHT: u32 = 1_000_000;

/// The paper's dimensions of an institution's credit, each graded 0 ..= [`MAX_DIMENSION`] by
/// the consortium's governance from the institution's public record.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Serialize,
	Deserialize,
	Default,
)]
#[serde(rename_all = "camelCase")]
pub struct CreditDimensions {
	/// Institution grade ("current rating of medical institutions", e.g. a tertiary grade-A
	/// hospital near 100).
	pub grade: u8,
	/// Deployment scale of the institution's information centre (servers, storage, staff): its
	/// ability to keep a full copy of the chain and answer queries.
	pub deployment_scale: u8,
	/// Enterprise strength (size, finances, track record).
	pub enterprise_strength: u8,
}

impl CreditDimensions {
	/// Every dimension lies in 0 ..= [`MAX_DIMENSION`].
	pub fn is_valid(&self) -> bool {
		self.grade <= MAX_DIMENSION
			&& self.deployment_scale <= MAX_DIMENSION
			&& self.enterprise_strength <= MAX_DIMENSION
	}
}

/// Relative weights of the credit dimensions. Only ratios matter: the base credit is the
/// weighted mean of the dimensions, scaled to 0 ..= [`MAX_BASE_CREDIT`].
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Serialize,
	Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub struct ScoreWeights {
	/// Weight of [`CreditDimensions::grade`].
	pub grade: u32,
	/// Weight of [`CreditDimensions::deployment_scale`].
	pub deployment_scale: u32,
	/// Weight of [`CreditDimensions::enterprise_strength`].
	pub enterprise_strength: u32,
}

impl Default for ScoreWeights {
	/// Grade first (it certifies medical competence), the two capacity dimensions equal.
	fn default() -> Self {
		ScoreWeights { grade: 40, deployment_scale: 30, enterprise_strength: 30 }
	}
}

impl ScoreWeights {
	/// At least one weight is non-zero and none exceeds [`MAX_DIMENSION_WEIGHT`].
	pub fn is_valid(&self) -> bool {
		let all = [self.grade, self.deployment_scale, self.enterprise_strength];
		all.iter().any(|w| *w > 0) && all.iter().all(|w| *w <= MAX_DIMENSION_WEIGHT)
	}

	/// The base credit of `d`: the weighted mean of its dimensions, in 0 ..=
	/// [`MAX_BASE_CREDIT`]. Rounds down; zero if every weight is zero (never stored so).
	pub fn base_credit(&self, d: &CreditDimensions) -> CreditPoints {
		let total =
			self.grade as u64 + self.deployment_scale as u64 + self.enterprise_strength as u64;
		if total == 0 {
			return 0;
		}
		let weighted = self.grade as u64 * d.grade as u64
			+ self.deployment_scale as u64 * d.deployment_scale as u64
			+ self.enterprise_strength as u64 * d.enterprise_strength as u64;
		// weighted / total <= 100, so the product fits and the result is <= MAX_BASE_CREDIT.
		(weighted * 100 / total) as CreditPoints
	}
}

/// Parameters of the election, set by governance.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Serialize,
	Deserialize,
)]
#[serde(rename_all = "camelCase")]
pub struct ElectionParams {
	/// How many representative nodes (RPN) author blocks. The paper: 101.
	pub rpn_count: u32,
	/// How many audit nodes (ATN) are elected after the RPN. The paper: 20 (ranks 102-121).
	pub atn_count: u32,
	/// Credit below which an institution is not elected at all: an RPN that falls under it
	/// leaves at the next session and the best ATN takes its seat.
	pub credit_threshold: CreditPoints,
	/// Fewest RPN an election may produce. With fewer eligible institutions the election is
	/// skipped and the current validators stay: a chain with too few authors is easier to
	/// capture than one that keeps a penalised author for another session.
	pub min_rpn: u32,
}

impl Default for ElectionParams {
	/// The paper's sizes; a threshold of 30 % of the highest base credit.
	fn default() -> Self {
		ElectionParams { rpn_count: 101, atn_count: 20, credit_threshold: 3_000, min_rpn: 1 }
	}
}

/// Why an institution's credit was lowered.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub enum PenaltyReason {
	/// A consensus offence reported through `pallet-offences` (e.g. GRANDPA equivocation).
	Offence,
	/// The audit origin found a block or a service of the institution invalid.
	AuditFailure,
	/// A representative node's Aura slot passed without its block.
	MissedSlot,
	/// A finality voter signed none of a session's noted GRANDPA rounds.
	MissedVotes,
}

/// One registered consortium institution.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct Institution {
	/// The graded dimensions (the static part of the credit).
	pub dimensions: CreditDimensions,
	/// Running performance credit: raised by service, lowered by penalties. Bounded above by
	/// `Config::MaxPerformanceCredit` and below by `-MAX_BASE_CREDIT`, so a penalised
	/// institution can reach zero credit but never owes more than a full base.
	pub performance: i32,
	/// True if the institution declared it is willing to run a node (RPN or ATN).
	pub willing: bool,
	/// Session index of the last offence penalised, so a report repeated by
	/// `pallet-offences` (it re-lists earlier offenders of the same slot) costs credit once.
	pub last_offence_session: Option<SessionIndex>,
}

impl Institution {
	/// The institution's credit under `weights`: base plus performance, never below zero.
	pub fn credit(&self, weights: &ScoreWeights) -> CreditPoints {
		let total = weights.base_credit(&self.dimensions) as i64 + self.performance as i64;
		total.clamp(0, CreditPoints::MAX as i64) as CreditPoints
	}
}

/// The roles elected for one session: RPN author blocks (and vote in GRANDPA), ATN vote in
/// GRANDPA. Both lists are in rank order, best first.
#[derive(
	CloneNoBound, DebugNoBound, PartialEqNoBound, EqNoBound, Encode, Decode, MaxEncodedLen, TypeInfo,
)]
#[scale_info(skip_type_params(MaxRpn, MaxAtn))]
pub struct SessionRoles<
	AccountId: Clone + core::fmt::Debug + PartialEq + Eq,
	MaxRpn: Get<u32>,
	MaxAtn: Get<u32>,
> {
	/// The session these roles apply to.
	pub session: SessionIndex,
	/// Representative nodes: the block authors.
	pub rpn: BoundedVec<AccountId, MaxRpn>,
	/// Audit nodes: finality voters that do not author.
	pub atn: BoundedVec<AccountId, MaxAtn>,
}

impl<AccountId: Clone + core::fmt::Debug + PartialEq + Eq, MaxRpn: Get<u32>, MaxAtn: Get<u32>>
	Default for SessionRoles<AccountId, MaxRpn, MaxAtn>
{
	fn default() -> Self {
		SessionRoles { session: 0, rpn: BoundedVec::new(), atn: BoundedVec::new() }
	}
}

impl<AccountId: Clone + core::fmt::Debug + PartialEq + Eq, MaxRpn: Get<u32>, MaxAtn: Get<u32>>
	SessionRoles<AccountId, MaxRpn, MaxAtn>
{
	/// True if `who` authors blocks in this session.
	pub fn is_rpn(&self, who: &AccountId) -> bool {
		self.rpn.contains(who)
	}
	/// True if `who` is an audit node in this session.
	pub fn is_atn(&self, who: &AccountId) -> bool {
		self.atn.contains(who)
	}
	/// The session validator set: RPN then ATN, in rank order.
	pub fn validators(&self) -> alloc::vec::Vec<AccountId> {
		self.rpn.iter().chain(self.atn.iter()).cloned().collect()
	}
}
