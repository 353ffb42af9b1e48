//! Key material: one 32-byte seed per participant, from which every secret key of this crate is
//! derived with a distinct label, so a participant backs up one secret.
//!
//! Secrets zeroize on drop, compare in constant time and print only a fingerprint of the
//! matching public key.

use core::fmt;

use rand_core::{OsRng, RngCore};
use subtle::ConstantTimeEq;
use umbral_pre::SecretKeyFactory;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::codec::{fingerprint, Reader, Tag, Writer};
use crate::error::{CryptoError, Result};

/// Length of a [`KeySeed`].
pub const SEED_LEN: usize = 32;

/// A participant's root secret. Every other secret key is derived from it by label.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeySeed([u8; SEED_LEN]);

impl KeySeed {
	/// A fresh seed from the operating system's CSPRNG.
	pub fn generate() -> Self {
		let mut s = [0u8; SEED_LEN];
		OsRng.fill_bytes(&mut s);
		Self(s)
	}

	/// Wraps existing secure randomness (e.g. restored from a backup).
	pub fn from_bytes(bytes: [u8; SEED_LEN]) -> Self {
		Self(bytes)
	}

	/// Versioned serialisation; the caller keeps it secret.
	pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
		let mut w = Writer::new(Tag::KeySeed, SEED_LEN);
		w.bytes(&self.0);
		Zeroizing::new(w.finish())
	}

	/// Decodes [`KeySeed::to_bytes`] output.
	pub fn from_slice(input: &[u8]) -> Result<Self> {
		let mut r = Reader::new("key seed", Tag::KeySeed, input)?;
		let seed = Zeroizing::new(r.array::<SEED_LEN>("seed")?);
		r.finish()?;
		Ok(Self(*seed))
	}

	/// Derives 64 bytes of key material for `label` (SHA-512 of a domain tag, label and seed;
	/// the seed is uniformly random, so this is a KDF in the random-oracle model).
	pub(crate) fn derive_wide(&self, label: &[u8]) -> Zeroizing<[u8; 64]> {
		use sha2::{Digest, Sha512};
		let mut h = Sha512::new();
		h.update(b"MBDS-KDF-V01");
		h.update((label.len() as u32).to_be_bytes());
		h.update(label);
		h.update(self.0);
		let mut out = Zeroizing::new([0u8; 64]);
		out.copy_from_slice(&h.finalize());
		out
	}

	pub(crate) fn umbral_factory(&self) -> SecretKeyFactory {
		SecretKeyFactory::from_secure_randomness(&self.0[..])
			.expect("seed length equals SecretKeyFactory::seed_size() (32)")
	}
}

impl ConstantTimeEq for KeySeed {
	fn ct_eq(&self, other: &Self) -> subtle::Choice {
		self.0.ct_eq(&other.0)
	}
}

impl PartialEq for KeySeed {
	fn eq(&self, other: &Self) -> bool {
		self.ct_eq(other).into()
	}
}
impl Eq for KeySeed {}

impl fmt::Debug for KeySeed {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		// A seed has no public counterpart; print the fingerprint of its derived PRE key.
		let pk = PreSecretKey::from_seed(self).public_key();
		write!(f, "KeySeed(pre:{})", fingerprint(&pk.to_compressed()))
	}
}

const PRE_ENCRYPTION_LABEL: &[u8] = b"mbds/pre/encryption/v1";
const PRE_SIGNING_LABEL: &[u8] = b"mbds/pre/signing/v1";

/// Secret key for record envelopes and proxy re-encryption (Umbral, secp256k1).
#[derive(Clone)]
pub struct PreSecretKey(pub(crate) umbral_pre::SecretKey);

impl PreSecretKey {
	/// Derives the PRE secret key from a seed.
	pub fn from_seed(seed: &KeySeed) -> Self {
		Self(seed.umbral_factory().make_key(PRE_ENCRYPTION_LABEL))
	}
	/// The matching public key.
	pub fn public_key(&self) -> PrePublicKey {
		PrePublicKey(self.0.public_key())
	}

