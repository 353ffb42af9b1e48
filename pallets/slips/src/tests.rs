//! User stories of the slip ledger.

use crate::{mock::*, *};
use frame_support::{
	assert_noop, assert_ok, assert_storage_noop,
	dispatch::{CheckIfFeeless, GetDispatchInfo},
	traits::Hooks,
};
use mbds_primitives::{
	consent::{category, CategoryId, SYSTEM_ICD10_CHAPTER},
	ChainKind, SuspendParticipant,
};
use sp_runtime::{
	traits::DispatchTransaction,
	transaction_validity::{InvalidTransaction, TransactionValidityError},
	DispatchError,
};

fn record_hash(n: u8) -> H256 {
	H256::repeat_byte(n)
}

fn keywords(count: usize, seed: u8) -> Vec<Vec<u8>> {
	(0..count).map(|i| vec![seed.wrapping_add(i as u8); 40]).collect()
}

/// Submits as `doctor` a slip about `patient` with `kws` keywords and the patient's visit
/// proof for `HOSPITAL`, issued now.
fn submit_as(doctor: u64, patient: u64, kws: Vec<Vec<u8>>, hash: H256) -> DispatchResult {
	submit_visit(doctor, patient, visit(patient), kws, hash)
}

/// Submits as `doctor` a slip about `patient` with visit proof `proof`.
fn submit_visit(
	doctor: u64,
	patient: u64,
	proof: VisitProofOf<Test>,
	kws: Vec<Vec<u8>>,
	hash: H256,
) -> DispatchResult {
	Slips::submit_slip(
		RuntimeOrigin::signed(doctor),
		patient,
		proof,
		START_MS - 60_000,
		TransactionType::Diagnosis,
		b"outpatient visit".to_vec(),
		kws,
		vec![CIRCULATORY, ENDOCRINE, CIRCULATORY],
		vec![0xAD; 32],
		hash,
	)
}

/// Categories the test slips carry (given unsorted and with a duplicate).
const ENDOCRINE: CategoryId = category(SYSTEM_ICD10_CHAPTER, 4);
const CIRCULATORY: CategoryId = category(SYSTEM_ICD10_CHAPTER, 9);

fn submit(kws: usize, seed: u8) -> SlipId {
	let id = NextSlipId::<Test>::get();
	assert_ok!(submit_as(DOCTOR, PATIENT, keywords(kws, seed), record_hash(seed)));
	id
}

fn confirm(id: SlipId) {
	let hash = Ledger::<Test>::get(id).unwrap().record_hash;
	assert_ok!(Slips::confirm_slip(RuntimeOrigin::signed(PATIENT), id, hash));
}

fn last_event() -> RuntimeEvent {
	System::events().pop().expect("an event").event
}

#[test]
fn doctor_submits_patient_confirms_and_the_slip_is_immutable() {
	new_test_ext().execute_with(|| {
		let id = submit(2, 10);
		assert_eq!(id, 0);
		assert_eq!(
			last_event(),
			Event::SlipSubmitted {
				slip_id: 0,
				doctor: DOCTOR,
				patient: PATIENT,
				expires_at: 1 + PENDING
			}
			.into()
		);
		let slip = Ledger::<Test>::get(id).unwrap();
		assert_eq!(slip.doctor, DOCTOR);
		assert_eq!(slip.institution, HOSPITAL);
		assert_eq!(slip.patient, PATIENT);
		assert_eq!(slip.generated_at, START_MS - 60_000);
		assert_eq!(slip.tx_type, TransactionType::Diagnosis);
		assert_eq!(slip.content.to_vec(), b"outpatient visit".to_vec());
		// Categories are kept sorted, without the duplicate.
		assert_eq!(slip.categories.to_vec(), vec![ENDOCRINE, CIRCULATORY]);
		assert_eq!(slip.encrypted_keywords.len(), 2);
		assert_eq!(slip.encrypted_address.to_vec(), vec![0xAD; 32]);
		assert_eq!(slip.record_hash, record_hash(10));
		assert_eq!(slip.status, SlipStatus::Pending { expires_at: 1 + PENDING });

		System::set_block_number(3);
		confirm(id);
		assert_eq!(
			last_event(),
			Event::SlipConfirmed { slip_id: id, patient: PATIENT, batch: 0, items: 2 }.into()
		);
		let confirmed = Ledger::<Test>::get(id).unwrap();
		assert_eq!(confirmed.status, SlipStatus::Confirmed { at: 3, batch: 0 });
		// Only the status changed.
		assert_eq!(Slip { status: slip.status, ..confirmed.clone() }, slip);
		// One summary item per encrypted keyword.
		for (i, kw) in slip.encrypted_keywords.iter().enumerate() {
			let item = BatchItems::<Test>::get(0, i as u32).unwrap();
			assert_eq!(item.patient, PATIENT);
			assert_eq!(&item.encrypted_keyword, kw);
			assert_eq!(item.record_hash, record_hash(10));
			assert_eq!(item.chain_id, CHAIN_ID);
			assert_eq!(item.block_number, 3);
			assert_eq!(item.slip_id, id);
			// The record's categories, as the patient confirmed them, travel with every item.
			assert_eq!(item.categories.to_vec(), vec![ENDOCRINE, CIRCULATORY]);
		}

		// Nobody can change it afterwards: every decision call fails and changes nothing.
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::signed(PATIENT), id, record_hash(10)),
			Error::<Test>::AlreadyDecided
		);
		assert_noop!(
			Slips::reject_slip(RuntimeOrigin::signed(PATIENT), id, RejectReason::IncorrectContent),
			Error::<Test>::AlreadyDecided
		);
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::signed(DOCTOR), id, record_hash(10)),
			Error::<Test>::NotSlipPatient
		);
		// Nor does expiry touch a decided slip.
		run_to_block(1 + PENDING);
		assert_eq!(Ledger::<Test>::get(id).unwrap(), confirmed);
	});
}

