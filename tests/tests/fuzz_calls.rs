//! Fuzzing of every call of every MBDS pallet, natively against the real runtime (no network).
//!
//! Random sequences of calls with random origins (unsigned, a council motion's origin with
//! random ayes, or a signed account: a participant, a council member, the KMC operator
//! or a stranger) and random arguments. The arguments are drawn from the runtime's own
//! metadata: every call's field types are walked and filled with values at and beyond their
//! bounds (integers at 0, 1, the maximum and random; sequences empty, short, at common bounds
//! and past them; accounts mostly from the dev accounts, so that calls get past their origin
//! checks and reach deeper code). The bytes are decoded as a `RuntimeCall` exactly as the
//! chain decodes a transaction; what does not decode (a bound exceeded, an unknown variant)
//! is counted as refused at decoding. What decodes is dispatched through the runtime's call
//! filter. After every call the test checks:
//! - no panic;
//! - a failed call changed no storage (the state root is unchanged);
//! - every MBDS pallet's invariants hold: `mbds_runtime::mbds_try_state`, the `do_try_state`
//!   of `Kmc`, `Slips`, `Consent`, `Anchor`, `Credit` and `Governance` that their
//!   `try-runtime` hooks run (indices agree with what they index, counters with what they
//!   count, every pending slip is in its patient's index, every anchored item belongs to an
//!   anchored batch, every participant has keys and its identity commitment points back to
//!   it, a doctor's institution is a hospital or platform, the session period stays in its
//!   bounds, ...; each pallet's `do_try_state` lists its own), and the runtime's own: the
//!   council keeps at least three distinct seats.
//!
//! Calls run in sequences of `MBDS_FUZZ_SEQUENCE` calls (default 1,000), each starting again
//! from a snapshot of the chain (a clone of its storage, built once), with the pallets' calls
//! shuffled together: the state a call meets stays bounded, so the cost of a call (the state
//! roots around it, the invariants after it) stays constant however long the campaign, and
//! every sequence explores afresh from a known state. Three sequences in four start from the
//! chain with a cast registered (an institution, a health authority, two doctors it employs,
//! two patients, an insurer; on a private chain the institution is the slip ledger's), the
//! others from the bare genesis. From the cast snapshot, half the calls that need more than
//! random bytes to get anywhere are made as a client would make them (**deep calls**): a
//! slip with the patient's signed visit proof sent by a doctor, a confirmation or rejection
//! of a pending slip by its patient, a visit recorded with the patient's signed proof, an
//! access or search recorded by the proxy with the user's signed statement, a grant,
//! revocation, policy or answer to a pending request by the patient, a request by a data
//! user, an emergency attested by the institution or the authority; the other fields stay
//! random. Each pallet's line reports how many deep calls it made and how many succeeded.
//!
//! The test command runs a short campaign (`MBDS_FUZZ_CALLS`, default 3,000 calls per pallet
//! on each of a hospital chain and the consortium: 54,000 calls in 54 sequences, about 15 s
//! here); the long one, 100,000 calls per pallet and chain (1.8 million calls in 1,800
//! sequences), is
//! `MBDS_FUZZ_CALLS=100000 cargo test --release --workspace --exclude mbds-bencher --test fuzz_calls -- --nocapture every_pallet`
//! (517 s of fuzzing here, under 9 minutes with cargo's start: about 0.27 ms a call in both
//! runs). `MBDS_FUZZ_SEED` replays a run (every run prints its seed; the same
//! `MBDS_FUZZ_CALLS` and `MBDS_FUZZ_SEQUENCE` are needed, as they shape the schedule), and a
//! failure names the sequence and the call in it.
//!
//! What it does not reach: a GRANDPA justification or a Merkle proof of another chain's
//! state (`Anchor`, `Credit::note_finality_votes`) is never valid by chance, so that code is
//! exercised by the unit tests and the network tests rather than here; nor are hooks run
//! (`on_initialize`: slip expiry, batch closing, request lapse) between the calls.

use codec::{Compact, Decode, Encode};
use frame_metadata::RuntimeMetadata;
use mbds_primitives::{
	consent::{ActionSet, Grantee},
	InstitutionKind, Role,
};
use mbds_runtime::{
	genesis_config_presets::{preset_json, CONSORTIUM_LOCAL, HOSPITAL_LOCAL},
	AccountId, Runtime, RuntimeCall, RuntimeGenesisConfig, RuntimeOrigin,
};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use scale_info::{PortableRegistry, TypeDef, TypeDefPrimitive};
use sp_core::{Pair, H256};
use sp_io::hashing::blake2_256;
use sp_keyring::Sr25519Keyring as Keyring;
use sp_runtime::{traits::Dispatchable, BuildStorage, StateVersion};
use std::collections::BTreeMap;