	/// The secret scalar (32 bytes, big-endian), for handing this key alone (not the seed it
	/// came from) to someone it is sealed to: an institution gives its members its PRE key so
	/// they can open what the proxies re-encrypt for the institution.
	pub fn to_secret_bytes(&self) -> Zeroizing<Vec<u8>> {
		Zeroizing::new(self.0.to_be_bytes().as_secret().to_vec())
	}

	/// Reads [`PreSecretKey::to_secret_bytes`] output.
	pub fn from_secret_bytes(bytes: &[u8]) -> Result<Self> {
		if bytes.len() != 32 {
			return Err(CryptoError::Malformed {
				object: "PRE secret key",
				field: "scalar",
				reason: format!("{} bytes, expected 32", bytes.len()),
			});
		}
		// Umbral builds its secret boxes itself: take one of the right type and overwrite it
		// (the random key it held is zeroized with the box).
		let mut boxed = umbral_pre::SecretKey::random().to_be_bytes();
		boxed.as_mut_secret().copy_from_slice(bytes);
		umbral_pre::SecretKey::try_from_be_bytes(&boxed).map(Self).map_err(|e| {
			CryptoError::Malformed { object: "PRE secret key", field: "scalar", reason: e }
		})
	}
}

impl PartialEq for PreSecretKey {
	fn eq(&self, other: &Self) -> bool {
		let (a, b) = (self.0.to_be_bytes(), other.0.to_be_bytes());
		a.as_secret().as_slice().ct_eq(b.as_secret().as_slice()).into()
	}
}
impl Eq for PreSecretKey {}

impl fmt::Debug for PreSecretKey {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "PreSecretKey(pk:{})", fingerprint(&self.public_key().to_compressed()))
	}
}

/// Public key for record envelopes and proxy re-encryption: a participant's PRE identity.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PrePublicKey(pub(crate) umbral_pre::PublicKey);

/// Length of a compressed secp256k1 point.
pub const PRE_PUBLIC_KEY_LEN: usize = 33;

impl PrePublicKey {
	/// The 33-byte compressed SEC1 point (no header); used inside other encodings.
	pub fn to_compressed(&self) -> [u8; PRE_PUBLIC_KEY_LEN] {
		let b = self.0.to_compressed_bytes();
		let mut out = [0u8; PRE_PUBLIC_KEY_LEN];
		out.copy_from_slice(&b);
		out
	}
	pub(crate) fn from_compressed(r: &Reader<'_>, field: &'static str, b: &[u8]) -> Result<Self> {
		// Only the canonical compressed form: the SEC1 decoder underneath also takes the
		// "compact" tag 0x05 (x only), which would give one key a second encoding.
		match b.first() {
			Some(0x02 | 0x03) => {}
			Some(tag) => {
				return Err(r.malformed(
					field,
					format!("SEC1 tag 0x{tag:02x}, expected 0x02 or 0x03 (a compressed point)"),
				))
			}
			None => return Err(r.malformed(field, "empty")),
		}
		umbral_pre::PublicKey::try_from_compressed_bytes(b)
			.map(Self)
			.map_err(|e| r.malformed(field, format!("not a secp256k1 point: {e}")))
	}
	/// Parses a bare 33-byte compressed point (the form the KMC registry stores).
	pub fn from_compressed_bytes(b: &[u8]) -> Result<Self> {
		let r = Reader { object: "PRE public key", rest: &[] };
		if b.len() != PRE_PUBLIC_KEY_LEN {
			return Err(
				r.malformed("point", format!("{} bytes, expected {PRE_PUBLIC_KEY_LEN}", b.len()))
			);
		}
		Self::from_compressed(&r, "point", b)
	}
	/// Versioned serialisation.
	pub fn to_bytes(&self) -> Vec<u8> {
		let mut w = Writer::new(Tag::PrePublicKey, PRE_PUBLIC_KEY_LEN);
		w.bytes(&self.to_compressed());
		w.finish()
	}
	/// Decodes [`PrePublicKey::to_bytes`] output.
	pub fn from_bytes(input: &[u8]) -> Result<Self> {
		let mut r = Reader::new("PRE public key", Tag::PrePublicKey, input)?;
		let b = r.take("point", PRE_PUBLIC_KEY_LEN)?;
		let pk = Self::from_compressed(&r, "point", b)?;
		r.finish()?;
		Ok(pk)
	}
}

