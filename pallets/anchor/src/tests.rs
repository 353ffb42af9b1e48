//! User stories of anchoring: a relayer carries summary batches of a hospital chain, with real
//! GRANDPA justifications signed by the hospital chain's validators (bp-test-utils ed25519
//! keys) and real storage proofs of `Slips::Batches` (`sp_state_machine::prove_read`, as a
//! node's `state_getReadProof` builds them), to the consortium chain.
//!
//! Headers name their chain in their digest, as `pallet-chain-info` makes every block after
//! genesis do; the hospital and the platform chain may share validator keys.

use crate::{mock::*, *};
use bp_test_utils::{
	make_justification_for_header, Account, JustificationGeneratorParams, ALICE, BOB, CHARLIE,
	DAVE, EVE, FERDIE,
};
use frame_support::{assert_noop, assert_ok};
use mbds_primitives::chain_digest_item;
use pallet_slips::SummaryItem;
use sp_consensus_grandpa::{AuthorityId, ConsensusLog, ScheduledChange, GRANDPA_ENGINE_ID};
use sp_runtime::{traits::Header as _, Digest, DigestItem, DispatchError, StateVersion};
use sp_state_machine::{backend::Backend, prove_read, InMemoryBackend};

/// The hospital chain of the stories.
const HOSPITAL: ChainId = 7;
/// A platform chain, registered in some stories.
const PLATFORM: ChainId = 8;
/// Anyone may relay.
const RELAYER: u64 = 42;
const PATIENT: u64 = 3;
const OTHER_PATIENT: u64 = 6;
/// Set id of the hospital's first GRANDPA authority set as registered.
const SET_ID: SetId = 1;

type Item = SummaryItemOf<Test>;
type Justification = JustificationOf<Test>;

/// The hospital chain's validators (4: one faulty tolerated, threshold 3).
fn validators() -> Vec<Account> {
	vec![ALICE, BOB, CHARLIE, DAVE]
}

/// The validators after the hand-off.
fn next_validators() -> Vec<Account> {
	vec![EVE, FERDIE, Account(6), Account(7)]
}

fn authority_list(keys: &[Account]) -> AuthorityList {
	keys.iter().map(|k| (AuthorityId::from(*k), 1)).collect()
}

fn item(chain_id: ChainId, patient: u64, keyword: u8, slip_id: u64) -> Item {
	SummaryItem {
		patient,
		encrypted_keyword: BoundedVec::truncate_from(vec![keyword; 40]),
		record_hash: H256::repeat_byte(keyword),
		categories: BoundedVec::truncate_from(vec![u32::from(keyword)]),
		chain_id,
		block_number: 3,
		slip_id,
	}
}

/// Three items of the hospital: two keywords of one slip of `PATIENT`, one of `OTHER_PATIENT`.
fn three_items(seed: u8) -> Vec<Item> {
	vec![
		item(HOSPITAL, PATIENT, seed, seed as u64),
		item(HOSPITAL, PATIENT, seed.wrapping_add(1), seed as u64),
		item(HOSPITAL, OTHER_PATIENT, seed.wrapping_add(2), seed as u64 + 1),
	]
}

/// The record `pallet-slips` keeps for a closed batch over `items`.
fn batch_record(chain_id: ChainId, items: &[Item]) -> BatchInfo<u64> {
	BatchInfo {
		root: summary_root(items),
		item_count: items.len() as u32,
		chain_id,
		opened_at: 2,
		closed_at: 12,
		closed_at_ms: 1_700_000_060_000,
	}
}

/// The state of a private chain whose slip ledger holds these closed batches (plus unrelated
/// keys, so proofs go through branch nodes as on a real chain).
fn private_state(batches: &[(BatchId, BatchInfo<u64>)]) -> InMemoryBackend<BlakeTwo256> {
	let mut entries: Vec<(Vec<u8>, Option<Vec<u8>>)> = batches
		.iter()
		.map(|(id, info)| (pallet_slips::Batches::<Test>::hashed_key_for(id), Some(info.encode())))
		.collect();
	for i in 0u32..64 {
		entries.push((BlakeTwo256::hash(&i.encode()).as_ref().to_vec(), Some(vec![i as u8; 40])));
	}
	InMemoryBackend::<BlakeTwo256>::from((vec![(None, entries)], StateVersion::V1))
}

fn state_root(state: &InMemoryBackend<BlakeTwo256>) -> H256 {
	state.storage_root(core::iter::empty(), StateVersion::V1).0
}

/// The read proof of batch `batch_id`'s record in `state`.
fn batch_proof(state: &InMemoryBackend<BlakeTwo256>, batch_id: BatchId) -> RawStorageProof {
	let key = pallet_slips::Batches::<Test>::hashed_key_for(batch_id);
	prove_read(state.clone(), [key]).expect("in-memory proof").into_nodes().into_iter().collect()
}

/// Header `number` of a private chain with this state root and exactly this digest.
fn bare_header(number: u64, state_root: H256, logs: Vec<DigestItem>) -> PrivateHeader {
	PrivateHeader::new(
		number,
		H256::repeat_byte(0xE0),
		state_root,
		H256::from_low_u64_be(number.saturating_sub(1)),
		Digest { logs },
	)
}

/// Header `number` of private chain `chain` with this state root and these further digest
/// items. As on a real chain, it names its chain first, unless it is the genesis header.
fn header_of(
	chain: ChainId,
	number: u64,
	state_root: H256,
	logs: Vec<DigestItem>,
) -> PrivateHeader {
	let naming = (number > 0).then(|| chain_digest_item(chain));
	bare_header(number, state_root, naming.into_iter().chain(logs).collect())
}

/// Header `number` of the hospital chain with this state root and further digest items.
fn header_with(number: u64, state_root: H256, logs: Vec<DigestItem>) -> PrivateHeader {
	header_of(HOSPITAL, number, state_root, logs)
}

fn header(number: u64, state_root: H256) -> PrivateHeader {
	header_with(number, state_root, vec![])
}

/// A GRANDPA justification of `header`: precommits of `signers` in round 1 of set `set_id`.
fn justify(header: &PrivateHeader, signers: &[Account], set_id: SetId) -> Justification {
	make_justification_for_header(JustificationGeneratorParams {
		header: header.clone(),
		round: 1,
		set_id,
		authorities: signers.iter().map(|k| (*k, 1)).collect(),
		ancestors: 2,
		forks: 1,
	})
}

/// The justification the hospital's validators give: a threshold of them, current set.
fn finalised(header: &PrivateHeader) -> Justification {
	justify(header, &validators()[..3], SET_ID)
}

