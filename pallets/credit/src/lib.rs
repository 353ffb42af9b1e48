//! # Credit pallet: credit-scored election of the consortium's validators
//!
//! The paper's "improved DPoS" ("Consensus mechanism"): consortium institutions get a credit
//! score from several graded dimensions (institution grade, information-centre deployment scale,
//! enterprise strength); among those willing to serve, the best `rpn_count` are representative
//! nodes (RPN) that create blocks in turn, the next `atn_count` are audit nodes (ATN) that
//! verify them. Good service raises the credit; equivocation and failed audits lower it; below
//! a threshold an institution is no longer elected.
//!
//! ## Terms
//! - *Credit* = base credit + performance. The base credit is the weighted mean of the three
//!   dimensions (each 0..=100), scaled to 0..=10 000 credit points; the weights are governance
//!   parameters ([`CreditWeights`]). The performance component starts at zero, grows by
//!   [`Config::AuthoringCredit`] per authored block and [`Config::ServiceCredit`] per service
//!   attested by the audit origin (up to [`Config::MaxPerformanceCredit`]), and falls by
//!   [`Config::OffencePenalty`] per reported offence and [`Config::AuditFailurePenalty`] per
//!   failed audit (down to minus the highest base credit).
//! - *Silence costs credit* (the paper: credit reflects performance). A representative node
//!   whose Aura slots pass without its block loses [`Config::MissedSlotPenalty`] per slot, if it
//!   missed more than it filled in the session. Every finality voter, audit nodes included
//!   (they author nothing, so they miss no slot), is watched through GRANDPA justifications:
//!   each block author puts its node's newest justification of this chain into the block (an
//!   inherent, [`Pallet::note_finality_votes`]), the runtime verifies it against the current
//!   voter set and tallies who signed; a voter that signed none of at least
//!   [`MIN_VOTE_ROUNDS`] noted rounds of a session loses [`Config::MissedVotePenalty`] per round
//!   (at most [`MAX_CHARGED_VOTE_ROUNDS`]). Both are charged when the next session is planned,
//!   so the election that follows replaces the silent node with nobody acting. Known limits: a
//!   justification needs only two thirds of the votes, so a voter whose precommits always
//!   arrive last at every author could be left out of every noted round (with several authors
//!   and sessions of many rounds this needs it to be consistently slowest); voters' own
//!   signed heartbeats would close that. Votes are mapped to accounts through the keys each
//!   session started with ([`RecordedVoters`], [`SessionVoterKeys`]), so a voter that rotates
//!   its session keys is still charged.
//! - *Election* (every session, as `pallet-session`'s `SessionManager`): candidates are
//!   registered institutions that declared themselves willing, have session keys and whose credit
//!   is at least `credit_threshold`. They are ranked by credit, ties broken by the lower account
//!   id (its byte order for `AccountId32`), so every node computes the same ranking. Ranks
//!   `1..=rpn_count` are RPN, the next `atn_count` ATN. An RPN whose credit falls under the
//!   threshold is therefore out at the next session, the best ATN moves up into its seat and
//!   the next-ranked institution becomes ATN. The result takes effect one session later
//!   (`pallet-session` queues it), at a session boundary of the running chain.
//!
//! ## How the roles map onto Aura and GRANDPA
//! The session validator set is RPN ∪ ATN. Every member runs GRANDPA: **the finality voters are
//! RPN and ATN together**. Only the RPN get Aura authorship: the runtime wraps Aura's session
//! handler in [`RepresentativeAuthors`], which passes Aura only the RPN's keys, so Aura's slot
//! rotation is "RPN create blocks in turn". An ATN's node holds Aura and GRANDPA keys like any
//! validator but never owns a slot; it imports (re-executes and checks) every block and only
//! votes to finalise blocks it found valid: the paper's "ATN verify the authenticity and
//! validity of each created block", made binding because no block is final without them.
//! [`FindRepresentativeAuthor`] maps Aura's author index back to the RPN account for
//! `pallet-authorship`, which credits the author through [`pallet_authorship::EventHandler`].
//!
//! Safety argument. GRANDPA finalises a block only with signed votes of more than 2/3 of the
//! voter set, and two conflicting finalisations need more than 1/3 of the voters to equivocate.
//! The voter set is RPN ∪ ATN, so finality is safe while fewer than 1/3 of the
//! `rpn_count + atn_count` elected institutions are Byzantine (with the paper's 101 + 20,
//! up to 40), whatever the RPN do: a run of invalid or equivocating RPN blocks is never
//! finalised unless ATN (or more than 2/3 of all voters) sign it. Adding the ATN to the voters
//! strictly raises the number of institutions an attacker must control compared with RPN-only
//! voting. Liveness needs one honest online RPN for blocks and more than 2/3 of RPN ∪ ATN
//! online for finality. Equivocations are provable (GRANDPA equivocation reports through
//! `pallet-offences` reach [`Pallet::on_offence`]) and cost credit, so a misbehaving
//! institution drops out of both roles. The election can never empty the author set: with
//! fewer than `min_rpn` candidates it is skipped and the current validators stay.
//!
//! ## Trust model
//! - Governance ([`Config::GovernanceOrigin`], the authority council) registers institutions,
//!   grades their dimensions and sets the weights and election parameters. It is trusted to
//!   grade honestly; every change is an event, so grading is auditable.
//! - The audit origin ([`Config::AuditOrigin`]) attests service and audit failures.
//! - An institution itself only declares whether it is willing to serve, and registers its
//!   session keys with `pallet-session`'s `set_keys` (Aura sr25519 + GRANDPA ed25519 keys of its
//!   node). Without keys it is not a candidate.
//!
//! ## What it deliberately does not do
//! - No stake, no token voting: credit replaces the stake of DPoS, as in the paper.
//! - No slashing of funds; penalties are credit only.
//! - Aura equivocation (two blocks in one slot) has no on-chain report in FRAME's Aura; it is
//!   handled by the node (the import queue rejects the second block) and, if evidence is
//!   brought, by the audit origin's `report_audit_failure`.
//!
//! ## Hospital and platform chains
//! The same runtime runs there with the same pallet. Off the consortium
//! ([`Config::ChainIdentity`] says so) `new_session` never elects: it returns `None`, so the
//! validator set stays the genesis one, and only [`Pallet::set_private_validators`] (governance)
//! queues a different set for the next session. Registry calls fail with
//! [`Error::NotConsortium`], and [`RepresentativeAuthors`] passes every validator to Aura.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod migrations;

mod types;
pub use types::*;

pub mod weights;
pub use weights::WeightInfo;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

use alloc::vec::Vec;
use bp_header_chain::justification::{
	verify_and_optimize_justification, GrandpaJustification, JustificationVerificationContext,
};
use codec::DecodeAll;
use core::marker::PhantomData;
use frame_support::inherent::ProvideInherent;
use frame_support::{
	traits::{Contains, FindAuthor, Get, OneSessionHandler},
	weights::Weight,
};
use mbds_primitives::{ChainIdentity, ChainKind};
use sp_consensus_grandpa::{AuthorityId as GrandpaId, AuthorityList, SetId};
use sp_inherents::{InherentData, InherentIdentifier};
use sp_runtime::{BoundToRuntimeAppPublic, ConsensusEngineId, Perbill};
use sp_staking::{
	offence::{OffenceDetails, OnOffenceHandler},
	SessionIndex,
};

/// Log target of this pallet.
pub const LOG_TARGET: &str = "runtime::credit";

/// Inherent data key of the block author's newest GRANDPA justification (SCALE bytes of a
/// `GrandpaJustification` of this chain's header), see [`Pallet::note_finality_votes`].
pub const VOTES_INHERENT_IDENTIFIER: InherentIdentifier = *b"mbdsvote";

/// Fewest noted rounds in a session before a voter that signed none of them is charged.
pub const MIN_VOTE_ROUNDS: u32 = 5;

/// Fewest validators (RPN + ATN, the GRANDPA voters) an election may be sized for: the BFT
/// minimum `n = 3f + 1` for tolerating one faulty validator (`f = 1`). With three voters a
/// single failure stops finality, since GRANDPA needs more than two thirds of the votes.
pub const MIN_VALIDATORS: u32 = 4;

