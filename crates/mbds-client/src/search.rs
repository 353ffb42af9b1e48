//! The patient's searchable index on the chains ([`mbds_crypto::sse`], Cash et al., NDSS 2014,
//! basic scheme): labels at confirmation, search permissions for one proxy, and the counters
//! kept beside the patient's key file.
//!
//! - **Confirming** a checked slip, the patient gives one label per keyword of the record
//!   (`pallet-slips`' `confirm_slip_indexed`, labels from [`CounterFile::take_labels`]); the
//!   consortium indexes them by patient and label (`pallet-anchor`'s `IndexEntries`, the first
//!   item of each chain, so a chain that saw a label on its way cannot hide the real record).
//! - **A search permission** ([`SearchPermission`], what `mbds trapdoor` prints and a
//!   [`crate::proxy::api::SearchRequest`]'s `trapdoor` carries) holds, per keyword, its search
//!   token and how many labels the patient has given it so far, sealed to the chosen proxy's
//!   record key: only that proxy can walk the labels, and it audits each search on chain, as
//!   it does for a designated-tester trapdoor. The proxy walks every label the patient had
//!   made ([`find`]): a gap (a confirmation that failed, a chain that never anchored) hides
//!   nothing before the permission's counter; then it looks [`MISS_LIMIT`] labels further for
//!   records confirmed since (as a dPEKS trapdoor also finds later records: there is no
//!   forward privacy against the proxy, which keeps the token). Someone who sees the permission (the data user, the
//!   network) learns nothing from it. While the patient has items anchored without labels
//!   (confirmed before the index, or without a check), the permission also carries a dPEKS
//!   trapdoor that the proxy tests on those items only.
//! - **Counters** (the next label per keyword) are the patient's own state, in
//!   `<key file>.index.json`, encrypted under a key derived from the patient's seed (the
//!   keywords are diagnoses). They are advanced before the confirmation is sent, put back only
//!   if it failed in its block, and the file is locked while a confirmation is under way, so a
//!   label is never used twice; a keyword the file has no counter for (a new one, or after the
//!   file was lost with a device) is first looked for on the consortium ([`next_counter`]):
//!   confirmations of the last minute or so, not anchored yet, are not seen there, so after
//!   losing the file wait for the last ones to be anchored before confirming again. Two devices
//!   confirming for one patient must share this file.

use crate::{keys::ParticipantKeys, queries, Client, Error, Result};
use codec::{Decode, Encode};
use mbds_crypto::{
	sse::{self, Counters, IndexKey, Label, SearchToken},
	Keyword, PrePublicKey, PreSecretKey, SealedNote,
};
use mbds_runtime::AccountId;
use sp_core::H256;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// First bytes of an encoded [`SearchPermission`] (a dPEKS trapdoor alone has none).
pub const PERMISSION_MAGIC: &[u8; 8] = b"mbds-si2";
/// Consecutive missing labels that end the walk of [`next_counter`] (rebuilding a lost
/// counter): gaps left by failed confirmations up to this many are walked over.
pub const MISS_LIMIT: u64 = sse::DEFAULT_MISS_LIMIT;
/// Labels looked up at once (one storage proof).
pub const LOOKUP_BATCH: usize = 64;
/// Most labels one search walks, all keywords together (and most a counter may be): a
/// permission's counters are sealed to the proxy by anyone who knows its key, so they bound
/// the proxy's work per request.
pub const MAX_SEARCH_LABELS: u64 = 32_768;
/// One sealed keyword: its token and its counter (u64 little-endian).
const ENTRY_LEN: usize = sse::LABEL_LEN + 8;
/// Keywords sealed in one note (3 x 40 bytes within the note's 128).
const ENTRIES_PER_NOTE: usize = mbds_crypto::envelope::MAX_NOTE_LEN / ENTRY_LEN;
/// Most keywords in one search (as for a conjunctive dPEKS trapdoor).
pub const MAX_KEYWORDS: usize = mbds_crypto::peks::MAX_CONJUNCTION;

