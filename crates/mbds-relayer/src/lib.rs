//! The relayer: carries the summary batches of private chains (hospital, platform) to the
//! consortium chain, with proof.
//!
//! For each private chain it repeats one [`Relayer::step`]:
//! 1. ask the consortium which batch the chain may anchor next and what its light client
//!    believes (`AnchorApi_light_client`): this is the only progress state, so a relayer killed
//!    at any point resumes exactly where the consortium is, and several relayers of one chain
//!    can run at once (the slower one's transaction fails with `BatchAlreadyAnchored` and
//!    changes nothing);
//! 2. if the batch is already in the state of the light client's best header, send it with a
//!    storage proof against that header (no justification needed);
//! 3. otherwise fetch a GRANDPA finality proof of a newer private block
//!    (`grandpa_proveFinality`, which for a past authority set yields the set's last block, the
//!    one that hands finality over); send the batch with that header and justification if the
//!    batch is in its state, or import the header alone if it hands over to a new authority set;
//! 4. wait until the consortium has taken it (or another relayer did).
//!
//! [`run`] logs through `tracing` under the target `mbds-relayer` and keeps the [`Metrics`]
//! (served by `mbds-relayer run --prometheus-port PORT`) up to date.

use bp_header_chain::justification::{
	verify_and_optimize_justification, JustificationVerificationContext,
};
use codec::Decode;
use mbds_client::{queries, sudo, Client, Error, FinalityRefusal, Result};
use mbds_runtime::{BlockNumber, ChainId, Header, Runtime, RuntimeCall};
use pallet_anchor::{JustificationOf, LightClientInfo};
use pallet_slips::{BatchId, BatchInfo, SummaryItemOf};
use sp_core::{sr25519, H256};
use sp_runtime::traits::Header as _;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

pub mod metrics;
pub use metrics::Metrics;

/// The `tracing` target of everything the relayer logs.
pub const LOG_TARGET: &str = "mbds-relayer";

/// How often [`run`] refreshes the lag gauges at least, when it keeps metrics.
pub const METRICS_REFRESH: Duration = Duration::from_secs(5);

/// Items fetched per runtime API call (the API's cap).
const PAGE: u32 = 256;

/// Finalised blocks searched back for a stored justification: more than the node's
/// justification period (8 blocks), so one is found whenever the chain is that far.
pub const SCAN_BACK: BlockNumber = 40;

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
	/// Batch `batch` (with `items` items) anchored, proven at private block `at`.
	Anchored { batch: BatchId, items: u32, at: BlockNumber },
	/// A header handing over to a new authority set imported.
	ImportedSetChange { at: BlockNumber },
	/// Nothing to do now: the next batch is not closed or not yet provably final.
	Idle,
}

/// What failed, as the `kind` label of `mbds_relayer_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
	/// The private chain's node did not answer (or answered nonsense).
	PrivateRpc,
	/// The consortium's node did not answer (or answered nonsense).
	ConsortiumRpc,
	/// The chain is not registered on the consortium (governance: `mbds-relayer register`).
	NotRegistered,
	/// A private chain's justification did not decode or verify against the consortium's set.
	Justification,
	/// The consortium's node refused a submission.
	Submit,
	/// A submission was not taken by the consortium in time.
	InclusionTimeout,
}

impl ErrorKind {
	pub const ALL: [ErrorKind; 6] = [
		ErrorKind::PrivateRpc,
		ErrorKind::ConsortiumRpc,
		ErrorKind::NotRegistered,
		ErrorKind::Justification,
		ErrorKind::Submit,
		ErrorKind::InclusionTimeout,
	];

	pub fn as_str(self) -> &'static str {
		match self {
			ErrorKind::PrivateRpc => "private_rpc",
			ErrorKind::ConsortiumRpc => "consortium_rpc",
			ErrorKind::NotRegistered => "not_registered",
			ErrorKind::Justification => "justification",
			ErrorKind::Submit => "submit",
			ErrorKind::InclusionTimeout => "inclusion_timeout",
		}
	}
}

/// An error of a relay round, with its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayError {
	pub kind: ErrorKind,
	pub message: String,
}

