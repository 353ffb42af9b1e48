//! `mbds`: the command-line client of MBDS, for every role.
//!
//! * everyone: `keys new|show|export` (keys are made on this device), the KMC: `kmc register`,
//!   `kmc set-institution`;
//! * doctor: `record put` (FHIR JSON in -> sealed to the patient -> storage -> slip on chain);
//! * patient: `visit` (a signed visit proof for the doctor), `slips list|check|confirm|reject`,
//!   `consent grant|revoke|list|approve|deny|share`, `trapdoor`, `audit`;
//! * data user: `access request`, `search`, `record get`;
//! * break-glass: the patient's `consent policy set --emergency`, an institution's or health
//!   authority's `emergency attest`, and the patient's `alerts --follow`.
//!
//! `--json` prints one JSON document per command; errors say what is wrong and what to do, and
//! exit with status 1. Waits for blocks show a spinner on a terminal.

mod emergency;
mod sharing;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use mbds_client::{
	records::{category_name, parse_category, record_categories, SlipNote},
	sudo, Client, Inclusion,
};
use mbds_crypto::{
	check_keywords, keywords_from_json, CapsuleFragment, EncryptedKeyword, Keyword, KeywordOpening,
	PrePublicKey, RecordEnvelope, SealedNote, VerifiedCapsuleFragment,
};
use mbds_primitives::{
	consent::{Action, ActionSet, GrantScope, Grantee, Purpose, RecordId},
	InstitutionKind, Role,
};
use mbds_proxy::{
	api::{
		self, KfragCertificate, ReencryptRequest, ReencryptResponse, SearchRequest, SearchResponse,
		Signed,
	},
	chain, open_stores, ParticipantKeys, ProxyClient, SearchKey,
};
use mbds_runtime::{AccountId, RuntimeCall, RuntimeEvent};
use serde_json::{json, Value};
use sp_core::{crypto::Ss58Codec, sr25519, Pair, H256};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long to wait for a transaction to be included.
const INCLUSION_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Parser)]
#[command(
	name = "mbds",
	version,
	about = "MBDS client: keys, records, slips, consent, search and shared records"
)]
struct Cli {
	/// Print one JSON document instead of text.
	#[arg(long, global = true)]
	json: bool,
	#[command(subcommand)]
	cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
	/// Key files: make, show, export the public part.
	#[command(subcommand)]
	Keys(KeysCmd),
	/// Key management centre (runs as the chain's KMC, root until the council exists).
	#[command(subcommand)]
	Kmc(KmcCmd),
	/// Records: a doctor writes one; anyone allowed reads one.
	#[command(subcommand)]
	Record(RecordCmd),
	/// The patient's slips on a private chain.
	#[command(subcommand)]
	Slips(SlipsCmd),
	/// The patient signs a visit proof for an institution, so its doctors may write slips about
	/// the patient (for 30 days); give the printed hex to the doctor (`record put --visit`).
	Visit(VisitArgs),
	/// The patient's consents, requests and key fragments.
	#[command(subcommand)]
	Consent(ConsentCmd),
	/// A data user asks a patient for access.
	#[command(subcommand)]
	Access(AccessCmd),
	/// The patient makes a search trapdoor for one or more keywords (system|code).
	Trapdoor(TrapdoorArgs),
	/// A data user searches a patient's anchored summaries through the search proxy.
	Search(SearchArgs),
	/// A patient's audit trail on the consortium.
	Audit(AuditArgs),
	/// An institution's own tasks (member keys for institution grants).
	#[command(subcommand)]
	Institution(InstitutionCmd),
	/// Break-glass: an institution or health authority attests a doctor's emergency.
	#[command(subcommand)]
	Emergency(emergency::EmergencyCmd),
	/// The patient's alerts: emergency accesses, requests granted by a policy, new requests
	/// and refused accesses, from the audit trail (`--follow` to watch).
	Alerts(emergency::AlertsArgs),
}

#[derive(Args, Clone)]
struct KeyArg {
	/// Your key file (`mbds keys new`).
	#[arg(long)]
	keys: PathBuf,
}

#[derive(Args, Clone)]
struct ConsortiumArg {
	/// A consortium node's RPC URL.
	#[arg(long, default_value = "http://127.0.0.1:9944")]
	consortium: String,
}

#[derive(Subcommand)]
enum KeysCmd {
	/// Generate a new key file (mode 0600) on this device.
	New {
		/// Where to write it (never overwritten).
		#[arg(long)]
		out: PathBuf,
	},
	/// Show the account and public keys of a key file.
	Show(KeyArg),
	/// Print the public keys as a JSON file for the KMC (no secret in it).
	Export {
		#[command(flatten)]
		key: KeyArg,
		/// Publish the designated-tester key (a search proxy) instead of the PEKS receiver key.
		#[arg(long)]
		tester: bool,
		/// Write to this file instead of stdout.
		#[arg(long)]
		out: Option<PathBuf>,
	},
}

#[derive(Subcommand)]
enum KmcCmd {
	/// Register a participant from its exported public keys.
	Register {
		/// The participant's exported public keys (`mbds keys export`).
		#[arg(long)]
		public: PathBuf,
		/// patient | doctor:<institution SS58> | hospital | platform | health-authority |
		/// insurer | research | medicine-company
		#[arg(long)]
		role: String,
		/// The verified real identity (only its BLAKE2-256 commitment goes on chain).
		#[arg(long)]
		identity: String,
		/// The chain's RPC URL.
		#[arg(long)]
		chain: String,
		/// The KMC's secret URI (root on a local chain: //Alice).
		#[arg(long)]
		sudo: String,
	},
	/// Make `institution` the institution whose doctors write slips on this private chain.
	SetInstitution {
		/// The institution's account (SS58).
		#[arg(long)]
		institution: String,
		/// The private chain's RPC URL.
		#[arg(long)]
		chain: String,
		/// The KMC's secret URI.
		#[arg(long)]
		sudo: String,
	},
}

#[derive(Subcommand)]
enum RecordCmd {
	/// Doctor: seal a FHIR record to the patient, store it, submit its slip.
	Put {
		#[command(flatten)]
		key: KeyArg,
		/// The private chain's RPC URL (your institution's chain).
		#[arg(long)]
		chain: String,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The patient (SS58).
		#[arg(long)]
		patient: String,
		/// FHIR R4 JSON: a resource or a Bundle.
		#[arg(long)]
		fhir: PathBuf,
		/// The search proxy's account (SS58): keywords are encrypted for its tester key.
		#[arg(long)]
		tester: String,
		/// Record store(s): folder, file://... or s3://bucket?endpoint=URL. Repeat to replicate.
		#[arg(long = "store", required = true)]
		stores: Vec<String>,
		/// consultation | diagnosis | prescription | examination | treatment | referral | follow-up
		#[arg(long, default_value = "consultation")]
		r#type: String,
		/// Short public description on the slip (no clear medical data).
		#[arg(long, default_value = "")]
		content: String,
		/// The patient's visit proof for your institution (hex, from the patient's
		/// `mbds visit --institution <your institution>`).
		#[arg(long)]
		visit: String,
	},
	/// Read a record: your own directly, someone else's through t proxies' re-encryption.
	Get {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The record's owner (SS58).
		#[arg(long)]
		patient: String,
		/// The record hash (0x...), from `mbds search` or the slip.
		#[arg(long)]
		record: String,
		/// Proxy URLs to ask (repeat); not needed for your own records.
		#[arg(long = "proxy")]
		proxies: Vec<String>,
		/// Fragments needed (the patient's threshold).
		#[arg(long, default_value_t = 2)]
		threshold: usize,
		/// Record store(s).
		#[arg(long = "store", required = true)]
		stores: Vec<String>,
		/// Write the decrypted FHIR JSON here (default: print it).
		#[arg(long)]
		out: Option<PathBuf>,
		/// Your institution's member key (`mbds institution member-key`), to read under a
		/// grant to your institution's doctors.
		#[arg(long)]
		member_key: Option<PathBuf>,
	},
}

#[derive(Subcommand)]
enum InstitutionCmd {
	/// Give one of your doctors your institution's record key, sealed to the doctor's own key,
	/// so they can read under grants to your doctors (the proxies still ask the chain, for
	/// every read, whether the patient's consent allows this doctor now).
	MemberKey {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The doctor (SS58); must be registered as your doctor on the consortium.
		#[arg(long)]
		member: String,
		/// Where to write the member key file (mode 0600); give it to the doctor.
		#[arg(long)]
		out: PathBuf,
	},
}

#[derive(Subcommand)]
enum SlipsCmd {
	/// List your slips on a private chain.
	List {
		#[command(flatten)]
		key: KeyArg,
		/// The private chain's RPC URL.
		#[arg(long)]
		chain: String,
	},
	/// Fetch, verify and decrypt a slip's record.
	Check(SlipArgs),
	/// Confirm a slip (checks its record first unless --no-check).
	Confirm {
		#[command(flatten)]
		slip: SlipArgs,
		/// Confirm without fetching and decrypting the record.
		#[arg(long)]
		no_check: bool,
	},
	/// Reject a slip.
	Reject {
		#[command(flatten)]
		slip: SlipArgs,
		/// not-mine | incorrect | hash-mismatch | duplicate
		#[arg(long)]
		reason: String,
	},
}

