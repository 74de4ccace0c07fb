//! Tables of real-shaped credentials and look-alikes per builtin, found the way the engine
//! finds them: at every offset where one of the builtin's seeds starts.
//!
//! The "real" values were made for these tests (random, with valid checksums computed by
//! Python's `binascii.crc32`, an oracle independent of the code under test); none grants
//! anything.

use super::*;

/// Spans of `builtin` in `text`, skipping seeds inside a span found, as the engine does.
fn finds(builtin: Builtin, text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut covered = 0;
    for at in 0..text.len() {
        let seeded =
            (seeds(builtin).iter()).any(|s| text.as_bytes()[at..].starts_with(s.as_bytes()));
        if at < covered || !text.is_char_boundary(at) || !seeded {
            continue;
        }
        if let Some((start, end)) = find(builtin, text, at) {
            covered = end;
            out.push(&text[start..end]);
        }
    }
    out
}

/// Each positive is found exactly (the whole value, in any of a few surroundings), and no
/// negative fires.
fn assert_table(builtin: Builtin, positives: &[(&str, &str)], negatives: &[&str]) {
    for (text, secret) in positives {
        for framed in [
            text.to_string(),
            format!("x = \"{text}\";\n"),
            format!("{text}\n"),
        ] {
            assert_eq!(
                finds(builtin, &framed),
                [*secret],
                "{builtin:?} in {framed:?}"
            );
        }
    }
    for text in negatives.iter().chain(SOURCE_FILES) {
        assert!(
            finds(builtin, text).is_empty(),
            "{builtin:?} must not fire on {text:?}: {:?}",
            finds(builtin, text)
        );
    }
}

/// Real-looking source files no credential builtin may fire on.
const SOURCE_FILES: &[&str] = &[
    // Cargo.lock
    "[[package]]\nname = \"memchr\"\nversion = \"2.7.4\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\nchecksum = \"63c2334d7be0c3f6258e4433506a10b24499dbf9dcb9d4aee250f6ab1ea32424\"\n",
    // package-lock.json
    "\"node_modules/ms\": {\n  \"version\": \"2.1.3\",\n  \"resolved\": \"https://registry.npmjs.org/ms/-/ms-2.1.3.tgz\",\n  \"integrity\": \"sha512-ELejbhB2bvZfM8gUrUjg55q2gr4+RUraaRmHVXdlMKFBz9gtnYwzd0sGUkoVk60JgkhtGshtpdOpNNyRrSAXlQ==\"\n}",
    // a base64 image
    "<img src=\"data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==\">",
    // git log, UUIDs, hashes
    "commit 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nAuthor: Jane <jane@example.com>\nrequest 550e8400-e29b-41d4-a716-446655440000 took 12ms",
    // code that talks about tokens and keys
    "interface Session {\n  user: User;\n  token: string;\n  expiresAt: number;\n}\n",
    "struct Auth { token: Option<String>, secret_access_key: String }\nfn secret_access_key(&self) -> &str { &self.secret_access_key }",
    "- uses: actions/checkout@v4\n  with:\n    token: ${{ secrets.GITHUB_TOKEN }}\n",
    "curl -H \"Authorization: Bearer $TOKEN\" https://api.example.com\n# or: Authorization: Bearer YOUR_API_KEY_HERE",
    "let header = format!(\"Bearer {}\", token);",
    // docs with placeholders
    "export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\nexport SLACK_TOKEN=xoxb-your-token-here\nexport STRIPE=sk_test_XXXXXXXXXXXXXXXXXXXXXXXX",
    "-----BEGIN RSA PRIVATE KEY-----\n...\n-----END RSA PRIVATE KEY-----",
    "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
    // AWS's documented example keys, as every SDK's tests use them
    "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
];

