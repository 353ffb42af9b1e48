//! The MBDS client SDK, for the `mbds` CLI, the proxy, the relayer and the tests: the one
//! place that links the runtime and holds the client side of the domain.
//!
//! * this module: a JSON-RPC client of MBDS chains ([`Client`]); [`queries`]: one typed
//!   function per runtime-API method; [`chain`]: typed reads built on them (registered keys,
//!   summaries, consent answers, audit trails); [`light`]: a GRANDPA light client;
//! * [`keys`]: the participant key file; [`stores`]: opening the record stores;
//! * [`proxy`]: the proxies' HTTP API (wire types), their HTTPS client and its certificate
//!   binding;
//! * [`sharing`]: the patient's side of sharing (key fragments to `t` of `n` proxies);
//!   [`read`]: the grantee's read (capsule fragments from `t` proxies, combined);
//! * [`Error`]: the one error type, with the endpoint, call or field at fault.
//!
//! Transactions are built with the runtime's own types (`mbds_runtime::RuntimeCall`,
//! `TxExtension`), so a client can never drift from the runtime it talks to: a changed call or
//! extension fails to compile here instead of failing on chain. Transport is plain HTTP
//! JSON-RPC (blocking), which every node serves on its RPC port.

pub mod chain;
pub mod council;
mod error;
pub mod keys;
pub mod light;
pub mod membership;
pub mod proxy;
pub mod queries;
pub mod read;
pub mod records;
pub mod search;
pub mod sharing;
pub mod stores;

pub use error::{Error, FinalityRefusal, Result, ResultExt};
pub use keys::{ParticipantKeys, SearchKey};
pub use proxy::{ProxyClient, ProxyError};
pub use stores::open_stores;

use codec::{Decode, Encode};
use mbds_runtime::{Header, RuntimeCall, SignedPayload, TxExtension, UncheckedExtrinsic, VERSION};
use serde_json::{json, Value};
use sp_core::{sr25519, Pair, H256};
use sp_runtime::{generic::Era, MultiAddress, MultiSignature};
use std::time::{Duration, Instant};

/// `0x`-prefixed hex of `bytes`.
pub fn hex_of(bytes: &[u8]) -> String {
	format!("0x{}", hex::encode(bytes))
}

/// Writes a file readable by its owner only (mode 0600), replacing it if it exists: decrypted
/// records, member keys, fragments kept for later delivery.
pub fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
	use std::io::Write;
	let mut options = std::fs::OpenOptions::new();
	options.write(true).create(true).truncate(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::OpenOptionsExt;
		options.mode(0o600);
	}
	options.open(path)?.write_all(bytes)
}

/// The bytes of a `0x` hex string in a JSON-RPC answer.
pub fn bytes_of(v: &Value) -> Result<Vec<u8>> {
	let s = v
		.as_str()
		.ok_or_else(|| Error::Unexpected { expected: "a hex string", found: v.to_string() })?;
	hex::decode(s.trim_start_matches("0x"))
		.map_err(|e| Error::Hex { value: s.to_string(), message: e.to_string() })
}

/// Bytes in a JSON-RPC answer: a `0x` hex string or an array of numbers.
fn json_bytes(v: &Value) -> Result<Vec<u8>> {
	match v {
		Value::String(_) => bytes_of(v),
		Value::Array(items) => items
			.iter()
			.map(|x| x.as_u64().filter(|n| *n < 256).map(|n| n as u8))
			.collect::<Option<Vec<u8>>>()
			.ok_or_else(|| Error::Unexpected { expected: "bytes", found: v.to_string() }),
		_ => Err(Error::Unexpected { expected: "bytes", found: v.to_string() }),
	}
}

/// A transaction signed by `signer` with `nonce`, immortal, built with the runtime's own types.
pub fn signed(
	call: RuntimeCall,
	signer: &sr25519::Pair,
	nonce: u32,
	genesis: H256,
	spec_version: u32,
) -> UncheckedExtrinsic {
	let ext: TxExtension = (
		frame_system::CheckNonZeroSender::new(),
		frame_system::CheckSpecVersion::new(),
		frame_system::CheckTxVersion::new(),
		frame_system::CheckGenesis::new(),
		frame_system::CheckEra::from(Era::Immortal),
		frame_system::CheckNonce::from(nonce),
		frame_system::CheckWeight::new(),
		pallet_kmc::CheckParticipant::new(),
		pallet_transaction_payment::ChargeTransactionPayment::from(0).into(),
	);
	// The transaction version is this build's: `signing_spec_version` refused a chain whose
	// call encoding differs. The spec version is the chain's (an upgrade that kept the call
	// encoding does not stop the client).
	let implicit =
		((), spec_version, VERSION.transaction_version, genesis, genesis, (), (), (), ());
	let payload = SignedPayload::from_raw(call.clone(), ext.clone(), implicit);
	let signature = payload.using_encoded(|p| signer.sign(p));
	let who: sp_runtime::AccountId32 = signer.public().into();
	UncheckedExtrinsic::new_signed(
		call,
		MultiAddress::Id(who),
		MultiSignature::Sr25519(signature),
		ext,
	)
}

