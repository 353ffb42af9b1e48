//! `mbds record put|get`: a doctor writes a record (FHIR JSON in, sealed to the patient, into
//! the stores, its slip on the private chain); a patient or grantee reads one.

use crate::{
	args::{ConsortiumArg, KeyArg},
	commands::visit::parse_visit,
	common::{
		account, block_on, connect, event_of, out, spinner, ss58, submit, write_private, Out,
	},
};
use clap::{Args, Subcommand, ValueEnum};
use mbds_client::{
	chain, membership, open_stores,
	proxy::api,
	read::{self, Progress},
	records::{category_name, record_categories, SlipNote},
	ParticipantKeys,
};
use mbds_crypto::{
	keywords_from_json, EncryptedKeyword, KeywordOpening, RecordEnvelope, SealedNote,
};
use mbds_runtime::{AccountId, RuntimeCall, RuntimeEvent};
use serde_json::{json, Value};
use sp_core::H256;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum RecordCmd {
	/// Doctor: seal a FHIR record to the patient, store it, submit its slip.
	Put(PutArgs),
	/// Read a record: your own directly, someone else's through t proxies' re-encryption.
	Get(GetArgs),
}

#[derive(Args)]
pub struct PutArgs {
	#[command(flatten)]
	key: KeyArg,
	/// The private chain's RPC URL (your institution's chain).
	#[arg(long)]
	chain: String,
	#[command(flatten)]
	consortium: ConsortiumArg,
	/// The patient (SS58).
	#[arg(long)]
	patient: String,
	/// FHIR R4 JSON: a resource or a Bundle.
	#[arg(long)]
	fhir: PathBuf,
	/// The search proxy's account (SS58): keywords are encrypted for its tester key.
	#[arg(long)]
	tester: String,
	/// Record store(s): folder, file://... or s3://bucket?endpoint=URL. Repeat to replicate.
	#[arg(long = "store", required = true)]
	stores: Vec<String>,
	/// The kind of care the record documents (on the slip).
	#[arg(long = "type", value_name = "TYPE", value_enum, default_value_t = TxTypeArg::Consultation)]
	kind: TxTypeArg,
	/// Short public description on the slip (no clear medical data).
	#[arg(long, default_value = "")]
	content: String,
	/// The patient's visit proof for your institution (hex, from the patient's
	/// `mbds visit --institution <your institution>`).
	#[arg(long)]
	visit: String,
}

#[derive(Args)]
pub struct GetArgs {
	#[command(flatten)]
	key: KeyArg,
	#[command(flatten)]
	consortium: ConsortiumArg,
	/// The record's owner (SS58).
	#[arg(long)]
	patient: String,
	/// The record hash (0x...), from `mbds search` or the slip.
	#[arg(long)]
	record: String,
	/// Proxy URLs to ask (repeat); not needed for your own records.
	#[arg(long = "proxy")]
	proxies: Vec<String>,
	/// Fragments needed (the patient's threshold).
	#[arg(long, default_value_t = 2)]
	threshold: usize,
	/// Record store(s).
	#[arg(long = "store", required = true)]
	stores: Vec<String>,
	/// Write the decrypted FHIR JSON here (default: print it).
	#[arg(long)]
	out: Option<PathBuf>,
	/// Your institution's member key (`mbds institution member-key`), to read under a
	/// grant to your institution's doctors.
	#[arg(long)]
	member_key: Option<PathBuf>,
}

/// The slip's transaction type.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxTypeArg {
	Consultation,
	Diagnosis,
	Prescription,
	Examination,
	Treatment,
	Referral,
	FollowUp,
}

impl From<TxTypeArg> for pallet_slips::TransactionType {
	fn from(t: TxTypeArg) -> Self {
		use pallet_slips::TransactionType::*;
		match t {
			TxTypeArg::Consultation => Consultation,
			TxTypeArg::Diagnosis => Diagnosis,
			TxTypeArg::Prescription => Prescription,
			TxTypeArg::Examination => Examination,
			TxTypeArg::Treatment => Treatment,
			TxTypeArg::Referral => Referral,
			TxTypeArg::FollowUp => FollowUp,
		}
	}
}

