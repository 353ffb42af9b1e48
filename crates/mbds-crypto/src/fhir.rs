//! Keywords from coded FHIR R4 concepts.
//!
//! A keyword is `system|code` after canonicalisation, so two doctors who code the same concept
//! produce the same keyword (and therefore the same search hit):
//!
//! * the system URI is trimmed; known code systems are recognised case-insensitively under their
//!   common aliases (`icd-10`, `urn:oid:2.16.840.1.113883.6.3`, `https://...`, trailing `/`) and
//!   replaced by the canonical FHIR URI; unknown systems are only trimmed (FHIR URIs are
//!   case-sensitive);
//! * the code is trimmed and normalised by its system's rules: ICD-10 / ICD-10-CM uppercase,
//!   no spaces, dot after the category (`e119` -> `E11.9`); SNOMED CT and RxNorm digits only;
//!   LOINC and ATC uppercase without spaces; unknown systems keep the code as written, trimmed.
//!
//! Extracted from `Condition.code`, `Observation.code`, `Procedure.code`,
//! `MedicationRequest.medicationCodeableConcept` (R4; also R5's `medication.concept`), for every
//! coding that has both a system and a code, in a single resource or every entry of a Bundle.
//! A coding without a system is skipped: a bare code is ambiguous across code systems.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::{CryptoError, Result};

/// Longest canonical keyword accepted.
pub const MAX_KEYWORD_LEN: usize = 512;

/// A canonical `system|code` keyword, the input of keyword encryption and trapdoors.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Keyword(String);

/// Canonical URIs of the code systems with known aliases.
pub mod systems {
	/// ICD-10 (WHO).
	pub const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
	/// ICD-10-CM (US clinical modification).
	pub const ICD10_CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";
	/// SNOMED CT.
	pub const SNOMED_CT: &str = "http://snomed.info/sct";
	/// LOINC.
	pub const LOINC: &str = "http://loinc.org";
	/// RxNorm.
	pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";
	/// WHO ATC.
	pub const ATC: &str = "http://www.whocc.no/atc";
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CodeRule {
	Icd10,
	Digits,
	UpperNoSpace,
	AsWritten,
}

/// Known systems: canonical URI, code rule, aliases (compared lowercase, without scheme and
/// trailing slash for URLs).
const KNOWN: &[(&str, CodeRule, &[&str])] = &[
	(
		systems::ICD10,
		CodeRule::Icd10,
		&[
			"hl7.org/fhir/sid/icd-10",
			"icd-10",
			"icd10",
			"icd-10-who",
			"urn:oid:2.16.840.1.113883.6.3",
		],
	),
	(
		systems::ICD10_CM,
		CodeRule::Icd10,
		&["hl7.org/fhir/sid/icd-10-cm", "icd-10-cm", "icd10cm", "urn:oid:2.16.840.1.113883.6.90"],
	),
	(
		systems::SNOMED_CT,
		CodeRule::Digits,
		&[
			"snomed.info/sct",
			"snomed",
			"snomed-ct",
			"snomedct",
			"sct",
			"urn:oid:2.16.840.1.113883.6.96",
		],
	),
	(
		systems::LOINC,
		CodeRule::UpperNoSpace,
		&["loinc.org", "loinc", "urn:oid:2.16.840.1.113883.6.1"],
	),
	(
		systems::RXNORM,
		CodeRule::Digits,
		&["www.nlm.nih.gov/research/umls/rxnorm", "rxnorm", "urn:oid:2.16.840.1.113883.6.88"],
	),
	(
		systems::ATC,
		CodeRule::UpperNoSpace,
		&["www.whocc.no/atc", "atc", "urn:oid:2.16.840.1.113883.6.73"],
	),
];

fn lookup_system(system: &str) -> Option<(&'static str, CodeRule)> {
	let lower = system.trim().to_ascii_lowercase();
	let bare = lower
		.strip_prefix("http://")
		.or_else(|| lower.strip_prefix("https://"))
		.unwrap_or(&lower)
		.trim_end_matches('/');
	KNOWN.iter().find(|(_, _, aliases)| aliases.contains(&bare)).map(|(uri, rule, _)| (*uri, *rule))
}

fn canonical_code(system: &str, rule: CodeRule, code: &str) -> Result<String> {
	let compact: String = code.chars().filter(|c| !c.is_whitespace()).collect();
	let bad =
		|why: &str| CryptoError::InvalidKeyword(format!("code {code:?} of system {system}: {why}"));
	let out = match rule {
		CodeRule::AsWritten => code.trim().to_string(),
		CodeRule::UpperNoSpace => compact.to_ascii_uppercase(),
		CodeRule::Digits => {
			if !compact.chars().all(|c| c.is_ascii_digit()) {
				return Err(bad("must be digits only"));
			}
			compact
		}
		CodeRule::Icd10 => {
			let plain: String =
				compact.chars().filter(|c| *c != '.').collect::<String>().to_ascii_uppercase();
			if plain.len() < 3 || !plain.chars().all(|c| c.is_ascii_alphanumeric()) {
				return Err(bad("not an ICD-10 code (letter, two digits, optional subdivision)"));
			}
			if plain.len() > 3 {
				format!("{}.{}", &plain[..3], &plain[3..])
			} else {
				plain
			}
		}
	};
	if out.is_empty() {
		return Err(bad("empty"));
	}
	Ok(out)
}

impl Keyword {
	/// The canonical keyword for a coding.
	pub fn from_coding(system: &str, code: &str) -> Result<Self> {
		let (sys, rule) = match lookup_system(system) {
			Some((uri, rule)) => (uri.to_string(), rule),
			None => (system.trim().to_string(), CodeRule::AsWritten),
		};
		if sys.is_empty() {
			return Err(CryptoError::InvalidKeyword(format!("empty system for code {code:?}")));
		}
		if sys.contains('|') {
			return Err(CryptoError::InvalidKeyword(format!("system {sys:?} contains '|'")));
		}
		let code = canonical_code(&sys, rule, code)?;
		Self::checked(format!("{sys}|{code}"))
	}

