//! What the end-to-end test does to the journey's proxies while the patient and doctors work
//! (issue 14's black-box checks): connections that send a request's headers and then nothing,
//! a flood of signed requests from a doctor without consent, and a proxy killed and restarted.

use mbds_client::{
	keys::parse_account,
	proxy::api::{self, ReencryptRequest, ReencryptResponse, Signed},
	ParticipantKeys, ProxyClient, ProxyError,
};
use std::io::Write;
use std::net::TcpStream;
use std::sync::{
	atomic::{AtomicBool, Ordering},
	Arc,
};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Keeps a proxy stalled: every second it opens another connection that completes the TLS
/// handshake, sends a request's headers (announcing a body) and then nothing, or one that sends
/// half a TLS handshake, and holds up to `max_open` such connections, until dropped.
pub struct Stall {
	stop: Arc<AtomicBool>,
	thread: Option<JoinHandle<usize>>,
}

impl Stall {
	/// Starts stalling the proxy at `url` (`https://host:port`).
	pub fn start(url: &str, max_open: usize) -> Stall {
		let addr = url.trim_start_matches("https://").trim_end_matches('/').to_string();
		let stop = Arc::new(AtomicBool::new(false));
		let flag = stop.clone();
		let thread = std::thread::spawn(move || {
			let mut open: Vec<Box<dyn Write + Send>> = Vec::new();
			let mut opened = 0;
			let mut i = 0usize;
			while !flag.load(Ordering::SeqCst) {
				if let Some(conn) = stalled_connection(&addr, i % 2 == 0) {
					opened += 1;
					open.push(conn);
				}
				i += 1;
				if open.len() > max_open {
					open.remove(0);
				}
				std::thread::sleep(Duration::from_secs(1));
			}
			opened
		});
		Stall { stop, thread: Some(thread) }
	}

	/// Stops; the number of stalled connections it opened.
	pub fn stop(&mut self) -> usize {
		self.stop.store(true, Ordering::SeqCst);
		self.thread.take().and_then(|t| t.join().ok()).unwrap_or(0)
	}
}

/// A connection to `addr` left hanging: with `headers`, a finished TLS handshake and a
/// request's headers announcing a 4 KiB body, then nothing; else half a TLS ClientHello.
fn stalled_connection(addr: &str, headers: bool) -> Option<Box<dyn Write + Send>> {
	let mut tcp = TcpStream::connect(addr).ok()?;
	tcp.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
	if !headers {
		tcp.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]).ok()?;
		return Some(Box::new(tcp));
	}
	// Any certificate will do for the attacker: it only wants to hold the connection.
	let config = mbds_client::proxy::tls::BoundCertVerifier::new().client_config().ok()?;
	let name = rustls::pki_types::ServerName::try_from("localhost").ok()?;
	let conn = rustls::ClientConnection::new(config, name).ok()?;
	let mut tls = rustls::StreamOwned::new(conn, tcp);
	tls.write_all(
		b"POST /v1/reencrypt HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"signer\":",
	)
	.ok()?;
	tls.flush().ok()?;
	Some(Box::new(tls))
}

impl Drop for Stall {
	fn drop(&mut self) {
		self.stop();
	}
}

/// How a flood of requests was answered.
#[derive(Debug, Default, Clone)]
pub struct Flood {
	/// Requests sent.
	pub sent: usize,
	/// Refused for lack of consent (`denied`).
	pub denied: usize,
	/// Refused by the proxy's per-signer limit (`rate-limited`).
	pub rate_limited: usize,
	/// Anything else (served, other refusals, transport errors), with one example.
	pub other: usize,
	pub example_other: String,
	/// Wall time of the flood, seconds.
	pub secs: f64,
}

/// `n` distinct signed re-encryption requests by the holder of `keys` for `record` of
/// `patient`, sent to `proxy` from `threads` threads at once.
pub fn flood(
	keys: &ParticipantKeys,
	proxy: &str,
	patient: &str,
	record: &str,
	n: usize,
	threads: usize,
) -> Result<Flood, String> {
	let client = ProxyClient::new(proxy);
	let proxy_account = client.health().map_err(|e| e.to_string())?.account;
	let proxy_id = parse_account("the proxy's account", &proxy_account)?;
	let patient_id = parse_account("patient", patient)?;
	let hash = mbds_client::chain::parse_hash("record", record)?;
	let base = api::now_ms();
	let start = Instant::now();
	let answers: Vec<Result<ReencryptResponse, ProxyError>> = std::thread::scope(|scope| {
		let workers: Vec<_> = (0..threads)
			.map(|t| {
				let (keys, client, proxy_account) = (&keys, &client, &proxy_account);
				let (proxy_id, patient_id) = (&proxy_id, &patient_id);
				scope.spawn(move || {
					(0..n)
						.filter(|i| i % threads == t)
						.map(|i| {
							// Distinct payloads (a replay would be refused as such).
							let issued_at = base + i as u64;
							let statement =
								api::read_statement(proxy_id, patient_id, hash, issued_at);
							let req = ReencryptRequest {
								proxy: proxy_account.clone(),
								patient: patient.into(),
								record_hash: record.into(),
								issued_at,
								access_signature: api::sign_statement(&keys.pair(), &statement),
							};
							client.post("/v1/reencrypt", &Signed::sign(&keys.pair(), &req))
						})
						.collect::<Vec<_>>()
				})
			})
			.collect();
		workers.into_iter().flat_map(|w| w.join().unwrap_or_default()).collect()
	});
	let mut f =
		Flood { sent: answers.len(), secs: start.elapsed().as_secs_f64(), ..Default::default() };
	for a in answers {
		match a {
			Err(ProxyError::Refused { body, .. }) if body.code == "denied" => f.denied += 1,
			Err(ProxyError::Refused { body, .. }) if body.code == "rate-limited" => {
				f.rate_limited += 1
			}
			other => {
				f.other += 1;
				if f.example_other.is_empty() {
					f.example_other = match other {
						Ok(_) => "served".into(),
						Err(e) => e.to_string(),
					};
				}
			}
		}
	}
	Ok(f)
}

/// Seconds a `GET /v1/health` of the proxy at `url` takes (error if it fails).
pub fn health_secs(url: &str) -> Result<f64, String> {
	let start = Instant::now();
	ProxyClient::new(url).health().map_err(|e| format!("health of {url}: {e}"))?;
	Ok(start.elapsed().as_secs_f64())
}
