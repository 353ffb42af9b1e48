//! Property tests: round trips, and decoders never panic on arbitrary or mutated input.

use mbds_crypto::*;
use proptest::prelude::*;
use std::sync::OnceLock;

fn patient() -> &'static PatientKeys {
	static P: OnceLock<PatientKeys> = OnceLock::new();
	P.get_or_init(PatientKeys::generate)
}

fn sample_envelope() -> &'static Vec<u8> {
	static E: OnceLock<Vec<u8>> = OnceLock::new();
	E.get_or_init(|| {
		RecordEnvelope::seal(&patient().pre.public_key(), b"r", 1, b"hello").unwrap().to_bytes()
	})
}

proptest! {
	#![proptest_config(ProptestConfig::with_cases(64))]

	#[test]
	fn envelope_round_trip(body in proptest::collection::vec(any::<u8>(), 0..4096),
						   id in proptest::collection::vec(any::<u8>(), 0..256),
						   version in any::<u64>()) {
		let p = patient();
		let env = RecordEnvelope::seal(&p.pre.public_key(), &id, version, &body).unwrap();
		let decoded = RecordEnvelope::from_bytes(&env.to_bytes()).unwrap();
		prop_assert_eq!(&decoded.header().record_id, &id);
		prop_assert_eq!(decoded.header().version, version);
		prop_assert_eq!(decoded.open(&p.pre).unwrap(), body);
	}

	#[test]
	fn mutated_envelope_never_opens_and_never_panics(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
		let mut b = sample_envelope().clone();
		let i = pos.index(b.len());
		b[i] ^= 1 << bit;
		if let Ok(env) = RecordEnvelope::from_bytes(&b) {
			prop_assert!(env.open(&patient().pre).is_err());
		}
	}

	#[test]
	fn decoders_never_panic_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..300), tag in any::<u8>()) {
		let mut b = bytes;
		if b.len() >= 2 { b[0] = 1; b[1] = tag; }
		let _ = RecordEnvelope::from_bytes(&b);
		let _ = KeyFragment::from_bytes(&b);
		let _ = CapsuleFragment::from_bytes(&b);
		let _ = EncryptedKeyword::from_bytes(&b);
		let _ = Trapdoor::from_bytes(&b);
		let _ = ConjunctiveTrapdoor::from_bytes(&b);
		let _ = PeksPublicKey::from_bytes(&b);
		let _ = TesterSecretKey::from_bytes(&b);
		let _ = PrePublicKey::from_bytes(&b);
		let _ = KeySeed::from_slice(&b);
	}

	#[test]
	fn keyword_canonicalisation_is_idempotent(code in "[A-Za-z][0-9]{2}(\\.?[0-9A-Za-z]{1,3})?", sys in prop::sample::select(vec!["icd-10", "ICD10", "http://hl7.org/fhir/sid/icd-10", "icd-10-cm"])) {
		let k = Keyword::from_coding(sys, &code).unwrap();
		prop_assert_eq!(Keyword::parse(k.as_str()).unwrap(), k.clone());
		prop_assert_eq!(Keyword::from_coding(sys, &code.to_lowercase()).unwrap(), k);
	}
}

proptest! {
	// Pairings are slow in debug builds: few cases.
	#![proptest_config(ProptestConfig::with_cases(6))]

	#[test]
	fn encrypted_keyword_round_trip_and_match(code in "[0-9]{6,9}") {
		let p = patient();
		let proxy = TesterSecretKey::generate();
		let k = Keyword::from_coding("snomed", &code).unwrap();
		let c = EncryptedKeyword::encrypt(&p.peks.public_key(), &proxy.public_key(), &k);
		let c2 = EncryptedKeyword::from_bytes(&c.to_bytes()).unwrap();
		prop_assert_eq!(c2, c);
		let td = Trapdoor::from_bytes(&p.peks.trapdoor(&proxy.public_key(), &k).to_bytes()).unwrap();
		prop_assert!(proxy.prepare(&td).test(&c2));
		let other = Keyword::from_coding("snomed", &format!("{code}1")).unwrap();
		prop_assert!(!proxy.prepare(&p.peks.trapdoor(&proxy.public_key(), &other)).test(&c2));
	}
}