#[derive(Args, Clone)]
struct VisitArgs {
	#[command(flatten)]
	key: KeyArg,
	/// The hospital or internet platform you visit (SS58).
	#[arg(long)]
	institution: String,
}

#[derive(Args, Clone)]
struct SlipArgs {
	#[command(flatten)]
	key: KeyArg,
	/// The private chain's RPC URL.
	#[arg(long)]
	chain: String,
	/// The slip id.
	#[arg(long)]
	slip: u64,
	/// Record store(s).
	#[arg(long = "store")]
	stores: Vec<String>,
	/// The consortium's RPC URL (where the slip's search proxy's key is registered), to check
	/// the slip's encrypted keywords.
	#[arg(long)]
	consortium: Option<String>,
}

/// The terms of a grant or an access request.
#[derive(Args, Clone)]
struct TermsArgs {
	#[command(flatten)]
	reach: ReachArgs,
	/// Validity in days from now.
	#[arg(long, default_value_t = 30)]
	days: u64,
	/// treatment | emergency | payment | research | operations | public-health | patient
	#[arg(long, default_value = "treatment")]
	purpose: String,
}

/// What a grant, request or standing policy covers: actions and records.
#[derive(Args, Clone)]
struct ReachArgs {
	/// read,write,copy
	#[arg(long, default_value = "read")]
	actions: String,
	/// Only these records (hash, repeat); default all records.
	#[arg(long = "record")]
	records: Vec<String>,
	/// Only records whose categories are all among these (repeat): icd10:<chapter or code>,
	/// loinc, snomed, medication, atc:<letter>, mental-health, sexual-health, genetics, other.
	/// The chain applies them to the categories the patient confirmed on each record's slip.
	#[arg(long = "category", conflicts_with = "records")]
	categories: Vec<String>,
}

impl ReachArgs {
	/// The actions and the scope.
	fn parse(&self) -> Result<(ActionSet, GrantScope), String> {
		Ok((parse_actions(&self.actions)?, parse_scope(&self.records, &self.categories)?))
	}
}

/// Parsed [`TermsArgs`].
struct Terms {
	actions: ActionSet,
	scope: GrantScope,
	/// End of validity, Unix ms.
	until: u64,
	purpose: Purpose,
}

impl TermsArgs {
	/// Parses the terms; the end of validity is `days` from `now` (Unix ms).
	fn parse(&self, now: u64) -> Result<Terms, String> {
		let (actions, scope) = self.reach.parse()?;
		Ok(Terms {
			actions,
			scope,
			until: now + self.days * 86_400_000,
			purpose: parse_purpose(&self.purpose)?,
		})
	}
}

#[derive(Args, Clone)]
struct ShareArgs {
	/// Proxy URLs that get one key fragment each (repeat); `ACCOUNT@URL` also names the
	/// health authority the URL must be.
	#[arg(long = "proxy")]
	proxies: Vec<String>,
	/// Fragments a grantee needs.
	#[arg(long, default_value_t = 2)]
	threshold: usize,
}

#[derive(Subcommand)]
enum ConsentCmd {
	/// Grant a data user actions on your records for a period.
	Grant {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The grantee (SS58).
		#[arg(long)]
		to: String,
		/// Grant to every current doctor of the institution `--to` instead. The key fragments
		/// go to the institution's key once; its doctors read with the member key the
		/// institution gives them (`mbds institution member-key`).
		#[arg(long)]
		members_of: bool,
		#[command(flatten)]
		terms: TermsArgs,
		#[command(flatten)]
		share: ShareArgs,
	},
	/// Revoke a grant (effective from the next block).
	Revoke {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The grant id.
		#[arg(long)]
		grant: u64,
	},
	/// Your grants and pending requests.
	List {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
	},
	/// Approve a pending request and give the proxies key fragments for the requester.
	Approve {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The request id.
		#[arg(long)]
		request: u64,
		#[command(flatten)]
		share: ShareArgs,
	},
	/// Deny a pending request.
	Deny {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The request id.
		#[arg(long)]
		request: u64,
	},
	/// Deliver the key fragments that proxies could not take when you shared (kept beside
	/// your key file, sealed to your own key).
	Retry {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
	},
	/// Your standing policies (after-visit, emergency).
	#[command(subcommand)]
	Policy(emergency::PolicyCmd),
	/// Give proxies key fragments for a grantee (after a direct grant).
	Share {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The grantee (SS58).
		#[arg(long)]
		to: String,
		#[command(flatten)]
		share: ShareArgs,
	},
}

#[derive(Subcommand)]
enum AccessCmd {
	/// Apply for access to a patient's records.
	Request {
		#[command(flatten)]
		key: KeyArg,
		#[command(flatten)]
		consortium: ConsortiumArg,
		/// The patient (SS58).
		#[arg(long)]
		patient: String,
		#[command(flatten)]
		terms: TermsArgs,
	},
}

#[derive(Args)]
struct TrapdoorArgs {
	#[command(flatten)]
	key: KeyArg,
	#[command(flatten)]
	consortium: ConsortiumArg,
	/// The search proxy's account (SS58): the trapdoor works for its tester key only.
	#[arg(long)]
	tester: String,
	/// A keyword, `system|code` (repeat for a conjunctive search).
	#[arg(long = "keyword", required = true)]
	keywords: Vec<String>,
}

#[derive(Args)]
struct SearchArgs {
	#[command(flatten)]
	key: KeyArg,
	/// The search proxy's URL.
	#[arg(long)]
	proxy: String,
	/// The patient (SS58).
	#[arg(long)]
	patient: String,
	/// The patient's trapdoor (0x...).
	#[arg(long)]
	trapdoor: String,
}

#[derive(Args)]
struct AuditArgs {
	#[command(flatten)]
	consortium: ConsortiumArg,
	/// Whose trail (SS58); default the owner of --keys.
	#[arg(long)]
	patient: Option<String>,
	/// Your key file (to show your own trail).
	#[arg(long)]
	keys: Option<PathBuf>,
}

/// What a command prints: text lines, or the JSON document.
struct Out {
	text: Vec<String>,
	json: Value,
}

fn out(text: Vec<String>, json: Value) -> Result<Out, String> {
	Ok(Out { text, json })
}

fn main() {
	let cli = Cli::parse();
	let json = cli.json;
	match run(cli) {
		Ok(o) => {
			if json {
				println!("{}", serde_json::to_string_pretty(&o.json).expect("json"));
			} else {
				for line in o.text {
					println!("{line}");
				}
			}
		}
		Err(e) => {
			if json {
				println!("{}", json!({ "error": e }));
			}
			eprintln!("mbds: error: {e}");
			std::process::exit(1);
		}
	}
}

fn spinner(msg: String) -> ProgressBar {
	let pb = ProgressBar::new_spinner();
	pb.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed}]").expect("template"));
	pb.set_message(msg);
	pb.enable_steady_tick(Duration::from_millis(120));
	pb
}

fn connect(url: &str, what: &str) -> Result<Client, String> {
	Client::connect(url).map_err(|e| format!("cannot reach the {what} node at {url}: {e}"))
}

fn submit(
	client: &Client,
	call: RuntimeCall,
	signer: &sr25519::Pair,
	what: &str,
) -> Result<Inclusion, String> {
	let pb = spinner(format!("{what}: waiting for a block of {}", client.rpc.url));
	let r = client.submit_and_wait(call, signer, INCLUSION_TIMEOUT);
	pb.finish_and_clear();
	r.map_err(|e| format!("{what}: {e}"))
}

/// The first event of an included transaction that `pick` recognises; else an error naming
/// `what` and the event it expected.
fn event_of<T>(
	inc: &Inclusion,
	what: &str,
	expected: &str,
	pick: impl Fn(&RuntimeEvent) -> Option<T>,
) -> Result<T, String> {
	inc.events
		.iter()
		.find_map(pick)
		.ok_or_else(|| format!("{what}: included, but no {expected} event"))
}

fn account(what: &str, s: &str) -> Result<AccountId, String> {
	mbds_proxy::keys::parse_account(what, s)
}

fn ss58(a: &AccountId) -> String {
	a.to_ss58check()
}

fn hex0x(b: &[u8]) -> String {
	format!("0x{}", hex::encode(b))
}

fn block_on<F: std::future::Future>(f: F) -> Result<F::Output, String> {
	Ok(tokio::runtime::Builder::new_current_thread()
		.enable_all()
		.build()
		.map_err(|e| format!("starting the storage runtime: {e}"))?
		.block_on(f))
}

fn parse_actions(s: &str) -> Result<ActionSet, String> {
	let actions = s
		.split(',')
		.map(|a| match a.trim() {
			"read" => Ok(Action::Read),
			"write" => Ok(Action::Write),
			"copy" => Ok(Action::Copy),
			other => Err(format!("--actions: unknown action {other:?} (read, write, copy)")),
		})
		.collect::<Result<Vec<_>, _>>()?;
	Ok(ActionSet::of(&actions))
}

