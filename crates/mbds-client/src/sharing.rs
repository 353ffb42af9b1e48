//! The patient's side of sharing: key fragments for a grantee, one to each of `n` proxies, `t`
//! of them enough to re-encrypt (`mbds consent grant|approve|share`), and later delivery of the
//! ones a proxy could not take (`mbds consent retry`).
//!
//! Each fragment is sealed to the record key the consortium's KMC attests for the proxy's
//! account, never to a key the proxy's URL offers, so a captured upload or a fake proxy
//! claiming an honest one's account learns nothing; `--proxy ACCOUNT@URL` also pins which
//! health authority a URL must be (else its claim is checked against the chain's roles), and
//! the proxy's receipt must be signed by that account. The fragments of one sharing go to
//! distinct health authorities, retries included. Sharing succeeds while at least `threshold`
//! proxies take their fragment: a proxy
//! that does not answer is reported, and its fragment is kept beside the key file, sealed to the
//! patient's own key, until `mbds consent retry` delivers it (fragments of one sharing only
//! combine with each other, so a later sharing could not stand in for it).

use crate::{
	chain, hex_of,
	keys::parse_account,
	proxy::api::{self, KfragCertificate, KfragUpload, Signed, Stored},
	write_private, Client, Error, ParticipantKeys, ProxyClient, Result,
};
use mbds_crypto::{generate_key_fragments, KeyFragment, PrePublicKey, SealedKeyFragment};
use mbds_primitives::{InstitutionKind, Role};
use mbds_runtime::AccountId;
use serde::{Deserialize, Serialize};
use sp_core::crypto::Ss58Codec;
use std::path::{Path, PathBuf};

/// A fragment not delivered yet, kept sealed to the patient's own record key.
#[derive(Serialize, Deserialize, Clone)]
pub struct PendingFragment {
	/// The proxy's URL.
	pub url: String,
	/// The health authority it must be (SS58), if known (pinned, or it answered before).
	pub account: Option<String>,
	/// Accounts that hold a fragment of the same sharing: never given a second one.
	pub sharing_accounts: Vec<String>,
	/// When the sharing was made (Unix ms): the certificate's time, so a proxy keeps the newest.
	pub shared_at: u64,
	/// The grantee (SS58).
	pub grantee: String,
	/// `0x` hex of the patient's Umbral verifying key the fragment was signed with.
	pub verifying_key: String,
	/// `0x` hex of the fragment sealed to the patient's own record key.
	pub sealed_to_self: String,
	/// Why it was not delivered.
	pub reason: String,
}

/// What a sharing did: proxy accounts that took their fragment, and URLs left pending.
pub struct Shared {
	/// The proxies (SS58 accounts) that took their fragment.
	pub delivered: Vec<String>,
	/// The fragments kept for `mbds consent retry`.
	pub pending: Vec<PendingFragment>,
	/// Fragments neither delivered nor kept (keeping failed): one line each, to report.
	pub lost: Vec<String>,
}

impl Shared {
	/// One line for the command's output.
	pub fn summary(&self) -> String {
		let mut s = format!("key fragments at {} proxy(ies)", self.delivered.len());
		for p in &self.pending {
			s.push_str(&format!(
				"; {} did not take its fragment ({}), kept for `mbds consent retry`",
				p.url, p.reason
			));
		}
		s
	}
}

/// Where fragments waiting for delivery are kept: `<key file>.pending-fragments.json`.
pub fn pending_path(key_file: &Path) -> PathBuf {
	let mut p = key_file.as_os_str().to_owned();
	p.push(".pending-fragments.json");
	PathBuf::from(p)
}

fn load_pending(path: &Path) -> Result<Vec<PendingFragment>> {
	let io = |error| Error::Io { path: path.to_path_buf(), error };
	match std::fs::read(path) {
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
		Err(e) => Err(io(e)),
		Ok(b) => serde_json::from_slice(&b).map_err(|e| {
			Error::invalid(path.display().to_string(), format!("{}: {e}", path.display()))
		}),
	}
}

fn save_pending(path: &Path, list: &[PendingFragment]) -> Result<()> {
	let io = |error| Error::Io { path: path.to_path_buf(), error };
	if list.is_empty() {
		return match std::fs::remove_file(path) {
			Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
			_ => Ok(()),
		};
	}
	let bytes = serde_json::to_vec_pretty(list).expect("json");
	write_private(path, &bytes).map_err(io)
}

/// What [`proxy_identity`] learns of a proxy that answers: its account (SS58), the record key
/// the KMC attests for it, and a client with its certificate pinned.
type Identity = (String, PrePublicKey, ProxyClient);