#[test]
fn an_indexed_confirmation_puts_the_patients_labels_in_the_items_one_per_keyword() {
	new_test_ext().execute_with(|| {
		let id = submit(3, 10);
		let hash = record_hash(10);
		let labels =
			|n: usize| -> BoundedVec<[u8; 32], frame_support::traits::ConstU32<MAX_KEYWORDS>> {
				BoundedVec::truncate_from((0..n).map(|i| [0xA0 + i as u8; 32]).collect())
			};
		// A writer cannot put a label's form among the keywords: only the patient labels.
		let forged = mbds_primitives::index_label_keyword(&[7; 32]).to_vec();
		assert_noop!(
			submit_as(DOCTOR, PATIENT, vec![forged], record_hash(12)),
			Error::<Test>::KeywordLooksLikeLabel
		);
		// One label per keyword, no more and no fewer; nothing changes otherwise.
		for wrong in [0, 2, 4] {
			assert_noop!(
				Slips::confirm_slip_indexed(
					RuntimeOrigin::signed(PATIENT),
					id,
					hash,
					labels(wrong)
				),
				Error::<Test>::LabelCountMismatch
			);
		}
		// The usual checks come first: only the patient, only on the record checked.
		assert_noop!(
			Slips::confirm_slip_indexed(RuntimeOrigin::signed(DOCTOR), id, hash, labels(3)),
			Error::<Test>::NotSlipPatient
		);
		assert_noop!(
			Slips::confirm_slip_indexed(
				RuntimeOrigin::signed(PATIENT),
				id,
				record_hash(11),
				labels(3)
			),
			Error::<Test>::RecordHashMismatch
		);
		assert!(crate::Call::<Test>::confirm_slip_indexed {
			slip_id: id,
			record_hash: hash,
			labels: labels(3)
		}
		.is_feeless(&RuntimeOrigin::signed(PATIENT)));

		System::set_block_number(3);
		let info = Slips::confirm_slip_indexed(RuntimeOrigin::signed(PATIENT), id, hash, labels(3))
			.expect("indexed confirmation");
		let db: frame_support::weights::RuntimeDbWeight =
			<Test as frame_system::Config>::DbWeight::get();
		assert_eq!(
			info.actual_weight,
			Some(
				<Test as Config>::WeightInfo::confirm_slip_indexed(3)
					.saturating_add(db.reads_writes(1, 1))
			)
		);
		assert_eq!(
			last_event(),
			Event::SlipConfirmed { slip_id: id, patient: PATIENT, batch: 0, items: 3 }.into()
		);
		assert_eq!(
			Ledger::<Test>::get(id).unwrap().status,
			SlipStatus::Confirmed { at: 3, batch: 0 }
		);
		for i in 0..3u32 {
			let item = BatchItems::<Test>::get(0, i).unwrap();
			let mut tagged = vec![mbds_primitives::INDEX_LABEL_TAG];
			tagged.extend_from_slice(&[0xA0 + i as u8; 32]);
			assert_eq!(item.encrypted_keyword.to_vec(), tagged);
			assert_eq!(
				mbds_primitives::index_label_in(&item.encrypted_keyword),
				Some([0xA0 + i as u8; 32])
			);
			assert_eq!((item.patient, item.record_hash, item.slip_id), (PATIENT, hash, id));
		}
		assert_noop!(
			Slips::confirm_slip_indexed(RuntimeOrigin::signed(PATIENT), id, hash, labels(3)),
			Error::<Test>::AlreadyDecided
		);
		// The batch closes and its root covers the labelled items like any others.
		run_to_block(3 + BATCH_BLOCKS);
		assert!(Batches::<Test>::get(0).is_some());
	});
}

#[test]
fn submission_failures_each_have_their_own_error_and_change_nothing() {
	new_test_ext().execute_with(|| {
		let ok_kws = || keywords(1, 1);
		// A doctor of another institution.
		assert_noop!(
			submit_as(OTHER_DOCTOR, PATIENT, ok_kws(), record_hash(1)),
			Error::<Test>::NotDoctorOfThisInstitution
		);
		// An unregistered account.
		assert_noop!(
			submit_as(STRANGER, PATIENT, ok_kws(), record_hash(1)),
			Error::<Test>::NotRegistered
		);
		// A suspended doctor of this institution.
		assert_noop!(
			submit_as(SUSPENDED_DOCTOR, PATIENT, ok_kws(), record_hash(1)),
			Error::<Test>::DoctorSuspended
		);
		// A patient trying to write a slip (about themselves).
		assert_noop!(
			submit_as(PATIENT, PATIENT, ok_kws(), record_hash(1)),
			Error::<Test>::NotADoctor
		);
		// The institution itself is not a doctor either.
		assert_noop!(
			submit_as(HOSPITAL, PATIENT, ok_kws(), record_hash(1)),
			Error::<Test>::NotADoctor
		);
		// The patient must be a registered, active patient.
		assert_noop!(
			submit_as(DOCTOR, STRANGER, ok_kws(), record_hash(1)),
			Error::<Test>::PatientNotRegistered
		);
		assert_noop!(
			submit_as(DOCTOR, OTHER_DOCTOR, ok_kws(), record_hash(1)),
			Error::<Test>::NotAPatient
		);
		assert_ok!(<Kmc as SuspendParticipant<u64>>::suspend(&OTHER_PATIENT));
		assert_noop!(
			submit_as(DOCTOR, OTHER_PATIENT, ok_kws(), record_hash(1)),
			Error::<Test>::PatientSuspended
		);
		// No slip was written by any of them.
		assert_eq!(NextSlipId::<Test>::get(), 0);
		assert_eq!(PatientSlipCount::<Test>::get(PATIENT), 0);
	});
}

#[test]
fn oversized_or_empty_fields_are_refused_with_their_own_error() {
	new_test_ext().execute_with(|| {
		let send = |content: Vec<u8>, kws: Vec<Vec<u8>>, address: Vec<u8>, at: u64| {
			Slips::submit_slip(
				RuntimeOrigin::signed(DOCTOR),
				PATIENT,
				visit(PATIENT),
				at,
				TransactionType::Prescription,
				content,
				kws,
				vec![ENDOCRINE],
				address,
				record_hash(1),
			)
		};
		let c = || vec![1u8; MAX_CONTENT as usize];
		let k = || keywords(1, 1);
		let a = || vec![2u8; MAX_ADDRESS as usize];
		// At the limits it works (checked last, on a copy of the state).
		assert_storage_noop!({
			let _ = frame_support::storage::with_transaction(|| {
				assert_ok!(send(c(), keywords(MAX_KEYWORDS as usize, 1), a(), START_MS));
				sp_runtime::TransactionOutcome::Rollback(Ok::<(), DispatchError>(()))
			});
		});
		assert_noop!(
			send(vec![1u8; MAX_CONTENT as usize + 1], k(), a(), START_MS),
			Error::<Test>::ContentTooLong
		);
		assert_noop!(send(c(), vec![], a(), START_MS), Error::<Test>::NoKeywords);
		assert_noop!(
			send(c(), keywords(MAX_KEYWORDS as usize + 1, 1), a(), START_MS),
			Error::<Test>::TooManyKeywords
		);
		assert_noop!(
			send(c(), vec![vec![3u8; MAX_KEYWORD_LEN as usize + 1]], a(), START_MS),
			Error::<Test>::KeywordTooLong
		);
		assert_noop!(send(c(), vec![vec![]], a(), START_MS), Error::<Test>::EmptyKeyword);
		assert_noop!(
			send(c(), k(), vec![2u8; MAX_ADDRESS as usize + 1], START_MS),
			Error::<Test>::AddressTooLong
		);
		assert_noop!(send(c(), k(), vec![], START_MS), Error::<Test>::EmptyAddress);
		let max = mbds_primitives::consent::MAX_SCOPE_CATEGORIES;
		let categorised = |n: u32| {
			Slips::submit_slip(
				RuntimeOrigin::signed(DOCTOR),
				PATIENT,
				visit(PATIENT),
				START_MS,
				TransactionType::Prescription,
				c(),
				k(),
				(0..n).collect(),
				a(),
				record_hash(1),
			)
		};
		assert_noop!(categorised(max + 1), Error::<Test>::TooManyCategories);
		assert_noop!(
			send(c(), k(), a(), START_MS + MAX_FUTURE_DRIFT_MS + 1),
			Error::<Test>::GeneratedInFuture
		);
		assert_ok!(send(c(), k(), a(), START_MS + MAX_FUTURE_DRIFT_MS));
	});
}

