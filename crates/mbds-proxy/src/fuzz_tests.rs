//! Fuzzing of the proxy's request parsing (property tests, proptest), without HTTP and without
//! a chain: [`parse_signed`] (the signed envelope and the typed payload), [`parse_search`],
//! [`parse_reencrypt`], [`parse_kfrag_accounts`], [`decode_kfrag`] and the signature checks
//! the proxy runs on a request's fields, for all three endpoints.
//!
//! * `fuzz_random_body_bytes`: arbitrary bytes as a body are refused 400, never a panic;
//! * `fuzz_random_json_body`: arbitrary JSON values (shaped like envelopes and payloads) are
//!   refused 400 or 401, with an error naming the body or a field;
//! * `fuzz_round_trip`: a valid request of fresh keys parses to what was sent;
//! * `fuzz_envelope_field_mutated`: one envelope field (signer, payload, signature) replaced,
//!   changed or removed is refused, or parses to exactly the original request;
//! * `fuzz_payload_field_mutated`: one payload field replaced by another JSON value, changed or
//!   removed (or an unknown field added), then signed again: a value of the wrong JSON type is
//!   refused naming that field; otherwise the request parses or is refused naming that field or
//!   the signature that covers it.
//!
//! 256 cases per property by default; `PROPTEST_CASES=100000 cargo test --release -p
//! mbds-proxy fuzz_` for a long run.

use super::*;
use mbds_crypto::{generate_key_fragments, Keyword};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};
use std::sync::OnceLock;

const NOW: u64 = 1_800_000_030_000;

fn config() -> ProptestConfig {
	let mut c = ProptestConfig::default();
	if std::env::var_os("PROPTEST_CASES").is_none() {
		c.cases = 256;
	}
	c
}

/// The proxy whose requests are parsed.
fn proxy() -> &'static ParticipantKeys {
	static P: OnceLock<ParticipantKeys> = OnceLock::new();
	P.get_or_init(|| ParticipantKeys::from_seed([0x70; 32]))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Endpoint {
	Kfrag,
	Search,
	Reencrypt,
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
	prop_oneof![Just(Endpoint::Kfrag), Just(Endpoint::Search), Just(Endpoint::Reencrypt)]
}

/// A valid signed request to `endpoint`, from participants of seeds `a` (signer) and `b`.
fn request(endpoint: Endpoint, a: [u8; 32], b: [u8; 32]) -> Signed {
	let (me, x, y) = (proxy(), ParticipantKeys::from_seed(a), ParticipantKeys::from_seed(b));
	match endpoint {
		Endpoint::Kfrag => {
			// `x` is the patient, `y` the grantee.
			let crypto = x.crypto();
			let kfrag = generate_key_fragments(
				&crypto.pre,
				&crypto.signing,
				&y.record_key().public_key(),
				1,
				1,
			)
			.unwrap()
			.remove(0);
			let sealed = kfrag.seal_to(&me.record_key().public_key()).unwrap();
			let vk = format!("0x{}", hex::encode(crypto.signing.verifying_key().to_bytes()));
			let certificate = Signed::sign(
				&x.pair(),
				&KfragCertificate {
					proxy: me.ss58(),
					patient: x.ss58(),
					grantee: y.ss58(),
					verifying_key: vk.clone(),
					issued_at: NOW - 1,
				},
			);
			Signed::sign(
				&x.pair(),
				&KfragUpload {
					proxy: me.ss58(),
					patient: x.ss58(),
					grantee: y.ss58(),
					verifying_key: vk,
					sealed_kfrag: format!("0x{}", hex::encode(sealed.to_bytes())),
					certificate,
					issued_at: NOW,
				},
			)
		}
		Endpoint::Search => {
			// `x` searches the records of patient `y`.
			let kws: Vec<Keyword> = (0..1 + a[0] % 2)
				.map(|i| {
					Keyword::from_coding("snomed", &format!("{}", 1000 + u32::from(i))).unwrap()
				})
				.collect();
			let trapdoor =
				y.peks().conjunctive_trapdoor(&me.tester().public_key(), &kws).unwrap().to_bytes();
			let statement = search_statement(&me.account(), &y.account(), &trapdoor, NOW);
			Signed::sign(
				&x.pair(),
				&SearchRequest {
					proxy: me.ss58(),
					patient: y.ss58(),
					trapdoor: format!("0x{}", hex::encode(&trapdoor)),
					issued_at: NOW,
					search_signature: sign_search(&x.pair(), &statement),
				},
			)
		}
		Endpoint::Reencrypt => {
			let record = H256(b);
			let statement = read_statement(&me.account(), &y.account(), record, NOW);
			Signed::sign(
				&x.pair(),
				&ReencryptRequest {
					proxy: me.ss58(),
					patient: y.ss58(),
					record_hash: format!("{record:?}"),
					issued_at: NOW,
					access_signature: sign_statement(&x.pair(), &statement),
				},
			)
		}
	}
}

