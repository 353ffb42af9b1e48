//! Council motions (`pallet-collective`, instance `Council`): what a chain's council does
//! instead of a sudo key (registering a private chain on the consortium, naming a chain's
//! institution, setting the session period, authorising a runtime upgrade).
//!
//! [`motion`] proposes `call` with the first member's key, has every member (the proposer
//! too: proposing is not a vote) vote aye, and closes it: the call then runs with the origin `Council::Members(ayes, seats)`, which
//! the runtime's privileged calls accept from two thirds of the seats. The same steps can be
//! taken from polkadot.js apps (Governance > Council > Motions).

use crate::{describe_dispatch_error, Client, Error, Inclusion, Result};
use codec::Encode;
use frame_support::dispatch::GetDispatchInfo;
use mbds_runtime::{RuntimeCall, RuntimeEvent};
use sp_core::{sr25519, Pair, H256};
use sp_runtime::traits::{BlakeTwo256, Hash as _};
use std::time::Duration;

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
	let proposer =
		members.first().ok_or_else(|| Error::invalid("council", "no member key given"))?;
	let what = format!("{:?}", call).chars().take(80).collect::<String>();
	let length = call.encoded_size() as u32;
	let weight = call.get_dispatch_info().call_weight;
	let hash = BlakeTwo256::hash_of(&call);
	let threshold = members.len() as u32;
	let proposed = client
		.submit_and_wait(
			RuntimeCall::Council(pallet_collective::Call::propose {
				threshold,
				proposal: Box::new(call),
				length_bound: length,
			}),
			proposer,
			STEP_TIMEOUT,
		)
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
	for voter in members {
		client
			.submit_and_wait(
				RuntimeCall::Council(pallet_collective::Call::vote {
					proposal: hash,
					index,
					approve: true,
				}),
				voter,
				STEP_TIMEOUT,
			)
			.map_err(|e| {
				e.context(format!(
					"council member {} voting for motion #{index} ({what})",
					sp_core::crypto::Ss58Codec::to_ss58check(&voter.public())
				))
			})?;
	}
	let executed = client
		.submit_and_wait(
			RuntimeCall::Council(pallet_collective::Call::close {
				proposal_hash: hash,
				index,
				proposal_weight_bound: weight,
				length_bound: length,
			}),
			proposer,
			STEP_TIMEOUT,
		)
		.map_err(|e| e.context(format!("closing council motion #{index} ({what})")))?;
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
						"motion #{index} ({what}) was disapproved with {threshold} aye(s): too few members voted for it"
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
	Ok(Motion { hash, index, ayes: threshold, executed })
}

/// Secret URIs of council members (`--council //Alice --council //Bob ...`) as key pairs.
pub fn member_keys(suris: &[String]) -> Result<Vec<sr25519::Pair>> {
	suris.iter().map(|s| crate::keys::secret_uri("council", s)).collect()
}
