//! Genesis presets: the chains of an MBDS deployment.
//!
//! One runtime, several chains. Each preset says which chain it is (identifier, kind, name),
//! who validates it, who sits on its council and who operates its KMC. Only the one-node
//! development chain has a root (sudo) key.
//!
//! Councils ([`council_of`]): on a private chain the institution and the health authorities,
//! played by the dev accounts Alice (the institution) and Bob and Charlie (health
//! authorities), three of its four validators' accounts; on the consortium its five member
//! institutions, Alice to Eve (those `pallet-credit` grades). A motion passes with two thirds:
//! 2 of 3 on a private chain, 4 of 5 on the consortium. The development chain seats Alice,
//! Bob and Charlie too, so the council can be tried on `--dev`.
//!
//! KMC operator: Alice on every chain ([`KMC_OPERATOR`]), the bootstrap operator that
//! registers the first participants; the council appoints others. Chain specs in
//! `chain-specs/` are generated from these presets by `scripts/gen-chain-specs.sh`.
//!
//! Chain identifiers: 1 is the consortium; 1000s are hospitals; 2000s are platforms.

use crate::*;
use alloc::{string::String, vec, vec::Vec};
use frame_support::build_struct_json_patch;
use pallet_credit::{CreditDimensions, ElectionParams};
use serde_json::Value;
use sp_core::Pair;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::Sr25519Keyring;

/// A single-validator chain for development (`--dev`): a hospital chain run by Alice.
pub const DEVELOPMENT: &str = sp_genesis_builder::DEV_RUNTIME_PRESET;
/// Hospital A's private chain: four validators, the hospital's and the health authority's.
pub const HOSPITAL_LOCAL: &str = "hospital-local";
/// Hospital B's private chain: the second hospital of the patient journey (referral).
pub const HOSPITAL_B_LOCAL: &str = "hospital-b-local";
/// An internet-medicine platform's private chain: four validators.
pub const PLATFORM_LOCAL: &str = "platform-local";
/// The consortium chain: five institutions' validators.
pub const CONSORTIUM_LOCAL: &str = "consortium-local";

/// The chain each preset describes: identifier, kind, display name.
pub fn chain_of(preset: &str) -> Option<(ChainId, ChainKind, &'static str)> {
	Some(match preset {
		DEVELOPMENT => (1000, ChainKind::Hospital, "MBDS Development"),
		HOSPITAL_LOCAL => (1001, ChainKind::Hospital, "Hospital A"),
		HOSPITAL_B_LOCAL => (1002, ChainKind::Hospital, "Hospital B"),
		PLATFORM_LOCAL => (2001, ChainKind::Platform, "Platform P"),
		CONSORTIUM_LOCAL => (1, ChainKind::Consortium, "MBDS Consortium"),
		_ => return None,
	})
}

/// A genesis validator: its account (stash and validator id) and session keys.
type Validator = (AccountId, opaque::SessionKeys);

/// Genesis validator `k` of chain `chain`: its account is the dev account (`//Alice`), its
/// session keys are specific to the chain (`//Alice//mbds-chain-<id>`, see
/// [`mbds_primitives::chain_session_seed`]); `mbds-node --alice` derives the same keys.
fn validator(k: Sr25519Keyring, chain: ChainId) -> Validator {
	let uri = mbds_primitives::chain_session_seed(k.to_seed().as_bytes(), chain);
	let uri = core::str::from_utf8(&uri).expect("a dev seed and a chain junction are UTF-8");
	let aura = sp_core::sr25519::Pair::from_string(uri, None)
		.expect("dev seeds with a hard junction are valid secret URIs");
	let grandpa =
		sp_core::ed25519::Pair::from_string(uri, None).expect("ed25519 supports hard junctions");
	let keys = opaque::SessionKeys { aura: aura.public().into(), grandpa: grandpa.public().into() };
	(k.to_account_id(), keys)
}

fn validators(n: usize, chain: ChainId) -> Vec<Validator> {
	[
		Sr25519Keyring::Alice,
		Sr25519Keyring::Bob,
		Sr25519Keyring::Charlie,
		Sr25519Keyring::Dave,
		Sr25519Keyring::Eve,
		Sr25519Keyring::Ferdie,
	]
	.into_iter()
	.take(n)
	.map(|k| validator(k, chain))
	.collect()
}

/// The consortium's election in the local preset: of its five institutions, three
/// representative nodes (RPN) author blocks, one audit node (ATN) joins them as GRANDPA voter,
/// and the fifth (Eve, lowest credit) is a willing stand-by that a credit change can elect.
pub const CONSORTIUM_RPN: u32 = 3;
/// Audit nodes of the local consortium preset.
pub const CONSORTIUM_ATN: u32 = 1;

