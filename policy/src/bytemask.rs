//! Bit masks of byte classes over 64-byte blocks: bit `i` is set when byte `i` is in the class.
//!
//! The guard engine's digit finder and window gates classify every byte of a request this
//! way (on log- and code-heavy text it was the largest cost of the allow path), and the
//! proxy's JSON reader finds the bytes that end a string run with [`Ranges::find`]. On x86_64 each
//! 16 bytes take one SSE2 comparison per range and one `pmovmskb` (SSE2 is part of the
//! x86_64 baseline, so no CPU lacks it). `safe_arch` offers these instructions as safe
//! functions, so this crate keeps `forbid(unsafe_code)`. Other architectures classify the
//! bytes one by one and gather 8 flags per multiplication; both are tested to agree.

pub const BLOCK: usize = 64;

/// A byte class: the union of at most `N` inclusive byte ranges.
///
/// Kept as the two operands of its vector test, each byte repeated 16 times: `byte` is in
/// range `i` when `byte + shift[i] < limit[i]`, a wrapping addition and a *signed* comparison
/// (the only kind SSE2 has). `shift` moves the range's first byte to -128, and `limit` is
/// the shifted value just past its last byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ranges<const N: usize> {
    shift: [[u8; 16]; N],
    limit: [[u8; 16]; N],
}

impl<const N: usize> Ranges<N> {
    /// The class of `ranges` (inclusive `(first, last)` pairs, `first <= last`); the first one
    /// fills unused slots, so a class needs at least one range. `None` for more than `N`
    /// ranges, or for one of all 256 bytes (no signed limit lies past it).
    pub const fn new(ranges: &[(u8, u8)]) -> Option<Self> {
        if ranges.is_empty() || ranges.len() > N {
            return None;
        }
        let mut class = Self {
            shift: [[0; 16]; N],
            limit: [[0; 16]; N],
        };
        let mut i = 0;
        while i < N {
            let (first, last) = if i < ranges.len() {
                ranges[i]
            } else {
                ranges[0]
            };
            if first > last || last - first == u8::MAX {
                return None;
            }
            class.shift[i] = [0x80u8.wrapping_sub(first); 16];
            class.limit[i] = [(last - first).wrapping_sub(127); 16];
            i += 1;
        }
        Some(class)
    }

    /// Whether `byte` is in the class.
    pub fn contains(&self, byte: u8) -> bool {
        self.shift.iter().zip(&self.limit).any(|(shift, limit)| {
            byte.wrapping_add(shift[0]).cast_signed() < limit[0].cast_signed()
        })
    }

    /// The class's bits of `block`.
    #[inline]
    pub fn mask(&self, block: &[u8; BLOCK]) -> u64 {
        imp::mask(self, block)
    }

    /// The class's bits of the first (up to) 64 bytes of `bytes`; bits past its end are
    /// clear. A text's last, short block is classified padded.
    #[inline]
    pub fn mask_prefix(&self, bytes: &[u8]) -> u64 {
        if let Some(block) = bytes.first_chunk::<BLOCK>() {
            return self.mask(block);
        }
        let mut block = [0u8; BLOCK];
        block[..bytes.len()].copy_from_slice(bytes);
        self.mask(&block) & !(u64::MAX << bytes.len())
    }

    /// The first position at or after `from` whose byte is in the class.
    #[inline]
    pub fn find(&self, bytes: &[u8], from: usize) -> Option<usize> {
        let rest = bytes.get(from..)?;
        let (blocks, tail) = rest.as_chunks::<BLOCK>();
        let first = |k: usize, hits: u64| from + k * BLOCK + hits.trailing_zeros() as usize;
        for (k, block) in blocks.iter().enumerate() {
            let hits = self.mask(block);
            if hits != 0 {
                return Some(first(k, hits));
            }
        }
        let hits = self.mask_prefix(tail);
        (hits != 0).then(|| first(blocks.len(), hits))
    }
}

