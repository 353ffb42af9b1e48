//! Cross-chain anchoring on real processes: hospital A's chain (its four validators) and the
//! consortium chain run; slips confirmed on the hospital chain become summary items on the
//! consortium through the `mbds-relayer` binary, which is killed (SIGKILL) and restarted
//! mid-way. Then, while the doctor keeps writing slips and the patient keeps confirming them,
//! the hospital's council upgrades its runtime to the rehearsal build of this tree
//! (`spec_version` + 1 and a real storage migration, `scripts/build-upgrade-wasm.sh`), after
//! the try-runtime build ran that migration and every pallet's invariants over the live
//! node's state (as it is and as spec 104 held it); then the consortium's council upgrades
//! the consortium the same way, after the same checks over its state. The relayer started
//! before both upgrades and the CLI keep working. The anchored items must equal the confirmed slips' items exactly: no
//! gap, no duplicate. Prints the anchoring latency (slip confirmation final on the hospital
//! chain -> item on the consortium) and the upgrade figures (blocks from enactment to the new
//! version on every node, the longest pause in finality).

use mbds_client::queries::slips;
use mbds_runtime::{
	genesis_config_presets::{CONSORTIUM_LOCAL, HOSPITAL_LOCAL},
	RuntimeCall,
};
use mbds_tests::{
	anchoring::{
		metric, scrape, summaries, write_and_confirm, FinalityWatch, RelayerProcess, WAIT,
	},
	client::{hospital_setup, now_ms, visit_proof, Client},
	free_port,
	upgrade::{self, REHEARSAL, REHEARSAL_TRY},
	workspace_binary, Network,
};
use pallet_slips::{SlipId, SlipOf, SlipStatus};
use sp_core::H256;
use sp_keyring::Sr25519Keyring as Keyring;
use std::{
	collections::{BTreeMap, BTreeSet},
	process::Command,
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc, Mutex,
	},
	time::{Duration, Instant},
};

type Runtime = mbds_runtime::Runtime;

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

/// `pallet-kmc`'s storage version on the chain behind `c` (0 if never written).
fn kmc_storage_version(c: &Client) -> u16 {
	let key = [
		sp_crypto_hashing::twox_128(b"Kmc"),
		sp_crypto_hashing::twox_128(b":__STORAGE_VERSION__:"),
	]
	.concat();
	c.storage::<u16>(&key).unwrap().unwrap_or_default()
}

/// The council of the chain behind `c` upgrades it to `code` (the rehearsal runtime) while
/// every node in `nodes` is watched: returns the figures, after checking that every node
/// runs the new version and that the migration ran.
fn upgrade_chain(
	label: &str,
	c: &Client,
	nodes: &[Client],
	code: &[u8],
	council: &[sp_core::sr25519::Pair],
) -> String {
	let watch = FinalityWatch::start(c);
	let (_, before, _) = c.runtime_version().unwrap();
	assert_eq!(kmc_storage_version(c), 1, "{label}: pallet-kmc at storage version 1 before");
	let done = mbds_client::council::upgrade(c, upgrade::compressed(code), council, WAIT)
		.unwrap_or_else(|e| panic!("{label}: the council's upgrade: {e}"));
	assert_eq!((done.from_spec, done.to_spec), (before, before + 1), "{label}: {done:?}");
	// Every node reports the new version: at which block each first did.
	let mut first_new: Vec<u32> = vec![0; nodes.len()];
	let deadline = Instant::now() + WAIT;
	while first_new.contains(&0) {
		assert!(Instant::now() < deadline, "{label}: nodes still on {before}: {first_new:?}");
		for (i, n) in nodes.iter().enumerate() {
			if first_new[i] == 0 && n.runtime_version().is_ok_and(|v| v.1 == before + 1) {
				first_new[i] = n.best_number().unwrap();
			}
		}
		std::thread::sleep(Duration::from_millis(200));
	}
	// The migration ran: pallet-kmc went to storage version 2 (read on chain).
	assert_eq!(kmc_storage_version(c), 2, "{label}: the rehearsal's migration ran");
	// Finality goes on: 10 more blocks finalised after the enactment.
	c.wait("finality after the upgrade", WAIT, |c| {
		Ok(c.header(Some(c.finalized_head()?))?.number >= done.enacted_at + 10)
	})
	.unwrap_or_else(|e| panic!("{label}: {e}"));
	let (pause, jump) = watch.longest_pause();
	let lag: Vec<u32> = first_new.iter().map(|b| b.saturating_sub(done.enacted_at)).collect();
	format!(
		"{label}: spec {} -> {} enacted in block #{}; every node ({}) reported the new version within {} block(s) of it (per node {lag:?}); longest pause in finality during the upgrade {:.1} s (then {jump} block(s) at once)",
		done.from_spec,
		done.to_spec,
		done.enacted_at,
		nodes.len(),
		lag.iter().max().unwrap(),
		pause.as_secs_f64(),
	)
}