/// The pallets whose every call is fuzzed: every MBDS pallet with calls (`ChainInfo` has
/// none) and the governance pallets they depend on.
const PALLETS: [&str; 9] = [
	"Kmc",
	"Slips",
	"Consent",
	"Anchor",
	"Credit",
	"Governance",
	"Council",
	"CouncilMembership",
	"KmcOperators",
];

/// Calls per pallet and chain kind (`MBDS_FUZZ_CALLS`).
fn calls_per_pallet() -> usize {
	std::env::var("MBDS_FUZZ_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(3_000)
}

/// Calls per sequence (`MBDS_FUZZ_SEQUENCE`); each sequence starts from a snapshot.
fn sequence_len() -> usize {
	std::env::var("MBDS_FUZZ_SEQUENCE")
		.ok()
		.and_then(|v| v.parse().ok())
		.filter(|n| *n > 0)
		.unwrap_or(1_000)
}

fn json_merge(a: &mut serde_json::Value, b: serde_json::Value) {
	match (a, b) {
		(serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
			for (k, v) in b {
				json_merge(a.entry(k).or_insert(serde_json::Value::Null), v);
			}
		}
		(a, b) => *a = b,
	}
}

/// A chain's genesis state, from its preset, at block 1.
fn genesis(preset: &str) -> sp_io::TestExternalities {
	let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).unwrap();
	json_merge(&mut config, preset_json(preset).expect("preset exists"));
	let config: RuntimeGenesisConfig = serde_json::from_value(config).expect("preset decodes");
	let mut ext: sp_io::TestExternalities = config.build_storage().expect("genesis builds").into();
	ext.execute_with(|| {
		frame_system::Pallet::<Runtime>::set_block_number(1);
		pallet_timestamp::Now::<Runtime>::put(1_700_000_000_000u64);
	});
	ext.commit_all().expect("commit the genesis");
	ext
}

/// A fresh copy of `snapshot`'s (committed) state: a clone of its storage, no trie to build.
fn fresh(snapshot: &sp_io::TestExternalities) -> sp_io::TestExternalities {
	let mut ext = sp_io::TestExternalities::new_empty();
	ext.backend = snapshot.backend.clone();
	ext
}

/// The cast of the populated snapshot: the institution (a hospital), a health authority (the
/// proxy), two doctors the institution employs, two patients and an insurer. `Two`, the other
/// dev accounts and the stranger stay unregistered.
const INSTITUTION: Keyring = Keyring::Alice;
const PROXY: Keyring = Keyring::Bob;
const DOCTORS: [Keyring; 2] = [Keyring::Charlie, Keyring::Dave];
const PATIENTS: [Keyring; 2] = [Keyring::Eve, Keyring::Ferdie];
const INSURER: Keyring = Keyring::One;

fn cast() -> Vec<(Keyring, Role<AccountId>)> {
	let institution = INSTITUTION.to_account_id();
	vec![
		(INSTITUTION, Role::Institution(InstitutionKind::Hospital)),
		(PROXY, Role::Institution(InstitutionKind::HealthAuthority)),
		(DOCTORS[0], Role::Doctor { institution: institution.clone() }),
		(DOCTORS[1], Role::Doctor { institution }),
		(PATIENTS[0], Role::Patient),
		(PATIENTS[1], Role::Patient),
		(INSURER, Role::Institution(InstitutionKind::Insurer)),
	]
}

/// The council's origin with every seat's aye.
fn council() -> RuntimeOrigin {
	let seats =
		pallet_collective::Members::<Runtime, mbds_runtime::configs::CouncilCollective>::get().len()
			as u32;
	pallet_collective::RawOrigin::<AccountId, mbds_runtime::configs::CouncilCollective>::Members(
		seats, seats,
	)
	.into()
}

