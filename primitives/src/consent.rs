//! Consent vocabulary: what a patient grants, to whom, over which records, and the one question
//! every data path asks before serving a record ("is this access allowed?").
//!
//! These types cross chain boundaries: consents live on the consortium chain
//! (`pallet-consent`), while proxies serving records of hospital and platform chains decode them
//! from the consortium's state or runtime API. Their list bounds are therefore fixed constants
//! here, not per-runtime `Config` values, so every chain and client agrees on the wire format.

use crate::{ChainId, Moment};
use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{traits::ConstU32, BoundedVec};
use scale_info::TypeInfo;
use sp_core::H256;

/// Identifier of a grant, unique on the consent chain.
pub type GrantId = u64;
/// Identifier of an access request, unique on the consent chain, increasing with time.
pub type RequestId = u64;
/// Identifier of a standing policy, unique on the consent chain.
pub type PolicyId = u64;
/// Index of a slip on its own chain (see [`RecordId::Slip`]).
pub type SlipIndex = u64;

/// Most records one grant or policy may list by id. A patient sharing more uses categories or
/// all records.
pub const MAX_SCOPE_RECORDS: u32 = 32;
/// Most keyword categories one grant, policy or record may carry.
pub const MAX_SCOPE_CATEGORIES: u32 = 16;
/// Bound type for [`MAX_SCOPE_RECORDS`].
pub type MaxScopeRecords = ConstU32<MAX_SCOPE_RECORDS>;
/// Bound type for [`MAX_SCOPE_CATEGORIES`].
pub type MaxScopeCategories = ConstU32<MAX_SCOPE_CATEGORIES>;
/// A bounded list of record ids.
pub type RecordList = BoundedVec<RecordId, MaxScopeRecords>;
/// A bounded list of keyword categories.
pub type CategoryList = BoundedVec<CategoryId, MaxScopeCategories>;

/// One thing a data user may do with a record. The paper's "access actions (read, write, copy)".
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub enum Action {
	/// Obtain the record re-encrypted to the user's key and read it.
	Read,
	/// Add records to the patient's history (e.g. a referral doctor writing a result).
	Write,
	/// Keep a copy beyond the session (export, download, forward to a third system).
	Copy,
}

impl Action {
	/// Every action, in bit order.
	pub const ALL: [Action; 3] = [Action::Read, Action::Write, Action::Copy];

	/// The bit of this action in an [`ActionSet`].
	pub const fn bit(self) -> u8 {
		match self {
			Action::Read => ActionSet::READ,
			Action::Write => ActionSet::WRITE,
			Action::Copy => ActionSet::COPY,
		}
	}
}

/// A set of [`Action`]s as bit flags (read = 1, write = 2, copy = 4).
///
/// A grant's set is checked with [`ActionSet::is_valid`] when stored: it is non-empty and has no
/// unknown bit, so a future action can never be granted by accident through an unused bit.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Default,
)]
pub struct ActionSet(pub u8);

impl ActionSet {
	/// Bit of [`Action::Read`].
	pub const READ: u8 = 0b001;
	/// Bit of [`Action::Write`].
	pub const WRITE: u8 = 0b010;
	/// Bit of [`Action::Copy`].
	pub const COPY: u8 = 0b100;
	/// Every known bit.
	pub const KNOWN: u8 = Self::READ | Self::WRITE | Self::COPY;

	/// Read only: the common grant.
	pub const fn read_only() -> Self {
		ActionSet(Self::READ)
	}
	/// The set holding exactly `actions`.
	pub fn of(actions: &[Action]) -> Self {
		ActionSet(actions.iter().fold(0, |bits, a| bits | a.bit()))
	}
	/// True if `action` is in the set.
	pub const fn contains(&self, action: Action) -> bool {
		self.0 & action.bit() != 0
	}
	/// True if every action of `self` is in `other`.
	pub const fn is_subset_of(&self, other: &ActionSet) -> bool {
		self.0 & !other.0 == 0
	}
	/// Non-empty and only known bits.
	pub const fn is_valid(&self) -> bool {
		self.0 != 0 && self.0 & !Self::KNOWN == 0
	}
	/// The actions in the set, in bit order.
	pub fn actions(&self) -> impl Iterator<Item = Action> + '_ {
		Action::ALL.into_iter().filter(move |a| self.contains(*a))
	}
}

