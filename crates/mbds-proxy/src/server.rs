//! The proxy service (MISSION parts 8 and 9): a health authority's server that
//!
//! * keeps the re-encryption key fragments patients give it (verified against the keys the
//!   consortium's KMC attests, stored on disk so a restart loses nothing);
//! * answers keyword searches: a patient's trapdoor, tested (designated-tester PEKS) against
//!   that patient's summaries anchored on the consortium, at its latest finalised block,
//!   disclosing only the records the searcher may read now;
//! * re-encrypts a record's capsule for a grantee only after recording the access on the
//!   consortium (`consent.record_access`), whose runtime decides from the patient's consent at
//!   that block whether it is allowed; refusals are recorded the same way. The record must be
//!   one anchored for that patient, fetched from storage by its hash (so a tampered blob is
//!   detected) and sealed to that patient.
//!
//! Requests are served concurrently ([`serve`]): an async front (hyper on tokio) reads each
//! request with a header and a body timeout and a size limit, answers `/v1/health` and
//! `/v1/ready` itself, and hands the rest to a fixed pool of worker threads through a bounded
//! queue (a full queue is refused with 503 at once). A stalled or slow client holds only its
//! own connection. The proxy's transactions are submitted one at a time (consecutive nonces)
//! and waited for concurrently. Before any transaction, each signer is held to
//! [`MAX_REQUESTS_PER_MINUTE`], and a refusal already on record for the same user, patient and
//! record is repeated from memory for [`DENIAL_MEMORY_MS`] while the chain still refuses.
//! A grantee needs `t` proxies' fragments; no proxy can decrypt anything itself.

use crate::api::*;
use crate::chain;
use crate::keys::ParticipantKeys;
use bytes::Bytes;
use mbds_client::Client;
use mbds_crypto::{
	ConjunctiveTrapdoor, EncryptedKeyword, KeyFragment, PreSecretKey, RecordEnvelope,
	SealedKeyFragment, TesterSecretKey, VerifyingKey,
};
use mbds_primitives::{
	consent::Action,
	statements::{AccessStatement, SearchStatement},
	InstitutionKind, Role,
};
use mbds_runtime::{AccountId, RuntimeCall, RuntimeEvent};
use mbds_storage::{ContentAddress, ReplicatedStore};
use sp_core::{crypto::Ss58Codec, sr25519, H256};
use sp_runtime::MultiSignature;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Largest request body accepted.
const MAX_BODY: u64 = 1 << 20;
/// How long a client may take to send a request's headers, or its body.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections held open at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 1024;
/// Worker threads serving requests, and requests waiting for one; more are refused (503).
const WORKERS: usize = 16;
const QUEUE: usize = 64;
/// Requests one signer may make per minute before it is refused locally (429), without any
/// transaction.
pub const MAX_REQUESTS_PER_MINUTE: u32 = 60;
/// Requests of one signer served at once; more are refused (429) until one finishes.
pub const MAX_IN_FLIGHT_PER_SIGNER: u32 = 2;
/// Connections one IP address may hold open at once; more are closed on accept.
const MAX_CONNECTIONS_PER_IP: usize = 64;
/// Longest a connection stays open, whatever it does.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(300);
/// How long a refusal recorded on chain is repeated from memory, without another transaction,
/// while the chain still refuses the same user that record.
pub const DENIAL_MEMORY_MS: u64 = 10 * 60 * 1000;
/// How long the proxy waits for its audit entry to be included.
const AUDIT_TIMEOUT: Duration = Duration::from_secs(60);

/// A refusal: HTTP status and body.
#[derive(Debug)]
pub struct Refusal {
	/// HTTP status.
	pub status: u16,
	/// The body.
	pub body: ErrorBody,
}

fn refuse(status: u16, code: &str, audited: bool, error: impl Into<String>) -> Refusal {
	Refusal { status, body: ErrorBody { code: code.into(), error: error.into(), audited } }
}

/// A running proxy's state.
pub struct Proxy {
	keys: ParticipantKeys,
	me: String,
	tester: TesterSecretKey,
	/// Opens the key fragments patients seal to this proxy.
	record_key: PreSecretKey,
	/// Its TLS certificate, bound to its account.
	tls: crate::tls::TlsIdentity,
	consortium: Client,
	store: ReplicatedStore,
	state_dir: PathBuf,
	rt: tokio::runtime::Runtime,
	/// Requests already served, by (signer, payload hash), with the time they expire: a
	/// replayed request is refused instead of spending the proxy's quota or the user's rate.
	seen: Mutex<HashMap<(AccountId, [u8; 32]), u64>>,
	/// Requests per signer in the current minute: (minute start, count).
	rates: Mutex<HashMap<AccountId, (u64, u32)>>,
	/// Refusals on record: (user, patient, record) -> (audit block, forget at).
	denials: Mutex<HashMap<(AccountId, AccountId, H256), (u32, u64)>>,
	/// Held while a transaction is signed and submitted, so nonces follow each other.
	submit_lock: Mutex<()>,
	/// Requests being served, per signer.
	in_flight: Mutex<HashMap<AccountId, u32>>,
}

/// One of a signer's requests being served; counted in [`Proxy`]'s `in_flight` until dropped.
struct InFlight<'a> {
	proxy: &'a Proxy,
	signer: AccountId,
}