/// The root a header's `extrinsics_root` commits to for these extrinsics (SCALE bytes each),
/// with the trie version this runtime uses for it.
pub fn extrinsics_root(extrinsics: &[Vec<u8>]) -> H256 {
	use sp_runtime::traits::Hash as _;
	sp_runtime::traits::BlakeTwo256::ordered_trie_root(
		extrinsics.to_vec(),
		VERSION.extrinsics_root_state_version(),
	)
}

/// The spec version to sign with for a chain at `url` running runtime `name` at `spec` with
/// transaction version `tx`, or why this build cannot sign for it.
pub fn compatible(url: &str, name: &str, spec: u32, tx: u32) -> Result<u32> {
	let reason = if name != VERSION.spec_name.as_ref() {
		"it is another runtime"
	} else if tx != VERSION.transaction_version {
		"the upgrade between them changed how calls are encoded"
	} else {
		return Ok(spec);
	};
	Err(Error::IncompatibleRuntime {
		url: url.into(),
		chain_name: name.into(),
		chain_spec: spec,
		chain_tx: tx,
		client_name: VERSION.spec_name.to_string(),
		client_spec: VERSION.spec_version,
		client_tx: VERSION.transaction_version,
		reason: reason.into(),
	})
}

/// `call` wrapped in `sudo.sudo` (root until the authority council exists).
pub fn sudo(call: RuntimeCall) -> RuntimeCall {
	RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(call) })
}

/// A GRANDPA finality proof as `grandpa_proveFinality` returns it (SCALE): the finalised
/// block, its justification (SCALE `GrandpaJustification`), and headers between the requested
/// block and it.
#[derive(Debug, Clone, Decode, Encode)]
pub struct FinalityProof {
	pub block: H256,
	pub justification: Vec<u8>,
	pub unknown_headers: Vec<Header>,
}

/// One JSON-RPC endpoint (`http://host:port`).
#[derive(Debug, Clone)]
pub struct Rpc {
	pub url: String,
	pub timeout: Duration,
}

impl Rpc {
	/// An endpoint at `url` (`http://…`; a `ws://` URL is taken as the same port over HTTP).
	pub fn new(url: &str) -> Rpc {
		let url = url.replacen("ws://", "http://", 1).replacen("wss://", "https://", 1);
		Rpc { url, timeout: Duration::from_secs(20) }
	}

	/// Call `method`; `Err` names the endpoint and method if the node is unreachable or
	/// answers with an error object.
	pub fn call(&self, method: &str, params: Value) -> Result<Value> {
		let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
		let rpc_error = |message: String| Error::Rpc {
			url: self.url.clone(),
			method: method.to_string(),
			message,
		};
		let resp: Value = ureq::post(&self.url)
			.timeout(self.timeout)
			.send_json(body)
			.map_err(|e| rpc_error(e.to_string()))?
			.into_json()
			.map_err(|e| rpc_error(format!("bad JSON: {e}")))?;
		if let Some(err) = resp.get("error") {
			return Err(Error::Node {
				url: self.url.clone(),
				method: method.to_string(),
				error: err.clone(),
			});
		}
		Ok(resp["result"].clone())
	}
}

/// A chain seen through one of its nodes.
#[derive(Debug, Clone)]
pub struct Client {
	pub rpc: Rpc,
	pub genesis: H256,
}

fn at_param(at: Option<H256>) -> Value {
	at.map(|h| json!(hex_of(h.as_bytes()))).unwrap_or(Value::Null)
}

impl Client {
	/// A client of the chain behind `url` (reads its genesis hash).
	pub fn connect(url: &str) -> Result<Client> {
		let rpc = Rpc::new(url);
		let genesis = bytes_of(&rpc.call("chain_getBlockHash", json!([0]))?)?;
		if genesis.len() != 32 {
			return Err(Error::Rpc {
				url: rpc.url,
				method: "chain_getBlockHash(0)".into(),
				message: "not a 32-byte hash".into(),
			});
		}
		Ok(Client { rpc, genesis: H256::from_slice(&genesis) })
	}

