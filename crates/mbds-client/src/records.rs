//! What a record's writer puts on its slip besides the keywords, and what the patient checks
//! before confirming: the record's **categories** (the coarse classes of its codes, which the
//! chain applies to category-scoped grants) and the **slip note** sealed to the patient (where
//! the record is stored, and the opening of its encrypted keywords, see
//! [`mbds_crypto::KeywordOpening`]).
//!
//! Both are derived from the record's own FHIR codes by the same functions on both sides, so a
//! writer who labels a record with categories or keywords it does not carry is caught by the
//! patient's client, which rejects the slip.

use crate::Error;
use mbds_crypto::{fhir::systems, Keyword, KeywordOpening};
use mbds_primitives::consent::{
	category, CategoryId, SENSITIVE_GENETICS, SENSITIVE_MENTAL_HEALTH, SENSITIVE_SEXUAL_HEALTH,
	SYSTEM_ICD10_CHAPTER, SYSTEM_LOINC_CLASS, SYSTEM_MBDS_SENSITIVE, SYSTEM_MEDICATION,
	SYSTEM_OTHER, SYSTEM_SNOMED_HIERARCHY,
};
use std::collections::BTreeSet;

/// ICD-10 (WHO 2019) chapters by the first code of each: `(letter, two digits)`, ascending.
/// Chapter `n` is the `n`-th entry; chapter 22 (U00-U99, special purposes) is handled apart.
const ICD10_CHAPTER_STARTS: [(u8, u8); 21] = [
	(b'A', 0),  // 1  A00-B99 certain infectious and parasitic diseases
	(b'C', 0),  // 2  C00-D48 neoplasms
	(b'D', 50), // 3  D50-D89 blood and immune mechanism
	(b'E', 0),  // 4  E00-E90 endocrine, nutritional and metabolic
	(b'F', 0),  // 5  F00-F99 mental and behavioural disorders
	(b'G', 0),  // 6  G00-G99 nervous system
	(b'H', 0),  // 7  H00-H59 eye and adnexa
	(b'H', 60), // 8  H60-H95 ear and mastoid process
	(b'I', 0),  // 9  I00-I99 circulatory system
	(b'J', 0),  // 10 J00-J99 respiratory system
	(b'K', 0),  // 11 K00-K93 digestive system
	(b'L', 0),  // 12 L00-L99 skin and subcutaneous tissue
	(b'M', 0),  // 13 M00-M99 musculoskeletal system
	(b'N', 0),  // 14 N00-N99 genitourinary system
	(b'O', 0),  // 15 O00-O99 pregnancy, childbirth and the puerperium
	(b'P', 0),  // 16 P00-P96 perinatal period
	(b'Q', 0),  // 17 Q00-Q99 congenital malformations and chromosomal abnormalities
	(b'R', 0),  // 18 R00-R99 symptoms, signs and abnormal findings
	(b'S', 0),  // 19 S00-T98 injury, poisoning
	(b'V', 0),  // 20 V01-Y98 external causes
	(b'Z', 0),  // 21 Z00-Z99 factors influencing health status
];

/// The ICD-10 chapter (1..=22) of a canonical ICD-10 / ICD-10-CM code (`E11.9`).
pub fn icd10_chapter(code: &str) -> Option<u32> {
	let b = code.as_bytes();
	let (letter, digits) = (*b.first()?, code.get(1..3)?);
	let number: u8 = digits.parse().ok()?;
	if !letter.is_ascii_uppercase() {
		return None;
	}
	if letter == b'U' {
		return Some(22);
	}
	let at = ICD10_CHAPTER_STARTS.iter().rposition(|start| (letter, number) >= *start)?;
	Some(at as u32 + 1)
}

/// The MBDS sensitive classes an ICD-10 code falls in: mental and behavioural disorders
/// (F00-F99) and intentional self-harm (X60-X84); HIV disease and infections with a
/// predominantly sexual mode of transmission (B20-B24, A50-A64, Z21, R75, O98.7, Z20.6, Z71.7);
/// chromosomal abnormalities (Q90-Q99).
fn icd10_sensitive(code: &str) -> Option<CategoryId> {
	let letter = *code.as_bytes().first()?;
	let number: u8 = code.get(1..3)?.parse().ok()?;
	let sub = code.get(4..5).and_then(|d| d.parse::<u8>().ok());
	match (letter, number, sub) {
		(b'F', _, _) | (b'X', 60..=84, _) => Some(SENSITIVE_MENTAL_HEALTH),
		(b'B', 20..=24, _) | (b'A', 50..=64, _) | (b'Z', 21, _) | (b'R', 75, _) => {
			Some(SENSITIVE_SEXUAL_HEALTH)
		}
		(b'O', 98, Some(7)) | (b'Z', 20, Some(6)) | (b'Z', 71, Some(7)) => {
			Some(SENSITIVE_SEXUAL_HEALTH)
		}
		(b'Q', 90..=99, _) => Some(SENSITIVE_GENETICS),
		_ => None,
	}
}

