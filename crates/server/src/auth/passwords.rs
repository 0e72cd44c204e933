//! Password hashing on a bounded pool.
//!
//! Argon2id needs ~19 MiB and ~15 ms of one core per hash. Run on tokio's
//! blocking pool, a flood of sign-ins would start hundreds of hashes at once
//! (memory) and starve everything else (CPU). Here a fixed set of worker
//! threads, one per core, each reusing its own memory block, does all the
//! hashing; a request that cannot get a slot within a short wait is answered
//! 503 with Retry-After instead of piling up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use zeroize::Zeroizing;

use crate::config::Argon2Config;

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("all password hashing slots are busy")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash uses other parameters than the configured ones.
    pub needs_rehash: bool,
}

/// A job holds its slot until a worker has finished or skipped it, so jobs
/// of requests that went away (client gone, timeout) still count against
/// the limit until they leave the queue.
struct Job {
    work: Work,
    _slot: OwnedSemaphorePermit,
}

enum Work {
    Hash {
        password: Zeroizing<String>,
        reply: oneshot::Sender<anyhow::Result<String>>,
    },
    Verify {
        password: Zeroizing<String>,
        phc: String,
        reply: oneshot::Sender<anyhow::Result<Verified>>,
    },
}

pub struct PasswordHasher {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    /// Hashes computed so far (hash and verify alike), for metrics and for
    /// tests that check that two paths do the same work.
    computed: Arc<AtomicU64>,
    slots: Arc<Semaphore>,
    wait: Duration,
}

#[derive(Clone)]
struct Engine {
    params: Params,
    pepper: Option<Arc<SecretString>>,
}

impl PasswordHasher {
    /// Starts `workers` hashing threads; at most `max_in_flight` requests
    /// hold a slot (running or queued) at once.
    pub fn start(
        config: Argon2Config,
        pepper: Option<SecretString>,
        workers: usize,
        max_in_flight: usize,
        wait: Duration,
    ) -> anyhow::Result<Self> {
        let params = Params::new(config.m_cost_kib, config.t_cost, config.p_cost, Some(32))
            .map_err(|e| anyhow!("invalid Argon2 parameters: {e}"))?;
        let engine = Engine {
            params,
            pepper: pepper.map(Arc::new),
        };
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let computed = Arc::new(AtomicU64::new(0));
        for index in 0..workers.max(1) {
            let receiver = Arc::clone(&receiver);
            let engine = engine.clone();
            let computed = Arc::clone(&computed);
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || worker(&engine, &receiver, &computed))
                .context("starting a password hashing thread")?;
        }
        Ok(Self {
            jobs: Mutex::new(Some(sender)),
            computed,
            slots: Arc::new(Semaphore::new(max_in_flight.max(workers).max(1))),
            wait,
        })
    }

    async fn submit<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<anyhow::Result<T>>) -> Work,
    ) -> Result<T, HashError> {
        let slot = tokio::time::timeout(self.wait, Arc::clone(&self.slots).acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Failed(anyhow!("password hasher closed")))?;
        let (reply, answer) = oneshot::channel();
        {
            let jobs = self
                .jobs
                .lock()
                .map_err(|_| anyhow!("password hasher lock poisoned"))?;
            let sender = jobs
                .as_ref()
                .ok_or_else(|| anyhow!("password hasher stopped"))?;
            let job = Job {
                work: make(reply),
                _slot: slot,
            };
            sender
                .send(job)
                .map_err(|_| anyhow!("password hashing threads are gone"))?;
        }
        Ok(answer
            .await
            .map_err(|_| anyhow!("password hashing thread dropped a job"))??)
    }

    /// How many hashes the workers have computed since start.
    pub fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }

    /// A new PHC string for `password` with the configured parameters.
    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = Zeroizing::new(password.to_owned());
        self.submit(|reply| Work::Hash { password, reply }).await
    }

    /// Checks `password` against a stored PHC string in constant time.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<Verified, HashError> {
        let password = Zeroizing::new(password.to_owned());
        let phc = phc.to_owned();
        self.submit(|reply| Work::Verify {
            password,
            phc,
            reply,
        })
        .await
    }
}