/// The proxy at `url`: its account, checked to be an active health authority on the
/// consortium, and the record key the KMC attests for it (what fragments are sealed to).
/// `Err` (outer) if the URL claims an account that may not have a fragment; `Ok(Err)` if it
/// does not answer (its fragment waits).
fn proxy_identity(
	consortium: &Client,
	url: &str,
	pinned: Option<&str>,
) -> Result<std::result::Result<Identity, String>> {
	// The client checks that the account it names bound the proxy's TLS certificate, and pins
	// it for the upload that follows.
	let client = ProxyClient::new(url);
	let health = match client.health() {
		Ok(h) => h,
		// Unreachable: not an error of the sharing, the fragment waits.
		Err(e) => return Ok(Err(e.to_string())),
	};
	if let Some(pinned) = pinned.filter(|p| *p != health.account) {
		return Err(Error::Verification(format!(
			"proxy {url} says it is {}, not {pinned} as given; not giving it a key fragment",
			health.account
		)));
	}
	let proxy_account = parse_account(&format!("proxy {url}: its account"), &health.account)?;
	match chain::participant(consortium, &proxy_account)? {
		Some(p)
			if p.role == Role::Institution(InstitutionKind::HealthAuthority)
				&& p.status == pallet_kmc::ParticipantStatus::Active => {},
		_ => {
			return Err(Error::Verification(format!(
				"proxy {url} claims account {}, which is not an active health authority on the consortium; not giving it a key fragment",
				health.account
			)))
		},
	}
	Ok(Ok((health.account, chain::record_key(consortium, &proxy_account)?, client)))
}

/// Seals `kfrag` to the proxy's attested key and uploads it with the patient's certificate.
#[allow(clippy::too_many_arguments)]
fn deliver(
	keys: &ParticipantKeys,
	client: &ProxyClient,
	proxy_account: &str,
	proxy_key: &PrePublicKey,
	grantee: &str,
	verifying_key: &str,
	kfrag: &KeyFragment,
	shared_at: u64,
) -> Result<()> {
	let now = api::now_ms();
	let certificate = Signed::sign(
		&keys.pair(),
		&KfragCertificate {
			proxy: proxy_account.into(),
			patient: keys.ss58(),
			grantee: grantee.into(),
			verifying_key: verifying_key.into(),
			issued_at: shared_at,
		},
	);
	let sealed = kfrag
		.seal_to(proxy_key)
		.map_err(|e| Error::crypto(format!("sealing proxy {}'s key fragment", client.url), e))?;
	let up = KfragUpload {
		proxy: proxy_account.into(),
		patient: keys.ss58(),
		grantee: grantee.into(),
		verifying_key: verifying_key.into(),
		sealed_kfrag: hex_of(&sealed.to_bytes()),
		certificate,
		issued_at: now,
	};
	let receipt: Signed = client.post("/v1/kfrag", &Signed::sign(&keys.pair(), &up))?;
	// Only the health authority itself can sign the receipt.
	let (signer, stored): (AccountId, Stored) =
		receipt.open().map_err(|e| e.context("its receipt"))?;
	let signer = signer.to_ss58check();
	if signer != proxy_account || stored.patient != keys.ss58() || stored.grantee != grantee {
		return Err(Error::Verification(format!(
			"its receipt is signed by {signer} for {} -> {}, not by {proxy_account} for this fragment",
			stored.patient, stored.grantee
		)));
	}
	Ok(())
}

/// `--proxy` values: `URL` or `ACCOUNT@URL` (the health authority the URL must be).
pub fn parse_proxy(arg: &str) -> (Option<&str>, &str) {
	match arg.split_once('@') {
		Some((account, url)) if !account.contains("://") => (Some(account), url),
		_ => (None, arg),
	}
}

