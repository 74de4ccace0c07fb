//! The guard part of a bundle: each backend's request and response guards, what each one
//! detects (custom patterns, length checks, builtins), what it does when it fires, and the
//! parts of a request it reads. Plain data, like the rest of the bundle.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::webhook::WebhookCall;

/// Compiled guards of a backend, by phase.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuardSet {
    /// Evaluated on requests, in order.
    pub request: Vec<Guard>,
    /// Evaluated on responses, in order: JSON bodies always, SSE streams when `streaming`.
    pub response: Vec<Guard>,
    /// Whether response guards apply to streamed (SSE) responses (`promptGuard.streaming:
    /// Enabled`). Omitted when false, so bundles without it keep their digest.
    #[serde(default, skip_serializing_if = "is_false")]
    pub streaming: bool,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_false(value: &bool) -> bool {
    !*value
}

impl GuardSet {
    /// Total number of guards, as shown in `kubectl get backends`.
    pub fn len(&self) -> usize {
        self.request.len() + self.response.len()
    }

    /// Whether there is no guard at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One compiled guard.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Guard {
    /// Stable id, `request[<index>]` / `response[<index>]`; used in headers, logs and metrics.
    pub id: String,
    /// What happens on a match.
    pub action: GuardAction,
    /// Rejection returned to the client (used when `action` is `Reject`).
    pub reject: Rejection,
    /// Parts of the request (or, for a response guard, of the response) inspected.
    pub scope: GuardScope,
    /// Detectors; any one matching fires the guard.
    pub detectors: Vec<Detector>,
    /// A webhook guard's checker (its `detectors` are then empty: the checker decides).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<WebhookCall>,
}

/// What a guard does when it fires.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum GuardAction {
    /// Refuse the request with the guard's rejection.
    Reject,
    /// Replace the matched text and forward the request.
    Mask,
}

/// Status and message of a rejection.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Rejection {
    /// HTTP status (400 by default).
    pub status: u16,
    /// Message in the Anthropic error body.
    pub message: String,
}

/// Parts of a Messages request a guard inspects.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(clippy::struct_excessive_bools)]
pub struct GuardScope {
    /// The `system` field (string or text blocks).
    pub system: bool,
    /// Text blocks (and string content) of every message, including role `system`.
    pub messages: bool,
    /// Content of `tool_result` blocks.
    pub tool_results: bool,
    /// `input` of `tool_use` blocks (string values).
    pub tool_use: bool,
}

impl Default for GuardScope {
    fn default() -> Self {
        Self {
            system: true,
            messages: true,
            tool_results: false,
            tool_use: false,
        }
    }
}

/// A detector of a guard.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Detector {
    /// A custom regex, matched on normalized text.
    Regex(RegexDetector),
    /// A builtin detector.
    Builtin(Builtin),
    /// A length check compiled from a pure length pattern such as `.{4000,}`.
    MinLength(MinLengthDetector),
}

/// A custom pattern as the compiler accepted it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegexDetector {
    /// The pattern as written in the spec (Rust regex syntax).
    pub pattern: String,
    /// Where it came from, for messages (`spec.policies.ai.promptGuard.request[0].regex.matches[1]`).
    pub path: String,
}

/// A length check: fires when a text (or one of its lines) has at least `chars` characters.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MinLengthDetector {
    /// Minimum number of characters (Unicode scalar values).
    pub chars: u64,
    /// `true` when the pattern's `.` crossed newlines (`(?s)`, `[\s\S]`): the whole text
    /// counts; `false`: the longest line counts.
    pub across_lines: bool,
    /// Where it came from.
    pub path: String,
}

/// Builtin detectors.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum Builtin {
    /// Payment card numbers: 13–19 digits, Luhn-valid, known issuer prefix.
    CreditCard,
    /// E-mail addresses.
    Email,
    /// US Social Security Numbers of a valid shape.
    Ssn,
    /// Phone numbers (NANP and E.164).
    PhoneNumber,
    /// Canadian Social Insurance Numbers (Luhn-valid).
    CaSin,
    /// AWS access key IDs (`AKIA…`, `ASIA…`) and secret access keys after their key name.
    AwsAccessKey,
    /// GitHub tokens: `ghp_`/`gho_`/`ghu_`/`ghs_`/`ghr_` with a valid checksum, `github_pat_`.
    GitHubToken,
    /// GitLab tokens (`glpat-`, `gldt-`, `glrt-`, …).
    GitLabToken,
    /// Slack tokens (`xoxb-`, `xoxp-`, `xapp-`, …) and incoming webhook URLs.
    SlackToken,
    /// Stripe secret and restricted keys (`sk_live_`, `rk_test_`, …) and webhook secrets.
    StripeKey,
    /// Anthropic API keys (`sk-ant-api03-…`).
    AnthropicKey,
    /// OpenAI API keys (`sk-…T3BlbkFJ…`, `sk-proj-…`).
    OpenAiKey,
    /// Google API keys (`AIza…`).
    GoogleApiKey,
    /// PEM and OpenSSH private key blocks, masked whole.
    PrivateKey,
    /// JSON Web Tokens whose header decodes to JSON naming an `alg`.
    Jwt,
    /// Kubeconfig `client-key-data` and user `token` values, and `Bearer` tokens.
    KubeconfigToken,
}

