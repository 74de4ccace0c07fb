//! What the reader remembers of the containers it is inside: their depth, and the keys of
//! each open object, so that a key given twice is refused.
//!
//! A duplicate key is valid JSON, but parsers disagree on which one counts (most keep the
//! last, some the first), so a guard that read one could forward a body whose provider reads
//! the other. No client sends duplicates; on a guarded route agw refuses them in every object
//! of the body. Must not: decide anything but "seen before" and "too deep".

use std::borrow::Cow;
use std::collections::HashSet;

/// Containers nested deeper than this are refused (serde_json's own recursion limit).
pub const MAX_DEPTH: usize = 128;

/// Past this many keys an object's keys are also kept in a hash set, so an object with a
/// million keys costs a million lookups, not half a trillion comparisons.
const LINEAR_KEYS: usize = 16;

/// The open containers.
#[derive(Default)]
pub struct Frames<'a> {
    depth: usize,
    /// Keys of every open object, innermost last.
    keys: Vec<Cow<'a, str>>,
    /// Per open object: where its keys start in `keys`, and its hash set once it has many.
    objects: Vec<(usize, Option<HashSet<Cow<'a, str>>>)>,
}

impl<'a> Frames<'a> {
    /// Enters a container; `false` when that is deeper than [`MAX_DEPTH`].
    pub fn enter(&mut self, object: bool) -> bool {
        self.depth += 1;
        if object {
            self.objects.push((self.keys.len(), None));
        }
        self.depth <= MAX_DEPTH
    }

    /// Leaves the innermost container.
    pub fn leave(&mut self, object: bool) {
        self.depth = self.depth.saturating_sub(1);
        if object && let Some((start, _)) = self.objects.pop() {
            self.keys.truncate(start);
        }
    }

    /// Records a key of the innermost object; `false` when it has it already.
    pub fn insert(&mut self, key: Cow<'a, str>) -> bool {
        let Some((start, set)) = self.objects.last_mut() else {
            return true;
        };
        if let Some(set) = set {
            return set.insert(key);
        }
        if self.keys[*start..].contains(&key) {
            return false;
        }
        self.keys.push(key);
        if self.keys.len() - *start > LINEAR_KEYS {
            *set = Some(self.keys.drain(*start..).collect());
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_object_and_forgotten_when_it_closes() {
        let mut frames = Frames::default();
        assert!(frames.enter(true));
        assert!(frames.insert("a".into()));
        assert!(frames.enter(true));
        assert!(
            frames.insert("a".into()),
            "an inner object has its own keys"
        );
        assert!(!frames.insert("a".into()));
        frames.leave(true);
        assert!(!frames.insert("a".into()), "the outer object still has `a`");
        assert!(frames.insert("b".into()));
    }

    #[test]
    fn many_keys_switch_to_a_set_and_still_find_duplicates() {
        let mut frames = Frames::default();
        frames.enter(true);
        for i in 0..1000 {
            assert!(frames.insert(format!("k{i}").into()));
        }
        assert!(!frames.insert("k3".into()));
        assert!(!frames.insert("k999".into()));
        frames.enter(true);
        assert!(frames.insert("k3".into()));
    }

    #[test]
    fn depth_is_limited() {
        let mut frames = Frames::default();
        for _ in 0..MAX_DEPTH {
            assert!(frames.enter(false));
        }
        assert!(!frames.enter(true));
    }
}
