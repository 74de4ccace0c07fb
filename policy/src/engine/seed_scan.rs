//! Finding credential builtins: one search for the seeds of every credential a backend's
//! guards use, then each seed's finder ([`builtins::credentials::find`]).
//!
//! The seeds are literals (`AKIA`, `ghp_`, `-----BEGIN `, `eyJ`), so one multi-literal search
//! (SIMD where the CPU has it) skips the text between them at memory speed; this is what keeps
//! the allow path fast with every credential builtin on. Every offset where some seed starts is
//! visited, and every builtin whose seed starts there is asked, so no seed hides another
//! (`sk-` for OpenAI and `sk-ant-` for Anthropic start together). A builtin's seeds inside a
//! span it has already found are skipped: a key's body is not searched for more keys.
//! Must not: validate tokens (the finders do) or decide guards.

use regex_automata::meta::{self, Regex};
use regex_automata::{Input, MatchKind};

use super::matcher::BuildError;
use crate::builtins::credentials;
use crate::bundle::Builtin;

/// The credential builtins of a backend's guards and the search for their seeds.
#[derive(Debug)]
pub(super) struct SeedScanner {
    builtins: Vec<Builtin>,
    search: Option<Regex>,
}

/// Spans per builtin of [`SeedScanner`] (same order), in one text's coordinates.
pub(super) type SeedSpans = Vec<Vec<(usize, usize)>>;

impl SeedScanner {
    pub(super) fn new() -> Self {
        Self {
            builtins: Vec::new(),
            search: None,
        }
    }

    /// Adds a credential builtin and rebuilds the seed search (a few dozen literals).
    pub(super) fn add(&mut self, builtin: Builtin, path: &str) -> Result<(), BuildError> {
        if self.builtins.contains(&builtin) {
            return Ok(());
        }
        self.builtins.push(builtin);
        let mut seeds: Vec<String> = self
            .builtins
            .iter()
            .flat_map(|&b| credentials::seeds(b))
            .map(|seed| regex_syntax::escape(seed))
            .collect();
        seeds.sort();
        seeds.dedup();
        let search = meta::Builder::new()
            .configure(meta::Config::new().match_kind(MatchKind::LeftmostFirst))
            .build_many(&seeds)
            .map_err(|e| BuildError {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        self.search = Some(search);
        Ok(())
    }

    /// Where `builtin` sits in [`SeedSpans`], if it is one of these.
    pub(super) fn index(&self, builtin: Builtin) -> Option<usize> {
        self.builtins.iter().position(|&b| b == builtin)
    }

    /// Every credential of every builtin in `text`, left to right per builtin.
    pub(super) fn spans(&self, text: &str) -> SeedSpans {
        let mut spans: SeedSpans = vec![Vec::new(); self.builtins.len()];
        let Some(search) = &self.search else {
            return spans;
        };
        let bytes = text.as_bytes();
        // Per builtin, where its last span ended: seeds before it are inside that span.
        let mut covered = vec![0; self.builtins.len()];
        let mut input = Input::new(text);
        while let Some(found) = search.find(input.clone()) {
            let at = found.start();
            for (i, &builtin) in self.builtins.iter().enumerate() {
                let starts_here = credentials::seeds(builtin)
                    .iter()
                    .any(|seed| bytes[at..].starts_with(seed.as_bytes()));
                if at < covered[i] || !starts_here {
                    continue;
                }
                if let Some(span) = credentials::find(builtin, text, at) {
                    covered[i] = span.1;
                    spans[i].push(span);
                }
            }
            // The next offset, not the match's end: seeds may overlap (`xoxe.xoxp-`).
            input.set_start(at + 1);
        }
        spans
    }
}
