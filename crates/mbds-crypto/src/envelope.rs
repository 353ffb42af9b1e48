//! Record envelope: a record body encrypted under a fresh data key, the data key encapsulated to
//! the patient with Umbral so that the same capsule can later be re-encrypted by proxies.
//!
//! ```text
//! data key  k  <- 32 random bytes
//! body      = XChaCha20-Poly1305(k, nonce, plaintext, AAD)
//! AAD       = "MBDS-RECORD-V01" | len(record id) | record id | record version | owner PK | capsule
//! (capsule, wrapped key) = Umbral.encrypt(owner PK, k)      -- Umbral's own DEM, capsule as AD
//! ```
//! The AAD binds the body to its record id, version, owner and capsule: moving a body to another
//! record header, or pairing it with another capsule, fails authentication.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand_core::{OsRng, RngCore};
use umbral_pre::{Capsule, DefaultSerialize};
use zeroize::Zeroizing;

use crate::codec::{Reader, Tag, Writer};
use crate::error::{CryptoError, Result};
use crate::keys::{PrePublicKey, PreSecretKey, PRE_PUBLIC_KEY_LEN};
use crate::pre::VerifiedCapsuleFragment;

/// Longest record id accepted.
pub const MAX_RECORD_ID_LEN: usize = 256;
/// Length of the AEAD nonce (XChaCha20).
pub const NONCE_LEN: usize = 24;
/// Largest record body accepted (1 GiB of ciphertext).
pub const MAX_BODY_LEN: usize = 1 << 30;
const DATA_KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const MAX_CAPSULE_LEN: usize = 256;
const MAX_WRAPPED_KEY_LEN: usize = 128;
const AAD_DOMAIN: &[u8] = b"MBDS-RECORD-V01";

/// The public header of a record envelope; authenticated, not encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordHeader {
	/// Application record id (e.g. the slip id or FHIR resource id), at most 256 bytes.
	pub record_id: Vec<u8>,
	/// Record version; a new version is a new envelope.
	pub version: u64,
	/// The patient who owns the record and holds the capsule's key.
	pub owner: PrePublicKey,
}

/// An encrypted record. Serialise with [`RecordEnvelope::to_bytes`] for storage.
#[derive(Clone)]
pub struct RecordEnvelope {
	header: RecordHeader,
	capsule: Capsule,
	wrapped_key: Box<[u8]>,
	nonce: [u8; NONCE_LEN],
	body: Vec<u8>,
}

impl core::fmt::Debug for RecordEnvelope {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.debug_struct("RecordEnvelope")
			.field("header", &self.header)
			.field("body_len", &self.body.len())
			.finish_non_exhaustive()
	}
}

fn aad(header: &RecordHeader, capsule: &Capsule) -> Vec<u8> {
	let mut a = Vec::with_capacity(AAD_DOMAIN.len() + header.record_id.len() + 160);
	a.extend_from_slice(AAD_DOMAIN);
	a.extend_from_slice(&(header.record_id.len() as u32).to_be_bytes());
	a.extend_from_slice(&header.record_id);
	a.extend_from_slice(&header.version.to_be_bytes());
	a.extend_from_slice(&header.owner.to_compressed());
	a.extend_from_slice(&capsule.to_bytes_simple());
	a
}

impl RecordEnvelope {
	/// Encrypts `plaintext` for the patient `owner`.
	pub fn seal(
		owner: &PrePublicKey,
		record_id: &[u8],
		version: u64,
		plaintext: &[u8],
	) -> Result<Self> {
		if record_id.len() > MAX_RECORD_ID_LEN {
			return Err(CryptoError::TooLong {
				object: "record envelope",
				field: "record_id",
				len: record_id.len(),
				max: MAX_RECORD_ID_LEN,
			});
		}
		if plaintext.len() > MAX_BODY_LEN - TAG_LEN {
			return Err(CryptoError::TooLong {
				object: "record envelope",
				field: "plaintext",
				len: plaintext.len(),
				max: MAX_BODY_LEN - TAG_LEN,
			});
		}
		let mut data_key = Zeroizing::new([0u8; DATA_KEY_LEN]);
		OsRng.fill_bytes(&mut data_key[..]);
		let (capsule, wrapped_key) = umbral_pre::encrypt(&owner.0, &data_key[..])
			.map_err(|e| CryptoError::Internal(format!("key encapsulation: {e}")))?;
		let header = RecordHeader { record_id: record_id.to_vec(), version, owner: *owner };
		let mut nonce = [0u8; NONCE_LEN];
		OsRng.fill_bytes(&mut nonce);
		let cipher = XChaCha20Poly1305::new_from_slice(&data_key[..])
			.map_err(|e| CryptoError::Internal(format!("AEAD key: {e}")))?;
		let body = cipher
			.encrypt(
				XNonce::from_slice(&nonce),
				Payload { msg: plaintext, aad: &aad(&header, &capsule) },
			)
			.map_err(|_| {
				CryptoError::Internal("AEAD encryption failed (plaintext too large?)".into())
			})?;
		Ok(Self { header, capsule, wrapped_key, nonce, body })
	}

