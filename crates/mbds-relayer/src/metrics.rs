//! Prometheus metrics of the relayer, one series per relayed private chain (label `chain`, its
//! chain id), served on `/metrics` by `mbds-relayer run --prometheus-port PORT`.
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `mbds_relayer_lag_blocks` | gauge | private finalised block minus the newest block of that chain the consortium's light client has |
//! | `mbds_relayer_batches_behind` | gauge | batches closed on the private chain and not anchored yet |
//! | `mbds_relayer_private_finalized_block` | gauge | the private chain's finalised block |
//! | `mbds_relayer_light_client_best_block` | gauge | newest private block the consortium's light client has |
//! | `mbds_relayer_batches_relayed_total` | counter | batches this relayer anchored |
//! | `mbds_relayer_items_anchored_total` | counter | summary items in those batches |
//! | `mbds_relayer_set_changes_imported_total` | counter | authority-set hand-off headers this relayer imported |
//! | `mbds_relayer_errors_total` | counter | failed rounds, by `kind` (see [`ErrorKind`]) |
//! | `mbds_relayer_last_relay_timestamp_seconds` | gauge | Unix time of this relayer's last batch or hand-off (0: none since it started) |
//!
//! The gauges are refreshed at least every 5 s (or every `--report-secs`, if shorter); the
//! counters count what this process did since it started.

use crate::{ErrorKind, Status, Step};
use mbds_runtime::ChainId;
use std::{
	net::{SocketAddr, TcpListener},
	time::{SystemTime, UNIX_EPOCH},
};
use substrate_prometheus_endpoint::{
	prometheus::{Encoder, TextEncoder},
	register, CounterVec, GaugeVec, Opts, PrometheusError, Registry, F64, I64, U64,
};

/// The relayer's metrics and the registry that serves them.
#[derive(Clone)]
pub struct Metrics {
	registry: Registry,
	lag_blocks: GaugeVec<I64>,
	batches_behind: GaugeVec<U64>,
	private_finalized: GaugeVec<U64>,
	light_client_best: GaugeVec<U64>,
	batches_relayed: CounterVec<U64>,
	items_anchored: CounterVec<U64>,
	set_changes_imported: CounterVec<U64>,
	errors: CounterVec<U64>,
	last_relay: GaugeVec<F64>,
}

fn opts(name: &str, help: &str) -> Opts {
	Opts::new(name, help)
}

impl Metrics {
	/// The metrics, registered in a new registry.
	pub fn new() -> Result<Metrics, PrometheusError> {
		let registry = Registry::new();
		let chain = &["chain"];
		let gauge_u64 = |name: &str, help: &str| -> Result<GaugeVec<U64>, PrometheusError> {
			register(GaugeVec::new(opts(name, help), chain)?, &registry)
		};
		let counter = |name: &str, help: &str| -> Result<CounterVec<U64>, PrometheusError> {
			register(CounterVec::new(opts(name, help), chain)?, &registry)
		};
		Ok(Metrics {
			lag_blocks: register(
				GaugeVec::new(
					opts(
						"mbds_relayer_lag_blocks",
						"Blocks between the private chain's finalised head and the newest header of it the consortium's light client has",
					),
					chain,
				)?,
				&registry,
			)?,
			batches_behind: gauge_u64(
				"mbds_relayer_batches_behind",
				"Summary batches closed on the private chain (at its finalised head) and not anchored on the consortium yet",
			)?,
			private_finalized: gauge_u64(
				"mbds_relayer_private_finalized_block",
				"The private chain's finalised block number",
			)?,
			light_client_best: gauge_u64(
				"mbds_relayer_light_client_best_block",
				"Newest private block number the consortium's light client of the chain has",
			)?,
			batches_relayed: counter(
				"mbds_relayer_batches_relayed_total",
				"Summary batches this relayer anchored on the consortium",
			)?,
			items_anchored: counter(
				"mbds_relayer_items_anchored_total",
				"Summary items in the batches this relayer anchored",
			)?,
			set_changes_imported: counter(
				"mbds_relayer_set_changes_imported_total",
				"Authority-set hand-off headers this relayer imported on the consortium",
			)?,
			errors: register(
				CounterVec::new(
					opts(
						"mbds_relayer_errors_total",
						"Failed relay rounds and status refreshes, by kind: private_rpc, consortium_rpc, not_registered, justification, submit, inclusion_timeout",
					),
					&["chain", "kind"],
				)?,
				&registry,
			)?,
			last_relay: register(
				GaugeVec::new(
					opts(
						"mbds_relayer_last_relay_timestamp_seconds",
						"Unix time of this relayer's last anchored batch or imported hand-off of the chain (0: none since it started)",
					),
					chain,
				)?,
				&registry,
			)?,
			registry,
		})
	}

