//! Options several commands share: the key file, the consortium, the terms and reach of a
//! grant, request or policy, and where key fragments go.

use clap::{Args, ValueEnum};
use mbds_client::chain;
use mbds_client::records::parse_category;
use mbds_primitives::consent::{self, ActionSet, GrantScope, Purpose, RecordId};
use std::path::PathBuf;

#[derive(Args, Clone)]
pub struct KeyArg {
	/// Your key file (`mbds keys new`).
	#[arg(long)]
	pub keys: PathBuf,
}

#[derive(Args, Clone)]
pub struct ConsortiumArg {
	/// A consortium node's RPC URL.
	#[arg(long, default_value = "http://127.0.0.1:9944")]
	pub consortium: String,
}

/// What a grantee may do with a record (`--actions`).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionArg {
	Read,
	Write,
	Copy,
}

impl From<ActionArg> for consent::Action {
	fn from(a: ActionArg) -> Self {
		match a {
			ActionArg::Read => consent::Action::Read,
			ActionArg::Write => consent::Action::Write,
			ActionArg::Copy => consent::Action::Copy,
		}
	}
}

/// Why a grant or request is made (`--purpose`, recorded with it).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PurposeArg {
	Treatment,
	// Emergency treatment.
	Emergency,
	Payment,
	Research,
	Operations,
	PublicHealth,
	// The patient's own request.
	Patient,
}

impl From<PurposeArg> for Purpose {
	fn from(p: PurposeArg) -> Self {
		match p {
			PurposeArg::Treatment => Purpose::Treatment,
			PurposeArg::Emergency => Purpose::EmergencyTreatment,
			PurposeArg::Payment => Purpose::Payment,
			PurposeArg::Research => Purpose::Research,
			PurposeArg::Operations => Purpose::Operations,
			PurposeArg::PublicHealth => Purpose::PublicHealth,
			PurposeArg::Patient => Purpose::PatientRequest,
		}
	}
}

/// The terms of a grant or an access request.
#[derive(Args, Clone)]
pub struct TermsArgs {
	#[command(flatten)]
	pub reach: ReachArgs,
	/// Validity in days from now.
	#[arg(long, default_value_t = 30)]
	pub days: u64,
	/// Why access is asked or given (`emergency`: break-glass, granted by the patient's
	/// emergency policy on an attestation, `mbds emergency attest`).
	#[arg(long, value_enum, default_value_t = PurposeArg::Treatment)]
	pub purpose: PurposeArg,
}

/// What a grant, request or standing policy covers: actions and records.
#[derive(Args, Clone)]
pub struct ReachArgs {
	/// What the grantee may do, comma-separated.
	#[arg(long, value_enum, value_delimiter = ',', default_value = "read")]
	pub actions: Vec<ActionArg>,
	/// Only these records (hash, repeat); default all records.
	#[arg(long = "record")]
	pub records: Vec<String>,
	/// Only records whose categories are all among these (repeat): icd10:<chapter or code>,
	/// loinc, snomed, medication, atc:<letter>, mental-health, sexual-health, genetics, other.
	/// The chain applies them to the categories the patient confirmed on each record's slip.
	#[arg(long = "category", conflicts_with = "records")]
	pub categories: Vec<String>,
}

impl ReachArgs {
	/// The actions and the scope.
	pub fn parse(&self) -> Result<(ActionSet, GrantScope), String> {
		let actions: Vec<consent::Action> = self.actions.iter().map(|a| (*a).into()).collect();
		Ok((ActionSet::of(&actions), parse_scope(&self.records, &self.categories)?))
	}
}

/// Parsed [`TermsArgs`].
pub struct Terms {
	pub actions: ActionSet,
	pub scope: GrantScope,
	/// End of validity, Unix ms.
	pub until: u64,
	pub purpose: Purpose,
}

impl TermsArgs {
	/// Parses the terms; the end of validity is `days` from `now` (Unix ms).
	pub fn parse(&self, now: u64) -> Result<Terms, String> {
		let (actions, scope) = self.reach.parse()?;
		Ok(Terms {
			actions,
			scope,
			until: now + self.days * 86_400_000,
			purpose: self.purpose.into(),
		})
	}
}