/// A record, named so that the name means the same on every chain.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub enum RecordId {
	/// The hash of the encrypted record body (the slip's "hash of the record"). Content
	/// addressed, hence unique across chains.
	Hash(H256),
	/// A slip on a given chain; slip indices are only unique per chain.
	Slip { chain: ChainId, slip: SlipIndex },
}

/// A coarse keyword category, tagged on a record by the client that writes it.
///
/// The paper's keywords are encrypted under the patient's key (PEKS), so the chain and the
/// proxies cannot read them and cannot scope a grant by them. Instead the writing client tags
/// each record, in the clear, with one or more *coarse* categories of its coded keywords (an
/// ICD-10 chapter, a SNOMED CT top-level hierarchy, a LOINC class, or one of MBDS's sensitive
/// classes). A category reveals far less than the keyword, and it is what a patient reasons
/// about ("my mental-health records", "my lab results"). Layout: the high 8 bits name the code
/// system ([`category`] and the `SYSTEM_*` constants), the low 24 bits the category within it.
pub type CategoryId = u32;

/// Code system: ICD-10 chapters (category = chapter number, 1..=22).
pub const SYSTEM_ICD10_CHAPTER: u8 = 1;
/// Code system: SNOMED CT top-level hierarchies (category = an index the clients agree on).
pub const SYSTEM_SNOMED_HIERARCHY: u8 = 2;
/// Code system: LOINC classes (category = an index the clients agree on).
pub const SYSTEM_LOINC_CLASS: u8 = 3;
/// Code system: medications (category 0 = any medication code without a class, e.g. RxNorm;
/// 1..=26 = the WHO ATC anatomical main group, by its letter: A = 1, ..., Z = 26).
pub const SYSTEM_MEDICATION: u8 = 4;
/// Code system: coded data of a code system no category is defined for (category 0). A record
/// carrying such codes is covered only by a grant naming this category, never silently.
pub const SYSTEM_OTHER: u8 = 0xFE;
/// Code system: MBDS sensitive classes (see `SENSITIVE_*`).
pub const SYSTEM_MBDS_SENSITIVE: u8 = 0xFF;
/// MBDS sensitive class: mental health.
pub const SENSITIVE_MENTAL_HEALTH: CategoryId = category(SYSTEM_MBDS_SENSITIVE, 1);
/// MBDS sensitive class: sexual and reproductive health, HIV.
pub const SENSITIVE_SEXUAL_HEALTH: CategoryId = category(SYSTEM_MBDS_SENSITIVE, 2);
/// MBDS sensitive class: genetic data.
pub const SENSITIVE_GENETICS: CategoryId = category(SYSTEM_MBDS_SENSITIVE, 3);

/// A category no grant may name ([`GrantScope::is_valid`] refuses it): a record carrying it is
/// covered by no category scope. Marks records whose categories could not all be listed.
pub const UNCOVERABLE_CATEGORY: CategoryId = u32::MAX;

/// The category `code` of code system `system`.
pub const fn category(system: u8, code: u32) -> CategoryId {
	((system as u32) << 24) | (code & 0x00FF_FFFF)
}

/// Which records a grant or a policy covers.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub enum GrantScope {
	/// Every record of the patient, on every chain, including future ones.
	AllRecords,
	/// Exactly these records.
	Records(RecordList),
	/// Records whose categories all lie in this list (see [`GrantScope::covers`]).
	Categories(CategoryList),
}

