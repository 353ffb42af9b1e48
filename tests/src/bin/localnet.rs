//! `mbds-localnet`: start local MBDS chains as real processes on loopback and keep them running.
//!
//! Usage: `mbds-localnet [CHAIN[:VALIDATORS] ...]` (default: hospital-local, platform-local,
//! consortium-local). Prints each node's RPC endpoint, then a status line a chain every 15 s
//! until Ctrl-C, which stops every node.

use mbds_runtime::genesis_config_presets::validator_count;
use mbds_tests::Network;
use std::time::Duration;

fn main() {
	let args: Vec<String> = std::env::args().skip(1).collect();
	if args.iter().any(|a| a == "-h" || a == "--help") {
		println!("usage: mbds-localnet [CHAIN[:VALIDATORS] ...]\n  default: hospital-local:4 platform-local:4 consortium-local:5");
		return;
	}
	let chains: Vec<String> = if args.is_empty() {
		vec!["hospital-local".into(), "platform-local".into(), "consortium-local".into()]
	} else {
		args
	};
	let wanted: Vec<(String, usize)> = chains
		.iter()
		.map(|a| {
			let (chain, count) = match a.split_once(':') {
				Some((c, n)) => (c, n.parse().ok()),
				None => (a.as_str(), validator_count(a)),
			};
			let count = count.unwrap_or_else(|| {
				eprintln!(
					"mbds-localnet: `{a}`: give the validator count as CHAIN:N (a number) \
					 unless CHAIN is a known preset"
				);
				std::process::exit(2)
			});
			(chain.to_string(), count)
		})
		.collect();

	let mut nets = Vec::new();
	for (chain, n) in &wanted {
		println!("[localnet] starting {chain} with {n} validators ...");
		let net = Network::start(chain, *n);
		for node in &net.nodes {
			println!(
				"[localnet]   {:<28} rpc ws://127.0.0.1:{}  log {}",
				node.name,
				node.rpc_port,
				node.log_path.display()
			);
		}
		nets.push(net);
	}
	for net in &mut nets {
		match net.wait_finalized(1, Duration::from_secs(180)) {
			Ok(()) => println!("[localnet] {} is finalising blocks", net.chain),
			Err(e) => {
				eprintln!("[localnet] {} failed to finalise: {e}", net.chain);
				std::process::exit(1);
			}
		}
	}
	println!("[localnet] all chains up. Ctrl-C stops them.");
	loop {
		std::thread::sleep(Duration::from_secs(15));
		for net in &mut nets {
			let n = &net.nodes[0];
			match (n.best_number(), n.finalized_number()) {
				(Ok(b), Ok(f)) => {
					println!("[localnet] {:<18} best #{b:<6} finalised #{f}", net.chain)
				}
				(Err(e), _) | (_, Err(e)) => eprintln!("[localnet] {}: {e}", net.chain),
			}
		}
	}
}
