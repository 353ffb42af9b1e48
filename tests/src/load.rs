//! The load benchmark (`mbds-load`): how many transfers, slip submissions, confirmations,
//! grants and recorded accesses a chain includes per second, measured side by side in one run
//! on one node (or one network), as ratios to the transfer rate of the same run.
//!
//! Every transaction of a phase is signed before the phase starts (nonces counted locally),
//! then sent as fast as the node's pool takes them by several threads over JSON-RPC
//! (`author_submitExtrinsic`; a pool that is full is asked again 10 ms later). The phase ends
//! when every transaction it sent is in a finalised block, or when nothing new has been
//! included for a while (the rest is reported as not included). Blocks are read back from the
//! node: which of the phase's transactions each holds, whether each succeeded (and if not, the
//! pallet error by name), the block's timestamp and its normal-class weight.
//!
//! The participants are real: the council seats a hospital (and, where consents live, two
//! health authorities whose proxies record accesses), the KMC operator registers the doctors
//! and patients, the hospital employs the doctors; patients sign visit proofs and users sign
//! access statements locally. Sizes respect every quota, so the run measures throughput and
//! not a quota: 30 slips per patient (below 32 pending), one slip, one grant per (doctor,
//! patient) pair (below 4 pending, 16 grants), 75 doctors (80 slips each for 6,000, below 200
//! feeless transactions per 10 minutes), accesses split between two health authorities
//! (3,000 each for 6,000, below 6,000 on-behalf transactions per window).
//!
//! Phases run in this order, each on the previous one's state: transfers, submissions,
//! confirmations (of the slips the submissions created), grants, accesses (under those
//! grants). Slips that fail in the submission phase (on runtimes up to spec 105, the
//! per-block limit `TooManySlipsInBlock`; the failures are in the table by name) are sent
//! again, outside the measurement, until every slip exists, so the confirmation phase always
//! confirms as many slips as were asked for. Sizes beyond 15,000 per call exceed the doctors'
//! feeless quota (75 x 200 per 10 minutes): the benchmark refuses them.

pub mod anchoring;

use crate::client::{hex_of, register, visit_proof_of, Client};
use codec::Encode;
use frame_support::dispatch::{DispatchClass, PerDispatchClass};
use frame_support::storage::storage_prefix;
use frame_support::weights::Weight;
use mbds_client::light::Source;
use mbds_primitives::consent::{AccessTarget, Action, ActionSet, GrantScope, Grantee, Purpose};
use mbds_primitives::{InstitutionKind, Role};
use mbds_runtime::{AccountId, RuntimeCall, RuntimeEvent};
use serde_json::{json, Value};
use sp_core::{sr25519, Pair, H256};
use sp_keyring::Sr25519Keyring as Keyring;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Slips (and grants) per patient: below the 32 a patient may have pending.
pub const PER_PATIENT: usize = 30;
/// Doctors (and transfer payers): 80 slips each for 6,000, below their feeless quota.
pub const DOCTORS: usize = 75;
/// The calls the benchmark measures, in the order it runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CallKind {
	Transfer,
	Submit,
	Confirm,
	Grant,
	Access,
}

impl CallKind {
	pub const ALL: [CallKind; 5] = [
		CallKind::Transfer,
		CallKind::Submit,
		CallKind::Confirm,
		CallKind::Grant,
		CallKind::Access,
	];

	/// The call's name as the runtime spells it.
	pub fn name(self) -> &'static str {
		match self {
			CallKind::Transfer => "balances.transfer_keep_alive",
			CallKind::Submit => "slips.submit_slip",
			CallKind::Confirm => "slips.confirm_slip",
			CallKind::Grant => "consent.grant",
			CallKind::Access => "consent.record_access",
		}
	}

	/// The short name `--calls` takes.
	pub fn short(self) -> &'static str {
		match self {
			CallKind::Transfer => "transfer",
			CallKind::Submit => "submit",
			CallKind::Confirm => "confirm",
			CallKind::Grant => "grant",
			CallKind::Access => "access",
		}
	}

	pub fn parse(s: &str) -> Option<CallKind> {
		CallKind::ALL.into_iter().find(|c| c.short() == s)
	}
}

