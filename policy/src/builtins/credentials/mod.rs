//! Credential builtins: tokens whose issuers publish their shape (a literal prefix, a length,
//! an alphabet, a checksum), found from those prefixes.
//!
//! Owns, per credential builtin, its *seeds* (the literals every occurrence starts with, or the
//! key name it follows) and a finder that, given the offset of a seed in a text, returns the
//! span to mask, or nothing. Finders look at a bounded stretch after the seed, or at a run that
//! a later seed cannot start inside, so a whole text costs linear time whatever it holds.
//!
//! Must not fire on source code: each finder checks what the format allows it to (GitHub's
//! CRC32, a JWT header that decodes to JSON naming `alg`, OpenAI's `T3BlbkFJ` marker), turns
//! away low-entropy placeholders (`AKIAXXXXXXXXXXXXXXXX`) and the documented example keys
//! (anything containing `EXAMPLE`, as AWS's docs use). Where the secret follows a key name
//! (`AWS_SECRET_ACCESS_KEY=`, `token:`), only the value is masked, so the text keeps reading as
//! the file it came from. Must not do: search the text itself (the engine finds the seeds).

mod aws;
mod github;
mod gitlab;
mod google;
mod jwt;
mod kubeconfig;
mod llm;
mod private_key;
mod slack;
mod stripe;

use crate::bundle::Builtin;

/// The literals where `builtin`'s occurrences (or their key names) start; empty for a
/// builtin that is no credential. Case-sensitive, as the issuers' formats are.
pub fn seeds(builtin: Builtin) -> &'static [&'static str] {
    match builtin {
        Builtin::AwsAccessKey => aws::SEEDS,
        Builtin::GitHubToken => github::SEEDS,
        Builtin::GitLabToken => gitlab::SEEDS,
        Builtin::SlackToken => slack::SEEDS,
        Builtin::StripeKey => stripe::SEEDS,
        Builtin::AnthropicKey => llm::ANTHROPIC_SEEDS,
        Builtin::OpenAiKey => llm::OPENAI_SEEDS,
        Builtin::GoogleApiKey => google::SEEDS,
        Builtin::PrivateKey => private_key::SEEDS,
        Builtin::Jwt => jwt::SEEDS,
        Builtin::KubeconfigToken => kubeconfig::SEEDS,
        Builtin::CreditCard
        | Builtin::Email
        | Builtin::Ssn
        | Builtin::PhoneNumber
        | Builtin::CaSin => &[],
    }
}

/// The span of `text` to mask for a `builtin` credential whose seed starts at `at`, or `None`
/// when what follows the seed is not one. The span may start after `at` (a value after its
/// key name) but never before it.
pub fn find(builtin: Builtin, text: &str, at: usize) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    if at >= bytes.len() {
        return None;
    }
    let found = match builtin {
        Builtin::AwsAccessKey => aws::find(bytes, at),
        Builtin::GitHubToken => github::find(bytes, at),
        Builtin::GitLabToken => gitlab::find(bytes, at),
        Builtin::SlackToken => slack::find(bytes, at),
        Builtin::StripeKey => stripe::find(bytes, at),
        Builtin::AnthropicKey => llm::find_anthropic(bytes, at),
        Builtin::OpenAiKey => llm::find_openai(bytes, at),
        Builtin::GoogleApiKey => google::find(bytes, at),
        Builtin::PrivateKey => private_key::find(bytes, at),
        Builtin::Jwt => jwt::find(bytes, at),
        Builtin::KubeconfigToken => kubeconfig::find(bytes, at),
        Builtin::CreditCard
        | Builtin::Email
        | Builtin::Ssn
        | Builtin::PhoneNumber
        | Builtin::CaSin => None,
    }?;
    // Every finder stops on ASCII bytes, so spans are character boundaries; checked anyway,
    // since the engine slices the text with them.
    (found.0 >= at
        && found.0 < found.1
        && text.is_char_boundary(found.0)
        && text.is_char_boundary(found.1))
    .then_some(found)
}

/// Letters, digits and `_`: a token glued to one of these is part of a longer word.
fn is_word(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_'
}

/// Whether a token starting at `at` stands apart from what precedes it: not glued to a word
/// character, except the letter of an escape (`\n`, `\t`, `\r`) in text that shows a JSON or
/// shell string, as a `.env` read through a tool often is.
fn apart_before(bytes: &[u8], at: usize) -> bool {
    let Some(&previous) = at.checked_sub(1).and_then(|i| bytes.get(i)) else {
        return true;
    };
    !is_word(previous) || after_escape(bytes, at)
}

/// Whether `at` follows an escape of a line break or tab written out (`\n`, `\t`, `\r`).
fn after_escape(bytes: &[u8], at: usize) -> bool {
    at >= 2 && matches!(bytes[at - 1], b'n' | b't' | b'r') && bytes[at - 2] == b'\\'
}

/// Whether the byte at `end` (if any) does not continue a token made of `class`.
fn apart_after(bytes: &[u8], end: usize, class: fn(u8) -> bool) -> bool {
    bytes.get(end).is_none_or(|&b| !class(b))
}

/// The end of the run of `class` bytes starting at `from`, looking at no more than `max`
/// bytes (so the run may go on past the returned end when it is `from + max`).
fn run(bytes: &[u8], from: usize, max: usize, class: fn(u8) -> bool) -> usize {
    let limit = bytes.len().min(from.saturating_add(max));
    (from..limit).find(|&i| !class(bytes[i])).unwrap_or(limit)
}

/// `run` when it holds between `min` and `max` bytes and the token ends there; its end.
fn token(
    bytes: &[u8],
    from: usize,
    min: usize,
    max: usize,
    class: fn(u8) -> bool,
) -> Option<usize> {
    let end = run(bytes, from, max, class);
    (end - from >= min && apart_after(bytes, end, class)).then_some(end)
}

fn alphanumeric(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

/// Letters, digits, `_` and `-`: base64url, and most API key alphabets.
fn base64url(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'-')
}

/// Letters, digits, `+`, `/` and `=`: standard base64.
fn base64(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'/' | b'=')
}

/// Shannon entropy of `bytes` in bits per byte: random keys score 4 and more, placeholders
/// (`XXXXXXXX`, `0000…`, `your-token-here`) much less.
fn entropy(bytes: &[u8]) -> f64 {
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    #[allow(clippy::cast_precision_loss)]
    let len = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / len;
            -p * p.log2()
        })
        .sum()
}

/// Whether `value` looks random enough to be a key: `min_entropy` bits per byte, not a
/// documented example (`…EXAMPLE…`, AWS's and others' convention for keys in docs and tests).
fn random_looking(value: &[u8], min_entropy: f64) -> bool {
    !contains(value, b"EXAMPLE") && entropy(value) >= min_entropy
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// Whether `value` has both a letter and a digit: machine-made tokens do, prose and
/// identifiers (`YOUR_TOKEN_HERE`, `string`) mostly do not.
fn letters_and_digits(value: &[u8]) -> bool {
    value.iter().any(u8::is_ascii_digit) && value.iter().any(u8::is_ascii_alphabetic)
}

#[cfg(test)]
mod tests;
