//! `mbds consent grant|revoke|list|approve|deny|retry|policy|share`: the patient's consents,
//! requests, standing policies and key fragments.

pub mod policy;

use crate::{
	args::{ConsortiumArg, KeyArg, ShareArgs, TermsArgs},
	common::{account, connect, event_of, grantee_str, out, scope_str, ss58, submit, Out},
	sharing,
};
use clap::Subcommand;
use mbds_client::queries;
use mbds_client::{proxy::api, ParticipantKeys};
use mbds_primitives::consent::Grantee;
use mbds_runtime::{RuntimeCall, RuntimeEvent};
use serde_json::json;

#[derive(Subcommand)]
pub enum ConsentCmd {
	/// Grant a data user actions on your records for a period.
	Grant {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The grantee (SS58).
		#[arg(long)]
		to: String,
		/// Grant to every current doctor of the institution `--to` instead. The key fragments
		/// go to the institution's key once; its doctors read with the member key the
		/// institution gives them (`mbds institution member-key`).
		#[arg(long)]
		members_of: bool,
		#[command(flatten)]
		terms: TermsArgs,
		#[command(flatten)]
		share: ShareArgs,
	},
	/// Revoke a grant (effective from the next block).
	Revoke {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The grant id.
		#[arg(long)]
		grant: u64,
	},
	/// Your grants and pending requests.
	List {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
	},
	/// Approve a pending request and give the proxies key fragments for the requester.
	Approve {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The request id.
		#[arg(long)]
		request: u64,
		#[command(flatten)]
		share: ShareArgs,
	},
	/// Deny a pending request.
	Deny {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The request id.
		#[arg(long)]
		request: u64,
	},
	/// Deliver the key fragments that proxies could not take when you shared (kept beside
	/// your key file, sealed to your own key).
	Retry {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
	},
	/// Your standing policies (after-visit, emergency).
	#[command(subcommand)]
	Policy(policy::PolicyCmd),
	/// Give proxies key fragments for a grantee (after a direct grant).
	Share {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The grantee (SS58).
		#[arg(long)]
		to: String,
		#[command(flatten)]
		share: ShareArgs,
	},
}

/// The URLs of the proxies whose fragments wait for `mbds consent retry`.
fn pending_urls(shared: &sharing::Shared) -> Vec<String> {
	shared.pending.iter().map(|p| p.url.clone()).collect()
}