/// Progress lines go to stderr, tables to stdout.
macro_rules! progress {
	($($t:tt)*) => { eprintln!("[mbds-load] {}", format!($($t)*)) };
}

/// A transaction signed before its phase: its hash and SCALE encoding (hex), and who sent it.
#[derive(Clone)]
pub struct Signed {
	pub hash: H256,
	pub hex: String,
	pub sender: usize,
}

/// Signs `calls` (sender index into `signers`, call): each sender's nonces count up from its
/// next nonce on the chain, in the order of `calls`.
pub fn presign(
	chain: &Client,
	signers: &[sr25519::Pair],
	calls: Vec<(usize, RuntimeCall)>,
) -> Vec<Signed> {
	let spec = chain.signing_spec_version().expect("the chain's runtime version");
	let mut nonces: HashMap<usize, u32> = HashMap::new();
	calls
		.into_iter()
		.map(|(sender, call)| {
			let pair = &signers[sender];
			let nonce = match nonces.get_mut(&sender) {
				Some(n) => {
					*n += 1;
					*n
				}
				None => {
					let n =
						chain.next_nonce(&pair.public().into()).expect("the sender's next nonce");
					nonces.insert(sender, n);
					n
				}
			};
			let xt = mbds_client::signed(call, pair, nonce, chain.genesis, spec).encode();
			Signed { hash: sp_crypto_hashing::blake2_256(&xt).into(), hex: hex_of(&xt), sender }
		})
		.collect()
}

/// Sends `txs` to `url` from `threads` threads (each sender's transactions from one thread, in
/// nonce order). A full pool is asked again every 10 ms for up to a minute. Returns the
/// transactions the node refused, by its answer.
pub fn send(url: &str, txs: &[Signed], threads: usize) -> BTreeMap<String, usize> {
	let refused = std::sync::Mutex::new(BTreeMap::<String, usize>::new());
	let sent = AtomicUsize::new(0);
	std::thread::scope(|s| {
		for t in 0..threads {
			let (refused, sent) = (&refused, &sent);
			s.spawn(move || {
				let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
				for tx in txs.iter().filter(|tx| tx.sender % threads == t) {
					let body = json!({"jsonrpc": "2.0", "id": 1,
						"method": "author_submitExtrinsic", "params": [tx.hex]});
					let start = Instant::now();
					loop {
						let answer: Result<Value, String> = agent
							.post(url)
							.send_json(body.clone())
							.map_err(|e| e.to_string())
							.and_then(|r| r.into_json().map_err(|e| e.to_string()));
						let error = match answer {
							Ok(v) if v.get("error").is_none() => break,
							Ok(v) => format!(
								"{} {}",
								v["error"]["message"].as_str().unwrap_or("?"),
								v["error"]["data"].as_str().unwrap_or("")
							),
							Err(e) => e,
						};
						let pool_full = error.contains("Immediately Dropped")
							|| error.contains("Priority is too low")
							|| error.contains("because of the limit");
						if pool_full && start.elapsed() < Duration::from_secs(60) {
							std::thread::sleep(Duration::from_millis(10));
							continue;
						}
						*refused.lock().unwrap().entry(error.trim().to_string()).or_default() += 1;
						break;
					}
					sent.fetch_add(1, Ordering::Relaxed);
				}
			});
		}
	});
	refused.into_inner().unwrap()
}

/// What became of one transaction of a phase.
#[derive(Clone, Debug)]
pub struct Outcome {
	pub block: u32,
	/// `Err` names the pallet error.
	pub result: Result<(), String>,
	pub events: Vec<RuntimeEvent>,
}

/// One block that held transactions of a phase.
#[derive(Clone, Debug)]
pub struct BlockStat {
	pub number: u32,
	pub timestamp_ms: u64,
	/// The phase's transactions it holds, and how many of them succeeded.
	pub ours: usize,
	pub succeeded: usize,
	/// Normal-class weight used / allowed (ref time).
	pub fullness: f64,
	/// Every extrinsic in it, inherents included.
	pub extrinsics: usize,
}

