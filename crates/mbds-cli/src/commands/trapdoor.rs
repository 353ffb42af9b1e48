//! `mbds trapdoor`: the patient makes a search permission for keywords, usable through one
//! search proxy only: the keywords' tokens for the patient's searchable index, sealed to that
//! proxy's record key, and, while the patient has records anchored without index labels, a
//! dPEKS trapdoor for its tester key that finds those (`mbds_client::search`).

use crate::{
	args::{ConsortiumArg, KeyArg},
	common::{account, connect, hex0x, out, Out},
};
use clap::Args;
use mbds_client::{
	chain, queries,
	search::{self, CounterFile, SearchPermission},
	ParticipantKeys,
};
use mbds_crypto::Keyword;
use serde_json::json;

#[derive(Args)]
pub struct TrapdoorArgs {
	#[command(flatten)]
	key: KeyArg,
	#[command(flatten)]
	consortium: ConsortiumArg,
	/// The search proxy's account (SS58): the permission works through it only.
	#[arg(long)]
	tester: String,
	/// A keyword, `system|code` (repeat for a conjunctive search).
	#[arg(long = "keyword", required = true)]
	keywords: Vec<String>,
	/// Make a designated-tester trapdoor alone (for a proxy that predates the index).
	#[arg(long)]
	dpeks_only: bool,
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
	// A consortium without the searchable index (before spec 107) takes the trapdoor alone.
	if !search::consortium_indexes(&c)? || a.dpeks_only {
		let hex = hex0x(&td.to_bytes());
		return out(
			vec![hex.clone()],
			json!({"trapdoor": hex, "keywords": a.keywords, "index": false}),
		);
	}
	let proxy = account("--tester", &a.tester)?;
	let record_key = chain::record_key(&c, &proxy)?;
	let unindexed = queries::anchor::unindexed_count(&c, &keys.account(), None)?;
	let legacy = (unindexed > 0).then(|| td.to_bytes());
	// How many labels each keyword has: from the counters beside the key file (looked up on
	// the consortium for a keyword they do not know); the proxy walks exactly those.
	let mut file = CounterFile::open(&a.key.keys, &keys)?;
	let counts =
		file.counts(&keys.index_key(), &kws, search::consortium_lookup(&c, &keys.account(), None))?;
	drop(file);
	let walks: Vec<(Keyword, u64)> = kws.iter().cloned().zip(counts.iter().copied()).collect();
	let permission = SearchPermission::new(&keys, &record_key, &walks, legacy)?;
	let hex = hex0x(&permission.to_bytes());
	out(
		vec![hex.clone()],
		json!({"trapdoor": hex, "keywords": a.keywords, "index": true, "labels": counts, "unindexed_items": unindexed}),
	)
}
