//! Fuzzing of every call of every MBDS pallet, natively against the real runtime (no network).
//!
//! Random sequences of calls with random origins (unsigned, a council motion's origin with
//! random ayes, or a signed account: a participant, a council member, the KMC operator
//! or a stranger) and random arguments. The arguments are drawn from the runtime's own
//! metadata: every call's field types are walked and filled with values at and beyond their
//! bounds (integers at 0, 1, the maximum and random; sequences empty, short, at common bounds
//! and past them; accounts mostly from the genesis participants and councils, so that calls
//! get past their origin checks and reach deeper code). The bytes are decoded as a
//! `RuntimeCall` exactly as the chain decodes a transaction; what does not decode (a bound
//! exceeded, an unknown variant) is counted as refused at decoding. What decodes is
//! dispatched through the runtime's call filter. After every call the test checks:
//! - no panic;
//! - a failed call changed no storage (the state root is unchanged);
//! - the runtime's invariants hold: every registered participant has keys and its identity
//!   commitment points back to it, every index entry is backed by a participant, only
//!   suspended participants have a recorded suspender, a doctor's institution is a hospital or
//!   platform, the council keeps at least three distinct seats, the session period stays in
//!   its bounds and the session never starts in the future.
//!
//! The test command runs a short campaign (`MBDS_FUZZ_CALLS`, default 3,000 calls per pallet
//! on each of a hospital chain and the consortium: 54,000 calls, about 8-15 s here); the long
//! one is
//! `MBDS_FUZZ_CALLS=100000 cargo test --release --workspace --exclude mbds-bencher --test fuzz_calls -- --nocapture every_pallet`
//! (`MBDS_FUZZ_SEED` replays a run; every run prints its seed). The time grows faster than
//! the calls, since the invariants scan every participant after every call and the state
//! grows: 12,000 calls per pallet and chain took 77 s here.
//!
//! What it does not reach yet: calls that need a valid signature inside their arguments (a
//! patient's visit proof, a user's signed access request), a GRANDPA justification or a
//! Merkle proof mostly fail at those checks, so the deeper code of `Slips`, `Consent` and
//! `Anchor` is exercised by their unit tests and the network tests rather than here.

use codec::{Compact, Decode, Encode};
use frame_metadata::RuntimeMetadata;
use mbds_runtime::{
	genesis_config_presets::{preset_json, CONSORTIUM_LOCAL, HOSPITAL_LOCAL},
	AccountId, Runtime, RuntimeCall, RuntimeGenesisConfig, RuntimeOrigin,
};
use rand::{rngs::StdRng, Rng, SeedableRng};
use scale_info::{PortableRegistry, TypeDef, TypeDefPrimitive};
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

/// A chain's genesis state, from its preset.
fn genesis(preset: &str) -> sp_io::TestExternalities {
	let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).unwrap();
	json_merge(&mut config, preset_json(preset).expect("preset exists"));
	let config: RuntimeGenesisConfig = serde_json::from_value(config).expect("preset decodes");
	let mut ext: sp_io::TestExternalities = config.build_storage().expect("genesis builds").into();
	ext.execute_with(|| {
		frame_system::Pallet::<Runtime>::set_block_number(1);
		pallet_timestamp::Now::<Runtime>::put(1_700_000_000_000u64);
	});
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

/// Every invariant of the MBDS state this test knows; `Err` names the one broken.
fn invariants() -> Result<(), String> {
	use pallet_kmc::{ActiveKeys, IdentityOwner, ParticipantStatus, Participants, SuspendedBy};
	let mut count = 0usize;
	for (who, p) in Participants::<Runtime>::iter() {
		count += 1;
		if ActiveKeys::<Runtime>::get(&who).is_none() {
			return Err(format!("participant {who} has no active keys"));
		}
		if IdentityOwner::<Runtime>::get(p.identity).as_ref() != Some(&who) {
			return Err(format!("the identity commitment of {who} does not point to it"));
		}
		let suspended = p.status == ParticipantStatus::Suspended;
		if SuspendedBy::<Runtime>::contains_key(&who) != suspended {
			return Err(format!(
				"{who}: status {:?} but suspender {:?}",
				p.status,
				SuspendedBy::<Runtime>::get(&who)
			));
		}
		if let mbds_primitives::Role::Doctor { institution } = &p.role {
			let employer = Participants::<Runtime>::get(institution).ok_or_else(|| {
				format!("doctor {who}'s institution {institution} is not registered")
			})?;
			if !matches!(
				employer.role,
				mbds_primitives::Role::Institution(
					mbds_primitives::InstitutionKind::Hospital
						| mbds_primitives::InstitutionKind::InternetPlatform
				)
			) {
				return Err(format!("doctor {who} works for a {:?}", employer.role));
			}
		}
	}
	if IdentityOwner::<Runtime>::iter().count() != count {
		return Err("an identity index entry no participant backs".into());
	}
	if ActiveKeys::<Runtime>::iter().count() != count {
		return Err("active keys of an account that is not a participant".into());
	}
	let seats =
		pallet_collective::Members::<Runtime, mbds_runtime::configs::CouncilCollective>::get();
	let distinct: std::collections::BTreeSet<_> = seats.iter().collect();
	if distinct.len() != seats.len() || seats.len() < mbds_runtime::configs::MIN_COUNCIL_SEATS {
		return Err(format!("council seats {seats:?}"));
	}
	let period = pallet_governance::SessionPeriod::<Runtime>::get();
	if !(mbds_runtime::configs::MIN_SESSION_PERIOD..=mbds_runtime::configs::MAX_SESSION_PERIOD)
		.contains(&period)
	{
		return Err(format!("session period {period}"));
	}
	let now = frame_system::Pallet::<Runtime>::block_number();
	if pallet_governance::SessionStart::<Runtime>::get() > now {
		return Err("the session starts in the future".into());
	}
	Ok(())
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
}