/// A phase's results: one entry per transaction (`None`: never included), and its blocks.
pub struct Tracked {
	pub outcomes: Vec<Option<Outcome>>,
	pub blocks: Vec<BlockStat>,
	/// Timestamp of the block before the phase's first block.
	pub start_ms: u64,
}

fn timestamp_at(chain: &Client, hash: H256) -> u64 {
	chain
		.storage_at::<u64>(&storage_prefix(b"Timestamp", b"Now"), Some(hash))
		.ok()
		.flatten()
		.unwrap_or(0)
}

/// The chain's finalised block number.
fn finalized_number(chain: &Client) -> u32 {
	Source::finalized_number(chain).expect("the finalised head")
}

/// The normal-class ref time a block may use.
pub fn normal_max() -> u64 {
	let weights = <mbds_runtime::Runtime as frame_system::Config>::BlockWeights::get();
	let normal = weights.get(DispatchClass::Normal);
	normal.max_total.unwrap_or(weights.max_block).ref_time()
}

/// The base weight (ref time) of any normal extrinsic.
pub fn base_extrinsic() -> u64 {
	let weights = <mbds_runtime::Runtime as frame_system::Config>::BlockWeights::get();
	weights.get(DispatchClass::Normal).base_extrinsic.ref_time()
}

/// A slip as the benchmark sends it (slip 0 of `cast`), signed: for weight queries.
pub fn sample_slip(chain: &Client, cast: &Cast) -> mbds_runtime::UncheckedExtrinsic {
	let visits = vec![visit_proof_of(&cast.patients[0], &cast.hospital.to_account_id())];
	let (doctor, call) = slip_call(cast, &visits, 0);
	let spec = chain.signing_spec_version().expect("the chain's runtime version");
	mbds_client::signed(call, &cast.doctors[doctor], 0, chain.genesis, spec)
}

/// Reads finalised blocks after `after` until every transaction of `txs` is in one, or no new
/// one was for `stall`.
pub fn track(chain: &Client, after: u32, txs: &[Signed], stall: Duration) -> Tracked {
	let index: HashMap<H256, usize> = txs.iter().enumerate().map(|(i, t)| (t.hash, i)).collect();
	let mut outcomes: Vec<Option<Outcome>> = vec![None; txs.len()];
	let mut blocks = Vec::new();
	let start_ms = timestamp_at(chain, chain.block_hash(after).unwrap().expect("block `after`"));
	let (mut next, mut found, mut last_progress) = (after + 1, 0, Instant::now());
	let max = normal_max() as f64;
	let mut last_report = Instant::now();
	// The finalised head, asked for again only once every block up to it is read.
	let mut finalized = after;
	while found < txs.len() && last_progress.elapsed() < stall {
		if next > finalized {
			finalized = finalized_number(chain);
			if next > finalized {
				std::thread::sleep(Duration::from_millis(200));
			}
			continue;
		}
		let hash = chain.block_hash(next).unwrap().expect("a finalised block's hash");
		let xts = chain.block_extrinsics(hash).expect("the block's extrinsics");
		// Events, timestamp and weight are read only for blocks holding the phase's transactions.
		let ours: Vec<(usize, usize)> = xts
			.iter()
			.enumerate()
			.filter_map(|(i, xt)| {
				let h: H256 = sp_crypto_hashing::blake2_256(xt).into();
				index.get(&h).map(|&k| (i, k))
			})
			.collect();
		let events = if ours.is_empty() {
			Vec::new()
		} else {
			chain.events_at(hash).expect("the block's events")
		};
		let mut stat = BlockStat {
			number: next,
			timestamp_ms: 0,
			ours: 0,
			succeeded: 0,
			fullness: 0.0,
			extrinsics: xts.len(),
		};
		for (i, k) in ours {
			let mine: Vec<RuntimeEvent> = events
				.iter()
				.filter(|e| e.phase == frame_system::Phase::ApplyExtrinsic(i as u32))
				.map(|e| e.event.clone())
				.collect();
			let result = mine
				.iter()
				.find_map(|e| match e {
					RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
						dispatch_error,
						..
					}) => Some(Err(error_name(dispatch_error))),
					RuntimeEvent::System(frame_system::Event::ExtrinsicSuccess { .. }) => {
						Some(Ok(()))
					}
					_ => None,
				})
				.unwrap_or_else(|| Err("no outcome event".into()));
			stat.ours += 1;
			stat.succeeded += result.is_ok() as usize;
			if outcomes[k].is_none() {
				found += 1;
			}
			outcomes[k] = Some(Outcome { block: next, result, events: mine });
		}
		if stat.ours > 0 {
			stat.timestamp_ms = timestamp_at(chain, hash);
			let used = chain
				.storage_at::<PerDispatchClass<Weight>>(
					&storage_prefix(b"System", b"BlockWeight"),
					Some(hash),
				)
				.ok()
				.flatten()
				.map(|w| w.get(DispatchClass::Normal).ref_time())
				.unwrap_or(0);
			stat.fullness = used as f64 / max;
			blocks.push(stat);
			last_progress = Instant::now();
		}
		if last_report.elapsed() > Duration::from_secs(10) {
			progress!("  #{next}: {found}/{} included", txs.len());
			last_report = Instant::now();
		}
		next += 1;
	}
	Tracked { outcomes, blocks, start_ms }
}

