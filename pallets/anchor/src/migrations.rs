//! Storage migrations of `pallet-anchor`.

/// Version 2 (spec 107): the patients' searchable index ([`crate::IndexEntries`]) and the
/// count of their items without a label ([`crate::UnindexedItemCount`]).
pub mod v2 {
	use crate::{Config, IndexEntries, Pallet, PatientItemCount, UnindexedItemCount};
	use frame_support::{
		migrations::VersionedMigration,
		traits::{Get, UncheckedOnRuntimeUpgrade},
		weights::Weight,
	};

	/// Indexes every item anchored so far: a labelled one (anchored by an older runtime from a
	/// private chain already upgraded) goes into its patient's index, the others are counted
	/// as without a label, so a search permission carries the dPEKS trapdoor that finds them.
	/// Reads every anchored item once (a one-time cost of the upgrade block).
	pub struct IndexAnchoredItems<T>(core::marker::PhantomData<T>);
	impl<T: Config> UncheckedOnRuntimeUpgrade for IndexAnchoredItems<T> {
		fn on_runtime_upgrade() -> Weight {
			let (mut reads, mut writes) = (0u64, 0u64);
			for (patient, count) in PatientItemCount::<T>::iter() {
				reads += 1;
				let mut unindexed = 0u32;
				for n in 0..count {
					reads += 2;
					let Some(s) = Pallet::<T>::summary_at(&patient, n) else { continue };
					match mbds_primitives::index_label_in(&s.item.encrypted_keyword) {
						Some(label) => {
							reads += 1;
							writes += 1;
							IndexEntries::<T>::mutate(&patient, label, |entries| {
								if !entries.iter().any(|(c, _)| *c == s.item.chain_id) {
									let _ = entries.try_push((s.item.chain_id, n));
								}
							});
						}
						None => unindexed += 1,
					}
				}
				if unindexed > 0 {
					writes += 1;
					UnindexedItemCount::<T>::insert(&patient, unindexed);
				}
			}
			T::DbWeight::get().reads_writes(reads, writes)
		}

		#[cfg(feature = "try-runtime")]
		fn pre_upgrade() -> Result<alloc::vec::Vec<u8>, sp_runtime::TryRuntimeError> {
			Ok(alloc::vec::Vec::new())
		}

		/// Every invariant of the pallet, the index's included, holds after it.
		#[cfg(feature = "try-runtime")]
		fn post_upgrade(_: alloc::vec::Vec<u8>) -> Result<(), sp_runtime::TryRuntimeError> {
			Pallet::<T>::do_try_state()
		}
	}

	/// Storage version 1 -> 2, indexing the items anchored so far; on a chain already at 2 it
	/// only reads the version.
	pub type IndexAnchored<T> = VersionedMigration<
		1,
		2,
		IndexAnchoredItems<T>,
		Pallet<T>,
		<T as frame_system::Config>::DbWeight,
	>;
}
