//! Cross-chain anchoring on real processes: hospital A's chain and the consortium chain run;
//! slips confirmed on the hospital chain become summary items on the consortium through the
//! `mbds-relayer` binary, which is killed (SIGKILL) and restarted mid-way. The anchored items
//! must equal the confirmed slips' items exactly: no gap, no duplicate. Prints the anchoring
//! latency (slip confirmation final on the hospital chain -> item on the consortium).

use mbds_client::queries::slips;
use mbds_runtime::{
	genesis_config_presets::{CONSORTIUM_LOCAL, HOSPITAL_LOCAL},
	BlockNumber, RuntimeCall,
};
use mbds_tests::{
	client::{hospital_setup, now_ms, visit_proof, Client},
	free_port, workspace_binary, Network,
};
use pallet_slips::{SlipId, SlipOf, SlipStatus, SummaryItemOf};
use sp_core::H256;
use sp_keyring::Sr25519Keyring as Keyring;
use std::{
	collections::{BTreeMap, BTreeSet},
	process::{Child, Command, Stdio},
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc, Mutex,
	},
	time::{Duration, Instant},
};

type Runtime = mbds_runtime::Runtime;
type Summary = pallet_anchor::AnchoredSummary<SummaryItemOf<Runtime>, BlockNumber>;

const WAIT: Duration = Duration::from_secs(120);

/// A relayer process, killed when dropped.
struct RelayerProcess(Child);

impl RelayerProcess {
	fn start(
		consortium: &str,
		private: &str,
		log: &std::path::Path,
		prometheus_port: Option<u16>,
	) -> RelayerProcess {
		let log = std::fs::File::create(log).expect("relayer log");
		let child = Command::new(workspace_binary("mbds-relayer"))
			.args(["run", "--consortium", consortium, "--private", private])
			.args(["--poll-ms", "500", "--report-secs", "5"])
			.args(prometheus_port.iter().flat_map(|p| ["--prometheus-port".into(), p.to_string()]))
			.stdout(log.try_clone().expect("log handle"))
			.stderr(log)
			.stdin(Stdio::null())
			.spawn()
			.expect("start mbds-relayer");
		RelayerProcess(child)
	}

	/// SIGKILL: no chance to finish anything it was doing.
	fn kill_9(mut self) {
		let _ = self.0.kill();
		let _ = self.0.wait();
	}
}

impl Drop for RelayerProcess {
	fn drop(&mut self) {
		let _ = self.0.kill();
		let _ = self.0.wait();
	}
}

/// The relayer's `/metrics` on `port` (Prometheus text format).
fn scrape(port: u16) -> Result<String, String> {
	use std::io::{Read, Write};
	let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
	s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
	s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
		.map_err(|e| e.to_string())?;
	let mut body = String::new();
	s.read_to_string(&mut body).map_err(|e| e.to_string())?;
	Ok(body)
}

