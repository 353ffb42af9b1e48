//! A participant's key file: one 32-byte secret seed from which every key of the participant
//! is derived, generated on the participant's own device (MISSION part 4: the KMC attests the
//! public keys, it never sees the secrets).
//!
//! Version 2 (what `mbds keys new` writes) keeps the seed encrypted under a passphrase, the
//! way polkadot.js's keystore JSON does (same primitives and layout): scrypt (N = 2^15, r = 8,
//! p = 1; Percival, "Stronger key derivation via sequential memory-hard functions", 2009)
//! derives a 32-byte key from the passphrase and a random 32-byte salt, and XSalsa20-Poly1305
//! (NaCl's secretbox) seals the seed with a random 24-byte nonce; `encoded` is the base64 of
//! `salt | N | p | r (u32 little-endian) | nonce | sealed seed`. The account is in clear, to
//! say whose file it is, and checked against the opened seed.
//!
//! ```json
//! { "kind": "mbds-participant-keys", "version": 2, "account": "5F…",
//!   "encoded": "…base64…",
//!   "encoding": { "content": ["mbds-seed"], "type": ["scrypt", "xsalsa20-poly1305"], "version": "3" } }
//! ```
//!
//! Version 1 (still read, and written by [`ParticipantKeys::save`] for unattended services
//! whose disk is their protection) holds the seed in clear:
//! `{ "kind": "mbds-participant-keys", "version": 1, "seed": "0x…64 hex digits…" }`.
//!
//! The passphrase comes from `MBDS_PASSPHRASE` ([`PASSPHRASE_ENV`]) or, in a terminal, is asked
//! for ([`passphrase_for`]). The seed is also a 24-word BIP-39 recovery phrase
//! ([`ParticipantKeys::recovery_phrase`], shown once when the keys are made): with it a
//! patient who loses the device (or the passphrase) makes the same keys again
//! ([`ParticipantKeys::from_recovery_phrase`], `mbds keys recover`) and opens every record
//! sealed to them.
//!
//! * account key (the on-chain identity): sr25519 from the seed (`sp_core`);
//! * record key (Umbral, secp256k1), signing key for key fragments, PEKS receiver key and, for a
//!   proxy, the designated-tester key: `mbds-crypto` keys from a second seed,
//!   `BLAKE2b-256("mbds-crypto-seed" | seed)`, so the account key and the encryption keys never
//!   share a scalar.
//!
//! Files are written with mode 0600 and the seed is never printed.

use crate::{Error, Result};
use mbds_crypto::{KeySeed, PatientKeys, PeksSecretKey, PreSecretKey, TesterSecretKey};
use mbds_runtime::{AccountId, Runtime};
use pallet_kmc::{KeyScheme, KeySetOf, PublicKey};
use serde::Serialize;
use sp_core::{crypto::Ss58Codec, sr25519, Pair};
use std::path::Path;
use zeroize::Zeroizing;

const KIND: &str = "mbds-participant-keys";
const VERSION: u32 = 1;
const ENCRYPTED_VERSION: u32 = 2;
/// Where the passphrase of an encrypted key file is taken from when set.
pub const PASSPHRASE_ENV: &str = "MBDS_PASSPHRASE";
/// Shortest passphrase a new key file accepts.
pub const MIN_PASSPHRASE_LEN: usize = 8;
/// scrypt's cost for new files: N = 2^15, r = 8, p = 1 (polkadot.js's).
const SCRYPT_LOG_N: u8 = 15;
const SCRYPT_R: u32 = 8;
const SCRYPT_P: u32 = 1;
/// Most scrypt work a file may ask for when opened: N up to 2^20, r up to 16, p up to 4, and
/// memory (128 * N * r bytes) up to 256 MiB; a file cannot make opening it take minutes or
/// gigabytes.
const MAX_SCRYPT_LOG_N: u32 = 20;
const MAX_SCRYPT_R: u32 = 16;
const MAX_SCRYPT_P: u32 = 4;
const MAX_SCRYPT_MEMORY: u64 = 256 << 20;
const SALT_LEN: usize = 32;
const SECRETBOX_NONCE_LEN: usize = 24;
const SECRETBOX_TAG_LEN: usize = 16;

#[derive(Serialize)]
struct KeyFile {
	kind: String,
	version: u32,
	seed: String,
}

/// Every key of one participant, derived from its seed.
pub struct ParticipantKeys {
	seed: Zeroizing<[u8; 32]>,
}

impl core::fmt::Debug for ParticipantKeys {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		write!(f, "ParticipantKeys({})", self.account())
	}
}

/// Which search key a participant publishes: the PEKS receiver key (patients and everyone
/// else) or the designated-tester key (a proxy that runs searches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SearchKey {
	/// Keywords encrypted for this participant (patients).
	Receiver,
	/// Searches run by this participant (the health authority's search proxy).
	Tester,
}

