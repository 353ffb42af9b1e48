//! `mbds visit`: the patient's signed visit proof for an institution, which its doctors give
//! with the slips they write about the patient (`mbds record put --visit`).

use crate::{
	args::KeyArg,
	common::{account, hex0x, out, ss58, Out},
};
use clap::Args;
use mbds_client::{proxy::api, ParticipantKeys};
use mbds_runtime::AccountId;
use serde_json::json;
use sp_core::Pair;

#[derive(Args, Clone)]
pub struct VisitArgs {
	#[command(flatten)]
	key: KeyArg,
	/// The hospital or internet platform you visit (SS58).
	#[arg(long)]
	institution: String,
}

/// A patient's visit proof, as `mbds visit` prints it and `submit_slip` takes it.
pub type VisitProofOf = pallet_slips::VisitProof<AccountId, mbds_runtime::Signature>;

/// Patient: signs "I am at `institution` now" with the account key; prints the proof's hex.
pub fn run(a: VisitArgs) -> Result<Out, String> {
	use sp_runtime::codec::Encode;
	let keys = ParticipantKeys::load(&a.key.keys)?;
	let institution = account("--institution", &a.institution)?;
	let statement = pallet_slips::VisitStatement {
		patient: keys.account(),
		institution: institution.clone(),
		issued_at: api::now_ms(),
	};
	let proof: VisitProofOf = pallet_slips::VisitProof {
		institution: institution.clone(),
		issued_at: statement.issued_at,
		signature: sp_runtime::MultiSignature::Sr25519(
			keys.pair().sign(&statement.signing_payload()),
		),
	};
	let hex = hex0x(&proof.encode());
	let valid_until = statement
		.issued_at
		.saturating_add(<mbds_runtime::Runtime as pallet_slips::Config>::VisitValidity::get());
	out(
		vec![hex.clone()],
		json!({"visit": hex, "patient": keys.ss58(), "institution": ss58(&institution), "issued_at": statement.issued_at, "valid_until": valid_until}),
	)
}

/// Decodes `--visit` and checks it is `patient`'s proof for `institution` (if known).
pub fn parse_visit(
	hex: &str,
	patient: &AccountId,
	institution: Option<&AccountId>,
) -> Result<VisitProofOf, String> {
	use sp_runtime::codec::DecodeAll;
	let bytes = hex::decode(hex.trim().trim_start_matches("0x"))
		.map_err(|e| format!("--visit: not hex: {e}"))?;
	let proof = VisitProofOf::decode_all(&mut &bytes[..]).map_err(|e| {
		format!("--visit: not a visit proof ({e}); the patient makes one with `mbds visit`")
	})?;
	if !proof.is_signed_by(patient) {
		return Err(format!("--visit: the proof is not signed by the patient {}; ask them for theirs (`mbds visit --institution <your institution>`)", ss58(patient)));
	}
	if let Some(i) = institution.filter(|i| **i != proof.institution) {
		return Err(format!(
			"--visit: the proof is for a visit to {}, but this chain's institution is {}; ask the patient for a proof for {}",
			ss58(&proof.institution),
			ss58(i),
			ss58(i)
		));
	}
	Ok(proof)
}
