//! Keyword search over one patient's N summaries with M matches: the searchable index of
//! [`mbds_crypto::sse`] (an HMAC and a lookup per match) against today's designated-tester PEKS
//! search (a pairing per summary), and one raw BLS12-381 pairing, measured in the same run.
//! N in {100, 1,000, 10,000}, M in {1, 50, 500}. The index is an in-memory map here (label ->
//! record), as the consortium's storage would hold it; the chain's lookup cost is not in
//! these figures. `cargo run --release -p mbds-crypto --example search_figures`.

use mbds_crypto::peks::{baseline_pairing, random_pairing_inputs};
use mbds_crypto::sse::{search, IndexKey, Label, DEFAULT_MISS_LIMIT};
use mbds_crypto::*;
use rayon::prelude::*;
use std::collections::HashMap;
mod common;

use common::median;

fn main() {
	let (p, q) = random_pairing_inputs();
	let pairing = median(101, || baseline_pairing(&p, &q));
	let threads = rayon::current_num_threads();
	println!("raw pairing: {pairing:.3?} (baseline); {threads} threads");

	let seed = KeySeed::generate();
	let index_key = IndexKey::from_seed(&seed);
	let patient = PatientKeys::generate();
	let proxy = TesterSecretKey::generate();
	let (kpk, tpk) = (patient.peks.public_key(), proxy.public_key());
	let kw = Keyword::parse("icd-10|E11.9").unwrap();
	let other = Keyword::parse("icd-10|I10").unwrap();
	let prepared = proxy.prepare(&patient.peks.trapdoor(&tpk, &kw));

	println!(
		"\n| summaries N | matches M | SSE search | SSE / pairing | dPEKS search ({threads} threads) | dPEKS / pairing | dPEKS / SSE |"
	);
	println!("|---|---|---|---|---|---|---|");
	for n in [100usize, 1_000, 10_000] {
		// dPEKS: one ciphertext per summary; its search tests all N whatever M.
		let cts: Vec<_> = (0..n)
			.into_par_iter()
			.map(|i| EncryptedKeyword::encrypt(&kpk, &tpk, if i % 100 == 0 { &kw } else { &other }))
			.collect();
		let peks = median(if n >= 10_000 { 3 } else { 7 }, || prepared.search(&cts));
		for m in [1usize, 50, 500] {
			if m > n {
				println!("| {n} | {m} | - | - | - | - | - |");
				continue;
			}
			// The index: M entries of the keyword, N - M of another, counters per keyword.
			let mut index: HashMap<Label, usize> = HashMap::with_capacity(n);
			let (tw, to) = (index_key.token(&kw), index_key.token(&other));
			for i in 0..n {
				let label = if i < m { tw.label(i as u64) } else { to.label((i - m) as u64) };
				index.insert(label, i);
			}
			let sse = median(101, || {
				let found = search(&tw, DEFAULT_MISS_LIMIT, |l| index.get(l).copied());
				assert_eq!(found.len(), m);
				found
			});
			println!(
				"| {n} | {m} | {sse:.3?} | {:.3} | {peks:.3?} | {:.1} | {:.0} |",
				sse.as_secs_f64() / pairing.as_secs_f64(),
				peks.as_secs_f64() / pairing.as_secs_f64(),
				peks.as_secs_f64() / sse.as_secs_f64()
			);
		}
	}
	println!(
		"\nSSE: one HMAC-SHA256 and one lookup per match, plus {DEFAULT_MISS_LIMIT} misses ending the walk;\n\
		 dPEKS: one pairing per summary (N), whatever M."
	);
}
