//! Standing policies, break-glass and the patient's alerts:
//!
//! * patient: `consent policy set|remove|list` (e.g. "any doctor of hospital X after I visit",
//!   "a doctor whose emergency their hospital or a health authority attests");
//! * institution or health authority: `emergency attest` (the second party break-glass needs);
//! * patient: `alerts [--follow]`, which prints every emergency access, every request granted by a
//!   policy and every new request as soon as the consortium records it in the audit trail.

use crate::{
	account, connect, describe_audit, event_of, out, scope_str, ss58, submit, ConsortiumArg,
	KeyArg, Out, ReachArgs,
};
use clap::{Args, Subcommand};
use mbds_primitives::consent::PolicyId;
use mbds_proxy::{api, chain::AuditEntry, ParticipantKeys};
use mbds_runtime::{AccountId, RuntimeCall, RuntimeEvent};
use pallet_consent::{AuditEvent, Policy, PolicyRule};
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;

const HOUR_MS: u64 = 3_600_000;

#[derive(Subcommand)]
pub enum PolicyCmd {
	/// Set a standing policy: a matching request is granted at once, without you, and
	/// recorded as such in your audit trail (`mbds alerts` tells you).
	Set(PolicySetArgs),
	/// Remove one of your standing policies (grants it made stay until revoked or expired).
	Remove {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The policy id (`mbds consent policy list`).
		#[arg(long)]
		policy: PolicyId,
	},
	/// Your standing policies.
	List {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
	},
}

#[derive(Args)]
pub struct PolicySetArgs {
	#[command(flatten)]
	key: KeyArg,
	#[command(flatten)]
	consortium: ConsortiumArg,
	/// Break-glass: a doctor treating you in an emergency, attested by their own hospital or
	/// platform or by a health authority (`mbds emergency attest`), is granted at once, once,
	/// for `--hours` (at most 24).
	#[arg(long, required_unless_present = "after_visit", conflicts_with = "after_visit")]
	emergency: bool,
	/// Any active doctor of this institution (SS58) is granted until `--hours` after your
	/// last proved visit there (`mbds visit`).
	#[arg(long)]
	after_visit: Option<String>,
	/// How long a grant lasts (emergency, default 24) or how long after a visit the policy
	/// applies (after-visit, default 720 = 30 days).
	#[arg(long)]
	hours: Option<u64>,
	/// The most a request may obtain.
	#[command(flatten)]
	reach: ReachArgs,
}

#[derive(Subcommand)]
pub enum EmergencyCmd {
	/// As a doctor's hospital or platform, or as a health authority: attest that the doctor
	/// treats the patient in an emergency. For 15 minutes the doctor may then ask with
	/// `--purpose emergency` and is granted by the patient's emergency policy, once.
	Attest {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The patient (SS58).
		#[arg(long)]
		patient: String,
		/// The treating doctor (SS58).
		#[arg(long)]
		doctor: String,
	},
}

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

pub fn policy_cmd(c: PolicyCmd) -> Result<Out, String> {
	match c {
		PolicyCmd::Set(a) => {
			let keys = ParticipantKeys::load(&a.key.keys)?;
			let client = connect(&a.consortium.consortium, "consortium")?;
			let rule = match &a.after_visit {
				Some(inst) => PolicyRule::AfterVisit {
					institution: account("--after-visit", inst)?,
					window: hours_ms("--hours", a.hours.unwrap_or(720))?,
				},
				None => {
					let hours = a.hours.unwrap_or(24);
					if hours > 24 {
						return Err(format!("--hours {hours}: an emergency grant lasts at most 24 hours (the chain caps it)"));
					}
					PolicyRule::Emergency { duration: hours_ms("--hours", hours)? }
				}
			};
			let (actions, scope) = a.reach.parse()?;
			let policy = Policy { rule, actions, scope };
			let text = policy_str(&policy);
			let call = RuntimeCall::Consent(pallet_consent::Call::set_policy { policy });
			let inc = submit(&client, call, &keys.pair(), "setting the policy")?;
			let id = event_of(&inc, "setting the policy", "PolicySet", |e| match e {
				RuntimeEvent::Consent(pallet_consent::Event::PolicySet { policy, .. }) => {
					Some(*policy)
				}
				_ => None,
			})?;
			out(
				vec![format!("policy {id} set: {text} (block #{})", inc.number)],
				json!({"policy": id, "rule": text, "block": inc.number}),
			)
		}
		PolicyCmd::Remove { key, consortium, policy } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			if !policies_of(&client, &keys.account())?.iter().any(|(id, _)| *id == policy) {
				return Err(format!(
					"--policy {policy}: not among your policies (`mbds consent policy list`)"
				));
			}
			let call = RuntimeCall::Consent(pallet_consent::Call::remove_policy { policy });
			let inc = submit(&client, call, &keys.pair(), "removing the policy")?;
			out(
				vec![format!("policy {policy} removed (block #{})", inc.number)],
				json!({"policy": policy, "block": inc.number}),
			)
		}
		PolicyCmd::List { key, consortium } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let list = policies_of(&client, &keys.account())?;
			let mut text = vec![format!("{} standing polic(ies)", list.len())];
			text.extend(list.iter().map(|(id, p)| format!("  policy {id}: {}", policy_str(p))));
			let json = list
				.iter()
				.map(|(id, p)| json!({"policy": id, "rule": policy_str(p)}))
				.collect::<Vec<_>>();
			out(text, json!({ "policies": json }))
		}
	}
}