/// What a patient hands a data user to search their records through one proxy.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SearchPermission {
	/// Per keyword its search token and counter, [`ENTRIES_PER_NOTE`] to a note, each note
	/// sealed to the proxy's record key.
	pub sealed_tokens: Vec<Vec<u8>>,
	/// A conjunctive dPEKS trapdoor for the proxy's tester key over the same keywords, for
	/// the patient's items anchored without labels; absent when there are none.
	pub legacy: Option<Vec<u8>>,
}

/// A keyword's search token and the number of labels the patient made for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Walk {
	/// The token.
	pub token: SearchToken,
	/// Labels `0..count` are the patient's records with the keyword.
	pub count: u64,
}

impl SearchPermission {
	/// The search tokens of `keywords` (1 to [`MAX_KEYWORDS`], all of them must match) with
	/// their counters, sealed to `proxy_record_key`; `legacy` as given.
	pub fn new(
		keys: &ParticipantKeys,
		proxy_record_key: &PrePublicKey,
		keywords: &[(Keyword, u64)],
		legacy: Option<Vec<u8>>,
	) -> Result<Self> {
		if keywords.is_empty() || keywords.len() > MAX_KEYWORDS {
			return Err(Error::invalid(
				"keywords",
				format!("a search needs 1 to {MAX_KEYWORDS} keywords, got {}", keywords.len()),
			));
		}
		let key = keys.index_key();
		let entries: Vec<Zeroizing<Vec<u8>>> = keywords
			.iter()
			.map(|(w, count)| {
				let mut e = Zeroizing::new(key.token(w).to_bytes().to_vec());
				e.extend_from_slice(&count.to_le_bytes());
				e
			})
			.collect();
		let sealed_tokens = entries
			.chunks(ENTRIES_PER_NOTE)
			.map(|chunk| {
				let plain = Zeroizing::new(
					chunk.iter().flat_map(|e| e.iter().copied()).collect::<Vec<u8>>(),
				);
				SealedNote::seal(proxy_record_key, &plain).map(|n| n.to_bytes()).map_err(|e| {
					Error::invalid("search tokens", format!("sealing the search tokens: {e}"))
				})
			})
			.collect::<Result<Vec<_>>>()?;
		Ok(SearchPermission { sealed_tokens, legacy })
	}

	/// Its bytes: [`PERMISSION_MAGIC`] and the SCALE encoding.
	pub fn to_bytes(&self) -> Vec<u8> {
		let mut out = PERMISSION_MAGIC.to_vec();
		self.encode_to(&mut out);
		out
	}

	/// A permission from its bytes; `Ok(None)` if they do not start with
	/// [`PERMISSION_MAGIC`] (a dPEKS trapdoor of an older client).
	pub fn from_bytes(bytes: &[u8]) -> core::result::Result<Option<Self>, String> {
		let Some(mut rest) = bytes.strip_prefix(&PERMISSION_MAGIC[..]) else { return Ok(None) };
		let p = <SearchPermission as codec::DecodeAll>::decode_all(&mut rest)
			.map_err(|e| format!("not a search permission: {e}"))?;
		let max_notes = MAX_KEYWORDS.div_ceil(ENTRIES_PER_NOTE);
		if p.sealed_tokens.is_empty() || p.sealed_tokens.len() > max_notes {
			return Err(format!(
				"a search permission has 1 to {max_notes} sealed notes, this one {}",
				p.sealed_tokens.len()
			));
		}
		Ok(Some(p))
	}

