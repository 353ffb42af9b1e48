//! The proxy's view of the consortium does not rest on one RPC node's word (issue 14).
//!
//! A real `--dev` node, and in front of it a "node" that lies: it forwards JSON-RPC but says
//! `ConsentApi_is_access_allowed` is true whatever the chain says, alters storage proofs, or
//! alters the headers it serves. The proxy's old view (`RpcConsortium`) believes the first lie;
//! the verified view (`VerifiedConsortium`: GRANDPA light client from the chain spec's genesis,
//! reads proven against a finalised state root) answers exactly what the honest node's state
//! says, and through a liar either fails or stays on the last block it could verify.

use mbds_primitives::consent::Action;
use mbds_proxy::consortium::{Consortium, RpcConsortium};
use mbds_proxy::verified::{TrustAnchor, VerifiedConsortium};
use mbds_tests::{node_binary, Node};
use serde_json::Value;
use sp_core::H256;
use sp_keyring::Sr25519Keyring;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq)]
enum Lie {
	/// `ConsentApi_is_access_allowed` answers true; everything else is forwarded as is.
	ConsentAllowed,
	/// Every storage proof has one trie node altered (and the consent lie too).
	Proofs,
	/// Every header but genesis is served with another state root.
	Headers,
}

/// A JSON-RPC "node" on loopback that forwards to `upstream` and lies as `lie` says.
fn liar(upstream: String, lie: Lie) -> String {
	let listener = TcpListener::bind("127.0.0.1:0").unwrap();
	let url = format!("http://{}", listener.local_addr().unwrap());
	std::thread::spawn(move || {
		for stream in listener.incoming().flatten() {
			let upstream = upstream.clone();
			std::thread::spawn(move || {
				let mut reader = BufReader::new(stream.try_clone().unwrap());
				let mut length = 0usize;
				loop {
					let mut line = String::new();
					if reader.read_line(&mut line).unwrap_or(0) == 0 {
						return;
					}
					if line == "\r\n" {
						break;
					}
					if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
						length = v.trim().parse().unwrap_or(0);
					}
				}
				let mut body = vec![0; length];
				if reader.read_exact(&mut body).is_err() {
					return;
				}
				let request: Value = serde_json::from_slice(&body).unwrap_or_default();
				let mut answer: Value = match ureq::post(&upstream)
					.set("Content-Type", "application/json")
					.send_bytes(&body)
				{
					Ok(r) => r.into_json().unwrap_or_default(),
					Err(_) => return,
				};
				let method = request["method"].as_str().unwrap_or_default();
				let lie_proofs = lie == Lie::Proofs;
				if method == "state_call"
					&& request["params"][0] == "ConsentApi_is_access_allowed"
					&& lie != Lie::Headers
				{
					answer["result"] = "0x01".into();
				}
				if method == "state_getReadProof" && lie_proofs {
					if let Some(nodes) = answer["result"]["proof"].as_array_mut() {
						if let Some(first) = nodes.first_mut() {
							let mut hex = first.as_str().unwrap().to_string();
							let last = hex.pop().unwrap();
							hex.push(if last == '0' { '1' } else { '0' });
							*first = hex.into();
						}
					}
				}
				if method == "chain_getHeader"
					&& lie == Lie::Headers
					&& answer["result"]["number"] != "0x0"
				{
					answer["result"]["stateRoot"] = format!("0x{}", "11".repeat(32)).into();
				}
				let out = serde_json::to_vec(&answer).unwrap();
				let mut stream = stream;
				let _ = write!(
					stream,
					"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
					out.len()
				);
				let _ = stream.write_all(&out);
			});
		}
	});
	url
}

