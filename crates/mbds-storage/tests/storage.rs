//! Stories of encrypted record bodies in local and S3 stores, with replicas failing.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::MotoServer;
use mbds_storage::*;
use object_store::{ObjectStoreExt, PutPayload};

const BUCKET: &str = "mbds-records";

fn local(dir: &tempfile::TempDir, name: &str) -> BlobStore {
	BlobStore::open(name, &StoreConfig::Local { root: dir.path().join(name) }).unwrap()
}

fn s3(server: &MotoServer, name: &str) -> BlobStore {
	BlobStore::open(
		name,
		&StoreConfig::s3(&server.endpoint, BUCKET, "us-east-1", "testing", "testing"),
	)
	.unwrap()
}

fn record(n: u8) -> Bytes {
	Bytes::from(vec![n; 4096 + n as usize])
}

async fn corrupt(store: &BlobStore, addr: &ContentAddress) {
	store
		.object_store()
		.put(&BlobStore::object_path(addr), PutPayload::from(b"tampered ciphertext".to_vec()))
		.await
		.unwrap();
}

#[tokio::test]
async fn local_folder_put_returns_sha256_and_get_verifies() {
	let dir = tempfile::tempdir().unwrap();
	let store = local(&dir, "hospital-a");
	let addr = store.put(Bytes::from_static(b"abc")).await.unwrap();
	// SHA-256("abc"), FIPS 180-2 test vector.
	assert_eq!(addr.to_hex(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_eq!(store.get(&addr).await.unwrap(), Bytes::from_static(b"abc"));
	assert_eq!(store.get_by_hex(&addr.to_hex()).await.unwrap(), Bytes::from_static(b"abc"));
	// Idempotent: same bytes, same address.
	assert_eq!(store.put(Bytes::from_static(b"abc")).await.unwrap(), addr);
	// The file is where the docs say.
	assert!(dir.path().join("hospital-a/blobs/sha256/ba/78").join(addr.to_hex()).is_file());

	let missing = ContentAddress::of(b"never stored");
	assert!(matches!(store.get(&missing).await, Err(StorageError::NotFound { .. })));
	store.delete(&addr).await.unwrap();
	assert!(matches!(store.get(&addr).await, Err(StorageError::NotFound { .. })));
}

#[tokio::test]
async fn corrupted_local_copy_is_detected_loudly() {
	let dir = tempfile::tempdir().unwrap();
	let store = local(&dir, "hospital-a");
	let addr = store.put(record(1)).await.unwrap();
	// Someone edits the file on disk.
	let file = dir
		.path()
		.join("hospital-a/blobs/sha256")
		.join(&addr.to_hex()[0..2])
		.join(&addr.to_hex()[2..4])
		.join(addr.to_hex());
	std::fs::write(&file, b"edited").unwrap();
	let err = store.get(&addr).await.unwrap_err();
	assert!(
		matches!(err, StorageError::HashMismatch { ref store, address, actual } if store == "hospital-a" && address == addr && actual == ContentAddress::of(b"edited"))
	);
	assert!(err.to_string().contains("corrupted"), "{err}");
}

#[tokio::test]
async fn malformed_address_is_rejected_with_a_clear_error() {
	let dir = tempfile::tempdir().unwrap();
	let store = local(&dir, "a");
	for bad in ["", "xyz", &"a".repeat(63), &"g".repeat(64), &"a".repeat(65), "../../etc/passwd"] {
		let err = store.get_by_hex(bad).await.unwrap_err();
		assert!(matches!(err, StorageError::InvalidAddress { .. }), "{bad:?}: {err}");
		assert!(err.to_string().starts_with("invalid content address"), "{err}");
	}
	let ok = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
		.parse::<ContentAddress>()
		.unwrap();
	assert_eq!(format!("sha256:{ok}").parse::<ContentAddress>().unwrap(), ok);
}

#[tokio::test]
async fn store_urls_are_parsed() {
	assert!(matches!(
		StoreConfig::from_url("/var/mbds", "", "").unwrap(),
		StoreConfig::Local { .. }
	));
	assert!(matches!(
		StoreConfig::from_url("file:///var/mbds", "", "").unwrap(),
		StoreConfig::Local { .. }
	));
	match StoreConfig::from_url(
		"s3://records?endpoint=http://127.0.0.1:9000&region=eu-west-1",
		"ak",
		"very-secret",
	)
	.unwrap()
	{
		c @ StoreConfig::S3 { .. } => {
			let dbg = format!("{c:?}");
			assert!(dbg.contains("bucket=records") && dbg.contains("eu-west-1"), "{dbg}");
			assert!(!dbg.contains("very-secret"), "secret printed: {dbg}");
		}
		other => panic!("{other:?}"),
	}
	assert!(StoreConfig::from_url("s3://records", "", "").is_err());
	assert!(StoreConfig::from_url("ftp://x/y", "", "").is_err());
	assert!(ReplicatedStore::new(vec![], 1).is_err());
}

#[tokio::test]
async fn s3_put_get_and_corruption_repaired_from_a_replica() {
	let server = MotoServer::start(BUCKET);
	let dir = tempfile::tempdir().unwrap();
	let cloud = s3(&server, "s3-platform");
	let disk = local(&dir, "hospital-a");

	// Plain S3 round trip.
	let addr = cloud.put(record(2)).await.unwrap();
	assert_eq!(addr, ContentAddress::of(&record(2)));
	assert_eq!(cloud.get(&addr).await.unwrap(), record(2));
	assert!(matches!(
		cloud.get(&ContentAddress::of(b"nope")).await,
		Err(StorageError::NotFound { .. })
	));

	// Replicated on both; the S3 copy gets tampered with.
	let replicated = ReplicatedStore::new(vec![cloud.clone(), disk.clone()], 2).unwrap();
	let addr = replicated.put(record(3)).await.unwrap();
	corrupt(&cloud, &addr).await;
	assert!(matches!(cloud.get(&addr).await, Err(StorageError::HashMismatch { .. })));

	// The read skips the bad copy, returns the good one and repairs S3.
	assert_eq!(replicated.get(&addr).await.unwrap(), record(3));
	assert_eq!(cloud.get(&addr).await.unwrap(), record(3), "S3 copy repaired by the read");

	// A missing local copy is found and healed by an explicit repair pass.
	disk.delete(&addr).await.unwrap();
	let report = replicated.repair(&addr).await.unwrap();
	assert_eq!(
		report,
		vec![
			("s3-platform".into(), ReplicaState::Good),
			("hospital-a".into(), ReplicaState::Repaired)
		]
	);
	assert_eq!(disk.get(&addr).await.unwrap(), record(3));

	// Both copies corrupted: the read fails loudly instead of returning bad data.
	corrupt(&cloud, &addr).await;
	corrupt(&disk, &addr).await;
	let err = replicated.get(&addr).await.unwrap_err();
	assert!(matches!(err, StorageError::Unavailable { .. }), "{err}");
	assert!(err.to_string().contains("corrupted"), "{err}");
}

#[tokio::test]
async fn one_store_down_reads_still_succeed() {
	let server_a = MotoServer::start(BUCKET);
	let server_b = MotoServer::start(BUCKET);
	let dir = tempfile::tempdir().unwrap();
	let a = s3(&server_a, "s3-a");
	let b = s3(&server_b, "s3-b");
	let disk = local(&dir, "hospital-a");
	let replicated = ReplicatedStore::new(vec![a.clone(), b.clone(), disk.clone()], 2).unwrap();
	let addrs =
		[replicated.put(record(4)).await.unwrap(), replicated.put(record(5)).await.unwrap()];

	// Store A goes down (its server process is killed).
	let port_a = server_a.port();
	drop(server_a);
	assert!(std::net::TcpStream::connect_timeout(
		&([127, 0, 0, 1], port_a).into(),
		Duration::from_millis(500)
	)
	.is_err());
	assert!(matches!(a.get(&addrs[0]).await, Err(StorageError::Backend { .. })));

	let started = std::time::Instant::now();
	assert_eq!(replicated.get(&addrs[0]).await.unwrap(), record(4));
	assert_eq!(replicated.get(&addrs[1]).await.unwrap(), record(5));
	assert!(started.elapsed() < Duration::from_secs(10), "a down store must not stall reads");

	// Writes still reach the quorum of 2 with one store down...
	let addr = replicated.put(record(6)).await.unwrap();
	assert_eq!(b.get(&addr).await.unwrap(), record(6));
	assert_eq!(disk.get(&addr).await.unwrap(), record(6));
	// ...but not a quorum of 3.
	let strict = ReplicatedStore::new(vec![a.clone(), b.clone(), disk.clone()], 3).unwrap();
	let err = strict.put(record(7)).await.unwrap_err();
	assert!(matches!(err, StorageError::WriteQuorum { succeeded: 2, needed: 3, .. }), "{err}");
	assert!(err.to_string().contains("s3-a"), "the failing store is named: {err}");

	// Repair reports the down store without failing.
	let report = replicated.repair(&addrs[0]).await.unwrap();
	assert!(matches!(report[0].1, ReplicaState::Failed(_)));
	assert_eq!(report[1].1, ReplicaState::Good);
	assert_eq!(report[2].1, ReplicaState::Good);
}

fn local_file(dir: &tempfile::TempDir, name: &str, addr: &ContentAddress) -> std::path::PathBuf {
	dir.path().join(name).join(BlobStore::object_path(addr).as_ref())
}

#[tokio::test]
async fn putting_the_same_bytes_twice_succeeds_without_rewriting() {
	use std::os::unix::fs::MetadataExt;
	let server = MotoServer::start(BUCKET);
	let dir = tempfile::tempdir().unwrap();
	let disk = local(&dir, "hospital-a");
	let cloud = s3(&server, "s3-platform");

	let addr = disk.put(record(10)).await.unwrap();
	let file = local_file(&dir, "hospital-a", &addr);
	let first = std::fs::metadata(&file).unwrap();
	assert_eq!(cloud.put(record(10)).await.unwrap(), addr);
	let path = BlobStore::object_path(&addr);
	let first_s3 = cloud.object_store().head(&path).await.unwrap();

	// S3's Last-Modified has a one-second resolution.
	tokio::time::sleep(Duration::from_millis(1100)).await;
	assert_eq!(disk.put(record(10)).await.unwrap(), addr);
	assert_eq!(cloud.put(record(10)).await.unwrap(), addr);
	let replicated = ReplicatedStore::new(vec![disk.clone(), cloud.clone()], 2).unwrap();
	assert_eq!(replicated.put(record(10)).await.unwrap(), addr);

	// The local file is the same inode, never replaced nor modified; the S3 object was not
	// rewritten (same Last-Modified).
	let second = std::fs::metadata(&file).unwrap();
	assert_eq!(
		(second.ino(), second.mtime_nsec(), second.mtime()),
		(first.ino(), first.mtime_nsec(), first.mtime())
	);
	let second_s3 = cloud.object_store().head(&path).await.unwrap();
	assert_eq!(second_s3.last_modified, first_s3.last_modified, "S3 object rewritten");
	assert_eq!(second_s3.e_tag, first_s3.e_tag);
	// No staging file left behind by the refused creates.
	let siblings = std::fs::read_dir(file.parent().unwrap()).unwrap().count();
	assert_eq!(siblings, 1, "left-over staging files next to the blob");
	assert_eq!(disk.get(&addr).await.unwrap(), record(10));
	assert_eq!(cloud.get(&addr).await.unwrap(), record(10));
}

#[tokio::test]
async fn a_planted_object_is_never_overwritten_by_put_and_only_repair_replaces_it() {
	let server = MotoServer::start(BUCKET);
	let dir = tempfile::tempdir().unwrap();
	let cloud = s3(&server, "s3-platform");
	let disk = local(&dir, "hospital-a");
	let spare = local(&dir, "hospital-b");
	let addr = ContentAddress::of(&record(11));
	let planted = b"a different object, planted at the address".to_vec();

	// Planted directly through the backends, before the record is ever written.
	for store in [&cloud, &disk] {
		store
			.object_store()
			.put(&BlobStore::object_path(&addr), PutPayload::from(planted.clone()))
			.await
			.unwrap();
	}
	for store in [&cloud, &disk] {
		let err = store.put(record(11)).await.unwrap_err();
		match &err {
			StorageError::Occupied { store: s, address, found } => {
				assert_eq!((s.as_str(), *address), (store.name(), addr));
				assert!(
					matches!(**found, StorageError::HashMismatch { actual, .. } if actual == ContentAddress::of(&planted)),
					"{found}"
				);
			}
			other => panic!("{other}"),
		}
		let msg = err.to_string();
		assert!(
			msg.contains(store.name())
				&& msg.contains(&addr.to_hex())
				&& msg.contains("left in place"),
			"{msg}"
		);
		// The planted bytes are still there, and reads refuse them naming store and address.
		let raw = store.object_store().get(&BlobStore::object_path(&addr)).await.unwrap();
		assert_eq!(
			raw.bytes().await.unwrap(),
			Bytes::from(planted.clone()),
			"{} overwritten",
			store.name()
		);
		let err = store.get(&addr).await.unwrap_err();
		assert!(
			matches!(err, StorageError::HashMismatch { store: ref s, address, actual } if s == store.name() && address == addr && actual == ContentAddress::of(&planted)),
			"{err}"
		);
		let msg = err.to_string();
		assert!(
			msg.contains(store.name()) && msg.contains(&addr.to_hex()) && msg.contains("corrupted"),
			"{msg}"
		);
	}

	// A replicated put reaches only the spare store: both planted replicas refuse and keep
	// their object; quorum 1 is met, quorum 2 is not.
	let all = ReplicatedStore::new(vec![cloud.clone(), disk.clone(), spare.clone()], 1).unwrap();
	assert_eq!(all.put(record(11)).await.unwrap(), addr);
	let strict = ReplicatedStore::new(vec![cloud.clone(), disk.clone(), spare.clone()], 2).unwrap();
	let err = strict.put(record(11)).await.unwrap_err();
	assert!(matches!(err, StorageError::WriteQuorum { succeeded: 1, needed: 2, .. }), "{err}");
	assert!(err.to_string().contains("left in place"), "{err}");
	assert!(matches!(cloud.get(&addr).await, Err(StorageError::HashMismatch { .. })));
	assert!(matches!(disk.get(&addr).await, Err(StorageError::HashMismatch { .. })));

	// A read serves the spare's verified copy and replaces the planted copies it met (the
	// deliberate path: verified wrong, deleted, created).
	assert_eq!(all.get(&addr).await.unwrap(), record(11));
	assert_eq!(cloud.get(&addr).await.unwrap(), record(11), "S3 copy replaced by the read");
	assert_eq!(disk.get(&addr).await.unwrap(), record(11), "local copy replaced by the read");

	// Planted again on the local folder (in place, same file): the explicit repair replaces it.
	std::fs::write(local_file(&dir, "hospital-a", &addr), &planted).unwrap();
	let report = all.repair(&addr).await.unwrap();
	assert_eq!(
		report,
		vec![
			("s3-platform".into(), ReplicaState::Good),
			("hospital-a".into(), ReplicaState::Repaired),
			("hospital-b".into(), ReplicaState::Good),
		]
	);
	assert_eq!(disk.get(&addr).await.unwrap(), record(11));

	// replace_corrupt leaves a verified copy alone and refuses a replacement that is not the blob.
	assert!(!disk.replace_corrupt(&addr, record(11)).await.unwrap());
	assert!(matches!(
		disk.replace_corrupt(&addr, Bytes::from(planted.clone())).await,
		Err(StorageError::HashMismatch { .. })
	));
	assert_eq!(disk.get(&addr).await.unwrap(), record(11));
}
