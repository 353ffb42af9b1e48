//! # Chain info pallet
//!
//! Every MBDS chain runs the same runtime; what makes a chain a hospital chain, an
//! internet-medicine platform chain or the consortium chain is its genesis. This pallet keeps
//! that answer on chain: a numeric [`ChainId`] unique in the whole system, the [`ChainKind`],
//! and a human-readable name. Other pallets read it through [`ChainIdentity`] (the slips
//! pallet stamps the chain id into every summary item; the anchoring pallet on the consortium
//! refuses to run on a private chain).
//!
//! Trust model: the values are set in genesis and are not changeable by any call. Changing
//! what a chain *is* would invalidate every summary item it has published; a chain that needs
//! another identity is a new chain.

#![cfg_attr(not(feature = "std"), no_std)]

pub use pallet::*;

pub use mbds_primitives::{ChainId, ChainIdentity, ChainKind};

#[cfg(test)]
mod tests;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;

	/// Longest chain name accepted in genesis, in bytes.
	pub const MAX_NAME_LEN: u32 = 64;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {}

	/// This chain's identifier, unique across the MBDS system.
	#[pallet::storage]
	pub type ChainIdentifier<T> = StorageValue<_, ChainId, ValueQuery>;

	/// What this chain is: hospital, internet platform or consortium.
	#[pallet::storage]
	pub type Kind<T> = StorageValue<_, ChainKind, ValueQuery>;

	/// Human-readable name of the chain (e.g. "Hospital A").
	#[pallet::storage]
	pub type Name<T> = StorageValue<_, BoundedVec<u8, ConstU32<MAX_NAME_LEN>>, ValueQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Identifier of this chain; must differ from every other chain of the system.
		pub chain_id: ChainId,
		/// Kind of this chain.
		pub kind: ChainKind,
		/// Human-readable name, UTF-8, at most [`MAX_NAME_LEN`] bytes.
		pub name: alloc::string::String,
		#[serde(skip)]
		pub _marker: core::marker::PhantomData<T>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			let name: BoundedVec<u8, ConstU32<MAX_NAME_LEN>> =
				self.name.as_bytes().to_vec().try_into().unwrap_or_else(|_| {
					panic!(
						"chainInfo.name in genesis is {} bytes; at most {MAX_NAME_LEN} allowed",
						self.name.len()
					)
				});
			ChainIdentifier::<T>::put(self.chain_id);
			Kind::<T>::put(self.kind);
			Name::<T>::put(name);
		}
	}

	impl<T: Config> ChainIdentity for Pallet<T> {
		fn chain_id() -> ChainId {
			ChainIdentifier::<T>::get()
		}
		fn chain_kind() -> ChainKind {
			Kind::<T>::get()
		}
	}
}

extern crate alloc;