pub fn run(c: RecordCmd) -> Result<Out, String> {
	match c {
		RecordCmd::Put(a) => put(a),
		RecordCmd::Get(a) => get(a),
	}
}

fn put(a: PutArgs) -> Result<Out, String> {
	let fhir = &a.fhir;
	let keys = ParticipantKeys::load(&a.key.keys)?;
	let patient = account("--patient", &a.patient)?;
	let kind: pallet_slips::TransactionType = a.kind.into();
	let text =
		std::fs::read_to_string(fhir).map_err(|e| format!("--fhir {}: {e}", fhir.display()))?;
	let resource: Value = serde_json::from_str(&text)
		.map_err(|e| format!("--fhir {}: not JSON: {e}", fhir.display()))?;
	let rtype = resource["resourceType"].as_str().ok_or_else(|| {
		format!(
			"--fhir {}: no `resourceType`; expected a FHIR R4 resource or Bundle",
			fhir.display()
		)
	})?;
	let record_id = format!("{rtype}/{}", resource["id"].as_str().unwrap_or("-"));
	let keywords =
		keywords_from_json(&text).map_err(|e| format!("--fhir {}: {e}", fhir.display()))?;
	if keywords.is_empty() {
		return Err(format!("--fhir {}: no coded concept (Condition, Observation, Procedure, MedicationRequest codes) to make keywords from; the record could never be found by search", fhir.display()));
	}
	let categories = record_categories(&keywords);
	let max = mbds_primitives::consent::MAX_SCOPE_CATEGORIES as usize;
	if categories.len() > max {
		return Err(format!("--fhir {}: the record's codes fall in {} categories, a slip carries at most {max}; split the record", fhir.display(), categories.len()));
	}
	let private = connect(&a.chain, "private chain")?;
	let institution: Option<AccountId> = private
		.storage(&pallet_slips::Institution::<mbds_runtime::Runtime>::hashed_key())
		.map_err(|e| format!("reading the chain's institution: {e}"))?;
	let visit = parse_visit(&a.visit, &patient, institution.as_ref())?;
	let consortium = connect(&a.consortium.consortium, "consortium")?;
	let patient_pk = chain::record_key(&private, &patient)?;
	let patient_search = chain::search_key(&private, &patient)?;
	let tester_account = account("--tester", &a.tester)?;
	let tester = chain::tester_key(&consortium, &tester_account)?;

	let envelope = RecordEnvelope::seal(&patient_pk, record_id.as_bytes(), 1, text.as_bytes())
		.map_err(|e| format!("sealing the record: {e}"))?;
	let bytes = envelope.to_bytes();
	let store = open_stores(&a.stores)?;
	let pb = spinner(format!(
		"uploading {} KiB to {} store(s)",
		bytes.len().div_ceil(1024),
		a.stores.len()
	));
	let address = block_on(store.put(bytes::Bytes::from(bytes.clone())))?
		.map_err(|e| format!("storing the record: {e}"))?;
	pb.finish_and_clear();
	let record_hash = H256(*address.as_bytes());
	// The keywords are encrypted with randomness the patient can re-derive from the opening
	// sealed to them with the storage address, so they can check each one before confirming.
	let opening = KeywordOpening::generate();
	let slip_note =
		SlipNote { address: *address.as_bytes(), tester: *tester_account.as_ref(), opening };
	let note = SealedNote::seal(&patient_pk, &slip_note.to_bytes())
		.map_err(|e| format!("sealing the storage address and keyword opening: {e}"))?;
	let encrypted_keywords: Vec<Vec<u8>> = keywords
		.iter()
		.enumerate()
		.map(|(i, k)| {
			EncryptedKeyword::encrypt_opened(
				&patient_search,
				&tester,
				k,
				&slip_note.opening,
				i as u32,
			)
			.to_bytes()
		})
		.collect();
	let call = RuntimeCall::Slips(pallet_slips::Call::submit_slip {
		patient: patient.clone(),
		visit,
		generated_at: api::now_ms(),
		tx_type: kind,
		content: a.content.as_bytes().to_vec(),
		encrypted_keywords,
		categories: categories.clone(),
		encrypted_address: note.to_bytes(),
		record_hash,
	});
	let inc = submit(&private, call, &keys.pair(), "submitting the slip")?;
	let slip = event_of(&inc, "submitting the slip", "SlipSubmitted", |e| match e {
		RuntimeEvent::Slips(pallet_slips::Event::SlipSubmitted { slip_id, .. }) => Some(*slip_id),
		_ => None,
	})?;
	let kws: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
	let cats: Vec<String> = categories.iter().map(|c| category_name(*c)).collect();
	out(
		vec![
			format!(
				"record {record_id} sealed to {} and stored as {}",
				ss58(&patient),
				chain::hash_hex(&record_hash)
			),
			format!(
				"slip {slip} submitted in block #{} with {} encrypted keyword(s): {}",
				inc.number,
				kws.len(),
				kws.join(", ")
			),
			format!("  categories: {}", cats.join(", ")),
			format!("the patient confirms it with: mbds slips confirm --slip {slip} ..."),
		],
		json!({"slip": slip, "record_hash": chain::hash_hex(&record_hash), "block": inc.number, "keywords": kws, "categories": cats, "record_id": record_id}),
	)
}