/// A pallet error's name (`Slips.TooManySlipsInBlock`), or the dispatch error as Rust prints it.
fn error_name(e: &sp_runtime::DispatchError) -> String {
	let described = mbds_client::describe_dispatch_error(e);
	described.split(':').next().unwrap_or(&described).to_string()
}

/// One phase's figures.
#[derive(Clone, Debug)]
pub struct PhaseReport {
	pub call: CallKind,
	pub sent: usize,
	pub succeeded: usize,
	/// Successes per second, from the block before the first to the last block with one.
	pub rate: f64,
	pub per_block: (usize, usize, usize),
	pub median_fullness: f64,
	pub blocks: usize,
	/// Failures by error: on chain (pallet error), refused by the pool, never included.
	pub failures: BTreeMap<String, usize>,
	pub wall_s: f64,
}

fn report(
	call: CallKind,
	txs: &[Signed],
	refused: BTreeMap<String, usize>,
	t: &Tracked,
	wall: Duration,
) -> PhaseReport {
	let mut failures = BTreeMap::new();
	for (k, v) in refused {
		*failures.entry(format!("refused by the pool: {k}")).or_default() += v;
	}
	let refused_n: usize = failures.values().sum();
	let mut succeeded = 0;
	let mut missing = 0;
	for o in &t.outcomes {
		match o {
			Some(Outcome { result: Ok(()), .. }) => succeeded += 1,
			Some(Outcome { result: Err(e), .. }) => *failures.entry(e.clone()).or_default() += 1,
			None => missing += 1,
		}
	}
	if missing > refused_n {
		failures.insert("never included".into(), missing - refused_n);
	}
	let with_success: Vec<&BlockStat> = t.blocks.iter().filter(|b| b.succeeded > 0).collect();
	let span_ms = with_success.last().map_or(0, |b| b.timestamp_ms.saturating_sub(t.start_ms));
	let rate = if span_ms == 0 { 0.0 } else { succeeded as f64 * 1000.0 / span_ms as f64 };
	let mut counts: Vec<usize> = t.blocks.iter().map(|b| b.succeeded).collect();
	counts.sort();
	let mut full: Vec<f64> = t.blocks.iter().map(|b| b.fullness).collect();
	full.sort_by(|a, b| a.partial_cmp(b).unwrap());
	let per_block = if counts.is_empty() {
		(0, 0, 0)
	} else {
		(counts[0], counts[counts.len() / 2], counts[counts.len() - 1])
	};
	PhaseReport {
		call,
		sent: txs.len(),
		succeeded,
		rate,
		per_block,
		median_fullness: full.get(full.len() / 2).copied().unwrap_or(0.0),
		blocks: t.blocks.len(),
		failures,
		wall_s: wall.as_secs_f64(),
	}
}