fn scheduled_change(next: &[Account], delay: u64) -> DigestItem {
	DigestItem::Consensus(
		GRANDPA_ENGINE_ID,
		ConsensusLog::<u64>::ScheduledChange(ScheduledChange {
			next_authorities: authority_list(next),
			delay,
		})
		.encode(),
	)
}

/// Governance registers the hospital chain at its genesis with its validators.
fn register_hospital() {
	assert_ok!(Anchor::register_chain(
		RuntimeOrigin::root(),
		HOSPITAL,
		Box::new(header(0, H256::zero())),
		authority_list(&validators()),
		SET_ID,
	));
}

/// Governance registers the platform chain at its genesis with the hospital's validator keys
/// and set id, as the local presets do.
fn register_platform_with_shared_keys() {
	assert_ok!(Anchor::register_chain(
		RuntimeOrigin::root(),
		PLATFORM,
		Box::new(bare_header(0, H256::repeat_byte(0xB0), vec![])),
		authority_list(&validators()),
		SET_ID,
	));
}

/// A relayer imports `header` of `chain_id` with `justification`.
fn relay_header(
	chain_id: ChainId,
	header: &PrivateHeader,
	justification: Justification,
) -> DispatchResult {
	Anchor::import_header(
		RuntimeOrigin::signed(RELAYER),
		chain_id,
		Box::new(header.clone()),
		justification,
	)
}

fn submit(
	chain_id: ChainId,
	header: &PrivateHeader,
	justification: Option<Justification>,
	batch_id: BatchId,
	items: Vec<Item>,
	proof: RawStorageProof,
) -> DispatchResultWithPostInfo {
	Anchor::submit_summary(
		RuntimeOrigin::signed(RELAYER),
		chain_id,
		Box::new(header.clone()),
		justification,
		batch_id,
		items,
		proof,
	)
}

/// Hospital registered; its state at block 5 holds batch 0 (three items); returns that state,
/// header #5 and the items. Nothing anchored yet.
fn hospital_with_batch_0() -> (InMemoryBackend<BlakeTwo256>, PrivateHeader, Vec<Item>) {
	register_hospital();
	let items = three_items(1);
	let state = private_state(&[(0, batch_record(HOSPITAL, &items))]);
	let header = header(5, state_root(&state));
	(state, header, items)
}

fn err(e: Error<Test>) -> DispatchError {
	e.into()
}

#[test]
fn governance_registers_a_hospital_chain_with_its_validators() {
	new_test_ext().execute_with(|| {
		let genesis = header(0, H256::repeat_byte(9));
		assert_noop!(
			Anchor::register_chain(
				RuntimeOrigin::signed(RELAYER),
				HOSPITAL,
				Box::new(genesis.clone()),
				authority_list(&validators()),
				SET_ID,
			),
			DispatchError::BadOrigin
		);
		assert_ok!(Anchor::register_chain(
			RuntimeOrigin::root(),
			HOSPITAL,
			Box::new(genesis.clone()),
			authority_list(&validators()),
			SET_ID,
		));
		System::assert_last_event(
			Event::ChainRegistered {
				chain_id: HOSPITAL,
				number: 0,
				hash: genesis.hash(),
				set_id: SET_ID,
			}
			.into(),
		);
		assert_eq!(Anchor::anchored(HOSPITAL), Some((0, 0)));
		assert!(Anchor::is_imported(HOSPITAL, genesis.hash()));
		let info = Anchor::light_client(HOSPITAL).unwrap();
		assert_eq!(info.set_id, SET_ID);
		assert_eq!(info.authorities, authority_list(&validators()));
		assert_eq!(info.best_finalized.state_root, H256::repeat_byte(9));
		assert_eq!(Anchor::anchored(PLATFORM), None);

		assert_noop!(
			Anchor::register_chain(
				RuntimeOrigin::root(),
				HOSPITAL,
				Box::new(genesis.clone()),
				authority_list(&validators()),
				SET_ID,
			),
			err(Error::ChainAlreadyRegistered)
		);
	});
}

#[test]
fn governance_cannot_register_an_unusable_authority_set() {
	new_test_ext().execute_with(|| {
		let genesis = Box::new(header(0, H256::zero()));
		let register = |authorities: AuthorityList| {
			Anchor::register_chain(RuntimeOrigin::root(), PLATFORM, genesis.clone(), authorities, 0)
		};
		assert_noop!(register(vec![]), err(Error::InvalidAuthoritySet));
		let zero_weight = vec![(AuthorityId::from(ALICE), 0)];
		assert_noop!(register(zero_weight), err(Error::InvalidAuthoritySet));
		assert_noop!(
			register(authority_list(&[ALICE, BOB, ALICE])),
			err(Error::InvalidAuthoritySet)
		);
		let too_many: Vec<Account> = (0..=MAX_AUTHORITIES as u16).map(Account).collect();
		assert_noop!(register(authority_list(&too_many)), err(Error::TooManyAuthorities));
	});
}

#[test]
fn a_finalised_batch_becomes_consortium_slips_indexed_by_patient() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		System::set_block_number(3);

		assert_ok!(submit(
			HOSPITAL,
			&header,
			Some(finalised(&header)),
			0,
			items.clone(),
			batch_proof(&state, 0)
		));

		System::assert_has_event(
			Event::HeaderImported { chain_id: HOSPITAL, number: 5, hash: header.hash() }.into(),
		);
		System::assert_last_event(
			Event::SummaryAnchored {
				chain_id: HOSPITAL,
				batch_id: 0,
				items: 3,
				first_slip: 0,
				slips: 1,
				relayer: RELAYER,
			}
			.into(),
		);
		let slip = ConsortiumSlips::<Test>::get(0).unwrap();
		assert_eq!(slip.chain_id, HOSPITAL);
		assert_eq!(slip.batch_id, 0);
		assert_eq!(slip.anchored_at, 3);
		assert_eq!(slip.items.to_vec(), items);
		// The relayer resumes from here: next batch 1, best finalised #5.
		assert_eq!(Anchor::anchored(HOSPITAL), Some((1, 5)));
		assert_eq!(Anchor::light_client(HOSPITAL).unwrap().best_finalized.hash, header.hash());

		// A search for the patient touches the patient's two items only.
		assert_eq!(Anchor::patient_summary_count(&PATIENT), 2);
		let found = Anchor::summaries_of(&PATIENT, None);
		assert_eq!(found.iter().map(|s| s.item.clone()).collect::<Vec<_>>(), items[..2].to_vec());
		assert_eq!(found[1].slip, 0);
		assert_eq!(found[1].batch_id, 0);
		assert_eq!(found[1].position, 1);
		let other = Anchor::summaries_of(&OTHER_PATIENT, None);
		assert_eq!(other.len(), 1);
		assert_eq!(other[0].item, items[2]);
		assert!(Anchor::summaries_of(&RELAYER, None).is_empty());

		// The consortium vouches for each patient's record categories (what category-scoped
		// grants are checked against).
		for item in &items {
			let categories =
				<Anchor as RecordRegistry<u64>>::categories(&item.patient, &item.record_hash);
			assert_eq!(categories, Some(item.categories.clone()));
		}
		assert_eq!(
			<Anchor as RecordRegistry<u64>>::categories(&PATIENT, &H256::repeat_byte(0xEE)),
			None
		);
		assert_eq!(
			<Anchor as RecordRegistry<u64>>::categories(&OTHER_PATIENT, &items[0].record_hash),
			None
		);
	});
}

