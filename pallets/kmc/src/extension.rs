//! [`CheckParticipant`]: the transaction extension that admits only active participants to the
//! medical calls and bounds their feeless transactions per window.

use crate::{Config, Pallet, WeightInfo};
use codec::{Decode, DecodeWithMemTracking, Encode};
use frame_support::{
	dispatch::DispatchInfo, pallet_prelude::TransactionSource, traits::Contains, DebugNoBound,
};
use scale_info::TypeInfo;
use sp_runtime::{
	traits::{
		AsSystemOriginSigner, DispatchInfoOf, Dispatchable, Implication, PostDispatchInfoOf,
		TransactionExtension, ValidateResult,
	},
	transaction_validity::{TransactionValidityError, ValidTransaction},
	DispatchResult, Weight,
};

/// Transaction extension for the runtime's `TxExtension` tuple.
///
/// For a call in [`Config::MedicalCalls`] sent by a signed origin it:
/// - refuses the transaction (`InvalidTransaction::Custom`) if the signer is not registered
///   ([`crate::INVALID_UNREGISTERED`]), suspended ([`crate::INVALID_SUSPENDED`]; except for the
///   calls of [`Config::RetreatCalls`], which a suspended patient may always send) or has used
///   its quota ([`crate::INVALID_QUOTA_EXHAUSTED`]), in the pool and again in the block;
/// - counts the transaction against the signer's quota when the block executes it (for one of
///   [`Config::OnBehalfCalls`] sent by a health authority, its on-behalf quota).
///
/// Every other call passes untouched and costs nothing. It carries no data in the transaction
/// (encodes to zero bytes), so clients only need its identifier in the metadata.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Eq, PartialEq, TypeInfo)]
#[scale_info(skip_type_params(T))]
pub struct CheckParticipant<T: Config + Send + Sync>(core::marker::PhantomData<T>);

impl<T: Config + Send + Sync> CheckParticipant<T> {
	/// The extension value to put in a transaction.
	pub fn new() -> Self {
		Self(core::marker::PhantomData)
	}
}

impl<T: Config + Send + Sync> Default for CheckParticipant<T> {
	fn default() -> Self {
		Self::new()
	}
}

impl<T: Config + Send + Sync> core::fmt::Debug for CheckParticipant<T> {
	fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
		write!(f, "CheckParticipant")
	}
}

/// What [`CheckParticipant::validate`] hands to `prepare`.
#[derive(DebugNoBound)]
pub enum Val<T: Config> {
	/// A medical call by this active participant: count it in this quota.
	Count(T::AccountId, crate::QuotaKind),
	/// Not a medical call (or not signed): nothing to do.
	Skip,
}

impl<T: Config + Send + Sync> TransactionExtension<<T as frame_system::Config>::RuntimeCall>
	for CheckParticipant<T>
where
	<T as frame_system::Config>::RuntimeCall: Dispatchable<Info = DispatchInfo>,
	<<T as frame_system::Config>::RuntimeCall as Dispatchable>::RuntimeOrigin:
		AsSystemOriginSigner<T::AccountId> + Clone,
{
	const IDENTIFIER: &'static str = "CheckParticipant";
	type Implicit = ();
	type Val = Val<T>;
	type Pre = ();

	fn weight(&self, call: &<T as frame_system::Config>::RuntimeCall) -> Weight {
		if T::MedicalCalls::contains(call) {
			T::WeightInfo::check_participant()
		} else {
			Weight::zero()
		}
	}

	fn validate(
		&self,
		origin: <<T as frame_system::Config>::RuntimeCall as Dispatchable>::RuntimeOrigin,
		call: &<T as frame_system::Config>::RuntimeCall,
		_info: &DispatchInfoOf<<T as frame_system::Config>::RuntimeCall>,
		_len: usize,
		_self_implicit: Self::Implicit,
		_inherited_implication: &impl Implication,
		_source: TransactionSource,
	) -> ValidateResult<Self::Val, <T as frame_system::Config>::RuntimeCall> {
		if !T::MedicalCalls::contains(call) {
			return Ok((ValidTransaction::default(), Val::Skip, origin));
		}
		// Unsigned or root medical calls fail in the pallet's own origin check.
		let Some(who) = origin.as_system_origin_signer() else {
			return Ok((ValidTransaction::default(), Val::Skip, origin));
		};
		let kind = Pallet::<T>::check_feeless(
			who,
			T::RetreatCalls::contains(call),
			T::OnBehalfCalls::contains(call),
		)
		.map_err(TransactionValidityError::from)?;
		Ok((ValidTransaction::default(), Val::Count(who.clone(), kind), origin))
	}

	fn prepare(
		self,
		val: Self::Val,
		_origin: &<<T as frame_system::Config>::RuntimeCall as Dispatchable>::RuntimeOrigin,
		_call: &<T as frame_system::Config>::RuntimeCall,
		_info: &DispatchInfoOf<<T as frame_system::Config>::RuntimeCall>,
		_len: usize,
	) -> Result<Self::Pre, TransactionValidityError> {
		if let Val::Count(who, kind) = val {
			Pallet::<T>::note_feeless(&who, kind);
		}
		Ok(())
	}

	fn post_dispatch_details(
		_pre: Self::Pre,
		_info: &DispatchInfoOf<<T as frame_system::Config>::RuntimeCall>,
		_post_info: &PostDispatchInfoOf<<T as frame_system::Config>::RuntimeCall>,
		_len: usize,
		_result: &DispatchResult,
	) -> Result<Weight, TransactionValidityError> {
		Ok(Weight::zero())
	}
}

