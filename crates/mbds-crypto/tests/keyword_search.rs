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

/// Every record whose keyword set (a bitmask over four keywords) contains the query's keywords,
/// and only those, for every non-empty query over the four keywords.
#[test]
fn conjunctive_query_matches_exactly_the_records_carrying_all_its_keywords() {
	let patient = PatientKeys::generate();
	let proxy = TesterSecretKey::generate();
	let (ppk, tpk) = (patient.peks.public_key(), proxy.public_key());
	let vocab = [DIABETES, HYPERTENSION, HBA1C, METFORMIN];
	// Records 0..16 carry the keywords of the bits of their index (record 0 has none), plus a
	// keyword that is never queried.
	let records: Vec<Vec<EncryptedKeyword>> = (0u32..16)
		.map(|mask| {
			let mut r: Vec<_> = (0..4)
				.filter(|b| mask & (1 << b) != 0)
				.map(|b| EncryptedKeyword::encrypt(&ppk, &tpk, &kw(vocab[b])))
				.collect();
			r.push(EncryptedKeyword::encrypt(&ppk, &tpk, &kw("icd-10|Z00.0")));
			r
		})
		.collect();
	for query in 1u32..16 {
		let words: Vec<Keyword> =
			(0..4).filter(|b| query & (1 << b) != 0).map(|b| kw(vocab[b])).collect();
		let q = patient.peks.conjunctive_trapdoor(&tpk, &words).unwrap();
		let q = ConjunctiveTrapdoor::from_bytes(&q.to_bytes()).unwrap();
		let expected: Vec<usize> =
			(0..16).filter(|&m| m & query == query).map(|m| m as usize).collect();
		assert_eq!(proxy.prepare_conjunctive(&q).search(&records), expected, "query {query:04b}");
		// An outsider (another tester key) matches nothing.
		if query.count_ones() == 1 {
			assert!(TesterSecretKey::generate()
				.prepare_conjunctive(&q)
				.search(&records)
				.is_empty());
		}
	}
}

mod malformed {
	use super::*;
	use ark_bls12_381::{Fq, Fq2, G1Affine, G2Affine};
	use ark_ec::AffineRepr;
	use ark_ff::{One, Zero};
	use ark_serialize::CanonicalSerialize;

	fn compressed<P: CanonicalSerialize>(p: &P) -> Vec<u8> {
		let mut v = vec![];
		p.serialize_compressed(&mut v).unwrap();
		v
	}

	/// A point on the curve but outside the prime-order subgroup (cofactor not cleared).
	fn g1_off_subgroup() -> Vec<u8> {
		(1u64..)
			.find_map(|x| {
				G1Affine::get_point_from_x_unchecked(Fq::from(x), true)
					.filter(|p| !p.is_in_correct_subgroup_assuming_on_curve())
			})
			.map(|p| compressed(&p))
			.unwrap()
	}

	fn g2_off_subgroup() -> Vec<u8> {
		(1u64..)
			.find_map(|x| {
				G2Affine::get_point_from_x_unchecked(Fq2::new(Fq::from(x), Fq::one()), true)
					.filter(|p| !p.is_in_correct_subgroup_assuming_on_curve())
			})
			.map(|p| compressed(&p))
			.unwrap()
	}

	/// A canonical x with no point on the curve, encoded as a compressed point.
	fn off_curve<const N: usize>(valid: &[u8]) -> Vec<u8> {
		let mut b = valid.to_vec();
		assert_eq!(b.len(), N);
		for x in 1u8..=255 {
			b[1..].fill(0);
			b[0] = 0x80; // compressed flag, not infinity, "smaller y"
			b[N - 1] = x;
			let ok = if N == 48 {
				G1Affine::get_point_from_x_unchecked(Fq::from(x as u64), false).is_some()
			} else {
				// G2 x = c0 + c1*u is serialised c1 first: the last byte sets c0.
				G2Affine::get_point_from_x_unchecked(
					Fq2::new(Fq::from(x as u64), Fq::zero()),
					false,
				)
				.is_some()
			};
			if !ok {
				return b;
			}
		}
		unreachable!("half of all x have no point")
	}

	fn is_malformed<T: std::fmt::Debug>(r: Result<T>, want: &str) -> bool {
		matches!(r, Err(CryptoError::Malformed { field, .. }) if field == want)
	}

