//! `mbds kmc register|employ|set-institution`: the key management centre registers
//! participants (patients and doctors: a KMC operator the council appointed signs alone;
//! institutions: a council motion), an institution confirms the doctors it employs, and the
//! council names a private chain's institution (a motion of two thirds of its members).

use crate::common::{account, connect, out, ss58, submit, Out};
use clap::{Subcommand, ValueEnum};
use mbds_client::sudo;
use mbds_crypto::PrePublicKey;
use mbds_primitives::{InstitutionKind, Role};
use mbds_runtime::{AccountId, RuntimeCall, RuntimeEvent};
use serde_json::{json, Value};
use sp_core::{sr25519, H256};
use std::path::{Path, PathBuf};

#[derive(Subcommand)]
pub enum KmcCmd {
	/// Register participants from their exported public keys. A KMC operator registers
	/// patients and doctors; institutions of every kind (health authorities included) only a
	/// council motion. Several participants at once: give `--public`, `--role` and
	/// `--identity` once per participant, in the same order; they are sent together (one
	/// motion each, voted and closed in the same three rounds).
	Register {
		/// The participant's exported public keys (`mbds keys export`).
		#[arg(long, required = true)]
		public: Vec<PathBuf>,
		/// patient | doctor:<institution SS58> | hospital | platform | health-authority |
		/// insurer | research | medicine-company
		#[arg(long, value_parser = parse_role, required = true)]
		role: Vec<Role<AccountId>>,
		/// The verified real identity (only its BLAKE2-256 commitment goes on chain).
		#[arg(long, required = true)]
		identity: Vec<String>,
		/// The chain's RPC URL.
		#[arg(long)]
		chain: String,
		#[command(flatten)]
		by: Authority,
	},
	/// As an institution, confirm that you employ doctors the KMC registered for you: a doctor
	/// acts (writes slips, requests access, reads) only once its institution confirmed it.
	Employ {
		#[command(flatten)]
		key: crate::args::KeyArg,
		/// A doctor's account (SS58); once per doctor.
		#[arg(long, required = true)]
		doctor: Vec<String>,
		/// The chain's RPC URL.
		#[arg(long)]
		chain: String,
	},
	/// Make `institution` the institution whose doctors write slips on this private chain.
	SetInstitution {
		/// The institution's account (SS58).
		#[arg(long)]
		institution: String,
		/// The private chain's RPC URL.
		#[arg(long)]
		chain: String,
		#[command(flatten)]
		by: Authority,
	},
}

/// The kinds of institution a participant may be registered as.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstitutionKindArg {
	/// A hospital.
	Hospital,
	/// An internet (telemedicine) platform.
	Platform,
	/// A health authority (runs a search and re-encryption proxy).
	HealthAuthority,
	/// An insurer.
	Insurer,
	/// A research institute.
	Research,
	/// A medicine company.
	MedicineCompany,
}

impl From<InstitutionKindArg> for InstitutionKind {
	fn from(k: InstitutionKindArg) -> Self {
		match k {
			InstitutionKindArg::Hospital => InstitutionKind::Hospital,
			InstitutionKindArg::Platform => InstitutionKind::InternetPlatform,
			InstitutionKindArg::HealthAuthority => InstitutionKind::HealthAuthority,
			InstitutionKindArg::Insurer => InstitutionKind::Insurer,
			InstitutionKindArg::Research => InstitutionKind::ResearchInstitute,
			InstitutionKindArg::MedicineCompany => InstitutionKind::MedicineCompany,
		}
	}
}

/// `--role`: `patient`, `doctor:<institution SS58>`, or an institution kind.
fn parse_role(s: &str) -> Result<Role<AccountId>, String> {
	if s == "patient" {
		return Ok(Role::Patient);
	}
	if let Some(inst) = s.strip_prefix("doctor:") {
		return Ok(Role::Doctor { institution: account("--role doctor:<institution>", inst)? });
	}
	InstitutionKindArg::from_str(s, false).map(|k| Role::Institution(k.into())).map_err(|_| {
		let kinds = InstitutionKindArg::value_variants()
			.iter()
			.filter_map(|k| k.to_possible_value().map(|v| v.get_name().to_string()))
			.collect::<Vec<_>>()
			.join(", ");
		format!("unknown role {s:?} (patient, doctor:<institution SS58>, {kinds})")
	})
}

