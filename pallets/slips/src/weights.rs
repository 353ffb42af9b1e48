// This file is part of MBDS.
// SPDX-License-Identifier: GPL-3.0-only

//! Weights for `pallet_slips`.
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

/// Weight functions needed for `pallet_slips`.
pub trait WeightInfo {
	fn submit_slip(c: u32, k: u32, ) -> Weight;
	fn confirm_slip(k: u32, ) -> Weight;
	fn reject_slip() -> Weight;
	fn set_institution() -> Weight;
	fn expire_slips(n: u32, ) -> Weight;
	fn close_batch(n: u32, ) -> Weight;
}

/// Weights for `pallet_slips` using the Substrate node and recommended hardware.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `Slips::Institution` (r:1 w:0)
	/// Storage: `Kmc::Participants` (r:2 w:0)
	/// Storage: `Slips::ExpiryQueue` (r:1 w:1)
	/// Storage: `Slips::NextSlipId` (r:1 w:1)
	/// Storage: `Slips::PatientSlipCount` (r:1 w:1)
	/// Storage: `Slips::PatientSlipAt` (r:0 w:1)
	/// Storage: `Slips::Slips` (r:0 w:1)
	/// The range of component `c` is `[0, 1024]`.
	/// The range of component `k` is `[1, 16]`.
	fn submit_slip(c: u32, k: u32, ) -> Weight {
		Weight::from_parts(45_000_000, 8000)
			.saturating_add(Weight::from_parts(1_000, 0).saturating_mul(c.into()))
			.saturating_add(Weight::from_parts(600_000, 200).saturating_mul(k.into()))
			.saturating_add(T::DbWeight::get().reads(6_u64))
			.saturating_add(T::DbWeight::get().writes(5_u64))
	}
	/// Storage: `Slips::Slips` (r:1 w:1)
	/// Storage: `Kmc::Participants` (r:1 w:0)
	/// Storage: `Slips::CurrentBatch` (r:1 w:1)
	/// Storage: `Slips::NextBatchId` (r:1 w:1)
	/// Storage: `Slips::OpenLeaves` (r:1 w:1)
	/// Storage: `Slips::BatchItems` (r:0 w:16)
	/// The range of component `k` is `[1, 16]`.
	fn confirm_slip(k: u32, ) -> Weight {
		Weight::from_parts(35_000_000, 9000)
			.saturating_add(Weight::from_parts(4_000_000, 300).saturating_mul(k.into()))
			.saturating_add(T::DbWeight::get().reads(5_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
			.saturating_add(T::DbWeight::get().writes((2_u64).saturating_mul(k.into())))
	}
	/// Storage: `Slips::Slips` (r:1 w:1)
	/// Storage: `Kmc::Participants` (r:1 w:0)
	fn reject_slip() -> Weight {
		Weight::from_parts(25_000_000, 8000)
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Kmc::Participants` (r:1 w:0)
	/// Storage: `Slips::Institution` (r:0 w:1)
	fn set_institution() -> Weight {
		Weight::from_parts(12_000_000, 3600)
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(1_u64))
	}
	/// Storage: `Slips::ExpiryQueue` (r:1 w:1)
	/// Storage: `Slips::CurrentBatch` (r:1 w:0)
	/// Storage: `Slips::Slips` (r:512 w:512)
	/// The range of component `n` is `[0, 512]`.
	fn expire_slips(n: u32, ) -> Weight {
		Weight::from_parts(5_000_000, 1500)
			.saturating_add(Weight::from_parts(12_000_000, 4000).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(T::DbWeight::get().writes(1_u64))
			.saturating_add(T::DbWeight::get().writes((1_u64).saturating_mul(n.into())))
	}
	/// Storage: `Slips::OpenLeaves` (r:1 w:1)
	/// Storage: `Slips::CurrentBatch` (r:0 w:1)
	/// Storage: `Slips::Batches` (r:0 w:1)
	/// The range of component `n` is `[0, 4096]`.
	fn close_batch(n: u32, ) -> Weight {
		Weight::from_parts(15_000_000, 1500)
			.saturating_add(Weight::from_parts(1_500_000, 32).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(1_u64))
			.saturating_add(T::DbWeight::get().writes(3_u64))
	}
}

// For backwards compatibility and tests.
impl WeightInfo for () {
	/// Storage: `Slips::Institution` (r:1 w:0)
	/// Storage: `Kmc::Participants` (r:2 w:0)
	/// Storage: `Slips::ExpiryQueue` (r:1 w:1)
	/// Storage: `Slips::NextSlipId` (r:1 w:1)
	/// Storage: `Slips::PatientSlipCount` (r:1 w:1)
	/// Storage: `Slips::PatientSlipAt` (r:0 w:1)
	/// Storage: `Slips::Slips` (r:0 w:1)
	/// The range of component `c` is `[0, 1024]`.
	/// The range of component `k` is `[1, 16]`.
	fn submit_slip(c: u32, k: u32, ) -> Weight {
		Weight::from_parts(45_000_000, 8000)
			.saturating_add(Weight::from_parts(1_000, 0).saturating_mul(c.into()))
			.saturating_add(Weight::from_parts(600_000, 200).saturating_mul(k.into()))
			.saturating_add(ParityDbWeight::get().reads(6_u64))
			.saturating_add(ParityDbWeight::get().writes(5_u64))
	}
	/// Storage: `Slips::Slips` (r:1 w:1)
	/// Storage: `Kmc::Participants` (r:1 w:0)
	/// Storage: `Slips::CurrentBatch` (r:1 w:1)
	/// Storage: `Slips::NextBatchId` (r:1 w:1)
	/// Storage: `Slips::OpenLeaves` (r:1 w:1)
	/// Storage: `Slips::BatchItems` (r:0 w:16)
	/// The range of component `k` is `[1, 16]`.
	fn confirm_slip(k: u32, ) -> Weight {
		Weight::from_parts(35_000_000, 9000)
			.saturating_add(Weight::from_parts(4_000_000, 300).saturating_mul(k.into()))
			.saturating_add(ParityDbWeight::get().reads(5_u64))
			.saturating_add(ParityDbWeight::get().writes(4_u64))
			.saturating_add(ParityDbWeight::get().writes((2_u64).saturating_mul(k.into())))
	}
	/// Storage: `Slips::Slips` (r:1 w:1)
	/// Storage: `Kmc::Participants` (r:1 w:0)
	fn reject_slip() -> Weight {
		Weight::from_parts(25_000_000, 8000)
			.saturating_add(ParityDbWeight::get().reads(2_u64))
			.saturating_add(ParityDbWeight::get().writes(1_u64))
	}
	/// Storage: `Kmc::Participants` (r:1 w:0)
	/// Storage: `Slips::Institution` (r:0 w:1)
	fn set_institution() -> Weight {
		Weight::from_parts(12_000_000, 3600)
			.saturating_add(ParityDbWeight::get().reads(1_u64))
			.saturating_add(ParityDbWeight::get().writes(1_u64))
	}
	/// Storage: `Slips::ExpiryQueue` (r:1 w:1)
	/// Storage: `Slips::CurrentBatch` (r:1 w:0)
	/// Storage: `Slips::Slips` (r:512 w:512)
	/// The range of component `n` is `[0, 512]`.
	fn expire_slips(n: u32, ) -> Weight {
		Weight::from_parts(5_000_000, 1500)
			.saturating_add(Weight::from_parts(12_000_000, 4000).saturating_mul(n.into()))
			.saturating_add(ParityDbWeight::get().reads(2_u64))
			.saturating_add(ParityDbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(ParityDbWeight::get().writes(1_u64))
			.saturating_add(ParityDbWeight::get().writes((1_u64).saturating_mul(n.into())))
	}
	/// Storage: `Slips::OpenLeaves` (r:1 w:1)
	/// Storage: `Slips::CurrentBatch` (r:0 w:1)
	/// Storage: `Slips::Batches` (r:0 w:1)
	/// The range of component `n` is `[0, 4096]`.
	fn close_batch(n: u32, ) -> Weight {
		Weight::from_parts(15_000_000, 1500)
			.saturating_add(Weight::from_parts(1_500_000, 32).saturating_mul(n.into()))
			.saturating_add(ParityDbWeight::get().reads(1_u64))
			.saturating_add(ParityDbWeight::get().writes(3_u64))
	}
}