const AWS_ID: &str = "AKIALH4VPM77L6S5QMQH";
const AWS_SECRET: &str = "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";
const GHP: &str = "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";
const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUgRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.6vcA3mFsCdb7M95bp5aM2obOleJIbxw32YbUT0TjbeM";
const PEM_BODY: &str = "Nk2fTVnqCslLJzQM9KzGPBd7dgPfSmMvQbE7RGNt0T37pvoD4fEKHKhbp6cgwAgD\ne7JOxN8GsdNhacnnBYaHoEbJScSPLq3h8xeAhDZ16rDV+tytiBYASsOvF7J2/zUk\nuXpxmu2l51NOkUVAt5DkvfBdgVdIvjYnxc9TWNT+9zaw8Yna9H67qpxSnCGI7U7C";

#[test]
fn aws_access_keys() {
    let secret_lines = [
        format!("aws_secret_access_key = {AWS_SECRET}"),
        format!("AWS_SECRET_ACCESS_KEY={AWS_SECRET}"),
        format!("\"SecretAccessKey\": \"{AWS_SECRET}\""),
        format!("secretAccessKey: '{AWS_SECRET}'"),
    ];
    let mut positives = vec![
        (AWS_ID, AWS_ID),
        ("ASIAULPKPMXM7NTQAVZO", "ASIAULPKPMXM7NTQAVZO"),
    ];
    positives.extend(secret_lines.iter().map(|l| (l.as_str(), AWS_SECRET)));
    assert_table(
        Builtin::AwsAccessKey,
        &positives,
        &[
            "AKIAXXXXXXXXXXXXXXXX",
            "xAKIALH4VPM77L6S5QMQH",
            "AKIALH4VPM77L6S5QMQHZ",
            "AKIALH4VPM77L6S5QMQ",
            "AKIALH4VPM77L6S5QM01",
            // a 40-character run without its key name is a hash, not a secret
            "digest = piYYcEazI/KOQtGqzCPXhyB+IzJ+AVBjQo0HBzpp",
            "the secret_access_key piYYcEazI/KOQtGqzCPXhyB+IzJ+AVBjQo0HBzpp",
        ],
    );
}

#[test]
fn github_tokens() {
    let pat = "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";
    assert_table(
        Builtin::GitHubToken,
        &[
            (GHP, GHP),
            (
                "ghs_dlpfvR0WZZqTZ60ncnGRlPUdZUtQru212bNz",
                "ghs_dlpfvR0WZZqTZ60ncnGRlPUdZUtQru212bNz",
            ),
            (
                "https://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@github.com/o/r.git",
                "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",
            ),
            (pat, pat),
        ],
        &[
            // one character off: the checksum no longer holds
            "ghp_BOQ8HjPhiN9LLksdJw8RiYt1vaR9nA0gzFjH",
            "ghp_abcdefghijklmnopqrstuvwxyzABCD012345",
            "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X",
            "github_pat_short_abc",
        ],
    );
    assert_eq!(
        github::crc32(b"123456789"),
        0xCBF4_3926,
        "the CRC-32 check value"
    );
}

#[test]
fn gitlab_tokens() {
    assert_table(
        Builtin::GitLabToken,
        &[
            ("glpat-BSk-mpdw2OQ2Aok81ZRV", "glpat-BSk-mpdw2OQ2Aok81ZRV"),
            (
                "token glrt-t3_BSk-mpdw2OQ2Aok81ZRV.",
                "glrt-t3_BSk-mpdw2OQ2Aok81ZRV",
            ),
        ],
        &[
            "glpat-xxxxxxxxxxxxxxxxxxxx",
            "glpat-short",
            "myglpat-BSk-mpdw2OQ2Aok81ZRV",
        ],
    );
}

#[test]
fn slack_tokens() {
    let bot = "xoxb-825023740868-2462793947089-joMW3dTIpiIjwd0CgetXauD1";
    let hook = "hooks.slack.com/services/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";
    assert_table(
        Builtin::SlackToken,
        &[(bot, bot), (&format!("url: https://{hook}"), hook)],
        &[
            "xoxb-your-token-here",
            "xoxb-0000000000-0000000000000-000000000000000000000000",
            "xoxbot-1234",
        ],
    );
}

