//! `mbds institution member-key`: an institution's own tasks (member keys for grants to its
//! doctors).

use crate::{
	args::{ConsortiumArg, KeyArg},
	common::{account, connect, out, ss58, write_private, Out},
};
use clap::Subcommand;
use mbds_client::{chain, ParticipantKeys};
use mbds_primitives::Role;
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum InstitutionCmd {
	/// Give one of your doctors your institution's record key, sealed to the doctor's own key,
	/// so they can read under grants to your doctors (the proxies still ask the chain, for
	/// every read, whether the patient's consent allows this doctor now).
	MemberKey {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The doctor (SS58); must be registered as your doctor on the consortium.
		#[arg(long)]
		member: String,
		/// Where to write the member key file (mode 0600); give it to the doctor.
		#[arg(long)]
		out: PathBuf,
	},
}

/// `mbds institution member-key`: seal the institution's record key to one of its doctors.
pub fn run(c: InstitutionCmd) -> Result<Out, String> {
	let InstitutionCmd::MemberKey { key, consortium, member, out: out_path } = c;
	let keys = ParticipantKeys::load(&key.keys)?;
	let member_id = account("--member", &member)?;
	let consortium = connect(&consortium.consortium, "consortium")?;
	let role = chain::participant(&consortium, &member_id)?.map(|p| p.role);
	if role != Some(Role::Doctor { institution: keys.account() }) {
		return Err(format!(
			"--member {member}: not registered as a doctor of {} on the consortium (role: {role:?})",
			keys.ss58()
		));
	}
	let member_pk = chain::record_key(&consortium, &member_id)?;
	let sealed = mbds_client::membership::seal_member_key(&keys.record_key(), &member_pk)?;
	let file = json!({
		"institution": keys.ss58(),
		"member": ss58(&member_id),
		"sealed": mbds_client::hex_of(&sealed),
	});
	write_private(&out_path, file.to_string().as_bytes())
		.map_err(|e| format!("--out {}: {e}", out_path.display()))?;
	out(
		vec![format!(
			"member key of {} for doctor {} written to {} (give it to the doctor)",
			keys.ss58(),
			ss58(&member_id),
			out_path.display()
		)],
		json!({"institution": keys.ss58(), "member": ss58(&member_id), "file": out_path.display().to_string()}),
	)
}
