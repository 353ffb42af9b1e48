//! `mbds slips list|check|confirm|reject`: the patient's slips on a private chain.

use crate::{
	args::KeyArg,
	common::{block_on, connect, out, short, spinner, ss58, submit, Out, INCLUSION_TIMEOUT},
};
use clap::{Args, Subcommand, ValueEnum};
use mbds_client::{
	chain, open_stores,
	search::{self, CounterFile},
	ParticipantKeys,
};
use mbds_client::{
	queries::{self, Slip},
	records::{category_name, record_categories, SlipNote},
	Client,
};
use mbds_crypto::{
	check_keywords, keywords_from_json, EncryptedKeyword, Keyword, RecordEnvelope, SealedNote,
};
use mbds_primitives::{InstitutionKind, Role};
use mbds_runtime::{AccountId, RuntimeCall, RuntimeEvent};
use serde_json::{json, Value};
use sp_core::H256;
use sp_runtime::BoundedVec;

#[derive(Subcommand)]
pub enum SlipsCmd {
	/// List your slips on a private chain.
	List {
		#[command(flatten)]
		key: KeyArg,
		/// The private chain's RPC URL.
		#[arg(long)]
		chain: String,
	},
	/// Fetch, verify and decrypt a slip's record.
	Check(SlipArgs),
	/// Confirm a slip (checks its record first unless --no-check).
	Confirm {
		#[command(flatten)]
		slip: SlipArgs,
		/// Confirm without fetching and decrypting the record.
		#[arg(long)]
		no_check: bool,
	},
	/// Reject a slip.
	Reject {
		#[command(flatten)]
		slip: SlipArgs,
		/// Why: not your record, incorrect (the record, its keywords or its categories), the
		/// record does not match the slip's hash, or a duplicate of another slip.
		#[arg(long, value_enum)]
		reason: RejectReasonArg,
	},
}

#[derive(Args, Clone)]
pub struct SlipArgs {
	#[command(flatten)]
	key: KeyArg,
	/// The private chain's RPC URL.
	#[arg(long)]
	chain: String,
	/// The slip id.
	#[arg(long)]
	slip: u64,
	/// Record store(s).
	#[arg(long = "store")]
	stores: Vec<String>,
	/// The consortium's RPC URL (where the slip's search proxy's key is registered), to check
	/// the slip's encrypted keywords.
	#[arg(long)]
	consortium: Option<String>,
}

/// Why a patient rejects a slip (`--reason`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReasonArg {
	NotMine,
	Incorrect,
	HashMismatch,
	Duplicate,
}

impl From<RejectReasonArg> for pallet_slips::RejectReason {
	fn from(r: RejectReasonArg) -> Self {
		use pallet_slips::RejectReason::*;
		match r {
			RejectReasonArg::NotMine => NotMyRecord,
			RejectReasonArg::Incorrect => IncorrectContent,
			RejectReasonArg::HashMismatch => HashMismatch,
			RejectReasonArg::Duplicate => Duplicate,
		}
	}
}

fn slip_json(id: u64, s: &Slip) -> Value {
	json!({
		"slip": id,
		"status": format!("{:?}", s.status),
		"doctor": ss58(&s.doctor),
		"institution": ss58(&s.institution),
		"type": format!("{:?}", s.tx_type),
		"content": String::from_utf8_lossy(&s.content),
		"record_hash": chain::hash_hex(&s.record_hash),
		"keywords": s.encrypted_keywords.len(),
		"categories": s.categories.iter().map(|c| category_name(*c)).collect::<Vec<_>>(),
		"submitted_at": s.submitted_at,
	})
}