/// Most rounds a silent voter is charged for in one session.
pub const MAX_CHARGED_VOTE_ROUNDS: u32 = 10;

/// A GRANDPA justification of this chain's own blocks.
pub type FinalityJustificationOf<T> =
	GrandpaJustification<frame_system::pallet_prelude::HeaderFor<T>>;

/// Hooks a benchmark needs from the runtime: the registry calls only run on the consortium, and
/// only institutions with session keys are elected.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<AccountId> {
	/// Make the chain the given kind (e.g. write `pallet-chain-info`'s `Kind`).
	fn set_chain_kind(kind: ChainKind);
	/// Give `who` session keys, so that [`Config::HasSessionKeys`] holds for it.
	fn register_session_keys(who: &AccountId);
	/// Make `voters` this chain's GRANDPA set 0, each key owned by its account.
	fn set_finality_voters(voters: &[(GrandpaId, AccountId)]);
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;

	/// Bound of [`PendingPrivateValidators`]: a private chain has at most as many validators as
	/// the consortium elects.
	pub struct MaxValidatorsOf<T>(PhantomData<T>);
	impl<T: Config> Get<u32> for MaxValidatorsOf<T> {
		fn get() -> u32 {
			T::MaxRpn::get().saturating_add(T::MaxAtn::get())
		}
	}

	/// The roles of one session, bounded by the runtime's limits.
	pub type RolesOf<T> = SessionRoles<
		<T as frame_system::Config>::AccountId,
		<T as Config>::MaxRpn,
		<T as Config>::MaxAtn,
	>;
	/// A validator set queued by governance on a private chain.
	pub type PrivateSetOf<T> =
		BoundedVec<<T as frame_system::Config>::AccountId, MaxValidatorsOf<T>>;

	/// The in-code storage version. Version 0 was the layout before versioning; version 1 is
	/// the same layout, versioned ([`crate::migrations::v1::BumpToV1`]).
	pub(crate) const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config<RuntimeEvent: From<Event<Self>>> {
		/// Which chain this is (`pallet-chain-info`). Only the consortium elects; on any other
		/// kind the pallet keeps the genesis validators. Wrong here, a hospital chain would try
		/// to elect from an empty registry (and keep its validators), or the consortium would
		/// never elect.
		type ChainIdentity: ChainIdentity;

		/// The consortium's governance (the authority council): registers and grades
		/// institutions, sets score weights and election parameters, queues private-chain
		/// validator sets. Whoever passes it decides who validates the chain.
		type GovernanceOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Who attests service and audit failures (an audit committee, or governance itself).
		/// A loose origin lets anyone push institutions out of the validator set.
		type AuditOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// True if the account has session keys registered with `pallet-session` (use
		/// [`SessionKeysRegistered`]). Electing an institution without keys would elect a
		/// validator `pallet-session` silently drops; `Everything` is only for tests.
		type HasSessionKeys: Contains<Self::AccountId>;

		/// Most registered institutions. Bounds the election's work every session (it reads and
		/// sorts all of them).
		#[pallet::constant]
		type MaxInstitutions: Get<u32>;

		/// Most RPN an election may produce; `rpn_count` cannot exceed it. Keep it at most
		/// Aura's `MaxAuthorities`, or Aura truncates the author list.
		#[pallet::constant]
		type MaxRpn: Get<u32>;

		/// Most ATN an election may produce; `atn_count` cannot exceed it. `MaxRpn + MaxAtn`
		/// must not exceed GRANDPA's `MaxAuthorities`.
		#[pallet::constant]
		type MaxAtn: Get<u32>;

		/// Performance credit an RPN earns per authored block. Too high lets seniority
		/// outweigh the graded dimensions quickly.
		#[pallet::constant]
		type AuthoringCredit: Get<CreditPoints>;

		/// Performance credit per service attested by the audit origin (an audit vote, data
		/// served to a proxy).
		#[pallet::constant]
		type ServiceCredit: Get<CreditPoints>;

		/// Cap of the performance component. Bounds how far service can lift an institution
		/// above its graded base.
		#[pallet::constant]
		type MaxPerformanceCredit: Get<CreditPoints>;

		/// Credit lost per consensus offence (equivocation) reported through
		/// `pallet-offences`. Larger fractions reported by `pallet-offences` (many offenders
		/// in one slot) cost that fraction of the highest base credit if it is more.
		#[pallet::constant]
		type OffencePenalty: Get<CreditPoints>;

		/// Credit lost per failed audit.
		#[pallet::constant]
		type AuditFailurePenalty: Get<CreditPoints>;

		/// Credit lost by a representative node for each of its Aura slots that passed without
		/// its block, charged at the end of a session in which it missed more of its slots than
		/// it filled (its node was down or cut off; a few blocks lost to forks or latency cost
		/// nothing). A gap of a whole author rotation or more is a stall of the chain, not of
		/// one node, and counts against nobody.
		#[pallet::constant]
		type MissedSlotPenalty: Get<CreditPoints>;

		/// The Aura slot of the block being built (from its pre-runtime digest; see
		/// [`AuraSlotOfBlock`]), `None` if it carries none.
		type SlotOfBlock: Get<Option<u64>>;

		/// This chain's GRANDPA voter set and its id (runtime: `pallet-grandpa`'s current set):
		/// the signatures [`Pallet::note_finality_votes`] accepts.
		type FinalityVoters: Get<(SetId, AuthorityList)>;

		/// Most precommits a noted justification may carry (GRANDPA's `MaxAuthorities`).
		#[pallet::constant]
		type MaxVoters: Get<u32>;

		/// Credit lost by a finality voter (RPN or ATN) for each round it was expected to vote
		/// in (at most [`MAX_CHARGED_VOTE_ROUNDS`] a session), charged at the end of a session
		/// in which it signed none of at least [`MIN_VOTE_ROUNDS`] noted rounds (its node was down or silent). A voter that signed
		/// any of them loses nothing: a justification needs only two thirds of the votes, so an
		/// online but slow voter is sometimes left out of one.
		#[pallet::constant]
		type MissedVotePenalty: Get<CreditPoints>;

		/// Weights of this pallet's calls and hooks.
		type WeightInfo: WeightInfo;

		/// Chain kind and session keys for benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::AccountId>;
	}

	/// Target block of the newest GRANDPA justification noted by
	/// [`Pallet::note_finality_votes`]: each justification is noted once, in order.
	#[pallet::storage]
	pub type LastVotedBlock<T: Config> = StorageValue<_, BlockNumberFor<T>, OptionQuery>;

	/// The GRANDPA key of each validator of the current session and its account, as
	/// `pallet-session` handed them to GRANDPA at the session's start ([`RecordedVoters`]).
	/// Votes are mapped to accounts through this snapshot, not through `pallet-session`'s key
	/// owner, which forgets an active key as soon as its validator registers new session keys:
	/// a voter that rotates its keys is still the one charged for its silence.
	#[pallet::storage]
	pub type SessionVoterKeys<T: Config> =
		StorageValue<_, BoundedVec<(GrandpaId, T::AccountId), T::MaxVoters>, ValueQuery>;

	/// This session's finality-vote tallies of each voter: (rounds noted while it was a voter,
	/// rounds whose justification carries its signed precommit). Charged and cleared when the
	/// next session is planned.
	#[pallet::storage]
	pub type VoteTallies<T: Config> =
		CountedStorageMap<_, Twox64Concat, T::AccountId, (u32, u32), ValueQuery>;

	/// The registered consortium institutions.
	#[pallet::storage]
	pub type Institutions<T: Config> =
		CountedStorageMap<_, Blake2_128Concat, T::AccountId, Institution, OptionQuery>;

	/// Weights of the credit dimensions. Changed only by [`Config::GovernanceOrigin`].
	#[pallet::storage]
	pub type CreditWeights<T: Config> = StorageValue<_, ScoreWeights, ValueQuery>;

	/// Sizes and threshold of the election. Changed only by [`Config::GovernanceOrigin`].
	#[pallet::storage]
	pub type Params<T: Config> = StorageValue<_, ElectionParams, ValueQuery>;

	/// Roles of the running session (empty off the consortium).
	#[pallet::storage]
	pub type CurrentRoles<T: Config> = StorageValue<_, RolesOf<T>, ValueQuery>;

	/// Roles elected for the next session, moved to [`CurrentRoles`] when it starts.
	#[pallet::storage]
	pub type QueuedRoles<T: Config> = StorageValue<_, RolesOf<T>, OptionQuery>;

	/// Private chains only: the validator set governance queued for the next session.
	#[pallet::storage]
	pub type PendingPrivateValidators<T: Config> = StorageValue<_, PrivateSetOf<T>, OptionQuery>;

	/// The Aura slot of the last block whose author was noted: the slots between it and the
	/// next block's were missed by their authors.
	#[pallet::storage]
	pub type LastAuthoredSlot<T: Config> = StorageValue<_, u64, OptionQuery>;

	/// Aura slots each representative node missed in the running session (cleared, and
	/// charged if they outnumber its blocks, when the next session is planned). At most one
	/// entry per author.
	#[pallet::storage]
	pub type MissedSlots<T: Config> = CountedStorageMap<_, Twox64Concat, T::AccountId, u32>;

	/// Blocks each institution authored in the running session (cleared with
	/// [`MissedSlots`]).
	#[pallet::storage]
	pub type AuthoredSlots<T: Config> = CountedStorageMap<_, Twox64Concat, T::AccountId, u32>;

	#[pallet::genesis_config]
	pub struct GenesisConfig<T: Config> {
		/// The consortium's founding institutions: account (stash and validator id), graded
		/// dimensions, willing to serve. Must be empty off the consortium.
		pub institutions: Vec<(T::AccountId, CreditDimensions, bool)>,
		/// Initial score weights.
		pub weights: ScoreWeights,
		/// Initial election parameters.
		pub params: ElectionParams,
	}

	impl<T: Config> Default for GenesisConfig<T> {
		/// No institutions, default weights, and the paper's 101 RPN and 20 ATN clamped to the
		/// runtime's `MaxRpn` and `MaxAtn`, so the default genesis of any chain is valid.
		fn default() -> Self {
			let paper = ElectionParams::default();
			let rpn_count = paper.rpn_count.min(T::MaxRpn::get()).max(1);
			GenesisConfig {
				institutions: Vec::new(),
				weights: ScoreWeights::default(),
				params: ElectionParams {
					rpn_count,
					atn_count: paper.atn_count.min(T::MaxAtn::get()),
					credit_threshold: paper.credit_threshold,
					min_rpn: paper.min_rpn.min(rpn_count),
				},
			}
		}
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			assert!(
				self.weights.is_valid(),
				"credit.weights: at least one non-zero, each <= {MAX_DIMENSION_WEIGHT}"
			);
			assert!(
                Pallet::<T>::params_valid(&self.params),
                "credit.params: need 1 <= minRpn <= rpnCount <= MaxRpn, atnCount <= MaxAtn, reachable threshold"
            );
			assert!(
                self.institutions.is_empty() || Pallet::<T>::is_consortium(),
                "credit.institutions given, but the chain is not the consortium (chainInfo.kind), or \
                 ChainInfo is declared after Credit in construct_runtime! (genesis builds in order)"
            );
			assert!(
				self.institutions.len() as u32 <= T::MaxInstitutions::get(),
				"credit.institutions: more than MaxInstitutions"
			);
			CreditWeights::<T>::put(self.weights);
			Params::<T>::put(self.params);
			for (who, dimensions, willing) in &self.institutions {
				assert!(
					dimensions.is_valid(),
					"credit.institutions: dimension above {MAX_DIMENSION}"
				);
				assert!(
					!Institutions::<T>::contains_key(who),
					"credit.institutions: duplicate account"
				);
				Institutions::<T>::insert(
					who,
					Institution {
						dimensions: *dimensions,
						performance: 0,
						willing: *willing,
						last_offence_session: None,
					},
				);
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// Governance registered an institution with its graded dimensions.
		InstitutionRegistered {
			who: T::AccountId,
			dimensions: CreditDimensions,
			credit: CreditPoints,
		},
		/// Governance re-graded an institution.
		DimensionsUpdated { who: T::AccountId, dimensions: CreditDimensions, credit: CreditPoints },
		/// Governance removed an institution; it leaves the validator set at the next election.
		InstitutionDeregistered { who: T::AccountId },
		/// An institution declared whether it is willing to serve as RPN/ATN.
		WillingnessChanged { who: T::AccountId, willing: bool },
		/// Governance changed the weights of the credit dimensions.
		CreditWeightsChanged { weights: ScoreWeights },
		/// Governance changed the election's sizes or threshold.
		ElectionParamsChanged { params: ElectionParams },
		/// An institution's credit was lowered.
		CreditPenalised {
			who: T::AccountId,
			reason: PenaltyReason,
			amount: CreditPoints,
			credit: CreditPoints,
		},
		/// The audit origin attested a service; the institution's credit rose.
		ServiceRecorded { who: T::AccountId, amount: CreditPoints, credit: CreditPoints },
		/// The roles of session `session` were elected (they take effect when it starts).
		RolesElected {
			session: SessionIndex,
			rpn: BoundedVec<T::AccountId, T::MaxRpn>,
			atn: BoundedVec<T::AccountId, T::MaxAtn>,
		},
		/// Too few candidates (`eligible` < `min_rpn`): session `session` keeps the current
		/// validators and roles.
		ElectionSkipped { session: SessionIndex, eligible: u32 },
		/// Governance queued a validator set for a private chain's next planned session.
		PrivateValidatorsQueued { validators: PrivateSetOf<T> },
		/// The queued private-chain validator set was handed to `pallet-session` for `session`.
		PrivateValidatorsPlanned { session: SessionIndex },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// This call only works on the consortium chain. Private chains keep their genesis
		/// validators; change them with `set_private_validators`.
		NotConsortium,
		/// This call only works on hospital and platform chains; the consortium elects its
		/// validators by credit.
		NotPrivateChain,
		/// The account is already a registered institution; use `update_dimensions`.
		AlreadyRegistered,
		/// The account is not a registered institution (governance registers institutions).
		NotRegistered,
		/// The registry is full (`MaxInstitutions`); deregister an institution first.
		TooManyInstitutions,
		/// A credit dimension is above 100.
		DimensionOutOfRange,
		/// Score weights must have at least one non-zero weight and none above 1 000 000.
		InvalidCreditWeights,
		/// Election parameters must satisfy 1 <= min_rpn <= rpn_count <= MaxRpn,
		/// atn_count <= MaxAtn, and a threshold an institution can reach.
		InvalidElectionParams,
		/// The institution's willingness already has this value.
		WillingnessUnchanged,
		/// A validator set must not be empty.
		EmptyValidatorSet,
		/// A validator appears twice in the set.
		DuplicateValidator,
		/// A validator has no session keys; it must call `session.set_keys` first.
		ValidatorWithoutKeys,
		/// The justification is not newer than the last one noted.
		JustificationNotNewer,
		/// The justification finalises no block of this chain (unknown number or hash).
		JustificationOfUnknownBlock,
		/// The justification carries more precommits (or ancestry headers) than there can be
		/// voters.
		TooManyPrecommits,
		/// The justification does not finalise its target with this chain's current voters'
		/// signatures.
		InvalidJustification,
		/// The election would elect fewer than [`MIN_VALIDATORS`] (4) validators
		/// (`rpn_count + atn_count`): below the BFT minimum, one faulty validator stops
		/// finality.
		BelowBftMinimum,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register a consortium institution with its graded dimensions (governance).
		///
		/// The institution starts with zero performance credit and not willing: it declares
		/// willingness itself with [`Pallet::set_willing`] once its node and keys are ready.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_institution())]
		pub fn register_institution(
			origin: OriginFor<T>,
			who: T::AccountId,
			dimensions: CreditDimensions,
		) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::ensure_consortium()?;
			ensure!(dimensions.is_valid(), Error::<T>::DimensionOutOfRange);
			ensure!(!Institutions::<T>::contains_key(&who), Error::<T>::AlreadyRegistered);
			ensure!(
				Institutions::<T>::count() < T::MaxInstitutions::get(),
				Error::<T>::TooManyInstitutions
			);

			let institution = Institution {
				dimensions,
				performance: 0,
				willing: false,
				last_offence_session: None,
			};
			let credit = institution.credit(&CreditWeights::<T>::get());
			Institutions::<T>::insert(&who, institution);
			Self::deposit_event(Event::InstitutionRegistered { who, dimensions, credit });
			Ok(())
		}

		/// Re-grade an institution's dimensions (governance). Its performance is kept.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::update_dimensions())]
		pub fn update_dimensions(
			origin: OriginFor<T>,
			who: T::AccountId,
			dimensions: CreditDimensions,
		) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::ensure_consortium()?;
			ensure!(dimensions.is_valid(), Error::<T>::DimensionOutOfRange);
			let mut institution = Institutions::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;

			institution.dimensions = dimensions;
			let credit = institution.credit(&CreditWeights::<T>::get());
			Institutions::<T>::insert(&who, institution);
			Self::deposit_event(Event::DimensionsUpdated { who, dimensions, credit });
			Ok(())
		}

		/// Remove an institution (governance). If it serves now, it serves until the end of the
		/// sessions already planned and is not elected again.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::deregister_institution())]
		pub fn deregister_institution(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::ensure_consortium()?;
			ensure!(Institutions::<T>::contains_key(&who), Error::<T>::NotRegistered);

			Institutions::<T>::remove(&who);
			Self::deposit_event(Event::InstitutionDeregistered { who });
			Ok(())
		}

		/// Declare whether the calling institution is willing to serve as RPN or ATN.
		///
		/// Its node's session keys are registered separately with `session.set_keys`; an
		/// institution is a candidate only with both.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::set_willing())]
		pub fn set_willing(origin: OriginFor<T>, willing: bool) -> DispatchResult {
			let who = ensure_signed(origin)?;
			Self::ensure_consortium()?;
			let mut institution = Institutions::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			ensure!(institution.willing != willing, Error::<T>::WillingnessUnchanged);

			institution.willing = willing;
			Institutions::<T>::insert(&who, institution);
			Self::deposit_event(Event::WillingnessChanged { who, willing });
			Ok(())
		}

		/// Set the weights of the credit dimensions (governance). Takes effect at the next
		/// election.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::set_credit_weights())]
		pub fn set_credit_weights(origin: OriginFor<T>, weights: ScoreWeights) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::ensure_consortium()?;
			ensure!(weights.is_valid(), Error::<T>::InvalidCreditWeights);

			CreditWeights::<T>::put(weights);
			Self::deposit_event(Event::CreditWeightsChanged { weights });
			Ok(())
		}

		/// Set the election's sizes, threshold and floor (governance). Takes effect at the next
		/// election.
		///
		/// Refused: parameters [`Pallet::params_valid`] rejects
		/// ([`Error::InvalidElectionParams`]), and sizes electing fewer than [`MIN_VALIDATORS`]
		/// validators, `rpn_count + atn_count < 4` ([`Error::BelowBftMinimum`]).
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::set_election_params())]
		pub fn set_election_params(origin: OriginFor<T>, params: ElectionParams) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::ensure_consortium()?;
			ensure!(Self::params_valid(&params), Error::<T>::InvalidElectionParams);
			ensure!(
				params.rpn_count.saturating_add(params.atn_count) >= MIN_VALIDATORS,
				Error::<T>::BelowBftMinimum
			);

			Params::<T>::put(params);
			Self::deposit_event(Event::ElectionParamsChanged { params });
			Ok(())
		}

		/// Record a failed audit of an institution (audit origin): a block or a service of the
		/// institution was found invalid. Costs [`Config::AuditFailurePenalty`] credit.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::report_audit_failure())]
		pub fn report_audit_failure(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			T::AuditOrigin::ensure_origin(origin)?;
			Self::ensure_consortium()?;
			ensure!(Institutions::<T>::contains_key(&who), Error::<T>::NotRegistered);

			Self::penalise(&who, PenaltyReason::AuditFailure, T::AuditFailurePenalty::get(), None);
			Ok(())
		}

		/// Record a service of an institution (audit origin): an audit vote cast, data served.
		/// Adds [`Config::ServiceCredit`] up to the performance cap.
		#[pallet::call_index(7)]
		#[pallet::weight(T::WeightInfo::record_service())]
		pub fn record_service(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			T::AuditOrigin::ensure_origin(origin)?;
			Self::ensure_consortium()?;
			ensure!(Institutions::<T>::contains_key(&who), Error::<T>::NotRegistered);

			let amount = T::ServiceCredit::get();
			if let Some(credit) = Self::reward(&who, amount) {
				Self::deposit_event(Event::ServiceRecorded { who, amount, credit });
			}
			Ok(())
		}

		/// Hospital and platform chains: queue a new validator set (governance). It is handed
		/// to `pallet-session` at the next planned session and becomes active one session
		/// later. Every validator must already have session keys.
		#[pallet::call_index(8)]
		#[pallet::weight(T::WeightInfo::set_private_validators(validators.len() as u32))]
		pub fn set_private_validators(
			origin: OriginFor<T>,
			validators: PrivateSetOf<T>,
		) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			ensure!(!Self::is_consortium(), Error::<T>::NotPrivateChain);
			ensure!(!validators.is_empty(), Error::<T>::EmptyValidatorSet);
			let mut sorted = validators.to_vec();
			sorted.sort();
			sorted.dedup();
			ensure!(sorted.len() == validators.len(), Error::<T>::DuplicateValidator);
			ensure!(
				validators.iter().all(|v| T::HasSessionKeys::contains(v)),
				Error::<T>::ValidatorWithoutKeys
			);

			PendingPrivateValidators::<T>::put(&validators);
			Self::deposit_event(Event::PrivateValidatorsQueued { validators });
			Ok(())
		}

		/// Inherent (consortium): note which finality voters signed a recent GRANDPA
		/// justification of this chain, so that a silent voter loses credit
		/// ([`Config::MissedVotePenalty`]) and the next election replaces it. The block author
		/// puts its node's newest justification in; it must finalise a block of this chain
		/// newer than the last noted one, with valid signatures of the current voter set.
		/// Every valid precommit of a voter in it counts as that voter's vote in the round.
		#[pallet::call_index(9)]
		#[pallet::weight((
			T::WeightInfo::note_finality_votes(Pallet::<T>::voters_bound(justification)),
			DispatchClass::Mandatory
		))]
		pub fn note_finality_votes(
			origin: OriginFor<T>,
			justification: FinalityJustificationOf<T>,
		) -> DispatchResultWithPostInfo {
			ensure_none(origin)?;
			Self::ensure_consortium()?;
			let (voters, signers) = Self::check_finality_votes(&justification)?;
			LastVotedBlock::<T>::put(justification.commit.target_number);
			for voter in &voters {
				VoteTallies::<T>::mutate(voter, |(expected, signed)| {
					*expected = expected.saturating_add(1);
					if signers.contains(voter) {
						*signed = signed.saturating_add(1);
					}
				});
			}
			let n = (voters.len().max(justification.commit.precommits.len()) as u32)
				.min(T::MaxVoters::get());
			Ok(Some(T::WeightInfo::note_finality_votes(n)).into())
		}
	}

	#[pallet::inherent]
	impl<T: Config> ProvideInherent for Pallet<T> {
		type Call = Call<T>;
		type Error = sp_inherents::MakeFatalError<()>;
		const INHERENT_IDENTIFIER: InherentIdentifier = VOTES_INHERENT_IDENTIFIER;

		/// The node's newest justification, if it is one the call accepts (on the consortium
		/// only): an author never builds a block with a failing inherent.
		fn create_inherent(data: &InherentData) -> Option<Self::Call> {
			if !Self::is_consortium() {
				return None;
			}
			let bytes: Vec<u8> = data.get_data(&VOTES_INHERENT_IDENTIFIER).ok().flatten()?;
			let justification = FinalityJustificationOf::<T>::decode_all(&mut &bytes[..]).ok()?;
			Self::check_finality_votes(&justification).ok()?;
			Some(Call::note_finality_votes { justification })
		}

		fn is_inherent(call: &Self::Call) -> bool {
			matches!(call, Call::note_finality_votes { .. })
		}
	}

	impl<T: Config> Pallet<T> {
		/// True on the consortium chain, the only chain that elects.
		pub fn is_consortium() -> bool {
			T::ChainIdentity::chain_kind() == ChainKind::Consortium
		}

		fn ensure_consortium() -> DispatchResult {
			ensure!(Self::is_consortium(), Error::<T>::NotConsortium);
			Ok(())
		}

		/// True if `p` is within the runtime's bounds and its threshold can be reached.
		pub fn params_valid(p: &ElectionParams) -> bool {
			let highest_credit = MAX_BASE_CREDIT.saturating_add(T::MaxPerformanceCredit::get());
			p.min_rpn >= 1
				&& p.min_rpn <= p.rpn_count
				&& p.rpn_count <= T::MaxRpn::get()
				&& p.atn_count <= T::MaxAtn::get()
				&& p.credit_threshold <= highest_credit
		}

		/// The current credit of `who`, if registered.
		pub fn credit_of(who: &T::AccountId) -> Option<CreditPoints> {
			let weights = CreditWeights::<T>::get();
			Institutions::<T>::get(who).map(|i| i.credit(&weights))
		}

		/// The candidates of an election, best first: willing, with session keys, credit at
		/// least the threshold. Ties go to the lower account id.
		pub fn ranking() -> Vec<(T::AccountId, CreditPoints)> {
			let weights = CreditWeights::<T>::get();
			let threshold = Params::<T>::get().credit_threshold;
			let mut ranked: Vec<(T::AccountId, CreditPoints)> = Institutions::<T>::iter()
				.filter(|(who, institution)| {
					institution.willing && T::HasSessionKeys::contains(who)
				})
				.map(|(who, institution)| {
					let credit = institution.credit(&weights);
					(who, credit)
				})
				.filter(|(_, credit)| *credit >= threshold)
				.collect();
			// Storage iteration order is by hashed key; the sort makes the result independent
			// of it.
			ranked.sort_by(|(a, ca), (b, cb)| cb.cmp(ca).then_with(|| a.cmp(b)));
			ranked
		}

		/// Elect the roles of session `session` from the current credits, or `Err(candidates)`
		/// if there are fewer than `min_rpn` candidates.
		pub fn elect(session: SessionIndex) -> Result<RolesOf<T>, u32> {
			let params = Params::<T>::get();
			let ranked = Self::ranking();
			if (ranked.len() as u32) < params.min_rpn {
				return Err(ranked.len() as u32);
			}
			let mut accounts = ranked.into_iter().map(|(who, _)| who);
			let rpn: Vec<_> = accounts.by_ref().take(params.rpn_count as usize).collect();
			let atn: Vec<_> = accounts.take(params.atn_count as usize).collect();
			Ok(SessionRoles {
				session,
				rpn: BoundedVec::truncate_from(rpn),
				atn: BoundedVec::truncate_from(atn),
			})
		}

		/// Plan session `session`: the consortium elects, a private chain hands over a set
		/// queued by governance, if any.
		pub(crate) fn plan_session(
			session: SessionIndex,
			genesis: bool,
		) -> Option<Vec<T::AccountId>> {
			if !Self::is_consortium() {
				let validators = PendingPrivateValidators::<T>::take()?;
				Self::deposit_event(Event::PrivateValidatorsPlanned { session });
				return Some(validators.into_inner());
			}
			Self::settle_missed_slots();
			Self::settle_missed_votes();
			match Self::elect(session) {
				Ok(roles) => {
					log::debug!(
						target: LOG_TARGET,
						"session {session}: {} RPN, {} ATN elected",
						roles.rpn.len(),
						roles.atn.len()
					);
					let validators = roles.validators();
					if genesis && session == 0 {
						CurrentRoles::<T>::put(&roles);
					}
					QueuedRoles::<T>::put(&roles);
					Self::deposit_event(Event::RolesElected {
						session,
						rpn: roles.rpn,
						atn: roles.atn,
					});
					Some(validators)
				}
				Err(eligible) => {
					log::warn!(
						target: LOG_TARGET,
						"session {session}: only {eligible} candidates, keeping the validators"
					);
					// `None` keeps the validator set, so the roles stay too.
					let mut roles = CurrentRoles::<T>::get();
					roles.session = session;
					QueuedRoles::<T>::put(roles);
					Self::deposit_event(Event::ElectionSkipped { session, eligible });
					None
				}
			}
		}

		/// Charges the session's missed slots: each representative node that missed more of its
		/// slots than it filled loses [`Config::MissedSlotPenalty`] per missed slot. Clears the
		/// session's tallies. Bounded by the number of authors (each map holds at most one entry
		/// per author of the session).
		pub(crate) fn settle_missed_slots() {
			let entries = MissedSlots::<T>::count().saturating_add(AuthoredSlots::<T>::count());
			for (who, missed) in MissedSlots::<T>::drain() {
				let authored = AuthoredSlots::<T>::get(&who).unwrap_or(0);
				if missed > authored {
					let amount = T::MissedSlotPenalty::get().saturating_mul(missed);
					Self::penalise(&who, PenaltyReason::MissedSlot, amount, None);
				}
			}
			let _ = AuthoredSlots::<T>::clear(u32::MAX, None);
			frame_system::Pallet::<T>::register_extra_weight_unchecked(
				T::WeightInfo::penalise_offender().saturating_mul(entries as u64),
				frame_support::dispatch::DispatchClass::Mandatory,
			);
		}

		/// Charges the session's missed finality votes: each voter that signed none of the at
		/// least [`MIN_VOTE_ROUNDS`] rounds noted while it was a voter loses
		/// [`Config::MissedVotePenalty`] per round. Clears the tallies. Bounded by the number of
		/// voters of the session.
		pub(crate) fn settle_missed_votes() {
			let entries = VoteTallies::<T>::count();
			for (who, (expected, signed)) in VoteTallies::<T>::drain() {
				if signed == 0 && expected >= MIN_VOTE_ROUNDS {
					// At most `MAX_CHARGED_VOTE_ROUNDS` rounds a session: long sessions (many
					// rounds) charge no more than one of the documented size.
					let rounds = expected.min(MAX_CHARGED_VOTE_ROUNDS);
					let amount = T::MissedVotePenalty::get().saturating_mul(rounds);
					Self::penalise(&who, PenaltyReason::MissedVotes, amount, None);
				}
			}
			frame_system::Pallet::<T>::register_extra_weight_unchecked(
				T::WeightInfo::penalise_offender().saturating_mul(entries as u64),
				frame_support::dispatch::DispatchClass::Mandatory,
			);
		}

		/// Records the current session's validators' GRANDPA keys ([`SessionVoterKeys`]);
		/// called by [`RecordedVoters`] at each session start (the first
		/// [`Config::MaxVoters`] are kept: GRANDPA holds no more).
		pub fn note_session_voters(voters: impl Iterator<Item = (T::AccountId, GrandpaId)>) {
			let keys: Vec<(GrandpaId, T::AccountId)> =
				voters.take(T::MaxVoters::get() as usize).map(|(who, key)| (key, who)).collect();
			SessionVoterKeys::<T>::put(BoundedVec::truncate_from(keys));
		}

		/// Most voters a justification with these precommits can stand for, for weighing: a
		/// valid one carries more than two thirds of the voters' precommits (more is refused
		/// before any signature is checked).
		pub fn voters_bound(justification: &FinalityJustificationOf<T>) -> u32 {
			let p = justification.commit.precommits.len() as u32;
			p.saturating_mul(3).saturating_div(2).saturating_add(1).min(T::MaxVoters::get())
		}

		/// Checks a justification for [`Pallet::note_finality_votes`]: newer than the last
		/// noted, of a block of this chain, finalising it with the current voter set's
		/// signatures. Returns the voters' accounts and the accounts of those whose signed
		/// precommit it carries (valid signature, for the target or a descendant).
		pub fn check_finality_votes(
			justification: &FinalityJustificationOf<T>,
		) -> Result<(Vec<T::AccountId>, Vec<T::AccountId>), Error<T>> {
			let commit = &justification.commit;
			let (hash, number) = (commit.target_hash, commit.target_number);
			ensure!(
				LastVotedBlock::<T>::get().is_none_or(|last| number > last),
				Error::<T>::JustificationNotNewer
			);
			ensure!(
				number < frame_system::Pallet::<T>::block_number()
					&& frame_system::Pallet::<T>::block_hash(number) == hash,
				Error::<T>::JustificationOfUnknownBlock
			);
			// Bounded before anything is verified: at most one precommit per voter, and at most
			// as many ancestry headers (precommits on descendants of the target need a few).
			ensure!(
				commit.precommits.len() <= T::MaxVoters::get() as usize
					&& justification.votes_ancestries.len() <= T::MaxVoters::get() as usize,
				Error::<T>::TooManyPrecommits
			);
			let (set_id, authorities) = T::FinalityVoters::get();
			let owners = SessionVoterKeys::<T>::get();
			let account_of = |id: &GrandpaId| {
				owners.iter().find(|(key, _)| key == id).map(|(_, who)| who.clone())
			};
			let context = JustificationVerificationContext::try_from(
				bp_header_chain::AuthoritySet::new(authorities.clone(), set_id),
			)
			.map_err(|_| Error::<T>::InvalidJustification)?;
			// It finalises its target (the optimised copy drops votes beyond the threshold;
			// the original's are all counted below).
			let mut optimised = justification.clone();
			verify_and_optimize_justification::<HeaderFor<T>>(
				(hash, number),
				&context,
				&mut optimised,
			)
			.map_err(|_| Error::<T>::InvalidJustification)?;
			let mut signers: Vec<T::AccountId> = commit
				.precommits
				.iter()
				.filter(|p| {
					p.precommit.target_number >= number
						&& authorities.iter().any(|(id, _)| *id == p.id)
						&& sp_consensus_grandpa::check_message_signature(
							&finality_grandpa::Message::Precommit(p.precommit.clone()),
							&p.id,
							&p.signature,
							justification.round,
							set_id,
						)
						.is_valid()
				})
				.filter_map(|p| account_of(&p.id))
				.collect();
			signers.sort();
			signers.dedup();
			let voters = authorities.iter().filter_map(|(id, _)| account_of(id)).collect();
			Ok((voters, signers))
		}

		/// Lower `who`'s credit by `amount` (performance floor: minus the highest base credit).
		/// With `offence_session`, at most once per session.
		pub(crate) fn penalise(
			who: &T::AccountId,
			reason: PenaltyReason,
			amount: CreditPoints,
			offence_session: Option<SessionIndex>,
		) -> bool {
			let Some(mut institution) = Institutions::<T>::get(who) else { return false };
			if offence_session.is_some() && institution.last_offence_session == offence_session {
				return false;
			}
			let floor = -(MAX_BASE_CREDIT as i64);
			institution.performance =
				(institution.performance as i64 - amount as i64).max(floor) as i32;
			if offence_session.is_some() {
				institution.last_offence_session = offence_session;
			}
			let credit = institution.credit(&CreditWeights::<T>::get());
			Institutions::<T>::insert(who, institution);
			Self::deposit_event(Event::CreditPenalised {
				who: who.clone(),
				reason,
				amount,
				credit,
			});
			true
		}

		/// Checks the pallet's invariants (see [`mbds_primitives::invariants`]); `Err` names
		/// the first one broken:
		/// - the counters of the counted maps ([`Institutions`], [`VoteTallies`],
		///   [`MissedSlots`], [`AuthoredSlots`]) are their numbers of entries;
		/// - institutions are registered only on the consortium, at most
		///   [`Config::MaxInstitutions`], with dimensions in range and a performance between
		///   minus the highest base credit and [`Config::MaxPerformanceCredit`];
		/// - the score weights and election parameters are ones the calls accept;
		/// - a session's roles name each validator once (RPN and ATN disjoint); off the
		///   consortium no roles are elected or queued;
		/// - a queued private-chain validator set exists only off the consortium, non-empty and
		///   without duplicates;
		/// - a voter signed at most the rounds it was expected in;
		/// - the last noted justification's block is before the current block.
		///
		/// For tests and `try-runtime`, never called by the runtime itself.
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			use mbds_primitives::ensure_invariant;

			let counted = [
				(
					"Institutions",
					Institutions::<T>::count(),
					Institutions::<T>::iter_keys().count(),
				),
				("VoteTallies", VoteTallies::<T>::count(), VoteTallies::<T>::iter_keys().count()),
				("MissedSlots", MissedSlots::<T>::count(), MissedSlots::<T>::iter_keys().count()),
				(
					"AuthoredSlots",
					AuthoredSlots::<T>::count(),
					AuthoredSlots::<T>::iter_keys().count(),
				),
			];
			for (map, counter, entries) in counted {
				ensure_invariant!(
					counter as usize == entries,
					"credit: a counted map's counter is its number of entries",
					"{map}: counter {counter}, {entries} entries"
				);
			}

			let consortium = Self::is_consortium();
			let institutions = Institutions::<T>::count();
			ensure_invariant!(
				(consortium || institutions == 0) && institutions <= T::MaxInstitutions::get(),
				"credit: institutions are registered only on the consortium, at most MaxInstitutions",
				"{institutions} institutions, consortium: {consortium}"
			);
			let (floor, cap) = (
				-(MAX_BASE_CREDIT as i64),
				T::MaxPerformanceCredit::get().min(i32::MAX as u32) as i64,
			);
			for (who, institution) in Institutions::<T>::iter() {
				let performance = institution.performance as i64;
				ensure_invariant!(
					institution.dimensions.is_valid() && floor <= performance && performance <= cap,
					"credit: an institution's dimensions and performance are within their bounds",
					"{who:?}: {:?}, performance {performance}",
					institution.dimensions
				);
			}
			let (weights, params) = (CreditWeights::<T>::get(), Params::<T>::get());
			ensure_invariant!(
				weights.is_valid() && Self::params_valid(&params),
				"credit: the score weights and election parameters are valid",
				"{weights:?}, {params:?}"
			);

			let queued = QueuedRoles::<T>::get();
			for roles in core::iter::once(CurrentRoles::<T>::get()).chain(queued.clone()) {
				let mut validators = roles.validators();
				let n = validators.len();
				validators.sort();
				validators.dedup();
				ensure_invariant!(
					validators.len() == n,
					"credit: a session's roles name each validator once",
					"session {}: {n} roles for {} validators",
					roles.session,
					validators.len()
				);
				ensure_invariant!(
					consortium || n == 0,
					"credit: roles are elected only on the consortium",
					"session {}: {n} roles",
					roles.session
				);
			}
			ensure_invariant!(
				consortium || queued.is_none(),
				"credit: roles are elected only on the consortium",
				"roles queued for session {:?}",
				queued.map(|r| r.session)
			);

			if let Some(set) = PendingPrivateValidators::<T>::get() {
				let mut validators = set.to_vec();
				validators.sort();
				validators.dedup();
				ensure_invariant!(
					!consortium && !set.is_empty() && validators.len() == set.len(),
					"credit: a queued private-chain validator set is non-empty, without duplicates, off the consortium",
					"{} validators, {} distinct, consortium: {consortium}",
					set.len(),
					validators.len()
				);
			}

			for (who, (expected, signed)) in VoteTallies::<T>::iter() {
				ensure_invariant!(
					signed <= expected,
					"credit: a voter signed at most the rounds it was expected in",
					"{who:?}: signed {signed} of {expected}"
				);
			}

			let now = frame_system::Pallet::<T>::block_number();
			let last = LastVotedBlock::<T>::get();
			ensure_invariant!(
				last.is_none_or(|last| last < now),
				"credit: the last noted justification is of an earlier block",
				"block {last:?}, now {now:?}"
			);
			Ok(())
		}

		/// Raise `who`'s performance by `amount` up to the cap; its new credit, if registered.
		pub(crate) fn reward(who: &T::AccountId, amount: CreditPoints) -> Option<CreditPoints> {
			let cap = T::MaxPerformanceCredit::get().min(i32::MAX as u32) as i64;
			Institutions::<T>::mutate(who, |maybe| {
				let institution = maybe.as_mut()?;
				institution.performance =
					(institution.performance as i64 + amount as i64).min(cap) as i32;
				Some(institution.credit(&CreditWeights::<T>::get()))
			})
		}

		/// The members of `items` that author in a session with `roles`: the RPN among them. If
		/// there are no roles (a private chain, or a consortium genesis without institutions)
		/// or no RPN among them, all of them, so Aura never loses its authors.
		pub fn select_authors<X>(
			items: Vec<X>,
			account: impl Fn(&X) -> &T::AccountId,
			roles: Option<&RolesOf<T>>,
		) -> Vec<X> {
			let Some(roles) = roles else { return items };
			if !items.iter().any(|x| roles.is_rpn(account(x))) {
				return items;
			}
			items.into_iter().filter(|x| roles.is_rpn(account(x))).collect()
		}
	}

	impl<T: Config> Pallet<T>
	where
		T: pallet_session::Config<ValidatorId = <T as frame_system::Config>::AccountId>,
	{
		/// The Aura authorities of the running session, as accounts, in Aura's order.
		pub fn current_authors() -> Vec<T::AccountId> {
			let roles = CurrentRoles::<T>::get();
			Self::select_authors(pallet_session::Validators::<T>::get(), |a| a, Some(&roles))
		}
	}
}

