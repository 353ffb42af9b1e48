//! `mbds-relayer`: anchors private chains' summary batches on the consortium chain.
//!
//! ```text
//! mbds-relayer run --consortium http://127.0.0.1:9944 --private http://127.0.0.1:9945 [--private ...]
//! mbds-relayer register --consortium URL --private URL --sudo //Alice
//! mbds-relayer status --consortium URL --private URL
//! ```

use clap::{Parser, Subcommand};
use mbds_relayer::{run, Relayer};
use sp_core::{sr25519, Pair};
use std::{
	process::ExitCode,
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc,
	},
	time::Duration,
};

#[derive(Parser)]
#[command(
	name = "mbds-relayer",
	about = "Anchor MBDS private chains' summary batches on the consortium chain"
)]
struct Cli {
	/// Consortium chain node (HTTP or WS JSON-RPC URL).
	#[arg(long, global = true, default_value = "http://127.0.0.1:9944")]
	consortium: String,
	/// Private chain node(s) (hospital or platform), one relayed chain each.
	#[arg(long = "private", global = true)]
	private: Vec<String>,
	#[command(subcommand)]
	command: Command,
}

#[derive(Subcommand)]
enum Command {
	/// Relay until stopped (Ctrl-C / SIGTERM). Resumes from what the consortium anchored.
	Run {
		/// Account that signs the submissions (secret URI; any funded account).
		#[arg(long, default_value = "//Ferdie")]
		signer: String,
		/// Wait between idle rounds, milliseconds.
		#[arg(long, default_value_t = 1000)]
		poll_ms: u64,
		/// Print each chain's lag every this many seconds.
		#[arg(long, default_value_t = 15)]
		report_secs: u64,
	},
	/// Governance: register the private chain(s) on the consortium at their current finalised
	/// header and GRANDPA authority set.
	Register {
		/// Root key (sudo) of the consortium, as a secret URI.
		#[arg(long)]
		sudo: String,
	},
	/// Print how far each chain's anchoring is.
	Status,
}

fn pair(suri: &str, what: &str) -> Result<sr25519::Pair, String> {
	sr25519::Pair::from_string(suri, None)
		.map_err(|e| format!("--{what}: not a valid sr25519 secret URI ({e:?}); e.g. //Alice"))
}

fn relayers(cli: &Cli, signer: &sr25519::Pair) -> Result<Vec<Relayer>, String> {
	if cli.private.is_empty() {
		return Err("no --private chain given: name at least one private chain node URL".into());
	}
	cli.private.iter().map(|url| Relayer::new(url, &cli.consortium, signer.clone())).collect()
}

fn main() -> ExitCode {
	let cli = Cli::parse();
	let result = match &cli.command {
		Command::Run { signer, poll_ms, report_secs } => {
			pair(signer, "signer").and_then(|signer| relayers(&cli, &signer)).and_then(|relayers| {
				let stop = Arc::new(AtomicBool::new(false));
				let flag = stop.clone();
				ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
					.map_err(|e| format!("installing the SIGINT/SIGTERM handler: {e}"))?;
				for r in &relayers {
					println!(
						"relaying chain {} ({}) to the consortium ({})",
						r.chain_id, r.private.rpc.url, r.consortium.rpc.url
					);
				}
				run(
					&relayers,
					Duration::from_millis(*poll_ms),
					Duration::from_secs(*report_secs),
					|| stop.load(Ordering::Relaxed),
				);
				println!("stopped");
				Ok(())
			})
		}
		Command::Register { sudo } => pair(sudo, "sudo").and_then(|sudo| {
			for r in relayers(&cli, &sudo)? {
				r.register(&sudo)?;
				println!("chain {} registered on the consortium", r.chain_id);
			}
			Ok(())
		}),
		Command::Status => {
			pair("//Alice", "signer").and_then(|p| relayers(&cli, &p)).and_then(|relayers| {
				for r in relayers {
					println!("{}", r.status()?);
				}
				Ok(())
			})
		}
	};
	match result {
		Ok(()) => ExitCode::SUCCESS,
		Err(e) => {
			eprintln!("mbds-relayer: {e}");
			ExitCode::FAILURE
		}
	}
}
