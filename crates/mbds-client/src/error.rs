//! The one error type of the client SDK: what failed, in words a user can act on, with the
//! endpoint, call, file or field at fault. Callers match on the variant; its `Display` is the
//! message the `mbds` CLI prints.

use crate::proxy::ProxyError;
use std::path::PathBuf;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
	/// A node could not be reached at `url`, or answered `method` with something that is not a
	/// JSON-RPC answer.
	#[error("{url}: {method}: {message}")]
	Rpc {
		/// The node's endpoint.
		url: String,
		/// The JSON-RPC method (with its argument where it helps).
		method: String,
		/// What failed.
		message: String,
	},
	/// The node at `url` answered `method` with a JSON-RPC error object.
	#[error("{url}: {method}: {error}")]
	Node {
		/// The node's endpoint.
		url: String,
		/// The JSON-RPC method.
		method: String,
		/// The error object, as the node sent it.
		error: serde_json::Value,
	},
	/// The node at `url` cannot prove block `number` final (`grandpa_proveFinality`).
	#[error("{url}: grandpa_proveFinality: {error}")]
	NoFinalityProof {
		/// The node's endpoint.
		url: String,
		/// The block asked about.
		number: u32,
		/// Why, as the node says.
		reason: FinalityRefusal,
		/// The error object, as the node sent it.
		error: serde_json::Value,
	},
	/// An answer of a node or a proxy did not decode as `what`.
	#[error("decoding {what}: {message}")]
	Decode {
		/// What was being decoded (a runtime-API method, a storage key, ...).
		what: String,
		/// The decoder's complaint.
		message: String,
	},
	/// A value (in a node's answer or a file) is not of the shape expected.
	#[error("expected {expected}, got {found}")]
	Unexpected {
		/// The shape expected.
		expected: &'static str,
		/// What was there.
		found: String,
	},
	/// A hex string that is not hex.
	#[error("invalid hex {value}: {message}")]
	Hex {
		/// The string.
		value: String,
		/// Why.
		message: String,
	},
	/// An input (an argument, a field of a request or a file) is not what it must be; the
	/// message names it and says what is wrong.
	#[error("{message}")]
	Invalid {
		/// The input at fault (an option, a field, a file).
		what: String,
		/// The whole message.
		message: String,
	},
	/// `who` has no keys registered with the KMC of the chain at `chain`.
	#[error("{who} has no keys registered with the KMC of the chain at {chain}; register it first (`mbds kmc register`)")]
	NotRegistered {
		/// The account (SS58).
		who: String,
		/// The chain's endpoint.
		chain: String,
	},
	/// A participant key file cannot be read, written or understood.
	#[error("key file {}: {message}", path.display())]
	KeyFile {
		/// The file.
		path: PathBuf,
		/// What is wrong with it.
		message: String,
	},
	/// A local file cannot be read or written.
	#[error("{}: {error}", path.display())]
	Io {
		/// The file.
		path: PathBuf,
		/// The operating system's error.
		#[source]
		error: std::io::Error,
	},
	/// A proxy refused a request, could not be reached, or is not bound to its account.
	#[error("{0}")]
	Proxy(#[from] ProxyError),
	/// A record store failed.
	#[error("{0}")]
	Storage(#[from] mbds_storage::StorageError),
	/// The record store given as `spec` cannot be opened.
	#[error("--store {spec}: {error}")]
	Store {
		/// The store as given (folder, `file://…`, `s3://…`).
		spec: String,
		/// Why.
		#[source]
		error: mbds_storage::StorageError,
	},
	/// A cryptographic operation on `what` failed (sealing, opening, a fragment's check).
	#[error("{what}: {error}")]
	Crypto {
		/// What was being done.
		what: String,
		/// The failure.
		#[source]
		error: mbds_crypto::CryptoError,
	},
	/// What a node or a proxy sent failed a check: a light client's proof or justification, a
	/// proxy's certificate, receipt or capsule fragment. The message says what and whom not to
	/// trust.
	#[error("{0}")]
	Verification(String),
	/// A transaction (`call`, e.g. "transaction of 5F…") was included in block `block` and
	/// failed there.
	#[error("{call} failed in block #{block}: {error}")]
	Chain {
		/// The transaction.
		call: String,
		/// The block that includes it.
		block: u32,
		/// The dispatch error described (`Pallet.Error: docs`, from the runtime's metadata).
		error: String,
		/// The dispatch error itself.
		dispatch: sp_runtime::DispatchError,
	},
	/// Something expected did not happen in time (a transaction included, a state reached).
	#[error("{0}")]
	Timeout(String),
	/// A transaction signed for one runtime version was dropped by the node after the chain
	/// upgraded (its signature covers the version). [`crate::Client::submit_and_wait`] signs
	/// it again for the new version and resends it.
	#[error(
		"transaction {tx:?} was signed for runtime version {signed}; the chain upgraded to {now} and dropped it: sign and send it again"
	)]
	Outdated {
		/// The dropped transaction's hash.
		tx: sp_core::H256,
		/// The version it was signed for.
		signed: u32,
		/// The chain's version now.
		now: u32,
	},
	/// The chain at `url` runs a runtime whose calls this client cannot encode: another
	/// runtime, or an upgrade that changed the call encoding (its transaction version).
	#[error(
		"{url} runs runtime {chain_name} version {chain_spec} (transaction version {chain_tx}); this client was built for {client_name} version {client_spec} (transaction version {client_tx}), and {reason}: use a build of MBDS for runtime version {chain_spec} (nothing was signed or sent)"
	)]
	IncompatibleRuntime {
		/// The node's endpoint.
		url: String,
		/// What the chain runs.
		chain_name: String,
		/// Its spec version.
		chain_spec: u32,
		/// Its transaction version.
		chain_tx: u32,
		/// What this client was built with.
		client_name: String,
		/// Its spec version.
		client_spec: u32,
		/// Its transaction version.
		client_tx: u32,
		/// Why they do not fit.
		reason: String,
	},
	/// Fewer proxies than the threshold did their part (took a key fragment, gave a capsule
	/// fragment); the message lists why each other one did not.
	#[error("{0}")]
	BelowThreshold(String),
	/// `source`, while doing `context`.
	#[error("{context}: {source}")]
	Context {
		/// What was being done.
		context: String,
		/// What failed.
		#[source]
		source: Box<Error>,
	},
}