/// The participants of a run.
pub struct Cast {
	pub doctors: Vec<sr25519::Pair>,
	pub patients: Vec<sr25519::Pair>,
	pub payers: Vec<sr25519::Pair>,
	/// The two health authorities whose proxies record accesses (where consents live).
	pub authorities: Vec<sr25519::Pair>,
	pub hospital: Keyring,
}

fn derived(role: &str, i: usize) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//mbds-load//{role}//{i}"), None).expect("a valid URI")
}

impl Cast {
	pub fn new(per_call: usize, with_authorities: bool) -> Cast {
		let patients = per_call.div_ceil(PER_PATIENT);
		Cast {
			doctors: (0..DOCTORS).map(|i| derived("doctor", i)).collect(),
			patients: (0..patients).map(|i| derived("patient", i)).collect(),
			payers: (0..DOCTORS).map(|i| derived("payer", i)).collect(),
			authorities: if with_authorities {
				vec![Keyring::Ferdie.pair(), derived("authority", 1)]
			} else {
				vec![]
			},
			hospital: Keyring::Eve,
		}
	}

	/// Doctor of the `r`-th slip (and grant) of patient `p`: a different one for each `r`.
	pub fn doctor_of(p: usize, r: usize) -> usize {
		(7 * p + r) % DOCTORS
	}
}

fn account(p: &sr25519::Pair) -> AccountId {
	p.public().into()
}

/// A participant's registration by the KMC operator, with a unique identity and keys.
fn register_call(who: &sr25519::Pair, role: Role<AccountId>, tag: &str) -> RuntimeCall {
	let seed = sp_crypto_hashing::blake2_256(tag.as_bytes());
	let mut keys = crate::client::test_keys(0);
	keys.search_key.key = [seed.to_vec(), vec![0u8; 66]].concat().try_into().expect("98 bytes");
	RuntimeCall::Kmc(pallet_kmc::Call::register {
		who: account(who),
		role,
		identity: H256(seed),
		keys,
	})
}

/// Sends `calls` (signed, all at once) and waits until each is included; panics naming the
/// first failure. For set-up.
fn run_all(
	chain: &Client,
	what: &str,
	signers: &[sr25519::Pair],
	calls: Vec<(usize, RuntimeCall)>,
) {
	let after = finalized_number(chain);
	let txs = presign(chain, signers, calls);
	let refused = send(&chain.rpc.url, &txs, 4);
	assert!(refused.is_empty(), "set-up ({what}): the node refused transactions: {refused:?}");
	let t = track(chain, after, &txs, Duration::from_secs(60));
	for (i, o) in t.outcomes.iter().enumerate() {
		match o {
			Some(Outcome { result: Ok(()), .. }) => {}
			Some(Outcome { result: Err(e), .. }) => {
				panic!("set-up ({what}): transaction {i} failed: {e}")
			}
			None => panic!("set-up ({what}): transaction {i} was never included"),
		}
	}
	progress!("set-up: {what}: {} transactions included", txs.len());
}