	#[test]
	fn points_off_the_curve_off_the_subgroup_or_at_infinity_are_rejected() {
		let patient = PatientKeys::generate();
		let proxy = TesterSecretKey::generate();
		let (ppk, tpk) = (patient.peks.public_key(), proxy.public_key());
		let c = EncryptedKeyword::encrypt(&ppk, &tpk, &kw(DIABETES)).to_bytes();
		let td = patient.peks.trapdoor(&tpk, &kw(DIABETES)).to_bytes();
		let (a, t1, t2) = (2..50, 2..50, 50..146);

		let mut identity_g1 = vec![0u8; 48];
		identity_g1[0] = 0xc0;
		let mut identity_g2 = vec![0u8; 96];
		identity_g2[0] = 0xc0;
		assert_eq!(compressed(&G1Affine::zero()), identity_g1);
		assert_eq!(compressed(&G2Affine::zero()), identity_g2);

		for bad in [g1_off_subgroup(), off_curve::<48>(&c[a.clone()]), identity_g1.clone()] {
			let mut b = c.clone();
			b[a.clone()].copy_from_slice(&bad);
			assert!(is_malformed(EncryptedKeyword::from_bytes(&b), "A"));
			let mut b = td.clone();
			b[t1.clone()].copy_from_slice(&bad);
			assert!(is_malformed(Trapdoor::from_bytes(&b), "T1"));
			let mut b = tpk.to_bytes();
			b[2..].copy_from_slice(&bad);
			assert!(is_malformed(TesterPublicKey::from_bytes(&b), "point"));
			assert!(is_malformed(
				PeksPublicKey::from_bytes(&{
					let mut k = ppk.to_bytes();
					k[2..].copy_from_slice(&bad);
					k
				}),
				"point"
			));
		}
		for bad in [g2_off_subgroup(), off_curve::<96>(&td[t2.clone()]), identity_g2] {
			let mut b = td.clone();
			b[t2.clone()].copy_from_slice(&bad);
			assert!(is_malformed(Trapdoor::from_bytes(&b), "T2"));
			// The same part inside a conjunctive trapdoor.
			let mut q =
				patient.peks.conjunctive_trapdoor(&tpk, &[kw(DIABETES)]).unwrap().to_bytes();
			q[52..148].copy_from_slice(&bad);
			assert!(is_malformed(ConjunctiveTrapdoor::from_bytes(&q), "T2"));
		}
		// A batch with one bad ciphertext is refused as a whole; a good batch decodes.
		let good = vec![c.clone(); 8];
		assert_eq!(EncryptedKeyword::decode_all(&good).unwrap().len(), 8);
		let mut batch = good;
		batch[5][a].copy_from_slice(&g1_off_subgroup());
		assert!(is_malformed(EncryptedKeyword::decode_all(&batch), "A"));
	}

	#[test]
	fn truncated_extended_or_mislabelled_serialisations_are_rejected() {
		let patient = PatientKeys::generate();
		let proxy = TesterSecretKey::generate();
		let tpk = proxy.public_key();
		let td = patient.peks.trapdoor(&tpk, &kw(DIABETES)).to_bytes();
		let q = patient
			.peks
			.conjunctive_trapdoor(&tpk, &[kw(DIABETES), kw(HBA1C), kw(METFORMIN)])
			.unwrap()
			.to_bytes();
		assert_eq!(q.len(), 4 + 3 * (TRAPDOOR_LEN - 2));
		for cut in 0..td.len() {
			assert!(matches!(Trapdoor::from_bytes(&td[..cut]), Err(CryptoError::Truncated { .. })));
		}
		for cut in 0..q.len() {
			assert!(matches!(
				ConjunctiveTrapdoor::from_bytes(&q[..cut]),
				Err(CryptoError::Truncated { .. })
			));
		}
		let mut long = td.clone();
		long.push(0);
		assert!(matches!(
			Trapdoor::from_bytes(&long),
			Err(CryptoError::TrailingBytes { extra: 1, .. })
		));
		let mut long = q.clone();
		long.extend([0, 0, 0]);
		assert!(matches!(
			ConjunctiveTrapdoor::from_bytes(&long),
			Err(CryptoError::TrailingBytes { extra: 3, .. })
		));
		// Count says more parts than present / more than allowed.
		let mut more = q.clone();
		more[2..4].copy_from_slice(&4u16.to_be_bytes());
		assert!(matches!(
			ConjunctiveTrapdoor::from_bytes(&more),
			Err(CryptoError::Truncated { .. })
		));
		let mut too_many = q.clone();
		too_many[2..4].copy_from_slice(&17u16.to_be_bytes());
		assert!(matches!(
			ConjunctiveTrapdoor::from_bytes(&too_many),
			Err(CryptoError::Malformed { field: "count", .. })
		));
		// Wrong version, wrong type.
		let mut v2 = td.clone();
		v2[0] = 2;
		assert!(matches!(
			Trapdoor::from_bytes(&v2),
			Err(CryptoError::UnsupportedVersion { found: 2, .. })
		));
		assert!(matches!(ConjunctiveTrapdoor::from_bytes(&td), Err(CryptoError::WrongType { .. })));
		assert!(matches!(Trapdoor::from_bytes(&q), Err(CryptoError::WrongType { .. })));
		assert!(matches!(TesterPublicKey::from_bytes(&td), Err(CryptoError::WrongType { .. })));
		// The untouched serialisations decode and work (the rejections above are no false alarms).
		let ppk = patient.peks.public_key();
		let all: Vec<_> = [DIABETES, HBA1C, METFORMIN]
			.iter()
			.map(|k| EncryptedKeyword::encrypt(&ppk, &tpk, &kw(k)))
			.collect();
		let q = ConjunctiveTrapdoor::from_bytes(&q).unwrap();
		assert_eq!(
			proxy.prepare_conjunctive(&q).search(&[all.clone(), all[..2].to_vec()]),
			vec![0]
		);
		assert_eq!(proxy.prepare(&Trapdoor::from_bytes(&td).unwrap()).search(&all), vec![0]);
	}
}
