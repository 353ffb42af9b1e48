//! `mbds keys new|show|export`: key files, made on this device.

use crate::{
	args::KeyArg,
	common::{hex0x, out, Out},
};
use clap::Subcommand;
use mbds_client::{ParticipantKeys, SearchKey};
use serde_json::json;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum KeysCmd {
	/// Generate a new key file (mode 0600) on this device.
	New {
		/// Where to write it (never overwritten).
		#[arg(long)]
		out: PathBuf,
	},
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
		KeysCmd::New { out: path } => {
			let keys = ParticipantKeys::generate();
			keys.save(&path)?;
			out(
				vec![
					format!("new keys in {} (keep it secret, back it up)", path.display()),
					format!("account {}", keys.ss58()),
				],
				json!({"file": path, "account": keys.ss58()}),
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