	/// The runtime the chain runs now (`state_getRuntimeVersion` at the best block): its
	/// name, spec version and transaction version.
	pub fn runtime_version(&self) -> Result<(String, u32, u32)> {
		let v = self.rpc.call("state_getRuntimeVersion", json!([]))?;
		let field = |name: &str| {
			v[name].as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| Error::Rpc {
				url: self.rpc.url.clone(),
				method: "state_getRuntimeVersion".into(),
				message: format!("no numeric `{name}` in {v}"),
			})
		};
		let name = v["specName"].as_str().unwrap_or_default().to_string();
		Ok((name, field("specVersion")?, field("transactionVersion")?))
	}

	/// The version of runtime API `name` (e.g. `AnchorApi`) the chain's runtime implements now,
	/// if any (`state_getRuntimeVersion`'s `apis`).
	pub fn runtime_api_version(&self, name: &str) -> Result<Option<u32>> {
		let v = self.rpc.call("state_getRuntimeVersion", json!([]))?;
		let id = format!("0x{}", hex::encode(sp_crypto_hashing::blake2_64(name.as_bytes())));
		let apis = v["apis"].as_array().ok_or_else(|| Error::Rpc {
			url: self.rpc.url.clone(),
			method: "state_getRuntimeVersion".into(),
			message: format!("no `apis` list in {v}"),
		})?;
		Ok(apis.iter().find_map(|a| {
			(a[0].as_str() == Some(id.as_str())).then(|| a[1].as_u64().map(|n| n as u32)).flatten()
		}))
	}

	/// The spec version to sign with: the chain's, read before every transaction, if the chain
	/// runs this runtime with the call encoding this client was built with; otherwise
	/// [`Error::IncompatibleRuntime`], naming both versions.
	pub fn signing_spec_version(&self) -> Result<u32> {
		let (name, spec, tx) = self.runtime_version()?;
		compatible(&self.rpc.url, &name, spec, tx)
	}

	/// Next nonce of `who`, counting its transactions in the node's pool.
	pub fn next_nonce(&self, who: &sp_runtime::AccountId32) -> Result<u32> {
		let n = self.rpc.call("system_accountNextIndex", json!([who.to_string()]))?;
		n.as_u64().map(|n| n as u32).ok_or_else(|| Error::Rpc {
			url: self.rpc.url.clone(),
			method: "system_accountNextIndex".into(),
			message: "not a number".into(),
		})
	}

	/// Sign `call` with `signer` and its next nonce and submit it; the transaction hash.
	pub fn submit(&self, call: RuntimeCall, signer: &sr25519::Pair) -> Result<H256> {
		let who: sp_runtime::AccountId32 = signer.public().into();
		let nonce = self.next_nonce(&who)?;
		let (_, tx, _) = self
			.send_signed(call, signer, nonce)
			.map_err(|e| e.context(format!("submitting a transaction of {who}")))?;
		Ok(tx)
	}

	/// Signs `call` with `signer` and `nonce` for the chain's current runtime version and
	/// submits it: the encoded transaction (hex), its hash and the version it was signed for.
	/// The version is read just before the node validates the transaction; if an upgrade is
	/// enacted in between (or the node's pool has not caught up with the block the version
	/// was read at), the node finds the signature bad: it checks it against another version.
	/// Then the version is read again, a moment later, and the call signed again (three
	/// times at most: our signature is otherwise always good, so a fourth refusal is the
	/// node's answer, returned naming the version signed for).
	fn send_signed(
		&self,
		call: RuntimeCall,
		signer: &sr25519::Pair,
		nonce: u32,
	) -> Result<(String, H256, u32)> {
		let mut spec = self.signing_spec_version()?;
		let mut tries = 0;
		loop {
			let xt_hex = hex_of(&signed(call.clone(), signer, nonce, self.genesis, spec).encode());
			match self.rpc.call("author_submitExtrinsic", json!([xt_hex])) {
				Ok(tx) => return Ok((xt_hex, H256::from_slice(&bytes_of(&tx)?), spec)),
				Err(Error::Node { ref error, .. })
					if error.to_string().contains("bad signature") =>
				{
					if tries == 3 {
						let e = Error::Node {
							url: self.rpc.url.clone(),
							method: "author_submitExtrinsic".into(),
							error: error.clone(),
						};
						return Err(e.context(format!(
							"signed for runtime version {spec}, which the chain runs"
						)));
					}
					tries += 1;
					std::thread::sleep(Duration::from_millis(300 * tries));
					spec = self.signing_spec_version()?;
				}
				Err(e) => return Err(e),
			}
		}
	}

	/// Call runtime API `method` (e.g. `SlipsApi_slip`) at block `at` (best if `None`).
	pub fn call_at<R: Decode>(
		&self,
		method: &str,
		args: impl Encode,
		at: Option<H256>,
	) -> Result<R> {
		let out =
			self.rpc.call("state_call", json!([method, hex_of(&args.encode()), at_param(at)]))?;
		R::decode(&mut &bytes_of(&out)?[..])
			.map_err(|e| Error::Decode { what: method.to_string(), message: e.to_string() })
	}

	/// Call runtime API `method` at the best block.
	pub fn call<R: Decode>(&self, method: &str, args: impl Encode) -> Result<R> {
		self.call_at(method, args, None)
	}

	/// The value under storage `key` at block `at` (best if `None`), if any.
	pub fn storage_at<R: Decode>(&self, key: &[u8], at: Option<H256>) -> Result<Option<R>> {
		let v = self.rpc.call("state_getStorage", json!([hex_of(key), at_param(at)]))?;
		if v.is_null() {
			return Ok(None);
		}
		R::decode(&mut &bytes_of(&v)?[..]).map(Some).map_err(|e| Error::Decode {
			what: format!("storage {}", hex_of(key)),
			message: e.to_string(),
		})
	}

	/// The value under storage `key` at the best block, if any.
	pub fn storage<R: Decode>(&self, key: &[u8]) -> Result<Option<R>> {
		self.storage_at(key, None)
	}

	/// Free balance of `who` at the best block.
	pub fn free_balance(&self, who: &sp_runtime::AccountId32) -> Result<u128> {
		let key = frame_system::Account::<mbds_runtime::Runtime>::hashed_key_for(who);
		Ok(self
			.storage::<frame_system::AccountInfo<u32, pallet_balances::AccountData<u128>>>(&key)?
			.map(|a| a.data.free)
			.unwrap_or(0))
	}

	/// Hash of the last block finalised by GRANDPA.
	pub fn finalized_head(&self) -> Result<H256> {
		Ok(H256::from_slice(&bytes_of(&self.rpc.call("chain_getFinalizedHead", json!([]))?)?))
	}

	/// Header of block `hash` (best if `None`).
	pub fn header(&self, hash: Option<H256>) -> Result<Header> {
		let v = self.rpc.call("chain_getHeader", json!([at_param(hash)]))?;
		serde_json::from_value(v).map_err(|e| self.bad_answer("chain_getHeader", e))
	}

	/// Hash of block `number` on the best chain, if it exists.
	pub fn block_hash(&self, number: u32) -> Result<Option<H256>> {
		let v = self.rpc.call("chain_getBlockHash", json!([number]))?;
		if v.is_null() {
			return Ok(None);
		}
		Ok(Some(H256::from_slice(&bytes_of(&v)?)))
	}

	/// Trie nodes proving the values under `keys` in the state of block `at`.
	pub fn read_proof(&self, keys: &[Vec<u8>], at: H256) -> Result<Vec<Vec<u8>>> {
		let keys: Vec<String> = keys.iter().map(|k| hex_of(k)).collect();
		let v = self.rpc.call("state_getReadProof", json!([keys, hex_of(at.as_bytes())]))?;
		v["proof"]
			.as_array()
			.ok_or_else(|| self.bad_answer("state_getReadProof", "no proof array"))?
			.iter()
			.map(bytes_of)
			.collect()
	}

	/// A GRANDPA finality proof for block `number` or a later block with a stored
	/// justification; `None` if there is none yet.
	pub fn prove_finality(&self, number: u32) -> Result<Option<FinalityProof>> {
		let v = match self.rpc.call("grandpa_proveFinality", json!([number])) {
			Ok(v) => v,
			Err(Error::Node { url, method, error }) => {
				// The node says why only in its message (`sc_consensus_grandpa::FinalityProofError`).
				let message = error["message"].as_str().unwrap_or_default();
				let reason = if message.contains("not covered by authority set changes") {
					FinalityRefusal::NotCoveredBySetChanges
				} else if message.contains("not yet finalized") {
					FinalityRefusal::NotYetFinalized
				} else {
					return Err(Error::Node { url, method, error });
				};
				return Err(Error::NoFinalityProof { url, number, reason, error });
			}
			Err(e) => return Err(e),
		};
		if v.is_null() {
			return Ok(None);
		}
		FinalityProof::decode(&mut &bytes_of(&v)?[..])
			.map(Some)
			.map_err(|e| self.bad_answer(&format!("grandpa_proveFinality({number})"), e))
	}

	/// The GRANDPA justification stored with block `hash`, if any (nodes store one for set
	/// hand-offs and for the first block finalised in each justification period).
	pub fn grandpa_justification(&self, hash: H256) -> Result<Option<Vec<u8>>> {
		let v = self.rpc.call("chain_getBlock", json!([hex_of(hash.as_bytes())]))?;
		let Some(list) = v["justifications"].as_array() else { return Ok(None) };
		for entry in list {
			let (Some(engine), Some(bytes)) = (entry.get(0), entry.get(1)) else { continue };
			if json_bytes(engine)? == b"FRNK" {
				return json_bytes(bytes).map(Some);
			}
		}
		Ok(None)
	}

	/// Poll `cond` every 500 ms until it holds or `timeout` passes; the error names `what`
	/// and the last error `cond` returned.
	pub fn wait(
		&self,
		what: &str,
		timeout: Duration,
		mut cond: impl FnMut(&Client) -> Result<bool>,
	) -> Result<()> {
		let start = Instant::now();
		let mut last = String::from("not reached yet");
		while start.elapsed() < timeout {
			match cond(self) {
				Ok(true) => return Ok(()),
				Ok(false) => {}
				Err(e) => last = e.to_string(),
			}
			std::thread::sleep(Duration::from_millis(500));
		}
		Err(Error::Timeout(format!(
			"{}: {what} not reached in {timeout:?} (last: {last})",
			self.rpc.url
		)))
	}

	/// An answer of the node to `method` that is not what it must be.
	fn bad_answer(&self, method: &str, message: impl std::fmt::Display) -> Error {
		Error::Rpc {
			url: self.rpc.url.clone(),
			method: method.into(),
			message: message.to_string(),
		}
	}
}

