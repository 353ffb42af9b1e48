//! Council motions (`pallet-collective`, instance `Council`): what a chain's council does
//! instead of a sudo key (registering a private chain on the consortium, naming a chain's
//! institution, setting the session period, authorising a runtime upgrade).
//!
//! [`motion`] proposes `call` with the first member's key, has every member (the proposer
//! too: proposing is not a vote) vote aye, and closes it ([`motions`] does several at once in
//! the same three rounds): the call then runs with the origin `Council::Members(ayes, seats)`, which
//! the runtime's privileged calls accept from two thirds of the seats. The same steps can be
//! taken from polkadot.js apps (Governance > Council > Motions).

use crate::{describe_dispatch_error, Client, Error, Inclusion, Result};
use codec::Encode;
use frame_support::{dispatch::GetDispatchInfo, weights::Weight};
use mbds_runtime::{RuntimeCall, RuntimeEvent};
use sp_core::{sr25519, Pair, H256};
use sp_runtime::traits::{BlakeTwo256, Hash as _};
use std::time::Duration;

/// Most motions [`motions`] opens at once: half the council's 32 proposal slots
/// (`MaxProposals`), so others can still propose meanwhile.
pub const MAX_MOTIONS_AT_ONCE: usize = 16;

/// How long each step of a motion may take to be included.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// What a motion did.
#[derive(Debug)]
pub struct Motion {
	/// The proposal's hash and index.
	pub hash: H256,
	/// Its index among the council's motions.
	pub index: u32,
	/// Ayes it closed with.
	pub ayes: u32,
	/// The events of the block that executed it (the `Executed` one, and what the call
	/// emitted).
	pub executed: Inclusion,
}

/// Proposes `call` to the council of the chain behind `client` with `members[0]` (threshold:
/// every key given), votes aye with every key of `members`, and closes it. Needs as many members as the runtime
/// asks for the call (two thirds of the seats for every privileged MBDS call). `Err` names the
/// step that failed; if the motion ran and the call failed, the call's own error.
pub fn motion(client: &Client, call: RuntimeCall, members: &[sr25519::Pair]) -> Result<Motion> {
	let mut done = motions(client, vec![call], members)?;
	done.pop().ok_or_else(|| Error::invalid("council", "no motion was made"))
}

/// The weight of `call` as the chain's runtime declares it (`TransactionPaymentCallApi`): the
/// bound a motion closes with. This client's own runtime's figure only if the chain does not
/// answer: a chain may run a later runtime with the same call encoding, whose weights differ
/// (a bound below the chain's figure fails the close with `WrongProposalWeight`).
fn proposal_weight(client: &Client, call: &RuntimeCall, length: u32) -> Weight {
	type Info = (Weight, frame_support::dispatch::DispatchClass, u128);
	client
		.call::<Info>("TransactionPaymentCallApi_query_call_info", (call, length))
		.map(|(weight, _, _)| weight)
		.unwrap_or_else(|_| call.get_dispatch_info().call_weight)
}