/// Fetches, verifies and decrypts a slip's record as its patient.
fn check_slip(
	keys: &ParticipantKeys,
	client: &Client,
	consortium: Option<&str>,
	slip_id: u64,
	stores: &[String],
) -> Result<(Slip, Value, Vec<String>), String> {
	let slip: Slip = queries::slips::slip(client, slip_id, None)?
		.ok_or_else(|| format!("--slip {slip_id}: no such slip on {}", client.rpc.url))?;
	if slip.patient != keys.account() {
		return Err(format!(
			"--slip {slip_id}: the slip is about {}, not you ({})",
			ss58(&slip.patient),
			keys.ss58()
		));
	}
	let sk = keys.record_key();
	let note = SealedNote::from_bytes(&slip.encrypted_address)
		.and_then(|n| n.open(&sk))
		.map_err(|e| {
			format!("slip {slip_id}: the encrypted storage address does not open with your key: {e}; reject it with --reason not-mine")
		})?;
	let note = SlipNote::from_bytes(&note)
		.map_err(|e| format!("slip {slip_id}: {e}; reject it with --reason incorrect"))?;
	if note.address != slip.record_hash.0 {
		return Err(format!("slip {slip_id}: the sealed storage address is not the slip's record hash; reject it with --reason hash-mismatch"));
	}
	let address = format!(
		"mbds-store:sha256:{}",
		mbds_storage::ContentAddress::from_bytes(note.address).to_hex()
	);
	let store = open_stores(stores)?;
	let bytes = block_on(store.get(&mbds_storage::ContentAddress::from_bytes(slip.record_hash.0)))?
		.map_err(|e| {
			format!("slip {slip_id}: fetching record {}: {e}", chain::hash_hex(&slip.record_hash))
		})?;
	let envelope = RecordEnvelope::from_bytes(&bytes)
		.map_err(|e| format!("slip {slip_id}: stored record: {e}"))?;
	let plain =
		envelope.open(&sk).map_err(|e| format!("slip {slip_id}: decrypting the record: {e}"))?;
	let text = String::from_utf8(plain)
		.map_err(|_| format!("slip {slip_id}: the record is not UTF-8 text"))?;
	let parsed: Vec<Keyword> = keywords_from_json(&text)
		.map_err(|e| format!("slip {slip_id}: the record is not FHIR JSON: {e}"))?
		.into_iter()
		.collect();
	let keywords: Vec<String> = parsed.iter().map(|k| k.to_string()).collect();
	// Every encrypted keyword must be exactly one of the record's own codes, for you and the
	// search proxy named in the note; and the categories the chain will apply to your grants
	// must be the record's own.
	let consortium = consortium.ok_or_else(|| {
		format!("slip {slip_id}: give --consortium to check the slip's encrypted keywords against its search proxy's key")
	})?;
	let consortium = connect(consortium, "consortium")?;
	let tester_account = AccountId::from(note.tester);
	// Keywords searchable only by someone other than the health authorities' proxies would
	// hide the record from your searches (or let that party test your trapdoors).
	let tester_role = chain::participant(&consortium, &tester_account)?.map(|p| p.role);
	if tester_role != Some(Role::Institution(InstitutionKind::HealthAuthority)) {
		return Err(format!(
			"slip {slip_id}: its keywords are encrypted for {}, which is not a health authority's search proxy on the consortium; reject it with --reason incorrect",
			ss58(&tester_account)
		));
	}
	let tester = chain::tester_key(&consortium, &tester_account).map_err(|e| {
		format!("slip {slip_id}: the search proxy {} named in the slip: {e}", ss58(&tester_account))
	})?;
	let ciphertexts = EncryptedKeyword::decode_all(&slip.encrypted_keywords)
		.map_err(|e| format!("slip {slip_id}: an encrypted keyword on the slip: {e}; reject it with --reason incorrect"))?;
	check_keywords(&keys.peks().public_key(), &tester, &parsed, &note.opening, &ciphertexts)
		.map_err(|e| format!("slip {slip_id}: {e}; reject it with --reason incorrect"))?;
	let categories = record_categories(&parsed);
	if slip.categories.to_vec() != categories {
		let names = |c: &[u32]| c.iter().map(|c| category_name(*c)).collect::<Vec<_>>().join(", ");
		return Err(format!(
			"slip {slip_id}: the slip labels the record [{}] but its codes are [{}]; reject it with --reason incorrect",
			names(&slip.categories),
			names(&categories)
		));
	}
	let rtype = serde_json::from_str::<Value>(&text)
		.ok()
		.and_then(|v| v["resourceType"].as_str().map(String::from))
		.unwrap_or_default();
	let cats: Vec<String> = categories.iter().map(|c| category_name(*c)).collect();
	Ok((
		slip,
		json!({"address": address, "resourceType": rtype, "keywords": keywords, "categories": cats, "keywords_checked": true, "bytes": text.len()}),
		keywords,
	))
}