/// A transaction sent by [`Client::submit_tracked`], not yet seen in a block.
#[derive(Debug, Clone)]
pub struct Submitted {
	who: sp_runtime::AccountId32,
	/// Best block when it was sent: the search for it starts there.
	from: u32,
	xt_hex: String,
	/// The transaction's hash.
	pub tx: H256,
	/// The runtime `spec_version` it was signed for.
	pub spec: u32,
	/// Its nonce: a copy signed again for a new runtime version keeps it, so that at most
	/// one of the two can ever be included.
	pub nonce: u32,
}

impl Submitted {
	/// The signed extrinsic's SCALE bytes.
	pub fn extrinsic(&self) -> Vec<u8> {
		hex::decode(self.xt_hex.trim_start_matches("0x")).unwrap_or_default()
	}
}

/// Where a transaction landed: its block, its index there and the events it emitted.
#[derive(Debug, Clone)]
pub struct Inclusion {
	/// The transaction's hash.
	pub tx: H256,
	/// The block that includes it.
	pub block: H256,
	/// That block's number.
	pub number: u32,
	/// The transaction's index in the block.
	pub index: u32,
	/// The events the transaction emitted (in order).
	pub events: Vec<mbds_runtime::RuntimeEvent>,
}

/// Plain-words description of a dispatch error: for a pallet error, `Pallet.Variant: docs`
/// taken from the runtime's own metadata (the docs of our errors say what to do).
pub fn describe_dispatch_error(error: &sp_runtime::DispatchError) -> String {
	use frame_metadata::RuntimeMetadata;
	use scale_info::TypeDef;
	let sp_runtime::DispatchError::Module(module) = error else {
		return format!("{error:?}");
	};
	let metadata = mbds_runtime::Runtime::metadata();
	let RuntimeMetadata::V14(m) = metadata.1 else {
		return format!("{error:?}");
	};
	let Some(pallet) = m.pallets.iter().find(|p| p.index == module.index) else {
		return format!("{error:?}");
	};
	let variant = pallet.error.as_ref().and_then(|e| m.types.resolve(e.ty.id)).and_then(|ty| {
		match &ty.type_def {
			TypeDef::Variant(v) => v.variants.iter().find(|v| v.index == module.error[0]),
			_ => None,
		}
	});
	match variant {
		Some(v) => format!("{}.{}: {}", pallet.name, v.name, v.docs.join(" ").trim()),
		None => format!("{}: error {:?}", pallet.name, module.error),
	}
}

