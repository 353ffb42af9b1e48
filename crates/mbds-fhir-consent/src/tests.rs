//! The exported JSON is validated twice: it must deserialise into `fhir-sdk`'s R4B `Consent`
//! (R4B's Consent is R4's) and serialise back to the same JSON (so no element is misspelt or
//! unknown to the model), and it must satisfy the R4 Consent cardinalities and invariants
//! encoded in [`check_r4_consent_rules`].

use super::*;
use fhir_sdk::r4b::{codes::ConsentState, resources::Consent};
use mbds_primitives::consent::{
	category as cat, ActionSet, CategoryList, Purpose, RecordList, SENSITIVE_MENTAL_HEALTH,
};
use sp_core::H256;

const DAY: Moment = 86_400_000;
const T0: Moment = 1_700_000_000_000;

fn grant(
	grantee: Grantee<[u8; 32]>,
	actions: ActionSet,
	scope: GrantScope,
	source: GrantSource,
) -> Grant<[u8; 32]> {
	Grant {
		patient: [1u8; 32],
		grantee,
		actions,
		scope,
		valid_from: T0,
		valid_until: T0 + 30 * DAY,
		purpose: Some(Purpose::Treatment),
		created_at: T0 - 5_000,
		source,
	}
}

/// Deserialises into the FHIR model, checks the round trip, returns the typed resource.
fn parse(json: &Value) -> Consent {
	let consent: Consent = serde_json::from_value(json.clone()).expect("valid FHIR R4(B) Consent");
	let back = serde_json::to_value(&consent).expect("serialisable");
	assert_eq!(&back, json, "every element is known to the FHIR model");
	consent
}

/// The R4 Consent rules that matter for our output (http://hl7.org/fhir/R4/consent.html):
/// cardinalities of the required elements, invariants ppc-1 (policy or policyRule) and ppc-2
/// (privacy consents name the patient), and the bindings of the codes we emit.
fn check_r4_consent_rules(c: &Value) {
	assert_eq!(c["resourceType"], "Consent");
	let status = c["status"].as_str().expect("status 1..1");
	assert!(["draft", "proposed", "active", "rejected", "inactive", "entered-in-error"]
		.contains(&status));
	assert!(!c["scope"]["coding"].as_array().expect("scope 1..1").is_empty());
	assert!(!c["category"].as_array().expect("category 1..*").is_empty());
	assert!(c.get("policy").is_some() || c.get("policyRule").is_some(), "ppc-1");
	let privacy = c["scope"]["coding"].as_array().unwrap().iter().any(|cd| {
		cd["system"] == "http://terminology.hl7.org/CodeSystem/consentscope"
			&& cd["code"] == "patient-privacy"
	});
	assert!(!privacy || c.get("patient").is_some(), "ppc-2");
	let p = &c["provision"];
	assert!(["deny", "permit"].contains(&p["type"].as_str().unwrap()));
	for actor in p["actor"].as_array().expect("actor") {
		assert!(
			actor.get("role").is_some() && actor.get("reference").is_some(),
			"actor.role and .reference 1..1"
		);
	}
	for action in p["action"].as_array().expect("action") {
		let coding = &action["coding"][0];
		assert_eq!(coding["system"], "http://terminology.hl7.org/CodeSystem/consentaction");
		assert!(["collect", "access", "use", "disclose", "correct"]
			.contains(&coding["code"].as_str().unwrap()));
	}
	if let Some(purposes) = p.get("purpose") {
		for purpose in purposes.as_array().unwrap() {
			assert_eq!(purpose["system"], "http://terminology.hl7.org/CodeSystem/v3-ActReason");
		}
	}
	if let Some(data) = p.get("data") {
		for d in data.as_array().unwrap() {
			assert!(["instance", "related", "dependents", "authoredby"]
				.contains(&d["meaning"].as_str().unwrap()));
			assert!(d.get("reference").is_some(), "data.reference 1..1");
		}
	}
}

