//! Searchable symmetric encryption of a patient's keyword index: the basic scheme Π_bas of
//! D. Cash, J. Jaeger, S. Jarecki, C. Jutla, H. Krawczyk, M.-C. Roşu, M. Steiner, "Dynamic
//! Searchable Encryption in Very-Large Databases: Data Structures and Implementation",
//! NDSS 2014 (§3, Figure 2), with the per-keyword counters of its dynamic variant (§4).
//!
//! A search with designated-tester PEKS ([`crate::peks`]) tests every ciphertext of a patient
//! with a pairing: its cost grows with the patient's records. Here the patient, who checks
//! every record's keywords before confirming it and is the only one who issues search
//! permissions, keeps one index key `K` ([`IndexKey`], derived from the participant's seed):
//!
//! - for keyword `w`, the search token is `t_w = HMAC-SHA256(K, 0x01 || w)`
//!   ([`IndexKey::token`]; Π_bas's `K1 = F(K, 1 || w)`);
//! - the `c`-th record with `w` (counter `c` from 0, per keyword) is stored under the label
//!   `ℓ = HMAC-SHA256(t_w, c as u64 little-endian)` ([`SearchToken::label`]); the value
//!   stored under it names the record;
//! - to search, the holder of `t_w` computes labels for `c = 0, 1, ...` and looks each up
//!   ([`search`]) until it misses: the work is one HMAC and one lookup per match (plus the
//!   misses that end the walk), whatever the number of the patient's records. A conjunction
//!   intersects the matches of each keyword ([`search_all`]).
//!
//! In Π_bas the value is encrypted under `K2 = F(K, 2 || w)`; here the consortium already
//! stores which records a patient has in clear (each anchored summary names its record), so
//! an encrypted value would hide nothing, and the value is the record's reference.
//!
//! Leakage (what the party holding the index learns): at set-up, the number of entries per
//! patient (today's number of summary items); per search, the search pattern (equal tokens
//! for equal keywords) and the access pattern (which entries match each keyword, and for a
//! conjunction each keyword's matches, as with today's conjunctive PEKS search). No forward
//! privacy: a token also finds entries added later, as a PEKS trapdoor does. Keyword
//! guessing: without `K` nobody can compute a token or a label, so the index holder (the
//! proxy) cannot test guesses against the index — strictly less than PEKS, whose designated
//! tester can encrypt a guessed keyword and test it against a trapdoor.
//!
//! Counters are client state ([`Counters`]); a lost state is rebuilt by probing labels on the
//! index ([`Counters::recover`]).

use crate::{fhir::Keyword, keys::KeySeed};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// Length of a label and of a token.
pub const LABEL_LEN: usize = 32;

/// A label of the index: where one (keyword, counter) entry is stored.
pub type Label = [u8; LABEL_LEN];

/// How many consecutive missing labels end a walk: entries of one keyword may reach the index
/// out of counter order (records confirmed on several chains are anchored at different
/// times), so one gap does not mean the end.
pub const DEFAULT_MISS_LIMIT: u64 = 16;

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
	let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
	for p in parts {
		mac.update(p);
	}
	mac.finalize().into_bytes().into()
}

/// A patient's index key `K`: derived from the participant's seed, never leaves the patient.
pub struct IndexKey(Zeroizing<[u8; 32]>);

impl IndexKey {
	/// The index key of the participant with `seed`.
	pub fn from_seed(seed: &KeySeed) -> IndexKey {
		let wide = seed.derive_wide(b"mbds-sse-index-v1");
		let mut k = Zeroizing::new([0u8; 32]);
		k.copy_from_slice(&wide[..32]);
		IndexKey(k)
	}

	/// The search token of `keyword`: what a searcher needs to find the patient's records with
	/// it, and nothing about any other keyword.
	pub fn token(&self, keyword: &Keyword) -> SearchToken {
		SearchToken(hmac(&self.0[..], &[&[0x01], keyword.as_str().as_bytes()]))
	}
}

/// The search token of one keyword (`t_w`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SearchToken([u8; 32]);

impl core::fmt::Debug for SearchToken {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.write_str("SearchToken(..)")
	}
}

