//! Test runtime: the consent pallet with an in-memory identity registry standing in for the
//! KMC pallet, and a settable clock standing in for `pallet-timestamp`.

use crate as pallet_consent;
use core::{cell::RefCell, time::Duration};
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, Hooks, UnixTime},
};
use mbds_primitives::{
	consent::{CategoryId, CategoryList, RecordRegistry},
	InstitutionKind, Moment, ParticipantRegistry, RegistryBenchmarkHelper, Role,
	SuspendParticipant,
};
use sp_core::H256;
use sp_runtime::{BuildStorage, DispatchError, DispatchResult};
use std::collections::BTreeMap;

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Consent: pallet_consent,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

pub type AccountId = u64;

pub const PATIENT: AccountId = 1;
pub const OTHER_PATIENT: AccountId = 2;
pub const HOSPITAL_A: AccountId = 10;
pub const HOSPITAL_B: AccountId = 11;
pub const DOCTOR_A: AccountId = 20;
pub const DOCTOR_A2: AccountId = 21;
pub const DOCTOR_B: AccountId = 22;
pub const INSURER: AccountId = 30;
pub const AUTHORITY: AccountId = 40;
pub const STRANGER: AccountId = 99;

/// Milliseconds per block in the tests (a 6 s block time).
pub const BLOCK_MS: Moment = 6_000;
/// The clock at block 1.
pub const GENESIS_MS: Moment = 1_700_000_000_000;
pub const DAY: Moment = 86_400_000;

thread_local! {
	static REGISTRY: RefCell<BTreeMap<AccountId, (Role<AccountId>, bool)>> = const { RefCell::new(BTreeMap::new()) };
	static NOW: RefCell<Moment> = const { RefCell::new(GENESIS_MS) };
	static ON_CONSORTIUM: RefCell<bool> = const { RefCell::new(true) };
	static REFUSE_SUSPEND: RefCell<bool> = const { RefCell::new(false) };
	static RECORDS: RefCell<BTreeMap<(AccountId, H256), Vec<CategoryId>>> = const { RefCell::new(BTreeMap::new()) };
}

/// The anchored records double (`pallet-anchor`'s role on the consortium).
pub struct MockRecords;

impl MockRecords {
	/// `patient`'s record `hash` anchored with `categories`.
	pub fn anchor(hash: H256, patient: AccountId, categories: &[CategoryId]) {
		RECORDS.with(|r| r.borrow_mut().insert((patient, hash), categories.to_vec()));
	}
}

impl RecordRegistry<AccountId> for MockRecords {
	fn categories(patient: &AccountId, record: &H256) -> Option<CategoryList> {
		RECORDS.with(|r| {
			r.borrow()
				.get(&(*patient, *record))
				.map(|c| frame_support::BoundedVec::truncate_from(c.clone()))
		})
	}
}

/// The identity registry double (the KMC pallet's role).
pub struct MockRegistry;

impl MockRegistry {
	pub fn register(who: AccountId, role: Role<AccountId>) {
		REGISTRY.with(|r| r.borrow_mut().insert(who, (role, true)));
	}
	/// The KMC's reinstatement after re-verifying the identity.
	pub fn reinstate(who: AccountId) {
		REGISTRY.with(|r| {
			if let Some(entry) = r.borrow_mut().get_mut(&who) {
				entry.1 = true;
			}
		});
	}
	pub fn is_suspended(who: AccountId) -> bool {
		REGISTRY.with(|r| r.borrow().get(&who).is_some_and(|(_, active)| !active))
	}
	pub fn refuse_suspensions(refuse: bool) {
		REFUSE_SUSPEND.with(|r| *r.borrow_mut() = refuse);
	}
}

impl ParticipantRegistry<AccountId> for MockRegistry {
	fn role_of(who: &AccountId) -> Option<Role<AccountId>> {
		REGISTRY.with(|r| r.borrow().get(who).map(|(role, _)| role.clone()))
	}
	fn is_active(who: &AccountId) -> bool {
		REGISTRY.with(|r| r.borrow().get(who).is_some_and(|(_, active)| *active))
	}
}

impl SuspendParticipant<AccountId> for MockRegistry {
	fn suspend(who: &AccountId) -> DispatchResult {
		if REFUSE_SUSPEND.with(|r| *r.borrow()) {
			return Err(DispatchError::Other("registry refuses"));
		}
		REGISTRY.with(|r| match r.borrow_mut().get_mut(who) {
			Some(entry) => {
				entry.1 = false;
				Ok(())
			}
			None => Err(DispatchError::Other("unknown participant")),
		})
	}
}

/// Test signatures: `TestSignature(signer, message)` verifies iff both match, so a test signs
/// for an account by naming it, and a forged or mismatched statement fails verification.
pub type Signature = sp_runtime::testing::TestSignature;

/// `who`'s (test) signature over `payload`.
pub fn sign(who: AccountId, payload: &[u8]) -> Signature {
	sp_runtime::testing::TestSignature(who, payload.to_vec())
}

