//! # Governance: the council's typed calls for what only root could do
//!
//! Every MBDS chain is governed by a council (`pallet-collective`, seated and changed through
//! `pallet-membership`): on a private chain the institution and the health authorities, on the
//! consortium its member institutions. A council motion passed by two thirds dispatches calls
//! with the council's origin. Most privileged calls of the MBDS pallets take that origin
//! directly; this pallet provides the two that were root-only or a raw storage write:
//!
//! - [`Pallet::authorize_upgrade`]: authorise a runtime upgrade by the hash of its code.
//!   `frame_system::authorize_upgrade` requires root, which a council does not have; this call
//!   does the same for [`Config::GovernanceOrigin`]. Anyone then submits the code with
//!   `system.apply_authorized_upgrade(code)`: the chain checks the hash and that the code is the
//!   same runtime (`spec_name`) with a higher `spec_version`, and enacts it. The council votes
//!   on 32 bytes, not on a megabyte of wasm.
//! - [`Pallet::set_session_period`]: the number of blocks per session, the period at which a
//!   changed validator set (credit election, private-chain governance) takes effect. It used to
//!   be a raw storage key (`:SessionPeriod:`) written with `system.set_storage`, where a wrong
//!   value stalled the chain (0 divides by zero in every block). This call refuses 0, anything
//!   below [`Config::MinSessionPeriod`] and above [`Config::MaxSessionPeriod`].
//!
//! The runtime ends sessions through [`Pallet::end_session_at`] (its `ShouldEndSession`): a
//! session ends once it has lasted the period, counted from the block that started it
//! ([`SessionStart`]). A changed period therefore never makes a session shorter than
//! [`Config::MinSessionPeriod`]: with `pallet_session::PeriodicSessions` (end at every block
//! number that is a multiple of the period) a change could end the running session one block
//! after the previous one, too soon for the GRANDPA set change it schedules.
//!
//! ## Migrations
//! - [`migrations::MoveSessionPeriod`] moves a value written under the old raw key into this
//!   pallet's storage (and deletes the raw key) on the upgrade that introduces the pallet.
//! - [`migrations::v2::RecordSessionStart`] (to storage version 2) writes [`SessionStart`]
//!   on a chain that counted sessions with `PeriodicSessions`: the block at which it last
//!   ended a session, so the running session ends where it would have.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod migrations;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use pallet::*;
pub use weights::WeightInfo;

use frame_support::traits::Get;
use frame_system::pallet_prelude::BlockNumberFor;

