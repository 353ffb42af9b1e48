//! Stories: a doctor seals a record for a patient; the patient shares it through t of n proxies.

use mbds_crypto::*;

fn fhir_record() -> Vec<u8> {
	br#"{"resourceType":"Condition","id":"c1","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"E11.9"}]}}"#.to_vec()
}

#[test]
fn patient_opens_own_record() {
	let patient = PatientKeys::generate();
	let env =
		RecordEnvelope::seal(&patient.pre.public_key(), b"slip-1", 3, &fhir_record()).unwrap();
	assert_eq!(env.header().record_id, b"slip-1");
	assert_eq!(env.header().version, 3);
	assert_eq!(env.open(&patient.pre).unwrap(), fhir_record());
	// Through the storage encoding as well.
	let decoded = RecordEnvelope::from_bytes(&env.to_bytes()).unwrap();
	assert_eq!(decoded.open(&patient.pre).unwrap(), fhir_record());
	assert_eq!(decoded.to_bytes(), env.to_bytes());
}

#[test]
fn another_key_cannot_open() {
	let patient = PatientKeys::generate();
	let stranger = PatientKeys::generate();
	let env =
		RecordEnvelope::seal(&patient.pre.public_key(), b"slip-1", 1, &fhir_record()).unwrap();
	assert!(matches!(env.open(&stranger.pre), Err(CryptoError::KeyUnwrap(_))));
}

#[test]
fn tampered_body_or_header_is_rejected() {
	let patient = PatientKeys::generate();
	let env =
		RecordEnvelope::seal(&patient.pre.public_key(), b"slip-1", 1, &fhir_record()).unwrap();
	let bytes = env.to_bytes();

	// Flip the last byte (Poly1305 tag).
	let mut b = bytes.clone();
	*b.last_mut().unwrap() ^= 1;
	let e = RecordEnvelope::from_bytes(&b).unwrap();
	assert_eq!(e.open(&patient.pre), Err(CryptoError::AuthenticationFailed));

	// Change the record version in the header (offset: 2 header + 4 len + 6 id).
	let mut b = bytes.clone();
	b[2 + 4 + 6 + 7] ^= 1;
	let e = RecordEnvelope::from_bytes(&b).unwrap();
	assert_eq!(e.header().version, 0);
	assert_eq!(e.open(&patient.pre), Err(CryptoError::AuthenticationFailed));

	// Change the record id.
	let mut b = bytes.clone();
	b[2 + 4] = b'X';
	let e = RecordEnvelope::from_bytes(&b).unwrap();
	assert_eq!(e.open(&patient.pre), Err(CryptoError::AuthenticationFailed));
}

#[test]
fn body_moved_to_another_envelope_is_rejected() {
	// Same owner, same id and version, but another capsule: the body is bound to its capsule.
	let patient = PatientKeys::generate();
	let a = RecordEnvelope::seal(&patient.pre.public_key(), b"r", 1, b"first").unwrap().to_bytes();
	let b = RecordEnvelope::seal(&patient.pre.public_key(), b"r", 1, b"other").unwrap().to_bytes();
	let body_at = a.len() - (5 + 16);
	let mut spliced = b[..body_at].to_vec();
	spliced.extend_from_slice(&a[body_at..]);
	let e = RecordEnvelope::from_bytes(&spliced).unwrap();
	assert_eq!(e.open(&patient.pre), Err(CryptoError::AuthenticationFailed));
}

#[test]
fn truncated_or_mistyped_envelope_is_rejected_with_a_clear_error() {
	let patient = PatientKeys::generate();
	let bytes =
		RecordEnvelope::seal(&patient.pre.public_key(), b"slip-1", 1, b"x").unwrap().to_bytes();
	for cut in 0..bytes.len() {
		let err = RecordEnvelope::from_bytes(&bytes[..cut]).expect_err("prefix must not decode");
		let msg = err.to_string();
		assert!(msg.contains("record envelope"), "error names the object: {msg}");
	}
	let mut wrong_version = bytes.clone();
	wrong_version[0] = 9;
	assert!(matches!(
		RecordEnvelope::from_bytes(&wrong_version),
		Err(CryptoError::UnsupportedVersion { found: 9, .. })
	));
	let mut wrong_tag = bytes.clone();
	wrong_tag[1] = 0x27;
	assert!(matches!(
		RecordEnvelope::from_bytes(&wrong_tag),
		Err(CryptoError::WrongType { found: 0x27, .. })
	));
	assert!(matches!(
		RecordEnvelope::from_bytes(&[]),
		Err(CryptoError::Truncated { field: "header", .. })
	));
}

#[test]
fn oversized_record_id_is_rejected() {
	let patient = PatientKeys::generate();
	let id = vec![b'a'; 257];
	assert!(matches!(
		RecordEnvelope::seal(&patient.pre.public_key(), &id, 1, b"x"),
		Err(CryptoError::TooLong { field: "record_id", .. })
	));
}

