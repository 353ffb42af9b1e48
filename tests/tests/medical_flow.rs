//! The medical calls on a running `--dev` node, through real signed extrinsics over JSON-RPC:
//! the KMC registers a hospital, a doctor and a patient; the doctor submits an HMI slip; the
//! patient confirms it without paying any fee; the patient grants the doctor read access and
//! the consent check answers through the runtime API.

use codec::{Decode, Encode};
use mbds_primitives::{
	consent::{AccessTarget, Action, ActionSet, GrantScope, Grantee, Purpose},
	InstitutionKind, Role,
};
use mbds_runtime::{
	AccountId, RuntimeCall, SignedPayload, TxExtension, UncheckedExtrinsic, VERSION,
};
use mbds_tests::Node;
use serde_json::json;
use sp_core::{Pair, H256};
use sp_keyring::Sr25519Keyring as Keyring;
use sp_runtime::{generic::Era, MultiAddress, MultiSignature};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn hex_of(bytes: &[u8]) -> String {
	format!("0x{}", hex::encode(bytes))
}

fn bytes_of(v: &serde_json::Value) -> Vec<u8> {
	hex::decode(v.as_str().expect("hex string").trim_start_matches("0x")).expect("valid hex")
}

/// A transaction signed by `who` with `nonce`, immortal, built with the runtime's own types.
fn signed(call: RuntimeCall, who: Keyring, nonce: u32, genesis: H256) -> UncheckedExtrinsic {
	let ext: TxExtension = (
		frame_system::CheckNonZeroSender::new(),
		frame_system::CheckSpecVersion::new(),
		frame_system::CheckTxVersion::new(),
		frame_system::CheckGenesis::new(),
		frame_system::CheckEra::from(Era::Immortal),
		frame_system::CheckNonce::from(nonce),
		frame_system::CheckWeight::new(),
		pallet_kmc::CheckParticipant::new(),
		pallet_transaction_payment::ChargeTransactionPayment::from(0).into(),
	);
	let implicit =
		((), VERSION.spec_version, VERSION.transaction_version, genesis, genesis, (), (), (), ());
	let payload = SignedPayload::from_raw(call.clone(), ext.clone(), implicit);
	let signature = payload.using_encoded(|p| who.pair().sign(p));
	UncheckedExtrinsic::new_signed(
		call,
		MultiAddress::Id(who.to_account_id()),
		MultiSignature::Sr25519(signature),
		ext,
	)
}

struct Chain {
	node: Node,
	genesis: H256,
}

impl Chain {
	fn submit(&self, call: RuntimeCall, who: Keyring) {
		let nonce = self
			.node
			.rpc("system_accountNextIndex", json!([who.to_account_id().to_string()]))
			.unwrap()
			.as_u64()
			.unwrap() as u32;
		let xt = signed(call, who, nonce, self.genesis);
		self.node
			.rpc("author_submitExtrinsic", json!([hex_of(&xt.encode())]))
			.unwrap_or_else(|e| panic!("submitting for {who:?}: {e}"));
	}

	fn call<R: Decode>(&self, method: &str, args: impl Encode) -> R {
		let out = self.node.rpc("state_call", json!([method, hex_of(&args.encode())])).unwrap();
		R::decode(&mut &bytes_of(&out)[..]).unwrap_or_else(|e| panic!("decoding {method}: {e}"))
	}

	fn storage<R: Decode>(&self, key: Vec<u8>) -> Option<R> {
		let v = self.node.rpc("state_getStorage", json!([hex_of(&key)])).unwrap();
		v.as_str().map(|_| R::decode(&mut &bytes_of(&v)[..]).expect("decodes"))
	}

	fn free_balance(&self, who: &AccountId) -> u128 {
		let key = frame_system::Account::<mbds_runtime::Runtime>::hashed_key_for(who);
		self.storage::<frame_system::AccountInfo<u32, pallet_balances::AccountData<u128>>>(key)
			.map(|a| a.data.free)
			.unwrap_or(0)
	}

	fn wait(&self, what: &str, mut cond: impl FnMut(&Chain) -> bool) {
		self.node
			.wait_for(what, Duration::from_secs(90), |_| Ok(cond(self)))
			.unwrap_or_else(|e| panic!("{e}"));
	}
}

fn keys(tag: u8) -> pallet_kmc::KeySetOf<mbds_runtime::Runtime> {
	use pallet_kmc::{KeyScheme, PublicKey};
	pallet_kmc::KeySet {
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

fn register(who: Keyring, role: Role<AccountId>, tag: u8) -> RuntimeCall {
	let call = RuntimeCall::Kmc(pallet_kmc::Call::register {
		who: who.to_account_id(),
		role,
		identity: H256::repeat_byte(tag),
		keys: keys(tag),
	});
	RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(call) })
}

