//! A planted oversized object is refused without exhausting memory.
//!
//! Its own test binary, hence its own process, and one test running its scenarios in turn: the
//! peak resident memory (VmHWM) measured around each read is this read's alone.

mod common;

use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use common::MotoServer;
use futures::stream::BoxStream;
use futures::{Future, StreamExt};
use mbds_storage::*;
use object_store::path::Path;
use object_store::{
	CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
	ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

const BUCKET: &str = "mbds-records";
const MIB: u64 = 1 << 20;
/// The planted object: 200 MiB, three times the default limit.
const PLANTED: u64 = 200 * MIB;

fn status_kib(field: &str) -> u64 {
	let status = std::fs::read_to_string("/proc/self/status").unwrap();
	let line = status.lines().find(|l| l.starts_with(field)).unwrap();
	line[field.len()..].trim().trim_end_matches("kB").trim().parse().unwrap()
}

/// Runs `f` and returns its result with the growth of the peak resident set it caused, in
/// bytes: the peak (VmHWM, reset first through /proc/self/clear_refs) minus the resident set
/// before.
async fn peak_growth<T>(f: impl Future<Output = T>) -> (T, u64) {
	let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
	let before = if reset { status_kib("VmRSS:") } else { status_kib("VmHWM:") };
	let out = f.await;
	let after = status_kib("VmHWM:");
	(out, after.saturating_sub(before) * 1024)
}

fn record(n: u8) -> Bytes {
	Bytes::from(vec![n; 64 * 1024 + n as usize])
}

fn file_of(root: &std::path::Path, addr: &ContentAddress) -> std::path::PathBuf {
	root.join(BlobStore::object_path(addr).as_ref())
}

/// A real backend whose reads lie: every object is reported as 1 KiB, and, for `endless`, the
/// body is an endless stream of 1 MiB chunks instead of the stored bytes.
#[derive(Debug)]
struct Liar {
	inner: Arc<dyn ObjectStore>,
	endless: bool,
}

impl fmt::Display for Liar {
	fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
		write!(f, "Liar({})", self.inner)
	}
}

type Fut<'a, T> = Pin<Box<dyn Future<Output = object_store::Result<T>> + Send + 'a>>;