impl Drop for InFlight<'_> {
	fn drop(&mut self) {
		let mut busy = self.proxy.in_flight.lock().unwrap_or_else(|e| e.into_inner());
		if let Some(n) = busy.get_mut(&self.signer) {
			*n = n.saturating_sub(1);
			if *n == 0 {
				busy.remove(&self.signer);
			}
		}
	}
}

impl Proxy {
	/// A proxy with `keys`, talking to the consortium node at `consortium_url`, reading
	/// records from `store`, keeping key fragments under `state_dir`. Checks that its account
	/// is an active health authority on the consortium whose registered search key is this
	/// proxy's tester key.
	pub fn new(
		keys: ParticipantKeys,
		consortium_url: &str,
		store: ReplicatedStore,
		state_dir: &Path,
	) -> Result<Proxy, String> {
		let consortium = Client::connect(consortium_url)?;
		let me = keys.ss58();
		match chain::participant(&consortium, &keys.account())? {
			Some(p)
				if p.role == Role::Institution(InstitutionKind::HealthAuthority)
					&& p.status == pallet_kmc::ParticipantStatus::Active => {},
			Some(p) => {
				return Err(format!(
					"proxy account {me} is registered on the consortium as {:?} ({:?}); a proxy must be an active health authority",
					p.role, p.status
				))
			},
			None => {
				return Err(format!(
					"proxy account {me} is not registered on the consortium at {consortium_url}; have the KMC register it as a health authority with its tester key (`mbds kmc register --role health-authority`)"
				))
			},
		}
		let tester = keys.tester();
		let registered = chain::tester_key(&consortium, &keys.account())?;
		if registered != tester.public_key() {
			return Err(format!(
				"proxy account {me}: the search key registered on the consortium is not this key file's tester key"
			));
		}
		let record_key = keys.record_key();
		if chain::record_key(&consortium, &keys.account())? != record_key.public_key() {
			return Err(format!(
				"proxy account {me}: the record key registered on the consortium is not this key file's; patients seal key fragments to the registered one"
			));
		}
		std::fs::create_dir_all(state_dir.join("kfrags"))
			.map_err(|e| format!("state folder {}: cannot create it: {e}", state_dir.display()))?;
		let tls = crate::tls::TlsIdentity::load_or_create(state_dir, &keys.pair())?;
		// Storage reads come from several worker threads at once.
		let rt = tokio::runtime::Builder::new_multi_thread()
			.worker_threads(1)
			.thread_name("proxy-storage")
			.enable_all()
			.build()
			.map_err(|e| format!("starting the storage runtime: {e}"))?;
		Ok(Proxy {
			keys,
			me,
			tester,
			record_key,
			tls,
			consortium,
			store,
			state_dir: state_dir.to_path_buf(),
			rt,
			seen: Default::default(),
			rates: Default::default(),
			denials: Default::default(),
			submit_lock: Mutex::new(()),
			in_flight: Default::default(),
		})
	}

	/// The proxy's account (SS58).
	pub fn account(&self) -> &str {
		&self.me
	}

	fn kfrag_path(&self, patient: &AccountId, grantee: &AccountId) -> PathBuf {
		self.state_dir
			.join("kfrags")
			.join(patient.to_ss58check())
			.join(format!("{}.json", grantee.to_ss58check()))
	}

	fn kfrag_count(&self) -> u32 {
		let Ok(patients) = std::fs::read_dir(self.state_dir.join("kfrags")) else { return 0 };
		patients
			.flatten()
			.filter_map(|p| std::fs::read_dir(p.path()).ok())
			.map(|d| {
				d.flatten().filter(|f| f.path().extension().is_some_and(|e| e == "json")).count()
					as u32
			})
			.sum()
	}

	/// What `GET /v1/health` answers.
	pub fn health(&self) -> Health {
		Health {
			account: self.me.clone(),
			tester_key: format!("0x{}", hex::encode(self.tester.public_key().to_bytes())),
			kfrags: self.kfrag_count(),
			consortium: self.consortium.rpc.url.clone(),
			tls_certificate_sha256: format!("0x{}", hex::encode(self.tls.certificate_sha256)),
			tls_binding: format!("0x{}", hex::encode(self.tls.binding.0)),
		}
	}

	/// Serves one request: method, path and body in, HTTP status and JSON body out
	/// (`GET /v1/health` and `/v1/ready` are answered by [`serve`]'s front, never queued).
	pub fn handle(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
		let result = match (method, path) {
			("POST", "/v1/kfrag") => self.kfrag(body).map(|r| serde_json::to_value(r).expect("json")),
			("POST", "/v1/search") => self.search(body).map(|r| serde_json::to_value(r).expect("json")),
			("POST", "/v1/reencrypt") =>
				self.reencrypt(body).map(|r| serde_json::to_value(r).expect("json")),
			_ => Err(refuse(
				404,
				"bad-request",
				false,
				format!("no endpoint {method} {path}; see GET /v1/health, POST /v1/kfrag, /v1/search, /v1/reencrypt"),
			)),
		};
		match result {
			Ok(v) => (200, v),
			Err(r) => {
				println!(
					"[proxy {}] refused {path}: {} ({})",
					short(&self.me),
					r.body.error,
					r.body.code
				);
				(r.status, serde_json::to_value(r.body).expect("json"))
			}
		}
	}