	/// The registry to serve.
	pub fn registry(&self) -> &Registry {
		&self.registry
	}

	/// Create every series of chain `chain` at zero, so that they show before anything happens.
	pub fn add_chain(&self, chain: ChainId) {
		let c = chain.to_string();
		let c = &[c.as_str()];
		self.lag_blocks.with_label_values(c);
		self.batches_behind.with_label_values(c);
		self.private_finalized.with_label_values(c);
		self.light_client_best.with_label_values(c);
		self.batches_relayed.with_label_values(c);
		self.items_anchored.with_label_values(c);
		self.set_changes_imported.with_label_values(c);
		self.last_relay.with_label_values(c);
		for kind in ErrorKind::ALL {
			self.errors.with_label_values(&[c[0], kind.as_str()]);
		}
	}

	/// Record what a step of chain `chain` did.
	pub fn on_step(&self, chain: ChainId, step: &Step) {
		let c = chain.to_string();
		let c = &[c.as_str()];
		match step {
			Step::Anchored { items, .. } => {
				self.batches_relayed.with_label_values(c).inc();
				self.items_anchored.with_label_values(c).inc_by(u64::from(*items));
			}
			Step::ImportedSetChange { .. } => self.set_changes_imported.with_label_values(c).inc(),
			Step::Idle => return,
		}
		let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
		self.last_relay.with_label_values(c).set(now.as_millis() as f64 / 1000.0);
	}

	/// Record an error of kind `kind` on chain `chain`.
	pub fn on_error(&self, chain: ChainId, kind: ErrorKind) {
		self.errors.with_label_values(&[&chain.to_string(), kind.as_str()]).inc();
	}

	/// Record where chain `status.chain_id` stands.
	pub fn on_status(&self, status: &Status) {
		let c = status.chain_id.to_string();
		let c = &[c.as_str()];
		self.lag_blocks
			.with_label_values(c)
			.set(i64::from(status.private_finalized) - i64::from(status.light_client_best));
		self.batches_behind.with_label_values(c).set(status.behind());
		self.private_finalized.with_label_values(c).set(u64::from(status.private_finalized));
		self.light_client_best.with_label_values(c).set(u64::from(status.light_client_best));
	}

	/// The metrics in the Prometheus text format, as `/metrics` serves them.
	pub fn render(&self) -> String {
		let mut buffer = Vec::new();
		TextEncoder::new()
			.encode(&self.registry.gather(), &mut buffer)
			.expect("encoding to a Vec does not fail");
		String::from_utf8(buffer).expect("the text format is UTF-8")
	}
}