/// A few valid requests per endpoint, made once.
fn pool(endpoint: Endpoint) -> &'static [Signed] {
	static POOLS: OnceLock<Vec<Vec<Signed>>> = OnceLock::new();
	let pools = POOLS.get_or_init(|| {
		[Endpoint::Kfrag, Endpoint::Search, Endpoint::Reencrypt]
			.into_iter()
			.map(|e| (1u8..=3).map(|i| request(e, [i; 32], [i + 10; 32])).collect())
			.collect()
	});
	&pools[endpoint as usize]
}

/// Everything the proxy parses and checks of a request to `endpoint` before it looks at the
/// chain: the payload as parsed, or the refusal.
fn parse(endpoint: Endpoint, body: &str) -> Result<Value, Refusal> {
	let me = proxy();
	let bad = |e: String| refuse(400, "bad-request", false, e);
	let bad_signature = |e: mbds_client::Error| refuse(401, "bad-signature", false, e.to_string());
	match endpoint {
		Endpoint::Kfrag => {
			let (_, signer, up) = parse_signed::<KfragUpload>(body)?;
			let (patient, _) = parse_kfrag_accounts(&up)?;
			decode_kfrag(&up, &me.record_key()).map_err(bad)?;
			let (cert_signer, _): (AccountId, KfragCertificate) =
				up.certificate.open().map_err(|e| bad(format!("field `certificate`: {e}")))?;
			if cert_signer != patient || signer != patient {
				return Err(refuse(403, "bad-signature", false, "field `patient`: not the signer"));
			}
			Ok(serde_json::to_value(up).unwrap())
		}
		Endpoint::Search => {
			let (_, user, req) = parse_signed::<SearchRequest>(body)?;
			let (patient, bytes, _) = parse_search(&req)?;
			let statement = search_statement(&me.account(), &patient, &bytes, req.issued_at);
			open_search_signature(&req.search_signature, &user, &statement)
				.map_err(bad_signature)?;
			Ok(serde_json::to_value(req).unwrap())
		}
		Endpoint::Reencrypt => {
			let (_, user, req) = parse_signed::<ReencryptRequest>(body)?;
			let (patient, hash) = parse_reencrypt(&req)?;
			let statement = read_statement(&me.account(), &patient, hash, req.issued_at);
			open_statement_signature(&req.access_signature, &user, &statement)
				.map_err(bad_signature)?;
			Ok(serde_json::to_value(req).unwrap())
		}
	}
}

/// A refusal of a malformed request: 400 or 401 (403 for a kfrag of someone else), and an
/// error that names the body or a field.
fn specific(r: &Refusal, body: &str) -> Result<(), TestCaseError> {
	prop_assert!(
		matches!(
			(r.status, r.body.code.as_str()),
			(400, "bad-request") | (401, "bad-signature") | (403, "bad-signature")
		),
		"unexpected refusal {r:?} of {body}"
	);
	prop_assert!(!r.body.audited);
	let e = &r.body.error;
	prop_assert!(
		e.starts_with("body is not a signed request") || e.contains("field `"),
		"the refusal names no field: {e:?} (body {body})"
	);
	Ok(())
}

/// Arbitrary JSON, with the request's field names and value shapes likelier.
fn json_value() -> impl Strategy<Value = Value> {
	let leaf = prop_oneof![
		Just(Value::Null),
		any::<bool>().prop_map(Value::from),
		any::<u64>().prop_map(Value::from),
		any::<i64>().prop_map(Value::from),
		any::<f64>().prop_map(Value::from),
		"\\PC{0,12}".prop_map(Value::from),
		"(0x)?[0-9a-f]{0,40}".prop_map(Value::from),
		Just(Value::from(proxy().ss58())),
	];
	leaf.prop_recursive(4, 32, 6, |inner| {
		prop_oneof![
			proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
			proptest::collection::vec((field_name(), inner), 0..8)
				.prop_map(|kv| Value::Object(kv.into_iter().collect())),
		]
	})
}

fn field_name() -> impl Strategy<Value = String> {
	prop_oneof![
		4 => prop::sample::select(vec![
			"signer", "payload", "signature", "proxy", "patient", "grantee", "trapdoor",
			"issued_at", "search_signature", "record_hash", "access_signature", "verifying_key",
			"sealed_kfrag", "certificate",
		])
		.prop_map(String::from),
		1 => "\\PC{0,8}",
	]
}