#[test]
fn stripe_keys() {
    assert_table(
        Builtin::StripeKey,
        &[
            (
                "sk_live_gfl4dxw9P45VzGMzDU4u4tN9",
                "sk_live_gfl4dxw9P45VzGMzDU4u4tN9",
            ),
            (
                "rk_test_LL0RMC2xIDqFyBd9MqeC1b28ZpyoKy",
                "rk_test_LL0RMC2xIDqFyBd9MqeC1b28ZpyoKy",
            ),
        ],
        &[
            "pk_live_gfl4dxw9P45VzGMzDU4u4tN9",
            "sk_live_short",
            "sk_test_XXXXXXXXXXXXXXXXXXXXXXXX",
            "task_live_gfl4dxw9P45VzGMzDU4u4tN9",
        ],
    );
}

#[test]
fn anthropic_and_openai_keys() {
    let ant = "sk-ant-api03-J7UKhcffgXajTylrrkEZxJQ-kTxaOzIXdniX-dOb2nTo5Dj7os8rjziPscoVAS8shXsjekjNaM4e2OnVf-DycfIAcSYSqAA";
    assert_table(
        Builtin::AnthropicKey,
        &[(ant, ant)],
        &[
            "sk-ant-proxy-key",
            "sk-ant-api03-xxxx",
            "sk-ant-...",
            "risk-ant-api03-J7UKhcffgXajTylrrkEZxJQ-kTxaOzIXdniX",
        ],
    );
    let project = "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";
    let legacy = "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";
    assert_table(
        Builtin::OpenAiKey,
        &[(project, project), (legacy, legacy)],
        // Anthropic's keys are not OpenAI's, nor is an `sk-` key without OpenAI's marker.
        &[
            ant,
            "sk-8wVzDfN99s5GoyoRbBdNqGcOea3C4GiUYXIwpnTQabcdefgh",
            "disk-8wVzDfN99s5GoyoRbBdNT3BlbkFJqGcOea3C4GiUYXIwpnTQ",
        ],
    );
}

#[test]
fn google_api_keys() {
    let key = "AIzawsvM__i5MNlX5yOI6LSBYL83gUyVy1MJcp0";
    assert_table(
        Builtin::GoogleApiKey,
        &[(key, key), (&format!("?key={key}&q=1"), key)],
        &[
            "AIzaXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
            "AIzawsvM__i5MNlX5yOI6LSBYL83gUyVy1MJcp0x",
            "AIzashort",
        ],
    );
}

#[test]
fn private_keys() {
    let rsa = format!("-----BEGIN RSA PRIVATE KEY-----\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----");
    let encrypted = format!(
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,3F17F5316E2BAC89\n\n{PEM_BODY}\n-----END RSA PRIVATE KEY-----"
    );
    let openssh = format!(
        "-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n-----END OPENSSH PRIVATE KEY-----"
    );
    // A service-account JSON shown as text: line breaks are `\n` escapes.
    let escaped = format!(
        "-----BEGIN PRIVATE KEY-----\\n{}\\n-----END PRIVATE KEY-----",
        PEM_BODY.replace('\n', "\\n")
    );
    let json = format!(
        "{{\"type\": \"service_account\", \"private_key\": \"{escaped}\\n\", \"client_email\": \"a@b.iam.gserviceaccount.com\"}}"
    );
    let truncated =
        format!("$ head -c 200 ~/.ssh/id_rsa\n-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}\n");
    let cut = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{PEM_BODY}");
    assert_table(
        Builtin::PrivateKey,
        &[
            (&rsa, &rsa),
            (&encrypted, &encrypted),
            (&openssh, &openssh),
            (&json, &escaped),
            (&truncated, &cut),
        ],
        &[
            &format!("-----BEGIN CERTIFICATE-----\n{PEM_BODY}\n-----END CERTIFICATE-----"),
            &format!("-----BEGIN PUBLIC KEY-----\n{PEM_BODY}\n-----END PUBLIC KEY-----"),
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC...\n-----END PRIVATE KEY-----",
        ],
    );
}