/// `snapshot` with the cast registered through the council (and the doctors employed by the
/// institution, which on a private chain becomes the slip ledger's), committed.
fn with_cast(preset: &str, snapshot: &sp_io::TestExternalities) -> sp_io::TestExternalities {
	let mut ext = fresh(snapshot);
	ext.execute_with(|| {
		for (k, role) in cast() {
			let who = k.to_account_id();
			let key = |b: u8| pallet_kmc::PublicKey {
				scheme: pallet_kmc::KeyScheme::Other(0),
				key: vec![b; 33].try_into().expect("a 33-byte key fits"),
			};
			let call = RuntimeCall::Kmc(pallet_kmc::Call::register {
				identity: H256(blake2_256(who.as_ref())),
				who,
				role,
				keys: pallet_kmc::KeySet { record_key: key(1), search_key: key(2) },
			});
			call.dispatch(council()).expect("the council registers the cast");
		}
		for doctor in DOCTORS {
			let call =
				RuntimeCall::Kmc(pallet_kmc::Call::employ { doctor: doctor.to_account_id() });
			call.dispatch(RuntimeOrigin::signed(INSTITUTION.to_account_id()))
				.expect("the institution employs its doctors");
		}
		if preset != CONSORTIUM_LOCAL {
			let call = RuntimeCall::Slips(pallet_slips::Call::set_institution {
				institution: INSTITUTION.to_account_id(),
			});
			call.dispatch(council()).expect("the council sets the ledger's institution");
		}
		mbds_runtime::mbds_try_state().expect("the cast keeps the invariants");
	});
	ext.commit_all().expect("commit the cast");
	ext
}

/// Random SCALE values of the runtime's types.
struct Gen<'a> {
	types: &'a PortableRegistry,
	rng: StdRng,
	accounts: Vec<AccountId>,
	/// Hashes seen (identity commitments, record hashes): reused so that lookups hit.
	hashes: Vec<[u8; 32]>,
}

impl Gen<'_> {
	/// A length biased to the edges: empty, one, short, common bounds and just past them.
	fn len(&mut self) -> usize {
		const EDGES: [usize; 12] = [0, 1, 2, 3, 8, 16, 17, 32, 33, 64, 128, 129];
		if self.rng.gen_bool(0.7) {
			self.rng.gen_range(0..4)
		} else {
			EDGES[self.rng.gen_range(0..EDGES.len())]
		}
	}

	/// An unsigned integer of `bits`, biased to 0, 1, small values and the maximum.
	fn uint(&mut self, bits: u32) -> u128 {
		let max = if bits == 128 { u128::MAX } else { (1u128 << bits) - 1 };
		match self.rng.gen_range(0..10) {
			0 => 0,
			1 => 1,
			2 => max,
			3..=6 => self.rng.gen_range(0..16u128).min(max),
			_ => self.rng.gen::<u128>() & max,
		}
	}

	fn value(&mut self, id: u32, out: &mut Vec<u8>, depth: u32) {
		let ty = self.types.resolve(id).expect("type in registry").clone();
		let path = ty.path.segments.join("::");
		if path.ends_with("AccountId32") {
			if self.rng.gen_bool(0.85) {
				let a = &self.accounts[self.rng.gen_range(0..self.accounts.len())];
				a.encode_to(out);
			} else {
				out.extend(self.rng.gen::<[u8; 32]>());
			}
			return;
		}
		if path.ends_with("H256") {
			if !self.hashes.is_empty() && self.rng.gen_bool(0.5) {
				let h = self.hashes[self.rng.gen_range(0..self.hashes.len())];
				out.extend(h);
			} else {
				let h = self.rng.gen::<[u8; 32]>();
				self.hashes.push(h);
				out.extend(h);
			}
			return;
		}
		if depth > 12 {
			// Deep recursion (nested calls): give up on this value; the call will not decode.
			return;
		}
		match &ty.type_def {
			TypeDef::Composite(c) => {
				for f in &c.fields {
					self.value(f.ty.id, out, depth + 1);
				}
			}
			TypeDef::Variant(v) => {
				if v.variants.is_empty() {
					return;
				}
				// Now and then an index no variant has.
				if self.rng.gen_bool(0.02) {
					out.push(self.rng.gen());
					return;
				}
				let var = &v.variants[self.rng.gen_range(0..v.variants.len())];
				out.push(var.index);
				for f in &var.fields {
					self.value(f.ty.id, out, depth + 1);
				}
			}
			TypeDef::Sequence(s) => {
				let n = self.len();
				Compact(n as u32).encode_to(out);
				let elem = s.type_param.id;
				let is_byte = matches!(
					self.types.resolve(elem).map(|t| &t.type_def),
					Some(TypeDef::Primitive(TypeDefPrimitive::U8))
				);
				for _ in 0..n {
					if is_byte {
						out.push(self.rng.gen());
					} else {
						self.value(elem, out, depth + 1);
					}
				}
			}
			TypeDef::Array(a) => {
				for _ in 0..a.len {
					self.value(a.type_param.id, out, depth + 1);
				}
			}
			TypeDef::Tuple(t) => {
				for f in &t.fields {
					self.value(f.id, out, depth + 1);
				}
			}
			TypeDef::Primitive(p) => self.primitive(p, out),
			TypeDef::Compact(c) => {
				let inner = self.types.resolve(c.type_param.id).map(|t| t.type_def.clone());
				let v = match inner {
					Some(TypeDef::Primitive(TypeDefPrimitive::U8)) => self.uint(8),
					Some(TypeDef::Primitive(TypeDefPrimitive::U16)) => self.uint(16),
					Some(TypeDef::Primitive(TypeDefPrimitive::U32)) => self.uint(32),
					Some(TypeDef::Primitive(TypeDefPrimitive::U64)) => self.uint(64),
					_ => self.uint(128),
				};
				Compact(v).encode_to(out);
			}
			TypeDef::BitSequence(_) => Compact(0u32).encode_to(out),
		}
	}

	fn primitive(&mut self, p: &TypeDefPrimitive, out: &mut Vec<u8>) {
		match p {
			TypeDefPrimitive::Bool => out.push(self.rng.gen_range(0..2)),
			TypeDefPrimitive::U8 => out.push(self.uint(8) as u8),
			TypeDefPrimitive::U16 => (self.uint(16) as u16).encode_to(out),
			TypeDefPrimitive::U32 => (self.uint(32) as u32).encode_to(out),
			TypeDefPrimitive::U64 => (self.uint(64) as u64).encode_to(out),
			TypeDefPrimitive::U128 => self.uint(128).encode_to(out),
			TypeDefPrimitive::I8 => out.push(self.rng.gen()),
			TypeDefPrimitive::I16 => self.rng.gen::<i16>().encode_to(out),
			TypeDefPrimitive::I32 => self.rng.gen::<i32>().encode_to(out),
			TypeDefPrimitive::I64 => self.rng.gen::<i64>().encode_to(out),
			TypeDefPrimitive::I128 => self.rng.gen::<i128>().encode_to(out),
			TypeDefPrimitive::Char => ('a' as u32).encode_to(out),
			TypeDefPrimitive::Str => {
				let n = self.len();
				let s: String = (0..n).map(|_| self.rng.gen_range('a'..='z')).collect();
				s.encode_to(out)
			}
			TypeDefPrimitive::U256 | TypeDefPrimitive::I256 => {
				out.extend(self.rng.gen::<[u8; 32]>())
			}
		}
	}
}

