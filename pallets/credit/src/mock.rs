//! Test runtime: the credit pallet as `pallet-session`'s session manager (the real
//! integration), `pallet-offences` feeding it offence reports, and two recording session
//! handlers standing in for Aura (authors, behind [`RepresentativeAuthors`]) and GRANDPA
//! (voters, every validator).

use crate::{self as pallet_credit, *};
use core::cell::RefCell;
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64, OneSessionHandler},
};
use frame_system::EnsureRoot;
use mbds_primitives::{ChainId, ChainIdentity, ChainKind};
use sp_core::crypto::key_types::DUMMY;
use sp_runtime::{
	impl_opaque_keys,
	testing::UintAuthorityId,
	traits::{ConvertInto, OpaqueKeys},
	BuildStorage, KeyTypeId, RuntimeAppPublic,
};

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = u64;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Balances: pallet_balances,
		Credit: pallet_credit,
		Session: pallet_session,
		Offences: pallet_offences,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountData = pallet_balances::AccountData<u64>;
}

#[derive_impl(pallet_balances::config_preludes::TestDefaultConfig)]
impl pallet_balances::Config for Test {
	type AccountStore = System;
}

/// Account of the audit committee (the `AuditOrigin`).
pub const AUDITOR: AccountId = 900;
/// An account that is no institution.
pub const STRANGER: AccountId = 999;

thread_local! {
	/// Aura slot of the block being built (the digest stand-in).
	static SLOT: RefCell<Option<u64>> = const { RefCell::new(None) };
	static KIND: RefCell<ChainKind> = const { RefCell::new(ChainKind::Consortium) };
	/// Aura stand-in: the authorities it was given.
	static AUTHORS: RefCell<Vec<AccountId>> = const { RefCell::new(Vec::new()) };
	/// GRANDPA stand-in: the voters it was given.
	static VOTERS: RefCell<Vec<AccountId>> = const { RefCell::new(Vec::new()) };
	static DISABLED_AUTHORS: RefCell<Vec<u32>> = const { RefCell::new(Vec::new()) };
	static AUTHOR_INDEX: RefCell<Option<u32>> = const { RefCell::new(None) };
	/// GRANDPA's current set (id, voters) as `pallet-grandpa` would report it.
	static FINALITY_VOTERS: RefCell<(u64, sp_consensus_grandpa::AuthorityList)> = const { RefCell::new((0, Vec::new())) };
}

/// `pallet-grandpa`'s current set stand-in; voter `n`'s key is `bp_test_utils::Account(n)`.
pub struct MockVoters;
impl MockVoters {
	pub fn set(set_id: u64, voters: &[AccountId]) {
		let list = voters
			.iter()
			.map(|v| {
				(sp_consensus_grandpa::AuthorityId::from(bp_test_utils::Account(*v as u16)), 1)
			})
			.collect();
		FINALITY_VOTERS.with(|f| *f.borrow_mut() = (set_id, list));
	}
}
impl frame_support::traits::Get<(u64, sp_consensus_grandpa::AuthorityList)> for MockVoters {
	fn get() -> (u64, sp_consensus_grandpa::AuthorityList) {
		FINALITY_VOTERS.with(|f| f.borrow().clone())
	}
}

/// Voter `n`'s GRANDPA key in the mock: `bp_test_utils::Account(n)` (session key
/// `UintAuthorityId(n)` maps to it).
pub fn grandpa_key(n: u64) -> sp_consensus_grandpa::AuthorityId {
	sp_consensus_grandpa::AuthorityId::from(bp_test_utils::Account(n as u16))
}

/// The chain's identity (`pallet-chain-info`'s role).
pub struct MockChain;
impl MockChain {
	pub fn set_kind(kind: ChainKind) {
		KIND.with(|k| *k.borrow_mut() = kind);
	}
}
impl ChainIdentity for MockChain {
	fn chain_id() -> ChainId {
		1
	}
	fn chain_kind() -> ChainKind {
		KIND.with(|k| *k.borrow())
	}
}

/// The Aura authorities, as accounts (a mock key `UintAuthorityId(n)` belongs to account `n`).
pub fn aura_authors() -> Vec<AccountId> {
	AUTHORS.with(|a| a.borrow().clone())
}
/// The GRANDPA voters.
pub fn grandpa_voters() -> Vec<AccountId> {
	VOTERS.with(|a| a.borrow().clone())
}
pub fn disabled_authors() -> Vec<u32> {
	DISABLED_AUTHORS.with(|a| a.borrow().clone())
}

