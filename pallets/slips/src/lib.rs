//! # HMI transaction slips
//!
//! The ledger of the paper's transaction slips ("HMI data generation and release", "Data
//! storage", Fig. 3) on a hospital or internet-medicine platform chain, and the summary batches
//! that chain hands to the consortium chain (Fig. 4).
//!
//! ## Terms
//! - **Slip**: the on-chain record of one HMI (health and medical information record): when it
//!   was generated, its transaction type and content, doctor, patient, encrypted keywords,
//!   encrypted storage address and the record's hash. The record itself is encrypted off-chain.
//! - **Visit proof**: the patient's signature over a [`VisitStatement`] "I am at
//!   `institution` at `issued_at`" ([`VisitProof`], from `mbds-primitives`). A doctor submits a
//!   slip only with a visit proof of the patient for the doctor's institution, at most
//!   [`Config::VisitValidity`] old: a slip needs a relation between doctor and patient, and
//!   only the patient can make one. One proof covers every record of that visit.
//! - **Doctor signature**: the signature of the `submit_slip` extrinsic. The runtime verifies it
//!   against the doctor's account before dispatch and the block keeps it, so it proves who
//!   submitted what and cannot be denied later. The patient's signature is that of the
//!   `confirm_slip` extrinsic, which names the slip id *and* the record hash the patient
//!   checked.
//! - **Summary item**: (patient, one encrypted keyword, record hash, the record's categories,
//!   chain id, block number, slip id). One item per confirmed slip *and encrypted keyword*, so a keyword trapdoor on
//!   the consortium chain matches exactly one item.
//! - **Summary batch**: the items confirmed during a window. A batch opens with its first item
//!   and closes at the start of the block in which [`Config::BatchBlocks`] blocks or
//!   [`Config::BatchPeriodMs`] milliseconds have passed since then, or at once when a
//!   confirmation's items do not fit in it ([`Config::MaxItemsPerBatch`]): that confirmation
//!   opens the next batch, so a confirmation never fails for a full batch. It stores a Merkle
//!   root over its items; the items stay in storage for the relayer.
//! - **Merkle tree**: `binary-merkle-tree` with `BlakeTwo256` (Substrate's native hash, also
//!   what the consortium runtime verifies with). Leaf = SCALE encoding of the item; leaves are
//!   hashed, an odd last node is promoted. Check with [`verify_item`].
//!
//! ## Life of a slip
//! A doctor of this chain's institution submits it (`Pending`) with the patient's visit proof;
//! the patient confirms or rejects it with a reason before [`Config::PendingPeriod`] blocks
//! pass. Only that one transition ever happens: no call modifies a slip's fields, and a decided
//! slip never changes again. A slip not decided in time expires: from the block at which its
//! period ends it can no longer be decided, and it is removed from the ledger, the patient's
//! list and the pending index ([`Event::SlipExpired`]) at the start of that block, or of a
//! later one if many slips expire at once (see below); the doctor must submit it again.
//!
//! ## Bounds against slip spam
//! Slips are feeless, so the ledger bounds what one doctor can put in front of a patient: at
//! most [`Config::MaxPendingPerPatient`] undecided slips per patient and at most
//! [`Config::MaxPendingPerDoctorPatient`] per (doctor, patient); a further slip fails until
//! one is decided or expires. Expiry runs in `on_initialize`: a cursor walks the slips in id
//! order (ids, and so the ends of their periods, grow with submission), examining at most
//! [`Config::MaxExpiriesPerBlock`] slips a block and stopping at the first pending slip whose
//! period has not ended. No limit applies to how many slips one block takes: weight alone
//! bounds it. A slip holds a pending place for [`Config::PendingPeriod`] blocks, plus, after
//! a burst of more than `MaxExpiriesPerBlock` slips a block, the blocks the cursor needs to
//! catch up (the burst's size / `MaxExpiriesPerBlock`). Confirmed and rejected slips are the
//! patient's decisions and stay.
//!
//! ## Reading a patient's slips
//! Every slip about a patient has a position in the patient's list (`PatientSlipAt`, in
//! submission order; [`SlipsApi::patient_slip_count`] positions). A slip removed by expiry
//! leaves its position empty, so clients page through positions `0..patient_slip_count` with
//! [`SlipsApi::patient_slips`] (at most [`MAX_SLIPS_PER_QUERY`] positions per call), ideally at
//! one block hash, until the end; a page may hold fewer slips than positions.
//!
//! ## Trust model
//! Identities come from the participant registry ([`Config::Participants`], the KMC pallet):
//! only active doctors of the chain's institution submit, only the slip's active patient
//! decides, and only about a patient who signed a recent visit proof for that institution.
//! The chain trusts the doctor's stated generation time only to be not in the future;
//! it cannot check encrypted fields (the patient does, off-chain, before confirming). Block
//! producers are the institution's validators with GRANDPA finality; a batch is final when its
//! block is.
//!
//! ## What it does not do
//! - It does not store or see records, keywords or addresses in clear.
//! - It does not send batches to the consortium; a relayer reads them via [`SlipsApi`].
//! - It does not prune closed batches or decided slips (pruning after anchoring is future
//!   work); it removes only slips that expired undecided.
//! - It does not stop a doctor from using one visit proof for several slips within
//!   [`Config::VisitValidity`] (a visit yields several records); the pending bounds limit
//!   what they cost the patient.
//! - Time-based closing reads chain time in `on_initialize`, i.e. the previous block's
//!   timestamp, so a batch may close up to one block after its time window ends.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub use pallet::*;

pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use types::*;
pub use weights::WeightInfo;

use alloc::vec::Vec;
use codec::{Codec, Encode};
use frame_support::{pallet_prelude::*, traits::UnixTime};
use frame_system::pallet_prelude::BlockNumberFor;
pub use mbds_primitives::statements::{VisitProof, VisitStatement};
use mbds_primitives::{
	consent::{CategoryId, CategoryList},
	ChainIdentity, Moment, ParticipantRegistry, Role,
};
use sp_core::H256;
use sp_runtime::traits::{BlakeTwo256, Hash, IdentifyAccount, Saturating, Verify};

pub mod migrations;

/// Logging target of this pallet.
pub const LOG_TARGET: &str = "runtime::slips";

/// How far in the future (chain time) a slip's generation timestamp, or a visit proof's
/// `issued_at`, may lie: five minutes of clock skew between a participant's device and the
/// chain.
pub const MAX_FUTURE_DRIFT_MS: Moment = 5 * 60 * 1000;

/// Most proofs one runtime-API call computes; page through bigger batches.
pub const MAX_PROOFS_PER_QUERY: u32 = 256;

/// Most positions of a patient's list one `patient_slips` runtime-API call reads.
pub const MAX_SLIPS_PER_QUERY: u32 = 256;

/// Slips the expiry cursor may pass over (decided or gone: one read each) per slip it may
/// expire in a block: decided slips cost it little, so it keeps up with a chain whose slips
/// are mostly decided at [`PASSES_PER_EXPIRY`] times the rate of undecided ones.
pub const PASSES_PER_EXPIRY: u32 = 8;

/// What the expiry cursor did with one slip.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
	/// Pending and due: expired now.
	Expired,
	/// Decided, or no longer in the ledger: passed over.
	Passed,
	/// Pending and not due yet: the cursor stops here.
	NotDue,
}

/// Bound of an [`ExpiryQueue`] entry: the most slips a block took before storage version 2
/// (the runtime's `MaxSlipsPerBlock` of specs up to 105), so every stored entry decodes.
pub const LEGACY_EXPIRY_QUEUE_LEN: u32 = 128;

