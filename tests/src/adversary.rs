//! What the end-to-end test does to the journey's proxies while the patient and doctors work
//! (issue 14's black-box checks): connections that send a request's headers and then nothing,
//! a flood of signed requests from a doctor without consent, and a proxy killed and restarted.

use mbds_proxy::{
	api::{self, ReencryptRequest, ReencryptResponse, Signed},
	ParticipantKeys, ProxyClient, ProxyError,
};
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::sync::{
	atomic::{AtomicBool, Ordering},
	Arc,
};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Keeps a proxy stalled: every second it opens another connection that sends a request's
/// headers (announcing a body) and then nothing, or half a request line, and holds up to
/// `max_open` such connections, until dropped.
pub struct Stall {
	stop: Arc<AtomicBool>,
	thread: Option<JoinHandle<usize>>,
}

impl Stall {
	/// Starts stalling the proxy at `url` (`http://host:port`).
	pub fn start(url: &str, max_open: usize) -> Stall {
		let addr = url.trim_start_matches("http://").trim_end_matches('/').to_string();
		let stop = Arc::new(AtomicBool::new(false));
		let flag = stop.clone();
		let thread = std::thread::spawn(move || {
			let mut open: Vec<TcpStream> = Vec::new();
			let mut opened = 0;
			let mut i = 0usize;
			while !flag.load(Ordering::SeqCst) {
				if let Ok(mut s) = TcpStream::connect(&addr) {
					let start: &[u8] = if i % 2 == 0 {
						b"POST /v1/reencrypt HTTP/1.1\r\nHost: proxy\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"signer\":"
					} else {
						b"POST /v1/kfrag HTT"
					};
					if s.write_all(start).is_ok() {
						opened += 1;
						open.push(s);
					}
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
	keys: &Path,
	proxy: &str,
	patient: &str,
	record: &str,
	n: usize,
	threads: usize,
) -> Result<Flood, String> {
	let keys = ParticipantKeys::load(keys)?;
	let client = ProxyClient::new(proxy);
	let proxy_account = client.health().map_err(|e| e.to_string())?.account;
	let proxy_id = mbds_client_account(&proxy_account)?;
	let patient_id = mbds_client_account(patient)?;
	let hash = mbds_proxy::chain::parse_hash("record", record)?;
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

fn mbds_client_account(ss58: &str) -> Result<mbds_runtime::AccountId, String> {
	use sp_core::crypto::Ss58Codec;
	mbds_runtime::AccountId::from_ss58check(ss58).map_err(|e| format!("{ss58}: {e:?}"))
}

/// Seconds a `GET /v1/health` of the proxy at `url` takes (error if it fails).
pub fn health_secs(url: &str) -> Result<f64, String> {
	let start = Instant::now();
	ProxyClient::new(url).health().map_err(|e| format!("health of {url}: {e}"))?;
	Ok(start.elapsed().as_secs_f64())
}
