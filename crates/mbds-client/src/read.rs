//! Reading a record: its owner opens it with their own key; a grantee asks `t` proxies for
//! capsule fragments (each proxy checks the patient's consent on chain and records the access in
//! the patient's audit trail), checks each against the patient's certificate, combines them and
//! decrypts (`mbds record get`).

use crate::{
	chain,
	keys::parse_account,
	proxy::api::{self, KfragCertificate, ReencryptRequest, ReencryptResponse, Signed},
	sharing::parse_proxy,
	Error, ParticipantKeys, ProxyClient, Result,
};
use mbds_crypto::{CapsuleFragment, PreSecretKey, RecordEnvelope, VerifiedCapsuleFragment};
use mbds_runtime::AccountId;
use sp_core::crypto::Ss58Codec;

/// A key capsule fragments may be issued for: the grantee (SS58) and its PRE secret key (the
/// reader's own, or the institution's member key for a grant to its doctors).
pub type Opener = (String, PreSecretKey);

/// What [`read_shared`] is doing, for a progress display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
	/// Asking this many proxies at once.
	Asking(usize),
	/// They all answered (or failed).
	Answered,
}

/// The plain text of `envelope` (record `record`, as given) for its owner `keys`.
pub fn open_own(
	keys: &ParticipantKeys,
	record: &str,
	envelope: &RecordEnvelope,
) -> Result<Vec<u8>> {
	envelope.open(&keys.record_key()).map_err(|e| Error::crypto(format!("record {record}"), e))
}

/// The plain text of `envelope` (record `record` of `patient`, as given) for a grantee: asks as
/// many of `proxies` (`URL` or `ACCOUNT@URL`) at once as capsule fragments are still missing
/// (each records the access on chain, so no more than needed), in parallel, then the next ones
/// for what failed, until `threshold` fragments for one of `openers` are in hand. Returns the
/// plain text and the URLs of the proxies whose fragments were used.
#[allow(clippy::too_many_arguments)]
pub fn read_shared(
	keys: &ParticipantKeys,
	patient: &str,
	record: &str,
	envelope: &RecordEnvelope,
	proxies: &[String],
	threshold: usize,
	openers: &[Opener],
	progress: &mut dyn FnMut(Progress),
) -> Result<(Vec<u8>, Vec<String>)> {
	if proxies.len() < threshold {
		return Err(Error::invalid(
			"--proxy",
			format!(
				"{threshold} proxy fragments are needed but only {} --proxy given",
				proxies.len()
			),
		));
	}
	let patient_id = parse_account("--patient", patient)?;
	let mut cfrags: Vec<Vec<VerifiedCapsuleFragment>> = vec![Vec::new(); openers.len()];
	let mut via = Vec::new();
	let mut accounts: Vec<String> = Vec::new();
	let mut refusals = Vec::new();
	let mut next = 0;
	while next < proxies.len() {
		let have = cfrags.iter().map(Vec::len).max().unwrap_or(0);
		if have >= threshold {
			break;
		}
		let batch = &proxies[next..(next + threshold - have).min(proxies.len())];
		next += batch.len();
		progress(Progress::Asking(batch.len()));
		let answers: Vec<_> = std::thread::scope(|scope| {
			let asks: Vec<_> = batch
				.iter()
				.map(|url| {
					let patient_id = &patient_id;
					scope.spawn(move || {
						fragment_from(keys, url, patient, record, patient_id, envelope, openers)
					})
				})
				.collect();
			asks.into_iter()
				.map(|a| {
					a.join()
						.unwrap_or_else(|_| Err(Error::Verification("the request panicked".into())))
				})
				.collect()
		});
		progress(Progress::Answered);
		for (url, answer) in batch.iter().zip(answers) {
			match answer {
				// Two URLs of one health authority give one fragment, not two.
				Ok((_, _, proxy)) if accounts.contains(&proxy) => refusals
					.push(format!("{url}: the same health authority ({proxy}) as another --proxy")),
				Ok((i, c, proxy)) => {
					cfrags[i].push(c);
					via.push(url.clone());
					accounts.push(proxy);
				}
				Err(e) => refusals.push(format!("{url}: {e}")),
			}
		}
	}
	let Some(i) = cfrags.iter().position(|c| c.len() >= threshold) else {
		return Err(Error::BelowThreshold(format!(
			"only {} of the {threshold} capsule fragments needed were obtained:\n  {}",
			cfrags.iter().map(Vec::len).max().unwrap_or(0),
			refusals.join("\n  ")
		)));
	};
	let plain = envelope
		.open_reencrypted(&openers[i].1, std::mem::take(&mut cfrags[i]))
		.map_err(|e| Error::crypto(format!("record {record}"), e))?;
	Ok((plain, via))
}