/// The slip type of a runtime.
pub type SlipOf<T> = Slip<
	<T as frame_system::Config>::AccountId,
	BlockNumberFor<T>,
	<T as Config>::MaxContentLen,
	<T as Config>::MaxKeywords,
	<T as Config>::MaxKeywordLen,
	<T as Config>::MaxAddressLen,
>;

/// The visit proof type of a runtime: the patient's signed [`VisitStatement`].
pub type VisitProofOf<T> =
	VisitProof<<T as frame_system::Config>::AccountId, <T as Config>::Signature>;

/// The pending-index entry type of a runtime.
pub type PendingSlipOf<T> = PendingSlip<<T as frame_system::Config>::AccountId>;

/// The summary item type of a runtime.
pub type SummaryItemOf<T> = SummaryItem<
	<T as frame_system::Config>::AccountId,
	BlockNumberFor<T>,
	<T as Config>::MaxKeywordLen,
>;

/// Checks that `item` is leaf `leaf_index` of the `number_of_leaves`-leaf batch with Merkle
/// root `root`. Pure: usable by the consortium runtime, relayers and clients.
pub fn verify_item<Item: Encode>(
	root: &H256,
	item: &Item,
	leaf_index: u32,
	number_of_leaves: u32,
	proof: &[H256],
) -> bool {
	binary_merkle_tree::verify_proof::<BlakeTwo256, _, _>(
		root,
		proof.iter().copied(),
		number_of_leaves,
		leaf_index,
		&item.encode(),
	)
}

