//! Unit tests of [`Proxy::handle`] against an in-memory consortium ([`Fake`]): every refusal
//! (its HTTP status, its `code` and how many audit transactions the proxy sent), the success
//! paths with real keys, fragments, trapdoors and records, and the metrics text. No network,
//! no node.

use super::*;
use crate::consortium::{Consortium, RecordError, Recorded};
use mbds_client::SearchKey;
use mbds_crypto::{generate_key_fragments, CapsuleFragment, Keyword};
use mbds_primitives::consent::{AccessTarget, RecordId};
use mbds_runtime::Runtime;
use pallet_kmc::{KeySetOf, ParticipantOf, ParticipantStatus};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use std::sync::Condvar;

/// The proxy's clock in these tests: a fixed time, in the middle of a minute (the per-minute
/// rate window never turns over during a test).
const NOW: u64 = 1_800_000_030_000;

fn fixed_now() -> u64 {
	NOW
}

/// The finalised block the fake consortium reports.
const FINAL: (H256, u32) = (H256::repeat_byte(0xf1), 100);

/// What [`Fake::record`] does with the next transactions.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Outcome {
	/// On record, final; the chain decides from the fake's consent.
	Final,
	NotRecorded,
	NotFinal,
	Forked,
	/// On record, but a search does not count (the user exceeded the access rate).
	Suspended,
}

struct State {
	participants: HashMap<AccountId, ParticipantOf<Runtime>>,
	keys: HashMap<AccountId, KeySetOf<Runtime>>,
	summaries: HashMap<AccountId, Vec<chain::Summary>>,
	/// (patient, user, record) the consent allows to read.
	allowed: HashSet<(AccountId, AccountId, H256)>,
	/// Every call fails (the node is unreachable).
	down: bool,
	outcome: Outcome,
	/// Blocks reads may name: the finalised one and the blocks that recorded something.
	known: HashSet<H256>,
	/// [`Fake::record`] waits while this is set.
	hold: bool,
}

/// An in-memory consortium.
struct Fake {
	state: Mutex<State>,
	released: Condvar,
	/// Transactions submitted, in order.
	recorded: Mutex<Vec<RuntimeCall>>,
	/// Calls of [`Fake::record`] waiting on `hold`.
	waiting: AtomicUsize,
	/// Index labels looked up.
	lookups: AtomicUsize,
}

impl Fake {
	fn new() -> Arc<Fake> {
		Arc::new(Fake {
			state: Mutex::new(State {
				participants: Default::default(),
				keys: Default::default(),
				summaries: Default::default(),
				allowed: Default::default(),
				down: false,
				outcome: Outcome::Final,
				known: [FINAL.0].into_iter().collect(),
				hold: false,
			}),
			released: Condvar::new(),
			recorded: Mutex::new(Vec::new()),
			waiting: AtomicUsize::new(0),
			lookups: AtomicUsize::new(0),
		})
	}

	fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
		f(&mut self.state.lock().unwrap())
	}

	fn register(&self, keys: &ParticipantKeys, role: Role<AccountId>, search: SearchKey) {
		let info = pallet_kmc::ParticipantInfo {
			role,
			identity: H256::zero(),
			status: ParticipantStatus::Active,
			registered_at: 1,
			key_version: 0,
			keys_since: 1,
		};
		self.with(|s| {
			s.participants.insert(keys.account(), info);
			s.keys.insert(keys.account(), keys.key_set(search));
		});
	}

	fn allow(&self, patient: &AccountId, user: &AccountId, record: H256) {
		self.with(|s| s.allowed.insert((patient.clone(), user.clone(), record)));
	}

	fn transactions(&self) -> usize {
		self.recorded.lock().unwrap().len()
	}

	/// Fails unless reads are at a block the fake told the proxy about.
	fn at(&self, at: H256) -> Result<std::sync::MutexGuard<'_, State>, String> {
		let s = self.state.lock().unwrap();
		if s.down {
			return Err("http://fake:9944: connection refused".into());
		}
		if !s.known.contains(&at) {
			return Err(format!("read at {at:?}, a block that is not final"));
		}
		Ok(s)
	}
}

impl Consortium for Fake {
	fn describe(&self) -> String {
		"http://fake:9944".into()
	}

	fn finalized(&self) -> Result<(H256, u32), String> {
		if self.state.lock().unwrap().down {
			return Err("http://fake:9944: connection refused".into());
		}
		Ok(FINAL)
	}

	fn participant(
		&self,
		who: &AccountId,
		at: H256,
	) -> Result<Option<ParticipantOf<Runtime>>, String> {
		Ok(self.at(at)?.participants.get(who).cloned())
	}

	fn key_set(&self, who: &AccountId, at: H256) -> Result<Option<KeySetOf<Runtime>>, String> {
		Ok(self.at(at)?.keys.get(who).cloned())
	}

	fn summaries(&self, patient: &AccountId, at: H256) -> Result<Vec<chain::Summary>, String> {
		Ok(self.at(at)?.summaries.get(patient).cloned().unwrap_or_default())
	}

	fn lookup_labels(
		&self,
		patient: &AccountId,
		labels: &[[u8; 32]],
		at: H256,
	) -> Result<Vec<Vec<chain::Summary>>, String> {
		let state = self.at(at)?;
		let items = state.summaries.get(patient).cloned().unwrap_or_default();
		self.lookups.fetch_add(labels.len(), Ordering::SeqCst);
		Ok(labels
			.iter()
			.map(|l| {
				items
					.iter()
					.filter(|s| {
						mbds_primitives::index_label_in(&s.item.encrypted_keyword) == Some(*l)
					})
					.take(1)
					.cloned()
					.collect()
			})
			.collect())
	}

	fn unindexed_count(&self, patient: &AccountId, at: H256) -> Result<u32, String> {
		let state = self.at(at)?;
		let items = state.summaries.get(patient).cloned().unwrap_or_default();
		Ok(items
			.iter()
			.filter(|s| mbds_primitives::index_label_in(&s.item.encrypted_keyword).is_none())
			.count() as u32)
	}