/// Log target of this pallet.
pub const LOG_TARGET: &str = "runtime::governance";

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::*;
	use sp_runtime::Saturating;

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// Who may authorise upgrades and set the session period: the council's two thirds (or
		/// root on a development chain).
		type GovernanceOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Fewest blocks a session may last. A session change schedules a GRANDPA authority set
		/// change, which must be finalised before the next one can be scheduled, and the
		/// credit pallet tallies a finality voter's silence only over sessions with enough
		/// GRANDPA rounds: sessions shorter than this risk lost set changes and unpunished
		/// silent validators.
		#[pallet::constant]
		type MinSessionPeriod: Get<BlockNumberFor<Self>>;

		/// Most blocks a session may last: beyond it a penalised validator would stay in office
		/// for too long (elections and penalties act at session boundaries).
		#[pallet::constant]
		type MaxSessionPeriod: Get<BlockNumberFor<Self>>;

		/// The session period of a chain whose genesis set none (and of a chain upgraded to this
		/// pallet that never changed it).
		#[pallet::constant]
		type DefaultSessionPeriod: Get<BlockNumberFor<Self>>;

		/// Weights of this pallet's calls.
		type WeightInfo: WeightInfo;
	}

	#[pallet::type_value]
	pub fn DefaultSessionPeriodValue<T: Config>() -> BlockNumberFor<T> {
		T::DefaultSessionPeriod::get()
	}

	/// Blocks per session, read through [`SessionPeriodOf`]; changed only by
	/// [`Pallet::set_session_period`].
	#[pallet::storage]
	pub type SessionPeriod<T: Config> =
		StorageValue<_, BlockNumberFor<T>, ValueQuery, DefaultSessionPeriodValue<T>>;

	/// The block at which the current session started (0: the genesis session). The session
	/// ends at the first block at least [`SessionPeriodOf`] blocks later
	/// ([`Pallet::end_session_at`]).
	#[pallet::storage]
	pub type SessionStart<T: Config> = StorageValue<_, BlockNumberFor<T>, ValueQuery>;

	#[pallet::genesis_config]
	pub struct GenesisConfig<T: Config> {
		/// Blocks per session; `None` keeps [`Config::DefaultSessionPeriod`].
		pub session_period: Option<BlockNumberFor<T>>,
	}

	impl<T: Config> Default for GenesisConfig<T> {
		fn default() -> Self {
			GenesisConfig { session_period: None }
		}
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			// Written explicitly (to the default, 0) so that `migrations::v2` knows this
			// chain already counts sessions from their start.
			SessionStart::<T>::put(BlockNumberFor::<T>::default());
			if let Some(period) = self.session_period {
				assert!(
					Pallet::<T>::check_session_period(period).is_ok(),
					"governance.sessionPeriod: must be within MinSessionPeriod..=MaxSessionPeriod"
				);
				SessionPeriod::<T>::put(period);
			}
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			use sp_runtime::traits::Zero;
			let (min, default, max) = (
				T::MinSessionPeriod::get(),
				T::DefaultSessionPeriod::get(),
				T::MaxSessionPeriod::get(),
			);
			assert!(!min.is_zero(), "MinSessionPeriod must be at least 1");
			assert!(
				min <= default && default <= max,
				"need MinSessionPeriod <= DefaultSessionPeriod <= MaxSessionPeriod"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// The session period changed from `old` to `new` blocks. The current session ends
		/// once it has lasted `new` blocks since it started (at the next block if it already
		/// has): never sooner than `MinSessionPeriod` after the previous session change.
		SessionPeriodChanged { old: BlockNumberFor<T>, new: BlockNumberFor<T> },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// A session period of 0 blocks would halt the chain (every block divides by it).
		ZeroSessionPeriod,
		/// The session period is below `MinSessionPeriod`: validator set changes could be lost
		/// and silent validators would go unpunished.
		SessionPeriodTooShort,
		/// The session period is above `MaxSessionPeriod`: elections and penalties would take
		/// effect too late.
		SessionPeriodTooLong,
		/// The session period already has this value.
		SessionPeriodUnchanged,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Authorise a runtime upgrade to the code whose hash is `code_hash`.
		///
		/// Origin: [`Config::GovernanceOrigin`] (a council motion passed by two thirds). Anyone
		/// may then submit the code with `system.apply_authorized_upgrade(code)`; the chain
		/// enacts it only if its hash matches and its version is the same `spec_name` with a
		/// higher `spec_version`. A later authorisation replaces an earlier one. Emits
		/// `system.UpgradeAuthorized`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::authorize_upgrade())]
		pub fn authorize_upgrade(origin: OriginFor<T>, code_hash: T::Hash) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			frame_system::Pallet::<T>::do_authorize_upgrade(code_hash, true);
			Ok(())
		}

		/// Set the number of blocks per session.
		///
		/// Origin: [`Config::GovernanceOrigin`]. Refused: 0 ([`Error::ZeroSessionPeriod`]),
		/// below [`Config::MinSessionPeriod`] ([`Error::SessionPeriodTooShort`]), above
		/// [`Config::MaxSessionPeriod`] ([`Error::SessionPeriodTooLong`]), or the current
		/// value ([`Error::SessionPeriodUnchanged`]). The current session ends once it has
		/// lasted the new period (at the next block if it already has).
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::set_session_period())]
		pub fn set_session_period(
			origin: OriginFor<T>,
			blocks: BlockNumberFor<T>,
		) -> DispatchResult {
			T::GovernanceOrigin::ensure_origin(origin)?;
			Self::check_session_period(blocks)?;
			let old = SessionPeriod::<T>::get();
			ensure!(old != blocks, Error::<T>::SessionPeriodUnchanged);

			SessionPeriod::<T>::put(blocks);
			Self::deposit_event(Event::SessionPeriodChanged { old, new: blocks });
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// The runtime's `ShouldEndSession`: whether the session ends at block `now`, i.e. has
		/// lasted [`SessionPeriodOf`] blocks since [`SessionStart`]. When it does, `now` is
		/// recorded as the start of the next session. Called once per block, by
		/// `pallet_session`'s `on_initialize`.
		pub fn end_session_at(now: BlockNumberFor<T>) -> bool {
			let start = SessionStart::<T>::get();
			if now < start.saturating_add(SessionPeriodOf::<T>::get()) {
				return false;
			}
			SessionStart::<T>::put(now);
			true
		}

		/// The block at which the current session will end, if the period does not change.
		pub fn next_session_end() -> BlockNumberFor<T> {
			SessionStart::<T>::get().saturating_add(SessionPeriodOf::<T>::get())
		}

		/// Checks the pallet's invariants (see [`mbds_primitives::invariants`]); `Err` names the
		/// first one broken:
		/// - the stored session period is within
		///   [`Config::MinSessionPeriod`]..=[`Config::MaxSessionPeriod`] (the calls, the genesis
		///   and the migrations refuse other values; [`SessionPeriodOf`] clamps only against a
		///   raw storage write);
		/// - the current session did not start after the current block.
		///
		/// The pallet holds no cross-references (two values), so this is all. For tests and
		/// `try-runtime`, never called by the runtime itself.
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			use mbds_primitives::ensure_invariant;
			let period = SessionPeriod::<T>::get();
			ensure_invariant!(
				Self::check_session_period(period).is_ok(),
				"governance: the session period is within its bounds",
				"{period:?} blocks, bounds {:?}..={:?}",
				T::MinSessionPeriod::get(),
				T::MaxSessionPeriod::get()
			);
			let (start, now) =
				(SessionStart::<T>::get(), frame_system::Pallet::<T>::block_number());
			ensure_invariant!(
				start <= now,
				"governance: the current session did not start in the future",
				"it starts at block {start:?}, now is block {now:?}"
			);
			Ok(())
		}

		/// Whether `blocks` is an acceptable session period, and if not why.
		pub fn check_session_period(blocks: BlockNumberFor<T>) -> Result<(), Error<T>> {
			use sp_runtime::traits::Zero;
			ensure!(!blocks.is_zero(), Error::<T>::ZeroSessionPeriod);
			ensure!(blocks >= T::MinSessionPeriod::get(), Error::<T>::SessionPeriodTooShort);
			ensure!(blocks <= T::MaxSessionPeriod::get(), Error::<T>::SessionPeriodTooLong);
			Ok(())
		}
	}
}

/// The session period ([`Pallet::end_session_at`] reads it): this pallet's [`SessionPeriod`],
/// kept within [`Config::MinSessionPeriod`]..=[`Config::MaxSessionPeriod`]. The calls and the
/// genesis refuse values outside; the clamp also guards against a raw storage write (a zero
/// would divide by zero in every block and halt the chain).
pub struct SessionPeriodOf<T>(core::marker::PhantomData<T>);
impl<T: Config> Get<BlockNumberFor<T>> for SessionPeriodOf<T> {
	fn get() -> BlockNumberFor<T> {
		SessionPeriod::<T>::get().max(T::MinSessionPeriod::get()).min(T::MaxSessionPeriod::get())
	}
}