	/// Opens a signed request addressed to this proxy and fresh enough.
	fn open<T: serde::de::DeserializeOwned>(
		&self,
		body: &str,
		proxy_of: impl Fn(&T) -> (&str, u64),
	) -> Result<(AccountId, T, InFlight<'_>), Refusal> {
		let signed: Signed = serde_json::from_str(body).map_err(|e| {
			refuse(
				400,
				"bad-request",
				false,
				format!("body is not a signed request (signer, payload, signature): {e}"),
			)
		})?;
		let (signer, payload) =
			signed.open::<T>().map_err(|e| refuse(401, "bad-signature", false, e))?;
		let (proxy, issued_at) = proxy_of(&payload);
		if proxy != self.me {
			return Err(refuse(
				400,
				"wrong-proxy",
				false,
				format!("field `proxy` is {proxy}, but this proxy is {}", self.me),
			));
		}
		let now = now_ms();
		if now.abs_diff(issued_at) > MAX_REQUEST_AGE_MS {
			return Err(refuse(
				400,
				"stale-request",
				false,
				format!("field `issued_at` ({issued_at}) is more than 5 minutes from this proxy's clock ({now}); sign a fresh request"),
			));
		}
		// Only active registered participants make the proxy work (and write on chain); checked
		// first, so unregistered keys leave no trace in memory.
		match chain::participant(&self.consortium, &signer).map_err(Self::chain_err)? {
			Some(p) if p.status == pallet_kmc::ParticipantStatus::Active => {},
			Some(_) => {
				return Err(refuse(
					403,
					"unknown-participant",
					false,
					format!("{} is suspended on the consortium; the KMC must reinstate it first", signer.to_ss58check()),
				))
			},
			None => {
				return Err(refuse(
					403,
					"unknown-participant",
					false,
					format!("{} is not registered on the consortium; have the KMC register it (`mbds kmc register`)", signer.to_ss58check()),
				))
			},
		}
		// Each signer gets a bounded share of the proxy before anything reaches the chain.
		{
			let mut rates = self.rates.lock().unwrap_or_else(|e| e.into_inner());
			let minute = now - now % 60_000;
			if rates.len() > 100_000 {
				rates.retain(|_, (start, _)| *start == minute);
			}
			let entry = rates.entry(signer.clone()).or_insert((minute, 0));
			if entry.0 != minute {
				*entry = (minute, 0);
			}
			if entry.1 >= MAX_REQUESTS_PER_MINUTE {
				return Err(refuse(
					429,
					"rate-limited",
					false,
					format!("{} sent more than {MAX_REQUESTS_PER_MINUTE} requests to this proxy in a minute; wait and try again", signer.to_ss58check()),
				));
			}
			entry.1 += 1;
		}
		// The signature is randomised, so a replay is recognised by signer and payload.
		let key = (signer.clone(), sp_crypto_hashing::blake2_256(signed.payload.as_bytes()));
		{
			let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
			if seen.len() > 4096 {
				seen.retain(|_, expires| *expires > now);
			}
			if seen.contains_key(&key) {
				return Err(refuse(
					409,
					"replayed-request",
					false,
					"this exact signed request was already received; sign a new one",
				));
			}
			seen.insert(key, issued_at.saturating_add(2 * MAX_REQUEST_AGE_MS));
		}
		// At most this many of one signer's requests are served at once: one user cannot
		// hold the workers (each may wait for an audit record to be final).
		let in_flight = {
			let mut busy = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
			let n = busy.entry(signer.clone()).or_insert(0);
			if *n >= MAX_IN_FLIGHT_PER_SIGNER {
				return Err(refuse(
					429,
					"rate-limited",
					false,
					format!("{} already has {MAX_IN_FLIGHT_PER_SIGNER} requests being served by this proxy; wait for them", signer.to_ss58check()),
				));
			}
			*n += 1;
			InFlight { proxy: self, signer: signer.clone() }
		};
		Ok((signer, payload, in_flight))
	}

	fn parse_account(field: &str, s: &str) -> Result<AccountId, Refusal> {
		crate::keys::parse_account(&format!("field `{field}`"), s)
			.map_err(|e| refuse(400, "bad-request", false, e))
	}

	fn chain_err(e: String) -> Refusal {
		refuse(503, "chain", false, format!("consortium chain: {e}"))
	}