	fn may_access(
		&self,
		patient: &AccountId,
		user: &AccountId,
		record: H256,
		action: Action,
		_now_ms: u64,
		at: H256,
	) -> Result<bool, String> {
		assert_eq!(action, Action::Read);
		Ok(self.at(at)?.allowed.contains(&(patient.clone(), user.clone(), record)))
	}

	fn record(
		&self,
		call: RuntimeCall,
		_signer: &sr25519::Pair,
		_timeout: Duration,
	) -> Result<Recorded, RecordError> {
		let mut s = self.state.lock().unwrap();
		if s.down {
			return Err(RecordError::NotRecorded("connection refused".into()));
		}
		self.recorded.lock().unwrap().push(call.clone());
		self.waiting.fetch_add(1, Ordering::SeqCst);
		while s.hold {
			s = self.released.wait(s).unwrap();
		}
		self.waiting.fetch_sub(1, Ordering::SeqCst);
		let n = self.recorded.lock().unwrap().len() as u32;
		let number = FINAL.1 + n;
		let block = H256::from_low_u64_be(number as u64);
		match s.outcome {
			Outcome::NotRecorded => return Err(RecordError::NotRecorded("pool full".into())),
			Outcome::NotFinal => return Err(RecordError::NotFinal("timed out".into())),
			Outcome::Forked => return Err(RecordError::Forked { number }),
			Outcome::Final | Outcome::Suspended => {}
		}
		let proxy = AccountId::from([0u8; 32]);
		let event = match call {
			RuntimeCall::Consent(pallet_consent::Call::record_access {
				user, statement, ..
			}) => {
				let AccessTarget::Record { id: RecordId::Hash(record), .. } = statement.target
				else {
					panic!("the proxy records reads of one record")
				};
				let allowed =
					s.allowed.contains(&(statement.patient.clone(), user.clone(), record));
				pallet_consent::Event::<Runtime>::AccessRecorded {
					patient: statement.patient,
					user,
					proxy,
					allowed,
				}
			}
			RuntimeCall::Consent(pallet_consent::Call::record_search {
				user,
				statement,
				results,
				..
			}) => pallet_consent::Event::<Runtime>::SearchRecorded {
				patient: statement.patient,
				user,
				proxy,
				results,
				counted: s.outcome != Outcome::Suspended,
			},
			other => panic!("unexpected transaction {other:?}"),
		};
		s.known.insert(block);
		Ok(Recorded { block, number, events: vec![RuntimeEvent::Consent(event)] })
	}
}

/// A proxy over a [`Fake`] consortium with a patient, a doctor (grantee), a hospital, and one
/// record of the patient anchored (keyword `KEYWORD`) and stored.
struct Fixture {
	fake: Arc<Fake>,
	proxy: Arc<Proxy>,
	proxy_keys: ParticipantKeys,
	patient: ParticipantKeys,
	doctor: ParticipantKeys,
	hospital: ParticipantKeys,
	store: ReplicatedStore,
	record: H256,
	envelope: RecordEnvelope,
	_dir: tempfile::TempDir,
}

const KEYWORD: &str = "http://hl7.org/fhir/sid/icd-10|E11.9";
const PLAINTEXT: &[u8] = b"{\"resourceType\":\"Condition\"}";

fn keyword() -> Keyword {
	Keyword::parse(KEYWORD).unwrap()
}

fn fixture() -> Fixture {
	let dir = tempfile::tempdir().unwrap();
	let fake = Fake::new();
	let proxy_keys = ParticipantKeys::from_seed([1; 32]);
	let patient = ParticipantKeys::from_seed([2; 32]);
	let doctor = ParticipantKeys::from_seed([3; 32]);
	let hospital = ParticipantKeys::from_seed([4; 32]);
	fake.register(
		&proxy_keys,
		Role::Institution(InstitutionKind::HealthAuthority),
		SearchKey::Tester,
	);
	fake.register(&patient, Role::Patient, SearchKey::Receiver);
	fake.register(&hospital, Role::Institution(InstitutionKind::Hospital), SearchKey::Receiver);
	fake.register(&doctor, Role::Doctor { institution: hospital.account() }, SearchKey::Receiver);
	let store_dir = dir.path().join("store");
	std::fs::create_dir_all(&store_dir).unwrap();
	let store = mbds_client::open_stores(&[store_dir.display().to_string()]).unwrap();
	let envelope =
		RecordEnvelope::seal(&patient.record_key().public_key(), b"record-1", 1, PLAINTEXT)
			.unwrap();
	let address = put_blocking(&store, envelope.to_bytes()).unwrap();
	let record = H256(*address.as_bytes());
	anchor(&fake, &patient, &proxy_keys, record, 0);
	let state = dir.path().join("state");
	let mut proxy = Proxy::new(
		ParticipantKeys::from_seed([1; 32]),
		fake.clone(),
		mbds_client::open_stores(&[store_dir.display().to_string()]).unwrap(),
		&state,
	)
	.unwrap();
	proxy.clock = fixed_now;
	Fixture {
		fake,
		proxy: Arc::new(proxy),
		proxy_keys,
		patient,
		doctor,
		hospital,
		store,
		record,
		envelope,
		_dir: dir,
	}
}

/// Anchors a summary of `record` for `patient` with [`KEYWORD`] encrypted for the proxy.
fn anchor(fake: &Fake, patient: &ParticipantKeys, proxy: &ParticipantKeys, record: H256, n: u32) {
	let kw = EncryptedKeyword::encrypt(
		&patient.peks().public_key(),
		&proxy.tester().public_key(),
		&keyword(),
	);
	anchor_item(fake, patient, kw.to_bytes(), record, n);
}