fn parse_purpose(s: &str) -> Result<Purpose, String> {
	Ok(match s {
		"treatment" => Purpose::Treatment,
		"emergency" => Purpose::EmergencyTreatment,
		"payment" => Purpose::Payment,
		"research" => Purpose::Research,
		"operations" => Purpose::Operations,
		"public-health" => Purpose::PublicHealth,
		"patient" => Purpose::PatientRequest,
		other => return Err(format!("--purpose: unknown purpose {other:?} (treatment, emergency, payment, research, operations, public-health, patient)")),
	})
}

/// A grant's scope in words: all records, the listed records, or the named categories.
fn scope_str(scope: &GrantScope) -> String {
	match scope {
		GrantScope::AllRecords => "all records".into(),
		GrantScope::Records(list) => format!(
			"records {}",
			list.iter()
				.map(|r| match r {
					RecordId::Hash(h) => chain::hash_hex(h),
					RecordId::Slip { chain, slip } => format!("slip {slip} of chain {chain}"),
				})
				.collect::<Vec<_>>()
				.join(", ")
		),
		GrantScope::Categories(list) => format!(
			"categories {}",
			list.iter().map(|c| category_name(*c)).collect::<Vec<_>>().join(", ")
		),
	}
}

fn parse_scope(records: &[String], categories: &[String]) -> Result<GrantScope, String> {
	if !categories.is_empty() {
		let mut list = categories
			.iter()
			.map(|c| parse_category(c).map_err(|e| format!("--category: {e}")))
			.collect::<Result<Vec<_>, _>>()?;
		list.sort_unstable();
		list.dedup();
		let n = list.len();
		return Ok(GrantScope::Categories(list.try_into().map_err(|_| {
			format!(
				"--category: {n} categories, at most {} per grant",
				mbds_primitives::consent::MAX_SCOPE_CATEGORIES
			)
		})?));
	}
	if records.is_empty() {
		return Ok(GrantScope::AllRecords);
	}
	let ids = records
		.iter()
		.map(|r| chain::parse_hash("--record", r).map(RecordId::Hash))
		.collect::<Result<Vec<_>, _>>()?;
	let n = ids.len();
	Ok(GrantScope::Records(ids.try_into().map_err(|_| {
		format!(
			"--record: {n} records, at most {} per grant",
			mbds_primitives::consent::MAX_SCOPE_RECORDS
		)
	})?))
}

fn parse_role(s: &str) -> Result<Role<AccountId>, String> {
	Ok(match s {
		"patient" => Role::Patient,
		"hospital" => Role::Institution(InstitutionKind::Hospital),
		"platform" => Role::Institution(InstitutionKind::InternetPlatform),
		"health-authority" => Role::Institution(InstitutionKind::HealthAuthority),
		"insurer" => Role::Institution(InstitutionKind::Insurer),
		"research" => Role::Institution(InstitutionKind::ResearchInstitute),
		"medicine-company" => Role::Institution(InstitutionKind::MedicineCompany),
		other => match other.strip_prefix("doctor:") {
			Some(inst) => Role::Doctor { institution: account("--role doctor:<institution>", inst)? },
			None => return Err(format!("--role: unknown role {other:?} (patient, doctor:<institution SS58>, hospital, platform, health-authority, insurer, research, medicine-company)")),
		},
	})
}

fn sudo_pair(suri: &str) -> Result<sr25519::Pair, String> {
	sr25519::Pair::from_string(suri, None).map_err(|e| format!("--sudo: not a secret URI: {e:?}"))
}

fn run(cli: Cli) -> Result<Out, String> {
	let json = cli.json;
	match cli.cmd {
		Cmd::Emergency(c) => emergency::emergency_cmd(c),
		Cmd::Alerts(a) => emergency::alerts_cmd(a, json),
		Cmd::Keys(c) => keys_cmd(c),
		Cmd::Kmc(c) => kmc_cmd(c),
		Cmd::Record(RecordCmd::Put {
			key,
			chain,
			consortium,
			patient,
			fhir,
			tester,
			stores,
			r#type,
			content,
			visit,
		}) => record_put(
			&key.keys,
			&chain,
			&consortium.consortium,
			&patient,
			&fhir,
			&tester,
			&stores,
			&r#type,
			&content,
			&visit,
		),
		Cmd::Record(RecordCmd::Get {
			key,
			consortium,
			patient,
			record,
			proxies,
			threshold,
			stores,
			out: o,
			member_key,
		}) => record_get(
			&key.keys,
			&consortium.consortium,
			&patient,
			&record,
			&proxies,
			threshold,
			&stores,
			o.as_deref(),
			member_key.as_deref(),
		),
		Cmd::Institution(InstitutionCmd::MemberKey { key, consortium, member, out: path }) => {
			member_key_cmd(&key.keys, &consortium.consortium, &member, &path)
		}
		Cmd::Slips(c) => slips_cmd(c),
		Cmd::Visit(a) => visit_cmd(&a.key.keys, &a.institution),
		Cmd::Consent(c) => consent_cmd(c),
		Cmd::Access(AccessCmd::Request { key, consortium, patient, terms }) => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let c = connect(&consortium.consortium, "consortium")?;
			let now = api::now_ms();
			let t = terms.parse(now)?;
			let call = RuntimeCall::Consent(pallet_consent::Call::request_access {
				patient: account("--patient", &patient)?,
				actions: t.actions,
				scope: t.scope,
				valid_from: now,
				valid_until: t.until,
				purpose: t.purpose,
			});
			let inc = submit(&c, call, &keys.pair(), "access request")?;
			let mut request = None;
			let mut auto = None;
			let mut emergency = None;
			for e in &inc.events {
				match e {
					RuntimeEvent::Consent(pallet_consent::Event::AccessRequested {
						request: r,
						..
					}) => request = Some(*r),
					RuntimeEvent::Consent(pallet_consent::Event::RequestAutoGranted {
						grant,
						policy,
						..
					}) => auto = Some((*grant, *policy)),
					RuntimeEvent::Consent(pallet_consent::Event::EmergencyAccessGranted {
						until,
						attester,
						..
					}) => emergency = Some((*until, attester.clone())),
					_ => {}
				}
			}
			let request = request.ok_or("access request: included, but no AccessRequested event (suspended for exceeding the request rate?)")?;
			let line = match (auto, &emergency) {
				(Some((g, p)), Some((until, attester))) => format!("request {request}: EMERGENCY access granted by the patient's policy {p} (grant {g}) on the attestation of {}, {}; the patient is alerted", ss58(attester), emergency::until_str(*until)),
				(Some((g, p)), None) => format!("request {request}: granted at once by the patient's standing policy {p} (grant {g})"),
				(None, _) => format!("request {request} sent to {patient}; waiting for the patient's answer (block #{})", inc.number),
			};
			out(
				vec![line],
				json!({"request": request, "auto_grant": auto.map(|a| a.0), "emergency_until": emergency.map(|e| e.0), "block": inc.number}),
			)
		}
		Cmd::Trapdoor(a) => {
			let keys = ParticipantKeys::load(&a.key.keys)?;
			let c = connect(&a.consortium.consortium, "consortium")?;
			let tester = chain::tester_key(&c, &account("--tester", &a.tester)?)?;
			let kws = a
				.keywords
				.iter()
				.map(|k| Keyword::parse(k).map_err(|e| format!("--keyword {k:?}: {e}")))
				.collect::<Result<Vec<_>, _>>()?;
			let td = keys
				.peks()
				.conjunctive_trapdoor(&tester, &kws)
				.map_err(|e| format!("--keyword: {e}"))?;
			let hex = hex0x(&td.to_bytes());
			out(vec![hex.clone()], json!({"trapdoor": hex, "keywords": a.keywords}))
		}
		Cmd::Search(a) => {
			let keys = ParticipantKeys::load(&a.key.keys)?;
			let proxy = ProxyClient::new(&a.proxy);
			let health = proxy.health().map_err(|e| e.to_string())?;
			let patient = account("--patient", &a.patient)?;
			let trapdoor = hex::decode(a.trapdoor.trim().trim_start_matches("0x"))
				.map_err(|e| format!("--trapdoor: not hex: {e}"))?;
			let issued_at = api::now_ms();
			// The proxy records the search in the patient's audit trail with this signature.
			let statement = api::search_statement(
				&account("proxy account", &health.account)?,
				&patient,
				&trapdoor,
				issued_at,
			);
			let req = Signed::sign(
				&keys.pair(),
				&SearchRequest {
					proxy: health.account,
					patient: a.patient.clone(),
					trapdoor: a.trapdoor,
					issued_at,
					search_signature: api::sign_search(&keys.pair(), &statement),
				},
			);
			let pb = spinner(format!("searching {}'s summaries", a.patient));
			let r: Result<SearchResponse, _> = proxy.post("/v1/search", &req);
			pb.finish_and_clear();
			let r = r.map_err(|e| format!("search at {}: {e}", a.proxy))?;
			let mut text = vec![format!(
				"{} readable record(s) match, of {} summary items examined at consortium block #{} (search recorded in the patient's audit trail at #{})",
				r.matches.len(),
				r.examined,
				r.at_block,
				r.audit_block
			)];
			for m in &r.matches {
				text.push(format!(
					"  record {}  chain {} slip {} (confirmed at #{}, anchored at #{})",
					m.record_hash, m.chain_id, m.slip_id, m.block_number, m.anchored_at
				));
			}
			out(text, serde_json::to_value(&r).expect("json"))
		}
		Cmd::Audit(a) => {
			let c = connect(&a.consortium.consortium, "consortium")?;
			let patient = match (&a.patient, &a.keys) {
				(Some(p), _) => account("--patient", p)?,
				(None, Some(k)) => ParticipantKeys::load(k)?.account(),
				(None, None) => return Err("give --patient SS58 or --keys FILE".into()),
			};
			let checked = chain::audit_trail_checked(&c, &patient)?;
			let trail = &checked.entries;
			let mut text =
				vec![format!("audit trail of {} ({} entries)", ss58(&patient), checked.total)];
			text.push(if checked.complete {
				"  the whole trail matches the chain's commitment to it (ConsentApi_audit_head, as served by this node)"
					.to_string()
			} else {
				format!(
					"  {} older entries left the chain's state: an archive node's copy of them can be checked against the chain's commitment",
					checked.total - trail.len() as u64
				)
			});
			let mut entries = Vec::new();
			for r in trail {
				let what = describe_audit(&r.event);
				text.push(format!(
					"  #{:<4} block {:<6} by {}  {what}",
					r.seq,
					r.block,
					short(&ss58(&r.actor))
				));
				entries.push(json!({"seq": r.seq, "block": r.block, "at": r.at, "actor": ss58(&r.actor), "event": what, "access": access_json(&r.event)}));
			}
			out(
				text,
				json!({"patient": ss58(&patient), "total": checked.total, "verified": checked.complete, "entries": entries}),
			)
		}
	}
}