#[test]
fn slips_only_on_private_chains_with_an_institution() {
	new_test_ext().execute_with(|| {
		Kind::set(ChainKind::Consortium);
		assert_noop!(
			submit_as(DOCTOR, PATIENT, keywords(1, 1), record_hash(1)),
			Error::<Test>::NotAPrivateChain
		);
		Kind::set(ChainKind::Platform);
		Institution::<Test>::kill();
		assert_noop!(
			submit_as(DOCTOR, PATIENT, keywords(1, 1), record_hash(1)),
			Error::<Test>::InstitutionNotSet
		);
	});
}

#[test]
fn a_block_takes_more_slips_than_expire_in_one_block_and_every_one_expires_in_turn() {
	new_test_ext().execute_with(|| {
		// Eight slips in one block (no per-block limit; two doctors and two patients, so that
		// no pending bound is reached), twice what the cursor examines a block.
		let mut ids = Vec::new();
		for i in 0..8u8 {
			let doctor = if i % 2 == 0 { DOCTOR } else { COLLEAGUE };
			let patient = if i < 4 { PATIENT } else { OTHER_PATIENT };
			assert_ok!(submit_as(doctor, patient, keywords(1, i), record_hash(i)));
			ids.push(NextSlipId::<Test>::get() - 1);
		}
		assert_eq!(ids.len() as u32, 8);
		assert!(8 > MAX_EXPIRIES_PER_BLOCK);
		// Nothing expires before the period ends; the cursor stops at the first slip.
		run_to_block(PENDING);
		assert!(ids.iter().all(|id| Ledger::<Test>::contains_key(id)));
		assert_eq!(ExpiryCursor::<Test>::get(), 0);
		// Then four a block, in id order, until all are gone.
		run_to_block(1 + PENDING);
		assert_eq!(ExpiryCursor::<Test>::get(), 4);
		assert!(ids[..4].iter().all(|id| !Ledger::<Test>::contains_key(id)));
		assert!(ids[4..].iter().all(|id| Ledger::<Test>::contains_key(id)));
		run_to_block(2 + PENDING);
		assert_eq!(ExpiryCursor::<Test>::get(), 8);
		assert!(ids.iter().all(|id| !Ledger::<Test>::contains_key(id)));
		assert!(!PendingSlips::<Test>::contains_key(PATIENT));
		assert!(!PendingSlips::<Test>::contains_key(OTHER_PATIENT));
		let expired = System::events()
			.iter()
			.filter(|r| matches!(r.event, RuntimeEvent::Slips(Event::SlipExpired { .. })))
			.count();
		assert_eq!(expired, 8);
	});
}

#[test]
fn a_slip_past_its_period_cannot_be_decided_while_it_waits_for_the_cursor() {
	new_test_ext().execute_with(|| {
		for i in 0..5u8 {
			let doctor = if i < 4 { DOCTOR } else { COLLEAGUE };
			assert_ok!(submit_as(doctor, PATIENT, keywords(1, i), record_hash(i)));
		}
		run_to_block(1 + PENDING);
		// Four expired this block; the fifth waits for the next one, undecidable.
		assert!(Ledger::<Test>::contains_key(4));
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::signed(PATIENT), 4, record_hash(4)),
			Error::<Test>::SlipExpired
		);
		assert_noop!(
			Slips::reject_slip(RuntimeOrigin::signed(PATIENT), 4, RejectReason::NotMyRecord),
			Error::<Test>::SlipExpired
		);
		run_to_block(2 + PENDING);
		assert!(!Ledger::<Test>::contains_key(4));
	});
}

#[test]
fn slips_queued_before_the_cursor_still_expire_after_the_migration() {
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	new_test_ext().execute_with(|| {
		// A chain of storage version 1: slip 0 was queued to expire at 1 + PENDING.
		assert_ok!(submit_as(DOCTOR, PATIENT, keywords(1, 1), record_hash(1)));
		ExpiryCursor::<Test>::kill();
		ExpiryQueue::<Test>::insert(1 + PENDING, BoundedVec::truncate_from(vec![0]));
		StorageVersion::new(1).put::<Slips>();
		// The upgrade starts the cursor after it; the queue still expires it.
		crate::migrations::v2::StartExpiryCursor::<Test>::on_runtime_upgrade();
		assert_eq!(Slips::on_chain_storage_version(), 2);
		assert_eq!(ExpiryCursor::<Test>::get(), 1);
		assert_ok!(Slips::do_try_state());
		// A slip submitted after the upgrade expires through the cursor.
		assert_ok!(submit_as(DOCTOR, PATIENT, keywords(1, 2), record_hash(2)));
		run_to_block(1 + PENDING);
		assert!(!Ledger::<Test>::contains_key(0), "the queued slip expired");
		assert!(!Ledger::<Test>::contains_key(1), "the new slip expired");
		assert_eq!(ExpiryQueue::<Test>::iter().count(), 0);
		assert_eq!(ExpiryCursor::<Test>::get(), 2);
		// Run again (a later upgrade), the migration changes nothing: the cursor stays behind
		// a slip submitted since.
		assert_ok!(submit_as(DOCTOR, PATIENT, keywords(1, 3), record_hash(3)));
		assert_eq!(NextSlipId::<Test>::get(), 3);
		crate::migrations::v2::StartExpiryCursor::<Test>::on_runtime_upgrade();
		assert_eq!(ExpiryCursor::<Test>::get(), 2);
	});
}

#[test]
fn only_the_slips_active_patient_decides_and_only_on_the_record_they_checked() {
	new_test_ext().execute_with(|| {
		let id = submit(1, 5);
		// Another patient.
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::signed(OTHER_PATIENT), id, record_hash(5)),
			Error::<Test>::NotSlipPatient
		);
		assert_noop!(
			Slips::reject_slip(RuntimeOrigin::signed(OTHER_PATIENT), id, RejectReason::NotMyRecord),
			Error::<Test>::NotSlipPatient
		);
		// The doctor cannot confirm for the patient.
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::signed(DOCTOR), id, record_hash(5)),
			Error::<Test>::NotSlipPatient
		);
		// A hash other than the slip's.
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::signed(PATIENT), id, record_hash(6)),
			Error::<Test>::RecordHashMismatch
		);
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::signed(PATIENT), 42, record_hash(5)),
			Error::<Test>::UnknownSlip
		);
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::none(), id, record_hash(5)),
			DispatchError::BadOrigin
		);
		// A suspended patient.
		assert_ok!(<Kmc as SuspendParticipant<u64>>::suspend(&PATIENT));
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::signed(PATIENT), id, record_hash(5)),
			Error::<Test>::PatientSuspended
		);
		assert_ok!(Kmc::reinstate(RuntimeOrigin::root(), PATIENT));
		confirm(id);
	});
}

