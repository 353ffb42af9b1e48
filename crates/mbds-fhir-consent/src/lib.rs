//! Export of MBDS consent grants as HL7 FHIR R4 `Consent` resources.
//!
//! A patient's client reads its grants from the consortium chain (`ConsentApi::grants_of`) and
//! turns each into a FHIR R4 Consent (JSON) with [`grant_to_fhir_consent`], for hospital
//! systems that speak FHIR. The mapping:
//!
//! | MBDS grant                  | FHIR R4 Consent                                                  |
//! |-----------------------------|------------------------------------------------------------------|
//! | (every grant)               | `scope` = consentscope `patient-privacy`; `category` = LOINC `59284-0` (Patient Consent); `policyRule` = v3-ActCode `OPTIN` |
//! | in force / future vs. past  | `status` `active` / `inactive`                                   |
//! | `patient`                   | `patient` (identifier `urn:mbds:account`)                        |
//! | `created_at`                | `dateTime`                                                       |
//! | `valid_from..valid_until`   | `provision.period` (`end` is exclusive in MBDS, inclusive in FHIR: 1 ms is subtracted) |
//! | `grantee`                   | `provision.actor` with role v3-ParticipationType `IRCP`; the account, or for "any doctor of" the `Organization` |
//! | read / write / copy         | `provision.action` consentaction `access` / `correct` / `collect` |
//! | `purpose`                   | `provision.purpose` (v3-ActReason)                               |
//! | listed records              | `provision.data` (`meaning` `instance`, identifiers `urn:mbds:record-hash` or `urn:mbds:slip:<chain>`) |
//! | keyword categories          | `provision.code` (one CodeableConcept per category)             |
//! | source (direct/request/policy) | `sourceReference` identifier `urn:mbds:grant-source`          |
//!
//! Accounts are written as the `0x`-hex of their SCALE encoding (for `AccountId32`, the public
//! key), so the FHIR side needs no SS58 knowledge.

use codec::Encode;
use mbds_primitives::{
	consent::{
		Action, CategoryId, Grant, GrantId, GrantScope, GrantSource, Grantee, RecordId,
		SYSTEM_ICD10_CHAPTER, SYSTEM_LOINC_CLASS, SYSTEM_MBDS_SENSITIVE, SYSTEM_SNOMED_HIERARCHY,
	},
	Moment,
};
use serde_json::{json, Value};

/// Identifier system of MBDS accounts.
pub const ACCOUNT_SYSTEM: &str = "urn:mbds:account";
/// Identifier system of MBDS grants.
pub const GRANT_SYSTEM: &str = "urn:mbds:grant";
/// Identifier system of records named by their hash.
pub const RECORD_HASH_SYSTEM: &str = "urn:mbds:record-hash";

/// The FHIR R4 Consent for grant `id`, with its status as of `now` (Unix ms).
pub fn grant_to_fhir_consent<AccountId: Encode>(
	id: GrantId,
	grant: &Grant<AccountId>,
	now: Moment,
) -> Value {
	let status = if now < grant.valid_until { "active" } else { "inactive" };
	let mut provision = json!({
		"type": "permit",
		"period": {
			"start": rfc3339(grant.valid_from),
			"end": rfc3339(grant.valid_until.saturating_sub(1)),
		},
		"actor": [actor(&grant.grantee)],
		"action": grant.actions.actions().map(action).collect::<Vec<_>>(),
	});
	if let Some(purpose) = grant.purpose {
		provision["purpose"] = json!([{
			"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
			"code": purpose.hl7_code(),
			"display": purpose.hl7_display(),
		}]);
	}
	match &grant.scope {
		GrantScope::AllRecords => {}
		GrantScope::Records(records) => {
			provision["data"] = records
				.iter()
				.map(
					|r| json!({ "meaning": "instance", "reference": { "identifier": record_identifier(r) } }),
				)
				.collect();
		}
		GrantScope::Categories(categories) => {
			provision["code"] = categories.iter().map(|c| category(*c)).collect();
		}
	}

	json!({
		"resourceType": "Consent",
		"id": format!("mbds-grant-{id}"),
		"identifier": [{ "system": GRANT_SYSTEM, "value": id.to_string() }],
		"status": status,
		"scope": {
			"coding": [{
				"system": "http://terminology.hl7.org/CodeSystem/consentscope",
				"code": "patient-privacy",
				"display": "Privacy Consent",
			}]
		},
		"category": [{
			"coding": [{ "system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent" }]
		}],
		"patient": { "type": "Patient", "identifier": account_identifier(&grant.patient) },
		"dateTime": rfc3339(grant.created_at),
		"sourceReference": { "identifier": source_identifier(&grant.source), "display": source_display(&grant.source) },
		"policyRule": {
			"coding": [{
				"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
				"code": "OPTIN",
				"display": "opt-in",
			}]
		},
		"provision": provision,
	})
}