impl<T: Config> pallet_session::SessionManager<T::AccountId> for Pallet<T> {
	fn new_session(new_index: SessionIndex) -> Option<Vec<T::AccountId>> {
		Self::plan_session(new_index, false)
	}

	fn new_session_genesis(new_index: SessionIndex) -> Option<Vec<T::AccountId>> {
		Self::plan_session(new_index, true)
	}

	fn start_session(start_index: SessionIndex) {
		if let Some(roles) = QueuedRoles::<T>::get() {
			if roles.session == start_index {
				CurrentRoles::<T>::put(roles);
				QueuedRoles::<T>::kill();
			}
		}
	}

	fn end_session(_end_index: SessionIndex) {}
}

/// With `pallet_session::historical` (needed for GRANDPA equivocation proofs), wrap the pallet
/// as `NoteHistoricalRoot<Runtime, Credit>`. The full identification is `()`: there is no
/// stake to expose, the account is the identity.
impl<T: Config> pallet_session::historical::SessionManager<T::AccountId, ()> for Pallet<T> {
	fn new_session(new_index: SessionIndex) -> Option<Vec<(T::AccountId, ())>> {
		<Self as pallet_session::SessionManager<_>>::new_session(new_index)
			.map(|v| v.into_iter().map(|a| (a, ())).collect())
	}
	fn new_session_genesis(new_index: SessionIndex) -> Option<Vec<(T::AccountId, ())>> {
		<Self as pallet_session::SessionManager<_>>::new_session_genesis(new_index)
			.map(|v| v.into_iter().map(|a| (a, ())).collect())
	}
	fn start_session(start_index: SessionIndex) {
		<Self as pallet_session::SessionManager<_>>::start_session(start_index)
	}
	fn end_session(end_index: SessionIndex) {
		<Self as pallet_session::SessionManager<_>>::end_session(end_index)
	}
}

