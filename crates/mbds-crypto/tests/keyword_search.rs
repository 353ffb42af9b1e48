//! Stories: doctors encrypt a patient's keywords for the proxy; the patient gives the proxy a
//! trapdoor; the proxy finds exactly the matching records; nobody else can test.

use mbds_crypto::peks::{boneh, ENCRYPTED_KEYWORD_LEN, TRAPDOOR_LEN};
use mbds_crypto::*;

fn kw(s: &str) -> Keyword {
	Keyword::parse(s).unwrap()
}

struct World {
	patient: PatientKeys,
	proxy: TesterSecretKey,
	/// record index -> encrypted keywords (as stored in the patient's summaries)
	records: Vec<Vec<EncryptedKeyword>>,
}

const DIABETES: &str = "icd-10|E11.9";
const HYPERTENSION: &str = "icd-10|I10";
const HBA1C: &str = "http://loinc.org|4548-4";
const METFORMIN: &str = "rxnorm|860975";

fn world() -> World {
	let patient = PatientKeys::generate();
	let proxy = TesterSecretKey::generate();
	let plain: [&[&str]; 5] =
		[&[DIABETES, HBA1C], &[HYPERTENSION], &[DIABETES, METFORMIN, HBA1C], &[METFORMIN], &[]];
	let (ppk, tpk) = (patient.peks.public_key(), proxy.public_key());
	let records = plain
		.iter()
		.map(|r| r.iter().map(|k| EncryptedKeyword::encrypt(&ppk, &tpk, &kw(k))).collect())
		.collect();
	World { patient, proxy, records }
}

fn flat(w: &World) -> (Vec<EncryptedKeyword>, Vec<usize>) {
	let mut cts = vec![];
	let mut owner = vec![];
	for (i, r) in w.records.iter().enumerate() {
		for c in r {
			cts.push(*c);
			owner.push(i);
		}
	}
	(cts, owner)
}

#[test]
fn trapdoor_matches_exactly_the_records_with_its_keyword() {
	let w = world();
	let (cts, owner) = flat(&w);
	let tpk = w.proxy.public_key();
	for (k, expected) in [
		(DIABETES, vec![0, 2]),
		(HYPERTENSION, vec![1]),
		(METFORMIN, vec![2, 3]),
		("icd-10|J45", vec![]),
	] {
		let td = w.patient.peks.trapdoor(&tpk, &kw(k));
		// The trapdoor travels as bytes.
		let td = Trapdoor::from_bytes(&td.to_bytes()).unwrap();
		let prepared = w.proxy.prepare(&td);
		let hits: Vec<usize> = prepared.search(&cts).into_iter().map(|i| owner[i]).collect();
		assert_eq!(hits, expected, "keyword {k}");
	}
}

#[test]
fn same_concept_coded_differently_still_matches() {
	let w = world();
	let td = w.patient.peks.trapdoor(
		&w.proxy.public_key(),
		&Keyword::from_coding("http://hl7.org/fhir/sid/icd-10", " e119 ").unwrap(),
	);
	assert!(w.proxy.prepare(&td).test(&w.records[0][0]));
}

#[test]
fn conjunctive_query_matches_records_with_all_keywords() {
	let w = world();
	let tpk = w.proxy.public_key();
	let q = w.patient.peks.conjunctive_trapdoor(&tpk, &[kw(DIABETES), kw(HBA1C)]).unwrap();
	let q = ConjunctiveTrapdoor::from_bytes(&q.to_bytes()).unwrap();
	assert_eq!(q.len(), 2);
	assert_eq!(w.proxy.prepare_conjunctive(&q).search(&w.records), vec![0, 2]);

	let q = w.patient.peks.conjunctive_trapdoor(&tpk, &[kw(DIABETES), kw(METFORMIN)]).unwrap();
	assert_eq!(w.proxy.prepare_conjunctive(&q).search(&w.records), vec![2]);

	let q = w.patient.peks.conjunctive_trapdoor(&tpk, &[kw(HYPERTENSION), kw(METFORMIN)]).unwrap();
	assert!(w.proxy.prepare_conjunctive(&q).search(&w.records).is_empty());

	// Duplicates collapse; empty and oversized queries are refused.
	let q = w.patient.peks.conjunctive_trapdoor(&tpk, &[kw(METFORMIN), kw(METFORMIN)]).unwrap();
	assert_eq!(q.len(), 1);
	assert_eq!(w.proxy.prepare_conjunctive(&q).search(&w.records), vec![2, 3]);
	assert!(w.patient.peks.conjunctive_trapdoor(&tpk, &[]).is_err());
	let many: Vec<Keyword> = (0..17).map(|i| kw(&format!("icd-10|A{i:02}"))).collect();
	assert!(matches!(
		w.patient.peks.conjunctive_trapdoor(&tpk, &many),
		Err(CryptoError::InvalidKeyword(_))
	));
}

