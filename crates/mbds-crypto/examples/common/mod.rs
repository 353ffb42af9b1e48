//! What the figure examples share.

use std::time::{Duration, Instant};

/// Median wall time of `runs` calls.
pub fn median<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
	let mut v: Vec<Duration> = (0..runs)
		.map(|_| {
			let t = Instant::now();
			std::hint::black_box(f());
			t.elapsed()
		})
		.collect();
	v.sort();
	v[runs / 2]
}