/// The origins a call is tried with: what the network chains have (root is only the one-node
/// development chain's sudo, which can do anything by design).
fn origin(rng: &mut StdRng, accounts: &[AccountId], council_seats: u32) -> (String, RuntimeOrigin) {
	match rng.gen_range(0..20) {
		0..=1 => ("none".into(), RuntimeOrigin::none()),
		2..=4 => {
			let ayes = rng.gen_range(0..=council_seats);
			let o = pallet_collective::RawOrigin::<
				AccountId,
				mbds_runtime::configs::CouncilCollective,
			>::Members(ayes, council_seats);
			(format!("council {ayes} of {council_seats}"), o.into())
		}
		_ => {
			let who = accounts[rng.gen_range(0..accounts.len())].clone();
			(format!("signed {who}"), RuntimeOrigin::signed(who))
		}
	}
}

/// The invariants after a call: every MBDS pallet's (`mbds_try_state`), and the runtime's own
/// (the council's seat floor, which `configs::governance` enforces on membership changes).
/// `Err` names the one broken.
fn invariants() -> Result<(), String> {
	mbds_runtime::mbds_try_state().map_err(|e| format!("{e:?}"))?;
	let seats =
		pallet_collective::Members::<Runtime, mbds_runtime::configs::CouncilCollective>::get();
	let distinct: std::collections::BTreeSet<_> = seats.iter().collect();
	if distinct.len() != seats.len() || seats.len() < mbds_runtime::configs::MIN_COUNCIL_SEATS {
		return Err(format!("council seats {seats:?}"));
	}
	Ok(())
}

/// `k`'s signature over `payload`, as the runtime's `MultiSignature`.
fn sign(k: Keyring, payload: &[u8]) -> mbds_runtime::Signature {
	k.pair().sign(payload).into()
}

