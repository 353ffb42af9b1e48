//! Two doctors coding the same concept differently produce the same keywords.

use mbds_crypto::fhir::{keywords_from_value, systems};
use mbds_crypto::*;
use serde_json::json;

#[test]
fn aliases_and_code_spelling_canonicalise_to_one_keyword() {
	let canonical = Keyword::from_coding(systems::ICD10, "E11.9").unwrap();
	assert_eq!(canonical.as_str(), "http://hl7.org/fhir/sid/icd-10|E11.9");
	for (sys, code) in [
		("icd-10", "E11.9"),
		("ICD10", "e119"),
		(" HTTPS://hl7.org/fhir/sid/icd-10/ ", " E11.9 "),
		("urn:oid:2.16.840.1.113883.6.3", "E 11.9"),
	] {
		assert_eq!(Keyword::from_coding(sys, code).unwrap(), canonical, "{sys} {code}");
	}
	// ICD-10-CM is a different code system.
	assert_ne!(Keyword::from_coding("icd-10-cm", "E11.9").unwrap(), canonical);
	assert_eq!(
		Keyword::from_coding("icd-10", "I10").unwrap().as_str(),
		"http://hl7.org/fhir/sid/icd-10|I10"
	);
	assert_eq!(
		Keyword::from_coding("SNOMED", " 44054006 ").unwrap().as_str(),
		"http://snomed.info/sct|44054006"
	);
	assert_eq!(
		Keyword::from_coding("LOINC", "4548-4").unwrap().as_str(),
		"http://loinc.org|4548-4"
	);
	assert_eq!(
		Keyword::from_coding("atc", "a10ba02").unwrap().as_str(),
		"http://www.whocc.no/atc|A10BA02"
	);
	// Unknown systems keep case (FHIR URIs are case-sensitive), only trimmed.
	assert_eq!(
		Keyword::from_coding(" http://example.org/Local ", " Ab-1 ").unwrap().as_str(),
		"http://example.org/Local|Ab-1"
	);
	assert_eq!(Keyword::parse("icd-10|e11.9").unwrap(), canonical);
}

#[test]
fn invalid_codings_are_reported() {
	assert!(Keyword::from_coding("snomed", "4405400x").is_err());
	assert!(Keyword::from_coding("icd-10", "E1").is_err());
	assert!(Keyword::from_coding("", "E11").is_err());
	assert!(Keyword::from_coding("x|y", "E11").is_err());
	assert!(Keyword::parse("no-separator").is_err());
}

#[test]
fn keywords_from_a_bundle_written_by_two_doctors() {
	let doctor_a = json!({"resourceType": "Bundle", "type": "collection", "entry": [
		{"resource": {"resourceType": "Condition", "code": {"coding": [
			{"system": "http://hl7.org/fhir/sid/icd-10", "code": "E11.9"},
			{"system": "http://snomed.info/sct", "code": "44054006", "display": "Diabetes mellitus type 2"}]}}},
		{"resource": {"resourceType": "Observation", "status": "final", "code": {"coding": [
			{"system": "http://loinc.org", "code": "4548-4"}]}}},
		{"resource": {"resourceType": "MedicationRequest", "medicationCodeableConcept": {"coding": [
			{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "860975"}]}}},
		{"resource": {"resourceType": "Procedure", "code": {"coding": [
			{"system": "http://snomed.info/sct", "code": "73761001"}]}}},
		{"resource": {"resourceType": "Patient", "id": "p1"}}
	]});
	let doctor_b = json!({"resourceType": "Bundle", "entry": [
		{"resource": {"resourceType": "Condition", "code": {"coding": [
			{"system": "ICD-10", "code": "e119"}, {"system": "SNOMED-CT", "code": " 44054006"},
			{"code": "no-system-is-skipped"}]}}},
		{"resource": {"resourceType": "Observation", "code": {"coding": [{"system": "loinc", "code": "4548-4"}]}}},
		{"resource": {"resourceType": "MedicationRequest", "medication": {"concept": {"coding": [
			{"system": "RxNorm", "code": "860975"}]}}}},
		{"resource": {"resourceType": "Procedure", "code": {"coding": [{"system": "sct", "code": "73761001"}]}}}
	]});
	let a = keywords_from_value(&doctor_a).unwrap();
	let b = keywords_from_value(&doctor_b).unwrap();
	assert_eq!(a, b);
	let texts: Vec<&str> = a.iter().map(Keyword::as_str).collect();
	assert_eq!(
		texts,
		vec![
			"http://hl7.org/fhir/sid/icd-10|E11.9",
			"http://loinc.org|4548-4",
			"http://snomed.info/sct|44054006",
			"http://snomed.info/sct|73761001",
			"http://www.nlm.nih.gov/research/umls/rxnorm|860975",
		]
	);
}

#[test]
fn single_resource_and_errors_name_the_path() {
	let k = keywords_from_json(
		r#"{"resourceType":"Condition","code":{"coding":[{"system":"icd-10","code":"I10"}]}}"#,
	)
	.unwrap();
	assert_eq!(k.len(), 1);
	let err = keywords_from_json(r#"{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Condition","code":{"coding":[{"system":"snomed","code":"abc"}]}}}]}"#)
        .unwrap_err()
        .to_string();
	assert!(err.contains("$.entry[0].resource.code.coding[0]"), "{err}");
	assert!(keywords_from_json("{").unwrap_err().to_string().contains("not JSON"));
	assert!(keywords_from_json(r#"{"code":{}}"#).unwrap_err().to_string().contains("resourceType"));
	let err = keywords_from_json(
		r#"{"resourceType":"Observation","code":{"coding":{"system":"loinc"}}}"#,
	)
	.unwrap_err();
	assert!(err.to_string().contains("$.code.coding: not an array"), "{err}");
}