/// One proxy's verified capsule fragment for `record`, which of `openers` it opens with, and
/// the proxy's account (SS58).
fn fragment_from(
	keys: &ParticipantKeys,
	url: &str,
	patient: &str,
	record: &str,
	patient_id: &AccountId,
	envelope: &RecordEnvelope,
	openers: &[Opener],
) -> Result<(usize, VerifiedCapsuleFragment, String)> {
	let (pinned, url) = parse_proxy(url);
	let proxy = ProxyClient::new(url);
	let health = proxy.health()?;
	if let Some(pinned) = pinned.filter(|p| *p != health.account) {
		return Err(Error::Verification(format!(
			"it says it is {}, not {pinned} as given",
			health.account
		)));
	}
	let req_proxy = health.account.clone();
	let issued_at = api::now_ms();
	// The statement the consortium needs to record this access for us (and only for us).
	let statement = api::read_statement(
		&parse_account("proxy account", &health.account)?,
		&parse_account("patient", patient)?,
		chain::parse_hash("record", record)?,
		issued_at,
	);
	let req = ReencryptRequest {
		proxy: health.account,
		patient: patient.into(),
		record_hash: record.into(),
		issued_at,
		access_signature: api::sign_statement(&keys.pair(), &statement),
	};
	let resp: ReencryptResponse = proxy.post("/v1/reencrypt", &Signed::sign(&keys.pair(), &req))?;
	// The fragment's provenance: the patient's certificate of this proxy's fragment for us.
	let (signer, cert): (AccountId, KfragCertificate) =
		resp.certificate.open().map_err(|e| e.context("the proxy's certificate"))?;
	if &signer != patient_id {
		return Err(Error::Verification(format!(
			"the proxy's certificate is signed by {}, not by the patient",
			signer.to_ss58check()
		)));
	}
	let opener = openers.iter().position(|(grantee, _)| *grantee == cert.grantee);
	let Some(opener) = opener.filter(|_| cert.proxy == req_proxy) else {
		return Err(Error::Verification(format!(
			"the proxy's certificate is for grantee {} at proxy {}, not for you (or your institution, with --member-key) at this proxy",
			cert.grantee, cert.proxy
		)));
	};
	let my_pk = openers[opener].1.public_key();
	let vk = hex::decode(cert.verifying_key.trim_start_matches("0x")).map_err(|e| {
		Error::invalid("verifying_key", format!("the certificate's verifying key: {e}"))
	})?;
	let vk = mbds_crypto::VerifyingKey::from_bytes(&vk)
		.map_err(|e| Error::crypto("the certificate's verifying key", e))?;
	let cfrag = hex::decode(resp.cfrag.trim_start_matches("0x"))
		.map_err(|e| Error::invalid("cfrag", format!("cfrag: {e}")))?;
	CapsuleFragment::from_bytes(&cfrag)
		.and_then(|c| c.verify(envelope, &vk, &my_pk))
		.map(|c| (opener, c, req_proxy))
		.map_err(|e| {
			Error::crypto(
				"the proxy's capsule fragment is invalid (forged or for another record)",
				e,
			)
		})
}