impl fmt::Debug for PrePublicKey {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "PrePublicKey({})", fingerprint(&self.to_compressed()))
	}
}

/// The patient's key for signing key fragments, so proxies and grantees can check that a
/// fragment really comes from the patient. Kept apart from the encryption key.
#[derive(Clone)]
pub struct SigningKey(pub(crate) umbral_pre::SecretKey);

impl SigningKey {
	/// Derives the signing key from a seed.
	pub fn from_seed(seed: &KeySeed) -> Self {
		Self(seed.umbral_factory().make_key(PRE_SIGNING_LABEL))
	}
	/// The matching verifying key, published with the patient's identity.
	pub fn verifying_key(&self) -> VerifyingKey {
		VerifyingKey(self.0.public_key())
	}
	pub(crate) fn signer(&self) -> umbral_pre::Signer {
		umbral_pre::Signer::new(self.0.clone())
	}
}

impl fmt::Debug for SigningKey {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		let pk = self.verifying_key().0.to_compressed_bytes();
		write!(f, "SigningKey(vk:{})", fingerprint(&pk))
	}
}

/// Verifies key fragment signatures; the public half of [`SigningKey`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VerifyingKey(pub(crate) umbral_pre::PublicKey);

impl VerifyingKey {
	/// The 33-byte compressed point.
	pub fn to_compressed(&self) -> [u8; PRE_PUBLIC_KEY_LEN] {
		PrePublicKey(self.0).to_compressed()
	}
	/// Versioned serialisation.
	pub fn to_bytes(&self) -> Vec<u8> {
		let mut w = Writer::new(Tag::VerifyingKey, PRE_PUBLIC_KEY_LEN);
		w.bytes(&self.to_compressed());
		w.finish()
	}
	/// Decodes [`VerifyingKey::to_bytes`] output.
	pub fn from_bytes(input: &[u8]) -> Result<Self> {
		let mut r = Reader::new("verifying key", Tag::VerifyingKey, input)?;
		let b = r.take("point", PRE_PUBLIC_KEY_LEN)?;
		let pk = PrePublicKey::from_compressed(&r, "point", b)?;
		r.finish()?;
		Ok(Self(pk.0))
	}
}

impl fmt::Debug for VerifyingKey {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "VerifyingKey({})", fingerprint(&self.to_compressed()))
	}
}

/// Every secret of a patient, derived from one seed.
#[derive(Clone, Debug)]
pub struct PatientKeys {
	/// Record envelope / PRE decryption key.
	pub pre: PreSecretKey,
	/// Signs key fragments.
	pub signing: SigningKey,
	/// Keyword search receiver key (trapdoor generation).
	pub peks: crate::peks::PeksSecretKey,
}

impl PatientKeys {
	/// Derives all keys from a seed.
	pub fn from_seed(seed: &KeySeed) -> Self {
		Self {
			pre: PreSecretKey::from_seed(seed),
			signing: SigningKey::from_seed(seed),
			peks: crate::peks::PeksSecretKey::from_seed(seed),
		}
	}
	/// Fresh keys (the seed is dropped; use [`PatientKeys::from_seed`] to keep a backup).
	pub fn generate() -> Self {
		Self::from_seed(&KeySeed::generate())
	}
}