	/// The keywords' tokens and counters, opened with the proxy's record key; the same token
	/// twice counts once, and the counters together are at most [`MAX_SEARCH_LABELS`].
	pub fn open_tokens(&self, proxy_key: &PreSecretKey) -> core::result::Result<Vec<Walk>, String> {
		let mut walks: Vec<Walk> = Vec::new();
		for (i, note) in self.sealed_tokens.iter().enumerate() {
			let plain = Zeroizing::new(
				SealedNote::from_bytes(note).and_then(|n| n.open(proxy_key)).map_err(|e| {
					format!("sealed tokens {i}: does not open with this proxy's key: {e}")
				})?,
			);
			if plain.is_empty() || plain.len() % ENTRY_LEN != 0 {
				return Err(format!(
					"sealed tokens {i}: {} bytes, not whole {ENTRY_LEN}-byte entries",
					plain.len()
				));
			}
			for e in plain.chunks_exact(ENTRY_LEN) {
				let token = SearchToken::from_bytes(e[..32].try_into().expect("32 bytes"));
				let count = u64::from_le_bytes(e[32..].try_into().expect("8 bytes"));
				match walks.iter_mut().find(|w| w.token == token) {
					Some(w) => w.count = w.count.max(count),
					None => walks.push(Walk { token, count }),
				}
			}
		}
		if walks.len() > MAX_KEYWORDS {
			return Err(format!("{} keywords, at most {MAX_KEYWORDS}", walks.len()));
		}
		let total: u64 = walks.iter().map(|w| w.count).fold(0, u64::saturating_add);
		if total > MAX_SEARCH_LABELS {
			return Err(format!(
				"the permission's keywords have {total} labels together, at most {MAX_SEARCH_LABELS} a search"
			));
		}
		Ok(walks)
	}
}

/// The items of `patient`'s index matching every keyword of `walks`, through `lookup` (a
/// batch of labels to the items carrying each, e.g. one proven read of the consortium's
/// `IndexEntries`): labels `0..count` of each keyword (every one, a gap hides nothing), then
/// the records confirmed after the permission was made, until [`MISS_LIMIT`] labels in a row
/// are missing; one entry per record (chain and slip), in the first keyword's order. Also
/// returns the number of labels looked up. The smallest walk goes first, and an empty result
/// ends the search.
pub fn find<S: Clone>(
	walks: &[Walk],
	record_of: impl Fn(&S) -> (u32, u64),
	mut lookup: impl FnMut(&[Label]) -> core::result::Result<Vec<Vec<S>>, String>,
) -> core::result::Result<(Vec<S>, u64), String> {
	let mut order: Vec<&Walk> = walks.iter().collect();
	order.sort_by_key(|w| w.count);
	let mut looked_up = 0u64;
	let mut result: Option<Vec<S>> = None;
	for walk in order {
		let mut found: Vec<S> = Vec::new();
		let (mut counter, mut misses) = (0u64, 0u64);
		// The labels the patient had made when they gave the permission, all of them; then
		// records confirmed since, until MISS_LIMIT labels in a row are missing.
		while counter < walk.count || misses < MISS_LIMIT {
			if looked_up >= MAX_SEARCH_LABELS + MISS_LIMIT * MAX_KEYWORDS as u64 {
				return Err(format!("a search walks at most {MAX_SEARCH_LABELS} labels"));
			}
			let end = if counter < walk.count {
				walk.count.min(counter + LOOKUP_BATCH as u64)
			} else {
				counter + (MISS_LIMIT - misses)
			};
			let labels: Vec<Label> = (counter..end).map(|c| walk.token.label(c)).collect();
			let answer = lookup(&labels)?;
			if answer.len() != labels.len() {
				return Err(format!(
					"the index answered {} of {} labels looked up",
					answer.len(),
					labels.len()
				));
			}
			for (i, items) in answer.into_iter().enumerate() {
				if counter + (i as u64) < walk.count {
					found.extend(items);
				} else if items.is_empty() {
					misses += 1;
				} else {
					found.extend(items);
					misses = 0;
				}
			}
			looked_up += labels.len() as u64;
			counter = end;
		}
		result = Some(match result {
			// A record with the keyword twice has two entries: keep one.
			None => {
				let mut seen = std::collections::BTreeSet::new();
				found.into_iter().filter(|s| seen.insert(record_of(s))).collect()
			}
			Some(before) => {
				let these: std::collections::BTreeSet<(u32, u64)> =
					found.iter().map(&record_of).collect();
				before.into_iter().filter(|s| these.contains(&record_of(s))).collect()
			}
		});
		if result.as_ref().is_some_and(|r| r.is_empty()) {
			break;
		}
	}
	Ok((result.unwrap_or_default(), looked_up))
}