#[test]
fn confirmed_slips_are_anchored_exactly_once_across_a_relayer_crash_and_runtime_upgrades() {
	// Fail at once, not after the network's minutes, if the rehearsal runtimes are missing.
	let (rehearsal, rehearsal_try) =
		(upgrade::rehearsal_wasm(REHEARSAL), upgrade::rehearsal_wasm(REHEARSAL_TRY));
	// Hospital A's four validators, the consortium's three representative nodes and its
	// audit node.
	let mut hospital = Network::start(HOSPITAL_LOCAL, 4);
	let mut consortium = Network::start(CONSORTIUM_LOCAL, 4);
	hospital.wait_finalized(1, Duration::from_secs(180)).unwrap_or_else(|e| panic!("{e}"));
	consortium.wait_finalized(1, Duration::from_secs(180)).unwrap_or_else(|e| panic!("{e}"));
	let (h_url, c_url) = (hospital.nodes[0].url(), consortium.nodes[0].url());
	let h = hospital.nodes[0].client();
	let c = consortium.nodes[0].client();

	// Nobody here signs for two roles on one chain (the council's Alice and Bob vote while the
	// doctor and the patient work).
	let (institution, doctor, patient) = (Keyring::Eve, Keyring::Ferdie, Keyring::Dave);
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

	// A patient the KMC operator suspended: the state the try-runtime checks read holds one
	// (and, as spec 104 held it, without a recorded suspender).
	let suspended = Keyring::Two;
	h.submit_all(
		vec![
			mbds_tests::client::register(suspended, mbds_primitives::Role::Patient, 42),
			RuntimeCall::Kmc(pallet_kmc::Call::suspend { who: suspended.to_account_id() }),
		],
		&Keyring::Alice.pair(),
		WAIT,
	)
	.unwrap();
	h.wait("the suspension is final", WAIT, |c| {
		let key = pallet_kmc::SuspendedBy::<Runtime>::hashed_key_for(suspended.to_account_id());
		Ok(c.storage_at::<pallet_kmc::Suspender>(&key, Some(c.finalized_head()?))?.is_some())
	})
	.unwrap();

	// The upgrades. First the try-runtime build runs the rehearsal's migrations over a copy
	// of the hospital node's state, with every check.
	let head = h.finalized_head().unwrap();
	let state = upgrade::snapshot(&h, head).unwrap();
	// And over the same state as a spec-104 chain held it, so that the migration production
	// chains run on their upgrade to spec 105 (governance storage version 2) is checked too.
	let as_104 = upgrade::as_spec_104(&state);
	let report = upgrade::try_runtime_upgrade(&rehearsal_try, state)
		.unwrap_or_else(|e| panic!("try-runtime over hospital A's state: {e}"));
	let report_104 = upgrade::try_runtime_upgrade(&rehearsal_try, as_104)
		.unwrap_or_else(|e| panic!("try-runtime over hospital A's state as spec 104 had it: {e}"));
	let try_runtime = format!(
		"try-runtime: the rehearsal's migrations and every check over hospital A's state at its finalised head ({} storage pairs) passed in {:.2} s, weight {} of {} ps; over the same state as spec 104 held it (governance v1 -> v2 too) in {:.2} s, weight {} ps",
		report.pairs,
		report.took.as_secs_f64(),
		report.weight.0,
		report.weight.1,
		report_104.took.as_secs_f64(),
		report_104.weight.0,
	);
	println!("{try_runtime}");
	assert!(report_104.weight.0 > report.weight.0, "the governance migration ran on the 104 state");

	// A transaction signed for the old version, held in the pool (its nonce leaves a gap) until
	// after the upgrade: the client must see it dropped and sign it again with the same nonce.
	let charlie = Keyring::Charlie.pair();
	let remark = |text: &str| {
		RuntimeCall::System(frame_system::Call::remark_with_event {
			remark: text.as_bytes().to_vec(),
		})
	};
	let nonce = h.next_nonce(&Keyring::Charlie.to_account_id()).unwrap();
	let from = h.best_number().unwrap();
	let held = h
		.submit_tracked_at(remark("signed before the upgrade"), &charlie, nonce + 1, from)
		.unwrap();

	// The doctor writes and the patient confirms, one slip after the other, before, during
	// and after both upgrades.
	let working = Arc::new(AtomicBool::new(true));
	let traffic = {
		let (h, working) = (h.clone(), working.clone());
		std::thread::spawn(move || -> Result<Vec<SlipId>, String> {
			let mut ids = Vec::new();
			let mut tag = 100u8;
			while working.load(Ordering::Relaxed) {
				ids.push(write_and_confirm(&h, (institution, doctor, patient), tag)?);
				tag = tag.wrapping_add(1);
			}
			Ok(ids)
		})
	};
	std::thread::sleep(Duration::from_secs(10));
	let hospital_nodes: Vec<Client> = hospital.nodes.iter().map(|n| n.client()).collect();
	let private_council = mbds_tests::client::PRIVATE_COUNCIL.map(|k| k.pair());
	let h_figures = upgrade_chain("hospital A", &h, &hospital_nodes, &rehearsal, &private_council);
	println!("{h_figures}");
	// The gap is filled; the held transaction, signed for the old version, is never included:
	// the client says so, naming both versions, and its copy signed for the new version with
	// the same nonce is.
	h.submit_and_wait(remark("fills the nonce gap"), &charlie, WAIT).unwrap();
	match h.wait_included(&held, WAIT) {
		Err(mbds_client::Error::Outdated { signed, now, .. }) => {
			assert_eq!((signed, now), (held.spec, held.spec + 1))
		}
		other => panic!("a transaction signed for the old version: {other:?}"),
	}
	let again = h.resubmit(&held, remark("signed before the upgrade"), &charlie).unwrap();
	assert_eq!((again.nonce, again.spec), (held.nonce, held.spec + 1));
	h.wait_included(&again, WAIT).expect("the copy signed for the new version is included");
	std::thread::sleep(Duration::from_secs(10));
	// The consortium's state (registered chains, anchored summaries, credit scores) through
	// the same try-runtime checks before its upgrade: every pallet's invariants over it.
	let c_state = upgrade::snapshot(&c, c.finalized_head().unwrap()).unwrap();
	let c_report = upgrade::try_runtime_upgrade(&rehearsal_try, c_state)
		.unwrap_or_else(|e| panic!("try-runtime over the consortium's state: {e}"));
	let try_runtime = format!(
		"{try_runtime}; over the consortium's state ({} storage pairs) in {:.2} s",
		c_report.pairs,
		c_report.took.as_secs_f64()
	);
	println!("{try_runtime}");
	let consortium_nodes: Vec<Client> = consortium.nodes.iter().map(|n| n.client()).collect();
	let c_figures = upgrade_chain("consortium", &c, &consortium_nodes, &rehearsal, &council);
	println!("{c_figures}");
	std::thread::sleep(Duration::from_secs(10));
	working.store(false, Ordering::Relaxed);
	let during = traffic.join().expect("the doctor and patient thread").unwrap_or_else(|e| {
		panic!("a doctor's slip or a patient's confirmation failed during the upgrades: {e}")
	});
	assert!(during.len() >= 4, "slips written and confirmed during the upgrades: {during:?}");

	// The CLI built before the upgrades signs for the chain's new version: the KMC operator
	// registers a new patient on the upgraded hospital chain.
	let keys = dir.join("late-patient.json");
	let public = dir.join("late-patient.public.json");
	let cli = |args: &[&str]| {
		let out = Command::new(workspace_binary("mbds"))
			.args(args)
			.env(mbds_client::keys::PASSPHRASE_ENV, "late patient passphrase")
			.output()
			.expect("run mbds");
		assert!(out.status.success(), "mbds {args:?}: {}", String::from_utf8_lossy(&out.stderr));
	};
	cli(&["keys", "new", "--out", keys.to_str().unwrap()]);
	cli(&["keys", "export", "--keys", keys.to_str().unwrap(), "--out", public.to_str().unwrap()]);
	cli(&[
		"kmc",
		"register",
		"--public",
		public.to_str().unwrap(),
		"--role",
		"patient",
		"--identity",
		"a patient registered after the upgrade",
		"--chain",
		&h_url,
		"--operator",
		"//Alice",
	]);

	let expected: BTreeSet<(SlipId, Vec<u8>)> = wave1
		.iter()
		.chain(&wave2)
		.chain(&wave3)
		.chain(&during)
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
	println!(
		"{} slips written and confirmed while the chains upgraded, each anchored exactly once\n{try_runtime}\n{h_figures}\n{c_figures}",
		during.len()
	);

	hospital.stop().unwrap();
	consortium.stop().unwrap();
}
