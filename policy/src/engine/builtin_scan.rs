//! Finding validated builtin matches in a normalized text, searching only where they can be.
//!
//! Each builtin's candidate automaton runs only inside the windows its [`prefilter`] allows:
//! around each `@` for e-mail; around runs of digits (and the separators the candidates
//! allow) holding enough digits for the others. The digit-triggered builtins share one pass
//! over the text, and each searches only the windows its [`Gate`] admits. A window where no candidate could stand apart from what precedes it (see
//! [`builtins::validate`]) is not searched either. Results are computed on first use per text
//! and builtin, so a request that an earlier guard rejects never pays for later builtins.

use std::cell::OnceCell;

use regex_automata::Input;
use regex_automata::dfa::regex::Regex;
use regex_syntax::hir::Hir;

use super::digit_gate::{Gate, Separators, Summary};
use super::matcher::{self, BuildError};
use super::prefilter::{Alphabet, Trigger};
use super::seed_scan::{SeedScanner, SeedSpans};
use super::windows::{self, DigitFinder, Seed, Window};
use crate::builtins;
use crate::bundle::Builtin;

/// The builtins of a backend's guards, each with its automaton and precheck.
#[derive(Debug)]
pub(super) struct BuiltinScanner {
    entries: Vec<Entry>,
    /// Bytes of any digit-triggered candidate, and every ASCII digit.
    digit_alphabet: Alphabet,
    /// The fewest digits any digit-triggered candidate needs.
    min_digits: usize,
    /// The fast finder for `digit_alphabet`, unless it holds non-ASCII bytes.
    digit_finder: Option<DigitFinder>,
    /// The separators of `digit_alphabet` that windows are summarized by for the gates,
    /// unless it holds non-ASCII bytes or too many.
    separators: Option<Separators>,
    /// The weakest of the digit candidates' gates (see [`Gate::weakest`]).
    weakest: Option<Gate>,
    /// The credential builtins, found from their seeds.
    seeded: SeedScanner,
}

#[derive(Debug)]
struct Entry {
    builtin: Builtin,
    regex: Regex,
    alphabet: Alphabet,
    trigger: Trigger,
    /// For a digit trigger: the candidate and its part that needs no context
    /// ([`builtins::context_free_candidate`]), to build gates from.
    candidates: Option<(Hir, Hir)>,
    /// What a window must hold for each of `candidates`, by the scanner's separators.
    gates: Option<(Gate, Gate)>,
}

/// Entries are one per builtin, so their indices fit the bits of [`DigitWindow::admits`].
const _: () = assert!(Builtin::ALL.len() <= 32);

/// A digit window and the entries whose candidates may match in it.
#[derive(Clone, Copy, Debug)]
struct DigitWindow {
    window: Window,
    /// Bit `i` for entry `i`.
    admits: u32,
}

/// Per text: validated matches of each builtin, in normalized coordinates, once asked for.
#[derive(Debug)]
pub(super) struct BuiltinHits {
    digit_windows: OnceCell<Vec<DigitWindow>>,
    spans: Vec<OnceCell<Vec<(usize, usize)>>>,
    seeded: OnceCell<SeedSpans>,
}

impl BuiltinScanner {
    /// An empty scanner; builtins are added with [`Self::add`].
    pub(super) fn new() -> Self {
        let mut digit_alphabet = Alphabet::empty();
        digit_alphabet.add_range(b'0', b'9');
        Self {
            entries: Vec::new(),
            digit_finder: DigitFinder::new(&digit_alphabet),
            digit_alphabet,
            min_digits: usize::MAX,
            separators: None,
            weakest: None,
            seeded: SeedScanner::new(),
        }
    }

    /// Adds a credential builtin (one without a candidate pattern).
    pub(super) fn add_credential(
        &mut self,
        builtin: Builtin,
        path: &str,
    ) -> Result<(), BuildError> {
        self.seeded.add(builtin, path)
    }

    /// Builds `builtin`'s automaton from its parsed candidate `hir` unless already present.
    pub(super) fn add(
        &mut self,
        builtin: Builtin,
        hir: &Hir,
        path: &str,
    ) -> Result<(), BuildError> {
        if self.entries.iter().any(|e| e.builtin == builtin) {
            return Ok(());
        }
        let regex = matcher::build_dense(hir, path)?;
        let mut alphabet = Alphabet::of(hir);
        let trigger = Trigger::of(hir);
        let mut candidates = None;
        match trigger {
            Trigger::Byte(byte) => alphabet.add_range(byte, byte),
            Trigger::Digits(digits) => {
                self.digit_alphabet.extend(&alphabet);
                self.digit_finder = DigitFinder::new(&self.digit_alphabet);
                self.min_digits = self.min_digits.min(digits);
                let free = builtins::context_free_candidate(builtin).ok_or_else(|| BuildError {
                    path: path.to_owned(),
                    reason: format!("{} has no candidate pattern", builtin.name()),
                })?;
                let free = matcher::builtin_hir(free, path)?;
                candidates = Some((hir.clone(), free));
            }
            Trigger::Whole => {}
        }
        self.entries.push(Entry {
            builtin,
            regex,
            alphabet,
            trigger,
            candidates,
            gates: None,
        });
        if matches!(trigger, Trigger::Digits(_)) {
            self.rebuild_gates();
        }
        Ok(())
    }