/// Block authorship is service: every block an institution authors adds
/// [`Config::AuthoringCredit`] to its performance (up to the cap). Missing it is not: each Aura
/// slot that passed without a block since the previous one costs the representative node that
/// owned it [`Config::MissedSlotPenalty`] if it missed more slots than it filled in the session
/// (see [`Pallet::note_missed_slots`]). No event per
/// block for the reward; the credit is in [`Institutions`] and shows in the next
/// [`Event::RolesElected`].
impl<T>
	pallet_authorship::EventHandler<T::AccountId, frame_system::pallet_prelude::BlockNumberFor<T>>
	for Pallet<T>
where
	T: Config + pallet_session::Config<ValidatorId = <T as frame_system::Config>::AccountId>,
{
	fn note_author(author: T::AccountId) {
		let mut weight = <T as Config>::WeightInfo::note_author();
		if Self::is_consortium() {
			let _ = Self::reward(&author, T::AuthoringCredit::get());
			// One digest scan per block: a block without an Aura slot counts for no tally.
			if let Some(slot) = T::SlotOfBlock::get() {
				AuthoredSlots::<T>::mutate(&author, |n| {
					*n = Some(n.unwrap_or(0).saturating_add(1))
				});
				weight = weight.saturating_add(Self::note_missed_slots(slot));
			}
		}
		frame_system::Pallet::<T>::register_extra_weight_unchecked(
			weight,
			frame_support::dispatch::DispatchClass::Mandatory,
		);
	}
}

