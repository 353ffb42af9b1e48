//! Fuzzing of every decoder of this crate that takes outside bytes (property tests, proptest).
//!
//! For each decoder (one module per decoder below; every test function is named `fuzz_*`):
//!
//! * `fuzz_arbitrary_bytes`: arbitrary bytes of 0 to twice the encoding's length never panic;
//!   an error is a decode error naming this object (and a field where it has one); anything
//!   accepted re-encodes to exactly the input (the encodings are canonical).
//! * `fuzz_exact_length`: the same for inputs of exactly the encoding's length, half of them
//!   with the right version and type header, so the field decoders behind it are reached.
//! * `fuzz_round_trip`: a fresh valid encoding (keys from a random seed, fresh ciphertexts)
//!   decodes and re-encodes to the same bytes.
//! * `fuzz_mutations`: a valid encoding with one byte flipped, overwritten, inserted or
//!   removed decodes (where the format allows, e.g. a flip that is still a valid point: then
//!   canonically) or fails with a specific error; truncated or extended it always fails.
//!
//! Plus the text decoders of FHIR keywords (`fhir_*` modules).
//!
//! Each property runs 256 cases by default (about a second for the whole file in release);
//! `PROPTEST_CASES` overrides it for long runs:
//!
//! ```text
//! PROPTEST_CASES=100000 cargo test --release -p mbds-crypto fuzz_
//! ```

use mbds_crypto::peks::boneh;
use mbds_crypto::*;
use proptest::prelude::*;
use proptest::sample::Index;
use std::sync::OnceLock;

/// 256 cases, unless `PROPTEST_CASES` says otherwise (`ProptestConfig::with_cases` would
/// ignore the variable).
fn config() -> ProptestConfig {
	let mut c = ProptestConfig::default();
	if std::env::var_os("PROPTEST_CASES").is_none() {
		c.cases = 256;
	}
	c
}

/// A decoder under test: decodes and, if it accepts, re-encodes.
type Decode = fn(&[u8]) -> Result<Vec<u8>>;

/// The error must be a decode error about `object` that says what is wrong.
fn specific(
	object: &str,
	input: &[u8],
	e: &CryptoError,
) -> core::result::Result<(), TestCaseError> {
	let ok = match e {
		CryptoError::Truncated { object: o, field, .. } => *o == object && !field.is_empty(),
		CryptoError::UnsupportedVersion { object: o, .. } => *o == object,
		CryptoError::WrongType { expected, .. } => *expected == object,
		CryptoError::TrailingBytes { object: o, extra } => *o == object && *extra > 0,
		CryptoError::Malformed { object: o, field, reason } => {
			*o == object && !field.is_empty() && !reason.trim().is_empty()
		}
		CryptoError::TooLong { object: o, field, .. } => *o == object && !field.is_empty(),
		_ => false,
	};
	prop_assert!(ok, "{object}: unspecific error {e:?} ({e}) for input {}", hex(input));
	prop_assert!(e.to_string().contains(object), "{object}: error text does not name it: {e}");
	Ok(())
}

