//! HTTPS between the clients and a proxy, with the proxy's certificate bound to its on-chain
//! identity (rustls; no public CA). This is the client's half and what both sides share (the
//! binding message, its check); the proxy server makes its certificate and signs the binding.
//!
//! * A proxy makes a self-signed certificate at its first start (rcgen, ECDSA P-256) and keeps
//!   it in its state folder. Its account key (the sr25519 key the consortium's KMC registered
//!   as a health authority) signs `"mbds-proxy-tls-v1:" | SHA-256(certificate)`, and
//!   `GET /v1/health` serves both ([`crate::proxy::api::Health`]).
//! * A client ([`crate::ProxyClient`]) accepts any certificate during its first handshake only
//!   to learn it ([`BoundCertVerifier`]; the handshake signature is still verified, so the
//!   server holds the certificate's key), then accepts the health answer only if the account
//!   it names signed the hash of the certificate that connection presented, and from then on
//!   pins that certificate: every later connection must present the same one. A fake proxy URL
//!   or a machine on the network path cannot present a certificate bound to a health
//!   authority's account without that account's key; the caller then checks on chain that the
//!   account is an active health authority.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sp_core::{sr25519, Pair};
use std::sync::{Arc, Mutex};

/// Domain of the binding signature.
pub const BINDING_DOMAIN: &[u8] = b"mbds-proxy-tls-v1:";

/// The rustls crypto provider used on both sides (ring).
pub fn provider() -> Arc<CryptoProvider> {
	Arc::new(rustls::crypto::ring::default_provider())
}

/// What the account signs to bind a certificate: the domain and the certificate's SHA-256.
pub fn binding_message(certificate_sha256: &[u8; 32]) -> Vec<u8> {
	[BINDING_DOMAIN, certificate_sha256.as_slice()].concat()
}

/// Checks that `account` (32-byte sr25519 public key) signed the binding of the certificate
/// whose SHA-256 is `certificate_sha256`.
pub fn binding_is_valid(
	account: &[u8; 32],
	certificate_sha256: &[u8; 32],
	binding: &sr25519::Signature,
) -> bool {
	sr25519::Pair::verify(
		binding,
		binding_message(certificate_sha256),
		&sr25519::Public::from_raw(*account),
	)
}

/// The client's certificate check: learns the first certificate (see the module docs), and
/// once [`BoundCertVerifier::pin`]ned accepts only that one. Handshake signatures are always
/// verified with the presented certificate's key.
#[derive(Debug)]
pub struct BoundCertVerifier {
	provider: Arc<CryptoProvider>,
	/// (hash of the last certificate presented, pinned hash)
	state: Mutex<(Option<[u8; 32]>, Option<[u8; 32]>)>,
}

impl BoundCertVerifier {
	/// A verifier that has not pinned anything yet.
	pub fn new() -> Arc<Self> {
		Arc::new(BoundCertVerifier { provider: provider(), state: Mutex::new((None, None)) })
	}

	/// SHA-256 of the certificate the last handshake presented.
	pub fn last_seen(&self) -> Option<[u8; 32]> {
		self.state.lock().unwrap_or_else(|e| e.into_inner()).0
	}

	/// From now on, accept only the certificate with this SHA-256.
	pub fn pin(&self, certificate_sha256: [u8; 32]) {
		self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = Some(certificate_sha256);
	}

	/// The pinned certificate's SHA-256, if any.
	pub fn pinned(&self) -> Option<[u8; 32]> {
		self.state.lock().unwrap_or_else(|e| e.into_inner()).1
	}

	/// A rustls client configuration that checks certificates with this verifier.
	pub fn client_config(self: &Arc<Self>) -> crate::Result<Arc<rustls::ClientConfig>> {
		let config = rustls::ClientConfig::builder_with_provider(self.provider.clone())
			.with_safe_default_protocol_versions()
			.map_err(|e| crate::Error::invalid("TLS", format!("TLS: {e}")))?
			.dangerous()
			.with_custom_certificate_verifier(self.clone())
			.with_no_client_auth();
		Ok(Arc::new(config))
	}
}

impl ServerCertVerifier for BoundCertVerifier {
	fn verify_server_cert(
		&self,
		end_entity: &CertificateDer<'_>,
		_intermediates: &[CertificateDer<'_>],
		_server_name: &ServerName<'_>,
		_ocsp_response: &[u8],
		_now: UnixTime,
	) -> Result<ServerCertVerified, rustls::Error> {
		let hash = sp_crypto_hashing::sha2_256(end_entity.as_ref());
		let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
		if state.1.is_some_and(|pinned| pinned != hash) {
			return Err(rustls::Error::General(
				"the proxy presented another TLS certificate than the one its account bound".into(),
			));
		}
		state.0 = Some(hash);
		Ok(ServerCertVerified::assertion())
	}

	fn verify_tls12_signature(
		&self,
		message: &[u8],
		cert: &CertificateDer<'_>,
		dss: &DigitallySignedStruct,
	) -> Result<HandshakeSignatureValid, rustls::Error> {
		verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
	}

	fn verify_tls13_signature(
		&self,
		message: &[u8],
		cert: &CertificateDer<'_>,
		dss: &DigitallySignedStruct,
	) -> Result<HandshakeSignatureValid, rustls::Error> {
		verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
	}

	fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
		self.provider.signature_verification_algorithms.supported_schemes()
	}
}