/// Why a node cannot prove a block final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalityRefusal {
	/// The block is not final yet.
	NotYetFinalized,
	/// The node has no record of the authority-set changes covering the block (a chain still on
	/// its genesis set, or a node synced by warp sync): look for a stored justification instead.
	NotCoveredBySetChanges,
}

impl Error {
	/// This error, as the failure of `context` (`"{context}: {self}"`).
	pub fn context(self, context: impl Into<String>) -> Error {
		Error::Context { context: context.into(), source: Box::new(self) }
	}

	/// The innermost error under [`Error::Context`] layers.
	pub fn root(&self) -> &Error {
		match self {
			Error::Context { source, .. } => source.root(),
			e => e,
		}
	}

	/// An invalid input `what`, with the whole `message`.
	pub fn invalid(what: impl Into<String>, message: impl Into<String>) -> Error {
		Error::Invalid { what: what.into(), message: message.into() }
	}

	/// A failed cryptographic operation on `what`.
	pub fn crypto(what: impl Into<String>, error: mbds_crypto::CryptoError) -> Error {
		Error::Crypto { what: what.into(), error }
	}
}

/// For callers that keep their errors as text.
impl From<Error> for String {
	fn from(e: Error) -> String {
		e.to_string()
	}
}

/// The SDK's result.
pub type Result<T> = std::result::Result<T, Error>;

/// Adds context to the error of a result.
pub trait ResultExt<T> {
	/// The error, as the failure of `context`.
	fn context(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> ResultExt<T> for Result<T> {
	fn context(self, context: impl FnOnce() -> String) -> Result<T> {
		self.map_err(|e| e.context(context()))
	}
}
