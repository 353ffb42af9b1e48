//! Real MBDS nodes as child processes on loopback, for tests and for `mbds-localnet`.
//!
//! A [`Node`] is one `mbds-node` process with its own base path, RPC port and log file; a
//! [`Network`] is the validators of one chain, connected through the first node as bootnode.
//! Dropping either stops the processes (SIGTERM, then SIGKILL after a grace period), so a
//! failing test leaves nothing running.

pub mod adversary;
pub mod anchoring;
pub mod client;
pub mod journey;
pub mod load;
pub mod upgrade;

use serde_json::{json, Value};
use std::{
	cell::RefCell,
	fs::File,
	io::Read,
	net::TcpListener,
	path::{Path, PathBuf},
	process::{Child, Command, ExitStatus, Stdio},
	time::{Duration, Instant},
};

/// Dev accounts whose keys `mbds-node --<name>` puts in the keystore, in genesis order.
pub const VALIDATOR_NAMES: [&str; 6] = ["alice", "bob", "charlie", "dave", "eve", "ferdie"];

/// The `mbds-node` binary: `$MBDS_NODE`, else next to the running executable's target dir.
pub fn node_binary() -> PathBuf {
	if let Ok(p) = std::env::var("MBDS_NODE") {
		return PathBuf::from(p);
	}
	workspace_binary("mbds-node")
}

/// The cargo target directory the tests were built in (`$CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
	let exe = std::env::current_exe().expect("current executable path");
	let mut dir = exe.parent().expect("executable has a directory").to_path_buf();
	if dir.ends_with("deps") {
		dir.pop();
	}
	// `<target>/release`.
	dir.pop();
	dir
}

/// A binary of this workspace (`mbds-node`, `mbds-relayer`, ...) in the running executable's
/// target dir: test executables live in `<target>/<profile>/deps/`, binaries one level up.
pub fn workspace_binary(name: &str) -> PathBuf {
	let exe = std::env::current_exe().expect("current executable path");
	let mut dir = exe.parent().expect("executable has a directory").to_path_buf();
	if dir.ends_with("deps") {
		dir.pop();
	}
	let candidate = dir.join(name);
	assert!(
		candidate.exists(),
		"{name} not found at {}: build it first (`scripts/test.sh` builds every binary)",
		candidate.display()
	);
	candidate
}

/// A TCP port free on loopback right now.
pub fn free_port() -> u16 {
	TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("bind loopback").port()
}

/// `mbds-node` with `args` plus the RPC/P2P ports on loopback, its output to `log_path`.
fn spawn_node(
	name: &str,
	args: &[String],
	log_path: &Path,
	(rpc_port, p2p_port): (u16, u16),
) -> Child {
	let log = File::create(log_path)
		.unwrap_or_else(|e| panic!("cannot create log {}: {e}", log_path.display()));
	Command::new(node_binary())
		.args(args)
		.args([
			"--rpc-port".to_string(),
			rpc_port.to_string(),
			"--no-prometheus".into(),
			"--no-telemetry".into(),
			"--no-mdns".into(),
			"--listen-addr".into(),
			format!("/ip4/127.0.0.1/tcp/{p2p_port}"),
		])
		.stdout(Stdio::null())
		.stderr(log)
		.spawn()
		.unwrap_or_else(|e| panic!("cannot start mbds-node for {name}: {e}"))
}

/// One `mbds-node` process.
pub struct Node {
	pub name: String,
	pub rpc_port: u16,
	pub p2p_port: u16,
	pub log_path: PathBuf,
	/// The arguments it was started with (without the ports), to restart it.
	args: Vec<String>,
	// A cell, so a node can be polled (which reaps an exited child) through `&self`.
	child: RefCell<Option<Child>>,
}

impl Node {
	/// Start `mbds-node` with `args` plus RPC/P2P ports on loopback; output goes to `log_path`.
	pub fn start(name: &str, args: &[String], log_path: &Path) -> Node {
		let (rpc_port, p2p_port) = (free_port(), free_port());
		let child = spawn_node(name, args, log_path, (rpc_port, p2p_port));
		Node {
			name: name.into(),
			rpc_port,
			p2p_port,
			log_path: log_path.into(),
			args: args.to_vec(),
			child: RefCell::new(Some(child)),
		}
	}