impl ParticipantKeys {
	/// Fresh keys from the operating system's randomness.
	pub fn generate() -> Self {
		let seed = KeySeed::generate();
		let bytes = seed.to_bytes();
		let mut out = Zeroizing::new([0u8; 32]);
		out.copy_from_slice(&bytes[bytes.len() - 32..]);
		Self { seed: out }
	}

	/// Keys from a known seed (tests, recovery).
	pub fn from_seed(seed: [u8; 32]) -> Self {
		Self { seed: Zeroizing::new(seed) }
	}

	/// Reads a key file, asking for its passphrase if it is encrypted ([`passphrase_for`]);
	/// the error names the file and what is wrong with it.
	pub fn load(path: &Path) -> Result<Self> {
		let text = Zeroizing::new(
			std::fs::read_to_string(path)
				.map_err(|e| key_file(path, format!("cannot read it: {e}")))?,
		);
		let passphrase =
			if Self::encrypted_json(&text) { Some(passphrase_for(path)?) } else { None };
		Self::from_json_with(&text, passphrase.as_ref().map(|p| p.as_str()))
			.map_err(|message| key_file(path, message))
	}

	/// Reads a key file, opening an encrypted one with `passphrase` (a program that holds it,
	/// as a test harness does); the error names the file and what is wrong with it.
	pub fn load_with(path: &Path, passphrase: &str) -> Result<Self> {
		let text = Zeroizing::new(
			std::fs::read_to_string(path)
				.map_err(|e| key_file(path, format!("cannot read it: {e}")))?,
		);
		Self::from_json_with(&text, Some(passphrase)).map_err(|message| key_file(path, message))
	}

	/// True if the key file at `path` is encrypted (version 2).
	pub fn is_encrypted(path: &Path) -> Result<bool> {
		let text = Zeroizing::new(
			std::fs::read_to_string(path)
				.map_err(|e| key_file(path, format!("cannot read it: {e}")))?,
		);
		Ok(Self::encrypted_json(&text))
	}

	fn encrypted_json(text: &str) -> bool {
		serde_json::from_str::<serde_json::Value>(text)
			.is_ok_and(|v| v["version"].as_u64() == Some(u64::from(ENCRYPTED_VERSION)))
	}

	/// Parses the text of a plaintext key file; the error names the field at fault.
	pub fn from_json(text: &str) -> core::result::Result<Self, String> {
		Self::from_json_with(text, None)
	}

	/// Parses the text of a key file, opening an encrypted one with `passphrase`; the error
	/// names the field at fault.
	pub fn from_json_with(
		text: &str,
		passphrase: Option<&str>,
	) -> core::result::Result<Self, String> {
		use serde_json::Value;
		let v: Value = serde_json::from_str(text).map_err(|e| {
			format!("not an MBDS key file (expected JSON with kind, version, seed): {e}")
		})?;
		let Value::Object(map) = &v else {
			return Err(
				"not an MBDS key file (expected a JSON object with kind, version, seed)".into()
			);
		};
		let field = |name: &str| {
			map.get(name).ok_or_else(|| format!("field `{name}` missing (not an MBDS key file?)"))
		};
		let kind = field("kind")?;
		if kind.as_str() != Some(KIND) {
			return Err(format!("field `kind` is {kind}, expected {KIND:?}"));
		}
		let version = field("version")?;
		if version.as_u64() == Some(u64::from(ENCRYPTED_VERSION)) {
			let Some(passphrase) = passphrase else {
				return Err(format!(
					"field `version` is {ENCRYPTED_VERSION}: the file is encrypted and its passphrase is needed (set {PASSPHRASE_ENV}, or run in a terminal)"
				));
			};
			return Self::open_encrypted(&field, passphrase);
		}
		if version.as_u64() != Some(u64::from(VERSION)) {
			return Err(format!(
				"field `version` is {version}, this build reads versions {VERSION} and {ENCRYPTED_VERSION}"
			));
		}
		let seed = field("seed")?
			.as_str()
			.ok_or_else(|| "field `seed` is not a string of 64 hex digits".to_string())?;
		let raw = Zeroizing::new(
			hex::decode(seed.strip_prefix("0x").unwrap_or(seed))
				.map_err(|e| format!("field `seed` is not hex: {e}"))?,
		);
		if raw.len() != 32 {
			return Err(format!("field `seed` is {} bytes, expected 32", raw.len()));
		}
		let mut out = Zeroizing::new([0u8; 32]);
		out.copy_from_slice(&raw);
		Ok(Self { seed: out })
	}

