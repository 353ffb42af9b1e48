//! Benchmarks of the credit pallet: every call, plus the per-block authorship hook, the
//! per-offender offence handling and the per-session election.

use super::*;
use frame_benchmarking::v2::*;
use frame_support::traits::EnsureOrigin;
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use pallet_authorship::EventHandler;
use pallet_session::SessionManager;

fn consortium<T: Config>() {
	T::BenchmarkHelper::set_chain_kind(ChainKind::Consortium);
}

fn dims(i: u32) -> CreditDimensions {
	let d = (i % (MAX_DIMENSION as u32 + 1)) as u8;
	CreditDimensions { grade: d, deployment_scale: MAX_DIMENSION - d, enterprise_strength: d / 2 }
}

/// A registered institution `i`, straight into storage.
fn institution<T: Config>(i: u32, willing: bool) -> T::AccountId {
	let who: T::AccountId = account("institution", i, 0);
	Institutions::<T>::insert(
		&who,
		Institution { dimensions: dims(i), performance: 0, willing, last_offence_session: None },
	);
	who
}

fn governance<T: Config>() -> Result<T::RuntimeOrigin, BenchmarkError> {
	T::GovernanceOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)
}

fn auditor<T: Config>() -> Result<T::RuntimeOrigin, BenchmarkError> {
	T::AuditOrigin::try_successful_origin().map_err(|_| BenchmarkError::Weightless)
}

