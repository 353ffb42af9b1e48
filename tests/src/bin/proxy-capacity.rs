//! `proxy-capacity`: how many record reads a minute the proxies serve to concurrent grantees,
//! and how long each read takes, for the proxy of today (16 worker threads) against the proxy
//! that served one request at a time (`mbds-proxy --workers 1`), measured in the same run on
//! the same network.
//!
//! It starts the journey's network (four chains of three validators, the relayer, three proxies;
//! [`Journey::start`] and [`Journey::setup`]), P's doctor writes one record for the patient and
//! the patient confirms it, waits until it is anchored (a grantee finds it by keyword search),
//! registers G grantee doctors on the consortium, and the patient grants each of them read
//! access (threshold 2 over the three proxies). Then, for each configuration (baseline:
//! the three proxies restarted with `--workers 1`; current: restarted with `--workers 16`;
//! their state folders keep the fragments), G grantees read the record at once, each in a loop
//! for D seconds, every read a `mbds record get` process through the proxies (the time of a read
//! is from spawn to exit: connecting to the consortium, two proxies' re-encryptions, each
//! after its access record is final, decryption). Every served read is compared with the
//! original record. It prints progress while it runs, then per configuration the reads
//! completed per minute in the window, p50/p95/max latency and failures by error, and the ratio
//! current/baseline.
//!
//! Usage: `proxy-capacity [--grantees G] [--secs D] [--dir FOLDER]` (defaults: 20 grantees,
//! 120 s; a fresh folder under the system temp dir, kept for the logs).

use mbds_tests::journey::{fixture, Journey};
use mbds_tests::workspace_binary;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// The proxy configurations compared: name and worker threads. The first is the baseline.
const CONFIGS: [(&str, usize); 2] = [("baseline", 1), ("current", 16)];
/// The record read, and a keyword it carries (to find it once anchored).
const FIXTURE: &str = "1-platform-online-visit.json";
const KEYWORD: &str = "http://hl7.org/fhir/sid/icd-10|E11.9";
/// Pause after a failed read before the grantee tries again.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

struct Opts {
	grantees: usize,
	secs: u64,
	dir: PathBuf,
}

fn usage() -> ! {
	eprintln!("usage: proxy-capacity [--grantees G (20)] [--secs D (120)] [--dir FOLDER]");
	std::process::exit(2)
}

fn parse_args() -> Opts {
	let mut opts = Opts {
		grantees: 20,
		secs: 120,
		dir: std::env::temp_dir().join(format!("mbds-capacity-{}", std::process::id())),
	};
	let mut args = std::env::args().skip(1);
	while let Some(a) = args.next() {
		let mut value = || args.next().unwrap_or_else(|| usage());
		match a.as_str() {
			"--grantees" => opts.grantees = value().parse().unwrap_or_else(|_| usage()),
			"--secs" => opts.secs = value().parse().unwrap_or_else(|_| usage()),
			"--dir" => opts.dir = PathBuf::from(value()),
			"-h" | "--help" => {
				println!(
					"usage: proxy-capacity [--grantees G (20)] [--secs D (120)] [--dir FOLDER]"
				);
				std::process::exit(0)
			}
			_ => usage(),
		}
	}
	if opts.grantees == 0 || opts.secs == 0 {
		usage()
	}
	opts
}

/// Proxies this program started (restarted with `--workers N`), stopped when dropped.
#[derive(Default)]
struct Proxies(Vec<Child>);