fn campaign(preset: &str, seed: u64) -> BTreeMap<String, Tally> {
	let metadata = Runtime::metadata();
	let RuntimeMetadata::V14(m) = metadata.1 else { panic!("metadata V14 expected") };
	let mut ext = genesis(preset);
	let mut accounts: Vec<AccountId> = Keyring::iter().map(|k| k.to_account_id()).collect();
	ext.execute_with(|| {
		accounts.extend(pallet_kmc::Participants::<Runtime>::iter_keys());
	});
	accounts.push(AccountId::from([0xEE; 32]));
	let mut g = Gen { types: &m.types, rng: StdRng::seed_from_u64(seed), accounts, hashes: vec![] };
	let n = calls_per_pallet();
	let mut tallies = BTreeMap::new();
	for pallet in PALLETS {
		let meta = m.pallets.iter().find(|p| p.name == pallet).expect("pallet in metadata");
		let call_ty = meta.calls.as_ref().expect("pallet has calls").ty.id;
		let TypeDef::Variant(calls) = &m.types.resolve(call_ty).unwrap().type_def else {
			panic!("{pallet}: calls are not a variant")
		};
		let mut t = Tally::default();
		for i in 0..n {
			let call = &calls.variants[g.rng.gen_range(0..calls.variants.len())];
			let mut bytes = vec![meta.index, call.index];
			for f in &call.fields {
				g.value(f.ty.id, &mut bytes, 0);
			}
			t.tried += 1;
			let Ok(decoded) = RuntimeCall::decode(&mut &bytes[..]) else {
				t.undecodable += 1;
				continue;
			};
			let seats = ext.execute_with(|| {
				pallet_collective::Members::<Runtime, mbds_runtime::configs::CouncilCollective>::get()
					.len() as u32
			});
			let (who, origin) = origin(&mut g.rng, &g.accounts, seats);
			ext.execute_with(|| {
				// Time moves: a block every few calls, a second per block and then some.
				if i % 7 == 0 {
					let next = frame_system::Pallet::<Runtime>::block_number() + 1;
					frame_system::Pallet::<Runtime>::set_block_number(next);
					pallet_timestamp::Now::<Runtime>::mutate(|t| {
						*t += 3_000 + g.rng.gen_range(0..600_000)
					});
				}
				let before = sp_io::storage::root(StateVersion::V1);
				let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
					decoded.clone().dispatch(origin)
				}));
				let result = result.unwrap_or_else(|_| {
					panic!(
						"seed {seed}, {preset}: {pallet} call #{i} panicked: {} from {who}",
						show(&decoded)
					)
				});
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
							before, after,
							"seed {seed}, {preset}: {pallet} call #{i} failed ({:?}) but changed storage: {} from {who}",
							e.error,
							show(&decoded)
						);
					}
				}
				if let Err(broken) = invariants() {
					panic!(
						"seed {seed}, {preset}: after {pallet} call #{i} ({} from {who}, {:?}): {}",
						show(&decoded),
						result.map(|_| ()).map_err(|e| e.error),
						&broken[..broken.len().min(400)]
					);
				}
			});
			// Keep the overlay small: the state root is computed around every call, at a cost
			// that grows with the changes not yet committed to the backend.
			if i % 64 == 63 {
				ext.commit_all().expect("commit the overlay");
			}
		}
		tallies.insert(pallet.to_string(), t);
	}
	tallies
}

#[test]
fn every_pallet_call_with_random_origins_and_arguments_keeps_the_invariants() {
	let seed = std::env::var("MBDS_FUZZ_SEED")
		.ok()
		.and_then(|v| v.parse().ok())
		.unwrap_or_else(|| rand::random::<u64>() % 1_000_000);
	println!(
		"fuzz seed {seed} (MBDS_FUZZ_SEED={seed} replays it), {} calls per pallet and chain",
		calls_per_pallet()
	);
	let start = std::time::Instant::now();
	for preset in [HOSPITAL_LOCAL, CONSORTIUM_LOCAL] {
		for (pallet, t) in campaign(preset, seed) {
			println!(
				"{preset:>16} {pallet:>12}: {} calls: {} refused at decoding, {} filtered, {} failed with their error (storage unchanged), {} succeeded",
				t.tried, t.undecodable, t.filtered, t.failed, t.succeeded
			);
			assert_eq!(t.tried, calls_per_pallet());
			assert!(
				t.failed + t.succeeded > 0,
				"{preset} {pallet}: no call decoded and reached the pallet: {t:?}"
			);
		}
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