impl Client {
	/// Searches blocks from `scanned - 2` (at least `from - 1`) to the best block for the
	/// encoded extrinsic `xt_hex`: the best block number and, if found, (block, number, index).
	fn find_inclusion(
		&self,
		xt_hex: &str,
		from: u32,
		scanned: u32,
	) -> Result<(u32, Option<(H256, u32, u32)>)> {
		let best = self.best_number()?;
		for number in scanned.saturating_sub(2).max(from.saturating_sub(1))..=best {
			let Some(hash) = self.block_hash(number)? else { continue };
			let block = self.rpc.call("chain_getBlock", json!([hex_of(hash.as_bytes())]))?;
			let found = block["block"]["extrinsics"]
				.as_array()
				.and_then(|xts| xts.iter().position(|x| x.as_str() == Some(xt_hex)));
			if let Some(index) = found {
				return Ok((best, Some((hash, number, index as u32))));
			}
		}
		Ok((best, None))
	}

	/// The extrinsics (SCALE bytes) of block `hash`, as the node serves them (check them
	/// against the header's `extrinsics_root` before trusting them: [`extrinsics_root`]).
	pub fn block_extrinsics(&self, hash: H256) -> Result<Vec<Vec<u8>>> {
		let block = self.rpc.call("chain_getBlock", json!([hex_of(hash.as_bytes())]))?;
		block["block"]["extrinsics"]
			.as_array()
			.ok_or_else(|| self.bad_answer(&format!("chain_getBlock({hash:?})"), "no extrinsics"))?
			.iter()
			.map(bytes_of)
			.collect()
	}