/// Who authorises a privileged call: exactly one of a KMC operator, council members, or root.
#[derive(clap::Args, Debug)]
#[group(required = true, multiple = false)]
pub struct Authority {
	/// A KMC operator's secret URI: the operator signs the call alone (the council appoints
	/// operators; the local presets appoint //Alice).
	#[arg(long, value_name = "SURI")]
	operator: Option<String>,
	/// A council member's secret URI, once per member (at least two thirds of the seats:
	/// 2 of 3 on a private chain, 4 of 5 on the consortium): the call becomes a council
	/// motion, proposed by the first, voted aye by the others, and closed.
	#[arg(long = "council", value_name = "SURI")]
	council: Vec<String>,
	/// The root key (only the one-node development chain has one).
	#[arg(long, value_name = "SURI")]
	sudo: Option<String>,
}

fn pair_of(flag: &str, suri: &str) -> Result<sr25519::Pair, String> {
	mbds_client::keys::secret_uri(flag, suri).map_err(String::from)
}

/// Runs `call` as `by` says; returns the block it ran in and the events it emitted, or the
/// call's own error.
fn authorise(
	client: &mbds_client::Client,
	call: RuntimeCall,
	by: &Authority,
	what: &str,
) -> Result<(u32, Vec<RuntimeEvent>), String> {
	let mut done = authorise_all(client, vec![call], by, what)?;
	done.pop().ok_or_else(|| format!("{what}: nothing was sent"))
}

/// Runs every call of `calls` as `by` says, sent together (an operator's transactions in one
/// go, then waited for; the council's motions in three rounds). For each, the block it ran in
/// and the events it emitted; or the first call's error.
fn authorise_all(
	client: &mbds_client::Client,
	calls: Vec<RuntimeCall>,
	by: &Authority,
	what: &str,
) -> Result<Vec<(u32, Vec<RuntimeEvent>)>, String> {
	let n = calls.len();
	if let Some(suri) = &by.operator {
		let operator = pair_of("operator", suri)?;
		let pb =
			crate::common::spinner(format!("{what}: {n} transaction(s) on {}", client.rpc.url));
		let done = client
			.submit_all(calls, &operator, crate::common::INCLUSION_TIMEOUT)
			.map(|all| all.into_iter().map(|inc| (inc.number, inc.events)).collect::<Vec<_>>());
		pb.finish_and_clear();
		return done.map_err(|e| format!("{what}: {e}"));
	}
	if let Some(suri) = &by.sudo {
		let key = pair_of("sudo", suri)?;
		let mut done = Vec::with_capacity(n);
		for call in calls {
			let inc = submit(client, sudo(call), &key, what)?;
			if let Some(e) = inc.events.iter().find_map(|e| match e {
				RuntimeEvent::Sudo(pallet_sudo::Event::Sudid { sudo_result: Err(e) }) => {
					Some(mbds_client::describe_dispatch_error(e))
				}
				_ => None,
			}) {
				return Err(format!("{what} failed: {e}"));
			}
			done.push((inc.number, inc.events));
		}
		return Ok(done);
	}
	let members = mbds_client::council::member_keys(&by.council).map_err(|e| e.to_string())?;
	let pb = crate::common::spinner(format!("{what}: {n} council motion(s) on {}", client.rpc.url));
	let done = mbds_client::council::motions(client, calls, &members);
	pb.finish_and_clear();
	let done = done.map_err(|e| format!("{what}: {e}"))?;
	Ok(done.into_iter().map(|m| (m.executed.number, m.executed.events)).collect())
}

/// Reads an exported public key file: the account and the key set to register.
fn read_public(
	path: &Path,
) -> Result<(AccountId, pallet_kmc::KeySetOf<mbds_runtime::Runtime>), String> {
	let file = format!("public key file {}", path.display());
	let text = std::fs::read_to_string(path).map_err(|e| format!("{file}: {e}"))?;
	parse_public(&text).map_err(|e| format!("{file}: {e}"))
}