/// Anchors record `record` of `patient` at position `n` (slip `n` of chain 1) with `keyword`
/// (its bytes on the item).
fn anchor_item(fake: &Fake, patient: &ParticipantKeys, keyword: Vec<u8>, record: H256, n: u32) {
	let summary = chain::Summary {
		item: pallet_slips::SummaryItem {
			patient: patient.account(),
			encrypted_keyword: keyword.try_into().unwrap(),
			record_hash: record,
			categories: Default::default(),
			chain_id: 1,
			block_number: 5 + n,
			slip_id: n as u64,
		},
		slip: n as u64,
		batch_id: 0,
		anchored_at: 10 + n,
		position: n,
	};
	fake.with(|s| s.summaries.entry(patient.account()).or_default().push(summary));
}

/// Anchors record `record` of `patient` at position `n` with the index label of the
/// patient's `counter`-th record with `keyword`.
fn anchor_labelled(
	fake: &Fake,
	patient: &ParticipantKeys,
	keyword: &Keyword,
	counter: u64,
	record: H256,
	n: u32,
) {
	let label = patient.index_key().token(keyword).label(counter);
	anchor_item(fake, patient, mbds_primitives::index_label_keyword(&label).to_vec(), record, n);
}

/// A signed search request of `user` carrying `trapdoor` (its bytes).
fn search_with(f: &Fixture, user: &ParticipantKeys, trapdoor: &[u8], issued_at: u64) -> String {
	let statement =
		search_statement(&f.proxy_keys.account(), &f.patient.account(), trapdoor, issued_at);
	let req = SearchRequest {
		proxy: f.me(),
		patient: f.patient.ss58(),
		trapdoor: hex0x(trapdoor),
		issued_at,
		search_signature: sign_search(&user.pair(), &statement),
	};
	serde_json::to_string(&Signed::sign(&user.pair(), &req)).unwrap()
}

fn hex0x(b: &[u8]) -> String {
	format!("0x{}", hex::encode(b))
}

impl Fixture {
	fn me(&self) -> String {
		self.proxy_keys.ss58()
	}

	fn call(&self, path: &str, body: &str) -> (u16, Value) {
		self.proxy.handle("POST", path, body)
	}

	/// `patient`'s upload of a key fragment for `grantee` (made for `grantee_key`), the
	/// certificate issued at `shared_at`, the request at `issued_at`.
	fn upload_for(
		&self,
		grantee: &ParticipantKeys,
		grantee_key: &PrePublicKey,
		shared_at: u64,
		issued_at: u64,
	) -> String {
		let crypto = self.patient.crypto();
		let verifying_key = hex0x(&crypto.signing.verifying_key().to_bytes());
		let kfrag =
			generate_key_fragments(&self.patient.record_key(), &crypto.signing, grantee_key, 1, 1)
				.unwrap()
				.remove(0);
		let sealed = kfrag.seal_to(&self.proxy_keys.record_key().public_key()).unwrap();
		let certificate = Signed::sign(
			&self.patient.pair(),
			&KfragCertificate {
				proxy: self.me(),
				patient: self.patient.ss58(),
				grantee: grantee.ss58(),
				verifying_key: verifying_key.clone(),
				issued_at: shared_at,
			},
		);
		let up = KfragUpload {
			proxy: self.me(),
			patient: self.patient.ss58(),
			grantee: grantee.ss58(),
			verifying_key,
			sealed_kfrag: hex0x(&sealed.to_bytes()),
			certificate,
			issued_at,
		};
		serde_json::to_string(&Signed::sign(&self.patient.pair(), &up)).unwrap()
	}

	fn upload(&self, grantee: &ParticipantKeys, issued_at: u64) -> String {
		self.upload_for(grantee, &grantee.record_key().public_key(), NOW - 1000, issued_at)
	}

	/// Stores a fragment of the patient for `grantee` (asserting it was taken).
	fn share(&self, grantee: &ParticipantKeys) {
		let (status, body) = self.call("/v1/kfrag", &self.upload(grantee, NOW - 7));
		assert_eq!(status, 200, "{body}");
	}

	/// `user`'s search of the patient's records for [`KEYWORD`].
	fn search(&self, user: &ParticipantKeys, issued_at: u64) -> String {
		let trapdoor = self
			.patient
			.peks()
			.conjunctive_trapdoor(&self.proxy_keys.tester().public_key(), &[keyword()])
			.unwrap()
			.to_bytes();
		let statement = search_statement(
			&self.proxy_keys.account(),
			&self.patient.account(),
			&trapdoor,
			issued_at,
		);
		let req = SearchRequest {
			proxy: self.me(),
			patient: self.patient.ss58(),
			trapdoor: hex0x(&trapdoor),
			issued_at,
			search_signature: sign_search(&user.pair(), &statement),
		};
		serde_json::to_string(&Signed::sign(&user.pair(), &req)).unwrap()
	}

	/// `user`'s request to re-encrypt `record` of the patient.
	fn reencrypt_of(&self, user: &ParticipantKeys, record: H256, issued_at: u64) -> String {
		let statement =
			read_statement(&self.proxy_keys.account(), &self.patient.account(), record, issued_at);
		let req = ReencryptRequest {
			proxy: self.me(),
			patient: self.patient.ss58(),
			record_hash: chain::hash_hex(&record),
			issued_at,
			access_signature: sign_statement(&user.pair(), &statement),
		};
		serde_json::to_string(&Signed::sign(&user.pair(), &req)).unwrap()
	}

	fn reencrypt(&self, user: &ParticipantKeys, issued_at: u64) -> String {
		self.reencrypt_of(user, self.record, issued_at)
	}

	/// Asserts a refusal: status, code, whether audited, and the transactions sent so far.
	fn refused(&self, (status, body): (u16, Value), want: u16, code: &str, transactions: usize) {
		assert_eq!((status, body["code"].as_str()), (want, Some(code)), "{body}");
		assert_eq!(body["audited"], Value::Bool(code == "denied" && status != 503), "{body}");
		assert_eq!(self.fake.transactions(), transactions, "transactions sent; {body}");
	}
}

fn outsider() -> ParticipantKeys {
	ParticipantKeys::from_seed([9; 32])
}

// ---- requests refused before anything is read -------------------------------------------