impl GrantScope {
	/// Lists are non-empty (an empty list would be a grant that allows nothing, most likely a
	/// client bug).
	pub fn is_valid(&self) -> bool {
		match self {
			GrantScope::AllRecords => true,
			GrantScope::Records(r) => !r.is_empty(),
			GrantScope::Categories(c) => !c.is_empty() && !c.contains(&UNCOVERABLE_CATEGORY),
		}
	}

	/// True if an access to `target` falls within this scope.
	///
	/// A category scope covers a record only if the record is tagged and *every* one of its tags
	/// is granted: a record tagged "lab" and "mental health" is not shared by a grant of "lab"
	/// alone. Untagged records are reachable only through `AllRecords` or by id.
	pub fn covers(&self, target: &AccessTarget) -> bool {
		match (self, target) {
			(GrantScope::AllRecords, _) => true,
			(GrantScope::Records(list), AccessTarget::Record { id, .. }) => list.contains(id),
			(GrantScope::Categories(granted), AccessTarget::Record { categories, .. })
			| (GrantScope::Categories(granted), AccessTarget::Categories(categories)) => {
				!categories.is_empty() && categories.iter().all(|c| granted.contains(c))
			}
			_ => false,
		}
	}

	/// True if everything `other` covers is covered by `self` (used to match a request against a
	/// standing policy).
	pub fn contains(&self, other: &GrantScope) -> bool {
		match (self, other) {
			(GrantScope::AllRecords, _) => true,
			(GrantScope::Records(mine), GrantScope::Records(theirs)) => {
				theirs.iter().all(|r| mine.contains(r))
			}
			(GrantScope::Categories(mine), GrantScope::Categories(theirs)) => {
				theirs.iter().all(|c| mine.contains(c))
			}
			_ => false,
		}
	}
}

/// What one access touches, as the proxy serving it describes it.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub enum AccessTarget {
	/// The whole history (e.g. a full export). Allowed only by an `AllRecords` grant.
	AllRecords,
	/// One record, with the categories it is tagged with (possibly none).
	Record { id: RecordId, categories: CategoryList },
	/// A keyword search restricted to these categories (a PEKS search whose results the proxy
	/// filters by category).
	Categories(CategoryList),
}

impl AccessTarget {
	/// A category search names at least one category.
	pub fn is_valid(&self) -> bool {
		!matches!(self, AccessTarget::Categories(c) if c.is_empty())
	}
	/// The record, if the target is one.
	pub fn record(&self) -> Option<RecordId> {
		match self {
			AccessTarget::Record { id, .. } => Some(*id),
			_ => None,
		}
	}
}

/// Who a grant is for.
#[derive(
	Clone, Debug, PartialEq, Eq, Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo,
)]
pub enum Grantee<AccountId> {
	/// One participant: a doctor, or an institution's own account (an insurer, a research
	/// institute, a hospital's service account).
	Account(AccountId),
	/// Any active doctor of this institution, while they are its doctor.
	MembersOf(AccountId),
}

/// Why the data is used: the HL7 v3 `PurposeOfUse` codes MBDS knows.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub enum Purpose {
	/// Treatment of the patient (`TREAT`).
	Treatment,
	/// Emergency treatment (`ETREAT`): the purpose an emergency policy answers.
	EmergencyTreatment,
	/// Payment, e.g. an insurance claim (`HPAYMT`).
	Payment,
	/// Research (`HRESCH`).
	Research,
	/// Healthcare operations (`HOPERAT`).
	Operations,
	/// Public health (`PUBHLTH`).
	PublicHealth,
	/// At the patient's own request (`PATRQT`).
	PatientRequest,
}