impl Proxies {
	fn stop(&mut self) {
		for child in &mut self.0 {
			let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
		}
		let start = Instant::now();
		for child in &mut self.0 {
			while matches!(child.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(10)
			{
				std::thread::sleep(Duration::from_millis(100));
			}
			let _ = child.kill();
			let _ = child.wait();
		}
		self.0.clear();
	}
}

impl Drop for Proxies {
	fn drop(&mut self) {
		self.stop();
	}
}

/// One finished read.
struct Sample {
	/// When it ended, from the start of the window.
	ended: Duration,
	took: Duration,
	/// `Ok` if served and equal to the original; else the error, generalised.
	outcome: Result<(), String>,
	grantee: usize,
}

/// What one grantee needs to read the record.
#[derive(Clone)]
struct ReadArgs(Vec<String>);

/// One `mbds --json record get`, timed from spawn to exit.
fn read_once(args: &ReadArgs, original: &Value) -> (Duration, Result<(), String>) {
	let start = Instant::now();
	let out = Command::new(workspace_binary("mbds"))
		.arg("--json")
		.args(&args.0)
		.stdin(Stdio::null())
		.output();
	let took = start.elapsed();
	let out = match out {
		Ok(out) => out,
		Err(e) => return (took, Err(format!("spawning mbds: {e}"))),
	};
	if !out.status.success() {
		let err = String::from_utf8_lossy(&out.stderr);
		return (took, Err(general(err.trim().trim_start_matches("mbds: error: "))));
	}
	let v: Value = match serde_json::from_slice(&out.stdout) {
		Ok(v) => v,
		Err(e) => return (took, Err(format!("answer is not JSON: {e}"))),
	};
	if v["fhir"] != *original {
		return (
			took,
			Err(format!(
				"WRONG PLAINTEXT: decrypted {} is not the original record",
				v["fhir"]["id"]
			)),
		);
	}
	(took, Ok(()))
}

/// An error's first line with accounts, hashes and numbers blanked, so that like errors
/// count together.
fn general(err: &str) -> String {
	let line = err.lines().next().unwrap_or("(no message)");
	let mut out = String::new();
	let mut word = String::new();
	let flush = |word: &mut String, out: &mut String| {
		if word.starts_with("0x") || word.len() >= 32 {
			out.push('…');
		} else if !word.is_empty() && word.chars().all(|c| c.is_ascii_digit()) {
			out.push('N');
		} else {
			out.push_str(word);
		}
		word.clear();
	};
	for c in line.chars() {
		if c.is_ascii_alphanumeric() {
			word.push(c);
		} else {
			flush(&mut word, &mut out);
			out.push(c);
		}
	}
	flush(&mut word, &mut out);
	if out.chars().count() > 160 {
		out = out.chars().take(160).collect::<String>() + "…";
	}
	out
}

/// Nearest-rank percentile of sorted seconds.
fn percentile(sorted: &[f64], p: f64) -> f64 {
	if sorted.is_empty() {
		return f64::NAN;
	}
	let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
	sorted[rank.clamp(1, sorted.len()) - 1]
}

/// The figures of one configuration.
struct Figures {
	name: String,
	workers: usize,
	/// Reads served in the window.
	served: usize,
	per_minute: f64,
	/// Served reads that ended after the window (they started in it).
	drained: usize,
	p50: f64,
	p95: f64,
	max: f64,
	failures: BTreeMap<String, usize>,
	/// Grantees (by index) with at least one read checked equal to the original.
	checked: Vec<usize>,
}

/// G grantees read for `secs`, each one read at a time; progress every 10 s.
fn measure(
	name: &str,
	workers: usize,
	reads: &[ReadArgs],
	original: &Value,
	secs: u64,
	stop: &Arc<AtomicBool>,
) -> Result<Figures, String> {
	let window = Duration::from_secs(secs);
	let (tx, rx) = mpsc::channel::<Sample>();
	let in_flight = Arc::new(AtomicUsize::new(0));
	let start = Instant::now();
	let threads: Vec<_> = reads
		.iter()
		.cloned()
		.enumerate()
		.map(|(grantee, args)| {
			let (tx, original, in_flight, stop) =
				(tx.clone(), original.clone(), in_flight.clone(), stop.clone());
			std::thread::spawn(move || {
				while start.elapsed() < window && !stop.load(Ordering::SeqCst) {
					in_flight.fetch_add(1, Ordering::SeqCst);
					let (took, outcome) = read_once(&args, &original);
					in_flight.fetch_sub(1, Ordering::SeqCst);
					let failed = outcome.is_err();
					let _ = tx.send(Sample { ended: start.elapsed(), took, outcome, grantee });
					if failed {
						std::thread::sleep(RETRY_PAUSE);
					}
				}
			})
		})
		.collect();
	drop(tx);
	let mut samples: Vec<Sample> = Vec::new();
	let mut next_report = Duration::from_secs(10);
	let mut wrong = None;
	loop {
		match rx.recv_timeout(Duration::from_millis(200)) {
			Ok(s) => {
				if let Err(e) = &s.outcome {
					if e.starts_with("WRONG PLAINTEXT") && wrong.is_none() {
						// Stop every grantee, wait for them, then fail.
						wrong = Some(format!("grantee {}: {e}", s.grantee + 1));
						stop.store(true, Ordering::SeqCst);
					}
				}
				samples.push(s)
			}
			Err(mpsc::RecvTimeoutError::Disconnected) => break,
			Err(mpsc::RecvTimeoutError::Timeout) => {}
		}
		let now = start.elapsed();
		if now >= next_report {
			next_report += Duration::from_secs(10);
			let ok: Vec<f64> = samples
				.iter()
				.filter(|s| s.outcome.is_ok())
				.map(|s| s.took.as_secs_f64())
				.collect();
			let mut sorted = ok.clone();
			sorted.sort_by(f64::total_cmp);
			let phase =
				if now < window { "" } else { " (window over; waiting for reads in flight)" };
			println!(
				"[{name}] {:>4.0} s: {} read(s) served, {} failed, {} in flight, p50 so far {:.1} s{phase}",
				now.as_secs_f64(),
				ok.len(),
				samples.len() - ok.len(),
				in_flight.load(Ordering::SeqCst),
				percentile(&sorted, 50.0),
			);
		}
	}
	for t in threads {
		let _ = t.join();
	}
	if let Some(e) = wrong {
		return Err(e);
	}
	let mut lat: Vec<f64> =
		samples.iter().filter(|s| s.outcome.is_ok()).map(|s| s.took.as_secs_f64()).collect();
	lat.sort_by(f64::total_cmp);
	let served = samples.iter().filter(|s| s.outcome.is_ok() && s.ended <= window).count();
	let mut failures = BTreeMap::new();
	for s in &samples {
		if let Err(e) = &s.outcome {
			*failures.entry(e.clone()).or_insert(0) += 1;
		}
	}
	let mut checked: Vec<usize> =
		samples.iter().filter(|s| s.outcome.is_ok()).map(|s| s.grantee).collect();
	checked.sort_unstable();
	checked.dedup();
	Ok(Figures {
		name: name.into(),
		workers,
		served,
		per_minute: served as f64 * 60.0 / secs as f64,
		drained: lat.len() - served,
		p50: percentile(&lat, 50.0),
		p95: percentile(&lat, 95.0),
		max: lat.last().copied().unwrap_or(f64::NAN),
		failures,
		checked,
	})
}

/// The `--listen` port in a proxy's arguments.
fn listen_port(args: &[String]) -> Result<u16, String> {
	args.iter()
		.position(|a| a == "--listen")
		.and_then(|i| args.get(i + 1))
		.and_then(|a| a.rsplit(':').next())
		.and_then(|p| p.parse().ok())
		.ok_or_else(|| format!("no --listen in the proxy's arguments {args:?}"))
}

/// Stops the proxies running now and starts the three with `--workers N`, on the same
/// addresses and state folders; waits until each listens.
fn restart_proxies(
	journey: &mut Journey,
	mine: &mut Proxies,
	workers: usize,
	dir: &Path,
) -> Result<(), String> {
	mine.stop();
	let runs = journey.proxy_args();
	for (_, i) in &runs {
		journey.procs[*i].stop();
	}
	for (n, (args, _)) in runs.iter().enumerate() {
		let log = dir.join(format!("proxy-{}.workers-{workers}.log", n + 1));
		let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
		let child = Command::new(workspace_binary("mbds-proxy"))
			.args(args)
			.args(["--workers".to_string(), workers.to_string()])
			.stdout(file.try_clone().map_err(|e| e.to_string())?)
			.stderr(file)
			.stdin(Stdio::null())
			.spawn()
			.map_err(|e| format!("starting mbds-proxy: {e}"))?;
		mine.0.push(child);
		let port = listen_port(args)?;
		let start = Instant::now();
		while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
			if let Ok(Some(status)) = mine.0[n].try_wait() {
				let log = std::fs::read_to_string(&log).unwrap_or_default();
				return Err(format!("proxy {} exited ({status}): {log}", n + 1));
			}
			if start.elapsed() > Duration::from_secs(60) {
				return Err(format!(
					"proxy {} did not listen on port {port} within 60 s; see {}",
					n + 1,
					log.display()
				));
			}
			std::thread::sleep(Duration::from_millis(200));
		}
	}
	Ok(())
}