impl<T> Pallet<T>
where
	T: Config + pallet_session::Config<ValidatorId = <T as frame_system::Config>::AccountId>,
{
	/// Tallies, for the session, the representative nodes whose Aura slots passed without a
	/// block between the last noted block and this one, at `slot`: slot `k` belongs to author `k mod n` of
	/// [`Pallet::current_authors`], Aura's own rule. A gap of `n` or more slots means every
	/// author missed (a stall of the whole chain, e.g. lost finality or a network split): it
	/// is not attributable to one node and is not counted. The tallies are charged when the
	/// next session is planned (see [`Config::MissedSlotPenalty`]). Returns the weight used.
	pub fn note_missed_slots(slot: u64) -> Weight {
		let db = T::DbWeight::get();
		let last = LastAuthoredSlot::<T>::get();
		LastAuthoredSlot::<T>::put(slot);
		let mut weight = db.reads_writes(2, 1);
		let Some(last) = last else { return weight };
		let missed = slot.saturating_sub(last).saturating_sub(1);
		if missed == 0 {
			return weight;
		}
		let authors = Self::current_authors();
		weight = weight.saturating_add(db.reads(2));
		let n = authors.len() as u64;
		if n == 0 || missed >= n {
			return weight;
		}
		for k in (last + 1)..slot {
			let Some(who) = authors.get((k % n) as usize) else { continue };
			MissedSlots::<T>::mutate(who, |m| *m = Some(m.unwrap_or(0).saturating_add(1)));
			weight = weight.saturating_add(db.reads_writes(1, 1));
		}
		weight
	}
}