fn short(s: &str) -> String {
	s.chars().take(10).collect::<String>() + "…"
}

fn describe_audit(e: &pallet_consent::AuditEvent<AccountId>) -> String {
	use pallet_consent::AuditEvent::*;
	match e {
		Access { user, target, action, allowed } => format!(
			"{} {:?} by {} on {}",
			if *allowed { "ACCESS ALLOWED" } else { "ACCESS DENIED" },
			action,
			ss58(user),
			match target {
				mbds_primitives::consent::AccessTarget::Record {
					id: RecordId::Hash(h), ..
				} => chain::hash_hex(h),
				other => format!("{other:?}"),
			}
		),
		Search { user, results } => {
			format!("SEARCH by {} ({results} readable record(s) disclosed)", ss58(user))
		}
		EmergencyAttested { doctor } => format!("emergency attested for doctor {}", ss58(doctor)),
		EmergencyAccessGranted { request, grant, attester, until } => format!(
			"EMERGENCY ACCESS: request {request} granted (grant {grant}) {} on the attestation of {}",
			emergency::until_str(*until),
			ss58(attester)
		),
		GrantCreated { grant, grantee, actions } => format!(
			"grant {grant} created for {} (actions {:#05b})",
			grantee_str(grantee),
			actions.0
		),
		other => format!("{other:?}"),
	}
}

fn access_json(e: &pallet_consent::AuditEvent<AccountId>) -> Value {
	match e {
		pallet_consent::AuditEvent::Access { user, target, allowed, .. } => json!({
			"user": ss58(user),
			"allowed": allowed,
			"record": target.record().and_then(|r| match r { RecordId::Hash(h) => Some(chain::hash_hex(&h)), _ => None }),
		}),
		_ => Value::Null,
	}
}

fn grantee_str(g: &Grantee<AccountId>) -> String {
	match g {
		Grantee::Account(a) => ss58(a),
		Grantee::MembersOf(i) => format!("doctors of {}", ss58(i)),
	}
}

fn keys_cmd(c: KeysCmd) -> Result<Out, String> {
	match c {
		KeysCmd::New { out: path } => {
			let keys = ParticipantKeys::generate();
			keys.save(&path)?;
			out(
				vec![
					format!("new keys in {} (keep it secret, back it up)", path.display()),
					format!("account {}", keys.ss58()),
				],
				json!({"file": path, "account": keys.ss58()}),
			)
		}
		KeysCmd::Show(k) => {
			let keys = ParticipantKeys::load(&k.keys)?;
			let set = keys.key_set(SearchKey::Receiver);
			out(
				vec![
					format!("account     {}", keys.ss58()),
					format!("record key  {}", hex0x(&set.record_key.key)),
					format!("search key  {}", hex0x(&set.search_key.key)),
				],
				json!({"account": keys.ss58(), "record_key": hex0x(&set.record_key.key), "search_key": hex0x(&set.search_key.key)}),
			)
		}
		KeysCmd::Export { key, tester, out: path } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let set = keys.key_set(if tester { SearchKey::Tester } else { SearchKey::Receiver });
			let doc = json!({
				"kind": "mbds-public-keys",
				"account": keys.ss58(),
				"record_key": hex0x(&set.record_key.key),
				"search_key": hex0x(&set.search_key.key),
				"search_key_kind": if tester { "tester" } else { "receiver" },
			});
			if let Some(p) = &path {
				std::fs::write(p, serde_json::to_string_pretty(&doc).expect("json"))
					.map_err(|e| format!("--out {}: {e}", p.display()))?;
			}
			let text = match &path {
				Some(p) => {
					vec![format!("public keys of {} written to {}", keys.ss58(), p.display())]
				}
				None => vec![serde_json::to_string_pretty(&doc).expect("json")],
			};
			out(text, doc)
		}
	}
}

/// Reads an exported public key file: the account and the key set to register.
fn read_public(
	path: &Path,
) -> Result<(AccountId, pallet_kmc::KeySetOf<mbds_runtime::Runtime>), String> {
	let file = || format!("public key file {}", path.display());
	let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", file()))?;
	let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: not JSON: {e}", file()))?;
	if v["kind"] != "mbds-public-keys" {
		return Err(format!(
			"{}: field `kind` must be \"mbds-public-keys\" (made by `mbds keys export`)",
			file()
		));
	}
	let field = |name: &str| -> Result<Vec<u8>, String> {
		let s = v[name].as_str().ok_or_else(|| format!("{}: field `{name}` missing", file()))?;
		hex::decode(s.trim_start_matches("0x"))
			.map_err(|e| format!("{}: field `{name}`: not hex: {e}", file()))
	};
	let who =
		account(&format!("{}: field `account`", file()), v["account"].as_str().unwrap_or(""))?;
	let record = field("record_key")?;
	PrePublicKey::from_compressed_bytes(&record)
		.map_err(|e| format!("{}: field `record_key`: {e}", file()))?;
	let search = field("search_key")?;
	let tester = v["search_key_kind"] == "tester";
	let ok = if tester {
		mbds_crypto::TesterPublicKey::from_bytes(&search).map(|_| ())
	} else {
		mbds_crypto::PeksPublicKey::from_bytes(&search).map(|_| ())
	};
	ok.map_err(|e| format!("{}: field `search_key`: {e}", file()))?;
	use pallet_kmc::{KeyScheme, PublicKey};
	let set = pallet_kmc::KeySet {
		record_key: PublicKey {
			scheme: KeyScheme::UmbralSecp256k1V1,
			key: record.try_into().map_err(|_| format!("{}: record_key too long", file()))?,
		},
		search_key: PublicKey {
			scheme: KeyScheme::PeksBls12381V1,
			key: search.try_into().map_err(|_| format!("{}: search_key too long", file()))?,
		},
	};
	Ok((who, set))
}

fn kmc_cmd(c: KmcCmd) -> Result<Out, String> {
	match c {
		KmcCmd::Register { public, role, identity, chain: url, sudo: suri } => {
			let (who, keys) = read_public(&public)?;
			let role = parse_role(&role)?;
			let client = connect(&url, "chain")?;
			let commitment = H256(sp_crypto_hashing::blake2_256(identity.as_bytes()));
			let call = sudo(RuntimeCall::Kmc(pallet_kmc::Call::register {
				who: who.clone(),
				role: role.clone(),
				identity: commitment,
				keys,
			}));
			let inc = submit(&client, call, &sudo_pair(&suri)?, "KMC registration")?;
			let registered = inc
				.events
				.iter()
				.any(|e| matches!(e, RuntimeEvent::Kmc(pallet_kmc::Event::Registered { .. })));
			if !registered {
				let why = inc.events.iter().find_map(|e| match e {
					RuntimeEvent::Sudo(pallet_sudo::Event::Sudid { sudo_result: Err(e) }) => {
						Some(mbds_client::describe_dispatch_error(e))
					}
					_ => None,
				});
				return Err(format!(
					"KMC registration of {} failed: {}",
					ss58(&who),
					why.unwrap_or_else(|| "no Registered event".into())
				));
			}
			out(
				vec![format!(
					"registered {} as {role:?} on {} (block #{})",
					ss58(&who),
					url,
					inc.number
				)],
				json!({"account": ss58(&who), "block": inc.number}),
			)
		}
		KmcCmd::SetInstitution { institution, chain: url, sudo: suri } => {
			let client = connect(&url, "chain")?;
			let inst = account("--institution", &institution)?;
			let call = sudo(RuntimeCall::Slips(pallet_slips::Call::set_institution {
				institution: inst.clone(),
			}));
			let inc = submit(&client, call, &sudo_pair(&suri)?, "setting the chain's institution")?;
			if let Some(e) = inc.events.iter().find_map(|e| match e {
				RuntimeEvent::Sudo(pallet_sudo::Event::Sudid { sudo_result: Err(e) }) => {
					Some(mbds_client::describe_dispatch_error(e))
				}
				_ => None,
			}) {
				return Err(format!("setting the institution failed: {e}"));
			}
			out(
				vec![format!("{} is now the institution of {}", ss58(&inst), url)],
				json!({"institution": ss58(&inst), "block": inc.number}),
			)
		}
	}
}

