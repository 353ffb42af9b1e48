//! # Key management centre (KMC) registry
//!
//! The paper's key management centre ("System initialization"): every participant of an MBDS
//! chain — institutions, doctors, patients — is registered here, with exactly one active key
//! set, before it can use any medical call.
//!
//! ## Terms
//! - **Participant**: an account registered by the KMC, with one [`Role`]: an institution of an
//!   [`InstitutionKind`](mbds_primitives::InstitutionKind), a doctor of an institution, or a
//!   patient. The account public key *is* the participant's identity on chain.
//! - **Identity commitment**: the hash of the participant's identity record as encrypted by the
//!   KMC. The chain stores only this hash, never names or document numbers; the KMC keeps the
//!   encrypted record and can prove the binding to an auditor by revealing it.
//! - **Key set**: the account key (the map key) plus the public encryption keys the off-chain
//!   cryptography needs: a record / re-encryption key and a keyword-search key, each opaque
//!   bounded bytes with a [`KeyScheme`] tag, so the runtime links no crypto crate.
//! - **Rotation**: replacing the encryption keys; the replaced set goes to a bounded history
//!   (oldest entry dropped when full; every rotation is also in the event log).
//! - **Medical call**: a call the runtime names in [`Config::MedicalCalls`] (slip submission and
//!   confirmation, consent calls, ...). Only active participants may send them, without fees.
//!
//! ## Trust model
//! The KMC is trusted to verify real identities off-chain before registering, and to attest
//! keys that the participant generated on its own device (the KMC never sees secret keys —
//! better than the paper's central key generation). Two origins share the job
//! ([`Config::KmcOrigin`], [`Config::CouncilOrigin`]; in the MBDS runtime one KMC operator the
//! council appointed, and the council's two thirds):
//! - one **operator** registers, suspends and reinstates patients and doctors, so that a new
//!   patient needs no vote; a doctor acts only once its institution confirms employing them
//!   ([`Pallet::employ`], the institution's own signature), so an operator cannot seat a
//!   doctor of its own at a hospital whose patients' "after a visit" policies would then let
//!   it in;
//! - only the **council** registers, suspends and reinstates institutions (a health authority
//!   runs a proxy and attests emergencies, a hospital employs doctors) and replaces a
//!   participant's keys. One operator who could do these could seat a proxy of its own or
//!   swap a patient's keys for keys it holds: no single party may.
//! - a participant replaces its **own** keys with its own signature ([`Pallet::rotate_own_keys`]).
//!
//! The registry refuses a second registration of the same account or the same identity
//! commitment, so one verified person or institution holds one key set at a time. Suspension
//! (by the KMC, or by another pallet through [`SuspendParticipant`], e.g. abnormal access
//! detection) bars a participant at once. Who suspended decides who reinstates
//! ([`SuspendedBy`]): an operator's suspension any operator lifts; the council's or a
//! safeguard's only the council.
//!
//! ## Fees and spam
//! Patients and doctors must not need to buy currency. The design splits the job in two:
//! - The pallets with medical calls mark them `#[pallet::feeless_if(..)]` for active
//!   participants, and the runtime wraps its payment extension in this crate's
//!   [`SkipFeeIfFeeless`], so no fee is taken from them (and no payment weight charged).
//! - This crate's transaction extension [`CheckParticipant`] rejects a medical call from an
//!   unregistered or suspended account already in the transaction pool, and bounds spam per
//!   identity: at most [`Config::MaxFeelessTxPerWindow`] medical transactions per
//!   [`Config::FeelessWindow`] blocks, counted in [`FeelessQuota`]. The calls a proxy (a
//!   health authority) sends on behalf of a user who signed the request
//!   ([`Config::OnBehalfCalls`]) count in a separate, larger quota ([`OnBehalfQuota`]), so that
//!   refusing users cannot lock a proxy out of the chain while a rogue one stays bounded.
//!
//! Registration gives the account a `sufficients` reference in `frame_system`, so its nonce is
//! stored without any balance and `CheckNonce` accepts its transactions.
//!
//! ## What it does not do
//! - It does not verify identities or keys cryptographically; that is the KMC's off-chain job.
//! - It does not rotate the account key itself (the account is the identity that slips and
//!   consents refer to); a lost account needs a new registration under a new identity
//!   commitment, outside this version.
//! - It does not deregister participants.
//! - The pool checks the quota against the last block's state only, so a burst above the quota
//!   may enter the pool; the surplus is rejected when the block is built and never executed.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