impl std::fmt::Display for RelayError {
	fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
		f.write_str(&self.message)
	}
}

impl From<RelayError> for String {
	fn from(e: RelayError) -> String {
		e.message
	}
}

/// A result whose error is classified.
pub type RelayResult<T> = std::result::Result<T, RelayError>;

trait Kind<T> {
	fn kind(self, kind: ErrorKind) -> RelayResult<T>;
}

impl<T> Kind<T> for Result<T> {
	fn kind(self, kind: ErrorKind) -> RelayResult<T> {
		self.map_err(|e| RelayError { kind, message: e.to_string() })
	}
}

/// How far a chain's anchoring is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
	pub chain_id: ChainId,
	/// Next batch the consortium accepts.
	pub next_to_anchor: BatchId,
	/// Batches closed on the private chain (at its finalised head).
	pub closed: BatchId,
	/// Best private block the consortium's light client knows as final.
	pub light_client_best: BlockNumber,
	/// Private chain's finalised block.
	pub private_finalized: BlockNumber,
}

impl Status {
	/// Closed batches not anchored yet.
	pub fn behind(&self) -> BatchId {
		self.closed.saturating_sub(self.next_to_anchor)
	}
}

impl std::fmt::Display for Status {
	fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
		write!(
			f,
			"chain {}: {} batches behind (next to anchor {}, closed {}; light client at block {}, private finalised {})",
			self.chain_id,
			self.behind(),
			self.next_to_anchor,
			self.closed,
			self.light_client_best,
			self.private_finalized
		)
	}
}

/// Who registers a private chain on the consortium.
pub enum Authority {
	/// The consortium's council: these members' keys (two thirds of its seats) propose, vote
	/// and close the motion.
	Council(Vec<sr25519::Pair>),
	/// Root, on a development consortium that has a sudo key.
	Sudo(sr25519::Pair),
}

/// Relays one private chain to the consortium.
pub struct Relayer {
	pub private: Client,
	pub consortium: Client,
	pub chain_id: ChainId,
	signer: sr25519::Pair,
	/// How long to wait for the consortium to include a submission.
	pub inclusion_timeout: Duration,
}

fn batch_key(batch: BatchId) -> Vec<u8> {
	pallet_slips::Batches::<Runtime>::hashed_key_for(batch)
}

impl Relayer {
	/// A relayer of the private chain at `private_url` to the consortium at `consortium_url`,
	/// signing with `signer` (any funded account: anchoring is open to every signed origin).
	pub fn new(private_url: &str, consortium_url: &str, signer: sr25519::Pair) -> Result<Relayer> {
		let private = Client::connect(private_url)?;
		let consortium = Client::connect(consortium_url)?;
		let chain_id = private
			.storage::<ChainId>(&pallet_chain_info::ChainIdentifier::<Runtime>::hashed_key())?
			.ok_or_else(|| {
				Error::invalid(
					private_url,
					format!("{private_url}: no chain id in ChainInfo storage"),
				)
			})?;
		Ok(Relayer {
			private,
			consortium,
			chain_id,
			signer,
			inclusion_timeout: Duration::from_secs(60),
		})
	}

	/// Governance: register this private chain on the consortium, trusting its current
	/// finalised header and GRANDPA authority set, by a council motion of the consortium (or
	/// root on a development consortium). Anchoring starts at batch 0.
	pub fn register(&self, by: &Authority) -> Result<()> {
		let head = self.private.finalized_head()?;
		let header = self.private.header(Some(head))?;
		let authorities = queries::grandpa::grandpa_authorities(&self.private, Some(head))?;
		let set_id = queries::grandpa::current_set_id(&self.private, Some(head))?;
		let call = RuntimeCall::Anchor(pallet_anchor::Call::register_chain {
			chain_id: self.chain_id,
			header: Box::new(header),
			authorities,
			set_id,
		});
		match by {
			Authority::Sudo(key) => {
				self.consortium.submit(sudo(call), key)?;
			}
			Authority::Council(members) => {
				mbds_client::council::motion(&self.consortium, call, members)?;
			}
		}
		self.consortium.wait(
			&format!("chain {} registered", self.chain_id),
			self.inclusion_timeout,
			|_| Ok(self.light_client()?.is_some()),
		)
	}