fn tx_type(s: &str) -> Result<pallet_slips::TransactionType, String> {
	use pallet_slips::TransactionType::*;
	Ok(match s {
		"consultation" => Consultation,
		"diagnosis" => Diagnosis,
		"prescription" => Prescription,
		"examination" => Examination,
		"treatment" => Treatment,
		"referral" => Referral,
		"follow-up" => FollowUp,
		other => return Err(format!("--type: unknown transaction type {other:?} (consultation, diagnosis, prescription, examination, treatment, referral, follow-up)")),
	})
}

/// A patient's visit proof, as `mbds visit` prints it and `submit_slip` takes it.
type VisitProofOf = pallet_slips::VisitProof<AccountId, mbds_runtime::Signature>;

/// Patient: signs "I am at `institution` now" with the account key; prints the proof's hex.
fn visit_cmd(keys: &Path, institution: &str) -> Result<Out, String> {
	use sp_runtime::codec::Encode;
	let keys = ParticipantKeys::load(keys)?;
	let institution = account("--institution", institution)?;
	let statement = pallet_slips::VisitStatement {
		patient: keys.account(),
		institution: institution.clone(),
		issued_at: api::now_ms(),
	};
	let proof: VisitProofOf = pallet_slips::VisitProof {
		institution: institution.clone(),
		issued_at: statement.issued_at,
		signature: sp_runtime::MultiSignature::Sr25519(
			keys.pair().sign(&statement.signing_payload()),
		),
	};
	let hex = hex0x(&proof.encode());
	let valid_until = statement
		.issued_at
		.saturating_add(<mbds_runtime::Runtime as pallet_slips::Config>::VisitValidity::get());
	out(
		vec![hex.clone()],
		json!({"visit": hex, "patient": keys.ss58(), "institution": ss58(&institution), "issued_at": statement.issued_at, "valid_until": valid_until}),
	)
}

/// Decodes `--visit` and checks it is `patient`'s proof for `institution` (if known).
fn parse_visit(
	hex: &str,
	patient: &AccountId,
	institution: Option<&AccountId>,
) -> Result<VisitProofOf, String> {
	use sp_runtime::codec::DecodeAll;
	let bytes = hex::decode(hex.trim().trim_start_matches("0x"))
		.map_err(|e| format!("--visit: not hex: {e}"))?;
	let proof = VisitProofOf::decode_all(&mut &bytes[..]).map_err(|e| {
		format!("--visit: not a visit proof ({e}); the patient makes one with `mbds visit`")
	})?;
	if !proof.is_signed_by(patient) {
		return Err(format!("--visit: the proof is not signed by the patient {}; ask them for theirs (`mbds visit --institution <your institution>`)", ss58(patient)));
	}
	if let Some(i) = institution.filter(|i| **i != proof.institution) {
		return Err(format!(
			"--visit: the proof is for a visit to {}, but this chain's institution is {}; ask the patient for a proof for {}",
			ss58(&proof.institution),
			ss58(i),
			ss58(i)
		));
	}
	Ok(proof)
}

#[allow(clippy::too_many_arguments)]
fn record_put(
	keys: &Path,
	chain_url: &str,
	consortium_url: &str,
	patient: &str,
	fhir: &Path,
	tester: &str,
	stores: &[String],
	kind: &str,
	content: &str,
	visit: &str,
) -> Result<Out, String> {
	let keys = ParticipantKeys::load(keys)?;
	let patient = account("--patient", patient)?;
	let kind = tx_type(kind)?;
	let text =
		std::fs::read_to_string(fhir).map_err(|e| format!("--fhir {}: {e}", fhir.display()))?;
	let resource: Value = serde_json::from_str(&text)
		.map_err(|e| format!("--fhir {}: not JSON: {e}", fhir.display()))?;
	let rtype = resource["resourceType"].as_str().ok_or_else(|| {
		format!(
			"--fhir {}: no `resourceType`; expected a FHIR R4 resource or Bundle",
			fhir.display()
		)
	})?;
	let record_id = format!("{rtype}/{}", resource["id"].as_str().unwrap_or("-"));
	let keywords =
		keywords_from_json(&text).map_err(|e| format!("--fhir {}: {e}", fhir.display()))?;
	if keywords.is_empty() {
		return Err(format!("--fhir {}: no coded concept (Condition, Observation, Procedure, MedicationRequest codes) to make keywords from; the record could never be found by search", fhir.display()));
	}
	let categories = record_categories(&keywords);
	let max = mbds_primitives::consent::MAX_SCOPE_CATEGORIES as usize;
	if categories.len() > max {
		return Err(format!("--fhir {}: the record's codes fall in {} categories, a slip carries at most {max}; split the record", fhir.display(), categories.len()));
	}
	let private = connect(chain_url, "private chain")?;
	let institution: Option<AccountId> = private
		.storage(&pallet_slips::Institution::<mbds_runtime::Runtime>::hashed_key())
		.map_err(|e| format!("reading the chain's institution: {e}"))?;
	let visit = parse_visit(visit, &patient, institution.as_ref())?;
	let consortium = connect(consortium_url, "consortium")?;
	let patient_pk = chain::record_key(&private, &patient)?;
	let patient_search = chain::search_key(&private, &patient)?;
	let tester_account = account("--tester", tester)?;
	let tester = chain::tester_key(&consortium, &tester_account)?;

	let envelope = RecordEnvelope::seal(&patient_pk, record_id.as_bytes(), 1, text.as_bytes())
		.map_err(|e| format!("sealing the record: {e}"))?;
	let bytes = envelope.to_bytes();
	let store = open_stores(stores)?;
	let pb = spinner(format!(
		"uploading {} KiB to {} store(s)",
		bytes.len().div_ceil(1024),
		stores.len()
	));
	let address = block_on(store.put(bytes::Bytes::from(bytes.clone())))?
		.map_err(|e| format!("storing the record: {e}"))?;
	pb.finish_and_clear();
	let record_hash = H256(*address.as_bytes());
	// The keywords are encrypted with randomness the patient can re-derive from the opening
	// sealed to them with the storage address, so they can check each one before confirming.
	let opening = KeywordOpening::generate();
	let slip_note =
		SlipNote { address: *address.as_bytes(), tester: *tester_account.as_ref(), opening };
	let note = SealedNote::seal(&patient_pk, &slip_note.to_bytes())
		.map_err(|e| format!("sealing the storage address and keyword opening: {e}"))?;
	let encrypted_keywords: Vec<Vec<u8>> = keywords
		.iter()
		.enumerate()
		.map(|(i, k)| {
			EncryptedKeyword::encrypt_opened(
				&patient_search,
				&tester,
				k,
				&slip_note.opening,
				i as u32,
			)
			.to_bytes()
		})
		.collect();
	let call = RuntimeCall::Slips(pallet_slips::Call::submit_slip {
		patient: patient.clone(),
		visit,
		generated_at: api::now_ms(),
		tx_type: kind,
		content: content.as_bytes().to_vec(),
		encrypted_keywords,
		categories: categories.clone(),
		encrypted_address: note.to_bytes(),
		record_hash,
	});
	let inc = submit(&private, call, &keys.pair(), "submitting the slip")?;
	let slip = event_of(&inc, "submitting the slip", "SlipSubmitted", |e| match e {
		RuntimeEvent::Slips(pallet_slips::Event::SlipSubmitted { slip_id, .. }) => Some(*slip_id),
		_ => None,
	})?;
	let kws: Vec<String> = keywords.iter().map(|k| k.to_string()).collect();
	let cats: Vec<String> = categories.iter().map(|c| category_name(*c)).collect();
	out(
		vec![
			format!(
				"record {record_id} sealed to {} and stored as {}",
				ss58(&patient),
				chain::hash_hex(&record_hash)
			),
			format!(
				"slip {slip} submitted in block #{} with {} encrypted keyword(s): {}",
				inc.number,
				kws.len(),
				kws.join(", ")
			),
			format!("  categories: {}", cats.join(", ")),
			format!("the patient confirms it with: mbds slips confirm --slip {slip} ..."),
		],
		json!({"slip": slip, "record_hash": chain::hash_hex(&record_hash), "block": inc.number, "keywords": kws, "categories": cats, "record_id": record_id}),
	)
}

type SlipOf = pallet_slips::SlipOf<mbds_runtime::Runtime>;

fn slip_json(id: u64, s: &SlipOf) -> Value {
	json!({
		"slip": id,
		"status": format!("{:?}", s.status),
		"doctor": ss58(&s.doctor),
		"institution": ss58(&s.institution),
		"type": format!("{:?}", s.tx_type),
		"content": String::from_utf8_lossy(&s.content),
		"record_hash": chain::hash_hex(&s.record_hash),
		"keywords": s.encrypted_keywords.len(),
		"categories": s.categories.iter().map(|c| category_name(*c)).collect::<Vec<_>>(),
		"submitted_at": s.submitted_at,
	})
}

