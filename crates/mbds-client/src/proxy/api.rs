//! The proxy's HTTP API (JSON), shared by the server (`mbds-proxy`) and its clients.
//!
//! Every request that acts for someone is a [`Signed`] envelope: the JSON payload as a string,
//! the signer's SS58 account and its sr25519 signature over `"mbds-proxy-request-v1:" | payload`.
//! Payloads name the proxy they are for and carry the time they were issued, so a request
//! cannot be replayed to another proxy, nor later than [`MAX_REQUEST_AGE_MS`].
//!
//! | endpoint | payload | signer | answer |
//! |---|---|---|---|
//! | `GET /v1/health` | – | – | [`Health`] |
//! | `POST /v1/kfrag` | [`KfragUpload`] | the patient | [`Stored`] |
//! | `POST /v1/search` | [`SearchRequest`] | the data user | [`SearchResponse`] |
//! | `POST /v1/reencrypt` | [`ReencryptRequest`] | the data user (grantee) | [`ReencryptResponse`] |
//!
//! Refusals come back as HTTP 4xx/5xx with an [`ErrorBody`] saying what is wrong, whether the
//! refusal was recorded in the patient's audit trail, and what to do.

use crate::{Error, Result};
use mbds_primitives::{
	consent::{AccessTarget, Action, RecordId},
	statements::{AccessStatement, SearchStatement},
};
use mbds_runtime::AccountId;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sp_core::{crypto::Ss58Codec, sr25519, Pair, H256};

/// Domain separator of request signatures.
pub const SIGNING_DOMAIN: &[u8] = b"mbds-proxy-request-v1:";
/// Oldest (and furthest in the future) a request's `issued_at` may be, in ms.
pub const MAX_REQUEST_AGE_MS: u64 = 5 * 60 * 1000;

/// A payload signed by an account.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Signed {
	/// SS58 account of the signer.
	pub signer: String,
	/// The JSON payload, exactly as signed.
	pub payload: String,
	/// `0x` hex sr25519 signature over [`SIGNING_DOMAIN`] | payload.
	pub signature: String,
}

impl Signed {
	/// Signs `payload` with `pair`.
	pub fn sign<T: Serialize>(pair: &sr25519::Pair, payload: &T) -> Signed {
		let payload = serde_json::to_string(payload).expect("payloads are plain JSON");
		let mut message = SIGNING_DOMAIN.to_vec();
		message.extend_from_slice(payload.as_bytes());
		Signed {
			signer: AccountId::from(pair.public()).to_ss58check(),
			signature: hex_signature(pair, &message),
			payload,
		}
	}

	/// Checks the signature; the signer and the decoded payload. Errors say which part is bad.
	pub fn open<T: DeserializeOwned>(&self) -> Result<(AccountId, T)> {
		let signer = AccountId::from_ss58check(&self.signer).map_err(|e| {
			Error::invalid(
				"signer",
				format!("field `signer`: {:?} is not an SS58 account ({e:?})", self.signer),
			)
		})?;
		let mut message = SIGNING_DOMAIN.to_vec();
		message.extend_from_slice(self.payload.as_bytes());
		open_signature("signature", &self.signature, &signer, &message, "the payload")?;
		let payload = serde_json::from_str(&self.payload).map_err(|e| {
			Error::invalid("payload", format!("field `payload`: malformed for this endpoint: {e}"))
		})?;
		Ok((signer, payload))
	}
}

/// What a proxy says about itself.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Health {
	/// The proxy's account (a health authority registered on the consortium).
	pub account: String,
	/// `0x` hex of its designated-tester public key (`mbds-crypto` encoding).
	pub tester_key: String,
	/// Number of (patient, grantee) key fragments it holds.
	pub kfrags: u32,
	/// The consortium node it reads and writes through.
	pub consortium: String,
	/// `0x` hex of the SHA-256 of its TLS certificate.
	pub tls_certificate_sha256: String,
	/// `0x` hex of its account's sr25519 signature binding that certificate
	/// ([`crate::proxy::tls::binding_message`]).
	pub tls_binding: String,
}

