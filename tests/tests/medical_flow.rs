//! The medical calls on a running `--dev` node, through real signed extrinsics over JSON-RPC:
//! the KMC registers a hospital, a doctor and a patient; the doctor submits an HMI slip; the
//! patient confirms it without paying any fee; the patient grants the doctor read access and
//! the consent check answers through the runtime API.

use mbds_client::queries::slips;
use mbds_primitives::consent::{AccessTarget, Action, ActionSet, GrantScope, Grantee, Purpose};
use mbds_runtime::{AccountId, RuntimeCall};
use mbds_tests::{
	client::{hospital_setup, now_ms, visit_proof, Client},
	Node,
};
use sp_core::H256;
use sp_keyring::Sr25519Keyring as Keyring;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(90);

#[test]
fn doctor_submits_a_slip_patient_confirms_it_feeless_and_grants_read_access() {
	let dir = tempfile::tempdir().unwrap();
	let node = Node::start("dev", &["--dev".into(), "--tmp".into()], &dir.path().join("dev.log"));
	node.wait_for("block 1", Duration::from_secs(120), |n| Ok(n.best_number()? >= 1)).unwrap();
	let chain = node.client();

	let (hospital, doctor, patient, outsider) =
		(Keyring::Eve, Keyring::Bob, Keyring::Charlie, Keyring::Dave);

	// The KMC operator registers the participants; the council makes the hospital this
	// chain's institution.
	hospital_setup(&chain, hospital, doctor, patient).unwrap();
	chain
		.wait("the institution is set", WAIT, |c| {
			Ok(c.storage::<AccountId>(
				&pallet_slips::Institution::<mbds_runtime::Runtime>::hashed_key(),
			)? == Some(hospital.to_account_id()))
		})
		.unwrap();

	// The patient, at the hospital, signs a visit proof; the doctor submits a slip about the
	// patient with it.
	let record_hash = H256::repeat_byte(0xAB);
	chain
		.submit(
			RuntimeCall::Slips(pallet_slips::Call::submit_slip {
				patient: patient.to_account_id(),
				visit: visit_proof(patient, hospital),
				generated_at: now_ms(),
				tx_type: pallet_slips::TransactionType::Diagnosis,
				content: b"outpatient visit, diagnosis recorded".to_vec(),
				encrypted_keywords: vec![vec![7u8; 82]],
				categories: vec![],
				encrypted_address: vec![9u8; 64],
				record_hash,
			}),
			&doctor.pair(),
		)
		.unwrap();
	chain
		.wait("the slip is on chain", WAIT, |c| {
			Ok(slips::patient_slip_count(c, &patient.to_account_id(), None)? == 1)
		})
		.unwrap();
	let patient_slips =
		slips::patient_slips(&chain, &patient.to_account_id(), 0, 10, None).unwrap();
	let (slip_id, slip) = &patient_slips[0];
	assert_eq!(slip.doctor, doctor.to_account_id());
	assert_eq!(slip.record_hash, record_hash);
	assert!(matches!(slip.status, pallet_slips::SlipStatus::Pending { .. }));

	// The patient confirms it and pays nothing for it.
	let balance_before = chain.free_balance(&patient.to_account_id()).unwrap();
	chain
		.submit(
			RuntimeCall::Slips(pallet_slips::Call::confirm_slip { slip_id: *slip_id, record_hash }),
			&patient.pair(),
		)
		.unwrap();
	chain
		.wait("the slip is confirmed", WAIT, |c| {
			let s = slips::slip(c, *slip_id, None)?;
			Ok(matches!(s.map(|s| s.status), Some(pallet_slips::SlipStatus::Confirmed { .. })))
		})
		.unwrap();
	assert_eq!(
		chain.free_balance(&patient.to_account_id()).unwrap(),
		balance_before,
		"a registered patient paid a fee to confirm a slip"
	);

	// The patient grants the doctor read access to all records for an hour; the consent check
	// answers yes for the doctor and no for an outsider, through the runtime API.
	let now = now_ms();
	chain
		.submit(
			RuntimeCall::Consent(pallet_consent::Call::grant {
				grantee: Grantee::Account(doctor.to_account_id()),
				actions: ActionSet::read_only(),
				scope: GrantScope::AllRecords,
				valid_from: now.saturating_sub(60_000),
				valid_until: now + 3_600_000,
				purpose: Some(Purpose::Treatment),
			}),
			&patient.pair(),
		)
		.unwrap();
	let allowed = |c: &Client, user: Keyring, action: Action| {
		mbds_client::queries::consent::is_access_allowed(
			c,
			&patient.to_account_id(),
			&user.to_account_id(),
			&AccessTarget::AllRecords,
			action,
			now_ms(),
			None,
		)
	};
	chain.wait("the grant takes effect", WAIT, |c| allowed(c, doctor, Action::Read)).unwrap();
	assert!(
		!allowed(&chain, doctor, Action::Copy).unwrap(),
		"copy allowed under a read-only grant"
	);
	assert!(!allowed(&chain, outsider, Action::Read).unwrap(), "read allowed without any grant");

	drop(chain);
	let mut node = node;
	assert!(node.stop(Duration::from_secs(30)).unwrap().success());
}
