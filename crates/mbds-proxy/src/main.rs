//! `mbds-proxy`: the health authority's proxy service. See the crate docs.

use clap::Parser;
use mbds_proxy::{open_stores, server, ParticipantKeys};
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
	/// A consortium node's RPC URL.
	#[arg(long, default_value = "http://127.0.0.1:9944")]
	consortium: String,
	/// Record store(s): a folder, file://..., or s3://bucket?endpoint=URL. Repeat to replicate.
	#[arg(long = "store", required = true)]
	stores: Vec<String>,
	/// Folder for the key fragments patients give this proxy (kept across restarts).
	#[arg(long)]
	state: PathBuf,
	/// Address to listen on.
	#[arg(long, default_value = "127.0.0.1:8700")]
	listen: String,
}

fn main() {
	let args = Args::parse();
	let run = || -> Result<(), String> {
		let keys = ParticipantKeys::load(&args.keys)?;
		let store = open_stores(&args.stores)?;
		let proxy = Arc::new(server::Proxy::new(keys, &args.consortium, store, &args.state)?);
		let stop = Arc::new(AtomicBool::new(false));
		let flag = stop.clone();
		ctrlc::set_handler(move || flag.store(true, std::sync::atomic::Ordering::SeqCst))
			.map_err(|e| format!("installing the Ctrl-C handler: {e}"))?;
		server::serve(proxy, &args.listen, stop)
	};
	if let Err(e) = run() {
		eprintln!("mbds-proxy: {e}");
		std::process::exit(1);
	}
}
