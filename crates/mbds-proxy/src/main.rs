//! `mbds-proxy`: the health authority's proxy service. See the crate docs.
//!
//! Logs are `tracing` events on standard error, filtered by `RUST_LOG` (default `info`; e.g.
//! `RUST_LOG=info,mbds-proxy::front=debug`): targets `mbds-proxy::front`, `mbds-proxy::audit`,
//! `mbds-proxy::refusal`, `mbds-proxy::chain`. Metrics: see `mbds_proxy::metrics`.

use clap::Parser;
use mbds_client::{open_stores, ParticipantKeys};
use mbds_proxy::{
	consortium::{Consortium, RpcConsortium},
	server,
	verified::{TrustAnchor, VerifiedConsortium},
};
use std::path::PathBuf;
use std::sync::{atomic::AtomicBool, Arc};

/// The MBDS proxy: keyword search and threshold re-encryption under the patient's consent,
/// every access recorded on the consortium chain.
#[derive(Parser)]
#[command(name = "mbds-proxy", version)]
struct Args {
	/// The proxy's key file (`mbds keys new`); its account must be registered on the
	/// consortium as a health authority with its tester key.
	#[arg(long)]
	keys: PathBuf,
	/// A consortium node's RPC URL. The proxy does not trust it: it follows the consortium's
	/// finality with a GRANDPA light client and checks every answer it acts on against a
	/// finalised block (storage proofs), unless `--trust-rpc`.
	#[arg(long, default_value = "http://127.0.0.1:9944")]
	consortium: String,
	/// The consortium's raw chain spec (`mbds-node build-spec --chain consortium... --raw`):
	/// the light client checks the node's genesis against it and starts from its GRANDPA
	/// authorities. Without it, the node's genesis authorities are trusted at the first start
	/// and the light client's checkpoint (in `--state`) is trusted from then on.
	#[arg(long, value_name = "FILE")]
	consortium_spec: Option<PathBuf>,
	/// Believe the consortium node's answers without proofs (only for a node the health
	/// authority runs itself on the same host).
	#[arg(long, conflicts_with = "consortium_spec")]
	trust_rpc: bool,
	/// Record store(s): a folder, file://..., or s3://bucket?endpoint=URL. Repeat to replicate.
	#[arg(long = "store", required = true)]
	stores: Vec<String>,
	/// Folder for the key fragments patients give this proxy (kept across restarts).
	#[arg(long)]
	state: PathBuf,
	/// Address to listen on.
	#[arg(long, default_value = "127.0.0.1:8700")]
	listen: String,
	/// Also serve Prometheus metrics over plain HTTP at http://ADDR/metrics (bind it to a
	/// private address). Without it, `/metrics` is answered on the HTTPS address to loopback
	/// clients only.
	#[arg(long, value_name = "ADDR")]
	metrics_listen: Option<String>,
	/// Worker threads serving requests at once (1: one request at a time, as the proxy
	/// served before it was concurrent).
	#[arg(long, default_value_t = server::WORKERS, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
	workers: usize,
}

/// Log lines as `tracing` events on standard error, filtered by `RUST_LOG` (default `info`).
fn init_logs() {
	use std::io::IsTerminal;
	let filter = tracing_subscriber::EnvFilter::try_from_default_env()
		.unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
	let _ = tracing_subscriber::fmt()
		.with_env_filter(filter)
		.with_writer(std::io::stderr)
		.with_ansi(std::io::stderr().is_terminal())
		.try_init();
}

fn main() {
	let args = Args::parse();
	init_logs();
	let run = || -> Result<(), String> {
		let keys = ParticipantKeys::load(&args.keys)?;
		let store = open_stores(&args.stores)?;
		let consortium: Arc<dyn Consortium> = if args.trust_rpc {
			Arc::new(RpcConsortium::connect(&args.consortium)?)
		} else {
			let anchor = match &args.consortium_spec {
				Some(path) => TrustAnchor::ChainSpec(
					std::fs::read_to_string(path)
						.map_err(|e| format!("--consortium-spec {}: {e}", path.display()))?,
				),
				None => TrustAnchor::FirstUse,
			};
			std::fs::create_dir_all(&args.state)
				.map_err(|e| format!("--state {}: {e}", args.state.display()))?;
			Arc::new(VerifiedConsortium::open(
				&args.consortium,
				anchor,
				args.state.join("consortium-light-client.scale"),
			)?)
		};
		let proxy = Arc::new(server::Proxy::new(keys, consortium, store, &args.state)?);
		let stop = Arc::new(AtomicBool::new(false));
		let flag = stop.clone();
		ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
			.map_err(|e| format!("installing the Ctrl-C handler: {e}"))?;
		server::serve(proxy, &args.listen, args.metrics_listen.as_deref(), args.workers, stop)
	};
	if let Err(e) = run() {
		eprintln!("mbds-proxy: {e}");
		std::process::exit(1);
	}
}
