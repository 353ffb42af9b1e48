//! # mbds-storage — content-addressed, replicated storage of encrypted records
//!
//! Part 7 of the MBDS design ("Cloud storage"): record bodies, already encrypted by
//! `mbds-crypto` (a `RecordEnvelope`), are stored off-chain under their **content address**, the
//! SHA-256 of the stored bytes written as 64 lowercase hex digits. The chain keeps that address
//! (the record hash), so:
//!
//! * `put` returns the address; the same bytes always get the same address (idempotent);
//! * `put` **never overwrites**: it is a conditional create (`PutMode::Create`, i.e. an atomic
//!   hard link on a local folder, `If-None-Match: *` on S3). When an object already sits at the
//!   address it is read back and verified: a verified copy makes the put a no-op success, a copy
//!   that fails verification is left in place and reported as [`StorageError::Occupied`]. Only a
//!   repair ([`ReplicatedStore::repair`], or the read repair of [`ReplicatedStore::get`]) deletes
//!   a copy, after verifying it is wrong and with a verified replacement in hand;
//! * `get` streams the object: the size the store reports is checked against the store's
//!   maximum object size ([`DEFAULT_MAX_OBJECT_SIZE`] unless set with
//!   [`BlobStore::with_max_object_size`]) before any byte is read, reading stops as soon as the
//!   bytes received exceed it (the reported size may lie) with [`StorageError::TooLarge`], and the
//!   SHA-256 is computed chunk by chunk as the bytes arrive; a copy hashing to anything else fails
//!   loudly with [`StorageError::HashMismatch`] — a tampered or corrupted copy is never handed out.
//!
//! Backends go through the `object_store` crate: a **local folder** (the embedded default) or
//! any **S3-compatible** service by endpoint URL and credentials ([`StoreConfig`]).
//!
//! **Replication** (the paper's stated future work): a [`ReplicatedStore`] writes every blob to
//! all its stores and succeeds once `write_quorum` of them hold it; a read takes the first
//! verified copy from any store, so a store that is down or holds a bad copy does not fail the
//! read, and the missing or corrupted copies it met are rewritten from the good one ("read
//! repair"). [`ReplicatedStore::repair`] checks and heals every replica of one address.
//!
//! Objects live at `blobs/sha256/<2 hex>/<2 hex>/<64 hex>` in each store.
//!
//! Limits: stores hold ciphertext only, so confidentiality rests on `mbds-crypto`; nothing here
//! deletes unreferenced blobs (garbage collection follows the chain's references); a blob is
//! returned as one buffer, so at most the maximum object size is held in memory per read
//! (records are FHIR resources of at most a few MiB; `put` refuses a blob over the limit so that
//! nothing is stored that could not be read back).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::future::join_all;
use futures::StreamExt;
use object_store::aws::{AmazonS3Builder, S3ConditionalPut};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{
	BackoffConfig, ClientOptions, GetResultPayload, ObjectStore, ObjectStoreExt, PutMode,
	PutOptions, PutPayload, RetryConfig,
};
use sha2::{Digest, Sha256};
use thiserror::Error;

const LOG_TARGET: &str = "mbds-storage";

/// Default largest object a store reads or writes: 64 MiB. Stored objects are sealed FHIR
/// records (`mbds-crypto` `RecordEnvelope`s: the resource's JSON plus about 400 bytes), which are
/// far smaller; the limit only bounds the memory one read may take. The envelope codec itself
/// accepts bodies up to `mbds_crypto::envelope::MAX_BODY_LEN` (1 GiB): a store that must hold
/// larger records is given a larger limit with [`BlobStore::with_max_object_size`].
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 64 << 20;

/// Bytes read from a local file per read call.
const FILE_CHUNK: usize = 256 << 10;

/// The SHA-256 of a stored blob: its name in every store and its hash on chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentAddress([u8; 32]);