/// The patient's statement that `verifying_key` signs the key fragments it issued for
/// `grantee` at `proxy`: what a grantee checks a capsule fragment against. It carries no key
/// fragment (a grantee holding `t` key fragments could re-encrypt without any proxy).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KfragCertificate {
	/// The proxy's account (SS58).
	pub proxy: String,
	/// The patient (the signer).
	pub patient: String,
	/// The grantee.
	pub grantee: String,
	/// `0x` hex of the patient's Umbral verifying key (`mbds-crypto` encoding).
	pub verifying_key: String,
	/// Unix ms.
	pub issued_at: u64,
}

/// A patient hands this proxy a re-encryption key fragment for one grantee.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KfragUpload {
	/// The proxy's account (SS58): the fragment is for this proxy only.
	pub proxy: String,
	/// The patient (must be the signer).
	pub patient: String,
	/// The grantee the fragment re-encrypts for.
	pub grantee: String,
	/// `0x` hex of the patient's Umbral verifying key (`mbds-crypto` encoding).
	pub verifying_key: String,
	/// `0x` hex of the key fragment sealed to this proxy's record (PRE) key as the
	/// consortium's KMC attests it (`mbds_crypto::SealedKeyFragment`): only this proxy can open
	/// it, so a captured upload, or one sent to a fake proxy's URL, reveals nothing.
	pub sealed_kfrag: String,
	/// The patient-signed [`KfragCertificate`] for the same proxy, patient, grantee and
	/// verifying key; the proxy hands it (never the fragment) to the grantee.
	pub certificate: Signed,
	/// Unix ms.
	pub issued_at: u64,
}

/// The proxy stored a key fragment (sent back signed by the proxy's account).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Stored {
	/// The patient.
	pub patient: String,
	/// The grantee.
	pub grantee: String,
}

/// A keyword search over one patient's anchored summaries.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
	/// The proxy's account (SS58).
	pub proxy: String,
	/// The patient whose summaries are searched.
	pub patient: String,
	/// `0x` hex of the patient's search permission for this proxy
	/// ([`crate::search::SearchPermission`]: index tokens sealed to its record key, and a dPEKS
	/// trapdoor for items without index labels), or of a conjunctive dPEKS trapdoor alone
	/// (clients before the index).
	pub trapdoor: String,
	/// Unix ms.
	pub issued_at: u64,
	/// `0x` hex sr25519 signature of the signer over the on-chain [`SearchStatement`] of this
	/// request ([`search_statement`]): the search is recorded in the patient's audit trail
	/// for the signer, and only with it.
	pub search_signature: String,
}

/// One record found by a search.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Match {
	/// `0x` hex of the record hash (its content address in storage).
	pub record_hash: String,
	/// The private chain holding the record's slip.
	pub chain_id: u32,
	/// The slip on that chain.
	pub slip_id: u64,
	/// Block of the patient's confirmation on that chain.
	pub block_number: u32,
	/// Consortium block that anchored it.
	pub anchored_at: u32,
}

/// The records matching every keyword of the trapdoor that the signer may read now.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SearchResponse {
	/// Matching records the signer may read (consent checked at the consortium's finalised
	/// block); matches the signer may not read are not disclosed.
	pub matches: Vec<Match>,
	/// Index labels looked up plus summary items tested with a dPEKS trapdoor: with the
	/// searchable index it grows with the matches, not with the patient's records.
	pub examined: u32,
	/// Consortium block (finalised) the search ran at.
	pub at_block: u32,
	/// Consortium block whose audit entry records this search.
	pub audit_block: u32,
}

/// A request for this proxy's capsule fragment of one record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReencryptRequest {
	/// The proxy's account (SS58).
	pub proxy: String,
	/// The record's owner.
	pub patient: String,
	/// `0x` hex of the record hash.
	pub record_hash: String,
	/// Unix ms.
	pub issued_at: u64,
	/// `0x` hex sr25519 signature of the signer over the on-chain [`AccessStatement`] of
	/// this request ([`read_statement`]): the consortium records the access only with it, so
	/// the proxy cannot record accesses the user never asked for.
	pub access_signature: String,
}