#[test]
fn unknown_endpoint_is_404_bad_request() {
	let f = fixture();
	f.refused(f.proxy.handle("GET", "/v1/records", ""), 404, "bad-request", 0);
	f.refused(f.proxy.handle("POST", "/v1/health", "{}"), 404, "bad-request", 0);
}

#[test]
fn malformed_body_is_400_bad_request() {
	let f = fixture();
	f.refused(f.call("/v1/reencrypt", "not json"), 400, "bad-request", 0);
	f.refused(f.call("/v1/search", "{\"signer\":1}"), 400, "bad-request", 0);
	// A valid envelope around a payload that is not a search request: the signature is
	// fine, the payload is malformed (400, naming the missing field; it was 401 before).
	let signed = Signed::sign(&f.doctor.pair(), &serde_json::json!({"proxy": f.me()}));
	let (status, body) = f.call("/v1/search", &serde_json::to_string(&signed).unwrap());
	assert!(body["error"].as_str().unwrap().contains("field `patient` missing"), "{body}");
	f.refused((status, body), 400, "bad-request", 0);
}

#[test]
fn bad_request_signature_is_401() {
	let f = fixture();
	let mut signed: Signed = serde_json::from_str(&f.reencrypt(&f.doctor, NOW)).unwrap();
	signed.payload = signed.payload.replace(&f.patient.ss58(), &f.doctor.ss58());
	f.refused(
		f.call("/v1/reencrypt", &serde_json::to_string(&signed).unwrap()),
		401,
		"bad-signature",
		0,
	);
	let mut other: Signed = serde_json::from_str(&f.reencrypt(&f.doctor, NOW)).unwrap();
	other.signer = f.patient.ss58();
	f.refused(
		f.call("/v1/reencrypt", &serde_json::to_string(&other).unwrap()),
		401,
		"bad-signature",
		0,
	);
}

#[test]
fn request_for_another_proxy_is_400_wrong_proxy() {
	let f = fixture();
	let req = ReencryptRequest {
		proxy: f.patient.ss58(),
		patient: f.patient.ss58(),
		record_hash: chain::hash_hex(&f.record),
		issued_at: NOW,
		access_signature: "0x00".into(),
	};
	let body = serde_json::to_string(&Signed::sign(&f.doctor.pair(), &req)).unwrap();
	f.refused(f.call("/v1/reencrypt", &body), 400, "wrong-proxy", 0);
}

#[test]
fn stale_or_future_statement_is_400_stale_request() {
	let f = fixture();
	f.refused(
		f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW - MAX_REQUEST_AGE_MS - 1)),
		400,
		"stale-request",
		0,
	);
	f.refused(
		f.call("/v1/search", &f.search(&f.doctor, NOW + MAX_REQUEST_AGE_MS + 1)),
		400,
		"stale-request",
		0,
	);
}

#[test]
fn unregistered_or_suspended_signer_is_403_unknown_participant() {
	let f = fixture();
	f.refused(f.call("/v1/search", &f.search(&outsider(), NOW)), 403, "unknown-participant", 0);
	f.fake.with(|s| {
		s.participants.get_mut(&f.doctor.account()).unwrap().status = ParticipantStatus::Suspended
	});
	let (status, body) = f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW));
	assert!(body["error"].as_str().unwrap().contains("suspended"), "{body}");
	f.refused((status, body), 403, "unknown-participant", 0);
}

#[test]
fn chain_unavailable_is_503_chain() {
	let f = fixture();
	f.fake.with(|s| s.down = true);
	f.refused(f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW)), 503, "chain", 0);
	f.refused(f.call("/v1/search", &f.search(&f.doctor, NOW)), 503, "chain", 0);
	f.refused(f.call("/v1/kfrag", &f.upload(&f.doctor, NOW)), 503, "chain", 0);
}

#[test]
fn replayed_request_is_409_and_not_served_twice() {
	let f = fixture();
	let other = H256::repeat_byte(7);
	let body = f.reencrypt_of(&f.doctor, other, NOW);
	f.refused(f.call("/v1/reencrypt", &body), 404, "not-anchored", 0);
	f.refused(f.call("/v1/reencrypt", &body), 409, "replayed-request", 0);
	// Also after a request that was served and audited: no second transaction.
	f.share(&f.doctor);
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	let body = f.reencrypt(&f.doctor, NOW + 1);
	assert_eq!(f.call("/v1/reencrypt", &body).0, 200);
	f.refused(f.call("/v1/reencrypt", &body), 409, "replayed-request", 1);
}

#[test]
fn more_than_the_per_minute_rate_is_429_rate_limited() {
	let f = fixture();
	for i in 0..MAX_REQUESTS_PER_MINUTE as u64 {
		// Each refused after the rate count (a bad trapdoor), with no transaction.
		let req = SearchRequest {
			proxy: f.me(),
			patient: f.patient.ss58(),
			trapdoor: "0xzz".into(),
			issued_at: NOW - i,
			search_signature: "0x".into(),
		};
		let body = serde_json::to_string(&Signed::sign(&f.doctor.pair(), &req)).unwrap();
		f.refused(f.call("/v1/search", &body), 400, "bad-request", 0);
	}
	f.refused(f.call("/v1/search", &f.search(&f.doctor, NOW)), 429, "rate-limited", 0);
	// Another signer is not held back.
	let (status, body) = f.call("/v1/search", &f.search(&f.patient, NOW));
	assert_eq!(status, 200, "{body}");
	assert_eq!(f.fake.transactions(), 1);
}