impl SearchToken {
	/// The token from its 32 bytes (as sent to a searcher).
	pub fn from_bytes(bytes: [u8; 32]) -> SearchToken {
		SearchToken(bytes)
	}

	/// Its 32 bytes.
	pub fn to_bytes(&self) -> [u8; 32] {
		self.0
	}

	/// The label of the `counter`-th entry of this keyword.
	pub fn label(&self, counter: u64) -> Label {
		hmac(&self.0, &[&counter.to_le_bytes()])
	}
}

/// The references stored under the labels of `token`, in counter order: labels `0, 1, ...`
/// are looked up with `lookup` until `miss_limit` consecutive ones are missing.
pub fn search<R>(
	token: &SearchToken,
	miss_limit: u64,
	mut lookup: impl FnMut(&Label) -> Option<R>,
) -> Vec<R> {
	let mut found = Vec::new();
	let (mut counter, mut misses) = (0u64, 0u64);
	while misses < miss_limit.max(1) {
		match lookup(&token.label(counter)) {
			Some(r) => {
				found.push(r);
				misses = 0;
			}
			None => misses += 1,
		}
		counter += 1;
	}
	found
}

/// The references found for every token (a conjunction): the intersection of each token's
/// [`search`], in the first token's order. Each token's walk costs its own matches.
pub fn search_all<R: Ord + Clone>(
	tokens: &[SearchToken],
	miss_limit: u64,
	mut lookup: impl FnMut(&Label) -> Option<R>,
) -> Vec<R> {
	let Some((first, rest)) = tokens.split_first() else { return Vec::new() };
	let mut result = search(first, miss_limit, &mut lookup);
	for t in rest {
		let these: BTreeSet<R> = search(t, miss_limit, &mut lookup).into_iter().collect();
		result.retain(|r| these.contains(r));
	}
	result
}

/// The patient's next counter per keyword: the labels the next record's keywords get.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters(BTreeMap<Keyword, u64>);

impl Counters {
	/// No entries yet.
	pub fn new() -> Counters {
		Counters::default()
	}

	/// The labels of a new record with `keywords` (each keyword once), taking the next counter
	/// of each: call [`Counters::commit`] with the same keywords once the record's entries are
	/// final, so a failed confirmation does not leave a gap.
	pub fn labels_for(&self, key: &IndexKey, keywords: &[Keyword]) -> Vec<Label> {
		let unique: BTreeSet<&Keyword> = keywords.iter().collect();
		unique
			.into_iter()
			.map(|w| key.token(w).label(self.0.get(w).copied().unwrap_or(0)))
			.collect()
	}

	/// The labels of a record's keywords in their order, one per keyword, advancing the
	/// counters as it goes (a keyword given twice takes two counters): the labels of a slip's
	/// summary items. Taking them before the record's entries exist means a failure leaves a
	/// gap, which a search walks over, never a label used twice.
	pub fn take_labels(&mut self, key: &IndexKey, keywords: &[Keyword]) -> Vec<Label> {
		keywords
			.iter()
			.map(|w| {
				let c = self.0.entry(w.clone()).or_insert(0);
				let label = key.token(w).label(*c);
				*c += 1;
				label
			})
			.collect()
	}

	/// Every keyword with its next counter.
	pub fn entries(&self) -> impl Iterator<Item = (&Keyword, u64)> {
		self.0.iter().map(|(w, c)| (w, *c))
	}

	/// Counters from [`Counters::entries`] (a saved state).
	pub fn from_entries(entries: impl IntoIterator<Item = (Keyword, u64)>) -> Counters {
		Counters(entries.into_iter().collect())
	}

	/// True if `keyword` has a counter here (its next label is known, not assumed 0).
	pub fn knows(&self, keyword: &Keyword) -> bool {
		self.0.contains_key(keyword)
	}

	/// Sets the next counter of `keyword`.
	pub fn set(&mut self, keyword: Keyword, next: u64) {
		self.0.insert(keyword, next);
	}

	/// Advances the counters of `keywords` (each once).
	pub fn commit(&mut self, keywords: &[Keyword]) {
		let unique: BTreeSet<&Keyword> = keywords.iter().collect();
		for w in unique {
			*self.0.entry(w.clone()).or_insert(0) += 1;
		}
	}