/// Reads until one is served (the proxies' light clients catch up after a restart).
fn warm_up(read: &ReadArgs, original: &Value, what: &str) -> Result<f64, String> {
	let start = Instant::now();
	loop {
		let (took, outcome) = read_once(read, original);
		match outcome {
			Ok(()) => return Ok(took.as_secs_f64()),
			Err(e) if e.starts_with("WRONG PLAINTEXT") => return Err(e),
			Err(e) if start.elapsed() > Duration::from_secs(180) => {
				return Err(format!("{what}: no read served in 180 s; last error: {e}"))
			}
			Err(e) => {
				println!("    (not served yet: {e}; retrying)");
				std::thread::sleep(Duration::from_secs(3));
			}
		}
	}
}

fn run(
	journey: &mut Journey,
	opts: &Opts,
	mine: &mut Proxies,
	stop: &Arc<AtomicBool>,
) -> Result<Vec<Figures>, String> {
	let t = Instant::now();
	journey.setup()?;
	println!("[capacity] network and proxies up in {:.0} s", t.elapsed().as_secs_f64());

	println!("\n[capacity] P's doctor writes one record for the patient; the patient confirms it");
	let p_chain = journey.chains[0].1.clone();
	let record = journey.write_and_confirm("doc-p", &p_chain, FIXTURE, "consultation")?;
	let original: Value = serde_json::from_str(
		&std::fs::read_to_string(fixture(FIXTURE)).map_err(|e| format!("{FIXTURE}: {e}"))?,
	)
	.map_err(|e| format!("{FIXTURE}: {e}"))?;

	// The bootstrap KMC operator every preset appoints registers them.
	let (c, operator) = (journey.c(), "//Alice");
	let role = format!("doctor:{}", journey.account("inst-p")?);
	let names: Vec<String> = (1..=opts.grantees).map(|i| format!("grantee-{i:02}")).collect();
	println!(
		"\n[capacity] {} grantee doctors of platform P make keys and are registered on the consortium",
		names.len()
	);
	for who in &names {
		let (k, p) = (journey.keys(who), journey.public(who));
		if !Path::new(&k).exists() {
			journey.must(&["keys", "new", "--out", &k])?;
		}
		journey.must(&["keys", "export", "--keys", &k, "--out", &p])?;
		let identity = format!("verified identity of {who}");
		journey.must(&[
			"kmc",
			"register",
			"--public",
			&p,
			"--role",
			&role,
			"--identity",
			&identity,
			"--chain",
			&c,
			"--operator",
			operator,
		])?;
	}

	// Platform P confirms it employs them (a doctor acts only then).
	let mut employ: Vec<String> =
		["kmc", "employ", "--keys", &journey.keys("inst-p"), "--chain", &c]
			.into_iter()
			.map(String::from)
			.collect();
	for who in &names {
		employ.extend(["--doctor".into(), journey.account(who)?]);
	}
	journey.must(&employ)?;

	println!("\n[capacity] the patient grants each of them read access (2 of 3 proxies)");
	let pk = journey.keys("patient");
	for who in &names {
		let to = journey.account(who)?;
		let mut args: Vec<String> = ["consent", "grant", "--keys", &pk, "--consortium", &c]
			.into_iter()
			.chain(["--to", &to, "--days", "7"])
			.map(String::from)
			.collect();
		args.extend(journey.share_args());
		let g = journey.must(&args)?;
		let shared = g["proxies"].as_array().map(|a| a.len()).unwrap_or(0);
		if shared < 3 {
			println!("    (grant {} for {who}: fragments with {shared} proxies only)", g["grant"]);
		}
	}

	println!("\n[capacity] waiting until the record is anchored on the consortium");
	let trapdoor = journey.trapdoor(&[KEYWORD])?;
	let found = journey.search_until(&names[0], &trapdoor, 1)?;
	if !found.contains(&record) {
		return Err(format!("{} found {found:?}, not the record {record}", names[0]));
	}

	let patient = journey.account("patient")?;
	let store = journey.store();
	let reads: Vec<ReadArgs> = names
		.iter()
		.map(|who| {
			let mut a: Vec<String> = ["record", "get", "--keys", &journey.keys(who)]
				.into_iter()
				.chain(["--consortium", &c, "--patient", &patient, "--record", &record])
				.chain(["--store", &store])
				.map(String::from)
				.collect();
			a.extend(journey.share_args());
			ReadArgs(a)
		})
		.collect();

	let mut figures = Vec::new();
	for (name, workers) in CONFIGS {
		if stop.load(Ordering::SeqCst) {
			return Err("stopped (Ctrl-C)".into());
		}
		println!(
			"\n[capacity] {name}: the three proxies restart with --workers {workers} (same state folders)"
		);
		restart_proxies(journey, mine, workers, &opts.dir)?;
		let warm = warm_up(&reads[0], &original, name)?;
		println!("    one read served in {warm:.1} s (warm-up, not counted)");
		println!(
			"[capacity] {name}: {} grantees read at once, each in a loop, for {} s",
			reads.len(),
			opts.secs
		);
		let f = measure(name, workers, &reads, &original, opts.secs, stop)?;
		if stop.load(Ordering::SeqCst) {
			return Err("stopped (Ctrl-C)".into());
		}
		println!(
			"[capacity] {name}: {} reads served in the window ({:.1}/min), p50 {:.1} s, p95 {:.1} s, max {:.1} s, {} failed",
			f.served,
			f.per_minute,
			f.p50,
			f.p95,
			f.max,
			f.failures.values().sum::<usize>()
		);
		figures.push(f);
	}
	Ok(figures)
}