fn hex(bytes: &[u8]) -> String {
	let mut s = String::with_capacity(2 + 2 * bytes.len());
	s.push_str("0x");
	for b in bytes {
		s.push_str(&format!("{b:02x}"));
	}
	s
}

fn account_identifier<AccountId: Encode>(who: &AccountId) -> Value {
	json!({ "system": ACCOUNT_SYSTEM, "value": hex(&who.encode()) })
}

fn actor<AccountId: Encode>(grantee: &Grantee<AccountId>) -> Value {
	let role = json!({
		"coding": [{
			"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
			"code": "IRCP",
			"display": "information recipient",
		}]
	});
	let reference = match grantee {
		Grantee::Account(who) => json!({ "identifier": account_identifier(who) }),
		Grantee::MembersOf(institution) => json!({
			"type": "Organization",
			"identifier": account_identifier(institution),
			"display": "any active doctor of this institution",
		}),
	};
	json!({ "role": role, "reference": reference })
}

fn action(a: Action) -> Value {
	let (code, display) = match a {
		Action::Read => ("access", "Access"),
		Action::Write => ("correct", "Access and Correct"),
		Action::Copy => ("collect", "Collect"),
	};
	json!({
		"coding": [{ "system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": code, "display": display }]
	})
}

fn record_identifier(record: &RecordId) -> Value {
	match record {
		RecordId::Hash(h) => json!({ "system": RECORD_HASH_SYSTEM, "value": hex(h.as_bytes()) }),
		RecordId::Slip { chain, slip } => {
			json!({ "system": format!("urn:mbds:slip:{chain}"), "value": slip.to_string() })
		}
	}
}

fn category(c: CategoryId) -> Value {
	let system = (c >> 24) as u8;
	let code = c & 0x00FF_FFFF;
	let system_uri = match system {
		SYSTEM_ICD10_CHAPTER => "urn:mbds:category:icd-10-chapter".to_string(),
		SYSTEM_SNOMED_HIERARCHY => "urn:mbds:category:snomed-ct-hierarchy".to_string(),
		SYSTEM_LOINC_CLASS => "urn:mbds:category:loinc-class".to_string(),
		SYSTEM_MBDS_SENSITIVE => "urn:mbds:category:sensitive".to_string(),
		other => format!("urn:mbds:category:system-{other}"),
	};
	json!({ "coding": [{ "system": system_uri, "code": code.to_string() }] })
}

fn source_identifier(source: &GrantSource) -> Value {
	let value = match source {
		GrantSource::Direct => "direct".to_string(),
		GrantSource::ApprovedRequest(r) => format!("request:{r}"),
		GrantSource::Policy { policy, request } => format!("policy:{policy}:request:{request}"),
	};
	json!({ "system": "urn:mbds:grant-source", "value": value })
}

fn source_display(source: &GrantSource) -> &'static str {
	match source {
		GrantSource::Direct => "granted directly by the patient",
		GrantSource::ApprovedRequest(_) => "access request approved by the patient",
		GrantSource::Policy { .. } => "granted automatically by the patient's standing policy",
	}
}

/// Unix milliseconds as an RFC 3339 / FHIR `dateTime` in UTC; milliseconds only when not zero
/// (the canonical form FHIR libraries write back).
pub fn rfc3339(ms: Moment) -> String {
	let secs = ms / 1000;
	let days = (secs / 86_400) as i64;
	let rem = secs % 86_400;
	let (y, m, d) = civil_from_days(days);
	let (h, min, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
	match ms % 1000 {
		0 => format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z"),
		frac => format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{frac:03}Z"),
	}
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (the well-known era algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
	let z = z + 719_468;
	let era = z.div_euclid(146_097);
	let doe = z.rem_euclid(146_097);
	let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
	let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	let mp = (5 * doy + 2) / 153;
	let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
	let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
	let y = yoe + era * 400 + i64::from(m <= 2);
	(y, m, d)
}

#[cfg(test)]
mod tests;
