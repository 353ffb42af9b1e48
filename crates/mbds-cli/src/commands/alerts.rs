//! `mbds alerts [--follow]`: the patient's alerts, from the audit trail: every emergency
//! access, every request granted by a policy, every new request and refused access, printed
//! as soon as the consortium records it with `--follow`.

use crate::{
	args::{ConsortiumArg, KeyArg},
	commands::audit::describe_audit,
	common::{connect, out, ss58, Out},
};
use clap::Args;
use mbds_client::queries::{self, AuditEntry};
use mbds_client::ParticipantKeys;
use mbds_runtime::AccountId;
use pallet_consent::AuditEvent;
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

#[derive(Args)]
pub struct AlertsArgs {
	#[command(flatten)]
	key: KeyArg,
	#[command(flatten)]
	consortium: ConsortiumArg,
	/// Keep watching and print each new alert as the consortium records it (one line, or
	/// one JSON document per line with --json), until interrupted.
	#[arg(long)]
	follow: bool,
	/// Start at this position of your audit trail (default: the start, or with --follow
	/// the next entry to come).
	#[arg(long)]
	since: Option<u64>,
	/// How often to look for new entries when following (ms).
	#[arg(long, default_value_t = 1000)]
	poll_ms: u64,
}

/// What kind of alert an audit entry is, if it is one.
fn alert_kind(e: &AuditEvent<AccountId>) -> Option<&'static str> {
	Some(match e {
		AuditEvent::EmergencyAccessGranted { .. } => "emergency-access",
		AuditEvent::EmergencyAttested { .. } => "emergency-attested",
		AuditEvent::RequestAutoGranted { .. } => "granted-by-policy",
		AuditEvent::AccessRequested { .. } => "access-requested",
		AuditEvent::Access { allowed: false, .. } => "access-refused",
		AuditEvent::RateLimitExceeded { .. } => "rate-limit",
		_ => return None,
	})
}

fn alert_json(r: &AuditEntry, kind: &str) -> Value {
	let mut v = json!({
		"seq": r.seq, "block": r.block, "at": r.at, "actor": ss58(&r.actor), "kind": kind,
		"event": describe_audit(&r.event),
	});
	if let AuditEvent::EmergencyAccessGranted { request, grant, attester, until } = &r.event {
		v["request"] = json!(request);
		v["grant"] = json!(grant);
		v["attester"] = json!(ss58(attester));
		v["until"] = json!(until);
	}
	v
}

fn alert_line(r: &AuditEntry, kind: &str) -> String {
	let flag = if kind.starts_with("emergency") { "!!" } else { "  " };
	format!(
		"{flag} #{} block {} by {}: {}",
		r.seq,
		r.block,
		ss58(&r.actor),
		describe_audit(&r.event)
	)
}

/// Entries of `patient`'s trail from position `from` on, as of block `at` (all pages).
fn trail_from(
	client: &mbds_client::Client,
	patient: &AccountId,
	mut from: u64,
	at: Option<sp_core::H256>,
) -> Result<Vec<AuditEntry>, String> {
	let mut entries = Vec::new();
	loop {
		let (_, page) = queries::consent::audit_trail(client, patient, from, 256, at)
			.map_err(|e| format!("reading the audit trail: {e}"))?;
		let page: Vec<AuditEntry> = page.into_iter().filter(|r| r.seq >= from).collect();
		let Some(last) = page.last() else { return Ok(entries) };
		from = last.seq + 1;
		entries.extend(page);
	}
}

/// Lists the alerts, or with `--follow` prints each as it comes (`json_lines`: one JSON
/// document per line) until interrupted.
pub fn run(a: AlertsArgs, json_lines: bool) -> Result<Out, String> {
	let keys = ParticipantKeys::load(&a.key.keys)?;
	let client = connect(&a.consortium.consortium, "consortium")?;
	let patient = keys.account();
	let (total, _) = queries::consent::audit_head(&client, &patient, None)
		.map_err(|e| format!("reading the audit trail: {e}"))?;
	let mut from = a.since.unwrap_or(if a.follow { total } else { 0 });
	if !a.follow {
		let mut text = Vec::new();
		let mut alerts = Vec::new();
		for r in &trail_from(&client, &patient, from, None)? {
			if let Some(kind) = alert_kind(&r.event) {
				text.push(alert_line(r, kind));
				alerts.push(alert_json(r, kind));
			}
		}
		text.insert(
			0,
			format!("{} alert(s) in the audit trail of {}", alerts.len(), ss58(&patient)),
		);
		return out(text, json!({"patient": ss58(&patient), "alerts": alerts}));
	}
	eprintln!(
		"watching the audit trail of {} from entry #{from} on {} (Ctrl-C to stop)",
		ss58(&patient),
		a.consortium.consortium
	);
	// Entries are taken from the node's best block at once, and again from the finalised
	// block, so an alert in a block that a fork drops is printed when its replacement is
	// final: at once, and never missed. A node that stops answering is retried.
	let mut stdout = std::io::stdout();
	let mut printed: std::collections::BTreeSet<(u64, u32)> = Default::default();
	let mut final_from = from;
	let mut failures = 0u32;
	loop {
		let round = (|| -> Result<(), String> {
			let finalized = client.finalized_head()?;
			let mut fresh = trail_from(&client, &patient, final_from, Some(finalized))?;
			if let Some(last) = fresh.last() {
				final_from = last.seq + 1;
			}
			fresh.extend(trail_from(&client, &patient, from.max(final_from), None)?);
			for r in fresh {
				// Entries that left the ring before they were read (more than it holds came
				// between two polls) are in the archive: say so instead of skipping them.
				if r.seq > from {
					eprintln!("mbds: entries #{from}..#{} of the trail were not readable from state (older than the ring); check them with `mbds audit`", r.seq - 1);
				}
				from = from.max(r.seq + 1);
				let Some(kind) = alert_kind(&r.event) else { continue };
				if !printed.insert((r.seq, r.block)) {
					continue;
				}
				let line = if json_lines {
					alert_json(&r, kind).to_string()
				} else {
					alert_line(&r, kind)
				};
				writeln!(stdout, "{line}")
					.and_then(|_| stdout.flush())
					.map_err(|e| e.to_string())?;
			}
			Ok(())
		})();
		match round {
			Ok(()) => failures = 0,
			Err(e) => {
				failures += 1;
				eprintln!("mbds: alerts: {e} (retrying)");
			}
		}
		let backoff = a.poll_ms.max(100).saturating_mul(1 << failures.min(5));
		std::thread::sleep(Duration::from_millis(backoff));
	}
}