impl Builtin {
    /// All builtins, in the order they are listed to users: the personal-data ones, then the
    /// credentials. Built from the two groups, so it cannot list one they do not.
    pub const ALL: [Builtin; 16] = {
        let mut all = [Self::CreditCard; 16];
        let mut i = 0;
        while i < Self::PII.len() {
            all[i] = Self::PII[i];
            i += 1;
        }
        while i < all.len() {
            all[i] = Self::CREDENTIALS[i - Self::PII.len()];
            i += 1;
        }
        all
    };

    /// The personal-data builtins, found by a candidate pattern and a validator.
    pub const PII: [Builtin; 5] = [
        Self::CreditCard,
        Self::Email,
        Self::Ssn,
        Self::PhoneNumber,
        Self::CaSin,
    ];

    /// The credential builtins, found from literal prefixes (what the `Secrets` group means).
    pub const CREDENTIALS: [Builtin; 11] = [
        Self::AwsAccessKey,
        Self::GitHubToken,
        Self::GitLabToken,
        Self::SlackToken,
        Self::StripeKey,
        Self::AnthropicKey,
        Self::OpenAiKey,
        Self::GoogleApiKey,
        Self::PrivateKey,
        Self::Jwt,
        Self::KubeconfigToken,
    ];

    /// Name of the group that enables every credential builtin.
    pub const SECRETS: &'static str = "Secrets";

    /// Canonical spec name.
    pub fn name(self) -> &'static str {
        match self {
            Self::CreditCard => "CreditCard",
            Self::Email => "Email",
            Self::Ssn => "Ssn",
            Self::PhoneNumber => "PhoneNumber",
            Self::CaSin => "CaSin",
            Self::AwsAccessKey => "AwsAccessKey",
            Self::GitHubToken => "GitHubToken",
            Self::GitLabToken => "GitLabToken",
            Self::SlackToken => "SlackToken",
            Self::StripeKey => "StripeKey",
            Self::AnthropicKey => "AnthropicKey",
            Self::OpenAiKey => "OpenAiKey",
            Self::GoogleApiKey => "GoogleApiKey",
            Self::PrivateKey => "PrivateKey",
            Self::Jwt => "Jwt",
            Self::KubeconfigToken => "KubeconfigToken",
        }
    }

    /// Replacement text used by `Mask`.
    pub fn mask(self) -> &'static str {
        match self {
            Self::CreditCard => "<CREDIT_CARD>",
            Self::Email => "<EMAIL_ADDRESS>",
            Self::Ssn => "<SSN>",
            Self::PhoneNumber => "<PHONE_NUMBER>",
            Self::CaSin => "<CA_SIN>",
            Self::AwsAccessKey => "<AWS_ACCESS_KEY>",
            Self::GitHubToken => "<GITHUB_TOKEN>",
            Self::GitLabToken => "<GITLAB_TOKEN>",
            Self::SlackToken => "<SLACK_TOKEN>",
            Self::StripeKey => "<STRIPE_KEY>",
            Self::AnthropicKey => "<ANTHROPIC_KEY>",
            Self::OpenAiKey => "<OPENAI_KEY>",
            Self::GoogleApiKey => "<GOOGLE_API_KEY>",
            Self::PrivateKey => "<PRIVATE_KEY>",
            Self::Jwt => "<JWT>",
            Self::KubeconfigToken => "<KUBE_TOKEN>",
        }
    }

    /// Whether this builtin finds credentials (the `Secrets` group).
    pub fn is_credential(self) -> bool {
        Self::CREDENTIALS.contains(&self)
    }

    /// Resolves a spec name case-insensitively (`SSN`, `ssn` and `Ssn` are all `Ssn`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(name.trim()))
    }

    /// The builtins a spec name stands for: one builtin, or every credential builtin for
    /// the `Secrets` group; case-insensitive.
    pub fn resolve(name: &str) -> Option<&'static [Self]> {
        if Self::SECRETS.eq_ignore_ascii_case(name.trim()) {
            return Some(&Self::CREDENTIALS);
        }
        let all: &'static [Self] = &Self::ALL;
        let index = all
            .iter()
            .position(|b| b.name().eq_ignore_ascii_case(name.trim()))?;
        all.get(index..=index)
    }

    /// Every name a spec may use: the builtins, then the `Secrets` group.
    pub fn known_names() -> impl Iterator<Item = &'static str> {
        Self::ALL
            .iter()
            .map(|b| b.name())
            .chain(std::iter::once(Self::SECRETS))
    }
}

/// Replacement text for a custom pattern under `Mask`.
pub const CUSTOM_MASK: &str = "<masked>";