#[test]
fn more_than_two_requests_in_flight_is_429_rate_limited() {
	let f = fixture();
	f.share(&f.doctor);
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	f.fake.with(|s| s.hold = true);
	let held: Vec<_> = (0..MAX_IN_FLIGHT_PER_SIGNER as u64)
		.map(|i| {
			let (proxy, body) = (f.proxy.clone(), f.reencrypt(&f.doctor, NOW - 10 - i));
			std::thread::spawn(move || proxy.handle("POST", "/v1/reencrypt", &body))
		})
		.collect();
	let start = Instant::now();
	while f.fake.waiting.load(Ordering::SeqCst) < MAX_IN_FLIGHT_PER_SIGNER as usize {
		assert!(start.elapsed() < Duration::from_secs(10), "the requests never reached the chain");
		std::thread::sleep(Duration::from_millis(5));
	}
	f.refused(f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW)), 429, "rate-limited", 2);
	f.fake.with(|s| s.hold = false);
	f.fake.released.notify_all();
	for h in held {
		let (status, body) = h.join().unwrap();
		assert_eq!(status, 200, "{body}");
	}
	// Served: the signer may ask again.
	assert_eq!(f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW + 1)).0, 200);
	assert_eq!(f.fake.transactions(), 3);
}

// ---- key fragments ---------------------------------------------------------------------

#[test]
fn kfrag_is_stored_with_a_receipt_signed_by_the_proxy() {
	let f = fixture();
	let (status, body) = f.call("/v1/kfrag", &f.upload(&f.doctor, NOW));
	assert_eq!(status, 200, "{body}");
	let receipt: Signed = serde_json::from_value(body).unwrap();
	let (signer, stored): (AccountId, Stored) = receipt.open().unwrap();
	assert_eq!(signer, f.proxy_keys.account());
	assert_eq!((stored.patient, stored.grantee), (f.patient.ss58(), f.doctor.ss58()));
	assert_eq!(f.proxy.health().kfrags, 1);
	assert_eq!(f.proxy.health().consortium, "http://fake:9944");
	assert_eq!(f.fake.transactions(), 0);
}

#[test]
fn kfrag_refusals() {
	let f = fixture();
	// Only the patient uploads for their records.
	let up: Signed = serde_json::from_str(&f.upload(&f.doctor, NOW)).unwrap();
	let payload: KfragUpload = serde_json::from_str(&up.payload).unwrap();
	let by_doctor = serde_json::to_string(&Signed::sign(&f.doctor.pair(), &payload)).unwrap();
	f.refused(f.call("/v1/kfrag", &by_doctor), 403, "bad-signature", 0);
	// A fragment not sealed to this proxy's key.
	let mut bad = payload.clone();
	bad.sealed_kfrag = "0x0102".into();
	bad.issued_at = NOW - 1;
	let bad = serde_json::to_string(&Signed::sign(&f.patient.pair(), &bad)).unwrap();
	f.refused(f.call("/v1/kfrag", &bad), 400, "bad-request", 0);
	// A certificate for another grantee.
	let mut other = payload.clone();
	other.grantee = f.hospital.ss58();
	other.issued_at = NOW - 2;
	let other = serde_json::to_string(&Signed::sign(&f.patient.pair(), &other)).unwrap();
	f.refused(f.call("/v1/kfrag", &other), 400, "bad-request", 0);
	// A fragment made for another key than the grantee's attested one.
	let wrong = f.upload_for(&f.doctor, &f.hospital.record_key().public_key(), NOW - 1000, NOW - 3);
	f.refused(f.call("/v1/kfrag", &wrong), 400, "bad-request", 0);
	// A grantee with no keys registered.
	f.fake.with(|s| s.keys.remove(&f.hospital.account()));
	f.refused(f.call("/v1/kfrag", &f.upload(&f.hospital, NOW - 4)), 404, "unknown-participant", 0);
	// Nothing was stored.
	assert_eq!(f.proxy.health().kfrags, 0);
}

#[test]
fn older_sharing_is_409_stale_fragment() {
	let f = fixture();
	let newer = f.upload_for(&f.doctor, &f.doctor.record_key().public_key(), NOW - 10, NOW - 1);
	assert_eq!(f.call("/v1/kfrag", &newer).0, 200);
	let older = f.upload_for(&f.doctor, &f.doctor.record_key().public_key(), NOW - 20, NOW);
	f.refused(f.call("/v1/kfrag", &older), 409, "stale-fragment", 0);
}

// ---- search ----------------------------------------------------------------------------

#[test]
fn search_finds_readable_records_after_auditing_the_search() {
	let f = fixture();
	// A second record of the patient, with the keyword, that the doctor may not read.
	let hidden = H256::repeat_byte(0x42);
	anchor(&f.fake, &f.patient, &f.proxy_keys, hidden, 1);
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	let (status, body) = f.call("/v1/search", &f.search(&f.doctor, NOW));
	assert_eq!(status, 200, "{body}");
	let r: SearchResponse = serde_json::from_value(body).unwrap();
	assert_eq!(r.examined, 2);
	assert_eq!(r.at_block, FINAL.1);
	assert_eq!(r.audit_block, FINAL.1 + 1);
	assert_eq!(r.matches.len(), 1);
	assert_eq!(r.matches[0].record_hash, chain::hash_hex(&f.record));
	assert_eq!((r.matches[0].chain_id, r.matches[0].anchored_at), (1, 10));
	let calls = f.fake.recorded.lock().unwrap().clone();
	let [RuntimeCall::Consent(pallet_consent::Call::record_search { user, results, .. })] =
		&calls[..]
	else {
		panic!("{calls:?}")
	};
	assert_eq!((user, *results), (&f.doctor.account(), 1));
	// Another keyword matches nothing (and is audited too).
	let trapdoor = f
		.patient
		.peks()
		.conjunctive_trapdoor(
			&f.proxy_keys.tester().public_key(),
			&[Keyword::parse("http://loinc.org|4548-4").unwrap()],
		)
		.unwrap()
		.to_bytes();
	let statement =
		search_statement(&f.proxy_keys.account(), &f.patient.account(), &trapdoor, NOW + 1);
	let req = SearchRequest {
		proxy: f.me(),
		patient: f.patient.ss58(),
		trapdoor: hex0x(&trapdoor),
		issued_at: NOW + 1,
		search_signature: sign_search(&f.doctor.pair(), &statement),
	};
	let (status, body) = f
		.call("/v1/search", &serde_json::to_string(&Signed::sign(&f.doctor.pair(), &req)).unwrap());
	assert_eq!(status, 200, "{body}");
	assert_eq!(body["matches"].as_array().unwrap().len(), 0);
	assert_eq!(f.fake.transactions(), 2);
}