pub fn run(c: ConsentCmd) -> Result<Out, String> {
	match c {
		ConsentCmd::Retry { key, consortium } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let shared = sharing::retry(&keys, &key.keys, &client)?;
			out(
				vec![format!("delivered now: {}", shared.summary())],
				json!({"proxies": shared.delivered, "pending": pending_urls(&shared)}),
			)
		}
		ConsentCmd::Policy(p) => policy::run(p),
		ConsentCmd::Grant { key, consortium, to, members_of, terms, share: sh } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let who = account("--to", &to)?;
			let grantee = if members_of {
				Grantee::MembersOf(who.clone())
			} else {
				Grantee::Account(who.clone())
			};
			let now = api::now_ms();
			let t = terms.parse(now)?;
			let call = RuntimeCall::Consent(pallet_consent::Call::grant {
				grantee: grantee.clone(),
				actions: t.actions,
				scope: t.scope,
				valid_from: now.saturating_sub(60_000),
				valid_until: t.until,
				purpose: Some(t.purpose),
			});
			let inc = submit(&client, call, &keys.pair(), "granting")?;
			let grant = event_of(&inc, "granting", "GrantCreated", |e| match e {
				RuntimeEvent::Consent(pallet_consent::Event::GrantCreated { grant, .. }) => {
					Some(*grant)
				}
				_ => None,
			})?;
			// Fragments for an institution grant go to the institution's own key: any of its
			// current doctors reads with the member key the institution gave them.
			let shared = sharing::share(&keys, &key.keys, &client, &who, &sh)?;
			out(
				vec![format!(
					"grant {grant} to {} for {} day(s) in block #{}; {}",
					grantee_str(&grantee),
					terms.days,
					inc.number,
					shared.summary()
				)],
				json!({"grant": grant, "block": inc.number, "proxies": shared.delivered, "pending": pending_urls(&shared)}),
			)
		}
		ConsentCmd::Revoke { key, consortium, grant } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let inc = submit(
				&client,
				RuntimeCall::Consent(pallet_consent::Call::revoke { grant }),
				&keys.pair(),
				"revoking",
			)?;
			out(
				vec![format!(
					"grant {grant} revoked in block #{}; proxies refuse from the next block on",
					inc.number
				)],
				json!({"grant": grant, "block": inc.number}),
			)
		}
		ConsentCmd::List { key, consortium } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let grants = queries::consent::grants_of(&client, &keys.account(), None)?;
			let pending = queries::consent::pending_requests(&client, &keys.account(), None)?;
			let policies = policy::policies_of(&client, &keys.account())?;
			let mut text = vec![format!(
				"{} grant(s), {} pending request(s), {} standing polic(ies)",
				grants.len(),
				pending.len(),
				policies.len()
			)];
			for (id, p) in &policies {
				text.push(format!("  policy {id}: {}", policy::policy_str(p)));
			}
			for (id, g) in &grants {
				text.push(format!(
					"  grant {id}: {} actions {:#05b} on {} until {}",
					grantee_str(&g.grantee),
					g.actions.0,
					scope_str(&g.scope),
					g.valid_until
				));
			}
			for (id, r) in &pending {
				text.push(format!(
					"  request {id}: {} asks actions {:#05b} for {:?} on {}",
					ss58(&r.requester),
					r.actions.0,
					r.purpose,
					scope_str(&r.scope)
				));
			}
			out(
				text,
				json!({
					"grants": grants.iter().map(|(id, g)| json!({"grant": id, "grantee": grantee_str(&g.grantee), "scope": scope_str(&g.scope), "valid_until": g.valid_until})).collect::<Vec<_>>(),
					"requests": pending.iter().map(|(id, r)| json!({"request": id, "requester": ss58(&r.requester), "purpose": format!("{:?}", r.purpose)})).collect::<Vec<_>>(),
					"policies": policies.iter().map(|(id, p)| json!({"policy": id, "rule": policy::policy_str(p)})).collect::<Vec<_>>(),
				}),
			)
		}
		ConsentCmd::Approve { key, consortium, request, share: sh } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let pending = queries::consent::pending_requests(&client, &keys.account(), None)?;
			let (_, req) =
				pending.into_iter().find(|(id, _)| *id == request).ok_or_else(|| {
					format!("--request {request}: not among your pending requests (`mbds consent list`)")
				})?;
			let inc = submit(
				&client,
				RuntimeCall::Consent(pallet_consent::Call::approve_request { request }),
				&keys.pair(),
				"approving",
			)?;
			let grant = event_of(&inc, "approving", "RequestApproved", |e| match e {
				RuntimeEvent::Consent(pallet_consent::Event::RequestApproved { grant, .. }) => {
					Some(*grant)
				}
				_ => None,
			})?;
			let shared = sharing::share(&keys, &key.keys, &client, &req.requester, &sh)?;
			out(
				vec![format!(
					"request {request} approved in block #{}: grant {grant} to {}; {}",
					inc.number,
					ss58(&req.requester),
					shared.summary()
				)],
				json!({"request": request, "grant": grant, "block": inc.number, "proxies": shared.delivered, "pending": pending_urls(&shared)}),
			)
		}
		ConsentCmd::Deny { key, consortium, request } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let inc = submit(
				&client,
				RuntimeCall::Consent(pallet_consent::Call::deny_request { request }),
				&keys.pair(),
				"denying",
			)?;
			out(
				vec![format!("request {request} denied in block #{}", inc.number)],
				json!({"request": request, "block": inc.number}),
			)
		}
		ConsentCmd::Share { key, consortium, to, share: sh } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			if sh.proxies.is_empty() {
				return Err("give at least one --proxy URL".into());
			}
			let shared = sharing::share(&keys, &key.keys, &client, &account("--to", &to)?, &sh)?;
			out(
				vec![format!("{to}: {}", shared.summary())],
				json!({"proxies": shared.delivered, "pending": pending_urls(&shared)}),
			)
		}
	}
}