	/// The seed of an encrypted file's fields (`field` gives them, naming a missing one).
	fn open_encrypted<'a>(
		field: &impl Fn(&str) -> core::result::Result<&'a serde_json::Value, String>,
		passphrase: &str,
	) -> core::result::Result<Self, String> {
		use base64::Engine;
		use crypto_secretbox::{aead::Aead, KeyInit, XSalsa20Poly1305};
		let encoding = field("encoding")?;
		let expected = serde_json::json!({
			"content": ["mbds-seed"], "type": ["scrypt", "xsalsa20-poly1305"], "version": "3"
		});
		if *encoding != expected {
			return Err(format!("field `encoding` is {encoding}, expected {expected}"));
		}
		let account = field("account")?
			.as_str()
			.ok_or_else(|| "field `account` is not an SS58 address".to_string())?;
		let encoded = field("encoded")?
			.as_str()
			.ok_or_else(|| "field `encoded` is not a base64 string".to_string())?;
		let raw = Zeroizing::new(
			base64::engine::general_purpose::STANDARD
				.decode(encoded)
				.map_err(|e| format!("field `encoded` is not base64: {e}"))?,
		);
		let head = SALT_LEN + 12 + SECRETBOX_NONCE_LEN;
		if raw.len() != head + 32 + SECRETBOX_TAG_LEN {
			return Err(format!(
				"field `encoded` is {} bytes, expected {} (salt, scrypt parameters, nonce, sealed seed)",
				raw.len(),
				head + 32 + SECRETBOX_TAG_LEN
			));
		}
		let u32_at = |i: usize| u32::from_le_bytes(raw[i..i + 4].try_into().expect("4 bytes"));
		let (n, p, r) = (u32_at(SALT_LEN), u32_at(SALT_LEN + 4), u32_at(SALT_LEN + 8));
		if !n.is_power_of_two() || n < 2 || n.trailing_zeros() > MAX_SCRYPT_LOG_N {
			return Err(format!("field `encoded`: scrypt N = {n} is not a power of two from 2 to 2^{MAX_SCRYPT_LOG_N}"));
		}
		if !(1..=MAX_SCRYPT_R).contains(&r) || !(1..=MAX_SCRYPT_P).contains(&p) {
			return Err(format!("field `encoded`: scrypt r = {r}, p = {p} (at most {MAX_SCRYPT_R} and {MAX_SCRYPT_P})"));
		}
		if 128 * u64::from(n) * u64::from(r) > MAX_SCRYPT_MEMORY {
			return Err(format!(
				"field `encoded`: scrypt N = {n}, r = {r} would take {} MiB, at most {} MiB",
				(128 * u64::from(n) * u64::from(r)) >> 20,
				MAX_SCRYPT_MEMORY >> 20
			));
		}
		let key = derive_file_key(passphrase, &raw[..SALT_LEN], n.trailing_zeros() as u8, r, p)?;
		let nonce = &raw[SALT_LEN + 12..head];
		let seed = Zeroizing::new(
			XSalsa20Poly1305::new(key.as_ref().into())
				.decrypt(nonce.into(), &raw[head..])
				.map_err(|_| {
					"field `encoded` does not open with this passphrase (a wrong passphrase, or the file was altered)".to_string()
				})?,
		);
		let mut out = Zeroizing::new([0u8; 32]);
		out.copy_from_slice(&seed);
		let keys = Self { seed: out };
		if keys.ss58() != account {
			return Err(format!(
				"field `account` is {account}, but the file's seed is the key of {} (the file was altered)",
				keys.ss58()
			));
		}
		Ok(keys)
	}

	/// The text of this participant's key file encrypted under `passphrase` (version 2).
	pub fn to_encrypted_json(&self, passphrase: &str) -> Result<String> {
		use base64::Engine;
		use crypto_secretbox::{
			aead::{rand_core::RngCore, Aead, AeadCore, OsRng},
			KeyInit, XSalsa20Poly1305,
		};
		let mut salt = [0u8; SALT_LEN];
		OsRng.fill_bytes(&mut salt);
		let key = derive_file_key(passphrase, &salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P)
			.map_err(|e| Error::invalid("passphrase", e))?;
		let nonce = XSalsa20Poly1305::generate_nonce(&mut OsRng);
		let sealed = XSalsa20Poly1305::new(key.as_ref().into())
			.encrypt(&nonce, &self.seed[..])
			.map_err(|_| Error::invalid("key file", "sealing the seed failed"))?;
		let mut raw = Vec::with_capacity(SALT_LEN + 12 + SECRETBOX_NONCE_LEN + sealed.len());
		raw.extend_from_slice(&salt);
		for v in [1u32 << SCRYPT_LOG_N, SCRYPT_P, SCRYPT_R] {
			raw.extend_from_slice(&v.to_le_bytes());
		}
		raw.extend_from_slice(&nonce);
		raw.extend_from_slice(&sealed);
		let file = serde_json::json!({
			"kind": KIND,
			"version": ENCRYPTED_VERSION,
			"account": self.ss58(),
			"encoded": base64::engine::general_purpose::STANDARD.encode(&raw),
			"encoding": {
				"content": ["mbds-seed"], "type": ["scrypt", "xsalsa20-poly1305"], "version": "3"
			},
		});
		Ok(serde_json::to_string_pretty(&file).expect("plain JSON"))
	}

	/// Writes the key file encrypted under `passphrase` (at least [`MIN_PASSPHRASE_LEN`]
	/// characters), mode 0600; refuses to overwrite an existing file.
	pub fn save_encrypted(&self, path: &Path, passphrase: &str) -> Result<()> {
		if passphrase.chars().count() < MIN_PASSPHRASE_LEN {
			return Err(key_file(
				path,
				format!("a passphrase needs at least {MIN_PASSPHRASE_LEN} characters"),
			));
		}
		write_new(path, self.to_encrypted_json(passphrase)?.as_bytes())
	}

	/// The 24-word BIP-39 (English) recovery phrase of the seed: whoever has it has the keys.
	/// The words encode the seed itself (BIP-39 entropy), not a PBKDF2 seed of them as
	/// wallets derive: polkadot.js given these words makes another account.
	pub fn recovery_phrase(&self) -> Zeroizing<String> {
		let m = bip39::Mnemonic::from_entropy(&self.seed[..]).expect("32 bytes is valid entropy");
		Zeroizing::new(m.words().collect::<Vec<_>>().join(" "))
	}

	/// The keys whose [`ParticipantKeys::recovery_phrase`] is `phrase` (words separated by
	/// spaces, any case); the error says which word is wrong.
	pub fn from_recovery_phrase(phrase: &str) -> core::result::Result<Self, String> {
		let normal = Zeroizing::new(
			phrase.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" "),
		);
		let m = bip39::Mnemonic::parse_normalized(&normal).map_err(|e| match e {
			bip39::Error::BadWordCount(n) => {
				format!("the recovery phrase has {n} words, expected 24")
			}
			bip39::Error::UnknownWord(i) => format!(
				"word {} of the recovery phrase ({:?}) is not a BIP-39 English word",
				i + 1,
				normal.split(' ').nth(i).unwrap_or_default()
			),
			bip39::Error::InvalidChecksum => {
				"the recovery phrase's checksum does not match: a word is wrong or out of order"
					.to_string()
			}
			e => format!("not a recovery phrase: {e}"),
		})?;
		let (entropy, len) = m.to_entropy_array();
		if len != 32 {
			return Err(format!("the recovery phrase has {} words, expected 24", m.word_count()));
		}
		let mut out = Zeroizing::new([0u8; 32]);
		out.copy_from_slice(&entropy[..32]);
		Ok(Self { seed: out })
	}

	/// The text of this participant's key file (secret: it holds the seed).
	pub fn to_json(&self) -> Zeroizing<String> {
		let file = KeyFile {
			kind: KIND.into(),
			version: VERSION,
			seed: format!("0x{}", hex::encode(&self.seed[..])),
		};
		Zeroizing::new(serde_json::to_string_pretty(&file).expect("plain JSON"))
	}

	/// Writes the key file in clear (version 1; mode 0600), for a service whose disk is its
	/// protection; refuses to overwrite an existing file. People's keys go through
	/// [`ParticipantKeys::save_encrypted`].
	pub fn save(&self, path: &Path) -> Result<()> {
		write_new(path, self.to_json().as_bytes())
	}
}

