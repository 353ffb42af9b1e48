//! Runtime APIs: what the node, light clients, polkadot.js and MBDS clients may ask.

use crate::*;
use frame_support::{
	genesis_builder_helper::{build_state, get_preset},
	weights::Weight,
};
use pallet_grandpa::AuthorityId as GrandpaId;
use sp_api::impl_runtime_apis;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_core::{crypto::KeyTypeId, OpaqueMetadata};
use sp_genesis_builder::PresetId;
use sp_runtime::{
	traits::{Block as BlockT, NumberFor},
	transaction_validity::{TransactionSource, TransactionValidity},
	ApplyExtrinsicResult, ExtrinsicInclusionMode,
};

/// This chain's session keys from a node's dev seed (`mbds-node --alice` passes `//Alice`): keys
/// specific to this chain, the ones the genesis presets seat
/// ([`mbds_primitives::chain_session_seed`]), so no two chains of a deployment share validator
/// keys. Without a seed (key rotation) the keys are fresh random ones.
pub fn chain_session_keys(
	owner: &[u8],
	seed: Option<Vec<u8>>,
) -> sp_session::OpaqueGeneratedSessionKeys {
	let seed = seed.map(|s| {
		mbds_primitives::chain_session_seed(
			&s,
			<ChainInfo as mbds_primitives::ChainIdentity>::chain_id(),
		)
	});
	opaque::SessionKeys::generate(owner, seed).into()
}

