//! `mbds audit`: a patient's audit trail on the consortium, checked against the chain's
//! commitment to it.

use crate::{
	args::ConsortiumArg,
	commands::emergency::until_str,
	common::{account, connect, grantee_str, out, short, ss58, Out},
};
use clap::Args;
use mbds_client::{chain, ParticipantKeys};
use mbds_primitives::consent::{AccessTarget, RecordId};
use mbds_runtime::AccountId;
use pallet_consent::AuditEvent;
use serde_json::{json, Value};
use std::path::PathBuf;

#[derive(Args)]
pub struct AuditArgs {
	#[command(flatten)]
	consortium: ConsortiumArg,
	/// Whose trail (SS58); default the owner of --keys.
	#[arg(long)]
	patient: Option<String>,
	/// Your key file (to show your own trail).
	#[arg(long)]
	keys: Option<PathBuf>,
}

pub fn run(a: AuditArgs) -> Result<Out, String> {
	let c = connect(&a.consortium.consortium, "consortium")?;
	let patient = match (&a.patient, &a.keys) {
		(Some(p), _) => account("--patient", p)?,
		(None, Some(k)) => ParticipantKeys::load(k)?.account(),
		(None, None) => return Err("give --patient SS58 or --keys FILE".into()),
	};
	let checked = chain::audit_trail_checked(&c, &patient)?;
	let trail = &checked.entries;
	let mut text = vec![format!("audit trail of {} ({} entries)", ss58(&patient), checked.total)];
	text.push(if checked.complete {
		"  the whole trail matches the chain's commitment to it (ConsentApi_audit_head, as served by this node)"
			.to_string()
	} else {
		format!(
			"  {} older entries left the chain's state: an archive node's copy of them can be checked against the chain's commitment",
			checked.total - trail.len() as u64
		)
	});
	let mut entries = Vec::new();
	for r in trail {
		let what = describe_audit(&r.event);
		text.push(format!(
			"  #{:<4} block {:<6} by {}  {what}",
			r.seq,
			r.block,
			short(&ss58(&r.actor))
		));
		entries.push(json!({"seq": r.seq, "block": r.block, "at": r.at, "actor": ss58(&r.actor), "event": what, "access": access_json(&r.event)}));
	}
	out(
		text,
		json!({"patient": ss58(&patient), "total": checked.total, "verified": checked.complete, "entries": entries}),
	)
}

/// An audit event in words.
pub fn describe_audit(e: &AuditEvent<AccountId>) -> String {
	use AuditEvent::*;
	match e {
		Access { user, target, action, allowed } => format!(
			"{} {:?} by {} on {}",
			if *allowed { "ACCESS ALLOWED" } else { "ACCESS DENIED" },
			action,
			ss58(user),
			match target {
				AccessTarget::Record { id: RecordId::Hash(h), .. } => chain::hash_hex(h),
				other => format!("{other:?}"),
			}
		),
		Search { user, results } => {
			format!("SEARCH by {} ({results} readable record(s) disclosed)", ss58(user))
		}
		EmergencyAttested { doctor } => format!("emergency attested for doctor {}", ss58(doctor)),
		EmergencyAccessGranted { request, grant, attester, until } => format!(
			"EMERGENCY ACCESS: request {request} granted (grant {grant}) {} on the attestation of {}",
			until_str(*until),
			ss58(attester)
		),
		GrantCreated { grant, grantee, actions } => format!(
			"grant {grant} created for {} (actions {:#05b})",
			grantee_str(grantee),
			actions.0
		),
		other => format!("{other:?}"),
	}
}

fn access_json(e: &AuditEvent<AccountId>) -> Value {
	match e {
		AuditEvent::Access { user, target, allowed, .. } => json!({
			"user": ss58(user),
			"allowed": allowed,
			"record": target.record().and_then(|r| match r { RecordId::Hash(h) => Some(chain::hash_hex(&h)), _ => None }),
		}),
		_ => Value::Null,
	}
}