/// [`Config::SlotOfBlock`] for Aura: the slot in the block's Aura pre-runtime digest (engine
/// `aura`, a SCALE `u64`), read from `frame_system`'s digest of the block being built.
pub struct AuraSlotOfBlock<T>(PhantomData<T>);
impl<T: frame_system::Config> Get<Option<u64>> for AuraSlotOfBlock<T> {
	fn get() -> Option<u64> {
		/// `sp_consensus_aura::AURA_ENGINE_ID`.
		const AURA: ConsensusEngineId = *b"aura";
		frame_system::Pallet::<T>::digest().logs().iter().find_map(|item| {
			let (id, mut data) = item.as_pre_runtime()?;
			(id == AURA).then(|| codec::Decode::decode(&mut data).ok()).flatten()
		})
	}
}

/// Offences reported through `pallet-offences` (GRANDPA equivocation, with
/// `pallet_session::historical`) cost each registered offender
/// `max(OffencePenalty, slash_fraction x MAX_BASE_CREDIT)` credit, at most once per session
/// (`pallet-offences` re-lists earlier offenders of the same time slot in later reports).
/// Offenders that are not registered institutions are ignored. Generic over the full
/// identification, so any `IdentificationTuple` whose first element is the account works.
impl<T: Config, FullId> OnOffenceHandler<T::AccountId, (T::AccountId, FullId), Weight>
	for Pallet<T>
{
	fn on_offence(
		offenders: &[OffenceDetails<T::AccountId, (T::AccountId, FullId)>],
		slash_fraction: &[Perbill],
		session: SessionIndex,
	) -> Weight {
		let mut weight = T::DbWeight::get().reads(1);
		if !Self::is_consortium() {
			return weight;
		}
		for (i, details) in offenders.iter().enumerate() {
			let fraction = slash_fraction.get(i).copied().unwrap_or_default();
			let amount = T::OffencePenalty::get().max(fraction.mul_floor(MAX_BASE_CREDIT));
			Self::penalise(&details.offender.0, PenaltyReason::Offence, amount, Some(session));
			weight = weight.saturating_add(<T as Config>::WeightInfo::penalise_offender());
		}
		weight
	}
}

