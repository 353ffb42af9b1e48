//! The consortium's credit-scored election on real processes: five institutions' nodes run
//! `consortium-local` (3 representative nodes author, 1 audit node votes, Eve waits as a
//! stand-by). Governance re-grades Eve; at the next session boundaries she is elected, Aura
//! gives her slots, her node authors blocks (her credit grows with each), the lowest-ranked
//! institution leaves, and GRANDPA keeps finalising across the change. Then a representative
//! node stops: its missed Aura slots cost it credit until the next election replaces it by the
//! stand-by, with no operator acting, and finality never stops.

use mbds_runtime::{genesis_config_presets::CONSORTIUM_LOCAL, BlockNumber, Runtime, RuntimeCall};
use mbds_tests::{client::Client, Network};
use pallet_credit::{CreditDimensions, Institution};
use sp_keyring::Sr25519Keyring as Keyring;
use std::time::Duration;

/// Blocks per session in this test (3 s blocks: 30 s sessions).
const SESSION: BlockNumber = 10;

/// The public session key (Aura sr25519 or GRANDPA ed25519) of dev validator `k` on the
/// consortium (chain 1), as the preset seats it and `mbds-node --<name>` derives it.
fn session_key<P: sp_core::Pair>(k: Keyring) -> [u8; 32]
where
	P::Public: AsRef<[u8]>,
{
	let uri = mbds_primitives::chain_session_seed(k.to_seed().as_bytes(), 1);
	let pair = P::from_string(std::str::from_utf8(&uri).unwrap(), None).unwrap();
	pair.public().as_ref().try_into().unwrap()
}

fn aura_authors(c: &Client) -> mbds_client::Result<Vec<[u8; 32]>> {
	c.call("AuraApi_authorities", ())
}

fn grandpa_voters(c: &Client) -> mbds_client::Result<Vec<([u8; 32], u64)>> {
	Ok(mbds_client::queries::grandpa::grandpa_authorities(c, None)?
		.into_iter()
		.map(|(id, weight)| (id.into_inner().0, weight))
		.collect())
}

fn institution(c: &Client, who: Keyring) -> mbds_client::Result<Institution> {
	let key = pallet_credit::Institutions::<Runtime>::hashed_key_for(who.to_account_id());
	c.storage::<Institution>(&key)?.ok_or_else(|| {
		mbds_client::Error::invalid("institution", format!("{who:?} is not registered"))
	})
}