	/// The authenticated header.
	pub fn header(&self) -> &RecordHeader {
		&self.header
	}

	pub(crate) fn capsule(&self) -> &Capsule {
		&self.capsule
	}

	/// Opens the envelope with the owner's secret key.
	pub fn open(&self, owner_key: &PreSecretKey) -> Result<Vec<u8>> {
		if owner_key.public_key() != self.header.owner {
			return Err(CryptoError::KeyUnwrap(
				"the secret key does not belong to the record owner".into(),
			));
		}
		let data_key = Zeroizing::new(
			umbral_pre::decrypt_original(&owner_key.0, &self.capsule, &self.wrapped_key)
				.map_err(|e| CryptoError::KeyUnwrap(e.to_string()))?,
		);
		self.open_body(&data_key)
	}

	/// Opens the envelope as a grantee, with capsule fragments from at least `threshold` proxies
	/// (each verified with [`crate::pre::CapsuleFragment::verify`]).
	pub fn open_reencrypted(
		&self,
		grantee_key: &PreSecretKey,
		cfrags: impl IntoIterator<Item = VerifiedCapsuleFragment>,
	) -> Result<Vec<u8>> {
		let cfrags: Vec<_> = cfrags.into_iter().map(|c| c.0).collect();
		if cfrags.is_empty() {
			return Err(CryptoError::Reencryption("no capsule fragments given".into()));
		}
		let data_key = Zeroizing::new(
            umbral_pre::decrypt_reencrypted(
                &grantee_key.0,
                &self.header.owner.0,
                &self.capsule,
                cfrags,
                &self.wrapped_key,
            )
            .map_err(|e| {
                CryptoError::Reencryption(format!(
                    "{e} (too few fragments for the threshold, fragments for another grantee, or a wrong key)"
                ))
            })?,
        );
		self.open_body(&data_key)
	}

	fn open_body(&self, data_key: &[u8]) -> Result<Vec<u8>> {
		if data_key.len() != DATA_KEY_LEN {
			return Err(CryptoError::KeyUnwrap(format!(
				"unwrapped data key is {} bytes, expected {DATA_KEY_LEN}",
				data_key.len()
			)));
		}
		let cipher = XChaCha20Poly1305::new_from_slice(data_key)
			.map_err(|e| CryptoError::Internal(format!("AEAD key: {e}")))?;
		cipher
			.decrypt(
				XNonce::from_slice(&self.nonce),
				Payload { msg: &self.body, aad: &aad(&self.header, &self.capsule) },
			)
			.map_err(|_| CryptoError::AuthenticationFailed)
	}

	/// Versioned serialisation (this is what the storage crate stores and hashes).
	pub fn to_bytes(&self) -> Vec<u8> {
		let capsule = self.capsule.to_bytes().expect("a capsule always serialises");
		let mut w = Writer::new(Tag::RecordEnvelope, 256 + self.body.len());
		w.var(&self.header.record_id)
			.u64(self.header.version)
			.bytes(&self.header.owner.to_compressed())
			.var(&capsule)
			.var(&self.wrapped_key)
			.bytes(&self.nonce)
			.var(&self.body);
		w.finish()
	}

	/// Decodes [`RecordEnvelope::to_bytes`] output. Checks structure and that the capsule is a
	/// valid Umbral capsule; authenticity of the body is checked when opening.
	pub fn from_bytes(input: &[u8]) -> Result<Self> {
		let mut r = Reader::new("record envelope", Tag::RecordEnvelope, input)?;
		let record_id = r.var("record_id", MAX_RECORD_ID_LEN)?.to_vec();
		let version = r.u64("version")?;
		let owner_bytes = r.take("owner", PRE_PUBLIC_KEY_LEN)?;
		let owner = PrePublicKey::from_compressed(&r, "owner", owner_bytes)?;
		let capsule_bytes = r.var("capsule", MAX_CAPSULE_LEN)?;
		let capsule: Capsule = r.umbral("capsule", "invalid Umbral capsule", capsule_bytes)?;
		let wrapped_key = r.var("wrapped_key", MAX_WRAPPED_KEY_LEN)?.into();
		let nonce = r.array::<NONCE_LEN>("nonce")?;
		let body = r.var("body", MAX_BODY_LEN)?;
		if body.len() < TAG_LEN {
			return Err(r.malformed(
				"body",
				format!("{} bytes, shorter than the {TAG_LEN}-byte AEAD tag", body.len()),
			));
		}
		r.finish()?;
		Ok(Self {
			header: RecordHeader { record_id, version, owner },
			capsule,
			wrapped_key,
			nonce,
			body: body.to_vec(),
		})
	}
}