/// Writes `text` to a new file at `path` (mode 0600, created with its folder); refuses to
/// overwrite an existing file.
fn write_new(path: &Path, text: &[u8]) -> Result<()> {
	use std::io::Write;
	if path.exists() {
		return Err(key_file(
			path,
			"already exists; move it away or choose another path (keys are never overwritten)"
				.into(),
		));
	}
	if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
		std::fs::create_dir_all(dir)
			.map_err(|e| key_file(path, format!("cannot create its folder: {e}")))?;
	}
	let mut options = std::fs::OpenOptions::new();
	options.write(true).create_new(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::OpenOptionsExt;
		options.mode(0o600);
	}
	let mut f = options.open(path).map_err(|e| key_file(path, format!("cannot create it: {e}")))?;
	f.write_all(text)
		.and_then(|_| f.sync_all())
		.map_err(|e| key_file(path, format!("cannot write it: {e}")))
}

/// The file key: scrypt(passphrase, salt) with N = 2^`log_n`, `r`, `p`, 32 bytes.
fn derive_file_key(
	passphrase: &str,
	salt: &[u8],
	log_n: u8,
	r: u32,
	p: u32,
) -> core::result::Result<Zeroizing<[u8; 32]>, String> {
	let params = scrypt::Params::new(log_n, r, p, 32)
		.map_err(|e| format!("field `encoded`: scrypt parameters: {e}"))?;
	let mut key = Zeroizing::new([0u8; 32]);
	scrypt::scrypt(passphrase.as_bytes(), salt, &params, &mut key[..])
		.map_err(|e| format!("field `encoded`: scrypt: {e}"))?;
	Ok(key)
}