fn labelled(chain_id: ChainId, patient: u64, label: u8, slip_id: u64) -> Item {
	let mut item = item(chain_id, patient, label, slip_id);
	item.encrypted_keyword =
		BoundedVec::truncate_from(mbds_primitives::index_label_keyword(&[label; 32]).to_vec());
	item
}

#[test]
fn labelled_items_enter_their_patients_searchable_index_and_a_lookup_costs_the_labels_asked() {
	new_test_ext().execute_with(|| {
		register_hospital();
		register_platform_with_shared_keys();
		// The platform saw PATIENT's label 0xA1 on its way and anchors it first, on a record
		// of its own making: it must not hide the hospital's real record.
		let rogue = vec![labelled(PLATFORM, PATIENT, 0xA1, 9)];
		let rogue_state = private_state(&[(0, batch_record(PLATFORM, &rogue))]);
		let rogue_header = header_of(PLATFORM, 5, state_root(&rogue_state), vec![]);
		System::set_block_number(2);
		assert_ok!(submit(
			PLATFORM,
			&rogue_header,
			Some(finalised(&rogue_header)),
			0,
			rogue.clone(),
			batch_proof(&rogue_state, 0)
		));
		// The hospital: slip 1 of PATIENT with two labelled keywords; slip 2: a label again
		// (the chain's first item keeps it) and one dPEKS-era keyword; OTHER_PATIENT's slip 3
		// uses a label PATIENT also has.
		let items = vec![
			labelled(HOSPITAL, PATIENT, 0xA1, 1),
			labelled(HOSPITAL, PATIENT, 0xA2, 1),
			labelled(HOSPITAL, PATIENT, 0xA1, 2),
			item(HOSPITAL, PATIENT, 7, 2),
			labelled(HOSPITAL, OTHER_PATIENT, 0xA2, 3),
		];
		let state = private_state(&[(0, batch_record(HOSPITAL, &items))]);
		let header = header(5, state_root(&state));
		System::set_block_number(3);
		assert_ok!(submit(
			HOSPITAL,
			&header,
			Some(finalised(&header)),
			0,
			items.clone(),
			batch_proof(&state, 0)
		));

		// PATIENT's positions: 0 the platform's, 1..=4 the hospital's.
		assert_eq!(
			IndexEntries::<Test>::get(PATIENT, [0xA1; 32]).to_vec(),
			vec![(PLATFORM, 0), (HOSPITAL, 1)]
		);
		assert_eq!(IndexEntries::<Test>::get(PATIENT, [0xA2; 32]).to_vec(), vec![(HOSPITAL, 2)]);
		assert_eq!(
			IndexEntries::<Test>::get(OTHER_PATIENT, [0xA2; 32]).to_vec(),
			vec![(HOSPITAL, 0)]
		);
		assert_eq!(IndexEntries::<Test>::iter().count(), 3);
		assert_eq!(Anchor::unindexed_count(&PATIENT), 1);
		assert_eq!(Anchor::unindexed_count(&OTHER_PATIENT), 0);

		let found = Anchor::lookup_labels(&PATIENT, &[[0xA2; 32], [0xEE; 32], [0xA1; 32]]);
		let slips = |v: &Vec<AnchoredSummaryOf<Test>>| {
			v.iter().map(|s| (s.item.chain_id, s.item.slip_id, s.position)).collect::<Vec<_>>()
		};
		assert_eq!(found.len(), 3);
		assert_eq!(slips(&found[0]), vec![(HOSPITAL, 1, 2)]);
		assert_eq!(found[0][0].item, items[1]);
		assert!(found[1].is_empty());
		// The real record is found beside the rogue chain's.
		assert_eq!(slips(&found[2]), vec![(PLATFORM, 9, 0), (HOSPITAL, 1, 1)]);
		// Another patient's label finds nothing in this patient's index, and the reverse.
		let other = Anchor::lookup_labels(&OTHER_PATIENT, &[[0xA1; 32], [0xA2; 32]]);
		assert!(other[0].is_empty());
		assert_eq!(slips(&other[1]), vec![(HOSPITAL, 3, 0)]);
		// At most 256 labels a lookup.
		assert_eq!(Anchor::lookup_labels(&PATIENT, &vec![[0xA1; 32]; 300]).len(), 256);
		assert_ok!(Anchor::do_try_state());

		// Corruptions are caught by the invariants: an entry at an item without its label, a
		// second entry of one chain, a missing entry, a wrong count.
		let entries = |e: Vec<(ChainId, u32)>| LabelEntries::truncate_from(e);
		for broken in [
			entries(vec![(HOSPITAL, 4)]),
			entries(vec![(HOSPITAL, 2), (HOSPITAL, 2)]),
			entries(vec![(PLATFORM, 2)]),
		] {
			IndexEntries::<Test>::insert(PATIENT, [0xA2; 32], broken);
			assert!(Anchor::do_try_state().is_err());
		}
		IndexEntries::<Test>::remove(PATIENT, [0xA2; 32]);
		assert!(Anchor::do_try_state().is_err());
		IndexEntries::<Test>::insert(PATIENT, [0xA2; 32], entries(vec![(HOSPITAL, 2)]));
		UnindexedItemCount::<Test>::insert(PATIENT, 2);
		assert!(Anchor::do_try_state().is_err());
		UnindexedItemCount::<Test>::insert(PATIENT, 1);
		assert_ok!(Anchor::do_try_state());
	});
}