#[derive(Clone, Debug)]
enum Change {
	/// Replace the value by another JSON value.
	Replace(Value),
	/// Overwrite one character of a string value (other values: replace by that character).
	Char(Index, char),
	/// Cut a string value (other values: replace by the empty string).
	Cut(Index),
	/// Remove the field.
	Remove,
	/// Add an unknown field (the field itself is left as is).
	Unknown,
}

fn change() -> impl Strategy<Value = Change> {
	prop_oneof![
		2 => json_value().prop_map(Change::Replace),
		3 => (any::<Index>(), any::<char>()).prop_map(|(i, c)| Change::Char(i, c)),
		1 => any::<Index>().prop_map(Change::Cut),
		1 => Just(Change::Remove),
		1 => Just(Change::Unknown),
	]
}

/// Applies `change` to field `name` of `object`.
fn apply(object: &mut serde_json::Map<String, Value>, name: &str, change: &Change) {
	match change {
		Change::Replace(v) => {
			object.insert(name.into(), v.clone());
		}
		Change::Char(i, c) => {
			let v = object.get_mut(name).unwrap();
			let mut chars: Vec<char> = v.as_str().unwrap_or("").chars().collect();
			if chars.is_empty() {
				chars.push(*c);
			} else {
				let at = i.index(chars.len());
				chars[at] = *c;
			}
			*v = Value::from(chars.into_iter().collect::<String>());
		}
		Change::Cut(i) => {
			let v = object.get_mut(name).unwrap();
			let chars: Vec<char> = v.as_str().unwrap_or("").chars().collect();
			let keep = if chars.is_empty() { 0 } else { i.index(chars.len()) };
			*v = Value::from(chars[..keep].iter().collect::<String>());
		}
		Change::Remove => {
			object.remove(name);
		}
		Change::Unknown => {
			object.insert("unexpected".into(), json!(1));
		}
	}
}

fn fields(endpoint: Endpoint) -> &'static [(&'static str, Kind)] {
	match endpoint {
		Endpoint::Kfrag => KfragUpload::FIELDS,
		Endpoint::Search => SearchRequest::FIELDS,
		Endpoint::Reencrypt => ReencryptRequest::FIELDS,
	}
}

/// The signer of the pool's requests (seed `[i; 32]`), to sign changed payloads again.
fn signer_of(endpoint: Endpoint, which: usize) -> ParticipantKeys {
	let _ = endpoint;
	ParticipantKeys::from_seed([which as u8 + 1; 32])
}

proptest! {
	#![proptest_config(config())]

	#[test]
	fn fuzz_random_body_bytes(e in endpoint(), bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
		let body = String::from_utf8_lossy(&bytes);
		let r = parse(e, &body);
		prop_assert!(r.is_err(), "random bytes accepted: {body}");
		let r = r.unwrap_err();
		prop_assert_eq!(r.status, 400);
		specific(&r, &body)?;
	}

	#[test]
	fn fuzz_random_json_body(e in endpoint(), v in json_value(), payload in json_value(), wrap in any::<bool>()) {
		// Half of the bodies are envelopes whose payload is arbitrary JSON (signed, so the
		// payload decoder is reached).
		let body = if wrap {
			serde_json::to_string(&Signed::sign(&signer_of(e, 0).pair(), &payload)).unwrap()
		} else {
			v.to_string()
		};
		match parse(e, &body) {
			Ok(_) => prop_assert!(false, "arbitrary JSON accepted: {}", body),
			Err(r) => specific(&r, &body)?,
		}
	}

	#[test]
	fn fuzz_round_trip(e in endpoint(), a in any::<[u8; 32]>(), b in any::<[u8; 32]>()) {
		let signed = request(e, a, b);
		let body = serde_json::to_string(&signed).unwrap();
		let parsed = parse(e, &body);
		prop_assert!(parsed.is_ok(), "valid request refused: {:?}", parsed);
		let sent: Value = serde_json::from_str(&signed.payload).unwrap();
		prop_assert_eq!(parsed.unwrap(), sent);
	}

	#[test]
	fn fuzz_envelope_field_mutated(
		e in endpoint(),
		which in 0usize..3,
		field in prop::sample::select(vec!["signer", "payload", "signature"]),
		c in change(),
	) {
		let signed = &pool(e)[which];
		let Value::Object(mut envelope) = serde_json::to_value(signed).unwrap() else { unreachable!() };
		apply(&mut envelope, field, &c);
		let body = Value::Object(envelope).to_string();
		match parse(e, &body) {
			// e.g. upper-case hex in the signature, or an ignored extra field
			Ok(v) => prop_assert_eq!(v, serde_json::from_str::<Value>(&signed.payload).unwrap()),
			Err(r) => specific(&r, &body)?,
		}
	}

	#[test]
	fn fuzz_payload_field_mutated(e in endpoint(), which in 0usize..3, field in any::<Index>(), c in change()) {
		let signed = &pool(e)[which];
		let (name, kind) = *field.get(fields(e));
		let Value::Object(mut payload) = serde_json::from_str(&signed.payload).unwrap() else { unreachable!() };
		apply(&mut payload, name, &c);
		let changed = Value::Object(payload.clone());
		let body = serde_json::to_string(&Signed::sign(&signer_of(e, which).pair(), &changed)).unwrap();
		let wrong_type = match payload.get(name) {
			None => true,
			Some(v) => match kind {
				Kind::Text => !v.is_string(),
				Kind::Number => !v.is_u64(),
				Kind::Signed => serde_json::from_value::<Signed>(v.clone()).is_err(),
			},
		};
		match parse(e, &body) {
			Ok(_) => prop_assert!(!wrong_type && !matches!(c, Change::Unknown), "accepted {}", body),
			Err(r) => {
				specific(&r, &body)?;
				let msg = &r.body.error;
				if matches!(c, Change::Unknown) {
					prop_assert!(msg.contains("unknown field \"unexpected\""), "{}", msg);
				} else if wrong_type {
					prop_assert!(msg.contains(&format!("field `{name}`")), "{} does not name `{}`", msg, name);
				} else {
					// A well-typed value that is wrong: named, or caught by the signature over it.
					prop_assert!(
						["search_signature", "access_signature", "certificate", "patient", name]
							.iter()
							.any(|f| msg.contains(&format!("field `{f}`"))),
						"{} names neither `{}` nor a signature over it", msg, name
					);
				}
			}
		}
	}
}