impl ContentAddress {
	/// The address of `bytes`.
	pub fn of(bytes: &[u8]) -> Self {
		Self(Sha256::digest(bytes).into())
	}
	/// The raw 32 bytes (as stored on chain).
	pub fn as_bytes(&self) -> &[u8; 32] {
		&self.0
	}
	/// From the raw 32 bytes.
	pub fn from_bytes(bytes: [u8; 32]) -> Self {
		Self(bytes)
	}
	/// 64 lowercase hex digits.
	pub fn to_hex(&self) -> String {
		hex::encode(self.0)
	}
	fn object_path(&self) -> ObjectPath {
		let h = self.to_hex();
		ObjectPath::from(format!("blobs/sha256/{}/{}/{}", &h[0..2], &h[2..4], h))
	}
}

impl fmt::Display for ContentAddress {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		f.write_str(&self.to_hex())
	}
}

impl fmt::Debug for ContentAddress {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "ContentAddress({})", self.to_hex())
	}
}

impl FromStr for ContentAddress {
	type Err = StorageError;
	/// Accepts exactly 64 hex digits (either case), optionally prefixed `sha256:`.
	fn from_str(s: &str) -> Result<Self> {
		let bad = |reason: String| StorageError::InvalidAddress {
			input: s.chars().take(80).collect(),
			reason,
		};
		let h = s.strip_prefix("sha256:").unwrap_or(s);
		if h.len() != 64 {
			return Err(bad(format!(
				"expected 64 hex digits of SHA-256, got {} characters",
				h.len()
			)));
		}
		let mut out = [0u8; 32];
		hex::decode_to_slice(h, &mut out).map_err(|e| bad(format!("not hex: {e}")))?;
		Ok(Self(out))
	}
}

/// Everything that can go wrong; each variant names the store and address involved.
#[derive(Debug, Error)]
pub enum StorageError {
	/// A text address is not 64 hex digits.
	#[error("invalid content address {input:?}: {reason}")]
	InvalidAddress {
		/// The offending input (first 80 characters).
		input: String,
		/// What is wrong with it.
		reason: String,
	},
	/// A store returned bytes whose hash is not the requested address: corruption or tampering.
	#[error("store {store}: blob {address} is corrupted: its content hashes to {actual}")]
	HashMismatch {
		/// The store that returned the bad copy.
		store: String,
		/// The address asked for.
		address: ContentAddress,
		/// The hash of what came back.
		actual: ContentAddress,
	},
	/// The object at the address is larger than the store's maximum object size: it was refused
	/// from its reported size before any byte was read, or as soon as the bytes received passed
	/// the limit. A put of a blob over the limit is refused the same way.
	#[error("store {store}: blob {address} refused: the object is at least {size} bytes, over the {limit}-byte limit of the store")]
	TooLarge {
		/// The store holding (or asked to hold) the object.
		store: String,
		/// The address asked for.
		address: ContentAddress,
		/// The store's maximum object size.
		limit: u64,
		/// The size reported by the store, or the bytes received when reading stopped, or the
		/// size of the blob given to `put`.
		size: u64,
	},
	/// A put found an object already at the address that is not the blob (it fails
	/// verification: `found` says how). It was left in place: a put never overwrites. A repair
	/// ([`ReplicatedStore::repair`]) replaces it from a verified replica.
	#[error("store {store}: blob {address} not written: the object already at its address fails verification and was left in place ({found})")]
	Occupied {
		/// The store.
		store: String,
		/// The address of the blob being written.
		address: ContentAddress,
		/// Why the existing object failed verification ([`StorageError::HashMismatch`] or
		/// [`StorageError::TooLarge`]).
		found: Box<StorageError>,
	},
	/// The store does not hold the blob.
	#[error("store {store}: blob {address} not found")]
	NotFound {
		/// The store asked.
		store: String,
		/// The address asked for.
		address: ContentAddress,
	},
	/// The backend failed (store down, permission, network...).
	#[error("store {store}: backend error: {source}")]
	Backend {
		/// The failing store.
		store: String,
		/// The backend's error.
		#[source]
		source: object_store::Error,
	},
	/// A store configuration is unusable.
	#[error("invalid store configuration: {0}")]
	InvalidConfig(String),
	/// No replica returned a verified copy.
	#[error("blob {address}: no replica returned a verified copy ({})", .failures.join("; "))]
	Unavailable {
		/// The address asked for.
		address: ContentAddress,
		/// Why each replica failed.
		failures: Vec<String>,
	},
	/// Fewer replicas than the write quorum accepted the blob.
	#[error("blob {address}: stored on {succeeded} replicas, {needed} required ({})", .failures.join("; "))]
	WriteQuorum {
		/// The address of the blob.
		address: ContentAddress,
		/// Replicas that stored it.
		succeeded: usize,
		/// The write quorum.
		needed: usize,
		/// Why the others failed.
		failures: Vec<String>,
	},
}

