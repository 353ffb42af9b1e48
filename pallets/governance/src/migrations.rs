//! Storage migrations of `pallet-governance`.

use super::*;
use codec::DecodeAll;
use frame_support::{
	storage::unhashed,
	traits::{Get, OnRuntimeUpgrade},
	weights::Weight,
};

/// Moves the session period from the raw storage key it used to live under (a
/// `parameter_types! { pub storage SessionPeriod ... }` of the runtime, key
/// `twox_128(":SessionPeriod:")`, written with `system.set_storage`) into [`SessionPeriod`],
/// and deletes the raw key.
///
/// The upgrade that introduces this pallet runs it. It is keyed on the old value, not on this
/// pallet's storage version: a pallet added by an upgrade gets its in-code version written by
/// `frame_executive` before any migration runs (`BeforeAllRuntimeMigrations`), so a
/// `VersionedMigration<0, 1, ..>` of a new pallet would never run. Deleting the raw key makes
/// it idempotent: on any later upgrade it reads one key and does nothing.
///
/// A stored value that does not decode or that [`Pallet::set_session_period`] would refuse (0
/// halted the chain) is dropped, and the chain keeps [`Config::DefaultSessionPeriod`].
pub struct MoveSessionPeriod<T, OldKey>(core::marker::PhantomData<(T, OldKey)>);

impl<T: Config, OldKey: Get<[u8; 16]>> OnRuntimeUpgrade for MoveSessionPeriod<T, OldKey> {
	fn on_runtime_upgrade() -> Weight {
		let db = T::DbWeight::get();
		let key = OldKey::get();
		// The whole value must decode: trailing bytes mean it was not written as a block
		// number, and a prefix of it is no period anyone chose.
		let value = unhashed::get_raw(&key)
			.and_then(|raw| BlockNumberFor::<T>::decode_all(&mut &raw[..]).ok());
		let Some(value) = value else {
			// Nothing stored (or undecodable, then removed below only if present).
			if unhashed::exists(&key) {
				unhashed::kill(&key);
				log::warn!(
					target: LOG_TARGET,
					"undecodable session period under the old key removed; default kept"
				);
				return db.reads_writes(2, 1);
			}
			return db.reads(1);
		};
		unhashed::kill(&key);
		match Pallet::<T>::check_session_period(value) {
			Ok(()) => {
				SessionPeriod::<T>::put(value);
				log::info!(target: LOG_TARGET, "session period {value:?} moved to Governance");
				db.reads_writes(1, 2)
			}
			Err(e) => {
				log::warn!(
					target: LOG_TARGET,
					"stored session period {value:?} refused ({e:?}); default kept"
				);
				db.reads_writes(1, 1)
			}
		}
	}

	#[cfg(feature = "try-runtime")]
	fn pre_upgrade() -> Result<alloc::vec::Vec<u8>, sp_runtime::TryRuntimeError> {
		use codec::Encode;
		let old = unhashed::get_raw(&OldKey::get())
			.and_then(|raw| BlockNumberFor::<T>::decode_all(&mut &raw[..]).ok())
			.filter(|v| Pallet::<T>::check_session_period(*v).is_ok());
		Ok(old.encode())
	}

	#[cfg(feature = "try-runtime")]
	fn post_upgrade(state: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
		use codec::Decode;
		let old = Option::<BlockNumberFor<T>>::decode(&mut &state[..])
			.map_err(|_| "pre_upgrade state does not decode")?;
		frame_support::ensure!(
			!unhashed::exists(&OldKey::get()),
			"the old session period key is still there"
		);
		if let Some(old) = old {
			frame_support::ensure!(
				SessionPeriod::<T>::get() == old,
				"the old session period was not moved"
			);
		}
		Ok(())
	}
}

/// Storage version 1 -> 2: sessions end by their start block ([`SessionStart`]) instead of at
/// multiples of the period.
pub mod v2 {
	use super::*;
	use frame_support::traits::{GetStorageVersion, StorageVersion};
	use sp_runtime::traits::Saturating;

	/// Writes [`SessionStart`] on a chain that counted sessions with `PeriodicSessions`
	/// (offset 0): the last block at which it ended a session, so that the running session
	/// ends where it would have. Sets the storage version to 2.
	///
	/// Migrations run before the upgrade block is initialised, so `frame_system`'s block
	/// number is then the parent's, `P`: the last session change is `P - P % period` (`P`
	/// itself if a session ended there), and the upgrade block `P + 1` ends the session if
	/// `P + 1` is a multiple of the period, as `PeriodicSessions` would have.
	///
	/// Keyed on [`SessionStart`] being absent, not on the storage version: a chain that gets
	/// this pallet in the same upgrade (from spec 103) has version 2 written by
	/// `frame_executive` before migrations run, yet needs the start recorded too. A chain
	/// built with version 2 writes [`SessionStart`] in its genesis, so this does nothing there
	/// and on every later upgrade.
	pub struct RecordSessionStart<T>(core::marker::PhantomData<T>);

	impl<T: Config> OnRuntimeUpgrade for RecordSessionStart<T> {
		fn on_runtime_upgrade() -> Weight {
			let db = T::DbWeight::get();
			if SessionStart::<T>::exists() {
				return db.reads(1);
			}
			// The parent block's number: the upgrade block is not initialised yet.
			let parent = frame_system::Pallet::<T>::block_number();
			let period = SessionPeriodOf::<T>::get();
			let start = parent.saturating_sub(parent % period);
			SessionStart::<T>::put(start);
			if Pallet::<T>::on_chain_storage_version() < 2 {
				StorageVersion::new(2).put::<Pallet<T>>();
			}
			log::info!(
				target: LOG_TARGET,
				"session start recorded at block {start:?} (period {period:?}, parent block {parent:?})"
			);
			db.reads_writes(4, 2)
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(_: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
			// The parent block's number (see `on_runtime_upgrade`).
			let parent = frame_system::Pallet::<T>::block_number();
			let start = SessionStart::<T>::get();
			frame_support::ensure!(SessionStart::<T>::exists(), "no session start recorded");
			frame_support::ensure!(start <= parent, "the session cannot start in the future");
			// The running session has not ended yet: at the earliest it ends in the upgrade
			// block itself.
			frame_support::ensure!(
				start.saturating_add(SessionPeriodOf::<T>::get()) > parent,
				"the running session would already be over"
			);
			frame_support::ensure!(
				Pallet::<T>::on_chain_storage_version() >= 2,
				"storage version not bumped to 2"
			);
			Ok(())
		}
	}
}