	/// The next counter of `keyword`.
	pub fn next(&self, keyword: &Keyword) -> u64 {
		self.0.get(keyword).copied().unwrap_or(0)
	}

	/// Rebuilds the counters of `keywords` from the index: for each, one past the last label
	/// present before `miss_limit` consecutive missing ones.
	pub fn recover(
		key: &IndexKey,
		keywords: &[Keyword],
		miss_limit: u64,
		mut present: impl FnMut(&Label) -> bool,
	) -> Counters {
		let mut counters = Counters::new();
		for w in keywords {
			let token = key.token(w);
			let (mut counter, mut misses, mut next) = (0u64, 0u64, 0u64);
			while misses < miss_limit.max(1) {
				if present(&token.label(counter)) {
					next = counter + 1;
					misses = 0;
				} else {
					misses += 1;
				}
				counter += 1;
			}
			if next > 0 {
				counters.0.insert(w.clone(), next);
			}
		}
		counters
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::collections::HashMap;

	fn kw(code: &str) -> Keyword {
		Keyword::from_coding("http://hl7.org/fhir/sid/icd-10", code).expect("a valid code")
	}

	/// An index as the consortium would keep it: label -> record number.
	fn index_of(key: &IndexKey, records: &[Vec<Keyword>]) -> (HashMap<Label, usize>, Counters) {
		let mut counters = Counters::new();
		let mut index = HashMap::new();
		for (i, keywords) in records.iter().enumerate() {
			for label in counters.labels_for(key, keywords) {
				assert!(index.insert(label, i).is_none(), "labels never repeat");
			}
			counters.commit(keywords);
		}
		(index, counters)
	}

	#[test]
	fn a_search_finds_exactly_the_records_with_the_keyword() {
		let key = IndexKey::from_seed(&KeySeed::from_bytes([7; 32]));
		let records: Vec<Vec<Keyword>> = (0..200)
			.map(|i| {
				let mut k = vec![kw(&format!("A{:02}", i % 10))];
				if i % 3 == 0 {
					k.push(kw("E11.9"));
				}
				k
			})
			.collect();
		let (index, counters) = index_of(&key, &records);
		let found = search(&key.token(&kw("E11.9")), DEFAULT_MISS_LIMIT, |l| index.get(l).copied());
		let expected: Vec<usize> = (0..200).filter(|i| i % 3 == 0).collect();
		assert_eq!(found, expected);
		assert_eq!(counters.next(&kw("E11.9")), expected.len() as u64);
		// A keyword no record has finds nothing, after DEFAULT_MISS_LIMIT lookups.
		let mut lookups = 0;
		let none = search(&key.token(&kw("Z99")), DEFAULT_MISS_LIMIT, |l| {
			lookups += 1;
			index.get(l).copied()
		});
		assert!(none.is_empty());
		assert_eq!(lookups, DEFAULT_MISS_LIMIT);
	}

	#[test]
	fn the_work_of_a_search_grows_with_its_matches_not_with_the_patients_records() {
		let key = IndexKey::from_seed(&KeySeed::from_bytes([1; 32]));
		for total in [100, 1_000, 10_000] {
			let records: Vec<Vec<Keyword>> = (0..total)
				.map(|i| if i % (total / 50) == 0 { vec![kw("I10")] } else { vec![kw("J45")] })
				.collect();
			let (index, _) = index_of(&key, &records);
			let mut lookups = 0u64;
			let found = search(&key.token(&kw("I10")), DEFAULT_MISS_LIMIT, |l| {
				lookups += 1;
				index.get(l).copied()
			});
			assert_eq!(found.len(), 50);
			assert_eq!(lookups, 50 + DEFAULT_MISS_LIMIT, "{total} records");
		}
	}

	#[test]
	fn labels_are_taken_per_keyword_occurrence_and_counters_round_trip() {
		let key = IndexKey::from_seed(&KeySeed::from_bytes([9; 32]));
		let (e11, i10) = (kw("E11.9"), kw("I10"));
		let mut counters = Counters::new();
		let mut index = HashMap::new();
		// Record 0 names E11.9 twice (two counters), then 150 records alternate.
		for (label, n) in counters
			.take_labels(&key, &[e11.clone(), i10.clone(), e11.clone()])
			.into_iter()
			.zip([0, 0, 0])
		{
			assert!(index.insert(label, n).is_none());
		}
		for n in 1..=150usize {
			let w = if n % 2 == 0 { e11.clone() } else { i10.clone() };
			for label in counters.take_labels(&key, &[w]) {
				assert!(index.insert(label, n).is_none(), "labels never repeat");
			}
		}
		assert_eq!(counters.next(&e11), 2 + 75);
		let saved: Vec<(Keyword, u64)> = counters.entries().map(|(w, c)| (w.clone(), c)).collect();
		assert_eq!(Counters::from_entries(saved), counters);
		let found = search(&key.token(&e11), DEFAULT_MISS_LIMIT, |l| index.get(l).copied());
		assert_eq!(found.len(), 77);
	}

	#[test]
	fn a_conjunction_is_the_intersection_and_order_is_kept() {
		let key = IndexKey::from_seed(&KeySeed::from_bytes([3; 32]));
		let records = vec![
			vec![kw("E11.9"), kw("I10")],
			vec![kw("E11.9")],
			vec![kw("I10")],
			vec![kw("I10"), kw("E11.9"), kw("E11.9")],
		];
		let (index, counters) = index_of(&key, &records);
		let both = search_all(
			&[key.token(&kw("E11.9")), key.token(&kw("I10"))],
			DEFAULT_MISS_LIMIT,
			|l| index.get(l).copied(),
		);
		assert_eq!(both, vec![0, 3]);
		// A keyword repeated in one record takes one counter.
		assert_eq!(counters.next(&kw("E11.9")), 3);
		assert!(search_all(&[], DEFAULT_MISS_LIMIT, |l| index.get(l).copied()).is_empty());
	}

	#[test]
	fn tokens_and_labels_depend_on_the_patients_key_and_reveal_nothing_shared() {
		let a = IndexKey::from_seed(&KeySeed::from_bytes([1; 32]));
		let b = IndexKey::from_seed(&KeySeed::from_bytes([2; 32]));
		let w = kw("E11.9");
		assert_eq!(a.token(&w), a.token(&w), "deterministic");
		assert_ne!(a.token(&w), b.token(&w), "another patient's token differs");
		assert_ne!(a.token(&w), a.token(&kw("E11.8")));
		let t = a.token(&w);
		assert_ne!(t.label(0), t.label(1));
		// Another patient's records with the same keyword are not found with a's token.
		let (index_b, _) = index_of(&b, &[vec![w.clone()]]);
		assert!(search(&t, DEFAULT_MISS_LIMIT, |l| index_b.get(l).copied()).is_empty());
		// The index key differs from the seed's other keys' material.
		let seed = KeySeed::from_bytes([1; 32]);
		assert_ne!(&a.0[..], &seed.derive_wide(b"mbds-sse-index-v2")[..32]);
	}

	#[test]
	fn entries_anchored_out_of_order_are_found_and_lost_counters_are_recovered() {
		let key = IndexKey::from_seed(&KeySeed::from_bytes([9; 32]));
		let records: Vec<Vec<Keyword>> = (0..40).map(|_| vec![kw("E11.9")]).collect();
		let (mut index, counters) = index_of(&key, &records);
		// Entries 20..=24 not anchored yet (another chain is late): the walk goes past the gap.
		let token = key.token(&kw("E11.9"));
		let late: Vec<(Label, usize)> =
			(20..25).map(|c| (token.label(c), index.remove(&token.label(c)).unwrap())).collect();
		let found = search(&token, DEFAULT_MISS_LIMIT, |l| index.get(l).copied());
		assert_eq!(found.len(), 35);
		assert!(found.contains(&39));
		index.extend(late);
		// A device that lost its counters rebuilds them from the index.
		let recovered =
			Counters::recover(&key, &[kw("E11.9"), kw("I10")], DEFAULT_MISS_LIMIT, |l| {
				index.contains_key(l)
			});
		assert_eq!(recovered, counters);
	}
}