/// Aura stand-in: like Aura, takes the list at genesis and whenever `changed`.
pub struct AuraLike;
impl sp_runtime::BoundToRuntimeAppPublic for AuraLike {
	type Public = UintAuthorityId;
}
impl OneSessionHandler<AccountId> for AuraLike {
	type Key = UintAuthorityId;
	fn on_genesis_session<'a, I: 'a>(validators: I)
	where
		I: Iterator<Item = (&'a AccountId, Self::Key)>,
	{
		AUTHORS.with(|a| *a.borrow_mut() = validators.map(|(_, k)| k.0).collect());
	}
	fn on_new_session<'a, I: 'a>(changed: bool, validators: I, _queued: I)
	where
		I: Iterator<Item = (&'a AccountId, Self::Key)>,
	{
		if changed {
			AUTHORS.with(|a| *a.borrow_mut() = validators.map(|(_, k)| k.0).collect());
		}
	}
	fn on_disabled(i: u32) {
		DISABLED_AUTHORS.with(|d| d.borrow_mut().push(i));
	}
}

/// GRANDPA stand-in: every validator votes.
pub struct GrandpaLike;
impl sp_runtime::BoundToRuntimeAppPublic for GrandpaLike {
	type Public = UintAuthorityId;
}
impl OneSessionHandler<AccountId> for GrandpaLike {
	type Key = UintAuthorityId;
	fn on_genesis_session<'a, I: 'a>(validators: I)
	where
		I: Iterator<Item = (&'a AccountId, Self::Key)>,
	{
		let validators: Vec<_> = validators.map(|(a, k)| (*a, k.0)).collect();
		// What `RecordedVoters` does around the real GRANDPA handler.
		Credit::note_session_voters(validators.iter().map(|(a, k)| (*a, grandpa_key(*k))));
		VOTERS.with(|a| *a.borrow_mut() = validators.iter().map(|(_, k)| *k).collect());
	}
	fn on_new_session<'a, I: 'a>(changed: bool, validators: I, _queued: I)
	where
		I: Iterator<Item = (&'a AccountId, Self::Key)>,
	{
		let validators: Vec<_> = validators.map(|(a, k)| (*a, k.0)).collect();
		Credit::note_session_voters(validators.iter().map(|(a, k)| (*a, grandpa_key(*k))));
		if changed {
			VOTERS.with(|a| *a.borrow_mut() = validators.iter().map(|(_, k)| *k).collect());
		}
	}
	fn on_disabled(_: u32) {}
}

type Authors = RepresentativeAuthors<Test, AuraLike>;

fn with_key<Ks: OpaqueKeys>(x: &(AccountId, Ks)) -> (&AccountId, UintAuthorityId) {
	(&x.0, x.1.get::<UintAuthorityId>(DUMMY).expect("mock keys have a dummy key"))
}

/// The runtime's session handler tuple `(RepresentativeAuthors<Aura>, Grandpa)`, with one
/// mock key type shared by both stand-ins (a runtime has one key type each).
pub struct TestSessionHandler;
impl pallet_session::SessionHandler<AccountId> for TestSessionHandler {
	const KEY_TYPE_IDS: &'static [KeyTypeId] = &[UintAuthorityId::ID];
	fn on_genesis_session<Ks: OpaqueKeys>(validators: &[(AccountId, Ks)]) {
		Authors::on_genesis_session(validators.iter().map(with_key::<Ks>));
		GrandpaLike::on_genesis_session(validators.iter().map(with_key::<Ks>));
	}
	fn on_new_session<Ks: OpaqueKeys>(
		changed: bool,
		validators: &[(AccountId, Ks)],
		queued: &[(AccountId, Ks)],
	) {
		Authors::on_new_session(
			changed,
			validators.iter().map(with_key::<Ks>),
			queued.iter().map(with_key::<Ks>),
		);
		GrandpaLike::on_new_session(
			changed,
			validators.iter().map(with_key::<Ks>),
			queued.iter().map(with_key::<Ks>),
		);
	}
	fn on_disabled(i: u32) {
		Authors::on_disabled(i);
	}
}

impl_opaque_keys! {
	pub struct MockSessionKeys {
		pub dummy: UintAuthorityId,
	}
}
impl From<UintAuthorityId> for MockSessionKeys {
	fn from(dummy: UintAuthorityId) -> Self {
		Self { dummy }
	}
}
pub fn keys_of(who: AccountId) -> MockSessionKeys {
	UintAuthorityId(who).into()
}

impl pallet_session::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type ValidatorId = AccountId;
	type ValidatorIdOf = ConvertInto;
	type ShouldEndSession = pallet_session::PeriodicSessions<ConstU64<10>, ConstU64<0>>;
	type NextSessionRotation = pallet_session::PeriodicSessions<ConstU64<10>, ConstU64<0>>;
	type SessionManager = Credit;
	type SessionHandler = TestSessionHandler;
	type Keys = MockSessionKeys;
	type DisablingStrategy = ();
	type WeightInfo = ();
	type Currency = Balances;
	type KeyDeposit = ConstU64<0>;
}

impl pallet_offences::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type IdentificationTuple = (AccountId, ());
	type OnOffenceHandler = Credit;
}

parameter_types! {
	pub const AuthoringCredit: CreditPoints = 1;
	pub const ServiceCredit: CreditPoints = 10;
	pub const MaxPerformanceCredit: CreditPoints = 1_000;
	pub const OffencePenalty: CreditPoints = 2_000;
	pub const AuditFailurePenalty: CreditPoints = 1_500;
	pub const MissedSlotPenalty: CreditPoints = 400;
	pub const MissedVotePenalty: CreditPoints = 300;
}

/// The block's Aura slot, set by tests (`None`: the block carries no slot).
pub struct MockSlot;
impl MockSlot {
	pub fn set(slot: Option<u64>) {
		SLOT.with(|s| *s.borrow_mut() = slot);
	}
}
impl frame_support::traits::Get<Option<u64>> for MockSlot {
	fn get() -> Option<u64> {
		SLOT.with(|s| *s.borrow())
	}
}

impl pallet_credit::Config for Test {
	type ChainIdentity = MockChain;
	type GovernanceOrigin = EnsureRoot<AccountId>;
	type AuditOrigin = frame_system::EnsureSignedBy<Auditors, AccountId>;
	type HasSessionKeys = SessionKeysRegistered<Test>;
	type MaxInstitutions = ConstU32<64>;
	type MaxRpn = ConstU32<8>;
	type MaxAtn = ConstU32<4>;
	type AuthoringCredit = AuthoringCredit;
	type ServiceCredit = ServiceCredit;
	type MaxPerformanceCredit = MaxPerformanceCredit;
	type OffencePenalty = OffencePenalty;
	type AuditFailurePenalty = AuditFailurePenalty;
	type MissedSlotPenalty = MissedSlotPenalty;
	type SlotOfBlock = MockSlot;
	type FinalityVoters = MockVoters;
	type MaxVoters = ConstU32<12>;
	type MissedVotePenalty = MissedVotePenalty;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockBenchmarkHelper;
}

pub struct Auditors;
impl frame_support::traits::SortedMembers<AccountId> for Auditors {
	fn sorted_members() -> Vec<AccountId> {
		vec![AUDITOR]
	}
}

#[cfg(feature = "runtime-benchmarks")]
pub struct MockBenchmarkHelper;
#[cfg(feature = "runtime-benchmarks")]
impl BenchmarkHelper<AccountId> for MockBenchmarkHelper {
	fn set_chain_kind(kind: ChainKind) {
		MockChain::set_kind(kind);
	}
	fn register_session_keys(who: &AccountId) {
		pallet_session::NextKeys::<Test>::insert(who, keys_of(*who));
	}
	fn set_finality_voters(voters: &[(sp_consensus_grandpa::AuthorityId, AccountId)]) {
		// Mock voter `n`'s key is `Account(n)`: the benchmark's keys are `Account(0..v)`.
		let keys: Vec<AccountId> = (0..voters.len() as AccountId).collect();
		MockVoters::set(0, &keys);
		Credit::note_session_voters(voters.iter().map(|(id, who)| (*who, id.clone())));
	}
}

/// Aura's author index for [`FindRepresentativeAuthor`] tests.
pub struct SlotAuthorIndex;
impl SlotAuthorIndex {
	pub fn set(index: Option<u32>) {
		AUTHOR_INDEX.with(|i| *i.borrow_mut() = index);
	}
}
impl frame_support::traits::FindAuthor<u32> for SlotAuthorIndex {
	fn find_author<'a, I>(_: I) -> Option<u32>
	where
		I: 'a + IntoIterator<Item = (sp_runtime::ConsensusEngineId, &'a [u8])>,
	{
		AUTHOR_INDEX.with(|i| *i.borrow())
	}
}

/// All three dimensions equal to `d`: base credit `d * 100` whatever the weights.
pub fn dims(d: u8) -> CreditDimensions {
	CreditDimensions { grade: d, deployment_scale: d, enterprise_strength: d }
}

/// A consortium to test with: institutions `(account, all dimensions, willing, has keys)`,
/// `rpn` RPN and `atn` ATN, threshold `threshold`.
pub struct ExtBuilder {
	kind: ChainKind,
	institutions: Vec<(AccountId, u8, bool, bool)>,
	/// Validators with keys but no institution (a private chain's genesis validators).
	plain_validators: Vec<AccountId>,
	params: ElectionParams,
}

impl Default for ExtBuilder {
	/// Seven willing institutions with keys, base credits 9000, 8000, ..., 3000, ranked
	/// 1..=7; 3 RPN, 2 ATN, threshold 3000.
	fn default() -> Self {
		ExtBuilder {
			kind: ChainKind::Consortium,
			institutions: (1..=7u64).map(|i| (i, 100 - 10 * i as u8, true, true)).collect(),
			plain_validators: Vec::new(),
			params: ElectionParams {
				rpn_count: 3,
				atn_count: 2,
				credit_threshold: 3_000,
				min_rpn: 1,
			},
		}
	}
}

impl ExtBuilder {
	pub fn institutions(mut self, institutions: Vec<(AccountId, u8, bool, bool)>) -> Self {
		self.institutions = institutions;
		self
	}
	pub fn params(mut self, params: ElectionParams) -> Self {
		self.params = params;
		self
	}
	/// A hospital chain: no institutions, validators fixed in genesis.
	pub fn hospital(mut self, validators: Vec<AccountId>) -> Self {
		self.kind = ChainKind::Hospital;
		self.institutions = Vec::new();
		self.plain_validators = validators;
		self
	}