	/// Stores a patient's sealed key fragment; the receipt is [`Stored`] signed by this
	/// proxy's account, so the patient knows which proxy took it.
	fn kfrag(&self, body: &str) -> Result<Signed, Refusal> {
		let (signer, up, _in_flight) =
			self.open(body, |u: &KfragUpload| (u.proxy.as_str(), u.issued_at))?;
		let patient = Self::parse_account("patient", &up.patient)?;
		let grantee = Self::parse_account("grantee", &up.grantee)?;
		if signer != patient {
			return Err(refuse(
				403,
				"bad-signature",
				false,
				"only the patient uploads key fragments for their own records",
			));
		}
		let (vk, kfrag) = decode_kfrag(&up, &self.record_key)
			.map_err(|e| refuse(400, "bad-request", false, e))?;
		let (cert_signer, cert): (AccountId, KfragCertificate) = up
			.certificate
			.open()
			.map_err(|e| refuse(400, "bad-request", false, format!("field `certificate`: {e}")))?;
		if cert_signer != patient
			|| cert.proxy != self.me
			|| cert.patient != up.patient
			|| cert.grantee != up.grantee
			|| cert.verifying_key != up.verifying_key
		{
			return Err(refuse(
				400,
				"bad-request",
				false,
				"field `certificate`: not the patient's certificate of this proxy, grantee and verifying key",
			));
		}
		let patient_pk = chain::record_key(&self.consortium, &patient)
			.map_err(|e| refuse(404, "unknown-participant", false, e))?;
		let grantee_pk = chain::record_key(&self.consortium, &grantee)
			.map_err(|e| refuse(404, "unknown-participant", false, e))?;
		kfrag.verify(&vk, &patient_pk, &grantee_pk).map_err(|e| {
			refuse(
				400,
				"bad-request",
				false,
				format!(
					"field `sealed_kfrag`: {e} (made for other keys than those the KMC attests?)"
				),
			)
		})?;
		// A fragment of an older sharing (a late retry) never replaces a newer one: fragments
		// of different sharings do not combine.
		if let Some(stored) = self.stored_upload(&patient, &grantee)? {
			let older = stored
				.open::<KfragUpload>()
				.and_then(|(_, up)| up.certificate.open::<KfragCertificate>())
				.map(|(_, c)| c.issued_at > cert.issued_at)
				.unwrap_or(false);
			if older {
				return Err(refuse(
					409,
					"stale-fragment",
					false,
					"this proxy holds a fragment of a newer sharing for this grantee; this one is not stored",
				));
			}
		}
		let path = self.kfrag_path(&patient, &grantee);
		// The body is the verified signed upload: kept as received, re-verified on use.
		write_atomically(&path, body.as_bytes()).map_err(|e| refuse(500, "storage", false, e))?;
		println!(
			"[proxy {}] stored a key fragment of {} for {}",
			short(&self.me),
			short(&up.patient),
			short(&up.grantee)
		);
		Ok(Signed::sign(&self.keys.pair(), &Stored { patient: up.patient, grantee: up.grantee }))
	}

	fn search(&self, body: &str) -> Result<SearchResponse, Refusal> {
		let (user, req, _in_flight) =
			self.open(body, |r: &SearchRequest| (r.proxy.as_str(), r.issued_at))?;
		let patient = Self::parse_account("patient", &req.patient)?;
		let trapdoor_bytes = hex::decode(req.trapdoor.trim_start_matches("0x")).map_err(|e| {
			refuse(400, "bad-request", false, format!("field `trapdoor`: not hex: {e}"))
		})?;
		let trapdoor = ConjunctiveTrapdoor::from_bytes(&trapdoor_bytes)
			.map_err(|e| refuse(400, "bad-request", false, format!("field `trapdoor`: {e}")))?;
		// The search is audited on chain for the user who signed it, like a read.
		let statement =
			search_statement(&self.keys.account(), &patient, &trapdoor_bytes, req.issued_at);
		let search_signature = open_search_signature(&req.search_signature, &user, &statement)
			.map_err(|e| refuse(401, "bad-signature", false, e))?;
		let at = self.consortium.finalized_head().map_err(Self::chain_err)?;
		let at_block = self.consortium.header(Some(at)).map_err(Self::chain_err)?.number;
		let summaries =
			chain::summaries(&self.consortium, &patient, Some(at)).map_err(Self::chain_err)?;
		// One record = one slip on one chain; its items carry one encrypted keyword each.
		let mut records: BTreeMap<(u32, u64), (Vec<EncryptedKeyword>, &chain::Summary)> =
			BTreeMap::new();
		for s in &summaries {
			let entry = records.entry((s.item.chain_id, s.item.slip_id)).or_insert((Vec::new(), s));
			// An item whose keyword does not decode cannot match; skip it.
			if let Ok(kw) = EncryptedKeyword::from_bytes(&s.item.encrypted_keyword) {
				entry.0.push(kw);
			}
		}
		let query = self.tester.prepare_conjunctive(&trapdoor);
		let now = now_ms();
		let mut matches = Vec::new();
		for (keywords, s) in records.values() {
			if !query.matches(keywords) {
				continue;
			}
			let readable = chain::may_access(
				&self.consortium,
				&patient,
				&user,
				s.item.record_hash,
				Action::Read,
				now,
				Some(at),
			)
			.map_err(Self::chain_err)?;
			if readable {
				matches.push(Match {
					record_hash: chain::hash_hex(&s.item.record_hash),
					chain_id: s.item.chain_id,
					slip_id: s.item.slip_id,
					block_number: s.item.block_number,
					anchored_at: s.anchored_at,
				});
			}
		}
		// Nothing is disclosed before the search is on record, final.
		let (counted, audit_block) =
			self.record_search(&user, statement, search_signature, matches.len() as u32)?;
		if !counted {
			return Err(refuse(
				429,
				"denied",
				true,
				format!("{} exceeded the access rate and is suspended; nothing is disclosed (recorded at consortium block #{audit_block})", user.to_ss58check()),
			));
		}
		// Consent may have changed while the record became final (a revocation): disclose
		// only what the user may still read at the audit block.
		let audit_hash = self
			.consortium
			.block_hash(audit_block)
			.map_err(Self::chain_err)?
			.ok_or_else(|| refuse(503, "chain", false, "the audit block vanished"))?;
		let mut still = Vec::with_capacity(matches.len());
		for m in matches {
			let hash = chain::parse_hash("match", &m.record_hash)
				.map_err(|e| refuse(500, "internal", false, e))?;
			let readable = chain::may_access(
				&self.consortium,
				&patient,
				&user,
				hash,
				Action::Read,
				now_ms(),
				Some(audit_hash),
			)
			.map_err(Self::chain_err)?;
			if readable {
				still.push(m);
			}
		}
		let matches = still;
		println!(
			"[proxy {}] search by {} over {} items of {}: {} readable match(es) (audited at #{audit_block})",
			short(&self.me),
			short(&user.to_ss58check()),
			summaries.len(),
			short(&req.patient),
			matches.len()
		);
		Ok(SearchResponse { matches, examined: summaries.len() as u32, at_block, audit_block })
	}

