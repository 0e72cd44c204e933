//! The time of one Argon2id hash, for the login ceiling (cores ÷ this time).

use std::time::{Duration, Instant};

use anyhow::anyhow;
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// Runs that warm caches and the CPU's clock before the timed ones.
const WARM_UP: usize = 3;

/// Median wall time of `runs` hashes on this thread. Like the server's
/// workers, it allocates the memory block once and reuses it, so page
/// faults of a fresh 19 MiB block are not counted.
pub fn median(m_cost_kib: u32, t_cost: u32, p_cost: u32, runs: usize) -> anyhow::Result<Duration> {
    let params = Params::new(m_cost_kib, t_cost, p_cost, Some(32))
        .map_err(|e| anyhow!("invalid Argon2 parameters: {e}"))?;
    let mut memory = vec![Block::default(); params.block_count()];
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let password = b"lantern orbit cobalt ferry 17";
    let salt = [7u8; 16];
    let mut out = [0u8; 32];
    let mut times = Vec::with_capacity(runs.max(1));
    for run in 0..WARM_UP + runs.max(1) {
        let started = Instant::now();
        argon2
            .hash_password_into_with_memory(password, &salt, &mut out, &mut memory)
            .map_err(|e| anyhow!("hashing failed: {e}"))?;
        if run >= WARM_UP {
            times.push(started.elapsed());
        }
    }
    times.sort_unstable();
    Ok(times[times.len() / 2])
}