#[test]
fn outsider_holding_a_trapdoor_cannot_test() {
	let w = world();
	let (cts, owner) = flat(&w);
	let td = w.patient.peks.trapdoor(&w.proxy.public_key(), &kw(DIABETES));
	assert_eq!(
		w.proxy.prepare(&td).search(&cts).into_iter().map(|i| owner[i]).collect::<Vec<_>>(),
		vec![0, 2]
	);

	// Another proxy (its own tester key) intercepts the trapdoor: nothing matches.
	let other_proxy = TesterSecretKey::generate();
	assert!(other_proxy.prepare(&td).search(&cts).is_empty());

	// A trapdoor made for the other proxy does not work at the designated proxy either.
	let td_other = w.patient.peks.trapdoor(&other_proxy.public_key(), &kw(DIABETES));
	assert!(w.proxy.prepare(&td_other).search(&cts).is_empty());

	// Trapdoors are randomised: the same keyword twice gives unlinkable tokens to an eavesdropper.
	let td2 = w.patient.peks.trapdoor(&w.proxy.public_key(), &kw(DIABETES));
	assert_ne!(td.to_bytes(), td2.to_bytes());
	// Keyword ciphertexts are randomised too.
	let c1 = EncryptedKeyword::encrypt(
		&w.patient.peks.public_key(),
		&w.proxy.public_key(),
		&kw(DIABETES),
	);
	let c2 = EncryptedKeyword::encrypt(
		&w.patient.peks.public_key(),
		&w.proxy.public_key(),
		&kw(DIABETES),
	);
	assert_ne!(c1, c2);
}

#[test]
fn base_scheme_trapdoor_is_usable_and_guessable_by_anyone() {
	// The contrast that motivates the designated tester: Boneh et al.'s trapdoor works for
	// whoever holds it, and reveals its keyword to a dictionary attack on the public key.
	let sk = boneh::SecretKey::generate();
	let pk = sk.public_key();
	let c = boneh::encrypt(&pk, &kw(DIABETES));
	let c = boneh::Ciphertext::from_bytes(&c.to_bytes()).unwrap();
	let td = boneh::Trapdoor::from_bytes(&sk.trapdoor(&kw(DIABETES)).to_bytes()).unwrap();
	assert!(boneh::test(&td, &c));
	assert!(!boneh::test(&sk.trapdoor(&kw(HYPERTENSION)), &c));
	assert!(!boneh::test(&td, &boneh::encrypt(&pk, &kw(HYPERTENSION))));
	let dictionary = [HYPERTENSION, METFORMIN, DIABETES, HBA1C];
	let guessed: Vec<_> =
		dictionary.iter().filter(|g| boneh::trapdoor_is_for(&pk, &td, &kw(g))).collect();
	assert_eq!(guessed, vec![&DIABETES]);
}