/// Parses the text of an exported public key file (`mbds keys export`); the error names the
/// field at fault.
fn parse_public(
	text: &str,
) -> Result<(AccountId, pallet_kmc::KeySetOf<mbds_runtime::Runtime>), String> {
	let v: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
	if !v.is_object() {
		return Err("not a JSON object (made by `mbds keys export`)".into());
	}
	if v["kind"] != "mbds-public-keys" {
		return Err("field `kind` must be \"mbds-public-keys\" (made by `mbds keys export`)".into());
	}
	let text_field = |name: &str| -> Result<&str, String> {
		match v.get(name) {
			None => Err(format!("field `{name}` missing")),
			Some(x) => x.as_str().ok_or_else(|| format!("field `{name}` is {x}, not a string")),
		}
	};
	let field = |name: &str| -> Result<Vec<u8>, String> {
		let s = text_field(name)?;
		hex::decode(s.strip_prefix("0x").unwrap_or(s))
			.map_err(|e| format!("field `{name}`: not hex: {e}"))
	};
	let who = account("field `account`", text_field("account")?)?;
	let record = field("record_key")?;
	PrePublicKey::from_compressed_bytes(&record).map_err(|e| format!("field `record_key`: {e}"))?;
	let search = field("search_key")?;
	let tester = match v.get("search_key_kind") {
		None => return Err("field `search_key_kind` missing (\"receiver\" or \"tester\")".into()),
		Some(k) if k == "receiver" => false,
		Some(k) if k == "tester" => true,
		Some(k) => {
			return Err(format!(
				"field `search_key_kind` is {k}, expected \"receiver\" or \"tester\""
			))
		}
	};
	let ok = if tester {
		mbds_crypto::TesterPublicKey::from_bytes(&search).map(|_| ())
	} else {
		mbds_crypto::PeksPublicKey::from_bytes(&search).map(|_| ())
	};
	ok.map_err(|e| format!("field `search_key`: {e}"))?;
	use pallet_kmc::{KeyScheme, PublicKey};
	let set = pallet_kmc::KeySet {
		record_key: PublicKey {
			scheme: KeyScheme::UmbralSecp256k1V1,
			key: record.try_into().map_err(|_| "field `record_key`: too long".to_string())?,
		},
		search_key: PublicKey {
			scheme: KeyScheme::PeksBls12381V1,
			key: search.try_into().map_err(|_| "field `search_key`: too long".to_string())?,
		},
	};
	Ok((who, set))
}

