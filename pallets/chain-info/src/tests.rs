use crate::{self as pallet_chain_info, *};
use codec::Encode;
use frame_support::{
	derive_impl,
	traits::{Get, OnInitialize},
	weights::RuntimeDbWeight,
};
use sp_runtime::{traits::Header as _, BuildStorage, Digest, DigestItem};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		ChainInfo: pallet_chain_info,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

impl Config for Test {}

fn build(chain_id: ChainId, kind: ChainKind, name: &str) -> sp_io::TestExternalities {
	RuntimeGenesisConfig {
		system: Default::default(),
		chain_info: pallet_chain_info::GenesisConfig {
			chain_id,
			kind,
			name: name.into(),
			_marker: Default::default(),
		},
	}
	.build_storage()
	.unwrap()
	.into()
}

#[test]
fn a_platform_chain_knows_what_it_is() {
	build(2001, ChainKind::Platform, "Platform P").execute_with(|| {
		assert_eq!(<ChainInfo as ChainIdentity>::chain_id(), 2001);
		assert_eq!(<ChainInfo as ChainIdentity>::chain_kind(), ChainKind::Platform);
		assert!(<ChainInfo as ChainIdentity>::chain_kind().is_private());
		assert_eq!(Name::<Test>::get().to_vec(), b"Platform P".to_vec());
	});
}

#[test]
fn the_consortium_is_not_a_private_chain() {
	build(1, ChainKind::Consortium, "Consortium").execute_with(|| {
		assert_eq!(<ChainInfo as ChainIdentity>::chain_kind(), ChainKind::Consortium);
		assert!(!<ChainInfo as ChainIdentity>::chain_kind().is_private());
	});
}

#[test]
#[should_panic(expected = "chainInfo.name in genesis is 65 bytes")]
fn an_overlong_name_is_refused_at_genesis() {
	build(7, ChainKind::Hospital, &"x".repeat(65));
}

#[test]
fn every_block_names_its_chain_in_the_header_digest() {
	build(2001, ChainKind::Platform, "Platform P").execute_with(|| {
		let mut parent = Default::default();
		for number in 1..=2u64 {
			System::initialize(&number, &parent, &Default::default());
			let weight = AllPalletsWithSystem::on_initialize(number);
			let header = System::finalize();

			// Exactly one item, the tag and the SCALE-encoded chain id.
			let expected = [&CHAIN_DIGEST_TAG[..], &2001u32.to_le_bytes()[..]].concat();
			assert_eq!(header.digest().logs(), &[DigestItem::Other(expected)]);
			assert_eq!(chain_id_in_digest(header.digest()), Some(2001));
			let db = <<Test as frame_system::Config>::DbWeight as Get<RuntimeDbWeight>>::get();
			assert_eq!(weight, db.reads_writes(1, 1));
			parent = header.hash();
		}
	});
}

#[test]
fn a_digest_names_a_chain_only_unambiguously() {
	let named = |logs: Vec<DigestItem>| chain_id_in_digest(&Digest { logs });
	// A genesis header: no item.
	assert_eq!(named(vec![]), None);
	// Other items are ignored, whatever their kind.
	let unrelated = DigestItem::Other(b"unrelated".to_vec());
	let consensus = DigestItem::Consensus(*b"FRNK", (CHAIN_DIGEST_TAG, 8u32).encode());
	assert_eq!(named(vec![unrelated.clone(), consensus, chain_digest_item(7)]), Some(7));
	let truncated = DigestItem::Other(CHAIN_DIGEST_TAG[..6].to_vec());
	assert_eq!(named(vec![unrelated, truncated]), None);
	// The same chain named twice is still that chain; two chains are none.
	assert_eq!(named(vec![chain_digest_item(7), chain_digest_item(7)]), Some(7));
	assert_eq!(named(vec![chain_digest_item(7), chain_digest_item(8)]), None);
	// A tagged item that is not exactly a chain id names no chain, even next to a good one.
	let no_id = DigestItem::Other(CHAIN_DIGEST_TAG.to_vec());
	let mut long = CHAIN_DIGEST_TAG.to_vec();
	long.extend([7, 0, 0, 0, 0]);
	assert_eq!(named(vec![no_id]), None);
	assert_eq!(named(vec![chain_digest_item(7), DigestItem::Other(long)]), None);
}