#[test]
fn patient_rejects_with_a_reason_and_nothing_reaches_a_batch() {
	new_test_ext().execute_with(|| {
		let id = submit(2, 5);
		assert_ok!(Slips::reject_slip(RuntimeOrigin::signed(PATIENT), id, RejectReason::Other(7)));
		assert_eq!(
			last_event(),
			Event::SlipRejected { slip_id: id, patient: PATIENT, reason: RejectReason::Other(7) }
				.into()
		);
		assert_eq!(
			Ledger::<Test>::get(id).unwrap().status,
			SlipStatus::Rejected { at: 1, reason: RejectReason::Other(7) }
		);
		assert_eq!(CurrentBatch::<Test>::get(), None);
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::signed(PATIENT), id, record_hash(5)),
			Error::<Test>::AlreadyDecided
		);
	});
}

#[test]
fn pending_slips_expire_after_the_pending_period_and_are_removed() {
	new_test_ext().execute_with(|| {
		let a = submit(1, 1);
		let b = submit(1, 2);
		confirm(b);
		assert_eq!(
			Slips::pending_slips(&PATIENT).iter().map(|p| p.slip_id).collect::<Vec<_>>(),
			vec![a]
		);
		run_to_block(PENDING);
		assert!(matches!(Ledger::<Test>::get(a).unwrap().status, SlipStatus::Pending { .. }));
		run_to_block(1 + PENDING);
		// The undecided slip is gone: from the ledger, the patient's list and the pending index.
		assert_eq!(Ledger::<Test>::get(a), None);
		assert_eq!(PatientSlipAt::<Test>::get(PATIENT, 0), None);
		assert!(!PendingSlips::<Test>::contains_key(PATIENT));
		let expired = |id| Event::SlipExpired { slip_id: id, patient: PATIENT, doctor: DOCTOR };
		assert!(System::events().iter().any(|r| r.event == expired(a).into()));
		assert!(!System::events().iter().any(|r| r.event == expired(b).into()));
		// The cursor passed both: the expired slip and the confirmed one.
		assert_eq!(ExpiryCursor::<Test>::get(), 2);
		// The confirmed one is untouched and still listed.
		assert!(matches!(Ledger::<Test>::get(b).unwrap().status, SlipStatus::Confirmed { .. }));
		assert_eq!(PatientSlipAt::<Test>::get(PATIENT, 1), Some(b));
		assert_eq!(Slips::patient_slip_count(&PATIENT), 2);
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::signed(PATIENT), a, record_hash(1)),
			Error::<Test>::SlipExpired
		);
		assert_noop!(
			Slips::reject_slip(RuntimeOrigin::signed(PATIENT), a, RejectReason::NotMyRecord),
			Error::<Test>::SlipExpired
		);
	});
}

#[test]
fn batch_closes_after_batch_blocks() {
	new_test_ext().execute_with(|| {
		let id = submit(1, 1);
		confirm(id);
		assert_eq!(
			CurrentBatch::<Test>::get(),
			Some(OpenBatch { id: 0, opened_at: 1, opened_at_ms: START_MS, item_count: 1 })
		);
		// A second confirmation a few blocks later joins the same batch.
		run_to_block(4);
		let id2 = submit(2, 2);
		confirm(id2);
		assert_eq!(CurrentBatch::<Test>::get().unwrap().item_count, 3);
		run_to_block(BATCH_BLOCKS);
		assert_eq!(Batches::<Test>::get(0), None);
		run_to_block(1 + BATCH_BLOCKS);
		let info = Batches::<Test>::get(0).expect("closed at block 11");
		assert_eq!(info.item_count, 3);
		assert_eq!((info.opened_at, info.closed_at, info.chain_id), (1, 11, CHAIN_ID));
		assert_eq!(last_event(), Event::BatchClosed { batch: 0, root: info.root, items: 3 }.into());
		assert_eq!(CurrentBatch::<Test>::get(), None);
		assert!(OpenLeaves::<Test>::get().is_empty());
		// The next confirmation opens batch 1.
		let id3 = submit(1, 3);
		confirm(id3);
		assert_eq!(CurrentBatch::<Test>::get().unwrap().id, 1);
		assert_eq!(
			Ledger::<Test>::get(id3).unwrap().status,
			SlipStatus::Confirmed { at: 11, batch: 1 }
		);
	});
}

#[test]
fn batch_closes_after_batch_period_even_within_fewer_blocks() {
	new_test_ext().execute_with(|| {
		confirm(submit(1, 1));
		// Slow blocks: ten minutes pass before the next block.
		System::set_block_number(2);
		NowMs::set(START_MS + BATCH_MS);
		Slips::on_initialize(2);
		let info = Batches::<Test>::get(0).expect("closed by time at block 2");
		assert_eq!(
			(info.item_count, info.closed_at, info.closed_at_ms),
			(1, 2, START_MS + BATCH_MS)
		);
	});
}

#[test]
fn a_confirmation_that_does_not_fit_closes_the_batch_at_once_and_opens_the_next() {
	new_test_ext().execute_with(|| {
		// MAX_ITEMS = 8 and 4 keywords per slip: two slips fill a batch.
		let (a, b, c) = (submit(4, 1), submit(4, 20), submit(4, 40));
		confirm(a);
		confirm(b);
		assert_eq!(Batches::<Test>::get(0), None);
		// The third does not fit: batch 0 closes in this block and c opens batch 1.
		let info = Slips::confirm_slip(RuntimeOrigin::signed(PATIENT), c, record_hash(40))
			.expect("a confirmation never fails for a full batch");
		let closed = Batches::<Test>::get(0).expect("batch 0 closed at once");
		assert_eq!((closed.item_count, closed.closed_at), (8, 1));
		assert!(System::events().iter().any(
			|r| r.event == Event::BatchClosed { batch: 0, root: closed.root, items: 8 }.into()
		));
		assert_eq!(
			Ledger::<Test>::get(c).unwrap().status,
			SlipStatus::Confirmed { at: 1, batch: 1 }
		);
		assert_eq!(
			CurrentBatch::<Test>::get(),
			Some(OpenBatch { id: 1, opened_at: 1, opened_at_ms: START_MS, item_count: 4 })
		);
		assert_eq!(OpenLeaves::<Test>::get().len(), 4);
		// Its weight is the confirmation's and the closing's, no more.
		assert_eq!(
			info.actual_weight,
			Some(
				<() as crate::WeightInfo>::confirm_slip(4)
					+ <() as crate::WeightInfo>::close_batch(8)
			)
		);
		// The batch window is batch 1's own: it closes BATCH_BLOCKS after block 1.
		run_to_block(1 + BATCH_BLOCKS);
		assert_eq!(Batches::<Test>::get(1).map(|b| b.item_count), Some(4));
	});
}

