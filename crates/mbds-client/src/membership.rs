//! Institution grants ("any doctor of hospital X"): how a current member reads under one.
//!
//! The patient shares key fragments once, towards the institution's KMC-attested PRE key (the
//! grantee of the fragments is the institution). A proxy serving a doctor who holds no
//! fragment of their own uses the institution's, after the consortium has checked, at that
//! block, that the patient's consent allows this doctor (an institution grant covers its
//! *active* doctors of an *active* institution only). The capsule fragments then open with the
//! institution's PRE key, which the institution gives each of its doctors once, sealed to the
//! doctor's own PRE key ([`seal_member_key`]): no re-sharing by any patient per member.
//!
//! Why a doctor holding the institution's key gains nothing beyond what consent allows: the key
//! opens only capsule fragments, and proxies make those per request, for a requester the chain
//! says the patient's consent allows at that block, and record every one in the patient's
//! trail. A doctor who leaves the institution (the KMC changes or suspends the role) keeps a
//! key that no proxy will serve fragments for any more.

use crate::Error;
use mbds_crypto::{PrePublicKey, PreSecretKey, SealedNote};
use zeroize::Zeroizing;

const MEMBER_KEY_TAG: &[u8] = b"mbds-member-key-v1";

/// The institution's PRE secret key, sealed to its member's PRE public key (bytes of a
/// `SealedNote`).
pub fn seal_member_key(
	institution: &PreSecretKey,
	member: &PrePublicKey,
) -> crate::Result<Vec<u8>> {
	let secret = institution.to_secret_bytes();
	let note = Zeroizing::new([MEMBER_KEY_TAG, &secret[..]].concat());
	let sealed =
		SealedNote::seal(member, &note).map_err(|e| Error::crypto("sealing the member key", e))?;
	Ok(sealed.to_bytes())
}

/// Opens a member key sealed with [`seal_member_key`] with the member's own PRE secret key,
/// and checks it is the key `institution_pk` (the institution's, as the KMC attests it).
pub fn open_member_key(
	sealed: &[u8],
	member: &PreSecretKey,
	institution_pk: &PrePublicKey,
) -> crate::Result<PreSecretKey> {
	let note = Zeroizing::new(
		SealedNote::from_bytes(sealed)
			.and_then(|n| n.open(member))
			.map_err(|e| Error::crypto("the member key does not open with your key", e))?,
	);
	let secret = note
		.strip_prefix(MEMBER_KEY_TAG)
		.ok_or_else(|| Error::invalid("member key", "the sealed note is not an MBDS member key"))?;
	let key =
		PreSecretKey::from_secret_bytes(secret).map_err(|e| Error::crypto("the member key", e))?;
	if key.public_key() != *institution_pk {
		return Err(Error::invalid("member key", "the member key is not the institution's registered record key (an old key, or another institution's?)"));
	}
	Ok(key)
}

/// The member key file an institution wrote for the doctor `keys` (`mbds institution
/// member-key`: JSON with `institution`, `member`, `sealed`): the institution (SS58) and its
/// PRE key, checked against the institution's key on the consortium.
pub fn load_member_key(
	keys: &crate::ParticipantKeys,
	consortium: &crate::Client,
	path: &std::path::Path,
) -> crate::Result<crate::read::Opener> {
	use sp_core::crypto::Ss58Codec;
	let invalid = |message: String| Error::invalid("--member-key", message);
	let file: serde_json::Value = std::fs::read(path)
		.map_err(|e| e.to_string())
		.and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
		.map_err(|e| invalid(format!("--member-key {}: {e}", path.display())))?;
	let field = |name: &str| {
		file[name].as_str().map(String::from).ok_or_else(|| {
			invalid(format!(
				"--member-key {}: no `{name}` field; is it a member key file?",
				path.display()
			))
		})
	};
	let institution =
		crate::keys::parse_account("--member-key institution", &field("institution")?)?;
	if field("member")? != keys.ss58() {
		return Err(invalid(format!(
			"--member-key {}: made for {}, not for you",
			path.display(),
			field("member")?
		)));
	}
	let sealed = crate::bytes_of(&serde_json::Value::String(field("sealed")?))
		.map_err(|e| e.context(format!("--member-key {}: field `sealed`", path.display())))?;
	let institution_pk = crate::chain::record_key(consortium, &institution)?;
	let key = open_member_key(&sealed, &keys.record_key(), &institution_pk)
		.map_err(|e| e.context(format!("--member-key {}", path.display())))?;
	Ok((institution.to_ss58check(), key))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_member_opens_the_institution_key_sealed_to_them_and_nobody_else_does() {
		let institution = PreSecretKey::from_seed(&mbds_crypto::KeySeed::generate());
		let doctor = PreSecretKey::from_seed(&mbds_crypto::KeySeed::generate());
		let stranger = PreSecretKey::from_seed(&mbds_crypto::KeySeed::generate());
		let sealed = seal_member_key(&institution, &doctor.public_key()).unwrap();
		let opened = open_member_key(&sealed, &doctor, &institution.public_key()).unwrap();
		assert_eq!(opened, institution);
		assert!(open_member_key(&sealed, &stranger, &institution.public_key()).is_err());
		// A key of another institution is refused.
		assert!(matches!(
			open_member_key(&sealed, &doctor, &stranger.public_key()),
			Err(Error::Invalid { what, .. }) if what == "member key"
		));
	}
}