#[test]
fn a_credit_change_elects_a_new_author_at_a_session_boundary_and_finality_continues() {
	let mut net = Network::start(CONSORTIUM_LOCAL, 5);
	net.wait_finalized(1, Duration::from_secs(180)).unwrap_or_else(|e| panic!("{e}"));
	let eve = &net.nodes[4];
	let chain = net.nodes[0].client();

	// Genesis election: Alice, Bob, Charlie author; Dave audits (votes); Eve is a stand-by.
	// Their session keys are the consortium's own (`//Alice//mbds-chain-1`, ...), derived by
	// each node from its dev seed (hole 4: no chain shares validator keys with another).
	let sr = |k: Keyring| session_key::<sp_core::sr25519::Pair>(k);
	let ed = |k: Keyring| session_key::<sp_core::ed25519::Pair>(k);
	assert_ne!(sr(Keyring::Alice), Keyring::Alice.public().0, "keys are chain-specific");
	assert_eq!(
		aura_authors(&chain).unwrap(),
		vec![sr(Keyring::Alice), sr(Keyring::Bob), sr(Keyring::Charlie)]
	);
	let voters: Vec<[u8; 32]> = grandpa_voters(&chain).unwrap().into_iter().map(|v| v.0).collect();
	assert!(voters.contains(&ed(Keyring::Dave)), "the audit node votes");
	assert!(!voters.contains(&ed(Keyring::Eve)), "the stand-by does not vote");
	assert_eq!(institution(&chain, Keyring::Eve).unwrap().performance, 0);

	// The council (4 of its 5 member institutions) shortens sessions with the typed call and
	// re-grades Eve above everyone, each by a motion.
	let council = [Keyring::Alice, Keyring::Bob, Keyring::Charlie, Keyring::Dave].map(|k| k.pair());
	mbds_client::council::motion(
		&chain,
		RuntimeCall::Governance(pallet_governance::Call::set_session_period { blocks: SESSION }),
		&council,
	)
	.unwrap();
	mbds_client::council::motion(
		&chain,
		RuntimeCall::Credit(pallet_credit::Call::update_dimensions {
			who: Keyring::Eve.to_account_id(),
			dimensions: CreditDimensions {
				grade: 100,
				deployment_scale: 100,
				enterprise_strength: 100,
			},
		}),
		&council,
	)
	.unwrap();
	chain
		.wait("Eve re-graded", Duration::from_secs(60), |c| {
			Ok(institution(c, Keyring::Eve)?.dimensions.grade == 100)
		})
		.unwrap();
	let changed_at = net.nodes[0].best_number().unwrap();

	// Elected at the next session, in office one session later: Aura gives her slots; Dave,
	// now ranked last of five, leaves the voters.
	chain
		.wait("Eve among the Aura authors", Duration::from_secs(240), |c| {
			Ok(aura_authors(c)?.contains(&sr(Keyring::Eve)))
		})
		.unwrap();
	let in_office_at = net.nodes[0].best_number().unwrap();
	assert!(
		in_office_at <= changed_at + 3 * SESSION + 2,
		"took {} blocks from the credit change to the author set",
		in_office_at - changed_at
	);
	let voters: Vec<[u8; 32]> = grandpa_voters(&chain).unwrap().into_iter().map(|v| v.0).collect();
	assert!(voters.contains(&ed(Keyring::Eve)), "the new RPN votes");
	assert!(!voters.contains(&ed(Keyring::Dave)), "the lowest-ranked left the voters");
	assert_eq!(voters.len(), 4);

	// Her node authors: each block she authors adds credit on chain, and her log shows it.
	chain
		.wait("a block authored by Eve", Duration::from_secs(120), |c| {
			Ok(institution(c, Keyring::Eve)?.performance > 0)
		})
		.unwrap();
	// The block that first credited her was one her node proposed: its log names it. (The
	// node's log is written a moment after the block is out, so it is read until the line is
	// there; a single read raced it once.)
	let key = pallet_credit::Institutions::<Runtime>::hashed_key_for(Keyring::Eve.to_account_id());
	let performance_at = |n: u32| -> i64 {
		let hash = chain.block_hash(n).unwrap().expect("block on the best chain");
		chain
			.storage_at::<Institution>(&key, Some(hash))
			.unwrap()
			.map_or(0, |i| i64::from(i.performance))
	};
	let best = chain.header(None).unwrap().number;
	let credited_at =
		(changed_at..=best).find(|n| performance_at(*n) > 0).expect("a block credited Eve");
	let line = format!("Prepared block for proposing at {credited_at} ");
	let deadline = std::time::Instant::now() + Duration::from_secs(30);
	while !std::fs::read_to_string(&eve.log_path).unwrap().contains(&line) {
		assert!(
			std::time::Instant::now() < deadline,
			"block #{credited_at} credited Eve, but her node's log does not say it proposed it:\n{}",
			eve.log_tail(30)
		);
		std::thread::sleep(Duration::from_millis(250));
	}

	// Finality continues across the change, on every node.
	let target = net.nodes[0].best_number().unwrap() + 3;
	net.wait_finalized(target, Duration::from_secs(180)).unwrap_or_else(|e| panic!("{e}"));

	// A representative node goes silent: Bob's node stops. Each of his Aura slots that passes
	// without his block costs him credit on chain; once under the stand-by's (Dave, now ranked
	// fifth), the next election replaces him, with nobody acting. Finality never stops: 3 of
	// the 4 voters are still online.
	let rpn = |c: &Client| -> mbds_client::Result<Vec<[u8; 32]>> { aura_authors(c) };
	assert!(rpn(&chain).unwrap().contains(&sr(Keyring::Bob)), "Bob authors before he stops");
	let bob_before = institution(&chain, Keyring::Bob).unwrap().performance;
	net.nodes[1].stop(Duration::from_secs(30)).expect("Bob's node stops cleanly");
	let stopped_at = net.nodes[0].best_number().unwrap();
	chain
		.wait("Bob's credit to fall for his missed slots", Duration::from_secs(120), |c| {
			Ok(institution(c, Keyring::Bob)?.performance < bob_before)
		})
		.unwrap();
	chain
		.wait("Bob out of the authors and voters, Dave in", Duration::from_secs(420), |c| {
			let voters: Vec<[u8; 32]> = grandpa_voters(c)?.into_iter().map(|v| v.0).collect();
			Ok(!rpn(c)?.contains(&sr(Keyring::Bob))
				&& !voters.contains(&ed(Keyring::Bob))
				&& voters.contains(&ed(Keyring::Dave)))
		})
		.unwrap();
	let replaced_at = net.nodes[0].best_number().unwrap();
	eprintln!(
		"silent RPN replaced {} blocks after its node stopped (sessions of {SESSION} blocks)",
		replaced_at - stopped_at
	);
	// Finality went on throughout and goes on with the new set, on every running node.
	let target = replaced_at + 3;
	for (i, node) in net.nodes.iter().enumerate().filter(|(i, _)| *i != 1) {
		node.wait_for(&format!("finalized height >= {target}"), Duration::from_secs(180), |n| {
			Ok(n.finalized_number()? >= target)
		})
		.unwrap_or_else(|e| panic!("node {i}: {e}"));
	}

	// An audit node goes silent (hole 9): it authors nothing, so it misses no slot, but the
	// authors note who signed the chain's GRANDPA justifications (an inherent). Dave, now the
	// ATN, stops; signing none of a session's rounds costs him credit, and the next election
	// takes him out of the voters. Finality never stops: 3 of the 4 voters are online.
	let voters: Vec<[u8; 32]> = grandpa_voters(&chain).unwrap().into_iter().map(|v| v.0).collect();
	assert!(voters.contains(&ed(Keyring::Dave)), "Dave votes before he stops");
	assert!(!rpn(&chain).unwrap().contains(&sr(Keyring::Dave)), "Dave is an audit node");
	let dave_before = institution(&chain, Keyring::Dave).unwrap().performance;
	net.nodes[3].stop(Duration::from_secs(30)).expect("Dave's node stops cleanly");
	let stopped_at = net.nodes[0].best_number().unwrap();
	chain
		.wait("Dave's credit to fall for his missed votes", Duration::from_secs(180), |c| {
			Ok(institution(c, Keyring::Dave)?.performance < dave_before)
		})
		.unwrap();
	chain
		.wait("Dave out of the voters", Duration::from_secs(300), |c| {
			let voters: Vec<[u8; 32]> = grandpa_voters(c)?.into_iter().map(|v| v.0).collect();
			Ok(!voters.contains(&ed(Keyring::Dave)))
		})
		.unwrap();
	let replaced_at = net.nodes[0].best_number().unwrap();
	eprintln!(
		"silent ATN replaced {} blocks after its node stopped (sessions of {SESSION} blocks)",
		replaced_at - stopped_at
	);
	let target = replaced_at + 3;
	for (i, node) in net.nodes.iter().enumerate().filter(|(i, _)| *i != 1 && *i != 3) {
		node.wait_for(&format!("finalized height >= {target}"), Duration::from_secs(180), |n| {
			Ok(n.finalized_number()? >= target)
		})
		.unwrap_or_else(|e| panic!("node {i}: {e}"));
	}
	for (i, node) in net.nodes.iter_mut().enumerate().filter(|(i, _)| *i != 1 && *i != 3) {
		node.stop(Duration::from_secs(30)).unwrap_or_else(|e| panic!("node {i}: {e}"));
	}
}
