// This file is part of MBDS.
// SPDX-License-Identifier: GPL-3.0-only

//! Weights for `pallet_kmc`.
//!
//! PLACEHOLDER until `scripts/benchmark-weights.sh` regenerates it: hand estimates from the
//! storage reads and writes of each call plus a fixed execution time, in the layout the
//! benchmark CLI writes. Do not tune by hand; regenerate.
//!
//! DATE: (not benchmarked), STEPS: -, REPEAT: -

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use frame_support::{traits::Get, weights::{Weight, constants::ParityDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed for `pallet_kmc`.
pub trait WeightInfo {
	fn register() -> Weight;
	fn rotate_keys() -> Weight;
	fn suspend() -> Weight;
	fn reinstate() -> Weight;
	fn check_participant() -> Weight;
}

/// Weights for `pallet_kmc` using the Substrate node and recommended hardware.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `Kmc::Participants` (r:2 w:1)
	/// Storage: `Kmc::IdentityOwner` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Kmc::ActiveKeys` (r:0 w:1)
	fn register() -> Weight {
		Weight::from_parts(30_000_000, 3600)
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// Storage: `Kmc::Participants` (r:1 w:1)
	/// Storage: `Kmc::ActiveKeys` (r:1 w:1)
	/// Storage: `Kmc::KeyHistory` (r:1 w:1)
	fn rotate_keys() -> Weight {
		Weight::from_parts(28_000_000, 6000)
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
	/// Storage: `Kmc::Participants` (r:1 w:1)
	fn suspend() -> Weight {
		Weight::from_parts(15_000_000, 3600)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Kmc::Participants` (r:1 w:1)
	fn reinstate() -> Weight {
		Weight::from_parts(15_000_000, 3600)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Kmc::Participants` (r:1 w:0)
	/// Storage: `Kmc::FeelessQuota` (r:1 w:1)
	fn check_participant() -> Weight {
		Weight::from_parts(12_000_000, 3600)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
}

// For backwards compatibility and tests.
impl WeightInfo for () {
	/// Storage: `Kmc::Participants` (r:2 w:1)
	/// Storage: `Kmc::IdentityOwner` (r:1 w:1)
	/// Storage: `System::Account` (r:1 w:1)
	/// Storage: `Kmc::ActiveKeys` (r:0 w:1)
	fn register() -> Weight {
		Weight::from_parts(30_000_000, 3600)
			.saturating_add(ParityDbWeight::get().reads(4_u64))
			.saturating_add(ParityDbWeight::get().writes(4_u64))
	}
	/// Storage: `Kmc::Participants` (r:1 w:1)
	/// Storage: `Kmc::ActiveKeys` (r:1 w:1)
	/// Storage: `Kmc::KeyHistory` (r:1 w:1)
	fn rotate_keys() -> Weight {
		Weight::from_parts(28_000_000, 6000)
			.saturating_add(ParityDbWeight::get().reads(3_u64))
			.saturating_add(ParityDbWeight::get().writes(3_u64))
	}
	/// Storage: `Kmc::Participants` (r:1 w:1)
	fn suspend() -> Weight {
		Weight::from_parts(15_000_000, 3600)
			.saturating_add(ParityDbWeight::get().reads(1_u64))
			.saturating_add(ParityDbWeight::get().writes(1_u64))
	}
	/// Storage: `Kmc::Participants` (r:1 w:1)
	fn reinstate() -> Weight {
		Weight::from_parts(15_000_000, 3600)
			.saturating_add(ParityDbWeight::get().reads(1_u64))
			.saturating_add(ParityDbWeight::get().writes(1_u64))
	}
	/// Storage: `Kmc::Participants` (r:1 w:0)
	/// Storage: `Kmc::FeelessQuota` (r:1 w:1)
	fn check_participant() -> Weight {
		Weight::from_parts(12_000_000, 3600)
			.saturating_add(ParityDbWeight::get().reads(2_u64))
			.saturating_add(ParityDbWeight::get().writes(1_u64))
	}
}