fn now_ms() -> u64 {
	SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn doctor_submits_a_slip_patient_confirms_it_feeless_and_grants_read_access() {
	let dir = tempfile::tempdir().unwrap();
	let node = Node::start("dev", &["--dev".into(), "--tmp".into()], &dir.path().join("dev.log"));
	node.wait_for("block 1", Duration::from_secs(120), |n| Ok(n.best_number()? >= 1)).unwrap();
	let genesis_hex = node.rpc("chain_getBlockHash", json!([0])).unwrap();
	let genesis = H256::from_slice(&bytes_of(&genesis_hex));
	let chain = Chain { node, genesis };

	let (hospital, doctor, patient, outsider) =
		(Keyring::Eve, Keyring::Bob, Keyring::Charlie, Keyring::Dave);

	// The KMC (sudo on --dev) registers the participants; the hospital becomes this chain's
	// institution.
	for call in [
		register(hospital, Role::Institution(InstitutionKind::Hospital), 1),
		register(doctor, Role::Doctor { institution: hospital.to_account_id() }, 2),
		register(patient, Role::Patient, 3),
		RuntimeCall::Sudo(pallet_sudo::Call::sudo {
			call: Box::new(RuntimeCall::Slips(pallet_slips::Call::set_institution {
				institution: hospital.to_account_id(),
			})),
		}),
	] {
		// `system_accountNextIndex` counts pooled transactions, so nonces follow each other.
		chain.submit(call, Keyring::Alice);
	}
	chain.wait("the institution is set", |c| {
		c.storage::<AccountId>(
			pallet_slips::Institution::<mbds_runtime::Runtime>::hashed_key().to_vec(),
		) == Some(hospital.to_account_id())
	});

	// The doctor submits a slip about the patient.
	let record_hash = H256::repeat_byte(0xAB);
	chain.submit(
		RuntimeCall::Slips(pallet_slips::Call::submit_slip {
			patient: patient.to_account_id(),
			generated_at: now_ms(),
			tx_type: pallet_slips::TransactionType::Diagnosis,
			content: b"outpatient visit, diagnosis recorded".to_vec(),
			encrypted_keywords: vec![vec![7u8; 82]],
			encrypted_address: vec![9u8; 64],
			record_hash,
		}),
		doctor,
	);
	chain.wait("the slip is on chain", |c| {
		c.call::<u32>("SlipsApi_patient_slip_count", patient.to_account_id()) == 1
	});
	let slips: Vec<(u64, pallet_slips::SlipOf<mbds_runtime::Runtime>)> =
		chain.call("SlipsApi_patient_slips", (patient.to_account_id(), 0u32, 10u32));
	let (slip_id, slip) = &slips[0];
	assert_eq!(slip.doctor, doctor.to_account_id());
	assert_eq!(slip.record_hash, record_hash);
	assert!(matches!(slip.status, pallet_slips::SlipStatus::Pending { .. }));

	// The patient confirms it and pays nothing for it.
	let balance_before = chain.free_balance(&patient.to_account_id());
	chain.submit(
		RuntimeCall::Slips(pallet_slips::Call::confirm_slip { slip_id: *slip_id, record_hash }),
		patient,
	);
	chain.wait("the slip is confirmed", |c| {
		let s: Option<pallet_slips::SlipOf<mbds_runtime::Runtime>> =
			c.call("SlipsApi_slip", *slip_id);
		matches!(s.map(|s| s.status), Some(pallet_slips::SlipStatus::Confirmed { .. }))
	});
	assert_eq!(
		chain.free_balance(&patient.to_account_id()),
		balance_before,
		"a registered patient paid a fee to confirm a slip"
	);

	// The patient grants the doctor read access to all records for an hour; the consent check
	// answers yes for the doctor and no for an outsider, through the runtime API.
	let now = now_ms();
	chain.submit(
		RuntimeCall::Consent(pallet_consent::Call::grant {
			grantee: Grantee::Account(doctor.to_account_id()),
			actions: ActionSet::read_only(),
			scope: GrantScope::AllRecords,
			valid_from: now.saturating_sub(60_000),
			valid_until: now + 3_600_000,
			purpose: Some(Purpose::Treatment),
		}),
		patient,
	);
	let allowed = |c: &Chain, user: Keyring, action: Action| -> bool {
		c.call(
			"ConsentApi_is_access_allowed",
			(
				patient.to_account_id(),
				user.to_account_id(),
				AccessTarget::AllRecords,
				action,
				now_ms(),
			),
		)
	};
	chain.wait("the grant takes effect", |c| allowed(c, doctor, Action::Read));
	assert!(!allowed(&chain, doctor, Action::Copy), "copy allowed under a read-only grant");
	assert!(!allowed(&chain, outsider, Action::Read), "read allowed without any grant");

	let mut node = chain.node;
	assert!(node.stop(Duration::from_secs(30)).unwrap().success());
}
