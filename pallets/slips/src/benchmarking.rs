//! Benchmarks of `pallet-slips`, each at its worst case. Needs a private chain (the runtime's
//! development preset) and the KMC pallet as `BenchmarkHelper`.

use super::*;
use crate::Pallet as Slips;
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;
use mbds_primitives::{InstitutionKind, RegistryBenchmarkHelper};

struct Actors<A> {
	doctor: A,
	patient: A,
}

/// Registers a hospital (made this chain's institution), one of its doctors and a patient.
fn actors<T: Config>() -> Actors<T::AccountId> {
	let institution: T::AccountId = account("institution", 0, 0);
	let doctor: T::AccountId = account("doctor", 0, 0);
	let patient: T::AccountId = account("patient", 0, 0);
	T::BenchmarkHelper::register_active(&institution, Role::Institution(InstitutionKind::Hospital));
	T::BenchmarkHelper::register_active(&doctor, Role::Doctor { institution: institution.clone() });
	T::BenchmarkHelper::register_active(&patient, Role::Patient);
	Institution::<T>::put(&institution);
	Actors { doctor, patient }
}

fn keywords<T: Config>(k: u32, seed: u8) -> Vec<Vec<u8>> {
	(0..k)
		.map(|i| alloc::vec![seed.wrapping_add(i as u8); T::MaxKeywordLen::get() as usize])
		.collect()
}

/// Submits a pending slip with `k` maximal keywords and returns its id.
fn pending_slip<T: Config>(a: &Actors<T::AccountId>, k: u32, seed: u8) -> SlipId {
	let id = NextSlipId::<T>::get();
	Slips::<T>::submit_slip(
		RawOrigin::Signed(a.doctor.clone()).into(),
		a.patient.clone(),
		0,
		TransactionType::Diagnosis,
		alloc::vec![1; T::MaxContentLen::get() as usize],
		keywords::<T>(k, seed),
		alloc::vec![2; T::MaxAddressLen::get() as usize],
		H256::repeat_byte(seed),
	)
	.expect("benchmark slip is valid");
	id
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn submit_slip(
		c: Linear<0, { T::MaxContentLen::get() }>,
		k: Linear<1, { T::MaxKeywords::get() }>,
	) {
		let a = actors::<T>();
		let id = NextSlipId::<T>::get();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(a.doctor.clone()),
			a.patient.clone(),
			0,
			TransactionType::Diagnosis,
			alloc::vec![1; c as usize],
			keywords::<T>(k, 1),
			alloc::vec![2; T::MaxAddressLen::get() as usize],
			H256::repeat_byte(1),
		);

		assert!(Ledger::<T>::contains_key(id));
	}

	// Worst case: the batch already holds items (its leaves are appended, not rewritten).
	#[benchmark]
	fn confirm_slip(k: Linear<1, { T::MaxKeywords::get() }>) {
		let a = actors::<T>();
		let first = pending_slip::<T>(&a, 1, 100);
		Slips::<T>::confirm_slip(
			RawOrigin::Signed(a.patient.clone()).into(),
			first,
			H256::repeat_byte(100),
		)
		.expect("first confirmation");
		let id = pending_slip::<T>(&a, k, 7);

		#[extrinsic_call]
		_(RawOrigin::Signed(a.patient.clone()), id, H256::repeat_byte(7));

		assert!(matches!(Ledger::<T>::get(id).unwrap().status, SlipStatus::Confirmed { .. }));
	}

	#[benchmark]
	fn reject_slip() {
		let a = actors::<T>();
		let id = pending_slip::<T>(&a, T::MaxKeywords::get(), 7);

		#[extrinsic_call]
		_(RawOrigin::Signed(a.patient.clone()), id, RejectReason::IncorrectContent);

		assert!(matches!(Ledger::<T>::get(id).unwrap().status, SlipStatus::Rejected { .. }));
	}

	#[benchmark]
	fn set_institution() -> Result<(), BenchmarkError> {
		let origin =
			T::AdminOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let other: T::AccountId = account("other-institution", 0, 0);
		T::BenchmarkHelper::register_active(&other, Role::Institution(InstitutionKind::Hospital));

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, other.clone());

		assert_eq!(Institution::<T>::get(), Some(other));
		Ok(())
	}

	// `on_initialize` expiring `n` pending slips.
	#[benchmark]
	fn expire_slips(n: Linear<0, { T::MaxSlipsPerBlock::get() }>) {
		let a = actors::<T>();
		for i in 0..n {
			pending_slip::<T>(&a, 1, i as u8);
		}
		let at = frame_system::Pallet::<T>::block_number().saturating_add(T::PendingPeriod::get());

		#[block]
		{
			Slips::<T>::expire_pending(at);
		}

		assert_eq!(ExpiryQueue::<T>::decode_len(at), None);
	}

	// `on_initialize` closing a batch of `n` items.
	#[benchmark]
	fn close_batch(n: Linear<1, { T::MaxItemsPerBatch::get() }>) {
		let now = frame_system::Pallet::<T>::block_number();
		let leaves: Vec<H256> = (0..n).map(|i| BlakeTwo256::hash(&i.to_le_bytes())).collect();
		OpenLeaves::<T>::put(BoundedVec::<_, T::MaxItemsPerBatch>::truncate_from(leaves));
		let batch = OpenBatch { id: 0, opened_at: now, opened_at_ms: 0, item_count: n };
		CurrentBatch::<T>::put(batch.clone());

		#[block]
		{
			Slips::<T>::close_batch(now, batch);
		}

		assert_eq!(Batches::<T>::get(0).map(|b| b.item_count), Some(n));
	}

	impl_benchmark_test_suite!(Slips, crate::mock::new_test_ext(), crate::mock::Test);
}