/// The value of the metric line starting with `series ` in a `/metrics` body.
fn metric(body: &str, series: &str) -> Option<f64> {
	body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn summaries(c: &Client, patient: &Keyring) -> mbds_client::Result<Vec<Summary>> {
	mbds_client::chain::summaries(c, &patient.to_account_id(), None)
}

/// Submit `n` slips (at most the runtime's 4 pending per doctor and patient) by `doctor` of
/// `institution` about `patient` (two keywords each, with the patient's visit proof) and
/// confirm them all as the patient; their ids.
fn confirmed_slips(
	h: &Client,
	(institution, doctor, patient): (Keyring, Keyring, Keyring),
	n: u8,
	tag: u8,
) -> Vec<SlipId> {
	let before: u32 = slips::patient_slip_count(h, &patient.to_account_id(), None).unwrap();
	let visit = visit_proof(patient, institution);
	for i in 0..n {
		let call = RuntimeCall::Slips(pallet_slips::Call::submit_slip {
			patient: patient.to_account_id(),
			visit: visit.clone(),
			generated_at: now_ms(),
			tx_type: pallet_slips::TransactionType::Diagnosis,
			content: format!("visit {tag}.{i}").into_bytes(),
			encrypted_keywords: vec![vec![tag, i, 1], vec![tag, i, 2]],
			categories: vec![u32::from(i)],
			encrypted_address: vec![9u8; 64],
			record_hash: H256::repeat_byte(tag ^ i),
		});
		h.submit(call, &doctor.pair()).unwrap();
	}
	let total = before + n as u32;
	h.wait("the slips are on chain", WAIT, |c| {
		Ok(slips::patient_slip_count(c, &patient.to_account_id(), None)? == total)
	})
	.unwrap();
	let slips: Vec<(SlipId, SlipOf<Runtime>)> =
		slips::patient_slips(h, &patient.to_account_id(), before, n as u32, None).unwrap();
	for (id, slip) in &slips {
		let call = RuntimeCall::Slips(pallet_slips::Call::confirm_slip {
			slip_id: *id,
			record_hash: slip.record_hash,
		});
		h.submit(call, &patient.pair()).unwrap();
	}
	let ids: Vec<SlipId> = slips.into_iter().map(|(id, _)| id).collect();
	h.wait("the slips are confirmed", WAIT, |c| {
		for id in &ids {
			let slip: Option<SlipOf<Runtime>> = slips::slip(c, *id, None)?;
			if !matches!(slip.map(|s| s.status), Some(SlipStatus::Confirmed { .. })) {
				return Ok(false);
			}
		}
		Ok(true)
	})
	.unwrap();
	ids
}

/// When each slip's confirmation became final on the hospital chain and when its items
/// reached the consortium, observed by polling both every 250 ms.
#[derive(Default)]
struct Timeline {
	final_at: BTreeMap<SlipId, Instant>,
	anchored_at: BTreeMap<SlipId, Instant>,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
	let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
	sorted[i]
}

#[test]
fn confirmed_slips_are_anchored_exactly_once_across_a_relayer_crash() {
	// Three of hospital A's four validators (GRANDPA needs more than 2/3), the consortium's
	// three representative nodes and its audit node: enough for both chains to finalise.
	let mut hospital = Network::start(HOSPITAL_LOCAL, 3);
	let mut consortium = Network::start(CONSORTIUM_LOCAL, 4);
	hospital.wait_finalized(1, Duration::from_secs(180)).unwrap_or_else(|e| panic!("{e}"));
	consortium.wait_finalized(1, Duration::from_secs(180)).unwrap_or_else(|e| panic!("{e}"));
	let (h_url, c_url) = (hospital.nodes[0].url(), consortium.nodes[0].url());
	let h = hospital.nodes[0].client();
	let c = consortium.nodes[0].client();

	let (institution, doctor, patient) = (Keyring::Eve, Keyring::Bob, Keyring::Charlie);
	hospital_setup(&h, institution, doctor, patient).unwrap();
	h.wait("the institution is set", WAIT, |c| {
		Ok(c.storage::<sp_runtime::AccountId32>(
			&pallet_slips::Institution::<Runtime>::hashed_key(),
		)? == Some(institution.to_account_id()))
	})
	.unwrap();

	// The consortium's council registers hospital A (its finalised header and set) by a
	// motion of 4 of its 5 seats.
	let council = [Keyring::Alice, Keyring::Bob, Keyring::Charlie, Keyring::Dave].map(|k| k.pair());
	mbds_relayer::Relayer::new(&h_url, &c_url, Keyring::Ferdie.pair())
		.unwrap()
		.register(&mbds_relayer::Authority::Council(council.to_vec()))
		.unwrap();

	// Watch both chains.
	let timeline = Arc::new(Mutex::new(Timeline::default()));
	let done = Arc::new(AtomicBool::new(false));
	let watcher = {
		let (timeline, done) = (timeline.clone(), done.clone());
		let (h, c) = (h.clone(), c.clone());
		std::thread::spawn(move || {
			while !done.load(Ordering::Relaxed) {
				let now = Instant::now();
				if let Ok(head) = h.finalized_head() {
					let slips: Vec<(SlipId, SlipOf<Runtime>)> = h
						.call_at(
							"SlipsApi_patient_slips",
							(patient.to_account_id(), 0u32, 256u32),
							Some(head),
						)
						.unwrap_or_default();
					let mut t = timeline.lock().unwrap();
					for (id, slip) in slips {
						if matches!(slip.status, SlipStatus::Confirmed { .. }) {
							t.final_at.entry(id).or_insert(now);
						}
					}
				}
				if let Ok(items) = summaries(&c, &patient) {
					let mut t = timeline.lock().unwrap();
					for s in items {
						t.anchored_at.entry(s.item.slip_id).or_insert(now);
					}
				}
				std::thread::sleep(Duration::from_millis(250));
			}
		})
	};

	let dir = hospital.dir().to_path_buf();
	let metrics_port = free_port();
	let relayer =
		RelayerProcess::start(&c_url, &h_url, &dir.join("relayer-1.log"), Some(metrics_port));

	// Wave 1 with the relayer running: these give the latency figures.
	let wave1 = confirmed_slips(&h, (institution, doctor, patient), 4, 1);
	c.wait("wave 1 anchored", Duration::from_secs(300), |c| {
		let anchored: BTreeSet<SlipId> =
			summaries(c, &patient)?.into_iter().map(|s| s.item.slip_id).collect();
		Ok(wave1.iter().all(|id| anchored.contains(id)))
	})
	.unwrap_or_else(|e| {
		panic!(
			"{e}\nrelayer log:\n{}",
			std::fs::read_to_string(dir.join("relayer-1.log")).unwrap_or_default()
		)
	});

	// The relayer's metrics count what it anchored (it counts a batch once it saw it taken).
	let relayed = "mbds_relayer_batches_relayed_total{chain=\"1001\"}";
	let deadline = Instant::now() + Duration::from_secs(60);
	let body = loop {
		let body = scrape(metrics_port).unwrap_or_else(|e| e);
		if metric(&body, relayed).is_some_and(|n| n >= 1.0) || Instant::now() > deadline {
			break body;
		}
		std::thread::sleep(Duration::from_millis(500));
	};
	assert!(metric(&body, relayed).is_some_and(|n| n >= 1.0), "{relayed} >= 1 in\n{body}");
	assert!(
		metric(&body, "mbds_relayer_items_anchored_total{chain=\"1001\"}")
			.is_some_and(|n| n >= 2.0),
		"items anchored in\n{body}"
	);
	assert!(metric(&body, "mbds_relayer_lag_blocks{chain=\"1001\"}").is_some(), "lag in\n{body}");

	// Wave 2; the relayer is killed -9 while it is at work, and restarted 5 s later.
	let wave2 = confirmed_slips(&h, (institution, doctor, patient), 3, 2);
	std::thread::sleep(Duration::from_secs(12));
	relayer.kill_9();
	std::thread::sleep(Duration::from_secs(5));
	let _relayer = RelayerProcess::start(&c_url, &h_url, &dir.join("relayer-2.log"), None);
	let wave3 = confirmed_slips(&h, (institution, doctor, patient), 2, 3);

	let expected: BTreeSet<(SlipId, Vec<u8>)> = wave1
		.iter()
		.chain(&wave2)
		.chain(&wave3)
		.flat_map(|id| {
			let slip: Option<SlipOf<Runtime>> = slips::slip(&h, *id, None).unwrap();
			let slip = slip.expect("slip exists");
			assert!(matches!(slip.status, SlipStatus::Confirmed { .. }), "slip {id} confirmed");
			slip.encrypted_keywords.into_iter().map(move |k| (*id, k.into_inner()))
		})
		.collect();
	c.wait("every confirmed slip anchored", Duration::from_secs(300), |c| {
		Ok(summaries(c, &patient)?.len() >= expected.len())
	})
	.unwrap_or_else(|e| {
		panic!(
			"{e}\nrelayer log:\n{}",
			std::fs::read_to_string(dir.join("relayer-2.log")).unwrap_or_default()
		)
	});
	// Let a duplicate, if the crash could cause one, land before comparing.
	std::thread::sleep(Duration::from_secs(10));
	let anchored = summaries(&c, &patient).unwrap();
	let anchored_set: BTreeSet<(SlipId, Vec<u8>)> = anchored
		.iter()
		.map(|s| (s.item.slip_id, s.item.encrypted_keyword.clone().into_inner()))
		.collect();
	assert_eq!(anchored.len(), anchored_set.len(), "an item was anchored twice");
	assert_eq!(anchored_set, expected, "anchored items differ from the confirmed slips' items");
	for s in &anchored {
		assert_eq!(s.item.chain_id, 1001, "items carry their source chain");
		assert_eq!(s.item.patient, patient.to_account_id());
	}
	let status = mbds_relayer::Relayer::new(&h_url, &c_url, Keyring::Ferdie.pair())
		.unwrap()
		.status()
		.unwrap();
	assert_eq!(status.behind(), 0, "{status:?}");

	done.store(true, Ordering::Relaxed);
	watcher.join().unwrap();
	let t = timeline.lock().unwrap();
	let mut latencies: Vec<f64> = wave1
		.iter()
		.filter_map(|id| Some(t.anchored_at.get(id)?.duration_since(*t.final_at.get(id)?)))
		.map(|d| d.as_secs_f64())
		.collect();
	latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
	assert_eq!(latencies.len(), wave1.len(), "every wave-1 slip observed final and anchored");
	println!(
		"anchoring latency (confirmation final on hospital A -> item on the consortium), {} slips: p50 {:.1} s, p95 {:.1} s, max {:.1} s; {} items anchored in {} consortium slips",
		latencies.len(),
		percentile(&latencies, 0.5),
		percentile(&latencies, 0.95),
		latencies.last().unwrap(),
		anchored.len(),
		anchored.iter().map(|s| s.slip).collect::<BTreeSet<_>>().len(),
	);

	hospital.stop().unwrap();
	consortium.stop().unwrap();
}
