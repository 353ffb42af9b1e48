//! `mbds consent policy set|remove|list`: the patient's standing policies, e.g. "any doctor of
//! hospital X after I visit" or "a doctor whose emergency their hospital or a health authority
//! attests" (break-glass).

use crate::{
	args::{ConsortiumArg, KeyArg, ReachArgs},
	common::{account, connect, event_of, out, scope_str, ss58, submit, Out},
};
use clap::{Args, Subcommand};
use mbds_client::ParticipantKeys;
use mbds_primitives::consent::PolicyId;
use mbds_runtime::{AccountId, RuntimeCall, RuntimeEvent};
use pallet_consent::{Policy, PolicyRule};
use serde_json::json;

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

pub fn run(c: PolicyCmd) -> Result<Out, String> {
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

/// A policy in words.
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