/// The patient's counters, kept beside their key file (encrypted), locked while held.
pub struct CounterFile {
	path: PathBuf,
	account: AccountId,
	key: Zeroizing<[u8; 32]>,
	counters: Counters,
	/// The lock on `<path>.lock`, held until this is dropped.
	_lock: std::fs::File,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct CounterJson {
	kind: String,
	version: u32,
	account: String,
	/// base64 of nonce (24) | XSalsa20-Poly1305 of the JSON map keyword -> next counter.
	sealed: String,
}

const COUNTER_KIND: &str = "mbds-search-index-counters";

impl CounterFile {
	/// Where the counters of the key file at `key_path` are kept.
	pub fn path_for(key_path: &Path) -> PathBuf {
		let mut name = key_path.file_name().map(|n| n.to_os_string()).unwrap_or_default();
		name.push(".index.json");
		key_path.with_file_name(name)
	}

	/// The counters of `keys`' owner (key file at `key_path`), empty if there is no file yet;
	/// waits for another confirmation holding them. The error names the file and what is
	/// wrong with it.
	pub fn open(key_path: &Path, keys: &ParticipantKeys) -> Result<Self> {
		let path = Self::path_for(key_path);
		let bad = |m: String| {
			Error::invalid(path.display().to_string(), format!("{}: {m}", path.display()))
		};
		let lock_path = path.with_extension("lock");
		let lock = std::fs::OpenOptions::new()
			.create(true)
			.truncate(false)
			.write(true)
			.open(&lock_path)
			.map_err(|e| bad(format!("cannot open its lock {}: {e}", lock_path.display())))?;
		lock.lock().map_err(|e| bad(format!("cannot lock it: {e}")))?;
		let key = keys.counters_key();
		let text = match std::fs::read_to_string(&path) {
			Ok(t) => Some(t),
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
			Err(e) => return Err(bad(format!("cannot read it: {e}"))),
		};
		let counters = match text {
			None => Counters::new(),
			Some(text) => {
				use base64::Engine;
				use crypto_secretbox::{aead::Aead, KeyInit, XSalsa20Poly1305};
				let j: CounterJson = serde_json::from_str(&text)
					.map_err(|e| bad(format!("not a counter file: {e}")))?;
				if j.kind != COUNTER_KIND || j.version != 2 {
					return Err(bad(format!(
						"kind {:?} version {}, expected {COUNTER_KIND:?} 2",
						j.kind, j.version
					)));
				}
				if j.account != keys.ss58() {
					return Err(bad(format!(
						"the counters of {}, not of this key ({})",
						j.account,
						keys.ss58()
					)));
				}
				let raw = base64::engine::general_purpose::STANDARD
					.decode(&j.sealed)
					.map_err(|e| bad(format!("field `sealed` is not base64: {e}")))?;
				if raw.len() < 24 {
					return Err(bad("field `sealed` is too short".into()));
				}
				let plain = Zeroizing::new(
					XSalsa20Poly1305::new(key.as_ref().into())
						.decrypt(raw[..24].into(), &raw[24..])
						.map_err(|_| {
							bad("field `sealed` does not open with this key (altered?)".into())
						})?,
				);
				let map: std::collections::BTreeMap<String, u64> =
					serde_json::from_slice(&plain)
						.map_err(|e| bad(format!("the sealed counters: {e}")))?;
				let entries = map
					.into_iter()
					.map(|(w, c)| {
						Keyword::parse(&w)
							.map(|w| (w, c))
							.map_err(|e| bad(format!("keyword {w:?}: {e}")))
					})
					.collect::<Result<Vec<_>>>()?;
				Counters::from_entries(entries)
			}
		};
		Ok(CounterFile { path, account: keys.account(), key, counters, _lock: lock })
	}