#[test]
fn an_index_search_looks_up_the_matches_labels_and_tests_only_unlabelled_items_with_dpeks() {
	let f = fixture();
	let (patient, doctor) = (f.patient.account(), f.doctor.account());
	let other = Keyword::parse("http://loinc.org|4548-4").unwrap();
	// Position 0: a dPEKS-era record with the keyword (the fixture's), readable.
	f.fake.allow(&patient, &doctor, f.record);
	// Positions 1..=300: labelled records; every 30th has the keyword (10 of them, counters
	// 0..10), the others another keyword. The doctor may read all but the third match.
	let (mut with_kw, mut without) = (0u64, 0u64);
	let mut readable = vec![f.record];
	for n in 1..=300u32 {
		let record = H256::from_low_u64_be(1000 + n as u64);
		if n % 30 == 0 {
			anchor_labelled(&f.fake, &f.patient, &keyword(), with_kw, record, n);
			if with_kw != 2 {
				f.fake.allow(&patient, &doctor, record);
				readable.push(record);
			}
			with_kw += 1;
		} else {
			anchor_labelled(&f.fake, &f.patient, &other, without, record, n);
			f.fake.allow(&patient, &doctor, record);
			without += 1;
		}
	}
	let legacy = f
		.patient
		.peks()
		.conjunctive_trapdoor(&f.proxy_keys.tester().public_key(), &[keyword()])
		.unwrap()
		.to_bytes();
	let proxy_key = f.proxy_keys.record_key().public_key();
	let permission = mbds_client::search::SearchPermission::new(
		&f.patient,
		&proxy_key,
		&[(keyword(), with_kw)],
		Some(legacy.clone()),
	)
	.unwrap()
	.to_bytes();
	let (status, body) = f.call("/v1/search", &search_with(&f, &f.doctor, &permission, NOW));
	assert_eq!(status, 200, "{body}");
	let r: SearchResponse = serde_json::from_value(body).unwrap();
	let mut found: Vec<String> = r.matches.iter().map(|m| m.record_hash.clone()).collect();
	let mut expected: Vec<String> = readable.iter().map(chain::hash_hex).collect();
	found.sort();
	expected.sort();
	assert_eq!(found, expected);
	// The work: the keyword's 10 labels, 16 more for records confirmed since, and the one
	// unlabelled item; none of the 290 other records was touched.
	assert_eq!(f.fake.lookups.load(Ordering::SeqCst), 10 + 16);
	assert_eq!(r.examined, 10 + 16 + 1);
	// Audited like any search, with the count of readable matches.
	let calls = f.fake.recorded.lock().unwrap().clone();
	let [RuntimeCall::Consent(pallet_consent::Call::record_search { user, results, .. })] =
		&calls[..]
	else {
		panic!("{calls:?}")
	};
	assert_eq!((user, *results), (&doctor, 10));

	// A conjunction: the keyword and `other` share no record.
	let both = mbds_client::search::SearchPermission::new(
		&f.patient,
		&proxy_key,
		&[(keyword(), with_kw), (other.clone(), without)],
		None,
	)
	.unwrap()
	.to_bytes();
	let (status, body) = f.call("/v1/search", &search_with(&f, &f.doctor, &both, NOW + 1));
	assert_eq!(status, 200, "{body}");
	assert_eq!(body["matches"].as_array().unwrap().len(), 0);

	// A permission sealed to another proxy, or whose dPEKS part is damaged, is refused before
	// anything is read or recorded.
	let elsewhere = mbds_client::search::SearchPermission::new(
		&f.patient,
		&f.doctor.record_key().public_key(),
		&[(keyword(), with_kw)],
		None,
	)
	.unwrap()
	.to_bytes();
	let before = f.fake.transactions();
	f.refused(
		f.call("/v1/search", &search_with(&f, &f.doctor, &elsewhere, NOW + 2)),
		400,
		"bad-request",
		before,
	);
	let damaged = mbds_client::search::SearchPermission::new(
		&f.patient,
		&proxy_key,
		&[(keyword(), with_kw)],
		Some(vec![1, 2, 3]),
	)
	.unwrap()
	.to_bytes();
	f.refused(
		f.call("/v1/search", &search_with(&f, &f.doctor, &damaged, NOW + 3)),
		400,
		"bad-request",
		before,
	);
	assert_eq!(f.fake.transactions(), before);
}

#[test]
fn search_refusals() {
	let f = fixture();
	// A trapdoor that is not one.
	let bad = SearchRequest {
		proxy: f.me(),
		patient: f.patient.ss58(),
		trapdoor: "0x0102".into(),
		issued_at: NOW,
		search_signature: "0x".into(),
	};
	let bad = serde_json::to_string(&Signed::sign(&f.doctor.pair(), &bad)).unwrap();
	f.refused(f.call("/v1/search", &bad), 400, "bad-request", 0);
	// A search signature of someone else.
	let signed: Signed = serde_json::from_str(&f.search(&f.patient, NOW - 1)).unwrap();
	let payload: SearchRequest = serde_json::from_str(&signed.payload).unwrap();
	let body = serde_json::to_string(&Signed::sign(&f.doctor.pair(), &payload)).unwrap();
	f.refused(f.call("/v1/search", &body), 401, "bad-signature", 0);
	// A patient field that is not an account.
	let mut odd = payload.clone();
	odd.patient = "nobody".into();
	odd.issued_at = NOW - 2;
	let odd = serde_json::to_string(&Signed::sign(&f.doctor.pair(), &odd)).unwrap();
	f.refused(f.call("/v1/search", &odd), 400, "bad-request", 0);
}

#[test]
fn search_over_the_access_rate_is_429_denied_and_audited() {
	let f = fixture();
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	f.fake.with(|s| s.outcome = Outcome::Suspended);
	let (status, body) = f.call("/v1/search", &f.search(&f.doctor, NOW));
	assert!(body.get("matches").is_none());
	f.refused((status, body), 429, "denied", 1);
}

