//! Reporting a broken storage invariant from a pallet's `do_try_state`.
//!
//! Every MBDS pallet with cross-referenced storage has a `do_try_state()` that checks the
//! invariants its extrinsics and hooks maintain (indices agree with what they index, counters
//! with what they count, ...). It runs in `try_state` (the `try-runtime` checks, e.g. of a
//! runtime upgrade over a live chain's state), at the end of the pallets' unit tests and after
//! every call of the call fuzzer (`tests/tests/fuzz_calls.rs`). A broken invariant is a
//! [`TryRuntimeError`] naming the invariant; the item that breaks it (an account, an id) is
//! logged, and with `std` also part of the error's message.

use sp_runtime::TryRuntimeError;

/// Log target of broken invariants.
pub const LOG_TARGET: &str = "runtime::try-state";

/// The error of a broken invariant. `invariant` names it (a fixed sentence beginning with the
/// pallet's name), `detail` the item that breaks it. The detail is logged at error level; with
/// `std` (native tests and tools) the error's message is `"<invariant>: <detail>"`, leaked to
/// make it `'static` (a few bytes once per broken invariant, which ends the check), without
/// `std` (the wasm runtime's `try_state`) it is the invariant alone.
#[cold]
pub fn broken(invariant: &'static str, detail: core::fmt::Arguments) -> TryRuntimeError {
	log::error!(target: LOG_TARGET, "invariant broken: {invariant}: {detail}");
	#[cfg(feature = "std")]
	{
		let message = alloc::format!("{invariant}: {detail}");
		TryRuntimeError::Other(alloc::boxed::Box::leak(message.into_boxed_str()))
	}
	#[cfg(not(feature = "std"))]
	{
		TryRuntimeError::Other(invariant)
	}
}

/// `ensure_invariant!(condition, "pallet: invariant", "detail {}", args...)`: returns
/// [`broken`]`(invariant, detail)` from the enclosing function if `condition` is false. The
/// detail is formatted only then.
#[macro_export]
macro_rules! ensure_invariant {
	($cond:expr, $invariant:expr, $($detail:tt)+) => {
		if !$cond {
			return Err($crate::invariants::broken($invariant, format_args!($($detail)+)));
		}
	};
}

/// The message of a `do_try_state` error: the invariant, and with `std` the detail (for tests:
/// `assert!(message_of(&e).starts_with("kmc: ..."))`).
pub fn message_of(error: &TryRuntimeError) -> &'static str {
	match error {
		sp_runtime::DispatchError::Other(message) => message,
		_ => "",
	}
}

/// Test externalities that run `check` (the pallets' `do_try_state`) after every
/// `execute_with`, so every test of a pallet's mock ends with its invariants checked; panics
/// naming the broken one. [`CheckedExternalities::into_inner`] gives the plain externalities,
/// for tests that corrupt storage on purpose.
#[cfg(feature = "std")]
pub struct CheckedExternalities {
	ext: sp_io::TestExternalities,
	check: fn() -> Result<(), TryRuntimeError>,
}

#[cfg(feature = "std")]
impl CheckedExternalities {
	/// `ext`, checked by `check` after every `execute_with`.
	pub fn new(ext: sp_io::TestExternalities, check: fn() -> Result<(), TryRuntimeError>) -> Self {
		Self { ext, check }
	}

	/// Runs `f`, then checks the invariants.
	pub fn execute_with<R>(&mut self, f: impl FnOnce() -> R) -> R {
		let result = self.ext.execute_with(f);
		self.ext
			.execute_with(self.check)
			.unwrap_or_else(|e| panic!("an invariant is broken at the end of the test: {e:?}"));
		result
	}

	/// The externalities without the checks.
	pub fn into_inner(self) -> sp_io::TestExternalities {
		self.ext
	}
}