// `submit_slip` carries the paper's eight slip fields as arguments.
#[allow(clippy::too_many_arguments)]
#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_system::pallet_prelude::*;

	/// The in-code storage version.
	const STORAGE_VERSION: StorageVersion = StorageVersion::new(2);

	#[pallet::pallet]
	#[pallet::storage_version(STORAGE_VERSION)]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		/// The participant registry (the KMC pallet): who is a doctor of which institution, who
		/// is a patient, who is suspended. A wrong registry lets anyone write slips.
		type Participants: ParticipantRegistry<Self::AccountId>;

		/// Which chain this is (`pallet-chain-info`). Its id goes into every summary item;
		/// slips are accepted only on private (hospital / platform) chains.
		type ChainInfo: ChainIdentity;

		/// Chain time (`pallet-timestamp`), for the generation-time check and time-based
		/// batch closing.
		type UnixTime: UnixTime;

		/// May change this chain's institution (normally set once in genesis). Root or the
		/// council; whoever passes it decides whose doctors may write slips.
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// Largest transaction content, in bytes.
		#[pallet::constant]
		type MaxContentLen: Get<u32>;

		/// Most encrypted keywords per slip (the paper's K). Also bounds the summary items one
		/// confirmation adds.
		#[pallet::constant]
		type MaxKeywords: Get<u32>;

		/// Largest encrypted keyword, in bytes; must fit the PEKS ciphertext in use.
		#[pallet::constant]
		type MaxKeywordLen: Get<u32>;

		/// Largest encrypted storage address, in bytes.
		#[pallet::constant]
		type MaxAddressLen: Get<u32>;

		/// Blocks a patient has to confirm or reject; then the slip expires. Must not be zero.
		#[pallet::constant]
		type PendingPeriod: Get<BlockNumberFor<Self>>;

		/// Most slips the expiry cursor expires at the start of a block (it also passes over
		/// at most [`PASSES_PER_EXPIRY`] times as many decided ones, and stops at the first
		/// pending slip whose period has not ended): bounds that hook's work, not how many
		/// slips a block takes. Must not be zero. The cursor relies on slips' periods ending in
		/// id order, so [`Config::PendingPeriod`] may only grow in later releases: after a
		/// shorter one, newer slips wait behind older ones and leave late (never more than the
		/// difference), though they can no longer be decided once their own period ends.
		#[pallet::constant]
		type MaxExpiriesPerBlock: Get<u32>;

		/// A batch closes this many blocks after its first item (the paper: 10).
		#[pallet::constant]
		type BatchBlocks: Get<BlockNumberFor<Self>>;

		/// ... or this many milliseconds after it (the paper: 10 minutes = 600 000).
		#[pallet::constant]
		type BatchPeriodMs: Get<Moment>;

		/// Most items in one batch. A confirmation whose items do not fit closes the batch at
		/// once and opens the next one; a batch exactly full closes at the next block. Bounds
		/// the closing work.
		#[pallet::constant]
		type MaxItemsPerBatch: Get<u32>;

		/// Signature of a patient's visit proof: the runtime's account signature type
		/// (`MultiSignature`), so the signer of a proof is the patient's account.
		type Signature: Verify<Signer: IdentifyAccount<AccountId = Self::AccountId>> + Parameter;

		/// How long (ms) a patient's visit proof lets the visited institution's doctors submit
		/// slips about the patient, from its `issued_at` (e.g. 30 days).
		#[pallet::constant]
		type VisitValidity: Get<Moment>;

		/// Most undecided (pending) slips about one patient, from all doctors together. Bounds
		/// what slip spam can put in front of a patient.
		#[pallet::constant]
		type MaxPendingPerPatient: Get<u32>;

		/// Most pending slips about one patient from one doctor, so that a few doctors cannot
		/// take all of a patient's [`Config::MaxPendingPerPatient`] places. At most
		/// `MaxPendingPerPatient`.
		#[pallet::constant]
		type MaxPendingPerDoctorPatient: Get<u32>;

		/// Weights of this pallet's calls and hooks.
		type WeightInfo: WeightInfo;

		/// Registers doctors and patients for the benchmarks (the KMC pallet).
		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: mbds_primitives::RegistryBenchmarkHelper<Self::AccountId>;

		/// Makes patient accounts that can sign visit proofs, for the benchmarks.
		#[cfg(feature = "runtime-benchmarks")]
		type SignerHelper: mbds_primitives::statements::SignerBenchmarkHelper<
			Self::AccountId,
			Self::Signature,
		>;
	}

	/// The institution whose doctors may submit slips on this chain.
	#[pallet::storage]
	pub type Institution<T: Config> = StorageValue<_, T::AccountId, OptionQuery>;

	/// Id the next slip gets.
	#[pallet::storage]
	pub type NextSlipId<T: Config> = StorageValue<_, SlipId, ValueQuery>;

	/// Every slip, by id.
	#[pallet::storage]
	pub type Ledger<T: Config> = StorageMap<_, Twox64Concat, SlipId, SlipOf<T>, OptionQuery>;

	/// Number of slips about each patient.
	#[pallet::storage]
	pub type PatientSlipCount<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u32, ValueQuery>;

	/// The n-th slip about a patient (n from 0, in submission order). Empty where a slip
	/// expired undecided and was removed.
	#[pallet::storage]
	pub type PatientSlipAt<T: Config> =
		StorageDoubleMap<_, Blake2_128Concat, T::AccountId, Twox64Concat, u32, SlipId, OptionQuery>;

	/// A patient's pending (undecided) slips, in submission order: the index behind the
	/// pending bounds. A slip leaves it when the patient decides or when it expires.
	#[pallet::storage]
	pub type PendingSlips<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		BoundedVec<PendingSlipOf<T>, T::MaxPendingPerPatient>,
		ValueQuery,
	>;

	/// Slips to expire at the start of a block, if still pending then: how slips submitted
	/// before storage version 2 (spec 106) expire. Nothing is added any more; the entries
	/// drain within one [`Config::PendingPeriod`] of the upgrade, then the map is empty (and a
	/// later release removes it).
	#[pallet::storage]
	pub type ExpiryQueue<T: Config> = StorageMap<
		_,
		Twox64Concat,
		BlockNumberFor<T>,
		BoundedVec<SlipId, ConstU32<LEGACY_EXPIRY_QUEUE_LEN>>,
		ValueQuery,
	>;

	/// The next slip the expiry cursor examines: every slip below it is decided, removed, or
	/// (slips of storage version 1) in [`ExpiryQueue`].
	#[pallet::storage]
	pub type ExpiryCursor<T: Config> = StorageValue<_, SlipId, ValueQuery>;

	/// The batch collecting items, if it has any.
	#[pallet::storage]
	pub type CurrentBatch<T: Config> = StorageValue<_, OpenBatch<BlockNumberFor<T>>, OptionQuery>;

	/// Leaf hashes of the current batch, in order; the root is computed from them at closing.
	#[pallet::storage]
	pub type OpenLeaves<T: Config> =
		StorageValue<_, BoundedVec<H256, T::MaxItemsPerBatch>, ValueQuery>;

	/// Id the next batch gets (= number of batches opened so far).
	#[pallet::storage]
	pub type NextBatchId<T: Config> = StorageValue<_, BatchId, ValueQuery>;

	/// Items of every batch (open or closed), by batch and leaf index.
	#[pallet::storage]
	pub type BatchItems<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		BatchId,
		Twox64Concat,
		u32,
		SummaryItemOf<T>,
		OptionQuery,
	>;

	/// Closed batches with their Merkle roots.
	#[pallet::storage]
	pub type Batches<T: Config> =
		StorageMap<_, Twox64Concat, BatchId, BatchInfo<BlockNumberFor<T>>, OptionQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		/// This chain's institution (a hospital or platform account registered with the KMC).
		pub institution: Option<T::AccountId>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			if let Some(i) = &self.institution {
				Institution::<T>::put(i);
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A doctor submitted a slip; the patient must decide before `expires_at`.
		SlipSubmitted {
			slip_id: SlipId,
			doctor: T::AccountId,
			patient: T::AccountId,
			expires_at: BlockNumberFor<T>,
		},
		/// The patient confirmed a slip; its items went into batch `batch`.
		SlipConfirmed { slip_id: SlipId, patient: T::AccountId, batch: BatchId, items: u32 },
		/// The patient rejected a slip.
		SlipRejected { slip_id: SlipId, patient: T::AccountId, reason: RejectReason },
		/// A slip was not decided in time; it was removed from the ledger and the patient's
		/// list.
		SlipExpired { slip_id: SlipId, patient: T::AccountId, doctor: T::AccountId },
		/// A summary batch closed with this Merkle root.
		BatchClosed { batch: BatchId, root: H256, items: u32 },
		/// This chain's institution changed.
		InstitutionSet { institution: T::AccountId },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// Slips are kept on hospital and platform chains only, not on the consortium chain.
		NotAPrivateChain,
		/// This chain's institution is not set; the admin must set it first.
		InstitutionNotSet,
		/// The sender is not registered with the KMC.
		NotRegistered,
		/// The sender is registered but not as a doctor (e.g. a patient or an institution).
		NotADoctor,
		/// The sender is a doctor of another institution than this chain's.
		NotDoctorOfThisInstitution,
		/// The sending doctor is suspended; the KMC must reinstate them first.
		DoctorSuspended,
		/// This chain's institution is suspended: its doctors do not act for it until the KMC
		/// reinstates it.
		InstitutionSuspended,
		/// The patient is not registered with the KMC.
		PatientNotRegistered,
		/// The named account is registered, but not as a patient.
		NotAPatient,
		/// The patient is suspended; the KMC must reinstate them first.
		PatientSuspended,
		/// The transaction content is longer than `MaxContentLen`.
		ContentTooLong,
		/// A slip needs at least one encrypted keyword.
		NoKeywords,
		/// More encrypted keywords than `MaxKeywords`.
		TooManyKeywords,
		/// An encrypted keyword is empty.
		EmptyKeyword,
		/// An encrypted keyword is longer than `MaxKeywordLen`.
		KeywordTooLong,
		/// More record categories than a grant scope can name (`MAX_SCOPE_CATEGORIES`).
		TooManyCategories,
		/// The encrypted storage address is empty.
		EmptyAddress,
		/// The encrypted storage address is longer than `MaxAddressLen`.
		AddressTooLong,
		/// The generation timestamp lies in the future (beyond five minutes of clock skew).
		GeneratedInFuture,
		/// The patient's visit proof names another institution than the submitting doctor's;
		/// the patient must sign a visit proof for this institution (`mbds visit`).
		VisitAtOtherInstitution,
		/// The patient's visit proof is older than `VisitValidity`; the patient must sign a new
		/// one (`mbds visit`).
		VisitProofExpired,
		/// The patient's visit proof is dated in the future (beyond five minutes of clock
		/// skew); check the patient's device clock.
		VisitProofInFuture,
		/// The patient's visit proof is not signed by the patient (a proof of another patient,
		/// or altered); ask the patient for a new one (`mbds visit`).
		VisitNotSignedByPatient,
		/// The patient already has `MaxPendingPerPatient` undecided slips; submit again when
		/// the patient has decided some or they have expired.
		TooManyPendingForPatient,
		/// This doctor already has `MaxPendingPerDoctorPatient` undecided slips about this
		/// patient; submit again when the patient has decided some or they have expired.
		TooManyPendingFromDoctor,
		/// No longer returned (since spec 106 a block takes as many slips as its weight allows);
		/// kept so that the errors after it keep their indices.
		TooManySlipsInBlock,
		/// No slip has this id.
		UnknownSlip,
		/// Only the slip's patient may confirm or reject it.
		NotSlipPatient,
		/// The slip was already confirmed or rejected; decided slips never change.
		AlreadyDecided,
		/// The slip expired before the patient decided (and was removed); the doctor must
		/// submit it again.
		SlipExpired,
		/// The record hash given does not match the slip's; confirm only what you checked.
		RecordHashMismatch,
		/// No longer returned (since spec 106 a confirmation that does not fit closes the batch
		/// and opens the next); kept so that the errors after it keep their indices.
		BatchFull,
		/// The account is not a registered institution.
		NotAnInstitution,
		/// An indexed confirmation must give exactly one label per keyword of the slip.
		LabelCountMismatch,
		/// An encrypted keyword has the form of a patient's index label (its tag and 32
		/// bytes), which only the patient's confirmation may add.
		KeywordLooksLikeLabel,
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(now: BlockNumberFor<T>) -> Weight {
			let (expired, passed) = Self::expire_pending(now);
			let closed = Self::close_batch_if_due(now);
			T::WeightInfo::expire_slips(expired)
				.saturating_add(T::WeightInfo::pass_slips(passed))
				.saturating_add(T::WeightInfo::close_batch(closed.unwrap_or(0)))
		}

		fn integrity_test() {
			assert!(!T::PendingPeriod::get().is_zero(), "PendingPeriod must not be zero");
			assert!(T::VisitValidity::get() > 0, "VisitValidity must not be zero");
			assert!(
				T::MaxPendingPerDoctorPatient::get() > 0,
				"MaxPendingPerDoctorPatient must not be zero"
			);
			assert!(
				T::MaxPendingPerDoctorPatient::get() <= T::MaxPendingPerPatient::get(),
				"MaxPendingPerDoctorPatient must not exceed MaxPendingPerPatient"
			);
			assert!(!T::BatchBlocks::get().is_zero(), "BatchBlocks must not be zero");
			assert!(T::MaxExpiriesPerBlock::get() > 0, "MaxExpiriesPerBlock must not be zero");
			assert!(T::MaxKeywords::get() > 0, "MaxKeywords must not be zero");
			assert!(
				T::MaxItemsPerBatch::get() >= T::MaxKeywords::get(),
				"a batch must hold at least one slip's items"
			);
			assert!(
				T::MaxKeywordLen::get() as usize > mbds_primitives::INDEX_LABEL_LEN,
				"a keyword must have room for a tagged searchable-index label"
			);
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Submit a slip about `patient` (the doctor is the signer; the extrinsic signature is
		/// the doctor's signature over the slip).
		///
		/// Only an active doctor of this chain's institution; `patient` must be an active
		/// patient, and `visit` the patient's signed proof of a visit to this institution, not
		/// older than [`Config::VisitValidity`]. `categories` are the record's coarse keyword
		/// categories (stored sorted, without duplicates); they travel with the summary to the
		/// consortium, where category-scoped grants apply them. The patient may have at most
		/// [`Config::MaxPendingPerPatient`] pending slips, at most
		/// [`Config::MaxPendingPerDoctorPatient`] of them from this doctor. Feeless for active
		/// participants (see `pallet-kmc`).
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::submit_slip(
			content.len() as u32,
			encrypted_keywords.len() as u32,
		))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _patient: &T::AccountId,
			_visit: &VisitProofOf<T>, _generated_at: &Moment, _tx_type: &TransactionType,
			_content: &Vec<u8>, _encrypted_keywords: &Vec<Vec<u8>>, _categories: &Vec<CategoryId>,
			_encrypted_address: &Vec<u8>,
			_record_hash: &H256| -> bool { T::Participants::is_active_signer(origin) })]
		pub fn submit_slip(
			origin: OriginFor<T>,
			patient: T::AccountId,
			visit: VisitProofOf<T>,
			generated_at: Moment,
			tx_type: TransactionType,
			content: Vec<u8>,
			encrypted_keywords: Vec<Vec<u8>>,
			categories: Vec<CategoryId>,
			encrypted_address: Vec<u8>,
			record_hash: H256,
		) -> DispatchResult {
			let doctor = ensure_signed(origin)?;
			ensure!(T::ChainInfo::chain_kind().is_private(), Error::<T>::NotAPrivateChain);
			let institution = Institution::<T>::get().ok_or(Error::<T>::InstitutionNotSet)?;
			Self::ensure_doctor_of(&doctor, &institution)?;
			Self::ensure_active_patient(&patient)?;
			Self::ensure_visit(&patient, &institution, &visit)?;

			let content: BoundedVec<u8, T::MaxContentLen> =
				content.try_into().map_err(|_| Error::<T>::ContentTooLong)?;
			ensure!(!encrypted_keywords.is_empty(), Error::<T>::NoKeywords);
			ensure!(
				encrypted_keywords.len() <= T::MaxKeywords::get() as usize,
				Error::<T>::TooManyKeywords
			);
			let mut keywords = BoundedVec::<_, T::MaxKeywords>::new();
			for kw in encrypted_keywords {
				ensure!(!kw.is_empty(), Error::<T>::EmptyKeyword);
				// Only the patient labels items (`confirm_slip_indexed`); a writer's keyword in
				// a label's form would enter the patient's index without them.
				ensure!(
					mbds_primitives::index_label_in(&kw).is_none(),
					Error::<T>::KeywordLooksLikeLabel
				);
				let kw: BoundedVec<u8, T::MaxKeywordLen> =
					kw.try_into().map_err(|_| Error::<T>::KeywordTooLong)?;
				keywords.try_push(kw).map_err(|_| Error::<T>::TooManyKeywords)?;
			}
			let categories = Self::checked_categories(categories)?;
			ensure!(!encrypted_address.is_empty(), Error::<T>::EmptyAddress);
			let encrypted_address: BoundedVec<u8, T::MaxAddressLen> =
				encrypted_address.try_into().map_err(|_| Error::<T>::AddressTooLong)?;
			ensure!(
				generated_at <= Self::now_ms().saturating_add(MAX_FUTURE_DRIFT_MS),
				Error::<T>::GeneratedInFuture
			);

			let mut pending = PendingSlips::<T>::get(&patient);
			ensure!(
				pending.len() < T::MaxPendingPerPatient::get() as usize,
				Error::<T>::TooManyPendingForPatient
			);
			ensure!(
				pending.iter().filter(|p| p.doctor == doctor).count()
					< T::MaxPendingPerDoctorPatient::get() as usize,
				Error::<T>::TooManyPendingFromDoctor
			);
			let now = frame_system::Pallet::<T>::block_number();
			let expires_at = now.saturating_add(T::PendingPeriod::get());

			// Writes from here on; nothing below can fail.
			let slip_id = NextSlipId::<T>::get();
			NextSlipId::<T>::put(slip_id.saturating_add(1));
			let n = PatientSlipCount::<T>::get(&patient);
			PatientSlipAt::<T>::insert(&patient, n, slip_id);
			PatientSlipCount::<T>::insert(&patient, n.saturating_add(1));
			// Cannot fail: room checked above.
			let _ = pending.try_push(PendingSlip { slip_id, doctor: doctor.clone(), position: n });
			PendingSlips::<T>::insert(&patient, pending);
			Ledger::<T>::insert(
				slip_id,
				Slip {
					generated_at,
					tx_type,
					content,
					doctor: doctor.clone(),
					institution,
					patient: patient.clone(),
					encrypted_keywords: keywords,
					categories,
					encrypted_address,
					record_hash,
					submitted_at: now,
					status: SlipStatus::Pending { expires_at },
				},
			);
			Self::deposit_event(Event::SlipSubmitted { slip_id, doctor, patient, expires_at });
			Ok(())
		}

		/// Confirm slip `slip_id` as its patient, after checking the record off-chain.
		///
		/// `record_hash` must equal the slip's, so the patient's signature covers the record
		/// they checked. The slip's summary items go into the current batch; if they do not
		/// fit, that batch closes now and the items open the next one. Feeless for active
		/// participants.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::confirm_slip(T::MaxKeywords::get())
			.saturating_add(T::WeightInfo::close_batch(T::MaxItemsPerBatch::get()))
			.saturating_add(T::DbWeight::get().reads_writes(1, 1)))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _slip_id: &SlipId, _record_hash: &H256|
			-> bool { T::Participants::is_active_signer(origin) })]
		pub fn confirm_slip(
			origin: OriginFor<T>,
			slip_id: SlipId,
			record_hash: H256,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			Self::confirm(who, slip_id, record_hash, None)
		}

		/// Reject slip `slip_id` as its patient, with a reason. Feeless for active
		/// participants.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::reject_slip())]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _slip_id: &SlipId, _reason: &RejectReason|
			-> bool { T::Participants::is_active_signer(origin) })]
		pub fn reject_slip(
			origin: OriginFor<T>,
			slip_id: SlipId,
			reason: RejectReason,
		) -> DispatchResult {
			let who = ensure_signed(origin)?;
			let (mut slip, now) = Self::decidable_slip(&who, slip_id)?;

			slip.status = SlipStatus::Rejected { at: now, reason };
			Self::take_pending(&who, slip_id);
			Ledger::<T>::insert(slip_id, slip);
			Self::deposit_event(Event::SlipRejected { slip_id, patient: who, reason });
			Ok(())
		}

		/// Set this chain's institution: a registered hospital or internet-medicine platform.
		///
		/// Origin: [`Config::AdminOrigin`]. Slips already submitted keep their institution.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::set_institution())]
		pub fn set_institution(origin: OriginFor<T>, institution: T::AccountId) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			ensure!(
				matches!(T::Participants::role_of(&institution), Some(Role::Institution(_))),
				Error::<T>::NotAnInstitution
			);

			Institution::<T>::put(&institution);
			Self::deposit_event(Event::InstitutionSet { institution });
			Ok(())
		}

		/// Confirm slip `slip_id` as its patient, as [`Pallet::confirm_slip`] does, with the
		/// patient's searchable-index labels of the record's keywords: `labels[i]` is the
		/// patient's label (`mbds_crypto::sse`) of the slip's i-th keyword, and the i-th summary
		/// item carries it (tagged, [`mbds_primitives::INDEX_LABEL_TAG`]) instead of the
		/// writer's encrypted keyword. On the consortium the patient's search then costs the
		/// records that match, not all of them. One label per keyword: the chain cannot check a
		/// label (only the patient's key makes one), only that there is one for each keyword.
		/// Feeless for active participants.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::confirm_slip_indexed(T::MaxKeywords::get())
			.saturating_add(T::WeightInfo::close_batch(T::MaxItemsPerBatch::get()))
			.saturating_add(T::DbWeight::get().reads_writes(1, 1)))]
		#[pallet::feeless_if(|origin: &OriginFor<T>, _slip_id: &SlipId, _record_hash: &H256,
			_labels: &BoundedVec<[u8; 32], T::MaxKeywords>|
			-> bool { T::Participants::is_active_signer(origin) })]
		pub fn confirm_slip_indexed(
			origin: OriginFor<T>,
			slip_id: SlipId,
			record_hash: H256,
			labels: BoundedVec<[u8; 32], T::MaxKeywords>,
		) -> DispatchResultWithPostInfo {
			let who = ensure_signed(origin)?;
			Self::confirm(who, slip_id, record_hash, Some(&labels[..]))
		}
	}

	impl<T: Config> Pallet<T> {
		fn ensure_doctor_of(who: &T::AccountId, institution: &T::AccountId) -> DispatchResult {
			match T::Participants::role_of(who) {
				None => Err(Error::<T>::NotRegistered.into()),
				Some(Role::Doctor { institution: i }) => {
					ensure!(&i == institution, Error::<T>::NotDoctorOfThisInstitution);
					ensure!(T::Participants::is_active(who), Error::<T>::DoctorSuspended);
					ensure!(
						T::Participants::is_active(institution),
						Error::<T>::InstitutionSuspended
					);
					Ok(())
				}
				Some(_) => Err(Error::<T>::NotADoctor.into()),
			}
		}

		/// `categories` sorted and without duplicates, within the scope bound.
		fn checked_categories(mut categories: Vec<CategoryId>) -> Result<CategoryList, Error<T>> {
			categories.sort_unstable();
			categories.dedup();
			categories.try_into().map_err(|_| Error::<T>::TooManyCategories)
		}

		/// Checks that `visit` is `patient`'s proof of a visit to `institution`, recent enough
		/// and not in the future (chain time). Reads only.
		fn ensure_visit(
			patient: &T::AccountId,
			institution: &T::AccountId,
			visit: &VisitProofOf<T>,
		) -> DispatchResult {
			ensure!(&visit.institution == institution, Error::<T>::VisitAtOtherInstitution);
			let now = Self::now_ms();
			ensure!(
				visit.issued_at <= now.saturating_add(MAX_FUTURE_DRIFT_MS),
				Error::<T>::VisitProofInFuture
			);
			ensure!(
				now <= visit.issued_at.saturating_add(T::VisitValidity::get()),
				Error::<T>::VisitProofExpired
			);
			ensure!(visit.is_signed_by(patient), Error::<T>::VisitNotSignedByPatient);
			Ok(())
		}

		fn ensure_active_patient(who: &T::AccountId) -> DispatchResult {
			match T::Participants::role_of(who) {
				None => Err(Error::<T>::PatientNotRegistered.into()),
				Some(Role::Patient) => {
					ensure!(T::Participants::is_active(who), Error::<T>::PatientSuspended);
					Ok(())
				}
				Some(_) => Err(Error::<T>::NotAPatient.into()),
			}
		}

		/// Confirms `slip_id` for `who` (see [`Pallet::confirm_slip`]), with the items' keywords
		/// replaced by `labels` when given (see [`Pallet::confirm_slip_indexed`]).
		fn confirm(
			who: T::AccountId,
			slip_id: SlipId,
			record_hash: H256,
			labels: Option<&[[u8; 32]]>,
		) -> DispatchResultWithPostInfo {
			let (mut slip, now) = Self::decidable_slip(&who, slip_id)?;
			ensure!(slip.record_hash == record_hash, Error::<T>::RecordHashMismatch);
			let k = slip.encrypted_keywords.len() as u32;
			if let Some(labels) = labels {
				ensure!(labels.len() as u32 == k, Error::<T>::LabelCountMismatch);
			}

			// Writes from here on; nothing below can fail.
			let mut open = CurrentBatch::<T>::get();
			// A batch without room for these items closes now (`k <= MaxKeywords <=
			// MaxItemsPerBatch`, checked by `integrity_test`, so an empty batch has room).
			let mut closed = None;
			if let Some(full) =
				open.take_if(|b| b.item_count.saturating_add(k) > T::MaxItemsPerBatch::get())
			{
				closed = Some(Self::close_batch(now, full));
			}
			let mut batch = open.unwrap_or_else(|| OpenBatch {
				id: NextBatchId::<T>::get(),
				opened_at: now,
				opened_at_ms: Self::now_ms(),
				item_count: 0,
			});
			// Opening a batch reads and bumps `NextBatchId` (the benchmark confirms into an open
			// batch, so this is charged apart).
			let opening = batch.item_count == 0;
			if opening {
				NextBatchId::<T>::put(batch.id.saturating_add(1));
			}
			let chain_id = T::ChainInfo::chain_id();
			for (i, kw) in slip.encrypted_keywords.iter().enumerate() {
				// An indexed confirmation's item carries the patient's label of the i-th
				// keyword instead of the writer's ciphertext (same bound: 33 <= 128 bytes).
				let encrypted_keyword = match labels.and_then(|l| l.get(i)) {
					Some(label) => BoundedVec::truncate_from(
						mbds_primitives::index_label_keyword(label).to_vec(),
					),
					None => kw.clone(),
				};
				let item = SummaryItem {
					patient: who.clone(),
					encrypted_keyword,
					record_hash,
					categories: slip.categories.clone(),
					chain_id,
					block_number: now,
					slip_id,
				};
				// Cannot fail: room made above, and `OpenLeaves` has the same bound.
				let _ = OpenLeaves::<T>::try_append(BlakeTwo256::hash(&item.encode()));
				BatchItems::<T>::insert(batch.id, batch.item_count, item);
				batch.item_count += 1;
			}
			slip.status = SlipStatus::Confirmed { at: now, batch: batch.id };
			let batch_id = batch.id;
			CurrentBatch::<T>::put(batch);
			Self::take_pending(&who, slip_id);
			Ledger::<T>::insert(slip_id, slip);
			Self::deposit_event(Event::SlipConfirmed {
				slip_id,
				patient: who,
				batch: batch_id,
				items: k,
			});
			let closing = closed.map_or(Weight::zero(), T::WeightInfo::close_batch);
			let opened =
				if opening { T::DbWeight::get().reads_writes(1, 1) } else { Weight::zero() };
			let call = match labels {
				None => T::WeightInfo::confirm_slip(k),
				Some(_) => T::WeightInfo::confirm_slip_indexed(k),
			};
			Ok(Some(call.saturating_add(closing).saturating_add(opened)).into())
		}

		/// The slip `slip_id` if `who` is its active patient and it is still pending.
		fn decidable_slip(
			who: &T::AccountId,
			slip_id: SlipId,
		) -> Result<(SlipOf<T>, BlockNumberFor<T>), DispatchError> {
			let slip = Ledger::<T>::get(slip_id).ok_or_else(|| {
				// Slips leave the ledger only by expiring undecided.
				if slip_id < NextSlipId::<T>::get() {
					Error::<T>::SlipExpired
				} else {
					Error::<T>::UnknownSlip
				}
			})?;
			ensure!(&slip.patient == who, Error::<T>::NotSlipPatient);
			let now = frame_system::Pallet::<T>::block_number();
			match slip.status {
				SlipStatus::Pending { expires_at } => {
					ensure!(now < expires_at, Error::<T>::SlipExpired)
				}
				SlipStatus::Expired { .. } => return Err(Error::<T>::SlipExpired.into()),
				_ => return Err(Error::<T>::AlreadyDecided.into()),
			}
			ensure!(T::Participants::is_active(who), Error::<T>::PatientSuspended);
			Ok((slip, now))
		}

		/// Chain time in Unix milliseconds.
		pub fn now_ms() -> Moment {
			T::UnixTime::now().as_millis() as Moment
		}

		/// Expires the slips still pending whose period has ended by `now`: removes each from
		/// the ledger, the patient's list and the pending index. The expiry cursor goes on from
		/// where it stopped, in id order, and stops at the first pending slip whose period has
		/// not ended (later ids end later), after `MaxExpiriesPerBlock` expiries, or after
		/// [`PASSES_PER_EXPIRY`] times as many slips passed over (decided or gone: one read
		/// each); slips of storage version 1 leave through their [`ExpiryQueue`] entry. Returns
		/// how many slips were expired and how many were read without being expired.
		pub(crate) fn expire_pending(now: BlockNumberFor<T>) -> (u32, u32) {
			let (mut expired, mut passed) = (0u32, 0u32);
			let legacy = ExpiryQueue::<T>::take(now);
			for &slip_id in legacy.iter() {
				match Self::expire_if_due(slip_id, now) {
					Expiry::Expired => expired += 1,
					Expiry::Passed | Expiry::NotDue => passed += 1,
				}
			}
			let max_expired = T::MaxExpiriesPerBlock::get();
			let max_passed = max_expired.saturating_mul(PASSES_PER_EXPIRY);
			let next = NextSlipId::<T>::get();
			let start = ExpiryCursor::<T>::get();
			let (mut cursor, mut cursor_expired, mut cursor_passed) = (start, 0u32, 0u32);
			while cursor < next && cursor_expired < max_expired && cursor_passed < max_passed {
				match Self::expire_if_due(cursor, now) {
					Expiry::Expired => cursor_expired += 1,
					Expiry::Passed => cursor_passed += 1,
					Expiry::NotDue => {
						cursor_passed += 1;
						break;
					}
				}
				cursor += 1;
			}
			if cursor != start {
				ExpiryCursor::<T>::put(cursor);
			}
			(expired + cursor_expired, passed + cursor_passed)
		}

		/// Expires slip `slip_id` if it is pending and its period has ended by `now`.
		fn expire_if_due(slip_id: SlipId, now: BlockNumberFor<T>) -> Expiry {
			let Some(slip) = Ledger::<T>::get(slip_id) else { return Expiry::Passed };
			let SlipStatus::Pending { expires_at } = slip.status else { return Expiry::Passed };
			if expires_at > now {
				return Expiry::NotDue;
			}
			if let Some(position) = Self::take_pending(&slip.patient, slip_id) {
				PatientSlipAt::<T>::remove(&slip.patient, position);
			}
			Ledger::<T>::remove(slip_id);
			Self::deposit_event(Event::SlipExpired {
				slip_id,
				patient: slip.patient,
				doctor: slip.doctor,
			});
			Expiry::Expired
		}

		/// Removes `slip_id` from `patient`'s pending index; its position in the patient's
		/// list, if it was there.
		fn take_pending(patient: &T::AccountId, slip_id: SlipId) -> Option<u32> {
			PendingSlips::<T>::mutate_exists(patient, |list| {
				let entries = list.as_mut()?;
				let i = entries.iter().position(|p| p.slip_id == slip_id)?;
				let entry = entries.remove(i);
				if entries.is_empty() {
					*list = None;
				}
				Some(entry.position)
			})
		}

		/// Closes the current batch if its window has passed or it is full. Returns the number
		/// of items of the closed batch.
		pub(crate) fn close_batch_if_due(now: BlockNumberFor<T>) -> Option<u32> {
			let batch = CurrentBatch::<T>::get()?;
			let due = now >= batch.opened_at.saturating_add(T::BatchBlocks::get())
				|| Self::now_ms() >= batch.opened_at_ms.saturating_add(T::BatchPeriodMs::get())
				|| batch.item_count >= T::MaxItemsPerBatch::get();
			if !due {
				return None;
			}
			Some(Self::close_batch(now, batch))
		}

		/// Closes `batch`: computes and stores its Merkle root.
		pub(crate) fn close_batch(
			now: BlockNumberFor<T>,
			batch: OpenBatch<BlockNumberFor<T>>,
		) -> u32 {
			let leaves = OpenLeaves::<T>::take();
			let root = binary_merkle_tree::merkle_root_raw::<BlakeTwo256, _>(leaves);
			CurrentBatch::<T>::kill();
			Batches::<T>::insert(
				batch.id,
				BatchInfo {
					root,
					item_count: batch.item_count,
					chain_id: T::ChainInfo::chain_id(),
					opened_at: batch.opened_at,
					closed_at: now,
					closed_at_ms: Self::now_ms(),
				},
			);
			Self::deposit_event(Event::BatchClosed {
				batch: batch.id,
				root,
				items: batch.item_count,
			});
			batch.item_count
		}

		/// A slip by id (runtime API helper).
		pub fn slip(slip_id: SlipId) -> Option<SlipOf<T>> {
			Ledger::<T>::get(slip_id)
		}

		/// Slips about `patient` at positions `start..start + limit` of their list (`limit`
		/// capped at [`MAX_SLIPS_PER_QUERY`]), in submission order; positions of slips removed
		/// by expiry are skipped, so a page may hold fewer than `limit` slips. Page on until
		/// `start` reaches [`Self::patient_slip_count`] (runtime API helper).
		pub fn patient_slips(
			patient: &T::AccountId,
			start: u32,
			limit: u32,
		) -> Vec<(SlipId, SlipOf<T>)> {
			let end = PatientSlipCount::<T>::get(patient)
				.min(start.saturating_add(limit.min(MAX_SLIPS_PER_QUERY)));
			(start..end)
				.filter_map(|n| PatientSlipAt::<T>::get(patient, n))
				.filter_map(|id| Ledger::<T>::get(id).map(|s| (id, s)))
				.collect()
		}

		/// Number of positions in `patient`'s list: every slip ever submitted about them,
		/// including those removed by expiry (runtime API helper).
		pub fn patient_slip_count(patient: &T::AccountId) -> u32 {
			PatientSlipCount::<T>::get(patient)
		}

		/// `patient`'s pending slips, in submission order (at most `MaxPendingPerPatient`).
		pub fn pending_slips(patient: &T::AccountId) -> Vec<PendingSlipOf<T>> {
			PendingSlips::<T>::get(patient).into_inner()
		}

		/// All items of closed batch `batch`, in leaf order.
		fn items_of(batch: BatchId, count: u32) -> Vec<SummaryItemOf<T>> {
			(0..count).filter_map(|i| BatchItems::<T>::get(batch, i)).collect()
		}

		/// Closed batch `batch` with items `start..start + limit` (at most
		/// [`MAX_PROOFS_PER_QUERY`]) and their Merkle proofs (runtime API helper).
		pub fn batch_with_proofs(
			batch: BatchId,
			start: u32,
			limit: u32,
		) -> Option<BatchWithProofs<BlockNumberFor<T>, SummaryItemOf<T>>> {
			let info = Batches::<T>::get(batch)?;
			let items = Self::items_of(batch, info.item_count);
			let leaves: Vec<Vec<u8>> = items.iter().map(|i| i.encode()).collect();
			let end = info.item_count.min(start.saturating_add(limit.min(MAX_PROOFS_PER_QUERY)));
			let with_proofs = (start..end)
				.map(|i| {
					let proof =
						binary_merkle_tree::merkle_proof::<BlakeTwo256, _, _>(leaves.iter(), i);
					ItemWithProof {
						item: items[i as usize].clone(),
						leaf_index: i,
						proof: proof.proof,
					}
				})
				.collect();
			Some(BatchWithProofs { id: batch, info, items: with_proofs })
		}

		/// Closed batch `batch`'s record (runtime API helper).
		pub fn batch(batch: BatchId) -> Option<BatchInfo<BlockNumberFor<T>>> {
			Batches::<T>::get(batch)
		}
	}
}