/// Fetches, verifies and decrypts a slip's record as its patient.
fn check_slip(
	keys: &ParticipantKeys,
	client: &Client,
	consortium: Option<&str>,
	slip_id: u64,
	stores: &[String],
) -> Result<(SlipOf, Value, Vec<String>), String> {
	let slip: SlipOf = client
		.call::<Option<SlipOf>>("SlipsApi_slip", slip_id)?
		.ok_or_else(|| format!("--slip {slip_id}: no such slip on {}", client.rpc.url))?;
	if slip.patient != keys.account() {
		return Err(format!(
			"--slip {slip_id}: the slip is about {}, not you ({})",
			ss58(&slip.patient),
			keys.ss58()
		));
	}
	let sk = keys.record_key();
	let note = SealedNote::from_bytes(&slip.encrypted_address)
		.and_then(|n| n.open(&sk))
		.map_err(|e| {
			format!("slip {slip_id}: the encrypted storage address does not open with your key: {e}; reject it with --reason not-mine")
		})?;
	let note = SlipNote::from_bytes(&note)
		.map_err(|e| format!("slip {slip_id}: {e}; reject it with --reason incorrect"))?;
	if note.address != slip.record_hash.0 {
		return Err(format!("slip {slip_id}: the sealed storage address is not the slip's record hash; reject it with --reason hash-mismatch"));
	}
	let address = format!(
		"mbds-store:sha256:{}",
		mbds_storage::ContentAddress::from_bytes(note.address).to_hex()
	);
	let store = open_stores(stores)?;
	let bytes = block_on(store.get(&mbds_storage::ContentAddress::from_bytes(slip.record_hash.0)))?
		.map_err(|e| {
			format!("slip {slip_id}: fetching record {}: {e}", chain::hash_hex(&slip.record_hash))
		})?;
	let envelope = RecordEnvelope::from_bytes(&bytes)
		.map_err(|e| format!("slip {slip_id}: stored record: {e}"))?;
	let plain =
		envelope.open(&sk).map_err(|e| format!("slip {slip_id}: decrypting the record: {e}"))?;
	let text = String::from_utf8(plain)
		.map_err(|_| format!("slip {slip_id}: the record is not UTF-8 text"))?;
	let parsed: Vec<Keyword> = keywords_from_json(&text)
		.map_err(|e| format!("slip {slip_id}: the record is not FHIR JSON: {e}"))?
		.into_iter()
		.collect();
	let keywords: Vec<String> = parsed.iter().map(|k| k.to_string()).collect();
	// Every encrypted keyword must be exactly one of the record's own codes, for you and the
	// search proxy named in the note; and the categories the chain will apply to your grants
	// must be the record's own.
	let consortium = consortium.ok_or_else(|| {
		format!("slip {slip_id}: give --consortium to check the slip's encrypted keywords against its search proxy's key")
	})?;
	let consortium = connect(consortium, "consortium")?;
	let tester_account = AccountId::from(note.tester);
	// Keywords searchable only by someone other than the health authorities' proxies would
	// hide the record from your searches (or let that party test your trapdoors).
	let tester_role = chain::participant(&consortium, &tester_account)?.map(|p| p.role);
	if tester_role != Some(Role::Institution(InstitutionKind::HealthAuthority)) {
		return Err(format!(
			"slip {slip_id}: its keywords are encrypted for {}, which is not a health authority's search proxy on the consortium; reject it with --reason incorrect",
			ss58(&tester_account)
		));
	}
	let tester = chain::tester_key(&consortium, &tester_account).map_err(|e| {
		format!("slip {slip_id}: the search proxy {} named in the slip: {e}", ss58(&tester_account))
	})?;
	let ciphertexts = EncryptedKeyword::decode_all(&slip.encrypted_keywords)
		.map_err(|e| format!("slip {slip_id}: an encrypted keyword on the slip: {e}; reject it with --reason incorrect"))?;
	check_keywords(&keys.peks().public_key(), &tester, &parsed, &note.opening, &ciphertexts)
		.map_err(|e| format!("slip {slip_id}: {e}; reject it with --reason incorrect"))?;
	let categories = record_categories(&parsed);
	if slip.categories.to_vec() != categories {
		let names = |c: &[u32]| c.iter().map(|c| category_name(*c)).collect::<Vec<_>>().join(", ");
		return Err(format!(
			"slip {slip_id}: the slip labels the record [{}] but its codes are [{}]; reject it with --reason incorrect",
			names(&slip.categories),
			names(&categories)
		));
	}
	let rtype = serde_json::from_str::<Value>(&text)
		.ok()
		.and_then(|v| v["resourceType"].as_str().map(String::from))
		.unwrap_or_default();
	let cats: Vec<String> = categories.iter().map(|c| category_name(*c)).collect();
	Ok((
		slip,
		json!({"address": address, "resourceType": rtype, "keywords": keywords, "categories": cats, "keywords_checked": true, "bytes": text.len()}),
		keywords,
	))
}

/// Every slip about `patient` (pending and decided), paging through the whole list at one
/// block so the pages agree.
fn all_patient_slips(client: &Client, patient: &AccountId) -> Result<Vec<(u64, SlipOf)>, String> {
	/// Positions per runtime-API call (the runtime reads at most 256).
	const PAGE: u32 = 256;
	let best = mbds_client::bytes_of(&client.rpc.call("chain_getBlockHash", json!([]))?)?;
	if best.len() != 32 {
		return Err(format!("{}: chain_getBlockHash: not a 32-byte hash", client.rpc.url));
	}
	let at = H256::from_slice(&best);
	let count: u32 = client.call_at("SlipsApi_patient_slip_count", patient, Some(at))?;
	let mut slips = Vec::new();
	let mut start = 0u32;
	while start < count {
		let page: Vec<(u64, SlipOf)> =
			client.call_at("SlipsApi_patient_slips", (patient, start, PAGE), Some(at))?;
		slips.extend(page);
		start = start.saturating_add(PAGE);
	}
	Ok(slips)
}

fn slips_cmd(c: SlipsCmd) -> Result<Out, String> {
	match c {
		SlipsCmd::List { key, chain: url } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&url, "private chain")?;
			let slips = all_patient_slips(&client, &keys.account())?;
			let pending = slips
				.iter()
				.filter(|(_, s)| matches!(s.status, pallet_slips::SlipStatus::Pending { .. }))
				.count();
			let mut text = vec![format!(
				"{} slip(s) of {} on {} ({pending} waiting for your decision)",
				slips.len(),
				keys.ss58(),
				url
			)];
			for (id, s) in &slips {
				text.push(format!(
					"  slip {id:<4} {:?} {:?} by {} record {}",
					s.status,
					s.tx_type,
					short(&ss58(&s.doctor)),
					chain::hash_hex(&s.record_hash)
				));
			}
			out(text, json!(slips.iter().map(|(id, s)| slip_json(*id, s)).collect::<Vec<_>>()))
		}
		SlipsCmd::Check(a) => {
			let keys = ParticipantKeys::load(&a.key.keys)?;
			let client = connect(&a.chain, "private chain")?;
			let (slip, info, keywords) =
				check_slip(&keys, &client, a.consortium.as_deref(), a.slip, &a.stores)?;
			out(
				vec![
					format!(
						"slip {}: record {} verified against its hash and decrypted",
						a.slip,
						chain::hash_hex(&slip.record_hash)
					),
					format!(
						"  {} by {} , keywords: {}",
						info["resourceType"].as_str().unwrap_or(""),
						ss58(&slip.doctor),
						keywords.join(", ")
					),
				],
				json!({"slip": slip_json(a.slip, &slip), "record": info}),
			)
		}
		SlipsCmd::Confirm { slip: a, no_check } => {
			let keys = ParticipantKeys::load(&a.key.keys)?;
			let client = connect(&a.chain, "private chain")?;
			let (slip, info) = if no_check {
				let s: SlipOf = client
					.call::<Option<SlipOf>>("SlipsApi_slip", a.slip)?
					.ok_or_else(|| format!("--slip {}: no such slip", a.slip))?;
				(s, Value::Null)
			} else {
				if a.stores.is_empty() {
					return Err(
						"give --store to check the record before confirming (or --no-check)".into(),
					);
				}
				let (s, info, _) =
					check_slip(&keys, &client, a.consortium.as_deref(), a.slip, &a.stores)?;
				(s, info)
			};
			let call = RuntimeCall::Slips(pallet_slips::Call::confirm_slip {
				slip_id: a.slip,
				record_hash: slip.record_hash,
			});
			let inc = submit(&client, call, &keys.pair(), "confirming the slip")?;
			let batch = inc.events.iter().find_map(|e| match e {
				RuntimeEvent::Slips(pallet_slips::Event::SlipConfirmed {
					batch, items, ..
				}) => Some((*batch, *items)),
				_ => None,
			});
			let (batch, items) =
				batch.ok_or("confirming the slip: included but no SlipConfirmed event")?;
			out(
				vec![format!("slip {} confirmed in block #{}; {items} summary item(s) in batch {batch}, to be anchored on the consortium", a.slip, inc.number)],
				json!({"slip": a.slip, "block": inc.number, "batch": batch, "items": items, "record": info}),
			)
		}
		SlipsCmd::Reject { slip: a, reason } => {
			use pallet_slips::RejectReason::*;
			let reason = match reason.as_str() {
				"not-mine" => NotMyRecord,
				"incorrect" => IncorrectContent,
				"hash-mismatch" => HashMismatch,
				"duplicate" => Duplicate,
				other => {
					return Err(format!(
						"--reason: {other:?} (not-mine, incorrect, hash-mismatch, duplicate)"
					))
				}
			};
			let keys = ParticipantKeys::load(&a.key.keys)?;
			let client = connect(&a.chain, "private chain")?;
			let inc = submit(
				&client,
				RuntimeCall::Slips(pallet_slips::Call::reject_slip { slip_id: a.slip, reason }),
				&keys.pair(),
				"rejecting the slip",
			)?;
			out(
				vec![format!("slip {} rejected ({reason:?}) in block #{}", a.slip, inc.number)],
				json!({"slip": a.slip, "block": inc.number}),
			)
		}
	}
}

