//! Runtime-level checks: every preset builds a valid genesis and says which chain it is.

use crate::{genesis_config_presets::*, *};
use sp_api::RuntimeApiInfo;
use sp_runtime::BuildStorage;

fn storage_of(preset: &str) -> sp_io::TestExternalities {
	let patch = preset_json(preset).expect("preset exists");
	let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).unwrap();
	json_merge(&mut config, patch);
	let config: RuntimeGenesisConfig = serde_json::from_value(config)
		.unwrap_or_else(|e| panic!("preset {preset} does not decode as genesis config: {e}"));
	config.build_storage().expect("genesis builds").into()
}

fn json_merge(a: &mut serde_json::Value, b: serde_json::Value) {
	match (a, b) {
		(serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
			for (k, v) in b {
				json_merge(a.entry(k).or_insert(serde_json::Value::Null), v);
			}
		}
		(a, b) => *a = b,
	}
}

#[test]
fn every_preset_builds_a_chain_that_knows_what_it_is() {
	let expected = [
		// (preset, chain id, kind, Aura authors, GRANDPA voters)
		(DEVELOPMENT, 1000, ChainKind::Hospital, 1, 1),
		(HOSPITAL_LOCAL, 1001, ChainKind::Hospital, 4, 4),
		(HOSPITAL_B_LOCAL, 1002, ChainKind::Hospital, 4, 4),
		(PLATFORM_LOCAL, 2001, ChainKind::Platform, 4, 4),
		// The consortium elects 3 RPN (authors) and 1 ATN (voter) of its 5 institutions.
		(CONSORTIUM_LOCAL, 1, ChainKind::Consortium, 3, 4),
	];
	assert_eq!(
		genesis_config_presets::preset_names().len(),
		expected.len(),
		"a preset was added without a test expectation"
	);
	for (preset, id, kind, authors, voters) in expected {
		storage_of(preset).execute_with(|| {
			use mbds_primitives::ChainIdentity;
			assert_eq!(ChainInfo::chain_id(), id, "chain id of {preset}");
			assert_eq!(ChainInfo::chain_kind(), kind, "chain kind of {preset}");
			assert_eq!(pallet_aura::Authorities::<Runtime>::get().len(), authors, "{preset}");
			assert_eq!(Grandpa::grandpa_authorities().len(), voters, "{preset}");
			assert_eq!(
				pallet_session::Validators::<Runtime>::get().len(),
				voters,
				"{preset}: session validators are the GRANDPA voters"
			);
			assert!(pallet_sudo::Key::<Runtime>::get().is_some(), "{preset} has a root key");
		});
	}
}

#[test]
fn private_chains_tolerate_one_faulty_validator() {
	// GRANDPA needs > 2/3 of the voters: with 4 validators, one may fail (the paper's PBFT f=1).
	for preset in [HOSPITAL_LOCAL, HOSPITAL_B_LOCAL, PLATFORM_LOCAL] {
		storage_of(preset).execute_with(|| {
			let n = Grandpa::grandpa_authorities().len();
			assert!((n - 1) / 3 >= 1, "{preset} has {n} validators: tolerates no fault");
		});
	}
}

#[test]
fn chain_ids_are_unique_across_presets() {
	let mut ids: Vec<_> = genesis_config_presets::preset_names()
		.iter()
		.map(|p| chain_of(core::str::from_utf8(p.as_ref()).unwrap()).unwrap().0)
		.collect();
	ids.sort();
	let before = ids.len();
	ids.dedup();
	assert_eq!(before, ids.len(), "two presets share a chain id");
}

#[test]
fn unknown_presets_are_refused() {
	assert!(genesis_config_presets::get_preset(&"hospital-remote".into()).is_none());
}

#[test]
fn runtime_version_is_sane() {
	assert_eq!(VERSION.spec_name, "mbds");
	assert!(VERSION.spec_version >= 100);
	assert!(VERSION.transaction_version >= 1);
	assert_eq!(VERSION.system_version, 1, "state version 1 (V1 trie) expected");
	// Every API the node relies on is declared.
	for api in [
		<dyn sp_api::Core<Block>>::ID,
		<dyn sp_consensus_aura::AuraApi<Block, sp_consensus_aura::sr25519::AuthorityId>>::ID,
		<dyn sp_consensus_grandpa::GrandpaApi<Block>>::ID,
		<dyn sp_genesis_builder::GenesisBuilder<Block>>::ID,
		<dyn sp_session::SessionKeys<Block>>::ID,
	] {
		assert!(VERSION.apis.iter().any(|(id, _)| *id == api), "runtime API {api:?} missing");
	}
}

#[test]
fn slot_and_timestamp_agree() {
	assert_eq!(Aura::slot_duration(), SLOT_DURATION);
}

