//! Benchmarks of `pallet-kmc`, each at its worst case.

use super::*;
use crate::Pallet as Kmc;
use frame_benchmarking::v2::*;
use frame_support::traits::EnsureOrigin;
use mbds_primitives::InstitutionKind;
use sp_core::H256;

/// A key set with both keys at the largest allowed size.
fn max_keys<T: Config>(seed: u8) -> KeySetOf<T> {
	let len = T::MaxKeyLen::get() as usize;
	let key = |b: u8| PublicKey {
		scheme: KeyScheme::Other(7),
		key: alloc::vec![b; len].try_into().expect("exactly MaxKeyLen"),
	};
	KeySet { record_key: key(seed), search_key: key(seed.wrapping_add(1)) }
}

fn hospital<T: Config>() -> T::AccountId {
	let h: T::AccountId = account("hospital", 0, 0);
	Kmc::<T>::do_register(
		h.clone(),
		Role::Institution(InstitutionKind::Hospital),
		H256::repeat_byte(0xAA),
		max_keys::<T>(1),
		ParticipantStatus::Active,
	);
	h
}

fn patient<T: Config>() -> T::AccountId {
	let p: T::AccountId = account("patient", 0, 0);
	Kmc::<T>::do_register(
		p.clone(),
		Role::Patient,
		H256::repeat_byte(0xBB),
		max_keys::<T>(3),
		ParticipantStatus::Active,
	);
	p
}

#[benchmarks]
mod benchmarks {
	use super::*;

	// Worst case: a doctor, whose institution is read and checked as well.
	#[benchmark]
	fn register() -> Result<(), BenchmarkError> {
		let origin =
			T::KmcOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let institution = hospital::<T>();
		let who: T::AccountId = account("doctor", 0, 0);
		let role = Role::Doctor { institution };

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone(), role, H256::repeat_byte(0xCC), max_keys::<T>(5));

		assert!(Participants::<T>::contains_key(&who));
		Ok(())
	}

	// Worst case: the history is full, so the oldest entry is dropped. `rotate_own_keys` does
	// the same storage work and is charged this weight.
	#[benchmark]
	fn rotate_keys() -> Result<(), BenchmarkError> {
		let council =
			|| T::CouncilOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless);
		let origin = council()?;
		let who = patient::<T>();
		for i in 0..T::MaxKeyHistory::get() {
			Kmc::<T>::rotate_keys(council()?, who.clone(), max_keys::<T>(10 + (i % 200) as u8))?;
		}
		let new = max_keys::<T>(250);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone(), new.clone());

		assert_eq!(ActiveKeys::<T>::get(&who), Some(new));
		Ok(())
	}

	#[benchmark]
	fn suspend() -> Result<(), BenchmarkError> {
		let origin =
			T::KmcOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let who = patient::<T>();

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone());

		assert!(!Kmc::<T>::is_active(&who));
		Ok(())
	}

	// Worst case: suspended by an automatic safeguard, so who suspended is read too.
	#[benchmark]
	fn reinstate() -> Result<(), BenchmarkError> {
		let origin =
			T::CouncilOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)?;
		let who = patient::<T>();
		Kmc::<T>::do_suspend(&who, Suspender::Automatic)?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone());

		assert!(Kmc::<T>::is_active(&who));
		Ok(())
	}

	// The hospital confirms a doctor the KMC registered.
	#[benchmark]
	fn employ() -> Result<(), BenchmarkError> {
		let institution = hospital::<T>();
		let doctor: T::AccountId = account("doctor", 0, 0);
		Kmc::<T>::do_register(
			doctor.clone(),
			Role::Doctor { institution: institution.clone() },
			H256::repeat_byte(0xCC),
			max_keys::<T>(5),
			ParticipantStatus::AwaitingInstitution,
		);

		#[extrinsic_call]
		_(frame_system::RawOrigin::Signed(institution), doctor.clone());

		assert!(Kmc::<T>::is_active(&doctor));
		Ok(())
	}

	// What `CheckParticipant` does for one medical transaction: check, then count.
	#[benchmark]
	fn check_participant() {
		let who = patient::<T>();
		Kmc::<T>::note_feeless(&who, QuotaKind::Own);

		#[block]
		{
			Kmc::<T>::check_feeless(&who, false, false).expect("active with quota left");
			Kmc::<T>::note_feeless(&who, QuotaKind::Own);
		}

		assert_eq!(Kmc::<T>::quota_used(&who), 2);
	}

	impl_benchmark_test_suite!(Kmc, crate::mock::new_test_ext(), crate::mock::Test);
}