fn main() {
	let opts = parse_args();
	let stop = Arc::new(AtomicBool::new(false));
	let flag = stop.clone();
	ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).expect("Ctrl-C handler");
	println!(
		"[capacity] {} grantees, {} s per configuration; work folder {} (keys, store, logs)",
		opts.grantees,
		opts.secs,
		opts.dir.display()
	);
	// The proxies are restarted with `--workers`: a binary built before it existed would
	// refuse the option only after the whole setup.
	let help = Command::new(workspace_binary("mbds-proxy")).arg("--help").output();
	if !help.is_ok_and(|h| String::from_utf8_lossy(&h.stdout).contains("--workers")) {
		eprintln!(
			"proxy-capacity: the built mbds-proxy has no --workers option; build the binaries first (cargo build --release --workspace --exclude mbds-bencher)"
		);
		std::process::exit(1);
	}
	let started = Instant::now();
	let mut journey = match Journey::start(&opts.dir, Box::new(|l| println!("{l}"))) {
		Ok(j) => j,
		Err(e) => {
			eprintln!("proxy-capacity: {e}");
			std::process::exit(1);
		}
	};
	let mut mine = Proxies::default();
	let result = run(&mut journey, &opts, &mut mine, &stop);
	mine.stop();
	journey.stop();
	let figures = match result {
		Ok(f) => f,
		Err(e) => {
			eprintln!("\n[capacity] FAILED: {e}\n[capacity] logs in {}", opts.dir.display());
			std::process::exit(1);
		}
	};
	report(&figures, &opts);
	println!(
		"[capacity] done in {:.0} s; logs in {}",
		started.elapsed().as_secs_f64(),
		opts.dir.display()
	);
	let mut checked: Vec<usize> = figures.iter().flat_map(|f| f.checked.clone()).collect();
	checked.sort_unstable();
	checked.dedup();
	if checked.len() < opts.grantees {
		println!(
			"[capacity] FAILED: only {} of {} grantees had a read served and checked against the original record",
			checked.len(),
			opts.grantees
		);
		std::process::exit(1);
	}
}