impl<T: Config> Pallet<T> {
	/// Checks the ledger's invariants (see [`mbds_primitives::invariants`]); `Err` names the
	/// first one broken:
	/// - slip ids are below [`NextSlipId`]; a slip scheduled to expire is a known id;
	/// - every pending slip is in its patient's pending index ([`PendingSlips`]) with its
	///   doctor and its position in the patient's list, and at or after the expiry cursor
	///   ([`ExpiryCursor`], at most the next slip id) or, if submitted before storage version
	///   2, in the expiry queue of the block its period ends at; every index entry is such a
	///   slip, once, in submission order; the index respects the per-(doctor, patient) bound;
	/// - every slip is at exactly one position of its patient's list ([`PatientSlipAt`]), below
	///   the patient's [`PatientSlipCount`], and every position names a slip of that patient;
	/// - batches are numbered without gaps: the closed ones ([`Batches`]) and the open one
	///   ([`CurrentBatch`], the newest) are exactly the ids below [`NextBatchId`]; the open
	///   batch has items and its leaf hashes ([`OpenLeaves`]) are its items' hashes; a closed
	///   batch's root is the Merkle root over its items;
	/// - every summary item ([`BatchItems`]) is at an index below its batch's item count, and
	///   belongs to a slip confirmed into that batch, with the slip's patient, record hash and
	///   categories; a confirmed slip has one item per encrypted keyword;
	/// - this chain's institution, if set, is a registered institution.
	///
	/// Reads the whole ledger and every batch item: for tests and `try-runtime`, never called
	/// by the runtime itself.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::{BTreeMap, BTreeSet};
		use mbds_primitives::ensure_invariant;

