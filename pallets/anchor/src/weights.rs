// This file is part of MBDS.
// SPDX-License-Identifier: GPL-3.0-only

//! Weights for `pallet_anchor`.
//!
//! PLACEHOLDER until `scripts/benchmark-weights.sh` regenerates it: hand estimates from the
//! storage reads and writes of each call, one ed25519 check per precommit and a fixed
//! execution time, in the layout the benchmark CLI writes. Do not tune by hand; regenerate.
//!
//! DATE: (not benchmarked), STEPS: -, REPEAT: -

#![cfg_attr(rustfmt, rustfmt_skip)]
#![allow(unused_parens)]
#![allow(unused_imports)]
#![allow(missing_docs)]

use frame_support::{traits::Get, weights::{Weight, constants::ParityDbWeight}};
use core::marker::PhantomData;

/// Weight functions needed for `pallet_anchor`.
pub trait WeightInfo {
	fn register_chain(a: u32, ) -> Weight;
	fn reset_light_client(a: u32, ) -> Weight;
	fn import_header(p: u32, ) -> Weight;
	fn submit_summary(n: u32, p: u32, ) -> Weight;
	fn submit_summary_imported(n: u32, ) -> Weight;
}

/// Weights for `pallet_anchor` using the Substrate node and recommended hardware.
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	/// Storage: `Anchor::Chains` (r:1 w:1)
	/// Storage: `Anchor::ImportedHashes` (r:1 w:1)
	/// Storage: `Anchor::ImportedHeaders` (r:0 w:1)
	/// Storage: `Anchor::AuthoritySets` (r:0 w:1)
	/// The range of component `a` is `[1, 32]`.
	fn register_chain(a: u32, ) -> Weight {
		Weight::from_parts(20_000_000, 3600)
			.saturating_add(Weight::from_parts(400_000, 40).saturating_mul(a.into()))
			.saturating_add(T::DbWeight::get().reads(2_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// Storage: `Anchor::Chains` (r:1 w:1)
	/// Storage: `Anchor::ImportedHashes` (r:256 w:257)
	/// Storage: `Anchor::ImportedHeaders` (r:0 w:257)
	/// Storage: `Anchor::AuthoritySets` (r:0 w:1)
	/// The range of component `a` is `[1, 32]`.
	fn reset_light_client(a: u32, ) -> Weight {
		Weight::from_parts(400_000_000, 40000)
			.saturating_add(Weight::from_parts(400_000, 40).saturating_mul(a.into()))
			.saturating_add(T::DbWeight::get().reads(258_u64))
			.saturating_add(T::DbWeight::get().writes(516_u64))
	}
	/// Storage: `Anchor::Chains` (r:1 w:1)
	/// Storage: `Anchor::AuthoritySets` (r:1 w:0)
	/// Storage: `Anchor::ImportedHashes` (r:1 w:1)
	/// Storage: `Anchor::ImportedHeaders` (r:0 w:2)
	/// The range of component `p` is `[1, 22]`.
	fn import_header(p: u32, ) -> Weight {
		Weight::from_parts(60_000_000, 5000)
			.saturating_add(Weight::from_parts(70_000_000, 0).saturating_mul(p.into()))
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().writes(4_u64))
	}
	/// Storage: `Anchor::Chains` (r:1 w:1)
	/// Storage: `Anchor::AuthoritySets` (r:1 w:0)
	/// Storage: `Anchor::ImportedHashes` (r:1 w:1)
	/// Storage: `Anchor::ImportedHeaders` (r:0 w:2)
	/// Storage: `Anchor::NextConsortiumSlipId` (r:1 w:1)
	/// Storage: `Anchor::PatientItemCount` (r:n w:n)
	/// Storage: `Anchor::PatientItemAt` (r:0 w:n)
	/// Storage: `Anchor::ConsortiumSlips` (r:0 w:n/10)
	/// The range of component `n` is `[1, 4096]`.
	/// The range of component `p` is `[1, 22]`.
	fn submit_summary(n: u32, p: u32, ) -> Weight {
		Weight::from_parts(120_000_000, 6000)
			.saturating_add(Weight::from_parts(10_000_000, 2600).saturating_mul(n.into()))
			.saturating_add(Weight::from_parts(70_000_000, 0).saturating_mul(p.into()))
			.saturating_add(T::DbWeight::get().reads(4_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(T::DbWeight::get().writes(5_u64))
			.saturating_add(T::DbWeight::get().writes((3_u64).saturating_mul(n.into())))
	}
	/// Storage: `Anchor::Chains` (r:1 w:1)
	/// Storage: `Anchor::ImportedHeaders` (r:1 w:0)
	/// Storage: `Anchor::NextConsortiumSlipId` (r:1 w:1)
	/// Storage: `Anchor::PatientItemCount` (r:n w:n)
	/// Storage: `Anchor::PatientItemAt` (r:0 w:n)
	/// Storage: `Anchor::ConsortiumSlips` (r:0 w:n/10)
	/// The range of component `n` is `[1, 4096]`.
	fn submit_summary_imported(n: u32, ) -> Weight {
		Weight::from_parts(60_000_000, 6000)
			.saturating_add(Weight::from_parts(10_000_000, 2600).saturating_mul(n.into()))
			.saturating_add(T::DbWeight::get().reads(3_u64))
			.saturating_add(T::DbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(T::DbWeight::get().writes(2_u64))
			.saturating_add(T::DbWeight::get().writes((3_u64).saturating_mul(n.into())))
	}
}

// For backwards compatibility and tests.
impl WeightInfo for () {
	/// Storage: `Anchor::Chains` (r:1 w:1)
	/// Storage: `Anchor::ImportedHashes` (r:1 w:1)
	/// Storage: `Anchor::ImportedHeaders` (r:0 w:1)
	/// Storage: `Anchor::AuthoritySets` (r:0 w:1)
	/// The range of component `a` is `[1, 32]`.
	fn register_chain(a: u32, ) -> Weight {
		Weight::from_parts(20_000_000, 3600)
			.saturating_add(Weight::from_parts(400_000, 40).saturating_mul(a.into()))
			.saturating_add(ParityDbWeight::get().reads(2_u64))
			.saturating_add(ParityDbWeight::get().writes(4_u64))
	}
	/// Storage: `Anchor::Chains` (r:1 w:1)
	/// Storage: `Anchor::ImportedHashes` (r:256 w:257)
	/// Storage: `Anchor::ImportedHeaders` (r:0 w:257)
	/// Storage: `Anchor::AuthoritySets` (r:0 w:1)
	/// The range of component `a` is `[1, 32]`.
	fn reset_light_client(a: u32, ) -> Weight {
		Weight::from_parts(400_000_000, 40000)
			.saturating_add(Weight::from_parts(400_000, 40).saturating_mul(a.into()))
			.saturating_add(ParityDbWeight::get().reads(258_u64))
			.saturating_add(ParityDbWeight::get().writes(516_u64))
	}
	/// Storage: `Anchor::Chains` (r:1 w:1)
	/// Storage: `Anchor::AuthoritySets` (r:1 w:0)
	/// Storage: `Anchor::ImportedHashes` (r:1 w:1)
	/// Storage: `Anchor::ImportedHeaders` (r:0 w:2)
	/// The range of component `p` is `[1, 22]`.
	fn import_header(p: u32, ) -> Weight {
		Weight::from_parts(60_000_000, 5000)
			.saturating_add(Weight::from_parts(70_000_000, 0).saturating_mul(p.into()))
			.saturating_add(ParityDbWeight::get().reads(3_u64))
			.saturating_add(ParityDbWeight::get().writes(4_u64))
	}
	/// Storage: `Anchor::Chains` (r:1 w:1)
	/// Storage: `Anchor::AuthoritySets` (r:1 w:0)
	/// Storage: `Anchor::ImportedHashes` (r:1 w:1)
	/// Storage: `Anchor::ImportedHeaders` (r:0 w:2)
	/// Storage: `Anchor::NextConsortiumSlipId` (r:1 w:1)
	/// Storage: `Anchor::PatientItemCount` (r:n w:n)
	/// Storage: `Anchor::PatientItemAt` (r:0 w:n)
	/// Storage: `Anchor::ConsortiumSlips` (r:0 w:n/10)
	/// The range of component `n` is `[1, 4096]`.
	/// The range of component `p` is `[1, 22]`.
	fn submit_summary(n: u32, p: u32, ) -> Weight {
		Weight::from_parts(120_000_000, 6000)
			.saturating_add(Weight::from_parts(10_000_000, 2600).saturating_mul(n.into()))
			.saturating_add(Weight::from_parts(70_000_000, 0).saturating_mul(p.into()))
			.saturating_add(ParityDbWeight::get().reads(4_u64))
			.saturating_add(ParityDbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(ParityDbWeight::get().writes(5_u64))
			.saturating_add(ParityDbWeight::get().writes((3_u64).saturating_mul(n.into())))
	}
	/// Storage: `Anchor::Chains` (r:1 w:1)
	/// Storage: `Anchor::ImportedHeaders` (r:1 w:0)
	/// Storage: `Anchor::NextConsortiumSlipId` (r:1 w:1)
	/// Storage: `Anchor::PatientItemCount` (r:n w:n)
	/// Storage: `Anchor::PatientItemAt` (r:0 w:n)
	/// Storage: `Anchor::ConsortiumSlips` (r:0 w:n/10)
	/// The range of component `n` is `[1, 4096]`.
	fn submit_summary_imported(n: u32, ) -> Weight {
		Weight::from_parts(60_000_000, 6000)
			.saturating_add(Weight::from_parts(10_000_000, 2600).saturating_mul(n.into()))
			.saturating_add(ParityDbWeight::get().reads(3_u64))
			.saturating_add(ParityDbWeight::get().reads((1_u64).saturating_mul(n.into())))
			.saturating_add(ParityDbWeight::get().writes(2_u64))
			.saturating_add(ParityDbWeight::get().writes((3_u64).saturating_mul(n.into())))
	}
}