#[benchmarks(where T: pallet_session::Config<ValidatorId = <T as frame_system::Config>::AccountId>)]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_institution() -> Result<(), BenchmarkError> {
		consortium::<T>();
		let origin = governance::<T>()?;
		let who: T::AccountId = account("institution", 0, 0);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone(), dims(70));

		assert!(Institutions::<T>::contains_key(&who));
		Ok(())
	}

	#[benchmark]
	fn update_dimensions() -> Result<(), BenchmarkError> {
		consortium::<T>();
		let origin = governance::<T>()?;
		let who = institution::<T>(1, true);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone(), dims(90));

		assert_eq!(Institutions::<T>::get(&who).map(|i| i.dimensions), Some(dims(90)));
		Ok(())
	}

	#[benchmark]
	fn deregister_institution() -> Result<(), BenchmarkError> {
		consortium::<T>();
		let origin = governance::<T>()?;
		let who = institution::<T>(1, true);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone());

		assert!(!Institutions::<T>::contains_key(&who));
		Ok(())
	}

	#[benchmark]
	fn set_willing() {
		consortium::<T>();
		let who = institution::<T>(1, false);

		#[extrinsic_call]
		_(RawOrigin::Signed(who.clone()), true);

		assert_eq!(Institutions::<T>::get(&who).map(|i| i.willing), Some(true));
	}

	#[benchmark]
	fn set_credit_weights() -> Result<(), BenchmarkError> {
		consortium::<T>();
		let origin = governance::<T>()?;
		let weights = ScoreWeights { grade: 5, deployment_scale: 3, enterprise_strength: 2 };

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, weights);

		assert_eq!(CreditWeights::<T>::get(), weights);
		Ok(())
	}

	#[benchmark]
	fn set_election_params() -> Result<(), BenchmarkError> {
		consortium::<T>();
		let origin = governance::<T>()?;
		let params = ElectionParams {
			rpn_count: T::MaxRpn::get(),
			atn_count: T::MaxAtn::get(),
			credit_threshold: 1_000,
			min_rpn: 1,
		};

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, params);

		assert_eq!(Params::<T>::get(), params);
		Ok(())
	}

	#[benchmark]
	fn report_audit_failure() -> Result<(), BenchmarkError> {
		consortium::<T>();
		let origin = auditor::<T>()?;
		let who = institution::<T>(1, true);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone());

		assert!(Institutions::<T>::get(&who).is_some_and(|i| i.performance < 0));
		Ok(())
	}

	#[benchmark]
	fn record_service() -> Result<(), BenchmarkError> {
		consortium::<T>();
		let origin = auditor::<T>()?;
		let who = institution::<T>(1, true);

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone());

		assert!(Institutions::<T>::get(&who).is_some_and(|i| i.performance >= 0));
		Ok(())
	}

	#[benchmark]
	fn set_private_validators(
		v: Linear<1, { T::MaxRpn::get().saturating_add(T::MaxAtn::get()) }>,
	) -> Result<(), BenchmarkError> {
		T::BenchmarkHelper::set_chain_kind(ChainKind::Hospital);
		let origin = governance::<T>()?;
		let validators: Vec<T::AccountId> = (0..v)
			.map(|i| {
				let who: T::AccountId = account("validator", i, 0);
				T::BenchmarkHelper::register_session_keys(&who);
				who
			})
			.collect();
		let validators: PrivateSetOf<T> =
			validators.try_into().map_err(|_| BenchmarkError::Stop("too many validators"))?;

		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, validators.clone());

		assert_eq!(PendingPrivateValidators::<T>::get(), Some(validators));
		Ok(())
	}

	/// Per authored block, in `on_initialize` (registered as extra weight).
	#[benchmark]
	fn note_author() {
		consortium::<T>();
		let who = institution::<T>(1, true);

		#[block]
		{
			<Pallet<T> as EventHandler<T::AccountId, BlockNumberFor<T>>>::note_author(who.clone());
		}

		assert!(Institutions::<T>::get(&who).is_some_and(|i| i.performance > 0));
	}

	/// Per offender of an offence report.
	#[benchmark]
	fn penalise_offender() {
		consortium::<T>();
		let who = institution::<T>(1, true);

		#[block]
		{
			Pallet::<T>::penalise(&who, PenaltyReason::Offence, 1_000, Some(1));
		}

		assert!(Institutions::<T>::get(&who).is_some_and(|i| i.last_offence_session == Some(1)));
	}

	/// The election at a session rotation, with `n` registered institutions (all willing and
	/// with keys: the worst case).
	#[benchmark]
	fn elect(n: Linear<1, { T::MaxInstitutions::get() }>) {
		consortium::<T>();
		Params::<T>::put(ElectionParams {
			rpn_count: T::MaxRpn::get(),
			atn_count: T::MaxAtn::get(),
			credit_threshold: 0,
			min_rpn: 1,
		});
		for i in 0..n {
			let who = institution::<T>(i, true);
			T::BenchmarkHelper::register_session_keys(&who);
		}
		let result;

		#[block]
		{
			result = <Pallet<T> as SessionManager<T::AccountId>>::new_session(1_000);
		}

		assert!(result.is_some());
	}

	// Worst case: every voter of the largest set signed (each precommit verified twice: the
	// threshold check and the per-voter count), every voter's tally written.
	#[benchmark]
	fn note_finality_votes(v: Linear<4, { T::MaxVoters::get() }>) {
		use sp_runtime::traits::Header as _;
		consortium::<T>();
		let keys: Vec<bp_test_utils::Account> =
			(0..v).map(|i| bp_test_utils::Account(i as u16)).collect();
		let voters: Vec<(GrandpaId, T::AccountId)> = keys
			.iter()
			.enumerate()
			.map(|(i, k)| (GrandpaId::from(*k), account("voter", i as u32, 0)))
			.collect();
		T::BenchmarkHelper::set_finality_voters(&voters);
		let number: BlockNumberFor<T> = 1u32.into();
		let header =
			bp_test_utils::test_header::<frame_system::pallet_prelude::HeaderFor<T>>(number);
		frame_system::BlockHash::<T>::insert(number, header.hash());
		frame_system::Pallet::<T>::set_block_number(2u32.into());
		let justification = bp_test_utils::make_justification_for_header(
			bp_test_utils::JustificationGeneratorParams {
				header,
				round: 1,
				set_id: 0,
				authorities: keys.iter().map(|k| (*k, 1)).collect(),
				ancestors: 0,
				forks: 1,
			},
		);

		#[extrinsic_call]
		_(RawOrigin::None, justification);

		assert_eq!(VoteTallies::<T>::count(), v);
		assert!(VoteTallies::<T>::iter().all(|(_, tally)| tally == (1, 1)));
	}

	// Without the mock's invariant checks after each benchmark: `set_private_validators`
	// turns the consortium mock, institutions and all, into a hospital chain, a state no chain
	// reaches (a chain's kind is fixed in its genesis) and `do_try_state` refuses.
	impl_benchmark_test_suite!(
		Pallet,
		crate::mock::ExtBuilder::default().build().into_inner(),
		crate::mock::Test
	);
}