/// The council seats the hospital (and the health authorities) and names the hospital the
/// chain's institution; the KMC operator registers the doctors and patients and funds the
/// payers; the hospital employs the doctors.
pub fn setup(chain: &Client, cast: &Cast) {
	let mut seats = vec![
		register(cast.hospital, Role::Institution(InstitutionKind::Hospital), 201),
		RuntimeCall::Slips(pallet_slips::Call::set_institution {
			institution: cast.hospital.to_account_id(),
		}),
	];
	for (i, ha) in cast.authorities.iter().enumerate() {
		seats.push(register_call(
			ha,
			Role::Institution(InstitutionKind::HealthAuthority),
			&format!("authority-{i}"),
		));
	}
	let council = crate::client::PRIVATE_COUNCIL.map(|k| k.pair());
	mbds_client::council::motions(chain, seats, &council).expect("the council's motions");
	progress!(
		"set-up: the council seated the hospital{}",
		if cast.authorities.is_empty() { "" } else { " and two health authorities" }
	);

	let operator = [Keyring::Alice.pair()];
	let hospital = cast.hospital.to_account_id();
	let mut calls = Vec::new();
	for (i, d) in cast.doctors.iter().enumerate() {
		calls.push((
			0,
			register_call(
				d,
				Role::Doctor { institution: hospital.clone() },
				&format!("doctor-{i}"),
			),
		));
	}
	for (i, p) in cast.patients.iter().enumerate() {
		calls.push((0, register_call(p, Role::Patient, &format!("patient-{i}"))));
	}
	for p in cast.payers.iter().chain(&cast.authorities) {
		calls.push((
			0,
			RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
				dest: account(p).into(),
				value: 1_000 * mbds_runtime::UNIT,
			}),
		));
	}
	run_all(chain, "registrations and funds", &operator, calls);
	let employ = cast
		.doctors
		.iter()
		.map(|d| (0, RuntimeCall::Kmc(pallet_kmc::Call::employ { doctor: account(d) })))
		.collect();
	run_all(chain, "the hospital employs its doctors", &[cast.hospital.pair()], employ);
}

/// The record hash of slip `i` of a run (unique).
fn record_hash(i: usize) -> H256 {
	H256(sp_crypto_hashing::blake2_256(&(b"mbds-load record", i as u64).encode()))
}

fn slip_call(
	cast: &Cast,
	visits: &[pallet_slips::VisitProof<AccountId, mbds_runtime::Signature>],
	i: usize,
) -> (usize, RuntimeCall) {
	let (p, r) = (i % cast.patients.len(), i / cast.patients.len());
	let d = Cast::doctor_of(p, r);
	let seed = sp_crypto_hashing::blake2_256(&(i as u64).encode());
	let keyword = |k: u8| [vec![k], seed.to_vec(), seed.to_vec(), seed[..17].to_vec()].concat();
	(
		d,
		RuntimeCall::Slips(pallet_slips::Call::submit_slip {
			patient: account(&cast.patients[p]),
			visit: visits[p].clone(),
			generated_at: crate::client::now_ms(),
			tx_type: pallet_slips::TransactionType::Diagnosis,
			content: format!("mbds-load slip {i}: outpatient visit, diagnosis recorded")
				.into_bytes(),
			encrypted_keywords: vec![keyword(1), keyword(2)],
			categories: vec![],
			encrypted_address: seed.repeat(2),
			record_hash: record_hash(i),
		}),
	)
}

/// Slip ids of the `SlipSubmitted` events, by the (doctor, patient) pair that made each.
fn submitted_ids(t: &Tracked) -> HashMap<(AccountId, AccountId), u64> {
	t.outcomes
		.iter()
		.flatten()
		.flat_map(|o| o.events.iter())
		.filter_map(|e| match e {
			RuntimeEvent::Slips(pallet_slips::Event::SlipSubmitted {
				slip_id,
				doctor,
				patient,
				..
			}) => Some(((doctor.clone(), patient.clone()), *slip_id)),
			_ => None,
		})
		.collect()
}

/// One measured phase: sign, send, track, report.
fn phase(
	chain: &Client,
	call: CallKind,
	signers: &[sr25519::Pair],
	calls: Vec<(usize, RuntimeCall)>,
	threads: usize,
) -> (PhaseReport, Vec<Signed>, Tracked) {
	progress!("{}: signing {} transactions", call.name(), calls.len());
	let txs = presign(chain, signers, calls);
	let after = finalized_number(chain).max(chain.best_number().unwrap_or(0));
	let start = Instant::now();
	progress!("{}: sending", call.name());
	let refused = send(&chain.rpc.url, &txs, threads);
	progress!(
		"{}: sent in {:.1} s; waiting for finalised blocks",
		call.name(),
		start.elapsed().as_secs_f64()
	);
	let t = track(chain, after, &txs, Duration::from_secs(60));
	let r = report(call, &txs, refused, &t, start.elapsed());
	progress!("{}: {} of {} succeeded, {:.1}/s", call.name(), r.succeeded, r.sent, r.rate);
	(r, txs, t)
}