/// Longest note a [`SealedNote`] carries.
pub const MAX_NOTE_LEN: usize = 128;

/// A short secret for one participant, e.g. where a record is stored (the slip's "encrypted
/// storage address"): Umbral's own KEM/DEM to the owner's public key, without re-encryption.
/// Small enough for a slip field (about 190 bytes for a 40-byte note).
#[derive(Clone)]
pub struct SealedNote {
	capsule: Capsule,
	ciphertext: Box<[u8]>,
}

impl core::fmt::Debug for SealedNote {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.debug_struct("SealedNote").field("len", &self.ciphertext.len()).finish_non_exhaustive()
	}
}

impl SealedNote {
	/// Encrypts `note` (at most [`MAX_NOTE_LEN`] bytes) to `owner`.
	pub fn seal(owner: &PrePublicKey, note: &[u8]) -> Result<Self> {
		if note.len() > MAX_NOTE_LEN {
			return Err(CryptoError::TooLong {
				object: "sealed note",
				field: "note",
				len: note.len(),
				max: MAX_NOTE_LEN,
			});
		}
		let (capsule, ciphertext) = umbral_pre::encrypt(&owner.0, note)
			.map_err(|e| CryptoError::Internal(format!("note encryption: {e}")))?;
		Ok(Self { capsule, ciphertext })
	}

	/// Decrypts the note with the owner's secret key.
	pub fn open(&self, owner_key: &PreSecretKey) -> Result<Vec<u8>> {
		umbral_pre::decrypt_original(&owner_key.0, &self.capsule, &self.ciphertext)
			.map(|b| b.into_vec())
			.map_err(|e| CryptoError::KeyUnwrap(format!("sealed note: {e}")))
	}

	/// Versioned serialisation.
	pub fn to_bytes(&self) -> Vec<u8> {
		let capsule = self.capsule.to_bytes().expect("a capsule always serialises");
		let mut w = Writer::new(Tag::SealedNote, capsule.len() + self.ciphertext.len() + 8);
		w.var(&capsule).var(&self.ciphertext);
		w.finish()
	}

	/// Decodes [`SealedNote::to_bytes`] output.
	pub fn from_bytes(input: &[u8]) -> Result<Self> {
		let mut r = Reader::new("sealed note", Tag::SealedNote, input)?;
		let capsule_bytes = r.var("capsule", MAX_CAPSULE_LEN)?;
		let capsule: Capsule = r.umbral("capsule", "invalid Umbral capsule", capsule_bytes)?;
		let ciphertext = r.var("ciphertext", MAX_NOTE_LEN + MAX_WRAPPED_KEY_LEN)?.into();
		r.finish()?;
		Ok(Self { capsule, ciphertext })
	}
}

#[cfg(test)]
mod note_tests {
	use super::*;
	use crate::keys::{KeySeed, PreSecretKey};

	#[test]
	fn a_sealed_note_opens_for_its_owner_only_and_fits_a_slip_field() {
		let owner = PreSecretKey::from_seed(&KeySeed::generate());
		let other = PreSecretKey::from_seed(&KeySeed::generate());
		let note = b"store=default;sha256=0123456789abcdef0123";
		let bytes = SealedNote::seal(&owner.public_key(), note).unwrap().to_bytes();
		assert!(bytes.len() <= 256, "{} bytes do not fit the slip's 256-byte field", bytes.len());
		let back = SealedNote::from_bytes(&bytes).unwrap();
		assert_eq!(back.open(&owner).unwrap(), note);
		assert!(matches!(back.open(&other), Err(CryptoError::KeyUnwrap(_))));
		assert!(SealedNote::from_bytes(&bytes[..bytes.len() - 1]).is_err());
		assert!(SealedNote::seal(&owner.public_key(), &[0u8; MAX_NOTE_LEN + 1]).is_err());
	}
}
