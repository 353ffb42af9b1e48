//! `mbds`: the command-line client of MBDS, for every role.
//!
//! * everyone: `keys new|show|export` (keys are made on this device), the KMC: `kmc register`,
//!   `kmc set-institution`;
//! * doctor: `record put` (FHIR JSON in -> sealed to the patient -> storage -> slip on chain);
//! * patient: `visit` (a signed visit proof for the doctor), `slips list|check|confirm|reject`,
//!   `consent grant|revoke|list|approve|deny|share`, `trapdoor`, `audit`;
//! * data user: `access request`, `search`, `record get`;
//! * break-glass: the patient's `consent policy set --emergency`, an institution's or health
//!   authority's `emergency attest`, and the patient's `alerts --follow`.
//!
//! `--json` prints one JSON document per command; errors say what is wrong and what to do, and
//! exit with status 1. Waits for blocks show a spinner on a terminal.
//!
//! Each command is a module of [`commands`] with its arguments and its `run`; [`args`] holds
//! the options several share and [`common`] what they all use. The domain is `mbds_client`'s
//! (key files, chain reads through `mbds_client::queries`, the proxies' client, the patient's
//! sharing and the grantee's read): commands parse their arguments, call it and print.

mod args;
mod commands;
mod common;
mod sharing;

use clap::{Parser, Subcommand};
use commands::*;
use common::Out;

#[derive(Parser)]
#[command(
	name = "mbds",
	version,
	about = "MBDS client: keys, records, slips, consent, search and shared records"
)]
struct Cli {
	/// Print one JSON document instead of text.
	#[arg(long, global = true)]
	json: bool,
	#[command(subcommand)]
	cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
	/// Key files: make, show, export the public part.
	#[command(subcommand)]
	Keys(keys::KeysCmd),
	/// Key management centre (runs as the chain's KMC, root until the council exists).
	#[command(subcommand)]
	Kmc(kmc::KmcCmd),
	/// Records: a doctor writes one; anyone allowed reads one.
	#[command(subcommand)]
	Record(record::RecordCmd),
	/// The patient's slips on a private chain.
	#[command(subcommand)]
	Slips(slips::SlipsCmd),
	/// The patient signs a visit proof for an institution, so its doctors may write slips about
	/// the patient (for 30 days); give the printed hex to the doctor (`record put --visit`).
	Visit(visit::VisitArgs),
	/// The patient's consents, requests and key fragments.
	#[command(subcommand)]
	Consent(consent::ConsentCmd),
	/// A data user asks a patient for access.
	#[command(subcommand)]
	Access(access::AccessCmd),
	/// The patient makes a search trapdoor for one or more keywords (system|code).
	Trapdoor(trapdoor::TrapdoorArgs),
	/// A data user searches a patient's anchored summaries through the search proxy.
	Search(search::SearchArgs),
	/// A patient's audit trail on the consortium.
	Audit(audit::AuditArgs),
	/// An institution's own tasks (member keys for institution grants).
	#[command(subcommand)]
	Institution(institution::InstitutionCmd),
	/// Break-glass: an institution or health authority attests a doctor's emergency.
	#[command(subcommand)]
	Emergency(emergency::EmergencyCmd),
	/// The patient's alerts: emergency accesses, requests granted by a policy, new requests
	/// and refused accesses, from the audit trail (`--follow` to watch).
	Alerts(alerts::AlertsArgs),
}

fn main() {
	let cli = Cli::parse();
	let json = cli.json;
	match run(cli.cmd, json) {
		Ok(o) => o.print(json),
		Err(e) => common::fail(e, json),
	}
}

fn run(cmd: Cmd, json: bool) -> Result<Out, String> {
	match cmd {
		Cmd::Keys(c) => keys::run(c),
		Cmd::Kmc(c) => kmc::run(c),
		Cmd::Record(c) => record::run(c),
		Cmd::Slips(c) => slips::run(c),
		Cmd::Visit(a) => visit::run(a),
		Cmd::Consent(c) => consent::run(c),
		Cmd::Access(c) => access::run(c),
		Cmd::Trapdoor(a) => trapdoor::run(a),
		Cmd::Search(a) => search::run(a),
		Cmd::Audit(a) => audit::run(a),
		Cmd::Institution(c) => institution::run(c),
		Cmd::Emergency(c) => emergency::run(c),
		Cmd::Alerts(a) => alerts::run(a, json),
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use clap::CommandFactory;

	#[test]
	fn the_command_line_is_consistent() {
		Cli::command().debug_assert();
	}
}
