//! The node as a real process: a `--dev` chain produces and finalises blocks, a 4-validator
//! hospital network reaches GRANDPA finality, and bad `--chain` input is refused clearly.

use mbds_tests::{node_binary, Network, Node};
use std::{process::Command, time::Duration};

#[test]
fn dev_node_produces_and_finalises_blocks_then_stops_cleanly() {
	let dir = tempfile::tempdir().unwrap();
	let mut node =
		Node::start("dev", &["--dev".into(), "--tmp".into()], &dir.path().join("dev.log"));
	node.wait_for("best block >= 3", Duration::from_secs(120), |n| Ok(n.best_number()? >= 3))
		.unwrap();
	node.wait_for("finalised block >= 2", Duration::from_secs(60), |n| {
		Ok(n.finalized_number()? >= 2)
	})
	.unwrap();
	// The chain says which chain it is: chain-info storage is set from the development preset.
	let props = node.rpc("system_properties", serde_json::json!([])).unwrap();
	assert_eq!(props["tokenSymbol"], "MBDS");
	assert_eq!(props["tokenDecimals"], 12);
	let status = node.stop(Duration::from_secs(30)).unwrap();
	assert!(status.success(), "dev node exited with {status} on SIGTERM");
}

#[test]
fn hospital_local_network_of_four_validators_finalises_with_grandpa() {
	let mut net = Network::start("hospital-local", 4);
	net.wait_finalized(3, Duration::from_secs(180)).unwrap_or_else(|e| panic!("{e}"));
	// Every node agrees on the finalised chain, and finality is not one node's private view.
	let first = &net.nodes[0];
	let f = first.finalized_number().unwrap();
	let hash = first.rpc("chain_getBlockHash", serde_json::json!([f])).unwrap();
	for node in &net.nodes[1..] {
		node.wait_for(&format!("block {f} = {hash}"), Duration::from_secs(60), |n| {
			Ok(n.rpc("chain_getBlockHash", serde_json::json!([f]))? == hash)
		})
		.unwrap();
	}
	net.stop().unwrap();
}

fn run_node(args: &[&str]) -> (i32, String) {
	let out = Command::new(node_binary()).args(args).output().expect("run mbds-node");
	let text =
		String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
	(out.status.code().unwrap_or(-1), text)
}

#[test]
fn unknown_chain_name_is_refused_with_the_known_names() {
	let dir = tempfile::tempdir().unwrap();
	let base = dir.path().display().to_string();
	let (code, text) = run_node(&["--chain", "hospital-remote", "--base-path", &base]);
	assert_ne!(code, 0, "mbds-node accepted an unknown chain:\n{text}");
	assert!(
		text.contains("unknown chain `hospital-remote`"),
		"message does not name the chain:\n{text}"
	);
	assert!(text.contains("consortium-local"), "message does not list known chains:\n{text}");
	assert!(
		!text.contains("panicked") && !text.contains("stack backtrace"),
		"panic on bad input:\n{text}"
	);
}

#[test]
fn malformed_chain_spec_file_is_refused_naming_the_file() {
	let dir = tempfile::tempdir().unwrap();
	let spec = dir.path().join("broken-spec.json");
	std::fs::write(&spec, b"{ \"name\": \"half a spec\", ").unwrap();
	let base = dir.path().display().to_string();
	let (code, text) = run_node(&["--chain", spec.to_str().unwrap(), "--base-path", &base]);
	assert_ne!(code, 0, "mbds-node accepted a malformed chain spec:\n{text}");
	assert!(text.contains("broken-spec.json"), "message does not name the file:\n{text}");
	assert!(
		!text.contains("panicked") && !text.contains("stack backtrace"),
		"panic on bad input:\n{text}"
	);
}