#[test]
fn search_not_on_record_discloses_nothing() {
	let f = fixture();
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	f.fake.with(|s| s.outcome = Outcome::NotRecorded);
	f.refused(f.call("/v1/search", &f.search(&f.doctor, NOW)), 503, "chain", 1);
	f.fake.with(|s| s.outcome = Outcome::Forked);
	f.refused(f.call("/v1/search", &f.search(&f.doctor, NOW + 1)), 503, "chain", 2);
}

// ---- re-encryption ---------------------------------------------------------------------

/// Checks a re-encryption answer: the capsule fragment verifies against the certificate's
/// verifying key and opens the record for `grantee` (threshold 1).
fn check_cfrag(f: &Fixture, body: Value, grantee: &ParticipantKeys) -> ReencryptResponse {
	let r: ReencryptResponse = serde_json::from_value(body).unwrap();
	let (signer, cert): (AccountId, KfragCertificate) = r.certificate.open().unwrap();
	assert_eq!(signer, f.patient.account());
	assert_eq!(cert.proxy, f.me());
	let vk = VerifyingKey::from_bytes(&hex::decode(&cert.verifying_key[2..]).unwrap()).unwrap();
	let cfrag = CapsuleFragment::from_bytes(&hex::decode(&r.cfrag[2..]).unwrap()).unwrap();
	let verified =
		cfrag.verify(&f.envelope, &vk, &grantee.record_key().public_key()).expect("cfrag verifies");
	assert_eq!(f.envelope.open_reencrypted(&grantee.record_key(), [verified]).unwrap(), PLAINTEXT);
	r
}

#[test]
fn reencrypt_serves_a_verifiable_capsule_fragment_once_audited() {
	let f = fixture();
	f.share(&f.doctor);
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	let (status, body) = f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW));
	assert_eq!(status, 200, "{body}");
	let r = check_cfrag(&f, body, &f.doctor);
	assert_eq!(r.audit_block, FINAL.1 + 1);
	let calls = f.fake.recorded.lock().unwrap().clone();
	let [RuntimeCall::Consent(pallet_consent::Call::record_access { user, statement, .. })] =
		&calls[..]
	else {
		panic!("{calls:?}")
	};
	assert_eq!((user, &statement.patient), (&f.doctor.account(), &f.patient.account()));
}

#[test]
fn reencrypt_under_an_institution_grant_uses_the_institution_fragment() {
	let f = fixture();
	f.share(&f.hospital);
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	let (status, body) = f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW));
	assert_eq!(status, 200, "{body}");
	check_cfrag(&f, body, &f.hospital);
	assert_eq!(f.fake.transactions(), 1);
}

#[test]
fn reencrypt_request_refusals() {
	let f = fixture();
	// A record hash that is not one.
	let mut req: ReencryptRequest = serde_json::from_str(
		&serde_json::from_str::<Signed>(&f.reencrypt(&f.doctor, NOW)).unwrap().payload,
	)
	.unwrap();
	req.record_hash = "0x12".into();
	let body = serde_json::to_string(&Signed::sign(&f.doctor.pair(), &req)).unwrap();
	f.refused(f.call("/v1/reencrypt", &body), 400, "bad-request", 0);
	// An access statement signed by someone else.
	let signed: Signed = serde_json::from_str(&f.reencrypt(&f.patient, NOW - 1)).unwrap();
	let payload: ReencryptRequest = serde_json::from_str(&signed.payload).unwrap();
	let body = serde_json::to_string(&Signed::sign(&f.doctor.pair(), &payload)).unwrap();
	f.refused(f.call("/v1/reencrypt", &body), 401, "bad-signature", 0);
}

#[test]
fn record_not_anchored_for_the_patient_is_404_not_anchored() {
	let f = fixture();
	f.share(&f.doctor);
	f.refused(
		f.call("/v1/reencrypt", &f.reencrypt_of(&f.doctor, H256::repeat_byte(9), NOW)),
		404,
		"not-anchored",
		0,
	);
}

#[test]
fn allowed_but_no_fragment_is_404_no_kfrag() {
	let f = fixture();
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	f.refused(f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW)), 404, "no-kfrag", 0);
}

#[test]
fn fragment_no_longer_matching_attested_keys_is_409_no_kfrag() {
	let f = fixture();
	f.share(&f.doctor);
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	// The doctor's keys were rotated since.
	let rotated = ParticipantKeys::from_seed([33; 32]).key_set(SearchKey::Receiver);
	f.fake.with(|s| s.keys.insert(f.doctor.account(), rotated));
	f.refused(f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW)), 409, "no-kfrag", 0);
}

#[test]
fn record_missing_or_not_the_patients_is_a_storage_refusal() {
	let f = fixture();
	f.share(&f.doctor);
	// Anchored, but not in storage.
	let missing = H256::repeat_byte(0x55);
	anchor(&f.fake, &f.patient, &f.proxy_keys, missing, 1);
	f.fake.allow(&f.patient.account(), &f.doctor.account(), missing);
	f.refused(f.call("/v1/reencrypt", &f.reencrypt_of(&f.doctor, missing, NOW)), 502, "storage", 0);
	// Anchored for the patient, but sealed to someone else.
	let foreign = RecordEnvelope::seal(&f.doctor.record_key().public_key(), b"r", 1, b"x").unwrap();
	let foreign = H256(*put_blocking(&f.store, foreign.to_bytes()).unwrap().as_bytes());
	anchor(&f.fake, &f.patient, &f.proxy_keys, foreign, 2);
	f.fake.allow(&f.patient.account(), &f.doctor.account(), foreign);
	f.refused(f.call("/v1/reencrypt", &f.reencrypt_of(&f.doctor, foreign, NOW)), 409, "storage", 0);
}

