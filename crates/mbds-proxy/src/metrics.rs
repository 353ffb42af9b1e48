//! Prometheus metrics of the proxy, in the text format at `GET /metrics`.
//!
//! Where they are served: the proxy's HTTPS front answers `/metrics` itself (never queued for a
//! worker, so it answers while every worker is busy), to loopback clients only; anyone else
//! gets the same 404 as for any unknown endpoint. `mbds-proxy --metrics-listen ADDR` also
//! serves them over plain HTTP on `ADDR` (only `/metrics` there), for a Prometheus server that
//! scrapes without TLS; bind it to a private address.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `mbds_proxy_requests_total` | counter | `route`, `status` | requests answered, by endpoint and HTTP status (front refusals included) |
//! | `mbds_proxy_refusals_total` | counter | `code` | requests refused, by the `code` of the error body (`busy`, `denied`, `rate-limited`…) |
//! | `mbds_proxy_request_duration_seconds` | histogram | `route` | time a worker spent serving a request (audit waits included) |
//! | `mbds_proxy_queue_wait_seconds` | histogram | – | time a request waited in the queue for a worker |
//! | `mbds_proxy_queue_depth` | gauge | – | requests waiting for a worker |
//! | `mbds_proxy_workers_busy` | gauge | – | workers serving a request |
//! | `mbds_proxy_workers` | gauge | – | worker threads |
//! | `mbds_proxy_transactions_submitted_total` | counter | `what` (`access`, `search`) | audit transactions the proxy submitted |
//! | `mbds_proxy_transaction_failures_total` | counter | `what`, `reason` (`not-recorded`, `not-final`, `fork`, `no-event`) | audit transactions not on record in a final block |
//! | `mbds_proxy_connections_open` | gauge | – | connections held open |
//! | `mbds_proxy_connections_refused_total` | counter | `limit` (`max-connections`, `per-ip`) | connections closed on accept by a limit |
//!
//! The `route` label is one of `/v1/kfrag`, `/v1/search`, `/v1/reencrypt`, `/v1/health`,
//! `/v1/ready`, `/metrics` or `other`, whatever path a client sends.

use prometheus::{
	Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
	TextEncoder,
};
use std::time::Duration;

/// Buckets of the latency histograms, in seconds: from a local refusal to an audit record
/// waiting for finality.
const BUCKETS: &[f64] = &[
	0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

/// The proxy's metrics and the registry that renders them.
pub struct Metrics {
	registry: Registry,
	requests: IntCounterVec,
	refusals: IntCounterVec,
	duration: HistogramVec,
	/// Time requests wait in the queue.
	pub queue_wait: Histogram,
	/// Requests waiting for a worker.
	pub queue_depth: IntGauge,
	/// Workers serving a request.
	pub workers_busy: IntGauge,
	/// Worker threads.
	pub workers: IntGauge,
	transactions: IntCounterVec,
	transaction_failures: IntCounterVec,
	/// Connections held open.
	pub connections_open: IntGauge,
	connections_refused: IntCounterVec,
}

/// The `route` label of a request path: the known endpoints, else `other` (a client cannot
/// grow the number of series).
pub fn route_label(path: &str) -> &'static str {
	match path {
		"/v1/kfrag" => "/v1/kfrag",
		"/v1/search" => "/v1/search",
		"/v1/reencrypt" => "/v1/reencrypt",
		"/v1/health" => "/v1/health",
		"/v1/ready" => "/v1/ready",
		"/metrics" => "/metrics",
		_ => "other",
	}
}

impl Metrics {
	/// The metrics, registered in a registry of their own.
	pub fn new() -> Result<Metrics, String> {
		Self::build().map_err(|e| format!("registering the proxy's metrics: {e}"))
	}

