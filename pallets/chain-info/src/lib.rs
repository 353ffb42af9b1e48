//! # Chain info pallet
//!
//! Every MBDS chain runs the same runtime; what makes a chain a hospital chain, an
//! internet-medicine platform chain or the consortium chain is its genesis. This pallet keeps
//! that answer on chain: a numeric [`ChainId`] unique in the whole system, the [`ChainKind`],
//! and a human-readable name. Other pallets read it through [`ChainIdentity`] (the slips
//! pallet stamps the chain id into every summary item; the anchoring pallet on the consortium
//! refuses to run on a private chain).
//!
//! The chain also names itself in every block header: `on_initialize` deposits a header digest
//! item [`DigestItem::Other`](sp_runtime::DigestItem::Other) holding [`CHAIN_DIGEST_TAG`]
//! (`b"mbdschn1"`) followed by the SCALE-encoded [`ChainId`] (built by
//! [`chain_digest_item`], read back by [`chain_id_in_digest`]). GRANDPA signatures do not name
//! the chain they finalise, and chains may share validator keys; the consortium's light clients
//! (`pallet-anchor`) therefore accept a private chain's header only if its digest names that
//! chain. The genesis header carries no such item (no block is initialised to build it).
//!
//! Trust model: the values are set in genesis and are not changeable by any call. Changing
//! what a chain *is* would invalidate every summary item it has published; a chain that needs
//! another identity is a new chain.

#![cfg_attr(not(feature = "std"), no_std)]

pub use pallet::*;

pub mod migrations;

pub use mbds_primitives::{
	chain_digest_item, chain_id_in_digest, ChainId, ChainIdentity, ChainKind, CHAIN_DIGEST_TAG,
};

#[cfg(test)]
mod tests;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::pallet_prelude::*;
	use frame_system::pallet_prelude::BlockNumberFor;

	/// Longest chain name accepted in genesis, in bytes.
	pub const MAX_NAME_LEN: u32 = 64;

	/// The in-code storage version. Version 0 was the layout before versioning; version 1 is
	/// the same layout, versioned ([`crate::migrations::v1::BumpToV1`]).
	pub(crate) const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
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

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		/// Names this chain in the block's header digest (see the crate docs).
		fn on_initialize(_n: BlockNumberFor<T>) -> Weight {
			frame_system::Pallet::<T>::deposit_log(chain_digest_item(ChainIdentifier::<T>::get()));
			// A fixed cost, not benchmarked: one read (`ChainIdentifier`) and one append of a
			// 12-byte item to `frame_system::Digest`, which `frame_system` moves into the header
			// when the block is finalised. No storage of this pallet is written.
			T::DbWeight::get().reads_writes(1, 1)
		}
	}

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