#[test]
fn an_exactly_full_batch_closes_at_the_next_block() {
	new_test_ext().execute_with(|| {
		let (a, b) = (submit(4, 1), submit(4, 20));
		confirm(a);
		let info = Slips::confirm_slip(RuntimeOrigin::signed(PATIENT), b, record_hash(20)).unwrap();
		assert_eq!(info.actual_weight, Some(<() as crate::WeightInfo>::confirm_slip(4)));
		run_to_block(2);
		assert_eq!(Batches::<Test>::get(0).map(|b| b.item_count), Some(8));
		assert_eq!(CurrentBatch::<Test>::get(), None);
	});
}

#[test]
fn every_item_proof_verifies_against_its_batch_root_and_tampered_items_fail() {
	new_test_ext().execute_with(|| {
		// Seven items (an odd count exercises the promoted last node).
		for (kws, seed) in [(3, 1u8), (1, 50), (2, 60), (1, 70)] {
			let id = submit(kws, seed);
			confirm(id);
		}
		run_to_block(1 + BATCH_BLOCKS);
		let info = Batches::<Test>::get(0).unwrap();
		assert_eq!(info.item_count, 7);

		let batch = Slips::batch_with_proofs(0, 0, 100).unwrap();
		assert_eq!(batch.items.len(), 7);
		// The root is the binary Merkle root of the SCALE-encoded items.
		let encoded: Vec<Vec<u8>> = batch.items.iter().map(|i| i.item.encode()).collect();
		assert_eq!(binary_merkle_tree::merkle_root::<BlakeTwo256, _>(encoded), info.root);

		for p in &batch.items {
			assert!(verify_item(&info.root, &p.item, p.leaf_index, info.item_count, &p.proof));

			let mut tampered = p.item.clone();
			tampered.encrypted_keyword[0] ^= 1;
			assert!(!verify_item(&info.root, &tampered, p.leaf_index, info.item_count, &p.proof));
			let mut tampered = p.item.clone();
			tampered.slip_id += 1;
			assert!(!verify_item(&info.root, &tampered, p.leaf_index, info.item_count, &p.proof));
			let mut tampered = p.item.clone();
			tampered.patient = OTHER_PATIENT;
			assert!(!verify_item(&info.root, &tampered, p.leaf_index, info.item_count, &p.proof));
			let mut tampered = p.item.clone();
			tampered.record_hash = record_hash(0xEE);
			assert!(!verify_item(&info.root, &tampered, p.leaf_index, info.item_count, &p.proof));
			let mut tampered = p.item.clone();
			tampered.chain_id += 1;
			assert!(!verify_item(&info.root, &tampered, p.leaf_index, info.item_count, &p.proof));
			// Right item, wrong position.
			let wrong = (p.leaf_index + 1) % info.item_count;
			assert!(!verify_item(&info.root, &p.item, wrong, info.item_count, &p.proof));
		}

		// Paging returns the same proofs.
		let page = Slips::batch_with_proofs(0, 5, 10).unwrap();
		assert_eq!(page.items, batch.items[5..].to_vec());
		assert!(Slips::batch_with_proofs(1, 0, 10).is_none());
	});
}

#[test]
fn patient_slips_lists_a_patients_slips_in_order_with_paging() {
	new_test_ext().execute_with(|| {
		let ids: Vec<SlipId> = (0..4).map(|i| submit(1, i)).collect();
		assert_ok!(submit_as(DOCTOR, OTHER_PATIENT, keywords(1, 9), record_hash(9)));
		assert_eq!(PatientSlipCount::<Test>::get(PATIENT), 4);
		let all: Vec<SlipId> =
			Slips::patient_slips(&PATIENT, 0, 100).into_iter().map(|s| s.0).collect();
		assert_eq!(all, ids);
		let page: Vec<SlipId> =
			Slips::patient_slips(&PATIENT, 1, 2).into_iter().map(|s| s.0).collect();
		assert_eq!(page, ids[1..3].to_vec());
		assert!(Slips::patient_slips(&PATIENT, 10, 2).is_empty());
		assert_eq!(Slips::patient_slips(&OTHER_PATIENT, 0, 10)[0].1.patient, OTHER_PATIENT);
		assert!(Slips::patient_slips(&STRANGER, 0, 10).is_empty());
	});
}

#[test]
fn admin_sets_the_institution_to_a_registered_institution_only() {
	new_test_ext().execute_with(|| {
		assert_noop!(
			Slips::set_institution(RuntimeOrigin::signed(DOCTOR), OTHER_HOSPITAL),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Slips::set_institution(RuntimeOrigin::root(), PATIENT),
			Error::<Test>::NotAnInstitution
		);
		assert_ok!(Slips::set_institution(RuntimeOrigin::root(), OTHER_HOSPITAL));
		assert_eq!(last_event(), Event::InstitutionSet { institution: OTHER_HOSPITAL }.into());
		// Now the other hospital's doctor writes slips here (with a proof of a visit to the
		// other hospital), and ours no longer does.
		let at_other = visit_at(PATIENT, OTHER_HOSPITAL, NowMs::get());
		assert_ok!(submit_visit(OTHER_DOCTOR, PATIENT, at_other, keywords(1, 1), record_hash(1)));
		assert_noop!(
			submit_as(DOCTOR, PATIENT, keywords(1, 1), record_hash(1)),
			Error::<Test>::NotDoctorOfThisInstitution
		);
	});
}

#[test]
fn medical_calls_are_feeless_for_active_participants_only() {
	new_test_ext().execute_with(|| {
		let submit_call = crate::Call::<Test>::submit_slip {
			patient: PATIENT,
			visit: visit(PATIENT),
			generated_at: START_MS,
			tx_type: TransactionType::Examination,
			content: vec![],
			encrypted_keywords: keywords(1, 1),
			categories: vec![ENDOCRINE],
			encrypted_address: vec![1],
			record_hash: record_hash(1),
		};
		let confirm_call =
			crate::Call::<Test>::confirm_slip { slip_id: 0, record_hash: record_hash(1) };
		let reject_call =
			crate::Call::<Test>::reject_slip { slip_id: 0, reason: RejectReason::Duplicate };
		let admin_call = crate::Call::<Test>::set_institution { institution: HOSPITAL };
		assert!(submit_call.is_feeless(&RuntimeOrigin::signed(DOCTOR)));
		assert!(confirm_call.is_feeless(&RuntimeOrigin::signed(PATIENT)));
		assert!(reject_call.is_feeless(&RuntimeOrigin::signed(PATIENT)));
		assert!(!submit_call.is_feeless(&RuntimeOrigin::signed(STRANGER)));
		assert!(!submit_call.is_feeless(&RuntimeOrigin::signed(SUSPENDED_DOCTOR)));
		assert!(!confirm_call.is_feeless(&RuntimeOrigin::root()));
		assert!(!admin_call.is_feeless(&RuntimeOrigin::signed(DOCTOR)));
	});
}