struct Sharing {
	patient: PatientKeys,
	grantee: PreSecretKey,
	env: RecordEnvelope,
	kfrags: Vec<KeyFragment>,
}

fn share(threshold: usize, shares: usize) -> Sharing {
	let patient = PatientKeys::generate();
	let grantee = PreSecretKey::from_seed(&KeySeed::generate());
	let env =
		RecordEnvelope::seal(&patient.pre.public_key(), b"slip-7", 1, &fhir_record()).unwrap();
	let kfrags = generate_key_fragments(
		&patient.pre,
		&patient.signing,
		&grantee.public_key(),
		threshold,
		shares,
	)
	.unwrap();
	Sharing { patient, grantee, env, kfrags }
}

impl Sharing {
	/// Each proxy verifies its kfrag, re-encrypts; the grantee verifies the cfrags.
	fn cfrags(&self, proxies: &[usize]) -> Vec<VerifiedCapsuleFragment> {
		let vk = self.patient.signing.verifying_key();
		let (ppk, gpk) = (self.patient.pre.public_key(), self.grantee.public_key());
		proxies
			.iter()
			.map(|&i| {
				let kfrag = KeyFragment::from_bytes(&self.kfrags[i].to_bytes()).unwrap();
				let vkfrag = kfrag.verify(&vk, &ppk, &gpk).unwrap();
				let cfrag =
					CapsuleFragment::from_bytes(&vkfrag.reencrypt(&self.env).to_bytes()).unwrap();
				cfrag.verify(&self.env, &vk, &gpk).unwrap()
			})
			.collect()
	}
}

#[test]
fn grantee_decrypts_with_any_t_of_n_proxies() {
	let s = share(3, 5);
	assert_eq!(s.kfrags.len(), 5);
	for proxies in [[0, 1, 2], [2, 3, 4], [4, 0, 3]] {
		assert_eq!(s.env.open_reencrypted(&s.grantee, s.cfrags(&proxies)).unwrap(), fhir_record());
	}
	// More than t also works.
	assert_eq!(s.env.open_reencrypted(&s.grantee, s.cfrags(&[0, 1, 2, 3])).unwrap(), fhir_record());
}

#[test]
fn t_minus_one_proxies_are_not_enough() {
	let s = share(3, 5);
	let err = s.env.open_reencrypted(&s.grantee, s.cfrags(&[1, 4])).unwrap_err();
	assert!(
		matches!(err, CryptoError::Reencryption(_) | CryptoError::AuthenticationFailed),
		"{err}"
	);
	// Two copies of one fragment do not count as two.
	let mut dup = s.cfrags(&[1, 4]);
	dup.push(dup[0].clone());
	assert!(s.env.open_reencrypted(&s.grantee, dup).is_err());
	assert!(matches!(
		s.env.open_reencrypted(&s.grantee, vec![]),
		Err(CryptoError::Reencryption(_))
	));
}

#[test]
fn another_person_cannot_use_the_grantees_fragments() {
	let s = share(2, 3);
	let eve = PreSecretKey::from_seed(&KeySeed::generate());
	assert!(s.env.open_reencrypted(&eve, s.cfrags(&[0, 1])).is_err());
}

#[test]
fn forged_capsule_fragment_is_detected() {
	let s = share(2, 3);
	let vk = s.patient.signing.verifying_key();
	let gpk = s.grantee.public_key();
	let vkfrag = s.kfrags[0].clone().verify(&vk, &s.patient.pre.public_key(), &gpk).unwrap();

	// A proxy re-encrypts another record's capsule and passes it off as this one.
	let other = RecordEnvelope::seal(&s.patient.pre.public_key(), b"slip-8", 1, b"other").unwrap();
	let wrong = vkfrag.reencrypt(&other);
	assert!(matches!(wrong.verify(&s.env, &vk, &gpk), Err(CryptoError::InvalidCapsuleFragment(_))));

	// A proxy flips bits in an honest fragment: either it no longer decodes, or it fails the proof.
	let honest = vkfrag.reencrypt(&s.env).to_bytes();
	let mut detected = 0;
	for pos in (8..honest.len()).step_by(7) {
		let mut b = honest.clone();
		b[pos] ^= 0x01;
		match CapsuleFragment::from_bytes(&b) {
			Err(_) => detected += 1,
			Ok(c) => {
				if c.verify(&s.env, &vk, &gpk).is_err() {
					detected += 1
				}
			}
		}
	}
	assert_eq!(detected, (8..honest.len()).step_by(7).count(), "every corruption is caught");

	// A fragment for another grantee fails the patient's signature check.
	let bob = PreSecretKey::from_seed(&KeySeed::generate());
	let for_bob =
		generate_key_fragments(&s.patient.pre, &s.patient.signing, &bob.public_key(), 2, 3)
			.unwrap();
	let vk_bob =
		for_bob[0].clone().verify(&vk, &s.patient.pre.public_key(), &bob.public_key()).unwrap();
	let c = vk_bob.reencrypt(&s.env);
	assert!(matches!(c.verify(&s.env, &vk, &gpk), Err(CryptoError::InvalidCapsuleFragment(_))));
}