fn hex(b: &[u8]) -> String {
	b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decodes `input`: never panics (a panic fails the property), errors are specific, and an
/// accepted input re-encodes to itself when the format is canonical.
fn check(
	object: &str,
	decode: Decode,
	canonical: bool,
	input: &[u8],
) -> core::result::Result<bool, TestCaseError> {
	match decode(input) {
		Ok(again) => {
			if canonical {
				prop_assert_eq!(
					hex(&again),
					hex(input),
					"{} accepted a non-canonical input",
					object
				);
			}
			Ok(true)
		}
		Err(e) => {
			specific(object, input, &e)?;
			Ok(false)
		}
	}
}

#[derive(Debug, Clone)]
enum Mutation {
	Flip(Index, u8),
	Set(Index, u8),
	Insert(Index, u8),
	Remove(Index),
	Truncate(Index),
	Extend(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
	prop_oneof![
		3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
		1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
		1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
		1 => any::<Index>().prop_map(Mutation::Remove),
		1 => any::<Index>().prop_map(Mutation::Truncate),
		1 => proptest::collection::vec(any::<u8>(), 1..=32).prop_map(Mutation::Extend),
	]
}

/// Applies `m`; returns the result and whether it must be rejected (truncated or extended).
fn mutate(valid: &[u8], m: &Mutation) -> (Vec<u8>, bool) {
	let mut b = valid.to_vec();
	let must_fail = match m {
		Mutation::Flip(i, bit) => {
			let i = i.index(b.len());
			b[i] ^= 1 << bit;
			false
		}
		Mutation::Set(i, x) => {
			let i = i.index(b.len());
			b[i] = *x;
			false
		}
		Mutation::Insert(i, x) => {
			b.insert(i.index(b.len() + 1), *x);
			false
		}
		Mutation::Remove(i) => {
			b.remove(i.index(b.len()));
			false
		}
		Mutation::Truncate(i) => {
			b.truncate(i.index(b.len()));
			true
		}
		Mutation::Extend(tail) => {
			b.extend_from_slice(tail);
			true
		}
	};
	(b, must_fail)
}

/// Defines the four properties of one decoder in a module named `$m`.
///
/// `$object`: the object name its errors carry; `$decode`: decode then re-encode;
/// `$fresh`: a fresh valid encoding from a 32-byte seed; `$canonical`: whether an accepted
/// input must re-encode to itself.
macro_rules! fuzz_decoder {
	($m:ident, $object:expr, $canonical:expr, $decode:expr, $fresh:expr) => {
		mod $m {
			use super::*;

			const OBJECT: &str = $object;
			const CANONICAL: bool = $canonical;

			fn decode(b: &[u8]) -> Result<Vec<u8>> {
				let f: fn(&[u8]) -> Result<Vec<u8>> = $decode;
				f(b)
			}

			fn fresh(seed: [u8; 32]) -> Vec<u8> {
				let f: fn([u8; 32]) -> Vec<u8> = $fresh;
				f(seed)
			}

			/// A few valid encodings, made once.
			fn pool() -> &'static [Vec<u8>] {
				static POOL: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
				POOL.get_or_init(|| (1u8..=4).map(|i| fresh([i; 32])).collect())
			}

			fn len() -> usize {
				pool()[0].len()
			}

			proptest! {
				#![proptest_config(config())]

				#[test]
				fn fuzz_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..=2 * len())) {
					check(OBJECT, decode, CANONICAL, &bytes)?;
				}

				#[test]
				fn fuzz_exact_length(mut bytes in proptest::collection::vec(any::<u8>(), len()), header in any::<bool>()) {
					if header {
						bytes[..2].copy_from_slice(&pool()[0][..2]);
					}
					check(OBJECT, decode, CANONICAL, &bytes)?;
				}

				#[test]
				fn fuzz_round_trip(seed in any::<[u8; 32]>()) {
					let valid = fresh(seed);
					let again = decode(&valid);
					prop_assert!(again.is_ok(), "{}: a valid encoding is refused: {:?}", OBJECT, again);
					prop_assert_eq!(hex(&again.unwrap()), hex(&valid));
				}

				#[test]
				fn fuzz_mutations(which in any::<Index>(), m in mutation()) {
					let valid = which.get(pool());
					let (bytes, must_fail) = mutate(valid, &m);
					let accepted = check(OBJECT, decode, CANONICAL, &bytes)?;
					prop_assert!(!(must_fail && accepted), "{}: accepted after {:?}", OBJECT, m);
				}
			}
		}
	};
}

fn seed(s: [u8; 32]) -> KeySeed {
	KeySeed::from_bytes(s)
}

fn kw(i: u8) -> Keyword {
	Keyword::from_coding("snomed", &format!("{}", 100_000 + u32::from(i))).unwrap()
}

/// Patient and grantee keys, a record for the patient and a verified key fragment.
struct Sharing {
	patient: PatientKeys,
	grantee: PreSecretKey,
	kfrag: KeyFragment,
	envelope: RecordEnvelope,
}