	pub fn build(self) -> TestExt {
		MockChain::set_kind(self.kind);
		AUTHORS.with(|a| a.borrow_mut().clear());
		VOTERS.with(|a| a.borrow_mut().clear());
		DISABLED_AUTHORS.with(|a| a.borrow_mut().clear());
		SlotAuthorIndex::set(None);
		MockSlot::set(None);

		let mut t = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
		let keyed: Vec<AccountId> = self
			.institutions
			.iter()
			.filter(|(_, _, _, keys)| *keys)
			.map(|(who, ..)| *who)
			.chain(self.plain_validators.iter().copied())
			.collect();
		pallet_balances::GenesisConfig::<Test> {
			// Every test account can hold session keys (`set_keys` needs an existing account).
			balances: (1..=200).chain([AUDITOR, STRANGER]).map(|a| (a, 1_000)).collect(),
			..Default::default()
		}
		.assimilate_storage(&mut t)
		.unwrap();
		pallet_credit::GenesisConfig::<Test> {
			institutions: self
				.institutions
				.iter()
				.map(|(who, d, willing, _)| (*who, dims(*d), *willing))
				.collect(),
			weights: ScoreWeights::default(),
			params: self.params,
		}
		.assimilate_storage(&mut t)
		.unwrap();
		pallet_session::GenesisConfig::<Test> {
			keys: keyed.iter().map(|a| (*a, *a, keys_of(*a))).collect(),
			non_authority_keys: Vec::new(),
		}
		.assimilate_storage(&mut t)
		.unwrap();

		let mut ext = sp_io::TestExternalities::new(t);
		ext.execute_with(|| System::set_block_number(1));
		TestExt::new(ext, Credit::do_try_state)
	}
}

/// Rotate sessions until `index` is the current session.
pub fn start_session(index: SessionIndex) {
	while pallet_session::CurrentIndex::<Test>::get() < index {
		Session::rotate_session();
	}
}

/// The session validators (`pallet-session`'s list).
pub fn session_validators() -> Vec<AccountId> {
	pallet_session::Validators::<Test>::get()
}

/// Events of this pallet so far.
pub fn credit_events() -> Vec<pallet_credit::Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::Credit(e) => Some(e),
			_ => None,
		})
		.collect()
}

/// Test externalities that check the invariants ([`Credit::do_try_state`]) after every
/// `execute_with` (see [`mbds_primitives::invariants::CheckedExternalities`]).
pub type TestExt = mbds_primitives::invariants::CheckedExternalities;
