//! `mbds search`: a data user searches a patient's anchored summaries with the patient's
//! trapdoor, through a search proxy (which records the search in the patient's audit trail).

use crate::{
	args::KeyArg,
	common::{account, out, spinner, Out},
};
use clap::Args;
use mbds_client::{
	proxy::api::{self, SearchRequest, SearchResponse, Signed},
	ParticipantKeys, ProxyClient,
};

#[derive(Args)]
pub struct SearchArgs {
	#[command(flatten)]
	key: KeyArg,
	/// The search proxy's URL.
	#[arg(long)]
	proxy: String,
	/// The patient (SS58).
	#[arg(long)]
	patient: String,
	/// The patient's search permission for this proxy (`mbds trapdoor`, 0x...).
	#[arg(long)]
	trapdoor: String,
}

pub fn run(a: SearchArgs) -> Result<Out, String> {
	let keys = ParticipantKeys::load(&a.key.keys)?;
	let proxy = ProxyClient::new(&a.proxy);
	let health = proxy.health().map_err(|e| e.to_string())?;
	let patient = account("--patient", &a.patient)?;
	let trapdoor = hex::decode(a.trapdoor.trim().trim_start_matches("0x"))
		.map_err(|e| format!("--trapdoor: not hex: {e}"))?;
	let issued_at = api::now_ms();
	// The proxy records the search in the patient's audit trail with this signature.
	let statement = api::search_statement(
		&account("proxy account", &health.account)?,
		&patient,
		&trapdoor,
		issued_at,
	);
	let req = Signed::sign(
		&keys.pair(),
		&SearchRequest {
			proxy: health.account,
			patient: a.patient.clone(),
			trapdoor: a.trapdoor,
			issued_at,
			search_signature: api::sign_search(&keys.pair(), &statement),
		},
	);
	let pb = spinner(format!("searching {}'s summaries", a.patient));
	let r: Result<SearchResponse, _> = proxy.post("/v1/search", &req);
	pb.finish_and_clear();
	let r = r.map_err(|e| format!("search at {}: {e}", a.proxy))?;
	let mut text = vec![format!(
		"{} readable record(s) match, {} index entries or summary items examined at consortium block #{} (search recorded in the patient's audit trail at #{})",
		r.matches.len(),
		r.examined,
		r.at_block,
		r.audit_block
	)];
	for m in &r.matches {
		text.push(format!(
			"  record {}  chain {} slip {} (confirmed at #{}, anchored at #{})",
			m.record_hash, m.chain_id, m.slip_id, m.block_number, m.anchored_at
		));
	}
	out(text, serde_json::to_value(&r).expect("json"))
}