/// The on-chain statement a [`ReencryptRequest`] stands for: read `record` of `patient`
/// through `proxy`, asked at `issued_at`.
pub fn read_statement(
	proxy: &AccountId,
	patient: &AccountId,
	record: H256,
	issued_at: u64,
) -> AccessStatement<AccountId> {
	AccessStatement {
		proxy: proxy.clone(),
		patient: patient.clone(),
		target: AccessTarget::Record { id: RecordId::Hash(record), categories: Default::default() },
		action: Action::Read,
		issued_at,
	}
}

/// `pair`'s signature over `statement` (`0x` hex), for [`ReencryptRequest::access_signature`].
pub fn sign_statement(pair: &sr25519::Pair, statement: &AccessStatement<AccountId>) -> String {
	hex_signature(pair, &statement.signing_payload())
}

/// The on-chain statement a [`SearchRequest`] stands for: search `patient`'s records with
/// `trapdoor` (its bytes) through `proxy`, asked at `issued_at`.
pub fn search_statement(
	proxy: &AccountId,
	patient: &AccountId,
	trapdoor: &[u8],
	issued_at: u64,
) -> SearchStatement<AccountId> {
	SearchStatement {
		proxy: proxy.clone(),
		patient: patient.clone(),
		trapdoor: sp_crypto_hashing::blake2_256(trapdoor),
		issued_at,
	}
}

/// `pair`'s signature over `statement` (`0x` hex), for [`SearchRequest::search_signature`].
pub fn sign_search(pair: &sr25519::Pair, statement: &SearchStatement<AccountId>) -> String {
	hex_signature(pair, &statement.signing_payload())
}

/// `pair`'s sr25519 signature over `message`, as `0x` hex.
fn hex_signature(pair: &sr25519::Pair, message: &[u8]) -> String {
	format!("0x{}", hex::encode(pair.sign(message).0))
}

/// Parses and checks `signature` (`0x` hex) as `user`'s signature over a search statement.
pub fn open_search_signature(
	signature: &str,
	user: &AccountId,
	statement: &SearchStatement<AccountId>,
) -> Result<sr25519::Signature> {
	open_signature("search_signature", signature, user, &statement.signing_payload(), STATEMENT)
}

/// What the signatures of [`open_search_signature`] and [`open_statement_signature`] cover.
const STATEMENT: &str = "the on-chain statement of this request";

/// Parses `signature` (`0x` hex, field `field`) and checks it is `user`'s over `payload`
/// (described as `what` in the error).
fn open_signature(
	field: &str,
	signature: &str,
	user: &AccountId,
	payload: &[u8],
	what: &str,
) -> Result<sr25519::Signature> {
	let raw = hex::decode(signature.trim_start_matches("0x"))
		.map_err(|e| Error::invalid(field, format!("field `{field}`: not hex: {e}")))?;
	let signature = sr25519::Signature::try_from(&raw[..]).map_err(|_| {
		Error::invalid(field, format!("field `{field}`: {} bytes, expected 64", raw.len()))
	})?;
	let public = sr25519::Public::from_raw(*user.as_ref());
	if !sr25519::Pair::verify(&signature, payload, &public) {
		return Err(Error::invalid(
			field,
			format!(
				"field `{field}`: not a valid signature of {} over {what}",
				user.to_ss58check()
			),
		));
	}
	Ok(signature)
}

/// Parses and checks `signature` (`0x` hex) as `user`'s signature over `statement`.
pub fn open_statement_signature(
	signature: &str,
	user: &AccountId,
	statement: &AccessStatement<AccountId>,
) -> Result<sr25519::Signature> {
	open_signature("access_signature", signature, user, &statement.signing_payload(), STATEMENT)
}

