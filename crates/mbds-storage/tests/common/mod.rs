//! A real S3-protocol server on loopback for the tests: `moto_server` from PyPI, installed by
//! `scripts/setup-test-deps.sh` when missing, started on a free port, killed on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct MotoServer {
	child: Child,
	pub endpoint: String,
	#[allow(dead_code)] // not every test binary uses it
	port: u16,
}

fn on_path(name: &str) -> Option<PathBuf> {
	std::env::var_os("PATH")?
		.to_str()?
		.split(':')
		.map(|d| PathBuf::from(d).join(name))
		.find(|p| p.is_file())
}

/// Finds moto_server, installing it once per test process (tests run in parallel threads).
fn moto_command() -> Command {
	static MOTO: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
	Command::new(MOTO.get_or_init(locate_or_install))
}

fn locate_or_install() -> PathBuf {
	// Where scripts/setup-test-deps.sh may have put it: PATH, its venv, or pip --user.
	let find = || {
		let home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
		let venv = std::env::var_os("MBDS_TEST_VENV")
			.map(PathBuf::from)
			.unwrap_or(home.join(".cache/mbds-test-venv"));
		on_path("moto_server")
			.or_else(|| Some(venv.join("bin/moto_server")).filter(|p| p.is_file()))
			.or_else(|| Some(home.join(".local/bin/moto_server")).filter(|p| p.is_file()))
	};
	if let Some(p) = find() {
		return p;
	}
	let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup-test-deps.sh");
	eprintln!("moto_server not found: running {}", script.display());
	let status =
		Command::new("bash").arg(&script).status().expect("run scripts/setup-test-deps.sh");
	assert!(
		status.success(),
		"scripts/setup-test-deps.sh failed: cannot install moto_server for the S3 tests"
	);
	find().expect("scripts/setup-test-deps.sh succeeded but moto_server is not found")
}

fn http(port: u16, request: &str) -> std::io::Result<String> {
	let mut s = TcpStream::connect(("127.0.0.1", port))?;
	s.set_read_timeout(Some(Duration::from_secs(5)))?;
	s.write_all(request.as_bytes())?;
	let mut out = String::new();
	s.read_to_string(&mut out)?;
	Ok(out)
}

impl MotoServer {
	/// Starts a server and creates `bucket` on it.
	pub fn start(bucket: &str) -> Self {
		let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
		let child = moto_command()
			.args(["-H", "127.0.0.1", "-p", &port.to_string()])
			.stdout(Stdio::null())
			.stderr(Stdio::null())
			.spawn()
			.expect("start moto_server");
		let server = Self { child, endpoint: format!("http://127.0.0.1:{port}"), port };
		// Ready when it answers, and the bucket exists.
		let deadline = Instant::now() + Duration::from_secs(60);
		let req = format!("PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
		loop {
			match http(port, &req) {
				Ok(resp)
					if resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200") =>
				{
					break
				}
				Ok(resp) => panic!(
					"moto_server refused to create bucket {bucket}: {}",
					resp.lines().next().unwrap_or("")
				),
				Err(_) if Instant::now() < deadline => {
					std::thread::sleep(Duration::from_millis(200))
				}
				Err(e) => panic!("moto_server did not start on port {port} within 60 s: {e}"),
			}
		}
		server
	}

	#[allow(dead_code)]
	pub fn port(&self) -> u16 {
		self.port
	}
}

impl Drop for MotoServer {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}