	/// Its path.
	pub fn path(&self) -> &Path {
		&self.path
	}

	/// The counters.
	pub fn counters(&self) -> &Counters {
		&self.counters
	}

	/// The next counter of each of `keywords`, looking up on the index (through `present`)
	/// those the file has no counter for, and saving them.
	pub fn counts(
		&mut self,
		key: &IndexKey,
		keywords: &[Keyword],
		present: impl FnMut(&[Label]) -> Result<Vec<bool>>,
	) -> Result<Vec<u64>> {
		if self.learn(key, keywords, present)? {
			self.save()?;
		}
		Ok(keywords.iter().map(|w| self.counters.next(w)).collect())
	}

	/// Sets the counters of `keywords` the file does not know from the index; true if any.
	fn learn(
		&mut self,
		key: &IndexKey,
		keywords: &[Keyword],
		mut present: impl FnMut(&[Label]) -> Result<Vec<bool>>,
	) -> Result<bool> {
		let mut learned = false;
		for w in keywords {
			if !self.counters.knows(w) {
				let next = next_counter(key, w, &mut present)?;
				self.counters.set(w.clone(), next);
				learned = true;
			}
		}
		Ok(learned)
	}

	/// The labels of a record's keywords, in order, advancing the counters and saving them
	/// before anything is sent (see the module documentation). A keyword without a counter
	/// here (new, or the file was lost) is first looked for in the index through `present`
	/// ([`next_counter`]), so labels of records anchored before are never used again.
	pub fn take_labels(
		&mut self,
		key: &IndexKey,
		keywords: &[Keyword],
		present: impl FnMut(&[Label]) -> Result<Vec<bool>>,
	) -> Result<Vec<Label>> {
		// One write: what was learned and the labels taken, before anything is sent.
		self.learn(key, keywords, present)?;
		let labels = self.counters.take_labels(key, keywords);
		self.save()?;
		Ok(labels)
	}

	/// Puts the counters back to `before` (the confirmation failed in its block) and saves
	/// them.
	pub fn restore(&mut self, before: Counters) -> Result<()> {
		self.counters = before;
		self.save()
	}