/// The passphrase of the encrypted key file at `path`: [`PASSPHRASE_ENV`] if set, else asked
/// for in the terminal; an error naming the file if neither is possible.
pub fn passphrase_for(path: &Path) -> Result<Zeroizing<String>> {
	if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
		return Ok(Zeroizing::new(p));
	}
	use std::io::IsTerminal;
	if std::io::stdin().is_terminal() {
		return rpassword::prompt_password(format!("passphrase of {}: ", path.display()))
			.map(Zeroizing::new)
			.map_err(|e| key_file(path, format!("reading its passphrase: {e}")));
	}
	Err(key_file(
		path,
		format!("is encrypted: give its passphrase in {PASSPHRASE_ENV}, or run in a terminal to be asked for it"),
	))
}

/// A passphrase for a new key file at `path`: [`PASSPHRASE_ENV`] if set, else asked for twice
/// in the terminal; at least [`MIN_PASSPHRASE_LEN`] characters.
pub fn new_passphrase(path: &Path) -> Result<Zeroizing<String>> {
	let p = match std::env::var(PASSPHRASE_ENV) {
		Ok(p) => Zeroizing::new(p),
		Err(_) => {
			use std::io::IsTerminal;
			if !std::io::stdin().is_terminal() {
				return Err(key_file(
					path,
					format!("needs a passphrase: set {PASSPHRASE_ENV}, or run in a terminal to be asked for one"),
				));
			}
			let ask = |prompt: String| {
				rpassword::prompt_password(prompt)
					.map(Zeroizing::new)
					.map_err(|e| key_file(path, format!("reading a passphrase: {e}")))
			};
			let first = ask(format!("new passphrase for {}: ", path.display()))?;
			let again = ask("the same passphrase again: ".into())?;
			if *first != *again {
				return Err(key_file(path, "the two passphrases differ; nothing written".into()));
			}
			first
		}
	};
	if p.chars().count() < MIN_PASSPHRASE_LEN {
		return Err(key_file(
			path,
			format!("a passphrase needs at least {MIN_PASSPHRASE_LEN} characters"),
		));
	}
	Ok(p)
}

impl ParticipantKeys {
	/// The account key pair (signs transactions and proxy requests).
	pub fn pair(&self) -> sr25519::Pair {
		sr25519::Pair::from_seed(&self.seed)
	}

	/// The account: the participant's identity on every chain.
	pub fn account(&self) -> AccountId {
		self.pair().public().into()
	}

	/// The account in SS58.
	pub fn ss58(&self) -> String {
		self.account().to_ss58check()
	}

	fn crypto_seed(&self) -> KeySeed {
		let mut input = b"mbds-crypto-seed".to_vec();
		input.extend_from_slice(&self.seed[..]);
		let derived = Zeroizing::new(sp_crypto_hashing::blake2_256(&input));
		input.iter_mut().for_each(|b| *b = 0);
		KeySeed::from_bytes(*derived)
	}

	/// Record (PRE) key, signing key and PEKS receiver key.
	pub fn crypto(&self) -> PatientKeys {
		PatientKeys::from_seed(&self.crypto_seed())
	}

	/// The record (PRE) secret key.
	pub fn record_key(&self) -> PreSecretKey {
		PreSecretKey::from_seed(&self.crypto_seed())
	}

	/// The PEKS receiver secret key.
	pub fn peks(&self) -> PeksSecretKey {
		PeksSecretKey::from_seed(&self.crypto_seed())
	}

	/// The searchable-index key (`mbds_crypto::sse`): makes the labels of the patient's
	/// records and the search tokens of their keywords; never leaves the patient.
	pub fn index_key(&self) -> mbds_crypto::sse::IndexKey {
		mbds_crypto::sse::IndexKey::from_seed(&self.crypto_seed())
	}

	/// The key sealing the searchable index's counters kept beside the key file.
	pub fn counters_key(&self) -> Zeroizing<[u8; 32]> {
		let mut input = Zeroizing::new(b"mbds-index-counters-v1".to_vec());
		input.extend_from_slice(&self.seed[..]);
		Zeroizing::new(sp_crypto_hashing::blake2_256(&input))
	}

	/// The designated-tester secret key (proxies).
	pub fn tester(&self) -> TesterSecretKey {
		TesterSecretKey::from_seed(&self.crypto_seed())
	}

