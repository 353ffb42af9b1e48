//! An HTTP client of proxies (used by the `mbds` CLI).

use crate::api::{ErrorBody, Health, Signed};
use serde::de::DeserializeOwned;
use std::time::Duration;

/// One proxy at `url` (`http://host:port`).
#[derive(Clone, Debug)]
pub struct ProxyClient {
	/// Base URL.
	pub url: String,
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
		}
	}
}

impl ProxyClient {
	/// A client of the proxy at `url`.
	pub fn new(url: &str) -> ProxyClient {
		ProxyClient { url: url.trim_end_matches('/').to_string() }
	}

	/// `GET /v1/health`.
	pub fn health(&self) -> Result<Health, ProxyError> {
		let resp =
			ureq::get(&format!("{}/v1/health", self.url)).timeout(Duration::from_secs(10)).call();
		Self::answer(&self.url, "/v1/health", resp)
	}

	/// `POST path` with a signed request.
	pub fn post<R: DeserializeOwned>(&self, path: &str, request: &Signed) -> Result<R, ProxyError> {
		let resp = ureq::post(&format!("{}{path}", self.url))
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
				"proxy {url}{path} is unreachable: {e} (is `mbds-proxy` running there?)"
			))),
		}
	}
}
