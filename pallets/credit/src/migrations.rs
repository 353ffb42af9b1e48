//! Storage migrations of `pallet-credit`.

/// Version 1: the storage layout of version 0 (institutions, election parameters and tallies), now versioned.
pub mod v1 {
	use crate::Pallet;
	use frame_support::{migrations::VersionedMigration, traits::UncheckedOnRuntimeUpgrade};

	/// The layout did not change: nothing to translate.
	pub struct NoLayoutChange;
	impl UncheckedOnRuntimeUpgrade for NoLayoutChange {}

	/// Sets the on-chain storage version from 0 to 1 on chains started before the pallet was
	/// versioned; on a chain already at 1 it only reads the version.
	pub type BumpToV1<T> =
		VersionedMigration<0, 1, NoLayoutChange, Pallet<T>, <T as frame_system::Config>::DbWeight>;
}
