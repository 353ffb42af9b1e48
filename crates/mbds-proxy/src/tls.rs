//! The proxy's half of its HTTPS: a self-signed certificate (rcgen, ECDSA P-256) made at its
//! first start and kept in its state folder, bound to its on-chain identity by its account's
//! signature over `"mbds-proxy-tls-v1:" | SHA-256(certificate)`; `GET /v1/health` serves both.
//! Clients check the binding and pin the certificate (`mbds_client::proxy::tls`, which has the
//! whole story and the binding message both sides share).

use mbds_client::proxy::tls::{binding_message, provider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sp_core::{sr25519, Pair};
use std::path::Path;
use std::sync::Arc;

/// A proxy's TLS certificate and key (DER) and the binding its account signed.
pub struct TlsIdentity {
	/// The self-signed certificate.
	pub certificate: Vec<u8>,
	/// Its PKCS#8 private key.
	key: Vec<u8>,
	/// SHA-256 of the certificate.
	pub certificate_sha256: [u8; 32],
	/// The account's signature over [`binding_message`].
	pub binding: sr25519::Signature,
}

impl TlsIdentity {
	/// The certificate kept in `state_dir/tls/` (made there at first start), bound by `account`.
	pub fn load_or_create(state_dir: &Path, account: &sr25519::Pair) -> Result<Self, String> {
		let dir = state_dir.join("tls");
		let (cert_path, key_path) = (dir.join("certificate.der"), dir.join("key.der"));
		let (certificate, key) = if cert_path.exists() && key_path.exists() {
			let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
			(read(&cert_path)?, read(&key_path)?)
		} else {
			let made = rcgen::generate_simple_self_signed(vec![
				"localhost".to_string(),
				"mbds-proxy".to_string(),
			])
			.map_err(|e| format!("making the proxy's TLS certificate: {e}"))?;
			let certificate = made
				.serialize_der()
				.map_err(|e| format!("making the proxy's TLS certificate: {e}"))?;
			let key = made.serialize_private_key_der();
			std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
			write_private(&key_path, &key)?;
			write_private(&cert_path, &certificate)?;
			(certificate, key)
		};
		let certificate_sha256 = sp_crypto_hashing::sha2_256(&certificate);
		let binding = account.sign(&binding_message(&certificate_sha256));
		Ok(TlsIdentity { certificate, key, certificate_sha256, binding })
	}

	/// The rustls server configuration presenting this certificate.
	pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
		let config = rustls::ServerConfig::builder_with_provider(provider())
			.with_safe_default_protocol_versions()
			.map_err(|e| format!("TLS: {e}"))?
			.with_no_client_auth()
			.with_single_cert(
				vec![CertificateDer::from(self.certificate.clone())],
				PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.clone())),
			)
			.map_err(|e| format!("TLS: the proxy's certificate or key is unusable: {e}"))?;
		Ok(Arc::new(config))
	}
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
	use std::io::Write;
	let mut options = std::fs::OpenOptions::new();
	options.write(true).create_new(true);
	#[cfg(unix)]
	{
		use std::os::unix::fs::OpenOptionsExt;
		options.mode(0o600);
	}
	options
		.open(path)
		.and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
		.map_err(|e| format!("{}: {e}", path.display()))
}