#[test]
fn the_upgrade_indexes_items_anchored_before_it() {
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	new_test_ext().execute_with(|| {
		register_hospital();
		// Anchored by the spec-106 runtime: one labelled item (a private chain upgraded
		// first), two dPEKS ones; no index yet, the pallet at storage version 1.
		let items = vec![
			labelled(HOSPITAL, PATIENT, 0xA1, 1),
			item(HOSPITAL, PATIENT, 7, 2),
			item(HOSPITAL, OTHER_PATIENT, 8, 3),
		];
		let state = private_state(&[(0, batch_record(HOSPITAL, &items))]);
		let header = header(5, state_root(&state));
		assert_ok!(submit(
			HOSPITAL,
			&header,
			Some(finalised(&header)),
			0,
			items,
			batch_proof(&state, 0)
		));
		let _ = IndexEntries::<Test>::clear(u32::MAX, None);
		let _ = UnindexedItemCount::<Test>::clear(u32::MAX, None);
		StorageVersion::new(1).put::<Anchor>();

		crate::migrations::v2::IndexAnchored::<Test>::on_runtime_upgrade();
		assert_eq!(Anchor::on_chain_storage_version(), 2);
		assert_eq!(IndexEntries::<Test>::get(PATIENT, [0xA1; 32]).to_vec(), vec![(HOSPITAL, 0)]);
		assert_eq!(Anchor::unindexed_count(&PATIENT), 1);
		assert_eq!(Anchor::unindexed_count(&OTHER_PATIENT), 1);
		assert_ok!(Anchor::do_try_state());
		// Once only.
		let before = sp_io::storage::root(sp_runtime::StateVersion::V1);
		crate::migrations::v2::IndexAnchored::<Test>::on_runtime_upgrade();
		assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), before);
	});
}

/// Hole 10: a record's categories are the ones its patient confirmed. A later slip naming the
/// same record hash with other categories (a doctor, or a rogue institution's chain,
/// re-labelling it) can only add categories, which narrows who a category grant lets read it;
/// one naming it for another patient is that patient's entry only.
#[test]
fn a_record_anchored_again_can_only_narrow_its_category_scope() {
	new_test_ext().execute_with(|| {
		register_hospital();
		let first = three_items(1);
		let mut relabelled = item(HOSPITAL, PATIENT, 9, 9);
		relabelled.record_hash = first[0].record_hash;
		relabelled.categories = BoundedVec::truncate_from(vec![0xFF00_0001]);
		let mut for_other = relabelled.clone();
		for_other.patient = OTHER_PATIENT;
		let second = vec![relabelled, for_other.clone()];
		let state = private_state(&[
			(0, batch_record(HOSPITAL, &first)),
			(1, batch_record(HOSPITAL, &second)),
		]);
		let header = header(5, state_root(&state));
		assert_ok!(submit(
			HOSPITAL,
			&header,
			Some(finalised(&header)),
			0,
			first.clone(),
			batch_proof(&state, 0)
		));
		let hash = first[0].record_hash;
		assert_eq!(
			<Anchor as RecordRegistry<u64>>::categories(&PATIENT, &hash),
			Some(first[0].categories.clone())
		);
		assert_ok!(submit(HOSPITAL, &header, None, 1, second, batch_proof(&state, 1)));

		let mut union = first[0].categories.to_vec();
		union.push(0xFF00_0001);
		union.sort();
		assert_eq!(
			<Anchor as RecordRegistry<u64>>::categories(&PATIENT, &hash).map(|c| c.to_vec()),
			Some(union)
		);
		assert_eq!(
			<Anchor as RecordRegistry<u64>>::categories(&OTHER_PATIENT, &hash),
			Some(for_other.categories)
		);
	});
}

/// A record named again until its categories no longer fit is marked uncoverable (no category
/// grant covers it); categories of later items may join the marker, which stays, and the
/// pallet's invariants hold throughout (`new_test_ext` checks them after the test).
#[test]
fn a_record_whose_categories_overflow_stays_uncoverable() {
	use mbds_primitives::consent::{MAX_SCOPE_CATEGORIES, UNCOVERABLE_CATEGORY};
	new_test_ext().execute_with(|| {
		register_hospital();
		let mut full = item(HOSPITAL, PATIENT, 1, 1);
		full.categories = BoundedVec::truncate_from((1..=MAX_SCOPE_CATEGORIES).collect());
		let hash = full.record_hash;
		// Another slip naming the record: two keywords, one new category each.
		let later = |keyword: u8, category: u32| {
			let mut i = item(HOSPITAL, PATIENT, keyword, 2);
			i.record_hash = hash;
			i.categories = BoundedVec::truncate_from(vec![category]);
			i
		};
		let second = vec![later(2, 1_000), later(3, 1_001)];
		let state = private_state(&[
			(0, batch_record(HOSPITAL, &[full.clone()])),
			(1, batch_record(HOSPITAL, &second)),
		]);
		let header = header(5, state_root(&state));
		assert_ok!(submit(
			HOSPITAL,
			&header,
			Some(finalised(&header)),
			0,
			vec![full],
			batch_proof(&state, 0)
		));
		assert_ok!(submit(HOSPITAL, &header, None, 1, second, batch_proof(&state, 1)));
		let known = <Anchor as RecordRegistry<u64>>::categories(&PATIENT, &hash).unwrap();
		assert!(known.contains(&UNCOVERABLE_CATEGORY), "{known:?}");
		let scope = mbds_primitives::consent::GrantScope::Categories(BoundedVec::truncate_from(
			(1..=MAX_SCOPE_CATEGORIES).collect(),
		));
		assert!(!scope.covers(&mbds_primitives::consent::AccessTarget::Categories(known)));
		assert_ok!(Anchor::do_try_state());
	});
}

#[test]
fn the_next_batch_is_anchored_against_an_imported_header_without_justification() {
	new_test_ext().execute_with(|| {
		register_hospital();
		let (first, second) = (three_items(1), three_items(10));
		let state = private_state(&[
			(0, batch_record(HOSPITAL, &first)),
			(1, batch_record(HOSPITAL, &second)),
		]);
		let header = header(5, state_root(&state));
		assert_ok!(submit(
			HOSPITAL,
			&header,
			Some(finalised(&header)),
			0,
			first,
			batch_proof(&state, 0)
		));

		System::set_block_number(4);
		assert_ok!(submit(HOSPITAL, &header, None, 1, second.clone(), batch_proof(&state, 1)));

		assert_eq!(Anchor::anchored(HOSPITAL), Some((2, 5)));
		assert_eq!(ConsortiumSlips::<Test>::get(1).unwrap().items.to_vec(), second);
		// Searching "since consortium block 4" returns the second batch's items only.
		let recent = Anchor::summaries_of(&PATIENT, Some(4));
		assert_eq!(recent.iter().map(|s| s.item.clone()).collect::<Vec<_>>(), second[..2].to_vec());
		assert_eq!(recent[0].position, 2);
		assert_eq!(Anchor::summaries_of(&PATIENT, Some(1)).len(), 4);
		assert!(Anchor::summaries_of(&PATIENT, Some(5)).is_empty());
	});
}

#[test]
fn forged_signatures_are_rejected() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		let mut justification = finalised(&header);
		// BOB's vote carries ALICE's signature.
		justification.commit.precommits[1].signature =
			justification.commit.precommits[0].signature.clone();

		assert_noop!(
			submit(HOSPITAL, &header, Some(justification), 0, items, batch_proof(&state, 0)),
			err(Error::InvalidSignature)
		);
	});
}