impl Drop for PasswordHasher {
    fn drop(&mut self) {
        // Dropping the sender ends the workers' receive loops.
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
    }
}

/// Lowers the calling thread's scheduling priority (nice 10). Alone, the
/// hashing threads still get every free cycle; under a sign-in flood the
/// CPU goes to answering other requests first (bench/README.md measured
/// reads during a flood at 50% more per second with this).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 10) {
        tracing::warn!(error = %error, "could not lower the hashing thread's priority");
    }
}

fn worker(engine: &Engine, receiver: &Mutex<mpsc::Receiver<Job>>, computed: &AtomicU64) {
    lower_priority();
    // This thread's Argon2 memory, allocated once and reused by every hash.
    let mut memory = vec![Block::default(); engine.params.block_count()];
    loop {
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else { return };
        match job.work {
            // Nobody waits for the answer any more: skip the 15 ms of work.
            Work::Hash { reply, .. } if reply.is_closed() => {}
            Work::Verify { reply, .. } if reply.is_closed() => {}
            Work::Hash { password, reply } => {
                computed.fetch_add(1, Ordering::Relaxed);
                let _ = reply.send(engine.hash(&password, &mut memory));
            }
            Work::Verify {
                password,
                phc,
                reply,
            } => {
                computed.fetch_add(1, Ordering::Relaxed);
                let _ = reply.send(engine.verify(&password, &phc, &mut memory));
            }
        }
    }
}

impl Engine {
    fn argon2(&self, params: Params) -> anyhow::Result<Argon2<'_>> {
        match &self.pepper {
            Some(pepper) => Argon2::new_with_secret(
                pepper.expose_secret().as_bytes(),
                Algorithm::Argon2id,
                Version::V0x13,
                params,
            )
            .map_err(|e| anyhow!("invalid pepper: {e}")),
            None => Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params)),
        }
    }

    fn hash(&self, password: &str, memory: &mut Vec<Block>) -> anyhow::Result<String> {
        let salt: [u8; 16] = crate::crypto::random_array()?;
        let mut out = Zeroizing::new([0u8; 32]);
        let params = self.params.clone();
        ensure_memory(memory, &params);
        self.argon2(params.clone())?
            .hash_password_into_with_memory(
                password.as_bytes(),
                &salt,
                out.as_mut_slice(),
                memory.as_mut_slice(),
            )
            .map_err(|e| anyhow!("hashing failed: {e}"))?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params).map_err(|e| anyhow!("{e}"))?,
            salt: Some(Salt::new(&salt).map_err(|e| anyhow!("{e}"))?),
            hash: Some(Output::new(out.as_slice()).map_err(|e| anyhow!("{e}"))?),
        };
        Ok(phc.to_string())
    }

    fn verify(
        &self,
        password: &str,
        phc: &str,
        memory: &mut Vec<Block>,
    ) -> anyhow::Result<Verified> {
        let parsed = PasswordHash::new(phc).map_err(|e| anyhow!("stored hash unreadable: {e}"))?;
        if parsed.algorithm != Algorithm::Argon2id.ident() {
            anyhow::bail!("stored hash is not Argon2id");
        }
        let params =
            Params::try_from(&parsed).map_err(|e| anyhow!("stored hash parameters: {e}"))?;
        let salt = parsed
            .salt
            .ok_or_else(|| anyhow!("stored hash has no salt"))?;
        let expected = parsed
            .hash
            .ok_or_else(|| anyhow!("stored hash has no output"))?;
        let mut out = Zeroizing::new(vec![0u8; expected.len()]);
        ensure_memory(memory, &params);
        self.argon2(params.clone())?
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt.as_ref(),
                out.as_mut_slice(),
                memory.as_mut_slice(),
            )
            .map_err(|e| anyhow!("hashing failed: {e}"))?;
        let matches: bool = out.as_slice().ct_eq(expected.as_ref()).into();
        let needs_rehash = params.m_cost() != self.params.m_cost()
            || params.t_cost() != self.params.t_cost()
            || params.p_cost() != self.params.p_cost()
            || expected.len() != 32
            || parsed.version != Some(Version::V0x13.into());
        Ok(Verified {
            matches,
            needs_rehash,
        })
    }
}

