//! Prints the cost of each MBDS crypto operation and its ratio to one raw BLS12-381 pairing
//! measured in the same run. `nice -n 15 cargo run --release -p mbds-crypto --example figures`
//! (figures from a shared machine are approximate; criterion benches give confidence intervals).

mod common;

use common::median;
use std::time::Duration;

use mbds_crypto::peks::{baseline_pairing, random_pairing_inputs};
use mbds_crypto::*;
use rayon::prelude::*;

fn main() {
	let patient = PatientKeys::generate();
	let grantee = PreSecretKey::from_seed(&KeySeed::generate());
	let proxy = TesterSecretKey::generate();
	let (ppk, gpk, vk) =
		(patient.pre.public_key(), grantee.public_key(), patient.signing.verifying_key());
	let (kpk, tpk) = (patient.peks.public_key(), proxy.public_key());
	let kw = Keyword::parse("icd-10|E11.9").unwrap();
	let other = Keyword::parse("icd-10|I10").unwrap();

	let (p, q) = random_pairing_inputs();
	let pairing = median(201, || baseline_pairing(&p, &q));
	let mut rows: Vec<(String, Duration)> = vec![("raw pairing e(P,Q) (baseline)".into(), pairing)];

	for (name, size) in [("1 KiB", 1usize << 10), ("1 MiB", 1 << 20)] {
		let body = vec![0x5au8; size];
		rows.push((
			format!("envelope seal {name}"),
			median(31, || RecordEnvelope::seal(&ppk, b"r", 1, &body).unwrap()),
		));
		let env = RecordEnvelope::seal(&ppk, b"r", 1, &body).unwrap();
		rows.push((
			format!("envelope open {name}"),
			median(31, || env.open(&patient.pre).unwrap()),
		));
	}
	let env = RecordEnvelope::seal(&ppk, b"r", 1, &[1u8; 1024]).unwrap();
	rows.push((
		"PRE kfrag generation t=3 n=5".into(),
		median(31, || generate_key_fragments(&patient.pre, &patient.signing, &gpk, 3, 5).unwrap()),
	));
	let kfrags: Vec<_> = generate_key_fragments(&patient.pre, &patient.signing, &gpk, 3, 5)
		.unwrap()
		.into_iter()
		.map(|k| k.verify(&vk, &ppk, &gpk).unwrap())
		.collect();
	rows.push(("PRE re-encryption (1 proxy)".into(), median(51, || kfrags[0].reencrypt(&env))));
	let cfrags: Vec<_> = kfrags.iter().take(3).map(|k| k.reencrypt(&env)).collect();
	rows.push((
		"PRE cfrag verification".into(),
		median(51, || cfrags[0].clone().verify(&env, &vk, &gpk).unwrap()),
	));
	let verified: Vec<_> =
		cfrags.iter().map(|c| c.clone().verify(&env, &vk, &gpk).unwrap()).collect();
	rows.push((
		"PRE decryption, 3 cfrags, 1 KiB".into(),
		median(51, || env.open_reencrypted(&grantee, verified.clone()).unwrap()),
	));

	rows.push((
		"dPEKS keyword encryption".into(),
		median(51, || EncryptedKeyword::encrypt(&kpk, &tpk, &kw)),
	));
	rows.push(("dPEKS trapdoor".into(), median(51, || patient.peks.trapdoor(&tpk, &kw))));
	let td = patient.peks.trapdoor(&tpk, &kw);
	rows.push(("dPEKS trapdoor unmask+prepare (tester)".into(), median(51, || proxy.prepare(&td))));
	let prepared = proxy.prepare(&td);
	let hit = EncryptedKeyword::encrypt(&kpk, &tpk, &kw);
	rows.push(("dPEKS test (one ciphertext)".into(), median(201, || prepared.test(&hit))));

	let small: Vec<_> = (0..100)
		.map(|i| EncryptedKeyword::encrypt(&kpk, &tpk, if i % 10 == 0 { &kw } else { &other }))
		.collect();
	rows.push((
		"dPEKS search, one patient's 100 keywords".into(),
		median(21, || prepared.search(&small)),
	));

	let hit_bytes = hit.to_bytes();
	rows.push((
		"dPEKS decode+validate one ciphertext (ingest)".into(),
		median(201, || EncryptedKeyword::from_bytes(&hit_bytes).unwrap()),
	));

	// 10,000 by default; MBDS_FIGURES_N=1000 gives a quicker run on a busy machine.
	let n: usize =
		std::env::var("MBDS_FIGURES_N").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
	let threads = rayon::current_num_threads();
	let cts: Vec<_> = (0..n)
		.into_par_iter()
		.map(|i| EncryptedKeyword::encrypt(&kpk, &tpk, if i % 100 == 0 { &kw } else { &other }))
		.collect();
	let serialised: Vec<Vec<u8>> = cts.iter().map(|c| c.to_bytes()).collect();
	rows.push((
		format!("dPEKS decode+validate {n}, {threads} threads"),
		median(3, || EncryptedKeyword::decode_all(&serialised).unwrap()),
	));
	let search = median(3, || {
		let h = prepared.search(&cts);
		assert_eq!(h.len(), n.div_ceil(100));
		h
	});
	rows.push((format!("dPEKS search, {n} keywords, {threads} threads"), search));

	println!("{:<48} {:>12} {:>14}", "operation", "median", "x pairing");
	for (name, d) in rows {
		println!("{:<48} {:>12.3?} {:>14.2}", name, d, d.as_secs_f64() / pairing.as_secs_f64());
	}
	// The floor for any pairing-per-ciphertext test: n pairings shared by the threads.
	let bound = pairing.as_secs_f64() * n as f64 / threads as f64;
	let per_10k = search.as_secs_f64() * 10_000.0 / n as f64;
	println!(
		"\nlower bound n*t_pairing/threads = {n}*{:.3?}/{threads} = {bound:.2} s; \
		 search/bound = {:.2}; search scaled to 10,000 = {per_10k:.2} s (target 1 s)",
		pairing,
		search.as_secs_f64() / bound,
	);
	println!("machine: {threads} rayon threads, load average {}", load_average());
}

/// The 1-minute load average (Linux), to tell an idle run from a contended one.
fn load_average() -> String {
	std::fs::read_to_string("/proc/loadavg")
		.ok()
		.and_then(|s| s.split_whitespace().next().map(str::to_owned))
		.unwrap_or_else(|| "unknown".into())
}
