//! Storage migrations of `pallet-slips`.

/// Version 2 (spec 106): slips expire through a cursor over slip ids ([`crate::ExpiryCursor`])
/// instead of a queue per block, so a block takes as many slips as its weight allows.
pub mod v2 {
	use crate::{Config, ExpiryCursor, NextSlipId, Pallet};
	use frame_support::{
		migrations::VersionedMigration,
		traits::{Get, UncheckedOnRuntimeUpgrade},
		weights::Weight,
	};

	/// Starts the expiry cursor at the next slip id: the slips already submitted are in
	/// [`crate::ExpiryQueue`], which `on_initialize` keeps draining, so the cursor need not
	/// walk them.
	pub struct StartCursorAtNextSlip<T>(core::marker::PhantomData<T>);
	impl<T: Config> UncheckedOnRuntimeUpgrade for StartCursorAtNextSlip<T> {
		fn on_runtime_upgrade() -> Weight {
			ExpiryCursor::<T>::put(NextSlipId::<T>::get());
			T::DbWeight::get().reads_writes(1, 1)
		}

		#[cfg(feature = "try-runtime")]
		fn pre_upgrade() -> Result<alloc::vec::Vec<u8>, sp_runtime::TryRuntimeError> {
			use codec::Encode;
			Ok(NextSlipId::<T>::get().encode())
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(state: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
			use codec::Decode;
			let next = crate::SlipId::decode(&mut &state[..]).map_err(|_| {
				sp_runtime::TryRuntimeError::Other("slips: undecodable pre-upgrade state")
			})?;
			frame_support::ensure!(
				ExpiryCursor::<T>::get() == next && NextSlipId::<T>::get() == next,
				"slips: the expiry cursor starts at the next slip id"
			);
			Ok(())
		}
	}

	/// Storage version 1 -> 2, starting the expiry cursor; on a chain already at 2 it only
	/// reads the version.
	pub type StartExpiryCursor<T> = VersionedMigration<
		1,
		2,
		StartCursorAtNextSlip<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}