impl mbds_primitives::statements::SignerBenchmarkHelper<AccountId, Signature> for MockRegistry {
	fn signer(seed: u32) -> AccountId {
		1_000_000 + seed as AccountId
	}
	fn sign(who: &AccountId, payload: &[u8]) -> Signature {
		sign(*who, payload)
	}
}

impl RegistryBenchmarkHelper<AccountId> for MockRegistry {
	fn register_active(who: &AccountId, role: Role<AccountId>) {
		Self::register(*who, role);
	}
}

/// The settable clock (the `pallet-timestamp` role).
pub struct MockTime;
impl MockTime {
	pub fn now() -> Moment {
		NOW.with(|n| *n.borrow())
	}
	pub fn set(ms: Moment) {
		NOW.with(|n| *n.borrow_mut() = ms);
	}
}
impl UnixTime for MockTime {
	fn now() -> Duration {
		Duration::from_millis(MockTime::now())
	}
}

pub struct OnConsortium;
impl frame_support::traits::Get<bool> for OnConsortium {
	fn get() -> bool {
		ON_CONSORTIUM.with(|c| *c.borrow())
	}
}
pub fn set_consortium(yes: bool) {
	ON_CONSORTIUM.with(|c| *c.borrow_mut() = yes);
}

parameter_types! {
	pub const RequestTtl: Moment = 7 * DAY;
	pub const RateWindow: Moment = 60_000;
	pub const StatementValidity: Moment = 5 * 60_000;
	pub const EmergencyAttestationTtl: Moment = 15 * 60_000;
	pub const MaxEmergencyDuration: Moment = DAY;
}

impl pallet_consent::Config for Test {
	type Participants = MockRegistry;
	type Records = MockRecords;
	type Time = MockTime;
	type ProxyOrigin = pallet_consent::EnsureHealthAuthority<Test>;
	type AcceptsConsents = OnConsortium;
	type MaxGrantsPerPatient = ConstU32<8>;
	type MaxGrantsPerGrantee = ConstU32<4>;
	type MaxPoliciesPerPatient = ConstU32<4>;
	type MaxPendingRequestsPerPatient = ConstU32<4>;
	type RequestTtl = RequestTtl;
	type MaxExpiriesPerBlock = ConstU32<4>;
	type MaxAuditEntriesPerPatient = ConstU32<64>;
	type RateWindow = RateWindow;
	type MaxRequestsPerWindow = ConstU32<5>;
	type MaxAccessesPerWindow = ConstU32<5>;
	type Signature = Signature;
	type StatementValidity = StatementValidity;
	type MaxPendingPerRequester = ConstU32<2>;
	type EmergencyAttestationTtl = EmergencyAttestationTtl;
	type MaxEmergencyDuration = MaxEmergencyDuration;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = MockRegistry;
	#[cfg(feature = "runtime-benchmarks")]
	type SignerHelper = MockRegistry;
}

/// A registry with two patients, two hospitals with doctors, an insurer and a health authority,
/// the clock at [`GENESIS_MS`], block 1.
pub fn new_test_ext() -> TestExt {
	REGISTRY.with(|r| r.borrow_mut().clear());
	RECORDS.with(|r| r.borrow_mut().clear());
	MockTime::set(GENESIS_MS);
	set_consortium(true);
	MockRegistry::refuse_suspensions(false);
	MockRegistry::register(PATIENT, Role::Patient);
	MockRegistry::register(OTHER_PATIENT, Role::Patient);
	MockRegistry::register(HOSPITAL_A, Role::Institution(InstitutionKind::Hospital));
	MockRegistry::register(HOSPITAL_B, Role::Institution(InstitutionKind::Hospital));
	MockRegistry::register(DOCTOR_A, Role::Doctor { institution: HOSPITAL_A });
	MockRegistry::register(DOCTOR_A2, Role::Doctor { institution: HOSPITAL_A });
	MockRegistry::register(DOCTOR_B, Role::Doctor { institution: HOSPITAL_B });
	MockRegistry::register(INSURER, Role::Institution(InstitutionKind::Insurer));
	MockRegistry::register(AUTHORITY, Role::Institution(InstitutionKind::HealthAuthority));

	let storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	TestExt::new(ext, Consent::do_try_state)
}

/// Moves to block `n`, advancing the clock [`BLOCK_MS`] per block and running the pallet's
/// `on_initialize` like a real block would.
pub fn run_to_block(n: u64) {
	while System::block_number() < n {
		let next = System::block_number() + 1;
		System::set_block_number(next);
		MockTime::set(MockTime::now() + BLOCK_MS);
		Consent::on_initialize(next);
	}
}

/// Test externalities that check the invariants ([`Consent::do_try_state`]) after every
/// `execute_with` (see [`mbds_primitives::invariants::CheckedExternalities`]).
pub type TestExt = mbds_primitives::invariants::CheckedExternalities;