/// `patient`'s signed proof of a visit to `institution` at `issued_at`.
fn visit_proof(
	patient: Keyring,
	institution: AccountId,
	issued_at: u64,
) -> pallet_slips::VisitProof<AccountId, mbds_runtime::Signature> {
	let statement =
		pallet_slips::VisitStatement { patient: patient.to_account_id(), institution, issued_at };
	pallet_slips::VisitProof {
		signature: sign(patient, &statement.signing_payload()),
		institution: statement.institution,
		issued_at,
	}
}

fn pick<T: Copy>(rng: &mut StdRng, from: &[T]) -> T {
	from[rng.gen_range(0..from.len())]
}

/// A deep call: the call's name, and the origin that sends it (described, and itself).
type Deep = (&'static str, String, RuntimeOrigin);

fn signed(k: Keyring) -> (String, RuntimeOrigin) {
	(format!("signed {k:?}"), RuntimeOrigin::signed(k.to_account_id()))
}

/// Makes `call` a deep call (see the module docs), if it is of a kind that needs more than
/// random bytes: rewrites the arguments a client would get right (signatures, the ids of
/// pending slips and requests, a validity period from now) and picks the origin that sends
/// it. Only where the call can work: slips on a private chain, consents on the consortium.
/// Reads the chain's state (call it inside the externalities). `None` leaves the call.
fn deepen(call: &mut RuntimeCall, rng: &mut StdRng, consortium: bool) -> Option<Deep> {
	use pallet_consent::Call as Consent;
	use pallet_slips::Call as Slips;
	const DAY_MS: u64 = 24 * 60 * 60 * 1000;
	match call {
		RuntimeCall::Slips(_) if consortium => return None,
		RuntimeCall::Consent(_) if !consortium => return None,
		_ => {}
	}
	let now = pallet_timestamp::Now::<Runtime>::get();
	// A valid action set: the random one if valid, else read-only.
	let valid = |actions: &mut ActionSet| {
		if !actions.is_valid() {
			*actions = ActionSet::read_only();
		}
	};
	let with =
		|name: &'static str, (who, origin): (String, RuntimeOrigin)| Some((name, who, origin));
	// A patient's pending slip (id, the patient), if any.
	let pending_slip = |rng: &mut StdRng| {
		let p = pick(rng, &PATIENTS);
		let pending = pallet_slips::PendingSlips::<Runtime>::get(p.to_account_id());
		pending.choose(rng).map(|entry| (entry.slip_id, p))
	};
	// A patient's pending request (id, the patient), if any.
	let pending_request = |rng: &mut StdRng| {
		let p = pick(rng, &PATIENTS);
		let pending = pallet_consent::PendingOf::<Runtime>::get(p.to_account_id());
		pending.choose(rng).map(|id| (*id, p))
	};
	match call {
		RuntimeCall::Slips(Slips::submit_slip {
			patient,
			visit,
			generated_at,
			encrypted_keywords,
			encrypted_address,
			..
		}) => {
			let p = pick(rng, &PATIENTS);
			*patient = p.to_account_id();
			let institution = pallet_slips::Institution::<Runtime>::get()
				.unwrap_or_else(|| INSTITUTION.to_account_id());
			*visit = visit_proof(p, institution, now.saturating_sub(rng.gen_range(0..DAY_MS)));
			*generated_at = now.saturating_sub(rng.gen_range(0..60_000));
			*encrypted_keywords =
				(0..rng.gen_range(1..=3)).map(|_| rng.gen::<[u8; 32]>().to_vec()).collect();
			*encrypted_address = rng.gen::<[u8; 32]>().to_vec();
			with("Slips::submit_slip", signed(pick(rng, &DOCTORS)))
		}
		RuntimeCall::Slips(Slips::confirm_slip { slip_id, record_hash }) => {
			let (id, p) = pending_slip(rng)?;
			*slip_id = id;
			*record_hash = pallet_slips::Ledger::<Runtime>::get(id)?.record_hash;
			with("Slips::confirm_slip", signed(p))
		}
		RuntimeCall::Slips(Slips::confirm_slip_indexed { slip_id, record_hash, labels }) => {
			let (id, p) = pending_slip(rng)?;
			let slip = pallet_slips::Ledger::<Runtime>::get(id)?;
			*slip_id = id;
			*record_hash = slip.record_hash;
			*labels = sp_runtime::BoundedVec::truncate_from(
				(0..slip.encrypted_keywords.len()).map(|_| rng.gen::<[u8; 32]>()).collect(),
			);
			with("Slips::confirm_slip_indexed", signed(p))
		}
		RuntimeCall::Slips(Slips::reject_slip { slip_id, .. }) => {
			let (id, p) = pending_slip(rng)?;
			*slip_id = id;
			with("Slips::reject_slip", signed(p))
		}
		RuntimeCall::Consent(Consent::record_visit { patient, visit }) => {
			let p = pick(rng, &PATIENTS);
			*patient = p.to_account_id();
			let at = now.saturating_sub(rng.gen_range(0..300_000));
			*visit = visit_proof(p, INSTITUTION.to_account_id(), at);
			let by = pick(rng, &[INSTITUTION, DOCTORS[0], DOCTORS[1]]);
			with("Consent::record_visit", signed(by))
		}
		RuntimeCall::Consent(Consent::record_access { user, statement, signature }) => {
			let u = pick(rng, &[DOCTORS[0], DOCTORS[1], INSURER, PATIENTS[0]]);
			*user = u.to_account_id();
			statement.proxy = PROXY.to_account_id();
			statement.patient = pick(rng, &PATIENTS).to_account_id();
			let last = pallet_consent::AccessNonce::<Runtime>::get(&*user, &statement.proxy);
			statement.issued_at =
				last.saturating_add(1).max(now.saturating_sub(rng.gen_range(0..300_000)));
			*signature = sign(u, &statement.signing_payload());
			with("Consent::record_access", signed(PROXY))
		}
		RuntimeCall::Consent(Consent::record_search { user, statement, signature, .. }) => {
			let u = pick(rng, &[DOCTORS[0], DOCTORS[1], INSURER]);
			*user = u.to_account_id();
			statement.proxy = PROXY.to_account_id();
			statement.patient = pick(rng, &PATIENTS).to_account_id();
			let last = pallet_consent::AccessNonce::<Runtime>::get(&*user, &statement.proxy);
			statement.issued_at =
				last.saturating_add(1).max(now.saturating_sub(rng.gen_range(0..300_000)));
			*signature = sign(u, &statement.signing_payload());
			with("Consent::record_search", signed(PROXY))
		}
		RuntimeCall::Consent(Consent::grant {
			grantee, actions, valid_from, valid_until, ..
		}) => {
			*grantee = match rng.gen_range(0..4) {
				0 => Grantee::MembersOf(INSTITUTION.to_account_id()),
				_ => {
					Grantee::Account(pick(rng, &[DOCTORS[0], DOCTORS[1], INSURER]).to_account_id())
				}
			};
			valid(actions);
			*valid_from = now;
			*valid_until = now + rng.gen_range(1..30 * DAY_MS);
			with("Consent::grant", signed(pick(rng, &PATIENTS)))
		}
		RuntimeCall::Consent(Consent::revoke { grant }) => {
			let p = pick(rng, &PATIENTS);
			let grants = pallet_consent::Pallet::<Runtime>::grants_of(&p.to_account_id());
			*grant = grants.choose(rng)?.0;
			with("Consent::revoke", signed(p))
		}
		RuntimeCall::Consent(Consent::set_policy { policy }) => {
			policy.rule = match rng.gen_bool(0.5) {
				true => pallet_consent::PolicyRule::AfterVisit {
					institution: INSTITUTION.to_account_id(),
					window: rng.gen_range(1..30 * DAY_MS),
				},
				false => {
					pallet_consent::PolicyRule::Emergency { duration: rng.gen_range(1..DAY_MS) }
				}
			};
			valid(&mut policy.actions);
			with("Consent::set_policy", signed(pick(rng, &PATIENTS)))
		}
		RuntimeCall::Consent(Consent::remove_policy { policy }) => {
			let p = pick(rng, &PATIENTS);
			let policies = pallet_consent::Policies::<Runtime>::get(p.to_account_id());
			*policy = policies.choose(rng)?.0;
			with("Consent::remove_policy", signed(p))
		}
		RuntimeCall::Consent(Consent::request_access {
			patient,
			actions,
			valid_from,
			valid_until,
			..
		}) => {
			valid(actions);
			*patient = pick(rng, &PATIENTS).to_account_id();
			*valid_from = now;
			*valid_until = now + rng.gen_range(1..30 * DAY_MS);
			let by = pick(rng, &[DOCTORS[0], DOCTORS[1], INSURER]);
			with("Consent::request_access", signed(by))
		}
		RuntimeCall::Consent(Consent::approve_request { request }) => {
			let (id, p) = pending_request(rng)?;
			*request = id;
			with("Consent::approve_request", signed(p))
		}
		RuntimeCall::Consent(Consent::deny_request { request }) => {
			let (id, p) = pending_request(rng)?;
			*request = id;
			with("Consent::deny_request", signed(p))
		}
		RuntimeCall::Consent(Consent::attest_emergency { patient, doctor }) => {
			*patient = pick(rng, &PATIENTS).to_account_id();
			*doctor = pick(rng, &DOCTORS).to_account_id();
			with("Consent::attest_emergency", signed(pick(rng, &[INSTITUTION, PROXY])))
		}
		_ => None,
	}
}

/// `call`'s debug form, cut to a readable length.
fn show(call: &RuntimeCall) -> String {
	let s = format!("{call:?}");
	if s.len() > 400 {
		format!("{}... ({} chars)", &s[..400], s.len())
	} else {
		s
	}
}

/// What one campaign did, per pallet.
#[derive(Default, Debug)]
struct Tally {
	tried: usize,
	undecodable: usize,
	filtered: usize,
	failed: usize,
	succeeded: usize,
	/// Deep calls made, and how many of them succeeded.
	deep: usize,
	deep_succeeded: usize,
}

/// What a campaign did: per pallet, and per kind of deep call (made, succeeded).
struct Report {
	pallets: BTreeMap<String, Tally>,
	deep: BTreeMap<&'static str, (usize, usize)>,
	sequences: usize,
}

fn campaign(preset: &str, seed: u64) -> Report {
	let metadata = Runtime::metadata();
	let RuntimeMetadata::V14(m) = metadata.1 else { panic!("metadata V14 expected") };
	// The two snapshots sequences start from, built once.
	let bare = genesis(preset);
	let populated = with_cast(preset, &bare);
	let mut accounts: Vec<AccountId> = Keyring::iter().map(|k| k.to_account_id()).collect();
	accounts.push(AccountId::from([0xEE; 32]));
	let mut g = Gen { types: &m.types, rng: StdRng::seed_from_u64(seed), accounts, hashes: vec![] };
	let calls: Vec<_> = PALLETS
		.iter()
		.map(|pallet| {
			let meta = m.pallets.iter().find(|p| p.name == *pallet).expect("pallet in metadata");
			let call_ty = meta.calls.as_ref().expect("pallet has calls").ty.id;
			let TypeDef::Variant(calls) = &m.types.resolve(call_ty).unwrap().type_def else {
				panic!("{pallet}: calls are not a variant")
			};
			(meta.index, calls.variants.clone())
		})
		.collect();
	// Every pallet's calls, shuffled together, cut into sequences.
	let n = calls_per_pallet();
	let mut schedule: Vec<usize> = (0..PALLETS.len()).flat_map(|p| [p].repeat(n)).collect();
	schedule.shuffle(&mut g.rng);
	let mut tallies: Vec<Tally> = PALLETS.iter().map(|_| Tally::default()).collect();
	let mut deep_calls: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
	let sequences = schedule.chunks(sequence_len()).count();
	for (seq, sequence) in schedule.chunks(sequence_len()).enumerate() {
		let deep_sequence = g.rng.gen_bool(0.75);
		let mut ext = fresh(if deep_sequence { &populated } else { &bare });
		g.hashes.clear();
		for (j, &p) in sequence.iter().enumerate() {
			let pallet = PALLETS[p];
			let t = &mut tallies[p];
			let i = t.tried;
			let (pallet_index, variants) = &calls[p];
			let call = &variants[g.rng.gen_range(0..variants.len())];
			let mut bytes = vec![*pallet_index, call.index];
			for f in &call.fields {
				g.value(f.ty.id, &mut bytes, 0);
			}
			t.tried += 1;
			let Ok(mut decoded) = RuntimeCall::decode(&mut &bytes[..]) else {
				t.undecodable += 1;
				continue;
			};
			let at = format!("seed {seed}, {preset}: sequence {seq} call {j} ({pallet} call #{i})");
			ext.execute_with(|| {
				// Time moves: a block every few calls, a second per block and then some.
				if j % 7 == 0 {
					let next = frame_system::Pallet::<Runtime>::block_number() + 1;
					frame_system::Pallet::<Runtime>::set_block_number(next);
					pallet_timestamp::Now::<Runtime>::mutate(|t| {
						*t += 3_000 + g.rng.gen_range(0..600_000)
					});
				}
				let deep = if deep_sequence && g.rng.gen_bool(0.5) {
					deepen(&mut decoded, &mut g.rng, preset == CONSORTIUM_LOCAL)
				} else {
					None
				};
				let (name, who, origin) = match deep {
					Some((name, who, origin)) => (Some(name), who, origin),
					None => {
						let seats = pallet_collective::Members::<
							Runtime,
							mbds_runtime::configs::CouncilCollective,
						>::get()
						.len() as u32;
						let (who, origin) = origin(&mut g.rng, &g.accounts, seats);
						(None, who, origin)
					}
				};
				let before = sp_io::storage::root(StateVersion::V1);
				let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
					decoded.clone().dispatch(origin)
				}));
				let result = result
					.unwrap_or_else(|_| panic!("{at} panicked: {} from {who}", show(&decoded)));
				if let Some(name) = name {
					let d = deep_calls.entry(name).or_default();
					d.0 += 1;
					t.deep += 1;
					if result.is_ok() {
						d.1 += 1;
						t.deep_succeeded += 1;
					}
				}
				match result {
					Ok(_) => t.succeeded += 1,
					Err(e) => {
						if e.error == frame_system::Error::<Runtime>::CallFiltered.into() {
							t.filtered += 1;
						} else {
							t.failed += 1;
						}
						let after = sp_io::storage::root(StateVersion::V1);
						assert_eq!(
							before,
							after,
							"{at} failed ({:?}) but changed storage: {} from {who}",
							e.error,
							show(&decoded)
						);
					}
				}
				if let Err(broken) = invariants() {
					panic!(
						"{at} ({} from {who}, {:?}): {}",
						show(&decoded),
						result.map(|_| ()).map_err(|e| e.error),
						&broken[..broken.len().min(600)]
					);
				}
			});
			// Keep the overlay small: the state root is computed around every call, at a cost
			// that grows with the changes not yet committed to the backend.
			if j % 64 == 63 {
				ext.commit_all().expect("commit the overlay");
			}
		}
	}
	Report {
		pallets: PALLETS.iter().map(|p| p.to_string()).zip(tallies).collect(),
		deep: deep_calls,
		sequences,
	}
}

