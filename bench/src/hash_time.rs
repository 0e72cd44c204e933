//! The time of one Argon2id hash, for the login ceiling (cores ÷ this time).

use std::time::{Duration, Instant};

use anyhow::anyhow;
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Runs that warm caches and the CPU's clock before the timed ones.
const WARM_UP: usize = 3;

pub struct Timing {
    /// Median wall time of one hash.
    pub median: Duration,
    /// Hashes per second of all threads together.
    pub per_second: f64,
}

/// Hashes `runs` times on each of `threads` threads at once. Like the
/// server's workers, each thread allocates its memory block once and reuses
/// it, so page faults of a fresh 19 MiB block are not counted.
pub fn measure(params: Params, runs: usize, threads: usize) -> anyhow::Result<Timing> {
    let runs = runs.max(1);
    let per_thread = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| scope.spawn(|| time_hashes(params.clone(), runs)))
            .collect();
        workers
            .into_iter()
            .map(|worker| {
                worker
                    .join()
                    .map_err(|_| anyhow!("a hashing thread panicked"))?
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    // Each thread's own rate over its timed hashes, so that start-up and
    // the warm-up hashes (first touch of the memory block) do not count.
    let per_second = per_thread
        .iter()
        .map(|times| times.len() as f64 / times.iter().sum::<Duration>().as_secs_f64())
        .sum();
    let mut times: Vec<Duration> = per_thread.into_iter().flatten().collect();
    times.sort_unstable();
    Ok(Timing {
        median: times[times.len() / 2],
        per_second,
    })
}

fn time_hashes(params: Params, runs: usize) -> anyhow::Result<Vec<Duration>> {
    let mut memory = vec![Block::default(); params.block_count()];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let password = b"lantern orbit cobalt ferry 17";
    let salt = [7u8; 16];
    let mut out = [0u8; 32];
    let mut times = Vec::with_capacity(runs);
    for run in 0..WARM_UP + runs {
        let started = Instant::now();
        argon2
            .hash_password_into_with_memory(password, &salt, &mut out, &mut memory)
            .map_err(|e| anyhow!("hashing failed: {e}"))?;
        if run >= WARM_UP {
            times.push(started.elapsed());
        }
    }
    Ok(times)
}