	/// The consortium's light client of this chain, if registered.
	pub fn light_client(&self) -> Result<Option<LightClientInfo<BlockNumber>>> {
		queries::anchor::light_client(&self.consortium, self.chain_id, None)
	}

	/// Where anchoring of this chain stands.
	pub fn status(&self) -> std::result::Result<Status, String> {
		Ok(self.try_status()?)
	}

	/// [`Self::status`], with the kind of error.
	pub fn try_status(&self) -> RelayResult<Status> {
		let lc = self.registered()?;
		let private = || -> Result<Status> {
			let head = self.private.finalized_head()?;
			let closed = queries::slips::next_batch_id(&self.private, Some(head))?;
			// `next_batch_id` counts the open batch too once one is open.
			let open = self.private.storage_at::<pallet_slips::OpenBatch<BlockNumber>>(
				&pallet_slips::CurrentBatch::<Runtime>::hashed_key(),
				Some(head),
			)?;
			let closed = if open.is_some() { closed.saturating_sub(1) } else { closed };
			Ok(Status {
				chain_id: self.chain_id,
				next_to_anchor: lc.next_batch,
				closed,
				light_client_best: lc.best_finalized.number,
				private_finalized: *self.private.header(Some(head))?.number(),
			})
		};
		private().kind(ErrorKind::PrivateRpc)
	}

	fn registered(&self) -> RelayResult<LightClientInfo<BlockNumber>> {
		self.light_client().kind(ErrorKind::ConsortiumRpc)?.ok_or_else(|| RelayError {
			kind: ErrorKind::NotRegistered,
			message: format!(
				"chain {} is not registered on the consortium (governance: `mbds-relayer register`)",
				self.chain_id
			),
		})
	}

	/// The record of batch `batch` in the state of private block `at`, if it is closed there.
	fn batch_at(&self, batch: BatchId, at: H256) -> Result<Option<BatchInfo<BlockNumber>>> {
		self.private.storage_at(&batch_key(batch), Some(at))
	}

	/// Every item of batch `batch` in leaf order, read at private block `at`.
	fn items_at(
		&self,
		batch: BatchId,
		count: u32,
		at: H256,
	) -> Result<Vec<SummaryItemOf<Runtime>>> {
		let mut items = Vec::with_capacity(count as usize);
		while (items.len() as u32) < count {
			let page = queries::slips::batch_with_proofs(
				&self.private,
				batch,
				items.len() as u32,
				PAGE,
				Some(at),
			)?;
			let page = page
				.ok_or_else(|| Error::Verification(format!("batch {batch} vanished at {at:?}")))?;
			if page.items.is_empty() {
				return Err(Error::Verification(format!(
					"batch {batch}: {} of {count} items readable",
					items.len()
				)));
			}
			items.extend(page.items.into_iter().map(|i| i.item));
		}
		Ok(items)
	}

	/// Submit `call` and wait until the light client moved past `lc` (by anyone).
	fn submit_and_wait(
		&self,
		call: RuntimeCall,
		lc: &LightClientInfo<BlockNumber>,
	) -> RelayResult<()> {
		let tx = self.consortium.submit(call, &self.signer).kind(ErrorKind::Submit)?;
		debug!(target: LOG_TARGET, "chain {}: submitted {tx:?}", self.chain_id);
		let (batch, best) = (lc.next_batch, lc.best_finalized.number);
		self.consortium
			.wait(
				&format!("chain {} past batch {batch} / block {best}", self.chain_id),
				self.inclusion_timeout,
				|_| {
					let now = self.registered().map_err(|e| {
						Error::invalid(format!("chain {}", self.chain_id), e.message)
					})?;
					Ok(now.next_batch > batch || now.best_finalized.number > best)
				},
			)
			.kind(ErrorKind::InclusionTimeout)
	}

