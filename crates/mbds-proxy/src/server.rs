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
//!
//! The proxy reads the consortium only at finalised blocks, through a [`Consortium`] (the
//! RPC one in production), and counts what it does in [`Metrics`] (served on `/metrics`).
//! Its log lines are `tracing` events: `mbds-proxy::front` (listener, connections),
//! `mbds-proxy::audit` (what was served and the audit block), `mbds-proxy::refusal` (refused
//! requests), `mbds-proxy::chain` (audit transactions).

use crate::consortium::{record_key_of, tester_key_of, Consortium, RecordError, Recorded};
use crate::metrics::{route_label, Metrics};
use bytes::Bytes;
use mbds_client::chain;
use mbds_client::proxy::api::*;
use mbds_client::ParticipantKeys;
use mbds_crypto::{
	ConjunctiveTrapdoor, EncryptedKeyword, KeyFragment, PrePublicKey, PreSecretKey, RecordEnvelope,
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
use std::time::{Duration, Instant};

/// Largest request body accepted.
const MAX_BODY: u64 = 1 << 20;
/// How long a client may take to send a request's headers, or its body.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections held open at once; more are closed on accept.
const MAX_CONNECTIONS: usize = 1024;
/// Worker threads serving requests (the default of `serve`'s `workers`), and requests waiting
/// for one; more are refused (503).
pub const WORKERS: usize = 16;
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
	consortium: Arc<dyn Consortium>,
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
	/// Requests being served, per signer.
	in_flight: Mutex<HashMap<AccountId, u32>>,
	/// What it did, for `/metrics`.
	metrics: Metrics,
	/// The time (Unix ms): [`now_ms`], fixed in unit tests.
	clock: fn() -> u64,
}