#[test]
fn votes_of_strangers_are_rejected() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		let justification = justify(&header, &[ALICE, BOB, EVE], SET_ID);

		assert_noop!(
			submit(HOSPITAL, &header, Some(justification), 0, items, batch_proof(&state, 0)),
			err(Error::UnknownAuthority)
		);
	});
}

#[test]
fn too_few_signatures_do_not_finalise() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		let justification = justify(&header, &[ALICE, BOB], SET_ID);

		assert_noop!(
			submit(HOSPITAL, &header, Some(justification), 0, items, batch_proof(&state, 0)),
			err(Error::NotEnoughSignatures)
		);
	});
}

#[test]
fn votes_for_another_authority_set_id_are_rejected() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		for set_id in [SET_ID - 1, SET_ID + 1] {
			let justification = justify(&header, &validators()[..3], set_id);
			assert_noop!(
				submit(
					HOSPITAL,
					&header,
					Some(justification),
					0,
					items.clone(),
					batch_proof(&state, 0)
				),
				err(Error::WrongAuthoritySetId)
			);
		}
	});
}

#[test]
fn a_justification_of_another_header_is_rejected() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		let other = header_with(5, header.state_root, vec![DigestItem::Other(vec![1])]);

		assert_noop!(
			submit(HOSPITAL, &header, Some(finalised(&other)), 0, items, batch_proof(&state, 0)),
			err(Error::JustificationTargetMismatch)
		);
	});
}

#[test]
fn a_header_neither_justified_nor_imported_is_not_final() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();

		assert_noop!(
			submit(HOSPITAL, &header, None, 0, items, batch_proof(&state, 0)),
			err(Error::HeaderNotImported)
		);
	});
}

#[test]
fn an_older_header_is_not_imported_again() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		let root = state_root(&state);
		assert_ok!(Anchor::import_header(
			RuntimeOrigin::signed(RELAYER),
			HOSPITAL,
			Box::new(header.clone()),
			finalised(&header)
		));
		let older = self::header(4, root);

		assert_noop!(
			submit(HOSPITAL, &older, Some(finalised(&older)), 0, items, batch_proof(&state, 0)),
			err(Error::OldHeader)
		);
	});
}

#[test]
fn a_tampered_item_does_not_match_the_batch_root() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		let justification = finalised(&header);
		let proof = batch_proof(&state, 0);
		let submit_items = |items: Vec<Item>| {
			submit(HOSPITAL, &header, Some(justification.clone()), 0, items, proof.clone())
		};

		let mut tampered = items.clone();
		tampered[1].record_hash = H256::repeat_byte(0xBA);
		assert_noop!(submit_items(tampered), err(Error::BatchRootMismatch));

		let mut reordered = items.clone();
		reordered.swap(0, 2);
		assert_noop!(submit_items(reordered), err(Error::BatchRootMismatch));

		assert_noop!(submit_items(items[..2].to_vec()), err(Error::ItemCountMismatch));
		assert_noop!(submit_items(vec![]), err(Error::NoItems));
	});
}

#[test]
fn a_proof_of_another_value_or_state_is_rejected() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		let justification = finalised(&header);

		// The header's state holds another batch 0 (other items): the proof is valid, the
		// items are not that batch's.
		let other_items = three_items(50);
		let other_state = private_state(&[(0, batch_record(HOSPITAL, &other_items))]);
		let other_header = self::header(5, state_root(&other_state));
		assert_noop!(
			submit(
				HOSPITAL,
				&other_header,
				Some(finalised(&other_header)),
				0,
				items.clone(),
				batch_proof(&other_state, 0)
			),
			err(Error::BatchRootMismatch)
		);

		// A proof from another state than the header's.
		assert_noop!(
			submit(
				HOSPITAL,
				&header,
				Some(justification.clone()),
				0,
				items.clone(),
				batch_proof(&other_state, 0)
			),
			err(Error::InvalidStorageProof)
		);

		// The proof carries nodes the read does not need.
		let mut padded = batch_proof(&state, 0);
		padded.extend(batch_proof(&private_state(&[]), 3));
		padded.sort();
		padded.dedup();
		assert_noop!(
			submit(HOSPITAL, &header, Some(justification.clone()), 0, items.clone(), padded),
			err(Error::UnusedProofNodes)
		);

		// The batch is not closed in that state (a proof of absence).
		let empty = private_state(&[]);
		let early = self::header(5, state_root(&empty));
		assert_noop!(
			submit(
				HOSPITAL,
				&early,
				Some(finalised(&early)),
				0,
				items.clone(),
				batch_proof(&empty, 0)
			),
			err(Error::BatchNotInState)
		);

		// A record of another chain's batch.
		let foreign = private_state(&[(0, batch_record(PLATFORM, &items))]);
		let foreign_header = self::header(5, state_root(&foreign));
		assert_noop!(
			submit(
				HOSPITAL,
				&foreign_header,
				Some(finalised(&foreign_header)),
				0,
				items,
				batch_proof(&foreign, 0)
			),
			err(Error::WrongSourceChain)
		);
	});
}

#[test]
fn a_replayed_batch_is_rejected() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		let justification = finalised(&header);
		assert_ok!(submit(
			HOSPITAL,
			&header,
			Some(justification.clone()),
			0,
			items.clone(),
			batch_proof(&state, 0)
		));

		// The same extrinsic again, and the same batch against the imported header.
		assert_noop!(
			submit(
				HOSPITAL,
				&header,
				Some(justification),
				0,
				items.clone(),
				batch_proof(&state, 0)
			),
			err(Error::BatchAlreadyAnchored)
		);
		assert_noop!(
			submit(HOSPITAL, &header, None, 0, items, batch_proof(&state, 0)),
			err(Error::BatchAlreadyAnchored)
		);
		assert_eq!(NextConsortiumSlipId::<Test>::get(), 1);
		assert_eq!(Anchor::patient_summary_count(&PATIENT), 2);
	});
}

#[test]
fn a_skipped_batch_is_rejected() {
	new_test_ext().execute_with(|| {
		register_hospital();
		let (first, second) = (three_items(1), three_items(10));
		let state = private_state(&[
			(0, batch_record(HOSPITAL, &first)),
			(1, batch_record(HOSPITAL, &second)),
		]);
		let header = header(5, state_root(&state));

		assert_noop!(
			submit(HOSPITAL, &header, Some(finalised(&header)), 1, second, batch_proof(&state, 1)),
			err(Error::BatchSkipped)
		);
	});
}

#[test]
fn batches_of_unregistered_chains_are_rejected() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();

		assert_noop!(
			submit(PLATFORM, &header, Some(finalised(&header)), 0, items, batch_proof(&state, 0)),
			err(Error::UnknownChain)
		);
	});
}