fn sharing(s: [u8; 32]) -> Sharing {
	let patient = PatientKeys::from_seed(&seed(s));
	let mut g = s;
	g[0] ^= 0xff;
	let grantee = PreSecretKey::from_seed(&seed(g));
	let kfrag = generate_key_fragments(
		&patient.pre,
		&patient.signing,
		&grantee.public_key(),
		1 + usize::from(s[1] % 2),
		2,
	)
	.unwrap()
	.remove(0);
	let envelope =
		RecordEnvelope::seal(&patient.pre.public_key(), &s[..usize::from(s[2] % 32)], 7, &s)
			.unwrap();
	Sharing { patient, grantee, kfrag, envelope }
}

fuzz_decoder!(
	key_seed,
	"key seed",
	true,
	|b| KeySeed::from_slice(b).map(|k| k.to_bytes().to_vec()),
	|s| seed(s).to_bytes().to_vec()
);

fuzz_decoder!(
	pre_secret_key,
	"PRE secret key",
	true,
	|b| PreSecretKey::from_secret_bytes(b).map(|k| k.to_secret_bytes().to_vec()),
	|s| PreSecretKey::from_seed(&seed(s)).to_secret_bytes().to_vec()
);

fuzz_decoder!(
	pre_public_key,
	"PRE public key",
	true,
	|b| PrePublicKey::from_bytes(b).map(|k| k.to_bytes()),
	|s| PreSecretKey::from_seed(&seed(s)).public_key().to_bytes()
);

fuzz_decoder!(
	pre_public_key_compressed,
	"PRE public key",
	true,
	|b| PrePublicKey::from_compressed_bytes(b).map(|k| k.to_compressed().to_vec()),
	|s| PreSecretKey::from_seed(&seed(s)).public_key().to_compressed().to_vec()
);

fuzz_decoder!(
	verifying_key,
	"verifying key",
	true,
	|b| VerifyingKey::from_bytes(b).map(|k| k.to_bytes()),
	|s| SigningKey::from_seed(&seed(s)).verifying_key().to_bytes()
);

fuzz_decoder!(
	peks_secret_key,
	"dPEKS receiver secret key",
	true,
	|b| PeksSecretKey::from_bytes(b).map(|k| k.to_bytes().to_vec()),
	|s| PeksSecretKey::from_seed(&seed(s)).to_bytes().to_vec()
);

fuzz_decoder!(
	peks_public_key,
	"dPEKS receiver public key",
	true,
	|b| PeksPublicKey::from_bytes(b).map(|k| k.to_bytes()),
	|s| PeksSecretKey::from_seed(&seed(s)).public_key().to_bytes()
);

fuzz_decoder!(
	tester_secret_key,
	"dPEKS tester secret key",
	true,
	|b| TesterSecretKey::from_bytes(b).map(|k| k.to_bytes().to_vec()),
	|s| TesterSecretKey::from_seed(&seed(s)).to_bytes().to_vec()
);

fuzz_decoder!(
	tester_public_key,
	"dPEKS tester public key",
	true,
	|b| TesterPublicKey::from_bytes(b).map(|k| k.to_bytes()),
	|s| TesterSecretKey::from_seed(&seed(s)).public_key().to_bytes()
);

fuzz_decoder!(
	boneh_secret_key,
	"base PEKS secret key",
	true,
	|b| boneh::SecretKey::from_bytes(b).map(|k| k.to_bytes().to_vec()),
	|s| boneh::SecretKey::from_seed(&seed(s)).to_bytes().to_vec()
);

fuzz_decoder!(
	boneh_public_key,
	"base PEKS public key",
	true,
	|b| boneh::PublicKey::from_bytes(b).map(|k| k.to_bytes()),
	|s| boneh::SecretKey::from_seed(&seed(s)).public_key().to_bytes()
);