	fn reencrypt(&self, body: &str) -> Result<ReencryptResponse, Refusal> {
		let (user, req, _in_flight) =
			self.open(body, |r: &ReencryptRequest| (r.proxy.as_str(), r.issued_at))?;
		let patient = Self::parse_account("patient", &req.patient)?;
		let hash = chain::parse_hash("field `record_hash`", &req.record_hash)
			.map_err(|e| refuse(400, "bad-request", false, e))?;
		// The user's signature over the on-chain statement of this access: without it the
		// consortium would refuse to record it, so check it before anything else.
		let statement = read_statement(&self.keys.account(), &patient, hash, req.issued_at);
		let access_signature = open_statement_signature(&req.access_signature, &user, &statement)
			.map_err(|e| refuse(401, "bad-signature", false, e))?;
		let access = (statement, access_signature);
		// The record must be one of the patient's, as anchored on the consortium.
		let at = self.consortium.finalized_head().map_err(Self::chain_err)?;
		let anchored = chain::summaries(&self.consortium, &patient, Some(at))
			.map_err(Self::chain_err)?
			.iter()
			.any(|s| s.item.record_hash == hash);
		if !anchored {
			return Err(refuse(
				404,
				"not-anchored",
				false,
				format!(
					"record {} is not among the records anchored for {} on the consortium (yet?)",
					req.record_hash, req.patient
				),
			));
		}
		// A refusal already on record for this user and record is repeated from memory while
		// the chain still refuses (checked locally, at the best block): no new transaction.
		if let Some(block) = self.remembered_denial(&user, &patient, hash) {
			let allowed = self.may_read_now(&patient, &user, hash)?;
			if !allowed {
				return Err(refuse(
					403,
					"denied",
					true,
					format!("the consent of {} does not allow {} to read record {} now (this refusal is on record in the audit trail at consortium block #{block}; it is not recorded again within 10 minutes)", req.patient, user.to_ss58check(), req.record_hash),
				));
			}
		}
		// Everything this proxy needs to serve is checked first; the access is recorded only
		// when it can be served (or when it is refused for lack of consent).
		// The user's own fragment, else (an institution grant) the fragment the patient gave
		// for the user's institution, which serves its doctors: whether this doctor may read
		// is the chain's decision below, at the block that records the access.
		let mut delegatee = user.clone();
		let mut upload = self.stored_upload(&patient, &user)?;
		if upload.is_none() {
			let role = chain::participant(&self.consortium, &user)
				.map_err(Self::chain_err)?
				.map(|p| p.role);
			if let Some(Role::Doctor { institution }) = role {
				upload = self.stored_upload(&patient, &institution)?;
				if upload.is_some() {
					delegatee = institution;
				}
			}
		}
		let Some(upload) = upload else {
			// Without a fragment nothing can be served; without consent either, the refusal
			// goes on record.
			let allowed = self.may_read_now(&patient, &user, hash)?;
			if !allowed {
				let (_, audit_block) = self.record_access(&user, &access)?;
				return Err(self.denied(&req, &user, &patient, hash, audit_block));
			}
			return Err(refuse(
				404,
				"no-kfrag",
				false,
				format!("this proxy holds no key fragment of {} for {}; the patient gives one when approving a request (`mbds consent approve --proxy ...`)", req.patient, user.to_ss58check()),
			));
		};
		let (_, up): (AccountId, KfragUpload) = upload
			.open()
			.map_err(|e| refuse(500, "storage", false, format!("stored fragment: {e}")))?;
		let (vk, kfrag) =
			decode_kfrag(&up, &self.record_key).map_err(|e| refuse(500, "storage", false, e))?;
		let patient_pk = chain::record_key(&self.consortium, &patient)
			.map_err(|e| refuse(404, "unknown-participant", false, e))?;
		let grantee_pk = chain::record_key(&self.consortium, &delegatee)
			.map_err(|e| refuse(404, "unknown-participant", false, e))?;
		let kfrag = kfrag.verify(&vk, &patient_pk, &grantee_pk).map_err(|e| {
			refuse(409, "no-kfrag", false, format!("stored fragment no longer matches the keys the KMC attests ({e}); the patient must issue a new one"))
		})?;
		let bytes =
			self.rt.block_on(self.store.get(&ContentAddress::from_bytes(hash.0))).map_err(|e| {
				refuse(502, "storage", false, format!("record {}: {e}", req.record_hash))
			})?;
		let envelope = RecordEnvelope::from_bytes(&bytes).map_err(|e| {
			refuse(502, "storage", false, format!("record {}: {e}", req.record_hash))
		})?;
		if envelope.header().owner != patient_pk {
			return Err(refuse(
				409,
				"storage",
				false,
				format!("record {} is not sealed to {}", req.record_hash, req.patient),
			));
		}

		// The chain decides, from the patient's consent at the including block, and records
		// the access either way; it is served only once that record is final.
		let (allowed, audit_block) = self.record_access(&user, &access)?;
		if !allowed {
			return Err(self.denied(&req, &user, &patient, hash, audit_block));
		}
		let cfrag = kfrag.reencrypt(&envelope);
		println!(
			"[proxy {}] re-encrypted record {} of {} for {}{} (audited at #{audit_block})",
			short(&self.me),
			short(&req.record_hash),
			short(&req.patient),
			short(&user.to_ss58check()),
			if delegatee == user {
				String::new()
			} else {
				format!(" under the grant to {}'s doctors", short(&delegatee.to_ss58check()))
			}
		);
		Ok(ReencryptResponse {
			cfrag: format!("0x{}", hex::encode(cfrag.to_bytes())),
			certificate: up.certificate,
			audit_block,
		})
	}

