//! Threshold proxy re-encryption with Umbral (Nuñez, "Umbral: a threshold proxy re-encryption
//! scheme", NuCypher 2018; implementation: the `umbral-pre` crate, GPL-3.0-only).
//!
//! The patient splits a re-encryption key for one grantee into `n` key fragments (kfrags), one
//! per proxy; any `t` of the resulting capsule fragments (cfrags) let the grantee open the
//! record's capsule. Kfrags are signed by the patient and bound to the patient's and grantee's
//! keys; cfrags carry a zero-knowledge proof of correct re-encryption, so a proxy that returns
//! garbage, or re-encrypts another capsule, is detected by [`CapsuleFragment::verify`].
//!
//! A kfrag travels to its proxy sealed to that proxy's own PRE public key, the one the
//! consortium's KMC attests ([`SealedKeyFragment`]: Umbral's KEM/DEM, no re-encryption): whoever
//! captures the upload, or serves a proxy's URL without its key, learns nothing.
//!
//! Trust: fewer than `t` colluding proxies learn nothing about the record; `t` colluding proxies
//! together with the grantee's key can decrypt (that is the delegation). Proxies are trusted to
//! stop re-encrypting when the patient revokes consent: revocation is enforced by the proxies
//! (and audited on chain), not by the cryptography.

use core::fmt;

use umbral_pre::DefaultSerialize;

use crate::codec::{fingerprint, Reader, Tag, Writer};
use crate::envelope::RecordEnvelope;
use crate::error::{CryptoError, Result};
use crate::keys::{PrePublicKey, PreSecretKey, SigningKey, VerifyingKey};

/// Largest number of proxies a grant can name.
pub const MAX_SHARES: usize = 64;
const MAX_FRAGMENT_LEN: usize = 1024;

/// A key fragment as it travels to a proxy; verify it before use.
#[derive(Clone, PartialEq)]
pub struct KeyFragment(umbral_pre::KeyFrag);

/// A key fragment that passed [`KeyFragment::verify`]; the only kind a proxy can re-encrypt with.
#[derive(Clone)]
pub struct VerifiedKeyFragment(umbral_pre::VerifiedKeyFrag);

/// A capsule fragment as returned by a proxy; verify it before decryption.
#[derive(Clone, PartialEq)]
pub struct CapsuleFragment(umbral_pre::CapsuleFrag);

/// A capsule fragment that passed [`CapsuleFragment::verify`].
#[derive(Clone)]
pub struct VerifiedCapsuleFragment(pub(crate) umbral_pre::VerifiedCapsuleFrag);

/// The patient creates `shares` key fragments for `grantee`, any `threshold` of which allow
/// decryption. Fragments are signed with `signing` and bound to both public keys.
pub fn generate_key_fragments(
	patient: &PreSecretKey,
	signing: &SigningKey,
	grantee: &PrePublicKey,
	threshold: usize,
	shares: usize,
) -> Result<Vec<KeyFragment>> {
	if threshold == 0 {
		return Err(CryptoError::InvalidThreshold {
			threshold,
			shares,
			reason: "threshold must be at least 1",
		});
	}
	if threshold > shares {
		return Err(CryptoError::InvalidThreshold {
			threshold,
			shares,
			reason: "threshold exceeds the number of shares",
		});
	}
	if shares > MAX_SHARES {
		return Err(CryptoError::InvalidThreshold {
			threshold,
			shares,
			reason: "more than 64 shares",
		});
	}
	let kfrags = umbral_pre::generate_kfrags(
		&patient.0,
		&grantee.0,
		&signing.signer(),
		threshold,
		shares,
		true,
		true,
	);
	Ok(kfrags.into_vec().into_iter().map(|k| KeyFragment(k.unverify())).collect())
}

impl KeyFragment {
	/// Checks the patient's signature and the binding to patient and grantee keys.
	pub fn verify(
		self,
		patient_verifying: &VerifyingKey,
		patient: &PrePublicKey,
		grantee: &PrePublicKey,
	) -> Result<VerifiedKeyFragment> {
		self.0
			.verify(&patient_verifying.0, Some(&patient.0), Some(&grantee.0))
			.map(VerifiedKeyFragment)
			.map_err(|(e, _)| CryptoError::InvalidKeyFragment(e.to_string()))
	}

	/// Versioned serialisation (Umbral's MessagePack encoding inside our header).
	pub fn to_bytes(&self) -> Vec<u8> {
		let inner = self.0.to_bytes().expect("a key fragment always serialises");
		let mut w = Writer::new(Tag::KeyFragment, inner.len() + 4);
		w.var(&inner);
		w.finish()
	}

	/// Decodes [`KeyFragment::to_bytes`] output (structure only; call [`KeyFragment::verify`]).
	pub fn from_bytes(input: &[u8]) -> Result<Self> {
		let mut r = Reader::new("key fragment", Tag::KeyFragment, input)?;
		let inner = r.var("kfrag", MAX_FRAGMENT_LEN)?;
		let k: umbral_pre::KeyFrag = r.umbral("kfrag", "invalid Umbral key fragment", inner)?;
		r.finish()?;
		Ok(Self(k))
	}
}

