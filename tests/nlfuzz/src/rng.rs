// SPDX-License-Identifier: GPL-2.0
//! The fuzzer's only source of randomness: SplitMix64, so one seed gives one sequence of
//! decisions on every machine and every toolchain.

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (0 when n is 0); always consumes one draw, so a choice over a set
    /// whose size follows kernel state keeps the rest of the sequence aligned.
    pub fn below(&mut self, n: u64) -> u64 {
        let r = self.next();
        if n == 0 {
            0
        } else {
            ((r as u128 * n as u128) >> 64) as u64
        }
    }

    pub fn below_usize(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True with probability `per_mille`/1000.
    pub fn chance(&mut self, per_mille: u64) -> bool {
        self.below(1000) < per_mille
    }

    pub fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below_usize(from.len())]
    }

    pub fn u32(&mut self) -> u32 {
        self.next() as u32
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let x: Vec<u64> = (0..100).map(|_| a.next()).collect();
        let y: Vec<u64> = (0..100).map(|_| b.next()).collect();
        assert_eq!(x, y);
        assert_ne!(Rng::new(43).next(), x[0]);
    }

    #[test]
    fn below_is_in_range() {
        let mut r = Rng::new(7);
        for n in [1u64, 2, 3, 1000, u64::MAX] {
            for _ in 0..1000 {
                assert!(r.below(n) < n);
            }
        }
        assert_eq!(r.below(0), 0);
    }
}