impl Purpose {
	/// The code in the HL7 v3 ActReason (PurposeOfUse) code system,
	/// `http://terminology.hl7.org/CodeSystem/v3-ActReason`.
	pub const fn hl7_code(&self) -> &'static str {
		match self {
			Purpose::Treatment => "TREAT",
			Purpose::EmergencyTreatment => "ETREAT",
			Purpose::Payment => "HPAYMT",
			Purpose::Research => "HRESCH",
			Purpose::Operations => "HOPERAT",
			Purpose::PublicHealth => "PUBHLTH",
			Purpose::PatientRequest => "PATRQT",
		}
	}
	/// The code's display text in the same code system.
	pub const fn hl7_display(&self) -> &'static str {
		match self {
			Purpose::Treatment => "treatment",
			Purpose::EmergencyTreatment => "emergency treatment",
			Purpose::Payment => "healthcare payment",
			Purpose::Research => "healthcare research",
			Purpose::Operations => "healthcare operations",
			Purpose::PublicHealth => "public health",
			Purpose::PatientRequest => "patient requested",
		}
	}
}

/// How a grant came to be.
#[derive(
	Clone,
	Copy,
	Debug,
	PartialEq,
	Eq,
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
)]
pub enum GrantSource {
	/// The patient granted it directly.
	Direct,
	/// The patient approved this access request.
	ApprovedRequest(RequestId),
	/// This request matched this standing policy and was granted automatically.
	Policy { policy: PolicyId, request: RequestId },
}

/// A patient's permission for a data user, as stored on the consent chain.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, MaxEncodedLen, TypeInfo)]
pub struct Grant<AccountId> {
	/// Whose data.
	pub patient: AccountId,
	/// Who may use it.
	pub grantee: Grantee<AccountId>,
	/// What they may do.
	pub actions: ActionSet,
	/// With which records.
	pub scope: GrantScope,
	/// First millisecond (Unix time) the grant is in force.
	pub valid_from: Moment,
	/// First millisecond it is no longer in force (exclusive end).
	pub valid_until: Moment,
	/// Why, if the patient said so.
	pub purpose: Option<Purpose>,
	/// When it was recorded (Unix ms).
	pub created_at: Moment,
	/// How it was created.
	pub source: GrantSource,
}

impl<AccountId> Grant<AccountId> {
	/// True if the grant is in force at `now` (`valid_from <= now < valid_until`).
	pub fn in_force_at(&self, now: Moment) -> bool {
		self.valid_from <= now && now < self.valid_until
	}
	/// True if the grant, in force at `now`, allows `action` on `target`. The grantee is matched
	/// by the caller.
	pub fn permits(&self, target: &AccessTarget, action: Action, now: Moment) -> bool {
		self.in_force_at(now) && self.actions.contains(action) && self.scope.covers(target)
	}
}

/// The single access check of MBDS, for other pallets and (through the consent runtime API)
/// the off-chain proxies.
pub trait AccessControl<AccountId> {
	/// True if `user` may perform `action` on `target` of `patient`'s records at `now`
	/// (Unix ms), according to the consents in force in the state the call reads.
	fn is_access_allowed(
		patient: &AccountId,
		user: &AccountId,
		target: &AccessTarget,
		action: Action,
		now: Moment,
	) -> bool;
}

/// Where the consent pallet learns a record's categories (on the consortium: the anchored
/// summaries, as the patient confirmed them on the record's slip). Facts are kept per patient
/// and record, so a slip of one patient naming another patient's record hash changes nothing
/// about the other patient's record. A record the registry does not know has no vouched
/// categories.
pub trait RecordRegistry<AccountId> {
	/// The categories of `patient`'s record with content hash `record`, if anchored.
	fn categories(patient: &AccountId, record: &H256) -> Option<CategoryList>;
}

/// Knows no record: for runtimes and tests without anchoring.
impl<AccountId> RecordRegistry<AccountId> for () {
	fn categories(_: &AccountId, _: &H256) -> Option<CategoryList> {
		None
	}
}

/// Denies everything: for runtimes and tests without a consent pallet.
impl<AccountId> AccessControl<AccountId> for () {
	fn is_access_allowed(
		_: &AccountId,
		_: &AccountId,
		_: &AccessTarget,
		_: Action,
		_: Moment,
	) -> bool {
		false
	}
}