/// A [`KeyFragment`] encrypted to one proxy's PRE public key (Umbral's `encrypt`, the scheme's
/// own KEM/DEM: an ephemeral-key capsule and ChaCha20-Poly1305 over the fragment), so that only
/// that proxy can open it.
#[derive(Clone)]
pub struct SealedKeyFragment {
	capsule: umbral_pre::Capsule,
	ciphertext: Box<[u8]>,
}

impl KeyFragment {
	/// Seals the fragment to `proxy`'s PRE public key (as the KMC attests it).
	pub fn seal_to(&self, proxy: &PrePublicKey) -> Result<SealedKeyFragment> {
		let (capsule, ciphertext) = umbral_pre::encrypt(&proxy.0, &self.to_bytes())
			.map_err(|e| CryptoError::Internal(format!("key fragment sealing: {e}")))?;
		Ok(SealedKeyFragment { capsule, ciphertext })
	}
}

impl SealedKeyFragment {
	/// Opens the fragment with the proxy's PRE secret key (then [`KeyFragment::verify`] it).
	pub fn open(&self, proxy_key: &PreSecretKey) -> Result<KeyFragment> {
		let bytes = umbral_pre::decrypt_original(&proxy_key.0, &self.capsule, &self.ciphertext)
			.map_err(|e| {
				CryptoError::KeyUnwrap(format!(
					"sealed key fragment (not sealed to this proxy's key?): {e}"
				))
			})?;
		KeyFragment::from_bytes(&bytes)
	}

	/// Versioned serialisation.
	pub fn to_bytes(&self) -> Vec<u8> {
		let capsule = self.capsule.to_bytes().expect("a capsule always serialises");
		let mut w = Writer::new(Tag::SealedKeyFragment, capsule.len() + self.ciphertext.len() + 8);
		w.var(&capsule).var(&self.ciphertext);
		w.finish()
	}

	/// Decodes [`SealedKeyFragment::to_bytes`] output.
	pub fn from_bytes(input: &[u8]) -> Result<Self> {
		let mut r = Reader::new("sealed key fragment", Tag::SealedKeyFragment, input)?;
		let capsule = r.var("capsule", MAX_FRAGMENT_LEN)?;
		let capsule = r.umbral("capsule", "invalid Umbral capsule", capsule)?;
		let ciphertext = r.var("ciphertext", MAX_FRAGMENT_LEN + 64)?.into();
		r.finish()?;
		Ok(Self { capsule, ciphertext })
	}
}

impl fmt::Debug for SealedKeyFragment {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "SealedKeyFragment({})", fingerprint(&self.to_bytes()))
	}
}

impl fmt::Debug for KeyFragment {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "KeyFragment({})", fingerprint(&self.to_bytes()))
	}
}
impl fmt::Debug for VerifiedKeyFragment {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(
			f,
			"VerifiedKeyFragment({})",
			fingerprint(&KeyFragment(self.0.clone().unverify()).to_bytes())
		)
	}
}

impl VerifiedKeyFragment {
	/// The proxy's step: re-encrypts the record's capsule for the grantee.
	pub fn reencrypt(&self, envelope: &RecordEnvelope) -> CapsuleFragment {
		CapsuleFragment(umbral_pre::reencrypt(envelope.capsule(), self.0.clone()).unverify())
	}
	/// Back to the transport form (e.g. to store it at the proxy).
	pub fn unverify(self) -> KeyFragment {
		KeyFragment(self.0.unverify())
	}
}

impl CapsuleFragment {
	/// The grantee's check: the fragment was produced from a kfrag signed by the patient for
	/// this grantee, by a correct re-encryption of this envelope's capsule.
	pub fn verify(
		self,
		envelope: &RecordEnvelope,
		patient_verifying: &VerifyingKey,
		grantee: &PrePublicKey,
	) -> Result<VerifiedCapsuleFragment> {
		self.0
			.verify(
				envelope.capsule(),
				&patient_verifying.0,
				&envelope.header().owner.0,
				&grantee.0,
			)
			.map(VerifiedCapsuleFragment)
			.map_err(|(e, _)| CryptoError::InvalidCapsuleFragment(e.to_string()))
	}

	/// Versioned serialisation.
	pub fn to_bytes(&self) -> Vec<u8> {
		let inner = self.0.to_bytes().expect("a capsule fragment always serialises");
		let mut w = Writer::new(Tag::CapsuleFragment, inner.len() + 4);
		w.var(&inner);
		w.finish()
	}

	/// Decodes [`CapsuleFragment::to_bytes`] output (structure only; call [`CapsuleFragment::verify`]).
	pub fn from_bytes(input: &[u8]) -> Result<Self> {
		let mut r = Reader::new("capsule fragment", Tag::CapsuleFragment, input)?;
		let inner = r.var("cfrag", MAX_FRAGMENT_LEN)?;
		let c: umbral_pre::CapsuleFrag =
			r.umbral("cfrag", "invalid Umbral capsule fragment", inner)?;
		r.finish()?;
		Ok(Self(c))
	}
}

impl fmt::Debug for CapsuleFragment {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "CapsuleFragment({})", fingerprint(&self.to_bytes()))
	}
}
impl fmt::Debug for VerifiedCapsuleFragment {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(
			f,
			"VerifiedCapsuleFragment({})",
			fingerprint(&CapsuleFragment(self.0.clone().unverify()).to_bytes())
		)
	}
}