#[test]
fn proxy_rejects_key_fragment_not_signed_by_the_patient() {
	let s = share(2, 3);
	let mallory = PatientKeys::generate();
	let err = s.kfrags[0]
		.clone()
		.verify(
			&mallory.signing.verifying_key(),
			&s.patient.pre.public_key(),
			&s.grantee.public_key(),
		)
		.unwrap_err();
	assert!(matches!(err, CryptoError::InvalidKeyFragment(_)));
	// Claimed for another grantee.
	let err = s.kfrags[0]
		.clone()
		.verify(
			&s.patient.signing.verifying_key(),
			&s.patient.pre.public_key(),
			&mallory.pre.public_key(),
		)
		.unwrap_err();
	assert!(matches!(err, CryptoError::InvalidKeyFragment(_)));
}

#[test]
fn bad_threshold_parameters_are_rejected() {
	let p = PatientKeys::generate();
	let g = PatientKeys::generate().pre.public_key();
	for (t, n) in [(0, 3), (4, 3), (2, 65)] {
		assert!(matches!(
			generate_key_fragments(&p.pre, &p.signing, &g, t, n),
			Err(CryptoError::InvalidThreshold { .. })
		));
	}
}

#[test]
fn keys_serialise_and_never_print_secrets() {
	let seed = KeySeed::generate();
	let restored = KeySeed::from_slice(&seed.to_bytes()).unwrap();
	assert_eq!(seed, restored);
	let a = PatientKeys::from_seed(&seed);
	let b = PatientKeys::from_seed(&restored);
	assert_eq!(a.pre, b.pre);
	assert_eq!(a.peks, b.peks);
	assert_eq!(
		a.pre.public_key(),
		PrePublicKey::from_bytes(&a.pre.public_key().to_bytes()).unwrap()
	);
	let vk = a.signing.verifying_key();
	assert_eq!(vk, VerifyingKey::from_bytes(&vk.to_bytes()).unwrap());
	// Signing and encryption keys are distinct.
	assert_ne!(vk.to_compressed(), a.pre.public_key().to_compressed());

	let debug = format!("{:?} {:?} {:?}", seed, a, a.peks);
	let seed_bytes = seed.to_bytes();
	let seed_hex: String = seed_bytes[2..].iter().map(|b| format!("{b:02x}")).collect();
	assert!(!debug.contains(&seed_hex));
	assert!(debug.contains("PreSecretKey(pk:"));

	// A public key is not a verifying key, and a truncated key is not a key.
	assert!(matches!(
		VerifyingKey::from_bytes(&a.pre.public_key().to_bytes()),
		Err(CryptoError::WrongType { .. })
	));
	assert!(matches!(
		KeySeed::from_slice(&seed.to_bytes()[..20]),
		Err(CryptoError::Truncated { .. })
	));
	let mut bad_point = a.pre.public_key().to_bytes();
	bad_point[2] = 0x07;
	assert!(matches!(
		PrePublicKey::from_bytes(&bad_point),
		Err(CryptoError::Malformed { field: "point", .. })
	));
}

/// Issue 14: a fragment captured on its way to a proxy (or handed to whoever serves a proxy's
/// URL) reveals nothing: it opens only with the secret key of the proxy it was sealed to,
/// and any change to the sealed bytes is detected.
#[test]
fn a_captured_fragment_upload_opens_only_with_its_proxys_key() {
	let s = share(2, 3);
	let proxy = PreSecretKey::from_seed(&KeySeed::generate());
	let eavesdropper = PreSecretKey::from_seed(&KeySeed::generate());
	let sealed = s.kfrags[0].seal_to(&proxy.public_key()).unwrap();
	let wire = sealed.to_bytes();

	// The captured bytes are not a key fragment, and do not contain one.
	assert!(KeyFragment::from_bytes(&wire).is_err());
	let plain = s.kfrags[0].to_bytes();
	assert!(!wire.windows(32).any(|w| plain.windows(32).any(|p| p == w)));
	// Another key (the eavesdropper's, a fake proxy's) cannot open them.
	let captured = SealedKeyFragment::from_bytes(&wire).unwrap();
	assert!(matches!(captured.open(&eavesdropper), Err(CryptoError::KeyUnwrap(_))));
	// A flipped byte anywhere after the header is refused, never opened to another fragment.
	for i in (4..wire.len()).step_by(11) {
		let mut b = wire.clone();
		b[i] ^= 0x40;
		let opened = SealedKeyFragment::from_bytes(&b).and_then(|x| x.open(&proxy));
		assert!(opened.is_err(), "byte {i} flipped and still opened");
	}
	// The proxy opens its fragment, which verifies and re-encrypts as the original does.
	let opened = captured.open(&proxy).unwrap();
	assert_eq!(opened, s.kfrags[0]);
	let vk = s.patient.signing.verifying_key();
	let verified = opened.verify(&vk, &s.patient.pre.public_key(), &s.grantee.public_key());
	assert!(verified.is_ok());
}