/// A signed request opened by [`Proxy::open`], and the finalised consortium block it is
/// served at.
struct Opened<'a, T> {
	signer: AccountId,
	payload: T,
	_in_flight: InFlight<'a>,
	/// The newest finalised block when the request was opened: its hash and number.
	at: H256,
	at_block: u32,
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
	/// A proxy with `keys`, reading and writing the consortium through `consortium`, reading
	/// records from `store`, keeping key fragments under `state_dir`. Checks (at the newest
	/// finalised block) that its account is an active health authority on the consortium whose
	/// registered search key is this proxy's tester key and record key this key file's.
	pub fn new(
		keys: ParticipantKeys,
		consortium: Arc<dyn Consortium>,
		store: ReplicatedStore,
		state_dir: &Path,
	) -> Result<Proxy, String> {
		let me = keys.ss58();
		let account = keys.account();
		let (at, _) = consortium.finalized()?;
		match consortium.participant(&account, at)? {
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
					"proxy account {me} is not registered on the consortium at {}; have the KMC register it as a health authority with its tester key (`mbds kmc register --role health-authority`)",
					consortium.describe()
				))
			},
		}
		let set = consortium.key_set(&account, at)?.ok_or_else(|| {
			format!(
				"proxy account {me} has no keys registered with the KMC of the chain at {}; register it first (`mbds kmc register`)",
				consortium.describe()
			)
		})?;
		let tester = keys.tester();
		if tester_key_of(&account, &set)? != tester.public_key() {
			return Err(format!(
				"proxy account {me}: the search key registered on the consortium is not this key file's tester key"
			));
		}
		let record_key = keys.record_key();
		if record_key_of(&account, &set)? != record_key.public_key() {
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
		let metrics = Metrics::new()?;
		metrics.workers.set(WORKERS as i64);
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
			in_flight: Default::default(),
			metrics,
			clock: now_ms,
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
			consortium: self.consortium.describe(),
			tls_certificate_sha256: format!("0x{}", hex::encode(self.tls.certificate_sha256)),
			tls_binding: format!("0x{}", hex::encode(self.tls.binding.0)),
		}
	}

	/// Serves one request: method, path and body in, HTTP status and JSON body out
	/// (`GET /v1/health` and `/v1/ready` are answered by [`serve`]'s front, never queued).
	pub fn handle(&self, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
		let started = Instant::now();
		let route = route_label(path);
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
		self.metrics.served(route, started.elapsed());
		match result {
			Ok(v) => {
				self.metrics.answered(route, 200, None);
				(200, v)
			}
			Err(r) => {
				self.metrics.answered(route, r.status, Some(&r.body.code));
				tracing::info!(
					target: "mbds-proxy::refusal",
					proxy = %short(&self.me),
					route,
					status = r.status,
					code = %r.body.code,
					audited = r.body.audited,
					"refused {path}: {} ({})",
					r.body.error,
					r.body.code
				);
				(r.status, serde_json::to_value(r.body).expect("json"))
			}
		}
	}

	/// The metrics in Prometheus' text format (what `GET /metrics` answers).
	pub fn metrics_text(&self) -> String {
		self.metrics.render()
	}

	/// The proxy's metrics.
	pub fn metrics(&self) -> &Metrics {
		&self.metrics
	}

	/// Opens a signed request addressed to this proxy and fresh enough, from an active
	/// participant (at the newest finalised block, which the request is then served at).
	fn open<T: Payload>(
		&self,
		body: &str,
		proxy_of: impl Fn(&T) -> (&str, u64),
	) -> Result<Opened<'_, T>, Refusal> {
		let (signed, signer, payload) = parse_signed::<T>(body)?;
		let (proxy, issued_at) = proxy_of(&payload);
		if proxy != self.me {
			return Err(refuse(
				400,
				"wrong-proxy",
				false,
				format!("field `proxy` is {proxy}, but this proxy is {}", self.me),
			));
		}
		let now = (self.clock)();
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
		let (at, at_block) = self.consortium.finalized().map_err(Self::chain_err)?;
		match self.consortium.participant(&signer, at).map_err(Self::chain_err)? {
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
		Ok(Opened { signer, payload, _in_flight: in_flight, at, at_block })
	}

	fn chain_err(e: String) -> Refusal {
		refuse(503, "chain", false, format!("consortium chain: {e}"))
	}

	/// The record key the KMC attests for `who` at block `at`; refused (404) if none.
	fn record_key_at(&self, who: &AccountId, at: H256) -> Result<PrePublicKey, Refusal> {
		let set = self.consortium.key_set(who, at).map_err(Self::chain_err)?.ok_or_else(|| {
			refuse(
				404,
				"unknown-participant",
				false,
				format!(
					"{} has no keys registered with the KMC of the chain at {}; register it first (`mbds kmc register`)",
					who.to_ss58check(),
					self.consortium.describe()
				),
			)
		})?;
		record_key_of(who, &set).map_err(|e| refuse(404, "unknown-participant", false, e))
	}

	/// Stores a patient's sealed key fragment; the receipt is [`Stored`] signed by this
	/// proxy's account, so the patient knows which proxy took it.
	fn kfrag(&self, body: &str) -> Result<Signed, Refusal> {
		let Opened { signer, payload: up, _in_flight, at, .. } =
			self.open(body, |u: &KfragUpload| (u.proxy.as_str(), u.issued_at))?;
		let (patient, grantee) = parse_kfrag_accounts(&up)?;
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
		let patient_pk = self.record_key_at(&patient, at)?;
		let grantee_pk = self.record_key_at(&grantee, at)?;
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
		// A new fragment means a new sharing, so the patient's consent changed: refusals of
		// this patient's records remembered so far are checked on chain again. (Consent is read
		// at the finalised block, which may not show the new grant yet: without this a grantee
		// refused before would be refused from memory until the grant is final.)
		self.denials.lock().unwrap_or_else(|e| e.into_inner()).retain(|(_, p, _), _| *p != patient);
		tracing::info!(
			target: "mbds-proxy::audit",
			proxy = %short(&self.me),
			patient = %up.patient,
			grantee = %up.grantee,
			"stored a key fragment of {} for {}",
			short(&up.patient),
			short(&up.grantee)
		);
		Ok(Signed::sign(&self.keys.pair(), &Stored { patient: up.patient, grantee: up.grantee }))
	}

	fn search(&self, body: &str) -> Result<SearchResponse, Refusal> {
		let Opened { signer: user, payload: req, _in_flight, at, at_block } =
			self.open(body, |r: &SearchRequest| (r.proxy.as_str(), r.issued_at))?;
		let (patient, trapdoor_bytes, query) = parse_search(&req)?;
		// The search is audited on chain for the user who signed it, like a read.
		let statement =
			search_statement(&self.keys.account(), &patient, &trapdoor_bytes, req.issued_at);
		let search_signature = open_search_signature(&req.search_signature, &user, &statement)
			.map_err(|e| refuse(401, "bad-signature", false, e))?;
		// One record = one slip on one chain. With the patient's searchable index, the labels
		// of the matching records are looked up (the work grows with the matches); items
		// anchored without labels are tested with the dPEKS trapdoor, one by one.
		let (tokens, legacy) = match query {
			SearchQuery::Legacy(trapdoor) => (None, Some(trapdoor)),
			SearchQuery::Index(permission) => {
				let walks = permission.open_tokens(&self.keys.record_key()).map_err(|e| {
					refuse(400, "bad-request", false, format!("field `trapdoor`: {e}"))
				})?;
				let legacy = match &permission.legacy {
					Some(bytes) => Some(ConjunctiveTrapdoor::from_bytes(bytes).map_err(|e| {
						refuse(
							400,
							"bad-request",
							false,
							format!("field `trapdoor`, its dPEKS part: {e}"),
						)
					})?),
					None => None,
				};
				(Some(walks), legacy)
			}
		};
		let record_of = |s: &chain::Summary| (s.item.chain_id, s.item.slip_id);
		let mut candidates: BTreeMap<(u32, u64), chain::Summary> = BTreeMap::new();
		let mut examined: u64 = 0;
		if let Some(walks) = &tokens {
			let (found, looked_up) = mbds_client::search::find(walks, record_of, |labels| {
				self.consortium.lookup_labels(&patient, labels, at)
			})
			.map_err(Self::chain_err)?;
			examined += looked_up;
			candidates.extend(found.into_iter().map(|s| (record_of(&s), s)));
		}
		// With a permission, the dPEKS part is tested only if the patient has items without a
		// label (as the chain says at `at`): otherwise the search stays the size of its matches.
		let legacy = match (&legacy, &tokens) {
			(Some(_), Some(_)) => {
				let unindexed =
					self.consortium.unindexed_count(&patient, at).map_err(Self::chain_err)?;
				if unindexed > 0 {
					legacy
				} else {
					None
				}
			}
			_ => legacy,
		};
		if let Some(trapdoor) = &legacy {
			let summaries = self.consortium.summaries(&patient, at).map_err(Self::chain_err)?;
			let mut records: BTreeMap<(u32, u64), (Vec<EncryptedKeyword>, &chain::Summary)> =
				BTreeMap::new();
			for s in &summaries {
				// Labelled items are the index's; with a permission, only the others are
				// tested (an old trapdoor alone tests every item, as before).
				if tokens.is_some()
					&& mbds_primitives::index_label_in(&s.item.encrypted_keyword).is_some()
				{
					continue;
				}
				examined += 1;
				let entry = records.entry(record_of(s)).or_insert((Vec::new(), s));
				// An item whose keyword does not decode cannot match; skip it.
				if let Ok(kw) = EncryptedKeyword::from_bytes(&s.item.encrypted_keyword) {
					entry.0.push(kw);
				}
			}
			let query = self.tester.prepare_conjunctive(trapdoor);
			for (key, (keywords, s)) in records {
				if query.matches(&keywords) {
					candidates.entry(key).or_insert_with(|| s.clone());
				}
			}
		}
		let now = (self.clock)();
		let hashes: Vec<H256> = candidates.values().map(|s| s.item.record_hash).collect();
		let readable = self
			.consortium
			.may_access_many(&patient, &user, &hashes, Action::Read, now, at)
			.map_err(Self::chain_err)?;
		let matches: Vec<Match> = candidates
			.values()
			.zip(readable)
			.filter(|(_, readable)| *readable)
			.map(|(s, _)| Match {
				record_hash: chain::hash_hex(&s.item.record_hash),
				chain_id: s.item.chain_id,
				slip_id: s.item.slip_id,
				block_number: s.item.block_number,
				anchored_at: s.anchored_at,
			})
			.collect();
		let examined = u32::try_from(examined).unwrap_or(u32::MAX);
		// Nothing is disclosed before the search is on record, final.
		let (counted, audit) =
			self.record_search(&user, statement, search_signature, matches.len() as u32)?;
		let audit_block = audit.number;
		if !counted {
			return Err(refuse(
				429,
				"denied",
				true,
				format!("{} exceeded the access rate and is suspended; nothing is disclosed (recorded at consortium block #{audit_block})", user.to_ss58check()),
			));
		}
		// Consent may have changed while the record became final (a revocation): disclose
		// only what the user may still read at the audit block (final).
		let hashes = matches
			.iter()
			.map(|m| chain::parse_hash("match", &m.record_hash))
			.collect::<Result<Vec<H256>, _>>()
			.map_err(|e| refuse(500, "internal", false, e))?;
		let readable = self
			.consortium
			.may_access_many(&patient, &user, &hashes, Action::Read, (self.clock)(), audit.block)
			.map_err(Self::chain_err)?;
		let matches: Vec<Match> =
			matches.into_iter().zip(readable).filter(|(_, r)| *r).map(|(m, _)| m).collect();
		tracing::info!(
			target: "mbds-proxy::audit",
			proxy = %short(&self.me),
			user = %user.to_ss58check(),
			patient = %req.patient,
			audit_block,
			"search by {} over {} entries of {}: {} readable match(es) (audited at #{audit_block})",
			short(&user.to_ss58check()),
			examined,
			short(&req.patient),
			matches.len()
		);
		Ok(SearchResponse { matches, examined, at_block, audit_block })
	}

	fn reencrypt(&self, body: &str) -> Result<ReencryptResponse, Refusal> {
		let Opened { signer: user, payload: req, _in_flight, at, .. } =
			self.open(body, |r: &ReencryptRequest| (r.proxy.as_str(), r.issued_at))?;
		let (patient, hash) = parse_reencrypt(&req)?;
		// The user's signature over the on-chain statement of this access: without it the
		// consortium would refuse to record it, so check it before anything else.
		let statement = read_statement(&self.keys.account(), &patient, hash, req.issued_at);
		let access_signature = open_statement_signature(&req.access_signature, &user, &statement)
			.map_err(|e| refuse(401, "bad-signature", false, e))?;
		let access = (statement, access_signature);
		// The record must be one of the patient's, as anchored on the consortium.
		let anchored = self
			.consortium
			.summaries(&patient, at)
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
		// the chain still refuses (checked locally, at the finalised block): no new transaction.
		if let Some(block) = self.remembered_denial(&user, &patient, hash) {
			let allowed = self.may_read_now(&patient, &user, hash, at)?;
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
			let role =
				self.consortium.participant(&user, at).map_err(Self::chain_err)?.map(|p| p.role);
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
			let allowed = self.may_read_now(&patient, &user, hash, at)?;
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
		let patient_pk = self.record_key_at(&patient, at)?;
		let grantee_pk = self.record_key_at(&delegatee, at)?;
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
		tracing::info!(
			target: "mbds-proxy::audit",
			proxy = %short(&self.me),
			user = %user.to_ss58check(),
			patient = %req.patient,
			record = %req.record_hash,
			audit_block,
			"re-encrypted record {} of {} for {}{} (audited at #{audit_block})",
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

	/// Whether the chain (at the finalised block `at`) lets `user` read `record` of `patient`
	/// now.
	fn may_read_now(
		&self,
		patient: &AccountId,
		user: &AccountId,
		record: H256,
		at: H256,
	) -> Result<bool, Refusal> {
		self.consortium
			.may_access(patient, user, record, Action::Read, (self.clock)(), at)
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
		let now = (self.clock)();
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
			(audit_block, (self.clock)().saturating_add(DENIAL_MEMORY_MS)),
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
		.map(|(allowed, recorded)| (allowed, recorded.number))
	}

	/// Records the search `user` signed and its number of results on the consortium; whether
	/// it counted (false: the user exceeded the access rate and was suspended) and the final
	/// block recording it.
	fn record_search(
		&self,
		user: &AccountId,
		statement: SearchStatement<AccountId>,
		signature: sr25519::Signature,
		results: u32,
	) -> Result<(bool, Recorded), Refusal> {
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
	/// final block. Nothing may be served unless this succeeds.
	fn record_final(
		&self,
		call: RuntimeCall,
		what: &'static str,
		outcome: impl Fn(&RuntimeEvent) -> Option<bool>,
	) -> Result<(bool, Recorded), Refusal> {
		self.metrics.submitted(what);
		let recorded =
			self.consortium.record(call, &self.keys.pair(), AUDIT_TIMEOUT).map_err(|e| {
				let (reason, message) = match &e {
					RecordError::NotRecorded(e) => (
						"not-recorded",
						format!(
						"recording the {what} on the consortium failed, so nothing is served: {e}"
					),
					),
					RecordError::NotFinal(e) => {
						("not-final", format!("the {what} record did not become final: {e}"))
					}
					RecordError::Forked { .. } => (
						"fork",
						format!(
						"the block recording the {what} was replaced by a fork; nothing was served, try again"
					),
					),
				};
				self.metrics.transaction_failed(what, reason);
				tracing::warn!(
					target: "mbds-proxy::chain",
					proxy = %short(&self.me),
					what,
					reason,
					"audit transaction not on record: {e}"
				);
				refuse(503, "chain", false, message)
			})?;
		match recorded.events.iter().find_map(outcome) {
			Some(r) => {
				tracing::debug!(
					target: "mbds-proxy::chain",
					proxy = %short(&self.me),
					what,
					block = recorded.number,
					"the {what} is on record in final block #{}",
					recorded.number
				);
				Ok((r, recorded))
			}
			None => {
				self.metrics.transaction_failed(what, "no-event");
				Err(refuse(
					503,
					"chain",
					false,
					format!(
						"the consortium included the {what} record but emitted no event for it"
					),
				))
			}
		}
	}
}

/// The upload's verifying key and its key fragment, opened with this proxy's record key.
fn decode_kfrag(
	up: &KfragUpload,
	record_key: &PreSecretKey,
) -> Result<(VerifyingKey, KeyFragment), String> {
	let vk = hex_field("verifying_key", &up.verifying_key).and_then(|b| {
		VerifyingKey::from_bytes(&b).map_err(|e| format!("field `verifying_key`: {e}"))
	})?;
	let kfrag = hex_field("sealed_kfrag", &up.sealed_kfrag).and_then(|b| {
		SealedKeyFragment::from_bytes(&b)
			.and_then(|sealed| sealed.open(record_key))
			.map_err(|e| format!("field `sealed_kfrag`: {e}"))
	})?;
	Ok((vk, kfrag))
}

/// The bytes of `0x` hex field `field` (the prefix is optional, once).
fn hex_field(field: &str, s: &str) -> Result<Vec<u8>, String> {
	hex::decode(s.strip_prefix("0x").unwrap_or(s))
		.map_err(|e| format!("field `{field}`: not hex: {e}"))
}

/// An SS58 account in field `field`.
fn parse_account(field: &str, s: &str) -> Result<AccountId, Refusal> {
	mbds_client::keys::parse_account(&format!("field `{field}`"), s)
		.map_err(|e| refuse(400, "bad-request", false, e))
}

/// The JSON type a payload field must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
	/// A string.
	Text,
	/// An unsigned 64-bit integer.
	Number,
	/// A nested [`Signed`] object.
	Signed,
}

impl Kind {
	fn name(self) -> &'static str {
		match self {
			Kind::Text => "a string",
			Kind::Number => "an unsigned 64-bit integer",
			Kind::Signed => "a signed object (signer, payload, signature)",
		}
	}
}

/// A request payload: its fields and their JSON types, so that a malformed payload is refused
/// naming the field at fault (serde's own message only gives a line and column).
pub(crate) trait Payload: serde::de::DeserializeOwned {
	/// Every field, in order.
	const FIELDS: &'static [(&'static str, Kind)];
}

