//! Benchmarks of `pallet-anchor`, each at its worst case: the largest justification (the
//! threshold of precommits, `MaxVotesAncestries` ancestries, an authority hand-off to a full
//! set), distinct patients per item, and a storage proof through a trie of realistic depth.
//!
//! Justifications are signed with `bp-test-utils` keys (as the bridge GRANDPA pallet's
//! benchmarks do); storage proofs are built in memory with `sp-trie`, so no helper is needed.
//! Headers after genesis name their chain in their digest, as the pallet requires.

use super::*;
use crate::Pallet as Anchor;
use alloc::{boxed::Box, vec};
use bp_header_chain::justification::required_justification_precommits;
use bp_test_utils::{
	accounts, make_justification_for_header, JustificationGeneratorParams, TEST_GRANDPA_ROUND,
	TEST_GRANDPA_SET_ID,
};
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;
use mbds_primitives::chain_digest_item;
use pallet_slips::SummaryItem;
use sp_consensus_grandpa::{AuthorityId, ConsensusLog, ScheduledChange, GRANDPA_ENGINE_ID};
use sp_runtime::{traits::One, DigestItem};
use sp_trie::{
	read_trie_value, recorder_ext::RecorderExt, trie_types::TrieDBMutBuilderV1, LayoutV1, MemoryDB,
	Recorder, TrieMut,
};

/// The benchmarked private chain.
const CHAIN: ChainId = 1_000;

/// Other keys in the proven trie, so the proof has the depth of a real chain's state.
const FILLER_KEYS: u32 = 4_096;

/// Header `number` of `CHAIN` with `state_root`, naming `CHAIN` in its digest.
fn chain_header<T: Config>(number: BlockNumberFor<T>, state_root: H256) -> PrivateHeaderOf<T> {
	let mut header: PrivateHeaderOf<T> = bp_test_utils::test_header_with_root(number, state_root);
	header.digest_mut().push(chain_digest_item(CHAIN));
	header
}

/// `n` authorities of weight 1, from the bp-test-utils keyring.
fn authority_list(n: u32) -> AuthorityList {
	accounts(n as u16).iter().map(|a| (AuthorityId::from(*a), 1)).collect()
}

/// Registers `CHAIN` at `header` with a set of `authorities` (id `TEST_GRANDPA_SET_ID`).
fn register<T: Config>(header: PrivateHeaderOf<T>, authorities: u32) -> Result<(), BenchmarkError> {
	let origin =
		T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
	Anchor::<T>::register_chain(
		origin,
		CHAIN,
		Box::new(header),
		authority_list(authorities),
		TEST_GRANDPA_SET_ID,
	)?;
	Ok(())
}

/// The smallest set for which `p` precommits are the GRANDPA threshold (capped at the max).
fn set_size_for<T: Config>(p: u32) -> u32 {
	((3 * p).saturating_sub(1) / 2).clamp(1, T::MaxAuthorities::get())
}

/// `n` maximal items of `CHAIN`, one patient each: every other one carries a searchable-index
/// label (a read and a write in the patient's index), the others a longest keyword (a read and
/// a write of the patient's count of items without a label).
fn items<T: Config>(n: u32) -> Vec<SummaryItemOf<T>> {
	let len = <T as pallet_slips::Config>::MaxKeywordLen::get() as usize;
	(0..n)
		.map(|i| SummaryItem {
			patient: account("patient", i, 0),
			encrypted_keyword: BoundedVec::truncate_from(if i % 2 == 1 {
				mbds_primitives::index_label_keyword(&[i as u8; 32]).to_vec()
			} else {
				vec![i as u8; len]
			}),
			record_hash: H256::repeat_byte(i as u8),
			categories: BoundedVec::truncate_from(
				(0..mbds_primitives::consent::MAX_SCOPE_CATEGORIES).collect(),
			),
			chain_id: CHAIN,
			block_number: One::one(),
			slip_id: i as u64,
		})
		.collect()
}

/// State root of a private chain holding closed batch 0 over `items` (among filler keys) and
/// the storage proof of that batch record.
fn batch_proof<T: Config>(items: &[SummaryItemOf<T>]) -> (H256, RawStorageProof) {
	let info = BatchInfo::<BlockNumberFor<T>> {
		root: summary_root(items),
		item_count: items.len() as u32,
		chain_id: CHAIN,
		opened_at: One::one(),
		closed_at: One::one(),
		closed_at_ms: 0,
	};
	let key = pallet_slips::Batches::<T>::hashed_key_for(0u64);
	// `MemoryDB::default` is std-only; this is what it does.
	let mut db = MemoryDB::<BlakeTwo256>::from_null_node(&[0u8][..], [0u8][..].into());
	let mut root = H256::default();
	{
		let mut trie = TrieDBMutBuilderV1::<BlakeTwo256>::new(&mut db, &mut root).build();
		for i in 0..FILLER_KEYS {
			trie.insert(BlakeTwo256::hash(&i.encode()).as_ref(), &[7u8; 40])
				.expect("in-memory trie insert works");
		}
		trie.insert(&key, &info.encode()).expect("in-memory trie insert works");
	}
	let mut recorder = Recorder::<LayoutV1<BlakeTwo256>>::new();
	read_trie_value::<LayoutV1<BlakeTwo256>, _>(&db, &root, &key, Some(&mut recorder), None)
		.expect("the key was just inserted");
	(root, recorder.into_raw_storage_proof())
}

