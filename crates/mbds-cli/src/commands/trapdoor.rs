//! `mbds trapdoor`: the patient makes a search trapdoor for keywords, usable by one search
//! proxy's tester key only.

use crate::{
	args::{ConsortiumArg, KeyArg},
	common::{account, connect, hex0x, out, Out},
};
use clap::Args;
use mbds_client::{chain, ParticipantKeys};
use mbds_crypto::Keyword;
use serde_json::json;

#[derive(Args)]
pub struct TrapdoorArgs {
	#[command(flatten)]
	key: KeyArg,
	#[command(flatten)]
	consortium: ConsortiumArg,
	/// The search proxy's account (SS58): the trapdoor works for its tester key only.
	#[arg(long)]
	tester: String,
	/// A keyword, `system|code` (repeat for a conjunctive search).
	#[arg(long = "keyword", required = true)]
	keywords: Vec<String>,
}

pub fn run(a: TrapdoorArgs) -> Result<Out, String> {
	let keys = ParticipantKeys::load(&a.key.keys)?;
	let c = connect(&a.consortium.consortium, "consortium")?;
	let tester = chain::tester_key(&c, &account("--tester", &a.tester)?)?;
	let kws = a
		.keywords
		.iter()
		.map(|k| Keyword::parse(k).map_err(|e| format!("--keyword {k:?}: {e}")))
		.collect::<Result<Vec<_>, _>>()?;
	let td =
		keys.peks().conjunctive_trapdoor(&tester, &kws).map_err(|e| format!("--keyword: {e}"))?;
	let hex = hex0x(&td.to_bytes());
	out(vec![hex.clone()], json!({"trapdoor": hex, "keywords": a.keywords}))
}
