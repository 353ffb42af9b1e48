//! Fault injection on real processes: hospital A's chain (four validators) and the
//! consortium (five nodes: three representative nodes author, they and an audit node vote in
//! GRANDPA, the fifth stands by) run with two relayers for hospital A at once (an operator
//! who started it twice), while a doctor keeps writing slips and the patient keeps
//! confirming them. One network serves every case, one after the other:
//!
//! 1. a hospital validator is killed (SIGKILL): blocks and finality go on;
//! 2. a second one is killed: finality stops (2 of 4 voters cannot finalise) and nothing
//!    conflicting is ever finalised; blocks go on; one relayer is killed -9 meanwhile;
//! 3. the second validator restarts from its database: it resumes from its last block (no
//!    resync from genesis) and finality catches up with every block made meanwhile;
//! 4. the first one's database is deleted: it resyncs from genesis and catches up;
//! 5. a consortium representative node is killed: the remaining voters keep finalising and
//!    slips confirmed meanwhile are anchored.
//!
//! Then every running node of each chain must agree on every finalised block (the killed
//! consortium node stays down), and every confirmed slip's items must be on the consortium
//! exactly once. The test prints the table of cases: outcome, blocks to recover, items lost
//! and items duplicated (both must be 0).

use mbds_client::queries::slips;
use mbds_tests::{
	anchoring::{
		hospital_and_consortium, summaries, write_and_confirm, RelayerProcess, CAST, WAIT,
	},
	client::Client,
	Network, Node,
};
use pallet_slips::{SlipId, SlipOf, SlipStatus};
use sp_keyring::Sr25519Keyring as Keyring;
use std::{
	collections::{BTreeMap, BTreeSet},
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc, Mutex,
	},
	time::{Duration, Instant},
};

type Runtime = mbds_runtime::Runtime;

/// The doctor and patient thread's error, if it stopped: every wait reports it at once
/// instead of timing out on something unrelated.
static TRAFFIC_ERROR: Mutex<Option<String>> = Mutex::new(None);

/// One row of the table.
struct Case {
	name: &'static str,
	outcome: String,
	/// Blocks (of the faulty chain) from the repair to the recovery, or "-".
	recover: String,
	/// When the case started and ended: the slips written meanwhile are its items.
	window: (Instant, Instant),
}

/// Finalised and best block numbers of the chain behind `c`.
fn heights(c: &Client) -> (u32, u32) {
	let finalized = c.header(Some(c.finalized_head().unwrap())).unwrap().number;
	(finalized, c.best_number().unwrap())
}

/// Wait until `cond` holds (polled every 500 ms); the time it took. Panics naming `what` on
/// timeout, or at once if the doctor and patient thread stopped.
fn wait_until(
	what: &str,
	timeout: Duration,
	mut cond: impl FnMut() -> Result<bool, String>,
) -> Duration {
	let start = Instant::now();
	let mut last = String::new();
	while start.elapsed() < timeout {
		if let Some(e) = TRAFFIC_ERROR.lock().unwrap().as_ref() {
			panic!("{what}: the doctor and patient thread stopped: {e}");
		}
		match cond() {
			Ok(true) => return start.elapsed(),
			Ok(false) => {}
			Err(e) => last = e,
		}
		std::thread::sleep(Duration::from_millis(500));
	}
	panic!("{what}: not within {timeout:?} ({last})");
}

/// The block number a restarted node's log says it resumed from (`Highest known block at
/// #N`), waiting for the line to be written.
fn resumed_from(node: &Node) -> u32 {
	let mut found = None;
	wait_until(&format!("{} logs its highest known block", node.name), WAIT, || {
		let log = std::fs::read_to_string(&node.log_path).map_err(|e| e.to_string())?;
		found = log.lines().find_map(|l| {
			let n = l.split("Highest known block at #").nth(1)?;
			n.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
		});
		Ok(found.is_some())
	});
	found.unwrap()
}

/// Every node of `net` that runs has the same hash at every finalised height up to the
/// lowest finalised head among them (nothing conflicting was ever finalised); that height.
fn agree_on_finalised(net: &Network) -> u32 {
	let running: Vec<&Node> = net.nodes.iter().filter(|n| n.finalized_number().is_ok()).collect();
	let upto = running.iter().map(|n| n.finalized_number().unwrap()).min().unwrap();
	for height in 1..=upto {
		let hashes: BTreeSet<String> = running
			.iter()
			.map(|n| n.rpc("chain_getBlockHash", serde_json::json!([height])).unwrap().to_string())
			.collect();
		assert_eq!(
			hashes.len(),
			1,
			"{}: nodes finalised different blocks #{height}: {hashes:?}",
			net.chain
		);
	}
	upto
}