/// Every slip about `patient` (pending and decided), paging through the whole list at one
/// block so the pages agree.
fn all_patient_slips(client: &Client, patient: &AccountId) -> Result<Vec<(u64, Slip)>, String> {
	/// Positions per runtime-API call (the runtime reads at most 256).
	const PAGE: u32 = 256;
	let best = mbds_client::bytes_of(&client.rpc.call("chain_getBlockHash", json!([]))?)?;
	if best.len() != 32 {
		return Err(format!("{}: chain_getBlockHash: not a 32-byte hash", client.rpc.url));
	}
	let at = Some(H256::from_slice(&best));
	let count = queries::slips::patient_slip_count(client, patient, at)?;
	let mut slips = Vec::new();
	let mut start = 0u32;
	while start < count {
		slips.extend(queries::slips::patient_slips(client, patient, start, PAGE, at)?);
		start = start.saturating_add(PAGE);
	}
	Ok(slips)
}

pub fn run(c: SlipsCmd) -> Result<Out, String> {
	match c {
		SlipsCmd::List { key, chain: url } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&url, "private chain")?;
			let slips = all_patient_slips(&client, &keys.account())?;
			let pending = slips
				.iter()
				.filter(|(_, s)| matches!(s.status, pallet_slips::SlipStatus::Pending { .. }))
				.count();
			let mut text = vec![format!(
				"{} slip(s) of {} on {} ({pending} waiting for your decision)",
				slips.len(),
				keys.ss58(),
				url
			)];
			for (id, s) in &slips {
				text.push(format!(
					"  slip {id:<4} {:?} {:?} by {} record {}",
					s.status,
					s.tx_type,
					short(&ss58(&s.doctor)),
					chain::hash_hex(&s.record_hash)
				));
			}
			out(text, json!(slips.iter().map(|(id, s)| slip_json(*id, s)).collect::<Vec<_>>()))
		}
		SlipsCmd::Check(a) => {
			let keys = ParticipantKeys::load(&a.key.keys)?;
			let client = connect(&a.chain, "private chain")?;
			let (slip, info, keywords) =
				check_slip(&keys, &client, a.consortium.as_deref(), a.slip, &a.stores)?;
			out(
				vec![
					format!(
						"slip {}: record {} verified against its hash and decrypted",
						a.slip,
						chain::hash_hex(&slip.record_hash)
					),
					format!(
						"  {} by {} , keywords: {}",
						info["resourceType"].as_str().unwrap_or(""),
						ss58(&slip.doctor),
						keywords.join(", ")
					),
				],
				json!({"slip": slip_json(a.slip, &slip), "record": info}),
			)
		}
		SlipsCmd::Confirm { slip: a, no_check } => {
			let keys = ParticipantKeys::load(&a.key.keys)?;
			let client = connect(&a.chain, "private chain")?;
			let (slip, info, keywords) = if no_check {
				let s: Slip = queries::slips::slip(&client, a.slip, None)?
					.ok_or_else(|| format!("--slip {}: no such slip", a.slip))?;
				(s, Value::Null, None)
			} else {
				if a.stores.is_empty() {
					return Err(
						"give --store to check the record before confirming (or --no-check)".into(),
					);
				}
				let (s, info, keywords) =
					check_slip(&keys, &client, a.consortium.as_deref(), a.slip, &a.stores)?;
				(s, info, Some(keywords))
			};
			// A checked record goes into your searchable index: one label per keyword, from
			// the counters kept beside your key file (taken before sending, locked until the
			// outcome, put back only if the confirmation failed in its block). Only if this
			// chain takes labels and the consortium indexes them (spec 107 or later).
			let indexed = match (&keywords, a.consortium.as_deref()) {
				(Some(kws), Some(url)) => {
					let consortium = connect(url, "consortium")?;
					if search::can_label(&client, &consortium)? {
						let kws = kws
							.iter()
							.map(|k| Keyword::parse(k).map_err(|e| format!("keyword {k:?}: {e}")))
							.collect::<Result<Vec<_>, _>>()?;
						let mut file = CounterFile::open(&a.key.keys, &keys)?;
						let before = file.counters().clone();
						let labels = file.take_labels(
							&keys.index_key(),
							&kws,
							search::consortium_lookup(&consortium, &keys.account(), None),
						)?;
						Some((file, before, labels))
					} else {
						None
					}
				}
				_ => None,
			};
			let call = match &indexed {
				Some((_, _, labels)) => {
					RuntimeCall::Slips(pallet_slips::Call::confirm_slip_indexed {
						slip_id: a.slip,
						record_hash: slip.record_hash,
						labels: BoundedVec::truncate_from(labels.clone()),
					})
				}
				None => RuntimeCall::Slips(pallet_slips::Call::confirm_slip {
					slip_id: a.slip,
					record_hash: slip.record_hash,
				}),
			};
			let pb =
				spinner(format!("confirming the slip: waiting for a block of {}", client.rpc.url));
			let sent = client.submit_and_wait(call, &keys.pair(), INCLUSION_TIMEOUT);
			pb.finish_and_clear();
			let inc = match sent {
				Ok(inc) => inc,
				Err(e) => {
					// Failed in its block: the labels were not used. Any other error may hide an
					// inclusion, so the labels stay taken (a gap, which searches walk over).
					if let Some((mut file, before, _)) = indexed {
						if matches!(e.root(), mbds_client::Error::Chain { .. }) {
							file.restore(before)?;
						}
					}
					return Err(format!("confirming the slip: {e}"));
				}
			};
			let batch = inc.events.iter().find_map(|e| match e {
				RuntimeEvent::Slips(pallet_slips::Event::SlipConfirmed {
					batch, items, ..
				}) => Some((*batch, *items)),
				_ => None,
			});
			let (batch, items) =
				batch.ok_or("confirming the slip: included but no SlipConfirmed event")?;
			let index = if indexed.is_some() {
				"labelled for your searchable index"
			} else {
				"not labelled (searchable with dPEKS trapdoors only)"
			};
			out(
				vec![format!("slip {} confirmed in block #{}; {items} summary item(s) in batch {batch}, {index}, to be anchored on the consortium", a.slip, inc.number)],
				json!({"slip": a.slip, "block": inc.number, "batch": batch, "items": items, "indexed": indexed.is_some(), "record": info}),
			)
		}
		SlipsCmd::Reject { slip: a, reason } => {
			let reason: pallet_slips::RejectReason = reason.into();
			let keys = ParticipantKeys::load(&a.key.keys)?;
			let client = connect(&a.chain, "private chain")?;
			let inc = submit(
				&client,
				RuntimeCall::Slips(pallet_slips::Call::reject_slip { slip_id: a.slip, reason }),
				&keys.pair(),
				"rejecting the slip",
			)?;
			out(
				vec![format!("slip {} rejected ({reason:?}) in block #{}", a.slip, inc.number)],
				json!({"slip": a.slip, "block": inc.number}),
			)
		}
	}
}