	/// The key fragment the patient gave this proxy for `grantee`, if any.
	fn stored_upload(
		&self,
		patient: &AccountId,
		grantee: &AccountId,
	) -> Result<Option<Signed>, Refusal> {
		let path = self.kfrag_path(patient, grantee);
		let storage = |e: String| {
			refuse(500, "storage", false, format!("key fragment file {}: {e}", path.display()))
		};
		match std::fs::read(&path) {
			Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
			Err(e) => Err(storage(e.to_string())),
			Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| storage(e.to_string())),
		}
	}

	/// Whether the chain (at the node's best block) lets `user` read `record` of `patient` now.
	fn may_read_now(
		&self,
		patient: &AccountId,
		user: &AccountId,
		record: H256,
	) -> Result<bool, Refusal> {
		chain::may_access(&self.consortium, patient, user, record, Action::Read, now_ms(), None)
			.map_err(Self::chain_err)
	}

	/// The block recording `user`'s refused read of `record`, if refused within
	/// [`DENIAL_MEMORY_MS`].
	fn remembered_denial(
		&self,
		user: &AccountId,
		patient: &AccountId,
		record: H256,
	) -> Option<u32> {
		let now = now_ms();
		let mut denials = self.denials.lock().unwrap_or_else(|e| e.into_inner());
		denials.retain(|_, (_, forget_at)| *forget_at > now);
		denials.get(&(user.clone(), patient.clone(), record)).map(|(block, _)| *block)
	}

	/// The refusal of a read the chain recorded as refused at `audit_block` (remembered).
	fn denied(
		&self,
		req: &ReencryptRequest,
		user: &AccountId,
		patient: &AccountId,
		record: H256,
		audit_block: u32,
	) -> Refusal {
		self.denials.lock().unwrap_or_else(|e| e.into_inner()).insert(
			(user.clone(), patient.clone(), record),
			(audit_block, now_ms().saturating_add(DENIAL_MEMORY_MS)),
		);
		refuse(
			403,
			"denied",
			true,
			format!("the consent of {} does not allow {} to read record {} now (refusal recorded in the audit trail at consortium block #{audit_block})", req.patient, user.to_ss58check(), req.record_hash),
		)
	}

	/// Records the access `user` signed on the consortium; whether the chain allowed it and
	/// the block.
	fn record_access(
		&self,
		user: &AccountId,
		(statement, signature): &(AccessStatement<AccountId>, sr25519::Signature),
	) -> Result<(bool, u32), Refusal> {
		let call = RuntimeCall::Consent(pallet_consent::Call::record_access {
			user: user.clone(),
			statement: statement.clone(),
			signature: MultiSignature::Sr25519(signature.clone()),
		});
		self.record_final(call, "access", |e| match e {
			RuntimeEvent::Consent(pallet_consent::Event::AccessRecorded { allowed, .. }) => {
				Some(*allowed)
			}
			_ => None,
		})
	}

	/// Records the search `user` signed and its number of results on the consortium; whether
	/// it counted (false: the user exceeded the access rate and was suspended) and the block.
	fn record_search(
		&self,
		user: &AccountId,
		statement: SearchStatement<AccountId>,
		signature: sr25519::Signature,
		results: u32,
	) -> Result<(bool, u32), Refusal> {
		let call = RuntimeCall::Consent(pallet_consent::Call::record_search {
			user: user.clone(),
			statement,
			signature: MultiSignature::Sr25519(signature),
			results,
		});
		self.record_final(call, "search", |e| match e {
			RuntimeEvent::Consent(pallet_consent::Event::SearchRecorded { counted, .. }) => {
				Some(*counted)
			}
			_ => None,
		})
	}

	/// Submits an audit call, waits until the block including it is final (a fork must not
	/// drop the record of an access), and returns what `outcome` finds in its events and the
	/// block number. Nothing may be served unless this succeeds.
	fn record_final(
		&self,
		call: RuntimeCall,
		what: &str,
		outcome: impl Fn(&RuntimeEvent) -> Option<bool>,
	) -> Result<(bool, u32), Refusal> {
		let submitted = {
			let _one_at_a_time = self.submit_lock.lock().unwrap_or_else(|e| e.into_inner());
			self.consortium.submit_tracked(call, &self.keys.pair())
		};
		let inclusion = submitted
			.and_then(|s| self.consortium.wait_included(&s, AUDIT_TIMEOUT))
			.map_err(|e| {
				refuse(
					503,
					"chain",
					false,
					format!(
						"recording the {what} on the consortium failed, so nothing is served: {e}"
					),
				)
			})?;
		let result = inclusion.events.iter().find_map(outcome);
		let final_block = self
			.consortium
			.wait(&format!("the {what} record to be finalised"), AUDIT_TIMEOUT, |c| {
				let finalized = c.header(Some(c.finalized_head()?))?.number;
				Ok(finalized >= inclusion.number)
			})
			.and_then(|_| self.consortium.block_hash(inclusion.number));
		match final_block {
			Ok(Some(h)) if h == inclusion.block => {},
			Ok(_) => {
				return Err(refuse(503, "chain", false, format!("the block recording the {what} was replaced by a fork; nothing was served, try again")))
			},
			Err(e) => return Err(refuse(503, "chain", false, format!("the {what} record did not become final: {e}"))),
		}
		match result {
			Some(r) => Ok((r, inclusion.number)),
			None => Err(refuse(
				503,
				"chain",
				false,
				format!("the consortium included the {what} record but emitted no event for it"),
			)),
		}
	}
}

