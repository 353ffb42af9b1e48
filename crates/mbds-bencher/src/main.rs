//! `mbds-bencher pallet --runtime <wasm> --pallet <name> --extrinsic '*' ...`
//!
//! A node-less front end to frame-benchmarking-cli's `pallet` command, like
//! `frame-omni-bencher`, but built in this workspace so it shares the node's compiled
//! dependencies instead of building a second client stack.

use clap::Parser;
use frame_benchmarking_cli::PalletCmd;

#[derive(Debug, Parser)]
#[command(name = "mbds-bencher", about = "Benchmark MBDS runtime pallets")]
enum Command {
	/// Benchmark the extrinsics of one or more pallets.
	Pallet(PalletCmd),
}

fn main() -> sc_cli::Result<()> {
	sc_cli::LoggerBuilder::new("").init()?;
	match Command::parse() {
		Command::Pallet(cmd) => cmd.run_with_spec::<sp_runtime::traits::BlakeTwo256, ()>(None),
	}
}