#[test]
fn unregistered_accounts_cannot_even_queue_slip_calls() {
	new_test_ext().execute_with(|| {
		let call = RuntimeCall::Slips(crate::Call::confirm_slip {
			slip_id: 0,
			record_hash: record_hash(1),
		});
		let check = |who: u64| {
			pallet_kmc::CheckParticipant::<Test>::new()
				.validate_and_prepare(
					RuntimeOrigin::signed(who),
					&call,
					&call.get_dispatch_info(),
					0,
					0,
				)
				.map(|_| ())
		};
		assert_eq!(
			check(STRANGER),
			Err(TransactionValidityError::Invalid(InvalidTransaction::Custom(
				pallet_kmc::INVALID_UNREGISTERED
			)))
		);
		assert_eq!(
			check(SUSPENDED_DOCTOR),
			Err(TransactionValidityError::Invalid(InvalidTransaction::Custom(
				pallet_kmc::INVALID_SUSPENDED
			)))
		);
		assert_ok!(check(PATIENT));
		assert_eq!(pallet_kmc::Pallet::<Test>::quota_used(&PATIENT), 1);
	});
}

#[test]
fn on_initialize_weight_covers_expiry_and_closing() {
	new_test_ext().execute_with(|| {
		let a = submit(3, 1);
		submit(1, 9);
		confirm(a);
		System::set_block_number(1 + PENDING);
		let w = Slips::on_initialize(1 + PENDING);
		// The cursor passed over the confirmed slip and expired the other.
		assert_eq!(
			w,
			<() as WeightInfo>::expire_slips(1)
				.saturating_add(<() as WeightInfo>::pass_slips(1))
				.saturating_add(<() as WeightInfo>::close_batch(3))
		);
	});
}

/// Ids of `patient`'s pending slips, in submission order.
fn pending_ids(patient: u64) -> Vec<SlipId> {
	Slips::pending_slips(&patient).iter().map(|p| p.slip_id).collect()
}

/// Every slip of `patient`, paging through the whole list `limit` positions at a time.
fn all_slips_paged(patient: u64, limit: u32) -> Vec<SlipId> {
	let count = Slips::patient_slip_count(&patient);
	let mut listed = Vec::new();
	let mut start = 0;
	while start < count {
		listed.extend(Slips::patient_slips(&patient, start, limit).into_iter().map(|s| s.0));
		start += limit;
	}
	listed
}

#[test]
fn a_slip_needs_the_patients_recent_visit_proof_for_this_institution() {
	new_test_ext().execute_with(|| {
		let now = NowMs::get();
		let send = |proof| submit_visit(DOCTOR, PATIENT, proof, keywords(1, 1), record_hash(1));
		// A proof of a visit to another hospital relates the patient to that hospital only.
		assert_noop!(
			send(visit_at(PATIENT, OTHER_HOSPITAL, now)),
			Error::<Test>::VisitAtOtherInstitution
		);
		// Another patient's proof does not relate the doctor to this patient.
		assert_noop!(send(visit(OTHER_PATIENT)), Error::<Test>::VisitNotSignedByPatient);
		// The doctor cannot sign one for the patient...
		let statement = VisitStatement { patient: PATIENT, institution: HOSPITAL, issued_at: now };
		let forged = VisitProof {
			institution: HOSPITAL,
			issued_at: now,
			signature: sp_runtime::testing::TestSignature(DOCTOR, statement.signing_payload()),
		};
		assert_noop!(send(forged), Error::<Test>::VisitNotSignedByPatient);
		// ... nor re-date an old one of the patient's.
		let mut redated = visit_at(PATIENT, HOSPITAL, now - VISIT_VALIDITY - 1);
		redated.issued_at = now;
		assert_noop!(send(redated), Error::<Test>::VisitNotSignedByPatient);
		// A proof older than the validity, or dated in the future, is refused.
		assert_noop!(
			send(visit_at(PATIENT, HOSPITAL, now - VISIT_VALIDITY - 1)),
			Error::<Test>::VisitProofExpired
		);
		assert_noop!(
			send(visit_at(PATIENT, HOSPITAL, now + MAX_FUTURE_DRIFT_MS + 1)),
			Error::<Test>::VisitProofInFuture
		);
		// None of them wrote anything.
		assert_eq!(NextSlipId::<Test>::get(), 0);
		assert_eq!(Slips::patient_slip_count(&PATIENT), 0);
		assert!(!PendingSlips::<Test>::contains_key(PATIENT));

		// At the edges it works: exactly `VisitValidity` old, or five minutes ahead.
		assert_ok!(send(visit_at(PATIENT, HOSPITAL, now - VISIT_VALIDITY)));
		assert_ok!(send(visit_at(PATIENT, HOSPITAL, now + MAX_FUTURE_DRIFT_MS)));
		// One visit covers several records, by any doctor of the visited hospital.
		let proof = visit(PATIENT);
		assert_ok!(submit_visit(DOCTOR, PATIENT, proof.clone(), keywords(1, 2), record_hash(2)));
		assert_ok!(submit_visit(COLLEAGUE, PATIENT, proof.clone(), keywords(1, 3), record_hash(3)));
		// Once it is older than `VisitValidity`, the patient must sign a new one.
		NowMs::set(now + VISIT_VALIDITY + 1);
		assert_noop!(
			submit_visit(DOCTOR, PATIENT, proof, keywords(1, 4), record_hash(4)),
			Error::<Test>::VisitProofExpired
		);
		assert_ok!(submit_as(DOCTOR, PATIENT, keywords(1, 4), record_hash(4)));
	});
}

#[test]
fn pending_slips_are_bounded_per_patient_and_per_doctor_until_the_patient_decides() {
	new_test_ext().execute_with(|| {
		// The doctor fills its places with the patient.
		let mine: Vec<SlipId> =
			(0..MAX_PENDING_PER_DOCTOR_PATIENT).map(|i| submit(1, i as u8)).collect();
		assert_noop!(
			submit_as(DOCTOR, PATIENT, keywords(1, 9), record_hash(9)),
			Error::<Test>::TooManyPendingFromDoctor
		);
		// Its other patients are not affected.
		assert_ok!(submit_as(DOCTOR, OTHER_PATIENT, keywords(1, 9), record_hash(9)));
		// A colleague fills the rest of the patient's places (next block: five per block).
		run_to_block(2);
		for i in 0..MAX_PENDING_PER_PATIENT - MAX_PENDING_PER_DOCTOR_PATIENT {
			assert_ok!(submit_as(COLLEAGUE, PATIENT, keywords(1, 20 + i as u8), record_hash(20)));
		}
		assert_eq!(pending_ids(PATIENT).len() as u32, MAX_PENDING_PER_PATIENT);
		// A third doctor, with its own places free, finds the patient's full.
		assert_noop!(
			submit_as(THIRD_DOCTOR, PATIENT, keywords(1, 30), record_hash(30)),
			Error::<Test>::TooManyPendingForPatient
		);
		// Each decision frees a place: a confirmation...
		confirm(mine[0]);
		assert!(!pending_ids(PATIENT).contains(&mine[0]));
		assert_ok!(submit_as(THIRD_DOCTOR, PATIENT, keywords(1, 30), record_hash(30)));
		run_to_block(3);
		assert_noop!(
			submit_as(DOCTOR, PATIENT, keywords(1, 31), record_hash(31)),
			Error::<Test>::TooManyPendingForPatient
		);
		// ... or a rejection.
		assert_ok!(Slips::reject_slip(
			RuntimeOrigin::signed(PATIENT),
			mine[1],
			RejectReason::NotMyRecord
		));
		assert_ok!(submit_as(DOCTOR, PATIENT, keywords(1, 31), record_hash(31)));
		// Decided slips stay in the ledger and the patient's list.
		assert!(matches!(
			Ledger::<Test>::get(mine[0]).unwrap().status,
			SlipStatus::Confirmed { .. }
		));
		assert!(matches!(
			Ledger::<Test>::get(mine[1]).unwrap().status,
			SlipStatus::Rejected { .. }
		));
		assert_eq!(&all_slips_paged(PATIENT, 100)[..2], &mine[..2]);
	});
}

