//! Chain specifications: built from the runtime's genesis presets, or read from a file.

use mbds_runtime::{
	genesis_config_presets::{self as presets},
	SS58_PREFIX, TOKEN_DECIMALS, TOKEN_SYMBOL, WASM_BINARY,
};
use sc_service::ChainType;

/// Specialized `ChainSpec`. This is a specialization of the general Substrate ChainSpec type.
pub type ChainSpec = sc_service::GenericChainSpec;

fn properties() -> sc_service::Properties {
	let mut p = sc_service::Properties::new();
	p.insert("tokenSymbol".into(), TOKEN_SYMBOL.into());
	p.insert("tokenDecimals".into(), TOKEN_DECIMALS.into());
	p.insert("ss58Format".into(), SS58_PREFIX.into());
	p
}

/// The chain spec of a genesis preset, or an error naming the unknown preset.
pub fn from_preset(preset: &str) -> Result<ChainSpec, String> {
	let (chain_id, _kind, name) = presets::chain_of(preset).ok_or_else(|| unknown_chain(preset))?;
	let wasm =
		WASM_BINARY.ok_or_else(|| "the runtime wasm was not built into this node".to_string())?;
	let chain_type =
		if preset == presets::DEVELOPMENT { ChainType::Development } else { ChainType::Local };
	let id = format!("mbds_{}_{}", preset.replace('-', "_"), chain_id);
	Ok(ChainSpec::builder(wasm, None)
		.with_name(name)
		.with_id(&id)
		.with_chain_type(chain_type)
		.with_genesis_config_preset_name(preset)
		.with_properties(properties())
		.build())
}

/// Message for a `--chain` value that is neither a known chain nor a file.
pub fn unknown_chain(id: &str) -> String {
	let mut names = vec![format!("  {:<18} alias of `{}`", "dev", presets::DEVELOPMENT)];
	for preset in presets::preset_names() {
		let name = String::from_utf8_lossy(preset.as_ref()).into_owned();
		if let (Some((chain_id, kind, title)), Some(n)) =
			(presets::chain_of(&name), presets::validator_count(&name))
		{
			names.push(format!(
				"  {name:<18} {title}: {kind:?} chain, id {chain_id}, {n} validator(s)"
			));
		}
	}
	format!(
		"unknown chain `{id}`: it is neither a chain name nor a chain spec file. Known chains:\n{}",
		names.join("\n")
	)
}

/// Resolve a `--chain` argument: a known name, or a path to a JSON chain spec.
pub fn load(id: &str) -> Result<Box<dyn sc_service::ChainSpec>, String> {
	Ok(match id {
		"dev" | "" => Box::new(from_preset(presets::DEVELOPMENT)?),
		name if presets::chain_of(name).is_some() => Box::new(from_preset(name)?),
		path => {
			let p = std::path::PathBuf::from(path);
			if !p.exists() {
				return Err(unknown_chain(path));
			}
			let spec = ChainSpec::from_json_file(p.clone()).map_err(|e| {
				format!("chain spec file {}: not a valid chain spec: {e}", p.display())
			})?;
			Box::new(spec)
		}
	})
}
