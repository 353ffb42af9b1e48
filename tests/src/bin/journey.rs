//! `mbds-journey`: the README's run command. Starts the local multi-chain network (platform P,
//! hospitals A and B, the consortium; three validators each), the relayer and three proxies,
//! runs the paper's four-step patient journey through the `mbds` CLI, printing every step and
//! command, then keeps everything running (RPC endpoints printed) until Ctrl-C.
//!
//! Usage: `mbds-journey [--exit] [--dir FOLDER] [--attach P_URL A_URL B_URL C_URL]`
//! (`--exit`: stop after the journey; default folder: a fresh one under the system temp dir,
//! kept for inspection; `--attach`: use running chains, e.g. the zombienet networks, instead
//! of starting them).

use mbds_tests::journey::Journey;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
	let args: Vec<String> = std::env::args().skip(1).collect();
	if args.iter().any(|a| a == "-h" || a == "--help") {
		println!("usage: mbds-journey [--exit] [--dir FOLDER] [--attach P_URL A_URL B_URL C_URL]");
		return;
	}
	let exit = args.iter().any(|a| a == "--exit");
	let dir = match args.iter().position(|a| a == "--dir") {
		Some(i) => std::path::PathBuf::from(args.get(i + 1).cloned().unwrap_or_else(|| {
			eprintln!("mbds-journey: --dir needs a folder");
			std::process::exit(2)
		})),
		None => std::env::temp_dir().join(format!("mbds-journey-{}", std::process::id())),
	};
	let stop = Arc::new(AtomicBool::new(false));
	let flag = stop.clone();
	ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)).expect("Ctrl-C handler");

	println!("[journey] work folder {} (keys, record store, proxy state, logs)", dir.display());
	let start = Instant::now();
	let attach = args.iter().position(|a| a == "--attach").map(|i| {
		let urls: Vec<String> = args.iter().skip(i + 1).take(4).cloned().collect();
		<[String; 4]>::try_from(urls).unwrap_or_else(|_| {
			eprintln!("mbds-journey: --attach needs four RPC URLs: platform P, hospital A, hospital B, consortium");
			std::process::exit(2)
		})
	});
	let started = match attach {
		Some(urls) => Journey::attach(&dir, urls, Box::new(|l| println!("{l}"))),
		None => Journey::start(&dir, Box::new(|l| println!("{l}"))),
	};
	let mut journey = match started {
		Ok(j) => j,
		Err(e) => {
			eprintln!("mbds-journey: {e}");
			std::process::exit(1);
		}
	};
	let result = journey.setup().and_then(|_| journey.run());
	match &result {
		Ok(report) => {
			println!("\n[journey] done in {:.0} s", start.elapsed().as_secs_f64());
			for (step, secs) in &report.steps {
				println!("[journey]   {step}: {secs:.0} s");
			}
		}
		Err(e) => eprintln!("\n[journey] FAILED: {e}\n[journey] logs in {}", dir.display()),
	}
	if !exit && result.is_ok() {
		println!("\n[journey] the network keeps running; Ctrl-C stops it. RPC endpoints:");
		for (label, url) in &journey.chains {
			println!("[journey]   {label:<12} {}", url.replacen("http://", "ws://", 1));
		}
		for (i, p) in journey.proxies.iter().enumerate() {
			println!("[journey]   proxy ha-{}    {p}", i + 1);
		}
		while !stop.load(Ordering::SeqCst) {
			std::thread::sleep(Duration::from_millis(300));
		}
	}
	println!("[journey] stopping the relayer, proxies and chains ...");
	journey.stop();
	if result.is_err() {
		std::process::exit(1);
	}
}