	/// SIGKILL: the node gets no chance to flush or close anything (a power cut, an OOM kill).
	pub fn kill_9(&mut self) {
		if let Some(mut child) = self.child.get_mut().take() {
			let _ = child.kill();
			let _ = child.wait();
		}
	}

	/// Start the node again (after [`Node::kill_9`] or [`Node::stop`]) with the same arguments,
	/// database and ports, its output going to `log_path` from now on.
	pub fn restart(&mut self, log_path: &Path) {
		assert!(self.child.get_mut().is_none(), "{} is still running", self.name);
		let child = spawn_node(&self.name, &self.args, log_path, (self.rpc_port, self.p2p_port));
		self.log_path = log_path.into();
		*self.child.get_mut() = Some(child);
	}

	/// The `--base-path` it was started with.
	pub fn base_path(&self) -> Option<PathBuf> {
		let i = self.args.iter().position(|a| a == "--base-path")?;
		self.args.get(i + 1).map(PathBuf::from)
	}

	/// JSON-RPC call over HTTP (through `mbds-client`); `Err`, naming the node, if it is
	/// unreachable or returns an error object.
	pub fn rpc(&self, method: &str, params: Value) -> Result<Value, String> {
		let rpc = mbds_client::Rpc { url: self.url(), timeout: Duration::from_secs(10) };
		rpc.call(method, params).map_err(|e| format!("{}: {e}", self.name))
	}

	fn header_number(&self, hash: Option<Value>) -> Result<u32, String> {
		let params = match hash {
			Some(h) => json!([h]),
			None => json!([]),
		};
		let header = self.rpc("chain_getHeader", params)?;
		let n = header["number"].as_str().ok_or("header without number")?;
		u32::from_str_radix(n.trim_start_matches("0x"), 16).map_err(|e| e.to_string())
	}

	/// Number of the best block.
	pub fn best_number(&self) -> Result<u32, String> {
		self.header_number(None)
	}

	/// Number of the last block finalised by GRANDPA.
	pub fn finalized_number(&self) -> Result<u32, String> {
		let hash = self.rpc("chain_getFinalizedHead", json!([]))?;
		self.header_number(Some(hash))
	}

	/// Wait until `cond` holds (polled every 500 ms) or `timeout` passes.
	pub fn wait_for(
		&self,
		what: &str,
		timeout: Duration,
		mut cond: impl FnMut(&Node) -> Result<bool, String>,
	) -> Result<(), String> {
		let start = Instant::now();
		let mut last = String::from("not reached yet");
		while start.elapsed() < timeout {
			if let Some(status) = self.try_exit_status() {
				return Err(format!(
					"{} exited ({status}) while waiting for {what}; log tail:\n{}",
					self.name,
					self.log_tail(30)
				));
			}
			match cond(self) {
				Ok(true) => return Ok(()),
				Ok(false) => {}
				Err(e) => last = e,
			}
			std::thread::sleep(Duration::from_millis(500));
		}
		Err(format!(
			"{}: {what} not reached in {timeout:?} (last: {last}); log tail:\n{}",
			self.name,
			self.log_tail(30)
		))
	}

	/// Exit status if the process already exited.
	pub fn try_exit_status(&self) -> Option<ExitStatus> {
		self.child.borrow_mut().as_mut().and_then(|c| c.try_wait().ok().flatten())
	}

	/// Last `n` lines of the node's log.
	pub fn log_tail(&self, n: usize) -> String {
		let mut s = String::new();
		if let Ok(mut f) = File::open(&self.log_path) {
			let _ = f.read_to_string(&mut s);
		}
		let lines: Vec<&str> = s.lines().collect();
		lines[lines.len().saturating_sub(n)..].join("\n")
	}

	/// Stop with SIGTERM and wait up to `grace`; SIGKILL after that. Returns the exit status
	/// of a clean stop, `Err` if the node had to be killed or was already gone.
	pub fn stop(&mut self, grace: Duration) -> Result<ExitStatus, String> {
		let Some(mut child) = self.child.get_mut().take() else {
			return Err("already stopped".into());
		};
		if let Ok(Some(status)) = child.try_wait() {
			return Err(format!("{} had already exited: {status}", self.name));
		}
		let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
		let start = Instant::now();
		while start.elapsed() < grace {
			if let Ok(Some(status)) = child.try_wait() {
				return Ok(status);
			}
			std::thread::sleep(Duration::from_millis(100));
		}
		let _ = child.kill();
		let _ = child.wait();
		Err(format!("{} did not stop within {grace:?} of SIGTERM; killed", self.name))
	}
}