fn get(a: GetArgs) -> Result<Out, String> {
	let GetArgs {
		key,
		consortium,
		patient,
		record,
		proxies,
		threshold,
		stores,
		out: out_path,
		member_key,
	} = a;
	let (patient, record) = (patient.as_str(), record.as_str());
	let keys = ParticipantKeys::load(&key.keys)?;
	let patient_id = account("--patient", patient)?;
	let hash = chain::parse_hash("--record", record)?;
	let consortium = connect(&consortium.consortium, "consortium")?;
	let patient_pk = chain::record_key(&consortium, &patient_id)?;
	let store = open_stores(&stores)?;
	let pb = spinner(format!("fetching record {record}"));
	let bytes = block_on(store.get(&mbds_storage::ContentAddress::from_bytes(hash.0)))?;
	pb.finish_and_clear();
	let bytes = bytes.map_err(|e| format!("record {record}: {e}"))?;
	let envelope =
		RecordEnvelope::from_bytes(&bytes).map_err(|e| format!("record {record}: {e}"))?;
	if envelope.header().owner != patient_pk {
		return Err(format!("record {record} is not sealed to {patient}"));
	}
	let (plain, via) = if keys.account() == patient_id {
		(read::open_own(&keys, record, &envelope)?, vec![])
	} else {
		// Fragments open with your own key, or (a grant to your institution's doctors) with
		// your institution's, if it gave you its member key.
		let mut openers = vec![(keys.ss58(), keys.record_key())];
		if let Some(path) = &member_key {
			// (Too few --proxy is reported first, by `read_shared`.)
			if proxies.len() >= threshold {
				openers.push(membership::load_member_key(&keys, &consortium, path)?);
			}
		}
		let mut pb = None;
		let mut progress = |p| match p {
			Progress::Asking(n) => {
				pb = Some(spinner(format!(
					"asking {n} proxies at once (each records the access on chain)"
				)))
			}
			Progress::Answered => {
				if let Some(pb) = pb.take() {
					pb.finish_and_clear()
				}
			}
		};
		read::read_shared(
			&keys,
			patient,
			record,
			&envelope,
			&proxies,
			threshold,
			&openers,
			&mut progress,
		)?
	};
	let text = String::from_utf8(plain).map_err(|_| format!("record {record}: not UTF-8 text"))?;
	let keywords: Vec<String> = keywords_from_json(&text)
		.map(|k| k.iter().map(|k| k.to_string()).collect())
		.unwrap_or_default();
	let mut lines = vec![format!(
		"record {record} of {patient} decrypted ({} bytes{}), keywords: {}",
		text.len(),
		if via.is_empty() {
			String::new()
		} else {
			format!(", fragments from {} proxies", via.len())
		},
		keywords.join(", ")
	)];
	match &out_path {
		Some(p) => {
			write_private(p, text.as_bytes()).map_err(|e| format!("--out {}: {e}", p.display()))?;
			lines.push(format!("written to {}", p.display()));
		}
		None => lines.push(text.clone()),
	}
	let fhir: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
	out(lines, json!({"record": record, "keywords": keywords, "proxies": via, "fhir": fhir}))
}