/// Serve `registry` on `http://addr/metrics` from a background thread (with its own
/// single-threaded tokio runtime) for as long as the process runs. Fails at once if `addr`
/// cannot be bound.
pub fn serve(addr: SocketAddr, registry: Registry) -> Result<(), String> {
	// Bind once here so that a taken port is reported now, not from the background thread.
	TcpListener::bind(addr).map_err(|e| format!("Prometheus endpoint {addr}: {e}"))?;
	let runtime = tokio::runtime::Builder::new_current_thread()
		.enable_all()
		.build()
		.map_err(|e| format!("Prometheus endpoint: starting its runtime: {e}"))?;
	std::thread::Builder::new()
		.name("prometheus".into())
		.spawn(move || {
			if let Err(e) =
				runtime.block_on(substrate_prometheus_endpoint::init_prometheus(addr, registry))
			{
				tracing::error!(target: "mbds-relayer", "Prometheus endpoint {addr} stopped: {e}");
			}
		})
		.map_err(|e| format!("Prometheus endpoint: starting its thread: {e}"))?;
	tracing::info!(target: "mbds-relayer", "Prometheus metrics at http://{addr}/metrics");
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;
	use pallet_slips::BatchId;
	use std::io::{Read, Write};

	fn status(chain_id: ChainId, next: BatchId, closed: BatchId, lc: u32, fin: u32) -> Status {
		Status {
			chain_id,
			next_to_anchor: next,
			closed,
			light_client_best: lc,
			private_finalized: fin,
		}
	}

	#[test]
	fn metric_updates_show_in_the_rendered_text() {
		let m = Metrics::new().unwrap();
		m.add_chain(1001);
		m.add_chain(2000);
		let text = m.render();
		// Every series exists from the start, at zero, with a help text.
		for line in [
			"mbds_relayer_batches_relayed_total{chain=\"1001\"} 0",
			"mbds_relayer_items_anchored_total{chain=\"2000\"} 0",
			"mbds_relayer_lag_blocks{chain=\"1001\"} 0",
			"mbds_relayer_last_relay_timestamp_seconds{chain=\"1001\"} 0",
			"mbds_relayer_errors_total{chain=\"1001\",kind=\"inclusion_timeout\"} 0",
		] {
			assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
		}
		for name in [
			"lag_blocks",
			"batches_behind",
			"private_finalized_block",
			"light_client_best_block",
			"batches_relayed_total",
			"items_anchored_total",
			"set_changes_imported_total",
			"errors_total",
			"last_relay_timestamp_seconds",
		] {
			assert!(text.contains(&format!("# HELP mbds_relayer_{name} ")), "help of {name}");
		}

		m.on_step(1001, &Step::Anchored { batch: 0, items: 4, at: 57 });
		m.on_step(1001, &Step::Anchored { batch: 1, items: 3, at: 63 });
		m.on_step(1001, &Step::Idle);
		m.on_step(2000, &Step::ImportedSetChange { at: 80 });
		m.on_error(1001, ErrorKind::Submit);
		m.on_error(1001, ErrorKind::Submit);
		m.on_error(2000, ErrorKind::PrivateRpc);
		m.on_status(&status(1001, 2, 5, 63, 70));
		m.on_status(&status(2000, 0, 0, 80, 80));
		let text = m.render();
		for line in [
			"mbds_relayer_batches_relayed_total{chain=\"1001\"} 2",
			"mbds_relayer_items_anchored_total{chain=\"1001\"} 7",
			"mbds_relayer_batches_relayed_total{chain=\"2000\"} 0",
			"mbds_relayer_set_changes_imported_total{chain=\"2000\"} 1",
			"mbds_relayer_set_changes_imported_total{chain=\"1001\"} 0",
			"mbds_relayer_errors_total{chain=\"1001\",kind=\"submit\"} 2",
			"mbds_relayer_errors_total{chain=\"1001\",kind=\"private_rpc\"} 0",
			"mbds_relayer_errors_total{chain=\"2000\",kind=\"private_rpc\"} 1",
			"mbds_relayer_lag_blocks{chain=\"1001\"} 7",
			"mbds_relayer_lag_blocks{chain=\"2000\"} 0",
			"mbds_relayer_batches_behind{chain=\"1001\"} 3",
			"mbds_relayer_private_finalized_block{chain=\"1001\"} 70",
			"mbds_relayer_light_client_best_block{chain=\"1001\"} 63",
		] {
			assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
		}
		// The last relay is now (both chains relayed); a chain only idle would stay at 0.
		let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
		for chain in ["1001", "2000"] {
			let prefix = format!("mbds_relayer_last_relay_timestamp_seconds{{chain=\"{chain}\"}} ");
			let value: f64 = text
				.lines()
				.find_map(|l| l.strip_prefix(&prefix))
				.unwrap_or_else(|| panic!("{prefix} missing in\n{text}"))
				.parse()
				.unwrap();
			assert!((now - value).abs() < 60.0, "{chain}: last relay {value}, now {now}");
		}
	}

	#[test]
	fn metrics_are_served_over_http() {
		let m = Metrics::new().unwrap();
		m.add_chain(1001);
		m.on_step(1001, &Step::Anchored { batch: 0, items: 2, at: 9 });
		let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
		let addr: SocketAddr = ([127, 0, 0, 1], port).into();
		serve(addr, m.registry().clone()).unwrap();
		// The port is taken now: a second endpoint on it fails at once.
		let mut body = String::new();
		for _ in 0..50 {
			body.clear();
			if let Ok(mut s) = std::net::TcpStream::connect(addr) {
				let _ = s.write_all(
					b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
				);
				let _ = s.read_to_string(&mut body);
				if body.contains("200 OK") {
					break;
				}
			}
			std::thread::sleep(std::time::Duration::from_millis(100));
		}
		assert!(body.starts_with("HTTP/1.1 200 OK"), "{body}");
		assert!(body.contains("mbds_relayer_batches_relayed_total{chain=\"1001\"} 1"), "{body}");
		assert!(body.contains("mbds_relayer_items_anchored_total{chain=\"1001\"} 2"), "{body}");
		assert!(serve(addr, m.registry().clone()).is_err(), "a second endpoint on {addr}");
	}
}
