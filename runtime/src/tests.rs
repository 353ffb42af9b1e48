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
			assert_eq!(
				pallet_sudo::Key::<Runtime>::get().is_some(),
				preset == genesis_config_presets::DEVELOPMENT,
				"only the development chain has a root key ({preset})"
			);
		});
	}
}

/// Every MBDS pallet's invariants hold in the genesis of every preset: the try-runtime checks
/// of an upgrade (`TryRuntime_on_runtime_upgrade` with `try_state`) run them over chains that
/// started there.
#[test]
fn every_presets_genesis_keeps_every_pallets_invariants() {
	for name in genesis_config_presets::preset_names() {
		let preset = core::str::from_utf8(name.as_ref()).unwrap();
		storage_of(preset).execute_with(|| {
			mbds_try_state().unwrap_or_else(|e| panic!("{preset}: {e:?}"));
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

// ---------------------------------------------------------------------------------------------
// Governance stories: the council (2/3), its membership, the KMC operators, typed calls.
// ---------------------------------------------------------------------------------------------

mod governance {
	use super::storage_of;
	use crate::{configs::CouncilCollective, genesis_config_presets::*, *};
	use codec::Encode;
	use frame_support::{
		dispatch::GetDispatchInfo,
		traits::{Get, GetStorageVersion, PalletInfoAccess, StorageVersion},
	};
	use pallet_session::ShouldEndSession;
	use sp_keyring::Sr25519Keyring::{self as Keyring, *};
	use sp_runtime::{
		traits::{BlakeTwo256, Hash as _},
		DispatchError, DispatchResult,
	};

	type CouncilError = pallet_collective::Error<Runtime, CouncilCollective>;
	type CouncilEvent = pallet_collective::Event<Runtime, CouncilCollective>;

	fn signed(who: Keyring) -> RuntimeOrigin {
		RuntimeOrigin::signed(who.to_account_id())
	}

	/// A chain in block 1 (events are recorded from block 1 on).
	fn chain(preset: &str) -> sp_io::TestExternalities {
		let mut ext = storage_of(preset);
		ext.execute_with(|| System::set_block_number(1));
		ext
	}

	/// An open council motion.
	struct Motion {
		call: RuntimeCall,
		hash: Hash,
		index: u32,
		len: u32,
	}

	/// `by` proposes `call`, needing `threshold` ayes. The proposer votes separately (its
	/// proposal is not its aye).
	fn propose(by: Keyring, threshold: u32, call: RuntimeCall) -> Result<Motion, DispatchError> {
		let len = call.encoded_size() as u32;
		let index = pallet_collective::ProposalCount::<Runtime, CouncilCollective>::get();
		Council::propose(signed(by), threshold, Box::new(call.clone()), len)
			.map_err(|e| e.error)?;
		Ok(Motion { hash: BlakeTwo256::hash_of(&call), call, index, len })
	}

	fn vote(by: Keyring, m: &Motion, aye: bool) -> DispatchResult {
		Council::vote(signed(by), m.hash, m.index, aye).map(|_| ()).map_err(|e| e.error)
	}

	/// Anyone may close a motion: approved with enough ayes, disapproved after its time.
	fn close(by: Keyring, m: &Motion) -> DispatchResult {
		let weight = m.call.get_dispatch_info().call_weight;
		Council::close(signed(by), m.hash, m.index, weight, m.len).map(|_| ()).map_err(|e| e.error)
	}

	fn council_events() -> Vec<CouncilEvent> {
		System::events()
			.into_iter()
			.filter_map(|r| match r.event {
				RuntimeEvent::Council(e) => Some(e),
				_ => None,
			})
			.collect()
	}

	/// The dispatch result of motion `m` as its `Executed` event reports it (errors without
	/// their message, which events do not carry).
	fn executed(m: &Motion) -> Option<DispatchResult> {
		council_events().into_iter().find_map(|e| match e {
			CouncilEvent::Executed { proposal_hash, result } if proposal_hash == m.hash => {
				Some(result.map_err(|e| e.stripped()))
			}
			_ => None,
		})
	}

	/// `ayes[0]` proposes `call` with `ayes.len()` as threshold, every one of `ayes` votes aye,
	/// and the last closes it: the result of the call as executed by the council.
	fn pass(ayes: &[Keyring], call: RuntimeCall) -> DispatchResult {
		let m = propose(ayes[0], ayes.len() as u32, call).expect("a member proposes");
		for who in ayes {
			vote(*who, &m, true).expect("a member votes");
		}
		close(*ayes.last().unwrap(), &m).expect("enough ayes close the motion");
		executed(&m).expect("an approved motion executes")
	}

	fn err(e: impl Into<DispatchError>) -> DispatchResult {
		Err(e.into().stripped())
	}

	fn set_period(blocks: BlockNumber) -> RuntimeCall {
		RuntimeCall::Governance(pallet_governance::Call::set_session_period { blocks })
	}

	fn members() -> Vec<AccountId> {
		pallet_collective::Members::<Runtime, CouncilCollective>::get()
	}

	fn sorted(keys: &[Keyring]) -> Vec<AccountId> {
		let mut v: Vec<AccountId> = keys.iter().map(|k| k.to_account_id()).collect();
		v.sort();
		v
	}

	#[test]
	fn every_preset_seats_its_council_and_the_bootstrap_kmc_operator() {
		for name in genesis_config_presets::preset_names() {
			let preset = core::str::from_utf8(name.as_ref()).unwrap();
			chain(preset).execute_with(|| {
				let council = council_of(preset).unwrap();
				assert_eq!(members(), sorted(&council), "{preset}: collective members");
				assert_eq!(
					CouncilMembership::members().into_inner(),
					sorted(&council),
					"{preset}: membership and collective agree"
				);
				assert_eq!(
					KmcOperators::members().into_inner(),
					vec![KMC_OPERATOR.to_account_id()],
					"{preset}"
				);
				assert_eq!(configs::SessionPeriod::get(), configs::DEFAULT_SESSION_PERIOD);
			});
		}
		assert_eq!(council_of(CONSORTIUM_LOCAL).unwrap().len(), 5, "its member institutions");
	}

	#[test]
	fn a_non_member_cannot_propose_or_vote() {
		chain(HOSPITAL_LOCAL).execute_with(|| {
			// Dave validates the chain but is not on its council.
			assert_eq!(
				propose(Dave, 2, set_period(20)).err(),
				Some(CouncilError::NotMember.into())
			);
			let m = propose(Alice, 2, set_period(20)).unwrap();
			assert_eq!(vote(Dave, &m, true), Err(CouncilError::NotMember.into()));
		});
	}

	#[test]
	fn one_aye_of_three_does_not_pass() {
		chain(HOSPITAL_LOCAL).execute_with(|| {
			// A member alone: a motion with threshold 1 executes at once, as Members(1, 3),
			// which is not two thirds: the call fails with BadOrigin.
			let m = propose(Alice, 1, set_period(21)).unwrap();
			assert_eq!(executed(&m), Some(err(DispatchError::BadOrigin)));
			// Threshold 2 with one aye (Alice's) and one nay: it cannot be closed early, and
			// once its time is over it closes disapproved (the absent member counts as nay:
			// no prime).
			let m = propose(Alice, 2, set_period(20)).unwrap();
			vote(Alice, &m, true).unwrap();
			vote(Bob, &m, false).unwrap();
			assert_eq!(close(Charlie, &m), Err(CouncilError::TooEarly.into()));
			System::set_block_number(1 + configs::CouncilMotionDuration::get());
			close(Charlie, &m).unwrap();
			assert!(council_events().contains(&CouncilEvent::Disapproved { proposal_hash: m.hash }));
			assert_eq!(executed(&m), None);
			assert_eq!(configs::SessionPeriod::get(), configs::DEFAULT_SESSION_PERIOD);
		});
	}

	#[test]
	fn a_prime_member_cannot_pass_a_motion_by_the_others_silence() {
		chain(HOSPITAL_LOCAL).execute_with(|| {
			// The council names Alice its prime member.
			let prime = RuntimeCall::CouncilMembership(pallet_membership::Call::set_prime {
				who: sp_runtime::MultiAddress::Id(Alice.to_account_id()),
			});
			assert_eq!(pass(&[Alice, Bob], prime), Ok(()));
			assert_eq!(
				pallet_collective::Prime::<Runtime, CouncilCollective>::get(),
				Some(Alice.to_account_id())
			);
			// Alice alone proposes with the two-thirds threshold, votes aye and waits: the
			// silent members count as nay, not as her vote.
			let m = propose(Alice, 2, set_period(25)).unwrap();
			vote(Alice, &m, true).unwrap();
			System::set_block_number(
				System::block_number() + configs::CouncilMotionDuration::get(),
			);
			close(Alice, &m).unwrap();
			assert!(council_events().contains(&CouncilEvent::Disapproved { proposal_hash: m.hash }));
			assert_eq!(executed(&m), None);
			assert_eq!(configs::SessionPeriod::get(), configs::DEFAULT_SESSION_PERIOD);
		});
	}

	#[test]
	fn two_of_three_pass_and_the_call_executes() {
		chain(HOSPITAL_LOCAL).execute_with(|| {
			let m = propose(Alice, 2, set_period(20)).unwrap();
			vote(Alice, &m, true).unwrap();
			assert_eq!(close(Ferdie, &m), Err(CouncilError::TooEarly.into()), "one aye");
			vote(Bob, &m, true).unwrap();
			// Anyone may close it, a non-member too.
			close(Ferdie, &m).unwrap();
			assert!(council_events().contains(&CouncilEvent::Approved { proposal_hash: m.hash }));
			assert_eq!(executed(&m), Some(Ok(())));
			assert_eq!(configs::SessionPeriod::get(), 20);
			assert!(System::events().iter().any(|r| r.event
				== RuntimeEvent::Governance(pallet_governance::Event::SessionPeriodChanged {
					old: configs::DEFAULT_SESSION_PERIOD,
					new: 20
				})));
		});
	}

	#[test]
	fn membership_changes_only_by_council_vote() {
		chain(HOSPITAL_LOCAL).execute_with(|| {
			let add_dave = RuntimeCall::CouncilMembership(pallet_membership::Call::add_member {
				who: Dave.to_account_id().into(),
			});
			// A member alone cannot seat anyone, nor can the collective be set around the
			// membership pallet.
			assert_eq!(
				CouncilMembership::add_member(signed(Alice), Dave.to_account_id().into())
					.map_err(|e| e.error),
				Err(DispatchError::BadOrigin)
			);
			assert_eq!(
				Council::set_members(
					signed(Alice),
					vec![Alice.to_account_id(), Dave.to_account_id()],
					None,
					3
				)
				.map_err(|e| e.error),
				Err(DispatchError::BadOrigin)
			);
			// Nor can a member hand its seat to another account (pallet-membership's
			// `change_key` is filtered out: a new key is a council `swap_member`).
			use sp_runtime::traits::Dispatchable;
			let hand_over = RuntimeCall::CouncilMembership(pallet_membership::Call::change_key {
				new: Dave.to_account_id().into(),
			});
			assert_eq!(
				hand_over.clone().dispatch(signed(Alice)).map_err(|e| e.error),
				Err(frame_system::Error::<Runtime>::CallFiltered.into())
			);
			let operator_hand_over =
				RuntimeCall::KmcOperators(pallet_membership::Call::change_key {
					new: Dave.to_account_id().into(),
				});
			assert_eq!(
				operator_hand_over.dispatch(signed(KMC_OPERATOR)).map_err(|e| e.error),
				Err(frame_system::Error::<Runtime>::CallFiltered.into())
			);
			// A motion passed by two of three can.
			assert_eq!(pass(&[Alice, Bob], add_dave), Ok(()));
			assert_eq!(members(), sorted(&[Alice, Bob, Charlie, Dave]));
			assert_eq!(CouncilMembership::members().into_inner(), members());
			// Now two ayes are half of four: not enough.
			assert_eq!(pass(&[Alice, Bob], set_period(20)), err(DispatchError::BadOrigin));
			assert_eq!(pass(&[Alice, Bob, Dave], set_period(25)), Ok(()));
			assert_eq!(configs::SessionPeriod::get(), 25);
			// And removing a member is a vote as well.
			let remove_dave =
				RuntimeCall::CouncilMembership(pallet_membership::Call::remove_member {
					who: Dave.to_account_id().into(),
				});
			assert_eq!(pass(&[Alice, Bob, Charlie], remove_dave), Ok(()));
			assert_eq!(members(), sorted(&[Alice, Bob, Charlie]));
			// But the council cannot vote itself below three seats (no chain has root to
			// seat a new one): removing a fourth-to-last member, or a reset to two, is
			// refused, and the seats stay.
			let remove_charlie =
				RuntimeCall::CouncilMembership(pallet_membership::Call::remove_member {
					who: Charlie.to_account_id().into(),
				});
			let filtered = err(frame_system::Error::<Runtime>::CallFiltered);
			assert_eq!(pass(&[Alice, Bob], remove_charlie), filtered);
			let reset_to_two =
				RuntimeCall::CouncilMembership(pallet_membership::Call::reset_members {
					members: vec![Alice.to_account_id(), Bob.to_account_id(), Bob.to_account_id()],
				});
			assert_eq!(pass(&[Alice, Bob], reset_to_two), filtered);
			// Nor pad itself with a member's duplicates (five seats, three voters: two thirds
			// would never be reached again).
			let padded = RuntimeCall::CouncilMembership(pallet_membership::Call::reset_members {
				members: [Alice, Bob, Charlie, Charlie, Charlie]
					.iter()
					.map(|k| k.to_account_id())
					.collect(),
			});
			assert_eq!(pass(&[Alice, Bob], padded), filtered);
			assert_eq!(members(), sorted(&[Alice, Bob, Charlie]));
			// A reset to three others is a vote like any other.
			let reset = RuntimeCall::CouncilMembership(pallet_membership::Call::reset_members {
				members: vec![Alice.to_account_id(), Bob.to_account_id(), Dave.to_account_id()],
			});
			assert_eq!(pass(&[Alice, Bob], reset), Ok(()));
			assert_eq!(members(), sorted(&[Alice, Bob, Dave]));
		});
	}

	fn test_keys(tag: u8) -> pallet_kmc::KeySetOf<Runtime> {
		use pallet_kmc::{KeyScheme, KeySet, PublicKey};
		KeySet {
			record_key: PublicKey {
				scheme: KeyScheme::UmbralSecp256k1V1,
				key: vec![2u8; 33].try_into().unwrap(),
			},
			search_key: PublicKey {
				scheme: KeyScheme::PeksBls12381V1,
				key: vec![tag; 98].try_into().unwrap(),
			},
		}
	}

	fn register(
		by: RuntimeOrigin,
		who: Keyring,
		role: mbds_primitives::Role<AccountId>,
		tag: u8,
	) -> DispatchResult {
		Kmc::register(
			by,
			who.to_account_id(),
			role,
			sp_core::H256::repeat_byte(tag),
			test_keys(tag),
		)
	}

	#[test]
	fn the_council_appoints_a_kmc_operator_who_registers_a_doctor_without_a_vote() {
		use mbds_primitives::{InstitutionKind, ParticipantRegistry, Role};
		chain(HOSPITAL_LOCAL).execute_with(|| {
			let hospital = Role::Institution(InstitutionKind::Hospital);
			// Dave is no operator yet: his registration is refused.
			assert_eq!(
				register(signed(Dave), Eve, hospital.clone(), 1),
				Err(DispatchError::BadOrigin)
			);
			// Nor can a council member appoint him alone.
			assert_eq!(
				KmcOperators::add_member(signed(Alice), Dave.to_account_id().into())
					.map_err(|e| e.error),
				Err(DispatchError::BadOrigin)
			);
			let appoint = RuntimeCall::KmcOperators(pallet_membership::Call::add_member {
				who: Dave.to_account_id().into(),
			});
			assert_eq!(pass(&[Alice, Charlie], appoint), Ok(()));
			assert!(KmcOperators::members().contains(&Dave.to_account_id()));

			// The operator cannot seat an institution alone (a health authority would run a
			// proxy and attest emergencies; a hospital employs doctors): the council does.
			let kmc_error = |e: pallet_kmc::Error<Runtime>| Err(e.into());
			assert_eq!(
				register(signed(Dave), Eve, hospital.clone(), 1),
				kmc_error(pallet_kmc::Error::CouncilOnly)
			);
			let authority = Role::Institution(InstitutionKind::HealthAuthority);
			assert_eq!(
				register(signed(Dave), One, authority, 9),
				kmc_error(pallet_kmc::Error::CouncilOnly)
			);
			let seat = RuntimeCall::Kmc(pallet_kmc::Call::register {
				who: Eve.to_account_id(),
				role: hospital,
				identity: sp_core::H256::repeat_byte(1),
				keys: test_keys(1),
			});
			assert_eq!(pass(&[Alice, Bob], seat), Ok(()));
			// Nor re-key anyone, nor suspend the hospital.
			assert_eq!(
				Kmc::rotate_keys(signed(Dave), Eve.to_account_id(), test_keys(7)),
				kmc_error(pallet_kmc::Error::CouncilOnly)
			);
			assert_eq!(
				Kmc::suspend(signed(Dave), Eve.to_account_id()),
				kmc_error(pallet_kmc::Error::CouncilOnly)
			);

			// The operator registers the hospital's doctor with his own signed call.
			let doctor = Role::Doctor { institution: Eve.to_account_id() };
			assert_eq!(register(signed(Dave), Ferdie, doctor.clone(), 2), Ok(()));
			assert!(pallet_kmc::Participants::<Runtime>::contains_key(Ferdie.to_account_id()));
			// The doctor acts once the hospital, with its own signature, confirms employing
			// them.
			assert!(!Kmc::is_active(&Ferdie.to_account_id()));
			assert_eq!(Kmc::employ(signed(Eve), Ferdie.to_account_id()), Ok(()));
			assert!(Kmc::is_active(&Ferdie.to_account_id()));
			// A non-operator cannot, council member or not.
			assert_eq!(
				register(signed(Bob), One, doctor.clone(), 3),
				Err(DispatchError::BadOrigin)
			);
			assert_eq!(register(signed(Two), One, doctor, 3), Err(DispatchError::BadOrigin));
			// The operator suspends without a vote too; the council can remove the operator.
			assert_eq!(Kmc::suspend(signed(Dave), Ferdie.to_account_id()), Ok(()));
			let dismiss = RuntimeCall::KmcOperators(pallet_membership::Call::remove_member {
				who: Dave.to_account_id().into(),
			});
			assert_eq!(pass(&[Bob, Charlie], dismiss), Ok(()));
			assert_eq!(
				Kmc::reinstate(signed(Dave), Ferdie.to_account_id()),
				Err(DispatchError::BadOrigin)
			);
		});
	}

	#[test]
	fn a_motion_to_set_the_session_period_to_zero_fails_with_a_clear_error() {
		type GovError = pallet_governance::Error<Runtime>;
		chain(HOSPITAL_LOCAL).execute_with(|| {
			// The motion passes and executes; the call refuses, and the `Executed` event says
			// why.
			assert_eq!(pass(&[Alice, Bob], set_period(0)), err(GovError::ZeroSessionPeriod));
			assert_eq!(
				pass(&[Alice, Bob], set_period(configs::MIN_SESSION_PERIOD - 1)),
				err(GovError::SessionPeriodTooShort)
			);
			assert_eq!(
				pass(&[Alice, Bob], set_period(configs::MAX_SESSION_PERIOD + 1)),
				err(GovError::SessionPeriodTooLong)
			);
			assert_eq!(configs::SessionPeriod::get(), configs::DEFAULT_SESSION_PERIOD);
			// The raw system.set_storage route (root only) cannot stall the chain either: the
			// session reads the period clamped to its bounds.
			frame_support::storage::unhashed::put(&configs::SessionPeriod::key(), &0u32);
			assert_eq!(configs::SessionPeriod::get(), configs::MIN_SESSION_PERIOD);
			assert_eq!(
				<Runtime as pallet_session::Config>::ShouldEndSession::should_end_session(
					configs::MIN_SESSION_PERIOD
				),
				true
			);
		});
	}

	#[test]
	fn election_sizes_below_the_bft_minimum_are_refused_even_to_the_council() {
		use pallet_credit::ElectionParams;
		chain(CONSORTIUM_LOCAL).execute_with(|| {
			let params = |rpn_count, atn_count| {
				RuntimeCall::Credit(pallet_credit::Call::set_election_params {
					params: ElectionParams {
						rpn_count,
						atn_count,
						credit_threshold: 0,
						min_rpn: 1,
					},
				})
			};
			// The consortium's council is its five institutions: four ayes are two thirds.
			assert_eq!(
				pass(&[Alice, Bob, Charlie], params(3, 1)),
				err(DispatchError::BadOrigin),
				"three of five are not two thirds"
			);
			assert_eq!(
				pass(&[Alice, Bob, Charlie, Dave], params(2, 1)),
				err(pallet_credit::Error::<Runtime>::BelowBftMinimum)
			);
			assert_eq!(pass(&[Alice, Bob, Charlie, Dave], params(3, 2)), Ok(()));
			assert_eq!(pallet_credit::Params::<Runtime>::get().atn_count, 2);
		});
	}

	/// Stands in for the executor: reads a code blob's runtime version from its first bytes
	/// (the tests prefix the runtime's wasm with the version they want it to declare).
	struct VersionInCode;
	impl sp_core::traits::ReadRuntimeVersion for VersionInCode {
		fn read_runtime_version(
			&self,
			code: &[u8],
			_: &mut dyn sp_core::traits::Externalities,
		) -> Result<Vec<u8>, String> {
			Ok(code.to_vec())
		}
	}

	fn code_declaring(spec_version: u32) -> Vec<u8> {
		let mut version = VERSION;
		version.spec_version = spec_version;
		let mut code = version.encode();
		code.extend_from_slice(WASM_BINARY.unwrap_or(b"\0asm"));
		code
	}

	#[test]
	fn a_council_motion_authorizes_an_upgrade_that_anyone_then_applies() {
		let mut ext = chain(HOSPITAL_LOCAL);
		ext.register_extension(sp_core::traits::ReadRuntimeVersionExt::new(VersionInCode));
		ext.execute_with(|| {
			type SystemError = frame_system::Error<Runtime>;
			let code = code_declaring(VERSION.spec_version + 1);
			let hash = BlakeTwo256::hash(&code);
			let apply = |who: Keyring, code: &[u8]| {
				System::apply_authorized_upgrade(signed(who), code.to_vec())
					.map(|_| ())
					.map_err(|e| e.error)
			};
			assert_eq!(apply(Ferdie, &code), Err(SystemError::NothingAuthorized.into()));
			// frame_system's own call needs root, which the council does not have.
			let system_authorize =
				RuntimeCall::System(frame_system::Call::authorize_upgrade { code_hash: hash });
			assert_eq!(pass(&[Alice, Bob], system_authorize), err(DispatchError::BadOrigin));
			// The council's call: a motion on the code hash.
			let authorize = RuntimeCall::Governance(pallet_governance::Call::authorize_upgrade {
				code_hash: hash,
			});
			assert_eq!(pass(&[Alice, Bob], authorize), Ok(()));
			assert!(System::events().iter().any(|r| r.event
				== RuntimeEvent::System(frame_system::Event::UpgradeAuthorized {
					code_hash: hash,
					check_version: true
				})));
			// Other code is refused; the authorised code is applied by anyone (Ferdie holds
			// no office).
			let mut other = code.clone();
			other.push(0);
			assert_eq!(apply(Ferdie, &other), Err(SystemError::Unauthorized.into()));
			assert_eq!(apply(Ferdie, &code), Ok(()));
			assert_eq!(sp_io::storage::get(sp_core::storage::well_known_keys::CODE).unwrap(), code);
			assert!(System::authorized_upgrade().is_none(), "an authorisation is used once");

			// Code that does not raise spec_version is rejected even when authorised: the
			// authorisation is dropped, the code stays, an event says why.
			let same = code_declaring(VERSION.spec_version);
			let same_hash = BlakeTwo256::hash(&same);
			let authorize = RuntimeCall::Governance(pallet_governance::Call::authorize_upgrade {
				code_hash: same_hash,
			});
			assert_eq!(pass(&[Alice, Charlie], authorize), Ok(()));
			assert_eq!(apply(Ferdie, &same), Ok(()));
			assert!(System::events().iter().any(|r| r.event
				== RuntimeEvent::System(frame_system::Event::RejectedInvalidAuthorizedUpgrade {
					code_hash: same_hash,
					error: DispatchError::from(SystemError::SpecVersionNeedsToIncrease).stripped(),
				})));
			assert_eq!(sp_io::storage::get(sp_core::storage::well_known_keys::CODE).unwrap(), code);
			assert!(System::authorized_upgrade().is_none());
		});
	}

	/// A chain upgraded from spec 103: the council pallets and `Governance` are new (no
	/// storage), chain-info, credit and consent are at on-chain version 0, slips at 1 (without
	/// the expiry cursor of spec 106), and the session
	/// period was set through the old raw key. After the upgrade's migrations every pallet's
	/// on-chain storage version is its in-code one and the period lives in `Governance`.
	#[test]
	fn the_upgrade_versions_every_pallet_and_moves_the_session_period() {
		use frame_support::storage::unhashed;
		chain(HOSPITAL_LOCAL).execute_with(|| {
			for prefix in [
				<Council as PalletInfoAccess>::name_hash(),
				<CouncilMembership as PalletInfoAccess>::name_hash(),
				<KmcOperators as PalletInfoAccess>::name_hash(),
				<Governance as PalletInfoAccess>::name_hash(),
			] {
				let _ = unhashed::clear_prefix(&prefix, None, None);
			}
			StorageVersion::new(0).put::<ChainInfo>();
			StorageVersion::new(0).put::<Credit>();
			StorageVersion::new(0).put::<Consent>();
			// Slips before spec 106: version 1, no expiry cursor.
			StorageVersion::new(1).put::<Slips>();
			pallet_slips::NextSlipId::<Runtime>::put(5);
			let old_key = configs::OldSessionPeriodKey::get();
			unhashed::put(&old_key, &20u32);
			assert_eq!(Governance::on_chain_storage_version(), 0);

			Executive::execute_on_runtime_upgrade();

			macro_rules! assert_versions {
				($($pallet:ty),*) => {$(
					assert_eq!(
						<$pallet>::on_chain_storage_version(),
						<$pallet>::in_code_storage_version(),
						"{}", stringify!($pallet)
					);
				)*};
			}
			assert_versions!(
				ChainInfo,
				Credit,
				Kmc,
				Slips,
				Consent,
				Anchor,
				Governance,
				Council,
				CouncilMembership,
				KmcOperators
			);
			for v in [
				ChainInfo::on_chain_storage_version(),
				Credit::on_chain_storage_version(),
				Consent::on_chain_storage_version(),
				Kmc::on_chain_storage_version(),
			] {
				assert_eq!(
					v, 1,
					"every MBDS pallet but governance, slips and anchor is at version 1"
				);
			}
			// Anchor is at 2, its searchable index built from the items anchored so far.
			assert_eq!(Anchor::on_chain_storage_version(), 2);
			// Slips is at 2, its expiry cursor after the slips already submitted.
			assert_eq!(Slips::on_chain_storage_version(), 2);
			assert_eq!(pallet_slips::ExpiryCursor::<Runtime>::get(), 5);
			// Governance, new in this upgrade, is at 2, and the running session keeps its end
			// (a chain at block 1 of a 20-block period: the genesis session, ending at 20).
			assert_eq!(Governance::on_chain_storage_version(), 2);
			assert!(pallet_governance::SessionStart::<Runtime>::exists());
			assert_eq!(Governance::next_session_end(), 20);
			assert_eq!(pallet_governance::SessionPeriod::<Runtime>::get(), 20);
			assert_eq!(configs::SessionPeriod::get(), 20);
			assert!(!unhashed::exists(&old_key), "the raw key is gone");

			// A second upgrade (a later release) changes nothing.
			Executive::execute_on_runtime_upgrade();
			assert_eq!(configs::SessionPeriod::get(), 20);
			assert_versions!(ChainInfo, Credit, Consent, Governance);
		});
	}

	#[test]
	fn a_new_chain_starts_with_every_pallet_at_its_in_code_version() {
		chain(CONSORTIUM_LOCAL).execute_with(|| {
			assert_eq!(ChainInfo::on_chain_storage_version(), 1);
			assert_eq!(Credit::on_chain_storage_version(), 1);
			assert_eq!(Consent::on_chain_storage_version(), 1);
			assert_eq!(Governance::on_chain_storage_version(), 2);
		});
	}
}

/// What the consortium decodes from a private chain (`pallet-anchor`): its headers (GRANDPA
/// justifications over them), the storage key of a closed summary batch
/// (`pallet_slips::Batches`), the batch record (`BatchInfo`) and the summary items (the batch's
/// Merkle leaves, `SummaryItem`). One runtime serves every chain, so an upgrade that changed
/// any of these would make a consortium on the old runtime refuse (or misread) the batches of
/// a private chain on the new one. This test pins each layout, field by field; if it fails,
/// the change needs the upgrade order of `docs/upgrades.md`: first the consortium, to a runtime
/// that reads the old and the new format, then the private chains, then (optionally) the
/// consortium again to drop the old format. Update the expected bytes only together with that.
#[test]
fn the_formats_the_consortium_reads_from_private_chains_are_pinned() {
	use codec::{Compact, Encode};
	use sp_core::H256;
	const ORDER: &str = "the consortium reads this from private chains: see docs/upgrades.md for the upgrade order this change needs";

	// Batch record: root, item count, chain id, opened at, closed at, closed at (ms).
	let batch = pallet_slips::BatchInfo::<BlockNumber> {
		root: H256::repeat_byte(1),
		item_count: 3,
		chain_id: 1001,
		opened_at: 10,
		closed_at: 20,
		closed_at_ms: 1_700_000_000_000,
	};
	let mut expected = vec![1u8; 32];
	expected.extend(3u32.to_le_bytes());
	expected.extend(1001u32.to_le_bytes());
	expected.extend(10u32.to_le_bytes());
	expected.extend(20u32.to_le_bytes());
	expected.extend(1_700_000_000_000u64.to_le_bytes());
	assert_eq!(batch.encode(), expected, "BatchInfo: {ORDER}");

	// Its storage key: twox128("Slips") ++ twox128("Batches") ++ twox64(id) ++ id.
	let id: u64 = 7;
	let mut key = sp_io::hashing::twox_128(b"Slips").to_vec();
	key.extend(sp_io::hashing::twox_128(b"Batches"));
	key.extend(sp_io::hashing::twox_64(&id.encode()));
	key.extend(id.encode());
	assert_eq!(pallet_slips::Batches::<Runtime>::hashed_key_for(id), key, "Batches key: {ORDER}");

	// A summary item: patient, keyword (compact length + bytes), record hash, categories,
	// chain id, block number, slip id.
	let patient = AccountId::from([5u8; 32]);
	let categories: mbds_primitives::consent::CategoryList = vec![4u32, 9].try_into().unwrap();
	let item = pallet_slips::SummaryItemOf::<Runtime> {
		patient: patient.clone(),
		encrypted_keyword: vec![0xAB; 3].try_into().unwrap(),
		record_hash: H256::repeat_byte(2),
		categories: categories.clone(),
		chain_id: 1001,
		block_number: 42,
		slip_id: 9,
	};
	let mut expected = patient.encode();
	expected.extend(Compact(3u32).encode());
	expected.extend([0xAB; 3]);
	expected.extend([2u8; 32]);
	expected.extend(categories.encode());
	expected.extend(1001u32.to_le_bytes());
	expected.extend(42u32.to_le_bytes());
	expected.extend(9u64.to_le_bytes());
	assert_eq!(item.encode(), expected, "SummaryItem: {ORDER}");

	// Headers: parent hash, compact number, state root, extrinsics root, digest; u32 numbers,
	// BLAKE2-256 hashing (what the consortium's light clients check justifications over).
	let header = <Header as sp_runtime::traits::Header>::new(
		5,
		H256::repeat_byte(3),
		H256::repeat_byte(4),
		H256::repeat_byte(6),
		Default::default(),
	);
	let mut expected = vec![6u8; 32];
	expected.extend(Compact(5u32).encode());
	expected.extend([4u8; 32]);
	expected.extend([3u8; 32]);
	expected.push(0);
	assert_eq!(header.encode(), expected, "Header: {ORDER}");
	assert_eq!(
		sp_runtime::traits::Header::hash(&header),
		H256(sp_io::hashing::blake2_256(&expected)),
		"header hashing: {ORDER}"
	);
}

/// `pallet_kmc::SkipFeeIfFeeless` charges no payment weight to a medical call other than a
/// retreat call, on the ground that only an active participant can send one and that every
/// such call is feeless for them. This checks the second half for every call of every pallet
/// (each call built from zero bytes: any arguments do, the rule looks only at the origin; a
/// call whose arguments cannot be built that way is named).
#[test]
fn every_medical_call_is_feeless_for_an_active_participant_so_it_pays_no_payment_weight() {
	use codec::Decode;
	use frame_support::{
		dispatch::CheckIfFeeless,
		traits::{Contains, GetCallIndex, PalletInfoAccess},
	};
	storage_of(DEVELOPMENT).execute_with(|| {
		let who = AccountId::from([7u8; 32]);
		let key = |scheme, len: usize, b: u8| pallet_kmc::PublicKey {
			scheme,
			key: alloc::vec![b; len].try_into().expect("fits MaxKeyLen"),
		};
		frame_support::assert_ok!(Kmc::register(
			RuntimeOrigin::signed(genesis_config_presets::KMC_OPERATOR.to_account_id()),
			who.clone(),
			mbds_primitives::Role::Patient,
			sp_core::H256::repeat_byte(7),
			pallet_kmc::KeySet {
				record_key: key(pallet_kmc::KeyScheme::UmbralSecp256k1V1, 33, 2),
				search_key: key(pallet_kmc::KeyScheme::PeksBls12381V1, 98, 7),
			},
		));
		let origin = RuntimeOrigin::signed(who);
		let mut checked = 0;
		let mut decoded = alloc::collections::BTreeSet::new();
		for pallet in 0..=u8::MAX {
			for index in 0..=u8::MAX {
				let mut bytes = alloc::vec![pallet, index];
				bytes.extend([0u8; 8192]);
				// Every (pallet, call) pair the runtime has decodes; the rest are no calls.
				let Ok(call) = RuntimeCall::decode(&mut &bytes[..]) else { continue };
				decoded.insert((pallet, index));
				let medical = configs::MedicalCalls::contains(&call);
				let free = pallet_kmc::SkipFeeIfFeeless::<
					Runtime,
					pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
				>::free_of_payment_weight(&call);
				assert_eq!(free, medical && !configs::RetreatCalls::contains(&call));
				if free {
					assert!(
						call.is_feeless(&origin),
						"{call:?} charged no payment weight but pays a fee"
					);
					checked += 1;
				}
			}
		}
		// Slips' submit/confirm/reject, consent's calls but the three retreats, employ and
		// rotate_own_keys; every call of the pallets with medical calls was built.
		assert!(checked >= 12, "only {checked} medical calls checked");
		for (pallet, indices) in [
			(Slips::index(), pallet_slips::Call::<Runtime>::get_call_indices()),
			(Consent::index(), pallet_consent::Call::<Runtime>::get_call_indices()),
			(Kmc::index(), pallet_kmc::Call::<Runtime>::get_call_indices()),
		] {
			for index in indices {
				assert!(
					decoded.contains(&(pallet as u8, *index)),
					"call {pallet}/{index} not built"
				);
			}
		}
	});
}