/// Grows this worker's block buffer when a stored hash uses more memory than
/// the configured parameters (it never shrinks: the next hash reuses it).
fn ensure_memory(memory: &mut Vec<Block>, params: &Params) {
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ARGON2_MINIMUM;

    fn hasher(config: Argon2Config) -> anyhow::Result<PasswordHasher> {
        PasswordHasher::start(config, None, 2, 8, Duration::from_secs(5))
    }

    #[tokio::test]
    async fn hashes_are_argon2id_with_at_least_the_owasp_parameters() -> anyhow::Result<()> {
        let hasher = hasher(ARGON2_MINIMUM)?;
        let phc = hasher.hash("correct horse battery staple").await?;
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let ok = hasher.verify("correct horse battery staple", &phc).await?;
        assert_eq!(
            ok,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
        let wrong = hasher.verify("correct horse battery stapler", &phc).await?;
        assert!(!wrong.matches);
        Ok(())
    }

    #[tokio::test]
    async fn a_hash_with_old_parameters_asks_for_a_rehash() -> anyhow::Result<()> {
        let old = hasher(ARGON2_MINIMUM)?
            .hash("correct horse battery staple")
            .await?;
        let stronger = Argon2Config {
            t_cost: 3,
            ..ARGON2_MINIMUM
        };
        let verdict = hasher(stronger)?
            .verify("correct horse battery staple", &old)
            .await?;
        assert_eq!(
            verdict,
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_pepper_changes_the_hash() -> anyhow::Result<()> {
        let plain = hasher(ARGON2_MINIMUM)?
            .hash("correct horse battery staple")
            .await?;
        let peppered = PasswordHasher::start(
            ARGON2_MINIMUM,
            Some(SecretString::from("pepper-from-configuration")),
            1,
            4,
            Duration::from_secs(5),
        )?;
        assert!(
            !peppered
                .verify("correct horse battery staple", &plain)
                .await?
                .matches
        );
        let own = peppered.hash("correct horse battery staple").await?;
        assert!(
            peppered
                .verify("correct horse battery staple", &own)
                .await?
                .matches
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_job_whose_request_went_away_is_skipped() -> anyhow::Result<()> {
        let hasher = Arc::new(PasswordHasher::start(
            ARGON2_MINIMUM,
            None,
            1,
            4,
            Duration::from_secs(5),
        )?);
        let first = tokio::spawn({
            let hasher = Arc::clone(&hasher);
            async move { hasher.hash("correct horse battery staple").await }
        });
        tokio::time::sleep(Duration::from_millis(2)).await;
        // This request gives up while its job waits behind the first.
        let abandoned =
            tokio::time::timeout(Duration::from_millis(1), hasher.hash("another password")).await;
        assert!(abandoned.is_err());
        assert!(first.await?.is_ok());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(hasher.computed(), 1);
        Ok(())
    }

    #[tokio::test]
    async fn a_full_pool_answers_busy_instead_of_queueing_forever() -> anyhow::Result<()> {
        let hasher = Arc::new(PasswordHasher::start(
            ARGON2_MINIMUM,
            None,
            1,
            1,
            Duration::from_millis(1),
        )?);
        let first = tokio::spawn({
            let hasher = Arc::clone(&hasher);
            async move { hasher.hash("correct horse battery staple").await }
        });
        tokio::time::sleep(Duration::from_millis(2)).await;
        let second = hasher.hash("correct horse battery staple").await;
        assert!(matches!(second, Err(HashError::Busy)));
        assert!(first.await?.is_ok());
        Ok(())
    }
}
