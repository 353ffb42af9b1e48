//! A small JSON-RPC client for tests and the local network: signed extrinsics built with the
//! runtime's own types (so they can never drift from the runtime), runtime API calls through
//! `state_call`, and typed storage reads.

use crate::Node;
use codec::{Decode, Encode};
use mbds_runtime::{
	AccountId, RuntimeCall, SignedPayload, TxExtension, UncheckedExtrinsic, VERSION,
};
use serde_json::{json, Value};
use sp_core::{Pair, H256};
use sp_keyring::Sr25519Keyring as Keyring;
use sp_runtime::{generic::Era, MultiAddress, MultiSignature};
use std::time::Duration;

/// `0x`-prefixed hex of `bytes`.
pub fn hex_of(bytes: &[u8]) -> String {
	format!("0x{}", hex::encode(bytes))
}

/// The bytes of a `0x` hex string in a JSON-RPC answer.
pub fn bytes_of(v: &Value) -> Result<Vec<u8>, String> {
	let s = v.as_str().ok_or_else(|| format!("expected a hex string, got {v}"))?;
	hex::decode(s.trim_start_matches("0x")).map_err(|e| format!("invalid hex {s}: {e}"))
}

/// A transaction signed by `who` with `nonce`, immortal, built with the runtime's own types.
pub fn signed(call: RuntimeCall, who: Keyring, nonce: u32, genesis: H256) -> UncheckedExtrinsic {
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
	let implicit =
		((), VERSION.spec_version, VERSION.transaction_version, genesis, genesis, (), (), (), ());
	let payload = SignedPayload::from_raw(call.clone(), ext.clone(), implicit);
	let signature = payload.using_encoded(|p| who.pair().sign(p));
	UncheckedExtrinsic::new_signed(
		call,
		MultiAddress::Id(who.to_account_id()),
		MultiSignature::Sr25519(signature),
		ext,
	)
}

/// `call` wrapped in `sudo.sudo` (root until the authority council exists).
pub fn sudo(call: RuntimeCall) -> RuntimeCall {
	RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(call) })
}

/// A chain seen through one of its nodes.
pub struct Client<'a> {
	pub node: &'a Node,
	pub genesis: H256,
}

impl<'a> Client<'a> {
	/// A client of `node`'s chain (reads its genesis hash).
	pub fn connect(node: &'a Node) -> Result<Client<'a>, String> {
		let genesis = bytes_of(&node.rpc("chain_getBlockHash", json!([0]))?)?;
		Ok(Client { node, genesis: H256::from_slice(&genesis) })
	}

	/// Sign `call` as `who` with its next nonce (pooled transactions counted) and submit it;
	/// the transaction hash.
	pub fn submit(&self, call: RuntimeCall, who: Keyring) -> Result<H256, String> {
		let nonce = self
			.node
			.rpc("system_accountNextIndex", json!([who.to_account_id().to_string()]))?
			.as_u64()
			.ok_or("system_accountNextIndex: not a number")? as u32;
		let xt = signed(call, who, nonce, self.genesis);
		let hash = self
			.node
			.rpc("author_submitExtrinsic", json!([hex_of(&xt.encode())]))
			.map_err(|e| format!("submitting a transaction of {who:?}: {e}"))?;
		Ok(H256::from_slice(&bytes_of(&hash)?))
	}

	/// Call runtime API `method` (e.g. `SlipsApi_slip`) at the best block.
	pub fn call<R: Decode>(&self, method: &str, args: impl Encode) -> Result<R, String> {
		let out = self.node.rpc("state_call", json!([method, hex_of(&args.encode())]))?;
		R::decode(&mut &bytes_of(&out)?[..]).map_err(|e| format!("decoding {method}: {e}"))
	}

	/// The value under storage `key` at the best block, if any.
	pub fn storage<R: Decode>(&self, key: &[u8]) -> Result<Option<R>, String> {
		let v = self.node.rpc("state_getStorage", json!([hex_of(key)]))?;
		if v.is_null() {
			return Ok(None);
		}
		R::decode(&mut &bytes_of(&v)?[..])
			.map(Some)
			.map_err(|e| format!("decoding storage {}: {e}", hex_of(key)))
	}

	/// Free balance of `who`.
	pub fn free_balance(&self, who: &AccountId) -> Result<u128, String> {
		let key = frame_system::Account::<mbds_runtime::Runtime>::hashed_key_for(who);
		Ok(self
			.storage::<frame_system::AccountInfo<u32, pallet_balances::AccountData<u128>>>(&key)?
			.map(|a| a.data.free)
			.unwrap_or(0))
	}

	/// Wait up to `timeout` until `cond` holds; the error names `what` and shows the node's log.
	pub fn wait(
		&self,
		what: &str,
		timeout: Duration,
		mut cond: impl FnMut(&Client) -> Result<bool, String>,
	) -> Result<(), String> {
		self.node.wait_for(what, timeout, |_| cond(self))
	}
}
