//! A participant's key file: one 32-byte secret seed from which every key of the participant
//! is derived, generated on the participant's own device (MISSION part 4: the KMC attests the
//! public keys, it never sees the secrets).
//!
//! ```json
//! { "kind": "mbds-participant-keys", "version": 1, "seed": "0x…64 hex digits…" }
//! ```
//!
//! * account key (the on-chain identity): sr25519 from the seed (`sp_core`);
//! * record key (Umbral, secp256k1), signing key for key fragments, PEKS receiver key and, for a
//!   proxy, the designated-tester key: `mbds-crypto` keys from a second seed,
//!   `BLAKE2b-256("mbds-crypto-seed" | seed)`, so the account key and the encryption keys never
//!   share a scalar.
//!
//! The file is written with mode 0600 and the seed is never printed.

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

	/// Reads a key file; the error names the file and what is wrong with it.
	pub fn load(path: &Path) -> Result<Self> {
		let text = Zeroizing::new(
			std::fs::read_to_string(path)
				.map_err(|e| key_file(path, format!("cannot read it: {e}")))?,
		);
		Self::from_json(&text).map_err(|message| key_file(path, message))
	}

	/// Parses the text of a key file; the error names the field at fault.
	pub fn from_json(text: &str) -> core::result::Result<Self, String> {
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
		if version.as_u64() != Some(u64::from(VERSION)) {
			return Err(format!(
				"field `version` is {version}, this build reads version {VERSION}"
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

	/// The text of this participant's key file (secret: it holds the seed).
	pub fn to_json(&self) -> Zeroizing<String> {
		let file = KeyFile {
			kind: KIND.into(),
			version: VERSION,
			seed: format!("0x{}", hex::encode(&self.seed[..])),
		};
		Zeroizing::new(serde_json::to_string_pretty(&file).expect("plain JSON"))
	}

	/// Writes the key file (mode 0600); refuses to overwrite an existing file.
	pub fn save(&self, path: &Path) -> Result<()> {
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
		let text = self.to_json();
		let mut options = std::fs::OpenOptions::new();
		options.write(true).create_new(true);
		#[cfg(unix)]
		{
			use std::os::unix::fs::OpenOptionsExt;
			options.mode(0o600);
		}
		let mut f =
			options.open(path).map_err(|e| key_file(path, format!("cannot create it: {e}")))?;
		f.write_all(text.as_bytes())
			.and_then(|_| f.sync_all())
			.map_err(|e| key_file(path, format!("cannot write it: {e}")))
	}

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
			assert_eq!(e, r#"field `version` is "1", this build reads version 1"#);
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
