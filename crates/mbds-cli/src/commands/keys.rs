//! `mbds keys new|recover|encrypt|show|export`: key files, made on this device, encrypted
//! under a passphrase (`MBDS_PASSPHRASE`, or asked for in a terminal), with a recovery phrase
//! shown once (`mbds_client::keys`).

use crate::{
	args::KeyArg,
	common::{hex0x, out, Out},
};
use clap::Subcommand;
use mbds_client::{keys, ParticipantKeys, SearchKey};
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// Where `mbds keys recover` takes the recovery phrase from when set.
pub const RECOVERY_PHRASE_ENV: &str = "MBDS_RECOVERY_PHRASE";

/// Writes `keys` to a new file at `path`: in clear if `plaintext`, else under a new passphrase.
fn write(keys: &ParticipantKeys, path: &Path, plaintext: bool) -> Result<(), String> {
	if plaintext {
		return Ok(keys.save(path)?);
	}
	let passphrase = keys::new_passphrase(path)?;
	Ok(keys.save_encrypted(path, &passphrase)?)
}

#[derive(Subcommand)]
pub enum KeysCmd {
	/// Generate a new key file on this device, encrypted under a passphrase (MBDS_PASSPHRASE,
	/// or asked for twice), and show its 24-word recovery phrase once.
	New {
		/// Where to write it (never overwritten; mode 0600).
		#[arg(long)]
		out: PathBuf,
		/// Write the seed in clear (a service whose disk is its protection), no passphrase.
		#[arg(long)]
		plaintext: bool,
	},
	/// Make your key file again from its recovery phrase (a lost device or passphrase): the
	/// phrase is read from --phrase-file, MBDS_RECOVERY_PHRASE, or asked for.
	Recover {
		/// Where to write the new key file (never overwritten).
		#[arg(long)]
		out: PathBuf,
		/// A file holding the recovery phrase.
		#[arg(long)]
		phrase_file: Option<PathBuf>,
		/// Write the seed in clear, no passphrase.
		#[arg(long)]
		plaintext: bool,
	},
	/// Encrypt a plaintext (version 1) key file in place under a passphrase.
	Encrypt(KeyArg),
	/// Show the account and public keys of a key file.
	Show(KeyArg),
	/// Print the public keys as a JSON file for the KMC (no secret in it).
	Export {
		#[command(flatten)]
		key: KeyArg,
		/// Publish the designated-tester key (a search proxy) instead of the PEKS receiver key.
		#[arg(long)]
		tester: bool,
		/// Write to this file instead of stdout.
		#[arg(long)]
		out: Option<PathBuf>,
	},
}

pub fn run(c: KeysCmd) -> Result<Out, String> {
	match c {
		KeysCmd::New { out: path, plaintext } => {
			let keys = ParticipantKeys::generate();
			write(&keys, &path, plaintext)?;
			let phrase = keys.recovery_phrase();
			out(
				vec![
					format!(
						"new keys in {} ({})",
						path.display(),
						if plaintext { "in clear: keep the file secret" } else { "encrypted under your passphrase" }
					),
					format!("account {}", keys.ss58()),
					"recovery phrase (write it down now and keep it offline; it is shown only this once, and with it anyone has your keys):".into(),
					format!("  {}", phrase.as_str()),
					"  `mbds keys recover` makes the keys again from it if this device or the passphrase is lost".into(),
				],
				json!({"file": path, "account": keys.ss58(), "encrypted": !plaintext, "recovery_phrase": phrase.as_str()}),
			)
		}
		KeysCmd::Recover { out: path, phrase_file, plaintext } => {
			let phrase = match phrase_file {
				Some(f) => Zeroizing::new(
					std::fs::read_to_string(&f)
						.map_err(|e| format!("--phrase-file {}: {e}", f.display()))?,
				),
				None => match std::env::var(RECOVERY_PHRASE_ENV) {
					Ok(p) => Zeroizing::new(p),
					Err(_) if std::io::stdin().is_terminal() => Zeroizing::new(
						rpassword::prompt_password("recovery phrase (24 words): ")
							.map_err(|e| format!("reading the recovery phrase: {e}"))?,
					),
					Err(_) => {
						return Err(format!(
							"give the recovery phrase with --phrase-file, in {RECOVERY_PHRASE_ENV}, or in a terminal"
						))
					}
				},
			};
			let keys = ParticipantKeys::from_recovery_phrase(&phrase)?;
			write(&keys, &path, plaintext)?;
			out(
				vec![
					format!("keys of {} made again in {}", keys.ss58(), path.display()),
					"records sealed to this account open again; the searchable index's counters are found again on the consortium when you next confirm".into(),
				],
				json!({"file": path, "account": keys.ss58(), "encrypted": !plaintext}),
			)
		}
		KeysCmd::Encrypt(k) => {
			if ParticipantKeys::is_encrypted(&k.keys)? {
				return Err(format!("--keys {}: already encrypted", k.keys.display()));
			}
			let keys = ParticipantKeys::load(&k.keys)?;
			let passphrase = keys::new_passphrase(&k.keys)?;
			// Written beside, then moved over the plaintext file in one step.
			let tmp = k.keys.with_extension("encrypting");
			let _ = std::fs::remove_file(&tmp);
			keys.save_encrypted(&tmp, &passphrase)?;
			std::fs::rename(&tmp, &k.keys)
				.map_err(|e| format!("--keys {}: replacing it: {e}", k.keys.display()))?;
			let phrase = keys.recovery_phrase();
			out(
				vec![
					format!("{} encrypted under your passphrase", k.keys.display()),
					"recovery phrase (write it down now and keep it offline; it is shown only this once):".into(),
					format!("  {}", phrase.as_str()),
					"copies and backups of the old plaintext file still hold the keys: delete them".into(),
				],
				json!({"file": k.keys, "account": keys.ss58(), "encrypted": true, "recovery_phrase": phrase.as_str()}),
			)
		}
		KeysCmd::Show(k) => {
			let keys = ParticipantKeys::load(&k.keys)?;
			let set = keys.key_set(SearchKey::Receiver);
			out(
				vec![
					format!("account     {}", keys.ss58()),
					format!("record key  {}", hex0x(&set.record_key.key)),
					format!("search key  {}", hex0x(&set.search_key.key)),
				],
				json!({"account": keys.ss58(), "record_key": hex0x(&set.record_key.key), "search_key": hex0x(&set.search_key.key)}),
			)
		}
		KeysCmd::Export { key, tester, out: path } => {
			let keys = ParticipantKeys::load(&key.keys)?;
			let set = keys.key_set(if tester { SearchKey::Tester } else { SearchKey::Receiver });
			let doc = json!({
				"kind": "mbds-public-keys",
				"account": keys.ss58(),
				"record_key": hex0x(&set.record_key.key),
				"search_key": hex0x(&set.search_key.key),
				"search_key_kind": if tester { "tester" } else { "receiver" },
			});
			if let Some(p) = &path {
				std::fs::write(p, serde_json::to_string_pretty(&doc).expect("json"))
					.map_err(|e| format!("--out {}: {e}", p.display()))?;
			}
			let text = match &path {
				Some(p) => {
					vec![format!("public keys of {} written to {}", keys.ss58(), p.display())]
				}
				None => vec![serde_json::to_string_pretty(&doc).expect("json")],
			};
			out(text, doc)
		}
	}
}