/// The upload's verifying key and its key fragment, opened with this proxy's record key.
fn decode_kfrag(
	up: &KfragUpload,
	record_key: &PreSecretKey,
) -> Result<(VerifyingKey, KeyFragment), String> {
	let vk = hex::decode(up.verifying_key.trim_start_matches("0x"))
		.map_err(|e| format!("field `verifying_key`: not hex: {e}"))
		.and_then(|b| {
			VerifyingKey::from_bytes(&b).map_err(|e| format!("field `verifying_key`: {e}"))
		})?;
	let kfrag = hex::decode(up.sealed_kfrag.trim_start_matches("0x"))
		.map_err(|e| format!("field `sealed_kfrag`: not hex: {e}"))
		.and_then(|b| {
			SealedKeyFragment::from_bytes(&b)
				.and_then(|sealed| sealed.open(record_key))
				.map_err(|e| format!("field `sealed_kfrag`: {e}"))
		})?;
	Ok((vk, kfrag))
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
	use std::io::Write;
	let dir = path.parent().expect("kfrag paths have a folder");
	std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
	// A name of its own: two uploads of one fragment may be written at once.
	static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
	let tmp = path.with_extension(format!(
		"json.tmp.{}.{}",
		std::process::id(),
		NEXT.fetch_add(1, Ordering::SeqCst)
	));
	let mut options = std::fs::OpenOptions::new();
	options.write(true).create(true).truncate(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::OpenOptionsExt;
		options.mode(0o600);
	}
	let mut f = options.open(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
	f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| format!("{}: {e}", tmp.display()))?;
	std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))?;
	if let Ok(d) = std::fs::File::open(dir) {
		let _ = d.sync_all();
	}
	Ok(())
}

/// First characters of an account or hash, for log lines.
pub fn short(s: &str) -> String {
	s.chars().take(10).collect()
}

/// A request handed to a worker thread, with where to send its answer.
struct Job {
	method: String,
	path: String,
	body: String,
	reply: tokio::sync::oneshot::Sender<(u16, serde_json::Value)>,
}

type Reply = hyper::Response<http_body_util::Full<Bytes>>;

fn reply(status: u16, value: &serde_json::Value) -> Reply {
	hyper::Response::builder()
		.status(status)
		.header("Content-Type", "application/json")
		.body(http_body_util::Full::new(Bytes::from(value.to_string())))
		.expect("a valid status and header")
}

fn refusal(status: u16, code: &str, error: impl Into<String>) -> Reply {
	let body = ErrorBody { code: code.into(), error: error.into(), audited: false };
	reply(status, &serde_json::to_value(body).expect("json"))
}

/// What the async front shares between connections.
struct Front {
	proxy: Arc<Proxy>,
	jobs: std::sync::mpsc::SyncSender<Job>,
	queued: Arc<std::sync::atomic::AtomicUsize>,
}

/// A connection counted against its IP address until dropped.
struct PerIp {
	map: Arc<Mutex<HashMap<std::net::IpAddr, usize>>>,
	ip: std::net::IpAddr,
}

impl PerIp {
	fn take(
		map: &Arc<Mutex<HashMap<std::net::IpAddr, usize>>>,
		ip: std::net::IpAddr,
	) -> Option<PerIp> {
		let mut m = map.lock().unwrap_or_else(|e| e.into_inner());
		let n = m.entry(ip).or_insert(0);
		if *n >= MAX_CONNECTIONS_PER_IP {
			return None;
		}
		*n += 1;
		Some(PerIp { map: map.clone(), ip })
	}
}

impl Drop for PerIp {
	fn drop(&mut self) {
		let mut m = self.map.lock().unwrap_or_else(|e| e.into_inner());
		if let Some(n) = m.get_mut(&self.ip) {
			*n = n.saturating_sub(1);
			if *n == 0 {
				m.remove(&self.ip);
			}
		}
	}
}