fuzz_decoder!(
	boneh_ciphertext,
	"base PEKS ciphertext",
	true,
	|b| boneh::Ciphertext::from_bytes(b).map(|c| c.to_bytes()),
	|s| boneh::encrypt(&boneh::SecretKey::from_seed(&seed(s)).public_key(), &kw(s[0])).to_bytes()
);

fuzz_decoder!(
	boneh_trapdoor,
	"base PEKS trapdoor",
	true,
	|b| boneh::Trapdoor::from_bytes(b).map(|t| t.to_bytes()),
	|s| boneh::SecretKey::from_seed(&seed(s)).trapdoor(&kw(s[0])).to_bytes()
);

fuzz_decoder!(
	encrypted_keyword,
	"encrypted keyword",
	true,
	|b| EncryptedKeyword::from_bytes(b).map(|c| c.to_bytes()),
	|s| {
		let p = PeksSecretKey::from_seed(&seed(s)).public_key();
		let t = TesterSecretKey::from_seed(&seed([s[0]; 32])).public_key();
		EncryptedKeyword::encrypt(&p, &t, &kw(s[1])).to_bytes()
	}
);

fuzz_decoder!(
	encrypted_keywords_in_parallel,
	"encrypted keyword",
	true,
	|b| EncryptedKeyword::decode_all(&[b]).map(|c| c[0].to_bytes()),
	|s| {
		let p = PeksSecretKey::from_seed(&seed(s)).public_key();
		let t = TesterSecretKey::from_seed(&seed([s[0]; 32])).public_key();
		EncryptedKeyword::encrypt(&p, &t, &kw(s[1])).to_bytes()
	}
);

fuzz_decoder!(trapdoor, "trapdoor", true, |b| Trapdoor::from_bytes(b).map(|t| t.to_bytes()), |s| {
	let t = TesterSecretKey::from_seed(&seed([s[0]; 32])).public_key();
	PeksSecretKey::from_seed(&seed(s)).trapdoor(&t, &kw(s[1])).to_bytes()
});

fuzz_decoder!(
	conjunctive_trapdoor,
	"conjunctive trapdoor",
	true,
	|b| ConjunctiveTrapdoor::from_bytes(b).map(|t| t.to_bytes()),
	|s| {
		let t = TesterSecretKey::from_seed(&seed([s[0]; 32])).public_key();
		let kws: Vec<Keyword> = (0..1 + s[1] % 3).map(kw).collect();
		PeksSecretKey::from_seed(&seed(s)).conjunctive_trapdoor(&t, &kws).unwrap().to_bytes()
	}
);

fuzz_decoder!(
	key_fragment,
	"key fragment",
	true,
	|b| KeyFragment::from_bytes(b).map(|k| k.to_bytes()),
	|s| sharing(s).kfrag.to_bytes()
);

fuzz_decoder!(
	sealed_key_fragment,
	"sealed key fragment",
	true,
	|b| SealedKeyFragment::from_bytes(b).map(|k| k.to_bytes()),
	|s| {
		let proxy = PreSecretKey::from_seed(&seed([s[0]; 32])).public_key();
		sharing(s).kfrag.seal_to(&proxy).unwrap().to_bytes()
	}
);

fuzz_decoder!(
	capsule_fragment,
	"capsule fragment",
	true,
	|b| CapsuleFragment::from_bytes(b).map(|c| c.to_bytes()),
	|s| {
		let x = sharing(s);
		let p = &x.patient;
		let vk = p.signing.verifying_key();
		let k = x.kfrag.verify(&vk, &p.pre.public_key(), &x.grantee.public_key()).unwrap();
		k.reencrypt(&x.envelope).to_bytes()
	}
);

fuzz_decoder!(
	record_envelope,
	"record envelope",
	true,
	|b| RecordEnvelope::from_bytes(b).map(|e| e.to_bytes()),
	|s| sharing(s).envelope.to_bytes()
);

fuzz_decoder!(
	sealed_note,
	"sealed note",
	true,
	|b| SealedNote::from_bytes(b).map(|n| n.to_bytes()),
	|s| {
		let owner = PreSecretKey::from_seed(&seed(s)).public_key();
		SealedNote::seal(&owner, &s[..usize::from(s[0] % 33)]).unwrap().to_bytes()
	}
);

