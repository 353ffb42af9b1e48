//! The chain specs in `chain-specs/` are what the runtime's presets generate.
//!
//! The wasm code inside a spec is left out of the comparison: its bytes depend on the build
//! machine's paths and toolchain, while everything else (validators, chain id and kind,
//! balances, properties, raw genesis storage) must match exactly. Regenerate with
//! `scripts/gen-chain-specs.sh`.

use mbds_tests::node_binary;
use serde_json::Value;
use std::{path::PathBuf, process::Command};

/// Every preset but the one-node development chain has its specs checked in.
fn chains() -> Vec<String> {
	mbds_runtime::genesis_config_presets::preset_names()
		.iter()
		.map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
		.filter(|p| p != mbds_runtime::genesis_config_presets::DEVELOPMENT)
		.collect()
}

const CODE_KEY: &str = "0x3a636f6465"; // ":code"

fn repo() -> PathBuf {
	PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn generate(chain: &str, raw: bool) -> Value {
	let mut cmd = Command::new(node_binary());
	cmd.args(["build-spec", "--chain", chain, "--disable-default-bootnode"]);
	if raw {
		cmd.arg("--raw");
	}
	let out = cmd.output().expect("run mbds-node build-spec");
	assert!(out.status.success(), "build-spec {chain}: {}", String::from_utf8_lossy(&out.stderr));
	serde_json::from_slice(&out.stdout).expect("build-spec prints JSON")
}

fn without_code(mut spec: Value) -> Value {
	let genesis = spec.get_mut("genesis").expect("spec has genesis");
	if let Some(top) = genesis.pointer_mut("/raw/top").and_then(Value::as_object_mut) {
		assert!(top.remove(CODE_KEY).is_some(), "raw spec without :code");
	}
	if let Some(code) = genesis.pointer_mut("/runtimeGenesis/code") {
		assert!(code.as_str().is_some_and(|c| c.len() > 1000), "plain spec without code");
		*code = Value::Null;
	}
	spec
}

#[test]
fn checked_in_chain_specs_match_the_runtime_presets() {
	for chain in chains() {
		let chain = chain.as_str();
		for raw in [false, true] {
			let file = repo()
				.join("chain-specs")
				.join(format!("{chain}{}.json", if raw { "-raw" } else { "" }));
			let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
				panic!("{}: {e} (run scripts/gen-chain-specs.sh)", file.display())
			});
			let checked_in: Value = serde_json::from_str(&text).unwrap();
			assert!(
				without_code(checked_in) == without_code(generate(chain, raw)),
				"{} no longer matches what the runtime generates: run scripts/gen-chain-specs.sh",
				file.display()
			);
		}
	}
}

#[test]
fn chain_specs_carry_token_properties_for_wallets() {
	for chain in chains() {
		let chain = chain.as_str();
		let spec = generate(chain, false);
		assert_eq!(spec["properties"]["tokenSymbol"], "MBDS", "{chain}");
		assert_eq!(spec["properties"]["tokenDecimals"], 12, "{chain}");
		assert_eq!(spec["properties"]["ss58Format"], 42, "{chain}");
	}
}

#[test]
fn no_network_chain_spec_has_a_sudo_key() {
	// `pallet_sudo::Key` (twox128("Sudo") ++ twox128("Key")) is absent from every checked-in
	// raw spec: the councils govern from genesis.
	let key = format!(
		"0x{}{}",
		hex_of(&sp_crypto_hashing::twox_128(b"Sudo")),
		hex_of(&sp_crypto_hashing::twox_128(b"Key"))
	);
	for chain in chains() {
		let file = repo().join("chain-specs").join(format!("{chain}-raw.json"));
		let spec: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
		let top = spec.pointer("/genesis/raw/top").and_then(Value::as_object).expect("raw spec");
		assert!(!top.is_empty(), "{}: empty genesis", file.display());
		assert!(!top.contains_key(&key), "{} has a sudo key", file.display());
		// And the council is seated.
		let members = format!(
			"0x{}{}",
			hex_of(&sp_crypto_hashing::twox_128(b"Council")),
			hex_of(&sp_crypto_hashing::twox_128(b"Members"))
		);
		assert!(top.contains_key(&members), "{} seats no council", file.display());
	}
}

fn hex_of(bytes: &[u8]) -> String {
	bytes.iter().map(|b| format!("{b:02x}")).collect()
}