/// [`motion`] for several calls at once, each its own motion, in three rounds whatever their
/// number: every proposal is sent, then every member's votes on all of them, then every
/// close, each round waiting for its transactions' inclusion (one or two blocks) instead of
/// one transaction at a time. At most [`MAX_MOTIONS_AT_ONCE`] calls: the council has 32
/// proposal slots for everyone. The motions are independent: one failing call fails the
/// whole (its error is returned) but the others may have executed, and a failure before the
/// closes leaves motions open (they close as disapproved after the motion time, or earlier
/// by the members' nays).
pub fn motions(
	client: &Client,
	calls: Vec<RuntimeCall>,
	members: &[sr25519::Pair],
) -> Result<Vec<Motion>> {
	let proposer =
		members.first().ok_or_else(|| Error::invalid("council", "no member key given"))?;
	if calls.len() > MAX_MOTIONS_AT_ONCE {
		return Err(Error::invalid(
			"council",
			format!(
				"{} motions at once: at most {MAX_MOTIONS_AT_ONCE} (the council has 32 proposal slots for all its members)",
				calls.len()
			),
		));
	}
	let threshold = members.len() as u32;
	struct Open {
		what: String,
		length: u32,
		weight: frame_support::weights::Weight,
		hash: H256,
		index: u32,
	}

	// Round 1: every proposal.
	let mut sent = Vec::with_capacity(calls.len());
	for call in calls {
		let what = format!("{:?}", call).chars().take(80).collect::<String>();
		let length = call.encoded_size() as u32;
		let weight = proposal_weight(client, &call, length);
		let hash = BlakeTwo256::hash_of(&call);
		let propose = RuntimeCall::Council(pallet_collective::Call::propose {
			threshold,
			proposal: Box::new(call),
			length_bound: length,
		});
		let tx = client
			.submit_tracked(propose.clone(), proposer)
			.map_err(|e| e.context(format!("proposing {what} to the council")))?;
		sent.push((tx, propose, what, length, weight, hash));
	}
	let mut open = Vec::with_capacity(sent.len());
	for (tx, propose, what, length, weight, hash) in sent {
		let proposed = client
			.wait_resending(tx, propose, proposer, STEP_TIMEOUT)
			.map_err(|e| e.context(format!("proposing {what} to the council")))?;
		let index = proposed
			.events
			.iter()
			.find_map(|e| match e {
				RuntimeEvent::Council(pallet_collective::Event::Proposed {
					proposal_index,
					proposal_hash,
					..
				}) if *proposal_hash == hash => Some(*proposal_index),
				_ => None,
			})
			.ok_or_else(|| {
				Error::invalid("council", format!("proposing {what}: no `Proposed` event"))
			})?;
		open.push(Open { what, length, weight, hash, index });
	}

	// Round 2: every member's aye on every motion (the proposer's too: proposing is not a
	// vote).
	let mut votes = Vec::with_capacity(open.len() * members.len());
	for voter in members {
		for m in &open {
			let vote = RuntimeCall::Council(pallet_collective::Call::vote {
				proposal: m.hash,
				index: m.index,
				approve: true,
			});
			let tx = client.submit_tracked(vote.clone(), voter);
			votes.push((voter, m, tx, vote));
		}
	}
	for (voter, m, tx, vote) in votes {
		tx.and_then(|tx| client.wait_resending(tx, vote, voter, STEP_TIMEOUT)).map_err(|e| {
			e.context(format!(
				"council member {} voting for motion #{} ({})",
				sp_core::crypto::Ss58Codec::to_ss58check(&voter.public()),
				m.index,
				m.what
			))
		})?;
	}

	// Round 3: close every motion; it executes its call.
	let mut closes = Vec::with_capacity(open.len());
	for m in &open {
		let close = RuntimeCall::Council(pallet_collective::Call::close {
			proposal_hash: m.hash,
			index: m.index,
			proposal_weight_bound: m.weight,
			length_bound: m.length,
		});
		let tx = client.submit_tracked(close.clone(), proposer);
		closes.push((m, tx, close));
	}
	let mut done = Vec::with_capacity(open.len());
	for (m, tx, close) in closes {
		let executed =
			tx.and_then(|tx| client.wait_resending(tx, close, proposer, STEP_TIMEOUT)).map_err(
				|e| e.context(format!("closing council motion #{} ({})", m.index, m.what)),
			)?;
		check_executed(&executed, m.index, &m.what, threshold)?;
		done.push(Motion { hash: m.hash, index: m.index, ayes: threshold, executed });
	}
	Ok(done)
}