#[test]
fn the_light_client_follows_an_authority_hand_off() {
	new_test_ext().execute_with(|| {
		register_hospital();
		// Block 5 schedules the hand-off to the next validators; the current set finalises it.
		let handoff =
			header_with(5, H256::repeat_byte(5), vec![scheduled_change(&next_validators(), 0)]);
		assert_ok!(Anchor::import_header(
			RuntimeOrigin::signed(RELAYER),
			HOSPITAL,
			Box::new(handoff.clone()),
			finalised(&handoff)
		));
		System::assert_last_event(
			Event::AuthoritySetChanged { chain_id: HOSPITAL, set_id: SET_ID + 1, authorities: 4 }
				.into(),
		);
		let info = Anchor::light_client(HOSPITAL).unwrap();
		assert_eq!(
			(info.set_id, info.authorities),
			(SET_ID + 1, authority_list(&next_validators()))
		);

		// Block 6 carries batch 0. The old validators can no longer finalise it, whatever set id
		// they sign for...
		let items = three_items(1);
		let state = private_state(&[(0, batch_record(HOSPITAL, &items))]);
		let after = header(6, state_root(&state));
		for set_id in [SET_ID, SET_ID + 1] {
			assert_noop!(
				submit(
					HOSPITAL,
					&after,
					Some(justify(&after, &validators()[..3], set_id)),
					0,
					items.clone(),
					batch_proof(&state, 0)
				),
				err(Error::UnknownAuthority)
			);
		}
		// ... the new validators signing for the old set id are refused too ...
		assert_noop!(
			submit(
				HOSPITAL,
				&after,
				Some(justify(&after, &next_validators()[..3], SET_ID)),
				0,
				items.clone(),
				batch_proof(&state, 0)
			),
			err(Error::WrongAuthoritySetId)
		);
		// ... and the new set finalises it.
		assert_ok!(submit(
			HOSPITAL,
			&after,
			Some(justify(&after, &next_validators()[..3], SET_ID + 1)),
			0,
			items,
			batch_proof(&state, 0)
		));
		assert_eq!(Anchor::anchored(HOSPITAL), Some((1, 6)));
	});
}

#[test]
fn a_header_after_a_missed_hand_off_is_rejected() {
	new_test_ext().execute_with(|| {
		register_hospital();
		// The relayer skipped block 5 (the hand-off): block 6 is signed by the next set, which
		// the light client does not know yet.
		let after = header(6, H256::repeat_byte(6));
		assert_noop!(
			Anchor::import_header(
				RuntimeOrigin::signed(RELAYER),
				HOSPITAL,
				Box::new(after.clone()),
				justify(&after, &next_validators()[..3], SET_ID + 1)
			),
			err(Error::UnknownAuthority)
		);
	});
}

#[test]
fn forced_and_delayed_authority_changes_need_governance() {
	new_test_ext().execute_with(|| {
		register_hospital();
		let forced = DigestItem::Consensus(
			GRANDPA_ENGINE_ID,
			ConsensusLog::<u64>::ForcedChange(
				0,
				ScheduledChange { next_authorities: authority_list(&next_validators()), delay: 0 },
			)
			.encode(),
		);
		for (log, error) in [
			(forced, Error::UnsupportedForcedChange),
			(scheduled_change(&next_validators(), 2), Error::UnsupportedScheduledChange),
		] {
			let h = header_with(5, H256::repeat_byte(5), vec![log]);
			assert_noop!(
				Anchor::import_header(
					RuntimeOrigin::signed(RELAYER),
					HOSPITAL,
					Box::new(h.clone()),
					finalised(&h)
				),
				err(error)
			);
		}
	});
}

#[test]
fn only_the_last_imported_headers_are_usable_without_justification() {
	new_test_ext().execute_with(|| {
		let (state, first, items) = hospital_with_batch_0();
		assert_ok!(Anchor::import_header(
			RuntimeOrigin::signed(RELAYER),
			HOSPITAL,
			Box::new(first.clone()),
			finalised(&first)
		));
		// HEADERS_TO_KEEP more headers (genesis already took a slot) push block 5 out.
		for n in 6..6 + HEADERS_TO_KEEP as u64 {
			let h = header(n, H256::repeat_byte(n as u8));
			assert_ok!(Anchor::import_header(
				RuntimeOrigin::signed(RELAYER),
				HOSPITAL,
				Box::new(h.clone()),
				finalised(&h)
			));
		}
		assert!(!Anchor::is_imported(HOSPITAL, first.hash()));
		assert_eq!(
			ImportedHeaders::<Test>::iter_prefix(HOSPITAL).count(),
			HEADERS_TO_KEEP as usize
		);

		assert_noop!(
			submit(HOSPITAL, &first, None, 0, items, batch_proof(&state, 0)),
			err(Error::HeaderNotImported)
		);
	});
}

#[test]
fn governance_reinitialises_a_light_client_and_numbering_continues() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		assert_ok!(submit(
			HOSPITAL,
			&header,
			Some(finalised(&header)),
			0,
			items.clone(),
			batch_proof(&state, 0)
		));

		let restart = self::header(100, H256::repeat_byte(100));
		assert_noop!(
			Anchor::reset_light_client(
				RuntimeOrigin::signed(RELAYER),
				HOSPITAL,
				Box::new(restart.clone()),
				authority_list(&next_validators()),
				7
			),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Anchor::reset_light_client(
				RuntimeOrigin::root(),
				PLATFORM,
				Box::new(restart.clone()),
				authority_list(&next_validators()),
				7
			),
			err(Error::UnknownChain)
		);
		assert_ok!(Anchor::reset_light_client(
			RuntimeOrigin::root(),
			HOSPITAL,
			Box::new(restart.clone()),
			authority_list(&next_validators()),
			7
		));

		assert!(!Anchor::is_imported(HOSPITAL, header.hash()));
		assert!(Anchor::is_imported(HOSPITAL, restart.hash()));
		assert_eq!(Anchor::anchored(HOSPITAL), Some((1, 100)));
		assert_eq!(Anchor::light_client(HOSPITAL).unwrap().set_id, 7);
		// Batch 0 stays anchored once.
		assert_noop!(
			submit(HOSPITAL, &header, None, 0, items, batch_proof(&state, 0)),
			err(Error::BatchAlreadyAnchored)
		);
	});
}