/// The ASCII digits.
pub const DIGITS: Ranges<1> = match Ranges::new(&[(b'0', b'9')]) {
    Some(digits) => digits,
    None => unreachable!(),
};

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod imp {
    use safe_arch::{
        add_i8_m128i, bitor_m128i, cmp_gt_mask_i8_m128i, load_unaligned_m128i, m128i,
        move_mask_i8_m128i, zeroed_m128i,
    };

    use super::{BLOCK, Ranges};

    #[inline]
    pub fn mask<const N: usize>(class: &Ranges<N>, block: &[u8; BLOCK]) -> u64 {
        let shifts = class.shift.each_ref().map(load_unaligned_m128i);
        let limits = class.limit.each_ref().map(load_unaligned_m128i);
        gather(block, |chunk| {
            shifts
                .iter()
                .zip(&limits)
                .fold(zeroed_m128i(), |hits, (&shift, &limit)| {
                    bitor_m128i(
                        hits,
                        cmp_gt_mask_i8_m128i(limit, add_i8_m128i(chunk, shift)),
                    )
                })
        })
    }

    /// The high bits of `test` applied to each 16 bytes, as one word.
    #[inline]
    fn gather(block: &[u8; BLOCK], test: impl Fn(m128i) -> m128i) -> u64 {
        let (chunks, _) = block.as_chunks::<16>();
        chunks.iter().enumerate().fold(0, |bits, (i, chunk)| {
            let high = move_mask_i8_m128i(test(load_unaligned_m128i(chunk)));
            bits | u64::from(high.cast_unsigned() & 0xffff) << (16 * i)
        })
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
mod imp {
    pub use super::portable::mask;
}

/// The same masks one byte at a time: the definition the vector code is tested against, and
/// the code other architectures run.
#[cfg_attr(all(target_arch = "x86_64", target_feature = "sse2"), allow(dead_code))]
mod portable {
    use super::{BLOCK, Ranges};

    pub fn mask<const N: usize>(class: &Ranges<N>, block: &[u8; BLOCK]) -> u64 {
        pack(block.map(|byte| class.contains(byte)))
    }

    /// 64 flags as the bits of a word: 8 at a time, gathered by one multiplication.
    fn pack(flags: [bool; BLOCK]) -> u64 {
        let flags = flags.map(u8::from);
        let (words, _) = flags.as_chunks::<8>();
        words.iter().enumerate().fold(0, |bits, (i, word)| {
            let byte = u64::from_le_bytes(*word).wrapping_mul(0x0102_0408_1020_4080) >> 56;
            bits | byte << (8 * i)
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn by_definition(block: &[u8; BLOCK], wanted: impl Fn(u8) -> bool) -> u64 {
        (0..BLOCK).fold(0, |bits, i| bits | u64::from(wanted(block[i])) << i)
    }

    fn blocks() -> impl Strategy<Value = [u8; BLOCK]> {
        // Mostly bytes near the edges of the ranges below, where an off-by-one would show.
        let byte = prop_oneof![
            any::<u8>(),
            proptest::sample::select(b"/09:+-.() \x7f\x80\xffAZaz".to_vec()),
        ];
        proptest::collection::vec(byte, BLOCK)
            .prop_map(|bytes| <[u8; BLOCK]>::try_from(bytes).unwrap_or([0; BLOCK]))
    }

    fn ranges() -> impl Strategy<Value = Vec<(u8, u8)>> {
        proptest::collection::vec((any::<u8>(), any::<u8>()), 1..=4).prop_map(|pairs| {
            pairs
                .into_iter()
                .map(|(a, b)| (a.min(b), a.max(b).min(a.min(b).saturating_add(254))))
                .collect()
        })
    }

    #[test]
    fn digits_and_full_ranges() {
        let mut block = [b'x'; BLOCK];
        block[..12].copy_from_slice(b"/0123456789:");
        assert_eq!(DIGITS.mask(&block), 0b0111_1111_1110);
        let ascii = Ranges::<2>::new(&[(0, 0x7f), (0x80, 0xfe)]).expect("two ranges");
        assert_eq!(ascii.mask(&block), u64::MAX);
        assert_eq!(Ranges::<1>::new(&[(0, 255)]), None);
        assert_eq!(Ranges::<1>::new(&[(2, 1)]), None);
        assert_eq!(Ranges::<1>::new(&[(1, 2), (3, 4)]), None);
        assert_eq!(Ranges::<1>::new(&[]), None);
    }

    proptest! {
        #[test]
        fn prefix_masks_agree_with_the_definition(
            bytes in proptest::collection::vec(any::<u8>(), 0..80),
            ranges in ranges(),
        ) {
            let class = Ranges::<4>::new(&ranges).expect("at most 4");
            let expected = (0..bytes.len().min(BLOCK))
                .fold(0u64, |bits, i| bits | u64::from(class.contains(bytes[i])) << i);
            prop_assert_eq!(class.mask_prefix(&bytes), expected);
        }

        #[test]
        fn class_masks_agree_with_the_definition(block in blocks(), ranges in ranges()) {
            let class = Ranges::<4>::new(&ranges).expect("at most 4");
            let listed = |b: u8| ranges.iter().any(|&(lo, hi)| (lo..=hi).contains(&b));
            prop_assert_eq!(class.mask(&block), by_definition(&block, listed));
            prop_assert!((0..=255).all(|b| class.contains(b) == listed(b)));
            prop_assert_eq!(class.mask(&block), portable::mask(&class, &block));
            prop_assert_eq!(DIGITS.mask(&block), by_definition(&block, |b| b.is_ascii_digit()));
        }

        #[test]
        fn find_agrees_with_a_byte_loop(
            bytes in proptest::collection::vec(prop_oneof![any::<u8>(), Just(b'a')], 0..300),
            from in 0usize..310,
            ranges in ranges(),
        ) {
            let class = Ranges::<4>::new(&ranges).expect("at most 4");
            let naive = (from..bytes.len()).find(|&i| class.contains(bytes[i]));
            prop_assert_eq!(class.find(&bytes, from), naive);
        }
    }
}