impl Payload for KfragUpload {
	const FIELDS: &'static [(&'static str, Kind)] = &[
		("proxy", Kind::Text),
		("patient", Kind::Text),
		("grantee", Kind::Text),
		("verifying_key", Kind::Text),
		("sealed_kfrag", Kind::Text),
		("certificate", Kind::Signed),
		("issued_at", Kind::Number),
	];
}

impl Payload for SearchRequest {
	const FIELDS: &'static [(&'static str, Kind)] = &[
		("proxy", Kind::Text),
		("patient", Kind::Text),
		("trapdoor", Kind::Text),
		("issued_at", Kind::Number),
		("search_signature", Kind::Text),
	];
}

impl Payload for ReencryptRequest {
	const FIELDS: &'static [(&'static str, Kind)] = &[
		("proxy", Kind::Text),
		("patient", Kind::Text),
		("record_hash", Kind::Text),
		("issued_at", Kind::Number),
		("access_signature", Kind::Text),
	];
}

fn json_type(v: &serde_json::Value) -> &'static str {
	use serde_json::Value;
	match v {
		Value::Null => "null",
		Value::Bool(_) => "a boolean",
		Value::Number(n) if n.is_u64() => "an unsigned integer",
		Value::Number(_) => "a number that is not an unsigned 64-bit integer",
		Value::String(_) => "a string",
		Value::Array(_) => "an array",
		Value::Object(_) => "an object",
	}
}