    /// Gates are indexed by the separators of every digit candidate: one more candidate may
    /// bring more, so all are built again (a few tables of at most 256 entries).
    fn rebuild_gates(&mut self) {
        self.separators = Separators::of(&self.digit_alphabet);
        for entry in &mut self.entries {
            entry.gates = self.separators.as_ref().zip(entry.candidates.as_ref()).map(
                |(separators, (any, free))| (Gate::of(any, separators), Gate::of(free, separators)),
            );
        }
        self.weakest = Gate::weakest(
            self.entries
                .iter()
                .filter_map(|entry| entry.gates.as_ref().map(|(any, _)| any)),
        );
    }

    /// Room for the matches of one text.
    pub(super) fn hits(&self) -> BuiltinHits {
        BuiltinHits {
            digit_windows: OnceCell::new(),
            spans: self.entries.iter().map(|_| OnceCell::new()).collect(),
            seeded: OnceCell::new(),
        }
    }

    /// Validated matches of `builtin` in `text` (normalized), left to right.
    pub(super) fn spans<'h>(
        &self,
        builtin: Builtin,
        text: &str,
        hits: &'h BuiltinHits,
    ) -> &'h [(usize, usize)] {
        if let Some(index) = self.seeded.index(builtin) {
            let spans = hits.seeded.get_or_init(|| self.seeded.spans(text));
            return spans.get(index).map_or(&[], Vec::as_slice);
        }
        let Some((index, entry)) = self
            .entries
            .iter()
            .enumerate()
            .find(|(_, e)| e.builtin == builtin)
        else {
            return &[];
        };
        let Some(cell) = hits.spans.get(index) else {
            return &[];
        };
        cell.get_or_init(|| {
            let mut out = Vec::new();
            self.search(index, entry, text, hits, &mut |start, end| {
                if builtins::validate(builtin, text, start, end) {
                    out.push((start, end));
                }
            });
            out
        })
    }

    /// Reports every candidate match of `entry`, as a search of the whole text would.
    fn search(
        &self,
        index: usize,
        entry: &Entry,
        text: &str,
        hits: &BuiltinHits,
        found: &mut dyn FnMut(usize, usize),
    ) {
        let mut search_in = |window: Window| {
            let mut input = Input::new(text).range(window.start..window.end);
            // A DFA without quit bytes cannot fail; candidates never match the empty string.
            while let Ok(Some(m)) = entry.regex.try_search(&input) {
                found(m.start(), m.end());
                input.set_start(m.end().max(m.start() + 1));
            }
        };
        match entry.trigger {
            Trigger::Whole => search_in(Window {
                start: 0,
                end: text.len(),
                triggers: 0,
            }),
            Trigger::Byte(byte) => {
                windows::around(text.as_bytes(), &entry.alphabet, Seed::Byte(byte))
                    .filter(|&w| may_start_apart(text, w))
                    .for_each(search_in);
            }
            Trigger::Digits(_) => hits
                .digit_windows
                .get_or_init(|| self.digit_windows(text))
                .iter()
                .filter(|w| w.admits >> index & 1 == 1)
                .for_each(|w| search_in(w.window)),
        }
    }

    /// Windows of the digit-triggered candidates that some candidate's gate admits.
    fn digit_windows(&self, text: &str) -> Vec<DigitWindow> {
        let mut admitted = Vec::new();
        let mut gate = |window: Window, digits: Option<u64>| {
            if let Some(admits) = self.admits(text, window, digits) {
                admitted.push(DigitWindow { window, admits });
            }
        };
        match &self.digit_finder {
            Some(finder) => finder.for_each_window(text.as_bytes(), self.min_digits, gate),
            None => windows::around(text.as_bytes(), &self.digit_alphabet, Seed::Digit)
                .filter(|w| w.triggers >= self.min_digits)
                .for_each(|window| gate(window, None)),
        }
        admitted
    }

    /// The entries (bit `i` for entry `i`) whose candidates may match inside `window`, or
    /// `None` when none may. `digits` are the window's digits as bits, if known.
    fn admits(&self, text: &str, window: Window, digits: Option<u64>) -> Option<u32> {
        let bytes = &text.as_bytes()[window.start..window.end];
        let summary =
            (self.separators.as_ref()).map(|separators| Summary::of(bytes, digits, separators));
        if let (Some(weakest), Some(summary)) = (&self.weakest, &summary)
            && !weakest.admits(summary)
        {
            return None;
        }
        let admits = (self.entries.iter().enumerate())
            .filter(|(_, entry)| entry.admits(text, window, summary.as_ref()))
            .fold(0, |bits, (i, _)| bits | 1 << i);
        (admits != 0 && may_start_apart(text, window)).then_some(admits)
    }
}

