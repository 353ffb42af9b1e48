use crate::{self as pallet_chain_info, *};
use frame_support::derive_impl;
use sp_runtime::BuildStorage;

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