/// Fee payment (`S`, e.g. `pallet_transaction_payment::ChargeTransactionPayment`) skipped for
/// calls that are feeless for their origin (`#[pallet::feeless_if]`), as
/// `pallet_skip_feeless_payment::SkipCheckIfFeeless` does, with the weight it costs:
///
/// - a medical call ([`Config::MedicalCalls`]) other than a retreat call
///   ([`Config::RetreatCalls`]) is admitted by [`CheckParticipant`] only from an active
///   participant, and every such call is feeless for one (the runtime tests it), so its fee
///   payment costs nothing and the block is charged no weight for it (the upstream wrapper
///   charges the payment's full weight to every transaction);
/// - every other call is charged `S`'s weight, even if it turns out feeless (a retreat call
///   of an active patient): the runtime's `CheckWeight` reclaims only the call's unused
///   weight, before this extension runs, so a refund here would never reach the block;
/// - it deposits no event (the upstream wrapper writes a `FeeSkipped` event for each
///   transaction, one more storage write per medical call).
///
/// Encoding, type information, identifier and metadata are `S`'s, so transactions and
/// clients cannot tell the two wrappers apart.
#[derive(Encode, Decode, DecodeWithMemTracking, Clone, Eq, PartialEq)]
pub struct SkipFeeIfFeeless<T, S>(pub S, core::marker::PhantomData<T>);

impl<T, S: scale_info::StaticTypeInfo> TypeInfo for SkipFeeIfFeeless<T, S> {
	type Identity = S;
	fn type_info() -> scale_info::Type {
		S::type_info()
	}
}

impl<T, S: Encode> core::fmt::Debug for SkipFeeIfFeeless<T, S> {
	fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
		write!(f, "SkipFeeIfFeeless<{:?}>", self.0.encode())
	}
}

impl<T, S> From<S> for SkipFeeIfFeeless<T, S> {
	fn from(s: S) -> Self {
		Self(s, core::marker::PhantomData)
	}
}

/// What [`SkipFeeIfFeeless`] carries from `validate` to `post_dispatch`: `S`'s, or nothing
/// for a skipped payment.
pub enum SkipOr<P> {
	Apply(P),
	Skip,
}

impl<T, S> SkipFeeIfFeeless<T, S>
where
	T: Config + Send + Sync,
	S: TransactionExtension<<T as frame_system::Config>::RuntimeCall>,
{
	/// True if `call` is charged no payment weight: a medical call that only an active
	/// participant can send, and so always feeless.
	pub fn free_of_payment_weight(call: &<T as frame_system::Config>::RuntimeCall) -> bool {
		T::MedicalCalls::contains(call) && !T::RetreatCalls::contains(call)
	}
}

impl<T, S> TransactionExtension<<T as frame_system::Config>::RuntimeCall> for SkipFeeIfFeeless<T, S>
where
	T: Config + Send + Sync,
	S: TransactionExtension<<T as frame_system::Config>::RuntimeCall>,
	<T as frame_system::Config>::RuntimeCall: frame_support::dispatch::CheckIfFeeless<
		Origin = <<T as frame_system::Config>::RuntimeCall as Dispatchable>::RuntimeOrigin,
	>,
{
	const IDENTIFIER: &'static str = S::IDENTIFIER;
	type Implicit = S::Implicit;
	type Val = SkipOr<S::Val>;
	type Pre = SkipOr<S::Pre>;

	fn metadata() -> alloc::vec::Vec<sp_runtime::traits::TransactionExtensionMetadata> {
		S::metadata()
	}

	fn implicit(&self) -> Result<Self::Implicit, TransactionValidityError> {
		self.0.implicit()
	}

	fn weight(&self, call: &<T as frame_system::Config>::RuntimeCall) -> Weight {
		if Self::free_of_payment_weight(call) {
			Weight::zero()
		} else {
			self.0.weight(call)
		}
	}

	fn validate(
		&self,
		origin: <<T as frame_system::Config>::RuntimeCall as Dispatchable>::RuntimeOrigin,
		call: &<T as frame_system::Config>::RuntimeCall,
		info: &DispatchInfoOf<<T as frame_system::Config>::RuntimeCall>,
		len: usize,
		self_implicit: Self::Implicit,
		inherited_implication: &impl Implication,
		source: TransactionSource,
	) -> ValidateResult<Self::Val, <T as frame_system::Config>::RuntimeCall> {
		use frame_support::dispatch::CheckIfFeeless;
		if call.is_feeless(&origin) {
			return Ok((ValidTransaction::default(), SkipOr::Skip, origin));
		}
		let (valid, val, origin) = self.0.validate(
			origin,
			call,
			info,
			len,
			self_implicit,
			inherited_implication,
			source,
		)?;
		Ok((valid, SkipOr::Apply(val), origin))
	}

	fn prepare(
		self,
		val: Self::Val,
		origin: &<<T as frame_system::Config>::RuntimeCall as Dispatchable>::RuntimeOrigin,
		call: &<T as frame_system::Config>::RuntimeCall,
		info: &DispatchInfoOf<<T as frame_system::Config>::RuntimeCall>,
		len: usize,
	) -> Result<Self::Pre, TransactionValidityError> {
		match val {
			SkipOr::Apply(val) => self.0.prepare(val, origin, call, info, len).map(SkipOr::Apply),
			SkipOr::Skip => Ok(SkipOr::Skip),
		}
	}

	fn post_dispatch_details(
		pre: Self::Pre,
		info: &DispatchInfoOf<<T as frame_system::Config>::RuntimeCall>,
		post_info: &PostDispatchInfoOf<<T as frame_system::Config>::RuntimeCall>,
		len: usize,
		result: &DispatchResult,
	) -> Result<Weight, TransactionValidityError> {
		match pre {
			SkipOr::Apply(pre) => S::post_dispatch_details(pre, info, post_info, len, result),
			SkipOr::Skip => Ok(Weight::zero()),
		}
	}
}
