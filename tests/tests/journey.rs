//! End to end on real processes: the paper's four-step patient journey across platform P,
//! hospitals A and B and the consortium, with the relayer, three proxies (2 of 3) and a local
//! record store, every participant acting through the `mbds` CLI. See
//! `mbds_tests::journey` for the steps. Checks what each step must show: every shared read
//! decrypts to the original FHIR record, a doctor without consent finds nothing readable and is
//! refused, the proxies refuse after revocation, every access and refusal is in the patient's
//! audit trail, and a tampered blob is detected.

use mbds_tests::journey::Journey;
use std::time::Instant;

#[test]
fn the_patient_journey_runs_end_to_end_with_its_refusals() {
	let dir = tempfile::Builder::new().prefix("mbds-journey-").tempdir().unwrap();
	let start = Instant::now();
	let mut journey = Journey::start(dir.path(), Box::new(|l| println!("{l}"))).unwrap();
	let report = journey.setup().and_then(|_| journey.run());
	let report = match report {
		Ok(r) => r,
		Err(e) => {
			for p in &journey.procs {
				eprintln!(
					"--- {} log:\n{}",
					p.name,
					std::fs::read_to_string(&p.log).unwrap_or_default()
				);
			}
			panic!("journey failed: {e}");
		}
	};
	journey.stop();
	println!("journey wall time {:.0} s; steps {:?}", start.elapsed().as_secs_f64(), report.steps);

	// Three records, one per chain, all different.
	assert_eq!(report.records.len(), 3);
	assert!(report.records[0] != report.records[1] && report.records[1] != report.records[2]);
	// Shared reads: A's doctor read P's; B's read P's and A's; P's read all three; each
	// decrypted to exactly the original FHIR JSON.
	let reads: Vec<(&str, &str)> =
		report.reads.iter().map(|(who, rec, _)| (who.as_str(), rec.as_str())).collect();
	let (p, a, b) = (&report.records[0], &report.records[1], &report.records[2]);
	assert_eq!(
		reads,
		vec![
			("doc-a", p.as_str()),
			("doc-b", p.as_str()),
			("doc-b", a.as_str()),
			("doc-p", p.as_str()),
			("doc-p", a.as_str()),
			("doc-x", p.as_str()),
		]
	);
	assert!(
		report.reads.iter().all(|(_, _, same)| *same),
		"a decrypted record differs: {:?}",
		report.reads
	);

	// Refusals.
	assert_eq!(report.outsider_matches, 0, "a doctor without consent found readable records");
	assert!(report.outsider_refusal.contains("denied"), "{}", report.outsider_refusal);
	assert!(report.revoked_refusal.contains("denied"), "{}", report.revoked_refusal);
	// P's doctor's grant covers the endocrine, observation and medication categories only: B's
	// record (it also carries a SNOMED CT code) is refused, on record.
	assert!(report.out_of_scope_refusal.contains("denied"), "{}", report.out_of_scope_refusal);
	assert!(report.tamper_error.to_lowercase().contains("hash"), "{}", report.tamper_error);

	// The audit trail holds every access and refusal by the proxies.
	let entries = report.audit["entries"].as_array().expect("audit entries");
	let accesses: Vec<(String, String, bool)> = entries
		.iter()
		.filter(|e| !e["access"].is_null())
		.map(|e| {
			(
				e["access"]["user"].as_str().unwrap().to_string(),
				e["access"]["record"].as_str().unwrap_or("").to_string(),
				e["access"]["allowed"].as_bool().unwrap(),
			)
		})
		.collect();
	let acct = |who: &str| report.accounts[who].clone();
	let count = |who: &str, rec: &str, allowed: bool| {
		accesses.iter().filter(|(u, r, a)| *u == acct(who) && r == rec && *a == allowed).count()
	};
	// Two proxies served each shared read (threshold 2), each recorded on chain.
	for (who, rec) in &reads {
		assert!(
			count(who, rec, true) >= 2,
			"{who} reading {rec}: allowed accesses not audited: {accesses:?}"
		);
	}
	// The proxies refused the doctor without consent and A's doctor after revocation, on record
	// (the CLI asks all three; at least two refusals, since one proxy alone cannot serve).
	assert!(count("doc-x", p, false) >= 2, "{accesses:?}");
	assert!(count("doc-a", p, false) >= 2, "{accesses:?}");
	// Doctor X of hospital A was refused without consent, then read under the patient's grant
	// to hospital A's doctors, with the fragments shared once for the institution.
	assert!(count("doc-x", p, true) >= 2, "{accesses:?}");
	assert!(count("doc-p", b, false) >= 2, "{accesses:?}");
	assert_eq!(count("doc-p", b, true), 0, "{accesses:?}");
	// The trail also holds the requests, approvals and the revocation, in order.
	let events: Vec<&str> = entries.iter().filter_map(|e| e["event"].as_str()).collect();
	assert!(events.iter().any(|e| e.starts_with("AccessRequested")), "{events:?}");
	assert!(events.iter().any(|e| e.starts_with("RequestApproved")), "{events:?}");
	assert!(events.iter().any(|e| e.starts_with("GrantRevoked")), "{events:?}");
	let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
	assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "audit trail out of order: {seqs:?}");
	// The whole trail folds to the chain's commitment to it (`mbds audit` checks it).
	assert_eq!(report.audit["verified"], true, "audit trail not verified: {:?}", report.audit);
	// Searches are audited like reads, for the user who signed them, with their result count.
	let searched = |who: &str, results: Option<u32>| {
		let prefix = format!("SEARCH by {} (", acct(who));
		events.iter().any(|e| {
			e.starts_with(&prefix)
				&& results.is_none_or(|n| e.contains(&format!("({n} readable record(s)")))
		})
	};
	assert!(searched("doc-x", Some(0)), "the outsider's search is not audited: {events:?}");
	assert!(searched("doc-a", None), "A's doctor's search is not audited: {events:?}");
	assert!(searched("doc-p", Some(2)), "the conjunctive search is not audited: {events:?}");
}