#[test]
fn stale_pending_slips_expire_and_cannot_hold_the_patients_places() {
	new_test_ext().execute_with(|| {
		// Two doctors fill the patient's places, in blocks 1 and 2, and the patient ignores
		// them.
		for i in 0..MAX_PENDING_PER_DOCTOR_PATIENT {
			assert_ok!(submit_as(DOCTOR, PATIENT, keywords(1, i as u8), record_hash(1)));
		}
		run_to_block(2);
		for i in 0..MAX_PENDING_PER_PATIENT - MAX_PENDING_PER_DOCTOR_PATIENT {
			assert_ok!(submit_as(COLLEAGUE, PATIENT, keywords(1, i as u8), record_hash(2)));
		}
		assert_noop!(
			submit_as(THIRD_DOCTOR, PATIENT, keywords(1, 9), record_hash(3)),
			Error::<Test>::TooManyPendingForPatient
		);
		// When the first doctor's period ends, its slips are removed with an event each and
		// their places are free again.
		run_to_block(1 + PENDING);
		let expired: Vec<SlipId> = System::events()
			.iter()
			.filter_map(|r| match &r.event {
				RuntimeEvent::Slips(Event::SlipExpired { slip_id, patient: PATIENT, doctor }) => {
					assert_eq!(*doctor, DOCTOR);
					Some(*slip_id)
				}
				_ => None,
			})
			.collect();
		assert_eq!(expired, vec![0, 1, 2, 3]);
		assert!(expired.iter().all(|id| Ledger::<Test>::get(id).is_none()));
		assert_eq!(pending_ids(PATIENT), vec![4, 5, 6, 7]);
		assert_ok!(submit_as(THIRD_DOCTOR, PATIENT, keywords(1, 9), record_hash(3)));
		run_to_block(2 + PENDING);
		assert_eq!(pending_ids(PATIENT), vec![8]);
		// Only the third doctor's slip is left, and the first doctor may write again.
		assert_eq!(all_slips_paged(PATIENT, 100), vec![8]);
		assert_eq!(Ledger::<Test>::iter_keys().collect::<Vec<_>>(), vec![8]);
		assert_ok!(submit_as(DOCTOR, PATIENT, keywords(1, 10), record_hash(4)));
		// An expired slip can no longer be decided.
		assert_noop!(
			Slips::confirm_slip(RuntimeOrigin::signed(PATIENT), 0, record_hash(1)),
			Error::<Test>::SlipExpired
		);
	});
}

#[test]
fn a_spamming_doctor_cannot_bury_the_patients_real_slips() {
	new_test_ext().execute_with(|| {
		// Doctors with no visit of the patient cannot write about them at all: not with
		// another patient's proof, nor with the patient's proof for another hospital.
		assert_noop!(
			submit_visit(THIRD_DOCTOR, PATIENT, visit(OTHER_PATIENT), keywords(1, 1), H256::zero()),
			Error::<Test>::VisitNotSignedByPatient
		);
		assert_noop!(
			submit_visit(
				THIRD_DOCTOR,
				PATIENT,
				visit_at(PATIENT, OTHER_HOSPITAL, NowMs::get()),
				keywords(1, 1),
				H256::zero()
			),
			Error::<Test>::VisitAtOtherInstitution
		);
		// A colleague who did see the patient (a real proof) tries two slips every block for
		// three pending periods; the patient ignores them. Meanwhile the doctor writes a real
		// record every ten blocks, which the patient confirms.
		let proof = visit(PATIENT);
		let mut real = Vec::new();
		let mut spam_accepted = 0;
		for block in 1..=3 * PENDING {
			run_to_block(block);
			for _ in 0..2 {
				let r =
					submit_visit(COLLEAGUE, PATIENT, proof.clone(), keywords(1, 7), H256::zero());
				match r {
					Ok(()) => spam_accepted += 1,
					Err(e) => assert_eq!(e, Error::<Test>::TooManyPendingFromDoctor.into()),
				}
			}
			if block % 10 == 1 {
				let id = submit(2, block as u8);
				confirm(id);
				real.push(id);
			}
		}
		// The colleague got at most its pending places per pending period in.
		assert_eq!(spam_accepted, 3 * MAX_PENDING_PER_DOCTOR_PATIENT);
		// What is kept about the patient: the real slips and the spam still pending, no more.
		let kept: Vec<SlipId> = Ledger::<Test>::iter()
			.filter(|(_, s)| s.patient == PATIENT)
			.map(|(id, _)| id)
			.collect();
		assert_eq!(kept.len(), real.len() + MAX_PENDING_PER_DOCTOR_PATIENT as usize);
		// Paging through the whole list finds every one of them, in submission order.
		let mut expected = kept.clone();
		expected.sort();
		for limit in [1, 3, 100] {
			assert_eq!(all_slips_paged(PATIENT, limit), expected);
		}
		for id in &real {
			assert!(matches!(
				Ledger::<Test>::get(id).unwrap().status,
				SlipStatus::Confirmed { .. }
			));
		}
	});
}

#[test]
fn patient_slips_is_capped_per_call_and_pages_cover_every_position() {
	// Fills a patient's list with copies of one slip: without the invariant checks.
	new_test_ext().into_inner().execute_with(|| {
		let ids: Vec<SlipId> = (0..4).map(|i| submit(1, i)).collect();
		// Positions, not slips: a slip removed by expiry leaves a gap a page skips.
		run_to_block(1 + PENDING);
		assert!(Slips::patient_slips(&PATIENT, 0, 100).is_empty());
		assert_eq!(Slips::patient_slip_count(&PATIENT), 4);
		let later: Vec<SlipId> = (0..3).map(|i| submit(1, 10 + i)).collect();
		assert_eq!(Slips::patient_slips(&PATIENT, 3, 2).len(), 1);
		assert_eq!(all_slips_paged(PATIENT, 2), later);
		assert!(ids.iter().all(|id| Ledger::<Test>::get(id).is_none()));
		// One call reads at most `MAX_SLIPS_PER_QUERY` positions.
		PatientSlipCount::<Test>::insert(PATIENT, MAX_SLIPS_PER_QUERY + 10);
		for n in 0..MAX_SLIPS_PER_QUERY + 10 {
			PatientSlipAt::<Test>::insert(PATIENT, n, later[0]);
		}
		assert_eq!(Slips::patient_slips(&PATIENT, 0, u32::MAX).len() as u32, MAX_SLIPS_PER_QUERY);
		assert_eq!(Slips::patient_slips(&PATIENT, MAX_SLIPS_PER_QUERY, u32::MAX).len(), 10);
	});
}