#[test]
fn consortium_genesis_elects_by_credit() {
	use sp_keyring::Sr25519Keyring::*;
	storage_of(CONSORTIUM_LOCAL).execute_with(|| {
		let roles = pallet_credit::CurrentRoles::<Runtime>::get();
		let rpn: Vec<AccountId> = roles.rpn.into_inner();
		let atn: Vec<AccountId> = roles.atn.into_inner();
		assert_eq!(rpn, vec![Alice.to_account_id(), Bob.to_account_id(), Charlie.to_account_id()]);
		assert_eq!(atn, vec![Dave.to_account_id()]);
		// Eve is a willing, keyed stand-by: registered, not elected.
		assert!(pallet_credit::Institutions::<Runtime>::contains_key(Eve.to_account_id()));
		assert!(pallet_session::NextKeys::<Runtime>::contains_key(Eve.to_account_id()));
		let aura: Vec<_> = pallet_aura::Authorities::<Runtime>::get().into_inner();
		let expected: Vec<sp_consensus_aura::sr25519::AuthorityId> = [Alice, Bob, Charlie]
			.iter()
			.map(|k| {
				let uri = mbds_primitives::chain_session_seed(k.to_seed().as_bytes(), 1);
				let pair = <sp_core::sr25519::Pair as sp_core::Pair>::from_string(
					core::str::from_utf8(&uri).unwrap(),
					None,
				)
				.unwrap();
				sp_core::Pair::public(&pair).into()
			})
			.collect();
		assert_eq!(aura, expected, "only the RPN author blocks");
	});
}

#[test]
fn private_chains_do_not_elect() {
	for preset in [DEVELOPMENT, HOSPITAL_LOCAL, HOSPITAL_B_LOCAL, PLATFORM_LOCAL] {
		storage_of(preset).execute_with(|| {
			assert_eq!(pallet_credit::Institutions::<Runtime>::count(), 0, "{preset}");
			assert!(pallet_credit::CurrentRoles::<Runtime>::get().rpn.is_empty(), "{preset}");
		});
	}
}

/// Hole 4: the chains of the local deployment share no validator key (Aura or GRANDPA), so a
/// header one chain's validators finalised carries no valid signature for another chain's light
/// client; and a node started with a dev seed (`mbds-node --alice`) derives exactly the keys its
/// chain's preset seats.
#[test]
fn no_two_chains_share_a_validator_key_and_dev_seeds_derive_each_chains_own() {
	use codec::{Decode, Encode};
	use sp_core::crypto::key_types::{AURA, GRANDPA};
	use sp_keystore::{testing::MemoryKeystore, Keystore, KeystoreExt};
	let mut seen: alloc::collections::BTreeMap<Vec<u8>, &str> = Default::default();
	for preset in [DEVELOPMENT, HOSPITAL_LOCAL, HOSPITAL_B_LOCAL, PLATFORM_LOCAL, CONSORTIUM_LOCAL]
	{
		let mut ext = storage_of(preset);
		let keystore = MemoryKeystore::new();
		ext.register_extension(KeystoreExt::new(keystore.clone()));
		ext.execute_with(|| {
			let genesis: Vec<(AccountId, opaque::SessionKeys)> =
				pallet_session::QueuedKeys::<Runtime>::get();
			assert!(!genesis.is_empty(), "{preset}");
			for (who, keys) in &genesis {
				for key in [keys.aura.encode(), keys.grandpa.encode()] {
					if let Some(other) = seen.insert(key, preset) {
						panic!("{preset} shares a validator key of {who} with {other}");
					}
				}
			}
			// `mbds-node --alice` on this chain: the runtime derives Alice's keys for it.
			let encoded = <Runtime as frame_system::Config>::AccountId::from(
				sp_keyring::Sr25519Keyring::Alice.public(),
			);
			let generated =
				crate::apis::chain_session_keys(&encoded.encode(), Some(b"//Alice".to_vec()));
			let generated = opaque::SessionKeys::decode(&mut &generated.keys[..]).unwrap();
			let alice =
				&genesis.iter().find(|(who, _)| *who == encoded).expect("Alice validates").1;
			assert_eq!(&generated, alice, "{preset}: --alice derives the preset's keys");
			assert!(keystore.has_keys(&[
				(generated.aura.encode(), AURA),
				(generated.grandpa.encode(), GRANDPA)
			]));
		});
	}
}

/// The upgrade to spec 103 fills the credit pallet's voter snapshot from GRANDPA's set and the
/// session key owners (a chain started on this runtime has it from genesis).
#[test]
fn the_upgrade_fills_the_voter_snapshot_from_the_session_key_owners() {
	use frame_support::traits::OnRuntimeUpgrade;
	storage_of(CONSORTIUM_LOCAL).execute_with(|| {
		let genesis = pallet_credit::SessionVoterKeys::<Runtime>::get();
		assert_eq!(genesis.len(), Grandpa::grandpa_authorities().len());
		pallet_credit::SessionVoterKeys::<Runtime>::kill();
		configs::FillSessionVoterKeys::on_runtime_upgrade();
		assert_eq!(pallet_credit::SessionVoterKeys::<Runtime>::get(), genesis);
		// Once filled it leaves the snapshot alone.
		let mut one = genesis.clone();
		one.truncate(1);
		pallet_credit::SessionVoterKeys::<Runtime>::put(one.clone());
		configs::FillSessionVoterKeys::on_runtime_upgrade();
		assert_eq!(pallet_credit::SessionVoterKeys::<Runtime>::get(), one);
	});
}