/// Decodes a signed request's payload (its signature already checked); errors name the field.
pub(crate) fn parse_payload<T: Payload>(payload: &str) -> Result<T, String> {
	use serde_json::Value;
	let names = || T::FIELDS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ");
	let v: Value =
		serde_json::from_str(payload).map_err(|e| format!("field `payload`: not JSON: {e}"))?;
	let Value::Object(map) = &v else {
		return Err(format!(
			"field `payload`: {}, expected an object with fields {}",
			json_type(&v),
			names()
		));
	};
	if let Some(k) = map.keys().find(|k| !T::FIELDS.iter().any(|(n, _)| n == k)) {
		return Err(format!(
			"field `payload`: unknown field {k:?} for this endpoint (its fields: {})",
			names()
		));
	}
	for (name, kind) in T::FIELDS {
		let value = map.get(*name).ok_or_else(|| {
			format!("field `payload`: field `{name}` missing (this endpoint needs {})", names())
		})?;
		let ok = match kind {
			Kind::Text => value.is_string(),
			Kind::Number => value.is_u64(),
			Kind::Signed => serde_json::from_value::<Signed>(value.clone())
				.map_err(|e| format!("field `{name}`: not {}: {e}", kind.name()))
				.map(|_| true)?,
		};
		if !ok {
			return Err(format!("field `{name}`: {}, expected {}", json_type(value), kind.name()));
		}
	}
	serde_json::from_value(v).map_err(|e| format!("field `payload`: {e}"))
}

