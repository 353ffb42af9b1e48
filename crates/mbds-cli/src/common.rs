//! What every command shares: its output, the node connection and transaction submission,
//! account and hash formatting, private files, and the words for grants and scopes.

use indicatif::{ProgressBar, ProgressStyle};
use mbds_client::chain;
pub use mbds_client::write_private;
use mbds_client::{records::category_name, Client, Inclusion};
use mbds_primitives::consent::{GrantScope, Grantee, RecordId};
use mbds_runtime::{AccountId, RuntimeCall, RuntimeEvent};
use serde_json::{json, Value};
use sp_core::{crypto::Ss58Codec, sr25519};
use std::time::Duration;

/// How long to wait for a transaction to be included.
pub const INCLUSION_TIMEOUT: Duration = Duration::from_secs(120);

/// What a command prints: text lines, or the JSON document.
pub struct Out {
	pub text: Vec<String>,
	pub json: Value,
}

/// A command's successful output.
pub fn out(text: Vec<String>, json: Value) -> Result<Out, String> {
	Ok(Out { text, json })
}

impl Out {
	/// Prints the JSON document (`--json`) or the text lines.
	pub fn print(self, json: bool) {
		if json {
			println!("{}", serde_json::to_string_pretty(&self.json).expect("json"));
		} else {
			for line in self.text {
				println!("{line}");
			}
		}
	}
}

/// Reports a command's error (also as a JSON document on stdout with `--json`) and exits
/// with status 1.
pub fn fail(e: String, json: bool) -> ! {
	if json {
		println!("{}", json!({ "error": e }));
	}
	eprintln!("mbds: error: {e}");
	std::process::exit(1);
}

/// A spinner showing `msg` and the time spent (drawn on a terminal only).
pub fn spinner(msg: String) -> ProgressBar {
	let pb = ProgressBar::new_spinner();
	pb.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("template"));
	pb.set_message(msg);
	pb.enable_steady_tick(Duration::from_millis(120));
	pb
}

/// A client of the node at `url`; the error names `what` node it is.
pub fn connect(url: &str, what: &str) -> Result<Client, String> {
	Client::connect(url).map_err(|e| format!("cannot reach the {what} node at {url}: {e}"))
}

/// Signs and submits `call`, waiting (with a spinner) until a block includes it; an error
/// starts with `what`.
pub fn submit(
	client: &Client,
	call: RuntimeCall,
	signer: &sr25519::Pair,
	what: &str,
) -> Result<Inclusion, String> {
	let pb = spinner(format!("{what}: waiting for a block of {}", client.rpc.url));
	let r = client.submit_and_wait(call, signer, INCLUSION_TIMEOUT);
	pb.finish_and_clear();
	r.map_err(|e| format!("{what}: {e}"))
}

/// The first event of an included transaction that `pick` recognises; else an error naming
/// `what` and the event it expected.
pub fn event_of<T>(
	inc: &Inclusion,
	what: &str,
	expected: &str,
	pick: impl Fn(&RuntimeEvent) -> Option<T>,
) -> Result<T, String> {
	inc.events
		.iter()
		.find_map(pick)
		.ok_or_else(|| format!("{what}: included, but no {expected} event"))
}

/// An SS58 account given as option `what`.
pub fn account(what: &str, s: &str) -> Result<AccountId, String> {
	Ok(mbds_client::keys::parse_account(what, s)?)
}

pub fn ss58(a: &AccountId) -> String {
	a.to_ss58check()
}

/// The first 10 characters of `s` and an ellipsis.
pub fn short(s: &str) -> String {
	s.chars().take(10).collect::<String>() + "…"
}

pub fn hex0x(b: &[u8]) -> String {
	format!("0x{}", hex::encode(b))
}

/// Runs a future of the record stores to completion.
pub fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, String> {
	Ok(tokio::runtime::Builder::new_current_thread()
		.enable_all()
		.build()
		.map_err(|e| format!("starting the storage runtime: {e}"))?
		.block_on(f))
}

/// A grant's scope in words: all records, the listed records, or the named categories.
pub fn scope_str(scope: &GrantScope) -> String {
	match scope {
		GrantScope::AllRecords => "all records".into(),
		GrantScope::Records(list) => format!(
			"records {}",
			list.iter()
				.map(|r| match r {
					RecordId::Hash(h) => chain::hash_hex(h),
					RecordId::Slip { chain, slip } => format!("slip {slip} of chain {chain}"),
				})
				.collect::<Vec<_>>()
				.join(", ")
		),
		GrantScope::Categories(list) => format!(
			"categories {}",
			list.iter().map(|c| category_name(*c)).collect::<Vec<_>>().join(", ")
		),
	}
}

/// A grantee in words: an account, or an institution's doctors.
pub fn grantee_str(g: &Grantee<AccountId>) -> String {
	match g {
		Grantee::Account(a) => ss58(a),
		Grantee::MembersOf(i) => format!("doctors of {}", ss58(i)),
	}
}
