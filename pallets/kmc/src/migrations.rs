//! Storage migrations of `pallet-kmc`.
//!
//! Storage version 1 is the layout of every chain today. [`v2::RebuildIdentityIndex`] is the
//! migration of the **upgrade rehearsal** (feature `upgrade-rehearsal`, built by
//! `scripts/build-upgrade-wasm.sh`): the network test that upgrades running chains needs a
//! runtime with a higher `spec_version` and a real migration over real data, without a second
//! copy of the runtime's code. It is also a repair a real release could ship: it rebuilds the
//! identity index from the participant records.

use super::*;
use frame_support::{migrations::VersionedMigration, traits::UncheckedOnRuntimeUpgrade};
use sp_core::H256;

/// Storage version 1 -> 2.
pub mod v2 {
	use super::*;

	/// Rebuilds [`IdentityOwner`] (identity commitment -> account) from [`Participants`]:
	/// every participant's commitment points to it, and entries that no participant backs
	/// are removed. Reads every participant and every index entry once; writes only what
	/// differs. On a chain whose index is sound (every chain today) it writes nothing but the
	/// storage version; `post_upgrade` checks the index against the participants either way.
	/// It runs in one block: fine for the rehearsal's chains (tens of participants); a real
	/// release on a chain with millions would make it a multi-block migration.
	pub struct RebuildIdentityIndexInner<T>(core::marker::PhantomData<T>);

	impl<T: Config> UncheckedOnRuntimeUpgrade for RebuildIdentityIndexInner<T> {
		fn on_runtime_upgrade() -> Weight {
			let (mut reads, mut writes) = (0u64, 0u64);
			let mut participants = 0u64;
			for (who, info) in Participants::<T>::iter() {
				participants += 1;
				reads += 2;
				if IdentityOwner::<T>::get(info.identity).as_ref() != Some(&who) {
					IdentityOwner::<T>::insert(info.identity, who);
					writes += 1;
				}
			}
			let mut entries = 0u64;
			let stale: alloc::vec::Vec<H256> = IdentityOwner::<T>::iter()
				.inspect(|_| entries += 1)
				.filter(|(identity, who)| {
					Participants::<T>::get(who).map(|p| p.identity) != Some(*identity)
				})
				.map(|(identity, _)| identity)
				.collect();
			// Each index entry, and the participant it names.
			reads += 2 * entries;
			for identity in &stale {
				IdentityOwner::<T>::remove(identity);
				writes += 1;
			}
			log::info!(
				target: LOG_TARGET,
				"identity index rebuilt over {participants} participant(s): {writes} entr(ies) written, {} stale removed",
				stale.len()
			);
			T::DbWeight::get().reads_writes(reads, writes)
		}

		#[cfg(feature = "try-runtime")]
		fn pre_upgrade() -> Result<alloc::vec::Vec<u8>, sp_runtime::TryRuntimeError> {
			use codec::Encode;
			Ok((Participants::<T>::iter_keys().count() as u64).encode())
		}

		#[cfg(feature = "try-runtime")]
		fn post_upgrade(state: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
			use codec::Decode;
			let before = u64::decode(&mut &state[..]).map_err(|_| "pre_upgrade state")?;
			let mut count = 0u64;
			for (who, info) in Participants::<T>::iter() {
				count += 1;
				ensure!(
					IdentityOwner::<T>::get(info.identity) == Some(who),
					"a participant's identity commitment does not point to it"
				);
			}
			ensure!(count == before, "the migration changed the participants");
			ensure!(
				IdentityOwner::<T>::iter_keys().count() as u64 == count,
				"the identity index holds entries no participant backs"
			);
			Ok(())
		}
	}

	/// [`RebuildIdentityIndexInner`] run once, from storage version 1 to 2.
	pub type RebuildIdentityIndex<T> = VersionedMigration<
		1,
		2,
		RebuildIdentityIndexInner<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}
