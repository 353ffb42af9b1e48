//! More slips than one block holds, and more confirmations than one summary batch holds, on a
//! real `--dev` node: every one succeeds, in later blocks, and full batches close at once.
//! (Before spec 106, slips beyond 128 a block were included and then failed
//! `TooManySlipsInBlock`, and confirmations beyond a full batch failed `BatchFull`.)
//!
//! The block's capacity comes from the running runtime: its normal-class limit and the weight
//! the node reports for one slip (`TransactionPaymentApi_query_info`: the call's and the
//! extensions' weight) plus the base weight of an extrinsic. The test sends two and a half
//! blocks' worth of slips at once (signed beforehand, through `mbds_tests::load`, the load
//! benchmark's library), then confirms all of them.

use frame_support::dispatch::DispatchClass;
use frame_support::traits::Get;
use frame_support::weights::Weight;
use mbds_runtime::RuntimeEvent;
use mbds_tests::load::{self, CallKind, Cast};
use mbds_tests::Node;
use std::time::Duration;

#[test]
fn more_slips_than_a_block_holds_all_land_in_later_blocks() {
	let dir = tempfile::tempdir().unwrap();
	let args: Vec<String> = ["--dev", "--tmp", "--pool-limit", "100000", "--pool-kbytes", "512000"]
		.map(String::from)
		.to_vec();
	let node = Node::start("dev", &args, &dir.path().join("dev.log"));
	node.wait_for("block 1", Duration::from_secs(120), |n| Ok(n.best_number()? >= 1)).unwrap();
	let chain = node.client();

	// One slip's weight as the running runtime declares it.
	let probe = Cast::new(30, false);
	let sample = load::sample_slip(&chain, &probe);
	let len = codec::Encode::encoded_size(&sample) as u32;
	let (weight, _class, _fee): (Weight, DispatchClass, u128) = chain
		.call("TransactionPaymentApi_query_info", (sample, len))
		.expect("query_info of a slip");
	let per_slip = weight.ref_time() + load::base_extrinsic();
	let capacity = (load::normal_max() / per_slip) as usize;
	let n = capacity * 5 / 2;
	eprintln!(
		"a block holds at most {capacity} slips ({} us each, {} us normal); sending {n}",
		per_slip / 1_000_000,
		load::normal_max() / 1_000_000
	);

	let cast = Cast::new(n, false);
	load::setup(&chain, &cast);
	let phases = load::phases(&chain, &cast, n, &[CallKind::Submit, CallKind::Confirm], 8);
	let (submit, confirm) = (&phases[0], &phases[1]);
	load::print_table(
		"more slips than a block holds",
		&[submit.report.clone(), confirm.report.clone()],
	);

	// Every slip succeeded (the blocks' weight limit spread them over at least three blocks).
	assert_eq!(submit.report.call, CallKind::Submit);
	assert_eq!(submit.report.succeeded, n, "failures: {:?}", submit.report.failures);
	assert!(submit.report.failures.is_empty(), "{:?}", submit.report.failures);
	assert!(
		submit.tracked.blocks.len() >= 3,
		"{n} slips fit in {} blocks: the capacity estimate is wrong",
		submit.tracked.blocks.len()
	);

	// Every confirmation succeeded. Two items a slip: every full batch closed with exactly
	// MaxItemsPerBatch items, at least two of them, and at least one closed at once by the
	// confirmation that did not fit (the other way, a batch exactly full when a block ends
	// closes at the next block's start).
	assert_eq!(confirm.report.succeeded, n, "failures: {:?}", confirm.report.failures);
	let max_items: u32 = <mbds_runtime::Runtime as pallet_slips::Config>::MaxItemsPerBatch::get();
	assert!(2 * n >= 2 * max_items as usize, "too few items to fill two batches");
	let next = mbds_client::queries::slips::next_batch_id(&chain, None).unwrap();
	let full = (0..next)
		.filter_map(|id| mbds_client::queries::slips::batch(&chain, id, None).unwrap())
		.filter(|b| b.item_count == max_items)
		.count();
	assert!(full >= 2, "{} items should fill at least 2 batches, {full} full of {next}", 2 * n);
	let closed_at_once = confirm
		.tracked
		.outcomes
		.iter()
		.flatten()
		.flat_map(|o| o.events.iter())
		.filter(|e| {
			matches!(e, RuntimeEvent::Slips(pallet_slips::Event::BatchClosed { items, .. })
				if *items == max_items)
		})
		.count();
	assert!(closed_at_once >= 1, "no batch closed by the confirmation that did not fit");
}