fn parse_scope(records: &[String], categories: &[String]) -> Result<GrantScope, String> {
	if !categories.is_empty() {
		let mut list = categories
			.iter()
			.map(|c| parse_category(c).map_err(|e| format!("--category: {e}")))
			.collect::<Result<Vec<_>, _>>()?;
		list.sort_unstable();
		list.dedup();
		let n = list.len();
		return Ok(GrantScope::Categories(list.try_into().map_err(|_| {
			format!(
				"--category: {n} categories, at most {} per grant",
				consent::MAX_SCOPE_CATEGORIES
			)
		})?));
	}
	if records.is_empty() {
		return Ok(GrantScope::AllRecords);
	}
	let ids = records
		.iter()
		.map(|r| chain::parse_hash("--record", r).map(RecordId::Hash))
		.collect::<Result<Vec<_>, _>>()?;
	let n = ids.len();
	Ok(GrantScope::Records(ids.try_into().map_err(|_| {
		format!("--record: {n} records, at most {} per grant", consent::MAX_SCOPE_RECORDS)
	})?))
}

/// Where the key fragments for a grantee go.
#[derive(Args, Clone)]
pub struct ShareArgs {
	/// Proxy URLs that get one key fragment each (repeat); `ACCOUNT@URL` also names the
	/// health authority the URL must be.
	#[arg(long = "proxy")]
	pub proxies: Vec<String>,
	/// Fragments a grantee needs.
	#[arg(long, default_value_t = 2)]
	pub threshold: usize,
}

#[cfg(test)]
mod tests {
	use super::*;
	use clap::Parser;

	#[derive(Parser)]
	struct Cli {
		#[command(flatten)]
		terms: TermsArgs,
	}

	fn terms(args: &[&str]) -> Result<Terms, String> {
		let cli = Cli::try_parse_from(["t"].iter().chain(args)).map_err(|e| e.to_string())?;
		cli.terms.parse(1_000)
	}

	#[test]
	fn terms_default_to_reading_all_records_for_treatment_for_30_days() {
		let t = terms(&[]).unwrap();
		assert_eq!(t.actions, ActionSet::of(&[consent::Action::Read]));
		assert_eq!(t.scope, GrantScope::AllRecords);
		assert_eq!(t.purpose, Purpose::Treatment);
		assert_eq!(t.until, 1_000 + 30 * 86_400_000);
	}

	#[test]
	fn the_spellings_scripts_use_are_accepted() {
		let t = terms(&["--actions", "read,write,copy", "--purpose", "public-health"]).unwrap();
		assert_eq!(
			t.actions,
			ActionSet::of(&[consent::Action::Read, consent::Action::Write, consent::Action::Copy])
		);
		assert_eq!(t.purpose, Purpose::PublicHealth);
		for (arg, purpose) in [
			("treatment", Purpose::Treatment),
			("emergency", Purpose::EmergencyTreatment),
			("payment", Purpose::Payment),
			("research", Purpose::Research),
			("operations", Purpose::Operations),
			("patient", Purpose::PatientRequest),
		] {
			assert_eq!(terms(&["--purpose", arg]).unwrap().purpose, purpose);
		}
		let t = terms(&["--category", "icd10:4", "--category", "loinc", "--days", "7"]).unwrap();
		assert!(matches!(t.scope, GrantScope::Categories(ref c) if c.len() == 2));
	}

	#[test]
	fn unknown_values_are_refused_with_the_possible_ones() {
		let e = terms(&["--purpose", "fun"]).err().unwrap();
		assert!(e.contains("possible values: treatment, emergency"), "{e}");
		let e = terms(&["--actions", "read,delete"]).err().unwrap();
		assert!(e.contains("possible values: read, write, copy"), "{e}");
		assert!(terms(&["--record", "0x00", "--category", "loinc"]).is_err());
	}
}