	/// Number of the best block.
	pub fn best_number(&self) -> Result<u32> {
		Ok(self.header(None)?.number)
	}

	/// The events of block `hash`.
	pub fn events_at(
		&self,
		hash: H256,
	) -> Result<Vec<frame_system::EventRecord<mbds_runtime::RuntimeEvent, H256>>> {
		// `System::Events` (a private storage item of frame-system): twox128 of both names.
		let key = [sp_crypto_hashing::twox_128(b"System"), sp_crypto_hashing::twox_128(b"Events")]
			.concat();
		Ok(self.storage_at(&key, Some(hash))?.unwrap_or_default())
	}

	/// Sign `call` with `signer`, submit it and wait (up to `timeout`) until a block includes
	/// it. `Err` if the pool refuses it, if it is not included in time, or if it fails on chain
	/// (with the pallet error's name and docs).
	pub fn submit_and_wait(
		&self,
		call: RuntimeCall,
		signer: &sr25519::Pair,
		timeout: Duration,
	) -> Result<Inclusion> {
		// A runtime upgrade between signing and inclusion makes the node drop the
		// transaction: sign it again for the new version (a few times at most: upgrades are
		// rare).
		let submitted = self.submit_tracked(call.clone(), signer)?;
		self.wait_resending(submitted, call, signer, timeout)
	}

	/// [`Client::wait_included`] for `submitted` (a [`Client::submit_tracked`] of `call` by
	/// `signer`), signing it again with the same nonce ([`Client::resubmit`]) if a runtime
	/// upgrade made the node drop it (a few times at most: upgrades are rare).
	pub fn wait_resending(
		&self,
		submitted: Submitted,
		call: RuntimeCall,
		signer: &sr25519::Pair,
		timeout: Duration,
	) -> Result<Inclusion> {
		self.wait_resending_tracked(submitted, call, signer, timeout).map(|(_, inc)| inc)
	}

	/// [`Client::wait_resending`], also returning the copy that was included (the first, or
	/// the one signed again).
	pub fn wait_resending_tracked(
		&self,
		mut submitted: Submitted,
		call: RuntimeCall,
		signer: &sr25519::Pair,
		timeout: Duration,
	) -> Result<(Submitted, Inclusion)> {
		let start = Instant::now();
		let mut resends = 0;
		loop {
			match self.wait_included(&submitted, timeout.saturating_sub(start.elapsed())) {
				Err(Error::Outdated { .. }) if resends < 3 => {
					resends += 1;
					submitted = self.resubmit(&submitted, call.clone(), signer)?;
				}
				Ok(inclusion) => return Ok((submitted, inclusion)),
				Err(e) => return Err(e),
			}
		}
	}