/// The representative nodes of the consortium (its Aura authorities): indices into the
/// genesis validators Alice, Bob, ...
fn representative_nodes(c: &Client) -> Vec<usize> {
	let authors: Vec<[u8; 32]> = c.call("AuraApi_authorities", ()).unwrap();
	[Keyring::Alice, Keyring::Bob, Keyring::Charlie, Keyring::Dave, Keyring::Eve]
		.iter()
		.enumerate()
		.filter(|(_, k)| {
			// Validators' session keys are specific to the chain (the consortium's id is 1).
			let seed = mbds_primitives::chain_session_seed(k.to_seed().as_bytes(), 1);
			let aura = <sp_core::sr25519::Pair as sp_core::Pair>::from_string(
				core::str::from_utf8(&seed).unwrap(),
				None,
			)
			.unwrap();
			authors.contains(&sp_core::Pair::public(&aura).0)
		})
		.map(|(i, _)| i)
		.collect()
}

#[test]
fn chains_relayers_and_anchoring_survive_killed_and_wiped_nodes() {
	let (mut hospital, mut consortium) = hospital_and_consortium();
	let h = hospital.nodes[0].client();
	let c = consortium.nodes[0].client();
	let dir = hospital.dir().to_path_buf();
	let (institution, doctor, patient) = CAST;

	// The same relayer started twice, through other nodes of hospital A (the consortium's
	// first node serves both: any other may be the one killed in case 5).
	let relayer_a = RelayerProcess::start(
		&consortium.nodes[0].url(),
		&hospital.nodes[0].url(),
		&dir.join("relayer-a.log"),
		None,
	);
	let _relayer_b = RelayerProcess::start(
		&consortium.nodes[0].url(),
		&hospital.nodes[1].url(),
		&dir.join("relayer-b.log"),
		None,
	);

	// The doctor and the patient at work through every case.
	let working = Arc::new(AtomicBool::new(true));
	let written: Arc<Mutex<Vec<(Instant, SlipId)>>> = Arc::default();
	let traffic = {
		let (h, working, written) = (h.clone(), working.clone(), written.clone());
		std::thread::spawn(move || -> Result<(), String> {
			let mut tag = 0u8;
			while working.load(Ordering::Relaxed) {
				let id = write_and_confirm(&h, (institution, doctor, patient), tag)
					.inspect_err(|e| *TRAFFIC_ERROR.lock().unwrap() = Some(e.clone()))?;
				written.lock().unwrap().push((Instant::now(), id));
				tag = tag.wrapping_add(1);
			}
			Ok(())
		})
	};
	let mut cases: Vec<Case> = Vec::new();
	std::thread::sleep(Duration::from_secs(15));

	// 1. One hospital validator killed.
	let start = Instant::now();
	let (f0, b0) = heights(&h);
	hospital.nodes[3].kill_9();
	let took =
		wait_until(
			"finality with 3 of 4 hospital validators",
			WAIT,
			|| Ok(heights(&h).0 >= f0 + 5),
		);
	let (f1, b1) = heights(&h);
	cases.push(Case {
		name: "hospital: 1 of 4 validators killed",
		outcome: format!(
			"blocks and finality go on: +{} blocks, +{} finalised in {:.0} s",
			b1 - b0,
			f1 - f0,
			took.as_secs_f64()
		),
		recover: "0 (no stall)".into(),
		window: (start, Instant::now()),
	});

	// 2. A second one killed: finality stops, blocks go on. A relayer is killed -9 meanwhile.
	let start = Instant::now();
	hospital.nodes[2].kill_9();
	// A round that had its votes before the kill may still complete: finality has stopped
	// once alice and bob agree and neither moved for 6 s.
	let mut still: Option<(u32, Instant)> = None;
	wait_until("finality stops with 2 of 4 hospital voters", WAIT, || {
		let (a, b) = (heights(&h).0, hospital.nodes[1].finalized_number()?);
		match still {
			Some((f, since)) if a == f && b == f => {
				return Ok(since.elapsed() >= Duration::from_secs(6))
			}
			_ => still = Some((a, Instant::now())),
		}
		Ok(false)
	});
	let (stalled_at, b2) = heights(&h);
	relayer_a.kill_9();
	std::thread::sleep(Duration::from_secs(24));
	let (f3, b3) = heights(&h);
	let on_bob = hospital.nodes[1].finalized_number().unwrap();
	assert_eq!(f3, stalled_at, "2 of 4 hospital voters must not finalise (alice at #{f3})");
	assert_eq!(on_bob, stalled_at, "2 of 4 hospital voters must not finalise (bob at #{on_bob})");
	assert!(b3 > b2, "the 2 remaining validators keep authoring (best #{b2} -> #{b3})");
	let relayer_a = RelayerProcess::start(
		&consortium.nodes[0].url(),
		&hospital.nodes[0].url(),
		&dir.join("relayer-a-2.log"),
		None,
	);
	cases.push(Case {
		name: "hospital: 2 of 4 validators killed; a relayer killed -9",
		outcome: format!(
			"finality stopped safely at #{stalled_at} for 24 s; blocks went on (+{}); the relayer restarted",
			b3 - b2
		),
		recover: "see the next row".into(),
		window: (start, Instant::now()),
	});

	// 3. The second validator restarts from its database.
	let start = Instant::now();
	let before = hospital.nodes[2].log_path.clone();
	let (_, best_at_restart) = heights(&h);
	hospital.nodes[2].restart(&dir.join("charlie-2.log"));
	let resumed = resumed_from(&hospital.nodes[2]);
	assert!(
		resumed >= stalled_at,
		"charlie resumed from #{resumed}, not from its database (it had #{stalled_at}); log {}",
		before.display()
	);
	let took = wait_until("finality catches up after the restart", WAIT, || {
		Ok(heights(&h).0 >= best_at_restart)
	});
	let (f4, b4) = heights(&h);
	cases.push(Case {
		name: "hospital: the second validator restarted from its database",
		outcome: format!(
			"resumed from its block #{resumed} (no resync); finality caught up with the {} blocks made meanwhile in {:.0} s",
			best_at_restart - stalled_at,
			took.as_secs_f64()
		),
		recover: format!(
			"{} blocks after the restart (the stalled #{}..#{best_at_restart} final at once)",
			b4 - best_at_restart,
			stalled_at + 1
		),
		window: (start, Instant::now()),
	});
	let _ = f4;

	// 4. The first validator's database is deleted: it resyncs.
	let start = Instant::now();
	let base = hospital.nodes[3].base_path().expect("dave's base path");
	let mut wiped = 0;
	for chain in std::fs::read_dir(base.join("chains")).unwrap() {
		for db in ["paritydb", "db"].map(|d| chain.as_ref().unwrap().path().join(d)) {
			if db.exists() {
				std::fs::remove_dir_all(&db).unwrap();
				wiped += 1;
			}
		}
	}
	assert_eq!(wiped, 1, "dave's database under {}", base.display());
	let (_, target) = heights(&h);
	hospital.nodes[3].restart(&dir.join("dave-2.log"));
	let resumed = resumed_from(&hospital.nodes[3]);
	assert_eq!(resumed, 0, "a node without a database starts from genesis");
	let took =
		wait_until("dave resyncs", WAIT, || Ok(hospital.nodes[3].finalized_number()? >= target));
	let (f5, _) = heights(&h);
	cases.push(Case {
		name: "hospital: a validator's database deleted",
		outcome: format!(
			"resynced from genesis to the finalised #{target} in {:.0} s",
			took.as_secs_f64()
		),
		recover: format!("{} blocks synced", hospital.nodes[3].best_number().unwrap()),
		window: (start, Instant::now()),
	});
	let _ = f5;

	// 5. A consortium representative node killed (not the one the relayers use).
	let start = Instant::now();
	let rpns = representative_nodes(&c);
	let victim = *rpns
		.iter()
		.rev()
		.find(|i| **i > 0)
		.unwrap_or_else(|| panic!("a representative node other than alice: {rpns:?}"));
	let (cf0, cb0) = heights(&c);
	consortium.nodes[victim].kill_9();
	let written_before = written.lock().unwrap().len();
	let took = wait_until("consortium finality without one representative node", WAIT, || {
		Ok(heights(&c).0 >= cf0 + 5)
	});
	// A slip confirmed after the kill is anchored while the node is down.
	wait_until("a slip confirmed after the kill", WAIT, || {
		Ok(written.lock().unwrap().len() > written_before)
	});
	let (_, late) = *written.lock().unwrap().last().unwrap();
	let anchored_in =
		wait_until("anchoring without one representative node", Duration::from_secs(240), || {
			Ok(summaries(&c, &patient)
				.map_err(|e| e.to_string())?
				.iter()
				.any(|s| s.item.slip_id == late))
		});
	let (cf1, cb1) = heights(&c);
	cases.push(Case {
		name: "consortium: a representative node killed",
		outcome: format!(
			"{} killed; 3 of the 4 voters finalised +5 in {:.0} s (+{} blocks, +{} finalised in all); slip {late} anchored {:.0} s later",
			consortium.nodes[victim].name,
			took.as_secs_f64(),
			cb1 - cb0,
			cf1 - cf0,
			anchored_in.as_secs_f64()
		),
		recover: "0 (no stall)".into(),
		window: (start, Instant::now()),
	});

	// The end: the traffic stops; every confirmed slip is anchored exactly once.
	working.store(false, Ordering::Relaxed);
	traffic.join().expect("the doctor and patient thread").unwrap_or_else(|e| {
		panic!("a doctor's slip or a patient's confirmation failed during the faults: {e}")
	});
	let written = written.lock().unwrap().clone();
	assert!(
		written.len() >= 10,
		"slips written and confirmed during the faults: {}",
		written.len()
	);
	let items_of = |id: SlipId| -> Vec<(SlipId, Vec<u8>)> {
		let slip: SlipOf<Runtime> = slips::slip(&h, id, None).unwrap().expect("slip exists");
		assert!(matches!(slip.status, SlipStatus::Confirmed { .. }), "slip {id} confirmed");
		slip.encrypted_keywords.into_iter().map(|k| (id, k.into_inner())).collect()
	};
	let expected: BTreeSet<(SlipId, Vec<u8>)> =
		written.iter().flat_map(|(_, id)| items_of(*id)).collect();
	c.wait("every confirmed slip anchored", Duration::from_secs(300), |c| {
		Ok(summaries(c, &patient)?.len() >= expected.len())
	})
	.unwrap_or_else(|e| panic!("{e}"));
	// Two relayers: let a duplicate, if one could happen, land before counting.
	std::thread::sleep(Duration::from_secs(10));
	let anchored = summaries(&c, &patient).unwrap();
	let mut count: BTreeMap<(SlipId, Vec<u8>), usize> = BTreeMap::new();
	for s in &anchored {
		*count
			.entry((s.item.slip_id, s.item.encrypted_keyword.clone().into_inner()))
			.or_default() += 1;
	}
	let hospital_final = agree_on_finalised(&hospital);
	let consortium_final = agree_on_finalised(&consortium);

	println!("\n| case | outcome | blocks to recover | items lost | items duplicated |");
	println!("|---|---|---|---|---|");
	let (mut lost_all, mut dup_all) = (0, 0);
	for case in &cases {
		let items: Vec<(SlipId, Vec<u8>)> = written
			.iter()
			.filter(|(at, _)| *at >= case.window.0 && *at < case.window.1)
			.flat_map(|(_, id)| items_of(*id))
			.collect();
		let lost = items.iter().filter(|i| !count.contains_key(*i)).count();
		let dup: usize = items.iter().map(|i| count.get(i).map_or(0, |n| n - 1)).sum();
		println!(
			"| {} | {} ({} items written meanwhile) | {} | {lost} | {dup} |",
			case.name,
			case.outcome,
			items.len(),
			case.recover
		);
	}
	for item in &expected {
		match count.get(item) {
			None => lost_all += 1,
			Some(n) => dup_all += n - 1,
		}
	}
	println!(
		"| in all | {} slips written and confirmed, {} items; two relayers ran; every node agrees on every finalised block (hospital up to #{hospital_final}, consortium up to #{consortium_final}) | - | {lost_all} | {dup_all} |",
		written.len(),
		expected.len()
	);
	assert_eq!((lost_all, dup_all), (0, 0), "items lost, items duplicated");
	let stray: Vec<_> = count.keys().filter(|k| !expected.contains(*k)).collect();
	assert!(stray.is_empty(), "anchored items no confirmed slip has: {stray:?}");
	drop(relayer_a);
	hospital.stop().ok();
	consortium.stop().ok();
}