	fn anchor(
		&self,
		lc: &LightClientInfo<BlockNumber>,
		header: Header,
		justification: Option<JustificationOf<Runtime>>,
		info: BatchInfo<BlockNumber>,
	) -> RelayResult<Step> {
		let at = header.hash();
		let batch = lc.next_batch;
		let items = self.items_at(batch, info.item_count, at).kind(ErrorKind::PrivateRpc)?;
		let storage_proof =
			self.private.read_proof(&[batch_key(batch)], at).kind(ErrorKind::PrivateRpc)?;
		let number = *header.number();
		debug!(
			target: LOG_TARGET,
			"chain {}: submitting batch {batch} ({} items) proven at private block {number}{}",
			self.chain_id,
			info.item_count,
			if justification.is_some() { " with its justification" } else { "" }
		);
		let call = RuntimeCall::Anchor(pallet_anchor::Call::submit_summary {
			chain_id: self.chain_id,
			header: Box::new(header),
			justification,
			batch_id: batch,
			items,
			storage_proof,
		});
		self.submit_and_wait(call, lc)?;
		Ok(Step::Anchored { batch, items: info.item_count, at: number })
	}

	/// A justified private block after `after`: from `grandpa_proveFinality` (which yields the
	/// last block of a past authority set first, so hand-offs are never skipped), or, when the
	/// node has no record of set changes (a chain still on its genesis set, where that RPC
	/// refuses), the newest block with a stored justification among the last
	/// [`SCAN_BACK`] finalised ones.
	fn newer_justified(&self, after: BlockNumber) -> Result<Option<(Header, Vec<u8>)>> {
		match self.private.prove_finality(after + 1) {
			Ok(Some(proof)) => {
				let header = self.private.header(Some(proof.block))?;
				return Ok((*header.number() > after).then_some((header, proof.justification)));
			}
			Ok(None) => return Ok(None),
			Err(Error::NoFinalityProof {
				reason: FinalityRefusal::NotCoveredBySetChanges, ..
			}) => {}
			Err(Error::NoFinalityProof { reason: FinalityRefusal::NotYetFinalized, .. }) => {
				return Ok(None)
			}
			Err(e) => return Err(e),
		}
		let head = self.private.header(Some(self.private.finalized_head()?))?;
		let mut number = *head.number();
		let lowest = number.saturating_sub(SCAN_BACK).max(after + 1);
		while number >= lowest && number > after {
			let Some(hash) = self.private.block_hash(number)? else { break };
			if let Some(justification) = self.private.grandpa_justification(hash)? {
				return Ok(Some((self.private.header(Some(hash))?, justification)));
			}
			number -= 1;
		}
		Ok(None)
	}

	/// One round: anchor the next batch or import a hand-off header if possible.
	pub fn step(&self) -> std::result::Result<Step, String> {
		Ok(self.try_step()?)
	}

	/// [`Self::step`], with the kind of error.
	pub fn try_step(&self) -> RelayResult<Step> {
		let lc = self.registered()?;
		let batch = lc.next_batch;

		// Already provable against the best imported header? (Its state may be pruned on the
		// private node if it is old: then go on with a newer header.)
		if let Ok(Some(info)) = self.batch_at(batch, lc.best_finalized.hash) {
			let header =
				self.private.header(Some(lc.best_finalized.hash)).kind(ErrorKind::PrivateRpc)?;
			return self.anchor(&lc, header, None, info);
		}

		// A newer finalised private block, with its justification.
		let Some((header, justification)) =
			self.newer_justified(lc.best_finalized.number).kind(ErrorKind::PrivateRpc)?
		else {
			return Ok(Step::Idle);
		};
		let block = header.hash();
		let justification_error =
			|message: String| RelayError { kind: ErrorKind::Justification, message };
		let mut justification = JustificationOf::<Runtime>::decode(&mut &justification[..])
			.map_err(|e| {
				justification_error(format!(
					"chain {}: undecodable justification: {e}",
					self.chain_id
				))
			})?;
		// A node's justification carries every precommit it saw; the consortium's verifier (the
		// bridges' strict one) accepts only what the 2/3 threshold needs: drop the rest here,
		// checking the signatures against the set the consortium trusts on the way.
		let context = JustificationVerificationContext::try_from(
			bp_header_chain::AuthoritySet::new(lc.authorities.clone(), lc.set_id),
		)
		.map_err(|e| {
			justification_error(format!("chain {}: unusable authority set: {e:?}", self.chain_id))
		})?;
		verify_and_optimize_justification::<Header>(
			(header.hash(), *header.number()),
			&context,
			&mut justification,
		)
		.map_err(|e| {
			justification_error(format!(
				"chain {}: justification of block {} does not verify against set {}: {e:?}",
				self.chain_id,
				header.number(),
				lc.set_id
			))
		})?;

		if let Some(info) = self.batch_at(batch, block).kind(ErrorKind::PrivateRpc)? {
			return self.anchor(&lc, header, Some(justification), info);
		}
		let hands_over =
			bp_header_chain::GrandpaConsensusLogReader::<BlockNumber>::find_scheduled_change(
				header.digest(),
			)
			.is_some();
		if hands_over {
			let at = *header.number();
			debug!(
				target: LOG_TARGET,
				"chain {}: submitting the authority-set hand-off at private block {at}",
				self.chain_id
			);
			let call = RuntimeCall::Anchor(pallet_anchor::Call::import_header {
				chain_id: self.chain_id,
				header: Box::new(header),
				justification,
			});
			self.submit_and_wait(call, &lc)?;
			return Ok(Step::ImportedSetChange { at });
		}
		Ok(Step::Idle)
	}
}