pub fn run(c: KmcCmd) -> Result<Out, String> {
	match c {
		KmcCmd::Register { public, role, identity, chain: url, by } => {
			if public.len() != role.len() || public.len() != identity.len() {
				return Err(format!(
					"give --public, --role and --identity once per participant: {} --public, {} --role, {} --identity",
					public.len(),
					role.len(),
					identity.len()
				));
			}
			let mut people = Vec::with_capacity(public.len());
			for ((path, role), identity) in public.iter().zip(role).zip(&identity) {
				let (who, keys) = read_public(path)?;
				people.push((
					who,
					role,
					H256(sp_crypto_hashing::blake2_256(identity.as_bytes())),
					keys,
				));
			}
			let client = connect(&url, "chain")?;
			let calls = people
				.iter()
				.map(|(who, role, identity, keys)| {
					RuntimeCall::Kmc(pallet_kmc::Call::register {
						who: who.clone(),
						role: role.clone(),
						identity: *identity,
						keys: keys.clone(),
					})
				})
				.collect();
			let done = authorise_all(&client, calls, &by, "KMC registration")?;
			let (mut lines, mut registered) = (Vec::new(), Vec::new());
			for ((who, role, ..), (block, events)) in people.iter().zip(done) {
				let ok = events.iter().any(
					|e| matches!(e, RuntimeEvent::Kmc(pallet_kmc::Event::Registered { who: w, .. }) if w == who),
				);
				if !ok {
					return Err(format!(
						"KMC registration of {} failed: no Registered event",
						ss58(who)
					));
				}
				lines.push(format!(
					"registered {} as {role:?} on {} (block #{})",
					ss58(who),
					url,
					block
				));
				registered.push(json!({"account": ss58(who), "block": block}));
			}
			let first = registered[0].clone();
			out(
				lines,
				json!({"account": first["account"], "block": first["block"], "registered": registered}),
			)
		}
		KmcCmd::Employ { key, doctor, chain: url } => {
			let keys = mbds_client::keys::ParticipantKeys::load(&key.keys)?;
			let doctors =
				doctor.iter().map(|d| account("--doctor", d)).collect::<Result<Vec<_>, _>>()?;
			let client = connect(&url, "chain")?;
			let signer = keys.pair();
			let pb =
				crate::common::spinner(format!("confirming {} doctor(s) on {url}", doctors.len()));
			// Sent together (nonces follow each other in the pool), then waited for.
			let calls = doctors
				.iter()
				.map(|d| RuntimeCall::Kmc(pallet_kmc::Call::employ { doctor: d.clone() }))
				.collect();
			let done = client.submit_all(calls, &signer, crate::common::INCLUSION_TIMEOUT);
			pb.finish_and_clear();
			let done = done.map_err(|e| format!("confirming the doctors' employment: {e}"))?;
			let lines = doctors
				.iter()
				.zip(&done)
				.map(|(d, inc)| {
					format!("{} employs {} (block #{})", ss58(&keys.account()), ss58(d), inc.number)
				})
				.collect();
			out(
				lines,
				json!({"institution": ss58(&keys.account()), "doctors": doctors.iter().map(ss58).collect::<Vec<_>>()}),
			)
		}
		KmcCmd::SetInstitution { institution, chain: url, by } => {
			let client = connect(&url, "chain")?;
			let inst = account("--institution", &institution)?;
			let call = RuntimeCall::Slips(pallet_slips::Call::set_institution {
				institution: inst.clone(),
			});
			let (block, _) = authorise(&client, call, &by, "setting the chain's institution")?;
			out(
				vec![format!("{} is now the institution of {}", ss58(&inst), url)],
				json!({"institution": ss58(&inst), "block": block}),
			)
		}
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn roles_keep_their_spellings() {
		let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
		assert_eq!(parse_role("patient"), Ok(Role::Patient));
		assert_eq!(
			parse_role(&format!("doctor:{alice}")),
			Ok(Role::Doctor { institution: account("a", alice).unwrap() })
		);
		for (s, kind) in [
			("hospital", InstitutionKind::Hospital),
			("platform", InstitutionKind::InternetPlatform),
			("health-authority", InstitutionKind::HealthAuthority),
			("insurer", InstitutionKind::Insurer),
			("research", InstitutionKind::ResearchInstitute),
			("medicine-company", InstitutionKind::MedicineCompany),
		] {
			assert_eq!(parse_role(s), Ok(Role::Institution(kind)));
		}
		assert_eq!(
			parse_role("nurse"),
			Err("unknown role \"nurse\" (patient, doctor:<institution SS58>, hospital, platform, health-authority, insurer, research, medicine-company)".into())
		);
		assert!(parse_role("doctor:nobody").is_err());
	}

	/// Fuzzing of the exported public key file parser ([`parse_public`], what [`read_public`]
	/// runs on the file's text). 256 cases per property by default;
	/// `PROPTEST_CASES=100000 cargo test --release -p mbds-cli fuzz_` for a long run.
	mod fuzz {
		use super::*;
		use mbds_client::keys::{ParticipantKeys, SearchKey};
		use proptest::prelude::*;
		use proptest::sample::Index;

		fn config() -> ProptestConfig {
			let mut c = ProptestConfig::default();
			if std::env::var_os("PROPTEST_CASES").is_none() {
				c.cases = 256;
			}
			c
		}

		/// What `mbds keys export` writes for the participant of `seed`.
		fn export(seed: [u8; 32], tester: bool) -> Value {
			let keys = ParticipantKeys::from_seed(seed);
			let set = keys.key_set(if tester { SearchKey::Tester } else { SearchKey::Receiver });
			json!({
				"kind": "mbds-public-keys",
				"account": keys.ss58(),
				"record_key": format!("0x{}", hex::encode(&set.record_key.key)),
				"search_key": format!("0x{}", hex::encode(&set.search_key.key)),
				"search_key_kind": if tester { "tester" } else { "receiver" },
			})
		}

		const FIELDS: [&str; 5] =
			["kind", "account", "record_key", "search_key", "search_key_kind"];

		fn specific(e: &str, text: &str) -> Result<(), TestCaseError> {
			prop_assert!(
				e.starts_with("not JSON")
					|| e.starts_with("not a JSON object")
					|| e.starts_with("field `"),
				"unspecific public key file error {e:?} for {text:?}"
			);
			Ok(())
		}

		fn json_value() -> impl Strategy<Value = Value> {
			let leaf = prop_oneof![
				Just(Value::Null),
				any::<bool>().prop_map(Value::from),
				any::<i64>().prop_map(Value::from),
				prop::sample::select(vec!["mbds-public-keys", "tester", "receiver", ""])
					.prop_map(Value::from),
				"(0x)?[0-9a-f]{0,110}".prop_map(Value::from),
				"\\PC{0,10}".prop_map(Value::from),
			];
			leaf.prop_recursive(3, 16, 5, |inner| {
				prop_oneof![
					proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
					proptest::collection::vec((prop::sample::select(FIELDS.to_vec()), inner), 0..6)
						.prop_map(|kv| Value::Object(
							kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
						)),
				]
			})
		}

		proptest! {
			#![proptest_config(config())]

			#[test]
			fn fuzz_public_file_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
				let text = String::from_utf8_lossy(&bytes);
				match parse_public(&text) {
					Ok(_) => prop_assert!(false, "accepted {text:?}"),
					Err(e) => specific(&e, &text)?,
				}
			}

			#[test]
			fn fuzz_public_file_arbitrary_json(v in json_value()) {
				let text = v.to_string();
				if let Err(e) = parse_public(&text) {
					specific(&e, &text)?;
				}
			}

			#[test]
			fn fuzz_public_file_round_trip(seed in any::<[u8; 32]>(), tester in any::<bool>()) {
				let keys = ParticipantKeys::from_seed(seed);
				let (who, set) = parse_public(&export(seed, tester).to_string()).unwrap();
				prop_assert_eq!(who, keys.account());
				prop_assert_eq!(set, keys.key_set(if tester { SearchKey::Tester } else { SearchKey::Receiver }));
			}

			/// One field of a valid export replaced, changed by a character, or removed.
			#[test]
			fn fuzz_public_file_field_mutated(
				seed in any::<[u8; 32]>(),
				tester in any::<bool>(),
				name in prop::sample::select(FIELDS.to_vec()),
				replace in proptest::option::of(json_value()),
				at in any::<Index>(),
				c in any::<char>(),
				remove in any::<bool>(),
			) {
				let Value::Object(mut map) = export(seed, tester) else { unreachable!() };
				if remove {
					map.remove(name);
				} else if let Some(v) = replace {
					map.insert(name.into(), v);
				} else {
					let mut chars: Vec<char> = map[name].as_str().unwrap().chars().collect();
					let i = at.index(chars.len());
					chars[i] = c;
					map.insert(name.into(), Value::from(chars.into_iter().collect::<String>()));
				}
				let text = Value::Object(map).to_string();
				if let Err(e) = parse_public(&text) {
					specific(&e, &text)?;
					prop_assert!(e.contains(&format!("field `{name}`")), "{e:?} does not name `{name}`");
				}
			}
		}

		/// Regression: a missing `account` was reported as `"" is not an SS58 account`, a
		/// field that is not a string as missing, a missing or unknown `search_key_kind`
		/// silently read as a receiver key (a tester key then failed as "field `search_key`:
		/// expected a dPEKS receiver public key"), and `0x0x…` accepted as hex.
		#[test]
		fn fuzz_regression_public_file_errors_name_the_field() {
			let valid = export([3; 32], true);
			let with = |name: &str, v: Option<Value>| {
				let Value::Object(mut m) = valid.clone() else { unreachable!() };
				match v {
					Some(v) => m.insert(name.into(), v),
					None => m.remove(name),
				};
				parse_public(&Value::Object(m).to_string()).unwrap_err()
			};
			assert_eq!(with("account", None), "field `account` missing");
			assert_eq!(
				with("search_key_kind", None),
				"field `search_key_kind` missing (\"receiver\" or \"tester\")"
			);
			assert_eq!(with("record_key", Some(json!(7))), "field `record_key` is 7, not a string");
			assert_eq!(
				with("search_key_kind", Some(json!("Tester"))),
				"field `search_key_kind` is \"Tester\", expected \"receiver\" or \"tester\""
			);
			let doubled = format!("0x{}", valid["record_key"].as_str().unwrap());
			assert!(
				with("record_key", Some(json!(doubled))).starts_with("field `record_key`: not hex")
			);
			assert!(parse_public("[]").unwrap_err().starts_with("not a JSON object"));
		}
	}
}