#[test]
fn oversized_justifications_and_proofs_are_refused_early() {
	new_test_ext().execute_with(|| {
		let (state, header, items) = hospital_with_batch_0();
		let mut long = justify(&header, &validators()[..3], SET_ID);
		long.votes_ancestries =
			(0..=MAX_VOTES_ANCESTRIES as u64).map(|n| self::header(6 + n, H256::zero())).collect();
		assert_noop!(
			submit(HOSPITAL, &header, Some(long), 0, items.clone(), batch_proof(&state, 0)),
			err(Error::JustificationTooLarge)
		);

		let huge: RawStorageProof =
			(0..=MAX_STORAGE_PROOF_NODES).map(|i| vec![i as u8; 8]).collect();
		assert_noop!(
			submit(HOSPITAL, &header, Some(finalised(&header)), 0, items, huge),
			err(Error::StorageProofTooLarge)
		);
	});
}

#[test]
fn the_call_weight_depends_on_items_and_precommits() {
	new_test_ext().execute_with(|| {
		let header = header(5, H256::zero());
		let j = finalised(&header);
		let with = Anchor::submit_summary_weight(3, Some(&j));
		assert_eq!(with, <() as WeightInfo>::submit_summary(3, 3));
		assert_eq!(
			Anchor::submit_summary_weight(3, None),
			<() as WeightInfo>::submit_summary_imported(3)
		);
		// Item counts beyond a batch are weighed as a full batch (and rejected).
		assert_eq!(
			Anchor::submit_summary_weight(10_000, None),
			<() as WeightInfo>::submit_summary_imported(MAX_ITEMS)
		);
	});
}

#[test]
fn a_platform_header_finalised_by_shared_keys_is_refused_by_the_hospital_light_client() {
	new_test_ext().execute_with(|| {
		register_hospital();
		register_platform_with_shared_keys();
		// The platform finalises its block 5, holding its batch 0: the header names the
		// platform, the justification is signed by the keys both chains trust, for the set id
		// both light clients are at.
		let platform_items = vec![item(PLATFORM, PATIENT, 1, 1)];
		let platform_state = private_state(&[(0, batch_record(PLATFORM, &platform_items))]);
		let platform_header = header_of(PLATFORM, 5, state_root(&platform_state), vec![]);
		let justification = finalised(&platform_header);

		// Relayed into the hospital's light client, it is refused by every call, before
		// anything is written (`assert_noop` compares the storage roots).
		assert_noop!(
			relay_header(HOSPITAL, &platform_header, justification.clone()),
			err(Error::HeaderOfAnotherChain)
		);
		for justification in [Some(justification.clone()), None] {
			assert_noop!(
				submit(
					HOSPITAL,
					&platform_header,
					justification,
					0,
					platform_items.clone(),
					batch_proof(&platform_state, 0)
				),
				err(Error::HeaderOfAnotherChain)
			);
		}
		assert!(!Anchor::is_imported(HOSPITAL, platform_header.hash()));
		assert_eq!(Anchor::anchored(HOSPITAL), Some((0, 0)));

		// The justification is genuine: the platform's own light client takes it.
		assert_ok!(submit(
			PLATFORM,
			&platform_header,
			Some(justification),
			0,
			platform_items,
			batch_proof(&platform_state, 0)
		));
		assert_eq!(Anchor::anchored(PLATFORM), Some((1, 5)));

		// The hospital's own block 5, naming the hospital, is anchored as always.
		let items = three_items(1);
		let state = private_state(&[(0, batch_record(HOSPITAL, &items))]);
		let header = header(5, state_root(&state));
		assert_ok!(submit(
			HOSPITAL,
			&header,
			Some(finalised(&header)),
			0,
			items,
			batch_proof(&state, 0)
		));
		assert_eq!(Anchor::anchored(HOSPITAL), Some((1, 5)));
		assert!(Anchor::is_imported(HOSPITAL, header.hash()));
	});
}

#[test]
fn a_platform_authority_hand_off_relayed_to_the_hospital_is_refused() {
	new_test_ext().execute_with(|| {
		register_hospital();
		register_platform_with_shared_keys();
		// The platform's block 5 hands its finality over to other validators; the shared keys
		// finalise it.
		let platform_items = vec![item(PLATFORM, PATIENT, 1, 1)];
		let platform_state = private_state(&[(0, batch_record(PLATFORM, &platform_items))]);
		let handoff = header_of(
			PLATFORM,
			5,
			state_root(&platform_state),
			vec![scheduled_change(&next_validators(), 0)],
		);
		let justification = finalised(&handoff);

		// Relayed to the hospital, alone or with a batch, it is refused and changes nothing.
		assert_noop!(
			relay_header(HOSPITAL, &handoff, justification.clone()),
			err(Error::HeaderOfAnotherChain)
		);
		assert_noop!(
			submit(
				HOSPITAL,
				&handoff,
				Some(justification.clone()),
				0,
				platform_items,
				batch_proof(&platform_state, 0)
			),
			err(Error::HeaderOfAnotherChain)
		);
		let info = Anchor::light_client(HOSPITAL).unwrap();
		assert_eq!((info.set_id, info.authorities), (SET_ID, authority_list(&validators())));

		// The platform's light client follows its own hand-off...
		assert_ok!(relay_header(PLATFORM, &handoff, justification));
		assert_eq!(Anchor::light_client(PLATFORM).unwrap().set_id, SET_ID + 1);

		// ... and the hospital's validators still finalise the hospital's blocks (with the
		// hand-off relayed, this failed with `WrongAuthoritySetId`).
		let items = three_items(1);
		let state = private_state(&[(0, batch_record(HOSPITAL, &items))]);
		let after = header(6, state_root(&state));
		assert_ok!(submit(
			HOSPITAL,
			&after,
			Some(finalised(&after)),
			0,
			items,
			batch_proof(&state, 0)
		));
		assert_eq!(Anchor::anchored(HOSPITAL), Some((1, 6)));
		assert_eq!(Anchor::light_client(HOSPITAL).unwrap().set_id, SET_ID);
	});
}

#[test]
fn a_header_naming_no_chain_or_several_is_refused() {
	new_test_ext().execute_with(|| {
		let (state, _, items) = hospital_with_batch_0();
		let root = state_root(&state);
		let unnamed = bare_header(5, root, vec![]);
		let ambiguous =
			bare_header(5, root, vec![chain_digest_item(HOSPITAL), chain_digest_item(PLATFORM)]);
		let mut malformed_id = chain_digest_item(HOSPITAL).as_other().unwrap().to_vec();
		malformed_id.push(0);
		let malformed = bare_header(5, root, vec![DigestItem::Other(malformed_id)]);
		for h in [unnamed, ambiguous, malformed] {
			assert_noop!(relay_header(HOSPITAL, &h, finalised(&h)), err(Error::HeaderNamesNoChain));
			assert_noop!(
				submit(HOSPITAL, &h, Some(finalised(&h)), 0, items.clone(), batch_proof(&state, 0)),
				err(Error::HeaderNamesNoChain)
			);
		}
		// A genesis header is governance's to give, not a relayer's.
		let genesis = bare_header(0, root, vec![]);
		assert_noop!(
			relay_header(HOSPITAL, &genesis, finalised(&genesis)),
			err(Error::HeaderNamesNoChain)
		);
	});
}