mod extension;
pub mod migrations;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use extension::{CheckParticipant, SkipFeeIfFeeless, SkipOr};
pub use types::*;
pub use weights::WeightInfo;

use frame_support::pallet_prelude::*;
use mbds_primitives::{ParticipantRegistry, Role, SuspendParticipant};
use sp_runtime::{traits::Saturating, transaction_validity::InvalidTransaction};

/// Logging target of this pallet.
pub const LOG_TARGET: &str = "runtime::kmc";

/// `InvalidTransaction::Custom` code: the sender of a medical call is not registered.
pub const INVALID_UNREGISTERED: u8 = 10;
/// `InvalidTransaction::Custom` code: the sender of a medical call is suspended.
pub const INVALID_SUSPENDED: u8 = 11;
/// `InvalidTransaction::Custom` code: the sender is a doctor whose institution has not yet
/// confirmed employing them (`kmc.employ`).
pub const INVALID_AWAITING_INSTITUTION: u8 = 13;
/// Which feeless quota a medical transaction counts in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaKind {
	/// The sender's own ([`Config::MaxFeelessTxPerWindow`]).
	Own,
	/// A health authority's records of what users signed ([`Config::MaxOnBehalfTxPerWindow`]).
	OnBehalf,
}

impl QuotaKind {
	/// Transactions allowed per window.
	pub fn limit<T: Config>(self) -> u32 {
		match self {
			QuotaKind::Own => T::MaxFeelessTxPerWindow::get(),
			QuotaKind::OnBehalf => T::MaxOnBehalfTxPerWindow::get(),
		}
	}
}

/// `InvalidTransaction::Custom` code: the sender used up its feeless quota for this window.
pub const INVALID_QUOTA_EXHAUSTED: u8 = 12;

/// The key set type of a runtime.
pub type KeySetOf<T> = KeySet<<T as Config>::MaxKeyLen>;
/// The participant record type of a runtime.
pub type ParticipantOf<T> = ParticipantInfo<
	<T as frame_system::Config>::AccountId,
	frame_system::pallet_prelude::BlockNumberFor<T>,