/// Gives each proxy one key fragment for `grantee` (threshold `t`).
fn pending_urls(shared: &sharing::Shared) -> Vec<String> {
	shared.pending.iter().map(|p| p.url.clone()).collect()
}

fn consent_cmd(c: ConsentCmd) -> Result<Out, String> {
	match c {
		ConsentCmd::Retry { key, consortium } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let shared = sharing::retry(&keys, &key.keys, &client)?;
			out(
				vec![format!("delivered now: {}", shared.summary())],
				json!({"proxies": shared.delivered, "pending": pending_urls(&shared)}),
			)
		}
		ConsentCmd::Policy(p) => emergency::policy_cmd(p),
		ConsentCmd::Grant { key, consortium, to, members_of, terms, share: sh } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let who = account("--to", &to)?;
			let grantee = if members_of {
				Grantee::MembersOf(who.clone())
			} else {
				Grantee::Account(who.clone())
			};
			let now = api::now_ms();
			let t = terms.parse(now)?;
			let call = RuntimeCall::Consent(pallet_consent::Call::grant {
				grantee: grantee.clone(),
				actions: t.actions,
				scope: t.scope,
				valid_from: now.saturating_sub(60_000),
				valid_until: t.until,
				purpose: Some(t.purpose),
			});
			let inc = submit(&client, call, &keys.pair(), "granting")?;
			let grant = event_of(&inc, "granting", "GrantCreated", |e| match e {
				RuntimeEvent::Consent(pallet_consent::Event::GrantCreated { grant, .. }) => {
					Some(*grant)
				}
				_ => None,
			})?;
			// Fragments for an institution grant go to the institution's own key: any of its
			// current doctors reads with the member key the institution gave them.
			let shared = sharing::share(&keys, &key.keys, &client, &who, &sh)?;
			out(
				vec![format!(
					"grant {grant} to {} for {} day(s) in block #{}; {}",
					grantee_str(&grantee),
					terms.days,
					inc.number,
					shared.summary()
				)],
				json!({"grant": grant, "block": inc.number, "proxies": shared.delivered, "pending": pending_urls(&shared)}),
			)
		}
		ConsentCmd::Revoke { key, consortium, grant } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let inc = submit(
				&client,
				RuntimeCall::Consent(pallet_consent::Call::revoke { grant }),
				&keys.pair(),
				"revoking",
			)?;
			out(
				vec![format!(
					"grant {grant} revoked in block #{}; proxies refuse from the next block on",
					inc.number
				)],
				json!({"grant": grant, "block": inc.number}),
			)
		}
		ConsentCmd::List { key, consortium } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let grants: Vec<(u64, mbds_primitives::consent::Grant<AccountId>)> =
				client.call("ConsentApi_grants_of", keys.account())?;
			let pending: Vec<(u64, pallet_consent::AccessRequest<AccountId>)> =
				client.call("ConsentApi_pending_requests", keys.account())?;
			let policies = emergency::policies_of(&client, &keys.account())?;
			let mut text = vec![format!(
				"{} grant(s), {} pending request(s), {} standing polic(ies)",
				grants.len(),
				pending.len(),
				policies.len()
			)];
			for (id, p) in &policies {
				text.push(format!("  policy {id}: {}", emergency::policy_str(p)));
			}
			for (id, g) in &grants {
				text.push(format!(
					"  grant {id}: {} actions {:#05b} on {} until {}",
					grantee_str(&g.grantee),
					g.actions.0,
					scope_str(&g.scope),
					g.valid_until
				));
			}
			for (id, r) in &pending {
				text.push(format!(
					"  request {id}: {} asks actions {:#05b} for {:?} on {}",
					ss58(&r.requester),
					r.actions.0,
					r.purpose,
					scope_str(&r.scope)
				));
			}
			out(
				text,
				json!({
					"grants": grants.iter().map(|(id, g)| json!({"grant": id, "grantee": grantee_str(&g.grantee), "scope": scope_str(&g.scope), "valid_until": g.valid_until})).collect::<Vec<_>>(),
					"requests": pending.iter().map(|(id, r)| json!({"request": id, "requester": ss58(&r.requester), "purpose": format!("{:?}", r.purpose)})).collect::<Vec<_>>(),
					"policies": policies.iter().map(|(id, p)| json!({"policy": id, "rule": emergency::policy_str(p)})).collect::<Vec<_>>(),
				}),
			)
		}
		ConsentCmd::Approve { key, consortium, request, share: sh } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let pending: Vec<(u64, pallet_consent::AccessRequest<AccountId>)> =
				client.call("ConsentApi_pending_requests", keys.account())?;
			let (_, req) =
				pending.into_iter().find(|(id, _)| *id == request).ok_or_else(|| {
					format!("--request {request}: not among your pending requests (`mbds consent list`)")
				})?;
			let inc = submit(
				&client,
				RuntimeCall::Consent(pallet_consent::Call::approve_request { request }),
				&keys.pair(),
				"approving",
			)?;
			let grant = event_of(&inc, "approving", "RequestApproved", |e| match e {
				RuntimeEvent::Consent(pallet_consent::Event::RequestApproved { grant, .. }) => {
					Some(*grant)
				}
				_ => None,
			})?;
			let shared = sharing::share(&keys, &key.keys, &client, &req.requester, &sh)?;
			out(
				vec![format!(
					"request {request} approved in block #{}: grant {grant} to {}; {}",
					inc.number,
					ss58(&req.requester),
					shared.summary()
				)],
				json!({"request": request, "grant": grant, "block": inc.number, "proxies": shared.delivered, "pending": pending_urls(&shared)}),
			)
		}
		ConsentCmd::Deny { key, consortium, request } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			let inc = submit(
				&client,
				RuntimeCall::Consent(pallet_consent::Call::deny_request { request }),
				&keys.pair(),
				"denying",
			)?;
			out(
				vec![format!("request {request} denied in block #{}", inc.number)],
				json!({"request": request, "block": inc.number}),
			)
		}
		ConsentCmd::Share { key, consortium, to, share: sh } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let client = connect(&consortium.consortium, "consortium")?;
			if sh.proxies.is_empty() {
				return Err("give at least one --proxy URL".into());
			}
			let shared = sharing::share(&keys, &key.keys, &client, &account("--to", &to)?, &sh)?;
			out(
				vec![format!("{to}: {}", shared.summary())],
				json!({"proxies": shared.delivered, "pending": pending_urls(&shared)}),
			)
		}
	}
}