/// Graded credit dimensions of the local consortium's institutions, best first.
fn consortium_institutions(validators: &[Validator]) -> Vec<(AccountId, CreditDimensions, bool)> {
	validators
		.iter()
		.enumerate()
		.map(|(rank, (account, _))| {
			let grade = 90 - 10 * rank as u8;
			let dimensions =
				CreditDimensions { grade, deployment_scale: grade, enterprise_strength: grade };
			(account.clone(), dimensions, true)
		})
		.collect()
}

/// The bootstrap KMC operator of every preset.
pub const KMC_OPERATOR: Sr25519Keyring = Sr25519Keyring::Alice;

/// The council seated in `preset`'s genesis (see the module docs), or `None` for an unknown
/// preset.
pub fn council_of(preset: &str) -> Option<Vec<Sr25519Keyring>> {
	use Sr25519Keyring::*;
	chain_of(preset)?;
	Some(match preset {
		CONSORTIUM_LOCAL => vec![Alice, Bob, Charlie, Dave, Eve],
		_ => vec![Alice, Bob, Charlie],
	})
}

fn genesis(
	validators: Vec<Validator>,
	endowed_accounts: Vec<AccountId>,
	root: Option<AccountId>,
	council: Vec<AccountId>,
	(chain_id, kind, name): (ChainId, ChainKind, &str),
) -> Value {
	// Aura's and GRANDPA's genesis authorities stay empty: `pallet-session` hands them the
	// genesis session's keys (on the consortium: the elected RPN to Aura, RPN and ATN to
	// GRANDPA).
	let credit = if kind == ChainKind::Consortium {
		pallet_credit::GenesisConfig::<Runtime> {
			institutions: consortium_institutions(&validators),
			weights: Default::default(),
			params: ElectionParams {
				rpn_count: CONSORTIUM_RPN,
				atn_count: CONSORTIUM_ATN,
				credit_threshold: ElectionParams::default().credit_threshold,
				min_rpn: 1,
			},
		}
	} else {
		Default::default()
	};
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: pallet_balances::GenesisConfig {
			balances: endowed_accounts
				.iter()
				.cloned()
				.map(|k| (k, 1u128 << 60))
				.collect::<Vec<_>>(),
		},
		session: pallet_session::GenesisConfig {
			keys: validators
				.into_iter()
				.map(|(account, keys)| (account.clone(), account, keys))
				.collect::<Vec<_>>(),
		},
		credit: pallet_credit::GenesisConfig {
			institutions: credit.institutions,
			weights: credit.weights,
			params: credit.params,
		},
		// Only the one-node development chain has a root key; every network preset is governed
		// by its council (and the KMC operators it appoints) from block 0.
		sudo: pallet_sudo::GenesisConfig { key: root },
		council_membership: pallet_membership::GenesisConfig {
			members: council.try_into().expect("a preset's council fits COUNCIL_MAX_MEMBERS"),
		},
		kmc_operators: pallet_membership::GenesisConfig {
			members: vec![KMC_OPERATOR.to_account_id()].try_into().expect("one operator fits"),
		},
		chain_info: pallet_chain_info::GenesisConfig { chain_id, kind, name: String::from(name) },
	})
}

/// The genesis patch of a preset, or `None` for an unknown name.
/// How many genesis validators (dev accounts Alice, Bob, ... in order) a preset's chain has.
pub fn validator_count(preset: &str) -> Option<usize> {
	chain_of(preset)?;
	Some(match preset {
		DEVELOPMENT => 1,
		CONSORTIUM_LOCAL => 5,
		_ => 4,
	})
}

pub fn preset_json(id: &str) -> Option<Value> {
	let chain = chain_of(id)?;
	Some(genesis(
		validators(validator_count(id)?, chain.0),
		Sr25519Keyring::well_known().map(|k| k.to_account_id()).collect(),
		(id == DEVELOPMENT).then(|| Sr25519Keyring::Alice.to_account_id()),
		council_of(id)?.into_iter().map(|k| k.to_account_id()).collect(),
		chain,
	))
}

/// Provides the JSON representation of predefined genesis config for given `id`.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let name = core::str::from_utf8(id.as_ref()).ok()?;
	let patch = preset_json(name)?;
	Some(
		serde_json::to_string(&patch)
			.expect("serialization to json is expected to work. qed.")
			.into_bytes(),
	)
}

/// List of supported presets.
pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(DEVELOPMENT),
		PresetId::from(HOSPITAL_LOCAL),
		PresetId::from(HOSPITAL_B_LOCAL),
		PresetId::from(PLATFORM_LOCAL),
		PresetId::from(CONSORTIUM_LOCAL),
	]
}
