//! The paper's patient journey ("The process of a patient using the MBDS system"), end to end
//! on real processes: four chains (internet platform P, hospitals A and B, the consortium), the
//! relayer, three proxies (threshold 2), a local-folder record store, and every participant
//! acting through the `mbds` CLI with its own generated keys.
//!
//! 1. Online visit on platform P: P's doctor writes a FHIR record, the patient checks and
//!    confirms the slip.
//! 2. Offline visit at hospital A: the patient gives A's doctor a search permission (index
//!    tokens sealed to the proxy); the doctor asks for access, the patient approves and gives
//!    the proxies key fragments; once P's summary is anchored on the consortium the doctor
//!    finds P's record by keyword, gets two proxies' fragments and decrypts it, then writes
//!    A's record.
//! 3. Referral to hospital B: the same for B's doctor, who reads P's and A's records, then
//!    writes B's.
//! 4. Online follow-up on P: P's doctor, granted by the patient for the diabetes care
//!    categories only (endocrine, observations, medication), reads P's and A's records; B's
//!    referral (it also carries a SNOMED CT code) is neither disclosed by search nor served.
//!
//! And the refusals: a doctor without consent finds nothing readable and is refused by every
//! proxy; after the patient revokes A's grant the proxies refuse A's doctor; every access and
//! refusal is in the patient's audit trail; a tampered blob in storage is detected.
//!
//! Used by the end-to-end test (`tests/tests/journey.rs`) and by `mbds-journey`, the README's
//! run command, which prints every step for a person to follow.

use crate::{free_port, node_binary, workspace_binary, Network};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long to wait for a record to be anchored and found by search.
const ANCHOR_WAIT: Duration = Duration::from_secs(300);

/// The FHIR records of the journey (in `tests/fixtures/journey/`).
pub fn fixture(name: &str) -> PathBuf {
	Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/journey").join(name)
}

/// A helper process (relayer, proxy) stopped with SIGTERM (then SIGKILL) when dropped.
pub struct Proc {
	/// What it is.
	pub name: String,
	child: Child,
	/// Its log file.
	pub log: PathBuf,
}

/// The passphrase every participant of the journey encrypts their key file with (given to
/// the CLI and the proxies in `MBDS_PASSPHRASE`, as a script would).
const PASSPHRASE: &str = "journey passphrase";

impl Proc {
	fn start(name: &str, bin: &str, args: &[String], log: PathBuf) -> Result<Proc, String> {
		let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
		let child = Command::new(workspace_binary(bin))
			.args(args)
			.env(mbds_client::keys::PASSPHRASE_ENV, PASSPHRASE)
			.stdout(file.try_clone().map_err(|e| e.to_string())?)
			.stderr(file)
			.stdin(Stdio::null())
			.spawn()
			.map_err(|e| format!("starting {bin}: {e}"))?;
		Ok(Proc { name: name.into(), child, log })
	}

	/// Kill it at once (SIGKILL), as a crash would.
	pub fn kill(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}