/// Result alias.
pub type Result<T> = std::result::Result<T, StorageError>;

/// Where a store lives.
#[derive(Clone)]
pub enum StoreConfig {
	/// A folder on the local disk (created if missing). The embedded default.
	Local {
		/// The folder.
		root: PathBuf,
	},
	/// An S3-compatible service.
	S3 {
		/// Endpoint URL, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`.
		endpoint: String,
		/// Bucket name (the bucket must exist).
		bucket: String,
		/// Region (any string for most non-AWS services).
		region: String,
		/// Access key id.
		access_key_id: String,
		/// Secret access key.
		secret_access_key: String,
		/// Per-request timeout; failed requests are retried twice with backoff within it.
		timeout: Duration,
	},
}

impl fmt::Debug for StoreConfig {
	// Never prints the secret access key.
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		match self {
			Self::Local { root } => write!(f, "Local({})", root.display()),
			Self::S3 { endpoint, bucket, region, access_key_id, .. } => {
				write!(f, "S3(endpoint={endpoint}, bucket={bucket}, region={region}, access_key_id={access_key_id})")
			}
		}
	}
}

impl StoreConfig {
	/// An S3 store with a 10 s request timeout.
	pub fn s3(
		endpoint: &str,
		bucket: &str,
		region: &str,
		access_key_id: &str,
		secret_access_key: &str,
	) -> Self {
		Self::S3 {
			endpoint: endpoint.into(),
			bucket: bucket.into(),
			region: region.into(),
			access_key_id: access_key_id.into(),
			secret_access_key: secret_access_key.into(),
			timeout: Duration::from_secs(10),
		}
	}

	/// From a URL: `file:///path` or a plain path for a local folder, or
	/// `s3://bucket?endpoint=<url>&region=<region>` for S3 with the credentials given.
	pub fn from_url(url: &str, access_key_id: &str, secret_access_key: &str) -> Result<Self> {
		if !url.contains("://") {
			return Ok(Self::Local { root: PathBuf::from(url) });
		}
		let u = url::Url::parse(url)
			.map_err(|e| StorageError::InvalidConfig(format!("{url:?}: {e}")))?;
		match u.scheme() {
			"file" => Ok(Self::Local {
				root: u.to_file_path().map_err(|_| {
					StorageError::InvalidConfig(format!("{url:?}: not a local path"))
				})?,
			}),
			"s3" => {
				let bucket = u.host_str().filter(|b| !b.is_empty()).ok_or_else(|| {
					StorageError::InvalidConfig(format!(
						"{url:?}: missing bucket (s3://bucket?endpoint=...)"
					))
				})?;
				let q =
					|k: &str| u.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
				let endpoint = q("endpoint").ok_or_else(|| {
					StorageError::InvalidConfig(format!("{url:?}: missing endpoint= parameter"))
				})?;
				let region = q("region").unwrap_or_else(|| "us-east-1".into());
				Ok(Self::s3(&endpoint, bucket, &region, access_key_id, secret_access_key))
			}
			other => Err(StorageError::InvalidConfig(format!(
				"{url:?}: unsupported scheme {other:?} (file or s3)"
			))),
		}
	}
}

/// One store holding blobs by content address.
#[derive(Clone)]
pub struct BlobStore {
	name: String,
	inner: Arc<dyn ObjectStore>,
	max_object_size: u64,
}

impl fmt::Debug for BlobStore {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "BlobStore({})", self.name)
	}
}