		let next_slip = NextSlipId::<T>::get();
		let next_batch = NextBatchId::<T>::get();
		let cursor = ExpiryCursor::<T>::get();
		ensure_invariant!(
			cursor <= next_slip,
			"slips: the expiry cursor is at most the next slip id",
			"cursor {cursor}, next id {next_slip}"
		);
		// Slips by status: pending ones and their doctor, confirmed ones and their batch.
		let (mut slips, mut pending) = (0usize, 0usize);
		let mut confirmed: BTreeMap<SlipId, (BatchId, u32)> = BTreeMap::new();
		for (id, slip) in Ledger::<T>::iter() {
			slips += 1;
			ensure_invariant!(
				id < next_slip,
				"slips: slip ids are below the next slip id",
				"slip {id}, next id {next_slip}"
			);
			match slip.status {
				SlipStatus::Pending { expires_at } => {
					pending += 1;
					let index = PendingSlips::<T>::get(&slip.patient);
					let entry = index.iter().find(|p| p.slip_id == id);
					ensure_invariant!(
						entry.is_some_and(|p| p.doctor == slip.doctor),
						"slips: every pending slip is in its patient's pending index",
						"slip {id} of {:?} by {:?}: entry {entry:?}",
						slip.patient,
						slip.doctor
					);
					let position = entry.map_or(u32::MAX, |p| p.position);
					let at = PatientSlipAt::<T>::get(&slip.patient, position);
					ensure_invariant!(
						at == Some(id),
						"slips: a pending slip's index entry names its position in the patient's list",
						"slip {id} of {:?}: position {position} holds {at:?}",
						slip.patient
					);
					ensure_invariant!(
						id >= cursor || ExpiryQueue::<T>::get(expires_at).contains(&id),
						"slips: every pending slip is at or after the expiry cursor, or in the expiry queue of the block its period ends at",
						"slip {id} expiring at {expires_at:?}, cursor {cursor}"
					);
				}
				SlipStatus::Confirmed { batch, .. } => {
					ensure_invariant!(
						batch < next_batch,
						"slips: a confirmed slip's batch exists",
						"slip {id} in batch {batch}, next batch id {next_batch}"
					);
					confirmed.insert(id, (batch, slip.encrypted_keywords.len() as u32));
				}
				// Rejected, and expired slips of older versions (no longer stored).
				SlipStatus::Rejected { .. } | SlipStatus::Expired { .. } => {}
			}
		}