/// Splits a re-encryption key for `grantee` into one fragment per proxy of `proxies` (`URL` or
/// `ACCOUNT@URL`) and delivers them; succeeds if at least `threshold` proxies took theirs (the
/// rest wait in the pending file beside `key_file`).
pub fn share(
	keys: &ParticipantKeys,
	key_file: &Path,
	consortium: &Client,
	grantee: &AccountId,
	proxies: &[String],
	threshold: usize,
) -> Result<Shared> {
	if proxies.is_empty() {
		return Ok(Shared { delivered: vec![], pending: vec![], lost: vec![] });
	}
	let grantee_pk = chain::record_key(consortium, grantee)?;
	let crypto = keys.crypto();
	let kfrags =
		generate_key_fragments(&crypto.pre, &crypto.signing, &grantee_pk, threshold, proxies.len())
			.map_err(|e| {
				Error::invalid(
					"--threshold",
					format!("--threshold {threshold} with {} --proxy: {e}", proxies.len()),
				)
			})?;
	let vk = hex_of(&crypto.signing.verifying_key().to_bytes());
	let grantee = grantee.to_ss58check();
	let shared_at = api::now_ms();
	// Each fragment goes to a distinct, active health authority: first learn who answers.
	let mut targets = Vec::new();
	let mut accounts: Vec<String> = Vec::new();
	for arg in proxies {
		let (pinned, url) = parse_proxy(arg);
		let identity = proxy_identity(consortium, url, pinned)?;
		if let Ok((account, _, _)) = &identity {
			if accounts.contains(account) {
				return Err(Error::invalid(
					"--proxy",
					format!("proxy {url} is the same health authority ({account}) as another --proxy; each fragment must go to a different proxy"),
				));
			}
			accounts.push(account.clone());
		} else if let Some(pinned) = pinned {
			accounts.push(pinned.to_string());
		}
		targets.push((url.to_string(), pinned.map(String::from), identity));
	}
	let mut delivered = Vec::new();
	let mut pending = Vec::new();
	let mut lost = Vec::new();
	for ((url, pinned, identity), kfrag) in targets.into_iter().zip(&kfrags) {
		let (account, outcome) = match identity {
			Ok((proxy_account, proxy_key, client)) => (
				Some(proxy_account.clone()),
				deliver(keys, &client, &proxy_account, &proxy_key, &grantee, &vk, kfrag, shared_at)
					.map(|_| proxy_account)
					.map_err(|e| e.to_string()),
			),
			Err(unreachable) => (pinned, Err(unreachable)),
		};
		match outcome {
			Ok(proxy_account) => delivered.push(proxy_account),
			Err(reason) => {
				let sealed = kfrag.seal_to(&crypto.pre.public_key()).map(|k| k.to_bytes());
				match sealed {
					Ok(sealed) => pending.push(PendingFragment {
						url: url.clone(),
						account,
						sharing_accounts: Vec::new(),
						shared_at,
						grantee: grantee.clone(),
						verifying_key: vk.clone(),
						sealed_to_self: hex_of(&sealed),
						reason,
					}),
					Err(e) => lost.push(format!("proxy {url}'s fragment is lost ({reason}; keeping it failed: {e}); share again later")),
				}
			}
		}
	}
	for p in &mut pending {
		p.sharing_accounts = accounts.clone();
	}
	if !pending.is_empty() {
		let path = pending_path(key_file);
		let mut all = load_pending(&path)?;
		all.extend(pending.iter().cloned());
		save_pending(&path, &all)?;
	}
	if delivered.len() < threshold {
		return Err(Error::BelowThreshold(format!(
			"only {} of the {threshold} proxies needed took their key fragment, so {grantee} cannot read yet; the others are kept in {} for `mbds consent retry`:\n  {}",
			delivered.len(),
			pending_path(key_file).display(),
			pending.iter().map(|p| format!("{}: {}", p.url, p.reason)).chain(lost).collect::<Vec<_>>().join("\n  ")
		)));
	}
	Ok(Shared { delivered, pending, lost })
}

/// Delivers the fragments kept in the pending file to proxies that answer now.
pub fn retry(keys: &ParticipantKeys, key_file: &Path, consortium: &Client) -> Result<Shared> {
	let path = pending_path(key_file);
	let list = load_pending(&path)?;
	let own = keys.record_key();
	let mut delivered = Vec::new();
	let mut still = Vec::new();
	for mut p in list {
		let kfrag = crate::bytes_of(&serde_json::Value::String(p.sealed_to_self.clone()))
			.map_err(|e| e.to_string())
			.and_then(|b| {
				SealedKeyFragment::from_bytes(&b)
					.and_then(|sealed| sealed.open(&own))
					.map_err(|e| e.to_string())
			});
		let kfrag = match kfrag {
			Ok(k) => k,
			Err(e) => {
				// Kept (and reported) rather than lost: it may be another key file's.
				p.reason = format!("the kept fragment does not open with this key file: {e}");
				still.push(p);
				continue;
			}
		};
		let outcome = match proxy_identity(consortium, &p.url, p.account.as_deref()) {
			Ok(Ok((proxy_account, _, _)))
				if p.account.is_none() && p.sharing_accounts.contains(&proxy_account) =>
			{
				Err(format!(
					"it now answers as {proxy_account}, which already holds a fragment of this sharing; not giving it a second"
				))
			},
			Ok(Ok((proxy_account, proxy_key, client))) => deliver(
				keys,
				&client,
				&proxy_account,
				&proxy_key,
				&p.grantee,
				&p.verifying_key,
				&kfrag,
				p.shared_at,
			)
			.map(|_| proxy_account)
			.map_err(|e| e.to_string()),
			Ok(Err(e)) => Err(e),
			Err(e) => Err(e.to_string()),
		};
		match outcome {
			Ok(proxy_account) => delivered.push(proxy_account),
			Err(reason) => {
				p.reason = reason;
				still.push(p);
			}
		}
	}
	save_pending(&path, &still)?;
	Ok(Shared { delivered, pending: still, lost: vec![] })
}
