//! `mbds emergency attest`: break-glass's second party. A doctor's hospital or platform, or a
//! health authority, attests the doctor's emergency, so the patient's emergency policy
//! (`mbds consent policy set --emergency`) grants the doctor's request at once.

use crate::{
	args::{ConsortiumArg, KeyArg},
	common::{account, connect, event_of, out, submit, Out},
};
use clap::Subcommand;
use mbds_client::{proxy::api, ParticipantKeys};
use mbds_runtime::{RuntimeCall, RuntimeEvent};
use serde_json::json;

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

pub fn run(c: EmergencyCmd) -> Result<Out, String> {
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

/// "until <Unix ms> (in 14 min)".
pub fn until_str(ms: u64) -> String {
	let now = api::now_ms();
	let mins = ms.saturating_sub(now) / 60_000;
	format!("until {ms} (in {} h {} min)", mins / 60, mins % 60)
}