/// A capsule fragment, with what the grantee needs to verify it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReencryptResponse {
	/// `0x` hex of the capsule fragment (`mbds-crypto` encoding).
	pub cfrag: String,
	/// The patient's signed [`KfragCertificate`] of the key fragment used: the grantee checks
	/// the patient's signature and verifies the capsule fragment with its verifying key.
	pub certificate: Signed,
	/// Consortium block whose audit entry records this access.
	pub audit_block: u32,
}

/// A refusal or failure.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
	/// Machine-readable kind: `bad-request`, `bad-signature`, `stale-request`, `wrong-proxy`,
	/// `unknown-participant`, `no-kfrag`, `not-anchored`, `denied`, `storage`, `chain`.
	pub code: String,
	/// What is wrong and what to do.
	pub error: String,
	/// True if the refusal is in the patient's audit trail on the consortium.
	pub audited: bool,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
	use std::time::{SystemTime, UNIX_EPOCH};
	SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn access_statements_verify_only_for_their_signer_and_content() {
		let user = sr25519::Pair::from_seed(&[5u8; 32]);
		let who = AccountId::from(user.public());
		let proxy = AccountId::from([7u8; 32]);
		let patient = AccountId::from([8u8; 32]);
		let statement = read_statement(&proxy, &patient, H256::repeat_byte(1), 42);
		let sig = sign_statement(&user, &statement);
		assert!(open_statement_signature(&sig, &who, &statement).is_ok());
		// Another record, another proxy or another time is another statement.
		let other = read_statement(&proxy, &patient, H256::repeat_byte(2), 42);
		assert!(open_statement_signature(&sig, &who, &other)
			.unwrap_err()
			.to_string()
			.contains("not "));
		let other = read_statement(&patient, &patient, H256::repeat_byte(1), 42);
		assert!(open_statement_signature(&sig, &who, &other).is_err());
		let other = read_statement(&proxy, &patient, H256::repeat_byte(1), 43);
		assert!(open_statement_signature(&sig, &who, &other).is_err());
		// Another signer.
		assert!(open_statement_signature(&sig, &proxy, &statement).is_err());
		// A search statement is signed for its trapdoor only, and is not an access statement.
		let search = search_statement(&proxy, &patient, b"trapdoor", 42);
		let ssig = sign_search(&user, &search);
		assert!(open_search_signature(&ssig, &who, &search).is_ok());
		let other = search_statement(&proxy, &patient, b"another", 42);
		assert!(open_search_signature(&ssig, &who, &other).is_err());
		assert!(open_statement_signature(&ssig, &who, &statement).is_err());
		assert!(open_statement_signature("0x12", &who, &statement)
			.unwrap_err()
			.to_string()
			.contains("expected 64"));
	}

	#[test]
	fn signed_requests_verify_and_tampering_is_named() {
		let pair = sr25519::Pair::from_seed(&[3u8; 32]);
		let req = SearchRequest {
			proxy: "p".into(),
			patient: "x".into(),
			trapdoor: "0x00".into(),
			issued_at: 1,
			search_signature: "0x".into(),
		};
		let signed = Signed::sign(&pair, &req);
		let (who, back): (AccountId, SearchRequest) = signed.open().unwrap();
		assert_eq!(who, AccountId::from(pair.public()));
		assert_eq!(back, req);

		let mut forged = signed.clone();
		forged.payload = forged.payload.replace("\"x\"", "\"y\"");
		assert!(forged
			.open::<SearchRequest>()
			.unwrap_err()
			.to_string()
			.contains("not a valid signature"));
		let mut other = signed.clone();
		other.signer =
			AccountId::from(sr25519::Pair::from_seed(&[4u8; 32]).public()).to_ss58check();
		assert!(other
			.open::<SearchRequest>()
			.unwrap_err()
			.to_string()
			.contains("not a valid signature"));
		let mut short = signed;
		short.signature = "0x1234".into();
		assert!(short.open::<SearchRequest>().unwrap_err().to_string().contains("expected 64"));
	}
}
