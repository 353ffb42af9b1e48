//! Stories of the consortium's election, run through the real `pallet-session` and
//! `pallet-offences`.
//!
//! Timing reminder: `pallet-session` plans session `n + 1` while starting session `n`. A
//! credit change during session `n` is seen by the election at the next rotation (planning
//! session `n + 2`); the new roles are active from session `n + 2` on.

use crate::{mock::*, *};
use codec::Encode;
use frame_support::inherent::ProvideInherent as _;
use frame_support::{assert_noop, assert_ok, traits::FindAuthor};
use pallet_authorship::EventHandler;
use pallet_session::SessionHandler;
use sp_runtime::{
	testing::{TestSignature, UintAuthorityId},
	BuildStorage, DispatchError,
};
use sp_staking::offence::{Kind, Offence, ReportOffence};

fn root() -> RuntimeOrigin {
	RuntimeOrigin::root()
}
fn signed(who: AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

/// `session.set_keys` with a valid proof of possession, as an operator's node produces it.
fn set_session_keys(who: AccountId) {
	let proof = TestSignature(who, who.encode()).encode();
	assert_ok!(Session::set_keys(signed(who), keys_of(who), proof));
}

fn roles() -> (Vec<AccountId>, Vec<AccountId>) {
	let r = CurrentRoles::<Test>::get();
	(r.rpn.into_inner(), r.atn.into_inner())
}

fn credit(who: AccountId) -> CreditPoints {
	Credit::credit_of(&who).expect("registered")
}

fn params(rpn: u32, atn: u32, threshold: CreditPoints) -> ElectionParams {
	ElectionParams { rpn_count: rpn, atn_count: atn, credit_threshold: threshold, min_rpn: 1 }
}

/// A GRANDPA-like equivocation for `pallet-offences`.
struct Equivocation {
	session: SessionIndex,
	round: u64,
	offenders: Vec<(AccountId, ())>,
	validators: u32,
}

impl Offence<(AccountId, ())> for Equivocation {
	const ID: Kind = *b"test:equivocatio";
	type Slot = u64;
	fn offenders(&self) -> Vec<(AccountId, ())> {
		self.offenders.clone()
	}
	fn session_index(&self) -> SessionIndex {
		self.session
	}
	fn validator_set_count(&self) -> u32 {
		self.validators
	}
	fn slot(&self) -> u64 {
		self.round
	}
	fn slash_fraction(&self, offenders_count: u32) -> sp_runtime::Perbill {
		// GRANDPA's rule: (3k / n)^2, capped at 1.
		let x = sp_runtime::Perbill::from_rational(3 * offenders_count, self.validators);
		x.square()
	}
}

#[test]
fn genesis_elects_rpn_then_atn_and_only_rpn_author() {
	ExtBuilder::default().build().execute_with(|| {
		// Credits 9000, 8000, ..., 3000 for accounts 1..=7; 3 RPN and 2 ATN.
		assert_eq!(roles(), (vec![1, 2, 3], vec![4, 5]));
		assert_eq!(session_validators(), vec![1, 2, 3, 4, 5]);
		// Aura gets the RPN only; GRANDPA votes with RPN and ATN.
		assert_eq!(aura_authors(), vec![1, 2, 3]);
		assert_eq!(grandpa_voters(), vec![1, 2, 3, 4, 5]);

		// The roles hold across sessions while credits do not change.
		start_session(3);
		assert_eq!(roles(), (vec![1, 2, 3], vec![4, 5]));
		assert_eq!(aura_authors(), vec![1, 2, 3]);
		assert_eq!(grandpa_voters(), vec![1, 2, 3, 4, 5]);
	});
}

#[test]
fn ranking_and_split_break_ties_by_lower_account_id() {
	// Three institutions tie at 8000 across the RPN/ATN boundary, two tie at 5000 across the
	// ATN/out boundary.
	let institutions = vec![
		(9, 80, true, true),
		(4, 90, true, true),
		(5, 80, true, true),
		(3, 80, true, true),
		(8, 50, true, true),
		(6, 50, true, true),
	];
	ExtBuilder::default()
		.institutions(institutions)
		.params(params(2, 3, 3_000))
		.build()
		.execute_with(|| {
			let ranking: Vec<_> = Credit::ranking();
			assert_eq!(
				ranking,
				vec![(4, 9_000), (3, 8_000), (5, 8_000), (9, 8_000), (6, 5_000), (8, 5_000)]
			);
			assert_eq!(roles(), (vec![4, 3], vec![5, 9, 6]));
			assert_eq!(session_validators(), vec![4, 3, 5, 9, 6]);
			assert_eq!(aura_authors(), vec![4, 3]);

			// The same state always gives the same election.
			assert_eq!(Credit::elect(7).unwrap().rpn.into_inner(), vec![4, 3]);
			assert_eq!(Credit::elect(7).unwrap().atn.into_inner(), vec![5, 9, 6]);
		});
}

/// RPN 1, 2, 3 (3 barely above the threshold), ATN 4, 5, then 6, and 7 under the threshold.
fn threshold_consortium() -> ExtBuilder {
	ExtBuilder::default()
		.institutions(vec![
			(1, 90, true, true),
			(2, 80, true, true),
			(3, 40, true, true),
			(4, 38, true, true),
			(5, 36, true, true),
			(6, 34, true, true),
			(7, 20, true, true),
		])
		.params(params(3, 2, 3_000))
}

#[test]
fn an_rpn_whose_node_is_down_loses_credit_per_missed_slot_and_is_replaced() {
	threshold_consortium().build().execute_with(|| {
		assert_eq!(roles(), (vec![1, 2, 3], vec![4, 5]));
		assert_eq!(aura_authors(), vec![1, 2, 3]);
		let (c1, c2, c3) = (credit(1), credit(2), credit(3));

		// Slot k belongs to author k mod 3. Institution 3's node is down: blocks come at the
		// slots of 1 and 2 only, and 3's slots 32, 35 and 38 pass without a block.
		for (slot, author) in [(30, 1), (31, 2), (33, 1), (34, 2), (36, 1), (37, 2), (39, 1)] {
			MockSlot::set(Some(slot));
			Credit::note_author(author);
		}
		// A block of 2 is lost (slot 40, e.g. orphaned by a fork), with 3's slot 41.
		MockSlot::set(Some(42));
		Credit::note_author(1);
		assert_eq!(MissedSlots::<Test>::get(3), Some(4));
		assert_eq!(MissedSlots::<Test>::get(2), Some(1));
		assert_eq!(MissedSlots::<Test>::get(1), None);
		// A gap of a whole rotation (every author missed: the chain stalled) counts against
		// nobody, nor does a block without a slot in its digest.
		MockSlot::set(Some(51));
		Credit::note_author(1);
		MockSlot::set(None);
		Credit::note_author(1);
		assert_eq!(LastAuthoredSlot::<Test>::get(), Some(51));
		assert_eq!(MissedSlots::<Test>::get(3), Some(4));
		// Nothing is charged before the session ends.
		assert_eq!(credit(3), c3);

		// Planning the next session charges the session's tallies: 3 missed 4 slots and
		// filled none (4 x 400 = 1600, under the 3000 threshold); 2 missed one but filled
		// three, so a lost block costs it nothing.
		start_session(1);
		assert_eq!(credit(3), c3 - 1_600);
		assert_eq!(credit(2), c2 + 3);
		assert_eq!(credit(1), c1 + 7);
		System::assert_has_event(
			Event::CreditPenalised {
				who: 3,
				reason: PenaltyReason::MissedSlot,
				amount: 1_600,
				credit: c3 - 1_600,
			}
			.into(),
		);
		assert_eq!(MissedSlots::<Test>::count(), 0);
		assert_eq!(AuthoredSlots::<Test>::count(), 0);

		// The election replaces it: session 2 is elected without 3, the best ATN takes its seat
		// and the stand-by 6 becomes an audit node.
		System::assert_has_event(
			Event::RolesElected {
				session: 2,
				rpn: vec![1, 2, 4].try_into().unwrap(),
				atn: vec![5, 6].try_into().unwrap(),
			}
			.into(),
		);
		start_session(2);
		assert_eq!(roles(), (vec![1, 2, 4], vec![5, 6]));
		assert_eq!(aura_authors(), vec![1, 2, 4]);
		assert!(!session_validators().contains(&3));
	});
}

#[test]
fn audit_failure_pushes_rpn_under_threshold_top_atn_replaces_it_next_promoted() {
	threshold_consortium().build().execute_with(|| {
		assert_eq!(roles(), (vec![1, 2, 3], vec![4, 5]));

		// The audit committee finds a block of institution 3 invalid: 4000 - 1500 < 3000.
		assert_ok!(Credit::report_audit_failure(signed(AUDITOR), 3));
		assert_eq!(credit(3), 2_500);
		System::assert_has_event(
			Event::CreditPenalised {
				who: 3,
				reason: PenaltyReason::AuditFailure,
				amount: 1_500,
				credit: 2_500,
			}
			.into(),
		);

		// Next rotation: session 1 (planned at genesis) starts unchanged, session 2 is elected
		// without 3: the best ATN (4) takes the RPN seat, 6 becomes ATN.
		start_session(1);
		assert_eq!(roles(), (vec![1, 2, 3], vec![4, 5]));
		assert_eq!(aura_authors(), vec![1, 2, 3]);
		System::assert_has_event(
			Event::RolesElected {
				session: 2,
				rpn: vec![1, 2, 4].try_into().unwrap(),
				atn: vec![5, 6].try_into().unwrap(),
			}
			.into(),
		);

		start_session(2);
		assert_eq!(roles(), (vec![1, 2, 4], vec![5, 6]));
		assert_eq!(session_validators(), vec![1, 2, 4, 5, 6]);
		assert_eq!(aura_authors(), vec![1, 2, 4]);
		assert_eq!(grandpa_voters(), vec![1, 2, 4, 5, 6]);
		// 7 stays out: under the threshold from the start.
		assert!(!session_validators().contains(&7));

		// The promoted institution authors: Aura's author index 2 is now institution 4, and
		// its blocks earn it credit.
		SlotAuthorIndex::set(Some(2));
		let author =
			FindRepresentativeAuthor::<Test, SlotAuthorIndex>::find_author(core::iter::empty());
		assert_eq!(author, Some(4));
		let before = credit(4);
		Credit::note_author(4);
		assert_eq!(credit(4), before + 1);
	});
}

#[test]
fn unwilling_unregistered_or_keyless_institutions_are_never_elected() {
	ExtBuilder::default()
		.institutions(vec![
			(1, 90, true, true),
			// The best graded, but not willing to serve.
			(2, 100, false, true),
			// Willing, but its node has no session keys.
			(3, 100, true, false),
			(4, 50, true, true),
		])
		.params(params(3, 2, 3_000))
		.build()
		.execute_with(|| {
			assert_eq!(roles(), (vec![1, 4], vec![]));

			// A stranger with session keys but no registration is no candidate.
			set_session_keys(STRANGER);
			start_session(4);
			assert_eq!(roles(), (vec![1, 4], vec![]));
			assert!(!session_validators().contains(&STRANGER));
			assert!(!session_validators().contains(&2));
			assert!(!session_validators().contains(&3));
			assert_eq!(aura_authors(), vec![1, 4]);

			// Once 2 is willing and 3 has keys, both are elected (by credit, ties by id).
			assert_ok!(Credit::set_willing(signed(2), true));
			System::assert_has_event(Event::WillingnessChanged { who: 2, willing: true }.into());
			set_session_keys(3);
			start_session(6);
			assert_eq!(roles(), (vec![2, 3, 1], vec![4]));
			assert_eq!(aura_authors(), vec![2, 3, 1]);

			// Withdrawing willingness takes 2 out again.
			assert_ok!(Credit::set_willing(signed(2), false));
			start_session(8);
			assert_eq!(roles(), (vec![3, 1, 4], vec![]));
		});
}

#[test]
fn reported_equivocation_lowers_credit_once_and_ejects_at_next_sessions() {
	threshold_consortium().build().execute_with(|| {
		// A GRANDPA equivocation of RPN 3 in round 7 of session 0, reported by 1.
		assert_ok!(Offences::report_offence(
			vec![1],
			Equivocation { session: 0, round: 7, offenders: vec![(3, ())], validators: 5 }
		));
		// (3/5)^2 = 36 % of 10 000 = 3600 > OffencePenalty (2000).
		assert_eq!(credit(3), 400);
		System::assert_has_event(
			Event::CreditPenalised {
				who: 3,
				reason: PenaltyReason::Offence,
				amount: 3_600,
				credit: 400,
			}
			.into(),
		);

		// A second offender in the same round: `pallet-offences` re-lists 3, which pays once.
		assert_ok!(Offences::report_offence(
			vec![2],
			Equivocation { session: 0, round: 7, offenders: vec![(4, ())], validators: 5 }
		));
		assert_eq!(credit(3), 400);
		// Two offenders: (6/5)^2 capped at 100 % of 10 000 (the floor is -10 000).
		assert_eq!(Institutions::<Test>::get(4).unwrap().performance, -10_000);
		assert_eq!(credit(4), 0);

		// An offender that is no institution is ignored.
		assert_ok!(Offences::report_offence(
			vec![1],
			Equivocation { session: 0, round: 8, offenders: vec![(STRANGER, ())], validators: 5 }
		));
		assert!(Institutions::<Test>::get(STRANGER).is_none());

		start_session(2);
		assert_eq!(roles(), (vec![1, 2, 5], vec![6]));
		assert_eq!(aura_authors(), vec![1, 2, 5]);
		assert_eq!(grandpa_voters(), vec![1, 2, 5, 6]);
	});
}

#[test]
fn offence_in_a_later_session_costs_again() {
	ExtBuilder::default().build().execute_with(|| {
		let before = credit(1);
		let weight =
			<Credit as sp_staking::offence::OnOffenceHandler<_, (AccountId, ()), _>>::on_offence(
				&[sp_staking::offence::OffenceDetails { offender: (1, ()), reporters: vec![] }],
				&[sp_runtime::Perbill::zero()],
				0,
			);
		assert!(weight.ref_time() > 0);
		assert_eq!(credit(1), before - 2_000);
		// Same session: already paid.
		<Credit as sp_staking::offence::OnOffenceHandler<_, (AccountId, ()), _>>::on_offence(
			&[sp_staking::offence::OffenceDetails { offender: (1, ()), reporters: vec![] }],
			&[sp_runtime::Perbill::zero()],
			0,
		);
		assert_eq!(credit(1), before - 2_000);
		// Another session: a new offence.
		<Credit as sp_staking::offence::OnOffenceHandler<_, (AccountId, ()), _>>::on_offence(
			&[sp_staking::offence::OffenceDetails { offender: (1, ()), reporters: vec![] }],
			&[sp_runtime::Perbill::zero()],
			1,
		);
		assert_eq!(credit(1), before - 4_000);
	});
}

#[test]
fn service_raises_credit_up_to_the_cap() {
	ExtBuilder::default().build().execute_with(|| {
		// Authoring: +1 per block.
		for _ in 0..5 {
			Credit::note_author(3);
		}
		assert_eq!(credit(3), 7_005);
		// Attested service: +10.
		assert_ok!(Credit::record_service(signed(AUDITOR), 3));
		System::assert_has_event(
			Event::ServiceRecorded { who: 3, amount: 10, credit: 7_015 }.into(),
		);
		// Capped at MaxPerformanceCredit (1000).
		for _ in 0..200 {
			assert_ok!(Credit::record_service(signed(AUDITOR), 3));
		}
		assert_eq!(credit(3), 8_000);
		// An unregistered author earns nothing and is not registered by it.
		Credit::note_author(STRANGER);
		assert!(Institutions::<Test>::get(STRANGER).is_none());
		// Service lifts 3 level with 2 (8000 each); the tie goes to the lower account id.
		start_session(2);
		assert_eq!(roles(), (vec![1, 2, 3], vec![4, 5]));
		assert_ok!(Credit::update_dimensions(root(), 3, dims(71)));
		start_session(4);
		assert_eq!(roles(), (vec![1, 3, 2], vec![4, 5]));
	});
}

#[test]
fn score_weights_change_only_through_governance() {
	ExtBuilder::default()
		.institutions(vec![
			// Top grade, small information centre.
			(1, 0, true, true),
			(2, 0, true, true),
		])
		.params(params(1, 1, 0))
		.build()
		.execute_with(|| {
			assert_ok!(Credit::update_dimensions(
				root(),
				1,
				CreditDimensions { grade: 100, deployment_scale: 0, enterprise_strength: 0 }
			));
			assert_ok!(Credit::update_dimensions(
				root(),
				2,
				CreditDimensions { grade: 0, deployment_scale: 100, enterprise_strength: 100 }
			));
			// Default weights 40/30/30: 1 has 4000, 2 has 6000, so 2 authors.
			assert_eq!((credit(1), credit(2)), (4_000, 6_000));
			start_session(2);
			assert_eq!(roles(), (vec![2], vec![1]));

			let grade_first =
				ScoreWeights { grade: 90, deployment_scale: 5, enterprise_strength: 5 };
			// Neither an institution, nor the audit committee, nor anyone signed may change them.
			for who in [1, 2, AUDITOR, STRANGER] {
				assert_noop!(
					Credit::set_credit_weights(signed(who), grade_first),
					DispatchError::BadOrigin
				);
				assert_noop!(
					Credit::set_election_params(signed(who), params(2, 0, 0)),
					DispatchError::BadOrigin
				);
			}
			assert_noop!(
				Credit::set_credit_weights(RuntimeOrigin::none(), grade_first),
				DispatchError::BadOrigin
			);
			assert_eq!(CreditWeights::<Test>::get(), ScoreWeights::default());

			// Governance may, and the ranking follows at the next election.
			assert_ok!(Credit::set_credit_weights(root(), grade_first));
			System::assert_has_event(Event::CreditWeightsChanged { weights: grade_first }.into());
			assert_eq!((credit(1), credit(2)), (9_000, 1_000));
			start_session(4);
			assert_eq!(roles(), (vec![1], vec![2]));
			assert_eq!(aura_authors(), vec![1]);
			assert_eq!(grandpa_voters(), vec![1, 2]);
		});
}

#[test]
fn failed_calls_change_nothing() {
	ExtBuilder::default().build().execute_with(|| {
		// Registry.
		assert_noop!(
			Credit::register_institution(signed(1), 50, dims(50)),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Credit::register_institution(root(), 1, dims(50)),
			Error::<Test>::AlreadyRegistered
		);
		assert_noop!(
			Credit::register_institution(
				root(),
				50,
				CreditDimensions { grade: 101, deployment_scale: 0, enterprise_strength: 0 }
			),
			Error::<Test>::DimensionOutOfRange
		);
		assert_noop!(Credit::update_dimensions(root(), 50, dims(50)), Error::<Test>::NotRegistered);
		assert_noop!(Credit::update_dimensions(signed(1), 1, dims(100)), DispatchError::BadOrigin);
		assert_noop!(Credit::deregister_institution(root(), 50), Error::<Test>::NotRegistered);
		assert_noop!(Credit::deregister_institution(signed(1), 2), DispatchError::BadOrigin);
		// Willingness.
		assert_noop!(Credit::set_willing(signed(STRANGER), true), Error::<Test>::NotRegistered);
		assert_noop!(Credit::set_willing(signed(1), true), Error::<Test>::WillingnessUnchanged);
		assert_noop!(Credit::set_willing(root(), true), DispatchError::BadOrigin);
		// Parameters.
		for bad in [
			ScoreWeights { grade: 0, deployment_scale: 0, enterprise_strength: 0 },
			ScoreWeights {
				grade: MAX_DIMENSION_WEIGHT + 1,
				deployment_scale: 1,
				enterprise_strength: 1,
			},
		] {
			assert_noop!(
				Credit::set_credit_weights(root(), bad),
				Error::<Test>::InvalidCreditWeights
			);
		}
		for bad in [
			params(0, 2, 0),
			params(9, 2, 0),      // MaxRpn is 8
			params(3, 5, 0),      // MaxAtn is 4
			params(3, 2, 11_001), // above the highest credit (10 000 + 1 000)
			ElectionParams { rpn_count: 2, atn_count: 0, credit_threshold: 0, min_rpn: 3 },
			ElectionParams { rpn_count: 2, atn_count: 0, credit_threshold: 0, min_rpn: 0 },
		] {
			assert_noop!(
				Credit::set_election_params(root(), bad),
				Error::<Test>::InvalidElectionParams
			);
		}
		// Audit.
		assert_noop!(Credit::report_audit_failure(signed(1), 2), DispatchError::BadOrigin);
		assert_noop!(Credit::report_audit_failure(root(), 2), DispatchError::BadOrigin);
		assert_noop!(
			Credit::report_audit_failure(signed(AUDITOR), STRANGER),
			Error::<Test>::NotRegistered
		);
		assert_noop!(Credit::record_service(signed(1), 1), DispatchError::BadOrigin);
		assert_noop!(
			Credit::record_service(signed(AUDITOR), STRANGER),
			Error::<Test>::NotRegistered
		);
		// Private-chain call on the consortium.
		assert_noop!(
			Credit::set_private_validators(root(), vec![1, 2].try_into().unwrap()),
			Error::<Test>::NotPrivateChain
		);
	});
}

#[test]
fn registry_is_bounded() {
	ExtBuilder::default().build().execute_with(|| {
		// 7 registered; MaxInstitutions is 64.
		for who in 100..157 {
			assert_ok!(Credit::register_institution(root(), who, dims(10)));
		}
		assert_eq!(Institutions::<Test>::count(), 64);
		assert_noop!(
			Credit::register_institution(root(), 500, dims(10)),
			Error::<Test>::TooManyInstitutions
		);
		// Room again after a deregistration.
		assert_ok!(Credit::deregister_institution(root(), 100));
		assert_ok!(Credit::register_institution(root(), 500, dims(10)));
	});
}

#[test]
fn newcomer_registers_declares_sets_keys_and_is_elected() {
	ExtBuilder::default().build().execute_with(|| {
		const NEW: AccountId = 42;
		// Governance registers it; not willing yet.
		assert_ok!(Credit::register_institution(root(), NEW, dims(95)));
		System::assert_has_event(
			Event::InstitutionRegistered { who: NEW, dimensions: dims(95), credit: 9_500 }.into(),
		);
		start_session(2);
		assert_eq!(roles(), (vec![1, 2, 3], vec![4, 5]));

		// Its operator sets the node's session keys and declares willingness.
		set_session_keys(NEW);
		assert_ok!(Credit::set_willing(signed(NEW), true));
		start_session(4);
		// First by credit: 3 drops to ATN, 5 drops out.
		assert_eq!(roles(), (vec![NEW, 1, 2], vec![3, 4]));
		assert_eq!(aura_authors(), vec![NEW, 1, 2]);
		assert_eq!(grandpa_voters(), vec![NEW, 1, 2, 3, 4]);

		// Deregistered, it leaves at the next elected session.
		assert_ok!(Credit::deregister_institution(root(), NEW));
		System::assert_has_event(Event::InstitutionDeregistered { who: NEW }.into());
		start_session(6);
		assert_eq!(roles(), (vec![1, 2, 3], vec![4, 5]));
	});
}

#[test]
fn too_few_candidates_keep_the_current_validators() {
	ExtBuilder::default()
		.params(ElectionParams { rpn_count: 3, atn_count: 2, credit_threshold: 3_000, min_rpn: 3 })
		.build()
		.execute_with(|| {
			for who in 3..=7 {
				assert_ok!(Credit::set_willing(signed(who), false));
			}
			start_session(1);
			System::assert_has_event(Event::ElectionSkipped { session: 2, eligible: 2 }.into());
			start_session(3);
			assert_eq!(session_validators(), vec![1, 2, 3, 4, 5]);
			assert_eq!(roles(), (vec![1, 2, 3], vec![4, 5]));
			assert_eq!(aura_authors(), vec![1, 2, 3]);

			// With a third candidate back, elections resume.
			assert_ok!(Credit::set_willing(signed(6), true));
			start_session(5);
			assert_eq!(roles(), (vec![1, 2, 6], vec![]));
			assert_eq!(aura_authors(), vec![1, 2, 6]);
			assert_eq!(grandpa_voters(), vec![1, 2, 6]);
		});
}

#[test]
fn disabling_maps_session_index_to_author_index() {
	ExtBuilder::default().build().execute_with(|| {
		// Session validators [1, 2, 3, 4, 5], authors [1, 2, 3].
		TestSessionHandler::on_disabled(1); // validator 2 = author index 1
		TestSessionHandler::on_disabled(4); // validator 5, an ATN: no Aura authority
		TestSessionHandler::on_disabled(9); // out of range
		assert_eq!(disabled_authors(), vec![1]);
	});
}

#[test]
fn find_author_maps_aura_index_into_rpn() {
	ExtBuilder::default().build().execute_with(|| {
		let find = |i| {
			SlotAuthorIndex::set(Some(i));
			FindRepresentativeAuthor::<Test, SlotAuthorIndex>::find_author(core::iter::empty())
		};
		assert_eq!(find(0), Some(1));
		assert_eq!(find(2), Some(3));
		// Index 3 would be the first ATN in the session list; Aura has only 3 authorities.
		assert_eq!(find(3), None);
	});
}

#[test]
fn hospital_chain_keeps_genesis_validators_until_governance_changes_them() {
	ExtBuilder::default().hospital(vec![10, 11, 12, 13]).build().execute_with(|| {
		assert_eq!(session_validators(), vec![10, 11, 12, 13]);
		// Every validator authors and votes: the private chain's PBFT-like set.
		assert_eq!(aura_authors(), vec![10, 11, 12, 13]);
		assert_eq!(grandpa_voters(), vec![10, 11, 12, 13]);
		start_session(5);
		assert_eq!(session_validators(), vec![10, 11, 12, 13]);
		assert_eq!(aura_authors(), vec![10, 11, 12, 13]);
		assert!(credit_events().is_empty());

		// Consortium calls refuse with a clear error.
		assert_noop!(
			Credit::register_institution(root(), 10, dims(50)),
			Error::<Test>::NotConsortium
		);
		assert_noop!(Credit::set_willing(signed(10), true), Error::<Test>::NotConsortium);
		assert_noop!(
			Credit::set_credit_weights(root(), ScoreWeights::default()),
			Error::<Test>::NotConsortium
		);
		assert_noop!(
			Credit::set_election_params(root(), params(3, 1, 0)),
			Error::<Test>::NotConsortium
		);
		assert_noop!(
			Credit::report_audit_failure(signed(AUDITOR), 10),
			Error::<Test>::NotConsortium
		);
		assert_noop!(Credit::record_service(signed(AUDITOR), 10), Error::<Test>::NotConsortium);
		// Authoring credit is not kept off the consortium.
		Credit::note_author(10);
		assert_eq!(Institutions::<Test>::count(), 0);
		assert!(credit_events().is_empty());

		// Governance replaces validator 13 by 14 (whose node has keys).
		assert_noop!(
			Credit::set_private_validators(root(), vec![10, 11, 12, 14].try_into().unwrap()),
			Error::<Test>::ValidatorWithoutKeys
		);
		set_session_keys(14);
		assert_noop!(
			Credit::set_private_validators(signed(10), vec![10, 11, 12, 14].try_into().unwrap()),
			DispatchError::BadOrigin
		);
		assert_noop!(
			Credit::set_private_validators(root(), vec![10, 11, 11].try_into().unwrap()),
			Error::<Test>::DuplicateValidator
		);
		assert_noop!(
			Credit::set_private_validators(root(), Default::default()),
			Error::<Test>::EmptyValidatorSet
		);
		assert_ok!(Credit::set_private_validators(
			root(),
			vec![10, 11, 12, 14].try_into().unwrap()
		));
		start_session(6);
		System::assert_has_event(Event::PrivateValidatorsPlanned { session: 7 }.into());
		assert_eq!(session_validators(), vec![10, 11, 12, 13]);
		start_session(7);
		assert_eq!(session_validators(), vec![10, 11, 12, 14]);
		assert_eq!(aura_authors(), vec![10, 11, 12, 14]);
		assert_eq!(grandpa_voters(), vec![10, 11, 12, 14]);
		start_session(9);
		assert_eq!(session_validators(), vec![10, 11, 12, 14]);
	});
}

#[test]
#[should_panic(expected = "not the consortium")]
fn genesis_refuses_institutions_on_a_hospital_chain() {
	MockChain::set_kind(ChainKind::Hospital);
	let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	crate::GenesisConfig::<Test> {
		institutions: vec![(1, dims(50), true)],
		weights: ScoreWeights::default(),
		params: params(3, 2, 0),
	}
	.assimilate_storage(&mut t)
	.unwrap();
}

#[test]
fn base_credit_is_the_weighted_mean_scaled_to_ten_thousand() {
	let w = ScoreWeights { grade: 2, deployment_scale: 1, enterprise_strength: 1 };
	let d = CreditDimensions { grade: 100, deployment_scale: 50, enterprise_strength: 0 };
	assert_eq!(w.base_credit(&d), 6_250);
	assert_eq!(w.base_credit(&dims(100)), MAX_BASE_CREDIT);
	assert_eq!(w.base_credit(&dims(0)), 0);
	let heavy = ScoreWeights {
		grade: MAX_DIMENSION_WEIGHT,
		deployment_scale: MAX_DIMENSION_WEIGHT,
		enterprise_strength: MAX_DIMENSION_WEIGHT,
	};
	assert_eq!(heavy.base_credit(&dims(100)), MAX_BASE_CREDIT);
}

/// A justification of this chain's block `number` (registered in `frame_system` as a block of
/// this chain), in GRANDPA round `round` of set 0, with precommits of `signers`.
fn justification_of(
	number: u64,
	round: u64,
	signers: &[AccountId],
) -> FinalityJustificationOf<Test> {
	let header =
		bp_test_utils::test_header::<frame_system::pallet_prelude::HeaderFor<Test>>(number);
	frame_system::BlockHash::<Test>::insert(number, header.hash());
	if System::block_number() <= number {
		System::set_block_number(number + 1);
	}
	bp_test_utils::make_justification_for_header(bp_test_utils::JustificationGeneratorParams {
		header,
		round,
		set_id: 0,
		authorities: signers.iter().map(|s| (bp_test_utils::Account(*s as u16), 1)).collect(),
		ancestors: 0,
		forks: 1,
	})
}

fn note(j: FinalityJustificationOf<Test>) -> frame_support::dispatch::DispatchResultWithPostInfo {
	Credit::note_finality_votes(RuntimeOrigin::none(), j)
}

/// Hole 9: an audit node (a GRANDPA voter that authors nothing, so it misses no Aura slot)
/// went silent and lost nothing. Now the block authors note the chain's GRANDPA justifications
/// (an inherent); a voter that signed none of a session's rounds loses credit and the next
/// election replaces it. Forged, foreign, replayed and under-signed justifications are refused
/// and change nothing.
#[test]
fn hole9_a_silent_finality_voter_loses_credit_and_is_replaced() {
	threshold_consortium().build().execute_with(|| {
		assert_eq!(roles(), (vec![1, 2, 3], vec![4, 5]));
		MockVoters::set(0, &[1, 2, 3, 4, 5]);
		let (c4, c5) = (credit(4), credit(5));

		// Audit node 5's node is down: six rounds are finalised by the other four (the
		// threshold of five voters is four).
		let first = justification_of(10, 1, &[1, 2, 3, 4]);
		// The author's inherent: built from the node's newest justification, only if valid.
		let mut data = sp_inherents::InherentData::new();
		data.put_data(VOTES_INHERENT_IDENTIFIER, &first.encode()).unwrap();
		assert_eq!(
			Credit::create_inherent(&data),
			Some(Call::note_finality_votes { justification: first.clone() })
		);
		assert_ok!(note(first.clone()));
		for (i, number) in (11..=15).enumerate() {
			assert_ok!(note(justification_of(number, 2 + i as u64, &[4, 3, 2, 1])));
		}
		assert_eq!(VoteTallies::<Test>::get(5), (6, 0));
		assert_eq!(VoteTallies::<Test>::get(4), (6, 6));

		// Refused, with nothing changed: the same or an older justification again ...
		assert_noop!(note(first.clone()), Error::<Test>::JustificationNotNewer);
		data.replace_data(VOTES_INHERENT_IDENTIFIER, &first.encode());
		assert_eq!(Credit::create_inherent(&data), None);
		// ... one of a block this chain does not have (another chain's header) ...
		let foreign = justification_of(20, 9, &[1, 2, 3, 4]);
		frame_system::BlockHash::<Test>::remove(20);
		assert_noop!(note(foreign.clone()), Error::<Test>::JustificationOfUnknownBlock);
		// ... one signed by strangers, or with too few voters ...
		let strangers = justification_of(21, 10, &[31, 32, 33, 34]);
		assert_noop!(note(strangers), Error::<Test>::InvalidJustification);
		let too_few = justification_of(22, 11, &[1, 2, 3]);
		assert_noop!(note(too_few), Error::<Test>::InvalidJustification);
		// ... and any origin but the inherent's.
		let valid = justification_of(24, 13, &[1, 2, 3, 4]);
		assert_noop!(
			Credit::note_finality_votes(signed(1), valid.clone()),
			DispatchError::BadOrigin
		);
		// Off the consortium nothing is elected, so nothing is noted either.
		MockChain::set_kind(ChainKind::Hospital);
		assert_noop!(note(valid), Error::<Test>::NotConsortium);
		MockChain::set_kind(ChainKind::Consortium);
		assert_eq!(VoteTallies::<Test>::get(5), (6, 0));
		// An author that adds a precommit in the silent voter's name (another voter's
		// signature) gets the round noted, but the forged vote counts for nothing.
		let mut forged = justification_of(25, 14, &[1, 2, 3, 4]);
		let mut fake = forged.commit.precommits[0].clone();
		fake.id = sp_consensus_grandpa::AuthorityId::from(bp_test_utils::Account(5));
		forged.commit.precommits.push(fake);
		assert_ok!(note(forged));
		assert_eq!(VoteTallies::<Test>::get(5), (7, 0));

		// The session ends: 5 signed none of seven rounds (7 x 300 = 2100, under the 3000
		// threshold); 4 signed them all and loses nothing.
		start_session(1);
		assert_charged_for_missed_votes(5, c5, 2_100);
		assert!(credit(4) >= c4);
		assert_eq!(VoteTallies::<Test>::count(), 0);
		// The next election replaces it with the stand-by 6.
		System::assert_has_event(
			Event::RolesElected {
				session: 2,
				rpn: vec![1, 2, 3].try_into().unwrap(),
				atn: vec![4, 6].try_into().unwrap(),
			}
			.into(),
		);
	});
}

/// `who`, whose credit was `before`, lost `amount` for missed votes, announced by an event.
fn assert_charged_for_missed_votes(who: AccountId, before: CreditPoints, amount: CreditPoints) {
	assert_eq!(credit(who), before - amount);
	System::assert_has_event(
		Event::CreditPenalised {
			who,
			reason: PenaltyReason::MissedVotes,
			amount,
			credit: before - amount,
		}
		.into(),
	);
}

/// Hole 9, key rotation: a silent voter that registers new session keys mid-session (so
/// `pallet-session` no longer knows the GRANDPA key it votes with this session) is still the
/// account charged: votes are mapped through the keys the session started with.
#[test]
fn hole9_a_silent_voter_that_rotates_its_session_keys_is_still_charged() {
	threshold_consortium().build().execute_with(|| {
		assert_eq!(roles(), (vec![1, 2, 3], vec![4, 5]));
		MockVoters::set(0, &[1, 2, 3, 4, 5]);
		let c5 = credit(5);
		let session_keys: Vec<_> = SessionVoterKeys::<Test>::get().into_inner();
		assert!(session_keys.contains(&(grandpa_key(5), 5)), "{session_keys:?}");

		// 5 goes silent and registers fresh session keys: the key owner forgets its active key.
		let fresh = UintAuthorityId(105);
		let proof = TestSignature(105, 5u64.encode()).encode();
		assert_ok!(Session::set_keys(signed(5), fresh.into(), proof));
		use sp_runtime::RuntimeAppPublic;
		assert_eq!(Session::key_owner(UintAuthorityId::ID, &UintAuthorityId(5).to_raw_vec()), None);

		for (i, number) in (10..17).enumerate() {
			assert_ok!(note(justification_of(number, 1 + i as u64, &[1, 2, 3, 4])));
		}
		assert_eq!(VoteTallies::<Test>::get(5), (7, 0));
		start_session(1);
		assert_charged_for_missed_votes(5, c5, 2_100);
	});
}

/// An online voter left out of some justifications (they need only two thirds of the votes)
/// is never charged, nor is anyone in a session with fewer than `MIN_VOTE_ROUNDS` rounds.
#[test]
fn a_voter_left_out_of_some_justifications_or_a_short_session_costs_nothing() {
	threshold_consortium().build().execute_with(|| {
		MockVoters::set(0, &[1, 2, 3, 4, 5]);
		let before: Vec<_> = (1..=5).map(credit).collect();
		for (i, number) in (10..16).enumerate() {
			let signers: &[AccountId] = if i == 0 { &[1, 2, 3, 5] } else { &[1, 2, 3, 4] };
			assert_ok!(note(justification_of(number, 1 + i as u64, signers)));
		}
		assert_eq!(VoteTallies::<Test>::get(5), (6, 1));
		assert_eq!(VoteTallies::<Test>::get(4), (6, 5));
		start_session(1);
		for (who, c) in (1..=5).zip(before.iter()) {
			assert!(credit(who) >= *c, "{who} was charged");
		}
		// Four rounds only: too few to tell a silent voter from bad luck.
		let before: Vec<_> = (1..=5).map(credit).collect();
		for (i, number) in (20..24).enumerate() {
			assert_ok!(note(justification_of(number, 20 + i as u64, &[1, 2, 3, 4])));
		}
		start_session(2);
		assert!(credit(5) >= before[4]);
	});
}

/// Governance cannot size an election below the BFT minimum of four validators (RPN + ATN):
/// with three GRANDPA voters one failure stops finality.
#[test]
fn election_sizes_below_the_bft_minimum_are_refused() {
	ExtBuilder::default().build().execute_with(|| {
		let before = Params::<Test>::get();
		for (rpn, atn) in [(1, 0), (3, 0), (2, 1), (1, 2)] {
			assert_noop!(
				Credit::set_election_params(root(), params(rpn, atn, 0)),
				Error::<Test>::BelowBftMinimum
			);
		}
		assert_eq!(Params::<Test>::get(), before);
		// Four, however split, are enough.
		for (rpn, atn) in [(4, 0), (3, 1), (1, 3), (2, 2)] {
			assert_ok!(Credit::set_election_params(root(), params(rpn, atn, 0)));
			assert_eq!(Params::<Test>::get(), params(rpn, atn, 0));
		}
	});
}

#[test]
fn the_storage_version_is_current_after_the_v1_bump() {
	use frame_support::traits::{GetStorageVersion, OnRuntimeUpgrade, StorageVersion};
	ExtBuilder::default().build().execute_with(|| {
		// A chain started before versioning is at 0; the bump brings it to 1, once.
		StorageVersion::new(0).put::<Credit>();
		crate::migrations::v1::BumpToV1::<Test>::on_runtime_upgrade();
		assert_eq!(Credit::on_chain_storage_version(), Credit::in_code_storage_version());
		crate::migrations::v1::BumpToV1::<Test>::on_runtime_upgrade();
		assert_eq!(Credit::on_chain_storage_version(), 1);
	});
}

/// `do_try_state` holds after every story (they end with it), and names the invariant each
/// kind of corruption breaks.
#[test]
fn try_state_names_each_broken_invariant() {
	use frame_support::{storage::unhashed, BoundedVec};
	use mbds_primitives::invariants::message_of;
	fn broken_on(builder: ExtBuilder, corrupt: impl FnOnce()) -> &'static str {
		builder.build().into_inner().execute_with(|| {
			start_session(2);
			assert_ok!(Credit::do_try_state());
			corrupt();
			message_of(&Credit::do_try_state().expect_err("the corruption is caught"))
		})
	}
	let broken = |corrupt: fn()| broken_on(ExtBuilder::default(), corrupt);
	let cases: [(&str, &'static str); 8] = [
		(
			"credit: a counted map's counter is its number of entries",
			broken(|| unhashed::put(&Institutions::<Test>::counter_storage_final_key(), &9u32)),
		),
		(
			"credit: an institution's dimensions and performance are within their bounds",
			broken(|| Institutions::<Test>::mutate(1, |i| i.as_mut().unwrap().performance = i32::MAX)),
		),
		(
			"credit: the score weights and election parameters are valid",
			broken(|| Params::<Test>::mutate(|p| p.min_rpn = 0)),
		),
		(
			"credit: a session's roles name each validator once",
			broken(|| {
				CurrentRoles::<Test>::mutate(|r| r.atn = BoundedVec::truncate_from(vec![r.rpn[0]]))
			}),
		),
		(
			"credit: a queued private-chain validator set is non-empty, without duplicates, off the consortium",
			broken(|| PendingPrivateValidators::<Test>::put(BoundedVec::truncate_from(vec![1]))),
		),
		(
			"credit: a voter signed at most the rounds it was expected in",
			broken(|| VoteTallies::<Test>::insert(1, (1, 2))),
		),
		(
			"credit: the last noted justification is of an earlier block",
			broken(|| LastVotedBlock::<Test>::put(System::block_number())),
		),
		(
			"credit: institutions are registered only on the consortium, at most MaxInstitutions",
			broken_on(ExtBuilder::default().hospital(vec![1, 2, 3, 4]), || {
				Institutions::<Test>::insert(
					9,
					Institution {
						dimensions: dims(50),
						performance: 0,
						willing: true,
						last_offence_session: None,
					},
				)
			}),
		),
	];
	for (invariant, message) in cases {
		assert!(message.starts_with(invariant), "expected {invariant:?}, got {message:?}");
	}
}
