//! Issue 14, TLS: a client trusts a proxy only over a certificate that the account it names
//! signed, and pins it. Real rustls handshakes against small HTTPS servers that answer
//! `/v1/health` the way a proxy, a fake proxy or a machine on the network path would.

use mbds_client::{proxy::api::Health, ProxyClient, ProxyError};
use mbds_proxy::tls::TlsIdentity;
use sp_core::{crypto::Ss58Codec, sr25519, Pair};
use std::sync::Arc;

/// Serves `health` as `GET /v1/health` over TLS with `identity` on local `port` (0: any),
/// until the returned runtime is dropped. The URL.
fn serve(identity: &TlsIdentity, health: Health, port: u16) -> (tokio::runtime::Runtime, String) {
	let rt =
		tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
	let listener = rt.block_on(tokio::net::TcpListener::bind(("127.0.0.1", port))).unwrap();
	let url = format!("https://{}", listener.local_addr().unwrap());
	let acceptor = tokio_rustls::TlsAcceptor::from(identity.server_config().unwrap());
	let body = Arc::new(serde_json::to_string(&health).unwrap());
	rt.spawn(async move {
		loop {
			let Ok((stream, _)) = listener.accept().await else { return };
			let (acceptor, body) = (acceptor.clone(), body.clone());
			tokio::spawn(async move {
				let Ok(stream) = acceptor.accept(stream).await else { return };
				let service = hyper::service::service_fn(move |_req| {
					let body = body.clone();
					async move {
						Ok::<_, std::convert::Infallible>(hyper::Response::new(
							http_body_util::Full::new(bytes::Bytes::from(body.to_string())),
						))
					}
				});
				let _ = hyper::server::conn::http1::Builder::new()
					.serve_connection(hyper_util::rt::TokioIo::new(stream), service)
					.await;
			});
		}
	});
	(rt, url)
}

fn health_of(account: &sr25519::Pair, identity: &TlsIdentity) -> Health {
	Health {
		account: sp_runtime::AccountId32::from(account.public()).to_ss58check(),
		tester_key: "0x00".into(),
		kfrags: 0,
		consortium: "http://127.0.0.1:9944".into(),
		tls_certificate_sha256: format!("0x{}", hex::encode(identity.certificate_sha256)),
		tls_binding: format!("0x{}", hex::encode(identity.binding.0)),
	}
}

fn not_bound(r: Result<Health, ProxyError>) -> String {
	match r {
		Err(ProxyError::NotBound(e)) => e,
		other => panic!("expected a refused binding, got {other:?}"),
	}
}

#[test]
fn a_client_trusts_only_a_certificate_the_named_account_bound_and_pins_it() {
	let dir = tempfile::tempdir().unwrap();
	let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
	let mallory = sr25519::Pair::from_string("//Mallory", None).unwrap();
	let honest = TlsIdentity::load_or_create(&dir.path().join("honest"), &alice).unwrap();
	let (rt, url) = serve(&honest, health_of(&alice, &honest), 0);

	// The honest proxy: its account bound the certificate it presents.
	let client = ProxyClient::new(&url);
	let h = client.health().expect("a bound proxy is trusted");
	assert_eq!(h.account, sp_runtime::AccountId32::from(alice.public()).to_ss58check());
	// Its certificate is kept across restarts (same state folder): same binding.
	let again = TlsIdentity::load_or_create(&dir.path().join("honest"), &alice).unwrap();
	assert_eq!(again.certificate_sha256, honest.certificate_sha256);

	// A fake proxy claiming Alice, with its own certificate bound by its own key.
	let fake = TlsIdentity::load_or_create(&dir.path().join("fake"), &mallory).unwrap();
	let mut claim = health_of(&mallory, &fake);
	claim.account = h.account.clone();
	let (_rt2, fake_url) = serve(&fake, claim, 0);
	let e = not_bound(ProxyClient::new(&fake_url).health());
	assert!(e.contains("did not sign"), "{e}");

	// A machine on the path replaying Alice's health answer over its own certificate.
	let (_rt3, mitm_url) = serve(&fake, health_of(&alice, &honest), 0);
	let e = not_bound(ProxyClient::new(&mitm_url).health());
	assert!(e.contains("another certificate"), "{e}");

	// Plain HTTP is refused before anything is sent.
	let plain = ProxyClient::new(&url.replacen("https://", "http://", 1)).health();
	assert!(matches!(plain, Err(ProxyError::Transport(ref e)) if e.contains("HTTPS")), "{plain:?}");

	// Pinned: the client that trusted Alice's proxy refuses another certificate at that URL
	// (the proxy's machine taken over), even with Alice's health answer replayed.
	let port: u16 = url.rsplit(':').next().unwrap().parse().unwrap();
	rt.shutdown_timeout(std::time::Duration::from_secs(1));
	let (_rt4, same_url) = serve(&fake, health_of(&alice, &honest), port);
	assert_eq!(same_url, url);
	let r = client.health();
	assert!(
		matches!(r, Err(ProxyError::Transport(_))),
		"a pinned client accepted another certificate: {r:?}"
	);
}