/// FHIR keyword text: `Keyword::parse` and `keywords_from_json` (the doctor's FHIR resource).
mod fhir_keyword {
	use super::*;

	fn specific_keyword_error(e: &CryptoError) -> core::result::Result<(), TestCaseError> {
		prop_assert!(
			matches!(e, CryptoError::InvalidKeyword(m) if !m.trim().is_empty()),
			"unspecific keyword error {e:?}"
		);
		Ok(())
	}

	proptest! {
		#![proptest_config(config())]

		/// Any text: a keyword or a specific error; a keyword is canonical (parses to itself).
		#[test]
		fn fuzz_arbitrary_text(s in any::<String>()) {
			match Keyword::parse(&s) {
				Ok(k) => prop_assert_eq!(Keyword::parse(k.as_str()).unwrap(), k),
				Err(e) => specific_keyword_error(&e)?,
			}
		}

		/// `system|code` shaped text over the known systems and their aliases.
		#[test]
		fn fuzz_system_and_code(
			system in prop::sample::select(vec!["icd-10", "ICD10", "icd-10-cm", "snomed", "http://loinc.org/", "rxnorm", "atc", "urn:x", " ", ""]),
			code in "\\PC{0,12}",
		) {
			match Keyword::from_coding(system, &code) {
				Ok(k) => prop_assert_eq!(Keyword::parse(k.as_str()).unwrap(), k),
				Err(e) => specific_keyword_error(&e)?,
			}
		}
	}
}

mod fhir_json {
	use super::*;
	use serde_json::{json, Value};

	fn specific_fhir_error(e: &CryptoError) -> core::result::Result<(), TestCaseError> {
		prop_assert!(
			matches!(e, CryptoError::Fhir(m) if !m.trim().is_empty()),
			"unspecific FHIR error {e:?}"
		);
		Ok(())
	}

	/// Arbitrary JSON values, with FHIR-like keys likelier than others.
	fn json_value() -> impl Strategy<Value = Value> {
		let leaf = prop_oneof![
			Just(Value::Null),
			any::<bool>().prop_map(Value::from),
			any::<i64>().prop_map(Value::from),
			prop::sample::select(vec![
				"Bundle",
				"Condition",
				"Observation",
				"Procedure",
				"MedicationRequest",
				"icd-10",
				"snomed",
				"E11.9",
				"12345",
				"",
				" ",
				"|"
			])
			.prop_map(Value::from),
			"\\PC{0,8}".prop_map(Value::from),
		];
		leaf.prop_recursive(6, 64, 6, |inner| {
			prop_oneof![
				proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
				proptest::collection::vec(
					(
						prop::sample::select(vec![
							"resourceType",
							"entry",
							"resource",
							"code",
							"coding",
							"system",
							"code",
							"medicationCodeableConcept",
							"medication",
							"concept",
							"x"
						]),
						inner
					),
					0..6
				)
				.prop_map(|kv| Value::Object(
					kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
				)),
			]
		})
	}

