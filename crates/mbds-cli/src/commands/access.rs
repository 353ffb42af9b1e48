//! `mbds access request`: a data user asks a patient for access; a standing policy of the
//! patient's may grant it at once (break-glass included).

use crate::{
	args::{ConsortiumArg, KeyArg, TermsArgs},
	commands::emergency::until_str,
	common::{account, connect, out, ss58, submit, Out},
};
use clap::Subcommand;
use mbds_client::{proxy::api, ParticipantKeys};
use mbds_runtime::{RuntimeCall, RuntimeEvent};
use serde_json::json;

#[derive(Subcommand)]
pub enum AccessCmd {
	/// Apply for access to a patient's records.
	Request {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The patient (SS58).
		#[arg(long)]
		patient: String,
		#[command(flatten)]
		terms: TermsArgs,
	},
}

pub fn run(c: AccessCmd) -> Result<Out, String> {
	let AccessCmd::Request { key, consortium, patient, terms } = c;
	let keys = ParticipantKeys::load(&key.keys)?;
	let c = connect(&consortium.consortium, "consortium")?;
	let now = api::now_ms();
	let t = terms.parse(now)?;
	let call = RuntimeCall::Consent(pallet_consent::Call::request_access {
		patient: account("--patient", &patient)?,
		actions: t.actions,
		scope: t.scope,
		valid_from: now,
		valid_until: t.until,
		purpose: t.purpose,
	});
	let inc = submit(&c, call, &keys.pair(), "access request")?;
	let mut request = None;
	let mut auto = None;
	let mut emergency = None;
	for e in &inc.events {
		match e {
			RuntimeEvent::Consent(pallet_consent::Event::AccessRequested {
				request: r, ..
			}) => request = Some(*r),
			RuntimeEvent::Consent(pallet_consent::Event::RequestAutoGranted {
				grant,
				policy,
				..
			}) => auto = Some((*grant, *policy)),
			RuntimeEvent::Consent(pallet_consent::Event::EmergencyAccessGranted {
				until,
				attester,
				..
			}) => emergency = Some((*until, attester.clone())),
			_ => {}
		}
	}
	let request = request.ok_or("access request: included, but no AccessRequested event (suspended for exceeding the request rate?)")?;
	let line = match (auto, &emergency) {
		(Some((g, p)), Some((until, attester))) => format!("request {request}: EMERGENCY access granted by the patient's policy {p} (grant {g}) on the attestation of {}, {}; the patient is alerted", ss58(attester), until_str(*until)),
		(Some((g, p)), None) => format!("request {request}: granted at once by the patient's standing policy {p} (grant {g})"),
		(None, _) => format!("request {request} sent to {patient}; waiting for the patient's answer (block #{})", inc.number),
	};
	out(
		vec![line],
		json!({"request": request, "auto_grant": auto.map(|a| a.0), "emergency_until": emergency.map(|e| e.0), "block": inc.number}),
	)
}