#[test]
fn governance_starts_a_light_client_at_genesis_or_at_a_header_naming_its_chain() {
	new_test_ext().execute_with(|| {
		let register = |chain_id: ChainId, header: PrivateHeader| {
			Anchor::register_chain(
				RuntimeOrigin::root(),
				chain_id,
				Box::new(header),
				authority_list(&validators()),
				SET_ID,
			)
		};
		let reset = |chain_id: ChainId, header: PrivateHeader| {
			Anchor::reset_light_client(
				RuntimeOrigin::root(),
				chain_id,
				Box::new(header),
				authority_list(&validators()),
				SET_ID,
			)
		};
		let root = H256::repeat_byte(3);

		// Another chain's header, a later header naming no chain, a "genesis" header with a
		// digest: none starts the hospital's light client.
		assert_noop!(
			register(HOSPITAL, header_of(PLATFORM, 3, root, vec![])),
			err(Error::HeaderOfAnotherChain)
		);
		assert_noop!(
			register(HOSPITAL, bare_header(0, root, vec![chain_digest_item(PLATFORM)])),
			err(Error::HeaderOfAnotherChain)
		);
		assert_noop!(
			register(HOSPITAL, bare_header(3, root, vec![])),
			err(Error::HeaderNamesNoChain)
		);
		assert_noop!(
			register(HOSPITAL, bare_header(0, root, vec![DigestItem::Other(vec![1])])),
			err(Error::HeaderNamesNoChain)
		);

		// The hospital's own later header does, and so does a genesis header.
		let start = header(3, root);
		assert_ok!(register(HOSPITAL, start.clone()));
		assert!(Anchor::is_imported(HOSPITAL, start.hash()));
		assert_ok!(register(PLATFORM, bare_header(0, root, vec![])));

		// Re-initialisation is held to the same rule.
		assert_noop!(
			reset(HOSPITAL, header_of(PLATFORM, 100, root, vec![])),
			err(Error::HeaderOfAnotherChain)
		);
		assert_noop!(
			reset(HOSPITAL, bare_header(100, root, vec![])),
			err(Error::HeaderNamesNoChain)
		);
		let restart = header(100, root);
		assert_ok!(reset(HOSPITAL, restart.clone()));
		assert!(Anchor::is_imported(HOSPITAL, restart.hash()));
		let genesis = bare_header(0, root, vec![]);
		assert_ok!(reset(HOSPITAL, genesis.clone()));
		assert!(Anchor::is_imported(HOSPITAL, genesis.hash()));
	});
}

/// `do_try_state` holds after every story (every test ends with it), and catches each kind of
/// corruption of the light clients, the consortium slips and the patient index, naming the
/// invariant it breaks.
#[test]
fn try_state_names_each_broken_invariant() {
	use mbds_primitives::invariants::message_of;
	// Runs `corrupt` on a consortium that anchored the hospital's batch 0 (three items in
	// consortium slip 0); the broken invariant's message.
	fn broken(corrupt: impl FnOnce()) -> &'static str {
		new_test_ext().into_inner().execute_with(|| {
			let (state, header, items) = hospital_with_batch_0();
			assert_ok!(submit(
				HOSPITAL,
				&header,
				Some(finalised(&header)),
				0,
				items,
				batch_proof(&state, 0)
			));
			assert_ok!(Anchor::do_try_state());
			corrupt();
			message_of(&Anchor::do_try_state().expect_err("the corruption is caught"))
		})
	}
	let cases: [(&str, &'static str); 13] = [
		(
			"anchor: every registered chain has an authority set",
			broken(|| AuthoritySets::<Test>::remove(HOSPITAL)),
		),
		(
			"anchor: the best finalised header is the last imported one",
			broken(|| {
				Chains::<Test>::mutate(HOSPITAL, |c| c.as_mut().unwrap().best_finalized.number = 9)
			}),
		),
		(
			"anchor: every ring slot names an imported header",
			broken(|| ImportedHashes::<Test>::insert(HOSPITAL, 3, H256::repeat_byte(7))),
		),
		(
			"anchor: every imported header is in the ring, once",
			broken(|| {
				let stale = FinalizedHeader {
					number: 1,
					hash: H256::repeat_byte(7),
					state_root: H256::zero(),
				};
				ImportedHeaders::<Test>::insert(HOSPITAL, stale.hash, stale)
			}),
		),
		(
			"anchor: every anchored item belongs to a batch its chain anchored",
			broken(|| ConsortiumSlips::<Test>::mutate(0, |s| s.as_mut().unwrap().batch_id = 1)),
		),
		(
			"anchor: every batch below a chain's next batch is anchored",
			broken(|| Chains::<Test>::mutate(HOSPITAL, |c| c.as_mut().unwrap().next_batch = 2)),
		),
		(
			"anchor: consortium slips are numbered from 0 without gaps",
			broken(|| NextConsortiumSlipId::<Test>::put(2)),
		),
		(
			"anchor: every position of a patient's index names an anchored item of that patient",
			broken(|| PatientItemAt::<Test>::remove(PATIENT, 1)),
		),
		(
			"anchor: a patient's index has no position beyond its count",
			broken(|| PatientItemCount::<Test>::insert(PATIENT, 1)),
		),
		(
			"anchor: each patient's count of items without a label is exact",
			broken(|| UnindexedItemCount::<Test>::insert(OTHER_PATIENT, 9)),
		),
		(
			"anchor: a searchable-index entry names an item of its patient carrying its label",
			broken(|| {
				IndexEntries::<Test>::insert(
					PATIENT,
					[1; 32],
					LabelEntries::truncate_from(vec![(HOSPITAL, 0)]),
				)
			}),
		),
		(
			"anchor: an anchored record's categories include its items' categories",
			broken(|| RecordCategories::<Test>::remove(PATIENT, H256::repeat_byte(1))),
		),
		(
			"anchor: record categories are of anchored records",
			broken(|| {
				RecordCategories::<Test>::insert(
					OTHER_PATIENT,
					H256::repeat_byte(1),
					BoundedVec::truncate_from(vec![1]),
				)
			}),
		),
	];
	for (invariant, message) in cases {
		assert!(message.starts_with(invariant), "expected {invariant:?}, got {message:?}");
	}
	// The detail names the item: here the slip whose batch was never anchored.
	let message =
		broken(|| ConsortiumSlips::<Test>::mutate(0, |s| s.as_mut().unwrap().batch_id = 1));
	assert!(message.contains("slip 0: batch 1 of chain 7"), "{message}");
}