/// Runs the phases `kinds` with `per_call` transactions each against `chain` (set up here),
/// consents only where the chain accepts them (`consents`).
pub fn run(
	chain: &Client,
	per_call: usize,
	kinds: &[CallKind],
	consents: bool,
	threads: usize,
) -> Vec<PhaseReport> {
	let cast = Cast::new(per_call, consents);
	setup(chain, &cast);
	phases(chain, &cast, per_call, kinds, threads).into_iter().map(|p| p.report).collect()
}

/// A measured phase: its figures and what became of each of its transactions.
pub struct Phase {
	pub report: PhaseReport,
	pub tracked: Tracked,
}

/// The phases `kinds` with `per_call` transactions each, by `cast` (set up already): grants
/// and accesses only if the cast has health authorities (a chain that accepts consents).
pub fn phases(
	chain: &Client,
	cast: &Cast,
	per_call: usize,
	kinds: &[CallKind],
	threads: usize,
) -> Vec<Phase> {
	let consents = !cast.authorities.is_empty();
	let mut reports = Vec::new();
	let hospital = cast.hospital.to_account_id();

	if kinds.contains(&CallKind::Transfer) {
		let dest: sp_runtime::MultiAddress<AccountId, ()> = Keyring::Bob.to_account_id().into();
		let calls = (0..per_call)
			.map(|i| {
				(
					i % cast.payers.len(),
					RuntimeCall::Balances(pallet_balances::Call::transfer_keep_alive {
						dest: dest.clone(),
						value: mbds_runtime::UNIT,
					}),
				)
			})
			.collect();
		let (report, _, tracked) = phase(chain, CallKind::Transfer, &cast.payers, calls, threads);
		reports.push(Phase { report, tracked });
	}

	let needs_slips = kinds.iter().any(|c| matches!(c, CallKind::Submit | CallKind::Confirm));
	let mut slips: Vec<Option<u64>> = vec![None; per_call];
	if needs_slips {
		let visits: Vec<_> = cast.patients.iter().map(|p| visit_proof_of(p, &hospital)).collect();
		let pair_of = |i: usize| {
			let (p, r) = (i % cast.patients.len(), i / cast.patients.len());
			(account(&cast.doctors[Cast::doctor_of(p, r)]), account(&cast.patients[p]))
		};
		let all: Vec<usize> = (0..per_call).collect();
		let calls = all.iter().map(|&i| slip_call(cast, &visits, i)).collect();
		let (r, _, t) = phase(chain, CallKind::Submit, &cast.doctors, calls, threads);
		let ids = submitted_ids(&t);
		for (i, s) in slips.iter_mut().enumerate() {
			*s = ids.get(&pair_of(i)).copied();
		}
		if kinds.contains(&CallKind::Submit) {
			reports.push(Phase { report: r.clone(), tracked: t });
		}
		// Slips that failed (on spec <= 105, to the per-block limit) are sent again (not
		// measured) until all exist, or a round adds none; at most as many a round as one block
		// took in the phase, since a failed attempt still counts against the doctor's quota.
		let chunk = r.per_block.2.max(1);
		let mut round = 0;
		let mut progressed = true;
		while slips.iter().any(Option::is_none) && progressed {
			round += 1;
			let missing: Vec<usize> =
				(0..per_call).filter(|&i| slips[i].is_none()).take(chunk).collect();
			progress!(
				"top-up round {round}: sending the {} slips that failed again",
				missing.len()
			);
			let calls = missing.iter().map(|&i| slip_call(cast, &visits, i)).collect();
			let after = finalized_number(chain);
			let txs = presign(chain, &cast.doctors, calls);
			send(&chain.rpc.url, &txs, threads);
			let t = track(chain, after, &txs, Duration::from_secs(60));
			let ids = submitted_ids(&t);
			progressed = false;
			for &i in &missing {
				if let Some(id) = ids.get(&pair_of(i)) {
					slips[i] = Some(*id);
					progressed = true;
				}
			}
		}
		let missing = slips.iter().filter(|s| s.is_none()).count();
		assert_eq!(missing, 0, "{missing} slips could not be submitted in {round} top-up rounds");
		if round > 0 {
			progress!("top-up: every slip exists after {round} rounds");
		}
	}

	if kinds.contains(&CallKind::Confirm) {
		let calls = (0..per_call)
			.map(|i| {
				let p = i % cast.patients.len();
				(
					p,
					RuntimeCall::Slips(pallet_slips::Call::confirm_slip {
						slip_id: slips[i].expect("every slip exists"),
						record_hash: record_hash(i),
					}),
				)
			})
			.collect();
		let (report, _, tracked) = phase(chain, CallKind::Confirm, &cast.patients, calls, threads);
		reports.push(Phase { report, tracked });
	}

	let grants = |i: usize| {
		let (p, r) = (i % cast.patients.len(), i / cast.patients.len());
		(p, Cast::doctor_of(p, r))
	};
	if consents && kinds.iter().any(|c| matches!(c, CallKind::Grant | CallKind::Access)) {
		let now = crate::client::now_ms();
		let calls = (0..per_call)
			.map(|i| {
				let (p, d) = grants(i);
				(
					p,
					RuntimeCall::Consent(pallet_consent::Call::grant {
						grantee: Grantee::Account(account(&cast.doctors[d])),
						actions: ActionSet::read_only(),
						scope: GrantScope::AllRecords,
						valid_from: now.saturating_sub(60_000),
						valid_until: now + 24 * 3_600_000,
						purpose: Some(Purpose::Treatment),
					}),
				)
			})
			.collect();
		let (report, _, tracked) = phase(chain, CallKind::Grant, &cast.patients, calls, threads);
		if kinds.contains(&CallKind::Grant) {
			reports.push(Phase { report, tracked });
		}
	}

	if consents && kinds.contains(&CallKind::Access) {
		let base = crate::client::now_ms();
		let calls = (0..per_call)
			.map(|i| {
				let (p, d) = grants(i);
				let proxy = i % cast.authorities.len();
				let statement = mbds_primitives::statements::AccessStatement {
					proxy: account(&cast.authorities[proxy]),
					patient: account(&cast.patients[p]),
					target: AccessTarget::AllRecords,
					action: Action::Read,
					issued_at: base + i as u64,
				};
				let signature = cast.doctors[d].sign(&statement.signing_payload()).into();
				(
					proxy,
					RuntimeCall::Consent(pallet_consent::Call::record_access {
						user: account(&cast.doctors[d]),
						statement,
						signature,
					}),
				)
			})
			.collect();
		let (report, _, tracked) =
			phase(chain, CallKind::Access, &cast.authorities, calls, threads);
		reports.push(Phase { report, tracked });
	}
	reports
}

