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
