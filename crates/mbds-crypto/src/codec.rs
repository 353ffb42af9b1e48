//! Explicit, versioned binary framing shared by every serialisable type of this crate.
//!
//! Every object starts with two bytes: the format version ([`FORMAT_VERSION`]) and a type tag
//! ([`Tag`]), so a trapdoor can never be decoded as a public key and a future format change is
//! detected instead of misread. Variable-length fields carry a `u32` big-endian length prefix and
//! a per-field limit. Decoding never panics: every read is bounds-checked and reports the object
//! and field at fault.

use crate::error::{CryptoError, Result};

/// The only format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;

/// Type tags of serialised objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Tag {
	/// [`crate::envelope::RecordEnvelope`]
	RecordEnvelope = 0x01,
	/// [`crate::envelope::SealedNote`]
	SealedNote = 0x02,
	/// [`crate::keys::KeySeed`]
	KeySeed = 0x10,
	/// [`crate::keys::PrePublicKey`]
	PrePublicKey = 0x11,
	/// [`crate::keys::VerifyingKey`]
	VerifyingKey = 0x14,
	/// [`crate::pre::KeyFragment`]
	KeyFragment = 0x12,
	/// [`crate::pre::CapsuleFragment`]
	CapsuleFragment = 0x13,
	/// [`crate::pre::SealedKeyFragment`]
	SealedKeyFragment = 0x15,
	/// [`crate::peks::PeksSecretKey`]
	PeksSecretKey = 0x20,
	/// [`crate::peks::PeksPublicKey`]
	PeksPublicKey = 0x21,
	/// [`crate::peks::TesterSecretKey`]
	TesterSecretKey = 0x22,
	/// [`crate::peks::TesterPublicKey`]
	TesterPublicKey = 0x23,
	/// [`crate::peks::boneh::SecretKey`]
	BonehSecretKey = 0x29,
	/// [`crate::peks::boneh::PublicKey`]
	BonehPublicKey = 0x2a,
	/// [`crate::peks::boneh::Ciphertext`]
	BonehCiphertext = 0x24,
	/// [`crate::peks::boneh::Trapdoor`]
	BonehTrapdoor = 0x25,
	/// [`crate::peks::EncryptedKeyword`]
	EncryptedKeyword = 0x26,
	/// [`crate::peks::Trapdoor`]
	Trapdoor = 0x27,
	/// [`crate::peks::ConjunctiveTrapdoor`]
	ConjunctiveTrapdoor = 0x28,
}

/// Writes a header and fields.
pub(crate) struct Writer(Vec<u8>);

impl Writer {
	pub(crate) fn new(tag: Tag, capacity: usize) -> Self {
		let mut v = Vec::with_capacity(capacity + 2);
		v.push(FORMAT_VERSION);
		v.push(tag as u8);
		Self(v)
	}
	pub(crate) fn bytes(&mut self, b: &[u8]) -> &mut Self {
		self.0.extend_from_slice(b);
		self
	}
	pub(crate) fn u64(&mut self, x: u64) -> &mut Self {
		self.bytes(&x.to_be_bytes())
	}
	pub(crate) fn u16(&mut self, x: u16) -> &mut Self {
		self.bytes(&x.to_be_bytes())
	}
	/// A `u32` length prefix then the bytes. Callers enforce the field limit on encode too.
	pub(crate) fn var(&mut self, b: &[u8]) -> &mut Self {
		let len = u32::try_from(b.len()).expect("fields are bounded far below 4 GiB by callers");
		self.bytes(&len.to_be_bytes()).bytes(b)
	}
	pub(crate) fn finish(self) -> Vec<u8> {
		self.0
	}
}

/// Reads a header and fields, with bounds checks that name the object and field.
pub(crate) struct Reader<'a> {
	pub(crate) object: &'static str,
	pub(crate) rest: &'a [u8],
}

impl<'a> Reader<'a> {
	/// Checks version and tag.
	pub(crate) fn new(object: &'static str, tag: Tag, input: &'a [u8]) -> Result<Self> {
		let mut r = Self { object, rest: input };
		let header = r.take("header", 2)?;
		if header[0] != FORMAT_VERSION {
			return Err(CryptoError::UnsupportedVersion {
				object,
				found: header[0],
				expected: FORMAT_VERSION,
			});
		}
		if header[1] != tag as u8 {
			return Err(CryptoError::WrongType {
				expected: object,
				expected_tag: tag as u8,
				found: header[1],
			});
		}
		Ok(r)
	}
	pub(crate) fn take(&mut self, field: &'static str, n: usize) -> Result<&'a [u8]> {
		if self.rest.len() < n {
			return Err(CryptoError::Truncated {
				object: self.object,
				field,
				needed: n - self.rest.len(),
				available: self.rest.len(),
			});
		}
		let (head, tail) = self.rest.split_at(n);
		self.rest = tail;
		Ok(head)
	}
	pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N]> {
		let b = self.take(field, N)?;
		let mut out = [0u8; N];
		out.copy_from_slice(b);
		Ok(out)
	}
	pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64> {
		Ok(u64::from_be_bytes(self.array(field)?))
	}
	pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16> {
		Ok(u16::from_be_bytes(self.array(field)?))
	}
	/// A length-prefixed field of at most `max` bytes.
	pub(crate) fn var(&mut self, field: &'static str, max: usize) -> Result<&'a [u8]> {
		let len = u32::from_be_bytes(self.array(field)?) as usize;
		if len > max {
			return Err(CryptoError::TooLong { object: self.object, field, len, max });
		}
		self.take(field, len)
	}
	/// Fails if bytes are left over.
	pub(crate) fn finish(self) -> Result<()> {
		if self.rest.is_empty() {
			Ok(())
		} else {
			Err(CryptoError::TrailingBytes { object: self.object, extra: self.rest.len() })
		}
	}
	pub(crate) fn malformed(&self, field: &'static str, reason: impl ToString) -> CryptoError {
		CryptoError::Malformed { object: self.object, field, reason: reason.to_string() }
	}
	/// Decodes an Umbral object (MessagePack) and requires the canonical encoding: the
	/// MessagePack reader also takes e.g. a `str` marker where `bin` is written, which would
	/// give one object several encodings.
	pub(crate) fn umbral<'b, T>(&self, field: &'static str, what: &str, b: &'b [u8]) -> Result<T>
	where
		T: umbral_pre::DefaultDeserialize<'b> + umbral_pre::DefaultSerialize,
	{
		let v = T::from_bytes(b).map_err(|e| self.malformed(field, format!("{what}: {e}")))?;
		match v.to_bytes() {
			Ok(again) if again[..] == *b => Ok(v),
			_ => Err(self.malformed(field, format!("{what}: not in canonical MessagePack form"))),
		}
	}
}

/// Short public fingerprint used by `Debug` impls: first 8 bytes of SHA-256, hex.
pub(crate) fn fingerprint(public_bytes: &[u8]) -> String {
	use sha2::{Digest, Sha256};
	let d = Sha256::digest(public_bytes);
	d[..8].iter().map(|b| format!("{b:02x}")).collect()
}