/// Prints a run's table: per call the successes per second, the ratio to transfers, the
/// successes per block (min/median/max), the median block fullness, and failures by error.
pub fn print_table(title: &str, reports: &[PhaseReport]) {
	let transfers = reports.iter().find(|r| r.call == CallKind::Transfer).map(|r| r.rate);
	println!("\n{title}");
	println!(
		"| call | sent | succeeded | succeeded / s | ratio to transfers | per block min/median/max | median fullness | blocks | failures |"
	);
	println!("|---|---|---|---|---|---|---|---|---|");
	for r in reports {
		let ratio = match transfers {
			Some(t) if t > 0.0 => format!("{:.3}", r.rate / t),
			_ => "-".into(),
		};
		let failures = if r.failures.is_empty() {
			"none".to_string()
		} else {
			r.failures.iter().map(|(k, v)| format!("{v} {k}")).collect::<Vec<_>>().join("; ")
		};
		println!(
			"| {} | {} | {} | {:.1} | {} | {}/{}/{} | {:.0} % | {} | {} |",
			r.call.name(),
			r.sent,
			r.succeeded,
			r.rate,
			ratio,
			r.per_block.0,
			r.per_block.1,
			r.per_block.2,
			r.median_fullness * 100.0,
			r.blocks,
			failures
		);
	}
}