/// The patient's standing policies, read from the consortium's state.
pub fn policies_of(
	client: &mbds_client::Client,
	patient: &AccountId,
) -> Result<Vec<(PolicyId, Policy<AccountId>)>, String> {
	let key = pallet_consent::Policies::<mbds_runtime::Runtime>::hashed_key_for(patient);
	let list: Option<Vec<(PolicyId, Policy<AccountId>)>> =
		client.storage(&key).map_err(|e| format!("reading the policies of {patient}: {e}"))?;
	Ok(list.unwrap_or_default())
}

fn hours_ms(what: &str, hours: u64) -> Result<u64, String> {
	if hours == 0 {
		return Err(format!("{what}: must be at least 1"));
	}
	hours.checked_mul(HOUR_MS).ok_or_else(|| format!("{what}: {hours} hours is too long"))
}

pub fn policy_str(p: &Policy<AccountId>) -> String {
	let rule = match &p.rule {
		PolicyRule::AfterVisit { institution, window } => format!(
			"any doctor of {} for {} h after each of your visits there",
			ss58(institution),
			window / HOUR_MS
		),
		PolicyRule::Emergency { duration } => format!(
			"EMERGENCY: a doctor whose emergency their institution or a health authority attests, for {} h",
			duration / HOUR_MS
		),
	};
	format!("{rule}; actions {:#05b} on {}", p.actions.0, scope_str(&p.scope))
}

pub fn emergency_cmd(c: EmergencyCmd) -> Result<Out, String> {
	match c {
		EmergencyCmd::Attest { key, consortium, patient, doctor } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let call = RuntimeCall::Consent(pallet_consent::Call::attest_emergency {
				patient: account("--patient", &patient)?,
				doctor: account("--doctor", &doctor)?,
			});
			let inc = submit(&client, call, &keys.pair(), "attesting the emergency")?;
			let expires_at =
				event_of(&inc, "attesting the emergency", "EmergencyAttested", |e| match e {
					RuntimeEvent::Consent(pallet_consent::Event::EmergencyAttested {
						expires_at,
						..
					}) => Some(*expires_at),
					_ => None,
				})?;
			out(
				vec![format!(
					"emergency attested: doctor {doctor} may ask for {patient}'s records with --purpose emergency {} (block #{})",
					until_str(expires_at),
					inc.number
				)],
				json!({"expires_at": expires_at, "block": inc.number}),
			)
		}
	}
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
		let (_, page): (u64, Vec<AuditEntry>) = client
			.call_at("ConsentApi_audit_trail", (patient, from, 256u32), at)
			.map_err(|e| format!("reading the audit trail: {e}"))?;
		let page: Vec<AuditEntry> = page.into_iter().filter(|r| r.seq >= from).collect();
		let Some(last) = page.last() else { return Ok(entries) };
		from = last.seq + 1;
		entries.extend(page);
	}
}

pub fn alerts_cmd(a: AlertsArgs, json_lines: bool) -> Result<Out, String> {
	let keys = ParticipantKeys::load(&a.key.keys)?;
	let client = connect(&a.consortium.consortium, "consortium")?;
	let patient = keys.account();
	let (total, _): (u64, [u8; 32]) = client
		.call("ConsentApi_audit_head", &patient)
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

/// "until <Unix ms> (in 14 min)".
pub fn until_str(ms: u64) -> String {
	let now = api::now_ms();
	let mins = ms.saturating_sub(now) / 60_000;
	format!("until {ms} (in {} h {} min)", mins / 60, mins % 60)
}