		let mut indexed = 0usize;
		for (patient, index) in PendingSlips::<T>::iter() {
			ensure_invariant!(
				!index.is_empty(),
				"slips: no patient has an empty pending index",
				"{patient:?}"
			);
			ensure_invariant!(
				index.windows(2).all(|w| w[0].position < w[1].position),
				"slips: a pending index is in submission order, without duplicates",
				"{patient:?}: positions {:?}",
				index.iter().map(|p| p.position).collect::<Vec<_>>()
			);
			let mut per_doctor: BTreeMap<&T::AccountId, u32> = BTreeMap::new();
			for entry in index.iter() {
				indexed += 1;
				let slip = Ledger::<T>::get(entry.slip_id);
				ensure_invariant!(
					slip.as_ref().is_some_and(|s| s.patient == patient
						&& s.doctor == entry.doctor
						&& matches!(s.status, SlipStatus::Pending { .. })),
					"slips: a pending index entry is a pending slip of that patient and doctor",
					"{patient:?}: entry {entry:?}, slip {:?}",
					slip.map(|s| (s.patient, s.doctor, s.status))
				);
				*per_doctor.entry(&entry.doctor).or_default() += 1;
			}
			let worst = per_doctor.iter().max_by_key(|(_, n)| **n);
			ensure_invariant!(
				worst.is_none_or(|(_, n)| *n <= T::MaxPendingPerDoctorPatient::get()),
				"slips: a doctor has at most MaxPendingPerDoctorPatient pending slips about a patient",
				"{patient:?}: {worst:?}"
			);
		}
		ensure_invariant!(
			indexed == pending,
			"slips: every pending index entry is a pending slip, once",
			"{indexed} entries for {pending} pending slips"
		);