#[allow(clippy::too_many_arguments)]
fn record_get(
	keys: &Path,
	consortium_url: &str,
	patient: &str,
	record: &str,
	proxies: &[String],
	threshold: usize,
	stores: &[String],
	out_path: Option<&Path>,
	member_key: Option<&Path>,
) -> Result<Out, String> {
	let keys = ParticipantKeys::load(keys)?;
	let patient_id = account("--patient", patient)?;
	let hash = chain::parse_hash("--record", record)?;
	let consortium = connect(consortium_url, "consortium")?;
	let patient_pk = chain::record_key(&consortium, &patient_id)?;
	let store = open_stores(stores)?;
	let pb = spinner(format!("fetching record {record}"));
	let bytes = block_on(store.get(&mbds_storage::ContentAddress::from_bytes(hash.0)))?;
	pb.finish_and_clear();
	let bytes = bytes.map_err(|e| format!("record {record}: {e}"))?;
	let envelope =
		RecordEnvelope::from_bytes(&bytes).map_err(|e| format!("record {record}: {e}"))?;
	if envelope.header().owner != patient_pk {
		return Err(format!("record {record} is not sealed to {patient}"));
	}
	let (plain, via) = if keys.account() == patient_id {
		(envelope.open(&keys.record_key()).map_err(|e| format!("record {record}: {e}"))?, vec![])
	} else {
		if proxies.len() < threshold {
			return Err(format!(
				"{threshold} proxy fragments are needed but only {} --proxy given",
				proxies.len()
			));
		}
		// Fragments open with your own key, or (a grant to your institution's doctors) with
		// your institution's, if it gave you its member key.
		let mut openers = vec![(keys.ss58(), keys.record_key())];
		if let Some(path) = member_key {
			openers.push(load_member_key(&keys, &consortium, path)?);
		}
		let mut cfrags: Vec<Vec<VerifiedCapsuleFragment>> = vec![Vec::new(); openers.len()];
		let mut via = Vec::new();
		let mut accounts: Vec<String> = Vec::new();
		let mut refusals = Vec::new();
		// Ask as many proxies at once as fragments are still missing (each records the access
		// on chain, so no more than needed), in parallel; then the next ones for what failed.
		let mut next = 0;
		while next < proxies.len() {
			let have = cfrags.iter().map(Vec::len).max().unwrap_or(0);
			if have >= threshold {
				break;
			}
			let batch = &proxies[next..(next + threshold - have).min(proxies.len())];
			next += batch.len();
			let pb = spinner(format!(
				"asking {} proxies at once (each records the access on chain)",
				batch.len()
			));
			let answers: Vec<_> = std::thread::scope(|scope| {
				let asks: Vec<_> = batch
					.iter()
					.map(|url| {
						let (keys, envelope, openers, patient_id) =
							(&keys, &envelope, &openers, &patient_id);
						scope.spawn(move || {
							fragment_from(keys, url, patient, record, patient_id, envelope, openers)
						})
					})
					.collect();
				asks.into_iter()
					.map(|a| a.join().unwrap_or_else(|_| Err("the request panicked".into())))
					.collect()
			});
			pb.finish_and_clear();
			for (url, answer) in batch.iter().zip(answers) {
				match answer {
					// Two URLs of one health authority give one fragment, not two.
					Ok((_, _, proxy)) if accounts.contains(&proxy) => refusals.push(format!(
						"{url}: the same health authority ({proxy}) as another --proxy"
					)),
					Ok((i, c, proxy)) => {
						cfrags[i].push(c);
						via.push(url.clone());
						accounts.push(proxy);
					}
					Err(e) => refusals.push(format!("{url}: {e}")),
				}
			}
		}
		let Some(i) = cfrags.iter().position(|c| c.len() >= threshold) else {
			return Err(format!(
				"only {} of the {threshold} capsule fragments needed were obtained:\n  {}",
				cfrags.iter().map(Vec::len).max().unwrap_or(0),
				refusals.join("\n  ")
			));
		};
		(
			envelope
				.open_reencrypted(&openers[i].1, std::mem::take(&mut cfrags[i]))
				.map_err(|e| format!("record {record}: {e}"))?,
			via,
		)
	};
	let text = String::from_utf8(plain).map_err(|_| format!("record {record}: not UTF-8 text"))?;
	let keywords: Vec<String> = keywords_from_json(&text)
		.map(|k| k.iter().map(|k| k.to_string()).collect())
		.unwrap_or_default();
	let mut lines = vec![format!(
		"record {record} of {patient} decrypted ({} bytes{}), keywords: {}",
		text.len(),
		if via.is_empty() {
			String::new()
		} else {
			format!(", fragments from {} proxies", via.len())
		},
		keywords.join(", ")
	)];
	match out_path {
		Some(p) => {
			write_private(p, text.as_bytes()).map_err(|e| format!("--out {}: {e}", p.display()))?;
			lines.push(format!("written to {}", p.display()));
		}
		None => lines.push(text.clone()),
	}
	let fhir: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
	out(lines, json!({"record": record, "keywords": keywords, "proxies": via, "fhir": fhir}))
}

/// Writes decrypted data readable by its owner only (mode 0600).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
	use std::io::Write;
	let mut options = std::fs::OpenOptions::new();
	options.write(true).create(true).truncate(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::OpenOptionsExt;
		options.mode(0o600);
	}
	options.open(path)?.write_all(bytes)
}

/// One proxy's verified capsule fragment for `record`, and which of `openers` (grantee SS58,
/// PRE secret key) it opens with.
fn fragment_from(
	keys: &ParticipantKeys,
	url: &str,
	patient: &str,
	record: &str,
	patient_id: &AccountId,
	envelope: &RecordEnvelope,
	openers: &[(String, mbds_crypto::PreSecretKey)],
) -> Result<(usize, VerifiedCapsuleFragment, String), String> {
	let (pinned, url) = sharing::parse_proxy(url);
	let proxy = ProxyClient::new(url);
	let health = proxy.health().map_err(|e| e.to_string())?;
	if let Some(pinned) = pinned.filter(|p| *p != health.account) {
		return Err(format!("it says it is {}, not {pinned} as given", health.account));
	}
	let req_proxy = health.account.clone();
	let issued_at = api::now_ms();
	// The statement the consortium needs to record this access for us (and only for us).
	let statement = api::read_statement(
		&account("proxy account", &health.account)?,
		&account("patient", patient)?,
		chain::parse_hash("record", record)?,
		issued_at,
	);
	let req = ReencryptRequest {
		proxy: health.account,
		patient: patient.into(),
		record_hash: record.into(),
		issued_at,
		access_signature: api::sign_statement(&keys.pair(), &statement),
	};
	let resp: ReencryptResponse = proxy
		.post("/v1/reencrypt", &Signed::sign(&keys.pair(), &req))
		.map_err(|e| e.to_string())?;
	// The fragment's provenance: the patient's certificate of this proxy's fragment for us.
	let (signer, cert): (AccountId, KfragCertificate) =
		resp.certificate.open().map_err(|e| format!("the proxy's certificate: {e}"))?;
	if &signer != patient_id {
		return Err(format!(
			"the proxy's certificate is signed by {}, not by the patient",
			ss58(&signer)
		));
	}
	let opener = openers.iter().position(|(grantee, _)| *grantee == cert.grantee);
	let Some(opener) = opener.filter(|_| cert.proxy == req_proxy) else {
		return Err(format!(
			"the proxy's certificate is for grantee {} at proxy {}, not for you (or your institution, with --member-key) at this proxy",
			cert.grantee, cert.proxy
		));
	};
	let my_pk = openers[opener].1.public_key();
	let vk = hex::decode(cert.verifying_key.trim_start_matches("0x"))
		.map_err(|e| format!("the certificate's verifying key: {e}"))?;
	let vk = mbds_crypto::VerifyingKey::from_bytes(&vk)
		.map_err(|e| format!("the certificate's verifying key: {e}"))?;
	let cfrag =
		hex::decode(resp.cfrag.trim_start_matches("0x")).map_err(|e| format!("cfrag: {e}"))?;
	CapsuleFragment::from_bytes(&cfrag)
		.and_then(|c| c.verify(envelope, &vk, &my_pk))
		.map(|c| (opener, c, req_proxy))
		.map_err(|e| {
			format!("the proxy's capsule fragment is invalid (forged or for another record): {e}")
		})
}

/// The member key file an institution wrote for this doctor: (institution SS58, its PRE key),
/// checked against the institution's key on the consortium and this doctor's registered role.
fn load_member_key(
	keys: &ParticipantKeys,
	consortium: &Client,
	path: &Path,
) -> Result<(String, mbds_crypto::PreSecretKey), String> {
	let file: Value = std::fs::read(path)
		.map_err(|e| e.to_string())
		.and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
		.map_err(|e| format!("--member-key {}: {e}", path.display()))?;
	let field = |name: &str| {
		file[name].as_str().map(String::from).ok_or_else(|| {
			format!("--member-key {}: no `{name}` field; is it a member key file?", path.display())
		})
	};
	let institution = account("--member-key institution", &field("institution")?)?;
	if field("member")? != keys.ss58() {
		return Err(format!(
			"--member-key {}: made for {}, not for you",
			path.display(),
			field("member")?
		));
	}
	let sealed = mbds_client::bytes_of(&Value::String(field("sealed")?))
		.map_err(|e| format!("--member-key {}: field `sealed`: {e}", path.display()))?;
	let institution_pk = chain::record_key(consortium, &institution)?;
	let key =
		mbds_client::membership::open_member_key(&sealed, &keys.record_key(), &institution_pk)
			.map_err(|e| format!("--member-key {}: {e}", path.display()))?;
	Ok((ss58(&institution), key))
}

/// `mbds institution member-key`: seal the institution's record key to one of its doctors.
fn member_key_cmd(
	keys: &Path,
	consortium_url: &str,
	member: &str,
	out_path: &Path,
) -> Result<Out, String> {
	let keys = ParticipantKeys::load(keys)?;
	let member_id = account("--member", member)?;
	let consortium = connect(consortium_url, "consortium")?;
	let role = chain::participant(&consortium, &member_id)?.map(|p| p.role);
	if role != Some(Role::Doctor { institution: keys.account() }) {
		return Err(format!(
			"--member {member}: not registered as a doctor of {} on the consortium (role: {role:?})",
			keys.ss58()
		));
	}
	let member_pk = chain::record_key(&consortium, &member_id)?;
	let sealed = mbds_client::membership::seal_member_key(&keys.record_key(), &member_pk)?;
	let file = json!({
		"institution": keys.ss58(),
		"member": ss58(&member_id),
		"sealed": mbds_client::hex_of(&sealed),
	});
	write_private(out_path, file.to_string().as_bytes())
		.map_err(|e| format!("--out {}: {e}", out_path.display()))?;
	out(
		vec![format!(
			"member key of {} for doctor {} written to {} (give it to the doctor)",
			keys.ss58(),
			ss58(&member_id),
			out_path.display()
		)],
		json!({"institution": keys.ss58(), "member": ss58(&member_id), "file": out_path.display().to_string()}),
	)
}
