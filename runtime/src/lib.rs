//! # The MBDS runtime
//!
//! One runtime serves every chain of the MBDS system: each hospital's and each
//! internet-medicine platform's private chain, and the consortium chain. What differs between
//! them is their genesis (see [`genesis_config_presets`]): the validator set, the chain
//! identifier and kind kept by `pallet-chain-info`, and on-chain configuration.
//!
//! Consensus is Aura block authoring with GRANDPA finality: a private chain of four
//! validators (the institution's and the health authority's nodes) tolerates one faulty
//! validator, the paper's PBFT bound `f = (n - 1) / 3`.
//!
//! Governance: every chain has a council (`Council`, seated by `CouncilMembership`) whose two
//! thirds is the origin of every privileged MBDS call, and which appoints the KMC operators
//! (`KmcOperators`) who register participants; `Governance` gives it runtime upgrades
//! (`authorize_upgrade`, then anyone's `system.apply_authorized_upgrade`) and the session
//! period. See `configs/governance.rs`.
//!
//! Layout: `configs/` holds each pallet's `Config`, `apis.rs` the runtime APIs,
//! `genesis_config_presets.rs` the chains.

#![cfg_attr(not(feature = "std"), no_std)]
#![recursion_limit = "256"]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

/// Inherent data key of the author's newest GRANDPA justification (`pallet-credit`).
pub use pallet_credit::VOTES_INHERENT_IDENTIFIER;
pub mod apis;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarks;
pub mod configs;
pub mod genesis_config_presets;
pub mod weights;

use alloc::vec::Vec;
use sp_runtime::{
	generic, impl_opaque_keys,
	traits::{BlakeTwo256, IdentifyAccount, Verify},
	MultiAddress, MultiSignature,
};
use sp_version::{runtime_version, RuntimeVersion};

pub use frame_system::Call as SystemCall;
pub use mbds_primitives::{BlockNumber, ChainId, ChainKind, Moment};
pub use pallet_balances::Call as BalancesCall;
pub use pallet_timestamp::Call as TimestampCall;
#[cfg(any(feature = "std", test))]
pub use sp_runtime::BuildStorage;

/// Signature of a transaction: sr25519, ed25519 or ecdsa.
pub type Signature = MultiSignature;
/// An account is the public key of its signing scheme: the identity of a participant.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
/// Balance of an account (institutions pay fees; registered patients and doctors won't have to).
pub type Balance = u128;
/// Transaction index of an account.
pub type Nonce = u32;
/// Hash type of blocks and state.
pub type Hash = sp_core::H256;

/// Types the node needs without knowing the runtime's calls.
pub mod opaque {
	use super::*;
	pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	/// Opaque block header type.
	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	/// Opaque block type.
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	/// Opaque block hash type.
	pub type Hash = <BlakeTwo256 as sp_runtime::traits::Hash>::Output;

	impl_opaque_keys! {
		/// The keys a validator registers: Aura for authoring, GRANDPA for finality.
		pub struct SessionKeys {
			pub aura: Aura,
			pub grandpa: Grandpa,
		}
	}
}

/// The runtime's version, with `spec_version` `$spec` (`#[runtime_version]` reads a literal).
macro_rules! mbds_runtime_version {
	($spec:tt) => {
		#[runtime_version]
		pub const VERSION: RuntimeVersion = RuntimeVersion {
			spec_name: alloc::borrow::Cow::Borrowed("mbds"),
			impl_name: alloc::borrow::Cow::Borrowed("mbds-node"),
			authoring_version: 1,
			// Bump on every change of runtime logic; an upgrade with the same number is
			// refused.
			spec_version: $spec,
			impl_version: 1,
			apis: apis::RUNTIME_API_VERSIONS,
			// Bump when the encoding of calls or transaction extensions changes.
			transaction_version: 3,
			system_version: 1,
		};
	};
}

// This tree's version.
#[cfg(not(feature = "upgrade-rehearsal"))]
mbds_runtime_version!(107);
// The upgrade rehearsal (`scripts/build-upgrade-wasm.sh`): this tree's `spec_version` + 1, the
// same transaction encoding.
#[cfg(feature = "upgrade-rehearsal")]
mbds_runtime_version!(108);

