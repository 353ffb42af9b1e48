//! Benchmarks of `pallet-slips`, each at its worst case. Needs a private chain (the runtime's
//! development preset), the KMC pallet as `BenchmarkHelper` and a `SignerHelper` whose accounts
//! sign visit proofs (sr25519 keys in the benchmark's keystore in the runtime).

use super::*;
use crate::Pallet as Slips;
use frame_benchmarking::v2::*;
use frame_system::RawOrigin;
use mbds_primitives::{
	statements::SignerBenchmarkHelper, InstitutionKind, RegistryBenchmarkHelper,
};

struct Actors<A> {
	institution: A,
	doctor: A,
	patient: A,
}

/// Registers a hospital (made this chain's institution), one of its doctors and a patient who
/// can sign visit proofs.
fn actors<T: Config>() -> Actors<T::AccountId> {
	let institution: T::AccountId = account("institution", 0, 0);
	let doctor: T::AccountId = account("doctor", 0, 0);
	let patient: T::AccountId = T::SignerHelper::signer(0);
	T::BenchmarkHelper::register_active(&institution, Role::Institution(InstitutionKind::Hospital));
	T::BenchmarkHelper::register_active(&doctor, Role::Doctor { institution: institution.clone() });
	T::BenchmarkHelper::register_active(&patient, Role::Patient);
	Institution::<T>::put(&institution);
	Actors { institution, doctor, patient }
}

/// The patient's visit proof for the institution, issued now (chain time).
fn visit<T: Config>(a: &Actors<T::AccountId>) -> VisitProofOf<T> {
	let statement = VisitStatement {
		patient: a.patient.clone(),
		institution: a.institution.clone(),
		issued_at: Slips::<T>::now_ms(),
	};
	VisitProof {
		institution: statement.institution.clone(),
		issued_at: statement.issued_at,
		signature: T::SignerHelper::sign(&a.patient, &statement.signing_payload()),
	}
}

fn keywords<T: Config>(k: u32, seed: u8) -> Vec<Vec<u8>> {
	(0..k)
		.map(|i| alloc::vec![seed.wrapping_add(i as u8); T::MaxKeywordLen::get() as usize])
		.collect()
}

/// The most categories a record may carry, in reverse order (the call sorts them).
fn categories() -> Vec<mbds_primitives::consent::CategoryId> {
	(0..mbds_primitives::consent::MAX_SCOPE_CATEGORIES).rev().collect()
}

/// Submits a pending slip with `k` maximal keywords and returns its id.
fn pending_slip<T: Config>(a: &Actors<T::AccountId>, k: u32, seed: u8) -> SlipId {
	let id = NextSlipId::<T>::get();
	Slips::<T>::submit_slip(
		RawOrigin::Signed(a.doctor.clone()).into(),
		a.patient.clone(),
		visit::<T>(a),
		0,
		TransactionType::Diagnosis,
		alloc::vec![1; T::MaxContentLen::get() as usize],
		keywords::<T>(k, seed),
		categories(),
		alloc::vec![2; T::MaxAddressLen::get() as usize],
		H256::repeat_byte(seed),
	)
	.expect("benchmark slip is valid");
	id
}

/// Puts `n` other pending slips in front of `patient`'s pending index, `of_doctor` of them by
/// `doctor` (the rest by other doctors), so the bound checks and removals scan a long list.
/// A pending slip with `k` keywords (record hash `0x07..`), last in its patient's full pending
/// index, and a batch already holding items (leaves appended, not rewritten): the worst case
/// of a confirmation.
fn slip_to_confirm<T: Config>(k: u32) -> (Actors<T::AccountId>, SlipId) {
	let a = actors::<T>();
	let first = pending_slip::<T>(&a, 1, 100);
	Slips::<T>::confirm_slip(
		RawOrigin::Signed(a.patient.clone()).into(),
		first,
		H256::repeat_byte(100),
	)
	.expect("first confirmation");
	fill_pending::<T>(&a.patient, &a.doctor, T::MaxPendingPerPatient::get() - 1, 0);
	let id = pending_slip::<T>(&a, k, 7);
	(a, id)
}

fn fill_pending<T: Config>(patient: &T::AccountId, doctor: &T::AccountId, n: u32, of_doctor: u32) {
	let mut list = PendingSlips::<T>::get(patient);
	for i in 0..n {
		let doctor = if i < of_doctor { doctor.clone() } else { account("other-doctor", i, 0) };
		let entry = PendingSlip { slip_id: SlipId::MAX - i as SlipId, doctor, position: u32::MAX };
		list.try_push(entry).expect("within MaxPendingPerPatient");
	}
	PendingSlips::<T>::insert(patient, list);
}

/// Writes a pending slip about `patient` (as `submit_slip` would, without its checks) that
/// expires at `expires_at`, behind a full pending index; its id.
fn stored_pending_slip<T: Config>(
	doctor: &T::AccountId,
	patient: &T::AccountId,
	institution: &T::AccountId,
	expires_at: BlockNumberFor<T>,
) -> SlipId {
	fill_pending::<T>(patient, doctor, T::MaxPendingPerPatient::get() - 1, 0);
	let slip_id = NextSlipId::<T>::get();
	NextSlipId::<T>::put(slip_id + 1);
	let position = PatientSlipCount::<T>::get(patient);
	PatientSlipAt::<T>::insert(patient, position, slip_id);
	PatientSlipCount::<T>::insert(patient, position + 1);
	PendingSlips::<T>::mutate(patient, |l| {
		l.try_push(PendingSlip { slip_id, doctor: doctor.clone(), position })
			.expect("one place left")
	});
	let k = T::MaxKeywords::get();
	Ledger::<T>::insert(
		slip_id,
		Slip {
			generated_at: 0,
			tx_type: TransactionType::Diagnosis,
			content: BoundedVec::truncate_from(alloc::vec![1; T::MaxContentLen::get() as usize]),
			doctor: doctor.clone(),
			institution: institution.clone(),
			patient: patient.clone(),
			encrypted_keywords: BoundedVec::truncate_from(
				keywords::<T>(k, 1).into_iter().map(BoundedVec::truncate_from).collect(),
			),
			categories: BoundedVec::truncate_from(categories()),
			encrypted_address: BoundedVec::truncate_from(
				alloc::vec![2; T::MaxAddressLen::get() as usize],
			),
			record_hash: H256::repeat_byte(1),
			submitted_at: frame_system::Pallet::<T>::block_number(),
			status: SlipStatus::Pending { expires_at },
		},
	);
	slip_id
}