/// A request body: the signed envelope, its signer (signature checked) and its payload.
/// Refused 400 if the body or the payload is malformed, 401 if the signature is not the
/// signer's.
pub(crate) fn parse_signed<T: Payload>(body: &str) -> Result<(Signed, AccountId, T), Refusal> {
	let signed: Signed = serde_json::from_str(body).map_err(|e| {
		refuse(
			400,
			"bad-request",
			false,
			format!("body is not a signed request (signer, payload, signature): {e}"),
		)
	})?;
	let (signer, _) = signed.open::<serde_json::Value>().map_err(|e| match e {
		mbds_client::Error::Invalid { ref what, .. } if what == "payload" => {
			refuse(400, "bad-request", false, e.to_string())
		}
		e => refuse(401, "bad-signature", false, e.to_string()),
	})?;
	let payload =
		parse_payload::<T>(&signed.payload).map_err(|e| refuse(400, "bad-request", false, e))?;
	Ok((signed, signer, payload))
}

/// The accounts of a key fragment upload: patient and grantee.
pub(crate) fn parse_kfrag_accounts(up: &KfragUpload) -> Result<(AccountId, AccountId), Refusal> {
	Ok((parse_account("patient", &up.patient)?, parse_account("grantee", &up.grantee)?))
}

/// What a search request's `trapdoor` holds.
pub(crate) enum SearchQuery {
	/// A patient's search permission: tokens for the searchable index, sealed to this proxy,
	/// and a dPEKS trapdoor for items anchored without labels, if the patient has any.
	Index(mbds_client::search::SearchPermission),
	/// A conjunctive dPEKS trapdoor alone (a client from before the index): tested on every
	/// item of the patient.
	Legacy(ConjunctiveTrapdoor),
}