	/// Writes the file atomically, mode 0600, the counters sealed under the patient's key.
	pub fn save(&self) -> Result<()> {
		use base64::Engine;
		use crypto_secretbox::{
			aead::{Aead, AeadCore, OsRng},
			KeyInit, XSalsa20Poly1305,
		};
		use sp_core::crypto::Ss58Codec;
		use std::io::Write;
		let map: std::collections::BTreeMap<String, u64> =
			self.counters.entries().map(|(w, c)| (w.to_string(), c)).collect();
		let plain = Zeroizing::new(serde_json::to_vec(&map).expect("plain JSON"));
		let nonce = XSalsa20Poly1305::generate_nonce(&mut OsRng);
		let sealed =
			XSalsa20Poly1305::new(self.key.as_ref().into()).encrypt(&nonce, &plain[..]).map_err(
				|_| Error::invalid(self.path.display().to_string(), "sealing the counters failed"),
			)?;
		let mut raw = nonce.to_vec();
		raw.extend_from_slice(&sealed);
		let j = CounterJson {
			kind: COUNTER_KIND.into(),
			version: 2,
			account: self.account.to_ss58check(),
			sealed: base64::engine::general_purpose::STANDARD.encode(&raw),
		};
		let text = serde_json::to_string_pretty(&j).expect("plain JSON");
		let tmp = self.path.with_extension("tmp");
		let fail = |e: std::io::Error| {
			Error::invalid(
				self.path.display().to_string(),
				format!("{}: cannot write it: {e}", self.path.display()),
			)
		};
		let mut options = std::fs::OpenOptions::new();
		options.write(true).create(true).truncate(true);
		#[cfg(unix)]
		{
			use std::os::unix::fs::OpenOptionsExt;
			options.mode(0o600);
		}
		let mut f = options.open(&tmp).map_err(fail)?;
		f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(fail)?;
		std::fs::rename(&tmp, &self.path).map_err(fail)
	}
}

/// The next counter of `keyword` in `key`'s index, found by walking its labels through
/// `present` (a batch of labels to whether each is in the index) until [`MISS_LIMIT`]
/// consecutive ones are missing: one past the last present label. At most
/// [`MAX_SEARCH_LABELS`] labels are walked.
pub fn next_counter(
	key: &IndexKey,
	keyword: &Keyword,
	mut present: impl FnMut(&[Label]) -> Result<Vec<bool>>,
) -> Result<u64> {
	let token = key.token(keyword);
	let (mut next, mut misses, mut counter) = (0u64, 0u64, 0u64);
	while misses < MISS_LIMIT {
		if counter >= MAX_SEARCH_LABELS {
			return Err(Error::invalid(
				"index",
				format!("more than {MAX_SEARCH_LABELS} labels of one keyword in the index"),
			));
		}
		let labels: Vec<Label> =
			(counter..counter + LOOKUP_BATCH as u64).map(|c| token.label(c)).collect();
		let answer = present(&labels)?;
		if answer.len() != labels.len() {
			return Err(Error::invalid(
				"index",
				format!("the index answered {} of {} labels looked up", answer.len(), labels.len()),
			));
		}
		for (i, hit) in answer.into_iter().enumerate() {
			if hit {
				next = counter + i as u64 + 1;
				misses = 0;
			} else {
				misses += 1;
				if misses >= MISS_LIMIT {
					break;
				}
			}
		}
		counter += LOOKUP_BATCH as u64;
	}
	Ok(next)
}

/// [`next_counter`]'s lookups on the consortium's index of `patient` (`AnchorApi_lookup_labels`).
pub fn consortium_lookup<'a>(
	consortium: &'a Client,
	patient: &AccountId,
	at: Option<H256>,
) -> impl FnMut(&[Label]) -> Result<Vec<bool>> + 'a {
	let patient = patient.clone();
	move |labels| {
		Ok(queries::anchor::lookup_labels(consortium, &patient, labels, at)?
			.into_iter()
			.map(|s| !s.is_empty())
			.collect())
	}
}

/// True if the consortium's runtime indexes labelled items (its `AnchorApi` is at version 2
/// or later).
pub fn consortium_indexes(consortium: &Client) -> Result<bool> {
	Ok(consortium.runtime_api_version("AnchorApi")?.is_some_and(|v| v >= 2))
}

/// The first spec version whose `slips.confirm_slip_indexed` exists.
pub const FIRST_INDEXING_SPEC: u32 = 107;