		let mut listed: BTreeSet<SlipId> = BTreeSet::new();
		for (patient, position, id) in PatientSlipAt::<T>::iter() {
			let count = PatientSlipCount::<T>::get(&patient);
			ensure_invariant!(
				position < count,
				"slips: positions in a patient's list are below the patient's slip count",
				"{patient:?}: position {position}, count {count}"
			);
			let owner = Ledger::<T>::get(id).map(|s| s.patient);
			ensure_invariant!(
				owner.as_ref() == Some(&patient),
				"slips: every position in a patient's list names a slip of that patient",
				"{patient:?} position {position}: slip {id} of {owner:?}"
			);
			ensure_invariant!(
				listed.insert(id),
				"slips: a slip is at one position of its patient's list",
				"slip {id} is at several"
			);
		}
		ensure_invariant!(
			listed.len() == slips,
			"slips: every slip is at a position of its patient's list",
			"{} listed of {slips} slips",
			listed.len()
		);

		for (at, queue) in ExpiryQueue::<T>::iter() {
			ensure_invariant!(
				queue.iter().all(|id| *id < next_slip),
				"slips: the expiry queue names known slip ids",
				"block {at:?}: {:?}, next id {next_slip}",
				queue.into_inner()
			);
		}

		// Batches: ids below `NextBatchId`, the open one the newest.
		let current = CurrentBatch::<T>::get();
		let mut item_counts: BTreeMap<BatchId, u32> = BTreeMap::new();
		let mut closed = 0u64;
		for (id, info) in Batches::<T>::iter() {
			closed += 1;
			ensure_invariant!(
				id < next_batch && current.as_ref().is_none_or(|c| c.id != id),
				"slips: closed batches are below the next batch id and not the open one",
				"batch {id}, next id {next_batch}, open {:?}",
				current.as_ref().map(|c| c.id)
			);
			let items: Vec<_> = (0..info.item_count).map(|i| BatchItems::<T>::get(id, i)).collect();
			ensure_invariant!(
				items.iter().all(Option::is_some),
				"slips: a closed batch has all its items",
				"batch {id} of {} items misses some",
				info.item_count
			);
			let root = binary_merkle_tree::merkle_root_raw::<BlakeTwo256, _>(
				items.iter().flatten().map(|item| BlakeTwo256::hash(&item.encode())),
			);
			ensure_invariant!(
				root == info.root,
				"slips: a closed batch's root is the Merkle root over its items",
				"batch {id}: root {:?}, items give {root:?}",
				info.root
			);
			item_counts.insert(id, info.item_count);
		}
		match &current {
			Some(open) => {
				ensure_invariant!(
					open.id.saturating_add(1) == next_batch && open.item_count > 0,
					"slips: the open batch is the newest and has items",
					"open batch {} with {} items, next id {next_batch}",
					open.id,
					open.item_count
				);
				let leaves = OpenLeaves::<T>::get();
				let hashes: Vec<Option<H256>> = (0..open.item_count)
					.map(|i| {
						BatchItems::<T>::get(open.id, i)
							.map(|item| BlakeTwo256::hash(&item.encode()))
					})
					.collect();
				ensure_invariant!(
					leaves.len() == hashes.len()
						&& leaves.iter().zip(&hashes).all(|(leaf, hash)| Some(*leaf) == *hash),
					"slips: the open batch's leaf hashes are its items' hashes",
					"batch {}: {} leaves for {} items",
					open.id,
					leaves.len(),
					open.item_count
				);
				item_counts.insert(open.id, open.item_count);
			}
			None => {
				let leaves = OpenLeaves::<T>::decode_len().unwrap_or(0);
				ensure_invariant!(
					leaves == 0,
					"slips: no leaf hashes without an open batch",
					"{leaves} leaves"
				);
			}
		}
		let batches = closed + current.is_some() as u64;
		ensure_invariant!(
			batches == next_batch,
			"slips: batches are numbered from 0 without gaps",
			"{closed} closed and {} open batches, next id {next_batch}",
			current.is_some() as u8
		);