#[benchmarks]
mod benchmarks {
	use super::*;

	// Worst case: the patient's pending index has one place left, the doctor one of theirs;
	// the visit proof's signature is verified.
	#[benchmark]
	fn submit_slip(
		c: Linear<0, { T::MaxContentLen::get() }>,
		k: Linear<1, { T::MaxKeywords::get() }>,
	) {
		let a = actors::<T>();
		fill_pending::<T>(
			&a.patient,
			&a.doctor,
			T::MaxPendingPerPatient::get() - 1,
			T::MaxPendingPerDoctorPatient::get() - 1,
		);
		let proof = visit::<T>(&a);
		let id = NextSlipId::<T>::get();

		#[extrinsic_call]
		_(
			RawOrigin::Signed(a.doctor.clone()),
			a.patient.clone(),
			proof,
			0,
			TransactionType::Diagnosis,
			alloc::vec![1; c as usize],
			keywords::<T>(k, 1),
			categories(),
			alloc::vec![2; T::MaxAddressLen::get() as usize],
			H256::repeat_byte(1),
		);

		assert!(Ledger::<T>::contains_key(id));
	}

	// Worst case: the batch already holds items (its leaves are appended, not rewritten), and
	// the slip is last in a full pending index.
	#[benchmark]
	fn confirm_slip(k: Linear<1, { T::MaxKeywords::get() }>) {
		let (a, id) = slip_to_confirm::<T>(k);

		#[extrinsic_call]
		_(RawOrigin::Signed(a.patient.clone()), id, H256::repeat_byte(7));

		assert!(matches!(Ledger::<T>::get(id).unwrap().status, SlipStatus::Confirmed { .. }));
	}

	// As `confirm_slip`, with the patient's labels in place of the keywords.
	#[benchmark]
	fn confirm_slip_indexed(k: Linear<1, { T::MaxKeywords::get() }>) {
		let (a, id) = slip_to_confirm::<T>(k);
		let labels: BoundedVec<[u8; 32], T::MaxKeywords> =
			BoundedVec::truncate_from((0..k).map(|i| [i as u8; 32]).collect());

		#[extrinsic_call]
		_(RawOrigin::Signed(a.patient.clone()), id, H256::repeat_byte(7), labels);

		assert!(matches!(Ledger::<T>::get(id).unwrap().status, SlipStatus::Confirmed { .. }));
	}

	// Worst case: the slip is last in a full pending index.
	#[benchmark]
	fn reject_slip() {
		let a = actors::<T>();
		fill_pending::<T>(&a.patient, &a.doctor, T::MaxPendingPerPatient::get() - 1, 0);
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

	// `on_initialize`'s expiry cursor examining `n` slips, each pending, due, of another
	// patient and last in that patient's full pending index (so each is expired).
	#[benchmark]
	fn expire_slips(n: Linear<0, { T::MaxExpiriesPerBlock::get() }>) {
		let institution: T::AccountId = account("institution", 0, 0);
		let doctor: T::AccountId = account("doctor", 0, 0);
		let at = frame_system::Pallet::<T>::block_number().saturating_add(T::PendingPeriod::get());
		let ids: Vec<SlipId> = (0..n)
			.map(|i| {
				let patient: T::AccountId = account("patient", i, 0);
				stored_pending_slip::<T>(&doctor, &patient, &institution, at)
			})
			.collect();

		#[block]
		{
			Slips::<T>::expire_pending(at);
		}

		assert_eq!(ExpiryCursor::<T>::get(), n as SlipId);
		assert!(ids.iter().all(|id| !Ledger::<T>::contains_key(id)));
	}

	// `on_initialize`'s expiry cursor passing over `n` decided slips (largest slips, rejected)
	// and reaching the next slip id.
	#[benchmark]
	fn pass_slips(n: Linear<0, { T::MaxExpiriesPerBlock::get() * PASSES_PER_EXPIRY }>) {
		let institution: T::AccountId = account("institution", 0, 0);
		let doctor: T::AccountId = account("doctor", 0, 0);
		let patient: T::AccountId = account("patient", 0, 0);
		let at = frame_system::Pallet::<T>::block_number().saturating_add(T::PendingPeriod::get());
		for _ in 0..n {
			let id = stored_pending_slip::<T>(&doctor, &patient, &institution, at);
			Ledger::<T>::mutate(id, |s| {
				let slip = s.as_mut().expect("just stored");
				slip.status = SlipStatus::Rejected {
					at: frame_system::Pallet::<T>::block_number(),
					reason: RejectReason::IncorrectContent,
				};
			});
			PendingSlips::<T>::remove(&patient);
		}

		#[block]
		{
			Slips::<T>::expire_pending(at);
		}

		assert_eq!(ExpiryCursor::<T>::get(), n as SlipId);
		assert_eq!(Ledger::<T>::iter().count(), n as usize);
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