	/// Parses an already canonical `system|code` string (canonicalising it again).
	pub fn parse(s: &str) -> Result<Self> {
		let (system, code) = s.split_once('|').ok_or_else(|| {
			CryptoError::InvalidKeyword(format!("{s:?} is not of the form system|code"))
		})?;
		Self::from_coding(system, code)
	}

	fn checked(s: String) -> Result<Self> {
		if s.len() > MAX_KEYWORD_LEN {
			return Err(CryptoError::InvalidKeyword(format!(
				"keyword is {} bytes, limit {MAX_KEYWORD_LEN}",
				s.len()
			)));
		}
		Ok(Self(s))
	}

	/// The canonical `system|code` text.
	pub fn as_str(&self) -> &str {
		&self.0
	}
}

impl core::fmt::Display for Keyword {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		f.write_str(&self.0)
	}
}

const MAX_BUNDLE_DEPTH: usize = 4;

/// Canonical keywords of a FHIR R4 resource or Bundle given as JSON text.
pub fn keywords_from_json(json: &str) -> Result<BTreeSet<Keyword>> {
	let v: Value =
		serde_json::from_str(json).map_err(|e| CryptoError::Fhir(format!("not JSON: {e}")))?;
	keywords_from_value(&v)
}

/// Canonical keywords of a FHIR R4 resource or Bundle.
pub fn keywords_from_value(resource: &Value) -> Result<BTreeSet<Keyword>> {
	let mut out = BTreeSet::new();
	collect(resource, "$", 0, &mut out)?;
	Ok(out)
}

fn collect(resource: &Value, path: &str, depth: usize, out: &mut BTreeSet<Keyword>) -> Result<()> {
	let rtype = resource
		.get("resourceType")
		.and_then(Value::as_str)
		.ok_or_else(|| CryptoError::Fhir(format!("{path}: missing resourceType")))?;
	match rtype {
		"Bundle" => {
			if depth >= MAX_BUNDLE_DEPTH {
				return Err(CryptoError::Fhir(format!(
					"{path}: Bundles nested deeper than {MAX_BUNDLE_DEPTH}"
				)));
			}
			let entries = match resource.get("entry") {
				None => return Ok(()),
				Some(Value::Array(a)) => a,
				Some(_) => return Err(CryptoError::Fhir(format!("{path}.entry: not an array"))),
			};
			for (i, e) in entries.iter().enumerate() {
				if let Some(r) = e.get("resource") {
					collect(r, &format!("{path}.entry[{i}].resource"), depth + 1, out)?;
				}
			}
			Ok(())
		}
		"Condition" | "Observation" | "Procedure" => {
			codeable(resource.get("code"), &format!("{path}.code"), out)
		}
		"MedicationRequest" => {
			codeable(
				resource.get("medicationCodeableConcept"),
				&format!("{path}.medicationCodeableConcept"),
				out,
			)?;
			// R5 moved it to medication.concept (CodeableReference).
			codeable(
				resource.get("medication").and_then(|m| m.get("concept")),
				&format!("{path}.medication.concept"),
				out,
			)
		}
		_ => Ok(()),
	}
}

fn codeable(cc: Option<&Value>, path: &str, out: &mut BTreeSet<Keyword>) -> Result<()> {
	let Some(cc) = cc else { return Ok(()) };
	let codings = match cc.get("coding") {
		None => return Ok(()),
		Some(Value::Array(a)) => a,
		Some(_) => return Err(CryptoError::Fhir(format!("{path}.coding: not an array"))),
	};
	for (i, c) in codings.iter().enumerate() {
		let field = |name: &str| -> Result<Option<&str>> {
			match c.get(name) {
				None | Some(Value::Null) => Ok(None),
				Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
				Some(Value::String(s)) => Ok(Some(s.as_str())),
				Some(_) => {
					Err(CryptoError::Fhir(format!("{path}.coding[{i}].{name}: not a string")))
				}
			}
		};
		if let (Some(system), Some(code)) = (field("system")?, field("code")?) {
			let kw = Keyword::from_coding(system, code)
				.map_err(|e| CryptoError::Fhir(format!("{path}.coding[{i}]: {e}")))?;
			out.insert(kw);
		}
	}
	Ok(())
}