/// `Ok` if the block that closed motion `index` executed its call successfully; else the
/// call's own error, or why it did not run.
fn check_executed(executed: &Inclusion, index: u32, what: &str, ayes: u32) -> Result<()> {
	for event in &executed.events {
		match event {
			RuntimeEvent::Council(pallet_collective::Event::Executed {
				result: Err(e), ..
			}) => {
				return Err(Error::Chain {
					call: format!("council motion #{index} ({what})"),
					block: executed.number,
					error: describe_dispatch_error(e),
					dispatch: *e,
				});
			}
			RuntimeEvent::Council(pallet_collective::Event::Disapproved { .. }) => {
				return Err(Error::invalid(
					"council",
					format!(
						"motion #{index} ({what}) was disapproved with {ayes} aye(s): too few members voted for it"
					),
				));
			}
			_ => {}
		}
	}
	if !executed.events.iter().any(|e| {
		matches!(
			e,
			RuntimeEvent::Council(pallet_collective::Event::Executed { result: Ok(()), .. })
		)
	}) {
		return Err(Error::invalid(
			"council",
			format!("closing motion #{index} ({what}) did not execute it"),
		));
	}
	Ok(())
}

/// What [`upgrade`] did.
#[derive(Debug)]
pub struct Upgrade {
	/// The motion that authorised the code's hash.
	pub authorised: Motion,
	/// The block whose state holds the new code (`system.CodeUpdated`); the new runtime runs
	/// from the next block on.
	pub enacted_at: u32,
	/// The chain's `spec_version` before and after.
	pub from_spec: u32,
	pub to_spec: u32,
}

/// Upgrades the runtime of the chain behind `client` to `code` (a wasm blob, compressed or
/// not) the way a council does it: a motion of `members` authorises the code's hash
/// (`governance.authorize_upgrade`), then the code is submitted without a signer
/// (`system.apply_authorized_upgrade`, which the chain accepts only for the authorised hash and
/// a higher `spec_version` of the same runtime). Returns once the node runs the new version.
pub fn upgrade(
	client: &Client,
	code: Vec<u8>,
	members: &[sr25519::Pair],
	timeout: Duration,
) -> Result<Upgrade> {
	let (_, from_spec, _) = client.runtime_version()?;
	let hash = BlakeTwo256::hash(&code);
	let authorised = motion(
		client,
		RuntimeCall::Governance(pallet_governance::Call::authorize_upgrade { code_hash: hash }),
		members,
	)?;
	let from = client.best_number()?;
	// Anyone may apply an authorised upgrade: if someone else's copy is already in the pool
	// (or enacted), the node refuses this one, and the wait below still sees the upgrade.
	let applied = client
		.submit_unsigned(RuntimeCall::System(frame_system::Call::apply_authorized_upgrade { code }))
		.err();
	let mut enacted_at = None;
	let mut scanned = from;
	let waited = client.wait(&format!("runtime upgrade {hash:?} enacted"), timeout, |c| {
		if enacted_at.is_none() {
			let best = c.best_number()?;
			for number in scanned..=best {
				let Some(block) = c.block_hash(number)? else { continue };
				if c.events_at(block)?.iter().any(|r| {
					matches!(r.event, RuntimeEvent::System(frame_system::Event::CodeUpdated { .. }))
				}) {
					enacted_at = Some(number);
					break;
				}
				scanned = number;
			}
		}
		Ok(enacted_at.is_some() && c.runtime_version()?.1 > from_spec)
	});
	if let Err(e) = waited {
		return Err(match applied {
			Some(refused) => refused.context(format!("applying the runtime upgrade {hash:?}")),
			None => e,
		});
	}
	let (_, to_spec, _) = client.runtime_version()?;
	let enacted_at = enacted_at.unwrap_or_default();
	Ok(Upgrade { authorised, enacted_at, from_spec, to_spec })
}

/// Secret URIs of council members (`--council //Alice --council //Bob ...`) as key pairs.
pub fn member_keys(suris: &[String]) -> Result<Vec<sr25519::Pair>> {
	suris.iter().map(|s| crate::keys::secret_uri("council", s)).collect()
}