#[test]
fn every_pallet_call_with_random_origins_and_arguments_keeps_the_invariants() {
	let seed = std::env::var("MBDS_FUZZ_SEED")
		.ok()
		.and_then(|v| v.parse().ok())
		.unwrap_or_else(|| rand::random::<u64>() % 1_000_000);
	println!(
		"fuzz seed {seed} (MBDS_FUZZ_SEED={seed} replays it), {} calls per pallet and chain, sequences of {}",
		calls_per_pallet(),
		sequence_len()
	);
	let start = std::time::Instant::now();
	for preset in [HOSPITAL_LOCAL, CONSORTIUM_LOCAL] {
		let chain_start = std::time::Instant::now();
		let report = campaign(preset, seed);
		for (pallet, t) in &report.pallets {
			println!(
				"{preset:>16} {pallet:>18}: {} calls: {} refused at decoding, {} filtered, {} failed with their error (storage unchanged), {} succeeded; {} deep calls, {} succeeded",
				t.tried, t.undecodable, t.filtered, t.failed, t.succeeded, t.deep, t.deep_succeeded
			);
			assert_eq!(t.tried, calls_per_pallet());
			assert!(
				t.failed + t.succeeded > 0,
				"{preset} {pallet}: no call decoded and reached the pallet: {t:?}"
			);
		}
		for (name, (made, succeeded)) in &report.deep {
			println!("{preset:>16} deep {name:>26}: {made} made, {succeeded} succeeded");
		}
		println!(
			"{preset:>16}: {} sequences in {:.1} s",
			report.sequences,
			chain_start.elapsed().as_secs_f64()
		);
	}
	println!("fuzzing took {:.1} s", start.elapsed().as_secs_f64());
}

/// The call origin of a passed council motion reaches the pallets the same way a real motion
/// does (the harness's council origin is not a shortcut around the filter or the threshold).
#[test]
fn the_harness_council_origin_is_the_collectives() {
	let mut ext = genesis(HOSPITAL_LOCAL);
	ext.execute_with(|| {
		let call =
			RuntimeCall::Governance(pallet_governance::Call::set_session_period { blocks: 20 });
		let one_of_three = pallet_collective::RawOrigin::<
			AccountId,
			mbds_runtime::configs::CouncilCollective,
		>::Members(1, 3);
		assert!(call.clone().dispatch(one_of_three.into()).is_err());
		let two_of_three = pallet_collective::RawOrigin::<
			AccountId,
			mbds_runtime::configs::CouncilCollective,
		>::Members(2, 3);
		assert!(call.clone().dispatch(two_of_three.into()).is_ok());
		assert_eq!(pallet_governance::SessionPeriod::<Runtime>::get(), 20);
	});
}