/// The fields of a search request: the patient and the trapdoor (its bytes and decoded).
pub(crate) fn parse_search(
	req: &SearchRequest,
) -> Result<(AccountId, Vec<u8>, SearchQuery), Refusal> {
	let patient = parse_account("patient", &req.patient)?;
	let bytes =
		hex_field("trapdoor", &req.trapdoor).map_err(|e| refuse(400, "bad-request", false, e))?;
	let bad = |e: String| refuse(400, "bad-request", false, format!("field `trapdoor`: {e}"));
	let query = match mbds_client::search::SearchPermission::from_bytes(&bytes).map_err(bad)? {
		Some(permission) => SearchQuery::Index(permission),
		None => SearchQuery::Legacy(
			ConjunctiveTrapdoor::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?,
		),
	};
	Ok((patient, bytes, query))
}

/// The fields of a re-encryption request: the patient and the record hash.
pub(crate) fn parse_reencrypt(req: &ReencryptRequest) -> Result<(AccountId, H256), Refusal> {
	let patient = parse_account("patient", &req.patient)?;
	let hash = chain::parse_hash("field `record_hash`", &req.record_hash)
		.map_err(|e| refuse(400, "bad-request", false, e))?;
	Ok((patient, hash))
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
	/// When it was queued.
	queued_at: Instant,
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

/// The metrics in Prometheus' text format.
fn metrics_reply(proxy: &Proxy) -> Reply {
	hyper::Response::builder()
		.status(200)
		.header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		.body(http_body_util::Full::new(Bytes::from(proxy.metrics_text())))
		.expect("a valid status and header")
}

/// A refusal by the front (never reaches a worker), counted in the metrics.
fn refusal(proxy: &Proxy, route: &str, status: u16, code: &str, error: impl Into<String>) -> Reply {
	let body = ErrorBody { code: code.into(), error: error.into(), audited: false };
	proxy.metrics.answered(route, status, Some(code));
	tracing::debug!(
		target: "mbds-proxy::front",
		route,
		status,
		code,
		"refused by the front: {}",
		body.error
	);
	reply(status, &serde_json::to_value(body).expect("json"))
}

/// What the async front shares between connections.
struct Front {
	proxy: Arc<Proxy>,
	workers: usize,
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

/// An open connection, counted in the `connections_open` gauge until dropped.
struct OpenConnection(prometheus::IntGauge);

impl OpenConnection {
	fn new(gauge: &prometheus::IntGauge) -> Self {
		gauge.inc();
		OpenConnection(gauge.clone())
	}
}

impl Drop for OpenConnection {
	fn drop(&mut self) {
		self.0.dec();
	}
}

/// One request: health, readiness and metrics (to loopback clients) answered here; anything
/// else read (bounded in time and size) and queued for a worker.
async fn route(
	front: Arc<Front>,
	peer: std::net::SocketAddr,
	req: hyper::Request<hyper::body::Incoming>,
) -> Result<Reply, std::convert::Infallible> {
	use http_body_util::BodyExt;
	let method = req.method().as_str().to_string();
	let path = req.uri().path().to_string();
	let label = route_label(&path);
	let proxy = &front.proxy;
	match (method.as_str(), path.as_str()) {
		("GET", "/v1/health") => {
			let p = proxy.clone();
			return Ok(match tokio::task::spawn_blocking(move || p.health()).await {
				Ok(h) => {
					proxy.metrics.answered(label, 200, None);
					reply(200, &serde_json::to_value(h).expect("json"))
				}
				Err(e) => refusal(proxy, label, 500, "internal", format!("health: {e}")),
			});
		}
		("GET", "/v1/ready") => {
			let queued = front.queued.load(Ordering::SeqCst);
			proxy.metrics.answered(label, 200, None);
			return Ok(reply(
				200,
				&serde_json::json!({"ready": true, "queued": queued, "workers": front.workers, "queue": QUEUE}),
			));
		}
		// Metrics to this host only (`--metrics-listen` serves them elsewhere); to anyone else
		// this endpoint does not exist, as before.
		("GET", "/metrics") => {
			return Ok(if peer.ip().to_canonical().is_loopback() {
				proxy.metrics.answered(label, 200, None);
				metrics_reply(proxy)
			} else {
				refusal(
					proxy,
					label,
					404,
					"bad-request",
					"no endpoint GET /metrics for remote clients; see GET /v1/health, POST /v1/kfrag, /v1/search, /v1/reencrypt",
				)
			});
		}
		_ => {}
	}
	let declared = req
		.headers()
		.get(hyper::header::CONTENT_LENGTH)
		.and_then(|v| v.to_str().ok())
		.and_then(|v| v.parse::<u64>().ok());
	if declared.is_some_and(|n| n > MAX_BODY) {
		return Ok(refusal(proxy, label, 413, "bad-request", "body larger than 1 MiB"));
	}
	let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY as usize);
	let body = match tokio::time::timeout(BODY_TIMEOUT, limited.collect()).await {
		Err(_) => {
			return Ok(refusal(
				proxy,
				label,
				408,
				"bad-request",
				format!("the request body did not arrive within {} s", BODY_TIMEOUT.as_secs()),
			))
		}
		Ok(Err(e)) => {
			return Ok(refusal(
				proxy,
				label,
				413,
				"bad-request",
				format!("reading the body: {e} (at most 1 MiB)"),
			))
		}
		Ok(Ok(collected)) => collected.to_bytes(),
	};
	let Ok(body) = String::from_utf8(body.to_vec()) else {
		return Ok(refusal(proxy, label, 400, "bad-request", "body is not UTF-8 text"));
	};
	let (tx, rx) = tokio::sync::oneshot::channel();
	front.queued.fetch_add(1, Ordering::SeqCst);
	proxy.metrics.queue_depth.inc();
	let job = Job { method, path, body, queued_at: Instant::now(), reply: tx };
	if front.jobs.try_send(job).is_err() {
		front.queued.fetch_sub(1, Ordering::SeqCst);
		proxy.metrics.queue_depth.dec();
		return Ok(refusal(
			proxy,
			label,
			503,
			"busy",
			format!("this proxy is serving {} requests with {QUEUE} waiting; try again shortly or ask another proxy", front.workers),
		));
	}
	Ok(match rx.await {
		Ok((status, value)) => reply(status, &value),
		Err(_) => refusal(proxy, label, 500, "internal", "the worker serving this request stopped"),
	})
}

/// Serves the metrics over plain HTTP on `listener` (only `GET /metrics`), until the runtime
/// stops.
async fn serve_metrics(proxy: Arc<Proxy>, listener: tokio::net::TcpListener) {
	loop {
		let stream = match listener.accept().await {
			Ok((stream, _)) => stream,
			Err(e) => {
				tracing::warn!(target: "mbds-proxy::front", "accepting a metrics connection: {e}");
				continue;
			}
		};
		let proxy = proxy.clone();
		tokio::spawn(async move {
			let service = hyper::service::service_fn(move |req: hyper::Request<_>| {
				let proxy = proxy.clone();
				async move {
					Ok::<_, std::convert::Infallible>(
						match (req.method().as_str(), req.uri().path()) {
							("GET", "/metrics") => metrics_reply(&proxy),
							_ => reply(
								404,
								&serde_json::to_value(ErrorBody {
									code: "bad-request".into(),
									error: "this listener serves GET /metrics only".into(),
									audited: false,
								})
								.expect("json"),
							),
						},
					)
				}
			});
			let connection = hyper::server::conn::http1::Builder::new()
				.timer(hyper_util::rt::TokioTimer::new())
				.header_read_timeout(HEADER_TIMEOUT)
				.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
			let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
		});
	}
}

/// Serves HTTPS on `listen` until `stop` is set: an async front with timeouts and limits, and
/// `workers` threads (default [`WORKERS`]; 1 serves one request at a time) running
/// [`Proxy::handle`]. With `metrics_listen`, also serves `GET /metrics` over plain HTTP there.
pub fn serve(
	proxy: Arc<Proxy>,
	listen: &str,
	metrics_listen: Option<&str>,
	workers: usize,
	stop: Arc<AtomicBool>,
) -> Result<(), String> {
	if workers == 0 {
		return Err("at least one worker thread is needed".into());
	}
	proxy.metrics.workers.set(workers as i64);
	let rt = tokio::runtime::Builder::new_multi_thread()
		.worker_threads(2)
		.thread_name("proxy-http")
		.enable_all()
		.build()
		.map_err(|e| format!("starting the HTTP runtime: {e}"))?;
	let listener = rt
		.block_on(tokio::net::TcpListener::bind(listen))
		.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
	if let Some(addr) = metrics_listen {
		let metrics_listener = rt
			.block_on(tokio::net::TcpListener::bind(addr))
			.map_err(|e| format!("--metrics-listen: cannot listen on {addr}: {e}"))?;
		tracing::info!(
			target: "mbds-proxy::front",
			proxy = %short(proxy.account()),
			"metrics on http://{addr}/metrics"
		);
		rt.spawn(serve_metrics(proxy.clone(), metrics_listener));
	}
	let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(QUEUE);
	let queue = Arc::new(Mutex::new(queue));
	let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
	let mut threads = Vec::new();
	for i in 0..workers {
		let (proxy, queue, queued) = (proxy.clone(), queue.clone(), queued.clone());
		let worker = std::thread::Builder::new()
			.name(format!("proxy-worker-{i}"))
			.spawn(move || loop {
				let job = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
				let Ok(job) = job else { return };
				queued.fetch_sub(1, Ordering::SeqCst);
				let metrics = &proxy.metrics;
				metrics.queue_depth.dec();
				metrics.queue_wait.observe(job.queued_at.elapsed().as_secs_f64());
				metrics.workers_busy.inc();
				let answer = proxy.handle(&job.method, &job.path, &job.body);
				metrics.workers_busy.dec();
				let _ = job.reply.send(answer);
			})
			.map_err(|e| format!("starting worker thread {i}: {e}"))?;
		threads.push(worker);
	}
	let acceptor = tokio_rustls::TlsAcceptor::from(proxy.tls.server_config()?);
	tracing::info!(
		target: "mbds-proxy::front",
		proxy = %short(proxy.account()),
		"listening on https://{listen} (TLS certificate SHA-256 0x{}, bound to its account)",
		hex::encode(proxy.tls.certificate_sha256)
	);
	let front = Arc::new(Front { proxy: proxy.clone(), workers, jobs, queued });
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
					tracing::warn!(
						target: "mbds-proxy::front",
						proxy = %short(proxy.account()),
						"accepting a connection: {e}"
					);
					continue;
				},
			};
			let Ok(permit) = connections.clone().try_acquire_owned() else {
				proxy.metrics.connection_refused("max-connections");
				tracing::debug!(target: "mbds-proxy::front", %peer, "closed on accept: {MAX_CONNECTIONS} connections open");
				drop(stream);
				continue;
			};
			let Some(per_ip) = PerIp::take(&per_ip, peer.ip()) else {
				proxy.metrics.connection_refused("per-ip");
				tracing::debug!(target: "mbds-proxy::front", %peer, "closed on accept: {MAX_CONNECTIONS_PER_IP} connections open from its address");
				drop(stream);
				continue;
			};
			let open = OpenConnection::new(&proxy.metrics.connections_open);
			let (front, acceptor) = (front.clone(), acceptor.clone());
			tokio::spawn(async move {
				let (_permit, _per_ip, _open) = (permit, per_ip, open);
				// A client that does not finish its TLS handshake in time is dropped.
				let stream =
					match tokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(stream)).await {
						Ok(Ok(stream)) => stream,
						_ => return,
					};
				let service =
					hyper::service::service_fn(move |req| route(front.clone(), peer, req));
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
	for w in threads {
		let _ = w.join();
	}
	tracing::info!(target: "mbds-proxy::front", proxy = %short(proxy.account()), "stopped");
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

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "fuzz_tests.rs"]
mod fuzz_tests;