/// Target block time. Short enough that a patient sees a slip confirmed within seconds, long
/// enough for four validators on modest hardware to gossip GRANDPA votes between blocks.
pub const MILLISECS_PER_BLOCK: u64 = 3000;
/// Aura slot length. Fixed for the life of a chain: changing it stalls block production.
pub const SLOT_DURATION: u64 = MILLISECS_PER_BLOCK;
pub const MINUTES: BlockNumber = 60_000 / (MILLISECS_PER_BLOCK as BlockNumber);
pub const HOURS: BlockNumber = MINUTES * 60;
pub const DAYS: BlockNumber = HOURS * 24;

/// Smallest unit of the token: 12 decimals.
pub const UNIT: Balance = 1_000_000_000_000;
pub const MILLI_UNIT: Balance = UNIT / 1_000;
pub const MICRO_UNIT: Balance = UNIT / 1_000_000;
/// Below this balance an account is reaped.
pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_UNIT;

/// Token symbol shown by wallets (polkadot.js reads it from the chain properties).
pub const TOKEN_SYMBOL: &str = "MBDS";
/// Decimals of the token.
pub const TOKEN_DECIMALS: u8 = 12;
/// SS58 address prefix. 42 is the generic Substrate prefix: every tool accepts it, and local
/// networks need no registration. A production deployment registers its own prefix.
pub const SS58_PREFIX: u16 = 42;

/// The address format for describing accounts.
pub type Address = MultiAddress<AccountId, ()>;
/// Block header type as expected by this runtime.
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
/// Block type as expected by this runtime.
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
/// The transaction extensions: checks every signed transaction goes through.
pub type TxExtension = (
	frame_system::CheckNonZeroSender<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	// Medical calls only from active KMC participants, at most a quota per window each.
	pallet_kmc::CheckParticipant<Runtime>,
	// Medical calls marked `feeless_if` (active participants) pay no fee: patients and
	// doctors need no tokens. Encoded and described as `ChargeTransactionPayment` (as the
	// upstream `SkipCheckIfFeeless` is); charges no payment weight to medical calls.
	pallet_kmc::SkipFeeIfFeeless<
		Runtime,
		pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
	>,
);
/// Unchecked extrinsic type as expected by this runtime.
pub type UncheckedExtrinsic =
	generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
/// The payload being signed in transactions.
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

/// Storage migrations run on the next runtime upgrade, besides the pallets' own.
///
/// Spec 107: the consortium's searchable index (`pallet-anchor` storage version 2,
/// [`pallet_anchor::migrations::v2::IndexAnchored`]: the items anchored so far are indexed or
/// counted as without a label) and `slips.confirm_slip_indexed`.
///
/// Spec 106: slips expire through a cursor (`pallet-slips` storage version 2,
/// [`pallet_slips::migrations::v2::StartExpiryCursor`]), so a block takes as many slips as its
/// weight allows.
///
/// Spec 105: sessions end by their start block (`pallet-governance` storage version 2,
/// [`pallet_governance::migrations::v2::RecordSessionStart`]).
///
/// Spec 104 (the council): the session period moves from the raw `:SessionPeriod:` key into
/// `pallet-governance`; the pallets versioned in this release (chain-info, credit, consent)
/// go from on-chain version 0 to 1 (layout unchanged). The pallets added in it (`Council`,
/// `CouncilMembership`, `KmcOperators`, `Governance`) get their in-code version from
/// `frame_executive` before these run.
pub type Migrations = (
	configs::FillSessionVoterKeys,
	pallet_governance::migrations::MoveSessionPeriod<Runtime, configs::OldSessionPeriodKey>,
	pallet_chain_info::migrations::v1::BumpToV1<Runtime>,
	pallet_credit::migrations::v1::BumpToV1<Runtime>,
	pallet_consent::migrations::v1::BumpToV1<Runtime>,
	pallet_governance::migrations::v2::RecordSessionStart<Runtime>,
	pallet_slips::migrations::v2::StartExpiryCursor<Runtime>,
	pallet_anchor::migrations::v2::IndexAnchored<Runtime>,
	RehearsalMigrations,
);

