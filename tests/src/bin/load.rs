//! `mbds-load`: the load benchmark (see `mbds_tests::load`). Starts a fresh `--dev` node (or a
//! fresh hospital chain of several validators) per run, sets up the participants, and measures
//! transfers, slip submissions, confirmations, grants and recorded accesses side by side,
//! printing per call the successes per second, the ratio to transfers of the same run, the
//! successes per block, the median block fullness and the failures by error.
//!
//! `mbds-load anchoring [--slips 30] [--max-gap-secs 30]`: the time from a confirmation's
//! finality on hospital A to its items in the consortium's finalised state (see
//! `mbds_tests::load::anchoring`), p50/p95/max over the slips.
//!
//! Usage: `mbds-load [--chain dev|hospital] [--validators 4] [--per-call 6000] [--runs 2]
//! [--calls transfer,submit,confirm,grant,access] [--threads 8]`. `MBDS_NODE` names another
//! `mbds-node` binary (e.g. an older build, for a before/after table). Grants and accesses run
//! only on the dev chain: consents live on the consortium (and the dev chain), not on a
//! hospital's chain.

use mbds_tests::load::{self, CallKind};
use mbds_tests::{Network, Node};
use std::time::Duration;

const USAGE: &str = "usage: mbds-load [--chain dev|hospital] [--validators 4] [--per-call 6000] \
                     [--runs 2] [--calls transfer,submit,confirm,grant,access] [--threads 8]";

fn anchoring(args: impl Iterator<Item = String>) {
	const USAGE: &str = "usage: mbds-load anchoring [--slips 30] [--max-gap-secs 30] [--seed 7]";
	let (mut slips, mut gap, mut seed) = (30usize, 30u64, 7u64);
	let mut args = args.peekable();
	while let Some(a) = args.next() {
		let mut value = || -> u64 {
			args.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
				eprintln!("mbds-load anchoring: {a} needs a whole number\n{USAGE}");
				std::process::exit(2)
			})
		};
		match a.as_str() {
			"--slips" => slips = value() as usize,
			"--max-gap-secs" => gap = value(),
			"--seed" => seed = value(),
			"-h" | "--help" => {
				println!("{USAGE}");
				return;
			}
			other => {
				eprintln!("mbds-load anchoring: unknown argument {other:?}\n{USAGE}");
				std::process::exit(2)
			}
		}
	}
	if slips == 0 {
		eprintln!("mbds-load anchoring: --slips must be positive\n{USAGE}");
		std::process::exit(2)
	}
	let samples = load::anchoring::run(slips, Duration::from_secs(gap), seed);
	load::anchoring::print(&samples);
}

fn main() {
	if std::env::args().nth(1).as_deref() == Some("anchoring") {
		return anchoring(std::env::args().skip(2));
	}
	let (mut chain, mut validators, mut per_call, mut runs, mut threads) =
		("dev".to_string(), 4usize, 6000usize, 2usize, 8usize);
	let mut kinds = CallKind::ALL.to_vec();
	let mut args = std::env::args().skip(1);
	let fail = |m: String| -> ! {
		eprintln!("mbds-load: {m}\n{USAGE}");
		std::process::exit(2)
	};
	while let Some(a) = args.next() {
		let mut value = || args.next().unwrap_or_else(|| fail(format!("{a} needs a value")));
		let number = |v: String, what: &str| -> usize {
			v.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| {
				fail(format!("{what} must be a positive whole number, not {v:?}"))
			})
		};
		match a.as_str() {
			"--chain" => {
				chain = value();
				if chain != "dev" && chain != "hospital" {
					fail(format!("--chain is dev or hospital, not {chain:?}"))
				}
			}
			"--validators" => validators = number(value(), "--validators"),
			"--per-call" => per_call = number(value(), "--per-call"),
			"--runs" => runs = number(value(), "--runs"),
			"--threads" => threads = number(value(), "--threads"),
			"--calls" => {
				kinds = value()
					.split(',')
					.map(|c| {
						CallKind::parse(c.trim())
							.unwrap_or_else(|| fail(format!("unknown call {c:?} in --calls")))
					})
					.collect();
				kinds.sort();
				kinds.dedup();
			}
			"-h" | "--help" => {
				println!("{USAGE}");
				return;
			}
			other => fail(format!("unknown argument {other:?}")),
		}
	}
	// 75 doctors with 200 feeless transactions each per 10 minutes (slips and their top-ups).
	if per_call > 15_000 {
		fail(format!("--per-call {per_call} exceeds the doctors' feeless quota (at most 15000)"))
	}
	let consents = chain == "dev";
	if !consents {
		kinds.retain(|k| !matches!(k, CallKind::Grant | CallKind::Access));
	}
	let node_args: Vec<String> =
		["--pool-limit", "100000", "--pool-kbytes", "512000", "--rpc-max-connections", "1000"]
			.map(String::from)
			.to_vec();
	let dir = tempfile::Builder::new().prefix("mbds-load-").tempdir().expect("a temp dir");
	let mut tables = Vec::new();
	for run in 1..=runs {
		let title = format!(
			"{} (run {run} of {runs}, {per_call} per call, node {})",
			if consents {
				"dev chain, one node".to_string()
			} else {
				format!("hospital chain, {validators} validators")
			},
			mbds_tests::node_binary().display()
		);
		eprintln!("[mbds-load] {title}: starting");
		let reports = if consents {
			let mut args = vec!["--dev".to_string(), "--tmp".into()];
			args.extend(node_args.iter().cloned());
			let mut node = Node::start("dev", &args, &dir.path().join(format!("dev-run{run}.log")));
			node.wait_for("block 1", Duration::from_secs(120), |n| Ok(n.best_number()? >= 1))
				.expect("the dev node makes blocks");
			let reports = load::run(&node.client(), per_call, &kinds, true, threads);
			let _ = node.stop(Duration::from_secs(30));
			reports
		} else {
			let mut net = Network::start_with("hospital-local", validators, &node_args);
			net.wait_finalized(1, Duration::from_secs(180)).expect("the hospital chain finalises");
			let reports = load::run(&net.nodes[0].client(), per_call, &kinds, false, threads);
			let _ = net.stop();
			reports
		};
		load::print_table(&title, &reports);
		tables.push((title, reports));
	}
	println!("\n## mbds-load: all runs");
	for (title, reports) in &tables {
		load::print_table(title, reports);
	}
}