impl_runtime_apis! {
	impl sp_api::Core<Block> for Runtime {
		fn version() -> RuntimeVersion {
			VERSION
		}

		fn execute_block(block: <Block as BlockT>::LazyBlock) {
			Executive::execute_block(block);
		}

		fn initialize_block(header: &<Block as BlockT>::Header) -> ExtrinsicInclusionMode {
			Executive::initialize_block(header)
		}
	}

	impl sp_api::Metadata<Block> for Runtime {
		fn metadata() -> OpaqueMetadata {
			OpaqueMetadata::new(Runtime::metadata().into())
		}

		fn metadata_at_version(version: u32) -> Option<OpaqueMetadata> {
			Runtime::metadata_at_version(version)
		}

		fn metadata_versions() -> Vec<u32> {
			Runtime::metadata_versions()
		}
	}

	impl sp_block_builder::BlockBuilder<Block> for Runtime {
		fn apply_extrinsic(extrinsic: <Block as BlockT>::Extrinsic) -> ApplyExtrinsicResult {
			Executive::apply_extrinsic(extrinsic)
		}

		fn finalize_block() -> <Block as BlockT>::Header {
			Executive::finalize_block()
		}

		fn inherent_extrinsics(data: sp_inherents::InherentData) -> Vec<<Block as BlockT>::Extrinsic> {
			data.create_extrinsics()
		}

		fn check_inherents(
			block: <Block as BlockT>::LazyBlock,
			data: sp_inherents::InherentData,
		) -> sp_inherents::CheckInherentsResult {
			data.check_extrinsics(&block)
		}
	}

	impl sp_transaction_pool::runtime_api::TaggedTransactionQueue<Block> for Runtime {
		fn validate_transaction(
			source: TransactionSource,
			tx: <Block as BlockT>::Extrinsic,
			block_hash: <Block as BlockT>::Hash,
		) -> TransactionValidity {
			Executive::validate_transaction(source, tx, block_hash)
		}
	}

	impl sp_offchain::OffchainWorkerApi<Block> for Runtime {
		fn offchain_worker(header: &<Block as BlockT>::Header) {
			Executive::offchain_worker(header)
		}
	}

	impl sp_consensus_aura::AuraApi<Block, AuraId> for Runtime {
		fn slot_duration() -> sp_consensus_aura::SlotDuration {
			sp_consensus_aura::SlotDuration::from_millis(Aura::slot_duration())
		}

		fn authorities() -> Vec<AuraId> {
			pallet_aura::Authorities::<Runtime>::get().into_inner()
		}
	}

	impl sp_session::SessionKeys<Block> for Runtime {
		fn generate_session_keys(
			owner: Vec<u8>,
			seed: Option<Vec<u8>>,
		) -> sp_session::OpaqueGeneratedSessionKeys {
			chain_session_keys(&owner, seed)
		}

		fn decode_session_keys(encoded: Vec<u8>) -> Option<Vec<(Vec<u8>, KeyTypeId)>> {
			opaque::SessionKeys::decode_into_raw_public_keys(&encoded)
		}
	}

	impl sp_consensus_grandpa::GrandpaApi<Block> for Runtime {
		fn grandpa_authorities() -> sp_consensus_grandpa::AuthorityList {
			Grandpa::grandpa_authorities()
		}

		fn current_set_id() -> sp_consensus_grandpa::SetId {
			Grandpa::current_set_id()
		}

		fn submit_report_equivocation_unsigned_extrinsic(
			equivocation_proof: sp_consensus_grandpa::EquivocationProof<
				<Block as BlockT>::Hash,
				NumberFor<Block>,
			>,
			key_owner_proof: sp_consensus_grandpa::OpaqueKeyOwnershipProof,
		) -> Option<()> {
			let key_owner_proof = key_owner_proof.decode()?;
			Grandpa::submit_unsigned_equivocation_report(equivocation_proof, key_owner_proof)
		}

		fn generate_key_ownership_proof(
			_set_id: sp_consensus_grandpa::SetId,
			authority_id: GrandpaId,
		) -> Option<sp_consensus_grandpa::OpaqueKeyOwnershipProof> {
			use codec::Encode;
			use frame_support::traits::KeyOwnerProofSystem;
			Historical::prove((sp_consensus_grandpa::KEY_TYPE, authority_id))
				.map(|proof| proof.encode())
				.map(sp_consensus_grandpa::OpaqueKeyOwnershipProof::new)
		}
	}

	impl frame_system_rpc_runtime_api::AccountNonceApi<Block, AccountId, Nonce> for Runtime {
		fn account_nonce(account: AccountId) -> Nonce {
			System::account_nonce(account)
		}
	}

	impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentApi<Block, Balance> for Runtime {
		fn query_info(
			uxt: <Block as BlockT>::Extrinsic,
			len: u32,
		) -> pallet_transaction_payment_rpc_runtime_api::RuntimeDispatchInfo<Balance> {
			TransactionPayment::query_info(uxt, len)
		}
		fn query_fee_details(
			uxt: <Block as BlockT>::Extrinsic,
			len: u32,
		) -> pallet_transaction_payment::FeeDetails<Balance> {
			TransactionPayment::query_fee_details(uxt, len)
		}
		fn query_weight_to_fee(weight: Weight) -> Balance {
			TransactionPayment::weight_to_fee(weight)
		}
		fn query_length_to_fee(length: u32) -> Balance {
			TransactionPayment::length_to_fee(length)
		}
	}

	impl pallet_transaction_payment_rpc_runtime_api::TransactionPaymentCallApi<Block, Balance, RuntimeCall>
		for Runtime
	{
		fn query_call_info(
			call: RuntimeCall,
			len: u32,
		) -> pallet_transaction_payment::RuntimeDispatchInfo<Balance> {
			TransactionPayment::query_call_info(call, len)
		}
		fn query_call_fee_details(
			call: RuntimeCall,
			len: u32,
		) -> pallet_transaction_payment::FeeDetails<Balance> {
			TransactionPayment::query_call_fee_details(call, len)
		}
		fn query_weight_to_fee(weight: Weight) -> Balance {
			TransactionPayment::weight_to_fee(weight)
		}
		fn query_length_to_fee(length: u32) -> Balance {
			TransactionPayment::length_to_fee(length)
		}
	}

	impl sp_genesis_builder::GenesisBuilder<Block> for Runtime {
		fn build_state(config: Vec<u8>) -> sp_genesis_builder::Result {
			build_state::<RuntimeGenesisConfig>(config)
		}

		fn get_preset(id: &Option<PresetId>) -> Option<Vec<u8>> {
			get_preset::<RuntimeGenesisConfig>(id, crate::genesis_config_presets::get_preset)
		}

		fn preset_names() -> Vec<PresetId> {
			crate::genesis_config_presets::preset_names()
		}
	}

	#[api_version(2)]
	impl pallet_anchor::AnchorApi<
		Block,
		AccountId,
		BlockNumber,
		pallet_slips::SummaryItemOf<Runtime>,
	> for Runtime {
		fn summaries_of(
			patient: AccountId,
			since: Option<BlockNumber>,
		) -> Vec<pallet_anchor::AnchoredSummary<pallet_slips::SummaryItemOf<Runtime>, BlockNumber>> {
			Anchor::summaries_of(&patient, since)
		}
		fn patient_summaries(
			patient: AccountId,
			start: u32,
			limit: u32,
		) -> Vec<pallet_anchor::AnchoredSummary<pallet_slips::SummaryItemOf<Runtime>, BlockNumber>> {
			Anchor::patient_summaries(&patient, start, limit)
		}
		fn patient_summary_count(patient: AccountId) -> u32 {
			Anchor::patient_summary_count(&patient)
		}
		fn anchored(chain_id: ChainId) -> Option<(pallet_slips::BatchId, BlockNumber)> {
			Anchor::anchored(chain_id)
		}
		fn light_client(chain_id: ChainId) -> Option<pallet_anchor::LightClientInfo<BlockNumber>> {
			Anchor::light_client(chain_id)
		}
		fn is_imported(chain_id: ChainId, hash: sp_core::H256) -> bool {
			Anchor::is_imported(chain_id, hash)
		}
		fn consortium_slip(
			id: pallet_anchor::ConsortiumSlipId,
		) -> Option<pallet_anchor::ConsortiumSlip<pallet_slips::SummaryItemOf<Runtime>, BlockNumber>> {
			Anchor::consortium_slip(id)
		}
		fn lookup_labels(
			patient: AccountId,
			labels: Vec<[u8; 32]>,
		) -> Vec<Vec<pallet_anchor::AnchoredSummary<pallet_slips::SummaryItemOf<Runtime>, BlockNumber>>> {
			Anchor::lookup_labels(&patient, &labels)
		}
		fn unindexed_count(patient: AccountId) -> u32 {
			Anchor::unindexed_count(&patient)
		}
	}

	impl pallet_slips::SlipsApi<
		Block,
		AccountId,
		BlockNumber,
		pallet_slips::SlipOf<Runtime>,
		pallet_slips::SummaryItemOf<Runtime>,
	> for Runtime {
		fn slip(slip_id: pallet_slips::SlipId) -> Option<pallet_slips::SlipOf<Runtime>> {
			Slips::slip(slip_id)
		}
		fn patient_slips(
			patient: AccountId,
			start: u32,
			limit: u32,
		) -> Vec<(pallet_slips::SlipId, pallet_slips::SlipOf<Runtime>)> {
			Slips::patient_slips(&patient, start, limit)
		}
		fn patient_slip_count(patient: AccountId) -> u32 {
			pallet_slips::PatientSlipCount::<Runtime>::get(&patient)
		}
		fn batch(batch: pallet_slips::BatchId) -> Option<pallet_slips::BatchInfo<BlockNumber>> {
			Slips::batch(batch)
		}
		fn batch_with_proofs(
			batch: pallet_slips::BatchId,
			start: u32,
			limit: u32,
		) -> Option<pallet_slips::BatchWithProofs<BlockNumber, pallet_slips::SummaryItemOf<Runtime>>> {
			Slips::batch_with_proofs(batch, start, limit)
		}
		fn next_batch_id() -> pallet_slips::BatchId {
			pallet_slips::NextBatchId::<Runtime>::get()
		}
	}

	impl pallet_consent::ConsentApi<Block, AccountId, BlockNumber> for Runtime {
		fn is_access_allowed(
			patient: AccountId,
			user: AccountId,
			target: mbds_primitives::consent::AccessTarget,
			action: mbds_primitives::consent::Action,
			now: Moment,
		) -> bool {
			Consent::is_access_allowed(&patient, &user, &target, action, now)
		}
		fn audit_trail(
			patient: AccountId,
			from: u64,
			limit: u32,
		) -> (u64, Vec<pallet_consent::AuditRecord<AccountId, BlockNumber>>) {
			Consent::audit_trail(&patient, from, limit)
		}

		fn audit_head(patient: AccountId) -> (u64, [u8; 32]) {
			Consent::audit_head(&patient)
		}
		fn grants_of(
			patient: AccountId,
		) -> Vec<(mbds_primitives::consent::GrantId, mbds_primitives::consent::Grant<AccountId>)> {
			Consent::grants_of(&patient)
		}
		fn pending_requests(
			patient: AccountId,
		) -> Vec<(mbds_primitives::consent::RequestId, pallet_consent::AccessRequest<AccountId>)> {
			Consent::pending_requests(&patient)
		}
	}

	// Built only with the `try-runtime` feature: the try-runtime checks of the migrations
	// (`pre_upgrade`/`post_upgrade`, every pallet's storage version) over a copy of a running
	// chain's state; `tests/tests/anchoring.rs` runs them over a live node's state.
	#[cfg(feature = "try-runtime")]
	impl frame_try_runtime::TryRuntime<Block> for Runtime {
		fn on_runtime_upgrade(checks: frame_try_runtime::UpgradeCheckSelect) -> (Weight, Weight) {
			// A failed check panics with its message: the caller sees it as the call's error.
			let weight = Executive::try_runtime_upgrade(checks).unwrap();
			(weight, configs::RuntimeBlockWeights::get().max_block)
		}

		fn execute_block(
			block: <Block as BlockT>::LazyBlock,
			state_root_check: bool,
			signature_check: bool,
			select: frame_try_runtime::TryStateSelect,
		) -> Weight {
			Executive::try_execute_block(block, state_root_check, signature_check, select)
				.expect("try_execute_block failed")
		}
	}

	#[cfg(feature = "runtime-benchmarks")]
	impl frame_benchmarking::Benchmark<Block> for Runtime {
		fn benchmark_metadata(extra: bool) -> (
			Vec<frame_benchmarking::BenchmarkList>,
			Vec<frame_support::traits::StorageInfo>,
		) {
			use frame_benchmarking::{Benchmarking, BenchmarkList};
			use frame_support::traits::StorageInfoTrait;
			use frame_system_benchmarking::Pallet as SystemBench;
			use frame_system_benchmarking::extensions::Pallet as SystemExtensionsBench;
			use crate::benchmarks::*;

			let mut list = Vec::<BenchmarkList>::new();
			list_benchmarks!(list, extra);

			let storage_info = AllPalletsWithSystem::storage_info();
			(list, storage_info)
		}

		#[allow(non_local_definitions)]
		fn dispatch_benchmark(
			config: frame_benchmarking::BenchmarkConfig
		) -> Result<Vec<frame_benchmarking::BenchmarkBatch>, alloc::string::String> {
			use frame_benchmarking::{Benchmarking, BenchmarkBatch};
			use frame_support::traits::WhitelistedStorageKeys;
			use frame_system_benchmarking::Pallet as SystemBench;
			use frame_system_benchmarking::extensions::Pallet as SystemExtensionsBench;
			use sp_storage::TrackedStorageKey;
			use crate::benchmarks::*;

			impl frame_system_benchmarking::Config for Runtime {}
			impl pallet_transaction_payment::BenchmarkConfig for Runtime {}

			let whitelist: Vec<TrackedStorageKey> = AllPalletsWithSystem::whitelisted_storage_keys();
			let mut batches = Vec::<BenchmarkBatch>::new();
			let params = (&config, &whitelist);
			add_benchmarks!(params, batches);
			Ok(batches)
		}
	}
}