/// The upgrade rehearsal's own migration (`pallet-kmc` storage version 1 -> 2); nothing in a
/// production build.
#[cfg(feature = "upgrade-rehearsal")]
pub type RehearsalMigrations = pallet_kmc::migrations::v2::RebuildIdentityIndex<Runtime>;
/// The upgrade rehearsal's own migration; nothing in a production build.
#[cfg(not(feature = "upgrade-rehearsal"))]
pub type RehearsalMigrations = ();

/// Executive: dispatches calls to the pallets.
pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
	Migrations,
>;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	// Pallet index order is execution order (hooks, genesis builds): `ChainInfo` before
	// `Credit` (the election asks which chain this is), `Credit` before `Session` (the genesis
	// session is elected), `Authorship` before `Session` (the author of a block is found before a
	// session rotation in that block changes the author list), `Session` before `Aura` and
	// `Grandpa` (their authority sets come from the session).
	#[runtime::pallet_index(0)]
	pub type System = frame_system;
	#[runtime::pallet_index(1)]
	pub type Timestamp = pallet_timestamp;
	#[runtime::pallet_index(2)]
	pub type Balances = pallet_balances;
	#[runtime::pallet_index(3)]
	pub type TransactionPayment = pallet_transaction_payment;
	#[runtime::pallet_index(4)]
	pub type Sudo = pallet_sudo;
	#[runtime::pallet_index(5)]
	pub type SkipFeelessPayment = pallet_skip_feeless_payment;

	#[runtime::pallet_index(6)]
	pub type ChainInfo = pallet_chain_info;
	#[runtime::pallet_index(7)]
	pub type Credit = pallet_credit;

	#[runtime::pallet_index(8)]
	pub type Authorship = pallet_authorship;
	#[runtime::pallet_index(9)]
	pub type Session = pallet_session;
	#[runtime::pallet_index(10)]
	pub type Historical = pallet_session::historical;
	#[runtime::pallet_index(11)]
	pub type Aura = pallet_aura;
	#[runtime::pallet_index(12)]
	pub type Grandpa = pallet_grandpa;
	#[runtime::pallet_index(13)]
	pub type Offences = pallet_offences;

	#[runtime::pallet_index(20)]
	pub type Kmc = pallet_kmc;
	#[runtime::pallet_index(21)]
	pub type Slips = pallet_slips;
	#[runtime::pallet_index(22)]
	pub type Consent = pallet_consent;
	#[runtime::pallet_index(23)]
	pub type Anchor = pallet_anchor;

	// Governance: the council, its membership, the KMC operators it appoints, its typed calls.
	#[runtime::pallet_index(30)]
	pub type Council = pallet_collective<Instance1>;
	#[runtime::pallet_index(31)]
	pub type CouncilMembership = pallet_membership<Instance1>;
	#[runtime::pallet_index(32)]
	pub type KmcOperators = pallet_membership<Instance2>;
	#[runtime::pallet_index(33)]
	pub type Governance = pallet_governance;
}

/// Checks the storage invariants of every MBDS pallet with cross-referenced state: `Kmc`,
/// `Slips`, `Consent`, `Anchor`, `Credit` and `Governance` (their `do_try_state`, which their
/// `try_state` hooks run under `try-runtime`). `Err` names the first invariant broken. Not
/// feature-gated, so native tests (the runtime's, the call fuzzer's) run the same checks as
/// `try-runtime`; the runtime itself never calls it (it is not in the wasm's code paths).
/// `ChainInfo` has no cross-references (a chain id, a kind and a name, fixed in genesis).
pub fn mbds_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
	Kmc::do_try_state()?;
	Slips::do_try_state()?;
	Consent::do_try_state()?;
	Anchor::do_try_state()?;
	Credit::do_try_state()?;
	Governance::do_try_state()?;
	Ok(())
}

#[cfg(test)]
mod tests;