impl BlobStore {
	/// Opens a store. `name` appears in logs and errors.
	pub fn open(name: impl Into<String>, config: &StoreConfig) -> Result<Self> {
		let name = name.into();
		let inner: Arc<dyn ObjectStore> = match config {
			StoreConfig::Local { root } => {
				std::fs::create_dir_all(root).map_err(|e| {
					StorageError::InvalidConfig(format!(
						"store {name}: cannot create {}: {e}",
						root.display()
					))
				})?;
				Arc::new(
					LocalFileSystem::new_with_prefix(root)
						.map_err(|e| StorageError::Backend { store: name.clone(), source: e })?,
				)
			}
			StoreConfig::S3 {
				endpoint,
				bucket,
				region,
				access_key_id,
				secret_access_key,
				timeout,
			} => {
				let retry = RetryConfig {
					backoff: BackoffConfig {
						init_backoff: Duration::from_millis(50),
						max_backoff: Duration::from_secs(1),
						base: 2.0,
					},
					max_retries: 2,
					retry_timeout: *timeout,
				};
				let client = ClientOptions::new()
					.with_allow_http(endpoint.starts_with("http://"))
					.with_timeout(*timeout)
					.with_connect_timeout(Duration::from_secs(2));
				let s3 = AmazonS3Builder::new()
					.with_endpoint(endpoint)
					.with_bucket_name(bucket)
					.with_region(region)
					.with_access_key_id(access_key_id)
					.with_secret_access_key(secret_access_key)
					.with_virtual_hosted_style_request(false)
					// `PutMode::Create` sends `If-None-Match: *`, which AWS S3, MinIO, R2 and
					// moto honour; a put is refused rather than silently overwriting.
					.with_conditional_put(S3ConditionalPut::ETagMatch)
					.with_client_options(client)
					.with_retry(retry)
					.build()
					.map_err(|e| StorageError::InvalidConfig(format!("store {name}: {e}")))?;
				Arc::new(s3)
			}
		};
		Ok(Self { name, inner, max_object_size: DEFAULT_MAX_OBJECT_SIZE })
	}

	/// Wraps any `object_store` backend (e.g. in-memory for tests). The backend must support
	/// `PutMode::Create`.
	pub fn from_object_store(name: impl Into<String>, inner: Arc<dyn ObjectStore>) -> Self {
		Self { name: name.into(), inner, max_object_size: DEFAULT_MAX_OBJECT_SIZE }
	}

	/// Sets the largest object this store reads or writes (default
	/// [`DEFAULT_MAX_OBJECT_SIZE`]). A read holds at most this many bytes in memory.
	pub fn with_max_object_size(mut self, bytes: u64) -> Self {
		self.max_object_size = bytes;
		self
	}

	/// The largest object this store reads or writes.
	pub fn max_object_size(&self) -> u64 {
		self.max_object_size
	}

	/// The store's name.
	pub fn name(&self) -> &str {
		&self.name
	}

