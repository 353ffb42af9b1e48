//! The one error type of this crate. Every variant names the input at fault.

use thiserror::Error;

/// What went wrong. Decoding errors name the object being decoded and the field at fault, so a
/// log line is enough to find the bad input; cryptographic failures say which check failed but
/// never print secret material.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[allow(missing_docs)] // field names say what they hold; the messages say the rest
pub enum CryptoError {
	/// The input ended before the named field was complete.
	#[error("{object}: input truncated while reading `{field}` (needed {needed} more bytes, {available} left)")]
	Truncated { object: &'static str, field: &'static str, needed: usize, available: usize },
	/// The serialisation format version is not one this build understands.
	#[error("{object}: unsupported format version {found} (this build reads version {expected})")]
	UnsupportedVersion { object: &'static str, found: u8, expected: u8 },
	/// The type tag says the bytes hold another kind of object (e.g. a trapdoor passed as a key).
	#[error(
		"expected a {expected} (tag 0x{expected_tag:02x}) but the input is tagged 0x{found:02x}"
	)]
	WrongType { expected: &'static str, expected_tag: u8, found: u8 },
	/// The input has bytes after the last field.
	#[error("{object}: {extra} unexpected trailing bytes")]
	TrailingBytes { object: &'static str, extra: usize },
	/// A field is present but its value is invalid (not a curve point, out of range, ...).
	#[error("{object}: field `{field}` is malformed: {reason}")]
	Malformed { object: &'static str, field: &'static str, reason: String },
	/// A length field exceeds the limit for that field.
	#[error("{object}: field `{field}` is {len} bytes, the limit is {max}")]
	TooLong { object: &'static str, field: &'static str, len: usize, max: usize },
	/// AEAD authentication failed: the ciphertext, its header (record id, version, owner) or the
	/// data key is wrong or was tampered with.
	#[error(
		"record envelope: authentication failed (tampered ciphertext or header, or wrong key)"
	)]
	AuthenticationFailed,
	/// The data key could not be unwrapped from the capsule (wrong secret key or tampering).
	#[error("record envelope: could not unwrap the data key ({0})")]
	KeyUnwrap(String),
	/// A proxy re-encryption key fragment failed verification.
	#[error("key fragment rejected: {0}")]
	InvalidKeyFragment(String),
	/// A capsule fragment returned by a proxy failed verification (forged or wrong capsule).
	#[error("capsule fragment rejected: {0}")]
	InvalidCapsuleFragment(String),
	/// Fewer verified capsule fragments than the threshold, or the fragments do not combine.
	#[error("re-encrypted decryption failed: {0}")]
	Reencryption(String),
	/// Threshold parameters are out of range.
	#[error("invalid threshold parameters: threshold {threshold} of {shares} shares ({reason})")]
	InvalidThreshold { threshold: usize, shares: usize, reason: &'static str },
	/// A keyword is empty or otherwise unusable.
	#[error("invalid keyword: {0}")]
	InvalidKeyword(String),
	/// The FHIR JSON could not be read.
	#[error("FHIR input: {0}")]
	Fhir(String),
	/// Randomness or another platform facility failed.
	#[error("internal error: {0}")]
	Internal(String),
}

/// Result alias for this crate.
pub type Result<T> = core::result::Result<T, CryptoError>;
