//! Storage migrations of `pallet-governance`.

use super::*;
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
		let Some(value) = unhashed::get::<BlockNumberFor<T>>(&key) else {
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
		let old = unhashed::get::<BlockNumberFor<T>>(&OldKey::get())
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
