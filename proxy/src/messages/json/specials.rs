//! Finding the next byte that ends a plain run of a JSON string (`"`, `\` or a control
//! character), a 64-byte block at a time.
//!
//! Owns: the byte class and the block it last classified. Must not: know about JSON beyond
//! that class (the lexer decides what a special byte means).

use agw_policy::bytemask::{BLOCK, Ranges};

/// The bytes that end a plain run of a string: `"`, `\` and the control characters.
const SPECIAL: Ranges<3> = match Ranges::new(&[(b'"', b'"'), (b'\\', b'\\'), (0x00, 0x1f)]) {
    Some(class) => class,
    None => unreachable!(),
};

/// Where the special bytes of one 64-byte block of the body are.
///
/// Texts are runs of plain bytes between escapes a few dozen bytes apart (source code has a
/// `\n` per line), so the search after an escape mostly restarts inside the block it has
/// just classified; keeping that block's mask makes such a restart a shift, not a new scan.
#[derive(Default)]
pub struct Specials {
    /// Offset of the block's first byte.
    start: usize,
    /// How many bytes of the body the block covers (at most [`BLOCK`]; 0 before the first).
    len: usize,
    /// Bit `i` set when byte `start + i` is special.
    mask: u64,
}

impl Specials {
    /// Offset of the first `"`, `\` or control character at or after `from` (or the
    /// length of `bytes`, which must be the body the blocks were classified from).
    pub fn find(&mut self, bytes: &[u8], mut from: usize) -> usize {
        loop {
            if from >= bytes.len() {
                return from;
            }
            if let Some(offset) = from.checked_sub(self.start).filter(|&o| o < self.len) {
                let hits = self.mask >> offset;
                if hits != 0 {
                    return from + hits.trailing_zeros() as usize;
                }
                from = self.start + self.len;
                continue;
            }
            self.classify(bytes, from);
        }
    }

    /// Classifies the block of `bytes` that starts at `start` (`start < bytes.len()`).
    fn classify(&mut self, bytes: &[u8], start: usize) {
        let rest = bytes.get(start..).unwrap_or_default();
        self.start = start;
        self.len = rest.len().min(BLOCK);
        self.mask = SPECIAL.mask_prefix(rest);
    }
}

/// Offset of the first `"`, `\` or control character at or after `from` (or the length),
/// by the plain definition the block search is tested against.
#[cfg(test)]
pub fn find_special(bytes: &[u8], from: usize) -> usize {
    (from..bytes.len())
        .find(|&i| matches!(bytes[i], b'"' | b'\\' | 0x00..=0x1f))
        .unwrap_or(bytes.len().max(from))
}