	/// Signs and submits every call of `calls` with `signer` at once (nonces follow each other
	/// in the pool), then waits for each as [`Client::wait_resending`] does. The inclusions in
	/// the calls' order, or the first error.
	pub fn submit_all(
		&self,
		calls: Vec<RuntimeCall>,
		signer: &sr25519::Pair,
		timeout: Duration,
	) -> Result<Vec<Inclusion>> {
		let sent = calls
			.into_iter()
			.map(|call| self.submit_tracked(call.clone(), signer).map(|tx| (tx, call)))
			.collect::<Result<Vec<_>>>()?;
		sent.into_iter().map(|(tx, call)| self.wait_resending(tx, call, signer, timeout)).collect()
	}

	/// Signs `call` again for the chain's current runtime version with the nonce of
	/// `dropped` (a transaction an upgrade made the node drop: [`Error::Outdated`]) and
	/// submits it. With the same nonce at most one of the two can ever be included, even if
	/// the first was included after all where this client did not look. If the node refuses
	/// the copy because that nonce is used, the first was included: it is waited for again.
	pub fn resubmit(
		&self,
		dropped: &Submitted,
		call: RuntimeCall,
		signer: &sr25519::Pair,
	) -> Result<Submitted> {
		match self.send_signed(call, signer, dropped.nonce) {
			Ok((xt_hex, tx, spec)) => Ok(Submitted {
				who: dropped.who.clone(),
				from: dropped.from,
				xt_hex,
				tx,
				spec,
				nonce: dropped.nonce,
			}),
			// "Transaction is outdated": the nonce is used, by the first copy.
			Err(Error::Node { error, .. }) if error.to_string().contains("outdated") => {
				Ok(dropped.clone())
			}
			// "Priority is too low" (1014): a transaction with this nonce is in the pool after
			// all (the pool was revalidating it when this client looked), the first copy: it
			// is waited for again, and signed again if the node drops it after all.
			Err(Error::Node { error, .. }) if error["code"].as_i64() == Some(1014) => {
				Ok(dropped.clone())
			}
			Err(e) => Err(e.context(format!(
				"the node refused the transaction of {} signed again for the chain's new version",
				dropped.who
			))),
		}
	}

	/// Whether the node dropped the transaction `xt_hex` (signed for `spec`) because the
	/// chain's runtime changed since: the chain runs another version, the transaction is not
	/// in the node's pool, and no block since `from` includes it. The chain's new version if
	/// so. Any RPC error counts as "no" (the wait goes on).
	fn dropped_after_upgrade(
		&self,
		xt_hex: &str,
		spec: u32,
		from: u32,
		scanned: u32,
	) -> Option<u32> {
		let now = self.runtime_version().ok()?.1;
		if now == spec {
			return None;
		}
		let pending = self.rpc.call("author_pendingExtrinsics", json!([])).ok()?;
		if pending.as_array()?.iter().any(|x| x.as_str() == Some(xt_hex)) {
			return None;
		}
		// It may have been included since the last look.
		match self.find_inclusion(xt_hex, from, scanned) {
			Ok((_, None)) => Some(now),
			_ => None,
		}
	}

	/// Submit `call` as an unsigned (bare) transaction: for the calls the runtime validates
	/// without a signer (`system.apply_authorized_upgrade`, whose code the council authorised
	/// by hash). The transaction's hash.
	pub fn submit_unsigned(&self, call: RuntimeCall) -> Result<H256> {
		let xt = mbds_runtime::UncheckedExtrinsic::new_bare(call).encode();
		let tx = self
			.rpc
			.call("author_submitExtrinsic", json!([hex_of(&xt)]))
			.map_err(|e| e.context("the node refused the unsigned transaction"))?;
		Ok(H256::from_slice(&bytes_of(&tx)?))
	}

	/// Sign `call` with `signer` and its next nonce (counting the node's pool) and submit it,
	/// keeping what [`Client::wait_included`] needs. Callers that submit from several threads
	/// with one account serialise this call (not the wait) so that nonces follow each other.
	pub fn submit_tracked(&self, call: RuntimeCall, signer: &sr25519::Pair) -> Result<Submitted> {
		let who: sp_runtime::AccountId32 = signer.public().into();
		let from = self.best_number()?;
		let nonce = self.next_nonce(&who)?;
		self.submit_tracked_at(call, signer, nonce, from)
	}