// `ObjectStore` is an `async_trait`; written out by hand to avoid one more dev-dependency.
impl ObjectStore for Liar {
	fn put_opts<'a, 'b, 'c>(
		&'a self,
		l: &'b Path,
		p: PutPayload,
		o: PutOptions,
	) -> Fut<'c, PutResult>
	where
		'a: 'c,
		'b: 'c,
		Self: 'c,
	{
		self.inner.put_opts(l, p, o)
	}
	fn put_multipart_opts<'a, 'b, 'c>(
		&'a self,
		l: &'b Path,
		o: PutMultipartOptions,
	) -> Fut<'c, Box<dyn MultipartUpload>>
	where
		'a: 'c,
		'b: 'c,
		Self: 'c,
	{
		self.inner.put_multipart_opts(l, o)
	}
	fn get_opts<'a, 'b, 'c>(&'a self, l: &'b Path, o: GetOptions) -> Fut<'c, GetResult>
	where
		'a: 'c,
		'b: 'c,
		Self: 'c,
	{
		Box::pin(async move {
			let real = self.inner.get_opts(l, o).await?;
			let meta = ObjectMeta { size: 1024, ..real.meta.clone() };
			let range: Range<u64> = 0..1024;
			Ok(if self.endless {
				let chunk = Bytes::from(vec![0u8; MIB as usize]);
				let payload = GetResultPayload::Stream(
					futures::stream::repeat_with(move || Ok(chunk.clone())).boxed(),
				);
				GetResult { payload, meta, range, ..real }
			} else {
				GetResult { meta, range, ..real }
			})
		})
	}
	fn delete_stream(
		&self,
		locations: BoxStream<'static, object_store::Result<Path>>,
	) -> BoxStream<'static, object_store::Result<Path>> {
		self.inner.delete_stream(locations)
	}
	fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
		self.inner.list(prefix)
	}
	fn list_with_delimiter<'a, 'b, 'c>(&'a self, prefix: Option<&'b Path>) -> Fut<'c, ListResult>
	where
		'a: 'c,
		'b: 'c,
		Self: 'c,
	{
		self.inner.list_with_delimiter(prefix)
	}
	fn copy_opts<'a, 'b, 'd, 'c>(
		&'a self,
		from: &'b Path,
		to: &'d Path,
		o: CopyOptions,
	) -> Fut<'c, ()>
	where
		'a: 'c,
		'b: 'c,
		'd: 'c,
		Self: 'c,
	{
		self.inner.copy_opts(from, to, o)
	}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn planted_oversized_object_is_refused_without_exhausting_memory() {
	let dir = tempfile::tempdir().unwrap();
	let root = dir.path().join("hospital-a");
	let disk = BlobStore::open("hospital-a", &StoreConfig::Local { root: root.clone() }).unwrap();
	assert_eq!(disk.max_object_size(), DEFAULT_MAX_OBJECT_SIZE);
	assert_eq!(DEFAULT_MAX_OBJECT_SIZE, 64 * MIB);

	// 1. Local folder: a 200 MiB file (sparse: reading it yields 200 MiB of zeros) planted at
	// the address of a real record.
	let rec = record(1);
	let addr = ContentAddress::of(&rec);
	let file = file_of(&root, &addr);
	std::fs::create_dir_all(file.parent().unwrap()).unwrap();
	std::fs::File::create(&file).unwrap().set_len(PLANTED).unwrap();

	let started = Instant::now();
	let (res, growth) = peak_growth(disk.get(&addr)).await;
	let err = res.unwrap_err();
	eprintln!(
		"local 200 MiB, reported size: {err}; peak RSS growth {} KiB in {:?}",
		growth / 1024,
		started.elapsed()
	);
	assert!(
		matches!(err, StorageError::TooLarge { ref store, address, limit, size } if store == "hospital-a" && address == addr && limit == 64 * MIB && size == PLANTED),
		"{err}"
	);
	assert!(err.to_string().contains("over the 67108864-byte limit"), "{err}");
	assert!(
		growth < 8 * MIB,
		"refused from its reported size, yet the peak RSS grew {growth} bytes"
	);

	// Control: the measure sees a whole read. With a limit above 200 MiB the object is read
	// (and refused by its hash), and the peak grows by about its size.
	let (res, growth) = peak_growth(disk.clone().with_max_object_size(256 * MIB).get(&addr)).await;
	eprintln!("control, local 200 MiB read whole: peak RSS growth {} KiB", growth / 1024);
	assert!(matches!(res, Err(StorageError::HashMismatch { .. })));
	assert!(growth > 150 * MIB, "the measure missed a 200 MiB read: {growth} bytes");

	// A put of the record does not overwrite the planted object; it says what it found.
	let err = disk.put(rec.clone()).await.unwrap_err();
	assert!(
		matches!(err, StorageError::Occupied { ref store, address, ref found } if store == "hospital-a" && address == addr && matches!(**found, StorageError::TooLarge { size: PLANTED, .. })),
		"{err}"
	);
	assert!(err.to_string().contains("left in place"), "{err}");
	assert_eq!(std::fs::metadata(&file).unwrap().len(), PLANTED, "the planted object was touched");

	// 2. The reported size lies (1 KiB): reading stops once the bytes pass the limit, here
	// 8 MiB, a small part of the 200 MiB file (local file payload).
	let liar = BlobStore::from_object_store(
		"liar-file",
		Arc::new(Liar { inner: disk.object_store().clone(), endless: false }),
	)
	.with_max_object_size(8 * MIB);
	let (res, growth) = peak_growth(liar.get(&addr)).await;
	let err = res.unwrap_err();
	eprintln!(
		"local 200 MiB reported as 1 KiB, limit 8 MiB: {err}; peak RSS growth {} KiB",
		growth / 1024
	);
	match err {
		StorageError::TooLarge { ref store, address, limit, size } => {
			assert_eq!((store.as_str(), address, limit), ("liar-file", addr, 8 * MIB));
			assert!(size > 8 * MIB && size <= 8 * MIB + 256 * 1024, "stopped at {size}");
		}
		other => panic!("{other}"),
	}
	assert!(growth < 32 * MIB, "peak RSS grew {growth} bytes reading at most 8 MiB");

	// ...and an endless body (stream payload) is cut the same way.
	let endless = BlobStore::from_object_store(
		"liar-stream",
		Arc::new(Liar { inner: disk.object_store().clone(), endless: true }),
	)
	.with_max_object_size(8 * MIB);
	let (res, growth) = peak_growth(endless.get(&addr)).await;
	let err = res.unwrap_err();
	eprintln!("endless stream, limit 8 MiB: {err}; peak RSS growth {} KiB", growth / 1024);
	assert!(
		matches!(err, StorageError::TooLarge { limit, size, .. } if limit == 8 * MIB && size == 9 * MIB),
		"{err}"
	);
	assert!(growth < 32 * MIB, "peak RSS grew {growth} bytes reading at most 8 MiB");

	// 3. A replica holds the record: the read serves it and replaces the oversized copy
	// (verified wrong, deleted, then created).
	let other =
		BlobStore::open("hospital-b", &StoreConfig::Local { root: dir.path().join("b") }).unwrap();
	assert_eq!(other.put(rec.clone()).await.unwrap(), addr);
	let replicated = ReplicatedStore::new(vec![disk.clone(), other.clone()], 1).unwrap();
	let (res, growth) = peak_growth(replicated.get(&addr)).await;
	assert_eq!(res.unwrap(), rec);
	assert!(growth < 8 * MIB, "peak RSS grew {growth} bytes");
	assert_eq!(std::fs::metadata(&file).unwrap().len(), rec.len() as u64, "repaired by the read");
	assert_eq!(disk.get(&addr).await.unwrap(), rec);

	// 4. S3: a 200 MiB object planted through the backend (multipart, 8 MiB parts).
	let server = MotoServer::start(BUCKET);
	let cloud = BlobStore::open(
		"s3-platform",
		&StoreConfig::s3(&server.endpoint, BUCKET, "us-east-1", "testing", "testing"),
	)
	.unwrap();
	let rec = record(2);
	let addr = ContentAddress::of(&rec);
	let started = Instant::now();
	let mut upload =
		cloud.object_store().put_multipart(&BlobStore::object_path(&addr)).await.unwrap();
	let part = Bytes::from(vec![0u8; 8 * MIB as usize]);
	for _ in 0..PLANTED / (8 * MIB) {
		upload.put_part(PutPayload::from_bytes(part.clone())).await.unwrap();
	}
	upload.complete().await.unwrap();
	drop(part);
	eprintln!("planted 200 MiB on moto in {:?}", started.elapsed());
	let head = cloud.object_store().head(&BlobStore::object_path(&addr)).await.unwrap();
	assert_eq!(head.size, PLANTED);

	let started = Instant::now();
	let (res, growth) = peak_growth(cloud.get(&addr)).await;
	let err = res.unwrap_err();
	eprintln!(
		"S3 200 MiB: {err}; peak RSS growth {} KiB in {:?}",
		growth / 1024,
		started.elapsed()
	);
	assert!(
		matches!(err, StorageError::TooLarge { ref store, address, limit, size } if store == "s3-platform" && address == addr && limit == 64 * MIB && size == PLANTED),
		"{err}"
	);
	assert!(
		growth < 16 * MIB,
		"refused from its reported size, yet the peak RSS grew {growth} bytes"
	);

	// Put refuses to overwrite it; an explicit repair from a good replica replaces it.
	let err = cloud.put(rec.clone()).await.unwrap_err();
	assert!(matches!(err, StorageError::Occupied { .. }), "{err}");
	let head = cloud.object_store().head(&BlobStore::object_path(&addr)).await.unwrap();
	assert_eq!(head.size, PLANTED, "put overwrote the planted object");
	assert_eq!(other.put(rec.clone()).await.unwrap(), addr);
	let replicated = ReplicatedStore::new(vec![cloud.clone(), other.clone()], 2).unwrap();
	let (report, growth) = peak_growth(replicated.repair(&addr)).await;
	assert_eq!(
		report.unwrap(),
		vec![
			("s3-platform".into(), ReplicaState::Repaired),
			("hospital-b".into(), ReplicaState::Good)
		]
	);
	assert!(growth < 16 * MIB, "peak RSS grew {growth} bytes");
	assert_eq!(cloud.get(&addr).await.unwrap(), rec);
}