#[test]
fn json_web_tokens() {
    assert_table(
        Builtin::Jwt,
        &[(JWT, JWT), (&format!("Cookie: session={JWT}; Path=/"), JWT)],
        &[
            // dotted base64 whose header is not JSON
            "eyJQHmGL7h272wZgpO3WbhqZh8LA76kek.70t0ndGTT56qBT0rdRMRDY9oRahfsQNClFbqJ19p.XYcMCTfQbkmkuxkUhexC2iW1XsLwISp7PBWc107KI0l",
            // a JSON header with no `alg`: eyJ0eXAiOiJKV1QifQ is {"typ":"JWT"}
            "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUgRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.6vcA3mFsCdb7M95bp5aM2obOleJIbxw32YbUT0TjbeM",
            // two parts only
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUgRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ",
            // glued to a longer run
            &format!("xyz.{JWT}"),
        ],
    );
}

#[test]
fn kubeconfig_tokens() {
    let key_data = "LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQoRahqu7Z7Ed3UNsgYd0rjrPfCzkWAF248QIxCm4KHUdldXIGaJHIGnZ6HVlRZ3Yy+kX4CCbRSbNiw6gQ4NJURuCXdIVwoZ/jTx8gl7Iu/t2fPl7p7+1IX9/r0=";
    let kubeconfig = format!(
        "users:\n- name: admin\n  user:\n    client-certificate-data: LS0tCg==\n    client-key-data: {key_data}\n"
    );
    let token_user = "users:\n- name: bot\n  user:\n    token: bte5x5.iuvqvtd1y7ee9sdu\n";
    let json_user = "{\"name\": \"bot\", \"user\": {\"token\": \"bte5x5.iuvqvtd1y7ee9sdu\"}}";
    let curl = "curl -H 'Authorization: Bearer 8f2a1c9e4b7d3f6a0e5c2b9d8a7f1e3c' https://10.0.0.1:6443/api";
    assert_table(
        Builtin::KubeconfigToken,
        &[
            (&kubeconfig, key_data),
            (token_user, "bte5x5.iuvqvtd1y7ee9sdu"),
            (json_user, "bte5x5.iuvqvtd1y7ee9sdu"),
            (curl, "8f2a1c9e4b7d3f6a0e5c2b9d8a7f1e3c"),
        ],
        &[
            // a `token:` with no user above it
            "spec:\n  token: bte5x5.iuvqvtd1y7ee9sdu\n",
            "user: x\ntokens: bte5x5.iuvqvtd1y7ee9sdu",
            "users:\n- user:\n    token: changeme\n",
            "client-key-data: LS0tCg==",
        ],
    );
}

/// The tables' credentials in a `.env` file: every value is found by its builtin.
#[test]
fn a_dot_env_file_has_every_value_found() {
    let env = format!(
        "AWS_ACCESS_KEY_ID={AWS_ID}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\nGITHUB_TOKEN={GHP}\nSESSION={JWT}\n"
    );
    let found: Vec<&str> = Builtin::CREDENTIALS
        .iter()
        .flat_map(|&b| finds(b, &env))
        .collect();
    assert_eq!(found, [AWS_ID, AWS_SECRET, GHP, JWT]);
}

/// Seeds packed end to end cost each finder a bounded look, not a rescan of the rest.
#[test]
fn dense_seeds_stay_linear() {
    for seed in Builtin::CREDENTIALS.iter().flat_map(|&b| seeds(b)) {
        let text = format!("{seed}:").repeat(50_000 / seed.len());
        let started = std::time::Instant::now();
        for builtin in Builtin::CREDENTIALS {
            finds(builtin, &text);
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "{seed:?} took {:?}",
            started.elapsed()
        );
    }
}