>;
/// The retired key set type of a runtime.
pub type RetiredKeySetOf<T> =
	RetiredKeySet<<T as Config>::MaxKeyLen, frame_system::pallet_prelude::BlockNumberFor<T>>;

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::traits::Contains;
	use frame_system::pallet_prelude::*;
	use sp_core::H256;

	/// The in-code storage version. 2 only in the upgrade rehearsal build, whose migration
	/// ([`crate::migrations::v2::RebuildIdentityIndex`]) brings a chain from 1 to 2.
	#[cfg(not(feature = "upgrade-rehearsal"))]
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(1);
	#[cfg(feature = "upgrade-rehearsal")]
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// Who registers, suspends and reinstates patients and doctors: the key management
		/// centre. In the MBDS runtime the council's two thirds, or one KMC operator the
		/// council appointed (root on a development chain). Anyone passing this origin can
		/// create identities, so never set it to a plain signed origin: only signed by an
		/// appointed account.
		type KmcOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Who alone registers, suspends and reinstates **institutions** (health authorities
		/// run proxies and attest emergencies; hospitals and platforms employ doctors) and
		/// **re-keys** any participant: in the MBDS runtime the council's two thirds, never one
		/// operator. One operator who could do these could seat a health authority of its own
		/// or swap a patient's keys for keys it holds, and so break a patient's decision
		/// alone. Must be at least as strict as [`Config::KmcOrigin`].
		type CouncilOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Largest encoded public key accepted, in bytes. Must hold the biggest key of every
		/// scheme in use (a BLS12-381 G2 point is 96 bytes); too small and those participants
		/// cannot be registered.
		#[pallet::constant]
		type MaxKeyLen: Get<u32>;

		/// How many replaced key sets are kept per participant. When full, the oldest is
		/// dropped (the rotation events keep the full record).
		#[pallet::constant]
		type MaxKeyHistory: Get<u32>;

		/// Medical transactions an active participant may send without fees per window.
		/// Too low blocks busy doctors; too high lets one identity fill blocks for free.
		#[pallet::constant]
		type MaxFeelessTxPerWindow: Get<u32>;

		/// Length of the quota window, in blocks. Must not be zero.
		#[pallet::constant]
		type FeelessWindow: Get<BlockNumberFor<Self>>;

		/// The runtime calls that only active participants may send (and that are feeless for
		/// them). A call missing here is neither gated nor counted by [`CheckParticipant`].
		type MedicalCalls: Contains<<Self as frame_system::Config>::RuntimeCall>;

		/// The medical calls a **suspended patient** may still send (feeless, counted in the
		/// same quota): the ones by which a patient withdraws what they allowed (revoke a
		/// grant, deny a request, remove a policy); other suspended participants may not. Suspension stops an identity acting, never a
		/// patient taking back their consent. Must be a subset of [`Config::MedicalCalls`].
		type RetreatCalls: Contains<<Self as frame_system::Config>::RuntimeCall>;

		/// The medical calls a proxy (an active health authority) sends **on behalf of a user
		/// whose signed request it carries** (its record of an access or a search the user
		/// signed). Sent by a health authority they count in [`OnBehalfQuota`], bounded by
		/// [`Config::MaxOnBehalfTxPerWindow`], not in its own quota: one proxy serves every
		/// user, so refusing users must not lock it out of the chain. Sent by anyone else they
		/// count as ordinary medical calls. Must be a subset of [`Config::MedicalCalls`].
		type OnBehalfCalls: Contains<<Self as frame_system::Config>::RuntimeCall>;

		/// On-behalf calls a health authority may send without fees per window.
		#[pallet::constant]
		type MaxOnBehalfTxPerWindow: Get<u32>;

		/// Weights of this pallet's calls and of [`CheckParticipant`].
		type WeightInfo: WeightInfo;
	}

	/// Registered participants by account.
	#[pallet::storage]
	pub type Participants<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, ParticipantOf<T>, OptionQuery>;

	/// Which account holds an identity commitment; refuses a second registration of one
	/// identity.
	#[pallet::storage]
	pub type IdentityOwner<T: Config> = StorageMap<_, Identity, H256, T::AccountId, OptionQuery>;

	/// The active key set of each participant.
	#[pallet::storage]
	pub type ActiveKeys<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, KeySetOf<T>, OptionQuery>;

	/// Key sets replaced by rotations, oldest first.
	#[pallet::storage]
	pub type KeyHistory<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<RetiredKeySetOf<T>, T::MaxKeyHistory>,
		ValueQuery,
	>;

	/// Feeless medical transactions used per participant in its current window.
	#[pallet::storage]
	pub type FeelessQuota<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, QuotaUsage<BlockNumberFor<T>>, OptionQuery>;

	/// On-behalf transactions ([`Config::OnBehalfCalls`]) used by each health authority in the
	/// current window.
	#[pallet::storage]
	pub type OnBehalfQuota<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, QuotaUsage<BlockNumberFor<T>>, OptionQuery>;

	/// Who suspended each suspended participant ([`Suspender`]); removed on reinstatement.
	/// A suspension by the council or by another pallet is lifted only by the council.
	#[pallet::storage]
	pub type SuspendedBy<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, Suspender, OptionQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// Participants registered in the genesis block, as if by the KMC.
		pub participants: alloc::vec::Vec<GenesisParticipant<T::AccountId>>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			for p in &self.participants {
				let keys = KeySet {
					record_key: PublicKey {
						scheme: p.record_scheme,
						key: p.record_key.clone().try_into().expect("genesis record key too long"),
					},
					search_key: PublicKey {
						scheme: p.search_scheme,
						key: p.search_key.clone().try_into().expect("genesis search key too long"),
					},
				};
				Pallet::<T>::ensure_can_register(&p.account, &p.role, &p.identity).expect(
					"invalid genesis participant (duplicate, or doctor before institution)",
				);
				Pallet::<T>::do_register(
					p.account.clone(),
					p.role.clone(),
					p.identity,
					keys,
					ParticipantStatus::Active,
				);
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// The KMC registered a participant.
		Registered { who: T::AccountId, role: Role<T::AccountId>, identity: H256 },
		/// The KMC attested a new key set; the old one went to the history.
		KeysRotated { who: T::AccountId, version: u32 },
		/// A participant was suspended and can no longer use medical calls.
		Suspended { who: T::AccountId },
		/// The KMC reinstated a suspended participant.
		Reinstated { who: T::AccountId },
		/// `institution` confirmed that it employs `doctor`, who may now act.
		Employed { institution: T::AccountId, doctor: T::AccountId },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// This account is already registered; one account holds one identity.
		AccountAlreadyRegistered,
		/// This identity commitment is already bound to another account; one identity holds
		/// one key set at a time.
		IdentityAlreadyRegistered,
		/// The account is not registered; register it first.
		NotRegistered,
		/// The doctor's institution is not a registered institution.
		UnknownInstitution,
		/// The doctor's institution is suspended; reinstate it first.
		InstitutionSuspended,
		/// Doctors belong to hospitals and internet-medicine platforms only.
		InstitutionCannotEmployDoctors,
		/// The participant is already suspended.
		AlreadySuspended,
		/// The participant is not suspended, so there is nothing to reinstate.
		NotSuspended,
		/// The new key set equals the active one; nothing to rotate.
		SameKeys,
		/// A public key is empty; every key must carry bytes.
		EmptyKey,
		/// The participant is not active (suspended: only the council may replace its keys;
		/// or a doctor still awaiting its institution's confirmation).
		NotActive,
		/// Only a council motion (two thirds) may do this: register, suspend or reinstate an
		/// institution or a health authority, reinstate a participant the council or an
		/// automatic safeguard suspended, or replace a participant's keys. One KMC operator
		/// may act alone for patients and doctors only; a participant may replace its own
		/// keys with `rotate_own_keys`.
		CouncilOnly,
		/// Only the doctor's own institution confirms employing them.
		NotTheDoctorsInstitution,
		/// The doctor is not waiting for its institution's confirmation (already employed,
		/// or suspended).
		NotAwaitingInstitution,
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Register `who` with `role`, identity commitment `identity` and public encryption
		/// keys `keys` (generated on the participant's device, attested by the KMC).
		///
		/// Origin: [`Config::KmcOrigin`] for a patient or a doctor; [`Config::CouncilOrigin`]
		/// for an institution of any kind ([`Error::CouncilOnly`] from an operator). Refused
		/// if the account or the identity commitment is already registered, or if a doctor's
		/// institution is not an active hospital or platform. A doctor starts
		/// [`ParticipantStatus::AwaitingInstitution`] and acts once its institution confirms
		/// it ([`Pallet::employ`]).
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register())]
		pub fn register(
			origin: OriginFor<T>,
			who: T::AccountId,
			role: Role<T::AccountId>,
			identity: H256,
			keys: KeySetOf<T>,
		) -> DispatchResult {
			Self::ensure_kmc(origin, Self::council_only(&role))?;
			Self::ensure_can_register(&who, &role, &identity)?;
			Self::ensure_keys_non_empty(&keys)?;

			let status = match role {
				Role::Doctor { .. } => ParticipantStatus::AwaitingInstitution,
				_ => ParticipantStatus::Active,
			};
			Self::do_register(who, role, identity, keys, status);
			Ok(())
		}

		/// Replace the encryption keys of `who` with `keys`; the old set goes to the history.
		///
		/// Origin: [`Config::CouncilOrigin`] (a motion attests the new keys; one operator
		/// gets [`Error::CouncilOnly`]): the way back for a participant who lost the device
		/// holding its account key. A participant who still holds it uses
		/// [`Pallet::rotate_own_keys`]. Allowed while suspended, so that a compromised key can
		/// be replaced before reinstatement.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::rotate_keys())]
		pub fn rotate_keys(
			origin: OriginFor<T>,
			who: T::AccountId,
			keys: KeySetOf<T>,
		) -> DispatchResult {
			Self::ensure_kmc(origin, true)?;
			Self::do_rotate(who, keys)
		}

		/// Replace the caller's own encryption keys with `keys` (made on its device); the old
		/// set goes to the history. Records sealed to the old keys stay readable with the old
		/// secret keys; new ones are sealed to the new keys.
		///
		/// Origin: signed by an active participant (a medical call: feeless for it, counted in
		/// its quota; refused in the pool for anyone else). A suspended participant's keys
		/// are replaced by the council ([`Pallet::rotate_keys`]).
		#[pallet::call_index(4)]
		// The same storage work as `rotate_keys` (full history, oldest dropped); its measured
		// weight is this call's.
		#[pallet::weight(T::WeightInfo::rotate_keys())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _keys: &KeySetOf<T>| -> bool {
			ensure_signed(origin.clone()).is_ok_and(|who| Pallet::<T>::is_active(&who))
		})]
		pub fn rotate_own_keys(origin: OriginFor<T>, keys: KeySetOf<T>) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let info = Participants::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			ensure!(info.status == ParticipantStatus::Active, Error::<T>::NotActive);
			Self::do_rotate(who, keys)
		}

		/// Suspend `who`: every medical call from it is refused until reinstatement.
		///
		/// Origin: [`Config::KmcOrigin`] for a patient or a doctor, [`Config::CouncilOrigin`]
		/// for an institution. Other pallets suspend through [`SuspendParticipant`].
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::suspend())]
		pub fn suspend(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			let by = Self::ensure_kmc(origin, Self::council_only_for(&who))?;
			Self::do_suspend(&who, by)
		}

		/// Reinstate a suspended participant after the KMC re-verified it.
		///
		/// Origin: [`Config::KmcOrigin`] for a patient or a doctor an operator suspended;
		/// [`Config::CouncilOrigin`] for an institution, or for anyone the council or an
		/// automatic safeguard ([`SuspendParticipant`]) suspended.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::reinstate())]
		pub fn reinstate(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			let council_only = Self::council_only_for(&who)
				|| SuspendedBy::<T>::get(&who).is_some_and(|by| by != Suspender::Operator);
			Self::ensure_kmc(origin, council_only)?;
			let mut info = Participants::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			ensure!(info.status == ParticipantStatus::Suspended, Error::<T>::NotSuspended);

			info.status = ParticipantStatus::Active;
			Participants::<T>::insert(&who, info);
			SuspendedBy::<T>::remove(&who);
			Self::deposit_event(Event::Reinstated { who });
			Ok(())
		}

		/// Confirm, as `doctor`'s institution, that it employs them: the doctor, registered by
		/// the KMC, may act from now on. A KMC operator alone cannot seat a doctor at a
		/// hospital; the hospital confirms each one.
		///
		/// Origin: signed by the doctor's institution, active (a medical call: feeless for
		/// it, counted in its quota).
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::employ())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _doctor: &T::AccountId| -> bool {
			ensure_signed(origin.clone()).is_ok_and(|who| Pallet::<T>::is_active(&who))
		})]
		pub fn employ(origin: OriginFor<T>, doctor: T::AccountId) -> DispatchResult {
			let institution = ensure_signed(origin)?;
			let mut info = Participants::<T>::get(&doctor).ok_or(Error::<T>::NotRegistered)?;
			match &info.role {
				Role::Doctor { institution: employer } if *employer == institution => {}
				_ => return Err(Error::<T>::NotTheDoctorsInstitution.into()),
			}
			ensure!(Self::is_active(&institution), Error::<T>::InstitutionSuspended);
			ensure!(
				info.status == ParticipantStatus::AwaitingInstitution,
				Error::<T>::NotAwaitingInstitution
			);

			info.status = ParticipantStatus::Active;
			Participants::<T>::insert(&doctor, info);
			Self::deposit_event(Event::Employed { institution, doctor });
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		/// Replaces the active key set of `who`; the old one goes to the history.
		fn do_rotate(who: T::AccountId, keys: KeySetOf<T>) -> DispatchResult {
			let mut info = Participants::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			Self::ensure_keys_non_empty(&keys)?;
			let old = ActiveKeys::<T>::get(&who).ok_or(Error::<T>::NotRegistered)?;
			ensure!(old != keys, Error::<T>::SameKeys);

			let now = frame_system::Pallet::<T>::block_number();
			let retired = RetiredKeySet {
				version: info.key_version,
				keys: old,
				active_from: info.keys_since,
				retired_at: now,
			};
			KeyHistory::<T>::mutate(&who, |history| {
				if history.is_full() && !history.is_empty() {
					history.remove(0);
				}
				// Cannot fail: room was made above (and a zero bound keeps no history).
				let _ = history.try_push(retired);
			});
			info.key_version = info.key_version.saturating_add(1);
			info.keys_since = now;
			let version = info.key_version;
			Participants::<T>::insert(&who, info);
			ActiveKeys::<T>::insert(&who, keys);
			Self::deposit_event(Event::KeysRotated { who, version });
			Ok(())
		}

		/// Passes if `origin` is the council's, or, unless `council_only`, a KMC operator's,
		/// and says which. `CouncilOnly` for an operator when it is; `BadOrigin` for anyone
		/// else.
		fn ensure_kmc(
			origin: OriginFor<T>,
			council_only: bool,
		) -> Result<Suspender, DispatchError> {
			match T::CouncilOrigin::try_origin(origin) {
				Ok(_) => Ok(Suspender::Council),
				Err(origin) => {
					T::KmcOrigin::ensure_origin(origin)?;
					ensure!(!council_only, Error::<T>::CouncilOnly);
					Ok(Suspender::Operator)
				}
			}
		}

		/// Whether acting on a participant of `role` needs the council: institutions do.
		fn council_only(role: &Role<T::AccountId>) -> bool {
			matches!(role, Role::Institution(_))
		}

		/// Whether acting on `who` needs the council (an unregistered account does not: the
		/// call then fails with `NotRegistered`).
		fn council_only_for(who: &T::AccountId) -> bool {
			Participants::<T>::get(who).is_some_and(|p| Self::council_only(&p.role))
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn integrity_test() {
			assert!(!T::FeelessWindow::get().is_zero(), "FeelessWindow must not be zero");
			assert!(T::MaxKeyLen::get() > 0, "MaxKeyLen must not be zero");
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	impl<T: Config> Pallet<T> {
		/// Checks that `who` may be registered with `role` and `identity`. Writes nothing.
		pub(crate) fn ensure_can_register(
			who: &T::AccountId,
			role: &Role<T::AccountId>,
			identity: &H256,
		) -> DispatchResult {
			ensure!(!Participants::<T>::contains_key(who), Error::<T>::AccountAlreadyRegistered);
			ensure!(
				!IdentityOwner::<T>::contains_key(identity),
				Error::<T>::IdentityAlreadyRegistered
			);
			if let Role::Doctor { institution } = role {
				let inst =
					Participants::<T>::get(institution).ok_or(Error::<T>::UnknownInstitution)?;
				match inst.role {
					Role::Institution(kind) => ensure!(
						matches!(
							kind,
							mbds_primitives::InstitutionKind::Hospital
								| mbds_primitives::InstitutionKind::InternetPlatform
						),
						Error::<T>::InstitutionCannotEmployDoctors
					),
					_ => return Err(Error::<T>::UnknownInstitution.into()),
				}
				ensure!(inst.status == ParticipantStatus::Active, Error::<T>::InstitutionSuspended);
			}
			Ok(())
		}

		fn ensure_keys_non_empty(keys: &KeySetOf<T>) -> DispatchResult {
			ensure!(
				!keys.record_key.key.is_empty() && !keys.search_key.key.is_empty(),
				Error::<T>::EmptyKey
			);
			Ok(())
		}

		/// Writes a registration that [`Self::ensure_can_register`] accepted.
		pub(crate) fn do_register(
			who: T::AccountId,
			role: Role<T::AccountId>,
			identity: H256,
			keys: KeySetOf<T>,
			status: ParticipantStatus,
		) {
			let now = frame_system::Pallet::<T>::block_number();
			// The account must exist without a balance so `CheckNonce` accepts it.
			frame_system::Pallet::<T>::inc_sufficients(&who);
			IdentityOwner::<T>::insert(identity, who.clone());
			ActiveKeys::<T>::insert(&who, keys);
			Participants::<T>::insert(
				&who,
				ParticipantInfo {
					role: role.clone(),
					identity,
					status,
					registered_at: now,
					key_version: 0,
					keys_since: now,
				},
			);
			Self::deposit_event(Event::Registered { who, role, identity });
		}

		pub(crate) fn do_suspend(who: &T::AccountId, by: Suspender) -> DispatchResult {
			let mut info = Participants::<T>::get(who).ok_or(Error::<T>::NotRegistered)?;
			match info.status {
				ParticipantStatus::Active => {}
				ParticipantStatus::Suspended => return Err(Error::<T>::AlreadySuspended.into()),
				ParticipantStatus::AwaitingInstitution => return Err(Error::<T>::NotActive.into()),
			}

			info.status = ParticipantStatus::Suspended;
			Participants::<T>::insert(who, info);
			SuspendedBy::<T>::insert(who, by);
			Self::deposit_event(Event::Suspended { who: who.clone() });
			Ok(())
		}

		/// Whether `who` may send a medical transaction now: registered, active (or, for a
		/// retreat call, suspended), and with quota left in the current window; for an
		/// on-behalf call by an active health authority, in its on-behalf quota. The quota the
		/// transaction counts in. Reads only.
		pub fn check_feeless(
			who: &T::AccountId,
			retreat: bool,
			on_behalf: bool,
		) -> Result<QuotaKind, InvalidTransaction> {
			let info = Participants::<T>::get(who)
				.ok_or(InvalidTransaction::Custom(INVALID_UNREGISTERED))?;
			// A suspended patient may still take consent back; nobody else acts while
			// suspended.
			let retreat = retreat && info.role == Role::Patient;
			match info.status {
				ParticipantStatus::Active => {}
				ParticipantStatus::Suspended if retreat => {}
				ParticipantStatus::Suspended => {
					return Err(InvalidTransaction::Custom(INVALID_SUSPENDED))
				}
				ParticipantStatus::AwaitingInstitution => {
					return Err(InvalidTransaction::Custom(INVALID_AWAITING_INSTITUTION))
				}
			}
			let kind = if on_behalf
				&& info.status == ParticipantStatus::Active
				&& info.role == Role::Institution(mbds_primitives::InstitutionKind::HealthAuthority)
			{
				QuotaKind::OnBehalf
			} else {
				QuotaKind::Own
			};
			if Self::quota_used_of(who, kind) >= kind.limit::<T>() {
				return Err(InvalidTransaction::Custom(INVALID_QUOTA_EXHAUSTED));
			}
			Ok(kind)
		}

		/// Medical transactions `who` has sent in the current window (its own quota).
		pub fn quota_used(who: &T::AccountId) -> u32 {
			Self::quota_used_of(who, QuotaKind::Own)
		}

		/// Transactions `who` has sent in the current window, in the quota of `kind`.
		pub fn quota_used_of(who: &T::AccountId, kind: QuotaKind) -> u32 {
			let now = frame_system::Pallet::<T>::block_number();
			let usage = match kind {
				QuotaKind::Own => FeelessQuota::<T>::get(who),
				QuotaKind::OnBehalf => OnBehalfQuota::<T>::get(who),
			};
			match usage {
				Some(q) if now < q.window_start.saturating_add(T::FeelessWindow::get()) => q.used,
				_ => 0,
			}
		}

		/// Counts one medical transaction of `who` against its quota, starting a new window
		/// if the last one ended.
		pub fn note_feeless(who: &T::AccountId, kind: QuotaKind) {
			let now = frame_system::Pallet::<T>::block_number();
			let count = |q: &mut Option<QuotaUsage<BlockNumberFor<T>>>| {
				let window = T::FeelessWindow::get();
				match q {
					Some(q) if now < q.window_start.saturating_add(window) => {
						q.used = q.used.saturating_add(1)
					}
					_ => *q = Some(QuotaUsage { window_start: now, used: 1 }),
				}
			};
			match kind {
				QuotaKind::Own => FeelessQuota::<T>::mutate(who, count),
				QuotaKind::OnBehalf => OnBehalfQuota::<T>::mutate(who, count),
			}
		}

		/// The active key set of `who`, if registered.
		pub fn keys_of(who: &T::AccountId) -> Option<KeySetOf<T>> {
			ActiveKeys::<T>::get(who)
		}
	}
}

impl<T: Config> Pallet<T> {
	/// Checks the registry's invariants (see [`mbds_primitives::invariants`]); `Err` names the
	/// first one broken:
	/// - every participant has an active key set, and every key set belongs to a participant;
	/// - every participant's identity commitment points back to it ([`IdentityOwner`]), and
	///   every index entry is such a commitment (so no two participants share one);
	/// - only suspended participants have a recorded suspender ([`SuspendedBy`]; one suspended
	///   before spec 105 has none);
	/// - only doctors await their institution, and a doctor's institution is a registered
	///   hospital or internet platform;
	/// - a participant's retired key sets have versions below its active one, oldest first;
	/// - quota counters ([`FeelessQuota`], [`OnBehalfQuota`]) belong to participants, the
	///   on-behalf ones to health authorities;
	/// - every participant holds the `sufficients` reference registration gave its account.
	///
	/// Reads every participant and every entry of the registry's maps: for tests and
	/// `try-runtime`, never called by the runtime itself.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use mbds_primitives::{ensure_invariant, InstitutionKind};
		let (mut participants, mut suspended) = (0usize, 0usize);
		for (who, p) in Participants::<T>::iter() {
			participants += 1;
			ensure_invariant!(
				ActiveKeys::<T>::contains_key(&who),
				"kmc: every participant has active keys",
				"{who:?} has none"
			);
			let owner = IdentityOwner::<T>::get(p.identity);
			ensure_invariant!(
				owner.as_ref() == Some(&who),
				"kmc: a participant's identity commitment points back to it",
				"{who:?}'s commitment {:?} points to {owner:?}",
				p.identity
			);
			// A suspender is recorded only for a suspended participant. A suspended
			// participant may have none: suspensions made before `SuspendedBy` existed (spec
			// 104) are lifted as an operator's are (see `reinstate`).
			let suspender = SuspendedBy::<T>::get(&who);
			let is_suspended = p.status == ParticipantStatus::Suspended;
			suspended += suspender.is_some() as usize;
			ensure_invariant!(
				suspender.is_none() || is_suspended,
				"kmc: only suspended participants have a recorded suspender",
				"{who:?} is {:?} with suspender {suspender:?}",
				p.status
			);
			ensure_invariant!(
				p.status != ParticipantStatus::AwaitingInstitution
					|| matches!(p.role, Role::Doctor { .. }),
				"kmc: only doctors await their institution",
				"{who:?} ({:?}) awaits one",
				p.role
			);
			if let Role::Doctor { institution } = &p.role {
				let employer = Participants::<T>::get(institution).map(|i| i.role);
				ensure_invariant!(
					matches!(
						employer,
						Some(Role::Institution(
							InstitutionKind::Hospital | InstitutionKind::InternetPlatform
						))
					),
					"kmc: a doctor's institution is a registered hospital or internet platform",
					"doctor {who:?} works for {institution:?}, registered as {employer:?}"
				);
			}
			let history = KeyHistory::<T>::get(&who);
			ensure_invariant!(
				history.windows(2).all(|w| w[0].version < w[1].version)
					&& history.last().is_none_or(|r| r.version < p.key_version),
				"kmc: retired key sets are older than the active one, oldest first",
				"{who:?}: versions {:?} before active version {}",
				history.iter().map(|r| r.version).collect::<alloc::vec::Vec<_>>(),
				p.key_version
			);
			ensure_invariant!(
				frame_system::Pallet::<T>::account(&who).sufficients > 0,
				"kmc: every participant's account holds a sufficients reference",
				"{who:?} holds none"
			);
		}
		let keys = ActiveKeys::<T>::iter_keys().count();
		ensure_invariant!(
			keys == participants,
			"kmc: every active key set belongs to a participant",
			"{keys} key sets for {participants} participants"
		);
		let identities = IdentityOwner::<T>::iter_keys().count();
		ensure_invariant!(
			identities == participants,
			"kmc: every identity index entry is a participant's commitment",
			"{identities} entries for {participants} participants"
		);
		let suspenders = SuspendedBy::<T>::iter_keys().count();
		ensure_invariant!(
			suspenders == suspended,
			"kmc: only suspended participants have a recorded suspender",
			"{suspenders} suspenders, {suspended} of them of suspended participants"
		);
		for who in KeyHistory::<T>::iter_keys() {
			ensure_invariant!(
				Participants::<T>::contains_key(&who),
				"kmc: retired key sets belong to participants",
				"{who:?} is not one"
			);
		}
		for who in FeelessQuota::<T>::iter_keys() {
			ensure_invariant!(
				Participants::<T>::contains_key(&who),
				"kmc: quota counters belong to participants",
				"{who:?} is not one"
			);
		}
		for who in OnBehalfQuota::<T>::iter_keys() {
			let role = Participants::<T>::get(&who).map(|p| p.role);
			ensure_invariant!(
				role == Some(Role::Institution(InstitutionKind::HealthAuthority)),
				"kmc: on-behalf quota counters belong to health authorities",
				"{who:?} is {role:?}"
			);
		}
		Ok(())
	}
}

impl<T: Config> ParticipantRegistry<T::AccountId> for Pallet<T> {
	fn role_of(who: &T::AccountId) -> Option<Role<T::AccountId>> {
		Participants::<T>::get(who).map(|p| p.role)
	}

	fn is_active(who: &T::AccountId) -> bool {
		Participants::<T>::get(who).is_some_and(|p| p.status == ParticipantStatus::Active)
	}
}

impl<T: Config> SuspendParticipant<T::AccountId> for Pallet<T> {
	/// Suspends an active participant. Fails with `NotRegistered` or `AlreadySuspended`
	/// and then changes nothing.
	fn suspend(who: &T::AccountId) -> DispatchResult {
		Self::do_suspend(who, Suspender::Automatic)
	}
}

#[cfg(feature = "runtime-benchmarks")]
impl<T: Config> mbds_primitives::RegistryBenchmarkHelper<T::AccountId> for Pallet<T> {
	fn register_active(who: &T::AccountId, role: Role<T::AccountId>) {
		use sp_runtime::traits::Hash;
		let identity = sp_runtime::traits::BlakeTwo256::hash_of(who);
		let key = |b: u8| PublicKey {
			scheme: KeyScheme::Other(0),
			key: alloc::vec![b; 33].try_into().unwrap_or_default(),
		};
		if !Participants::<T>::contains_key(who) {
			Self::do_register(
				who.clone(),
				role,
				identity,
				KeySet { record_key: key(1), search_key: key(2) },
				ParticipantStatus::Active,
			);
		}
	}
}