#[test]
fn the_proxy_believes_only_what_the_consortium_finalised_and_proved() {
	let dir = tempfile::tempdir().unwrap();
	let mut node =
		Node::start("dev", &["--dev".into(), "--tmp".into()], &dir.path().join("dev.log"));
	node.wait_for("finalised block >= 3", Duration::from_secs(120), |n| {
		Ok(n.finalized_number()? >= 3)
	})
	.unwrap();
	let out = Command::new(node_binary())
		.args(["build-spec", "--chain", "dev", "--raw"])
		.output()
		.expect("mbds-node build-spec");
	assert!(out.status.success(), "build-spec failed: {}", String::from_utf8_lossy(&out.stderr));
	let spec = String::from_utf8(out.stdout).unwrap();
	let url = node.url();
	let checkpoint = |name: &str| dir.path().join(name);

	// Honest node: the verified view agrees with the node's own answers at the same block.
	let honest = RpcConsortium::connect(&url).unwrap();
	let verified =
		VerifiedConsortium::open(&url, TrustAnchor::ChainSpec(spec.clone()), checkpoint("honest"))
			.unwrap();
	let (at, number) = verified.finalized().unwrap();
	assert!(number >= 3, "the light client reached only block #{number}");
	let alice: mbds_runtime::AccountId = Sr25519Keyring::Alice.to_account_id();
	let bob: mbds_runtime::AccountId = Sr25519Keyring::Bob.to_account_id();
	let record = H256::repeat_byte(9);
	assert_eq!(verified.participant(&alice, at).unwrap(), honest.participant(&alice, at).unwrap());
	assert_eq!(verified.key_set(&alice, at).unwrap(), honest.key_set(&alice, at).unwrap());
	let now = 1_900_000_000_000;
	for (patient, user) in [(&alice, &alice), (&alice, &bob)] {
		assert_eq!(
			verified.may_access(patient, user, record, Action::Read, now, at).unwrap(),
			honest.may_access(patient, user, record, Action::Read, now, at).unwrap()
		);
	}
	let truth = honest.may_access(&alice, &bob, record, Action::Read, now, at).unwrap();
	assert!(!truth, "Bob may not read Alice's records on a fresh dev chain");

	// A node that lies about the consent answer: the old view serves Bob, the verified does not.
	let lying = liar(url.clone(), Lie::ConsentAllowed);
	let fooled = RpcConsortium::connect(&lying).unwrap();
	assert!(
		fooled.may_access(&alice, &bob, record, Action::Read, now, at).unwrap(),
		"the lie reaches a proxy that believes its node"
	);
	let careful =
		VerifiedConsortium::open(&lying, TrustAnchor::ChainSpec(spec.clone()), checkpoint("lie"))
			.unwrap();
	let (at2, _) = careful.finalized().unwrap();
	assert!(!careful.may_access(&alice, &bob, record, Action::Read, now, at2).unwrap());

	// A node that alters storage proofs: every read fails, none is answered from the lie.
	let lying = liar(url.clone(), Lie::Proofs);
	let careful = VerifiedConsortium::open(
		&lying,
		TrustAnchor::ChainSpec(spec.clone()),
		checkpoint("proofs"),
	)
	.unwrap();
	let (at3, _) = careful.finalized().unwrap();
	let err = careful.may_access(&alice, &bob, record, Action::Read, now, at3).unwrap_err();
	assert!(err.contains("state root") || err.contains("proof"), "{err}");
	assert!(careful.participant(&alice, at3).is_err());

	// A node that serves headers with another state: no justification finalises them, so the
	// client never leaves genesis (and then reads only genesis state, proven).
	let lying = liar(url.clone(), Lie::Headers);
	let careful = VerifiedConsortium::open(
		&lying,
		TrustAnchor::ChainSpec(spec.clone()),
		checkpoint("headers"),
	)
	.unwrap();
	std::thread::sleep(Duration::from_secs(2));
	assert_eq!(careful.finalized().unwrap().1, 0, "a forged header was taken as final");

	// Another chain's spec is refused before anything is read.
	let other = std::fs::read_to_string(
		std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
			.join("../chain-specs/consortium-local-raw.json"),
	)
	.unwrap();
	let err = VerifiedConsortium::open(&url, TrustAnchor::ChainSpec(other), checkpoint("other"))
		.err()
		.expect("a node of another chain was accepted");
	assert!(err.contains("not the chain spec's"), "{err}");

	// A restart continues from the checkpoint kept on disk.
	drop(verified);
	assert!(checkpoint("honest").exists(), "no checkpoint kept");
	let again =
		VerifiedConsortium::open(&url, TrustAnchor::ChainSpec(spec), checkpoint("honest")).unwrap();
	assert!(again.finalized().unwrap().1 >= number);
	node.stop(Duration::from_secs(30)).unwrap();
}
