//! # mbds-crypto — the off-chain cryptography of MBDS
//!
//! Pure Rust, no node dependencies. It implements parts 7-9 of the MBDS design (record
//! encryption, proxy re-encryption, keyword search on encrypted keywords):
//!
//! * [`envelope`]: a record body is encrypted with XChaCha20-Poly1305 (RustCrypto) under a fresh
//!   data key; the associated data binds record id, version, owner and capsule. The data key is
//!   encapsulated to the patient's public key with Umbral, so the capsule is what proxies
//!   re-encrypt.
//! * [`pre`]: threshold proxy re-encryption with Umbral (Nuñez 2018, crate `umbral-pre` 0.11,
//!   licensed GPL-3.0-only): `t` of `n` proxies, verifiable key and capsule fragments.
//! * [`peks`]: public-key encryption with keyword search on BLS12-381. The base scheme of
//!   Boneh, Di Crescenzo, Ostrovsky, Persiano (EUROCRYPT 2004) and the designated-tester scheme
//!   with secure trapdoors of Rhee, Park, Susilo, Lee (J. Systems and Software 83(5), 2010),
//!   plus one-round conjunctive queries (Golle, Staddon, Waters, ACNS 2004, per-keyword form).
//! * [`fhir`]: canonical `system|code` keywords from FHIR R4 resources and Bundles.
//! * [`sse`]: a patient-keyed searchable index (Cash et al., NDSS 2014, Π_bas) with HMAC-SHA256
//!   (RustCrypto): a search costs one HMAC and one lookup per match.
//!
//! ## Roles
//! The **patient** owns [`keys::PatientKeys`] (one [`keys::KeySeed`]). A **doctor** seals a
//! record for the patient and encrypts its keywords for the patient and the proxy, using public
//! keys only. A **proxy** (health authority) holds key fragments and a tester key: it searches
//! with trapdoors and re-encrypts capsules, only while the patient's consent on chain allows.
//! A **grantee** opens the record with `t` verified capsule fragments.
//!
//! ## Assumptions
//! * XChaCha20-Poly1305: IND-CCA AEAD with 192-bit random nonces (no nonce reuse in practice).
//! * HMAC-SHA256 (index tokens and labels in [`sse`]): a pseudorandom function, as Π_bas needs.
//! * Umbral: security of the scheme as analysed by its authors (DL / DDH-type assumptions on
//!   secp256k1 in the random-oracle model); implementation trusted as published.
//! * PEKS / dPEKS: BDH and the Rhee et al. assumptions (bilinear Diffie-Hellman and a
//!   1-BDHI-type assumption; CDH in G1 for the trapdoor mask) in the random-oracle model,
//!   taken in their type-3 form on BLS12-381 (~117-120 bit security); the papers' proofs are for
//!   symmetric pairings and were not redone. Hash-to-curve per RFC 9380 (arkworks,
//!   `BLS12381G2_XMD:SHA-256_SSWU_RO_`). The equations, the group of every element and the
//!   provenance of the dPEKS equations are in [`peks`].
//!
//! ## Known limits
//! * The designated tester (proxy) can learn the keyword of a trapdoor it was given by guessing
//!   over the small space of medical codes; only outsiders are kept out (see [`peks`]). An
//!   outsider who can both add encrypted keywords and see search results can guess online.
//! * Search and access patterns leak to the tester; conjunctive search leaks per-keyword matches.
//! * Revocation of a grant is enforced by the proxies refusing to re-encrypt, not
//!   cryptographically; a grantee that already decrypted keeps what it read.
//! * Search cost is linear in the encrypted keywords searched (one pairing each, ~1-1.7 ms),
//!   bounded below by `N * t_pairing / cores`: 10,000 keywords take 5-8 s on 2 idle cores, not
//!   the 1 s aimed for, so searches stay per patient. [`sse`] is the scheme whose search costs
//!   what it finds (Cash et al.'s Π_bas over a patient-keyed index); it is not yet wired into
//!   the chains, the proxy and the CLI, which search with PEKS today.
//!
//! ## Serialisation
//! Every key, ciphertext, fragment and trapdoor has an explicit, versioned encoding: a format
//! version byte, a type tag, then fixed or length-prefixed fields ([`codec`]). Decoding rejects
//! wrong versions, wrong types, truncated input, trailing bytes and invalid points with a
//! [`CryptoError`] naming the object and field; it never panics on bad input.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod envelope;
pub mod error;
pub mod fhir;
pub mod keys;
pub mod peks;
pub mod pre;
pub mod sse;

pub use envelope::{RecordEnvelope, RecordHeader, SealedNote};
pub use error::{CryptoError, Result};
pub use fhir::{keywords_from_json, Keyword};
pub use keys::{KeySeed, PatientKeys, PrePublicKey, PreSecretKey, SigningKey, VerifyingKey};
pub use peks::{
	check_keywords, ConjunctiveTrapdoor, EncryptedKeyword, KeywordMismatch, KeywordOpening,
	PeksPublicKey, PeksSecretKey, PreparedConjunctiveQuery, PreparedTrapdoor, TesterPublicKey,
	TesterSecretKey, Trapdoor,
};
pub use pre::{
	generate_key_fragments, CapsuleFragment, KeyFragment, SealedKeyFragment,
	VerifiedCapsuleFragment, VerifiedKeyFragment,
};