impl Entry {
    /// Whether this digit-triggered candidate may match inside `window`, whose bytes are
    /// `summary`. Parts of the candidate that need context (bare digits for `Ssn`) count only
    /// where the text before the window gives it: the context holds there if it holds before
    /// any candidate inside ([`builtins::context_before`]).
    fn admits(&self, text: &str, window: Window, summary: Option<&Summary>) -> bool {
        let Trigger::Digits(digits) = self.trigger else {
            return false;
        };
        let (Some((any, free)), Some(summary)) = (&self.gates, summary) else {
            return window.triggers >= digits; // no gates: enough digits must do
        };
        window.triggers >= digits
            && any.admits(summary)
            && (free.admits(summary)
                || text
                    .get(..window.start)
                    .is_none_or(|before| builtins::context_before(self.builtin, before)))
    }
}

/// Whether a candidate in `window` could pass validation: every builtin turns away one glued
/// to what precedes it ([`builtins::starts_apart`]), so a window where no position starts
/// apart (`716-4466…` inside a UUID, digits right after letters) yields nothing, whatever its
/// candidates. A position right after a digit never starts apart.
fn may_start_apart(text: &str, window: Window) -> bool {
    let bytes = text.as_bytes();
    (window.start..window.end).any(|at| {
        (at == window.start || !bytes[at - 1].is_ascii_digit()) && builtins::starts_apart(text, at)
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn scanner() -> BuiltinScanner {
        let mut scanner = BuiltinScanner::new();
        for builtin in Builtin::PII {
            let pattern = builtins::candidate_pattern(builtin).expect("a pattern builtin");
            let hir = matcher::builtin_hir(pattern, "t").expect("parses");
            scanner.add(builtin, &hir, "t").expect("builds");
        }
        scanner
    }

    /// What the engine found before prechecks existed: the candidate over the whole text.
    fn whole_text(builtin: Builtin, text: &str) -> Vec<(usize, usize)> {
        let pattern = builtins::candidate_pattern(builtin).expect("a pattern builtin");
        let hir = matcher::builtin_hir(pattern, "t").expect("parses");
        let re = matcher::build(&[hir], "t").expect("builds");
        re.find_iter(text)
            .filter(|m| builtins::validate(builtin, text, m.start(), m.end()))
            .map(|m| (m.start(), m.end()))
            .collect()
    }

    fn assert_same_as_whole_text(scanner: &BuiltinScanner, text: &str) {
        let hits = scanner.hits();
        for builtin in Builtin::PII {
            assert_eq!(
                scanner.spans(builtin, text, &hits),
                whole_text(builtin, text),
                "{builtin:?} in {text:?}"
            );
        }
    }

    #[test]
    fn windows_find_what_the_whole_text_search_finds() {
        let scanner = scanner();
        for text in [
            "mail jane.doe@example.com or call (415) 555-2671 or +1 415 555 2671",
            "card 4111 1111 1111 1111, ssn 123-45-6789, SSN: 123456789, sin 046 454 286",
            "+447911123456 then 4111-1111-1111-1111x and a@b.co@c.io",
            "ｊａｎｅ@example.com, 2024-05-01T12:00:00Z 192.168.100.200 1714567890123",
            "4111 1111 1111 1111 1111 1111 1111 555-2671 (415)555-2671 415.555.2671",
        ] {
            assert_same_as_whole_text(&scanner, text);
        }
    }

    proptest! {
        #[test]
        fn windows_agree_with_the_whole_text_on_arbitrary_text(
            text in "[0-9 .()+@a-z\\-]{0,80}|\\PC{0,80}|([0-9]{1,5}[ .()+\\-]?|[a-zé_.]{1,4}@?|[=:/\n]|SSN ){0,60}"
        ) {
            static SCANNER: std::sync::OnceLock<BuiltinScanner> = std::sync::OnceLock::new();
            let scanner = SCANNER.get_or_init(scanner);
            let hits = scanner.hits();
            for builtin in Builtin::PII {
                prop_assert_eq!(scanner.spans(builtin, &text, &hits), whole_text(builtin, &text));
            }
        }

        #[test]
        fn windows_agree_with_the_whole_text_around_real_values(
            pieces in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(REAL_VALUES.to_vec()).prop_map(str::to_owned),
                    "[a-zé_=:/.()+ \\-]{0,3}|[0-9]{1,4}|\\PC",
                ],
                0..16,
            )
        ) {
            static SCANNER: std::sync::OnceLock<BuiltinScanner> = std::sync::OnceLock::new();
            let text = pieces.concat();
            let scanner = SCANNER.get_or_init(scanner);
            let hits = scanner.hits();
            for builtin in Builtin::PII {
                prop_assert_eq!(scanner.spans(builtin, &text, &hits), whole_text(builtin, &text));
            }
        }
    }

    const REAL_VALUES: &[&str] = &[
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "378282246310005",
        "jane.doe@example.com",
        "123-45-6789",
        "SSN 123456789",
        "(415) 555-2671",
        "+1 415 555 2671",
        "+447911123456",
        "415.555.2671",
        "046 454 286",
        "130-692-544",
    ];
}