	/// The backend, for maintenance tools (and tests that simulate corruption).
	pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
		&self.inner
	}

	/// Where the blob with this address lives inside the backend.
	pub fn object_path(address: &ContentAddress) -> ObjectPath {
		address.object_path()
	}

	fn backend(&self, source: object_store::Error) -> StorageError {
		StorageError::Backend { store: self.name.clone(), source }
	}

	/// Stores `bytes`; returns their content address.
	pub async fn put(&self, bytes: Bytes) -> Result<ContentAddress> {
		let address = ContentAddress::of(&bytes);
		self.put_at(&address, bytes).await?;
		Ok(address)
	}

	fn too_large(&self, address: &ContentAddress, size: u64) -> StorageError {
		StorageError::TooLarge {
			store: self.name.clone(),
			address: *address,
			limit: self.max_object_size,
			size,
		}
	}

	/// Creates the object at `address` (which must be the hash of `bytes`) unless one is there.
	/// An existing object is read back and verified: verified, the put is a no-op success;
	/// corrupt, it is left in place and the put fails with [`StorageError::Occupied`].
	async fn put_at(&self, address: &ContentAddress, bytes: Bytes) -> Result<()> {
		debug_assert_eq!(ContentAddress::of(&bytes), *address);
		if bytes.len() as u64 > self.max_object_size {
			return Err(self.too_large(address, bytes.len() as u64));
		}
		let path = address.object_path();
		// Twice at most: an object met at the address may vanish (a concurrent repair deletes
		// it) between the refused create and the verifying read.
		for _ in 0..2 {
			let opts = PutOptions { mode: PutMode::Create, ..Default::default() };
			match self.inner.put_opts(&path, PutPayload::from_bytes(bytes.clone()), opts).await {
				Ok(_) => return Ok(()),
				Err(object_store::Error::AlreadyExists { .. }) => {}
				Err(e) => return Err(self.backend(e)),
			}
			match self.get(address).await {
				Ok(_) => {
					log::debug!(target: LOG_TARGET, "store {}: blob {address} already present and verified", self.name);
					return Ok(());
				}
				Err(StorageError::NotFound { .. }) => continue,
				Err(
					found @ (StorageError::HashMismatch { .. } | StorageError::TooLarge { .. }),
				) => {
					log::error!(target: LOG_TARGET, "store {}: put of {address} refused: the object there fails verification: {found}", self.name);
					return Err(StorageError::Occupied {
						store: self.name.clone(),
						address: *address,
						found: Box::new(found),
					});
				}
				Err(e) => return Err(e),
			}
		}
		Err(self.backend(object_store::Error::Generic {
			store: "mbds-storage",
			source: format!("{path}: the object kept appearing and vanishing while being written")
				.into(),
		}))
	}

	/// Deliberately replaces a wrong copy: the object at `address` is read and verified first;
	/// only if it is missing, fails its hash check or is oversized is it deleted and `good`
	/// (which must hash to `address`) created in its place. Returns whether anything was
	/// written (`false`: the copy there verified). Never deletes a copy it cannot replace:
	/// a `good` blob over this store's limit is refused first.
	pub async fn replace_corrupt(&self, address: &ContentAddress, good: Bytes) -> Result<bool> {
		let actual = ContentAddress::of(&good);
		if actual != *address {
			return Err(StorageError::HashMismatch {
				store: format!("{} (replacement)", self.name),
				address: *address,
				actual,
			});
		}
		if good.len() as u64 > self.max_object_size {
			return Err(self.too_large(address, good.len() as u64));
		}
		match self.get(address).await {
			Ok(_) => return Ok(false),
			Err(StorageError::NotFound { .. }) => {}
			Err(bad @ (StorageError::HashMismatch { .. } | StorageError::TooLarge { .. })) => {
				log::warn!(target: LOG_TARGET, "store {}: deleting the wrong copy of {address} to replace it: {bad}", self.name);
				self.delete(address).await?;
			}
			Err(e) => return Err(e),
		}
		self.put_at(address, good).await?;
		Ok(true)
	}

	/// Fetches the blob and verifies its hash; a mismatch is an error, never returned data.
	///
	/// The object is streamed: refused with [`StorageError::TooLarge`] from its reported size
	/// before the body is read, or as soon as more bytes than the limit arrive; hashed as the
	/// bytes arrive. At most the store's maximum object size is held in memory.
	pub async fn get(&self, address: &ContentAddress) -> Result<Bytes> {
		let result = self.inner.get(&address.object_path()).await.map_err(|e| match e {
			object_store::Error::NotFound { .. } => {
				StorageError::NotFound { store: self.name.clone(), address: *address }
			}
			e => self.backend(e),
		})?;
		let reported = result.meta.size;
		if reported > self.max_object_size {
			log::error!(target: LOG_TARGET, "store {}: blob {address} refused: reported size {reported} bytes, limit {}", self.name, self.max_object_size);
			// Dropping the result closes the file or the connection: nothing more is read.
			return Err(self.too_large(address, reported));
		}
		let mut acc = Accumulator::new(
			self.name.clone(),
			*address,
			self.max_object_size,
			reported.min(self.max_object_size) as usize,
		);
		match result.payload {
			GetResultPayload::File(mut file, path) => {
				// Read to the end of the file, not to the reported size: a file that grew or
				// shrank since it was opened is still read whole, up to the limit.
				let read = move || -> Result<Accumulator> {
					let mut chunk = vec![0u8; FILE_CHUNK];
					loop {
						let n = match file.read(&mut chunk) {
							Ok(0) => return Ok(acc),
							Ok(n) => n,
							Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
							Err(e) => {
								return Err(StorageError::Backend {
									store: acc.store.clone(),
									source: object_store::Error::Generic {
										store: "LocalFileSystem",
										source: format!("reading {}: {e}", path.display()).into(),
									},
								})
							}
						};
						acc.push(&chunk[..n])?;
					}
				};
				acc = match tokio::runtime::Handle::try_current() {
					Ok(runtime) => runtime.spawn_blocking(read).await.map_err(|e| {
						self.backend(object_store::Error::Generic {
							store: "mbds-storage",
							source: format!("reading task failed: {e}").into(),
						})
					})??,
					Err(_) => read()?,
				};
			}
			GetResultPayload::Stream(mut stream) => {
				while let Some(chunk) = stream.next().await {
					acc.push(&chunk.map_err(|e| self.backend(e))?)?;
				}
			}
		}
		acc.finish()
	}

	/// Parses a text address and fetches it.
	pub async fn get_by_hex(&self, address: &str) -> Result<Bytes> {
		self.get(&address.parse()?).await
	}

	/// Removes the blob (no error if absent).
	pub async fn delete(&self, address: &ContentAddress) -> Result<()> {
		match self.inner.delete(&address.object_path()).await {
			Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
			Err(e) => Err(self.backend(e)),
		}
	}
}