#[test]
fn a_read_and_copy_grant_of_all_records_to_a_doctor() {
	let g = grant(
		Grantee::Account([2u8; 32]),
		ActionSet::of(&[Action::Read, Action::Copy]),
		GrantScope::AllRecords,
		GrantSource::Direct,
	);
	let json = grant_to_fhir_consent(7, &g, T0 + DAY);
	check_r4_consent_rules(&json);
	let consent = parse(&json);

	assert_eq!(consent.id.as_deref(), Some("mbds-grant-7"));
	assert_eq!(consent.status, ConsentState::Active);
	assert_eq!(consent.category.len(), 1);
	assert!(consent.patient.is_some());
	assert!(consent.date_time.is_some());
	assert!(consent.policy_rule.is_some());
	let provision = consent.provision.as_ref().expect("provision");
	let period = provision.period.as_ref().expect("period");
	assert!(period.start.is_some() && period.end.is_some());
	assert_eq!(provision.actor.len(), 1);
	assert_eq!(provision.action.len(), 2);
	assert_eq!(provision.purpose.len(), 1);

	assert_eq!(json["dateTime"], "2023-11-14T22:13:15Z");
	assert_eq!(json["provision"]["period"]["start"], "2023-11-14T22:13:20Z");
	assert_eq!(json["provision"]["period"]["end"], "2023-12-14T22:13:19.999Z");
	assert_eq!(json["provision"]["action"][0]["coding"][0]["code"], "access");
	assert_eq!(json["provision"]["action"][1]["coding"][0]["code"], "collect");
	assert_eq!(json["provision"]["purpose"][0]["code"], "TREAT");
	assert_eq!(json["patient"]["identifier"]["value"], format!("0x{}", "01".repeat(32)));
	assert!(json["provision"].get("data").is_none() && json["provision"].get("code").is_none());
}

#[test]
fn listed_records_become_provision_data_instances() {
	let records: RecordList =
		vec![RecordId::Hash(H256::repeat_byte(0xab)), RecordId::Slip { chain: 3, slip: 42 }]
			.try_into()
			.unwrap();
	let g = grant(
		Grantee::Account([2u8; 32]),
		ActionSet::read_only(),
		GrantScope::Records(records),
		GrantSource::ApprovedRequest(5),
	);
	let json = grant_to_fhir_consent(1, &g, T0);
	check_r4_consent_rules(&json);
	let consent = parse(&json);
	assert_eq!(consent.provision.as_ref().unwrap().data.len(), 2);
	assert_eq!(
		json["provision"]["data"][0]["reference"]["identifier"]["system"],
		RECORD_HASH_SYSTEM
	);
	assert_eq!(
		json["provision"]["data"][1]["reference"]["identifier"]["system"],
		"urn:mbds:slip:3"
	);
	assert_eq!(json["provision"]["data"][1]["reference"]["identifier"]["value"], "42");
	assert_eq!(json["sourceReference"]["identifier"]["value"], "request:5");
}

#[test]
fn a_policy_grant_of_categories_to_an_institutions_doctors_past_its_end() {
	let categories: CategoryList =
		vec![cat(SYSTEM_ICD10_CHAPTER, 9), SENSITIVE_MENTAL_HEALTH].try_into().unwrap();
	let mut g = grant(
		Grantee::MembersOf([9u8; 32]),
		ActionSet::of(&[Action::Read, Action::Write]),
		GrantScope::Categories(categories),
		GrantSource::Policy { policy: 2, request: 11 },
	);
	g.purpose = Some(Purpose::EmergencyTreatment);
	let json = grant_to_fhir_consent(3, &g, T0 + 31 * DAY);
	check_r4_consent_rules(&json);
	let consent = parse(&json);

	assert_eq!(consent.status, ConsentState::Inactive);
	assert_eq!(consent.provision.as_ref().unwrap().code.len(), 2);
	assert_eq!(
		json["provision"]["code"][0]["coding"][0]["system"],
		"urn:mbds:category:icd-10-chapter"
	);
	assert_eq!(json["provision"]["code"][0]["coding"][0]["code"], "9");
	assert_eq!(json["provision"]["code"][1]["coding"][0]["system"], "urn:mbds:category:sensitive");
	assert_eq!(json["provision"]["actor"][0]["reference"]["type"], "Organization");
	assert_eq!(json["provision"]["action"][1]["coding"][0]["code"], "correct");
	assert_eq!(json["provision"]["purpose"][0]["code"], "ETREAT");
	assert_eq!(json["sourceReference"]["identifier"]["value"], "policy:2:request:11");
}

#[test]
fn dates_are_utc_rfc3339_with_milliseconds_when_not_zero() {
	assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
	assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
	assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
	assert_eq!(rfc3339(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
}