	/// The public key set the KMC registers for this participant.
	pub fn key_set(&self, search: SearchKey) -> KeySetOf<Runtime> {
		let search_key = match search {
			SearchKey::Receiver => self.peks().public_key().to_bytes(),
			SearchKey::Tester => self.tester().public_key().to_bytes(),
		};
		pallet_kmc::KeySet {
			record_key: PublicKey {
				scheme: KeyScheme::UmbralSecp256k1V1,
				key: self
					.record_key()
					.public_key()
					.to_compressed()
					.to_vec()
					.try_into()
					.expect("33 bytes fit the key bound"),
			},
			search_key: PublicKey {
				scheme: KeyScheme::PeksBls12381V1,
				key: search_key.try_into().expect("a G1 point fits the key bound"),
			},
		}
	}
}

/// The sr25519 key pair of secret URI `suri` (e.g. `//Alice`), given with option `--{flag}`.
pub fn secret_uri(flag: &str, suri: &str) -> Result<sr25519::Pair> {
	sr25519::Pair::from_string(suri, None).map_err(|e| {
		Error::invalid(
			format!("--{flag}"),
			format!("--{flag}: not a valid sr25519 secret URI ({e:?}); e.g. //Alice"),
		)
	})
}

/// Parses an SS58 account, naming `what` on error.
pub fn parse_account(what: &str, s: &str) -> Result<AccountId> {
	AccountId::from_ss58check(s.trim())
		.map_err(|e| Error::invalid(what, format!("{what}: {s:?} is not an SS58 account ({e:?})")))
}

