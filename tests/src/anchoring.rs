//! What the anchoring and fault tests share: the relayer as a process, a doctor and a patient
//! at work (a slip written and confirmed), the anchored summaries of a patient, a watch on a
//! chain's finality.

use crate::{
	client::{hospital_setup, now_ms, visit_proof, Client},
	workspace_binary, Network,
};
use mbds_runtime::{BlockNumber, RuntimeCall};
use pallet_slips::{SlipId, SummaryItemOf};
use sp_core::H256;
use sp_keyring::Sr25519Keyring as Keyring;
use std::{
	process::{Child, Command, Stdio},
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};

/// The doctor, patient and institution at work on hospital A in [`hospital_and_consortium`].
pub const CAST: (Keyring, Keyring, Keyring) = (Keyring::Eve, Keyring::Ferdie, Keyring::Dave);

/// Hospital A's chain (four validators) and the consortium (five nodes), both finalising;
/// hospital A with its institution, doctor and patient ([`CAST`]) and registered on the
/// consortium by the council's motion (four of its five members), as operators do.
pub fn hospital_and_consortium() -> (Network, Network) {
	use mbds_runtime::genesis_config_presets::{CONSORTIUM_LOCAL, HOSPITAL_LOCAL};
	let mut hospital = Network::start(HOSPITAL_LOCAL, 4);
	let mut consortium = Network::start(CONSORTIUM_LOCAL, 5);
	hospital.wait_finalized(1, Duration::from_secs(180)).unwrap_or_else(|e| panic!("{e}"));
	consortium.wait_finalized(1, Duration::from_secs(180)).unwrap_or_else(|e| panic!("{e}"));
	let (institution, doctor, patient) = CAST;
	hospital_setup(&hospital.nodes[0].client(), institution, doctor, patient)
		.unwrap_or_else(|e| panic!("hospital A's set-up: {e}"));
	let council = [Keyring::Alice, Keyring::Bob, Keyring::Charlie, Keyring::Dave].map(|k| k.pair());
	mbds_relayer::Relayer::new(
		&hospital.nodes[0].url(),
		&consortium.nodes[0].url(),
		Keyring::Ferdie.pair(),
	)
	.and_then(|r| r.register(&mbds_relayer::Authority::Council(council.to_vec())))
	.unwrap_or_else(|e| panic!("registering hospital A on the consortium: {e}"));
	(hospital, consortium)
}

/// An anchored summary as the consortium stores it.
pub type Summary =
	pallet_anchor::AnchoredSummary<SummaryItemOf<mbds_runtime::Runtime>, BlockNumber>;

/// How long one transaction or one anchoring step may take.
pub const WAIT: Duration = Duration::from_secs(120);

/// A relayer process, killed when dropped.
pub struct RelayerProcess(Child);

impl RelayerProcess {
	pub fn start(
		consortium: &str,
		private: &str,
		log: &std::path::Path,
		prometheus_port: Option<u16>,
	) -> RelayerProcess {
		let log = std::fs::File::create(log).expect("relayer log");
		let child = Command::new(workspace_binary("mbds-relayer"))
			.args(["run", "--consortium", consortium, "--private", private])
			.args(["--poll-ms", "500", "--report-secs", "5"])
			.args(prometheus_port.iter().flat_map(|p| ["--prometheus-port".into(), p.to_string()]))
			.stdout(log.try_clone().expect("log handle"))
			.stderr(log)
			.stdin(Stdio::null())
			.spawn()
			.expect("start mbds-relayer");
		RelayerProcess(child)
	}

	/// SIGKILL: no chance to finish anything it was doing.
	pub fn kill_9(mut self) {
		let _ = self.0.kill();
		let _ = self.0.wait();
	}
}

impl Drop for RelayerProcess {
	fn drop(&mut self) {
		let _ = self.0.kill();
		let _ = self.0.wait();
	}
}

/// The relayer's `/metrics` on `port` (Prometheus text format).
pub fn scrape(port: u16) -> Result<String, String> {
	use std::io::{Read, Write};
	let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
	s.set_read_timeout(Some(Duration::from_secs(10))).map_err(|e| e.to_string())?;
	s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
		.map_err(|e| e.to_string())?;
	let mut body = String::new();
	s.read_to_string(&mut body).map_err(|e| e.to_string())?;
	Ok(body)
}

