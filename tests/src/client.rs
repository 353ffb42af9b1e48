//! The chain client the tests use: `mbds-client`, the same one the relayer and CLI use.

pub use mbds_client::{bytes_of, hex_of, signed, sudo, Client};

impl crate::Node {
	/// The node's JSON-RPC URL.
	pub fn url(&self) -> String {
		format!("http://127.0.0.1:{}", self.rpc_port)
	}

	/// A client of the node's chain.
	pub fn client(&self) -> Client {
		Client::connect(&self.url()).unwrap_or_else(|e| panic!("{}: {e}", self.name))
	}
}

use mbds_primitives::{InstitutionKind, Role};
use mbds_runtime::{AccountId, Runtime, RuntimeCall};
use sp_core::H256;
use sp_keyring::Sr25519Keyring as Keyring;

/// Placeholder public keys of a test participant (the chain stores them opaquely; the
/// end-to-end journey uses real ones from `mbds-crypto`).
pub fn test_keys(tag: u8) -> pallet_kmc::KeySetOf<Runtime> {
	use pallet_kmc::{KeyScheme, PublicKey};
	pallet_kmc::KeySet {
		record_key: PublicKey {
			scheme: KeyScheme::UmbralSecp256k1V1,
			key: vec![2u8; 33].try_into().expect("33 bytes fit"),
		},
		search_key: PublicKey {
			scheme: KeyScheme::PeksBls12381V1,
			key: vec![tag; 98].try_into().expect("98 bytes fit"),
		},
	}
}

/// The KMC registers `who` with `role` (for a patient or a doctor a call the bootstrap KMC
/// operator, Alice, signs alone; for an institution a council motion); `tag` makes its
/// identity commitment unique.
pub fn register(who: Keyring, role: Role<AccountId>, tag: u8) -> RuntimeCall {
	RuntimeCall::Kmc(pallet_kmc::Call::register {
		who: who.to_account_id(),
		role,
		identity: H256::repeat_byte(tag),
		keys: test_keys(tag),
	})
}

/// Two thirds of a private chain's council (its seats are Alice, Bob and Charlie).
pub const PRIVATE_COUNCIL: [Keyring; 2] = [Keyring::Alice, Keyring::Bob];

/// What a hospital chain's council and KMC do once: the council (Alice and Bob, 2 of the 3
/// seats every preset gives it) seats `hospital` and makes it the chain's institution, two
/// motions in one go; then the KMC operator (Alice) registers `doctor` and `patient`, and the
/// hospital confirms it employs the doctor. Returns once the doctor may act.
pub fn hospital_setup(
	chain: &Client,
	hospital: Keyring,
	doctor: Keyring,
	patient: Keyring,
) -> Result<(), String> {
	let seat = register(hospital, Role::Institution(InstitutionKind::Hospital), 1);
	let name = RuntimeCall::Slips(pallet_slips::Call::set_institution {
		institution: hospital.to_account_id(),
	});
	let council = PRIVATE_COUNCIL.map(|k| k.pair());
	mbds_client::council::motions(chain, vec![seat, name], &council).map_err(|e| e.to_string())?;
	let operator = Keyring::Alice.pair();
	let calls = vec![
		register(doctor, Role::Doctor { institution: hospital.to_account_id() }, 2),
		register(patient, Role::Patient, 3),
	];
	chain
		.submit_all(calls, &operator, std::time::Duration::from_secs(60))
		.map_err(|e| e.to_string())?;
	// The hospital confirms it employs the doctor: only then may the doctor act.
	let employ = RuntimeCall::Kmc(pallet_kmc::Call::employ { doctor: doctor.to_account_id() });
	chain
		.submit_and_wait(employ, &hospital.pair(), std::time::Duration::from_secs(60))
		.map(|_| ())
		.map_err(|e| e.to_string())
}

/// `patient`'s visit proof for `institution`, signed now: what a doctor of `institution`
/// needs to submit a slip about `patient`.
pub fn visit_proof(
	patient: Keyring,
	institution: Keyring,
) -> pallet_slips::VisitProof<AccountId, mbds_runtime::Signature> {
	visit_proof_of(&patient.pair(), &institution.to_account_id())
}

/// [`visit_proof`] signed by any patient key, for any institution account.
pub fn visit_proof_of(
	patient: &sp_core::sr25519::Pair,
	institution: &AccountId,
) -> pallet_slips::VisitProof<AccountId, mbds_runtime::Signature> {
	use sp_core::Pair;
	let statement = pallet_slips::VisitStatement {
		patient: patient.public().into(),
		institution: institution.clone(),
		issued_at: now_ms(),
	};
	pallet_slips::VisitProof {
		institution: statement.institution.clone(),
		issued_at: statement.issued_at,
		signature: patient.sign(&statement.signing_payload()).into(),
	}
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
	use std::time::{SystemTime, UNIX_EPOCH};
	SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970").as_millis() as u64
}