#[test]
fn keys_ciphertexts_and_trapdoors_serialise_strictly() {
	let w = world();
	let c = w.records[0][0];
	let bytes = c.to_bytes();
	assert_eq!(bytes.len(), ENCRYPTED_KEYWORD_LEN);
	assert_eq!(EncryptedKeyword::from_bytes(&bytes).unwrap(), c);
	for cut in 0..bytes.len() {
		assert!(matches!(
			EncryptedKeyword::from_bytes(&bytes[..cut]),
			Err(CryptoError::Truncated { .. })
		));
	}
	let mut long = bytes.clone();
	long.push(0);
	assert!(matches!(
		EncryptedKeyword::from_bytes(&long),
		Err(CryptoError::TrailingBytes { extra: 1, .. })
	));
	// An invalid point in A.
	let mut bad = bytes.clone();
	bad[2..2 + 48].fill(0xff);
	assert!(matches!(
		EncryptedKeyword::from_bytes(&bad),
		Err(CryptoError::Malformed { field: "A", .. })
	));
	// The identity point would match every trapdoor tagged H2(1): refused.
	let mut ident = bytes.clone();
	ident[2] = 0xc0;
	ident[3..2 + 48].fill(0);
	assert!(matches!(
		EncryptedKeyword::from_bytes(&ident),
		Err(CryptoError::Malformed { field: "A", .. })
	));

	let td = w.patient.peks.trapdoor(&w.proxy.public_key(), &kw(DIABETES)).to_bytes();
	assert_eq!(td.len(), TRAPDOOR_LEN);
	assert!(matches!(EncryptedKeyword::from_bytes(&td), Err(CryptoError::WrongType { .. })));
	assert!(matches!(
		Trapdoor::from_bytes(&td[..100]),
		Err(CryptoError::Truncated { field: "T2", .. })
	));

	let sk = TesterSecretKey::from_bytes(&w.proxy.to_bytes()).unwrap();
	assert_eq!(sk, w.proxy);
	let pk = TesterPublicKey::from_bytes(&w.proxy.public_key().to_bytes()).unwrap();
	assert_eq!(pk, w.proxy.public_key());
	// A tester public key is not a patient public key.
	assert!(matches!(
		PeksPublicKey::from_bytes(&pk.to_bytes()),
		Err(CryptoError::WrongType { .. })
	));
	let pk2 = PeksPublicKey::from_bytes(&w.patient.peks.public_key().to_bytes()).unwrap();
	assert_eq!(pk2, w.patient.peks.public_key());
	let mut zero = w.proxy.to_bytes().to_vec();
	zero[2..].fill(0);
	assert!(matches!(
		TesterSecretKey::from_bytes(&zero),
		Err(CryptoError::Malformed { field: "scalar", .. })
	));
	let mut over = w.proxy.to_bytes().to_vec();
	over[2..].fill(0xff);
	assert!(matches!(
		TesterSecretKey::from_bytes(&over),
		Err(CryptoError::Malformed { field: "scalar", .. })
	));
	let dbg = format!("{:?}", w.proxy);
	assert!(dbg.starts_with("TesterSecretKey(pk:"), "{dbg}");

	let q = w
		.patient
		.peks
		.conjunctive_trapdoor(&w.proxy.public_key(), &[kw(DIABETES), kw(HBA1C)])
		.unwrap()
		.to_bytes();
	let mut zero_count = q.clone();
	zero_count[2..4].copy_from_slice(&0u16.to_be_bytes());
	assert!(matches!(
		ConjunctiveTrapdoor::from_bytes(&zero_count),
		Err(CryptoError::Malformed { field: "count", .. })
	));
	assert!(ConjunctiveTrapdoor::from_bytes(&q[..q.len() - 1]).is_err());
}

#[test]
fn patient_keys_from_the_same_seed_search_the_same_records() {
	let seed = KeySeed::generate();
	let a = PatientKeys::from_seed(&seed);
	let proxy = TesterSecretKey::generate();
	let c = EncryptedKeyword::encrypt(&a.peks.public_key(), &proxy.public_key(), &kw(DIABETES));
	let b = PatientKeys::from_seed(&KeySeed::from_slice(&seed.to_bytes()).unwrap());
	assert!(proxy.prepare(&b.peks.trapdoor(&proxy.public_key(), &kw(DIABETES))).test(&c));
	// Another patient's trapdoor for the same keyword does not match this patient's records.
	let other = PatientKeys::generate();
	assert!(!proxy.prepare(&other.peks.trapdoor(&proxy.public_key(), &kw(DIABETES))).test(&c));
}