/// `Config::HasSessionKeys` for a runtime with `pallet-session` whose validator id is the
/// account: true if the account has registered next-session keys.
pub struct SessionKeysRegistered<T>(PhantomData<T>);
impl<T> Contains<T::AccountId> for SessionKeysRegistered<T>
where
	T: pallet_session::Config<ValidatorId = <T as frame_system::Config>::AccountId>,
{
	fn contains(who: &T::AccountId) -> bool {
		pallet_session::NextKeys::<T>::contains_key(who)
	}
}

/// Aura's session handler, restricted to the RPN: use
/// `SessionHandler = (RepresentativeAuthors<Runtime, Aura>, Grandpa)` in `pallet_session::Config`
/// (same order as the `SessionKeys` fields `aura`, `grandpa`; the key type is Aura's, so
/// `SessionKeys` itself is unchanged). GRANDPA's handler is used unwrapped, so it gets RPN ∪ ATN.
///
/// Off the consortium, or while no roles are known (genesis without institutions), it passes
/// every validator through unchanged.
pub struct RepresentativeAuthors<T, Inner>(PhantomData<(T, Inner)>);

impl<T, Inner: BoundToRuntimeAppPublic> BoundToRuntimeAppPublic
	for RepresentativeAuthors<T, Inner>
{
	type Public = Inner::Public;
}

