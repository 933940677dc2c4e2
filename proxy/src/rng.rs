//! Seeded randomness: one seed per proxy, one independent stream per connection direction.
//!
//! A stream is `ChaCha8Rng` seeded from `mix(proxy_seed, connection_index, direction)`, so
//! the n-th connection of a proxy created with the same seed draws the same toxicity rolls,
//! jitter, slice sizes and corrupt positions, whatever other proxies or connections do.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::spec::Direction;

/// The RNG type every toxic draws from.
pub(crate) type ToxicRng = ChaCha8Rng;

/// SplitMix64 finaliser: spreads nearby inputs over the whole 64-bit range.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The RNG for one direction of the `connection`-th connection of a proxy seeded with `seed`.
pub(crate) fn connection_rng(seed: u64, connection: u64, direction: Direction) -> ToxicRng {
    let dir = match direction {
        Direction::Upstream => 1,
        Direction::Downstream => 2,
    };
    ChaCha8Rng::seed_from_u64(mix(mix(seed) ^ mix(connection.wrapping_add(dir << 62))))
}

/// The RNG of the `connection`-th connection's HTTP toxics (their per-request rolls): a
/// stream of its own, so adding an HTTP toxic does not shift the other toxics' draws.
pub(crate) fn http_rng(seed: u64, connection: u64) -> ToxicRng {
    ChaCha8Rng::seed_from_u64(mix(mix(seed) ^ mix(connection.wrapping_add(3 << 62))))
}

/// A seed for a proxy when the user gave none: fresh entropy, reported back in the API.
pub(crate) fn fresh_seed() -> u64 {
    rand::random()
}

/// The seed of a proxy named `name` on a server started with `server_seed`.
///
/// Derived from the name (FNV-1a), so proxies on a seeded server are reproducible
/// independently of the order they are created in.
pub(crate) fn proxy_seed(server_seed: u64, name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(server_seed ^ h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_seed_same_connection_gives_same_stream() {
        let a: Vec<u64> = (0..8)
            .map(|_| 0)
            .scan(connection_rng(7, 3, Direction::Upstream), |r, _| {
                Some(r.random())
            })
            .collect();
        let b: Vec<u64> = (0..8)
            .scan(connection_rng(7, 3, Direction::Upstream), |r, _| {
                Some(r.random())
            })
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn streams_differ_by_seed_connection_and_direction() {
        let first = |seed, conn, dir| connection_rng(seed, conn, dir).random::<u64>();
        let base = first(7, 3, Direction::Upstream);
        assert_ne!(base, first(8, 3, Direction::Upstream));
        assert_ne!(base, first(7, 4, Direction::Upstream));
        assert_ne!(base, first(7, 3, Direction::Downstream));
    }

    #[test]
    fn proxy_seed_depends_on_name_and_server_seed() {
        assert_eq!(proxy_seed(1, "a"), proxy_seed(1, "a"));
        assert_ne!(proxy_seed(1, "a"), proxy_seed(1, "b"));
        assert_ne!(proxy_seed(1, "a"), proxy_seed(2, "a"));
    }
}