/// The MBDS sensitive classes an ATC code falls in: antivirals for HIV (J05AE, J05AF, J05AG,
/// J05AJ, J05AR); psycholeptics and psychoanaleptics (N05, N06) and drugs for addictive
/// disorders (N07B).
fn atc_sensitive(code: &str) -> Option<CategoryId> {
	const HIV: [&str; 5] = ["J05AE", "J05AF", "J05AG", "J05AJ", "J05AR"];
	if HIV.iter().any(|p| code.starts_with(p)) {
		return Some(SENSITIVE_SEXUAL_HEALTH);
	}
	if ["N05", "N06", "N07B"].iter().any(|p| code.starts_with(p)) {
		return Some(SENSITIVE_MENTAL_HEALTH);
	}
	None
}

/// The categories of one keyword (one or two: a class, and a sensitive class if any).
///
/// ICD-10 and ICD-10-CM: the chapter, plus the sensitive class. LOINC: class 0 (observations;
/// LOINC's own class table is not shipped with the clients, so every LOINC code is one class).
/// SNOMED CT: hierarchy 0 (likewise). ATC: the anatomical main group (its first letter), plus
/// the sensitive class; RxNorm: medication class 0. Sensitive classes are derived from ICD-10
/// and ATC codes only: an HIV test coded in LOINC alone, or a diagnosis in SNOMED CT alone, is
/// not flagged (the clients ship no value sets for those systems yet), so a writer should code
/// sensitive findings in ICD-10 as well. Any other code system: [`SYSTEM_OTHER`] 0, so that a record with codes of
/// an unknown system is opened only by a grant that names that class.
pub fn keyword_categories(keyword: &Keyword) -> Vec<CategoryId> {
	let (system, code) = keyword.as_str().split_once('|').unwrap_or(("", keyword.as_str()));
	match system {
		systems::ICD10 | systems::ICD10_CM => match icd10_chapter(code) {
			Some(chapter) => {
				let mut out = vec![category(SYSTEM_ICD10_CHAPTER, chapter)];
				out.extend(icd10_sensitive(code));
				out
			}
			None => vec![category(SYSTEM_OTHER, 0)],
		},
		systems::LOINC => vec![category(SYSTEM_LOINC_CLASS, 0)],
		systems::SNOMED_CT => vec![category(SYSTEM_SNOMED_HIERARCHY, 0)],
		systems::ATC => {
			let mut out = match code.as_bytes().first() {
				Some(l @ b'A'..=b'Z') => vec![category(SYSTEM_MEDICATION, u32::from(l - b'A') + 1)],
				_ => vec![category(SYSTEM_MEDICATION, 0)],
			};
			out.extend(atc_sensitive(code));
			out
		}
		systems::RXNORM => vec![category(SYSTEM_MEDICATION, 0)],
		_ => vec![category(SYSTEM_OTHER, 0)],
	}
}

/// The categories of a record with these keywords: sorted, without duplicates (the order the
/// chain keeps them in).
pub fn record_categories<'a>(keywords: impl IntoIterator<Item = &'a Keyword>) -> Vec<CategoryId> {
	let set: BTreeSet<CategoryId> = keywords.into_iter().flat_map(keyword_categories).collect();
	set.into_iter().collect()
}