/// A key file error: `path` and what is wrong with it.
fn key_file(path: &Path, message: String) -> Error {
	Error::KeyFile { path: path.to_path_buf(), message }
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_key_file_round_trips_and_bad_files_are_named() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("k.json");
		let keys = ParticipantKeys::generate();
		keys.save(&path).unwrap();
		let back = ParticipantKeys::load(&path).unwrap();
		assert_eq!(back.account(), keys.account());
		assert_eq!(back.record_key().public_key(), keys.record_key().public_key());
		assert!(keys.save(&path).unwrap_err().to_string().contains("already exists"));
		#[cfg(unix)]
		{
			use std::os::unix::fs::PermissionsExt;
			assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
		}
		assert!(!std::fs::read_to_string(&path).unwrap().contains(&keys.ss58()));

		let bad = dir.path().join("bad.json");
		std::fs::write(&bad, r#"{"kind":"mbds-participant-keys","version":1,"seed":"0x12"}"#)
			.unwrap();
		let err = ParticipantKeys::load(&bad).unwrap_err().to_string();
		assert!(err.contains("bad.json") && err.contains("`seed` is 1 bytes"), "{err}");
		std::fs::write(&bad, r#"{"kind":"other","version":1,"seed":"0x12"}"#).unwrap();
		assert!(ParticipantKeys::load(&bad).unwrap_err().to_string().contains("`kind`"));
		std::fs::write(&bad, "not json").unwrap();
		assert!(ParticipantKeys::load(&bad)
			.unwrap_err()
			.to_string()
			.contains("not an MBDS key file"));
	}

	#[test]
	fn an_encrypted_key_file_opens_with_its_passphrase_only_and_names_what_is_wrong() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("k.json");
		let keys = ParticipantKeys::generate();
		assert!(keys
			.save_encrypted(&path, "short")
			.unwrap_err()
			.to_string()
			.contains("at least 8"));
		keys.save_encrypted(&path, "correct horse").unwrap();
		assert!(ParticipantKeys::is_encrypted(&path).unwrap());
		#[cfg(unix)]
		{
			use std::os::unix::fs::PermissionsExt;
			assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
		}
		let text = std::fs::read_to_string(&path).unwrap();
		// The seed is nowhere in clear; the account is, to say whose file it is.
		assert!(!text.contains(&hex::encode(&keys.seed[..])));
		let v: serde_json::Value = serde_json::from_str(&text).unwrap();
		assert_eq!(v["account"], keys.ss58());
		assert_eq!(v["encoding"]["type"], serde_json::json!(["scrypt", "xsalsa20-poly1305"]));
		// polkadot.js's layout: salt 32 | N p r | nonce 24 | seed 32 + tag 16.
		use base64::Engine;
		let raw = base64::engine::general_purpose::STANDARD
			.decode(v["encoded"].as_str().unwrap())
			.unwrap();
		assert_eq!(raw.len(), 32 + 12 + 24 + 48);
		assert_eq!(&raw[32..44], &[0, 0x80, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0]);

		let back = ParticipantKeys::from_json_with(&text, Some("correct horse")).unwrap();
		assert_eq!(back.account(), keys.account());
		assert_eq!(back.record_key().public_key(), keys.record_key().public_key());
		let wrong = ParticipantKeys::from_json_with(&text, Some("correct horsE")).unwrap_err();
		assert!(wrong.contains("does not open with this passphrase"), "{wrong}");
		let none = ParticipantKeys::from_json(&text).unwrap_err();
		assert!(none.contains("encrypted") && none.contains(PASSPHRASE_ENV), "{none}");
		// A flipped bit of the sealed seed, another account, or a huge scrypt cost: refused.
		let mut altered = raw.clone();
		altered[100] ^= 1;
		let with = |v: &serde_json::Value, field: &str, x: serde_json::Value| {
			let mut v = v.clone();
			v[field] = x;
			v.to_string()
		};
		let b64 = |r: &[u8]| base64::engine::general_purpose::STANDARD.encode(r);
		let e = ParticipantKeys::from_json_with(
			&with(&v, "encoded", b64(&altered).into()),
			Some("correct horse"),
		)
		.unwrap_err();
		assert!(e.contains("does not open"), "{e}");
		let other = ParticipantKeys::from_seed([9; 32]).ss58();
		let e = ParticipantKeys::from_json_with(
			&with(&v, "account", other.into()),
			Some("correct horse"),
		)
		.unwrap_err();
		assert!(e.starts_with("field `account`") && e.contains("altered"), "{e}");
		let mut greedy = raw.clone();
		greedy[32..36].copy_from_slice(&(1u32 << 20).to_le_bytes());
		greedy[40..44].copy_from_slice(&16u32.to_le_bytes());
		let e = ParticipantKeys::from_json_with(
			&with(&v, "encoded", b64(&greedy).into()),
			Some("correct horse"),
		)
		.unwrap_err();
		assert!(e.contains("MiB"), "{e}");
		let mut costly = raw.clone();
		costly[32..36].copy_from_slice(&(1u32 << 24).to_le_bytes());
		let e = ParticipantKeys::from_json_with(
			&with(&v, "encoded", b64(&costly).into()),
			Some("correct horse"),
		)
		.unwrap_err();
		assert!(e.contains("scrypt N"), "{e}");
		let e = ParticipantKeys::from_json_with(
			&with(&v, "encoded", b64(&raw[..50]).into()),
			Some("x"),
		)
		.unwrap_err();
		assert!(e.contains("field `encoded` is 50 bytes"), "{e}");
	}

	#[test]
	fn the_recovery_phrase_gives_back_the_same_keys_and_names_a_wrong_word() {
		let keys = ParticipantKeys::from_seed([5; 32]);
		let phrase = keys.recovery_phrase();
		let words: Vec<&str> = phrase.split(' ').collect();
		assert_eq!(words.len(), 24);
		let back = ParticipantKeys::from_recovery_phrase(&format!("  {}\n", phrase.to_uppercase()))
			.unwrap();
		assert_eq!(back.account(), keys.account());
		assert_eq!(
			back.index_key().token(&mbds_crypto::Keyword::parse("http://loinc.org|1").unwrap()),
			keys.index_key().token(&mbds_crypto::Keyword::parse("http://loinc.org|1").unwrap())
		);
		let mut wrong = words.clone();
		wrong[4] = "notaword";
		let e = ParticipantKeys::from_recovery_phrase(&wrong.join(" ")).unwrap_err();
		assert!(e.contains("word 5") && e.contains("notaword"), "{e}");
		let mut swapped = words.clone();
		swapped.swap(0, 1);
		if swapped != words {
			let e = ParticipantKeys::from_recovery_phrase(&swapped.join(" ")).unwrap_err();
			assert!(e.contains("checksum") || e.contains("word"), "{e}");
		}
		let twelve = format!("{}about", "abandon ".repeat(11));
		let e = ParticipantKeys::from_recovery_phrase(&twelve).unwrap_err();
		assert!(e.contains("has 12 words, expected 24"), "{e}");
		let e = ParticipantKeys::from_recovery_phrase(&words[..5].join(" ")).unwrap_err();
		assert!(e.contains("has 5 words, expected 24"), "{e}");
	}

	#[test]
	fn account_and_encryption_keys_are_distinct_derivations() {
		let keys = ParticipantKeys::from_seed([7u8; 32]);
		let set = keys.key_set(SearchKey::Receiver);
		assert_eq!(set.record_key.key.len(), 33);
		assert_ne!(&set.record_key.key[1..], keys.account().as_ref() as &[u8]);
		assert_ne!(keys.key_set(SearchKey::Tester).search_key, set.search_key);
	}

	/// Fuzzing of the key-file parser ([`ParticipantKeys::from_json`], which
	/// [`ParticipantKeys::load`] runs on the file's text). 256 cases per property by default;
	/// `PROPTEST_CASES=100000 cargo test --release -p mbds-client fuzz_` for a long run.
	mod fuzz {
		use super::*;
		use proptest::prelude::*;
		use proptest::sample::Index;
		use serde_json::{json, Value};

		fn config() -> ProptestConfig {
			let mut c = ProptestConfig::default();
			if std::env::var_os("PROPTEST_CASES").is_none() {
				c.cases = 256;
			}
			c
		}

		/// A refusal names the field at fault, or says the text is no key file.
		fn specific(e: &str, text: &str) -> core::result::Result<(), TestCaseError> {
			prop_assert!(
				e.starts_with("not an MBDS key file") || e.starts_with("field `"),
				"unspecific key file error {e:?} for {text:?}"
			);
			Ok(())
		}

		fn json_value() -> impl Strategy<Value = Value> {
			let leaf = prop_oneof![
				Just(Value::Null),
				any::<bool>().prop_map(Value::from),
				any::<i64>().prop_map(Value::from),
				Just(json!(1)),
				Just(json!(KIND)),
				"(0x)?[0-9a-fA-F]{0,70}".prop_map(Value::from),
				"\\PC{0,10}".prop_map(Value::from),
			];
			leaf.prop_recursive(3, 16, 4, |inner| {
				prop_oneof![
					proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
					proptest::collection::vec(
						(prop::sample::select(vec!["kind", "version", "seed", "x"]), inner),
						0..5
					)
					.prop_map(|kv| Value::Object(
						kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
					)),
				]
			})
		}

		proptest! {
			#![proptest_config(config())]

			#[test]
			fn fuzz_key_file_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
				let text = String::from_utf8_lossy(&bytes);
				match ParticipantKeys::from_json(&text) {
					Ok(_) => prop_assert!(false, "accepted {text:?}"),
					Err(e) => specific(&e, &text)?,
				}
			}

			#[test]
			fn fuzz_key_file_arbitrary_json(v in json_value()) {
				let text = v.to_string();
				if let Err(e) = ParticipantKeys::from_json(&text) {
					specific(&e, &text)?;
				}
			}

			#[test]
			fn fuzz_key_file_round_trip(seed in any::<[u8; 32]>()) {
				let keys = ParticipantKeys::from_seed(seed);
				let back = ParticipantKeys::from_json(&keys.to_json()).unwrap();
				prop_assert_eq!(&back.seed[..], &seed[..]);
			}

			/// One field of a valid file replaced, changed by a character, cut or removed.
			#[test]
			fn fuzz_key_file_field_mutated(
				seed in any::<[u8; 32]>(),
				name in prop::sample::select(vec!["kind", "version", "seed"]),
				replace in proptest::option::of(json_value()),
				at in any::<Index>(),
				c in any::<char>(),
				remove in any::<bool>(),
			) {
				let valid: Value = serde_json::from_str(&ParticipantKeys::from_seed(seed).to_json()).unwrap();
				let Value::Object(mut map) = valid else { unreachable!() };
				if remove {
					map.remove(name);
				} else if let Some(v) = replace {
					map.insert(name.into(), v);
				} else {
					let mut chars: Vec<char> = map[name].as_str().unwrap_or("1").chars().collect();
					let i = at.index(chars.len());
					chars[i] = c;
					map.insert(name.into(), Value::from(chars.into_iter().collect::<String>()));
				}
				let text = Value::Object(map).to_string();
				match ParticipantKeys::from_json(&text) {
					Ok(k) => prop_assert!(name == "seed" || k.seed[..] == seed[..], "accepted {text:?}"),
					Err(e) => {
						specific(&e, &text)?;
						prop_assert!(e.contains(&format!("field `{name}`")), "{e:?} does not name `{name}`");
					}
				}
			}
		}

		/// Regression: a field of the wrong JSON type was refused with serde's "invalid type
		/// ... at line 1 column N" (no field named), and `0x0x…` seeds were accepted.
		#[test]
		fn fuzz_regression_key_file_errors_name_the_field() {
			let e = ParticipantKeys::from_json(&format!(
				r#"{{"kind":"{KIND}","version":"1","seed":"0x{}"}}"#,
				"00".repeat(32)
			))
			.unwrap_err();
			assert_eq!(e, r#"field `version` is "1", this build reads versions 1 and 2"#);
			let e = ParticipantKeys::from_json(&format!(
				r#"{{"kind":"{KIND}","version":1,"seed":"0x0x{}"}}"#,
				"00".repeat(32)
			))
			.unwrap_err();
			assert!(e.starts_with("field `seed` is not hex"), "{e}");
			let e = ParticipantKeys::from_json(r#"{"kind":"mbds-participant-keys","version":1}"#)
				.unwrap_err();
			assert!(e.starts_with("field `seed` missing"), "{e}");
			let e = ParticipantKeys::from_json("[]").unwrap_err();
			assert!(e.starts_with("not an MBDS key file"), "{e}");
		}
	}
}