/// The bytes of one read, hashed as they arrive, never more than `limit` of them.
struct Accumulator {
	store: String,
	address: ContentAddress,
	limit: u64,
	buf: Vec<u8>,
	hasher: Sha256,
}

impl Accumulator {
	fn new(store: String, address: ContentAddress, limit: u64, capacity: usize) -> Self {
		Self { store, address, limit, buf: Vec::with_capacity(capacity), hasher: Sha256::new() }
	}

	/// Appends a chunk; refuses it, without keeping it, if the total would pass the limit.
	fn push(&mut self, chunk: &[u8]) -> Result<()> {
		let size = self.buf.len() as u64 + chunk.len() as u64;
		if size > self.limit {
			log::error!(target: LOG_TARGET, "store {}: blob {} refused: more than {} bytes received", self.store, self.address, self.limit);
			return Err(StorageError::TooLarge {
				store: self.store.clone(),
				address: self.address,
				limit: self.limit,
				size,
			});
		}
		// Grow by doubling, but never past the limit (Vec's own growth could reach twice it).
		let needed = size as usize;
		if needed > self.buf.capacity() {
			let target = needed.max((self.buf.capacity() * 2).min(self.limit as usize));
			self.buf.reserve_exact(target - self.buf.len());
		}
		self.hasher.update(chunk);
		self.buf.extend_from_slice(chunk);
		Ok(())
	}

	fn finish(self) -> Result<Bytes> {
		let actual = ContentAddress(self.hasher.finalize().into());
		if actual != self.address {
			log::error!(target: LOG_TARGET, "store {}: blob {} corrupted (hashes to {actual})", self.store, self.address);
			return Err(StorageError::HashMismatch {
				store: self.store,
				address: self.address,
				actual,
			});
		}
		Ok(Bytes::from(self.buf))
	}
}

/// State of one replica of a blob, as found by [`ReplicatedStore::repair`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicaState {
	/// The replica held a verified copy.
	Good,
	/// The copy was missing, corrupted or oversized and was replaced from a good replica
	/// (a wrong copy is deleted, then the verified one created: [`BlobStore::replace_corrupt`]).
	Repaired,
	/// The replica could not be read or written; details in the message.
	Failed(String),
}

/// Several stores holding the same blobs.
#[derive(Debug, Clone)]
pub struct ReplicatedStore {
	replicas: Vec<BlobStore>,
	write_quorum: usize,
}

impl ReplicatedStore {
	/// `write_quorum` (k) of the `replicas` must accept each write; 1 <= k <= replicas.
	pub fn new(replicas: Vec<BlobStore>, write_quorum: usize) -> Result<Self> {
		if replicas.is_empty() || write_quorum == 0 || write_quorum > replicas.len() {
			return Err(StorageError::InvalidConfig(format!(
				"write quorum {write_quorum} with {} replicas (need 1 <= quorum <= replicas)",
				replicas.len()
			)));
		}
		Ok(Self { replicas, write_quorum })
	}