/// The value of the metric line starting with `series ` in a `/metrics` body.
pub fn metric(body: &str, series: &str) -> Option<f64> {
	body.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

pub fn summaries(c: &Client, patient: &Keyring) -> mbds_client::Result<Vec<Summary>> {
	mbds_client::chain::summaries(c, &patient.to_account_id(), None)
}

/// One slip written by `doctor` about `patient` and confirmed by the patient, each step
/// waited for (and signed again if a runtime upgrade dropped it, as every MBDS client does):
/// a doctor and a patient at work while the chain upgrades. The slip's id.
pub fn write_and_confirm(
	h: &Client,
	cast: (Keyring, Keyring, Keyring),
	tag: u8,
) -> Result<SlipId, String> {
	let slip = SlipFields {
		content: format!("visit during the upgrade {tag}").into_bytes(),
		keywords: vec![vec![tag, 0, 1], vec![tag, 0, 2]],
		record_hash: H256::repeat_byte(tag),
	};
	write_and_confirm_slip(h, cast, slip).map(|(id, _)| id)
}

/// What differs between the slips [`write_and_confirm_slip`] writes.
pub struct SlipFields {
	pub content: Vec<u8>,
	pub keywords: Vec<Vec<u8>>,
	pub record_hash: H256,
}

/// [`write_and_confirm`] for a slip with `fields`: its id and the confirmation's inclusion.
pub fn write_and_confirm_slip(
	h: &Client,
	(institution, doctor, patient): (Keyring, Keyring, Keyring),
	fields: SlipFields,
) -> Result<(SlipId, mbds_client::Inclusion), String> {
	let SlipFields { content, keywords, record_hash } = fields;
	let call = RuntimeCall::Slips(pallet_slips::Call::submit_slip {
		patient: patient.to_account_id(),
		visit: visit_proof(patient, institution),
		generated_at: now_ms(),
		tx_type: pallet_slips::TransactionType::Diagnosis,
		content,
		encrypted_keywords: keywords,
		categories: vec![1],
		encrypted_address: vec![9u8; 64],
		record_hash,
	});
	let written = h.submit_and_wait(call, &doctor.pair(), WAIT).map_err(|e| e.to_string())?;
	let id = written
		.events
		.iter()
		.find_map(|e| match e {
			mbds_runtime::RuntimeEvent::Slips(pallet_slips::Event::SlipSubmitted {
				slip_id,
				..
			}) => Some(*slip_id),
			_ => None,
		})
		.ok_or("no SlipSubmitted event")?;
	let confirm = RuntimeCall::Slips(pallet_slips::Call::confirm_slip { slip_id: id, record_hash });
	let confirmed = h.submit_and_wait(confirm, &patient.pair(), WAIT).map_err(|e| e.to_string())?;
	Ok((id, confirmed))
}

/// The finalised block number of a chain over time (polled every 200 ms until stopped).
pub struct FinalityWatch {
	stop: Arc<AtomicBool>,
	thread: std::thread::JoinHandle<Vec<(Instant, u32)>>,
}

impl FinalityWatch {
	pub fn start(c: &Client) -> FinalityWatch {
		let stop = Arc::new(AtomicBool::new(false));
		let (c, flag) = (c.clone(), stop.clone());
		let thread = std::thread::spawn(move || {
			let mut seen: Vec<(Instant, u32)> = Vec::new();
			while !flag.load(Ordering::Relaxed) {
				if let Ok(n) = c.finalized_head().and_then(|h| c.header(Some(h))).map(|h| h.number)
				{
					if seen.last().is_none_or(|(_, last)| n > *last) {
						seen.push((Instant::now(), n));
					}
				}
				std::thread::sleep(Duration::from_millis(200));
			}
			seen
		});
		FinalityWatch { stop, thread }
	}

	/// The longest time the finalised head did not move, and the blocks it then jumped.
	pub fn longest_pause(self) -> (Duration, u32) {
		self.stop.store(true, Ordering::Relaxed);
		let seen = self.thread.join().expect("finality watch");
		seen.windows(2)
			.map(|w| (w[1].0 - w[0].0, w[1].1 - w[0].1))
			.max_by_key(|(d, _)| *d)
			.unwrap_or_default()
	}
}