#[test]
fn integrity_test_passes() {
	new_test_ext().execute_with(|| {
		<Slips as Hooks<u64>>::integrity_test();
	});
}

/// A suspended hospital's doctors no longer write slips for it; they may again once the KMC
/// reinstates it.
#[test]
fn a_suspended_institutions_doctors_cannot_submit_slips_for_it() {
	new_test_ext().execute_with(|| {
		assert_ok!(<Kmc as SuspendParticipant<u64>>::suspend(&HOSPITAL));
		assert_noop!(
			submit_as(DOCTOR, PATIENT, keywords(1, 1), record_hash(1)),
			Error::<Test>::InstitutionSuspended
		);
		assert_ok!(Kmc::reinstate(RuntimeOrigin::root(), HOSPITAL));
		assert_ok!(submit_as(DOCTOR, PATIENT, keywords(1, 1), record_hash(1)));
	});
}

/// A ledger with a slip of every kind: confirmed into a closed batch (`closed`), confirmed into
/// the open batch (`open`), rejected, and pending.
struct EveryKind {
	closed: SlipId,
	open: SlipId,
	pending: SlipId,
}

fn ledger_with_every_kind_of_slip() -> EveryKind {
	let closed = submit(2, 1);
	confirm(closed);
	run_to_block(1 + BATCH_BLOCKS);
	assert!(Batches::<Test>::contains_key(0), "batch 0 closed");
	let open = submit(1, 2);
	confirm(open);
	let rejected = submit(1, 3);
	assert_ok!(Slips::reject_slip(
		RuntimeOrigin::signed(PATIENT),
		rejected,
		RejectReason::Duplicate
	));
	let pending = submit(1, 4);
	EveryKind { closed, open, pending }
}

/// `do_try_state` holds through a slip's whole life (every test ends with it), and catches each
/// kind of corruption of the ledger's indices, counters and batches, naming the invariant.
#[test]
fn try_state_names_each_broken_invariant() {
	use mbds_primitives::invariants::message_of;
	// Runs `corrupt` on a ledger with every kind of slip; the broken invariant's message.
	fn broken(corrupt: impl FnOnce(EveryKind)) -> &'static str {
		new_test_ext().into_inner().execute_with(|| {
			let slips = ledger_with_every_kind_of_slip();
			assert_ok!(Slips::do_try_state());
			corrupt(slips);
			message_of(&Slips::do_try_state().expect_err("the corruption is caught"))
		})
	}
	let cases: [(&str, &'static str); 12] = [
		(
			"slips: every pending slip is in its patient's pending index",
			broken(|_| PendingSlips::<Test>::remove(PATIENT)),
		),
		(
			"slips: a pending index entry is a pending slip of that patient and doctor",
			broken(|s| {
				PendingSlips::<Test>::mutate(PATIENT, |index| {
					index
						.try_insert(0, PendingSlip { slip_id: s.open, doctor: DOCTOR, position: 0 })
						.unwrap()
				})
			}),
		),
		(
			"slips: every pending slip is at or after the expiry cursor, or in the expiry queue of the block its period ends at",
			broken(|s| ExpiryCursor::<Test>::put(s.pending + 1)),
		),
		(
			"slips: the expiry cursor is at most the next slip id",
			broken(|_| ExpiryCursor::<Test>::put(NextSlipId::<Test>::get() + 1)),
		),
		(
			"slips: every slip is at a position of its patient's list",
			broken(|_| PatientSlipAt::<Test>::remove(PATIENT, 0)),
		),
		(
			"slips: a slip is at one position of its patient's list",
			broken(|s| PatientSlipAt::<Test>::insert(PATIENT, 1, s.closed)),
		),
		(
			"slips: a closed batch's root is the Merkle root over its items",
			broken(|_| Batches::<Test>::mutate(0, |b| b.as_mut().unwrap().root = H256::zero())),
		),
		(
			"slips: a closed batch has all its items",
			broken(|_| BatchItems::<Test>::remove(0, 1)),
		),
		(
			"slips: the open batch's leaf hashes are its items' hashes",
			broken(|_| OpenLeaves::<Test>::put(BoundedVec::truncate_from(vec![H256::zero()]))),
		),
		(
			"slips: the open batch is the newest and has items",
			broken(|_| NextBatchId::<Test>::put(5)),
		),
		(
			"slips: a summary item belongs to a slip confirmed into its batch, with its patient, record and categories",
			broken(|s| {
				Ledger::<Test>::mutate(s.open, |slip| {
					slip.as_mut().unwrap().status = SlipStatus::Confirmed { at: 1, batch: 0 }
				})
			}),
		),
		(
			"slips: this chain's institution is a registered institution",
			broken(|_| Institution::<Test>::put(PATIENT)),
		),
	];
	for (invariant, message) in cases {
		assert!(message.starts_with(invariant), "expected {invariant:?}, got {message:?}");
	}
	// The detail names the item: here the pending slip missing from the index.
	let message = broken(|_| PendingSlips::<Test>::remove(PATIENT));
	assert!(message.contains("slip 3 of 3 by 2"), "{message}");
}

#[test]
fn the_cursor_passes_over_decided_slips_within_its_budget_and_reports_its_work() {
	new_test_ext().execute_with(|| {
		// More decided slips than the cursor passes over in a block, then one undecided.
		let decided = (MAX_EXPIRIES_PER_BLOCK * PASSES_PER_EXPIRY + 3) as usize;
		for i in 0..decided {
			let id = submit(1, i as u8);
			assert_ok!(Slips::reject_slip(
				RuntimeOrigin::signed(PATIENT),
				id,
				RejectReason::Other(1)
			));
		}
		let late = submit(1, 200);
		System::set_block_number(1 + PENDING);
		let (expired, passed) = Slips::expire_pending(1 + PENDING);
		assert_eq!((expired, passed), (0, MAX_EXPIRIES_PER_BLOCK * PASSES_PER_EXPIRY));
		assert_eq!(
			ExpiryCursor::<Test>::get(),
			(MAX_EXPIRIES_PER_BLOCK * PASSES_PER_EXPIRY) as u64
		);
		// The next block passes the last three decided ones and expires the undecided one.
		System::set_block_number(2 + PENDING);
		assert_eq!(Slips::expire_pending(2 + PENDING), (1, 3));
		assert!(!Ledger::<Test>::contains_key(late));
		assert_eq!(ExpiryCursor::<Test>::get(), NextSlipId::<Test>::get());
		// Nothing left: an idle block reads no slip.
		assert_eq!(Slips::expire_pending(3 + PENDING), (0, 0));
	});
}