/// True if the private chain takes indexed confirmations (spec [`FIRST_INDEXING_SPEC`] or
/// later) and its consortium indexes them: only then does a patient confirm with labels.
pub fn can_label(private: &Client, consortium: &Client) -> Result<bool> {
	Ok(private.runtime_version()?.1 >= FIRST_INDEXING_SPEC && consortium_indexes(consortium)?)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn kw(code: &str) -> Keyword {
		Keyword::from_coding("http://hl7.org/fhir/sid/icd-10", code).unwrap()
	}

	#[test]
	fn a_permission_opens_only_with_its_proxys_key_and_round_trips() {
		let patient = ParticipantKeys::from_seed([1; 32]);
		let proxy = ParticipantKeys::from_seed([2; 32]);
		let other = ParticipantKeys::from_seed([3; 32]);
		let kws: Vec<(Keyword, u64)> = (0..7).map(|i| (kw(&format!("E1{i}")), 10 + i)).collect();
		let p = SearchPermission::new(
			&patient,
			&proxy.record_key().public_key(),
			&kws,
			Some(vec![9; 5]),
		)
		.unwrap();
		assert_eq!(p.sealed_tokens.len(), 3);
		let bytes = p.to_bytes();
		let back = SearchPermission::from_bytes(&bytes).unwrap().unwrap();
		assert_eq!(back, p);
		let walks = back.open_tokens(&proxy.record_key()).unwrap();
		let key = patient.index_key();
		assert_eq!(
			walks,
			kws.iter().map(|(w, c)| Walk { token: key.token(w), count: *c }).collect::<Vec<_>>()
		);
		assert!(back.open_tokens(&other.record_key()).is_err());
		// Not a permission: a trapdoor of an older client; or a damaged one.
		assert_eq!(SearchPermission::from_bytes(&[0xAB; 40]), Ok(None));
		assert!(SearchPermission::from_bytes(&bytes[..bytes.len() - 1]).is_err());
		let pk = proxy.record_key().public_key();
		assert!(SearchPermission::new(&patient, &pk, &[], None).is_err());
		// Counters beyond what a search may walk are refused when opened (anyone can seal
		// a permission to the proxy's public key); a keyword twice walks once.
		let huge =
			SearchPermission::new(&patient, &pk, &[(kw("E11"), MAX_SEARCH_LABELS + 1)], None)
				.unwrap();
		assert!(huge.open_tokens(&proxy.record_key()).unwrap_err().contains("at most"));
		let twice =
			SearchPermission::new(&patient, &pk, &[(kw("E11"), 3), (kw("E11"), 5)], None).unwrap();
		assert_eq!(twice.open_tokens(&proxy.record_key()).unwrap().len(), 1);
	}

	#[test]
	fn counters_are_kept_sealed_beside_the_key_file_for_their_owner_only() {
		let dir = tempfile::tempdir().unwrap();
		let key_path = dir.path().join("patient.json");
		let keys = ParticipantKeys::from_seed([4; 32]);
		let nothing = |ls: &[Label]| Ok(vec![false; ls.len()]);
		let before;
		{
			let mut file = CounterFile::open(&key_path, &keys).unwrap();
			assert_eq!(file.path(), dir.path().join("patient.json.index.json"));
			before = file.counters().clone();
			let labels =
				file.take_labels(&keys.index_key(), &[kw("I10"), kw("I10")], nothing).unwrap();
			assert_ne!(labels[0], labels[1]);
			#[cfg(unix)]
			{
				use std::os::unix::fs::PermissionsExt;
				assert_eq!(
					std::fs::metadata(file.path()).unwrap().permissions().mode() & 0o777,
					0o600
				);
			}
			// The file does not name the keywords.
			let text = std::fs::read_to_string(file.path()).unwrap();
			assert!(!text.contains("I10"), "{text}");
		}
		let mut file = CounterFile::open(&key_path, &keys).unwrap();
		assert_eq!(file.counters().next(&kw("I10")), 2);
		file.restore(before).unwrap();
		drop(file);
		assert_eq!(CounterFile::open(&key_path, &keys).unwrap().counters().next(&kw("I10")), 0);
		let other = ParticipantKeys::from_seed([5; 32]);
		let err = CounterFile::open(&key_path, &other).err().unwrap().to_string();
		assert!(
			err.contains("patient.json.index.json") && err.contains("not of this key"),
			"{err}"
		);
	}

	#[test]
	fn a_lost_counter_file_is_rebuilt_from_the_index_without_reusing_a_label() {
		let dir = tempfile::tempdir().unwrap();
		let key_path = dir.path().join("p.json");
		let keys = ParticipantKeys::from_seed([7; 32]);
		let key = keys.index_key();
		// 70 records with E11 were indexed (counters 0..70, 30 missing: a failed one), and
		// then the device and its counter file were lost.
		let mut index = std::collections::HashSet::new();
		let mut counters = Counters::new();
		for c in 0..70u64 {
			let label = counters.take_labels(&key, &[kw("E11")])[0];
			if c != 30 {
				index.insert(label);
			}
		}
		let mut lookups = 0;
		let present = |ls: &[Label]| {
			lookups += 1;
			Ok(ls.iter().map(|l| index.contains(l)).collect())
		};
		let mut file = CounterFile::open(&key_path, &keys).unwrap();
		let labels = file.take_labels(&key, &[kw("E11"), kw("I10")], present).unwrap();
		// E11 goes on at 70 (two batches looked up), I10 starts at 0 (one batch).
		assert_eq!(labels, vec![key.token(&kw("E11")).label(70), key.token(&kw("I10")).label(0)]);
		assert_eq!(lookups, 3);
		assert!(!index.contains(&labels[0]));
		// Known keywords are not looked up again.
		let fail = |_: &[Label]| -> Result<Vec<bool>> { Err(Error::invalid("x", "no lookup")) };
		assert_eq!(
			file.take_labels(&key, &[kw("E11")], fail).unwrap(),
			vec![key.token(&kw("E11")).label(71)]
		);
		// An index that answers fewer labels than asked (or every label) does not loop.
		let short = |ls: &[Label]| Ok(vec![true; ls.len() - 1]);
		assert!(next_counter(&key, &kw("Z00"), short).is_err());
		let all = |ls: &[Label]| Ok(vec![true; ls.len()]);
		assert!(next_counter(&key, &kw("Z00"), all).unwrap_err().to_string().contains("more than"));
	}

	#[test]
	fn find_walks_exactly_the_patients_labels_and_keeps_records_matching_every_keyword_once() {
		let keys = ParticipantKeys::from_seed([6; 32]);
		let key = keys.index_key();
		let mut counters = Counters::new();
		let mut index: std::collections::HashMap<Label, Vec<(u32, u64)>> = Default::default();
		// Record r = (chain 1, slip r): E11 on every record, I10 on even ones (twice on 0);
		// the label of E11's 5th record is missing (a chain that never anchored it): later
		// ones are still found.
		for r in 0u64..40 {
			let mut kws = vec![kw("E11")];
			if r % 2 == 0 {
				kws.push(kw("I10"));
			}
			if r == 0 {
				kws.push(kw("I10"));
			}
			for (i, l) in counters.take_labels(&key, &kws).into_iter().enumerate() {
				if !(r == 5 && i == 0) {
					index.entry(l).or_default().push((1u32, r));
				}
			}
		}
		let walk = |w: &str| Walk { token: key.token(&kw(w)), count: counters.next(&kw(w)) };
		let asked = std::cell::RefCell::new(Vec::new());
		let mut lookup = |ls: &[Label]| {
			asked.borrow_mut().push(ls.len());
			Ok(ls.iter().map(|l| index.get(l).cloned().unwrap_or_default()).collect())
		};
		let (both, looked_up) = find(&[walk("E11"), walk("I10")], |s| *s, &mut lookup).unwrap();
		assert_eq!(both, (0..40).step_by(2).map(|r| (1, r)).collect::<Vec<_>>());
		// I10 (21 labels) first, then E11 (40): every label made, then MISS_LIMIT more each
		// for records confirmed since.
		assert_eq!(looked_up, 21 + 16 + 40 + 16);
		assert_eq!(*asked.borrow(), vec![21, 16, 40, 16]);
		let (e11, _) = find(&[walk("E11")], |s| *s, &mut lookup).unwrap();
		assert_eq!(e11.len(), 39);
		// A permission made when E11 had 30 labels finds the 9 records confirmed after it.
		let early = Walk { token: key.token(&kw("E11")), count: 30 };
		let (later, _) = find(&[early], |s| *s, &mut lookup).unwrap();
		assert_eq!(later.len(), 39);
		// An unknown keyword ends the search after MISS_LIMIT labels.
		let none = Walk { token: key.token(&kw("Z99")), count: 0 };
		let (nothing, n) = find(&[none, walk("E11")], |s| *s, &mut lookup).unwrap();
		assert!(nothing.is_empty());
		assert_eq!(n, MISS_LIMIT);
		// A short answer is an error, not a wrong result.
		let short = |ls: &[Label]| Ok(vec![Vec::<(u32, u64)>::new(); ls.len() - 1]);
		assert!(find(&[walk("E11")], |s| *s, short).is_err());
	}
}
