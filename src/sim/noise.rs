//! Reproducible noise on a healthy service's metrics: a seeded function of the
//! second since the service started, so the same seed gives the same values
//! whenever and however often `/metrics` is read.
//!
//! Healthy noise stays well inside every default threshold and checklist item:
//! errors 0.1–0.4% with a spike to 0.5–0.7% about once a minute (the checklist
//! asks for under 1%, the trigger for under 5%), latency 0.18–0.24 s (0.3–0.4 s
//! in a spike; 3 s), CPU 27–33% (95%), memory 49–51% (90%).

use super::metrics::Profile;

/// About one second in this many is an error-rate spike.
const SPIKE_ONE_IN: f64 = 60.0;

/// splitmix64's finaliser: a good 64-bit mix, enough for noise (not for secrets).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: a hash of a service's name that does not change between Rust releases.
fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3))
}

/// A seed for runs that were not given one.
pub fn seed_from_clock() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    // Folding the high half in keeps every bit of the clock; truncation is the point.
    mix((nanos as u64) ^ ((nanos >> 64) as u64) ^ u64::from(std::process::id()))
}

/// The noise of one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Noise {
    key: u64,
}

/// What each draw of a second is for; each gets its own stream.
#[derive(Clone, Copy)]
enum Draw {
    Spike = 0,
    Errors,
    Latency,
    Cpu,
    Memory,
    Quality,
}

impl Noise {
    /// The noise of service `name` in a fleet seeded with `seed`: services of one
    /// fleet differ, and the same seed and name give the same noise.
    pub fn new(seed: u64, name: &str) -> Noise {
        Noise { key: mix(seed ^ mix(fnv1a(name))) }
    }

    /// Uniform in `[0, 1)`.
    fn unit(&self, second: u64, draw: Draw) -> f64 {
        let bits = mix(self.key ^ mix(second.wrapping_mul(8).wrapping_add(draw as u64)));
        // The top 53 bits fill an f64's mantissa exactly.
        (bits >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A healthy version's performance during `second` (counted from the service's start).
    pub fn healthy(&self, second: u64) -> Profile {
        let u = |d| self.unit(second, d);
        let spike = u(Draw::Spike) < 1.0 / SPIKE_ONE_IN;
        let (error_rate, latency) = if spike {
            (0.005 + 0.002 * u(Draw::Errors), 0.30 + 0.10 * u(Draw::Latency))
        } else {
            (0.001 + 0.003 * u(Draw::Errors), 0.18 + 0.06 * u(Draw::Latency))
        };
        Profile {
            error_rate,
            latency,
            quality: 0.92 + 0.02 * u(Draw::Quality),
            cpu: 0.27 + 0.06 * u(Draw::Cpu),
            memory: 0.49 + 0.02 * u(Draw::Memory),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_noise_and_another_seed_other_noise() {
        let a: Vec<Profile> = (0..600).map(|s| Noise::new(7, "checkout").healthy(s)).collect();
        let b: Vec<Profile> = (0..600).map(|s| Noise::new(7, "checkout").healthy(s)).collect();
        let c: Vec<Profile> = (0..600).map(|s| Noise::new(8, "checkout").healthy(s)).collect();
        let d: Vec<Profile> = (0..600).map(|s| Noise::new(7, "search").healthy(s)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d, "services of one fleet do not move in step");
    }

    #[test]
    fn healthy_noise_stays_inside_every_default_threshold() {
        for seed in [0, 1, 42, u64::MAX] {
            let noise = Noise::new(seed, "checkout");
            let all: Vec<Profile> = (0..3600).map(|s| noise.healthy(s)).collect();
            let mean = all.iter().map(|p| p.error_rate).sum::<f64>() / all.len() as f64;
            assert!((0.001..=0.004).contains(&mean), "seed {seed}: mean error rate {mean}");
            let spikes = all.iter().filter(|p| p.error_rate >= 0.005).count();
            assert!((10..=150).contains(&spikes), "seed {seed}: {spikes} spikes in an hour");
            for p in &all {
                assert!(p.error_rate < 0.008 && p.latency < 0.5 && p.cpu < 0.4 && p.memory < 0.55, "{p:?}");
                assert!(p.quality > 0.9, "{p:?}");
            }
        }
    }
}