/// One request: health and readiness answered here; anything else read (bounded in time and
/// size) and queued for a worker.
async fn route(
	front: Arc<Front>,
	req: hyper::Request<hyper::body::Incoming>,
) -> Result<Reply, std::convert::Infallible> {
	use http_body_util::BodyExt;
	let method = req.method().as_str().to_string();
	let path = req.uri().path().to_string();
	match (method.as_str(), path.as_str()) {
		("GET", "/v1/health") => {
			let proxy = front.proxy.clone();
			return Ok(match tokio::task::spawn_blocking(move || proxy.health()).await {
				Ok(h) => reply(200, &serde_json::to_value(h).expect("json")),
				Err(e) => refusal(500, "internal", format!("health: {e}")),
			});
		}
		("GET", "/v1/ready") => {
			let queued = front.queued.load(Ordering::SeqCst);
			return Ok(reply(
				200,
				&serde_json::json!({"ready": true, "queued": queued, "workers": WORKERS, "queue": QUEUE}),
			));
		}
		_ => {}
	}
	let declared = req
		.headers()
		.get(hyper::header::CONTENT_LENGTH)
		.and_then(|v| v.to_str().ok())
		.and_then(|v| v.parse::<u64>().ok());
	if declared.is_some_and(|n| n > MAX_BODY) {
		return Ok(refusal(413, "bad-request", "body larger than 1 MiB"));
	}
	let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY as usize);
	let body = match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
		Err(_) => {
			return Ok(refusal(
				408,
				"bad-request",
				format!("the request body did not arrive within {} s", BODY_TIMEOUT.as_secs()),
			))
		}
		Ok(Err(e)) => {
			return Ok(refusal(
				413,
				"bad-request",
				format!("reading the body: {e} (at most 1 MiB)"),
			))
		}
		Ok(Ok(collected)) => collected.to_bytes(),
	};
	let Ok(body) = String::from_utf8(body.to_vec()) else {
		return Ok(refusal(400, "bad-request", "body is not UTF-8 text"));
	};
	let (tx, rx) = tokio::sync::oneshot::channel();
	front.queued.fetch_add(1, Ordering::SeqCst);
	match front.jobs.try_send(Job { method, path, body, reply: tx }) {
		Ok(()) => {}
		Err(_) => {
			front.queued.fetch_sub(1, Ordering::SeqCst);
			return Ok(refusal(
				503,
				"busy",
				format!("this proxy is serving {WORKERS} requests with {QUEUE} waiting; try again shortly or ask another proxy"),
			));
		}
	}
	Ok(match rx.await {
		Ok((status, value)) => reply(status, &value),
		Err(_) => refusal(500, "internal", "the worker serving this request stopped"),
	})
}

/// Serves HTTPS on `listen` until `stop` is set: an async front with timeouts and limits, and
/// [`WORKERS`] threads running [`Proxy::handle`].
pub fn serve(proxy: Arc<Proxy>, listen: &str, stop: Arc<AtomicBool>) -> Result<(), String> {
	let rt = tokio::runtime::Builder::new_multi_thread()
		.worker_threads(2)
		.thread_name("proxy-http")
		.enable_all()
		.build()
		.map_err(|e| format!("starting the HTTP runtime: {e}"))?;
	let listener = rt
		.block_on(tokio::net::TcpListener::bind(listen))
		.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
	let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
	let queue = Arc::new(Mutex::new(queue));
	let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
	let mut workers = Vec::new();
	for i in 0..WORKERS {
		let (proxy, queue, queued) = (proxy.clone(), queue.clone(), queued.clone());
		let worker = std::thread::Builder::new()
			.name(format!("proxy-worker-{i}"))
			.spawn(move || loop {
				let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
				let Ok(job) = job else { return };
				queued.fetch_sub(1, Ordering::SeqCst);
				let answer = proxy.handle(&job.method, &job.path, &job.body);
				let _ = job.reply.send(answer);
			})
			.map_err(|e| format!("starting worker thread {i}: {e}"))?;
		workers.push(worker);
	}
	let acceptor = tokio_rustls::TlsAcceptor::from(proxy.tls.server_config()?);
	println!(
		"[proxy {}] listening on https://{listen} (TLS certificate SHA-256 0x{}, bound to its account)",
		short(proxy.account()),
		hex::encode(proxy.tls.certificate_sha256)
	);
	let front = Arc::new(Front { proxy: proxy.clone(), jobs, queued });
	let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
	let per_ip: Arc<Mutex<HashMap<std::net::IpAddr, usize>>> = Default::default();
	rt.block_on(async {
		let mut tick = tokio::time::interval(Duration::from_millis(300));
		while !stop.load(Ordering::SeqCst) {
			let accepted = tokio::select! {
				a = listener.accept() => a,
				_ = tick.tick() => continue,
			};
			let (stream, peer) = match accepted {
				Ok(accepted) => accepted,
				// An error accepting one connection must not stop the service.
				Err(e) => {
					eprintln!("[proxy {}] accepting a connection: {e}", short(proxy.account()));
					continue;
				}
			};
			let Ok(permit) = connections.clone().try_acquire_owned() else {
				drop(stream);
				continue;
			};
			let Some(per_ip) = PerIp::take(&per_ip, peer.ip()) else {
				drop(stream);
				continue;
			};
			let (front, acceptor) = (front.clone(), acceptor.clone());
			tokio::spawn(async move {
				let (_permit, _per_ip) = (permit, per_ip);
				// A client that does not finish its TLS handshake in time is dropped.
				let stream =
					match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
						Ok(Ok(stream)) => stream,
						_ => return,
					};
				let service = hyper::service::service_fn(move |req| route(front.clone(), req));
				let connection = hyper::server::conn::http1::Builder::new()
					.timer(hyper_util::rt::TokioTimer::new())
					.header_read_timeout(HEADER_TIMEOUT)
					.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
				let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
			});
		}
	});
	// Dropping the runtime's connections and then the front closes the queue; workers finish
	// the request they hold and stop.
	rt.shutdown_timeout(Duration::from_secs(2));
	drop(front);
	for w in workers {
		let _ = w.join();
	}
	println!("[proxy {}] stopped", short(proxy.account()));
	Ok(())
}

/// Puts `bytes` into `store` (used by tests and tools that seed storage).
pub fn put_blocking(store: &ReplicatedStore, bytes: Vec<u8>) -> Result<ContentAddress, String> {
	tokio::runtime::Builder::new_current_thread()
		.enable_all()
		.build()
		.map_err(|e| e.to_string())?
		.block_on(store.put(Bytes::from(bytes)))
		.map_err(|e| e.to_string())
}