impl Drop for Node {
	fn drop(&mut self) {
		if self.child.get_mut().is_some() {
			let _ = self.stop(Duration::from_secs(10));
		}
	}
}

/// Node key (libp2p ed25519 secret) of validator `i` of a local network: fixed, so the first
/// node's peer id is known before it starts and the others can use it as bootnode.
pub fn node_key(i: usize) -> String {
	format!("{:064x}", i + 1)
}

/// The libp2p peer id of a node key, as `mbds-node key inspect-node-key` prints it.
pub fn peer_id_of(node_key_hex: &str, dir: &Path) -> String {
	let key_file = dir.join("bootnode.key");
	std::fs::write(&key_file, node_key_hex).expect("write node key file");
	let out = Command::new(node_binary())
		.args(["key", "inspect-node-key", "--file"])
		.arg(&key_file)
		.output()
		.expect("run mbds-node key inspect-node-key");
	assert!(
		out.status.success(),
		"inspect-node-key failed: {}",
		String::from_utf8_lossy(&out.stderr)
	);
	String::from_utf8(out.stdout).expect("utf8 peer id").trim().to_string()
}

/// The validators of one chain, running as processes on loopback.
pub struct Network {
	pub chain: String,
	pub nodes: Vec<Node>,
	dir: tempfile::TempDir,
}

impl Network {
	/// Start `validators` nodes of `chain` (a preset name or a chain spec path), named after
	/// the dev accounts that are that chain's genesis authorities.
	pub fn start(chain: &str, validators: usize) -> Network {
		Network::start_with(chain, validators, &[])
	}

	/// [`Network::start`], every node also given `extra` arguments.
	pub fn start_with(chain: &str, validators: usize, extra: &[String]) -> Network {
		let dir = tempfile::Builder::new().prefix("mbds-net-").tempdir().expect("tempdir");
		let boot_peer = peer_id_of(&node_key(0), dir.path());
		let mut nodes: Vec<Node> = Vec::new();
		for (i, who) in VALIDATOR_NAMES.iter().take(validators).enumerate() {
			let base = dir.path().join(who);
			let mut args: Vec<String> = vec![
				"--chain".into(),
				chain.into(),
				format!("--{who}"),
				"--base-path".into(),
				base.display().to_string(),
				"--node-key".into(),
				node_key(i),
				"--name".into(),
				format!("{chain}-{who}"),
			];
			args.extend(extra.iter().cloned());
			if let Some(boot) = nodes.first() {
				args.push("--bootnodes".into());
				args.push(format!("/ip4/127.0.0.1/tcp/{}/p2p/{boot_peer}", boot.p2p_port));
			}
			let log = dir.path().join(format!("{who}.log"));
			nodes.push(Node::start(&format!("{chain}/{who}"), &args, &log));
		}
		Network { chain: chain.into(), nodes, dir }
	}

	/// Folder holding the nodes' databases and logs.
	pub fn dir(&self) -> &Path {
		self.dir.path()
	}

	/// Wait until every node has finalised at least `height`.
	pub fn wait_finalized(&mut self, height: u32, timeout: Duration) -> Result<(), String> {
		let start = Instant::now();
		for node in &mut self.nodes {
			let left = timeout.saturating_sub(start.elapsed());
			node.wait_for(&format!("finalized height >= {height}"), left, |n| {
				Ok(n.finalized_number()? >= height)
			})?;
		}
		Ok(())
	}

	/// Stop every node; errors of all of them, if any.
	pub fn stop(&mut self) -> Result<(), String> {
		let errors: Vec<String> = self
			.nodes
			.iter_mut()
			.filter_map(|n| match n.stop(Duration::from_secs(30)) {
				Ok(s) if s.success() => None,
				Ok(s) => Some(format!("{} exited with {s}", n.name)),
				Err(e) => Some(e),
			})
			.collect();
		if errors.is_empty() {
			Ok(())
		} else {
			Err(errors.join("; "))
		}
	}
}