		let mut items_of: BTreeMap<SlipId, u32> = BTreeMap::new();
		for (batch, index, item) in BatchItems::<T>::iter() {
			let count = item_counts.get(&batch).copied();
			ensure_invariant!(
				count.is_some_and(|n| index < n),
				"slips: every summary item is within its batch",
				"item {index} of batch {batch} (item count {count:?})"
			);
			let slip = Ledger::<T>::get(item.slip_id);
			ensure_invariant!(
				slip.as_ref().is_some_and(|s| s.status_batch() == Some(batch)
					&& s.patient == item.patient
					&& s.record_hash == item.record_hash
					&& s.categories == item.categories),
				"slips: a summary item belongs to a slip confirmed into its batch, with its patient, record and categories",
				"item {index} of batch {batch} for slip {}",
				item.slip_id
			);
			*items_of.entry(item.slip_id).or_default() += 1;
		}
		for (id, (batch, keywords)) in confirmed {
			let items = items_of.get(&id).copied().unwrap_or(0);
			ensure_invariant!(
				items == keywords,
				"slips: a confirmed slip has one summary item per encrypted keyword",
				"slip {id} in batch {batch}: {items} items, {keywords} keywords"
			);
		}

		if let Some(institution) = Institution::<T>::get() {
			let role = T::Participants::role_of(&institution);
			ensure_invariant!(
				matches!(role, Some(Role::Institution(_))),
				"slips: this chain's institution is a registered institution",
				"{institution:?} is {role:?}"
			);
		}
		Ok(())
	}
}

sp_api::decl_runtime_apis! {
	/// Queries of the slip ledger, for patient and doctor clients and for the relayer.
	///
	/// The runtime implements it with `Slip = pallet_slips::SlipOf<Runtime>` and
	/// `Item = pallet_slips::SummaryItemOf<Runtime>`, calling the pallet's helpers.
	pub trait SlipsApi<AccountId, BlockNumber, Slip, Item>
	where
		AccountId: Codec,
		BlockNumber: Codec,
		Slip: Codec,
		Item: Codec,
	{
		/// One slip.
		fn slip(slip_id: SlipId) -> Option<Slip>;
		/// Slips about `patient` (pending, confirmed and rejected) at positions
		/// `start..start + limit` of their list (`limit` capped at 256), in submission order.
		/// Slips that expired undecided were removed and their positions are skipped, so a
		/// page may hold fewer than `limit` slips: page with `start += limit` until `start`
		/// reaches `patient_slip_count`, at one block hash for a consistent list.
		fn patient_slips(patient: AccountId, start: u32, limit: u32) -> Vec<(SlipId, Slip)>;
		/// Number of positions in `patient`'s list (every slip ever submitted about them,
		/// including the expired ones that were removed): the end for paging `patient_slips`.
		fn patient_slip_count(patient: AccountId) -> u32;
		/// A closed batch's record (root, item count, ...).
		fn batch(batch: BatchId) -> Option<BatchInfo<BlockNumber>>;
		/// A closed batch with items `start..start + limit` (capped at 256) and their Merkle
		/// proofs against the batch root.
		fn batch_with_proofs(batch: BatchId, start: u32, limit: u32)
			-> Option<BatchWithProofs<BlockNumber, Item>>;
		/// Id the next batch gets; closed batches are those below it, minus the open one.
		fn next_batch_id() -> BatchId;
	}
}