	/// [`Client::submit_tracked`] with `nonce` given (for a transaction that must wait for
	/// others of its sender, or a test that needs one to); `from`: the best block before it
	/// was sent, where the search for it starts.
	pub fn submit_tracked_at(
		&self,
		call: RuntimeCall,
		signer: &sr25519::Pair,
		nonce: u32,
		from: u32,
	) -> Result<Submitted> {
		let who: sp_runtime::AccountId32 = signer.public().into();
		let (xt_hex, tx, spec) = self
			.send_signed(call, signer, nonce)
			.map_err(|e| e.context(format!("the node refused the transaction of {who}")))?;
		Ok(Submitted { who, from, xt_hex, tx, spec, nonce })
	}

	/// Wait (up to `timeout`) until a block includes a [`Client::submit_tracked`]
	/// transaction. `Err` if it is not included in time or fails on chain (with the pallet
	/// error's name and docs).
	pub fn wait_included(&self, submitted: &Submitted, timeout: Duration) -> Result<Inclusion> {
		let Submitted { who, from, xt_hex, tx, spec, .. } = submitted;
		let (from, tx, spec) = (*from, *tx, *spec);
		// Every few seconds: has the chain upgraded since this was signed, and the node dropped
		// it (it can no longer be valid)?
		let mut checked_version = Instant::now();
		let start = Instant::now();
		// Blocks up to `scanned` were searched; the last few are searched again in case a
		// fork replaced them.
		let mut scanned = from;
		let mut last_error = String::new();
		while start.elapsed() < timeout {
			// A failing RPC call (a busy node) does not end the wait: the transaction is out.
			match self.find_inclusion(xt_hex, from, scanned) {
				Ok((best, None)) => scanned = best,
				Ok((_, Some((hash, number, index)))) => {
					let events: Vec<_> = self
						.events_at(hash)?
						.into_iter()
						.filter(|r| r.phase == frame_system::Phase::ApplyExtrinsic(index))
						.map(|r| r.event)
						.collect();
					for event in &events {
						if let mbds_runtime::RuntimeEvent::System(
							frame_system::Event::ExtrinsicFailed { dispatch_error, .. },
						) = event
						{
							return Err(Error::Chain {
								call: format!("transaction of {who}"),
								block: number,
								error: describe_dispatch_error(dispatch_error),
								dispatch: *dispatch_error,
							});
						}
					}
					return Ok(Inclusion { tx, block: hash, number, index, events });
				}
				Err(e) => last_error = e.to_string(),
			}
			if checked_version.elapsed() > Duration::from_secs(5) {
				checked_version = Instant::now();
				if let Some(now) = self.dropped_after_upgrade(xt_hex, spec, from, scanned) {
					return Err(Error::Outdated { tx, signed: spec, now });
				}
			}
			std::thread::sleep(Duration::from_millis(400));
		}
		if !last_error.is_empty() {
			return Err(Error::Timeout(format!(
				"transaction {tx:?} of {who}: not seen in a block within {timeout:?}; last RPC error: {last_error}"
			)));
		}
		Err(Error::Timeout(format!(
			"{}: transaction {tx:?} of {who} not included within {timeout:?} (is the chain producing blocks?)",
			self.rpc.url
		)))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_client_signs_for_an_upgraded_chain_only_while_the_call_encoding_is_its_own() {
		let name = VERSION.spec_name.to_string();
		let tx = VERSION.transaction_version;
		// The same runtime, or an upgrade that kept the call encoding: sign with the chain's
		// spec version.
		assert_eq!(compatible("n", &name, VERSION.spec_version, tx).unwrap(), VERSION.spec_version);
		assert_eq!(
			compatible("n", &name, VERSION.spec_version + 1, tx).unwrap(),
			VERSION.spec_version + 1
		);
		// An upgrade that changed it: refused, naming both versions and what to do.
		let err = compatible("http://node", &name, VERSION.spec_version + 1, tx + 1)
			.unwrap_err()
			.to_string();
		assert!(
			err.contains(&format!(
				"version {} (transaction version {})",
				VERSION.spec_version + 1,
				tx + 1
			)),
			"{err}"
		);
		assert!(
			err.contains(&format!(
				"built for {name} version {} (transaction version {tx})",
				VERSION.spec_version
			)),
			"{err}"
		);
		assert!(
			err.contains("changed how calls are encoded") && err.contains("nothing was signed"),
			"{err}"
		);
		// Another runtime altogether.
		let err = compatible("n", "polkadot", 1, tx).unwrap_err().to_string();
		assert!(err.contains("another runtime"), "{err}");
	}
}