/// Human names of categories, as the CLI takes (`--category`) and prints them.
///
/// `icd10:<chapter 1..22>`, `icd10:<code>` (the chapter of that code, e.g. `icd10:E11`),
/// `loinc`, `snomed`, `medication`, `atc:<letter>`, `mental-health`, `sexual-health`,
/// `genetics`, `other`.
pub fn parse_category(name: &str) -> crate::Result<CategoryId> {
	let name = name.trim();
	let lower = name.to_ascii_lowercase();
	Ok(match lower.as_str() {
		"loinc" | "observations" => category(SYSTEM_LOINC_CLASS, 0),
		"snomed" => category(SYSTEM_SNOMED_HIERARCHY, 0),
		"medication" | "rxnorm" => category(SYSTEM_MEDICATION, 0),
		"mental-health" => SENSITIVE_MENTAL_HEALTH,
		"sexual-health" => SENSITIVE_SEXUAL_HEALTH,
		"genetics" => SENSITIVE_GENETICS,
		"other" => category(SYSTEM_OTHER, 0),
		_ => {
			if let Some(rest) = lower.strip_prefix("icd10:") {
				let chapter = match rest.parse::<u32>() {
					Ok(n) if (1..=22).contains(&n) => n,
					Ok(n) => {
						return Err(Error::invalid(
							"category",
							format!("category {name:?}: ICD-10 has chapters 1 to 22, not {n}"),
						))
					}
					Err(_) => icd10_chapter(&rest.to_ascii_uppercase()).ok_or_else(|| {
						Error::invalid("category", format!("category {name:?}: {rest:?} is neither an ICD-10 chapter number nor an ICD-10 code"))
					})?,
				};
				category(SYSTEM_ICD10_CHAPTER, chapter)
			} else if let Some(rest) = lower.strip_prefix("atc:") {
				match rest.as_bytes() {
					[l @ b'a'..=b'z'] => category(SYSTEM_MEDICATION, u32::from(l - b'a') + 1),
					_ => {
						return Err(Error::invalid(
							"category",
							format!("category {name:?}: an ATC group is one letter, e.g. atc:C"),
						))
					}
				}
			} else {
				return Err(Error::invalid("category", format!("unknown category {name:?} (icd10:<chapter or code>, loinc, snomed, medication, atc:<letter>, mental-health, sexual-health, genetics, other)")));
			}
		}
	})
}

/// The name [`parse_category`] reads back.
pub fn category_name(c: CategoryId) -> String {
	let (system, code) = ((c >> 24) as u8, c & 0x00FF_FFFF);
	match system {
		SYSTEM_ICD10_CHAPTER => format!("icd10:{code}"),
		SYSTEM_LOINC_CLASS if code == 0 => "loinc".into(),
		SYSTEM_SNOMED_HIERARCHY if code == 0 => "snomed".into(),
		SYSTEM_MEDICATION if code == 0 => "medication".into(),
		SYSTEM_MEDICATION if code <= 26 => format!("atc:{}", char::from(b'A' + code as u8 - 1)),
		SYSTEM_MBDS_SENSITIVE if c == SENSITIVE_MENTAL_HEALTH => "mental-health".into(),
		SYSTEM_MBDS_SENSITIVE if c == SENSITIVE_SEXUAL_HEALTH => "sexual-health".into(),
		SYSTEM_MBDS_SENSITIVE if c == SENSITIVE_GENETICS => "genetics".into(),
		SYSTEM_OTHER if code == 0 => "other".into(),
		_ => format!("category-{c:#010x}"),
	}
}

/// What the writer seals to the patient on the slip (`encrypted_address`): where the record is
/// stored, the search proxy its keywords were encrypted for, and their opening.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlipNote {
	/// The record's content address in the stores (SHA-256 of the envelope).
	pub address: [u8; 32],
	/// The search proxy (tester) account the keywords are encrypted for.
	pub tester: [u8; 32],
	/// The opening of the slip's encrypted keywords.
	pub opening: KeywordOpening,
}

/// Kept short: the sealed note must fit the slip's `MaxAddressLen` (256 bytes).
const NOTE_TAG: &[u8] = b"msn1";

impl SlipNote {
	/// Bytes to seal (`SealedNote::seal`), 100 bytes.
	pub fn to_bytes(&self) -> Vec<u8> {
		[NOTE_TAG, &self.address, &self.tester, self.opening.as_bytes()].concat()
	}