/// How [`run`] runs.
#[derive(Clone)]
pub struct RunOptions {
	/// Wait between idle rounds.
	pub poll: Duration,
	/// Log each chain's status this often.
	pub report: Duration,
	/// Metrics to keep up to date; with them, the status (lag) of each chain is refreshed at
	/// least every [`METRICS_REFRESH`].
	pub metrics: Option<Metrics>,
}

/// Run `relayers` until `stop()` says so: a step per chain every `poll` while idle, at once
/// after progress; one line per anchored batch, a status line per chain every `report`.
/// Errors are logged and retried (a node may be restarting); they never skip a batch.
pub fn run(relayers: &[Relayer], options: &RunOptions, stop: impl Fn() -> bool) {
	let RunOptions { poll, report, ref metrics } = *options;
	let refresh = if metrics.is_some() { report.min(METRICS_REFRESH) } else { report };
	if let Some(m) = metrics {
		for r in relayers {
			m.add_chain(r.chain_id);
		}
	}
	let mut last_report: Option<Instant> = None;
	let mut last_refresh: Option<Instant> = None;
	while !stop() {
		let mut progressed = false;
		for r in relayers {
			let step = r.try_step();
			if let Some(m) = metrics {
				match &step {
					Ok(step) => m.on_step(r.chain_id, step),
					Err(e) => m.on_error(r.chain_id, e.kind),
				}
			}
			match step {
				Ok(Step::Anchored { batch, items, at }) => {
					progressed = true;
					info!(
						target: LOG_TARGET,
						"chain {}: batch {batch} anchored ({items} items, proven at private block {at})",
						r.chain_id
					);
				}
				Ok(Step::ImportedSetChange { at }) => {
					progressed = true;
					info!(
						target: LOG_TARGET,
						"chain {}: authority-set hand-off at private block {at} imported",
						r.chain_id
					);
				}
				Ok(Step::Idle) => {}
				Err(e) => warn!(
					target: LOG_TARGET,
					kind = e.kind.as_str(),
					"chain {}: {e} (retrying)",
					r.chain_id
				),
			}
		}
		if last_refresh.is_none_or(|t| t.elapsed() >= refresh) {
			let print = last_report.is_none_or(|t| t.elapsed() >= report);
			last_refresh = Some(Instant::now());
			if print {
				last_report = last_refresh;
			}
			for r in relayers {
				match r.try_status() {
					Ok(s) => {
						if let Some(m) = metrics {
							m.on_status(&s);
						}
						if print {
							info!(target: LOG_TARGET, "{s}");
						} else {
							debug!(target: LOG_TARGET, "{s}");
						}
					}
					Err(e) => {
						if let Some(m) = metrics {
							m.on_error(r.chain_id, e.kind);
						}
						warn!(target: LOG_TARGET, "chain {}: status unavailable: {e}", r.chain_id);
					}
				}
			}
		}
		if !progressed {
			std::thread::sleep(poll);
		}
	}
}