	fn build() -> Result<Metrics, prometheus::Error> {
		let registry = Registry::new();
		let counter = |name: &str, help: &str, labels: &[&str]| {
			let c = IntCounterVec::new(Opts::new(name, help), labels)?;
			registry.register(Box::new(c.clone()))?;
			Ok::<_, prometheus::Error>(c)
		};
		let gauge = |name: &str, help: &str| {
			let g = IntGauge::new(name, help)?;
			registry.register(Box::new(g.clone()))?;
			Ok::<_, prometheus::Error>(g)
		};
		let requests = counter(
			"mbds_proxy_requests_total",
			"Requests answered, by endpoint (route) and HTTP status, refusals by the front included",
			&["route", "status"],
		)?;
		let refusals = counter(
			"mbds_proxy_refusals_total",
			"Requests refused, by the code of the error body (bad-request, denied, rate-limited, busy, chain...)",
			&["code"],
		)?;
		let duration = HistogramVec::new(
			HistogramOpts::new(
				"mbds_proxy_request_duration_seconds",
				"Time a worker spent serving a request, by endpoint (waits for audit records to be final included)",
			)
			.buckets(BUCKETS.to_vec()),
			&["route"],
		)?;
		registry.register(Box::new(duration.clone()))?;
		let queue_wait = Histogram::with_opts(
			HistogramOpts::new(
				"mbds_proxy_queue_wait_seconds",
				"Time a request waited in the queue for a worker",
			)
			.buckets(BUCKETS.to_vec()),
		)?;
		registry.register(Box::new(queue_wait.clone()))?;
		Ok(Metrics {
			requests,
			refusals,
			duration,
			queue_wait,
			queue_depth: gauge(
				"mbds_proxy_queue_depth",
				"Requests waiting for a worker (more than the queue holds are refused: busy)",
			)?,
			workers_busy: gauge("mbds_proxy_workers_busy", "Worker threads serving a request")?,
			workers: gauge("mbds_proxy_workers", "Worker threads serving requests")?,
			transactions: counter(
				"mbds_proxy_transactions_submitted_total",
				"Audit transactions this proxy submitted to the consortium, by what they record (access, search)",
				&["what"],
			)?,
			transaction_failures: counter(
				"mbds_proxy_transaction_failures_total",
				"Audit transactions not on record in a final block, by what they record and why (not-recorded, not-final, fork, no-event); nothing was served for them",
				&["what", "reason"],
			)?,
			connections_open: gauge(
				"mbds_proxy_connections_open",
				"Client connections held open",
			)?,
			connections_refused: counter(
				"mbds_proxy_connections_refused_total",
				"Client connections closed on accept by a limit (max-connections: all connections, per-ip: one address)",
				&["limit"],
			)?,
			registry,
		})
	}

	/// Counts a request answered with `status`; `code` is its error code if refused.
	pub fn answered(&self, route: &str, status: u16, code: Option<&str>) {
		self.requests.with_label_values(&[route, &status.to_string()]).inc();
		if let Some(code) = code {
			self.refusals.with_label_values(&[code]).inc();
		}
	}

	/// Records the time a worker spent on a request to `route`.
	pub fn served(&self, route: &str, took: Duration) {
		self.duration.with_label_values(&[route]).observe(took.as_secs_f64());
	}

	/// Counts an audit transaction submitted (`what`: access, search).
	pub fn submitted(&self, what: &str) {
		self.transactions.with_label_values(&[what]).inc();
	}

	/// Counts an audit transaction that is not on record in a final block.
	pub fn transaction_failed(&self, what: &str, reason: &str) {
		self.transaction_failures.with_label_values(&[what, reason]).inc();
	}

	/// Counts a connection closed on accept by `limit`.
	pub fn connection_refused(&self, limit: &str) {
		self.connections_refused.with_label_values(&[limit]).inc();
	}

	/// The metrics in Prometheus' text format.
	pub fn render(&self) -> String {
		let mut out = Vec::new();
		// Encoding into memory fails only on a metric that cannot be written: none here.
		let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
		String::from_utf8(out).unwrap_or_default()
	}
}