/// The payload field lists match the wire types (a field added to a request type must be
/// added to its `FIELDS` too, or every request of that type would be refused).
#[test]
fn fuzz_payload_fields_match_the_wire_types() {
	for e in [Endpoint::Kfrag, Endpoint::Search, Endpoint::Reencrypt] {
		let Value::Object(sent) = serde_json::from_str(&pool(e)[0].payload).unwrap() else {
			unreachable!()
		};
		let mut names: Vec<&str> = fields(e).iter().map(|(n, _)| *n).collect();
		let mut keys: Vec<&str> = sent.keys().map(|k| k.as_str()).collect();
		names.sort();
		keys.sort();
		assert_eq!(names, keys, "{e:?}");
	}
}

/// Regression: a payload with a field of the wrong type was refused with serde's "invalid
/// type ... at line 1 column N" (no field name) and 401 bad-signature although the signature
/// was valid; now 400 bad-request naming the field.
#[test]
fn fuzz_regression_wrong_type_payload_field_is_named() {
	let signed = &pool(Endpoint::Search)[0];
	let Value::Object(mut payload) = serde_json::from_str(&signed.payload).unwrap() else {
		unreachable!()
	};
	payload.insert("issued_at".into(), json!("yesterday"));
	let body =
		serde_json::to_string(&Signed::sign(&signer_of(Endpoint::Search, 0).pair(), &payload))
			.unwrap();
	let r = parse(Endpoint::Search, &body).unwrap_err();
	assert_eq!((r.status, r.body.code.as_str()), (400, "bad-request"), "{r:?}");
	assert_eq!(r.body.error, "field `issued_at`: a string, expected an unsigned 64-bit integer");
	payload.remove("issued_at");
	let body =
		serde_json::to_string(&Signed::sign(&signer_of(Endpoint::Search, 0).pair(), &payload))
			.unwrap();
	let r = parse(Endpoint::Search, &body).unwrap_err();
	assert!(r.body.error.contains("field `issued_at` missing"), "{r:?}");
	let body =
		serde_json::to_string(&Signed::sign(&signer_of(Endpoint::Search, 0).pair(), &json!([1])))
			.unwrap();
	let r = parse(Endpoint::Search, &body).unwrap_err();
	assert!(r.body.error.starts_with("field `payload`: an array, expected an object"), "{r:?}");
}

/// Regression: `0x0x…` was accepted as hex (every `0x` prefix was stripped).
#[test]
fn fuzz_regression_hex_fields_take_one_0x_prefix() {
	assert_eq!(hex_field("trapdoor", "0x0102"), Ok(vec![1, 2]));
	assert_eq!(hex_field("trapdoor", "0102"), Ok(vec![1, 2]));
	let e = hex_field("trapdoor", "0x0x0102").unwrap_err();
	assert!(e.starts_with("field `trapdoor`: not hex"), "{e}");
}
