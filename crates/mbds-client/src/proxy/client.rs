//! An HTTPS client of proxies: it trusts a proxy's certificate only when the proxy's account
//! signed it ([`super::tls`]), and pins it.

use super::api::{ErrorBody, Health, Signed};
use super::tls::BoundCertVerifier;
use serde::de::DeserializeOwned;
use std::sync::Arc;
use std::time::Duration;

/// One proxy at `url` (`https://host:port`).
#[derive(Clone, Debug)]
pub struct ProxyClient {
	/// Base URL.
	pub url: String,
	agent: ureq::Agent,
	verifier: Arc<BoundCertVerifier>,
	/// The health answer whose binding was checked (then the certificate is pinned).
	bound: Arc<std::sync::Mutex<Option<Health>>>,
}

/// Why a proxy call failed.
#[derive(Clone, Debug)]
pub enum ProxyError {
	/// The proxy answered with a refusal.
	Refused {
		/// HTTP status.
		status: u16,
		/// Its explanation.
		body: ErrorBody,
	},
	/// The proxy could not be reached or answered garbage.
	Transport(String),
	/// The proxy's TLS certificate is not bound to the account it names.
	NotBound(String),
}

impl core::fmt::Display for ProxyError {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match self {
			ProxyError::Refused { status, body } => write!(
				f,
				"refused ({status} {}): {}{}",
				body.code,
				body.error,
				if body.audited { " [recorded in the audit trail]" } else { "" }
			),
			ProxyError::Transport(e) => write!(f, "{e}"),
			ProxyError::NotBound(e) => write!(f, "{e}"),
		}
	}
}

impl std::error::Error for ProxyError {}

impl ProxyClient {
	/// A client of the proxy at `url`.
	pub fn new(url: &str) -> ProxyClient {
		let verifier = BoundCertVerifier::new();
		let mut builder = ureq::AgentBuilder::new()
			.timeout_connect(Duration::from_secs(10))
			.max_idle_connections_per_host(4);
		// A configuration error leaves the agent without TLS; every call then fails with it.
		if let Ok(config) = verifier.client_config() {
			builder = builder.tls_config(config);
		}
		ProxyClient {
			url: url.trim_end_matches('/').to_string(),
			agent: builder.build(),
			verifier,
			bound: Default::default(),
		}
	}

	fn check_scheme(&self) -> Result<(), ProxyError> {
		if self.url.starts_with("https://") {
			Ok(())
		} else {
			Err(ProxyError::Transport(format!(
				"proxy {}: proxies serve HTTPS only; use its https:// URL",
				self.url
			)))
		}
	}

	/// `GET /v1/health`: the proxy's account, keys and TLS binding. The answer is accepted only
	/// if the account signed the certificate this connection presented; that certificate is
	/// then pinned for every later call of this client.
	pub fn health(&self) -> Result<Health, ProxyError> {
		self.check_scheme()?;
		let resp = self
			.agent
			.get(&format!("{}/v1/health", self.url))
			.timeout(Duration::from_secs(10))
			.call();
		let health: Health = Self::answer(&self.url, "/v1/health", resp)?;
		let not_bound = |why: String| {
			ProxyError::NotBound(format!(
				"proxy {}: its TLS certificate is not bound to account {} ({why}); not trusting it",
				self.url, health.account
			))
		};
		let seen = self.verifier.last_seen().ok_or_else(|| not_bound("no certificate".into()))?;
		let claimed = hex32(&health.tls_certificate_sha256).map_err(not_bound)?;
		if claimed != seen {
			return Err(not_bound("it presented another certificate than the one named".into()));
		}
		let account = crate::keys::parse_account("health `account`", &health.account)
			.map_err(|e| not_bound(e.to_string()))?;
		let signature = hex::decode(health.tls_binding.trim_start_matches("0x"))
			.ok()
			.and_then(|b| <[u8; 64]>::try_from(b).ok())
			.map(sp_core::sr25519::Signature::from_raw)
			.ok_or_else(|| not_bound("the binding is not a signature".into()))?;
		if !super::tls::binding_is_valid(account.as_ref(), &seen, &signature) {
			return Err(not_bound("the account did not sign it".into()));
		}
		if self.verifier.pinned().is_some_and(|p| p != seen) {
			return Err(not_bound("it changed since this client pinned it".into()));
		}
		self.verifier.pin(seen);
		*self.bound.lock().unwrap_or_else(|e| e.into_inner()) = Some(health.clone());
		Ok(health)
	}

	/// `POST path` with a signed request, over the pinned certificate (checked first by
	/// [`ProxyClient::health`] if this client has not yet).
	pub fn post<R: DeserializeOwned>(&self, path: &str, request: &Signed) -> Result<R, ProxyError> {
		self.check_scheme()?;
		if self.verifier.pinned().is_none() {
			self.health()?;
		}
		let resp = self
			.agent
			.post(&format!("{}{path}", self.url))
			.timeout(Duration::from_secs(120))
			.send_json(serde_json::to_value(request).expect("json"));
		Self::answer(&self.url, path, resp)
	}

	fn answer<R: DeserializeOwned>(
		url: &str,
		path: &str,
		resp: Result<ureq::Response, ureq::Error>,
	) -> Result<R, ProxyError> {
		match resp {
			Ok(r) => r.into_json::<R>().map_err(|e| {
				ProxyError::Transport(format!("proxy {url}{path}: unexpected answer: {e}"))
			}),
			Err(ureq::Error::Status(status, r)) => match r.into_json::<ErrorBody>() {
				Ok(body) => Err(ProxyError::Refused { status, body }),
				Err(e) => Err(ProxyError::Transport(format!(
					"proxy {url}{path}: HTTP {status} without an explanation ({e})"
				))),
			},
			Err(e) => Err(ProxyError::Transport(format!(
				"proxy {url}{path} is unreachable or not a bound MBDS proxy: {e}"
			))),
		}
	}
}

fn hex32(s: &str) -> Result<[u8; 32], String> {
	hex::decode(s.trim_start_matches("0x"))
		.ok()
		.and_then(|b| <[u8; 32]>::try_from(b).ok())
		.ok_or_else(|| format!("{s:?} is not a 32-byte hex hash"))
}