/// Header #1 with `state_root`, handing over to a full authority set, and its justification by
/// `p` precommits of the registered set with `MaxVotesAncestries` ancestries.
fn justified_header<T: Config>(
	state_root: H256,
	p: u32,
) -> (PrivateHeaderOf<T>, JustificationOf<T>) {
	let mut header = chain_header::<T>(One::one(), state_root);
	let change = ScheduledChange::<BlockNumberFor<T>> {
		next_authorities: authority_list(T::MaxAuthorities::get()),
		delay: Zero::zero(),
	};
	header.digest_mut().push(DigestItem::Consensus(
		GRANDPA_ENGINE_ID,
		ConsensusLog::ScheduledChange(change).encode(),
	));
	let justification = make_justification_for_header(JustificationGeneratorParams {
		header: header.clone(),
		round: TEST_GRANDPA_ROUND,
		set_id: TEST_GRANDPA_SET_ID,
		authorities: accounts(p as u16).iter().map(|k| (*k, 1)).collect(),
		ancestors: T::MaxVotesAncestries::get(),
		forks: 1,
	});
	(header, justification)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_chain(a: Linear<1, { T::MaxAuthorities::get() }>) -> Result<(), BenchmarkError> {
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let header: PrivateHeaderOf<T> = bp_test_utils::test_header(Zero::zero());

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, CHAIN, Box::new(header), authority_list(a), 3);

		assert_eq!(AuthoritySets::<T>::get(CHAIN).map(|s| s.set_id), Some(3));
		Ok(())
	}

	// Worst case: a full ring of imported headers to drop.
	#[benchmark]
	fn reset_light_client(
		a: Linear<1, { T::MaxAuthorities::get() }>,
	) -> Result<(), BenchmarkError> {
		register::<T>(bp_test_utils::test_header(Zero::zero()), 1)?;
		for slot in 0..T::HeadersToKeep::get() {
			let hash = BlakeTwo256::hash(&slot.encode());
			let head = FinalizedHeader { number: Zero::zero(), hash, state_root: hash };
			ImportedHashes::<T>::insert(CHAIN, slot, hash);
			ImportedHeaders::<T>::insert(CHAIN, hash, head);
		}
		let origin =
			T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let header = chain_header::<T>(One::one(), Default::default());
		let hash = header.hash();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, CHAIN, Box::new(header), authority_list(a), 9);

		assert!(ImportedHeaders::<T>::contains_key(CHAIN, hash));
		assert_eq!(AuthoritySets::<T>::get(CHAIN).map(|s| s.set_id), Some(9));
		Ok(())
	}

	#[benchmark]
	fn import_header(
		p: Linear<1, { required_justification_precommits(T::MaxAuthorities::get()) }>,
	) -> Result<(), BenchmarkError> {
		register::<T>(bp_test_utils::test_header(Zero::zero()), set_size_for::<T>(p))?;
		let (header, justification) = justified_header::<T>(H256::repeat_byte(1), p);
		let hash = header.hash();
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), CHAIN, Box::new(header), justification);

		assert!(ImportedHeaders::<T>::contains_key(CHAIN, hash));
		assert_eq!(AuthoritySets::<T>::get(CHAIN).map(|s| s.set_id), Some(TEST_GRANDPA_SET_ID + 1));
		Ok(())
	}

	#[benchmark]
	fn submit_summary(
		n: Linear<1, { <T as pallet_slips::Config>::MaxItemsPerBatch::get() }>,
		p: Linear<1, { required_justification_precommits(T::MaxAuthorities::get()) }>,
	) -> Result<(), BenchmarkError> {
		register::<T>(bp_test_utils::test_header(Zero::zero()), set_size_for::<T>(p))?;
		let items = items::<T>(n);
		let (state_root, proof) = batch_proof::<T>(&items);
		let (header, justification) = justified_header::<T>(state_root, p);
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		_(RawOrigin::Signed(caller), CHAIN, Box::new(header), Some(justification), 0, items, proof);

		assert_eq!(Anchor::<T>::anchored(CHAIN), Some((1, One::one())));
		Ok(())
	}

	#[benchmark]
	fn submit_summary_imported(
		n: Linear<1, { <T as pallet_slips::Config>::MaxItemsPerBatch::get() }>,
	) -> Result<(), BenchmarkError> {
		let items = items::<T>(n);
		let (state_root, proof) = batch_proof::<T>(&items);
		let header = chain_header::<T>(One::one(), state_root);
		register::<T>(header.clone(), 1)?;
		let caller: T::AccountId = whitelisted_caller();

		#[extrinsic_call]
		submit_summary(RawOrigin::Signed(caller), CHAIN, Box::new(header), None, 0, items, proof);

		assert_eq!(Anchor::<T>::anchored(CHAIN).map(|a| a.0), Some(1));
		Ok(())
	}

	impl_benchmark_test_suite!(Anchor, crate::mock::new_test_ext(), crate::mock::Test);
}