#[tokio::test]
async fn put_refuses_a_blob_over_the_limit_and_repair_never_deletes_what_it_cannot_replace() {
	let dir = tempfile::tempdir().unwrap();
	let small =
		BlobStore::open("small", &StoreConfig::Local { root: dir.path().join("small") }).unwrap();
	let small = small.with_max_object_size(64 * 1024);
	let big = BlobStore::open("big", &StoreConfig::Local { root: dir.path().join("big") }).unwrap();
	let rec = record(3); // 64 KiB + 3 bytes
	let addr = ContentAddress::of(&rec);

	let err = small.put(rec.clone()).await.unwrap_err();
	assert!(
		matches!(err, StorageError::TooLarge { ref store, address, limit: 65536, size } if store == "small" && address == addr && size == rec.len() as u64),
		"{err}"
	);
	assert!(
		matches!(small.get(&addr).await, Err(StorageError::NotFound { .. })),
		"nothing written"
	);

	// A replicated put with quorum 2 fails on the small store and names it.
	let replicated = ReplicatedStore::new(vec![small.clone(), big.clone()], 2).unwrap();
	let err = replicated.put(rec.clone()).await.unwrap_err();
	assert!(matches!(err, StorageError::WriteQuorum { succeeded: 1, needed: 2, .. }), "{err}");
	assert!(
		err.to_string().contains("store small: blob")
			&& err.to_string().contains("65536-byte limit"),
		"{err}"
	);

	// An object sits in the small store at the address (planted through the backend, too big
	// for its limit): a repair cannot put the blob there, so it must not delete what is there.
	small
		.object_store()
		.put(&BlobStore::object_path(&addr), PutPayload::from(vec![7u8; 100 * 1024]))
		.await
		.unwrap();
	let report = replicated.repair(&addr).await.unwrap();
	assert!(
		matches!(report[0], (ref n, ReplicaState::Failed(ref why)) if n == "small" && why.contains("limit")),
		"{report:?}"
	);
	assert_eq!(report[1], ("big".into(), ReplicaState::Good));
	let kept = small.object_store().get(&BlobStore::object_path(&addr)).await.unwrap();
	assert_eq!(kept.meta.size, 100 * 1024, "a copy that could not be replaced was deleted");
}