#[test]
fn denied_without_fragment_is_recorded_once_then_repeated_from_memory() {
	let f = fixture();
	f.refused(f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW)), 403, "denied", 1);
	let (status, body) = f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW + 1));
	assert!(body["error"].as_str().unwrap().contains("not recorded again"), "{body}");
	f.refused((status, body), 403, "denied", 1);
	// Once the patient shares again, the refusal is forgotten: the chain is asked again (and
	// now allows it), even if the finalised block does not show the new consent yet.
	assert_eq!(f.proxy.denials.lock().unwrap().len(), 1);
	f.share(&f.doctor);
	assert!(f.proxy.denials.lock().unwrap().is_empty());
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	let (status, body) = f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW + 2));
	assert_eq!(status, 200, "{body}");
	assert_eq!(f.fake.transactions(), 2);
}

#[test]
fn denied_by_the_chain_with_a_fragment_is_recorded_once() {
	let f = fixture();
	f.share(&f.doctor);
	f.refused(f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW)), 403, "denied", 1);
	f.refused(f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW + 1)), 403, "denied", 1);
	// Consent given at the finalised block: the remembered refusal is checked again there.
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	assert_eq!(f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW + 2)).0, 200);
	assert_eq!(f.fake.transactions(), 2);
}

#[test]
fn access_record_replaced_by_a_fork_serves_nothing() {
	let f = fixture();
	f.share(&f.doctor);
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	f.fake.with(|s| s.outcome = Outcome::Forked);
	let (status, body) = f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW));
	assert!(body["error"].as_str().unwrap().contains("replaced by a fork"), "{body}");
	assert!(body.get("cfrag").is_none());
	f.refused((status, body), 503, "chain", 1);
	f.fake.with(|s| s.outcome = Outcome::NotFinal);
	let (status, body) = f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW + 1));
	assert!(body["error"].as_str().unwrap().contains("did not become final"), "{body}");
	f.refused((status, body), 503, "chain", 2);
	f.fake.with(|s| s.outcome = Outcome::NotRecorded);
	let (status, body) = f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW + 2));
	assert!(body["error"].as_str().unwrap().contains("nothing is served"), "{body}");
	f.refused((status, body), 503, "chain", 3);
}

// ---- start-up --------------------------------------------------------------------------

#[test]
fn a_proxy_must_be_an_active_health_authority_with_its_keys() {
	let f = fixture();
	let dir = tempfile::tempdir().unwrap();
	let start = |seed| {
		Proxy::new(
			ParticipantKeys::from_seed(seed),
			f.fake.clone(),
			mbds_client::open_stores(&[dir.path().join("s").display().to_string()]).unwrap(),
			&dir.path().join("state"),
		)
		.map(|_| ())
	};
	std::fs::create_dir_all(dir.path().join("s")).unwrap();
	assert!(start([9; 32]).unwrap_err().contains("not registered"));
	assert!(start([4; 32]).unwrap_err().contains("a proxy must be an active health authority"));
	// A health authority whose registered search key is not its tester key.
	let other = ParticipantKeys::from_seed([8; 32]);
	f.fake.register(
		&other,
		Role::Institution(InstitutionKind::HealthAuthority),
		SearchKey::Receiver,
	);
	assert!(start([8; 32]).unwrap_err().contains("tester key"));
}

// ---- metrics ---------------------------------------------------------------------------

#[test]
fn metrics_count_requests_refusals_latency_and_transactions() {
	let f = fixture();
	f.share(&f.doctor);
	f.fake.allow(&f.patient.account(), &f.doctor.account(), f.record);
	assert_eq!(f.call("/v1/reencrypt", &f.reencrypt(&f.doctor, NOW)).0, 200);
	assert_eq!(f.call("/v1/search", &f.search(&outsider(), NOW)).0, 403);
	assert_eq!(f.call("/v1/reencrypt", "garbage").0, 400);
	f.fake.with(|s| s.outcome = Outcome::Forked);
	assert_eq!(f.call("/v1/search", &f.search(&f.doctor, NOW)).0, 503);
	assert_eq!(f.proxy.handle("GET", "/secret/../x", "").0, 404);
	f.proxy.metrics().connection_refused("per-ip");
	let text = f.proxy.metrics_text();
	for line in [
		"# HELP mbds_proxy_requests_total ",
		"# TYPE mbds_proxy_requests_total counter",
		"mbds_proxy_requests_total{route=\"/v1/kfrag\",status=\"200\"} 1",
		"mbds_proxy_requests_total{route=\"/v1/reencrypt\",status=\"200\"} 1",
		"mbds_proxy_requests_total{route=\"/v1/reencrypt\",status=\"400\"} 1",
		"mbds_proxy_requests_total{route=\"/v1/search\",status=\"403\"} 1",
		"mbds_proxy_requests_total{route=\"/v1/search\",status=\"503\"} 1",
		"mbds_proxy_requests_total{route=\"other\",status=\"404\"} 1",
		"mbds_proxy_refusals_total{code=\"unknown-participant\"} 1",
		"mbds_proxy_refusals_total{code=\"bad-request\"} 2",
		"mbds_proxy_refusals_total{code=\"chain\"} 1",
		"# TYPE mbds_proxy_request_duration_seconds histogram",
		"mbds_proxy_request_duration_seconds_count{route=\"/v1/reencrypt\"} 2",
		"mbds_proxy_request_duration_seconds_bucket{route=\"/v1/search\",le=\"+Inf\"} 2",
		"mbds_proxy_transactions_submitted_total{what=\"access\"} 1",
		"mbds_proxy_transactions_submitted_total{what=\"search\"} 1",
		"mbds_proxy_transaction_failures_total{reason=\"fork\",what=\"search\"} 1",
		"mbds_proxy_connections_refused_total{limit=\"per-ip\"} 1",
		"mbds_proxy_workers 16",
		"mbds_proxy_workers_busy 0",
		"mbds_proxy_queue_depth 0",
		"# HELP mbds_proxy_queue_wait_seconds ",
		"# HELP mbds_proxy_connections_open ",
	] {
		assert!(text.contains(line), "no {line:?} in\n{text}");
	}
	for line in text.lines().filter(|l| !l.starts_with('#')) {
		assert!(line.starts_with("mbds_proxy_"), "{line}");
	}
}
