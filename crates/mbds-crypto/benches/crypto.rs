//! Criterion benchmarks of the MBDS cryptography. Run with
//! `nice -n 15 cargo bench -p mbds-crypto` (only keyword search: `... -- peks search`); `examples/figures.rs` prints the same operations
//! as a table with ratios against one raw pairing.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mbds_crypto::peks::{baseline_pairing, random_pairing_inputs};
use mbds_crypto::*;

fn envelope(c: &mut Criterion) {
	let patient = PatientKeys::generate();
	let pk = patient.pre.public_key();
	let mut g = c.benchmark_group("envelope");
	g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
	for (name, size) in [("1KiB", 1usize << 10), ("1MiB", 1 << 20)] {
		let body = vec![0x5au8; size];
		g.throughput(Throughput::Bytes(size as u64));
		g.bench_with_input(BenchmarkId::new("seal", name), &body, |b, body| {
			b.iter(|| RecordEnvelope::seal(&pk, b"slip", 1, black_box(body)).unwrap())
		});
		let env = RecordEnvelope::seal(&pk, b"slip", 1, &body).unwrap();
		g.bench_with_input(BenchmarkId::new("open", name), &env, |b, env| {
			b.iter(|| env.open(&patient.pre).unwrap())
		});
	}
	g.finish();
}

fn pre(c: &mut Criterion) {
	let patient = PatientKeys::generate();
	let grantee = PreSecretKey::from_seed(&KeySeed::generate());
	let (ppk, gpk, vk) =
		(patient.pre.public_key(), grantee.public_key(), patient.signing.verifying_key());
	let env = RecordEnvelope::seal(&ppk, b"slip", 1, &[7u8; 1024]).unwrap();
	let mut g = c.benchmark_group("pre");
	g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
	g.bench_function("generate_kfrags_t3_n5", |b| {
		b.iter(|| generate_key_fragments(&patient.pre, &patient.signing, &gpk, 3, 5).unwrap())
	});
	let kfrags: Vec<_> = generate_key_fragments(&patient.pre, &patient.signing, &gpk, 3, 5)
		.unwrap()
		.into_iter()
		.map(|k| k.verify(&vk, &ppk, &gpk).unwrap())
		.collect();
	g.bench_function("verify_kfrag", |b| {
		let k = kfrags[0].clone().unverify();
		b.iter(|| k.clone().verify(&vk, &ppk, &gpk).unwrap())
	});
	g.bench_function("reencrypt", |b| b.iter(|| kfrags[0].reencrypt(black_box(&env))));
	let cfrags: Vec<_> = kfrags.iter().take(3).map(|k| k.reencrypt(&env)).collect();
	g.bench_function("verify_cfrag", |b| {
		b.iter(|| cfrags[0].clone().verify(&env, &vk, &gpk).unwrap())
	});
	let verified: Vec<_> =
		cfrags.iter().map(|c| c.clone().verify(&env, &vk, &gpk).unwrap()).collect();
	g.bench_function("decrypt_reencrypted_t3_1KiB", |b| {
		b.iter(|| env.open_reencrypted(&grantee, verified.clone()).unwrap())
	});
	g.finish();
}

fn peks(c: &mut Criterion) {
	let patient = PatientKeys::generate();
	let proxy = TesterSecretKey::generate();
	let (ppk, tpk) = (patient.peks.public_key(), proxy.public_key());
	let kw = Keyword::parse("icd-10|E11.9").unwrap();
	let mut g = c.benchmark_group("peks");
	g.measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
	let (p, q) = random_pairing_inputs();
	g.bench_function("baseline_pairing", |b| {
		b.iter(|| baseline_pairing(black_box(&p), black_box(&q)))
	});
	g.bench_function("encrypt", |b| {
		b.iter(|| EncryptedKeyword::encrypt(&ppk, &tpk, black_box(&kw)))
	});
	g.bench_function("trapdoor", |b| b.iter(|| patient.peks.trapdoor(&tpk, black_box(&kw))));
	let td = patient.peks.trapdoor(&tpk, &kw);
	g.bench_function("prepare_trapdoor", |b| b.iter(|| proxy.prepare(black_box(&td))));
	let prepared = proxy.prepare(&td);
	let hit = EncryptedKeyword::encrypt(&ppk, &tpk, &kw);
	g.bench_function("test", |b| b.iter(|| prepared.test(black_box(&hit))));
	let hit_bytes = hit.to_bytes();
	g.bench_function("decode_validate", |b| {
		b.iter(|| EncryptedKeyword::from_bytes(black_box(&hit_bytes)).unwrap())
	});
	g.finish();

	let other = other_kw();
	// One patient's index: the search MBDS actually runs.
	let mut g = c.benchmark_group("search_patient");
	g.measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1)).sample_size(20);
	let small: Vec<_> = (0..100)
		.map(|i| EncryptedKeyword::encrypt(&ppk, &tpk, if i % 10 == 0 { &kw } else { &other }))
		.collect();
	g.throughput(Throughput::Elements(small.len() as u64));
	g.bench_function("100_keywords", |b| b.iter(|| prepared.search(black_box(&small))));
	g.finish();

	let mut g = c.benchmark_group("search");
	g.sample_size(10)
		.measurement_time(Duration::from_secs(20))
		.warm_up_time(Duration::from_secs(1));
	let cts: Vec<_> = (0..10_000)
		.map(|i| EncryptedKeyword::encrypt(&ppk, &tpk, if i % 100 == 0 { &kw } else { &other }))
		.collect();
	g.throughput(Throughput::Elements(cts.len() as u64));
	g.bench_function(format!("10000_keywords_{}_threads", rayon::current_num_threads()), |b| {
		b.iter(|| {
			let hits = prepared.search(black_box(&cts));
			assert_eq!(hits.len(), 100);
			hits
		})
	});
	g.finish();
}

fn other_kw() -> Keyword {
	Keyword::parse("icd-10|I10").unwrap()
}

criterion_group!(benches, envelope, pre, peks);
criterion_main!(benches);