	/// The replicas, in read order.
	pub fn replicas(&self) -> &[BlobStore] {
		&self.replicas
	}

	/// Writes to every replica concurrently; succeeds if at least the quorum stored it. Never
	/// overwrites: a replica already holding a verified copy counts as stored, one holding a
	/// wrong object at the address counts as failed ([`StorageError::Occupied`]) and keeps it
	/// until [`ReplicatedStore::repair`] (or a read) replaces it.
	pub async fn put(&self, bytes: Bytes) -> Result<ContentAddress> {
		let address = ContentAddress::of(&bytes);
		let results =
			join_all(self.replicas.iter().map(|r| r.put_at(&address, bytes.clone()))).await;
		let failures: Vec<String> =
			results.iter().filter_map(|r| r.as_ref().err().map(|e| e.to_string())).collect();
		let succeeded = results.len() - failures.len();
		for f in &failures {
			log::warn!(target: LOG_TARGET, "replica write failed for {address}: {f}");
		}
		if succeeded < self.write_quorum {
			return Err(StorageError::WriteQuorum {
				address,
				succeeded,
				needed: self.write_quorum,
				failures,
			});
		}
		Ok(address)
	}

	/// Reads from the first replica with a verified copy. Replicas met on the way with a
	/// missing, corrupted or oversized copy are repaired from it (delete, then create:
	/// [`BlobStore::replace_corrupt`]); unreachable ones are skipped.
	pub async fn get(&self, address: &ContentAddress) -> Result<Bytes> {
		let mut failures = Vec::new();
		let mut to_repair = Vec::new();
		for r in &self.replicas {
			match r.get(address).await {
				Ok(bytes) => {
					for bad in to_repair {
						let bad: &BlobStore = bad;
						match bad.replace_corrupt(address, bytes.clone()).await {
							Ok(_) => {
								log::info!(target: LOG_TARGET, "repaired {address} on {} from {}", bad.name, r.name)
							}
							Err(e) => {
								log::warn!(target: LOG_TARGET, "could not repair {address} on {}: {e}", bad.name)
							}
						}
					}
					return Ok(bytes);
				}
				Err(e) => {
					log::warn!(target: LOG_TARGET, "{e}");
					if matches!(
						e,
						StorageError::NotFound { .. }
							| StorageError::HashMismatch { .. }
							| StorageError::TooLarge { .. }
					) {
						to_repair.push(r);
					}
					failures.push(e.to_string());
				}
			}
		}
		Err(StorageError::Unavailable { address: *address, failures })
	}

	/// Checks every replica of `address` and replaces missing, corrupted or oversized copies
	/// from a good one: the deliberate delete-then-create path ([`BlobStore::replace_corrupt`]),
	/// which a put never takes. Fails only if no replica has a verified copy.
	pub async fn repair(&self, address: &ContentAddress) -> Result<Vec<(String, ReplicaState)>> {
		let reads = join_all(self.replicas.iter().map(|r| r.get(address))).await;
		let good = reads.iter().find_map(|r| r.as_ref().ok()).cloned().ok_or_else(|| {
			StorageError::Unavailable {
				address: *address,
				failures: reads
					.iter()
					.filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
					.collect(),
			}
		})?;
		let mut report = Vec::with_capacity(self.replicas.len());
		for (r, read) in self.replicas.iter().zip(reads) {
			let state = match read {
				Ok(_) => ReplicaState::Good,
				Err(
					StorageError::NotFound { .. }
					| StorageError::HashMismatch { .. }
					| StorageError::TooLarge { .. },
				) => match r.replace_corrupt(address, good.clone()).await {
					Ok(true) => ReplicaState::Repaired,
					Ok(false) => ReplicaState::Good,
					Err(e) => ReplicaState::Failed(e.to_string()),
				},
				Err(e) => ReplicaState::Failed(e.to_string()),
			};
			report.push((r.name.clone(), state));
		}
		Ok(report)
	}
}