	/// Reads [`SlipNote::to_bytes`] output.
	pub fn from_bytes(b: &[u8]) -> crate::Result<Self> {
		let body = b.strip_prefix(NOTE_TAG).ok_or_else(|| {
			Error::invalid(
				"slip note",
				"the slip's sealed note is not an MBDS slip note (written by an older or foreign client)",
			)
		})?;
		if body.len() != 96 {
			return Err(Error::invalid(
				"slip note",
				format!("the slip's sealed note has {} bytes after its tag, not 96", body.len()),
			));
		}
		let part =
			|i: usize| -> [u8; 32] { body[i * 32..(i + 1) * 32].try_into().expect("32 bytes") };
		Ok(Self { address: part(0), tester: part(1), opening: KeywordOpening::from_bytes(part(2)) })
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	fn kw(s: &str) -> Keyword {
		Keyword::parse(s).unwrap()
	}

	#[test]
	fn icd10_codes_fall_in_their_chapters() {
		for (code, chapter) in [
			("A09", 1),
			("B99", 1),
			("C50.9", 2),
			("D48", 2),
			("D50.0", 3),
			("E11.9", 4),
			("F32.1", 5),
			("H40.1", 7),
			("H66.9", 8),
			("I10", 9),
			("J11.1", 10),
			("S72.0", 19),
			("T78.4", 19),
			("W19", 20),
			("Z00.0", 21),
			("U07.1", 22),
		] {
			assert_eq!(icd10_chapter(code), Some(chapter), "{code}");
		}
		assert_eq!(icd10_chapter("e11"), None);
		assert_eq!(icd10_chapter("1"), None);
	}

	#[test]
	fn a_records_categories_come_from_its_codes_sensitive_classes_included() {
		let flu = [kw("icd-10|J11.1"), kw("loinc|4548-4")];
		assert_eq!(
			record_categories(&flu),
			vec![category(SYSTEM_ICD10_CHAPTER, 10), category(SYSTEM_LOINC_CLASS, 0)]
		);
		let hiv = [kw("icd-10|B24")];
		assert_eq!(
			record_categories(&hiv),
			vec![category(SYSTEM_ICD10_CHAPTER, 1), SENSITIVE_SEXUAL_HEALTH]
		);
		let depression = [kw("icd-10|F32.1"), kw("rxnorm|860975"), kw("atc|N06AB06")];
		assert_eq!(
			record_categories(&depression),
			vec![
				category(SYSTEM_ICD10_CHAPTER, 5),
				category(SYSTEM_MEDICATION, 0),
				category(SYSTEM_MEDICATION, 14),
				SENSITIVE_MENTAL_HEALTH
			]
		);
		// An antiretroviral alone, or an HIV-related code outside B20-B24, is flagged too.
		assert!(record_categories(&[kw("atc|J05AR10")]).contains(&SENSITIVE_SEXUAL_HEALTH));
		assert!(record_categories(&[kw("icd-10|Z20.6")]).contains(&SENSITIVE_SEXUAL_HEALTH));
		assert!(record_categories(&[kw("icd-10|X70")]).contains(&SENSITIVE_MENTAL_HEALTH));
		// An unknown code system is its own class, never dropped.
		let odd = [kw("http://example.org/codes|X1")];
		assert_eq!(record_categories(&odd), vec![category(SYSTEM_OTHER, 0)]);
	}

	#[test]
	fn category_names_round_trip() {
		for name in [
			"icd10:4",
			"loinc",
			"snomed",
			"medication",
			"atc:C",
			"mental-health",
			"sexual-health",
			"genetics",
			"other",
		] {
			let c = parse_category(name).unwrap();
			assert_eq!(category_name(c), name);
		}
		assert_eq!(parse_category("icd10:E11.9").unwrap(), category(SYSTEM_ICD10_CHAPTER, 4));
		assert!(parse_category("icd10:23").unwrap_err().to_string().contains("chapters 1 to 22"));
		assert!(parse_category("cardiology").unwrap_err().to_string().contains("unknown category"));
	}

	#[test]
	fn slip_notes_round_trip_and_foreign_notes_are_refused() {
		let note =
			SlipNote { address: [1; 32], tester: [2; 32], opening: KeywordOpening::generate() };
		let bytes = note.to_bytes();
		assert!(bytes.len() <= mbds_crypto::envelope::MAX_NOTE_LEN);
		// Sealed, it fits the slip's encrypted-address bound of the runtime.
		let owner = mbds_crypto::PreSecretKey::from_seed(&mbds_crypto::KeySeed::generate());
		let sealed = mbds_crypto::SealedNote::seal(&owner.public_key(), &bytes).unwrap().to_bytes();
		use frame_support::traits::Get;
		let max: u32 = <mbds_runtime::Runtime as pallet_slips::Config>::MaxAddressLen::get();
		let max = max as usize;
		assert!(
			sealed.len() <= max,
			"sealed slip note of {} bytes, the chain takes {max}",
			sealed.len()
		);
		assert_eq!(SlipNote::from_bytes(&bytes).unwrap(), note);
		assert!(SlipNote::from_bytes(b"mbds-store:sha256:00").is_err());
		assert!(SlipNote::from_bytes(&bytes[..bytes.len() - 1]).is_err());
	}
}
