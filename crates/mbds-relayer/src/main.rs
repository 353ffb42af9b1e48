//! `mbds-relayer`: anchors private chains' summary batches on the consortium chain.
//!
//! ```text
//! mbds-relayer run --consortium http://127.0.0.1:9944 --private http://127.0.0.1:9945 [--private ...]
//! mbds-relayer register --consortium URL --private URL --sudo //Alice
//! mbds-relayer status --consortium URL --private URL
//! ```
//!
//! Logs go to stderr through `tracing` (target `mbds-relayer`), filtered by `RUST_LOG`
//! (default `info`). `run --prometheus-port PORT` serves Prometheus metrics on `/metrics`.

use clap::{Parser, Subcommand};
use mbds_relayer::{metrics, run, Authority, Metrics, Relayer, RunOptions, LOG_TARGET};
use sp_core::sr25519;
use std::{
	io::IsTerminal,
	net::{Ipv4Addr, SocketAddr},
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
	about = "Anchor MBDS private chains' summary batches on the consortium chain",
	after_help = "Logs go to stderr (target `mbds-relayer`); set RUST_LOG to filter them, e.g. \
		RUST_LOG=mbds-relayer=debug (default: info)."
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
		/// Log each chain's lag every this many seconds.
		#[arg(long, default_value_t = 15)]
		report_secs: u64,
		/// Serve Prometheus metrics (per chain: lag in blocks, batches relayed, items
		/// anchored, errors by kind, last relay time) on http://127.0.0.1:PORT/metrics.
		/// Off unless given.
		#[arg(long, value_name = "PORT")]
		prometheus_port: Option<u16>,
		/// Listen for Prometheus on all interfaces (0.0.0.0) instead of loopback only.
		#[arg(long, requires = "prometheus_port")]
		prometheus_external: bool,
	},
	/// Governance: register the private chain(s) on the consortium at their current finalised
	/// header and GRANDPA authority set, by a council motion (or root on a development chain).
	#[command(group(clap::ArgGroup::new("by").required(true).args(["council", "sudo"])))]
	Register {
		/// A consortium council member's secret URI, once per member (two thirds of the
		/// seats: 4 of the local consortium's 5, //Alice to //Dave): the first proposes, the
		/// others vote aye, the first closes.
		#[arg(long = "council", value_name = "SURI")]
		council: Vec<String>,
		/// Root key of a development consortium (`--dev`), as a secret URI.
		#[arg(long, value_name = "SURI", conflicts_with = "council")]
		sudo: Option<String>,
	},
	/// Print how far each chain's anchoring is.
	Status,
}

fn pair(suri: &str, what: &str) -> Result<sr25519::Pair, String> {
	mbds_client::keys::secret_uri(what, suri).map_err(String::from)
}

fn relayers(cli: &Cli, signer: &sr25519::Pair) -> Result<Vec<Relayer>, String> {
	if cli.private.is_empty() {
		return Err("no --private chain given: name at least one private chain node URL".into());
	}
	Ok(cli
		.private
		.iter()
		.map(|url| Relayer::new(url, &cli.consortium, signer.clone()))
		.collect::<mbds_client::Result<_>>()?)
}

/// Human-readable logs on stderr, filtered by `RUST_LOG` (default `info`).
fn init_logging() {
	let filter = tracing_subscriber::EnvFilter::builder()
		.with_default_directive(tracing_subscriber::filter::LevelFilter::INFO.into())
		.from_env_lossy();
	let _ = tracing_subscriber::fmt()
		.with_env_filter(filter)
		.with_writer(std::io::stderr)
		.with_ansi(std::io::stderr().is_terminal())
		.try_init();
}

fn main() -> ExitCode {
	let cli = Cli::parse();
	init_logging();
	let result = match &cli.command {
		Command::Run { signer, poll_ms, report_secs, prometheus_port, prometheus_external } => {
			pair(signer, "signer").and_then(|signer| relayers(&cli, &signer)).and_then(|relayers| {
				let metrics = match prometheus_port {
					Some(port) => {
						let metrics = Metrics::new().map_err(|e| format!("metrics: {e}"))?;
						let ip = if *prometheus_external {
							Ipv4Addr::UNSPECIFIED
						} else {
							Ipv4Addr::LOCALHOST
						};
						metrics::serve(SocketAddr::from((ip, *port)), metrics.registry().clone())?;
						Some(metrics)
					}
					None => None,
				};
				let stop = Arc::new(AtomicBool::new(false));
				let flag = stop.clone();
				ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed))
					.map_err(|e| format!("installing the SIGINT/SIGTERM handler: {e}"))?;
				for r in &relayers {
					tracing::info!(
						target: LOG_TARGET,
						"relaying chain {} ({}) to the consortium ({})",
						r.chain_id,
						r.private.rpc.url,
						r.consortium.rpc.url
					);
				}
				let options = RunOptions {
					poll: Duration::from_millis(*poll_ms),
					report: Duration::from_secs(*report_secs),
					metrics,
				};
				run(&relayers, &options, || stop.load(Ordering::Relaxed));
				tracing::info!(target: LOG_TARGET, "stopped");
				Ok(())
			})
		}
		Command::Register { council, sudo } => (|| {
			let by = match sudo {
				Some(suri) => Authority::Sudo(pair(suri, "sudo")?),
				None => Authority::Council(
					council.iter().map(|s| pair(s, "council")).collect::<Result<_, _>>()?,
				),
			};
			let signer = match &by {
				Authority::Sudo(p) => p.clone(),
				Authority::Council(m) => m[0].clone(),
			};
			for r in relayers(&cli, &signer)? {
				r.register(&by)?;
				tracing::info!(
					target: LOG_TARGET,
					"chain {} registered on the consortium",
					r.chain_id
				);
			}
			Ok(())
		})(),
		// The status lines are this command's output (stdout), not logs.
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
			tracing::error!(target: LOG_TARGET, "{e}");
			ExitCode::FAILURE
		}
	}
}