impl<T, Inner> OneSessionHandler<T::AccountId> for RepresentativeAuthors<T, Inner>
where
	T: Config + pallet_session::Config<ValidatorId = <T as frame_system::Config>::AccountId>,
	Inner: OneSessionHandler<T::AccountId>,
{
	type Key = Inner::Key;

	fn on_genesis_session<'a, I: 'a>(validators: I)
	where
		I: Iterator<Item = (&'a T::AccountId, Self::Key)>,
		T::AccountId: 'a,
	{
		// `pallet-session` hands over the validators of session 1, which equal session 0's.
		let roles = QueuedRoles::<T>::get().or_else(|| Some(CurrentRoles::<T>::get()));
		let authors =
			Pallet::<T>::select_authors(validators.collect(), |(a, _)| *a, roles.as_ref());
		Inner::on_genesis_session(authors.into_iter());
	}

	fn on_new_session<'a, I: 'a>(changed: bool, validators: I, queued_validators: I)
	where
		I: Iterator<Item = (&'a T::AccountId, Self::Key)>,
		T::AccountId: 'a,
	{
		// `start_session` already moved this session's roles to `CurrentRoles` and
		// `new_session` queued the next session's.
		let current = CurrentRoles::<T>::get();
		let queued = QueuedRoles::<T>::get();
		let authors =
			Pallet::<T>::select_authors(validators.collect(), |(a, _)| *a, Some(&current));
		let queued_authors =
			Pallet::<T>::select_authors(queued_validators.collect(), |(a, _)| *a, queued.as_ref());
		Inner::on_new_session(changed, authors.into_iter(), queued_authors.into_iter());
	}

	fn on_before_session_ending() {
		Inner::on_before_session_ending()
	}

	fn on_disabled(validator_index: u32) {
		// `pallet-session` counts in its validator list; Aura in its (RPN-only) author list.
		let validators = pallet_session::Validators::<T>::get();
		let Some(who) = validators.get(validator_index as usize).cloned() else { return };
		if let Some(i) = Pallet::<T>::current_authors().iter().position(|a| *a == who) {
			Inner::on_disabled(i as u32);
		}
	}
}

/// GRANDPA's session handler, recording each validator's GRANDPA key with its account
/// ([`SessionVoterKeys`]) whenever GRANDPA takes a new set from them: use
/// `SessionHandler = (RepresentativeAuthors<Runtime, Aura>, RecordedVoters<Runtime, Grandpa>)`.
pub struct RecordedVoters<T, Inner>(PhantomData<(T, Inner)>);

impl<T, Inner: BoundToRuntimeAppPublic> BoundToRuntimeAppPublic for RecordedVoters<T, Inner> {
	type Public = Inner::Public;
}

impl<T, Inner> OneSessionHandler<T::AccountId> for RecordedVoters<T, Inner>
where
	T: Config,
	Inner: OneSessionHandler<T::AccountId, Key = GrandpaId>,
{
	type Key = GrandpaId;

	fn on_genesis_session<'a, I: 'a>(validators: I)
	where
		I: Iterator<Item = (&'a T::AccountId, GrandpaId)>,
		T::AccountId: 'a,
	{
		let validators: Vec<_> = validators.collect();
		Pallet::<T>::note_session_voters(validators.iter().map(|(a, k)| ((*a).clone(), k.clone())));
		Inner::on_genesis_session(validators.into_iter());
	}

	fn on_new_session<'a, I: 'a>(changed: bool, validators: I, queued_validators: I)
	where
		I: Iterator<Item = (&'a T::AccountId, GrandpaId)>,
		T::AccountId: 'a,
	{
		let validators: Vec<_> = validators.collect();
		let voters: Vec<_> = validators.iter().map(|(a, k)| ((*a).clone(), k.clone())).collect();
		let queued: Vec<_> = queued_validators.collect();
		let set_before = T::FinalityVoters::get().0;
		Inner::on_new_session(changed, validators.into_iter(), queued.into_iter());
		// GRANDPA takes these keys only if it scheduled the change (it refuses one while
		// another is pending); the snapshot follows GRANDPA's set, not the session's wish.
		if T::FinalityVoters::get().0 != set_before || SessionVoterKeys::<T>::get().is_empty() {
			Pallet::<T>::note_session_voters(voters.into_iter());
		}
	}

	fn on_before_session_ending() {
		Inner::on_before_session_ending()
	}

	fn on_disabled(validator_index: u32) {
		Inner::on_disabled(validator_index)
	}
}

/// `pallet_authorship::Config::FindAuthor` for RPN-only Aura: maps Aura's author index into
/// the RPN list ([`Pallet::current_authors`]), the list [`RepresentativeAuthors`] gave Aura.
/// Use `FindRepresentativeAuthor<Runtime, Aura>` instead of
/// `pallet_session::FindAccountFromAuthorIndex`, whose index would point into RPN ∪ ATN.
///
/// Requires `Authorship` to be declared before `Session` in `construct_runtime!`, so the
/// author is found before a session rotation in the same block changes the lists.
pub struct FindRepresentativeAuthor<T, Inner>(PhantomData<(T, Inner)>);

impl<T, Inner> FindAuthor<T::AccountId> for FindRepresentativeAuthor<T, Inner>
where
	T: Config + pallet_session::Config<ValidatorId = <T as frame_system::Config>::AccountId>,
	Inner: FindAuthor<u32>,
{
	fn find_author<'a, I>(digests: I) -> Option<T::AccountId>
	where
		I: 'a + IntoIterator<Item = (ConsensusEngineId, &'a [u8])>,
	{
		let index = Inner::find_author(digests)?;
		Pallet::<T>::current_authors().get(index as usize).cloned()
	}
}

/// `pallet_session::historical::Config::FullIdentificationOf` for a chain without stake: every
/// validator's full identification is `()`, its account is its identity.
pub struct UnitIdentification;
impl<A> sp_runtime::traits::Convert<A, Option<()>> for UnitIdentification {
	fn convert(_: A) -> Option<()> {
		Some(())
	}
}