	fn bundle() -> Value {
		json!({"resourceType": "Bundle", "entry": [
			{"resource": {"resourceType": "Condition", "code": {"coding": [{"system": "icd-10", "code": "e119"}]}}},
			{"resource": {"resourceType": "MedicationRequest", "medicationCodeableConcept": {"coding": [{"system": "rxnorm", "code": "860975"}]}}},
			{"resource": {"resourceType": "Observation", "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]}}}
		]})
	}

	proptest! {
		#![proptest_config(config())]

		#[test]
		fn fuzz_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
			if let Err(e) = keywords_from_json(&String::from_utf8_lossy(&bytes)) {
				specific_fhir_error(&e)?;
			}
		}

		#[test]
		fn fuzz_arbitrary_json(v in json_value()) {
			if let Err(e) = keywords_from_json(&v.to_string()) {
				specific_fhir_error(&e)?;
			}
		}

		/// A valid Bundle with one byte of its text flipped, overwritten or cut.
		#[test]
		fn fuzz_mutations(m in mutation()) {
			let valid = bundle().to_string();
			prop_assert_eq!(keywords_from_json(&valid).unwrap().len(), 3);
			let (bytes, _) = mutate(valid.as_bytes(), &m);
			if let Err(e) = keywords_from_json(&String::from_utf8_lossy(&bytes)) {
				specific_fhir_error(&e)?;
			}
		}
	}
}

/// Regression: a compressed secp256k1 point with the SEC1 "compact" tag 0x05 instead of
/// 0x02/0x03 was accepted (found by `pre_public_key_compressed::fuzz_exact_length`), so a key
/// had two encodings; now refused naming the field.
#[test]
fn fuzz_regression_compact_sec1_tag_is_refused() {
	let pk = PreSecretKey::from_seed(&seed([9; 32])).public_key();
	let mut point = pk.to_compressed();
	point[0] = 0x05;
	let e = PrePublicKey::from_compressed_bytes(&point).unwrap_err();
	assert!(
		matches!(&e, CryptoError::Malformed { object: "PRE public key", field: "point", reason } if reason.contains("0x05")),
		"{e:?}"
	);
	let mut versioned = pk.to_bytes();
	versioned[2] = 0x05;
	assert!(matches!(
		PrePublicKey::from_bytes(&versioned),
		Err(CryptoError::Malformed { field: "point", .. })
	));
	let mut vk = SigningKey::from_seed(&seed([9; 32])).verifying_key().to_bytes();
	vk[2] = 0x05;
	assert!(matches!(
		VerifyingKey::from_bytes(&vk),
		Err(CryptoError::Malformed { field: "point", .. })
	));
	// The owner field of a record envelope: header (2), record id length (4) and id, version (8).
	let env = RecordEnvelope::seal(&pk, b"id", 1, b"x").unwrap().to_bytes();
	let mut bad = env.clone();
	bad[2 + 4 + 2 + 8] = 0x05;
	assert!(matches!(
		RecordEnvelope::from_bytes(&bad),
		Err(CryptoError::Malformed { object: "record envelope", field: "owner", .. })
	));
}

/// Regression: the base-PEKS and dPEKS key decoders named their object by the Rust type only
/// (`SecretKey`, `PublicKey`: which scheme?); now `base PEKS secret key`, `dPEKS tester public
/// key`, ...
#[test]
fn fuzz_regression_key_errors_name_their_scheme() {
	let e = boneh::SecretKey::from_bytes(&[1, 0x29]).unwrap_err();
	assert_eq!(e.to_string(), "base PEKS secret key: input truncated while reading `scalar` (needed 32 more bytes, 0 left)");
	let e = TesterPublicKey::from_bytes(&[1, 0x21]).unwrap_err();
	assert_eq!(
		e.to_string(),
		"expected a dPEKS tester public key (tag 0x23) but the input is tagged 0x21"
	);
}

/// Regression: Umbral's MessagePack reader took a `str 8` marker (0xd9) where `bin 8` (0xc4)
/// is written, so a key fragment (and capsules, capsule fragments) had several encodings
/// (found by `key_fragment::fuzz_mutations` with `PROPTEST_CASES=2000`); now refused.
#[test]
fn fuzz_regression_umbral_objects_must_be_canonical_messagepack() {
	let x = sharing([5; 32]);
	let good = x.kfrag.to_bytes();
	// header (2), length (4), then the MessagePack of the fragment: its first `bin 8` marker
	let at = good.iter().skip(6).position(|b| *b == 0xc4).unwrap() + 6;
	let mut bad = good.clone();
	bad[at] = 0xd9;
	let e = KeyFragment::from_bytes(&bad).unwrap_err();
	assert!(
		matches!(&e, CryptoError::Malformed { object: "key fragment", field: "kfrag", reason } if reason.contains("canonical")),
		"{e:?}"
	);
	assert!(KeyFragment::from_bytes(&good).is_ok());
}