	/// Stop it: SIGTERM, then SIGKILL after 10 s.
	pub fn stop(&mut self) {
		if let Ok(Some(_)) = self.child.try_wait() {
			return;
		}
		let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
		let start = Instant::now();
		while start.elapsed() < Duration::from_secs(10) {
			if let Ok(Some(_)) = self.child.try_wait() {
				return;
			}
			std::thread::sleep(Duration::from_millis(100));
		}
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

impl Drop for Proc {
	fn drop(&mut self) {
		self.stop();
	}
}

/// The chains of the journey, in order, and the presets they run.
const LABELS: [&str; 4] = ["platform P", "hospital A", "hospital B", "consortium"];
const PRESETS: [&str; 4] =
	["platform-local", "hospital-local", "hospital-b-local", "consortium-local"];

/// The consortium council members (of Alice to Eve) whose ayes pass a motion: 4 of 5 seats.
pub const CONSORTIUM_COUNCIL_MOTION: [&str; 4] = ["//Alice", "//Bob", "//Charlie", "//Dave"];
/// Two thirds of a private chain's council (its seats: //Alice, //Bob, //Charlie).
pub const PRIVATE_COUNCIL_MOTION: [&str; 2] = ["//Alice", "//Bob"];

/// Everyone in the journey, by key file name.
const PEOPLE: [&str; 11] = [
	"patient", "inst-p", "inst-a", "inst-b", "doc-p", "doc-a", "doc-b", "doc-x", "ha-1", "ha-2",
	"ha-3",
];

/// What the journey observed; the end-to-end test checks it.
#[derive(Debug, Default)]
pub struct Report {
	/// Record hashes written on P, A, B.
	pub records: Vec<String>,
	/// (reader, record hash, decrypted FHIR equals the original) for every shared read.
	pub reads: Vec<(String, String, bool)>,
	/// Readable matches the doctor without consent got from a search.
	pub outsider_matches: usize,
	/// The error the doctor without consent got reading P's record.
	pub outsider_refusal: String,
	/// The error A's doctor got after the patient revoked A's grant.
	pub revoked_refusal: String,
	/// The error P's doctor got reading B's record, outside the categories of their grant.
	pub out_of_scope_refusal: String,
	/// The error reading a tampered blob.
	pub tamper_error: String,
	/// B's doctor's emergency request on their own word (`mbds access request --json`): it
	/// must wait for the patient, not be granted.
	pub lone_emergency: Value,
	/// The same doctor's emergency request after hospital B attested the emergency.
	pub attested_emergency: Value,
	/// The alert the patient's `mbds alerts --follow` printed for it, and seconds from the
	/// request's inclusion until it was printed.
	pub emergency_alert: Value,
	/// Seconds from the emergency request's inclusion to the patient's alert.
	pub emergency_alert_secs: f64,
	/// The patient's audit trail at the end (`mbds audit --json`).
	pub audit: Value,
	/// `mbds slips check --json` of the first record with keys made again from the recovery
	/// phrase after the key file was deleted.
	pub recovered_read: Value,
	/// Adversarial run: seconds the stalled proxy took to answer a health check, and the
	/// stalled connections opened against it during the journey.
	pub stalled_health_secs: f64,
	pub stalled_connections: usize,
	/// Adversarial run: 200 signed requests by the doctor without consent to the stalled
	/// proxy, while A's doctor reads; the proxy's transactions during it; the read's seconds.
	pub flood: crate::adversary::Flood,
	pub flood_proxy_transactions: u32,
	pub read_during_flood_secs: f64,
	/// Adversarial run: the institution grant made while the second proxy was killed (its
	/// `proxies` and `pending`), and `consent retry` after its restart.
	pub grant_while_killed: Value,
	pub retry_after_restart: Value,
	/// Adversarial run: proxy 1 killed -9 while it waited for its record of doctor X's
	/// access to be final (see [`Journey::kill_proxy_mid_reencryption`]).
	pub killed_mid_reencryption: Option<KilledMidReencryption>,
	/// Accounts by key file name.
	pub accounts: std::collections::BTreeMap<String, String>,
	/// Seconds each step took.
	pub steps: Vec<(String, f64)>,
	/// The consortium's upgrade between steps 2 and 3, if the run made one: spec versions
	/// before and after, and the block that enacted it.
	pub consortium_upgrade: Option<(u32, u32, u32)>,
}

/// What [`Journey::kill_proxy_mid_reencryption`] saw.
#[derive(Debug, Clone, Default)]
pub struct KilledMidReencryption {
	/// The proxies whose fragments doctor X's read used while proxy 1 was killed, and the
	/// read's seconds.
	pub read_via: Vec<String>,
	pub read_secs: f64,
	/// The proxies of the read after proxy 1's restart (only proxies 1 and 3 asked).
	pub after_restart_via: Vec<String>,
	/// Doctor X's allowed accesses to P's record added to the audit trail during the case,
	/// per proxy account (the actor that recorded it), sorted.
	pub recorded: Vec<(String, usize)>,
	/// Proxy 1's URL and account.
	pub proxy_1: (String, String),
}

/// The running network and the participants' files.
pub struct Journey {
	/// Work folder: keys, public keys, record store, proxy state, logs.
	pub dir: PathBuf,
	/// The four chains: (label, RPC URL of the node the clients use).
	pub chains: Vec<(String, String)>,
	/// The chains' nodes, when this journey started them.
	networks: Vec<Network>,
	/// Relayer and proxies.
	pub procs: Vec<Proc>,
	/// Proxy URLs (the first is the search proxy).
	pub proxies: Vec<String>,
	/// Each proxy's arguments and log, and its place in `procs` (to kill and restart it).
	proxy_runs: Vec<(Vec<String>, PathBuf, usize)>,
	/// Set by the end-to-end test: the journey runs while the first proxy is stalled by
	/// connections that never finish their request, floods it with a doctor's refused
	/// requests, and kills the second proxy for a while (see [`crate::adversary`]).
	pub adversarial: bool,
	/// Set by the end-to-end test: between steps 2 and 3 the consortium's council upgrades
	/// the consortium to this runtime (the upgrade rehearsal), while the relayer and the
	/// proxies keep running; steps 3 and 4 then read, record and anchor through them.
	pub upgrade_consortium_to: Option<Vec<u8>>,
	stall: Option<crate::adversary::Stall>,
	say: Box<dyn FnMut(&str) + Send>,
}

fn json_str(v: &Value, key: &str) -> Result<String, String> {
	v[key].as_str().map(String::from).ok_or_else(|| format!("no `{key}` in {v}"))
}

impl Journey {
	/// Start the four chains (three validators each: enough for GRANDPA, 3 of 4), wait until
	/// they finalise; `say` prints progress.
	pub fn start(dir: &Path, mut say: Box<dyn FnMut(&str) + Send>) -> Result<Journey, String> {
		std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
		let mut networks = Vec::new();
		for (label, preset) in LABELS.iter().zip(PRESETS) {
			say(&format!("[network] starting {label} ({preset}, 3 validators)"));
			networks.push(Network::start(preset, 3));
		}
		let mut chains = Vec::new();
		for ((label, preset), net) in LABELS.iter().zip(PRESETS).zip(&mut networks) {
			if let Err(e) = net.wait_finalized(1, Duration::from_secs(180)) {
				// A test harness hiccup (a node that lost its port to another process, or never
				// met its peers) is retried once on fresh ports and folders, and said so.
				let nodes: Vec<String> = net
					.nodes
					.iter()
					.map(|n| {
						format!("{} (exit {:?}): {}", n.name, n.try_exit_status(), n.log_tail(2))
					})
					.collect();
				say(&format!(
					"[network] {label} did not finalise: {}; nodes: {}; restarting it once",
					e.lines().next().unwrap_or(""),
					nodes.join(" | ")
				));
				let _ = net.stop();
				*net = Network::start(preset, 3);
				net.wait_finalized(1, Duration::from_secs(240))
					.map_err(|e| format!("{label} (restarted): {e}"))?;
			}
			say(&format!("[network] {label} finalises blocks; RPC {}", net.nodes[0].url()));
			chains.push((label.to_string(), net.nodes[0].url()));
		}
		Ok(Journey {
			dir: dir.to_path_buf(),
			chains,
			networks,
			procs: Vec::new(),
			proxies: Vec::new(),
			proxy_runs: Vec::new(),
			adversarial: false,
			upgrade_consortium_to: None,
			stall: None,
			say,
		})
	}

	/// Use chains that are already running (e.g. the zombienet networks): RPC URLs of
	/// platform P, hospital A, hospital B and the consortium, in that order.
	pub fn attach(
		dir: &Path,
		urls: [String; 4],
		mut say: Box<dyn FnMut(&str) + Send>,
	) -> Result<Journey, String> {
		std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
		let mut chains = Vec::new();
		for (label, url) in LABELS.iter().zip(urls) {
			let client = mbds_client::Client::connect(&url).map_err(|e| format!("{label}: {e}"))?;
			client
				.wait(&format!("{label} finalises"), Duration::from_secs(240), |c| {
					Ok(c.header(Some(c.finalized_head()?))?.number >= 1)
				})
				.map_err(|e| format!("{label}: {e}"))?;
			say(&format!("[network] {label} at {url} finalises blocks"));
			chains.push((label.to_string(), url));
		}
		Ok(Journey {
			dir: dir.to_path_buf(),
			chains,
			networks: Vec::new(),
			procs: Vec::new(),
			proxies: Vec::new(),
			proxy_runs: Vec::new(),
			adversarial: false,
			upgrade_consortium_to: None,
			stall: None,
			say,
		})
	}

	fn url(&self, i: usize) -> String {
		self.chains[i].1.clone()
	}
	fn p(&self) -> String {
		self.url(0)
	}
	fn a(&self) -> String {
		self.url(1)
	}
	fn b(&self) -> String {
		self.url(2)
	}
	/// The consortium node's URL.
	pub fn c(&self) -> String {
		self.url(3)
	}
	/// `who`'s key file.
	pub fn keys(&self, who: &str) -> String {
		self.dir.join("keys").join(format!("{who}.json")).display().to_string()
	}
	/// `who`'s exported public keys.
	pub fn public(&self, who: &str) -> String {
		self.dir.join("public").join(format!("{who}.json")).display().to_string()
	}
	/// The record store folder.
	/// Where the patient keeps their recovery phrase (shown once by `mbds keys new`).
	pub fn recovery_phrase_file(&self) -> PathBuf {
		self.dir.join("keys").join("patient.phrase")
	}

	pub fn store(&self) -> String {
		self.dir.join("store").display().to_string()
	}

	fn say(&mut self, line: &str) {
		(self.say)(line)
	}

	/// Runs `mbds --json ARGS`, printing the command line; its JSON answer, or its error.
	fn mbds<S: AsRef<str>>(&mut self, args: &[S]) -> Result<Value, String> {
		self.exec(args, true)
	}

	/// Runs `mbds --json ARGS`, printing the command line if `show`.
	fn exec<S: AsRef<str>>(&mut self, args: &[S], show: bool) -> Result<Value, String> {
		let args: Vec<&str> = args.iter().map(|a| a.as_ref()).collect();
		if show {
			let shown: Vec<String> = args
				.iter()
				.map(|a| {
					let a = a.replace(&format!("{}/", self.dir.display()), "");
					if a.starts_with("0x") && a.len() > 24 {
						format!("{}…", &a[..18])
					} else {
						a
					}
				})
				.collect();
			self.say(&format!("    $ mbds {}", shown.join(" ")));
		}
		let out = Command::new(workspace_binary("mbds"))
			.arg("--json")
			.args(&args)
			.env(mbds_client::keys::PASSPHRASE_ENV, PASSPHRASE)
			.stdin(Stdio::null())
			.output()
			.map_err(|e| format!("running mbds: {e}"))?;
		let stdout = String::from_utf8_lossy(&out.stdout);
		if !out.status.success() {
			let err = String::from_utf8_lossy(&out.stderr).trim().to_string();
			return Err(err.trim_start_matches("mbds: error: ").to_string());
		}
		serde_json::from_str(&stdout)
			.map_err(|e| format!("mbds {}: not JSON ({e}): {stdout}", args[0]))
	}

	/// Like [`Self::mbds`], and an error names the command.
	pub fn must<S: AsRef<str>>(&mut self, args: &[S]) -> Result<Value, String> {
		self.mbds(args).map_err(|e| {
			let head: Vec<&str> = args.iter().take(2).map(|a| a.as_ref()).collect();
			format!("`mbds {}` failed: {e}", head.join(" "))
		})
	}

	/// The patient's sharing options: threshold 2 over every proxy.
	pub fn share_args(&self) -> Vec<String> {
		let mut args = vec!["--threshold".to_string(), "2".into()];
		for p in &self.proxies {
			args.extend(["--proxy".into(), p.clone()]);
		}
		args
	}

	/// `who` runs `mbds record get` for the patient's `record` through every proxy.
	fn record_get(&mut self, who: &str, record: &str) -> Result<Value, String> {
		self.record_get_with(who, record, &[])
	}

	/// `record get` with extra arguments.
	fn record_get_with(
		&mut self,
		who: &str,
		record: &str,
		extra: &[String],
	) -> Result<Value, String> {
		let mut args = vec![
			"record".to_string(),
			"get".into(),
			"--keys".into(),
			self.keys(who),
			"--consortium".into(),
			self.c(),
			"--patient".into(),
			self.account("patient")?,
			"--record".into(),
			record.into(),
			"--store".into(),
			self.store(),
		];
		args.extend(self.share_args());
		args.extend(extra.iter().cloned());
		self.mbds(&args)
	}

	/// `who` tries to read `record`; the refusal, or an error naming `what` if it was served.
	fn refused(&mut self, who: &str, record: &str, what: &str) -> Result<String, String> {
		match self.record_get(who, record) {
			Ok(v) => Err(format!("{what}: {v}")),
			Err(e) => {
				self.say(&format!(
					"      refused: {}",
					e.lines().collect::<Vec<_>>().join("\n        ")
				));
				Ok(e)
			}
		}
	}

	/// `who`'s account (SS58), from their exported public keys.
	pub fn account(&self, who: &str) -> Result<String, String> {
		let v: Value = serde_json::from_str(
			&std::fs::read_to_string(self.public(who)).map_err(|e| format!("{who}: {e}"))?,
		)
		.map_err(|e| e.to_string())?;
		json_str(&v, "account")
	}

	/// Keys for everyone, KMC registrations on every chain, the relayer and three proxies.
	pub fn setup(&mut self) -> Result<(), String> {
		// The bootstrap KMC operator every preset appoints, and the councils the presets seat
		// (a private chain's 2 of 3, the consortium's 4 of 5 sign the motions).
		let operator = "//Alice";
		self.say("[setup] every participant generates keys on their own device and exports the public part");
		std::fs::create_dir_all(self.dir.join("public")).map_err(|e| e.to_string())?;
		for who in PEOPLE {
			let (k, p) = (self.keys(who), self.public(who));
			if !Path::new(&k).exists() {
				let made = self.must(&["keys", "new", "--out", &k])?;
				if made["encrypted"] != true {
					return Err(format!("{who}'s new key file is not encrypted: {made}"));
				}
				// The patient writes the recovery phrase down (here: a file beside the keys).
				if who == "patient" {
					let phrase = json_str(&made, "recovery_phrase")?;
					std::fs::write(self.recovery_phrase_file(), phrase)
						.map_err(|e| e.to_string())?;
				}
			}
			let mut args = vec!["keys", "export", "--keys", &k, "--out", &p];
			if who.starts_with("ha-") {
				args.push("--tester");
			}
			self.must(&args)?;
		}
		let acct = |j: &Journey, w: &str| j.account(w);
		let (inst_p, inst_a, inst_b) =
			(acct(self, "inst-p")?, acct(self, "inst-a")?, acct(self, "inst-b")?);
		let doctor_p = format!("doctor:{inst_p}");
		let doctor_a = format!("doctor:{inst_a}");
		let doctor_b = format!("doctor:{inst_b}");
		let plan: Vec<(String, Vec<(&str, String)>, Option<String>)> = vec![
			(
				self.p(),
				vec![
					("inst-p", "platform".into()),
					("doc-p", doctor_p.clone()),
					("patient", "patient".into()),
				],
				Some(inst_p.clone()),
			),
			(
				self.a(),
				vec![
					("inst-a", "hospital".into()),
					("doc-a", doctor_a.clone()),
					("doc-x", doctor_a.clone()),
					("patient", "patient".into()),
				],
				Some(inst_a.clone()),
			),
			(
				self.b(),
				vec![
					("inst-b", "hospital".into()),
					("doc-b", doctor_b.clone()),
					("patient", "patient".into()),
				],
				Some(inst_b.clone()),
			),
			(
				self.c(),
				vec![
					("ha-1", "health-authority".into()),
					("ha-2", "health-authority".into()),
					("ha-3", "health-authority".into()),
					("inst-p", "platform".into()),
					("inst-a", "hospital".into()),
					("inst-b", "hospital".into()),
					("doc-p", doctor_p),
					("doc-a", doctor_a.clone()),
					("doc-x", doctor_a),
					("doc-b", doctor_b),
					("patient", "patient".into()),
				],
				None,
			),
		];
		for (url, people, institution) in plan {
			// Institutions (health authorities included) are seated by the chain's council;
			// the KMC operator registers doctors and patients alone.
			let council: &[&str] = if institution.is_some() {
				&PRIVATE_COUNCIL_MOTION
			} else {
				&CONSORTIUM_COUNCIL_MOTION
			};
			let (seated, registered): (Vec<_>, Vec<_>) = people
				.into_iter()
				.partition(|(_, role)| role != "patient" && !role.starts_with("doctor:"));
			let doctors: Vec<(&str, String)> =
				registered.iter().filter(|(_, r)| r.starts_with("doctor:")).cloned().collect();
			self.say(&format!(
				"[setup] on {url} the council seats {} institution(s) by motion ({} of its members); the KMC operator registers {} doctor(s) and patient(s)",
				seated.len(),
				council.len(),
				registered.len()
			));
			for (part, by) in [
				(seated, council.iter().flat_map(|m| ["--council", *m]).collect::<Vec<_>>()),
				(registered, vec!["--operator", operator]),
			] {
				let mut args: Vec<String> =
					["kmc", "register", "--chain", &url].into_iter().map(String::from).collect();
				for (who, role) in part {
					args.extend([
						"--public".into(),
						self.public(who),
						"--role".into(),
						role,
						"--identity".into(),
						format!("verified identity of {who}"),
					]);
				}
				args.extend(by.into_iter().map(String::from));
				let args: Vec<&str> = args.iter().map(String::as_str).collect();
				self.must(&args)?;
			}
			// Each institution confirms the doctors it employs (a doctor acts only then).
			let mut employs: BTreeMap<String, Vec<String>> = BTreeMap::new();
			for (who, role) in &doctors {
				let institution = role.trim_start_matches("doctor:");
				let name = PEOPLE
					.iter()
					.find(|p| self.account(p).ok().as_deref() == Some(institution))
					.ok_or_else(|| format!("{who}: no institution with account {institution}"))?;
				employs.entry(name.to_string()).or_default().push(self.account(who)?);
			}
			for (institution, doctors) in employs {
				self.say(&format!(
					"[setup] {institution} confirms it employs {} doctor(s) on {url}",
					doctors.len()
				));
				let mut args: Vec<String> = vec![
					"kmc".into(),
					"employ".into(),
					"--keys".into(),
					self.keys(&institution),
					"--chain".into(),
					url.clone(),
				];
				for d in doctors {
					args.extend(["--doctor".into(), d]);
				}
				let args: Vec<&str> = args.iter().map(String::as_str).collect();
				self.must(&args)?;
			}
			if let Some(inst) = institution {
				self.must(&[
					"kmc",
					"set-institution",
					"--institution",
					&inst,
					"--chain",
					&url,
					"--council",
					PRIVATE_COUNCIL_MOTION[0],
					"--council",
					PRIVATE_COUNCIL_MOTION[1],
				])?;
			}
		}

		self.say("[setup] the consortium's council (4 of its 5 member institutions) registers the three private chains by a motion; one relayer follows them");
		let relay_args = |j: &Journey| -> Vec<String> {
			vec![
				"--consortium".into(),
				j.c(),
				"--private".into(),
				j.p(),
				"--private".into(),
				j.a(),
				"--private".into(),
				j.b(),
			]
		};
		let mut reg = relay_args(self);
		reg.push("register".into());
		for member in CONSORTIUM_COUNCIL_MOTION {
			reg.extend(["--council".into(), member.into()]);
		}
		let out = Command::new(workspace_binary("mbds-relayer"))
			.args(&reg)
			.output()
			.map_err(|e| e.to_string())?;
		if !out.status.success() {
			return Err(format!("mbds-relayer register: {}", String::from_utf8_lossy(&out.stderr)));
		}
		let mut run = relay_args(self);
		run.extend([
			"run".into(),
			"--poll-ms".into(),
			"500".into(),
			"--report-secs".into(),
			"15".into(),
		]);
		let relayer = Proc::start("relayer", "mbds-relayer", &run, self.dir.join("relayer.log"))?;
		self.procs.push(relayer);

		self.say("[setup] three health authorities start their proxies (a grantee needs 2 of 3)");
		let consortium_spec = self.dir.join(format!("{}-raw.json", PRESETS[3]));
		let spec = Command::new(node_binary())
			.args(["build-spec", "--chain", PRESETS[3], "--raw", "--disable-default-bootnode"])
			.output()
			.map_err(|e| format!("mbds-node build-spec: {e}"))?;
		if !spec.status.success() {
			return Err(format!(
				"mbds-node build-spec --chain {}: {}",
				PRESETS[3],
				String::from_utf8_lossy(&spec.stderr)
			));
		}
		std::fs::write(&consortium_spec, &spec.stdout)
			.map_err(|e| format!("{}: {e}", consortium_spec.display()))?;
		let consortium_spec = consortium_spec.display().to_string();
		for i in 1..=3 {
			let port = free_port();
			let who = format!("ha-{i}");
			let args = vec![
				"--keys".into(),
				self.keys(&who),
				"--consortium".into(),
				self.c(),
				// The proxy's light client starts from the consortium's genesis in its raw
				// spec, as the node binary builds it from the preset the consortium runs.
				"--consortium-spec".into(),
				consortium_spec.clone(),
				"--store".into(),
				self.store(),
				"--state".into(),
				self.dir.join(format!("proxy-{i}")).display().to_string(),
				"--listen".into(),
				format!("127.0.0.1:{port}"),
			];
			let log = self.dir.join(format!("proxy-{i}.log"));
			let proc = Proc::start(&who, "mbds-proxy", &args, log.clone())?;
			self.proxy_runs.push((args, log, self.procs.len()));
			self.procs.push(proc);
			let url = format!("https://127.0.0.1:{port}");
			let client = mbds_client::ProxyClient::new(&url);
			let start = Instant::now();
			while client.health().is_err() {
				if start.elapsed() > Duration::from_secs(30) {
					let log = std::fs::read_to_string(self.dir.join(format!("proxy-{i}.log")))
						.unwrap_or_default();
					return Err(format!("proxy {who} did not come up at {url}: {log}"));
				}
				std::thread::sleep(Duration::from_millis(200));
			}
			self.say(&format!("[setup] proxy {who} serves {url}"));
			self.proxies.push(url);
		}
		Ok(())
	}

	/// `who` (doctor `doc-X` of institution `inst-X`) writes `fixture` on `chain` for the
	/// patient, with the patient's visit proof for `inst-X`; the patient checks and confirms it.
	pub fn write_and_confirm(
		&mut self,
		who: &str,
		chain: &str,
		fixture_name: &str,
		kind: &str,
	) -> Result<String, String> {
		let (keys, patient, tester) =
			(self.keys(who), self.account("patient")?, self.account("ha-1")?);
		let fhir = fixture(fixture_name).display().to_string();
		let (c, store) = (self.c(), self.store());
		// The patient is at the doctor's institution and signs a visit proof for it: without
		// one, no doctor may write a slip about the patient.
		let institution = self.account(&who.replacen("doc-", "inst-", 1))?;
		let pk = self.keys("patient");
		let visit = self.must(&["visit", "--keys", &pk, "--institution", &institution])?;
		let visit = json_str(&visit, "visit")?;
		let put = self.must(&[
			"record",
			"put",
			"--keys",
			&keys,
			"--chain",
			chain,
			"--consortium",
			&c,
			"--patient",
			&patient,
			"--fhir",
			&fhir,
			"--tester",
			&tester,
			"--store",
			&store,
			"--type",
			kind,
			"--visit",
			&visit,
		])?;
		let slip = put["slip"].as_u64().ok_or("record put: no slip id")?.to_string();
		let hash = json_str(&put, "record_hash")?;
		self.say(&format!("      slip {slip}, record {hash}, keywords {}", put["keywords"]));
		self.must(&["slips", "list", "--keys", &pk, "--chain", chain])?;
		let confirm = self.must(&[
			"slips",
			"confirm",
			"--keys",
			&pk,
			"--chain",
			chain,
			"--slip",
			&slip,
			"--store",
			&store,
			"--consortium",
			&c,
		])?;
		if confirm["record"]["keywords_checked"] != true {
			return Err(format!("the patient confirmed slip {slip} without checking its encrypted keywords: {confirm}"));
		}
		if confirm["indexed"] != true {
			return Err(format!("the patient confirmed slip {slip} without labelling it for the searchable index: {confirm}"));
		}
		self.say(&format!(
			"      the patient decrypted it ({}), checked its hash, that each encrypted keyword is one of its codes and its categories {}, and confirmed it in block #{}",
			confirm["record"]["keywords"], confirm["record"]["categories"], confirm["block"]
		));
		Ok(hash)
	}

	/// `who` searches with `trapdoor` until `want` readable records are found.
	pub fn search_until(
		&mut self,
		who: &str,
		trapdoor: &str,
		want: usize,
	) -> Result<Vec<String>, String> {
		let (keys, patient, proxy) =
			(self.keys(who), self.account("patient")?, self.proxies[0].clone());
		let start = Instant::now();
		let mut quiet = false;
		loop {
			let args = [
				"search",
				"--keys",
				&keys,
				"--proxy",
				&proxy,
				"--patient",
				&patient,
				"--trapdoor",
				trapdoor,
			];
			// A failed search (a busy node, a proxy restarting) is retried until the deadline.
			let r = self.exec(&args, !quiet);
			let r = match r {
				Ok(r) => r,
				Err(e) if start.elapsed() < ANCHOR_WAIT => {
					self.say(&format!("      search failed ({e}); retrying"));
					quiet = true;
					std::thread::sleep(Duration::from_secs(3));
					continue;
				}
				Err(e) => return Err(format!("{who}: search failed: {e}")),
			};
			let found: Vec<String> = r["matches"]
				.as_array()
				.map(|m| {
					m.iter().filter_map(|x| x["record_hash"].as_str().map(String::from)).collect()
				})
				.unwrap_or_default();
			if found.len() >= want {
				self.say(&format!(
					"      {} readable record(s) found after {:.0} s ({} index entries or items examined by the proxy)",
					found.len(),
					start.elapsed().as_secs_f64(),
					r["examined"]
				));
				return Ok(found);
			}
			if start.elapsed() > ANCHOR_WAIT {
				return Err(format!("{who}: only {} of {want} records found by search after {ANCHOR_WAIT:?} (anchoring stalled? see relayer.log)", found.len()));
			}
			if !quiet {
				self.say(&format!("      {} of {want} found; waiting for the relayer to anchor the newest summaries ...", found.len()));
			}
			quiet = true;
			std::thread::sleep(Duration::from_secs(3));
		}
	}

	/// `who` reads `record` through the proxies; true if it equals `fixture_name`.
	fn read(&mut self, who: &str, record: &str, report: &mut Report) -> Result<(), String> {
		let r =
			self.record_get(who, record).map_err(|e| format!("`mbds record get` failed: {e}"))?;
		self.note_read(who, record, &r, report);
		Ok(())
	}

	/// Reports a read's result: whether it decrypted to one of the original records.
	fn note_read(&mut self, who: &str, record: &str, r: &Value, report: &mut Report) {
		let fhir = r["fhir"].clone();
		let original = [
			"1-platform-online-visit.json",
			"2-hospital-a-visit.json",
			"3-hospital-b-referral.json",
		]
		.iter()
		.filter_map(|f| std::fs::read_to_string(fixture(f)).ok())
		.filter_map(|t| serde_json::from_str::<Value>(&t).ok())
		.any(|o| o == fhir);
		self.say(&format!(
			"      decrypted with fragments from {} proxies: {} ({})",
			r["proxies"].as_array().map(|a| a.len()).unwrap_or(0),
			fhir["id"],
			r["keywords"]
		));
		report.reads.push((who.into(), record.into(), original));
	}

	/// `who` asks for access; the patient approves and gives the proxies key fragments.
	fn request_and_approve(&mut self, who: &str) -> Result<(), String> {
		let (keys, patient, c) = (self.keys(who), self.account("patient")?, self.c());
		let r = self.must(&[
			"access",
			"request",
			"--keys",
			&keys,
			"--consortium",
			&c,
			"--patient",
			&patient,
			"--purpose",
			"treatment",
			"--days",
			"30",
		])?;
		let request = r["request"].as_u64().ok_or("access request: no request id")?.to_string();
		let pk = self.keys("patient");
		self.must(&["consent", "list", "--keys", &pk, "--consortium", &c])?;
		let mut args = vec![
			"consent".to_string(),
			"approve".into(),
			"--keys".into(),
			pk,
			"--consortium".into(),
			c,
			"--request".into(),
			request,
		];
		args.extend(self.share_args());
		let a = self.must(&args)?;
		self.say(&format!(
			"      grant {} created; key fragments with {} proxies",
			a["grant"],
			a["proxies"].as_array().map(|x| x.len()).unwrap_or(0)
		));
		Ok(())
	}

	/// The patient grants `to` (an institution's doctors if `members_of`) read access for 7 days
	/// to the diabetes-care categories only (endocrine, observations, medication), and gives
	/// the proxies key fragments.
	fn grant_diabetes_care(&mut self, to: &str, members_of: bool) -> Result<Value, String> {
		let mut args: Vec<String> = ["consent", "grant", "--keys", &self.keys("patient")]
			.into_iter()
			.chain(["--consortium", &self.c(), "--to", to, "--days", "7"])
			.chain(["--category", "icd10:4", "--category", "loinc", "--category", "medication"])
			.map(String::from)
			.collect();
		if members_of {
			args.push("--members-of".into());
		}
		args.extend(self.share_args());
		self.must(&args)
	}

	/// The patient's trapdoor for `keywords` (all of them), for the first proxy.
	pub fn trapdoor(&mut self, keywords: &[&str]) -> Result<String, String> {
		let (pk, c, tester) = (self.keys("patient"), self.c(), self.account("ha-1")?);
		let mut args = vec!["trapdoor", "--keys", &pk, "--consortium", &c, "--tester", &tester];
		for k in keywords {
			args.extend(["--keyword", k]);
		}
		let t = self.must(&args)?;
		// Every record of the journey is labelled: the permission needs no dPEKS part, and the
		// proxy's work is the matches' labels.
		if t["index"] != true || t["unindexed_items"] != 0 {
			return Err(format!(
				"the patient's search permission is not for the searchable index alone: {t}"
			));
		}
		json_str(&t, "trapdoor")
	}

	/// Break-glass at hospital B: B's doctor's word alone grants nothing; with hospital B's
	/// attestation the patient's emergency policy grants at once, and the patient's running
	/// `mbds alerts --follow` prints it.
	fn emergency(&mut self, report: &mut Report) -> Result<(), String> {
		self.say("\n== Break-glass: an emergency at hospital B ==");
		self.say("  the patient sets an emergency policy (read, 4 h) and watches their alerts");
		let (pk, c) = (self.keys("patient"), self.c());
		self.must(&[
			"consent",
			"policy",
			"set",
			"--keys",
			&pk,
			"--consortium",
			&c,
			"--emergency",
			"--hours",
			"4",
		])?;
		let alerts = self.dir.join("alerts.log");
		let args: Vec<String> = ["--json", "alerts", "--keys", &pk, "--consortium", &c, "--follow"]
			.into_iter()
			.chain(["--poll-ms", "500"])
			.map(String::from)
			.collect();
		self.say(
			"    $ mbds --json alerts --keys keys/patient.json --follow   (in the background)",
		);
		self.procs.push(Proc::start("alerts", "mbds", &args, alerts.clone())?);

		self.say("  B's doctor asks with purpose emergency on their own word: the request waits for the patient");
		let (kb, patient) = (self.keys("doc-b"), self.account("patient")?);
		let ask = |j: &mut Journey| {
			j.must(&[
				"access",
				"request",
				"--keys",
				&kb,
				"--consortium",
				&c,
				"--patient",
				&patient,
				"--purpose",
				"emergency",
				"--days",
				"1",
			])
		};
		report.lone_emergency = ask(self)?;
		self.say(
			"  hospital B attests the emergency; the doctor asks again and is granted at once",
		);
		let (ib, doc_b) = (self.keys("inst-b"), self.account("doc-b")?);
		self.must(&[
			"emergency",
			"attest",
			"--keys",
			&ib,
			"--consortium",
			&c,
			"--patient",
			&patient,
			"--doctor",
			&doc_b,
		])?;
		report.attested_emergency = ask(self)?;
		let asked = Instant::now();
		let grant = report.attested_emergency["auto_grant"].clone();
		loop {
			let log = std::fs::read_to_string(&alerts).unwrap_or_default();
			let hit = log
				.lines()
				.filter_map(|l| serde_json::from_str::<Value>(l).ok())
				.find(|a| a["kind"] == "emergency-access" && a["grant"] == grant);
			if let Some(alert) = hit {
				report.emergency_alert_secs = asked.elapsed().as_secs_f64();
				self.say(&format!(
					"      the patient's alerts printed, {:.1} s after the request was included: {}",
					report.emergency_alert_secs,
					alert["event"].as_str().unwrap_or("")
				));
				report.emergency_alert = alert;
				return Ok(());
			}
			if asked.elapsed() > Duration::from_secs(60) {
				return Err(format!(
					"the patient's `mbds alerts --follow` printed no emergency alert for grant {grant} in 60 s: {log}"
				));
			}
			std::thread::sleep(Duration::from_millis(250));
		}
	}

	/// Adversary: 200 signed requests by doctor X (refused, on record once) flood the stalled
	/// proxy while A's doctor reads `record`; counts the proxy's transactions meanwhile.
	fn flood_while_reading(&mut self, record: &str, report: &mut Report) -> Result<(), String> {
		self.say("  (adversary: doctor X sends 200 signed requests to the stalled proxy while A's doctor reads)");
		let consortium = mbds_client::Client::connect(&self.c())?;
		let ha1 = mbds_client::keys::parse_account("ha-1", &self.account("ha-1")?)?;
		let before = consortium.next_nonce(&ha1)?;
		let keys =
			mbds_client::ParticipantKeys::load_with(Path::new(&self.keys("doc-x")), PASSPHRASE)?;
		let (proxy, patient) = (self.proxies[0].clone(), self.account("patient")?);
		let rec = record.to_string();
		let flood = std::thread::spawn(move || {
			crate::adversary::flood(&keys, &proxy, &patient, &rec, 200, 8)
		});
		let start = Instant::now();
		self.read("doc-a", record, report)?;
		report.read_during_flood_secs = start.elapsed().as_secs_f64();
		report.flood = flood.join().map_err(|_| "the flood thread panicked".to_string())??;
		report.flood_proxy_transactions = consortium.next_nonce(&ha1)? - before;
		self.say(&format!(
			"      {} requests in {:.1} s: {} refused for lack of consent (on record once), {} over the per-signer limit, {} other; the proxy sent {} transaction(s) meanwhile; A's doctor read in {:.1} s",
			report.flood.sent,
			report.flood.secs,
			report.flood.denied,
			report.flood.rate_limited,
			report.flood.other,
			report.flood_proxy_transactions,
			report.read_during_flood_secs
		));
		Ok(())
	}

	/// Each proxy's command-line arguments and its place in `procs` (to stop and restart it).
	pub fn proxy_args(&self) -> Vec<(Vec<String>, usize)> {
		self.proxy_runs.iter().map(|(args, _, i)| (args.clone(), *i)).collect()
	}

	fn step(&mut self, report: &mut Report, title: &str, start: Instant) {
		report.steps.push((title.into(), start.elapsed().as_secs_f64()));
		self.say(&format!("    ({title}: {:.0} s)", start.elapsed().as_secs_f64()));
	}

	/// The four steps and the refusals.
	pub fn run(&mut self) -> Result<Report, String> {
		let mut report = Report::default();
		for who in PEOPLE {
			report.accounts.insert(who.into(), self.account(who)?);
		}
		let diabetes = "http://hl7.org/fhir/sid/icd-10|E11.9";
		let hba1c = "http://loinc.org|4548-4";
		let c = self.c();
		if self.adversarial {
			self.say("\n== Adversary: proxy 1 is stalled for the whole journey ==");
			self.say("  a client keeps opening connections that send a request's headers and then nothing");
			self.stall = Some(crate::adversary::Stall::start(&self.proxies[0], 20));
			std::thread::sleep(Duration::from_secs(3));
			report.stalled_health_secs = crate::adversary::health_secs(&self.proxies[0])?;
			self.say(&format!(
				"      the stalled proxy still answers its health check in {:.2} s",
				report.stalled_health_secs
			));
		}

		self.say("\n== Step 1: online visit on internet platform P ==");
		self.say("  P's doctor writes the visit record (FHIR), sealed to the patient; the patient checks and confirms the slip");
		let t = Instant::now();
		let (p, a, b) = (self.p(), self.a(), self.b());
		let rec_p =
			self.write_and_confirm("doc-p", &p, "1-platform-online-visit.json", "consultation")?;
		report.records.push(rec_p.clone());
		self.step(&mut report, "step 1", t);

		self.say("\n== Step 2: offline visit at hospital A ==");
		self.say("  the patient gives A's doctor a search permission for E11.9 (tokens sealed to the proxy); the doctor applies for access; the patient approves");
		let t = Instant::now();
		let trap = self.trapdoor(&[diabetes])?;
		self.request_and_approve("doc-a")?;
		self.say("  A's doctor searches by keyword (the proxy opens the patient's sealed search tokens and looks up the matching records' index labels on the consortium) and reads P's record");
		let found = self.search_until("doc-a", &trap, 1)?;
		if !found.contains(&rec_p) {
			return Err(format!("A's doctor found {found:?}, not P's record {rec_p}"));
		}
		self.read("doc-a", &rec_p, &mut report)?;
		self.say("  a doctor of A without the patient's consent tries the same");
		let x = self.keys("doc-x");
		let proxy0 = self.proxies[0].clone();
		let patient = self.account("patient")?;
		let s = self.must(&[
			"search",
			"--keys",
			&x,
			"--proxy",
			&proxy0,
			"--patient",
			&patient,
			"--trapdoor",
			&trap,
		])?;
		report.outsider_matches = s["matches"].as_array().map(|m| m.len()).unwrap_or(usize::MAX);
		self.say(&format!("      search: {} readable match(es)", report.outsider_matches));
		report.outsider_refusal =
			self.refused("doc-x", &rec_p, "a doctor without consent read P's record")?;
		if self.adversarial {
			self.flood_while_reading(&rec_p, &mut report)?;
		}
		self.say("  A's doctor writes the hospital visit record; the patient confirms it");
		let rec_a = self.write_and_confirm("doc-a", &a, "2-hospital-a-visit.json", "diagnosis")?;
		report.records.push(rec_a.clone());
		self.step(&mut report, "step 2", t);

		if let Some(code) = self.upgrade_consortium_to.take() {
			self.say("\n== Between visits: the consortium's council upgrades its runtime ==");
			self.say("  (4 of its 5 members authorise the code's hash; the code is applied unsigned; the relayer and the");
			self.say("  three proxies started before keep running, and serve steps 3 and 4 on the new runtime)");
			let t = Instant::now();
			let client = mbds_client::Client::connect(&c).map_err(|e| e.to_string())?;
			let members =
				mbds_client::council::member_keys(&CONSORTIUM_COUNCIL_MOTION.map(String::from))
					.map_err(|e| e.to_string())?;
			let done =
				mbds_client::council::upgrade(&client, code, &members, Duration::from_secs(180))
					.map_err(|e| format!("the consortium's upgrade: {e}"))?;
			self.say(&format!(
				"      the consortium runs spec {} (was {}), enacted in block #{}",
				done.to_spec, done.from_spec, done.enacted_at
			));
			report.consortium_upgrade = Some((done.from_spec, done.to_spec, done.enacted_at));
			self.step(&mut report, "consortium upgrade", t);
		}

		self.say("\n== Step 3: referral to hospital B ==");
		let t = Instant::now();
		self.request_and_approve("doc-b")?;
		let found = self.search_until("doc-b", &trap, 2)?;
		for r in [&rec_p, &rec_a] {
			if !found.contains(r) {
				return Err(format!("B's doctor did not find record {r}"));
			}
		}
		self.read("doc-b", &rec_p, &mut report)?;
		self.read("doc-b", &rec_a, &mut report)?;
		let rec_b =
			self.write_and_confirm("doc-b", &b, "3-hospital-b-referral.json", "referral")?;
		report.records.push(rec_b.clone());
		self.step(&mut report, "step 3", t);

		self.say("\n== Step 4: online follow-up on platform P ==");
		self.say("  the patient grants P's doctor read access to their diabetes care only: records whose");
		self.say("  categories (confirmed on each slip, anchored with the summary) are all in");
		self.say("  icd10:4 (endocrine), loinc (observations) and medication; B's referral also carries a");
		self.say("  SNOMED CT code, so it stays closed");
		let t = Instant::now();
		let (pk, dp) = (self.keys("patient"), self.account("doc-p")?);
		self.grant_diabetes_care(&dp, false)?;
		self.say("  once B's referral is anchored (B's doctor, who may read every record, finds all three),");
		self.say("  P's doctor searches: only the two records inside the grant's categories are disclosed");
		let all = self.search_until("doc-b", &trap, 3)?;
		if !all.contains(&rec_b) {
			return Err(format!("B's doctor did not find B's record {rec_b}: {all:?}"));
		}
		let found = self.search_until("doc-p", &trap, 2)?;
		for r in [&rec_p, &rec_a] {
			if !found.contains(r) {
				return Err(format!("P's doctor did not find record {r}"));
			}
			self.read("doc-p", r, &mut report)?;
		}
		if found.contains(&rec_b) {
			return Err(format!(
				"P's doctor's search disclosed B's record {rec_b}, outside the grant's categories"
			));
		}
		self.say("  P's doctor asks for B's record anyway");
		report.out_of_scope_refusal = self.refused(
			"doc-p",
			&rec_b,
			"P's doctor read B's record outside the granted categories",
		)?;
		self.say("  a conjunctive search by B's doctor (E11.9 AND HbA1c) finds only the records with both");
		let both = self.trapdoor(&[diabetes, hba1c])?;
		let found = self.search_until("doc-b", &both, 2)?;
		if found.len() != 2 || found.contains(&rec_b) {
			return Err(format!(
				"conjunctive search found {found:?}, expected P's and A's records only"
			));
		}
		self.step(&mut report, "step 4", t);

		self.say("\n== Refusals ==");
		self.say("  the patient revokes A's grant; A's doctor is refused from the next block on");
		let list = self.must(&["consent", "list", "--keys", &pk, "--consortium", &c])?;
		let doc_a = self.account("doc-a")?;
		let grant = list["grants"]
			.as_array()
			.and_then(|g| g.iter().find(|g| g["grantee"] == doc_a.as_str()))
			.and_then(|g| g["grant"].as_u64())
			.ok_or("no grant of A's doctor to revoke")?
			.to_string();
		self.must(&["consent", "revoke", "--keys", &pk, "--consortium", &c, "--grant", &grant])?;
		report.revoked_refusal =
			self.refused("doc-a", &rec_p, "A's doctor still read P's record after revocation")?;

		self.say("\n== An institution grant: any current doctor of hospital A ==");
		self.say("  the patient grants hospital A's doctors the diabetes categories, sharing key fragments once,");
		self.say("  with hospital A's key; hospital A gives its doctor X (who never had a fragment of this");
		self.say("  patient and was refused before) its member key, sealed to X's own key");
		let inst_a = self.account("inst-a")?;
		if self.adversarial {
			self.say(
				"  (adversary: proxy 2 is killed; the patient shares with the two that answer)",
			);
			let i = self.proxy_runs[1].2;
			self.procs[i].kill();
			report.grant_while_killed = self.grant_diabetes_care(&inst_a, true)?;
		} else {
			self.grant_diabetes_care(&inst_a, true)?;
		}
		let member_key = self.dir.join("keys/doc-x.member-of-inst-a.json").display().to_string();
		let (inst_keys, doc_x) = (self.keys("inst-a"), self.account("doc-x")?);
		self.must(&[
			"institution",
			"member-key",
			"--keys",
			&inst_keys,
			"--consortium",
			&c,
			"--member",
			&doc_x,
			"--out",
			&member_key,
		])?;
		self.say("  doctor X reads P's record: each proxy asks the chain whether the patient's consent allows X");
		self.say(
			"  now (an active doctor of an active hospital A) and re-encrypts with A's fragment",
		);
		let r = self
			.record_get_with("doc-x", &rec_p, &["--member-key".to_string(), member_key.clone()])
			.map_err(|e| format!("A's doctor X could not read under the institution grant: {e}"))?;
		self.note_read("doc-x", &rec_p, &r, &mut report);
		if self.adversarial {
			self.say("  (adversary: proxy 2 restarts from its state folder; the patient delivers its kept fragment)");
			self.restart_proxy(1)?;
			let (pk, c) = (self.keys("patient"), self.c());
			report.retry_after_restart =
				self.must(&["consent", "retry", "--keys", &pk, "--consortium", &c])?;
			report.killed_mid_reencryption =
				Some(self.kill_proxy_mid_reencryption(&rec_p, &member_key, &mut report)?);
		}

		self.emergency(&mut report)?;

		self.say("  someone alters B's record in storage; the reader detects it");
		let blob = find_blob(Path::new(&self.store()), &rec_b)?;
		let mut bytes = std::fs::read(&blob).map_err(|e| e.to_string())?;
		let mid = bytes.len() / 2;
		bytes[mid] ^= 0x01;
		std::fs::write(&blob, bytes).map_err(|e| e.to_string())?;
		report.tamper_error = match self.record_get("doc-p", &rec_b) {
			Ok(v) => return Err(format!("a tampered record was served: {v}")),
			Err(e) => e,
		};
		self.say(&format!("      detected: {}", report.tamper_error.lines().next().unwrap_or("")));

		self.say(
			"\n== A lost device: the patient makes the keys again from the recovery phrase ==",
		);
		let pk_path = PathBuf::from(&pk);
		let counters = mbds_client::search::CounterFile::path_for(&pk_path);
		for lost in [&pk_path, &counters] {
			std::fs::remove_file(lost).map_err(|e| format!("{}: {e}", lost.display()))?;
		}
		self.say("      the key file and the index counters are gone");
		let phrase = self.recovery_phrase_file().display().to_string();
		let recovered = self.must(&["keys", "recover", "--out", &pk, "--phrase-file", &phrase])?;
		if recovered["account"] != report.accounts["patient"].as_str()
			|| recovered["encrypted"] != true
		{
			return Err(format!("recovery made other or unencrypted keys: {recovered}"));
		}
		let listed = self.must(&["slips", "list", "--keys", &pk, "--chain", &p])?;
		let first = listed
			.as_array()
			.and_then(|l| l.iter().find(|s| s["record_hash"] == rec_p.as_str()))
			.and_then(|s| s["slip"].as_u64())
			.ok_or_else(|| {
				format!("the patient's slips on P do not list record {rec_p}: {listed}")
			})?
			.to_string();
		let store = self.store();
		let check = self.must(&[
			"slips",
			"check",
			"--keys",
			&pk,
			"--chain",
			&p,
			"--slip",
			&first,
			"--store",
			&store,
			"--consortium",
			&c,
		])?;
		if check["record"]["keywords_checked"] != true {
			return Err(format!("the recovered keys did not open the first record: {check}"));
		}
		self.say(&format!(
			"      with the recovered keys the patient opens the first record again ({}, keywords {})",
			check["record"]["resourceType"], check["record"]["keywords"]
		));
		report.recovered_read = check;

		self.say("\n== The patient's audit trail ==");
		report.audit = self.must(&["audit", "--keys", &pk, "--consortium", &c])?;
		if let Some(entries) = report.audit["entries"].as_array() {
			let lines: Vec<String> = entries
				.iter()
				.map(|e| {
					format!(
						"    #{} block {} {}",
						e["seq"],
						e["block"],
						e["event"].as_str().unwrap_or("")
					)
				})
				.collect();
			for l in lines {
				self.say(&l);
			}
		}
		if let Some(stall) = self.stall.as_mut() {
			report.stalled_connections = stall.stop();
		}
		Ok(report)
	}

	/// Starts proxy `n` (0-based) again after it was killed, from its state folder, its log
	/// going to `<log>.restarted.log`; returns once it answers its health check (30 s at most).
	fn restart_proxy(&mut self, n: usize) -> Result<(), String> {
		let (args, log, i) = self.proxy_runs[n].clone();
		let restarted = log.with_extension("restarted.log");
		self.procs[i] =
			Proc::start(&format!("ha-{}", n + 1), "mbds-proxy", &args, restarted.clone())?;
		self.proxy_runs[n].1 = restarted;
		let url = self.proxies[n].clone();
		let start = Instant::now();
		while crate::adversary::health_secs(&url).is_err() {
			if start.elapsed() > Duration::from_secs(30) {
				return Err(format!("proxy {} did not come back at {url}", n + 1));
			}
			std::thread::sleep(Duration::from_millis(200));
		}
		Ok(())
	}

	/// Issue 16's proxy crash: doctor X reads P's record through the three proxies, and proxy
	/// 1 is killed -9 the moment it has submitted its record of the access (its log says so),
	/// while it waits for that record to be final, before it re-encrypts anything. X's client
	/// turns to proxy 3 and the read succeeds. Proxy 1 restarts from its state folder and, its
	/// fragments intact, serves X again with proxy 3 alone beside it. The audit trail then holds
	/// the killed proxy's record once (its transaction was in the pool) and one per fragment
	/// served: per proxy 2, 1 and 2 (proxy 1: the killed attempt and the read after its
	/// restart; proxy 2: the first read; proxy 3: both).
	pub fn kill_proxy_mid_reencryption(
		&mut self,
		rec_p: &str,
		member_key: &str,
		report: &mut Report,
	) -> Result<KilledMidReencryption, String> {
		self.say("  (adversary: proxy 1 is killed -9 while it waits for its record of X's access to be final;");
		self.say("   X's client turns to proxy 3; proxy 1 restarts from its state folder and serves X again)");
		let (pk, c, doc_x) = (self.keys("patient"), self.c(), self.account("doc-x")?);
		let allowed_x = |audit: &Value| -> std::collections::BTreeMap<String, usize> {
			let mut per_actor = std::collections::BTreeMap::new();
			for e in audit["entries"].as_array().into_iter().flatten() {
				let a = &e["access"];
				if a["user"].as_str() == Some(doc_x.as_str())
					&& a["record"].as_str() == Some(rec_p)
					&& a["allowed"] == true
				{
					*per_actor.entry(e["actor"].as_str().unwrap_or("").to_string()).or_default() +=
						1;
				}
			}
			per_actor
		};
		let before = allowed_x(&self.must(&["audit", "--keys", &pk, "--consortium", &c])?);
		let (_, log, i) = self.proxy_runs[0].clone();
		let submitted = |log: &Path| {
			std::fs::read_to_string(log)
				.unwrap_or_default()
				.matches("audit transaction submitted")
				.count()
		};
		let already = submitted(&log);
		let pid = self.procs[i].child.id();
		let killer = {
			let log = log.clone();
			std::thread::spawn(move || -> Result<(), String> {
				let start = Instant::now();
				while submitted(&log) == already {
					if start.elapsed() > Duration::from_secs(180) {
						return Err("proxy 1 never submitted a record of X's access".into());
					}
					std::thread::sleep(Duration::from_millis(10));
				}
				let killed = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
				match killed {
					Ok(s) if s.success() => Ok(()),
					other => Err(format!("kill -9 {pid}: {other:?}")),
				}
			})
		};
		let start = Instant::now();
		let read = self.record_get_with(
			"doc-x",
			rec_p,
			&["--member-key".to_string(), member_key.to_string()],
		);
		let read_secs = start.elapsed().as_secs_f64();
		killer.join().map_err(|_| "the killer thread panicked")??;
		let read =
			read.map_err(|e| format!("X's read with proxy 1 killed mid-request failed: {e}"))?;
		self.note_read("doc-x", rec_p, &read, report);
		let _ = self.procs[i].child.wait();
		let via = |r: &Value| -> Vec<String> {
			r["proxies"]
				.as_array()
				.into_iter()
				.flatten()
				.filter_map(|p| p.as_str().map(String::from))
				.collect()
		};
		let read_via = via(&read);

		self.restart_proxy(0)?;
		let url = self.proxies[0].clone();
		let mut args = vec![
			"record".to_string(),
			"get".into(),
			"--keys".into(),
			self.keys("doc-x"),
			"--consortium".into(),
			self.c(),
			"--patient".into(),
			self.account("patient")?,
			"--record".into(),
			rec_p.into(),
			"--store".into(),
			self.store(),
			"--member-key".into(),
			member_key.into(),
			"--threshold".into(),
			"2".into(),
		];
		for p in [&self.proxies[0], &self.proxies[2]] {
			args.extend(["--proxy".into(), p.clone()]);
		}
		let again = self
			.mbds(&args)
			.map_err(|e| format!("X's read through the restarted proxy 1 and proxy 3: {e}"))?;
		self.note_read("doc-x", rec_p, &again, report);
		let after = allowed_x(&self.must(&["audit", "--keys", &pk, "--consortium", &c])?);
		let mut recorded: Vec<(String, usize)> = after
			.iter()
			.map(|(actor, n)| (actor.clone(), n - before.get(actor).copied().unwrap_or(0)))
			.filter(|(_, n)| *n > 0)
			.collect();
		recorded.sort();
		let proxy_1 = (url, self.account("ha-1")?);
		self.say(&format!(
			"      read in {read_secs:.1} s via {read_via:?}; after the restart via {:?}; accesses recorded per proxy {recorded:?}",
			via(&again)
		));
		Ok(KilledMidReencryption {
			read_via,
			read_secs,
			after_restart_via: via(&again),
			recorded,
			proxy_1,
		})
	}

	/// Stop the relayer, the proxies and the chains.
	pub fn stop(&mut self) {
		if let Some(mut stall) = self.stall.take() {
			stall.stop();
		}
		for p in &mut self.procs {
			p.stop();
		}
		for net in &mut self.networks {
			let _ = net.stop();
		}
	}
}

/// The file holding `hash` in a local-folder store.
fn find_blob(store: &Path, hash: &str) -> Result<PathBuf, String> {
	let hex = hash.trim_start_matches("0x");
	let path = store.join("blobs/sha256").join(&hex[..2]).join(&hex[2..4]).join(hex);
	if path.exists() {
		Ok(path)
	} else {
		Err(format!("blob {hash} not found at {}", path.display()))
	}
}
