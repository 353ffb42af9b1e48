//! `mbds-load anchoring`: how long a confirmed slip takes to become searchable on the
//! consortium. Hospital A's chain (four validators) and the consortium (five nodes) run with
//! one relayer; a doctor writes slips about a patient and the patient confirms each, at
//! pseudo-random gaps of 0 to `max_gap` seconds (so confirmations fall at every point of the
//! batch window). For each slip, t0 is the moment the block holding its confirmation is final
//! on the private chain, t1 the first moment the consortium's finalised state counts its items
//! among the patient's anchored summaries (what a proxy's search reads); it prints t1 - t0 for
//! every slip and its p50, p95 and maximum, with the batch each slip went into. Both moments
//! are polled every 100 ms and the relayer polls every 500 ms: the figures include up to
//! 0.6 s of polling.

use crate::anchoring::{
	hospital_and_consortium, write_and_confirm_slip, RelayerProcess, SlipFields, CAST, WAIT,
};
use crate::client::Client;
use mbds_runtime::RuntimeEvent;
use sp_core::H256;
use sp_keyring::Sr25519Keyring as Keyring;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One slip's way from confirmation to the consortium.
#[derive(Clone, Debug)]
pub struct Sample {
	pub slip: u64,
	pub batch: u64,
	/// Confirmation final on the private chain.
	pub t0: Instant,
	/// Its items counted by the consortium's finalised state.
	pub t1: Option<Instant>,
	/// Items anchored about the patient once this slip's are.
	pub items_after: u32,
	/// The private block holding the confirmation.
	pub block: u32,
}

/// p-quantile (0..=1) of sorted `v`.
pub fn quantile(v: &[f64], p: f64) -> f64 {
	if v.is_empty() {
		return f64::NAN;
	}
	let i = ((v.len() - 1) as f64 * p).round() as usize;
	v[i.min(v.len() - 1)]
}

/// A small deterministic generator (xorshift64*), for reproducible gaps.
fn next(state: &mut u64) -> u64 {
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

fn finalized_number(c: &Client) -> Result<u32, String> {
	mbds_client::light::Source::finalized_number(c).map_err(|e| e.to_string())
}

fn anchored_count(c: &Client, patient: &Keyring) -> Result<u32, String> {
	let head = c.finalized_head().map_err(|e| e.to_string())?;
	mbds_client::queries::anchor::patient_summary_count(c, &patient.to_account_id(), Some(head))
		.map_err(|e| e.to_string())
}

/// Runs the measurement: `slips` slips at gaps of 0..`max_gap`; the samples, in order.
pub fn run(slips: usize, max_gap: Duration, seed: u64) -> Vec<Sample> {
	let (mut hospital, mut consortium) = hospital_and_consortium();
	let h = hospital.nodes[0].client();
	let c = consortium.nodes[0].client();
	let patient = CAST.2;
	let _relayer = RelayerProcess::start(
		&consortium.nodes[0].url(),
		&hospital.nodes[0].url(),
		&hospital.dir().join("relayer.log"),
		None,
	);
	eprintln!(
		"[mbds-load] anchoring: network up, hospital A registered; logs in {}",
		hospital.dir().display()
	);

	let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
	let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
	// The watcher: every 100 ms, the items the consortium's finalised state counts.
	let watcher = {
		let (c, samples, done) = (c.clone(), samples.clone(), done.clone());
		std::thread::spawn(move || loop {
			let finished = done.load(std::sync::atomic::Ordering::Relaxed);
			if let Ok(count) = anchored_count(&c, &patient) {
				let now = Instant::now();
				let mut s = samples.lock().unwrap();
				for x in s.iter_mut().filter(|x| x.t1.is_none() && count >= x.items_after) {
					x.t1 = Some(now);
				}
				if finished && s.iter().all(|x| x.t1.is_some()) {
					return;
				}
			}
			std::thread::sleep(Duration::from_millis(100));
		})
	};

	let mut rng = seed | 1;
	let mut items = 0u32;
	for i in 0..slips {
		let gap = Duration::from_millis(next(&mut rng) % (max_gap.as_millis() as u64 + 1));
		std::thread::sleep(gap);
		let tag = (i as u16).to_le_bytes();
		let fields = SlipFields {
			content: format!("anchoring latency sample {i}").into_bytes(),
			keywords: vec![[&tag[..], &[1, 1]].concat(), [&tag[..], &[1, 2]].concat()],
			record_hash: H256::from(sp_crypto_hashing::blake2_256(&tag)),
		};
		let (slip, confirmed) =
			write_and_confirm_slip(&h, CAST, fields).expect("slip written and confirmed");
		let batch = confirmed
			.events
			.iter()
			.find_map(|e| match e {
				RuntimeEvent::Slips(pallet_slips::Event::SlipConfirmed { batch, .. }) => {
					Some(*batch)
				}
				_ => None,
			})
			.expect("SlipConfirmed");
		items += 2;
		// t0: the confirmation's block is final on the private chain.
		let start = Instant::now();
		while finalized_number(&h).unwrap_or(0) < confirmed.number {
			assert!(start.elapsed() < WAIT, "slip {slip}'s confirmation never became final");
			std::thread::sleep(Duration::from_millis(100));
		}
		samples.lock().unwrap().push(Sample {
			slip,
			batch,
			t0: Instant::now(),
			t1: None,
			items_after: items,
			block: confirmed.number,
		});
		eprintln!(
			"[mbds-load] anchoring: slip {slip} ({} of {slips}) confirmed in #{} (batch {batch}) after a {:.1} s gap",
			i + 1,
			confirmed.number,
			gap.as_secs_f64()
		);
	}
	done.store(true, std::sync::atomic::Ordering::Relaxed);
	let start = Instant::now();
	while !watcher.is_finished() {
		assert!(start.elapsed() < Duration::from_secs(300), "slips not anchored within 5 minutes");
		std::thread::sleep(Duration::from_millis(200));
	}
	let _ = watcher.join();
	let out = samples.lock().unwrap().clone();
	let _ = hospital.stop();
	let _ = consortium.stop();
	out
}

/// Prints every sample and the p50/p95/max of t1 - t0.
pub fn print(samples: &[Sample]) {
	println!("\n| slip | batch | private block | t1 - t0 (s) |");
	println!("|---|---|---|---|");
	let mut lat: Vec<f64> = Vec::new();
	for s in samples {
		let d = s.t1.map(|t1| t1.duration_since(s.t0).as_secs_f64());
		if let Some(d) = d {
			lat.push(d);
		}
		println!(
			"| {} | {} | #{} | {} |",
			s.slip,
			s.batch,
			s.block,
			d.map_or("not anchored".into(), |d| format!("{d:.1}"))
		);
	}
	lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
	println!(
		"\nfrom a confirmation's finality on hospital A to its items in the consortium's finalised state, over {} slips: p50 {:.1} s, p95 {:.1} s, max {:.1} s",
		lat.len(),
		quantile(&lat, 0.5),
		quantile(&lat, 0.95),
		lat.last().copied().unwrap_or(f64::NAN)
	);
}