fn report(figures: &[Figures], opts: &Opts) {
	println!(
		"\n== Proxy capacity: {} concurrent grantees, `mbds record get` through 2 of 3 proxies, {} s per configuration ==",
		opts.grantees, opts.secs
	);
	println!(
		"{:<10} {:>7} {:>7} {:>10} {:>8} {:>8} {:>8} {:>7} {:>8}",
		"config", "workers", "served", "reads/min", "p50 s", "p95 s", "max s", "failed", "checked"
	);
	for f in figures {
		println!(
			"{:<10} {:>7} {:>7} {:>10.1} {:>8.1} {:>8.1} {:>8.1} {:>7} {:>5}/{}",
			f.name,
			f.workers,
			f.served,
			f.per_minute,
			f.p50,
			f.p95,
			f.max,
			f.failures.values().sum::<usize>(),
			f.checked.len(),
			opts.grantees
		);
	}
	let drained: Vec<String> =
		figures.iter().map(|f| format!("{} {}", f.name, f.drained)).collect();
	println!(
		"(served: reads that ended within the window; p50/p95/max over every served read, also those that started in the window and ended after it: {}; checked: grantees whose decrypted record equalled the original)",
		drained.join(", ")
	);
	for f in figures {
		for (error, n) in &f.failures {
			println!("{} failure x{n}: {error}", f.name);
		}
	}
	if let [base, current] = figures {
		println!(
			"ratio current/baseline: reads/min x{:.2}, p50 latency x{:.2}, p95 latency x{:.2}",
			current.per_minute / base.per_minute,
			current.p50 / base.p50,
			current.p95 / base.p95
		);
	}
}
