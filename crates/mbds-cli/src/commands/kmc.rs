//! `mbds kmc register|set-institution`: the key management centre registers participants (a
//! KMC operator the council appointed signs alone) and the council names a private chain's
//! institution (a motion of two thirds of its members).

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
	/// Register a participant from its exported public keys.
	Register {
		/// The participant's exported public keys (`mbds keys export`).
		#[arg(long)]
		public: PathBuf,
		/// patient | doctor:<institution SS58> | hospital | platform | health-authority |
		/// insurer | research | medicine-company
		#[arg(long, value_parser = parse_role)]
		role: Role<AccountId>,
		/// The verified real identity (only its BLAKE2-256 commitment goes on chain).
		#[arg(long)]
		identity: String,
		/// The chain's RPC URL.
		#[arg(long)]
		chain: String,
		#[command(flatten)]
		by: Authority,
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
	if let Some(suri) = &by.operator {
		let inc = submit(client, call, &pair_of("operator", suri)?, what)?;
		return Ok((inc.number, inc.events));
	}
	if let Some(suri) = &by.sudo {
		let inc = submit(client, sudo(call), &pair_of("sudo", suri)?, what)?;
		if let Some(e) = inc.events.iter().find_map(|e| match e {
			RuntimeEvent::Sudo(pallet_sudo::Event::Sudid { sudo_result: Err(e) }) => {
				Some(mbds_client::describe_dispatch_error(e))
			}
			_ => None,
		}) {
			return Err(format!("{what} failed: {e}"));
		}
		return Ok((inc.number, inc.events));
	}
	let members = mbds_client::council::member_keys(&by.council).map_err(|e| e.to_string())?;
	let pb = crate::common::spinner(format!("{what}: council motion on {}", client.rpc.url));
	let motion = mbds_client::council::motion(client, call, &members);
	pb.finish_and_clear();
	let motion = motion.map_err(|e| format!("{what}: {e}"))?;
	Ok((motion.executed.number, motion.executed.events))
}

/// Reads an exported public key file: the account and the key set to register.
fn read_public(
	path: &Path,
) -> Result<(AccountId, pallet_kmc::KeySetOf<mbds_runtime::Runtime>), String> {
	let file = || format!("public key file {}", path.display());
	let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", file()))?;
	let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", file()))?;
	if v["kind"] != "mbds-public-keys" {
		return Err(format!(
			"{}: field `kind` must be \"mbds-public-keys\" (made by `mbds keys export`)",
			file()
		));
	}
	let field = |name: &str| -> Result<Vec<u8>, String> {
		let s = v[name].as_str().ok_or_else(|| format!("{}: field `{name}` missing", file()))?;
		hex::decode(s.trim_start_matches("0x"))
			.map_err(|e| format!("{}: field `{name}`: not hex: {e}", file()))
	};
	let who =
		account(&format!("{}: field `account`", file()), v["account"].as_str().unwrap_or(""))?;
	let record = field("record_key")?;
	PrePublicKey::from_compressed_bytes(&record)
		.map_err(|e| format!("{}: field `record_key`: {e}", file()))?;
	let search = field("search_key")?;
	let tester = v["search_key_kind"] == "tester";
	let ok = if tester {
		mbds_crypto::TesterPublicKey::from_bytes(&search).map(|_| ())
	} else {
		mbds_crypto::PeksPublicKey::from_bytes(&search).map(|_| ())
	};
	ok.map_err(|e| format!("{}: field `search_key`: {e}", file()))?;
	use pallet_kmc::{KeyScheme, PublicKey};
	let set = pallet_kmc::KeySet {
		record_key: PublicKey {
			scheme: KeyScheme::UmbralSecp256k1V1,
			key: record.try_into().map_err(|_| format!("{}: record_key too long", file()))?,
		},
		search_key: PublicKey {
			scheme: KeyScheme::PeksBls12381V1,
			key: search.try_into().map_err(|_| format!("{}: search_key too long", file()))?,
		},
	};
	Ok((who, set))
}

pub fn run(c: KmcCmd) -> Result<Out, String> {
	match c {
		KmcCmd::Register { public, role, identity, chain: url, by } => {
			let (who, keys) = read_public(&public)?;
			let client = connect(&url, "chain")?;
			let commitment = H256(sp_crypto_hashing::blake2_256(identity.as_bytes()));
			let call = RuntimeCall::Kmc(pallet_kmc::Call::register {
				who: who.clone(),
				role: role.clone(),
				identity: commitment,
				keys,
			});
			let (block, events) = authorise(&client, call, &by, "KMC registration")?;
			let registered = events
				.iter()
				.any(|e| matches!(e, RuntimeEvent::Kmc(pallet_kmc::Event::Registered { .. })));
			if !registered {
				return Err(format!(
					"KMC registration of {} failed: no Registered event",
					ss58(&who)
				));
			}
			out(
				vec![format!(
					"registered {} as {role:?} on {} (block #{})",
					ss58(&who),
					url,
					block
				)],
				json!({"account": ss58(&who), "block": block}),
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
}
